import Foundation
import LogpipeBus
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// The producing child of the bus crash test: it produces to a `LocalBus`
/// without end and prints every acknowledged record as a line
/// `<partition> <offset> <value>` on standard output, only after `produce`
/// returned, so every printed line is a record the bus promised is durable.
/// The test kills it with SIGKILL at random moments, restarts it on the same
/// directory, and finally checks every printed record is there.
public enum BusCrashChild {
    /// The topic the child produces to.
    public static let topic = "crash-test"
    /// Its partition count.
    public static let partitions: Int32 = 3

    /// Serializes the producers' writes to standard output.
    private static let stdoutLock = Mutex(())

    /// Set once an append has failed, in a child that keeps going after failures.
    private static let failedOnce = Atomic(false)

    /// Bus options of the child and of the verifier: small segments, so kills
    /// also land around segment rolls (unless `segmentBytes` says otherwise);
    /// `journalBytes` small makes the journal wrap.
    public static func options(journalBytes: Int64? = nil, segmentBytes: Int64? = nil) -> LocalBusOptions {
        var options = LocalBusOptions(segmentBytes: segmentBytes ?? 64 << 10, retentionCheckIntervalSeconds: nil)
        if let journalBytes { options.journalBytes = journalBytes }
        return options
    }

    /// Opens the bus in `directory` and produces from `producers` concurrent
    /// tasks until killed. Values are `<run>-<producer>-<sequence>-` and a
    /// filler, unique across runs.
    ///
    /// A failed append ends the child, unless `keepGoing`: then each failure is printed as
    /// `! <error>`, the producer tries again, and an acknowledgement of an append begun
    /// after some append had failed is printed with a leading `+ ` (the I/O error tests
    /// expect none: after a journal failure every later append must fail).
    public static func run(directory: String, producers: Int = 4, journalBytes: Int64? = nil, segmentBytes: Int64? = nil,
                           keepGoing: Bool = false) async throws -> Never {
        let bus = try LocalBus(directory: directory, options: options(journalBytes: journalBytes, segmentBytes: segmentBytes))
        try await bus.createTopic(TopicSpec(name: topic, partitions: partitions, retention: RetentionPolicy(maxAgeSeconds: nil)))
        let run = String(UInt64.random(in: 0...UInt64.max), radix: 36)
        try await withThrowingTaskGroup(of: Void.self) { group in
            for producer in 0..<producers {
                group.addTask {
                    var sequence = 0
                    var rng = SystemRandomNumberGenerator()
                    while true {
                        var batch = ProduceBatch()
                        var values: [String] = []
                        for _ in 0..<Int.random(in: 1...20, using: &rng) {
                            let value = "\(run)-\(producer)-\(sequence)-" + String(repeating: "x", count: sequence % 37)
                            let key: [UInt8]? = sequence % 5 == 0 ? nil : Array("key-\(producer)-\(sequence % 11)".utf8)
                            batch.append(key: key, value: Array(value.utf8))
                            values.append(value)
                            sequence += 1
                        }
                        let afterAFailure = failedOnce.load(ordering: .sequentiallyConsistent)
                        let result: ProduceResult
                        do {
                            result = try await bus.produce(topic: topic, batch: batch)
                        } catch where keepGoing {
                            failedOnce.store(true, ordering: .sequentiallyConsistent)
                            print(lines: "! \(error)".replacingOccurrences(of: "\n", with: " ") + "\n")
                            try await Task.sleep(for: .milliseconds(2))
                            continue
                        }
                        var text = ""
                        for (i, placement) in result.placements.enumerated() {
                            text += "\(afterAFailure ? "+ " : "")\(placement.partition) \(placement.offset) \(values[i])\n"
                        }
                        print(lines: text)
                    }
                }
            }
            try await group.next()
        }
        fatalError("producers never finish")
    }

    /// Writes `text` to standard output in one write under a lock, so lines of two
    /// producers never interleave; exits if standard output is gone.
    private static func print(lines text: String) {
        let bytes = Array(text.utf8)
        stdoutLock.withLock { _ in
            bytes.withUnsafeBytes { raw in
                var done = 0
                while done < raw.count {
                    let n = write(1, raw.baseAddress! + done, raw.count - done)
                    if n < 0 {
                        if errno == EINTR { continue }
                        exit(3)
                    }
                    done += n
                }
            }
        }
    }

    /// A record the child printed as acknowledged.
    public struct Acknowledged: Hashable, Sendable {
        /// Its partition.
        public var partition: Int32
        /// Its offset.
        public var offset: Int64
        /// Its value.
        public var value: String
    }

    /// What a child printed: its acknowledged records, those of them whose append began
    /// after some append had failed, and the failures' errors.
    public struct Outcome: Sendable {
        /// Every acknowledged record, in the order printed.
        public var acknowledged: [Acknowledged] = []
        /// Of `acknowledged`, those whose append began after an append had failed.
        public var acknowledgedAfterAFailure: [Acknowledged] = []
        /// The failed appends' errors, in the order printed.
        public var failures: [String] = []
    }

    /// The acknowledged records in a child's standard output; a last line cut
    /// short by the kill (no newline) is ignored.
    public static func parse(_ output: [UInt8]) throws -> [Acknowledged] {
        try parseOutcome(output).acknowledged
    }

    /// Everything a child printed (see `run`); a last line cut short by the kill is ignored.
    public static func parseOutcome(_ output: [UInt8]) throws -> Outcome {
        var outcome = Outcome()
        var lines = output.split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false)
        // The piece after the last newline is incomplete (or empty).
        lines.removeLast()
        for var line in lines {
            if line.starts(with: "! ".utf8) {
                outcome.failures.append(String(decoding: line.dropFirst(2), as: UTF8.self))
                continue
            }
            let late = line.starts(with: "+ ".utf8)
            if late { line = line.dropFirst(2) }
            let fields = line.split(separator: UInt8(ascii: " "), maxSplits: 2)
            guard fields.count == 3,
                  let partition = Int32(String(decoding: fields[0], as: UTF8.self)),
                  let offset = Int64(String(decoding: fields[1], as: UTF8.self))
            else { throw BusContractViolation("unparseable child output line '\(String(decoding: line, as: UTF8.self))'") }
            let record = Acknowledged(partition: partition, offset: offset, value: String(decoding: fields[2], as: UTF8.self))
            outcome.acknowledged.append(record)
            if late { outcome.acknowledgedAfterAFailure.append(record) }
        }
        return outcome
    }
}
