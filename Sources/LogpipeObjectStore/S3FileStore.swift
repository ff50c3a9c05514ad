import Foundation
import LogpipeLake
import NIOHTTP1

/// Where and how to reach an S3-compatible bucket (AWS S3, MinIO, Ceph, R2, GCS's S3 endpoint).
public struct S3Configuration: Sendable, Equatable {
    /// The bucket.
    public var bucket: String
    /// The key prefix the lake lives under, without leading or trailing `/` (may be empty).
    public var prefix: String
    /// The endpoint, such as `http://127.0.0.1:9000`; `nil` means AWS's regional endpoint.
    public var endpoint: String?
    /// The region signatures are scoped to.
    public var region: String
    /// The credentials.
    public var credentials: AWSCredentials
    /// Multipart part size for streamed uploads (S3's minimum for all but the last part is 5 MiB).
    public var partSize: Int

    /// A configuration.
    public init(bucket: String, prefix: String = "", endpoint: String? = nil, region: String = "us-east-1",
                credentials: AWSCredentials, partSize: Int = 8 << 20) {
        self.bucket = bucket
        self.prefix = prefix.split(separator: "/").joined(separator: "/")
        self.endpoint = endpoint.map { $0.hasSuffix("/") ? String($0.dropLast()) : $0 }
        self.region = region
        self.credentials = credentials
        self.partSize = max(5 << 20, partSize)
    }

    /// Parses `s3://bucket/prefix`, taking what the flags leave open from the standard AWS
    /// environment variables: `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`,
    /// `AWS_REGION` (or `AWS_DEFAULT_REGION`), `AWS_ENDPOINT_URL_S3` (or `AWS_ENDPOINT_URL`).
    public static func parse(url: String, endpoint: String? = nil, region: String? = nil,
                             accessKeyId: String? = nil, secretAccessKey: String? = nil, sessionToken: String? = nil,
                             environment: [String: String] = ProcessInfo.processInfo.environment) throws -> S3Configuration {
        guard url.hasPrefix("s3://") else { throw FileStoreError.invalidPath("not an s3:// URL: \(url)") }
        let rest = url.dropFirst("s3://".count)
        let bucket = String(rest.prefix { $0 != "/" })
        guard !bucket.isEmpty else { throw FileStoreError.invalidPath("no bucket in \(url)") }
        let prefix = String(rest.dropFirst(bucket.count))
        func pick(_ flag: String?, _ names: [String]) -> String? {
            if let flag, !flag.isEmpty { return flag }
            return names.lazy.compactMap { environment[$0] }.first { !$0.isEmpty }
        }
        guard let key = pick(accessKeyId, ["AWS_ACCESS_KEY_ID"]), let secret = pick(secretAccessKey, ["AWS_SECRET_ACCESS_KEY"]) else {
            throw FileStoreError.io("no S3 credentials for \(url): set LOGPIPE_LAKE_S3_ACCESS_KEY_ID (or --s3-access-key-id) and LOGPIPE_LAKE_S3_SECRET_ACCESS_KEY, or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY")
        }
        return S3Configuration(
            bucket: bucket, prefix: prefix,
            endpoint: pick(endpoint, ["AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL"]),
            region: pick(region, ["AWS_REGION", "AWS_DEFAULT_REGION"]) ?? "us-east-1",
            credentials: AWSCredentials(accessKeyId: key, secretAccessKey: secret,
                                        sessionToken: pick(sessionToken, ["AWS_SESSION_TOKEN"])))
    }
}

