import AsyncHTTPClient
import Hummingbird
import Logging
import LogpipeGenerator
import LogpipeRecords
import Metrics
import NIOCore
import NIOSSL
import ServiceLifecycle
import Synchronization

/// What the generator sends, how often, and where.
public struct GeneratorConfiguration: Sendable {
    /// The address of the generator's own HTTP API.
    public var host: String
    /// Its port; 8000 as in the seed.
    public var port: Int
    /// The collector's base URL, for example `http://127.0.0.1:8081`.
    public var collectorURL: String
    /// The collector's API key, when it requires one.
    public var apiKey: String?
    /// Logs per scheduled post (the seed: 100).
    public var logsPerTick: Int
    /// Seconds between scheduled log posts (the seed: 5).
    public var logInterval: Double
    /// Events per scheduled post (the seed: 100).
    public var eventsPerTick: Int
    /// Seconds between scheduled event posts (the seed: 10).
    public var eventInterval: Double
    /// When set, records per second in total (logs and events 4:1) instead of the schedule.
    public var rate: Double?
    /// Records per request in rate mode.
    public var batchSize: Int
    /// Concurrent requests in rate mode.
    public var concurrency: Int
    /// The random seed; the same seed gives the same records.
    public var seed: UInt64
    /// Incidents planned from start-up, as offsets in seconds from the start.
    public var plannedIncidents: [PlannedIncident]
    /// When set, a random incident starts every this many seconds.
    public var incidentEvery: Double?
    /// How long each random incident lasts, in seconds.
    public var incidentDuration: Double
    /// The TLS settings for an `https` collector, when the system's roots are not enough
    /// (`ServerTLS.clientTrustingSelf`, `ServerTLS.clientTrusting(_:)`).
    public var collectorTLS: TLSConfiguration?

    /// The seed's schedule on the seed's ports.
    public init(
        host: String = "127.0.0.1", port: Int = 8000, collectorURL: String = "http://127.0.0.1:8081",
        apiKey: String? = nil, logsPerTick: Int = 100, logInterval: Double = 5, eventsPerTick: Int = 100,
        eventInterval: Double = 10, rate: Double? = nil, batchSize: Int = 100, concurrency: Int = 8,
        seed: UInt64 = 42, plannedIncidents: [PlannedIncident] = [], incidentEvery: Double? = nil,
        incidentDuration: Double = 120, collectorTLS: TLSConfiguration? = nil
    ) {
        self.collectorTLS = collectorTLS
        self.host = host
        self.port = port
        self.collectorURL = collectorURL
        self.apiKey = apiKey
        self.logsPerTick = logsPerTick
        self.logInterval = logInterval
        self.eventsPerTick = eventsPerTick
        self.eventInterval = eventInterval
        self.rate = rate
        self.batchSize = batchSize
        self.concurrency = concurrency
        self.seed = seed
        self.plannedIncidents = plannedIncidents
        self.incidentEvery = incidentEvery
        self.incidentDuration = incidentDuration
    }
}

/// An incident to start some seconds after the generator starts.
public struct PlannedIncident: Sendable, Equatable {
    /// The kind of trouble.
    public var kind: IncidentKind
    /// The service or IP it concerns.
    public var subject: String
    /// Seconds after start-up.
    public var after: Double
    /// How long it lasts, in seconds.
    public var duration: Double

    /// A planned incident.
    public init(kind: IncidentKind, subject: String, after: Double, duration: Double) {
        self.kind = kind
        self.subject = subject
        self.after = after
        self.duration = duration
    }

    /// Parses `KIND:SUBJECT[:AFTER[:DURATION]]`, e.g. `error_burst:payment-service:60:120`.
    public init?(argument: String) {
        let parts = argument.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        guard parts.count >= 2, parts.count <= 4, let kind = IncidentKind(rawValue: parts[0]), !parts[1].isEmpty else {
            return nil
        }
        let after = parts.count > 2 ? Double(parts[2]) : 0
        let duration = parts.count > 3 ? Double(parts[3]) : 120
        guard let after, let duration, after >= 0, duration > 0 else { return nil }
        self.init(kind: kind, subject: parts[1], after: after, duration: duration)
    }
}

/// The generator: the seed's sample-data service. It posts synthetic records to a
/// collector on the seed's schedule (or at a load-test rate), serves samples over
/// HTTP, and injects incidents, logging each one's start and end.
public final class Generator: Sendable {
    private let configuration: GeneratorConfiguration
    private let logger: Logger
    private let state: Mutex<State>
    private let client: HTTPClient

    private struct State {
        var generator: RecordGenerator
        var incidents: [Incident]
        var sent: Int = 0
        var failed: Int = 0
    }

