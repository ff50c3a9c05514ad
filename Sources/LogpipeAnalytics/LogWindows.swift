import Dispatch
import LogpipeRecords

/// Window state of one service: everything `ServiceMetrics` needs, all mergeable.
struct ServiceState: Sendable, Equatable {
    var requests: Int64 = 0
    var errors: Int64 = 0
    var successes: Int64 = 0
    var fast: Int64 = 0
    var responseTime = NumericSummary()
    var sketch: DDSketch

    init(accuracy: Double) { sketch = DDSketch(relativeAccuracy: accuracy) }

    mutating func merge(_ o: ServiceState) {
        requests += o.requests; errors += o.errors; successes += o.successes; fast += o.fast
        responseTime.merge(o.responseTime)
        sketch.merge(o.sketch)
    }
}

/// Window state of one client IP (also used per flood window).
struct ClientState: Sendable, Equatable {
    var requests: Int64 = 0
    var users: HyperLogLog
    var services = SmallBitSet()

    init(precision: Int) { users = HyperLogLog(precision: precision) }

    mutating func merge(_ o: ClientState) {
        requests += o.requests
        users.merge(o.users)
        services.formUnion(o.services)
    }
}

/// System-wide window state.
struct SystemState: Sendable, Equatable {
    var requests: Int64 = 0
    var errors: Int64 = 0
    var responseTime = NumericSummary()
    var services = SmallBitSet()
    var users: HyperLogLog

    init(precision: Int) { users = HyperLogLog(precision: precision) }

    mutating func merge(_ o: SystemState) {
        requests += o.requests; errors += o.errors
        responseTime.merge(o.responseTime)
        services.formUnion(o.services)
        users.merge(o.users)
    }
}

/// The windowed state of the log stream: four families of windows over the same rows.
struct LogWindows: Sendable {
    let configuration: AnalyticsConfiguration
    var watermark: Watermark
    var serviceNames: ByteInterner
    var services: WindowTable<ServiceState>
    /// The client-IP side: IP names, per-IP and flood windows.
    var ips: IPFamilies
    var system: WindowTable<SystemState>
    /// `ips.names` in name order, for handing client-IP parts over sorted; brought up to
    /// date by `orderIPs()`.
    private(set) var ipOrder = NameOrder()

    // Per-batch scratch, reused so steady-state batches allocate little.
    private var serviceEncoder = BatchEncoder()
    private var userHashes: [UInt64] = []
    private var admitted: [Bool] = []
    private var slots: [Int32] = []

    init(configuration c: AnalyticsConfiguration) {
        configuration = c
        watermark = Watermark(latenessMicros: c.allowedLatenessMicros)
        serviceNames = ByteInterner(limit: c.maxNames)
        services = WindowTable(spec: c.serviceWindow)
        ips = IPFamilies(spec: c)
        system = WindowTable(spec: c.systemWindow)
    }

    /// Rows from which a batch's families are aggregated on two threads at once (per
    /// service and system-wide here, per client IP and flood on another): below it the
    /// hand-off costs more than it saves.
    static let parallelRows = 8_192

