import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// A configuration refused before anything starts or is written: one line saying what
/// is wrong and how to fix it (ArgumentParser prints it as `Error: …` and exits 1).
struct ConfigurationRefused: Error, CustomStringConvertible {
    /// What is wrong and how to fix it.
    var description: String
    init(_ description: String) { self.description = description }
}

/// Where the lake lives, parsed from `--lake` (or `lake.dir`): the one place that knows
/// which lake URLs this build takes. A new store adds its scheme here, as a new case.
enum LakeLocation: Equatable {
    /// A directory on this machine: a plain path or a `file://` URL.
    case local(directory: String)
    /// S3-compatible object storage: `s3://bucket/prefix` (`Settings.openLake`).
    case s3(url: String)
    /// HDFS through WebHDFS: `webhdfs://namenode:9870/path`, or `swebhdfs://` over HTTPS.
    case webhdfs(url: String)

    /// Parses `text`, refusing a URL scheme this build has no store for rather than
    /// taking `s3://bucket` for a directory named `s3:`.
    init(parsing text: String, flag: String = "--lake") throws(ConfigurationRefused) {
        guard !text.isEmpty else { throw ConfigurationRefused("\(flag) is empty: give a directory") }
        guard let scheme = urlScheme(text) else {
            try refuseMistypedURL(text, flag: flag, schemes: ["file", "s3", "webhdfs", "swebhdfs"], example: "s3://bucket/prefix")
            self = .local(directory: text)
            return
        }
        switch scheme {
        case "file":
            guard let url = URL(string: text), url.host == nil || url.host == "" || url.host == "localhost", !url.path.isEmpty else {
                throw ConfigurationRefused("\(flag) \(text): a file URL must be file:///absolute/path")
            }
            self = .local(directory: url.path)
        case "s3":
            self = .s3(url: text)
        case "webhdfs", "swebhdfs":
            self = .webhdfs(url: text)
        default:
            throw ConfigurationRefused("\(flag) \(text): unknown lake scheme \(scheme)://; use a directory path, file:///path, s3://bucket/prefix or webhdfs://namenode:9870/path")
        }
    }

    /// The directory a local lake writes to.
    var localDirectory: String? {
        switch self {
        case .local(let directory): directory
        case .s3, .webhdfs: nil
        }
    }
}

/// Where the bus lives, parsed from `--bus`: the embedded log in a directory or a Kafka cluster.
enum BusLocation: Equatable {
    /// The embedded log: `local:PATH` or a plain path.
    case local(directory: String)
    /// A Kafka cluster: `kafka://host:port[,host:port…]`.
    case kafka(url: String)

    /// Parses `text`, refusing unknown schemes and malformed broker lists.
    init(parsing text: String) throws(ConfigurationRefused) {
        if text.hasPrefix("local:") {
            let path = String(text.dropFirst("local:".count))
            guard !path.isEmpty else { throw ConfigurationRefused("--bus local:PATH needs a directory") }
            self = .local(directory: path)
            return
        }
        guard let scheme = urlScheme(text) else {
            guard !text.isEmpty else { throw ConfigurationRefused("--bus is empty: use local:PATH or kafka://host:port") }
            try refuseMistypedURL(text, flag: "--bus", schemes: ["kafka"], example: "kafka://host:port")
            self = .local(directory: text)
            return
        }
        guard scheme == "kafka" else {
            throw ConfigurationRefused("--bus \(text): unknown bus scheme \(scheme)://; use local:PATH or kafka://host:port[,host:port]")
        }
        let brokers = text.dropFirst("kafka://".count).split(separator: ",", omittingEmptySubsequences: false)
        for broker in brokers {
            let trimmed = broker.hasSuffix("/") ? broker.dropLast() : broker
            guard let colon = trimmed.lastIndex(of: ":"), colon != trimmed.startIndex,
                  !trimmed[..<colon].contains("/"), let port = Int(trimmed[trimmed.index(after: colon)...]), (1...65535).contains(port)
            else {
                throw ConfigurationRefused("--bus \(text): each broker must be host:port with a port from 1 to 65535")
            }
        }
        self = .kafka(url: text)
    }
}

/// Refuses `text` when it is one of `schemes` with a colon but without `://` (`s3:/bucket`,
/// `kafka:broker:9092`): taken as a directory it would quietly put the lake or the bus under
/// `./s3:` instead of where the user meant.
private func refuseMistypedURL(_ text: String, flag: String, schemes: [String], example: String) throws(ConfigurationRefused) {
    guard let colon = text.firstIndex(of: ":"), schemes.contains(text[..<colon].lowercased()) else { return }
    throw ConfigurationRefused("\(flag) \(text): a URL needs \(text[..<colon])://, e.g. \(example) (a directory named \(text[...colon]) would be ./\(text))")
}