    /// A generator with its own HTTP client.
    public init(configuration: GeneratorConfiguration, logger: Logger = Logger(label: "logpipe.generator")) {
        self.configuration = configuration
        self.logger = logger
        state = Mutex(State(generator: RecordGenerator(seed: configuration.seed), incidents: []))
        var clientConfiguration = HTTPClient.Configuration(tlsConfiguration: configuration.collectorTLS)
        clientConfiguration.connectionPool.concurrentHTTP1ConnectionsPerHostSoftLimit = max(8, configuration.concurrency)
        client = HTTPClient(eventLoopGroupProvider: .singleton, configuration: clientConfiguration)
    }

    /// Incidents started so far, with their event-time intervals.
    public var incidents: [Incident] { state.withLock { $0.incidents } }

    /// Records the collector acknowledged, and requests that failed.
    public var counts: (sent: Int, failed: Int) { state.withLock { ($0.sent, $0.failed) } }

    /// Starts an incident now, lasting `duration` seconds of event time.
    @discardableResult
    public func startIncident(kind: IncidentKind, subject: String, duration: Double) -> Incident {
        let now = Double(currentEpochMillis()) / 1000
        let incident = Incident(kind: kind, subject: subject, start: now, end: now + duration)
        state.withLock {
            $0.incidents.append(incident)
            $0.generator.incidents.append(incident)
        }
        logger.warning("incident started", metadata: [
            "kind": "\(kind.rawValue)", "subject": "\(subject)", "start": "\(incident.start)", "end": "\(incident.end)",
        ])
        let logger = self.logger
        Task {
            try? await Task.sleep(for: .milliseconds(Int64(duration * 1000)))
            logger.warning("incident ended", metadata: ["kind": "\(kind.rawValue)", "subject": "\(subject)", "end": "\(incident.end)"])
        }
        return incident
    }

    /// One sample log as JSON, stamped now.
    public func sampleLog() -> [UInt8] {
        var out: [UInt8] = []
        let now = Double(currentEpochMillis()) / 1000
        state.withLock { $0.generator.appendLog(to: &out, timestamp: now) }
        return out
    }

    /// One sample activity event as JSON, stamped now.
    public func sampleEvent() -> [UInt8] {
        var out: [UInt8] = []
        let now = Double(currentEpochMillis()) / 1000
        state.withLock { $0.generator.appendEvent(to: &out, timestamp: now) }
        return out
    }

