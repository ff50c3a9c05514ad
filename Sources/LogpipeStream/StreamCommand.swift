import Foundation
import Logging
import LogpipeBus
import LogpipeLake
import ServiceLifecycle

/// What `logpipe stream` runs: a worker as a service until SIGTERM/SIGINT, or once to the
/// end of the bus. The CLI parses flags into a `StreamConfiguration` and calls `run`.
public enum StreamCommand {
    /// Parses `logs.raw:0,logs.raw:1,events.activity:2` (topic:partition, comma-separated)
    /// into an explicit assignment.
    public static func parsePartitions(_ text: String) throws -> Set<TopicPartition> {
        var out = Set<TopicPartition>()
        for item in text.split(separator: ",") {
            let trimmed = item.trimmingCharacters(in: .whitespaces)
            guard let colon = trimmed.lastIndex(of: ":"), let p = Int32(trimmed[trimmed.index(after: colon)...]), p >= 0,
                  colon > trimmed.startIndex else {
                throw StreamCommandError.invalidPartition(String(trimmed))
            }
            out.insert(TopicPartition(topic: String(trimmed[..<colon]), partition: p))
        }
        return out
    }

    /// Runs a stream worker over `bus` into the lake in `store`.
    ///
    /// - `partitions`: an explicit assignment; `nil` owns every partition of the sources.
    /// - `once`: read to the end the bus has now, commit, and return (a backfill or a test);
    ///   otherwise run until SIGTERM or SIGINT, then commit what is open and return.
    ///
    /// The bus is not closed: the caller owns it.
    @discardableResult
    public static func run(bus: any Bus, store: any FileStore, configuration: StreamConfiguration,
                           partitions: Set<TopicPartition>? = nil, once: Bool = false,
                           extraSinks: [any StreamSink] = [], logger: Logger) async throws -> StreamStatistics {
        let worker = StreamWorker(bus: bus, store: store, configuration: configuration, extraSinks: extraSinks, logger: logger)
        if let partitions { worker.assign(partitions) }
        logger.info("stream starting", metadata: [
            "lake": "\(store.location)", "worker": "\(configuration.workerId)",
            "partitions": "\(partitions.map { $0.map(\.description).sorted().joined(separator: ",") } ?? "all")",
            "once": "\(once)"])
        if once { return try await worker.runUntilCaughtUp() }
        let group = ServiceGroup(configuration: ServiceGroupConfiguration(
            services: [.init(service: worker)], gracefulShutdownSignals: [.sigterm, .sigint], logger: logger))
        try await group.run()
        return worker.statistics
    }
}

/// A `logpipe stream` argument that does not parse.
public enum StreamCommandError: Error, CustomStringConvertible, Equatable {
    /// A `--partitions` item is not `topic:number`.
    case invalidPartition(String)

    public var description: String {
        switch self {
        case .invalidPartition(let s): "invalid partition '\(s)': expected topic:number, e.g. logs.raw:0"
        }
    }
}
