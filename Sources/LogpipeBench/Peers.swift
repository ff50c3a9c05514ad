import Foundation

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

    /// Seconds since `start`, as a double.
    static func seconds(since start: ContinuousClock.Instant) -> Double {
        let d = ContinuousClock.now - start
        return Double(d.components.seconds) + Double(d.components.attoseconds) / 1e18
    }
}
