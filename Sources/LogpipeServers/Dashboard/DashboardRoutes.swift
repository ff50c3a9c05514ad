import Foundation
import Hummingbird
import LogpipeBus
import LogpipeLake
import NIOCore
import Synchronization

/// The built-in dashboard: `GET /` (one self-contained page, no external assets) and
/// `GET /api/status`, the bus and lake state the page shows next to `/metrics` and the
/// analytics API.
public struct DashboardRoutes: Sendable {
    let status: PipelineStatus

    /// Routes over the status of `bus` (its topics, and the committed offsets of `group`)
    /// and of the lake in `lake`, for a process in `role` (`run`, `stream`, `collect`).
    public init(role: String, bus: (any Bus)?, group: String?, lake: (any FileStore)?) {
        status = PipelineStatus(role: role, bus: bus, group: group, lake: lake)
    }

    /// Adds `GET /` and `GET /api/status`.
    public func add<Context: RequestContext>(to router: Router<Context>) {
        router.get("/") { _, _ in
            Response(status: .ok, headers: [.contentType: "text/html; charset=utf-8", .cacheControl: "no-store"],
                     body: ResponseBody(byteBuffer: ByteBuffer(string: DashboardPage.html)))
        }
        router.get("api/status") { _, _ -> Response in
            let body = await self.status.snapshot()
            do {
                let encoder = JSONEncoder()
                encoder.keyEncodingStrategy = .convertToSnakeCase
                encoder.outputFormatting = [.sortedKeys]
                return Response(status: .ok, headers: [.contentType: "application/json", .cacheControl: "no-store"],
                                body: ResponseBody(byteBuffer: ByteBuffer(bytes: try encoder.encode(body))))
            } catch {
                return errorResponse(.internalServerError, "could not encode the status: \(error)")
            }
        }
    }
}

/// What `GET /api/status` answers.
struct StatusBody: Codable, Sendable {
    struct Partition: Codable, Sendable {
        var partition: Int32
        var lowWatermark: Int64
        var highWatermark: Int64
        var sizeBytes: Int64
        /// The stream group's committed offset (the lake's commit point), when it has one.
        var committedOffset: Int64?
        /// Records appended but not yet committed by the stream group.
        var lag: Int64?
    }

    struct Topic: Codable, Sendable {
        var name: String
        var partitions: [Partition]
    }

    struct Dataset: Codable, Sendable {
        var name: String
        var partitions: Int
        var files: Int
        var bytes: Int64
        /// When the newest data file appeared, epoch seconds.
        var lastFileTime: Double?
    }

    var role: String
    var version: String
    var now: Double
    var startedAt: Double
    var group: String?
    var topics: [Topic]
    var lake: [Dataset]
    /// Why the bus or the lake could not be read, if either could not.
    var errors: [String]
}

/// Reads the bus and the lake for the status endpoint; the lake listing is cached for a
/// few seconds, since a page polls often and a big lake has many files.
final class PipelineStatus: Sendable {
    let role: String
    let bus: (any Bus)?
    let group: String?
    let lake: (any FileStore)?
    let startedAt = Date().timeIntervalSince1970
    private let lakeCache = Mutex<(at: Double, datasets: [StatusBody.Dataset])?>(nil)
    static let lakeCacheSeconds = 3.0

    init(role: String, bus: (any Bus)?, group: String?, lake: (any FileStore)?) {
        self.role = role
        self.bus = bus
        self.group = group
        self.lake = lake
    }

    func snapshot() async -> StatusBody {
        var errors: [String] = []
        var topics: [StatusBody.Topic] = []
        if let bus {
            do {
                for info in try await bus.topics().sorted(by: { $0.name < $1.name }) {
                    var committed: [Int32: Int64] = [:]
                    if let group { committed = try await bus.committedOffsets(group: group, topic: info.name) }
                    topics.append(StatusBody.Topic(name: info.name, partitions: info.partitions.map { p in
                        let offset = committed[p.partition]
                        return StatusBody.Partition(
                            partition: p.partition, lowWatermark: p.lowWatermark, highWatermark: p.highWatermark,
                            sizeBytes: p.sizeBytes, committedOffset: offset,
                            lag: offset.map { max(0, p.highWatermark - $0) })
                    }))
                }
            } catch {
                errors.append("bus: \(error)")
            }
        }
        var datasets: [StatusBody.Dataset] = []
        if let lake {
            do {
                datasets = try await lakeDatasets(lake)
            } catch {
                errors.append("lake: \(error)")
            }
        }
        return StatusBody(role: role, version: LogpipeBuild.version, now: Date().timeIntervalSince1970,
                          startedAt: startedAt, group: group, topics: topics, lake: datasets, errors: errors)
    }

    private func lakeDatasets(_ lake: any FileStore) async throws -> [StatusBody.Dataset] {
        let now = Date().timeIntervalSince1970
        if let cached = lakeCache.withLock({ $0 }), now - cached.at < Self.lakeCacheSeconds { return cached.datasets }
        var out: [StatusBody.Dataset] = []
        for dataset in LakeDataset.allCases {
            var directories = Set<Substring>()
            var files = 0
            var bytes: Int64 = 0
            var newest: Double?
            let listed: [FileStatus]
            do {
                listed = try await lake.list(dataset.path, recursive: true)
            } catch FileStoreError.notFound {
                listed = []
            }
            for file in listed where LakeLayout.isDataFile(file.name) {
                files += 1
                bytes += file.size
                newest = max(newest ?? file.modified, file.modified)
                if let slash = file.path.lastIndex(of: "/") { directories.insert(file.path[..<slash]) }
            }
            out.append(StatusBody.Dataset(name: dataset.name, partitions: directories.count, files: files, bytes: bytes,
                                          lastFileTime: newest))
        }
        lakeCache.withLock { $0 = (now, out) }
        return out
    }
}
