#include "init.h"

#include "data.h"

#include <glib.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

float residual_scale(const struct mslam_model_config *cfg, const char *name) {
    /* the last projection of a residual branch: feed-forward, attention output, conv module */
    if (!strstr(name, "linear2.weight") && !strstr(name, "attn.out.weight") && !strstr(name, "pw2.weight"))
        return 1.0f;
    int layers = !strncmp(name, "decoder_layers.", 15) ? cfg->n_decoder_layers
                                                       : cfg->n_speech_layers + cfg->n_shared_layers;
    return 1.0f / sqrtf(2.0f * (float)(layers > 0 ? layers : 1));
}

void model_init_params(mslam_model *m, uint64_t seed) {
    for (int i = 0; i < m->table.n; i++) {
        const mslam_param_entry *e = &m->table.entries[i];
        float *x = m->block + e->offset;
        const char *name = e->name;
        size_t len = strlen(name);
        int is_scale = e->ndim == 1 && len > 7 && !strcmp(name + len - 7, ".weight");
        mslam_rng rng;
        rng_for(&rng, seed, 0x1417, (uint64_t)i, 0);
        if (!strcmp(name, "frontend.mel_std") || is_scale) {
            for (size_t k = 0; k < e->numel; k++) x[k] = 1.0f;
        } else if (e->ndim == 1 || strstr(name, "pos_bias")) {
            memset(x, 0, e->numel * sizeof *x);
        } else if (strstr(name, "embed") || !strcmp(name, "pretrain.quantizer.weight")) {
            /* the quantizer's N(0, 1), as fairseq's wav2vec 2.0: logits large enough from the start
             * that a frame's code follows its features, not the Gumbel noise */
            for (size_t k = 0; k < e->numel; k++) x[k] = mslam_rng_normal(&rng);
        } else {
            double fan_out = e->shape[0], fan_in = (double)e->numel / e->shape[0];
            float bound = (float)sqrt(6.0 / (fan_in + fan_out));
            bound *= residual_scale(&m->cfg, name);
            for (size_t k = 0; k < e->numel; k++) x[k] = bound * (2.0f * mslam_rng_uniform(&rng) - 1.0f);
        }
    }
}

static const mslam_param_entry *find_entry(const mslam_param_table *t, const char *name) {
    for (int i = 0; i < t->n; i++)
        if (!strcmp(t->entries[i].name, name)) return &t->entries[i];
    return NULL;
}

/* row_of[i]: src's row of dst's vocabulary entry i, -1 where src lacks it. Returns whether src
 * has every one (0 on allocation failure too, with row_of NULL). */
static int vocab_rows(const mslam_model *dst, const mslam_model *src, int **row_of) {
    *row_of = malloc((size_t)dst->cfg.vocab_size * sizeof(int));
    if (!*row_of) return 0;
    GHashTable *src_row = g_hash_table_new(g_str_hash, g_str_equal);
    for (int j = 0; j < src->cfg.vocab_size; j++) g_hash_table_insert(src_row, src->vocab[j], GINT_TO_POINTER(j + 1));
    int all = 1;
    for (int i = 0; i < dst->cfg.vocab_size; i++) {
        (*row_of)[i] = GPOINTER_TO_INT(g_hash_table_lookup(src_row, dst->vocab[i])) - 1;
        all &= (*row_of)[i] >= 0;
    }
    g_hash_table_destroy(src_row);
    return all;
}

int model_copy_params(mslam_model *dst, const mslam_model *src, const char *const *fresh) {
    int missed = 0, *row_of = NULL, every_char = vocab_rows(dst, src, &row_of);
    for (int i = 0; i < dst->table.n; i++) {
        const mslam_param_entry *d = &dst->table.entries[i], *s = find_entry(&src->table, d->name);
        if (starts_with_any(d->name, fresh)) s = NULL;
        if (s && row_of && mslam_param_rows_are_chars(&dst->p, d) && s->ndim == d->ndim &&
            (d->ndim == 1 || s->shape[1] == d->shape[1])) {
            size_t row = d->numel / d->shape[0];
            for (int r = 0; r < d->shape[0]; r++)
                if (row_of[r] >= 0)
                    memcpy(dst->block + d->offset + (size_t)r * row, src->block + s->offset + (size_t)row_of[r] * row,
                           row * sizeof(float));
            missed += !every_char;
            continue;
        }
        int same_rows = s && s->ndim == d->ndim;
        for (int k = 1; same_rows && k < d->ndim; k++) same_rows = s->shape[k] == d->shape[k];
        /* another number of codes: other targets (BEST-RQ's random codebook is drawn for K) */
        if (same_rows && mslam_param_rows_are_codes(&dst->p, d)) same_rows = s->shape[0] == d->shape[0];
        if (!same_rows) {
            missed++;
            continue;
        }
        size_t row = d->numel / d->shape[0];
        int rows = s->shape[0] < d->shape[0] ? s->shape[0] : d->shape[0];
        memcpy(dst->block + d->offset, src->block + s->offset, (size_t)rows * row * sizeof(float));
        if (rows != d->shape[0] || rows != s->shape[0]) missed++; /* a prefix of src's, or of dst's rows */
    }
    free(row_of);
    return missed;
}
