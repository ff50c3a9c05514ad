import Foundation
import Logging
import LogpipeBus
import LogpipeTesting

/// Options for tests: no background retention timer, quiet logs unless asked.
func testOptions(segmentBytes: Int64 = 128 << 20, maxPendingBytes: Int = 64 << 20) -> LocalBusOptions {
    var logger = Logger(label: "logpipe.bus.test")
    logger.logLevel = .critical
    return LocalBusOptions(segmentBytes: segmentBytes, maxPendingBytes: maxPendingBytes,
                           retentionCheckIntervalSeconds: nil, logger: logger)
}

/// The value bytes of a fetched record as a string.
func valueString(_ batch: FetchedBatch, _ i: Int) -> String {
    let r = batch.records[i].value
    return String(decoding: batch.buffer[Int(r.lowerBound)..<Int(r.upperBound)], as: UTF8.self)
}

/// The segment files of a partition directory, sorted.
func segmentFiles(_ dir: String) throws -> [String] {
    try FileManager.default.contentsOfDirectory(atPath: dir).filter { $0.hasSuffix(".log") }.sorted()
}

/// Runs `body` with a LocalBus in a fresh directory and removes both afterwards.
func withLocalBus(options: LocalBusOptions = testOptions(), _ body: (LocalBus, TemporaryDirectory) async throws -> Void) async throws {
    let dir = try TemporaryDirectory(prefix: "logpipe-bus-test")
    defer { dir.remove() }
    let bus = try LocalBus(directory: dir.path, options: options)
    do {
        try await body(bus, dir)
    } catch {
        try? await bus.close()
        throw error
    }
    try await bus.close()
}
