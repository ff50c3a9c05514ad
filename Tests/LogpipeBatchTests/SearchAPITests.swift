import Foundation
import LogpipeBatch
import LogpipeLake
import LogpipeTesting
import Testing

#if canImport(FoundationNetworking)
import FoundationNetworking
#endif

/// `GET /api/search` on the collector port of a `logpipe run` process.
@Suite struct SearchAPITests {
    @Test func searchOverHTTPEqualsTheLibraryAndIsCapped() async throws {
        let dir = try TemporaryDirectory(prefix: "batch-api")
        defer { dir.remove() }
        try TestLake.build(root: dir.appending("lake"), logs: 30_000, events: 10)
        let port = try LoopbackPort.free()
        let child = try ChildProcess(executable: TestEnvironment.logpipeBinary, arguments: [
            "run", "--data-dir", dir.path, "--port", String(port), "--no-generator", "--log-level", "warning",
        ])
        defer { child.kill(SIGKILL) }
        try await LoopbackPort.waitUntilListening(port, timeout: .seconds(30)) { String(decoding: child.standardError, as: UTF8.self) }
        func get(_ query: String) async throws -> (Int, Data) {
            let (data, response) = try await URLSession.shared.data(from: URL(string: "http://127.0.0.1:\(port)/api/search?\(query)")!)
            return ((response as! HTTPURLResponse).statusCode, data)
        }
        let from = Int64(TestLake.day) * 1_000_000
        // Everything of one service in 20 hours: more than the 1000-row cap.
        var query = SearchQuery(fromMicros: from, toMicros: from + 20 * 3_600_000_000, limit: 1000)
        query.service = "api-gateway"
        var stats = ScanStatistics()
        let expected = try await LogSearch(store: LocalFileStore(root: dir.appending("lake"))).run(query, statistics: &stats)
        #expect(expected.count == 1000)
        let (status, body) = try await get("from=\(TestLake.day)&to=\(TestLake.day + 72_000)&service=api-gateway&limit=5000")
        #expect(status == 200, "\(String(decoding: body, as: UTF8.self))")
        #expect(try JSONDecoder().decode([SearchHit].self, from: body) == expected)
        let (bad, message) = try await get("status=abc")
        #expect(bad == 400)
        #expect(String(decoding: message, as: UTF8.self).contains("status abc"))
        let (misspelt, levels) = try await get("level=EROR")
        #expect(misspelt == 400)
        #expect(String(decoding: levels, as: UTF8.self).contains("level EROR: expected one of TRACE, DEBUG, INFO, WARN, WARNING, ERROR, CRITICAL, FATAL"))
        #expect(try await get("level=error").0 == 200)
    }
}
