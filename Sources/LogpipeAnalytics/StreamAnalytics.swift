import Foundation
import Logging
import LogpipeRecords
import Metrics

/// What one call to `StreamAnalytics` produced, for the engine to write out (lake
/// `metrics/` and `alerts/`, the `alerts` topic, the in-memory store) in the same
/// commit as the batch's offsets and the analytics snapshot.
public struct AnalyticsOutput: Sendable, Equatable, Codable {
    /// Per-service windows: closed ones (append), or changed ones (update).
    public var services: [ServiceMetrics] = []
    /// Per-client-IP windows.
    public var clients: [ClientMetrics] = []
    /// System-wide windows.
    public var system: [SystemMetrics] = []
    /// Per-event-type activity windows.
    public var activities: [ActivityMetrics] = []
    /// Anomalies found in windows closed by this call.
    public var alerts: [Alert] = []
    /// Indices, in the batch just processed, of rows behind the watermark: they are in
    /// no window. The engine keeps them in its late-records output.
    public var lateRows: [Int] = []
    /// Indices, in the batch just processed, of rows stamped too far ahead of their
    /// arrival: in no window either, kept with the late rows.
    public var futureRows: [Int] = []
    /// The late rows counted per window and service (logs) or event type (activities).
    public var lateCounts: [LateCount] = []

    /// An output; everything defaults to empty.
    public init(services: [ServiceMetrics] = [], clients: [ClientMetrics] = [], system: [SystemMetrics] = [],
                activities: [ActivityMetrics] = [], alerts: [Alert] = [], lateRows: [Int] = [], futureRows: [Int] = [],
                lateCounts: [LateCount] = []) {
        self.services = services
        self.clients = clients
        self.system = system
        self.activities = activities
        self.alerts = alerts
        self.lateRows = lateRows
        self.futureRows = futureRows
        self.lateCounts = lateCounts
    }

    /// Whether there is nothing to write.
    public var isEmpty: Bool {
        services.isEmpty && clients.isEmpty && system.isEmpty && activities.isEmpty && alerts.isEmpty
            && lateRows.isEmpty && futureRows.isEmpty && lateCounts.isEmpty
    }

    /// Appends another output (late rows are per batch, so only their counts add up).
    public mutating func append(_ o: AnalyticsOutput) {
        services += o.services; clients += o.clients; system += o.system; activities += o.activities
        alerts += o.alerts; lateRows += o.lateRows; futureRows += o.futureRows; lateCounts += o.lateCounts
    }
}

/// Now, in microseconds since the epoch.
public func wallClockMicros() -> Int64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return Int64(ts.tv_sec) * 1_000_000 + Int64(ts.tv_nsec) / 1000
}

/// The real-time analytics of the log and activity streams: event-time windows with a
/// watermark per stream, the seed's metrics and detectors, late-data accounting, and a
/// snapshot of all of it.
///
/// Feed it parsed batches in stream order; each call returns the windows it closed
/// (append mode) or changed (update mode), the alerts those windows raised and the
/// late rows. A row is late when its event time is behind its stream's watermark (the
/// largest event time seen before it minus the allowed lateness): it goes into no
/// window, is counted, and is handed back. A window closes when the watermark reaches
/// its end, so a late row never changes a closed window. Whether a row is late depends
/// only on the rows before it, not on how they were cut into batches.
///
/// Checkpointing: take `snapshot()` after processing the rows of a commit and store it
/// with the commit; after a restart, `restore` it and feed the rows after the commit.
/// Outputs then continue exactly as an uninterrupted run's.
public struct StreamAnalytics: Sendable {
    /// The configuration in force.
    public let configuration: AnalyticsConfiguration
    var logs: LogWindows
    var activities: ActivityWindows
    var detector: AnomalyDetector
    var batchNumber: UInt64 = 0
    /// Whether client-IP, flood, system-wide and activity windows are combined across
    /// partitions by a `GlobalWindowCoordinator`: this instance then neither emits nor
    /// checks them, but hands its final parts over (`takeGlobalParts`) and keeps them
    /// until the coordinator has emitted them (`dropGlobalWindows`).
    public var combinesAcrossPartitions = false
    /// The watermark up to which parts were handed over, per stream (not in snapshots: a
    /// restored instance hands its kept parts over again).
    var handedUpTo: [AnalyticsStream: Int64] = [:]
    private let logger: Logger
    private let lateLogRows: Counter
    private let lateActivityRows: Counter
    private let futureLogRows: Counter
    private let futureActivityRows: Counter
    private let alertCounters: [AlertType: Counter]

