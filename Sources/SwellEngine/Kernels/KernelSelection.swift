import CSwellKernels

/// Which implementation of the C kernels runs: AVX2/FMA/F16C when the CPU has them, else the
/// portable scalar code. The choice is per thread (and the pool work that thread starts), so a
/// test can compare the two paths while others run.
public enum KernelSelection {
    public static var cpuHasAVX2: Bool { swell_cpu_has_avx2() != 0 }

    public static var simdEnabled: Bool {
        get { swell_simd_enabled() != 0 }
        set { swell_set_simd_enabled(newValue ? 1 : 0) }
    }

    public static var description: String {
        simdEnabled ? "avx2+fma+f16c" : (cpuHasAVX2 ? "scalar (avx2 disabled)" : "scalar")
    }
}
