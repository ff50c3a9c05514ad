import Hummingbird
import LogpipeBus
import LogpipeRecords
import NIOCore

/// How the collector is reached and who may write to it.
public struct CollectorConfiguration: Sendable {
    /// The address to bind; loopback unless the operator says otherwise.
    public var host: String
    /// The port; 8081 as in the seed.
    public var port: Int
    /// Bearer token required on every path but the probes and the dashboard page; mandatory when `host` is not loopback.
    public var apiKey: String?
    /// Size and load limits.
    public var limits: IngestLimits

    /// A collector configuration.
    public init(host: String = "127.0.0.1", port: Int = 8081, apiKey: String? = nil, limits: IngestLimits = IngestLimits()) {
        self.host = host
        self.port = port
        self.apiKey = apiKey
        self.limits = limits
    }

    /// Refuses to listen beyond loopback without an API key (DESIGN.md guarantee 5).
    public func validate() throws(ConfigurationError) {
        try validateAPIKey(apiKey, host: host, role: "the collector", flag: "--api-key or LOGPIPE_COLLECTOR_API_KEY")
    }
}

/// Refuses a server bound beyond loopback without an API key, and a key too short to be
/// one; `role` and `flag` name what to fix in the one-line refusal.
public func validateAPIKey(_ key: String?, host: String, role: String, flag: String) throws(ConfigurationError) {
    if !isLoopback(host), (key ?? "").isEmpty {
        throw ConfigurationError("\(role) binds to \(host), which is not loopback: set an API key (\(flag))")
    }
    if let key, !key.isEmpty, key.utf8.count < 16 {
        throw ConfigurationError("the API key must be at least 16 characters (\(flag))")
    }
}

/// A configuration the operator must fix before a server starts.
public struct ConfigurationError: Error, CustomStringConvertible, Sendable {
    /// What is wrong and how to fix it.
    public var description: String

    /// A configuration error.
    public init(_ description: String) { self.description = description }
}

/// Whether `host` names a loopback address.
public func isLoopback(_ host: String) -> Bool {
    host == "localhost" || host == "::1" || host == "[::1]" || host.hasPrefix("127.")
}

/// The collector's HTTP routes: ingest, health and readiness.
public struct CollectorRoutes: Sendable {
    let ingestor: Ingestor
    let bus: any Bus
    let configuration: CollectorConfiguration

    /// Routes over an ingestor and the bus it writes to.
    public init(ingestor: Ingestor, bus: any Bus, configuration: CollectorConfiguration) {
        self.ingestor = ingestor
        self.bus = bus
        self.configuration = configuration
    }

