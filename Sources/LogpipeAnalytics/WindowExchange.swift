import LogpipeBus
import LogpipeLake

/// What one source partition tells the other workers about the whole-system windows: its
/// watermark, when it said so, and its final parts of the windows not yet emitted.
///
/// Every part is final (the partition's watermark has passed the window), so any version
/// of this object that a reader sees is a consistent view of the partition's history: a
/// window ending at or before `watermark` has here exactly the part a replay of the
/// partition would compute again, or none because the partition knew it emitted.
struct ExchangeReport: Sendable {
    /// The partition's watermark (event time, microseconds).
    var watermark: Int64
    /// The writer's wall clock when it wrote this (microseconds), for idleness.
    var reportedAtMicros: Int64
    /// Final parts of windows not yet emitted.
    var parts: GlobalPartials
}

/// What the merger of a stream has emitted, and the detector history its alerts depend on,
/// so the next merger (after a restart or a handover) neither emits a window twice nor
/// forgets an open incident.
struct ExchangeEmitted: Sendable {
    /// Windows ending at or before this are emitted.
    var upTo: Int64
    /// The merger's detector state (`AnomalyDetector` snapshot bytes).
    var detector: [UInt8]
}

/// The exchange of whole-system window parts between the stream workers of one group,
/// through the lake's `FileStore`, under `_logpipe/analytics/exchange/<stream>/`.
///
/// Why the lake and not an internal topic on the bus: stream workers on the embedded bus
/// open it read-only (one writer process per bus), so they cannot produce to any topic;
/// the lake is writable by every worker on the local directory, S3 and WebHDFS alike,
/// and with Kafka as with the embedded bus. The volume is small (one object per source
/// partition, holding only windows not yet emitted), and rewriting an object is
/// idempotent, so a worker never needs to coordinate its writes with anyone. The one
/// exception, the mergers' claims (`claims/<from>`: which range of window ends the next
/// publication holds), is created exclusively, so the first claim of a range wins.
///
/// Objects are a binary encoding (the snapshot coder) behind a magic, a length and a
/// CRC32C: `write` of a store need not be atomic for readers (the local store truncates
/// and writes), so a reader that catches an object half-written sees a bad checksum and
/// keeps the previous version it read.
public struct GlobalWindowExchange: Sendable {
    /// The lake.
    public let store: any FileStore
    private static let reportMagic: [UInt8] = Array("LPXR".utf8)
    private static let emittedMagic: [UInt8] = Array("LPXE".utf8)

    /// An exchange in `store`.
    public init(store: any FileStore) { self.store = store }

    /// The directory of a stream's exchange objects.
    public static func directory(_ stream: AnalyticsStream) -> String {
        "\(LakeLayout.metadataDirectory)/analytics/exchange/\(stream.rawValue)"
    }

    /// The name of a partition's object.
    static func objectName(_ tp: TopicPartition) -> String { "\(tp.topic)-\(tp.partition)" }

    /// The name of the merger's record of what it emitted.
    static let emittedName = "_emitted"

    func write(_ stream: AnalyticsStream, _ tp: TopicPartition, _ report: ExchangeReport) async throws {
        var w = SnapshotWriter()
        w.string(tp.topic)
        w.u32(UInt32(bitPattern: tp.partition))
        w.i64(report.watermark)
        w.i64(report.reportedAtMicros)
        Self.write(report.parts, to: &w)
        try await store.write("\(Self.directory(stream))/\(Self.objectName(tp))", contents: Self.frame(Self.reportMagic, w.bytes))
    }

    /// What identifies one version of an object without reading it: its size and
    /// modification time as the store lists them.
    struct ObjectStamp: Equatable, Sendable {
        var size: Int64
        var modified: Double
    }

