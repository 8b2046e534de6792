/* Weights files: safetensors reader/writer and model load/save.
 * Round trips (model, every dtype, unaligned data), one test per way a file can be wrong (each
 * must fail with a message naming the file and the tensor or field), failing writes that must
 * leave an existing file as it was, and a bounded fuzz loop (run it under ASan). */
#include "model.h"
#include "safetensors.h"
#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

static char tmpdir[] = "/tmp/mslam-st-XXXXXX";

/* Path of name inside the test directory, in one of a few rotating buffers. */
static const char *tpath(const char *name) {
    static char bufs[4][512];
    static int next;
    char *b = bufs[next++ % 4];
    snprintf(b, sizeof bufs[0], "%s/%s", tmpdir, name);
    return b;
}

/* The last error contains every non-NULL needle. */
#define CHECK_ERROR(what, n1, n2, n3) check_error(__LINE__, what, n1, n2, n3)
static void check_error(int line, const char *what, const char *n1, const char *n2,
                        const char *n3) {
    const char *msg = mslam_last_error(), *needles[] = {n1, n2, n3};
    if (!msg) msg = ""; /* never NULL, but GCC -O3 under UBSan cannot tell and warns at the fprintf */
    for (int i = 0; i < 3; i++) {
        if (needles[i] && !strstr(msg, needles[i])) {
            fprintf(stderr, "line %d: %s: error \"%s\" lacks \"%s\"\n", line, what, msg,
                    needles[i]);
            test_failures++;
        }
    }
}

static int read_bytes(const char *path, uint8_t **out, size_t *n) {
    FILE *fp = fopen(path, "rb");
    if (!fp) return -1;
    fseek(fp, 0, SEEK_END);
    long size = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    *out = malloc((size_t)size + 1);
    *n = fread(*out, 1, (size_t)size, fp);
    fclose(fp);
    return *n == (size_t)size ? 0 : -1;
}

static void write_bytes(const char *path, const void *data, size_t n) {
    FILE *fp = fopen(path, "wb");
    CHECK(fp != NULL, "cannot create %s", path);
    if (!fp) return;
    CHECK(fwrite(data, 1, n, fp) == n, "short write to %s", path);
    fclose(fp);
}

/* A file from a header length field, header text and data. */
static void write_raw(const char *path, uint64_t hlen, const char *header, const void *data,
                      size_t n) {
    size_t jlen = strlen(header);
    uint8_t *buf = malloc(8 + jlen + n + 1);
    for (int i = 0; i < 8; i++) buf[i] = (uint8_t)(hlen >> (8 * i));
    memcpy(buf + 8, header, jlen);
    if (n) memcpy(buf + 8 + jlen, data, n);
    write_bytes(path, buf, 8 + jlen + n);
    free(buf);
}

static void write_header(const char *path, const char *header, const void *data, size_t n) {
    write_raw(path, strlen(header), header, data, n);
}

static struct mslam_model_config tiny_config(void) {
    return (struct mslam_model_config){.n_mels = 80,
                                       .d_model = 8,
                                       .n_heads = 2,
                                       .d_ff = 16,
                                       .conv_kernel = 3,
                                       .sub_channels = 2,
                                       .n_speech_layers = 1,
                                       .n_shared_layers = 1,
                                       .vocab_size = 6,
                                       .n_langs = 3,
                                       .causal_conv = 1};
}
static const char *const tiny_vocab[] = {"<blank>",          "a",    "\xc3\xa9", "\xe6\x97\xa5",
                                         "\xf0\x9f\x98\x80", "<unk>"};
static const char *const tiny_langs[] = {"en", "fr", "cmn_hans_cn"};

static mslam_model *tiny_model(uint64_t seed) {
    struct mslam_model_config cfg = tiny_config();
    mslam_model *m = mslam_model_new(&cfg, tiny_vocab, tiny_langs);
    CHECK(m != NULL, "mslam_model_new: %s", mslam_last_error());
    if (!m) return NULL;
    mslam_rng rng;
    mslam_rng_seed(&rng, seed);
    test_fill_uniform(m->block, m->table.total, -2.0f, 2.0f, &rng);
    return m;
}

static int models_equal(const mslam_model *a, const mslam_model *b) {
    if (memcmp(&a->cfg, &b->cfg, sizeof a->cfg) != 0 || a->table.total != b->table.total) return 0;
    for (int i = 0; i < a->cfg.vocab_size; i++)
        if (strcmp(a->vocab[i], b->vocab[i]) != 0) return 0;
    for (int i = 0; i < a->cfg.n_langs; i++)
        if (strcmp(a->langs[i], b->langs[i]) != 0) return 0;
    return memcmp(a->block, b->block, a->table.total * sizeof(float)) == 0;
}

