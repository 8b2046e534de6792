/* The mSLAM encoder (see encoder.h and README "Model"): forward and backward of the speech
 * subsampler, the text embedding and the Conformer layers, plus the offline encode API. */
#include "encoder.h"

#include "backend_vulkan.h"

#include "common.h"
#include "frontend.h"
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void zero_padded_rows(float *x, int B, int T, int d, const int *lens) {
    if (!lens) return;
    for (int b = 0; b < B; b++) {
        int len = lens[b] < 0 ? 0 : (lens[b] > T ? T : lens[b]);
        memset(x + ((size_t)b * T + len) * d, 0, (size_t)(T - len) * d * sizeof(float));
    }
}

void mel_normalise(float *out, const float *mel, int n, int n_mels, const float *mean,
                   const float *std) {
    for (int i = 0; i < n; i++)
        for (int m = 0; m < n_mels; m++)
            out[(size_t)i * n_mels + m] = (mel[(size_t)i * n_mels + m] - mean[m]) / std[m];
}

static size_t max_size(size_t a, size_t b) { return a > b ? a : b; }

size_t conformer_layer_scratch_size(const struct mslam_model_config *cfg, int B, int T, int Tk, int save) {
    int H = cfg->n_heads, e = cfg->d_model / cfg->n_heads;
    size_t tmp = (size_t)B * T * cfg->d_model;
    return tmp + ARENA_ALIGN + relattn_scratch_size(T, Tk, H, e, save);
}

/* ---- residual dropout ---- */

residual_dropout residual_dropout_layer(const residual_dropout *drop, int layer) {
    return (residual_dropout){drop->p, hash_mix(drop->seed, (uint64_t)layer), drop->keys, drop->n_keys};
}

void residual_dropout_apply(float *x, size_t n, const residual_dropout *drop, int branch) {
    if (!drop || !(drop->p > 0.0f)) return;
    uint64_t seed = hash_mix(drop->seed, 0xd20b0000u + (uint64_t)branch);
    if (!drop->keys || drop->n_keys <= 0) {
        dropout_hashed(x, n, drop->p, seed);
        return;
    }
    size_t item = n / (size_t)drop->n_keys;
    for (int b = 0; b < drop->n_keys; b++)
        dropout_hashed(x + (size_t)b * item, item, drop->p, hash_mix(seed, (uint64_t)drop->keys[b]));
}

const float *residual_dropout_gradient(float *buf, const float *g, size_t n, const residual_dropout *drop,
                                       int branch) {
    if (!drop || !(drop->p > 0.0f)) return g;
    memcpy(buf, g, n * sizeof(float));
    residual_dropout_apply(buf, n, drop, branch);
    return buf;
}

/* The branches of a Conformer layer, in the order they run. */
enum { BRANCH_FFN1, BRANCH_ATTN, BRANCH_CONV, BRANCH_FFN2 };

/* ---- Conformer layer ---- */

void ffn_forward(float *out, const float *x, float *ln, float *mean, float *rstd, float *h, float *act,
                 const float *ln_w, const float *ln_b, const float *w1, const float *b1,
                 const float *w2, const float *b2, int n, int d, int f, float scale,
                 const residual_dropout *drop, int branch, float *tmp) {
    layernorm_forward(ln, mean, rstd, x, ln_w, ln_b, n, d);
    linear_forward(h, ln, w1, b1, n, d, f);
    swish_forward(act, h, (size_t)n * f);
    linear_forward(tmp, act, w2, b2, n, f, d);
    residual_dropout_apply(tmp, (size_t)n * d, drop, branch);
    add_scaled(out, x, tmp, scale, (size_t)n * d);
}

