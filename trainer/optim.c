#include "optim.h"

#include "common.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#ifdef _OPENMP
#define OMP(...) _Pragma(#__VA_ARGS__)
#else
#define OMP(...)
#endif

optim_config optim_default_config(void) {
    return (optim_config){.lr = 1e-3f,
                          .lr_min = 1e-5f,
                          .warmup_steps = 1000,
                          .total_steps = 100000,
                          .schedule = LR_COSINE,
                          .beta1 = 0.9f,
                          .beta2 = 0.98f,
                          .eps = 1e-9f,
                          .weight_decay = 0.01f,
                          .clip_norm = 5.0f};
}

static const char *const schedule_names[] = {"cosine", "inverse-sqrt", "constant"};

int lr_schedule_parse(const char *name) {
    for (int i = 0; i < 3; i++)
        if (!strcmp(name, schedule_names[i])) return i;
    return -1;
}

const char *lr_schedule_name(enum lr_schedule schedule) { return schedule_names[schedule]; }

float optim_lr(const optim_config *c, long step) {
    double s = (double)step + 1; /* the first update already gets a non-zero rate */
    if (s <= c->warmup_steps) return (float)(c->lr * s / c->warmup_steps);
    double lr = c->lr;
    if (c->schedule == LR_COSINE) {
        double span = (double)c->total_steps - c->warmup_steps;
        double progress = span > 0 ? (s - c->warmup_steps) / span : 1.0;
        if (progress > 1) progress = 1;
        lr = c->lr_min + 0.5 * (c->lr - c->lr_min) * (1 + cos(M_PI * progress));
    } else if (c->schedule == LR_INVERSE_SQRT) {
        lr = c->lr * sqrt((c->warmup_steps > 0 ? c->warmup_steps : 1) / s);
        if (lr < c->lr_min) lr = c->lr_min;
    }
    return (float)lr;
}

int adamw_init(adamw *o, const optim_config *cfg, const mslam_param_table *table) {
    memset(o, 0, sizeof *o);
    o->cfg = *cfg;
    o->n = table->total;
    o->m = mslam_calloc(o->n, sizeof(float), "AdamW first moments");
    o->v = mslam_calloc(o->n, sizeof(float), "AdamW second moments");
    o->segments = mslam_calloc((size_t)table->n, sizeof *o->segments, "AdamW segments");
    if (!o->m || !o->v || !o->segments) {
        adamw_free(o);
        return -1;
    }
    for (int i = 0; i < table->n; i++) {
        const mslam_param_entry *e = &table->entries[i];
        size_t len = strlen(e->name);
        o->segments[i] = (optim_segment){
            .offset = e->offset,
            .n = e->numel,
            .decay = e->ndim >= 2 && !strstr(e->name, "pos_bias"),
            /* frontend.*: fixed statistics of the training data, measured before training.
             * *.k.bias: an attention key bias adds the same amount to every score of a query,
             * which the softmax ignores; its gradient is zero but for rounding, which Adam's
             * normalisation would turn into a random walk of size lr per step. */
            .frozen = !strncmp(e->name, "frontend.", 9) || (len > 7 && !strcmp(e->name + len - 7, ".k.bias")),
        };
    }
    o->n_segments = table->n;
    return 0;
}

void adamw_train_only(adamw *o, const mslam_param_table *table, const char *const *prefixes) {
    for (int i = 0; i < o->n_segments && i < table->n; i++)
        if (!starts_with_any(table->entries[i].name, prefixes)) o->segments[i].frozen = 1;
}

void adamw_free(adamw *o) {
    free(o->m);
    free(o->v);
    free(o->segments);
    memset(o, 0, sizeof *o);
}

/* Fixed-size blocks summed in block order: the same result for any thread count. */
#define NORM_BLOCK 65536

double grad_sq_norm(const float *g, size_t n) {
    size_t n_blocks = (n + NORM_BLOCK - 1) / NORM_BLOCK;
    double *partial = malloc((n_blocks ? n_blocks : 1) * sizeof *partial);
    double total = 0;
    if (!partial) { /* fall back to one serial pass: same order as the blocks, just slower */
        for (size_t i = 0; i < n; i++) total += (double)g[i] * g[i];
        return total;
    }
    OMP(omp parallel for schedule(static))
    for (size_t b = 0; b < n_blocks; b++) {
        size_t end = (b + 1) * NORM_BLOCK < n ? (b + 1) * NORM_BLOCK : n;
        double s = 0;
        for (size_t i = b * NORM_BLOCK; i < end; i++) s += (double)g[i] * g[i];
        partial[b] = s;
    }
    for (size_t b = 0; b < n_blocks; b++) total += partial[b];
    free(partial);
    return total;
}

float clip_scale(const optim_config *c, double norm) {
    return c->clip_norm > 0 && norm > c->clip_norm ? (float)(c->clip_norm / norm) : 1.0f;
}

void adamw_step(adamw *o, float *params, const float *grad, float lr, float grad_scale) {
    const optim_config *c = &o->cfg;
    o->t++;
    float b1 = c->beta1, b2 = c->beta2, eps = c->eps;
    float bc1 = 1.0f - powf(b1, (float)o->t), bc2 = 1.0f - powf(b2, (float)o->t);
    for (int s = 0; s < o->n_segments; s++) {
        const optim_segment *seg = &o->segments[s];
        if (seg->frozen) continue;
        float decay = seg->decay ? lr * c->weight_decay : 0.0f;
        float *p = params + seg->offset, *m = o->m + seg->offset, *v = o->v + seg->offset;
        const float *g = grad + seg->offset;
        OMP(omp parallel for schedule(static) if (seg->n > 32768))
        for (size_t i = 0; i < seg->n; i++) {
            float gi = g[i] * grad_scale;
            m[i] = b1 * m[i] + (1.0f - b1) * gi;
            v[i] = b2 * v[i] + (1.0f - b2) * gi * gi;
            float update = (m[i] / bc1) / (sqrtf(v[i] / bc2) + eps);
            p[i] -= lr * update + decay * p[i];
        }
    }
}