static void test_model_round_trip(const char *good) {
    mslam_model *m = tiny_model(1);
    if (!m) return;
    CHECK(mslam_model_save(m, good) == 0, "save: %s", mslam_last_error());
    mslam_model *l = mslam_model_load(good, mslam_model_default_params());
    CHECK(l != NULL, "load: %s", mslam_last_error());
    if (l) {
        CHECK(models_equal(m, l), "loaded model differs from the saved one");
        /* Slots are bound into the loaded block. */
        const mslam_param_entry *e = &l->table.entries[l->table.n - 1];
        CHECK(*e->slot == l->block + e->offset, "slots not bound");
        CHECK(l->p.shared[0].attn_wq[5] == m->p.shared[0].attn_wq[5], "bound values differ");
        CHECK(strcmp(l->path, good) == 0, "path not kept");
        struct mslam_model_config c = mslam_model_get_config(l), want = tiny_config();
        CHECK(memcmp(&c, &want, sizeof c) == 0, "get_config differs");
        CHECK(strcmp(mslam_model_vocab_token(l, 0), "<blank>") == 0, "vocab_token(0)");
        CHECK(strcmp(mslam_model_vocab_token(l, 4), "\xf0\x9f\x98\x80") == 0, "vocab_token(4)");
        CHECK(mslam_model_vocab_token(l, 6) == NULL && mslam_model_vocab_token(l, -1) == NULL,
              "vocab_token out of range");
        CHECK(strcmp(mslam_model_lang(l, 2), "cmn_hans_cn") == 0, "lang(2)");
        CHECK(mslam_model_lang(l, 3) == NULL && mslam_model_lang(l, -1) == NULL,
              "lang out of range");

        static const struct {
            const char *s;
            int id, len;
        } chars[] = {
            {"a", 1, 1},
            {"\xc3\xa9x", 2, 2},
            {"\xe6\x97\xa5", 3, 3},
            {"\xf0\x9f\x98\x80", 4, 4},
            {"b", -1, 1},
            {"<", -1, 1},
            {"\xff", -1, 1},
            {"\xc0\x80", -1, 1} /* overlong NUL */,
            {"\xed\xa0\x80", -1, 1} /* surrogate */,
            {"\xe6\x97", -1, 1} /* cut short */,
            {"\xf4\x90\x80\x80", -1, 1} /* past U+10FFFF */,
            {"\x80", -1, 1},
        };
        for (size_t i = 0; i < sizeof chars / sizeof chars[0]; i++) {
            int len = 0, id = mslam_model_char_id(l, chars[i].s, &len);
            CHECK(id == chars[i].id && len == chars[i].len, "char_id case %zu: id %d len %d", i, id,
                  len);
        }
        mslam_model_free(l);
    }

    /* The file is plain safetensors: header a multiple of 8 padded with spaces, F32 aligned. */
    st_file f;
    CHECK(st_open(&f, good) == 0, "st_open: %s", mslam_last_error());
    if (f.map) {
        size_t hlen = (size_t)(f.data - (const uint8_t *)f.map) - 8;
        CHECK(hlen % 8 == 0, "header length %zu not a multiple of 8", hlen);
        CHECK(f.n_tensors == m->table.n, "%d tensors in the file, %d in the table", f.n_tensors,
              m->table.n);
        CHECK(strcmp(st_meta_get(&f, "format_version"), "1") == 0, "format_version");
        for (int i = 0; i < f.n_tensors; i++)
            CHECK(f.tensors[i].dtype == ST_F32 && f.tensors[i].begin % 4 == 0, "tensor %d", i);
        for (int i = 1; i < f.n_tensors; i++)
            CHECK(strcmp(f.tensors[i - 1].name, f.tensors[i].name) < 0, "tensors not sorted");
        CHECK(st_find(&f, "text.embed.weight") != NULL && st_find(&f, "nope") == NULL, "st_find");
        st_close(&f);
    }

    /* mslam_model_new refuses bad arguments, naming them. */
    struct mslam_model_config bad = tiny_config();
    bad.d_model = 7;
    CHECK(mslam_model_new(&bad, tiny_vocab, tiny_langs) == NULL, "d_model 7 accepted");
    CHECK_ERROR("new with d_model 7", "mslam_model_new", "d_model", NULL);
    struct mslam_model_config cfg = tiny_config();
    const char *dup_vocab[] = {"<blank>", "a", "b", "a", "c", "<unk>"};
    CHECK(mslam_model_new(&cfg, dup_vocab, tiny_langs) == NULL, "duplicate vocab accepted");
    CHECK_ERROR("new with duplicate vocab", "entries 1 and 3", "\"a\"", NULL);
    const char *long_vocab[] = {"<blank>", "a", "ab", "c", "d", "<unk>"};
    CHECK(mslam_model_new(&cfg, long_vocab, tiny_langs) == NULL, "two-character entry accepted");
    CHECK_ERROR("new with \"ab\"", "vocab entry 2", NULL, NULL);
    const char *bad_langs[] = {"en", "fr", "en"};
    CHECK(mslam_model_new(&cfg, tiny_vocab, bad_langs) == NULL, "duplicate lang accepted");
    CHECK_ERROR("new with duplicate langs", "langs", "\"en\"", NULL);
    mslam_model_free(m);
}

static void test_dtypes(void) {
    const char *path = tpath("dtypes.safetensors");
    /* Exact bit patterns: 1, -2, 65504 (max), 2^-24 (smallest subnormal), -0, inf, 1/3. */
    const uint16_t f16[] = {0x3c00, 0xc000, 0x7bff, 0x0001, 0x8000, 0x7c00, 0x3555};
    const float f16_want[] = {1.0f, -2.0f, 65504.0f, 0x1p-24f, -0.0f, INFINITY, 0x1.554p-2f};
    const uint16_t bf16[] = {0x3f80, 0xc040, 0x7f80, 0x0001, 0x4049};
    const float bf16_want[] = {1.0f, -3.0f, INFINITY, 0x1p-133f, 3.140625f};
    const int32_t i32[] = {7, -1, INT32_MAX, INT32_MIN, 0, 42};
    const int64_t i64[] = {5, -6, (int64_t)1 << 40};
    const int8_t i8[] = {-128, 127, 3};
    const uint8_t u8[] = {255, 0};
    const double f64[] = {0.5, -1e300};
    const float scalar = 2.5f;
    st_write_tensor ts[] = {
        {"half", ST_F16, 1, {7}, f16},      {"brain", ST_BF16, 2, {1, 5}, bf16},
        {"ints", ST_I32, 2, {2, 3}, i32},   {"longs", ST_I64, 1, {3}, i64},
        {"bytes", ST_I8, 1, {3}, i8},       {"ubytes", ST_U8, 1, {2}, u8},
        {"doubles", ST_F64, 1, {2}, f64},   {"scalar", ST_F32, 0, {0}, &scalar},
        {"empty", ST_F32, 2, {0, 4}, NULL},
    };
    int n = (int)(sizeof ts / sizeof ts[0]);
    char k1[] = "note", v1[] = "caf\xc3\xa9 \"quoted\" \\ /", k2[] = "empty", v2[] = "";
    st_meta meta[] = {{k1, v1}, {k2, v2}};
    CHECK(st_write(path, ts, n, meta, 2) == 0, "st_write: %s", mslam_last_error());
    st_file f;
    if (st_open(&f, path)) {
        CHECK(0, "st_open: %s", mslam_last_error());
        return;
    }
    CHECK(f.n_tensors == n && f.n_meta == 2, "%d tensors, %d meta", f.n_tensors, f.n_meta);
    CHECK(st_meta_get(&f, "note") && strcmp(st_meta_get(&f, "note"), v1) == 0, "metadata value");
    CHECK(st_meta_get(&f, "empty") && !*st_meta_get(&f, "empty"), "empty metadata value");
    CHECK(st_meta_get(&f, "missing") == NULL, "missing metadata key");
    for (int i = 0; i < n; i++) {
        const st_tensor *t = st_find(&f, ts[i].name);
        CHECK(t && t->dtype == ts[i].dtype && t->ndim == ts[i].ndim, "tensor %s", ts[i].name);
        for (int k = 0; t && k < t->ndim; k++)
            CHECK(t->shape[k] == ts[i].shape[k], "%s shape", ts[i].name);
    }
    float out[8];
    int32_t iout[8];
    CHECK(st_read_f32(&f, st_find(&f, "half"), out) == 0, "read half");
    for (int i = 0; i < 7; i++)
        CHECK(memcmp(&out[i], &f16_want[i], 4) == 0, "f16 %d: %a, want %a", i, out[i], f16_want[i]);
    CHECK(st_read_f32(&f, st_find(&f, "brain"), out) == 0, "read bf16");
    for (int i = 0; i < 5; i++)
        CHECK(out[i] == bf16_want[i], "bf16 %d: %a, want %a", i, out[i], bf16_want[i]);
    CHECK(st_read_f32(&f, st_find(&f, "doubles"), out) == 0 && out[0] == 0.5f && isinf(out[1]) &&
              out[1] < 0,
          "f64");
    CHECK(st_read_f32(&f, st_find(&f, "scalar"), out) == 0 && out[0] == 2.5f, "scalar");
    CHECK(st_find(&f, "empty")->numel == 0 && st_read_f32(&f, st_find(&f, "empty"), out) == 0,
          "empty");
    CHECK(st_read_i32(&f, st_find(&f, "ints"), iout) == 0 && memcmp(iout, i32, sizeof i32) == 0,
          "i32");
    CHECK(st_read_i32(&f, st_find(&f, "bytes"), iout) == 0 && iout[0] == -128 && iout[1] == 127,
          "i8");
    CHECK(st_read_i32(&f, st_find(&f, "ubytes"), iout) == 0 && iout[0] == 255, "u8");
    CHECK(st_read_i32(&f, st_find(&f, "longs"), iout) != 0, "i64 beyond int32 accepted");
    CHECK_ERROR("i64 out of range", "dtypes.safetensors", "'longs'", "int32");
    CHECK(st_read_f32(&f, st_find(&f, "ints"), out) != 0, "f32 read of I32 accepted");
    CHECK_ERROR("f32 read of I32", "'ints'", "I32", NULL);
    CHECK(st_read_i32(&f, st_find(&f, "half"), iout) != 0, "i32 read of F16 accepted");
    st_close(&f);

    /* Other writers need not pad the header: data at an odd address must read the same. */
    const float vals[] = {1.5f, -2.25f, 3.0f};
    const char *hdr = "{\"x\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,12]}}";
    CHECK(strlen(hdr) % 4 != 0, "header should leave data unaligned");
    write_header(tpath("unaligned.safetensors"), hdr, vals, sizeof vals);
    if (st_open(&f, tpath("unaligned.safetensors")) == 0) {
        CHECK(st_read_f32(&f, st_find(&f, "x"), out) == 0 && memcmp(out, vals, sizeof vals) == 0,
              "unaligned F32");
        st_close(&f);
    } else {
        CHECK(0, "unaligned file refused: %s", mslam_last_error());
    }
}

