import AsyncHTTPClient
import Foundation
import LogpipeTesting
import NIOCore
import Testing

/// Real disk-full faults: the bus and the lake each on a small tmpfs that the test fills
/// while `logpipe collect` and `logpipe stream` run, then frees.
@Suite(.serialized)
struct DiskFullProcessTests {
    /// Posts batches of uniquely numbered logs of one service (so each request goes to one
    /// bus partition) and remembers which records a 200 acknowledged.
    final class Poster: @unchecked Sendable {
        let client = HTTPClient(eventLoopGroupProvider: .singleton)
        let url: String
        var next = 0
        var acknowledged: [String] = []
        var refused: [String] = []

        init(port: Int) { url = "http://127.0.0.1:\(port)/api/collect/logs" }

        /// Posts one batch of `count` records; returns the status and the body.
        func post(count: Int = 50) async throws -> (status: Int, body: String) {
            var ids: [String] = []
            var body = ""
            for _ in 0..<count {
                let id = String(format: "disk-%06d", next)
                next += 1
                ids.append(id)
                body += #"{"timestamp": \#(1_767_225_600 + Double(next) / 100), "level": "INFO", "service": "disk-test", "host": "h1", "message": "\#(String(repeating: "x", count: 200))", "metadata": {"request_id": "\#(id)"}}"# + "\n"
            }
            var request = HTTPClientRequest(url: url)
            request.method = .POST
            request.headers.add(name: "Content-Type", value: "application/x-ndjson")
            request.body = .bytes(ByteBuffer(string: body))
            let response = try await client.execute(request, timeout: .seconds(10))
            let text = String(buffer: try await response.body.collect(upTo: 1 << 20))
            if response.status.code == 200 { acknowledged += ids } else { refused += ids }
            return (Int(response.status.code), text)
        }

        func shutdown() async { try? await client.shutdown() }
    }

    /// The ids in the lake's raw logs, as DuckDB reads them (duplicates kept).
    func lakeIDs(_ lake: String) async throws -> [String] {
        let script = """
import sys, glob, duckdb
files = glob.glob(sys.argv[1] + "/logs/raw/**/*.parquet", recursive=True)
if files:
    for (i,) in duckdb.connect().execute(f"select metadata.request_id from read_parquet({files!r})").fetchall():
        print(i)
"""
        let result = try await LakeTesting.runPython(script, arguments: [lake])
        guard result.exitCode == 0 else { throw ChildProcessError.spawn("duckdb: \(result.error)") }
        return result.output.split(separator: "\n").map(String.init)
    }

    @Test("a full bus disk gets 507 and nothing kept, a full lake disk stops the stream's commits; both resume, and every acknowledged record is in the lake exactly once")
    func diskFull() async throws {
        let directory = try TemporaryDirectory(prefix: "logpipe-disk-full")
        defer { directory.remove() }
        let busDisk = try TmpfsMount(at: directory.appending("bus-disk"), bytes: 4 << 20)
        defer { busDisk.unmount() }
        let lakeDisk = try TmpfsMount(at: directory.appending("lake-disk"), bytes: 4 << 20)
        defer { lakeDisk.unmount() }
        let logpipe = try TestEnvironment.requireLogpipe()
        let bus = "local:\(busDisk.path)/bus", lake = "\(lakeDisk.path)/lake"
        let port = try LoopbackPort.free()
        let collector = try ChildProcess(executable: logpipe, arguments: [
            "collect", "--data-dir", directory.appending("data"), "--bus", bus, "--port", String(port)])
        defer { collector.kill() }
        try await LoopbackPort.waitUntilListening(port, timeout: .seconds(30)) { String(decoding: collector.standardError, as: UTF8.self) }
        let stream = try ChildProcess(executable: logpipe, arguments: [
            "stream", "--data-dir", directory.appending("data"), "--bus", bus, "--lake", lake, "--api-port", "0", "--roll-seconds", "1"])
        defer { stream.kill() }
        let streamLog = { String(decoding: stream.standardError, as: UTF8.self) }
        let poster = Poster(port: port)
        defer { Task { await poster.shutdown() } }

        for _ in 0..<4 { #expect(try await poster.post().status == 200) }

        // The bus disk fills: requests are refused with 507 and Retry-After, never acknowledged.
        let busFiller = try busDisk.fill(leaving: 64 << 10)
        var refusals = 0
        for _ in 0..<200 where refusals < 3 {
            let (status, body) = try await poster.post()
            if status == 507 {
                refusals += 1
                #expect(body.contains("no disk space"), "\(body)")
            } else {
                #expect(status == 200, "\(status) \(body)")
            }
        }
        #expect(refusals == 3, "the collector kept acknowledging on a full disk")
        // Space returns: the same collector, without a restart, acknowledges again.
        try FileManager.default.removeItem(atPath: busFiller)
        var recovered = false
        for _ in 0..<50 where !recovered {
            recovered = try await poster.post().status == 200
            if !recovered { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(recovered, "the collector did not recover after space returned. \(String(decoding: collector.standardError, as: UTF8.self))")
        for _ in 0..<4 { #expect(try await poster.post().status == 200) }

        // The lake disk fills: the stream cannot commit, and says why.
        let lakeFiller = try lakeDisk.fill(leaving: 0)
        for _ in 0..<10 { #expect(try await poster.post().status == 200) }
        let failing = ContinuousClock.now + .seconds(30)
        while !streamLog().contains("No space left on device") && ContinuousClock.now < failing {
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(streamLog().contains("No space left on device"), "the stream did not hit the full lake disk: \(streamLog())")
        #expect(try await lakeIDs(lake).count < poster.acknowledged.count, "everything was committed before the lake disk filled")

        // Space returns: the stream resumes from its last commit, and the lake ends up holding
        // exactly the acknowledged records, each once (nothing refused, nothing twice).
        try FileManager.default.removeItem(atPath: lakeFiller)
        var ids: [String] = []
        let resumed = ContinuousClock.now + .seconds(90)
        while ContinuousClock.now < resumed {
            ids = try await lakeIDs(lake)
            if ids.count >= poster.acknowledged.count { break }
            try await Task.sleep(for: .seconds(1))
        }
        #expect(ids.count == poster.acknowledged.count, "lake rows \(ids.count), acknowledged \(poster.acknowledged.count). \(streamLog())")
        #expect(Set(ids).count == ids.count, "duplicates in the lake")
        #expect(Set(ids) == Set(poster.acknowledged))
        #expect(Set(ids).isDisjoint(with: poster.refused))

        stream.kill(SIGTERM)
        collector.kill(SIGTERM)
        #expect(ChildProcess.exitCode(await stream.waitForExit()) == 0, "\(streamLog())")
        #expect(ChildProcess.exitCode(await collector.waitForExit()) == 0)
    }
}
