import ArgumentParser
import Configuration
import Logging
import LogpipeBus
import SystemPackage

/// Options every command that touches state shares.
struct CommonOptions: ParsableArguments {
    @Option(help: "A JSON configuration file (keys like {\"collector\": {\"port\": 8081}}).")
    var config: String?

    @Option(help: "Where embedded state lives: the local bus and the lake (default ./data).")
    var dataDir: String?

    @Option(help: "The bus: local:PATH for the embedded log (default local:<data-dir>/bus).")
    var bus: String?

    @Option(help: "Log level: trace, debug, info, notice, warning, error, critical.")
    var logLevel: String?
}

/// Resolved settings: flags first, then LOGPIPE_* environment variables, then the
/// JSON file, then defaults — one `ConfigReader` over the three sources.
struct Settings {
    let reader: ConfigReader

    static func load(_ common: CommonOptions, flags: [String: ConfigValue?] = [:]) async throws -> Settings {
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        let all = flags.merging([
            "data.dir": common.dataDir.map { ConfigValue(.string($0), isSecret: false) },
            "bus": common.bus.map { ConfigValue(.string($0), isSecret: false) },
            "log.level": common.logLevel.map { ConfigValue(.string($0), isSecret: false) },
        ]) { a, _ in a }
        for (key, value) in all {
            if let value { values[AbsoluteConfigKey(key.split(separator: ".").map(String.init))] = value }
        }
        var providers: [any ConfigProvider] = [
            InMemoryProvider(name: "flags", values: values),
            EnvironmentVariablesProvider(
                secretsSpecifier: .dynamic { key, _ in key.hasSuffix("API_KEY") }
            ).prefixKeys(with: "logpipe"),
        ]
        if let file = common.config {
            do {
                providers.append(try await FileProvider<JSONSnapshot>(filePath: FilePath(file)))
            } catch {
                throw ValidationError("cannot read the configuration file \(file): \(error)")
            }
        }
        return Settings(reader: ConfigReader(providers: providers))
    }

    func string(_ key: String, default value: String) -> String {
        reader.string(forKey: ConfigKey(key), default: value)
    }

    func optionalString(_ key: String) -> String? {
        reader.string(forKey: ConfigKey(key))
    }

    func int(_ key: String, default value: Int) -> Int {
        reader.int(forKey: ConfigKey(key), default: value)
    }

    func double(_ key: String, default value: Double) -> Double {
        reader.double(forKey: ConfigKey(key), default: value)
    }

    func optionalDouble(_ key: String) -> Double? {
        reader.double(forKey: ConfigKey(key))
    }

    func bool(_ key: String, default value: Bool) -> Bool {
        reader.bool(forKey: ConfigKey(key), default: value)
    }

    var dataDir: String { string("data.dir", default: "./data") }

    /// The logger every role uses, at the configured level.
    func logger(_ label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = Logger.Level(rawValue: string("log.level", default: "info")) ?? .info
        return logger
    }

    /// Opens the configured bus; the embedded log lives under the data directory by default.
    func openBus() async throws -> any Bus {
        let location = string("bus", default: "local:\(dataDir)/bus")
        if location.hasPrefix("kafka://") {
            throw ValidationError("this build of logpipe has no Kafka support; rebuild with `swift build --traits Kafka`")
        }
        let path = location.hasPrefix("local:") ? String(location.dropFirst("local:".count)) : location
        guard !path.isEmpty else { throw ValidationError("--bus local:PATH needs a directory") }
        return try LocalBus(directory: path, options: LocalBusOptions())
    }
}

/// Wraps a flag for the settings map.
func flag(_ value: String?) -> ConfigValue? { value.map { ConfigValue(.string($0), isSecret: false) } }
/// Wraps a flag for the settings map.
func flag(_ value: Int?) -> ConfigValue? { value.map { ConfigValue(.int($0), isSecret: false) } }
/// Wraps a flag for the settings map.
func flag(_ value: Double?) -> ConfigValue? { value.map { ConfigValue(.double($0), isSecret: false) } }
/// Wraps a secret flag for the settings map, so it never shows in access logs.
func secret(_ value: String?) -> ConfigValue? { value.map { ConfigValue(.string($0), isSecret: true) } }
