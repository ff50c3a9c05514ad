// The byte-level JSON scanner under the reader: whitespace, strings (decoded into
// UTF-8 with validation), number lexemes and their exact conversions. It works on
// raw pointers with positions checked against `end` by the code's own logic, so the
// hot loops carry no per-byte bounds checks.

/// A string's first problem while decoding; 0 when none.
enum StringProblem {
    static let none: UInt8 = 0
    static let invalidUTF8: UInt8 = 1
    static let controlCharacter: UInt8 = 2
    static let badEscape: UInt8 = 3
    static let loneSurrogate: UInt8 = 4

    static func message(_ code: UInt8) -> String {
        switch code {
        case invalidUTF8: "invalid UTF-8 in string"
        case controlCharacter: "unescaped control character in string"
        case badEscape: "invalid escape in string"
        default: "lone surrogate in \\u escape"
        }
    }
}

/// The parts of a JSON number, as positions in the scanned buffer.
struct NumberLexeme {
    /// The whole number's text.
    var start: Int, end: Int
    var negative: Bool
    /// Integer digits (at least one).
    var intStart: Int, intEnd: Int
    /// Fraction digits (empty when there is no fraction).
    var fracStart: Int, fracEnd: Int
    /// The exponent, clamped to ±10 000 000 (far beyond any representable value).
    var exponent: Int

    var intCount: Int { intEnd - intStart }
    var fracCount: Int { fracEnd - fracStart }
}

/// The outcome of an exact decimal-to-integer conversion.
enum IntegerConversion: Equatable {
    case value(Int64)
    case notIntegral
    case outOfRange
}

@usableFromInline let swarOnes: UInt64 = 0x0101_0101_0101_0101
@usableFromInline let swarHighs: UInt64 = 0x8080_8080_8080_8080

/// Nonzero when one of the eight bytes of `x` needs attention inside a string:
/// `"`, `\`, a control character (< 0x20) or a non-ASCII byte.
@inline(__always)
func swarStringSpecial(_ x: UInt64) -> UInt64 {
    let q = x ^ (swarOnes &* 0x22)
    let s = x ^ (swarOnes &* 0x5C)
    let quote = (q &- swarOnes) & ~q
    let slash = (s &- swarOnes) & ~s
    let control = x &- (swarOnes &* 0x20)
    return (quote | slash | control | x) & swarHighs
}

/// A cursor over JSON text in `base[pos..<end]`.
struct JSONCursor {
    let base: UnsafePointer<UInt8>
    var pos: Int
    var end: Int

    init(base: UnsafePointer<UInt8>, pos: Int, end: Int) {
        self.base = base
        self.pos = pos
        self.end = end
    }

    /// The byte at `pos`, or 0 at the end (0 never starts a JSON token).
    @inline(__always)
    func peek() -> UInt8 { pos < end ? base[pos] : 0 }

    @inline(__always)
    mutating func skipWhitespace() {
        while pos < end {
            let b = base[pos]
            if b > 0x20 || (b != 0x20 && b != 0x0A && b != 0x0D && b != 0x09) { return }
            pos &+= 1
        }
    }

    /// Consumes `byte` after optional whitespace; false when something else is there.
    @inline(__always)
    mutating func consume(_ byte: UInt8) -> Bool {
        skipWhitespace()
        if pos < end && base[pos] == byte {
            pos &+= 1
            return true
        }
        return false
    }

    /// A message for a syntax error at `pos`.
    func syntaxMessage(expected: String) -> String {
        if pos >= end { return "unexpected end of input, expected \(expected)" }
        let b = base[pos]
        let shown = b >= 0x21 && b < 0x7F ? "'\(Character(Unicode.Scalar(b)))'" : "byte 0x\(String(b, radix: 16))"
        return "unexpected \(shown), expected \(expected)"
    }

    // MARK: Strings

