/// LogpipeGenerator: synthetic application logs and user-activity events, as the
/// seed's generator makes them, plus incidents (error bursts, latency spikes, a
/// flooding IP) for the detectors to find. It writes contract JSON straight into
/// byte buffers, so it can feed load tests at hundreds of thousands of records/s.

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A small, fast, seedable generator (xoshiro256**), so a seed reproduces a run.
public struct SeededRandom: Sendable {
    @usableFromInline var s0, s1, s2, s3: UInt64

    /// A generator whose whole sequence follows from `seed`.
    public init(seed: UInt64) {
        // SplitMix64 spreads a small seed over the four words of state.
        var x = seed
        func next() -> UInt64 {
            x &+= 0x9E37_79B9_7F4A_7C15
            var z = x
            z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
            z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
            return z ^ (z >> 31)
        }
        s0 = next(); s1 = next(); s2 = next(); s3 = next()
    }

    /// The next 64 random bits.
    @inlinable
    public mutating func next() -> UInt64 {
        let result = rotl(s1 &* 5, 7) &* 9
        let t = s1 << 17
        s2 ^= s0; s3 ^= s1; s1 ^= s2; s0 ^= s3
        s2 ^= t
        s3 = rotl(s3, 45)
        return result
    }

    @usableFromInline
    func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 { (x << k) | (x >> (64 - k)) }

    /// A uniform integer in `0 ..< bound`.
    @inlinable
    public mutating func below(_ bound: Int) -> Int {
        Int(truncatingIfNeeded: next().multipliedFullWidth(by: UInt64(bound)).high)
    }

    /// A uniform double in `[0, 1)`.
    @inlinable
    public mutating func unit() -> Double { Double(next() >> 11) * 0x1.0p-53 }

    /// A standard normal variate (Box–Muller; one of the pair is enough here).
    public mutating func normal() -> Double {
        let u1 = max(unit(), 1e-300)
        let u2 = unit()
        return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
    }
}

/// What kind of trouble an incident injects.
public enum IncidentKind: String, Sendable, CaseIterable, Codable {
    /// Most requests of one service fail with 5xx and level ERROR.
    case errorBurst = "error_burst"
    /// One service's response times grow tenfold.
    case latencySpike = "latency_spike"
    /// One client IP floods many services with few users behind it.
    case ipFlood = "ip_flood"
}

/// An incident over an event-time interval.
public struct Incident: Sendable, Equatable, Codable {
    /// The kind of trouble.
    public var kind: IncidentKind
    /// The service (error burst, latency spike) or client IP (flood) it concerns.
    public var subject: String
    /// Start, in epoch seconds of event time.
    public var start: Double
    /// End (exclusive), in epoch seconds of event time.
    public var end: Double

    /// An incident.
    public init(kind: IncidentKind, subject: String, start: Double, end: Double) {
        self.kind = kind
        self.subject = subject
        self.start = start
        self.end = end
    }

    /// Whether the incident is under way at `time`.
    public func isActive(at time: Double) -> Bool { time >= start && time < end }
}

/// Makes realistic logs and activity events as contract JSON.
///
/// Logs come from a fixed set of services, each with its own hosts, endpoints and
/// latency profile (log-normal with a long tail); status codes and levels agree
/// (5xx is ERROR, 4xx is WARN); client IPs and users follow a skewed popularity so a
/// few are busy and most are quiet. Events carry users, sessions and devices.
public struct RecordGenerator: Sendable {
    /// The services logs come from.
    public static let services: [String] = [
        "api-gateway", "user-service", "auth-service", "order-service", "payment-service",
        "inventory-service", "search-service", "notification-service", "recommendation-service",
        "cart-service", "shipping-service", "review-service",
    ]

    private struct Service {
        var name: [UInt8]
        var hosts: [[UInt8]]
        var endpoints: [[UInt8]]
        var medianMillis: Double
    }

