import Foundation
import LogpipeLake
import LogpipeParquet

/// What `logpipe search` and `GET /api/search` look for. Every filter is optional; they combine with AND.
public struct SearchQuery: Sendable, Equatable {
    /// The first microsecond of event time searched.
    public var fromMicros: Int64
    /// The first microsecond after the range.
    public var toMicros: Int64
    /// Exact service name.
    public var service: String?
    /// Exact level name (`ERROR`, …).
    public var level: String?
    /// Status codes from `statusMin` through `statusMax`.
    public var statusMin: Int32?
    /// See `statusMin`.
    public var statusMax: Int32?
    /// Exact endpoint.
    public var endpoint: String?
    /// Exact request id.
    public var requestId: String?
    /// Exact client IP.
    public var clientIp: String?
    /// Exact user id.
    public var userId: String?
    /// A substring the message must contain (case-sensitive).
    public var text: String?
    /// The most records returned.
    public var limit: Int

    /// A query over `[fromMicros, toMicros)` with no other filter.
    public init(fromMicros: Int64, toMicros: Int64, limit: Int = 100) {
        self.fromMicros = fromMicros
        self.toMicros = toMicros
        self.limit = limit
    }

    /// The row-group predicate: everything that statistics can rule out.
    var predicate: ParquetPredicate {
        var parts: [ParquetPredicate] = [.integerRange(column: "timestamp", min: fromMicros, max: toMicros - 1)]
        let strings: [(String, String?)] = [
            ("service", service), ("level", level), ("metadata.endpoint", endpoint), ("metadata.request_id", requestId),
            ("metadata.client_ip", clientIp), ("metadata.user_id", userId),
        ]
        for (column, value) in strings { if let value { parts.append(.stringEquals(column: column, value: value)) } }
        if statusMin != nil || statusMax != nil {
            parts.append(.integerRange(column: "metadata.status_code", min: statusMin.map(Int64.init), max: statusMax.map(Int64.init)))
        }
        return .and(parts)
    }

    /// The hour partitions the range touches, newest first.
    var hours: [HourPartition] {
        guard toMicros > fromMicros else { return [] }
        let first = HourPartition(timestampMicros: fromMicros).hoursSinceEpoch
        let last = HourPartition(timestampMicros: toMicros - 1).hoursSinceEpoch
        return (first...last).reversed().map(HourPartition.init(hoursSinceEpoch:))
    }
}

/// One log record found.
public struct SearchHit: Sendable, Equatable, Codable {
    /// Event time, microseconds since the epoch.
    public var timestampMicros: Int64
    /// The level.
    public var level: String?
    /// The service.
    public var service: String?
    /// The host.
    public var host: String?
    /// The message.
    public var message: String?
    /// `metadata.request_id`.
    public var requestId: String?
    /// `metadata.response_time_ms`.
    public var responseTimeMs: Double?
    /// `metadata.status_code`.
    public var statusCode: Int32?
    /// `metadata.endpoint`.
    public var endpoint: String?
    /// `metadata.method`.
    public var method: String?
    /// `metadata.client_ip`.
    public var clientIp: String?
    /// `metadata.user_id`.
    public var userId: String?

    enum CodingKeys: String, CodingKey {
        case timestampMicros = "timestamp_us", level, service, host, message, requestId = "request_id"
        case responseTimeMs = "response_time_ms", statusCode = "status_code", endpoint, method
        case clientIp = "client_ip", userId = "user_id"
    }

    /// The event time as RFC 3339 with microseconds, UTC.
    public var time: String {
        let seconds = timestampMicros >= 0 ? timestampMicros / 1_000_000 : (timestampMicros - 999_999) / 1_000_000
        let micros = timestampMicros - seconds * 1_000_000
        let hour = HourPartition(timestampMicros: timestampMicros).components
        let inHour = seconds - HourPartition(timestampMicros: timestampMicros).hoursSinceEpoch * 3600
        return String(format: "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ", hour.year, hour.month, hour.day, hour.hour,
                      Int(inHour / 60), Int(inHour % 60), Int(micros))
    }
}

/// Finds log records in the lake, newest first. Only the hours in range are listed, row
/// groups whose statistics rule the query out are never decoded, and hours are read newest
/// first until `limit` records are found (hours hold disjoint event times, so an hour's
/// records are all newer than the next hour's).
public struct LogSearch: Sendable {
    /// The lake.
    public let store: any FileStore

    /// A search over the lake in `store`.
    public init(store: any FileStore) { self.store = store }

    static let columns = ["timestamp", "level", "service", "host", "message", "metadata"]

    /// The records matching `query`, newest first (ties by request id), at most `query.limit`.
    public func run(_ query: SearchQuery, statistics: inout ScanStatistics) async throws -> [SearchHit] {
        var hits: [SearchHit] = []
        let scan = LakeScan(store: store, dataset: .logs)
        let text = query.text.map { Array($0.utf8) }
        for hour in query.hours {
            var found: [SearchHit] = []
            try await scan.forEachRowGroup(hours: [hour], columns: Self.columns, where: query.predicate, statistics: &statistics) { table in
                Self.match(table, query, text: text, into: &found)
                return true
            }
            found.sort { $0.timestampMicros != $1.timestampMicros ? $0.timestampMicros > $1.timestampMicros : ($0.requestId ?? "") < ($1.requestId ?? "") }
            hits += found.prefix(query.limit - hits.count)
            if hits.count >= query.limit { break }
        }
        return hits
    }

