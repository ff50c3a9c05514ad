import Hummingbird
import Logging

extension LogpipeApplications {
    /// `/health` and `/metrics` (the jobs' last success time, duration and failures) for
    /// `logpipe scheduler` running on its own, as in a container with probes and scraping;
    /// `operatorMetrics` adds the process and the lake's volume, as on every other role.
    public static func scheduler(
        host: String, port: Int, operatorMetrics: OperatorMetrics, logger: Logger,
        onServerRunning: @escaping @Sendable (Int) async -> Void = { _ in }
    ) -> some ApplicationProtocol {
        let router = Router()
        router.add(middleware: MetricsMiddleware())
        router.get("health") { _, _ in jsonResponse(.ok, #"{"status":"ok"}"#) }
        LogpipeMetrics.addRoute(to: router, scope: .process) { await operatorMetrics.refresh() }
        return Application(
            router: router,
            configuration: .init(address: .hostname(host, port: port), serverName: "logpipe-scheduler"),
            onServerRunning: { channel in await onServerRunning(channel.localAddress?.port ?? port) },
            logger: logger
        )
    }
}