/* st_open on a file of the given header (data n bytes of zeros) must fail naming needles. */
static void expect_bad_header(const char *what, const char *header, size_t n, const char *n1,
                              const char *n2) {
    const char *path = tpath("bad.safetensors");
    uint8_t zeros[64] = {0};
    write_header(path, header, zeros, n);
    st_file f;
    int rc = st_open(&f, path);
    CHECK(rc != 0, "%s: accepted", what);
    if (rc == 0)
        st_close(&f);
    else
        CHECK_ERROR(what, "bad.safetensors", n1, n2);
}

#define Q "shared_layers.0.attn.q.weight"

static void test_bad_files(const char *good) {
    const char *path = tpath("bad.safetensors");
    st_file f;

    write_bytes(path, "\x10\0\0\0", 4);
    CHECK(st_open(&f, path) != 0, "4-byte file accepted");
    CHECK_ERROR("4-byte file", "bad.safetensors", "shorter than", NULL);

    write_raw(path, 1000, "{}", NULL, 0);
    CHECK(st_open(&f, path) != 0, "header length past the file accepted");
    CHECK_ERROR("header length past the file", "bad.safetensors", "header length 1000", NULL);

    write_raw(path, (uint64_t)1 << 63, "{}", NULL, 0);
    CHECK(st_open(&f, path) != 0, "header length 2^63 accepted");
    CHECK_ERROR("header length 2^63", "header length 9223372036854775808", NULL, NULL);

    CHECK(st_open(&f, tpath("does-not-exist")) != 0, "missing file opened");
    CHECK_ERROR("missing file", "cannot open", "does-not-exist", "No such file");
    CHECK(st_open(&f, tmpdir) != 0, "directory opened");
    CHECK_ERROR("directory", tmpdir, "is a folder, not a file", NULL);
    /* a training run's folder (train --out) given for its model: its files named */
    CHECK(mkdir(tpath("run"), 0700) == 0, "cannot make %s", tpath("run"));
    write_bytes(tpath("run/model.safetensors"), "\x10\0\0\0", 4);
    CHECK(st_open(&f, tpath("run")) != 0, "a run's folder opened");
    CHECK_ERROR("a run's folder", "a training run's folder?", "model.safetensors", "best.safetensors");
    unlink(tpath("run/model.safetensors"));
    rmdir(tpath("run"));
    /* nor another file that is not a regular one */
    CHECK(mkfifo(tpath("fifo"), 0600) == 0 && st_open(&f, tpath("fifo")) != 0, "a FIFO opened");
    CHECK_ERROR("a FIFO", "fifo", "not a regular file", NULL);
    unlink(tpath("fifo"));

    expect_bad_header("invalid JSON", "{\"a\":", 0, "not valid JSON", NULL);
    expect_bad_header("empty header", "", 0, "not valid JSON", NULL);
    expect_bad_header("trailing garbage", "{} x", 0, "not valid JSON", NULL);
    expect_bad_header("single quotes", "{'a':{}}", 0, "single-quoted", NULL);
    expect_bad_header("not an object", "[1, 2]", 0, "not a JSON object", NULL);
    expect_bad_header("offsets out of range",
                      "{\"" Q "\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,16]}}", 8, Q,
                      "data_offsets [0, 16]");
    expect_bad_header("begin > end",
                      "{\"" Q "\":{\"dtype\":\"F32\",\"shape\":[0],\"data_offsets\":[10,9]}}", 16,
                      Q, "data_offsets [10, 9]");
    expect_bad_header("overlap",
                      "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
                      "\"" Q "\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                      12, Q, "overlap tensor 'a'");
    expect_bad_header("hole", "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[4,12]}}",
                      12, "bytes [0, 4)", NULL);
    expect_bad_header("bytes after the last tensor",
                      "{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}}", 12,
                      "4 bytes after", NULL);
    expect_bad_header("size disagrees with shape",
                      "{\"" Q "\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, Q,
                      "give 12");
    expect_bad_header(
        "numel overflow",
        "{\"a\":{\"dtype\":\"F32\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,8]}}", 8,
        "'a'", "overflows");
    expect_bad_header("unknown dtype",
                      "{\"" Q "\":{\"dtype\":\"F8_E4M3\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2,
                      Q, "'F8_E4M3'");
    expect_bad_header("negative dim",
                      "{\"a\":{\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,0]}}", 0, "'a'",
                      "shape[0]");
    expect_bad_header("fractional dim",
                      "{\"a\":{\"dtype\":\"U8\",\"shape\":[1.0],\"data_offsets\":[0,1]}}", 1, "'a'",
                      "shape[0]");
    expect_bad_header(
        "too many dims",
        "{\"a\":{\"dtype\":\"U8\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,1]}}", 1, "'a'",
        "9 dimensions");
    expect_bad_header("missing field", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1]}}", 1, "'a'",
                      "data_offsets");
    expect_bad_header("unknown field",
                      "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"scale\":2}}",
                      1, "'a'", "'scale'");
    expect_bad_header("entry not an object", "{\"a\":[1]}", 0, "'a'", "not a JSON object");
    expect_bad_header("duplicate tensor",
                      "{\"" Q "\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
                      "\"" Q "\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}",
                      2, Q, "more than once");
    expect_bad_header(
        "duplicate field",
        "{\"a\":{\"dtype\":\"U8\",\"dtype\":\"I8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
        "twice", NULL);
    expect_bad_header("NUL in a name",
                      "{\"a\\u0000b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1,
                      "NUL", NULL);
    expect_bad_header("metadata not an object", "{\"__metadata__\":[\"x\"]}", 0, "__metadata__",
                      NULL);
    expect_bad_header("metadata not strings", "{\"__metadata__\":{\"k\":1}}", 0, "__metadata__ 'k'",
                      NULL);

    /* Data cut: the last tensor reaches past the end. */
    uint8_t *bytes;
    size_t n;
    CHECK(read_bytes(good, &bytes, &n) == 0, "cannot read %s", good);
    write_bytes(path, bytes, n - 4);
    CHECK(st_open(&f, path) != 0, "truncated file accepted");
    CHECK_ERROR("truncated file", "bad.safetensors", "truncated", NULL);
    CHECK(mslam_model_load(path, mslam_model_default_params()) == NULL, "truncated model loaded");
    CHECK_ERROR("truncated model", "bad.safetensors", "data_offsets", NULL);
    free(bytes);
    /* a text file (a manifest) in a model's place: said to be no safetensors file, not a header length */
    const char manifest[] = "path\tlang\ttext\naudio/es_0.flac\tes\thola\n";
    write_bytes(path, (const uint8_t *)manifest, sizeof manifest - 1);
    CHECK(st_open(&f, path) != 0, "a manifest accepted");
    CHECK_ERROR("a manifest", "bad.safetensors", "not a safetensors file", NULL);

    CHECK(mslam_model_load(tpath("nowhere/model.safetensors"), mslam_model_default_params()) ==
              NULL,
          "missing model loaded");
    CHECK_ERROR("missing model", "cannot open", "nowhere/model.safetensors",
                "No such file or directory");
}