/// A `FileStore` on an S3-compatible bucket, for a lake that several machines share.
///
/// S3 has no rename, so the commit protocol's guarantees come from elsewhere:
/// - `createExclusive` is a `PUT` with `If-None-Match: *`: the bucket creates the key only
///   if it is absent, atomically, which makes the commit record the commit point and the
///   fence between two workers (AWS S3 since 2024, MinIO, Ceph; see docs/deploy.md for moto).
/// - Data files are uploaded under staging keys (`_logpipe/staging/…`, multipart beyond one
///   part) and `rename` copies them server-side to their final key after the commit record
///   exists, then deletes the staging key. A copy makes the final object appear whole, and a
///   final key is unique per file, so redoing a copy in recovery is idempotent: a reader
///   listing a dataset prefix never sees a partial, uncommitted or duplicated file.
/// - Recovery (the commit log's) redoes copies whose staging key is still there and deletes
///   every staging key no record names. Multipart uploads a killed worker left unfinished
///   are invisible to listings; a stream worker aborts those older than an hour when it
///   starts (`abortIncompleteUploads`), and a bucket lifecycle rule
///   (`AbortIncompleteMultipartUpload`) does the same without a restart.
///
/// Compaction falls back to copy-then-delete (`replaceAtomically` is unavailable), so a
/// plain lister of a partition (DuckDB, Spark) can see inputs and output together for the
/// moments between the copies and the deletes; Logpipe's own readers (`LakeScan`,
/// `LakeListing`) honour the compaction record and never do (`CompactionView`).
public struct S3FileStore: FileStore {
    /// The configuration.
    public let configuration: S3Configuration
    private let signer: SigV4Signer
    private let host: String
    private let baseURL: String
    private let bucketPath: String

    /// A store on `configuration`'s bucket and prefix.
    public init(configuration: S3Configuration) throws {
        self.configuration = configuration
        signer = SigV4Signer(credentials: configuration.credentials, region: configuration.region)
        if let endpoint = configuration.endpoint {
            // Path-style addressing: what MinIO, Ceph and test servers expect by default.
            guard let url = URLComponents(string: endpoint), let scheme = url.scheme, let h = url.host else {
                throw FileStoreError.invalidPath("bad S3 endpoint \(endpoint)")
            }
            host = url.port.map { "\(h):\($0)" } ?? h
            baseURL = "\(scheme)://\(host)"
            bucketPath = "/" + SigV4Signer.uriEncode(configuration.bucket, keepSlash: false)
        } else {
            host = "\(configuration.bucket).s3.\(configuration.region).amazonaws.com"
            baseURL = "https://\(host)"
            bucketPath = ""
        }
    }

    public var location: String {
        "s3://\(configuration.bucket)/\(configuration.prefix)"
    }

    /// The object key of a store path.
    func key(_ path: String) throws -> String {
        if path.hasPrefix("/") || path.split(separator: "/", omittingEmptySubsequences: false)
            .contains(where: { $0 == ".." || $0 == "." }) {
            throw FileStoreError.invalidPath(path)
        }
        if configuration.prefix.isEmpty { return path }
        return path.isEmpty ? configuration.prefix : configuration.prefix + "/" + path
    }

    private func objectPath(_ key: String) -> String {
        bucketPath + "/" + SigV4Signer.uriEncode(key, keepSlash: true)
    }

    /// Signs and sends one request. `retry` is for requests whose repetition is harmless.
    func request(_ method: HTTPMethod, path: String, query: [(String, String)] = [], headers extra: [(String, String)] = [],
                 body: [UInt8]? = nil, retry: Bool = true) async throws -> HTTPAnswer {
        let payloadHash = body.map { SigV4Signer.sha256Hex($0) } ?? SigV4Signer.emptyPayloadHash
        let canonicalQuery = SigV4Signer.canonicalQuery(query)
        let url = baseURL + path + (canonicalQuery.isEmpty ? "" : "?" + canonicalQuery)
        let prepare: () -> [(String, String)] = { [signer, host] in
            let date = SigV4Signer.amzDate(Date())
            var headers = extra + [("host", host), ("x-amz-date", date), ("x-amz-content-sha256", payloadHash)]
            if let token = signer.credentials.sessionToken { headers.append(("x-amz-security-token", token)) }
            let authorization = signer.authorization(
                method: method.rawValue, encodedPath: path.isEmpty ? "/" : path, canonicalQuery: canonicalQuery,
                headers: headers, payloadHash: payloadHash, amzDate: date)
            return headers + [("authorization", authorization)]
        }
        if retry {
            return try await HTTPTransport.sendRetrying(method: method, url: url, body: body, prepare: prepare)
        }
        return try await HTTPTransport.send(method: method, url: url, headers: prepare(), body: body)
    }

