/* Model files and the mslam_model object.
 *
 * File format, version 1 (MSLAM_FORMAT_VERSION)
 * ---------------------------------------------
 * A safetensors file (safetensors.h) that Python's safetensors package opens as it is.
 * __metadata__ holds, as JSON strings:
 *   "format_version"  "1". Any other value is refused: a later layout may mean other tensors.
 *   "config"          a JSON object with the integer fields of struct mslam_model_config, by
 *                     their names: {"n_mels":80,"d_model":512,"n_heads":8,...,"causal_conv":1};
 *                     the head fields (ctc_head, lid_head, n_decoder_layers) may be absent
 *                     (no such head), and translate_input (0: the decoder reads speech frames,
 *                     1: the CTC transcript; absent: 0), n_codes (the pre-training tensors;
 *                     absent: 0) and quantizer (their speech targets, 0: Gumbel, 1: random,
 *                     without the Gumbel quantizer's tensors; absent: 0) too; every other field
 *                     is required, and no unknown one.
 *   "vocab"           a JSON array of vocab_size strings; entry i is the text of id i: one
 *                     UTF-8 character (one code point), or a reserved token written "<name>"
 *                     ("<blank>", "<unk>", "<pad>"). No entry twice.
 *   "langs"           a JSON array of n_langs language codes (printable ASCII without spaces,
 *                     e.g. "en", "cmn_hans_cn"). No code twice.
 * Other metadata keys are ignored, so tools may record provenance there.
 * Tensors: exactly those of the parameter table built from the config (params.c), by name and
 * shape. The dtype is F32 (what mslam_model_save writes, in table order), F16
 * (mslam_model_save_f16), BF16, F64, or I8 (mslam_model_save_int8): a tensor W in I8 comes with
 * the float tensor "W.scale" of shape [rows of W's first dimension], and element k of row r is
 * W[r][k] x scale[r]. The loader converts to one owned fp32 block. Every value must be finite. */
#include "model.h"
#include "backend_vulkan.h"

#include "common.h"
#include "frontend.h"
#include "lm.h"
#include "ops.h"
#include "safetensors.h"
#include "tm.h"

#include <errno.h>
#include <json-c/json.h>
#include <limits.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Head fields came after the encoder's and are optional: absent means no such head (or, for
 * translate_input, speech). translate_input is written only when it is not 0, so that a model
 * whose decoder reads speech keeps the file that loaders before it read. */
