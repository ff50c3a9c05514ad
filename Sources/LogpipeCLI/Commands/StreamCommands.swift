import ArgumentParser
import Configuration
import Foundation
import Logging
import LogpipeAnalytics
import LogpipeBus
import LogpipeLake
import LogpipeObjectStore
import LogpipeServers
import LogpipeStream
import ServiceLifecycle

/// Stream flags shared by `run` and `stream`.
struct StreamOptions: ParsableArguments {
    @Option(help: "The lake: a directory (default <data-dir>/lake), s3://bucket/prefix or webhdfs://namenode:9870/path.")
    var lake: String?

    @OptionGroup var objectStore: ObjectStoreOptions

    @OptionGroup var compaction: CompactionOptions

    @Option(help: "Micro-batch trigger in seconds; 0 runs batches back to back as data comes (default 0).")
    var trigger: Double?

    @Option(help: "Roll a lake file at about this many MiB (default 128).")
    var rollMib: Int?

    @Option(help: "Roll open lake files after this many seconds, so data becomes visible (default 60).")
    var rollSeconds: Double?

    @Option(help: "Allowed lateness of event time in seconds before records count as late (default 300).")
    var lateness: Double?

    @Option(help: "Event times more than this many seconds ahead of their arrival count as future: they move no watermark (default 300).")
    var maxSkew: Double?

    @Option(help: "A partition without new records for this many seconds closes its windows by the clock (default 30; 0: never).")
    var idleTimeout: Double?

    @Option(help: "POST each alert as JSON to this URL.")
    var alertWebhook: String?

    /// Refuses what the stream could not use, before anything is opened.
    func check(_ settings: Settings) throws(ConfigurationRefused) {
        try settings.checkState(lake: true)
        _ = try settings.compactionPolicy()
        if let webhook = settings.optionalString(.analyticsWebhook) {
            try Preflight.checkHTTPURL(webhook, flag: "--alert-webhook")
        }
        if let mib = settings.optionalInt(.streamRollMib), mib <= 0 {
            throw ConfigurationRefused("--roll-mib \(mib): must be at least 1")
        }
        if let seconds = settings.optionalDouble(.streamRollSeconds), !(seconds > 0) {
            throw ConfigurationRefused("--roll-seconds \(seconds): must be more than 0")
        }
        if let trigger = settings.optionalDouble(.streamTrigger), !(trigger >= 0) {
            throw ConfigurationRefused("--trigger \(trigger): must be 0 or more")
        }
    }

    var flags: [SettingKey: ConfigValue?] {
        [.lakeDir: flag(lake), .streamTrigger: flag(trigger), .streamRollMib: flag(rollMib),
         .streamRollSeconds: flag(rollSeconds), .analyticsLateness: flag(lateness),
         .analyticsMaxSkew: flag(maxSkew), .analyticsIdleTimeout: flag(idleTimeout), .analyticsWebhook: flag(alertWebhook)]
            .merging(objectStore.flags) { a, _ in a }.merging(compaction.flags) { a, _ in a }
    }
}

/// A stream worker with the raw sink and the analytics, and what it publishes to.
struct StreamRole {
    let worker: StreamWorker
    let store: AnalyticsStore
    let publisher: AnalyticsPublisher
    /// The lake's directory.
    let lakeDirectory: String

    /// A role reading `bus`. Without `liveView` (a `--once` backfill, which serves no API)
    /// the open windows are not combined for a live store nobody reads.
    static func make(settings: Settings, bus: any Bus, lake: any FileStore, liveView: Bool = true, logger: Logger) async throws -> StreamRole {
        let lakeDirectory = settings.lakeSetting
        if let s3 = lake as? S3FileStore {
            // Uploads of workers killed mid-file: invisible, but they hold space until aborted.
            let aborted = try await s3.abortIncompleteUploads(under: LakeLayout.metadataDirectory + "/staging", olderThan: 3600)
            if aborted > 0 { logger.info("aborted unfinished staging uploads", metadata: ["count": "\(aborted)"]) }
        }
        var configuration = StreamConfiguration()
        let trigger = settings.double(.streamTrigger, default: 0)
        configuration.trigger = trigger > 0 ? .interval(seconds: trigger) : .continuous
        configuration.raw = RawLakeSink.Options(
            rollBytes: Int64(settings.int(.streamRollMib, default: 128)) << 20,
            rollAgeSeconds: settings.double(.streamRollSeconds, default: 60))
        configuration.compaction = try settings.compactionEnabled(store: lake, logger: logger) ? LakeCompactor.Options() : nil
        var analytics = AnalyticsConfiguration()
        analytics.allowedLatenessMicros = Int64(settings.double(.analyticsLateness, default: 300) * 1_000_000)
        analytics.maxFutureSkewMicros = Int64(settings.double(.analyticsMaxSkew, default: 300) * 1_000_000)
        analytics.idleTimeoutMicros = Int64(settings.double(.analyticsIdleTimeout, default: 30) * 1_000_000)
        let store = AnalyticsStore()
        // A stream process reading another process's embedded bus cannot append to it: its alerts go to the lake and the webhook.
        let alertsBus: (any Bus)? = (bus as? LocalBus)?.acceptsWrites == false ? nil : bus
        let publisher = AnalyticsPublisher(
            store: lake, bus: alertsBus, webhook: settings.optionalString(.analyticsWebhook), logger: logger)
        try await publisher.prepare()
        // Whole-system windows wait for every partition of the source topics; the workers of
        // a group combine them through the lake (one merges).
        var expected: [AnalyticsStream: Set<TopicPartition>] = [:]
        for source in configuration.sources {
            let count = (try? await bus.partitionCount(topic: source.topic)) ?? source.partitionsIfCreated
            let stream: AnalyticsStream = source.kind == .logs ? .logs : .activities
            for p in 0..<count { expected[stream, default: []].insert(TopicPartition(topic: source.topic, partition: p)) }
        }
        let sink = AnalyticsSink(configuration: analytics, store: liveView ? store : nil, expected: expected,
                                 exchange: GlobalWindowExchange(store: lake), writesBeside: true) { await publisher.publish($0) }
        let worker = StreamWorker(
            bus: bus, store: lake, configuration: configuration, extraSinks: [sink],
            membership: try settings.assignmentSource(bus: bus), logger: logger)
        logger.info("stream configured", metadata: ["lake": "\(lakeDirectory)", "worker": "\(configuration.workerId)"])
        return StreamRole(worker: worker, store: store, publisher: publisher, lakeDirectory: lakeDirectory)
    }
}

