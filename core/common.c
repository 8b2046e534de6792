#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static _Thread_local char last_error[1024];
static _Thread_local const char *error_context;
static _Thread_local int errors_unlogged;
/* The callback and its user data change together, and not while a callback of them runs: an
 * application may free the user data once mslam_log_set has returned (a thread's message had
 * reached one callback with another's user data, and the old callback after the set). Readers
 * share the lock, so that a callback that logs again takes it again (glibc's rwlocks prefer
 * readers). */
static pthread_rwlock_t log_lock = PTHREAD_RWLOCK_INITIALIZER;
static mslam_log_callback log_callback;
static void *log_user_data;

void mslam_log_set(mslam_log_callback cb, void *user_data) {
    pthread_rwlock_wrlock(&log_lock);
    log_callback = cb;
    log_user_data = user_data;
    pthread_rwlock_unlock(&log_lock);
}

void mslam_log_get(mslam_log_callback *cb, void **user_data) {
    pthread_rwlock_rdlock(&log_lock);
    if (cb) *cb = log_callback;
    if (user_data) *user_data = log_user_data;
    pthread_rwlock_unlock(&log_lock);
}

const char *mslam_last_error(void) { return last_error; }

const char *mslam_version(void) { return MSLAM_VERSION_STRING; }

static void emit(enum mslam_log_level level, const char *msg) {
    pthread_rwlock_rdlock(&log_lock);
    if (log_callback) {
        log_callback(level, msg, log_user_data);
    } else if (level <= MSLAM_LOG_WARN) {
        fprintf(stderr, "mslam: %s: %s\n", level == MSLAM_LOG_ERROR ? "error" : "warning", msg);
    }
    pthread_rwlock_unlock(&log_lock);
}

const char *mslam_error_context_set(const char *where) {
    const char *outer = error_context;
    error_context = where;
    return outer;
}

