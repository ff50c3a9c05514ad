import Foundation
import LogpipeBus
import LogpipeTesting
import Synchronization
import Testing

/// LocalBus against the shared Bus contract suite, one test per check.
@Suite struct LocalBusContractTests {
    @Test(arguments: BusContract.checks.map(\.name))
    func contract(_ name: String) async throws {
        let check = BusContract.checks.first { $0.name == name }!
        let dirs = DirectoryList()
        defer { dirs.removeAll() }
        try await check.run({
            let dir = try TemporaryDirectory(prefix: "logpipe-bus-test")
            dirs.add(dir)
            return try LocalBus(directory: dir.path, options: testOptions())
        })
    }

    @Test func reopenKeepsEverything() async throws {
        let dir = try TemporaryDirectory(prefix: "logpipe-bus-test")
        defer { dir.remove() }
        try await BusContract.reopenKeepsEverything(
            makeBus: { try LocalBus(directory: dir.path, options: testOptions()) },
            reopen: { old in
                try await old.close()
                return try LocalBus(directory: dir.path, options: testOptions())
            })
    }
}

/// Directories a test made through a `@Sendable` factory, removed at its end.
final class DirectoryList: Sendable {
    private let dirs = Mutex<[TemporaryDirectory]>([])
    func add(_ dir: TemporaryDirectory) { dirs.withLock { $0.append(dir) } }
    func removeAll() { dirs.withLock { for d in $0 { d.remove() } } }
}
