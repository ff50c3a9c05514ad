import Foundation

/// A self-signed certificate and its key, made by Debian's `openssl` for a test: PEM files
/// in a directory the test owns, naming 127.0.0.1 and localhost.
public struct SelfSignedCertificate: Sendable {
    /// The PEM certificate (also the one root a client must trust).
    public let certificatePath: String
    /// The PEM private key.
    public let keyPath: String

    /// Makes `<name>.crt` and `<name>.key` in `directory` (a P-256 key: fast to make).
    public static func make(in directory: String, name: String = "server") async throws -> SelfSignedCertificate {
        let openssl = try TestEnvironment.tool("openssl", debianPackage: "openssl")
        let certificate = "\(directory)/\(name).crt", key = "\(directory)/\(name).key"
        let result = try await ChildProcess.run(openssl, [
            "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", key, "-out", certificate, "-days", "2", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost",
        ], timeout: .seconds(30))
        guard ChildProcess.exitCode(result.status) == 0 else {
            throw ChildProcessError.spawn("openssl req failed: \(result.error)")
        }
        return SelfSignedCertificate(certificatePath: certificate, keyPath: key)
    }
}