void conformer_layer_forward(float *y, const float *x, conformer_layer_acts *a,
                             const conformer_layer_params *L, const struct mslam_model_config *cfg,
                             int B, int T, const int *lens, const attn_mask *mask, const float *pe,
                             conformer_layer_state *state, const residual_dropout *drop, float *scratch) {
    int d = cfg->d_model, f = cfg->d_ff, H = cfg->n_heads, e = d / H, k = cfg->conv_kernel;
    int n = B * T;
    float *tmp = scratch;
    float *op_scratch = scratch + ((size_t)n * d + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;

    ffn_forward(a->x1, x, a->ffn1_ln, a->ffn1_mean, a->ffn1_rstd, a->ffn1_h, a->ffn1_a,
                L->ffn1_ln_w, L->ffn1_ln_b, L->ffn1_w1, L->ffn1_b1, L->ffn1_w2, L->ffn1_b2, n, d, f,
                0.5f, drop, BRANCH_FFN1, tmp);

    /* multi-head self-attention with relative positions */
    int n_cached = state ? state->n_cached : 0;
    int Tk = T + n_cached;
    if (state) {
        a->k = state->k;
        a->v = state->v;
    }
    layernorm_forward(a->attn_ln, a->attn_mean, a->attn_rstd, a->x1, L->attn_ln_w, L->attn_ln_b, n, d);
    linear_forward(a->q, a->attn_ln, L->attn_wq, L->attn_bq, n, d, d);
    linear_forward(a->k + (size_t)n_cached * d, a->attn_ln, L->attn_wk, L->attn_bk, n, d, d);
    linear_forward(a->v + (size_t)n_cached * d, a->attn_ln, L->attn_wv, L->attn_bv, n, d, d);
    linear_forward(a->p, pe, L->attn_wpos, NULL, T + Tk - 1, d, d);
    relattn_forward(a->att, a->probs, a->q, a->k, a->v, a->p, L->attn_pos_u, L->attn_pos_v, B, T,
                    Tk, H, e, mask, state ? NULL : lens, op_scratch);
    linear_forward(tmp, a->att, L->attn_wo, L->attn_bo, n, d, d);
    residual_dropout_apply(tmp, (size_t)n * d, drop, BRANCH_ATTN);
    add_scaled(a->x2, a->x1, tmp, 1.0f, (size_t)n * d);

    /* convolution module; the streaming cache holds the k-1 conv inputs before this chunk */
    layernorm_forward(a->conv_ln, a->conv_mean, a->conv_rstd, a->x2, L->conv_ln_w, L->conv_ln_b, n, d);
    linear_forward(a->pw1, a->conv_ln, L->conv_pw1_w, L->conv_pw1_b, n, d, 2 * d);
    if (state) {
        glu_forward(state->conv + (size_t)(k - 1) * d, a->pw1, n, d);
        dwconv1d_forward(a->dw, state->conv, L->conv_dw_w, L->conv_dw_b, 1, k - 1 + T, T, d, k, 0, NULL);
    } else {
        glu_forward(a->glu, a->pw1, n, d);
        dwconv1d_forward(a->dw, a->glu, L->conv_dw_w, L->conv_dw_b, B, T, T, d, k,
                         cfg->causal_conv ? k - 1 : (k - 1) / 2, lens);
    }
    layernorm_forward(a->norm, a->norm_mean, a->norm_rstd, a->dw, L->conv_norm_w, L->conv_norm_b, n, d);
    swish_forward(a->sw, a->norm, (size_t)n * d);
    linear_forward(tmp, a->sw, L->conv_pw2_w, L->conv_pw2_b, n, d, d);
    residual_dropout_apply(tmp, (size_t)n * d, drop, BRANCH_CONV);
    add_scaled(a->x3, a->x2, tmp, 1.0f, (size_t)n * d);

    ffn_forward(a->x4, a->x3, a->ffn2_ln, a->ffn2_mean, a->ffn2_rstd, a->ffn2_h, a->ffn2_a,
                L->ffn2_ln_w, L->ffn2_ln_b, L->ffn2_w1, L->ffn2_b1, L->ffn2_w2, L->ffn2_b2, n, d, f,
                0.5f, drop, BRANCH_FFN2, tmp);
    layernorm_forward(y, a->out_mean, a->out_rstd, a->x4, L->out_ln_w, L->out_ln_b, n, d);
    zero_padded_rows(y, B, T, d, lens);
}


static void zero(float *x, size_t n) { memset(x, 0, n * sizeof(float)); }

void ffn_backward(float *g, const float *x, const float *ln, const float *mean, const float *rstd,
                  const float *h, const float *act, const float *ln_w, const float *w1, const float *w2,
                  float *dln_w, float *dln_b, float *dw1, float *db1, float *dw2, float *db2, int n,
                  int d, int f, float scale, const residual_dropout *drop, int branch, encoder_grad_work *w) {
    size_t nd = (size_t)n * d, nf = (size_t)n * f;
    for (size_t i = 0; i < nd; i++) w->t1[i] = scale * g[i];
    residual_dropout_apply(w->t1, nd, drop, branch);
    zero(w->tf1, nf);
    linear_backward(w->tf1, dw2, db2, w->t1, act, w2, n, f, d);
    zero(w->tf2, nf);
    swish_backward(w->tf2, w->tf1, h, nf);
    zero(w->t2, nd);
    linear_backward(w->t2, dw1, db1, w->tf2, ln, w1, n, d, f);
    layernorm_backward(g, dln_w, dln_b, w->t2, x, mean, rstd, ln_w, n, d);
}

/* dy (n, d) with zero padded rows -> ACCUMULATES dx (n, d) and the layer's gradients G. */
static void conformer_layer_backward(float *dx, const float *dy, const float *x,
                                     const conformer_layer_acts *a, const conformer_layer_params *L,
                                     conformer_layer_params *G, const struct mslam_model_config *cfg,
                                     int B, int T, const int *lens, const attn_mask *mask,
                                     const float *pe, const residual_dropout *drop, encoder_grad_work *w,
                                     float *scratch) {
    int d = cfg->d_model, f = cfg->d_ff, H = cfg->n_heads, e = d / H, k = cfg->conv_kernel;
    int n = B * T, R = 2 * T - 1;
    size_t nd = (size_t)n * d;
    float *g = w->g;

    zero(g, nd);
    layernorm_backward(g, G->out_ln_w, G->out_ln_b, dy, a->x4, a->out_mean, a->out_rstd, L->out_ln_w, n, d);

    ffn_backward(g, a->x3, a->ffn2_ln, a->ffn2_mean, a->ffn2_rstd, a->ffn2_h, a->ffn2_a, L->ffn2_ln_w,
                 L->ffn2_w1, L->ffn2_w2, G->ffn2_ln_w, G->ffn2_ln_b, G->ffn2_w1, G->ffn2_b1,
                 G->ffn2_w2, G->ffn2_b2, n, d, f, 0.5f, drop, BRANCH_FFN2, w);

    /* convolution module; its output's gradient through its dropout in t2 (free until below) */
    const float *dconv = residual_dropout_gradient(w->t2, g, nd, drop, BRANCH_CONV);
    zero(w->t1, nd);
    linear_backward(w->t1, G->conv_pw2_w, G->conv_pw2_b, dconv, a->sw, L->conv_pw2_w, n, d, d);
    zero(w->t2, nd);
    swish_backward(w->t2, w->t1, a->norm, nd);
    zero(w->t1, nd);
    layernorm_backward(w->t1, G->conv_norm_w, G->conv_norm_b, w->t2, a->dw, a->norm_mean, a->norm_rstd,
                       L->conv_norm_w, n, d);
    zero(w->t2, nd);
    dwconv1d_backward(w->t2, G->conv_dw_w, G->conv_dw_b, w->t1, a->glu, L->conv_dw_w, B, T, T, d, k,
                      cfg->causal_conv ? k - 1 : (k - 1) / 2, lens);
    zero(w->t2d, 2 * nd);
    glu_backward(w->t2d, w->t2, a->pw1, n, d);
    zero(w->t1, nd);
    linear_backward(w->t1, G->conv_pw1_w, G->conv_pw1_b, w->t2d, a->conv_ln, L->conv_pw1_w, n, d, 2 * d);
    layernorm_backward(g, G->conv_ln_w, G->conv_ln_b, w->t1, a->x2, a->conv_mean, a->conv_rstd,
                       L->conv_ln_w, n, d);

    /* attention */
    const float *dattn = residual_dropout_gradient(w->t2, g, nd, drop, BRANCH_ATTN);
    zero(w->t1, nd);
    linear_backward(w->t1, G->attn_wo, G->attn_bo, dattn, a->att, L->attn_wo, n, d, d);
    zero(w->dq, nd);
    zero(w->dk, nd);
    zero(w->dv, nd);
    zero(w->dp, (size_t)R * d);
    relattn_backward(w->dq, w->dk, w->dv, w->dp, G->attn_pos_u, G->attn_pos_v, w->t1, a->probs, a->q,
                     a->k, a->v, a->p, L->attn_pos_u, L->attn_pos_v, B, T, T, H, e, mask, lens, scratch);
    linear_backward(NULL, G->attn_wpos, NULL, w->dp, pe, L->attn_wpos, R, d, d);
    zero(w->t2, nd);
    linear_backward(w->t2, G->attn_wq, G->attn_bq, w->dq, a->attn_ln, L->attn_wq, n, d, d);
    linear_backward(w->t2, G->attn_wk, G->attn_bk, w->dk, a->attn_ln, L->attn_wk, n, d, d);
    linear_backward(w->t2, G->attn_wv, G->attn_bv, w->dv, a->attn_ln, L->attn_wv, n, d, d);
    layernorm_backward(g, G->attn_ln_w, G->attn_ln_b, w->t2, a->x1, a->attn_mean, a->attn_rstd,
                       L->attn_ln_w, n, d);

    ffn_backward(g, x, a->ffn1_ln, a->ffn1_mean, a->ffn1_rstd, a->ffn1_h, a->ffn1_a, L->ffn1_ln_w,
                 L->ffn1_w1, L->ffn1_w2, G->ffn1_ln_w, G->ffn1_ln_b, G->ffn1_w1, G->ffn1_b1,
                 G->ffn1_w2, G->ffn1_b2, n, d, f, 0.5f, drop, BRANCH_FFN1, w);
    add_scaled(dx, dx, g, 1.0f, nd);
}

void speech_subsampler_forward(float *x0, float *mel_norm, float *c1, float *c2, float *c2t,
                               const float *mel, const int *mel_lens, const mslam_params *P,
                               const struct mslam_model_config *cfg, int B, int T_mel, float *scratch) {
    int C = cfg->sub_channels, M = cfg->n_mels;
    int T1 = (T_mel - 3) / 2 + 1, F1 = (M - 3) / 2 + 1;
    int T = mslam_subsampled_frames(T_mel), F2 = mslam_subsampled_mels(M);
    mel_normalise(mel_norm, mel, B * T_mel, M, P->mel_mean, P->mel_std);
    zero_padded_rows(mel_norm, B, T_mel, M, mel_lens);
    conv2d_forward(c1, mel_norm, P->sub_conv1_w, P->sub_conv1_b, B, 1, T_mel, M, C, scratch);
    relu_forward(c1, c1, (size_t)B * C * T1 * F1);
    conv2d_forward(c2, c1, P->sub_conv2_w, P->sub_conv2_b, B, C, T1, F1, C, scratch);
    relu_forward(c2, c2, (size_t)B * C * T * F2);
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (int t = 0; t < T; t++)
                memcpy(c2t + ((size_t)(b * T + t) * C + c) * F2, c2 + (((size_t)b * C + c) * T + t) * F2,
                       (size_t)F2 * sizeof(float));
    linear_forward(x0, c2t, P->sub_out_w, P->sub_out_b, B * T, C * F2, cfg->d_model);
}

size_t speech_subsampler_scratch_size(const struct mslam_model_config *cfg, int T_mel) {
    int T1 = (T_mel - 3) / 2 + 1, F1 = (cfg->n_mels - 3) / 2 + 1;
    return max_size(conv2d_scratch_size(1, T_mel, cfg->n_mels), conv2d_scratch_size(cfg->sub_channels, T1, F1));
}

/* ---- pass memory ---- */

void conformer_layer_acts_take(arena *ar, conformer_layer_acts *a, const struct mslam_model_config *cfg,
                               int B, int T, int Tk, int save) {
    int d = cfg->d_model, f = cfg->d_ff, H = cfg->n_heads;
    size_t n = (size_t)B * T, nd = n * d, nf = n * f;
    if (!save) {
        /* Nothing is read back after the forward: buffers that are never live at once (in the
         * order of conformer_layer_forward) share, about half the memory of a long pass. The
         * LayerNorm outputs, the attention output and the conv module's GLU and norm take turns
         * in one; the residual stream x1 .. x4 in two; the FFNs share theirs; swish's output
         * overwrites the depthwise conv's, which only the norm reads. */
        float *ln = arena_take(ar, nd), *xa = arena_take(ar, nd), *xb = arena_take(ar, nd);
        float *mean = arena_take(ar, n), *rstd = arena_take(ar, n);
        a->ffn1_ln = a->attn_ln = a->att = a->conv_ln = a->glu = a->norm = a->ffn2_ln = ln;
        a->x1 = a->x3 = xa;
        a->x2 = a->x4 = xb;
        a->ffn1_mean = a->attn_mean = a->conv_mean = a->norm_mean = a->ffn2_mean = a->out_mean = mean;
        a->ffn1_rstd = a->attn_rstd = a->conv_rstd = a->norm_rstd = a->ffn2_rstd = a->out_rstd = rstd;
        a->ffn1_h = a->ffn2_h = arena_take(ar, nf);
        a->ffn1_a = a->ffn2_a = arena_take(ar, nf);
        a->q = arena_take(ar, nd);
        a->k = arena_take(ar, (size_t)B * Tk * d);
        a->v = arena_take(ar, (size_t)B * Tk * d);
        a->p = arena_take(ar, (size_t)(T + Tk - 1) * d);
        a->probs = NULL;
        a->pw1 = arena_take(ar, 2 * nd);
        a->dw = a->sw = arena_take(ar, nd);
        return;
    }
    a->ffn1_ln = arena_take(ar, nd);
    a->ffn1_mean = arena_take(ar, n);
    a->ffn1_rstd = arena_take(ar, n);
    a->ffn1_h = arena_take(ar, nf);
    a->ffn1_a = arena_take(ar, nf);
    a->x1 = arena_take(ar, nd);
    a->attn_ln = arena_take(ar, nd);
    a->attn_mean = arena_take(ar, n);
    a->attn_rstd = arena_take(ar, n);
    a->q = arena_take(ar, nd);
    a->k = arena_take(ar, (size_t)B * Tk * d);
    a->v = arena_take(ar, (size_t)B * Tk * d);
    a->p = arena_take(ar, (size_t)(T + Tk - 1) * d);
    a->probs = arena_take(ar, (size_t)B * H * T * Tk);
    a->att = arena_take(ar, nd);
    a->x2 = arena_take(ar, nd);
    a->conv_ln = arena_take(ar, nd);
    a->conv_mean = arena_take(ar, n);
    a->conv_rstd = arena_take(ar, n);
    a->pw1 = arena_take(ar, 2 * nd);
    a->glu = arena_take(ar, nd);
    a->dw = arena_take(ar, nd);
    a->norm = arena_take(ar, nd);
    a->norm_mean = arena_take(ar, n);
    a->norm_rstd = arena_take(ar, n);
    a->sw = arena_take(ar, nd);
    a->x3 = arena_take(ar, nd);
    a->ffn2_ln = arena_take(ar, nd);
    a->ffn2_mean = arena_take(ar, n);
    a->ffn2_rstd = arena_take(ar, n);
    a->ffn2_h = arena_take(ar, nf);
    a->ffn2_a = arena_take(ar, nf);
    a->x4 = arena_take(ar, nd);
    a->out_mean = arena_take(ar, n);
    a->out_rstd = arena_take(ar, n);
}

/* Encoder frames per piece of a long inference pass's subsampler (10 s): its buffers, about 70 KB
 * a frame at 64 channels (the convolutions' outputs and im2col), then stay those of a piece
 * instead of growing to gigabytes with an hour's recording. */
#define SUBSAMPLER_PIECE_FRAMES 256

/* Hands out every buffer of the pass from ar (a counting run when ar->base is NULL). */
static void plan_pass(mslam_encoder_pass *p, const struct mslam_model_config *cfg, arena *ar) {
    int B = p->B, T = p->T, d = cfg->d_model, f = cfg->d_ff, C = cfg->sub_channels;
    size_t n = (size_t)B * T, nd = n * d;
    if (p->on_device) { /* the device holds the rest */
        p->out = arena_take(ar, nd);
        return;
    }
    size_t n1 = (size_t)B * C * p->T1 * p->F1, n2 = (size_t)B * C * T * p->F2;
    size_t scratch = conformer_layer_scratch_size(cfg, B, T, T, p->save);
    if (p->input == ENCODER_SPEECH) {
        int pieces = p->sub_frames < T, sub_B = pieces ? 1 : B;
        int sub_mel = pieces ? mslam_subsampler_window(p->sub_frames) : p->T_mel;
        p->mel_norm = arena_take(ar, (size_t)sub_B * sub_mel * cfg->n_mels);
        p->c1 = arena_take(ar, (size_t)sub_B * C * ((sub_mel - 3) / 2 + 1) * p->F1);
        p->c2 = arena_take(ar, (size_t)sub_B * C * p->sub_frames * p->F2);
        p->c2t = arena_take(ar, (size_t)sub_B * C * p->sub_frames * p->F2);
        p->features = p->masked ? arena_take(ar, nd) : NULL;
        scratch = max_size(scratch, speech_subsampler_scratch_size(cfg, sub_mel));
    } else {
        p->features = NULL;
        p->text_pre_ln = arena_take(ar, nd);
        p->text_mean = arena_take(ar, n);
        p->text_rstd = arena_take(ar, n);
        scratch = max_size(scratch, nd);
    }
    p->pe = arena_take(ar, (size_t)(2 * T - 1) * d);
    p->out = arena_take(ar, nd);
    p->scratch = arena_take(ar, scratch);
    p->scratch_size = scratch;
    int n_sets = p->save ? p->n_layers : (p->n_layers > 0);
    for (int i = 0; i < n_sets; i++) conformer_layer_acts_take(ar, &p->layers[i], cfg, B, T, T, p->save);
    for (int i = n_sets; i < p->n_layers; i++) p->layers[i] = p->layers[0];
    /* layer inputs: each kept when saving, else two buffers in turn */
    float *ping = p->save ? NULL : arena_take(ar, nd), *pong = p->save ? NULL : arena_take(ar, nd);
    for (int i = 0; i < p->n_layers; i++) p->xs[i] = p->save ? arena_take(ar, nd) : (i % 2 ? pong : ping);
    p->xs[p->n_layers] = p->out;
    if (p->save) {
        encoder_grad_work *w = &p->work;
        w->g = arena_take(ar, nd);
        w->t1 = arena_take(ar, nd);
        w->t2 = arena_take(ar, nd);
        w->tf1 = arena_take(ar, n * f);
        w->tf2 = arena_take(ar, n * f);
        w->t2d = arena_take(ar, 2 * nd);
        w->dq = arena_take(ar, nd);
        w->dk = arena_take(ar, nd);
        w->dv = arena_take(ar, nd);
        w->dp = arena_take(ar, (size_t)(2 * T - 1) * d);
        w->dy = arena_take(ar, nd);
        w->dx = arena_take(ar, nd);
        if (p->input == ENCODER_SPEECH) {
            w->dc2t = arena_take(ar, n2);
            w->dc2 = arena_take(ar, n2);
            w->dc1 = arena_take(ar, n1);
            w->dc1_pre = arena_take(ar, n1);
            w->dmel_norm = arena_take(ar, (size_t)B * p->T_mel * cfg->n_mels);
        }
    }
}

/* Sizes the pass with a counting run, grows its block when needed, then hands out pointers. */
static int pass_setup(mslam_encoder_pass *p, const struct mslam_model_config *cfg) {
    arena counter = {0};
    plan_pass(p, cfg, &counter);
    p->arena.used = counter.used;
    if (counter.used > p->arena.size && arena_commit(&p->arena, "the encoder pass")) return -1;
    p->arena.used = 0;
    plan_pass(p, cfg, &p->arena);
    return 0;
}

static int pass_begin(mslam_encoder_pass *p, encoder_input input, int B, int T, int n_layers,
                      const int *lens, const attn_mask *mask, int save) {
    p->input = input;
    p->B = B;
    p->T = T;
    p->n_layers = n_layers;
    p->save = save;
    p->mask = mask ? *mask : (attn_mask){0, -1, 0};
    free(p->lens);
    free(p->layers);
    free(p->xs);
    p->lens = mslam_malloc((size_t)B * sizeof(int), "frame lengths");
    p->layers = mslam_calloc((size_t)(n_layers > 0 ? n_layers : 1), sizeof(conformer_layer_acts),
                             "layer activations");
    p->xs = mslam_calloc((size_t)n_layers + 1, sizeof(float *), "layer inputs");
    if (!p->lens || !p->layers || !p->xs) return -1;
    for (int b = 0; b < B; b++) p->lens[b] = lens[b];
    return 0;
}

/* Whether a pass that pass_begin set up runs on its Vulkan device: inference (save = 0), when it
 * fits the device's buffers, workgroup counts and memory free (length: mel frames or characters);
 * the log says which one sent it to the CPU. */
static int device_runs(const mslam_encoder_pass *p, const struct mslam_model_config *cfg, int speech, int length) {
    /* a device lost under auto: the loss said once that the passes run on the CPU */
    if (!p->vk || p->save || mslam_vk_cpu_instead(p->vk)) return 0;
    char why[512];
    if (mslam_vk_fits(p->vk, cfg, speech, p->B, length, why, sizeof why)) return 1;
    mslam_log(MSLAM_LOG_INFO, "a pass of %d x %d %s runs on the CPU: it %s", p->B, length,
              speech ? "mel frames" : "characters", why);
    return 0;
}

/* Runs a pass on the device (speech: mslam_vk_encode_speech, else _text); under auto its
 * errors are not logged, as the CPU runs it instead (device_failed). */
static int device_pass(mslam_encoder_pass *p, const struct mslam_model_config *cfg, const mslam_params *P,
                       const float *mel, const int *mel_lens, int T_mel, const attn_mask *mask) {
    int outer = mslam_errors_unlogged(1);
    mslam_errors_unlogged(outer || mslam_vk_auto(p->vk));
    int rc = mel ? mslam_vk_encode_speech(p->vk, cfg, P, mel, mel_lens, p->B, T_mel, mask, p->out)
                 : mslam_vk_encode_text(p->vk, cfg, P, p->ids, p->lens, p->B, p->T, p->out);
    mslam_errors_unlogged(outer);
    if (!rc) mslam_vk_pass_ran(p->vk, 1);
    return rc;
}

/* After a pass on the device failed: under auto it is set up again to run on the CPU (0), with
 * a warning that gives the device's error unless the device was lost (the loss's own warning
 * said the passes run on the CPU from now on); under vulkan the failure is the pass's (-1, its
 * error recorded). A pass runs on the device only when mslam_vk_fits said it fits, but another
 * program can take the device's memory in between. */
static int device_failed(mslam_encoder_pass *p, const struct mslam_model_config *cfg) {
    if (!mslam_vk_auto(p->vk)) return -1;
    /* (once until a pass runs on the device again) */
    if (!mslam_vk_cpu_instead(p->vk) && mslam_vk_pass_ran(p->vk, 0))
        mslam_log(MSLAM_LOG_WARN, "%s: the pass runs on the CPU instead (device auto; said once until a pass runs "
                  "on the device again)", mslam_last_error());
    p->on_device = 0;
    return pass_setup(p, cfg);
}

static const conformer_layer_params *layer_params(const struct mslam_model_config *cfg,
                                                  const mslam_params *P, encoder_input input, int i) {
    int first_shared = input == ENCODER_SPEECH ? cfg->n_speech_layers : 0;
    return i < first_shared ? &P->speech[i] : &P->shared[i - first_shared];
}

static conformer_layer_params *layer_grads(const struct mslam_model_config *cfg, mslam_params *G,
                                           encoder_input input, int i) {
    int first_shared = input == ENCODER_SPEECH ? cfg->n_speech_layers : 0;
    return i < first_shared ? &G->speech[i] : &G->shared[i - first_shared];
}

/* Checks that a pass asking for span masking can have it. */
static int check_masking(const mslam_encoder_pass *p, const struct mslam_model_config *cfg, int save) {
    if (!p->masked) return 0;
    if (!save) return mslam_error("span masking is for training passes (save = 1)");
    if (cfg->n_codes <= 0) return mslam_error("span masking needs a model with the pre-training tensors (n_codes > 0)");
    return 0;
}

/* Rows of x (B*T, d) that p->masked names become mask (d). */
static void mask_rows(float *x, const unsigned char *masked, const float *mask, int n, int d) {
    for (int r = 0; r < n; r++)
        if (masked[r]) memcpy(x + (size_t)r * d, mask, (size_t)d * sizeof(float));
}

/* The backward of mask_rows: the masked rows of dx (n, d) go to dmask (d), and are zeroed. */
static void mask_rows_backward(float *dmask, float *dx, const unsigned char *masked, int n, int d) {
    for (int r = 0; r < n; r++)
        if (masked[r]) {
            add_scaled(dmask, dmask, dx + (size_t)r * d, 1.0f, (size_t)d);
            memset(dx + (size_t)r * d, 0, (size_t)d * sizeof(float));
        }
}

const float *mslam_encoder_speech_layers_out(const mslam_encoder_pass *p, const struct mslam_model_config *cfg) {
    return p->xs[cfg->n_speech_layers];
}

static int run_layers(mslam_encoder_pass *p, const struct mslam_model_config *cfg,
                      const mslam_params *P) {
    int T = p->T, d = cfg->d_model;
    sinusoid_table(p->pe, -(T - 1), 2 * T - 1, d);
    for (int i = 0; i < p->n_layers; i++) {
        if (mslam_abort_now(p->abort)) return -1;
        residual_dropout drop = residual_dropout_layer(&p->dropout, i);
        conformer_layer_forward(p->xs[i + 1], p->xs[i], &p->layers[i], layer_params(cfg, P, p->input, i),
                                cfg, p->B, T, p->lens, &p->mask, p->pe, NULL, p->save ? &drop : NULL, p->scratch);
    }
    return 0;
}

/* The subsampler of a pass one item and p->sub_frames encoder frames at a time: encoder frame t
 * reads mel frames 4t .. 4t + 6 alone, so each piece's window gives what the whole pass would.
 * Pieces past an item's length are left to zero_padded_rows. */
static void speech_subsampler_forward_pieces(mslam_encoder_pass *p, const struct mslam_model_config *cfg,
                                             const mslam_params *P, const float *mel) {
    int d = cfg->d_model, M = cfg->n_mels, T = p->T;
    for (int b = 0; b < p->B; b++)
        for (int t0 = 0; t0 < p->lens[b]; t0 += p->sub_frames) {
            int n = T - t0 < p->sub_frames ? T - t0 : p->sub_frames;
            int window = mslam_subsampler_window(n), first = 4 * t0;
            int valid = p->mel_lens[b] - first < window ? p->mel_lens[b] - first : window;
            speech_subsampler_forward(p->xs[0] + ((size_t)b * T + t0) * d, p->mel_norm, p->c1, p->c2, p->c2t,
                                      mel + ((size_t)b * p->T_mel + first) * M, &valid, P, cfg, 1, window,
                                      p->scratch);
        }
}

int mslam_encoder_speech_forward(mslam_encoder_pass *p, const struct mslam_model_config *cfg,
                                 const mslam_params *P, const float *mel, const int *mel_lens,
                                 int B, int T_mel, const attn_mask *mask, int save) {
    if (B <= 0 || T_mel <= 0) return mslam_error("speech batch of %d x %d mel frames is empty", B, T_mel);
    int T = mslam_subsampled_frames(T_mel);
    if (T <= 0) return mslam_error("%d mel frames are too few for the subsampler (at least 7)", T_mel);
    for (int b = 0; b < B; b++)
        if (mel_lens[b] < 0 || mel_lens[b] > T_mel)
            return mslam_error("mel length %d of item %d is outside 0..%d", mel_lens[b], b, T_mel);
    if (check_masking(p, cfg, save)) return -1;
    if (pass_begin(p, ENCODER_SPEECH, B, T, cfg->n_speech_layers + cfg->n_shared_layers, mel_lens, mask, save))
        return -1;
    for (int b = 0; b < B; b++) p->lens[b] = mslam_subsampled_frames(mel_lens[b]);
    int M = cfg->n_mels;
    p->T_mel = T_mel;
    p->T1 = (T_mel - 3) / 2 + 1;
    p->F1 = (M - 3) / 2 + 1;
    p->F2 = mslam_subsampled_mels(M);
    p->sub_frames = !save && T > SUBSAMPLER_PIECE_FRAMES ? SUBSAMPLER_PIECE_FRAMES : T;
    free(p->mel_lens);
    p->mel_lens = mslam_malloc((size_t)B * sizeof(int), "mel lengths");
    if (!p->mel_lens) return -1;
    memcpy(p->mel_lens, mel_lens, (size_t)B * sizeof(int));
    p->on_device = device_runs(p, cfg, 1, T_mel);
    if (pass_setup(p, cfg)) return -1;
    if (p->on_device) {
        if (mslam_abort_now(p->abort)) return -1;
        if (!device_pass(p, cfg, P, mel, mel_lens, T_mel, mask)) return 0;
        if (device_failed(p, cfg)) return -1;
    }

    if (p->sub_frames < T)
        speech_subsampler_forward_pieces(p, cfg, P, mel);
    else
        speech_subsampler_forward(p->xs[0], p->mel_norm, p->c1, p->c2, p->c2t, mel, mel_lens, P, cfg, B, T_mel,
                                  p->scratch);
    zero_padded_rows(p->xs[0], B, T, cfg->d_model, p->lens);
    if (p->masked) {
        memcpy(p->features, p->xs[0], (size_t)B * T * cfg->d_model * sizeof(float));
        mask_rows(p->xs[0], p->masked, P->pt_speech_mask, B * T, cfg->d_model);
        zero_padded_rows(p->xs[0], B, T, cfg->d_model, p->lens);
    }
    return run_layers(p, cfg, P);
}

void text_embed_forward(float *pre_ln, const int *ids, const float *positions, const mslam_params *P, int B,
                        int L, int d) {
    embedding_forward(pre_ln, ids, P->text_embed, B * L, d);
    for (int b = 0; b < B; b++)
        add_scaled(pre_ln + (size_t)b * L * d, pre_ln + (size_t)b * L * d, positions, 1.0f, (size_t)L * d);
}

int mslam_encoder_text_forward(mslam_encoder_pass *p, const struct mslam_model_config *cfg,
                               const mslam_params *P, const int *ids, const int *lens, int B, int L,
                               int save) {
    if (B <= 0 || L <= 0) return mslam_error("text batch of %d x %d characters is empty", B, L);
    for (int b = 0; b < B; b++) {
        if (lens[b] < 0 || lens[b] > L)
            return mslam_error("text length %d of item %d is outside 0..%d", lens[b], b, L);
        for (int t = 0; t < lens[b]; t++)
            if (ids[b * L + t] < 0 || ids[b * L + t] >= cfg->vocab_size)
                return mslam_error("character id %d at item %d position %d is outside the vocabulary (0..%d)",
                                   ids[b * L + t], b, t, cfg->vocab_size - 1);
    }
    if (check_masking(p, cfg, save)) return -1;
    if (pass_begin(p, ENCODER_TEXT, B, L, cfg->n_shared_layers, lens, NULL, save)) return -1;
    free(p->ids);
    p->ids = mslam_malloc((size_t)B * L * sizeof(int), "character ids");
    if (!p->ids) return -1;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < L; t++) p->ids[b * L + t] = t < lens[b] ? ids[b * L + t] : 0;
    p->on_device = device_runs(p, cfg, 0, L);
    if (pass_setup(p, cfg)) return -1;
    if (p->on_device) {
        if (mslam_abort_now(p->abort)) return -1;
        if (!device_pass(p, cfg, P, NULL, NULL, 0, NULL)) return 0;
        if (device_failed(p, cfg)) return -1;
    }

    int d = cfg->d_model, n = B * L;
    float *positions = p->scratch; /* (L, d) */
    sinusoid_table(positions, 0, L, d);
    text_embed_forward(p->text_pre_ln, p->ids, positions, P, B, L, d);
    if (p->masked)
        for (int b = 0; b < B; b++)
            for (int t = 0; t < L; t++)
                if (p->masked[b * L + t])
                    add_scaled(p->text_pre_ln + ((size_t)b * L + t) * d, P->pt_text_mask, positions + (size_t)t * d,
                               1.0f, (size_t)d);
    layernorm_forward(p->xs[0], p->text_mean, p->text_rstd, p->text_pre_ln, P->text_ln_w, P->text_ln_b, n, d);
    zero_padded_rows(p->xs[0], B, L, d, p->lens);
    return run_layers(p, cfg, P);
}

