#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The kinds of anomaly the seed's AnomalyDetector finds.
public enum AlertType: String, Sendable, Codable, CaseIterable {
    /// A service's mean response time is far from its previous windows (z-score).
    case responseTimeAnomaly = "response_time_anomaly"
    /// A service's error rate jumped over the previous window.
    case errorRateSpike = "error_rate_spike"
    /// One IP made many requests to many services.
    case suspiciousIP = "suspicious_ip"
    /// One IP made many requests in a minute with few users behind it.
    case ddos
}

/// One detected anomaly: raised once per incident, that is once for a run of
/// consecutive windows in which the same subject stays anomalous.
public struct Alert: Sendable, Equatable, Codable {
    /// The kind.
    public var type: AlertType
    /// The service or client IP concerned.
    public var subject: String
    /// The window that tripped the detector (the first of the incident).
    public var window: TimeWindow
    /// The values the detector saw, by name (e.g. `z_score`, `avg_response_time`).
    public var observed: [String: Double]
    /// The thresholds they crossed, by name.
    public var thresholds: [String: Double]
    /// One line for logs and webhooks.
    public var message: String
}

/// The detectors' thresholds: the seed's values by default. Each guard beyond the seed
/// is named and can be turned off; it keeps statistical noise from a quiet service
/// from reading as an incident (see `responseTimeMinRatio`, `errorRateSpikeMaxPValue`).
public struct DetectorConfiguration: Sendable, Equatable {
    /// |z| above this flags a service's mean response time (seed: 2).
    public var responseTimeZScore: Double = 2
    /// How many previous windows of the service form the baseline (seed: 10).
    public var responseTimeBaselineWindows: Int = 10
    /// No verdict until the baseline has this many windows.
    public var responseTimeMinBaselineWindows: Int = 5
    /// The mean must also differ from the baseline mean by this factor (either way);
    /// 1 turns the guard off. A steady service's per-minute means are so stable that
    /// |z| > 2 alone fires on noise: about 50 times an hour over 12 services at the
    /// seed's 20 logs/s, where a quiet service's mean still swings by up to 1.95×.
    public var responseTimeMinRatio: Double = 2.5
    /// No verdict on a window with fewer response times than this; 0 turns the guard off.
    /// The mean of a handful of requests is one slow request: a service logging a request
    /// or two a minute raised about 8 alerts an hour past the ratio guard.
    public var responseTimeMinRequests: Int64 = 20
    /// Whether a drop in response time is an anomaly too (the seed's |z|).
    public var flagsResponseTimeDrops: Bool = true
    /// An error-rate rise above this many percentage points over the previous window (seed: 10).
    public var errorRateSpikePoints: Double = 10
    /// The rise must also be significant: the window's error count must be this
    /// unlikely (binomial upper tail) under the service's error rate over its baseline
    /// windows (`responseTimeBaselineWindows`, Laplace-smoothed); 1 turns the guard off.
    /// With a few dozen requests a window, 10 points is within noise: about 2 false
    /// spikes an hour over 12 services at the seed's 20 logs/s.
    public var errorRateSpikeMaxPValue: Double = 1e-8
    /// More requests than this in a client window … (seed: 1000 in 5 minutes)
    public var suspiciousRequests: Int64 = 1000
    /// … to more services than this flags the IP (seed: 5).
    public var suspiciousServices: Int64 = 5
    /// More requests than this in a flood window … (seed: 100 in a minute)
    public var ddosRequests: Int64 = 100
    /// … from fewer distinct users than this flags the IP (seed: 5).
    public var ddosMaxUsers: Int64 = 5

    /// The seed's thresholds with the default guards.
    public init() {}
}

/// The seed's detectors over final windows, with the history they need (previous
/// windows per service) and the incidents still open, all of it in the snapshot.
struct AnomalyDetector: Sendable {
    var configuration: DetectorConfiguration

    struct ServiceHistory: Sendable, Equatable {
        /// Mean response times of the latest windows, oldest first.
        var means: [Double] = []
        /// Error and request counts of the latest windows, oldest first.
        var errors: [Int64] = []
        var requests: [Int64] = []
    }

    struct EpisodeKey: Hashable, Sendable {
        var type: AlertType
        var subject: String
    }

    var services: [String: ServiceHistory] = [:]
    /// Open incidents: the end of the last anomalous window of each.
    var episodes: [EpisodeKey: Int64] = [:]

    init(configuration: DetectorConfiguration) {
        self.configuration = configuration
    }

    /// Records whether `window` is anomalous for `key`; returns true when this starts
    /// a new incident (the previous anomalous window of the key does not touch it).
    private mutating func episode(_ key: EpisodeKey, window: TimeWindow, anomalous: Bool) -> Bool {
        guard anomalous else {
            episodes[key] = nil
            return false
        }
        defer { episodes[key] = window.endMicros }
        if let end = episodes[key], end >= window.startMicros { return false }
        return true
    }

