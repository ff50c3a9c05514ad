/// An event-time window specification: tumbling (`slide == size`) or sliding
/// (`slide < size`, `size` a multiple of `slide`). Windows are aligned to the Unix
/// epoch, as Spark's `window()` aligns them: window starts are multiples of `slide`.
public struct WindowSpec: Sendable, Hashable, Codable {
    /// The window length in microseconds.
    public let sizeMicros: Int64
    /// The distance between window starts in microseconds.
    public let slideMicros: Int64

    /// Tumbling windows of `seconds`.
    public static func tumbling(seconds: Int64) -> WindowSpec {
        WindowSpec(sizeMicros: seconds * 1_000_000, slideMicros: seconds * 1_000_000)
    }

    /// Sliding windows of `seconds` starting every `slideSeconds`.
    public static func sliding(seconds: Int64, every slideSeconds: Int64) -> WindowSpec {
        WindowSpec(sizeMicros: seconds * 1_000_000, slideMicros: slideSeconds * 1_000_000)
    }

    /// A window spec in microseconds; `size` must be a positive multiple of `slide`.
    public init(sizeMicros: Int64, slideMicros: Int64) {
        precondition(slideMicros > 0 && sizeMicros >= slideMicros && sizeMicros % slideMicros == 0,
                     "window size must be a positive multiple of the slide")
        self.sizeMicros = sizeMicros
        self.slideMicros = slideMicros
    }

    /// How many windows cover each instant.
    public var windowsPerRecord: Int { Int(sizeMicros / slideMicros) }

    /// The start of the latest window covering `t`.
    @inline(__always)
    func lastStart(_ t: Int64) -> Int64 {
        let q = t / slideMicros
        return (t % slideMicros < 0 ? q - 1 : q) * slideMicros
    }
}

/// A half-open event-time interval `[start, end)` in microseconds since the epoch.
public struct TimeWindow: Sendable, Hashable, Codable, Comparable {
    /// Start, inclusive.
    public var startMicros: Int64
    /// End, exclusive.
    public var endMicros: Int64

    /// A window.
    public init(startMicros: Int64, endMicros: Int64) {
        self.startMicros = startMicros
        self.endMicros = endMicros
    }

    /// snake_case in every file, topic, response and webhook body.
    enum CodingKeys: String, CodingKey {
        case startMicros = "start_micros"
        case endMicros = "end_micros"
    }

    /// Orders by start, then end.
    public static func < (a: TimeWindow, b: TimeWindow) -> Bool {
        (a.startMicros, a.endMicros) < (b.startMicros, b.endMicros)
    }
}

/// When windowed results are emitted (Spark's output modes).
public enum OutputMode: String, Sendable, Codable, CaseIterable {
    /// Once per window, when the watermark passes its end: final values.
    case append
    /// In every batch that changed the window: current values, possibly again later.
    case update
}

/// What the analytics compute and how long they wait for late data.
public struct AnalyticsConfiguration: Sendable, Equatable {
    /// How far behind the largest event time seen a record may be and still count
    /// (the seed's `withWatermark(..., "5 minutes")`).
    public var allowedLatenessMicros: Int64 = 300_000_000
    /// Append or update.
    public var outputMode: OutputMode = .append
    /// Per-service metrics windows (1 minute in the seed).
    public var serviceWindow: WindowSpec = .tumbling(seconds: 60)
    /// Per-client-IP metrics windows (5 minutes in the seed).
    public var clientWindow: WindowSpec = .tumbling(seconds: 300)
    /// Per-client-IP windows of the DDoS detector (1 minute in the seed).
    public var floodWindow: WindowSpec = .tumbling(seconds: 60)
    /// System-wide windows (1 minute in the seed).
    public var systemWindow: WindowSpec = .tumbling(seconds: 60)
    /// Activity-event windows.
    public var activityWindow: WindowSpec = .tumbling(seconds: 60)
    /// How far ahead of the clock an event time may be and still count: a row stamped
    /// later than its arrival (the bus append time, or now when earlier) plus this is
    /// *future*. It moves no watermark, joins no window, and is counted and kept like a
    /// late row, so one client with a wrong clock cannot make every other row late.
    public var maxFutureSkewMicros: Int64 = 300_000_000
    /// A partition with no new records for this long (wall time) stops holding its
    /// windows open: its event time moves to the clock, as if a record stamped now had
    /// arrived, so the last windows of a quiet period close `allowedLateness` after their
    /// end instead of waiting for the next record. 0 turns it off.
    public var idleTimeoutMicros: Int64 = 30_000_000
    /// A request is fast (SLA performance) when its response time is below this.
    public var fastThresholdMillis: Double = 1000
    /// The quantile sketch's relative accuracy.
    public var quantileAccuracy: Double = 0.01
    /// HyperLogLog precision of system-wide and activity distinct counts (0.81% at 14).
    public var distinctPrecision: Int = 14
    /// HyperLogLog precision of per-IP distinct users (1.63% at 12; there are many IPs).
    public var clientDistinctPrecision: Int = 12
    /// At most this many distinct services, event types and device values are named;
    /// more share the name `(other)`.
    public var maxNames: Int = 10_000
    /// The detectors' thresholds.
    public var detectors = DetectorConfiguration()

