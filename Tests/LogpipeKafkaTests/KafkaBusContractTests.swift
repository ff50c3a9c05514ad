#if Kafka
import LogpipeBus
import LogpipeKafka
import LogpipeTesting
import Testing

/// The Bus contract suite, unchanged, against `KafkaBus` on a real
/// Kafka-protocol broker (tansu) started for the test.
@Suite struct KafkaBusContractTests {
    @Test(arguments: BusContract.checks.map(\.name))
    func contract(_ name: String) async throws {
        let check = try #require(BusContract.checks.first { $0.name == name })
        try await TansuBroker.with { broker in
            try await check.run { try KafkaBus(configuration: KafkaBusConfiguration(bootstrapServers: broker.bootstrapServers)) }
        }
    }

    /// Closing a bus and opening another on the same cluster keeps topics, records and group offsets.
    @Test func reopenKeepsEverything() async throws {
        try await TansuBroker.with { broker in
            let configuration = KafkaBusConfiguration(bootstrapServers: broker.bootstrapServers)
            try await BusContract.reopenKeepsEverything(
                makeBus: { try KafkaBus(configuration: configuration) },
                reopen: { bus in
                    try await bus.close()
                    return try KafkaBus(configuration: configuration)
                })
        }
    }
}
#endif
