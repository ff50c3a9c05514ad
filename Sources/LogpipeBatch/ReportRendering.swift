import Foundation

/// Text renderings of report tables.
public enum ReportText {
    /// `columns` of `table` as a Markdown table (which also reads well on a terminal).
    public static func markdownTable(_ table: ReportTable, columns: [String]) -> String {
        let indices = columns.compactMap { table.index(of: $0) }
        var lines = ["| " + indices.map { table.columns[$0].name }.joined(separator: " | ") + " |"]
        lines.append("|" + indices.map { _ in " --- |" }.joined())
        for row in table.rows {
            lines.append("| " + indices.map { row[$0].text }.joined(separator: " | ") + " |")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Self-contained HTML pages with inline SVG charts: no scripts, no external resources.
public enum ReportHTML {
    /// The daily report page: traffic per hour, latency percentiles per service, error rates,
    /// and the summary tables.
    public static func daily(_ report: DailyReport) -> String {
        var body = "<h1>Daily report \(report.date)</h1>\n"
        if let note = report.emptyNote { body += "<p>\(note)</p>\n" }
        if let hourly = report.table("hourly") {
            var traffic = [Double](repeating: 0, count: 24)
            for row in hourly.rows where row[0] == .string(DailyReport.all) {
                if case .int(let h?) = row[1], case .int(let r?) = row[2] { traffic[Int(h)] = Double(r) }
            }
            body += "<h2>Traffic per hour (UTC)</h2>\n" + bars(labels: (0..<24).map(String.init), values: traffic, id: "traffic")
        }
        if let services = report.table("services") {
            let named = services.rows.filter { $0[0] != .string(DailyReport.all) }
            let labels = named.map { $0[0].text }
            let col = { (name: String) in named.map { $0[services.index(of: name)!].number ?? 0 } }
            body += "<h2>Latency percentiles per service (ms)</h2>\n"
            body += groupedBars(labels: labels, series: [("p50", col("response_time_p50")), ("p95", col("response_time_p95")),
                                                         ("p99", col("response_time_p99"))], id: "latency")
            body += "<h2>Error rate per service (%)</h2>\n"
            body += bars(labels: labels, values: col("error_rate").map { $0 * 100 }, id: "errors")
            body += "<h2>Services</h2>\n" + htmlTable(services)
        }
        for name in ["top_endpoints", "top_errors", "activity_events", "activity_devices"] {
            if let t = report.table(name) { body += "<h2>\(escape(name))</h2>\n" + htmlTable(t) }
        }
        return page(title: "Logpipe daily report \(report.date)", body: body)
    }

    static func page(title: String, body: String) -> String {
        """
        <!DOCTYPE html>
        <html lang="en"><head><meta charset="utf-8"><title>\(escape(title))</title>
        <style>body{font-family:sans-serif;margin:2em;color:#222}table{border-collapse:collapse;font-size:13px}
        td,th{border:1px solid #ccc;padding:2px 6px;text-align:right}th{background:#eee}svg{display:block;margin:1em 0}
        .bar{fill:#4a7ebb}.s1{fill:#e8a33d}.s2{fill:#c2413b}text{font-size:11px}</style></head>
        <body>
        \(body)</body></html>

        """
    }

    static func escape(_ s: String) -> String {
        s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func number(_ v: Double) -> String { String(format: "%.3f", v) }

    /// A bar chart; each bar carries its value in `data-value` and a `<title>`.
    static func bars(labels: [String], values: [Double], id: String) -> String {
        groupedBars(labels: labels, series: [("value", values)], id: id)
    }

    static func groupedBars(labels: [String], series: [(name: String, values: [Double])], id: String) -> String {
        let height = 200.0, slot = 36.0, top = 10.0
        let width = max(300, Double(labels.count) * slot + 60 + (series.count > 1 ? 70 : 0))
        let maximum = max(series.flatMap(\.values).max() ?? 0, 1)
        let barWidth = (slot - 6) / Double(max(series.count, 1))
        var svg = "<svg id=\"\(id)\" xmlns=\"http://www.w3.org/2000/svg\" width=\"\(Int(width))\" height=\"\(Int(height + 120))\">\n"
        for (i, label) in labels.enumerated() {
            let x = 40 + Double(i) * slot
            for (k, s) in series.enumerated() {
                let v = i < s.values.count ? s.values[i] : 0
                let h = v / maximum * height
                svg += "<rect class=\"\(k == 0 ? "bar" : "bar s\(k)")\" data-series=\"\(escape(s.name))\" data-label=\"\(escape(label))\" data-value=\"\(number(v))\" x=\"\(number(x + Double(k) * barWidth))\" y=\"\(number(top + height - h))\" width=\"\(number(barWidth))\" height=\"\(number(h))\"><title>\(escape(label)) \(escape(s.name)): \(number(v))</title></rect>\n"
            }
            svg += "<text x=\"\(number(x))\" y=\"\(number(top + height + 14))\" transform=\"rotate(30 \(number(x)) \(number(top + height + 14)))\">\(escape(label))</text>\n"
        }
        svg += "<text x=\"0\" y=\"\(number(top + 8))\">\(number(maximum))</text>\n"
        // A legend where bars come in groups: which colour is which series.
        for (k, s) in series.enumerated() where series.count > 1 {
            let x = width - 60, y = top + 16 * Double(k)
            svg += "<rect class=\"\(k == 0 ? "bar" : "bar s\(k)")\" x=\"\(number(x))\" y=\"\(number(y))\" width=\"10\" height=\"10\"></rect>"
            svg += "<text x=\"\(number(x + 14))\" y=\"\(number(y + 9))\">\(escape(s.name))</text>\n"
        }
        svg += "</svg>\n"
        return svg
    }

    static func htmlTable(_ table: ReportTable) -> String {
        var out = "<table data-table=\"\(escape(table.name))\"><tr>" + table.columns.map { "<th>\(escape($0.name))</th>" }.joined() + "</tr>\n"
        for row in table.rows { out += "<tr>" + row.map { "<td>\(escape($0.text))</td>" }.joined() + "</tr>\n" }
        return out + "</table>\n"
    }
}
