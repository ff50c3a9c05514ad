// Value encoders: one per physical type, each turning the present values of a run of rows
// into a page's value section (dictionary indices or PLAIN) and keeping the column chunk's
// dictionary and min/max statistics.

/// What a leaf writer needs from its values, independent of the physical type.
protocol ValueEncoder: AnyObject {
    /// Points the encoder at the caller's buffer for the current `write` call.
    func setInput(_ values: ParquetValues) throws(ParquetError)
    /// Drops the reference to the caller's buffer.
    func clearInput()
    /// Encodes rows `start ..< start + count`; `present` (one flag per row of the range) is
    /// `nil` when all are present.
    func append(start: Int, count: Int, present: UnsafePointer<Bool>?)
    /// Roughly how many bytes the current page's values will take once encoded.
    var pageByteEstimate: Int { get }
    /// Whether the current page is being dictionary-encoded.
    var dictionaryMode: Bool { get }
    /// The dictionary's size as a PLAIN dictionary page.
    var dictionaryByteSize: Int { get }
    /// Whether any page of the current chunk used the dictionary.
    var dictionaryUsed: Bool { get }
    /// Switches the rest of the chunk to PLAIN (the current page must already be flushed).
    func fallBackToPlain()
    /// Appends the current page's values section to `body`, resets the page, and returns the encoding.
    func flushPage(into body: inout [UInt8]) -> Int32
    /// Appends the PLAIN dictionary page body to `body`; returns the number of entries.
    func writeDictionary(into body: inout [UInt8]) -> Int
    /// The chunk's statistics min/max as PLAIN-encoded bytes, or `nil` when no value is ordered.
    func chunkMinMax() -> (min: [UInt8], max: [UInt8])?
    /// Clears the dictionary, statistics and mode for the next column chunk.
    func resetChunk()
}

/// Fixed-width values the writer dictionary-encodes by bit pattern.
protocol ParquetFixedValue: BitwiseCopyable, Comparable, Sendable {
    associatedtype Bits: FixedWidthInteger & UnsignedInteger & BitwiseCopyable
    var parquetBits: Bits { get }
    init(parquetBits: Bits)
    /// `false` for NaN, which statistics skip.
    var isStatOrdered: Bool { get }
    /// Maps zeros to the sign the spec asks of statistics (-0.0 for min, +0.0 for max).
    func normalizedForMin() -> Self
    func normalizedForMax() -> Self
    static func typedArray(_ values: ParquetValues) -> [Self]?
    static func wrap(_ values: [Self]) -> ParquetValues
}

extension Int32: ParquetFixedValue {
    var parquetBits: UInt32 { UInt32(bitPattern: self) }
    init(parquetBits: UInt32) { self.init(bitPattern: parquetBits) }
    var isStatOrdered: Bool { true }
    func normalizedForMin() -> Int32 { self }
    func normalizedForMax() -> Int32 { self }
    static func typedArray(_ values: ParquetValues) -> [Int32]? {
        if case .int32(let a) = values { return a }
        return nil
    }
    static func wrap(_ values: [Int32]) -> ParquetValues { .int32(values) }
}

extension Int64: ParquetFixedValue {
    var parquetBits: UInt64 { UInt64(bitPattern: self) }
    init(parquetBits: UInt64) { self.init(bitPattern: parquetBits) }
    var isStatOrdered: Bool { true }
    func normalizedForMin() -> Int64 { self }
    func normalizedForMax() -> Int64 { self }
    static func typedArray(_ values: ParquetValues) -> [Int64]? {
        if case .int64(let a) = values { return a }
        return nil
    }
    static func wrap(_ values: [Int64]) -> ParquetValues { .int64(values) }
}

extension Double: ParquetFixedValue {
    var parquetBits: UInt64 { bitPattern }
    init(parquetBits: UInt64) { self.init(bitPattern: parquetBits) }
    var isStatOrdered: Bool { !isNaN }
    func normalizedForMin() -> Double { self == 0 ? -0.0 : self }
    func normalizedForMax() -> Double { self == 0 ? 0.0 : self }
    static func typedArray(_ values: ParquetValues) -> [Double]? {
        if case .double(let a) = values { return a }
        return nil
    }
    static func wrap(_ values: [Double]) -> ParquetValues { .double(values) }
}

