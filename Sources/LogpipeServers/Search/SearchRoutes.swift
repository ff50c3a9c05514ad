import Foundation
import Hummingbird
import LogpipeBatch

/// `GET /api/search?since=1h&service=…&level=…&status=5xx&endpoint=…&request_id=…&client_ip=…&user=…&text=…&limit=…`
/// (or `from`/`to` as RFC 3339 or epoch seconds): log records from the lake, newest first,
/// as a JSON array (the `logpipe search --format json` objects), at most `maxRows` of them.
public struct SearchRoutes: Sendable {
    let search: LogSearch
    let maxRows: Int

    /// Routes over a lake search, capping every answer at `maxRows` records.
    public init(search: LogSearch, maxRows: Int = 1000) {
        self.search = search
        self.maxRows = maxRows
    }

    /// Adds `GET /api/search` to `router`.
    public func add<Context: RequestContext>(to router: Router<Context>) {
        router.get("api/search") { request, _ -> Response in
            var parameters: [String: String] = [:]
            for (k, v) in request.uri.queryParameters { parameters[String(k)] = String(v) }
            let query: SearchQuery
            do {
                query = try SearchParameters.query(parameters, maxLimit: self.maxRows)
            } catch {
                return errorResponse(.badRequest, "\(error)")
            }
            var statistics = ScanStatistics()
            let hits = try await self.search.run(query, statistics: &statistics)
            let lines = try SearchOutput.jsonLines(hits).split(separator: "\n")
            return jsonResponse(.ok, "[" + lines.joined(separator: ",") + "]")
        }
    }
}
