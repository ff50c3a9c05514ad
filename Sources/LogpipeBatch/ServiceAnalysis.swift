import Foundation
import LogpipeLake
import LogpipeParquet

/// The seed's `service_analysis.py`: for one UTC day, per service, the latency distribution,
/// what is behind its errors, its slowest endpoints, its peak minute and hour, and SLA figures
/// against targets with the change from the previous day's analysis.
///
/// Definitions: availability = share of requests with a 2xx status; performance = share of
/// requests with a response time, under `slowMillis`; errors as in the daily report; the
/// slowest endpoints are ranked by p95 (DuckDB's `quantile_cont`), then name.
public struct ServiceAnalysis: Sendable {
    /// SLA targets and cut-offs.
    public struct Options: Sendable {
        /// Availability target (share of 2xx).
        public var availabilityTarget = 0.99
        /// Performance target (share under `slowMillis`).
        public var performanceTarget = 0.95
        /// The response time that counts as slow.
        public var slowMillis = 1000.0
        /// Histogram bucket lower bounds in ms (the last bucket is open).
        public var buckets: [Double] = [0, 50, 100, 200, 500, 1000, 2000, 5000]
        /// Entries per top list.
        public var topN = 10

        /// The defaults: 99 % available, 95 % under 1000 ms.
        public init() {}
    }

    /// The day.
    public var date: ReportDate
    /// The tables, in the order they are written.
    public var tables: [ReportTable]

    /// The analysis' directory in the lake.
    public static func directory(_ date: ReportDate) -> String { "analysis/service/date=\(date)" }

    /// The table named `name`.
    public func table(_ name: String) -> ReportTable? { tables.first { $0.name == name } }

    struct Group {
        var requests: Int64 = 0
        var ok: Int64 = 0
        var fast: Int64 = 0
        var times: [Double] = []
        var buckets: [Int64]
        var errorsBy: [Pair: Int64] = [:]
        var endpointTimes: [Int: [Double]] = [:]
        var endpointRequests: [Int: Int64] = [:]
        var minutes: [Int64: Int64] = [:]
        var hours = [Int64](repeating: 0, count: 24)
    }

    struct Pair: Hashable {
        var endpoint: Int
        var status: Int32?
    }

