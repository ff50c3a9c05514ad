import Foundation
@testable import LogpipeAnalytics
import LogpipeGenerator
import LogpipeRecords
import Testing

/// `LogWindows.add` groups rows through per-batch value codes (short values held in the
/// code table itself), a per-key cache of each key's last window and slot, and a flat
/// hash index; `WindowTable` moves closed states out instead of copying them. Checked
/// here against the plainest model of the same semantics: every row, in order, classified
/// by its own watermark and added to a dictionary keyed by (window start, name), with the
/// same state types. After every micro-batch each family's open windows must equal the
/// model's, state for state (sums bit for bit, sketches bin for bin, exact distinct
/// hashes), and the closed and late rows must agree in number.
@Suite("Per-record aggregation against a dictionary model")
struct AggregationModelTests {
    /// Rows with every kind of key the encoders tell apart: services of 1 to 28 bytes (the
    /// code table holds values of up to 16 bytes inline, longer ones by hash), thousands of
    /// IPs (more than the 4 Ki cells the table starts from), empty and missing IPs and
    /// users, missing response times and statuses; times mostly in order with jitter, some
    /// rows far behind (late) and some ahead of their arrival (future).
    static func rows(count: Int, seed: UInt64) -> (lines: [String], endMicros: Int64) {
        var random = SeededRandom(seed: seed)
        let services = ["a", "ab", "abc", "abcd", "api-gw", "auth-svc", "payment", "payments", "cart-service",
                        "order-service-1", "inventory-service", "notification-service-eu-west"]
        var lines: [String] = []
        var t = epoch0
        for _ in 0..<count {
            t += Double(random.below(100_000)) / 1_000_000
            var at = t
            switch random.below(200) {
            case 0: at -= Double(400 + random.below(600))                 // late
            case 1: at += 1_000_000                                        // future
            case 2..<20: at -= Double(random.below(120_000_000)) / 1_000_000  // out of order, within lateness
            default: break
            }
            let ip: String? = switch random.below(50) {
            case 0: nil
            case 1: ""
            default: "10.\(random.below(12)).\(random.below(20)).\(random.below(30))"
            }
            let user: String? = random.below(40) == 0 ? nil : "user_\(random.below(random.below(2) == 0 ? 3 : 700))"
            lines.append(logLine(t: at, service: services[random.below(services.count)],
                                 rt: random.below(30) == 0 ? nil : Double(random.below(3_000)) + (random.below(4) == 0 ? 0.25 : 0),
                                 status: random.below(30) == 0 ? nil : [200, 201, 204, 301, 404, 500, 503][random.below(7)],
                                 ip: ip, user: user))
        }
        return (lines, micros(t))
    }