    /// Aggregates the admitted rows of `batch`; appends the rows behind the watermark to
    /// `late` and those ahead of their limit to `future`. With `closeIPs`, the client-IP and
    /// flood windows the new watermark passes are also closed, by the thread that
    /// aggregated them, and kept in `ips` for `emitLogs`.
    ///
    /// A large batch's families are split over two threads: the client-IP side (the IP
    /// column's codes, the per-IP and flood windows) and the rest share no state, so the
    /// aggregation, which must see batches in order, takes half the time of one thread when
    /// a core is free (the tail of a backfill, a partition far larger than the others).
    mutating func add(_ batch: LogBatch, batchNumber: UInt64, limits: FutureLimits, late: inout [Int], future: inout [Int],
                      closeIPs: Bool = false) {
        let n = batch.count
        guard n > 0 else { return }
        guard n >= Self.parallelRows else {
            ips.encode(batch.clientIp, rows: n)
            let rows = prepare(batch, batchNumber: batchNumber, limits: limits, late: &late, future: &future)
            addServiceAndSystem(rows)
            ips.add(rows, closeUpTo: closeIPs ? watermark.micros : nil)
            return
        }
        // Moved out, so each thread owns what it writes (no copy: `self` no longer holds them).
        var side = ips
        ips = IPFamilies(spec: configuration)
        // Two steps on two threads each: the IP column's codes and the user hashes need
        // nothing from this batch's admission, so they are made while this thread admits
        // the rows and codes the services; every family then reads all of them.
        var hashes = userHashes
        userHashes = []
        withoutActuallyEscaping({ (i: Int) in
            if i == 0 {
                side.encode(batch.clientIp, rows: n)
                hashRows(batch.userId, rows: n, into: &hashes)
            } else {
                admit(batch, limits: limits, late: &late, future: &future)
                serviceEncoder.encode(batch.service, rows: n, interner: &serviceNames)
            }
        }) { body in
            let work = UnsafeSendable(body)
            DispatchQueue.concurrentPerform(iterations: 2) { work.value($0) }
        }
        userHashes = hashes
        let rows = FamilyRows(batch, admitted: admitted, services: serviceEncoder.ids, users: userHashes,
                              batch: batchNumber, configuration: configuration)
        // Known once every row is admitted: the close needs nothing the other thread writes.
        let closeUpTo = closeIPs ? watermark.micros : nil
        withoutActuallyEscaping({ (i: Int) in
            if i == 0 { side.add(rows, closeUpTo: closeUpTo) } else { addServiceAndSystem(rows) }
        }) { body in
            let work = UnsafeSendable(body)
            DispatchQueue.concurrentPerform(iterations: 2) { work.value($0) }
        }
        ips = side
    }

    /// Admits the rows of `batch` (appending the late and future ones), codes its services
    /// and hashes its users: what every family reads.
    private mutating func prepare(_ batch: LogBatch, batchNumber: UInt64, limits: FutureLimits,
                                  late: inout [Int], future: inout [Int]) -> FamilyRows {
        admit(batch, limits: limits, late: &late, future: &future)
        serviceEncoder.encode(batch.service, rows: batch.count, interner: &serviceNames)
        hashRows(batch.userId, rows: batch.count, into: &userHashes)
        return FamilyRows(batch, admitted: admitted, services: serviceEncoder.ids, users: userHashes,
                          batch: batchNumber, configuration: configuration)
    }

    /// Marks each row of `batch` admitted or not, appending the late and future ones.
    private mutating func admit(_ batch: LogBatch, limits: FutureLimits, late: inout [Int], future: inout [Int]) {
        let n = batch.count
        admitted.removeAll(keepingCapacity: true)
        batch.timestampMicros.values.withUnsafeBufferPointer { ts in
            for row in 0..<n {
                switch watermark.admit(ts[row], limit: limits.limit(row)) {
                case .onTime: admitted.append(true)
                case .late: admitted.append(false); late.append(row)
                case .future: admitted.append(false); future.append(row)
                }
            }
        }
    }

    /// The per-service and system-wide families of one batch.
    private mutating func addServiceAndSystem(_ r: FamilyRows) {
        let n = r.count
        let (fastBelow, accuracy, userPrecision) = (r.fastBelow, r.accuracy, r.userPrecision)
        let (rts, codes, rtValid, statusValid, userValid) = (r.responseTimes, r.statusCodes, r.rtValid, r.statusValid, r.userValid)
        let (serviceIDs, users) = (r.services, r.users)
        // Each family in two passes: group (the slot of every row's k-th window), then
        // aggregate over the columns with the states' buffer borrowed once per batch.
        for k in 0..<services.spec.windowsPerRecord {
            services.assignSlots(r.times, ids: serviceIDs, admitted: r.admitted, k: k, batch: r.batch, into: &slots) {
                ServiceState(accuracy: accuracy)
            }
            services.states.withUnsafeMutableBufferPointer { states in
                for row in 0..<n {
                    let s = Int(slots[row])
                    if s < 0 { continue }
                    states[s].requests += 1
                    if statusValid[row] {
                        let status = codes[row]
                        if status >= 400 { states[s].errors += 1 } else if status >= 200, status < 300 { states[s].successes += 1 }
                    }
                    if rtValid[row] {
                        let rt = rts[row]
                        states[s].responseTime.add(rt)
                        states[s].sketch.add(rt)
                        if rt < fastBelow { states[s].fast += 1 }
                    }
                }
            }
        }
        for k in 0..<system.spec.windowsPerRecord {
            system.assignSlots(r.times, ids: nil, admitted: r.admitted, k: k, batch: r.batch, into: &slots) {
                SystemState(precision: userPrecision)
            }
            system.states.withUnsafeMutableBufferPointer { states in
                for row in 0..<n {
                    let s = Int(slots[row])
                    if s < 0 { continue }
                    states[s].requests += 1
                    if statusValid[row], codes[row] >= 400 { states[s].errors += 1 }
                    if rtValid[row] { states[s].responseTime.add(rts[row]) }
                    states[s].services.insert(serviceIDs[row])
                    if userValid[row] { states[s].users.add(hash: users[row]) }
                }
            }
        }
    }