    /// The snapshot format's current version.
    public static let snapshotVersion: UInt16 = 1
    private static let magic: [UInt8] = Array("LPAN".utf8)

    /// Analytics with `configuration`, logging alerts to `logger`.
    public init(configuration: AnalyticsConfiguration = AnalyticsConfiguration(),
                logger: Logger = Logger(label: "logpipe.analytics")) {
        self.configuration = configuration
        logs = LogWindows(configuration: configuration)
        activities = ActivityWindows(configuration: configuration)
        detector = AnomalyDetector(configuration: configuration.detectors)
        self.logger = logger
        lateLogRows = Counter(label: "logpipe_analytics_late_records_total", dimensions: [("stream", "logs")])
        lateActivityRows = Counter(label: "logpipe_analytics_late_records_total", dimensions: [("stream", "activities")])
        futureLogRows = Counter(label: "logpipe_analytics_future_records_total", dimensions: [("stream", "logs")])
        futureActivityRows = Counter(label: "logpipe_analytics_future_records_total", dimensions: [("stream", "activities")])
        var counters: [AlertType: Counter] = [:]
        for type in AlertType.allCases {
            counters[type] = Counter(label: "logpipe_analytics_alerts_total", dimensions: [("type", type.rawValue)])
        }
        alertCounters = counters
    }

    /// The watermark of a stream in microseconds, or `nil` before its first row.
    public func watermarkMicros(_ stream: AnalyticsStream) -> Int64? {
        let w = stream == .logs ? logs.watermark.micros : activities.watermark.micros
        return w == .min ? nil : w
    }

    /// The number of windows held open (all families), for gauges and tests of boundedness.
    public var openWindowCount: Int {
        logs.services.count + logs.ips.clients.count + logs.ips.floods.count + logs.system.count + activities.types.count
    }

    /// Processes a batch of log records. `arrivalMillis` holds each row's arrival (the
    /// bus append time, milliseconds since the epoch); without it every row arrives now.
    /// A row stamped more than `maxFutureSkewMicros` after its arrival is future.
    public mutating func process(logs batch: LogBatch, arrivalMillis: [Int64]? = nil,
                                 nowMicros: Int64 = wallClockMicros()) -> AnalyticsOutput {
        batchNumber += 1
        var output = AnalyticsOutput()
        let limits = FutureLimits(arrivalMillis: arrivalMillis, nowMicros: nowMicros,
                                  skewMicros: configuration.maxFutureSkewMicros)
        // Whole-system windows combined across partitions are closed by the coordinator.
        logs.add(batch, batchNumber: batchNumber, limits: limits, late: &output.lateRows, future: &output.futureRows,
                 closeIPs: !combinesAcrossPartitions)
        if !output.lateRows.isEmpty {
            output.lateCounts = logs.lateCounts(batch, rows: output.lateRows, reason: .late)
            lateLogRows.increment(by: Int64(output.lateRows.count))
        }
        if !output.futureRows.isEmpty {
            output.lateCounts += logs.lateCounts(batch, rows: output.futureRows, reason: .future)
            futureLogRows.increment(by: Int64(output.futureRows.count))
        }
        emitLogs(into: &output)
        return output
    }

