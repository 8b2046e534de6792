/* Reader of GNU gettext message catalogs (.mo files), either byte order.
 *
 * mo_open reads the whole file and checks every table entry against the file's bounds before
 * returning, so the accessors never read outside it. Layout (gettext manual, "The Format of
 * GNU MO Files"): magic 0x950412de in the writer's byte order, revision, message count N, offsets
 * of the original and translation tables (N entries of length and offset, 32 bits each), and a
 * hash table we do not need. Each string is NUL-terminated after its length. */
#ifndef MSLAM_TRAINER_MO_H
#define MSLAM_TRAINER_MO_H

#include <stddef.h>

typedef struct mo_catalog mo_catalog;

/* One message. Both point into the catalog and stay valid until mo_close. A plural message
 * gives its singular forms; a message with a context (msgctxt) gives the message without it. */
struct mo_message {
    const char *original;    /* msgid: the source text, English in practice */
    const char *translation; /* msgstr */
};

/* Largest catalog read (a real one is under a few MB; a larger size means a wrong file). */
#define MO_MAX_FILE_SIZE ((size_t)256 << 20)

/* NULL on failure, with a message naming the file and the problem (mslam_last_error). */
mo_catalog *mo_open(const char *path);
void mo_close(mo_catalog *catalog);

/* Messages, not counting the header entry (empty msgid). */
size_t mo_count(const mo_catalog *catalog);
/* i < mo_count. */
struct mo_message mo_get(const mo_catalog *catalog, size_t i);
/* charset of the header's Content-Type ("" when not stated), e.g. "UTF-8". */
const char *mo_charset(const mo_catalog *catalog);

#endif
