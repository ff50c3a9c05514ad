import ArgumentParser
import Configuration
import Foundation
import Logging
import LogpipeBus
import LogpipeKafka
import LogpipeServers
import SystemPackage

#if canImport(Glibc)
import Glibc
#endif

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

    @Option(name: .customLong("kafka-property"), help: "A librdkafka property for --bus kafka://…, KEY=VALUE (repeatable), e.g. security.protocol=SASL_SSL. LOGPIPE_KAFKA_SECURITY_PROTOCOL=… works too.")
    var kafkaProperties: [String] = []
}

/// Resolved settings: flags first, then LOGPIPE_* environment variables, then the
/// JSON file, then defaults — one `ConfigReader` over the three sources.
struct Settings {
    let reader: ConfigReader

    /// librdkafka properties as `kafka.<property>` keys: LOGPIPE_KAFKA_* variables
    /// (`LOGPIPE_KAFKA_SASL_MECHANISM` → `sasl.mechanism`), then `--kafka-property` flags.
    let kafkaSettings: [String: String]

    static func load(_ common: CommonOptions, flags: [SettingKey: ConfigValue?] = [:]) async throws -> Settings {
        try checkLevel(common.logLevel)
        var kafka: [String: String] = [:]
        var sources: [(provider: any ConfigProvider, source: SettingSource)] = []
        var values: [AbsoluteConfigKey: ConfigValue] = [:]
        let all = flags.merging([
            .dataDir: common.dataDir.map { ConfigValue(.string($0), isSecret: false) },
            .bus: common.bus.map { ConfigValue(.string($0), isSecret: false) },
            .logLevel: common.logLevel.map { ConfigValue(.string($0), isSecret: false) },
        ]) { a, _ in a }
        for (key, value) in all {
            if let value { values[key.absolute] = value }
        }
        sources.append((InMemoryProvider(name: "flags", values: values), .flag))
        sources.append((EnvironmentVariablesProvider(
            secretsSpecifier: .dynamic { key, _ in key.hasSuffix("API_KEY") || key.hasSuffix("SECRET_ACCESS_KEY") }
        ).prefixKeys(with: "logpipe"), .environment))
        if let file = common.config {
            // The file's librdkafka properties come first, so the environment and flags override them.
            kafka = try ConfigurationFile.check(file)
            do {
                sources.append((try await FileProvider<JSONSnapshot>(filePath: FilePath(file)), .file(file)))
            } catch {
                throw ConfigurationRefused("cannot read the configuration file \(file): \(error)")
            }
        }
        for (name, value) in ProcessInfo.processInfo.environment where name.hasPrefix("LOGPIPE_KAFKA_") {
            kafka["kafka." + name.dropFirst("LOGPIPE_KAFKA_".count).lowercased().replacingOccurrences(of: "_", with: ".")] = value
        }
        for property in common.kafkaProperties {
            guard let equals = property.firstIndex(of: "="), equals != property.startIndex else {
                throw ValidationError("--kafka-property \(property): expected KEY=VALUE")
            }
            kafka["kafka." + property[..<equals]] = String(property[property.index(after: equals)...])
        }
        try checkTypes(sources)
        let settings = Settings(reader: ConfigReader(providers: sources.map(\.provider)), kafkaSettings: kafka)
        // Every module's loggers (the bus's, Hummingbird's) follow the configured level.
        let level = Logger.Level(rawValue: settings.string(.logLevel, default: "info")) ?? .info
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        return settings
    }

    /// A level name the logger knows, or a validation error naming the choices.
    static func checkLevel(_ name: String?) throws {
        guard let name, Logger.Level(rawValue: name) == nil else { return }
        throw ValidationError("--log-level \(name): use one of trace, debug, info, notice, warning, error, critical")
    }

    /// Refuses a setting whose value has the wrong type where it is set: the accessors below
    /// fall back to the default for a value they cannot convert, so without this
    /// `LOGPIPE_COLLECTOR_PORT=80a` or `{"collector": {"port": "8081"}}` would quietly listen on 8081.
    /// Only the source that wins (flags, then environment, then file) is looked at.
    static func checkTypes(_ sources: [(provider: any ConfigProvider, source: SettingSource)]) throws(ConfigurationRefused) {
        for key in SettingKey.allCases {
            for (provider, source) in sources {
                let found: ConfigValue?
                do {
                    found = try provider.value(forKey: key.absolute, type: key.kind.type).value
                } catch {
                    let raw = (try? provider.value(forKey: key.absolute, type: .string).value).flatMap { value -> String? in
                        if case .string(let text) = value.content { return value.isSecret ? "<secret>" : "\"\(text)\"" }
                        return nil
                    }
                    throw ConfigurationRefused("\(source.naming(key)): \(raw.map { "\($0) is not" } ?? "not") \(key.kind.name)")
                }
                guard let found else { continue }
                if key == .logLevel, case .string(let name) = found.content, Logger.Level(rawValue: name) == nil {
                    throw ConfigurationRefused("\(source.naming(key)): \"\(name)\" is not a log level; use one of trace, debug, info, notice, warning, error, critical")
                }
                break
            }
        }
    }

    func string(_ key: SettingKey, default value: String) -> String {
        reader.string(forKey: key.config, default: value)
    }

    func optionalString(_ key: SettingKey) -> String? {
        reader.string(forKey: key.config)
    }

    func int(_ key: SettingKey, default value: Int) -> Int {
        reader.int(forKey: key.config, default: value)
    }

