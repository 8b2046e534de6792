/* safetensors reader (mmap, every entry validated before any data is read) and atomic writer.
 *
 * The reader follows the format's own rules (github.com/huggingface/safetensors): the header
 * is a JSON object; each tensor's data_offsets are relative to the data section; the tensors
 * cover the data section exactly, without holes or overlaps, so no byte of a file is ignored.
 * json-c is more lenient than JSON in a few ways that matter here (single-quoted strings, a
 * "\u0000" cutting an object name short, a repeated name silently keeping the last value); a
 * scan of the raw header rejects those.
 * The map is read-only and private; a file truncated by someone else while it is open can
 * still fault (SIGBUS), as with any mmap reader, so the model loader copies and unmaps early. */
#include "safetensors.h"

#include "common.h"

#include <errno.h>
#include <fcntl.h>
#include <json-c/json.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* Data is copied as host-order values (memcpy); safetensors data is little-endian. */
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "mslam's safetensors code assumes a little-endian host"
#endif

/* As the Python reader: a longer header means a corrupt length field, not a real header. */
#define ST_MAX_HEADER ((uint64_t)100000000)

static const struct {
    const char *name;
    size_t size;
} dtype_info[] = {
    [ST_F32] = {"F32", 4}, [ST_F16] = {"F16", 2}, [ST_BF16] = {"BF16", 2}, [ST_I8] = {"I8", 1},
    [ST_I32] = {"I32", 4}, [ST_I64] = {"I64", 8}, [ST_U8] = {"U8", 1},     [ST_F64] = {"F64", 8},
};
#define N_DTYPES ((int)(sizeof dtype_info / sizeof dtype_info[0]))

static int dtype_valid(st_dtype d) { return (int)d >= 0 && (int)d < N_DTYPES; }

size_t st_dtype_size(st_dtype dtype) { return dtype_valid(dtype) ? dtype_info[dtype].size : 0; }

const char *st_dtype_name(st_dtype dtype) {
    return dtype_valid(dtype) ? dtype_info[dtype].name : "?";
}

/* ---- reader ---- */

static int cmp_tensor_name(const void *a, const void *b) {
    return strcmp(((const st_tensor *)a)->name, ((const st_tensor *)b)->name);
}

