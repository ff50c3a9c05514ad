#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A sparse index entry: the batch holding `offset` starts at byte `position`.
struct IndexEntry: Equatable {
    var offset: Int64
    var position: Int64
}

/// One append-only segment file, `<base offset, 20 digits>.log`, and what is
/// known about its durable content.
///
/// `@unchecked Sendable` because its mutable state is split between two owners:
/// the fields under "durable view" are read and written only under the
/// LocalBus state lock; `writtenSize` and `bytesSinceIndexEntry` only by the
/// flusher thread. The file descriptor is immutable and closed when the last
/// reference goes, so a reader holding a segment can finish its `pread` even
/// after retention has unlinked the file.
final class Segment: @unchecked Sendable {
    let baseOffset: Int64
    let path: String
    let indexPath: String
    let fd: Int32

    // Durable view (state lock).
    /// Bytes that are fsynced and verified: readers read below this.
    var durableSize: Int64
    /// The offset after the last durable record.
    var nextOffset: Int64
    /// Timestamp of the first durable batch; nil while empty.
    var firstTimestamp: Int64?
    /// Newest timestamp of any durable batch, for retention by age.
    var maxTimestamp: Int64
    /// Sparse index over durable batches, ascending.
    var index: [IndexEntry]
    /// Why content stops at `durableSize` although the file (or the offsets the
    /// next segment starts at) says there is more; set by recovery for older segments.
    var corruption: String?

    // Flusher-owned.
    var writtenSize: Int64
    var bytesSinceIndexEntry: Int64
    /// Bytes reserved on disk ahead of appends (`FileIO.preallocate`).
    var preallocatedSize: Int64 = 0

    init(baseOffset: Int64, path: String, indexPath: String, fd: Int32, scan: Scan) {
        self.baseOffset = baseOffset
        self.path = path
        self.indexPath = indexPath
        self.fd = fd
        durableSize = scan.validSize
        nextOffset = scan.nextOffset
        firstTimestamp = scan.firstTimestamp
        maxTimestamp = scan.maxTimestamp
        index = scan.index
        corruption = nil
        writtenSize = scan.validSize
        bytesSinceIndexEntry = scan.bytesSinceIndexEntry
    }

    deinit { close(fd) }

    /// The file name of the segment starting at `base`.
    static func fileName(base: Int64) -> String {
        let digits = String(base)
        return String(repeating: "0", count: max(0, 20 - digits.count)) + digits + ".log"
    }

    /// The base offset of a segment file name, or nil for other files.
    static func baseOffset(fileName: String) -> Int64? {
        guard fileName.hasSuffix(".log"), fileName.utf8.count == 24 else { return nil }
        let digits = fileName.utf8.prefix(20)
        guard digits.allSatisfy({ $0 >= 48 && $0 <= 57 }) else { return nil }
        return Int64(String(decoding: digits, as: UTF8.self))
    }

    /// The sparse index entry at or before `offset`, by binary search.
    func indexEntry(atOrBefore offset: Int64) -> IndexEntry {
        var lo = 0
        var hi = index.count
        while lo < hi {
            let mid = (lo + hi) / 2
            if index[mid].offset <= offset { lo = mid + 1 } else { hi = mid }
        }
        return lo == 0 ? IndexEntry(offset: baseOffset, position: 0) : index[lo - 1]
    }

    // MARK: Scanning

    /// What a scan of a segment file found.
    struct Scan {
        var validSize: Int64 = 0
        var nextOffset: Int64
        var firstTimestamp: Int64? = nil
        var maxTimestamp: Int64 = 0
        var index: [IndexEntry] = []
        var bytesSinceIndexEntry: Int64 = 0
        /// Why the scan stopped before the end of the file, if it did.
        var problem: String? = nil

        init(baseOffset: Int64) { nextOffset = baseOffset }

        /// Records a valid batch found at `position`.
        mutating func add(_ h: RecordBatch.Header, at position: Int64, indexInterval: Int64) {
            if index.isEmpty || bytesSinceIndexEntry >= indexInterval {
                index.append(IndexEntry(offset: h.baseOffset, position: position))
                bytesSinceIndexEntry = 0
            }
            bytesSinceIndexEntry += Int64(h.length)
            if firstTimestamp == nil { firstTimestamp = h.firstTimestamp }
            maxTimestamp = max(maxTimestamp, h.maxTimestamp)
            nextOffset = h.nextOffset
            validSize = position + Int64(h.length)
        }
    }