    /// Decodes the string whose opening quote is at `pos` and appends its UTF-8 to `out`,
    /// leaving `pos` after the closing quote. Problems inside the string (bad UTF-8,
    /// control characters, bad escapes) are noted in `problem` (first one wins) and
    /// scanning goes on to the closing quote. Returns false when the string is
    /// unterminated (a syntax error; `pos` is then `end`).
    @inline(__always)
    mutating func readString(into out: inout [UInt8], problem: inout UInt8) -> Bool {
        var p = pos &+ 1
        var run = p
        while true {
            p = plainRunEnd(from: p)
            if p >= end {
                pos = end
                return false
            }
            let b = base[p]
            if b == 0x22 {
                if p > run { out.append(contentsOf: UnsafeBufferPointer(start: base + run, count: p &- run)) }
                pos = p &+ 1
                return true
            }
            if b >= 0x80 {
                let n = utf8SequenceLength(at: p)
                if n == 0 {
                    if problem == 0 { problem = StringProblem.invalidUTF8 }
                    p &+= 1
                } else {
                    p &+= n
                }
                continue
            }
            if b < 0x20 {
                if problem == 0 { problem = StringProblem.controlCharacter }
                p &+= 1
                continue
            }
            // A backslash: flush the plain run, then decode the escape.
            if p > run { out.append(contentsOf: UnsafeBufferPointer(start: base + run, count: p &- run)) }
            p &+= 1
            if p >= end {
                pos = end
                return false
            }
            let e = base[p]
            p &+= 1
            switch e {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): out.append(e)
            case UInt8(ascii: "n"): out.append(0x0A)
            case UInt8(ascii: "t"): out.append(0x09)
            case UInt8(ascii: "r"): out.append(0x0D)
            case UInt8(ascii: "b"): out.append(0x08)
            case UInt8(ascii: "f"): out.append(0x0C)
            case UInt8(ascii: "u"):
                guard let unit = hex4(at: p) else {
                    if problem == 0 { problem = StringProblem.badEscape }
                    break
                }
                p &+= 4
                var scalar = UInt32(unit)
                if unit >= 0xD800 && unit <= 0xDBFF {
                    if p &+ 6 <= end, base[p] == 0x5C, base[p &+ 1] == UInt8(ascii: "u"),
                       let low = hex4(at: p &+ 2), low >= 0xDC00 && low <= 0xDFFF {
                        scalar = 0x10000 + ((UInt32(unit) - 0xD800) << 10) + (UInt32(low) - 0xDC00)
                        p &+= 6
                    } else {
                        if problem == 0 { problem = StringProblem.loneSurrogate }
                        break
                    }
                } else if unit >= 0xDC00 && unit <= 0xDFFF {
                    if problem == 0 { problem = StringProblem.loneSurrogate }
                    break
                }
                appendUTF8(scalar, to: &out)
            default:
                if problem == 0 { problem = StringProblem.badEscape }
            }
            run = p
        }
    }

    /// The position of the first byte at or after `start` that is `"`, `\`, a control
    /// character or non-ASCII, or `end`. Eight bytes at a time while it can.
    @inline(__always)
    func plainRunEnd(from start: Int) -> Int {
        var p = start
        while p &+ 8 <= end {
            let x = UInt64(littleEndian: UnsafeRawPointer(base + p).loadUnaligned(as: UInt64.self))
            let special = swarStringSpecial(x)
            // The lowest flagged byte is always a true hit (borrows only run upwards).
            if special != 0 { return p &+ (special.trailingZeroBitCount >> 3) }
            p &+= 8
        }
        while p < end {
            let b = base[p]
            if b == 0x22 || b == 0x5C || (b &- 0x20) >= 0x60 { return p }
            p &+= 1
        }
        return end
    }

    /// Moves past the string whose opening quote is at `pos` without decoding or
    /// validating it. Returns false when it is unterminated.
    mutating func skipString() -> Bool {
        var p = pos &+ 1
        while true {
            while p &+ 8 <= end {
                let x = UnsafeRawPointer(base + p).loadUnaligned(as: UInt64.self)
                let q = x ^ (swarOnes &* 0x22)
                let s = x ^ (swarOnes &* 0x5C)
                if ((q &- swarOnes) & ~q | (s &- swarOnes) & ~s) & swarHighs != 0 { break }
                p &+= 8
            }
            while p < end && base[p] != 0x22 && base[p] != 0x5C { p &+= 1 }
            if p >= end {
                pos = end
                return false
            }
            if base[p] == 0x22 {
                pos = p &+ 1
                return true
            }
            p &+= 2
        }
    }

    /// The length of the valid UTF-8 sequence starting at `p` (a byte ≥ 0x80), or 0.
    @inline(__always)
    func utf8SequenceLength(at p: Int) -> Int {
        let b0 = base[p]
        @inline(__always) func cont(_ i: Int, _ lo: UInt8 = 0x80, _ hi: UInt8 = 0xBF) -> Bool {
            p &+ i < end && base[p &+ i] >= lo && base[p &+ i] <= hi
        }
        if b0 < 0xC2 { return 0 }
        if b0 < 0xE0 { return cont(1) ? 2 : 0 }
        if b0 < 0xF0 {
            let ok1 = b0 == 0xE0 ? cont(1, 0xA0) : b0 == 0xED ? cont(1, 0x80, 0x9F) : cont(1)
            return ok1 && cont(2) ? 3 : 0
        }
        if b0 < 0xF5 {
            let ok1 = b0 == 0xF0 ? cont(1, 0x90) : b0 == 0xF4 ? cont(1, 0x80, 0x8F) : cont(1)
            return ok1 && cont(2) && cont(3) ? 4 : 0
        }
        return 0
    }

    @inline(__always)
    func hex4(at p: Int) -> UInt16? {
        guard p &+ 4 <= end else { return nil }
        var v: UInt16 = 0
        for i in 0..<4 {
            let c = base[p &+ i]
            let d: UInt8
            switch c {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): d = c &- UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): d = c &- UInt8(ascii: "a") &+ 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): d = c &- UInt8(ascii: "A") &+ 10
            default: return nil
            }
            v = v << 4 | UInt16(d)
        }
        return v
    }

    // MARK: Numbers

    /// Scans a number at `pos` per the JSON grammar. On a malformed number returns nil
    /// with `pos` at the offending byte.
    @inline(__always)
    mutating func readNumber() -> NumberLexeme? {
        let start = pos
        var p = pos
        let negative = base[p] == UInt8(ascii: "-")
        if negative { p &+= 1 }
        @inline(__always) func isDigit(_ p: Int) -> Bool { p < end && base[p] &- UInt8(ascii: "0") < 10 }
        guard isDigit(p) else {
            pos = p
            return nil
        }
        let intStart = p
        if base[p] == UInt8(ascii: "0") {
            p &+= 1
        } else {
            while isDigit(p) { p &+= 1 }
        }
        let intEnd = p
        var fracStart = p, fracEnd = p
        if p < end && base[p] == UInt8(ascii: ".") {
            p &+= 1
            guard isDigit(p) else {
                pos = p
                return nil
            }
            fracStart = p
            while isDigit(p) { p &+= 1 }
            fracEnd = p
        }
        var exponent = 0
        if p < end && base[p] | 0x20 == UInt8(ascii: "e") {
            p &+= 1
            var expNegative = false
            if p < end && (base[p] == UInt8(ascii: "+") || base[p] == UInt8(ascii: "-")) {
                expNegative = base[p] == UInt8(ascii: "-")
                p &+= 1
            }
            guard isDigit(p) else {
                pos = p
                return nil
            }
            while isDigit(p) {
                exponent = min(exponent &* 10 &+ Int(base[p] &- UInt8(ascii: "0")), 10_000_000)
                p &+= 1
            }
            if expNegative { exponent = -exponent }
        }
        pos = p
        return NumberLexeme(start: start, end: p, negative: negative, intStart: intStart, intEnd: intEnd,
                            fracStart: fracStart, fracEnd: fracEnd, exponent: exponent)
    }

    @inline(__always)
    func digit(_ lx: NumberLexeme, _ k: Int) -> Int64 {
        let p = k < lx.intCount ? lx.intStart &+ k : lx.fracStart &+ (k &- lx.intCount)
        return Int64(base[p] &- UInt8(ascii: "0"))
    }

    /// The number times 10^`scale` as an integer of magnitude at most `limit`, computed
    /// exactly from the decimal digits. Digits below the scale are truncated when
    /// `truncate`, otherwise they must be zero (`.notIntegral`).
    func scaledInteger(_ lx: NumberLexeme, scale: Int, limit: Int64, truncate: Bool) -> IntegerConversion {
        let n = lx.intCount &+ lx.fracCount
        let shift = lx.exponent &- lx.fracCount &+ scale
        let keep = shift >= 0 ? n : max(0, n &+ shift)
        if !truncate {
            for k in keep..<n where digit(lx, k) != 0 { return .notIntegral }
        }
        var acc: Int64 = 0
        // Kept digits: integer digits first, then fraction digits.
        let keepInt = min(keep, lx.intCount)
        var p = lx.intStart
        while p < lx.intStart &+ keepInt {
            acc = acc &* 10 &+ Int64(base[p] &- UInt8(ascii: "0"))
            if acc > limit { return .outOfRange }
            p &+= 1
        }
        p = lx.fracStart
        while p < lx.fracStart &+ (keep &- keepInt) {
            acc = acc &* 10 &+ Int64(base[p] &- UInt8(ascii: "0"))
            if acc > limit { return .outOfRange }
            p &+= 1
        }
        if shift > 0 && acc != 0 {
            for _ in 0..<shift {
                acc = acc &* 10
                if acc > limit { return .outOfRange }
            }
        }
        return .value(lx.negative ? -acc : acc)
    }

    /// The number as the nearest `Double` (infinite when beyond range). Exact fast path
    /// for up to 15 significant digits and small exponents; otherwise the standard
    /// library's correctly rounded parser.
    func doubleValue(_ lx: NumberLexeme) -> Double {
        let n = lx.intCount &+ lx.fracCount
        let e10 = lx.exponent &- lx.fracCount
        if n <= 15 && e10 >= -22 && e10 <= 22 {
            var acc: Int64 = 0
            for k in 0..<n { acc = acc &* 10 &+ digit(lx, k) }
            var v = Double(acc)
            if e10 < 0 { v /= exactPowerOfTen(-e10) } else if e10 > 0 { v *= exactPowerOfTen(e10) }
            return lx.negative ? -v : v
        }
        let text = String(decoding: UnsafeBufferPointer(start: base + lx.start, count: lx.end &- lx.start),
                          as: UTF8.self)
        return Double(text) ?? .nan
    }
}

