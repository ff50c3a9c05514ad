import Foundation
import LogpipeObjectStore

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
/// write is atomic, as on a real bucket. It also turns on moto's request authentication:
/// an IAM user with an S3 policy is created first, and every later request's SigV4
/// signature is recomputed by moto (with botocore) and refused when it differs.
public final class MotoS3Server: TestServer {
    /// The port it listens on, on 127.0.0.1.
    public let port: Int
    private let process: ChildProcess
    private let directory: TemporaryDirectory

    /// The endpoint URL, `http://127.0.0.1:port`.
    public var endpoint: String { "http://127.0.0.1:\(port)" }
    /// The server's process id.
    public var pid: pid_t { process.pid }

    /// The access key of the IAM user the launcher created (requests must be signed with it).
    public let accessKeyId: String
    /// Its secret key.
    public let secretAccessKey: String

    private init(port: Int, process: ChildProcess, directory: TemporaryDirectory, accessKeyId: String, secretAccessKey: String) {
        self.port = port
        self.process = process
        self.directory = directory
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
    }

    static let launcher = #"""
import json, os, sys, threading, time
# moto checks request signatures (with botocore's S3SigV4Auth) once this many requests have
# passed unauthenticated: the three below that create the test's IAM user, key and policy.
os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = "3"
try:
    import boto3
    from werkzeug.serving import make_server
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
except ImportError as error:
    sys.exit(f"moto[server] is not installed in this Python ({error}): run scripts/setup test")
port = int(sys.argv[1])
# Requests name their service in the signature scope, which moto dispatches on.
app = DomainDispatcherApplication(create_backend_app)
lock = threading.Lock()
def serialized(environ, start_response):
    # One request at a time: moto's conditional PUT is check-then-store.
    with lock:
        return list(app(environ, start_response))
server = make_server("127.0.0.1", port, serialized, threaded=True, request_handler=MotoRequestHandler)
threading.Thread(target=server.serve_forever, daemon=True).start()
iam = boto3.client("iam", endpoint_url=f"http://127.0.0.1:{port}", region_name="us-east-1",
                   aws_access_key_id="bootstrap", aws_secret_access_key="bootstrap")
iam.create_user(UserName="logpipe")
key = iam.create_access_key(UserName="logpipe")["AccessKey"]
iam.put_user_policy(UserName="logpipe", PolicyName="s3", PolicyDocument=json.dumps(
    {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "s3:*", "Resource": "*"}]}))
print(json.dumps({"accessKeyId": key["AccessKeyId"], "secretAccessKey": key["SecretAccessKey"]}), flush=True)
while True:
    time.sleep(3600)
"""#

    /// Starts a server and returns once it accepts connections. Buckets are created by the
    /// caller (`S3FileStore.createBucket`).
    public static func start(timeout: Duration = .seconds(30)) async throws -> MotoS3Server {
        let directory = try TemporaryDirectory(prefix: "moto")
        let script = directory.appending("moto_s3.py")
        try Data(launcher.utf8).write(to: URL(fileURLWithPath: script))
        do {
            return try await LoopbackPort.launch(ports: 1, start: { ports in
                var environment = ProcessInfo.processInfo.environment
                environment["MOTO_PORT"] = String(ports[0])
                return try ChildProcess(executable: TestEnvironment.python,
                                        arguments: TestEnvironment.pythonPrefixArguments + [script, String(ports[0])],
                                        environment: environment)
            }, ready: { process, ports in
                // Ready once the launcher prints the IAM user's key (after its server answered).
                let deadline = ContinuousClock.now + timeout
                while !process.standardOutput.contains(UInt8(ascii: "\n")) {
                    if ContinuousClock.now > deadline || String(decoding: process.standardError, as: UTF8.self).contains("Traceback") {
                        throw LoopbackPort.Failure(description: "moto did not start within \(timeout): \(String(decoding: process.standardError.suffix(4000), as: UTF8.self))")
                    }
                    try await Task.sleep(for: .milliseconds(50))
                }
                let line = String(decoding: process.standardOutput, as: UTF8.self)
                guard let key = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: String],
                      let id = key["accessKeyId"], let secret = key["secretAccessKey"] else {
                    throw LoopbackPort.Failure(description: "moto launcher printed \(line)")
                }
                return MotoS3Server(port: ports[0], process: process, directory: directory, accessKeyId: id, secretAccessKey: secret)
            })
        } catch {
            directory.remove()
            throw error
        }
    }

    /// Kills the server (its state is memory) and reaps it.
    public func stop() async {
        process.kill(SIGKILL)
        await process.waitForExit()
        directory.remove()
    }
}

extension MotoS3Server {
    /// A store on `bucket` of this server under `prefix`, signed with the launcher's IAM user.
    /// Multipart parts are 5 MiB, the smallest S3 allows, so a file over 5 MiB is uploaded in parts.
    public func store(prefix: String, bucket: String = "lake") throws -> S3FileStore {
        try S3FileStore(configuration: S3Configuration(
            bucket: bucket, prefix: prefix, endpoint: endpoint, region: "us-east-1",
            credentials: AWSCredentials(accessKeyId: accessKeyId, secretAccessKey: secretAccessKey),
            partSize: 5 << 20))
    }

    /// Runs `body` with a fresh server holding an empty bucket `lake`, stopped afterwards
    /// (also when `body` throws).
    public static func withLakeBucket<T>(_ body: (MotoS3Server) async throws -> T) async throws -> T {
        try await start().serve { server in
            try await server.store(prefix: "").createBucket()
            return try await body(server)
        }
    }
}
