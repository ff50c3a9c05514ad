import Foundation

/// `logpipe run` started by a benchmark: its output in `<workDir>/logpipe-run.log` (named in
/// every failure), ready once `/health` answers, interrupted and waited for by `stop()`.
final class RunChild {
    /// The running process.
    let process = Process()
    /// Where its output goes.
    let logPath: String
    private let log: FileHandle

    /// Starts `binary run <arguments>` and waits up to `timeoutSeconds` for `/health` on `port`.
    init(binary: String, arguments: [String], workDir: String, port: Int, timeoutSeconds: Double) async throws {
        logPath = workDir + "/logpipe-run.log"
        _ = FileManager.default.createFile(atPath: logPath, contents: nil)
        log = try FileHandle(forWritingTo: URL(fileURLWithPath: logPath))
        process.executableURL = URL(fileURLWithPath: binary)
        process.arguments = ["run"] + arguments
        process.standardOutput = log
        process.standardError = log
        try process.run()
        let began = ContinuousClock.now
        while (try? HTTP.request(port: port, method: "GET", path: "/health")) == nil {
            guard process.isRunning, Peers.seconds(since: began) < timeoutSeconds else {
                stop()
                throw LatencyBench.Failure(description: "logpipe run did not answer on port \(port); see \(logPath)")
            }
            try await Task.sleep(nanoseconds: 20_000_000)
        }
    }

    /// Interrupts it (a graceful stop) if it still runs, waits for it, closes the log.
    func stop() {
        if process.isRunning {
            process.interrupt()
            process.waitUntilExit()
        }
        try? log.close()
    }
}
