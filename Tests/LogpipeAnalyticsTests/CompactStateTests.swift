import Foundation
@testable import LogpipeAnalytics
import LogpipeBus
import LogpipeGenerator
import LogpipeLake
import LogpipeTesting
import Testing

/// The compact representations behind the whole-system windows: HyperLogLog's inline
/// hashes and the client-IP parts kept sorted by IP. Each is checked against a plain
/// model (a set of hashes and registers computed from it; a dictionary) on random inputs.
@Suite("Compact window state: inline HyperLogLog hashes, sorted client-IP groups")
struct CompactStateTests {
    /// What a sketch must hold after seeing `hashes`: the sorted distinct hashes while at
    /// most `m/8`, else the registers of all of them.
    static func model(_ hashes: Set<UInt64>, precision: Int) -> (exact: [UInt64]?, registers: [UInt8]?) {
        if hashes.count <= (1 << precision) >> 3 { return (hashes.sorted(), nil) }
        var registers = [UInt8](repeating: 0, count: 1 << precision)
        for h in hashes {
            let index = Int(h >> UInt64(64 - precision))
            let rank = UInt8(min((h << UInt64(precision)).leadingZeroBitCount + 1, 64 - precision + 1))
            registers[index] = max(registers[index], rank)
        }
        return (nil, registers)
    }

    static func expectMatches(_ h: HyperLogLog, _ hashes: Set<UInt64>, _ context: String) {
        let (exact, registers) = model(hashes, precision: h.precision)
        if let exact {
            #expect(h.isExact, "\(context)")
            #expect(h.exactHashes == exact, "\(context)")
            #expect(h.count == Int64(exact.count), "\(context)")
            // Canonical: at most two hashes are inline, more are in the array.
            #expect(h.isInline == (exact.count <= HyperLogLog.inlineCapacity), "\(context)")
        } else {
            #expect(!h.isExact && h.registers == registers, "\(context)")
        }
    }

    @Test("adds and merges in every pair of modes (inline, sparse, dense) equal the model, at every precision's boundaries")
    func hyperLogLogModes() {
        var random = SeededRandom(seed: 14)
        // A small pool, so merged sketches share hashes; precision 4's limit (2) equals the
        // inline capacity, 5's (4) is just past it.
        let pool = (0..<3000).map { mix64(UInt64($0) &+ 0x5EED) }
        for precision in [4, 5, 6, 12] {
            let limit = (1 << precision) >> 3
            let sizes = Array(Set([0, 1, 2, 3, limit - 1, limit, limit + 1, 2 * limit + 3, 300].filter { $0 >= 0 }))
            for a in sizes {
                for b in sizes {
                    var sa = Set<UInt64>(), sb = Set<UInt64>()
                    var ha = HyperLogLog(precision: precision), hb = HyperLogLog(precision: precision)
                    while sa.count < a {
                        let x = pool[random.below(pool.count)]
                        sa.insert(x); ha.add(hash: x); ha.add(hash: x)
                    }
                    while sb.count < b {
                        let x = pool[random.below(pool.count)]
                        sb.insert(x); hb.add(hash: x)
                    }
                    Self.expectMatches(ha, sa, "p\(precision) add \(a)")
                    var merged = ha
                    merged.merge(hb)
                    Self.expectMatches(merged, sa.union(sb), "p\(precision) merge \(a)+\(b)")
                    var whole = HyperLogLog(precision: precision)
                    for x in sa.union(sb).shuffled() { whole.add(hash: x) }
                    #expect(merged == whole && merged.estimate == whole.estimate, "p\(precision) \(a)+\(b)")
                }
            }
        }
    }

    @Test("the exact boundary: 2 hashes inline, the 3rd in the array, m/8 exact, m/8 + 1 dense")
    func promotionBoundary() {
        var h = HyperLogLog(precision: 12)
        h.add(hash: 30); h.add(hash: 10)
        #expect(h.isInline && h.exactHashes == [10, 30] && h.sparse.isEmpty)
        h.add(hash: 20)
        #expect(!h.isInline && h.sparse == [10, 20, 30] && h.inlineCount == 0 && h.inline0 == 0)
        for x in 4...512 { h.add(hash: mix64(UInt64(x))) }
        #expect(h.isExact && h.count == 512)
        h.add(hash: mix64(513))
        #expect(!h.isExact && h.sparse.isEmpty && h.registers.count == 4096)
    }

