// Tensor type table, half/bfloat conversions, CPU feature selection, and the reference
// (de)quantization of weight rows.
#include "internal.h"

#include <math.h>
#include <string.h>

// MARK: - CPU features

int swell_cpu_simd = 0;
_Thread_local int swell_simd_override = -1;

int swell_cpu_has_avx2(void) {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
#else
    return 0;
#endif
}

int swell_cpu_kernel_level(void) {
    if (!swell_cpu_has_avx2()) return SWELL_LEVEL_SCALAR;
#if defined(__x86_64__) || defined(__i386__)
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw")
        && __builtin_cpu_supports("avx512vnni")) {
        return SWELL_LEVEL_AVX512_VNNI;
    }
#endif
    return SWELL_LEVEL_AVX2;
}

__attribute__((constructor)) static void swell_select_kernels(void) {
    swell_cpu_simd = swell_cpu_kernel_level();
}

int swell_simd_enabled(void) { return swell_use_simd != SWELL_LEVEL_SCALAR; }

void swell_set_simd_enabled(int enabled) {
    swell_simd_override = enabled ? swell_cpu_simd : SWELL_LEVEL_SCALAR;
}

int swell_kernel_level(void) { return swell_use_simd; }

static int cpu_best_level = -1;

int swell_set_default_kernel_level(int level) {
    if (cpu_best_level < 0) cpu_best_level = swell_cpu_kernel_level();
    if (level < SWELL_LEVEL_SCALAR || level > cpu_best_level) return -1;
    swell_cpu_simd = level;
    return 0;
}

int swell_set_kernel_level(int level) {
    if (cpu_best_level < 0) cpu_best_level = swell_cpu_kernel_level();
    if (level < SWELL_LEVEL_SCALAR || level > cpu_best_level) return -1;
    swell_simd_override = level;
    return 0;
}

// MARK: - Type table

int swell_type_block_elements(int type) {
    switch (type) {
    case SWELL_TYPE_F32:
    case SWELL_TYPE_F16:
    case SWELL_TYPE_BF16:
        return 1;
    case SWELL_TYPE_Q4_0:
    case SWELL_TYPE_Q4_1:
    case SWELL_TYPE_Q8_0:
        return SWELL_QK;
    default:
        return 0;
    }
}

int swell_type_block_bytes(int type) {
    switch (type) {
    case SWELL_TYPE_F32: return 4;
    case SWELL_TYPE_F16: return 2;
    case SWELL_TYPE_BF16: return 2;
    case SWELL_TYPE_Q4_0: return (int)sizeof(swell_block_q4_0);
    case SWELL_TYPE_Q4_1: return (int)sizeof(swell_block_q4_1);
    case SWELL_TYPE_Q8_0: return (int)sizeof(swell_block_q8_0);
    default: return 0;
    }
}

int64_t swell_row_bytes(int type, int64_t n) {
    int elements = swell_type_block_elements(type);
    if (elements == 0 || n < 0 || n % elements != 0) return -1;
    return n / elements * swell_type_block_bytes(type);
}

// MARK: - Conversions

