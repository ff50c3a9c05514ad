// swift-tools-version: 6.1
// libFuzzer harnesses for Logpipe's parsers, kept out of the main package so its normal
// build is unaffected: each target only links with -sanitize=fuzzer (libFuzzer's
// LLVMFuzzerRunDriver, called from each harness's main). Build and run them with scripts/fuzz.
import PackageDescription

let package = Package(
    name: "logpipe-fuzz",
    dependencies: [
        .package(name: "logpipe", path: ".."),
        .package(url: "https://github.com/apple/swift-log", from: "1.16.2"),
        .package(url: "https://github.com/apple/swift-nio", from: "2.101.2"),
        .package(url: "https://github.com/adam-fowler/compress-nio", from: "1.5.0"),
    ],
    targets: [
        .target(name: "FuzzDriver"),
        .executableTarget(name: "FuzzJSONBody", dependencies: ["FuzzDriver", .product(name: "LogpipeRecords", package: "logpipe")]),
        .executableTarget(name: "FuzzAccessLog", dependencies: ["FuzzDriver", .product(name: "LogpipeRecords", package: "logpipe")]),
        .executableTarget(name: "FuzzParquet", dependencies: ["FuzzDriver", .product(name: "LogpipeParquet", package: "logpipe")]),
        .executableTarget(
            name: "FuzzGzipBody",
            dependencies: [
                "FuzzDriver", .product(name: "LogpipeRecords", package: "logpipe"),
                .product(name: "CompressNIO", package: "compress-nio"), .product(name: "NIOCore", package: "swift-nio"),
            ]
        ),
        .executableTarget(
            name: "FuzzBusSegment",
            dependencies: ["FuzzDriver", .product(name: "LogpipeBus", package: "logpipe"), .product(name: "Logging", package: "swift-log")]
        ),
        .executableTarget(name: "FuzzCommitLog", dependencies: ["FuzzDriver", .product(name: "LogpipeLake", package: "logpipe")]),
        .executableTarget(
            name: "FuzzSnapshot",
            dependencies: [
                "FuzzDriver", .product(name: "LogpipeAnalytics", package: "logpipe"), .product(name: "LogpipeGenerator", package: "logpipe"),
                .product(name: "LogpipeRecords", package: "logpipe"), .product(name: "Logging", package: "swift-log"),
            ]
        ),
    ]
)
