// Attention over the block-paged KV cache, and the writes of K/V rows into it.
//
// Layout. A block holds block_size positions of every KV head. V is position-major: element j
// of position i of block b at (b * block_size + i) * kv_width + j. K is stored transposed within
// each block: element j of position i at b * block_size * kv_width + j * block_size + i, so one
// run of block_size elements holds one dimension for consecutive positions. The score kernels
// read those runs as vectors over positions and multiply them by broadcast query elements: no
// horizontal sums, and one K load serves every query row of a tile.
//
// Tiles. Consecutive tokens of one sequence (a prompt chunk) attend the same cached positions.
// A task takes up to TILE_ROWS query rows, the heads sharing one KV head for as many consecutive
// tokens as fit, and passes over the K and V rows once for all of them: scores for every row,
// a softmax per row up to its own position (causal), then the weighted sum of V. Before tiles,
// each (token, KV head) passed over the cache on its own, and a prompt of 63 tokens after a
// cached 400-token prefix spent a fifth of its step there.
#include "internal.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include "simd_math.h"
#define SWELL_HAVE_X86 1
#endif

/// Query rows per task. The AVX2 score loop keeps one accumulator per row plus the K vector and
/// a broadcast in its 16 registers.
#define TILE_ROWS 12

typedef struct {
    const float *q;
    float *out;
    int heads;
    int kv_heads;
    int head_dim;
    const void *k_cache;
    const void *v_cache;
    int kv_f16;
    const int32_t *const *block_tables;
    int block_size;
    const int32_t *positions;
    float scale;
    /// Tile i covers tokens tile_start[i] ..< tile_start[i + 1].
    const int *tile_start;
    /// Query heads per task, and tasks per (tile, KV head) to cover a KV head's heads.
    int head_chunk;
    int chunks;
} attention_job;

/// One task's query rows: row r is token first_token + r / heads, query head first_head + r % heads.
typedef struct {
    int rows;
    int heads;
    int first_token;
    int first_head;
    int kv_head;
    /// Positions the tile's last token attends; row r attends positions[its token] + 1 of them.
    int64_t count;
    const int32_t *table;
} attention_tile;

static attention_tile tile_for_task(const attention_job *job, int task) {
    int chunk = task % job->chunks;
    int kv_head = (task / job->chunks) % job->kv_heads;
    int tile = task / job->chunks / job->kv_heads;
    int group = job->heads / job->kv_heads;
    int first_head_in_group = chunk * job->head_chunk;
    int heads = group - first_head_in_group < job->head_chunk ? group - first_head_in_group : job->head_chunk;
    int first = job->tile_start[tile];
    int tokens = job->tile_start[tile + 1] - first;
    attention_tile t = {
        .rows = tokens * heads,
        .heads = heads,
        .first_token = first,
        .first_head = kv_head * group + first_head_in_group,
        .kv_head = kv_head,
        .count = (int64_t)job->positions[first + tokens - 1] + 1,
        .table = job->block_tables[first],
    };
    return t;
}

static inline int64_t row_offset(const attention_job *job, const attention_tile *tile, int r) {
    return ((int64_t)(tile->first_token + r / tile->heads) * job->heads + tile->first_head + r % tile->heads) *
           job->head_dim;
}

static inline int64_t row_limit(const attention_job *job, const attention_tile *tile, int r) {
    return (int64_t)job->positions[tile->first_token + r / tile->heads] + 1;
}

// MARK: - Scratch

static _Thread_local float *scratch_buffer = NULL;
static _Thread_local int64_t scratch_capacity = 0;

void swell_release_thread_scratch(void) {
    free(scratch_buffer);
    scratch_buffer = NULL;
    scratch_capacity = 0;
}

/// This thread's scratch of at least `floats` floats, 64-byte aligned, grown as needed.
static float *attention_scratch(int64_t floats) {
    if (scratch_capacity < floats) {
        free(scratch_buffer);
        scratch_capacity = floats < 4096 ? 4096 : (floats * 2 + 15) / 16 * 16;
        scratch_buffer = aligned_alloc(64, (size_t)scratch_capacity * sizeof(float));
    }
    return scratch_buffer;
}

// MARK: - Scalar

static inline float kv_element(const void *pool, int f16, int64_t index) {
    return f16 ? swell_fp16_to_fp32(((const uint16_t *)pool)[index]) : ((const float *)pool)[index];
}

