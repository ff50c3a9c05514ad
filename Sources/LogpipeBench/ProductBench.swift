import Foundation
import LogpipeGenerator
#if canImport(Glibc)
import Glibc
#endif

/// `logpipe bench product`: the product path as a user runs it, each step a separate
/// process of the `logpipe` binary, against DuckDB, pyarrow (and Spark with `--spark`)
/// on the same records in the same run.
///
/// - Records: `records` generated logs from 8 services, event times evenly spread over
///   `hours` (48 from the command) ending an hour before now (none is future); 2% are shifted back by up to
///   2 minutes (out of order, within the allowed lateness) and 0.5% by 15–30 minutes
///   (late, behind the watermark). Written once as NDJSON for every peer.
/// - Ingest (timed): `logpipe collect` on a fresh data directory; `connections` keep-alive
///   connections POST the NDJSON, 5,000 records per request (`application/x-ndjson`), each
///   acknowledged only once durable. Rate: acknowledged records / wall time of the posting.
///   Peak RSS: the collector's `VmHWM` before it is stopped with SIGTERM. That bus is then
///   deleted: concurrent connections interleave requests 14 minutes of event time apart, so
///   most records would reach the stream behind the watermark.
/// - The stream's bus (timed, reported): a second collector, one connection, requests in
///   generated order, so the bus carries the stated disorder and nothing more.
/// - Stream (timed): `/usr/bin/time logpipe stream --once` on that data directory with the
///   CLI's defaults (raw hourly lake and analytics): wall seconds and peak RSS of the process,
///   and the late rows it wrote (`lake/late/logs`), so the input's disorder stays visible.
/// - Peers (timed the same way, whole process under `/usr/bin/time`): DuckDB `read_json` →
///   `COPY … (FORMAT parquet, PARTITION_BY (year, month, day, hour))`, pyarrow `read_json` →
///   `write_dataset` hive-partitioned, and with `spark` Spark Structured Streaming (file
///   source of 100k-record files, one per micro-batch → partitioned Parquet, `local[2]`).
public enum ProductBench {
    /// Records per POST, as the issue's user sends them.
    static let recordsPerRequest = 5_000

    /// Runs the benchmark with `binary` (the `logpipe` executable) in `workDir` (emptied
    /// first), the collector on loopback `port`, and returns a text report.
    public static func run(binary: String, records: Int = 1_000_000, hours: Int = 48, port: Int, workDir: String,
                           python: String = "python3", spark: Bool = false, connections: Int = 4) async throws -> String {
        try? FileManager.default.removeItem(atPath: workDir)
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
        let loadBefore = loadAverage()
        let (ndjson, requests) = generate(records: records, hours: hours)
        let input = workDir + "/input.ndjson"
        try Data(ndjson).write(to: URL(fileURLWithPath: input))

        // Ingest (the figure): `connections` connections on a bus of its own. Concurrent
        // connections interleave neighbouring requests (each spans ~14 minutes of event time at
        // 1M records), which would put most records behind the watermark; so the stream reads a
        // second bus, posted over one connection in generated order, that carries only the
        // stated disorder.
        let ingest = try await collect(binary: binary, dataDir: workDir + "/ingest", port: port, ndjson: ndjson,
                                       requests: requests, connections: connections)
        try? FileManager.default.removeItem(atPath: workDir + "/ingest")
        let dataDir = workDir + "/data"
        let ordered = try await collect(binary: binary, dataDir: dataDir, port: port, ndjson: ndjson,
                                        requests: requests, connections: 1)

        // Stream: the backfill a user runs on that data directory.
        let (streamSeconds, streamRSS, output) = try LateBackfillBench.timed(
            binary, ["stream", "--once", "--data-dir", dataDir, "--log-level", "warning"])
        guard output.contains("records \(records),") else {
            throw Peers.Failure(description: "logpipe stream --once read other than \(records) records: \(output)")
        }
        let lateRows = try countLines(under: dataDir + "/lake/late/logs")

        var rows: [Row] = [
            Row(name: "logpipe collect (POST NDJSON)", seconds: ingest.seconds, rssKiB: ingest.rssKiB,
                note: "\(connections) connections, \(recordsPerRequest)/request, all 2xx"),
            Row(name: "logpipe collect, in order", seconds: ordered.seconds, rssKiB: ordered.rssKiB,
                note: "1 connection, generated order: the bus the stream reads"),
            Row(name: "logpipe stream --once", seconds: streamSeconds, rssKiB: streamRSS,
                note: output.trimmingCharacters(in: .whitespacesAndNewlines)
                    + String(format: "; late rows %d (%.2f%%)", lateRows, 100 * Double(lateRows) / Double(records))),
        ]
        let peerNames = ["duckdb", "pyarrow"] + (spark ? ["spark"] : [])
        for peer in peerNames {
            let run = try Peers.rawToLake(peer, python: python, input: input, out: workDir + "/" + peer, workDir: workDir)
            rows.append(Row(name: run.name, seconds: run.processSeconds, rssKiB: run.rssKiB,
                            note: String(format: "%@; %d files in %d hours; %.2f s inside the script",
                                         run.note, run.files, run.hours, run.seconds)))
        }
        let loadAfter = loadAverage()

        let streamRate = Double(records) / streamSeconds
        var report = """
            product path: \(records) logs (\(ndjson.count / 1_000_000) MB NDJSON), \(hours) h of event time, 8 services, \
            2% out of order by ≤ 2 min, 0.5% late by 15–30 min
              load average before \(loadBefore), after \(loadAfter); \(ProcessInfo.processInfo.activeProcessorCount) cores
              \("step".padding(toLength: 36, withPad: " ", startingAt: 0))  seconds   records/s  peak RSS MiB  logpipe stream / peer

            """
        for row in rows {
            let rate = Double(records) / row.seconds
            report += "  " + row.name.padding(toLength: 36, withPad: " ", startingAt: 0)
            report += String(format: "  %7.2f  %10.0f  %12d", row.seconds, rate, row.rssKiB / 1024)
            report += row.name.hasPrefix("logpipe") ? String(repeating: " ", count: 23) : String(format: "  %20.2fx ", streamRate / rate)
            report += " \(row.note)\n"
        }
        report += "  all times: whole process wall clock (/usr/bin/time), except collect: first POST to last acknowledgement\n"
        return report
    }

