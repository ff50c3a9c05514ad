import Foundation
import LogpipeLake
import LogpipeParquet

/// A UTC calendar day, `YYYY-MM-DD`.
public struct ReportDate: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Days since 1970-01-01.
    public let daysSinceEpoch: Int64

    /// The day with this index.
    public init(daysSinceEpoch: Int64) { self.daysSinceEpoch = daysSinceEpoch }

    /// Parses `YYYY-MM-DD`.
    public init?(_ text: String) {
        let parts = text.split(separator: "-")
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
              let y = Int(parts[0]), let m = Int(parts[1]), let d = Int(parts[2]),
              (1...12).contains(m), (1...31).contains(d) else { return nil }
        let first = HourPartition(year: y, month: m, day: d, hour: 0)
        self.init(daysSinceEpoch: first.hoursSinceEpoch / 24)
        guard description == text else { return nil }
    }

    /// The day holding a moment.
    public init(containing date: Date) {
        self.init(daysSinceEpoch: Int64((date.timeIntervalSince1970 / 86_400).rounded(.down)))
    }

    /// The day's 24 hour partitions.
    public var hours: [HourPartition] { (0..<24).map { HourPartition(hoursSinceEpoch: daysSinceEpoch * 24 + $0) } }

    /// The first microsecond of the day.
    public var startMicros: Int64 { daysSinceEpoch * 86_400_000_000 }

    /// The next day.
    public var next: ReportDate { ReportDate(daysSinceEpoch: daysSinceEpoch + 1) }

    /// The previous day.
    public var previous: ReportDate { ReportDate(daysSinceEpoch: daysSinceEpoch - 1) }

    public var description: String {
        let c = HourPartition(hoursSinceEpoch: daysSinceEpoch * 24).components
        return String(format: "%04d-%02d-%02d", c.year, c.month, c.day)
    }

    public static func < (a: ReportDate, b: ReportDate) -> Bool { a.daysSinceEpoch < b.daysSinceEpoch }
}

/// The seed's `daily_report.py`: one UTC day of the lake summarised per service and for the
/// whole system (service `ALL`), plus the day's activity events.
///
/// Definitions (the tests hold DuckDB SQL to each):
/// - requests: log records of the day; errors: records with `status_code >= 400` or an error
///   level (`ERROR`, `CRITICAL`, `FATAL`); `status_errors` and `level_errors` count each
///   criterion on its own.
/// - response time: over records with a `response_time_ms`; `stddev` is the sample standard
///   deviation (DuckDB's `stddev`), p50/p95/p99 are exact and interpolated like DuckDB's
///   `quantile_cont`.
/// - top lists are ordered by count descending, then by name, cut at `topN`.
public struct DailyReport: Sendable {
    /// The day.
    public var date: ReportDate
    /// The tables, in the order they are written.
    public var tables: [ReportTable]
    /// What reading the lake touched.
    public var scan: ScanStatistics

    /// The name of the whole-system row of every per-service table (and of all event types).
    public static let all = "ALL"

    /// The report's directory in the lake.
    public static func directory(_ date: ReportDate) -> String { "reports/daily/date=\(date)" }

    /// The table named `name`.
    public func table(_ name: String) -> ReportTable? { tables.first { $0.name == name } }

    /// Reads `date` from the lake in `store` and computes the report.
    public static func compute(store: any FileStore, date: ReportDate, topN: Int = 10) async throws -> DailyReport {
        var scan = ScanStatistics()
        var logs = LogAggregation()
        try await LakeScan(store: store, dataset: .logs).forEachRowGroup(
            hours: date.hours,
            columns: ["timestamp", "level", "service", "message", "metadata.response_time_ms", "metadata.status_code", "metadata.endpoint"],
            statistics: &scan
        ) { table in
            logs.add(table, dayStart: date.startMicros)
            return true
        }
        var activity = ActivityAggregation()
        try await LakeScan(store: store, dataset: .activity).forEachRowGroup(
            hours: date.hours, columns: ["timestamp", "user_id", "session_id", "event_type", "device"], statistics: &scan
        ) { table in
            activity.add(table, dayStart: date.startMicros)
            return true
        }
        return DailyReport(date: date, tables: logs.tables(topN: topN) + activity.tables(), scan: scan)
    }

