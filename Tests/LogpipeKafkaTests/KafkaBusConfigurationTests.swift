import LogpipeBus
import LogpipeKafka
import Testing

/// `--bus kafka://…` and `kafka.*` settings become librdkafka properties.
@Suite struct KafkaBusConfigurationTests {
    @Test func urlAndSettingsBecomeProperties() throws {
        let configuration = try KafkaBusConfiguration(url: "kafka://k1:9092,k2:9093/", settings: [
            "kafka.security.protocol": "SASL_SSL",
            "kafka.sasl.mechanisms": "SCRAM-SHA-512",
            "kafka.compression.type": "zstd",
            "kafka.logpipe.replication.factor": "3",
            "kafka.logpipe.request.timeout.ms": "5000",
            "lake.path": "/data",
        ])
        #expect(configuration.bootstrapServers == "k1:9092,k2:9093")
        #expect(configuration.properties == ["security.protocol": "SASL_SSL", "sasl.mechanisms": "SCRAM-SHA-512", "compression.type": "zstd"])
        #expect(configuration.replicationFactor == 3)
        #expect(configuration.requestTimeoutMillis == 5000)
        #expect(configuration.commonProperties["bootstrap.servers"] == "k1:9092,k2:9093")
    }

    @Test func malformedURLsAndValuesAreRefused() {
        #expect(throws: KafkaConfigurationError.invalidURL("http://k1:9092")) { try KafkaBusConfiguration(url: "http://k1:9092") }
        #expect(throws: KafkaConfigurationError.invalidURL("kafka://")) { try KafkaBusConfiguration(url: "kafka://") }
        #expect(throws: KafkaConfigurationError.invalidURL("kafka://k1:9092,,k2")) { try KafkaBusConfiguration(url: "kafka://k1:9092,,k2") }
        #expect(throws: KafkaConfigurationError.invalidValue(key: "kafka.logpipe.replication.factor", value: "three")) {
            try KafkaBusConfiguration(url: "kafka://k1:9092", settings: ["kafka.logpipe.replication.factor": "three"])
        }
    }

    #if Kafka
    @Test func librdkafkaRefusesUnknownPropertiesWhenTheBusOpens() {
        let configuration = KafkaBusConfiguration(bootstrapServers: "127.0.0.1:1", properties: ["no.such.property": "1"])
        #expect(throws: KafkaConfigurationError.self) { try KafkaBus(configuration: configuration) }
    }
    #endif
}
