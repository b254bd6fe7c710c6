// F32 kernels for norms, activations, rotary embeddings and attention.
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#define SWELL_HAVE_X86 1
#endif

// MARK: - exp

#ifdef SWELL_HAVE_X86
/// exp(x) for 8 lanes: 2^(x·log2 e) split into an integer power (exponent bits) and a degree-6
/// polynomial for 2^f on f ∈ [-0.5, 0.5]; relative error ≈ 2e-7, underflows to 0 below -87.
SWELL_SIMD static inline __m256 exp_ps(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
    x = _mm256_min_ps(x, _mm256_set1_ps(88.0f));
    __m256 t = _mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f));
    __m256 n = _mm256_round_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 f = _mm256_sub_ps(t, n);
    // 2^f = e^(f ln2): Taylor coefficients of e^y with y = f·ln2.
    __m256 y = _mm256_mul_ps(f, _mm256_set1_ps(0.693147180559945f));
    __m256 p = _mm256_set1_ps(1.0f / 720.0f);
    p = _mm256_fmadd_ps(p, y, _mm256_set1_ps(1.0f / 120.0f));
    p = _mm256_fmadd_ps(p, y, _mm256_set1_ps(1.0f / 24.0f));
    p = _mm256_fmadd_ps(p, y, _mm256_set1_ps(1.0f / 6.0f));
    p = _mm256_fmadd_ps(p, y, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, y, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, y, _mm256_set1_ps(1.0f));
    __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

SWELL_SIMD static inline float hsum(__m256 v) {
    __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
    return _mm_cvtss_f32(lo);
}

SWELL_SIMD static inline float hmax(__m256 v) {
    __m128 lo = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    lo = _mm_max_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_max_ss(lo, _mm_movehdup_ps(lo));
    return _mm_cvtss_f32(lo);
}
#endif

// MARK: - RMSNorm

#ifdef SWELL_HAVE_X86
SWELL_SIMD static void rmsnorm_simd(const float *x, const float *weight, float *out, int64_t n, float eps) {
    __m256 acc = _mm256_setzero_ps();
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        acc = _mm256_fmadd_ps(v, v, acc);
    }
    float sum = hsum(acc);
    for (; i < n; i++) sum += x[i] * x[i];
    float scale = 1.0f / sqrtf(sum / (float)n + eps);
    __m256 s = _mm256_set1_ps(scale);
    for (i = 0; i + 8 <= n; i += 8) {
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(x + i), s), _mm256_loadu_ps(weight + i)));
    }
    for (; i < n; i++) out[i] = x[i] * scale * weight[i];
}
#endif

void swell_rmsnorm(const float *x, const float *weight, float *out, int64_t n, int64_t rows, float eps) {
    for (int64_t r = 0; r < rows; r++) {
        const float *xr = x + r * n;
        float *outr = out + r * n;
#ifdef SWELL_HAVE_X86
        if (swell_use_simd) {
            rmsnorm_simd(xr, weight, outr, n, eps);
            continue;
        }
#endif
        float sum = 0;
        for (int64_t i = 0; i < n; i++) sum += xr[i] * xr[i];
        float scale = 1.0f / sqrtf(sum / (float)n + eps);
        for (int64_t i = 0; i < n; i++) outr[i] = xr[i] * scale * weight[i];
    }
}

// MARK: - Softmax