    /// Writes the report's tables, its Markdown summary and HTML page into the lake,
    /// replacing a previous run of the same day. Returns the rows written.
    @discardableResult
    public func write(store: any FileStore) async throws -> Int {
        try await ReportWriter(store: store).write(
            directory: Self.directory(date), tables: tables,
            pages: [("report.md", Array(markdown().utf8)), ("report.html", Array(ReportHTML.daily(self).utf8))])
    }

    /// Said above the tables when the lake held nothing for the day (a scheduler's first run
    /// reports yesterday; a stream that was down leaves a gap), so a report of zeros is not
    /// read as a day of zero traffic.
    var emptyNote: String? {
        scan.rowsRead == 0 ? "The lake holds no logs or activity events for this day." : nil
    }

    /// The terminal/Markdown summary: the per-service table and the day's activity.
    public func markdown() -> String {
        var out = "# Daily report \(date)\n\n"
        if let note = emptyNote { out += note + "\n\n" }
        if let services = table("services") {
            out += ReportText.markdownTable(services, columns: [
                "service", "requests", "errors", "error_rate", "response_time_avg", "response_time_p50",
                "response_time_p95", "response_time_p99", "response_time_max",
            ])
        }
        if let events = table("activity_events") {
            out += "\n## Activity\n\n" + ReportText.markdownTable(events, columns: events.columns.map(\.name))
        }
        return out
    }
}

/// Aggregates of one group (a service, or the whole system).
struct LogGroup {
    var requests: Int64 = 0
    var errors: Int64 = 0
    var statusErrors: Int64 = 0
    var levelErrors: Int64 = 0
    var responseTimes: [Double] = []
    var levels: [Int: Int64] = [:]
    var statusClasses: [Int32: Int64] = [:]
    var hourRequests = [Int64](repeating: 0, count: 24)
    var hourErrors = [Int64](repeating: 0, count: 24)
    var endpoints: [Int: (requests: Int64, errors: Int64)] = [:]
    var errorMessages: [Int: Int64] = [:]

    mutating func add(level: Int, isLevelError: Bool, status: Int32?, responseTime: Double?, hour: Int, endpoint: Int, message: Int) {
        requests += 1
        let statusError = (status ?? 0) >= 400
        let error = statusError || isLevelError
        if statusError { statusErrors += 1 }
        if isLevelError { levelErrors += 1 }
        if let responseTime { responseTimes.append(responseTime) }
        if level >= 0 { levels[level, default: 0] += 1 }
        if let status { statusClasses[status / 100, default: 0] += 1 }
        hourRequests[hour] += 1
        if endpoint >= 0 { endpoints[endpoint, default: (0, 0)].requests += 1 }
        if error {
            errors += 1
            hourErrors[hour] += 1
            if endpoint >= 0 { endpoints[endpoint]!.errors += 1 }
            if message >= 0 { errorMessages[message, default: 0] += 1 }
        }
    }
}

/// The log side of the daily report, fed row group by row group.
struct LogAggregation {
    var services = StringInterner()
    var levels = StringInterner()
    var endpoints = StringInterner()
    var messages = StringInterner()
    var groups: [Int: LogGroup] = [:]
    var system = LogGroup()

    mutating func add(_ table: ParquetTable, dayStart: Int64) {
        let n = table.rowCount
        let service = services.ids(ColumnView.strings(table, "service"), rows: n)
        let level = levels.ids(ColumnView.strings(table, "level"), rows: n)
        let endpoint = endpoints.ids(ColumnView.strings(table, "metadata.endpoint"), rows: n)
        let message = messages.ids(ColumnView.strings(table, "message"), rows: n)
        let (ts, tsValid) = ColumnView.int64s(table, "timestamp") ?? ([], nil)
        let (rt, rtValid) = ColumnView.doubles(table, "metadata.response_time_ms") ?? (Array(repeating: 0, count: n), Array(repeating: false, count: n))
        let (st, stValid) = ColumnView.int32s(table, "metadata.status_code") ?? (Array(repeating: 0, count: n), Array(repeating: false, count: n))
        let errorLevels = Set(["ERROR", "CRITICAL", "FATAL"].map { name in
            levels.strings.firstIndex(of: name) ?? -2
        })
        for i in 0..<n {
            guard tsValid?[i] ?? true, ts.count == n else { continue }
            let offset = ts[i] - dayStart
            guard offset >= 0, offset < 86_400_000_000 else { continue }
            let hour = Int(offset / 3_600_000_000)
            let status: Int32? = (stValid?[i] ?? true) ? st[i] : nil
            let time: Double? = (rtValid?[i] ?? true) ? rt[i] : nil
            let isLevelError = errorLevels.contains(level[i])
            system.add(level: level[i], isLevelError: isLevelError, status: status, responseTime: time, hour: hour,
                       endpoint: endpoint[i], message: message[i])
            if service[i] >= 0 {
                groups[service[i], default: LogGroup()].add(
                    level: level[i], isLevelError: isLevelError, status: status, responseTime: time, hour: hour,
                    endpoint: endpoint[i], message: message[i])
            }
        }
    }