/// The reference: each row on its own.
static void attend_tile_scalar(const attention_job *job, const attention_tile *tile) {
    int bs = job->block_size, hd = job->head_dim, f16 = job->kv_f16;
    int64_t kv_width = (int64_t)job->kv_heads * hd;
    int64_t column = (int64_t)tile->kv_head * hd;
    float *scores = attention_scratch(tile->count);
    for (int r = 0; r < tile->rows; r++) {
        const float *q = job->q + row_offset(job, tile, r);
        float *out = job->out + row_offset(job, tile, r);
        int64_t limit = row_limit(job, tile, r);
        for (int64_t p = 0; p < limit; p++) {
            int64_t block = (int64_t)tile->table[p / bs] * bs * kv_width;
            int64_t slot = p % bs;
            float dot = 0;
            for (int d = 0; d < hd; d++) dot += q[d] * kv_element(job->k_cache, f16, block + (column + d) * bs + slot);
            scores[p] = dot * job->scale;
        }
        swell_softmax(scores, limit);
        for (int d = 0; d < hd; d++) out[d] = 0;
        for (int64_t p = 0; p < limit; p++) {
            int64_t row = ((int64_t)tile->table[p / bs] * bs + p % bs) * kv_width + column;
            for (int d = 0; d < hd; d++) out[d] += scores[p] * kv_element(job->v_cache, f16, row + d);
        }
    }
}

#ifdef SWELL_HAVE_X86

// MARK: - Shared steps

/// qt[d * rows + r] = scale · q_r[d]: for each dimension the tile's query elements are adjacent,
/// at constant offsets from one pointer in the score loop.
static void transpose_queries(const attention_job *job, const attention_tile *tile, float *qt) {
    for (int r = 0; r < tile->rows; r++) {
        const float *q = job->q + row_offset(job, tile, r);
        for (int d = 0; d < job->head_dim; d++) qt[d * tile->rows + r] = q[d] * job->scale;
    }
}

// MARK: - AVX2

/// Eight K elements from `index` (one dimension, eight positions), the first n of them real:
/// the rest read as zero, and no byte past them is touched.
SWELL_SIMD static SWELL_ALWAYS_INLINE __m256 load_keys8(const void *pool, int64_t index, int n, const int f16) {
    if (n == 8) {
        if (f16) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)pool + index)));
        return _mm256_loadu_ps((const float *)pool + index);
    }
    if (f16) {
        uint16_t part[8] = {0};
        memcpy(part, (const uint16_t *)pool + index, (size_t)n * sizeof(uint16_t));
        return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)part));
    }
    __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256i mask = _mm256_cmpgt_epi32(_mm256_set1_epi32(n), lanes);
    return _mm256_maskload_ps((const float *)pool + index, mask);
}

/// scores[r * stride + p] = qt_r · K[p] for every row and p < count, eight positions at a time.
/// Stores are full vectors: a short chunk's zero lanes land on positions the next chunk
/// overwrites, or in the padding past count.
SWELL_SIMD static SWELL_ALWAYS_INLINE void scores_avx2(const attention_job *job, const attention_tile *tile,
                                                       const float *qt, float *scores, int64_t stride, const int ROWS,
                                                       const int f16) {
    int bs = job->block_size, hd = job->head_dim;
    int64_t kv_width = (int64_t)job->kv_heads * hd;
    for (int64_t start = 0, b = 0; start < tile->count; start += bs, b++) {
        int64_t keys = (int64_t)tile->table[b] * bs * kv_width + (int64_t)tile->kv_head * hd * bs;
        int64_t valid = tile->count - start < bs ? tile->count - start : bs;
        for (int64_t c = 0; c < valid; c += 8) {
            int n = valid - c < 8 ? (int)(valid - c) : 8;
            __m256 acc[TILE_ROWS];
            for (int r = 0; r < ROWS; r++) acc[r] = _mm256_setzero_ps();
            if (n == 8) {
                for (int d = 0; d < hd; d++) {
                    __m256 k = load_keys8(job->k_cache, keys + d * bs + c, 8, f16);
                    for (int r = 0; r < ROWS; r++) acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(qt[d * ROWS + r]), k, acc[r]);
                }
            } else {
                for (int d = 0; d < hd; d++) {
                    __m256 k = load_keys8(job->k_cache, keys + d * bs + c, n, f16);
                    for (int r = 0; r < ROWS; r++) acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(qt[d * ROWS + r]), k, acc[r]);
                }
            }
            for (int r = 0; r < ROWS; r++) _mm256_storeu_ps(scores + r * stride + start + c, acc[r]);
        }
    }
}