/* A good model file's tensors and metadata, to rewrite with one thing changed. */
typedef struct {
    st_file f;
    st_write_tensor ts[512];
    int n;
    st_meta meta[8];
    int n_meta;
} variant;

static int variant_open(variant *v, const char *good) {
    if (st_open(&v->f, good)) return -1;
    v->n = v->f.n_tensors;
    for (int i = 0; i < v->n; i++) {
        const st_tensor *t = &v->f.tensors[i];
        v->ts[i] = (st_write_tensor){t->name, t->dtype, t->ndim, {0}, v->f.data + t->begin};
        memcpy(v->ts[i].shape, t->shape, sizeof t->shape);
    }
    v->n_meta = v->f.n_meta;
    memcpy(v->meta, v->f.meta, (size_t)v->n_meta * sizeof *v->meta);
    return 0;
}

static int variant_index(variant *v, const char *name) {
    for (int i = 0; i < v->n; i++)
        if (strcmp(v->ts[i].name, name) == 0) return i;
    return -1;
}

/* Writes v and loads it: the load must fail naming needles. */
static void expect_bad_model(variant *v, const char *what, const char *n1, const char *n2) {
    const char *path = tpath("bad-model.safetensors");
    if (st_write(path, v->ts, v->n, v->meta, v->n_meta)) {
        CHECK(0, "%s: st_write: %s", what, mslam_last_error());
        return;
    }
    mslam_model *m = mslam_model_load(path, mslam_model_default_params());
    CHECK(m == NULL, "%s: loaded", what);
    mslam_model_free(m);
    if (!m) CHECK_ERROR(what, "bad-model.safetensors", n1, n2);
}

/* Replaces metadata key's value with value, runs expect_bad_model, restores it. */
static void expect_bad_meta(variant *v, const char *key, const char *value, const char *what,
                            const char *n1, const char *n2) {
    for (int i = 0; i < v->n_meta; i++) {
        if (strcmp(v->meta[i].key, key) != 0) continue;
        char *saved = v->meta[i].value, copy[512];
        snprintf(copy, sizeof copy, "%s", value);
        v->meta[i].value = copy;
        expect_bad_model(v, what, n1, n2);
        v->meta[i].value = saved;
        return;
    }
    CHECK(0, "%s: no metadata key %s", what, key);
}

