/* The host build of cl/xd_math.h: the bitwise reference for the kernels.
 * This file is compiled with -ffp-contract=off (CMakeLists.txt). */
#include "xd_math.h"

#include "crossdev/hostmath.h"
#include "math/hostmath.h"

float xd_host_exp(float x) { return xd_exp(x); }
float xd_host_log(float x) { return xd_log(x); }
float xd_host_div(float a, float b) { return xd_div(a, b); }
float xd_host_sqrt(float a) { return xd_sqrt(a); }
float xd_host_expm1(float x) { return xd_expm1(x); }
float xd_host_tanh(float x) { return xd_tanh(x); }
float xd_host_sigmoid(float x) { return xd_sigmoid(x); }
float xd_host_erfc(float x) { return xd_erfc(x); }
float xd_host_act_forward(int op, float alpha, float x) { return xd_act_fwd1(op, alpha, x); }
float xd_host_act_backward(int op, float alpha, float x, float y, float dy) { return xd_act_bwd1(op, alpha, x, y, dy); }
void xd_host_philox4x32_10(uint32_t c[4], uint32_t k0, uint32_t k1) { xd_philox4x32_10(c, k0, k1); }
uint32_t xd_host_philox_word(uint64_t seed, uint64_t stream, uint64_t j) { return xd_philox_word(seed, stream, j); }

float xd_uniform_scale(double limit) { return (float)limit * 1.1920928955078125e-07f; }

float xd_dropout_keep_scale(double rate) { return (float)(1.0 - rate); }

void xd_host_dropout_mask(uint8_t *keep, size_t n, uint64_t seed, uint64_t stream, double rate)
{
    float k = xd_dropout_keep_scale(rate);
    for (size_t j = 0; j < n; ++j) keep[j] = (uint8_t)xd_dropout_keep(seed, stream, j, k);
}

void xd_host_init_uniform(float *out, size_t n, uint64_t seed, uint64_t stream, double limit)
{
    float scale = xd_uniform_scale(limit);
    for (size_t j = 0; j < n; ++j) out[j] = xd_uniform_sym(xd_philox_word(seed, stream, j), scale);
}

void xd_host_init_normal(float *out, size_t n, uint64_t seed, uint64_t stream, double stddev)
{
    float s = (float)stddev;
    for (size_t j = 0; j < n; ++j) out[j] = xd_normal(seed, stream, j) * s;
}

/* The self-test's loops (cl/probe.cl xd_probe_loops) in their order: adds
 * and the fma chain over k ascending, and a*b + c unfused (this file is
 * built with -ffp-contract=off). */
void xd_host_probe_loops(const float *a, const float *b, float *out, size_t P, size_t K)
{
    for (size_t p = 0; p < P; ++p) {
        const float *row = a + p * K;
        float s = 0.0f, d = 0.0f;
        for (size_t k = 0; k < K; ++k) s = s + row[k];
        for (size_t k = 0; k < K; ++k) d = fmaf(row[k], b[k], d);
        out[3 * p] = s;
        out[3 * p + 1] = d;
        out[3 * p + 2] = row[0] * b[0] + b[1];
    }
}

/* Uniform on [a, b): a + (b - a) u with u = m 2^-24 from the top 24 bits
 * of word j (Keras's RandomUniform distribution; crossdev's draws). */
void xd_host_init_uniform_range(float *out, size_t n, uint64_t seed, uint64_t stream, double a, double b)
{
    const float lo = (float)a, width = (float)(b - a);
    for (size_t j = 0; j < n; ++j) {
        float u = (float)(xd_philox_word(seed, stream, j) >> 8) * 5.9604644775390625e-08f;
        out[j] = lo + width * u;
    }
}

/* Normal(0, stddev) truncated at 2 standard deviations, as Keras's
 * truncated_normal: element j takes the first of its draws z_k (draw j of
 * stream ^ k << 56, k = 0, 1, ...) with |z_k| <= 2. */
void xd_host_init_truncated_normal(float *out, size_t n, uint64_t seed, uint64_t stream, double stddev)
{
    const float s = (float)stddev;
    for (size_t j = 0; j < n; ++j) {
        float z = 0.0f;
        for (uint64_t k = 0; k < 256; ++k) {
            z = xd_normal(seed, stream ^ (k << 56), j);
            if (z <= 2.0f && z >= -2.0f) break;
        }
        out[j] = z * s;
    }
}