    /// Late (or future) rows counted per service window and service.
    func lateCounts(_ batch: LogBatch, rows: [Int], reason: LateReason) -> [LateCount] {
        var counts: [TimeWindowKey: Int64] = [:]
        let spec = services.spec
        for row in rows {
            let t = batch.timestampMicros.values[row]
            let id = serviceEncoder.ids[row]
            var start = spec.lastStart(t)
            while start > t - spec.sizeMicros {
                counts[TimeWindowKey(start: start, id: id), default: 0] += 1
                start -= spec.slideMicros
            }
        }
        return counts.map {
            LateCount(stream: .logs, window: TimeWindow(startMicros: $0.key.start, endMicros: $0.key.start + spec.sizeMicros),
                      key: serviceNames.name($0.key.id), count: $0.value, reason: reason)
        }.sorted { ($0.window, $0.key) < ($1.window, $1.key) }
    }

    /// The metrics row of a service window.
    func serviceMetrics(window: TimeWindow, id: UInt32, state s: ServiceState, isFinal: Bool) -> ServiceMetrics {
        let n = Double(s.requests)
        let rt = s.responseTime
        // The sketch's bins are within α of the true order statistic; clamping to the
        // exact extremes keeps that bound and makes p0/p100 exact.
        func q(_ p: Double) -> Double? { s.sketch.quantile(p).map { min(max($0, rt.min), rt.max) } }
        return ServiceMetrics(
            window: window, service: serviceNames.name(id), requestCount: s.requests,
            responseTimeCount: rt.count, responseTimeSum: rt.sum, avgResponseTime: rt.mean,
            minResponseTime: rt.count > 0 ? rt.min : nil, maxResponseTime: rt.count > 0 ? rt.max : nil,
            stddevResponseTime: rt.sampleStandardDeviation,
            p50ResponseTime: q(0.5), p95ResponseTime: q(0.95), p99ResponseTime: q(0.99),
            errorCount: s.errors, errorRate: n > 0 ? Double(s.errors) / n * 100 : 0,
            successCount: s.successes, fastCount: s.fast,
            availability: n > 0 ? Double(s.successes) / n * 100 : 0,
            performance: n > 0 ? Double(s.fast) / n * 100 : 0,
            isFinal: isFinal)
    }

    /// The metrics row of a client window.
    func clientMetrics(window: TimeWindow, id: UInt32, state s: ClientState, isFinal: Bool) -> ClientMetrics {
        var names = ServiceSetNames()
        return clientMetrics(window: window, id: id, state: s, isFinal: isFinal, names: &names)
    }

    /// The metrics row of a client window, its service names from `names` (for the many
    /// windows closed at once: most share one of a few service sets).
    func clientMetrics(window: TimeWindow, id: UInt32, state s: ClientState, isFinal: Bool,
                       names: inout ServiceSetNames) -> ClientMetrics {
        ClientMetrics(window: window, clientIp: ips.names.name(id), requestCount: s.requests,
                      distinctUsers: s.users.count, servicesUsed: names.sorted(s.services, serviceNames),
                      isFinal: isFinal)
    }

    /// The metrics row of a system window.
    func systemMetrics(window: TimeWindow, state s: SystemState, isFinal: Bool) -> SystemMetrics {
        let rate = s.requests > 0 ? Double(s.errors) / Double(s.requests) * 100 : 0
        return SystemMetrics(window: window, requestCount: s.requests, activeServices: Int64(s.services.count),
                             activeUsers: s.users.count, avgResponseTime: s.responseTime.mean,
                             errorCount: s.errors, errorRate: rate,
                             healthScore: SystemMetrics.healthScore(errorRate: rate), isFinal: isFinal)
    }

