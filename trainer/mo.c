#include "mo.h"

#include "common.h"
#include "util.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define MO_MAGIC 0x950412deU
#define MO_HEADER_SIZE 28

struct mo_catalog {
    char *data;
    size_t size;
    size_t n_messages;
    struct mo_message *messages;
    char charset[32];
};

static uint32_t read_u32(const unsigned char *p, int swapped) {
    uint32_t v = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
    return swapped ? __builtin_bswap32(v) : v;
}

/* The string of table entry i (length and offset at table + 8 i), checked to lie in the file
 * with its terminating NUL. */
static int string_at(const mo_catalog *c, const char *path, uint32_t table, uint32_t i, int swapped,
                     const char *which, const char **out) {
    uint64_t entry = (uint64_t)table + 8 * (uint64_t)i;
    const unsigned char *base = (const unsigned char *)c->data;
    uint32_t length = read_u32(base + entry, swapped);
    uint32_t offset = read_u32(base + entry + 4, swapped);
    if ((uint64_t)offset + length >= c->size)
        return mslam_error("%s: corrupt .mo: %s of message %u (offset %u, length %u) lies beyond the file's "
                           "%zu bytes",
                           path, which, i, offset, length, c->size);
    if (c->data[offset + length] != '\0')
        return mslam_error("%s: corrupt .mo: %s of message %u (offset %u) is not NUL-terminated", path, which, i,
                           offset);
    *out = c->data + offset;
    return 0;
}

/* "charset=" of the header entry's Content-Type line. */
static void parse_charset(mo_catalog *c, const char *header) {
    const char *p = strstr(header, "charset=");
    if (!p) return;
    p += strlen("charset=");
    size_t n = strcspn(p, " ;\n");
    if (n >= sizeof c->charset) n = sizeof c->charset - 1;
    memcpy(c->charset, p, n);
    c->charset[n] = '\0';
}

mo_catalog *mo_open(const char *path) {
    mo_catalog *c = mslam_calloc(1, sizeof *c, "a .mo catalog");
    if (!c) return NULL;
    if (read_file(path, MO_MAX_FILE_SIZE, &c->data, &c->size)) goto fail;
    const unsigned char *base = (const unsigned char *)c->data;
    if (c->size < MO_HEADER_SIZE) {
        mslam_error("%s: not a .mo catalog: %zu bytes is shorter than the %d-byte header", path, c->size,
                    MO_HEADER_SIZE);
        goto fail;
    }
    int swapped;
    if (read_u32(base, 0) == MO_MAGIC) {
        swapped = 0;
    } else if (read_u32(base, 1) == MO_MAGIC) {
        swapped = 1;
    } else {
        mslam_error("%s: not a .mo catalog: magic number 0x%08x (expected 0x%08x in either byte order)", path,
                    read_u32(base, 0), MO_MAGIC);
        goto fail;
    }
    uint32_t revision = read_u32(base + 4, swapped);
    uint32_t n = read_u32(base + 8, swapped);
    uint32_t originals = read_u32(base + 12, swapped);
    uint32_t translations = read_u32(base + 16, swapped);
    /* Major revisions 0 and 1 share this layout (1 adds system-dependent strings, which sit in
     * separate tables; the plain tables stay valid). */
    if (revision >> 16 > 1) {
        mslam_error("%s: unsupported .mo revision %u.%u", path, revision >> 16, revision & 0xffff);
        goto fail;
    }
    if ((uint64_t)originals + 8 * (uint64_t)n > c->size || (uint64_t)translations + 8 * (uint64_t)n > c->size) {
        mslam_error("%s: corrupt .mo: tables of %u messages at offsets %u and %u run past the file's %zu bytes", path,
                    n, originals, translations, c->size);
        goto fail;
    }
    c->messages = mslam_calloc(n, sizeof *c->messages, "the messages of a .mo catalog");
    if (!c->messages) goto fail;
    for (uint32_t i = 0; i < n; i++) {
        const char *original = NULL, *translation = NULL;
        if (string_at(c, path, originals, i, swapped, "original", &original) ||
            string_at(c, path, translations, i, swapped, "translation", &translation))
            goto fail;
        if (original[0] == '\0') {
            parse_charset(c, translation);
            continue;
        }
        /* msgctxt and msgid are joined by EOT; plural forms follow the singular after a NUL,
         * so the C string already ends at the singular. */
        const char *eot = strchr(original, '\x04');
        if (eot) original = eot + 1;
        c->messages[c->n_messages++] = (struct mo_message){original, translation};
    }
    return c;
fail:
    mo_close(c);
    return NULL;
}

void mo_close(mo_catalog *catalog) {
    if (!catalog) return;
    free(catalog->messages);
    free(catalog->data);
    free(catalog);
}

size_t mo_count(const mo_catalog *catalog) { return catalog->n_messages; }

struct mo_message mo_get(const mo_catalog *catalog, size_t i) { return catalog->messages[i]; }

const char *mo_charset(const mo_catalog *catalog) { return catalog->charset; }
