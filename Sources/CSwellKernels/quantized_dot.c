// Activation quantization and weight-row dot products: scalar reference and AVX2 versions.
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include "simd_math.h"
#define SWELL_HAVE_X86 1
#endif

/// How many activation vectors share one pass over a weight row.
#define SWELL_TOKEN_TILE 8
/// Rows per task when a matmul has many tokens.
#define SWELL_PREFILL_CHUNK_ROWS 16

// MARK: - Activation quantization

static void quantize_q8_scalar(const float *x, swell_q8_block *out, int64_t n) {
    for (int64_t i = 0; i < n / SWELL_QK; i++) {
        const float *v = x + i * SWELL_QK;
        float amax = 0;
        for (int j = 0; j < SWELL_QK; j++) amax = fmaxf(amax, fabsf(v[j]));
        float d = amax / 127.0f;
        float id = d != 0 ? 127.0f / amax : 0.0f;
        int sum = 0;
        for (int j = 0; j < SWELL_QK; j++) {
            // nearbyint rounds half to even, like the SIMD path's _mm256_round_ps.
            int q = (int)nearbyintf(v[j] * id);
            out[i].qs[j] = (int8_t)q;
            sum += q;
        }
        out[i].d = d;
        out[i].s = d * (float)sum;
    }
}

#ifdef SWELL_HAVE_X86
SWELL_SIMD static inline int hsum_epi32(__m256i v) {
    __m128i lo = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    lo = _mm_add_epi32(lo, _mm_shuffle_epi32(lo, 0x4e));
    lo = _mm_add_epi32(lo, _mm_shuffle_epi32(lo, 0xb1));
    return _mm_cvtsi128_si32(lo);
}

SWELL_SIMD static void quantize_q8_simd(const float *x, swell_q8_block *out, int64_t n) {
    const __m256 sign_mask = _mm256_set1_ps(-0.0f);
    for (int64_t i = 0; i < n / SWELL_QK; i++) {
        const float *v = x + i * SWELL_QK;
        __m256 v0 = _mm256_loadu_ps(v), v1 = _mm256_loadu_ps(v + 8);
        __m256 v2 = _mm256_loadu_ps(v + 16), v3 = _mm256_loadu_ps(v + 24);
        __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign_mask, v0), _mm256_andnot_ps(sign_mask, v1)),
                                 _mm256_max_ps(_mm256_andnot_ps(sign_mask, v2), _mm256_andnot_ps(sign_mask, v3)));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        float amax = _mm_cvtss_f32(m4);
        float d = amax / 127.0f;
        __m256 id = _mm256_set1_ps(d != 0 ? 127.0f / amax : 0.0f);
        __m256i i0 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v0, id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        __m256i i1 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v1, id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        __m256i i2 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v2, id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        __m256i i3 = _mm256_cvtps_epi32(_mm256_round_ps(_mm256_mul_ps(v3, id), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        int sum = hsum_epi32(_mm256_add_epi32(_mm256_add_epi32(i0, i1), _mm256_add_epi32(i2, i3)));
        // Pack 4×8 int32 to 32 int8; the packs interleave 128-bit lanes, the permute restores order.
        __m256i p01 = _mm256_packs_epi32(i0, i1);
        __m256i p23 = _mm256_packs_epi32(i2, i3);
        __m256i p = _mm256_packs_epi16(p01, p23);
        p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
        _mm256_storeu_si256((__m256i *)out[i].qs, p);
        out[i].d = d;
        out[i].s = d * (float)sum;
    }
}
#endif

void swell_quantize_q8(const float *x, swell_q8_block *out, int64_t n) {
#ifdef SWELL_HAVE_X86
    if (swell_use_simd) {
        quantize_q8_simd(x, out, n);
        return;
    }
#endif
    quantize_q8_scalar(x, out, n);
}

// MARK: - Scalar dot products