static void test_bad_models(const char *good) {
    variant v;
    if (variant_open(&v, good)) {
        CHECK(0, "cannot open %s: %s", good, mslam_last_error());
        return;
    }
    int q = variant_index(&v, Q);
    CHECK(q >= 0, "no %s in the file", Q);
    if (q < 0) return;

    /* The unchanged variant loads: what follows fails for its one change only. */
    const char *path = tpath("variant.safetensors");
    CHECK(st_write(path, v.ts, v.n, v.meta, v.n_meta) == 0, "st_write: %s", mslam_last_error());
    mslam_model *ok = mslam_model_load(path, mslam_model_default_params());
    CHECK(ok != NULL, "unchanged variant: %s", mslam_last_error());
    mslam_model_free(ok);

    v.ts[q].dtype = ST_I32;
    expect_bad_model(&v, "I32 weight", Q, "dtype I32");
    v.ts[q].dtype = ST_F32;

    v.ts[q].shape[0] = 4, v.ts[q].shape[1] = 16;
    expect_bad_model(&v, "shape against the config", Q, "shape [4, 16]");
    v.ts[q].shape[0] = 8, v.ts[q].shape[1] = 8;

    st_write_tensor saved = v.ts[q];
    v.ts[q] = v.ts[--v.n];
    expect_bad_model(&v, "missing tensor", Q, "missing");
    v.ts[v.n++] = v.ts[q];
    v.ts[q] = saved;

    const float extra[2] = {1, 2};
    v.ts[v.n++] = (st_write_tensor){"decoder.extra.weight", ST_F32, 1, {2}, extra};
    expect_bad_model(&v, "extra tensor", "decoder.extra.weight", "not part");
    v.n--;

    /* A NaN, and an F16 infinity, among the weights. */
    float buf[64];
    memcpy(buf, v.ts[q].data, sizeof buf);
    buf[3] = NAN;
    const void *orig = v.ts[q].data;
    v.ts[q].data = buf;
    expect_bad_model(&v, "NaN weight", Q, "element 3");
    uint16_t half[64] = {0};
    half[10] = 0x7c00;
    v.ts[q].dtype = ST_F16;
    v.ts[q].data = half;
    expect_bad_model(&v, "F16 infinity", Q, "element 10");
    v.ts[q].dtype = ST_F32;
    v.ts[q].data = orig;

    expect_bad_meta(&v, "format_version", "99", "format_version 99",
                    "unknown format_version \"99\"", NULL);
    expect_bad_meta(&v, "config",
                    "{\"d_model\":8,\"n_heads\":2,\"d_ff\":16,\"conv_kernel\":3,\"sub_channels\":2,"
                    "\"n_speech_layers\":1,\"n_shared_layers\":1,\"vocab_size\":6,\"n_langs\":3,"
                    "\"causal_conv\":1}",
                    "missing config field", "'n_mels'", NULL);
    expect_bad_meta(
        &v, "config",
        "{\"n_mels\":80,\"d_model\":8,\"n_heads\":2,\"d_ff\":16,\"conv_kernel\":3,"
        "\"sub_channels\":2,\"n_speech_layers\":1,\"n_shared_layers\":1,\"vocab_size\":6,"
        "\"n_langs\":3,\"causal_conv\":1,\"n_experts\":2}",
        "unknown config field", "'n_experts'", NULL);
    expect_bad_meta(
        &v, "config",
        "{\"n_mels\":80,\"d_model\":8,\"n_heads\":2,\"d_ff\":16.5,\"conv_kernel\":3,"
        "\"sub_channels\":2,\"n_speech_layers\":1,\"n_shared_layers\":1,\"vocab_size\":6,"
        "\"n_langs\":3,\"causal_conv\":1}",
        "fractional config field", "'d_ff'", NULL);
    expect_bad_meta(
        &v, "config",
        "{\"n_mels\":80,\"d_model\":8,\"n_heads\":3,\"d_ff\":16,\"conv_kernel\":3,"
        "\"sub_channels\":2,\"n_speech_layers\":1,\"n_shared_layers\":1,\"vocab_size\":6,"
        "\"n_langs\":3,\"causal_conv\":1}",
        "d_model not a multiple of n_heads", "n_heads", NULL);
    expect_bad_meta(
        &v, "config",
        "{\"n_mels\":80,\"d_model\":8,\"n_heads\":2,\"d_ff\":16,\"conv_kernel\":3,"
        "\"sub_channels\":2,\"n_speech_layers\":1,\"n_shared_layers\":1,\"vocab_size\":6,"
        "\"n_langs\":3,\"causal_conv\":1,\"d_ff\":32}",
        "repeated config field", "'d_ff' twice", NULL);
    expect_bad_meta(&v, "config", "[80]", "config not an object", "\"config\"", NULL);
    expect_bad_meta(&v, "config", "{\"n_mels\":", "config not JSON", "\"config\"",
                    "not valid JSON");
    expect_bad_meta(&v, "vocab", "[\"<blank>\",\"a\",\"b\",\"c\",\"<unk>\"]", "vocab length",
                    "\"vocab\" has 5 entries", "vocab_size is 6");
    expect_bad_meta(&v, "vocab", "[\"<blank>\",\"a\",\"b\",\"c\",\"d\",7]",
                    "vocab entry not a string", "\"vocab\" entry 5", NULL);
    expect_bad_meta(&v, "vocab", "[\"<blank>\",\"a\",\"b\",\"a\",\"d\",\"<unk>\"]",
                    "vocab duplicate", "vocab entries 1 and 3", NULL);
    expect_bad_meta(&v, "vocab", "[\"<blank>\",\"a\",\"b\",\"cd\",\"e\",\"<unk>\"]",
                    "vocab entry of two characters", "vocab entry 3", NULL);
    expect_bad_meta(&v, "vocab", "[\"<blank>\",\"a\",\"b\",\"<b l>\",\"e\",\"<unk>\"]",
                    "reserved token with a space", "vocab entry 3", NULL);
    expect_bad_meta(&v, "langs", "[\"en\",\"fr\"]", "langs length", "\"langs\" has 2 entries",
                    "n_langs");
    expect_bad_meta(&v, "langs", "[\"en\",\"fr\",\"e n\"]", "lang with a space", "langs entry 2",
                    NULL);
    /* codes are matched in any case: two that differ only in case would be one language */
    expect_bad_meta(&v, "langs", "[\"en\",\"fr\",\"EN\"]", "langs differing in case", "langs entries 0 and 2",
                    "differ only in case");

    /* Without format_version the file is not an mslam model. */
    for (int i = 0; i < v.n_meta; i++) {
        if (strcmp(v.meta[i].key, "format_version") != 0) continue;
        char *key = v.meta[i].key, other[] = "provenance";
        v.meta[i].key = other;
        expect_bad_model(&v, "no format_version", "format_version", NULL);
        /* another program's file (PyTorch's say "format": "pt"): its format named, for every reader */
        v.meta[i].key = (char *)"format";
        char *value = v.meta[i].value;
        v.meta[i].value = (char *)"pt";
        expect_bad_model(&v, "a PyTorch file", "\"format\" is \"pt\"", NULL);
        const char *path = tpath("bad-model.safetensors"); /* as expect_bad_model left it */
        CHECK(!mslam_lm_load(path) &&
                  strstr(mslam_last_error(), "not a character LM (__metadata__ \"format\" is \"pt\"") &&
                  !mslam_tm_load(path) && strstr(mslam_last_error(), "\"format\" is \"pt\""),
              "a PyTorch file as an LM or a memory: %s", mslam_last_error());
        v.meta[i].value = value;
        v.meta[i].key = key;
    }
    st_close(&v.f);
}

/* Weights stored as BF16 (the F32 values' top halves) load as exactly those values. */
static void test_bf16_model(const char *good) {
    variant v;
    if (variant_open(&v, good)) {
        CHECK(0, "cannot open %s", good);
        return;
    }
    mslam_model *ref = mslam_model_load(good, mslam_model_default_params());
    uint16_t *halves[512] = {0};
    for (int i = 0; i < v.n; i++) {
        const st_tensor *t = st_find(&v.f, v.ts[i].name);
        halves[i] = malloc(t->numel * 2 + 1);
        for (size_t k = 0; k < t->numel; k++) {
            uint32_t bits;
            memcpy(&bits, (const uint8_t *)v.ts[i].data + 4 * k, 4);
            halves[i][k] = (uint16_t)(bits >> 16);
        }
        v.ts[i].dtype = ST_BF16;
        v.ts[i].data = halves[i];
    }
    const char *path = tpath("bf16.safetensors");
    CHECK(st_write(path, v.ts, v.n, v.meta, v.n_meta) == 0, "st_write: %s", mslam_last_error());
    mslam_model *m = mslam_model_load(path, mslam_model_default_params());
    CHECK(m != NULL && ref != NULL, "BF16 model: %s", mslam_last_error());
    if (m && ref) {
        size_t bad = 0;
        for (size_t k = 0; k < m->table.total; k++) {
            uint32_t bits;
            memcpy(&bits, &ref->block[k], 4);
            bits &= 0xffff0000u;
            float want;
            memcpy(&want, &bits, 4);
            bad += m->block[k] != want;
        }
        CHECK(bad == 0, "%zu BF16 weights differ", bad);
    }
    mslam_model_free(m);
    mslam_model_free(ref);
    for (int i = 0; i < v.n; i++) free(halves[i]);
    st_close(&v.f);
}

