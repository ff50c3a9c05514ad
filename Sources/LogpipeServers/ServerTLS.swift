import Foundation
import HummingbirdCore
import HummingbirdTLS
import NIOSSL

/// TLS for an HTTP role: a PEM certificate chain and its private key, loaded and checked
/// once at startup so a bad file is refused before any port is bound.
public struct ServerTLS: Sendable {
    /// The PEM file holding the certificate chain, leaf first.
    public let certificatePath: String
    /// The PEM file holding the private key.
    public let keyPath: String
    /// The chain as loaded; a client of this process trusts it (`clientTrustingSelf`).
    let chain: [NIOSSLCertificate]
    /// The server channel wrapped in TLS, for `Application(server:)`.
    let server: HTTPServerBuilder

    /// Loads `certificatePath` and `keyPath`, refusing unreadable files, files that are not
    /// PEM, and a key that does not belong to the certificate.
    public init(certificatePath: String, keyPath: String) throws(ConfigurationError) {
        self.certificatePath = certificatePath
        self.keyPath = keyPath
        for (flag, path) in [("--tls-cert", certificatePath), ("--tls-key", keyPath)] where !FileManager.default.isReadableFile(atPath: path) {
            throw ConfigurationError("\(flag) \(path): cannot read the file")
        }
        let chain: [NIOSSLCertificate]
        do { chain = try NIOSSLCertificate.fromPEMFile(certificatePath) } catch {
            throw ConfigurationError("--tls-cert \(certificatePath): not a PEM certificate (\(error))")
        }
        guard !chain.isEmpty else { throw ConfigurationError("--tls-cert \(certificatePath): no certificate in the file") }
        let key: NIOSSLPrivateKey
        do { key = try NIOSSLPrivateKey(file: keyPath, format: .pem) } catch {
            throw ConfigurationError("--tls-key \(keyPath): not a PEM private key (\(error))")
        }
        let configuration = TLSConfiguration.makeServerConfiguration(certificateChain: chain.map { .certificate($0) }, privateKey: .privateKey(key))
        // Making the context is where BoringSSL checks that the key signs for the certificate.
        do { _ = try NIOSSLContext(configuration: configuration) } catch {
            throw ConfigurationError("--tls-key \(keyPath) does not match --tls-cert \(certificatePath) (\(error))")
        }
        do { server = try .tls(.http1(), tlsConfiguration: configuration) } catch {
            throw ConfigurationError("cannot set up TLS: \(error)")
        }
        self.chain = chain
    }

    /// A client configuration for this process talking to itself over loopback (`logpipe
    /// run`'s generator posting to its collector): the system's roots plus this certificate,
    /// without checking the host name, since the certificate names the public host while the
    /// connection goes to 127.0.0.1.
    public var clientTrustingSelf: TLSConfiguration {
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.additionalTrustRoots = [.certificates(chain)]
        configuration.certificateVerification = .noHostnameVerification
        return configuration
    }

    /// A client configuration that also trusts the certificates in the PEM file `path`
    /// (a private CA or a self-signed collector certificate), host names checked as usual.
    public static func clientTrusting(_ path: String) throws(ConfigurationError) -> TLSConfiguration {
        let certificates: [NIOSSLCertificate]
        do { certificates = try NIOSSLCertificate.fromPEMFile(path) } catch {
            throw ConfigurationError("--tls-ca \(path): not a PEM certificate (\(error))")
        }
        guard !certificates.isEmpty else { throw ConfigurationError("--tls-ca \(path): no certificate in the file") }
        var configuration = TLSConfiguration.makeClientConfiguration()
        configuration.additionalTrustRoots = [.certificates(certificates)]
        return configuration
    }
}

extension Optional where Wrapped == ServerTLS {
    /// The server channel: HTTP/1.1, inside TLS when configured.
    var server: HTTPServerBuilder { self?.server ?? .http1() }

    /// `https` with TLS, `http` without, for the addresses roles log.
    public var scheme: String { self == nil ? "http" : "https" }
}
