import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// A WebHDFS server for tests: no HDFS installs on this machine (Debian and PyPI carry only
/// clients, Hadoop itself is a download), so this is an implementation of the documented
/// WebHDFS REST protocol (Hadoop's "WebHDFS REST API" page) in Python, over a real directory.
/// A NameNode port answers the namespace operations and redirects CREATE, APPEND and OPEN
/// with 307 to a DataNode port, which takes or gives the bytes; errors are HDFS's
/// `RemoteException` JSON. HDFS's semantics are kept where the lake depends on them:
/// `CREATE` with `overwrite=false` fails with `FileAlreadyExistsException` on an existing
/// file, `RENAME` returns `false` (changing nothing) when the destination exists or its
/// parent is missing, and both are atomic (one lock over the namespace).
public final class WebHDFSServer: TestServer {
    /// The NameNode's port on 127.0.0.1.
    public let namenodePort: Int
    /// The DataNode's port on 127.0.0.1.
    public let datanodePort: Int
    private let process: ChildProcess
    private let directory: TemporaryDirectory

    /// The NameNode's HTTP address.
    public var namenode: String { "http://127.0.0.1:\(namenodePort)" }
    /// The directory holding the file system's contents. (`GET /webhdfs/v1/?op=STATS` on the
    /// NameNode, a test hook outside the protocol, counts requests per endpoint and operation.)
    public var storageDirectory: String { directory.appending("hdfs") }

    private init(namenodePort: Int, datanodePort: Int, process: ChildProcess, directory: TemporaryDirectory) {
        self.namenodePort = namenodePort
        self.datanodePort = datanodePort
        self.process = process
        self.directory = directory
    }

    static let server = #"""
import json, os, socket, sys, threading, time, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

root, nn_port, dn_port = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
lock = threading.RLock()
stats = {}

def local(path):
    parts = [p for p in path.split("/") if p]
    if any(p in (".", "..") for p in parts):
        raise ValueError("bad path")
    return os.path.join(root, *parts)

def status(path, name):
    st = os.stat(path)
    is_dir = os.path.isdir(path)
    return {"accessTime": int(st.st_atime * 1000), "blockSize": 134217728, "childrenNum": len(os.listdir(path)) if is_dir else 0,
            "fileId": st.st_ino, "group": "supergroup", "length": 0 if is_dir else st.st_size,
            "modificationTime": int(st.st_mtime * 1000), "owner": "logpipe", "pathSuffix": name,
            "permission": "755" if is_dir else "644", "replication": 0 if is_dir else 3,
            "storagePolicy": 0, "type": "DIRECTORY" if is_dir else "FILE"}

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    datanode = False

    def log_message(self, *args):
        pass

    def setup(self):
        super().setup()
        # Headers and body go out in separate writes: without this, Nagle's algorithm and
        # delayed ACKs hold every answer back ~40 ms.
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def reply(self, code, body=b"", content_type="application/json", headers=()):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for k, v in headers:
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def remote(self, code, exception, message):
        java = {"FileNotFoundException": "java.io.FileNotFoundException",
                "FileAlreadyExistsException": "org.apache.hadoop.fs.FileAlreadyExistsException",
                "IllegalArgumentException": "java.lang.IllegalArgumentException"}.get(exception, "java.io.IOException")
        self.reply(code, {"RemoteException": {"exception": exception, "javaClassName": java, "message": message}})

    def body(self):
        length = int(self.headers.get("Content-Length") or 0)
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().strip(), 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                data += self.rfile.read(size)
                self.rfile.readline()
        return self.rfile.read(length) if length else b""

    def handle_any(self, method):
        url = urllib.parse.urlsplit(self.path)
        query = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
        if not url.path.startswith("/webhdfs/v1"):
            return self.remote(404, "IllegalArgumentException", "not a WebHDFS path")
        hdfs = urllib.parse.unquote(url.path[len("/webhdfs/v1"):]) or "/"
        op = query.get("op", "").upper()
        data = self.body()
        with lock:
            key = ("dn:" if self.datanode else "nn:") + op
            stats[key] = stats.get(key, 0) + 1
        try:
            path = local(hdfs)
        except ValueError:
            return self.remote(400, "IllegalArgumentException", f"Invalid path name {hdfs}")
        if self.datanode:
            return self.datanode_op(method, op, hdfs, path, query, data)
        return self.namenode_op(method, op, hdfs, path, query, data)

    def redirect(self, op, hdfs, query):
        params = dict(query, namenoderpcaddress="127.0.0.1:8020")
        location = f"http://127.0.0.1:{dn_port}/webhdfs/v1{urllib.parse.quote(hdfs)}?" + urllib.parse.urlencode(params)
        self.reply(307, b"", "application/octet-stream", [("Location", location)])

