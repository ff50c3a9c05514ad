import Foundation
import LogpipeBus
import LogpipeTesting
import Testing

/// Reopens the bus in `directory` after a crash drill (`BusCrashChild` killed with SIGKILL,
/// in CrashTests and JournalTests; with a disk failing under it, in IOErrorTests) and checks
/// that it holds every acknowledged record at its offset with its value, no value twice,
/// no gaps, no corrupt batch, and at most `maxUnacknowledged` records no one printed (those
/// of the cycles the kills or failures interrupted). Returns the records stored and the
/// bytes of log.
@discardableResult
func verifyAcknowledged(_ directory: String, _ acknowledged: [BusCrashChild.Acknowledged], maxUnacknowledged: Int,
                        options: LocalBusOptions = BusCrashChild.options()) async throws -> (records: Int, bytes: Int64) {
    var byPlacement: [String: String] = [:]
    for a in acknowledged {
        let key = "\(a.partition)/\(a.offset)"
        if let earlier = byPlacement[key] { Issue.record("offset \(key) acknowledged twice: \(earlier) and \(a.value)") }
        byPlacement[key] = a.value
    }
    let bus = try LocalBus(directory: directory, options: options)
    do {
        let stored = try await BusContract.readAll(bus, topic: BusCrashChild.topic, partitions: BusCrashChild.partitions)
        var missing: [BusCrashChild.Acknowledged] = []
        for a in acknowledged {
            guard let record = stored[a.partition]?[a.offset] else {
                missing.append(a)
                continue
            }
            #expect(String(decoding: record.value, as: UTF8.self) == a.value, "\(a.partition)/\(a.offset)")
        }
        #expect(missing.isEmpty, """
            \(missing.count) of \(acknowledged.count) acknowledged records missing, e.g. \
            \(missing.prefix(5).map { "\($0.partition)/\($0.offset) \($0.value.prefix(30))" }); stored up to \
            \(stored.keys.sorted().map { "\($0): \(stored[$0]!.count)" })
            """)
        var values: Set<String> = []
        var total = 0
        for (p, records) in stored {
            #expect(records.keys.sorted() == Array(0..<Int64(records.count)), "partition \(p) has gaps")
            for record in records.values {
                let value = String(decoding: record.value, as: UTF8.self)
                #expect(values.insert(value).inserted, "value \(value) stored twice")
                #expect(!value.hasPrefix("ghost"), "a journal entry after a torn one was replayed: \(value)")
            }
            total += records.count
        }
        let extra = total - acknowledged.count
        #expect(extra >= 0 && extra <= maxUnacknowledged, "\(total) records stored for \(acknowledged.count) acknowledged")
        let info = try await bus.topics().first { $0.name == BusCrashChild.topic }!
        try await bus.close()
        return (total, info.partitions.reduce(0) { $0 + $1.sizeBytes })
    } catch {
        try? await bus.close()
        throw error
    }
}
