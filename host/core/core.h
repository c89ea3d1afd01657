/* The core stage's internals (device, context, program, tensors, launches,
 * tunables, profile, self-test), shared with the stages above it; never
 * installed.  The one place the OpenCL headers come in (cl.h).
 *
 * Inside core, each file calls only files listed before it here (so no
 * call cycle, which tools/check-stages --objects checks):
 *   cl_error.c       OpenCL error names
 *   device.c         the device list
 *   isa.c            the vector instruction set a CPU device compiles for
 *   params.c         the tunables table
 *   profile.c        per-kernel times
 *   context_base.c   the context's last error (xd_fail), its accessors, the
 *                    mode's names, xd_context_finish, the scratch buffers
 *   program_cache.c  building a program: from the kernel-binary cache or
 *                    from source (then stored in the cache)
 *   program.c, tensor.c, launch.c
 *                    programs, tensors and launches on a context
 *   probe.c          the self-test, made of those
 *   context.c        creating a context (tunables, options, queue, program,
 *                    self-test) and destroying it
 *   device_json.c    a device as JSON, with context.c's reproducible-mode
 *                    check
 * A stage above that caches programs built on a context (ops' CLBlast)
 * hands core a release hook (xd_context.release_cache) rather than core
 * calling it. */
#ifndef XD_HOST_CORE_H
#define XD_HOST_CORE_H

#include <stdarg.h>
#include <stddef.h>

#include "cl.h"
#include "common/common.h"
#include "crossdev/context.h"
#include "crossdev/device.h"
#include "crossdev/tensor.h"

const char *xd_cl_error_name(cl_int code);

/* Every kernel the library launches; name in the .cl files is "xd_" #name. */
/* clang-format off: one kernel per line */
#define XD_KERNEL_LIST(X)          \
    X(init_uniform)                \
    X(init_normal)                 \
    X(probe_math)                  \
    X(probe_loops)                 \
    X(probe_vloops)                \
    X(reduce_rows)                 \
    X(dense_fwd_partial)           \
    X(dense_fwd_partial_tiled)     \
    X(dense_bwd_data)              \
    X(dense_bwd_weights)           \
    X(transpose)                   \
    X(conv2d_fwd)                  \
    X(conv2d_bwd_data)             \
    X(conv2d_bwd_weights_partial)  \
    X(conv2d_bwd_bias_partial)     \
    X(conv2d_lanes)                \
    X(conv2d_weights_lanes)        \
    X(conv2d_dy_channels_last)     \
    X(conv2d_bwd_weights_cl)       \
    X(relu_fwd)                    \
    X(relu_bwd)                    \
    X(softmax_xent_rows)           \
    X(mean)                        \
    X(adam)                        \
    X(im2col)                      \
    X(col2im)                      \
    X(permute3)                    \
    X(add_bias_rows)               \
    X(maxpool_fwd)                 \
    X(maxpool_fwd_v)               \
    X(maxpool_bwd)                 \
    X(maxpool_bwd_disjoint)        \
    X(avgpool_fwd)                 \
    X(avgpool_bwd)                 \
    X(dropout)                     \
    X(bn_partial)                  \
    X(bn_stat)                     \
    X(bn_coeffs)                   \
    X(bn_apply)                    \
    X(bn_bwd_coeffs)               \
    X(bn_bwd_apply)                \
    X(bn_moving)                   \
    X(softmax_fwd)                 \
    X(softmax_bwd)                 \
    X(sparse_xent_probs_rows)      \
    X(sparse_xent_probs_clip_rows) \
    X(adam_keras)                  \
    X(sgd_keras)                   \
    X(sgd_torch)                   \
    X(add)                         \
    X(concat_copy)                 \
    X(bn_running)                  \
    X(l2_penalty)                  \
    X(l2_gradient)                 \
    X(act_fwd)                     \
    X(act_bwd)                     \
    X(global_maxpool_bwd)          \
    X(zeropad_fwd)                 \
    X(zeropad_bwd)                 \
    X(bn_partial_v)                \
    X(bn_apply_v)                  \
    X(bn_bwd_apply_v)              \
    X(conv2d_lanes1)               \
    X(conv2d_bwd_weights_cl1)      \
    X(conv2d_bwd_weights_cl_1x1)   \
    X(avgpool_bwd_plane)           \
    X(conv2d_lanes_pairs)          \
    X(conv2d_lanes1_pairs)