#ifdef SWELL_HAVE_X86
SWELL_SIMD static void softmax_simd(float *x, int64_t n) {
    __m256 vmax = _mm256_set1_ps(-INFINITY);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) vmax = _mm256_max_ps(vmax, _mm256_loadu_ps(x + i));
    float maximum = hmax(vmax);
    for (; i < n; i++) maximum = fmaxf(maximum, x[i]);
    __m256 m = _mm256_set1_ps(maximum);
    __m256 acc = _mm256_setzero_ps();
    for (i = 0; i + 8 <= n; i += 8) {
        __m256 e = exp_ps(_mm256_sub_ps(_mm256_loadu_ps(x + i), m));
        _mm256_storeu_ps(x + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    float sum = hsum(acc);
    for (; i < n; i++) {
        x[i] = expf(x[i] - maximum);
        sum += x[i];
    }
    __m256 inv = _mm256_set1_ps(1.0f / sum);
    for (i = 0; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
    for (; i < n; i++) x[i] /= sum;
}
#endif

void swell_softmax(float *x, int64_t n) {
#ifdef SWELL_HAVE_X86
    if (swell_use_simd) {
        softmax_simd(x, n);
        return;
    }
#endif
    float maximum = -INFINITY;
    for (int64_t i = 0; i < n; i++) maximum = fmaxf(maximum, x[i]);
    float sum = 0;
    for (int64_t i = 0; i < n; i++) {
        x[i] = expf(x[i] - maximum);
        sum += x[i];
    }
    for (int64_t i = 0; i < n; i++) x[i] /= sum;
}

// MARK: - SwiGLU and residual add

#ifdef SWELL_HAVE_X86
SWELL_SIMD static void swiglu_simd(const float *gate, const float *up, float *out, int64_t n) {
    const __m256 one = _mm256_set1_ps(1.0f);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 g = _mm256_loadu_ps(gate + i);
        __m256 sigmoid = _mm256_div_ps(one, _mm256_add_ps(one, exp_ps(_mm256_sub_ps(_mm256_setzero_ps(), g))));
        _mm256_storeu_ps(out + i, _mm256_mul_ps(_mm256_mul_ps(g, sigmoid), _mm256_loadu_ps(up + i)));
    }
    for (; i < n; i++) out[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}
#endif

void swell_swiglu(const float *gate, const float *up, float *out, int64_t n) {
#ifdef SWELL_HAVE_X86
    if (swell_use_simd) {
        swiglu_simd(gate, up, out, n);
        return;
    }
#endif
    for (int64_t i = 0; i < n; i++) out[i] = gate[i] / (1.0f + expf(-gate[i])) * up[i];
}

void swell_add(float *x, const float *y, int64_t n) {
    for (int64_t i = 0; i < n; i++) x[i] += y[i];
}

// MARK: - RoPE

void swell_rope(float *x, int heads, int head_dim, int dims, int32_t position, float freq_base) {
    // theta_i = position · base^(-2i/dims); computed once per call, shared by all heads.
    float cosines[512], sines[512];
    int pairs = dims / 2;
    if (pairs > 512) pairs = 512;
    float step = powf(freq_base, -2.0f / (float)dims);
    float theta = (float)position;
    for (int i = 0; i < pairs; i++) {
        cosines[i] = cosf(theta);
        sines[i] = sinf(theta);
        theta *= step;
    }
    for (int h = 0; h < heads; h++) {
        float *v = x + (int64_t)h * head_dim;
        for (int i = 0; i < pairs; i++) {
            float a = v[2 * i], b = v[2 * i + 1];
            v[2 * i] = a * cosines[i] - b * sines[i];
            v[2 * i + 1] = a * sines[i] + b * cosines[i];
        }
    }
}

// MARK: - Attention

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
} attention_job;

/// Element offsets of rows 0..<count of a sequence in a K/V pool (row p at
/// table[p / block_size] * block_size + p % block_size), walked block by block: a division per
/// position, twice per position for every (token, head), was most of the attention's time.
static void cache_row_offsets(const int32_t *table, int block_size, int64_t count, int64_t kv_width, int64_t *offsets) {
    int64_t p = 0;
    for (int64_t block = 0; p < count; block++) {
        int64_t base = (int64_t)table[block] * block_size * kv_width;
        for (int i = 0; i < block_size && p < count; i++, p++) offsets[p] = base + i * kv_width;
    }
}

/// Element `index` of a K/V pool stored as F32 or F16.
static inline float kv_element(const void *pool, int f16, int64_t index) {
    return f16 ? swell_fp16_to_fp32(((const uint16_t *)pool)[index]) : ((const float *)pool)[index];
}

static _Thread_local float *score_buffer = NULL;
static _Thread_local int64_t *offset_buffer = NULL;
static _Thread_local int64_t score_capacity = 0;
static _Thread_local int64_t offset_capacity = 0;

void swell_release_thread_scratch(void) {
    free(score_buffer);
    free(offset_buffer);
    score_buffer = NULL;
    offset_buffer = NULL;
    score_capacity = 0;
    offset_capacity = 0;
}

/// This thread's scratch for `scores` scores and `offsets` row offsets, grown as needed.
static void reserve_attention_scratch(int64_t scores, int64_t offsets) {
    if (score_capacity < scores) {
        free(score_buffer);
        score_capacity = scores < 1024 ? 1024 : scores * 2;
        score_buffer = malloc((size_t)score_capacity * sizeof(float));
    }
    if (offset_capacity < offsets) {
        free(offset_buffer);
        offset_capacity = offsets < 1024 ? 1024 : offsets * 2;
        offset_buffer = malloc((size_t)offset_capacity * sizeof(int64_t));
    }
}

#ifdef SWELL_HAVE_X86
/// Eight K/V elements starting at `index`, widened to F32 when the pool is F16. With `f16` a
/// constant at every call site the branch disappears.
SWELL_SIMD static __attribute__((always_inline)) inline __m256 load_kv8(const void *pool, int64_t index, const int f16) {
    if (f16) return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)((const uint16_t *)pool + index)));
    return _mm256_loadu_ps((const float *)pool + index);
}

