// The quantized dot-product kernels, compiled once per instruction set: quantized_dot.c includes
// this file for AVX2 and again for AVX-512 VNNI, with
//   SWELL_KERNEL            the function attribute selecting the instruction set,
//   SWELL_KERNEL_NAME(name) the name with the instruction set's suffix,
//   SWELL_DOT_I32(x, y)     Σ unsigned(x)·signed(y) over groups of 4 bytes, as 8 int32 lanes
//                           (vpmaddubsw + vpmaddwd on AVX2, one vpdpbusd with VNNI).
// No include guard: it is meant to be included more than once.

/// Σ unsigned(x) · signed(y) over 32 bytes, as 8 int32 lanes converted to float.
SWELL_KERNEL static inline __m256 SWELL_KERNEL_NAME(dot_u8_s8)(__m256i x, __m256i y) {
    return _mm256_cvtepi32_ps(SWELL_DOT_I32(x, y));
}

/// Q4_0/Q4_1/Q8_0 row against `COUNT` (1...8) activation vectors: each weight block is loaded
/// and unpacked once and reused for every vector, which is what makes prefill cheaper per token.
/// Always inlined with a constant COUNT so the accumulators stay in registers.

// One weight block against COUNT activation vectors, accumulating into acc[t] (and, for Q4_1,
// the block-minimum terms into minimum[t]).
SWELL_KERNEL static SWELL_ALWAYS_INLINE void SWELL_KERNEL_NAME(block_q4_1)(const swell_block_q4_1 *w, const swell_q8_block *const *xq,
                                                       int64_t b, __m256 *acc, float *minimum, const int COUNT) {
    __m256i q = unpack_nibbles(w[b].qs);
    float d = half_to_float(w[b].d);
    float m = half_to_float(w[b].m);
    for (int t = 0; t < COUNT; t++) {
        const swell_q8_block *a = &xq[t][b];
        __m256i y = _mm256_loadu_si256((const __m256i *)a->qs);
        acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * a->d), SWELL_KERNEL_NAME(dot_u8_s8)(q, y), acc[t]);
        minimum[t] += m * a->s;
    }
}

SWELL_KERNEL static SWELL_ALWAYS_INLINE void SWELL_KERNEL_NAME(block_q4_0)(const swell_block_q4_0 *w, const swell_q8_block *const *xq,
                                                       int64_t b, __m256 *acc, float *minimum, const int COUNT) {
    (void)minimum;
    __m256i q = _mm256_sub_epi8(unpack_nibbles(w[b].qs), _mm256_set1_epi8(8));
    __m256i q_abs = _mm256_sign_epi8(q, q);
    float d = half_to_float(w[b].d);
    for (int t = 0; t < COUNT; t++) {
        const swell_q8_block *a = &xq[t][b];
        __m256i y = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)a->qs), q);
        acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * a->d), SWELL_KERNEL_NAME(dot_u8_s8)(q_abs, y), acc[t]);
    }
}

SWELL_KERNEL static SWELL_ALWAYS_INLINE void SWELL_KERNEL_NAME(block_q8_0)(const swell_block_q8_0 *w, const swell_q8_block *const *xq,
                                                       int64_t b, __m256 *acc, float *minimum, const int COUNT) {
    (void)minimum;
    __m256i q = _mm256_loadu_si256((const __m256i *)w[b].qs);
    __m256i q_abs = _mm256_sign_epi8(q, q);
    float d = half_to_float(w[b].d);
    for (int t = 0; t < COUNT; t++) {
        const swell_q8_block *a = &xq[t][b];
        __m256i y = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)a->qs), q);
        acc[t] = _mm256_fmadd_ps(_mm256_set1_ps(d * a->d), SWELL_KERNEL_NAME(dot_u8_s8)(q_abs, y), acc[t]);
    }
}

/// A row against COUNT activation vectors. Few vectors leave the FMA chains short of independent
/// work, so for one or two vectors blocks are taken in pairs with two sets of accumulators.
#define SWELL_DEFINE_ROW_KERNEL(NAME, BLOCK, BLOCK_TYPE)                                                    \
    SWELL_KERNEL static SWELL_ALWAYS_INLINE void NAME(const void *row, const swell_q8_block *const *xq,        \
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
        for (int t = 0; t < COUNT; t++) out[t] = hsum(_mm256_add_ps(acc0[t], acc1[t])) + min0[t] + min1[t]; \
    }

SWELL_DEFINE_ROW_KERNEL(SWELL_KERNEL_NAME(dot_q4_1_n), SWELL_KERNEL_NAME(block_q4_1), swell_block_q4_1)
SWELL_DEFINE_ROW_KERNEL(SWELL_KERNEL_NAME(dot_q4_0_n), SWELL_KERNEL_NAME(block_q4_0), swell_block_q4_0)
SWELL_DEFINE_ROW_KERNEL(SWELL_KERNEL_NAME(dot_q8_0_n), SWELL_KERNEL_NAME(block_q8_0), swell_block_q8_0)

