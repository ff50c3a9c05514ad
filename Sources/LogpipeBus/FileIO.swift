#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Thin POSIX wrappers for the log: every call reports failures as
/// `BusError.io` naming the operation, the path and errno's text.
enum FileIO {
    static func error(_ op: String, _ path: String, _ code: Int32 = errno) -> BusError {
        let message = "\(op) \(path): \(String(cString: strerror(code)))"
        return code == ENOSPC || code == EDQUOT ? .noSpace(message) : .io(message)
    }

    /// Opens a file for reading and writing, creating it when `create` is set.
    static func openReadWrite(_ path: String, create: Bool, exclusive: Bool = false) throws -> Int32 {
        var flags = O_RDWR | O_CLOEXEC
        if create { flags |= O_CREAT }
        if exclusive { flags |= O_EXCL }
        let fd = open(path, flags, 0o644)
        if fd < 0 { throw error("open", path) }
        return fd
    }

    /// Opens a file for reading only.
    static func openReadOnly(_ path: String) throws -> Int32 {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw error("open", path) }
        return fd
    }

    /// Closes a file descriptor, ignoring errors: only called on descriptors
    /// whose written data is already fsynced or abandoned.
    static func closeFile(_ fd: Int32) {
        _ = close(fd)
    }

    /// Opens a directory so it can be fsynced.
    static func openDirectory(_ path: String) throws -> Int32 {
        let fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
        if fd < 0 { throw error("open directory", path) }
        return fd
    }

    /// Makes a directory's entries (created, renamed, deleted files) durable.
    static func syncDirectory(_ path: String) throws {
        let fd = try openDirectory(path)
        defer { close(fd) }
        if fsync(fd) != 0 { throw error("fsync directory", path) }
    }

    /// Makes a file's written bytes durable. `fdatasync` suffices on Linux:
    /// it still writes the size change an append makes, and skips the mtime.
    static func syncData(_ fd: Int32, _ path: String) throws {
        #if os(Linux)
        let rc = fdatasync(fd)
        #else
        let rc = fsync(fd)
        #endif
        if rc != 0 { throw error("fsync", path) }
    }

    /// Reserves disk blocks for `[offset, offset + length)` without changing
    /// the file's size (Linux `fallocate(FALLOC_FL_KEEP_SIZE)`), so appends into
    /// them need no block allocation, whose metadata every fsync would
    /// otherwise write. Best effort: where unsupported it does nothing.
    static func preallocate(_ fd: Int32, offset: Int64, length: Int64) {
        #if os(Linux)
        if let allocate = fallocate { _ = allocate(fd, 1 /* FALLOC_FL_KEEP_SIZE */, offset, length) }
        #endif
    }

    #if os(Linux)
    private typealias Fallocate = @convention(c) (Int32, Int32, Int64, Int64) -> Int32
    /// `fallocate(2)` looked up at run time: Glibc's Swift module does not export this GNU extension.
    private static let fallocate: Fallocate? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "fallocate") else { return nil }
        return unsafeBitCast(symbol, to: Fallocate.self)
    }()
    #endif

    /// Creates a directory and any missing parents.
    static func makeDirectories(_ path: String) throws {
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o755) != 0 && errno != EEXIST { throw error("mkdir", current) }
        }
    }

    /// The size of an open file.
    static func size(_ fd: Int32, _ path: String) throws -> Int64 {
        var st = stat()
        if fstat(fd, &st) != 0 { throw error("stat", path) }
        return Int64(st.st_size)
    }

    /// Whether a path exists.
    static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    /// Names in a directory, without `.` and `..`.
    static func list(_ path: String) throws -> [String] {
        guard let dir = opendir(path) else { throw error("opendir", path) }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names
    }

    /// Writes all of `bytes` at `offset`, retrying short writes and EINTR.
    static func writeAll(_ fd: Int32, _ bytes: UnsafeRawBufferPointer, at offset: Int64, _ path: String) throws {
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(offset + Int64(done)))
            if n < 0 {
                if errno == EINTR { continue }
                throw error("write", path)
            }
            done += n
        }
    }

    /// Writes buffers back to back at `offset` with `pwritev`, up to 64 at a
    /// time, retrying short writes and EINTR.
    static func writeAll(_ fd: Int32, _ chunks: [[UInt8]], at offset: Int64, _ path: String) throws {
        var position = offset
        var start = 0
        while start < chunks.count {
            let end = min(start + 64, chunks.count)
            var iovecs: [iovec] = []
            iovecs.reserveCapacity(end - start)
            try withIOVecs(chunks, start, end, &iovecs) { iovecs in
                var first = 0
                while first < iovecs.count {
                    let n = iovecs.withUnsafeBufferPointer { v in
                        pwritev(fd, v.baseAddress! + first, Int32(v.count - first), off_t(position))
                    }
                    if n < 0 {
                        if errno == EINTR { continue }
                        throw error("write", path)
                    }
                    position += Int64(n)
                    var left = n
                    while first < iovecs.count && left >= iovecs[first].iov_len {
                        left -= iovecs[first].iov_len
                        first += 1
                    }
                    if left > 0 {
                        iovecs[first].iov_base += left
                        iovecs[first].iov_len -= left
                    }
                }
            }
            start = end
        }
    }

    /// Calls `body` with iovecs for `chunks[i..<end]`, each pointer valid because
    /// the call happens inside every chunk's `withUnsafeBytes`.
    private static func withIOVecs(
        _ chunks: [[UInt8]], _ i: Int, _ end: Int, _ iovecs: inout [iovec], _ body: (inout [iovec]) throws -> Void
    ) throws {
        if i == end {
            try body(&iovecs)
            return
        }
        try chunks[i].withUnsafeBytes { raw in
            iovecs.append(iovec(iov_base: UnsafeMutableRawPointer(mutating: raw.baseAddress), iov_len: raw.count))
            try withIOVecs(chunks, i + 1, end, &iovecs, body)
        }
    }

    /// Reads exactly `buffer.count` bytes at `offset`, or throws: callers only
    /// read byte ranges they know are on disk.
    static func readAll(_ fd: Int32, into buffer: UnsafeMutableRawBufferPointer, at offset: Int64, _ path: String) throws {
        var done = 0
        while done < buffer.count {
            let n = pread(fd, buffer.baseAddress! + done, buffer.count - done, off_t(offset + Int64(done)))
            if n < 0 {
                if errno == EINTR { continue }
                throw error("read", path)
            }
            if n == 0 { throw BusError.io("read \(path): unexpected end of file at \(offset + Int64(done))") }
            done += n
        }
    }

    /// Reads a whole small file.
    static func readFile(_ path: String) throws -> [UInt8] {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        if fd < 0 { throw error("open", path) }
        defer { close(fd) }
        let size = Int(try self.size(fd, path))
        var bytes = [UInt8](repeating: 0, count: size)
        try bytes.withUnsafeMutableBytes { try readAll(fd, into: $0, at: 0, path) }
        return bytes
    }

    /// Replaces a file atomically: writes a temporary file beside it, fsyncs it,
    /// renames it over the target and fsyncs the directory, so a crash leaves
    /// either the old or the new content, never a mix.
    static func writeFileAtomically(_ path: String, _ bytes: [UInt8], directory: String, temporary: String? = nil) throws {
        let tmp = temporary ?? path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw error("open", tmp) }
        do {
            try bytes.withUnsafeBytes { try writeAll(fd, $0, at: 0, tmp) }
            if fsync(fd) != 0 { throw error("fsync", tmp) }
        } catch {
            close(fd)
            unlink(tmp)
            throw error
        }
        close(fd)
        if rename(tmp, path) != 0 {
            let e = error("rename", tmp)
            unlink(tmp)
            throw e
        }
        try syncDirectory(directory)
    }

    /// Shortens a file to `size` bytes and makes that durable.
    static func truncate(_ fd: Int32, to size: Int64, _ path: String) throws {
        if ftruncate(fd, off_t(size)) != 0 { throw error("truncate", path) }
        if fsync(fd) != 0 { throw error("fsync", path) }
    }

    /// Removes a file; a file already gone is not an error.
    static func remove(_ path: String) throws {
        if unlink(path) != 0 && errno != ENOENT { throw error("unlink", path) }
    }
}
