import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// An S3-protocol server for tests: moto's server mode (`moto[server]` from PyPI, which
/// `scripts/setup test` installs into `.venv`) on a free loopback port, in memory.
///
/// moto checks `If-None-Match: *` before it stores, in a threaded server: two truly
/// concurrent conditional PUTs of one key could both succeed there, where AWS S3 and MinIO
/// decide atomically. The launcher serializes requests with one lock so the conditional
/// write is atomic, as on a real bucket. moto does not verify request signatures; the
/// signer is checked against AWS's published vectors instead.
public final class MotoS3Server: Sendable {
    /// The port it listens on, on 127.0.0.1.
    public let port: Int
    private let process: ChildProcess
    private let directory: TemporaryDirectory

    /// The endpoint URL, `http://127.0.0.1:port`.
    public var endpoint: String { "http://127.0.0.1:\(port)" }
    /// The server's process id.
    public var pid: pid_t { process.pid }

    /// Access key and secret the tests sign with (moto accepts any).
    public static let accessKeyId = "logpipe-test"
    /// The secret key.
    public static let secretAccessKey = "logpipe-test-secret"

    private init(port: Int, process: ChildProcess, directory: TemporaryDirectory) {
        self.port = port
        self.process = process
        self.directory = directory
    }

    static let launcher = #"""
import sys, threading
try:
    from werkzeug.serving import run_simple
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
except ImportError as error:
    sys.exit(f"moto[server] is not installed in this Python ({error}): run scripts/setup test")
# Requests name their service in the signature scope (s3), which moto dispatches on.
app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()
def serialized(environ, start_response):
    # One request at a time: moto's conditional PUT is check-then-store.
    with lock:
        return list(app(environ, start_response))
run_simple("127.0.0.1", int(sys.argv[1]), serialized, threaded=True, request_handler=MotoRequestHandler)
"""#

    /// Starts a server and returns once it accepts connections. Buckets are created by the
    /// caller (`S3FileStore.createBucket`).
    public static func start(timeout: Duration = .seconds(30)) async throws -> MotoS3Server {
        let directory = try TemporaryDirectory(prefix: "moto")
        let script = directory.appending("moto_s3.py")
        try Data(launcher.utf8).write(to: URL(fileURLWithPath: script))
        var lastError: any Error = LoopbackPort.Failure(description: "no attempt made")
        for _ in 0..<3 {
            let port = try LoopbackPort.free()
            var environment = ProcessInfo.processInfo.environment
            environment["MOTO_PORT"] = String(port)
            let process = try ChildProcess(executable: TestEnvironment.python,
                                           arguments: TestEnvironment.pythonPrefixArguments + [script, String(port)],
                                           environment: environment)
            let server = MotoS3Server(port: port, process: process, directory: directory)
            do {
                try await LoopbackPort.waitUntilListening(port, timeout: timeout) {
                    "moto: \(String(decoding: process.standardError.suffix(4000), as: UTF8.self))"
                }
                return server
            } catch {
                lastError = error
                process.kill(SIGKILL)
                await process.waitForExit()
                // A launcher that failed (moto missing, a Python error) fails the same way again.
                let text = String(decoding: process.standardError, as: UTF8.self)
                if !text.isEmpty && !text.contains("Address already in use") { break }
            }
        }
        directory.remove()
        throw lastError
    }

    /// Kills the server (its state is memory) and reaps it.
    public func stop() async {
        process.kill(SIGKILL)
        await process.waitForExit()
        directory.remove()
    }
}