/// In place over [0, limit): x = exp(x - max); zero over [limit, count). Returns 1 / Σ exp, the
/// normalisation the weighted sum applies at the end.
SWELL_SIMD static float exponentiate_avx2(float *x, int64_t limit, int64_t count) {
    float sum = exp_shifted_sum(x, limit);
    for (int64_t i = limit; i < count; i++) x[i] = 0;
    return 1.0f / sum;
}

/// Eight V elements of the pool at `index`, widened to F32.
SWELL_SIMD static SWELL_ALWAYS_INLINE __m256 load_values8(const void *pool, int64_t index, const int f16) {
    if (f16) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)pool + index)));
    return _mm256_loadu_ps((const float *)pool + index);
}

/// out_g[column ..< column + 8 · SLAB] = inverse_g · Σ_p w_g[p] · V[p][column ...] for GROUP rows.
SWELL_SIMD static SWELL_ALWAYS_INLINE void weighted_sum_avx2(const attention_job *job, const attention_tile *tile,
                                                             const float *const *w, float *const *out,
                                                             const float *inverse, int column, const int GROUP,
                                                             const int SLAB, const int f16) {
    int bs = job->block_size;
    int64_t kv_width = (int64_t)job->kv_heads * job->head_dim;
    __m256 sum[3][4];
    for (int g = 0; g < GROUP; g++)
        for (int s = 0; s < SLAB; s++) sum[g][s] = _mm256_setzero_ps();
    for (int64_t start = 0, b = 0; start < tile->count; start += bs, b++) {
        int64_t row = (int64_t)tile->table[b] * bs * kv_width + (int64_t)tile->kv_head * job->head_dim + column;
        int64_t end = tile->count - start < bs ? tile->count : start + bs;
        for (int64_t p = start; p < end; p++, row += kv_width) {
            for (int s = 0; s < SLAB; s++) {
                __m256 v = load_values8(job->v_cache, row + 8 * s, f16);
                for (int g = 0; g < GROUP; g++) sum[g][s] = _mm256_fmadd_ps(_mm256_set1_ps(w[g][p]), v, sum[g][s]);
            }
        }
    }
    for (int g = 0; g < GROUP; g++) {
        __m256 scale = _mm256_set1_ps(inverse[g]);
        for (int s = 0; s < SLAB; s++) _mm256_storeu_ps(out[g] + column + 8 * s, _mm256_mul_ps(sum[g][s], scale));
    }
}

#define SCORES_CASE(ISA, R)                                                  \
    case R:                                                                  \
        if (job->kv_f16) scores_##ISA(job, tile, qt, scores, stride, R, 1);  \
        else scores_##ISA(job, tile, qt, scores, stride, R, 0);              \
        break;

#define SCORES_DISPATCH(ISA)                                                                                        \
    switch (tile->rows) {                                                                                           \
        SCORES_CASE(ISA, 1) SCORES_CASE(ISA, 2) SCORES_CASE(ISA, 3) SCORES_CASE(ISA, 4) SCORES_CASE(ISA, 5)        \
        SCORES_CASE(ISA, 6) SCORES_CASE(ISA, 7) SCORES_CASE(ISA, 8) SCORES_CASE(ISA, 9) SCORES_CASE(ISA, 10)       \
        SCORES_CASE(ISA, 11) SCORES_CASE(ISA, 12)                                                                  \
    }

/// A tile's working memory: its transposed queries, and its score rows padded by a vector of
/// `width` lanes (see the score loops' stores).
typedef struct {
    float *qt;
    float *scores;
    int64_t stride;
} tile_scratch;

static tile_scratch reserve_tile_scratch(const attention_job *job, const attention_tile *tile, int width) {
    // Rows kept 64-byte aligned.
    int64_t stride = (tile->count + width + 15) / 16 * 16;
    int64_t qt_floats = ((int64_t)tile->rows * job->head_dim + 15) / 16 * 16;
    int64_t score_floats = (int64_t)tile->rows * stride;
    float *base = attention_scratch(qt_floats + score_floats);
    tile_scratch s = {base, base + qt_floats, stride};
    return s;
}

