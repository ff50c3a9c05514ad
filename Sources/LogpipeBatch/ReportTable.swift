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

/// Writes a report into the lake: each table as `<directory>/<table>/part-0.parquet`
/// (hive-style: the date lives only in the directory name), pages such as `report.html`
/// beside them, replacing a previous run of the same report.
///
/// On a local lake the whole report is built under `_logpipe/staging/<directory>/<id>`,
/// synced, and exchanged with the live directory in one `renameat2(RENAME_EXCHANGE)`
/// (`LocalFileStore.replaceDirectory`): a reader, or a `kill -9` at any moment, sees the
/// previous report or the new one, whole, never a mix of the two.
///
/// Other stores (S3, WebHDFS) cannot swap a tree, so there each table is swapped on its own
/// with `FileStore.replaceAtomically` (or one rename) and each page renamed into place: every
/// table is always whole, but a crash between two tables leaves some from each run (a rerun
/// over an unchanged lake writes the same bytes, so a mix only shows when the lake changed).
public struct ReportWriter: Sendable {
    /// The lake.
    public let store: any FileStore

    /// A writer into `store`.
    public init(store: any FileStore) { self.store = store }

    /// The name of every table file (one file per table; reports are small).
    public static let fileName = "part-0.parquet"

    /// Writes `tables` under `directory`, plus `pages` (name → bytes, such as the HTML page)
    /// beside them. Returns the rows written.
    @discardableResult
    public func write(directory: String, tables: [ReportTable], pages: [(name: String, bytes: [UInt8])] = []) async throws -> Int {
        var files = try tables.map { ("\($0.name)/\(Self.fileName)", try $0.parquetBytes()) }
        files += pages.map { ($0.name, $0.bytes) }
        let rows = tables.reduce(0) { $0 + $1.rows.count }
        if let local = store as? LocalFileStore {
            // Earlier runs of this report killed mid-way leave their trees here, and nothing else does.
            let stagingRoot = "\(LakeLayout.metadataDirectory)/staging/\(directory)"
            try await local.removeTree(stagingRoot)
            let staging = "\(stagingRoot)/\(UUID().uuidString)"
            for (name, bytes) in files { try await store.write("\(staging)/\(name)", contents: bytes) }
            if try await local.replaceDirectory(directory, with: staging) { return rows }
            try await local.removeTree(staging)
        }
        try await replaceFileByFile(directory: directory, tables: tables, files: files)
        return rows
    }

    /// The fallback: each table directory swapped on its own, each page renamed into place.
    private func replaceFileByFile(directory: String, tables: [ReportTable], files: [(String, [UInt8])]) async throws {
        try await store.recoverReplacements()
        let tableNames = Set(tables.map(\.name))
        for (name, bytes) in files {
            let staging = "\(LakeLayout.metadataDirectory)/staging/reports/\(UUID().uuidString)"
            try await store.write(staging, contents: bytes)
            let parts = name.split(separator: "/").map(String.init)
            guard parts.count == 2, tableNames.contains(parts[0]) else {
                try await store.rename(staging, to: "\(directory)/\(name)")
                continue
            }
            // A table is exactly its one file: anything else there (an older layout) goes too.
            let target = "\(directory)/\(parts[0])"
            let existing = try await store.list(target, recursive: false).map { String($0.name) }
            if try await !store.replaceAtomically(in: target, adding: [(staging, Self.fileName)], removing: existing) {
                try await store.rename(staging, to: "\(target)/\(Self.fileName)")
                for old in existing where old != Self.fileName { try await store.delete("\(target)/\(old)") }
            }
        }
    }
}
