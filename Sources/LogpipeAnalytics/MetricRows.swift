import Foundation

/// Per service and window (the seed's response-time metrics, error rate and SLA).
///
/// Rates and shares are percentages, as in the seed. Response-time figures cover the
/// rows that carry `response_time_ms`; counts cover every row of the service.
public struct ServiceMetrics: Sendable, Equatable, Codable {
    /// The window.
    public var window: TimeWindow
    /// The service.
    public var service: String
    /// Every request (row) of the service in the window.
    public var requestCount: Int64
    /// Rows with a response time.
    public var responseTimeCount: Int64
    /// Sum of response times, ms.
    public var responseTimeSum: Double
    /// Mean response time, ms.
    public var avgResponseTime: Double?
    /// Smallest response time, ms.
    public var minResponseTime: Double?
    /// Largest response time, ms.
    public var maxResponseTime: Double?
    /// Sample standard deviation of response times, ms.
    public var stddevResponseTime: Double?
    /// Median response time, ms, within the sketch's relative accuracy.
    public var p50ResponseTime: Double?
    /// 95th percentile, ms.
    public var p95ResponseTime: Double?
    /// 99th percentile, ms.
    public var p99ResponseTime: Double?
    /// Rows with status ≥ 400.
    public var errorCount: Int64
    /// `errorCount / requestCount × 100`.
    public var errorRate: Double
    /// Rows with a 2xx status (the seed counts 200 only; 201 and 204 succeed too).
    public var successCount: Int64
    /// Rows with a response time below the fast threshold.
    public var fastCount: Int64
    /// SLA availability: `successCount / requestCount × 100`.
    public var availability: Double
    /// SLA performance: `fastCount / requestCount × 100`.
    public var performance: Double
    /// Whether no later output will change this window (always in append mode).
    public var isFinal: Bool

    /// snake_case in every file, topic, response and webhook body.
    enum CodingKeys: String, CodingKey {
        case window
        case service
        case requestCount = "request_count"
        case responseTimeCount = "response_time_count"
        case responseTimeSum = "response_time_sum"
        case avgResponseTime = "avg_response_time"
        case minResponseTime = "min_response_time"
        case maxResponseTime = "max_response_time"
        case stddevResponseTime = "stddev_response_time"
        case p50ResponseTime = "p50_response_time"
        case p95ResponseTime = "p95_response_time"
        case p99ResponseTime = "p99_response_time"
        case errorCount = "error_count"
        case errorRate = "error_rate"
        case successCount = "success_count"
        case fastCount = "fast_count"
        case availability
        case performance
        case isFinal = "is_final"
    }
}

/// Per client IP and window (the seed's IP request patterns).
public struct ClientMetrics: Sendable, Equatable, Codable {
    /// The window.
    public var window: TimeWindow
    /// The client IP.
    public var clientIp: String
    /// Requests from the IP.
    public var requestCount: Int64
    /// Distinct `user_id`s (HyperLogLog; exact below a few hundred).
    public var distinctUsers: Int64
    /// Distinct services the IP called, sorted.
    public var servicesUsed: [String]
    /// Whether no later output will change this window.
    public var isFinal: Bool

    /// snake_case in every file, topic, response and webhook body.
    enum CodingKeys: String, CodingKey {
        case window
        case clientIp = "client_ip"
        case requestCount = "request_count"
        case distinctUsers = "distinct_users"
        case servicesUsed = "services_used"
        case isFinal = "is_final"
    }
}

/// The whole system per window (the seed's system health).
public struct SystemMetrics: Sendable, Equatable, Codable {
    /// The window.
    public var window: TimeWindow
    /// Every request.
    public var requestCount: Int64
    /// Distinct services.
    public var activeServices: Int64
    /// Distinct users (HyperLogLog; exact below `2^precision / 8`).
    public var activeUsers: Int64
    /// Mean response time, ms.
    public var avgResponseTime: Double?
    /// Rows with status ≥ 400.
    public var errorCount: Int64
    /// `errorCount / requestCount × 100`.
    public var errorRate: Double
    /// 100 under 1% errors, 80 under 5%, 60 under 10%, else 40.
    public var healthScore: Int
    /// Whether no later output will change this window.
    public var isFinal: Bool

