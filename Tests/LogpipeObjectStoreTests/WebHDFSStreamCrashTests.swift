import Foundation
import LogpipeLake
import LogpipeObjectStore
import LogpipeTesting
import Testing

@Suite(.serialized) struct WebHDFSStreamCrashTests {
    /// `logpipe stream --lake webhdfs://…` is killed with SIGKILL at random moments while
    /// records keep arriving between runs; a last `--once` run finishes. DuckDB, reading the
    /// server's directory (the HDFS contents), finds every record exactly once.
    @Test func killNineWritingToWebHDFSKeepsEveryRecordOnce() async throws {
        try #require(FileManager.default.isExecutableFile(atPath: TestEnvironment.logpipeBinary),
                     "no logpipe binary at \(TestEnvironment.logpipeBinary) (set LOGPIPE_BIN)")
        try await withWebHDFS { server in
            let dir = try TemporaryDirectory(prefix: "webhdfs-kill9")
            defer { dir.remove() }
            var drill = KillNineDrill(busDirectory: dir.appending("bus"), seed: 77)
            try await drill.feed(logs: 8_000, events: 2_000)
            let store = WebHDFSFileStore(configuration: WebHDFSConfiguration(namenode: server.namenode, root: "/data/lake", user: "logpipe"))
            let arguments = ["stream", "--bus", "local:\(drill.busDirectory)", "--lake", "webhdfs://127.0.0.1:\(server.namenodePort)/data/lake",
                             "--hdfs-user", "logpipe", "--roll-mib", "1", "--roll-seconds", "0.05", "--api-port", "0", "--log-level", "error"]
            let outcome = try await drill.killRepeatedly(6, arguments: arguments, store: store, maxDelay: 0.06,
                                                         firstCommitTimeout: 20, refill: (logs: 3_000, events: 600))
            let failure = try await drill.finish(arguments: arguments)
            #expect(outcome.unexpectedExits.isEmpty, "\(outcome.unexpectedExits)")
            #expect(failure == nil, "\(failure ?? "")")
            #expect(outcome.killedMidway >= 3, "only \(outcome.killedMidway) of \(outcome.kills) kills landed with data in flight")
            #expect(try await store.list("_logpipe/staging", recursive: true).isEmpty)
            let mismatches = try await drill.duckDBMismatches(lake: server.storageDirectory + "/data/lake")
            #expect(mismatches.isEmpty, "\(mismatches)")
            // Nothing but committed data files under the datasets.
            let foreign = try await store.list("logs", recursive: true).map(\.name).filter { !($0.hasPrefix("part-") && $0.hasSuffix(".snappy.parquet")) }
            #expect(foreign.isEmpty, "\(foreign)")
        }
    }
}