/* Single -> half rounding on known values, every half bit pattern back and forth, and a model
 * written as F16 loads as its weights rounded to half precision. */
static void test_f16(void) {
    static const struct {
        float f;
        uint16_t h;
    } known[] = {
        {0.0f, 0x0000},       {-0.0f, 0x8000},        {1.0f, 0x3c00},         {-2.0f, 0xc000},
        {0.1f, 0x2e66},       {65504.0f, 0x7bff},     {65519.0f, 0x7bff},     {65520.0f, 0x7c00},
        {1e10f, 0x7c00},      {0x1p-14f, 0x0400},     {0x1p-24f, 0x0001},     {0x1p-25f, 0x0000},
        {0x1.8p-25f, 0x0001}, {0x1.ffcp-15f, 0x0400}, {1.0f + 0x1p-11f, 0x3c00} /* tie: even */,
        {1.0f + 0x3p-11f, 0x3c02} /* tie: even, up */, {-0x1p-30f, 0x8000},
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        uint16_t h = st_f32_to_f16(known[i].f);
        CHECK(h == known[i].h, "f32_to_f16(%a) = 0x%04x, want 0x%04x", (double)known[i].f, h, known[i].h);
    }
    CHECK(st_f32_to_f16(INFINITY) == 0x7c00 && (st_f32_to_f16(NAN) & 0x7e00) == 0x7e00, "inf/nan");
    int bad = 0;
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff)) continue; /* NaN payloads need not survive */
        bad += st_f32_to_f16(st_f16_to_f32((uint16_t)h)) != h;
    }
    CHECK(bad == 0, "%d half values do not survive half -> single -> half", bad);

    mslam_model *m = tiny_model(3);
    if (!m) return;
    const char *path = tpath("f16.safetensors");
    CHECK(mslam_model_save_f16(m, path) == 0, "save_f16: %s", mslam_last_error());
    mslam_model *l = mslam_model_load(path, mslam_model_default_params());
    CHECK(l != NULL, "load F16: %s", mslam_last_error());
    if (l) {
        size_t differ = 0;
        for (size_t k = 0; k < m->table.total; k++) differ += l->block[k] != st_f16_to_f32(st_f32_to_f16(m->block[k]));
        CHECK(differ == 0, "%zu F16 weights differ from the rounded originals", differ);
        mslam_model_free(l);
    }
    st_file f;
    CHECK(st_open(&f, path) == 0, "st_open: %s", mslam_last_error());
    if (f.map) {
        size_t data_bytes = 0;
        for (int i = 0; i < f.n_tensors; i++) {
            CHECK(f.tensors[i].dtype == ST_F16, "tensor %s is not F16", f.tensors[i].name);
            data_bytes += f.tensors[i].end - f.tensors[i].begin;
        }
        CHECK(data_bytes == 2 * m->table.total, "%zu bytes of data for %zu weights", data_bytes, m->table.total);
        st_close(&f);
    }
    /* a weight beyond the half range is an error naming the tensor; the file written before stays */
    m->p.shared[0].attn_wq[1] = 1e6f;
    CHECK(mslam_model_save_f16(m, path) != 0, "1e6 written as F16");
    CHECK_ERROR("F16 overflow", "shared_layers.0", "F16 range", NULL);
    l = mslam_model_load(path, mslam_model_default_params());
    CHECK(l != NULL, "the earlier F16 file was damaged: %s", mslam_last_error());
    mslam_model_free(l);
    mslam_model_free(m);
}

/* Removes v's tensor i (the rest keep their order). */
static void variant_remove(variant *v, int i) {
    memmove(&v->ts[i], &v->ts[i + 1], (size_t)(v->n - i - 1) * sizeof v->ts[0]);
    v->n--;
}

static int is_int8_weight(const mslam_param_entry *e) {
    size_t n = strlen(e->name);
    return e->ndim >= 2 && n > 7 && !strcmp(e->name + n - 7, ".weight");
}

/* A model written as int8 loads with each weight matrix within half its row's scale (absmax /
 * 127) of the original, a zero row as zeros, and the rest as F16; a broken pairing of a weight
 * and its scales is an error naming both. */