static int cmp_str_ptr(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

typedef struct {
    size_t begin, len;
} span;

/* Walks the header text (already accepted by json-c) for what json-c lets through: a
 * single-quoted string, a "\u0000" escape (json-c cuts names there). Counts the names of the
 * top-level object (*top, their spans with quotes in keys when non-NULL) and of all objects
 * (*total), to compare with what json-c kept. Returns 0 or -1. */
static int scan_header(const char *path, const char *h, size_t n, long *top, long *total,
                       span *keys) {
    char stack[64]; /* json-c refuses nesting deeper than 32 */
    int depth = 0, expect_key = 0;
    *top = *total = 0;
    for (size_t i = 0; i < n; i++) {
        char c = h[i];
        if (c == '"') {
            size_t start = i++;
            for (; i < n && h[i] != '"'; i++) {
                if (h[i] != '\\') continue;
                i++;
                if (i + 4 < n && h[i] == 'u' && memcmp(h + i + 1, "0000", 4) == 0)
                    return mslam_error("%s: header contains a NUL character (\\u0000) in a string",
                                       path);
            }
            if (expect_key) {
                if (depth == 1) {
                    if (keys) keys[*top] = (span){start, i + 1 - start};
                    ++*top;
                }
                ++*total;
                expect_key = 0;
            }
        } else if (c == '\'') {
            return mslam_error("%s: header is not valid JSON: single-quoted string at byte %zu",
                               path, i);
        } else if (c == '{' || c == '[') {
            if (depth == (int)sizeof stack) return mslam_error("%s: header nests too deeply", path);
            stack[depth++] = c;
            expect_key = c == '{';
        } else if (c == '}' || c == ']') {
            depth--;
            expect_key = 0;
        } else if (c == ',') {
            expect_key = depth > 0 && stack[depth - 1] == '{';
        }
    }
    return 0;
}

/* Names in all objects of v, as json-c kept them (a repeated name once). */
static long count_names(struct json_object *v) {
    long n = 0;
    if (json_object_is_type(v, json_type_object)) {
        n = json_object_object_length(v);
        json_object_object_foreach(v, key, child) {
            (void)key;
            n += count_names(child);
        }
    } else if (json_object_is_type(v, json_type_array)) {
        for (size_t i = 0; i < json_object_array_length(v); i++)
            n += count_names(json_object_array_get_idx(v, i));
    }
    return n;
}

struct json_object *st_json_parse(const char *text, size_t n, const char **why) {
    struct json_tokener *tok = json_tokener_new();
    if (!tok) {
        *why = "out of memory";
        return NULL;
    }
    /* the format's header is UTF-8: refusing other bytes keeps the names that messages quote UTF-8 */
#ifdef JSON_TOKENER_VALIDATE_UTF8
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
#else
    json_tokener_set_flags(tok, JSON_TOKENER_STRICT);
#endif
    struct json_object *v = n > INT32_MAX ? NULL : json_tokener_parse_ex(tok, text, (int)n);
    *why = n > INT32_MAX ? "too long" : json_tokener_error_desc(json_tokener_get_error(tok));
    if (v) {
        for (size_t i = json_tokener_get_parse_end(tok); i < n; i++) {
            if (text[i] != ' ' && text[i] != '\t' && text[i] != '\n' && text[i] != '\r') {
                *why = "unexpected data after the JSON value";
                json_object_put(v);
                v = NULL;
                break;
            }
        }
    } else if (json_tokener_get_error(tok) == json_tokener_continue) {
        *why = "unexpected end of data";
    }
    json_tokener_free(tok);
    return v;
}

/* Names the repeated top-level name that json-c merged away (count names in the text, fewer
 * in the object), or says that an entry repeats a field. Always returns -1. */
static int report_duplicate(const char *path, const char *h, size_t n, long top, long n_top) {
    if (top == n_top) return mslam_error("%s: an entry of the header names a field twice", path);
    span *keys = malloc((size_t)top * sizeof *keys);
    const char **names = calloc((size_t)top, sizeof *names);
    struct json_object **decoded = calloc((size_t)top, sizeof *decoded);
    long t, total;
    int found = 0;
    if (keys && names && decoded && !scan_header(path, h, n, &t, &total, keys)) {
        long m = 0;
        for (long i = 0; i < top; i++) {
            const char *why;
            decoded[i] = st_json_parse(h + keys[i].begin, keys[i].len, &why);
            if (decoded[i] && json_object_is_type(decoded[i], json_type_string))
                names[m++] = json_object_get_string(decoded[i]);
        }
        qsort(names, (size_t)m, sizeof *names, cmp_str_ptr);
        for (long i = 1; i < m && !found; i++) {
            if (strcmp(names[i - 1], names[i]) == 0) {
                mslam_error("%s: header names '%s' more than once", path, names[i]);
                found = 1;
            }
        }
    }
    if (!found) mslam_error("%s: header repeats a name", path);
    for (long i = 0; decoded && i < top; i++) json_object_put(decoded[i]);
    free(decoded);
    free(names);
    free(keys);
    return -1;
}

/* A non-negative JSON integer (json-c clamps larger values to INT64_MAX, which every caller
 * rejects as out of range). */
static int json_nonneg_int(struct json_object *v, int64_t *out) {
    if (!json_object_is_type(v, json_type_int)) return -1;
    *out = json_object_get_int64(v);
    return *out < 0 ? -1 : 0;
}

static int parse_tensor(const char *path, const char *name, struct json_object *entry,
                        size_t data_size, st_tensor *t) {
    if (!json_object_is_type(entry, json_type_object))
        return mslam_error("%s: tensor '%s': entry is not a JSON object", path, name);
    struct json_object *dtype = NULL, *shape = NULL, *offsets = NULL;
    json_object_object_foreach(entry, key, val) {
        if (strcmp(key, "dtype") == 0)
            dtype = val;
        else if (strcmp(key, "shape") == 0)
            shape = val;
        else if (strcmp(key, "data_offsets") == 0)
            offsets = val;
        else
            return mslam_error("%s: tensor '%s': unknown field '%s'", path, name, key);
    }
    if (!dtype || !shape || !offsets)
        return mslam_error("%s: tensor '%s': missing field '%s'", path, name,
                           !dtype   ? "dtype"
                           : !shape ? "shape"
                                    : "data_offsets");

    if (!json_object_is_type(dtype, json_type_string))
        return mslam_error("%s: tensor '%s': dtype is not a string", path, name);
    const char *dname = json_object_get_string(dtype);
    int d = 0;
    while (d < N_DTYPES && strcmp(dtype_info[d].name, dname) != 0) d++;
    if (d == N_DTYPES)
        return mslam_error("%s: tensor '%s': unknown or unsupported dtype '%s'", path, name, dname);
    t->dtype = (st_dtype)d;

    if (!json_object_is_type(shape, json_type_array))
        return mslam_error("%s: tensor '%s': shape is not an array", path, name);
    size_t ndim = json_object_array_length(shape);
    if (ndim > ST_MAX_DIMS)
        return mslam_error("%s: tensor '%s': shape has %zu dimensions (at most %d)", path, name,
                           ndim, ST_MAX_DIMS);
    t->ndim = (int)ndim;
    t->numel = 1;
    for (size_t i = 0; i < ndim; i++) {
        int64_t dim;
        if (json_nonneg_int(json_object_array_get_idx(shape, i), &dim))
            return mslam_error("%s: tensor '%s': shape[%zu] is not a non-negative integer", path,
                               name, i);
        t->shape[i] = dim;
        if (dim && t->numel > SIZE_MAX / (uint64_t)dim)
            return mslam_error("%s: tensor '%s': shape overflows the element count", path, name);
        t->numel *= (size_t)dim;
    }
    size_t esize = dtype_info[d].size;
    if (t->numel > SIZE_MAX / esize)
        return mslam_error("%s: tensor '%s': shape overflows the byte count", path, name);

    int64_t b, e;
    if (!json_object_is_type(offsets, json_type_array) || json_object_array_length(offsets) != 2 ||
        json_nonneg_int(json_object_array_get_idx(offsets, 0), &b) ||
        json_nonneg_int(json_object_array_get_idx(offsets, 1), &e))
        return mslam_error("%s: tensor '%s': data_offsets is not [begin, end] of non-negative "
                           "integers",
                           path, name);
    if (b > e)
        return mslam_error("%s: tensor '%s': data_offsets [%lld, %lld] begin after end", path, name,
                           (long long)b, (long long)e);
    if ((uint64_t)e > data_size)
        return mslam_error("%s: tensor '%s': data_offsets [%lld, %lld] reach past the data "
                           "section (%zu bytes; truncated file?)",
                           path, name, (long long)b, (long long)e, data_size);
    t->begin = (size_t)b;
    t->end = (size_t)e;
    if (t->end - t->begin != t->numel * esize)
        return mslam_error("%s: tensor '%s': data_offsets [%lld, %lld] hold %zu bytes, but "
                           "dtype %s and shape give %zu",
                           path, name, (long long)b, (long long)e, t->end - t->begin, dname,
                           t->numel * esize);
    return 0;
}

static int cmp_by_offset(const void *a, const void *b) {
    const st_tensor *x = *(const st_tensor *const *)a, *y = *(const st_tensor *const *)b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

/* The tensors must tile the data section: no overlap, no hole, nothing after the last. */
static int check_coverage(const char *path, const st_file *f) {
    const st_tensor **order = malloc((size_t)(f->n_tensors ? f->n_tensors : 1) * sizeof *order);
    if (!order) return mslam_error("%s: out of memory checking tensor offsets", path);
    for (int i = 0; i < f->n_tensors; i++) order[i] = &f->tensors[i];
    qsort(order, (size_t)f->n_tensors, sizeof *order, cmp_by_offset);
    size_t pos = 0;
    int rc = 0;
    for (int i = 0; i < f->n_tensors && !rc; i++) {
        const st_tensor *t = order[i];
        if (t->begin < pos)
            rc = mslam_error(
                "%s: tensor '%s': data_offsets [%zu, %zu] overlap tensor '%s' [%zu, %zu]", path,
                t->name, t->begin, t->end, order[i - 1]->name, order[i - 1]->begin,
                order[i - 1]->end);
        else if (t->begin > pos)
            rc = mslam_error("%s: bytes [%zu, %zu) of the data section belong to no tensor "
                             "(before tensor '%s')",
                             path, pos, t->begin, t->name);
        pos = t->end;
    }
    if (!rc && pos != f->data_size)
        rc = mslam_error("%s: %zu bytes after the last tensor's data belong to no tensor", path,
                         f->data_size - pos);
    free(order);
    return rc;
}

static int parse_metadata(const char *path, struct json_object *obj, st_file *f) {
    if (!json_object_is_type(obj, json_type_object))
        return mslam_error("%s: __metadata__ is not a JSON object", path);
    int n = json_object_object_length(obj);
    f->meta = calloc((size_t)(n ? n : 1), sizeof *f->meta);
    if (!f->meta) return mslam_error("%s: out of memory reading __metadata__", path);
    json_object_object_foreach(obj, key, val) {
        if (!json_object_is_type(val, json_type_string))
            return mslam_error("%s: __metadata__ '%s' is not a string", path, key);
        st_meta *m = &f->meta[f->n_meta++];
        m->key = strdup(key);
        m->value = strdup(json_object_get_string(val));
        if (!m->key || !m->value)
            return mslam_error("%s: out of memory reading __metadata__", path);
    }
    return 0;
}

static int parse_header(st_file *f, const char *h, size_t n) {
    const char *path = f->path, *why;
    struct json_object *root = st_json_parse(h, n, &why);
    if (!root) return mslam_error("%s: header is not valid JSON: %s", path, why);
    int rc = -1;
    if (!json_object_is_type(root, json_type_object)) {
        mslam_error("%s: header is not a JSON object", path);
        goto out;
    }
    long top, total;
    if (scan_header(path, h, n, &top, &total, NULL)) goto out;
    int n_names = json_object_object_length(root);
    if (top != n_names || total != count_names(root)) {
        report_duplicate(path, h, n, top, n_names);
        goto out;
    }
    f->tensors = calloc((size_t)(n_names ? n_names : 1), sizeof *f->tensors);
    if (!f->tensors) {
        mslam_error("%s: out of memory reading the header", path);
        goto out;
    }
    json_object_object_foreach(root, name, entry) {
        if (strcmp(name, "__metadata__") == 0) {
            if (parse_metadata(path, entry, f)) goto out;
            continue;
        }
        st_tensor *t = &f->tensors[f->n_tensors];
        if (parse_tensor(path, name, entry, f->data_size, t)) goto out;
        if (!(t->name = strdup(name))) {
            mslam_error("%s: out of memory reading the header", path);
            goto out;
        }
        f->n_tensors++;
    }
    if (check_coverage(path, f)) goto out;
    qsort(f->tensors, (size_t)f->n_tensors, sizeof *f->tensors, cmp_tensor_name);
    rc = 0;
out:
    json_object_put(root);
    return rc;
}

int st_open(st_file *f, const char *path) {
    memset(f, 0, sizeof *f);
    if (!path) return mslam_error("st_open: path is NULL");
    /* O_NONBLOCK: a FIFO given as the path must not hang the caller; it is refused below. */
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) return mslam_error("cannot open '%s': %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st)) {
        int err = errno;
        close(fd);
        return mslam_error("cannot stat '%s': %s", path, strerror(err));
    }
    if (S_ISDIR(st.st_mode)) {
        close(fd);
        /* a training run's folder (mslam-trainer train --out) given for its model */
        char *model = mslam_malloc(strlen(path) + sizeof "/model.safetensors", "a path");
        int run = model && (sprintf(model, "%s/model.safetensors", path), access(model, F_OK) == 0);
        free(model);
        return mslam_error("%s is a folder, not a file%s", path,
                           run ? ": a training run's folder? give one of its files, model.safetensors (the "
                                 "run's model) or best.safetensors (the best validated one)"
                               : "");
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return mslam_error("%s: not a regular file", path);
    }
    if (st.st_size < 8) {
        close(fd);
        return mslam_error("%s: file is %lld bytes, shorter than the 8-byte header length", path,
                           (long long)st.st_size);
    }
    size_t size = (size_t)st.st_size;
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    int err = errno;
    close(fd);
    if (map == MAP_FAILED) return mslam_error("cannot map '%s': %s", path, strerror(err));
    f->map = map;
    f->map_size = size;
    if (!(f->path = strdup(path))) {
        st_close(f);
        return mslam_error("%s: out of memory", path);
    }

    const uint8_t *bytes = map;
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | bytes[i];
    if (hlen > size - 8 && size > 8 && bytes[8] != '{') { /* e.g. a manifest or a WAV in a model's place */
        mslam_error("%s: not a safetensors file (no JSON header after its first 8 bytes)", path);
        st_close(f);
        return -1;
    }
    if (hlen > size - 8) {
        mslam_error("%s: header length %llu reaches past the end of the file (%zu bytes; truncated file?)", path,
                    (unsigned long long)hlen, size);
        st_close(f);
        return -1;
    }
    if (hlen > ST_MAX_HEADER) {
        mslam_error("%s: header length %llu is beyond the limit of %llu bytes", path,
                    (unsigned long long)hlen, (unsigned long long)ST_MAX_HEADER);
        st_close(f);
        return -1;
    }
    f->data = bytes + 8 + hlen;
    f->data_size = size - 8 - (size_t)hlen;
    if (parse_header(f, (const char *)bytes + 8, (size_t)hlen)) {
        st_close(f);
        return -1;
    }
    return 0;
}

void st_close(st_file *f) {
    if (f->map) munmap(f->map, f->map_size);
    for (int i = 0; i < f->n_tensors; i++) free(f->tensors[i].name);
    free(f->tensors);
    for (int i = 0; i < f->n_meta; i++) {
        free(f->meta[i].key);
        free(f->meta[i].value);
    }
    free(f->meta);
    free(f->path);
    memset(f, 0, sizeof *f);
}

const st_tensor *st_find(const st_file *f, const char *name) {
    if (!f->n_tensors) return NULL;
    st_tensor key = {.name = (char *)name};
    return bsearch(&key, f->tensors, (size_t)f->n_tensors, sizeof *f->tensors, cmp_tensor_name);
}

const char *st_meta_get(const st_file *f, const char *key) {
    for (int i = 0; i < f->n_meta; i++)
        if (strcmp(f->meta[i].key, key) == 0) return f->meta[i].value;
    return NULL;
}

float st_f16_to_f32(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1f, man = h & 0x3ff, bits;
    if (exp == 0x1f) {
        bits = sign | 0x7f800000u | man << 13;
    } else if (exp) {
        bits = sign | (exp + 127 - 15) << 23 | man << 13;
    } else {
        float v = (float)man * 0x1p-24f; /* zero or subnormal: exact in single precision */
        return sign ? -v : v;
    }
    float out;
    memcpy(&out, &bits, 4);
    return out;
}

uint16_t st_f32_to_f16(float f) {
    uint32_t bits;
    memcpy(&bits, &f, 4);
    uint32_t sign = (bits >> 16) & 0x8000, exp = (bits >> 23) & 0xff, man = bits & 0x7fffff;
    if (exp == 0xff) return (uint16_t)(sign | 0x7c00 | (man ? 0x200 | man >> 13 : 0));
    int e = (int)exp - 127 + 15;
    if (e >= 0x1f) return (uint16_t)(sign | 0x7c00);
    if (e <= 0) {
        if (e < -10) return (uint16_t)sign;
        /* subnormal: the implicit bit joins the mantissa, shifted right by 14 - e */
        man |= 0x800000;
        int shift = 14 - e;
        uint32_t half = man >> shift, rest = man & ((1u << shift) - 1), mid = 1u << (shift - 1);
        if (rest > mid || (rest == mid && (half & 1))) half++;
        return (uint16_t)(sign | half);
    }
    /* normal: round the 13 dropped bits to nearest, ties to even; a carry moves into the exponent
     * (and up to infinity) as it should */
    uint32_t h = (uint32_t)e << 10 | man >> 13, rest = man & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1))) h++;
    return (uint16_t)(sign | h);
}

