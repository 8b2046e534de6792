/* Transformer decoder (see decoder.h): teacher-forced training pass and incremental inference. */
#include "decoder.h"

#include "common.h"
#include "ops.h"

#include <stdlib.h>
#include <string.h>

static void zero(float *x, size_t n) { memset(x, 0, n * sizeof(float)); }

/* ---- training pass ---- */

static void plan_pass(decoder_pass *p, const struct mslam_model_config *cfg, arena *ar) {
    const int B = p->B, L = p->L, T = p->T, d = cfg->d_model, f = cfg->d_ff, H = cfg->n_heads;
    const size_t n = (size_t)B * L, nd = n * d, ntd = (size_t)B * T * d;
    for (int i = 0; i < cfg->n_decoder_layers; i++) {
        decoder_layer_acts *a = &p->layers[i];
        p->xs[i] = arena_take(ar, nd);
        a->self_ln = arena_take(ar, nd);
        a->self_mean = arena_take(ar, n);
        a->self_rstd = arena_take(ar, n);
        a->q = arena_take(ar, nd);
        a->k = arena_take(ar, nd);
        a->v = arena_take(ar, nd);
        a->self_probs = arena_take(ar, (size_t)B * H * L * L);
        a->self_att = arena_take(ar, nd);
        a->x1 = arena_take(ar, nd);
        a->cross_ln = arena_take(ar, nd);
        a->cross_mean = arena_take(ar, n);
        a->cross_rstd = arena_take(ar, n);
        a->cq = arena_take(ar, nd);
        a->ck = arena_take(ar, ntd);
        a->cv = arena_take(ar, ntd);
        a->cross_probs = arena_take(ar, (size_t)B * H * L * T);
        a->cross_att = arena_take(ar, nd);
        a->x2 = arena_take(ar, nd);
        a->ffn_ln = arena_take(ar, nd);
        a->ffn_mean = arena_take(ar, n);
        a->ffn_rstd = arena_take(ar, n);
        a->ffn_h = arena_take(ar, n * f);
        a->ffn_a = arena_take(ar, n * f);
    }
    p->xs[cfg->n_decoder_layers] = arena_take(ar, nd);
    p->ln_out = arena_take(ar, nd);
    p->ln_mean = arena_take(ar, n);
    p->ln_rstd = arena_take(ar, n);
    p->logits = arena_take(ar, n * cfg->vocab_size);
    p->pe = arena_take(ar, (size_t)L * d);
    p->tmp = arena_take(ar, nd);
    p->scratch = arena_take(ar, attn_scratch_size(L, L > T ? L : T, H, d / H));
    /* ints in the float block: it is malloc'd, so its elements take the type stored in them */
    p->y_in = (int *)arena_take(ar, n);
    p->y_out = (int *)arena_take(ar, n);
    p->enc_lens = (int *)arena_take(ar, (size_t)B);
    p->dec_lens = (int *)arena_take(ar, (size_t)B);
    encoder_grad_work *w = &p->work;
    w->g = arena_take(ar, nd);
    w->t1 = arena_take(ar, nd);
    w->t2 = arena_take(ar, nd);
    w->tf1 = arena_take(ar, n * f);
    w->tf2 = arena_take(ar, n * f);
    p->dq = arena_take(ar, nd);
    p->dk = arena_take(ar, nd);
    p->dv = arena_take(ar, nd);
    p->dck = arena_take(ar, ntd);
    p->dcv = arena_take(ar, ntd);
    p->dlogits = arena_take(ar, n * cfg->vocab_size);
}

static int pass_setup(decoder_pass *p, const struct mslam_model_config *cfg) {
    arena counter = {0};
    plan_pass(p, cfg, &counter);
    p->arena.used = counter.used;
    if (counter.used > p->arena.size && arena_commit(&p->arena, "the decoder pass")) return -1;
    p->arena.used = 0;
    plan_pass(p, cfg, &p->arena);
    return 0;
}

/* The branches of a decoder layer, in the order they run. */
enum { BRANCH_SELF, BRANCH_CROSS, BRANCH_FFN };