    /// Forgets incidents of `type` whose last window ended before `start`: windows close
    /// in order, so nothing can extend them any more.
    mutating func prune(_ type: AlertType, before start: Int64) {
        // Called for every closed client-IP and flood window: rebuilding the dictionary each
        // time (an allocation, even when empty) was most of the cost of closing them.
        guard episodes.contains(where: { $0.key.type == type && $0.value < start }) else { return }
        episodes = episodes.filter { $0.key.type != type || $0.value >= start }
    }

    /// Checks a final service window against its history, then adds it to the history.
    mutating func observe(_ m: ServiceMetrics) -> [Alert] {
        let c = configuration
        var alerts: [Alert] = []
        var history = services[m.service] ?? ServiceHistory()

        if let mean = m.avgResponseTime {
            var anomalous = false
            var observed: [String: Double] = ["avg_response_time": mean]
            if history.means.count >= max(2, c.responseTimeMinBaselineWindows), m.responseTimeCount >= c.responseTimeMinRequests {
                var baseline = NumericSummary()
                for x in history.means { baseline.add(x) }
                let baseMean = baseline.mean!
                let baseStd = baseline.sampleStandardDeviation!
                observed["baseline_mean"] = baseMean
                observed["baseline_stddev"] = baseStd
                if baseStd > 0 {
                    let z = (mean - baseMean) / baseStd
                    observed["z_score"] = z
                    let ratio = baseMean > 0 && mean > 0 ? max(mean / baseMean, baseMean / mean) : .infinity
                    anomalous = abs(z) > c.responseTimeZScore && ratio >= c.responseTimeMinRatio
                        && (z > 0 || c.flagsResponseTimeDrops)
                }
            }
            let key = EpisodeKey(type: .responseTimeAnomaly, subject: m.service)
            if episode(key, window: m.window, anomalous: anomalous) {
                alerts.append(Alert(
                    type: .responseTimeAnomaly, subject: m.service, window: m.window, observed: observed,
                    thresholds: ["abs_z_score": c.responseTimeZScore, "min_ratio": c.responseTimeMinRatio],
                    message: "\(m.service): mean response time \(rounded(mean)) ms, z-score \(rounded(observed["z_score"] ?? 0)) against the previous \(history.means.count) windows (baseline \(rounded(observed["baseline_mean"] ?? 0)) ms)"))
            }
            history.means.append(mean)
            if history.means.count > c.responseTimeBaselineWindows {
                history.means.removeFirst(history.means.count - c.responseTimeBaselineWindows)
            }
        }

        if m.requestCount > 0 {
            var anomalous = false
            var observed: [String: Double] = ["error_rate": m.errorRate, "error_count": Double(m.errorCount),
                                              "request_count": Double(m.requestCount)]
            if let previousErrors = history.errors.last, let previousRequests = history.requests.last {
                let previous = Double(previousErrors) / Double(previousRequests) * 100
                let change = m.errorRate - previous
                observed["previous_error_rate"] = previous
                observed["error_rate_change"] = change
                let baselineRate = Double(history.errors.reduce(0, +) + 1) / Double(history.requests.reduce(0, +) + 2)
                let p = Self.binomialUpperTail(m.errorCount, m.requestCount, baselineRate)
                observed["baseline_error_rate"] = baselineRate * 100
                observed["p_value"] = p
                anomalous = change > c.errorRateSpikePoints && (c.errorRateSpikeMaxPValue >= 1 || p < c.errorRateSpikeMaxPValue)
            }
            let key = EpisodeKey(type: .errorRateSpike, subject: m.service)
            if episode(key, window: m.window, anomalous: anomalous) {
                alerts.append(Alert(
                    type: .errorRateSpike, subject: m.service, window: m.window, observed: observed,
                    thresholds: ["error_rate_change_points": c.errorRateSpikePoints, "max_p_value": c.errorRateSpikeMaxPValue],
                    message: "\(m.service): error rate \(rounded(m.errorRate))% (\(m.errorCount) of \(m.requestCount)), up \(rounded(observed["error_rate_change"] ?? 0)) points over the previous window"))
            }
            history.errors.append(m.errorCount)
            history.requests.append(m.requestCount)
            if history.errors.count > c.responseTimeBaselineWindows {
                history.errors.removeFirst()
                history.requests.removeFirst()
            }
        }
        services[m.service] = history
        return alerts
    }

    /// P(X ≥ k) for X ~ Binomial(n, p), summed in log space from the side of k away from the
    /// mode (the upper tail above the mean, one minus the lower tail below it), where the
    /// terms shrink at once and the sum stops within some tens of standard deviations. Summing
    /// up towards the mode instead ran forever on a corrupt snapshot's counts near 1e18
    /// (fuzzing). Over a variance of a million, the normal approximation, accurate there to a
    /// few percent out to six standard deviations.
    static func binomialUpperTail(_ k: Int64, _ n: Int64, _ p: Double) -> Double {
        if k <= 0 { return 1 }
        if k > n || p <= 0 { return 0 }
        if p >= 1 { return 1 }
        let mean = Double(n) * p
        let variance = mean * (1 - p)
        if variance > 1_000_000 {
            return 0.5 * erfc((Double(k) - 0.5 - mean) / (2 * variance).squareRoot())
        }
        let logGamma: (Double) -> Double = lgamma
        let lp = log(p), lq = log1p(-p)
        let ln = logGamma(Double(n) + 1)
        func term(_ i: Int64) -> Double {
            exp(ln - logGamma(Double(i) + 1) - logGamma(Double(n - i) + 1) + Double(i) * lp + Double(n - i) * lq)
        }
        var total = 0.0
        if Double(k) > mean {
            var i = k
            while i <= n {
                let t = term(i)
                total += t
                if t == 0 || t < total * 1e-17 { break }
                i += 1
            }
            return min(1, total)
        }
        var i = k - 1
        while i >= 0 {
            let t = term(i)
            total += t
            if t == 0 || t < total * 1e-17 { break }
            i -= 1
        }
        return max(0, 1 - total)
    }

