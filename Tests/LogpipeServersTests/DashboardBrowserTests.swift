import Foundation
import LogpipeTesting
import Testing

/// The built-in dashboard in Debian's headless Chromium against a running `logpipe run`:
/// the page loads with no errors, its numbers are the JSON APIs' numbers, they change as
/// records flow, and an injected incident (an IP flood) appears in its alert feed.
///
/// Chromium is driven over the DevTools protocol (`HeadlessBrowser`): the page runs in real
/// time until it has polled twice, and every exception, `console.error` and browser log
/// error (failed loads, HTTP errors) counts as a failure.
struct DashboardBrowserTests {
    /// One rendering of the page.
    struct Page {
        let html: String

        /// The rendered elements: the DOM before the page's own script (whose text names the same classes).
        var rendered: Substring {
            html.range(of: "<script>", options: .backwards).map { html[..<$0.lowerBound] } ?? html[...]
        }

        /// The `data-value` of the element with `id`.
        func value(_ id: String) -> String? {
            let body = rendered
            guard let range = body.range(of: #"id="\#(id)" data-value=""#) else { return nil }
            return String(body[range.upperBound...].prefix { $0 != "\"" })
        }

        /// The attributes of every element with `class="cls"`, each as a dictionary.
        func elements(_ cls: String) -> [[String: String]] {
            rendered.components(separatedBy: #"class="\#(cls)""#).dropFirst().map { tail in
                var attributes: [String: String] = [:]
                let tag = tail.prefix { $0 != ">" }
                for match in tag.matches(of: /([a-z-]+)="([^"]*)"/) { attributes[String(match.1)] = String(match.2) }
                return attributes
            }
        }

        /// What the browser reported and what `#page-errors` lists.
        let errors: [String]
    }

