/* Transformer decoder for speech translation (pre-LN, character targets), on the encoder output.
 *
 *   y_in = [BOS, t1 .. tn]  ->  x = decoder.embed[y_in] + sinusoid(position 0 ..)
 *   per layer:  x += SelfAttn(LN(x))         causal, over the item's own positions
 *               x += CrossAttn(LN(x), enc)   keys and values: projections of the encoder frames
 *               x += W2 swish(W1 LN(x) + b1) + b2
 *   logits = decoder.ln(x) . decoder.out.weight^T + decoder.out.bias, predicting [t1 .. tn, EOS].
 *
 * Two ways to run it:
 * - decoder_pass: teacher-forced training over a batch, forward and backward (gradients of every
 *   decoder parameter and of the encoder output), with decoder_loss the usual entry point;
 * - decoder_cache: incremental inference for a search, one position per step for a set of beams,
 *   with the self-attention keys/values of earlier positions cached and the cross-attention
 *   keys/values computed once per utterance.
 *
 * Shapes: B items, T encoder frames (padded), Lt target tokens (padded), L = Lt + 1 decoder
 * positions, n = B*L rows, d = d_model, f = d_ff, H = n_heads, V = vocab_size. */
#ifndef MSLAM_DECODER_H
#define MSLAM_DECODER_H

#include "arena.h"
#include "encoder.h"
#include "heads.h"
#include "params.h"

typedef struct {
    float *self_ln, *self_mean, *self_rstd;    /* (n, d), (n), (n) */
    float *q, *k, *v;                          /* (n, d) */
    float *self_probs;                         /* (B, H, L, L) */
    float *self_att;                           /* (n, d) before the output projection */
    float *x1;                                 /* (n, d) after self-attention */
    float *cross_ln, *cross_mean, *cross_rstd;
    float *cq;                                 /* (n, d) */
    float *ck, *cv;                            /* (B*T, d) projected encoder frames */
    float *cross_probs;                        /* (B, H, L, T) */
    float *cross_att;                          /* (n, d) */
    float *x2;                                 /* (n, d) after cross-attention */
    float *ffn_ln, *ffn_mean, *ffn_rstd;
    float *ffn_h, *ffn_a;                      /* (n, f) pre- and post-swish */
} decoder_layer_acts;

/* One teacher-forced batch. Zero-initialise; reused across calls (grown when a batch needs more);
 * release with decoder_pass_free. */
typedef struct {
    int B, L, T;
    const float *enc;          /* (B, T, d) the caller's encoder output, read again by backward */
    int *enc_lens, *dec_lens;  /* (B); dec_lens[b] = target_lens[b] + 1 */
    int *y_in, *y_out;         /* (B, L): [BOS, t..], [t.., EOS]; padding 0 and -1 (ignored) */
    residual_dropout dropout;  /* the caller's (training; a zeroed struct: none) */
    decoder_layer_acts layers[MSLAM_MAX_LAYERS];
    float *xs[MSLAM_MAX_LAYERS + 1]; /* (n, d): layer i reads xs[i] and writes xs[i + 1] */
    float *ln_out, *ln_mean, *ln_rstd; /* final LayerNorm */
    float *logits;             /* (B, L, V) */
    float *pe;                 /* (L, d) sinusoids of positions 0 .. L-1 */
    float *tmp;                /* (n, d) */
    float *scratch;            /* attention scratch */
    /* backward */
    encoder_grad_work work;    /* g, t1, t2 (n, d); tf1, tf2 (n, f) */
    float *dq, *dk, *dv;       /* (n, d) */
    float *dck, *dcv;          /* (B*T, d) */
    float *dlogits;            /* (B, L, V) */
    arena arena;
} decoder_pass;

/* Teacher-forced forward. enc (B, T, d) with enc_lens (B) valid frames (enc must stay unchanged
 * until decoder_backward); targets (B, Lt) padded token ids, target_lens (B) in 0..Lt, each id
 * in [0, V). Fills p->logits (B, Lt + 1, V). Returns 0 or -1 (error recorded). */
int decoder_forward(decoder_pass *p, const struct mslam_model_config *cfg, const mslam_params *P,
                    int bos, int eos, const float *enc, const int *enc_lens, int B, int T,
                    const int *targets, const int *target_lens, int Lt);

/* After decoder_forward: dlogits (B, L, V) -> ACCUMULATES the decoder parameters' gradients into
 * G (NULL: none) and the encoder output's into denc (B, T, d) (NULL: none). */
void decoder_backward(decoder_pass *p, const struct mslam_model_config *cfg, const mslam_params *P,
                      mslam_params *G, const float *dlogits, float *denc);

/* Forward, label-smoothed cross-entropy over the target tokens and end of sentence (padding
 * ignored), and, when G or denc is not NULL, backward of scale * loss. out->loss sums over
 * tokens; out->n_tokens counts them, out->n_items = B. Returns 0 or -1. */
int decoder_loss(decoder_pass *p, const struct mslam_model_config *cfg, const mslam_params *P,
                 mslam_params *G, int bos, int eos, const float *enc, const int *enc_lens, int B,
                 int T, const int *targets, const int *target_lens, int Lt, float label_smoothing,
                 float scale, float *denc, head_loss *out);

void decoder_pass_free(decoder_pass *p);

/* ---- incremental inference ---- */

/* Zero-initialise; decoder_cache_begin per utterance (buffers are kept and grown), then
 * decoder_cache_step per position; release with decoder_cache_free. */
typedef struct {
    int T, max_beams, cap;     /* encoder frames; beam rows; positions the self cache holds */
    float *cross_kv;           /* (layers, 2, T, d): keys then values of the encoder frames */
    size_t cross_size;         /* floats cross_kv holds */
    float *kv;                 /* (layers, 2, max_beams slots, cap, d): self-attention keys, values */
    int *slot;                 /* (3 max_beams): the slot of each beam; reorder's scratch */
    /* step buffers (in the arena): x, ln, q, k, v, att, tmp (max_beams, d); mean, rstd (max_beams) */
    float *x, *ln, *mean, *rstd, *q, *k, *v, *att, *tmp;
    float *h, *a;              /* (max_beams, f) */
    float *scratch;            /* attention scratch for cap keys */
    arena arena;
} decoder_cache;

/* enc (T, d), T >= 1: precomputes every layer's cross-attention keys and values and empties the
 * self-attention cache. Returns 0 or -1. */
int decoder_cache_begin(decoder_cache *c, const struct mslam_model_config *cfg, const mslam_params *P,
                        const float *enc, int T, int max_beams);

/* tokens (n_beams) at position pos (every beam's earlier positions 0 .. pos-1 are cached) ->
 * logits (n_beams, V) of the next token; caches this position's keys and values. Positions run
 * 0, 1, ... (pos 0 takes BOS). Returns 0 or -1 (out of memory growing the cache). */
int decoder_cache_step(decoder_cache *c, const struct mslam_model_config *cfg, const mslam_params *P,
                       const int *tokens, int n_beams, int pos, float *logits);

/* Beam i continues beam parents[i]: takes over its cached positions 0 .. n_pos-1 (copied only
 * where a beam has several children). */
void decoder_cache_reorder(decoder_cache *c, const struct mslam_model_config *cfg, const int *parents,
                           int n_beams, int n_pos);

void decoder_cache_free(decoder_cache *c);

#endif