    def namenode_op(self, method, op, hdfs, path, query, data):
        if op == "STATS":
            with lock:
                return self.reply(200, stats)
        if (method, op) in (("PUT", "CREATE"), ("POST", "APPEND"), ("GET", "OPEN")):
            # The two-step protocol: no data before the redirect.
            if data:
                return self.remote(400, "IllegalArgumentException", "data sent to the NameNode")
            if op != "CREATE":
                with lock:
                    if not os.path.isfile(path):
                        return self.remote(404, "FileNotFoundException", f"File does not exist: {hdfs}")
            return self.redirect(op, hdfs, query)
        with lock:
            if method == "GET" and op == "GETFILESTATUS":
                if not os.path.exists(path):
                    return self.remote(404, "FileNotFoundException", f"File does not exist: {hdfs}")
                return self.reply(200, {"FileStatus": status(path, "")})
            if method == "GET" and op == "LISTSTATUS":
                if not os.path.exists(path):
                    return self.remote(404, "FileNotFoundException", f"File {hdfs} does not exist.")
                if os.path.isfile(path):
                    entries = [status(path, "")]
                else:
                    entries = [status(os.path.join(path, n), n) for n in sorted(os.listdir(path))]
                return self.reply(200, {"FileStatuses": {"FileStatus": entries}})
            if method == "PUT" and op == "MKDIRS":
                if os.path.isfile(path):
                    return self.remote(403, "FileAlreadyExistsException", f"Path is not a directory: {hdfs}")
                os.makedirs(path, exist_ok=True)
                return self.reply(200, {"boolean": True})
            if method == "PUT" and op == "RENAME":
                destination = query.get("destination", "")
                if not destination.startswith("/"):
                    return self.remote(400, "IllegalArgumentException", f"Invalid value for webhdfs parameter \"destination\": {destination}")
                target = local(destination)
                ok = os.path.exists(path) and not os.path.exists(target) and os.path.isdir(os.path.dirname(target))
                if ok:
                    os.rename(path, target)
                    fd = os.open(os.path.dirname(target), os.O_RDONLY)
                    os.fsync(fd)
                    os.close(fd)
                return self.reply(200, {"boolean": ok})
            if method == "DELETE" and op == "DELETE":
                if not os.path.exists(path):
                    return self.reply(200, {"boolean": False})
                if os.path.isdir(path):
                    if os.listdir(path) and query.get("recursive", "false") != "true":
                        return self.remote(403, "PathIsNotEmptyDirectoryException", f"{hdfs} is non empty")
                    import shutil
                    shutil.rmtree(path)
                else:
                    os.unlink(path)
                return self.reply(200, {"boolean": True})
        return self.remote(400, "IllegalArgumentException", f"Invalid value for webhdfs parameter \"op\": {op} with {method}")

    def datanode_op(self, method, op, hdfs, path, query, data):
        if "namenoderpcaddress" not in query:
            return self.remote(400, "IllegalArgumentException", "namenoderpcaddress is not specified")
        with lock:
            if method == "PUT" and op == "CREATE":
                if os.path.isdir(path):
                    return self.remote(403, "FileAlreadyExistsException", f"{hdfs} already exists as a directory")
                if os.path.exists(path) and query.get("overwrite", "false") != "true":
                    return self.remote(403, "FileAlreadyExistsException", f"{hdfs} for client 127.0.0.1 already exists")
                os.makedirs(os.path.dirname(path), exist_ok=True)
                with open(path, "wb") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                return self.reply(201, b"", "application/octet-stream", [("Location", f"hdfs://127.0.0.1:8020{hdfs}")])
            if method == "POST" and op == "APPEND":
                if not os.path.isfile(path):
                    return self.remote(404, "FileNotFoundException", f"File does not exist: {hdfs}")
                with open(path, "ab") as f:
                    f.write(data)
                    f.flush()
                    os.fsync(f.fileno())
                return self.reply(200, b"", "application/octet-stream")
            if method == "GET" and op == "OPEN":
                if not os.path.isfile(path):
                    return self.remote(404, "FileNotFoundException", f"File does not exist: {hdfs}")
                offset = int(query.get("offset", "0"))
                size = os.path.getsize(path)
                if offset > size:
                    return self.remote(403, "IOException", f"Offset={offset} out of the range [0, {size}); OPEN, path={hdfs}")
                with open(path, "rb") as f:
                    f.seek(offset)
                    length = query.get("length")
                    content = f.read(int(length)) if length else f.read()
                return self.reply(200, content, "application/octet-stream")
        return self.remote(400, "IllegalArgumentException", f"Invalid DataNode operation {op} with {method}")

    def do_GET(self): self.handle_any("GET")
    def do_PUT(self): self.handle_any("PUT")
    def do_POST(self): self.handle_any("POST")
    def do_DELETE(self): self.handle_any("DELETE")

class DataNodeHandler(Handler):
    datanode = True

os.makedirs(root, exist_ok=True)
ThreadingHTTPServer.daemon_threads = True
dn = ThreadingHTTPServer(("127.0.0.1", dn_port), DataNodeHandler)
threading.Thread(target=dn.serve_forever, daemon=True).start()
ThreadingHTTPServer(("127.0.0.1", nn_port), Handler).serve_forever()
"""#

    /// Starts a NameNode and a DataNode endpoint and returns once both accept connections.
    public static func start(timeout: Duration = .seconds(15)) async throws -> WebHDFSServer {
        let directory = try TemporaryDirectory(prefix: "webhdfs")
        let script = directory.appending("webhdfs_server.py")
        try Data(server.utf8).write(to: URL(fileURLWithPath: script))
        do {
            return try await LoopbackPort.launch(ports: 2, start: { ports in
                try ChildProcess(executable: TestEnvironment.python,
                                 arguments: TestEnvironment.pythonPrefixArguments + [script, directory.appending("hdfs")] + ports.map(String.init))
            }, ready: { process, ports in
                for port in ports {
                    try await LoopbackPort.waitUntilListening(port, timeout: timeout) {
                        "webhdfs server: \(String(decoding: process.standardError.suffix(4000), as: UTF8.self))"
                    }
                }
                return WebHDFSServer(namenodePort: ports[0], datanodePort: ports[1], process: process, directory: directory)
            })
        } catch {
            directory.remove()
            throw error
        }
    }

    /// Kills the server, reaps it and removes its directory.
    public func stop() async {
        process.kill(SIGKILL)
        await process.waitForExit()
        directory.remove()
    }
}
