import Foundation

/// The live progress line. On a terminal it is redrawn in place every second; elsewhere a plain
/// line is printed every few seconds so logs stay readable.
public enum ProgressLine {
    public static func render(_ snapshot: ProgressSnapshot, plannedSeconds: Double) -> String {
        var parts = [
            String(format: "%5.0fs/%.0fs", snapshot.elapsed, plannedSeconds),
            snapshot.phase,
            String(format: "offered %.1f/s done %.1f/s", snapshot.offeredRate, snapshot.achievedRate),
            "in flight \(snapshot.inFlight)",
            "ok \(snapshot.ok)",
            "errors \(snapshot.failed)",
            "shed \(snapshot.shed)",
            "ttft p50 \(ReportText.time(snapshot.ttftP50)) p99 \(ReportText.time(snapshot.ttftP99))",
        ]
        let cluster = snapshot.cluster
        if cluster.readyReplicas != nil || cluster.desiredReplicas != nil {
            parts.append("replicas \(cluster.readyReplicas.map(String.init) ?? "?")/\(cluster.desiredReplicas.map(String.init) ?? "?")")
        }
        if let queue = cluster.queueLength { parts.append(String(format: "queue %g", queue)) }
        return parts.joined(separator: "  ")
    }
}
