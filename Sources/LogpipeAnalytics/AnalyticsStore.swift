import Synchronization

/// Recent windowed metrics, late counts and alerts in memory, for the live API and
/// dashboard, with time-range queries. Thread-safe: the stream task records while HTTP
/// handlers query.
///
/// Windows are keyed by (window, key): a newer row for the same window replaces the
/// older one (open windows are updated each micro-batch), except that an open row never
/// replaces a final one. Queries can ask for final windows only. Anything whose window started more than `retentionMicros`
/// before the newest window seen is dropped, and at most `maxAlerts` alerts are kept.
public final class AnalyticsStore: Sendable {
    private struct Key: Hashable {
        var start: Int64
        var end: Int64
        var name: String
    }

    private struct State {
        var services: [Key: ServiceMetrics] = [:]
        var clients: [Key: ClientMetrics] = [:]
        var system: [Key: SystemMetrics] = [:]
        var activities: [Key: ActivityMetrics] = [:]
        var late: [Key: LateCount] = [:]
        var alerts: [Alert] = []
        var newestStart: Int64 = .min
        /// Windows starting before this are past the retention (reads leave them out).
        var cutoff: Int64 = .min
        /// The cutoff the dictionaries were last pruned to.
        var prunedTo: Int64?
        var subscribers: [Int: AsyncStream<Alert>.Continuation] = [:]
        var nextSubscriber = 0
    }

    private let state = Mutex(State())
    /// How far back windows are kept, by event time.
    public let retentionMicros: Int64
    /// How many alerts are kept.
    public let maxAlerts: Int

    /// A store keeping `retentionMicros` of event time (24 hours by default).
    public init(retentionMicros: Int64 = 24 * 3_600_000_000, maxAlerts: Int = 10_000) {
        self.retentionMicros = retentionMicros
        self.maxAlerts = max(1, maxAlerts)
    }

    /// Adds what the analytics produced, and hands its alerts to every alert subscriber.
    public func record(_ output: AnalyticsOutput) {
        let subscribers = state.withLock { s -> [AsyncStream<Alert>.Continuation] in
            // A final row is never replaced by an open one of the same window.
            for m in output.services {
                let key = Key(start: m.window.startMicros, end: m.window.endMicros, name: m.service)
                if m.isFinal || s.services[key]?.isFinal != true { s.services[key] = m }
            }
            for m in output.clients {
                let key = Key(start: m.window.startMicros, end: m.window.endMicros, name: m.clientIp)
                if m.isFinal || s.clients[key]?.isFinal != true { s.clients[key] = m }
            }
            for m in output.system {
                let key = Key(start: m.window.startMicros, end: m.window.endMicros, name: "")
                if m.isFinal || s.system[key]?.isFinal != true { s.system[key] = m }
            }
            for m in output.activities {
                let key = Key(start: m.window.startMicros, end: m.window.endMicros, name: m.eventType)
                if m.isFinal || s.activities[key]?.isFinal != true { s.activities[key] = m }
            }
            for l in output.lateCounts {
                let key = Key(start: l.window.startMicros, end: l.window.endMicros, name: "\(l.reason.rawValue)/\(l.stream.rawValue)/\(l.key)")
                if var existing = s.late[key] {
                    existing.count += l.count
                    s.late[key] = existing
                } else {
                    s.late[key] = l
                }
            }
            s.alerts += output.alerts
            if s.alerts.count > maxAlerts { s.alerts.removeFirst(s.alerts.count - maxAlerts) }
            let newest = (output.services.map(\.window.startMicros) + output.system.map(\.window.startMicros)
                + output.activities.map(\.window.startMicros)).max() ?? .min
            if newest > s.newestStart {
                s.newestStart = newest
                let cutoff = newest - retentionMicros
                s.cutoff = cutoff
                // Pruning rebuilds every dictionary, and a backfill moves the cutoff at every
                // batch: it runs once the cutoff has moved an eighth of the retention (reads
                // apply the exact cutoff meanwhile).
                guard s.prunedTo.map({ cutoff - $0 >= retentionMicros / 8 }) ?? true else {
                    return output.alerts.isEmpty ? [] : Array(s.subscribers.values)
                }
                s.prunedTo = cutoff
                s.services = s.services.filter { $0.key.start >= cutoff }
                s.clients = s.clients.filter { $0.key.start >= cutoff }
                s.system = s.system.filter { $0.key.start >= cutoff }
                s.activities = s.activities.filter { $0.key.start >= cutoff }
                s.late = s.late.filter { $0.key.start >= cutoff }
            }
            return output.alerts.isEmpty ? [] : Array(s.subscribers.values)
        }
        for continuation in subscribers {
            for alert in output.alerts { continuation.yield(alert) }
        }
    }

