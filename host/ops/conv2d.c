/* conv2d host API: shape checks, then the kernels of cl/conv2d.cl
 * (reproducible mode), or im2col/col2im (cl/im2col.cl) around CLBlast SGEMM
 * (fast mode where xd_fast_gemm() says the GEMM pays, host/ops/blas.c). */
#include "blas.h"
#include "core/core.h"
#include "crossdev/ops.h"
#include "xd_math.h" /* XD_CONV_CV, XD_CONV_QB, XD_CONV_OV */

/* Fast mode: the im2col buffer and the GEMM output are each kept under this
 * many bytes by processing the batch in chunks of samples (at least one). */
#define XD_FAST_CHUNK_BYTES ((size_t)64 << 20)
#define XD_FAST_CONV_MIN_CK 16

xd_conv2d_params xd_conv2d_valid(int stride_h, int stride_w)
{
    xd_conv2d_params p = {stride_h, stride_w, 0, 0, 0, 0};
    return p;
}

static int same_pad(int in, int k, int s, int *lo, int *hi)
{
    if (s < 1) return 0;
    int out = (in + s - 1) / s;
    int total = (out - 1) * s + k - in;
    if (total < 0) total = 0;
    *lo = total / 2;
    *hi = total - *lo;
    return 1;
}

xd_conv2d_params xd_conv2d_same(int in_h, int in_w, int k_h, int k_w, int stride_h, int stride_w)
{
    xd_conv2d_params p = {stride_h, stride_w, 0, 0, 0, 0};
    same_pad(in_h, k_h, stride_h, &p.pad_top, &p.pad_bottom);
    same_pad(in_w, k_w, stride_w, &p.pad_left, &p.pad_right);
    return p;
}

int64_t xd_conv2d_out_size(int64_t in, int64_t k, int stride, int pad_lo, int pad_hi)
{
    if (stride < 1 || k < 1 || in < 1 || pad_lo < 0 || pad_hi < 0) return 0;
    int64_t span = in + pad_lo + pad_hi - k;
    if (span < 0) return 0;
    return span / stride + 1;
}

typedef struct conv_dims {
    cl_uint N, C, H, W, O, KH, KW, OH, OW, SH, SW, PT, PL;
} conv_dims;

/* Checks x [N,C,H,W], w [O,C,KH,KW] and y [N,O,OH,OW] against p. */
static xd_status conv_check(xd_context *ctx, const char *op, const xd_conv2d_params *p, const xd_tensor *x,
                            const char *xname, const xd_tensor *w, const xd_tensor *y, const char *yname, conv_dims *d)
{
    xd_status st;
    if (!ctx) return XD_INVALID_ARGUMENT;
    if (!p) return xd_fail(ctx, XD_INVALID_ARGUMENT, 0, "%s: params is NULL", op);
    if ((st = xd_check_tensor(ctx, op, xname, x, XD_DTYPE_F32, 4)) != XD_OK) return st;
    if ((st = xd_check_tensor(ctx, op, "w", w, XD_DTYPE_F32, 4)) != XD_OK) return st;
    if ((st = xd_check_tensor(ctx, op, yname, y, XD_DTYPE_F32, 4)) != XD_OK) return st;
    if (x->ndim != 4 || w->ndim != 4 || y->ndim != 4)
        return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: %s, w and %s must be 4-D (NCHW, OIHW, NCHW)", op, xname, yname);
    if (p->stride_h < 1 || p->stride_w < 1 || p->pad_top < 0 || p->pad_bottom < 0 || p->pad_left < 0 ||
        p->pad_right < 0)
        return xd_fail(ctx, XD_INVALID_ARGUMENT, 0,
                       "%s: strides must be >= 1 and padding >= 0 (got stride %dx%d, pad %d,%d,%d,%d)", op, p->stride_h,
                       p->stride_w, p->pad_top, p->pad_bottom, p->pad_left, p->pad_right);
    if (w->shape[1] != x->shape[1])
        return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: %s has %lld channels, w expects %lld", op, xname,
                       (long long)x->shape[1], (long long)w->shape[1]);
    if (p->pad_top >= w->shape[2] || p->pad_bottom >= w->shape[2] || p->pad_left >= w->shape[3] ||
        p->pad_right >= w->shape[3])
        return xd_fail(ctx, XD_INVALID_ARGUMENT, 0, "%s: padding must be smaller than the kernel", op);
    int64_t oh = xd_conv2d_out_size(x->shape[2], w->shape[2], p->stride_h, p->pad_top, p->pad_bottom);
    int64_t ow = xd_conv2d_out_size(x->shape[3], w->shape[3], p->stride_w, p->pad_left, p->pad_right);
    if (oh < 1 || ow < 1)
        return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: kernel %lldx%lld does not fit input %lldx%lld", op,
                       (long long)w->shape[2], (long long)w->shape[3], (long long)x->shape[2], (long long)x->shape[3]);
    if (y->shape[0] != x->shape[0] || y->shape[1] != w->shape[0] || y->shape[2] != oh || y->shape[3] != ow)
        return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: %s is [%lld,%lld,%lld,%lld], expected [%lld,%lld,%lld,%lld]", op,
                       yname, (long long)y->shape[0], (long long)y->shape[1], (long long)y->shape[2],
                       (long long)y->shape[3], (long long)x->shape[0], (long long)w->shape[0], (long long)oh,
                       (long long)ow);
    if ((st = xd_check_u32(ctx, op, "input size", x->count)) != XD_OK) return st;
    if ((st = xd_check_u32(ctx, op, "output size", y->count)) != XD_OK) return st;
    if ((st = xd_check_u32(ctx, op, "weight size x batch", (uint64_t)w->count * (uint64_t)x->shape[0])) != XD_OK)
        return st;
    d->N = (cl_uint)x->shape[0];
    d->C = (cl_uint)x->shape[1];
    d->H = (cl_uint)x->shape[2];
    d->W = (cl_uint)x->shape[3];
    d->O = (cl_uint)w->shape[0];
    d->KH = (cl_uint)w->shape[2];
    d->KW = (cl_uint)w->shape[3];
    d->OH = (cl_uint)oh;
    d->OW = (cl_uint)ow;
    d->SH = (cl_uint)p->stride_h;
    d->SW = (cl_uint)p->stride_w;
    d->PT = (cl_uint)p->pad_top;
    d->PL = (cl_uint)p->pad_left;
    return XD_OK;
}

