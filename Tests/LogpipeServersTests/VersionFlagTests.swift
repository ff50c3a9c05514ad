import LogpipeServers
import LogpipeTesting
import Testing

/// `logpipe --version` answers with the version `/metrics` (`logpipe_build_info`) and the
/// dashboard show, so an operator can tell what a host runs without starting it.
struct VersionFlagTests {
    @Test func versionFlagPrintsTheBuildVersion() async throws {
        let result = try await ChildProcess.run(try TestEnvironment.requireLogpipe(), ["--version"], timeout: .seconds(30))
        #expect(ChildProcess.exitCode(result.status) == 0, "\(result.error)")
        #expect(result.output == LogpipeBuild.version + "\n")
    }
}
