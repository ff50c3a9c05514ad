import LogpipeLake
import Synchronization

/// The simulated crash: thrown by the operation that hits the budget and every one after.
public struct Crash: Error {}

/// A real store (local, S3, WebHDFS) that "crashes" after `budget` mutating operations: the
/// operation that would exceed it does nothing and throws, as does every later one, so
/// the store is left exactly as a process killed between two operations leaves it.
/// Reads keep working until the crash (the process was alive).
public final class CrashingStore: FileStore {
    /// The store underneath.
    public let base: any FileStore
    private let remaining: Mutex<Int>

    /// A store that crashes on its `budget + 1`th mutating operation.
    public init(base: any FileStore, budget: Int) {
        self.base = base
        remaining = Mutex(budget)
    }

    public var location: String { base.location }

    /// Whether the crash has happened.
    public var crashed: Bool { remaining.withLock { $0 < 0 } }

    func spend() throws {
        let ok = remaining.withLock { r -> Bool in
            r -= 1
            return r >= 0
        }
        if !ok { throw Crash() }
    }

    public func write(_ path: String, contents: [UInt8]) async throws {
        try spend()
        try await base.write(path, contents: contents)
    }

    public func createExclusive(_ path: String, contents: [UInt8]) async throws -> Bool {
        try spend()
        return try await base.createExclusive(path, contents: contents)
    }

    public func openWriter(_ path: String) async throws -> any FileWriter {
        try spend()
        return CrashingWriter(base: try await base.openWriter(path), store: self)
    }

    public func rename(_ source: String, to destination: String) async throws {
        try spend()
        try await base.rename(source, to: destination)
    }

    public func list(_ prefix: String, recursive: Bool) async throws -> [FileStatus] {
        if crashed { throw Crash() }
        return try await base.list(prefix, recursive: recursive)
    }

    public func read(_ path: String) async throws -> [UInt8] {
        if crashed { throw Crash() }
        return try await base.read(path)
    }

    public func read(_ path: String, offset: Int64, length: Int) async throws -> [UInt8] {
        if crashed { throw Crash() }
        return try await base.read(path, offset: offset, length: length)
    }

    public func delete(_ path: String) async throws {
        try spend()
        try await base.delete(path)
    }

    public func stat(_ path: String) async throws -> FileStatus? {
        if crashed { throw Crash() }
        return try await base.stat(path)
    }
}

/// A writer whose appends and finish spend the store's budget.
final class CrashingWriter: FileWriter {
    let base: any FileWriter
    let store: CrashingStore

    init(base: any FileWriter, store: CrashingStore) {
        self.base = base
        self.store = store
    }

    var path: String { base.path }

    func write(_ bytes: [UInt8]) async throws {
        try store.spend()
        try await base.write(bytes)
    }

    func finish() async throws {
        try store.spend()
        try await base.finish()
    }

    // A crashed process closes nothing: the half-written file stays for recovery to find.
    func abort() async {
        if !store.crashed { await base.abort() }
    }
}