/* ---- fast mode: im2col + CLBlast SGEMM ------------------------------------------
 * col [CK, NB*P] (CK = C*KH*KW, P = OH*OW, NB samples of the chunk),
 * W seen as [O, CK], the GEMM output / dy in [O, NB*P]. */
static cl_uint fast_chunk(const conv_dims *d)
{
    size_t P = (size_t)d->OH * d->OW, CK = (size_t)d->C * d->KH * d->KW;
    size_t per = P * (CK > d->O ? CK : d->O) * 4;
    size_t nb = per ? XD_FAST_CHUNK_BYTES / per : d->N;
    if (nb < 1) nb = 1;
    if (nb > d->N) nb = d->N;
    return (cl_uint)nb;
}

#define XD_CONV_GEOM(d)                                                                                          \
    XD_ARG((d).C), XD_ARG((d).H), XD_ARG((d).W), XD_ARG((d).KH), XD_ARG((d).KW), XD_ARG((d).OH), XD_ARG((d).OW), \
        XD_ARG((d).SH), XD_ARG((d).SW), XD_ARG((d).PT), XD_ARG((d).PL)

static xd_status im2col(xd_context *ctx, const conv_dims *d, cl_mem x, cl_mem col, cl_uint n0, cl_uint nb)
{
    size_t n = (size_t)d->C * d->KH * d->KW * nb * d->OH * d->OW;
    return XD_LAUNCH(ctx, XD_K_im2col, n, XD_ARG(x), XD_ARG(col), XD_ARG(n0), XD_ARG(nb), XD_CONV_GEOM(*d));
}

/* dyP[O, nb*P] = dy[n0 .. n0+nb, O, P] */
static xd_status gather_dy(xd_context *ctx, const conv_dims *d, cl_mem dy, cl_mem dyp, cl_uint n0, cl_uint nb)
{
    cl_uint P = d->OH * d->OW, isa = P, isb = d->O * P, osa = nb * P, osb = P;
    cl_ulong in_off = (cl_ulong)n0 * d->O * P, out_off = 0;
    cl_int no = 0;
    return XD_LAUNCH(ctx, XD_K_permute3, (size_t)d->O * nb * P, XD_ARG(dy), XD_ARG(dy), XD_ARG(dyp), XD_ARG(d->O),
                     XD_ARG(nb), XD_ARG(P), XD_ARG(in_off), XD_ARG(isa), XD_ARG(isb), XD_ARG(out_off), XD_ARG(osa),
                     XD_ARG(osb), XD_ARG(no), XD_ARG(no));
}

/* The fast paths' common start: chunks of nb samples, P outputs a plane,
 * CK taps a filter; scratch 0 holds a chunk's [CK, nb*P] columns and
 * scratch 1 its [O, nb*P] GEMM operand or result. */
typedef struct fast_plan {
    cl_uint nb, P, CK;
    cl_mem cols, outs;
} fast_plan;

