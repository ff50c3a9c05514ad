import Logging
import LogpipeBus

/// A partition's part of a client-IP (or flood) window, by name rather than by the
/// partition's own ids, so parts of different partitions merge.
struct ClientPartial: Sendable {
    var requests: Int64
    var users: HyperLogLog
    /// Ids in the `serviceNames` of the `GlobalPartials` holding this part.
    var services: SmallBitSet

    mutating func merge(_ o: ClientPartial) {
        requests += o.requests
        users.merge(o.users)
        services.formUnion(o.services)
    }
}

/// One window's client-IP (or flood) parts, sorted by IP (`String` order) in two
/// parallel arrays: parts of two partitions combine in one merging pass, and emission
/// writes rows in IP order without sorting (a dictionary keyed by IP hashed every name
/// at each combine, and every emission sorted them again).
///
/// Reads like a dictionary from IP to part (`group[ip]`, `keys`, iteration as
/// `(key, value)` pairs in IP order).
struct ClientGroup: Sendable, Sequence, ExpressibleByDictionaryLiteral {
    /// The IPs, strictly ascending.
    private(set) var names: [String] = []
    /// The part of each IP in `names`.
    var parts: [ClientPartial] = []

    init() {}

    /// A group of `names` (strictly ascending) and their parts.
    init(sortedNames names: [String], parts: [ClientPartial]) {
        self.names = names
        self.parts = parts
    }

    init(dictionaryLiteral elements: (String, ClientPartial)...) {
        for (name, part) in elements { self[name] = part }
    }

    var count: Int { names.count }
    var isEmpty: Bool { names.isEmpty }
    /// The IPs, ascending.
    var keys: [String] { names }

    /// Where `name` is, or where it would be inserted.
    private func position(_ name: String) -> (index: Int, found: Bool) {
        // Groups are built in order: a name past the last is the common case when filling one.
        if let last = names.last, last < name { return (names.count, false) }
        var lo = 0, hi = names.count
        while lo < hi {
            let mid = (lo + hi) >> 1
            if names[mid] < name { lo = mid + 1 } else { hi = mid }
        }
        return (lo, lo < names.count && names[lo] == name)
    }

    /// The part of `name`; setting inserts it in order, replaces it, or (nil) removes it.
    subscript(name: String) -> ClientPartial? {
        get {
            let (i, found) = position(name)
            return found ? parts[i] : nil
        }
        set {
            let (i, found) = position(name)
            switch (found, newValue) {
            case (true, let v?): parts[i] = v
            case (true, nil): names.remove(at: i); parts.remove(at: i)
            case (false, let v?): names.insert(name, at: i); parts.insert(v, at: i)
            case (false, nil): break
            }
        }
    }

    /// The (IP, part) pairs in IP order.
    struct Iterator: IteratorProtocol {
        fileprivate let names: [String]
        fileprivate let parts: [ClientPartial]
        fileprivate var i = 0

        mutating func next() -> (key: String, value: ClientPartial)? {
            guard i < names.count else { return nil }
            defer { i += 1 }
            return (names[i], parts[i])
        }
    }

    func makeIterator() -> Iterator { Iterator(names: names, parts: parts) }

    /// Adds `o`'s parts in one pass over both sorted lists; `same` resolves an IP in both.
    mutating func merge(_ o: ClientGroup, _ same: (inout ClientPartial, ClientPartial) -> Void) {
        if o.isEmpty { return }
        if isEmpty { self = o; return }
        var outNames: [String] = []
        var outParts: [ClientPartial] = []
        outNames.reserveCapacity(count + o.count)
        outParts.reserveCapacity(count + o.count)
        // Held only here while merging, so each part's sketch is merged in place, not copied.
        var mine = parts
        parts = []
        var i = 0, j = 0
        while i < names.count, j < o.names.count {
            let a = names[i], b = o.names[j]
            if a == b {
                same(&mine[i], o.parts[j])
                outNames.append(a); outParts.append(mine[i])
                i += 1; j += 1
            } else if a < b {
                outNames.append(a); outParts.append(mine[i])
                i += 1
            } else {
                outNames.append(b); outParts.append(o.parts[j])
                j += 1
            }
        }
        outNames.append(contentsOf: names[i...]); outParts.append(contentsOf: mine[i...])
        outNames.append(contentsOf: o.names[j...]); outParts.append(contentsOf: o.parts[j...])
        names = outNames
        parts = outParts
    }
}

/// A partition's part of a system-wide window.
struct SystemPartial: Sendable {
    var requests: Int64
    var errors: Int64
    var responseTime: NumericSummary
    /// Ids in the `serviceNames` of the `GlobalPartials` holding this part.
    var services: SmallBitSet
    var users: HyperLogLog

    mutating func merge(_ o: SystemPartial) {
        requests += o.requests
        errors += o.errors
        responseTime.merge(o.responseTime)
        services.formUnion(o.services)
        users.merge(o.users)
    }
}

/// A partition's part of an activity window.
struct ActivityPartial: Sendable {
    var events: Int64
    var users: HyperLogLog
    var sessions: HyperLogLog
    var deviceTypes: [String: Int64]
    var operatingSystems: [String: Int64]
    var browsers: [String: Int64]

    mutating func merge(_ o: ActivityPartial) {
        events += o.events
        users.merge(o.users)
        sessions.merge(o.sessions)
        deviceTypes.merge(o.deviceTypes, uniquingKeysWith: +)
        operatingSystems.merge(o.operatingSystems, uniquingKeysWith: +)
        browsers.merge(o.browsers, uniquingKeysWith: +)
    }
}

/// The windows of the whole-system families (client IP, flood, system-wide, activity)
/// that one partition's watermark has passed: that partition will add nothing more to
/// them, so they are its final part of each global window.
///
/// Grouped by window start, then by name (IP, event type): handing over, taking and
/// combining move whole windows, and only combining parts of one window from several
/// partitions looks names up (one dictionary keyed by (start, name) for every IP-window
/// was rehashed and resized at each step, a fifth of a backfill's samples). Service sets
/// are bitsets over `serviceNames`, the table of the partials holding them, rather than
/// sets of strings.
public struct GlobalPartials: Sendable {
    var clients: [Int64: ClientGroup] = [:]
    var floods: [Int64: ClientGroup] = [:]
    var system: [Int64: SystemPartial] = [:]
    var activities: [Int64: [String: ActivityPartial]] = [:]
    /// The names of the service ids in the parts' service sets; an id past its end is
    /// the overflow name of a partition whose name table was full.
    var serviceNames: [String] = []

