import Foundation

/// A self-contained SVG of a run: offered and completed load, ready and desired replicas, and
/// p99 time to first token, in three panels over one time axis, with the phases marked. No
/// scripts, fonts or external references, so any browser opens it as it is.
public enum ChartSVG {
    struct Series {
        var id: String
        var label: String
        var color: String
        var dashed = false
        var stepped = false
        /// Join the known values across unknown seconds and mark each with a dot.
        var joined = false
        /// nil leaves a gap.
        var values: [Double?]
    }

    struct Panel {
        var title: String
        var unit: String
        var series: [Series]
        var emptyNote: String
    }

    static let width = 960.0
    static let panelHeight = 170.0
    static let left = 64.0
    static let right = 24.0
    static let top = 56.0
    static let gap = 46.0

    public static func render(_ timeline: Timeline, report: LoadReport) -> String {
        let rows = timeline.rows
        let panels = [
            Panel(title: "Load, 5 s average", unit: "requests/s", series: [
                Series(id: "series-offered", label: "offered", color: "#2563eb", values: movingAverage(rows.map { Double($0.offered) })),
                Series(id: "series-completed", label: "completed", color: "#16a34a",
                       values: movingAverage(rows.map { Double($0.completed) })),
                Series(id: "series-errors", label: "failed + shed", color: "#dc2626",
                       values: movingAverage(rows.map { Double($0.errors + $0.shed) })),
            ], emptyNote: "no requests"),
            Panel(title: "Replicas", unit: "replicas", series: [
                Series(id: "series-ready-replicas", label: "ready", color: "#7c3aed", stepped: true,
                       values: rows.map { $0.readyReplicas.map(Double.init) }),
                Series(id: "series-desired-replicas", label: "desired", color: "#f59e0b", dashed: true, stepped: true,
                       values: rows.map { $0.desiredReplicas.map(Double.init) }),
            ], emptyNote: "no replica counts: no Swell API server answered for this service"),
            Panel(title: "Time to first token, p99", unit: "ms", series: [
                Series(id: "series-ttft-p99", label: "p99 TTFT", color: "#db2777", joined: true,
                       values: rows.map { $0.ttftP99.map { $0 * 1000 } }),
            ], emptyNote: "no streamed completions"),
        ]
        let height = top + Double(panels.count) * (panelHeight + gap) + 10
        let seconds = max(1, Double(rows.count))
        let plotWidth = width - left - right
        func x(_ second: Double) -> Double { left + second / seconds * plotWidth }

        var svg = """
            <?xml version="1.0" encoding="UTF-8"?>
            <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="Helvetica, Arial, sans-serif" font-size="12">
            <rect width="100%" height="100%" fill="#ffffff"/>

            """
        let title = "swellctl loadgen — \(report.scenario) against \(report.target) (model \(report.model))"
        svg += text(left, 24, title, size: 16, weight: "bold")
        let subtitle = "\(report.startedAt) · \(String(format: "%.0f", report.durationSeconds)) s · "
            + "\(report.overall.requests.sent) requests, \(report.overall.requests.ok) ok · "
            + String(format: "%.1f output tok/s", report.throughput.outputTokensPerSecond)
        svg += text(left, 42, subtitle, size: 12, color: "#475569")

        for (index, panel) in panels.enumerated() {
            let panelTop = top + Double(index) * (panelHeight + gap) + 14
            let panelBottom = panelTop + panelHeight
            let known = panel.series.flatMap { $0.values.compactMap { $0 } }
            let axisMax = niceCeiling(max(known.max() ?? 0, panel.unit == "replicas" ? 1 : 0))
            func y(_ value: Double) -> Double { panelBottom - value / axisMax * panelHeight }

            svg += "<g id=\"panel-\(index + 1)\">\n"
            svg += text(left, panelTop - 6, "\(panel.title) (\(panel.unit))", size: 13, weight: "bold")
            svg += "<rect x=\"\(f(left))\" y=\"\(f(panelTop))\" width=\"\(f(plotWidth))\" height=\"\(f(panelHeight))\" fill=\"#f8fafc\" stroke=\"#cbd5e1\"/>\n"
            for tick in ticks(upTo: axisMax, integral: panel.unit == "replicas") {
                let tickY = y(tick)
                svg += "<line x1=\"\(f(left))\" y1=\"\(f(tickY))\" x2=\"\(f(width - right))\" y2=\"\(f(tickY))\" stroke=\"#e2e8f0\"/>\n"
                svg += text(left - 6, tickY + 4, format(tick), size: 11, color: "#475569", anchor: "end")
            }
            for phase in report.phases where phase.startSeconds > 0 && phase.startSeconds < seconds {
                let phaseX = x(phase.startSeconds)
                svg += "<line x1=\"\(f(phaseX))\" y1=\"\(f(panelTop))\" x2=\"\(f(phaseX))\" y2=\"\(f(panelBottom))\" stroke=\"#94a3b8\" stroke-dasharray=\"4 3\"/>\n"
            }
            if index == 0 {
                for phase in report.phases where phase.startSeconds < seconds {
                    svg += text(x(phase.startSeconds) + 4, panelTop + 13, phase.name, size: 11, color: "#64748b")
                }
            }
            if known.isEmpty {
                svg += text(left + plotWidth / 2, panelTop + panelHeight / 2, panel.emptyNote, size: 12, color: "#64748b", anchor: "middle")
            }
            var legendX = width - right
            for series in panel.series.reversed() {
                legendX -= Double(series.label.count) * 6.5 + 34
                svg += "<line x1=\"\(f(legendX))\" y1=\"\(f(panelTop - 10))\" x2=\"\(f(legendX + 18))\" y2=\"\(f(panelTop - 10))\" stroke=\"\(series.color)\" stroke-width=\"2.5\"\(series.dashed ? " stroke-dasharray=\"6 3\"" : "")/>\n"
                svg += text(legendX + 22, panelTop - 6, series.label, size: 11, color: "#334155")
            }
            for series in panel.series {
                svg += "<path id=\"\(series.id)\" data-points=\"\(series.values.compactMap { $0 }.count)\" d=\"\(path(series, x: x, y: y))\" fill=\"none\" stroke=\"\(series.color)\" stroke-width=\"2\" stroke-linejoin=\"round\"\(series.dashed ? " stroke-dasharray=\"6 3\"" : "")/>\n"
                if series.joined {
                    for (second, value) in series.values.enumerated() {
                        guard let value else { continue }
                        svg += "<circle cx=\"\(f(x(Double(second) + 0.5)))\" cy=\"\(f(y(value)))\" r=\"2.5\" fill=\"\(series.color)\"/>\n"
                    }
                }
            }
            for tick in ticks(upTo: seconds, integral: true) {
                svg += "<line x1=\"\(f(x(tick)))\" y1=\"\(f(panelBottom))\" x2=\"\(f(x(tick)))\" y2=\"\(f(panelBottom + 4))\" stroke=\"#64748b\"/>\n"
                svg += text(x(tick), panelBottom + 16, "\(Int(tick))s", size: 11, color: "#475569", anchor: "middle")
            }
            svg += "</g>\n"
        }
        svg += "</svg>\n"
        return svg
    }

    /// Each value drawn at the middle of its second; stepped series hold their value across it.
    static func path(_ series: Series, x: (Double) -> Double, y: (Double) -> Double) -> String {
        var commands: [String] = []
        var drawing = false
        for (second, value) in series.values.enumerated() {
            guard let value else {
                if !series.joined { drawing = false }
                continue
            }
            if series.stepped {
                commands.append("\(drawing ? "L" : "M")\(f(x(Double(second)))),\(f(y(value)))")
                commands.append("L\(f(x(Double(second + 1)))),\(f(y(value)))")
            } else {
                commands.append("\(drawing ? "L" : "M")\(f(x(Double(second) + 0.5))),\(f(y(value)))")
            }
            drawing = true
        }
        return commands.joined(separator: " ")
    }

    /// The mean over a window of `width` seconds centred on each second (shorter at the ends).
    static func movingAverage(_ values: [Double], width: Int = 5) -> [Double?] {
        values.indices.map { index in
            let window = values[max(0, index - width / 2)...min(values.count - 1, index + width / 2)]
            return window.reduce(0, +) / Double(window.count)
        }
    }

    /// 1, 2 or 5 times a power of ten, at or above `value`.
    static func niceCeiling(_ value: Double) -> Double {
        guard value > 0 else { return 1 }
        let magnitude = pow(10, floor(log10(value)))
        for step in [1.0, 2, 5, 10] where step * magnitude >= value * 0.999_999 {
            return step * magnitude
        }
        return 10 * magnitude
    }

    /// About five evenly spaced ticks from 0 to `upTo`.
    static func ticks(upTo limit: Double, integral: Bool) -> [Double] {
        var step = niceCeiling(limit / 5)
        if integral { step = max(1, step.rounded(.up)) }
        return stride(from: 0, through: limit + step * 1e-9, by: step).map { $0 }
    }

    static func text(_ x: Double, _ y: Double, _ content: String, size: Int, color: String = "#0f172a", weight: String? = nil,
                     anchor: String? = nil) -> String {
        var attributes = "x=\"\(f(x))\" y=\"\(f(y))\" font-size=\"\(size)\" fill=\"\(color)\""
        if let weight { attributes += " font-weight=\"\(weight)\"" }
        if let anchor { attributes += " text-anchor=\"\(anchor)\"" }
        return "<text \(attributes)>\(escape(content))</text>\n"
    }

    static func escape(_ text: String) -> String {
        text.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
            .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
    }

    static func f(_ value: Double) -> String { String(format: "%.1f", value) }

    static func format(_ value: Double) -> String {
        value == value.rounded() ? String(Int(value)) : String(format: "%g", value)
    }
}