// Attention of GROUP (1 to 4) query heads that share a KV head: they go through its cached rows
// together, so every K and V element is loaded and widened once per group instead of once per
// query head. Per position that is one load for GROUP multiply-adds.

/// scores[g * count + p] = scale · q_g · K[p] for the group's heads g (q_g at q + g * head_dim),
/// four positions at a time with their partial sums reduced together.
SWELL_SIMD static __attribute__((always_inline)) inline void group_scores_simd(
    const attention_job *job, const float *q, const int64_t *rows, int64_t count, int64_t head_offset, float *scores,
    const int GROUP, const int f16) {
    int head_dim = job->head_dim;
    int lanes = head_dim / 8;
    int64_t p = 0;
    for (; p + 4 <= count; p += 4) {
        __m256 acc[4][4];
        for (int g = 0; g < GROUP; g++)
            for (int i = 0; i < 4; i++) acc[g][i] = _mm256_setzero_ps();
        for (int j = 0; j < lanes; j++) {
            __m256 qj[4];
            for (int g = 0; g < GROUP; g++) qj[g] = _mm256_loadu_ps(q + g * head_dim + 8 * j);
            for (int i = 0; i < 4; i++) {
                __m256 k = load_kv8(job->k_cache, rows[p + i] + head_offset + 8 * j, f16);
                for (int g = 0; g < GROUP; g++) acc[g][i] = _mm256_fmadd_ps(qj[g], k, acc[g][i]);
            }
        }
        for (int g = 0; g < GROUP; g++) {
            // [a0 a1 a2 a3 | a0' a1' a2' a3']: the low and high halves of the four positions' sums.
            __m256 h = _mm256_hadd_ps(_mm256_hadd_ps(acc[g][0], acc[g][1]), _mm256_hadd_ps(acc[g][2], acc[g][3]));
            __m128 sums = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
            _mm_storeu_ps(scores + g * count + p, _mm_mul_ps(sums, _mm_set1_ps(job->scale)));
        }
    }
    for (; p < count; p++) {
        for (int g = 0; g < GROUP; g++) {
            __m256 acc = _mm256_setzero_ps();
            for (int j = 0; j < lanes; j++) {
                acc = _mm256_fmadd_ps(_mm256_loadu_ps(q + g * head_dim + 8 * j),
                                      load_kv8(job->k_cache, rows[p] + head_offset + 8 * j, f16), acc);
            }
            scores[g * count + p] = hsum(acc) * job->scale;
        }
    }
}

