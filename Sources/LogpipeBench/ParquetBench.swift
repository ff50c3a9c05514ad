import Foundation
import LogpipeParquet

/// `logpipe bench parquet`: encodes a 1M-row log batch to snappy Parquet with LogpipeParquet
/// and compares, in the same run on the same machine, with pyarrow writing the same table
/// with the same options (snappy, dictionary, 1 MiB pages), then compares decoding speed.
///
/// The batch is built in memory first (deterministic pseudo-random but realistic: ~20
/// services, their hosts, weighted levels, ~40 message templates, uuids, long-tailed
/// latencies, 5% rows without `metadata`), so the timings cover encoding only. pyarrow gets
/// the identical table by reading our file before its timed `pq.write_table`. Neither side
/// fsyncs. Each timing is the best of `repeats` runs.
public enum ParquetBench {
    /// Runs the benchmark in `workDir` (created if missing) and returns a text report.
    /// `python` must have pyarrow installed.
    public static func run(rows: Int = 1_000_000, repeats: Int = 3, workDir: String, python: String = "python3") async throws -> String {
        try FileManager.default.createDirectory(atPath: workDir, withIntermediateDirectories: true)
        let batch = ParquetLogBatch.make(rows: rows, seed: 20_260_112)
        let ours = workDir + "/logpipe.snappy.parquet"
        let theirs = workDir + "/pyarrow.snappy.parquet"
        var options = ParquetWriterOptions()
        options.compression = .snappy
        options.sync = false

        var writeBest = Double.infinity
        for _ in 0..<max(1, repeats) {
            let start = ContinuousClock.now
            let writer = try ParquetWriter(path: ours, schema: ParquetLogBatch.schema, options: options)
            try writer.write(batch.batch)
            try writer.finish()
            writeBest = min(writeBest, Peers.seconds(since: start))
        }
        let ourSize = try fileSize(ours)

        let peer = try await runPyArrow(python: python, ours: ours, theirs: theirs, repeats: repeats)
        let theirSize = try fileSize(theirs)

        var readOursBest = Double.infinity, readTheirsBest = Double.infinity
        for _ in 0..<max(1, repeats) {
            var start = ContinuousClock.now
            let a = try ParquetFileReader(path: ours).read()
            readOursBest = min(readOursBest, Peers.seconds(since: start))
            start = ContinuousClock.now
            let b = try ParquetFileReader(path: theirs).read()
            readTheirsBest = min(readTheirsBest, Peers.seconds(since: start))
            guard a.rowCount == rows, b.rowCount == rows else {
                throw ParquetError.invalidArgument("read back \(a.rowCount) and \(b.rowCount) rows, wrote \(rows)")
            }
        }

        let mb = Double(batch.rawBytes) / 1_000_000
        func rate(_ s: Double) -> String { String(format: "%.2f M rows/s, %.1f MB/s", Double(rows) / s / 1e6, mb / s) }
        var out = "parquet bench: \(rows) log rows, \(String(format: "%.1f", mb)) MB of column data, snappy + dictionary, best of \(repeats)\n"
        out += "write   logpipe  \(String(format: "%.3f", writeBest)) s  \(rate(writeBest))  file \(ourSize) bytes\n"
        out += "write   pyarrow  \(String(format: "%.3f", peer.write)) s  \(rate(peer.write))  file \(theirSize) bytes (pyarrow \(peer.version))\n"
        out += String(format: "write   speed ratio logpipe/pyarrow: %.2fx   size ratio logpipe/pyarrow: %.3f\n",
                      peer.write / writeBest, Double(ourSize) / Double(theirSize))
        out += "read    logpipe  \(String(format: "%.3f", readOursBest)) s  \(rate(readOursBest))  (our file)\n"
        out += "read    logpipe  \(String(format: "%.3f", readTheirsBest)) s  \(rate(readTheirsBest))  (pyarrow's file)\n"
        out += "read    pyarrow  \(String(format: "%.3f", peer.read)) s  \(rate(peer.read))  (pq.read_table of our file, threads on)\n"
        out += String(format: "read    speed ratio logpipe/pyarrow: %.2fx\n", peer.read / readOursBest)
        return out
    }


    private static func fileSize(_ path: String) throws -> Int {
        (try FileManager.default.attributesOfItem(atPath: path)[.size] as? NSNumber)?.intValue ?? 0
    }