    var isEmpty: Bool { clients.isEmpty && floods.isEmpty && system.isEmpty && activities.isEmpty }

    /// The number of (window, IP) parts of the client-IP family.
    var clientParts: Int { clients.values.reduce(0) { $0 + $1.count } }

    /// The name of service id `id`.
    func serviceName(_ id: UInt32) -> String {
        Int(id) < serviceNames.count ? serviceNames[Int(id)] : ByteInterner.overflowName
    }

    /// The names in `set`, sorted.
    func serviceNames(_ set: SmallBitSet) -> [String] { set.members.map(serviceName).sorted() }

    /// The id of service `name` in `serviceNames`, appended when new; `index` maps the
    /// names already there to their ids and is kept up to date.
    mutating func serviceID(_ name: String, index: inout [String: UInt32]) -> UInt32 {
        if let id = index[name] { return id }
        let id = UInt32(serviceNames.count)
        serviceNames.append(name)
        index[name] = id
        return id
    }

    /// Rewrites the service sets of `o` in this table's ids, adding the names this table
    /// lacks. Nothing to rewrite when one table extends the other (a partition's table
    /// only grows), so parts of one partition are never rewritten.
    mutating func adoptServices(of o: inout GlobalPartials) {
        if o.serviceNames.count >= serviceNames.count, o.serviceNames.starts(with: serviceNames) {
            serviceNames = o.serviceNames
            return
        }
        if serviceNames.starts(with: o.serviceNames) {
            o.serviceNames = serviceNames
            return
        }
        var index: [String: UInt32] = [:]
        for (i, name) in serviceNames.enumerated() { index[name] = UInt32(i) }
        func id(_ name: String) -> UInt32 { serviceID(name, index: &index) }
        let map = o.serviceNames.map(id)
        // The overflow name, when a part uses it, gets an id of its own here.
        let overflowName = o.serviceName(UInt32(o.serviceNames.count))
        var overflowID: UInt32?
        func remap(_ set: SmallBitSet) -> SmallBitSet {
            var out = SmallBitSet()
            var word = set.word0
            var w = 0
            while true {
                while word != 0 {
                    let old = w * 64 + word.trailingZeroBitCount
                    if old < map.count {
                        out.insert(map[old])
                    } else {
                        if overflowID == nil { overflowID = id(overflowName) }
                        out.insert(overflowID!)
                    }
                    word &= word - 1
                }
                guard w < set.rest.count else { break }
                word = set.rest[w]
                w += 1
            }
            return out
        }
        // In place, through the dictionaries' values: no key is hashed again. Flood parts
        // are left alone: the DDoS detector needs no services, so theirs are always empty.
        for i in o.clients.indices {
            for j in o.clients.values[i].parts.indices {
                o.clients.values[i].parts[j].services = remap(o.clients.values[i].parts[j].services)
            }
        }
        for i in o.system.indices { o.system.values[i].services = remap(o.system.values[i].services) }
        o.serviceNames = serviceNames
    }

    /// Adds `o`'s entries, replacing same keys (a partition pushing a window again after
    /// it was reopened from its commit sends the same part).
    mutating func replace(with o: GlobalPartials) {
        var o = o
        adoptServices(of: &o)
        func add<V>(_ from: [Int64: [String: V]], into all: inout [Int64: [String: V]]) {
            for (start, group) in from {
                if let i = all.index(forKey: start) {
                    all.values[i].merge(group) { _, new in new }
                } else {
                    all[start] = group
                }
            }
        }
        func add(_ from: [Int64: ClientGroup], into all: inout [Int64: ClientGroup]) {
            for (start, group) in from {
                if let i = all.index(forKey: start) {
                    all.values[i].merge(group) { old, new in old = new }
                } else {
                    all[start] = group
                }
            }
        }
        add(o.clients, into: &clients)
        add(o.floods, into: &floods)
        system.merge(o.system) { _, new in new }
        add(o.activities, into: &activities)
    }

    /// Adds `o`'s entries, merging same keys (parts of one window from several partitions).
    mutating func combine(_ o: GlobalPartials) {
        var o = o
        adoptServices(of: &o)
        // Merged in place: the first part of a window (and of a name) is moved in, not
        // merged into an empty one.
        func add<V>(_ from: [Int64: [String: V]], into all: inout [Int64: [String: V]], _ merge: (inout V, V) -> Void) {
            for (start, group) in from {
                guard let i = all.index(forKey: start) else {
                    all[start] = group
                    continue
                }
                all.values[i].reserveCapacity(all.values[i].count + group.count)
                for (name, v) in group {
                    if let j = all.values[i].index(forKey: name) { merge(&all.values[i].values[j], v) } else { all.values[i][name] = v }
                }
            }
        }
        func add(_ from: [Int64: ClientGroup], into all: inout [Int64: ClientGroup]) {
            for (start, group) in from {
                if let i = all.index(forKey: start) { all.values[i].merge(group) { $0.merge($1) } } else { all[start] = group }
            }
        }
        add(o.clients, into: &clients)
        add(o.floods, into: &floods)
        for (start, v) in o.system {
            if let i = system.index(forKey: start) { system.values[i].merge(v) } else { system[start] = v }
        }
        add(o.activities, into: &activities) { $0.merge($1) }
    }

    /// Removes and returns the entries of windows ending at or before `upTo` under `c`'s
    /// window sizes; nil, leaving the dictionaries untouched, when there are none (emission
    /// runs often, and rebuilding every partition's waiting windows each time dominated
    /// long backfills).
    mutating func take(upTo: Int64, _ c: AnalyticsConfiguration) -> GlobalPartials? {
        var earliest = Int64.max
        return take(upTo: upTo, c, earliestRemaining: &earliest)
    }

    /// `take(upTo:_:)`, also setting `earliestRemaining` to the earliest end among the
    /// entries that stay (`Int64.max` when none), found in the same pass.
    mutating func take(upTo: Int64, _ c: AnalyticsConfiguration, earliestRemaining: inout Int64) -> GlobalPartials? {
        // Whole windows move out; the windows that stay are neither copied nor rehashed.
        func split<V>(_ all: inout [Int64: V], _ size: Int64) -> [Int64: V] {
            var due: [Int64] = []
            for start in all.keys {
                let end = start + size
                if end <= upTo { due.append(start) } else { earliestRemaining = min(earliestRemaining, end) }
            }
            guard !due.isEmpty else { return [:] }
            var taken: [Int64: V] = [:]
            taken.reserveCapacity(due.count)
            for start in due { taken[start] = all.removeValue(forKey: start) }
            return taken
        }
        var out = GlobalPartials()
        out.clients = split(&clients, c.clientWindow.sizeMicros)
        out.floods = split(&floods, c.floodWindow.sizeMicros)
        out.system = split(&system, c.systemWindow.sizeMicros)
        out.activities = split(&activities, c.activityWindow.sizeMicros)
        out.serviceNames = serviceNames
        return out.isEmpty ? nil : out
    }