    func failure(_ operation: String, _ path: String, _ answer: HTTPAnswer) -> FileStoreError {
        let code = MiniXML.value("Code", in: answer.text[...]) ?? ""
        let message = MiniXML.value("Message", in: answer.text[...]) ?? ""
        return .io("S3 \(operation) \(location)/\(path): HTTP \(answer.status) \(code) \(message)")
    }

    public func write(_ path: String, contents: [UInt8]) async throws {
        let answer = try await request(.PUT, path: objectPath(try key(path)), body: contents)
        guard answer.isSuccess else { throw failure("PUT", path, answer) }
    }

    public func createExclusive(_ path: String, contents: [UInt8]) async throws -> Bool {
        let objectPath = objectPath(try key(path))
        var delay: UInt64 = 50_000_000
        var sentBefore = false
        for attempt in 1...6 {
            let answer: HTTPAnswer
            do {
                answer = try await request(.PUT, path: objectPath, headers: [("if-none-match", "*")], body: contents, retry: false)
            } catch let error as FileStoreError {
                // The request may have reached the bucket and created the key: a later 412
                // is then our own write, recognised by its bytes.
                sentBefore = true
                if attempt == 6 { throw error }
                try await Task.sleep(nanoseconds: delay)
                delay *= 2
                continue
            }
            switch answer.status {
            case 200..<300:
                return true
            case 412:
                if sentBefore, (try? await read(path)) == contents { return true }
                return false
            case 409, 500, 502, 503, 504:
                // 409 ConditionalRequestConflict: a concurrent conditional write to the key is
                // in flight; asking again gets the settled answer.
                sentBefore = sentBefore || answer.status != 409
                try await Task.sleep(nanoseconds: delay)
                delay *= 2
            case 501:
                throw FileStoreError.io("S3 \(location): the server does not implement conditional PUT (If-None-Match), which the lake's commit protocol needs")
            default:
                throw failure("PUT (If-None-Match)", path, answer)
            }
        }
        throw FileStoreError.io("S3 PUT (If-None-Match) \(location)/\(path): no settled answer")
    }

    public func openWriter(_ path: String) async throws -> any FileWriter {
        S3ObjectWriter(store: self, path: path, key: try key(path), partSize: configuration.partSize)
    }

    public func rename(_ source: String, to destination: String) async throws {
        let sourceKey = try key(source)
        let copySource = "/" + configuration.bucket + "/" + SigV4Signer.uriEncode(sourceKey, keepSlash: true)
        let answer = try await request(.PUT, path: objectPath(try key(destination)), headers: [("x-amz-copy-source", copySource)])
        if answer.status == 404 { throw FileStoreError.notFound(source) }
        // A copy can fail after its 200 has been sent: the error is then in the body.
        guard answer.isSuccess, !answer.text.contains("<Error>") else {
            if answer.text.contains("<Code>NoSuchKey</Code>") { throw FileStoreError.notFound(source) }
            throw failure("COPY", "\(source) -> \(destination)", answer)
        }
        try await delete(source)
    }

