// Matmul for float weights (F32, F16, BF16) against float activations, register-tiled: a tile of
// rows × tokens keeps one accumulator per pair in registers, so every weight vector converted to
// F32 is used for every token of the tile and every activation vector for every row. Prefill
// with F16 weights was one dot product per (row, token) before, converting each weight once per
// token.
#include "internal.h"

#if defined(__x86_64__)
#include "simd_math.h"


/// Rows per tile; tokens per tile depend on the register file (16 ymm, 32 zmm).
#define FLOAT_TILE_ROWS 4
#define FLOAT_TILE_TOKENS_AVX2 2
#define FLOAT_TILE_TOKENS_AVX512 6
/// A batched decode step of 7 or 8 tokens takes one pass in tiles of 3 rows × 8 tokens (24 of
/// the 32 zmm registers as accumulators) rather than two passes of 4 × 6 that read every row twice.
#define FLOAT_WIDE_TILE_ROWS 3
#define FLOAT_WIDE_TILE_TOKENS 8

// MARK: - AVX2 (8 floats per vector)

SWELL_SIMD static SWELL_ALWAYS_INLINE __m256 load8(const void *row, int64_t i, const int TYPE) {
    if (TYPE == SWELL_TYPE_F16) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)row + i)));
    if (TYPE == SWELL_TYPE_BF16) {
        __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)((const uint16_t *)row + i)));
        return _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16));
    }
    return _mm256_loadu_ps((const float *)row + i);
}

/// ROWS rows × TOKENS tokens; k a multiple of 8.
SWELL_SIMD static SWELL_ALWAYS_INLINE void tile_avx2(const uint8_t *w, int64_t row_bytes, int64_t k, const float *x,
                                                    float *out, int64_t out_stride, const int TYPE, const int ROWS,
                                                    const int TOKENS) {
    __m256 acc[FLOAT_TILE_ROWS][FLOAT_TILE_TOKENS_AVX2];
    for (int r = 0; r < ROWS; r++)
        for (int t = 0; t < TOKENS; t++) acc[r][t] = _mm256_setzero_ps();
    for (int64_t i = 0; i < k; i += 8) {
        __m256 wv[FLOAT_TILE_ROWS];
        for (int r = 0; r < ROWS; r++) wv[r] = load8(w + r * row_bytes, i, TYPE);
        for (int t = 0; t < TOKENS; t++) {
            __m256 xv = _mm256_loadu_ps(x + t * k + i);
            for (int r = 0; r < ROWS; r++) acc[r][t] = _mm256_fmadd_ps(wv[r], xv, acc[r][t]);
        }
    }
    for (int r = 0; r < ROWS; r++)
        for (int t = 0; t < TOKENS; t++) out[t * out_stride + r] = hsum(acc[r][t]);
}

#define FLOAT_DISPATCH_TOKENS(KERNEL, TYPE, ROWS, TOKENS, ...) \
    switch (TOKENS) {                                           \
    case 1: KERNEL(__VA_ARGS__, TYPE, ROWS, 1); break;          \
    case 2: KERNEL(__VA_ARGS__, TYPE, ROWS, 2); break;          \
    case 3: KERNEL(__VA_ARGS__, TYPE, ROWS, 3); break;          \
    case 4: KERNEL(__VA_ARGS__, TYPE, ROWS, 4); break;          \
    case 5: KERNEL(__VA_ARGS__, TYPE, ROWS, 5); break;          \
    default: KERNEL(__VA_ARGS__, TYPE, ROWS, 6); break;         \
    }

