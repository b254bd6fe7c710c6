import CSwellKernels
import Testing
@testable import SwellEngine

@Suite("Kernels")
struct KernelTests {
    // MARK: - Formats

    @Test("half and bfloat conversions follow IEEE 754")
    func conversions() {
        #expect(swell_fp16_to_fp32(0x3C00) == 1)
        #expect(swell_fp16_to_fp32(0xC000) == -2)
        #expect(swell_fp16_to_fp32(0x7BFF) == 65504)
        #expect(swell_fp16_to_fp32(0x0001) == Float(sign: .plus, exponent: -24, significand: 1))
        #expect(swell_fp16_to_fp32(0x7C00) == .infinity)
        #expect(swell_fp32_to_fp16(0.1) == 0x2E66)
        #expect(swell_fp32_to_fp16(1e6) == 0x7C00)
        #expect(swell_bf16_to_fp32(0x3F80) == 1)
        #expect(swell_fp32_to_bf16(-1.5) == 0xBFC0)
        // Every finite half survives a round trip through float.
        for bits in UInt16.min...UInt16.max where bits & 0x7C00 != 0x7C00 {
            if swell_fp32_to_fp16(swell_fp16_to_fp32(bits)) != bits {
                Issue.record("half 0x\(String(bits, radix: 16)) does not round-trip")
                break
            }
        }
    }

    private func dequantize(_ type: GGMLType, _ bytes: [UInt8], count: Int = 32) -> [Float] {
        var out = [Float](repeating: .nan, count: count)
        let status = bytes.withUnsafeBytes { raw in
            out.withUnsafeMutableBufferPointer { swell_dequantize_row(Int32(type.rawValue), raw.baseAddress, $0.baseAddress, Int64(count)) }
        }
        #expect(status == 0)
        return out
    }

    private func half(_ bits: UInt16) -> [UInt8] { [UInt8(bits & 0xFF), UInt8(bits >> 8)] }

    @Test("Q8_0 block: d (fp16) then 32 signed bytes, value = d·q")
    func q8_0Block() {
        let qs: [Int8] = (0..<32).map { Int8($0 * 8 - 127) }
        let bytes = half(0x3800) + qs.map { UInt8(bitPattern: $0) } // d = 0.5
        #expect(dequantize(.q8_0, bytes) == qs.map { 0.5 * Float($0) })
        #expect(GGMLType.q8_0.blockBytes == 34)
    }

    @Test("Q4_0 block: d (fp16) then 16 bytes; low nibbles are elements 0–15, high 16–31, value = d·(q−8)")
    func q4_0Block() {
        let low = (0..<16).map { UInt8($0) }
        let high = (0..<16).map { UInt8(15 - $0) }
        let bytes = half(0x4000) + zip(low, high).map { $0 | ($1 << 4) } // d = 2
        let expected = (low + high).map { 2 * (Float($0) - 8) }
        #expect(dequantize(.q4_0, bytes) == expected)
        #expect(GGMLType.q4_0.blockBytes == 18)
    }

    @Test("Q4_1 block: d and m (fp16) then 16 bytes, value = d·q + m")
    func q4_1Block() {
        let low = (0..<16).map { UInt8(($0 * 5) % 16) }
        let high = (0..<16).map { UInt8(($0 * 3 + 1) % 16) }
        let bytes = half(0x3400) + half(0xBC00) + zip(low, high).map { $0 | ($1 << 4) } // d = 0.25, m = -1
        #expect(dequantize(.q4_1, bytes) == (low + high).map { 0.25 * Float($0) - 1 })
        #expect(GGMLType.q4_1.blockBytes == 20)
    }

    @Test("F16, BF16 and F32 rows")
    func floatRows() {
        #expect(dequantize(.f16, half(0x3C00) + half(0xC400), count: 2) == [1, -4])
        #expect(dequantize(.bf16, [0x80, 0x3F, 0x40, 0xC0], count: 2) == [1, -3])
        let f32 = [Float(1.5), -2.25].flatMap { value in withUnsafeBytes(of: value.bitPattern.littleEndian, Array.init) }
        #expect(dequantize(.f32, f32, count: 2) == [1.5, -2.25])
    }

