/* Errors, logging and small helpers shared by all of libmslam. */
#ifndef MSLAM_COMMON_H
#define MSLAM_COMMON_H

#include "mslam.h"

#include <stddef.h>
#include <stdint.h>

#if defined(__GNUC__)
#define MSLAM_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#define MSLAM_PRINTF(a, b)
#endif

/* Records the calling thread's last error (mslam_last_error) and logs it. Returns -1 so that
 * "return mslam_error(...)" reads naturally in int-returning functions. */
int mslam_error(const char *fmt, ...) MSLAM_PRINTF(1, 2);
/* While set, errors recorded on this thread start with "where: " (e.g. the file being read), for
 * helpers that cannot know it. Returns the previous context, to restore. */
const char *mslam_error_context_set(const char *where);
void mslam_log(enum mslam_log_level level, const char *fmt, ...) MSLAM_PRINTF(2, 3);

/* malloc/calloc that record an error naming what failed. */
void *mslam_malloc(size_t size, const char *what);
void *mslam_calloc(size_t n, size_t size, const char *what);

/* One UTF-8 character (RFC 3629: no overlong forms, surrogates or code points past U+10FFFF).
 * Returns its length in bytes, or 0 when s does not start with one. Stops at the first byte
 * that breaks the sequence, so it never reads past a terminating NUL. */
int mslam_utf8_decode(const char *s, uint32_t *cp);

#endif
