import Foundation
import LogpipeBatch
import LogpipeLake
import LogpipeTesting
import Testing

@Suite struct ReportHTMLTests {
    /// The bars of one chart in a DOM: (label, series, value) per `<rect>`.
    static func bars(_ dom: String, chart: String) -> [(label: String, series: String, value: Double)] {
        guard let start = dom.range(of: "<svg id=\"\(chart)\""), let end = dom.range(of: "</svg>", range: start.upperBound..<dom.endIndex) else { return [] }
        let svg = String(dom[start.lowerBound..<end.upperBound])
        func attribute(_ name: String, _ tag: Substring) -> String? {
            guard let r = tag.range(of: " \(name)=\"") else { return nil }
            return String(tag[r.upperBound...].prefix { $0 != "\"" })
        }
        return svg.components(separatedBy: "<rect").dropFirst().compactMap { piece in
            let tag = piece.prefix { $0 != ">" }
            guard let label = attribute("data-label", tag), let series = attribute("data-series", tag),
                  let value = attribute("data-value", tag).flatMap(Double.init) else { return nil }
            return (label, series, value)
        }
    }

    /// The report page rendered by headless Chromium (Debian's `chromium`): it loads without a
    /// console message, and its charts' bars carry the report's numbers.
    @Test func chromiumRendersTheChartsWithTheReportsNumbers() async throws {
        let chromium = "/usr/bin/chromium"
        #expect(FileManager.default.isExecutableFile(atPath: chromium), "needs Debian's chromium (apt-get install chromium)")
        guard FileManager.default.isExecutableFile(atPath: chromium) else { return }
        let dir = try TemporaryDirectory(prefix: "batch-html")
        defer { dir.remove() }
        try TestLake.build(root: dir.path, logs: 5_000, events: 500)
        let store = try LocalFileStore(root: dir.path)
        let report = try await DailyReport.compute(store: store, date: ReportDate("2026-11-22")!)
        try await report.write(store: store)
        let page = try store.absolutePath(DailyReport.directory(report.date) + "/report.html")

        let child = try ChildProcess(executable: chromium, arguments: [
            "--headless", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--v=0",
            "--user-data-dir=\(dir.path)/chromium", "--dump-dom", "file://\(page)",
        ])
        let status = await child.waitForExit()
        let log = String(decoding: child.standardError, as: UTF8.self)
        let dom = String(decoding: child.standardOutput, as: UTF8.self)
        #expect(ChildProcess.exitCode(status) == 0, "\(log)")
        let console = log.split(separator: "\n").filter { $0.contains(":CONSOLE") }
        #expect(console.isEmpty, "\(console)")

        let hourly = try #require(report.table("hourly"))
        let expectedTraffic = (0..<24).map { h in
            hourly.rows.first { $0[0] == .string("ALL") && $0[1] == .int(Int64(h)) }?[2].number ?? 0
        }
        let traffic = Self.bars(dom, chart: "traffic")
        #expect(traffic.map(\.value) == expectedTraffic)
        #expect(traffic.map(\.value).reduce(0, +) == Double(report.table("services")!.rows[0][1].number!))

        let services = try #require(report.table("services"))
        let latency = Self.bars(dom, chart: "latency")
        let errors = Self.bars(dom, chart: "errors")
        let named = services.rows.filter { $0[0] != .string("ALL") }
        #expect(latency.count == named.count * 3 && errors.count == named.count && !named.isEmpty)
        for row in named {
            let name = row[0].text
            for (series, column) in [("p50", "response_time_p50"), ("p95", "response_time_p95"), ("p99", "response_time_p99")] {
                let bar = latency.first { $0.label == name && $0.series == series }
                let want = row[services.index(of: column)!].number!
                #expect(bar.map { abs($0.value - want) <= 0.0005 } == true, "\(name) \(series): \(String(describing: bar)) vs \(want)")
            }
            let rate = row[services.index(of: "error_rate")!].number! * 100
            #expect(errors.first { $0.label == name }.map { abs($0.value - rate) <= 0.0005 } == true, "\(name) error rate")
        }
    }
}
