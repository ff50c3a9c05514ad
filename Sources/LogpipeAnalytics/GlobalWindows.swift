import Logging
import LogpipeBus

/// One key of a global window: the window's start and the key's name (an IP, an event
/// type; empty for the system-wide family).
struct GlobalKey: Hashable, Comparable, Sendable {
    var start: Int64
    var name: String

    static func < (a: GlobalKey, b: GlobalKey) -> Bool { (a.start, a.name) < (b.start, b.name) }
}

/// A partition's part of a client-IP (or flood) window, by name rather than by the
/// partition's own ids, so parts of different partitions merge.
struct ClientPartial: Sendable {
    var requests: Int64
    var users: HyperLogLog
    var services: Set<String>

    mutating func merge(_ o: ClientPartial) {
        requests += o.requests
        users.merge(o.users)
        services.formUnion(o.services)
    }
}

/// A partition's part of a system-wide window.
struct SystemPartial: Sendable {
    var requests: Int64
    var errors: Int64
    var responseTime: NumericSummary
    var services: Set<String>
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
public struct GlobalPartials: Sendable {
    var clients: [GlobalKey: ClientPartial] = [:]
    var floods: [GlobalKey: ClientPartial] = [:]
    var system: [GlobalKey: SystemPartial] = [:]
    var activities: [GlobalKey: ActivityPartial] = [:]

    var isEmpty: Bool { clients.isEmpty && floods.isEmpty && system.isEmpty && activities.isEmpty }

    /// Adds `o`'s entries, replacing same keys (a partition pushing a window again after
    /// it was reopened from its commit sends the same part).
    mutating func replace(with o: GlobalPartials) {
        clients.merge(o.clients) { _, new in new }
        floods.merge(o.floods) { _, new in new }
        system.merge(o.system) { _, new in new }
        activities.merge(o.activities) { _, new in new }
    }

    /// Adds `o`'s entries, merging same keys (parts of one window from several partitions).
    mutating func combine(_ o: GlobalPartials) {
        // Merged in place: the first part of a key is moved in, not merged into an empty one.
        func add<V>(_ from: [GlobalKey: V], into merged: inout [GlobalKey: V], _ merge: (inout V, V) -> Void) {
            for (k, v) in from {
                if let i = merged.index(forKey: k) { merge(&merged.values[i], v) } else { merged[k] = v }
            }
        }
        add(o.clients, into: &clients) { $0.merge($1) }
        add(o.floods, into: &floods) { $0.merge($1) }
        add(o.system, into: &system) { $0.merge($1) }
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
        // Due entries are removed in place: the entries that stay are neither copied nor
        // rehashed (rebuilding both halves was a fifth of a long backfill's samples).
        func split<V>(_ all: inout [GlobalKey: V], _ size: Int64) -> [GlobalKey: V] {
            var due: [GlobalKey] = []
            for k in all.keys {
                let end = k.start + size
                if end <= upTo { due.append(k) } else { earliestRemaining = min(earliestRemaining, end) }
            }
            guard !due.isEmpty else { return [:] }
            var taken: [GlobalKey: V] = [:]
            taken.reserveCapacity(due.count)
            for k in due { taken[k] = all.removeValue(forKey: k) }
            return taken
        }
        var out = GlobalPartials()
        out.clients = split(&clients, c.clientWindow.sizeMicros)
        out.floods = split(&floods, c.floodWindow.sizeMicros)
        out.system = split(&system, c.systemWindow.sizeMicros)
        out.activities = split(&activities, c.activityWindow.sizeMicros)
        return out.isEmpty ? nil : out
    }

    /// The earliest end among the entries under `c`'s window sizes, `Int64.max` when empty.
    func earliestEnd(_ c: AnalyticsConfiguration) -> Int64 {
        func earliest<V>(_ all: [GlobalKey: V], _ size: Int64) -> Int64 { (all.keys.lazy.map(\.start).min() ?? .max - size) + size }
        return min(earliest(clients, c.clientWindow.sizeMicros), earliest(floods, c.floodWindow.sizeMicros),
                   earliest(system, c.systemWindow.sizeMicros), earliest(activities, c.activityWindow.sizeMicros))
    }

