import LogpipeParquet

/// A lake file that is not readable Parquet, named: in a lake of thousands of files, "missing
/// PAR1 magic" alone does not say which one to look at (or move aside).
public struct LakeFileError: Error, Sendable, CustomStringConvertible {
    /// The file, as the lake's store names it.
    public let path: String
    /// What the Parquet reader found.
    public let error: ParquetError

    /// `"<path>: <error>"`.
    public var description: String { "\(path): \(error)" }

    /// Runs `body`, which reads the Parquet file at `path`, naming the file in a Parquet error.
    public static func naming<T>(_ path: String, _ body: () async throws -> T) async throws -> T {
        do {
            return try await body()
        } catch let error as ParquetError {
            throw LakeFileError(path: path, error: error)
        }
    }
}

extension FileStore {
    /// Opens the Parquet file at `path` reading only its footer: by path on a local store,
    /// with ranged reads of the file's tail elsewhere (one request when the footer fits in
    /// `ParquetFileReader.suggestedTailLength`, two otherwise). `size` saves a `stat` when a
    /// listing already gave it. Returns the reader and the bytes fetched.
    /// A file that is not Parquet throws `LakeFileError`.
    public func openParquet(_ path: String, size: Int64? = nil) async throws -> (reader: ParquetFileReader, bytesFetched: Int) {
        try await LakeFileError.naming(path) { try await openParquetFooter(path, size: size) }
    }

    private func openParquetFooter(_ path: String, size: Int64?) async throws -> (reader: ParquetFileReader, bytesFetched: Int) {
        if let local = self as? LocalFileStore {
            return (try ParquetFileReader(path: try local.absolutePath(path)), 0)
        }
        let fileSize: Int64
        if let size {
            fileSize = size
        } else {
            guard let status = try await stat(path) else { throw FileStoreError.notFound(path) }
            fileSize = status.size
        }
        let first = Int(min(fileSize, Int64(ParquetFileReader.suggestedTailLength)))
        var tail = try await read(path, offset: fileSize - Int64(first), length: first)
        var fetched = tail.count
        let needed = try ParquetFileReader.footerLength(trailer: tail) + 8
        if needed > tail.count, Int64(needed) <= fileSize {
            let rest = try await read(path, offset: fileSize - Int64(needed), length: needed - tail.count)
            fetched += rest.count
            tail = rest + tail
        }
        // A file smaller than the first request arrived whole.
        if Int64(tail.count) == fileSize { return (try ParquetFileReader(bytes: tail), fetched) }
        return (try ParquetFileReader(size: Int(fileSize), tail: tail), fetched)
    }

    /// Reads row group `index` of a reader `openParquet` gave, restricted to `columns`: on a
    /// remote store only the projected column chunks are fetched (neighbours less than
    /// 1 MiB apart in one request). Returns the table and the bytes fetched; a page that does
    /// not decode throws `LakeFileError`.
    public func readRowGroup(_ reader: ParquetFileReader, path: String, index: Int, columns: [String]? = nil) async throws -> (table: ParquetTable, bytesFetched: Int) {
        try await LakeFileError.naming(path) { try await readChunks(reader, path: path, index: index, columns: columns) }
    }

    private func readChunks(_ reader: ParquetFileReader, path: String, index: Int, columns: [String]?) async throws -> (table: ParquetTable, bytesFetched: Int) {
        guard reader.needsSuppliedChunks else { return (try reader.readRowGroup(index, columns: columns), 0) }
        var merged: [(offset: Int, end: Int)] = []
        for range in try reader.chunkRanges(rowGroup: index, columns: columns) {
            if let last = merged.last, range.offset - last.end < 1 << 20 {
                merged[merged.count - 1].end = max(last.end, range.offset + range.length)
            } else {
                merged.append((range.offset, range.offset + range.length))
            }
        }
        var fetched = 0
        for range in merged {
            let bytes = try await read(path, offset: Int64(range.offset), length: range.end - range.offset)
            fetched += bytes.count
            reader.supply(offset: range.offset, bytes: bytes)
        }
        defer { reader.discardSuppliedChunks() }
        return (try reader.readRowGroup(index, columns: columns), fetched)
    }
}
