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
}
