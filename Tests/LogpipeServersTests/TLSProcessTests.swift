import Foundation
import LogpipeTesting
import Testing

/// The HTTP roles over TLS, as real processes with a certificate made in the test and curl
/// as the client: HTTPS works for a client that trusts the certificate, plain HTTP and an
/// untrusting client fail, and `logpipe run`'s own generator posts through TLS.
@Suite(.serialized)
struct TLSProcessTests {
    /// What curl did: its exit code, the HTTP status (0 when there was no response) and the body.
    struct CurlResult {
        var exit: Int32?
        var status: Int
        var body: String
    }

    func curl(_ arguments: [String]) async throws -> CurlResult {
        let curl = try TestEnvironment.tool("curl", debianPackage: "curl")
        let result = try await ChildProcess.run(curl, ["-sS", "--max-time", "10", "-w", "\n%{http_code}"] + arguments, timeout: .seconds(30))
        var lines = result.output.split(separator: "\n", omittingEmptySubsequences: false)
        let status = lines.popLast().flatMap { Int($0) } ?? 0
        return CurlResult(exit: ChildProcess.exitCode(result.status), status: status, body: lines.joined(separator: "\n"))
    }

    /// The sum of a counter's series in a Prometheus text body whose labels contain `labels`.
    func counter(_ name: String, labels: String = "", in body: String) -> Double {
        body.split(separator: "\n").reduce(0) { sum, line in
            guard line.hasPrefix(name + "{") || line.hasPrefix(name + " "), labels.isEmpty || line.contains(labels),
                  let value = line.split(separator: " ").last.flatMap({ Double($0) }) else { return sum }
            return sum + value
        }
    }

    @Test("logpipe run over HTTPS: the generator posts through TLS, curl gets in with the certificate and the key; plain HTTP and an untrusting client fail")
    func runOverTLS() async throws {
        let directory = try TemporaryDirectory(prefix: "logpipe-tls")
        defer { directory.remove() }
        let certificate = try await SelfSignedCertificate.make(in: directory.path)
        let port = try LoopbackPort.free(), generatorPort = try LoopbackPort.free()
        let key = "tls-test-api-key-0123456789"
        let child = try ChildProcess(executable: TestEnvironment.requireLogpipe(), arguments: [
            "run", "--data-dir", directory.appending("data"), "--port", String(port), "--generator-port", String(generatorPort),
            "--rate", "200", "--batch-size", "20", "--api-key", key,
            "--tls-cert", certificate.certificatePath, "--tls-key", certificate.keyPath,
        ])
        defer { child.kill() }
        let log = { String(decoding: child.standardError, as: UTF8.self) }
        try await LoopbackPort.waitUntilListening(port, timeout: .seconds(30), describe: log)
        try await LoopbackPort.waitUntilListening(generatorPort, timeout: .seconds(30), describe: log)
        let base = "https://127.0.0.1:\(port)"
        let trust = ["--cacert", certificate.certificatePath]
        let bearer = ["-H", "Authorization: Bearer \(key)"]

        // Probes and the dashboard page need no key; everything with data does.
        var result = try await curl(trust + ["\(base)/health"])
        #expect(result.exit == 0 && result.status == 200 && result.body == #"{"status":"ok"}"#, "\(result)")
        result = try await curl(trust + ["\(base)/"])
        #expect(result.status == 200 && result.body.contains("<html"), "\(result.status)")
        for path in ["/metrics", "/api/metrics/services", "/api/alerts", "/api/status", "/api/search"] {
            result = try await curl(trust + ["\(base)\(path)"])
            #expect(result.status == 401, "\(path) without the key: \(result.status)")
            result = try await curl(trust + bearer + ["\(base)\(path)"])
            #expect(result.status == 200, "\(path) with the key: \(result.status) \(result.body.prefix(200))")
        }

        // A client that does not trust the certificate stops at verification (curl's 60);
        // plain HTTP on the TLS port gets no HTTP answer at all.
        result = try await curl(["\(base)/health"])
        #expect(result.exit == 60 && result.status == 0, "\(result)")
        result = try await curl(["http://127.0.0.1:\(port)/health"])
        #expect(result.exit != 0 && result.status == 0, "\(result)")
        result = try await curl(["http://127.0.0.1:\(generatorPort)/health"])
        #expect(result.exit != 0 && result.status == 0, "\(result)")

        // A record posted over HTTPS with the key is acknowledged; without the key it is not.
        let record = #"{"timestamp": 1767225600.5, "level": "INFO", "service": "tls-test", "host": "h", "message": "over TLS"}"#
        let post = ["-X", "POST", "-H", "Content-Type: application/json", "--data", record, "\(base)/api/collect/logs"]
        result = try await curl(trust + post)
        #expect(result.status == 401, "\(result)")
        result = try await curl(trust + bearer + post)
        #expect(result.status == 200 && result.body == #"{"accepted":1,"rejected":[]}"#, "\(result)")

        // The built-in generator reaches its collector through TLS with the key: its delivered
        // records grow and none of its posts fail; its own port speaks HTTPS too.
        var delivered = 0.0, generatorMetrics = ""
        let deadline = ContinuousClock.now + .seconds(30)
        while ContinuousClock.now < deadline {
            generatorMetrics = try await curl(trust + ["https://127.0.0.1:\(generatorPort)/metrics"]).body
            delivered = counter("logpipe_generator_records_total", in: generatorMetrics)
            if delivered >= 100 { break }
            try await Task.sleep(for: .milliseconds(200))
        }
        #expect(delivered >= 100, "the generator delivered \(delivered) records over TLS. \(log())")
        #expect(counter("logpipe_generator_failed_requests_total", in: generatorMetrics) == 0, "\(generatorMetrics)")
        let collectorMetrics = try await curl(trust + bearer + ["\(base)/metrics"]).body
        #expect(counter("logpipe_collector_records_total", labels: #"outcome="accepted""#, in: collectorMetrics) >= delivered + 1)

        child.kill(SIGTERM)
        let status = await child.waitForExit()
        #expect(ChildProcess.exitCode(status) == 0, "\(log())")
    }