/* One decoder layer on the batch: x (n, d) -> y (n, d); keeps its activations in a. */
static void decoder_layer_forward(decoder_pass *p, float *y, const float *x, decoder_layer_acts *a,
                                  const decoder_layer_params *Lp, const struct mslam_model_config *cfg,
                                  const residual_dropout *drop) {
    const int B = p->B, L = p->L, T = p->T, d = cfg->d_model, f = cfg->d_ff, H = cfg->n_heads;
    const int n = B * L;
    const size_t nd = (size_t)n * d;
    const attn_mask causal = {0, -1, 1};

    layernorm_forward(a->self_ln, a->self_mean, a->self_rstd, x, Lp->self_ln_w, Lp->self_ln_b, n, d);
    linear_forward(a->q, a->self_ln, Lp->self_wq, Lp->self_bq, n, d, d);
    linear_forward(a->k, a->self_ln, Lp->self_wk, Lp->self_bk, n, d, d);
    linear_forward(a->v, a->self_ln, Lp->self_wv, Lp->self_bv, n, d, d);
    attn_forward(a->self_att, a->self_probs, a->q, a->k, a->v, B, L, L, H, d / H, 0, &causal, p->dec_lens,
                 p->scratch);
    linear_forward(p->tmp, a->self_att, Lp->self_wo, Lp->self_bo, n, d, d);
    residual_dropout_apply(p->tmp, nd, drop, BRANCH_SELF);
    add_scaled(a->x1, x, p->tmp, 1.0f, nd);

    layernorm_forward(a->cross_ln, a->cross_mean, a->cross_rstd, a->x1, Lp->cross_ln_w, Lp->cross_ln_b, n, d);
    linear_forward(a->cq, a->cross_ln, Lp->cross_wq, Lp->cross_bq, n, d, d);
    linear_forward(a->ck, p->enc, Lp->cross_wk, Lp->cross_bk, B * T, d, d);
    linear_forward(a->cv, p->enc, Lp->cross_wv, Lp->cross_bv, B * T, d, d);
    attn_forward(a->cross_att, a->cross_probs, a->cq, a->ck, a->cv, B, L, T, H, d / H, 0, NULL, p->enc_lens,
                 p->scratch);
    linear_forward(p->tmp, a->cross_att, Lp->cross_wo, Lp->cross_bo, n, d, d);
    residual_dropout_apply(p->tmp, nd, drop, BRANCH_CROSS);
    add_scaled(a->x2, a->x1, p->tmp, 1.0f, nd);

    ffn_forward(y, a->x2, a->ffn_ln, a->ffn_mean, a->ffn_rstd, a->ffn_h, a->ffn_a, Lp->ffn_ln_w, Lp->ffn_ln_b,
                Lp->ffn_w1, Lp->ffn_b1, Lp->ffn_w2, Lp->ffn_b2, n, d, f, 1.0f, drop, BRANCH_FFN, p->tmp);
}

int decoder_forward(decoder_pass *p, const struct mslam_model_config *cfg, const mslam_params *P,
                    int bos, int eos, const float *enc, const int *enc_lens, int B, int T,
                    const int *targets, const int *target_lens, int Lt) {
    const int V = cfg->vocab_size, d = cfg->d_model;
    if (cfg->n_decoder_layers <= 0) return mslam_error("decoder_forward: the model has no decoder");
    if (B <= 0 || T <= 0 || Lt < 0)
        return mslam_error("decoder_forward: batch of %d items, %d frames, %d target tokens is empty", B, T, Lt);
    if (bos < 0 || bos >= V || eos < 0 || eos >= V)
        return mslam_error("decoder_forward: sentence marks %d, %d are outside the vocabulary", bos, eos);
    for (int b = 0; b < B; b++) {
        if (enc_lens[b] < 0 || enc_lens[b] > T)
            return mslam_error("decoder_forward: frame length %d of item %d is outside 0..%d", enc_lens[b], b, T);
        if (target_lens[b] < 0 || target_lens[b] > Lt)
            return mslam_error("decoder_forward: target length %d of item %d is outside 0..%d", target_lens[b],
                               b, Lt);
        for (int t = 0; t < target_lens[b]; t++)
            if (targets[b * Lt + t] < 0 || targets[b * Lt + t] >= V)
                return mslam_error("decoder_forward: target id %d of item %d position %d is outside 0..%d",
                                   targets[b * Lt + t], b, t, V - 1);
    }
    p->B = B;
    p->L = Lt + 1;
    p->T = T;
    p->enc = enc;
    if (pass_setup(p, cfg)) return -1;
    const int L = p->L, n = B * L;

    for (int b = 0; b < B; b++) {
        p->enc_lens[b] = enc_lens[b];
        p->dec_lens[b] = target_lens[b] + 1;
        for (int t = 0; t < L; t++) {
            int tl = target_lens[b];
            p->y_in[b * L + t] = t == 0 ? bos : t <= tl ? targets[b * Lt + t - 1] : 0;
            p->y_out[b * L + t] = t < tl ? targets[b * Lt + t] : t == tl ? eos : -1;
        }
    }
    embedding_forward(p->xs[0], p->y_in, P->dec_embed, n, d);
    sinusoid_table(p->pe, 0, L, d);
    for (int b = 0; b < B; b++)
        add_scaled(p->xs[0] + (size_t)b * L * d, p->xs[0] + (size_t)b * L * d, p->pe, 1.0f, (size_t)L * d);
    for (int i = 0; i < cfg->n_decoder_layers; i++) {
        residual_dropout drop = residual_dropout_layer(&p->dropout, i);
        decoder_layer_forward(p, p->xs[i + 1], p->xs[i], &p->layers[i], &P->dec[i], cfg, &drop);
    }
    layernorm_forward(p->ln_out, p->ln_mean, p->ln_rstd, p->xs[cfg->n_decoder_layers], P->dec_ln_w, P->dec_ln_b,
                      n, d);
    linear_forward(p->logits, p->ln_out, P->dec_out_w, P->dec_out_b, n, d, V);
    return 0;
}