    func optionalInt(_ key: SettingKey) -> Int? {
        reader.int(forKey: key.config)
    }

    func double(_ key: SettingKey, default value: Double) -> Double {
        reader.double(forKey: key.config, default: value)
    }

    func optionalDouble(_ key: SettingKey) -> Double? {
        reader.double(forKey: key.config)
    }

    var dataDir: String { string(.dataDir, default: "./data") }

    /// The logger every role uses, at the configured level.
    func logger(_ label: String) -> Logger {
        var logger = Logger(label: label)
        logger.logLevel = Logger.Level(rawValue: string(.logLevel, default: "info")) ?? .info
        return logger
    }

    /// The disks whose free space `/metrics` shows: the local bus's (when the bus is local) and the lake's.
    func volumes(lake: String?) -> [OperatorMetrics.Volume] {
        var out: [OperatorMetrics.Volume] = []
        if case .local(let directory)? = try? busLocation() { out.append(.init(name: "bus", path: directory)) }
        // An object store or HDFS has no local disk to watch.
        if let lake, let directory = try? LakeLocation(parsing: lake).localDirectory { out.append(.init(name: "lake", path: directory)) }
        return out
    }

    /// Opens the configured bus; the embedded log lives under the data directory by default.
    /// An embedded bus has one writer (the collector or `run`); stream workers and
    /// `topics` open it with `.read` and follow it from their own processes.
    func openBus(access: LocalBusAccess = .write) async throws -> any Bus {
        switch try busLocation() {
        case .kafka(let url):
            #if Kafka
            return try KafkaBus(configuration: kafkaConfiguration(url), logger: logger("logpipe.kafka"))
            #else
            throw ValidationError("this build of logpipe has no Kafka support; rebuild with `swift build --traits Kafka` (docs/kafka.md)")
            #endif
        case .local(let path):
            return try LocalBus(directory: path, options: LocalBusOptions(access: access))
        }
    }

    /// Opens the configured bus to read, refusing an embedded one that does not exist (a
    /// mistyped `--data-dir` would otherwise read as an empty bus, or leave a lake behind).
    func openExistingBus() async throws -> any Bus {
        if case .local(let path) = try busLocation(), !FileManager.default.fileExists(atPath: path) {
            throw ValidationError("no bus at \(path): start logpipe collect (or logpipe run) on this data directory first")
        }
        return try await openBus(access: .read)
    }

    /// The configured bus, parsed (`--bus`, default the embedded log under the data directory).
    func busLocation() throws(ConfigurationRefused) -> BusLocation {
        try BusLocation(parsing: string(.bus, default: "local:\(dataDir)/bus"))
    }

    /// The retention of the topics the collector creates (`topics.retentionHours`,
    /// `topics.retentionMib`): on the embedded bus it also replaces an existing topic's,
    /// so lowering it bounds a bus that already fills its disk.
    func topicRetention() throws(ConfigurationRefused) -> RetentionPolicy {
        let hours = double(.topicsRetentionHours, default: 168)
        // The bound keeps milliseconds within Int64 wherever the age is converted.
        guard hours >= 0, hours <= 1_000_000 else {
            throw ConfigurationRefused("topics.retentionHours \(hours): must be 0 (keep forever) to 1000000 hours")
        }
        let mib = optionalInt(.topicsRetentionMib)
        if let mib, mib < 1 || mib > 1 << 30 {
            throw ConfigurationRefused("topics.retentionMib \(mib): must be at least 1 (MiB per partition) and at most 1073741824; leave it unset for no size limit")
        }
        return RetentionPolicy(maxAgeSeconds: hours == 0 ? nil : max(1, Int64((hours * 3600).rounded())),
                               maxBytesPerPartition: mib.map { Int64($0) << 20 })
    }

    /// The configured lake, parsed (`--lake`, default `<data-dir>/lake`).
    func lakeLocation() throws(ConfigurationRefused) -> LakeLocation {
        try LakeLocation(parsing: string(.lakeDir, default: "\(dataDir)/lake"))
    }

    /// Refuses a bus (and, when `lake` is set, a lake) this role could not open or write,
    /// before anything is created: unknown schemes, malformed URLs, unwritable directories.
    func checkState(lake: Bool) throws(ConfigurationRefused) {
        if case .local(let directory) = try busLocation() {
            try Preflight.checkWritableDirectory(directory, flag: "--bus")
        }
        if lake, let directory = try lakeLocation().localDirectory {
            try Preflight.checkWritableDirectory(directory, flag: "--lake")
        }
    }
}

extension Settings {
    /// Where a stream worker's partitions come from: a Kafka consumer group on a Kafka
    /// bus, leases shared by the workers on this machine on the embedded one.
    func assignmentSource(bus: any Bus) throws -> (any PartitionAssignmentSource)? {
        let location: String
        switch try busLocation() {
        case .local(let path):
            return LocalLeaseAssignmentSource(bus: bus, directory: path, logger: logger("logpipe.bus.leases"))
        case .kafka(let url):
            location = url
        }
        #if Kafka
        return KafkaAssignmentSource(configuration: try kafkaConfiguration(location), logger: logger("logpipe.kafka.group"))
        #else
        throw ValidationError("this build of logpipe has no Kafka support; rebuild with `swift build --traits Kafka` (docs/kafka.md)")
        #endif
    }

    private func kafkaConfiguration(_ location: String) throws -> KafkaBusConfiguration {
        do {
            return try KafkaBusConfiguration(url: location, settings: kafkaSettings)
        } catch {
            throw ValidationError("\(error)")
        }
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
