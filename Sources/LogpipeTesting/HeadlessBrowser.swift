import Foundation

/// A page loaded in Debian's headless Chromium, driven over the DevTools protocol (a Python
/// stdlib client, so nothing beyond `chromium` and `python3` is needed): the page runs in
/// real time until a JavaScript condition holds, and every error it met is collected:
/// uncaught exceptions, `console.error`, and the browser's own log errors (failed loads,
/// HTTP error responses, CSP violations).
public enum HeadlessBrowser {
    /// What the page looked like and what went wrong on it.
    public struct Rendering: Sendable {
        /// `document.documentElement.outerHTML` once the condition held.
        public var html: String
        /// Every error, one line each.
        public var errors: [String]
    }

    /// Loads `url` and waits until the JavaScript expression `condition` is true, then returns
    /// the DOM (and writes a PNG screenshot to `screenshot` when given).
    public static func render(
        _ url: String, until condition: String, screenshot: String? = nil, windowSize: (Int, Int) = (1400, 1000),
        timeout: Duration = .seconds(60)
    ) async throws -> Rendering {
        let chromium = try TestEnvironment.tool("chromium", debianPackage: "chromium")
        let directory = try TemporaryDirectory(prefix: "logpipe-browser")
        defer { directory.remove() }
        let script = directory.appending("cdp.py")
        try Data(cdpScript.utf8).write(to: URL(fileURLWithPath: script))
        let seconds = Double(timeout.components.seconds)
        let result = try await ChildProcess.run(TestEnvironment.python, TestEnvironment.pythonPrefixArguments + [
            script, chromium, url, condition, String(seconds), screenshot ?? "", "\(windowSize.0)x\(windowSize.1)",
            directory.appending("profile"),
        ], timeout: timeout + .seconds(30))
        guard result.status == 0,
              let json = try? JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any],
              let html = json["html"] as? String, let errors = json["errors"] as? [String] else {
            throw BrowserFailure(description: "driving chromium failed (\(result.status)): \(result.error.suffix(3000))")
        }
        if json["timed_out"] as? Bool == true {
            throw BrowserFailure(description: "\(url): `\(condition)` did not hold within \(timeout); page errors: \(errors)")
        }
        return Rendering(html: html, errors: errors)
    }

    /// The DevTools client: arguments chromium, url, condition, timeout seconds, screenshot
    /// path (or empty), WIDTHxHEIGHT, profile directory; prints `{html, errors, timed_out}`.
    static let cdpScript = #"""
import base64, json, os, socket, struct, subprocess, sys, time, urllib.request
chromium, url, condition, timeout, screenshot, size, profile = sys.argv[1:8]
width, height = (int(v) for v in size.split("x"))
with socket.socket() as s:
    s.bind(("127.0.0.1", 0)); port = s.getsockname()[1]
browser = subprocess.Popen([chromium, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--hide-scrollbars",
                            "--user-data-dir=" + profile, "--remote-debugging-port=%d" % port, "--window-size=%d,%d" % (width, height),
                            "about:blank"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
errors = []
try:
    deadline = time.time() + 30
    while True:
        try:
            targets = json.load(urllib.request.urlopen("http://127.0.0.1:%d/json/list" % port)); break
        except OSError:
            if time.time() > deadline: raise
            time.sleep(0.1)
    page = next(t for t in targets if t["type"] == "page")
    address, path = page["webSocketDebuggerUrl"].split("//", 1)[1].split("/", 1)
    host, ws_port = address.rsplit(":", 1)
    ws = socket.create_connection((host, int(ws_port)))
    ws.sendall(("GET /%s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                "Sec-WebSocket-Key: bG9ncGlwZWxvZ3BpcGU=\r\nSec-WebSocket-Version: 13\r\n\r\n" % (path, address)).encode())
    handshake = b""
    while b"\r\n\r\n" not in handshake: handshake += ws.recv(1)
    def exact(n):
        data = b""
        while len(data) < n:
            chunk = ws.recv(n - len(data))
            if not chunk: raise EOFError("devtools connection closed")
            data += chunk
        return data
    def message():
        data = b""
        while True:
            b0, b1 = exact(2)
            n = b1 & 0x7F
            if n == 126: n = struct.unpack(">H", exact(2))[0]
            elif n == 127: n = struct.unpack(">Q", exact(8))[0]
            data += exact(n)
            if b0 & 0x80: return b0 & 0x0F, data
    def note(event):
        method, params = event.get("method"), event.get("params", {})
        if method == "Runtime.exceptionThrown":
            d = params["exceptionDetails"]
            errors.append("exception: %s %s" % (d.get("text", ""), d.get("exception", {}).get("description", "")))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            errors.append("console.%s: %s" % (params["type"], " ".join(str(a.get("value", a.get("description", ""))) for a in params.get("args", []))))
        elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
            errors.append("log: %s %s" % (params["entry"].get("text", ""), params["entry"].get("url", "")))
    next_id = [0]
    def call(method, params=None):
        next_id[0] += 1
        body = json.dumps({"id": next_id[0], "method": method, "params": params or {}}).encode()
        length = bytes([0x80 | len(body)]) if len(body) < 126 else bytes([0x80 | 126]) + struct.pack(">H", len(body))
        ws.sendall(bytes([0x81]) + length + b"\0\0\0\0" + body)  # a zero mask leaves the payload as it is
        while True:
            opcode, data = message()
            if opcode != 1: continue
            reply = json.loads(data)
            if reply.get("id") == next_id[0]:
                if "error" in reply: raise RuntimeError("%s: %s" % (method, reply["error"]))
                return reply["result"]
            note(reply)
    for domain in ("Runtime", "Log", "Page"): call(domain + ".enable")
    call("Page.navigate", {"url": url})
    deadline, timed_out = time.time() + float(timeout), True
    while time.time() < deadline:
        result = call("Runtime.evaluate", {"expression": "Boolean(%s)" % condition, "returnByValue": True})
        if result.get("result", {}).get("value") is True:
            timed_out = False; break
        time.sleep(0.2)
    html = call("Runtime.evaluate", {"expression": "document.documentElement.outerHTML", "returnByValue": True})["result"]["value"]
    if screenshot:
        with open(screenshot, "wb") as f: f.write(base64.b64decode(call("Page.captureScreenshot", {"format": "png"})["data"]))
    print(json.dumps({"html": html, "errors": errors, "timed_out": timed_out}))
finally:
    browser.terminate(); browser.wait()
"""#
}

/// Chromium could not be driven, or the page never reached the awaited state.
public struct BrowserFailure: Error, CustomStringConvertible {
    /// What happened, with the page's errors.
    public var description: String
}
