// Declarations shared between the kernel translation units; not part of the public header.
#ifndef CSWELL_KERNELS_INTERNAL_H
#define CSWELL_KERNELS_INTERNAL_H

#include "CSwellKernels.h"

#define SWELL_QK 32
#define SWELL_SIMD __attribute__((target("avx2,fma,f16c")))
/// AVX2 plus AVX-512 F/VL/BW/VNNI: the integer kernels use vpdpbusd on 256-bit vectors, the float
/// matmul 512-bit vectors.
#define SWELL_AVX512 __attribute__((target("avx2,fma,f16c,avx512f,avx512vl,avx512bw,avx512vnni")))
/// For kernels written once with constant parameters (tile sizes, storage types) and
/// instantiated per value: inlining each call site turns them into separate register-tiled loops.
#define SWELL_ALWAYS_INLINE __attribute__((always_inline)) inline

/// How far ahead of the row it is reading a one-token matmul asks for weights. Decode streams
/// every weight once per token from memory, and one core's hardware prefetchers keep too few
/// lines in flight for that: prefetching 4 KB ahead made F16 decode of a 230 MB matrix 1.4×
/// faster on 2 threads (about 1.3× for the quantized types).
#define SWELL_DECODE_PREFETCH_BYTES 4096

/// Asks for the cache lines of [start, start + bytes) ahead of their use. A hint: addresses past
/// the end of the weights are harmless.
static inline __attribute__((always_inline)) void swell_prefetch_span(const uint8_t *start, int64_t bytes) {
    for (int64_t offset = 0; offset < bytes; offset += 64) __builtin_prefetch(start + offset, 0, 3);
    __builtin_prefetch(start + bytes - 1, 0, 3);
}

/// Kernel levels, in the order of `swell_kernel_level`: each includes the ones below.
#define SWELL_LEVEL_SCALAR 0
#define SWELL_LEVEL_AVX2 1
#define SWELL_LEVEL_AVX512_VNNI 2

// On-disk block layouts, as ggml defines them. Scales are IEEE half precision.
typedef struct {
    uint16_t d;
    int8_t qs[SWELL_QK];
} swell_block_q8_0;

typedef struct {
    uint16_t d;
    uint8_t qs[SWELL_QK / 2]; // element i in the low nibble of qs[i], element i+16 in the high one
} swell_block_q4_0;

typedef struct {
    uint16_t d;
    uint16_t m;
    uint8_t qs[SWELL_QK / 2];
} swell_block_q4_1;

_Static_assert(sizeof(swell_block_q8_0) == 34, "q8_0 block is 34 bytes");
_Static_assert(sizeof(swell_block_q4_0) == 18, "q4_0 block is 18 bytes");
_Static_assert(sizeof(swell_block_q4_1) == 20, "q4_1 block is 20 bytes");

/// The best kernel level the CPU supports, detected once at load time.
extern int swell_cpu_simd;
/// Per-thread choice: -1 follows the CPU, else a level (at most the CPU's). Pool workers take
/// the value of the thread that started the parallel region, so a choice covers the whole
/// computation. `swell_use_simd` is the level in force: non-zero means SIMD.
extern _Thread_local int swell_simd_override;
#define swell_use_simd (swell_simd_override < 0 ? swell_cpu_simd : swell_simd_override)

float swell_vec_dot_scalar(int type, const void *row, const float *xf, const swell_q8_block *xq, int64_t n);
float swell_vec_dot_simd(int type, const void *row, const float *xf, const swell_q8_block *xq, int64_t n);

/// Float-weight (F32/F16/BF16) matmul of `rows` rows against `tokens` float activation vectors
/// with the register-tiled kernels of `level`: out[t * out_stride + r]. Returns 0 when no tiled
/// kernel applies (scalar level, another type, or k not a multiple of the vector width).
int swell_float_matmul_rows(int level, int type, const uint8_t *weights, int64_t row_bytes, int64_t rows, int64_t k,
                            const float *x, int64_t tokens, float *out, int64_t out_stride);

/// A buffer of at least `bytes` owned by the pool, grown as needed and reused by every parallel
/// region (one thread at a time runs work on a pool). With no pool, a buffer of the calling
/// thread's. NULL when out of memory.
void *swell_pool_scratch(swell_pool *pool, size_t bytes);

/// Frees the calling thread's attention score buffer (pool workers call it when they exit).
void swell_release_thread_scratch(void);

#endif