/* g (n, d) holds d(y) on entry and d(x) on return; ACCUMULATES the layer's gradients into Gl
 * (NULL: none) and the encoder output's into denc (NULL: none). */
static void decoder_layer_backward(decoder_pass *p, float *g, const float *x, const decoder_layer_acts *a,
                                   const decoder_layer_params *Lp, decoder_layer_params *Gl,
                                   const struct mslam_model_config *cfg, const residual_dropout *drop,
                                   float *denc) {
    const int B = p->B, L = p->L, T = p->T, d = cfg->d_model, f = cfg->d_ff, H = cfg->n_heads;
    const int n = B * L, nT = B * T;
    const size_t nd = (size_t)n * d, ntd = (size_t)nT * d;
    encoder_grad_work *w = &p->work;
#define GP(field) (Gl ? Gl->field : NULL)

    ffn_backward(g, a->x2, a->ffn_ln, a->ffn_mean, a->ffn_rstd, a->ffn_h, a->ffn_a, Lp->ffn_ln_w, Lp->ffn_w1,
                 Lp->ffn_w2, GP(ffn_ln_w), GP(ffn_ln_b), GP(ffn_w1), GP(ffn_b1), GP(ffn_w2), GP(ffn_b2), n, d,
                 f, 1.0f, drop, BRANCH_FFN, w);

    /* cross-attention: queries from the decoder, keys and values from the encoder frames; the
     * gradient of its output before the dropout in t2 (free until below) */
    const float *dcross = residual_dropout_gradient(w->t2, g, nd, drop, BRANCH_CROSS);
    zero(w->t1, nd);
    linear_backward(w->t1, GP(cross_wo), GP(cross_bo), dcross, a->cross_att, Lp->cross_wo, n, d, d);
    zero(p->dq, nd);
    zero(p->dck, ntd);
    zero(p->dcv, ntd);
    attn_backward(p->dq, p->dck, p->dcv, w->t1, a->cross_probs, a->cq, a->ck, a->cv, B, L, T, H, d / H, 0,
                  NULL, p->enc_lens, p->scratch);
    linear_backward(denc, GP(cross_wk), GP(cross_bk), p->dck, p->enc, Lp->cross_wk, nT, d, d);
    linear_backward(denc, GP(cross_wv), GP(cross_bv), p->dcv, p->enc, Lp->cross_wv, nT, d, d);
    zero(w->t2, nd);
    linear_backward(w->t2, GP(cross_wq), GP(cross_bq), p->dq, a->cross_ln, Lp->cross_wq, n, d, d);
    layernorm_backward(g, GP(cross_ln_w), GP(cross_ln_b), w->t2, a->x1, a->cross_mean, a->cross_rstd,
                       Lp->cross_ln_w, n, d);

    /* causal self-attention (the mask acts through the saved probabilities) */
    const float *dself = residual_dropout_gradient(w->t2, g, nd, drop, BRANCH_SELF);
    zero(w->t1, nd);
    linear_backward(w->t1, GP(self_wo), GP(self_bo), dself, a->self_att, Lp->self_wo, n, d, d);
    zero(p->dq, nd);
    zero(p->dk, nd);
    zero(p->dv, nd);
    attn_backward(p->dq, p->dk, p->dv, w->t1, a->self_probs, a->q, a->k, a->v, B, L, L, H, d / H, 0, NULL,
                  NULL, p->scratch);
    zero(w->t2, nd);
    linear_backward(w->t2, GP(self_wq), GP(self_bq), p->dq, a->self_ln, Lp->self_wq, n, d, d);
    linear_backward(w->t2, GP(self_wk), GP(self_bk), p->dk, a->self_ln, Lp->self_wk, n, d, d);
    linear_backward(w->t2, GP(self_wv), GP(self_bv), p->dv, a->self_ln, Lp->self_wv, n, d, d);
    layernorm_backward(g, GP(self_ln_w), GP(self_ln_b), w->t2, x, a->self_mean, a->self_rstd, Lp->self_ln_w,
                       n, d);
#undef GP
}