    /// The earliest end among the entries under `c`'s window sizes, `Int64.max` when empty.
    func earliestEnd(_ c: AnalyticsConfiguration) -> Int64 {
        func earliest<V>(_ all: [Int64: V], _ size: Int64) -> Int64 { (all.keys.min() ?? .max - size) + size }
        return min(earliest(clients, c.clientWindow.sizeMicros), earliest(floods, c.floodWindow.sizeMicros),
                   earliest(system, c.systemWindow.sizeMicros), earliest(activities, c.activityWindow.sizeMicros))
    }

    /// The entries of windows ending in `(after, upTo]` under `c`'s window sizes.
    func windows(after: Int64, upTo: Int64, _ c: AnalyticsConfiguration) -> GlobalPartials {
        func within(_ start: Int64, _ size: Int64) -> Bool { start + size > after && start + size <= upTo }
        var out = GlobalPartials()
        out.clients = clients.filter { within($0.key, c.clientWindow.sizeMicros) }
        out.floods = floods.filter { within($0.key, c.floodWindow.sizeMicros) }
        out.system = system.filter { within($0.key, c.systemWindow.sizeMicros) }
        out.activities = activities.filter { within($0.key, c.activityWindow.sizeMicros) }
        out.serviceNames = serviceNames
        return out
    }
}

/// One partition's final parts waiting in the coordinator for emission, with the earliest
/// window end among them: most rounds emit nothing of a partition that runs ahead, and
/// scanning all its waiting parts to find that out, every round, grew with the backlog.
struct PendingParts: Sendable {
    private(set) var parts = GlobalPartials()
    /// No entry ends before this (`Int64.max` when there are none).
    private var earliestEnd = Int64.max

    /// Adds a partition's newly final parts (see `GlobalPartials.replace(with:)`).
    mutating func add(_ new: GlobalPartials, _ c: AnalyticsConfiguration) {
        if parts.isEmpty { parts = new } else { parts.replace(with: new) }
        earliestEnd = min(earliestEnd, new.earliestEnd(c))
    }

    /// Removes and returns the entries of windows ending at or before `upTo`, or nil
    /// without looking at them when none can be due.
    mutating func take(upTo: Int64, _ c: AnalyticsConfiguration) -> GlobalPartials? {
        guard upTo >= earliestEnd else { return nil }
        var earliest = Int64.max
        let taken = parts.take(upTo: upTo, c, earliestRemaining: &earliest)
        earliestEnd = earliest
        return taken
    }
}