    private static let peerScript = #"""
import json, sys, time
import pyarrow as pa, pyarrow.parquet as pq
ours, theirs, repeats = sys.argv[1], sys.argv[2], int(sys.argv[3])
table = pq.read_table(ours)
write = read = float('inf')
for _ in range(repeats):
    t = time.perf_counter(); pq.write_table(table, theirs, compression='snappy'); write = min(write, time.perf_counter() - t)
for _ in range(repeats):
    t = time.perf_counter(); n = pq.read_table(ours).num_rows; read = min(read, time.perf_counter() - t)
print(json.dumps({'write': write, 'read': read, 'rows': n, 'version': pa.__version__}))
"""#

    private struct PeerResult {
        var write: Double
        var read: Double
        var version: String
    }

    private static func runPyArrow(python: String, ours: String, theirs: String, repeats: Int) async throws -> PeerResult {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [python, "-c", peerScript, ours, theirs, String(max(1, repeats))]
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        try await withCheckedThrowingContinuation { (c: CheckedContinuation<Void, Error>) in
            process.terminationHandler = { _ in c.resume() }
            do { try process.run() } catch { c.resume(throwing: error) }
        }
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        guard process.terminationStatus == 0,
              let json = try JSONSerialization.jsonObject(with: stdout) as? [String: Any],
              let write = json["write"] as? Double, let read = json["read"] as? Double
        else {
            throw ParquetError.io("pyarrow peer failed (\(process.terminationStatus)): \(String(decoding: stderr, as: UTF8.self))")
        }
        return PeerResult(write: write, read: read, version: json["version"] as? String ?? "?")
    }
}

/// The benchmark's log batch, built straight into column buffers.
private struct ParquetLogBatch {
    static let schema = ParquetSchema([
        .timestampMicros("timestamp", nullable: false),
        .string("level", nullable: false),
        .string("service", nullable: false),
        .string("host"),
        .string("message"),
        .group("metadata", [
            .string("request_id"), .double("response_time_ms"), .int32("status_code"), .string("endpoint"),
            .string("method"), .string("client_ip"), .string("user_id"),
        ]),
        .string("extra"),
    ])

    var batch: ParquetColumnBatch
    /// Bytes of column data (string bytes plus 8/4 bytes per numeric value), the MB/s basis.
    var rawBytes: Int

    private struct Strings {
        var bytes: [UInt8] = []
        var offsets: [Int32] = [0]
        var validity: [Bool] = []

        mutating func append(_ s: [UInt8]) {
            bytes.append(contentsOf: s)
            offsets.append(Int32(bytes.count))
            validity.append(true)
        }

        mutating func appendNull() {
            offsets.append(Int32(bytes.count))
            validity.append(false)
        }

        var column: ParquetColumn {
            ParquetColumn(.byteArray(bytes: bytes, offsets: offsets), validity: validity.contains(false) ? validity : nil)
        }
    }

    /// xorshift64*: deterministic and cheap, so building the batch stays out of the way.
    private struct Random {
        var s: UInt64
        mutating func next() -> UInt64 {
            s ^= s >> 12
            s ^= s << 25
            s ^= s >> 27
            return s &* 2_685_821_657_736_338_717
        }
        mutating func below(_ n: Int) -> Int { Int(next() % UInt64(n)) }
        mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
    }

    static func make(rows: Int, seed: UInt64) -> ParquetLogBatch {
        var rng = Random(s: seed | 1)
        let services = ["api-gateway", "user-service", "order-service", "payment-service", "inventory-service",
                        "notification-service", "auth-service", "search-service", "recommendation-service", "cart-service",
                        "shipping-service", "billing-service", "analytics-service", "media-service", "review-service",
                        "catalog-service", "pricing-service", "fraud-service", "email-service", "session-service"].map { Array($0.utf8) }
        let endpoints = ["/api/users", "/api/users/{id}", "/api/orders", "/api/orders/{id}", "/api/products", "/api/products/{id}",
                         "/api/cart", "/api/cart/items", "/api/checkout", "/api/payments", "/api/search", "/api/recommendations",
                         "/api/auth/login", "/api/auth/logout", "/api/auth/refresh", "/api/inventory", "/api/shipping/quote",
                         "/api/reviews", "/api/notifications", "/health", "/metrics", "/api/sessions", "/api/billing/invoices",
                         "/api/media/upload", "/api/catalog", "/api/pricing", "/api/fraud/check", "/api/email/send",
                         "/api/analytics/events", "/api/users/{id}/preferences"].map { Array($0.utf8) }
        let methods = ["GET", "GET", "GET", "GET", "POST", "POST", "PUT", "DELETE", "PATCH"].map { Array($0.utf8) }
        let infoMessages = ["Request processed successfully", "User authenticated", "Order created", "Payment authorized",
                            "Cache hit", "Item added to cart", "Search completed", "Session refreshed", "Email queued",
                            "Inventory reserved", "Recommendation served", "Invoice generated", "Health check passed",
                            "Shipping quote calculated", "Review submitted", "Profile updated", "Token issued",
                            "Product page rendered", "Checkout started", "Notification delivered"].map { Array($0.utf8) }
        let warnMessages = ["Slow database query", "Cache miss", "Retrying upstream call", "Rate limit approaching",
                            "Deprecated API version used", "Connection pool nearly exhausted", "High memory usage",
                            "Response time above SLA"].map { Array($0.utf8) }
        let errorMessages = ["Database connection failed", "Upstream timeout", "Payment declined by provider",
                             "Internal server error", "Null reference in handler", "Circuit breaker open",
                             "Failed to publish event"].map { Array($0.utf8) }
        let debugMessages = ["Entering handler", "Query plan selected", "Cache key computed", "Feature flag evaluated",
                             "Serialized response"].map { Array($0.utf8) }
        let hex = Array("0123456789abcdef".utf8)

        var timestamp: [Int64] = []
        timestamp.reserveCapacity(rows)
        var level = Strings(), service = Strings(), host = Strings(), message = Strings(), extra = Strings()
        var requestID = Strings(), endpoint = Strings(), method = Strings(), clientIP = Strings(), userID = Strings()
        var responseTime: [Double] = [], responseValid: [Bool] = []
        var status: [Int32] = [], statusValid: [Bool] = []
        var metaValid: [Bool] = []
        responseTime.reserveCapacity(rows)
        status.reserveCapacity(rows)

        var t: Int64 = 1_768_183_566_000_000
        var uuid = [UInt8](repeating: 0x2D, count: 36)
        for _ in 0..<rows {
            t += Int64(rng.below(2000))
            timestamp.append(t)
            let r = rng.below(100)
            let (lv, pool): (String, [[UInt8]]) = r < 80 ? ("INFO", infoMessages) : r < 90 ? ("WARN", warnMessages) : r < 95 ? ("ERROR", errorMessages) : ("DEBUG", debugMessages)
            level.append(Array(lv.utf8))
            let svc = rng.below(services.count)
            service.append(services[svc])
            if rng.below(200) == 0 { host.appendNull() } else { host.append(services[svc] + Array("-\(rng.below(6) + 1)".utf8)) }
            message.append(pool[rng.below(pool.count)])
            let hasMeta = rng.below(100) >= 5
            metaValid.append(hasMeta)
            if hasMeta {
                var u = rng.next(), v = rng.next()
                var k = 0
                for i in 0..<36 where i != 8 && i != 13 && i != 18 && i != 23 {
                    let source = k < 16 ? u : v
                    uuid[i] = hex[Int(source & 15)]
                    if k < 16 { u >>= 4 } else { v >>= 4 }
                    k += 1
                }
                requestID.append(uuid)
                // Long-tailed latency: log-normal around 40 ms, rounded to 0.01 ms as services report it.
                let z = (rng.unit() + rng.unit() + rng.unit() + rng.unit() - 2) * 1.7
                responseTime.append((40 * exp(z * 0.8) * 100).rounded() / 100)
                responseValid.append(true)
                let s = rng.below(1000)
                status.append(s < 900 ? 200 : s < 940 ? 201 : s < 960 ? 404 : s < 975 ? 400 : s < 985 ? 401 : s < 995 ? 500 : 503)
                statusValid.append(true)
                endpoint.append(endpoints[rng.below(endpoints.count)])
                method.append(methods[rng.below(methods.count)])
                clientIP.append(Array("10.\(rng.below(4)).\(rng.below(40)).\(rng.below(250) + 1)".utf8))
                if rng.below(10) < 7 { userID.append(Array("user_\(rng.below(100_000))".utf8)) } else { userID.appendNull() }
            } else {
                requestID.appendNull()
                responseTime.append(0)
                responseValid.append(false)
                status.append(0)
                statusValid.append(false)
                endpoint.appendNull()
                method.appendNull()
                clientIP.appendNull()
                userID.appendNull()
            }
            if rng.below(10) == 0 { extra.append(Array("{\"trace_id\":\"\(rng.next() % 1_000_000_000)\",\"region\":\"eu-west-\(rng.below(3) + 1)\"}".utf8)) } else { extra.appendNull() }
        }
        let metadata = ParquetColumn(.group([
            requestID.column, ParquetColumn(.double(responseTime), validity: responseValid),
            ParquetColumn(.int32(status), validity: statusValid), endpoint.column, method.column, clientIP.column, userID.column,
        ]), validity: metaValid)
        let columns = [ParquetColumn(.int64(timestamp)), level.column, service.column, host.column, message.column, metadata, extra.column]
        let stringBytes = [level, service, host, message, extra, requestID, endpoint, method, clientIP, userID].map(\.bytes.count).reduce(0, +)
        return ParquetLogBatch(batch: ParquetColumnBatch(rowCount: rows, columns: columns), rawBytes: stringBytes + rows * (8 + 8 + 4))
    }
}
