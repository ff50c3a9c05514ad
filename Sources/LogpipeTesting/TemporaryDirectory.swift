import Foundation

/// A fresh directory under the system's temporary directory, removed by `remove()`.
public struct TemporaryDirectory: Sendable {
    /// The directory's absolute path.
    public let path: String

    /// Creates a new, empty directory whose name starts with `prefix`.
    public init(prefix: String = "logpipe-test") throws {
        let base = FileManager.default.temporaryDirectory.path
        let path = "\(base)/\(prefix)-\(UUID().uuidString.prefix(8))"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        self.path = path
    }

    /// A path inside the directory.
    public func appending(_ component: String) -> String { "\(path)/\(component)" }

    /// Deletes the directory and everything in it.
    public func remove() {
        try? FileManager.default.removeItem(atPath: path)
    }
}

/// Finds what tests run as real programs: the `logpipe` binary and a Python with pyarrow and duckdb.
public enum TestEnvironment {
    /// The `logpipe` binary: `LOGPIPE_BIN`, else the debug build beside the package.
    public static var logpipeBinary: String {
        if let path = ProcessInfo.processInfo.environment["LOGPIPE_BIN"], !path.isEmpty { return path }
        return FileManager.default.currentDirectoryPath + "/.build/debug/logpipe"
    }

    /// The Python interpreter with pyarrow and duckdb: `LOGPIPE_PYTHON`, else `.venv/bin/python`, else `python3`.
    public static var python: String {
        if let path = ProcessInfo.processInfo.environment["LOGPIPE_PYTHON"], !path.isEmpty { return path }
        let venv = FileManager.default.currentDirectoryPath + "/.venv/bin/python"
        return FileManager.default.isExecutableFile(atPath: venv) ? venv : "/usr/bin/env"
    }

    /// Arguments to put before a script path when running `python`.
    public static var pythonPrefixArguments: [String] { python == "/usr/bin/env" ? ["python3"] : [] }
}