static inline float bits_to_float(uint32_t bits) {
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static inline uint32_t float_to_bits(float f) {
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    return bits;
}

float swell_fp16_to_fp32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exponent = (h >> 10) & 0x1fu;
    uint32_t mantissa = h & 0x3ffu;
    if (exponent == 0) {
        // Zero or subnormal: mantissa * 2^-24, exact in float.
        float magnitude = ldexpf((float)mantissa, -24);
        return sign ? -magnitude : magnitude;
    }
    if (exponent == 31) return bits_to_float(sign | 0x7f800000u | (mantissa << 13));
    return bits_to_float(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

uint16_t swell_fp32_to_fp16(float f) {
    uint32_t bits = float_to_bits(f);
    uint16_t sign = (uint16_t)((bits >> 16) & 0x8000u);
    uint32_t magnitude = bits & 0x7fffffffu;
    if (magnitude >= 0x7f800000u) return sign | (magnitude > 0x7f800000u ? 0x7e00 : 0x7c00);
    if (magnitude >= 0x477ff000u) return sign | 0x7c00; // rounds to infinity
    if (magnitude < 0x38800000u) {
        // Below the smallest normal half: the result is a multiple of 2^-24; rint rounds to even.
        return sign | (uint16_t)rintf(bits_to_float(magnitude) * 16777216.0f);
    }
    // Rebias the exponent (127 → 15) and round the dropped 13 bits to nearest even.
    uint32_t odd = (magnitude >> 13) & 1u;
    magnitude += 0xc8000fffu + odd;
    return sign | (uint16_t)(magnitude >> 13);
}

float swell_bf16_to_fp32(uint16_t h) { return bits_to_float((uint32_t)h << 16); }

uint16_t swell_fp32_to_bf16(float f) {
    uint32_t bits = float_to_bits(f);
    if ((bits & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((bits >> 16) | 64u); // quiet NaN
    return (uint16_t)((bits + 0x7fffu + ((bits >> 16) & 1u)) >> 16);
}

// MARK: - Dequantization

int swell_dequantize_row(int type, const void *row, float *out, int64_t n) {
    switch (type) {
    case SWELL_TYPE_F32:
        memcpy(out, row, (size_t)n * sizeof(float));
        return 0;
    case SWELL_TYPE_F16: {
        const uint16_t *h = row;
        for (int64_t i = 0; i < n; i++) out[i] = swell_fp16_to_fp32(h[i]);
        return 0;
    }
    case SWELL_TYPE_BF16: {
        const uint16_t *h = row;
        for (int64_t i = 0; i < n; i++) out[i] = swell_bf16_to_fp32(h[i]);
        return 0;
    }
    case SWELL_TYPE_Q8_0: {
        const swell_block_q8_0 *b = row;
        for (int64_t i = 0; i < n / SWELL_QK; i++) {
            float d = swell_fp16_to_fp32(b[i].d);
            for (int j = 0; j < SWELL_QK; j++) out[i * SWELL_QK + j] = d * (float)b[i].qs[j];
        }
        return 0;
    }
    case SWELL_TYPE_Q4_0: {
        const swell_block_q4_0 *b = row;
        for (int64_t i = 0; i < n / SWELL_QK; i++) {
            float d = swell_fp16_to_fp32(b[i].d);
            for (int j = 0; j < SWELL_QK / 2; j++) {
                out[i * SWELL_QK + j] = d * (float)((b[i].qs[j] & 0x0f) - 8);
                out[i * SWELL_QK + j + SWELL_QK / 2] = d * (float)((b[i].qs[j] >> 4) - 8);
            }
        }
        return 0;
    }
    case SWELL_TYPE_Q4_1: {
        const swell_block_q4_1 *b = row;
        for (int64_t i = 0; i < n / SWELL_QK; i++) {
            float d = swell_fp16_to_fp32(b[i].d);
            float m = swell_fp16_to_fp32(b[i].m);
            for (int j = 0; j < SWELL_QK / 2; j++) {
                out[i * SWELL_QK + j] = d * (float)(b[i].qs[j] & 0x0f) + m;
                out[i * SWELL_QK + j + SWELL_QK / 2] = d * (float)(b[i].qs[j] >> 4) + m;
            }
        }
        return 0;
    }
    default:
        return -1;
    }
}

// MARK: - Quantization of weights (test models)

int swell_quantize_row(int type, const float *x, void *out, int64_t n) {
    switch (type) {
    case SWELL_TYPE_F32:
        memcpy(out, x, (size_t)n * sizeof(float));
        return 0;
    case SWELL_TYPE_F16: {
        uint16_t *h = out;
        for (int64_t i = 0; i < n; i++) h[i] = swell_fp32_to_fp16(x[i]);
        return 0;
    }
    case SWELL_TYPE_BF16: {
        uint16_t *h = out;
        for (int64_t i = 0; i < n; i++) h[i] = swell_fp32_to_bf16(x[i]);
        return 0;
    }
    case SWELL_TYPE_Q8_0: {
        swell_block_q8_0 *b = out;
        for (int64_t i = 0; i < n / SWELL_QK; i++) {
            const float *v = x + i * SWELL_QK;
            float amax = 0;
            for (int j = 0; j < SWELL_QK; j++) amax = fmaxf(amax, fabsf(v[j]));
            float d = amax / 127.0f;
            float id = d != 0 ? 1.0f / d : 0.0f;
            b[i].d = swell_fp32_to_fp16(d);
            for (int j = 0; j < SWELL_QK; j++) b[i].qs[j] = (int8_t)roundf(v[j] * id);
        }
        return 0;
    }
    case SWELL_TYPE_Q4_0: {
        swell_block_q4_0 *b = out;
        for (int64_t i = 0; i < n / SWELL_QK; i++) {
            const float *v = x + i * SWELL_QK;
            // The element of largest magnitude maps to -8 so the full signed range is used.
            float extreme = 0;
            for (int j = 0; j < SWELL_QK; j++) if (fabsf(v[j]) > fabsf(extreme)) extreme = v[j];
            float d = extreme / -8.0f;
            float id = d != 0 ? 1.0f / d : 0.0f;
            b[i].d = swell_fp32_to_fp16(d);
            for (int j = 0; j < SWELL_QK / 2; j++) {
                int lo = (int)fminf(15.0f, floorf(v[j] * id + 8.5f));
                int hi = (int)fminf(15.0f, floorf(v[j + SWELL_QK / 2] * id + 8.5f));
                lo = lo < 0 ? 0 : lo;
                hi = hi < 0 ? 0 : hi;
                b[i].qs[j] = (uint8_t)(lo | (hi << 4));
            }
        }
        return 0;
    }
    case SWELL_TYPE_Q4_1: {
        swell_block_q4_1 *b = out;
        for (int64_t i = 0; i < n / SWELL_QK; i++) {
            const float *v = x + i * SWELL_QK;
            float lo = v[0], hi = v[0];
            for (int j = 1; j < SWELL_QK; j++) {
                lo = fminf(lo, v[j]);
                hi = fmaxf(hi, v[j]);
            }
            float d = (hi - lo) / 15.0f;
            float id = d != 0 ? 1.0f / d : 0.0f;
            b[i].d = swell_fp32_to_fp16(d);
            b[i].m = swell_fp32_to_fp16(lo);
            for (int j = 0; j < SWELL_QK / 2; j++) {
                int q0 = (int)fminf(15.0f, floorf((v[j] - lo) * id + 0.5f));
                int q1 = (int)fminf(15.0f, floorf((v[j + SWELL_QK / 2] - lo) * id + 0.5f));
                b[i].qs[j] = (uint8_t)(q0 | (q1 << 4));
            }
        }
        return 0;
    }
    default:
        return -1;
    }
}