    /// Brings `ipOrder` up to date with `ips.names` (sorted again only when names were
    /// added or compacted away since).
    mutating func orderIPs() {
        guard ipOrder.count != ips.names.count else { return }
        ipOrder = NameOrder(ips.names)
    }

    /// Drops IPs no open window refers to, once they are most of the table.
    mutating func compactIPs() {
        guard ips.names.count > 1024 else { return }
        var live = [Bool](repeating: false, count: ips.names.count)
        for id in ips.clients.ids where Int(id) < live.count { live[Int(id)] = true }
        for id in ips.floods.ids where Int(id) < live.count { live[Int(id)] = true }
        let liveCount = live.count(where: { $0 })
        guard liveCount * 2 < ips.names.count else { return }
        let (fresh, remap) = ips.names.compacted { live[Int($0)] }
        let old = ips.names
        ips.clients.remapIDs { old.remapped($0, remap) }
        ips.floods.remapIDs { old.remapped($0, remap) }
        ips.names = fresh
        ipOrder = NameOrder()
    }

    // MARK: Snapshot

    func write(to w: inout SnapshotWriter) {
        w.i64(watermark.maxEventMicros)
        w.interner(serviceNames)
        w.interner(ips.names)
        writeTable(services, to: &w) { w, s in
            w.i64(s.requests); w.i64(s.errors); w.i64(s.successes); w.i64(s.fast)
            w.summary(s.responseTime); w.sketch(s.sketch)
        }
        for table in [ips.clients, ips.floods] {
            writeTable(table, to: &w) { w, s in
                w.i64(s.requests); w.hll(s.users); w.bitset(s.services)
            }
        }
        writeTable(system, to: &w) { w, s in
            w.i64(s.requests); w.i64(s.errors); w.summary(s.responseTime); w.bitset(s.services); w.hll(s.users)
        }
    }

    mutating func read(from r: inout SnapshotReader) throws(AnalyticsSnapshotError) {
        let c = configuration
        watermark.maxEventMicros = try r.i64()
        serviceNames = try r.interner(limit: c.maxNames)
        ips.names = try r.interner(limit: Int(UInt32.max - 1))
        ipOrder = NameOrder()
        services = try readTable(spec: c.serviceWindow, from: &r) { r throws(AnalyticsSnapshotError) in
            var s = ServiceState(accuracy: c.quantileAccuracy)
            s.requests = try r.i64(); s.errors = try r.i64(); s.successes = try r.i64(); s.fast = try r.i64()
            s.responseTime = try r.summary()
            s.sketch = try r.sketch(accuracy: c.quantileAccuracy)
            return s
        }
        let readClient = { (r: inout SnapshotReader) throws(AnalyticsSnapshotError) -> ClientState in
            var s = ClientState(precision: c.clientDistinctPrecision)
            s.requests = try r.i64()
            s.users = try r.hll(precision: c.clientDistinctPrecision)
            s.services = try r.bitset()
            return s
        }
        ips.clients = try readTable(spec: c.clientWindow, from: &r, readClient)
        ips.floods = try readTable(spec: c.floodWindow, from: &r, readClient)
        system = try readTable(spec: c.systemWindow, from: &r) { r throws(AnalyticsSnapshotError) in
            var s = SystemState(precision: c.distinctPrecision)
            s.requests = try r.i64(); s.errors = try r.i64()
            s.responseTime = try r.summary()
            s.services = try r.bitset()
            s.users = try r.hll(precision: c.distinctPrecision)
            return s
        }
    }
}

/// The columns of one batch every family reads, and what was worked out once for all of
/// them (admission, service codes, user hashes).
struct FamilyRows: @unchecked Sendable {
    // @unchecked: immutable arrays, read by both aggregating threads.
    let count: Int
    let times: [Int64]
    let responseTimes: [Double]
    let statusCodes: [Int32]
    let rtValid: [Bool]
    let statusValid: [Bool]
    let userValid: [Bool]
    let admitted: [Bool]
    /// Per row, the service's interned id.
    let services: [UInt32]
    /// Per row, the user id's hash.
    let users: [UInt64]
    let batch: UInt64
    let fastBelow: Double
    let accuracy: Double
    let userPrecision: Int
    let clientPrecision: Int

