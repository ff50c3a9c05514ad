import Foundation
import Logging
import LogpipeBus
import LogpipeGenerator
import LogpipeServers
import LogpipeTesting
import ServiceLifecycle

/// Collector throughput end to end: wrk posts 100-record JSON arrays, each
/// acknowledged only once durable on the local bus, against the same server's
/// trivial `GET /health` in the same run (the HTTP stack's own ceiling here).
enum CollectorBench {
    struct Result {
        var requestsPerSecond: Double
        var non2xx: Int
        var requests: Int
    }

    static func run(seconds: Int, connections: Int, threads: Int, recordsPerRequest: Int) async throws -> String {
        guard let wrk = which("wrk") else {
            throw BenchError("wrk is not installed: apt-get install wrk")
        }
        let dir = try TemporaryDirectory(prefix: "logpipe-bench-collector")
        defer { dir.remove() }
        var logger = Logger(label: "bench")
        logger.logLevel = .warning
        let bus = try LocalBus(directory: dir.appending("bus"), options: LocalBusOptions())
        try await Ingestor(bus: bus).prepareTopics()
        let (portStream, portContinuation) = AsyncStream.makeStream(of: Int.self)
        let app = LogpipeApplications.collector(
            bus: bus, configuration: CollectorConfiguration(port: 0), logger: logger
        ) { port in portContinuation.yield(port) }
        let group = ServiceGroup(services: [app], logger: logger)
        return try await withThrowingTaskGroup(of: String?.self) { tasks in
            tasks.addTask { try await group.run(); return nil }
            var ports = portStream.makeAsyncIterator()
            guard let port = await ports.next() else { throw BenchError("the collector did not start") }
            let base = "http://127.0.0.1:\(port)"

            var generator = RecordGenerator(seed: 7)
            let body = generator.logArray(count: recordsPerRequest, start: Date().timeIntervalSince1970)
            let bodyPath = dir.appending("body.json")
            try Data(body).write(to: URL(fileURLWithPath: bodyPath))
            let script = dir.appending("post.lua")
            try """
                wrk.method = "POST"
                wrk.headers["Content-Type"] = "application/json"
                local f = io.open("\(bodyPath)", "rb")
                wrk.body = f:read("*a")
                f:close()
                """.write(toFile: script, atomically: true, encoding: .utf8)

            let common = ["-t\(threads)", "-c\(connections)", "-d\(seconds)s", "--latency"]
            let health = try runWrk(wrk, common + ["\(base)/health"])
            let ingest = try runWrk(wrk, common + ["-s", script, "\(base)/api/collect/logs"])
            let committed = try await bus.topics().first { $0.name == "logs.raw" }?.partitions.reduce(0) { $0 + $1.highWatermark } ?? 0

            // Requests wrk left in flight finish before the bus closes.
            await group.triggerGracefulShutdown()
            _ = try await tasks.next()
            try await bus.close()
            let acknowledged = Double(ingest.requests - ingest.non2xx) * Double(recordsPerRequest)
            let recordsPerSecond = ingest.requestsPerSecond * Double(recordsPerRequest) * (acknowledged / Double(max(1, ingest.requests * recordsPerRequest)))
            let report = """
                collector end to end (wrk \(common.joined(separator: " ")), \(recordsPerRequest) records per POST, durable before 2xx)
                  GET /health                     \(fmt(health.requestsPerSecond)) requests/s
                  POST /api/collect/logs          \(fmt(ingest.requestsPerSecond)) requests/s = \(fmt(recordsPerSecond)) records/s acknowledged (non-2xx: \(ingest.non2xx))
                  records on the bus afterwards   \(committed) (acknowledged \(Int(acknowledged)))
                  ratio: ingest requests/s / health requests/s = \(String(format: "%.2f", ingest.requestsPerSecond / max(health.requestsPerSecond, 1)))
                """
            return report
        }!
    }

    private static func runWrk(_ wrk: String, _ arguments: [String]) throws -> Result {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: wrk)
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        func number(after label: String) -> Double? {
            guard let line = output.split(separator: "\n").first(where: { $0.contains(label) }) else { return nil }
            return line.split(separator: " ").last.flatMap { Double($0) }
        }
        guard let rps = number(after: "Requests/sec:") else { throw BenchError("wrk printed no rate:\n\(output)") }
        let requests = output.split(separator: "\n").first { $0.contains("requests in") }
            .flatMap { $0.split(separator: " ").first.flatMap { Int($0) } } ?? 0
        let non2xx = Int(number(after: "Non-2xx or 3xx responses:") ?? 0)
        return Result(requestsPerSecond: rps, non2xx: non2xx, requests: requests)
    }
}

/// A benchmark that cannot run here, with what to do about it.
struct BenchError: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

/// The path of an executable on PATH.
func which(_ name: String) -> String? {
    for dir in (ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin").split(separator: ":") {
        let path = "\(dir)/\(name)"
        if FileManager.default.isExecutableFile(atPath: path) { return path }
    }
    return nil
}

/// A rate with thousands separators.
func fmt(_ value: Double) -> String {
    let formatter = NumberFormatter()
    formatter.numberStyle = .decimal
    formatter.maximumFractionDigits = 0
    return formatter.string(from: NSNumber(value: value)) ?? String(Int(value))
}
