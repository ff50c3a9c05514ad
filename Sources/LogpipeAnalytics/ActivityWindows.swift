import LogpipeRecords

/// Counts per small id (device type, OS, browser values): a short list, searched
/// linearly because a window sees a handful of values.
struct SmallCounts: Sendable, Equatable {
    var ids: [UInt32] = []
    var counts: [Int64] = []

    @inline(__always)
    mutating func add(_ id: UInt32, _ n: Int64 = 1) {
        if let i = ids.firstIndex(of: id) {
            // Wrapping: real counts never come near Int64.max, and a corrupt snapshot's must
            // not trap the worker that restores it.
            counts[i] &+= n
        } else {
            ids.append(id)
            counts.append(n)
        }
    }

    mutating func merge(_ o: SmallCounts) {
        for (id, n) in zip(o.ids, o.counts) { add(id, n) }
    }

    /// (id, count) ascending by id: the canonical content.
    var sorted: [(UInt32, Int64)] { zip(ids, counts).sorted { $0.0 < $1.0 } }

    static func == (a: SmallCounts, b: SmallCounts) -> Bool {
        a.sorted.elementsEqual(b.sorted, by: { $0 == $1 })
    }
}

/// Window state of one activity event type.
struct ActivityState: Sendable, Equatable {
    var events: Int64 = 0
    var users: HyperLogLog
    var sessions: HyperLogLog
    var deviceTypes = SmallCounts()
    var operatingSystems = SmallCounts()
    var browsers = SmallCounts()

    init(precision: Int) {
        users = HyperLogLog(precision: precision)
        sessions = HyperLogLog(precision: precision)
    }

    mutating func merge(_ o: ActivityState) {
        events += o.events
        users.merge(o.users)
        sessions.merge(o.sessions)
        deviceTypes.merge(o.deviceTypes)
        operatingSystems.merge(o.operatingSystems)
        browsers.merge(o.browsers)
    }
}

/// The windowed state of the activity stream: per event type and window.
struct ActivityWindows: Sendable {
    let configuration: AnalyticsConfiguration
    var watermark: Watermark
    var typeNames: ByteInterner
    /// Device types, OS and browser names share one table: they are few.
    var dimensionNames: ByteInterner
    var types: WindowTable<ActivityState>

    private var typeEncoder = BatchEncoder()
    private var deviceEncoder = BatchEncoder()
    private var osEncoder = BatchEncoder()
    private var browserEncoder = BatchEncoder()
    private var userHashes: [UInt64] = []
    private var sessionHashes: [UInt64] = []
    private var admitted: [Bool] = []

    init(configuration c: AnalyticsConfiguration) {
        configuration = c
        watermark = Watermark(latenessMicros: c.allowedLatenessMicros)
        typeNames = ByteInterner(limit: c.maxNames)
        dimensionNames = ByteInterner(limit: c.maxNames)
        types = WindowTable(spec: c.activityWindow)
    }

    /// Aggregates the admitted rows of `batch`; appends the rows behind the watermark to
    /// `late` and those ahead of their limit to `future`.
    mutating func add(_ batch: ActivityBatch, batchNumber: UInt64, limits: FutureLimits, late: inout [Int], future: inout [Int]) {
        let n = batch.count
        guard n > 0 else { return }
        admitted.removeAll(keepingCapacity: true)
        for row in 0..<n {
            switch watermark.admit(batch.timestampMicros.values[row], limit: limits.limit(row)) {
            case .onTime: admitted.append(true)
            case .late: admitted.append(false); late.append(row)
            case .future: admitted.append(false); future.append(row)
            }
        }
        typeEncoder.encode(batch.eventType, rows: n, interner: &typeNames)
        deviceEncoder.encode(batch.deviceType, rows: n, interner: &dimensionNames)
        osEncoder.encode(batch.os, rows: n, interner: &dimensionNames)
        browserEncoder.encode(batch.browser, rows: n, interner: &dimensionNames)
        hashRows(batch.userId, rows: n, into: &userHashes)
        hashRows(batch.sessionId, rows: n, into: &sessionHashes)
        let precision = configuration.distinctPrecision
        let spec = types.spec
        let sessionValid = batch.sessionId.validity
        for row in 0..<n where admitted[row] {
            let t = batch.timestampMicros.values[row]
            var start = spec.lastStart(t)
            while start > t - spec.sizeMicros {
                let s = types.slot(start: start, id: typeEncoder.ids[row], batch: batchNumber) { ActivityState(precision: precision) }
                types.states[s].events += 1
                types.states[s].users.add(hash: userHashes[row])
                if sessionValid?[row] ?? true { types.states[s].sessions.add(hash: sessionHashes[row]) }
                let device = deviceEncoder.ids[row], os = osEncoder.ids[row], browser = browserEncoder.ids[row]
                if device != .max { types.states[s].deviceTypes.add(device) }
                if os != .max { types.states[s].operatingSystems.add(os) }
                if browser != .max { types.states[s].browsers.add(browser) }
                start -= spec.slideMicros
            }
        }
    }

