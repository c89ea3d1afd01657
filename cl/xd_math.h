/* crossdev — reproducible float32 math, shared by the OpenCL kernels and the
 * host library (the host build is the bitwise reference).
 *
 * Everything here is built from operations that IEEE 754 and the OpenCL C
 * spec define exactly: +, -, *, fma, rint, comparisons and bit moves, plus
 * division and sqrt through xd_div / xd_sqrt, which are correctly rounded on
 * every path (see below).  Polynomials are written as explicit fma chains in a
 * fixed order, so no compiler contraction or reassociation can change a bit
 * (kernels use FP_CONTRACT OFF; the host is built with -ffp-contract=off).
 *
 * Subnormal policy: subnormals are kept (never flushed).  Reproducible mode
 * refuses a device that does not report CL_FP_DENORM, so a flushing device
 * can never silently disagree with a non-flushing one. */
#ifndef XD_MATH_H
#define XD_MATH_H

#ifdef __OPENCL_VERSION__
#ifndef XD_FAST
#pragma OPENCL FP_CONTRACT OFF
#endif
/* clang warns at every call passing a 16-lane vector when it compiles for a
 * CPU without AVX-512 (PoCL for an AVX2 target: "AVX vector argument of type
 * 'float16' ... changes the ABI", ~400 of them).  The kernels and PoCL's
 * built-ins are compiled together, so the ABI is one; the warning says
 * nothing to a user. */
#if defined(__clang__) && defined(__has_warning)
#if __has_warning("-Wpsabi")
#pragma clang diagnostic ignored "-Wpsabi"
#endif
#endif
#define XD_INLINE inline
#define XD_FMA(a, b, c) fma((a), (b), (c))
#define XD_RINT(a) rint(a)
#define XD_AS_UINT(f) as_uint(f)
#define XD_AS_FLOAT(u) as_float(u)
typedef uint xd_u32;
typedef int xd_i32;
typedef ulong xd_u64;
#else
#include <math.h>
#include <stdint.h>
#include <string.h>
#define XD_INLINE static inline
#define XD_FMA(a, b, c) fmaf((a), (b), (c))
#define XD_RINT(a) rintf(a)
typedef uint32_t xd_u32;
typedef int32_t xd_i32;
typedef uint64_t xd_u64;
XD_INLINE xd_u32 xd_as_uint_(float f) { xd_u32 u; memcpy(&u, &f, 4); return u; }
XD_INLINE float xd_as_float_(xd_u32 u) { float f; memcpy(&f, &u, 4); return f; }
#define XD_AS_UINT(f) xd_as_uint_(f)
#define XD_AS_FLOAT(u) xd_as_float_(u)
#endif

/* ---- constants of the summation contract, shared by kernels and host ------
 * XD_KCHUNK: dense forward sums its inputs in chunks of this many (each an
 * fma chain), then adds the chunk sums in order (cl/dense.cl).  Part of the
 * contract, not a tunable: changing it changes bits. */
#define XD_KCHUNK 256

/* ---- blocking of the channel-lane convolutions (cl/conv2d.cl), shared
 * with the host's launch sizes: XD_CONV_CV vectors of channels x XD_CONV_QB
 * outputs of a row per work-item (forward, backward data), XD_CONV_OV
 * vectors of output channels per backward-weights work-item.  Like the
 * tunables they only decide which work-item computes an output; they are
 * fixed here rather than in the tunables table, whose -D options every
 * trace records. */
#define XD_CONV_CV 2
#define XD_CONV_QB 8
#define XD_CONV_OV 2
/* xd_conv2d_lanes1: one vector of channels x XD_CONV_QB1 outputs of a row. */
#define XD_CONV_QB1 16

/* Whether the channel-lane convolutions store a work-item's CV vectors x QB
 * outputs by rows (cl/conv2d.cl): the tunable conv_rows's bit for the
 * kernel (XD_CONV_ROWS_ONE for one vector of channels, XD_CONV_ROWS_TWO for
 * more), and QB a multiple of a vector or half of one with CV even.  The
 * host's launch size (host/ops/conv2d.c) asks the same question.
 * XD_CONV_ROWS_DY: dy goes channels last by transposed blocks. */
#define XD_CONV_ROWS_ONE 1
#define XD_CONV_ROWS_TWO 2
#define XD_CONV_ROWS_DY 4
#define XD_CONV_ROWS_OK(rows, vw, CV, QB)                                                                            \
    (((rows) & ((CV) == 1 ? XD_CONV_ROWS_ONE : XD_CONV_ROWS_TWO)) &&                                                 \
     ((QB) % (vw) == 0 || (2 * (QB) == (vw) && (CV) % 2 == 0)))

/* ---- loops whose additions are in a contract order -----------------------
 * XD_ORDERED goes before every loop that accumulates floats in the order
 * docs/reproducibility.md states.  OpenCL C forbids reordering those
 * additions (without -cl-unsafe-math-optimizations), yet Intel's OpenCL CPU
 * compiler loop-vectorizes such loops with 16 partial sums in the variant of
 * a kernel it runs for work-groups narrower than its SIMD width and for
 * partly filled vectors (docs/drivers.md).  clang's loop pragma keeps every
 * clang-based compiler (Intel's, PoCL's, Oclgrind's) from vectorizing or
 * interleaving the loop itself; the work-item vectorizers (PoCL's, Intel's)
 * still vectorize across work-items, which changes no bits.  The probe
 * (cl/probe.cl) checks the result on the device, so a compiler that reorders
 * anyway is refused.  XD_UNORDERED_LOOPS (tests only: show what the probe
 * catches) and fast mode leave the compiler free. */
