/* Character n-gram language models: lookup, file reading and writing (see lm.h). */
#include "lm.h"

#include "common.h"
#include "model.h"
#include "safetensors.h"

#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The fewest bits that hold 1..n. */
static int bits_for(int n) {
    int bits = 1;
    while (bits < 63 && ((uint64_t)1 << bits) <= (uint64_t)n) bits++;
    return bits;
}

uint64_t lm_hash_key(uint64_t k) {
    k ^= k >> 33;
    k *= 0xff51afd7ed558ccdull;
    k ^= k >> 33;
    k *= 0xc4ceb9fe1a85ec53ull;
    return k ^ (k >> 33);
}

int lm_table_reserve(lm_table *t, size_t n) {
    size_t cap = 16;
    while (cap < 2 * n) cap *= 2;
    free(t->keys), free(t->logp), free(t->bow);
    t->keys = calloc(cap, sizeof *t->keys);
    t->logp = malloc(cap * sizeof *t->logp);
    t->bow = malloc(cap * sizeof *t->bow);
    t->cap = cap;
    t->n = 0;
    if (!t->keys || !t->logp || !t->bow) {
        t->cap = 0; /* lookups find nothing rather than reading a missing table */
        return mslam_error("out of memory for %zu n-grams of language '%s'", n, t->code);
    }
    return 0;
}

size_t lm_probe(const uint64_t *keys, size_t cap, uint64_t key) {
    size_t mask = cap - 1, h = lm_hash_key(key) & mask;
    while (keys[h] != 0 && keys[h] != key) h = (h + 1) & mask;
    return h;
}

long lm_table_find(const lm_table *t, uint64_t key) {
    if (!t->cap) return -1;
    size_t h = lm_probe(t->keys, t->cap, key);
    return t->keys[h] == key && key ? (long)h : -1;
}

void lm_table_put(lm_table *t, uint64_t key, float logp, float bow) {
    if (!key) return; /* no n-gram has key 0 (it marks a free slot) */
    size_t h = lm_probe(t->keys, t->cap, key);
    if (t->keys[h] == 0) t->n++;
    t->keys[h] = key;
    t->logp[h] = logp;
    t->bow[h] = bow;
}

int lm_table_set_chars(const mslam_lm *lm, lm_table *t, const int *ids, int n) {
    free(t->chars), free(t->local);
    t->chars = malloc((size_t)(n ? n : 1) * sizeof *t->chars);
    t->local = calloc((size_t)lm->vocab_size, sizeof *t->local);
    if (!t->chars || !t->local) return mslam_error("out of memory numbering the characters of '%s'", t->code);
    for (int i = 0; i < n; i++) {
        if (ids[i] < 0 || ids[i] >= lm->vocab_size || t->local[ids[i]])
            return mslam_error("language '%s': character %d is %d, outside the vocabulary or a repeat", t->code, i,
                               ids[i]);
        t->chars[i] = ids[i];
        t->local[ids[i]] = i + 1;
    }
    t->n_chars = n;
    t->bits = bits_for(n);
    t->order = 64 / t->bits < lm->order ? 64 / t->bits : lm->order;
    return 0;
}

uint64_t lm_key(const lm_table *t, const int *ids, int n) {
    uint64_t key = 0;
    for (int i = 0; i < n; i++) {
        int32_t c = t->local[ids[i]];
        if (!c) return 0;
        key |= (uint64_t)c << (t->bits * i);
    }
    return key;
}

int lm_key_decode(const lm_table *t, uint64_t key, int *ids) {
    const uint64_t mask = ((uint64_t)1 << t->bits) - 1;
    int n = 0;
    for (; n < t->order && key; n++, key >>= t->bits) {
        uint64_t c = key & mask;
        if (c == 0 || c > (uint64_t)t->n_chars) return -1;
        ids[n] = t->chars[c - 1];
    }
    return n >= 1 && key == 0 ? n : -1;
}

