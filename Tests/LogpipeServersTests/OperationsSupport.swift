import AsyncHTTPClient
import Foundation
import LogpipeBus
import LogpipeTesting
import NIOCore

/// HTTP, record builders and waiting for the operations tests (Prometheus, the dashboard).
enum Ops {
    static func get(_ url: String) async throws -> (status: Int, body: String) {
        var request = HTTPClientRequest(url: url)
        request.method = .GET
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let body = try await response.body.collect(upTo: 64 << 20)
        return (Int(response.status.code), String(buffer: body))
    }

    static func getJSON(_ url: String) async throws -> Any {
        let (status, body) = try await get(url)
        guard status == 200 else { throw OpsFailure("GET \(url): \(status) \(body)") }
        return try JSONSerialization.jsonObject(with: Data(body.utf8))
    }

    @discardableResult
    static func post(_ url: String, ndjson lines: [String]) async throws -> String {
        var request = HTTPClientRequest(url: url)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/x-ndjson")
        request.body = .bytes(ByteBuffer(string: lines.joined(separator: "\n")))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
        let body = String(buffer: try await response.body.collect(upTo: 1 << 20))
        guard response.status.code == 200 else { throw OpsFailure("POST \(url): \(response.status.code) \(body)") }
        return body
    }

    /// `services` plus as many `pulse-N` services as it takes for their log records (keyed by
    /// service) to land on every one of `partitions` partitions: a record of each moves every
    /// partition's watermark, so no window waits for a silent partition.
    static func servicesCoveringPartitions(_ services: [String], partitions: Int32 = 3) -> [String] {
        var out = services
        var covered = Set(services.map { KafkaPartitioner.partition(key: $0, partitions: partitions) })
        var n = 0
        while covered.count < partitions {
            let name = "pulse-\(n)"
            n += 1
            if covered.insert(KafkaPartitioner.partition(key: name, partitions: partitions)).inserted { out.append(name) }
        }
        return out
    }

    /// One log record at `time` (epoch seconds).
    static func log(_ id: String, service: String, time: Double, ip: String = "10.0.0.1", user: String = "user-1",
                    status: Int = 200, millis: Int = 50) -> String {
        #"{"timestamp":\#(time),"level":"\#(status >= 500 ? "ERROR" : "INFO")","service":"\#(service)","host":"h1","message":"request","metadata":{"request_id":"\#(id)","response_time_ms":\#(millis),"status_code":\#(status),"endpoint":"/api/x","method":"GET","client_ip":"\#(ip)","user_id":"\#(user)"}}"#
    }

    /// One activity event at `time`.
    static func activity(_ id: String, time: Double) -> String {
        #"{"event_id":"\#(id)","timestamp":\#(time),"user_id":"user-1","session_id":"s-1","event_type":"CLICK","event_data":{"page":"/p"},"device":{"type":"mobile","os":"iOS","browser":"Safari"}}"#
    }

    /// Polls `check` until it returns a value, or throws after `timeout` with the last state.
    @discardableResult
    static func waitFor<T>(_ what: String, timeout: Duration = .seconds(60),
                           _ check: () async throws -> (value: T?, state: String)) async throws -> T {
        let deadline = ContinuousClock.now + timeout
        var state = ""
        while ContinuousClock.now < deadline {
            do {
                let (value, s) = try await check()
                state = s
                if let value { return value }
            } catch {
                state = "\(error)"
            }
            try await Task.sleep(for: .milliseconds(250))
        }
        throw OpsFailure("timed out after \(timeout) waiting for \(what); last: \(state)")
    }

    /// Sums the samples of `name` in Prometheus text whose labels contain every `labels` pair.
    static func metric(_ text: String, _ name: String, _ labels: [String: String] = [:]) -> Double? {
        var total: Double?
        for line in text.split(separator: "\n") where line.hasPrefix(name) && !line.hasPrefix("#") {
            let rest = line.dropFirst(name.count)
            guard rest.first == "{" || rest.first == " " else { continue }
            let labelText = rest.first == "{" ? String(rest[rest.index(after: rest.startIndex)..<(rest.firstIndex(of: "}") ?? rest.endIndex)]) : ""
            guard labels.allSatisfy({ labelText.contains("\($0.key)=\"\($0.value)\"") }) else { continue }
            guard let value = Double(String(line.split(separator: " ").last ?? "")) else { continue }
            total = (total ?? 0) + value
        }
        return total
    }

    /// Starts `logpipe` with `arguments` (in `environment`, or this process's) and waits for `ports` to listen.
    static func launch(_ arguments: [String], ports: [Int], environment: [String: String]? = nil) async throws -> ChildProcess {
        let child = try ChildProcess(executable: TestEnvironment.logpipeBinary, arguments: arguments, environment: environment)
        for port in ports {
            try await LoopbackPort.waitUntilListening(port, timeout: .seconds(60)) {
                String(decoding: child.standardError, as: UTF8.self)
            }
        }
        return child
    }
}

struct OpsFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}
