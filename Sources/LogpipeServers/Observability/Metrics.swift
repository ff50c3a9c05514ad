import Hummingbird
import Metrics
import NIOCore
import Prometheus
import Synchronization

/// The process-wide Prometheus registry behind every role's `GET /metrics`.
///
/// swift-metrics allows one backend per process, so all roles in `logpipe run`
/// share this registry and one scrape shows them all.
public enum LogpipeMetrics {
    private static let state = Mutex<PrometheusCollectorRegistry?>(nil)

    /// Installs the Prometheus backend once; later calls return the same registry.
    @discardableResult
    public static func bootstrap() -> PrometheusCollectorRegistry {
        state.withLock { registry in
            if let registry { return registry }
            let created = PrometheusCollectorRegistry()
            var factory = PrometheusMetricsFactory(registry: created)
            // Ingest latencies sit between a fraction of a millisecond (fsync batched) and seconds (overload).
            factory.defaultDurationHistogramBuckets = [
                .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2), .milliseconds(5),
                .milliseconds(10), .milliseconds(25), .milliseconds(50), .milliseconds(100), .milliseconds(250),
                .milliseconds(500), .seconds(1), .seconds(2.5), .seconds(5),
            ]
            MetricsSystem.bootstrap(factory)
            registry = created
            return created
        }
    }

    /// Adds `GET /metrics` in Prometheus text format.
    public static func addRoute<Context: RequestContext>(to router: Router<Context>) {
        let registry = bootstrap()
        router.get("metrics") { _, _ in
            var buffer: [UInt8] = []
            buffer.reserveCapacity(16 << 10)
            registry.emit(into: &buffer)
            return Response(
                status: .ok,
                headers: [.contentType: "text/plain; version=0.0.4; charset=utf-8"],
                body: ResponseBody(byteBuffer: ByteBuffer(bytes: buffer))
            )
        }
    }
}