double lm_token_logp(const lm_table *t, const int *ctx, int n_ctx, int token) {
    int k = n_ctx < t->order - 1 ? n_ctx : t->order - 1;
    const int *h = ctx + n_ctx - k;
    for (int i = k - 1; i >= 0; i--) /* nothing before a character the language lacks */
        if (!t->local[h[i]]) {
            h += i + 1, k -= i + 1;
            break;
        }
    uint64_t w = (uint64_t)t->local[token];
    double backoff = 0;
    for (int o = k; o >= 0; o--) {
        uint64_t ctx_key = lm_key(t, h + (k - o), o);
        if (w) {
            long at = lm_table_find(t, ctx_key | w << (t->bits * o));
            if (at >= 0) return backoff + t->logp[at];
        }
        if (o > 0) {
            long c = lm_table_find(t, ctx_key);
            if (c >= 0) backoff += t->bow[c];
        }
    }
    return backoff + t->floor_logp;
}

int mslam_lm_lang_index(const mslam_lm *lm, const char *code) {
    for (int i = 0; lm && code && i < lm->n_langs; i++)
        if (!mslam_ascii_compare_nocase(lm->langs[i].code, code)) return i; /* as the decode params' languages */
    return -1;
}

static mslam_lm *lm_alloc(int order, const char *const *vocab, int vocab_size, const char *const *langs,
                          int n_langs, const char *where) {
    if (modelfile_check_vocab(vocab, vocab_size, where) || modelfile_check_langs(langs, n_langs, where)) return NULL;
    if (order < 1 || order > LM_MAX_ORDER) {
        mslam_error("%s: order %d is outside 1..%d", where, order, LM_MAX_ORDER);
        return NULL;
    }
    if (n_langs < 1) {
        mslam_error("%s: an LM needs at least one language", where);
        return NULL;
    }
    mslam_lm *lm = mslam_calloc(1, sizeof *lm, "a language model");
    if (!lm) return NULL;
    lm->order = order;
    lm->vocab_size = vocab_size;
    lm->n_langs = n_langs;
    lm->vocab = modelfile_copy_strings(vocab, vocab_size);
    lm->langs = calloc((size_t)n_langs, sizeof *lm->langs);
    int ok = lm->vocab && lm->langs;
    for (int i = 0; ok && i < n_langs; i++) ok = (lm->langs[i].code = strdup(langs[i])) != NULL;
    if (!ok) {
        mslam_error("%s: out of memory", where);
        mslam_lm_free(lm);
        return NULL;
    }
    lm->bos_id = modelfile_vocab_index(lm->vocab, vocab_size, "<s>");
    lm->eos_id = modelfile_vocab_index(lm->vocab, vocab_size, "</s>");
    if (lm->bos_id < 0 || lm->eos_id < 0) {
        mslam_error("%s: the vocabulary needs \"<s>\" and \"</s>\" (sentence start and end)", where);
        mslam_lm_free(lm);
        return NULL;
    }
    for (int i = 0; i < n_langs; i++)
        if (lm_table_set_chars(lm, &lm->langs[i], NULL, 0)) {
            mslam_lm_free(lm);
            return NULL;
        }
    return lm;
}

mslam_lm *lm_new(int order, const char *const *vocab, int vocab_size, const char *const *langs, int n_langs) {
    return lm_alloc(order, vocab, vocab_size, langs, n_langs, "new LM");
}

void mslam_lm_free(mslam_lm *lm) {
    if (!lm) return;
    modelfile_free_strings(lm->vocab, lm->vocab_size);
    for (int i = 0; lm->langs && i < lm->n_langs; i++) {
        lm_table *t = &lm->langs[i];
        free(t->code), free(t->keys), free(t->logp), free(t->bow), free(t->chars), free(t->local);
    }
    free(lm->langs);
    free(lm->path);
    free(lm);
}

int mslam_lm_order(const mslam_lm *lm) { return lm ? lm->order : 0; }
int mslam_lm_n_langs(const mslam_lm *lm) { return lm ? lm->n_langs : 0; }
const char *mslam_lm_lang(const mslam_lm *lm, int index) {
    return lm && index >= 0 && index < lm->n_langs ? lm->langs[index].code : NULL;
}

const char *lm_name(const mslam_lm *lm) { return lm->path ? lm->path : "(in memory)"; }

