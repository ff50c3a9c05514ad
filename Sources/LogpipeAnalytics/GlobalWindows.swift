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
/// Scope: one process. Several workers in one group each combine the partitions they
/// own, so their rows are per worker, not global.
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
    private var parts: [AnalyticsStream: [TopicPartition: GlobalPartials]] = [:]
    private var emittedUpTo: [AnalyticsStream: Int64] = [:]
    private var detector: AnomalyDetector
    /// Whether a `report` is running; the actor is reentrant across its awaits, so
    /// reports wait their turn (see `report`).
    private var reporting = false
    private var reportWaiters: [CheckedContinuation<Void, Never>] = []

    /// A coordinator expecting the partitions in `expected` (per stream), emitting through
    /// `publish` and into `store`.
    public init(configuration: AnalyticsConfiguration, expected: [AnalyticsStream: Set<TopicPartition>] = [:],
                store: AnalyticsStore?, publish: @escaping @Sendable (AnalyticsPublication) async -> Void) {
        self.configuration = configuration
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
        sources[stream, default: [:]][source] = Source(watermark: watermark, reportedAtMicros: now)
        if knownEmitted > emittedUpTo[stream] ?? .min {
            emittedUpTo[stream] = knownEmitted
            dropParts(stream, upTo: knownEmitted)
        }
        let done = emittedUpTo[stream] ?? .min
        if var new, !new.isEmpty {
            // Parts of windows already emitted come from a partition that was left out while
            // silent; they are too late to count.
            new.clients = new.clients.filter { $0.key.start + configuration.clientWindow.sizeMicros > done }
            new.floods = new.floods.filter { $0.key.start + configuration.floodWindow.sizeMicros > done }
            new.system = new.system.filter { $0.key.start + configuration.systemWindow.sizeMicros > done }
            new.activities = new.activities.filter { $0.key.start + configuration.activityWindow.sizeMicros > done }
            parts[stream, default: [:]][source, default: GlobalPartials()].replace(with: new)
        }
        let global = globalWatermark(stream, now: now)
        guard global > done else { return done }
        await emit(stream, upTo: global)
        emittedUpTo[stream] = global
        dropOpenParts(stream, upTo: global)
        return global
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

    /// Records a partition's current parts of open system-wide and activity windows and
    /// puts the combined rows, not final, in the live store. Nothing here reaches the lake.
    func live(_ source: TopicPartition, stream: AnalyticsStream, parts new: GlobalPartials) {
        guard let store else { return }
        let c = configuration
        let done = emittedUpTo[stream] ?? .min
        openParts[stream, default: [:]][source, default: GlobalPartials()].replace(with: new)
        let all = openParts[stream] ?? [:]
        var output = AnalyticsOutput()
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
        let c = configuration
        for (tp, p) in parts[stream] ?? [:] {
            var kept = p
            kept.clients = kept.clients.filter { $0.key.start + c.clientWindow.sizeMicros > end }
            kept.floods = kept.floods.filter { $0.key.start + c.floodWindow.sizeMicros > end }
            kept.system = kept.system.filter { $0.key.start + c.systemWindow.sizeMicros > end }
            kept.activities = kept.activities.filter { $0.key.start + c.activityWindow.sizeMicros > end }
            parts[stream]?[tp] = kept
        }
    }

    private func dropOpenParts(_ stream: AnalyticsStream, upTo end: Int64) {
        let c = configuration
        for (tp, p) in openParts[stream] ?? [:] {
            var kept = p
            kept.system = kept.system.filter { $0.key.start + c.systemWindow.sizeMicros > end }
            kept.activities = kept.activities.filter { $0.key.start + c.activityWindow.sizeMicros > end }
            openParts[stream]?[tp] = kept
        }
    }

    /// Emits every window of `stream` ending at or before `watermark`, grouped by end.
    private func emit(_ stream: AnalyticsStream, upTo watermark: Int64) async {
        let c = configuration
        var merged = (clients: [GlobalKey: ClientPartial](), floods: [GlobalKey: ClientPartial](),
                      system: [GlobalKey: SystemPartial](), activities: [GlobalKey: ActivityPartial]())
        // Emitted parts are moved out in place: a partition far ahead of the others holds
        // many windows the global watermark has not passed yet, and rebuilding its
        // dictionaries on every emission was a fifth of a 48-hour backfill (docs/profile.md).
        func take<V>(_ from: inout [GlobalKey: V], size: Int64, into merged: inout [GlobalKey: V],
                     merge: (inout V, V) -> Void) {
            let emitted = from.keys.filter { $0.start + size <= watermark }
            guard !emitted.isEmpty else { return }
            merged.reserveCapacity(merged.count + emitted.count)
            for k in emitted {
                let v = from.removeValue(forKey: k)!
                if let i = merged.index(forKey: k) { merge(&merged.values[i], v) } else { merged[k] = v }
            }
        }
        if var all = parts.removeValue(forKey: stream) {
            for tp in Array(all.keys) {
                take(&all[tp]!.clients, size: c.clientWindow.sizeMicros, into: &merged.clients) { $0.merge($1) }
                take(&all[tp]!.floods, size: c.floodWindow.sizeMicros, into: &merged.floods) { $0.merge($1) }
                take(&all[tp]!.system, size: c.systemWindow.sizeMicros, into: &merged.system) { $0.merge($1) }
                take(&all[tp]!.activities, size: c.activityWindow.sizeMicros, into: &merged.activities) { $0.merge($1) }
            }
            parts[stream] = all
        }
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
