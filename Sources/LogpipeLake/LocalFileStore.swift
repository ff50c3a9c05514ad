#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif
import Dispatch
import Foundation

/// A `FileStore` over a local directory.
///
/// Durability follows POSIX: file data is `fdatasync`ed, and every directory whose
/// entries change (a file created, renamed in or out, linked) is `fsync`ed before the
/// call returns, so a crash never keeps a commit record while losing a file it names.
///
/// Blocking system calls run on a private concurrent dispatch queue, never on Swift's
/// cooperative pool, so one partition's fsync does not stall another's parsing.
public struct LocalFileStore: FileStore {
    /// The absolute root directory.
    public let root: String
    private let queue: DispatchQueue

    /// A store rooted at `root`, created if missing.
    public init(root: String) throws {
        let absolute = root.hasPrefix("/") ? root : FileManager.default.currentDirectoryPath + "/" + root
        var trimmed = absolute
        while trimmed.count > 1 && trimmed.hasSuffix("/") { trimmed.removeLast() }
        self.root = trimmed
        self.queue = DispatchQueue(label: "logpipe.lake.io", attributes: .concurrent)
        try Posix.makeDirectories(self.root)
    }

    public var location: String { root }

    /// The absolute path of a store path.
    public func absolutePath(_ path: String) throws -> String {
        if path.isEmpty { return root }
        if path.hasPrefix("/") || path.split(separator: "/").contains(where: { $0 == ".." || $0 == "." }) {
            throw FileStoreError.invalidPath(path)
        }
        return root + "/" + path
    }

