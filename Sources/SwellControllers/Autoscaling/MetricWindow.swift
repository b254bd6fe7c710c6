/// The recent ticks of a service's inputs, averaged per replica over a window: the steady
/// values the normal path scales on, and the short-window ones the burst path watches.
struct MetricWindow: Sendable {
    private struct Sample: Sendable {
        var at: ContinuousClock.Instant
        var inputs: AutoscalerInputs
    }

    private var samples: [Sample] = []

    /// Adds this tick and forgets ticks older than `retention`.
    mutating func record(_ inputs: AutoscalerInputs, at now: ContinuousClock.Instant, retention: Duration) {
        samples.removeAll { now - $0.at >= retention }
        samples.append(Sample(at: now, inputs: inputs))
    }

    /// Each replica of `current` (with its current readiness) carrying the mean of the values it
    /// reported in the samples younger than `window` (the latest sample always counts); nil where
    /// it reported none. The router queue likewise.
    func average(over window: Duration, now: ContinuousClock.Instant, current: AutoscalerInputs) -> AutoscalerInputs {
        let recent = samples.enumerated().filter { index, sample in
            index == samples.count - 1 || now - sample.at < window
        }.map(\.element.inputs)
        var averaged = current
        averaged.replicas = current.replicas.map { replica in
            let history = recent.compactMap { inputs in inputs.replicas.first { $0.name == replica.name } }
            var mean = replica
            mean.cpuUtilization = Self.mean(history.compactMap(\.cpuUtilization))
            mean.waitingRequests = Self.mean(history.compactMap(\.waitingRequests))
            mean.kvCacheUsage = Self.mean(history.compactMap(\.kvCacheUsage))
            return mean
        }
        averaged.routerQueue = Self.mean(recent.compactMap(\.routerQueue))
        return averaged
    }

    private static func mean(_ values: [Double]) -> Double? {
        values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
    }
}
