import AsyncHTTPClient
import Foundation
import LogpipeTesting
import NIOCore
import Testing

/// The live analytics view through `logpipe run` as a real process.
@Suite("Live analytics view through logpipe run")
struct LiveViewProcessTests {
    static func get(_ client: HTTPClient, _ url: String) async throws -> [[String: Any]] {
        let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 22)
        return try JSONSerialization.jsonObject(with: Data(buffer: body)) as? [[String: Any]] ?? []
    }

    static func canonical(_ object: [String: Any]) throws -> String {
        String(decoding: try JSONSerialization.data(withJSONObject: object, options: [.sortedKeys]), as: UTF8.self)
    }

    @Test("records posted: open windows within seconds (is_final false), then the same windows final, equal to the lake's")
    func openWindowsWithinSeconds() async throws {
        let dir = try TemporaryDirectory(prefix: "logpipe-live")
        defer { dir.remove() }
        let port = try LoopbackPort.free()
        let child = try ChildProcess(executable: TestEnvironment.logpipeBinary, arguments: [
            "run", "--no-generator", "--data-dir", dir.path, "--port", String(port), "--lateness", "2",
            "--idle-timeout", "4", "--log-level", "warning",
        ])
        var exited = false
        defer { if !exited { child.kill(SIGKILL) } }
        try await LoopbackPort.waitUntilListening(port, timeout: .seconds(30)) {
            String(decoding: child.standardError, as: UTF8.self)
        }
        let client = HTTPClient.shared

        // 300 records over two services, dated within the minute before the one 5 s ago began.
        let m = (Int64(Date().timeIntervalSince1970) - 5) / 60 * 60
        var body = ""
        for i in 0..<300 {
            let t = Double(m - 40) + Double(i) * 0.1
            body += #"{"timestamp":\#(t),"level":"INFO","service":"live-\#(i % 2)","message":"m","metadata":{"response_time_ms":\#(i % 90),"status_code":200,"client_ip":"10.2.0.\#(i % 200)","user_id":"user_\#(i)"}}"#
            body += "\n"
        }
        var post = HTTPClientRequest(url: "http://127.0.0.1:\(port)/api/collect/logs")
        post.method = .POST
        post.headers.add(name: "Content-Type", value: "application/x-ndjson")
        post.body = .bytes(ByteBuffer(string: body))
        let posted = ContinuousClock.now
        let response = try await client.execute(post, timeout: .seconds(10))
        #expect(response.status.code == 200)

        let url = "http://127.0.0.1:\(port)/api/metrics/services?from=\(m - 60)&to=\(m)"
        var open: [[String: Any]] = []
        var seenOpenAfter: Duration?
        var final: [[String: Any]] = []
        let systemURL = "http://127.0.0.1:\(port)/api/metrics/system?from=\(m - 60)&to=\(m)"
        var systemOpen = false
        // Client-IP windows are 5 minutes: the records' may still be open when the test ends.
        let clientsURL = "http://127.0.0.1:\(port)/api/metrics/clients?from=\(m - 400)&to=\(m)"
        var clientsOpen = false
        while ContinuousClock.now - posted < .seconds(40) {
            let clients = try await Self.get(client, clientsURL)
            if !clientsOpen, clients.count == 200, clients.allSatisfy({ $0["is_final"] as? Bool == false }),
               clients.reduce(0, { $0 + (($1["request_count"] as? Int) ?? 0) }) == 300 {
                clientsOpen = true
            }
            // The system-wide window combines every partition's part, open ones too.
            let system = try await Self.get(client, systemURL)
            if system.count == 1, system[0]["is_final"] as? Bool == false, system[0]["request_count"] as? Int == 300 { systemOpen = true }
            let rows = try await Self.get(client, url)
            let counts = rows.reduce(0) { $0 + (($1["request_count"] as? Int) ?? 0) }
            if seenOpenAfter == nil, !rows.isEmpty, rows.allSatisfy({ $0["is_final"] as? Bool == false }) {
                seenOpenAfter = ContinuousClock.now - posted
                open = rows
            }
            if rows.count == 2, counts == 300, rows.allSatisfy({ $0["is_final"] as? Bool == true }) {
                final = rows
                break
            }
            try await Task.sleep(for: .milliseconds(100))
        }
        let finalOnlyBeforeClose = seenOpenAfter != nil
        #expect(finalOnlyBeforeClose, "no open window was served before the windows closed")
        if let seenOpenAfter { #expect(seenOpenAfter < .seconds(5), "open windows after \(seenOpenAfter)") }
        #expect(open.allSatisfy { ($0["service"] as? String)?.hasPrefix("live-") == true })
        #expect(final.count == 2, "the windows did not close: \(final)")
        let finalOnly = try await Self.get(client, url + "&final=true")
        #expect(finalOnly.count == 2)
        #expect(systemOpen, "no open system-wide window of all 300 records was served")
        #expect(clientsOpen, "no open client-IP windows of all 300 records (200 IPs) were served")
        // It closes once every partition's watermark passed it; partitions that never had a
        // record count until twice the idle timeout after start.
        var system = try await Self.get(client, systemURL + "&final=true")
        while system.isEmpty, ContinuousClock.now - posted < .seconds(40) {
            try await Task.sleep(for: .milliseconds(100))
            system = try await Self.get(client, systemURL + "&final=true")
        }
        #expect(system.count == 1 && system.first?["request_count"] as? Int == 300)

        // The lake holds the same final windows, and no open ones.
        let lake = dir.appending("lake/metrics/services")
        var lakeRows: [String] = []
        while lakeRows.count < 2, ContinuousClock.now - posted < .seconds(45) {
            lakeRows = []
            for path in (try? FileManager.default.subpathsOfDirectory(atPath: lake)) ?? [] where path.hasSuffix(".json") {
                let text = (try? String(contentsOfFile: lake + "/" + path, encoding: .utf8)) ?? ""
                for line in text.split(separator: "\n") {
                    lakeRows.append(try Self.canonical(try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]))
                }
            }
            if lakeRows.count < 2 { try await Task.sleep(for: .milliseconds(100)) }
        }
        #expect(Set(lakeRows) == Set(try final.map(Self.canonical)) && lakeRows.count == 2)

        child.kill(SIGTERM)
        _ = await child.waitForExit()
        exited = true
    }
}
