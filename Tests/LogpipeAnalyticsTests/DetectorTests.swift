import LogpipeAnalytics
import LogpipeGenerator
import LogpipeRecords
import Testing

/// The seed's rate: its scheduler posts 100 logs every 5 s. The seed's DDoS and
/// suspicious-IP thresholds are absolute counts made for it (see the report: at much
/// higher rates the generator's busiest user alone exceeds them).
private let seedSpacing = 0.05

@Suite("Anomaly detection on generated incidents")
struct DetectorTests {
    static func run(minutes: Double, incidents: [Incident], seed: UInt64, spacing: Double = seedSpacing,
                    configuration: AnalyticsConfiguration = AnalyticsConfiguration()) throws -> AnalyticsOutput {
        var generator = RecordGenerator(seed: seed, incidents: incidents)
        let logs = try parseLogs(generator.logs(count: Int(minutes * 60 / spacing), start: epoch0, spacing: spacing))
        var analytics = StreamAnalytics(configuration: configuration, logger: quietLogger)
        return runAll(&analytics, logs: logs, batchSize: 500)
    }

    @Test("a clean run of an hour raises no alert", arguments: [UInt64(11), 12])
    func cleanRun(seed: UInt64) throws {
        let out = try Self.run(minutes: 61, incidents: [], seed: seed)
        #expect(out.services.count > 60 * 11)
        #expect(out.alerts.map(\.message) == [])
    }

    /// A request every 2.5 s over all services (a couple a minute per service): the mean of
    /// a window is one or two requests, so the seed's z-score alone (and the ratio guard)
    /// fires on single slow requests, about 8 times an hour; the minimum-requests guard
    /// keeps such windows from a verdict.
    @Test("quiet services raise no response-time alert on single slow requests")
    func quietServices() throws {
        let out = try Self.run(minutes: 6 * 60, incidents: [], seed: 7, spacing: 2.5)
        #expect(out.services.count > 6 * 60 * 6)
        #expect(out.services.allSatisfy { $0.responseTimeCount < 20 })
        #expect(out.alerts.filter { $0.type == .responseTimeAnomaly }.map(\.message) == [])

        var unguarded = AnalyticsConfiguration()
        unguarded.detectors.responseTimeMinRequests = 0
        let noisy = try Self.run(minutes: 6 * 60, incidents: [], seed: 7, spacing: 2.5, configuration: unguarded)
        #expect(noisy.alerts.filter { $0.type == .responseTimeAnomaly }.count > 10, "the input is not noisy enough to test the guard")
    }

    @Test("each incident raises exactly one alert of its type, for its subject, within two windows of its start")
    func incidents() throws {
        let burst = Incident(kind: .errorBurst, subject: "order-service", start: epoch0 + 20 * 60 + 25, end: epoch0 + 24 * 60)
        let spike = Incident(kind: .latencySpike, subject: "payment-service", start: epoch0 + 35 * 60 + 40, end: epoch0 + 39 * 60)
        let flood = Incident(kind: .ipFlood, subject: "10.66.66.66", start: epoch0 + 50 * 60 + 10, end: epoch0 + 53 * 60)
        let out = try Self.run(minutes: 70, incidents: [burst, spike, flood], seed: 5)

        // The flood is both a DDoS (per minute) and a suspicious IP (per 5 minutes): one alert of each.
        let expected: [(Incident, AlertType, Int64)] = [
            (burst, .errorRateSpike, 60), (spike, .responseTimeAnomaly, 60), (flood, .ddos, 60), (flood, .suspiciousIP, 300),
        ]
        #expect(out.alerts.count == expected.count, "\(out.alerts.map(\.message))")
        for (incident, type, windowSeconds) in expected {
            let alerts = out.alerts.filter { $0.type == type }
            #expect(alerts.count == 1, "\(type): \(alerts.map(\.message))")
            guard let alert = alerts.first else { continue }
            #expect(alert.subject == incident.subject)
            let start = micros(incident.start)
            #expect(alert.window.endMicros > start, "\(type) window ends before the incident")
            #expect(alert.window.startMicros < start + 2 * windowSeconds * 1_000_000, "\(type) raised too late")
            #expect(!alert.observed.isEmpty && !alert.thresholds.isEmpty)
        }
    }
}
