import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `logpipe bench latency`: end-to-end latency of the live analytics, from a record's
/// arrival at the collector to its window's metric being visible in the API.
///
/// Runs `logpipe run --no-generator --lateness L --trigger 0` as a child process (so the
/// collector, the embedded bus, the stream worker and the API are the real program) and:
/// - posts, every `intervalMillis`, one request to `POST /api/collect/logs` holding one
///   record per service (`bench-svc-0`…), each with event time = now. Every request thus
///   reaches every partition of `logs.raw`, whatever the services hash to;
/// - a 1-minute window [S, E) *closes* when the watermark passes E, i.e. when the first
///   record with event time ≥ E + L arrives: the moment just before the first request
///   carrying such a record is written to the socket is the window's close time;
/// - polls `GET /api/metrics/services?from=S&to=S+1` every `pollMillis` after a window has
///   closed, until every service's row for [S, E) is there; a (window, service)'s
///   latency is the time from the close to the first response that lists it.
/// Only whole windows (starting after the run began) are measured. Reported: p50, p99
/// and max over (window, service) samples, and per window (until all services are visible).
public enum LatencyBench {
    /// Why the benchmark could not run.
    public struct Failure: Error, CustomStringConvertible {
        /// What went wrong.
        public var description: String
    }

    /// Measures `windows` whole 1-minute windows (about `windows + 2` minutes) against
    /// `binary run`, listening on `port`, with its data in `workDir` (emptied first).
    public static func run(binary: String, port: Int, windows: Int = 30, services: Int = 6, lateness: Double = 1,
                           intervalMillis: Int = 20, pollMillis: Int = 2, workDir: String) async throws -> String {
        try? FileManager.default.removeItem(atPath: workDir)
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
        let run = try await RunChild(
            binary: binary,
            arguments: ["--no-generator", "--data-dir", workDir + "/data", "--port", String(port),
                        "--lateness", String(lateness), "--trigger", "0", "--log-level", "warning"],
            workDir: workDir, port: port, timeoutSeconds: 30)
        defer { run.stop() }
        let (child, logPath) = (run.process, run.logPath)

        let names = (0..<services).map { "bench-svc-\($0)" }
        let state = Shared()
        let firstWindowStart = (Int64(Date().timeIntervalSince1970) / 60 + 1) * 60
        let lastWindowStart = firstWindowStart + Int64(windows - 1) * 60
        let latenessMicros = Int64(lateness * 1_000_000)

        let poster = Thread {
            var lastClosedEnd = Int64.min
            // Varied clients and users, so the probe traffic does not look like a DDoS to the detectors.
            var sequence = 0
            while !state.value.withLock({ $0.stop }) {
                let nowMicros = Int64(Date().timeIntervalSince1970 * 1_000_000)
                // Windows whose end is at or before now − lateness close with this request.
                let closedEnd = (nowMicros - latenessMicros).floorDivided(by: 60_000_000) * 60
                let timestamp = String(format: "%.6f", Double(nowMicros) / 1e6)
                var body = ""
                sequence += 1
                for (index, name) in names.enumerated() {
                    body += #"{"timestamp":\#(timestamp),"level":"INFO","service":"\#(name)","message":"latency probe","metadata":{"response_time_ms":12,"status_code":200,"client_ip":"10.1.\#(index).\#(sequence % 250)","user_id":"user_\#(sequence % 1000)"}}"#
                    body += "\n"
                }
                let sent = DispatchTime.now().uptimeNanoseconds
                if lastClosedEnd != .min && closedEnd > lastClosedEnd {
                    state.value.withLock { $0.closed[closedEnd - 60] = sent }
                }
                lastClosedEnd = closedEnd
                do {
                    let response = try HTTP.request(port: port, method: "POST", path: "/api/collect/logs", body: Array(body.utf8),
                                                    contentType: "application/x-ndjson")
                    if response.status >= 300 { state.value.withLock { $0.errors.append("collector answered \(response.status)") } }
                } catch {
                    state.value.withLock { $0.errors.append("\(error)") }
                }
                usleep(useconds_t(intervalMillis * 1000))
            }
        }
        poster.start()
        defer { state.value.withLock { $0.stop = true } }

        // window start → service → first seen (uptime ns)
        var seen: [Int64: [String: UInt64]] = [:]
        var samples: [Double] = []
        var windowSamples: [Double] = []
        let deadline = Date().addingTimeInterval(Double(lastWindowStart - Int64(Date().timeIntervalSince1970)) + 60 + lateness + 30)
        while seen.filter({ $0.value.count == services && $0.key >= firstWindowStart }).count < windows {
            guard child.isRunning else {
                throw Failure(description: "logpipe run ended (\(child.terminationReason == .uncaughtSignal ? "signal" : "exit") \(child.terminationStatus)) after \(windowSamples.count) windows; see \(logPath)")
            }
            guard Date() < deadline else {
                throw Failure(description: "windows did not all appear (\(seen.mapValues(\.count))); see \(logPath); errors: \(state.value.withLock { $0.errors.prefix(3) })")
            }
            let closed = state.value.withLock { $0.closed }
            let pending = closed.keys.filter { $0 >= firstWindowStart && $0 <= lastWindowStart && seen[$0, default: [:]].count < services }
            if pending.isEmpty {
                try await Task.sleep(nanoseconds: 5_000_000)
                continue
            }
            for start in pending.sorted() {
                let response = try HTTP.request(port: port, method: "GET", path: "/api/metrics/services?from=\(start)&to=\(start + 1)&final=true")
                let now = DispatchTime.now().uptimeNanoseconds
                let text = String(decoding: response.body, as: UTF8.self)
                for name in names where seen[start]?[name] == nil && text.contains(#""service":"\#(name)""#) {
                    seen[start, default: [:]][name] = now
                    let closedAt = closed[start]!
                    samples.append(Double(now &- closedAt) / 1e6)
                    if seen[start]!.count == services {
                        windowSamples.append(Double(seen[start]!.values.max()! &- closedAt) / 1e6)
                    }
                }
            }
            try await Task.sleep(nanoseconds: UInt64(pollMillis) * 1_000_000)
        }
        state.value.withLock { $0.stop = true }
        let errors = state.value.withLock { $0.errors }
        guard errors.isEmpty else { throw Failure(description: "posting failed: \(errors.prefix(3))") }

        func row(_ name: String, _ values: [Double]) -> String {
            let sorted = values.sorted()
            func p(_ q: Double) -> Double { sorted[min(sorted.count - 1, max(0, Int((q * Double(sorted.count)).rounded(.up)) - 1))] }
            return name.padding(toLength: 34, withPad: " ", startingAt: 0)
                + String(format: "%6d  %9.1f  %9.1f  %9.1f", sorted.count, p(0.5), p(0.99), sorted.last ?? .nan)
        }
        return """
            latency: record arrival at the collector → its 1-minute window visible, final, in GET /api/metrics/services?final=true
              logpipe run --no-generator --lateness \(lateness) --trigger 0; \(services) services, one request of \(services) records (event time = now) every \(intervalMillis) ms, API polled every \(pollMillis) ms
              close = the first request with a record at event time ≥ window end + lateness is sent; latency = close → first poll that lists the row
              \("".padding(toLength: 34, withPad: " ", startingAt: 0))     n   p50 (ms)   p99 (ms)   max (ms)
              \(row("per (window, service)", samples))
              \(row("per window (all services visible)", windowSamples))
            """
    }

