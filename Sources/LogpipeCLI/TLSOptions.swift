import ArgumentParser
import Configuration
import LogpipeServers

/// TLS flags for every command that serves HTTP (`run`, `collect`, `stream`, `generate`).
/// One certificate per process: every port it serves speaks HTTPS when it is given.
struct TLSOptions: ParsableArguments {
    @Option(help: "A PEM certificate chain: serve HTTPS instead of HTTP on every port (with --tls-key; or LOGPIPE_TLS_CERT).")
    var tlsCert: String?

    @Option(help: "The PEM private key of --tls-cert (or LOGPIPE_TLS_KEY).")
    var tlsKey: String?

    var flags: [SettingKey: ConfigValue?] { [.tlsCert: flag(tlsCert), .tlsKey: flag(tlsKey)] }

    /// The configured certificate and key, loaded and checked, or nil for plain HTTP; one
    /// without the other, an unreadable file or a key of another certificate is refused.
    static func load(_ settings: Settings) throws(ConfigurationRefused) -> ServerTLS? {
        switch (settings.optionalString(.tlsCert), settings.optionalString(.tlsKey)) {
        case (nil, nil):
            return nil
        case (let cert?, let key?):
            do { return try ServerTLS(certificatePath: cert, keyPath: key) } catch { throw ConfigurationRefused(error.description) }
        case (nil, _?):
            throw ConfigurationRefused("--tls-key needs --tls-cert: give both to serve HTTPS")
        case (_?, nil):
            throw ConfigurationRefused("--tls-cert needs --tls-key: give both to serve HTTPS")
        }
    }
}
