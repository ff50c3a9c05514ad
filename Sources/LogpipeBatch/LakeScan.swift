import Foundation
import LogpipeLake
import LogpipeParquet

/// What a scan touched, so callers (and tests) can see how much pruning saved.
public struct ScanStatistics: Sendable, Equatable {
    /// Hour partitions whose directories were listed.
    public var hoursListed = 0
    /// Data files whose footers were read.
    public var filesOpened = 0
    /// Row groups in those files.
    public var rowGroupsSeen = 0
    /// Row groups decoded (the rest were skipped by their statistics).
    public var rowGroupsRead = 0
    /// Rows decoded.
    public var rowsRead = 0
    /// Bytes fetched from a remote store by ranged reads (0 on a local lake, read in place).
    public var bytesFetched = 0

    /// Nothing touched yet.
    public init() {}
}

/// Reads one dataset of the lake hour by hour through a `FileStore`: only the partitions in
/// a time range are listed, only the projected columns are decoded, and row groups whose
/// statistics cannot match a predicate are never read.
public struct LakeScan: Sendable {
    /// The lake.
    public let store: any FileStore
    /// The dataset scanned.
    public let dataset: LakeDataset

    /// A scan of `dataset` in `store`.
    public init(store: any FileStore, dataset: LakeDataset) {
        self.store = store
        self.dataset = dataset
    }

    /// The committed data files of `hours`, each hour's sorted by path, as a reader must see
    /// them: the hours are listed first, then the compaction records read, so a compaction
    /// in progress shows its inputs or its outputs, never both (`CompactionView`).
    public func files(in hours: [HourPartition]) async throws -> [[FileStatus]] {
        var listings: [[FileStatus]] = []
        for hour in hours {
            listings.append(try await store.list(LakeLayout.partitionDirectory(dataset, hour), recursive: false)
                .filter { LakeLayout.isDataFile($0.name) })
        }
        guard listings.contains(where: { !$0.isEmpty }) else { return listings }
        let view = try await CompactionView.load(store: store, dataset: dataset)
        return listings.map(view.visible)
    }

    /// Calls `body` with every row group of the hours `hours` (in the order given, files by
    /// path) that `predicate` may match, decoded to `columns`. `body` returns `false` to stop.
    /// A remote file is read with ranged requests: its footer, then the projected column
    /// chunks of the row groups kept.
    public func forEachRowGroup(
        hours: [HourPartition], columns: [String], where predicate: ParquetPredicate? = nil,
        statistics: inout ScanStatistics, _ body: (ParquetTable) throws -> Bool
    ) async throws {
        let listings = try await files(in: hours)
        statistics.hoursListed += hours.count
        for files in listings {
            for file in files {
                let (reader, footerBytes) = try await store.openParquet(file.path, size: file.size)
                statistics.filesOpened += 1
                statistics.bytesFetched += footerBytes
                statistics.rowGroupsSeen += reader.rowGroupCount
                for g in try reader.rowGroups(matching: predicate) {
                    let (table, chunkBytes) = try await store.readRowGroup(reader, path: file.path, index: g, columns: columns)
                    statistics.bytesFetched += chunkBytes
                    statistics.rowGroupsRead += 1
                    statistics.rowsRead += table.rowCount
                    if try !body(table) { return }
                }
            }
        }
    }
}

/// Typed access to the columns of a decoded table (dense values, validity per row).
struct ColumnView {
    /// Row `i` of a byte-array column as raw bytes, or `nil` when null or absent.
    static func strings(_ table: ParquetTable, _ path: String) -> (bytes: [UInt8], offsets: [Int32], valid: [Bool]?)? {
        guard let c = table.column(path), case .byteArray(let b, let o) = c.values else { return nil }
        return (b, o, combinedValidity(table, path))
    }

    static func int64s(_ table: ParquetTable, _ path: String) -> ([Int64], [Bool]?)? {
        guard let c = table.column(path), case .int64(let v) = c.values else { return nil }
        return (v, combinedValidity(table, path))
    }

    static func int32s(_ table: ParquetTable, _ path: String) -> ([Int32], [Bool]?)? {
        guard let c = table.column(path), case .int32(let v) = c.values else { return nil }
        return (v, combinedValidity(table, path))
    }

    static func doubles(_ table: ParquetTable, _ path: String) -> ([Double], [Bool]?)? {
        guard let c = table.column(path), case .double(let v) = c.values else { return nil }
        return (v, combinedValidity(table, path))
    }

    /// A leaf's validity and-ed with its parent groups' (a null group nulls its children).
    static func combinedValidity(_ table: ParquetTable, _ path: String) -> [Bool]? {
        let parts = path.split(separator: ".").map(String.init)
        var result: [Bool]?
        for n in 1...parts.count {
            guard let v = table.column(parts[0..<n].joined(separator: "."))?.validity else { continue }
            if let r = result {
                result = zip(r, v).map { $0 && $1 }
            } else {
                result = v
            }
        }
        return result
    }
}

/// A string column read back as Swift strings with interning: values repeat heavily
/// (services, endpoints, levels), so each distinct byte string is decoded once.
struct StringInterner {
    private var ids: [Int: [(bytes: [UInt8], id: Int)]] = [:]
    /// The distinct strings, by id.
    private(set) var strings: [String] = []

    /// The id of `bytes[range]`.
    mutating func id(_ bytes: UnsafeBufferPointer<UInt8>, _ start: Int, _ end: Int) -> Int {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for i in start..<end { h = (h ^ UInt64(bytes[i])) &* 0x100_0000_01b3 }
        let key = Int(truncatingIfNeeded: h)
        let slice = UnsafeBufferPointer(rebasing: bytes[start..<end])
        if let bucket = ids[key] {
            for entry in bucket where entry.bytes.elementsEqual(slice) { return entry.id }
        }
        let id = strings.count
        strings.append(String(decoding: slice, as: UTF8.self))
        ids[key, default: []].append((Array(slice), id))
        return id
    }

    /// One id per row of a byte-array column; null rows get -1.
    mutating func ids(_ column: (bytes: [UInt8], offsets: [Int32], valid: [Bool]?)?, rows: Int) -> [Int] {
        guard let column else { return Array(repeating: -1, count: rows) }
        var out = [Int](repeating: -1, count: rows)
        column.bytes.withUnsafeBufferPointer { b in
            for i in 0..<rows where column.valid?[i] ?? true {
                out[i] = id(b, Int(column.offsets[i]), Int(column.offsets[i + 1]))
            }
        }
        return out
    }
}
