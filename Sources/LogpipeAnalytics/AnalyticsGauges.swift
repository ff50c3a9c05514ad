import Foundation
import LogpipeBus
import LogpipeStream
import Metrics

/// A partition's event-time progress and window state, as gauges.
enum AnalyticsGauges {
    /// Sets the gauges of `source` from its analytics after a batch of `rows`: the
    /// watermark, the delays behind the wall clock of the watermark and of the newest event
    /// time (the watermark plus the allowed lateness), and the windows held open.
    static func update(_ source: TopicPartition, _ analytics: StreamAnalytics, _ rows: StreamBatch.Rows) {
        let dims = [("topic", source.topic), ("partition", String(source.partition))]
        Gauge(label: "logpipe_analytics_open_windows", dimensions: dims).record(analytics.openWindowCount)
        let stream: AnalyticsStream
        switch rows {
        case .logs: stream = .logs
        case .activity: stream = .activities
        }
        guard let micros = analytics.watermarkMicros(stream) else { return }
        let now = Date().timeIntervalSince1970
        let seconds = Double(micros) / 1e6
        Gauge(label: "logpipe_analytics_watermark_timestamp_seconds", dimensions: dims).record(seconds)
        Gauge(label: "logpipe_analytics_watermark_delay_seconds", dimensions: dims).record(now - seconds)
        Gauge(label: "logpipe_analytics_event_time_delay_seconds", dimensions: dims)
            .record(now - seconds - Double(analytics.configuration.allowedLatenessMicros) / 1e6)
    }
}