    /// Per-service windows starting in `[from, to)` (microseconds; `nil` = unbounded),
    /// optionally of one service, ordered by window then service.
    public func services(from: Int64? = nil, to: Int64? = nil, service: String? = nil, finalOnly: Bool = false) -> [ServiceMetrics] {
        state.withLock { s in
            s.services.values.filter { m in
                Self.contains(m.window, max(from ?? .min, s.cutoff), to) && (service == nil || m.service == service) && (!finalOnly || m.isFinal)
            }
        }.sorted { ($0.window, $0.service) < ($1.window, $1.service) }
    }

    /// Client-IP windows starting in `[from, to)`, optionally of one IP, ordered by window then IP.
    public func clients(from: Int64? = nil, to: Int64? = nil, clientIp: String? = nil, finalOnly: Bool = false) -> [ClientMetrics] {
        state.withLock { s in
            s.clients.values.filter { m in
                Self.contains(m.window, max(from ?? .min, s.cutoff), to) && (clientIp == nil || m.clientIp == clientIp) && (!finalOnly || m.isFinal)
            }
        }.sorted { ($0.window, $0.clientIp) < ($1.window, $1.clientIp) }
    }

    /// System-wide windows starting in `[from, to)`, ordered by window.
    public func system(from: Int64? = nil, to: Int64? = nil, finalOnly: Bool = false) -> [SystemMetrics] {
        state.withLock { s in s.system.values.filter { Self.contains($0.window, max(from ?? .min, s.cutoff), to) && (!finalOnly || $0.isFinal) } }
            .sorted { $0.window < $1.window }
    }

    /// Activity windows starting in `[from, to)`, optionally of one event type.
    public func activities(from: Int64? = nil, to: Int64? = nil, eventType: String? = nil, finalOnly: Bool = false) -> [ActivityMetrics] {
        state.withLock { s in
            s.activities.values.filter {
                Self.contains($0.window, max(from ?? .min, s.cutoff), to) && (eventType == nil || $0.eventType == eventType) && (!finalOnly || $0.isFinal)
            }
        }.sorted { ($0.window, $0.eventType) < ($1.window, $1.eventType) }
    }

    /// Late (and future) rows per window and key, for windows starting in `[from, to)`,
    /// optionally of one reason.
    public func lateCounts(from: Int64? = nil, to: Int64? = nil, reason: LateReason? = nil) -> [LateCount] {
        state.withLock { s in
            s.late.values.filter { Self.contains($0.window, max(from ?? .min, s.cutoff), to) && (reason == nil || $0.reason == reason) }
        }.sorted {
            ($0.window, $0.stream.rawValue, $0.key, $0.reason.rawValue) < ($1.window, $1.stream.rawValue, $1.key, $1.reason.rawValue)
        }
    }

    /// Alerts whose window starts in `[from, to)`, optionally of one type, oldest first.
    public func alerts(from: Int64? = nil, to: Int64? = nil, type: AlertType? = nil) -> [Alert] {
        state.withLock { s in
            s.alerts.filter { Self.contains($0.window, from, to) && (type == nil || $0.type == type) }
        }
    }

    /// Alerts as they are recorded from now on (a webhook forwarder, the alerts topic
    /// writer). Buffers up to `bufferLimit` alerts for a slow reader, dropping the oldest.
    public func alertStream(bufferLimit: Int = 1_000) -> AsyncStream<Alert> {
        let (stream, continuation) = AsyncStream.makeStream(of: Alert.self, bufferingPolicy: .bufferingNewest(bufferLimit))
        let id = state.withLock { s in
            let id = s.nextSubscriber
            s.nextSubscriber += 1
            s.subscribers[id] = continuation
            return id
        }
        continuation.onTermination = { [weak self] _ in
            _ = self?.state.withLock { $0.subscribers.removeValue(forKey: id) }
        }
        return stream
    }

    private static func contains(_ w: TimeWindow, _ from: Int64?, _ to: Int64?) -> Bool {
        (from.map { w.startMicros >= $0 } ?? true) && (to.map { w.startMicros < $0 } ?? true)
    }
}
