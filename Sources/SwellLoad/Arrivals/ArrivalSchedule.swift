import Foundation

/// When each open-loop request of a phase is due, in seconds from the phase's start.
///
/// Evenly spaced processes send the k-th request when the expected count reaches k + ½, so a
/// constant rate r over d seconds sends round(r·d) requests exactly 1/r apart, and a ramp
/// tightens the spacing as it climbs. Poisson processes use the time-rescaling theorem: the
/// running sum of unit exponential gaps, mapped through the inverse of the expected count, is an
/// (inhomogeneous) Poisson process with exactly the profile's rate.
public enum ArrivalSchedule {
    public static func offsets(_ process: ArrivalProcess, random: inout SeededRandom) -> [Double] {
        switch process {
        case .trace(let rows, let speed, _):
            return rows.map { $0.offset / speed }
        case .constant(_, _, let poisson), .steps(_, let poisson), .ramp(_, _, _, let poisson),
             .spike(_, _, _, _, _, let poisson):
            guard let profile = RateProfile(process) else { return [] }
            return poisson ? poissonOffsets(profile, random: &random) : evenOffsets(profile)
        }
    }

    static func evenOffsets(_ profile: RateProfile) -> [Double] {
        var offsets: [Double] = []
        var k = 0.0
        while let time = profile.time(reaching: k + 0.5) {
            offsets.append(time)
            k += 1
        }
        return offsets
    }

    static func poissonOffsets(_ profile: RateProfile, random: inout SeededRandom) -> [Double] {
        var offsets: [Double] = []
        var count = random.exponential(mean: 1)
        while let time = profile.time(reaching: count) {
            offsets.append(time)
            count += random.exponential(mean: 1)
        }
        return offsets
    }
}
