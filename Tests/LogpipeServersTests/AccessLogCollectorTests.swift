import Foundation
import HTTPTypes
import LogpipeServers
import Testing

/// Raw access-log bodies through a real collector socket onto a real bus.
struct AccessLogCollectorTests {
    let collector = CollectorTests()

    @Test("text/plain Apache and Nginx lines become contract JSON on the bus; bad lines are rejected by line number")
    func rawLinesOntoTheBus() async throws {
        let body = [
            #"127.0.0.1 - frank [10/Oct/2000:13:55:36 -0700] "GET /apache_pb.gif HTTP/1.0" 200 2326"#,
            "not an access log line",
            #"{"timestamp": 1767225600, "level": "INFO", "service": "api", "message": "as sent"}"#,
            #"2001:db8::1 - - [29/Nov/2026:01:02:03 +0000] "GET /api/users?id=7 HTTP/2.0" 500 0 "-" "curl/8.5.0""#,
        ].joined(separator: "\n")
        let (status, answer, values, dead) = try await collector.withCollector { client, bus in
            let (status, answer, _) = try await collector.post(client, "/api/collect/logs?format=auto&service=web", Array(body.utf8),
                                                               contentType: "text/plain", headers: [HTTPField.Name("X-Logpipe-Host")!: "edge-1"])
            return (status, answer, try await collector.values(bus, "logs.raw"), try await collector.values(bus, "logs.raw.dlq"))
        }
        #expect(status == .ok)
        #expect(answer == (#"{"accepted":3,"rejected":[{"index":1,"field":"timestamp","error":"line 2: expected [dd/Mon/yyyy:HH:MM:SS +zzzz]"}]}"#))
        #expect(Set(values) == [
            #"{"timestamp":971211336,"level":"INFO","service":"web","host":"edge-1","message":"GET /apache_pb.gif HTTP/1.0","metadata":{"status_code":200,"endpoint":"/apache_pb.gif","method":"GET","client_ip":"127.0.0.1","user_id":"frank","bytes":2326,"protocol":"HTTP/1.0"}}"#,
            #"{"timestamp": 1767225600, "level": "INFO", "service": "api", "message": "as sent"}"#,
            #"{"timestamp":1795914123,"level":"ERROR","service":"web","host":"edge-1","message":"GET /api/users?id=7 HTTP/2.0","metadata":{"status_code":500,"endpoint":"/api/users","method":"GET","client_ip":"2001:db8::1","bytes":0,"protocol":"HTTP/2.0","query":"id=7","user_agent":"curl/8.5.0"}}"#,
        ])
        #expect(dead.count == 1)
        #expect(dead.first?.contains(#""record":"not an access log line""#) == true)
    }

    @Test("an unknown format is refused and a body of only bad lines gets 400")
    func refusals() async throws {
        let (unknown, bad) = try await collector.withCollector { client, _ in
            let unknown = try await collector.post(client, "/api/collect/logs?format=iis&service=web", Array("x".utf8), contentType: "text/plain")
            let bad = try await collector.post(client, "/api/collect/logs?format=nginx&service=web", Array("x\ny".utf8), contentType: "text/plain")
            return (unknown.0, bad.1)
        }
        #expect(unknown == .badRequest)
        #expect(bad.hasPrefix(#"{"accepted":0,"rejected":[{"index":0,"#))
    }
}