    /// What the posting thread and the polling task share.
    private final class Shared: Sendable {
        let value = Mutex(MeasureState())
    }

    private struct MeasureState {
        var stop = false
        /// Window start (epoch seconds) → when the request closing it was sent (uptime ns).
        var closed: [Int64: UInt64] = [:]
        var errors: [String] = []
    }
}

private extension Int64 {
    /// Division rounding toward −∞, in seconds from micros when `by` is a microsecond count.
    func floorDivided(by divisor: Int64) -> Int64 {
        let q = self / divisor
        return (self % divisor != 0 && (self < 0) != (divisor < 0)) ? q - 1 : q
    }
}

/// A blocking HTTP/1.1 client for loopback, one connection per request (`Connection:
/// close`), so the benchmark measures the server and not a client library's pooling.
enum HTTP {
    struct Response {
        var status: Int
        var body: [UInt8]
    }

    static func request(port: Int, method: String, path: String, body: [UInt8] = [],
                        contentType: String = "application/json") throws -> Response {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw LatencyBench.Failure(description: "socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var one: Int32 = 1
        _ = setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(0x7f00_0001).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard connected == 0 else { throw LatencyBench.Failure(description: "connect: \(String(cString: strerror(errno)))") }
        var request = Array("\(method) \(path) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n".utf8)
        if method == "POST" {
            request += Array("Content-Type: \(contentType)\r\nContent-Length: \(body.count)\r\n".utf8)
        }
        request += Array("\r\n".utf8) + body
        var written = 0
        while written < request.count {
            let n = request[written...].withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else { throw LatencyBench.Failure(description: "write: \(String(cString: strerror(errno)))") }
            written += n
        }
        var response: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else { throw LatencyBench.Failure(description: "read: \(String(cString: strerror(errno)))") }
            if n == 0 { break }
            response += chunk[0..<n]
        }
        // "HTTP/1.1 200 OK\r\n…\r\n\r\nbody"
        guard response.count >= 12, let status = Int(String(decoding: response[9..<12], as: UTF8.self)) else {
            throw LatencyBench.Failure(description: "malformed HTTP response")
        }
        let separator = Array("\r\n\r\n".utf8)
        let headerEnd = response.indices.first { response[$0...].starts(with: separator) }
        return Response(status: status, body: headerEnd.map { Array(response[($0 + 4)...]) } ?? [])
    }
}
