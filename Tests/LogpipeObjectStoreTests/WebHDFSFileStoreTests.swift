import Foundation
import LogpipeLake
import LogpipeObjectStore
import LogpipeTesting
import Testing

/// Runs `body` with a WebHDFS server (the documented REST protocol, in Python: no HDFS
/// installs on this machine), stopping it afterwards.
func withWebHDFS<T>(_ body: (WebHDFSServer) async throws -> T) async throws -> T {
    try await WebHDFSServer.start().serve(body)
}

@Suite(.serialized) struct WebHDFSFileStoreTests {
    /// The lake contract every store passes, each check under a fresh HDFS directory, with
    /// appends of 64 KiB so streamed files take many two-step APPENDs.
    @Test func lakeContractOnWebHDFS() async throws {
        try await withWebHDFS { server in
            let counter = Counter()
            for check in LakeContract.checks.map(\.name) {
                try await LakeContract.run(check) {
                    WebHDFSFileStore(configuration: WebHDFSConfiguration(
                        namenode: server.namenode, root: "/data/\(check)/\(counter.next())", user: "logpipe", appendBytes: 1 << 16))
                }
            }
            // Data went through the DataNode after the NameNode's redirect, never to the NameNode.
            let answer = try await LakeTesting.runPython("""
                import urllib.request, sys
                print(urllib.request.urlopen(sys.argv[1] + "/webhdfs/v1/?op=STATS").read().decode())
                """, arguments: [server.namenode])
            let stats = try JSONSerialization.jsonObject(with: Data(answer.output.utf8)) as? [String: Int] ?? [:]
            #expect((stats["dn:CREATE"] ?? 0) > 100 && (stats["dn:APPEND"] ?? 0) > 50 && (stats["dn:OPEN"] ?? 0) > 50, "\(stats)")
            #expect(stats["nn:CREATE"] == stats["dn:CREATE"], "\(stats)")
            #expect(stats["nn:APPEND"] == stats["dn:APPEND"], "\(stats)")
        }
    }

    @Test func urlsAndUsers() throws {
        let c = try WebHDFSConfiguration.parse(url: "webhdfs://namenode:9870/data/lake/", environment: ["HADOOP_USER_NAME": "hdfs"])
        #expect(c == WebHDFSConfiguration(namenode: "http://namenode:9870", root: "/data/lake", user: "hdfs"))
        let s = try WebHDFSConfiguration.parse(url: "swebhdfs://nn:9871", user: "me", environment: ["HADOOP_USER_NAME": "hdfs"])
        #expect(s.namenode == "https://nn:9871" && s.root == "/" && s.user == "me")
        #expect(throws: FileStoreError.self) { try WebHDFSConfiguration.parse(url: "hdfs://nn:8020/x") }
    }
}
