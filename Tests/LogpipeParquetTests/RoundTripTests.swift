import Foundation
import LogpipeParquet
import Testing

@Suite("Parquet round trips")
struct RoundTripTests {
    private func write(_ data: Dataset, to path: String, _ options: ParquetWriterOptions = ParquetWriterOptions()) throws -> ParquetWriteSummary {
        let writer = try ParquetWriter(path: path, schema: data.schema, options: options)
        try writer.write(data.batch)
        return try writer.finish()
    }

    @Test("log, activity and random data sets survive every codec and layout option")
    func roundTrip() throws {
        let dir = try TempDir()
        var sets = [Datasets.logs(rows: 5000, seed: 1), Datasets.activities(rows: 3000, seed: 2)]
        for seed in 100..<116 { sets.append(Datasets.random(seed: UInt64(seed), rows: [0, 1, 7, 1500][seed % 4])) }
        var variants: [(String, ParquetWriterOptions)] = []
        for compression in [ParquetCompression.snappy, .zstd(level: 3), .uncompressed] {
            var o = ParquetWriterOptions()
            o.compression = compression
            variants.append(("\(compression)", o))
        }
        var small = ParquetWriterOptions()
        small.dataPageSize = 64
        small.maxRowsPerPage = 100
        small.rowGroupSize = 2048
        small.dictionaryPageSizeLimit = 64
        variants.append(("small pages, groups and dictionaries", small))
        var plain = ParquetWriterOptions()
        plain.dictionaryEnabled = false
        variants.append(("plain", plain))
        for data in sets {
            for (name, options) in variants {
                let path = dir.file("\(data.name).parquet")
                let summary = try write(data, to: path, options)
                #expect(summary.rows == data.batch.rowCount)
                let reader = try ParquetFileReader(path: path)
                #expect(reader.schema == data.schema)
                #expect(reader.info.numRows == Int64(data.batch.rowCount))
                let table = try reader.read()
                #expect(table.rowCount == data.batch.rowCount)
                let diff = firstDifference(canonicalRows(table), data.expected)
                #expect(diff == nil, "\(data.name) / \(name): \(diff ?? "")")
            }
        }
    }

    @Test("small row-group target splits the file, and batches append across calls")
    func manyRowGroupsAndBatches() throws {
        let dir = try TempDir()
        let data = Datasets.logs(rows: 20_000, seed: 7)
        var options = ParquetWriterOptions()
        options.rowGroupSize = 64 * 1024
        let path = dir.file("groups.parquet")
        let writer = try ParquetWriter(path: path, schema: data.schema, options: options)
        // The same rows in two batches, then once more: 3 × 20 000 rows.
        try writer.write(data.batch)
        try writer.write(data.batch)
        try writer.flushRowGroup()
        try writer.write(data.batch)
        let summary = try writer.finish()
        #expect(summary.rows == 60_000)
        let reader = try ParquetFileReader(path: path)
        #expect(reader.rowGroupCount == summary.rowGroups)
        #expect(reader.rowGroupCount > 3)
        #expect(reader.info.rowGroups.map(\.numRows).reduce(0, +) == 60_000)
        let table = try reader.read()
        #expect(canonicalRows(table) == data.expected + data.expected + data.expected)
    }

    @Test("projection reads only the asked columns, group paths included")
    func projection() throws {
        let dir = try TempDir()
        let data = Datasets.logs(rows: 1000, seed: 3)
        let path = dir.file("p.parquet")
        _ = try write(data, to: path)
        let reader = try ParquetFileReader(path: path)
        let table = try reader.read(columns: ["service", "metadata.status_code", "metadata.endpoint"])
        #expect(table.schema.fields.map(\.name) == ["service", "metadata"])
        guard case .group(let children)? = table.schema.field(atPath: "metadata")?.kind else {
            Issue.record("metadata is not a group")
            return
        }
        #expect(children.map(\.name) == ["status_code", "endpoint"])
        let full = try reader.read()
        let status = try #require(table.column("metadata.status_code"))
        let fullStatus = try #require(full.column("metadata.status_code"))
        guard case .int32(let a) = status.values, case .int32(let b) = fullStatus.values else {
            Issue.record("status_code is not INT32")
            return
        }
        #expect(a == b)
        #expect(status.validity == fullStatus.validity)
        // The group's own validity: rows where metadata is null (every 11th from 5).
        let groupValidity = try #require(table.column("metadata")?.validity)
        #expect(groupValidity.count(where: { !$0 }) == (0..<1000).count(where: { $0 % 11 == 5 }))
        #expect(throws: ParquetError.self) { try reader.read(columns: ["nope"]) }
    }