SWELL_SIMD static SWELL_ALWAYS_INLINE void tiles_avx2_type(const uint8_t *w, int64_t row_bytes, int64_t rows, int64_t k, const float *x,
                                       int64_t tokens, float *out, int64_t out_stride, const int TYPE) {
    for (int64_t t0 = 0; t0 < tokens; t0 += FLOAT_TILE_TOKENS_AVX2) {
        int count = tokens - t0 < FLOAT_TILE_TOKENS_AVX2 ? (int)(tokens - t0) : FLOAT_TILE_TOKENS_AVX2;
        const float *xt = x + t0 * k;
        float *ot = out + t0 * out_stride;
        int64_t r = 0;
        for (; r + FLOAT_TILE_ROWS <= rows; r += FLOAT_TILE_ROWS) {
            if (tokens <= FLOAT_TILE_TOKENS_AVX2) swell_prefetch_span(w + r * row_bytes + SWELL_DECODE_PREFETCH_BYTES, FLOAT_TILE_ROWS * row_bytes);
            if (count == 1) tile_avx2(w + r * row_bytes, row_bytes, k, xt, ot + r, out_stride, TYPE, FLOAT_TILE_ROWS, 1);
            else tile_avx2(w + r * row_bytes, row_bytes, k, xt, ot + r, out_stride, TYPE, FLOAT_TILE_ROWS, 2);
        }
        for (; r < rows; r++) {
            if (count == 1) tile_avx2(w + r * row_bytes, row_bytes, k, xt, ot + r, out_stride, TYPE, 1, 1);
            else tile_avx2(w + r * row_bytes, row_bytes, k, xt, ot + r, out_stride, TYPE, 1, 2);
        }
    }
}

// MARK: - AVX-512 (16 floats per vector)

SWELL_AVX512 static SWELL_ALWAYS_INLINE __m512 load16(const void *row, int64_t i, const int TYPE) {
    if (TYPE == SWELL_TYPE_F16) return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)row + i)));
    if (TYPE == SWELL_TYPE_BF16) {
        __m512i wide = _mm512_cvtepu16_epi32(_mm256_loadu_si256((const __m256i *)((const uint16_t *)row + i)));
        return _mm512_castsi512_ps(_mm512_slli_epi32(wide, 16));
    }
    return _mm512_loadu_ps((const float *)row + i);
}

/// ROWS rows × TOKENS tokens; k a multiple of 16.
SWELL_AVX512 static SWELL_ALWAYS_INLINE void tile_avx512(const uint8_t *w, int64_t row_bytes, int64_t k,
                                                        const float *x, float *out, int64_t out_stride, const int TYPE,
                                                        const int ROWS, const int TOKENS) {
    __m512 acc[FLOAT_TILE_ROWS][FLOAT_WIDE_TILE_TOKENS];
    for (int r = 0; r < ROWS; r++)
        for (int t = 0; t < TOKENS; t++) acc[r][t] = _mm512_setzero_ps();
    for (int64_t i = 0; i < k; i += 16) {
        __m512 wv[FLOAT_TILE_ROWS];
        for (int r = 0; r < ROWS; r++) wv[r] = load16(w + r * row_bytes, i, TYPE);
        for (int t = 0; t < TOKENS; t++) {
            __m512 xv = _mm512_loadu_ps(x + t * k + i);
            for (int r = 0; r < ROWS; r++) acc[r][t] = _mm512_fmadd_ps(wv[r], xv, acc[r][t]);
        }
    }
    for (int r = 0; r < ROWS; r++)
        for (int t = 0; t < TOKENS; t++) out[t * out_stride + r] = _mm512_reduce_add_ps(acc[r][t]);
}

SWELL_AVX512 static SWELL_ALWAYS_INLINE void tiles_avx512_type(const uint8_t *w, int64_t row_bytes, int64_t rows, int64_t k,
                                           const float *x, int64_t tokens, float *out, int64_t out_stride,
                                           const int TYPE) {
    if (tokens > FLOAT_TILE_TOKENS_AVX512 && tokens <= FLOAT_WIDE_TILE_TOKENS) {
        int64_t r = 0;
        for (; r + FLOAT_WIDE_TILE_ROWS <= rows; r += FLOAT_WIDE_TILE_ROWS) {
            swell_prefetch_span(w + r * row_bytes + SWELL_DECODE_PREFETCH_BYTES, FLOAT_WIDE_TILE_ROWS * row_bytes);
            if (tokens == 8) tile_avx512(w + r * row_bytes, row_bytes, k, x, out + r, out_stride, TYPE, FLOAT_WIDE_TILE_ROWS, 8);
            else tile_avx512(w + r * row_bytes, row_bytes, k, x, out + r, out_stride, TYPE, FLOAT_WIDE_TILE_ROWS, 7);
        }
        for (; r < rows; r++) {
            if (tokens == 8) tile_avx512(w + r * row_bytes, row_bytes, k, x, out + r, out_stride, TYPE, 1, 8);
            else tile_avx512(w + r * row_bytes, row_bytes, k, x, out + r, out_stride, TYPE, 1, 7);
        }
        return;
    }
    for (int64_t t0 = 0; t0 < tokens; t0 += FLOAT_TILE_TOKENS_AVX512) {
        int count = tokens - t0 < FLOAT_TILE_TOKENS_AVX512 ? (int)(tokens - t0) : FLOAT_TILE_TOKENS_AVX512;
        const float *xt = x + t0 * k;
        float *ot = out + t0 * out_stride;
        int64_t r = 0;
        for (; r + FLOAT_TILE_ROWS <= rows; r += FLOAT_TILE_ROWS) {
            if (tokens <= FLOAT_TILE_TOKENS_AVX512) swell_prefetch_span(w + r * row_bytes + SWELL_DECODE_PREFETCH_BYTES, FLOAT_TILE_ROWS * row_bytes);
            FLOAT_DISPATCH_TOKENS(tile_avx512, TYPE, FLOAT_TILE_ROWS, count, w + r * row_bytes, row_bytes, k, xt,
                                  ot + r, out_stride)
        }
        for (; r < rows; r++) {
            FLOAT_DISPATCH_TOKENS(tile_avx512, TYPE, 1, count, w + r * row_bytes, row_bytes, k, xt, ot + r, out_stride)
        }
    }
}