/// Combines the whole-system windows of every partition a worker owns into one row per
/// window (and per IP or event type), and runs the client-IP and DDoS detectors on those
/// combined windows: one alert per incident, whatever the partition count.
///
/// Each partition keeps its part of a window in its own state (and so in its commits)
/// until the window is emitted here, and hands the part over once its own watermark has
/// passed the window. A window is emitted when the global watermark (the smallest of the
/// partitions' watermarks) passes its end: every partition's part is final then, so the
/// row is the same whichever run computes it. Emission is published before any partition
/// drops its part: a restart re-sends the parts and re-emits the same windows under the
/// same name, which the publisher writes idempotently. Without an exchange a publication
/// holds the windows of one end and is named by it; with one, it holds every window of a
/// range of ends claimed in the exchange and is named by that range (below).
///
/// A partition counts towards the global watermark once it has reported; one expected
/// but silent (not opened yet, or gone) is waited for twice `idleTimeoutMicros` of wall
/// time and then left out, so a partition another worker owns cannot stall this one.
///
/// Several workers (processes) of one group: with an `exchange`, the coordinator of
/// each worker writes, for every partition it owns, an exchange object (watermark, wall
/// time, final parts of windows not yet emitted) to the lake, and exactly one worker
/// merges: the one owning the lowest-numbered partition among those heard from lately
/// (an exchange object younger than twice the idle timeout). Which partitions a worker
/// owns is read from the reports themselves (its partitions' sinks reported here, and no
/// other worker's object for them is newer), not from the lease or group assignment,
/// which the sinks never see being revoked; a former owner may so keep merging until the
/// new owner's first object, the harmless overlap described below. (Why the lake and not a topic: see `GlobalWindowExchange`.) The merger reads every
/// object, computes the global watermark with the rules above (an object not rewritten
/// for twice the idle timeout is a partition that is gone), emits what it passes, and
/// records in the exchange how far it emitted along with its detector history; every
/// worker reads that record so its partitions drop the emitted parts, and a new merger
/// (restart, handover) starts from it. The ranges a merger publishes are a chain of claims
/// in the exchange, each made exclusively from where the previous one ended and published
/// exactly as claimed by whichever merger gets there (`nextClaim`): two mergers for a
/// moment (a rebalance, a merger killed and replaced, even after writing part of a range)
/// cut the same ranges and publish the same windows under the same names, so the lake
/// keeps one row per window and one alert. Writing a partition's object and reading the
/// others' are rate-limited to once per `exchangeIntervalMicros`, so a window is emitted
/// within a few intervals after the last partition's watermark passes it. Without an
/// exchange, the coordinator combines the partitions of its own process only.
public actor GlobalWindowCoordinator {
    private struct Source {
        var watermark: Int64 = .min
        var reportedAtMicros: Int64
    }

    /// The configuration (window sizes, detectors, idleness).
    public let configuration: AnalyticsConfiguration
    private let publish: @Sendable (AnalyticsPublication) async -> Void
    /// Delivers the claimed ranges' publications beside the reporting partition, when asked to.
    private let writer: PublicationWriter?
    private let store: AnalyticsStore?
    private let createdAtMicros: Int64
    private var expected: [AnalyticsStream: Set<TopicPartition>]
    private var sources: [AnalyticsStream: [TopicPartition: Source]] = [:]
    private var parts: [AnalyticsStream: [TopicPartition: PendingParts]] = [:]
    private var emittedUpTo: [AnalyticsStream: Int64] = [:]
    private var detector: AnomalyDetector
    /// Whether a `report` is running; the actor is reentrant across its awaits, so
    /// reports wait their turn (see `report`).
    private var reporting = false
    private var reportWaiters: [CheckedContinuation<Void, Never>] = []
    /// Where the workers of the group meet, when there are (or may be) several.
    private let exchange: GlobalWindowExchange?
    private let exchangeIntervalMicros: Int64
    /// Per stream: what this worker knows of the exchange.
    private var exchangeStates: [AnalyticsStream: ExchangeState] = [:]

    /// The streams this worker merges now (logged on change: operators and tests find the merger).
    private var merging: Set<AnalyticsStream> = []
    private let logger = Logger(label: "logpipe.analytics.global")

    private struct ExchangeState {
        /// When each owned partition's object was last written, and which changed since.
        var written: [TopicPartition: Int64] = [:]
        var changed: Set<TopicPartition> = []
        var lastRoundMicros: Int64?
        /// The last object read whole of every partition (one caught mid-write is skipped);
        /// without parts when this worker's own state of that partition was newer.
        var reports: [TopicPartition: ExchangeReport] = [:]
        /// The version of each object in `reports`, so an unchanged object is not read again.
        var stamps: [String: GlobalWindowExchange.ObjectStamp] = [:]
        /// The emitted end the detector's history corresponds to.
        var detectorUpTo: Int64 = .min
        /// Set while this worker has published windows its record does not cover yet: the
        /// end its partitions may drop up to meanwhile (see `recordIfDue`).
        var unrecordedFrom: Int64?
        /// When this worker last wrote the record.
        var recordedAtMicros: Int64?
        /// The range of this worker's last publication (its claim's start and end).
        var lastClaim: (from: Int64, upTo: Int64)?
    }

    /// A coordinator expecting the partitions in `expected` (per stream), emitting through
    /// `publish` and into `store`.
    /// With `exchange`, combines across every worker of the group (see above), meeting
    /// them at most every `exchangeIntervalMicros`; with `writesBeside` as well, a report
    /// returns once an emission's publication is under way rather than delivered (see
    /// `PublicationWriter`): the record of what was emitted, and so what any partition
    /// drops or checkpoints as emitted, still follows only delivered publications, and
    /// `finish()` waits for them all.
    public init(configuration: AnalyticsConfiguration, expected: [AnalyticsStream: Set<TopicPartition>] = [:],
                store: AnalyticsStore?, exchange: GlobalWindowExchange? = nil, exchangeIntervalMicros: Int64 = 250_000,
                writesBeside: Bool = false, publish: @escaping @Sendable (AnalyticsPublication) async -> Void) {
        self.configuration = configuration
        self.exchange = exchange
        self.exchangeIntervalMicros = exchangeIntervalMicros
        self.expected = expected
        self.store = store
        self.publish = publish
        writer = writesBeside && exchange != nil ? PublicationWriter(deliver: publish) : nil
        createdAtMicros = wallClockMicros()
        detector = AnomalyDetector(configuration: configuration.detectors)
    }

    /// The end up to which windows of `stream` are emitted (partitions drop their parts
    /// of those), `Int64.min` before the first.
    public func emitted(_ stream: AnalyticsStream) -> Int64 { emittedUpTo[stream] ?? .min }

    /// Records a partition's watermark and newly final parts, emits what the global
    /// watermark now passes, and returns the end up to which windows are emitted.
    /// `knownEmitted` is what the partition's checkpoint says was emitted: a restarted
    /// coordinator never emits those windows again from the parts other partitions kept.
    func report(_ source: TopicPartition, stream: AnalyticsStream, watermark: Int64, parts new: GlobalPartials?,
                knownEmitted: Int64) async -> Int64 {
        // One report at a time: while one awaits the lake writes of an emission, another
        // must not answer "emitted up to" for windows not yet written, or its partition
        // would checkpoint past them and a crash then would lose them for good.
        await takeTurn()
        defer { endTurn() }
        let now = wallClockMicros()
        if sources[stream]?[source]?.watermark != watermark || !(new?.isEmpty ?? true) {
            exchangeStates[stream, default: ExchangeState()].changed.insert(source)
        }
        sources[stream, default: [:]][source] = Source(watermark: watermark, reportedAtMicros: now)
        if knownEmitted > emittedUpTo[stream] ?? .min {
            emittedUpTo[stream] = knownEmitted
            dropParts(stream, upTo: knownEmitted)
        }
        let done = emittedUpTo[stream] ?? .min
        if var new, !new.isEmpty {
            // Parts of windows already emitted come from a partition that was left out while
            // silent; they are too late to count.
            _ = new.take(upTo: done, configuration)
            parts[stream, default: [:]][source, default: PendingParts()].add(new, configuration)
        }
        if let exchange { return await exchangeRound(exchange, stream, source, now: now) }
        let global = globalWatermark(stream, now: now)
        guard global > done else { return done }
        await emit(stream, upTo: global)
        emittedUpTo[stream] = global
        dropOpenParts(stream, upTo: global)
        return global
    }

    /// Waits until no other report (or `finish`) runs, then holds the turn.
    private func takeTurn() async {
        while reporting { await withCheckedContinuation { reportWaiters.append($0) } }
        reporting = true
    }

    /// Hands the turn to the next waiting report.
    private func endTurn() {
        reporting = false
        if !reportWaiters.isEmpty { reportWaiters.removeFirst().resume() }
    }

    /// Waits until every publication emitted so far is delivered, then records how far
    /// windows are emitted (with the detector history), whether or not a record is due:
    /// `logpipe stream --once` and a stopping worker leave nothing half-published behind.
    public func finish() async {
        await takeTurn()
        defer { endTurn() }
        await writer?.drain()
        guard let exchange else { return }
        for stream in AnalyticsStream.allCases {
            await recordIfDue(exchange, stream, now: wallClockMicros(), force: true)
        }
    }

    /// Writes `source`'s exchange object when it changed (or to show the partition is
    /// alive), reads the others' objects and what was emitted, at most once per interval
    /// each, and, when this worker is the merger, emits what the global watermark passes.
    /// Returns the end up to which windows are emitted.
    ///
    /// The merger takes the partitions it owns from memory (exact and current) and the
    /// others from their objects, so a lone worker emits exactly what the coordinator of
    /// one process would, on the same reports, and the exchange's I/O is rate-limited
    /// without delaying a lone worker's windows.
    private func exchangeRound(_ exchange: GlobalWindowExchange, _ stream: AnalyticsStream, _ source: TopicPartition,
                               now: Int64) async -> Int64 {
        let idle = configuration.idleTimeoutMicros
        let interval = exchangeIntervalMicros
        // Rewritten at least every half idle timeout, so a live partition is never taken for gone.
        let heartbeat = idle > 0 ? max(interval, idle / 2) : 5_000_000
        let state = exchangeStates[stream] ?? ExchangeState()
        let sinceWritten = state.written[source].map { now - $0 } ?? .max
        // A lone worker (no other worker's object heard from lately) writes its objects only
        // as the heartbeat: nobody merges from them while it owns every live partition, and a
        // synced write per partition each interval, awaited by every report, was the largest
        // wait of a backfill. A second worker shows itself by its objects at the next refresh
        // (one interval), and from then on this worker's objects follow its state again; a
        // merger that reads one of the older objects meanwhile sees a consistent earlier
        // version of that partition, which delays windows, never changes them.
        let own = sources[stream] ?? [:]
        let alone = state.reports.allSatisfy { tp, r in
            (idle > 0 && now - r.reportedAtMicros >= 2 * idle) || own[tp].map { $0.reportedAtMicros >= r.reportedAtMicros } ?? false
        }
        if (state.changed.contains(source) && sinceWritten >= interval && !alone) || sinceWritten >= heartbeat {
            let report = ExchangeReport(watermark: sources[stream]?[source]?.watermark ?? .min, reportedAtMicros: now,
                                        parts: parts[stream]?[source]?.parts ?? GlobalPartials())
            do {
                try await exchange.write(stream, source, report)
                exchangeStates[stream, default: ExchangeState()].written[source] = now
                exchangeStates[stream, default: ExchangeState()].changed.remove(source)
            } catch {
                // Tried again at the next report: the object is a function of the state.
            }
        }
        if state.lastRoundMicros.map({ now - $0 >= interval }) ?? true {
            exchangeStates[stream, default: ExchangeState()].lastRoundMicros = now
            await refresh(exchange, stream)
        }
        // The record waits for the writer only once it is overdue (`recordOverdueIntervals`):
        // until then a round with deliveries in flight leaves it to a later one, and the
        // partition goes on. (Waiting whenever one was due cost `--once` on the 1M product bus
        // 0.15–0.27 s of the reporting partition's time.) Overdue bounds how long partitions
        // keep the parts of published windows when the writer never falls idle.
        let lastRecord = exchangeStates[stream]?.recordedAtMicros ?? createdAtMicros
        let overdue = now - lastRecord >= Self.recordOverdueIntervals * exchangeIntervalMicros
        await recordIfDue(exchange, stream, now: now, waitForWrites: overdue)
        let done = emittedUpTo[stream] ?? .min
        // What this worker heard itself is exact; an object is newer only when the partition
        // has moved to another worker since. A partition is this worker's until then (also
        // once it stopped reporting, e.g. caught up in a `--once` run: someone must merge).
        // Only watermarks and times here: the parts stay where they are until taken below.
        var heard: [TopicPartition: (watermark: Int64, at: Int64)] = [:]
        for (tp, r) in exchangeStates[stream]?.reports ?? [:] { heard[tp] = (r.watermark, r.reportedAtMicros) }
        var mine = Set<TopicPartition>()
        for (tp, s) in sources[stream] ?? [:] where s.reportedAtMicros >= heard[tp]?.at ?? .min {
            heard[tp] = (s.watermark, s.reportedAtMicros)
            mine.insert(tp)
        }
        func alive(_ tp: TopicPartition) -> Bool {
            idle <= 0 || now - (heard[tp]?.at ?? createdAtMicros) < 2 * idle
        }
        // The merger owns the lowest partition heard from lately.
        let merger = heard.keys.filter(alive).min { ($0.topic, $0.partition) < ($1.topic, $1.partition) }
        let isMerger = merger.map { mine.contains($0) } ?? false
        if isMerger != merging.contains(stream) {
            if isMerger { merging.insert(stream) } else { merging.remove(stream) }
            logger.info(isMerger ? "merging whole-system windows" : "no longer merging whole-system windows",
                        metadata: ["stream": "\(stream.rawValue)"])
        }
        guard isMerger else { return droppable(stream) }
        var global = Int64.max
        var counted: [TopicPartition] = []
        for tp in Set(heard.keys).union(expected[stream] ?? []) where alive(tp) {
            global = min(global, heard[tp]?.watermark ?? .min)
            counted.append(tp)
        }
        guard global > done, global != .max else { return droppable(stream) }
        // In partition order: floating-point sums then come out the same in every merger.
        let order = counted.sorted(by: { ($0.topic, $0.partition) < ($1.topic, $1.partition) })
        // The others' parts are read from their objects, which keep them until the record says
        // they are emitted; this worker's own are taken out in place once the range is known.
        func others(after: Int64, upTo: Int64) -> [GlobalPartials] {
            order.compactMap { tp in
                mine.contains(tp) ? nil : exchangeStates[stream]?.reports[tp]?.parts.windows(after: after, upTo: upTo, configuration)
            }
        }
        func merge(after: Int64, upTo: Int64, _ read: [GlobalPartials]) -> GlobalPartials {
            var merged = GlobalPartials()
            var next = read.makeIterator()
            for tp in order {
                let part: GlobalPartials
                if mine.contains(tp) {
                    guard let t = parts[stream]?[tp]?.take(upTo: upTo, configuration) else { continue }
                    part = t
                } else {
                    guard let r = next.next() else { continue }
                    part = r
                }
                if merged.isEmpty { merged = part } else { merged.combine(part) }
            }
            return merged
        }
        // Range after range along the chain of claims, until the global watermark.
        while true {
            let from = emittedUpTo[stream] ?? .min
            guard global > from else { break }
            let read = others(after: from, upTo: global)
            let due = read.contains { !$0.isEmpty }
                || mine.contains { parts[stream]?[$0]?.parts.earliestEnd(configuration) ?? .max <= global }
            let step: ClaimStep
            do {
                step = try await nextClaim(exchange, stream, from: from, global: global, due: due)
            } catch {
                // Tried again at the next report; nothing was taken or published.
                logger.warning("claiming whole-system windows failed", metadata: ["stream": "\(stream.rawValue)", "error": "\(error)"])
                break
            }
            switch step {
            case .nothing, .wait:
                return droppable(stream)
            case .emitted(let upTo):
                // The chain has moved past this worker's position: what lies before `upTo` is
                // published and recorded by another merger, whose record (and detector
                // history) this worker takes up.
                await refresh(exchange, stream)
                if emittedUpTo[stream] ?? .min < upTo {
                    emittedUpTo[stream] = upTo
                    dropParts(stream, upTo: upTo)
                    dropOpenParts(stream, upTo: upTo)
                }
            case .publish(let upTo):
                let merged = merge(after: from, upTo: upTo, upTo == global ? read : others(after: from, upTo: upTo))
                await publish(stream, merged, range: (from, upTo))
                if exchangeStates[stream]?.unrecordedFrom == nil { exchangeStates[stream, default: ExchangeState()].unrecordedFrom = from }
                exchangeStates[stream, default: ExchangeState()].lastClaim = (from, upTo)
                emittedUpTo[stream] = upTo
                dropParts(stream, upTo: upTo)
                dropOpenParts(stream, upTo: upTo)
            }
        }
        // Not waiting for what this round just handed to the writer: that is the next round's.
        await recordIfDue(exchange, stream, now: now, waitForWrites: false)
        return droppable(stream)
    }

    /// Exchange intervals after the last record (or the start) from which a round waits for
    /// the writer's deliveries to write the record, rather than leaving it to a later round.
    static let recordOverdueIntervals: Int64 = 4

    /// What to do next from one end of the chain of claims.
    private enum ClaimStep {
        /// Publish the windows ending in `(from, upTo]` as one publication.
        case publish(upTo: Int64)
        /// Another merger's claim ends past the global watermark: wait for it.
        case wait
        /// No claim yet and no window ends before the global watermark: nothing to claim.
        case nothing
        /// The chain has moved on past `from` (its claims since pruned): everything up to
        /// `upTo` is published.
        case emitted(upTo: Int64)
    }

    /// Finds or makes the claim from `from`, the end of what this worker has emitted.
    ///
    /// Publications are named by the range of window ends they hold, so every merger must
    /// cut the same ranges: a merger restarted mid-backfill, or a second one for a moment,
    /// would otherwise publish the same windows under other names (two rows per window).
    /// The ranges are a chain of claims in the exchange, each created exclusively from where
    /// the previous one ended: an existing claim is published exactly as claimed, whoever
    /// made it (a crashed merger, the other merger); only at the end of the chain is a new
    /// one made, up to the global watermark, and only when some window ends before it.
    ///
    /// `from` is where the chain was when this worker last looked, or what the record or a
    /// partition's checkpoint says was emitted: both ends of claims. Claims are pruned behind
    /// the record, always keeping the last recorded one (see `recordIfDue`), so a `from` the
    /// chain has moved past sees a later claim and no claim of its own.
    private func nextClaim(_ exchange: GlobalWindowExchange, _ stream: AnalyticsStream, from: Int64, global: Int64,
                           due: Bool) async throws -> ClaimStep {
        // Without a window to publish, the chain is not even looked at: most rounds of a
        // backfill pass no window end, and a listing each time would be a store request each.
        guard due else { return .nothing }
        let starts = try await exchange.claimStarts(stream)
        if starts.contains(from), let upTo = try await exchange.claimEnd(stream, from: from) {
            return upTo <= global ? .publish(upTo: upTo) : .wait
        }
        if let later = starts.first(where: { $0 > from }) { return .emitted(upTo: later) }
        if try await exchange.claim(stream, from: from, upTo: global) { return .publish(upTo: global) }
        // Another merger claimed it in between.
        guard let upTo = try await exchange.claimEnd(stream, from: from) else { return .wait }
        return upTo <= global ? .publish(upTo: upTo) : .wait
    }

    /// The end up to which this worker's partitions may drop their parts: what was
    /// emitted, except windows published but not yet in the record.
    private func droppable(_ stream: AnalyticsStream) -> Int64 {
        exchangeStates[stream]?.unrecordedFrom ?? emittedUpTo[stream] ?? .min
    }

    /// Writes the record of what was emitted (with the detector history) when windows were
    /// published since the last one and the last is an interval old (or there is none).
    ///
    /// Written after the windows: a merger killed in between leaves them to its successor,
    /// which publishes them again under the same names (the detector, restored from the
    /// record, sees them again as it did). Until it is written no partition drops its parts
    /// (`droppable`), so whoever publishes again has them all. Once an interval, not once
    /// per emission: a backfill emits at nearly every report, and a synced write each time
    /// was a large part of a lone worker's time.
    ///
    /// With a `writer`, only once every publication handed to it is delivered: waiting for
    /// them when `waitForWrites`, else leaving the record to a later round. `force` writes
    /// it whenever something is unrecorded.
    private func recordIfDue(_ exchange: GlobalWindowExchange, _ stream: AnalyticsStream, now: Int64,
                             waitForWrites: Bool = true, force: Bool = false) async {
        guard let state = exchangeStates[stream], state.unrecordedFrom != nil,
              force || state.recordedAtMicros.map({ now - $0 >= exchangeIntervalMicros }) ?? true else { return }
        if let writer, !writer.isIdle {
            guard waitForWrites else { return }
            await writer.drain()
        }
        let upTo = emittedUpTo[stream] ?? .min
        var w = SnapshotWriter()
        if stream == .logs { detector.write(to: &w) }
        do {
            try await exchange.writeEmitted(stream, ExchangeEmitted(upTo: upTo, detector: w.bytes))
        } catch {
            return
        }
        exchangeStates[stream, default: ExchangeState()].recordedAtMicros = now
        exchangeStates[stream, default: ExchangeState()].detectorUpTo = upTo
        exchangeStates[stream, default: ExchangeState()].unrecordedFrom = nil
        // The claims before the one just recorded are behind the record: no merger starts
        // from them again. The recorded one stays, so a merger whose position is older than
        // the record finds a later claim and knows the chain has moved on (`nextClaim`).
        if let last = state.lastClaim, last.upTo == upTo, let starts = try? await exchange.claimStarts(stream) {
            for from in starts where from < last.from { try? await exchange.deleteClaim(stream, from: from) }
        }
    }

    /// Reads what was emitted (and the detector history with it) and every partition's object.
    private func refresh(_ exchange: GlobalWindowExchange, _ stream: AnalyticsStream) async {
        if let record = await exchange.readEmitted(stream) {
            if record.upTo > emittedUpTo[stream] ?? .min {
                // Another merger recorded past all this worker published.
                exchangeStates[stream, default: ExchangeState()].unrecordedFrom = nil
                emittedUpTo[stream] = record.upTo
                dropParts(stream, upTo: record.upTo)
                dropOpenParts(stream, upTo: record.upTo)
            }
            // Alerts come from the log stream's windows only: its record carries the history.
            if stream == .logs, record.upTo > exchangeStates[stream]?.detectorUpTo ?? .min {
                var restored = AnomalyDetector(configuration: configuration.detectors)
                var reader = SnapshotReader(record.detector)
                if (try? restored.read(from: &reader)) != nil {
                    detector = restored
                    exchangeStates[stream, default: ExchangeState()].detectorUpTo = record.upTo
                }
            }
        }
        let heardAt = (sources[stream] ?? [:]).mapValues(\.reportedAtMicros)
        let known = exchangeStates[stream]?.stamps ?? [:]
        if let read = try? await exchange.readChanged(stream, known: known, current: { heardAt[$0] ?? .min >= $1 }) {
            exchangeStates[stream, default: ExchangeState()].reports.merge(read.reports) { _, new in new }
            exchangeStates[stream, default: ExchangeState()].stamps.merge(read.stamps) { _, new in new }
        }
    }

    /// The smallest watermark of the partitions that count now.
    private func globalWatermark(_ stream: AnalyticsStream, now: Int64) -> Int64 {
        let idle = configuration.idleTimeoutMicros
        let reported = sources[stream] ?? [:]
        var lowest = Int64.max
        var counted = 0
        for tp in Set(reported.keys).union(expected[stream] ?? []) {
            let source = reported[tp]
            let lastHeard = source?.reportedAtMicros ?? createdAtMicros
            // Twice the idle timeout: an idle partition moves its watermark to the clock and
            // reports at one timeout, so only a partition that is gone is left out.
            if idle > 0, now - lastHeard >= 2 * idle { continue }
            // Heard from recently, or expected and not yet timed out: it holds the watermark.
            lowest = min(lowest, source?.watermark ?? .min)
            counted += 1
        }
        if counted == 0 { return reported.values.map(\.watermark).max() ?? .min }
        return lowest
    }

    /// The latest parts of open windows per partition, for the live view.
    private var openParts: [AnalyticsStream: [TopicPartition: GlobalPartials]] = [:]

    /// Records a partition's current parts of open client-IP, system-wide and activity windows and
    /// puts the combined rows, not final, in the live store. Nothing here reaches the lake.
    func live(_ source: TopicPartition, stream: AnalyticsStream, parts new: GlobalPartials) {
        guard let store else { return }
        let c = configuration
        let done = emittedUpTo[stream] ?? .min
        openParts[stream, default: [:]][source, default: GlobalPartials()].replace(with: new)
        let all = openParts[stream] ?? [:]
        var output = AnalyticsOutput()
        // Each partition's service ids are its own: the services are merged by name here.
        for (start, group) in new.clients where start + c.clientWindow.sizeMicros > done {
            let window = TimeWindow(startMicros: start, endMicros: start + c.clientWindow.sizeMicros)
            for ip in group.keys {
                var merged: ClientPartial?
                var services = Set<String>()
                for p in all.values {
                    guard let part = p.clients[start]?[ip] else { continue }
                    services.formUnion(p.serviceNames(part.services))
                    if merged == nil { merged = part } else { merged!.merge(part) }
                }
                guard let s = merged else { continue }
                output.clients.append(ClientMetrics(window: window, clientIp: ip, requestCount: s.requests,
                                                    distinctUsers: s.users.count, servicesUsed: services.sorted(), isFinal: false))
            }
        }
        for start in new.system.keys where start + c.systemWindow.sizeMicros > done {
            var merged: SystemPartial?
            var services = Set<String>()
            for p in all.values {
                guard let part = p.system[start] else { continue }
                services.formUnion(p.serviceNames(part.services))
                if merged == nil { merged = part } else { merged!.merge(part) }
            }
            guard let s = merged else { continue }
            let window = TimeWindow(startMicros: start, endMicros: start + c.systemWindow.sizeMicros)
            output.system.append(Self.systemRow(window, s, activeServices: services.count, isFinal: false))
        }
        for (start, group) in new.activities where start + c.activityWindow.sizeMicros > done {
            let window = TimeWindow(startMicros: start, endMicros: start + c.activityWindow.sizeMicros)
            for type in group.keys {
                var merged: ActivityPartial?
                for p in all.values {
                    guard let part = p.activities[start]?[type] else { continue }
                    if merged == nil { merged = part } else { merged!.merge(part) }
                }
                guard let s = merged else { continue }
                output.activities.append(Self.activityRow(window, type, s, isFinal: false))
            }
        }
        if !output.isEmpty { store.record(output) }
    }

    static func systemRow(_ window: TimeWindow, _ s: SystemPartial, activeServices: Int, isFinal: Bool) -> SystemMetrics {
        let rate = s.requests > 0 ? Double(s.errors) / Double(s.requests) * 100 : 0
        return SystemMetrics(window: window, requestCount: s.requests, activeServices: Int64(activeServices),
                             activeUsers: s.users.count, avgResponseTime: s.responseTime.mean, errorCount: s.errors,
                             errorRate: rate, healthScore: SystemMetrics.healthScore(errorRate: rate), isFinal: isFinal)
    }

    static func activityRow(_ window: TimeWindow, _ type: String, _ s: ActivityPartial, isFinal: Bool) -> ActivityMetrics {
        ActivityMetrics(window: window, eventType: type, eventCount: s.events, distinctUsers: s.users.count,
                        distinctSessions: s.sessions.count, deviceTypes: s.deviceTypes,
                        operatingSystems: s.operatingSystems, browsers: s.browsers, isFinal: isFinal)
    }

    /// Forgets the parts of windows ending at or before `end`.
    private func dropParts(_ stream: AnalyticsStream, upTo end: Int64) {
        // The keys copied out first: iterating the dictionary's own keys kept it shared while
        // each partition's entry was mutated, so every drop copied every partition's parts.
        for tp in Array((parts[stream] ?? [:]).keys) { _ = parts[stream]?[tp]?.take(upTo: end, configuration) }
    }

    /// When each stream's open parts were last pruned (wall clock, microseconds).
    private var openPartsPrunedAt: [AnalyticsStream: Int64] = [:]

    /// Forgets the open parts of windows ending at or before `end`, at most once per
    /// exchange interval: `live` never reads an emitted window's parts again (it looks up
    /// later windows only), and pruning scans every open part of every partition, which
    /// at every emission of a backfill was a twentieth of the stream's time.
    private func dropOpenParts(_ stream: AnalyticsStream, upTo end: Int64) {
        let now = wallClockMicros()
        if let last = openPartsPrunedAt[stream], now - last < exchangeIntervalMicros { return }
        openPartsPrunedAt[stream] = now
        for tp in Array((openParts[stream] ?? [:]).keys) { _ = openParts[stream]?[tp]?.take(upTo: end, configuration) }
    }

    /// Emits every window of `stream` ending at or before `watermark`, grouped by end.
    private func emit(_ stream: AnalyticsStream, upTo watermark: Int64) async {
        var merged = GlobalPartials()
        // In partition order, so floating-point sums come out the same in every run.
        for tp in (parts[stream] ?? [:]).keys.sorted(by: { ($0.topic, $0.partition) < ($1.topic, $1.partition) }) {
            guard let taken = parts[stream]?[tp]?.take(upTo: watermark, configuration) else { continue }
            if merged.isEmpty { merged = taken } else { merged.combine(taken) }
        }
        await publish(stream, merged, range: nil)
    }

    /// Publishes the combined windows in `merged` (all final) after running the detectors on
    /// them: as one publication named by `range` (a claim's `(from, upTo]`, see `nextClaim`)
    /// when given, else one publication per window end.
    ///
    /// One publication is one lake file per family and hour it touches, each created and
    /// synced; per window end, a 48-hour backfill made thousands, and the stream waited for
    /// them. Without an exchange there are no claims, and a restarted process would cut its
    /// ranges elsewhere: only names per window end come out the same in every run there.
    private func publish(_ stream: AnalyticsStream, _ merged: GlobalPartials, range: (from: Int64, upTo: Int64)?) async {
        let c = configuration
        // Grouped by window end, in time order, so the detectors see windows in order.
        var byEnd: [Int64: AnalyticsOutput] = [:]
        // Most IP-windows use one of a few service sets: their sorted names are made once.
        var namesBySet: [UInt64: [String]] = [:]
        func services(_ set: SmallBitSet) -> [String] {
            guard set.rest.isEmpty else { return merged.serviceNames(set) }
            if let names = namesBySet[set.word0] { return names }
            let names = merged.serviceNames(set)
            namesBySet[set.word0] = names
            return names
        }
        for start in merged.clients.keys.sorted() {
            let window = TimeWindow(startMicros: start, endMicros: start + c.clientWindow.sizeMicros)
            let group = merged.clients[start]!
            var rows: [ClientMetrics] = []
            rows.reserveCapacity(group.count)
            // Already in IP order (see `ClientGroup`).
            for (ip, s) in zip(group.names, group.parts) {
                rows.append(ClientMetrics(window: window, clientIp: ip, requestCount: s.requests, distinctUsers: s.users.count,
                                          servicesUsed: services(s.services), isFinal: true))
            }
            // Moved in rather than appended (a copy and a retain per row) when the end has none yet.
            if byEnd[window.endMicros]?.clients.isEmpty ?? true {
                byEnd[window.endMicros, default: AnalyticsOutput()].clients = rows
            } else {
                byEnd[window.endMicros, default: AnalyticsOutput()].clients += rows
            }
        }
        for start in merged.system.keys.sorted() {
            let window = TimeWindow(startMicros: start, endMicros: start + c.systemWindow.sizeMicros)
            let s = merged.system[start]!
            byEnd[window.endMicros, default: AnalyticsOutput()].system.append(
                Self.systemRow(window, s, activeServices: s.services.count, isFinal: true))
        }
        for start in merged.activities.keys.sorted() {
            let window = TimeWindow(startMicros: start, endMicros: start + c.activityWindow.sizeMicros)
            let group = merged.activities[start]!
            for type in group.keys.sorted() {
                byEnd[window.endMicros, default: AnalyticsOutput()].activities.append(
                    Self.activityRow(window, type, group[type]!, isFinal: true))
            }
        }
        var floodsByEnd: [Int64: Int64] = [:]
        for start in merged.floods.keys { floodsByEnd[start + c.floodWindow.sizeMicros] = start }
        var publications: [AnalyticsPublication] = []
        var batch = AnalyticsOutput()
        // The detector is held in a local while it sees every row: as the actor's stored
        // property, each mutating call was a dynamic exclusivity check (a thread-local access
        // set), per client-IP row. Nothing below awaits before it is put back.
        var detector = AnomalyDetector(configuration: configuration.detectors)
        swap(&detector, &self.detector)
        for end in Set(byEnd.keys).union(floodsByEnd.keys).sorted() {
            var output = byEnd.removeValue(forKey: end) ?? AnalyticsOutput()
            for m in output.clients {
                if let alert = detector.observeClient(m) { output.alerts.append(alert) }
                detector.prune(.suspiciousIP, before: m.window.startMicros)
            }
            if let start = floodsByEnd[end], let group = merged.floods[start] {
                let window = TimeWindow(startMicros: start, endMicros: end)
                for (ip, s) in zip(group.names, group.parts) {
                    if let alert = detector.observeFlood(window: window, ip: ip, requests: s.requests, users: s.users.count) {
                        output.alerts.append(alert)
                    }
                    detector.prune(.ddos, before: start)
                }
            }
            guard !output.isEmpty else { continue }
            if range == nil {
                publications.append(AnalyticsPublication(topic: "\(stream.rawValue)-global", partition: 0,
                                                         sequence: end / 1_000_000, output: output))
            }
            batch.append(output)
        }
        swap(&detector, &self.detector)
        guard !batch.isEmpty else { return }
        if let range {
            publications.append(AnalyticsPublication(topic: "\(stream.rawValue)-global", partition: 0,
                                                     sequence: max(0, range.from), through: range.upTo, output: batch))
        }
        // Once for the emission, not per window end: each call takes the store's lock.
        store?.record(batch)
        // A claimed range goes to the writer when there is one: its record waits for it
        // (`recordIfDue`). Otherwise delivered here, several at a time (a backfill without an
        // exchange emits thousands of window ends), all landed before the caller reports them
        // as emitted.
        if range != nil, let writer {
            await writer.submit(publications)
        } else {
            await PublicationWriter.deliverAll(publications, publish)
        }
    }
}