    /// Checks a final client window for the suspicious-IP pattern.
    mutating func observeClient(_ m: ClientMetrics) -> Alert? {
        let c = configuration
        let services = Int64(m.servicesUsed.count)
        let anomalous = m.requestCount > c.suspiciousRequests && services > c.suspiciousServices
        // With no incident open there is none to end (what `episode` would do here).
        if !anomalous, episodes.isEmpty { return nil }
        guard episode(EpisodeKey(type: .suspiciousIP, subject: m.clientIp), window: m.window, anomalous: anomalous) else {
            return nil
        }
        return Alert(
            type: .suspiciousIP, subject: m.clientIp, window: m.window,
            observed: ["request_count": Double(m.requestCount), "services_used": Double(services),
                       "distinct_users": Double(m.distinctUsers)],
            thresholds: ["request_count": Double(c.suspiciousRequests), "services_used": Double(c.suspiciousServices)],
            message: "\(m.clientIp): \(m.requestCount) requests to \(services) services in one window")
    }

    /// Checks a final flood window (requests and distinct users of one IP) for DDoS.
    /// `ip` and `users` are only evaluated when needed: a quiet window with no incident
    /// open needs neither (most of the thousands of IP-windows closed per minute).
    mutating func observeFlood(window: TimeWindow, ip ipName: @autoclosure () -> String, requests: Int64,
                               users distinctUsers: @autoclosure () -> Int64) -> Alert? {
        let c = configuration
        let anomalous = requests > c.ddosRequests && distinctUsers() < c.ddosMaxUsers
        // With no incident open there is none to end (what `episode` would do here).
        if !anomalous, episodes.isEmpty { return nil }
        let ip = ipName(), users = distinctUsers()
        guard episode(EpisodeKey(type: .ddos, subject: ip), window: window, anomalous: anomalous) else { return nil }
        return Alert(
            type: .ddos, subject: ip, window: window,
            observed: ["request_count": Double(requests), "distinct_users": Double(users)],
            thresholds: ["request_count": Double(c.ddosRequests), "max_distinct_users": Double(c.ddosMaxUsers)],
            message: "\(ip): \(requests) requests in one window from \(users) users")
    }

    // MARK: Snapshot

    func write(to w: inout SnapshotWriter) {
        w.u32(UInt32(services.count))
        for name in services.keys.sorted() {
            let h = services[name]!
            w.string(name)
            w.u32(UInt32(h.means.count))
            for x in h.means { w.f64(x) }
            w.u32(UInt32(h.errors.count))
            for (e, n) in zip(h.errors, h.requests) { w.i64(e); w.i64(n) }
        }
        let open = episodes.sorted { ($0.key.type.rawValue, $0.key.subject) < ($1.key.type.rawValue, $1.key.subject) }
        w.u32(UInt32(open.count))
        for (key, end) in open {
            w.string(key.type.rawValue)
            w.string(key.subject)
            w.i64(end)
        }
    }

    mutating func read(from r: inout SnapshotReader) throws(AnalyticsSnapshotError) {
        services = [:]
        for _ in 0..<(try r.count(minBytes: 24)) {
            let name = try r.string()
            var h = ServiceHistory()
            for _ in 0..<(try r.count(minBytes: 8)) { h.means.append(try r.f64()) }
            for _ in 0..<(try r.count(minBytes: 16)) {
                h.errors.append(try r.i64())
                h.requests.append(try r.i64())
            }
            services[name] = h
        }
        episodes = [:]
        for _ in 0..<(try r.count(minBytes: 16)) {
            guard let type = AlertType(rawValue: try r.string()) else { throw .malformed("unknown alert type") }
            let subject = try r.string()
            episodes[EpisodeKey(type: type, subject: subject)] = try r.i64()
        }
    }
}

/// A number with at most two decimals, for messages.
func rounded(_ x: Double) -> String {
    guard x.isFinite else { return x > 0 ? "inf" : x < 0 ? "-inf" : "nan" }
    let r = (x * 100).rounded() / 100
    // Past Int64's range a whole number prints as a Double (Int64(r) would trap; a
    // restored snapshot or a near-zero baseline deviation can make z-scores that large).
    guard r == r.rounded(), let whole = Int64(exactly: r) else { return String(r) }
    return String(whole)
}