    /// The defaults: the seed's windows, lateness and thresholds.
    public init() {}

    /// The parts a snapshot's state depends on; a snapshot restores only into a
    /// configuration with the same shape.
    var stateShape: [Int64] {
        [allowedLatenessMicros, serviceWindow.sizeMicros, serviceWindow.slideMicros,
         clientWindow.sizeMicros, clientWindow.slideMicros, floodWindow.sizeMicros, floodWindow.slideMicros,
         systemWindow.sizeMicros, systemWindow.slideMicros, activityWindow.sizeMicros, activityWindow.slideMicros,
         Int64(quantileAccuracy.bitPattern &>> 1), Int64(distinctPrecision), Int64(clientDistinctPrecision),
         Int64(maxNames), Int64(detectors.responseTimeBaselineWindows)]
    }
}

/// The watermark of one stream: the largest event time seen minus the allowed lateness.
/// It only moves forward, row by row, so whether a row is late does not depend on how
/// the rows were cut into batches.
struct Watermark: Sendable, Equatable {
    /// The largest event time seen; `Int64.min` before the first row.
    var maxEventMicros: Int64 = .min
    let latenessMicros: Int64

    /// The watermark, or `Int64.min` before the first row.
    var micros: Int64 { maxEventMicros == .min ? .min : maxEventMicros - latenessMicros }

    /// Whether a row at `t` is behind the watermark (late), and advances it otherwise.
    @inline(__always)
    mutating func admit(_ t: Int64) -> Bool {
        if maxEventMicros != .min, t < maxEventMicros - latenessMicros { return false }
        if t > maxEventMicros { maxEventMicros = t }
        return true
    }

    /// Classifies a row at `t` whose event time may not exceed `limit` (its arrival
    /// plus the allowed skew): future rows leave the watermark where it is.
    @inline(__always)
    mutating func admit(_ t: Int64, limit: Int64) -> Admission {
        if t > limit { return .future }
        return admit(t) ? .onTime : .late
    }
}

/// How a row relates to its stream's watermark.
enum Admission: Sendable, Equatable {
    /// In its windows.
    case onTime
    /// Behind the watermark: in no window, counted late.
    case late
    /// Ahead of the clock by more than the allowed skew: in no window, counted future.
    case future
}

/// The latest event time each row of a batch may carry: its arrival (the bus append
/// time, capped at the wall clock so a producer's clock cannot lift it) plus the allowed
/// skew. Taken from the bus time, so a replay after a restart classifies rows as the
/// first run did.
struct FutureLimits {
    let arrivalMillis: [Int64]?
    let nowMicros: Int64
    let skewMicros: Int64

    @inline(__always)
    func limit(_ row: Int) -> Int64 {
        guard let a = arrivalMillis, row < a.count else { return nowMicros &+ skewMicros }
        return min(a[row] &* 1000, nowMicros) &+ skewMicros
    }
}
