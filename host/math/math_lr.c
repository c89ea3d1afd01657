/* pow and cos for host-side scalars (learning-rate schedules), in crossdev's
 * own double-precision arithmetic and rounded once to float, so that every
 * host gives the same float whatever its libm: only +, -, *, / of doubles
 * (this folder is compiled with -ffp-contract=off) and exact scalings.
 * The doubles are within a few units of 1e-16 of the true value, so the
 * float is the correctly rounded one except within that distance of a
 * halfway point between two floats (docs/reproducibility.md). */
#include <math.h>

#include "crossdev/hostmath.h"

/* ln 2 in two parts: the high part has its low 32 bits zero, so k * LN2_HI
 * is exact for |k| < 2^20. */
#define LN2_HI 6.93147180369123816490e-01
#define LN2_LO 1.90821492927058770002e-10
/* pi / 2 in two parts, the high part with its low 33 bits zero. */
#define PIO2_HI 1.57079632673412561417e+00
#define PIO2_LO 6.07710050650619224932e-11

/* log(x) for finite x > 0: x = 2^e m, m in [sqrt(1/2), sqrt(2)),
 * log m = 2 atanh(s), s = (m - 1) / (m + 1), |s| <= 0.172, to s^29. */
static double log_d(double x)
{
    int e;
    double m = frexp(x, &e) * 2.0; /* [1, 2), exact */
    e -= 1;
    if (m > 1.4142135623730951) {
        m *= 0.5;
        e += 1;
    }
    const double s = (m - 1.0) / (m + 1.0), z = s * s;
    double p = 1.0 / 29.0;
    for (int k = 27; k >= 3; k -= 2) p = p * z + 1.0 / (double)k;
    const double logm = 2.0 * s + 2.0 * s * z * p;
    return (double)e * LN2_HI + ((double)e * LN2_LO + logm);
}

/* exp(x) for |x| < 700: x = k ln2 + r, |r| <= ln2 / 2, Taylor to r^18. */
static double exp_d(double x)
{
    const double k = nearbyint(x / 0.6931471805599453);
    const double r = (x - k * LN2_HI) - k * LN2_LO;
    double p = 1.0;
    for (int n = 18; n >= 1; --n) p = 1.0 + p * r / (double)n;
    return ldexp(p, (int)k);
}

float xd_host_pow(float x, float y)
{
    if (y == 0.0f || x == 1.0f) return 1.0f;
    if (x != x || y != y) return x + y;
    if (x == 0.0f) return y > 0.0f ? 0.0f : INFINITY;
    if (x < 0.0f || isinf(x) || isinf(y)) return (float)pow((double)x, (double)y); /* not used by the schedules */
    const double z = (double)y * log_d((double)x);
    if (z > 700.0) return INFINITY;
    if (z < -750.0) return 0.0f;
    return (float)exp_d(z);
}

/* cos and sin of |r| <= pi/4 by their Taylor series (to r^22, r^23). */
static double cos_poly(double r)
{
    const double z = r * r;
    double p = 1.0;
    for (int n = 22; n >= 2; n -= 2) p = 1.0 - p * z / ((double)n * (double)(n - 1));
    return p;
}
static double sin_poly(double r)
{
    const double z = r * r;
    double p = 1.0;
    for (int n = 23; n >= 3; n -= 2) p = 1.0 - p * z / ((double)n * (double)(n - 1));
    return r * p;
}

float xd_host_cos(float x)
{
    if (x != x || isinf(x)) return NAN;
    if (fabsf(x) > 1e6f) return (float)cos((double)x); /* not used by the schedules */
    const double k = nearbyint((double)x / 1.5707963267948966);
    const double r = ((double)x - k * PIO2_HI) - k * PIO2_LO;
    switch (((long)k % 4 + 4) % 4) {
    case 0: return (float)cos_poly(r);
    case 1: return (float)-sin_poly(r);
    case 2: return (float)-cos_poly(r);
    default: return (float)sin_poly(r);
    }
}