float swell_vec_dot_scalar(int type, const void *row, const float *xf, const swell_q8_block *xq, int64_t n) {
    switch (type) {
    case SWELL_TYPE_F32: {
        const float *w = row;
        float sum = 0;
        for (int64_t i = 0; i < n; i++) sum += w[i] * xf[i];
        return sum;
    }
    case SWELL_TYPE_F16: {
        const uint16_t *w = row;
        float sum = 0;
        for (int64_t i = 0; i < n; i++) sum += swell_fp16_to_fp32(w[i]) * xf[i];
        return sum;
    }
    case SWELL_TYPE_BF16: {
        const uint16_t *w = row;
        float sum = 0;
        for (int64_t i = 0; i < n; i++) sum += swell_bf16_to_fp32(w[i]) * xf[i];
        return sum;
    }
    case SWELL_TYPE_Q8_0: {
        const swell_block_q8_0 *w = row;
        float sum = 0;
        for (int64_t b = 0; b < n / SWELL_QK; b++) {
            int isum = 0;
            for (int j = 0; j < SWELL_QK; j++) isum += w[b].qs[j] * xq[b].qs[j];
            sum += swell_fp16_to_fp32(w[b].d) * xq[b].d * (float)isum;
        }
        return sum;
    }
    case SWELL_TYPE_Q4_0: {
        const swell_block_q4_0 *w = row;
        float sum = 0;
        for (int64_t b = 0; b < n / SWELL_QK; b++) {
            int isum = 0;
            for (int j = 0; j < SWELL_QK / 2; j++) {
                isum += ((w[b].qs[j] & 0x0f) - 8) * xq[b].qs[j];
                isum += ((w[b].qs[j] >> 4) - 8) * xq[b].qs[j + SWELL_QK / 2];
            }
            sum += swell_fp16_to_fp32(w[b].d) * xq[b].d * (float)isum;
        }
        return sum;
    }
    case SWELL_TYPE_Q4_1: {
        const swell_block_q4_1 *w = row;
        float sum = 0;
        for (int64_t b = 0; b < n / SWELL_QK; b++) {
            int isum = 0;
            for (int j = 0; j < SWELL_QK / 2; j++) {
                isum += (w[b].qs[j] & 0x0f) * xq[b].qs[j];
                isum += (w[b].qs[j] >> 4) * xq[b].qs[j + SWELL_QK / 2];
            }
            // sum_j (d q_j + m) a_j = d·da·Σ q_j qa_j + m·(da·Σ qa_j)
            sum += swell_fp16_to_fp32(w[b].d) * xq[b].d * (float)isum + swell_fp16_to_fp32(w[b].m) * xq[b].s;
        }
        return sum;
    }
    default:
        return NAN;
    }
}

// MARK: - AVX2 dot products

#ifdef SWELL_HAVE_X86
SWELL_SIMD static inline __m256i unpack_nibbles(const uint8_t *qs) {
    __m128i packed = _mm_loadu_si128((const __m128i *)qs);
    __m256i both = _mm256_set_m128i(_mm_srli_epi16(packed, 4), packed);
    return _mm256_and_si256(both, _mm256_set1_epi8(0x0f));
}

SWELL_SIMD static float dot_f32_simd(const float *a, const float *b, int64_t n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    }
    float sum = hsum(_mm256_add_ps(acc0, acc1));
    for (; i < n; i++) sum += a[i] * b[i];
    return sum;
}

SWELL_SIMD static float dot_f16_simd(const uint16_t *w, const float *x, int64_t n) {
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 wf = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i)));
        acc = _mm256_fmadd_ps(wf, _mm256_loadu_ps(x + i), acc);
    }
    float sum = hsum(acc);
    for (; i < n; i++) sum += swell_fp16_to_fp32(w[i]) * x[i];
    return sum;
}

SWELL_SIMD static float dot_bf16_simd(const uint16_t *w, const float *x, int64_t n) {
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(w + i)));
        __m256 wf = _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
        acc = _mm256_fmadd_ps(wf, _mm256_loadu_ps(x + i), acc);
    }
    float sum = hsum(acc);
    for (; i < n; i++) sum += swell_bf16_to_fp32(w[i]) * x[i];
    return sum;
}

SWELL_SIMD static inline float half_to_float(uint16_t h) { return _cvtsh_ss(h); }

