/* crossdev — the host build of the reproducible math (cl/xd_math.h compiled
 * as C with -ffp-contract=off): the bitwise reference for the kernels. */
#ifndef CROSSDEV_HOSTMATH_H
#define CROSSDEV_HOSTMATH_H

#include <stddef.h>
#include <stdint.h>

#include "crossdev/export.h"

#ifdef __cplusplus
extern "C" {
#endif

XD_API float xd_host_exp(float x);
XD_API float xd_host_log(float x);
XD_API float xd_host_div(float a, float b);
XD_API float xd_host_sqrt(float a);
XD_API float xd_host_expm1(float x);
XD_API float xd_host_tanh(float x);
XD_API float xd_host_sigmoid(float x);
XD_API float xd_host_erfc(float x);
/* An activation's element function and its gradient (op: xd_act_op of
 * crossdev/ops.h), the bits xd_activation_forward/_backward give in
 * reproducible mode. */
XD_API float xd_host_act_forward(int op, float alpha, float x);
XD_API float xd_host_act_backward(int op, float alpha, float x, float y, float dy);
/* Software division/sqrt (XD_DIV_MODE 2), for tests of that path. */
XD_API float xd_host_div_soft(float a, float b);
XD_API float xd_host_sqrt_soft(float a);
/* Philox4x32-10 of counter c under key (k0, k1), in place. */
XD_API void xd_host_philox4x32_10(uint32_t c[4], uint32_t k0, uint32_t k1);
XD_API uint32_t xd_host_philox_word(uint64_t seed, uint64_t stream, uint64_t j);
/* The same values xd_init_uniform / xd_init_he_normal write. */
XD_API void xd_host_init_uniform(float *out, size_t n, uint64_t seed, uint64_t stream, double limit);
XD_API void xd_host_init_normal(float *out, size_t n, uint64_t seed, uint64_t stream, double stddev);
/* Keras's RandomUniform(a, b) and truncated normal (Glorot/He normal) on
 * crossdev's Philox streams (host/math/math.c says how). */
XD_API void xd_host_init_uniform_range(float *out, size_t n, uint64_t seed, uint64_t stream, double a, double b);
XD_API void xd_host_init_truncated_normal(float *out, size_t n, uint64_t seed, uint64_t stream, double stddev);
/* The float scale the uniform init uses: (float)limit * 2^-23. */
XD_API float xd_uniform_scale(double limit);
/* Dropout: the float keep probability the kernels compare with and divide
 * by, (float)(1.0 - rate); and the mask xd_dropout_forward draws for
 * (seed, stream): keep[j] = 1 where element j is kept, else 0. */
XD_API float xd_dropout_keep_scale(double rate);
/* pow(x, y) and cos(x) of floats for host-side scalars (the learning-rate
 * schedules), computed in crossdev's own double arithmetic and rounded once
 * (host/math/math_lr.c): the same float on every host. */
XD_API float xd_host_pow(float x, float y);
XD_API float xd_host_cos(float x);
XD_API void xd_host_dropout_mask(uint8_t *keep, size_t n, uint64_t seed, uint64_t stream, double rate);

#ifdef __cplusplus
}
#endif
#endif
