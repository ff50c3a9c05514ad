import CompressNIO
import Logging
import LogpipeBus
import LogpipeRecords
import Metrics
import NIOCore
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

extension RecordKind {
    /// The topic rejected records go to, with the reason they were rejected.
    public var deadLetterTopic: String { topic + ".dlq" }
}

/// Limits the collector enforces before anything reaches the bus.
public struct IngestLimits: Sendable {
    /// The largest request body accepted, compressed or not (413 above it).
    public var maxBodyBytes: Int
    /// The largest body after gzip decoding (413 above it): a guard against zip bombs.
    public var maxDecodedBytes: Int
    /// Bodies being parsed or waiting on the bus at once, in bytes; 503 above it.
    public var maxInFlightBytes: Int
    /// Per-record limits of the JSON reader.
    public var records: RecordLimits

    /// Limits with production defaults: 16 MiB bodies, 64 MiB decoded, 256 MiB in flight.
    public init(
        maxBodyBytes: Int = 16 << 20,
        maxDecodedBytes: Int = 64 << 20,
        maxInFlightBytes: Int = 256 << 20,
        records: RecordLimits = RecordLimits()
    ) {
        self.maxBodyBytes = maxBodyBytes
        self.maxDecodedBytes = maxDecodedBytes
        self.maxInFlightBytes = maxInFlightBytes
        self.records = records
    }
}

/// What became of one request's records.
public struct IngestOutcome: Sendable {
    /// Records now durable on the bus.
    public var accepted: Int
    /// Records rejected, each naming its index in the body and the field at fault.
    public var rejected: [RecordError]
}

/// Why a whole request was refused, with the HTTP status it maps to.
public enum IngestError: Error, Sendable {
    /// The body is empty, not JSON, or not decodable (400).
    case badRequest(String)
    /// The body (or its decoded form) is over the limit (413).
    case tooLarge(String)
    /// The content type is not one the collector reads (415).
    case unsupportedMediaType(String)
    /// The pipeline is full; the client should retry after the given seconds (503).
    case overloaded(retryAfterSeconds: Int)
    /// The bus failed; nothing of this request is acknowledged (503).
    case busUnavailable(String)
    /// The bus's disk is full; nothing of this request is acknowledged, and the same request
    /// succeeds once space returns (507).
    case insufficientStorage(String)
}

/// Validates request bodies and makes their records durable on the bus.
///
/// The HTTP layer stays thin: everything that decides what is accepted lives here,
/// so it is tested without a socket and shared by every transport.
public final class Ingestor: Sendable {
    private let bus: any Bus
    private let limits: IngestLimits
    private let logger: Logger
    private let inFlightBytes = Atomic<Int>(0)

    /// An ingestor writing to `bus`.
    public init(bus: any Bus, limits: IngestLimits = IngestLimits(), logger: Logger = Logger(label: "logpipe.collector")) {
        self.bus = bus
        self.limits = limits
        self.logger = logger
    }

    /// Creates the topics the collector writes to, if missing, with `retention`. On the
    /// embedded bus an existing topic with another retention gets this one (the setting
    /// changed since it was created); on Kafka an existing topic keeps its own, which
    /// Kafka's tools change (`kafka-configs --alter`), not a collector restart.
    public func prepareTopics(partitions: Int32 = 3, retention: RetentionPolicy = .sevenDays) async throws {
        for kind in RecordKind.allCases {
            for topic in [kind.topic, kind.deadLetterTopic] {
                try await bus.createTopic(TopicSpec(name: topic, partitions: partitions, retention: retention))
                if let local = bus as? LocalBus { try await local.setRetention(retention, topic: topic) }
            }
        }
    }