static xd_status fast_begin(xd_context *ctx, const char *op, const conv_dims *d, fast_plan *f)
{
    f->nb = fast_chunk(d);
    f->P = d->OH * d->OW;
    f->CK = d->C * d->KH * d->KW;
    xd_status st = xd_check_u32(ctx, op, "im2col chunk", (uint64_t)(f->CK > d->O ? f->CK : d->O) * f->nb * f->P);
    if (st == XD_OK) st = xd_scratch(ctx, 0, (size_t)f->CK * f->nb * f->P * 4, &f->cols);
    if (st == XD_OK) st = xd_scratch(ctx, 1, (size_t)d->O * f->nb * f->P * 4, &f->outs);
    return st;
}

static xd_status fast_forward(xd_context *ctx, const char *op, const conv_dims *d, const xd_tensor *x,
                              const xd_tensor *w, const xd_tensor *b, xd_tensor *y, cl_int relu)
{
    fast_plan f;
    xd_status st = fast_begin(ctx, op, d, &f);
    if (st != XD_OK) return st;
    cl_uint nb = f.nb, P = f.P, CK = f.CK;
    cl_mem col = f.cols, z = f.outs;
    cl_int has_bias = b != NULL;
    cl_mem bm = b ? b->mem : w->mem;
    for (cl_uint n0 = 0; n0 < d->N; n0 += nb) {
        cl_uint m = d->N - n0 < nb ? d->N - n0 : nb;
        size_t cols = (size_t)m * P;
        if ((st = im2col(ctx, d, x->mem, col, n0, m)) != XD_OK) return st;
        if ((st = xd_sgemm(ctx, op, 0, 0, d->O, cols, CK, 1.0f, w->mem, 0, CK, col, 0, cols, 0.0f, z, 0, cols)) !=
            XD_OK)
            return st;
        /* y[n0+j, o, p] = z[o, j*P + p] + b[o] */
        cl_uint isa = m * P, isb = P, osa = P, osb = d->O * P;
        cl_ulong in_off = 0, out_off = (cl_ulong)n0 * d->O * P;
        st = XD_LAUNCH(ctx, XD_K_permute3, (size_t)d->O * m * P, XD_ARG(z), XD_ARG(bm), XD_ARG(y->mem), XD_ARG(d->O),
                       XD_ARG(m), XD_ARG(P), XD_ARG(in_off), XD_ARG(isa), XD_ARG(isb), XD_ARG(out_off), XD_ARG(osa),
                       XD_ARG(osb), XD_ARG(has_bias), XD_ARG(relu));
        if (st != XD_OK) return st;
    }
    return XD_OK;
}

static xd_status fast_backward_data(xd_context *ctx, const char *op, const conv_dims *d, const xd_tensor *dy,
                                    const xd_tensor *w, xd_tensor *dx)
{
    fast_plan f;
    xd_status st = fast_begin(ctx, op, d, &f);
    if (st != XD_OK) return st;
    cl_uint nb = f.nb, P = f.P, CK = f.CK;
    cl_mem dcol = f.cols, dyp = f.outs;
    for (cl_uint n0 = 0; n0 < d->N; n0 += nb) {
        cl_uint m = d->N - n0 < nb ? d->N - n0 : nb;
        size_t cols = (size_t)m * P;
        if ((st = gather_dy(ctx, d, dy->mem, dyp, n0, m)) != XD_OK) return st;
        /* dcol[CK, cols] = W[O, CK]^T dyP[O, cols] */
        if ((st = xd_sgemm(ctx, op, 1, 0, CK, cols, d->O, 1.0f, w->mem, 0, CK, dyp, 0, cols, 0.0f, dcol, 0, cols)) !=
            XD_OK)
            return st;
        st = XD_LAUNCH(ctx, XD_K_col2im, (size_t)m * d->C * d->H * d->W, XD_ARG(dcol), XD_ARG(dx->mem), XD_ARG(n0),
                       XD_ARG(m), XD_CONV_GEOM(*d));
        if (st != XD_OK) return st;
    }
    return XD_OK;
}

