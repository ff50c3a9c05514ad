import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A server a test started (a broker, an object store), or a test disk it mounted, stopped
/// when the test is done.
public protocol TestServer: Sendable {
    /// Stops the server and releases what it holds.
    func stop() async
}

extension TestServer {
    /// Runs `body` with this server and stops the server afterwards, also when `body` throws.
    public func serve<T>(_ body: (Self) async throws -> T) async throws -> T {
        do {
            let result = try await body(self)
            await stop()
            return result
        } catch {
            await stop()
            throw error
        }
    }
}

/// TCP ports on 127.0.0.1 for servers that tests start as child processes.
public enum LoopbackPort {
    /// Why a port could not be had or never answered.
    public struct Failure: Error, CustomStringConvertible {
        /// What went wrong.
        public var description: String
    }

    /// A port that nothing listens on right now (the kernel's choice for port 0).
    public static func free() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw Failure(description: "socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var address = loopback(port: 0)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else { throw Failure(description: "bind: \(String(cString: strerror(errno)))") }
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let named = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard named == 0 else { throw Failure(description: "getsockname: \(String(cString: strerror(errno)))") }
        return Int(UInt16(bigEndian: address.sin_port))
    }

    /// Whether something accepts connections on `port`.
    public static func accepts(_ port: Int) -> Bool {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var address = loopback(port: port)
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
    }

    /// Waits until something accepts connections on `port`, or throws after `timeout`.
    /// `describe` explains the failure (e.g. the child's standard error).
    public static func waitUntilListening(
        _ port: Int, timeout: Duration = .seconds(15), describe: () -> String = { "" }
    ) async throws {
        let deadline = ContinuousClock.now + timeout
        while ContinuousClock.now < deadline {
            if accepts(port) { return }
            try await Task.sleep(for: .milliseconds(20))
        }
        throw Failure(description: "nothing listened on 127.0.0.1:\(port) within \(timeout). \(describe())")
    }

    /// Starts a server child on `portCount` fresh ports and returns what `ready` makes of it
    /// once it serves. A port found free can be taken before the child binds it, so a child
    /// that failed with "Address already in use" (or silently) is killed and started again
    /// on other ports, up to `attempts` times; one that failed any other way (a missing
    /// module, a Python error) would fail the same way again, so its error is thrown at once.
    public static func launch<Server>(
        ports portCount: Int, attempts: Int = 3,
        start: ([Int]) throws -> ChildProcess,
        ready: (ChildProcess, [Int]) async throws -> Server
    ) async throws -> Server {
        var lastError: any Error = Failure(description: "no attempt made")
        for _ in 0..<attempts {
            let ports = try (0..<portCount).map { _ in try free() }
            let process = try start(ports)
            do {
                return try await ready(process, ports)
            } catch {
                lastError = error
                process.kill(SIGKILL)
                await process.waitForExit()
                let text = String(decoding: process.standardError, as: UTF8.self)
                if !text.isEmpty && !text.contains("Address already in use") { break }
            }
        }
        throw lastError
    }

    private static func loopback(port: Int) -> sockaddr_in {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = in_addr_t(0x7f00_0001).bigEndian
        return address
    }
}