    /// Bytes as the code before the inline hashes wrote them (mode 0, count, hashes; mode 1,
    /// registers): they decode to the same sketch and encode back to the same bytes.
    @Test("snapshot bytes of every mode decode and encode back unchanged")
    func snapshotBytes() throws {
        func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
        func le64(_ v: UInt64) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
        let cases: [[UInt8]] = [
            [0] + le32(0),
            [0] + le32(1) + le64(0x0123_4567_89AB_CDEF),
            [0] + le32(2) + le64(7) + le64(0xFFFF_FFFF_FFFF_FFF0),
            [0] + le32(3) + le64(1) + le64(2) + le64(3),
            [1] + (0..<16).map { UInt8($0 % 5) },
        ]
        for bytes in cases {
            var r = SnapshotReader(bytes)
            let h = try r.hll(precision: 4)
            #expect(r.atEnd)
            var w = SnapshotWriter()
            w.hll(h)
            #expect(w.bytes == bytes)
        }
        var r = SnapshotReader(cases[2])
        let two = try r.hll(precision: 12)
        var expected = HyperLogLog(precision: 12)
        expected.add(hash: 0xFFFF_FFFF_FFFF_FFF0); expected.add(hash: 7)
        #expect(two == expected && two.isInline)
    }

    static func part(_ requests: Int64, _ users: [UInt64], services: [UInt32] = []) -> ClientPartial {
        var h = HyperLogLog(precision: 12)
        for u in users { h.add(hash: u) }
        var s = SmallBitSet()
        for id in services { s.insert(id) }
        return ClientPartial(requests: requests, users: h, services: s)
    }

    @Test("client-IP groups merge like dictionaries and stay in String order; inserts in any order come out sorted")
    func clientGroups() {
        var random = SeededRandom(seed: 41)
        let ips = (0..<300).map { "10.\($0 % 7).\($0 / 7).\($0 % 13)" } + ["(other)", "::1", "fe80::1", "ä.example"]
        for round in 0..<40 {
            var groups: [ClientGroup] = []
            var dictionaries: [[String: ClientPartial]] = []
            for _ in 0..<3 {
                var g = ClientGroup()
                var d: [String: ClientPartial] = [:]
                for _ in 0..<random.below(round % 4 == 0 ? 3 : 200) {
                    let ip = ips[random.below(ips.count)]
                    let p = Self.part(Int64(1 + random.below(5)), [UInt64(random.below(9))], services: [UInt32(random.below(3))])
                    g[ip] = p
                    d[ip] = p
                }
                #expect(g.keys == d.keys.sorted())
                groups.append(g)
                dictionaries.append(d)
            }
            var merged = groups[0]
            merged.merge(groups[1]) { $0.merge($1) }
            merged.merge(groups[2]) { $0.merge($1) }
            var expected = dictionaries[0]
            for d in dictionaries.dropFirst() {
                for (ip, p) in d {
                    if expected[ip] == nil { expected[ip] = p } else { expected[ip]!.merge(p) }
                }
            }
            #expect(merged.keys == expected.keys.sorted())
            for (ip, p) in merged {
                let e = expected[ip]!
                #expect(p.requests == e.requests && p.users == e.users && p.services == e.services, "\(ip)")
            }
            // Replacing keeps the newer part of an IP in both.
            var replaced = groups[0]
            replaced.merge(groups[1]) { old, new in old = new }
            for (ip, p) in replaced {
                #expect(p.requests == (dictionaries[1][ip] ?? dictionaries[0][ip]!).requests)
            }
        }
        var g: ClientGroup = ["b": Self.part(1, []), "a": Self.part(2, [])]
        g["a"] = nil
        #expect(g.keys == ["b"] && g["a"] == nil && g["b"]?.requests == 1)
    }