SWELL_SIMD static void attend_tile_avx2(const attention_job *job, const attention_tile *tile) {
    tile_scratch s = reserve_tile_scratch(job, tile, 8);
    float *qt = s.qt, *scores = s.scores;
    int64_t stride = s.stride;
    transpose_queries(job, tile, qt);
    SCORES_DISPATCH(avx2)
    float inverse[TILE_ROWS];
    const float *w[TILE_ROWS];
    float *out[TILE_ROWS];
    for (int r = 0; r < tile->rows; r++) {
        inverse[r] = exponentiate_avx2(scores + r * stride, row_limit(job, tile, r), tile->count);
        w[r] = scores + r * stride;
        out[r] = job->out + row_offset(job, tile, r);
    }
    int hd = job->head_dim;
    // Three rows × four vectors of sums, their weights and a V vector fit the 16 registers.
    for (int r = 0; r < tile->rows; r += 3) {
        int group = tile->rows - r < 3 ? tile->rows - r : 3;
        for (int column = 0; column < hd;) {
            int slab = (hd - column) / 8 >= 4 ? 4 : 1;
#define SUMS(G, S)                                                                                  \
    if (job->kv_f16) weighted_sum_avx2(job, tile, w + r, out + r, inverse + r, column, G, S, 1);           \
    else weighted_sum_avx2(job, tile, w + r, out + r, inverse + r, column, G, S, 0)
            if (slab == 4) {
                if (group == 3) SUMS(3, 4);
                else if (group == 2) SUMS(2, 4);
                else SUMS(1, 4);
            } else {
                if (group == 3) SUMS(3, 1);
                else if (group == 2) SUMS(2, 1);
                else SUMS(1, 1);
            }
#undef SUMS
            column += 8 * slab;
        }
    }
}

// MARK: - AVX-512

/// Sixteen K elements from `index`, the first n real and the rest zero (masked, so nothing past
/// them is read).
SWELL_AVX512 static SWELL_ALWAYS_INLINE __m512 load_keys16(const void *pool, int64_t index, __mmask16 mask,
                                                           const int f16) {
    if (f16) return _mm512_cvtph_ps(_mm256_maskz_loadu_epi16(mask, (const uint16_t *)pool + index));
    return _mm512_maskz_loadu_ps(mask, (const float *)pool + index);
}

SWELL_AVX512 static SWELL_ALWAYS_INLINE void scores_avx512(const attention_job *job, const attention_tile *tile,
                                                           const float *qt, float *scores, int64_t stride,
                                                           const int ROWS, const int f16) {
    int bs = job->block_size, hd = job->head_dim;
    int64_t kv_width = (int64_t)job->kv_heads * hd;
    for (int64_t start = 0, b = 0; start < tile->count; start += bs, b++) {
        int64_t keys = (int64_t)tile->table[b] * bs * kv_width + (int64_t)tile->kv_head * hd * bs;
        int64_t valid = tile->count - start < bs ? tile->count - start : bs;
        for (int64_t c = 0; c < valid; c += 16) {
            int n = valid - c < 16 ? (int)(valid - c) : 16;
            __mmask16 mask = (__mmask16)((1u << n) - 1);
            __m512 acc[TILE_ROWS];
            for (int r = 0; r < ROWS; r++) acc[r] = _mm512_setzero_ps();
            for (int d = 0; d < hd; d++) {
                __m512 k = load_keys16(job->k_cache, keys + d * bs + c, mask, f16);
                for (int r = 0; r < ROWS; r++) acc[r] = _mm512_fmadd_ps(_mm512_set1_ps(qt[d * ROWS + r]), k, acc[r]);
            }
            for (int r = 0; r < ROWS; r++) _mm512_storeu_ps(scores + r * stride + start + c, acc[r]);
        }
    }
}

SWELL_AVX512 static float exponentiate_avx512(float *x, int64_t limit, int64_t count) {
    __m512 vmax = _mm512_set1_ps(-INFINITY);
    int64_t i = 0;
    for (; i + 16 <= limit; i += 16) vmax = _mm512_max_ps(vmax, _mm512_loadu_ps(x + i));
    __mmask16 tail = (__mmask16)((1u << (limit - i)) - 1);
    vmax = _mm512_mask_max_ps(vmax, tail, vmax, _mm512_maskz_loadu_ps(tail, x + i));
    __m512 m = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
    __m512 acc = _mm512_setzero_ps();
    for (i = 0; i + 16 <= limit; i += 16) {
        __m512 e = exp512_ps(_mm512_sub_ps(_mm512_loadu_ps(x + i), m));
        _mm512_storeu_ps(x + i, e);
        acc = _mm512_add_ps(acc, e);
    }
    if (i < limit) {
        __m512 e = _mm512_maskz_mov_ps(tail, exp512_ps(_mm512_sub_ps(_mm512_maskz_loadu_ps(tail, x + i), m)));
        _mm512_mask_storeu_ps(x + i, tail, e);
        acc = _mm512_add_ps(acc, e);
    }
    for (i = limit; i < count; i++) x[i] = 0;
    return 1.0f / _mm512_reduce_add_ps(acc);
}