#if defined(__OPENCL_VERSION__) && defined(__clang__) && !defined(XD_FAST) && !defined(XD_UNORDERED_LOOPS)
#define XD_ORDERED _Pragma("clang loop vectorize(disable) interleave(disable)")
#else
#define XD_ORDERED
#endif

/* ---- explicit vectors (device only) ---------------------------------------
 * XD_VW (1, 2, 4, 8 or 16) is a tunable from host/core/params.c: the hot kernels
 * give each work-item XD_VW neighbouring outputs as the lanes of one vector.
 * Lanes never mix, and a vector fma is lane-wise the scalar fma, so the width
 * decides which instruction computes an output, never its bits.  CPU
 * runtimes (PoCL) do not vectorise kernels with inner loops themselves;
 * GPUs take XD_VW 1.
 *   XD_VLOAD(p)          lanes p[0..VW-1]
 *   XD_VGATHER(p, idx)   lanes p[idx.s0], p[idx.s1], ...  (idx: xd_vu)
 *   xd_vstore_n(v, p, k) the first k lanes to p[0..k-1]
 *   xd_vstore_range(v, p, a, b)  lanes a..b-1 to p[a..b-1]
 *   xd_vscatter_n(v, p, idx, k)  the first k lanes to p[idx.sJ]
 *   XD_VEVEN(a, b), XD_VODD(a, b)  the even / odd elements of a then b (the
 *                        2*VW floats a, b in order; a stride-2 load)
 *   XD_VZIP_LO(e, o), XD_VZIP_HI(e, o)  e.s0, o.s0, e.s1, o.s1, ...: the
 *                        first / second VW of the interleave (its inverse)
 * min/max always take two vectors of one type: Oclgrind 21.10 computes
 * min(uintN, uint) wrongly (found by running the vector paths there). */
#ifdef __OPENCL_VERSION__
#ifndef XD_VW
#define XD_VW 1
#endif
#define XD_CAT_(a, b) a##b
#define XD_CAT(a, b) XD_CAT_(a, b)
#if XD_VW == 1
typedef float xd_vf;
typedef uint xd_vu;
typedef int xd_vi;
#define XD_VLOAD(p) (*(p))
#define XD_VLANES(v, t) ((t)[0] = (v))
#define XD_VGATHER(p, i) ((p)[(i)])
#define XD_VIOTA ((xd_vu)0)
#define XD_VSELECT(a, b, m) ((m) ? (b) : (a))
#define XD_AS_VI(u) ((int)(u))
#define XD_AS_VU(i) ((uint)(i))
#define XD_CONVERT_VF(u) ((float)(u))
#define XD_VEVEN(a, b) (a)
#define XD_VODD(a, b) (b)
#define XD_VZIP_LO(e, o) (e)
#define XD_VZIP_HI(e, o) (o)
#else
typedef XD_CAT(float, XD_VW) xd_vf;
typedef XD_CAT(uint, XD_VW) xd_vu;
typedef XD_CAT(int, XD_VW) xd_vi;
#define XD_VLOAD(p) XD_CAT(vload, XD_VW)(0, (p))
#define XD_VLANES(v, t) XD_CAT(vstore, XD_VW)((v), 0, (t))
#define XD_VSELECT(a, b, m) select((a), (b), (m))
#define XD_AS_VI(u) XD_CAT(convert_int, XD_VW)(u)
#define XD_AS_VU(i) XD_CAT(convert_uint, XD_VW)(i)
#define XD_CONVERT_VF(u) XD_CAT(convert_float, XD_VW)(u)
#define XD_VEVEN(a, b) ((xd_vf)((a).even, (b).even))
#define XD_VODD(a, b) ((xd_vf)((a).odd, (b).odd))
#if XD_VW == 2
#define XD_VGATHER(p, i) ((xd_vf)((p)[(i).s0], (p)[(i).s1]))
#define XD_VIOTA ((xd_vu)(0, 1))
#define XD_VZIP_LO(e, o) ((xd_vf)((e).s0, (o).s0))
#define XD_VZIP_HI(e, o) ((xd_vf)((e).s1, (o).s1))
#elif XD_VW == 4
#define XD_VGATHER(p, i) ((xd_vf)((p)[(i).s0], (p)[(i).s1], (p)[(i).s2], (p)[(i).s3]))
#define XD_VIOTA ((xd_vu)(0, 1, 2, 3))
#define XD_VZIP_LO(e, o) ((xd_vf)((e).s0, (o).s0, (e).s1, (o).s1))
#define XD_VZIP_HI(e, o) ((xd_vf)((e).s2, (o).s2, (e).s3, (o).s3))
#elif XD_VW == 8
#define XD_VGATHER(p, i) \
    ((xd_vf)((p)[(i).s0], (p)[(i).s1], (p)[(i).s2], (p)[(i).s3], (p)[(i).s4], (p)[(i).s5], (p)[(i).s6], (p)[(i).s7]))
