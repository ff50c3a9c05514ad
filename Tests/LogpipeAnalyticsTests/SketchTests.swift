import Foundation
import LogpipeAnalytics
import LogpipeGenerator
import Testing

@Suite("Mergeable aggregates")
struct SketchTests {
    @Test("DDSketch quantiles stay within the relative accuracy, and merging partitions equals one sketch")
    func ddsketch() {
        var random = SeededRandom(seed: 7)
        var values: [Double] = []
        for i in 0..<50_000 {
            // Log-normal bulk, a long tail and some zeros: the shapes response times take.
            let x = i % 1000 == 0 ? 0 : 40 * exp(0.8 * random.normal()) * (random.below(100) == 0 ? 20 : 1)
            values.append(x)
        }
        for accuracy in [0.01, 0.005] {
            var whole = DDSketch(relativeAccuracy: accuracy)
            var parts = [DDSketch](repeating: DDSketch(relativeAccuracy: accuracy), count: 3)
            for (i, x) in values.enumerated() {
                whole.add(x)
                parts[i % 3].add(x)
            }
            var merged = parts[2]
            merged.merge(parts[0])
            merged.merge(parts[1])
            #expect(merged == whole)
            let sorted = values.sorted()
            for q in [0.0, 0.01, 0.25, 0.5, 0.9, 0.95, 0.99, 0.999, 1.0] {
                let truth = sorted[Int((q * Double(sorted.count - 1)).rounded(.down))]
                let got = whole.quantile(q)!
                #expect(abs(got - truth) <= accuracy * truth * (1 + 1e-12), "q\(q): \(got) vs \(truth)")
            }
        }
        #expect(DDSketch().quantile(0.5) == nil)
    }

    @Test("HyperLogLog is exact while sparse, within 3 standard errors when dense, and merges exactly")
    func hyperLogLog() {
        for precision in [12, 14] {
            let limit = (1 << precision) / 8
            var small = HyperLogLog(precision: precision)
            for i in 0..<limit { small.add(hash: mix64(UInt64(i))) }
            for i in 0..<limit { small.add(hash: mix64(UInt64(i))) }
            #expect(small.isExact && small.count == Int64(limit))

            for n in [limit + 1, 10_000, 200_000] {
                var whole = HyperLogLog(precision: precision)
                var parts = [HyperLogLog](repeating: HyperLogLog(precision: precision), count: 4)
                for i in 0..<n {
                    let h = mix64(UInt64(i) &+ 0xABCDEF)
                    whole.add(hash: h)
                    parts[(i * 7) % 4].add(hash: h)
                }
                var merged = parts[0]
                for p in parts.dropFirst() { merged.merge(p) }
                #expect(merged == whole)
                let error = abs(whole.estimate - Double(n)) / Double(n)
                #expect(error <= 3 * HyperLogLog.standardError(precision: precision), "p\(precision) n\(n): \(error)")
            }
        }
    }

    @Test("NumericSummary merges to the summary of the whole")
    func summary() {
        var whole = NumericSummary(), a = NumericSummary(), b = NumericSummary()
        for i in 1...1000 {
            let x = Double((i * 37) % 101)
            whole.add(x)
            if i % 2 == 0 { a.add(x) } else { b.add(x) }
        }
        a.merge(b)
        #expect(a == whole)
        #expect(whole.min == 0 && whole.max == 100 && whole.count == 1000)
    }
}