    @Test("quantizing then dequantizing stays within the format's rounding error", arguments: [GGMLType.q8_0, .q4_0, .q4_1])
    func quantizeRoundTrip(type: GGMLType) {
        var random = RandomSource(seed: 7)
        let values = (0..<128).map { _ in random.nextUnit() * 4 - 2 }
        var bytes = [UInt8](repeating: 0, count: type.rowBytes(128)!)
        _ = values.withUnsafeBufferPointer { source in
            bytes.withUnsafeMutableBytes { swell_quantize_row(Int32(type.rawValue), source.baseAddress, $0.baseAddress, 128) }
        }
        let restored = dequantize(type, bytes, count: 128)
        // Values lie in [-2, 2]: Q8_0 steps are 2/127 and Q4_1 steps 4/15 (error ≤ half a step);
        // Q4_0 maps the extreme to -8, so the opposite end clips at +7: up to one step of 2/8.
        let bound: Float = switch type {
        case .q8_0: 0.5 * 2 / 127
        case .q4_1: 0.5 * 4 / 15
        default: 2.0 / 8
        }
        #expect(maxAbsDifference(values, restored) <= bound + 1e-3)
    }

    // MARK: - Scalar and SIMD agree

    private func withKernels<T>(simd: Bool, _ body: () throws -> T) rethrows -> T {
        let previous = KernelSelection.simdEnabled
        KernelSelection.simdEnabled = simd
        defer { KernelSelection.simdEnabled = previous }
        return try body()
    }

    private func withKernels<T>(_ level: KernelSelection.Level, _ body: () throws -> T) rethrows -> T {
        let previous = KernelSelection.level
        #expect(KernelSelection.select(level), "\(level) is not supported here")
        defer { KernelSelection.select(previous) }
        return try body()
    }

    /// The SIMD levels the agreement tests compare with the scalar path: every one this CPU has.
    static let simdLevels = KernelSelection.supportedLevels.filter { $0 != .scalar }

    @Test("the CPU here has AVX2, so the SIMD path is what runs")
    func simdAvailable() {
        #expect(KernelSelection.cpuHasAVX2, "these machines have AVX2; without it the agreement tests compare scalar with scalar")
        #expect(KernelSelection.simdEnabled == KernelSelection.cpuHasAVX2)
    }

