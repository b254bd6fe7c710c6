import CSwellKernels

/// Which implementation of the C kernels runs: the best the CPU has — AVX2/FMA/F16C (the portable
/// default), plus AVX-512 VNNI integer dot products where available — or the portable scalar
/// code. The choice is per thread (and the pool work that thread starts), so a test can compare
/// the paths while others run.
public enum KernelSelection {
    public enum Level: Int32, Sendable, CaseIterable, Comparable, CustomStringConvertible {
        case scalar = 0
        case avx2 = 1
        case avx512VNNI = 2

        public static func < (lhs: Level, rhs: Level) -> Bool { lhs.rawValue < rhs.rawValue }

        public var description: String {
            switch self {
            case .scalar: "scalar"
            case .avx2: "avx2"
            case .avx512VNNI: "avx512vnni"
            }
        }
    }

    public static var cpuHasAVX2: Bool { swell_cpu_has_avx2() != 0 }

    /// The best level this CPU supports.
    public static var cpuLevel: Level { Level(rawValue: swell_cpu_kernel_level()) ?? .scalar }

    /// Every level this CPU can run, scalar first.
    public static var supportedLevels: [Level] { Level.allCases.filter { $0 <= cpuLevel } }

    public static var simdEnabled: Bool {
        get { swell_simd_enabled() != 0 }
        set { swell_set_simd_enabled(newValue ? 1 : 0) }
    }

    /// The level in use on this thread; setting one the CPU lacks is refused (returns false).
    public static var level: Level { Level(rawValue: swell_kernel_level()) ?? .scalar }

    @discardableResult
    public static func select(_ level: Level) -> Bool {
        swell_set_kernel_level(level.rawValue) == 0
    }

    /// Selects `level` for every thread that has not chosen its own — the process's kernels, set
    /// once at start-up by the commands' `--kernels`.
    @discardableResult
    public static func selectForProcess(_ level: Level) -> Bool {
        swell_set_default_kernel_level(level.rawValue) == 0
    }

    public static var description: String {
        switch level {
        case .scalar: cpuHasAVX2 ? "scalar (simd disabled)" : "scalar"
        case .avx2: "avx2+fma+f16c"
        case .avx512VNNI: "avx2+fma+f16c+avx512vnni"
        }
    }
}