/// out_g[columns] = Σ_p w_g[p] · V[p][columns] for SLAB × 8 columns from `offset`, all heads of
/// the group at once (out_g at out + g * head_dim, w_g at weights + g * count).
SWELL_SIMD static __attribute__((always_inline)) inline void group_weighted_sum_simd(
    const attention_job *job, int64_t offset, const int64_t *rows, const float *weights, int64_t count, float *out,
    const int GROUP, const int SLAB, const int f16) {
    __m256 sum[4][4];
    for (int g = 0; g < GROUP; g++)
        for (int s = 0; s < SLAB; s++) sum[g][s] = _mm256_setzero_ps();
    for (int64_t p = 0; p < count; p++) {
        __m256 w[4];
        for (int g = 0; g < GROUP; g++) w[g] = _mm256_set1_ps(weights[g * count + p]);
        for (int s = 0; s < SLAB; s++) {
            __m256 v = load_kv8(job->v_cache, rows[p] + offset + 8 * s, f16);
            for (int g = 0; g < GROUP; g++) sum[g][s] = _mm256_fmadd_ps(w[g], v, sum[g][s]);
        }
    }
    for (int g = 0; g < GROUP; g++)
        for (int s = 0; s < SLAB; s++) _mm256_storeu_ps(out + g * job->head_dim + 8 * s, sum[g][s]);
}

/// Attention of GROUP consecutive query heads (q and out at the first) sharing `kv_head`;
/// `scores` holds GROUP × count floats.
SWELL_SIMD static __attribute__((always_inline)) inline void attend_group_simd(
    const attention_job *job, const float *q, float *out, const int64_t *rows, int64_t count, int kv_head,
    float *scores, const int GROUP, const int f16) {
    int lanes = job->head_dim / 8;
    int64_t head_offset = (int64_t)kv_head * job->head_dim;
    group_scores_simd(job, q, rows, count, head_offset, scores, GROUP, f16);
    for (int g = 0; g < GROUP; g++) softmax_simd(scores + g * count, count);
    // GROUP × SLAB sums, GROUP weights and one V vector fit the 16 registers.
    const int SLAB = GROUP <= 3 ? 4 : 2;
    int column = 0;
    for (; column + SLAB <= lanes; column += SLAB) {
        group_weighted_sum_simd(job, head_offset + 8 * column, rows, scores, count, out + 8 * column, GROUP, SLAB, f16);
    }
    for (; column < lanes; column++) {
        group_weighted_sum_simd(job, head_offset + 8 * column, rows, scores, count, out + 8 * column, GROUP, 1, f16);
    }
}

#define SWELL_ATTEND_GROUP(G)                                                                                     \
    SWELL_SIMD static void attend_group##G##_f32(const attention_job *job, const float *q, float *out,          \
                                                 const int64_t *rows, int64_t count, int kv_head, float *scores) { \
        attend_group_simd(job, q, out, rows, count, kv_head, scores, G, 0);                                       \
    }                                                                                                             \
    SWELL_SIMD static void attend_group##G##_f16(const attention_job *job, const float *q, float *out,          \
                                                 const int64_t *rows, int64_t count, int kv_head, float *scores) { \
        attend_group_simd(job, q, out, rows, count, kv_head, scores, G, 1);                                       \
    }
SWELL_ATTEND_GROUP(1)
SWELL_ATTEND_GROUP(2)
SWELL_ATTEND_GROUP(3)
SWELL_ATTEND_GROUP(4)
#undef SWELL_ATTEND_GROUP

typedef void (*attend_kernel)(const attention_job *, const float *, float *, const int64_t *, int64_t, int, float *);

/// The attention kernel for a group of 1 to 4 query heads, by [kv_f16][group size].
static const attend_kernel attend_kernels[2][5] = {
    {NULL, attend_group1_f32, attend_group2_f32, attend_group3_f32, attend_group4_f32},
    {NULL, attend_group1_f16, attend_group2_f16, attend_group3_f16, attend_group4_f16},
};

