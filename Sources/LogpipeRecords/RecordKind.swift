/// The two record contracts of DESIGN.md and the topics that carry them.
public enum RecordKind: String, Sendable, CaseIterable, Codable {
    /// Application logs, keyed by `service`, on `logs.raw`.
    case logs
    /// User-activity events, keyed by `user_id`, on `events.activity`.
    case activities

    /// The topic the collector writes this kind to and the stream reads it from.
    public var topic: String {
        switch self {
        case .logs: "logs.raw"
        case .activities: "events.activity"
        }
    }
}
