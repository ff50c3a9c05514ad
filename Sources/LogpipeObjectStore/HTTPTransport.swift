import AsyncHTTPClient
import Foundation
import LogpipeLake
import NIOCore
import NIOHTTP1

/// One HTTP answer, its body collected.
struct HTTPAnswer: Sendable {
    var status: Int
    var headers: HTTPHeaders
    var body: [UInt8]

    var text: String { String(decoding: body, as: UTF8.self) }
    var isSuccess: Bool { (200..<300).contains(status) }
}

/// Sends requests through one process-wide AsyncHTTPClient, retrying what is safe to retry.
enum HTTPTransport {
    /// The client: redirects are not followed, because WebHDFS's two-step create and append
    /// must send the data to the redirect's target themselves (a followed 307 would re-send
    /// the empty first request). It lives as long as the process.
    static let client = HTTPClient(
        eventLoopGroupProvider: .singleton,
        configuration: HTTPClient.Configuration(redirectConfiguration: .disallow, decompression: .disabled))

    /// The largest body collected (a lake file is rolled well below this).
    static let maxBody = 4 << 30

    /// Sends once; connection failures surface as `FileStoreError.io`.
    static func send(method: HTTPMethod, url: String, headers: [(String, String)], body: [UInt8]?,
                     timeout: TimeAmount = .seconds(120)) async throws -> HTTPAnswer {
        var request = HTTPClientRequest(url: url)
        request.method = method
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body { request.body = .bytes(ByteBuffer(bytes: body)) }
        do {
            let response = try await client.execute(request, timeout: timeout)
            var buffer = try await response.body.collect(upTo: maxBody)
            return HTTPAnswer(status: Int(response.status.code), headers: response.headers,
                              body: buffer.readBytes(length: buffer.readableBytes) ?? [])
        } catch let error as FileStoreError {
            throw error
        } catch {
            throw FileStoreError.io("\(method) \(url): \(error)")
        }
    }

    /// Sends, retrying connection failures and 500/502/503/504 answers with backoff (only
    /// for requests whose repetition is harmless). `prepare` rebuilds the headers per
    /// attempt (a fresh signature date).
    static func sendRetrying(method: HTTPMethod, url: String, body: [UInt8]?, attempts: Int = 5,
                             prepare: () -> [(String, String)]) async throws -> HTTPAnswer {
        var delay: UInt64 = 50_000_000
        for attempt in 1...attempts {
            do {
                let answer = try await send(method: method, url: url, headers: prepare(), body: body)
                if [500, 502, 503, 504].contains(answer.status) && attempt < attempts {
                    try await Task.sleep(nanoseconds: delay)
                    delay *= 2
                    continue
                }
                return answer
            } catch let error as FileStoreError {
                if attempt == attempts { throw error }
                try await Task.sleep(nanoseconds: delay)
                delay *= 2
            }
        }
        throw FileStoreError.io("\(method) \(url): no attempt made")
    }
}

/// The few XML answers S3 gives, read without an XML library (the runtime image carries
/// no libxml2): the text of named elements, entities decoded.
enum MiniXML {
    /// The text of every `<name>…</name>` in `xml`, in order.
    static func values(_ name: String, in xml: Substring) -> [String] {
        elements(name, in: xml).map { decode(String($0)) }
    }

    /// The inner text (raw) of every `<name>…</name>` in `xml`.
    static func elements(_ name: String, in xml: Substring) -> [Substring] {
        var out: [Substring] = []
        let open = "<\(name)>", close = "</\(name)>"
        var rest = xml[...]
        while let start = rest.range(of: open) {
            guard let end = rest[start.upperBound...].range(of: close) else { break }
            out.append(rest[start.upperBound..<end.lowerBound])
            rest = rest[end.upperBound...]
        }
        return out
    }

    /// The first value of `name`, if any.
    static func value(_ name: String, in xml: Substring) -> String? { values(name, in: xml).first }

    /// Decodes the five predefined entities and numeric references.
    static func decode(_ s: String) -> String {
        guard s.contains("&") else { return s }
        var out = ""
        var rest = s[...]
        while let amp = rest.firstIndex(of: "&") {
            out += rest[..<amp]
            guard let semi = rest[amp...].firstIndex(of: ";") else { out += rest[amp...]; return out }
            let entity = rest[rest.index(after: amp)..<semi]
            switch entity {
            case "amp": out += "&"
            case "lt": out += "<"
            case "gt": out += ">"
            case "quot": out += "\""
            case "apos": out += "'"
            default:
                if entity.hasPrefix("#x"), let v = UInt32(entity.dropFirst(2), radix: 16), let u = Unicode.Scalar(v) {
                    out.unicodeScalars.append(u)
                } else if entity.hasPrefix("#"), let v = UInt32(entity.dropFirst()), let u = Unicode.Scalar(v) {
                    out.unicodeScalars.append(u)
                } else {
                    out += rest[amp...semi]
                }
            }
            rest = rest[rest.index(after: semi)...]
        }
        return out + rest
    }
}

/// Parses the dates HTTP and S3 answers carry.
enum HTTPDates {
    /// `2026-11-29T00:50:00.000Z` (S3 listings), seconds since the epoch.
    static func iso8601(_ s: String) -> Double? {
        let formatter = ISO8601DateFormatter()
        formatter.formatOptions = [.withInternetDateTime, .withFractionalSeconds]
        if let d = formatter.date(from: s) { return d.timeIntervalSince1970 }
        formatter.formatOptions = [.withInternetDateTime]
        return formatter.date(from: s)?.timeIntervalSince1970
    }

    /// `Sun, 29 Nov 2026 00:50:00 GMT` (`Last-Modified`), seconds since the epoch.
    static func rfc1123(_ s: String) -> Double? {
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss zzz"
        return formatter.date(from: s)?.timeIntervalSince1970
    }
}