    /// Processes a batch of activity events (`arrivalMillis` as for logs).
    public mutating func process(activities batch: ActivityBatch, arrivalMillis: [Int64]? = nil,
                                 nowMicros: Int64 = wallClockMicros()) -> AnalyticsOutput {
        batchNumber += 1
        var output = AnalyticsOutput()
        let limits = FutureLimits(arrivalMillis: arrivalMillis, nowMicros: nowMicros,
                                  skewMicros: configuration.maxFutureSkewMicros)
        activities.add(batch, batchNumber: batchNumber, limits: limits, late: &output.lateRows, future: &output.futureRows)
        if !output.lateRows.isEmpty {
            output.lateCounts = activities.lateCounts(batch, rows: output.lateRows, reason: .late)
            lateActivityRows.increment(by: Int64(output.lateRows.count))
        }
        if !output.futureRows.isEmpty {
            output.lateCounts += activities.lateCounts(batch, rows: output.futureRows, reason: .future)
            futureActivityRows.increment(by: Int64(output.futureRows.count))
        }
        emitActivities(into: &output)
        return output
    }

    /// Moves a stream's watermark as if a row at `eventTimeMicros` had been seen (an
    /// engine that knows event time has progressed, e.g. from an idle partition's
    /// heartbeat, or at the end of a bounded input), closing the windows it passes.
    public mutating func advance(_ stream: AnalyticsStream, toEventTime eventTimeMicros: Int64) -> AnalyticsOutput {
        batchNumber += 1
        var output = AnalyticsOutput()
        switch stream {
        case .logs:
            _ = logs.watermark.admit(max(eventTimeMicros, logs.watermark.maxEventMicros))
            emitLogs(into: &output)
        case .activities:
            _ = activities.watermark.admit(max(eventTimeMicros, activities.watermark.maxEventMicros))
            emitActivities(into: &output)
        }
        return output
    }

    /// The open windows the last `process` call changed, with their values so far and
    /// `isFinal` false: the live view between closes. Per service, client IP, system-wide
    /// and activity windows.
    public func liveWindows() -> AnalyticsOutput {
        let batch = batchNumber
        var out = AnalyticsOutput()
        for s in logs.services.changed(in: batch) {
            out.services.append(logs.serviceMetrics(window: logs.services.window(s), id: logs.services.ids[s],
                                                    state: logs.services.states[s], isFinal: false))
        }
        // Combined across partitions, a partition's system and activity windows are parts:
        // only the coordinator's rows describe the whole system.
        if combinesAcrossPartitions { return out }
        for s in logs.ips.clients.changed(in: batch) {
            out.clients.append(logs.clientMetrics(window: logs.ips.clients.window(s), id: logs.ips.clients.ids[s],
                                                  state: logs.ips.clients.states[s], isFinal: false))
        }
        for s in logs.system.changed(in: batch) {
            out.system.append(logs.systemMetrics(window: logs.system.window(s), state: logs.system.states[s], isFinal: false))
        }
        for s in activities.types.changed(in: batch) {
            out.activities.append(activities.metrics(window: activities.types.window(s), id: activities.types.ids[s],
                                                     state: activities.types.states[s], isFinal: false))
        }
        return out
    }

    /// Closes every open window of both streams (the end of a bounded input): both
    /// watermarks move to the end of time, so any later row is late.
    public mutating func finish() -> AnalyticsOutput {
        batchNumber += 1
        var output = AnalyticsOutput()
        logs.watermark.maxEventMicros = .max
        activities.watermark.maxEventMicros = .max
        emitLogs(into: &output)
        emitActivities(into: &output)
        return output
    }

