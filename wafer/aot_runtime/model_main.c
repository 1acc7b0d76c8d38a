/* model_main: run an exported model on .npy files, with no Python.
 *
 *     model_main IN0.npy [IN1.npy ...] OUT0.npy [OUT1.npy ...]
 *
 * Each input must hold the dtype and shape that model.h declares, in C
 * order; each output is written as a .npy file (format version 1.0). Exit
 * status: 0; 1 for a usage or file error; 2 if the model failed (a runtime
 * check, or the weights). */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model.h"
#include "model_io.h"

static const char NPY_MAGIC[] = "\x93NUMPY";

static int error(const char *format, ...) {
    va_list args;
    va_start(args, format);
    fputs("model_main: error: ", stderr);
    vfprintf(stderr, format, args);
    fputc('\n', stderr);
    va_end(args);
    return 1;
}

/* A shape as Python writes a tuple: (), (10,), (1, 10). The caller frees it. */
static char *shape_text(const struct wafer_tensor *tensor) {
    size_t size = 24 * (tensor->rank + 1);
    char *text = malloc(size);
    int used = snprintf(text, size, "(");
    for (int i = 0; i < tensor->rank; i++)
        used += snprintf(text + used, size - used, i ? ", %lld" : "%lld", (long long)tensor->shape[i]);
    snprintf(text + used, size - used, tensor->rank == 1 ? ",)" : ")");
    return text;
}

/* The text after `key` in a .npy header dictionary, blanks skipped. */
static const char *header_value(const char *header, const char *key) {
    const char *found = strstr(header, key);
    if (!found)
        return NULL;
    for (found += strlen(key); isspace((unsigned char)*found); found++)
        ;
    return found;
}

/* Does a .npy header dictionary describe `tensor`: its dtype, C order, its shape? */
static int header_matches(const char *header, const struct wafer_tensor *tensor) {
    const char *descr = header_value(header, "'descr':");
    const char *order = header_value(header, "'fortran_order':");
    const char *shape = header_value(header, "'shape':");
    size_t length = strlen(tensor->descr);
    if (!descr || *descr != '\'' || strncmp(descr + 1, tensor->descr, length) != 0 || descr[1 + length] != '\'')
        return 0;
    if (!order || strncmp(order, "False", 5) != 0 || !shape || *shape++ != '(')
        return 0;
    for (int i = 0; i < tensor->rank; i++) {
        char *end;
        long long dim = strtoll(shape, &end, 10);
        if (end == shape || dim != tensor->shape[i])
            return 0;
        for (shape = end; isspace((unsigned char)*shape) || *shape == ','; shape++)
            ;
    }
    return *shape == ')';
}

/* The header of a .npy file (version 1, 2 or 3), read up to the data; NULL if it is none. */
static char *read_header(FILE *file) {
    unsigned char start[8], size[4] = {0};
    if (fread(start, 1, 8, file) != 8 || memcmp(start, NPY_MAGIC, 6) != 0 || start[6] < 1 || start[6] > 3)
        return NULL;
    if (fread(size, 1, start[6] == 1 ? 2 : 4, file) != (start[6] == 1 ? 2u : 4u))
        return NULL;
    unsigned long length = size[0] | size[1] << 8 | (unsigned long)size[2] << 16 | (unsigned long)size[3] << 24;
    char *header = calloc(length + 1, 1);
    if (header && fread(header, 1, length, file) != length) {
        free(header);
        return NULL;
    }
    return header;
}

static int read_npy(const char *path, const struct wafer_tensor *tensor, void *data) {
    FILE *file = fopen(path, "rb");
    if (!file)
        return error("cannot read '%s'", path);
    char *header = read_header(file);
    int status = 0;
    if (!header) {
        status = error("'%s' is not a .npy file", path);
    } else if (!header_matches(header, tensor)) {
        char *shape = shape_text(tensor);
        status = error("'%s' must hold %s of shape %s in C order, as %s", path, tensor->descr, shape, tensor->name);
        free(shape);
    } else if (fread(data, 1, tensor->nbytes, file) != tensor->nbytes || fgetc(file) != EOF) {
        status = error("'%s' does not hold the %llu bytes of its shape", path, (unsigned long long)tensor->nbytes);
    }
    free(header);
    fclose(file);
    return status;
}

static int write_npy(const char *path, const struct wafer_tensor *tensor, const void *data) {
    char *shape = shape_text(tensor);
    const char *format = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }";
    int length = snprintf(NULL, 0, format, tensor->descr, shape);
    int padded = (10 + length + 1 + 63) / 64 * 64 - 10;  /* the data starts on a 64-byte boundary */
    char *header = malloc(padded + 1);
    snprintf(header, padded + 1, format, tensor->descr, shape);
    memset(header + length, ' ', padded - 1 - length);
    header[padded - 1] = '\n';
    unsigned char start[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, padded & 0xff, padded >> 8};
    FILE *file = fopen(path, "wb");
    int ok = file && fwrite(start, 1, sizeof start, file) == sizeof start &&
             fwrite(header, 1, padded, file) == (size_t)padded &&
             fwrite(data, 1, tensor->nbytes, file) == tensor->nbytes;
    ok = (file && fclose(file) == 0) && ok;
    free(header);
    free(shape);
    return ok ? 0 : error("cannot write '%s'", path);
}

int main(int argc, char **argv) {
    int count = wafer_model.num_inputs + wafer_model.num_outputs;
    if (argc != count + 1) {
        fprintf(stderr, "usage: %s", argv[0]);
        for (int i = 0; i < count; i++)
            fprintf(stderr, " %s.npy", wafer_model.tensors[i].name);
        fprintf(stderr, "\nruns @%s of the exported model on .npy inputs and writes its outputs as .npy\n",
                wafer_model.function);
        return 1;
    }
    void **buffers = calloc(count, sizeof *buffers);
    for (int i = 0; i < count; i++) {
        /* 64-byte aligned, as numpy's are; aligned_alloc takes a multiple of the alignment */
        buffers[i] = aligned_alloc(64, (wafer_model.tensors[i].nbytes / 64 + 1) * 64);
        if (!buffers[i])
            return error("out of memory for %s", wafer_model.tensors[i].name);
        if (i < wafer_model.num_inputs && read_npy(argv[1 + i], &wafer_model.tensors[i], buffers[i]) != 0)
            return 1;
    }
    if (wafer_model.call(buffers) != MODEL_OK) {
        const char *why = model_last_error();
        fprintf(stderr, "model_main: %s\n", why ? why : "error: the model failed");
        return 2;
    }
    for (int i = wafer_model.num_inputs; i < count; i++)
        if (write_npy(argv[1 + i], &wafer_model.tensors[i], buffers[i]) != 0)
            return 1;
    return 0;
}
