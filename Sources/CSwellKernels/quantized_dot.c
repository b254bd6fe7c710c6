// Activation quantization and weight-row dot products: scalar reference and AVX2 versions.
#include "internal.h"

#include <math.h>
#include <stdlib.h>

#if defined(__x86_64__)
#include <immintrin.h>
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
SWELL_SIMD static inline float hsum_ps(__m256 v) {
    __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
    return _mm_cvtss_f32(lo);
}

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

/// Σ unsigned(x) · signed(y) over 32 bytes, as 8 int32 lanes converted to float.
SWELL_SIMD static inline __m256 dot_u8_s8(__m256i x, __m256i y) {
    __m256i pairs = _mm256_maddubs_epi16(x, y);
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(pairs, _mm256_set1_epi16(1)));
}

SWELL_SIMD static float dot_f32_simd(const float *a, const float *b, int64_t n) {
    __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 16 <= n; i += 16) {
        acc0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), acc0);
        acc1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), acc1);
    }
    float sum = hsum_ps(_mm256_add_ps(acc0, acc1));
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
    float sum = hsum_ps(acc);
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
    float sum = hsum_ps(acc);
    for (; i < n; i++) sum += swell_bf16_to_fp32(w[i]) * x[i];
    return sum;
}

SWELL_SIMD static inline float half_to_float(uint16_t h) { return _cvtsh_ss(h); }

/// Q4_0/Q4_1/Q8_0 row against `COUNT` (1...4) activation vectors: each weight block is loaded
/// and unpacked once and reused for every vector, which is what makes prefill cheaper per token.
/// Always inlined with a constant COUNT so the accumulators stay in registers.
#define SWELL_ALWAYS_INLINE __attribute__((always_inline)) inline

// One weight block against COUNT activation vectors, accumulating into acc[t] (and, for Q4_1,
// the block-minimum terms into minimum[t]).
SWELL_SIMD static SWELL_ALWAYS_INLINE void block_q4_1(const swell_block_q4_1 *w, const swell_q8_block *const *xq,
                                                       int64_t b, __m256 *acc, float *minimum, const int COUNT) {
    __m256i q = unpack_nibbles(w[b].qs);
    float d = half_to_float(w[b].d);
    float m = half_to_float(w[b].m);
    for (int t = 0; t < COUNT; t++) {
        const swell_q8_block *a = &xq[t][b];
        __m256i y = _mm256_loadu_si256((const __m256i *)a->qs);
        acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * a->d), dot_u8_s8(q, y), acc[t]);
        minimum[t] += m * a->s;
    }
}

SWELL_SIMD static SWELL_ALWAYS_INLINE void block_q4_0(const swell_block_q4_0 *w, const swell_q8_block *const *xq,
                                                       int64_t b, __m256 *acc, float *minimum, const int COUNT) {
    (void)minimum;
    __m256i q = _mm256_sub_epi8(unpack_nibbles(w[b].qs), _mm256_set1_epi8(8));
    __m256i q_abs = _mm256_sign_epi8(q, q);
    float d = half_to_float(w[b].d);
    for (int t = 0; t < COUNT; t++) {
        const swell_q8_block *a = &xq[t][b];
        __m256i y = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)a->qs), q);
        acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * a->d), dot_u8_s8(q_abs, y), acc[t]);
    }
}

SWELL_SIMD static SWELL_ALWAYS_INLINE void block_q8_0(const swell_block_q8_0 *w, const swell_q8_block *const *xq,
                                                       int64_t b, __m256 *acc, float *minimum, const int COUNT) {
    (void)minimum;
    __m256i q = _mm256_loadu_si256((const __m256i *)w[b].qs);
    __m256i q_abs = _mm256_sign_epi8(q, q);
    float d = half_to_float(w[b].d);
    for (int t = 0; t < COUNT; t++) {
        const swell_q8_block *a = &xq[t][b];
        __m256i y = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)a->qs), q);
        acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * a->d), dot_u8_s8(q_abs, y), acc[t]);
    }
}

