import ArgumentParser
import LogpipeBatch
import LogpipeLake
import Configuration
import Logging
import LogpipeBus
import LogpipeGenerator
import LogpipeServers
import LogpipeStream
import ServiceLifecycle

/// Keeps the bus open while the servers run and closes it last, after every
/// acknowledged record has been flushed.
struct BusService: Service {
    let bus: any Bus
    let logger: Logger

    func run() async throws {
        try? await gracefulShutdown()
        try await bus.close()
        logger.info("bus closed")
    }
}

/// Collector flags shared by `run` and `collect`.
struct CollectorOptions: ParsableArguments {
    @Option(help: "Address the collector binds (default 127.0.0.1; anything else needs an API key).")
    var host: String?

    @Option(help: "Collector port (default 8081).")
    var port: Int?

    @Option(help: "Bearer token required on every path but /health, /ready and the dashboard page (or LOGPIPE_COLLECTOR_API_KEY); needed when --host is not loopback.")
    var apiKey: String?

    @Option(help: "Largest request body in bytes (default 16 MiB).")
    var maxBodyBytes: Int?

    var flags: [SettingKey: ConfigValue?] {
        [.collectorHost: flag(host), .collectorPort: flag(port), .collectorApiKey: secret(apiKey),
         .collectorMaxBodyBytes: flag(maxBodyBytes)]
    }

    static func configuration(_ settings: Settings) throws -> CollectorConfiguration {
        var limits = IngestLimits()
        limits.maxBodyBytes = settings.int(.collectorMaxBodyBytes, default: limits.maxBodyBytes)
        let configuration = CollectorConfiguration(
            host: settings.string(.collectorHost, default: "127.0.0.1"),
            port: settings.int(.collectorPort, default: 8081),
            apiKey: settings.optionalString(.collectorApiKey) ?? settings.optionalString(.apiKey),
            limits: limits
        )
        do { try configuration.validate() } catch { throw ConfigurationRefused(error.description) }
        try Preflight.checkPort(configuration.port, host: configuration.host, flag: "--port")
        return configuration
    }
}

/// Generator flags shared by `run` and `generate`.
struct GeneratorOptions: ParsableArguments {
    @Option(name: .customLong("generator-port"), help: "Generator API port (default 8000).")
    var generatorPort: Int?

    @Option(help: "Records per second in total instead of the seed's schedule (100 logs/5 s, 100 events/10 s).")
    var rate: Double?

    @Option(help: "Records per request in --rate mode (default 100).")
    var batchSize: Int?

    @Option(help: "Random seed; the same seed gives the same records (default 42).")
    var seed: Int?

    @Option(help: "An incident KIND:SUBJECT[:AFTER_S[:DURATION_S]], KIND one of error_burst, latency_spike, ip_flood. Repeatable.")
    var incident: [String] = []

    @Option(help: "Start a random incident every this many seconds.")
    var incidentEvery: Double?

    var flags: [SettingKey: ConfigValue?] {
        [.generatorPort: flag(generatorPort), .generatorRate: flag(rate), .generatorBatchSize: flag(batchSize),
         .generatorSeed: flag(seed), .generatorIncidentEvery: flag(incidentEvery)]
    }

    func configuration(_ settings: Settings, collectorURL: String, apiKey: String?) throws -> GeneratorConfiguration {
        let planned = try incident.map { argument in
            guard let parsed = PlannedIncident(argument: argument) else {
                throw ValidationError("--incident \(argument): expected KIND:SUBJECT[:AFTER_S[:DURATION_S]] with KIND one of \(IncidentKind.allCases.map(\.rawValue).joined(separator: ", "))")
            }
            return parsed
        }
        let port = settings.int(.generatorPort, default: 8000)
        try Preflight.checkPort(port, host: settings.string(.generatorHost, default: "127.0.0.1"), flag: "--generator-port")
        if let rate = settings.optionalDouble(.generatorRate), !(rate > 0) {
            throw ConfigurationRefused("--rate \(rate): must be more than 0")
        }
        return GeneratorConfiguration(
            host: settings.string(.generatorHost, default: "127.0.0.1"),
            port: port,
            collectorURL: collectorURL,
            apiKey: apiKey,
            rate: settings.optionalDouble(.generatorRate),
            batchSize: settings.int(.generatorBatchSize, default: 100),
            seed: UInt64(truncatingIfNeeded: settings.int(.generatorSeed, default: 42)),
            plannedIncidents: planned,
            incidentEvery: settings.optionalDouble(.generatorIncidentEvery)
        )
    }
}

struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "run",
        abstract: "Start the whole pipeline on this machine: generator → collector → embedded bus → stream → lake and analytics."
    )

    @OptionGroup var common: CommonOptions
    @OptionGroup var collector: CollectorOptions
    @OptionGroup var generator: GeneratorOptions
    @OptionGroup var stream: StreamOptions
    @OptionGroup var tls: TLSOptions

    @Flag(help: "Do not start the generator (collect only what clients send).")
    var noGenerator = false

    @Option(help: "Also serve the stream role's analytics API, dashboard and /metrics on this port, as `logpipe stream` does (default 0: off, the collector's port serves them).")
    var apiPort: Int?

    func run() async throws {
        let settings = try await Settings.load(
            common, flags: collector.flags.merging(generator.flags) { a, _ in a }.merging(stream.flags) { a, _ in a }
                .merging([.streamApiPort: flag(apiPort)]) { a, _ in a }.merging(tls.flags) { a, _ in a })
        let logger = settings.logger("logpipe")
        let retention = try settings.topicRetention()
        try stream.check(settings)
        if noGenerator {
            let given = [("--rate", generator.rate != nil), ("--generator-port", generator.generatorPort != nil),
                         ("--batch-size", generator.batchSize != nil), ("--seed", generator.seed != nil),
                         ("--incident", !generator.incident.isEmpty), ("--incident-every", generator.incidentEvery != nil)]
            if let (name, _) = given.first(where: { $0.1 }) {
                throw ConfigurationRefused("--no-generator and \(name) contradict: drop one of them")
            }
        } else if case let port = settings.int(.collectorPort, default: 8081), port != 0, settings.int(.generatorPort, default: 8000) == port {
            throw ConfigurationRefused("--port and --generator-port are both \(port): give the collector and the generator different ports")
        }
        let collectorConfiguration = try CollectorOptions.configuration(settings)
        let serverTLS = try TLSOptions.load(settings)
        let host = isLoopback(collectorConfiguration.host) || collectorConfiguration.host == "0.0.0.0" ? "127.0.0.1" : collectorConfiguration.host
        var generatorConfiguration = noGenerator ? nil : try generator.configuration(
            settings, collectorURL: "\(serverTLS.scheme)://\(host):\(collectorConfiguration.port)", apiKey: collectorConfiguration.apiKey)
        // The built-in generator posts to this process's own collector, so it trusts this certificate.
        generatorConfiguration?.collectorTLS = serverTLS?.clientTrustingSelf
        LogpipeMetrics.bootstrap()
        let bus = try await settings.openBus()
        try await Ingestor(bus: bus).prepareTopics(retention: retention)
        let streamRole = try await StreamRole.make(settings: settings, bus: bus, lake: try settings.openLake(), logger: logger)
        let operatorMetrics = OperatorMetrics(
            volumes: settings.volumes(lake: streamRole.lakeDirectory), bus: bus, groups: [streamRole.worker.configuration.group],
            analytics: streamRole.store)
        // Each role's port shows its own metric families, as separate processes would.
        let apiPort = settings.int(.streamApiPort, default: 0)
        let dashboard = DashboardRoutes(role: "run", bus: bus, group: streamRole.worker.configuration.group,
                                        lake: streamRole.worker.store)
        let collectorApp = LogpipeApplications.collector(
            bus: bus, configuration: collectorConfiguration, analytics: streamRole.store,
            search: LogSearch(store: streamRole.worker.store),
            metrics: .roles(apiPort == 0 ? [.collector, .stream] : [.collector]), operatorMetrics: operatorMetrics,
            dashboard: dashboard, tls: serverTLS, logger: logger
        ) { port in
            logger.info("collector listening", metadata: ["address": "\(serverTLS.scheme)://\(collectorConfiguration.host):\(port)"])
        }
        // Services stop in reverse order: the generator first, then the collector drains,
        // the stream commits what it holds, and the bus closes last.
        var services: [any Service] = [BusService(bus: bus, logger: logger), streamRole.worker, collectorApp]
        if apiPort != 0 {
            // Loopback, as `logpipe stream` serves it: it has no API key.
            services.append(LogpipeApplications.api(
                store: streamRole.store, host: "127.0.0.1", port: apiPort, metrics: .roles([.stream]),
                operatorMetrics: operatorMetrics, dashboard: dashboard, tls: serverTLS, logger: logger
            ) { port in
                logger.info("stream API listening", metadata: ["address": "\(serverTLS.scheme)://127.0.0.1:\(port)"])
            })
        }
        services.append(SchedulerService(scheduler: try SchedulerSetup.make(settings: settings, logger: settings.logger("logpipe.scheduler"))))
        if let generatorConfiguration {
            let generatorService = Generator(configuration: generatorConfiguration, logger: logger)
            services.append(LogpipeApplications.generator(
                generatorService, configuration: generatorConfiguration, metrics: .roles([.generator]),
                operatorMetrics: operatorMetrics, tls: serverTLS, logger: logger
            ) { port in
                logger.info("generator listening", metadata: ["address": "\(serverTLS.scheme)://\(generatorConfiguration.host):\(port)"])
            })
            services.append(generatorService)
        }
        logger.info("logpipe running", metadata: ["data": "\(settings.dataDir)"])
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        await streamRole.publisher.shutdown()
    }
}

