import Foundation
import Testing
@testable import LogpipeAnalytics

/// Regression tests for what fuzzing found (docs/hardening.md).
@Suite("Fuzzing findings")
struct FuzzFindingTests {
    /// FuzzSnapshot: a restored snapshot whose response-time history gave a z-score of
    /// about 1e19 trapped in the alert message's number formatting (Int64 overflow).
    @Test("alert messages format numbers beyond Int64's range")
    func hugeNumbers() {
        #expect(rounded(1e19) == "1e+19")
        #expect(rounded(-9.3e18) == "-9.3e+18")
        #expect(rounded(12.0) == "12")
        #expect(rounded(1.234) == "1.23")
        #expect(rounded(.infinity) == "inf")
    }

    /// FuzzSnapshot: activity counts that repeat an id with counts summing past Int64.max
    /// trapped on restore; repeats are now refused as malformed and sums wrap.
    @Test("activity counts near Int64.max do not trap")
    func countOverflow() {
        var counts = SmallCounts()
        counts.add(7, .max)
        counts.add(7, .max)
        #expect(counts.ids == [7])
        #expect(counts.counts == [-2])
    }

    /// FuzzSnapshot (its input is fuzz/corpus/snapshot/finding-binomial-tail-timeout.bin): a
    /// corrupt snapshot with request counts near 1e18 made the error-rate test sum a binomial
    /// tail term by term towards its mode, for minutes. Each way of computing it now agrees
    /// with the term-by-term sum and takes no time.
    @Test("the binomial tail is instant for huge counts and agrees with the exact sum")
    func binomialTail() {
        func exactTail(_ k: Int64, _ n: Int64, _ p: Double) -> Double {
            let logGamma: (Double) -> Double = lgamma
            var total = 0.0
            var i = k
            while i <= n {
                let t = exp(logGamma(Double(n) + 1) - logGamma(Double(i) + 1) - logGamma(Double(n - i) + 1) + Double(i) * log(p) + Double(n - i) * log1p(-p))
                total += t
                if Double(i) > Double(n) * p, t < total * 1e-17 { break }
                i += 1
            }
            return total
        }
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            #expect(AnomalyDetector.binomialUpperTail(10, 1_000_000_000_000_000_000, 0.5) == 1)
            #expect(AnomalyDetector.binomialUpperTail(999_999_999_999_999_999, 1_000_000_000_000_000_000, 0.5) == 0)
            #expect(AnomalyDetector.binomialUpperTail(10, 900_000, 0.5) == 1)
        }
        #expect(elapsed < .seconds(1))
        // Exact from either side of the mean (variance 1,176), and the normal approximation
        // (variance 1.96 million) out to five standard deviations.
        for (n, p, ks): (Int64, Double, [Int64]) in [(60_000, 0.02, [1_100, 1_190, 1_200, 1_250, 1_400]),
                                                       (100_000_000, 0.02, [1_998_000, 2_000_000, 2_002_800, 2_007_000])] {
            for k in ks {
                let exact = exactTail(k, n, p)
                let computed = AnomalyDetector.binomialUpperTail(k, n, p)
                #expect(abs(computed - exact) <= 0.05 * exact, "n \(n) k \(k): \(computed) vs \(exact)")
            }
        }
    }
}