    /// Reads a segment file from where `start` ended (`Scan(baseOffset:)`: the
    /// start of the file) up to `limit` bytes (default: the file's size), checking
    /// every batch's framing, offsets and CRC, and stops at the first bad or
    /// incomplete batch. The returned scan's index holds only entries it found.
    static func scan(fd: Int32, path: String, from start: Scan, upTo limit: Int64? = nil,
                     indexInterval: Int64, maxBatchBytes: Int) throws -> Scan {
        let fileSize = try limit ?? FileIO.size(fd, path)
        var scan = start
        scan.index = []
        var window = [UInt8]()
        var windowStart: Int64 = 0
        var position: Int64 = start.validSize
        let chunk = 1 << 20

        // Makes `window` cover [position, position + count); false if the file is shorter.
        func load(_ count: Int) throws -> Bool {
            if position + Int64(count) > fileSize { return false }
            if position >= windowStart && position + Int64(count) <= windowStart + Int64(window.count) { return true }
            let n = Int(min(fileSize - position, Int64(max(count, chunk))))
            window = [UInt8](repeating: 0, count: n)
            try window.withUnsafeMutableBytes { try FileIO.readAll(fd, into: $0, at: position, path) }
            windowStart = position
            return true
        }

        while position < fileSize {
            guard try load(RecordBatch.headerSize) else {
                scan.problem = "incomplete batch header at byte \(position)"
                break
            }
            let rel = Int(position - windowStart)
            let parsed = window.withUnsafeBytes {
                RecordBatch.parseHeader(UnsafeRawBufferPointer(rebasing: $0[rel..<rel + RecordBatch.headerSize]),
                                        expectedBase: scan.nextOffset, maxLength: maxBatchBytes)
            }
            let header: RecordBatch.Header
            switch parsed {
            case .success(let h): header = h
            case .failure(let problem):
                scan.problem = "\(problem) at byte \(position)"
                return scan
            }
            guard try load(header.length) else {
                scan.problem = "batch at byte \(position) is truncated (\(fileSize - position) of \(header.length) bytes)"
                break
            }
            let r = Int(position - windowStart)
            if let bad = window.withUnsafeBytes({ RecordBatch.verifyCRC(UnsafeRawBufferPointer(rebasing: $0[r..<r + header.length]), header) }) {
                scan.problem = "\(bad) in batch at byte \(position) (offset \(header.baseOffset))"
                break
            }
            scan.add(header, at: position, indexInterval: indexInterval)
            position += Int64(header.length)
        }
        return scan
    }

    // MARK: Index files

    /// "LPI1": an index file written when a segment is closed to appends, so a
    /// reopen need not rescan old segments. It is a cache: on any mismatch it
    /// is ignored and the segment is scanned again.
    private static let indexMagic: UInt32 = 0x3149_504C

    /// Writes the index file of a segment that receives no more appends.
    /// It is not fsynced: a lost or torn index file fails its checks and is rebuilt.
    static func writeIndexFile(path: String, logSize: Int64, scan: Scan) throws {
        var out = [UInt8]()
        out.reserveCapacity(56 + scan.index.count * 16)
        func put<T: FixedWidthInteger>(_ v: T) { withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) } }
        put(indexMagic)
        put(UInt32(scan.index.count))
        put(logSize)
        put(scan.nextOffset)
        put(scan.firstTimestamp ?? -1)
        put(scan.maxTimestamp)
        put(scan.bytesSinceIndexEntry)
        for e in scan.index {
            put(e.offset)
            put(e.position)
        }
        put(CRC32C.checksum(out))
        let tmp = path + ".tmp"
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 { throw FileIO.error("open", tmp) }
        defer { close(fd) }
        try out.withUnsafeBytes { try FileIO.writeAll(fd, $0, at: 0, tmp) }
        if rename(tmp, path) != 0 { throw FileIO.error("rename", tmp) }
    }

    /// Reads an index file if it is intact and describes a log of `logSize` bytes.
    static func readIndexFile(path: String, baseOffset: Int64, logSize: Int64) -> Scan? {
        guard let bytes = try? FileIO.readFile(path), bytes.count >= 52 else { return nil }
        return bytes.withUnsafeBytes { raw -> Scan? in
            func get<T: FixedWidthInteger>(_ at: Int, _: T.Type) -> T { T(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: T.self)) }
            let count = Int(get(4, UInt32.self))
            guard get(0, UInt32.self) == indexMagic, bytes.count == 52 + count * 16,
                  get(bytes.count - 4, UInt32.self) == CRC32C.checksum(UnsafeRawBufferPointer(rebasing: raw[0..<bytes.count - 4])),
                  get(8, Int64.self) == logSize
            else { return nil }
            var scan = Scan(baseOffset: baseOffset)
            scan.validSize = logSize
            scan.nextOffset = get(16, Int64.self)
            let first = get(24, Int64.self)
            scan.firstTimestamp = first < 0 ? nil : first
            scan.maxTimestamp = get(32, Int64.self)
            scan.bytesSinceIndexEntry = get(40, Int64.self)
            scan.index.reserveCapacity(count)
            for i in 0..<count {
                scan.index.append(IndexEntry(offset: get(48 + i * 16, Int64.self), position: get(56 + i * 16, Int64.self)))
            }
            guard scan.nextOffset >= baseOffset, scan.index.first.map({ $0.offset == baseOffset && $0.position == 0 }) ?? (logSize == 0)
            else { return nil }
            return scan
        }
    }
}
