import Foundation
import LogpipeLake
import LogpipeParquet

/// One cell of a report table.
public enum ReportValue: Sendable, Hashable {
    /// A string, or null.
    case string(String?)
    /// An integer, or null.
    case int(Int64?)
    /// A double, or null.
    case double(Double?)

    /// The value as text for terminals and Markdown (`null` for nulls, doubles to 3 places).
    public var text: String {
        switch self {
        case .string(let s): s ?? "null"
        case .int(let i): i.map(String.init) ?? "null"
        case .double(let d): d.map { String(format: "%.3f", $0) } ?? "null"
        }
    }

    /// The value as a double, when it is a number.
    public var number: Double? {
        switch self {
        case .int(let i): i.map(Double.init)
        case .double(let d): d
        case .string: nil
        }
    }
}

/// The type of a report column.
public enum ReportColumnType: Sendable, Hashable {
    /// UTF-8 strings.
    case string
    /// 64-bit integers.
    case int
    /// Doubles.
    case double
}

/// One table of a report: a dataset of its own under the report's date partition.
public struct ReportTable: Sendable, Equatable {
    /// The table's directory name, e.g. `services`.
    public var name: String
    /// Column names and types, in order.
    public var columns: [(name: String, type: ReportColumnType)]
    /// The rows, in the order they are written (deterministic, so reruns are byte-identical).
    public var rows: [[ReportValue]]

    /// A table.
    public init(name: String, columns: [(name: String, type: ReportColumnType)], rows: [[ReportValue]] = []) {
        self.name = name
        self.columns = columns
        self.rows = rows
    }

    public static func == (a: ReportTable, b: ReportTable) -> Bool {
        a.name == b.name && a.columns.map(\.name) == b.columns.map(\.name) && a.columns.map(\.type) == b.columns.map(\.type)
            && a.rows == b.rows
    }

    /// The index of a column by name.
    public func index(of column: String) -> Int? { columns.firstIndex { $0.name == column } }

    /// The table's Parquet schema: every column nullable, as Spark writes a DataFrame.
    public var parquetSchema: ParquetSchema {
        ParquetSchema(columns.map { c in
            switch c.type {
            case .string: .string(c.name)
            case .int: .int64(c.name)
            case .double: .double(c.name)
            }
        }, rootName: "spark_schema")
    }

    /// The table as one snappy Parquet file, with a fixed `created_by` and no timestamps in
    /// the footer, so the same rows always give the same bytes.
    public func parquetBytes() throws -> [UInt8] {
        var options = ParquetWriterOptions()
        options.compression = .snappy
        options.sync = false
        let sink = ParquetMemorySink()
        let writer = try ParquetWriter(sink: sink, schema: parquetSchema, options: options)
        var parquet: [ParquetColumn] = []
        for (c, column) in columns.enumerated() {
            var validity = [Bool](repeating: true, count: rows.count)
            switch column.type {
            case .string:
                var bytes: [UInt8] = []
                var offsets: [Int32] = [0]
                for (r, row) in rows.enumerated() {
                    if case .string(let s?) = row[c] { bytes.append(contentsOf: s.utf8) } else { validity[r] = false }
                    offsets.append(Int32(bytes.count))
                }
                parquet.append(ParquetColumn(.byteArray(bytes: bytes, offsets: offsets), validity: validity.contains(false) ? validity : nil))
            case .int:
                var values: [Int64] = []
                for (r, row) in rows.enumerated() {
                    if case .int(let v?) = row[c] { values.append(v) } else { values.append(0); validity[r] = false }
                }
                parquet.append(ParquetColumn(.int64(values), validity: validity.contains(false) ? validity : nil))
            case .double:
                var values: [Double] = []
                for (r, row) in rows.enumerated() {
                    if case .double(let v?) = row[c] { values.append(v) } else { values.append(0); validity[r] = false }
                }
                parquet.append(ParquetColumn(.double(values), validity: validity.contains(false) ? validity : nil))
            }
        }
        if !rows.isEmpty { try writer.write(ParquetColumnBatch(rowCount: rows.count, columns: parquet)) }
        _ = try writer.finish()
        return sink.bytes
    }
}

/// Writes a report's tables into the lake as `<directory>/<table>/part-00000.snappy.parquet`
/// (hive-style: the date lives only in the directory name), each table replacing the previous
/// run's file in one step: the new file is written and synced under `_logpipe/staging`, then
/// swapped in with `FileStore.replaceAtomically` (a rename where the store lacks it), so a
/// reader sees a table's old file or its new one, never a partial or doubled table.
public struct ReportWriter: Sendable {
    /// The lake.
    public let store: any FileStore

    /// A writer into `store`.
    public init(store: any FileStore) { self.store = store }

    /// The name of every table file (one file per table; reports are small).
    public static let fileName = "part-00000.snappy.parquet"

    /// Where renderings (HTML, Markdown) go under a report's directory: a directory of its own
    /// (a swap replaces whole directories' file sets) whose `_` makes Spark and pyarrow skip it.
    public static let pagesDirectory = "_pages"

    /// Writes `tables` under `directory`, plus `extras` (name → bytes, such as the HTML page)
    /// in its `_pages` directory. Returns the rows written.
    @discardableResult
    public func write(directory: String, tables: [ReportTable], extras: [(name: String, bytes: [UInt8])] = []) async throws -> Int {
        try await store.recoverReplacements()
        var rows = 0
        for table in tables {
            let bytes = try table.parquetBytes()
            let target = "\(directory)/\(table.name)"
            try await swapIn(bytes, directory: target, name: Self.fileName, replacingOthers: true)
            rows += table.rows.count
        }
        for extra in extras { try await swapIn(extra.bytes, directory: "\(directory)/\(Self.pagesDirectory)", name: extra.name, replacingOthers: false) }
        return rows
    }

    /// Puts `bytes` at `directory/name` in one step; with `replacingOthers` every other file
    /// of the directory goes in the same step (a table is exactly its one file).
    private func swapIn(_ bytes: [UInt8], directory: String, name: String, replacingOthers: Bool) async throws {
        let staging = "\(LakeLayout.metadataDirectory)/staging/reports/\(UUID().uuidString)-\(name)"
        try await store.write(staging, contents: bytes)
        let existing = try await store.list(directory, recursive: false).map { String($0.name) }
            .filter { replacingOthers || $0 == name }
        if try await store.replaceAtomically(in: directory, adding: [(staging, name)], removing: existing) { return }
        try await store.rename(staging, to: "\(directory)/\(name)")
        for old in existing where old != name { try await store.delete("\(directory)/\(old)") }
    }
}