void decoder_backward(decoder_pass *p, const struct mslam_model_config *cfg, const mslam_params *P,
                      mslam_params *G, const float *dlogits, float *denc) {
    const int n = p->B * p->L, d = cfg->d_model, V = cfg->vocab_size, nl = cfg->n_decoder_layers;
    const size_t nd = (size_t)n * d;
    float *g = p->work.g, *t = p->work.t1;
    zero(t, nd);
    linear_backward(t, G ? G->dec_out_w : NULL, G ? G->dec_out_b : NULL, dlogits, p->ln_out, P->dec_out_w, n,
                    d, V);
    zero(g, nd);
    layernorm_backward(g, G ? G->dec_ln_w : NULL, G ? G->dec_ln_b : NULL, t, p->xs[nl], p->ln_mean, p->ln_rstd,
                       P->dec_ln_w, n, d);
    for (int i = nl - 1; i >= 0; i--) {
        residual_dropout drop = residual_dropout_layer(&p->dropout, i);
        decoder_layer_backward(p, g, p->xs[i], &p->layers[i], &P->dec[i], G ? &G->dec[i] : NULL, cfg, &drop, denc);
    }
    if (G) embedding_backward(G->dec_embed, g, p->y_in, n, d);
}

int decoder_loss(decoder_pass *p, const struct mslam_model_config *cfg, const mslam_params *P,
                 mslam_params *G, int bos, int eos, const float *enc, const int *enc_lens, int B,
                 int T, const int *targets, const int *target_lens, int Lt, float label_smoothing,
                 float scale, float *denc, head_loss *out) {
    memset(out, 0, sizeof *out);
    if (!(label_smoothing >= 0.0f && label_smoothing < 1.0f))
        return mslam_error("decoder_loss: label smoothing %g is outside [0, 1)", (double)label_smoothing);
    if (decoder_forward(p, cfg, P, bos, eos, enc, enc_lens, B, T, targets, target_lens, Lt)) return -1;
    const int n = p->B * p->L, V = cfg->vocab_size, backward = G || denc;
    if (backward) zero(p->dlogits, (size_t)n * V);
    out->loss = cross_entropy(backward ? p->dlogits : NULL, p->logits, p->y_out, n, V, label_smoothing, -1,
                              scale, &out->n_tokens);
    out->n_items = B;
    if (backward) decoder_backward(p, cfg, P, G, p->dlogits, denc);
    return 0;
}

void decoder_pass_free(decoder_pass *p) {
    arena_release(&p->arena);
    memset(p, 0, sizeof *p);
}

/* ---- incremental inference ---- */

/* Rows of one cache slot: keys (which 0) or values (1) of a layer, cap positions of d. */
static float *self_kv(const decoder_cache *c, float *kv, int layer, int which, int slot, int d) {
    return kv + (((size_t)layer * 2 + which) * c->max_beams + slot) * c->cap * d;
}

static void plan_cache(decoder_cache *c, const struct mslam_model_config *cfg, arena *ar) {
    const int d = cfg->d_model, f = cfg->d_ff, H = cfg->n_heads, nb = c->max_beams;
    const size_t rows = (size_t)nb * d;
    c->x = arena_take(ar, rows);
    c->ln = arena_take(ar, rows);
    c->mean = arena_take(ar, (size_t)nb);
    c->rstd = arena_take(ar, (size_t)nb);
    c->q = arena_take(ar, rows);
    c->k = arena_take(ar, rows);
    c->v = arena_take(ar, rows);
    c->att = arena_take(ar, rows);
    c->tmp = arena_take(ar, rows);
    c->h = arena_take(ar, (size_t)nb * f);
    c->a = arena_take(ar, (size_t)nb * f);
    c->scratch = arena_take(ar, attn_scratch_size(nb, c->cap > c->T ? c->cap : c->T, H, d / H));
}