    private func blocking<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }

    public func write(_ path: String, contents: [UInt8]) async throws {
        let full = try absolutePath(path)
        try await blocking {
            let dir = Posix.parent(full)
            try Posix.makeDirectories(dir)
            let fd = try Posix.open(full, flags: O_WRONLY | O_CREAT | O_TRUNC)
            defer { _ = close(fd) }
            try Posix.writeAll(fd, contents, full)
            try Posix.syncData(fd, full)
            try Posix.syncDirectory(dir)
        }
    }

    public func createExclusive(_ path: String, contents: [UInt8]) async throws -> Bool {
        let full = try absolutePath(path)
        return try await blocking {
            let dir = Posix.parent(full)
            try Posix.makeDirectories(dir)
            // A hidden temporary, linked into place: link(2) is atomic and fails on an
            // existing name, which rename(2) would silently replace.
            let temp = dir + "/.tmp-" + UUID().uuidString
            let fd = try Posix.open(temp, flags: O_WRONLY | O_CREAT | O_EXCL)
            defer { _ = unlink(temp) }
            do {
                try Posix.writeAll(fd, contents, temp)
                try Posix.syncData(fd, temp)
                _ = close(fd)
            } catch {
                _ = close(fd)
                throw error
            }
            if link(temp, full) != 0 {
                if errno == EEXIST { return false }
                throw Posix.error("link", full)
            }
            try Posix.syncDirectory(dir)
            return true
        }
    }

    public func openWriter(_ path: String) async throws -> any FileWriter {
        let full = try absolutePath(path)
        let fd = try await blocking {
            try Posix.makeDirectories(Posix.parent(full))
            return try Posix.open(full, flags: O_WRONLY | O_CREAT | O_TRUNC)
        }
        return LocalFileWriter(path: path, absolutePath: full, fd: fd, queue: queue)
    }

    public func rename(_ source: String, to destination: String) async throws {
        let from = try absolutePath(source)
        let to = try absolutePath(destination)
        try await blocking {
            let toDir = Posix.parent(to)
            try Posix.makeDirectories(toDir)
            if !Posix.move(from, to) {
                if errno == ENOENT && !Posix.exists(from) { throw FileStoreError.notFound(source) }
                throw Posix.error("rename", "\(from) -> \(to)")
            }
            try Posix.syncDirectory(toDir)
            let fromDir = Posix.parent(from)
            if fromDir != toDir { try Posix.syncDirectory(fromDir) }
        }
    }

    public func list(_ prefix: String, recursive: Bool) async throws -> [FileStatus] {
        let full = try absolutePath(prefix)
        let rootLength = root.utf8.count + 1
        return try await blocking {
            var out: [FileStatus] = []
            try Posix.walk(full, recursive: recursive) { path, st in
                out.append(FileStatus(
                    path: String(path.utf8.dropFirst(rootLength))!,
                    size: Int64(st.st_size),
                    modified: Posix.modified(st)))
            }
            out.sort { $0.path < $1.path }
            return out
        }
    }

    public func read(_ path: String) async throws -> [UInt8] {
        let full = try absolutePath(path)
        return try await blocking {
            let fd = try Posix.openForReading(full, storePath: path)
            defer { _ = close(fd) }
            return try Posix.readFully(fd, offset: 0, length: Int(try Posix.size(fd, full)), full)
        }
    }

    public func read(_ path: String, offset: Int64, length: Int) async throws -> [UInt8] {
        let full = try absolutePath(path)
        return try await blocking {
            let fd = try Posix.openForReading(full, storePath: path)
            defer { _ = close(fd) }
            return try Posix.readFully(fd, offset: offset, length: length, full)
        }
    }

    public func delete(_ path: String) async throws {
        let full = try absolutePath(path)
        try await blocking {
            if unlink(full) != 0 && errno != ENOENT { throw Posix.error("unlink", full) }
        }
    }

    public func stat(_ path: String) async throws -> FileStatus? {
        let full = try absolutePath(path)
        return try await blocking {
            guard let st = try Posix.status(full) else { return nil }
            return FileStatus(path: path, size: Int64(st.st_size), modified: Posix.modified(st))
        }
    }

    /// Where replacements build the next version of a directory: hidden, at the root, on the
    /// same file system (so links and the exchange work), outside every dataset.
    var swapRoot: String { root + "/.swap" }

    /// Replaces files with `renameat2(RENAME_EXCHANGE)`: the directory's next version is built
    /// beside it from hard links (kept files and the new ones), then the two directories
    /// are exchanged in one step, so a lister sees the old or the new set. Files renamed into
    /// the old version meanwhile (a concurrent commit) are linked into the new one after the
    /// exchange. A manifest beside the build directory lets `recoverReplacements` finish or
    /// undo it after a crash. Returns `false` where the kernel or file system lacks the exchange.
    /// True where the kernel and filesystem offer `renameat2(RENAME_EXCHANGE)`.
    public var replacesAtomically: Bool { Posix.renameExchange != nil }

    public func replaceAtomically(in directory: String, adding: [(source: String, name: String)], removing: [String]) async throws -> Bool {
        guard let exchange = Posix.renameExchange else { return false }
        let target = try absolutePath(directory)
        let sources = try adding.map { try absolutePath($0.source) }
        let addedNames = adding.map(\.name)
        let removed = Set(removing.map { String($0.split(separator: "/").last ?? Substring($0)) })
        let swapRoot = swapRoot
        return try await blocking {
            let id = UUID().uuidString
            let build = swapRoot + "/" + id
            let manifest = swapRoot + "/" + id + ".manifest"
            try Posix.makeDirectories(build)
            try Posix.makeDirectories(target)
            let manifestText = [directory, removed.sorted().joined(separator: "/"), addedNames.joined(separator: "/")].joined(separator: "\n")
            let fd = try Posix.open(manifest, flags: O_WRONLY | O_CREAT | O_TRUNC)
            do {
                try Posix.writeAll(fd, Array(manifestText.utf8), manifest)
                try Posix.syncData(fd, manifest)
                _ = close(fd)
            } catch {
                _ = close(fd)
                throw error
            }
            for name in try Posix.names(target) ?? [] where !removed.contains(name) {
                try Posix.link(target + "/" + name, build + "/" + name)
            }
            for (source, name) in zip(sources, addedNames) {
                try Posix.link(source, build + "/" + name)
            }
            try Posix.syncDirectory(build)
            try Posix.syncDirectory(swapRoot)
            if exchange(AT_FDCWD, build, AT_FDCWD, target, Posix.renameExchangeFlag) != 0 {
                let code = errno
                Posix.removeTree(build)
                _ = unlink(manifest)
                if code == EINVAL || code == ENOSYS || code == ENOTSUP { return false }
                throw Posix.error("renameat2(RENAME_EXCHANGE)", "\(build) <-> \(target)", code)
            }
            try Posix.syncDirectory(Posix.parent(target))
            try Posix.syncDirectory(swapRoot)
            try Self.finishReplacement(old: build, target: target, removed: removed)
            for source in sources { _ = unlink(source) }
            if let first = sources.first { try Posix.syncDirectory(Posix.parent(first)) }
            _ = unlink(manifest)
            return true
        }
    }

    /// After the exchange `old` holds the previous version: links what arrived in it since
    /// the build (and is not being removed) into `target`, then deletes it.
    private static func finishReplacement(old: String, target: String, removed: Set<String>) throws {
        var linked = false
        for name in try Posix.names(old) ?? [] where !removed.contains(name) && !Posix.exists(target + "/" + name) {
            try Posix.link(old + "/" + name, target + "/" + name)
            linked = true
        }
        if linked { try Posix.syncDirectory(target) }
        Posix.removeTree(old)
    }

    public func recoverReplacements() async throws {
        let swapRoot = swapRoot
        let root = root
        try await blocking {
            for entry in try Posix.names(swapRoot) ?? [] where entry.hasSuffix(".manifest") {
                let manifest = swapRoot + "/" + entry
                let build = String(manifest.dropLast(".manifest".count))
                let fd = try Posix.openForReading(manifest, storePath: entry)
                let bytes = try Posix.readFully(fd, offset: 0, length: Int(try Posix.size(fd, manifest)), manifest)
                _ = close(fd)
                let lines = String(decoding: bytes, as: UTF8.self)
                    .split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
                guard lines.count == 3 else { throw FileStoreError.io("bad replacement manifest \(manifest)") }
                let target = root + "/" + lines[0]
                let removed = Set(lines[1].split(separator: "/").map(String.init))
                let added = lines[2].split(separator: "/").map(String.init)
                if Posix.exists(build) {
                    if added.allSatisfy({ Posix.exists(target + "/" + $0) }) {
                        // Exchanged before the crash: the build directory holds the old version.
                        try Self.finishReplacement(old: build, target: target, removed: removed)
                    } else {
                        Posix.removeTree(build)
                    }
                }
                _ = unlink(manifest)
            }
            try? Posix.syncDirectory(swapRoot)
        }
    }

    /// Removes empty directories under `prefix` (left behind by deletes), keeping `prefix` itself.
    public func removeEmptyDirectories(under prefix: String) async throws {
        let full = try absolutePath(prefix)
        _ = try await blocking { Posix.removeEmptyDirectories(full, keepSelf: true) }
    }
}