int mslam_lm_check_model(const mslam_lm *lm, const mslam_model *model) {
    if (!lm || !model) return mslam_error("mslam_lm_check_model: %s is NULL", lm ? "model" : "lm");
    return lm_check_model(lm, model, lm->of_translations, "mslam_lm_check_model");
}

int mslam_lm_of_translations(const mslam_lm *lm) { return lm ? lm->of_translations : 0; }

/* An LM of translations has one language, "en": 0, else -1 with an error naming the LM (fn: the
 * caller). */
static int check_translation_langs(const mslam_lm *lm, const char *fn) {
    if (!lm->of_translations || (lm->n_langs == 1 && mslam_is_english(lm->langs[0].code))) return 0;
    return mslam_error("%s: LM '%s' models translations, so it must have one language, \"en\" (it has %d, the "
                       "first \"%s\")",
                       fn, lm_name(lm), lm->n_langs, lm->langs[0].code);
}

int lm_check_model(const mslam_lm *lm, const mslam_model *model, int of_translations, const char *fn) {
    const char *lm_path = lm_name(lm), *m_path = model->path ? model->path : "(in memory)";
    if (lm->of_translations && !of_translations)
        return mslam_error("%s: LM '%s' models English translations (mslam-trainer lm --translations), not "
                           "transcripts: give it as the translation LM",
                           fn, lm_path);
    if (!lm->of_translations && of_translations)
        return mslam_error("%s: LM '%s' models transcripts, not English translations (build one with "
                           "mslam-trainer lm --translations)",
                           fn, lm_path);
    if (check_translation_langs(lm, fn)) return -1;
    int same = lm->vocab_size == model->cfg.vocab_size;
    int first_diff = -1;
    for (int i = 0; same && i < lm->vocab_size; i++)
        if (strcmp(lm->vocab[i], model->vocab[i])) same = 0, first_diff = i;
    if (same) return 0;
    if (first_diff >= 0)
        return mslam_error("%s: LM '%s' was built for another vocabulary than model '%s' (entry %d is \"%s\" in the "
                           "LM, \"%s\" in the model)",
                           fn, lm_path, m_path, first_diff, lm->vocab[first_diff], model->vocab[first_diff]);
    return mslam_error("%s: LM '%s' was built for another vocabulary than model '%s' (%d entries, the model has %d)",
                       fn, lm_path, m_path, lm->vocab_size, model->cfg.vocab_size);
}

/* ---- file ---- */

/* Tensors per language: keys, logp, bow, floor, chars; codes have at most 64 characters
 * (modelfile_check_langs). */
#define LM_TENSORS_PER_LANG 5
#define LM_TENSOR_NAME_MAX 72

static void tensor_name(char *name, const char *code, const char *what) {
    snprintf(name, LM_TENSOR_NAME_MAX, "%s.%s", code, what);
}

static const st_tensor *lang_tensor(const st_file *f, const char *code, const char *what, st_dtype dtype,
                                    int64_t n) {
    char name[LM_TENSOR_NAME_MAX];
    tensor_name(name, code, what);
    const st_tensor *t = st_find(f, name);
    if (!t) {
        mslam_error("%s: tensor '%s' is missing", f->path, name);
        return NULL;
    }
    if (t->dtype != dtype || t->ndim != 1 || (n >= 0 && t->shape[0] != n)) {
        mslam_error("%s: tensor '%s' must be %s of shape [%lld]", f->path, name, st_dtype_name(dtype),
                    (long long)(n >= 0 ? n : t->shape[0]));
        return NULL;
    }
    return t;
}

