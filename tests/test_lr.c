/* Keras's learning-rate schedules as crossdev evaluates them (xd_lr_at,
 * host/train/lr.c) against Keras's formulas computed here in double (each
 * float32 operation of Keras's rounds once, so crossdev's value must be
 * within a few units in the last place of the exact one, and the places
 * where the formula is exact — boundaries, clamps, staircases — exactly);
 * the host pow and cos against libm; a schedule named in a settings
 * difference.  `test_lr --print` writes the values for
 * tests/python/check_lr_schedules.py, which compares them with Keras's own. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"

static double ulps(float got, double want)
{
    float wf = (float)want;
    double ulp = fabs((double)nextafterf(wf, INFINITY) - (double)wf);
    return fabs((double)got - want) / ulp;
}

static xd_optimizer_spec exponential(double initial, double steps, double rate, int staircase)
{
    xd_optimizer_spec o = xd_optimizer_defaults(XD_OPT_SGD_KERAS);
    o.schedule.kind = XD_LR_EXPONENTIAL_DECAY;
    o.schedule.initial = o.lr = initial;
    o.schedule.decay_steps = steps, o.schedule.decay_rate = rate, o.schedule.staircase = staircase;
    return o;
}

static xd_optimizer_spec cosine(double initial, double steps, double alpha, int warmup, double target, double wsteps)
{
    xd_optimizer_spec o = xd_optimizer_defaults(XD_OPT_ADAM_KERAS);
    o.schedule.kind = XD_LR_COSINE_DECAY;
    o.schedule.initial = o.lr = initial;
    o.schedule.decay_steps = steps, o.schedule.alpha = alpha;
    o.schedule.has_warmup = warmup, o.schedule.warmup_target = target, o.schedule.warmup_steps = wsteps;
    return o;
}

static xd_optimizer_spec piecewise(void)
{
    xd_optimizer_spec o = xd_optimizer_defaults(XD_OPT_SGD_KERAS);
    const double b[3] = {3, 7, 10}, v[4] = {0.1, 0.05, 0.01, 0.001};
    o.schedule.kind = XD_LR_PIECEWISE_CONSTANT;
    o.schedule.nboundaries = 3;
    memcpy(o.schedule.boundaries, b, sizeof b);
    memcpy(o.schedule.values, v, sizeof v);
    o.schedule.initial = o.lr = v[0];
    return o;
}

/* Keras's formulas as Keras evaluates them: each operation in float32, in
 * its order, pow and cos from libm in double rounded to float. */
static double want_exponential(const xd_lr_schedule *s, int64_t t)
{
    float p = (float)t / (float)s->decay_steps;
    if (s->staircase) p = floorf(p);
    return (float)s->initial * (float)pow((double)(float)s->decay_rate, (double)p);
}

static float keras_decay(float step, float steps, float from, double alpha)
{
    float fraction = step / steps;
    float c = 0.5f * (1.0f + (float)cos((double)((float)3.14159265358979323846 * fraction)));
    float decayed = (float)(1.0 - alpha) * c + (float)alpha;
    return from * decayed;
}

static double want_cosine(const xd_lr_schedule *s, int64_t t)
{
    float step = (float)t, initial = (float)s->initial, steps = (float)s->decay_steps;
    if (!s->has_warmup) return keras_decay(step < steps ? step : steps, steps, initial, s->alpha);
    float target = (float)s->warmup_target, warmup = (float)s->warmup_steps;
    float end = steps + warmup;
    step = step < end ? step : end;
    if (step < warmup) {
        float delta = target - initial, fraction = step / warmup;
        float up = delta * fraction;
        return up + initial;
    }
    return keras_decay(step - warmup, steps, target, s->alpha);
}

