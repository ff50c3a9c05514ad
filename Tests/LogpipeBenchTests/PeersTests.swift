import Foundation
import Testing
@testable import LogpipeBench

/// How the benchmarks run their child processes (the product bench's `stream --once`, the
/// Python peers): what a child prints must never stall the benchmark.
@Suite struct PeersTests {
    /// A child that writes 1 MiB to standard error before anything to standard output: with
    /// the pipes read one after the other it blocks on the full stderr pipe while the reader
    /// waits for stdout's end, for ever (`bench product` hung so on 20,000 records, whose
    /// sparse minutes log hundreds of alerts).
    @Test(.timeLimit(.minutes(1)))
    func captureDrainsBothPipes() throws {
        let (status, stdout, stderr) = try Peers.capture("/bin/sh", ["-c", "head -c 1048576 /dev/zero >&2; echo done; exit 3"])
        #expect(status == 3)
        #expect(String(decoding: stdout, as: UTF8.self) == "done\n")
        #expect(stderr.count == 1 << 20)
    }

    /// `timed` reports what `/usr/bin/time` measured and the child's stdout, however much the
    /// child logs.
    @Test(.timeLimit(.minutes(1)))
    func timedReadsTheTimeLineAfterLongLogs() throws {
        let (seconds, rssKiB, stdout) = try LateBackfillBench.timed("/bin/sh", ["-c", "yes a-log-line | head -n 30000 >&2; echo out"])
        #expect(seconds >= 0 && seconds < 50)
        #expect(rssKiB > 0)
        #expect(stdout == "out\n")
        #expect(throws: Peers.Failure.self) { try LateBackfillBench.timed("/bin/sh", ["-c", "exit 1"]) }
    }
}