/// A local file open for appending; writes go through the store's queue.
final class LocalFileWriter: FileWriter, @unchecked Sendable {
    // @unchecked: `fd` is immutable after init and only used by one writer at a time
    // (the protocol's contract: a `FileWriter` is driven by a single task).
    let path: String
    let absolutePath: String
    let fd: Int32
    let queue: DispatchQueue

    init(path: String, absolutePath: String, fd: Int32, queue: DispatchQueue) {
        self.path = path
        self.absolutePath = absolutePath
        self.fd = fd
        self.queue = queue
    }

    private func blocking(_ body: @escaping @Sendable () throws -> Void) async throws {
        try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
            queue.async { continuation.resume(with: Result { try body() }) }
        }
    }

    func write(_ bytes: [UInt8]) async throws {
        let fd = fd, path = absolutePath
        try await blocking { try Posix.writeAll(fd, bytes, path) }
    }

    func finish() async throws {
        let fd = fd, path = absolutePath
        try await blocking {
            defer { _ = close(fd) }
            try Posix.syncData(fd, path)
            // The staging entry itself must be durable before a commit record names it.
            try Posix.syncDirectory(Posix.parent(path))
        }
    }

    func abort() async {
        let fd = fd, path = absolutePath
        try? await blocking {
            _ = close(fd)
            _ = unlink(path)
        }
    }
}

