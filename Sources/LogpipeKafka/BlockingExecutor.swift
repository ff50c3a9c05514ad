import Foundation

/// Runs calls that block on the network (librdkafka's synchronous metadata,
/// admin, offset and fetch calls) on threads outside Swift's cooperative pool,
/// which has one thread per core and must never wait on I/O.
///
/// A cached thread pool rather than a Dispatch queue: Dispatch's concurrent
/// queues run about one thread per core too, so a few long polls would hold
/// every thread and delay unrelated calls. Here a call never waits for a
/// thread: an idle one takes it or a new one starts; threads idle for
/// `idleSeconds` exit.
enum BlockingExecutor {
    private static let pool = BlockingThreadPool(idleSeconds: 30)

    /// Runs `body` on a blocking-call thread and returns its result.
    static func run<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            pool.submit {
                continuation.resume(with: Result { try body() })
            }
        }
    }
}

/// The pool behind `BlockingExecutor`.
final class BlockingThreadPool: @unchecked Sendable {
    // @unchecked: `jobs`, `idle` and `threads` are accessed only while `condition` is locked.
    private let condition = NSCondition()
    private var jobs: [@Sendable () -> Void] = []
    private var head = 0
    private var idle = 0
    private let idleSeconds: Double

    init(idleSeconds: Double) {
        self.idleSeconds = idleSeconds
    }

    func submit(_ job: @escaping @Sendable () -> Void) {
        condition.lock()
        jobs.append(job)
        let waiting = jobs.count - head
        let spawn = idle < waiting
        if !spawn { condition.signal() }
        condition.unlock()
        if spawn {
            let thread = Thread { [self] in work() }
            thread.name = "logpipe.kafka.blocking"
            thread.start()
        }
    }

    private func work() {
        condition.lock()
        while true {
            while head == jobs.count {
                idle += 1
                let signaled = condition.wait(until: Date(timeIntervalSinceNow: idleSeconds))
                idle -= 1
                if !signaled && head == jobs.count {
                    condition.unlock()
                    return
                }
            }
            let job = jobs[head]
            head += 1
            if head == jobs.count || head >= 1024 {
                jobs.removeFirst(head)
                head = 0
            }
            condition.unlock()
            job()
            condition.lock()
        }
    }
}