    init(_ b: LogBatch, admitted: [Bool], services: [UInt32], users: [UInt64], batch: UInt64,
         configuration c: AnalyticsConfiguration) {
        let n = b.count
        count = n
        times = b.timestampMicros.values
        responseTimes = b.responseTimeMs.values
        statusCodes = b.statusCode.values
        rtValid = b.responseTimeMs.validity ?? Array(repeating: true, count: n)
        statusValid = b.statusCode.validity ?? Array(repeating: true, count: n)
        userValid = b.userId.validity ?? Array(repeating: true, count: n)
        self.admitted = admitted
        self.services = services
        self.users = users
        self.batch = batch
        fastBelow = c.fastThresholdMillis
        accuracy = c.quantileAccuracy
        userPrecision = c.distinctPrecision
        clientPrecision = c.clientDistinctPrecision
    }
}

/// The client-IP side of the log windows: the IP names and the two families keyed by IP
/// (per IP and 5 minutes, per IP and minute for floods). Apart from the rest, so one
/// thread can aggregate it while another does the per-service and system-wide families.
struct IPFamilies: Sendable {
    var names: ByteInterner
    var clients: WindowTable<ClientState>
    var floods: WindowTable<ClientState>
    private var encoder = BatchEncoder()
    private var slots: [Int32] = []
    /// Windows closed by the last `add`, until `emitLogs` takes them (never in a snapshot:
    /// taken in the same `process` call).
    private var closedClients: [(start: Int64, id: UInt32, state: ClientState, changed: Bool)] = []
    private var closedFloods: [(start: Int64, id: UInt32, state: ClientState, changed: Bool)] = []

    init(spec c: AnalyticsConfiguration) {
        names = ByteInterner(limit: Int(UInt32.max - 1))
        clients = WindowTable(spec: c.clientWindow)
        floods = WindowTable(spec: c.floodWindow)
    }

    /// Codes the first `rows` of a batch's client IP column (interning new IPs in `names`)
    /// for the next `add`.
    mutating func encode(_ ips: StringColumn, rows: Int) {
        encoder.encode(ips, rows: rows, interner: &names)
    }

    /// Aggregates the admitted rows into the client-IP and flood windows, the batch's
    /// client IP column coded by `encode` just before; then, given `closeUpTo`, closes the
    /// windows ending at or before it (see `takeClosed`).
    mutating func add(_ r: FamilyRows, closeUpTo: Int64?) {
        let n = r.count
        let ipIDs = encoder.ids
        let (serviceIDs, users, userValid, precision) = (r.services, r.users, r.userValid, r.clientPrecision)
        for k in 0..<clients.spec.windowsPerRecord {
            clients.assignSlots(r.times, ids: ipIDs, admitted: r.admitted, k: k, batch: r.batch, into: &slots) {
                ClientState(precision: precision)
            }
            clients.states.withUnsafeMutableBufferPointer { states in
                for row in 0..<n {
                    let s = Int(slots[row])
                    if s < 0 { continue }
                    states[s].requests += 1
                    states[s].services.insert(serviceIDs[row])
                    if userValid[row] { states[s].users.add(hash: users[row]) }
                }
            }
        }
        for k in 0..<floods.spec.windowsPerRecord {
            floods.assignSlots(r.times, ids: ipIDs, admitted: r.admitted, k: k, batch: r.batch, into: &slots) {
                ClientState(precision: precision)
            }
            floods.states.withUnsafeMutableBufferPointer { states in
                for row in 0..<n {
                    let s = Int(slots[row])
                    if s < 0 { continue }
                    states[s].requests += 1
                    if userValid[row] { states[s].users.add(hash: users[row]) }
                }
            }
        }
        if let wm = closeUpTo {
            closedClients = clients.close(upTo: wm, batch: r.batch)
            closedFloods = floods.close(upTo: wm, batch: r.batch)
        }
    }

