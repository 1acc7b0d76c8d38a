/* The runtime an exported model's library needs in place of Python's: the
 * hooks that wafer-lower-assert's code calls when a runtime check fails, and
 * the loader that fills the weight arrays from weights.bin. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "model.h"
#include "model_io.h"

/* The first runtime check that failed in this thread's current call: its
 * `file:line:col: error: ...` message, a constant of the compiled code. */
static _Thread_local const char *failed_check;
/* What model_last_error() returns to this thread. */
static _Thread_local const char *last_error;

static pthread_mutex_t load_lock = PTHREAD_MUTEX_INITIALIZER;
static atomic_bool loaded;
static char load_error[PATH_MAX + 256];

void _mlir_ciface_wafer_assert_failed(const char *message) {
    if (!failed_check)
        failed_check = message;
}

bool _mlir_ciface_wafer_assert_pending(void) { return failed_check != NULL; }

const char *model_last_error(void) { return last_error; }

static int fail(const char *format, ...) {
    va_list args;
    va_start(args, format);
    vsnprintf(load_error, sizeof load_error, format, args);
    va_end(args);
    return -1;
}

/* weights.bin in the folder of the library this code is linked into. */
static int default_weights_path(char *path, size_t size) {
    Dl_info info;
    if (!dladdr((void *)model_init, &info) || !info.dli_fname)
        return fail("error: cannot find the folder of the model library");
    const char *slash = strrchr(info.dli_fname, '/');
    int folder = slash ? (int)(slash - info.dli_fname + 1) : 0;
    if (snprintf(path, size, "%.*sweights.bin", folder, info.dli_fname) >= (int)size)
        return fail("error: the path of the model library is too long");
    return 0;
}

static int read_weights(FILE *file, const char *path) {
    char magic[8];
    uint64_t count, table[2];
    size_t expected = 0;
    while (wafer_weights[expected].data)
        expected++;
    if (fread(magic, 1, sizeof magic, file) != sizeof magic || memcmp(magic, WAFER_WEIGHTS_MAGIC, 8) != 0 ||
        fread(&count, sizeof count, 1, file) != 1)
        return fail("error: '%s' is not a Wafer weights file", path);
    if (count != expected)
        return fail("error: '%s' holds %llu arrays, the model reads %zu: it belongs to another export",
                    path, (unsigned long long)count, expected);
    for (size_t i = 0; i < expected; i++) {
        long entry = (long)(16 + 16 * i);
        if (fseek(file, entry, SEEK_SET) != 0 || fread(table, sizeof table[0], 2, file) != 2)
            return fail("error: '%s' is truncated", path);
        if (table[1] != wafer_weights[i].nbytes)
            return fail("error: array %zu of '%s' has %llu bytes, the model reads %llu: it belongs to another "
                        "export", i, path, (unsigned long long)table[1], (unsigned long long)wafer_weights[i].nbytes);
        if (fseek(file, (long)table[0], SEEK_SET) != 0 ||
            fread(wafer_weights[i].data, 1, table[1], file) != table[1])
            return fail("error: '%s' is truncated", path);
    }
    return 0;
}

int model_init(const char *weights_path) {
    char path[PATH_MAX];
    int status = MODEL_OK;
    pthread_mutex_lock(&load_lock);
    if (!weights_path && atomic_load(&loaded)) {  /* a lazy load that another thread has done */
        pthread_mutex_unlock(&load_lock);
        return MODEL_OK;
    }
    if (!weights_path && default_weights_path(path, sizeof path) == 0)
        weights_path = path;
    FILE *file = weights_path ? fopen(weights_path, "rb") : NULL;
    if (weights_path && !file)
        fail("error: cannot read weights '%s': %s", weights_path, strerror(errno));
    if (!file || read_weights(file, weights_path) != 0)
        status = MODEL_NO_WEIGHTS;
    if (file)
        fclose(file);
    atomic_store(&loaded, status == MODEL_OK);
    pthread_mutex_unlock(&load_lock);
    last_error = status == MODEL_OK ? NULL : load_error;
    return status;
}

int wafer_begin_call(void) {
    failed_check = NULL;
    last_error = NULL;
    if (!atomic_load(&loaded))
        return model_init(NULL);
    return MODEL_OK;
}

int wafer_end_call(void) {
    if (!failed_check)
        return MODEL_OK;
    last_error = failed_check;
    return MODEL_CHECK_FAILED;
}