enum { REQUIRED, OPTIONAL, OPTIONAL_WRITTEN_WHEN_SET };
static const struct {
    const char *name;
    size_t offset;
    int optional;
} config_fields[] = {
#define FIELD(f, optional)                                                                         \
    { #f, offsetof(struct mslam_model_config, f), optional }
    FIELD(n_mels, REQUIRED),         FIELD(d_model, REQUIRED),          FIELD(n_heads, REQUIRED),
    FIELD(d_ff, REQUIRED),           FIELD(conv_kernel, REQUIRED),      FIELD(sub_channels, REQUIRED),
    FIELD(n_speech_layers, REQUIRED), FIELD(n_shared_layers, REQUIRED), FIELD(vocab_size, REQUIRED),
    FIELD(n_langs, REQUIRED),        FIELD(causal_conv, REQUIRED),      FIELD(ctc_head, OPTIONAL),
    FIELD(lid_head, OPTIONAL),       FIELD(n_decoder_layers, OPTIONAL), FIELD(translate_input, OPTIONAL_WRITTEN_WHEN_SET),
    FIELD(n_codes, OPTIONAL_WRITTEN_WHEN_SET), FIELD(quantizer, OPTIONAL_WRITTEN_WHEN_SET),
#undef FIELD
};
#define N_CONFIG_FIELDS ((int)(sizeof config_fields / sizeof config_fields[0]))

static int *config_field(struct mslam_model_config *c, int i) {
    return (int *)((char *)c + config_fields[i].offset);
}

int modelfile_check_config(const struct mslam_model_config *cfg, const char *where) {
    const char *outer = mslam_error_context_set(where);
    int rc = mslam_config_check(cfg);
    mslam_error_context_set(outer);
    return rc;
}

/* Printable ASCII other than space, and not '<' or '>' when in_token. */
static int plain_ascii(const char *s, int in_token) {
    for (; *s; s++) {
        if (*s < 0x21 || *s > 0x7e || (in_token && (*s == '<' || *s == '>'))) return 0;
    }
    return 1;
}

/* A one-character token, or 0 when tok is something else. */
static int single_char(const char *tok, uint32_t *cp) {
    int n = *tok ? mslam_utf8_decode(tok, MSLAM_UTF8_NUL_TERMINATED, cp) : 0;
    return n && tok[n] == '\0';
}

static int reserved_token(const char *tok) {
    size_t n = strlen(tok);
    if (n < 3 || tok[0] != '<' || tok[n - 1] != '>') return 0;
    char inner[64];
    if (n - 2 >= sizeof inner) return 0;
    memcpy(inner, tok + 1, n - 2);
    inner[n - 2] = '\0';
    return plain_ascii(inner, 1);
}

typedef struct {
    const char *s;
    int i;
} indexed_str;

static int cmp_indexed_str(const void *a, const void *b) {
    const indexed_str *x = a, *y = b;
    int c = strcmp(x->s, y->s);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* Language codes are matched in any case (infer.c's parse_languages): "es" and "ES" are one. */
static int cmp_indexed_code(const void *a, const void *b) {
    const indexed_str *x = a, *y = b;
    int c = mslam_ascii_compare_nocase(x->s, y->s);
    return c ? c : (x->i > y->i) - (x->i < y->i);
}

/* Refuses a list in which a string appears twice (codes: in any case), naming both entries. */
static int check_unique(const char *const *strs, int n, const char *what, const char *where, int codes) {
    indexed_str *v = malloc((size_t)n * sizeof *v);
    if (!v) return mslam_error("%s: out of memory checking the %s", where, what);
    for (int i = 0; i < n; i++) v[i] = (indexed_str){strs[i], i};
    qsort(v, (size_t)n, sizeof *v, codes ? cmp_indexed_code : cmp_indexed_str);
    int rc = 0;
    for (int i = 1; i < n && !rc; i++) {
        if (strcmp(v[i - 1].s, v[i].s) == 0)
            rc = mslam_error("%s: %s entries %d and %d are both \"%s\"", where, what, v[i - 1].i,
                             v[i].i, v[i].s);
        else if (codes && mslam_ascii_compare_nocase(v[i - 1].s, v[i].s) == 0)
            rc = mslam_error("%s: %s entries %d and %d, \"%s\" and \"%s\", differ only in case (one language)",
                             where, what, v[i - 1].i, v[i].i, v[i - 1].s, v[i].s);
    }
    free(v);
    return rc;
}

int modelfile_check_vocab(const char *const *vocab, int n, const char *where) {
    if (!vocab) return mslam_error("%s: no vocabulary", where);
    for (int i = 0; i < n; i++) {
        uint32_t cp;
        if (!vocab[i]) return mslam_error("%s: vocab entry %d is NULL", where, i);
        char quoted[MSLAM_QUOTE_SIZE];
        if (!single_char(vocab[i], &cp) && !reserved_token(vocab[i]))
            return mslam_error("%s: vocab entry %d (\"%s\") is neither one UTF-8 character nor "
                               "a reserved token like \"<blank>\"",
                               where, i, mslam_quote(quoted, vocab[i], 40));
    }
    return check_unique(vocab, n, "vocab", where, 0);
}

int modelfile_check_langs(const char *const *langs, int n, const char *where) {
    if (!langs) return mslam_error("%s: no language list", where);
    for (int i = 0; i < n; i++) {
        if (!langs[i] || !*langs[i] || strlen(langs[i]) > 64 || !plain_ascii(langs[i], 0))
            return mslam_error("%s: langs entry %d is not a language code (1 to 64 printable "
                               "ASCII characters without spaces)",
                               where, i);
    }
    return check_unique(langs, n, "langs", where, 1);
}

char **modelfile_copy_strings(const char *const *src, int n) {
    char **dst = calloc((size_t)n, sizeof *dst);
    for (int i = 0; dst && i < n; i++) {
        if (!(dst[i] = strdup(src[i]))) {
            while (i--) free(dst[i]);
            free(dst);
            return NULL;
        }
    }
    return dst;
}

static int cmp_vocab_char(const void *a, const void *b) {
    const mslam_vocab_char *x = a, *y = b;
    return (x->cp > y->cp) - (x->cp < y->cp);
}

void modelfile_free_strings(char **s, int n) {
    for (int i = 0; s && i < n; i++) free(s[i]);
    free(s);
}

void mslam_model_free(mslam_model *model) {
    if (!model) return;
    mslam_param_table_free(&model->table);
    free(model->block);
    modelfile_free_strings(model->vocab, model->cfg.vocab_size);
    modelfile_free_strings(model->langs, model->cfg.n_langs);
    free(model->chars);
    free(model->path);
    mslam_vk_close(model->vk);
    free(model->device);
    free(model->device_lost);
    free(model);
}

int modelfile_vocab_index(char *const *vocab, int n, const char *token) {
    for (int i = 0; i < n; i++)
        if (!strcmp(vocab[i], token)) return i;
    return -1;
}

/* The heads need reserved tokens: CTC its blank at id 0 (the convention of torch's ctc_loss and
 * of the search), the decoder "<s>" to start and "</s>" to end a sentence. */
static int find_special_tokens(mslam_model *m, const char *where) {
    const struct mslam_model_config *c = &m->cfg;
    if (c->ctc_head && strcmp(m->vocab[0], "<blank>") != 0)
        return mslam_error("%s: the model has a CTC head, so vocab entry 0 must be \"<blank>\" (it is \"%s\")",
                           where, m->vocab[0]);
    m->bos_id = modelfile_vocab_index(m->vocab, c->vocab_size, "<s>");
    m->eos_id = modelfile_vocab_index(m->vocab, c->vocab_size, "</s>");
    if (c->n_decoder_layers > 0 && (m->bos_id < 0 || m->eos_id < 0))
        return mslam_error("%s: the model has a decoder, so its vocab needs \"<s>\" and \"</s>\"", where);
    return 0;
}

/* mslam_model_new with the file or function that messages name. */
static mslam_model *model_create(const struct mslam_model_config *cfg, const char *const *vocab,
                                 const char *const *langs, const char *where) {
    if (!cfg) {
        mslam_error("%s: no config", where);
        return NULL;
    }
    if (modelfile_check_config(cfg, where)) return NULL;
    if (modelfile_check_vocab(vocab, cfg->vocab_size, where) || modelfile_check_langs(langs, cfg->n_langs, where))
        return NULL;
    mslam_model *m = calloc(1, sizeof *m);
    if (!m) {
        mslam_error("%s: out of memory for the model", where);
        return NULL;
    }
    m->cfg = *cfg;
    const char *outer = mslam_error_context_set(where);
    int failed = mslam_param_table_build(&m->table, cfg, &m->p);
    mslam_error_context_set(outer);
    if (failed) {
        free(m);
        return NULL;
    }
    m->block = calloc(m->table.total ? m->table.total : 1, sizeof *m->block);
    m->vocab = modelfile_copy_strings(vocab, cfg->vocab_size);
    m->langs = modelfile_copy_strings(langs, cfg->n_langs);
    m->chars = malloc((size_t)cfg->vocab_size * sizeof *m->chars);
    if (!m->block || !m->vocab || !m->langs || !m->chars) {
        mslam_error("%s: out of memory for the model (%zu parameters)", where, m->table.total);
        mslam_model_free(m);
        return NULL;
    }
    mslam_params_bind(&m->table, m->block);
    for (int i = 0; i < cfg->vocab_size; i++) {
        uint32_t cp;
        if (single_char(vocab[i], &cp)) m->chars[m->n_chars++] = (mslam_vocab_char){cp, i};
    }
    qsort(m->chars, (size_t)m->n_chars, sizeof *m->chars, cmp_vocab_char);
    if (find_special_tokens(m, where)) {
        mslam_model_free(m);
        return NULL;
    }
    return m;
}

mslam_model *mslam_model_new(const struct mslam_model_config *cfg, const char *const *vocab,
                             const char *const *langs) {
    return model_create(cfg, vocab, langs, "mslam_model_new");
}

int mslam_model_char_id(const mslam_model *model, const char *s, int *len) {
    uint32_t cp;
    int n = model && s ? mslam_utf8_decode(s, MSLAM_UTF8_NUL_TERMINATED, &cp) : 0;
    if (len) *len = n ? n : 1;
    if (!n) return -1;
    mslam_vocab_char key = {cp, 0};
    const mslam_vocab_char *hit =
        bsearch(&key, model->chars, (size_t)model->n_chars, sizeof key, cmp_vocab_char);
    return hit ? hit->id : -1;
}

int *mslam_model_text_ids(const mslam_model *model, const char *utf8, int *n, const char *fn) {
    *n = 0;
    char what[96];
    snprintf(what, sizeof what, "%s: the text", fn);
    if (mslam_utf8_check(utf8, what)) return NULL;
    size_t bytes = strlen(utf8);
    int *ids = mslam_malloc((bytes ? bytes : 1) * sizeof(int), "character ids");
    for (size_t i = 0; ids && i < bytes;) {
        int len = 1, id = mslam_model_char_id(model, utf8 + i, &len);
        if (id < 0) {
            char quoted[MSLAM_QUOTE_SIZE];
            mslam_error("%s: the character at byte %zu ('%s') is not in the model's vocabulary", fn, i,
                        mslam_quote(quoted, utf8 + i, (size_t)len));
            free(ids);
            return NULL;
        }
        ids[(*n)++] = id;
        i += (size_t)len;
    }
    return ids;
}

int mslam_model_check_features(const mslam_model *model, const char *fn) {
    return mslam_frontend_check_stats(model->p.mel_mean, model->p.mel_std, model->cfg.n_mels, fn,
                                      model->path ? model->path : "(in memory)");
}

void mslam_model_use_threads(const mslam_model *model, int n_threads) {
    mslam_use_threads(n_threads > 0 ? n_threads : model->n_threads);
}

struct mslam_model_params mslam_model_default_params(void) {
    return (struct mslam_model_params){.n_threads = 0, .device = MSLAM_DEVICE_AUTO};
}

const char *mslam_model_device(const mslam_model *model) {
    /* made when the device opened: the text changes as the device is lost, under the threads
     * that may be reading it */
    if (!model) return NULL;
    if (mslam_vk_cpu_instead(model->vk)) return model->device_lost;
    return model->device ? model->device : "cpu";
}

struct mslam_model_config mslam_model_get_config(const mslam_model *model) {
    struct mslam_model_config none = {0};
    return model ? model->cfg : none;
}

const char *mslam_model_vocab_token(const mslam_model *model, int id) {
    return model && id >= 0 && id < model->cfg.vocab_size ? model->vocab[id] : NULL;
}

const char *mslam_model_lang(const mslam_model *model, int index) {
    return model && index >= 0 && index < model->cfg.n_langs ? model->langs[index] : NULL;
}

/* ---- loading ---- */

struct json_object *modelfile_meta_json(const st_file *f, const char *key, enum json_type type) {
    const char *text = st_meta_get(f, key), *why;
    if (!text) {
        mslam_error("%s: __metadata__ has no \"%s\"", f->path, key);
        return NULL;
    }
    struct json_object *v = st_json_parse(text, strlen(text), &why);
    if (!v) {
        mslam_error("%s: __metadata__ \"%s\" is not valid JSON: %s", f->path, key, why);
    } else if (!json_object_is_type(v, type)) {
        mslam_error("%s: __metadata__ \"%s\" is not a JSON %s", f->path, key,
                    type == json_type_object ? "object" : "array");
        json_object_put(v);
        v = NULL;
    }
    return v;
}

static int read_config(const st_file *f, struct mslam_model_config *cfg) {
    struct json_object *o = modelfile_meta_json(f, "config", json_type_object);
    if (!o) return -1;
    const char *text = st_meta_get(f, "config");
    int rc = 0;
    memset(cfg, 0, sizeof *cfg);
    for (int i = 0; i < N_CONFIG_FIELDS && !rc; i++) {
        struct json_object *v;
        /* json-c keeps the last of a repeated name; the config holds only integers, so a
         * second quoted occurrence of a field's name is a repeat. */
        char quoted[40];
        snprintf(quoted, sizeof quoted, "\"%s\"", config_fields[i].name);
        const char *first = strstr(text, quoted);
        if (!json_object_object_get_ex(o, config_fields[i].name, &v)) {
            if (config_fields[i].optional) continue;
            rc = mslam_error("%s: config has no field '%s'", f->path, config_fields[i].name);
        } else if (first && strstr(first + 1, quoted)) {
            rc = mslam_error("%s: config names field '%s' twice", f->path, config_fields[i].name);
        } else if (!json_object_is_type(v, json_type_int) || json_object_get_int64(v) < INT_MIN ||
                   json_object_get_int64(v) > INT_MAX) {
            rc = mslam_error("%s: config field '%s' is not an integer", f->path,
                             config_fields[i].name);
        } else {
            *config_field(cfg, i) = (int)json_object_get_int64(v);
        }
    }
    json_object_object_foreach(o, key, val) {
        (void)val;
        int known = 0;
        for (int i = 0; i < N_CONFIG_FIELDS; i++) known |= strcmp(key, config_fields[i].name) == 0;
        if (!known && !rc) rc = mslam_error("%s: config has unknown field '%s'", f->path, key);
    }
    json_object_put(o);
    if (!rc && modelfile_check_config(cfg, f->path)) rc = -1;
    return rc;
}

/* A metadata array of n strings; *items point into *json (json_object_put it). */
int modelfile_meta_strings(const st_file *f, const char *key, int n, const char *count_field,
                           struct json_object **json, const char ***items, int *n_items) {
    struct json_object *a = modelfile_meta_json(f, key, json_type_array);
    if (!a) return -1;
    *json = a;
    if (n < 0) n = (int)json_object_array_length(a);
    if (n_items) *n_items = n;
    if (json_object_array_length(a) != (size_t)n)
        return mslam_error("%s: \"%s\" has %zu entries, but the config's %s is %d", f->path, key,
                           json_object_array_length(a), count_field, n);
    if (!(*items = calloc((size_t)n, sizeof **items)))
        return mslam_error("%s: out of memory reading \"%s\"", f->path, key);
    for (int i = 0; i < n; i++) {
        struct json_object *s = json_object_array_get_idx(a, (size_t)i);
        if (!json_object_is_type(s, json_type_string) ||
            strlen(json_object_get_string(s)) != (size_t)json_object_get_string_len(s))
            return mslam_error("%s: \"%s\" entry %d is not a string", f->path, key, i);
        (*items)[i] = json_object_get_string(s);
    }
    return 0;
}

static void format_shape(char *buf, size_t size, const int64_t *shape, int ndim) {
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && used < size; i++)
        used +=
            (size_t)snprintf(buf + used, size - used, "%s%lld", i ? ", " : "", (long long)shape[i]);
    if (used < size) snprintf(buf + used, size - used, "]");
}

static int is_float_dtype(st_dtype d) {
    return d == ST_F32 || d == ST_F16 || d == ST_BF16 || d == ST_F64;
}

static int int8_scale_name(char *buf, size_t size, const char *name) {
    return snprintf(buf, size, "%s" MODEL_INT8_SCALE_SUFFIX, name) < (int)size;
}

/* Rows of a table entry, the unit of an I8 tensor's scales. */
static size_t entry_rows(const mslam_param_entry *e) {
    return e->ndim ? (size_t)e->shape[0] : 1;
}

/* dst = q x scale of q's row; the scales must be finite and not negative. */
static int read_int8(const st_file *f, const st_tensor *q, const st_tensor *scale, size_t rows, float *dst) {
    float *s = malloc(rows * sizeof *s);
    if (!s) return mslam_error("%s: out of memory reading '%s'", f->path, q->name);
    int rc = st_read_f32(f, scale, s);
    for (size_t r = 0; r < rows && !rc; r++)
        if (!isfinite(s[r]) || s[r] < 0)
            rc = mslam_error("%s: tensor '%s': element %zu is %g, not a finite scale of 0 or more (a row's largest "
                             "magnitude / 127)", f->path, scale->name, r, (double)s[r]);
    size_t per_row = rows ? q->numel / rows : 0;
    const int8_t *src = (const int8_t *)(f->data + q->begin);
    for (size_t r = 0; r < rows && !rc; r++)
        for (size_t k = r * per_row; k < (r + 1) * per_row; k++) dst[k] = (float)src[k] * s[r];
    free(s);
    return rc;
}

/* Matches the file's tensors one to one with the table (tensors whose names start with
 * extra_prefix, when not NULL, belong to someone else; an I8 weight brings its scales), then
 * converts each into the block. */
static int read_tensors(mslam_model *m, const st_file *f, const char *extra_prefix) {
    const mslam_param_table *tab = &m->table;
    const st_tensor **found = calloc((size_t)tab->n, sizeof *found);
    const st_tensor **scales = calloc((size_t)tab->n, sizeof *scales);
    char *used = calloc((size_t)f->n_tensors + 1, 1);
    int rc = 0;
    if (!found || !scales || !used) rc = mslam_error("%s: out of memory matching tensors", f->path);
    for (int i = 0; i < tab->n && !rc; i++) {
        const mslam_param_entry *e = &tab->entries[i];
        int64_t want[4];
        for (int k = 0; k < e->ndim; k++) want[k] = e->shape[k];
        char want_s[96], got_s[192];
        format_shape(want_s, sizeof want_s, want, e->ndim);
        const st_tensor *t = st_find(f, e->name);
        if (!t) {
            rc = mslam_error("%s: tensor '%s' %s is missing", f->path, e->name, want_s);
            break;
        }
        if (!is_float_dtype(t->dtype) && t->dtype != ST_I8) {
            rc = mslam_error("%s: tensor '%s' has dtype %s; weights are F32, F16, BF16, F64, or I8 with a "
                             "scale per row", f->path, e->name, st_dtype_name(t->dtype));
            break;
        }
        int same = t->ndim == e->ndim;
        for (int k = 0; same && k < e->ndim; k++) same = t->shape[k] == want[k];
        if (!same) {
            format_shape(got_s, sizeof got_s, t->shape, t->ndim);
            rc = mslam_error("%s: tensor '%s' has shape %s, but the config gives %s", f->path,
                             e->name, got_s, want_s);
            break;
        }
        found[i] = t;
        used[t - f->tensors] = 1;
        if (t->dtype != ST_I8) continue;
        char name[256];
        const st_tensor *s = int8_scale_name(name, sizeof name, e->name) ? st_find(f, name) : NULL;
        if (!s || !is_float_dtype(s->dtype) || s->ndim != 1 || (size_t)s->shape[0] != entry_rows(e)) {
            rc = mslam_error("%s: tensor '%s' is I8, so '%s" MODEL_INT8_SCALE_SUFFIX "' must be a float tensor of "
                             "shape [%zu] (a scale per row)%s", f->path, e->name, e->name, entry_rows(e),
                             s ? "" : ", and there is none");
            break;
        }
        scales[i] = s;
        used[s - f->tensors] = 1;
    }
    for (int j = 0; j < f->n_tensors && !rc; j++) {
        if (extra_prefix && !strncmp(f->tensors[j].name, extra_prefix, strlen(extra_prefix))) continue;
        if (!used[j])
            rc = mslam_error("%s: tensor '%s' is not part of a model of this config", f->path,
                             f->tensors[j].name);
    }
    for (int i = 0; i < tab->n && !rc; i++) {
        const mslam_param_entry *e = &tab->entries[i];
        float *dst = m->block + e->offset;
        if (scales[i] ? read_int8(f, found[i], scales[i], entry_rows(e), dst) : st_read_f32(f, found[i], dst)) {
            rc = -1;
            break;
        }
        for (size_t k = 0; k < e->numel; k++) {
            if (!isfinite(dst[k])) {
                rc = mslam_error("%s: tensor '%s': element %zu is %g, not a finite number", f->path,
                                 e->name, k, (double)dst[k]);
                break;
            }
        }
    }
    free(found);
    free(scales);
    free(used);
    return rc;
}

mslam_model *mslam_model_from_st(const st_file *f, const char *extra_prefix,
                                 struct mslam_model_params params) {
    const char *path = f->path;
    mslam_model *m = NULL;
    struct json_object *jvocab = NULL, *jlangs = NULL;
    const char **vocab = NULL, **langs = NULL;
    struct mslam_model_config cfg;
    char version[16];
    snprintf(version, sizeof version, "%d", MSLAM_FORMAT_VERSION);
    const char *file_version = st_meta_get(f, "format_version");
    const char *other_format = st_meta_get(f, "format"); /* LMs and memories name theirs; models do not */
    const char *kind = other_format ? modelfile_kind(f) : NULL;
    if (kind) {
        mslam_error("%s: not an mslam model but %s", path, kind);
    } else if (other_format) {
        char quoted[MSLAM_QUOTE_SIZE];
        mslam_error("%s: not an mslam model (__metadata__ \"format\" is \"%s\")", path,
                    mslam_quote(quoted, other_format, 40));
    } else if (!extra_prefix && st_meta_get(f, "training")) {
        /* checkpoints record where training stands; only the trainer reads them */
        mslam_error("%s: a training checkpoint, not a model: make the model the library and the elements load "
                    "with mslam-trainer export --checkpoint %s --out MODEL", path, path);
    } else if (!file_version) {
        mslam_error("%s: not an mslam model (__metadata__ has no \"format_version\")", path);
    } else if (strcmp(file_version, version) != 0) {
        char quoted[MSLAM_QUOTE_SIZE];
        mslam_error("%s: unknown format_version \"%s\" (this build reads \"%s\")", path,
                    mslam_quote(quoted, file_version, 20), version);
    } else if (!read_config(f, &cfg) &&
               !modelfile_meta_strings(f, "vocab", cfg.vocab_size, "vocab_size", &jvocab, &vocab, NULL) &&
               !modelfile_meta_strings(f, "langs", cfg.n_langs, "n_langs", &jlangs, &langs, NULL) &&
               (m = model_create(&cfg, vocab, langs, path)) != NULL) {
        m->n_threads = params.n_threads;
        if (!(m->path = strdup(path))) mslam_error("%s: out of memory", path);
        if (!m->path || read_tensors(m, f, extra_prefix)) {
            mslam_model_free(m);
            m = NULL;
        }
    }
    free(vocab);
    free(langs);
    json_object_put(jvocab);
    json_object_put(jlangs);
    return m;
}

/* Opens the device the params ask for (mslam_vk_open) and names it in m->device, and in
 * m->device_lost as auto names the CPU that runs the passes once the device is lost. */
static int open_device(mslam_model *m, enum mslam_device device, const char *path) {
    /* one message, "PATH: device vulkan: WHY", logged once */
    char where[1024];
    snprintf(where, sizeof where, "%s: device vulkan", path);
    const char *outer = mslam_error_context_set(where);
    int rc = mslam_vk_open(&m->vk, m, device);
    mslam_error_context_set(outer);
    if (rc) return -1;
    if (!m->vk) return 0;
    const char *name = mslam_vk_device_name(m->vk);
    if (!name) name = ""; /* (an open device has a name: GCC's format check cannot know it) */
    size_t size = strlen("vulkan: ") + strlen(name) + 1;
    if (!(m->device = mslam_malloc(size, "the device's name"))) return -1;
    snprintf(m->device, size, "vulkan: %s", name);
    size = strlen("cpu: Vulkan device  was lost") + strlen(name) + 1;
    if (!(m->device_lost = mslam_malloc(size, "the device's name"))) return -1;
    snprintf(m->device_lost, size, "cpu: Vulkan device %s was lost", name);
    return 0;
}

mslam_model *mslam_model_load(const char *path, struct mslam_model_params params) {
    if (!path) {
        mslam_error("mslam_model_load: path is NULL");
        return NULL;
    }
    if (params.device != MSLAM_DEVICE_AUTO && params.device != MSLAM_DEVICE_CPU && params.device != MSLAM_DEVICE_VULKAN) {
        mslam_error("%s: mslam_model_params.device = %d is not a device (auto, cpu or vulkan)", path, (int)params.device);
        return NULL;
    }
    st_file f;
    if (st_open(&f, path)) return NULL;
    mslam_model *m = mslam_model_from_st(&f, NULL, params);
    st_close(&f);
    if (m && open_device(m, params.device, path)) {
        mslam_model_free(m);
        m = NULL;
    }
    return m;
}

/* ---- saving ---- */

/* JSON text of v, malloc'd; v is put. */
char *modelfile_json_text(struct json_object *v) {
    const char *s = v ? json_object_to_json_string_ext(v, JSON_C_TO_STRING_PLAIN |
                                                              JSON_C_TO_STRING_NOSLASHESCAPE)
                      : NULL;
    char *copy = s ? strdup(s) : NULL;
    json_object_put(v);
    return copy;
}

struct json_object *modelfile_string_array(char *const *s, int n) {
    struct json_object *a = json_object_new_array_ext(n);
    for (int i = 0; a && i < n; i++) {
        struct json_object *v = json_object_new_string(s[i]);
        if (!v || json_object_array_add(a, v)) {
            json_object_put(v);
            json_object_put(a);
            return NULL;
        }
    }
    return a;
}

/* tensors: the table's, in table order, then any others (n in all) */
static int save(const mslam_model *model, const char *path, const st_write_tensor *tensors, int n,
                const st_meta *extra_meta, int n_extra_meta);

/* ts[i]: table entry i, its data at its offset in block (of dtype, laid out as model->block) */
static void table_tensors(const mslam_model *model, const void *block, st_dtype dtype, st_write_tensor *ts) {
    const mslam_param_table *tab = &model->table;
    for (int i = 0; i < tab->n; i++) {
        const mslam_param_entry *e = &tab->entries[i];
        ts[i] = (st_write_tensor){.name = e->name,
                                  .dtype = dtype,
                                  .ndim = e->ndim,
                                  .data = (const char *)block + e->offset * st_dtype_size(dtype)};
        for (int k = 0; k < e->ndim; k++) ts[i].shape[k] = e->shape[k];
    }
}

/* Writes model with its table's tensors in one dtype, block laid out as model->block, then extra. */
static int save_block(const mslam_model *model, const char *path, const void *block, st_dtype dtype,
                      const st_write_tensor *extra, int n_extra, const st_meta *extra_meta, int n_extra_meta) {
    int n = model->table.n;
    st_write_tensor *ts = malloc((size_t)(n + n_extra) * sizeof *ts);
    if (!ts) return mslam_error("cannot write '%s': out of memory", path);
    table_tensors(model, block, dtype, ts);
    if (n_extra) memcpy(ts + n, extra, (size_t)n_extra * sizeof *ts);
    int rc = save(model, path, ts, n + n_extra, extra_meta, n_extra_meta);
    free(ts);
    return rc;
}

int mslam_model_save(const mslam_model *model, const char *path) {
    return mslam_model_save_with(model, path, NULL, 0, NULL, 0);
}

int mslam_model_save_with(const mslam_model *model, const char *path, const st_write_tensor *extra,
                          int n_extra, const st_meta *extra_meta, int n_extra_meta) {
    if (!model || !path) return mslam_error("mslam_model_save: no model or no path");
    return save_block(model, path, model->block, ST_F32, extra, n_extra, extra_meta, n_extra_meta);
}

/* The block in F16, but for the entries skip says another dtype holds (skip NULL: none; their
 * values are left unset); malloc'd, NULL with the error set (a finite value beyond the F16 range
 * names its tensor). */
static uint16_t *block_f16(const mslam_model *model, const char *path, int (*skip)(const mslam_param_entry *)) {
    const mslam_param_table *tab = &model->table;
    uint16_t *half = malloc((tab->total ? tab->total : 1) * sizeof *half);
    if (!half) {
        mslam_error("cannot write '%s': out of memory", path);
        return NULL;
    }
    for (int i = 0; i < tab->n; i++) {
        const mslam_param_entry *e = &tab->entries[i];
        if (skip && skip(e)) continue;
        for (size_t k = 0; k < e->numel; k++) {
            float x = model->block[e->offset + k];
            half[e->offset + k] = st_f32_to_f16(x);
            if (isfinite(x) && !isfinite(st_f16_to_f32(half[e->offset + k]))) {
                mslam_error("cannot write '%s' in F16: tensor '%s' holds %g, beyond the F16 range", path, e->name,
                            (double)x);
                free(half);
                return NULL;
            }
        }
    }
    return half;
}

int mslam_model_save_f16(const mslam_model *model, const char *path) {
    if (!model || !path) return mslam_error("mslam_model_save_f16: no model or no path");
    uint16_t *half = block_f16(model, path, NULL);
    int rc = half ? save_block(model, path, half, ST_F16, NULL, 0, NULL, 0) : -1;
    free(half);
    return rc;
}

/* Weight matrices and kernels go to I8; vectors (biases, norms, feature statistics) and the
 * attention's position biases, a few hundred values each, stay F16. */
static int quantised_to_int8(const mslam_param_entry *e) {
    return e->ndim >= 2 && mslam_str_ends_with(e->name, ".weight");
}

int mslam_model_save_int8(const mslam_model *model, const char *path) {
    if (!model || !path) return mslam_error("mslam_model_save_int8: no model or no path");
    const mslam_param_table *tab = &model->table;
    int n_quantised = 0;
    size_t n_rows = 0;
    for (int i = 0; i < tab->n; i++)
        if (quantised_to_int8(&tab->entries[i])) n_quantised++, n_rows += entry_rows(&tab->entries[i]);
    uint16_t *half = block_f16(model, path, quantised_to_int8);
    int8_t *q = malloc(tab->total ? tab->total : 1);
    float *scale = malloc((n_rows ? n_rows : 1) * sizeof *scale);
    /* the table's tensors, then the scales */
    st_write_tensor *ts = calloc((size_t)(tab->n + n_quantised), sizeof *ts), *scale_ts = ts ? ts + tab->n : NULL;
    int rc = half && q && scale && ts ? 0 : -1;
    if (rc && half) mslam_error("cannot write '%s': out of memory", path);
    if (!rc) table_tensors(model, half, ST_F16, ts);
    size_t row_at = 0;
    for (int i = 0, j = 0; i < tab->n && !rc; i++) {
        const mslam_param_entry *e = &tab->entries[i];
        if (!quantised_to_int8(e)) continue;
        size_t rows = entry_rows(e), per_row = rows ? e->numel / rows : 0;
        for (size_t r = 0; r < rows; r++) {
            const float *x = model->block + e->offset + r * per_row;
            int8_t *qr = q + e->offset + r * per_row;
            float absmax = 0;
            for (size_t k = 0; k < per_row && !rc; k++) {
                /* F16 stores a NaN or infinity as it is; a scale cannot */
                if (!isfinite(x[k]))
                    rc = mslam_error("cannot write '%s' in int8: tensor '%s': element %zu is %g, not a finite number",
                                     path, e->name, r * per_row + k, (double)x[k]);
                absmax = fmaxf(absmax, fabsf(x[k]));
            }
            if (rc) break;
            /* symmetric, -127..127, so that -q is a code whenever q is */
            float s = absmax / 127.0f;
            for (size_t k = 0; k < per_row; k++) {
                long v = s > 0 ? lrintf(x[k] / s) : 0;
                qr[k] = (int8_t)(v > 127 ? 127 : v < -127 ? -127 : v);
            }
            scale[row_at + r] = s;
        }
        if (rc) break;
        char name[256];
        char *scale_name = int8_scale_name(name, sizeof name, e->name) ? strdup(name) : NULL;
        if (!scale_name) {
            rc = mslam_error("cannot write '%s': out of memory", path);
            break;
        }
        ts[i].dtype = ST_I8;
        ts[i].data = q + e->offset;
        scale_ts[j++] = (st_write_tensor){.name = scale_name, .dtype = ST_F32, .ndim = 1, .shape = {(int64_t)rows},
                                          .data = scale + row_at};
        row_at += rows;
    }
    if (!rc) rc = save(model, path, ts, tab->n + n_quantised, NULL, 0);
    for (int j = 0; scale_ts && j < n_quantised; j++) free((char *)scale_ts[j].name);
    free(ts);
    free(scale);
    free(q);
    free(half);
    return rc;
}

static int save(const mslam_model *model, const char *path, const st_write_tensor *tensors, int n,
                const st_meta *extra_meta, int n_extra_meta) {
    struct mslam_model_config c = model->cfg;
    struct json_object *cfg = json_object_new_object();
    for (int i = 0; cfg && i < N_CONFIG_FIELDS; i++) {
        if (config_fields[i].optional == OPTIONAL_WRITTEN_WHEN_SET && *config_field(&c, i) == 0) continue;
        struct json_object *v = json_object_new_int(*config_field(&c, i));
        if (!v || json_object_object_add(cfg, config_fields[i].name, v)) {
            json_object_put(v);
            json_object_put(cfg);
            cfg = NULL;
        }
    }
    char version[16], k_version[] = "format_version", k_config[] = "config", k_vocab[] = "vocab",
                      k_langs[] = "langs";
    snprintf(version, sizeof version, "%d", MSLAM_FORMAT_VERSION);
    st_meta *meta = calloc((size_t)(4 + n_extra_meta), sizeof *meta);
    int rc;
    if (meta) {
        meta[0] = (st_meta){k_version, version};
        meta[1] = (st_meta){k_config, modelfile_json_text(cfg)};
        meta[2] = (st_meta){k_vocab, modelfile_json_text(modelfile_string_array(model->vocab, model->cfg.vocab_size))};
        meta[3] = (st_meta){k_langs, modelfile_json_text(modelfile_string_array(model->langs, model->cfg.n_langs))};
        for (int i = 0; i < n_extra_meta; i++) meta[4 + i] = extra_meta[i];
    } else {
        json_object_put(cfg);
    }
    if (!meta || !meta[1].value || !meta[2].value || !meta[3].value)
        rc = mslam_error("cannot write '%s': out of memory", path);
    else
        rc = st_write(path, tensors, n, meta, 4 + n_extra_meta);
    for (int i = 1; meta && i < 4; i++) free(meta[i].value);
    free(meta);
    return rc;
}

const char *modelfile_kind(const st_file *f) {
    const char *format = st_meta_get(f, "format");
    if (format) {
        if (!strcmp(format, LM_FORMAT)) return "a character LM (for --lm, lm=, translation-lm=)";
        if (!strcmp(format, TM_FORMAT)) return "a translation memory (for --translation-memory, translation-memory=)";
        return NULL; /* another program's ("pt" of PyTorch's files): its "format" says more */
    }
    if (st_meta_get(f, "training")) return "a training checkpoint (for eval, --init and export)";
    if (st_meta_get(f, "config")) return "an mslam model (for --model, model=)";
    return NULL;
}

int modelfile_check_format(const st_file *f, const char *format, const char *what) {
    const char *found = st_meta_get(f, "format");
    const char *kind = modelfile_kind(f);
    if ((!found || strcmp(found, format)) && kind)
        return mslam_error("%s: not %s but %s", f->path, what, kind);
    if (!found || strcmp(found, format))
        return mslam_error("%s: not %s (__metadata__ \"format\" is %s%s%s, not \"%s\")", f->path, what,
                           found ? "\"" : "", found ? found : "missing", found ? "\"" : "", format);
    int version = 0;
    if (modelfile_meta_int(f, "format_version", &version)) return -1;
    if (version != MSLAM_FORMAT_VERSION)
        return mslam_error("%s: %s of format version %d; this mslam reads version %d", f->path, what, version,
                           MSLAM_FORMAT_VERSION);
    return 0;
}

int modelfile_meta_int(const st_file *f, const char *key, int *out) {
    const char *s = st_meta_get(f, key);
    if (!s) return mslam_error("%s: __metadata__ has no \"%s\"", f->path, key);
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    char quoted[MSLAM_QUOTE_SIZE];
    if (errno || end == s || *end || v < INT_MIN || v > INT_MAX)
        return mslam_error("%s: __metadata__ \"%s\" = \"%s\" is not an integer", f->path, key,
                           mslam_quote(quoted, s, 40));
    *out = (int)v;
    return 0;
}