    @Test("logpipe stream's API over HTTPS with an API key, bound beyond loopback")
    func streamAPIOverTLS() async throws {
        let directory = try TemporaryDirectory(prefix: "logpipe-tls-stream")
        defer { directory.remove() }
        let certificate = try await SelfSignedCertificate.make(in: directory.path)
        let port = try LoopbackPort.free()
        let key = "stream-api-key-0123456789"
        // The stream follows a bus its collector created.
        let collectorPort = try LoopbackPort.free()
        let collector = try ChildProcess(executable: TestEnvironment.requireLogpipe(), arguments: [
            "collect", "--data-dir", directory.appending("data"), "--port", String(collectorPort)])
        defer { collector.kill() }
        try await LoopbackPort.waitUntilListening(collectorPort, timeout: .seconds(30)) { String(decoding: collector.standardError, as: UTF8.self) }
        let child = try ChildProcess(executable: TestEnvironment.requireLogpipe(), arguments: [
            "stream", "--data-dir", directory.appending("data"), "--api-host", "0.0.0.0", "--api-port", String(port),
            "--tls-cert", certificate.certificatePath, "--tls-key", certificate.keyPath,
        ], environment: ProcessInfo.processInfo.environment.merging(["LOGPIPE_STREAM_API_KEY": key]) { _, b in b })
        defer { child.kill() }
        let log = { String(decoding: child.standardError, as: UTF8.self) }
        try await LoopbackPort.waitUntilListening(port, timeout: .seconds(30), describe: log)
        let base = "https://127.0.0.1:\(port)"
        let trust = ["--cacert", certificate.certificatePath]
        var result = try await curl(trust + ["\(base)/health"])
        #expect(result.status == 200, "\(result)")
        for path in ["/metrics", "/api/metrics/system"] {
            result = try await curl(trust + ["\(base)\(path)"])
            #expect(result.status == 401 && result.body.contains("a valid API key is required"), "\(path): \(result)")
            result = try await curl(trust + ["-H", "Authorization: Bearer \(key)x", "\(base)\(path)"])
            #expect(result.status == 401, "\(path) with a wrong key: \(result.status)")
            result = try await curl(trust + ["-H", "Authorization: Bearer \(key)", "\(base)\(path)"])
            #expect(result.status == 200, "\(path) with the key: \(result.status)")
        }
        result = try await curl(["http://127.0.0.1:\(port)/health"])
        #expect(result.exit != 0 && result.status == 0, "\(result)")
        child.kill(SIGTERM)
        #expect(ChildProcess.exitCode(await child.waitForExit()) == 0, "\(log())")
    }
}