    private mutating func emitLogs(into output: inout AnalyticsOutput) {
        let wm = logs.watermark.micros
        let update = configuration.outputMode == .update
        let batch = batchNumber

        for closed in logs.services.close(upTo: wm, batch: batch) {
            let window = TimeWindow(startMicros: closed.start, endMicros: closed.start + logs.services.spec.sizeMicros)
            let m = logs.serviceMetrics(window: window, id: closed.id, state: closed.state, isFinal: true)
            if !update || closed.changed { output.services.append(m) }
            record(detector.observe(m), into: &output)
        }
        if combinesAcrossPartitions {
            emitServices(into: &output, watermark: wm, update: update, batch: batch)
            logs.compactIPs()
            return
        }
        var serviceSets = ServiceSetNames()
        // The closed IP windows (thousands per minute) are read in place: `for closed in`
        // copied each one out, a retain and release of its HyperLogLog's arrays.
        let (clients, floods) = logs.ips.takeClosed(upTo: wm, batch: batch)
        for i in clients.indices {
            let (start, id) = (clients[i].start, clients[i].id)
            let window = TimeWindow(startMicros: start, endMicros: start + logs.ips.clients.spec.sizeMicros)
            let m = logs.clientMetrics(window: window, id: id, state: clients[i].state, isFinal: true, names: &serviceSets)
            if !update || clients[i].changed { output.clients.append(m) }
            if let alert = detector.observeClient(m) { record([alert], into: &output) }
            detector.prune(.suspiciousIP, before: start)
        }
        for i in floods.indices {
            let start = floods[i].start
            let window = TimeWindow(startMicros: start, endMicros: start + logs.ips.floods.spec.sizeMicros)
            if let alert = detector.observeFlood(window: window, ip: logs.ips.names.name(floods[i].id), requests: floods[i].state.requests,
                                                 users: floods[i].state.users.count) {
                record([alert], into: &output)
            }
            detector.prune(.ddos, before: start)
        }
        for closed in logs.system.close(upTo: wm, batch: batch) where !update || closed.changed {
            let window = TimeWindow(startMicros: closed.start, endMicros: closed.start + logs.system.spec.sizeMicros)
            output.system.append(logs.systemMetrics(window: window, state: closed.state, isFinal: true))
        }
        if update {
            for s in logs.services.changed(in: batch) {
                output.services.append(logs.serviceMetrics(window: logs.services.window(s), id: logs.services.ids[s],
                                                           state: logs.services.states[s], isFinal: false))
            }
            for s in logs.ips.clients.changed(in: batch) {
                output.clients.append(logs.clientMetrics(window: logs.ips.clients.window(s), id: logs.ips.clients.ids[s],
                                                         state: logs.ips.clients.states[s], isFinal: false))
            }
            for s in logs.system.changed(in: batch) {
                output.system.append(logs.systemMetrics(window: logs.system.window(s), state: logs.system.states[s],
                                                        isFinal: false))
            }
        }
        logs.compactIPs()
    }

    /// The per-service half of `emitLogs` (services are complete in one partition: logs
    /// are keyed by service).
    private mutating func emitServices(into output: inout AnalyticsOutput, watermark wm: Int64, update: Bool, batch: UInt64) {
        for closed in logs.services.close(upTo: wm, batch: batch) {
            let window = TimeWindow(startMicros: closed.start, endMicros: closed.start + logs.services.spec.sizeMicros)
            let m = logs.serviceMetrics(window: window, id: closed.id, state: closed.state, isFinal: true)
            if !update || closed.changed { output.services.append(m) }
            record(detector.observe(m), into: &output)
        }
        if update {
            for s in logs.services.changed(in: batch) {
                output.services.append(logs.serviceMetrics(window: logs.services.window(s), id: logs.services.ids[s],
                                                           state: logs.services.states[s], isFinal: false))
            }
        }
    }