    /// The partitions' objects that changed since `known` (path → stamp of the version last
    /// read whole) and read back whole now, and the stamps to remember for them; a torn or
    /// foreign object is left out and not remembered, so it is read again next time.
    ///
    /// Reading only changed objects is what keeps a round cheap: a partition's object
    /// holds every part of its windows not yet emitted, and decoding all of them every
    /// round was most of a lone worker's time. `current(tp, reportedAt)` says the caller
    /// holds that partition's state at least as new as the object (it reported it itself
    /// since): such an object's parts are not decoded (its report comes back with no
    /// parts), since the caller's own ones win over them anyway.
    ///
    /// A version missed because a rewrite kept its size and timestamp (a store with
    /// coarse timestamps) is a consistent older version of that partition: its watermark
    /// and its parts belong together, so it delays emission, never changes it, until the
    /// heartbeat's next rewrite.
    func readChanged(_ stream: AnalyticsStream, known: [String: ObjectStamp],
                     current: @Sendable (TopicPartition, Int64) -> Bool) async throws
        -> (reports: [TopicPartition: ExchangeReport], stamps: [String: ObjectStamp]) {
        var out: [TopicPartition: ExchangeReport] = [:]
        var stamps: [String: ObjectStamp] = [:]
        for file in try await store.list(Self.directory(stream), recursive: false) {
            let name = file.path.split(separator: "/").last.map(String.init) ?? file.path
            guard !name.hasPrefix("_") else { continue }
            let stamp = ObjectStamp(size: file.size, modified: file.modified)
            guard known[file.path] != stamp else { continue }
            guard let bytes = try? await store.read(file.path), let body = Self.unframe(Self.reportMagic, bytes) else { continue }
            var r = SnapshotReader(body)
            do {
                let tp = TopicPartition(topic: try r.string(), partition: Int32(bitPattern: try r.u32()))
                let watermark = try r.i64()
                let at = try r.i64()
                let parts = current(tp, at) ? GlobalPartials() : try Self.readParts(&r)
                out[tp] = ExchangeReport(watermark: watermark, reportedAtMicros: at, parts: parts)
                stamps[file.path] = stamp
            } catch {
                continue
            }
        }
        return (out, stamps)
    }

    func writeEmitted(_ stream: AnalyticsStream, _ emitted: ExchangeEmitted) async throws {
        var w = SnapshotWriter()
        w.i64(emitted.upTo)
        w.blob(emitted.detector)
        try await store.write("\(Self.directory(stream))/\(Self.emittedName)", contents: Self.frame(Self.emittedMagic, w.bytes))
    }

    /// The merger's record; `nil` when there is none yet, it is being rewritten, or the
    /// store did not answer (all three: nothing new to learn this time).
    func readEmitted(_ stream: AnalyticsStream) async -> ExchangeEmitted? {
        let path = "\(Self.directory(stream))/\(Self.emittedName)"
        guard let bytes = try? await store.read(path), let body = Self.unframe(Self.emittedMagic, bytes) else { return nil }
        var r = SnapshotReader(body)
        guard let upTo = try? r.i64(), let detector = try? r.blob() else { return nil }
        return ExchangeEmitted(upTo: upTo, detector: detector)
    }

    /// The directory of a stream's claims: the chain of ranges of window ends that the
    /// mergers publish as one publication each (see `GlobalWindowCoordinator`).
    static func claimsDirectory(_ stream: AnalyticsStream) -> String { "\(directory(stream))/claims" }

    private static func claimPath(_ stream: AnalyticsStream, from: Int64) -> String { "\(claimsDirectory(stream))/\(from)" }

    /// Claims the windows ending in `(from, upTo]` for one publication: `false` when a
    /// claim from `from` exists already (whoever made it, its range is the one to publish).
    func claim(_ stream: AnalyticsStream, from: Int64, upTo: Int64) async throws -> Bool {
        var w = SnapshotWriter()
        w.i64(upTo)
        return try await store.createExclusive(Self.claimPath(stream, from: from), contents: Self.frame(Self.claimMagic, w.bytes))
    }

    /// The end of the claim from `from`; `nil` when there is none. A claim is created whole
    /// (`createExclusive`), so one that does not decode is not ours: an error.
    func claimEnd(_ stream: AnalyticsStream, from: Int64) async throws -> Int64? {
        let bytes: [UInt8]
        do {
            bytes = try await store.read(Self.claimPath(stream, from: from))
        } catch FileStoreError.notFound {
            return nil
        }
        guard let body = Self.unframe(Self.claimMagic, bytes) else { throw FileStoreError.io("malformed claim from \(from)") }
        var r = SnapshotReader(body)
        guard let upTo = try? r.i64(), upTo > from else { throw FileStoreError.io("malformed claim from \(from)") }
        return upTo
    }

    /// Where the claims in the store start (their `from`s), sorted; names that are no
    /// number (a store's temporaries) are left out.
    func claimStarts(_ stream: AnalyticsStream) async throws -> [Int64] {
        try await store.list(Self.claimsDirectory(stream), recursive: false)
            .compactMap { Int64($0.path.split(separator: "/").last ?? "") }
            .sorted()
    }

    /// Deletes the claim from `from`.
    func deleteClaim(_ stream: AnalyticsStream, from: Int64) async throws {
        try await store.delete(Self.claimPath(stream, from: from))
    }

