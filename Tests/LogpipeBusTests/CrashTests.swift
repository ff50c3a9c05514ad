import Foundation
import LogpipeBus
import LogpipeTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Kills a producing child process with SIGKILL at random moments, restarts it
/// on the same directory each time, and checks that every record it reported
/// as acknowledged is readable at its offset with its value, offsets have no
/// gaps, and nothing corrupt is served.
@Suite struct BusCrashTests {
    /// The child command: `LOGPIPE_BUS_CRASH_CHILD` (a command line, split on
    /// spaces, the directory appended), else `$LOGPIPE_BIN _bus-crash-child`, else
    /// `logpipe _bus-crash-child` or a `logpipe-bus-crasher` beside the test bundle.
    static func childCommand() -> [String]? {
        let environment = ProcessInfo.processInfo.environment
        if let command = environment["LOGPIPE_BUS_CRASH_CHILD"], !command.isEmpty {
            return command.split(separator: " ").map(String.init)
        }
        if let binary = environment["LOGPIPE_BIN"], FileManager.default.isExecutableFile(atPath: binary) {
            return [binary, "_bus-crash-child"]
        }
        let buildDirectory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        let candidates: [(String, [String])] = [("logpipe", ["_bus-crash-child"]), ("logpipe-bus-crasher", [])]
        for (name, arguments) in candidates {
            let path = buildDirectory.appendingPathComponent(name).path
            if FileManager.default.isExecutableFile(atPath: path) { return [path] + arguments }
        }
        return nil
    }

    @Test(.timeLimit(.minutes(2)))
    func acknowledgedRecordsSurviveRepeatedSIGKILL() async throws {
        guard let command = Self.childCommand() else {
            Issue.record("no crash child: build `logpipe` (with _bus-crash-child) or set LOGPIPE_BUS_CRASH_CHILD")
            return
        }
        let dir = try TemporaryDirectory(prefix: "logpipe-bus-crash")
        defer { dir.remove() }
        var acknowledged: [BusCrashChild.Acknowledged] = []
        let kills = 20
        for round in 0..<kills {
            let child = try ChildProcess(executable: command[0], arguments: Array(command.dropFirst()) + [dir.path])
            try await Task.sleep(for: .milliseconds(Int.random(in: 20...300)))
            child.kill(SIGKILL)
            let status = await child.waitForExit()
            let stderr = String(decoding: child.standardError, as: UTF8.self)
            #expect(ChildProcess.killedBySignal(status) == SIGKILL, "round \(round): child ended on its own (status \(status)): \(stderr)")
            acknowledged += try BusCrashChild.parse(child.standardOutput)
        }
        #expect(acknowledged.count >= 100, "only \(acknowledged.count) records acknowledged over \(kills) runs")

        // Every acknowledged record at its offset, none twice, no gaps; at most one batch of
        // 20 per producer (4) per kill that no one was told of.
        try await verifyAcknowledged(dir.path, acknowledged, maxUnacknowledged: kills * 4 * 20)
    }
}