    /// Late rows counted per activity window and event type.
    func lateCounts(_ batch: ActivityBatch, rows: [Int], reason: LateReason) -> [LateCount] {
        var counts: [TimeWindowKey: Int64] = [:]
        let spec = types.spec
        for row in rows {
            let t = batch.timestampMicros.values[row]
            var start = spec.lastStart(t)
            while start > t - spec.sizeMicros {
                counts[TimeWindowKey(start: start, id: typeEncoder.ids[row]), default: 0] += 1
                start -= spec.slideMicros
            }
        }
        return counts.map {
            LateCount(stream: .activities,
                      window: TimeWindow(startMicros: $0.key.start, endMicros: $0.key.start + spec.sizeMicros),
                      key: typeNames.name($0.key.id), count: $0.value, reason: reason)
        }.sorted { ($0.window, $0.key) < ($1.window, $1.key) }
    }

    /// The metrics row of an activity window.
    func metrics(window: TimeWindow, id: UInt32, state s: ActivityState, isFinal: Bool) -> ActivityMetrics {
        func named(_ c: SmallCounts) -> [String: Int64] {
            var out: [String: Int64] = [:]
            for (id, n) in zip(c.ids, c.counts) { out[dimensionNames.name(id), default: 0] += n }
            return out
        }
        return ActivityMetrics(window: window, eventType: typeNames.name(id), eventCount: s.events,
                               distinctUsers: s.users.count, distinctSessions: s.sessions.count,
                               deviceTypes: named(s.deviceTypes), operatingSystems: named(s.operatingSystems),
                               browsers: named(s.browsers), isFinal: isFinal)
    }

    // MARK: Snapshot

    func write(to w: inout SnapshotWriter) {
        w.i64(watermark.maxEventMicros)
        w.interner(typeNames)
        w.interner(dimensionNames)
        writeTable(types, to: &w) { w, s in
            w.i64(s.events); w.hll(s.users); w.hll(s.sessions)
            for counts in [s.deviceTypes, s.operatingSystems, s.browsers] {
                let sorted = counts.sorted
                w.u32(UInt32(sorted.count))
                for (id, n) in sorted { w.u32(id); w.i64(n) }
            }
        }
    }

    mutating func read(from r: inout SnapshotReader) throws(AnalyticsSnapshotError) {
        let c = configuration
        watermark.maxEventMicros = try r.i64()
        typeNames = try r.interner(limit: c.maxNames)
        dimensionNames = try r.interner(limit: c.maxNames)
        types = try readTable(spec: c.activityWindow, from: &r) { r throws(AnalyticsSnapshotError) in
            var s = ActivityState(precision: c.distinctPrecision)
            s.events = try r.i64()
            s.users = try r.hll(precision: c.distinctPrecision)
            s.sessions = try r.hll(precision: c.distinctPrecision)
            for k in 0..<3 {
                var counts = SmallCounts()
                for _ in 0..<(try r.count(minBytes: 12)) {
                    let id = try r.u32(), n = try r.i64()
                    // Written from a SmallCounts, each id appears once.
                    guard !counts.ids.contains(id) else { throw .malformed("activity counts repeat id \(id)") }
                    counts.add(id, n)
                }
                switch k {
                case 0: s.deviceTypes = counts
                case 1: s.operatingSystems = counts
                default: s.browsers = counts
                }
            }
            return s
        }
    }
}
