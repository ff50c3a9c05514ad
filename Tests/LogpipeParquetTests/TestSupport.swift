import Foundation
import LogpipeParquet
import LogpipeTesting

/// A temporary directory removed when the value is deinitialised.
final class TempDir {
    let path: String

    init() throws {
        path = NSTemporaryDirectory() + "logpipe-parquet-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    }

    func file(_ name: String) -> String { path + "/" + name }

    deinit { try? FileManager.default.removeItem(atPath: path) }
}


/// Builds columns row by row in the dense layout (tests only; the writer never needs this).
struct TestColumn {
    var field: ParquetField
    var validity: [Bool] = []
    var bools: [Bool] = []
    var i32: [Int32] = []
    var i64: [Int64] = []
    var f32: [Float] = []
    var f64: [Double] = []
    var bytes: [UInt8] = []
    var offsets: [Int32] = [0]
    var children: [TestColumn] = []

    init(_ field: ParquetField) {
        self.field = field
        if case .group(let fs) = field.kind { children = fs.map(TestColumn.init) }
    }

    /// A value for one row of a leaf: Bool, Int32, Int64, Float, Double, [UInt8] or String.
    mutating func append(_ value: Any?) {
        validity.append(value != nil)
        guard case .primitive(let p, _) = field.kind else { fatalError("append on a group") }
        switch p {
        case .boolean: bools.append(value as? Bool ?? false)
        case .int32: i32.append(value as? Int32 ?? 0)
        case .int64: i64.append(value as? Int64 ?? 0)
        case .float: f32.append(value as? Float ?? 0)
        case .double: f64.append(value as? Double ?? 0)
        default:
            if let s = value as? String { bytes += Array(s.utf8) } else if let b = value as? [UInt8] { bytes += b }
            offsets.append(Int32(bytes.count))
        }
    }

    /// Marks one row of a group present or null; the children must be appended separately.
    mutating func appendGroup(present: Bool) { validity.append(present) }