#define SWELL_DISPATCH_COUNT(KERNEL, ROW, XQ, BLOCKS, OUT, COUNT) \
    switch (COUNT) {                                              \
    case 1: KERNEL(ROW, XQ, BLOCKS, OUT, 1); break;               \
    case 2: KERNEL(ROW, XQ, BLOCKS, OUT, 2); break;               \
    case 3: KERNEL(ROW, XQ, BLOCKS, OUT, 3); break;               \
    case 4: KERNEL(ROW, XQ, BLOCKS, OUT, 4); break;               \
    case 5: KERNEL(ROW, XQ, BLOCKS, OUT, 5); break;               \
    case 6: KERNEL(ROW, XQ, BLOCKS, OUT, 6); break;               \
    case 7: KERNEL(ROW, XQ, BLOCKS, OUT, 7); break;               \
    default: KERNEL(ROW, XQ, BLOCKS, OUT, 8); break;              \
    }

/// Eight gathered 32-bit block heads' scales widened to floats: bytes 0-1 of each (d) or, with
/// `m`, bytes 2-3 (Q4_1's m).
SWELL_SIMD static SWELL_ALWAYS_INLINE __m256 gathered_halves(__m256i heads, const int m) {
    // Packed into the low 64 bits of each 128-bit lane; the permute joins the lanes' halves.
    const __m256i pick_d = _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1,
                                            0, 1, 4, 5, 8, 9, 12, 13, -1, -1, -1, -1, -1, -1, -1, -1);
    const __m256i pick_m = _mm256_setr_epi8(2, 3, 6, 7, 10, 11, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1,
                                            2, 3, 6, 7, 10, 11, 14, 15, -1, -1, -1, -1, -1, -1, -1, -1);
    __m256i halves = _mm256_shuffle_epi8(heads, m ? pick_m : pick_d);
    return _mm256_cvtph_ps(_mm256_castsi256_si128(_mm256_permute4x64_epi64(halves, 0x08)));
}

/// Lane t of the result = the sum of the 8 lanes of v[t].
SWELL_SIMD static SWELL_ALWAYS_INLINE __m256i transpose_sum8(const __m256i *v) {
    __m256i h01 = _mm256_hadd_epi32(v[0], v[1]);
    __m256i h23 = _mm256_hadd_epi32(v[2], v[3]);
    __m256i h45 = _mm256_hadd_epi32(v[4], v[5]);
    __m256i h67 = _mm256_hadd_epi32(v[6], v[7]);
    __m256i h0123 = _mm256_hadd_epi32(h01, h23); // per 128-bit half: sums of v0..v3 (low), v4..v7 (high) pieces
    __m256i h4567 = _mm256_hadd_epi32(h45, h67);
    __m256i low = _mm256_permute2x128_si256(h0123, h4567, 0x20);
    __m256i high = _mm256_permute2x128_si256(h0123, h4567, 0x31);
    return _mm256_add_epi32(low, high);
}

#define SWELL_KERNEL SWELL_SIMD
#define SWELL_KERNEL_NAME(name) name##_avx2
#define SWELL_DOT_I32(x, y) _mm256_madd_epi16(_mm256_maddubs_epi16(x, y), _mm256_set1_epi16(1))
#include "quantized_kernels.h"
#undef SWELL_KERNEL
#undef SWELL_KERNEL_NAME
#undef SWELL_DOT_I32

#define SWELL_KERNEL SWELL_AVX512
#define SWELL_KERNEL_NAME(name) name##_vnni
#define SWELL_DOT_I32(x, y) _mm256_dpbusd_epi32(_mm256_setzero_si256(), x, y)
#define SWELL_KERNEL_HAS_VNNI 1
#include "quantized_kernels.h"
#undef SWELL_KERNEL_HAS_VNNI
#undef SWELL_KERNEL
#undef SWELL_KERNEL_NAME
#undef SWELL_DOT_I32