    /// The groups in output order: the system (`ALL`) first, then services by name.
    func ordered() -> [(String, LogGroup)] {
        [(DailyReport.all, system)] + groups.map { (services.strings[$0.key], $0.value) }.sorted { $0.0 < $1.0 }
    }

    func tables(topN: Int) -> [ReportTable] {
        var summary = ReportTable(name: "services", columns: [
            ("service", .string), ("requests", .int), ("errors", .int), ("status_errors", .int), ("level_errors", .int),
            ("error_rate", .double), ("response_time_count", .int), ("response_time_avg", .double),
            ("response_time_min", .double), ("response_time_max", .double), ("response_time_stddev", .double),
            ("response_time_p50", .double), ("response_time_p95", .double), ("response_time_p99", .double),
        ])
        var levelTable = ReportTable(name: "levels", columns: [("service", .string), ("level", .string), ("count", .int)])
        var statusTable = ReportTable(name: "status_classes", columns: [("service", .string), ("status_class", .string), ("count", .int)])
        var hourly = ReportTable(name: "hourly", columns: [("service", .string), ("hour", .int), ("requests", .int), ("errors", .int)])
        var topEndpoints = ReportTable(name: "top_endpoints", columns: [
            ("service", .string), ("ranking", .string), ("rank", .int), ("endpoint", .string), ("requests", .int), ("errors", .int),
        ])
        var topErrors = ReportTable(name: "top_errors", columns: [("service", .string), ("rank", .int), ("message", .string), ("count", .int)])
        for (name, g) in ordered() {
            let s = Statistics(g.responseTimes)
            summary.rows.append([
                .string(name), .int(g.requests), .int(g.errors), .int(g.statusErrors), .int(g.levelErrors),
                .double(g.requests > 0 ? Double(g.errors) / Double(g.requests) : nil), .int(Int64(g.responseTimes.count)),
                .double(s.mean), .double(s.min), .double(s.max), .double(s.stddev),
                .double(s.quantile(0.5)), .double(s.quantile(0.95)), .double(s.quantile(0.99)),
            ])
            for (level, count) in g.levels.map({ (levels.strings[$0.key], $0.value) }).sorted(by: { $0.0 < $1.0 }) {
                levelTable.rows.append([.string(name), .string(level), .int(count)])
            }
            for (cls, count) in g.statusClasses.sorted(by: { $0.key < $1.key }) {
                statusTable.rows.append([.string(name), .string("\(cls)xx"), .int(count)])
            }
            for h in 0..<24 where g.hourRequests[h] > 0 {
                hourly.rows.append([.string(name), .int(Int64(h)), .int(g.hourRequests[h]), .int(g.hourErrors[h])])
            }
            let named = g.endpoints.map { (endpoints.strings[$0.key], $0.value) }
            let byRequests = named.sorted { $0.1.requests != $1.1.requests ? $0.1.requests > $1.1.requests : $0.0 < $1.0 }
            for (rank, e) in byRequests.prefix(topN).enumerated() {
                topEndpoints.rows.append([.string(name), .string("requests"), .int(Int64(rank + 1)), .string(e.0), .int(e.1.requests), .int(e.1.errors)])
            }
            let byErrors = named.filter { $0.1.errors > 0 }.sorted { $0.1.errors != $1.1.errors ? $0.1.errors > $1.1.errors : $0.0 < $1.0 }
            for (rank, e) in byErrors.prefix(topN).enumerated() {
                topEndpoints.rows.append([.string(name), .string("errors"), .int(Int64(rank + 1)), .string(e.0), .int(e.1.requests), .int(e.1.errors)])
            }
            let messagesRanked = g.errorMessages.map { (messages.strings[$0.key], $0.value) }
                .sorted { $0.1 != $1.1 ? $0.1 > $1.1 : $0.0 < $1.0 }
            for (rank, m) in messagesRanked.prefix(topN).enumerated() {
                topErrors.rows.append([.string(name), .int(Int64(rank + 1)), .string(m.0), .int(m.1)])
            }
        }
        return [summary, levelTable, statusTable, hourly, topEndpoints, topErrors]
    }
}