/* The step buffers hold nothing from one step to the next: a regrowth need not keep them. */
static int cache_setup(decoder_cache *c, const struct mslam_model_config *cfg) {
    arena counter = {0};
    plan_cache(c, cfg, &counter);
    c->arena.used = counter.used;
    if (counter.used > c->arena.size && arena_commit(&c->arena, "the decoder's step buffers")) return -1;
    c->arena.used = 0;
    plan_cache(c, cfg, &c->arena);
    return 0;
}

/* Room for at least `need` positions in the self-attention cache, keeping the n_pos it holds. */
static int grow_self_cache(decoder_cache *c, const struct mslam_model_config *cfg, int need, int n_pos) {
    if (need <= c->cap) return 0;
    const int d = cfg->d_model, nl = cfg->n_decoder_layers;
    int cap = c->cap ? c->cap : 32;
    while (cap < need) cap *= 2;
    float *kv = mslam_malloc((size_t)nl * 2 * c->max_beams * cap * d * sizeof(float),
                             "the decoder's self-attention cache");
    if (!kv) return -1;
    decoder_cache grown = *c;
    grown.cap = cap;
    for (int l = 0; n_pos > 0 && l < nl; l++)
        for (int s = 0; s < 2; s++)
            for (int b = 0; b < c->max_beams; b++)
                memcpy(self_kv(&grown, kv, l, s, b, d), self_kv(c, c->kv, l, s, b, d),
                       (size_t)n_pos * d * sizeof(float));
    free(c->kv);
    c->kv = kv;
    c->cap = cap;
    return cache_setup(c, cfg); /* the attention scratch grows with the keys */
}

int decoder_cache_begin(decoder_cache *c, const struct mslam_model_config *cfg, const mslam_params *P,
                        const float *enc, int T, int max_beams) {
    if (cfg->n_decoder_layers <= 0) return mslam_error("decoder: the model has no decoder");
    if (T <= 0 || max_beams <= 0)
        return mslam_error("decoder: %d encoder frames and %d beams: need at least one of each", T, max_beams);
    const int d = cfg->d_model;
    if (max_beams != c->max_beams) {
        /* the self cache's layout depends on the beam count: start it afresh */
        free(c->kv);
        free(c->slot);
        c->kv = NULL;
        c->cap = 0;
        c->max_beams = 0;
        if (!(c->slot = mslam_malloc((size_t)3 * max_beams * sizeof(int), "the decoder's beam slots"))) return -1;
        c->max_beams = max_beams;
    }
    for (int b = 0; b < max_beams; b++) c->slot[b] = b;
    size_t n_cross = (size_t)cfg->n_decoder_layers * 2 * T * d;
    if (n_cross > c->cross_size) {
        free(c->cross_kv);
        c->cross_size = 0;
        if (!(c->cross_kv = mslam_malloc(n_cross * sizeof(float), "the decoder's cross-attention keys")))
            return -1;
        c->cross_size = n_cross;
    }
    c->T = T;
    if (cache_setup(c, cfg) || grow_self_cache(c, cfg, 1, 0)) return -1;
    for (int l = 0; l < cfg->n_decoder_layers; l++) {
        const decoder_layer_params *Lp = &P->dec[l];
        float *ck = c->cross_kv + (size_t)l * 2 * T * d, *cv = ck + (size_t)T * d;
        linear_forward(ck, enc, Lp->cross_wk, Lp->cross_bk, T, d, d);
        linear_forward(cv, enc, Lp->cross_wv, Lp->cross_bv, T, d, d);
    }
    return 0;
}