int mslam_errors_unlogged(int unlogged) {
    int outer = errors_unlogged;
    errors_unlogged = unlogged;
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
    if (!errors_unlogged) emit(MSLAM_LOG_ERROR, last_error);
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

size_t mslam_utf8_decode_replacing(const char *s, size_t n, uint32_t *cp, int *ill_formed) {
    const unsigned char *u = (const unsigned char *)s;
    unsigned c = u[0];
    *ill_formed = 0;
    if (c < 0x80) {
        *cp = c;
        return 1;
    }
    size_t need;
    uint32_t v;
    unsigned lo = 0x80, hi = 0xBF; /* the range of the next byte; narrower after some leads */
    if (c >= 0xC2 && c <= 0xDF) {
        need = 1;
        v = c & 0x1F;
    } else if (c >= 0xE0 && c <= 0xEF) {
        need = 2;
        v = c & 0x0F;
        if (c == 0xE0) lo = 0xA0; /* no overlong forms */
        if (c == 0xED) hi = 0x9F; /* no surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        need = 3;
        v = c & 0x07;
        if (c == 0xF0) lo = 0x90; /* no overlong forms */
        if (c == 0xF4) hi = 0x8F; /* nothing above U+10FFFF */
    } else {
        *cp = 0xFFFD;
        *ill_formed = 1;
        return 1;
    }
    size_t i = 1;
    for (; i <= need && i < n; i++) {
        unsigned t = u[i];
        if (t < lo || t > hi) break;
        v = (v << 6) | (t & 0x3F);
        lo = 0x80;
        hi = 0xBF;
    }
    if (i <= need) {
        *cp = 0xFFFD;
        *ill_formed = 1;
        return i;
    }
    *cp = v;
    return need + 1;
}

int mslam_utf8_decode(const char *s, size_t n, uint32_t *cp) {
    if (n == 0) return 0;
    int ill_formed;
    size_t len = mslam_utf8_decode_replacing(s, n, cp, &ill_formed);
    return ill_formed ? 0 : (int)len;
}

long mslam_utf8_decode_all(const char *s, uint32_t *out) {
    long count = 0;
    uint32_t cp;
    for (int len; *s; s += len, count++)
        if (!(len = mslam_utf8_decode(s, MSLAM_UTF8_NUL_TERMINATED, out ? &out[count] : &cp))) return -1;
    return count;
}

long mslam_utf8_length(const char *s) { return mslam_utf8_decode_all(s, NULL); }

long mslam_utf8_invalid_at(const char *s) {
    uint32_t cp;
    for (const char *c = s; *c;) {
        int len = mslam_utf8_decode(c, MSLAM_UTF8_NUL_TERMINATED, &cp);
        if (!len) return (long)(c - s);
        c += len;
    }
    return -1;
}

int mslam_utf8_check(const char *s, const char *what) {
    long bad = mslam_utf8_invalid_at(s);
    if (bad < 0) return 0;
    return mslam_error("%s is not valid UTF-8 at byte %ld (0x%02X)", what, bad, (unsigned char)s[bad]);
}

/* Whether the n (< 4) bytes at s are the start of a character that the limit cut: a lead byte
 * of a longer sequence followed by continuation bytes only. */
static int cut_character(const unsigned char *s, size_t n) {
    size_t want = s[0] >= 0xF0 && s[0] <= 0xF4 ? 4 : s[0] >= 0xE0 && s[0] <= 0xEF ? 3 : s[0] >= 0xC2 && s[0] <= 0xDF ? 2 : 0;
    if (want <= n) return 0;
    for (size_t k = 1; k < n; k++)
        if ((s[k] & 0xC0) != 0x80) return 0;
    return 1;
}

/* One pass of mslam_quote: writes to buf (NULL: counts only) the units of s that fit in room
 * bytes; returns the bytes of those written, *whole set when that was all of s. */
static size_t quote_pass(char *buf, size_t room, const char *s, size_t n, int *whole) {
    size_t at = 0;
    *whole = 0;
    for (size_t i = 0; i < n && s[i];) {
        char unit[16];
        uint32_t cp;
        int ill_formed;
        size_t len = mslam_utf8_decode_replacing(s + i, n - i, &cp, &ill_formed), out = len;
        if (ill_formed && n - i < 4 && cut_character((const unsigned char *)s + i, strnlen(s + i, n - i)))
            return at; /* the text goes on past the n bytes quoted */
        if (ill_formed || cp < 0x20 || cp == 0x7F) {
            /* one byte at a time: what follows an ill-formed byte may start a character */
            len = 1;
            out = (size_t)snprintf(unit, sizeof unit, "\\x%02X", (unsigned char)s[i]);
        } else if (cp == 0x85 || cp == 0x2028 || cp == 0x2029) { /* line breaks too */
            out = (size_t)snprintf(unit, sizeof unit, "\\u%04X", (unsigned)cp);
        } else {
            memcpy(unit, s + i, len);
        }
        if (at + out > room) return at;
        if (buf) memcpy(buf + at, unit, out);
        at += out;
        i += len;
    }
    *whole = 1;
    return at;
}

const char *mslam_quote(char *buf, const char *s, size_t n) {
    static const char cut[] = "...";
    int whole;
    size_t at = quote_pass(NULL, MSLAM_QUOTE_SIZE - 1, s, n, &whole);
    if (whole) {
        quote_pass(buf, MSLAM_QUOTE_SIZE - 1, s, n, &whole);
        buf[at] = '\0';
        return buf;
    }
    at = quote_pass(buf, MSLAM_QUOTE_SIZE - sizeof cut, s, n, &whole);
    memcpy(buf + at, cut, sizeof cut);
    return buf;
}

static unsigned char ascii_lower(char c) { return (unsigned char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c); }

int mslam_ascii_equal_nocase(const char *a, const char *b, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (ascii_lower(a[i]) != ascii_lower(b[i])) return 0;
    return 1;
}

int mslam_ascii_compare_nocase(const char *a, const char *b) {
    for (;; a++, b++) {
        unsigned char x = ascii_lower(*a), y = ascii_lower(*b);
        if (x != y || !x) return (x > y) - (x < y);
    }
}

int mslam_is_english(const char *code) { return code && !mslam_ascii_compare_nocase(code, "en"); }

const char *mslam_ascii_find_nocase(const char *haystack, const char *needle) {
    size_t n = strlen(needle), left = strlen(haystack);
    for (const char *at = haystack; left >= n; at++, left--)
        if (mslam_ascii_equal_nocase(at, needle, n)) return at;
    return NULL;
}

int mslam_str_ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    return n >= m && memcmp(s + n - m, suffix, m) == 0;
}

void mslam_sync_parent_dir(const char *path) {
    const char *slash = strrchr(path, '/');
    char *dir = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
    if (!dir) return;
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(dir);
}

int mslam_output_target(const char *path, char **target, int *mode) {
    struct stat st;
    *target = NULL;
    *mode = -1;
    if (stat(path, &st) == 0) {
        if (!S_ISREG(st.st_mode)) return 1;
        *mode = (int)(st.st_mode & 07777);
        *target = realpath(path, NULL);
        if (!*target) return mslam_error("cannot resolve %s: %s", path, strerror(errno));
        return 0;
    }
    *target = strdup(path);
    return *target ? 0 : mslam_error("out of memory for a path");
}

int mslam_abort_now(mslam_abort *a) {
    if (a && a->callback && !a->stopped && a->callback(a->user_data)) {
        a->stopped = 1;
        mslam_error("%s: stopped by the abort callback", a->fn);
    }
    return a && a->stopped;
}