#define XD_VIOTA ((xd_vu)(0, 1, 2, 3, 4, 5, 6, 7))
#define XD_VZIP_LO(e, o) ((xd_vf)((e).s0, (o).s0, (e).s1, (o).s1, (e).s2, (o).s2, (e).s3, (o).s3))
#define XD_VZIP_HI(e, o) ((xd_vf)((e).s4, (o).s4, (e).s5, (o).s5, (e).s6, (o).s6, (e).s7, (o).s7))
#elif XD_VW == 16
#define XD_VGATHER(p, i)                                                                                   \
    ((xd_vf)((p)[(i).s0], (p)[(i).s1], (p)[(i).s2], (p)[(i).s3], (p)[(i).s4], (p)[(i).s5], (p)[(i).s6],    \
             (p)[(i).s7], (p)[(i).s8], (p)[(i).s9], (p)[(i).sa], (p)[(i).sb], (p)[(i).sc], (p)[(i).sd],    \
             (p)[(i).se], (p)[(i).sf]))
#define XD_VIOTA ((xd_vu)(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15))
#define XD_VZIP_LO(e, o)                                                                                    \
    ((xd_vf)((e).s0, (o).s0, (e).s1, (o).s1, (e).s2, (o).s2, (e).s3, (o).s3, (e).s4, (o).s4, (e).s5, (o).s5, \
             (e).s6, (o).s6, (e).s7, (o).s7))
#define XD_VZIP_HI(e, o)                                                                                    \
    ((xd_vf)((e).s8, (o).s8, (e).s9, (o).s9, (e).sa, (o).sa, (e).sb, (o).sb, (e).sc, (o).sc, (e).sd, (o).sd, \
             (e).se, (o).se, (e).sf, (o).sf))
#else
#error "XD_VW must be 1, 2, 4, 8 or 16"
#endif
#endif
/* lanes from..to-1 to p[from..to-1] (the whole vector in one store when
 * that is all of it) */
XD_INLINE void xd_vstore_range(xd_vf v, __global float *p, uint from, uint to)
{
    if (from == 0 && to >= XD_VW) {
#if XD_VW == 1
        *p = v;
#else
        XD_CAT(vstore, XD_VW)(v, 0, p);
#endif
        return;
    }
    float t[XD_VW];
    XD_VLANES(v, t);
    for (uint j = from; j < to && j < XD_VW; ++j) p[j] = t[j];
}
#define xd_vstore_n(v, p, k) xd_vstore_range((v), (p), 0u, (k))

/* ReLU as every kernel applies it, the fused ones included: x > 0 ? x : 0,
 * a NaN kept (fmax would drop it), -0 to +0. */
XD_INLINE float xd_relu(float v)
{
    return v > 0.0f ? v : ((v == v) ? 0.0f : v);
}
XD_INLINE xd_vf xd_vrelu(xd_vf v)
{
    return XD_VSELECT(XD_VSELECT(v, (xd_vf)0.0f, v == v), v, v > (xd_vf)0.0f);
}

/* p[0..k-1] into lanes 0..k-1 (hh < 0; k <= XD_VW) or into the lower (hh 0)
 * or upper (hh 1) half (k <= XD_VW / 2); the other lanes 0.  Reads nothing
 * past p[k - 1]. */
XD_INLINE xd_vf xd_vload_lanes_n(__global const float *p, int hh, uint k)
{
    if (hh < 0 && k >= XD_VW) return XD_VLOAD(p);
    float t[XD_VW];
    uint o = hh > 0 ? XD_VW / 2 : 0;
    for (uint j = 0; j < XD_VW; ++j) t[j] = 0.0f;
    for (uint j = 0; j < k && o + j < XD_VW; ++j) t[o + j] = p[j];
    return XD_VLOAD(t);
}

/* The first k lanes (k <= XD_VW / 2) of v's lower (hi 0) or upper (hi 1)
 * half to p[0..k-1]. */
XD_INLINE void xd_vstore_halfvec_n(xd_vf v, int hi, __global float *p, uint k)
{
#if XD_VW == 16
    float8 h = hi ? v.hi : v.lo;
    if (k >= 8) {
        vstore8(h, 0, p);
        return;
    }
#endif
    float t[XD_VW];
    XD_VLANES(v, t);
    for (uint j = 0; j < k && j < XD_VW / 2; ++j) p[j] = t[(hi ? XD_VW / 2 : 0) + j];
}

/* t[XD_VW] rows -> columns: log2(XD_VW) rounds of interleaving row k with
 * row k + XD_VW / 2 (each round rotates the bits of (row, column) by one).
 * Always inlined, its loops unrolled: PoCL keeps a called function's
 * arrays on the stack. */
