/// The storage a lake lives on: a local directory today, WebHDFS or S3 tomorrow.
///
/// Paths are relative to the store's root, `/`-separated, without a leading `/`.
/// The commit protocol (`PartitionCommitLog`) needs exactly these guarantees and no others,
/// so any store that gives them can hold an exactly-once lake:
///
/// - `write` and a finished `FileWriter` are durable when they return.
/// - `createExclusive` is atomic (readers see the whole file or none) and fails, rather
///   than overwrites, when the path exists. It is the commit point and the fence between
///   two workers that both believe they own a partition (local: `link(2)`, S3: a
///   conditional `PUT` with `If-None-Match: *`, WebHDFS: `CREATE` with `overwrite=false`
///   of a temporary then `RENAME`).
/// - `rename` moves one file and is durable when it returns; it need not be atomic for
///   the protocol's correctness (a commit record names both ends, so a half-done move is
///   finished on restart), but readers must never see a partial file at the destination
///   (local and HDFS rename are atomic; S3 copies a whole object, then deletes).
public protocol FileStore: Sendable {
    /// A human-readable location for logs, such as the root directory.
    var location: String { get }

    /// Writes `contents` as the whole file at `path` (replacing it), creating parent
    /// directories, and makes it durable.
    func write(_ path: String, contents: [UInt8]) async throws

    /// Atomically creates `path` holding `contents`, durable on return. Returns `false`
    /// and changes nothing when `path` already exists.
    func createExclusive(_ path: String, contents: [UInt8]) async throws -> Bool

    /// Opens a new file at `path` (replacing any) for streamed writes.
    func openWriter(_ path: String) async throws -> any FileWriter

    /// Moves the file at `source` to `destination`, creating the destination's parent
    /// directories; durable on return. Throws `FileStoreError.notFound` when `source` is
    /// missing. An existing `destination` is replaced.
    func rename(_ source: String, to destination: String) async throws

    /// Every file under the directory `prefix` (recursively when `recursive`), sorted by path.
    /// A missing directory lists as empty.
    func list(_ prefix: String, recursive: Bool) async throws -> [FileStatus]

    /// The whole contents of the file at `path`.
    func read(_ path: String) async throws -> [UInt8]

    /// `length` bytes at `offset` of the file at `path` (fewer at its end).
    func read(_ path: String, offset: Int64, length: Int) async throws -> [UInt8]

    /// Deletes the file at `path`; a missing file is not an error.
    func delete(_ path: String) async throws

    /// The file's status, or `nil` when nothing is at `path`.
    func stat(_ path: String) async throws -> FileStatus?

    /// Moves each `adding` file (by its store path) into `directory` under its name and removes
    /// the files named `removing` from it, such that a reader listing `directory` sees the old
    /// set or the new one, never a mix. Returns `false`, changing nothing, when the store
    /// cannot do that (the caller then renames and deletes one by one).
    func replaceAtomically(in directory: String, adding: [(source: String, name: String)], removing: [String]) async throws -> Bool

    /// Finishes or undoes replacements a crash interrupted (a store without atomic
    /// replacement has none).
    func recoverReplacements() async throws

    /// Whether `replaceAtomically` can swap files here. Where it cannot, a reader listing
    /// the store during a compaction could see its inputs and outputs together, so
    /// compaction is off there unless asked for (`CompactionPolicy`).
    var replacesAtomically: Bool { get }
}

extension FileStore {
    public func replaceAtomically(in directory: String, adding: [(source: String, name: String)], removing: [String]) async throws -> Bool {
        false
    }

    public func recoverReplacements() async throws {}

    public var replacesAtomically: Bool { false }
}

/// A file being written in pieces, invisible under its final name until renamed there.
public protocol FileWriter: AnyObject, Sendable {
    /// The path being written.
    var path: String { get }
    /// Appends bytes.
    func write(_ bytes: [UInt8]) async throws
    /// Makes everything written durable and closes the file.
    func finish() async throws
    /// Closes and deletes the file; never throws (leftovers are removed by recovery).
    func abort() async
}

/// A file's path and size.
public struct FileStatus: Sendable, Hashable {
    /// The path relative to the store's root.
    public var path: String
    /// The size in bytes.
    public var size: Int64
    /// The last modification time, seconds since the epoch.
    public var modified: Double

    /// A file status.
    public init(path: String, size: Int64, modified: Double) {
        self.path = path
        self.size = size
        self.modified = modified
    }

    /// The last path component.
    public var name: Substring { path.split(separator: "/").last ?? Substring(path) }
}

/// Why a store operation failed.
public enum FileStoreError: Error, Sendable, Equatable, CustomStringConvertible {
    /// Nothing is at the path.
    case notFound(String)
    /// A path is not acceptable (absolute, `..`, empty).
    case invalidPath(String)
    /// An operating-system or remote-store error.
    case io(String)

    public var description: String {
        switch self {
        case .notFound(let p): "not found: \(p)"
        case .invalidPath(let p): "invalid path '\(p)'"
        case .io(let s): "I/O error: \(s)"
        }
    }
}
