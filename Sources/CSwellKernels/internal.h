// Declarations shared between the kernel translation units; not part of the public header.
#ifndef CSWELL_KERNELS_INTERNAL_H
#define CSWELL_KERNELS_INTERNAL_H

#include "CSwellKernels.h"

#define SWELL_QK 32
#define SWELL_SIMD __attribute__((target("avx2,fma,f16c")))

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

/// Whether the CPU has AVX2/FMA/F16C, detected once at load time.
extern int swell_cpu_simd;
/// Per-thread choice: -1 follows the CPU, 0 forces scalar, 1 SIMD. Pool workers take the value
/// of the thread that started the parallel region, so a choice covers the whole computation.
extern _Thread_local int swell_simd_override;
#define swell_use_simd (swell_simd_override < 0 ? swell_cpu_simd : swell_simd_override)

float swell_vec_dot_scalar(int type, const void *row, const float *xf, const swell_q8_block *xq, int64_t n);
float swell_vec_dot_simd(int type, const void *row, const float *xf, const swell_q8_block *xq, int64_t n);

/// Frees the calling thread's attention score buffer (pool workers call it when they exit).
void swell_release_thread_scratch(void);

#endif
