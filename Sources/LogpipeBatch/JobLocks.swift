import Foundation
import Logging
import LogpipeLake

#if canImport(Glibc)
import Glibc
#endif

/// Who may run a job now: at most one holder per job across every scheduler process.
public protocol JobLocks: Sendable {
    /// Takes the lock of `job` without waiting; `nil` when another process or task holds it.
    func acquire(_ job: String) async throws -> (any JobLease)?
}

/// A held job lock.
public protocol JobLease: Sendable {
    /// Gives the lock up (it also lapses if the holder dies).
    func release() async
}

/// Job locks as `flock`s on files in a local directory (the lake's own `_logpipe/jobs` when
/// the lake is local): the kernel releases them when a process dies.
public struct FileJobLocks: JobLocks {
    /// The directory holding `<job>.lock`.
    public let directory: String

    /// Locks in `directory`.
    public init(directory: String) { self.directory = directory }

    public func acquire(_ job: String) async throws -> (any JobLease)? {
        FileLock(path: "\(directory)/\(job).lock").map(FileLease.init)
    }

    private struct FileLease: JobLease, @unchecked Sendable {
        let lock: FileLock
        func release() async { withExtendedLifetime(lock) {} }
    }
}

/// Job locks as leases in the lake itself, for stores no two processes share a kernel on
/// (S3, WebHDFS). A lease is a numbered file under `_logpipe/jobs/<job>/lease/`, created with
/// `createExclusive`: the holder of the newest number holds the job until the expiry written
/// in it. Taking, renewing and releasing each create the next number, so of two processes
/// acting on the same view exactly one succeeds, whatever the store's timing.
///
/// The holder renews every third of `ttlSeconds`; a holder that stalls longer than the TTL
/// (or dies) loses the job to the next scheduler, which is how a crash is survived. A run
/// whose holder stalled past its TTL can overlap its successor's; the TTL (default 2 min)
/// is therefore far above any pause a healthy process takes.
public struct StoreJobLeases: JobLocks {
    /// The lake.
    public let store: any FileStore
    /// How long a lease lasts without renewal.
    public let ttlSeconds: Double
    /// Who takes leases (written into them, for operators).
    public let owner: String
    let logger: Logger

    /// Leases in `store`.
    public init(store: any FileStore, ttlSeconds: Double = 120, owner: String = "\(ProcessInfo.processInfo.hostName):\(getpid())",
                logger: Logger = Logger(label: "logpipe.scheduler")) {
        self.store = store
        self.ttlSeconds = ttlSeconds
        self.owner = owner
        self.logger = logger
    }

    /// The directory of `job`'s lease files.
    public static func directory(_ job: String) -> String { "\(JobHistory.directory)/\(job)/lease" }

    struct LeaseFile: Codable {
        var owner: String
        var expires: Double
    }

    static func name(_ number: Int64) -> String { String(format: "%020lld.json", number) }

    public func acquire(_ job: String) async throws -> (any JobLease)? {
        let dir = Self.directory(job)
        let numbers = try await store.list(dir, recursive: false)
            .compactMap { $0.name.hasSuffix(".json") ? Int64($0.name.dropLast(5)) : nil }.sorted()
        let newest = numbers.last ?? 0
        if newest > 0 {
            let bytes: [UInt8]
            do {
                bytes = try await store.read("\(dir)/\(Self.name(newest))")
            } catch FileStoreError.notFound {
                return nil  // pruned by a newer holder
            }
            let lease = try JSONDecoder().decode(LeaseFile.self, from: Data(bytes))
            if lease.expires > Date().timeIntervalSince1970 { return nil }
        }
        guard try await create(job, newest + 1, expires: Date().timeIntervalSince1970 + ttlSeconds) else { return nil }
        for old in numbers { try? await store.delete("\(dir)/\(Self.name(old))") }
        return StoreLease(locks: self, job: job, number: newest + 1)
    }

    func create(_ job: String, _ number: Int64, expires: Double) async throws -> Bool {
        let bytes = try JSONEncoder().encode(LeaseFile(owner: owner, expires: expires))
        return try await store.createExclusive("\(Self.directory(job))/\(Self.name(number))", contents: Array(bytes))
    }

    /// A held lease, renewed in the background until released.
    final class StoreLease: JobLease, @unchecked Sendable {
        let locks: StoreJobLeases
        let job: String
        /// The number held; only the renewal task and `release` (after cancelling it) touch it.
        private var number: Int64
        private var renewal: Task<Void, Never>?

        init(locks: StoreJobLeases, job: String, number: Int64) {
            self.locks = locks
            self.job = job
            self.number = number
            renewal = Task { [weak self] in await self?.renewUntilCancelled() }
        }

        private func renewUntilCancelled() async {
            while !Task.isCancelled {
                try? await Task.sleep(nanoseconds: UInt64(locks.ttlSeconds / 3 * 1e9))
                if Task.isCancelled { return }
                do {
                    if try await locks.create(job, number + 1, expires: Date().timeIntervalSince1970 + locks.ttlSeconds) {
                        try? await locks.store.delete("\(StoreJobLeases.directory(job))/\(StoreJobLeases.name(number))")
                        number += 1
                    } else {
                        locks.logger.error("job lease lost to another scheduler", metadata: ["job": "\(job)"])
                        return
                    }
                } catch {
                    locks.logger.warning("job lease renewal failed", metadata: ["job": "\(job)", "error": "\(error)"])
                }
            }
        }

        func release() async {
            renewal?.cancel()
            await renewal?.value
            // An expired marker hands the job over now rather than at the TTL.
            if (try? await locks.create(job, number + 1, expires: 0)) == true {
                try? await locks.store.delete("\(StoreJobLeases.directory(job))/\(StoreJobLeases.name(number))")
            }
        }
    }
}
