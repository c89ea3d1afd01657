/* crossdev — data, the model, training and traces. */
#ifndef CROSSDEV_TRAIN_H
#define CROSSDEV_TRAIN_H

#include <signal.h>
#include <stddef.h>
#include <stdint.h>

#include "crossdev/model.h"
#include "crossdev/ops.h"
#include "crossdev/trace.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- datasets ------------------------------------------------------------------
 * Images as float32 NCHW: bytes x/255.0f (computed on the host), an .npz's
 * float32 as stored and float64 rounded to float32 (scale says which). */
typedef struct xd_dataset {
    char name[64];    /* "fashion-mnist", "mnist-format", "npz", "synthetic" */
    char source[512]; /* directory or .npz file read, or "seeded synthetic (seed N)" */
    int synthetic;    /* 1: made up, labelled so in every output */
    int64_t n_train, n_test;
    int64_t height, width, channels;
    int64_t classes;  /* the largest label + 1 (a model needs at least these outputs) */
    float *train_x;   /* [n_train, C, H, W] */
    int32_t *train_y; /* [n_train] */
    float *test_x;
    int32_t *test_y;
    uint64_t checksum; /* XXH3-64 over the four decoded arrays (bytes as stored) */
    char scale[32];    /* how the stored values became the images: "x/255", "as stored (float32)",
                          "float64 rounded to float32" (trace.json's data.scale) */
} xd_dataset;

/* The learning rate of the update at step t (t >= 1) as a float32: the
 * optimizer's lr, or its Keras schedule at the iteration count Keras passes
 * it, t - 1 (iterations counts the updates done), computed in float32 in
 * Keras's order with crossdev's host pow and cos (host/train/lr.c). */
XD_API float xd_lr_at(const xd_optimizer_spec *o, int64_t iterations);

/* What each of `steps` steps trained on, as trace.json's "batch_hashes":
 * per step, XXH3-64 of its `batch` samples' images as float32 in (H, W, C)
 * order, one after the other, then their labels as int32 (the indices
 * batches[k * batch + j] must be training samples of d).  Framework
 * recorders hash the same bytes (crossdev.hashing.batch_hash). */
XD_API xd_status xd_dataset_batch_hashes(const xd_dataset *d, const int32_t *batches, int64_t steps, int64_t batch,
                                         uint64_t *out, xd_error *err);

#define XD_FASHION_MNIST_DIR "/usr/share/datasets/fashion-mnist"

/* Reads train-images-idx3-ubyte, train-labels-idx1-ubyte, t10k-images-idx3-ubyte
 * and t10k-labels-idx1-ubyte (each plain or .gz) from dir, validating counts,
 * shapes and labels (bytes, 0..255); images (count, rows, cols) or, channels
 * last, (count, rows, cols, channels).  XD_IO when a file is missing,
 * XD_FORMAT when one is malformed; err names the file. */
XD_API xd_status xd_dataset_load_idx(const char *dir, xd_dataset **out, xd_error *err);
/* Reads an .npz as Keras users keep their data (np.savez or
 * np.savez_compressed of keras.datasets.*.load_data()'s arrays): x_train,
 * y_train, x_test, y_test; images (count, rows, cols) or, channels last,
 * (count, rows, cols, channels) of uint8 (scaled x/255.0f, as IDX files:
 * the same bytes give the same data and checksum), float32 (as stored) or
 * float64 (rounded to float32, as Keras's fit casts it), finite; labels
 * (count,) or (count, 1) of uint8, int32 or int64, from 0.  XD_FORMAT
 * naming the file and the array for anything else (one-hot labels, float
 * labels, a missing array, counts or image shapes that disagree, not a zip
 * archive), XD_IO when it cannot be opened. */
XD_API xd_status xd_dataset_load_npz(const char *path, xd_dataset **out, xd_error *err);
/* A seeded synthetic set of the same shapes (28x28x1, 10 classes): each class a
 * Philox-drawn template plus noise, so a model can learn it. */
XD_API xd_status xd_dataset_synthetic(uint64_t seed, int64_t n_train, int64_t n_test, xd_dataset **out, xd_error *err);
/* The same for any image shape (H, W, C) and number of classes. */
XD_API xd_status xd_dataset_synthetic_shaped(uint64_t seed, int64_t n_train, int64_t n_test, int64_t height,
                                             int64_t width, int64_t channels, int64_t classes, xd_dataset **out,
                                             xd_error *err);
XD_API void xd_dataset_destroy(xd_dataset *d);

