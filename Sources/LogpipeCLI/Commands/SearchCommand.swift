import ArgumentParser
import Foundation
import LogpipeBatch
import LogpipeLake

/// `logpipe search`: log records in the lake, newest first.
struct SearchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "search",
        abstract: "Find log records in the lake, newest first (reads only the hours in range, skips row groups by statistics).")

    @OptionGroup var common: CommonOptions
    @OptionGroup var lake: LakeOptions

    @Option(help: "How far back: 90s, 15m, 1h, 2d (default 1h without --from).")
    var since: String?

    @Option(help: "Start of the range: RFC 3339 or epoch seconds.")
    var from: String?

    @Option(help: "End of the range (exclusive): RFC 3339 or epoch seconds (default now).")
    var to: String?

    @Option(help: "Exact service name.") var service: String?
    @Option(help: "Level, e.g. ERROR.") var level: String?
    @Option(help: "Status code: 500, 500-599 or 5xx.") var status: String?
    @Option(help: "Exact endpoint.") var endpoint: String?
    @Option(help: "Exact request id.") var requestId: String?
    @Option(help: "Exact client IP.") var clientIp: String?
    @Option(help: "Exact user id.") var user: String?
    @Option(help: "Text the message contains.") var text: String?
    @Option(help: "The most records shown.") var limit = 100

    @Option(help: "Output: table, json (JSON lines) or csv.")
    var format = "table"

    func run() async throws {
        let settings = try await Settings.load(common, flags: lake.flags)
        let store = try settings.openExistingLake()
        var p: [String: String] = ["limit": String(limit)]
        let given: [(String, String?)] = [
            ("since", since), ("from", from), ("to", to), ("service", service), ("level", level), ("status", status),
            ("endpoint", endpoint), ("request_id", requestId), ("client_ip", clientIp), ("user", user), ("text", text),
        ]
        for (k, v) in given { if let v { p[k] = v } }
        let query: SearchQuery
        do { query = try SearchParameters.query(p, maxLimit: Int.max) } catch { throw ValidationError("\(error)") }
        var stats = ScanStatistics()
        let hits = try await LogSearch(store: store).run(query, statistics: &stats)
        switch format {
        case "json": print(try SearchOutput.jsonLines(hits), terminator: "")
        case "csv": print(SearchOutput.csv(hits), terminator: "")
        case "table": print(SearchOutput.table(hits), terminator: "")
        default: throw ValidationError("--format \(format): expected table, json or csv")
        }
    }
}
