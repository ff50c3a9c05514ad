import Foundation
import LogpipeLake
import NIOHTTP1

/// Where a lake on HDFS lives: the NameNode's WebHDFS address and a root directory.
public struct WebHDFSConfiguration: Sendable, Equatable {
    /// The NameNode's HTTP address, such as `http://namenode:9870`.
    public var namenode: String
    /// The absolute HDFS directory the lake lives under, such as `/data`.
    public var root: String
    /// The user sent as `user.name` (simple authentication; Kerberos/SPNEGO is not supported).
    public var user: String?
    /// How many bytes a streamed file buffers before it sends them with an `APPEND`.
    public var appendBytes: Int

    /// A configuration.
    public init(namenode: String, root: String, user: String? = nil, appendBytes: Int = 8 << 20) {
        self.namenode = namenode.hasSuffix("/") ? String(namenode.dropLast()) : namenode
        self.root = "/" + root.split(separator: "/").joined(separator: "/")
        self.user = user
        self.appendBytes = max(1 << 16, appendBytes)
    }

    /// Parses `webhdfs://namenode:9870/path` (`swebhdfs://` for HTTPS); the user comes from
    /// the flag, else `HADOOP_USER_NAME`.
    public static func parse(url: String, user: String? = nil,
                             environment: [String: String] = ProcessInfo.processInfo.environment) throws -> WebHDFSConfiguration {
        let scheme: String
        let rest: Substring
        if url.hasPrefix("webhdfs://") {
            scheme = "http"
            rest = url.dropFirst("webhdfs://".count)
        } else if url.hasPrefix("swebhdfs://") {
            scheme = "https"
            rest = url.dropFirst("swebhdfs://".count)
        } else {
            throw FileStoreError.invalidPath("not a webhdfs:// URL: \(url)")
        }
        let authority = rest.prefix { $0 != "/" }
        guard !authority.isEmpty else { throw FileStoreError.invalidPath("no NameNode in \(url)") }
        let path = String(rest.dropFirst(authority.count))
        return WebHDFSConfiguration(namenode: "\(scheme)://\(authority)", root: path,
                                    user: (user?.isEmpty == false ? user : nil) ?? environment["HADOOP_USER_NAME"])
    }
}

/// A `FileStore` on HDFS through WebHDFS, the seed's lake.
///
/// The commit protocol maps onto HDFS as on a local disk: `createExclusive` creates a hidden
/// temporary (`CREATE` with `overwrite=false`) and `RENAME`s it into place (HDFS rename
/// fails on an existing destination, atomically, so one worker wins); data files are created
/// under staging and renamed into their hour partition, which HDFS does atomically. Creates
/// and appends follow the protocol's two steps: the NameNode answers 307 with a DataNode
/// location, which then receives the bytes.
public struct WebHDFSFileStore: FileStore {
    /// The configuration.
    public let configuration: WebHDFSConfiguration

    /// A store on `configuration`'s NameNode and root.
    public init(configuration: WebHDFSConfiguration) {
        self.configuration = configuration
    }

    public var location: String { "webhdfs \(configuration.namenode)\(configuration.root)" }

    /// The absolute HDFS path of a store path.
    func hdfsPath(_ path: String) throws -> String {
        if path.hasPrefix("/") || path.split(separator: "/", omittingEmptySubsequences: false)
            .contains(where: { $0 == ".." || $0 == "." }) {
            throw FileStoreError.invalidPath(path)
        }
        if path.isEmpty { return configuration.root }
        return configuration.root == "/" ? "/" + path : configuration.root + "/" + path
    }

    private func url(_ hdfsPath: String, op: String, _ parameters: [(String, String)] = []) -> String {
        var query = [("op", op)] + parameters
        if let user = configuration.user { query.append(("user.name", user)) }
        return configuration.namenode + "/webhdfs/v1" + SigV4Signer.uriEncode(hdfsPath, keepSlash: true) + "?"
            + query.map { "\(SigV4Signer.uriEncode($0.0, keepSlash: false))=\(SigV4Signer.uriEncode($0.1, keepSlash: false))" }.joined(separator: "&")
    }

    /// A NameNode request; `retry` for idempotent ones.
    private func call(_ method: HTTPMethod, _ hdfsPath: String, op: String, _ parameters: [(String, String)] = [],
                      retry: Bool = true) async throws -> HTTPAnswer {
        let target = url(hdfsPath, op: op, parameters)
        if retry { return try await HTTPTransport.sendRetrying(method: method, url: target, body: nil) { [] } }
        return try await HTTPTransport.send(method: method, url: target, headers: [], body: nil)
    }