// One function per instruction set and type, so TYPE is a constant in the inner loops.
#define FLOAT_TILES_FOR(ATTRIBUTE, NAME, BODY, TYPE)                                                              \
    ATTRIBUTE static void NAME(const uint8_t *w, int64_t row_bytes, int64_t rows, int64_t k, const float *x,      \
                               int64_t tokens, float *out, int64_t out_stride) {                                   \
        BODY(w, row_bytes, rows, k, x, tokens, out, out_stride, TYPE);                                            \
    }
FLOAT_TILES_FOR(SWELL_SIMD, tiles_avx2_f32, tiles_avx2_type, SWELL_TYPE_F32)
FLOAT_TILES_FOR(SWELL_SIMD, tiles_avx2_f16, tiles_avx2_type, SWELL_TYPE_F16)
FLOAT_TILES_FOR(SWELL_SIMD, tiles_avx2_bf16, tiles_avx2_type, SWELL_TYPE_BF16)
FLOAT_TILES_FOR(SWELL_AVX512, tiles_avx512_f32, tiles_avx512_type, SWELL_TYPE_F32)
FLOAT_TILES_FOR(SWELL_AVX512, tiles_avx512_f16, tiles_avx512_type, SWELL_TYPE_F16)
FLOAT_TILES_FOR(SWELL_AVX512, tiles_avx512_bf16, tiles_avx512_type, SWELL_TYPE_BF16)
#endif

int swell_float_matmul_rows(int level, int type, const uint8_t *weights, int64_t row_bytes, int64_t rows, int64_t k,
                            const float *x, int64_t tokens, float *out, int64_t out_stride) {
#if defined(__x86_64__)
    if (level >= SWELL_LEVEL_AVX512_VNNI && k % 16 == 0) {
        switch (type) {
        case SWELL_TYPE_F32: tiles_avx512_f32(weights, row_bytes, rows, k, x, tokens, out, out_stride); return 1;
        case SWELL_TYPE_F16: tiles_avx512_f16(weights, row_bytes, rows, k, x, tokens, out, out_stride); return 1;
        case SWELL_TYPE_BF16: tiles_avx512_bf16(weights, row_bytes, rows, k, x, tokens, out, out_stride); return 1;
        default: return 0;
        }
    }
    if (level >= SWELL_LEVEL_AVX2 && k % 8 == 0) {
        switch (type) {
        case SWELL_TYPE_F32: tiles_avx2_f32(weights, row_bytes, rows, k, x, tokens, out, out_stride); return 1;
        case SWELL_TYPE_F16: tiles_avx2_f16(weights, row_bytes, rows, k, x, tokens, out, out_stride); return 1;
        case SWELL_TYPE_BF16: tiles_avx2_bf16(weights, row_bytes, rows, k, x, tokens, out, out_stride); return 1;
        default: return 0;
        }
    }
#endif
    (void)level, (void)type, (void)weights, (void)row_bytes, (void)rows, (void)k, (void)x, (void)tokens, (void)out,
        (void)out_stride;
    return 0;
}
