// F32 kernels for norms, softmax, activations and rotary embeddings.
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include "simd_math.h"
#define SWELL_HAVE_X86 1
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
    float sum = exp_shifted_sum(x, n);
    __m256 inv = _mm256_set1_ps(1.0f / sum);
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), inv));
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
