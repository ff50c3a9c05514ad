import Foundation
import Hummingbird
import LogpipeAnalytics
import NIOCore

/// The live analytics API over an `AnalyticsStore`, served by `logpipe run` and
/// `logpipe stream`:
/// - `GET /api/metrics/services?from=&to=&service=&final=`
/// - `GET /api/metrics/clients?from=&to=&client_ip=&final=`
/// - `GET /api/metrics/system?from=&to=&final=`
/// - `GET /api/metrics/activities?from=&to=&event_type=&final=`
/// - `GET /api/metrics/late?from=&to=&reason=late|future`: rows in no window, per window and key
/// - `GET /api/alerts?from=&to=&type=`
///
/// `from` and `to` are epoch seconds of event time (decimals allowed) and select the
/// windows that start in `[from, to)`; both are optional. Windows still open are served
/// with `"is_final": false`, updated each micro-batch; `final=true` leaves them out. Bodies are JSON arrays with
/// snake_case keys, windows as `{"start_micros": …, "end_micros": …}`.
public struct AnalyticsRoutes: Sendable {
    let store: AnalyticsStore

    /// Routes over a store.
    public init(store: AnalyticsStore) {
        self.store = store
    }

    /// Adds the routes to `router`.
    public func add<Context: RequestContext>(to router: Router<Context>) {
        windowRoute("api/metrics/services", router) { query, from, to, finalOnly in
            self.store.services(from: from, to: to, service: query["service"].map { String($0) }, finalOnly: finalOnly)
        }
        windowRoute("api/metrics/clients", router) { query, from, to, finalOnly in
            self.store.clients(from: from, to: to, clientIp: query["client_ip"].map { String($0) }, finalOnly: finalOnly)
        }
        windowRoute("api/metrics/system", router) { _, from, to, finalOnly in
            self.store.system(from: from, to: to, finalOnly: finalOnly)
        }
        windowRoute("api/metrics/activities", router) { query, from, to, finalOnly in
            self.store.activities(from: from, to: to, eventType: query["event_type"].map { String($0) }, finalOnly: finalOnly)
        }
        router.get("api/metrics/late") { request, _ -> Response in
            let query = request.uri.queryParameters
            guard let range = Self.timeRange(query) else { return Self.badRange }
            var reason: LateReason?
            if let name = query["reason"] {
                guard let r = LateReason(rawValue: String(name)) else {
                    return errorResponse(.badRequest, "unknown reason '\(name)'; use late or future")
                }
                reason = r
            }
            return Self.json(self.store.lateCounts(from: range.from, to: range.to, reason: reason))
        }
        router.get("api/alerts") { request, _ -> Response in
            let query = request.uri.queryParameters
            guard let range = Self.timeRange(query) else { return Self.badRange }
            var type: AlertType?
            if let name = query["type"] {
                guard let t = AlertType(rawValue: String(name)) else {
                    let known = AlertType.allCases.map(\.rawValue).joined(separator: ", ")
                    return errorResponse(.badRequest, "unknown alert type '\(name)'; use one of \(known)")
                }
                type = t
            }
            return Self.json(self.store.alerts(from: range.from, to: range.to, type: type))
        }
    }

    /// A route over windows: `from`/`to` and `final` are checked the same way for each family,
    /// then `rows` answers with the query, the range in microseconds and whether only closed
    /// windows are wanted.
    private func windowRoute<Context: RequestContext, Rows: Encodable & SendableMetatype>(
        _ path: RouterPath, _ router: Router<Context>,
        rows: @escaping @Sendable (Parameters, Int64?, Int64?, Bool) -> Rows
    ) {
        router.get(path) { request, _ -> Response in
            let query = request.uri.queryParameters
            guard let range = Self.timeRange(query) else { return Self.badRange }
            guard let finalOnly = Self.finalOnly(query) else { return Self.badFinal }
            return Self.json(rows(query, range.from, range.to, finalOnly))
        }
    }

    private static var badFinal: Response { errorResponse(.badRequest, "final must be true or false") }

    /// `final=true` asks for closed windows only; absent or `false`: open ones too.
    static func finalOnly(_ query: Parameters) -> Bool? {
        guard let text = query["final"] else { return false }
        switch text {
        case "true", "1": return true
        case "false", "0": return false
        default: return nil
        }
    }

    private static var badRange: Response { errorResponse(.badRequest, "from and to must be epoch seconds, from before to") }

    /// `from`/`to` in microseconds, or `nil` when either is not a number or they are out of order.
    static func timeRange(_ query: Parameters) -> (from: Int64?, to: Int64?)? {
        func micros(_ key: String) -> Int64?? {
            guard let text = query[Substring(key)] else { return .some(nil) }
            guard let seconds = Double(String(text)), seconds.isFinite, abs(seconds) < 9e12 else { return nil }
            return .some(Int64((seconds * 1_000_000).rounded()))
        }
        guard let from = micros("from"), let to = micros("to") else { return nil }
        if let f = from, let t = to, f > t { return nil }
        return (from, to)
    }

    static func json<T: Encodable>(_ value: T) -> Response {
        let encoder = AnalyticsJSON.encoder()
        do {
            let body = try encoder.encode(value)
            return Response(status: .ok, headers: [.contentType: "application/json"],
                            body: ResponseBody(byteBuffer: ByteBuffer(bytes: body)))
        } catch {
            return errorResponse(.internalServerError, "could not encode the response: \(error)")
        }
    }
}