/* clang-format on */

typedef enum xd_kernel_id {
#define XD_KERNEL_ENUM_(name) XD_K_##name,
    XD_KERNEL_LIST(XD_KERNEL_ENUM_)
#undef XD_KERNEL_ENUM_
        XD_K_COUNT_
} xd_kernel_id;

/* The tunables, one line each (CLBlast's Database::GetDefines): the field,
 * the -D define the kernels read (each kernel file has an #ifndef default),
 * the default row's value, the range XD_PARAMS accepts, whether it must be a
 * power of two, and what it sets.  The list's order is the order of the -D
 * options in every trace's build_options.  They change scheduling only:
 * which work-item and lane computes an output, never a sum's order
 * (docs/reproducibility.md). */
#define XD_TUNABLES(X)                                                                                            \
    X(conv_ob, XD_CONV_OB, 4, 1, 64, 0, "conv2d output channels (backward data: input channels) per work-item")   \
    X(conv_tb, XD_CONV_TB, 4, 1, 64, 0, "conv2d backward-weights taps per work-item")                             \
    X(conv_cl_tb, XD_CONV_CL_TB, 4, 1, 64, 0, "the same for the channels-last backward-weights kernels")          \
    X(conv_cl1_tb, XD_CONV_CL1_TB, 4, 1, 64, 0, "the same for its kernel of one vector of output channels")       \
    X(conv_rows, XD_CONV_ROWS, 7, 0, 7, 0, "row stores, bits: 1 one-vector convs, 2 wider, 4 dy (else scatters)") \
    X(dense_ob, XD_DENSE_OB, 4, 1, 64, 0, "dense outputs per work-item")                                          \
    X(dense_nb, XD_DENSE_NB, 4, 1, 64, 0, "dense backward-data samples per work-item")                            \
    X(vw, XD_VW, 1, 1, 16, 1, "vector lanes per work-item (cl/xd_math.h)")                                        \
    X(local_size, XD_LOCAL_SIZE, 64, 1, 1024, 0, "work-group size of 1-D launches (capped by the device)")        \
    X(clblast, XD_CLBLAST, 1, 0, 2, 0, "fast mode's GEMM path: 0 own kernels, 1 CLBlast by size, 2 CLBlast")      \
    X(dense_tiled, XD_DENSE_TILED, 0, 0, 1, 0, "dense forward from local-memory tiles (GPUs: coalesced loads)")

typedef struct xd_params {
#define XD_TUNABLE_FIELD_(name, define, dflt, lo, hi, pow2, what) unsigned name;
    XD_TUNABLES(XD_TUNABLE_FIELD_)
#undef XD_TUNABLE_FIELD_
    const char *source; /* which table row matched, or "XD_PARAMS" */
} xd_params;
/* The values of the clblast tunable: the GEMM path of fast mode's dense and
 * conv2d ops (host/ops/blas.c); reproducible mode never calls CLBlast. */
enum { XD_CLBLAST_NEVER = 0, XD_CLBLAST_BY_SIZE = 1, XD_CLBLAST_ALWAYS = 2 };
/* The vector instruction set a CPU device's kernels are compiled for
 * (host/core/isa.c): the tunables table's rows are chosen by it. */
typedef enum xd_isa { XD_ISA_UNKNOWN = 0, XD_ISA_OTHER, XD_ISA_AVX2, XD_ISA_AVX512 } xd_isa;
/* From a device's description: PoCL's target CPU in its device version,
 * Intel's intel_target_arch (CL_CONFIG_CPU_TARGET_ARCH; NULL or "auto":
 * none), else a CPU's native float vector width (16 AVX-512, 8 AVX2). */
xd_isa xd_isa_from(const xd_device_info *d, unsigned native_float_width, const char *intel_target_arch);
/* xd_isa_from with the device's width and the environment's variable. */
xd_isa xd_device_isa(const xd_device_info *d);
const char *xd_isa_name(xd_isa isa);
/* The row for a device compiling for isa: id match (and ISA) -> vendor ->
 * default (host/core/params.c). */