/// Eight rows against a tile of up to 8 tokens, VNNI only: the rows' blocks are transposed so that
/// one vector holds the same 4 weight bytes of all 8 rows (lane = row), and each token's 4
/// activation bytes are broadcast against it. A vpdpbusd then yields 8 rows' partial sums at
/// once, with no horizontal reduction per (row, block): dot_tile8 spends most of its time in that
/// reduction's shuffles. Q4_1 (unsigned nibbles × signed activations) and Q8_0 (the flipped
/// activations of dot_tile8 × signed weights, each product started from −128·Σw). `out` is row
/// r0's result for the tile's first token; token t's 8 results go to out + t · out_stride.
/// COUNT (1 to 8) tokens: a prompt's last, partial tile takes the same path with fewer
/// broadcasts. Token t's scale for block b is scales[b · block_stride + t · token_stride] (the
/// tile layout of prepare_activations for a full tile, the token layout otherwise), and sums
/// likewise.
SWELL_AVX512 static SWELL_ALWAYS_INLINE void tile8x8_typed(const uint8_t *rows, int64_t row_bytes,
                                                           const swell_q8_block *const *xq, int64_t blocks,
                                                           const float *scales, const float *sums,
                                                           int64_t block_stride, int64_t token_stride, float *out,
                                                           int64_t out_stride, int prefetch, const int TYPE,
                                                           const int COUNT) {
    const int block_bytes = TYPE == SWELL_TYPE_Q4_1 ? 20 : 34;
    const __m256i offsets = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32((int)row_bytes));
    __m256 acc[8];
    for (int t = 0; t < COUNT; t++) acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < blocks; b++) {
        const uint8_t *base = rows + b * block_bytes;
        // Spread over the blocks rather than issued as one burst per group of rows, which stalled
        // on the line fill buffers.
        if (prefetch) {
            for (int r = 0; r < 8; r++) __builtin_prefetch(base + r * row_bytes + SWELL_DECODE_PREFETCH_BYTES, 0, 3);
        }
        __m256i q[8];
        for (int r = 0; r < 8; r++) {
            q[r] = TYPE == SWELL_TYPE_Q4_1 ? unpack_nibbles(base + r * row_bytes + 4)
                                           : _mm256_loadu_si256((const __m256i *)(base + r * row_bytes + 2));
        }
        // 8 × 8 transpose of 32-bit words: w[j] lane r = row r's weight bytes 4j ... 4j + 3.
        __m256i t0 = _mm256_unpacklo_epi32(q[0], q[1]), t1 = _mm256_unpackhi_epi32(q[0], q[1]);
        __m256i t2 = _mm256_unpacklo_epi32(q[2], q[3]), t3 = _mm256_unpackhi_epi32(q[2], q[3]);
        __m256i t4 = _mm256_unpacklo_epi32(q[4], q[5]), t5 = _mm256_unpackhi_epi32(q[4], q[5]);
        __m256i t6 = _mm256_unpacklo_epi32(q[6], q[7]), t7 = _mm256_unpackhi_epi32(q[6], q[7]);
        __m256i u0 = _mm256_unpacklo_epi64(t0, t2), u1 = _mm256_unpackhi_epi64(t0, t2);
        __m256i u2 = _mm256_unpacklo_epi64(t1, t3), u3 = _mm256_unpackhi_epi64(t1, t3);
        __m256i u4 = _mm256_unpacklo_epi64(t4, t6), u5 = _mm256_unpackhi_epi64(t4, t6);
        __m256i u6 = _mm256_unpacklo_epi64(t5, t7), u7 = _mm256_unpackhi_epi64(t5, t7);
        __m256i w[8] = {
            _mm256_permute2x128_si256(u0, u4, 0x20), _mm256_permute2x128_si256(u1, u5, 0x20),
            _mm256_permute2x128_si256(u2, u6, 0x20), _mm256_permute2x128_si256(u3, u7, 0x20),
            _mm256_permute2x128_si256(u0, u4, 0x31), _mm256_permute2x128_si256(u1, u5, 0x31),
            _mm256_permute2x128_si256(u2, u6, 0x31), _mm256_permute2x128_si256(u3, u7, 0x31),
        };
        __m256i heads = _mm256_i32gather_epi32((const int *)base, offsets, 1);
        __m256 d = gathered_halves(heads, 0);
        __m256 m = _mm256_setzero_ps();
        __m256i start = _mm256_setzero_si256();
        if (TYPE == SWELL_TYPE_Q4_1) {
            m = gathered_halves(heads, 1);
        } else {
            for (int j = 0; j < 8; j++) start = _mm256_dpbusd_epi32(start, _mm256_set1_epi8((char)0x80), w[j]);
            start = _mm256_sub_epi32(_mm256_setzero_si256(), start);
        }
        for (int t = 0; t < COUNT; t++) {
            const int8_t *a = xq[t][b].qs;
            __m256i p = start;
            for (int j = 0; j < 8; j++) {
                int32_t word;
                memcpy(&word, a + 4 * j, 4);
                __m256i x = _mm256_set1_epi32(word);
                p = TYPE == SWELL_TYPE_Q4_1 ? _mm256_dpbusd_epi32(p, w[j], x) : _mm256_dpbusd_epi32(p, x, w[j]);
            }
            int64_t at = b * block_stride + t * token_stride;
            __m256 scale = _mm256_mul_ps(d, _mm256_set1_ps(scales[at]));
            acc[t] = _mm256_fmadd_ps(_mm256_cvtepi32_ps(p), scale, acc[t]);
            if (TYPE == SWELL_TYPE_Q4_1) acc[t] = _mm256_fmadd_ps(m, _mm256_set1_ps(sums[at]), acc[t]);
        }
    }
    for (int t = 0; t < COUNT; t++) _mm256_storeu_ps(out + t * out_stride, acc[t]);
}