    /// Validates `body` and produces its valid records, returning once they are durable.
    ///
    /// - Parameters:
    ///   - contentEncoding: the request's `Content-Encoding` (`gzip` or none).
    ///   - accessLog: for logs sent as raw text lines (Apache, Nginx, JSON lines), the reader
    ///     of those lines; nil reads JSON bodies.
    public func ingest(kind: RecordKind, body: ByteBuffer, contentEncoding: String?,
                       accessLog: AccessLogReader? = nil) async throws(IngestError) -> IngestOutcome {
        let started = ContinuousClock.now
        let cost = body.readableBytes
        let before = inFlightBytes.add(cost, ordering: .relaxed).newValue
        defer { inFlightBytes.subtract(cost, ordering: .relaxed) }
        if before > limits.maxInFlightBytes && before != cost {
            Counter(label: "logpipe_collector_overloaded_total", dimensions: [("kind", kind.rawValue)]).increment()
            throw .overloaded(retryAfterSeconds: 1)
        }
        let decoded = try decode(body, encoding: contentEncoding)
        let (produce, deadLetters, outcome) = if let accessLog, kind == .logs {
            parseText(decoded, reader: accessLog)
        } else {
            try parse(kind: kind, body: decoded)
        }
        if produce.count == 0 && outcome.rejected.isEmpty {
            throw .badRequest("the body holds no records")
        }
        do {
            async let dead: Void = deadLetters.count > 0 ? produceDeadLetters(kind: kind, deadLetters) : ()
            if produce.count > 0 {
                _ = try await bus.produce(topic: kind.topic, batch: produce)
            }
            try await dead
        } catch let error as BusError {
            if case .overloaded(let seconds) = error {
                Counter(label: "logpipe_collector_overloaded_total", dimensions: [("kind", kind.rawValue)]).increment()
                throw .overloaded(retryAfterSeconds: seconds)
            }
            if case .noSpace = error {
                Counter(label: "logpipe_collector_no_space_total", dimensions: [("kind", kind.rawValue)]).increment()
                logger.error("bus disk full", metadata: ["error": "\(error)", "kind": "\(kind.rawValue)"])
                throw .insufficientStorage(error.description)
            }
            logger.error("bus write failed", metadata: ["error": "\(error)", "kind": "\(kind.rawValue)"])
            throw .busUnavailable(error.description)
        } catch {
            logger.error("bus write failed", metadata: ["error": "\(error)", "kind": "\(kind.rawValue)"])
            throw .busUnavailable("\(error)")
        }
        Counter(label: "logpipe_collector_records_total", dimensions: [("kind", kind.rawValue), ("outcome", "accepted")])
            .increment(by: outcome.accepted)
        for rejection in outcome.rejected {
            Counter(label: "logpipe_collector_rejected_total", dimensions: [("kind", kind.rawValue), ("reason", rejection.reason.rawValue)])
                .increment()
        }
        Counter(label: "logpipe_collector_bytes_total", dimensions: [("kind", kind.rawValue)]).increment(by: cost)
        Timer(label: "logpipe_collector_ingest_seconds", dimensions: [("kind", kind.rawValue)])
            .recordNanoseconds((ContinuousClock.now - started).nanoseconds)
        return outcome
    }

    private func decode(_ body: ByteBuffer, encoding: String?) throws(IngestError) -> ByteBuffer {
        guard let encoding, !encoding.isEmpty, encoding.lowercased() != "identity" else { return body }
        guard encoding.lowercased() == "gzip" else {
            throw .unsupportedMediaType("content encoding '\(encoding)' is not supported; use gzip or none")
        }
        var compressed = body
        do {
            return try compressed.decompress(with: .gzip(), maxSize: limits.maxDecodedBytes)
        } catch let error as CompressNIOError where error == .bufferOverflow {
            throw .tooLarge("the gzip body decodes to more than \(limits.maxDecodedBytes) bytes")
        } catch {
            throw .badRequest("the gzip body is corrupt")
        }
    }

    private func parse(kind: RecordKind, body: ByteBuffer) throws(IngestError) -> (ProduceBatch, ProduceBatch, IngestOutcome) {
        let result: Result<(ProduceBatch, ProduceBatch, IngestOutcome), BodyError> = body.withUnsafeReadableBytes { raw in
            do throws(BodyError) {
                var reader = JSONBodyReader()
                switch kind {
                case .logs:
                    var batch = LogBatch()
                    let read = try reader.readLogs(body: raw, limits: limits.records, into: &batch)
                    return .success(Self.batches(raw, read, key: batch.service))
                case .activities:
                    var batch = ActivityBatch()
                    let read = try reader.readActivities(body: raw, limits: limits.records, into: &batch)
                    return .success(Self.batches(raw, read, key: batch.userId))
                }
            } catch {
                return .failure(error)
            }
        }
        switch result {
        case .success(let value): return value
        case .failure(let error): throw .badRequest(error.description)
        }
    }