    private static let endpointStems: [String] = [
        "/api/users", "/api/users/{id}", "/api/auth/login", "/api/auth/token", "/api/orders",
        "/api/orders/{id}", "/api/payments", "/api/inventory/{id}", "/api/search", "/api/notifications",
        "/api/recommendations", "/api/cart", "/api/cart/items", "/api/shipping/quote", "/api/reviews",
        "/api/products", "/api/products/{id}", "/health",
    ]

    private var rng: SeededRandom
    private let serviceTable: [Service]
    private let userCount: Int
    private let ipCount: Int
    /// Incidents applied to records whose event time they cover.
    public var incidents: [Incident]

    /// A generator. `users` and `ips` size the populations behind the records; logs come
    /// from the first `services` of ``services`` (all of them by default).
    public init(seed: UInt64, users: Int = 10_000, ips: Int = 4_000, incidents: [Incident] = [],
                services: Int = RecordGenerator.services.count) {
        rng = SeededRandom(seed: seed)
        userCount = max(1, users)
        ipCount = max(1, ips)
        self.incidents = incidents
        var table: [Service] = []
        var setup = SeededRandom(seed: 0x5EED)
        for (i, name) in Self.services.enumerated() {
            let hostCount = 2 + setup.below(4)
            let hosts = (1...hostCount).map { Array("worker-\(((i * 3 + $0) % 8) + 1)".utf8) }
            let endpoints = (0..<(3 + setup.below(4))).map { _ in
                Array(Self.endpointStems[setup.below(Self.endpointStems.count)].utf8)
            }
            table.append(Service(name: Array(name.utf8), hosts: hosts, endpoints: endpoints,
                                 medianMillis: 15 + Double(setup.below(80))))
        }
        serviceTable = Array(table.prefix(max(1, min(services, table.count))))
    }

    // MARK: Logs