/// Whether tile8x8 handles `type` (with `flipped`, the Q8_0 activations XOR 0x80, when it is Q8_0).
static int tile8x8_supports(int type, const void *flipped) {
    return type == SWELL_TYPE_Q4_1 || (type == SWELL_TYPE_Q8_0 && flipped);
}

#define TILE8_COUNT_CASE(TYPE, XQ, C)                                                                             \
    case C:                                                                                                   \
        tile8x8_typed(rows, row_bytes, XQ, blocks, scales, sums, block_stride, token_stride, out, out_stride,  \
                      prefetch, TYPE, C);                                                                     \
        break;
#define TILE8_COUNTS(TYPE, XQ)                                                                                \
    switch (count) {                                                                                          \
        TILE8_COUNT_CASE(TYPE, XQ, 1) TILE8_COUNT_CASE(TYPE, XQ, 2) TILE8_COUNT_CASE(TYPE, XQ, 3)             \
        TILE8_COUNT_CASE(TYPE, XQ, 4) TILE8_COUNT_CASE(TYPE, XQ, 5) TILE8_COUNT_CASE(TYPE, XQ, 6)             \
        TILE8_COUNT_CASE(TYPE, XQ, 7) TILE8_COUNT_CASE(TYPE, XQ, 8)                                           \
    }

SWELL_AVX512 static void tile8x8(int type, const uint8_t *rows, int64_t row_bytes, const swell_q8_block *const *xq,
                                 const swell_q8_block *const *xflip, int64_t blocks, const float *scales,
                                 const float *sums, int64_t block_stride, int64_t token_stride, int count, float *out,
                                 int64_t out_stride, int prefetch) {
    if (type == SWELL_TYPE_Q4_1) {
        TILE8_COUNTS(SWELL_TYPE_Q4_1, xq)
    } else {
        TILE8_COUNTS(SWELL_TYPE_Q8_0, xflip)
    }
}
#undef TILE8_COUNTS
#undef TILE8_COUNT_CASE

/// A quantized row against `count` activation vectors with the kernels of `level`.
SWELL_SIMD static void dot_quantized_multi(int level, int type, const void *row, const swell_q8_block *const *xq,
                                           int count, int64_t blocks, float *out) {
    if (level >= SWELL_LEVEL_AVX512_VNNI) {
        dot_quantized_multi_vnni(type, row, xq, count, blocks, out);
    } else {
        dot_quantized_multi_avx2(type, row, xq, count, blocks, out);
    }
}

float swell_vec_dot_simd(int type, const void *row, const float *xf, const swell_q8_block *xq, int64_t n) {
    switch (type) {
    case SWELL_TYPE_F32: return dot_f32_simd(row, xf, n);
    case SWELL_TYPE_F16: return dot_f16_simd(row, xf, n);
    case SWELL_TYPE_BF16: return dot_bf16_simd(row, xf, n);
    case SWELL_TYPE_Q4_0:
    case SWELL_TYPE_Q4_1:
    case SWELL_TYPE_Q8_0: {
        float out;
        dot_quantized_multi(swell_use_simd, type, row, &xq, 1, n / SWELL_QK, &out);
        return out;
    }
    default: return NAN;
    }
}