int mslam_encoder_backward(mslam_encoder_pass *p, const struct mslam_model_config *cfg,
                           const mslam_params *P, mslam_params *G, const float *dout, float *dmel) {
    if (!p->save) return mslam_error("encoder backward needs a forward pass run with save = 1");
    int B = p->B, T = p->T, d = cfg->d_model, n = B * T;
    size_t nd = (size_t)n * d;
    encoder_grad_work *w = &p->work;
    memcpy(w->dy, dout, nd * sizeof(float));
    /* the speech layers' output: the input of layer mid */
    int mid = p->input == ENCODER_SPEECH && p->d_speech_out ? cfg->n_speech_layers : -1;
    if (mid == p->n_layers) add_scaled(w->dy, w->dy, p->d_speech_out, 1.0f, nd);
    zero_padded_rows(w->dy, B, T, d, p->lens);
    for (int i = p->n_layers - 1; i >= 0; i--) {
        zero(w->dx, nd);
        residual_dropout drop = residual_dropout_layer(&p->dropout, i);
        conformer_layer_backward(w->dx, w->dy, p->xs[i], &p->layers[i], layer_params(cfg, P, p->input, i),
                                 layer_grads(cfg, G, p->input, i), cfg, B, T, p->lens, &p->mask, p->pe,
                                 &drop, w, p->scratch);
        float *swap = w->dy;
        w->dy = w->dx;
        w->dx = swap;
        if (i == mid) {
            add_scaled(w->dy, w->dy, p->d_speech_out, 1.0f, nd);
            zero_padded_rows(w->dy, B, T, d, p->lens);
        }
    }
    /* w->dy: gradient of the first layer's input */
    if (p->input == ENCODER_TEXT) {
        zero(w->t1, nd);
        layernorm_backward(w->t1, G->text_ln_w, G->text_ln_b, w->dy, p->text_pre_ln, p->text_mean,
                           p->text_rstd, P->text_ln_w, n, d);
        zero_padded_rows(w->t1, B, T, d, p->lens);
        if (p->masked) mask_rows_backward(G->pt_text_mask, w->t1, p->masked, n, d);
        embedding_backward(G->text_embed, w->t1, p->ids, n, d);
        return 0;
    }
    if (p->masked) mask_rows_backward(G->pt_speech_mask, w->dy, p->masked, n, d);
    int C = cfg->sub_channels, F2 = p->F2, M = cfg->n_mels;
    size_t n2 = (size_t)B * T * C * F2, n1 = (size_t)B * C * p->T1 * p->F1;
    zero(w->dc2t, n2);
    linear_backward(w->dc2t, G->sub_out_w, G->sub_out_b, w->dy, p->c2t, P->sub_out_w, n, C * F2, d);
    for (int b = 0; b < B; b++)
        for (int c = 0; c < C; c++)
            for (int t = 0; t < T; t++)
                memcpy(w->dc2 + (((size_t)b * C + c) * T + t) * F2, w->dc2t + ((size_t)(b * T + t) * C + c) * F2,
                       (size_t)F2 * sizeof(float));
    zero(w->dc2t, n2); /* now the gradient before the second ReLU */
    relu_backward(w->dc2t, w->dc2, p->c2, n2);
    zero(w->dc1, n1);
    conv2d_backward(w->dc1, G->sub_conv2_w, G->sub_conv2_b, w->dc2t, p->c1, P->sub_conv2_w, B, C, p->T1,
                    p->F1, C, p->scratch);
    zero(w->dc1_pre, n1);
    relu_backward(w->dc1_pre, w->dc1, p->c1, n1);
    size_t nm = (size_t)B * p->T_mel * M;
    zero(w->dmel_norm, nm);
    conv2d_backward(dmel ? w->dmel_norm : NULL, G->sub_conv1_w, G->sub_conv1_b, w->dc1_pre, p->mel_norm,
                    P->sub_conv1_w, B, 1, p->T_mel, M, C, p->scratch);
    if (dmel) {
        for (int b = 0; b < B; b++)
            for (int t = 0; t < p->mel_lens[b]; t++)
                for (int m = 0; m < M; m++) {
                    size_t i = ((size_t)b * p->T_mel + t) * M + m;
                    dmel[i] += w->dmel_norm[i] / P->mel_std[m];
                }
    }
    return 0;
}

