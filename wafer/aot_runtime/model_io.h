/* What the generated model.c defines for the runtime (runtime.c) and the
 * .npy runner (model_main.c): the weight arrays to fill from weights.bin, a
 * description of the entry point's buffers, and the call bracket that loads
 * the weights and reports failed runtime checks. Not part of the public
 * interface (model.h); the library does not export the weights. */
#ifndef WAFER_MODEL_IO_H
#define WAFER_MODEL_IO_H

#include <stddef.h>
#include <stdint.h>

/* weights.bin: this magic, a u64 count, count x (u64 offset, u64 nbytes),
 * then the arrays at their offsets; all little-endian. */
#define WAFER_WEIGHTS_MAGIC "WAFERWB1"

/* An array the compiled code reads as an external constant. */
struct wafer_weight {
    void *data;
    uint64_t nbytes;
};

/* The arrays in weights.bin's order, ended by one with data == NULL. */
extern const struct wafer_weight wafer_weights[];

/* One input or output buffer of the entry point: row-major, contiguous. */
struct wafer_tensor {
    const char *name;   /* in0, in1, ..., out0, ... */
    const char *descr;  /* its numpy dtype as .npy headers spell it, e.g. "<f4" */
    int rank;
    const int64_t *shape;
    uint64_t nbytes;
};

struct wafer_model {
    const char *function;  /* the entry point's name, e.g. "forward" */
    int (*call)(void *const *buffers);  /* the entry point on inputs, then outputs */
    int num_inputs, num_outputs;
    const struct wafer_tensor *tensors;  /* inputs, then outputs */
};

extern const struct wafer_model wafer_model;

/* Around each call of the compiled code: load the weights if not yet done
 * and forget earlier failures; then report whether a runtime check failed.
 * Both return a MODEL_* status of model.h. */
int wafer_begin_call(void);
int wafer_end_call(void);

#endif