/* ---- training -------------------------------------------------------------------- */
typedef struct xd_train_config {
    const char *model;         /* a built-in model's name when spec is NULL ("seed-cnn") */
    const xd_model_spec *spec; /* the model (xd_model_spec_builtin / xd_model_spec_load), or NULL */
    const xd_weights *weights; /* initial weights (a file's), or NULL: the spec's initializers */
    uint64_t seed;
    int64_t batch;               /* >= 1, <= n_train */
    int64_t steps;               /* > 0: run this many steps ... */
    int64_t epochs;              /* ... or, when steps == 0, this many epochs */
    xd_optimizer_spec optimizer; /* xd_train_optimizer gives the model's own */
    int64_t snapshot_every;      /* 0: none besides the schedule */
    const int64_t *snapshot_at;  /* NULL: the default schedule */
    size_t n_snapshot_at;
    int hash_ops;                 /* record a hash of every op's output per step */
    const int64_t *op_outputs_at; /* with hash_ops: steps whose op outputs are stored (ops-XXXXXX/) */
    size_t n_op_outputs_at;
    int64_t eval_every;           /* 0: evaluate at the end only */
    int64_t eval_limit;           /* evaluate on the first N test samples; 0: all; -1: no evaluation */
    int stop_on_nonfinite;        /* 1: stop at the first NaN/Inf (recorded either way) */
    const char *out_dir;          /* the trace directory to create (must not exist) */
    const char *resume;           /* NULL, or a trace to continue from its last snapshot */
    const xd_trace *resume_trace; /* that trace, already open (xd_train_config_from_trace); NULL: open resume */
    const char *export_weights;   /* NULL, or a .weights.h5 to write the final weights to (Keras layout) */
    volatile sig_atomic_t *stop;  /* set non-zero (e.g. by SIGINT) to stop cleanly */
    /* progress callback, called after each step (may be NULL) */
    void (*progress)(void *user, int64_t step, int64_t steps, float loss, double seconds);
    void *user;
} xd_train_config;

XD_API xd_train_config xd_train_defaults(void);

/* ---- resuming: the trace's settings unless given --------------------------------- */
/* The settings a caller gave for a resumed run; xd_train_config_from_trace
 * takes every other from the trace. */
enum {
    XD_GIVEN_SEED = 1u << 0,
    XD_GIVEN_BATCH = 1u << 1,
    XD_GIVEN_MODE = 1u << 2,
    XD_GIVEN_HASH_OPS = 1u << 3,
    XD_GIVEN_MODEL = 1u << 4,
    XD_GIVEN_OPTIMIZER = 1u << 5,
    XD_GIVEN_DATA = 1u << 6
};
/* What a resumed run takes from its trace beyond xd_train_config. */
typedef struct xd_train_resume {
    xd_mode mode;       /* in: the mode given (XD_GIVEN_MODE); out: the trace's */
    xd_model_spec spec; /* in: the model given (XD_GIVEN_MODEL); out: the trace's (cfg->spec points here) */
    /* out, unless XD_GIVEN_DATA: the trace's data folder when it still
     * exists and the data was real (else NULL), and whether it was the
     * seeded synthetic set */
    const char *data_dir;
    int synthetic;
    /* out, on XD_MISMATCH: the given setting that conflicts (its XD_GIVEN_
     * bit; field, the given value in a, the trace's in b) */
    unsigned conflict_given;
    xd_setting_difference conflict;
} xd_train_resume;
/* Fills cfg for continuing trace t (opened by the caller, who keeps it
 * open for xd_train_run): seed, batch, op hashing, the model, the
 * optimizer (cfg->optimizer, in full), the mode and the data are the
 * trace's unless `given` says the caller set them; a given one that differs
 * from the trace's is refused (XD_MISMATCH, naming both values: a resumed
 * run continues the very computation the trace began).  Sets cfg->resume
 * and cfg->resume_trace.  XD_FORMAT when the trace's model or optimizer is
 * not one crossdev knows. */
XD_API xd_status xd_train_config_from_trace(xd_train_config *cfg, xd_train_resume *r, const xd_trace *t, unsigned given,
                                            xd_error *err);
/* The optimizer a model trains with unless told otherwise: its file's
 * compile_config, else Adam with its defaults in Keras's form for a Keras
 * model (mnist-convnet included) and in PyTorch's for seed-cnn. */
XD_API xd_optimizer_spec xd_train_optimizer(const xd_model_spec *spec);
/* A warning for a loss that treats outputs as what they are not (Keras
 * does it silently): from_logits=False on a linear last layer (its outputs
 * are taken for probabilities), or from_logits=True after a softmax.
 * Writes it (naming the layer and the option) and returns 1, else 0. */
XD_API int xd_model_spec_loss_warning(const xd_model_spec *spec, char *buf, size_t cap);

typedef struct xd_train_result {
    int64_t steps_done;
    float final_loss;
    double test_loss, test_accuracy; /* NaN when not evaluated */
    int64_t first_nonfinite_step;    /* -1 when none */
    double seconds_total, seconds_steps;
    uint64_t device_bytes_peak;
    /* The second half of the steps (those after step start + (total -
     * start) / 2 was recorded; all of them in a run of one step or one that
     * stopped before): the rate once every
     * kernel has run and every buffer been touched, as PyTorch's and
     * Keras's benches measure theirs (tools/bench-models). */
    int64_t steps_steady;
    double seconds_steady;
} xd_train_result;

/* Trains the model on the context's device and writes the trace directory
 * atomically (built under a temporary name, renamed when complete; nothing
 * left behind on failure or interruption).  err gets the message. */
XD_API xd_status xd_train_run(xd_context *ctx, const xd_dataset *data, const xd_train_config *cfg,
                              xd_train_result *result, xd_error *err);

/* The default snapshot schedule for a run of `steps` steps: 0, 1, 2, 3, 5,
 * 10, 20, 50, 100, 101, then pairs k*500, k*500+1, and the last step.
 * Writes at most cap entries (sorted, unique); returns how many there are. */
XD_API size_t xd_default_snapshots(int64_t steps, int64_t *out, size_t cap);

#ifdef __cplusplus
}
#endif
#endif
