#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A quantile sketch with a relative error bound (DDSketch, Masson et al., VLDB 2019).
///
/// Values above `DDSketch.minIndexableValue` fall into logarithmic bins
/// `(γ^(i−1), γ^i]` with `γ = (1 + α)/(1 − α)`; smaller values (zero included) are
/// counted apart. The quantile `q` of `n` values is the value of rank `⌊q·(n − 1)⌋`
/// (0-based) in sorted order; the sketch returns a value within relative error `α`
/// of it (`α = relativeAccuracy`, 1% by default), as long as the bins were never
/// collapsed (more than `maxBins` distinct bins, e.g. values spanning 1e-9 to 1e9 at
/// 1%; then the lowest quantiles lose the bound first). Negative values count as zero.
///
/// Mergeable exactly: the merge of two sketches equals the sketch of both inputs.
public struct DDSketch: Sendable {
    /// Values at or below this land in the zero bucket.
    public static let minIndexableValue = 1e-9

    /// The relative accuracy α.
    public let relativeAccuracy: Double
    /// The bin count beyond which the lowest bins are collapsed.
    public let maxBins: Int
    let multiplier: Double
    let gamma: Double
    /// Values counted in the zero bucket.
    var zeroCount: Int64 = 0
    /// Counts of bins `offset ..< offset + bins.count`.
    var bins: [Int64] = []
    var offset: Int = 0
    /// The number of values added.
    public private(set) var count: Int64 = 0

    /// An empty sketch with relative accuracy `relativeAccuracy` (in (0, 1)).
    public init(relativeAccuracy: Double = 0.01, maxBins: Int = 4096) {
        precondition(relativeAccuracy > 0 && relativeAccuracy < 1)
        self.relativeAccuracy = relativeAccuracy
        self.maxBins = max(16, maxBins)
        gamma = (1 + relativeAccuracy) / (1 - relativeAccuracy)
        multiplier = 1 / log(gamma)
    }

    /// Adds one value.
    @inline(__always)
    public mutating func add(_ x: Double) {
        count += 1
        guard x > Self.minIndexableValue else {
            zeroCount += 1
            return
        }
        let i = Int((log(x) * multiplier).rounded(.up))
        let slot = i - offset
        if slot >= 0, slot < bins.count {
            bins[slot] += 1
        } else {
            addOutOfRange(i, 1)
        }
    }

    mutating func addOutOfRange(_ i: Int, _ n: Int64) {
        if bins.isEmpty {
            offset = i
            bins = [n]
            return
        }
        var index = i
        let low = Swift.min(offset, index)
        let high = Swift.max(offset + bins.count - 1, index)
        if high - low + 1 > maxBins {
            // Collapse the lowest bins into the lowest one kept, as DDSketch's
            // collapsing-lowest store does: the high quantiles keep their bound.
            let newLow = high - maxBins + 1
            var collapsed: Int64 = 0
            var kept: [Int64] = Array(repeating: 0, count: maxBins)
            for (k, c) in bins.enumerated() where c != 0 {
                let b = offset + k
                if b <= newLow { collapsed += c } else { kept[b - newLow] += c }
            }
            if index <= newLow {
                collapsed += n
            } else {
                kept[index - newLow] += n
            }
            kept[0] += collapsed
            bins = kept
            offset = newLow
            return
        }
        // Grow with some slack so a slowly widening range does not copy on every value.
        let slack = Swift.min(32, maxBins - (high - low + 1))
        let newLow = index < offset ? Swift.max(low - slack, high - maxBins + 1) : offset
        let newHigh = index > offset + bins.count - 1 ? Swift.min(high + slack, newLow + maxBins - 1) : offset + bins.count - 1
        var grown = [Int64](repeating: 0, count: newHigh - newLow + 1)
        for k in bins.indices { grown[offset + k - newLow] = bins[k] }
        index -= newLow
        grown[index] += n
        bins = grown
        offset = newLow
    }

    /// Adds every value another sketch has seen. Both must have the same accuracy.
    public mutating func merge(_ other: DDSketch) {
        precondition(other.relativeAccuracy == relativeAccuracy, "merging sketches of different accuracy")
        count += other.count
        zeroCount += other.zeroCount
        for (k, c) in other.bins.enumerated() where c != 0 {
            let i = other.offset + k
            let slot = i - offset
            if slot >= 0, slot < bins.count { bins[slot] += c } else { addOutOfRange(i, c) }
        }
    }

    /// The value of the bin with index `i`: the point of `(γ^(i−1), γ^i]` whose relative
    /// distance to both ends is `α`.
    func value(ofBin i: Int) -> Double { 2 * pow(gamma, Double(i)) / (gamma + 1) }

    /// The `q` quantile (0 ≤ q ≤ 1) within relative error `α`, or `nil` when empty.
    public func quantile(_ q: Double) -> Double? {
        guard count > 0 else { return nil }
        let rank = Int64((Swift.max(0, Swift.min(1, q)) * Double(count - 1)).rounded(.down))
        if rank < zeroCount { return 0 }
        var seen = zeroCount
        for (k, c) in bins.enumerated() where c != 0 {
            seen += c
            if seen > rank { return value(ofBin: offset + k) }
        }
        return value(ofBin: offset + bins.count - 1)
    }

    /// Nonzero bins as (index, count), lowest first: the sketch's content, independent of layout.
    var nonzeroBins: [(index: Int, count: Int64)] {
        bins.enumerated().compactMap { $0.element == 0 ? nil : (offset + $0.offset, $0.element) }
    }

    /// Restores a sketch from its content.
    init(relativeAccuracy: Double, maxBins: Int, zeroCount: Int64, bins content: [(index: Int, count: Int64)]) {
        self.init(relativeAccuracy: relativeAccuracy, maxBins: maxBins)
        self.zeroCount = zeroCount
        count = zeroCount
        if let first = content.first, let last = content.last {
            offset = first.index
            bins = Array(repeating: 0, count: last.index - first.index + 1)
            for (i, c) in content {
                bins[i - offset] = c
                count += c
            }
        }
    }
}

extension DDSketch: Equatable {
    /// Sketches are equal when they have the same accuracy and the same counts per
    /// bin, however their bins are laid out in memory.
    public static func == (a: DDSketch, b: DDSketch) -> Bool {
        a.relativeAccuracy == b.relativeAccuracy && a.count == b.count && a.zeroCount == b.zeroCount
            && a.nonzeroBins.elementsEqual(b.nonzeroBins, by: { $0.index == $1.index && $0.count == $1.count })
    }
}
