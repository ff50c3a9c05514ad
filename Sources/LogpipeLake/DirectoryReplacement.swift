#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Foundation

extension LocalFileStore {
    /// Puts the directory tree at `source` in place of the tree at `destination` in one step
    /// (`renameat2(RENAME_EXCHANGE)`, or a plain rename when nothing is there yet), then
    /// deletes the old tree, which the exchange left at `source`. A reader, or a crash at any
    /// point, sees the whole old tree or the whole new one at `destination`, never a mix; a
    /// crash may leave the old tree at `source` (`removeTree` clears it).
    ///
    /// Returns `false`, changing nothing, when the kernel cannot exchange directories: the
    /// caller then replaces file by file. Every directory of `source` is synced first, so the
    /// new tree is durable before it becomes visible.
    public func replaceDirectory(_ destination: String, with source: String) async throws -> Bool {
        guard let exchange = Posix.renameExchange else { return false }
        let target = try absolutePath(destination)
        let staged = try absolutePath(source)
        return try await Self.offPool {
            try syncTree(staged)
            try Posix.makeDirectories(Posix.parent(target))
            if !Posix.exists(target) {
                if moveEntry(staged, target) != 0 { throw Posix.error("rename", "\(staged) -> \(target)") }
            } else if exchange(AT_FDCWD, staged, AT_FDCWD, target, Posix.renameExchangeFlag) != 0 {
                let code = errno
                if code == EINVAL || code == ENOSYS || code == ENOTSUP { return false }
                throw Posix.error("renameat2(RENAME_EXCHANGE)", "\(staged) <-> \(target)", code)
            }
            try Posix.syncDirectory(Posix.parent(target))
            try Posix.syncDirectory(Posix.parent(staged))
            Posix.removeTree(staged)
            return true
        }
    }

    /// Deletes the directory tree at `path` (best effort; a missing tree is not an error).
    public func removeTree(_ path: String) async throws {
        let full = try absolutePath(path)
        try await Self.offPool { Posix.removeTree(full) }
    }

    /// Runs blocking system calls on a dispatch queue, off Swift's cooperative pool.
    private static func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            DispatchQueue.global().async { continuation.resume(with: Result { try body() }) }
        }
    }
}

/// `rename(2)`, out of reach by that name inside `LocalFileStore`, whose method shadows it.
private func moveEntry(_ from: String, _ to: String) -> Int32 { rename(from, to) }

/// `fsync`s every directory of the tree at `path`, deepest first.
private func syncTree(_ path: String) throws {
    for name in try Posix.names(path) ?? [] {
        var st = stat()
        if lstat(path + "/" + name, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { try syncTree(path + "/" + name) }
    }
    try Posix.syncDirectory(path)
}