    /// Adds `POST /api/collect/logs`, `POST /api/collect/activities`, `GET /health` and `GET /ready`.
    public func add<Context: RequestContext>(to router: Router<Context>) {
        // The API key, when set, guards these with everything else on the port (`APIKeyMiddleware`).
        let ingest = router.group("api/collect")
        for kind in RecordKind.allCases {
            ingest.post(RouterPath(stringLiteral: kind.rawValue)) { request, _ in
                try await self.handle(kind: kind, request: request)
            }
        }
        router.get("health") { _, _ in
            jsonResponse(.ok, #"{"status":"ok"}"#)
        }
        router.get("ready") { _, _ in
            do {
                let topics = try await bus.topics()
                let needed = Set(RecordKind.allCases.map(\.topic))
                guard needed.isSubset(of: Set(topics.map(\.name))) else {
                    return jsonResponse(.serviceUnavailable, #"{"status":"topics missing"}"#)
                }
                return jsonResponse(.ok, #"{"status":"ready"}"#)
            } catch {
                return jsonResponse(.serviceUnavailable, #"{"status":"bus unavailable"}"#)
            }
        }
    }

    private func handle(kind: RecordKind, request: Request) async throws -> Response {
        if let type = request.headers[.contentType], !Self.accepts(contentType: type) {
            return errorResponse(.unsupportedMediaType, "content type '\(type)' is not supported; send application/json or application/x-ndjson")
        }
        let body: ByteBuffer
        do {
            body = try await request.body.collect(upTo: configuration.limits.maxBodyBytes)
        } catch let error as HTTPError where error.status == .contentTooLarge {
            return errorResponse(.contentTooLarge, "the body is larger than \(configuration.limits.maxBodyBytes) bytes")
        }
        // Raw lines: asked for with ?format=, or sent as text/plain.
        var accessLog: AccessLogReader? = nil
        let query = request.uri.queryParameters
        let isText = request.headers[.contentType].map { $0.lowercased().hasPrefix("text/plain") } ?? false
        if kind == .logs, query["format"] != nil || isText {
            let name = query["format"].map(String.init) ?? "auto"
            guard let format = AccessLogFormat(rawValue: name) else {
                return errorResponse(.badRequest, "format '\(name)' is not one of apache, nginx, auto")
            }
            let service = query["service"].map(String.init) ?? Self.header(request, "x-logpipe-service")
            let host = query["host"].map(String.init) ?? Self.header(request, "x-logpipe-host")
            accessLog = AccessLogReader(format: format, service: service.flatMap { $0.isEmpty ? nil : $0 }, host: host)
        }
        do {
            let outcome = try await ingestor.ingest(kind: kind, body: body, contentEncoding: request.headers[.contentEncoding],
                                                    accessLog: accessLog)
            return outcomeResponse(outcome)
        } catch {
            switch error {
            case .badRequest(let why): return errorResponse(.badRequest, why)
            case .tooLarge(let why): return errorResponse(.contentTooLarge, why)
            case .unsupportedMediaType(let why): return errorResponse(.unsupportedMediaType, why)
            case .overloaded(let seconds):
                var response = errorResponse(.serviceUnavailable, "the pipeline is full; retry later")
                response.headers[.retryAfter] = String(seconds)
                return response
            case .busUnavailable(let why):
                var response = errorResponse(.serviceUnavailable, "the bus is unavailable: \(why)")
                response.headers[.retryAfter] = "5"
                return response
            case .insufficientStorage(let why):
                var response = errorResponse(.init(code: 507, reasonPhrase: "Insufficient Storage"), "the bus has no disk space; nothing was accepted, retry later: \(why)")
                response.headers[.retryAfter] = "5"
                return response
            }
        }
    }

    /// The value of header `name` (lower case).
    private static func header(_ request: Request, _ name: String) -> String? {
        request.headers.first { $0.name.canonicalName == name }?.value
    }

    private static func accepts(contentType: String) -> Bool {
        let mediaType = contentType.split(separator: ";", maxSplits: 1).first.map {
            String($0.filter { $0 != " " && $0 != "\t" }).lowercased()
        } ?? ""
        return ["application/json", "application/x-ndjson", "application/ndjson", "application/jsonl",
                "application/json-seq", "text/plain"].contains(mediaType)
    }

    /// `{"accepted": n, "rejected": [{"index", "field", "error"}]}`; 400 when nothing was valid.
    private func outcomeResponse(_ outcome: IngestOutcome) -> Response {
        var out: [UInt8] = []
        out.append(contentsOf: #"{"accepted":"#.utf8)
        out.append(contentsOf: String(outcome.accepted).utf8)
        out.append(contentsOf: #","rejected":["#.utf8)
        for (i, rejection) in outcome.rejected.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")) }
            out.append(contentsOf: #"{"index":"#.utf8)
            out.append(contentsOf: String(rejection.index).utf8)
            out.append(contentsOf: #","field":"#.utf8)
            appendJSONString(rejection.field, to: &out)
            out.append(contentsOf: #","error":"#.utf8)
            appendJSONString(rejection.message, to: &out)
            out.append(UInt8(ascii: "}"))
        }
        out.append(contentsOf: "]}".utf8)
        return Response(
            status: outcome.accepted == 0 ? .badRequest : .ok,
            headers: [.contentType: "application/json"],
            body: ResponseBody(byteBuffer: ByteBuffer(bytes: out))
        )
    }
}

/// Rejects requests without `Authorization: Bearer <key>`, except the probes an orchestrator
/// sends without credentials (`/health`, `/ready`) and the dashboard's page itself, which
/// holds no data and sends the key (from `/#key=…`) on every request it makes.
struct APIKeyMiddleware<Context: RequestContext>: RouterMiddleware {
    let key: String

    /// Paths served without the key.
    static var open: Set<String> { ["/health", "/ready", "/"] }

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        if Self.open.contains(request.uri.path) { return try await next(request, context) }
        guard let header = request.headers[.authorization], header.hasPrefix("Bearer "),
              constantTimeEquals(Array(header.utf8.dropFirst(7)), Array(key.utf8))
        else {
            var response = errorResponse(.unauthorized, "a valid API key is required (Authorization: Bearer <key>)")
            response.headers[.wwwAuthenticate] = "Bearer"
            return response
        }
        return try await next(request, context)
    }
}

/// Compares without an early exit, so timing does not reveal how much of a key matched.
func constantTimeEquals(_ a: [UInt8], _ b: [UInt8]) -> Bool {
    guard a.count == b.count else { return false }
    var difference: UInt8 = 0
    for i in 0..<a.count { difference |= a[i] ^ b[i] }
    return difference == 0
}

/// A JSON response with a fixed body.
func jsonResponse(_ status: HTTPResponse.Status, _ body: String) -> Response {
    Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(string: body)))
}

/// `{"error": "..."}` with the given status.
func errorResponse(_ status: HTTPResponse.Status, _ message: String) -> Response {
    var out: [UInt8] = Array(#"{"error":"#.utf8)
    appendJSONString(message, to: &out)
    out.append(UInt8(ascii: "}"))
    return Response(status: status, headers: [.contentType: "application/json"], body: ResponseBody(byteBuffer: ByteBuffer(bytes: out)))
}