    /// The parts of whole-system windows that this partition's watermark has passed since
    /// the last call (all kept ones after a restore), by name, or `nil` when none.
    public mutating func takeGlobalParts(_ stream: AnalyticsStream) -> GlobalPartials? {
        guard let wm = watermarkMicros(stream), wm > handedUpTo[stream] ?? .min else { return nil }
        let from = handedUpTo[stream] ?? .min
        handedUpTo[stream] = wm
        var parts = GlobalPartials()
        func due(_ start: Int64, _ size: Int64) -> Bool { start + size <= wm && start + size > from }
        switch stream {
        case .logs:
            logs.orderIPs()
            let l = logs
            // The partition's own service ids, under its own table of names (see `GlobalPartials`).
            parts.serviceNames = l.serviceNames.nameStrings
            // Each window's IPs in name order (see `ClientGroup`), sorted by their ranks:
            // integers, not strings.
            func group<S>(_ table: WindowTable<S>, into all: inout [Int64: ClientGroup], _ part: (S) -> ClientPartial) {
                // Sorted by one integer: the window's place since the earliest due one (starts
                // are multiples of the slide) above the IP's rank.
                let slide = table.spec.slideMicros
                var first = Int64.max
                for s in table.states.indices where due(table.starts[s], table.spec.sizeMicros) { first = min(first, table.starts[s]) }
                var taken: [(key: UInt64, slot: Int32)] = []
                for s in table.states.indices where due(table.starts[s], table.spec.sizeMicros) {
                    let key = UInt64((table.starts[s] - first) / slide) << 32 | UInt64(l.ipOrder.rank(table.ids[s]))
                    taken.append((key, Int32(s)))
                }
                taken.sort { $0.key < $1.key }
                var k = 0
                while k < taken.count {
                    let start = table.starts[Int(taken[k].slot)]
                    var names: [String] = []
                    var windowParts: [ClientPartial] = []
                    while k < taken.count, table.starts[Int(taken[k].slot)] == start {
                        let name = l.ipOrder.sorted[Int(taken[k].key & 0xFFFF_FFFF)]
                        let p = part(table.states[Int(taken[k].slot)])
                        // Two ids share a name only when a real IP is spelled as the overflow name.
                        if names.last == name { windowParts[windowParts.count - 1].merge(p) } else {
                            names.append(name)
                            windowParts.append(p)
                        }
                        k += 1
                    }
                    all[start] = ClientGroup(sortedNames: names, parts: windowParts)
                }
            }
            group(l.ips.clients, into: &parts.clients) { ClientPartial(requests: $0.requests, users: $0.users, services: $0.services) }
            group(l.ips.floods, into: &parts.floods) { ClientPartial(requests: $0.requests, users: $0.users, services: SmallBitSet()) }
            for s in l.system.states.indices where due(l.system.starts[s], l.system.spec.sizeMicros) {
                let st = l.system.states[s]
                parts.system[l.system.starts[s]] =
                    SystemPartial(requests: st.requests, errors: st.errors, responseTime: st.responseTime,
                                  services: st.services, users: st.users)
            }
        case .activities:
            let a = activities
            func named(_ c: SmallCounts) -> [String: Int64] {
                var out: [String: Int64] = [:]
                for (id, n) in zip(c.ids, c.counts) { out[a.dimensionNames.name(id), default: 0] += n }
                return out
            }
            for s in a.types.states.indices where due(a.types.starts[s], a.types.spec.sizeMicros) {
                let st = a.types.states[s]
                parts.activities[a.types.starts[s], default: [:]][a.typeNames.name(a.types.ids[s])] =
                    ActivityPartial(events: st.events, users: st.users, sessions: st.sessions, deviceTypes: named(st.deviceTypes),
                                    operatingSystems: named(st.operatingSystems), browsers: named(st.browsers))
            }
        }
        return parts.isEmpty ? nil : parts
    }

    /// This partition's current parts of the open client-IP, system-wide and activity
    /// windows the last `process` call changed.
    public func openGlobalParts(_ stream: AnalyticsStream) -> GlobalPartials? {
        let batch = batchNumber
        var parts = GlobalPartials()
        switch stream {
        case .logs:
            let l = logs
            parts.serviceNames = l.serviceNames.nameStrings
            for s in l.ips.clients.changed(in: batch) {
                let st = l.ips.clients.states[s]
                parts.clients[l.ips.clients.starts[s], default: [:]][l.ips.names.name(l.ips.clients.ids[s])] =
                    ClientPartial(requests: st.requests, users: st.users, services: st.services)
            }
            for s in l.system.changed(in: batch) {
                let st = l.system.states[s]
                parts.system[l.system.starts[s]] =
                    SystemPartial(requests: st.requests, errors: st.errors, responseTime: st.responseTime,
                                  services: st.services, users: st.users)
            }
        case .activities:
            let a = activities
            func named(_ c: SmallCounts) -> [String: Int64] {
                var out: [String: Int64] = [:]
                for (id, n) in zip(c.ids, c.counts) { out[a.dimensionNames.name(id), default: 0] += n }
                return out
            }
            for s in a.types.changed(in: batch) {
                let st = a.types.states[s]
                parts.activities[a.types.starts[s], default: [:]][a.typeNames.name(a.types.ids[s])] =
                    ActivityPartial(events: st.events, users: st.users, sessions: st.sessions, deviceTypes: named(st.deviceTypes),
                                    operatingSystems: named(st.operatingSystems), browsers: named(st.browsers))
            }
        }
        return parts.isEmpty ? nil : parts
    }

