#include "common.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static _Thread_local char last_error[1024];
static _Thread_local const char *error_context;
static mslam_log_callback log_callback;
static void *log_user_data;

void mslam_log_set(mslam_log_callback cb, void *user_data) {
    log_callback = cb;
    log_user_data = user_data;
}

const char *mslam_last_error(void) { return last_error; }

const char *mslam_version(void) { return MSLAM_VERSION_STRING; }

static void emit(enum mslam_log_level level, const char *msg) {
    if (log_callback) {
        log_callback(level, msg, log_user_data);
    } else if (level <= MSLAM_LOG_WARN) {
        fprintf(stderr, "mslam: %s: %s\n", level == MSLAM_LOG_ERROR ? "error" : "warning", msg);
    }
}

const char *mslam_error_context_set(const char *where) {
    const char *outer = error_context;
    error_context = where;
    return outer;
}

int mslam_error(const char *fmt, ...) {
    size_t at = 0;
    if (error_context) {
        int n = snprintf(last_error, sizeof last_error, "%s: ", error_context);
        at = n < 0 ? 0 : ((size_t)n < sizeof last_error ? (size_t)n : sizeof last_error - 1);
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error + at, sizeof last_error - at, fmt, ap);
    va_end(ap);
    emit(MSLAM_LOG_ERROR, last_error);
    return -1;
}

void mslam_log(enum mslam_log_level level, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    emit(level, msg);
}

void *mslam_malloc(size_t size, const char *what) {
    void *p = malloc(size ? size : 1);
    if (!p) mslam_error("out of memory allocating %zu bytes for %s", size, what);
    return p;
}

void *mslam_calloc(size_t n, size_t size, const char *what) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) mslam_error("out of memory allocating %zu x %zu bytes for %s", n, size, what);
    return p;
}

void mslam_free(void *ptr) { free(ptr); }

int mslam_utf8_decode(const char *s, size_t n, uint32_t *cp) {
    const unsigned char *u = (const unsigned char *)s;
    int len;
    uint32_t c, min;
    if (n == 0) return 0;
    if (u[0] < 0x80) {
        *cp = u[0];
        return 1;
    } else if ((u[0] & 0xe0) == 0xc0) {
        len = 2, c = u[0] & 0x1f, min = 0x80;
    } else if ((u[0] & 0xf0) == 0xe0) {
        len = 3, c = u[0] & 0x0f, min = 0x800;
    } else if ((u[0] & 0xf8) == 0xf0) {
        len = 4, c = u[0] & 0x07, min = 0x10000;
    } else {
        return 0;
    }
    if ((size_t)len > n) return 0;
    for (int i = 1; i < len; i++) {
        if ((u[i] & 0xc0) != 0x80) return 0;
        c = c << 6 | (u[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff)) return 0;
    *cp = c;
    return len;
}

long mslam_utf8_length(const char *s) {
    long count = 0;
    uint32_t cp;
    for (int len; *s; s += len, count++)
        if (!(len = mslam_utf8_decode(s, MSLAM_UTF8_NUL_TERMINATED, &cp))) return -1;
    return count;
}
