import ArgumentParser
import Foundation
import Logging
import LogpipeBench
import LogpipeTesting

struct BenchCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "bench",
        abstract: "Run the benchmarks behind BENCHMARKS.md, each against a peer in the same run.",
        discussion: "Build with -c release first (scripts/bench does). Python peers run with $LOGPIPE_PYTHON (pyarrow, duckdb)."
    )

    enum Name: String, ExpressibleByArgument, CaseIterable {
        case product, live, json, accessLog = "access-log", bus, parquet, collector, lake, analytics, kafka, kafkaLake = "kafka-lake", latency, late, report, search, all
    }

    @Argument(help: "Which benchmark: \(Name.allCases.map(\.rawValue).joined(separator: ", ")).")
    var name: Name = .all

    @Option(help: "Records (or rows) to use; each benchmark has its own default (product: 1M).")
    var records: Int?

    @Option(help: "Seconds per wrk run for the collector benchmark.")
    var seconds: Int = 10

    @Option(help: "Whole 1-minute windows the latency benchmark measures (it runs about this many minutes + 2; not part of 'all').")
    var windows: Int = 30

    @Option(help: "Records per second the live benchmark's generator posts (default 50000).")
    var rate: Int = 50_000

    @Option(help: "Seconds the live benchmark runs, the first 10 not counted (default 45).")
    var duration: Int = 45

    @Option(help: "Where benchmarks write their files (default: a temporary directory).")
    var workDir: String?

    @Option(help: "Log level of the pipeline parts under test (default warning, so reports stay readable).")
    var logLevel: String = "warning"

    @Flag(help: "Also run Spark Structured Streaming (pyspark in .venv-spark from `scripts/setup spark`, or $LOGPIPE_SPARK_PYTHON; Java 17) where a benchmark has it.")
    var spark = false

    func validate() throws {
        if let records, records < 1 { throw ValidationError("--records \(records): must be at least 1") }
        for (name, value) in [("--seconds", seconds), ("--windows", windows), ("--rate", rate), ("--duration", duration)] where value < 1 {
            throw ValidationError("\(name) \(value): must be at least 1")
        }
    }

    func run() async throws {
        try Settings.checkLevel(logLevel)
        let level = Logger.Level(rawValue: logLevel) ?? .warning
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = level
            return handler
        }
        let selected: [Name] = name == .all ? [.json, .bus, .parquet, .collector, .lake, .analytics, .kafka, .kafkaLake] : [name]
        let work = try workDir ?? TemporaryDirectory(prefix: "logpipe-bench").path
        let python = TestEnvironment.python == "/usr/bin/env" ? "python3" : TestEnvironment.python
        for bench in selected {
            let report: String
            switch bench {
            case .json:
                report = JSONBench.run(records: records ?? 1_000_000)
            case .accessLog:
                report = AccessLogBench.run(records: records ?? 1_000_000)
            case .bus:
                report = try await BusBench.run(directory: work, records: records ?? 1_000_000)
            case .parquet:
                report = try await ParquetBench.run(rows: records ?? 1_000_000, workDir: work + "/parquet", python: python)
            case .collector:
                report = try await CollectorBench.run(seconds: seconds, connections: 64, threads: 2, recordsPerRequest: 100)
            case .lake:
                report = try await LakeBench.run(records: records ?? 1_000_000, workDir: work + "/lake", python: python, spark: spark)
            case .analytics:
                report = try AnalyticsBench.run(records: records ?? 1_000_000, workDir: work + "/analytics", python: python, spark: spark)
            case .kafka:
                #if Kafka
                report = try await TansuBroker.with { broker in
                    try await KafkaBench.run(bootstrapServers: broker.bootstrapServers, records: records ?? 300_000, directory: work)
                }
                #else
                report = "kafka: skipped; this build has no Kafka support (swift build -c release --traits Kafka)"
                #endif
            case .latency:
                report = try await LatencyBench.run(
                    binary: Bundle.main.executablePath ?? CommandLine.arguments[0], port: LoopbackPort.free(),
                    windows: windows, workDir: work + "/latency")
            case .product:
                report = try await ProductBench.run(
                    binary: Bundle.main.executablePath ?? CommandLine.arguments[0], records: records ?? 1_000_000,
                    port: LoopbackPort.free(), workDir: work + "/product", python: python, spark: spark)
            case .live:
                report = try await LiveBench.run(
                    binary: Bundle.main.executablePath ?? CommandLine.arguments[0], rate: rate, seconds: duration,
                    port: LoopbackPort.free(), generatorPort: LoopbackPort.free(), workDir: work + "/live")
            case .report:
                report = try await BatchBench.report(records: records ?? 1_000_000, workDir: work + "/report", python: python, spark: spark)
            case .search:
                report = try await BatchBench.search(
                    records: records ?? 1_000_000, workDir: work + "/search", python: python,
                    binary: Bundle.main.executablePath ?? CommandLine.arguments[0])
            case .late:
                report = try await LateBackfillBench.run(
                    binary: Bundle.main.executablePath ?? CommandLine.arguments[0], records: records ?? 1_000_000,
                    workDir: work + "/late")
            case .kafkaLake:
                #if Kafka
                report = try await TansuBroker.with { broker in
                    try await KafkaLakeBench.run(bootstrapServers: broker.bootstrapServers, records: records ?? 500_000,
                                                 workDir: work + "/kafka-lake")
                }
                #else
                report = "kafka-lake: skipped; this build has no Kafka support (swift build -c release --traits Kafka)"
                #endif
            case .all:
                continue
            }
            print(report)
            print("")
        }
        if workDir == nil { try? FileManager.default.removeItem(atPath: work) }
    }
}

/// A child process for the bus crash test: produces until killed, printing every acknowledgement.
struct BusCrashChildCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "_bus-crash-child",
        abstract: "Test helper: produce to a local bus until killed (used by the crash tests).",
        shouldDisplay: false
    )

    @Argument var directory: String
    @Option(help: "The bus journal's largest size in bytes (small: it wraps often).") var journalBytes: Int64?
    @Option(help: "Segment size in bytes (default 64 KiB: kills land around rolls).") var segmentBytes: Int64?
    @Flag(help: "Print failed appends as '! <error>' and keep producing, instead of exiting.") var keepGoing = false

    func run() async throws {
        try await BusCrashChild.run(directory: directory, journalBytes: journalBytes, segmentBytes: segmentBytes, keepGoing: keepGoing)
    }
}