static int read_lang(mslam_lm *lm, const st_file *f, lm_table *t) {
    const st_tensor *chars = lang_tensor(f, t->code, "chars", ST_I32, -1);
    if (!chars) return -1;
    if (chars->numel > (size_t)lm->vocab_size)
        return mslam_error("%s: language '%s' has %zu characters, more than the vocabulary's %d", f->path, t->code,
                           chars->numel, lm->vocab_size);
    int32_t *ids = malloc((chars->numel ? chars->numel : 1) * sizeof *ids);
    int rc = ids ? 0 : mslam_error("%s: out of memory", f->path);
    if (!rc) {
        memcpy(ids, f->data + chars->begin, chars->numel * sizeof *ids);
        const char *outer = mslam_error_context_set(f->path);
        rc = lm_table_set_chars(lm, t, ids, (int)chars->numel);
        mslam_error_context_set(outer);
    }
    free(ids);
    if (rc) return -1;
    const st_tensor *keys = lang_tensor(f, t->code, "keys", ST_I64, -1);
    if (!keys) return -1;
    int64_t n = keys->shape[0];
    const st_tensor *logp = lang_tensor(f, t->code, "logp", ST_F32, n), *bow = lang_tensor(f, t->code, "bow", ST_F32, n),
                    *floor_t = lang_tensor(f, t->code, "floor", ST_F32, 1);
    if (!logp || !bow || !floor_t || lm_table_reserve(t, (size_t)n)) return -1;
    const uint8_t *k = f->data + keys->begin, *lp = f->data + logp->begin, *bw = f->data + bow->begin;
    for (int64_t i = 0; i < n; i++) {
        uint64_t key;
        float p, b;
        memcpy(&key, k + 8 * i, 8);
        memcpy(&p, lp + 4 * i, 4);
        memcpy(&b, bw + 4 * i, 4);
        int ids[LM_MAX_ORDER];
        if (lm_key_decode(t, key, ids) < 0)
            return mslam_error("%s: n-gram %lld of language '%s' has an invalid key %llu", f->path, (long long)i,
                               t->code, (unsigned long long)key);
        int repeat = lm_table_find(t, key) >= 0;
        /* (an estimate gives neither below e^-100 nor a backoff beyond e^+-100: a flipped bit's
         * 3e38 had loaded, and the beam wrote "ros ma a a a a") */
        if (!(p <= 0.0f && p >= -LM_LOG_LIMIT && b >= -LM_LOG_LIMIT && b <= LM_LOG_LIMIT) || repeat)
            return mslam_error("%s: n-gram %lld of language '%s' has log p %g and log bow %g%s", f->path,
                               (long long)i, t->code, (double)p, (double)b,
                               repeat ? " and repeats an earlier one" : " (log p within -100..0, log bow within -100..100)");
        lm_table_put(t, key, p, b);
    }
    memcpy(&t->floor_logp, f->data + floor_t->begin, 4);
    if (!(t->floor_logp <= 0.0f && t->floor_logp >= -LM_LOG_LIMIT))
        return mslam_error("%s: language '%s' has floor log p %g", f->path, t->code, (double)t->floor_logp);
    return 0;
}

mslam_lm *mslam_lm_load(const char *path) {
    if (!path) {
        mslam_error("mslam_lm_load: path is NULL");
        return NULL;
    }
    st_file f;
    if (st_open(&f, path)) return NULL;
    mslam_lm *lm = NULL;
    struct json_object *jvocab = NULL, *jlangs = NULL;
    const char **vocab = NULL, **langs = NULL;
    int order = 0;
    if (modelfile_check_format(&f, LM_FORMAT, "a character LM") || modelfile_meta_int(&f, "order", &order)) goto done;
    int n_vocab = 0, n_langs = 0;
    if (modelfile_meta_strings(&f, "vocab", -1, "entries", &jvocab, &vocab, &n_vocab) ||
        modelfile_meta_strings(&f, "langs", -1, "entries", &jlangs, &langs, &n_langs))
        goto done;
    const char *text = st_meta_get(&f, "text");
    if (text && strcmp(text, "transcript") && strcmp(text, "translation")) {
        char quoted[MSLAM_QUOTE_SIZE];
        mslam_error("%s: __metadata__ \"text\" is \"%s\", not \"transcript\" or \"translation\"", path,
                    mslam_quote(quoted, text, MSLAM_UTF8_NUL_TERMINATED));
        goto done;
    }
    lm = lm_alloc(order, vocab, n_vocab, langs, n_langs, path);
    if (!lm || !(lm->path = strdup(path))) goto fail;
    lm->of_translations = text && !strcmp(text, "translation");
    if (check_translation_langs(lm, "mslam_lm_load")) goto fail;
    for (int i = 0; i < lm->n_langs; i++)
        if (read_lang(lm, &f, &lm->langs[i])) goto fail;
    if (f.n_tensors != LM_TENSORS_PER_LANG * lm->n_langs) {
        mslam_error("%s: %d tensors, but %d languages need exactly %d", path, f.n_tensors, lm->n_langs,
                    LM_TENSORS_PER_LANG * lm->n_langs);
        goto fail;
    }
    goto done;
fail:
    mslam_lm_free(lm);
    lm = NULL;
done:
    free(vocab);
    free(langs);
    json_object_put(jvocab);
    json_object_put(jlangs);
    st_close(&f);
    return lm;
}

