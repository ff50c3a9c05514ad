import LogpipeBus
import Synchronization

/// A condition a test waited for did not hold in time.
public struct TimedOut: Error, CustomStringConvertible {
    /// What was waited for, how long, and the state described when it gave up.
    public let description: String
}

/// Waits until `condition` holds, polling every `interval`, or throws `TimedOut` after
/// `timeout` with `describe()` (e.g. the children's standard error) in the message.
///
/// Tests of groups, workers and processes wait on other parties: a bare `await` on
/// something that never comes hangs the whole test run instead of failing one test.
public func eventually(
    _ what: String, timeout: Duration, interval: Duration = .milliseconds(50), describe: () -> String = { "" },
    _ condition: () async throws -> Bool
) async throws {
    let deadline = ContinuousClock.now + timeout
    while try await !condition() {
        guard ContinuousClock.now < deadline else {
            let state = describe()
            throw TimedOut(description: "timed out after \(timeout) waiting for \(what)" + (state.isEmpty ? "" : ". \(state)"))
        }
        try await Task.sleep(for: interval)
    }
}

/// Follows a group member's assignments in the background, so a test can poll the latest
/// one with `eventually` rather than await the next, which may never come.
public final class AssignmentWatcher: Sendable {
    private final class Latest: Sendable {
        let assignment = Mutex<PartitionAssignment?>(nil)
    }

    private let latest = Latest()
    /// The task reading the assignments; it ends when the member leaves.
    public let task: Task<Void, any Error>

    /// Starts following `member`'s assignments.
    public init(_ member: any GroupMember) {
        let latest = self.latest
        let assignments = member.assignments
        task = Task {
            for try await assignment in assignments { latest.assignment.withLock { $0 = assignment } }
        }
    }

    /// The partitions of the latest assignment; `nil` before the first.
    public var partitions: Set<TopicPartition>? { latest.assignment.withLock { $0.map { Set($0.partitions) } } }
}
