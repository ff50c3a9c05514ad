import ArgumentParser
import Foundation
import LogpipeBatch
import LogpipeLake

/// `logpipe report services`: the seed's service analysis.
struct ServicesReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "services",
        abstract: "Service analysis: latency histogram, error sources, slowest endpoints, peaks, SLA vs targets, change from the previous day.",
        discussion: "Writes analysis/service/date=YYYY-MM-DD/<table>/ in the lake, replacing a previous run of the day.")

    @OptionGroup var common: CommonOptions
    @OptionGroup var lake: LakeOptions

    @Option(help: "The UTC day, YYYY-MM-DD (default: yesterday).")
    var date: String?

    @Option(help: "The first day of a range, YYYY-MM-DD.")
    var from: String?

    @Option(help: "The last day of the range, inclusive.")
    var to: String?

    @Option(help: "Availability target, the share of 2xx (default 0.99; config reports.sla.availability).")
    var availabilityTarget: Double?

    @Option(help: "Performance target, the share under 1000 ms (default 0.95; config reports.sla.performance).")
    var performanceTarget: Double?

    func run() async throws {
        let settings = try await Settings.load(common, flags: lake.flags.merging([
            .reportsSlaAvailability: flag(availabilityTarget), .reportsSlaPerformance: flag(performanceTarget),
        ]) { a, _ in a })
        let store = try settings.openExistingLake()
        var options = ServiceAnalysis.Options()
        options.availabilityTarget = settings.double(.reportsSlaAvailability, default: options.availabilityTarget)
        options.performanceTarget = settings.double(.reportsSlaPerformance, default: options.performanceTarget)
        let days = try ReportCommand.Daily.days(date: date, from: from, to: to)
        for day in days {
            let analysis = try await ServiceAnalysis.compute(store: store, date: day, options: options)
            let rows = try await analysis.write(store: store)
            if let sla = analysis.table("sla"), days.count == 1 {
                print("# Service analysis \(day)\n")
                print(ReportText.markdownTable(sla, columns: ["service", "requests", "availability", "availability_met", "performance",
                                                              "performance_met", "response_time_p95", "requests_previous"]))
            } else {
                print("\(day): \(rows) rows → \(ServiceAnalysis.directory(day))/")
            }
        }
    }
}
