// CSwellKernels — the numeric hot loops of the Swell inference engine.
//
// Every kernel exists twice: a portable scalar version and an AVX2/FMA/F16C version compiled with
// __attribute__((target)) and chosen at run time. `swell_set_simd_enabled(0)` forces the scalar
// path so tests can compare the two.
#ifndef CSWELL_KERNELS_H
#define CSWELL_KERNELS_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

// MARK: - Tensor types (numbering follows ggml's on-disk enum)

typedef enum {
    SWELL_TYPE_F32 = 0,
    SWELL_TYPE_F16 = 1,
    SWELL_TYPE_Q4_0 = 2,
    SWELL_TYPE_Q4_1 = 3,
    SWELL_TYPE_Q8_0 = 8,
    SWELL_TYPE_BF16 = 30,
} swell_type;

/// Elements per block: 32 for the quantized types, 1 for the float types.
int swell_type_block_elements(int type);
/// Bytes per block, or 0 when the type is not supported.
int swell_type_block_bytes(int type);

// MARK: - CPU features

/// 1 when the CPU has AVX2, FMA and F16C.
int swell_cpu_has_avx2(void);
/// 1 when the SIMD path is in use on the calling thread (CPU support and not disabled).
int swell_simd_enabled(void);
/// Forces the scalar path (0) or re-enables SIMD when the CPU supports it (1) for the calling
/// thread and the pool work it starts.
void swell_set_simd_enabled(int enabled);

/// Kernel levels: 0 scalar, 1 AVX2/FMA/F16C (the portable default), 2 AVX2 plus AVX-512 VNNI
/// integer dot products.
/// The best level this CPU supports.
int swell_cpu_kernel_level(void);
/// The level in use on the calling thread.
int swell_kernel_level(void);
/// Selects a level for the calling thread and the pool work it starts; returns -1 (and changes
/// nothing) when the CPU does not support it.
int swell_set_kernel_level(int level);
/// Sets the level of every thread that has not selected its own (at start-up, before kernels
/// run); -1 when the CPU does not support it.
int swell_set_default_kernel_level(int level);

// MARK: - Scalar conversions

float swell_fp16_to_fp32(uint16_t h);
uint16_t swell_fp32_to_fp16(float f);
float swell_bf16_to_fp32(uint16_t h);
uint16_t swell_fp32_to_bf16(float f);

// MARK: - Quantized activations

/// A block of 32 activations quantized to int8: value = d * qs[i]; s = d * sum(qs) lets the
/// Q4_1 dot product account for the weight block's minimum without a second pass.
typedef struct {
    float d;
    float s;
    int8_t qs[32];
} swell_q8_block;

/// Quantizes `n` floats (n a multiple of 32) into n/32 blocks.
void swell_quantize_q8(const float *x, swell_q8_block *out, int64_t n);

// MARK: - (De)quantization of weight rows

/// Dequantizes `n` elements of a row of `type` (n a multiple of the block size).
/// Returns 0, or -1 for an unsupported type.
int swell_dequantize_row(int type, const void *row, float *out, int64_t n);

/// Quantizes `n` floats into `type` blocks, as the format defines (round to nearest). Used by the
/// GGUF writer for test models. Returns 0, or -1 for an unsupported type.
int swell_quantize_row(int type, const float *x, void *out, int64_t n);

/// Bytes needed for one row of `n` elements of `type`, or -1 when `n` does not fill whole blocks
/// or the type is unsupported.
int64_t swell_row_bytes(int type, int64_t n);

// MARK: - Dot products (single row × single activation vector)

/// Dot product of a weight row of `type` with activations: Q4_0/Q4_1/Q8_0 rows take quantized
/// activations (`xq`), float rows take `xf`. `n` is the row length.
float swell_vec_dot(int type, const void *row, const float *xf, const swell_q8_block *xq, int64_t n);

// MARK: - Worker pool

typedef struct swell_pool swell_pool;
typedef void (*swell_task_fn)(void *context, int task, int thread);

/// Starts `threads - 1` workers (the caller is thread 0). With `pin`, worker i is bound to CPU i;
/// the calling thread is left alone (it may be a shared thread, e.g. of Swift's concurrency
/// pool), and the scheduler keeps it off the CPUs the spinning workers occupy.
swell_pool *swell_pool_create(int threads, int pin);
void swell_pool_destroy(swell_pool *pool);
int swell_pool_threads(const swell_pool *pool);
/// Runs tasks 0..<tasks on the pool and the calling thread; returns when all are done.
void swell_pool_run(swell_pool *pool, swell_task_fn fn, void *context, int tasks);

