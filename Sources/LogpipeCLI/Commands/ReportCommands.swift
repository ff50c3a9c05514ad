import ArgumentParser
import Foundation
import LogpipeBatch
import LogpipeLake

/// `logpipe report …`: the seed's batch reports over the lake.
struct ReportCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "report",
        abstract: "Batch reports over the lake, written back into it as Parquet, Markdown and HTML.",
        subcommands: [Daily.self, ServicesReportCommand.self]
    )

    struct Daily: AsyncParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "daily",
            abstract: "The daily report: per service and system-wide traffic, errors, latency, top endpoints and errors; activity.",
            discussion: "Writes reports/daily/date=YYYY-MM-DD/<table>/part-0.parquet, report.md and report.html in the lake, replacing a previous run of the day in one step. --from/--to runs every day of the range (a backfill), oldest first.")

        @OptionGroup var common: CommonOptions
        @OptionGroup var lake: LakeOptions

        @Option(help: "The UTC day, YYYY-MM-DD (default: yesterday).")
        var date: String?

        @Option(help: "The first day of a range (a backfill), YYYY-MM-DD.")
        var from: String?

        @Option(help: "The last day of the range, inclusive.")
        var to: String?

        @Option(help: "Entries in each top list.")
        var top = 10

        @Flag(help: "Print no Markdown summary.")
        var quiet = false

        func run() async throws {
            let settings = try await Settings.load(common, flags: lake.flags)
            let store = try settings.openExistingLake()
            let days = try Self.days(date: date, from: from, to: to)
            // One progress line per day on standard error, so standard output carries only
            // the Markdown summaries.
            for (i, day) in days.enumerated() {
                let started = ContinuousClock.now
                let report = try await DailyReport.compute(store: store, date: day, topN: top)
                try await report.write(store: store)
                if !quiet { print(report.markdown()) }
                let seconds = (ContinuousClock.now - started) / .milliseconds(1) / 1000
                let line = "\(Self.bar(i + 1, days.count)) \(day): \(report.scan.rowsRead) rows from \(report.scan.filesOpened) files → "
                    + "\(DailyReport.directory(day))/ (\(String(format: "%.2f", seconds)) s)"
                FileHandle.standardError.write(Data("\(line)\n".utf8))
            }
        }

        static func bar(_ done: Int, _ total: Int) -> String {
            let width = 30
            let filled = total == 0 ? width : done * width / total
            return "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] \(done)/\(total)"
        }

        static func days(date: String?, from: String?, to: String?) throws -> [ReportDate] {
            func parse(_ s: String, _ flag: String) throws -> ReportDate {
                guard let d = ReportDate(s) else { throw ValidationError("\(flag) \(s): expected YYYY-MM-DD") }
                return d
            }
            if let from {
                guard date == nil else { throw ValidationError("give --date or --from/--to, not both") }
                let first = try parse(from, "--from")
                let last = try to.map { try parse($0, "--to") } ?? first
                guard first <= last else { throw ValidationError("--from \(from) is after --to") }
                return (first.daysSinceEpoch...last.daysSinceEpoch).map(ReportDate.init(daysSinceEpoch:))
            }
            guard to == nil else { throw ValidationError("--to needs --from") }
            if let date { return [try parse(date, "--date")] }
            return [ReportDate(containing: Date()).previous]
        }
    }
}