void mslam_encoder_pass_free(mslam_encoder_pass *p) {
    arena_release(&p->arena);
    free(p->lens);
    free(p->layers);
    free(p->mel_lens);
    free(p->ids);
    free(p->xs);
    memset(p, 0, sizeof *p);
}

/* ---- offline encode API ---- */

struct mslam_encode_params mslam_encode_default_params(void) {
    return (struct mslam_encode_params){.chunk_frames = 0, .left_chunks = -1, .n_threads = 0};
}

static float *take_output(mslam_encoder_pass *p, int d, int *n_frames) {
    size_t bytes = (size_t)p->T * d * sizeof(float);
    float *out = mslam_malloc(bytes, "encoder frames");
    if (out) {
        memcpy(out, p->out, bytes);
        *n_frames = p->lens[0];
    }
    return out;
}

/* The checks both encoders make of their params (fn: the public function, for the message). */
static int check_encode_params(const struct mslam_encode_params *ep, const char *fn) {
    if (ep->chunk_frames < 0) return mslam_error("%s: chunk_frames = %d must be >= 0", fn, ep->chunk_frames);
    return 0;
}

float *mslam_encode_pcm_as(mslam_model *model, const float *pcm, size_t n_samples,
                           const struct mslam_encode_params *params, int *n_frames, const char *fn) {
    if (!model || !n_frames || (!pcm && n_samples)) {
        mslam_error("%s: %s is NULL", fn, !model ? "model" : !n_frames ? "n_frames" : "pcm (with samples to read)");
        return NULL;
    }
    *n_frames = 0;
    struct mslam_encode_params ep = params ? *params : mslam_encode_default_params();
    if (check_encode_params(&ep, fn)) return NULL;
    if (mslam_model_check_features(model, fn)) return NULL;
    for (size_t i = 0; i < n_samples; i++) {
        if (!isfinite(pcm[i])) {
            mslam_error("%s: sample %zu is not a finite number", fn, i);
            return NULL;
        }
    }
    const struct mslam_model_config *cfg = &model->cfg;
    mslam_model_use_threads(model, ep.n_threads);
    int n_mel = mslam_frontend_n_frames(n_samples);
    if (mslam_subsampled_frames(n_mel) == 0) return mslam_calloc(1, sizeof(float), "encoder frames");

    mslam_frontend fe;
    if (mslam_frontend_init(&fe, cfg->n_mels)) return NULL;
    float *mel = mslam_malloc((size_t)n_mel * cfg->n_mels * sizeof(float), "log-mel");
    float *fe_scratch = mslam_malloc(mslam_frontend_scratch_size(n_mel) * sizeof(float), "frontend scratch");
    float *out = NULL;
    if (mel && fe_scratch) {
        mslam_logmel(&fe, pcm, n_samples, n_mel, mel, fe_scratch);
        attn_mask mask = {ep.chunk_frames, ep.left_chunks, 0};
        mslam_abort abort = {ep.abort_callback, ep.abort_callback_user_data, fn, 0};
        mslam_encoder_pass pass = {.vk = model->vk, .abort = &abort};
        if (mslam_encoder_speech_forward(&pass, cfg, &model->p, mel, &n_mel, 1, n_mel, &mask, 0) == 0)
            out = take_output(&pass, cfg->d_model, n_frames);
        mslam_encoder_pass_free(&pass);
    }
    free(mel);
    free(fe_scratch);
    mslam_frontend_free(&fe);
    return out;
}