    private static let claimMagic: [UInt8] = Array("LPXC".utf8)

    private static func frame(_ magic: [UInt8], _ body: [UInt8]) -> [UInt8] {
        var out = magic
        var w = SnapshotWriter()
        w.u32(UInt32(body.count))
        w.u32(CRC32C.checksum(body))
        out += w.bytes
        out += body
        return out
    }

    private static func unframe(_ magic: [UInt8], _ bytes: [UInt8]) -> [UInt8]? {
        guard bytes.count >= 12, bytes[0..<4].elementsEqual(magic) else { return nil }
        var r = SnapshotReader(Array(bytes[4..<12]))
        guard let length = try? r.u32(), let crc = try? r.u32(), bytes.count == 12 + Int(length) else { return nil }
        let body = Array(bytes[12...])
        return CRC32C.checksum(body) == crc ? body : nil
    }

    private static func write(_ p: GlobalPartials, to w: inout SnapshotWriter) {
        // In dictionary order, not sorted: a reader rebuilds dictionaries anyway, and sorting
        // every waiting part by name at each rewrite was time spent for no reader. Services
        // by name: the ids are the writer's own.
        func key(_ start: Int64, _ name: String) { w.i64(start); w.string(name) }
        func hll(_ h: HyperLogLog) { w.u8(UInt8(h.precision)); w.hll(h) }
        func names(_ s: SmallBitSet) {
            let members = s.members
            w.u32(UInt32(members.count))
            for id in members { w.string(p.serviceName(id)) }
        }
        func counts(_ c: [String: Int64]) { w.u32(UInt32(c.count)); for (n, v) in c { w.string(n); w.i64(v) } }
        for family in [p.clients, p.floods] {
            w.u32(UInt32(family.values.reduce(0) { $0 + $1.count }))
            for (start, group) in family {
                for (ip, v) in group { key(start, ip); w.i64(v.requests); hll(v.users); names(v.services) }
            }
        }
        w.u32(UInt32(p.system.count))
        for (start, v) in p.system {
            key(start, ""); w.i64(v.requests); w.i64(v.errors); w.summary(v.responseTime); names(v.services); hll(v.users)
        }
        w.u32(UInt32(p.activities.values.reduce(0) { $0 + $1.count }))
        for (start, group) in p.activities {
            for (type, v) in group {
                key(start, type); w.i64(v.events); hll(v.users); hll(v.sessions)
                counts(v.deviceTypes); counts(v.operatingSystems); counts(v.browsers)
            }
        }
    }

    private static func readParts(_ r: inout SnapshotReader) throws(AnalyticsSnapshotError) -> GlobalPartials {
        var p = GlobalPartials()
        var serviceIDs: [String: UInt32] = [:]
        func hll() throws(AnalyticsSnapshotError) -> HyperLogLog {
            let precision = Int(try r.u8())
            guard (4...18).contains(precision) else { throw .malformed("sketch precision \(precision)") }
            return try r.hll(precision: precision)
        }
        func names() throws(AnalyticsSnapshotError) -> SmallBitSet {
            var s = SmallBitSet()
            for _ in 0..<(try r.count(minBytes: 4)) { s.insert(p.serviceID(try r.string(), index: &serviceIDs)) }
            return s
        }
        func counts() throws(AnalyticsSnapshotError) -> [String: Int64] {
            var c: [String: Int64] = [:]
            for _ in 0..<(try r.count(minBytes: 12)) { c[try r.string()] = try r.i64() }
            return c
        }
        for family in 0..<2 {
            for _ in 0..<(try r.count(minBytes: 16)) {
                let start = try r.i64(), ip = try r.string()
                let v = ClientPartial(requests: try r.i64(), users: try hll(), services: try names())
                if family == 0 { p.clients[start, default: [:]][ip] = v } else { p.floods[start, default: [:]][ip] = v }
            }
        }
        for _ in 0..<(try r.count(minBytes: 16)) {
            let start = try r.i64()
            _ = try r.string()
            p.system[start] = SystemPartial(requests: try r.i64(), errors: try r.i64(), responseTime: try r.summary(),
                                            services: try names(), users: try hll())
        }
        for _ in 0..<(try r.count(minBytes: 16)) {
            let start = try r.i64(), type = try r.string()
            p.activities[start, default: [:]][type] = ActivityPartial(
                events: try r.i64(), users: try hll(), sessions: try hll(),
                deviceTypes: try counts(), operatingSystems: try counts(), browsers: try counts())
        }
        guard r.atEnd else { throw .malformed("trailing bytes") }
        return p
    }
}
