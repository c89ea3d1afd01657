/* The learning rate of a step: the optimizer's constant rate, or its Keras
 * schedule evaluated as Keras does (keras/src/optimizers/schedules/
 * learning_rate_schedule.py) at the optimizer's iteration count before the
 * step's update (0 at step 1): every operation in float32, in Keras's
 * order, with pow and cos from crossdev's own host math (xd_host_pow,
 * xd_host_cos: the same float on every host; docs/reproducibility.md). */
#include <math.h>

#include "crossdev/hostmath.h"
#include "crossdev/train.h"

/* Keras's _decay_function: from * ((1 - alpha) * 0.5 (1 + cos(pi t / steps)) + alpha). */
static float cosine_decay(float t, float steps, float from, double alpha)
{
    const float pi = (float)3.14159265358979323846;
    const float fraction = t / steps;
    const float c = 0.5f * (1.0f + xd_host_cos(pi * fraction));
    const float decayed = (float)(1.0 - alpha) * c + (float)alpha; /* 1 - alpha: Python's, in double */
    return from * decayed;
}

static float cosine(const xd_lr_schedule *s, float t)
{
    const float initial = (float)s->initial, steps = (float)s->decay_steps;
    if (!s->has_warmup) return cosine_decay(fminf(t, steps), steps, initial, s->alpha);
    const float target = (float)s->warmup_target, warmup = (float)s->warmup_steps;
    t = fminf(t, steps + warmup);
    if (t < warmup) return (target - initial) * (t / warmup) + initial;
    return cosine_decay(t - warmup, steps, target, s->alpha);
}

/* Keras's sum of indicator * value: exactly one indicator is 1 (the
 * others add 0), so the value of the step's interval, as float32. */
static float piecewise(const xd_lr_schedule *s, int64_t t)
{
    const int n = s->nboundaries;
    if ((double)t <= s->boundaries[0]) return (float)s->values[0];
    if ((double)t > s->boundaries[n - 1]) return (float)s->values[n];
    for (int i = 1; i < n; ++i)
        if ((double)t > s->boundaries[i - 1] && (double)t <= s->boundaries[i]) return (float)s->values[i];
    return 0.0f;
}

float xd_lr_at(const xd_optimizer_spec *o, int64_t iterations)
{
    const xd_lr_schedule *s = &o->schedule;
    const float t = (float)iterations; /* Keras: ops.cast(step, float32) */
    switch (s->kind) {
    case XD_LR_CONSTANT: return (float)o->lr;
    case XD_LR_EXPONENTIAL_DECAY: {
        float p = t / (float)s->decay_steps;
        if (s->staircase) p = floorf(p);
        return (float)s->initial * xd_host_pow((float)s->decay_rate, p);
    }
    case XD_LR_PIECEWISE_CONSTANT: return s->nboundaries > 0 ? piecewise(s, iterations) : (float)s->values[0];
    case XD_LR_COSINE_DECAY: return cosine(s, t);
    }
    return (float)o->lr;
}
