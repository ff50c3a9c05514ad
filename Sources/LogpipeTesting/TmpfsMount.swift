import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A small tmpfs mounted for a test, so a disk can really fill up (ENOSPC) under a running
/// process. Mounting needs root (CAP_SYS_ADMIN); without it the test fails saying so.
public final class TmpfsMount: Sendable {
    /// The mount point.
    public let path: String

    /// Creates `path` and mounts a tmpfs of `bytes` on it.
    public init(at path: String, bytes: Int) throws {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        guard mount("tmpfs", path, "tmpfs", 0, "size=\(bytes),mode=0755") == 0 else {
            throw ToolMissing(description: "mounting a tmpfs on \(path) failed (\(String(cString: strerror(errno)))): disk-full tests need root (CAP_SYS_ADMIN)")
        }
        self.path = path
    }

    /// Bytes still free on the filesystem.
    public var freeBytes: Int {
        var stats = statvfs()
        guard statvfs(path, &stats) == 0 else { return 0 }
        return Int(stats.f_bavail) * Int(stats.f_frsize)
    }

    /// Writes a file `name` of zeros until at most `leaving` bytes are free (or the disk is
    /// full); returns its path. Removing it gives the space back.
    @discardableResult
    public func fill(_ name: String = "filler", leaving: Int = 0) throws -> String {
        let file = "\(path)/\(name)"
        let fd = open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw ChildProcessError.spawn("open \(file): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        let chunk = [UInt8](repeating: 0, count: 4096)
        while freeBytes > leaving {
            let n = chunk.withUnsafeBytes { write(fd, $0.baseAddress, min($0.count, freeBytes - leaving)) }
            if n <= 0 { break }
        }
        return file
    }

    /// Unmounts, even while a process still has files open there (a lazy unmount).
    public func unmount() {
        _ = umount2(path, 2 /* MNT_DETACH */)
    }
}