static xd_status fast_backward_weights(xd_context *ctx, const char *op, const conv_dims *d, const xd_tensor *x,
                                       const xd_tensor *dy, xd_tensor *dw)
{
    fast_plan f;
    xd_status st = fast_begin(ctx, op, d, &f);
    if (st != XD_OK) return st;
    cl_uint nb = f.nb, P = f.P, CK = f.CK;
    cl_mem col = f.cols, dyp = f.outs;
    for (cl_uint n0 = 0; n0 < d->N; n0 += nb) {
        cl_uint m = d->N - n0 < nb ? d->N - n0 : nb;
        size_t cols = (size_t)m * P;
        if ((st = im2col(ctx, d, x->mem, col, n0, m)) != XD_OK) return st;
        if ((st = gather_dy(ctx, d, dy->mem, dyp, n0, m)) != XD_OK) return st;
        /* dW[O, CK] (+)= dyP[O, cols] col[CK, cols]^T */
        if ((st = xd_sgemm(ctx, op, 0, 1, d->O, CK, cols, 1.0f, dyp, 0, cols, col, 0, cols, n0 ? 1.0f : 0.0f, dw->mem,
                           0, CK)) != XD_OK)
            return st;
    }
    return XD_OK;
}

/* ---- convolutions with channels on the lanes (cl/conv2d.cl) -----------------------------
 * Forward (k = o over r = c) and backward data (k = c over r = o) where the
 * row kernels' lanes would fall back to gathers (rows of `len` outputs
 * shorter than a vector, or any stride but 1: a strided row is gathered
 * forward, and backward every lane selects among taps that mostly miss)
 * and there is a vector of channels k, or both channel counts are one
 * vector (xd_conv2d_lanes1 then beats the rows); a tap mask fits 32 bits.  Each
 * output's sum is the row kernels' (same order, same bits). */
static int on_lanes(const xd_context *ctx, const conv_dims *d, cl_uint len, cl_uint K)
{
    size_t vw = ctx->params.vw;
    int one_vector = d->C == vw && d->O == vw; /* xd_conv2d_lanes1 beats the row kernels (conv2d_1 of resnet) */
    return vw > 1 && (len < vw || d->SH > 1 || d->SW > 1 || one_vector) && K >= vw && d->KH * d->KW <= 32;
}

/* wt channels last (xd_conv2d_weights_lanes) into scratch 1, then the kernel. */
static xd_status lanes_conv(xd_context *ctx, const char *op, const conv_dims *d, cl_int dir, cl_mem src, cl_mem w,
                            cl_mem b, cl_mem out, cl_int has_bias, cl_int relu, cl_int accum)
{
    cl_uint R = dir > 0 ? d->C : d->O, K = dir > 0 ? d->O : d->C, T = d->KH * d->KW;
    int one = K <= ctx->params.vw; /* one vector of channels: xd_conv2d_lanes1 */
    cl_uint qb = one ? XD_CONV_QB1 : XD_CONV_QB;
    cl_uint kb = ctx->params.vw * (one ? 1 : XD_CONV_CV), KP = (K + kb - 1) / kb * kb;
    cl_uint sk = dir > 0 ? d->C * T : T, sr = dir > 0 ? T : d->C * T;
    cl_uint SH = dir > 0 ? d->H : d->OH, SW = dir > 0 ? d->W : d->OW, OH = dir > 0 ? d->OH : d->H,
            OW = dir > 0 ? d->OW : d->W;
    cl_mem wt;
    xd_status st = xd_check_u32(ctx, op, "channels-last weights", (uint64_t)R * T * KP);
    if (st == XD_OK) st = xd_scratch(ctx, 1, (size_t)R * T * KP * 4, &wt);
    if (st == XD_OK)
        st = XD_LAUNCH(ctx, XD_K_conv2d_weights_lanes, (size_t)R * T * (KP / ctx->params.vw), XD_ARG(w), XD_ARG(wt),
                       XD_ARG(R), XD_ARG(K), XD_ARG(KP), XD_ARG(T), XD_ARG(sk), XD_ARG(sr));
    if (st != XD_OK) return st;
    cl_uint bs = dir > 0 ? 1 : d->SW; /* backward data: a work-item's outputs are every SW-th of a row */
    /* at stride 2, where its outputs go by rows, a pair of blocks (both phases) */
    cl_uint vw = ctx->params.vw, cv = one ? 1 : XD_CONV_CV;
    cl_uint rows = XD_CONV_ROWS_OK(ctx->params.conv_rows, vw, cv, qb);
    cl_uint ph = bs == 2 && rows ? 2 : 1;
    size_t items = (size_t)d->N * (KP / kb) * OH * (((OW + bs - 1) / bs + qb - 1) / qb * bs / ph);
    xd_kernel_id k = ph == 2 ? (one ? XD_K_conv2d_lanes1_pairs : XD_K_conv2d_lanes_pairs)
                             : (one ? XD_K_conv2d_lanes1 : XD_K_conv2d_lanes);
    return XD_LAUNCH(ctx, k, items, XD_ARG(src), XD_ARG(wt), XD_ARG(b), XD_ARG(out), XD_ARG(d->N), XD_ARG(R), XD_ARG(K),
                     XD_ARG(KP), XD_ARG(SH), XD_ARG(SW), XD_ARG(OH), XD_ARG(OW), XD_ARG(d->KH), XD_ARG(d->KW),
                     XD_ARG(d->PT), XD_ARG(d->PL), XD_ARG(dir), XD_ARG(has_bias), XD_ARG(relu), XD_ARG(d->SH),
                     XD_ARG(d->SW), XD_ARG(accum));
}