/// A row against COUNT activation vectors. Few vectors leave the FMA chains short of independent
/// work, so for one or two vectors blocks are taken in pairs with two sets of accumulators.
#define SWELL_DEFINE_ROW_KERNEL(NAME, BLOCK, BLOCK_TYPE)                                                    \
    SWELL_SIMD static SWELL_ALWAYS_INLINE void NAME(const void *row, const swell_q8_block *const *xq,        \
                                                     int64_t blocks, float *out, const int COUNT) {           \
        const BLOCK_TYPE *w = row;                                                                          \
        __m256 acc0[SWELL_TOKEN_TILE], acc1[SWELL_TOKEN_TILE];                                              \
        float min0[SWELL_TOKEN_TILE], min1[SWELL_TOKEN_TILE];                                               \
        for (int t = 0; t < SWELL_TOKEN_TILE; t++) {                                                        \
            acc0[t] = acc1[t] = _mm256_setzero_ps();                                                        \
            min0[t] = min1[t] = 0;                                                                          \
        }                                                                                                   \
        int64_t b = 0;                                                                                      \
        if (COUNT == 1) {                                                                                   \
            for (; b + 3 < blocks; b += 4) {                                                                \
                BLOCK(w, xq, b, acc0, min0, 1);                                                             \
                BLOCK(w, xq, b + 1, acc1, min1, 1);                                                         \
                BLOCK(w, xq, b + 2, acc0 + 2, min0 + 2, 1);                                                 \
                BLOCK(w, xq, b + 3, acc1 + 2, min1 + 2, 1);                                                 \
            }                                                                                               \
            acc0[0] = _mm256_add_ps(acc0[0], acc0[2]);                                                      \
            acc1[0] = _mm256_add_ps(acc1[0], acc1[2]);                                                      \
            min0[0] += min0[2];                                                                             \
            min1[0] += min1[2];                                                                             \
        }                                                                                                   \
        if (COUNT <= 2) {                                                                                   \
            for (; b + 1 < blocks; b += 2) {                                                                \
                BLOCK(w, xq, b, acc0, min0, COUNT);                                                         \
                BLOCK(w, xq, b + 1, acc1, min1, COUNT);                                                     \
            }                                                                                               \
        }                                                                                                   \
        for (; b < blocks; b++) BLOCK(w, xq, b, acc0, min0, COUNT);                                         \
        for (int t = 0; t < COUNT; t++) out[t] = hsum_ps(_mm256_add_ps(acc0[t], acc1[t])) + min0[t] + min1[t]; \
    }

SWELL_DEFINE_ROW_KERNEL(dot_q4_1_n, block_q4_1, swell_block_q4_1)
SWELL_DEFINE_ROW_KERNEL(dot_q4_0_n, block_q4_0, swell_block_q4_0)
SWELL_DEFINE_ROW_KERNEL(dot_q8_0_n, block_q8_0, swell_block_q8_0)

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

/// One row against exactly 8 activation vectors (a full prefill tile). Each block's 8 integer
/// dot products are reduced to one vector (lane = token) before a single convert and FMA with
/// the 8 activation scales, instead of a convert, broadcast and FMA per token: about half the
/// vector work per token. `scales`/`sums` hold d and s of the tile's activations as [block][8].
SWELL_SIMD static void dot_tile8_simd(int type, const void *row, const swell_q8_block *const *xq, int64_t blocks,
                                      const float *scales, const float *sums, float *out) {
    __m256 acc = _mm256_setzero_ps();
    __m256 minimum = _mm256_setzero_ps();
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i products[8];
    for (int64_t b = 0; b < blocks; b++) {
        float d;
        if (type == SWELL_TYPE_Q4_1) {
            const swell_block_q4_1 *w = (const swell_block_q4_1 *)row + b;
            __m256i q = unpack_nibbles(w->qs);
            for (int t = 0; t < 8; t++) {
                __m256i y = _mm256_loadu_si256((const __m256i *)xq[t][b].qs);
                products[t] = _mm256_madd_epi16(_mm256_maddubs_epi16(q, y), ones);
            }
            d = half_to_float(w->d);
            minimum = _mm256_fmadd_ps(_mm256_set1_ps(half_to_float(w->m)), _mm256_loadu_ps(sums + 8 * b), minimum);
        } else {
            __m256i q;
            if (type == SWELL_TYPE_Q4_0) {
                const swell_block_q4_0 *w = (const swell_block_q4_0 *)row + b;
                q = _mm256_sub_epi8(unpack_nibbles(w->qs), _mm256_set1_epi8(8));
                d = half_to_float(w->d);
            } else {
                const swell_block_q8_0 *w = (const swell_block_q8_0 *)row + b;
                q = _mm256_loadu_si256((const __m256i *)w->qs);
                d = half_to_float(w->d);
            }
            __m256i q_abs = _mm256_sign_epi8(q, q);
            for (int t = 0; t < 8; t++) {
                __m256i y = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)xq[t][b].qs), q);
                products[t] = _mm256_madd_epi16(_mm256_maddubs_epi16(q_abs, y), ones);
            }
        }
        __m256 dots = _mm256_cvtepi32_ps(transpose_sum8(products));
        __m256 scale = _mm256_mul_ps(_mm256_set1_ps(d), _mm256_loadu_ps(scales + 8 * b));
        acc = _mm256_fmadd_ps(scale, dots, acc);
    }
    _mm256_storeu_ps(out, _mm256_add_ps(acc, minimum));
}