float swell_dot_f32(const float *a, const float *b, int64_t n) {
    if (swell_use_simd) return dot_f32_simd(a, b, n);
    float sum = 0;
    for (int64_t i = 0; i < n; i++) sum += a[i] * b[i];
    return sum;
}
#else
float swell_vec_dot_simd(int type, const void *row, const float *xf, const swell_q8_block *xq, int64_t n) {
    return swell_vec_dot_scalar(type, row, xf, xq, n);
}

float swell_dot_f32(const float *a, const float *b, int64_t n) {
    float sum = 0;
    for (int64_t i = 0; i < n; i++) sum += a[i] * b[i];
    return sum;
}
#endif

float swell_vec_dot(int type, const void *row, const float *xf, const swell_q8_block *xq, int64_t n) {
    return swell_use_simd ? swell_vec_dot_simd(type, row, xf, xq, n) : swell_vec_dot_scalar(type, row, xf, xq, n);
}

// MARK: - Matrix multiplication

typedef struct {
    int type;
    const uint8_t *weights;
    int64_t row_bytes;
    int64_t rows;
    int64_t k;
    const float *xf;
    const swell_q8_block *xq;
    int64_t tokens;
    float *out;
    int64_t out_stride;
    int64_t chunk_rows;
    // Activation scales d and sums s of each full 8-token tile, laid out [tile][block][token]
    // for dot_tile8, and of every token, [token][block], for dot_single; NULL when the kernels
    // are not used.
    const float *tile_scales;
    const float *tile_sums;
    const float *token_scales;
    const float *token_sums;
    // With VNNI and Q8_0 weights: the activations with their bytes XOR 0x80 (see dot_tile8).
    const swell_q8_block *xflip;
} matmul_job;


static void matmul_chunk(void *context, int task, int thread) {
    (void)thread;
    const matmul_job *job = context;
    int64_t first = (int64_t)task * job->chunk_rows;
    int64_t last = first + job->chunk_rows < job->rows ? first + job->chunk_rows : job->rows;
    int64_t blocks = job->k / SWELL_QK;
    int quantized = swell_type_block_elements(job->type) == SWELL_QK;
    // Read once: the flag is thread-local, and thread-local access may cost a call in PIC code.
    int simd = swell_use_simd;
    if (!quantized && simd
        && swell_float_matmul_rows(simd, job->type, job->weights + first * job->row_bytes, job->row_bytes, last - first,
                                   job->k, job->xf, job->tokens, job->out + first, job->out_stride)) {
        return;
    }
    for (int64_t t0 = 0; t0 < job->tokens; t0 += SWELL_TOKEN_TILE) {
        int count = job->tokens - t0 < SWELL_TOKEN_TILE ? (int)(job->tokens - t0) : SWELL_TOKEN_TILE;
        // The tile's activation rows, set once for all the chunk's weight rows: set per row,
        // their 64-bit index products took a seventh of the matmul time (Q4_1, 1 to 463 tokens).
        const swell_q8_block *xs[SWELL_TOKEN_TILE], *flipped[SWELL_TOKEN_TILE];
        for (int t = 0; quantized && t < count; t++) {
            xs[t] = job->xq + (t0 + t) * blocks;
            flipped[t] = job->xflip ? job->xflip + (t0 + t) * blocks : NULL;
        }
#ifdef SWELL_HAVE_X86
        // A partial tile (a prompt's last, or decode) goes through the 8-row tile as well.
        int rows8 = quantized && simd >= SWELL_LEVEL_AVX512_VNNI && job->token_scales
            && (count < 8 || job->tile_scales) && tile8x8_supports(job->type, job->xflip);
        // Scale layouts: the tile's interleaved ones for a full tile, the tokens' own otherwise.
        const float *tile_scales = !rows8 ? NULL
            : count == 8 ? job->tile_scales + t0 / 8 * blocks * 8 : job->token_scales + t0 * blocks;
        const float *tile_sums = !rows8 ? NULL
            : count == 8 ? job->tile_sums + t0 / 8 * blocks * 8 : job->token_sums + t0 * blocks;
        int64_t block_stride = count == 8 ? 8 : 1, token_stride = count == 8 ? 1 : blocks;
#endif
        for (int64_t r = first; r < last; r++) {
            const void *row = job->weights + r * job->row_bytes;
#ifdef SWELL_HAVE_X86
            if (rows8 && r + 8 <= last) {
                // The first token tile streams the rows from memory; later tiles re-read them from cache.
                tile8x8(job->type, row, job->row_bytes, xs, flipped, blocks, tile_scales, tile_sums, block_stride,
                        token_stride, count, job->out + t0 * job->out_stride + r, job->out_stride,
                        t0 == 0);
                r += 7;
                continue;
            }
            if (quantized && simd) {
                float results[SWELL_TOKEN_TILE];
                // A decode step reads each row once; a prompt's chunk re-reads rows from cache.
                if (job->tokens <= SWELL_TOKEN_TILE) {
                    swell_prefetch_span((const uint8_t *)row + SWELL_DECODE_PREFETCH_BYTES, job->row_bytes);
                }
                if (count == 1 && job->token_scales) {
                    const float *scales = job->token_scales + t0 * blocks, *sums = job->token_sums + t0 * blocks;
                    results[0] = simd >= SWELL_LEVEL_AVX512_VNNI
                        ? dot_single_type_vnni(job->type, row, xs[0], scales, sums, blocks)
                        : dot_single_type_avx2(job->type, row, xs[0], scales, sums, blocks);
                } else if (count == 8 && job->tile_scales) {
                    int64_t tile_offset = t0 / 8 * blocks * 8;
                    const float *scales = job->tile_scales + tile_offset, *sums = job->tile_sums + tile_offset;
                    if (simd >= SWELL_LEVEL_AVX512_VNNI) {
                        dot_tile8_vnni(job->type, row, xs, job->xflip ? flipped : NULL, blocks, scales, sums, results);
                    } else {
                        dot_tile8_avx2(job->type, row, xs, NULL, blocks, scales, sums, results);
                    }
                } else {
                    dot_quantized_multi(simd, job->type, row, xs, count, blocks, results);
                }
                for (int t = 0; t < count; t++) job->out[(t0 + t) * job->out_stride + r] = results[t];
                continue;
            }
#endif
            for (int t = 0; t < count; t++) {
                int64_t token = t0 + t;
                float value = quantized
                    ? swell_vec_dot(job->type, row, NULL, job->xq + token * blocks, job->k)
                    : swell_vec_dot(job->type, row, job->xf + token * job->k, NULL, job->k);
                job->out[token * job->out_stride + r] = value;
            }
        }
    }
}

