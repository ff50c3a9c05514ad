import Hummingbird
import Metrics
import NIOCore
import Prometheus
import Synchronization

/// The process-wide Prometheus registry behind every role's `GET /metrics`.
///
/// swift-metrics allows one backend per process, so all roles in `logpipe run`
/// share this registry. Each role's `/metrics` shows the families of that role
/// (`MetricsScope`), so a Prometheus scraping every role's port of a `logpipe run`
/// sees each series once, exactly as it would from one process per role;
/// `/metrics?scope=process` shows the whole registry (the built-in dashboard reads that).
public enum LogpipeMetrics {
    private static let state = Mutex<PrometheusCollectorRegistry?>(nil)

    /// Installs the Prometheus backend once; later calls return the same registry.
    @discardableResult
    public static func bootstrap() -> PrometheusCollectorRegistry {
        state.withLock { registry in
            if let registry { return registry }
            let created = PrometheusCollectorRegistry()
            var factory = PrometheusMetricsFactory(registry: created)
            // Ingest latencies sit between a fraction of a millisecond (fsync batched) and seconds (overload).
            factory.defaultDurationHistogramBuckets = [
                .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
                .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
                .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5),
            ]
            // Lake commits sync files and a commit record, and may rename many files: up to tens of seconds.
            factory.durationHistogramBuckets["logpipe_stream_commit_seconds"] = [
                .milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(25), .milliseconds(50),
                .milliseconds(100), .milliseconds(250), .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5),
                .seconds(10), .seconds(30),
            ]
            MetricsSystem.bootstrap(factory)
            Gauge(label: "logpipe_build_info", dimensions: [("version", LogpipeBuild.version), ("swift", LogpipeBuild.swift)])
                .record(1)
            registry = created
            return created
        }
    }

    /// Adds `GET /metrics` in Prometheus text format: the families of `scope`, or the whole
    /// registry with `?scope=process`. `refresh` runs first, to update gauges that are read
    /// at scrape time (process, disk, bus).
    public static func addRoute<Context: RequestContext>(
        to router: Router<Context>, scope: MetricsScope = .process, refresh: @escaping @Sendable () async -> Void = {}
    ) {
        let registry = bootstrap()
        router.get("metrics") { request, _ in
            await refresh()
            var buffer: [UInt8] = []
            buffer.reserveCapacity(16 << 10)
            registry.emit(into: &buffer)
            let effective = request.uri.queryParameters["scope"] == "process" ? MetricsScope.process : scope
            if case .roles(let roles) = effective { buffer = MetricsRole.filter(buffer, roles: roles) }
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: buffer))
            )
        }
    }
}

/// What a role's `/metrics` shows.
public enum MetricsScope: Sendable {
    /// Everything in the process: a role running alone.
    case process
    /// These roles' families, when several roles share the process (`logpipe run`).
    case roles(Set<MetricsRole>)
}

/// The roles whose metric families `/metrics` can separate.
public enum MetricsRole: String, Sendable, CaseIterable {
    /// The collector: ingest, the bus it writes, HTTP requests.
    case collector
    /// The stream worker: micro-batches, commits, lag, the lake, analytics.
    case stream
    /// The generator.
    case generator

    /// Families every role shows: they describe the process and its disks.
    static let shared = ["process_", "logpipe_build_info", "logpipe_filesystem_"]

    /// Metric name prefixes of the role's families.
    public var prefixes: [String] {
        switch self {
        case .collector: ["logpipe_collector_", "logpipe_bus_", "hb_", "http_server_"] + Self.shared
        case .stream: ["logpipe_stream_", "logpipe_lake_", "logpipe_analytics_"] + Self.shared
        case .generator: ["logpipe_generator_"] + Self.shared
        }
    }

    /// Keeps the lines of `text` (Prometheus exposition format) that belong to the families of `roles`.
    static func filter(_ text: [UInt8], roles: Set<MetricsRole>) -> [UInt8] {
        let prefixes = Set(roles.flatMap(\.prefixes)).map { Array($0.utf8) }
        var out: [UInt8] = []
        out.reserveCapacity(text.count)
        var start = 0
        while start < text.count {
            let end = text[start...].firstIndex(of: UInt8(ascii: "\n")) ?? text.count
            var name = start
            // `# HELP name …` and `# TYPE name …` name their family after the keyword.
            if text[start] == UInt8(ascii: "#"), end - start > 7 { name = start + 7 }
            if prefixes.contains(where: { p in end - name >= p.count && text[name..<name + p.count].elementsEqual(p) }) {
                out.append(contentsOf: text[start..<min(end + 1, text.count)])
            }
            start = end + 1
        }
        return out
    }
}

/// What this binary is, for `logpipe_build_info` and the dashboard.
public enum LogpipeBuild {
    /// The release version.
    public static let version = "0.1.0"
    /// The Swift compiler (major.minor) the binary was built with.
    public static var swift: String {
        #if compiler(>=6.3)
        "6.3"
        #elseif compiler(>=6.2)
        "6.2"
        #else
        "6.1"
        #endif
    }
}
