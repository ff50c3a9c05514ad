import Testing

@testable import LogpipeServers

/// Each role's `/metrics` keeps exactly its families (with their HELP and TYPE lines) and
/// the ones every role shares.
struct MetricsScopeTests {
    static let exposition = """
        # TYPE logpipe_collector_records_total counter
        logpipe_collector_records_total{kind="logs",outcome="accepted"} 3
        # HELP hb_requests requests
        # TYPE hb_requests counter
        hb_requests{http_route="/"} 1
        # TYPE logpipe_stream_records_total counter
        logpipe_stream_records_total{topic="logs.raw",partition="0"} 3
        # TYPE logpipe_generator_records_total counter
        logpipe_generator_records_total{kind="logs"} 100
        # TYPE process_open_fds gauge
        process_open_fds 12.0
        # TYPE logpipe_build_info gauge
        logpipe_build_info{version="0.1.0",swift="6.3"} 1.0

        """

    func families(_ roles: Set<MetricsRole>) -> [String] {
        let text = String(decoding: MetricsRole.filter(Array(Self.exposition.utf8), roles: roles), as: UTF8.self)
        return text.split(separator: "\n").filter { !$0.hasPrefix("#") }.map { String($0.prefix { $0 != "{" && $0 != " " }) }
    }

    @Test func eachRoleKeepsItsOwnAndTheSharedFamilies() {
        #expect(families([.collector]) == ["logpipe_collector_records_total", "hb_requests", "process_open_fds", "logpipe_build_info"])
        #expect(families([.stream]) == ["logpipe_stream_records_total", "process_open_fds", "logpipe_build_info"])
        #expect(families([.generator]) == ["logpipe_generator_records_total", "process_open_fds", "logpipe_build_info"])
        #expect(families([.collector, .stream]).count == 5)
    }

    @Test func helpAndTypeLinesFollowTheirFamily() {
        let text = String(decoding: MetricsRole.filter(Array(Self.exposition.utf8), roles: [.stream]), as: UTF8.self)
        #expect(text.contains("# TYPE logpipe_stream_records_total counter\n"))
        #expect(!text.contains("hb_requests"))
        #expect(!text.contains("# TYPE logpipe_collector"))
        #expect(text.hasSuffix("\n"))
    }
}
