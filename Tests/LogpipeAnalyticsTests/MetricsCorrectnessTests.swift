import Foundation
import Logging
import LogpipeAnalytics
import LogpipeGenerator
import LogpipeRecords
import LogpipeTesting
import Testing

let quietLogger = Logger(label: "test", factory: { _ in SwiftLogNoOpLogHandler() })

/// The same aggregations in DuckDB SQL, from the NDJSON the analytics parsed (also used
/// by the tests of windows combined across partitions).
let duckdbScript = #"""
import duckdb, json, sys
logs_path, events_path = sys.argv[1], sys.argv[2]
con = duckdb.connect()
con.execute(f"""create table logs as select (timestamp::DECIMAL(38,6) * 1000000)::BIGINT as t, service,
  metadata.response_time_ms as rt, metadata.status_code as status, metadata.client_ip as ip, metadata.user_id as uid
  from read_json('{logs_path}', format='newline_delimited', columns={{'timestamp': 'DECIMAL(18,6)', 'service': 'VARCHAR',
  'metadata': 'STRUCT(response_time_ms DOUBLE, status_code INTEGER, client_ip VARCHAR, user_id VARCHAR)'}})""")
con.execute(f"""create table events as select (timestamp::DECIMAL(38,6) * 1000000)::BIGINT as t, event_type, user_id, session_id,
  device.type as dtype, device.os as os, device.browser as browser
  from read_json('{events_path}', format='newline_delimited', columns={{'timestamp': 'DECIMAL(18,6)',
  'event_type': 'VARCHAR', 'user_id': 'VARCHAR', 'session_id': 'VARCHAR',
  'device': 'STRUCT(type VARCHAR, os VARCHAR, browser VARCHAR)'}})""")
def emit(kind, sql):
    cur = con.execute(sql)
    names = [d[0] for d in cur.description]
    for row in cur.fetchall():
        d = dict(zip(names, row))
        d['kind'] = kind
        print(json.dumps(d))
emit('service', """select (t // 60000000) * 60000000 as ws, service, count(*) as n, count(rt) as rtn, sum(rt) as s,
  min(rt) as mn, max(rt) as mx, stddev_samp(rt) as sd, count(*) filter (where status >= 400) as errors,
  count(*) filter (where status between 200 and 299) as ok, count(*) filter (where rt < 1000) as fast,
  list_sort(list(rt) filter (where rt is not null)) as vals from logs group by all""")
emit('client', """select (t // 300000000) * 300000000 as ws, ip, count(*) as n, count(distinct uid) as users,
  list_sort(list(distinct service)) as services from logs where ip is not null group by all""")
emit('system', """select (t // 60000000) * 60000000 as ws, count(*) as n, count(distinct service) as services,
  count(distinct uid) as users, avg(rt) as avg, count(*) filter (where status >= 400) as errors from logs group by all""")
emit('activity', """select (t // 60000000) * 60000000 as ws, event_type, count(*) as n, count(distinct user_id) as users,
  count(distinct session_id) as sessions from events group by all""")
emit('breakdown', """select (t // 60000000) * 60000000 as ws, event_type, 'type' as dim, dtype as v, count(*) as n from events where dtype is not null group by all
  union all select (t // 60000000) * 60000000, event_type, 'os', os, count(*) from events where os is not null group by all
  union all select (t // 60000000) * 60000000, event_type, 'browser', browser, count(*) from events where browser is not null group by all""")
