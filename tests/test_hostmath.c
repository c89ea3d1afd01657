/* The host build of the reproducible math: Philox's word indexing, exp/log
 * accuracy against libm in double, software division/sqrt against IEEE. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

static double ulp_err(float got, double want)
{
    if (isinf(want) || isinf(got)) return (isinf(want) && isinf(got) && (want > 0) == (got > 0)) ? 0 : INFINITY;
    float wf = (float)want;
    double ulp = fabs((double)nextafterf(wf, INFINITY) - (double)wf);
    if (ulp == 0 || fabs(want) < 1.17549435e-38) ulp = 1.4012984643e-45;
    return fabs((double)got - want) / ulp;
}

/* expm1, tanh, sigmoid and erfc (the activations): their worst error in
 * ulp over sweeps (docs/reproducibility.md quotes the figures), and their
 * special values. */
static void test_activation_math(xdt *t)
{
    uint32_t bits;
    /* expm1, tanh, sigmoid (the activations): over a sweep of -20..20 and of
     * every 6007th float below 1 in magnitude (near 0: expm1 and tanh keep
     * their relative accuracy there). */
    double worst_em1 = 0, worst_tanh = 0, worst_sig = 0;
    for (int k = 0; k <= 400000; ++k) {
        float x = -20.0f + 1e-4f * (float)k;
        double e1 = ulp_err(xd_host_expm1(x), expm1((double)x)), e2 = ulp_err(xd_host_tanh(x), tanh((double)x));
        double e3 = ulp_err(xd_host_sigmoid(x), 1.0 / (1.0 + exp(-(double)x)));
        worst_em1 = e1 > worst_em1 ? e1 : worst_em1, worst_tanh = e2 > worst_tanh ? e2 : worst_tanh;
        worst_sig = e3 > worst_sig ? e3 : worst_sig;
    }
    for (bits = 0x00800000u; bits < 0x3f800000u; bits += 6007u) {
        float x, nx;
        memcpy(&x, &bits, 4);
        nx = -x;
        double e1 = fmax(ulp_err(xd_host_expm1(x), expm1((double)x)), ulp_err(xd_host_expm1(nx), expm1((double)nx)));
        double e2 = ulp_err(xd_host_tanh(x), tanh((double)x));
        worst_em1 = e1 > worst_em1 ? e1 : worst_em1, worst_tanh = e2 > worst_tanh ? e2 : worst_tanh;
    }
    printf("expm1 max error %.3f ulp, tanh %.3f ulp, sigmoid %.3f ulp\n", worst_em1, worst_tanh, worst_sig);
    xdt_check(t, worst_em1 <= 2.0 && worst_tanh <= 3.0 && worst_sig <= 3.0,
              "expm1 within 2 ulp (%.3f), tanh and sigmoid within 3 (%.3f, %.3f)", worst_em1, worst_tanh, worst_sig);
    xdt_check(t,
              xd_host_tanh(-0.0f) == 0.0f && signbit(xd_host_tanh(-0.0f)) && xd_host_tanh(-INFINITY) == -1.0f &&
                  xd_host_expm1(-INFINITY) == -1.0f && isinf(xd_host_expm1(100.0f)) &&
                  xd_host_sigmoid(-200.0f) == 0.0f && xd_host_sigmoid(200.0f) == 1.0f,
              "tanh, expm1, sigmoid at -0, infinities and far out");
    /* erfc over -5..11 (where gelu reads it: erfc(-x sqrt(1/2))), relative
     * to the value, down to 1e-30 (below that the result is subnormal) */
    double worst_erfc = 0;
    for (int k = 0; k <= 160000; ++k) {
        float z = -5.0f + 1e-4f * (float)k;
        double want = erfc((double)z);
        if (want < 1e-30) break;
        double e = ulp_err(xd_host_erfc(z), want);
        worst_erfc = e > worst_erfc ? e : worst_erfc;
    }
    printf("erfc max error %.3f ulp\n", worst_erfc);
    xdt_check(t, worst_erfc <= 5.0, "erfc within 5 ulp (%.3f)", worst_erfc);
    xdt_check(t,
              xd_host_erfc(-INFINITY) == 2.0f && xd_host_erfc(INFINITY) == 0.0f && xd_host_erfc(0.0f) == 1.0f &&
                  isnan(xd_host_erfc(NAN)),
              "erfc at the infinities, 0 and NaN");
    xdt_check(t, isnan(xd_host_expm1(NAN)) && isnan(xd_host_tanh(NAN)) && isnan(xd_host_sigmoid(NAN)),
              "NaN propagates through expm1, tanh, sigmoid");
}

