// swift-tools-version: 6.1
// Logpipe: a distributed log pipeline. One package, one binary (`logpipe`).
// Data flows one way: ingest (servers) → bus → stream → lake → batch/query.
import PackageDescription

let package = Package(
    name: "logpipe",
    platforms: [.macOS(.v15)],
    products: [
        .executable(name: "logpipe", targets: ["LogpipeCLI"]),
        .library(name: "LogpipeRecords", targets: ["LogpipeRecords"]),
        .library(name: "LogpipeBus", targets: ["LogpipeBus"]),
        .library(name: "LogpipeParquet", targets: ["LogpipeParquet"]),
        .library(name: "LogpipeLake", targets: ["LogpipeLake"]),
        .library(name: "LogpipeStream", targets: ["LogpipeStream"]),
        .library(name: "LogpipeAnalytics", targets: ["LogpipeAnalytics"]),
        .library(name: "LogpipeGenerator", targets: ["LogpipeGenerator"]),
        .library(name: "LogpipeServers", targets: ["LogpipeServers"]),
        .library(name: "LogpipeTesting", targets: ["LogpipeTesting"]),
        .library(name: "LogpipeKafka", targets: ["LogpipeKafka"]),
        .library(name: "LogpipeObjectStore", targets: ["LogpipeObjectStore"]),
        .library(name: "LogpipeBatch", targets: ["LogpipeBatch"]),
    ],
    // Kafka: the `kafka` bus through librdkafka (headers: Debian's librdkafka-dev;
    // runtime library >= 2.2, see docs/kafka.md). Off by default, so a build needs
    // no librdkafka at all; `swift build --traits Kafka` turns it on.
    traits: [.trait(name: "Kafka", description: "The Kafka bus through librdkafka (docs/kafka.md)")],
    dependencies: [
        .package(url: "https://github.com/apple/swift-argument-parser", from: "1.8.2"),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-metrics", from: "2.13.0"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/apple/swift-nio-ssl", from: "2.37.6"),
        .package(url: "https://github.com/apple/swift-configuration", from: "1.4.0"),
        .package(url: "https://github.com/swift-server/swift-prometheus", from: "2.4.1"),
        .package(url: "https://github.com/swift-server/swift-service-lifecycle", from: "2.13.0"),
        .package(url: "https://github.com/swift-server/async-http-client", from: "1.37.0"),
        .package(url: "https://github.com/hummingbird-project/hummingbird", from: "2.28.1"),
        .package(url: "https://github.com/adam-fowler/compress-nio", from: "1.5.0"),
        .package(url: "https://github.com/apple/swift-crypto", "3.0.0"..<"5.0.0"),
    ],
    targets: [
        // Records: the data contracts, columnar batches, the JSON reader and writer.
        .target(name: "LogpipeRecords"),
        // Bus: the Bus protocol and its embedded durable log (`local`).
        .target(
            name: "LogpipeBus",
            dependencies: [
                "CCRC32C",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // CRC-32C with the CPU's instruction (SSE4.2, AArch64 CRC32), for the bus's batch checksums.
        .target(name: "CCRC32C"),
        // Kafka: the `kafka` Bus and consumer-group membership, over the librdkafka C shim
        // (linked only with the Kafka trait; without it the module has no librdkafka code).
        .target(
            name: "LogpipeKafka",
            dependencies: [
                "LogpipeBus",
                .target(name: "CRdKafka", condition: .when(traits: ["Kafka"])),
                .product(name: "Logging", package: "swift-log"),
            ]
        ),
        // librdkafka's C API (Debian: librdkafka-dev), used by LogpipeKafka under the Kafka trait.
        .systemLibrary(name: "CRdKafka", pkgConfig: "rdkafka", providers: [.apt(["librdkafka-dev"])]),
        // Parquet: a spec-correct writer and reader with no dependency on the rest of Logpipe.
        .target(name: "LogpipeParquet", dependencies: ["CZstd"]),
        // The system libzstd (Debian: libzstd-dev), for Parquet's ZSTD codec.
        .systemLibrary(name: "CZstd", pkgConfig: "libzstd", providers: [.apt(["libzstd-dev"])]),
        // Generator: synthetic logs and activity events with injectable incidents (a source).
        .target(name: "LogpipeGenerator"),
        // Lake: the FileStore, the hourly layout, the exactly-once commit log, compaction, listing.
        .target(
            name: "LogpipeLake",
            dependencies: ["LogpipeRecords", "LogpipeParquet", .product(name: "Logging", package: "swift-log")]
        ),
        // Object stores: the lake on S3-compatible storage and on HDFS through WebHDFS.
        .target(
            name: "LogpipeObjectStore",
            dependencies: [
                "LogpipeLake",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "Crypto", package: "swift-crypto"),
                .product(name: "NIOCore", package: "swift-nio"),
                .product(name: "NIOHTTP1", package: "swift-nio"),
            ]
        ),
        // Stream: the micro-batch engine, its sinks and the raw lake sink (`logpipe stream`).
        .target(
            name: "LogpipeStream",
            dependencies: [
                "LogpipeRecords", "LogpipeBus", "LogpipeParquet", "LogpipeLake",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Analytics: event-time windows, the seed's metrics and anomaly detectors, as a stream sink.
        .target(
            name: "LogpipeAnalytics",
            dependencies: [
                "LogpipeRecords", "LogpipeStream", "LogpipeBus", "LogpipeLake",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // Bench: the measurements behind `logpipe bench`, each against a peer run in the same run.
        .target(
            name: "LogpipeBench",
            dependencies: ["LogpipeRecords", "LogpipeBus", "LogpipeKafka", "LogpipeParquet", "LogpipeGenerator", "LogpipeLake", "LogpipeStream", "LogpipeAnalytics", "LogpipeBatch"]
        ),
        // Servers: the HTTP roles (collector, generator) and their metrics.
        .target(
            name: "LogpipeServers",
            dependencies: [
                "LogpipeRecords", "LogpipeBus", "LogpipeGenerator", "LogpipeAnalytics", "LogpipeLake", "LogpipeBatch",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTLS", package: "hummingbird"),
                .product(name: "NIOSSL", package: "swift-nio-ssl"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
                .product(name: "Prometheus", package: "swift-prometheus"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ]
        ),
        // Batch: the daily report, service analysis and search over the lake.
        .target(
            name: "LogpipeBatch",
            dependencies: [
                "LogpipeLake", "LogpipeParquet", "LogpipeRecords",
                .product(name: "Logging", package: "swift-log"),
                .product(name: "Metrics", package: "swift-metrics"),
            ]
        ),
        // CLI: the `logpipe` executable and its subcommands.
        .executableTarget(
            name: "LogpipeCLI",
            dependencies: [
                "LogpipeRecords", "LogpipeBus", "LogpipeParquet", "LogpipeGenerator", "LogpipeServers",
                "LogpipeLake", "LogpipeStream", "LogpipeAnalytics", "LogpipeBench", "LogpipeTesting", "LogpipeKafka",
                "LogpipeObjectStore", "LogpipeBatch",
                .product(name: "ArgumentParser", package: "swift-argument-parser"),
                .product(name: "Configuration", package: "swift-configuration"),
                .product(name: "Logging", package: "swift-log"),
                .product(name: "ServiceLifecycle", package: "swift-service-lifecycle"),
            ]
        ),
        // Testing: helpers our tests and our users share (temporary dirs, child processes, ports).
        .target(
            name: "LogpipeTesting",
            dependencies: ["LogpipeBus", "LogpipeRecords", "LogpipeLake", "LogpipeParquet", "LogpipeGenerator", "LogpipeObjectStore"]
        ),
        .testTarget(name: "LogpipeRecordsTests", dependencies: ["LogpipeRecords", "LogpipeTesting"]),
        .testTarget(
            name: "LogpipeBusTests",
            dependencies: ["LogpipeBus", "LogpipeTesting", .product(name: "MetricsTestKit", package: "swift-metrics")]
        ),
        .testTarget(
            name: "LogpipeAnalyticsTests",
            dependencies: ["LogpipeAnalytics", "LogpipeRecords", "LogpipeGenerator", "LogpipeTesting", "LogpipeStream", "LogpipeLake", "LogpipeBus"]
        ),
        .testTarget(name: "LogpipeGeneratorTests", dependencies: ["LogpipeGenerator", "LogpipeRecords"]),
        .testTarget(name: "LogpipeLakeTests", dependencies: ["LogpipeLake", "LogpipeParquet", "LogpipeRecords", "LogpipeTesting"]),
        .testTarget(
            name: "LogpipeStreamTests",
            dependencies: ["LogpipeStream", "LogpipeLake", "LogpipeBus", "LogpipeRecords", "LogpipeParquet", "LogpipeGenerator", "LogpipeTesting"]
        ),
        .testTarget(
            name: "LogpipeObjectStoreTests",
            dependencies: ["LogpipeObjectStore", "LogpipeLake", "LogpipeTesting", "LogpipeBus", "LogpipeGenerator", "LogpipeKafka"]
        ),
        .testTarget(name: "LogpipeDeployTests", dependencies: ["LogpipeTesting"], exclude: ["deploy_check.py"]),
        .testTarget(
            name: "LogpipeBatchTests",
            dependencies: ["LogpipeBatch", "LogpipeLake", "LogpipeParquet", "LogpipeRecords", "LogpipeGenerator", "LogpipeTesting", "LogpipeObjectStore"]
        ),
        .testTarget(name: "LogpipeParquetTests", dependencies: ["LogpipeParquet", "LogpipeTesting"]),
        .testTarget(name: "LogpipeBenchTests", dependencies: ["LogpipeBench", "LogpipeTesting"]),
        .testTarget(
            name: "LogpipeServersTests",
            dependencies: [
                "LogpipeServers", "LogpipeTesting", "LogpipeGenerator", "LogpipeBus", "LogpipeRecords",
                .product(name: "Hummingbird", package: "hummingbird"),
                .product(name: "HummingbirdTesting", package: "hummingbird"),
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "CompressNIO", package: "compress-nio"),
            ]
        ),
        .testTarget(
            name: "LogpipeKafkaTests",
            dependencies: [
                "LogpipeKafka", "LogpipeBus", "LogpipeTesting", "LogpipeGenerator", "LogpipeLake",
                .product(name: "AsyncHTTPClient", package: "async-http-client"),
                .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
    ]
)
