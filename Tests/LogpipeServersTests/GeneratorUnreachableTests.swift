import Foundation
import LogpipeTesting
import Testing

@Suite struct GeneratorUnreachableTests {
    /// A generator pointed at a collector that is not there says so within seconds (the HTTP
    /// client alone would stay silent for a post's 30-second deadline), and stopping it then
    /// is a clean exit, not a post "failed" with a cancellation.
    @Test func saysAtOnceWhenTheCollectorIsDown() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: TestEnvironment.logpipeBinary),
                     "no logpipe binary at \(TestEnvironment.logpipeBinary) (set LOGPIPE_BIN)")
        let dir = try TemporaryDirectory(prefix: "generator-unreachable")
        defer { dir.remove() }
        let collector = try LoopbackPort.free()
        let generatorPort = try LoopbackPort.free()
        let child = try ChildProcess(executable: TestEnvironment.logpipeBinary, arguments: [
            "generate", "--data-dir", dir.appending("data"), "--collector-url", "http://127.0.0.1:\(collector)",
            "--generator-port", String(generatorPort), "--rate", "100",
        ])
        let stderr = { String(decoding: child.standardError, as: UTF8.self) }
        try await eventually("the unreachable collector to be reported", timeout: .seconds(15), describe: stderr) {
            stderr().contains("cannot reach the collector")
        }
        child.kill(SIGINT)
        let status = await child.waitForExit()
        #expect(ChildProcess.exitCode(status) == 0, "\(stderr())")
        #expect(stderr().contains("collector=http://127.0.0.1:\(collector)"), "\(stderr())")
        #expect(!stderr().contains("CancellationError"), "\(stderr())")
        #expect(stderr().contains("generator stopped"), "\(stderr())")
    }
}
