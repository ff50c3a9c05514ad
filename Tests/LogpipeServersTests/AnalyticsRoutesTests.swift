import Foundation
import HummingbirdTesting
import Logging
import LogpipeAnalytics
import LogpipeServers
import Testing

/// The window query every analytics route parses the same way: a range of epoch seconds in
/// order, and `final` as a boolean; anything else is a 400 naming what is wrong.
@Suite struct AnalyticsRoutesTests {
    @Test func everyRouteRefusesBadRangesAndFinalValues() async throws {
        let app = LogpipeApplications.api(store: AnalyticsStore(), host: "127.0.0.1", port: 0, logger: Logger(label: "test"))
        let windowed = ["/api/metrics/services", "/api/metrics/clients", "/api/metrics/system", "/api/metrics/activities"]
        try await app.test(.router) { client in
            for path in windowed + ["/api/metrics/late", "/api/alerts"] {
                for query in ["from=yesterday", "from=20&to=10", "to=nan"] {
                    try await client.execute(uri: "\(path)?\(query)", method: .get) { response in
                        #expect(response.status == .badRequest, "\(path)?\(query)")
                        #expect(String(buffer: response.body).contains("from and to must be epoch seconds"), "\(path)?\(query)")
                    }
                }
                try await client.execute(uri: "\(path)?from=10&to=20.5", method: .get) { response in
                    #expect(response.status == .ok && String(buffer: response.body) == "[]", "\(path)")
                }
            }
            for path in windowed {
                try await client.execute(uri: "\(path)?final=maybe", method: .get) { response in
                    #expect(response.status == .badRequest && String(buffer: response.body).contains("final must be true or false"), "\(path)")
                }
                for final in ["true", "false", "1", "0"] {
                    try await client.execute(uri: "\(path)?final=\(final)", method: .get) { response in
                        #expect(response.status == .ok, "\(path)?final=\(final)")
                    }
                }
            }
        }
    }
}