    @Test("every family's open windows equal the model after each batch, tumbling and sliding, all batch sizes")
    func openWindowsMatchModel() throws {
        var sliding = AnalyticsConfiguration()
        sliding.serviceWindow = .sliding(seconds: 120, every: 60)
        sliding.clientWindow = .sliding(seconds: 300, every: 60)
        sliding.floodWindow = .sliding(seconds: 60, every: 30)
        sliding.systemWindow = .sliding(seconds: 180, every: 60)
        for (config, seed) in [(AnalyticsConfiguration(), UInt64(1)), (sliding, UInt64(2))] {
            let (lines, end) = Self.rows(count: 32_000, seed: seed)
            let all = try logBatch(lines)
            #expect(all.count == lines.count)
            var analytics = StreamAnalytics(configuration: config)
            var model = Model(configuration: config)
            var random = SeededRandom(seed: seed + 10)
            let now = end + 60_000_000
            var start = 0
            var batches = 0, parallelBatches = 0, closedServices = 0, lateRows = 0, futureRows = 0
            while start < all.count {
                // Batch sizes from 1 row to several thousand: both the per-call key cache
                // and the code table's growth from its previous size are crossed; every
                // eighth is large enough to be aggregated on two threads.
                let size = batches % 8 == 4 ? LogWindows.parallelRows + 808 : [1, 7, 300, 900, 2_500, 6_000][random.below(6)]
                if size > LogWindows.parallelRows { parallelBatches += 1 }
                let end = min(all.count, start + size)
                let batch = slice(all, start..<end)
                let out = analytics.process(logs: batch, nowMicros: now)
                let expected = model.add(batch, nowMicros: now)
                #expect(out.lateRows == expected.late)
                #expect(out.futureRows == expected.future)
                #expect(out.services.count == expected.closedServices)
                lateRows += out.lateRows.count
                futureRows += out.futureRows.count
                closedServices += out.services.count
                try model.expectEqual(analytics.logs)
                start = end
                batches += 1
            }
            let closedAtEnd = analytics.finish().services.count
            #expect(closedAtEnd == model.openServiceWindows)
            // The rows did reach every path: many batches, late and future rows, closes.
            #expect(batches > 8 && parallelBatches > 0 && lateRows > 50 && futureRows > 50 && closedServices > 100,
                    "\(batches) batches (\(parallelBatches) on two threads), \(lateRows) late, \(futureRows) future, \(closedServices) closed")
            #expect(model.ipCount > 4_096)
        }
    }

    /// The model: per family, (window start, name) → state, filled row by row.
    struct Model {
        let configuration: AnalyticsConfiguration
        var watermark: Watermark
        var services: [Key: ServiceState] = [:]
        var clients: [Key: ClientState] = [:]
        var floods: [Key: ClientState] = [:]
        var system: [Int64: (state: SystemState, services: Set<String>)] = [:]
        var clientServices: [Key: Set<String>] = [:]
        var ips = Set<String>()

        struct Key: Hashable {
            var start: Int64
            var name: String
        }

        init(configuration: AnalyticsConfiguration) {
            self.configuration = configuration
            watermark = Watermark(latenessMicros: configuration.allowedLatenessMicros)
        }

        var openServiceWindows: Int { services.count }
        var ipCount: Int { ips.count }

        static func starts(_ t: Int64, _ spec: WindowSpec) -> [Int64] {
            (0..<spec.windowsPerRecord).map { spec.lastStart(t) - Int64($0) * spec.slideMicros }
                .filter { $0 > t - spec.sizeMicros }
        }

        static func string(_ c: StringColumn, _ row: Int) -> String? {
            if let v = c.validity, !v[row] { return nil }
            return String(decoding: c.bytes[Int(c.offsets[row])..<Int(c.offsets[row + 1])], as: UTF8.self)
        }

        static func userHash(_ c: StringColumn, _ row: Int) -> UInt64? {
            if let v = c.validity, !v[row] { return nil }
            return c.bytes[Int(c.offsets[row])..<Int(c.offsets[row + 1])].withUnsafeBytes { hashBytes($0) }
        }

        /// Adds a batch; returns its late and future rows and how many service windows closed.
        mutating func add(_ batch: LogBatch, nowMicros: Int64) -> (late: [Int], future: [Int], closedServices: Int) {
            let c = configuration
            let limit = nowMicros + c.maxFutureSkewMicros
            var late: [Int] = [], future: [Int] = []
            for row in 0..<batch.count {
                let t = batch.timestampMicros.values[row]
                switch watermark.admit(t, limit: limit) {
                case .late: late.append(row); continue
                case .future: future.append(row); continue
                case .onTime: break
                }
                let service = Self.string(batch.service, row)!
                let ip = Self.string(batch.clientIp, row)
                let user = Self.userHash(batch.userId, row)
                let rt = batch.responseTimeMs.validity.map { $0[row] } ?? true ? batch.responseTimeMs.values[row] : nil
                let status = batch.statusCode.validity.map { $0[row] } ?? true ? batch.statusCode.values[row] : nil
                for start in Self.starts(t, c.serviceWindow) {
                    var s = services[Key(start: start, name: service)] ?? ServiceState(accuracy: c.quantileAccuracy)
                    s.requests += 1
                    if let status {
                        if status >= 400 { s.errors += 1 } else if status >= 200, status < 300 { s.successes += 1 }
                    }
                    if let rt {
                        s.responseTime.add(rt)
                        s.sketch.add(rt)
                        if rt < c.fastThresholdMillis { s.fast += 1 }
                    }
                    services[Key(start: start, name: service)] = s
                }
                for start in Self.starts(t, c.systemWindow) {
                    var entry = system[start] ?? (SystemState(precision: c.distinctPrecision), [])
                    entry.state.requests += 1
                    if let status, status >= 400 { entry.state.errors += 1 }
                    if let rt { entry.state.responseTime.add(rt) }
                    entry.services.insert(service)
                    if let user { entry.state.users.add(hash: user) }
                    system[start] = entry
                }
                guard let ip else { continue }
                ips.insert(ip)
                for start in Self.starts(t, c.clientWindow) {
                    let key = Key(start: start, name: ip)
                    var s = clients[key] ?? ClientState(precision: c.clientDistinctPrecision)
                    s.requests += 1
                    if let user { s.users.add(hash: user) }
                    clients[key] = s
                    clientServices[key, default: []].insert(service)
                }
                for start in Self.starts(t, c.floodWindow) {
                    let key = Key(start: start, name: ip)
                    var s = floods[key] ?? ClientState(precision: c.clientDistinctPrecision)
                    s.requests += 1
                    if let user { s.users.add(hash: user) }
                    floods[key] = s
                }
            }
            // Windows the watermark has passed close, as `StreamAnalytics` closes them.
            let wm = watermark.micros
            let closing = services.keys.filter { $0.start + c.serviceWindow.sizeMicros <= wm }
            for key in closing { services[key] = nil }
            for key in clients.keys where key.start + c.clientWindow.sizeMicros <= wm {
                clients[key] = nil
                clientServices[key] = nil
            }
            for key in floods.keys where key.start + c.floodWindow.sizeMicros <= wm { floods[key] = nil }
            for start in system.keys where start + c.systemWindow.sizeMicros <= wm { system[start] = nil }
            return (late, future, closing.count)
        }

        /// Expects `logs`' open windows to be exactly the model's.
        func expectEqual(_ logs: LogWindows) throws {
            func serviceSet(_ b: SmallBitSet) -> Set<String> { Set(b.members.map { logs.serviceNames.name($0) }) }
            #expect(logs.services.count == services.count)
            for s in 0..<logs.services.count {
                let key = Key(start: logs.services.starts[s], name: logs.serviceNames.name(logs.services.ids[s]))
                let mine = try #require(services[key], "service window \(key) not in the model")
                #expect(logs.services.states[s] == mine, "service window \(key)")
                #expect(logs.services.states[s].responseTime.sum.bitPattern == mine.responseTime.sum.bitPattern)
                #expect(logs.services.states[s].responseTime.sumOfSquares.bitPattern == mine.responseTime.sumOfSquares.bitPattern)
            }
            #expect(logs.ips.clients.count == clients.count)
            for s in 0..<logs.ips.clients.count {
                let key = Key(start: logs.ips.clients.starts[s], name: logs.ips.names.name(logs.ips.clients.ids[s]))
                let mine = try #require(clients[key], "client window \(key) not in the model")
                let state = logs.ips.clients.states[s]
                #expect(state.requests == mine.requests && state.users == mine.users, "client window \(key)")
                #expect(serviceSet(state.services) == clientServices[key], "client window \(key)")
            }
            #expect(logs.ips.floods.count == floods.count)
            for s in 0..<logs.ips.floods.count {
                let key = Key(start: logs.ips.floods.starts[s], name: logs.ips.names.name(logs.ips.floods.ids[s]))
                let mine = try #require(floods[key], "flood window \(key) not in the model")
                #expect(logs.ips.floods.states[s].requests == mine.requests && logs.ips.floods.states[s].users == mine.users,
                        "flood window \(key)")
            }
            #expect(logs.system.count == system.count)
            for s in 0..<logs.system.count {
                let mine = try #require(system[logs.system.starts[s]], "system window \(logs.system.starts[s]) not in the model")
                let state = logs.system.states[s]
                #expect(state.requests == mine.state.requests && state.errors == mine.state.errors
                        && state.responseTime == mine.state.responseTime && state.users == mine.state.users)
                #expect(state.responseTime.sum.bitPattern == mine.state.responseTime.sum.bitPattern)
                #expect(serviceSet(state.services) == mine.services)
            }
        }
    }
}
