import Foundation
import LogpipeBus
import LogpipeGenerator
import LogpipeLake
import LogpipeObjectStore
import LogpipeTesting
import Synchronization
import Testing

/// Numbers fresh key prefixes.
final class Counter: Sendable {
    private let value = Mutex(0)
    func next() -> Int { value.withLock { $0 += 1; return $0 } }
}

@Suite(.serialized) struct S3FileStoreTests {
    /// The lake contract every store passes, against moto's S3 server, each check on a
    /// fresh key prefix of one bucket.
    @Test func lakeContractOnMoto() async throws {
        try await MotoS3Server.withLakeBucket { server in
            let counter = Counter()
            for check in LakeContract.checks.map(\.name) {
                try await LakeContract.run(check) { try server.store(prefix: "contract/\(check)/\(counter.next())") }
            }
        }
    }

    /// What only S3 has: the key prefix isolates lakes in one bucket, a wrong signature and
    /// a missing bucket are clear errors, `s3://` URLs take the standard AWS variables.
    @Test func prefixesBucketsAndConfiguration() async throws {
        try await MotoS3Server.withLakeBucket { server in
            let a = try server.store(prefix: "team-a/lake")
            let b = try server.store(prefix: "team-b")
            try await a.write("logs/raw/x.bin", contents: [1])
            try await b.write("logs/raw/y.bin", contents: [2])
            #expect(try await a.list("", recursive: true).map(\.path) == ["logs/raw/x.bin"])
            #expect(try await b.list("logs", recursive: true).map(\.path) == ["logs/raw/y.bin"])
            let whole = try server.store(prefix: "")
            #expect(try await whole.list("team-a", recursive: true).map(\.path) == ["team-a/lake/logs/raw/x.bin"])
            // moto recomputes every signature: a wrong secret is refused, so the passing checks
            // above were signed right.
            let forged = try S3FileStore(configuration: S3Configuration(
                bucket: "lake", prefix: "x", endpoint: server.endpoint,
                credentials: AWSCredentials(accessKeyId: server.accessKeyId, secretAccessKey: "not-the-secret")))
            do {
                try await forged.write("a", contents: [1])
                Issue.record("a request signed with the wrong secret was accepted")
            } catch let error as FileStoreError {
                #expect("\(error)".contains("SignatureDoesNotMatch"), "\(error)")
            }
            // A killed worker's unfinished multipart upload is found and aborted by age.
            let writer = try await a.openWriter("_logpipe/staging/logs.raw/0/x.parquet")
            try await writer.write([UInt8](repeating: 1, count: 6 << 20))
            #expect(try await a.list("_logpipe", recursive: true).isEmpty)
            #expect(try await a.abortIncompleteUploads(under: "logs", olderThan: 0) == 0)
            // moto reports every upload as initiated at 2010-11-10T20:48:33Z: twelve minutes
            // after that it is still too young to abort.
            #expect(try await a.abortIncompleteUploads(under: "_logpipe/staging", olderThan: 3600,
                                                       now: Date(timeIntervalSince1970: 1_289_422_113 + 720)) == 0)
            #expect(try await a.abortIncompleteUploads(under: "_logpipe/staging", olderThan: 3600) == 1)
            #expect(try await a.abortIncompleteUploads(under: "_logpipe/staging", olderThan: 3600) == 0)
            let missing = try server.store(prefix: "", bucket: "no-such-bucket")
            await #expect(throws: FileStoreError.self) { try await missing.write("a", contents: [1]) }
        }
        let parsed = try S3Configuration.parse(url: "s3://bucket/some/prefix/", environment: [
            "AWS_ACCESS_KEY_ID": "AK", "AWS_SECRET_ACCESS_KEY": "SK", "AWS_SESSION_TOKEN": "T",
            "AWS_DEFAULT_REGION": "eu-west-1", "AWS_ENDPOINT_URL": "http://minio:9000/"])
        #expect(parsed == S3Configuration(bucket: "bucket", prefix: "some/prefix", endpoint: "http://minio:9000", region: "eu-west-1",
                                          credentials: AWSCredentials(accessKeyId: "AK", secretAccessKey: "SK", sessionToken: "T")))
        let flags = try S3Configuration.parse(url: "s3://b", endpoint: "http://x:1", region: "r", accessKeyId: "A", secretAccessKey: "S",
                                              environment: ["AWS_ACCESS_KEY_ID": "env", "AWS_REGION": "env"])
        #expect(flags.credentials.accessKeyId == "A" && flags.region == "r" && flags.prefix == "" && flags.endpoint == "http://x:1")
        #expect(throws: FileStoreError.self) { try S3Configuration.parse(url: "s3://b/p", environment: [:]) }
    }
}
