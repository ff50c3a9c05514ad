import Foundation
import LogpipeParquet
import Testing

/// What we write, pyarrow and DuckDB read identically; what they write (their defaults and
/// other codecs, page versions and encodings) we read identically. Needs the test Python
/// with pyarrow and duckdb (`TestEnvironment.requirePython()`; scripts/setup test installs it)
/// and fails without it.
@Suite("Parquet interop with pyarrow and DuckDB")
struct InteropTests {
    /// The re-writes each data set goes through, by file suffix.
    /// pyarrow options are `write_table` keyword arguments as JSON; DuckDB's are COPY options.
    static let rewrites: [(suffix: String, engine: String, options: String)] = [
        ("pa-default", "pyarrow", "{}"),
        ("pa-zstd-v2", "pyarrow", #"{"compression": "zstd", "data_page_version": "2.0"}"#),
        ("pa-none-plain", "pyarrow", #"{"compression": "none", "use_dictionary": false, "row_group_size": 700}"#),
        ("pa-delta", "pyarrow", #"{"use_dictionary": false, "column_encoding": "DELTA_BINARY_PACKED"}"#),
        ("dd-default", "duckdb", ""),
        ("dd-zstd-v2", "duckdb", ", compression zstd, parquet_version v2"),
    ]

    @Test("log, activity and random schemas agree both ways")
    func interop() throws {
        let dir = try TempDir()
        var sets = [Datasets.logs(rows: 4000, seed: 11), Datasets.activities(rows: 2500, seed: 12)]
        for seed in 200..<212 { sets.append(Datasets.random(seed: UInt64(seed), rows: [0, 1, 3, 900, 2600][seed % 5])) }
        var jobs: [[String: Any]] = []
        for (k, data) in sets.enumerated() {
            var options = ParquetWriterOptions()
            // Vary our own layout too: many small row groups and pages for some sets.
            if k % 3 == 2 {
                options.rowGroupSize = 8 * 1024
                options.maxRowsPerPage = 300
                options.compression = .zstd(level: 1)
            }
            let ours = dir.file("\(data.name).parquet")
            let writer = try ParquetWriter(path: ours, schema: data.schema, options: options)
            try writer.write(data.batch)
            try writer.finish()
            jobs.append(["op": "canon", "engine": "pyarrow", "in": ours, "out": ours + ".pyarrow.txt"])
            jobs.append(["op": "canon", "engine": "duckdb", "in": ours, "out": ours + ".duckdb.txt"])
            for r in Self.rewrites where !(r.suffix == "pa-delta" && !Self.allIntegerLeaves(data.schema)) {
                jobs.append(["op": "write", "engine": r.engine, "in": ours, "out": dir.file("\(data.name).\(r.suffix).parquet"), "options": r.options])
            }
        }
        try Python.runJobs(jobs, in: dir)
        var checkedFiles = 0
        for data in sets {
            let expected = data.expected
            let ours = dir.file("\(data.name).parquet")
            for engine in ["pyarrow", "duckdb"] {
                let text = try String(contentsOfFile: ours + ".\(engine).txt", encoding: .utf8)
                let theirs = text.split(separator: "\n", omittingEmptySubsequences: false).dropLast().map(String.init)
                let diff = firstDifference(theirs, expected)
                #expect(diff == nil, "\(engine) reading our \(data.name): \(diff ?? "")")
            }
            for r in Self.rewrites {
                let path = dir.file("\(data.name).\(r.suffix).parquet")
                guard FileManager.default.fileExists(atPath: path) else { continue }
                let reader = try ParquetFileReader(path: path)
                let table = try reader.read()
                let diff = firstDifference(canonicalRows(table), expected)
                #expect(diff == nil, "reading \(r.suffix) of \(data.name) (\(reader.info.createdBy ?? "")): \(diff ?? "")")
                checkedFiles += 1
            }
        }
        #expect(checkedFiles == sets.count * 5 + sets.filter { Self.allIntegerLeaves($0.schema) }.count)
    }

    /// pyarrow's `column_encoding` applies to every column, so DELTA_BINARY_PACKED only fits
    /// schemas whose leaves are all integers.
    static func allIntegerLeaves(_ schema: ParquetSchema) -> Bool {
        func ok(_ f: ParquetField) -> Bool {
            switch f.kind {
            case .group(let c): return c.allSatisfy(ok)
            case .primitive(let p, _): return p == .int32 || p == .int64
            }
        }
        return schema.fields.allSatisfy(ok)
    }

    @Test("pyarrow's DELTA_BYTE_ARRAY, DELTA_LENGTH_BYTE_ARRAY, BYTE_STREAM_SPLIT and RLE booleans decode")
    func otherEncodings() throws {
        let dir = try TempDir()
        let src = dir.file("enc.py")
        let script = #"""
import pyarrow as pa, pyarrow.parquet as pq, sys
n = 3000
s = pa.array([None if i % 7 == 0 else 'prefix-%d-%s' % (i // 3, 'x' * (i % 5)) for i in range(n)])
d = pa.array([None if i % 5 == 0 else i * 0.25 for i in range(n)], pa.float64())
b = pa.array([None if i % 11 == 0 else i % 3 == 0 for i in range(n)])
t = pa.table({'s1': s, 's2': s, 'd': d, 'b': b})
pq.write_table(t, sys.argv[1] + '/enc.parquet', use_dictionary=False, data_page_version='2.0',
    column_encoding={'s1': 'DELTA_BYTE_ARRAY', 's2': 'DELTA_LENGTH_BYTE_ARRAY', 'd': 'BYTE_STREAM_SPLIT', 'b': 'RLE'})
"""#
        try script.write(toFile: src, atomically: true, encoding: .utf8)
        try Python.run([src, dir.path])
        let reader = try ParquetFileReader(path: dir.file("enc.parquet"))
        let encodings = reader.info.rowGroups[0].columns.map(\.encodings)
        #expect(encodings[0].contains("DELTA_BYTE_ARRAY"))
        #expect(encodings[1].contains("DELTA_LENGTH_BYTE_ARRAY"))
        #expect(encodings[2].contains("BYTE_STREAM_SPLIT"))
        #expect(encodings[3].contains("RLE"))
        let table = try reader.read()
        #expect(table.rowCount == 3000)
        var expected: [String] = []
        for i in 0..<3000 {
            let s = i % 7 == 0 ? "N" : "s" + Array("prefix-\(i / 3)-\(String(repeating: "x", count: i % 5))".utf8).map { String(format: "%02x", $0) }.joined()
            let d = i % 5 == 0 ? "N" : "f" + String(format: "%016llx", (Double(i) * 0.25).bitPattern)
            let b = i % 11 == 0 ? "N" : (i % 3 == 0 ? "T" : "F")
            expected.append([s, s, d, b].joined(separator: "|"))
        }
        let diff = firstDifference(canonicalRows(table), expected)
        #expect(diff == nil, "\(diff ?? "")")
    }
}
