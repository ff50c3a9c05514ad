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
}
#endif
