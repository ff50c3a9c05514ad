import Foundation

/// `logpipe bench live`: the live path as a user runs it. `logpipe run --rate R` (the
/// built-in generator posting to the collector, the embedded bus, the stream with analytics,
/// the lake, one process) for `seconds`, scraping its `/metrics` once a second.
///
/// - Warm-up: the first `warmupSeconds` are not counted (JIT-free, but buffers, files and
///   windows open then).
/// - Reported over the rest: records/s the collector acknowledged and records/s the stream
///   handed to its sinks (`logpipe_stream_records_total`), the stream's consumer lag in
///   records (`logpipe_stream_lag_records`, summed over partitions: at the end and its
///   maximum) and the analytics' event-time delay (`logpipe_analytics_event_time_delay_seconds`,
///   wall clock minus the newest event time seen: the end-to-end delay), and the process's
///   peak RSS. The stream keeps up when it handled ≥ 95% of what was acknowledged and the
///   lag at the end is under two seconds of input.
public enum LiveBench {
    /// Runs `binary run` at `rate` records/s (logs and events as the generator mixes them)
    /// with the collector on `port` and the generator's API on `generatorPort`, data in
    /// `workDir` (emptied first); returns a text report.
    public static func run(binary: String, rate: Int = 50_000, seconds: Int = 45, warmupSeconds: Int = 10,
                           port: Int, generatorPort: Int, workDir: String) async throws -> String {
        try? FileManager.default.removeItem(atPath: workDir)
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
        let loadBefore = ProductBench.loadAverage()
        let run = try await RunChild(
            binary: binary,
            arguments: ["--data-dir", workDir + "/data", "--port", String(port), "--generator-port", String(generatorPort),
                        "--rate", String(rate), "--batch-size", "500", "--trigger", "0", "--log-level", "warning"],
            workDir: workDir, port: port, timeoutSeconds: 60)
        defer { run.stop() }
        let (child, logPath) = (run.process, run.logPath)

        var samples: [Sample] = []
        let started = ContinuousClock.now
        while Peers.seconds(since: started) < Double(seconds) {
            guard child.isRunning else {
                throw LatencyBench.Failure(description: "logpipe run exited with \(child.terminationStatus); see \(logPath)")
            }
            try await Task.sleep(nanoseconds: 1_000_000_000)
            let response = try HTTP.request(port: port, method: "GET", path: "/metrics")
            guard response.status == 200 else {
                throw LatencyBench.Failure(description: "/metrics answered \(response.status)")
            }
            let text = String(decoding: response.body, as: UTF8.self)
            samples.append(Sample(
                seconds: Peers.seconds(since: started),
                accepted: sum(text, "logpipe_collector_records_total", where: "outcome=\"accepted\""),
                streamed: sum(text, "logpipe_stream_records_total"),
                lag: sum(text, "logpipe_stream_lag_records"),
                delay: maximum(text, "logpipe_analytics_event_time_delay_seconds")))
        }
        let rss = ProductBench.peakRSS(pid: child.processIdentifier)
        run.stop()
        guard let first = samples.first(where: { $0.seconds >= Double(warmupSeconds) }), let last = samples.last,
              last.seconds > first.seconds else {
            throw LatencyBench.Failure(description: "no samples after the \(warmupSeconds) s warm-up; see \(logPath)")
        }
        let span = last.seconds - first.seconds
        let acceptedRate = (last.accepted - first.accepted) / span
        let streamRate = (last.streamed - first.streamed) / span
        let steady = samples.filter { $0.seconds >= first.seconds }
        let maxLag = steady.map(\.lag).max() ?? 0
        let maxDelay = steady.map(\.delay).max() ?? 0
        let keptUp = streamRate >= 0.95 * acceptedRate && last.lag < 2 * acceptedRate
        return """
            live: logpipe run --rate \(rate) (generator → collector → local bus → stream + analytics → lake, one process), \
            \(seconds) s, the first \(warmupSeconds) s not counted
              load average before \(loadBefore), after \(ProductBench.loadAverage()); \(ProcessInfo.processInfo.activeProcessorCount) cores
              collector acknowledged  \(String(format: "%10.0f", acceptedRate)) records/s
              stream handled          \(String(format: "%10.0f", streamRate)) records/s (\(String(format: "%.1f", 100 * streamRate / max(1, acceptedRate)))% of acknowledged)
              consumer lag            \(Int(last.lag)) records at the end, \(Int(maxLag)) at most (\(String(format: "%.2f", last.lag / max(1, acceptedRate))) s of input at the end)
              event-time delay        \(String(format: "%.2f", last.delay)) s at the end, \(String(format: "%.2f", maxDelay)) s at most (wall clock − newest event time the analytics saw)
              peak RSS                \(rss / 1024) MiB
              the stream \(keptUp ? "kept up" : "did NOT keep up") (≥ 95% of acknowledged records/s and < 2 s of input behind at the end)
            """
    }

    struct Sample {
        var seconds: Double
        var accepted: Double
        var streamed: Double
        var lag: Double
        var delay: Double
    }

    /// The values of metric `name` in Prometheus text `text` (lines whose labels contain `filter`).
    static func values(_ text: String, _ name: String, where filter: String? = nil) -> [Double] {
        text.split(separator: "\n").compactMap { line in
            guard line.hasPrefix(name), !line.hasPrefix("#") else { return nil }
            let rest = line.dropFirst(name.count)
            guard rest.first == "{" || rest.first == " " else { return nil }
            if let filter, !rest.contains(filter) { return nil }
            return line.split(separator: " ").last.flatMap { Double($0) }
        }
    }

    static func sum(_ text: String, _ name: String, where filter: String? = nil) -> Double {
        values(text, name, where: filter).reduce(0, +)
    }

    static func maximum(_ text: String, _ name: String) -> Double {
        values(text, name).max() ?? 0
    }
}
