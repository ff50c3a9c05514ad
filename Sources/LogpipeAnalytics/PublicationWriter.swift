import Synchronization

/// Delivers a coordinator's emissions on tasks of their own, beside the partition whose
/// report made them: encoding an emission's rows and creating and syncing its lake files
/// was a quarter of a backfill's CPU, all of it on the reporting partition's analytics
/// lane, which is the bound of `logpipe stream` on two cores (docs/profile.md).
///
/// Nothing waits for a delivery except the coordinator's record of what was emitted
/// (`GlobalWindowCoordinator`): it is written only once every delivery before it has
/// returned, and until then no partition drops (or checkpoints as emitted) the windows
/// being written, so a kill -9 mid-write leaves them to be published again under the same
/// names, exactly as a kill mid-publication did when the partition waited.
final class PublicationWriter: Sendable {
    private let deliver: @Sendable (AnalyticsPublication) async -> Void
    /// Emissions still being delivered, oldest first.
    private let inFlight = Mutex<[(id: Int, task: Task<Void, Never>)]>([])
    /// Emissions submitted; numbers them.
    private let submitted = Atomic<Int>(0)

    /// Emissions being delivered at once before `submit` waits for the oldest: each holds
    /// its rows (a backfill's emission holds tens of thousands) until its files are written.
    static let maxInFlight = 3

    /// Publications delivered at once within one emission.
    static let concurrentPublications = 16

    /// A writer delivering through `deliver`.
    init(deliver: @escaping @Sendable (AnalyticsPublication) async -> Void) {
        self.deliver = deliver
    }

    /// Whether every emission submitted has been delivered.
    var isIdle: Bool { inFlight.withLock { $0.isEmpty } }

    /// Starts delivering one emission's `publications` (several at once: each is named by
    /// its window end or range, so the order they land in changes nothing); returns once
    /// it is under way, after waiting for the oldest when `maxInFlight` are.
    func submit(_ publications: [AnalyticsPublication]) async {
        guard !publications.isEmpty else { return }
        while let oldest = inFlight.withLock({ $0.count >= Self.maxInFlight ? $0.first?.task : nil }) {
            await oldest.value
        }
        let id = submitted.wrappingAdd(1, ordering: .relaxed).oldValue
        // Held until the task is listed, so it cannot unlist itself first.
        inFlight.withLock { list in
            let task = Task { [self] in
                await Self.deliverAll(publications, deliver)
                inFlight.withLock { $0.removeAll { $0.id == id } }
            }
            list.append((id, task))
        }
    }

    /// Returns once every emission submitted before the call has been delivered.
    func drain() async {
        for task in inFlight.withLock({ $0.map(\.task) }) { await task.value }
    }

    /// Delivers `publications`, `concurrentPublications` at a time.
    static func deliverAll(_ publications: [AnalyticsPublication],
                           _ deliver: @escaping @Sendable (AnalyticsPublication) async -> Void) async {
        await withTaskGroup(of: Void.self) { group in
            for (i, publication) in publications.enumerated() {
                if i >= concurrentPublications { await group.next() }
                group.addTask { await deliver(publication) }
            }
        }
    }
}