"""#

@Suite("Windowed metrics against DuckDB")
struct MetricsCorrectnessTests {
    @Test("per service, client IP, system and activity windows match DuckDB SQL over the same records")
    func matchesDuckDB() throws {
        var generator = RecordGenerator(seed: 42)
        let start = epoch0 + 17.25  // windows at both ends are partial
        var logBytes = generator.logs(count: 60_000, start: start, spacing: 0.01)
        // Rows with missing fields: they count as requests but not as response times,
        // errors, users or IPs, exactly as in SQL.
        let end = start + 600
        let odd = [
            logLine(t: end, service: "api-gateway", rt: nil, status: 503),
            logLine(t: end, service: "api-gateway", rt: 1500, status: nil, ip: nil),
            logLine(t: end, service: "edge-proxy", rt: 0, status: 200, user: nil),
            logLine(t: end + 0.5, service: "edge-proxy", rt: 999.5, status: 404, ip: "10.9.9.9", user: "u"),
        ]
        logBytes += Array(odd.joined(separator: "\n").utf8) + [10]
        let eventBytes = generator.events(count: 30_000, start: start, spacing: 0.02)
        let logs = try parseLogs(logBytes)
        let events = try parseActivities(eventBytes)

        var analytics = StreamAnalytics(logger: quietLogger)
        var out = AnalyticsOutput()
        var offset = 0
        while offset < logs.count {
            let next = min(logs.count, offset + 4_096)
            out.append(analytics.process(logs: slice(logs, offset..<next)))
            offset = next
        }
        offset = 0
        while offset < events.count {
            let next = min(events.count, offset + 3_000)
            out.append(analytics.process(activities: slice(events, offset..<next)))
            offset = next
        }
        out.append(analytics.finish())
        #expect(out.lateRows.count == 0)
        #expect(analytics.openWindowCount == 0)

        let dir = try TemporaryDirectory(prefix: "logpipe-analytics-duckdb")
        defer { dir.remove() }
        try Data(logBytes).write(to: URL(fileURLWithPath: dir.appending("logs.ndjson")))
        try Data(eventBytes).write(to: URL(fileURLWithPath: dir.appending("events.ndjson")))
        let rows = try runPython(duckdbScript, arguments: [dir.appending("logs.ndjson"), dir.appending("events.ndjson")])

        // Services: exact counts, sums, extremes; stddev to 1e-9; quantiles within α of the order statistic.
        let expectedServices = rows.filter { $0.string("kind") == "service" }
        #expect(out.services.count == expectedServices.count)
        let services = Dictionary(uniqueKeysWithValues: out.services.map { ("\($0.window.startMicros)/\($0.service)", $0) })
        let alpha = analytics.configuration.quantileAccuracy
        for e in expectedServices {
            let key = "\(e.int("ws"))/\(e.string("service"))"
            guard let m = services[key] else {
                Issue.record("missing service window \(key)")
                continue
            }
            #expect(m.window.endMicros - m.window.startMicros == 60_000_000)
            #expect(m.requestCount == e.int("n"), "\(key)")
            #expect(m.responseTimeCount == e.int("rtn"), "\(key)")
            #expect(m.responseTimeSum == (e.double("s") ?? 0), "\(key)")
            #expect(m.minResponseTime == e.double("mn"), "\(key)")
            #expect(m.maxResponseTime == e.double("mx"), "\(key)")
            #expect(m.errorCount == e.int("errors"), "\(key)")
            #expect(m.successCount == e.int("ok"), "\(key)")
            #expect(m.fastCount == e.int("fast"), "\(key)")
            #expect(m.errorRate == Double(e.int("errors")) / Double(e.int("n")) * 100)
            #expect(m.availability == Double(e.int("ok")) / Double(e.int("n")) * 100)
            #expect(m.performance == Double(e.int("fast")) / Double(e.int("n")) * 100)
            if let sd = e.double("sd") {
                #expect(relativeError(m.stddevResponseTime!, sd) <= 1e-9, "\(key): \(m.stddevResponseTime!) vs \(sd)")
            } else {
                #expect(m.stddevResponseTime == nil)
            }
            let values = (e["vals"] as! [NSNumber]).map(\.doubleValue)
            for (q, got) in [(0.5, m.p50ResponseTime), (0.95, m.p95ResponseTime), (0.99, m.p99ResponseTime)] {
                let truth = values[Int((q * Double(values.count - 1)).rounded(.down))]
                #expect(abs(got! - truth) <= alpha * truth * (1 + 1e-12), "\(key) q\(q): \(got!) vs \(truth)")
            }
        }

        // Client IPs per 5 minutes: exact counts and services; distinct users exact in sparse mode.
        let expectedClients = rows.filter { $0.string("kind") == "client" }
        #expect(out.clients.count == expectedClients.count)
        let clients = Dictionary(uniqueKeysWithValues: out.clients.map { ("\($0.window.startMicros)/\($0.clientIp)", $0) })
        for e in expectedClients {
            let key = "\(e.int("ws"))/\(e.string("ip"))"
            guard let m = clients[key] else {
                Issue.record("missing client window \(key)")
                continue
            }
            #expect(m.requestCount == e.int("n"), "\(key)")
            #expect(m.distinctUsers == e.int("users"), "\(key)")
            #expect(m.servicesUsed == e["services"] as! [String], "\(key)")
        }

        // System per minute: distinct users go beyond the exact range, so HLL's error applies.
        let userError = 3 * HyperLogLog.standardError(precision: analytics.configuration.distinctPrecision)
        let expectedSystem = rows.filter { $0.string("kind") == "system" }
        #expect(out.system.count == expectedSystem.count)
        let system = Dictionary(uniqueKeysWithValues: out.system.map { ($0.window.startMicros, $0) })
        for e in expectedSystem {
            guard let m = system[e.int("ws")] else {
                Issue.record("missing system window \(e.int("ws"))")
                continue
            }
            #expect(m.requestCount == e.int("n"))
            #expect(m.activeServices == e.int("services"))
            #expect(relativeError(Double(m.activeUsers), Double(e.int("users"))) <= userError)
            #expect(relativeError(m.avgResponseTime!, e.double("avg")!) <= 1e-12)
            #expect(m.errorCount == e.int("errors"))
            #expect(m.healthScore == SystemMetrics.healthScore(errorRate: Double(e.int("errors")) / Double(e.int("n")) * 100))
        }
        #expect(out.system.contains { $0.activeUsers > 2048 }, "some window should exercise the dense sketch")

        // Activities per event type and minute.
        let expectedActivities = rows.filter { $0.string("kind") == "activity" }
        #expect(out.activities.count == expectedActivities.count)
        let activities = Dictionary(uniqueKeysWithValues: out.activities.map { ("\($0.window.startMicros)/\($0.eventType)", $0) })
        for e in expectedActivities {
            let key = "\(e.int("ws"))/\(e.string("event_type"))"
            guard let m = activities[key] else {
                Issue.record("missing activity window \(key)")
                continue
            }
            #expect(m.eventCount == e.int("n"), "\(key)")
            #expect(relativeError(Double(m.distinctUsers), Double(e.int("users"))) <= userError, "\(key)")
            #expect(relativeError(Double(m.distinctSessions), Double(e.int("sessions"))) <= userError, "\(key)")
        }
        for e in rows where e.string("kind") == "breakdown" {
            let key = "\(e.int("ws"))/\(e.string("event_type"))"
            let m = try #require(activities[key])
            let table = switch e.string("dim") {
            case "type": m.deviceTypes
            case "os": m.operatingSystems
            default: m.browsers
            }
            #expect(table[e.string("v")] == e.int("n"), "\(key) \(e.string("dim")) \(e.string("v"))")
        }
    }
}