// MARK: - Matrix multiplication

/// out[t * out_stride + r] = dot(W[r], x[t]) for r in 0..<rows, t in 0..<tokens.
/// W has `rows` rows of `k` elements of `type`, `row_bytes` apart. Quantized types read `xq`
/// (tokens × k/32 blocks), float types read `xf` (tokens × k floats). Work is split in row chunks
/// across the pool; each chunk walks several tokens per weight block it loads.
void swell_matmul(swell_pool *pool, int type, const void *weights, int64_t row_bytes,
                  int64_t rows, int64_t k, const float *xf, const swell_q8_block *xq,
                  int64_t tokens, float *out, int64_t out_stride);

/// One weight matrix of a `swell_matmul_group`: `rows` rows of `type`, `row_bytes` apart, writing
/// out[t * out_stride + r].
typedef struct {
    int type;
    const void *weights;
    int64_t row_bytes;
    int64_t rows;
    float *out;
    int64_t out_stride;
} swell_matmul_spec;

/// Several matrices against the same activations (Q, K and V; gate and up) in one parallel
/// region: one barrier instead of one per matrix, and the activation layouts prepared once.
void swell_matmul_group(swell_pool *pool, const swell_matmul_spec *specs, int count, int64_t k, const float *xf,
                        const swell_q8_block *xq, int64_t tokens);

// MARK: - F32 vector kernels

float swell_dot_f32(const float *a, const float *b, int64_t n);
/// out = x / rms(x) * weight, for `rows` rows of `n`.
void swell_rmsnorm(const float *x, const float *weight, float *out, int64_t n, int64_t rows, float eps);
/// In place: x = softmax(x).
void swell_softmax(float *x, int64_t n);
/// out = silu(gate) * up.
void swell_swiglu(const float *gate, const float *up, float *out, int64_t n);
/// x += y.
void swell_add(float *x, const float *y, int64_t n);
/// Rotates adjacent pairs (x[2i], x[2i+1]) of every head by pos * base^(-2i/dims) ("normal"
/// rope mode). `x` holds `heads` heads of `head_dim` floats.
void swell_rope(float *x, int heads, int head_dim, int dims, int32_t position, float freq_base);

// MARK: - Attention over a block-paged KV cache

/// Attention for a batch of tokens that may belong to different sequences.
/// The K/V pools hold blocks of block_size positions; token t's sequence keeps position p in
/// block table[p / block_size] (table = block_tables[t]) at slot p % block_size. With
/// kv_width = kv_heads * head_dim, V element j of (block b, slot i) is at
/// (b * block_size + i) * kv_width + j, and K is transposed within the block: element j of
/// (b, i) at b * block_size * kv_width + j * block_size + i (write K with swell_store_key_row).
/// Token t attends to positions 0...positions[t] of its sequence. q and out are
/// tokens × (heads * head_dim). Consecutive tokens of a sequence are computed together, split
/// across the pool by KV head.
void swell_attention(swell_pool *pool, const float *q, float *out, int tokens, int heads, int kv_heads,
                     int head_dim, const float *k_cache, const float *v_cache,
                     const int32_t *const *block_tables, int block_size, const int32_t *positions,
                     float scale);

/// `swell_attention` over K/V pools stored as F32 (kv_f16 = 0) or F16 (kv_f16 = 1); F16 halves
/// the cache's memory and bandwidth, and rows are widened to F32 as they are read.
void swell_attention_kv(swell_pool *pool, const float *q, float *out, int tokens, int heads, int kv_heads,
                        int head_dim, const void *k_cache, const void *v_cache, int kv_f16,
                        const int32_t *const *block_tables, int block_size, const int32_t *positions,
                        float scale);

/// Writes n floats into a pool at dst, converting to F16 when kv_f16 is 1: a V row.
void swell_store_kv_row(void *dst, const float *src, int64_t n, int kv_f16);

/// Writes the kv_width floats of one K row into the K pool `keys` at pool row `row`
/// (block row / block_size, slot row % block_size) in the transposed layout swell_attention reads.
void swell_store_key_row(void *keys, int64_t row, int block_size, const float *src, int64_t kv_width, int kv_f16);

#ifdef __cplusplus
}
#endif

#endif
