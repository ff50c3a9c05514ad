import Dispatch
import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A child process whose standard output and error are collected, for tests
/// that kill processes at random moments and check what they left behind.
///
/// Spawned with `posix_spawn` rather than `Foundation.Process` so that killing
/// and reaping are plain `kill`/`waitpid` with no run loop involved.
public final class ChildProcess: Sendable {
    /// The child's process id.
    public let pid: pid_t
    private let stdoutBytes = OutputBuffer()
    private let stderrBytes = OutputBuffer()
    private let readersDone = DispatchSemaphore(value: 0)
    private let exitStatus = Mutex<Int32?>(nil)

    /// Spawns `executable` with `arguments`; its standard input is /dev/null.
    public init(executable: String, arguments: [String], environment: [String: String]? = nil) throws {
        var outPipe: [Int32] = [0, 0]
        var errPipe: [Int32] = [0, 0]
        guard pipe(&outPipe) == 0, pipe(&errPipe) == 0 else { throw ChildProcessError.spawn("pipe: \(String(cString: strerror(errno)))") }
        for fd in [outPipe[0], errPipe[0], outPipe[1], errPipe[1]] { _ = fcntl(fd, F_SETFD, FD_CLOEXEC) }

        #if canImport(Darwin)
        var actions: posix_spawn_file_actions_t? = nil
        #else
        var actions = posix_spawn_file_actions_t()
        #endif
        posix_spawn_file_actions_init(&actions)
        defer { posix_spawn_file_actions_destroy(&actions) }
        posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0)
        posix_spawn_file_actions_adddup2(&actions, outPipe[1], 1)
        posix_spawn_file_actions_adddup2(&actions, errPipe[1], 2)

        let argv: [UnsafeMutablePointer<CChar>?] = ([executable] + arguments).map { strdup($0) } + [nil]
        defer { for p in argv { free(p) } }
        var envp: [UnsafeMutablePointer<CChar>?] = []
        if let environment {
            envp = environment.map { strdup("\($0.key)=\($0.value)") } + [nil]
        }
        defer { for p in envp { free(p) } }

        var child: pid_t = 0
        let rc: Int32
        if environment != nil {
            rc = posix_spawn(&child, executable, &actions, nil, argv, envp)
        } else {
            rc = posix_spawn(&child, executable, &actions, nil, argv, environ)
        }
        close(outPipe[1])
        close(errPipe[1])
        if rc != 0 {
            close(outPipe[0])
            close(errPipe[0])
            throw ChildProcessError.spawn("\(executable): \(String(cString: strerror(rc)))")
        }
        pid = child
        for (fd, sink) in [(outPipe[0], stdoutBytes), (errPipe[0], stderrBytes)] {
            // Drained continuously so a chatty child never blocks on a full pipe.
            let done = readersDone
            let thread = Thread {
                var chunk = [UInt8](repeating: 0, count: 65536)
                while true {
                    let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
                    if n < 0 && errno == EINTR { continue }
                    if n <= 0 { break }
                    sink.bytes.withLock { $0.append(contentsOf: chunk[0..<n]) }
                }
                close(fd)
                done.signal()
            }
            thread.start()
        }
    }

    /// Sends a signal (SIGKILL by default).
    public func kill(_ signal: Int32 = SIGKILL) {
        _ = sendSignal(pid, signal)
    }

    /// Waits for the child to exit and both output pipes to close; returns the
    /// raw wait status (see `exitedNormally`, `exitCode`, `killedBySignal`).
    @discardableResult
    public func waitForExit() async -> Int32 {
        if let status = exitStatus.withLock({ $0 }) { return status }
        let status: Int32 = await withCheckedContinuation { c in
            let pid = self.pid
            let done = readersDone
            DispatchQueue.global().async {
                var status: Int32 = 0
                while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
                done.wait()
                done.wait()
                c.resume(returning: status)
            }
        }
        exitStatus.withLock { $0 = status }
        return status
    }

    /// Everything the child wrote to standard output so far.
    public var standardOutput: [UInt8] { stdoutBytes.bytes.withLock { $0 } }
    /// Everything the child wrote to standard error so far.
    public var standardError: [UInt8] { stderrBytes.bytes.withLock { $0 } }

    /// The signal that ended a process, from a wait status, or nil if it exited.
    public static func killedBySignal(_ status: Int32) -> Int32? {
        let sig = status & 0x7f
        return sig != 0 && sig != 0x7f ? sig : nil
    }

    /// The exit code from a wait status, or nil if a signal ended the process.
    public static func exitCode(_ status: Int32) -> Int32? {
        status & 0x7f == 0 ? (status >> 8) & 0xff : nil
    }
}

/// Why a child process could not be started.
public enum ChildProcessError: Error, CustomStringConvertible {
    /// `posix_spawn` or `pipe` failed.
    case spawn(String)

    public var description: String {
        switch self {
        case .spawn(let s): "cannot spawn child process: \(s)"
        }
    }
}

/// Bytes a reader thread appends and the test reads.
private final class OutputBuffer: Sendable {
    let bytes = Mutex<[UInt8]>([])
}

/// `kill(2)`, out of reach by name inside `ChildProcess`, whose method shadows it.
private func sendSignal(_ pid: pid_t, _ sig: Int32) -> Int32 { kill(pid, sig) }
