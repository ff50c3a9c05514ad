import LogpipeParquet

/// One hour partition of a dataset, as `logpipe lake ls` shows it.
public struct LakePartitionSummary: Sendable, Equatable {
    /// The dataset.
    public var dataset: LakeDataset
    /// The hour.
    public var hour: HourPartition
    /// The partition's directory relative to the lake root.
    public var directory: String
    /// Committed data files.
    public var files: Int
    /// Rows in them (from the Parquet footers).
    public var rows: Int64
    /// Bytes of them.
    public var bytes: Int64
}

/// Listing of the lake's committed data, read from the directories (what any reader sees),
/// with a compaction in progress counted once (`CompactionView`).
public enum LakeListing {
    /// Every hour partition of `datasets`, ordered by dataset then hour. Files that are not
    /// committed data (staging files never live under a dataset) are not counted.
    public static func partitions(store: any FileStore, datasets: [LakeDataset] = LakeDataset.allCases) async throws -> [LakePartitionSummary] {
        var out: [LakePartitionSummary] = []
        for dataset in datasets {
            var byDirectory: [String: LakePartitionSummary] = [:]
            let listing = try await store.list(dataset.path, recursive: true).filter { LakeLayout.isDataFile($0.name) }
            for file in try await CompactionView.load(store: store, dataset: dataset).visible(listing) {
                let directory = String(file.path[..<(file.path.lastIndex(of: "/") ?? file.path.startIndex)])
                guard let hour = HourPartition(path: Substring(directory)) else { continue }
                let rows = try await rowCount(store: store, path: file.path, size: file.size)
                byDirectory[directory, default: LakePartitionSummary(
                    dataset: dataset, hour: hour, directory: directory, files: 0, rows: 0, bytes: 0)].files += 1
                byDirectory[directory]!.rows += rows
                byDirectory[directory]!.bytes += file.size
            }
            out += byDirectory.values.sorted { $0.hour < $1.hour }
        }
        return out
    }

    /// The row count in a data file's footer (only the footer is read: a ranged read of the
    /// file's tail on a remote store; `size` from a listing saves a `stat`).
    public static func rowCount(store: any FileStore, path: String, size: Int64? = nil) async throws -> Int64 {
        try await store.openParquet(path, size: size).reader.info.numRows
    }

    /// The listing as aligned text lines with a header and a total line (for the CLI).
    public static func format(_ partitions: [LakePartitionSummary]) -> [String] {
        var lines = [pad(["DATASET", "PARTITION", "FILES", "ROWS", "BYTES"])]
        for p in partitions {
            lines.append(pad([p.dataset.path, p.hour.path, String(p.files), String(p.rows), String(p.bytes)]))
        }
        let files = partitions.reduce(0) { $0 + $1.files }
        let rows = partitions.reduce(Int64(0)) { $0 + $1.rows }
        let bytes = partitions.reduce(Int64(0)) { $0 + $1.bytes }
        lines.append(pad(["total", "\(partitions.count) partitions", String(files), String(rows), String(bytes)]))
        return lines
    }

    private static func pad(_ cells: [String]) -> String {
        let widths = [16, 36, 7, 12, 14]
        return zip(cells, widths).map { cell, width in
            cell.count >= width ? cell + " " : cell + String(repeating: " ", count: width - cell.count)
        }.joined().trimmingTrailingSpaces()
    }
}

extension String {
    fileprivate func trimmingTrailingSpaces() -> String {
        var s = self
        while s.hasSuffix(" ") { s.removeLast() }
        return s
    }
}
