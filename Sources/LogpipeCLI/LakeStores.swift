import ArgumentParser
import Configuration
import Foundation
import Logging
import LogpipeLake
import LogpipeObjectStore

/// Flags for a lake on object storage, shared by the commands that take `--lake`.
struct ObjectStoreOptions: ParsableArguments {
    @Option(help: "S3 endpoint for --lake s3://… (default AWS's regional endpoint; AWS_ENDPOINT_URL_S3 works too), e.g. http://minio:9000.")
    var s3Endpoint: String?

    @Option(help: "S3 region for --lake s3://… (default AWS_REGION, else us-east-1).")
    var s3Region: String?

    @Option(help: "S3 access key id (default LOGPIPE_LAKE_S3_ACCESS_KEY_ID, else AWS_ACCESS_KEY_ID); the secret comes from LOGPIPE_LAKE_S3_SECRET_ACCESS_KEY or AWS_SECRET_ACCESS_KEY.")
    var s3AccessKeyId: String?

    @Option(help: "HDFS user for --lake webhdfs://… (default LOGPIPE_LAKE_HDFS_USER, else HADOOP_USER_NAME).")
    var hdfsUser: String?

    var flags: [SettingKey: ConfigValue?] {
        [.lakeS3Endpoint: flag(s3Endpoint), .lakeS3Region: flag(s3Region), .lakeS3AccessKeyId: flag(s3AccessKeyId),
         .lakeHdfsUser: flag(hdfsUser)]
    }
}

/// `--lake` and how to reach it, for every command that reads or writes the lake on its own
/// (reports, search, jobs, `lake ls`; `stream` and `run` have their own, with the bus).
struct LakeOptions: ParsableArguments {
    @OptionGroup var objectStore: ObjectStoreOptions

    @Option(help: "The lake: a directory, s3://bucket/prefix or webhdfs://namenode:9870/path (default <data-dir>/lake).")
    var lake: String?

    var flags: [SettingKey: ConfigValue?] { objectStore.flags.merging([.lakeDir: flag(lake)]) { a, _ in a } }
}

/// `--compaction`, for the commands that compact (stream workers and the scheduler).
struct CompactionOptions: ParsableArguments {
    @Option(help: "Compact closed hours: auto (default: on a local lake, off on S3 and WebHDFS, where readers listing the lake could see a compaction's inputs and outputs together), on, off.")
    var compaction: String?

    var flags: [SettingKey: ConfigValue?] { [.lakeCompaction: flag(compaction)] }
}

extension Settings {
    /// `lake.compaction`, refused unless `auto`, `on` or `off`.
    func compactionPolicy() throws(ConfigurationRefused) -> CompactionPolicy {
        let value = string(.lakeCompaction, default: CompactionPolicy.auto.rawValue)
        guard let policy = CompactionPolicy(rawValue: value) else {
            throw ConfigurationRefused("--compaction \(value): must be auto, on or off")
        }
        return policy
    }

    /// Whether to compact the lake in `store` (`lake.compaction`), said in `logger`'s log when
    /// `auto` turns it off (by each role that would compact: `run` has two).
    func compactionEnabled(store: any FileStore, logger: Logger) throws(ConfigurationRefused) -> Bool {
        let policy = try compactionPolicy()
        let enabled = policy.enabled(for: store)
        if policy == .auto && !enabled {
            logger.notice("compaction off: this lake cannot swap files atomically, so a reader listing it could see a compaction's inputs and outputs together; --compaction on (lake.compaction) turns it on for lakes read only through logpipe")
        }
        return enabled
    }

    /// The configured lake as given: `lake.dir`, default `<data-dir>/lake` (a directory or a URL).
    var lakeSetting: String { string(.lakeDir, default: "\(dataDir)/lake") }

    /// Opens the lake `lakeLocation()` names: `s3://bucket/prefix`, `webhdfs://namenode:9870/path`
    /// (`swebhdfs://` over HTTPS), or a local directory.
    func openLake() throws -> any FileStore {
        switch try lakeLocation() {
        case .s3(let location):
            do {
                return try S3FileStore(configuration: S3Configuration.parse(
                    url: location, endpoint: optionalString(.lakeS3Endpoint), region: optionalString(.lakeS3Region),
                    accessKeyId: optionalString(.lakeS3AccessKeyId), secretAccessKey: optionalString(.lakeS3SecretAccessKey),
                    sessionToken: optionalString(.lakeS3SessionToken)))
            } catch {
                throw ConfigurationRefused("--lake \(location): \(error)")
            }
        case .webhdfs(let location):
            do {
                return WebHDFSFileStore(configuration: try WebHDFSConfiguration.parse(url: location, user: optionalString(.lakeHdfsUser)))
            } catch {
                throw ConfigurationRefused("--lake \(location): \(error)")
            }
        case .local(let directory):
            return try LocalFileStore(root: directory)
        }
    }

    /// Opens the lake for a reader of what is already in it: a local directory must exist
    /// (a mistyped path is an error, not an empty lake); a remote lake is taken as given.
    func openExistingLake() throws -> any FileStore {
        if let directory = try lakeLocation().localDirectory, !FileManager.default.fileExists(atPath: directory) {
            throw ValidationError("no lake at \(directory)")
        }
        return try openLake()
    }
}