    /// The client-IP and flood windows ending at or before `watermark`, ordered by start
    /// then id, removed: those the last `add` closed, else closed now.
    mutating func takeClosed(upTo watermark: Int64, batch: UInt64)
        -> (clients: [(start: Int64, id: UInt32, state: ClientState, changed: Bool)],
            floods: [(start: Int64, id: UInt32, state: ClientState, changed: Bool)]) {
        // `add` closed at this same watermark when it ran, so what is left holds no more
        // closable windows; `advance` and `finish` move the watermark without an `add`.
        var taken = (clients: closedClients, floods: closedFloods)
        closedClients = []
        closedFloods = []
        if taken.clients.isEmpty { taken.clients = clients.close(upTo: watermark, batch: batch) }
        if taken.floods.isEmpty { taken.floods = floods.close(upTo: watermark, batch: batch) }
        return taken
    }
}

/// A value handed to another thread whose use the caller keeps race-free (each of two
/// threads writes only what it owns).
struct UnsafeSendable<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// The sorted service names of service sets, made once per set (of ids below 64) and
/// reused while one interner's ids stay the same.
struct ServiceSetNames {
    private var byWord: [UInt64: [String]] = [:]

    /// The names of `set`'s ids in `interner`, sorted.
    mutating func sorted(_ set: SmallBitSet, _ interner: ByteInterner) -> [String] {
        guard set.rest.isEmpty else { return set.members.map { interner.name($0) }.sorted() }
        if let names = byWord[set.word0] { return names }
        let names = set.members.map { interner.name($0) }.sorted()
        byWord[set.word0] = names
        return names
    }
}

/// The names of a `ByteInterner` in `String` order, and each id's place in it, so rows
/// keyed by ids sort by name as integers.
struct NameOrder: Sendable {
    /// The interner's name count this order was made for; -1 for none.
    private(set) var count = -1
    /// The names ascending, the overflow name among them.
    private(set) var sorted: [String] = []
    /// Per id, its name's index in `sorted`; the last entry is the overflow id's.
    private var ranks: [UInt32] = []

    init() {}

    init(_ interner: ByteInterner) {
        var names = interner.nameStrings
        names.append(ByteInterner.overflowName)
        let order = names.indices.sorted { names[$0] < names[$1] }
        var ranks = [UInt32](repeating: 0, count: names.count)
        for (r, id) in order.enumerated() { ranks[id] = UInt32(r) }
        count = interner.count
        sorted = order.map { names[$0] }
        self.ranks = ranks
    }

    /// The index of `id`'s name in `sorted` (an id past the names is the overflow id).
    func rank(_ id: UInt32) -> UInt32 { ranks[min(Int(id), count)] }
}

/// A (window start, key id) pair as a dictionary key.
struct TimeWindowKey: Hashable {
    var start: Int64
    var id: UInt32
}

/// Hashes each row of a string column (0 for null rows; callers check validity).
func hashRows(_ column: StringColumn, rows: Int, into out: inout [UInt64]) {
    out.removeAll(keepingCapacity: true)
    out.reserveCapacity(rows)
    column.bytes.withUnsafeBytes { all in
        column.offsets.withUnsafeBufferPointer { offsets in
            for row in 0..<rows {
                let start = Int(offsets[row]), end = Int(offsets[row + 1])
                out.append(start == end && !(column.validity?[row] ?? true) ? 0
                           : hashBytes(UnsafeRawBufferPointer(rebasing: all[start..<end])))
            }
        }
    }
}

func writeTable<S>(_ table: WindowTable<S>, to w: inout SnapshotWriter, _ body: (inout SnapshotWriter, S) -> Void) {
    let slots = table.orderedSlots
    w.u32(UInt32(slots.count))
    for s in slots {
        w.i64(table.starts[s])
        w.u32(table.ids[s])
        body(&w, table.states[s])
    }
}

func readTable<S>(spec: WindowSpec, from r: inout SnapshotReader,
                  _ body: (inout SnapshotReader) throws(AnalyticsSnapshotError) -> S) throws(AnalyticsSnapshotError) -> WindowTable<S> {
    var table = WindowTable<S>(spec: spec)
    for _ in 0..<(try r.count(minBytes: 12)) {
        let start = try r.i64()
        let id = try r.u32()
        guard start % spec.slideMicros == 0, table.index.find(start, id) == nil else {
            throw .malformed("bad or duplicate window")
        }
        table.insertExisting(start: start, id: id, state: try body(&r), touched: 0)
    }
    return table
}