inline __attribute__((always_inline)) void xd_vtranspose(xd_vf *t)
{
#if XD_VW > 1
    _Pragma("unroll") for (uint r = 1; r < XD_VW; r <<= 1)
    {
        xd_vf a[XD_VW];
        _Pragma("unroll") for (uint k = 0; k < XD_VW / 2; ++k)
        {
            a[2 * k] = XD_VZIP_LO(t[k], t[k + XD_VW / 2]);
            a[2 * k + 1] = XD_VZIP_HI(t[k], t[k + XD_VW / 2]);
        }
        _Pragma("unroll") for (uint k = 0; k < XD_VW; ++k) t[k] = a[k];
    }
#endif
}
XD_INLINE void xd_vscatter_n(xd_vf v, __global float *p, xd_vu idx, uint k)
{
    float t[XD_VW];
    uint u[XD_VW];
    XD_VLANES(v, t);
    XD_VLANES(idx, u);
    for (uint j = 0; j < k && j < XD_VW; ++j) p[u[j]] = t[j];
}
#endif

/* ---- division and square root, correctly rounded -------------------------
 * XD_DIV_MODE 0: the device reports CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT and
 *   the program is built with -cl-fp32-correctly-rounded-divide-sqrt (the
 *   host is IEEE: / and sqrtf are correctly rounded).
 * XD_DIV_MODE 1: via double.  OpenCL requires fp64 / and sqrt to be correctly
 *   rounded, and rounding a correctly rounded double quotient or root to
 *   float is innocuous (53 >= 2*24 + 2), so the result is the correctly
 *   rounded float.
 * XD_DIV_MODE 2: software, no fp64: a first estimate from the device's /,
 *   then the candidate q and its neighbours are tested against the midpoints
 *   with exact fma residuals.  Correctly rounded whenever the result and
 *   the residuals are normal numbers (the case for every use in crossdev;
 *   see docs/reproducibility.md). */
#ifndef XD_DIV_MODE
#define XD_DIV_MODE 0
#endif

#if defined(__OPENCL_VERSION__) && XD_DIV_MODE == 1
#pragma OPENCL EXTENSION cl_khr_fp64 : enable
XD_INLINE float xd_div(float a, float b) { return (float)((double)a / (double)b); }
XD_INLINE float xd_sqrt(float a) { return (float)sqrt((double)a); }
#elif XD_DIV_MODE == 2
XD_INLINE float xd_next_up_(float x) { return XD_AS_FLOAT(XD_AS_UINT(x) + 1u); }
XD_INLINE float xd_next_down_(float x) { return XD_AS_FLOAT(XD_AS_UINT(x) - 1u); }
/* x * 2^k for |k| <= 120 in exact steps (power-of-two factors stay normal). */
XD_INLINE float xd_scale2_(float x, int k)
{
    while (k > 60) { x = x * 1.152921504606846976e18f; k -= 60; }
    while (k < -60) { x = x * 8.673617379884035472e-19f; k += 60; }
    return x * XD_AS_FLOAT((xd_u32)(k + 127) << 23);
}
/* Binary exponent of a finite non-zero float (subnormals included). */
XD_INLINE int xd_exponent_(float x)
{
    xd_u32 e = (XD_AS_UINT(x) >> 23) & 0xffu;
    if (e) return (int)e - 127;
    /* subnormal: scale up exactly (no recursion in OpenCL C) */
    return (int)((XD_AS_UINT(x * 16777216.0f) >> 23) & 0xffu) - 127 - 24;
}
/* Correctly rounded quotient of operands with exponents near 0: residuals
 * cannot underflow there, so fma gives them exactly. */
XD_INLINE float xd_div_core_(float a, float b)
{
    float q = a / b;
    float sb = b < 0.0f ? -b : b;
    float sa = a < 0.0f ? -a : a;
    float sq = q < 0.0f ? -q : q;
    /* Walk |q| to the candidate whose rounding interval holds |a|/|b|:
     * |a| - (c + h)|b| > 0 means the true quotient lies above the midpoint. */
    for (int it = 0; it < 4; ++it) {
        float up = xd_next_up_(sq);
        float h = (up - sq) * 0.5f;          /* half an ulp, exact */
        float r = XD_FMA(-sq, sb, sa);       /* exact residual */
        float hb = h * sb;                   /* exact (power of two scaling) */
        if (r > hb || (r == hb && (XD_AS_UINT(sq) & 1u))) { sq = up; continue; }
        float dn = xd_next_down_(sq);
        float hd = (sq - dn) * 0.5f;
        float hdb = hd * sb;
        if (-r > hdb || (-r == hdb && (XD_AS_UINT(sq) & 1u))) { sq = dn; continue; }
        break;
    }
    return (q < 0.0f) ? -sq : sq;
}
XD_INLINE float xd_div(float a, float b)
{
    float q = a / b;
    /* Special operands and results are exact on every conforming device. */
    if (!(q == q) || a == 0.0f || a * 0.0f != 0.0f || b * 0.0f != 0.0f) return q;
    /* Bring both operands to exponent 0, divide there, scale back (exact
     * whenever the quotient is a normal number). */
    int ea = xd_exponent_(a), eb = xd_exponent_(b);
    float qc = xd_div_core_(xd_scale2_(a, -ea), xd_scale2_(b, -eb));
    return xd_scale2_(qc, ea - eb);
}
XD_INLINE float xd_sqrt(float a)
{
    if (!(a > 0.0f) || a * 0.0f != 0.0f) return sqrt(a);
    /* Work at an even exponent near 0 so the residual cannot underflow. */
    int e = xd_exponent_(a) & ~1;
    a = xd_scale2_(a, -e);
    float s = sqrt(a);
    /* With r = a - s*s exact and t = 2 s h (h half an ulp above s):
     * sqrt(a) > s + h  <=>  r > t + h*h  <=>  r > t, because h*h is below
     * the spacing of floats near t.  Below s likewise with <=.  sqrt has no
     * ties. */
    for (int it = 0; it < 4; ++it) {
        float r = XD_FMA(-s, s, a);
        float up = xd_next_up_(s);
        float t = (up - s) * s;               /* 2 s h, exact */
        if (r > t) { s = up; continue; }
        float dn = xd_next_down_(s);
        float td = (s - dn) * s;
        if (r <= -td) { s = dn; continue; }
        break;
    }
    return xd_scale2_(s, e / 2);
}
#else
XD_INLINE float xd_div(float a, float b) { return a / b; }
#ifdef __OPENCL_VERSION__
XD_INLINE float xd_sqrt(float a) { return sqrt(a); }
#else
XD_INLINE float xd_sqrt(float a) { return sqrtf(a); }
#endif
#endif