/// 10^e for 0 ≤ e ≤ 22, all exactly representable as `Double`.
@inline(__always)
func exactPowerOfTen(_ e: Int) -> Double {
    var v = 1.0
    var base = 10.0
    var k = e
    // Squaring stays exact: every intermediate is a power of ten ≤ 10^22.
    while k > 0 {
        if k & 1 == 1 { v *= base }
        k >>= 1
        if k > 0 { base *= base }
    }
    return v
}

/// Appends a string as a JSON string literal.
public func appendJSONString(_ string: String, to out: inout [UInt8]) {
    var string = string
    string.withUTF8 { appendJSONString(UnsafeRawBufferPointer($0), to: &out) }
}

/// Appends the UTF-8 encoding of a scalar value (not a surrogate).
@inline(__always)
func appendUTF8(_ s: UInt32, to out: inout [UInt8]) {
    if s < 0x80 {
        out.append(UInt8(s))
    } else if s < 0x800 {
        out.append(UInt8(0xC0 | (s >> 6)))
        out.append(UInt8(0x80 | (s & 0x3F)))
    } else if s < 0x10000 {
        out.append(UInt8(0xE0 | (s >> 12)))
        out.append(UInt8(0x80 | ((s >> 6) & 0x3F)))
        out.append(UInt8(0x80 | (s & 0x3F)))
    } else {
        out.append(UInt8(0xF0 | (s >> 18)))
        out.append(UInt8(0x80 | ((s >> 12) & 0x3F)))
        out.append(UInt8(0x80 | ((s >> 6) & 0x3F)))
        out.append(UInt8(0x80 | (s & 0x3F)))
    }
}