int main(void)
{
    xdt t = {.name = "test_hostmath"};

    /* Philox4x32-10's known answers: test_contracts (tests/fixtures/contracts/philox-kat.json). */
    /* word j of a stream = word j%4 of block j/4 */
    uint32_t c[4] = {1, 0, 7, 0};
    xd_host_philox4x32_10(c, 42, 0);
    xdt_check(&t, xd_host_philox_word(42, 7, 6) == c[2], "philox word indexing");

    /* exp/log: at most 2 ulp from the correctly rounded value, over a sweep. */
    double worst_exp = 0, worst_log = 0;
    for (int k = 0; k < 26200; ++k) {
        float x = -103.0f + 0.00731f * (float)k;
        double e = ulp_err(xd_host_exp(x), exp((double)x));
        if (e > worst_exp) worst_exp = e;
    }
    uint32_t bits;
    for (bits = 0x00000001u; bits < 0x7f800000u; bits += 0x0000f1a3u) {
        float x;
        memcpy(&x, &bits, 4);
        double e = ulp_err(xd_host_log(x), log((double)x));
        if (e > worst_log) worst_log = e;
    }
    printf("exp max error %.3f ulp, log max error %.3f ulp\n", worst_exp, worst_log);
    xdt_check(&t, worst_exp <= 2.0, "exp within 2 ulp (%.3f)", worst_exp);
    xdt_check(&t, worst_log <= 2.0, "log within 2 ulp (%.3f)", worst_log);
    test_activation_math(&t);
    xdt_check(&t, isinf(xd_host_exp(100.0f)) && xd_host_exp(-200.0f) == 0.0f, "exp overflow/underflow");
    xdt_check(&t, xd_host_exp(0.0f) == 1.0f && xd_host_log(1.0f) == 0.0f, "exp(0) = 1, log(1) = 0");
    xdt_check(&t, isnan(xd_host_log(-1.0f)) && isinf(xd_host_log(0.0f)) && xd_host_log(0.0f) < 0, "log special");
    xdt_check(&t, isnan(xd_host_exp(NAN)) && isnan(xd_host_log(NAN)), "NaN propagates");

    /* Software division and sqrt are correctly rounded (= IEEE) for normal
     * results, across binades and near ties. */
    uint32_t s = 1u;
    size_t bad_div = 0, bad_sqrt = 0, n = 2000000;
    for (size_t i = 0; i < n; ++i) {
        s = s * 1664525u + 1013904223u;
        uint32_t ua = (s & 0x807fffffu) | ((64u + (s >> 24) % 128u) << 23);
        s = s * 1664525u + 1013904223u;
        uint32_t ub = (s & 0x807fffffu) | ((64u + (s >> 24) % 128u) << 23);
        if (i % 7 == 0) ub = (ub & 0xff800000u) | (i & 0xffu); /* divisors near powers of two */
        float a, b;
        memcpy(&a, &ua, 4);
        memcpy(&b, &ub, 4);
        float q = a / b, qs = xd_host_div_soft(a, b);
        if (memcmp(&q, &qs, 4) != 0 && fabsf(q) >= 1.17549435e-38f) {
            if (bad_div < 5) printf("  div(%a, %a): soft %a, IEEE %a\n", (double)a, (double)b, (double)qs, (double)q);
            ++bad_div;
        }
        float r = sqrtf(fabsf(a)), rs = xd_host_sqrt_soft(fabsf(a));
        if (memcmp(&r, &rs, 4) != 0) {
            if (bad_sqrt < 5) printf("  sqrt(%a): soft %a, IEEE %a\n", (double)fabsf(a), (double)rs, (double)r);
            ++bad_sqrt;
        }
    }
    xdt_check(&t, bad_div == 0, "software division: %zu of %zu differ from IEEE", bad_div, n);
    xdt_check(&t, bad_sqrt == 0, "software sqrt: %zu of %zu differ from IEEE", bad_sqrt, n);
    xdt_check(&t, xd_host_div_soft(1.0f, 0.0f) == INFINITY && isnan(xd_host_div_soft(0.0f, 0.0f)), "div special");

    /* The uniform init maps 24-bit draws onto [-L, L) exactly. */
    float u[4096];
    xd_host_init_uniform(u, 4096, 42, 1, 0.1);
    float lim = 0.1f;
    int inside = 1;
    for (int i = 0; i < 4096; ++i) inside &= (u[i] >= -lim && u[i] < lim);
    xdt_check(&t, inside, "uniform draws inside [-L, L)");

    return xdt_finish(&t);
}