    /// Adds `GET /sample/log`, `GET /sample/event`, `GET /health` and `POST /incidents`.
    public func addRoutes<Context: RequestContext>(to router: Router<Context>) {
        router.get("sample/log") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: self.sampleLog())))
        }
        router.get("sample/event") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/json"], body: .init(byteBuffer: ByteBuffer(bytes: self.sampleEvent())))
        }
        router.get("health") { _, _ in
            let (sent, failed) = self.counts
            return jsonResponse(.ok, #"{"status":"ok","sent":\#(sent),"failed_requests":\#(failed)}"#)
        }
        // POST /incidents?kind=error_burst&subject=payment-service&duration=120
        router.post("incidents") { request, _ in
            let query = request.uri.queryParameters
            guard let kindName = query["kind"], let kind = IncidentKind(rawValue: String(kindName)),
                  let subject = query["subject"], !subject.isEmpty
            else {
                return errorResponse(.badRequest, "give kind (error_burst, latency_spike, ip_flood) and subject")
            }
            let duration = query["duration"].flatMap { Double(String($0)) } ?? self.configuration.incidentDuration
            guard duration > 0 else { return errorResponse(.badRequest, "duration must be positive") }
            let incident = self.startIncident(kind: kind, subject: String(subject), duration: duration)
            return jsonResponse(.ok, #"{"kind":"\#(kind.rawValue)","subject":"\#(incident.subject)","start":\#(incident.start),"end":\#(incident.end)}"#)
        }
    }

    /// Posts records until cancelled or shut down gracefully.
    public func run() async throws {
        do {
            try await postUntilShutdown()
        } catch is CancellationError {}
        logger.info("generator stopped", metadata: ["sent": "\(counts.sent)", "failed_requests": "\(counts.failed)"])
        try await client.shutdown()
    }

    private func postUntilShutdown() async throws {
        // Stopping mid-schedule loses nothing: unsent records were never acknowledged.
        try await cancelWhenGracefulShutdown {
            async let _ = self.warnIfCollectorUnreachable()
            try await withThrowingTaskGroup(of: Void.self) { group in
                group.addTask { try await self.runIncidents() }
                if let rate = self.configuration.rate {
                    let perTask = rate / Double(max(1, self.configuration.concurrency))
                    for worker in 0..<max(1, self.configuration.concurrency) {
                        group.addTask { try await self.postAtRate(perTask, worker: worker) }
                    }
                } else {
                    group.addTask { try await self.postEvery(self.configuration.logInterval, kind: .logs, count: self.configuration.logsPerTick) }
                    group.addTask { try await self.postEvery(self.configuration.eventInterval, kind: .activities, count: self.configuration.eventsPerTick) }
                }
                try await group.next()
                group.cancelAll()
            }
        }
    }

    /// Says at once when the collector cannot be reached: the HTTP client keeps retrying a
    /// refused connection until a post's 30-second deadline, so its first failure would
    /// otherwise be logged only that late. The probe's own 3 seconds cover a collector
    /// starting alongside (`logpipe run`).
    private func warnIfCollectorUnreachable() async {
        let url = configuration.collectorURL + "/health"
        do {
            let response = try await client.execute(HTTPClientRequest(url: url), timeout: .seconds(3))
            _ = try await response.body.collect(upTo: 1 << 16)
        } catch is CancellationError {
        } catch {
            logger.warning("cannot reach the collector; posts keep retrying, each for up to 30 s",
                           metadata: ["collector": "\(configuration.collectorURL)", "error": "\(error)"])
        }
    }

    private func runIncidents() async throws {
        let start = ContinuousClock.now
        for planned in configuration.plannedIncidents.sorted(by: { $0.after < $1.after }) {
            try await Task.sleep(until: start + .milliseconds(Int64(planned.after * 1000)), clock: .continuous)
            startIncident(kind: planned.kind, subject: planned.subject, duration: planned.duration)
        }
        guard let every = configuration.incidentEvery else {
            try await Task.sleep(for: .seconds(365 * 24 * 3600))
            return
        }
        var random = SeededRandom(seed: configuration.seed ^ 0x1_C1DE)
        while true {
            try await Task.sleep(for: .milliseconds(Int64(every * 1000)))
            let kind = IncidentKind.allCases[random.below(IncidentKind.allCases.count)]
            let subject = kind == .ipFlood
                ? "203.0.113.\(1 + random.below(250))"
                : RecordGenerator.services[random.below(RecordGenerator.services.count)]
            startIncident(kind: kind, subject: subject, duration: configuration.incidentDuration)
        }
    }

    private func postEvery(_ interval: Double, kind: RecordKind, count: Int) async throws {
        while true {
            let started = ContinuousClock.now
            await post(kind: kind, count: count)
            try await Task.sleep(until: started + .milliseconds(Int64(interval * 1000)), clock: .continuous)
        }
    }

    private func postAtRate(_ recordsPerSecond: Double, worker: Int) async throws {
        let batch = max(1, configuration.batchSize)
        let period = Double(batch) / max(recordsPerSecond, 0.001)
        var next = ContinuousClock.now
        var posted = 0
        while true {
            // Four logs for every event, as services log more than users click.
            await post(kind: posted % 5 == 4 ? .activities : .logs, count: batch)
            posted += 1
            next = next + .milliseconds(Int64(period * 1000))
            if next > ContinuousClock.now {
                try await Task.sleep(until: next, clock: .continuous)
            } else {
                next = ContinuousClock.now  // behind: do not burst to catch up
                try Task.checkCancellation()
            }
        }
    }

    /// Posts one batch as a JSON array, the body the seed's generator sends.
    private func post(kind: RecordKind, count: Int) async {
        let now = Double(currentEpochMillis()) / 1000
        let body: [UInt8] = state.withLock {
            switch kind {
            case .logs: $0.generator.logArray(count: count, start: now, spacing: 0.000_001)
            case .activities: $0.generator.eventArray(count: count, start: now, spacing: 0.000_001)
            }
        }
        var request = HTTPClientRequest(url: configuration.collectorURL + "/api/collect/" + kind.rawValue)
        request.method = .POST
        request.headers.add(name: "Content-Type", value: "application/json")
        if let apiKey = configuration.apiKey { request.headers.add(name: "Authorization", value: "Bearer \(apiKey)") }
        request.body = .bytes(ByteBuffer(bytes: body))
        do {
            let response = try await client.execute(request, timeout: .seconds(30))
            let status = response.status.code
            _ = try await response.body.collect(upTo: 1 << 20)
            if status == 200 {
                state.withLock { $0.sent += count }
                Counter(label: "logpipe_generator_records_total", dimensions: [("kind", kind.rawValue)]).increment(by: count)
            } else {
                state.withLock { $0.failed += 1 }
                Counter(label: "logpipe_generator_failed_requests_total", dimensions: [("status", String(status))]).increment()
                logger.warning("collector refused a batch", metadata: ["status": "\(status)", "kind": "\(kind.rawValue)"])
            }
        } catch {
            // Stopping cuts a post short: nothing failed, the batch was simply never sent.
            if Task.isCancelled { return }
            state.withLock { $0.failed += 1 }
            Counter(label: "logpipe_generator_failed_requests_total", dimensions: [("status", "error")]).increment()
            logger.warning("posting to the collector failed", metadata: ["error": "\(error)"])
        }
    }
}

extension Generator: Service {}
