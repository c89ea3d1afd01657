/* The trace reader's internals, for the library's stages that judge
 * traces (compare, train's resume): the parsed trace's fields, and the
 * recorded settings the comparison reads as they were written.  Only
 * host/io touches the JSON document; every other stage asks these
 * accessors.  Never installed. */
#ifndef XD_HOST_IO_TRACE_H
#define XD_HOST_IO_TRACE_H

#include <stddef.h>
#include <stdint.h>

#include "crossdev/trace.h"

struct json_t;

/* The parsed trace: read-only for every stage but io. */
struct xd_trace {
    char dir[1024];
    int version;
    char model[64];
    char mode[32];
    uint64_t seed;
    int64_t batch;
    int64_t steps;           /* steps recorded (loss and hashes hold this many) */
    int64_t steps_requested; /* -1 when the trace does not say */
    char device_id[320];
    char device_name[160];
    char driver[160];
    char build_options[512];
    char guarantee[256];
    char crossdev_version[32];
    char producer[96]; /* a framework trace's "framework framework_version" ("pytorch 1.13.0"); "" for crossdev's */
    char data_name[64];
    int synthetic;
    int has_data_checksum; /* data.checksum: the decoded arrays' hash, what decides "same data" */
    uint64_t data_checksum;
    /* the batch order: "batches_hash" (the XXH3 of batches.npy's int32
     * data), or computed from batches.npy by xd_trace_open for traces that
     * predate the field; 0 when neither is there */
    int has_batches_hash;
    uint64_t batches_hash;
    /* "batch_hashes": per step, the XXH3 of what it trained on (the
     * inputs as float32 in (N, H, W, C) order, then the labels as int32);
     * NULL when the trace does not say */
    uint64_t *batch_hashes;
    struct {
        char name[32];                          /* "adam", "sgd" */
        char variant[16];                       /* "keras", "pytorch"; "" in traces before models were data */
        double lr, beta1, beta2, eps, momentum; /* NaN when absent */
        int nesterov;                           /* -1 when absent */
        xd_lr_schedule schedule;                /* "schedule", when present; else CONSTANT */
    } optimizer;
    char partial_batch[32];
    float *loss; /* [steps], loss[k] after step k+1 */
    size_t ntensors;
    char (*tensor_names)[XD_TRACE_NAME_LEN];
    uint64_t *hashes;      /* [steps][ntensors]: state after each step */
    uint64_t *init_hashes; /* [ntensors]: step 0 */
    size_t nops;           /* 0 unless made with --hash-ops */
    int op_updates_state;  /* op_hashes.updates is XD_OP_UPDATES_HASH: an update op's hash covers the
                              parameter and its optimizer state (older traces: the parameter alone) */
    char (*op_names)[XD_TRACE_NAME_LEN];
    uint64_t *op_hashes; /* [steps][nops] */
    size_t nsnapshots;
    int64_t *snapshots;              /* sorted steps with a step-XXXXXX/ folder */
    double test_loss, test_accuracy; /* NaN when not evaluated */
    int64_t eval_n;                  /* test samples of that evaluation (0: not said) */
    size_t nop_outputs;              /* steps with an ops-XXXXXX/ folder (--op-outputs-at) */
    int64_t *op_outputs;
    int64_t nonfinite_step; /* first step with a NaN/Inf, -1 when none */
    char nonfinite_tensor[XD_TRACE_NAME_LEN];
    char data_source[1024]; /* data.source, "" when not said */
    struct json_t *doc;     /* the parsed document: read by host/io alone (the accessors below) */
};

/* A recorded settings section as written ("model", "model_spec",
 * "optimizer", "layout", "training", "producer", "device", ...), for the
 * comparison's leaf-by-leaf difference and the report's copy of a run's
 * producer and device; NULL when the trace has none. */
struct json_t *xd_trace_section(const xd_trace *t, const char *key); /* read only */
/* A framework run's producer: the string at `key` ("framework",
 * "backend", "recorder"), "" when absent; the flag at `key`
 * ("tf32_matmul"): 1 true, 0 false, -1 absent or not a flag. */
const char *xd_trace_producer_text(const xd_trace *t, const char *key);
int xd_trace_producer_flag(const xd_trace *t, const char *key);
/* device.type ("cpu", "gpu"), "" when not said. */
const char *xd_trace_device_type(const xd_trace *t);

/* What the comparison reads of the model_spec a trace recorded (crossdev's
 * spec, or a framework's {name, source, repr}): its layers as written (a
 * framework's spec may name layers crossdev does not build), the loss's
 * options and the module's repr. */
typedef struct xd_trace_layer {
    const char *type, *name, *activation; /* "" when absent */
    double rate;                          /* Dropout's rate, 0 when absent */
    int use_bias;                         /* 1 only when use_bias is true */
} xd_trace_layer;
size_t xd_trace_layer_count(const xd_trace *t);
xd_trace_layer xd_trace_layer_at(const xd_trace *t, size_t i);
/* 1 when layer j reads layer i's output (its "inputs", or the layer
 * before it when the spec names none). */
int xd_trace_layer_reads(const xd_trace *t, size_t j, size_t i);
const char *xd_trace_loss_form(const xd_trace *t); /* model_spec.loss.form, "" when absent */
int xd_trace_loss_from_logits(const xd_trace *t);  /* 1 true, 0 false, -1 absent */
const char *xd_trace_spec_repr(const xd_trace *t); /* model_spec.repr (a PyTorch module's), "" when absent */

#endif