/* ---- exp ------------------------------------------------------------------
 * x = k ln2 + r, |r| <= ln2/2, with k = rint(x log2 e) and r from a two-part
 * (Cody-Waite) ln2; exp(r) by its Taylor polynomial to degree 7 (truncation
 * error < 2e-9 relative) in Horner form; 2^k applied by building the
 * exponent bits, in two steps so subnormal results round once. */
XD_INLINE float xd_exp(float x)
{
    if (!(x == x)) return x;                    /* NaN */
    if (x > 88.72283935546875f) return XD_AS_FLOAT(0x7f800000u);   /* +inf */
    if (x < -103.972084045410156f) return 0.0f;
    float k = XD_RINT(x * 1.44269502162933349609f);
    float r = XD_FMA(-k, 0.693145751953125f, x);           /* ln2 high part, 16 bits */
    r = XD_FMA(-k, 1.428606765330187045e-06f, r);          /* ln2 low part */
    float p = 1.98412701138295233250e-04f;                 /* 1/5040 */
    p = XD_FMA(p, r, 1.38888889551162719727e-03f);         /* 1/720 */
    p = XD_FMA(p, r, 8.33333376795053482056e-03f);         /* 1/120 */
    p = XD_FMA(p, r, 4.16666679084300994873e-02f);         /* 1/24 */
    p = XD_FMA(p, r, 1.66666671633720397949e-01f);         /* 1/6 */
    p = XD_FMA(p, r, 0.5f);
    p = XD_FMA(p, r, 1.0f);
    p = XD_FMA(p, r, 1.0f);
    xd_i32 ki = (xd_i32)k;                                 /* -150 .. 128 */
    /* split 2^k = 2^k1 * 2^k2 with both factors normal */
    xd_i32 k1 = ki / 2;
    xd_i32 k2 = ki - k1;
    float s1 = XD_AS_FLOAT((xd_u32)(k1 + 127) << 23);
    float s2 = XD_AS_FLOAT((xd_u32)(k2 + 127) << 23);
    return (p * s1) * s2;
}

/* ---- log ------------------------------------------------------------------
 * x = 2^e m with m in [sqrt(1/2), sqrt(2)); log(m) = 2 atanh(s), s = (m-1)/(m+1)
 * (|s| <= 0.1716, one correctly rounded division), series to s^11; then
 * e ln2 added with a two-part ln2. */
XD_INLINE float xd_log(float x)
{
    if (!(x == x)) return x;
    if (x < 0.0f) return XD_AS_FLOAT(0x7fc00000u);         /* NaN */
    if (x == 0.0f) return XD_AS_FLOAT(0xff800000u);        /* -inf */
    if (x * 0.0f != 0.0f) return x;                        /* +inf */
    xd_i32 e = 0;
    if (x < 1.17549435082228750797e-38f) {                 /* subnormal: scale up exactly */
        x = x * 16777216.0f;
        e = -24;
    }
    xd_u32 u = XD_AS_UINT(x);
    e += (xd_i32)((u >> 23) & 0xffu) - 127;
    float m = XD_AS_FLOAT((u & 0x007fffffu) | 0x3f800000u); /* [1, 2) */
    if (m > 1.41421353816986083984f) {
        m = m * 0.5f;
        e += 1;
    }
    float f = m - 1.0f;                                    /* exact (Sterbenz) */
    float s = xd_div(f, m + 1.0f);
    float z = s * s;
    float p = 9.09090936183929443359e-02f;                 /* 1/11 */
    p = XD_FMA(p, z, 1.11111111938953399658e-01f);         /* 1/9 */
    p = XD_FMA(p, z, 1.42857149243354797363e-01f);         /* 1/7 */
    p = XD_FMA(p, z, 2.00000002980232238770e-01f);         /* 1/5 */
    p = XD_FMA(p, z, 3.33333343267440795898e-01f);         /* 1/3 */
    float logm = XD_FMA(2.0f * s * z, p, 2.0f * s);
    float fe = (float)e;
    return XD_FMA(fe, 0.693145751953125f, XD_FMA(fe, 1.428606765330187045e-06f, logm));
}

