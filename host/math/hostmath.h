/* The math stage's internals: the host build of cl/xd_math.h (this folder
 * is compiled with -ffp-contract=off, the bitwise reference).  Never
 * installed; the public part is include/crossdev/hostmath.h. */
#ifndef XD_HOST_MATH_H
#define XD_HOST_MATH_H

#include <stddef.h>

/* The self-test's loops in their contract order: out[3p..3p+2] as
 * cl/probe.cl's xd_probe_loops (adds, fma chain, a*b + c unfused). */
void xd_host_probe_loops(const float *a, const float *b, float *out, size_t P, size_t K);

#endif