extension Float: ParquetFixedValue {
    var parquetBits: UInt32 { bitPattern }
    init(parquetBits: UInt32) { self.init(bitPattern: parquetBits) }
    var isStatOrdered: Bool { !isNaN }
    func normalizedForMin() -> Float { self == 0 ? -0.0 : self }
    func normalizedForMax() -> Float { self == 0 ? 0.0 : self }
    static func typedArray(_ values: ParquetValues) -> [Float]? {
        if case .float(let a) = values { return a }
        return nil
    }
    static func wrap(_ values: [Float]) -> ParquetValues { .float(values) }
}

@inline(__always)
private func appendRaw<T: BitwiseCopyable>(_ value: T, to out: inout [UInt8]) {
    withUnsafeBytes(of: value) { out.append(contentsOf: $0) }
}

/// Appends the RLE_DICTIONARY values section: bit width byte, then the hybrid-encoded indices.
private func writeIndices(_ indices: UnsafeBufferPointer<UInt32>, dictionaryCount: Int, into body: inout [UInt8]) {
    let width = bitWidth(forMax: dictionaryCount - 1)
    body.append(UInt8(width))
    RLEEncoder.encode(indices, bitWidth: width, into: &body)
}

/// The writer's encoders by concrete type, so the per-slice call is statically dispatched
/// and the generic encoders are specialised.
enum AnyValueEncoder {
    case boolean(BooleanValueEncoder)
    case int32(FixedValueEncoder<Int32>)
    case int64(FixedValueEncoder<Int64>)
    case float(FixedValueEncoder<Float>)
    case double(FixedValueEncoder<Double>)
    case byteArray(ByteArrayValueEncoder)

    var encoder: any ValueEncoder {
        switch self {
        case .boolean(let e): e
        case .int32(let e): e
        case .int64(let e): e
        case .float(let e): e
        case .double(let e): e
        case .byteArray(let e): e
        }
    }

    @inline(__always)
    func append(start: Int, count: Int, present: UnsafePointer<Bool>?) {
        switch self {
        case .boolean(let e): e.append(start: start, count: count, present: present)
        case .int32(let e): e.append(start: start, count: count, present: present)
        case .int64(let e): e.append(start: start, count: count, present: present)
        case .float(let e): e.append(start: start, count: count, present: present)
        case .double(let e): e.append(start: start, count: count, present: present)
        case .byteArray(let e): e.append(start: start, count: count, present: present)
        }
    }
}

final class FixedValueEncoder<T: ParquetFixedValue>: ValueEncoder {
    private var input: [T] = []
    private let dictionary = FixedDictionary<T.Bits>()
    private let dictionaryEnabled: Bool
    private(set) var dictionaryMode: Bool
    private(set) var dictionaryUsed = false
    private var indices = RawBuffer<UInt32>(capacity: 4096)
    private var plain = RawBuffer<UInt8>(capacity: 4096)
    private var hasMinMax = false
    private var minValue: T
    private var maxValue: T

    init(dictionaryEnabled: Bool) {
        self.dictionaryEnabled = dictionaryEnabled
        dictionaryMode = dictionaryEnabled
        minValue = T(parquetBits: 0)
        maxValue = T(parquetBits: 0)
    }

    func setInput(_ values: ParquetValues) throws(ParquetError) {
        guard let a = T.typedArray(values) else { throw .invalidArgument("column values do not match the schema's physical type \(T.self)") }
        input = a
    }

    func clearInput() { input = [] }

    var pageByteEstimate: Int {
        dictionaryMode ? indices.count * max(bitWidth(forMax: dictionary.count - 1), 1) / 8 : plain.count
    }

    var dictionaryByteSize: Int { dictionary.count * MemoryLayout<T>.size }

    func append(start: Int, count: Int, present: UnsafePointer<Bool>?) {
        input.withUnsafeBufferPointer { src in
            let values = src.baseAddress! + start
            if dictionaryMode {
                dictionaryUsed = true
                dictionary.encode(values, count: count, present: present, into: &indices)
                return
            }
            let size = MemoryLayout<T>.size
            var has = hasMinMax, lo = minValue, hi = maxValue
            let out = UnsafeMutableRawPointer(plain.extend(by: count * size))
            var written = 0
            for i in 0..<count {
                if let present, !present[i] { continue }
                let v = values[i]
                out.storeBytes(of: v, toByteOffset: written * size, as: T.self)
                written += 1
                if v.isStatOrdered {
                    if !has {
                        lo = v
                        hi = v
                        has = true
                    } else {
                        if v < lo { lo = v }
                        if v > hi { hi = v }
                    }
                }
            }
            plain.removeLast((count - written) * size)
            hasMinMax = has
            minValue = lo
            maxValue = hi
        }
    }

