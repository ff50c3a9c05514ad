import Foundation
import LogpipeRecords
import Testing

/// Real-world Apache and Nginx access-log lines become exactly the expected log records;
/// lines that do not parse are rejected by line number while the rest is accepted.
struct AccessLogTests {
    func read(_ text: String, format: AccessLogFormat = .auto, service: String? = "web", host: String? = "edge-1")
        -> (LogBatch, AccessLogReadResult) {
        var reader = AccessLogReader(format: format, service: service, host: host)
        var batch = LogBatch()
        let bytes = Array(text.utf8)
        let result = bytes.withUnsafeBytes { reader.readLogs(body: $0, into: &batch) }
        return (batch, result)
    }

    func record(_ seconds: Int64, _ level: LogLevel, _ message: String, status: Int32, endpoint: String?, method: String?,
                client: String, user: String? = nil, extra: String?) -> LogRecord {
        LogRecord(timestampMicros: seconds * 1_000_000, level: level, service: "web", host: "edge-1", message: message,
                  metadata: .init(statusCode: status, endpoint: endpoint, method: method, clientIp: client, userId: user),
                  extra: extra)
    }

    @Test("Apache common and combined lines, Nginx lines with IPv6, dashes, escapes and a 404")
    func realWorldLines() {
        let lines = [
            #"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#,
            #"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326 "http://www.example.com/start.html" "Mozilla/4.08 [en] (Win98; I ;Nav)""#,
            #"2001:db8::1 - - [29/Nov/2026:01:02:03 +0000] "GET /api/users?id=7&x=%22 HTTP/2.0" 404 0 "-" "curl/8.5.0""#,
            #"203.0.113.9 - - [01/Jan/2026:00:00:00 +0100] "POST /login HTTP/1.1" 503 - "https://ex.com/a" "Mozilla/5.0 \"quoted\" \x22bot\x22 \\ end""#,
            #"10.0.0.1 - - [10/Oct/2000:13:55:36 -0700] "-" 408 -"#,
        ]
        let (batch, result) = read(lines.joined(separator: "\n") + "\n")
        #expect(result.body.errors == [])
        #expect(result.isJSONLine == [false, false, false, false, false])
        #expect(batch.count == 5)
        let expected = [
            record(971_211_336, .info, "GET /apache_pb.gif HTTP/1.0", status: 200, endpoint: "/apache_pb.gif", method: "GET",
                   client: "127.0.0.1", user: "frank", extra: #"{"metadata":{"bytes":2326,"protocol":"HTTP/1.0"}}"#),
            record(971_211_336, .info, "GET /apache_pb.gif HTTP/1.0", status: 200, endpoint: "/apache_pb.gif", method: "GET",
                   client: "127.0.0.1", user: "frank",
                   extra: #"{"metadata":{"bytes":2326,"protocol":"HTTP/1.0","referrer":"http://www.example.com/start.html","user_agent":"Mozilla/4.08 [en] (Win98; I ;Nav)"}}"#),
            record(1_795_914_123, .warn, "GET /api/users?id=7&x=%22 HTTP/2.0", status: 404, endpoint: "/api/users", method: "GET",
                   client: "2001:db8::1", extra: #"{"metadata":{"bytes":0,"protocol":"HTTP/2.0","query":"id=7&x=%22","user_agent":"curl/8.5.0"}}"#),
            record(1_767_222_000, .error, "POST /login HTTP/1.1", status: 503, endpoint: "/login", method: "POST",
                   client: "203.0.113.9",
                   extra: #"{"metadata":{"protocol":"HTTP/1.1","referrer":"https://ex.com/a","user_agent":"Mozilla/5.0 \"quoted\" \"bot\" \\ end"}}"#),
            record(971_211_336, .warn, "-", status: 408, endpoint: nil, method: nil, client: "10.0.0.1", extra: nil),
        ]
        for (i, want) in expected.enumerated() {
            #expect(batch.record(at: i) == want, "line \(i + 1)")
        }
        // The contract JSON of a parsed line reads back as the same record.
        var json: [UInt8] = []
        JSONRecordWriter.appendLog(batch, row: 3, to: &json)
        var reader = JSONBodyReader()
        var again = LogBatch()
        #expect(json.withUnsafeBytes { reader.appendLog(json: $0, to: &again) } == nil)
        #expect(again.record(at: 0) == expected[3])
    }

    @Test("times outside the contract's years or calendar are rejected (a fuzzing finding)")
    func timeRange() {
        let lines = [
            #"2001:db8::1 - - [29/Nov/4052:01:02:03 +0000] "GET /x HTTP/2.0" 404 0 "-" "curl""#,
            #"2001:db8::1 - - [01/Jan/1970:00:30:00 +0100] "GET /x HTTP/2.0" 404 0 "-" "curl""#,
            #"2001:db8::1 - - [29/Feb/2026:00:00:00 +0000] "GET /x HTTP/2.0" 404 0 "-" "curl""#,
            #"2001:db8::1 - - [29/Feb/2028:00:00:00 +0000] "GET /x HTTP/2.0" 404 0 "-" "curl""#,
        ]
        var body = Array(lines.joined(separator: "\n").utf8)
        // Invalid UTF-8 in the client and in the user (the second fuzzing finding).
        body += Array("\n127.0.0".utf8) + [0xC3] + Array(".1 - frank [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 1".utf8)
        body += Array("\n127.0.0.1 - fr".utf8) + [0xFF] + Array("ank [10/Oct/2000:13:55:36 -0700] \"GET / HTTP/1.0\" 200 1".utf8)
        var reader0 = AccessLogReader(format: .auto, service: "web", host: "edge-1")
        var batch = LogBatch()
        let result = body.withUnsafeBytes { reader0.readLogs(body: $0, into: &batch) }
        #expect(result.body.errors.map(\.field).suffix(2) == ["metadata.client_ip", "metadata.user_id"])
        #expect(result.body.errors.map(\.index) == [0, 1, 2, 4, 5])
        #expect(result.body.errors.map(\.field).prefix(3) == ["timestamp", "timestamp", "timestamp"])
        #expect(batch.count == 1)
        // Every accepted line writes back as JSON the JSON reader accepts.
        var json: [UInt8] = []
        JSONRecordWriter.appendLog(batch, row: 0, to: &json)
        var reader = JSONBodyReader()
        var again = LogBatch()
        #expect(json.withUnsafeBytes { reader.appendLog(json: $0, to: &again) } == nil)
    }

    @Test("a very long URL keeps its path as the endpoint and its query in metadata")
    func longURL() {
        let query = "q=" + String(repeating: "a", count: 8000)
        let line = #"198.51.100.4 - - [29/Nov/2026:12:00:00 +0000] "GET /search?"# + query + #" HTTP/1.1" 200 512 "-" "-""#
        let (batch, result) = read(line, format: .nginx)
        #expect(result.body.errors == [])
        #expect(batch.record(at: 0) == record(1_795_953_600, .info, "GET /search?\(query) HTTP/1.1", status: 200, endpoint: "/search",
                                              method: "GET", client: "198.51.100.4",
                                              extra: #"{"metadata":{"bytes":512,"protocol":"HTTP/1.1","query":""# + query + #""}}"#))
    }

    @Test("garbage lines are rejected by line number; the rest of the body is accepted")
    func garbageByLineNumber() {
        let good = #"192.0.2.1 - - [29/Nov/2026:01:00:00 +0000] "GET / HTTP/1.1" 200 10 "-" "ua""#
        let body = [
            good,                                                                         // 1
            "hello world",                                                                // 2
            "",                                                                           // 3 (blank: not a record)
            #"192.0.2.1 - - [99/Foo/2026:01:00:00 +0000] "GET / HTTP/1.1" 200 10"#,      // 4
            #"{"timestamp": 1767225600, "level": "INFO", "service": "api", "message": "m"}"#, // 5 (JSON line)
            #"192.0.2.1 - - [29/Nov/2026:01:00:00 +0000] "GET / HTTP/1.1" 20x 10"#,      // 6
            #"192.0.2.1 - - [29/Nov/2026:01:00:00 +0000] "GET / HTTP/1.1" 200 10 "-""#,  // 7
            #"{"level": "INFO"}"#,                                                        // 8
            good,                                                                         // 9
        ].joined(separator: "\r\n")
        let (batch, result) = read(body)
        #expect(batch.count == 3)
        #expect(result.body.total == 8)
        #expect(result.isJSONLine == [false, true, false])
        #expect(result.body.errors.map(\.index) == [1, 3, 5, 6, 7])
        #expect(result.body.errors.map(\.field) == ["$", "timestamp", "metadata.status_code", "$", "timestamp"])
        #expect(result.body.errors.allSatisfy { $0.message.hasPrefix("line \($0.index + 1): ") })
        #expect(batch.record(at: 1).service == "api")

        // Nginx requires the referrer and user agent; explicit formats take no JSON lines.
        let (_, nginx) = read(#"192.0.2.1 - - [29/Nov/2026:01:00:00 +0000] "GET / HTTP/1.1" 200 10"# + "\n" + good, format: .nginx)
        #expect(nginx.body.errors.map(\.index) == [0])
        let (_, apache) = read(#"{"timestamp": 1767225600, "level": "INFO", "service": "api", "message": "m"}"#, format: .apache)
        #expect(apache.body.errors.map(\.index) == [0])
        // Without a service, access lines are rejected; JSON lines name their own.
        let (_, noService) = read(good + "\n" + #"{"timestamp": 1767225600, "level": "INFO", "service": "api", "message": "m"}"#, service: nil)
        #expect(noService.body.errors.map(\.field) == ["service"])
        #expect(noService.body.accepted == 1)
    }
}