    /// Reads `date` from the lake and computes the analysis (with the change from the
    /// previous day's analysis when the lake holds one).
    public static func compute(store: any FileStore, date: ReportDate, options: Options = Options()) async throws -> ServiceAnalysis {
        var services = StringInterner(), endpoints = StringInterner(), levels = StringInterner()
        var groups: [Int: Group] = [:]
        var scan = ScanStatistics()
        try await LakeScan(store: store, dataset: .logs).forEachRowGroup(
            hours: date.hours,
            columns: ["timestamp", "level", "service", "metadata.response_time_ms", "metadata.status_code", "metadata.endpoint"],
            statistics: &scan
        ) { table in
            let n = table.rowCount
            let service = services.ids(ColumnView.strings(table, "service"), rows: n)
            let endpoint = endpoints.ids(ColumnView.strings(table, "metadata.endpoint"), rows: n)
            let level = levels.ids(ColumnView.strings(table, "level"), rows: n)
            let errorLevels = Set(["ERROR", "CRITICAL", "FATAL"].map { levels.strings.firstIndex(of: $0) ?? -2 })
            guard let (ts, tsValid) = ColumnView.int64s(table, "timestamp") else { return true }
            let (rt, rtValid) = ColumnView.doubles(table, "metadata.response_time_ms") ?? (Array(repeating: 0, count: n), Array(repeating: false, count: n))
            let (st, stValid) = ColumnView.int32s(table, "metadata.status_code") ?? (Array(repeating: 0, count: n), Array(repeating: false, count: n))
            for i in 0..<n where service[i] >= 0 && (tsValid?[i] ?? true) {
                let offset = ts[i] - date.startMicros
                guard offset >= 0, offset < 86_400_000_000 else { continue }
                var g = groups[service[i]] ?? Group(buckets: Array(repeating: 0, count: options.buckets.count))
                g.requests += 1
                let status: Int32? = (stValid?[i] ?? true) ? st[i] : nil
                if let status, status >= 200, status < 300 { g.ok += 1 }
                if rtValid?[i] ?? true {
                    let t = rt[i]
                    g.times.append(t)
                    if t < options.slowMillis { g.fast += 1 }
                    if let b = options.buckets.lastIndex(where: { $0 <= t }) { g.buckets[b] += 1 }
                    if endpoint[i] >= 0 { g.endpointTimes[endpoint[i], default: []].append(t) }
                }
                if endpoint[i] >= 0 { g.endpointRequests[endpoint[i], default: 0] += 1 }
                if (status ?? 0) >= 400 || errorLevels.contains(level[i]) {
                    g.errorsBy[Pair(endpoint: endpoint[i], status: status), default: 0] += 1
                }
                g.minutes[ts[i] / 60_000_000, default: 0] += 1
                g.hours[Int(offset / 3_600_000_000)] += 1
                groups[service[i]] = g
            }
            return true
        }
        let previous = try await previousSLA(store: store, date: date.previous)
        var histogram = ReportTable(name: "latency_histogram", columns: [
            ("service", .string), ("bucket_lower_ms", .double), ("bucket_upper_ms", .double), ("count", .int),
        ])
        var errors = ReportTable(name: "error_sources", columns: [
            ("service", .string), ("rank", .int), ("endpoint", .string), ("status_code", .int), ("errors", .int),
        ])
        var slowest = ReportTable(name: "slowest_endpoints", columns: [
            ("service", .string), ("rank", .int), ("endpoint", .string), ("requests", .int), ("response_time_avg", .double),
            ("response_time_p95", .double), ("response_time_max", .double),
        ])
        var peaks = ReportTable(name: "peaks", columns: [
            ("service", .string), ("peak_minute", .string), ("peak_minute_requests", .int), ("peak_hour", .int), ("peak_hour_requests", .int),
        ])
        var sla = ReportTable(name: "sla", columns: [
            ("service", .string), ("requests", .int), ("availability", .double), ("availability_target", .double), ("availability_met", .int),
            ("performance", .double), ("performance_target", .double), ("performance_met", .int), ("response_time_p95", .double),
            ("requests_previous", .int), ("availability_previous", .double), ("performance_previous", .double), ("response_time_p95_previous", .double),
        ])
        for (name, g) in groups.map({ (services.strings[$0.key], $0.value) }).sorted(by: { $0.0 < $1.0 }) {
            for (b, lower) in options.buckets.enumerated() {
                let upper: Double? = b + 1 < options.buckets.count ? options.buckets[b + 1] : nil
                histogram.rows.append([.string(name), .double(lower), .double(upper), .int(g.buckets[b])])
            }
            let ranked = g.errorsBy.map { (endpoint: $0.key.endpoint >= 0 ? endpoints.strings[$0.key.endpoint] : nil, status: $0.key.status, count: $0.value) }
                .sorted { ($1.count, $0.endpoint ?? "", $0.status ?? -1) < ($0.count, $1.endpoint ?? "", $1.status ?? -1) }
            for (r, e) in ranked.prefix(options.topN).enumerated() {
                errors.rows.append([.string(name), .int(Int64(r + 1)), .string(e.endpoint), .int(e.status.map(Int64.init)), .int(e.count)])
            }
            let endpointStats = g.endpointTimes.map { (name: endpoints.strings[$0.key], requests: g.endpointRequests[$0.key] ?? 0, stats: Statistics($0.value)) }
                .sorted { ($0.stats.quantile(0.95) ?? 0, $1.name) > ($1.stats.quantile(0.95) ?? 0, $0.name) }
            for (r, e) in endpointStats.prefix(options.topN).enumerated() {
                slowest.rows.append([.string(name), .int(Int64(r + 1)), .string(e.name), .int(e.requests), .double(e.stats.mean),
                                     .double(e.stats.quantile(0.95)), .double(e.stats.max)])
            }
            let peakMinute = g.minutes.max { ($0.value, $1.key) < ($1.value, $0.key) }!
            let peakHour = g.hours.indices.max { (g.hours[$0], $1) < (g.hours[$1], $0) }!
            peaks.rows.append([.string(name), .string(SearchHit(timestampMicros: peakMinute.key * 60_000_000).time.prefix(16) + "Z"),
                               .int(peakMinute.value), .int(Int64(peakHour)), .int(g.hours[peakHour])])
            let availability = Double(g.ok) / Double(g.requests)
            let performance: Double? = g.times.isEmpty ? nil : Double(g.fast) / Double(g.times.count)
            let p = previous[name]
            sla.rows.append([
                .string(name), .int(g.requests), .double(availability), .double(options.availabilityTarget),
                .int(availability >= options.availabilityTarget ? 1 : 0), .double(performance), .double(options.performanceTarget),
                .int(performance.map { $0 >= options.performanceTarget ? 1 : 0 }), .double(Statistics(g.times).quantile(0.95)),
                p?[0] ?? .int(nil), p?[1] ?? .double(nil), p?[2] ?? .double(nil), p?[3] ?? .double(nil),
            ])
        }
        return ServiceAnalysis(date: date, tables: [sla, histogram, errors, slowest, peaks])
    }

