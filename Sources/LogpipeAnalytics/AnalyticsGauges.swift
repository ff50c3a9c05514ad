import Foundation
import LogpipeBus
import Metrics

/// A partition's event-time progress and window state, as gauges.
struct AnalyticsGauges {
    let watermark: Gauge
    let watermarkDelay: Gauge
    let eventTimeDelay: Gauge
    let openWindows: Gauge

    init(source: TopicPartition) {
        let dims = [("topic", source.topic), ("partition", String(source.partition))]
        watermark = Gauge(label: "logpipe_analytics_watermark_timestamp_seconds", dimensions: dims)
        watermarkDelay = Gauge(label: "logpipe_analytics_watermark_delay_seconds", dimensions: dims)
        eventTimeDelay = Gauge(label: "logpipe_analytics_event_time_delay_seconds", dimensions: dims)
        openWindows = Gauge(label: "logpipe_analytics_open_windows", dimensions: dims)
    }

    /// Sets the gauges from the analytics after a batch: delays are wall clock minus the
    /// watermark and minus the newest event time (the watermark plus the allowed lateness).
    func update(_ analytics: StreamAnalytics, stream: AnalyticsStream) {
        openWindows.record(analytics.openWindowCount)
        guard let micros = analytics.watermarkMicros(stream) else { return }
        let now = Date().timeIntervalSince1970
        let seconds = Double(micros) / 1e6
        watermark.record(seconds)
        watermarkDelay.record(now - seconds)
        eventTimeDelay.record(now - seconds - Double(analytics.configuration.allowedLatenessMicros) / 1e6)
    }

    /// Sets the per-service and system gauges from the newest final window of each in
    /// `output`, so Prometheus and Grafana see what the analytics API serves (in base units:
    /// ratios where the API has percentages, seconds where it has milliseconds). Windows
    /// still open would make a gauge jump between a partial and a full count.
    static func record(_ output: AnalyticsOutput) {
        var newest: [String: ServiceMetrics] = [:]
        for row in output.services where row.isFinal
            && newest[row.service].map({ $0.window.startMicros <= row.window.startMicros }) ?? true {
            newest[row.service] = row
        }
        for (service, row) in newest {
            let dims = [("service", service)]
            Gauge(label: "logpipe_analytics_service_window_requests", dimensions: dims).record(row.requestCount)
            Gauge(label: "logpipe_analytics_service_error_ratio", dimensions: dims).record(row.errorRate / 100)
            Gauge(label: "logpipe_analytics_service_availability_ratio", dimensions: dims).record(row.availability / 100)
            Gauge(label: "logpipe_analytics_service_performance_ratio", dimensions: dims).record(row.performance / 100)
            for (quantile, millis) in [("0.5", row.p50ResponseTime), ("0.95", row.p95ResponseTime), ("0.99", row.p99ResponseTime)] {
                guard let millis else { continue }
                Gauge(label: "logpipe_analytics_service_response_time_seconds", dimensions: dims + [("quantile", quantile)])
                    .record(millis / 1000)
            }
        }
        if let system = output.system.filter(\.isFinal).max(by: { $0.window.startMicros < $1.window.startMicros }) {
            Gauge(label: "logpipe_analytics_health_score").record(system.healthScore)
            Gauge(label: "logpipe_analytics_system_error_ratio").record(system.errorRate / 100)
        }
    }
}
