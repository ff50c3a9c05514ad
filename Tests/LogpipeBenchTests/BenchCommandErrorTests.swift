import Foundation
import LogpipeTesting
import Testing

@Suite struct BenchCommandErrorTests {
    /// A size that cannot run is refused before anything starts, in one line naming it (a
    /// zero-record product bench ran the collectors and the stream, then failed in DuckDB
    /// with its whole Python script printed).
    @Test(arguments: [
        (["bench", "product", "--records", "0"], "--records 0: must be at least 1"),
        (["bench", "live", "--rate", "0"], "--rate 0: must be at least 1"),
        (["bench", "live", "--duration", "0"], "--duration 0: must be at least 1"),
    ])
    func sizesBelowOneAreRefused(arguments: [String], message: String) async throws {
        try #require(FileManager.default.isExecutableFile(atPath: TestEnvironment.logpipeBinary),
                     "no logpipe binary at \(TestEnvironment.logpipeBinary) (set LOGPIPE_BIN)")
        let dir = try TemporaryDirectory(prefix: "bench-errors")
        defer { dir.remove() }
        let child = try ChildProcess(executable: TestEnvironment.logpipeBinary, arguments: arguments + ["--work-dir", dir.path])
        let status = await child.waitForExit()
        let stderr = String(decoding: child.standardError, as: UTF8.self)
        #expect(ChildProcess.exitCode(status) == 64, "\(stderr)")
        #expect(stderr.contains(message), "\(stderr)")
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir.path).isEmpty, "the bench started")
    }
}