    func build() -> ParquetColumn {
        let v: [Bool]? = validity.contains(false) ? validity : nil
        switch field.kind {
        case .group: return ParquetColumn(.group(children.map { $0.build() }), validity: v)
        case .primitive(let p, _):
            switch p {
            case .boolean: return ParquetColumn(.boolean(bools), validity: v)
            case .int32: return ParquetColumn(.int32(i32), validity: v)
            case .int64: return ParquetColumn(.int64(i64), validity: v)
            case .float: return ParquetColumn(.float(f32), validity: v)
            case .double: return ParquetColumn(.double(f64), validity: v)
            default: return ParquetColumn(.byteArray(bytes: bytes, offsets: offsets), validity: v)
            }
        }
    }
}

/// One token per top-level field per row, independent of physical layout, so files written by
/// different engines compare exactly: `N` null, `T`/`F`, `i<int>`, `f<hex bits>`,
/// `s<hex bytes>`, `{a,b}` groups. The Python side (interop.py) produces the same tokens.
func canonicalRows(fields: [ParquetField], columns: [ParquetColumn], rowCount: Int) -> [String] {
    func hex(_ bytes: ArraySlice<UInt8>) -> String {
        let digits = Array("0123456789abcdef".utf8)
        var out: [UInt8] = []
        for b in bytes {
            out.append(digits[Int(b >> 4)])
            out.append(digits[Int(b & 15)])
        }
        return String(decoding: out, as: UTF8.self)
    }
    func token(_ f: ParquetField, _ c: ParquetColumn, _ row: Int) -> String {
        if !c.isValid(row) { return "N" }
        switch c.values {
        case .group(let children):
            guard case .group(let fs) = f.kind else { return "?" }
            return "{" + zip(fs, children).map { token($0, $1, row) }.joined(separator: ",") + "}"
        case .boolean(let v): return v[row] ? "T" : "F"
        case .int32(let v): return "i\(v[row])"
        case .int64(let v): return "i\(v[row])"
        case .float(let v): return "f" + String(format: "%08x", v[row].bitPattern)
        case .double(let v): return "f" + String(format: "%016llx", v[row].bitPattern)
        case .byteArray(let bytes, let offsets): return "s" + hex(bytes[Int(offsets[row])..<Int(offsets[row + 1])])
        }
    }
    return (0..<rowCount).map { row in zip(fields, columns).map { token($0, $1, row) }.joined(separator: "|") }
}

func canonicalRows(_ table: ParquetTable) -> [String] {
    canonicalRows(fields: table.schema.fields, columns: table.columns, rowCount: table.rowCount)
}

/// The first difference between two row lists, for failure messages.
func firstDifference(_ a: [String], _ b: [String]) -> String? {
    if a == b { return nil }
    if a.count != b.count { return "row counts differ: \(a.count) vs \(b.count)" }
    let i = a.indices.first { a[$0] != b[$0] }!
    return "row \(i) differs:\n  \(a[i])\n  \(b[i])"
}

/// A test data set: schema, batch, and its canonical rows.
struct Dataset {
    var name: String
    var schema: ParquetSchema
    var batch: ParquetColumnBatch
    var expected: [String] { canonicalRows(fields: schema.fields, columns: batch.columns, rowCount: batch.rowCount) }
}

enum Datasets {
    static let logSchema = ParquetSchema([
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

    static let activitySchema = ParquetSchema([
        .string("event_id", nullable: false),
        .timestampMicros("timestamp", nullable: false),
        .string("user_id"),
        .string("session_id"),
        .string("event_type"),
        .group("event_data", [.string("page"), .string("element")]),
        .group("device", [.string("type"), .string("os"), .string("browser")]),
    ])

    static func logs(rows: Int, seed: UInt64) -> Dataset {
        var rng = SplitMix(seed: seed)
        var cols = logSchema.fields.map(TestColumn.init)
        let levels = ["INFO", "INFO", "INFO", "WARN", "ERROR", "DEBUG"]
        let services = ["api-gateway", "user-service", "order-service", "payment-service", "inventory"]
        let endpoints = ["/api/users", "/api/orders", "/api/products/123", "/health", "/api/cart"]
        let messages = ["Request processed successfully", "Database connection slow", "Cache miss", "Timeout calling upstream", "ユーザーが見つかりません ✓"]
        for i in 0..<rows {
            cols[0].append(Int64(1_736_645_166_291_045) + Int64(i) * 1_237)
            cols[1].append(levels.randomElement(using: &rng)!)
            cols[2].append(services.randomElement(using: &rng)!)
            cols[3].append(i % 17 == 0 ? nil : "worker-\(Int.random(in: 1...8, using: &rng))")
            cols[4].append(messages.randomElement(using: &rng)!)
            let hasMeta = i % 11 != 5
            cols[5].appendGroup(present: hasMeta)
            let m = hasMeta
            cols[5].children[0].append(m ? "req-\(rng.next() % 1_000_000_007)" : nil)
            cols[5].children[1].append(m && i % 7 != 0 ? Double(Int.random(in: 1...5000, using: &rng)) / 10 : nil)
            cols[5].children[2].append(m ? Int32([200, 200, 201, 404, 500][Int(rng.next() % 5)]) : nil)
            cols[5].children[3].append(m ? endpoints.randomElement(using: &rng)! : nil)
            cols[5].children[4].append(m ? ["GET", "POST", "PUT"].randomElement(using: &rng)! : nil)
            cols[5].children[5].append(m ? "10.1.\(rng.next() % 256).\(rng.next() % 256)" : nil)
            cols[5].children[6].append(m && i % 3 == 0 ? "user_\(rng.next() % 100_000)" : nil)
            cols[6].append(i % 9 == 0 ? "{\"trace\":\"\(rng.next() % 1000)\"}" : nil)
        }
        return Dataset(name: "logs", schema: logSchema, batch: ParquetColumnBatch(rowCount: rows, columns: cols.map { $0.build() }))
    }

    static func activities(rows: Int, seed: UInt64) -> Dataset {
        var rng = SplitMix(seed: seed)
        var cols = activitySchema.fields.map(TestColumn.init)
        for i in 0..<rows {
            cols[0].append("evt-\(rng.next())")
            cols[1].append(Int64(1_736_645_166_456_789) + Int64(i) * 977)
            cols[2].append("user_\(rng.next() % 5000)")
            cols[3].append(i % 13 == 0 ? nil : "sess_\(rng.next() % 900)")
            cols[4].append(["CLICK", "VIEW", "PURCHASE", "ADD_TO_CART"].randomElement(using: &rng)!)
            let hasData = i % 4 != 3
            cols[5].appendGroup(present: hasData)
            cols[5].children[0].append(hasData ? "/products/\(rng.next() % 200)" : nil)
            cols[5].children[1].append(hasData && i % 5 != 0 ? "add_to_cart_button" : nil)
            let hasDevice = i % 10 != 0
            cols[6].appendGroup(present: hasDevice)
            cols[6].children[0].append(hasDevice ? ["mobile", "desktop", "tablet"].randomElement(using: &rng)! : nil)
            cols[6].children[1].append(hasDevice ? ["iOS", "Android", "Windows", "macOS"].randomElement(using: &rng)! : nil)
            cols[6].children[2].append(hasDevice && i % 6 != 1 ? ["Safari", "Chrome", "Firefox"].randomElement(using: &rng)! : nil)
        }
        return Dataset(name: "activity", schema: activitySchema, batch: ParquetColumnBatch(rowCount: rows, columns: cols.map { $0.build() }))
    }

    /// A random schema (leaves of every supported type, nested optional groups) and data with
    /// nulls, empty and unicode strings and the extremes of each type.
    static func random(seed: UInt64, rows: Int) -> Dataset {
        var rng = SplitMix(seed: seed)
        var counter = 0
        func randomField(depth: Int) -> ParquetField {
            counter += 1
            let name = "c\(counter)"
            let nullable = rng.next() % 3 != 0
            let kind = Int(rng.next() % (depth < 2 ? 11 : 10))
            switch kind {
            case 0: return .boolean(name, nullable: nullable)
            case 1: return .int32(name, bits: 8, nullable: nullable)
            case 2: return .int32(name, bits: 16, nullable: nullable)
            case 3: return .int32(name, nullable: nullable)
            case 4: return .int64(name, nullable: nullable)
            case 5: return .timestampMicros(name, nullable: nullable)
            case 6: return .double(name, nullable: nullable)
            case 7: return .float(name, nullable: nullable)
            case 8: return .string(name, nullable: nullable)
            case 9: return .binary(name, nullable: nullable)
            default:
                let n = Int(rng.next() % 3) + 1
                return .group(name, nullable: nullable, (0..<n).map { _ in randomField(depth: depth + 1) })
            }
        }
        let fieldCount = Int(rng.next() % 6) + 1
        let schema = ParquetSchema((0..<fieldCount).map { _ in randomField(depth: 0) })
        let strings = ["", "a", "hello world", "ünïcödé", "日本語テキスト", "emoji 🎉🚀", "tab\tnew\nline\"quote\\", "nul\u{0}byte",
                       String(repeating: "long-", count: 400)]
        func value(_ field: ParquetField, nullRate: UInt64) -> Any? {
            if field.repetition == .optional && rng.next() % 100 < nullRate { return nil }
            guard case .primitive(let p, let l) = field.kind else { return nil }
            let extreme = rng.next() % 5 == 0
            switch (p, l) {
            case (.boolean, _): return rng.next() % 2 == 0
            case (.int32, .integer(8, _)?): return Int32(extreme ? [Int32(Int8.min), Int32(Int8.max), 0][Int(rng.next() % 3)] : Int32(Int8(truncatingIfNeeded: rng.next())))
            case (.int32, .integer(16, _)?): return Int32(extreme ? [Int32(Int16.min), Int32(Int16.max)][Int(rng.next() % 2)] : Int32(Int16(truncatingIfNeeded: rng.next())))
            case (.int32, _): return extreme ? [Int32.min, Int32.max, 0][Int(rng.next() % 3)] : Int32(truncatingIfNeeded: rng.next() % 1000)
            case (.int64, .timestamp?):
                // Within years 0001...9999 (DuckDB reserves the int64 extremes for ±infinity).
                let lo: Int64 = -62_135_596_800_000_000, hi: Int64 = 253_402_300_799_999_999
                return extreme ? [lo, hi, 0][Int(rng.next() % 3)] : Int64.random(in: lo...hi, using: &rng)
            case (.int64, _): return extreme ? [Int64.min, Int64.max, -1][Int(rng.next() % 3)] : Int64(bitPattern: rng.next()) >> Int64(rng.next() % 60)
            case (.double, _):
                return extreme
                    ? [Double.greatestFiniteMagnitude, -Double.greatestFiniteMagnitude, Double.leastNonzeroMagnitude, -0.0, Double.infinity, -Double.infinity][Int(rng.next() % 6)]
                    : Double(Int64(bitPattern: rng.next()) % 100_000) / 64
            case (.float, _):
                return extreme
                    ? [Float.greatestFiniteMagnitude, -Float.greatestFiniteMagnitude, Float.leastNonzeroMagnitude, -0.0, Float.infinity][Int(rng.next() % 5)]
                    : Float(Int32(truncatingIfNeeded: rng.next()) % 10_000) / 16
            case (.byteArray, .string?): return strings[Int(rng.next() % UInt64(strings.count))] + (rng.next() % 2 == 0 ? "" : String(rng.next() % 50))
            default: return (0..<Int(rng.next() % 24)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
            }
        }
        func fill(_ b: inout TestColumn, nullRate: UInt64, parentPresent: Bool) {
            switch b.field.kind {
            case .group:
                let present = parentPresent && !(b.field.repetition == .optional && rng.next() % 100 < nullRate)
                b.appendGroup(present: present)
                for k in b.children.indices { fill(&b.children[k], nullRate: nullRate, parentPresent: present) }
            case .primitive:
                // Children of a null group still need a slot; give them a value or not at random,
                // since the group's null must win either way.
                b.append(value(b.field, nullRate: parentPresent ? nullRate : 50))
            }
        }
        let nullRate: UInt64 = [0, 10, 50, 100][Int(rng.next() % 4)]
        var cols = schema.fields.map(TestColumn.init)
        for _ in 0..<rows {
            for k in cols.indices { fill(&cols[k], nullRate: nullRate, parentPresent: true) }
        }
        return Dataset(name: "random-\(seed)", schema: schema, batch: ParquetColumnBatch(rowCount: rows, columns: cols.map { $0.build() }))
    }
}

/// Runs the test Python (pyarrow and duckdb, `TestEnvironment.requirePython()`) on a batch of jobs (see interop.py below).
enum Python {
    @discardableResult
    static func run(_ arguments: [String]) throws -> String {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: try TestEnvironment.requirePython())
        p.arguments = arguments
        let out = Pipe(), err = Pipe()
        p.standardOutput = out
        p.standardError = err
        try p.run()
        let data = out.fileHandleForReading.readDataToEndOfFile()
        let errData = err.fileHandleForReading.readDataToEndOfFile()
        p.waitUntilExit()
        guard p.terminationStatus == 0 else {
            throw NSError(domain: "python", code: Int(p.terminationStatus), userInfo: [NSLocalizedDescriptionKey: String(decoding: errData, as: UTF8.self)])
        }
        return String(decoding: data, as: UTF8.self)
    }

    /// Each job is a dictionary: op "canon" (engine, in, out) writes canonical rows;
    /// op "write" (engine, in, out, options) re-writes a file with pyarrow or DuckDB.
    static func runJobs(_ jobs: [[String: Any]], in dir: TempDir) throws {
        let script = dir.file("interop.py")
        try interopScript.write(toFile: script, atomically: true, encoding: .utf8)
        let jobsFile = dir.file("jobs.json")
        try JSONSerialization.data(withJSONObject: jobs).write(to: URL(fileURLWithPath: jobsFile))
        try run([script, jobsFile])
    }

    static let interopScript = #"""
import json, struct, sys
import pyarrow as pa, pyarrow.parquet as pq, duckdb

def norm(t):
    if pa.types.is_timestamp(t): return pa.int64()
    if pa.types.is_struct(t): return pa.struct([pa.field(f.name, norm(f.type), f.nullable) for f in t])
    return t

def tok(v, t):
    if v is None: return 'N'
    if pa.types.is_struct(t): return '{' + ','.join(tok(v[f.name], f.type) for f in t) + '}'
    if pa.types.is_boolean(t): return 'T' if v else 'F'
    if pa.types.is_integer(t): return 'i%d' % v
    if pa.types.is_float64(t): return 'f%016x' % struct.unpack('<Q', struct.pack('<d', v))[0]
    if pa.types.is_float32(t): return 'f%08x' % struct.unpack('<I', struct.pack('<f', v))[0]
    if pa.types.is_string(t) or pa.types.is_large_string(t) or pa.types.is_string_view(t): return 's' + v.encode('utf-8').hex()
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_binary_view(t): return 's' + v.hex()
    raise Exception('unexpected type %s' % t)

def canon(table, out):
    schema = pa.schema([pa.field(f.name, norm(f.type), f.nullable) for f in table.schema])
    table = table.cast(schema)
    with open(out, 'w') as f:
        for row in table.to_pylist():
            f.write('|'.join(tok(row[fl.name], fl.type) for fl in schema) + '\n')

con = duckdb.connect()
for job in json.load(open(sys.argv[1])):
    src, dst = job['in'], job['out']
    if job['op'] == 'canon':
        if job['engine'] == 'pyarrow':
            canon(pq.read_table(src), dst)
        else:
            canon(con.sql("select * from read_parquet('%s')" % src).to_arrow_table(), dst)
    elif job['engine'] == 'pyarrow':
        pq.write_table(pq.read_table(src), dst, **json.loads(job['options']))
    else:
        con.execute("copy (select * from read_parquet('%s')) to '%s' (format parquet%s)" % (src, dst, job['options']))
"""#
}