/* The channels-last backward-weights kernel for d and its taps a
 * work-item: one vector of output channels xd_conv2d_bwd_weights_cl1
 * (conv_cl1_tb), a 1x1 conv xd_conv2d_bwd_weights_cl_1x1 (1 tap), else
 * xd_conv2d_bwd_weights_cl (conv_cl_tb). */
static xd_kernel_id channels_last_kernel(const xd_context *ctx, const conv_dims *d, size_t *taps)
{
    if (d->O <= ctx->params.vw) {
        *taps = ctx->params.conv_cl1_tb;
        return XD_K_conv2d_bwd_weights_cl1;
    }
    if (d->KH * d->KW == 1) {
        *taps = 1;
        return XD_K_conv2d_bwd_weights_cl_1x1;
    }
    *taps = ctx->params.conv_cl_tb;
    return XD_K_conv2d_bwd_weights_cl;
}

/* Backward weights from dy channels last: any stride and padding, vector
 * lanes, and each dy value used by at least 4 work-items (input channels x
 * tap blocks; seed-cnn's single input channel: the copy would cost what it
 * saves).  Tap blocks of less than a kernel row count as one a row: more
 * of them re-read dy rather than share its copy (the AVX2 rows' 2 taps
 * would move seed-cnn's conv to channels last, measured 4-10 % slower). */
static int backward_weights_channels_last(const xd_context *ctx, const conv_dims *d)
{
    size_t T = (size_t)d->KH * d->KW, tb;
    channels_last_kernel(ctx, d, &tb);
    if (tb < d->KW) tb = d->KW;
    return ctx->params.vw > 1 && d->C * ((T + tb - 1) / tb) >= 4;
}

/* dyt [N, OH*OW, OP] into scratch 0 and, when db is given, the bias
 * gradient from the partials summed on the way (scratch 1, then
 * xd_reduce_rows: xd_conv2d_backward_bias's chains and order). */
static xd_status dy_channels_last(xd_context *ctx, const char *op, const conv_dims *d, cl_uint OP, const xd_tensor *dy,
                                  xd_tensor *db, cl_mem *dyt)
{
    cl_uint P = d->OH * d->OW;
    cl_int sums = db != NULL;
    xd_status st = xd_check_u32(ctx, op, "channels-last dy", (uint64_t)d->N * P * OP);
    if (st == XD_OK) st = xd_scratch(ctx, 0, (size_t)d->N * P * OP * 4, dyt);
    if (st != XD_OK) return st;
    cl_mem part = *dyt; /* any valid buffer without sums */
    if (sums) st = xd_scratch(ctx, 1, (size_t)d->N * d->O * 4, &part);
    if (st == XD_OK)
        st = XD_LAUNCH(ctx, XD_K_conv2d_dy_channels_last, (size_t)d->N * (OP / ctx->params.vw), XD_ARG(dy->mem),
                       XD_ARG(*dyt), XD_ARG(part), XD_ARG(d->N), XD_ARG(d->O), XD_ARG(P), XD_ARG(OP), XD_ARG(sums));
    if (st != XD_OK || !db) return st;
    return xd_reduce_rows(ctx, part, db->mem, d->O, d->N);
}

/* dyt (and db), then the kernel: one work-item per (channel block, input
 * channel, tap block) summing every sample when that gives each compute
 * unit several, else one per sample too and xd_reduce_rows. */