    @Test("row groups are skipped by timestamp range and string equality")
    func predicates() throws {
        let dir = try TempDir()
        let schema = ParquetSchema([.timestampMicros("timestamp", nullable: false), .string("service", nullable: false)])
        let path = dir.file("pred.parquet")
        let writer = try ParquetWriter(path: path, schema: schema)
        // Ten row groups of 100 rows; group g holds timestamps g*1000 ..< g*1000+100 and service "svc-g".
        for g in 0..<10 {
            var bytes: [UInt8] = []
            var offsets: [Int32] = [0]
            for _ in 0..<100 {
                bytes += Array("svc-\(g)".utf8)
                offsets.append(Int32(bytes.count))
            }
            let ts = (0..<100).map { Int64(g * 1000 + $0) }
            try writer.write(ParquetColumnBatch(rowCount: 100, columns: [
                ParquetColumn(.int64(ts)), ParquetColumn(.byteArray(bytes: bytes, offsets: offsets)),
            ]))
            try writer.flushRowGroup()
        }
        try writer.finish()
        let reader = try ParquetFileReader(path: path)
        #expect(reader.rowGroupCount == 10)
        #expect(try reader.rowGroups(matching: .integerRange(column: "timestamp", min: 2050, max: 4010)) == [2, 3, 4])
        #expect(try reader.rowGroups(matching: .integerRange(column: "timestamp", min: nil, max: 99)) == [0])
        #expect(try reader.rowGroups(matching: .integerRange(column: "timestamp", min: 9100, max: nil)) == [])
        #expect(try reader.rowGroups(matching: .stringEquals(column: "service", value: "svc-7")) == [7])
        #expect(try reader.rowGroups(matching: .and([
            .stringEquals(column: "service", value: "svc-7"), .integerRange(column: "timestamp", min: 0, max: 10),
        ])) == [])
        #expect(try reader.rowGroups(matching: .or([
            .stringEquals(column: "service", value: "svc-1"), .integerRange(column: "timestamp", min: 5000, max: 5000),
        ])) == [1, 5])
        let table = try reader.read(where: .integerRange(column: "timestamp", min: 2050, max: 4010))
        #expect(table.rowCount == 300)
        #expect(throws: ParquetError.self) { try reader.rowGroups(matching: .stringEquals(column: "timestamp", value: "x")) }
    }

    @Test("dictionary falls back to PLAIN past the limit and statistics stay exact")
    func dictionaryFallbackAndStatistics() throws {
        let dir = try TempDir()
        let rows = 50_000
        var bytes: [UInt8] = []
        var offsets: [Int32] = [0]
        for i in 0..<rows {
            bytes += Array(String(format: "id-%08d", (i * 7919) % rows).utf8)
            offsets.append(Int32(bytes.count))
        }
        let values = (0..<rows).map { Double($0 % 1000) - 500.5 }
        let validity = (0..<rows).map { $0 % 10 != 0 }
        let schema = ParquetSchema([.string("id", nullable: false), .double("v")])
        var options = ParquetWriterOptions()
        options.dictionaryPageSizeLimit = 64 * 1024
        let path = dir.file("fb.parquet")
        let writer = try ParquetWriter(path: path, schema: schema, options: options)
        try writer.write(ParquetColumnBatch(rowCount: rows, columns: [
            ParquetColumn(.byteArray(bytes: bytes, offsets: offsets)), ParquetColumn(.double(values), validity: validity),
        ]))
        try writer.finish()
        let reader = try ParquetFileReader(path: path)
        let id = reader.info.rowGroups[0].columns[0]
        #expect(id.encodings == ["PLAIN", "RLE", "RLE_DICTIONARY"])
        #expect(id.statistics?.min == Array("id-00000000".utf8))
        #expect(id.statistics?.max == Array("id-00049999".utf8))
        #expect(id.statistics?.nullCount == 0)
        let v = reader.info.rowGroups[0].columns[1]
        #expect(v.statistics?.nullCount == Int64(rows / 10))
        #expect(v.statistics?.min == withUnsafeBytes(of: -499.5) { Array($0) })
        #expect(v.statistics?.max == withUnsafeBytes(of: 498.5) { Array($0) })
        let table = try reader.read()
        #expect(canonicalRows(table) == canonicalRows(fields: schema.fields, columns: [
            ParquetColumn(.byteArray(bytes: bytes, offsets: offsets)),
            ParquetColumn(.double(values.enumerated().map { validity[$0.offset] ? $0.element : 0 }), validity: validity),
        ], rowCount: rows))
        let report = try ParquetInspector.inspect(path: path)
        #expect(report.contains("id: BYTE_ARRAY SNAPPY [PLAIN,RLE,RLE_DICTIONARY] values=50000"))
        #expect(report.contains("min=\"id-00000000\" max=\"id-00049999\""))
    }

    @Test("footer metadata: created_by, key-value pairs, logical types, column orders")
    func footer() throws {
        let dir = try TempDir()
        let data = Datasets.activities(rows: 10, seed: 4)
        var options = ParquetWriterOptions()
        options.keyValueMetadata = [ParquetKeyValue("logpipe.topic", "events.activity"), ParquetKeyValue("empty", nil)]
        let path = dir.file("f.parquet")
        _ = try write(data, to: path, options)
        let reader = try ParquetFileReader(path: path)
        #expect(reader.info.createdBy == "logpipe version 0.1.0 (build logpipe-parquet)")
        #expect(reader.info.keyValueMetadata == options.keyValueMetadata)
        #expect(reader.schema.field(atPath: "timestamp")?.kind == .primitive(.int64, .timestamp(isAdjustedToUTC: true, unit: .micros)))
        #expect(reader.schema.field(atPath: "device.os")?.kind == .primitive(.byteArray, .string))
    }

    @Test("cat prints JSON lines with nested groups and ISO timestamps")
    func cat() throws {
        let dir = try TempDir()
        let data = Datasets.logs(rows: 12, seed: 5)
        let path = dir.file("c.parquet")
        _ = try write(data, to: path)
        var lines: [String] = []
        try ParquetInspector.cat(path: path, limit: 6) { lines.append($0) }
        #expect(lines.count == 6)
        #expect(lines[0].hasPrefix("{\"timestamp\":\"2025-01-12T01:26:06.291045Z\",\"level\":"))
        #expect(lines[5].contains("\"metadata\":null"))
        #expect(lines[0].contains("\"metadata\":{\"request_id\":\"req-"))
        for line in lines {
            let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
            #expect(object?.count == 7)
        }
    }

    @Test("empty files and invalid batches")
    func edgeCases() throws {
        let dir = try TempDir()
        let schema = ParquetSchema([.string("s"), .int64("n", nullable: false)])
        let path = dir.file("empty.parquet")
        let summary = try ParquetWriter(path: path, schema: schema).finish()
        #expect(summary.rows == 0 && summary.rowGroups == 0)
        let table = try ParquetFileReader(path: path).read()
        #expect(table.rowCount == 0 && table.columns.count == 2)

        let writer = try ParquetWriter(sink: ParquetMemorySink(), schema: schema)
        let s = ParquetColumn(.byteArray(bytes: Array("ab".utf8), offsets: [0, 1, 2]))
        #expect(throws: ParquetError.self) {
            try writer.write(ParquetColumnBatch(rowCount: 2, columns: [s, ParquetColumn(.int64([1, 2]), validity: [true, false])]))
        }
        #expect(throws: ParquetError.self) {
            try writer.write(ParquetColumnBatch(rowCount: 2, columns: [s, ParquetColumn(.int32([1, 2]))]))
        }
        #expect(throws: ParquetError.self) {
            try writer.write(ParquetColumnBatch(rowCount: 2, columns: [
                ParquetColumn(.byteArray(bytes: Array("ab".utf8), offsets: [0, 3, 2])), ParquetColumn(.int64([1, 2])),
            ]))
        }
        #expect(throws: ParquetError.self) { try writer.write(ParquetColumnBatch(rowCount: 3, columns: [s, ParquetColumn(.int64([1, 2]))])) }
        try writer.write(ParquetColumnBatch(rowCount: 2, columns: [s, ParquetColumn(.int64([1, 2]))]))
        try writer.finish()
        #expect(throws: ParquetError.self) { try writer.finish() }
    }
}
