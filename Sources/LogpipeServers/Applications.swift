import Hummingbird
import Logging
import LogpipeAnalytics
import LogpipeBatch
import LogpipeBus

/// The HTTP applications of each role, ready to run in a `ServiceGroup`.
public enum LogpipeApplications {
    /// The collector on its configured address, with `/metrics`.
    /// With `analytics`, it also serves the live analytics API (as `logpipe run` does), with
    /// `search`, `GET /api/search` over the lake, and with `dashboard` the dashboard. `/metrics`
    /// shows `metrics`, after refreshing `operatorMetrics`. The configuration's API key, when
    /// set, guards every path but the probes; `tls` serves HTTPS instead of HTTP.
    public static func collector(
        bus: any Bus, configuration: CollectorConfiguration, analytics: AnalyticsStore? = nil, search: LogSearch? = nil,
        metrics: MetricsScope = .process, operatorMetrics: OperatorMetrics? = nil, dashboard: DashboardRoutes? = nil,
        tls: ServerTLS? = nil, logger: Logger, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router()
        router.add(middleware: MetricsMiddleware())
        if let key = configuration.apiKey, !key.isEmpty { router.add(middleware: APIKeyMiddleware(key: key)) }
        dashboard?.add(to: router)
        let ingestor = Ingestor(bus: bus, limits: configuration.limits, logger: logger)
        CollectorRoutes(ingestor: ingestor, bus: bus, configuration: configuration).add(to: router)
        if let analytics { AnalyticsRoutes(store: analytics).add(to: router) }
        if let search { SearchRoutes(search: search).add(to: router) }
        LogpipeMetrics.addRoute(to: router, scope: metrics) { await operatorMetrics?.refresh() }
        return Application(
            router: router,
            server: tls.server,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "logpipe-collector", backlog: 1024),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
            logger: logger
        )
    }

    /// The live analytics API, `/metrics` (showing `metrics`, after refreshing
    /// `operatorMetrics`) and the `dashboard`, for a stream worker. `apiKey`, when set, guards
    /// every path but `/health`; `tls` serves HTTPS instead of HTTP.
    public static func api(
        store: AnalyticsStore, host: String, port: Int, metrics: MetricsScope = .process,
        operatorMetrics: OperatorMetrics? = nil, dashboard: DashboardRoutes? = nil, apiKey: String? = nil,
        tls: ServerTLS? = nil, logger: Logger, onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router()
        router.add(middleware: MetricsMiddleware())
        if let apiKey, !apiKey.isEmpty { router.add(middleware: APIKeyMiddleware(key: apiKey)) }
        dashboard?.add(to: router)
        AnalyticsRoutes(store: store).add(to: router)
        router.get("health") { _, _ in jsonResponse(.ok, #"{"status":"ok"}"#) }
        LogpipeMetrics.addRoute(to: router, scope: metrics) { await operatorMetrics?.refresh() }
        return Application(
            router: router,
            server: tls.server,
            configuration: .init(address: .hostname(host, port: port), serverName: "logpipe-stream"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
            logger: logger
        )
    }

    /// The generator's HTTP API (samples, health, incidents) with `/metrics` (showing
    /// `metrics`); `tls` serves HTTPS instead of HTTP.
    public static func generator(
        _ generator: Generator, configuration: GeneratorConfiguration, metrics: MetricsScope = .process,
        operatorMetrics: OperatorMetrics? = nil, tls: ServerTLS? = nil, logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router()
        router.add(middleware: MetricsMiddleware())
        generator.addRoutes(to: router)
        LogpipeMetrics.addRoute(to: router, scope: metrics) { await operatorMetrics?.refresh() }
        return Application(
            router: router,
            server: tls.server,
            configuration: .init(address: .hostname(configuration.host, port: configuration.port), serverName: "logpipe-generator"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? configuration.port) },
            logger: logger
        )
    }
}