SWELL_SIMD static void dot_quantized_multi_simd(int type, const void *row, const swell_q8_block *const *xq,
                                                int count, int64_t blocks, float *out) {
    switch (type) {
    case SWELL_TYPE_Q4_1: SWELL_DISPATCH_COUNT(dot_q4_1_n, row, xq, blocks, out, count); break;
    case SWELL_TYPE_Q4_0: SWELL_DISPATCH_COUNT(dot_q4_0_n, row, xq, blocks, out, count); break;
    case SWELL_TYPE_Q8_0: SWELL_DISPATCH_COUNT(dot_q8_0_n, row, xq, blocks, out, count); break;
    default:
        for (int t = 0; t < count; t++) out[t] = NAN;
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
        dot_quantized_multi_simd(type, row, &xq, 1, n / SWELL_QK, &out);
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
    // for dot_tile8_simd; NULL when that kernel is not used.
    const float *tile_scales;
    const float *tile_sums;
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
    for (int64_t t0 = 0; t0 < job->tokens; t0 += SWELL_TOKEN_TILE) {
        int count = job->tokens - t0 < SWELL_TOKEN_TILE ? (int)(job->tokens - t0) : SWELL_TOKEN_TILE;
        for (int64_t r = first; r < last; r++) {
            const void *row = job->weights + r * job->row_bytes;
#ifdef SWELL_HAVE_X86
            if (quantized && simd) {
                const swell_q8_block *xs[SWELL_TOKEN_TILE];
                float results[SWELL_TOKEN_TILE];
                for (int t = 0; t < count; t++) xs[t] = job->xq + (t0 + t) * blocks;
                if (count == 8 && job->tile_scales) {
                    int64_t tile_offset = t0 / 8 * blocks * 8;
                    dot_tile8_simd(job->type, row, xs, blocks, job->tile_scales + tile_offset, job->tile_sums + tile_offset, results);
                } else {
                    dot_quantized_multi_simd(job->type, row, xs, count, blocks, results);
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

void swell_matmul(swell_pool *pool, int type, const void *weights, int64_t row_bytes,
                  int64_t rows, int64_t k, const float *xf, const swell_q8_block *xq,
                  int64_t tokens, float *out, int64_t out_stride) {
    int threads = pool ? swell_pool_threads(pool) : 1;
    // Enough chunks for load balance (rows differ little in cost), few enough to keep the
    // per-chunk overhead and the scheduling atomics negligible.
    int64_t chunk = rows / ((int64_t)threads * 8);
    if (chunk < 16) chunk = 16;
    // With many tokens, a chunk's rows are re-read once per token tile: keep them few enough
    // that they stay in L1 next to the tile's activations.
    if (tokens > SWELL_TOKEN_TILE && chunk > SWELL_PREFILL_CHUNK_ROWS) chunk = SWELL_PREFILL_CHUNK_ROWS;
    chunk = (chunk + 3) & ~(int64_t)3;
    matmul_job job = {type, weights, row_bytes, rows, k, xf, xq, tokens, out, out_stride, chunk, NULL, NULL};
    float *tile_data = NULL;
    int64_t full_tiles = tokens / 8;
    if (SWELL_TOKEN_TILE == 8 && full_tiles > 0 && swell_use_simd && swell_type_block_elements(type) == SWELL_QK) {
        int64_t blocks = k / SWELL_QK;
        tile_data = malloc((size_t)(full_tiles * blocks * 8) * 2 * sizeof(float));
        if (tile_data) {
            float *scales = tile_data, *sums = tile_data + full_tiles * blocks * 8;
            for (int64_t tile = 0; tile < full_tiles; tile++) {
                for (int64_t b = 0; b < blocks; b++) {
                    for (int t = 0; t < 8; t++) {
                        const swell_q8_block *a = xq + (tile * 8 + t) * blocks + b;
                        scales[(tile * blocks + b) * 8 + t] = a->d;
                        sums[(tile * blocks + b) * 8 + t] = a->s;
                    }
                }
            }
            job.tile_scales = scales;
            job.tile_sums = sums;
        }
    }
    int tasks = (int)((rows + chunk - 1) / chunk);
    if (pool && tasks > 1) {
        swell_pool_run(pool, matmul_chunk, &job, tasks);
    } else {
        for (int i = 0; i < tasks; i++) matmul_chunk(&job, i, 0);
    }
    free(tile_data);
}