struct StreamCommandLine: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stream",
        abstract: "Run a stream worker: bus → exactly-once hourly Parquet lake, windowed metrics and alerts.",
        discussion: """
            On a Kafka bus several workers form one consumer group and split the partitions. The live
            analytics API (/api/metrics/services, /api/metrics/system, /api/alerts) and /metrics are
            served on --api-port.
            """
    )

    @OptionGroup var common: CommonOptions
    @OptionGroup var stream: StreamOptions

    @Option(help: "Port of the analytics API and /metrics (default 8082; 0 turns it off).")
    var apiPort: Int?

    @Option(help: "Address the analytics API and /metrics bind (default 127.0.0.1; 0.0.0.0 in a container so Prometheus can scrape it).")
    var apiHost: String?

    @Option(help: "Bearer token required on the analytics API, dashboard data and /metrics (or LOGPIPE_STREAM_API_KEY); needed when --api-host is not loopback.")
    var apiKey: String?

    @OptionGroup var tls: TLSOptions

    @Flag(help: "Read to the end the bus has now, commit, and exit (a backfill).")
    var once = false

    func run() async throws {
        let settings = try await Settings.load(common, flags: stream.flags.merging([
            .streamApiPort: flag(apiPort), .streamApiHost: flag(apiHost), .streamApiKey: secret(apiKey),
        ]) { a, _ in a }.merging(tls.flags) { a, _ in a })
        let logger = settings.logger("logpipe.stream")
        try stream.check(settings)
        let port = settings.int(.streamApiPort, default: 8082)
        let host = settings.string(.streamApiHost, default: "127.0.0.1")
        let key = settings.optionalString(.streamApiKey)
        var configuredTLS: ServerTLS?
        if once {
            if let apiPort, apiPort != 0 { throw ConfigurationRefused("--once and --api-port \(apiPort) contradict: a backfill serves no API") }
            if stream.trigger != nil { throw ConfigurationRefused("--once and --trigger contradict: a backfill runs batches back to back") }
        } else if port != 0 {
            do { try validateAPIKey(key, host: host, role: "the stream API", flag: "--api-key or LOGPIPE_STREAM_API_KEY") } catch {
                throw ConfigurationRefused(error.description)
            }
            configuredTLS = try TLSOptions.load(settings)
            try Preflight.checkPort(port, host: host, flag: "--api-port")
        }
        let serverTLS = configuredTLS
        LogpipeMetrics.bootstrap()
        // Settings before state: a wrong remote --lake is refused even where no bus exists yet,
        // and a local lake directory is made only once the bus is found.
        let remoteLake = try settings.lakeLocation().localDirectory == nil ? try settings.openLake() : nil
        let bus = try await settings.openExistingBus()
        let role = try await StreamRole.make(settings: settings, bus: bus, lake: try remoteLake ?? settings.openLake(),
                                             liveView: !once, logger: logger)
        if once {
            let statistics = try await role.worker.runUntilCaughtUp()
            await role.publisher.shutdown()
            try await bus.close()
            print("records \(statistics.records), files \(statistics.files), commits \(statistics.commits), dead letters \(statistics.deadLetters)")
            return
        }
        var services: [any Service] = [BusService(bus: bus, logger: logger), role.worker]
        if port != 0 {
            let operatorMetrics = OperatorMetrics(
                volumes: settings.volumes(lake: role.lakeDirectory), bus: bus, groups: [role.worker.configuration.group], analytics: role.store)
            services.append(LogpipeApplications.api(
                store: role.store, host: host, port: port, operatorMetrics: operatorMetrics,
                dashboard: DashboardRoutes(role: "stream", bus: bus, group: role.worker.configuration.group, lake: role.worker.store),
                apiKey: key, tls: serverTLS, logger: logger
            ) { port in
                logger.info("stream API listening", metadata: ["address": "\(serverTLS.scheme)://\(host):\(port)"])
            })
        }
        let group = ServiceGroup(configuration: .init(services: services.map { .init(service: $0) }, gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        await role.publisher.shutdown()
    }
}

struct LakeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "lake",
        abstract: "Look at the lake.",
        subcommands: [List.self]
    )

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "ls", abstract: "Partitions with their files, rows and bytes.")

        @OptionGroup var common: CommonOptions
        @OptionGroup var lake: LakeOptions

        func run() async throws {
            let settings = try await Settings.load(common, flags: lake.flags)
            let partitions = try await LakeListing.partitions(store: settings.openExistingLake())
            var rows: [[String]] = [["DATASET", "PARTITION", "FILES", "ROWS", "BYTES"]]
            for p in partitions {
                rows.append([p.dataset.path, p.hour.path, String(p.files), String(p.rows), formatBytes(p.bytes)])
            }
            let files = partitions.reduce(0) { $0 + $1.files }
            let total = partitions.reduce(Int64(0)) { $0 + $1.rows }
            print(table(rows))
            print("\n\(partitions.count) partitions, \(files) files, \(total) rows")
        }
    }
}
