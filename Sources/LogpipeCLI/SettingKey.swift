import Configuration
import Foundation

/// Every setting a command reads, by its dotted key: `collector.port` is `--port`,
/// `LOGPIPE_COLLECTOR_PORT` and `{"collector": {"port": …}}` in a `--config` file.
///
/// The one list of keys, so a configuration file naming anything else (a typo such as
/// `colector`) is refused instead of silently ignored, and README.md's table can be checked
/// against it.
enum SettingKey: String, CaseIterable, Sendable {
    /// Seconds without new records after which a partition closes its windows by the clock (30; 0: never).
    case analyticsIdleTimeout = "analytics.idleTimeout"
    /// Seconds of event-time lateness allowed before a record counts as late (300).
    case analyticsLateness = "analytics.lateness"
    /// Seconds ahead of its arrival beyond which an event time counts as future and moves no watermark (300).
    case analyticsMaxSkew = "analytics.maxSkew"
    /// An http(s) URL alerts are POSTed to.
    case analyticsWebhook = "analytics.webhook"
    /// The collector's API key when `collector.apiKey` is not set.
    case apiKey = "apiKey"
    /// The bus: `local:PATH` or `kafka://host:port,…` (`local:<data-dir>/bus`).
    case bus = "bus"
    /// The collector's API key.
    case collectorApiKey = "collector.apiKey"
    /// The collector's listening address (127.0.0.1).
    case collectorHost = "collector.host"
    /// The largest request body the collector takes, in bytes (16 MiB).
    case collectorMaxBodyBytes = "collector.maxBodyBytes"
    /// The collector's port (8081).
    case collectorPort = "collector.port"
    /// Where embedded state lives (`./data`).
    case dataDir = "data.dir"
    /// Records per generator POST in `--rate` mode (100).
    case generatorBatchSize = "generator.batchSize"
    /// The collector the generator posts to (http://127.0.0.1:8081).
    case generatorCollectorUrl = "generator.collectorUrl"
    /// The generator's listening address (127.0.0.1).
    case generatorHost = "generator.host"
    /// Seconds between the generator's random incidents.
    case generatorIncidentEvery = "generator.incidentEvery"
    /// The generator's port (8000).
    case generatorPort = "generator.port"
    /// Records per second the generator posts.
    case generatorRate = "generator.rate"
    /// The generator's random seed (42).
    case generatorSeed = "generator.seed"
    /// Missed intervals a job runs after downtime (7).
    case jobsCatchUp = "jobs.catchUp"
    /// When compaction runs, a cron expression (`*/10 * * * *`).
    case jobsCompactionSchedule = "jobs.compaction.schedule"
    /// Seconds a job's lease on an object-store lake lasts (120).
    case jobsLeaseSeconds = "jobs.leaseSeconds"
    /// When the daily report runs, a cron expression (`15 0 * * *`).
    case jobsReportDailySchedule = "jobs.reportDaily.schedule"
    /// Days of lake data retention keeps (unset: keep everything).
    case jobsRetentionDays = "jobs.retention.days"
    /// When retention runs, a cron expression (`30 0 * * *`).
    case jobsRetentionSchedule = "jobs.retention.schedule"
    /// When the service analysis runs, a cron expression (`15 0 * * *`).
    case jobsServiceAnalysisSchedule = "jobs.serviceAnalysis.schedule"
    /// Whether closed hours are compacted: auto, on or off (auto).
    case lakeCompaction = "lake.compaction"
    /// The lake: a directory, `s3://bucket/prefix` or `webhdfs://namenode:9870/path` (`<data-dir>/lake`).
    case lakeDir = "lake.dir"
    /// The user WebHDFS requests run as.
    case lakeHdfsUser = "lake.hdfs.user"
    /// The S3 access key id.
    case lakeS3AccessKeyId = "lake.s3.accessKeyId"
    /// The S3 endpoint (for S3-compatible stores).
    case lakeS3Endpoint = "lake.s3.endpoint"
    /// The S3 region.
    case lakeS3Region = "lake.s3.region"
    /// The S3 secret access key.
    case lakeS3SecretAccessKey = "lake.s3.secretAccessKey"
    /// The S3 session token.
    case lakeS3SessionToken = "lake.s3.sessionToken"
    /// The log level: trace, debug, info, notice, warning, error, critical (info).
    case logLevel = "log.level"
    /// The availability SLA target, a fraction (0.99).
    case reportsSlaAvailability = "reports.sla.availability"
    /// The performance SLA target, a fraction (0.95).
    case reportsSlaPerformance = "reports.sla.performance"
    /// The stream worker's API listening address (127.0.0.1).
    case streamApiHost = "stream.apiHost"
    /// The stream worker's API key.
    case streamApiKey = "stream.apiKey"
    /// The stream worker's API port (8082).
    case streamApiPort = "stream.apiPort"
    /// MiB at which a lake file is rolled (128).
    case streamRollMib = "stream.rollMib"
    /// Seconds after which open lake files are rolled, so data becomes visible (60).
    case streamRollSeconds = "stream.rollSeconds"
    /// Seconds between micro-batches (0: back to back as data comes).
    case streamTrigger = "stream.trigger"
    /// Hours the bus keeps records, per topic the collector creates (168; 0: forever).
    case topicsRetentionHours = "topics.retentionHours"
    /// MiB per partition beyond which the bus deletes its oldest records (unset: no size limit).
    case topicsRetentionMib = "topics.retentionMib"
    /// PEM certificates the generator trusts for an https:// collector.
    case tlsCa = "tls.ca"
    /// The servers' TLS certificate.
    case tlsCert = "tls.cert"
    /// The servers' TLS private key.
    case tlsKey = "tls.key"

