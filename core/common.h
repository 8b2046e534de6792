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
/* While set (1), errors recorded on this thread are not logged: for an attempt whose failure
 * the caller reports otherwise (device auto falling back to the CPU with a warning). Returns the
 * previous setting, to restore. */
int mslam_errors_unlogged(int unlogged);
void mslam_log(enum mslam_log_level level, const char *fmt, ...) MSLAM_PRINTF(2, 3);

/* A call's abort callback (mslam_abort_callback), the public function it belongs to, and whether
 * it has stopped the call. */
typedef struct {
    mslam_abort_callback callback; /* NULL: never stops */
    void *user_data;
    const char *fn;
    int stopped;
} mslam_abort;
/* Whether a (NULL: none) stops the call now: asks its callback, once it has not yet said so; when
 * it stops, the error is "FN: stopped by the abort callback". */
int mslam_abort_now(mslam_abort *a);

/* malloc/calloc that record an error naming what failed. */
/* Makes a rename into path's folder durable (fsync of the folder). Best effort: some file systems
 * refuse fsync on a directory, and the file itself is already complete and in place. */
void mslam_sync_parent_dir(const char *path);
/* Where a file written whole through a temporary file lands: 0 with *target (malloc'd) the path
 * to rename the finished file onto (path, or the file a symbolic link at path names: the link
 * stays; a dangling link is replaced) and *mode the permissions to give it (an existing file's,
 * else -1); 1 where path is a
 * device or a pipe (/dev/null, /dev/stdout, a FIFO), written as it is: nothing to replace;
 * -1 with the error recorded. */
int mslam_output_target(const char *path, char **target, int *mode);

void *mslam_malloc(size_t size, const char *what);
void *mslam_calloc(size_t n, size_t size, const char *what);

/* One UTF-8 character (RFC 3629: no overlong forms, surrogates or code points past U+10FFFF) of
 * the n bytes at s. Returns its length in bytes, or 0 when s does not start with one. Reads byte
 * by byte and stops at the first that breaks the sequence, so for a NUL-terminated string n may
 * be MSLAM_UTF8_NUL_TERMINATED: it never reads past the NUL. */
#define MSLAM_UTF8_NUL_TERMINATED ((size_t)-1)
int mslam_utf8_decode(const char *s, size_t n, uint32_t *cp);
/* The same for text that may be ill-formed, n >= 1: an ill-formed sequence gives U+FFFD,
 * *ill_formed = 1 and the length of its maximal subpart (Unicode 14, Table 3-7 and section 3.9):
 * the longest prefix that could start a well-formed sequence, or 1 byte. This is what Python's
 * decode(errors="replace") does, so sacreBLEU sees the same string as the metrics. */
size_t mslam_utf8_decode_replacing(const char *s, size_t n, uint32_t *cp, int *ill_formed);
/* Byte offset of the first ill-formed sequence of a NUL-terminated string; -1 when it is valid
 * UTF-8. */
long mslam_utf8_invalid_at(const char *s);
/* 0 when s is valid UTF-8; else -1 and the error "<what> is not valid UTF-8 at byte N (0xNN)". */
int mslam_utf8_check(const char *s, const char *what);
/* Code points of a NUL-terminated string; -1 when it is not valid UTF-8. */
long mslam_utf8_length(const char *s);
/* The same, writing the code points to out (room for strlen(s); NULL: only count). */
long mslam_utf8_decode_all(const char *s, uint32_t *out);

/* Text for a message to quote whatever it holds, so that messages stay UTF-8 and on one line:
 * the first n bytes of s (fewer at a NUL; n may be MSLAM_UTF8_NUL_TERMINATED) with each byte of an
 * ill-formed sequence and each control character written \xNN, cut at a character and ended
 * "..." when longer than buf (MSLAM_QUOTE_SIZE bytes) holds. Returns buf. */
#define MSLAM_QUOTE_SIZE 96
const char *mslam_quote(char *buf, const char *s, size_t n);
/* Whether s ends with suffix. */
int mslam_str_ends_with(const char *s, const char *suffix);
/* Whether the first n bytes of a and b are equal but for the case of ASCII letters (whatever
 * the locale: Turkish's dotless i aside). */
int mslam_ascii_equal_nocase(const char *a, const char *b, size_t n);
/* strcmp of a and b with ASCII letters in lower case (whatever the locale). */
int mslam_ascii_compare_nocase(const char *a, const char *b);
/* Whether a language code is English's, "en" in any case: what translations are written in. */
int mslam_is_english(const char *code);
/* The first place of needle in haystack, ASCII letters in either case; NULL when none. */
const char *mslam_ascii_find_nocase(const char *haystack, const char *needle);

#endif
