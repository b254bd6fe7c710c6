import Foundation

/// Request rate over a phase as consecutive pieces, each constant or linear, so the expected
/// number of arrivals up to any time (the integral of the rate) and its inverse have closed forms.
public struct RateProfile: Sendable, Equatable {
    public struct Piece: Sendable, Equatable {
        public var seconds: Double
        public var fromRate: Double
        public var toRate: Double

        public init(seconds: Double, fromRate: Double, toRate: Double) {
            self.seconds = seconds
            self.fromRate = fromRate
            self.toRate = toRate
        }

        var expectedArrivals: Double { seconds * (fromRate + toRate) / 2 }

        /// The time within the piece by which `count` arrivals are expected.
        func time(reaching count: Double) -> Double {
            let slope = (toRate - fromRate) / seconds
            if abs(slope) < 1e-12 { return count / fromRate }
            // fromRate·t + slope·t²/2 = count
            let discriminant = fromRate * fromRate + 2 * slope * count
            return (sqrt(max(0, discriminant)) - fromRate) / slope
        }
    }

    public var pieces: [Piece]

    public init(_ pieces: [Piece]) {
        self.pieces = pieces.filter { $0.seconds > 0 }
    }

    public var seconds: Double { pieces.reduce(0) { $0 + $1.seconds } }

    /// Expected arrivals over the whole profile.
    public var expectedArrivals: Double { pieces.reduce(0) { $0 + $1.expectedArrivals } }

    /// The rate at `time` seconds into the profile.
    public func rate(at time: Double) -> Double {
        var start = 0.0
        for piece in pieces {
            if time < start + piece.seconds {
                return piece.fromRate + (piece.toRate - piece.fromRate) * (time - start) / piece.seconds
            }
            start += piece.seconds
        }
        return pieces.last?.toRate ?? 0
    }

    /// The time by which `count` arrivals are expected, or nil past the end of the profile.
    public func time(reaching count: Double) -> Double? {
        var start = 0.0
        var remaining = count
        for piece in pieces {
            let arrivals = piece.expectedArrivals
            if remaining < arrivals {
                return start + min(piece.seconds, piece.time(reaching: remaining))
            }
            remaining -= arrivals
            start += piece.seconds
        }
        return nil
    }

    /// The profile of a rate-based arrival process; nil for a trace.
    public init?(_ process: ArrivalProcess) {
        switch process {
        case .constant(let rate, let seconds, _):
            self.init([Piece(seconds: seconds, fromRate: rate, toRate: rate)])
        case .steps(let steps, _):
            self.init(steps.map { Piece(seconds: $0.seconds, fromRate: $0.rate, toRate: $0.rate) })
        case .ramp(let from, let to, let seconds, _):
            self.init([Piece(seconds: seconds, fromRate: from, toRate: to)])
        case .spike(let rate, let multiplier, let start, let length, let seconds, _):
            let spikeEnd = min(seconds, start + length)
            self.init([
                Piece(seconds: min(start, seconds), fromRate: rate, toRate: rate),
                Piece(seconds: max(0, spikeEnd - start), fromRate: rate * multiplier, toRate: rate * multiplier),
                Piece(seconds: max(0, seconds - spikeEnd), fromRate: rate, toRate: rate),
            ])
        case .trace:
            return nil
        }
    }
}