/// V of kv_head at `index` in the pool: SLAB × 16 elements widened to F32.
SWELL_AVX512 static SWELL_ALWAYS_INLINE __m512 load_values16(const void *pool, int64_t index, const int f16) {
    if (f16) return _mm512_cvtph_ps(_mm256_loadu_si256((const __m256i *)((const uint16_t *)pool + index)));
    return _mm512_loadu_ps((const float *)pool + index);
}

SWELL_AVX512 static SWELL_ALWAYS_INLINE void weighted_sum_avx512(const attention_job *job, const attention_tile *tile,
                                                                 const float *const *w, float *const *out,
                                                                 const float *inverse, int column, const int GROUP,
                                                                 const int SLAB, const int f16) {
    int bs = job->block_size;
    int64_t kv_width = (int64_t)job->kv_heads * job->head_dim;
    __m512 sum[6][4];
    for (int g = 0; g < GROUP; g++)
        for (int s = 0; s < SLAB; s++) sum[g][s] = _mm512_setzero_ps();
    for (int64_t start = 0, b = 0; start < tile->count; start += bs, b++) {
        int64_t row = (int64_t)tile->table[b] * bs * kv_width + (int64_t)tile->kv_head * job->head_dim + column;
        int64_t end = tile->count - start < bs ? tile->count : start + bs;
        for (int64_t p = start; p < end; p++, row += kv_width) {
            __m512 vs[4];
            for (int s = 0; s < SLAB; s++) vs[s] = load_values16(job->v_cache, row + 16 * s, f16);
            for (int g = 0; g < GROUP; g++) {
                __m512 weight = _mm512_set1_ps(w[g][p]);
                for (int s = 0; s < SLAB; s++) sum[g][s] = _mm512_fmadd_ps(weight, vs[s], sum[g][s]);
            }
        }
    }
    for (int g = 0; g < GROUP; g++) {
        __m512 scale = _mm512_set1_ps(inverse[g]);
        for (int s = 0; s < SLAB; s++) _mm512_storeu_ps(out[g] + column + 16 * s, _mm512_mul_ps(sum[g][s], scale));
    }
}

SWELL_AVX512 static void attend_tile_avx512(const attention_job *job, const attention_tile *tile) {
    tile_scratch s = reserve_tile_scratch(job, tile, 16);
    float *qt = s.qt, *scores = s.scores;
    int64_t stride = s.stride;
    transpose_queries(job, tile, qt);
    SCORES_DISPATCH(avx512)
    float inverse[TILE_ROWS];
    const float *w[TILE_ROWS];
    float *out[TILE_ROWS];
    for (int r = 0; r < tile->rows; r++) {
        inverse[r] = exponentiate_avx512(scores + r * stride, row_limit(job, tile, r), tile->count);
        w[r] = scores + r * stride;
        out[r] = job->out + row_offset(job, tile, r);
    }
    int hd = job->head_dim;
    // Six rows × four vectors of sums and four V vectors fit the 32 registers.
    for (int r = 0; r < tile->rows; r += 6) {
        int group = tile->rows - r < 6 ? tile->rows - r : 6;
        for (int column = 0; column < hd;) {
            int slab = (hd - column) / 16 >= 4 ? 4 : 1;
#define SUMS(G, S)                                                                  \
    if (job->kv_f16) weighted_sum_avx512(job, tile, w + r, out + r, inverse + r, column, G, S, 1); \
    else weighted_sum_avx512(job, tile, w + r, out + r, inverse + r, column, G, S, 0)
#define SUMS_FOR_GROUP(S)                                                                                          \
    switch (group) {                                                                                               \
    case 6: SUMS(6, S); break;                                                                                     \
    case 5: SUMS(5, S); break;                                                                                     \
    case 4: SUMS(4, S); break;                                                                                     \
    case 3: SUMS(3, S); break;                                                                                     \
    case 2: SUMS(2, S); break;                                                                                     \
    default: SUMS(1, S); break;                                                                                    \
    }
            if (slab == 4) SUMS_FOR_GROUP(4)
            else SUMS_FOR_GROUP(1)
#undef SUMS_FOR_GROUP
#undef SUMS
            column += 16 * slab;
        }
    }
}