    private static func match(_ table: ParquetTable, _ q: SearchQuery, text: [UInt8]?, into out: inout [SearchHit]) {
        let n = table.rowCount
        guard let (ts, tsValid) = ColumnView.int64s(table, "timestamp") else { return }
        let strings = ["level", "service", "host", "message", "metadata.request_id", "metadata.endpoint", "metadata.method",
                       "metadata.client_ip", "metadata.user_id"].map { ColumnView.strings(table, $0) }
        let (rt, rtValid) = ColumnView.doubles(table, "metadata.response_time_ms") ?? (Array(repeating: 0, count: n), Array(repeating: false, count: n))
        let (st, stValid) = ColumnView.int32s(table, "metadata.status_code") ?? (Array(repeating: 0, count: n), Array(repeating: false, count: n))
        func bytes(_ k: Int, _ i: Int) -> ArraySlice<UInt8>? {
            guard let c = strings[k], c.valid?[i] ?? true else { return nil }
            return c.bytes[Int(c.offsets[i])..<Int(c.offsets[i + 1])]
        }
        func equals(_ k: Int, _ i: Int, _ value: String?) -> Bool {
            guard let value else { return true }
            guard let b = bytes(k, i) else { return false }
            return b.elementsEqual(value.utf8)
        }
        for i in 0..<n {
            guard tsValid?[i] ?? true, ts[i] >= q.fromMicros, ts[i] < q.toMicros else { continue }
            guard equals(0, i, q.level), equals(1, i, q.service), equals(4, i, q.requestId), equals(5, i, q.endpoint),
                  equals(7, i, q.clientIp), equals(8, i, q.userId) else { continue }
            let status: Int32? = (stValid?[i] ?? true) ? st[i] : nil
            if q.statusMin != nil || q.statusMax != nil {
                guard let status, status >= q.statusMin ?? .min, status <= q.statusMax ?? .max else { continue }
            }
            if let text {
                guard let m = bytes(3, i), contains(m, text) else { continue }
            }
            func string(_ k: Int) -> String? { bytes(k, i).map { String(decoding: $0, as: UTF8.self) } }
            out.append(SearchHit(
                timestampMicros: ts[i], level: string(0), service: string(1), host: string(2), message: string(3),
                requestId: string(4), responseTimeMs: (rtValid?[i] ?? true) ? rt[i] : nil, statusCode: status,
                endpoint: string(5), method: string(6), clientIp: string(7), userId: string(8)))
        }
    }

    private static func contains(_ haystack: ArraySlice<UInt8>, _ needle: [UInt8]) -> Bool {
        if needle.isEmpty { return true }
        guard haystack.count >= needle.count else { return false }
        var i = haystack.startIndex
        while i <= haystack.endIndex - needle.count {
            if haystack[i] == needle[0] && haystack[i..<(i + needle.count)].elementsEqual(needle) { return true }
            i += 1
        }
        return false
    }
}

/// Renderings of search results.
public enum SearchOutput {
    /// One JSON object per line.
    public static func jsonLines(_ hits: [SearchHit]) throws -> String {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
        return try hits.map { String(decoding: try encoder.encode($0), as: UTF8.self) + "\n" }.joined()
    }

    static let header = ["time", "level", "service", "host", "status_code", "response_time_ms", "method", "endpoint",
                         "client_ip", "user_id", "request_id", "message"]

    static func cells(_ h: SearchHit) -> [String] {
        [h.time, h.level ?? "", h.service ?? "", h.host ?? "", h.statusCode.map(String.init) ?? "",
         h.responseTimeMs.map { String($0) } ?? "", h.method ?? "", h.endpoint ?? "", h.clientIp ?? "", h.userId ?? "",
         h.requestId ?? "", h.message ?? ""]
    }

    /// RFC 4180 CSV with a header line.
    public static func csv(_ hits: [SearchHit]) -> String {
        func quote(_ s: String) -> String {
            s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) ? "\"" + s.replacingOccurrences(of: "\"", with: "\"\"") + "\"" : s
        }
        return ([header] + hits.map(cells)).map { $0.map(quote).joined(separator: ",") + "\r\n" }.joined()
    }

    /// An aligned text table.
    public static func table(_ hits: [SearchHit]) -> String {
        let rows = [header] + hits.map(cells)
        var widths = [Int](repeating: 0, count: header.count)
        for row in rows { for (k, c) in row.enumerated() { widths[k] = max(widths[k], c.count) } }
        return rows.map { row in
            row.enumerated().map { k, c in k == row.count - 1 ? c : c.padding(toLength: widths[k], withPad: " ", startingAt: 0) }
                .joined(separator: "  ")
        }.joined(separator: "\n") + "\n"
    }
}
