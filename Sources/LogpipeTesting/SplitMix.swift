/// Deterministic pseudo-random numbers (SplitMix64) for tests, so a failure reproduces
/// from its seed.
public struct SplitMix: RandomNumberGenerator, Sendable {
    /// The generator's whole state; the sequence is a function of the seed alone.
    public var state: UInt64

    /// A generator whose sequence is fixed by `seed`.
    public init(seed: UInt64) { state = seed }

    /// The next 64 random bits.
    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// A number in `0..<n`.
    public mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }

    /// True with probability `p`.
    public mutating func chance(_ p: Double) -> Bool { Double(next() >> 11) * 0x1p-53 < p }

    /// One element of `xs`, which must not be empty.
    public mutating func pick<T>(_ xs: [T]) -> T { xs[below(xs.count)] }
}