    func fallBackToPlain() { dictionaryMode = false }

    func flushPage(into body: inout [UInt8]) -> Int32 {
        if dictionaryMode {
            writeIndices(indices.buffer, dictionaryCount: dictionary.count, into: &body)
            indices.removeAll()
            return EncodingID.rleDictionary
        }
        body.append(contentsOf: plain.buffer)
        plain.removeAll()
        return EncodingID.plain
    }

    func writeDictionary(into body: inout [UInt8]) -> Int {
        body.append(contentsOf: UnsafeRawBufferPointer(dictionary.keys.buffer))
        return dictionary.count
    }

    func chunkMinMax() -> (min: [UInt8], max: [UInt8])? {
        var has = hasMinMax, lo = minValue, hi = maxValue
        for k in dictionary.keys.buffer {
            let v = T(parquetBits: k)
            guard v.isStatOrdered else { continue }
            if !has {
                lo = v
                hi = v
                has = true
            } else {
                if v < lo { lo = v }
                if v > hi { hi = v }
            }
        }
        guard has else { return nil }
        var a: [UInt8] = [], b: [UInt8] = []
        appendRaw(lo.normalizedForMin(), to: &a)
        appendRaw(hi.normalizedForMax(), to: &b)
        return (a, b)
    }

    func resetChunk() {
        dictionary.removeAll()
        dictionaryMode = dictionaryEnabled
        dictionaryUsed = false
        indices.removeAll()
        plain.removeAll()
        hasMinMax = false
    }
}

final class ByteArrayValueEncoder: ValueEncoder {
    private var inputBytes: [UInt8] = []
    private var inputOffsets: [Int32] = []
    private let dictionary = ByteArrayDictionary()
    private let dictionaryEnabled: Bool
    private(set) var dictionaryMode: Bool
    private(set) var dictionaryUsed = false
    private var indices = RawBuffer<UInt32>(capacity: 4096)
    private var plain = RawBuffer<UInt8>(capacity: 1 << 16)
    private var minValue: [UInt8]?
    private var maxValue: [UInt8]?

    init(dictionaryEnabled: Bool) {
        self.dictionaryEnabled = dictionaryEnabled
        dictionaryMode = dictionaryEnabled
    }

    func setInput(_ values: ParquetValues) throws(ParquetError) {
        guard case .byteArray(let bytes, let offsets) = values else {
            throw .invalidArgument("column values do not match the schema's physical type BYTE_ARRAY")
        }
        inputBytes = bytes
        inputOffsets = offsets
    }

    func clearInput() {
        inputBytes = []
        inputOffsets = []
    }

    var pageByteEstimate: Int {
        dictionaryMode ? indices.count * max(bitWidth(forMax: dictionary.count - 1), 1) / 8 : plain.count
    }

    var dictionaryByteSize: Int { dictionary.plainSize }

    func append(start: Int, count: Int, present: UnsafePointer<Bool>?) {
        inputOffsets.withUnsafeBufferPointer { offs in
            inputBytes.withUnsafeBufferPointer { bytesBuf in
                // An empty array may have no base address; any pointer serves for zero-length values.
                let bytes = bytesBuf.baseAddress ?? UnsafePointer(bitPattern: 1)!
                let o = offs.baseAddress! + start
                if dictionaryMode {
                    dictionaryUsed = true
                    dictionary.encode(data: bytes, offsets: o, count: count, present: present, into: &indices)
                } else {
                    appendPlain(bytes, o, count, present)
                }
            }
        }
    }

    /// PLAIN: a 4-byte length and the bytes per value; tracks the slice's min/max by pointer
    /// and folds them into the chunk's once per slice.
    private func appendPlain(_ bytes: UnsafePointer<UInt8>, _ o: UnsafePointer<Int32>, _ count: Int, _ present: UnsafePointer<Bool>?) {
        let total = Int(o[count]) - Int(o[0]) + 4 * count
        let out = plain.extend(by: total)
        var w = 0
        var loP: UnsafePointer<UInt8>?, loN = 0, hiP: UnsafePointer<UInt8>?, hiN = 0
        for i in 0..<count {
            if let present, !present[i] { continue }
            let s = Int(o[i])
            let n = Int(o[i + 1]) - s
            let p = bytes + s
            UnsafeMutableRawPointer(out + w).storeBytes(of: UInt32(truncatingIfNeeded: n).littleEndian, as: UInt32.self)
            (out + w + 4).update(from: p, count: n)
            w += 4 + n
            if let l = loP {
                if lexicographicallyLess(p, n, l, loN) {
                    loP = p
                    loN = n
                } else if lexicographicallyLess(hiP!, hiN, p, n) {
                    hiP = p
                    hiN = n
                }
            } else {
                loP = p
                loN = n
                hiP = p
                hiN = n
            }
        }
        plain.removeLast(total - w)
        if let loP, let hiP {
            updateMinMax(loP, loN)
            updateMinMax(hiP, hiN)
        }
    }