int decoder_cache_step(decoder_cache *c, const struct mslam_model_config *cfg, const mslam_params *P,
                       const int *tokens, int n_beams, int pos, float *logits) {
    const int d = cfg->d_model, f = cfg->d_ff, H = cfg->n_heads, dh = d / H, T = c->T;
    if (grow_self_cache(c, cfg, pos + 1, pos)) return -1;
    const size_t nbd = (size_t)n_beams * d;

    embedding_forward(c->x, tokens, P->dec_embed, n_beams, d);
    sinusoid_table(c->tmp, pos, 1, d);
    for (int b = 0; b < n_beams; b++) add_scaled(c->x + (size_t)b * d, c->x + (size_t)b * d, c->tmp, 1.0f, d);

    for (int l = 0; l < cfg->n_decoder_layers; l++) {
        const decoder_layer_params *Lp = &P->dec[l];
        /* self-attention over this beam's cached positions 0 .. pos (all visible: no mask) */
        layernorm_forward(c->ln, c->mean, c->rstd, c->x, Lp->self_ln_w, Lp->self_ln_b, n_beams, d);
        linear_forward(c->q, c->ln, Lp->self_wq, Lp->self_bq, n_beams, d, d);
        linear_forward(c->k, c->ln, Lp->self_wk, Lp->self_bk, n_beams, d, d);
        linear_forward(c->v, c->ln, Lp->self_wv, Lp->self_bv, n_beams, d, d);
        for (int b = 0; b < n_beams; b++) {
            float *K = self_kv(c, c->kv, l, 0, c->slot[b], d), *Vc = self_kv(c, c->kv, l, 1, c->slot[b], d);
            memcpy(K + (size_t)pos * d, c->k + (size_t)b * d, (size_t)d * sizeof(float));
            memcpy(Vc + (size_t)pos * d, c->v + (size_t)b * d, (size_t)d * sizeof(float));
            attn_forward(c->att + (size_t)b * d, NULL, c->q + (size_t)b * d, K, Vc, 1, 1, pos + 1, H, dh, 0, NULL,
                         NULL, c->scratch);
        }
        linear_forward(c->tmp, c->att, Lp->self_wo, Lp->self_bo, n_beams, d, d);
        add_scaled(c->x, c->x, c->tmp, 1.0f, nbd);

        /* cross-attention: the beams are the queries of one item over the shared frames */
        const float *ck = c->cross_kv + (size_t)l * 2 * T * d, *cv = ck + (size_t)T * d;
        layernorm_forward(c->ln, c->mean, c->rstd, c->x, Lp->cross_ln_w, Lp->cross_ln_b, n_beams, d);
        linear_forward(c->q, c->ln, Lp->cross_wq, Lp->cross_bq, n_beams, d, d);
        attn_forward(c->att, NULL, c->q, ck, cv, 1, n_beams, T, H, dh, 0, NULL, NULL, c->scratch);
        linear_forward(c->tmp, c->att, Lp->cross_wo, Lp->cross_bo, n_beams, d, d);
        add_scaled(c->x, c->x, c->tmp, 1.0f, nbd);

        ffn_forward(c->x, c->x, c->ln, c->mean, c->rstd, c->h, c->a, Lp->ffn_ln_w, Lp->ffn_ln_b, Lp->ffn_w1,
                    Lp->ffn_b1, Lp->ffn_w2, Lp->ffn_b2, n_beams, d, f, 1.0f, NULL, 0, c->tmp);
    }
    layernorm_forward(c->ln, c->mean, c->rstd, c->x, P->dec_ln_w, P->dec_ln_b, n_beams, d);
    linear_forward(logits, c->ln, P->dec_out_w, P->dec_out_b, n_beams, d, cfg->vocab_size);
    return 0;
}

void decoder_cache_reorder(decoder_cache *c, const struct mslam_model_config *cfg, const int *parents,
                           int n_beams, int n_pos) {
    const int d = cfg->d_model, nb = c->max_beams;
    /* the first child of a beam takes over its slot as it is; a further child copies the
     * parent's rows into a slot that no child took (a beam without children frees its slot).
     * Copies happen only where beams branch, not for every beam at every step. */
    int *next = c->slot + nb, *used = c->slot + 2 * nb;
    memset(used, 0, (size_t)nb * sizeof(int));
    for (int i = 0; i < n_beams; i++) {
        int s = c->slot[parents[i]];
        next[i] = used[s] ? -1 : s;
        used[s] = 1;
    }
    for (int i = 0, free_slot = 0; i < n_beams; i++) {
        if (next[i] >= 0) continue;
        while (used[free_slot]) free_slot++;
        used[free_slot] = 1;
        next[i] = free_slot;
        for (int l = 0; l < cfg->n_decoder_layers; l++)
            for (int s = 0; s < 2; s++)
                memcpy(self_kv(c, c->kv, l, s, free_slot, d), self_kv(c, c->kv, l, s, c->slot[parents[i]], d),
                       (size_t)n_pos * d * sizeof(float));
    }
    memcpy(c->slot, next, (size_t)n_beams * sizeof(int));
}

void decoder_cache_free(decoder_cache *c) {
    arena_release(&c->arena);
    free(c->cross_kv);
    free(c->kv);
    free(c->slot);
    memset(c, 0, sizeof *c);
}
