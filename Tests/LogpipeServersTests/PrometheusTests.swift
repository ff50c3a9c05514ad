import Foundation
import LogpipeTesting
import Testing

/// deploy/prometheus checked by Debian's promtool: the scrape config, the alert rules and
/// their unit tests, and that the unit tests cover every rule both firing and quiet.
struct PrometheusRulesTests {
    static let directory = TestEnvironment.repositoryRoot + "/deploy/prometheus"

    @Test func configAndRulesPassPromtool() async throws {
        let promtool = try TestEnvironment.tool("promtool", debianPackage: "prometheus")
        for arguments in [["check", "config", "\(Self.directory)/prometheus.yml"], ["check", "rules", "\(Self.directory)/alerts.yml"]] {
            let result = try await ChildProcess.run(promtool, arguments)
            #expect(result.status == 0, "promtool \(arguments.joined(separator: " ")): \(result.output)\(result.error)")
        }
    }

    @Test func ruleUnitTestsPassAndCoverEveryRuleFiringAndQuiet() async throws {
        let promtool = try TestEnvironment.tool("promtool", debianPackage: "prometheus")
        let result = try await ChildProcess.run(promtool, ["test", "rules", "\(Self.directory)/tests/alerts_test.yml"])
        #expect(result.status == 0, "\(result.output)\(result.error)")

        let rules = try String(contentsOfFile: "\(Self.directory)/alerts.yml", encoding: .utf8)
            .split(separator: "\n").compactMap { line -> String? in
                let t = line.trimmingCharacters(in: .whitespaces)
                return t.hasPrefix("- alert: ") ? String(t.dropFirst(9)) : nil
            }
        #expect(rules.count == 13)
        // Each `alertname:` line of the tests is followed by its expectation: `exp_alerts: []` (quiet) or a list (fires).
        let lines = try String(contentsOfFile: "\(Self.directory)/tests/alerts_test.yml", encoding: .utf8)
            .split(separator: "\n").map { $0.trimmingCharacters(in: .whitespaces) }
        var fires = Set<String>(), quiet = Set<String>()
        for (i, line) in lines.enumerated() where line.hasPrefix("alertname: ") && i + 1 < lines.count {
            let name = String(line.dropFirst(11))
            if lines[i + 1] == "exp_alerts: []" { quiet.insert(name) } else if lines[i + 1] == "exp_alerts:" { fires.insert(name) }
        }
        for rule in rules {
            #expect(fires.contains(rule), "no unit test shows \(rule) firing")
            #expect(quiet.contains(rule), "no unit test shows \(rule) quiet")
        }
    }
}

