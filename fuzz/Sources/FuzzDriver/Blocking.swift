import Dispatch
import Foundation

/// Runs async `body` to completion from libFuzzer's synchronous callback.
public func blocking<T: Sendable>(_ body: @escaping @Sendable () async throws -> T) -> Result<T, any Error> {
    let done = DispatchSemaphore(value: 0)
    nonisolated(unsafe) var result: Result<T, any Error>?
    Task {
        do { result = .success(try await body()) } catch { result = .failure(error) }
        done.signal()
    }
    done.wait()
    return result!
}

/// A fresh scratch directory for one harness run, on /dev/shm when there is one (fsyncs
/// are free there, so a harness that writes files still runs thousands of inputs a second).
public func scratchDirectory(_ name: String) -> String {
    let base = FileManager.default.fileExists(atPath: "/dev/shm") ? "/dev/shm" : NSTemporaryDirectory()
    let path = "\(base)/logpipe-fuzz-\(name)-\(getpid())"
    try? FileManager.default.removeItem(atPath: path)
    try! FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    return path
}

/// With `LOGPIPE_FUZZ_SEED=path`, a harness writes a valid seed input there and exits
/// instead of fuzzing (the seeds in fuzz/corpus were made so).
public func writeSeedIfAsked(_ make: () throws -> [UInt8]) {
    guard let path = ProcessInfo.processInfo.environment["LOGPIPE_FUZZ_SEED"] else { return }
    try! Data(try! make()).write(to: URL(fileURLWithPath: path))
    exit(0)
}