static void test_int8(void) {
    mslam_model *m = tiny_model(4);
    if (!m) return;
    const mslam_param_entry *zeroed = NULL;
    for (int i = 0; i < m->table.n && !zeroed; i++)
        if (is_int8_weight(&m->table.entries[i])) zeroed = &m->table.entries[i];
    CHECK(zeroed != NULL, "the tiny model has no weight matrix");
    if (!zeroed) {
        mslam_model_free(m);
        return;
    }
    size_t zeroed_row = zeroed->numel / (size_t)zeroed->shape[0];
    memset(m->block + zeroed->offset + zeroed_row, 0, zeroed_row * sizeof(float)); /* its second row */
    const char *path = tpath("int8.safetensors");
    CHECK(mslam_model_save_int8(m, path) == 0, "save_int8: %s", mslam_last_error());
    mslam_model *l = mslam_model_load(path, mslam_model_default_params());
    CHECK(l != NULL, "load int8: %s", mslam_last_error());
    size_t expected_bytes = 0;
    for (int i = 0; l && i < m->table.n; i++) {
        const mslam_param_entry *e = &m->table.entries[i];
        const float *x = m->block + e->offset, *y = l->block + e->offset;
        if (!is_int8_weight(e)) {
            size_t differ = 0;
            for (size_t k = 0; k < e->numel; k++) differ += y[k] != st_f16_to_f32(st_f32_to_f16(x[k]));
            CHECK(differ == 0, "%s: %zu values are not their F16 rounding", e->name, differ);
            expected_bytes += 2 * e->numel;
            continue;
        }
        size_t rows = (size_t)e->shape[0], per_row = e->numel / rows, far = 0, nonzero = 0;
        for (size_t r = 0; r < rows; r++) {
            float absmax = 0;
            for (size_t k = 0; k < per_row; k++) absmax = fmaxf(absmax, fabsf(x[r * per_row + k]));
            float half_step = absmax / 127.0f / 2.0f * (1.0f + 1e-5f);
            for (size_t k = 0; k < per_row; k++) {
                far += !(fabsf(y[r * per_row + k] - x[r * per_row + k]) <= half_step);
                nonzero += e == zeroed && r == 1 && y[r * per_row + k] != 0.0f;
            }
        }
        CHECK(far == 0, "%s: %zu values beyond half a step of their row's scale", e->name, far);
        CHECK(nonzero == 0, "%s: the zero row came back with %zu nonzero values", e->name, nonzero);
        expected_bytes += e->numel + 4 * rows;
    }
    mslam_model_free(l);
    mslam_model_free(m);

    variant v;
    if (variant_open(&v, path)) {
        CHECK(0, "cannot open %s: %s", path, mslam_last_error());
        return;
    }
    size_t data_bytes = 0;
    for (int i = 0; i < v.f.n_tensors; i++) data_bytes += v.f.tensors[i].end - v.f.tensors[i].begin;
    CHECK(data_bytes == expected_bytes, "%zu bytes of data, want %zu", data_bytes, expected_bytes);
    int q = variant_index(&v, Q), qs = variant_index(&v, Q ".scale");
    CHECK(q >= 0 && qs >= 0 && v.ts[q].dtype == ST_I8 && v.ts[qs].dtype == ST_F32 && v.ts[qs].ndim == 1 &&
              v.ts[qs].shape[0] == 8,
          "%s is not I8 with 8 F32 scales", Q);
    if (q < 0 || qs < 0) {
        st_close(&v.f);
        return;
    }
    st_write_tensor scale = v.ts[qs];
    float nan_scale[8];
    memcpy(nan_scale, scale.data, sizeof nan_scale);
    nan_scale[3] = NAN;
    v.ts[qs].data = nan_scale;
    expect_bad_model(&v, "NaN scale", Q ".scale", "element 3");
    nan_scale[3] = -0.5f; /* a scale is a row's largest magnitude / 127 */
    expect_bad_model(&v, "negative scale", Q ".scale", "element 3");
    v.ts[qs] = scale;
    v.ts[qs].shape[0] = 4;
    expect_bad_model(&v, "4 scales for 8 rows", Q ".scale", "shape [8]");
    v.ts[qs] = scale;
    v.ts[qs].dtype = ST_I8;
    expect_bad_model(&v, "I8 scales", Q ".scale", "float tensor");
    v.ts[qs] = scale;
    int bias = variant_index(&v, "shared_layers.0.attn.q.bias");
    if (bias >= 0) {
        /* scales beside a tensor that is not I8 belong to nothing */
        st_write_tensor saved = v.ts[bias];
        v.ts[bias].name = "shared_layers.0.attn.q.bias.scale";
        v.ts[v.n++] = saved;
        expect_bad_model(&v, "scales of an F16 tensor", "shared_layers.0.attn.q.bias.scale", "not part of a model");
        v.n--;
        v.ts[bias] = saved;
    }
    variant_remove(&v, qs);
    expect_bad_model(&v, "no scales", Q ".scale", "there is none");
    st_close(&v.f);

    /* a weight beyond F16's range fits a row's scale; a bias there does not; a NaN fits neither
     * (each refusal names the tensor and leaves the file written before as it was) */
    m = tiny_model(5);
    if (!m) return;
    m->p.shared[0].attn_wq[9] = 1e6f; /* row 1 */
    CHECK(mslam_model_save_int8(m, path) == 0, "1e6 in a weight matrix: %s", mslam_last_error());
    l = mslam_model_load(path, mslam_model_default_params());
    CHECK(l && fabsf(l->p.shared[0].attn_wq[9] - 1e6f) <= 1e6f / 254.0f,
          "1e6 in a weight matrix came back as %g", l ? (double)l->p.shared[0].attn_wq[9] : 0.0);
    mslam_model_free(l);
    m->p.shared[0].attn_bq[1] = 1e6f;
    CHECK(mslam_model_save_int8(m, path) != 0, "1e6 in a bias written in F16");
    CHECK_ERROR("F16 overflow of a bias", "shared_layers.0.attn.q.bias", "F16 range", NULL);
    m->p.shared[0].attn_bq[1] = 0.5f;
    m->p.shared[0].attn_wq[10] = NAN;
    CHECK(mslam_model_save_int8(m, path) != 0, "a NaN weight written in int8");
    CHECK_ERROR("NaN in int8", Q, "element 10", "not a finite number");
    l = mslam_model_load(path, mslam_model_default_params());
    CHECK(l != NULL, "the earlier int8 file was damaged: %s", mslam_last_error());
    mslam_model_free(l);
    mslam_model_free(m);
}

static int temp_files_left(void) {
    DIR *d = opendir(tmpdir);
    int n = 0;
    for (struct dirent *e; d && (e = readdir(d));) n += strstr(e->d_name, ".tmp-") != NULL;
    if (d) closedir(d);
    return n;
}

static void test_failing_writes(const char *good) {
    const float x[4] = {1, 2, 3, 4};
    st_write_tensor t = {"x", ST_F32, 1, {4}, x};

    CHECK(st_write(tpath("no-such-dir/out.safetensors"), &t, 1, NULL, 0) != 0,
          "write into a missing directory");
    CHECK_ERROR("missing directory", "cannot write", "no-such-dir/out.safetensors", "No such file");
    char under_file[600];
    snprintf(under_file, sizeof under_file, "%s/x.safetensors", good);
    CHECK(st_write(under_file, &t, 1, NULL, 0) != 0, "write under a regular file");
    CHECK_ERROR("under a file", "cannot write", "Not a directory", NULL);

    uint8_t *before, *after;
    size_t nb, na;
    CHECK(read_bytes(good, &before, &nb) == 0, "read %s", good);

    /* Bad arguments fail before anything is written. */
    st_write_tensor dup[2] = {t, t};
    CHECK(st_write(good, dup, 2, NULL, 0) != 0, "duplicate tensor names written");
    CHECK_ERROR("duplicate names", "'x' given twice", NULL, NULL);
    st_write_tensor nodata = {"y", ST_F32, 1, {4}, NULL};
    CHECK(st_write(good, &nodata, 1, NULL, 0) != 0, "NULL data written");
    CHECK_ERROR("NULL data", "'y'", NULL, NULL);
    st_write_tensor baddtype = {"z", (st_dtype)42, 1, {4}, x};
    CHECK(st_write(good, &baddtype, 1, NULL, 0) != 0, "bad dtype written");
    CHECK_ERROR("bad dtype", "'z'", "dtype", NULL);
    char key[] = "k";
    st_meta meta[2] = {{key, key}, {key, key}};
    CHECK(st_write(good, &t, 1, meta, 2) != 0, "duplicate metadata keys written");
    CHECK_ERROR("duplicate metadata", "'k' given twice", NULL, NULL);

    /* A write that fails half-way (file size limit: EFBIG) leaves the old file and no temp. */
    static float big[1 << 18];
    st_write_tensor bt = {"big", ST_F32, 1, {1 << 18}, big};
    struct rlimit saved, lim;
    getrlimit(RLIMIT_FSIZE, &saved);
    lim = saved;
    lim.rlim_cur = 64 * 1024;
    signal(SIGXFSZ, SIG_IGN);
    if (setrlimit(RLIMIT_FSIZE, &lim) == 0) {
        int rc = st_write(good, &bt, 1, NULL, 0);
        setrlimit(RLIMIT_FSIZE, &saved);
        CHECK(rc != 0, "write past the file size limit succeeded");
        CHECK_ERROR("file size limit", "cannot write", "File too large", NULL);
    }

    CHECK(read_bytes(good, &after, &na) == 0 && na == nb && memcmp(before, after, nb) == 0,
          "a failed write changed %s", good);
    CHECK(temp_files_left() == 0, "a failed write left a temporary file");
    free(before);
    free(after);
}