/// One row against exactly 8 activation vectors (a full prefill tile). Each block's 8 integer
/// dot products are reduced to one vector (lane = token) before a single convert and FMA with
/// the 8 activation scales, instead of a convert, broadcast and FMA per token: about half the
/// vector work per token. `scales`/`sums` hold d and s of the tile's activations as [block][8].
///
/// `xflip`, given with VNNI for Q8_0: the same activations with every byte XOR 0x80 — as unsigned
/// bytes q + 128 — so one vpdpbusd multiplies them with the signed weights without the sign
/// trick; the 128·Σw that adds is taken off by starting each product from −128·Σw.
SWELL_KERNEL static SWELL_ALWAYS_INLINE void SWELL_KERNEL_NAME(dot_tile8_typed)(
    const void *row, const swell_q8_block *const *xq, const swell_q8_block *const *xflip, int64_t blocks,
    const float *scales, const float *sums, float *out, const int type) {
    (void)xflip; // only the VNNI kernels use it
    __m256 acc = _mm256_setzero_ps();
    __m256 minimum = _mm256_setzero_ps();
    __m256i products[8];
    for (int64_t b = 0; b < blocks; b++) {
        float d;
        if (type == SWELL_TYPE_Q4_1) {
            const swell_block_q4_1 *w = (const swell_block_q4_1 *)row + b;
            __m256i q = unpack_nibbles(w->qs);
            for (int t = 0; t < 8; t++) {
                __m256i y = _mm256_loadu_si256((const __m256i *)xq[t][b].qs);
                products[t] = SWELL_DOT_I32(q, y);
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
#ifdef SWELL_KERNEL_HAS_VNNI
                if (xflip) {
                    __m256i start = _mm256_sub_epi32(_mm256_setzero_si256(),
                                                     _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8((char)0x80), q));
                    for (int t = 0; t < 8; t++) {
                        products[t] = _mm256_dpbusd_epi32(start, _mm256_loadu_si256((const __m256i *)xflip[t][b].qs), q);
                    }
                    goto reduce;
                }
#endif
            }
            __m256i q_abs = _mm256_sign_epi8(q, q);
            for (int t = 0; t < 8; t++) {
                __m256i y = _mm256_sign_epi8(_mm256_loadu_si256((const __m256i *)xq[t][b].qs), q);
                products[t] = SWELL_DOT_I32(q_abs, y);
            }
        }
#ifdef SWELL_KERNEL_HAS_VNNI
    reduce:;
#endif
        __m256 dots = _mm256_cvtepi32_ps(transpose_sum8(products));
        __m256 scale = _mm256_mul_ps(_mm256_set1_ps(d), _mm256_loadu_ps(scales + 8 * b));
        acc = _mm256_fmadd_ps(scale, dots, acc);
    }
    _mm256_storeu_ps(out, _mm256_add_ps(acc, minimum));
}

/// `dot_tile8` with the weight type a constant in the block loop.
SWELL_KERNEL static void SWELL_KERNEL_NAME(dot_tile8)(int type, const void *row, const swell_q8_block *const *xq,
                                                      const swell_q8_block *const *xflip, int64_t blocks,
                                                      const float *scales, const float *sums, float *out) {
    switch (type) {
    case SWELL_TYPE_Q4_1: SWELL_KERNEL_NAME(dot_tile8_typed)(row, xq, xflip, blocks, scales, sums, out, SWELL_TYPE_Q4_1); break;
    case SWELL_TYPE_Q4_0: SWELL_KERNEL_NAME(dot_tile8_typed)(row, xq, xflip, blocks, scales, sums, out, SWELL_TYPE_Q4_0); break;
    default: SWELL_KERNEL_NAME(dot_tile8_typed)(row, xq, xflip, blocks, scales, sums, out, SWELL_TYPE_Q8_0); break;
    }
}

