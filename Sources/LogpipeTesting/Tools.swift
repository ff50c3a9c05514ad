import Foundation
import Synchronization

extension TestEnvironment {
    /// The full path of `name` on `PATH`, or an error that says which Debian package
    /// provides it (`scripts/setup test` installs them): tests that need a tool fail, never skip.
    public static func tool(_ name: String, debianPackage: String) throws -> String {
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/local/bin:/usr/bin:/bin"
        for directory in path.split(separator: ":") {
            let candidate = "\(directory)/\(name)"
            if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
        }
        throw ToolMissing(description: "\(name) is not on PATH: install Debian's \(debianPackage) (scripts/setup test does)")
    }

    /// The repository root: tests run from the package directory.
    public static var repositoryRoot: String { FileManager.default.currentDirectoryPath }
}

/// A tool a test needs is not installed.
public struct ToolMissing: Error, CustomStringConvertible {
    /// Which tool and how to install it.
    public var description: String
}

extension ChildProcess {
    /// Runs `executable` to completion (with `environment` when given, else this process's);
    /// returns its exit status and output. Kills it and throws after `timeout`.
    public static func run(
        _ executable: String, _ arguments: [String], environment: [String: String]? = nil, timeout: Duration = .seconds(60)
    ) async throws -> (status: Int32, output: String, error: String) {
        let child = try ChildProcess(executable: executable, arguments: arguments, environment: environment)
        let expired = Mutex(false)
        let timer = Task {
            try await Task.sleep(for: timeout)
            expired.withLock { $0 = true }
            child.kill()
        }
        let status = await child.waitForExit()
        timer.cancel()
        let timedOut = expired.withLock { $0 }
        let output = String(decoding: child.standardOutput, as: UTF8.self)
        let error = String(decoding: child.standardError, as: UTF8.self)
        if timedOut { throw ChildProcessError.spawn("\(executable) \(arguments.joined(separator: " ")) ran longer than \(timeout): \(error)") }
        return (status, output, error)
    }
}
