/* CTC and LID heads (see heads.h): forward, loss and backward on encoder outputs. */
#include "heads.h"

#include "common.h"
#include "ops.h"

#include <math.h>
#include <string.h>

/* Hands out the buffers of one call; with a counting arena only sizes them. */
static void plan_work(head_work *w, arena *ar, size_t n_logits, size_t n_pooled, int n_labels,
                      size_t n_doubles) {
    w->logits = arena_take(ar, n_logits);
    w->logp = arena_take(ar, n_logits);
    w->dlogp = arena_take(ar, n_logits);
    w->dlogits = arena_take(ar, n_logits);
    w->pooled = arena_take(ar, n_pooled);
    w->dpooled = arena_take(ar, n_pooled);
    /* ints and doubles in the float block: it is malloc'd, so its elements take the type of what
     * is stored in them; every take starts on a 64-byte boundary */
    w->labels = (int *)arena_take(ar, (size_t)n_labels);
    w->ctc_scratch = (double *)arena_take(ar, 2 * n_doubles);
}

static int work_setup(head_work *w, size_t n_logits, size_t n_pooled, int n_labels, size_t n_doubles) {
    arena counter = {0};
    plan_work(w, &counter, n_logits, n_pooled, n_labels, n_doubles);
    w->arena.used = counter.used;
    if (counter.used > w->arena.size && arena_commit(&w->arena, "the head buffers")) return -1;
    w->arena.used = 0;
    plan_work(w, &w->arena, n_logits, n_pooled, n_labels, n_doubles);
    return 0;
}

void head_work_free(head_work *w) {
    arena_release(&w->arena);
    memset(w, 0, sizeof *w);
}

static int check_lens(const int *lens, int B, int T, const char *who) {
    if (B <= 0 || T <= 0) return mslam_error("%s: batch of %d x %d frames is empty", who, B, T);
    for (int b = 0; b < B; b++)
        if (lens[b] < 0 || lens[b] > T)
            return mslam_error("%s: length %d of item %d is outside 0..%d", who, lens[b], b, T);
    return 0;
}

/* ---- CTC ---- */

/* A CTC path emits each label on its own frame and needs a blank between equal neighbours. */
static int ctc_fits(const int *targets, int L, int T) {
    int need = L;
    for (int i = 1; i < L; i++) need += targets[i] == targets[i - 1];
    return T > 0 && need <= T;
}

void ctc_head_log_probs(float *log_probs, float *logits, const float *enc, int n,
                        const struct mslam_model_config *cfg, const mslam_params *P) {
    linear_forward(logits, enc, P->ctc_w, P->ctc_b, n, cfg->d_model, cfg->vocab_size);
    log_softmax_forward(log_probs, logits, n, cfg->vocab_size);
}

int ctc_head_loss(head_work *w, const struct mslam_model_config *cfg, const mslam_params *P,
                  mslam_params *G, const float *enc, const int *lens, int B, int T,
                  const int *targets, const int *target_lens, float scale, float *denc,
                  head_loss *out) {
    const int V = cfg->vocab_size, d = cfg->d_model;
    memset(out, 0, sizeof *out);
    if (!cfg->ctc_head) return mslam_error("ctc_head_loss: the model has no CTC head");
    if (check_lens(lens, B, T, "ctc_head_loss")) return -1;
    size_t scratch = 0;
    for (int b = 0, off = 0; b < B; off += target_lens[b++]) {
        if (target_lens[b] < 0)
            return mslam_error("ctc_head_loss: target length %d of item %d is negative", target_lens[b], b);
        for (int i = 0; i < target_lens[b]; i++)
            if (targets[off + i] <= CTC_BLANK || targets[off + i] >= V)
                return mslam_error("ctc_head_loss: target %d of item %d is id %d, outside 1..%d (0 is "
                                   "the blank)", i, b, targets[off + i], V - 1);
        size_t s = ctc_scratch_size(lens[b], target_lens[b]);
        scratch = s > scratch ? s : scratch;
    }
    /* one item at a time over its valid frames: buffers of T x V, whatever the batch */
    if (work_setup(w, (size_t)T * V, 0, 0, scratch)) return -1;
    const int backward = G || denc;
    for (int b = 0, off = 0; b < B; off += target_lens[b++]) {
        const int n = lens[b];
        const float *enc_b = enc + (size_t)b * T * d;
        if (!ctc_fits(targets + off, target_lens[b], n)) {
            out->n_skipped++;
            continue;
        }
        ctc_head_log_probs(w->logp, w->logits, enc_b, n, cfg, P);
        if (backward) memset(w->dlogp, 0, (size_t)n * V * sizeof(float));
        double loss = ctc_loss(backward ? w->dlogp : NULL, w->logp, n, V, targets + off, target_lens[b], CTC_BLANK,
                               scale, w->ctc_scratch);
        /* a path exists, so only non-finite encoder outputs get here; ctc_loss then wrote no
         * gradient, and the item must not poison the batch */
        if (!isfinite(loss)) {
            out->n_skipped++;
            continue;
        }
        out->loss += loss;
        out->n_items++;
        if (!backward) continue;
        memset(w->dlogits, 0, (size_t)n * V * sizeof(float));
        log_softmax_backward(w->dlogits, w->dlogp, w->logp, n, V);
        linear_backward(denc ? denc + (size_t)b * T * d : NULL, G ? G->ctc_w : NULL, G ? G->ctc_b : NULL,
                        w->dlogits, enc_b, P->ctc_w, n, d, V);
    }
    return 0;
}