static xd_status channels_last_backward_weights(xd_context *ctx, const char *op, const conv_dims *d, const xd_tensor *x,
                                                const xd_tensor *dy, xd_tensor *dw, xd_tensor *db)
{
    size_t T = (size_t)d->KH * d->KW, tb;
    xd_kernel_id k = channels_last_kernel(ctx, d, &tb);
    cl_uint ob = ctx->params.vw * (k == XD_K_conv2d_bwd_weights_cl1 ? 1 : XD_CONV_OV), OP = (d->O + ob - 1) / ob * ob;
    cl_mem dyt, part = NULL;
    xd_status st = dy_channels_last(ctx, op, d, OP, dy, db, &dyt);
    if (st != XD_OK) return st;
    size_t blocks = (size_t)(OP / ob) * d->C * ((T + tb - 1) / tb);
    cl_int nsplit = blocks < 8 * (size_t)(ctx->device.compute_units ? ctx->device.compute_units : 1);
    cl_uint rows = d->O * d->C * (cl_uint)T;
    if (nsplit && (st = xd_scratch(ctx, 1, (size_t)rows * d->N * 4, &part)) != XD_OK) return st;
    cl_mem pm = part ? part : dyt; /* any valid buffer when the kernel writes dw */
    st = XD_LAUNCH(ctx, k, blocks * (nsplit ? d->N : 1), XD_ARG(x->mem), XD_ARG(dyt), XD_ARG(dw->mem), XD_ARG(pm),
                   XD_ARG(d->N), XD_ARG(d->C), XD_ARG(d->H), XD_ARG(d->W), XD_ARG(d->O), XD_ARG(d->KH), XD_ARG(d->KW),
                   XD_ARG(d->OH), XD_ARG(d->OW), XD_ARG(d->SH), XD_ARG(d->SW), XD_ARG(OP), XD_ARG(nsplit),
                   XD_ARG(d->PT), XD_ARG(d->PL));
    if (st != XD_OK || !nsplit) return st;
    return xd_reduce_rows(ctx, part, dw->mem, rows, d->N);
}

static xd_status forward(xd_context *ctx, const char *op, const xd_conv2d_params *p, const xd_tensor *x,
                         const xd_tensor *w, const xd_tensor *b, xd_tensor *y, cl_int relu)
{
    conv_dims d = {0};
    xd_status st = conv_check(ctx, op, p, x, "x", w, y, "y", &d);
    if (st != XD_OK) return st;
    if (b) {
        if ((st = xd_check_tensor(ctx, op, "b", b, XD_DTYPE_F32, 1)) != XD_OK) return st;
        if (b->count != d.O)
            return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: b has %zu elements, w has %u output channels", op, b->count,
                           d.O);
    }
    /* im2col + GEMM + permute only pays with a longer reduction than a
     * single-channel 3x3 (measured: 0.8x of the direct kernel on PoCL) */
    size_t ck = (size_t)d.C * d.KH * d.KW;
    if (xd_fast_gemm(ctx, d.O, (size_t)d.N * d.OH * d.OW, ck >= XD_FAST_CONV_MIN_CK ? ck : 0))
        return fast_forward(ctx, op, &d, x, w, b, y, relu);
    cl_int has_bias = b != NULL;
    cl_mem bm = b ? b->mem : w->mem; /* any valid buffer when there is no bias */
    if (on_lanes(ctx, &d, d.OW, d.O)) return lanes_conv(ctx, op, &d, 1, x->mem, w->mem, bm, y->mem, has_bias, relu, 0);
    /* conv_ob output channels x vw outputs of one row per work-item (XD_CONV_OB, XD_VW) */
    size_t nob = (d.O + ctx->params.conv_ob - 1) / ctx->params.conv_ob;
    size_t nv = (d.OW + ctx->params.vw - 1) / ctx->params.vw;
    return XD_LAUNCH(ctx, XD_K_conv2d_fwd, (size_t)d.N * nob * d.OH * nv, XD_ARG(x->mem), XD_ARG(w->mem), XD_ARG(bm),
                     XD_ARG(y->mem), XD_ARG(d.N), XD_ARG(d.C), XD_ARG(d.H), XD_ARG(d.W), XD_ARG(d.O), XD_ARG(d.KH),
                     XD_ARG(d.KW), XD_ARG(d.OH), XD_ARG(d.OW), XD_ARG(d.SH), XD_ARG(d.SW), XD_ARG(d.PT), XD_ARG(d.PL),
                     XD_ARG(has_bias), XD_ARG(relu));
}

xd_status xd_conv2d_forward(xd_context *ctx, const xd_conv2d_params *p, const xd_tensor *x, const xd_tensor *w,
                            const xd_tensor *b, xd_tensor *y)
{
    return forward(ctx, "conv2d_forward", p, x, w, b, y, 0);
}

xd_status xd_conv2d_forward_relu(xd_context *ctx, const xd_conv2d_params *p, const xd_tensor *x, const xd_tensor *w,
                                 const xd_tensor *b, xd_tensor *y)
{
    return forward(ctx, "conv2d_forward_relu", p, x, w, b, y, 1);
}