static int cmp_u64(const void *a, const void *b) {
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

int lm_save(const mslam_lm *lm, const char *path) {
    enum { N_KINDS = LM_TENSORS_PER_LANG };
    static const char *const kind[N_KINDS] = {"keys", "logp", "bow", "floor", "chars"};
    int n_t = N_KINDS * lm->n_langs, rc = 0;
    st_write_tensor *tensors = calloc((size_t)n_t, sizeof *tensors);
    char (*names)[LM_TENSOR_NAME_MAX] = calloc((size_t)n_t, sizeof *names);
    void **sorted = calloc((size_t)3 * lm->n_langs, sizeof *sorted); /* keys, logp, bow per language */
    char order[16], version[16];
    snprintf(order, sizeof order, "%d", lm->order);
    snprintf(version, sizeof version, "%d", MSLAM_FORMAT_VERSION);
    char *vocab = modelfile_json_text(modelfile_string_array(lm->vocab, lm->vocab_size));
    char **codes = calloc((size_t)lm->n_langs, sizeof *codes);
    for (int i = 0; codes && i < lm->n_langs; i++) codes[i] = lm->langs[i].code;
    char *langs = codes ? modelfile_json_text(modelfile_string_array(codes, lm->n_langs)) : NULL;
    free(codes);
    if (!tensors || !names || !sorted || !vocab || !langs) rc = mslam_error("cannot write '%s': out of memory", path);
    for (int i = 0; !rc && i < lm->n_langs; i++) {
        const lm_table *t = &lm->langs[i];
        uint64_t *keys = sorted[3 * i] = malloc((t->n ? t->n : 1) * sizeof *keys);
        float *logp = sorted[3 * i + 1] = malloc((t->n ? t->n : 1) * sizeof *logp);
        float *bow = sorted[3 * i + 2] = malloc((t->n ? t->n : 1) * sizeof *bow);
        if (!keys || !logp || !bow) {
            rc = mslam_error("cannot write '%s': out of memory", path);
            break;
        }
        /* in key order, so that a file's bytes depend only on its n-grams */
        size_t n = 0;
        for (size_t s = 0; s < t->cap; s++)
            if (t->keys[s]) keys[n++] = t->keys[s];
        qsort(keys, n, sizeof *keys, cmp_u64);
        for (size_t j = 0; j < n; j++) {
            long at = lm_table_find(t, keys[j]);
            logp[j] = t->logp[at];
            bow[j] = t->bow[at];
        }
        const void *data[N_KINDS] = {keys, logp, bow, &t->floor_logp, t->chars};
        const int64_t rows[N_KINDS] = {(int64_t)n, (int64_t)n, (int64_t)n, 1, t->n_chars};
        const st_dtype dtype[N_KINDS] = {ST_I64, ST_F32, ST_F32, ST_F32, ST_I32};
        for (int k = 0; k < N_KINDS; k++) {
            tensor_name(names[N_KINDS * i + k], t->code, kind[k]);
            tensors[N_KINDS * i + k] = (st_write_tensor){names[N_KINDS * i + k], dtype[k], 1, {rows[k]}, data[k]};
        }
    }
    st_meta meta[] = {{"format", LM_FORMAT}, {"format_version", version}, {"order", order}, {"vocab", vocab},
                      {"langs", langs}, {"text", lm->of_translations ? "translation" : "transcript"}};
    if (!rc) rc = st_write(path, tensors, n_t, meta, 6);
    for (int i = 0; sorted && i < 3 * lm->n_langs; i++) free(sorted[i]);
    free(sorted);
    free(names);
    free(tensors);
    free(vocab);
    free(langs);
    return rc;
}