/* ---- expm1, tanh, sigmoid (the activations, cl/activation.cl) -------------
 * expm1: x = k ln2 + r as in xd_exp; expm1(r) = r + r^2 q(r), q the Taylor
 * polynomial of (e^r - 1 - r)/r^2 to r^7/9! (truncation < 3e-11 relative)
 * in Horner form; then expm1(x) = 2^k expm1(r) + (2^k - 1), one fma (2^k - 1
 * exact for -24 <= k <= 24).  Above 40, e^x - 1 rounds as e^x: xd_exp; below
 * -17.5 it rounds to -1. */
XD_INLINE float xd_expm1(float x)
{
    if (!(x == x)) return x;
    if (x > 40.0f) return xd_exp(x);
    if (x < -17.5f) return -1.0f;
    float k = XD_RINT(x * 1.44269502162933349609f);
    float r = XD_FMA(-k, 0.693145751953125f, x);
    r = XD_FMA(-k, 1.428606765330187045e-06f, r);
    float q = 2.75573192239858906526e-06f;                 /* 1/9! */
    q = XD_FMA(q, r, 2.48015873015873015873e-05f);         /* 1/8! */
    q = XD_FMA(q, r, 1.98412698412698412698e-04f);         /* 1/7! */
    q = XD_FMA(q, r, 1.38888888888888888889e-03f);         /* 1/6! */
    q = XD_FMA(q, r, 8.33333333333333333333e-03f);         /* 1/5! */
    q = XD_FMA(q, r, 4.16666666666666666667e-02f);         /* 1/4! */
    q = XD_FMA(q, r, 1.66666666666666666667e-01f);         /* 1/3! */
    q = XD_FMA(q, r, 0.5f);
    float p = XD_FMA(r * r, q, r);
    if (k == 0.0f) return p;
    float t = XD_AS_FLOAT((xd_u32)((xd_i32)k + 127) << 23); /* 2^k, -26 <= k <= 58 */
    return XD_FMA(t, p, t - 1.0f);
}

/* tanh(|x|) = e / (e + 2), e = expm1(2|x|) (2|x| exact), one correctly
 * rounded division; the sign put back; 1 above 9.1 (1 - tanh < 2^-25);
 * +-0 and NaN returned as they are. */
XD_INLINE float xd_tanh(float x)
{
    float a = x < 0.0f ? -x : x;
    if (!(a > 0.0f)) return x;
    float r = 1.0f;
    if (a <= 9.1f) {
        float e = xd_expm1(2.0f * a);
        r = xd_div(e, e + 2.0f);
    }
    return x < 0.0f ? -r : r;
}

/* sigmoid(x) = 1 / (1 + exp(-x)), as XLA's logistic (jax.nn.sigmoid). */
XD_INLINE float xd_sigmoid(float x) { return xd_div(1.0f, 1.0f + xd_exp(-x)); }

/* erfc (gelu's exact form).  |z| < 0.5: 1 - erf(z), erf(z) = z P(z^2) with
 * P the Taylor series of erf(z)/z to z^14 (truncation < 3e-11); z <= -0.5:
 * 2 - erfc(-z); z >= 0.5: erfc(z) = exp(-z^2) t G(t), t = 1/(1 + z/2), G a
 * degree-10 polynomial fitted (least squares, relative, in double) to
 * erfc(z) exp(z^2) / t on z in [0.5, 10.5] (fit error 7e-11), and
 * exp(-z^2) = exp(-zz) (1 - e) with zz + e = z^2 exactly (e from an fma). */
XD_INLINE float xd_erfc_pos_(float z)
{
    float t = xd_div(1.0f, XD_FMA(z, 0.5f, 1.0f));
    float g = 6.277789921e-02f;
    g = XD_FMA(g, t, -3.290703595e-01f);
    g = XD_FMA(g, t, 6.907233596e-01f);
    g = XD_FMA(g, t, -6.888299584e-01f);
    g = XD_FMA(g, t, 3.059770465e-01f);
    g = XD_FMA(g, t, -1.432700306e-01f);
    g = XD_FMA(g, t, 1.201177016e-01f);
    g = XD_FMA(g, t, 1.698665768e-01f);
    g = XD_FMA(g, t, 2.475709021e-01f);
    g = XD_FMA(g, t, 2.820455134e-01f);
    g = XD_FMA(g, t, 2.820962369e-01f);
    float zz = z * z;
    float e = XD_FMA(z, z, -zz);
    return (xd_exp(-zz) * (t * g)) * (1.0f - e);
}
XD_INLINE float xd_erfc(float z)
{
    if (!(z == z)) return z;
    float a = z < 0.0f ? -z : z;
    if (a < 0.5f) {
        float s = z * z;
        float p = -1.492565035840625e-05f;
        p = XD_FMA(p, s, 1.205533298178967e-04f);
        p = XD_FMA(p, s, -8.548327023450852e-04f);
        p = XD_FMA(p, s, 5.223977625442187e-03f);
        p = XD_FMA(p, s, -2.686617064513125e-02f);
        p = XD_FMA(p, s, 1.128379167095513e-01f);
        p = XD_FMA(p, s, -3.761263890318375e-01f);
        p = XD_FMA(p, s, 1.128379167095513e+00f);
        return 1.0f - z * p;
    }
    if (a > 10.5f) return z < 0.0f ? 2.0f : 0.0f; /* erfc(10.5) < 2^-150 */
    float c = xd_erfc_pos_(a);
    return z < 0.0f ? 2.0f - c : c;
}