    private func updateMinMax(_ p: UnsafePointer<UInt8>, _ n: Int) {
        if let lo = minValue {
            let less = lo.withUnsafeBufferPointer { lexicographicallyLess(p, n, $0.baseAddress ?? p, lo.count) }
            if less { minValue = Array(UnsafeBufferPointer(start: p, count: n)) }
        } else {
            minValue = Array(UnsafeBufferPointer(start: p, count: n))
        }
        if let hi = maxValue {
            let greater = hi.withUnsafeBufferPointer { lexicographicallyLess($0.baseAddress ?? p, hi.count, p, n) }
            if greater { maxValue = Array(UnsafeBufferPointer(start: p, count: n)) }
        } else {
            maxValue = Array(UnsafeBufferPointer(start: p, count: n))
        }
    }

    func fallBackToPlain() { dictionaryMode = false }

    func flushPage(into body: inout [UInt8]) -> Int32 {
        if dictionaryMode {
            writeIndices(indices.buffer, dictionaryCount: dictionary.count, into: &body)
            indices.removeAll()
            return EncodingID.rleDictionary
        }
        body.append(contentsOf: plain.buffer)
        plain.removeAll()
        return EncodingID.plain
    }

    func writeDictionary(into body: inout [UInt8]) -> Int {
        body.reserveCapacity(body.count + dictionary.plainSize)
        dictionary.forEach { p, n in
            appendRaw(UInt32(n).littleEndian, to: &body)
            body.append(contentsOf: UnsafeBufferPointer(start: p, count: n))
        }
        return dictionary.count
    }

    func chunkMinMax() -> (min: [UInt8], max: [UInt8])? {
        dictionary.forEach { p, n in updateMinMax(p, n) }
        guard let lo = minValue, let hi = maxValue else { return nil }
        return (lo, hi)
    }

    func resetChunk() {
        dictionary.removeAll()
        dictionaryMode = dictionaryEnabled
        dictionaryUsed = false
        indices.removeAll()
        plain.removeAll()
        minValue = nil
        maxValue = nil
    }
}

/// Booleans: PLAIN, bit-packed LSB first; a dictionary would never pay for itself.
final class BooleanValueEncoder: ValueEncoder {
    private var input: [Bool] = []
    private var page: [Bool] = []
    private var sawTrue = false
    private var sawFalse = false

    func setInput(_ values: ParquetValues) throws(ParquetError) {
        guard case .boolean(let a) = values else { throw .invalidArgument("column values do not match the schema's physical type BOOLEAN") }
        input = a
    }

    func clearInput() { input = [] }

    var pageByteEstimate: Int { page.count / 8 }
    var dictionaryMode: Bool { false }
    var dictionaryByteSize: Int { 0 }
    var dictionaryUsed: Bool { false }
    func fallBackToPlain() {}

    func append(start: Int, count: Int, present: UnsafePointer<Bool>?) {
        input.withUnsafeBufferPointer { src in
            for i in 0..<count where present?[i] ?? true {
                let v = src[start + i]
                page.append(v)
                if v { sawTrue = true } else { sawFalse = true }
            }
        }
    }

    func flushPage(into body: inout [UInt8]) -> Int32 {
        var byte: UInt8 = 0
        for (i, v) in page.enumerated() {
            if v { byte |= 1 << UInt8(i & 7) }
            if i & 7 == 7 {
                body.append(byte)
                byte = 0
            }
        }
        if page.count & 7 != 0 { body.append(byte) }
        page.removeAll(keepingCapacity: true)
        return EncodingID.plain
    }

    func writeDictionary(into body: inout [UInt8]) -> Int { 0 }

    func chunkMinMax() -> (min: [UInt8], max: [UInt8])? {
        guard sawTrue || sawFalse else { return nil }
        return ([sawFalse ? 0 : 1], [sawTrue ? 1 : 0])
    }

    func resetChunk() {
        page.removeAll(keepingCapacity: true)
        sawTrue = false
        sawFalse = false
    }
}