/* Data may sit at any alignment (other writers do not pad the header): every element is
 * copied with memcpy. */
int st_read_f32(const st_file *f, const st_tensor *t, float *out) {
    const uint8_t *src = f->data + t->begin;
    switch (t->dtype) {
    case ST_F32:
        memcpy(out, src, t->numel * sizeof(float));
        return 0;
    case ST_F16:
        for (size_t i = 0; i < t->numel; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            out[i] = st_f16_to_f32(h);
        }
        return 0;
    case ST_BF16:
        for (size_t i = 0; i < t->numel; i++) {
            uint16_t h;
            memcpy(&h, src + 2 * i, 2);
            uint32_t bits = (uint32_t)h << 16;
            memcpy(&out[i], &bits, 4);
        }
        return 0;
    case ST_F64:
        for (size_t i = 0; i < t->numel; i++) {
            double v;
            memcpy(&v, src + 8 * i, 8);
            out[i] = (float)v;
        }
        return 0;
    default:
        return mslam_error("%s: tensor '%s' has dtype %s, not a float type", f->path, t->name,
                           st_dtype_name(t->dtype));
    }
}

int st_read_i32(const st_file *f, const st_tensor *t, int32_t *out) {
    const uint8_t *src = f->data + t->begin;
    switch (t->dtype) {
    case ST_I32:
        memcpy(out, src, t->numel * sizeof(int32_t));
        return 0;
    case ST_I64:
        for (size_t i = 0; i < t->numel; i++) {
            int64_t v;
            memcpy(&v, src + 8 * i, 8);
            if (v < INT32_MIN || v > INT32_MAX)
                return mslam_error("%s: tensor '%s': element %zu = %lld does not fit in int32",
                                   f->path, t->name, i, (long long)v);
            out[i] = (int32_t)v;
        }
        return 0;
    case ST_I8:
        for (size_t i = 0; i < t->numel; i++) out[i] = (int8_t)src[i];
        return 0;
    case ST_U8:
        for (size_t i = 0; i < t->numel; i++) out[i] = src[i];
        return 0;
    default:
        return mslam_error("%s: tensor '%s' has dtype %s, not an integer type", f->path, t->name,
                           st_dtype_name(t->dtype));
    }
}