/* ---- Philox4x32-10 (Salmon et al., SC'11) ------------------------------- */
XD_INLINE void xd_philox4x32_10(xd_u32 c[4], xd_u32 k0, xd_u32 k1)
{
    for (int round = 0; round < 10; ++round) {
        xd_u64 p0 = (xd_u64)0xD2511F53u * c[0];
        xd_u64 p1 = (xd_u64)0xCD9E8D57u * c[2];
        xd_u32 n0 = (xd_u32)(p1 >> 32) ^ c[1] ^ k0;
        xd_u32 n1 = (xd_u32)p1;
        xd_u32 n2 = (xd_u32)(p0 >> 32) ^ c[3] ^ k1;
        xd_u32 n3 = (xd_u32)p0;
        c[0] = n0; c[1] = n1; c[2] = n2; c[3] = n3;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
}

/* Word j of stream `stream` under key `seed`: block j/4, counter
 * (block lo, block hi, stream lo, stream hi). */
XD_INLINE xd_u32 xd_philox_word(xd_u64 seed, xd_u64 stream, xd_u64 j)
{
    xd_u64 block = j >> 2;
    xd_u32 c[4];
    c[0] = (xd_u32)block;
    c[1] = (xd_u32)(block >> 32);
    c[2] = (xd_u32)stream;
    c[3] = (xd_u32)(stream >> 32);
    xd_philox4x32_10(c, (xd_u32)seed, (xd_u32)(seed >> 32));
    return c[j & 3u];
}

/* Uniform on [-L, L) from a 24-bit draw m: (m - 2^23) * (L 2^-23), one
 * rounding (the integer is exact in float; scale = L * 2^-23 is exact). */
XD_INLINE float xd_uniform_sym(xd_u32 word, float scale)
{
    xd_i32 m = (xd_i32)(word >> 8);
    return (float)(m - 8388608) * scale;
}

/* Dropout's keep decision for element j: the top 24 bits of word j as
 * u = m 2^-24 in [0, 1) (exact), kept when u < keep, keep = (float)(1 - rate)
 * rounded on the host.  keep 1 keeps everything. */
XD_INLINE int xd_dropout_keep(xd_u64 seed, xd_u64 stream, xd_u64 j, float keep)
{
    return (float)(xd_philox_word(seed, stream, j) >> 8) * 5.9604644775390625e-08f < keep;
}


/* ---- sin/cos of pi*x, for Box-Muller -------------------------------------
 * Exact reductions (Sterbenz) to [0, 1/4], then Taylor polynomials in
 * t = pi*x to t^12 / t^11 (truncation < 1e-11). */
XD_INLINE float xd_cos_poly_(float t)
{
    float z = t * t;
    float p = 2.08767569878680989792e-09f;                 /* 1/12! */
    p = XD_FMA(p, z, -2.75573192239858906526e-07f);        /* -1/10! */
    p = XD_FMA(p, z, 2.48015873015873015873e-05f);         /* 1/8! */
    p = XD_FMA(p, z, -1.38888888888888888889e-03f);        /* -1/6! */
    p = XD_FMA(p, z, 4.16666666666666666667e-02f);         /* 1/4! */
    p = XD_FMA(p, z, -0.5f);
    return XD_FMA(p, z, 1.0f);
}
XD_INLINE float xd_sin_poly_(float t)
{
    float z = t * t;
    float p = -2.50521083854417187751e-08f;                /* -1/11! */
    p = XD_FMA(p, z, 2.75573192239858906526e-06f);         /* 1/9! */
    p = XD_FMA(p, z, -1.98412698412698412698e-04f);        /* -1/7! */
    p = XD_FMA(p, z, 8.33333333333333333333e-03f);         /* 1/5! */
    p = XD_FMA(p, z, -1.66666666666666666667e-01f);        /* -1/3! */
    return XD_FMA(p * z, t, t);
}
/* cos(pi x) for x in [0, 2). */
XD_INLINE float xd_cospi_0_2(float x)
{
    if (x > 1.0f) x = 2.0f - x;
    float sign = 1.0f;
    if (x > 0.5f) { x = 1.0f - x; sign = -1.0f; }
    float r = (x > 0.25f) ? xd_sin_poly_((0.5f - x) * 3.14159274101257324219f)
                          : xd_cos_poly_(x * 3.14159274101257324219f);
    return sign * r;
}

/* Standard normal draw j of a stream: Box-Muller on words 2j and 2j+1,
 * u1 = (2 m1 + 1) 2^-25 in (0, 1) and u2 = m2 2^-24 in [0, 1), both exact. */
XD_INLINE float xd_normal(xd_u64 seed, xd_u64 stream, xd_u64 j)
{
    xd_u32 w1 = xd_philox_word(seed, stream, 2 * j);
    xd_u32 w2 = xd_philox_word(seed, stream, 2 * j + 1);
    float u1 = (float)(2u * (w1 >> 8) + 1u) * 2.98023223876953125e-08f;
    float u2 = (float)(w2 >> 8) * 5.9604644775390625e-08f;
    float radius = xd_sqrt(-2.0f * xd_log(u1));
    return radius * xd_cospi_0_2(2.0f * u2);
}

/* Fast mode: the device's own builtins, contraction allowed (-cl-mad-enable).
 * Results then differ between devices; crossdev-compare quantifies by how much. */
#if defined(__OPENCL_VERSION__) && defined(XD_FAST)
#define XD_EXP(x) exp(x)
#define XD_LOG(x) log(x)
#define XD_DIV(a, b) ((a) / (b))
#define XD_SQRT(x) sqrt(x)
#define XD_EXPM1(x) expm1(x)
#define XD_TANH(x) tanh(x)
#define XD_SIGMOID(x) (1.0f / (1.0f + exp(-(x))))
#define XD_ERFC(x) erfc(x)
#else
#define XD_EXP(x) xd_exp(x)
#define XD_LOG(x) xd_log(x)
#define XD_DIV(a, b) xd_div((a), (b))
#define XD_SQRT(x) xd_sqrt(x)
#define XD_EXPM1(x) xd_expm1(x)
#define XD_TANH(x) xd_tanh(x)
#define XD_SIGMOID(x) xd_sigmoid(x)
#define XD_ERFC(x) xd_erfc(x)
#endif

/* ---- the activations' element functions, Keras 3 on JAX (jax.nn) ---------
 * kind: XD_ACTK_* of include/crossdev/ops.h; a = the activation's float
 * parameter (leaky_relu's negative_slope, elu's alpha).  The backward is
 * the gradient JAX's autodiff of jax.nn's formula computes, in its order:
 *   sigmoid     y = 1/(1 + exp(-x))             dx = dy (y (1 - y))
 *   tanh        y = tanh(x)                     dx = (dy + dy y)(1 - y)
 *   leaky_relu  y = x >= 0 ? x : a x            dx = x >= 0 ? dy : dy a
 *   elu         y = x > 0 ? x : a expm1(x)      dx = x > 0 ? dy : (dy a) exp(x)
 *   relu6       y = min(max(x, 0), 6)           dx = 0 < x < 6 ? dy : 0
 *   silu        y = x sigmoid(x)                dx = dy s + (dy x)(s (1 - s))
 *   gelu        y = (0.5 x) erfc(u), u = (-x) r, r = (float)sqrt(1/2)
 *               (approximate=False, Keras's default: jax.nn.gelu's erfc form)
 *               dx = (dy e) 0.5 + -(((0.5 x) dy)(-2/sqrt(pi) exp(-(u u))) r), e = erfc(u)
 * NaN propagates through every forward. */
#define XD_ACTK_SIGMOID 0
#define XD_ACTK_TANH 1
#define XD_ACTK_LEAKY_RELU 2
#define XD_ACTK_ELU 3
#define XD_ACTK_RELU6 4
#define XD_ACTK_SILU 5
#define XD_ACTK_GELU 6
#define XD_GELU_R 0.707106769084930419921875f   /* (float)sqrt(0.5) */
#define XD_GELU_K -1.12837922573089599609375f   /* (float)(-2 / sqrt(pi)) */
XD_INLINE float xd_act_fwd1(int kind, float a, float x)
{
    switch (kind) {
    case XD_ACTK_SIGMOID: return XD_SIGMOID(x);
    case XD_ACTK_TANH: return XD_TANH(x);
    case XD_ACTK_LEAKY_RELU: return x >= 0.0f ? x : a * x;
    case XD_ACTK_ELU: return x > 0.0f ? x : a * XD_EXPM1(x);
    case XD_ACTK_RELU6: return x != x ? x : x < 0.0f ? 0.0f : x > 6.0f ? 6.0f : x;
    case XD_ACTK_SILU: return x * XD_SIGMOID(x);
    case XD_ACTK_GELU: return (0.5f * x) * XD_ERFC(-x * XD_GELU_R);
    default: return x;
    }
}
XD_INLINE float xd_act_bwd1(int kind, float a, float x, float y, float dy)
{
    float s;
    switch (kind) {
    case XD_ACTK_SIGMOID: return dy * (y * (1.0f - y));
    case XD_ACTK_TANH: return (dy + dy * y) * (1.0f - y);
    case XD_ACTK_LEAKY_RELU: return x >= 0.0f ? dy : dy * a;
    case XD_ACTK_ELU: return x > 0.0f ? dy : (dy * a) * XD_EXP(x);
    case XD_ACTK_RELU6: return x > 0.0f && x < 6.0f ? dy : 0.0f;
    case XD_ACTK_SILU: s = XD_SIGMOID(x); return dy * s + (dy * x) * (s * (1.0f - s));
    case XD_ACTK_GELU:
        s = -x * XD_GELU_R;
        return (dy * XD_ERFC(s)) * 0.5f + -((((0.5f * x) * dy) * (XD_GELU_K * XD_EXP(-(s * s)))) * XD_GELU_R);
    default: return dy;
    }
}

#endif /* XD_MATH_H */
