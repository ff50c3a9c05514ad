import Foundation
import LogpipeTesting
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// A bad setting is refused by the real `logpipe` binary before it starts: exit 1, one
/// line on standard error naming the setting, and nothing created on disk.
@Suite(.serialized)
struct RefusedConfigurationTests {
    /// Runs `logpipe <arguments>` with its data directory inside a fresh temporary
    /// directory (`DATA` in the arguments is replaced by it) and checks the refusal.
    func expectRefused(_ arguments: [String], saying expected: String, environment: [String: String]? = nil,
                       sourceLocation: SourceLocation = #_sourceLocation) async throws {
        let directory = try TemporaryDirectory(prefix: "logpipe-refused")
        defer { directory.remove() }
        let data = directory.appending("data")
        let resolved = arguments.map { $0.replacingOccurrences(of: "DATA", with: data) }
        let result = try await ChildProcess.run(try TestEnvironment.requireLogpipe(), resolved, environment: environment, timeout: .seconds(30))
        let lines = result.error.split(separator: "\n")
        #expect(ChildProcess.exitCode(result.status) == 1, "exit status for \(resolved.joined(separator: " ")): \(result.error)", sourceLocation: sourceLocation)
        #expect(lines.count == 1, "one line expected, got: \(result.error)", sourceLocation: sourceLocation)
        #expect(result.error.contains(expected), "\(result.error) does not say \(expected)", sourceLocation: sourceLocation)
        let left = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        #expect(left.isEmpty, "created \(left) for \(resolved.joined(separator: " "))", sourceLocation: sourceLocation)
    }

    @Test("unknown lake schemes and malformed lake URLs")
    func lakeURLs() async throws {
        try await expectRefused(["stream", "--data-dir", "DATA", "--once", "--lake", "gs://lake/pipeline"],
                                saying: "--lake gs://lake/pipeline: unknown lake scheme gs://")
        // A known scheme without what it needs is refused as early, in one line.
        try await expectRefused(["stream", "--data-dir", "DATA", "--once", "--lake", "s3://lake/pipeline"],
                                saying: "--lake s3://lake/pipeline: ", environment: ProcessInfo.processInfo.environment.filter {
                                    !$0.key.hasPrefix("AWS_") && !$0.key.hasPrefix("LOGPIPE_LAKE_S3_")
                                })
        try await expectRefused(["run", "--data-dir", "DATA", "--no-generator", "--lake", "hdfs://namenode:9870/lake"],
                                saying: "unknown lake scheme hdfs://")
        try await expectRefused(["stream", "--data-dir", "DATA", "--once", "--lake", "file://remotehost/lake"],
                                saying: "a file URL must be file:///absolute/path")
        try await expectRefused(["lake", "ls", "--data-dir", "DATA", "--lake", "gs://bucket"], saying: "unknown lake scheme gs://")
        // A URL missing a slash is not a directory named "s3:" (the stream created ./s3:/lake).
        try await expectRefused(["stream", "--data-dir", "DATA", "--once", "--lake", "s3:/lake/pipeline"],
                                saying: "--lake s3:/lake/pipeline: a URL needs s3://, e.g. s3://bucket/prefix")
    }

    @Test("unknown bus schemes and malformed broker lists")
    func busURLs() async throws {
        try await expectRefused(["collect", "--data-dir", "DATA", "--bus", "redis://127.0.0.1:6379"],
                                saying: "--bus redis://127.0.0.1:6379: unknown bus scheme redis://")
        try await expectRefused(["stream", "--data-dir", "DATA", "--once", "--bus", "kafka://broker1"],
                                saying: "each broker must be host:port")
        try await expectRefused(["topics", "--data-dir", "DATA", "--bus", "kafka://broker1:9092,:9093"],
                                saying: "each broker must be host:port")
        try await expectRefused(["collect", "--data-dir", "DATA", "--bus", "local:"], saying: "--bus local:PATH needs a directory")
        try await expectRefused(["collect", "--data-dir", "DATA", "--bus", "kafka:broker1:9092"],
                                saying: "--bus kafka:broker1:9092: a URL needs kafka://, e.g. kafka://host:port")
    }

    @Test("alert webhooks and collector URLs that are not http(s) URLs")
    func webhookURLs() async throws {
        try await expectRefused(["stream", "--data-dir", "DATA", "--once", "--alert-webhook", "hooks.example.com/alert"],
                                saying: "--alert-webhook hooks.example.com/alert: expected an http:// or https:// URL")
        try await expectRefused(["run", "--data-dir", "DATA", "--no-generator", "--alert-webhook", "ftp://hooks.example.com/alert"],
                                saying: "--alert-webhook ftp://hooks.example.com/alert")
        try await expectRefused(["generate", "--data-dir", "DATA", "--collector-url", "127.0.0.1:8081"],
                                saying: "--collector-url 127.0.0.1:8081: expected an http:// or https:// URL")
    }