/// The activity side of the daily report.
struct ActivityAggregation {
    var types = StringInterner()
    var users = StringInterner()
    var sessions = StringInterner()
    var deviceValues = [StringInterner(), StringInterner(), StringInterner()]
    var perType: [Int: (events: Int64, users: Set<Int>, sessions: Set<Int>)] = [:]
    var all: (events: Int64, users: Set<Int>, sessions: Set<Int>) = (0, [], [])
    var devices: [[Int: Int64]] = [[:], [:], [:]]
    static let deviceFields = ["type", "os", "browser"]

    mutating func add(_ table: ParquetTable, dayStart: Int64) {
        let n = table.rowCount
        let type = types.ids(ColumnView.strings(table, "event_type"), rows: n)
        let user = users.ids(ColumnView.strings(table, "user_id"), rows: n)
        let session = sessions.ids(ColumnView.strings(table, "session_id"), rows: n)
        var device: [[Int]] = []
        for (k, field) in Self.deviceFields.enumerated() {
            device.append(deviceValues[k].ids(ColumnView.strings(table, "device.\(field)"), rows: n))
        }
        let (ts, tsValid) = ColumnView.int64s(table, "timestamp") ?? ([], nil)
        for i in 0..<n {
            guard tsValid?[i] ?? true, ts.count == n, ts[i] >= dayStart, ts[i] - dayStart < 86_400_000_000 else { continue }
            all.events += 1
            if user[i] >= 0 { all.users.insert(user[i]) }
            if session[i] >= 0 { all.sessions.insert(session[i]) }
            if type[i] >= 0 {
                perType[type[i], default: (0, [], [])].events += 1
                if user[i] >= 0 { perType[type[i]]!.users.insert(user[i]) }
                if session[i] >= 0 { perType[type[i]]!.sessions.insert(session[i]) }
            }
            for k in 0..<3 where device[k][i] >= 0 { devices[k][device[k][i], default: 0] += 1 }
        }
    }

    func tables() -> [ReportTable] {
        var events = ReportTable(name: "activity_events", columns: [("event_type", .string), ("events", .int), ("users", .int), ("sessions", .int)])
        events.rows.append([.string(DailyReport.all), .int(all.events), .int(Int64(all.users.count)), .int(Int64(all.sessions.count))])
        for (name, t) in perType.map({ (types.strings[$0.key], $0.value) }).sorted(by: { $0.0 < $1.0 }) {
            events.rows.append([.string(name), .int(t.events), .int(Int64(t.users.count)), .int(Int64(t.sessions.count))])
        }
        var split = ReportTable(name: "activity_devices", columns: [("dimension", .string), ("value", .string), ("events", .int)])
        for (k, field) in Self.deviceFields.enumerated() {
            for (value, count) in devices[k].map({ (deviceValues[k].strings[$0.key], $0.value) }).sorted(by: { $0.0 < $1.0 }) {
                split.rows.append([.string(field), .string(value), .int(count)])
            }
        }
        return [events, split]
    }
}

/// Exact summary statistics of a sample.
struct Statistics {
    let sorted: [Double]
    let mean: Double?
    let stddev: Double?

    init(_ values: [Double]) {
        sorted = values.sorted()
        guard !values.isEmpty else {
            mean = nil
            stddev = nil
            return
        }
        // Welford's update, as DuckDB computes avg-adjacent variance, for stability.
        var m = 0.0, m2 = 0.0, n = 0.0
        for v in values {
            n += 1
            let d = v - m
            m += d / n
            m2 += d * (v - m)
        }
        mean = values.reduce(0, +) / Double(values.count)
        stddev = values.count > 1 ? (m2 / (n - 1)).squareRoot() : nil
    }

    var min: Double? { sorted.first }
    var max: Double? { sorted.last }

    /// The `q` quantile interpolated between the two nearest ranks, as DuckDB's `quantile_cont`.
    func quantile(_ q: Double) -> Double? {
        guard !sorted.isEmpty else { return nil }
        let rn = Double(sorted.count - 1) * q
        let lo = rn.rounded(.down), hi = rn.rounded(.up)
        if lo == hi { return sorted[Int(lo)] }
        let a = sorted[Int(lo)], b = sorted[Int(hi)]
        return a + (b - a) * (rn - lo)
    }
}