/// Rows per task for a matrix of `rows` rows against `tokens` tokens.
static int64_t chunk_rows(int threads, int64_t rows, int64_t tokens) {
    // Enough chunks for load balance (rows differ little in cost), few enough to keep the
    // per-chunk overhead and the scheduling atomics negligible.
    int64_t chunk = rows / ((int64_t)threads * 8);
    if (chunk < 16) chunk = 16;
    // With many tokens, a chunk's rows are re-read once per token tile: keep them few enough
    // that they stay in L1 next to the tile's activations.
    if (tokens > SWELL_TOKEN_TILE && chunk > SWELL_PREFILL_CHUNK_ROWS) chunk = SWELL_PREFILL_CHUNK_ROWS;
    return (chunk + 7) & ~(int64_t)7; // whole groups of 8 rows for tile8x8
}

/// Lays out the activation scales (and, for Q8_0 with VNNI, the flipped activations) in the
/// pool's scratch memory and points `job` at them: the layouts the kernels load as vectors.
static void prepare_activations(swell_pool *pool, int flip_wanted, int64_t k, const swell_q8_block *xq, int64_t tokens,
                                matmul_job *job) {
    int64_t blocks = k / SWELL_QK;
    int64_t full_tiles = tokens / 8;
    int64_t floats = 2 * (full_tiles * 8 + tokens) * blocks;
    int flip = flip_wanted && swell_use_simd >= SWELL_LEVEL_AVX512_VNNI;
    size_t flip_bytes = flip ? (size_t)(tokens * blocks) * sizeof(swell_q8_block) : 0;
    uint8_t *scratch = swell_pool_scratch(pool, flip_bytes + (size_t)floats * sizeof(float));
    if (!scratch) return;
    float *data = (float *)(scratch + flip_bytes);
    float *tile_scales = data, *tile_sums = data + full_tiles * 8 * blocks;
    float *token_scales = tile_sums + full_tiles * 8 * blocks, *token_sums = token_scales + tokens * blocks;
    for (int64_t tile = 0; tile < full_tiles; tile++) {
        for (int64_t b = 0; b < blocks; b++) {
            for (int t = 0; t < 8; t++) {
                const swell_q8_block *a = xq + (tile * 8 + t) * blocks + b;
                tile_scales[(tile * blocks + b) * 8 + t] = a->d;
                tile_sums[(tile * blocks + b) * 8 + t] = a->s;
            }
        }
    }
    for (int64_t i = 0; i < tokens * blocks; i++) {
        token_scales[i] = xq[i].d;
        token_sums[i] = xq[i].s;
    }
    if (full_tiles > 0) {
        job->tile_scales = tile_scales;
        job->tile_sums = tile_sums;
    }
    job->token_scales = token_scales;
    job->token_sums = token_sums;
    if (flip) {
        swell_q8_block *flipped = (swell_q8_block *)scratch;
        for (int64_t i = 0; i < tokens * blocks; i++) {
            flipped[i] = xq[i];
            for (int j = 0; j < SWELL_QK; j++) flipped[i].qs[j] = (int8_t)(flipped[i].qs[j] ^ 0x80);
        }
        job->xflip = flipped;
    }
}