float *mslam_encode_pcm(mslam_model *model, const float *pcm, size_t n_samples,
                        const struct mslam_encode_params *params, int *n_frames) {
    return mslam_encode_pcm_as(model, pcm, n_samples, params, n_frames, "mslam_encode_pcm");
}

float *mslam_encode_text_as(mslam_model *model, const char *utf8, const struct mslam_encode_params *params,
                            int *n_frames, const char *fn) {
    if (!model || !utf8 || !n_frames) {
        mslam_error("%s: %s is NULL", fn, !model ? "model" : !utf8 ? "text" : "n_frames");
        return NULL;
    }
    *n_frames = 0;
    /* text is encoded with full context (as the trainer's text objectives see it): the chunk
     * params are checked, as for speech, and not used */
    struct mslam_encode_params ep = params ? *params : mslam_encode_default_params();
    if (check_encode_params(&ep, fn)) return NULL;
    int L = 0;
    int *ids = mslam_model_text_ids(model, utf8, &L, fn);
    if (!ids) return NULL;
    if (L == 0) {
        free(ids);
        return mslam_calloc(1, sizeof(float), "encoder frames");
    }
    mslam_model_use_threads(model, ep.n_threads);
    mslam_abort abort = {ep.abort_callback, ep.abort_callback_user_data, fn, 0};
    mslam_encoder_pass pass = {.vk = model->vk, .abort = &abort};
    float *out = NULL;
    if (mslam_encoder_text_forward(&pass, &model->cfg, &model->p, ids, &L, 1, L, 0) == 0)
        out = take_output(&pass, model->cfg.d_model, n_frames);
    mslam_encoder_pass_free(&pass);
    free(ids);
    return out;
}

float *mslam_encode_text(mslam_model *model, const char *utf8, const struct mslam_encode_params *params,
                         int *n_frames) {
    return mslam_encode_text_as(model, utf8, params, n_frames, "mslam_encode_text");
}
