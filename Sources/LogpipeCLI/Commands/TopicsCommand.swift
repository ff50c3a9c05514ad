import ArgumentParser
import Foundation
import LogpipeBus

struct TopicsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "topics",
        abstract: "List topics with partitions, offsets and sizes, and each consumer group's lag."
    )

    @OptionGroup var common: CommonOptions

    func run() async throws {
        let settings = try await Settings.load(common)
        try settings.checkState(lake: false)
        let bus = try await settings.openExistingBus()
        defer { Task { try? await bus.close() } }
        let topics = try await bus.topics()
        let groups = try await bus.groups()
        var rows: [[String]] = [["TOPIC", "PARTITION", "LOW", "HIGH", "RECORDS", "BYTES"]]
        for topic in topics.sorted(by: { $0.name < $1.name }) {
            for p in topic.partitions {
                rows.append([topic.name, String(p.partition), String(p.lowWatermark), String(p.highWatermark),
                             String(p.highWatermark - p.lowWatermark), formatBytes(p.sizeBytes)])
            }
        }
        print(table(rows))
        guard !groups.isEmpty else {
            print("\nno consumer groups")
            return
        }
        var lagRows: [[String]] = [["GROUP", "TOPIC", "PARTITION", "COMMITTED", "HIGH", "LAG"]]
        for group in groups.sorted() {
            for topic in topics.sorted(by: { $0.name < $1.name }) {
                let committed = try await bus.committedOffsets(group: group, topic: topic.name)
                guard !committed.isEmpty else { continue }
                for p in topic.partitions {
                    let offset = committed[p.partition]
                    let lag = p.highWatermark - (offset ?? p.lowWatermark)
                    lagRows.append([group, topic.name, String(p.partition), offset.map(String.init) ?? "-",
                                    String(p.highWatermark), String(lag)])
                }
            }
        }
        print("")
        print(table(lagRows))
    }
}

/// Left-aligned columns separated by two spaces.
func table(_ rows: [[String]]) -> String {
    guard let first = rows.first else { return "" }
    var widths = Array(repeating: 0, count: first.count)
    for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
    return rows.map { row in
        row.enumerated().map { i, cell in
            i == row.count - 1 ? cell : cell + String(repeating: " ", count: widths[i] - cell.count)
        }.joined(separator: "  ")
    }.joined(separator: "\n")
}

/// Bytes in the largest unit that keeps the number at least 1.
func formatBytes(_ bytes: Int64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(bytes)
    var unit = 0
    while value >= 1024, unit < units.count - 1 {
        value /= 1024
        unit += 1
    }
    return unit == 0 ? "\(bytes) B" : String(format: "%.1f %@", value, units[unit])
}