struct CollectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "collect",
        abstract: "Run the collector: POST /api/collect/logs and /api/collect/activities onto the bus."
    )

    @OptionGroup var common: CommonOptions
    @OptionGroup var collector: CollectorOptions
    @OptionGroup var tls: TLSOptions

    func run() async throws {
        let settings = try await Settings.load(common, flags: collector.flags.merging(tls.flags) { a, _ in a })
        let logger = settings.logger("logpipe.collector")
        let retention = try settings.topicRetention()
        try settings.checkState(lake: false)
        let configuration = try CollectorOptions.configuration(settings)
        let serverTLS = try TLSOptions.load(settings)
        LogpipeMetrics.bootstrap()
        let bus = try await settings.openBus()
        try await Ingestor(bus: bus).prepareTopics(retention: retention)
        let operatorMetrics = OperatorMetrics(volumes: settings.volumes(lake: nil), bus: bus, groups: [StreamConfiguration().group])
        let app = LogpipeApplications.collector(
            bus: bus, configuration: configuration, operatorMetrics: operatorMetrics, tls: serverTLS, logger: logger
        ) { port in
            logger.info("collector listening", metadata: ["address": "\(serverTLS.scheme)://\(configuration.host):\(port)"])
        }
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: BusService(bus: bus, logger: logger)), .init(service: app)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}

struct GenerateCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Run the generator: post synthetic logs and events to a collector, serve /sample/log and /sample/event."
    )

    @OptionGroup var common: CommonOptions
    @OptionGroup var generator: GeneratorOptions

    @Option(help: "The collector to post to (default http://127.0.0.1:8081).")
    var collectorUrl: String?

    @Option(help: "The collector's API key (or LOGPIPE_COLLECTOR_API_KEY).")
    var apiKey: String?

    @Option(help: "PEM certificates to trust for an https:// collector besides the system's (a private CA or a self-signed certificate; or LOGPIPE_TLS_CA).")
    var tlsCa: String?

    @OptionGroup var tls: TLSOptions

    func run() async throws {
        let settings = try await Settings.load(common, flags: generator.flags.merging([
            .generatorCollectorUrl: flag(collectorUrl), .collectorApiKey: secret(apiKey), .tlsCa: flag(tlsCa),
        ]) { a, _ in a }.merging(tls.flags) { a, _ in a })
        let logger = settings.logger("logpipe.generator")
        let collectorURL = settings.string(.generatorCollectorUrl, default: "http://127.0.0.1:8081")
        try Preflight.checkHTTPURL(collectorURL, flag: "--collector-url")
        let serverTLS = try TLSOptions.load(settings)
        var configured = try generator.configuration(
            settings,
            collectorURL: collectorURL,
            apiKey: settings.optionalString(.collectorApiKey))
        if let ca = settings.optionalString(.tlsCa) {
            do { configured.collectorTLS = try ServerTLS.clientTrusting(ca) } catch { throw ConfigurationRefused(error.description) }
        }
        let configuration = configured
        LogpipeMetrics.bootstrap()
        let service = Generator(configuration: configuration, logger: logger)
        let app = LogpipeApplications.generator(
            service, configuration: configuration, operatorMetrics: OperatorMetrics(), tls: serverTLS, logger: logger
        ) { port in
            logger.info("generator listening", metadata: ["address": "\(serverTLS.scheme)://\(configuration.host):\(port)", "collector": "\(configuration.collectorURL)"])
        }
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: app), .init(service: service)],
            gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
    }
}