    /// Two partitions' logs through `takeGlobalParts` and `combine`: every window's IPs in
    /// `String` order, with the requests and users a dictionary of the same rows gives.
    @Test("parts taken from partitions are sorted by IP and combine to the per-IP counts of the rows")
    func takenPartsSorted() throws {
        let config = AnalyticsConfiguration()
        var expected: [Int64: [String: (requests: Int64, users: Set<String>)]] = [:]
        var combined = GlobalPartials()
        for partition in 0..<2 {
            var generator = RecordGenerator(seed: UInt64(100 + partition), ips: 500)
            let batch = try parseLogs(generator.logs(count: 6_000, start: epoch0, spacing: 0.2))
            var analytics = StreamAnalytics(configuration: config)
            analytics.combinesAcrossPartitions = true
            for start in stride(from: 0, to: batch.count, by: 1000) {
                _ = analytics.process(logs: slice(batch, start..<min(start + 1000, batch.count)), nowMicros: Int64(epoch0 * 1e6) + 86_400_000_000)
            }
            _ = analytics.finish()
            let taken = analytics.takeGlobalParts(.logs)
            let parts = try #require(taken)
            for group in parts.clients.values { #expect(group.keys == group.keys.sorted()) }
            combined.combine(parts)
            for row in 0..<batch.count {
                guard let ip = batch.clientIp[row: row] else { continue }
                let t = batch.timestampMicros.values[row]
                let start = t - t % config.clientWindow.sizeMicros
                var e = expected[start, default: [:]][ip, default: (0, [])]
                e.requests += 1
                if let user = batch.userId[row: row] { e.users.insert(user) }
                expected[start, default: [:]][ip] = e
            }
        }
        #expect(Set(combined.clients.keys) == Set(expected.keys))
        for (start, group) in combined.clients {
            let e = try #require(expected[start])
            #expect(group.keys == e.keys.sorted())
            for (ip, p) in group {
                #expect(p.requests == e[ip]?.requests && p.users.count == Int64(e[ip]?.users.count ?? -1), "\(start) \(ip)")
            }
        }
    }

    /// Exchange objects written before client-IP parts were kept sorted hold them in
    /// dictionary order. Such an object, written byte by byte in the exchange's format
    /// with its IPs out of order, decodes into groups sorted by IP with every part intact.
    @Test("an exchange object with client-IP and flood parts out of order decodes into sorted groups, same content")
    func unsortedExchangeObjectDecodesSorted() async throws {
        let dir = try TemporaryDirectory(prefix: "analytics-unsorted-exchange")
        let store = try LocalFileStore(root: dir.path)
        let minute: Int64 = 60_000_000
        let start = 29_000_000 * minute
        // Not in String order: numeric-looking, IPv6, the overflow name, non-ASCII.
        let ips = ["10.0.0.9", "10.0.0.10", "::1", "ä.example", "10.0.0.1", "(other)", "fe80::1", "1.2.3.4"]
        var w = SnapshotWriter()
        w.string("logs.raw")
        w.u32(2)
        w.i64(start + 5 * minute)
        w.i64(1_000)
        for family in 0..<2 {
            w.u32(UInt32(ips.count))
            for (i, ip) in ips.enumerated() {
                w.i64(start + Int64(family) * minute); w.string(ip)
                let p = Self.part(Int64(10 * i + family + 1), (0..<UInt64(i % 4)).map { $0 &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(i) })
                w.i64(p.requests); w.u8(UInt8(p.users.precision)); w.hll(p.users)
                // Services by name, as the exchange writes them.
                w.u32(UInt32(i % 3))
                for k in 0..<(i % 3) { w.string("svc-\(k)") }
            }
        }
        for _ in 0..<2 { w.u32(0) }  // no system or activity parts
        var object = Array("LPXR".utf8)
        var header = SnapshotWriter()
        header.u32(UInt32(w.bytes.count))
        header.u32(CRC32C.checksum(w.bytes))
        object += header.bytes + w.bytes
        try await store.write("\(GlobalWindowExchange.directory(.logs))/logs.raw-2", contents: object)

        let read = try await GlobalWindowExchange(store: store).readChanged(.logs, known: [:], current: { _, _ in false })
        let parts = try #require(read.reports[TopicPartition(topic: "logs.raw", partition: 2)]?.parts)
        for (family, groups) in [parts.clients, parts.floods].enumerated() {
            let group = try #require(groups[start + Int64(family) * minute])
            #expect(groups.count == 1)
            #expect(group.keys == ips.sorted())
            for (i, ip) in ips.enumerated() {
                let p = try #require(group[ip])
                let users = Set((0..<UInt64(i % 4)).map { $0 &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(i) })
                #expect(p.requests == Int64(10 * i + family + 1), "\(ip)")
                #expect(p.users.count == Int64(users.count), "\(ip)")
                #expect(p.services.members.map { parts.serviceName($0) }.sorted() == (0..<(i % 3)).map { "svc-\($0)" }, "\(ip)")
            }
        }
    }
}