/// One row against one activation vector (decode), eight blocks at a time: the eight blocks'
/// integer dot products are reduced into one vector (lane = block), and the weight scales are
/// gathered from the eight blocks and applied with one multiply and FMA — instead of a scalar
/// scale product, broadcast, convert and FMA per block. `scales`/`sums` hold the activation's d
/// and s per block, contiguous. Blocks past the last multiple of 8 are summed one by one.
SWELL_KERNEL static SWELL_ALWAYS_INLINE float SWELL_KERNEL_NAME(dot_single)(const void *row, const swell_q8_block *xq,
                                                                            const float *scales, const float *sums,
                                                                            int64_t blocks, const int TYPE) {
    const int block_bytes = TYPE == SWELL_TYPE_Q4_1 ? 20 : TYPE == SWELL_TYPE_Q4_0 ? 18 : 34;
    const __m256i offsets = _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7), _mm256_set1_epi32(block_bytes));
    const uint8_t *base = row;
    __m256 acc = _mm256_setzero_ps(), minimum = _mm256_setzero_ps();
    int64_t b = 0;
    for (; b + 8 <= blocks; b += 8) {
        __m256i products[8];
        for (int j = 0; j < 8; j++) {
            const uint8_t *block = base + (b + j) * block_bytes;
            __m256i y = _mm256_loadu_si256((const __m256i *)xq[b + j].qs);
            if (TYPE == SWELL_TYPE_Q4_1) {
                products[j] = SWELL_DOT_I32(unpack_nibbles(block + 4), y);
            } else {
                __m256i q = TYPE == SWELL_TYPE_Q4_0 ? _mm256_sub_epi8(unpack_nibbles(block + 2), _mm256_set1_epi8(8))
                                                    : _mm256_loadu_si256((const __m256i *)(block + 2));
                products[j] = SWELL_DOT_I32(_mm256_sign_epi8(q, q), _mm256_sign_epi8(y, q));
            }
        }
        __m256i heads = _mm256_i32gather_epi32((const int *)(base + b * block_bytes), offsets, 1);
        __m256 d = gathered_halves(heads, 0);
        __m256 dots = _mm256_cvtepi32_ps(transpose_sum8(products));
        acc = _mm256_fmadd_ps(_mm256_mul_ps(d, _mm256_loadu_ps(scales + b)), dots, acc);
        if (TYPE == SWELL_TYPE_Q4_1) {
            __m256 m = gathered_halves(heads, 1);
            minimum = _mm256_fmadd_ps(m, _mm256_loadu_ps(sums + b), minimum);
        }
    }
    float sum = hsum(_mm256_add_ps(acc, minimum));
    for (; b < blocks; b++) {
        const uint8_t *block = base + b * block_bytes;
        __m256i y = _mm256_loadu_si256((const __m256i *)xq[b].qs);
        uint16_t dh;
        memcpy(&dh, block, 2);
        int dot;
        if (TYPE == SWELL_TYPE_Q4_1) {
            uint16_t mh;
            memcpy(&mh, block + 2, 2);
            dot = hsum_epi32(SWELL_DOT_I32(unpack_nibbles(block + 4), y));
            sum += half_to_float(mh) * sums[b];
        } else {
            __m256i q = TYPE == SWELL_TYPE_Q4_0 ? _mm256_sub_epi8(unpack_nibbles(block + 2), _mm256_set1_epi8(8))
                                                : _mm256_loadu_si256((const __m256i *)(block + 2));
            dot = hsum_epi32(SWELL_DOT_I32(_mm256_sign_epi8(q, q), _mm256_sign_epi8(y, q)));
        }
        sum += half_to_float(dh) * scales[b] * (float)dot;
    }
    return sum;
}

SWELL_KERNEL static float SWELL_KERNEL_NAME(dot_single_type)(int type, const void *row, const swell_q8_block *xq,
                                                             const float *scales, const float *sums, int64_t blocks) {
    switch (type) {
    case SWELL_TYPE_Q4_1: return SWELL_KERNEL_NAME(dot_single)(row, xq, scales, sums, blocks, SWELL_TYPE_Q4_1);
    case SWELL_TYPE_Q4_0: return SWELL_KERNEL_NAME(dot_single)(row, xq, scales, sums, blocks, SWELL_TYPE_Q4_0);
    case SWELL_TYPE_Q8_0: return SWELL_KERNEL_NAME(dot_single)(row, xq, scales, sums, blocks, SWELL_TYPE_Q8_0);
    default: return NAN;
    }
}

SWELL_KERNEL static void SWELL_KERNEL_NAME(dot_quantized_multi)(int type, const void *row, const swell_q8_block *const *xq,
                                                int count, int64_t blocks, float *out) {
    switch (type) {
    case SWELL_TYPE_Q4_1: SWELL_DISPATCH_COUNT(SWELL_KERNEL_NAME(dot_q4_1_n), row, xq, blocks, out, count); break;
    case SWELL_TYPE_Q4_0: SWELL_DISPATCH_COUNT(SWELL_KERNEL_NAME(dot_q4_0_n), row, xq, blocks, out, count); break;
    case SWELL_TYPE_Q8_0: SWELL_DISPATCH_COUNT(SWELL_KERNEL_NAME(dot_q8_0_n), row, xq, blocks, out, count); break;
    default:
        for (int t = 0; t < count; t++) out[t] = NAN;
    }
}

#undef SWELL_DEFINE_ROW_KERNEL
