/// LogpipeKafka: the `kafka` implementation of the Bus (`KafkaBus`) and Kafka
/// consumer-group membership for scale-out (`KafkaAssignmentSource`), a thin
/// Swift layer over librdkafka's C API (the `CRdKafka` system-library target).
///
/// Everything that touches librdkafka compiles only with the package trait
/// `Kafka` (`swift build --traits Kafka`); without it this module holds just
/// `KafkaBusConfiguration`, so a build with no librdkafka installed still
/// parses Kafka settings and can say that Kafka support is not built in.
/// How the runtime library is found: docs/kafka.md.
public enum LogpipeKafka {
    /// Whether this build includes the Kafka bus (the `Kafka` trait was enabled).
    public static var isAvailable: Bool {
        #if Kafka
        true
        #else
        false
        #endif
    }
}