    struct Row {
        var name: String
        var seconds: Double
        var rssKiB: Int
        var note: String
    }

    /// The NDJSON and, per request, its byte range (`recordsPerRequest` lines each).
    static func generate(records: Int, hours: Int) -> ([UInt8], [Range<Int>]) {
        var generator = RecordGenerator(seed: 20_261_129, services: 8)
        var disorder = SeededRandom(seed: 14)
        let span = Double(hours) * 3600
        let start = Double(Int(Date().timeIntervalSince1970) / 60 * 60) - 3600 - span
        let spacing = span / Double(max(1, records))
        var out: [UInt8] = []
        out.reserveCapacity(records * 340)
        var requests: [Range<Int>] = []
        var requestStart = 0
        for i in 0..<records {
            var timestamp = start + Double(i) * spacing
            let draw = disorder.unit()
            if draw < 0.005 {
                timestamp -= 900 + disorder.unit() * 900
            } else if draw < 0.025 {
                timestamp -= disorder.unit() * 120
            }
            generator.appendLog(to: &out, timestamp: timestamp)
            out.append(UInt8(ascii: "\n"))
            if (i + 1) % recordsPerRequest == 0 || i == records - 1 {
                requests.append(requestStart..<out.count)
                requestStart = out.count
            }
        }
        return (out, requests)
    }

