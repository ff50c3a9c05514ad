/// Event-time conversions between the contract's two timestamp forms (epoch seconds
/// as a JSON number, or an RFC 3339 string) and microseconds since the Unix epoch.
public enum EventTime {
    /// The first instant accepted: 1970-01-01T00:00:00Z.
    public static let minMicros: Int64 = 0
    /// The first instant no longer accepted: 2201-01-01T00:00:00Z (years 1970 to 2200 are valid).
    public static let endMicros: Int64 = 7_289_654_400_000_000

    /// Days from 1970-01-01 to a proleptic Gregorian date (H. Hinnant's algorithm).
    public static func daysFromCivil(year: Int64, month: Int64, day: Int64) -> Int64 {
        let y = month <= 2 ? year - 1 : year
        let era = (y >= 0 ? y : y - 399) / 400
        let yoe = y - era * 400
        let mp = (month + 9) % 12
        let doy = (153 * mp + 2) / 5 + day - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }

    /// Microseconds since the epoch for an RFC 3339 timestamp such as
    /// `2025-01-12T01:26:06.291045Z` or `2025-01-12T10:26:06+09:00`; `nil` when malformed.
    /// `T` may be `t` or a space, `Z` may be `z`; 1 to 9 fraction digits, truncated
    /// below the microsecond; a leap second (`:60`) counts as the next second.
    /// The result is not range checked.
    public static func parseRFC3339(_ text: UnsafeRawBufferPointer) -> Int64? {
        let n = text.count
        guard n >= 20 else { return nil }
        @inline(__always) func num(_ at: Int, _ count: Int) -> Int64? {
            var v: Int64 = 0
            for i in at..<(at + count) {
                let d = text[i] &- UInt8(ascii: "0")
                guard d < 10 else { return nil }
                v = v * 10 + Int64(d)
            }
            return v
        }
        guard let year = num(0, 4), text[4] == UInt8(ascii: "-"), let month = num(5, 2),
              text[7] == UInt8(ascii: "-"), let day = num(8, 2),
              text[10] == UInt8(ascii: "T") || text[10] == UInt8(ascii: "t") || text[10] == UInt8(ascii: " "),
              let hour = num(11, 2), text[13] == UInt8(ascii: ":"), let minute = num(14, 2),
              text[16] == UInt8(ascii: ":"), let second = num(17, 2)
        else { return nil }
        guard month >= 1 && month <= 12, day >= 1 && day <= daysInMonth(year: year, month: month),
              hour <= 23, minute <= 59, second <= 60
        else { return nil }
        var i = 19
        var fraction: Int64 = 0
        if text[i] == UInt8(ascii: ".") {
            i += 1
            var digits = 0
            while i < n, text[i] &- UInt8(ascii: "0") < 10 {
                if digits < 6 { fraction = fraction * 10 + Int64(text[i] &- UInt8(ascii: "0")) }
                digits += 1
                i += 1
            }
            guard digits >= 1 && digits <= 9 else { return nil }
            for _ in min(digits, 6)..<6 { fraction *= 10 }
        }
        guard i < n else { return nil }
        var offsetSeconds: Int64 = 0
        switch text[i] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            i += 1
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard i + 6 == n, let oh = num(i + 1, 2), text[i + 3] == UInt8(ascii: ":"), let om = num(i + 4, 2),
                  oh <= 23, om <= 59
            else { return nil }
            offsetSeconds = (oh * 3600 + om * 60) * (text[i] == UInt8(ascii: "-") ? -1 : 1)
            i += 6
        default:
            return nil
        }
        guard i == n else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = days * 86_400 + hour * 3600 + minute * 60 + second - offsetSeconds
        return seconds * 1_000_000 + fraction
    }

    static func daysInMonth(year: Int64, month: Int64) -> Int64 {
        switch month {
        case 2: (year % 4 == 0 && (year % 100 != 0 || year % 400 == 0)) ? 29 : 28
        case 4, 6, 9, 11: 30
        default: 31
        }
    }

    /// Appends `micros` as epoch seconds: the integer part, then up to six decimals with
    /// trailing zeros trimmed (`1736645166.291045`, `1736645166.5`, `1736645166`).
    public static func appendEpochSeconds(_ micros: Int64, to out: inout [UInt8]) {
        var m = micros
        if m < 0 {
            out.append(UInt8(ascii: "-"))
            m = -m
        }
        appendDecimal(UInt64(m / 1_000_000), to: &out)
        var fraction = m % 1_000_000
        if fraction == 0 { return }
        var width = 6
        while fraction % 10 == 0 {
            fraction /= 10
            width -= 1
        }
        out.append(UInt8(ascii: "."))
        var digits: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0)
        withUnsafeMutableBytes(of: &digits) { d in
            var f = fraction
            for k in stride(from: width - 1, through: 0, by: -1) {
                d[k] = UInt8(ascii: "0") + UInt8(f % 10)
                f /= 10
            }
            out.append(contentsOf: UnsafeRawBufferPointer(rebasing: d[0..<width]))
        }
    }
}

/// Appends the decimal digits of `value`.
func appendDecimal(_ value: UInt64, to out: inout [UInt8]) {
    if value < 10 {
        out.append(UInt8(ascii: "0") + UInt8(value))
        return
    }
    var buffer: (UInt64, UInt64, UInt64) = (0, 0, 0)  // 24 bytes ≥ 20 digits
    withUnsafeMutableBytes(of: &buffer) { b in
        var v = value
        var i = 24
        while v > 0 {
            i -= 1
            b[i] = UInt8(ascii: "0") + UInt8(v % 10)
            v /= 10
        }
        out.append(contentsOf: UnsafeRawBufferPointer(rebasing: b[i..<24]))
    }
}

/// Appends the decimal digits of a signed integer.
func appendDecimal(_ value: Int64, to out: inout [UInt8]) {
    if value < 0 {
        out.append(UInt8(ascii: "-"))
        appendDecimal(value.magnitude, to: &out)
    } else {
        appendDecimal(UInt64(value), to: &out)
    }
}