    /// Raw text lines: a JSON line goes on the bus as sent, an access-log line as the
    /// contract JSON of the record it was parsed into.
    private func parseText(_ body: ByteBuffer, reader: AccessLogReader) -> (ProduceBatch, ProduceBatch, IngestOutcome) {
        body.withUnsafeReadableBytes { raw in
            var reader = reader
            var batch = LogBatch()
            let read = reader.readLogs(body: raw, limits: limits.records, into: &batch)
            var produce = ProduceBatch()
            var json: [UInt8] = []
            batch.service.bytes.withUnsafeBufferPointer { keyBytes in
                for (row, span) in read.body.acceptedSpans.enumerated() {
                    let key = keyBytes[batch.service.range(ofRow: row)]
                    if read.isJSONLine[row] {
                        produce.append(key: key, value: UnsafeRawBufferPointer(rebasing: raw[span]))
                    } else {
                        json.removeAll(keepingCapacity: true)
                        JSONRecordWriter.appendLog(batch, row: row, to: &json)
                        json.withUnsafeBytes { produce.append(key: key, value: $0) }
                    }
                }
            }
            var dead = ProduceBatch()
            let now = Int64(currentEpochMillis())
            for (error, span) in zip(read.body.errors, read.body.rejectedSpans) {
                dead.append(key: nil as [UInt8]?, value: deadLetterEnvelope(error: error, raw: UnsafeRawBufferPointer(rebasing: raw[span]), receivedMillis: now))
            }
            return (produce, dead, IngestOutcome(accepted: read.body.accepted, rejected: read.body.errors))
        }
    }

    /// The bus value of an accepted record is its own bytes from the body, so any
    /// Kafka consumer reads exactly what the client sent.
    private static func batches(_ raw: UnsafeRawBufferPointer, _ read: BodyReadResult, key: StringColumn) -> (ProduceBatch, ProduceBatch, IngestOutcome) {
        var produce = ProduceBatch()
        produce.buffer.reserveCapacity(raw.count + key.bytes.count)
        produce.entries.reserveCapacity(read.acceptedSpans.count)
        key.bytes.withUnsafeBufferPointer { keyBytes in
            for (row, span) in read.acceptedSpans.enumerated() {
                let keyRange = key.range(ofRow: row)
                produce.append(key: keyBytes[keyRange], value: UnsafeRawBufferPointer(rebasing: raw[span]))
            }
        }
        var dead = ProduceBatch()
        let now = Int64(currentEpochMillis())
        for (error, span) in zip(read.errors, read.rejectedSpans) {
            dead.append(key: nil as [UInt8]?, value: deadLetterEnvelope(error: error, raw: UnsafeRawBufferPointer(rebasing: raw[span]), receivedMillis: now))
        }
        return (produce, dead, IngestOutcome(accepted: read.acceptedSpans.count, rejected: read.errors))
    }

    private func produceDeadLetters(kind: RecordKind, _ batch: ProduceBatch) async throws {
        _ = try await bus.produce(topic: kind.deadLetterTopic, batch: batch)
    }
}

/// A dead letter: the reason and the record's text, as JSON, so an operator can
/// read it with any Kafka tool and replay it once fixed.
func deadLetterEnvelope(error: RecordError, raw: UnsafeRawBufferPointer, receivedMillis: Int64) -> [UInt8] {
    var out: [UInt8] = []
    out.reserveCapacity(raw.count + 128)
    out.append(contentsOf: #"{"received_at_ms":"#.utf8)
    out.append(contentsOf: String(receivedMillis).utf8)
    out.append(contentsOf: #","index":"#.utf8)
    out.append(contentsOf: String(error.index).utf8)
    out.append(contentsOf: #","field":"#.utf8)
    appendJSONString(error.field, to: &out)
    out.append(contentsOf: #","error":"#.utf8)
    appendJSONString(error.message, to: &out)
    out.append(contentsOf: #","record":"#.utf8)
    // The record may be invalid UTF-8; repair it so the envelope stays valid JSON.
    appendJSONString(String(decoding: raw, as: UTF8.self), to: &out)
    out.append(UInt8(ascii: "}"))
    return out
}

extension Duration {
    /// The whole duration in nanoseconds.
    var nanoseconds: Int64 {
        let (seconds, attoseconds) = components
        return seconds * 1_000_000_000 + attoseconds / 1_000_000_000
    }
}

/// Milliseconds since the epoch, from the system clock.
func currentEpochMillis() -> Int {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
}