    /// POSTs every request over `connections` keep-alive connections, each on its own
    /// thread (the socket calls block), request `i` on connection `i % connections`.
    static func post(ndjson: [UInt8], requests: [Range<Int>], port: Int, connections: Int) async throws {
        try await withThrowingTaskGroup(of: Void.self) { group in
            for c in 0..<connections {
                group.addTask {
                    try await withCheckedThrowingContinuation { (continuation: CheckedContinuation<Void, Error>) in
                        Thread {
                            do {
                                let client = try LoopbackHTTPClient(port: port)
                                defer { client.close() }
                                for r in stride(from: c, to: requests.count, by: connections) {
                                    let status = try ndjson[requests[r]].withUnsafeBytes {
                                        try client.post(path: "/api/collect/logs", contentType: "application/x-ndjson", body: $0)
                                    }
                                    guard (200..<300).contains(status) else {
                                        throw Peers.Failure(description: "the collector answered \(status) to request \(r)")
                                    }
                                }
                                continuation.resume()
                            } catch {
                                continuation.resume(throwing: error)
                            }
                        }.start()
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Starts `logpipe collect` on a fresh `dataDir`, POSTs every request over `connections`
    /// connections and stops it (SIGTERM); returns the posting's wall time (first POST to last
    /// acknowledgement) and the collector's peak RSS.
    static func collect(binary: String, dataDir: String, port: Int, ndjson: [UInt8], requests: [Range<Int>],
                        connections: Int) async throws -> (seconds: Double, rssKiB: Int) {
        let collector = Process()
        collector.executableURL = URL(fileURLWithPath: binary)
        collector.arguments = ["collect", "--data-dir", dataDir, "--port", String(port), "--log-level", "warning"]
        try collector.run()
        let result: (seconds: Double, rssKiB: Int)
        do {
            try waitUntilListening(port: port, process: collector)
            let began = ContinuousClock.now
            try await post(ndjson: ndjson, requests: requests, port: port, connections: connections)
            result = (Peers.seconds(since: began), peakRSS(pid: collector.processIdentifier))
        } catch {
            collector.terminate()
            collector.waitUntilExit()
            throw error
        }
        collector.terminate()
        collector.waitUntilExit()
        guard collector.terminationStatus == 0 else {
            throw Peers.Failure(description: "logpipe collect exited with \(collector.terminationStatus) after SIGTERM")
        }
        return result
    }

    /// Lines in every file under `directory` (the stream's late rows are NDJSON, one a line);
    /// 0 when it does not exist (no row was late).
    static func countLines(under directory: String) throws -> Int {
        guard let files = FileManager.default.enumerator(atPath: directory) else { return 0 }
        var lines = 0
        for case let path as String in files {
            var isDirectory: ObjCBool = false
            let full = directory + "/" + path
            guard FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory), !isDirectory.boolValue else { continue }
            let data = try Data(contentsOf: URL(fileURLWithPath: full))
            lines += data.withUnsafeBytes { $0.reduce(0) { $0 + ($1 == UInt8(ascii: "\n") ? 1 : 0) } }
        }
        return lines
    }

    /// Waits (up to a minute) until `port` accepts connections, failing early if `process` exits.
    static func waitUntilListening(port: Int, process: Process) throws {
        let deadline = ContinuousClock.now + .seconds(60)
        while ContinuousClock.now < deadline {
            if let client = try? LoopbackHTTPClient(port: port) {
                client.close()
                return
            }
            guard process.isRunning else {
                throw Peers.Failure(description: "logpipe collect exited with \(process.terminationStatus) before listening")
            }
            usleep(50_000)
        }
        throw Peers.Failure(description: "logpipe collect did not listen on port \(port) within 60 s")
    }

    /// Peak resident set size of a live process in KiB (`VmHWM`), 0 if unreadable.
    static func peakRSS(pid: Int32) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix("VmHWM:") }) else { return 0 }
        return Int(line.split(separator: " ")[1]) ?? 0
    }

    /// The 1, 5 and 15-minute load averages, as /proc/loadavg gives them.
    static func loadAverage() -> String {
        let text = (try? String(contentsOfFile: "/proc/loadavg", encoding: .utf8)) ?? ""
        return text.split(separator: " ").prefix(3).joined(separator: " ")
    }

}

/// A blocking HTTP/1.1 keep-alive client for loopback, so posting costs the collector's
/// time rather than a client library's.
final class LoopbackHTTPClient {
    private let fd: Int32
    private var buffer = [UInt8](repeating: 0, count: 65_536)

    /// Connects to 127.0.0.1:`port`.
    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Peers.Failure(description: "socket: errno \(errno)") }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let result = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard result == 0 else {
            let code = errno
            Glibc.close(fd)
            throw Peers.Failure(description: "connect to 127.0.0.1:\(port): errno \(code)")
        }
    }

    func close() { Glibc.close(fd) }

    /// Sends one POST and reads its whole response; returns the status code.
    func post(path: String, contentType: String, body: UnsafeRawBufferPointer) throws -> Int {
        let head = "POST \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n\r\n"
        try Array(head.utf8).withUnsafeBytes { try send($0) }
        try send(body)
        // Headers, then a Content-Length or chunked body.
        var received: [UInt8] = []
        var headerEnd: Int? = nil
        while headerEnd == nil {
            try receive(into: &received)
            headerEnd = find([13, 10, 13, 10], in: received).map { $0 + 4 }
        }
        let header = String(decoding: received[..<headerEnd!], as: UTF8.self).lowercased()
        let statusLine = header.split(separator: "\r\n").first ?? ""
        let status = statusLine.split(separator: " ").dropFirst().first.flatMap { Int($0) } ?? 0
        if let line = header.split(separator: "\r\n").first(where: { $0.hasPrefix("content-length:") }),
           let length = Int(line.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) {
            while received.count < headerEnd! + length { try receive(into: &received) }
        } else if header.contains("transfer-encoding: chunked") {
            while find(Array("0\r\n\r\n".utf8), in: received[headerEnd!...]) == nil { try receive(into: &received) }
        }
        return status
    }

    private func send(_ bytes: UnsafeRawBufferPointer) throws {
        var sent = 0
        while sent < bytes.count {
            let n = Glibc.send(fd, bytes.baseAddress! + sent, bytes.count - sent, Int32(MSG_NOSIGNAL))
            guard n > 0 else { throw Peers.Failure(description: "send: errno \(errno)") }
            sent += n
        }
    }

    private func receive(into received: inout [UInt8]) throws {
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        guard n > 0 else { throw Peers.Failure(description: "the collector closed the connection (errno \(errno))") }
        received.append(contentsOf: buffer[..<n])
    }

    private func find<C: Collection>(_ needle: [UInt8], in haystack: C) -> Int? where C.Element == UInt8, C.Index == Int {
        guard haystack.count >= needle.count else { return nil }
        var i = haystack.startIndex
        while i + needle.count <= haystack.endIndex {
            if haystack[i..<(i + needle.count)].elementsEqual(needle) { return i }
            i += 1
        }
        return nil
    }
}