/// The scheme of `text` when it is written as a URL (`scheme://…`), lower-cased.
private func urlScheme(_ text: String) -> String? {
    guard let range = text.range(of: "://") else { return nil }
    let scheme = text[..<range.lowerBound]
    guard let first = scheme.first, first.isLetter,
          scheme.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "+" || $0 == "-" || $0 == "." })
    else { return nil }
    return scheme.lowercased()
}

/// Checks made before a role opens anything, so a bad setting is refused with one line and
/// nothing created on disk.
enum Preflight {
    /// An HTTP(S) URL something is posted to (`--alert-webhook`, `--collector-url`).
    static func checkHTTPURL(_ text: String, flag: String) throws(ConfigurationRefused) {
        guard let url = URL(string: text), let scheme = url.scheme?.lowercased(), scheme == "http" || scheme == "https",
              let host = url.host, !host.isEmpty
        else {
            throw ConfigurationRefused("\(flag) \(text): expected an http:// or https:// URL with a host")
        }
        if let port = url.port, !(1...65535).contains(port) {
            throw ConfigurationRefused("\(flag) \(text): port \(port) is out of range")
        }
    }

    /// A directory the role will create or write: it must be a directory if it exists, and
    /// writable, or its nearest existing ancestor must be — checked without creating it.
    static func checkWritableDirectory(_ path: String, flag: String) throws(ConfigurationRefused) {
        var candidate = URL(fileURLWithPath: path).standardizedFileURL.path
        var isDirectory: ObjCBool = false
        while !FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory) {
            let parent = (candidate as NSString).deletingLastPathComponent
            if parent == candidate || parent.isEmpty { break }
            candidate = parent
        }
        guard isDirectory.boolValue else {
            throw ConfigurationRefused("\(flag) \(path): \(candidate) exists and is not a directory")
        }
        // access() says yes to root even where nothing can be made (/proc), so a probe
        // directory is made and removed at once: the answer the role itself would get.
        let probe = "\(candidate)/.logpipe-preflight-\(getpid())"
        let writable = access(candidate, W_OK | X_OK) == 0 && mkdir(probe, 0o700) == 0
        if writable { rmdir(probe) }
        guard writable else {
            let what = candidate == URL(fileURLWithPath: path).standardizedFileURL.path ? "is not writable" : "cannot be created: \(candidate) is not writable"
            throw ConfigurationRefused("\(flag) \(path) \(what)")
        }
    }

    /// A port in range that nothing else listens on at `host` (0 asks the system for one).
    static func checkPort(_ port: Int, host: String, flag: String) throws(ConfigurationRefused) {
        guard (0...65535).contains(port) else {
            throw ConfigurationRefused("\(flag) \(port): a port is 0 to 65535")
        }
        guard port != 0, let inUse = portInUse(port, host: host), inUse else { return }
        throw ConfigurationRefused("\(flag) \(port): \(host):\(port) is already in use")
    }

    /// Whether binding `host:port` fails with EADDRINUSE, or nil when `host` is not an
    /// address literal (a name is resolved by the server itself, which then reports).
    private static func portInUse(_ port: Int, host: String) -> Bool? {
        let literal = host == "localhost" ? "127.0.0.1" : host.trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
        var v4 = sockaddr_in()
        var v6 = sockaddr_in6()
        let family: Int32
        if inet_pton(AF_INET, literal, &v4.sin_addr) == 1 {
            family = AF_INET
            v4.sin_family = sa_family_t(AF_INET)
            v4.sin_port = in_port_t(UInt16(port).bigEndian)
        } else if inet_pton(AF_INET6, literal, &v6.sin6_addr) == 1 {
            family = AF_INET6
            v6.sin6_family = sa_family_t(AF_INET6)
            v6.sin6_port = in_port_t(UInt16(port).bigEndian)
        } else {
            return nil
        }
        let fd = socket(family, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return nil }
        defer { close(fd) }
        // The servers set SO_REUSEADDR too: a port held only by TIME_WAIT connections is free.
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        let result: Int32 = family == AF_INET
            ? withUnsafePointer(to: &v4) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            : withUnsafePointer(to: &v6) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in6>.size)) } }
        return result != 0 && errno == EADDRINUSE
    }
}