static void check_formulas(xdt *T)
{
    const xd_optimizer_spec cases[] = {exponential(0.1, 10, 0.9, 0),   exponential(0.1, 10, 0.9, 1),
                                       exponential(0.05, 3.5, 0.5, 0), cosine(0.002, 12, 0.1, 1, 0.01, 4),
                                       cosine(0.1, 100, 0.0, 0, 0, 0), cosine(1e-3, 7, 0.25, 0, 0, 0)};
    double worst = 0;
    int exact = 0, n = 0;
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; ++k)
        for (int64_t t = 0; t <= 130; ++t) {
            const xd_lr_schedule *s = &cases[k].schedule;
            double want = s->kind == XD_LR_EXPONENTIAL_DECAY ? want_exponential(s, t) : want_cosine(s, t);
            double e = ulps(xd_lr_at(&cases[k], t), want);
            if (e > worst) worst = e;
            exact += e == 0, n++;
        }
    printf("schedules: %d of %d values equal to Keras's formula in float32 with libm's pow and cos, worst %.2f ulp\n",
           exact, n, worst);
    /* only libm's pow or cos rounding otherwise than crossdev's could part them, by one ulp; how
     * many do is the libm's (its version, the CPU's FMA variant), so the count is printed, not held */
    xdt_check(T, worst <= 1.0, "schedules: Keras's float32 formula (%d of %d equal, worst %.2f ulp)", exact, n, worst);
    const xd_optimizer_spec st = exponential(0.1, 10, 0.9, 1), w = cosine(0.002, 12, 0.1, 1, 0.01, 4);
    xdt_check(T, xd_lr_at(&st, 0) == 0.1f && xd_lr_at(&st, 9) == 0.1f && xd_lr_at(&st, 10) == xd_lr_at(&st, 19),
              "staircase: constant within a stair, the initial rate at 0");
    xdt_check(T, xd_lr_at(&w, 0) == 0.002f && xd_lr_at(&w, 16) == xd_lr_at(&w, 50) && xd_lr_at(&w, 1) > 0.002f,
              "cosine warmup: the initial rate at 0, rising, then clamped after warmup + decay steps");
    const xd_optimizer_spec p = piecewise();
    const int64_t at[] = {0, 3, 4, 7, 8, 10, 11, 1000};
    const float pv[] = {0.1f, 0.1f, 0.05f, 0.05f, 0.01f, 0.01f, 0.001f, 0.001f};
    int ok = 1;
    for (size_t i = 0; i < sizeof at / sizeof at[0]; ++i) ok &= xd_lr_at(&p, at[i]) == pv[i];
    xdt_check(T, ok, "piecewise: values[i] for boundaries[i-1] < t <= boundaries[i], exactly");
    xd_optimizer_spec c = xd_optimizer_defaults(XD_OPT_ADAM_KERAS);
    c.lr = 0.003;
    xdt_check(T, xd_lr_at(&c, 0) == 0.003f && xd_lr_at(&c, 99) == 0.003f, "no schedule: the constant rate");
}

static void check_host_math(xdt *T)
{
    double wp = 0, wc = 0;
    for (int i = 0; i < 20000; ++i) {
        float x = 0.05f + 0.0005f * (float)i, y = -40.0f + 0.0041f * (float)i;
        double e = ulps(xd_host_pow(x, y), pow((double)x, (double)y));
        if (isfinite(pow((double)x, (double)y)) && pow((double)x, (double)y) > 1e-30 && e > wp) wp = e;
        float a = -10.0f + 0.001f * (float)i;
        e = ulps(xd_host_cos(a), cos((double)a));
        if (fabs(cos((double)a)) > 1e-6 && e > wc) wc = e;
    }
    printf("host pow worst %.4f ulp, cos %.4f ulp\n", wp, wc);
    xdt_check(T, wp <= 0.5001 && wc <= 0.5001, "host pow and cos correctly rounded (%.4f, %.4f ulp)", wp, wc);
    xdt_check(T, xd_host_pow(0.9f, 0.0f) == 1.0f && xd_host_pow(2.0f, 3.0f) == 8.0f && xd_host_cos(0.0f) == 1.0f,
              "host pow and cos: exact cases");
}

static void check_differs(xdt *T)
{
    xd_optimizer_spec a = exponential(0.1, 10, 0.9, 0), b = a;
    xd_setting_difference d;
    xdt_check(T, !xd_optimizer_differs(&a, &b, &d), "the same schedule: no difference");
    b.schedule.decay_rate = 0.8;
    xdt_check(T, xd_optimizer_differs(&a, &b, &d) && strcmp(d.field, "optimizer.schedule") == 0,
              "another decay rate: named optimizer.schedule (%s)", d.field);
    b = xd_optimizer_defaults(XD_OPT_SGD_KERAS);
    b.lr = 0.1;
    xdt_check(T,
              xd_optimizer_differs(&a, &b, &d) && strcmp(d.field, "optimizer.schedule") == 0 &&
                  strcmp(d.b, "constant") == 0,
              "a schedule against a constant rate: named (%s: %s vs %s)", d.field, d.a, d.b);
}

/* One line per (schedule, t): "NAME t HEX" (the float's bits). */
static int print_values(void)
{
    const struct {
        const char *name;
        xd_optimizer_spec o;
    } s[] = {{"exp", exponential(0.1, 10, 0.9, 0)},
             {"exp_stair", exponential(0.1, 10, 0.9, 1)},
             {"exp_frac", exponential(0.05, 3.5, 0.5, 0)},
             {"cos_warm", cosine(0.002, 12, 0.1, 1, 0.01, 4)},
             {"cos", cosine(0.1, 100, 0.0, 0, 0, 0)},
             {"cos_alpha", cosine(1e-3, 7, 0.25, 0, 0, 0)},
             {"piecewise", piecewise()}};
    for (size_t k = 0; k < sizeof s / sizeof s[0]; ++k)
        for (int64_t t = 0; t <= 130; ++t) {
            float v = xd_lr_at(&s[k].o, t);
            uint32_t u;
            memcpy(&u, &v, 4);
            printf("%s %lld %08x\n", s[k].name, (long long)t, u);
        }
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--print") == 0) return print_values();
    xdt t = {.name = "test_lr"};
    check_formulas(&t);
    check_host_math(&t);
    check_differs(&t);
    return xdt_finish(&t);
}