    /// The two-step operations: the NameNode redirects, the DataNode takes or gives the bytes.
    private func twoStep(_ method: HTTPMethod, _ hdfsPath: String, op: String, _ parameters: [(String, String)],
                         body: [UInt8]?) async throws -> HTTPAnswer {
        let first = try await call(method, hdfsPath, op: op, parameters, retry: op == "OPEN")
        guard first.status == 307, let location = first.headers.first(name: "location") else {
            return first
        }
        let headers = body == nil ? [] : [("content-type", "application/octet-stream")]
        return try await HTTPTransport.send(method: method, url: location, headers: headers, body: body)
    }

    func failure(_ operation: String, _ path: String, _ answer: HTTPAnswer) -> FileStoreError {
        let remote = (try? JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any])?["RemoteException"] as? [String: Any]
        let exception = remote?["exception"] as? String ?? ""
        let message = remote?["message"] as? String ?? answer.text.prefix(200).description
        return .io("WebHDFS \(operation) \(location)/\(path): HTTP \(answer.status) \(exception) \(message)")
    }

    private func exception(_ answer: HTTPAnswer) -> String? {
        ((try? JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any])?["RemoteException"] as? [String: Any])?["exception"] as? String
    }

    private func boolean(_ answer: HTTPAnswer) -> Bool {
        ((try? JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any])?["boolean"] as? Bool) ?? false
    }

    /// Creates `hdfsPath` with `contents`; `false` when it exists and `overwrite` is off.
    func create(_ hdfsPath: String, contents: [UInt8], overwrite: Bool, storePath: String) async throws -> Bool {
        let answer = try await twoStep(.PUT, hdfsPath, op: "CREATE", [("overwrite", overwrite ? "true" : "false")], body: contents)
        if answer.status == 201 || answer.status == 200 { return true }
        if !overwrite, exception(answer) == "FileAlreadyExistsException" { return false }
        throw failure("CREATE", storePath, answer)
    }

    func append(_ hdfsPath: String, contents: [UInt8], storePath: String) async throws {
        let answer = try await twoStep(.POST, hdfsPath, op: "APPEND", [], body: contents)
        guard answer.isSuccess else { throw failure("APPEND", storePath, answer) }
    }

    private func makeDirectories(_ hdfsPath: String) async throws {
        let answer = try await call(.PUT, hdfsPath, op: "MKDIRS")
        guard answer.isSuccess, boolean(answer) else { throw failure("MKDIRS", hdfsPath, answer) }
    }

    private func parent(_ hdfsPath: String) -> String {
        guard let slash = hdfsPath.lastIndex(of: "/"), slash != hdfsPath.startIndex else { return "/" }
        return String(hdfsPath[..<slash])
    }

    public func write(_ path: String, contents: [UInt8]) async throws {
        _ = try await create(try hdfsPath(path), contents: contents, overwrite: true, storePath: path)
    }

    public func createExclusive(_ path: String, contents: [UInt8]) async throws -> Bool {
        let final = try hdfsPath(path)
        let temp = parent(final) + "/.tmp-" + UUID().uuidString
        _ = try await create(temp, contents: contents, overwrite: false, storePath: path)
        let answer = try await call(.PUT, temp, op: "RENAME", [("destination", final)], retry: false)
        let renamed = answer.isSuccess && boolean(answer)
        if !renamed { _ = try? await call(.DELETE, temp, op: "DELETE", [("recursive", "false")]) }
        guard answer.isSuccess else { throw failure("RENAME", path, answer) }
        if renamed { return true }
        if try await stat(path) != nil { return false }
        throw failure("RENAME (exclusive)", path, answer)
    }

    public func openWriter(_ path: String) async throws -> any FileWriter {
        let full = try hdfsPath(path)
        _ = try await create(full, contents: [], overwrite: true, storePath: path)
        return WebHDFSWriter(store: self, path: path, hdfsPath: full, appendBytes: configuration.appendBytes)
    }

    public func rename(_ source: String, to destination: String) async throws {
        let from = try hdfsPath(source)
        let to = try hdfsPath(destination)
        for attempt in 0..<3 {
            let answer = try await call(.PUT, from, op: "RENAME", [("destination", to)], retry: false)
            guard answer.isSuccess else { throw failure("RENAME", source, answer) }
            if boolean(answer) { return }
            // HDFS refuses a rename onto an existing file or into a missing directory.
            if try await stat(source) == nil { throw FileStoreError.notFound(source) }
            if attempt == 0 {
                try await makeDirectories(parent(to))
            } else {
                try await delete(destination)
            }
        }
        throw FileStoreError.io("WebHDFS RENAME \(source) -> \(destination): refused")
    }

    private func listStatus(_ hdfsPath: String) async throws -> [[String: Any]]? {
        let answer = try await call(.GET, hdfsPath, op: "LISTSTATUS")
        if answer.status == 404 { return nil }
        guard answer.isSuccess else { throw failure("LISTSTATUS", hdfsPath, answer) }
        let object = try JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any]
        return (object?["FileStatuses"] as? [String: Any])?["FileStatus"] as? [[String: Any]] ?? []
    }

    public func list(_ prefix: String, recursive: Bool) async throws -> [FileStatus] {
        var out: [FileStatus] = []
        var pending = [prefix]
        while let directory = pending.popLast() {
            guard let entries = try await listStatus(try hdfsPath(directory)) else { continue }
            for entry in entries {
                guard let name = entry["pathSuffix"] as? String, !name.isEmpty else { continue }
                let path = directory.isEmpty ? name : directory + "/" + name
                if entry["type"] as? String == "DIRECTORY" {
                    if recursive { pending.append(path) }
                } else {
                    out.append(FileStatus(path: path, size: (entry["length"] as? NSNumber)?.int64Value ?? 0,
                                          modified: ((entry["modificationTime"] as? NSNumber)?.doubleValue ?? 0) / 1000))
                }
            }
        }
        out.sort { $0.path < $1.path }
        return out
    }

    public func read(_ path: String) async throws -> [UInt8] {
        let answer = try await twoStep(.GET, try hdfsPath(path), op: "OPEN", [], body: nil)
        if answer.status == 404 { throw FileStoreError.notFound(path) }
        guard answer.isSuccess else { throw failure("OPEN", path, answer) }
        return answer.body
    }

    public func read(_ path: String, offset: Int64, length: Int) async throws -> [UInt8] {
        guard length > 0 else { return [] }
        let answer = try await twoStep(.GET, try hdfsPath(path), op: "OPEN", [("offset", String(offset)), ("length", String(length))], body: nil)
        if answer.status == 404 { throw FileStoreError.notFound(path) }
        guard answer.isSuccess else {
            // Reading at or past the end is an error in HDFS; the protocol returns nothing there.
            if let size = try await stat(path)?.size, offset >= size { return [] }
            throw failure("OPEN", path, answer)
        }
        return Array(answer.body.prefix(length))
    }

    public func delete(_ path: String) async throws {
        let answer = try await call(.DELETE, try hdfsPath(path), op: "DELETE", [("recursive", "false")])
        guard answer.isSuccess || answer.status == 404 else { throw failure("DELETE", path, answer) }
    }

    public func stat(_ path: String) async throws -> FileStatus? {
        let answer = try await call(.GET, try hdfsPath(path), op: "GETFILESTATUS")
        if answer.status == 404 { return nil }
        guard answer.isSuccess else { throw failure("GETFILESTATUS", path, answer) }
        let status = (try JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any])?["FileStatus"] as? [String: Any]
        guard let status, status["type"] as? String == "FILE" else { return nil }
        return FileStatus(path: path, size: (status["length"] as? NSNumber)?.int64Value ?? 0,
                          modified: ((status["modificationTime"] as? NSNumber)?.doubleValue ?? 0) / 1000)
    }
}

/// A streamed HDFS file: created empty at open, its bytes sent in `APPEND`s of
/// `appendBytes`. It lives under a staging path, so readers never see it partial.
final class WebHDFSWriter: FileWriter, @unchecked Sendable {
    // @unchecked: driven by one task at a time (the FileWriter contract).
    let path: String
    private let store: WebHDFSFileStore
    private let hdfsPath: String
    private let appendBytes: Int
    private var buffer: [UInt8] = []

    init(store: WebHDFSFileStore, path: String, hdfsPath: String, appendBytes: Int) {
        self.store = store
        self.path = path
        self.hdfsPath = hdfsPath
        self.appendBytes = appendBytes
    }

    func write(_ bytes: [UInt8]) async throws {
        buffer.append(contentsOf: bytes)
        if buffer.count >= appendBytes { try await flush() }
    }

    private func flush() async throws {
        guard !buffer.isEmpty else { return }
        try await store.append(hdfsPath, contents: buffer, storePath: path)
        buffer.removeAll(keepingCapacity: true)
    }

    func finish() async throws {
        try await flush()
    }

    func abort() async {
        buffer = []
        try? await store.delete(path)
    }
}