    static func render(_ url: String, screenshot: String? = nil) async throws -> Page {
        let rendering = try await HeadlessBrowser.render(
            url, until: "Number(document.getElementById('updated').dataset.value) >= 2", screenshot: screenshot,
            windowSize: (1400, 1900))
        var errors = rendering.errors
        if let start = rendering.html.range(of: #"id="page-errors""#), let open = rendering.html[start.upperBound...].firstIndex(of: ">"),
           let close = rendering.html[open...].range(of: "</pre>") {
            let listed = rendering.html[rendering.html.index(after: open)..<close.lowerBound]
            if !listed.isEmpty { errors.append("#page-errors: \(listed)") }
        } else {
            errors.append("no #page-errors element")
        }
        return Page(html: rendering.html, errors: errors)
    }

    /// The error collection is not vacuous: a page that throws, logs an error and fails a
    /// load has all three reported.
    @Test func browserReportsPageErrors() async throws {
        let closed = try LoopbackPort.free()
        let html = "<script>console.error('bad thing');throw new Error('boom')</script><img src='http://127.0.0.1:\(closed)/x.png'>"
        let rendering = try await HeadlessBrowser.render(
            "data:text/html," + html.addingPercentEncoding(withAllowedCharacters: .alphanumerics)!,
            until: "document.readyState === 'complete'")
        #expect(rendering.errors.contains { $0.contains("boom") }, "\(rendering.errors)")
        #expect(rendering.errors.contains { $0.hasPrefix("console.error") && $0.contains("bad thing") }, "\(rendering.errors)")
        #expect(rendering.errors.contains { $0.hasPrefix("log:") && $0.contains("\(closed)") }, "\(rendering.errors)")
    }

    @Test func dashboardShowsTheAPIsNumbersLiveAndTheAlertFeed() async throws {
        let dir = try TemporaryDirectory(prefix: "logpipe-dashboard")
        defer { dir.remove() }
        let port = try LoopbackPort.free()
        let run = try await Ops.launch([
            "run", "--no-generator", "--data-dir", dir.appending("data"), "--port", String(port),
            "--roll-seconds", "1", "--log-level", "warning",
        ], ports: [port])
        defer { run.kill() }
        let base = "http://127.0.0.1:\(port)"
        let page = "\(base)/?interval=400"
        // Before any window closes, the window panels say why they are empty.
        let waiting = try await Self.render(page)
        #expect(waiting.errors.isEmpty, "the page met errors: \(waiting.errors)")
        #expect(waiting.rendered.contains(#"id="system-waiting""#) && waiting.rendered.contains(#"id="service-waiting""#))

        // Event time starts 40 minutes ago on a minute boundary; the default 5-minute lateness
        // means a record at t closes every window ending before t - 300 s.
        let now = Date().timeIntervalSince1970
        let start = ((now - 2400) / 60).rounded(.down) * 60
        let services = ["checkout", "search", "users"]
        var logs: [String] = []
        for (s, service) in services.enumerated() {
            for i in 0..<(10 + 5 * s) {
                logs.append(Ops.log("a-\(s)-\(i)", service: service, time: start + Double(i), ip: "10.0.\(s).\(i)",
                                    user: "user-\(i)", status: i % 5 == 0 ? 500 : 200, millis: 20 + 10 * i))
            }
        }
        // Every partition moves past the first minute (services may share a partition: old records first).
        let everyPartition = Ops.servicesCoveringPartitions(services)
        func advance(_ id: String, to time: Double) -> [String] {
            everyPartition.enumerated().map { Ops.log("\(id)-\($0.offset)", service: $0.element, time: time) }
        }
        logs += advance("a-next", to: start + 400)
        try await Ops.post("\(base)/api/collect/logs", ndjson: logs)
        try await Ops.post("\(base)/api/collect/activities", ndjson: (0..<7).map { Ops.activity("e-\($0)", time: start + Double($0)) })
        var acceptedLogs = logs.count

        let from = Int(now) - 3600
        func windowStart(_ row: [String: Any]) -> Int { ((row["window"] as? [String: Any])?["start_micros"] as? Int) ?? 0 }
        /// The newest closed window of each service, as the API serves it.
        func latestWindows() async throws -> [String: [String: Any]] {
            let rows = try #require(try await Ops.getJSON("\(base)/api/metrics/services?final=true&from=\(from)") as? [[String: Any]])
            var latest: [String: [String: Any]] = [:]
            for row in rows where row["is_final"] as? Bool ?? true {
                let service = row["service"] as? String ?? ""
                if latest[service].map({ windowStart($0) <= windowStart(row) }) ?? true { latest[service] = row }
            }
            return latest
        }

        /// Waits until the collector, the stream and the analytics have everything (`search`'s newest
        /// closed window has `searchRequests`), then renders the page and checks it against the APIs.
        func renderAndCheck(searchRequests: Int, expectingAlerts: Int) async throws -> Page {
            try await Ops.waitFor("the stream and analytics to catch up") { () async throws -> (value: Bool?, state: String) in
                let metrics = try await Ops.get("\(base)/metrics?scope=process").body
                let streamed = Ops.metric(metrics, "logpipe_stream_records_total", ["topic": "logs.raw"])
                let latest = try await latestWindows()
                let alerts = try #require(try await Ops.getJSON("\(base)/api/alerts?from=\(from - 82_800)") as? [[String: Any]])
                let search = latest["search"]?["request_count"] as? Int
                let ready = streamed == Double(acceptedLogs) && services.allSatisfy { latest[$0] != nil }
                    && search == searchRequests && alerts.count == expectingAlerts
                return (ready ? true : nil, "streamed \(streamed ?? -1) of \(acceptedLogs), services \(latest.keys.sorted()), search \(search ?? -1), \(alerts.count) alerts")
            }
            let rendered = try await Self.render(page)
            #expect(rendered.errors.isEmpty, "the page met errors: \(rendered.errors)")
            #expect(!rendered.rendered.contains("-waiting\""))

            // Its numbers are the APIs' numbers (nothing flows while the page renders).
            let metrics = try await Ops.get("\(base)/metrics?scope=process").body
            #expect(rendered.value("ingest-logs-accepted") == String(acceptedLogs))
            #expect(Ops.metric(metrics, "logpipe_collector_records_total", ["kind": "logs", "outcome": "accepted"]) == Double(acceptedLogs))
            #expect(rendered.value("ingest-activities-accepted") == "7")
            #expect(rendered.value("stream-records") == String(acceptedLogs + 7))
            let status = try #require(try await Ops.getJSON("\(base)/api/status") as? [String: Any])
            let topics = try #require(status["topics"] as? [[String: Any]])
            let logsTopic = try #require(topics.first { $0["name"] as? String == "logs.raw" })
            let highs = try #require(logsTopic["partitions"] as? [[String: Any]]).map { "\($0["partition"] ?? "")=\($0["high_watermark"] ?? "")" }.sorted()
            let shownHighs = rendered.elements("bus-row").filter { $0["data-topic"] == "logs.raw" }
                .map { "\($0["data-partition"] ?? "")=\($0["data-high"] ?? "")" }.sorted()
            #expect(shownHighs == highs)
            #expect(rendered.elements("bus-row").filter { $0["data-topic"] == "logs.raw" }
                .reduce(0) { $0 + (Int($1["data-high"] ?? "") ?? 0) } == acceptedLogs)

            let latest = try await latestWindows()
            let shown = rendered.elements("service-row")
            #expect(shown.count == latest.count)
            for row in shown {
                let api = try #require(latest[row["data-service"] ?? ""], "the page shows a service the API does not")
                #expect(row["data-requests"] == "\(api["request_count"] ?? "")", "\(row)")
                #expect(row["data-window"] == String(windowStart(api)), "\(row)")
            }
            let system = try #require(try await Ops.getJSON("\(base)/api/metrics/system?final=true&from=\(from)") as? [[String: Any]])
            let newest = system.filter { $0["is_final"] as? Bool ?? true }.max { windowStart($0) < windowStart($1) }
            #expect(rendered.value("health-score") == newest.map { "\($0["health_score"] ?? "")" } ?? "")

            let alerts = try #require(try await Ops.getJSON("\(base)/api/alerts?from=\(from - 82_800)") as? [[String: Any]])
            #expect(rendered.value("alert-count") == String(alerts.count))
            #expect(rendered.elements("alert-item").count == alerts.count)
            return rendered
        }

        let first = try await renderAndCheck(searchRequests: 15, expectingAlerts: 0)
        #expect(first.elements("service-row").filter { services.contains($0["data-service"] ?? "") }
            .map { $0["data-requests"] ?? "" }.sorted() == ["10", "15", "20"])