xd_params xd_params_for(const xd_device_info *d, xd_isa isa);
/* XD_PARAMS="vw=8,dense_ob=10" applied to p; XD_INVALID_ARGUMENT naming the key. */
xd_status xd_params_override(xd_params *p, const char *spec, xd_error *err);
/* The environment's say for a context of the mode: XD_PARAMS (as
 * xd_params_override), then, in fast mode, XD_FAST_GEMM=always|never as
 * clblast=2|0 (any other value: no change), so that the build options, and
 * with them every trace, name the GEMM path that ran. */
xd_status xd_params_from_env(xd_params *p, xd_mode mode, xd_error *err);
/* " -DXD_CONV_OB=8 ... -DXD_DENSE_TILED=0", every tunable in list order. */
void xd_params_defines(const xd_params *p, char *buf, size_t cap);

struct xd_context {
    xd_device_info device;
    xd_mode mode;
    cl_context cl_ctx;
    cl_command_queue queue;
    cl_program program;
    cl_kernel kernels[XD_K_COUNT_];
    size_t local_size; /* explicit local size for 1-D launches */
    xd_params params;  /* tunables, also passed as -D options */
    int div_mode;      /* XD_DIV_MODE of the built program */
    char options[512]; /* build options actually used */
    char guarantee[256];
    cl_mem scratch; /* split-reduction partials, grown on demand */
    size_t scratch_bytes;
    cl_mem scratch2;
    size_t scratch2_bytes;
    /* Set by a stage above that caches programs built on this context (ops'
     * CLBlast, in fast mode): xd_context_destroy calls it before releasing
     * the context's own objects, so core never includes CLBlast. */
    void (*release_cache)(void);
    cl_int last_cl;
    char *last_error;      /* heap: may hold a whole build log */
    uint64_t device_bytes; /* bytes currently allocated by tensors + scratch */
    uint64_t device_bytes_peak;
    struct xd_profile *profile; /* XD_PROFILE=1: per-kernel event times (host/core/profile.c) */
};

struct xd_tensor {
    xd_context *ctx;
    xd_dtype dtype;
    int ndim;
    int64_t shape[XD_MAX_DIMS];
    size_t count;
    cl_mem mem;
    int view; /* xd_tensor_view's: shares mem (retained), not counted in device_bytes */
};

/* Set the context's last error and return status. */
xd_status xd_fail(xd_context *ctx, xd_status st, cl_int clerr, const char *fmt, ...) XD_PRINTF(4, 5);
/* Map an OpenCL error of `what` to a status with a message. */
xd_status xd_fail_cl(xd_context *ctx, cl_int clerr, const char *what);

/* jansson object for a device record (host/core/device_json.c). */
struct json_t;
struct json_t *xd_device_info_to_json(const xd_device_info *d);

/* A program built from source for the context's device with options.
 * cached: crossdev's own source (every header inlined, so the text is the
 * whole program): from the kernel-binary cache when it holds a valid entry,
 * else compiled (and then stored); the cache never turns a build into an
 * error (host/core/program_cache.c, docs/drivers.md).  A user's source may
 * #include files the key cannot see: compiled every time.  On a failed
 * compile the whole build log goes into the context's last error
 * (XD_BUILD_FAILED). */
xd_status xd_program_build(xd_context *ctx, const char *source, const char *options, int cached, cl_program *out);
/* xd_program_create for crossdev's own source (the self-test's builds): cached. */
xd_status xd_program_create_own(xd_context *ctx, const char *source, const char *extra_options, xd_program **out);

/* A user (or self-test) program built for a context. */
struct xd_program {
    xd_context *ctx;
    cl_program program;
};

/* Sources: embedded at build time, or from $XD_KERNEL_DIR during development. */
typedef struct xd_embedded_source {
    const char *name;
    const unsigned char *data;
    size_t size;
} xd_embedded_source;
extern const xd_embedded_source xd_embedded_sources[];
extern const size_t xd_embedded_source_count;
/* The whole program text (every cl source with xd_math.h inlined), malloc-ed. */
xd_status xd_program_source(xd_context *ctx, char **out);

/* Kernel launch: args, then a 1-D range of n work-items with the context's
 * explicit local size (global rounded up; kernels bound-check). */