    @Test("the best kernel level matches the CPU flags the kernel reports, and is the default")
    func levelDetection() throws {
        let cpuinfo = try String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)
        let flagsLine = try #require(cpuinfo.split(separator: "\n").first { $0.hasPrefix("flags") })
        let flags = Set(flagsLine.split(separator: " ").map(String.init))
        let vnni = ["avx512f", "avx512vl", "avx512bw", "avx512_vnni"].allSatisfy(flags.contains)
        let avx2 = ["avx2", "fma", "f16c"].allSatisfy(flags.contains)
        let expected: KernelSelection.Level = vnni && avx2 ? .avx512VNNI : (avx2 ? .avx2 : .scalar)
        #expect(KernelSelection.cpuLevel == expected)
        #expect(KernelSelection.level == expected)
        #expect(KernelSelection.supportedLevels.last == expected)
        // A level the CPU lacks is refused and changes nothing.
        if expected != .avx512VNNI {
            #expect(!KernelSelection.select(.avx512VNNI))
            #expect(KernelSelection.level == expected)
        }
    }

    @Test("matmul: scalar and every SIMD level agree for every weight type",
          arguments: GGMLType.allCases, simdLevels)
    func matmulAgrees(type: GGMLType, level: KernelSelection.Level) {
        // One token (decode), a few, a batched decode step of 7 and of 8 (one full tile), and full
        // tiles with partial ones after them.
        for tokens in [1, 2, 7, 8, 11, 21] { checkMatmul(type: type, level: level, tokens: tokens) }
    }

    private func checkMatmul(type: GGMLType, level: KernelSelection.Level, tokens: Int) {
        let rows = 37, k = 320 // 10 blocks: the 8-block decode kernel and its tail
        var random = RandomSource(seed: UInt64(type.rawValue) + 1)
        let weights = (0..<rows * k).map { _ in random.nextUnit() * 2 - 1 }
        let activations = (0..<tokens * k).map { _ in random.nextUnit() * 6 - 3 }
        let rowBytes = type.rowBytes(k)!
        var encoded = [UInt8](repeating: 0, count: rowBytes * rows)
        weights.withUnsafeBufferPointer { source in
            encoded.withUnsafeMutableBytes { out in
                for row in 0..<rows {
                    _ = swell_quantize_row(Int32(type.rawValue), source.baseAddress! + row * k, out.baseAddress! + row * rowBytes, Int64(k))
                }
            }
        }
        func run(_ level: KernelSelection.Level, threads: Int) -> [Float] {
            withKernels(level) {
                let pool = WorkerPool(threads: threads, pinned: false)
                var quantized = [swell_q8_block](repeating: swell_q8_block(), count: tokens * k / 32)
                var out = [Float](repeating: 0, count: tokens * rows)
                activations.withUnsafeBufferPointer { x in
                    swell_quantize_q8(x.baseAddress, &quantized, Int64(tokens * k))
                    encoded.withUnsafeBytes { w in
                        swell_matmul(pool.handle, Int32(type.rawValue), w.baseAddress, Int64(rowBytes), Int64(rows), Int64(k),
                                     x.baseAddress, quantized, Int64(tokens), &out, Int64(rows))
                    }
                }
                return out
            }
        }
        let scalar = run(.scalar, threads: 1)
        let simd = run(level, threads: 2)
        // Same integer sums and scales; only float summation order differs.
        #expect(maxAbsDifference(scalar, simd) < 1e-3 * max(1, maxAbs(scalar)), "\(tokens) tokens")
        // And both are close to the exact float product of the stored weights.
        let stored = (0..<rows).flatMap { row in
            dequantize(type, Array(encoded[row * rowBytes..<(row + 1) * rowBytes]), count: k)
        }
        var exact = [Float](repeating: 0, count: tokens * rows)
        for t in 0..<tokens {
            for r in 0..<rows {
                var sum: Double = 0
                for i in 0..<k { sum += Double(stored[r * k + i]) * Double(activations[t * k + i]) }
                exact[t * rows + r] = Float(sum)
            }
        }
        let tolerance: Float = type.isQuantized ? 0.02 * maxAbs(exact) : 1e-3 * maxAbs(exact)
        #expect(maxAbsDifference(simd, exact) < tolerance, "\(tokens) tokens")
    }

    @Test("a matmul group gives each matrix exactly what its own matmul gives", arguments: [1, 3, 8, 13])
    func matmulGroupEqualsSeparate(tokens: Int) {
        let k = 128, shapes = [(rows: 40, type: GGMLType.q4_1), (rows: 24, type: .q8_0), (rows: 17, type: .f16)]
        var random = RandomSource(seed: UInt64(tokens))
        let activations = (0..<tokens * k).map { _ in random.nextUnit() * 4 - 2 }
        let matrices: [[UInt8]] = shapes.map { shape in
            let values = (0..<shape.rows * k).map { _ in random.nextUnit() * 2 - 1 }
            let rowBytes = shape.type.rowBytes(k)!
            var encoded = [UInt8](repeating: 0, count: rowBytes * shape.rows)
            values.withUnsafeBufferPointer { source in
                encoded.withUnsafeMutableBytes { out in
                    for row in 0..<shape.rows {
                        _ = swell_quantize_row(Int32(shape.type.rawValue), source.baseAddress! + row * k,
                                               out.baseAddress! + row * rowBytes, Int64(k))
                    }
                }
            }
            return encoded
        }
        let pool = WorkerPool(threads: 2, pinned: false)
        var quantized = [swell_q8_block](repeating: swell_q8_block(), count: tokens * k / 32)
        swell_quantize_q8(activations, &quantized, Int64(tokens * k))
        var separate = shapes.map { [Float](repeating: 0, count: tokens * $0.rows) }
        for (index, shape) in shapes.enumerated() {
            matrices[index].withUnsafeBytes { w in
                swell_matmul(pool.handle, Int32(shape.type.rawValue), w.baseAddress, Int64(shape.type.rowBytes(k)!),
                             Int64(shape.rows), Int64(k), activations, quantized, Int64(tokens), &separate[index],
                             Int64(shape.rows))
            }
        }
        // One buffer for all outputs, one copy of all weights: the specs point into them.
        let offsets = shapes.indices.map { index in shapes[..<index].reduce(0) { $0 + tokens * $1.rows } }
        let weightOffsets = shapes.indices.map { index in matrices[..<index].reduce(0) { $0 + $1.count } }
        let allWeights = matrices.flatMap { $0 }
        var output = [Float](repeating: 0, count: shapes.reduce(0) { $0 + tokens * $1.rows })
        allWeights.withUnsafeBytes { w in
            output.withUnsafeMutableBufferPointer { out in
                let specs = shapes.indices.map { index in
                    swell_matmul_spec(type: Int32(shapes[index].type.rawValue), weights: w.baseAddress! + weightOffsets[index],
                                      row_bytes: Int64(shapes[index].type.rowBytes(k)!), rows: Int64(shapes[index].rows),
                                      out: out.baseAddress! + offsets[index], out_stride: Int64(shapes[index].rows))
                }
                swell_matmul_group(pool.handle, specs, Int32(specs.count), Int64(k), activations, quantized, Int64(tokens))
            }
        }
        let grouped = shapes.indices.map { Array(output[offsets[$0]..<offsets[$0] + tokens * shapes[$0].rows]) }
        #expect(grouped == separate)
    }

    @Test("activation quantization is identical on both paths")
    func quantizeAgrees() {
        var random = RandomSource(seed: 3)
        let values = (0..<512).map { _ in random.nextUnit() * 10 - 5 }
        func run(simd: Bool) -> [swell_q8_block] {
            withKernels(simd: simd) {
                var blocks = [swell_q8_block](repeating: swell_q8_block(), count: 16)
                swell_quantize_q8(values, &blocks, 512)
                return blocks
            }
        }
        let scalar = run(simd: false), simd = run(simd: true)
        for (a, b) in zip(scalar, simd) {
            #expect(a.d == b.d && a.s == b.s)
            #expect(withUnsafeBytes(of: a.qs, Array.init) == withUnsafeBytes(of: b.qs, Array.init))
        }
    }

    @Test("norm, softmax and SwiGLU agree between paths")
    func vectorKernelsAgree() {
        var random = RandomSource(seed: 11)
        let n = 203 // not a multiple of 8: exercises the tails
        let x = (0..<n).map { _ in random.nextUnit() * 8 - 4 }
        let w = (0..<n).map { _ in random.nextUnit() + 0.5 }
        func run(simd: Bool) -> (norm: [Float], softmax: [Float], swiglu: [Float]) {
            withKernels(simd: simd) {
                var norm = [Float](repeating: 0, count: n)
                swell_rmsnorm(x, w, &norm, Int64(n), 1, 1e-5)
                var soft = x
                swell_softmax(&soft, Int64(n))
                var glu = [Float](repeating: 0, count: n)
                swell_swiglu(x, w, &glu, Int64(n))
                return (norm, soft, glu)
            }
        }
        let scalar = run(simd: false), simd = run(simd: true)
        #expect(maxAbsDifference(scalar.norm, simd.norm) < 1e-5)
        #expect(maxAbsDifference(scalar.softmax, simd.softmax) < 1e-6)
        #expect(abs(simd.softmax.reduce(0, +) - 1) < 1e-5)
        #expect(maxAbsDifference(scalar.swiglu, simd.swiglu) < 1e-5)
    }

    @Test("a whole forward pass agrees between scalar and every SIMD level", arguments: simdLevels)
    func forwardAgrees(level: KernelSelection.Level) throws {
        let model = try TinyModel.model()
        let prompt: [Int32] = [5, 80, 13, 200, 77, 41]
        func run(_ level: KernelSelection.Level) throws -> [Float] {
            try withKernels(level) {
                try InferenceContext(model: model, contextLength: 32, threads: 2, pinned: false).forward(ForwardBatch(tokens: prompt)).last
            }
        }
        let scalar = try run(.scalar), simd = try run(level)
        #expect(maxAbsDifference(scalar, simd) < 1e-3 * maxAbs(scalar))
    }

    @Test("the worker pool runs every task exactly once")
    func poolRunsAllTasks() {
        let hits = UnsafeMutablePointer<Int32>.allocate(capacity: 1000)
        hits.initialize(repeating: 0, count: 1000)
        defer { hits.deallocate() }
        let pool = WorkerPool(threads: 3, pinned: true)
        for _ in 0..<50 {
            // Each index goes to exactly one thread per region, so plain increments cannot race
            // unless the pool hands an index out twice, which the count would show.
            swell_pool_run(pool.handle, { context, task, _ in
                context!.assumingMemoryBound(to: Int32.self)[Int(task)] += 1
            }, hits, 1000)
        }
        #expect(UnsafeBufferPointer(start: hits, count: 1000).allSatisfy { $0 == 50 })
    }
}