/// Appends `bytes` (valid UTF-8) as a JSON string: quotes, with `"`, `\` and control
/// characters escaped and everything else as it is.
public func appendJSONString(_ bytes: UnsafeRawBufferPointer, to out: inout [UInt8]) {
    out.append(0x22)
    var run = 0
    var i = 0
    let n = bytes.count
    while i < n {
        let b = bytes[i]
        if b >= 0x20 && b != 0x22 && b != 0x5C {
            i &+= 1
            continue
        }
        if i > run { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[run..<i])) }
        out.append(0x5C)
        switch b {
        case 0x22, 0x5C: out.append(b)
        case 0x0A: out.append(UInt8(ascii: "n"))
        case 0x0D: out.append(UInt8(ascii: "r"))
        case 0x09: out.append(UInt8(ascii: "t"))
        case 0x08: out.append(UInt8(ascii: "b"))
        case 0x0C: out.append(UInt8(ascii: "f"))
        default:
            let hex: StaticString = "0123456789abcdef"
            out.append(contentsOf: [UInt8(ascii: "u"), 0x30, 0x30,
                                    hex.utf8Start[Int(b >> 4)], hex.utf8Start[Int(b & 0xF)]])
        }
        i &+= 1
        run = i
    }
    if n > run { out.append(contentsOf: UnsafeRawBufferPointer(rebasing: bytes[run..<n])) }
    out.append(0x22)
}