/// One (token, KV head): its query heads in groups of up to four.
static void attention_group_task(void *context, int task, int thread) {
    (void)thread;
    const attention_job *job = context;
    int token = task / job->kv_heads;
    int kv_head = task % job->kv_heads;
    int group = job->heads / job->kv_heads;
    int head_dim = job->head_dim;
    int64_t count = (int64_t)job->positions[token] + 1;
    reserve_attention_scratch((group < 4 ? group : 4) * count, count);
    int64_t *rows = offset_buffer;
    cache_row_offsets(job->block_tables[token], job->block_size, count, (int64_t)job->kv_heads * head_dim, rows);
    for (int first = 0; first < group; first += 4) {
        int size = group - first < 4 ? group - first : 4;
        int64_t head = (int64_t)kv_head * group + first;
        const float *q = job->q + ((int64_t)token * job->heads + head) * head_dim;
        float *out = job->out + ((int64_t)token * job->heads + head) * head_dim;
        attend_kernels[job->kv_f16 != 0][size](job, q, out, rows, count, kv_head, score_buffer);
    }
}
#endif

static void attention_task(void *context, int task, int thread) {
    (void)thread;
    const attention_job *job = context;
    int token = task / job->heads;
    int head = task % job->heads;
    int kv_head = head / (job->heads / job->kv_heads);
    int head_dim = job->head_dim;
    int64_t kv_width = (int64_t)job->kv_heads * head_dim;
    int64_t count = (int64_t)job->positions[token] + 1;
    const int32_t *table = job->block_tables[token];
    const float *q = job->q + ((int64_t)token * job->heads + head) * head_dim;
    float *out = job->out + ((int64_t)token * job->heads + head) * head_dim;

    reserve_attention_scratch(count, count);
    float *scores = score_buffer;
    int64_t *rows = offset_buffer;
    cache_row_offsets(table, job->block_size, count, kv_width, rows);
#ifdef SWELL_HAVE_X86
    if (swell_use_simd && head_dim % 8 == 0) {
        attend_kernels[job->kv_f16 != 0][1](job, q, out, rows, count, kv_head, scores);
        return;
    }
#endif
    int f16 = job->kv_f16;
    for (int64_t p = 0; p < count; p++) {
        int64_t k = rows[p] + (int64_t)kv_head * head_dim;
        float dot = 0;
        for (int i = 0; i < head_dim; i++) dot += q[i] * kv_element(job->k_cache, f16, k + i);
        scores[p] = dot * job->scale;
    }
    swell_softmax(scores, count);
    for (int i = 0; i < head_dim; i++) out[i] = 0;
    for (int64_t p = 0; p < count; p++) {
        int64_t v = rows[p] + (int64_t)kv_head * head_dim;
        float w = scores[p];
        for (int i = 0; i < head_dim; i++) out[i] += w * kv_element(job->v_cache, f16, v + i);
    }
}

void swell_attention_kv(swell_pool *pool, const float *q, float *out, int tokens, int heads, int kv_heads,
                        int head_dim, const void *k_cache, const void *v_cache, int kv_f16,
                        const int32_t *const *block_tables, int block_size, const int32_t *positions,
                        float scale) {
    attention_job job = {q, out, heads, kv_heads, head_dim, k_cache, v_cache, kv_f16, block_tables, block_size,
                         positions, scale};
    void (*task)(void *, int, int) = attention_task;
    int tasks = tokens * heads;
#ifdef SWELL_HAVE_X86
    // Grouped when there are enough (token, KV head) pairs to keep every thread busy: a single
    // decode token has only kv_heads of them.
    if (swell_use_simd && head_dim % 8 == 0 && heads > kv_heads && heads % kv_heads == 0 && tokens >= 4) {
        task = attention_group_task;
        tasks = tokens * kv_heads;
    }
#endif
    if (pool) {
        swell_pool_run(pool, task, &job, tasks);
    } else {
        for (int i = 0; i < tasks; i++) task(&job, i, 0);
    }
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

void swell_store_kv_row(void *dst, const float *src, int64_t n, int kv_f16) {
    if (!kv_f16) {
        memcpy(dst, src, (size_t)n * sizeof(float));
        return;
    }
#ifdef SWELL_HAVE_X86
    if (swell_use_simd) {
        store_f16_simd(dst, src, n);
        return;
    }
#endif
    uint16_t *h = dst;
    for (int64_t i = 0; i < n; i++) h[i] = swell_fp32_to_fp16(src[i]);
}