typedef struct xd_arg {
    size_t size;
    const void *ptr;
} xd_arg;
#define XD_ARG(v) ((xd_arg){sizeof(v), &(v)})
xd_status xd_launch(xd_context *ctx, xd_kernel_id k, size_t n, const xd_arg *args, size_t nargs);
/* The same for any kernel object (the self-test's own builds): `local`
 * work-items per group (0: the context's choice, as xd_launch), global
 * rounded up to a multiple; id is the profile's kernel index, or -1. */
xd_status xd_launch_kernel(xd_context *ctx, cl_kernel kern, int id, size_t n, size_t local, const xd_arg *args,
                           size_t nargs);
/* A launch of `groups` work-groups of exactly `local` work-items (kernels
 * that share local memory within a group). */
xd_status xd_launch_groups(xd_context *ctx, xd_kernel_id k, size_t groups, size_t local, const xd_arg *args,
                           size_t nargs);
#define XD_LAUNCH_GROUPS(ctx, k, groups, local, ...)                               \
    xd_launch_groups((ctx), (k), (groups), (local), (const xd_arg[]){__VA_ARGS__}, \
                     sizeof((const xd_arg[]){__VA_ARGS__}) / sizeof(xd_arg))
#define XD_LAUNCH(ctx, k, n, ...) \
    xd_launch((ctx), (k), (n), (const xd_arg[]){__VA_ARGS__}, sizeof((const xd_arg[]){__VA_ARGS__}) / sizeof(xd_arg))

/* Per-kernel profiling (XD_PROFILE=1, host/core/profile.c): xd_launch hands
 * each launch's event over; the totals go to stderr when the context is
 * destroyed.  Off, it costs one pointer test per launch. */
struct xd_profile *xd_profile_create(void);
void xd_profile_record(xd_context *ctx, int kernel, cl_event ev);
void xd_profile_add_host(xd_context *ctx, double ns); /* a CLBlast call */
void xd_profile_report(xd_context *ctx);
void xd_profile_destroy(struct xd_profile *p);

/* dense backward data followed by the ReLU backward of the layer below
 * (relu_y: that ReLU's output), in one kernel: dx = (relu_y > 0) ? dy W : 0. */
xd_status xd_dense_backward_data_relu(xd_context *ctx, const xd_tensor *dy, const xd_tensor *w, const xd_tensor *relu_y,
                                      xd_tensor *dx);

/* Non-blocking transfers for the training loop: the host memory must stay
 * untouched (write) or unread (read) until the transfer is known complete
 * (its event, a later command's, or xd_context_finish).  done: NULL or
 * where the read's completion goes (the caller releases it). */
typedef struct xd_event {
    cl_event ev; /* NULL: none */
} xd_event;
xd_status xd_tensor_write_async(xd_tensor *t, const void *host, size_t bytes);
xd_status xd_tensor_read_async(const xd_tensor *t, void *host, size_t bytes, xd_event *done);
/* Waits for a read's completion (the context's last error on failure). */
xd_status xd_event_wait(xd_context *ctx, const xd_event *e);
/* Releases it and clears it; a cleared one is left as it is. */
void xd_event_release(xd_event *e);
/* Sends the commands queued so far to the device without waiting for them
 * (a hint: a failure shows at the next wait). */
void xd_context_flush(xd_context *ctx);

/* Scratch buffers of at least `bytes`, owned by the context. */
xd_status xd_scratch(xd_context *ctx, int which, size_t bytes, cl_mem *out);
/* out[p] = the add chain from 0 over k ascending of part[p * K + k], p < P:
 * the second stage of every split reduction (cl/reduce.cl, no bias). */
xd_status xd_reduce_rows(xd_context *ctx, cl_mem part, cl_mem out, cl_uint P, cl_uint K);

/* Shape checks used by the ops: fill the context error and return a status. */
xd_status xd_check_tensor(xd_context *ctx, const char *op, const char *name, const xd_tensor *t, xd_dtype dtype,
                          int min_ndim);
/* A count that fits the kernels' uint indexing. */
xd_status xd_check_u32(xd_context *ctx, const char *op, const char *what, uint64_t v);

#endif
