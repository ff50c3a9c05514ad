import Foundation
import LogpipeAnalytics
import LogpipeBus
import Metrics
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Gauges read at scrape time rather than kept up to date: the process (memory, CPU,
/// open files, from `/proc/self`), free space of the disks holding the bus and the lake,
/// per-topic bus sizes and per-partition lag of the given consumer groups (named, not
/// listed: a Kafka cluster may hold many groups that are none of Logpipe's business), and
/// the newest closed window of each service and of the system from the live analytics.
public final class OperatorMetrics: Sendable {
    /// A directory whose filesystem is watched, named for the `volume` label.
    public struct Volume: Sendable {
        /// `bus`, `lake`, …
        public var name: String
        /// A directory on the filesystem.
        public var path: String

        /// A watched volume.
        public init(name: String, path: String) {
            self.name = name
            self.path = path
        }
    }

    private let volumes: [Volume]
    private let bus: (any Bus)?
    private let groups: [String]
    private let analytics: AnalyticsStore?
    private let cpuSeconds = Mutex<Double>(0)
    private let cpuCounter = FloatingPointCounter(label: "process_cpu_seconds_total")

    /// Watches `volumes` and, when given, the topics of `bus` and the lag of `groups` on it,
    /// and the windows in `analytics`.
    public init(volumes: [Volume] = [], bus: (any Bus)? = nil, groups: [String] = [], analytics: AnalyticsStore? = nil) {
        self.volumes = volumes
        self.bus = bus
        self.groups = groups
        self.analytics = analytics
    }

    /// Reads everything now and sets the gauges.
    public func refresh() async {
        refreshProcess()
        for volume in volumes { refreshVolume(volume) }
        if let bus { await refreshBus(bus) }
        if let analytics { refreshWindows(analytics) }
    }

    /// The newest closed window per service and of the system, in base units (ratios where the
    /// API has percentages, seconds where it has milliseconds): what the analytics API serves.
    /// Windows still open would make a gauge jump between a partial and a full count.
    private func refreshWindows(_ store: AnalyticsStore) {
        var newest: [String: ServiceMetrics] = [:]
        for row in store.services() where row.isFinal {
            if newest[row.service].map({ $0.window.startMicros <= row.window.startMicros }) ?? true { newest[row.service] = row }
        }
        for (service, row) in newest {
            let dims = [("service", service)]
            Gauge(label: "logpipe_analytics_service_window_requests", dimensions: dims).record(row.requestCount)
            Gauge(label: "logpipe_analytics_service_error_ratio", dimensions: dims).record(row.errorRate / 100)
            Gauge(label: "logpipe_analytics_service_availability_ratio", dimensions: dims).record(row.availability / 100)
            Gauge(label: "logpipe_analytics_service_performance_ratio", dimensions: dims).record(row.performance / 100)
            for (quantile, millis) in [("0.5", row.p50ResponseTime), ("0.95", row.p95ResponseTime), ("0.99", row.p99ResponseTime)] {
                guard let millis else { continue }
                Gauge(label: "logpipe_analytics_service_response_time_seconds", dimensions: dims + [("quantile", quantile)])
                    .record(millis / 1000)
            }
        }
        if let system = store.system().filter(\.isFinal).max(by: { $0.window.startMicros < $1.window.startMicros }) {
            Gauge(label: "logpipe_analytics_health_score").record(system.healthScore)
            Gauge(label: "logpipe_analytics_system_error_ratio").record(system.errorRate / 100)
        }
    }

    private func refreshProcess() {
        let process = ProcessStatus.read()
        if let resident = process.residentBytes { Gauge(label: "process_resident_memory_bytes").record(resident) }
        if let virtual = process.virtualBytes { Gauge(label: "process_virtual_memory_bytes").record(virtual) }
        if let fds = process.openFiles { Gauge(label: "process_open_fds").record(fds) }
        if let max = process.maxFiles { Gauge(label: "process_max_fds").record(max) }
        if let start = process.startTimeSeconds { Gauge(label: "process_start_time_seconds").record(start) }
        if let cpu = process.cpuSeconds {
            // The counter only moves forward by what the kernel added since the last scrape.
            let delta = cpuSeconds.withLock { last -> Double in
                defer { last = max(last, cpu) }
                return max(0, cpu - last)
            }
            if delta > 0 { cpuCounter.increment(by: delta) }
        }
    }

    private func refreshVolume(_ volume: Volume) {
        var stats = statvfs()
        guard statvfs(volume.path, &stats) == 0 else { return }
        let dims = [("volume", volume.name)]
        let block = Double(stats.f_frsize)
        Gauge(label: "logpipe_filesystem_avail_bytes", dimensions: dims).record(Double(stats.f_bavail) * block)
        Gauge(label: "logpipe_filesystem_size_bytes", dimensions: dims).record(Double(stats.f_blocks) * block)
    }

    private func refreshBus(_ bus: any Bus) async {
        guard let topics = try? await bus.topics() else { return }
        for topic in topics {
            Gauge(label: "logpipe_bus_disk_usage_bytes", dimensions: [("topic", topic.name)])
                .record(topic.partitions.reduce(Int64(0)) { $0 + $1.sizeBytes })
            for group in groups {
                guard let committed = try? await bus.committedOffsets(group: group, topic: topic.name), !committed.isEmpty else {
                    continue
                }
                for info in topic.partitions {
                    let offset = committed[info.partition] ?? info.lowWatermark
                    Gauge(label: "logpipe_bus_consumer_lag_records", dimensions: [
                        ("group", group), ("topic", topic.name), ("partition", String(info.partition)),
                    ]).record(max(0, info.highWatermark - offset))
                }
            }
        }
    }
}

/// What `/proc/self` says about this process (Linux); every field is `nil` elsewhere.
struct ProcessStatus: Sendable, Equatable {
    var residentBytes: Int64?
    var virtualBytes: Int64?
    var openFiles: Int?
    var maxFiles: Int?
    var cpuSeconds: Double?
    var startTimeSeconds: Double?

    static func read() -> ProcessStatus {
        var status = ProcessStatus()
        let page = Int64(sysconf(Int32(_SC_PAGESIZE)))
        if let statm = try? String(contentsOfFile: "/proc/self/statm", encoding: .utf8) {
            let fields = statm.split(separator: " ").compactMap { Int64($0.trimmingCharacters(in: .whitespacesAndNewlines)) }
            if fields.count >= 2 {
                status.virtualBytes = fields[0] * page
                status.residentBytes = fields[1] * page
            }
        }
        if let entries = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") {
            // Listing the directory opens one descriptor of its own.
            status.openFiles = max(0, entries.count - 1)
        }
        var limit = rlimit()
        if getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit) == 0 { status.maxFiles = Int(clamping: limit.rlim_cur) }
        let ticks = Double(sysconf(Int32(_SC_CLK_TCK)))
        if let stat = try? String(contentsOfFile: "/proc/self/stat", encoding: .utf8),
           let close = stat.lastIndex(of: ")") {
            // Fields after the command name: state is field 3, utime 14, stime 15, starttime 22.
            let fields = stat[stat.index(after: close)...].split(separator: " ")
            if fields.count > 19, let user = Double(fields[11]), let system = Double(fields[12]), let start = Double(fields[19]) {
                status.cpuSeconds = (user + system) / ticks
                if let boot = bootTime() { status.startTimeSeconds = boot + start / ticks }
            }
        }
        return status
    }

    private static func bootTime() -> Double? {
        guard let stat = try? String(contentsOfFile: "/proc/stat", encoding: .utf8) else { return nil }
        for line in stat.split(separator: "\n") where line.hasPrefix("btime ") {
            return Double(line.dropFirst(6).trimmingCharacters(in: .whitespaces))
        }
        return nil
    }
}