    @Test("settings of the wrong type, configuration files with unknown keys or not JSON")
    func settingValues() async throws {
        let files = try TemporaryDirectory(prefix: "logpipe-refused-config")
        defer { files.remove() }
        func file(_ name: String, _ text: String) throws -> String {
            let path = files.appending(name)
            try Data(text.utf8).write(to: URL(fileURLWithPath: path))
            return path
        }
        // Read as the default before: the collector listened on 8081 whatever the file said.
        let quoted = try file("quoted.json", #"{"collector": {"port": "9000"}}"#)
        try await expectRefused(["collect", "--data-dir", "DATA", "--config", quoted],
                                saying: #"collector.port in the configuration file \#(quoted): "9000" is not an integer"#)
        let environment = ProcessInfo.processInfo.environment
        try await expectRefused(["stream", "--data-dir", "DATA", "--once"], saying: #"LOGPIPE_STREAM_TRIGGER: "fast" is not a number"#,
                                environment: environment.merging(["LOGPIPE_STREAM_TRIGGER": "fast"]) { _, new in new })
        try await expectRefused(["collect", "--data-dir", "DATA"], saying: #"LOGPIPE_LOG_LEVEL: "verbose" is not a log level"#,
                                environment: environment.merging(["LOGPIPE_LOG_LEVEL": "verbose"]) { _, new in new })
        let typo = try file("typo.json", #"{"colector": {"port": 9000}}"#)
        try await expectRefused(["collect", "--data-dir", "DATA", "--config", typo],
                                saying: "sets colector.port, which no command reads; did you mean collector.port?")
        try await expectRefused(["topics", "--data-dir", "DATA", "--config", try file("torn.json", #"{"collector": "#)],
                                saying: "is not valid JSON")
        try await expectRefused(["topics", "--data-dir", "DATA", "--config", try file("list.json", "[1]")],
                                saying: "must hold a JSON object")
        // The file's librdkafka properties reach librdkafka.
        try await expectRefused(["topics", "--bus", "kafka://127.0.0.1:1", "--config",
                                 try file("kafka.json", #"{"kafka": {"security.protocol": "bogus"}}"#)],
                                saying: #"librdkafka refused security.protocol: Invalid value "bogus""#)
    }

    @Test("directories that cannot be created or written")
    func directories() async throws {
        let directory = try TemporaryDirectory(prefix: "logpipe-refused-file")
        defer { directory.remove() }
        let file = directory.appending("a-file")
        try Data("x".utf8).write(to: URL(fileURLWithPath: file))
        try await expectRefused(["collect", "--bus", "local:\(file)/bus"], saying: "\(file) exists and is not a directory")
        try await expectRefused(["stream", "--data-dir", "DATA", "--once", "--lake", "\(file)/lake"],
                                saying: "--lake \(file)/lake: \(file) exists and is not a directory")
        // /proc refuses new directories even to root.
        try await expectRefused(["stream", "--data-dir", "DATA", "--once", "--lake", "/proc/logpipe-lake"],
                                saying: "--lake /proc/logpipe-lake cannot be created: /proc is not writable")
        #expect(try FileManager.default.contentsOfDirectory(atPath: directory.path) == ["a-file"])
    }

    @Test("ports in use or out of range")
    func ports() async throws {
        let listener = try Listener()
        defer { listener.close() }
        try await expectRefused(["collect", "--data-dir", "DATA", "--port", String(listener.port)],
                                saying: "--port \(listener.port): 127.0.0.1:\(listener.port) is already in use")
        try await expectRefused(["stream", "--data-dir", "DATA", "--api-port", String(listener.port)],
                                saying: "--api-port \(listener.port): 127.0.0.1:\(listener.port) is already in use")
        try await expectRefused(["run", "--data-dir", "DATA", "--port", "0", "--generator-port", String(listener.port)],
                                saying: "--generator-port \(listener.port)")
        try await expectRefused(["collect", "--data-dir", "DATA", "--port", "70000"], saying: "--port 70000: a port is 0 to 65535")
    }

    @Test("API keys too short or missing beyond loopback")
    func apiKeys() async throws {
        try await expectRefused(["collect", "--data-dir", "DATA", "--api-key", "short"], saying: "the API key must be at least 16 characters")
        try await expectRefused(["collect", "--data-dir", "DATA", "--host", "0.0.0.0"], saying: "which is not loopback: set an API key")
    }

    @Test("stream APIs beyond loopback without a key")
    func streamAPIKeys() async throws {
        try await expectRefused(["stream", "--data-dir", "DATA", "--api-host", "0.0.0.0"],
                                saying: "the stream API binds to 0.0.0.0, which is not loopback: set an API key (--api-key or LOGPIPE_STREAM_API_KEY)")
        try await expectRefused(["stream", "--data-dir", "DATA", "--api-key", "short"], saying: "the API key must be at least 16 characters")
    }

    @Test("TLS certificates and keys that are missing, unreadable, not PEM or not a pair")
    func tlsFiles() async throws {
        let files = try TemporaryDirectory(prefix: "logpipe-refused-tls")
        defer { files.remove() }
        let a = try await SelfSignedCertificate.make(in: files.path, name: "a")
        let b = try await SelfSignedCertificate.make(in: files.path, name: "b")
        let garbage = files.appending("garbage.pem")
        try Data("not a certificate".utf8).write(to: URL(fileURLWithPath: garbage))
        try await expectRefused(["collect", "--data-dir", "DATA", "--tls-cert", a.certificatePath], saying: "--tls-cert needs --tls-key")
        try await expectRefused(["run", "--data-dir", "DATA", "--no-generator", "--tls-key", a.keyPath], saying: "--tls-key needs --tls-cert")
        try await expectRefused(["collect", "--data-dir", "DATA", "--tls-cert", files.appending("none.crt"), "--tls-key", a.keyPath],
                                saying: "--tls-cert \(files.appending("none.crt")): cannot read the file")
        try await expectRefused(["collect", "--data-dir", "DATA", "--tls-cert", garbage, "--tls-key", a.keyPath],
                                saying: "--tls-cert \(garbage): not a PEM certificate")
        try await expectRefused(["stream", "--data-dir", "DATA", "--tls-cert", a.certificatePath, "--tls-key", garbage],
                                saying: "--tls-key \(garbage): not a PEM private key")
        try await expectRefused(["collect", "--data-dir", "DATA", "--tls-cert", a.certificatePath, "--tls-key", b.keyPath],
                                saying: "--tls-key \(b.keyPath) does not match --tls-cert \(a.certificatePath)")
        try await expectRefused(["generate", "--data-dir", "DATA", "--collector-url", "https://127.0.0.1:8081", "--tls-ca", garbage],
                                saying: "--tls-ca \(garbage): not a PEM certificate")
    }

    @Test("contradictory flags")
    func contradictions() async throws {
        try await expectRefused(["stream", "--data-dir", "DATA", "--once", "--api-port", "9"],
                                saying: "--once and --api-port 9 contradict")
        try await expectRefused(["stream", "--data-dir", "DATA", "--once", "--trigger", "5"], saying: "--once and --trigger contradict")
        try await expectRefused(["run", "--data-dir", "DATA", "--no-generator", "--rate", "100"],
                                saying: "--no-generator and --rate contradict")
        try await expectRefused(["run", "--data-dir", "DATA", "--port", "18181", "--generator-port", "18181"],
                                saying: "--port and --generator-port are both 18181")
        try await expectRefused(["stream", "--data-dir", "DATA", "--once", "--roll-mib", "0"], saying: "--roll-mib 0: must be at least 1")
    }

    @Test("bus retention settings out of range")
    func busRetention() async throws {
        let environment = ProcessInfo.processInfo.environment.filter { !$0.key.hasPrefix("LOGPIPE_TOPICS_") }
        try await expectRefused(["collect", "--data-dir", "DATA"], saying: "topics.retentionHours -1.0: must be 0 (keep forever) to 1000000 hours",
                                environment: environment.merging(["LOGPIPE_TOPICS_RETENTION_HOURS": "-1"]) { _, new in new })
        try await expectRefused(["run", "--data-dir", "DATA", "--no-generator"], saying: "topics.retentionHours 2000000.0: must be 0 (keep forever) to 1000000 hours",
                                environment: environment.merging(["LOGPIPE_TOPICS_RETENTION_HOURS": "2e6"]) { _, new in new })
        try await expectRefused(["collect", "--data-dir", "DATA"], saying: "topics.retentionMib 0: must be at least 1 (MiB per partition)",
                                environment: environment.merging(["LOGPIPE_TOPICS_RETENTION_MIB": "0"]) { _, new in new })
        try await expectRefused(["run", "--data-dir", "DATA", "--no-generator"], saying: "topics.retentionMib -5: must be at least 1",
                                environment: environment.merging(["LOGPIPE_TOPICS_RETENTION_MIB": "-5"]) { _, new in new })
        try await expectRefused(["collect", "--data-dir", "DATA"], saying: #"LOGPIPE_TOPICS_RETENTION_MIB: "1.5" is not an integer"#,
                                environment: environment.merging(["LOGPIPE_TOPICS_RETENTION_MIB": "1.5"]) { _, new in new })
        let files = try TemporaryDirectory(prefix: "logpipe-refused-config")
        defer { files.remove() }
        let config = files.appending("retention.json")
        try Data(#"{"topics": {"retentionHours": -24}}"#.utf8).write(to: URL(fileURLWithPath: config))
        try await expectRefused(["collect", "--data-dir", "DATA", "--config", config], saying: "topics.retentionHours -24.0: must be 0",
                                environment: environment)
    }
}

/// A loopback listener could not be set up.
private struct ListenFailure: Error {
    let errno: Int32
}

/// A socket listening on a loopback port, so a test can hold a port in use.
private struct Listener {
    let fd: Int32
    let port: Int

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0, listen(fd, 1) == 0 else { throw ListenFailure(errno: errno) }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        self.fd = fd
        port = Int(UInt16(bigEndian: address.sin_port))
    }

    func close() { _ = Glibc.close(fd) }
}