    /// The seed's health score for an error rate in percent.
    public static func healthScore(errorRate: Double) -> Int {
        errorRate < 1 ? 100 : errorRate < 5 ? 80 : errorRate < 10 ? 60 : 40
    }

    /// snake_case in every file, topic, response and webhook body.
    enum CodingKeys: String, CodingKey {
        case window
        case requestCount = "request_count"
        case activeServices = "active_services"
        case activeUsers = "active_users"
        case avgResponseTime = "avg_response_time"
        case errorCount = "error_count"
        case errorRate = "error_rate"
        case healthScore = "health_score"
        case isFinal = "is_final"
    }
}

/// Per activity event type and window.
public struct ActivityMetrics: Sendable, Equatable, Codable {
    /// The window.
    public var window: TimeWindow
    /// The event type, as sent.
    public var eventType: String
    /// Events.
    public var eventCount: Int64
    /// Distinct users.
    public var distinctUsers: Int64
    /// Distinct sessions.
    public var distinctSessions: Int64
    /// Events per `device.type`.
    public var deviceTypes: [String: Int64]
    /// Events per `device.os`.
    public var operatingSystems: [String: Int64]
    /// Events per `device.browser`.
    public var browsers: [String: Int64]
    /// Whether no later output will change this window.
    public var isFinal: Bool

    /// snake_case in every file, topic, response and webhook body.
    enum CodingKeys: String, CodingKey {
        case window
        case eventType = "event_type"
        case eventCount = "event_count"
        case distinctUsers = "distinct_users"
        case distinctSessions = "distinct_sessions"
        case deviceTypes = "device_types"
        case operatingSystems = "operating_systems"
        case browsers
        case isFinal = "is_final"
    }
}

/// Which stream a late count is about.
public enum AnalyticsStream: String, Sendable, Codable, CaseIterable {
    /// `logs.raw`
    case logs
    /// `events.activity`
    case activities
}

/// Why rows are in no window.
public enum LateReason: String, Sendable, Codable, CaseIterable {
    /// Behind the watermark.
    case late
    /// Stamped further ahead of their arrival than the allowed skew.
    case future
}

/// Rows that arrived behind the watermark (or too far ahead of the clock), for one
/// window and key: they are not in that window's metrics.
public struct LateCount: Sendable, Equatable, Codable {
    /// The stream.
    public var stream: AnalyticsStream
    /// The window the rows belong to (the service or activity window).
    public var window: TimeWindow
    /// The service (logs) or event type (activities).
    public var key: String
    /// How many rows.
    public var count: Int64
    /// Late or future.
    public var reason: LateReason

    /// A late count.
    public init(stream: AnalyticsStream, window: TimeWindow, key: String, count: Int64, reason: LateReason = .late) {
        self.stream = stream
        self.window = window
        self.key = key
        self.count = count
        self.reason = reason
    }

    /// snake_case in every file, topic, response and webhook body.
    enum CodingKeys: String, CodingKey {
        case stream
        case window
        case key
        case count
        case reason
    }
}

/// The one JSON form of analytics output, for lake files, the alerts topic, the webhook
/// and the API alike: snake_case keys (each type's `CodingKeys`; dictionary keys such as
/// device names are data and stay as sent), sorted, non-finite numbers as strings.
public enum AnalyticsJSON {
    /// A fresh encoder with those settings.
    public static func encoder() -> JSONEncoder {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        encoder.nonConformingFloatEncodingStrategy = .convertToString(positiveInfinity: "inf", negativeInfinity: "-inf", nan: "nan")
        return encoder
    }
}
