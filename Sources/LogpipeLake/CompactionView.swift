import Foundation

/// What a reader of the lake must drop from a listing so that it sees each compaction's
/// files before or after, never both, on stores that swap files one by one (S3, WebHDFS).
///
/// A compaction copies its outputs into the hour and then deletes its inputs, so a listing
/// can catch any mix. Its record (created before the first copy) names both sets: while any
/// output is still missing from the hour, the outputs already there are hidden (the reader
/// sees the inputs, all still present); once every output is there, the inputs left are
/// hidden. The records must be read after the listing: a record created later cannot have
/// placed anything the listing saw.
///
/// One window remains, and readers treat it as a retry: an input listed before its deletion
/// may be gone by the time its bytes are read (`FileStoreError.notFound`).
public struct CompactionView: Sendable {
    /// The dataset's retained compaction records, oldest first.
    public let records: [CompactionRecord]

    /// A view over `records`.
    public init(records: [CompactionRecord]) { self.records = records }

    /// Reads `dataset`'s retained compaction records (a handful of small files).
    public static func load(store: any FileStore, dataset: LakeDataset) async throws -> CompactionView {
        var records: [CompactionRecord] = []
        for file in try await store.list(LakeLayout.compactionDirectory(dataset), recursive: false)
        where CommitRecord.sequence(fromFileName: file.name) != nil {
            let bytes: [UInt8]
            do {
                bytes = try await store.read(file.path)
            } catch FileStoreError.notFound {
                continue  // pruned since the listing: older than every record kept
            }
            records.append(try JSONDecoder().decode(CompactionRecord.self, from: Data(bytes)))
        }
        return CompactionView(records: records.sorted { $0.sequence < $1.sequence })
    }

    /// `files` (a listing of data files) without those a compaction in progress has not swapped yet.
    public func visible(_ files: [FileStatus]) -> [FileStatus] {
        guard !records.isEmpty else { return files }
        let present = Set(files.map(\.path))
        var hidden = Set<String>()
        for record in records {
            let outputs = record.outputs.map(\.final)
            if outputs.allSatisfy(present.contains) {
                hidden.formUnion(record.inputs)
            } else {
                hidden.formUnion(outputs)
            }
        }
        return files.filter { !hidden.contains($0.path) }
    }
}
