import Crypto
import Foundation

/// AWS credentials for request signing.
public struct AWSCredentials: Sendable, Equatable {
    /// The access key id.
    public var accessKeyId: String
    /// The secret access key.
    public var secretAccessKey: String
    /// The session token of temporary credentials, sent as `x-amz-security-token`.
    public var sessionToken: String?

    /// Credentials.
    public init(accessKeyId: String, secretAccessKey: String, sessionToken: String? = nil) {
        self.accessKeyId = accessKeyId
        self.secretAccessKey = secretAccessKey
        self.sessionToken = sessionToken
    }
}

/// AWS Signature Version 4 with the `Authorization` header.
///
/// Written here rather than taken from a client library because no maintained S3 client
/// for Swift (Soto) is available to this project's builds; it is checked against AWS's
/// published signing vectors (the SigV4 test suite and the S3 documentation's examples).
public struct SigV4Signer: Sendable {
    /// The credentials.
    public var credentials: AWSCredentials
    /// The region, such as `us-east-1`.
    public var region: String
    /// The service, `s3` for object storage.
    public var service: String

    /// A signer.
    public init(credentials: AWSCredentials, region: String, service: String = "s3") {
        self.credentials = credentials
        self.region = region
        self.service = service
    }

    /// The SHA-256 of an empty payload, hex.
    public static let emptyPayloadHash = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

    /// Lower-case hex SHA-256 of `bytes`.
    public static func sha256Hex<Bytes: DataProtocol>(_ bytes: Bytes) -> String {
        hex(SHA256.hash(data: bytes))
    }

    /// `YYYYMMDDTHHMMSSZ` in UTC.
    public static func amzDate(_ date: Date) -> String {
        var calendar = Calendar(identifier: .gregorian)
        calendar.timeZone = TimeZone(identifier: "UTC")!
        let c = calendar.dateComponents([.year, .month, .day, .hour, .minute, .second], from: date)
        func two(_ v: Int?) -> String { let s = String(v ?? 0); return s.count < 2 ? "0" + s : s }
        return String(c.year ?? 0) + two(c.month) + two(c.day) + "T" + two(c.hour) + two(c.minute) + two(c.second) + "Z"
    }

    /// Percent-encodes per SigV4: every byte but `A-Z a-z 0-9 - _ . ~` (and `/` when `keepSlash`).
    public static func uriEncode(_ s: String, keepSlash: Bool) -> String {
        var out = ""
        out.reserveCapacity(s.utf8.count)
        for b in s.utf8 {
            switch b {
            case UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "a")...UInt8(ascii: "z"),
                 UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "-"), UInt8(ascii: "_"),
                 UInt8(ascii: "."), UInt8(ascii: "~"):
                out.unicodeScalars.append(Unicode.Scalar(b))
            case UInt8(ascii: "/") where keepSlash:
                out.append("/")
            default:
                let digits = Array("0123456789ABCDEF")
                out.append("%")
                out.append(digits[Int(b >> 4)])
                out.append(digits[Int(b & 15)])
            }
        }
        return out
    }

    /// The canonical query string: encoded names and values, sorted by name then value.
    public static func canonicalQuery(_ items: [(String, String)]) -> String {
        var encoded: [(name: String, value: String)] = []
        for (name, value) in items {
            encoded.append((uriEncode(name, keepSlash: false), uriEncode(value, keepSlash: false)))
        }
        encoded.sort { a, b in a.name == b.name ? a.value < b.value : a.name < b.name }
        return encoded.map { pair in pair.name + "=" + pair.value }.joined(separator: "&")
    }

    /// The canonical request for an already-encoded path and query. Header values are
    /// trimmed and inner runs of spaces collapsed; repeated names are joined with commas.
    /// Returns it with the signed-header list.
    public static func canonicalRequest(method: String, encodedPath: String, canonicalQuery: String,
                                        headers: [(String, String)], payloadHash: String) -> (request: String, signedHeaders: String) {
        var merged: [(String, String)] = []
        for (name, value) in headers.map({ ($0.0.lowercased(), canonicalValue($0.1)) }).sorted(by: { $0.0 < $1.0 }) {
            if let last = merged.last, last.0 == name {
                merged[merged.count - 1].1 = last.1 + "," + value
            } else {
                merged.append((name, value))
            }
        }
        let signed = merged.map(\.0).joined(separator: ";")
        let canonicalHeaders = merged.map { "\($0.0):\($0.1)\n" }.joined()
        return ([method, encodedPath, canonicalQuery, canonicalHeaders, signed, payloadHash].joined(separator: "\n"), signed)
    }

    private static func canonicalValue(_ value: String) -> String {
        value.split(whereSeparator: { $0 == " " || $0 == "\t" }).joined(separator: " ")
    }

    /// The signature of a canonical request made at `amzDate`.
    public func signature(canonicalRequest: String, amzDate: String) -> String {
        let day = String(amzDate.prefix(8))
        let scope = "\(day)/\(region)/\(service)/aws4_request"
        let stringToSign = "AWS4-HMAC-SHA256\n\(amzDate)\n\(scope)\n\(Self.sha256Hex(Array(canonicalRequest.utf8)))"
        var key = SymmetricKey(data: Array(("AWS4" + credentials.secretAccessKey).utf8))
        for part in [day, region, service, "aws4_request"] {
            key = SymmetricKey(data: Data(HMAC<SHA256>.authenticationCode(for: Array(part.utf8), using: key)))
        }
        return Self.hex(HMAC<SHA256>.authenticationCode(for: Array(stringToSign.utf8), using: key))
    }

    /// The `Authorization` header for `headers` (which must include `host` and `x-amz-date`).
    public func authorization(method: String, encodedPath: String, canonicalQuery: String,
                              headers: [(String, String)], payloadHash: String, amzDate: String) -> String {
        let (request, signed) = Self.canonicalRequest(
            method: method, encodedPath: encodedPath, canonicalQuery: canonicalQuery, headers: headers, payloadHash: payloadHash)
        let sig = signature(canonicalRequest: request, amzDate: amzDate)
        let scope = "\(amzDate.prefix(8))/\(region)/\(service)/aws4_request"
        return "AWS4-HMAC-SHA256 Credential=\(credentials.accessKeyId)/\(scope), SignedHeaders=\(signed), Signature=\(sig)"
    }

    static func hex<D: Sequence>(_ bytes: D) -> String where D.Element == UInt8 {
        let digits = Array("0123456789abcdef")
        var s = ""
        for b in bytes {
            s.append(digits[Int(b >> 4)])
            s.append(digits[Int(b & 15)])
        }
        return s
    }
}