xd_status xd_conv2d_backward_data(xd_context *ctx, const xd_conv2d_params *p, const xd_tensor *dy, const xd_tensor *w,
                                  xd_tensor *dx)
{
    conv_dims d = {0};
    xd_status st = conv_check(ctx, "conv2d_backward_data", p, dx, "dx", w, dy, "dy", &d);
    if (st != XD_OK) return st;
    if (xd_fast_gemm(ctx, (size_t)d.C * d.KH * d.KW, (size_t)d.N * d.OH * d.OW, d.O))
        return fast_backward_data(ctx, "conv2d_backward_data", &d, dy, w, dx);
    cl_int no = 0;
    if (on_lanes(ctx, &d, d.W, d.C))
        return lanes_conv(ctx, "conv2d_backward_data", &d, -1, dy->mem, w->mem, w->mem, dx->mem, no, no, no);
    /* conv_ob input channels x vw inputs of one row per work-item (XD_CONV_OB, XD_VW) */
    size_t ncb = (d.C + ctx->params.conv_ob - 1) / ctx->params.conv_ob;
    size_t nv = (d.W + ctx->params.vw - 1) / ctx->params.vw;
    return XD_LAUNCH(ctx, XD_K_conv2d_bwd_data, (size_t)d.N * ncb * d.H * nv, XD_ARG(dy->mem), XD_ARG(w->mem),
                     XD_ARG(dx->mem), XD_ARG(d.N), XD_ARG(d.C), XD_ARG(d.H), XD_ARG(d.W), XD_ARG(d.O), XD_ARG(d.KH),
                     XD_ARG(d.KW), XD_ARG(d.OH), XD_ARG(d.OW), XD_ARG(d.SH), XD_ARG(d.SW), XD_ARG(d.PT), XD_ARG(d.PL));
}

/* The lanes kernels add into acc in their store (the add step's operands in
 * its order: acc + dx); the other paths compute into tmp and add. */
xd_status xd_conv2d_backward_data_accumulate(xd_context *ctx, const xd_conv2d_params *p, const xd_tensor *dy,
                                             const xd_tensor *w, xd_tensor *tmp, xd_tensor *acc)
{
    static const char op[] = "conv2d_backward_data_accumulate";
    conv_dims d = {0};
    xd_status st = conv_check(ctx, op, p, acc, "acc", w, dy, "dy", &d);
    if (st != XD_OK) return st;
    if ((st = xd_check_tensor(ctx, op, "tmp", tmp, XD_DTYPE_F32, 1)) != XD_OK) return st;
    if (tmp->count != acc->count)
        return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: tmp has %zu elements, acc %zu", op, tmp->count, acc->count);
    cl_int no = 0, yes = 1;
    if (!xd_fast_gemm(ctx, (size_t)d.C * d.KH * d.KW, (size_t)d.N * d.OH * d.OW, d.O) && on_lanes(ctx, &d, d.W, d.C))
        return lanes_conv(ctx, op, &d, -1, dy->mem, w->mem, w->mem, acc->mem, no, no, yes);
    if ((st = xd_conv2d_backward_data(ctx, p, dy, w, tmp)) != XD_OK) return st;
    return xd_add_forward(ctx, acc, tmp, acc);
}

/* The per-sample partials of dW (and with db, of db in the same pass over
 * dy: bpart), then the fixed-order reductions over the samples. */
static xd_status partial_backward_weights(xd_context *ctx, const conv_dims *d, const xd_tensor *x, const xd_tensor *dy,
                                          xd_tensor *dw, xd_tensor *db)
{
    size_t parts = dw->count * d->N;
    cl_mem part, bpart = NULL;
    xd_status st = xd_scratch(ctx, 0, parts * 4, &part);
    if (st == XD_OK && db) st = xd_scratch(ctx, 1, (size_t)d->N * d->O * 4, &bpart);
    if (st != XD_OK) return st;
    cl_int with_bias = db != NULL;
    cl_mem bm = db ? bpart : part; /* any valid buffer without a bias */
    /* vw output channels x conv_tb taps per work-item (XD_VW, XD_CONV_TB) */
    size_t taps = (size_t)d->KH * d->KW;
    size_t items = (size_t)((d->O + ctx->params.vw - 1) / ctx->params.vw) * d->C *
                   ((taps + ctx->params.conv_tb - 1) / ctx->params.conv_tb) * d->N;
    st = XD_LAUNCH(ctx, XD_K_conv2d_bwd_weights_partial, items, XD_ARG(x->mem), XD_ARG(dy->mem), XD_ARG(part),
                   XD_ARG(d->N), XD_ARG(d->C), XD_ARG(d->H), XD_ARG(d->W), XD_ARG(d->O), XD_ARG(d->KH), XD_ARG(d->KW),
                   XD_ARG(d->OH), XD_ARG(d->OW), XD_ARG(d->SH), XD_ARG(d->SW), XD_ARG(d->PT), XD_ARG(d->PL), XD_ARG(bm),
                   XD_ARG(with_bias));
    if (st == XD_OK) st = xd_reduce_rows(ctx, part, dw->mem, (cl_uint)dw->count, d->N);
    if (st != XD_OK || !db) return st;
    return xd_reduce_rows(ctx, bpart, db->mem, d->O, d->N);
}

