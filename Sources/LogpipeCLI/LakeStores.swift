import ArgumentParser
import Configuration
import Foundation
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

    var flags: [String: ConfigValue?] {
        ["lake.s3.endpoint": flag(s3Endpoint), "lake.s3.region": flag(s3Region), "lake.s3.accessKeyId": flag(s3AccessKeyId),
         "lake.hdfs.user": flag(hdfsUser)]
    }
}

extension Settings {
    /// The configured lake as given: `lake.dir`, default `<data-dir>/lake` (a directory or a URL).
    var lakeSetting: String { string("lake.dir", default: "\(dataDir)/lake") }

    /// Opens the lake `lakeLocation()` names: `s3://bucket/prefix`, `webhdfs://namenode:9870/path`
    /// (`swebhdfs://` over HTTPS), or a local directory.
    func openLake() throws -> any FileStore {
        switch try lakeLocation() {
        case .s3(let location):
            do {
                return try S3FileStore(configuration: S3Configuration.parse(
                    url: location, endpoint: optionalString("lake.s3.endpoint"), region: optionalString("lake.s3.region"),
                    accessKeyId: optionalString("lake.s3.accessKeyId"), secretAccessKey: optionalString("lake.s3.secretAccessKey"),
                    sessionToken: optionalString("lake.s3.sessionToken")))
            } catch {
                throw ConfigurationRefused("--lake \(location): \(error)")
            }
        case .webhdfs(let location):
            do {
                return WebHDFSFileStore(configuration: try WebHDFSConfiguration.parse(url: location, user: optionalString("lake.hdfs.user")))
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