    public func list(_ prefix: String, recursive: Bool) async throws -> [FileStatus] {
        var keyPrefix = try key(prefix)
        if !keyPrefix.isEmpty { keyPrefix += "/" }
        let strip = configuration.prefix.isEmpty ? 0 : configuration.prefix.utf8.count + 1
        var out: [FileStatus] = []
        var token: String?
        repeat {
            var query = [("list-type", "2"), ("prefix", keyPrefix)]
            if !recursive { query.append(("delimiter", "/")) }
            if let token { query.append(("continuation-token", token)) }
            let answer = try await request(.GET, path: bucketPath.isEmpty ? "/" : bucketPath, query: query)
            guard answer.isSuccess else { throw failure("LIST", prefix, answer) }
            let xml = answer.text[...]
            for entry in MiniXML.elements("Contents", in: xml) {
                guard let key = MiniXML.value("Key", in: entry), !key.hasSuffix("/") else { continue }
                out.append(FileStatus(
                    path: String(key.utf8.dropFirst(strip))!,
                    size: Int64(MiniXML.value("Size", in: entry) ?? "") ?? 0,
                    modified: MiniXML.value("LastModified", in: entry).flatMap(HTTPDates.iso8601) ?? 0))
            }
            token = MiniXML.value("IsTruncated", in: xml) == "true" ? MiniXML.value("NextContinuationToken", in: xml) : nil
        } while token != nil
        out.sort { $0.path < $1.path }
        return out
    }

    public func read(_ path: String) async throws -> [UInt8] {
        let answer = try await request(.GET, path: objectPath(try key(path)))
        if answer.status == 404 { throw FileStoreError.notFound(path) }
        guard answer.isSuccess else { throw failure("GET", path, answer) }
        return answer.body
    }

    public func read(_ path: String, offset: Int64, length: Int) async throws -> [UInt8] {
        guard length > 0 else { return [] }
        let answer = try await request(.GET, path: objectPath(try key(path)),
                                       headers: [("range", "bytes=\(offset)-\(offset + Int64(length) - 1)")])
        if answer.status == 404 { throw FileStoreError.notFound(path) }
        if answer.status == 416 { return [] }
        guard answer.isSuccess else { throw failure("GET (range)", path, answer) }
        if answer.status == 200 {
            // A server that ignores Range sends the whole object.
            let start = Int(min(offset, Int64(answer.body.count)))
            return Array(answer.body[start..<min(answer.body.count, start + length)])
        }
        return answer.body
    }

    public func delete(_ path: String) async throws {
        let answer = try await request(.DELETE, path: objectPath(try key(path)))
        guard answer.isSuccess || answer.status == 404 else { throw failure("DELETE", path, answer) }
    }

    public func stat(_ path: String) async throws -> FileStatus? {
        let answer = try await request(.HEAD, path: objectPath(try key(path)))
        if answer.status == 404 { return nil }
        guard answer.isSuccess else { throw failure("HEAD", path, answer) }
        return FileStatus(
            path: path,
            size: Int64(answer.headers.first(name: "content-length") ?? "") ?? 0,
            modified: answer.headers.first(name: "last-modified").flatMap(HTTPDates.rfc1123) ?? 0)
    }

    /// Creates the bucket when it does not exist (first-time setups and tests).
    public func createBucket() async throws {
        let answer = try await request(.PUT, path: bucketPath.isEmpty ? "/" : bucketPath)
        guard answer.isSuccess || answer.text.contains("BucketAlreadyOwnedByYou") else {
            throw failure("CreateBucket", "", answer)
        }
    }

    // MARK: multipart upload

    func startMultipart(key: String) async throws -> String {
        let answer = try await request(.POST, path: objectPath(key), query: [("uploads", "")])
        guard answer.isSuccess, let id = MiniXML.value("UploadId", in: answer.text[...]) else {
            throw failure("CreateMultipartUpload", key, answer)
        }
        return id
    }

    func uploadPart(key: String, uploadId: String, number: Int, bytes: [UInt8]) async throws -> String {
        let answer = try await request(.PUT, path: objectPath(key),
                                       query: [("partNumber", String(number)), ("uploadId", uploadId)], body: bytes)
        guard answer.isSuccess, let etag = answer.headers.first(name: "etag") else { throw failure("UploadPart", key, answer) }
        return etag
    }