/* dW, and db when given: db in the same pass over dy on the per-sample
 * path, in dy's move to channels last on the channels-last path, else (fast
 * mode's GEMM) the weights' path followed by xd_conv2d_backward_bias. */
static xd_status backward_weights(xd_context *ctx, const char *op, const xd_conv2d_params *p, const xd_tensor *x,
                                  const xd_tensor *dy, xd_tensor *dw, xd_tensor *db)
{
    conv_dims d = {0};
    xd_status st = conv_check(ctx, op, p, x, "x", dw, dy, "dy", &d);
    if (st != XD_OK) return st;
    if (dw->shape[0] != dy->shape[1])
        return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: dw has %lld output channels, dy %lld", op,
                       (long long)dw->shape[0], (long long)dy->shape[1]);
    if (db && db->count != d.O)
        return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: db has %zu elements, dy %u channels", op, db->count, d.O);
    if (xd_fast_gemm(ctx, d.O, (size_t)d.C * d.KH * d.KW, (size_t)d.N * d.OH * d.OW))
        st = fast_backward_weights(ctx, op, &d, x, dy, dw);
    else if (backward_weights_channels_last(ctx, &d)) return channels_last_backward_weights(ctx, op, &d, x, dy, dw, db);
    else return partial_backward_weights(ctx, &d, x, dy, dw, db);
    return st == XD_OK && db ? xd_conv2d_backward_bias(ctx, dy, db) : st;
}

xd_status xd_conv2d_backward_weights(xd_context *ctx, const xd_conv2d_params *p, const xd_tensor *x,
                                     const xd_tensor *dy, xd_tensor *dw)
{
    return backward_weights(ctx, "conv2d_backward_weights", p, x, dy, dw, NULL);
}

xd_status xd_conv2d_backward_weights_bias(xd_context *ctx, const xd_conv2d_params *p, const xd_tensor *x,
                                          const xd_tensor *dy, xd_tensor *dw, xd_tensor *db)
{
    const char *op = "conv2d_backward_weights_bias";
    if (!ctx) return XD_INVALID_ARGUMENT;
    xd_status st = xd_check_tensor(ctx, op, "db", db, XD_DTYPE_F32, 1);
    return st == XD_OK ? backward_weights(ctx, op, p, x, dy, dw, db) : st;
}

xd_status xd_conv2d_backward_bias(xd_context *ctx, const xd_tensor *dy, xd_tensor *db)
{
    const char *op = "conv2d_backward_bias";
    xd_status st;
    if (!ctx) return XD_INVALID_ARGUMENT;
    if ((st = xd_check_tensor(ctx, op, "dy", dy, XD_DTYPE_F32, 4)) != XD_OK) return st;
    if ((st = xd_check_tensor(ctx, op, "db", db, XD_DTYPE_F32, 1)) != XD_OK) return st;
    if (dy->ndim != 4 || (int64_t)db->count != dy->shape[1])
        return xd_fail(ctx, XD_SHAPE_MISMATCH, 0, "%s: dy must be [N,O,H,W] and db [O]", op);
    if ((st = xd_check_u32(ctx, op, "dy size", dy->count)) != XD_OK) return st;
    cl_uint N = (cl_uint)dy->shape[0], O = (cl_uint)dy->shape[1];
    cl_uint HW = (cl_uint)(dy->shape[2] * dy->shape[3]);
    cl_mem part;
    if ((st = xd_scratch(ctx, 0, (size_t)N * O * 4, &part)) != XD_OK) return st;
    size_t vw = ctx->params.vw;
    /* batch norm's kind 0: the same chains, part[o*N + n] from 0, (h, w)
     * ascending, of its first buffer (dy here); kind 0 reads neither the
     * mean nor the dy argument (dy again: any valid buffer) */
    cl_int sums = 0;
    if (vw > 1)
        st = XD_LAUNCH(ctx, XD_K_bn_partial_v, (size_t)O * ((N + vw - 1) / vw), XD_ARG(dy->mem), XD_ARG(dy->mem),
                       XD_ARG(dy->mem), XD_ARG(part), XD_ARG(N), XD_ARG(O), XD_ARG(HW), XD_ARG(sums));
    else
        st = XD_LAUNCH(ctx, XD_K_conv2d_bwd_bias_partial, (size_t)N * O, XD_ARG(dy->mem), XD_ARG(part), XD_ARG(N),
                       XD_ARG(O), XD_ARG(HW));
    if (st != XD_OK) return st;
    return xd_reduce_rows(ctx, part, db->mem, O, N);
}
