import Foundation
import LogpipeRecords

/// Parses search parameters as the CLI flags and the HTTP API's query string give them, so
/// both mean the same thing by `since=1h` or `status=5xx`.
public enum SearchParameters {
    /// Why a parameter was refused.
    public struct Invalid: Error, CustomStringConvertible {
        /// What was wrong, naming the parameter.
        public var description: String
    }

    /// A query from named string parameters: `since` (`90s`, `15m`, `1h`, `2d`), `from`/`to`
    /// (RFC 3339 or epoch seconds), `service`, `level`, `status` (`500`, `500-599`, `5xx`),
    /// `endpoint`, `request_id`, `client_ip`, `user` (or `user_id`), `text`, `limit` (capped
    /// at `maxLimit`). Without a range the last hour is searched.
    public static func query(_ p: [String: String], now: Date = Date(), defaultLimit: Int = 100, maxLimit: Int = 10_000) throws -> SearchQuery {
        let nowMicros = Int64(now.timeIntervalSince1970 * 1e6)
        var from = nowMicros - 3_600_000_000
        var to = nowMicros + 1
        if let since = p["since"] {
            guard p["from"] == nil else { throw Invalid(description: "give since or from/to, not both") }
            from = nowMicros - (try duration(since, "since"))
        }
        if let f = p["from"] { from = try time(f, "from") }
        if let t = p["to"] { to = try time(t, "to") }
        guard to > from else { throw Invalid(description: "to must be after from") }
        var limit = defaultLimit
        if let l = p["limit"] {
            guard let v = Int(l), v > 0 else { throw Invalid(description: "limit \(l): expected a positive integer") }
            limit = v
        }
        var q = SearchQuery(fromMicros: from, toMicros: to, limit: min(limit, maxLimit))
        q.service = p["service"]
        if let level = p["level"] {
            // A misspelt level matches nothing: say so rather than answer with no records.
            guard LogLevel(name: level.uppercased()) != nil else {
                throw Invalid(description: "level \(level): expected one of \(LogLevel.allCases.map { "\($0.name)" }.joined(separator: ", "))")
            }
            q.level = level.uppercased()
        }
        q.endpoint = p["endpoint"]
        q.requestId = p["request_id"]
        q.clientIp = p["client_ip"]
        q.userId = p["user"] ?? p["user_id"]
        q.text = p["text"]
        if let s = p["status"] { (q.statusMin, q.statusMax) = try status(s) }
        return q
    }

    static func duration(_ s: String, _ name: String) throws -> Int64 {
        let units: [Character: Int64] = ["s": 1, "m": 60, "h": 3600, "d": 86_400]
        guard let unit = s.last.flatMap({ units[$0] }), let n = Int64(s.dropLast()), n > 0 else {
            throw Invalid(description: "\(name) \(s): expected a duration like 90s, 15m, 1h, 2d")
        }
        return n * unit * 1_000_000
    }

    static func time(_ s: String, _ name: String) throws -> Int64 {
        if let seconds = Double(s) { return Int64((seconds * 1e6).rounded()) }
        let f = ISO8601DateFormatter()
        f.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = f.date(from: s) { return Int64((d.timeIntervalSince1970 * 1e6).rounded()) }
        f.formatOptions = [.withInternetDateTime]
        if let d = f.date(from: s) { return Int64((d.timeIntervalSince1970 * 1e6).rounded()) }
        throw Invalid(description: "\(name) \(s): expected RFC 3339 (2026-11-22T05:00:00Z) or epoch seconds")
    }

    static func status(_ s: String) throws -> (Int32, Int32) {
        if s.count == 3, s.hasSuffix("xx"), let c = Int32(s.prefix(1)) { return (c * 100, c * 100 + 99) }
        let parts = s.split(separator: "-")
        if parts.count == 1, let v = Int32(parts[0]) { return (v, v) }
        if parts.count == 2, let lo = Int32(parts[0]), let hi = Int32(parts[1]), lo <= hi { return (lo, hi) }
        throw Invalid(description: "status \(s): expected 500, 500-599 or 5xx")
    }
}