/// POSIX helpers reporting failures as `FileStoreError.io` with the call, path and errno text.
enum Posix {
    static func error(_ op: String, _ path: String, _ code: Int32 = errno) -> FileStoreError {
        .io("\(op) \(path): \(String(cString: strerror(code)))")
    }

    static func parent(_ path: String) -> String {
        guard let slash = path.utf8.lastIndex(of: UInt8(ascii: "/")) else { return "." }
        return slash == path.utf8.startIndex ? "/" : String(path[..<slash])
    }

    static func open(_ path: String, flags: Int32) throws -> Int32 {
        let fd = openFile(path, flags | O_CLOEXEC, 0o644)
        if fd < 0 { throw error("open", path) }
        return fd
    }

    static func openForReading(_ path: String, storePath: String) throws -> Int32 {
        let fd = openFile(path, O_RDONLY | O_CLOEXEC, 0)
        if fd < 0 {
            if errno == ENOENT { throw FileStoreError.notFound(storePath) }
            throw error("open", path)
        }
        return fd
    }

    /// `renameat2`, looked up at run time: Glibc's module map does not export it (it is a GNU extension).
    static let renameExchange: (@convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32)? = {
        #if os(Linux)
        guard let handle = dlopen(nil, RTLD_NOW), let symbol = dlsym(handle, "renameat2") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int32, UnsafePointer<CChar>, Int32, UnsafePointer<CChar>, UInt32) -> Int32).self)
        #else
        return nil
        #endif
    }()

    /// `RENAME_EXCHANGE` of `<linux/fs.h>`.
    static let renameExchangeFlag: UInt32 = 1 << 1

    /// `link(2)`; an existing destination is an error.
    static func link(_ from: String, _ to: String) throws {
        if hardLink(from, to) != 0 { throw error("link", "\(from) -> \(to)") }
    }

    /// Deletes a directory tree (best effort: what remains is retried by recovery).
    static func removeTree(_ path: String) {
        for name in (try? names(path)) ?? nil ?? [] {
            let child = path + "/" + name
            var st = stat()
            if lstat(child, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR { removeTree(child) } else { _ = unlink(child) }
        }
        _ = rmdir(path)
    }

    /// `rename(2)`; false with `errno` set on failure.
    static func move(_ from: String, _ to: String) -> Bool { rename(from, to) == 0 }

    static func size(_ fd: Int32, _ path: String) throws -> Int64 {
        var st = stat()
        if fstat(fd, &st) != 0 { throw error("stat", path) }
        return Int64(st.st_size)
    }

    /// The status of a path, `nil` when nothing is there.
    static func status(_ path: String) throws -> stat? {
        var st = stat()
        if stat(path, &st) != 0 {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw error("stat", path)
        }
        return st
    }

    static func modified(_ st: stat) -> Double {
        #if canImport(Darwin)
        Double(st.st_mtimespec.tv_sec) + Double(st.st_mtimespec.tv_nsec) / 1e9
        #else
        Double(st.st_mtim.tv_sec) + Double(st.st_mtim.tv_nsec) / 1e9
        #endif
    }

    static func exists(_ path: String) -> Bool {
        var st = stat()
        return stat(path, &st) == 0
    }

    static func makeDirectories(_ path: String) throws {
        if exists(path) { return }
        var current = path.hasPrefix("/") ? "" : "."
        for component in path.split(separator: "/") {
            current += "/" + component
            if mkdir(current, 0o755) != 0 && errno != EEXIST { throw error("mkdir", current) }
        }
    }

    static func writeAll(_ fd: Int32, _ bytes: [UInt8], _ path: String) throws {
        try bytes.withUnsafeBytes { buffer in
            var done = 0
            while done < buffer.count {
                let n = writeBytes(fd, buffer.baseAddress! + done, buffer.count - done)
                if n < 0 {
                    if errno == EINTR { continue }
                    throw error("write", path)
                }
                done += n
            }
        }
    }

    static func readFully(_ fd: Int32, offset: Int64, length: Int, _ path: String) throws -> [UInt8] {
        var out = [UInt8](repeating: 0, count: length)
        let got = try out.withUnsafeMutableBytes { buffer -> Int in
            var done = 0
            while done < length {
                let n = pread(fd, buffer.baseAddress! + done, length - done, off_t(offset) + off_t(done))
                if n < 0 {
                    if errno == EINTR { continue }
                    throw error("read", path)
                }
                if n == 0 { break }
                done += n
            }
            return done
        }
        if got < length { out.removeSubrange(got...) }
        return out
    }

    static func syncData(_ fd: Int32, _ path: String) throws {
        #if os(Linux)
        let rc = fdatasync(fd)
        #else
        let rc = fsync(fd)
        #endif
        if rc != 0 { throw error("fsync", path) }
    }

    static func syncDirectory(_ path: String) throws {
        let fd = openFile(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC, 0)
        if fd < 0 { throw error("open directory", path) }
        defer { _ = close(fd) }
        if fsync(fd) != 0 { throw error("fsync directory", path) }
    }

    /// Names in a directory, without `.` and `..`; `nil` when it does not exist.
    static func names(_ path: String) throws -> [String]? {
        guard let dir = opendir(path) else {
            if errno == ENOENT || errno == ENOTDIR { return nil }
            throw error("opendir", path)
        }
        defer { closedir(dir) }
        var out: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) { raw in
                String(cString: raw.baseAddress!.assumingMemoryBound(to: CChar.self))
            }
            if name != "." && name != ".." { out.append(name) }
        }
        return out
    }

    /// Calls `body` for every regular file under `path`.
    static func walk(_ path: String, recursive: Bool, _ body: (String, stat) throws -> Void) throws {
        guard let names = try names(path) else { return }
        for name in names {
            let child = path + "/" + name
            var st = stat()
            // A file deleted between readdir and stat (a concurrent compaction or cleanup) is skipped.
            if lstat(child, &st) != 0 { continue }
            if (st.st_mode & S_IFMT) == S_IFDIR {
                if recursive { try walk(child, recursive: true, body) }
            } else if (st.st_mode & S_IFMT) == S_IFREG {
                try body(child, st)
            }
        }
    }

    /// Removes empty directories below `path` (and `path` too unless `keepSelf`); returns whether `path` is gone.
    @discardableResult
    static func removeEmptyDirectories(_ path: String, keepSelf: Bool) -> Bool {
        guard let names = try? names(path) else { return false }
        var remaining = names.count
        for name in names {
            let child = path + "/" + name
            var st = stat()
            if lstat(child, &st) == 0, (st.st_mode & S_IFMT) == S_IFDIR,
               removeEmptyDirectories(child, keepSelf: false) {
                remaining -= 1
            }
        }
        if remaining == 0 && !keepSelf { return rmdir(path) == 0 }
        return false
    }
}

// Free functions so the `Posix` helpers named like the calls they wrap can reach them.
private func openFile(_ path: String, _ flags: Int32, _ mode: mode_t) -> Int32 { open(path, flags, mode) }
private func hardLink(_ from: String, _ to: String) -> Int32 { link(from, to) }
private func writeBytes(_ fd: Int32, _ buffer: UnsafeRawPointer, _ count: Int) -> Int { write(fd, buffer, count) }