    /// What a value must be.
    enum Kind: Sendable {
        case string, integer, number

        /// The type a provider is asked for.
        var type: ConfigType {
            switch self {
            case .string: .string
            case .integer: .int
            case .number: .double
            }
        }

        /// How an error message names it.
        var name: String {
            switch self {
            case .string: "a string"
            case .integer: "an integer"
            case .number: "a number"
            }
        }
    }

    /// What a value of this setting must be.
    var kind: Kind {
        switch self {
        case .collectorMaxBodyBytes, .collectorPort, .generatorBatchSize, .generatorPort, .generatorSeed, .jobsCatchUp,
             .streamApiPort, .streamRollMib, .topicsRetentionMib:
            .integer
        case .analyticsIdleTimeout, .analyticsLateness, .analyticsMaxSkew, .generatorIncidentEvery, .generatorRate,
             .jobsLeaseSeconds, .jobsRetentionDays, .reportsSlaAvailability, .reportsSlaPerformance, .streamRollSeconds,
             .streamTrigger, .topicsRetentionHours:
            .number
        default:
            .string
        }
    }

    /// The key's dotted parts: `collector`, `port`.
    private var components: [String] { rawValue.split(separator: ".").map(String.init) }

    /// The key as the configuration reader takes it.
    var config: ConfigKey { ConfigKey(components) }

    /// The key as a provider takes it.
    var absolute: AbsoluteConfigKey { AbsoluteConfigKey(components) }

    /// The environment variable that sets it: `collector.apiKey` is `LOGPIPE_COLLECTOR_API_KEY`.
    var environmentVariable: String {
        "LOGPIPE_" + components.map { part in
            part.reduce(into: "") { name, character in
                if character.isUppercase { name += "_" }
                name += character.uppercased()
            }
        }.joined(separator: "_")
    }
}

/// Where a setting's value came from, for saying which one is wrong.
enum SettingSource {
    case flag, environment, file(String)

    /// How an error names `key` as set here: `LOGPIPE_COLLECTOR_PORT`, or
    /// `collector.port in the configuration file c.json`.
    func naming(_ key: SettingKey) -> String {
        switch self {
        case .flag: "\(key.rawValue) from a flag"
        case .environment: key.environmentVariable
        case .file(let path): "\(key.rawValue) in the configuration file \(path)"
        }
    }
}

/// The `--config` file, checked before it is used.
enum ConfigurationFile {
    /// Refuses a key no command reads (naming the nearest one that exists), and returns the
    /// file's librdkafka properties: everything under `kafka` (`{"kafka": {"security.protocol": …}}`),
    /// as `kafka.<property>` keys.
    static func check(_ path: String) throws(ConfigurationRefused) -> [String: String] {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path)))
        } catch let error as CocoaError where error.code == .fileReadNoSuchFile || error.code == .fileReadNoPermission {
            throw ConfigurationRefused("cannot read the configuration file \(path): \(error.localizedDescription)")
        } catch {
            let reason = (error as NSError).userInfo[NSDebugDescriptionErrorKey] as? String ?? "\(error)"
            throw ConfigurationRefused("the configuration file \(path) is not valid JSON: \(reason)")
        }
        guard let top = object as? [String: Any] else {
            throw ConfigurationRefused("the configuration file \(path) must hold a JSON object, like {\"collector\": {\"port\": 8081}}")
        }
        var kafka: [String: String] = [:]
        var pending: [(String, Any)] = top.map { ($0.key, $0.value) }
        while let (key, value) = pending.popLast() {
            if let nested = value as? [String: Any] {
                pending += nested.map { ("\(key).\($0.key)", $0.value) }
            } else if key.hasPrefix("kafka.") {
                kafka[key] = value as? String ?? "\(value)"
            } else if key != "kafka", SettingKey(rawValue: key) == nil {
                let (nearest, edits) = SettingKey.allCases.map { ($0, distance($0.rawValue, key)) }.min { $0.1 < $1.1 }!
                let hint = edits <= 3 ? "; did you mean \(nearest.rawValue)?" : ""
                throw ConfigurationRefused("the configuration file \(path) sets \(key), which no command reads\(hint) (README.md, Configuration, lists the keys)")
            }
        }
        return kafka
    }

    /// Edit distance, to suggest the key a typo meant.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a.lowercased()), b = Array(b.lowercased())
        guard !a.isEmpty else { return b.count }
        var previous = Array(0...b.count)
        for i in 1...a.count {
            var current = [i] + Array(repeating: 0, count: b.count)
            for j in stride(from: 1, through: b.count, by: 1) {
                current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            }
            previous = current
        }
        return previous[b.count]
    }
}