#undef SCORES_DISPATCH
#undef SCORES_CASE
#endif

// MARK: - Entry points

static void attention_task(void *context, int task, int thread) {
    (void)thread;
    const attention_job *job = context;
    attention_tile tile = tile_for_task(job, task);
#ifdef SWELL_HAVE_X86
    if (swell_use_simd >= SWELL_LEVEL_AVX512_VNNI && job->head_dim % 16 == 0) {
        attend_tile_avx512(job, &tile);
        return;
    }
    if (swell_use_simd && job->head_dim % 8 == 0) {
        attend_tile_avx2(job, &tile);
        return;
    }
#endif
    attend_tile_scalar(job, &tile);
}

void swell_attention_kv(swell_pool *pool, const float *q, float *out, int tokens, int heads, int kv_heads,
                        int head_dim, const void *k_cache, const void *v_cache, int kv_f16,
                        const int32_t *const *block_tables, int block_size, const int32_t *positions,
                        float scale) {
    if (tokens <= 0) return;
    int group = heads / kv_heads;
    int head_chunk = group < TILE_ROWS ? group : TILE_ROWS;
    int tile_tokens = TILE_ROWS / head_chunk;
    int *tile_start = malloc(((size_t)tokens + 1) * sizeof(int));
    int tiles = 0;
    for (int t = 0; t < tokens; t++) {
        int first = tiles ? tile_start[tiles - 1] : -1;
        bool extends = first >= 0 && t - first < tile_tokens && block_tables[t] == block_tables[first] &&
                       positions[t] == positions[first] + (t - first);
        if (!extends) tile_start[tiles++] = t;
    }
    tile_start[tiles] = tokens;
    // A lone decode token leaves threads idle with kv_heads tasks (3 for SmolLM2 on 2 threads),
    // yet splitting them into single heads was slower: each head then loads every K and V
    // element for one multiply-add.
    int chunks = (group + head_chunk - 1) / head_chunk;
    attention_job job = {q, out, heads, kv_heads, head_dim, k_cache, v_cache, kv_f16, block_tables, block_size,
                         positions, scale, tile_start, head_chunk, chunks};
    int tasks = tiles * kv_heads * chunks;
    if (pool) {
        swell_pool_run(pool, attention_task, &job, tasks);
    } else {
        for (int i = 0; i < tasks; i++) attention_task(&job, i, 0);
    }
    free(tile_start);
}

void swell_attention(swell_pool *pool, const float *q, float *out, int tokens, int heads, int kv_heads,
                     int head_dim, const float *k_cache, const float *v_cache,
                     const int32_t *const *block_tables, int block_size, const int32_t *positions,
                     float scale) {
    swell_attention_kv(pool, q, out, tokens, heads, kv_heads, head_dim, k_cache, v_cache, 0, block_tables,
                       block_size, positions, scale);
}

// MARK: - K/V rows

#ifdef SWELL_HAVE_X86
SWELL_SIMD static void store_f16_simd(uint16_t *dst, const float *src, int64_t n) {
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm256_cvtps_ph(_mm256_loadu_ps(src + i), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        _mm_storeu_si128((__m128i *)(dst + i), h);
    }
    for (; i < n; i++) dst[i] = swell_fp32_to_fp16(src[i]);
}
#endif

static void store_f16(uint16_t *dst, const float *src, int64_t n) {
#ifdef SWELL_HAVE_X86
    if (swell_use_simd) {
        store_f16_simd(dst, src, n);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++) dst[i] = swell_fp32_to_fp16(src[i]);
}

void swell_store_kv_row(void *dst, const float *src, int64_t n, int kv_f16) {
    if (kv_f16) store_f16(dst, src, n);
    else memcpy(dst, src, (size_t)n * sizeof(float));
}

void swell_store_key_row(void *keys, int64_t row, int block_size, const float *src, int64_t kv_width, int kv_f16) {
    int64_t slot = row % block_size;
    int64_t base = (row - slot) * kv_width + slot;
    if (!kv_f16) {
        float *k = keys;
        for (int64_t j = 0; j < kv_width; j++) k[base + j * block_size] = src[j];
        return;
    }
    uint16_t *k = keys;
    uint16_t halves[256];
    for (int64_t start = 0; start < kv_width; start += 256) {
        int64_t n = kv_width - start < 256 ? kv_width - start : 256;
        store_f16(halves, src + start, n);
        for (int64_t j = 0; j < n; j++) k[base + (start + j) * block_size] = halves[j];
    }
}