/// A real Prometheus, started with the shipped scrape config (targets rewritten to this
/// test's loopback ports), scrapes a running `logpipe run` (collector and stream ports)
/// and a `logpipe generate`: every role is up, the core series count exactly the records
/// posted, and every PromQL expression of the Grafana dashboards parses and returns data.
struct PrometheusScrapeTests {
    @Test func prometheusScrapesEveryRoleAndEveryDashboardQueryReturnsData() async throws {
        let prometheus = try TestEnvironment.tool("prometheus", debianPackage: "prometheus")
        let dir = try TemporaryDirectory(prefix: "logpipe-prometheus")
        defer { dir.remove() }
        let (collector, api, generator, promPort, nowhere, scheduler) = (
            try LoopbackPort.free(), try LoopbackPort.free(), try LoopbackPort.free(), try LoopbackPort.free(), try LoopbackPort.free(),
            try LoopbackPort.free())
        let run = try await Ops.launch([
            "run", "--no-generator", "--data-dir", dir.appending("data"), "--port", String(collector),
            "--api-port", String(api), "--roll-seconds", "1", "--log-level", "warning",
        ], ports: [collector, api])
        defer { run.kill() }
        // A generator role whose collector is nowhere: it serves its API and /metrics, and adds no records.
        let gen = try await Ops.launch([
            "generate", "--generator-port", String(generator), "--collector-url", "http://127.0.0.1:\(nowhere)",
            "--log-level", "critical",
        ], ports: [generator])
        defer { gen.kill() }

        // The scheduler on its own (as in a container), over the same lake; run's own scheduler
        // shares the job leases with it.
        let schedulerRole = try await Ops.launch([
            "scheduler", "--lake", dir.appending("data/lake"), "--port", String(scheduler), "--log-level", "critical",
        ], ports: [scheduler])
        defer { schedulerRole.kill() }

        // Known records: per service 9 twenty minutes ago, then 1 now on every partition (the watermark it
        // moves closes the old windows; services may share a partition, so every old record comes first),
        // 1 invalid log.
        let now = Date().timeIntervalSince1970
        // Inside one minute window, whatever the clock says.
        let old = ((now - 1200) / 60).rounded(.down) * 60 + 5
        let services = ["svc-a", "svc-b", "svc-c"]
        var logs: [String] = []
        for (s, service) in services.enumerated() {
            for i in 0..<9 { logs.append(Ops.log("r-\(s)-\(i)", service: service, time: old + Double(i))) }
        }
        for (s, service) in Ops.servicesCoveringPartitions(services).enumerated() {
            logs.append(Ops.log("r-\(s)-now", service: service, time: now))
        }
        logs.append(#"{"level":"INFO"}"#)
        try await Ops.post("http://127.0.0.1:\(collector)/api/collect/logs", ndjson: logs)
        try await Ops.post("http://127.0.0.1:\(collector)/api/collect/activities",
                           ndjson: (0..<20).map { Ops.activity("e-\($0)", time: now - 60 + Double($0)) })

        // The shipped config, pointed at this test's ports, scraping every second.
        var config = try String(contentsOfFile: TestEnvironment.repositoryRoot + "/deploy/prometheus/prometheus.yml", encoding: .utf8)
        for (from, to) in [("127.0.0.1:8081", collector), ("127.0.0.1:8082", api), ("127.0.0.1:8000", generator), ("127.0.0.1:8090", scheduler)] {
            #expect(config.contains(from), "the shipped config no longer targets \(from)")
            config = config.replacingOccurrences(of: from, with: "127.0.0.1:\(to)")
        }
        config = config.replacingOccurrences(of: "scrape_interval: 15s", with: "scrape_interval: 1s")
            .replacingOccurrences(of: "evaluation_interval: 15s", with: "evaluation_interval: 1s")
            .replacingOccurrences(of: "  - alerts.yml", with: "  - \(TestEnvironment.repositoryRoot)/deploy/prometheus/alerts.yml")
        try config.write(toFile: dir.appending("prometheus.yml"), atomically: true, encoding: .utf8)
        let server = try ChildProcess(executable: prometheus, arguments: [
            "--config.file=\(dir.appending("prometheus.yml"))", "--storage.tsdb.path=\(dir.appending("tsdb"))",
            "--web.listen-address=127.0.0.1:\(promPort)", "--log.level=warn",
        ])
        defer { server.kill() }
        try await LoopbackPort.waitUntilListening(promPort, timeout: .seconds(60)) {
            String(decoding: server.standardError, as: UTF8.self)
        }
        let base = "http://127.0.0.1:\(promPort)"

        func query(_ promql: String) async throws -> [(labels: [String: String], value: Double)] {
            var components = URLComponents(string: "\(base)/api/v1/query")!
            components.queryItems = [URLQueryItem(name: "query", value: promql)]
            let url = components.percentEncodedQuery.map { "\(base)/api/v1/query?\($0.replacingOccurrences(of: "+", with: "%2B"))" }!
            let json = try #require(try await Ops.getJSON(url) as? [String: Any])
            guard json["status"] as? String == "success", let data = json["data"] as? [String: Any],
                  let result = data["result"] as? [[String: Any]] else { throw OpsFailure("\(promql): \(json)") }
            return result.map { row in
                let value = (row["value"] as? [Any])?.last as? String
                return ((row["metric"] as? [String: String]) ?? [:], Double(value ?? "") ?? .nan)
            }
        }
        func scalar(_ promql: String) async throws -> Double? { try await query(promql).first?.value }

        let up = try await Ops.waitFor("every role up") { () async throws -> (value: [String: Double]?, state: String) in
            let rows = try await query("up")
            let jobs = Dictionary(rows.map { ($0.labels["job"] ?? "", $0.value) }, uniquingKeysWith: { a, _ in a })
            return (jobs.count == 4 && jobs.values.allSatisfy { $0 == 1 } ? jobs : nil, "\(jobs)")
        }
        #expect(Set(up.keys) == ["logpipe-collector", "logpipe-stream", "logpipe-generator", "logpipe-scheduler"])

        // The stream's files on disk, once it has committed both topics (the scheduler's
        // reports are Parquet in the lake too, but not the stream's to count).
        let lake = dir.appending("data/lake")
        func lakeFiles() -> Int {
            (FileManager.default.enumerator(atPath: lake)?.allObjects as? [String] ?? [])
                .filter { $0.hasSuffix(".parquet") && ($0.hasPrefix("logs/raw/") || $0.hasPrefix("events/activity/")) }.count
        }
        let expectations: [(String, Double)] = [
            (#"sum(logpipe_collector_records_total{job="logpipe-collector",kind="logs",outcome="accepted"})"#, Double(logs.count - 1)),
            (#"sum(logpipe_collector_records_total{job="logpipe-collector",kind="activities",outcome="accepted"})"#, 20),
            (#"sum(logpipe_collector_rejected_total{job="logpipe-collector",kind="logs"})"#, 1),
            (#"sum(logpipe_bus_appended_records_total{job="logpipe-collector",topic="logs.raw"})"#, Double(logs.count - 1)),
            (#"sum(logpipe_stream_records_total{job="logpipe-stream",topic="logs.raw"})"#, Double(logs.count - 1)),
            (#"sum(logpipe_stream_records_total{job="logpipe-stream",topic="events.activity"})"#, 20),
            (#"sum(logpipe_stream_lag_records{job="logpipe-stream"})"#, 0),
            (#"sum(logpipe_bus_consumer_lag_records{job="logpipe-collector",group="logpipe-stream",topic=~"logs.raw|events.activity"})"#, 0),
            (#"count(logpipe_analytics_service_window_requests{job="logpipe-stream"})"#, 3),
            (#"sum(logpipe_analytics_service_window_requests{job="logpipe-stream"})"#, 27),
        ]
        try await Ops.waitFor("the core series to count the posted records", timeout: .seconds(90)) { () async throws -> (value: Bool?, state: String) in
            var state: [String] = []
            for (promql, expected) in expectations {
                let got = try await scalar(promql)
                if got != expected { state.append("\(promql) = \(got.map { "\($0)" } ?? "none"), want \(expected)") }
            }
            let generatorJobs = try await query("count by (job) (logpipe_generator_failed_requests_total)").map { $0.labels["job"] ?? "" }
            if generatorJobs != ["logpipe-generator"] { state.append("generator failures seen in \(generatorJobs)") }
            let files = lakeFiles()
            let written: Double? = try await scalar(#"sum(logpipe_lake_files_written_total{job="logpipe-stream"})"#)
            if files == 0 || written != Double(files) { state.append("lake files written \(written ?? -1), on disk \(files)") }
            return (state.isEmpty ? true : nil, state.joined(separator: "; "))
        }
        // Each role's port shows only its own families: no series is scraped twice.
        #expect(try await query("count by (job) (logpipe_stream_records_total)").map { $0.labels["job"] } == ["logpipe-stream"])
        #expect(try await query("count by (job) (logpipe_collector_records_total)").map { $0.labels["job"] } == ["logpipe-collector"])
        for job in up.keys {
            #expect(try await scalar(#"logpipe_build_info{job="\#(job)"}"#) == 1)
            #expect((try await scalar(#"process_resident_memory_bytes{job="\#(job)"}"#) ?? 0) > 1_048_576)
            #expect((try await scalar(#"process_open_fds{job="\#(job)"}"#) ?? 0) > 3)
            let volume = job == "logpipe-scheduler" ? "lake" : "bus"
            #expect((try await scalar(#"logpipe_filesystem_avail_bytes{job="\#(job)",volume="\#(volume)"}"#) ?? 0) > 0 || job == "logpipe-generator")
        }

        // The alert rules loaded and evaluate against the real series without errors.
        let rules = try #require(try await Ops.getJSON("\(base)/api/v1/rules") as? [String: Any])
        let groups = ((rules["data"] as? [String: Any])?["groups"] as? [[String: Any]]) ?? []
        let loaded = groups.flatMap { ($0["rules"] as? [[String: Any]]) ?? [] }
        let shipped = try String(contentsOfFile: TestEnvironment.repositoryRoot + "/deploy/prometheus/alerts.yml", encoding: .utf8)
            .components(separatedBy: "- alert: ").count - 1
        #expect(shipped == 13)
        #expect(loaded.count == shipped)
        try await Ops.waitFor("every rule evaluated") { () async throws -> (value: Bool?, state: String) in
            let rules = try #require(try await Ops.getJSON("\(base)/api/v1/rules") as? [String: Any])
            let all = (((rules["data"] as? [String: Any])?["groups"] as? [[String: Any]]) ?? []).flatMap { ($0["rules"] as? [[String: Any]]) ?? [] }
            let bad = all.filter { $0["health"] as? String != "ok" }.map { "\($0["name"] ?? "?"): \($0["health"] ?? "?") \($0["lastError"] ?? "")" }
            return (bad.isEmpty && all.count == shipped ? true : nil, bad.joined(separator: ", "))
        }

        // Every Grafana expression (panels and template variables) parses and returns data here.
        let dashboards = TestEnvironment.repositoryRoot + "/deploy/grafana/dashboards"
        let files = try FileManager.default.contentsOfDirectory(atPath: dashboards).filter { $0.hasSuffix(".json") }.sorted()
        #expect(files == ["bus.json", "lake.json", "overview.json", "services.json", "stream.json"])
        var expressions: [(String, String)] = []
        for file in files {
            let board = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: "\(dashboards)/\(file)"))) as? [String: Any])
            for panel in (board["panels"] as? [[String: Any]]) ?? [] {
                for target in (panel["targets"] as? [[String: Any]]) ?? [] {
                    expressions.append(("\(file) / \(panel["title"] ?? "?")", try #require(target["expr"] as? String)))
                }
            }
            for variable in ((board["templating"] as? [String: Any])?["list"] as? [[String: Any]]) ?? [] {
                let definition = try #require((variable["query"] as? [String: Any])?["query"] as? String)
                // label_values(METRIC, LABEL) is Grafana's; the metric selector is PromQL.
                let selector = definition.hasPrefix("label_values(")
                    ? String(definition.dropFirst(13).prefix { $0 != "," }) : definition
                expressions.append(("\(file) / $\(variable["name"] ?? "?")", selector))
            }
        }
        #expect(expressions.count > 40)
        for (place, expression) in expressions {
            let promql = expression.replacingOccurrences(of: "$__rate_interval", with: "30s")
                .replacingOccurrences(of: "$topic", with: ".*").replacingOccurrences(of: "$service", with: ".*")
            #expect(!promql.contains("$"), "\(place): unknown variable in \(expression)")
            // A rate needs two scrapes of a series that appeared moments ago.
            let rows = try? await Ops.waitFor("\(place): \(promql)", timeout: .seconds(20)) { () async throws -> (value: Int?, state: String) in
                let rows = try await query(promql)
                return (rows.isEmpty ? nil : rows.count, "no data")
            }
            #expect(rows != nil, "\(place): no data for \(promql)")
        }
        server.kill(SIGTERM)
        _ = await server.waitForExit()
        run.kill(SIGTERM)
        #expect(ChildProcess.exitCode(await run.waitForExit()) == 0, "\(String(decoding: run.standardError, as: UTF8.self))")
    }
}