/* Where a write lands: through a symbolic link the file it names is replaced, the link staying;
 * an existing file keeps its mode; a device is written as it is (it had been replaced by a
 * regular file: /dev/null, as root). */
static void test_write_targets(void) {
    const float x[4] = {1, 2, 3, 4};
    st_write_tensor t = {"x", ST_F32, 1, {4}, x};
    char real[512], link[512];
    snprintf(real, sizeof real, "%s", tpath("real.safetensors"));
    snprintf(link, sizeof link, "%s", tpath("link.safetensors"));
    CHECK(st_write(real, &t, 1, NULL, 0) == 0 && chmod(real, 0640) == 0 && symlink("real.safetensors", link) == 0,
          "set-up: %s", mslam_last_error());
    const float y[4] = {5, 6, 7, 8};
    st_write_tensor u = {"x", ST_F32, 1, {4}, y};
    CHECK(st_write(link, &u, 1, NULL, 0) == 0, "write through a link: %s", mslam_last_error());
    struct stat st_link, st_real;
    CHECK(lstat(link, &st_link) == 0 && S_ISLNK(st_link.st_mode), "the link was replaced by a file");
    CHECK(stat(real, &st_real) == 0 && (st_real.st_mode & 07777) == 0640, "the file's mode is now %o",
          (unsigned)(st_real.st_mode & 07777));
    st_file f;
    int opened = st_open(&f, real) == 0;
    const st_tensor *read = opened ? st_find(&f, "x") : NULL;
    CHECK(read && read->dtype == ST_F32 && !memcmp(f.data + read->begin, y, sizeof y),
          "the file the link names holds the new tensor: %s", opened ? "other values" : mslam_last_error());
    if (opened) st_close(&f);
    unlink(link);
    unlink(real);
    /* a FIFO stands for the devices (a test that wrote /dev/null would replace it, as root, if
     * this broke), read by a child to its end */
    char fifo[512];
    snprintf(fifo, sizeof fifo, "%s", tpath("pipe.safetensors"));
    CHECK(mkfifo(fifo, 0600) == 0, "mkfifo: %s", strerror(errno));
    pid_t reader = fork();
    if (reader == 0) {
        alarm(10); /* no writer ever came: fails */
        FILE *in = fopen(fifo, "rb");
        size_t n = 0;
        for (int c; in && (c = fgetc(in)) != EOF;) n++;
        _exit(in && n > 8 ? 0 : 1);
    }
    int status = -1;
    CHECK(reader > 0 && st_write(fifo, &t, 1, NULL, 0) == 0, "a write to a FIFO: %s", mslam_last_error());
    if (reader > 0) waitpid(reader, &status, 0);
    struct stat st_fifo;
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0 && lstat(fifo, &st_fifo) == 0 && S_ISFIFO(st_fifo.st_mode),
          "a write to a FIFO: the reader got %s; still a FIFO: %d", status == 0 ? "it" : "nothing",
          lstat(fifo, &st_fifo) == 0 && S_ISFIFO(st_fifo.st_mode));
    unlink(fifo);
    CHECK(temp_files_left() == 0, "a temporary file left");
}

static uint64_t splitmix(uint64_t *s) {
    uint64_t z = (*s += 0x9e3779b97f4a7c15u);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

/* Random byte flips (mostly in the header, where the structure is) and truncations: every
 * open and load returns (an error or a model); a truncated file never loads. */
static void test_fuzz(const char *good) {
    uint8_t *orig, *buf;
    size_t n;
    if (read_bytes(good, &orig, &n)) {
        CHECK(0, "cannot read %s", good);
        return;
    }
    buf = malloc(n);
    size_t hend = 8;
    for (int i = 0; i < 8; i++) hend += (size_t)orig[i] << (8 * i);
    const char *path = tpath("fuzz.safetensors");
    const char interesting[] = "{}[]\",:-0123456789eE. \\u";
    uint64_t seed = 12345;
    int loaded = 0, refused = 0;
    for (int it = 0; it < 2000; it++) {
        memcpy(buf, orig, n);
        size_t len = n;
        int mode = (int)(splitmix(&seed) % 4);
        if (mode != 1) {
            int flips = 1 + (int)(splitmix(&seed) % 4);
            for (int k = 0; k < flips; k++) {
                size_t at = splitmix(&seed) % 10 < 8 ? splitmix(&seed) % hend : splitmix(&seed) % n;
                if (mode == 3)
                    buf[at] = (uint8_t)interesting[splitmix(&seed) % (sizeof interesting - 1)];
                else
                    buf[at] ^= (uint8_t)(1 + splitmix(&seed) % 255);
            }
        }
        if (mode == 1 || mode == 2) len = splitmix(&seed) % n;
        write_bytes(path, buf, len);
        st_file f;
        if (st_open(&f, path) == 0) st_close(&f);
        mslam_model *m = mslam_model_load(path, mslam_model_default_params());
        if (m) {
            loaded++;
            CHECK(mode != 1, "iteration %d: a truncated file (%zu of %zu bytes) loaded", it, len,
                  n);
            mslam_model_free(m);
        } else {
            refused++;
            CHECK(strstr(mslam_last_error(), "fuzz.safetensors") != NULL,
                  "iteration %d: error does not name the file: %s", it, mslam_last_error());
        }
    }
    printf("fuzz: %d loaded, %d refused\n", loaded, refused);
    CHECK(refused > 1000, "only %d of 2000 damaged files refused", refused);
    free(buf);
    free(orig);
}

int main(void) {
    if (!mkdtemp(tmpdir)) {
        perror("mkdtemp");
        return 1;
    }
    mslam_log_set(test_quiet_log, NULL); /* errors are expected here; each is checked by its message */
    char good[512];
    snprintf(good, sizeof good, "%s", tpath("good.safetensors"));
    test_model_round_trip(good);
    test_dtypes();
    test_bad_files(good);
    test_bad_models(good);
    test_bf16_model(good);
    test_f16();
    test_int8();
    test_failing_writes(good);
    test_write_targets();
    test_fuzz(good);

    DIR *d = opendir(tmpdir);
    for (struct dirent *e; d && (e = readdir(d));) {
        if (e->d_name[0] != '.') unlink(tpath(e->d_name));
    }
    if (d) closedir(d);
    rmdir(tmpdir);
    return test_result("safetensors");
}