/* ---- writer ---- */

static int write_all(int fd, const void *buf, size_t n) {
    const uint8_t *p = buf;
    while (n) {
        ssize_t w = write(fd, p, n < ((size_t)1 << 30) ? n : (size_t)1 << 30);
        if (w < 0 && errno == EINTR) continue;
        if (w == 0) errno = EIO;
        if (w <= 0) return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Checks the arguments and returns the header JSON (caller puts it), tensors laid out in the
 * given order; *data_bytes receives the size of the data section. */
static struct json_object *build_header(const char *path, const st_write_tensor *tensors,
                                        int n_tensors, const st_meta *meta, int n_meta,
                                        size_t *data_bytes) {
    if (n_tensors < 0 || n_meta < 0 || (n_tensors && !tensors) || (n_meta && !meta)) {
        mslam_error("cannot write '%s': invalid tensor or metadata list", path);
        return NULL;
    }
    struct json_object *root = json_object_new_object(), *jmeta = NULL;
    if (!root) goto oom;
    if (n_meta) {
        if (!(jmeta = json_object_new_object()) ||
            json_object_object_add(root, "__metadata__", jmeta)) {
            json_object_put(jmeta);
            goto oom;
        }
    }
    for (int i = 0; i < n_meta; i++) {
        if (!meta[i].key || !meta[i].value) {
            mslam_error("cannot write '%s': __metadata__ entry %d has no key or value", path, i);
            goto fail;
        }
        if (json_object_object_get_ex(jmeta, meta[i].key, NULL)) {
            mslam_error("cannot write '%s': __metadata__ key '%s' given twice", path, meta[i].key);
            goto fail;
        }
        struct json_object *v = json_object_new_string(meta[i].value);
        if (!v || json_object_object_add(jmeta, meta[i].key, v)) {
            json_object_put(v);
            goto oom;
        }
    }
    size_t offset = 0;
    for (int i = 0; i < n_tensors; i++) {
        const st_write_tensor *t = &tensors[i];
        if (!t->name || !*t->name || strcmp(t->name, "__metadata__") == 0) {
            mslam_error("cannot write '%s': tensor %d has no name or a reserved one", path, i);
            goto fail;
        }
        if (json_object_object_get_ex(root, t->name, NULL)) {
            mslam_error("cannot write '%s': tensor '%s' given twice", path, t->name);
            goto fail;
        }
        if (!dtype_valid(t->dtype) || t->ndim < 0 || t->ndim > ST_MAX_DIMS) {
            mslam_error("cannot write '%s': tensor '%s' has an invalid dtype or rank", path,
                        t->name);
            goto fail;
        }
        size_t bytes = dtype_info[t->dtype].size;
        struct json_object *shape = json_object_new_array();
        if (!shape) goto oom;
        for (int k = 0; k < t->ndim; k++) {
            if (t->shape[k] < 0 || (t->shape[k] && bytes > SIZE_MAX / (uint64_t)t->shape[k])) {
                json_object_put(shape);
                mslam_error("cannot write '%s': tensor '%s' has an invalid shape", path, t->name);
                goto fail;
            }
            bytes *= (size_t)t->shape[k];
            json_object_array_add(shape, json_object_new_int64(t->shape[k]));
        }
        if ((bytes && !t->data) || offset > SIZE_MAX - bytes || offset + bytes > INT64_MAX) {
            json_object_put(shape);
            mslam_error("cannot write '%s': tensor '%s' has no data or is too large", path,
                        t->name);
            goto fail;
        }
        struct json_object *entry = json_object_new_object(), *offs = json_object_new_array();
        if (!entry || !offs) {
            json_object_put(shape);
            json_object_put(entry);
            json_object_put(offs);
            goto oom;
        }
        json_object_array_add(offs, json_object_new_int64((int64_t)offset));
        json_object_array_add(offs, json_object_new_int64((int64_t)(offset + bytes)));
        json_object_object_add(entry, "dtype", json_object_new_string(dtype_info[t->dtype].name));
        json_object_object_add(entry, "shape", shape);
        json_object_object_add(entry, "data_offsets", offs);
        if (json_object_object_add(root, t->name, entry)) {
            json_object_put(entry);
            goto oom;
        }
        offset += bytes;
    }
    *data_bytes = offset;
    return root;
oom:
    mslam_error("cannot write '%s': out of memory building the header", path);
fail:
    json_object_put(root);
    return NULL;
}

/* Creates a new file beside path (same directory, so rename is atomic). Returns the fd and the
 * malloc'd name in *tmp_out, or -1. */
static int create_temp(const char *path, char **tmp_out) {
    static atomic_uint counter;
    size_t len = strlen(path) + 64;
    char *tmp = malloc(len);
    if (!tmp) return mslam_error("cannot write '%s': out of memory", path);
    for (int attempt = 0; attempt < 100; attempt++) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        snprintf(tmp, len, "%s.tmp-%ld-%u-%ld", path, (long)getpid(), atomic_fetch_add(&counter, 1),
                 (long)ts.tv_nsec);
        int fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
        if (fd >= 0) {
            *tmp_out = tmp;
            return fd;
        }
        if (errno != EEXIST) {
            int err = errno;
            free(tmp);
            return mslam_error("cannot write '%s': %s", path, strerror(err));
        }
    }
    free(tmp);
    return mslam_error("cannot write '%s': no free temporary file name beside it", path);
}

int st_write(const char *path, const st_write_tensor *tensors, int n_tensors, const st_meta *meta,
             int n_meta) {
    if (!path || !*path) return mslam_error("st_write: no path");
    size_t data_bytes = 0;
    struct json_object *root = build_header(path, tensors, n_tensors, meta, n_meta, &data_bytes);
    if (!root) return -1;
    size_t jlen;
    const char *json = json_object_to_json_string_length(
        root, JSON_C_TO_STRING_PLAIN | JSON_C_TO_STRING_NOSLASHESCAPE, &jlen);
    /* Padding to a multiple of 8 puts the data section, and so every F32 tensor laid out
     * after 8-byte multiples, at an aligned address of the mmap. */
    size_t hlen = (jlen + 7) / 8 * 8;
    char *header = json ? malloc(8 + hlen) : NULL;
    if (!header) {
        json_object_put(root);
        return mslam_error("cannot write '%s': out of memory building the header", path);
    }
    for (int i = 0; i < 8; i++) header[i] = (char)(hlen >> (8 * i) & 0xff);
    memcpy(header + 8, json, jlen);
    memset(header + 8 + jlen, ' ', hlen - jlen);
    json_object_put(root);

    /* a device or a pipe is written as it is; through a symbolic link the file it names is
     * replaced, the link staying; an existing file keeps its mode */
    char *target = NULL, *tmp = NULL;
    int mode, where = mslam_output_target(path, &target, &mode);
    int fd = where < 0    ? -1
             : where == 1 ? open(path, O_WRONLY | O_CLOEXEC)
                          : create_temp(target, &tmp);
    if (fd < 0) {
        if (where == 1) mslam_error("cannot write '%s': %s", path, strerror(errno));
        free(target);
        free(header);
        return -1;
    }
    if (mode >= 0) fchmod(fd, (mode_t)mode);
    int failed = write_all(fd, header, 8 + hlen);
    for (int i = 0; i < n_tensors && !failed; i++) {
        const st_write_tensor *t = &tensors[i];
        size_t bytes = dtype_info[t->dtype].size;
        for (int k = 0; k < t->ndim; k++) bytes *= (size_t)t->shape[k];
        failed = write_all(fd, t->data, bytes);
    }
    if (!failed && tmp) failed = fsync(fd);
    int err = errno;
    if (close(fd) && !failed) {
        failed = 1;
        err = errno;
    }
    if (!failed && tmp && rename(tmp, target)) {
        failed = 1;
        err = errno;
    }
    free(header);
    if (failed) {
        if (tmp) unlink(tmp);
        free(tmp);
        free(target);
        return mslam_error("cannot write '%s': %s", path, strerror(err));
    }
    if (tmp) mslam_sync_parent_dir(target);
    free(tmp);
    free(target);
    return 0;
}
