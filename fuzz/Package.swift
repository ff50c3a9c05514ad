// swift-tools-version: 6.1
// libFuzzer harnesses for Logpipe's parsers, kept out of the main package so its normal
// build is unaffected: each target only links with -sanitize=fuzzer (libFuzzer's
// LLVMFuzzerRunDriver, called from each harness's main). Build and run them with scripts/fuzz.
import PackageDescription

let package = Package(
    name: "logpipe-fuzz",
    dependencies: [.package(name: "logpipe", path: "..")],
    targets: [
        .target(name: "FuzzDriver"),
        .executableTarget(name: "FuzzJSONBody", dependencies: ["FuzzDriver", .product(name: "LogpipeRecords", package: "logpipe")]),
        .executableTarget(name: "FuzzAccessLog", dependencies: ["FuzzDriver", .product(name: "LogpipeRecords", package: "logpipe")]),
        .executableTarget(name: "FuzzParquet", dependencies: ["FuzzDriver", .product(name: "LogpipeParquet", package: "logpipe")]),
    ]
)
