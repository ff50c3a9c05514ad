/// A log record's level. The raw value is what `LogBatch.level` stores.
///
/// Names are matched case-sensitively in upper case. `WARN`/`WARNING` and
/// `CRITICAL`/`FATAL` stay distinct so a record is written back with the name it came with.
public enum LogLevel: UInt8, Sendable, CaseIterable, CustomStringConvertible {
    /// `TRACE`
    case trace = 0
    /// `DEBUG`
    case debug = 1
    /// `INFO`
    case info = 2
    /// `WARN`
    case warn = 3
    /// `WARNING`, kept apart from `WARN` for exact round trips.
    case warning = 4
    /// `ERROR`
    case error = 5
    /// `CRITICAL`
    case critical = 6
    /// `FATAL`
    case fatal = 7

    /// The level's name as it appears in JSON.
    public var name: StaticString {
        switch self {
        case .trace: "TRACE"
        case .debug: "DEBUG"
        case .info: "INFO"
        case .warn: "WARN"
        case .warning: "WARNING"
        case .error: "ERROR"
        case .critical: "CRITICAL"
        case .fatal: "FATAL"
        }
    }

    /// The level's name as bytes, ready for a writer.
    @inlinable
    public var nameBytes: UnsafeRawBufferPointer {
        let n = name
        return UnsafeRawBufferPointer(start: n.utf8Start, count: n.utf8CodeUnitCount)
    }

    /// The level's name.
    public var description: String { name.description }

    /// Whether the level counts as an error (ERROR, CRITICAL, FATAL).
    public var isError: Bool { rawValue >= LogLevel.error.rawValue }

    /// The level whose name is exactly `name`.
    public init?(name: String) {
        var s = name
        guard let level = s.withUTF8({ LogLevel(nameBytes: UnsafeRawBufferPointer($0)) }) else { return nil }
        self = level
    }

    /// The level whose name is these bytes in any case (`info`, `Warn`).
    @inlinable
    public init?(anyCaseNameBytes b: UnsafeRawBufferPointer) {
        guard b.count >= 4 && b.count <= 8 else { return nil }
        let level = withUnsafeTemporaryAllocation(of: UInt8.self, capacity: 8) { upper -> LogLevel? in
            for i in 0..<b.count { upper[i] = b[i] &- UInt8(ascii: "a") < 26 ? b[i] &- 0x20 : b[i] }
            return LogLevel(nameBytes: UnsafeRawBufferPointer(start: upper.baseAddress, count: b.count))
        }
        guard let level else { return nil }
        self = level
    }

    /// The level whose name is exactly these bytes.
    @inlinable
    public init?(nameBytes b: UnsafeRawBufferPointer) {
        @inline(__always) func eq(_ s: StaticString) -> Bool {
            b.count == s.utf8CodeUnitCount && memoryEqual(b.baseAddress!, UnsafeRawPointer(s.utf8Start), b.count)
        }
        guard b.count >= 4 else { return nil }
        switch b[0] {
        case UInt8(ascii: "I"): if eq("INFO") { self = .info; return }
        case UInt8(ascii: "D"): if eq("DEBUG") { self = .debug; return }
        case UInt8(ascii: "W"):
            if eq("WARN") { self = .warn; return }
            if eq("WARNING") { self = .warning; return }
        case UInt8(ascii: "E"): if eq("ERROR") { self = .error; return }
        case UInt8(ascii: "T"): if eq("TRACE") { self = .trace; return }
        case UInt8(ascii: "C"): if eq("CRITICAL") { self = .critical; return }
        case UInt8(ascii: "F"): if eq("FATAL") { self = .fatal; return }
        default: break
        }
        return nil
    }
}

/// Whether `count` bytes at `a` and `b` are equal (short keys and names; no libc call).
/// Compares in words, the last one overlapping, so a key costs a load or two.
@inlinable @inline(__always)
func memoryEqual(_ a: UnsafeRawPointer, _ b: UnsafeRawPointer, _ count: Int) -> Bool {
    if count >= 8 {
        var i = 0
        while i &+ 8 < count {
            if a.loadUnaligned(fromByteOffset: i, as: UInt64.self) != b.loadUnaligned(fromByteOffset: i, as: UInt64.self) {
                return false
            }
            i &+= 8
        }
        return a.loadUnaligned(fromByteOffset: count &- 8, as: UInt64.self)
            == b.loadUnaligned(fromByteOffset: count &- 8, as: UInt64.self)
    }
    if count >= 4 {
        return a.loadUnaligned(as: UInt32.self) == b.loadUnaligned(as: UInt32.self)
            && a.loadUnaligned(fromByteOffset: count &- 4, as: UInt32.self)
            == b.loadUnaligned(fromByteOffset: count &- 4, as: UInt32.self)
    }
    var i = 0
    while i < count {
        if a.load(fromByteOffset: i, as: UInt8.self) != b.load(fromByteOffset: i, as: UInt8.self) { return false }
        i &+= 1
    }
    return true
}
