import AsyncHTTPClient
import Foundation
import Logging
import LogpipeAnalytics
import LogpipeBus
import LogpipeLake
import NIOCore

/// Delivers what the analytics sink publishes after each lake commit: windowed metrics
/// and alerts as JSON lines in the lake (`metrics/<family>/…`, `alerts/…`,
/// hour-partitioned by window start), alerts on the `alerts` topic, and alerts to an
/// optional webhook. (The late rows themselves are committed by the sink, in `late/…`.)
///
/// A publication replayed after a restart has the same name (topic, partition, sequence,
/// and for a claimed range of whole-system windows its end), so every lake file is named
/// by it and created exclusively: a replay writes nothing twice. One publication is one
/// file per family and hour its rows' windows start in. The alerts topic and the webhook
/// are at-least-once; each alert carries its window and subject so a receiver can drop
/// repeats.
public final class AnalyticsPublisher: Sendable {
    /// The topic alerts are produced to.
    public static let alertsTopic = "alerts"

    private let store: any FileStore
    private let bus: (any Bus)?
    private let webhook: String?
    private let client: HTTPClient?
    private let logger: Logger

    /// A publisher into the lake in `store`, the `alerts` topic of `bus` (when given) and
    /// `webhook` (an http(s) URL receiving each alert as a JSON POST, when given).
    public init(store: any FileStore, bus: (any Bus)?, webhook: String?, logger: Logger) {
        self.store = store
        self.bus = bus
        self.webhook = webhook
        client = webhook == nil ? nil : HTTPClient(eventLoopGroupProvider: .singleton)
        self.logger = logger
    }

    /// Creates the alerts topic when missing.
    public func prepare() async throws {
        try await bus?.createTopic(TopicSpec(name: Self.alertsTopic, partitions: 1))
    }

    /// Releases the webhook client.
    public func shutdown() async {
        try? await client?.shutdown()
    }

    /// Delivers one publication; failures are logged, never thrown, so analytics output
    /// never stops the raw lake.
    public func publish(_ publication: AnalyticsPublication) async {
        let name = publication.fileName
        let output = publication.output
        var files: [(path: String, bytes: [UInt8])] = []
        Self.lines(output.services, family: "metrics/services", name: name, into: &files) { $0.window.startMicros }
        Self.lines(output.clients, family: "metrics/clients", name: name, into: &files) { $0.window.startMicros }
        Self.lines(output.system, family: "metrics/system", name: name, into: &files) { $0.window.startMicros }
        Self.lines(output.activities, family: "metrics/activities", name: name, into: &files) { $0.window.startMicros }
        Self.lines(output.lateCounts, family: "metrics/late", name: name, into: &files) { $0.window.startMicros }
        Self.lines(output.alerts, family: "alerts", name: name, into: &files) { $0.window.startMicros }
        do {
            try await write(files)
        } catch {
            logger.error("writing analytics to the lake failed", metadata: ["error": "\(error)", "publication": "\(name)"])
        }
        guard !output.alerts.isEmpty else { return }
        let alerts = output.alerts.map { AnalyticsJSON.encode($0) }
        if let bus {
            var batch = ProduceBatch()
            for (alert, json) in zip(output.alerts, alerts) { batch.append(key: Array(alert.subject.utf8), value: json) }
            do {
                _ = try await bus.produce(topic: Self.alertsTopic, batch: batch)
            } catch {
                logger.error("producing alerts failed", metadata: ["error": "\(error)"])
            }
        }
        if let webhook, let client {
            for json in alerts {
                var request = HTTPClientRequest(url: webhook)
                request.method = .POST
                request.headers.add(name: "Content-Type", value: "application/json")
                request.body = .bytes(ByteBuffer(bytes: json))
                do {
                    let response = try await client.execute(request, timeout: .seconds(10))
                    _ = try await response.body.collect(upTo: 1 << 16)
                    if response.status.code >= 300 {
                        logger.warning("the alert webhook refused an alert", metadata: ["status": "\(response.status.code)"])
                    }
                } catch {
                    logger.warning("the alert webhook failed", metadata: ["error": "\(error)"])
                }
            }
        }
    }

    /// `rows` as JSON lines, one file per hour of window start.
    private static func lines<Row: AnalyticsJSONEncodable>(_ rows: [Row], family: String, name: String,
                                                           into files: inout [(path: String, bytes: [UInt8])],
                                                           start: (Row) -> Int64) {
        guard !rows.isEmpty else { return }
        var byHour: [HourPartition: [UInt8]] = [:]
        // Rows come in window order: an hour's rows are a run, encoded together, and its
        // file's buffer is looked up once per run rather than twice per row.
        var runStart = 0
        while runStart < rows.count {
            let hour = HourPartition(timestampMicros: start(rows[runStart]))
            var runEnd = runStart + 1
            while runEnd < rows.count, HourPartition(timestampMicros: start(rows[runEnd])) == hour { runEnd += 1 }
            Row.appendJSONLines(rows[runStart..<runEnd], to: &byHour[hour, default: []])
            runStart = runEnd
        }
        for (hour, bytes) in byHour { files.append(("\(family)/\(hour.path)/\(name)", bytes)) }
    }

    /// Files synced at once rather than one after another: a backfill's publication spans
    /// dozens of hours, each its own file and fsync, and the stream waits for them (the
    /// largest wait of `logpipe stream --once` on a 48-hour bus, docs/profile.md).
    private func write(_ files: [(path: String, bytes: [UInt8])]) async throws {
        let store = store
        try await withThrowingTaskGroup(of: Void.self) { group in
            for (i, file) in files.enumerated() {
                if i >= Self.concurrentWrites { try await group.next() }
                group.addTask { _ = try await store.createExclusive(file.path, contents: file.bytes) }
            }
            try await group.waitForAll()
        }
    }

    /// Lake writes in flight at once per publication.
    private static let concurrentWrites = 16
}