/* ---- LID ---- */

/* pooled (d) = mean of the n rows of enc (n, d) */
static void mean_rows(float *pooled, const float *enc, int n, int d) {
    memset(pooled, 0, (size_t)d * sizeof(float));
    for (int t = 0; t < n; t++) add_scaled(pooled, pooled, enc + (size_t)t * d, 1.0f, (size_t)d);
    for (int c = 0; c < d; c++) pooled[c] /= (float)n;
}

void lid_head_logits(float *logits, float *pooled, const float *enc, int n,
                     const struct mslam_model_config *cfg, const mslam_params *P) {
    mean_rows(pooled, enc, n, cfg->d_model);
    linear_forward(logits, pooled, P->lid_w, P->lid_b, 1, cfg->d_model, cfg->n_langs);
}

int lid_head_loss(head_work *w, const struct mslam_model_config *cfg, const mslam_params *P,
                  mslam_params *G, const float *enc, const int *lens, int B, int T,
                  const int *langs, float label_smoothing, float scale, float *denc, head_loss *out) {
    const int N = cfg->n_langs, d = cfg->d_model;
    memset(out, 0, sizeof *out);
    if (!cfg->lid_head) return mslam_error("lid_head_loss: the model has no LID head");
    if (check_lens(lens, B, T, "lid_head_loss")) return -1;
    if (!(label_smoothing >= 0.0f && label_smoothing < 1.0f))
        return mslam_error("lid_head_loss: label smoothing %g is outside [0, 1)", (double)label_smoothing);
    for (int b = 0; b < B; b++)
        if (langs[b] < -1 || langs[b] >= N)
            return mslam_error("lid_head_loss: language %d of item %d is outside -1..%d", langs[b], b, N - 1);
    if (work_setup(w, (size_t)B * N, (size_t)B * d, B, 0)) return -1;

    for (int b = 0; b < B; b++) {
        w->labels[b] = lens[b] > 0 ? langs[b] : -1;
        out->n_skipped += lens[b] == 0 && langs[b] >= 0;
        if (lens[b] > 0) mean_rows(w->pooled + (size_t)b * d, enc + (size_t)b * T * d, lens[b], d);
        else memset(w->pooled + (size_t)b * d, 0, (size_t)d * sizeof(float));
    }
    linear_forward(w->logits, w->pooled, P->lid_w, P->lid_b, B, d, N);
    const int backward = G || denc;
    if (backward) memset(w->dlogits, 0, (size_t)B * N * sizeof(float));
    out->loss = cross_entropy(backward ? w->dlogits : NULL, w->logits, w->labels, B, N, label_smoothing,
                              -1, scale, &out->n_items);
    if (!backward) return 0;
    memset(w->dpooled, 0, (size_t)B * d * sizeof(float));
    linear_backward(w->dpooled, G ? G->lid_w : NULL, G ? G->lid_b : NULL, w->dlogits, w->pooled, P->lid_w,
                    B, d, N);
    for (int b = 0; denc && b < B; b++)
        for (int t = 0; t < lens[b]; t++)
            add_scaled(denc + ((size_t)b * T + t) * d, denc + ((size_t)b * T + t) * d,
                       w->dpooled + (size_t)b * d, 1.0f / (float)lens[b], (size_t)d);
    return 0;
}