    /// Appends one log record (a JSON object, no newline) with event time `timestamp`.
    public mutating func appendLog(to out: inout [UInt8], timestamp: Double) {
        let service = serviceTable[skewed(serviceTable.count, 0.8)]
        var errorShare = 0.006
        var latencyFactor = 1.0
        var floodIP: String? = nil
        for incident in incidents where incident.isActive(at: timestamp) {
            switch incident.kind {
            case .errorBurst where incident.subject.utf8.elementsEqual(service.name): errorShare = 0.6
            case .latencySpike where incident.subject.utf8.elementsEqual(service.name): latencyFactor = 10
            case .ipFlood: floodIP = incident.subject
            default: break
            }
        }
        let method = pickMethod()
        let status = pickStatus(errorShare: errorShare, method: method)
        var latency = service.medianMillis * exp(0.55 * rng.normal()) * latencyFactor
        if rng.below(200) == 0 { latency *= 8 }  // the long tail: GC pauses, cold caches
        let millis = max(1, Int(latency.rounded()))
        let level: StaticString
        let message: StaticString
        if status >= 500 {
            level = "ERROR"; message = Self.serverErrors[rng.below(Self.serverErrors.count)]
        } else if status >= 400 {
            level = "WARN"; message = Self.clientErrors[rng.below(Self.clientErrors.count)]
        } else if millis > 1000 {
            level = "WARN"; message = "Slow request processed"
        } else if rng.below(20) == 0 {
            level = "DEBUG"; message = "Cache lookup completed"
        } else {
            level = "INFO"; message = "Request processed successfully"
        }
        let user = skewed(userCount, 0.5)
        // Most users come from one address of their own; a flood comes from one IP with few users.
        var ipIndex = user % ipCount
        let flooding = floodIP != nil && rng.below(2) == 0
        if !flooding, rng.below(10) == 0 { ipIndex = rng.below(ipCount) }

        out.append(contentsOf: #"{"timestamp":"#.utf8)
        appendTimestamp(timestamp, to: &out)
        out.append(contentsOf: #","level":""#.utf8)
        out.append(level)
        out.append(contentsOf: #"","service":""#.utf8)
        out.append(contentsOf: service.name)
        out.append(contentsOf: #"","host":""#.utf8)
        out.append(contentsOf: service.hosts[rng.below(service.hosts.count)])
        out.append(contentsOf: #"","message":""#.utf8)
        out.append(message)
        out.append(contentsOf: #"","metadata":{"request_id":""#.utf8)
        appendUUID(to: &out)
        out.append(contentsOf: #"","response_time_ms":"#.utf8)
        appendInt(millis, to: &out)
        out.append(contentsOf: #","status_code":"#.utf8)
        appendInt(status, to: &out)
        out.append(contentsOf: #","endpoint":""#.utf8)
        out.append(contentsOf: service.endpoints[rng.below(service.endpoints.count)])
        out.append(contentsOf: #"","method":""#.utf8)
        out.append(method)
        out.append(contentsOf: #"","client_ip":""#.utf8)
        if flooding, let floodIP {
            out.append(contentsOf: floodIP.utf8)
        } else {
            appendIP(ipIndex, to: &out)
        }
        out.append(contentsOf: #"","user_id":"user_"#.utf8)
        appendPadded(flooding ? rng.below(2) : user, width: 5, to: &out)
        out.append(contentsOf: #""}}"#.utf8)
    }

    /// `count` log records as NDJSON, event times from `start` spaced by `spacing` seconds.
    public mutating func logs(count: Int, start: Double, spacing: Double = 0.001) -> [UInt8] {
        body(count: count, start: start, spacing: spacing, asArray: false) { $0.appendLog(to: &$1, timestamp: $2) }
    }

    /// `count` log records as one JSON array, the body the seed's generator posts.
    public mutating func logArray(count: Int, start: Double, spacing: Double = 0.001) -> [UInt8] {
        body(count: count, start: start, spacing: spacing, asArray: true) { $0.appendLog(to: &$1, timestamp: $2) }
    }

    /// `count` records as NDJSON or one JSON array, event times from `start` spaced by `spacing`.
    private mutating func body(
        count: Int, start: Double, spacing: Double, asArray: Bool,
        _ appendOne: (inout RecordGenerator, inout [UInt8], Double) -> Void
    ) -> [UInt8] {
        var out: [UInt8] = asArray ? [UInt8(ascii: "[")] : []
        out.reserveCapacity(count * 360)
        for i in 0..<count {
            if asArray && i > 0 { out.append(UInt8(ascii: ",")) }
            appendOne(&self, &out, start + Double(i) * spacing)
            if !asArray { out.append(UInt8(ascii: "\n")) }
        }
        if asArray { out.append(UInt8(ascii: "]")) }
        return out
    }

    private static let serverErrors: [StaticString] = [
        "Internal server error: database timeout", "Upstream service unavailable",
        "Internal server error: null reference", "Connection pool exhausted",
    ]
    private static let clientErrors: [StaticString] = [
        "Client error: Not Found", "Client error: Unauthorized", "Client error: Bad Request",
        "Client error: Too Many Requests",
    ]

    private mutating func pickMethod() -> StaticString {
        switch rng.below(100) {
        case 0..<65: "GET"
        case 65..<85: "POST"
        case 85..<93: "PUT"
        case 93..<97: "PATCH"
        default: "DELETE"
        }
    }

    private mutating func pickStatus(errorShare: Double, method: StaticString) -> Int {
        let u = rng.unit()
        if u < errorShare { return [500, 502, 503, 504][rng.below(4)] }
        if u < errorShare + 0.025 { return [400, 401, 403, 404, 404, 404, 409, 429][rng.below(8)] }
        if u < errorShare + 0.035 { return [301, 302, 304][rng.below(3)] }
        switch method.utf8Start.pointee {
        case UInt8(ascii: "P") where method.utf8CodeUnitCount == 4: return 201  // POST
        case UInt8(ascii: "D"): return 204
        default: return 200
        }
    }

    // MARK: Activity events

    private static let eventTypes: [(StaticString, Int)] = [
        ("PAGE_VIEW", 40), ("CLICK", 25), ("SEARCH", 12), ("ADD_TO_CART", 10),
        ("PURCHASE", 4), ("LOGIN", 5), ("LOGOUT", 4),
    ]
    private static let pages: [StaticString] = [
        "/", "/products", "/products/123", "/products/456", "/products/789", "/cart", "/checkout",
        "/search", "/account", "/orders", "/deals",
    ]
    private static let elements: [StaticString] = [
        "add_to_cart_button", "buy_now_button", "product_image", "nav_menu", "search_box",
        "checkout_button", "banner", "review_tab",
    ]
    private static let queries: [StaticString] = [
        "running shoes", "laptop", "coffee", "headphones", "desk lamp", "backpack", "phone case",
    ]
    private static let devices: [(StaticString, StaticString, StaticString)] = [
        ("mobile", "iOS", "Safari"), ("mobile", "Android", "Chrome"), ("mobile", "Android", "Samsung Internet"),
        ("desktop", "Windows", "Chrome"), ("desktop", "Windows", "Edge"), ("desktop", "macOS", "Safari"),
        ("desktop", "macOS", "Chrome"), ("desktop", "Linux", "Firefox"), ("tablet", "iOS", "Safari"),
    ]

    /// Appends one activity event (a JSON object, no newline) with event time `timestamp`.
    public mutating func appendEvent(to out: inout [UInt8], timestamp: Double) {
        let user = skewed(userCount, 0.5)
        var pick = rng.below(100)
        var typeIndex = 0
        while pick >= Self.eventTypes[typeIndex].1 {
            pick -= Self.eventTypes[typeIndex].1
            typeIndex += 1
        }
        let type = Self.eventTypes[typeIndex].0
        out.append(contentsOf: #"{"event_id":"evt-"#.utf8)
        appendUUID(to: &out)
        out.append(contentsOf: #"","timestamp":"#.utf8)
        appendTimestamp(timestamp, to: &out)
        out.append(contentsOf: #","user_id":"user_"#.utf8)
        appendPadded(user, width: 5, to: &out)
        // A user's session changes every few hours of event time, so sessions hold many events.
        out.append(contentsOf: #"","session_id":"sess_"#.utf8)
        appendPadded((user &* 7919 &+ Int(timestamp / 10_800)) % 10_000_000, width: 7, to: &out)
        out.append(contentsOf: #"","event_type":""#.utf8)
        out.append(type)
        out.append(contentsOf: #"","event_data":{"page":""#.utf8)
        out.append(Self.pages[rng.below(Self.pages.count)])
        out.append(UInt8(ascii: "\""))
        switch typeIndex {
        case 1, 3:  // CLICK, ADD_TO_CART
            out.append(contentsOf: #","element":""#.utf8)
            out.append(Self.elements[rng.below(Self.elements.count)])
            out.append(contentsOf: #"","product_id":"prod_"#.utf8)
            appendPadded(skewed(5000, 1.0), width: 4, to: &out)
            out.append(UInt8(ascii: "\""))
        case 2:  // SEARCH
            out.append(contentsOf: #","query":""#.utf8)
            out.append(Self.queries[rng.below(Self.queries.count)])
            out.append(UInt8(ascii: "\""))
        case 4:  // PURCHASE
            out.append(contentsOf: #","product_id":"prod_"#.utf8)
            appendPadded(skewed(5000, 1.0), width: 4, to: &out)
            out.append(contentsOf: #"","amount":"#.utf8)
            let cents = 500 + Int(exp(3.5 + 1.1 * rng.normal()) * 100)
            appendInt(cents / 100, to: &out)
            out.append(UInt8(ascii: "."))
            appendPadded(cents % 100, width: 2, to: &out)
        default:
            break
        }
        let device = Self.devices[(user &* 31) % Self.devices.count]
        out.append(contentsOf: #"},"device":{"type":""#.utf8)
        out.append(device.0)
        out.append(contentsOf: #"","os":""#.utf8)
        out.append(device.1)
        out.append(contentsOf: #"","browser":""#.utf8)
        out.append(device.2)
        out.append(contentsOf: #""}}"#.utf8)
    }

    /// `count` events as NDJSON, event times from `start` spaced by `spacing` seconds.
    public mutating func events(count: Int, start: Double, spacing: Double = 0.001) -> [UInt8] {
        body(count: count, start: start, spacing: spacing, asArray: false) { $0.appendEvent(to: &$1, timestamp: $2) }
    }

    /// `count` events as one JSON array.
    public mutating func eventArray(count: Int, start: Double, spacing: Double = 0.001) -> [UInt8] {
        body(count: count, start: start, spacing: spacing, asArray: true) { $0.appendEvent(to: &$1, timestamp: $2) }
    }

    // MARK: Pieces

    /// An index in `0 ..< n` where low indexes are far more likely (a Zipf-like popularity).
    private mutating func skewed(_ n: Int, _ s: Double) -> Int {
        let u = rng.unit()
        return min(n - 1, Int(Double(n) * pow(u, 1 + s * 2)))
    }

    private mutating func appendUUID(to out: inout [UInt8]) {
        let hi = rng.next(), lo = rng.next()
        let hex: StaticString = "0123456789abcdef"
        let digits = hex.utf8Start
        var nibble = 0
        for i in 0..<32 {
            if i == 8 || i == 12 || i == 16 || i == 20 { out.append(UInt8(ascii: "-")) }
            let word = i < 16 ? hi : lo
            nibble = Int((word >> UInt64(60 - (i % 16) * 4)) & 0xF)
            if i == 12 { nibble = 4 }  // version 4
            if i == 16 { nibble = 8 | (nibble & 3) }  // RFC 4122 variant
            out.append(digits[nibble])
        }
    }

    private func appendIP(_ index: Int, to out: inout [UInt8]) {
        out.append(contentsOf: "10.".utf8)
        appendInt((index >> 16) & 0xFF, to: &out)
        out.append(UInt8(ascii: "."))
        appendInt((index >> 8) & 0xFF, to: &out)
        out.append(UInt8(ascii: "."))
        appendInt(index & 0xFF, to: &out)
    }

    private func appendTimestamp(_ t: Double, to out: inout [UInt8]) {
        let micros = Int((t * 1_000_000).rounded())
        appendInt(micros / 1_000_000, to: &out)
        out.append(UInt8(ascii: "."))
        appendPadded(micros % 1_000_000, width: 6, to: &out)
    }
}

/// Appends the decimal digits of a non-negative integer.
@inline(__always)
func appendInt(_ value: Int, to out: inout [UInt8]) {
    if value < 10 {
        out.append(UInt8(truncatingIfNeeded: value) &+ 48)
        return
    }
    withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 20) { buf in
        var v = value
        var i = 20
        while v > 0 {
            i -= 1
            buf[i] = UInt8(truncatingIfNeeded: v % 10) &+ 48
            v /= 10
        }
        out.append(contentsOf: UnsafeBufferPointer(rebasing: buf[i..<20]))
    }
}

/// Appends a non-negative integer left-padded with zeros to at least `width` digits.
@inline(__always)
func appendPadded(_ value: Int, width: Int, to out: inout [UInt8]) {
    var divisor = 1
    for _ in 1..<width { divisor *= 10 }
    if value >= divisor * 10 {
        appendInt(value, to: &out)
        return
    }
    var v = value
    while divisor > 0 {
        out.append(UInt8(truncatingIfNeeded: (v / divisor) % 10) &+ 48)
        v %= divisor
        divisor /= 10
    }
}

extension Array where Element == UInt8 {
    @inline(__always)
    mutating func append(_ s: StaticString) {
        append(contentsOf: UnsafeBufferPointer(start: s.utf8Start, count: s.utf8CodeUnitCount))
    }
}