    func completeMultipart(key: String, uploadId: String, etags: [String]) async throws {
        var xml = "<CompleteMultipartUpload>"
        for (i, etag) in etags.enumerated() {
            let escaped = etag.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "\"", with: "&quot;")
            xml += "<Part><PartNumber>\(i + 1)</PartNumber><ETag>\(escaped)</ETag></Part>"
        }
        xml += "</CompleteMultipartUpload>"
        let answer = try await request(.POST, path: objectPath(key), query: [("uploadId", uploadId)], body: Array(xml.utf8))
        guard answer.isSuccess, !answer.text.contains("<Error>") else { throw failure("CompleteMultipartUpload", key, answer) }
    }

    /// Aborts the multipart uploads under the store path `prefix` that started more than
    /// `olderThan` seconds ago and returns how many: what workers killed mid-upload leave
    /// behind (invisible to listings, but holding space). The age keeps live uploads of
    /// other workers safe (files roll in seconds to minutes).
    public func abortIncompleteUploads(under prefix: String, olderThan seconds: Double, now: Date = Date()) async throws -> Int {
        var keyPrefix = try key(prefix)
        if !keyPrefix.isEmpty { keyPrefix += "/" }
        var aborted = 0
        var markers: (key: String, upload: String)?
        repeat {
            var query = [("uploads", ""), ("prefix", keyPrefix)]
            if let markers { query += [("key-marker", markers.key), ("upload-id-marker", markers.upload)] }
            let answer = try await request(.GET, path: bucketPath.isEmpty ? "/" : bucketPath, query: query)
            guard answer.isSuccess else { throw failure("ListMultipartUploads", prefix, answer) }
            let xml = answer.text[...]
            for upload in MiniXML.elements("Upload", in: xml) {
                guard let key = MiniXML.value("Key", in: upload), let id = MiniXML.value("UploadId", in: upload),
                      let initiated = MiniXML.value("Initiated", in: upload).flatMap(HTTPDates.iso8601),
                      now.timeIntervalSince1970 - initiated > seconds else { continue }
                await abortMultipart(key: key, uploadId: id)
                aborted += 1
            }
            if MiniXML.value("IsTruncated", in: xml) == "true",
               let nextKey = MiniXML.value("NextKeyMarker", in: xml), let nextId = MiniXML.value("NextUploadIdMarker", in: xml) {
                markers = (nextKey, nextId)
            } else {
                markers = nil
            }
        } while markers != nil
        return aborted
    }

    func abortMultipart(key: String, uploadId: String) async {
        _ = try? await request(.DELETE, path: objectPath(key), query: [("uploadId", uploadId)])
    }
}

/// A streamed upload: one `PUT` when the file stays under a part, a multipart upload
/// otherwise. Nothing is visible at the key until `finish`.
final class S3ObjectWriter: FileWriter, @unchecked Sendable {
    // @unchecked: driven by one task at a time (the FileWriter contract).
    let path: String
    private let store: S3FileStore
    private let key: String
    private let partSize: Int
    private var buffer: [UInt8] = []
    private var uploadId: String?
    private var etags: [String] = []

    init(store: S3FileStore, path: String, key: String, partSize: Int) {
        self.store = store
        self.path = path
        self.key = key
        self.partSize = partSize
    }

    func write(_ bytes: [UInt8]) async throws {
        buffer.append(contentsOf: bytes)
        while buffer.count >= partSize {
            let part = Array(buffer[..<partSize])
            buffer.removeFirst(partSize)
            try await upload(part)
        }
    }

    private func upload(_ part: [UInt8]) async throws {
        if uploadId == nil { uploadId = try await store.startMultipart(key: key) }
        etags.append(try await store.uploadPart(key: key, uploadId: uploadId!, number: etags.count + 1, bytes: part))
    }

    func finish() async throws {
        if uploadId == nil {
            try await store.write(path, contents: buffer)
        } else {
            if !buffer.isEmpty { try await upload(buffer) }
            try await store.completeMultipart(key: key, uploadId: uploadId!, etags: etags)
        }
        buffer = []
    }

    func abort() async {
        if let uploadId { await store.abortMultipart(key: key, uploadId: uploadId) }
        buffer = []
        try? await store.delete(path)
    }
}
