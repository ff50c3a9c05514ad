/// Count, sum, sum of squares, minimum and maximum of a series of numbers.
///
/// Mergeable: merging the summaries of two parts gives the summary of the whole
/// (sums up to floating-point rounding; exact while the values and their squares are
/// integers below 2^53, as response times in milliseconds are).
public struct NumericSummary: Sendable, Equatable {
    /// The number of values.
    public var count: Int64 = 0
    /// Their sum.
    public var sum: Double = 0
    /// The sum of their squares.
    public var sumOfSquares: Double = 0
    /// The smallest value; `+infinity` when empty.
    public var min: Double = .infinity
    /// The largest value; `-infinity` when empty.
    public var max: Double = -.infinity

    /// An empty summary.
    public init() {}

    /// Adds one value.
    @inlinable
    public mutating func add(_ x: Double) {
        count += 1
        sum += x
        sumOfSquares += x * x
        if x < min { min = x }
        if x > max { max = x }
    }

    /// Adds every value another summary has seen.
    public mutating func merge(_ other: NumericSummary) {
        count += other.count
        sum += other.sum
        sumOfSquares += other.sumOfSquares
        min = Swift.min(min, other.min)
        max = Swift.max(max, other.max)
    }

    /// The mean, or `nil` when empty.
    public var mean: Double? { count == 0 ? nil : sum / Double(count) }

    /// The sample standard deviation (n − 1, as Spark's and DuckDB's `stddev`), or
    /// `nil` with fewer than two values.
    public var sampleStandardDeviation: Double? {
        guard count > 1 else { return nil }
        let n = Double(count)
        let variance = (sumOfSquares - sum * sum / n) / (n - 1)
        return variance > 0 ? variance.squareRoot() : 0
    }
}