    /// The previous day's SLA rows by service: requests, availability, performance, p95.
    static func previousSLA(store: any FileStore, date: ReportDate) async throws -> [String: [ReportValue]] {
        let path = "\(directory(date))/sla/\(ReportWriter.fileName)"
        guard try await store.stat(path) != nil else { return [:] }
        let table = try await LakeFileError.naming(path) {
            try ParquetFileReader(bytes: try await store.read(path)).read(
                columns: ["service", "requests", "availability", "performance", "response_time_p95"])
        }
        guard let service = ColumnView.strings(table, "service"), let (requests, rv) = ColumnView.int64s(table, "requests"),
              let (availability, av) = ColumnView.doubles(table, "availability"), let (performance, pv) = ColumnView.doubles(table, "performance"),
              let (p95, qv) = ColumnView.doubles(table, "response_time_p95") else { return [:] }
        var out: [String: [ReportValue]] = [:]
        for i in 0..<table.rowCount {
            let name = String(decoding: service.bytes[Int(service.offsets[i])..<Int(service.offsets[i + 1])], as: UTF8.self)
            out[name] = [.int((rv?[i] ?? true) ? requests[i] : nil), .double((av?[i] ?? true) ? availability[i] : nil),
                         .double((pv?[i] ?? true) ? performance[i] : nil), .double((qv?[i] ?? true) ? p95[i] : nil)]
        }
        return out
    }

    /// Writes the tables and the HTML/Markdown pages, replacing a previous run of the day.
    @discardableResult
    public func write(store: any FileStore) async throws -> Int {
        var markdown = "# Service analysis \(date)\n\n"
        if let sla = table("sla") { markdown += ReportText.markdownTable(sla, columns: sla.columns.map(\.name)) }
        var body = "<h1>Service analysis \(date)</h1>\n"
        if let sla = table("sla") {
            body += "<h2>Availability per service (%)</h2>\n" + ReportHTML.bars(
                labels: sla.rows.map { $0[0].text }, values: sla.rows.map { ($0[2].number ?? 0) * 100 }, id: "availability")
        }
        for t in tables { body += "<h2>\(ReportHTML.escape(t.name))</h2>\n" + ReportHTML.htmlTable(t) }
        return try await ReportWriter(store: store).write(
            directory: Self.directory(date), tables: tables,
            pages: [("report.md", Array(markdown.utf8)), ("report.html", Array(ReportHTML.page(title: "Logpipe service analysis \(date)", body: body).utf8))])
    }
}