    /// Drops the whole-system windows of `stream` ending at or before `end`: the
    /// coordinator has emitted them.
    public mutating func dropGlobalWindows(_ stream: AnalyticsStream, upTo end: Int64) {
        switch stream {
        case .logs:
            logs.ips.clients.drop(upTo: end)
            logs.ips.floods.drop(upTo: end)
            logs.system.drop(upTo: end)
        case .activities:
            activities.types.drop(upTo: end)
        }
    }

    private mutating func emitActivities(into output: inout AnalyticsOutput) {
        if combinesAcrossPartitions { return }
        let wm = activities.watermark.micros
        let update = configuration.outputMode == .update
        let batch = batchNumber
        let types = activities.types
        for closed in activities.types.close(upTo: wm, batch: batch) where !update || closed.changed {
            let window = TimeWindow(startMicros: closed.start, endMicros: closed.start + types.spec.sizeMicros)
            output.activities.append(activities.metrics(window: window, id: closed.id, state: closed.state, isFinal: true))
        }
        if update {
            for s in activities.types.changed(in: batch) {
                output.activities.append(activities.metrics(window: activities.types.window(s), id: activities.types.ids[s],
                                                            state: activities.types.states[s], isFinal: false))
            }
        }
    }

    private func record(_ alerts: [Alert], into output: inout AnalyticsOutput) {
        for alert in alerts {
            alertCounters[alert.type]?.increment()
            logger.warning("anomaly detected", metadata: [
                "type": "\(alert.type.rawValue)", "subject": "\(alert.subject)",
                "window_start_us": "\(alert.window.startMicros)", "detail": "\(alert.message)",
            ])
            output.alerts.append(alert)
        }
    }

    // MARK: Snapshot

    /// The whole state (open windows, watermarks, names, detector history and open
    /// incidents) as versioned bytes. Equal states give equal bytes.
    public func snapshot() -> [UInt8] {
        var w = SnapshotWriter()
        w.bytes.append(contentsOf: Self.magic)
        w.u16(Self.snapshotVersion)
        let shape = configuration.stateShape
        w.u32(UInt32(shape.count))
        for x in shape { w.i64(x) }
        logs.write(to: &w)
        activities.write(to: &w)
        detector.write(to: &w)
        return w.bytes
    }

    /// Replaces the state with a snapshot's. On error the state is unchanged.
    public mutating func restore(_ bytes: [UInt8]) throws(AnalyticsSnapshotError) {
        var r = SnapshotReader(bytes)
        guard bytes.count >= 6, Array(bytes[0..<4]) == Self.magic else { throw .malformed("not an analytics snapshot") }
        r.position = 4
        let version = try r.u16()
        guard version <= Self.snapshotVersion else { throw .unsupportedVersion(version) }
        let n = try r.count(minBytes: 8)
        var shape: [Int64] = []
        for _ in 0..<n { shape.append(try r.i64()) }
        guard shape == configuration.stateShape else { throw .configurationMismatch }
        var logs = LogWindows(configuration: configuration)
        try logs.read(from: &r)
        var activities = ActivityWindows(configuration: configuration)
        try activities.read(from: &r)
        var detector = AnomalyDetector(configuration: configuration.detectors)
        try detector.read(from: &r)
        guard r.atEnd else { throw .malformed("trailing bytes") }
        self.logs = logs
        self.activities = activities
        self.detector = detector
    }

    /// A fresh instance with `configuration` and the state of `snapshot`.
    public init(configuration: AnalyticsConfiguration = AnalyticsConfiguration(), restoring snapshot: [UInt8],
                logger: Logger = Logger(label: "logpipe.analytics")) throws(AnalyticsSnapshotError) {
        self.init(configuration: configuration, logger: logger)
        try restore(snapshot)
    }
}
