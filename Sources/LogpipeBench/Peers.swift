import Foundation
import Synchronization

/// What the benchmarks share for running peers and timing.
enum Peers {
    /// A peer that exited with an error.
    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    /// Runs `script` with `python` (pyarrow, duckdb and maybe pyspark installed) and
    /// returns its standard output; its standard error shows as the peer's progress.
    static func runPython(_ python: String, script: String, arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, "-c", script] + arguments
        let out = Pipe()
        process.standardOutput = out
        process.standardError = FileHandle.standardError
        try process.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw Failure(description: "python peer exited with \(process.terminationStatus)")
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Runs `executable arguments` to its end and returns its exit status, standard output
    /// and standard error. Both pipes are drained at once: a child that fills one pipe's
    /// buffer (64 KiB) while the other is being read would otherwise block for ever, as
    /// `stream --once` did on small inputs, whose noisy minutes log hundreds of alerts.
    static func capture(_ executable: String, _ arguments: [String]) throws -> (status: Int32, stdout: Data, stderr: Data) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: executable)
        process.arguments = arguments
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try process.run()
        let stderr = Mutex(Data())
        let drained = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            let data = err.fileHandleForReading.readDataToEndOfFile()
            stderr.withLock { $0 = data }
            drained.signal()
        }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        drained.wait()
        process.waitUntilExit()
        return (process.terminationStatus, stdout, stderr.withLock { $0 })
    }

    /// Seconds since `start`, as a double.
    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