        // More records flow: the page's numbers follow.
        let more: [String] = (0..<20).map { Ops.log("b-\($0)", service: "search", time: start + 600 + Double($0), user: "user-\($0)") }
            + advance("b-next", to: start + 1000)
        try await Ops.post("\(base)/api/collect/logs", ndjson: more)
        acceptedLogs += more.count
        let second = try await renderAndCheck(searchRequests: 20, expectingAlerts: 0)
        #expect(second.value("ingest-logs-accepted") != first.value("ingest-logs-accepted"))
        #expect(second.elements("service-row").first { $0["data-service"] == "search" }?["data-requests"] == "20")

        // An incident: one IP floods within one minute with one user; the DDoS detector raises it.
        let flood: [String] = (0..<150).map {
            Ops.log("c-\($0)", service: "search", time: start + 1200 + Double($0) * 0.2, ip: "203.0.113.7", user: "user-flood")
        } + advance("c-next", to: start + 1900)
        try await Ops.post("\(base)/api/collect/logs", ndjson: flood)
        acceptedLogs += flood.count
        let third = try await renderAndCheck(searchRequests: 150, expectingAlerts: 1)
        let alert = try #require(third.elements("alert-item").first)
        #expect(alert["data-type"] == "ddos")
        #expect(alert["data-subject"] == "203.0.113.7")
        #expect(third.html.contains("203.0.113.7"))

        // LOGPIPE_DASHBOARD_SCREENSHOT=docs/dashboard.png keeps a picture of this state.
        if let path = ProcessInfo.processInfo.environment["LOGPIPE_DASHBOARD_SCREENSHOT"], !path.isEmpty {
            _ = try await Self.render(page, screenshot: path)
            #expect(FileManager.default.fileExists(atPath: path))
        }
        run.kill(SIGTERM)
        #expect(ChildProcess.exitCode(await run.waitForExit()) == 0, "\(String(decoding: run.standardError, as: UTF8.self))")
    }
}
