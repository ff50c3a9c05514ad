import Foundation
import LogpipeObjectStore
import Testing

/// AWS's published Signature Version 4 vectors: the SigV4 test suite (credentials
/// AKIDEXAMPLE, service `service`, 2015-08-30T12:36:00Z) and the S3 documentation's
/// header-authentication examples (AKIAIOSFODNN7EXAMPLE, `examplebucket`, 2013-05-24).
@Suite struct SigV4Tests {
    let suite = SigV4Signer(
        credentials: AWSCredentials(accessKeyId: "AKIDEXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"),
        region: "us-east-1", service: "service")
    let s3Docs = SigV4Signer(
        credentials: AWSCredentials(accessKeyId: "AKIAIOSFODNN7EXAMPLE", secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"),
        region: "us-east-1", service: "s3")
    let empty = SigV4Signer.emptyPayloadHash

    @Test func theSigV4TestSuite() {
        let base = [("Host", "example.amazonaws.com"), ("X-Amz-Date", "20150830T123600Z")]
        // get-vanilla
        #expect(suite.authorization(method: "GET", encodedPath: "/", canonicalQuery: "", headers: base, payloadHash: empty, amzDate: "20150830T123600Z")
            == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31")
        // get-vanilla-query-order-key-case: the query is sorted before signing.
        let query = SigV4Signer.canonicalQuery([("Param2", "value2"), ("Param1", "value1")])
        #expect(query == "Param1=value1&Param2=value2")
        #expect(suite.authorization(method: "GET", encodedPath: "/", canonicalQuery: query, headers: base, payloadHash: empty, amzDate: "20150830T123600Z")
            .hasSuffix("Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"))
        // get-utf8: the path is percent-encoded as UTF-8.
        #expect(SigV4Signer.uriEncode("/ሴ", keepSlash: true) == "/%E1%88%B4")
        #expect(suite.authorization(method: "GET", encodedPath: "/%E1%88%B4", canonicalQuery: "", headers: base, payloadHash: empty, amzDate: "20150830T123600Z")
            .hasSuffix("Signature=8318018e0b0f223aa2bbf98705b62bb787dc9c0e678f255a891fd03141be5d85"))
        // post-x-www-form-urlencoded, with a signed payload hash.
        let bodyHash = SigV4Signer.sha256Hex(Array("Param1=value1".utf8))
        #expect(bodyHash == "9095672bbd1f56dfc5b65f3e153adc8731a4a654192329106275f4c7b24d0b6e")
        let post = base + [("Content-Type", "application/x-www-form-urlencoded"), ("Content-Length", "13"), ("X-Amz-Content-Sha256", bodyHash)]
        #expect(suite.authorization(method: "POST", encodedPath: "/", canonicalQuery: "", headers: post, payloadHash: bodyHash, amzDate: "20150830T123600Z")
            == "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=content-length;content-type;host;x-amz-content-sha256;x-amz-date, Signature=d3875051da38690788ef43de4db0d8f280229d82040bfac253562e56c3f20e0b")
    }

    @Test func theS3DocumentationExamples() {
        let date = "20130524T000000Z"
        let host = ("host", "examplebucket.s3.amazonaws.com")
        // GET Object with a Range header.
        #expect(s3Docs.authorization(method: "GET", encodedPath: "/test.txt", canonicalQuery: "",
                                     headers: [host, ("range", "bytes=0-9"), ("x-amz-content-sha256", empty), ("x-amz-date", date)],
                                     payloadHash: empty, amzDate: date)
            == "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41")
        // PUT Object: a key with `$`, a real payload.
        let body = SigV4Signer.sha256Hex(Array("Welcome to Amazon S3.".utf8))
        #expect(SigV4Signer.uriEncode("/test$file.text", keepSlash: true) == "/test%24file.text")
        #expect(s3Docs.authorization(method: "PUT", encodedPath: "/test%24file.text", canonicalQuery: "",
                                     headers: [("date", "Fri, 24 May 2013 00:00:00 GMT"), host, ("x-amz-content-sha256", body),
                                               ("x-amz-date", date), ("x-amz-storage-class", "REDUCED_REDUNDANCY")],
                                     payloadHash: body, amzDate: date)
            .hasSuffix("Signature=98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd"))
        // GET Bucket lifecycle: a valueless query parameter.
        let plain = [host, ("x-amz-content-sha256", empty), ("x-amz-date", date)]
        #expect(SigV4Signer.canonicalQuery([("lifecycle", "")]) == "lifecycle=")
        #expect(s3Docs.authorization(method: "GET", encodedPath: "/", canonicalQuery: "lifecycle=", headers: plain, payloadHash: empty, amzDate: date)
            .hasSuffix("Signature=fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543"))
        // List objects: the query sorted and encoded.
        let list = SigV4Signer.canonicalQuery([("prefix", "J"), ("max-keys", "2")])
        #expect(list == "max-keys=2&prefix=J")
        #expect(s3Docs.authorization(method: "GET", encodedPath: "/", canonicalQuery: list, headers: plain, payloadHash: empty, amzDate: date)
            .hasSuffix("Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"))
    }

    @Test func encodingAndDates() {
        #expect(SigV4Signer.uriEncode("logs/raw/year=2026/a b+c", keepSlash: true) == "logs/raw/year%3D2026/a%20b%2Bc")
        #expect(SigV4Signer.uriEncode("a/b", keepSlash: false) == "a%2Fb")
        #expect(SigV4Signer.amzDate(Date(timeIntervalSince1970: 1_440_938_160)) == "20150830T123600Z")
    }
}