    /// The entries of windows ending in `(after, upTo]` under `c`'s window sizes.
    func windows(after: Int64, upTo: Int64, _ c: AnalyticsConfiguration) -> GlobalPartials {
        func within(_ start: Int64, _ size: Int64) -> Bool { start + size > after && start + size <= upTo }
        var out = GlobalPartials()
        out.clients = clients.filter { within($0.key.start, c.clientWindow.sizeMicros) }
        out.floods = floods.filter { within($0.key.start, c.floodWindow.sizeMicros) }
        out.system = system.filter { within($0.key.start, c.systemWindow.sizeMicros) }
        out.activities = activities.filter { within($0.key.start, c.activityWindow.sizeMicros) }
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
/// row is the same whichever run computes it. Emission is a publication named by the
/// stream and the windows' end, written before any partition drops its part: a restart
/// re-sends the parts and re-emits the same windows under the same name, which the
/// publisher writes idempotently.
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
/// (restart, handover) starts from it. Two mergers for a moment (a rebalance, a merger
/// killed and replaced) publish the same windows under the same names, so the lake keeps
/// one row per window and one alert. Writing a partition's object and reading the
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
    }

    /// A coordinator expecting the partitions in `expected` (per stream), emitting through
    /// `publish` and into `store`.
    /// With `exchange`, combines across every worker of the group (see above), meeting
    /// them at most every `exchangeIntervalMicros`.
    public init(configuration: AnalyticsConfiguration, expected: [AnalyticsStream: Set<TopicPartition>] = [:],
                store: AnalyticsStore?, exchange: GlobalWindowExchange? = nil, exchangeIntervalMicros: Int64 = 250_000,
                publish: @escaping @Sendable (AnalyticsPublication) async -> Void) {
        self.configuration = configuration
        self.exchange = exchange
        self.exchangeIntervalMicros = exchangeIntervalMicros
        self.expected = expected
        self.store = store
        self.publish = publish
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
        while reporting { await withCheckedContinuation { reportWaiters.append($0) } }
        reporting = true
        defer {
            reporting = false
            if !reportWaiters.isEmpty { reportWaiters.removeFirst().resume() }
        }
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
        if (state.changed.contains(source) && sinceWritten >= interval) || sinceWritten >= heartbeat {
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
        await recordIfDue(exchange, stream, now: now)
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
        var merged = GlobalPartials()
        // This worker's own parts are taken out in place; the others' are read from their
        // objects, which keep them until the record says they are emitted.
        // In partition order: floating-point sums then come out the same in every merger.
        for tp in counted.sorted(by: { ($0.topic, $0.partition) < ($1.topic, $1.partition) }) {
            let part: GlobalPartials
            if mine.contains(tp) {
                guard let t = parts[stream]?[tp]?.take(upTo: global, configuration) else { continue }
                part = t
            } else if let r = exchangeStates[stream]?.reports[tp] {
                part = r.parts.windows(after: done, upTo: global, configuration)
            } else {
                continue
            }
            if merged.isEmpty { merged = part } else { merged.combine(part) }
        }
        // No window ends in between: move on in memory (the next scan starts here) without a
        // write; the record catches up with the next emission.
        guard !merged.isEmpty else {
            emittedUpTo[stream] = global
            return droppable(stream)
        }
        await publish(stream, merged)
        if exchangeStates[stream]?.unrecordedFrom == nil { exchangeStates[stream, default: ExchangeState()].unrecordedFrom = done }
        emittedUpTo[stream] = global
        dropParts(stream, upTo: global)
        dropOpenParts(stream, upTo: global)
        await recordIfDue(exchange, stream, now: now)
        return droppable(stream)
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
    private func recordIfDue(_ exchange: GlobalWindowExchange, _ stream: AnalyticsStream, now: Int64) async {
        guard let state = exchangeStates[stream], state.unrecordedFrom != nil,
              state.recordedAtMicros.map({ now - $0 >= exchangeIntervalMicros }) ?? true else { return }
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
        for k in new.clients.keys where k.start + c.clientWindow.sizeMicros > done {
            var merged: ClientPartial?
            for p in all.values {
                guard let part = p.clients[k] else { continue }
                if merged == nil { merged = part } else { merged!.merge(part) }
            }
            guard let s = merged else { continue }
            let window = TimeWindow(startMicros: k.start, endMicros: k.start + c.clientWindow.sizeMicros)
            output.clients.append(ClientMetrics(window: window, clientIp: k.name, requestCount: s.requests,
                                                distinctUsers: s.users.count, servicesUsed: s.services.sorted(), isFinal: false))
        }
        for k in new.system.keys where k.start + c.systemWindow.sizeMicros > done {
            var merged: SystemPartial?
            for p in all.values {
                guard let part = p.system[k] else { continue }
                if merged == nil { merged = part } else { merged!.merge(part) }
            }
            guard let s = merged else { continue }
            let window = TimeWindow(startMicros: k.start, endMicros: k.start + c.systemWindow.sizeMicros)
            output.system.append(Self.systemRow(window, s, isFinal: false))
        }
        for k in new.activities.keys where k.start + c.activityWindow.sizeMicros > done {
            var merged: ActivityPartial?
            for p in all.values {
                guard let part = p.activities[k] else { continue }
                if merged == nil { merged = part } else { merged!.merge(part) }
            }
            guard let s = merged else { continue }
            let window = TimeWindow(startMicros: k.start, endMicros: k.start + c.activityWindow.sizeMicros)
            output.activities.append(Self.activityRow(window, k.name, s, isFinal: false))
        }
        if !output.isEmpty { store.record(output) }
    }

    static func systemRow(_ window: TimeWindow, _ s: SystemPartial, isFinal: Bool) -> SystemMetrics {
        let rate = s.requests > 0 ? Double(s.errors) / Double(s.requests) * 100 : 0
        return SystemMetrics(window: window, requestCount: s.requests, activeServices: Int64(s.services.count),
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
        await publish(stream, merged)
    }

    /// Publishes the combined windows in `merged` (all final), one publication per window
    /// end, after running the detectors on them.
    private func publish(_ stream: AnalyticsStream, _ merged: GlobalPartials) async {
        let c = configuration
        // One publication per window end, in time order, so the detectors see windows in order.
        var byEnd: [Int64: AnalyticsOutput] = [:]
        for k in merged.clients.keys.sorted() {
            let window = TimeWindow(startMicros: k.start, endMicros: k.start + c.clientWindow.sizeMicros)
            let s = merged.clients[k]!
            byEnd[window.endMicros, default: AnalyticsOutput()].clients.append(
                ClientMetrics(window: window, clientIp: k.name, requestCount: s.requests, distinctUsers: s.users.count,
                              servicesUsed: s.services.sorted(), isFinal: true))
        }
        for k in merged.system.keys.sorted() {
            let window = TimeWindow(startMicros: k.start, endMicros: k.start + c.systemWindow.sizeMicros)
            byEnd[window.endMicros, default: AnalyticsOutput()].system.append(Self.systemRow(window, merged.system[k]!, isFinal: true))
        }
        for k in merged.activities.keys.sorted() {
            let window = TimeWindow(startMicros: k.start, endMicros: k.start + c.activityWindow.sizeMicros)
            byEnd[window.endMicros, default: AnalyticsOutput()].activities.append(
                Self.activityRow(window, k.name, merged.activities[k]!, isFinal: true))
        }
        var floodsByEnd: [Int64: [GlobalKey]] = [:]
        for k in merged.floods.keys { floodsByEnd[k.start + c.floodWindow.sizeMicros, default: []].append(k) }
        for end in Set(byEnd.keys).union(floodsByEnd.keys).sorted() {
            var output = byEnd[end] ?? AnalyticsOutput()
            for m in output.clients {
                if let alert = detector.observeClient(m) { output.alerts.append(alert) }
                detector.prune(.suspiciousIP, before: m.window.startMicros)
            }
            for k in (floodsByEnd[end] ?? []).sorted() {
                let s = merged.floods[k]!
                let window = TimeWindow(startMicros: k.start, endMicros: end)
                if let alert = detector.observeFlood(window: window, ip: k.name, requests: s.requests, users: s.users.count) {
                    output.alerts.append(alert)
                }
                detector.prune(.ddos, before: k.start)
            }
            guard !output.isEmpty else { continue }
            let publication = AnalyticsPublication(topic: "\(stream.rawValue)-global", partition: 0,
                                                   sequence: end / 1_000_000, output: output)
            await publish(publication)
            store?.record(output)
        }
    }
}