void swell_matmul(swell_pool *pool, int type, const void *weights, int64_t row_bytes,
                  int64_t rows, int64_t k, const float *xf, const swell_q8_block *xq,
                  int64_t tokens, float *out, int64_t out_stride) {
    swell_matmul_spec spec = {type, weights, row_bytes, rows, out, out_stride};
    swell_matmul_group(pool, &spec, 1, k, xf, xq, tokens);
}

#define SWELL_GROUP_MAX 4

typedef struct {
    int count;
    matmul_job jobs[SWELL_GROUP_MAX];
    int first_task[SWELL_GROUP_MAX + 1];
} matmul_group_job;

static void matmul_group_task(void *context, int task, int thread) {
    matmul_group_job *group = context;
    int index = 0;
    while (task >= group->first_task[index + 1]) index++;
    matmul_chunk(&group->jobs[index], task - group->first_task[index], thread);
}

void swell_matmul_group(swell_pool *pool, const swell_matmul_spec *specs, int count, int64_t k, const float *xf,
                        const swell_q8_block *xq, int64_t tokens) {
    int threads = pool ? swell_pool_threads(pool) : 1;
    for (int start = 0; start < count; start += SWELL_GROUP_MAX) {
        int n = count - start < SWELL_GROUP_MAX ? count - start : SWELL_GROUP_MAX;
        matmul_group_job group = {.count = n};
        matmul_job shared = {0};
        int quantized = 0, q8_0 = 0;
        for (int i = 0; i < n; i++) {
            quantized |= swell_type_block_elements(specs[start + i].type) == SWELL_QK;
            q8_0 |= specs[start + i].type == SWELL_TYPE_Q8_0;
        }
        if (swell_use_simd && quantized) prepare_activations(pool, q8_0, k, xq, tokens, &shared);
        group.first_task[0] = 0;
        for (int i = 0; i < n; i++) {
            const swell_matmul_spec *spec = &specs[start + i];
            int64_t chunk = chunk_rows(threads, spec->rows, tokens);
            matmul_job job = shared;
            job.type = spec->type;
            job.weights = spec->weights;
            job.row_bytes = spec->row_bytes;
            job.rows = spec->rows;
            job.k = k;
            job.xf = xf;
            job.xq = xq;
            job.tokens = tokens;
            job.out = spec->out;
            job.out_stride = spec->out_stride;
            job.chunk_rows = chunk;
            group.jobs[i] = job;
            group.first_task[i + 1] = group.first_task[i] + (int)((spec->rows + chunk - 1) / chunk);
        }
        int tasks = group.first_task[n];
        if (pool && tasks > 1) {
            swell_pool_run(pool, matmul_group_task, &group, tasks);
        } else {
            for (int i = 0; i < tasks; i++) matmul_group_task(&group, i, 0);
        }
    }
}
