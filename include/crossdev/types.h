/* crossdev — the enums two stages share, here so that neither includes the
 * other's header (host/README.md): element types, of device tensors
 * (tensor.h) and of the host's array files (io.h); the form of Keras's
 * cross-entropy from probabilities, a field of the model spec (model.h)
 * and an argument of the op (ops.h). */
#ifndef CROSSDEV_TYPES_H
#define CROSSDEV_TYPES_H

/* Device tensors hold XD_DTYPE_F32 and XD_DTYPE_I32 alone (xd_tensor_create
 * refuses the others); the host's arrays also hold bytes and 64-bit
 * elements, what an .npz data set may store (io.h, xd_npy_array). */
typedef enum xd_dtype {
    XD_DTYPE_F32,
    XD_DTYPE_I32,
    XD_DTYPE_U8,  /* numpy '|u1': host arrays only */
    XD_DTYPE_I64, /* '<i8': host arrays only */
    XD_DTYPE_F64  /* '<f8': host arrays only */
} xd_dtype;

/* Keras's two formulas of the cross-entropy from probabilities (ops.h,
 * xd_sparse_xent_probs_form; docs/models.md). */
typedef enum xd_xent_form {
    XD_XENT_RENORMALISE_CLIP, /* Keras on JAX (and torch): p / sum p, then clipped; the default */
    XD_XENT_CLIP_RENORMALISE  /* Keras on TensorFlow: each p clipped, then c_label / sum c */
} xd_xent_form;

#endif
