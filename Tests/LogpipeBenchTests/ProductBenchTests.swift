import Foundation
import LogpipeTesting
import Testing
@testable import LogpipeBench

/// `logpipe bench product` end to end at a small size: both collectors, `stream --once` and
/// the DuckDB and pyarrow peers as separate processes, so a change that hangs, breaks or
/// miscounts the benchmark fails here rather than in a 1M-record run.
@Suite struct ProductBenchTests {
    @Test(.timeLimit(.minutes(3)))
    func smallRunReportsEveryStep() async throws {
        let dir = try TemporaryDirectory(prefix: "logpipe-product-bench")
        defer { dir.remove() }
        let report = try await ProductBench.run(
            binary: try TestEnvironment.requireLogpipe(), records: 4_000, hours: 2, port: try LoopbackPort.free(),
            workDir: dir.path + "/work", python: try TestEnvironment.requirePython(), connections: 2)
        let lines = report.split(separator: "\n").map(String.init)
        // The stream read exactly the records posted (run throws otherwise) and says so.
        let stream = try #require(lines.first { $0.contains("logpipe stream --once") })
        #expect(stream.contains("records 4000,"))
        #expect(stream.contains("late rows"))
        for step in ["logpipe collect (POST NDJSON)", "logpipe collect, in order", "duckdb", "pyarrow"] {
            #expect(lines.contains { $0.contains(step) }, "no \(step) line in:\n\(report)")
        }
        // Each peer wrote the hours Logpipe's lake holds (the 2 hours' 3 partial hours, and
        // the hour before when a late record was shifted into it), so the ratios compare like
        // with like.
        let lakeHours = try hourPartitions(under: dir.path + "/work/data/lake/logs/raw")
        #expect((3...4).contains(lakeHours))
        for peer in ["duckdb", "pyarrow"] {
            let line = try #require(lines.first { $0.hasPrefix("  \(peer)") })
            #expect(line.contains("\(lakeHours) files in \(lakeHours) hours"), "\(line)")
        }
    }

    /// The `hour=` directories under `directory`, at any depth.
    func hourPartitions(under directory: String) throws -> Int {
        let paths = try FileManager.default.subpathsOfDirectory(atPath: directory)
        return paths.filter { ($0 as NSString).lastPathComponent.hasPrefix("hour=") }.count
    }
}
