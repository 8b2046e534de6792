/* The mSLAM encoder: speech subsampler, text embedding, Conformer layers; forward and backward.
 *
 * A pass (mslam_encoder_pass) owns one arena holding every activation of a batch. With save = 1
 * each layer keeps its own activations for the backward pass; with save = 0 (inference) one set
 * is reused by all layers.
 *
 * Shapes: B items, T padded frames, n = B*T rows, d = d_model, f = d_ff, R = 2T - 1 relative
 * distances. Frames at or beyond an item's length are zero in every layer's output. */
#ifndef MSLAM_ENCODER_H
#define MSLAM_ENCODER_H

#include "arena.h"
#include "common.h"
#include "ops.h"
#include "params.h"

/* Largest attention chunk of a stream (mslam_stream_new) and of eval's streaming mode, in encoder
 * frames (164 s). */
#define STREAM_MAX_CHUNK_FRAMES 4096

typedef struct {
    float *x_in;                                   /* (n, d) layer input */
    float *ffn1_ln, *ffn1_mean, *ffn1_rstd;        /* (n, d), (n), (n) */
    float *ffn1_h, *ffn1_a;                        /* (n, f) pre- and post-swish */
    float *x1;                                     /* (n, d) after the first half FFN */
    float *attn_ln, *attn_mean, *attn_rstd;
    float *q, *k, *v;                              /* (n, d) (k, v: (Tk, d) when streaming) */
    float *p;                                      /* (R, d) projected relative positions */
    float *probs;                                  /* (B, H, T, Tk) */
    float *att;                                    /* (n, d) attention output before projection */
    float *x2;
    float *conv_ln, *conv_mean, *conv_rstd;
    float *pw1;                                    /* (n, 2d) */
    float *glu;                                    /* (n, d) */
    float *dw;                                     /* (n, d) depthwise conv output */
    float *norm, *norm_mean, *norm_rstd;           /* (n, d), (n), (n) */
    float *sw;                                     /* (n, d) */
    float *x3;
    float *ffn2_ln, *ffn2_mean, *ffn2_rstd, *ffn2_h, *ffn2_a;
    float *x4;                                     /* (n, d) before the output LayerNorm */
    float *out_mean, *out_rstd;
} conformer_layer_acts;

/* Streaming state of one layer (B = 1): keys/values of the visible left context followed by the
 * current chunk's, and the last k-1 depthwise-conv inputs followed by the current chunk's. */
typedef struct {
    float *k, *v;  /* (n_cached + T, d) */
    int n_cached;
    float *conv;   /* (k - 1 + T, d) */
} conformer_layer_state;

typedef enum { ENCODER_SPEECH, ENCODER_TEXT } encoder_input;

/* Residual dropout (training): the output of each residual branch of a layer (the Conformer's two
 * feed-forward modules, attention and convolution; the decoder's self-attention, cross-attention
 * and feed-forward) is dropped with probability p before it joins the stream, its mask drawn by
 * dropout_hashed from (seed, branch), seed being the layer's own (residual_dropout_layer). With
 * keys, each of the batch's n_keys items draws from (seed, branch, its key) over its own rows, so
 * an item's mask depends on its key alone, not on its place in the batch or the padding (the
 * trainer's key: the item's place in the step's global batch); without, the whole buffer draws
 * as one. p 0 (a zeroed struct): none. */
typedef struct {
    float p;
    uint64_t seed;
    const int *keys; /* n_keys, or NULL */
    int n_keys;
} residual_dropout;

/* The dropout of layer `layer` of a pass whose dropout is drop. */
residual_dropout residual_dropout_layer(const residual_dropout *drop, int layer);
/* Drops branch `branch`'s output x (n) under drop (NULL or p 0: nothing); the same call on the
 * gradient of that output is its backward. */
void residual_dropout_apply(float *x, size_t n, const residual_dropout *drop, int branch);
/* The gradient of a branch's output before its dropout, from g (n), the gradient after it: g
 * itself without dropout, else g through the branch's mask, written into buf (n). */
const float *residual_dropout_gradient(float *buf, const float *g, size_t n, const residual_dropout *drop,
                                       int branch);

/* Gradient buffers of the backward pass, (n, d) unless noted. */
typedef struct {
    float *g;         /* running gradient of the residual stream inside a layer */
    float *t1, *t2;
    float *tf1, *tf2; /* (n, f) */
    float *t2d;       /* (n, 2d) */
    float *dq, *dk, *dv;
    float *dp;        /* (R, d) */
    float *dy, *dx;   /* gradient of a layer's output and input */
    float *dc2t, *dc2, *dc1, *dc1_pre, *dmel_norm; /* speech front */
} encoder_grad_work;

typedef struct {
    encoder_input input;
    int B, T, d;
    int *lens;            /* (B) valid frames per item */
    attn_mask mask;
    int save;
    residual_dropout dropout; /* the caller's; applied by passes with save = 1 (training) */
    /* Span masking of pre-training (the caller's, like dropout; save = 1 only; the model needs
     * n_codes > 0): row r of the B x T rows with masked[r] = 1 enters the layers as the mask
     * embedding (speech: pt_speech_mask in place of the subsampler's output; text: pt_text_mask
     * in place of the character's embedding, its position still added), which then gets the
     * rows' gradient. NULL: nothing masked. */
    const unsigned char *masked;
    float *features;      /* speech with masked: (n, d) the subsampler's output before masking */
    /* The caller's, read by mslam_encoder_backward: the gradient (n, d) of the speech layers'
     * output (the shared layers' input, xs[n_speech_layers]), added to what flows back from
     * dout. NULL: none. Speech passes only. */
    const float *d_speech_out;
    int n_layers;         /* layers run: speech + shared, or shared only for text */
    arena arena;
    /* speech front: mel (B, T_mel, n_mels) -> c1 (B, C, T1, F1) -> c2 (B, C, T, F2). An inference
     * pass longer than sub_frames encoder frames runs it one item and sub_frames frames at a time,
     * and these buffers then hold one such piece (mel_norm of mslam_subsampler_window(sub_frames)
     * rows); else sub_frames == T and they hold the whole pass. */
    int T_mel, T1, F1, F2, sub_frames;
    int *mel_lens;
    float *mel_norm, *c1, *c2, *c2t; /* c2t (B, T, C * F2) */
    /* text front: ids (B, T) -> embedding + positions (pre_ln) -> LayerNorm */
    int *ids;
    float *text_pre_ln, *text_mean, *text_rstd;
    float *pe;            /* (R, d) sinusoids of distances -(T-1) .. T-1 */
    conformer_layer_acts *layers; /* n_layers entries (aliases of one set when !save) */
    float **xs;           /* n_layers + 1: layer i reads xs[i], writes xs[i + 1] == out at the end */
    encoder_grad_work work; /* allocated when save */
    float *out;           /* (B, T, d) */
    float *scratch;       /* op scratch (attention, conv2d) */
    size_t scratch_size;
    /* The caller's: when set, forwards with save = 0 run on this Vulkan device (the model's
     * weights uploaded there, backend_vulkan.h), those that fit it (mslam_vk_fits; on_device: the
     * pass then holds only lens and out); the others on the CPU. */
    struct mslam_vk *vk;
    int on_device;
    /* The caller's (NULL: none): asked before each layer, and before a device's pass; when it
     * stops the pass, the forward fails with its error. */
    mslam_abort *abort;
} mslam_encoder_pass;

/* mel (B, T_mel, n_mels) raw log-mel, rows at or beyond mel_lens[b] ignored. mask: chunked
 * attention for the speech frames (NULL: full context). Returns 0 or -1 (error recorded). */
int mslam_encoder_speech_forward(mslam_encoder_pass *pass, const struct mslam_model_config *cfg,
                                 const mslam_params *P, const float *mel, const int *mel_lens,
                                 int B, int T_mel, const attn_mask *mask, int save);
/* ids (B, L) character ids in [0, vocab_size) (rows beyond lens[b] ignored). Full context. */
int mslam_encoder_text_forward(mslam_encoder_pass *pass, const struct mslam_model_config *cfg,
                               const mslam_params *P, const int *ids, const int *lens, int B,
                               int L, int save);
/* The speech layers' output of a speech pass run with save = 1, (B, T, d). */
const float *mslam_encoder_speech_layers_out(const mslam_encoder_pass *pass, const struct mslam_model_config *cfg);
/* Needs a forward with save = 1. dout (B, T, d); ACCUMULATES parameter gradients into G (a
 * second mslam_params bound to a gradient block) and, when dmel is not NULL, the gradient of the
 * raw log-mel (B, T_mel, n_mels). mel_mean and mel_std get no gradient (fixed statistics). */
int mslam_encoder_backward(mslam_encoder_pass *pass, const struct mslam_model_config *cfg,
                           const mslam_params *P, mslam_params *G, const float *dout, float *dmel);
void mslam_encoder_pass_free(mslam_encoder_pass *pass);

/* One Conformer layer on n = B*T rows. With state (B = 1, streaming), keys and values are
 * appended after state->n_cached cached rows and the conv reads state->conv; pe then holds the
 * R = T + n_cached + T - 1 sinusoids of distances -(T-1) .. n_cached + T - 1. */
void conformer_layer_forward(float *y, const float *x, conformer_layer_acts *a,
                             const conformer_layer_params *L, const struct mslam_model_config *cfg,
                             int B, int T, const int *lens, const attn_mask *mask, const float *pe,
                             conformer_layer_state *state, const residual_dropout *drop, float *scratch);

/* Feed-forward module (Conformer half step with scale 0.5, Transformer decoder with 1.0):
 * out (n, d) = x + scale * drop(W2 swish(W1 LN(x) + b1) + b2), drop the dropout of branch
 * `branch` under drop (NULL: none); saves ln (n, d), mean, rstd (n), h and act (n, f) pre- and
 * post-swish; tmp (n, d) scratch. out may alias x. */
void ffn_forward(float *out, const float *x, float *ln, float *mean, float *rstd, float *h, float *act,
                 const float *ln_w, const float *ln_b, const float *w1, const float *b1,
                 const float *w2, const float *b2, int n, int d, int f, float scale,
                 const residual_dropout *drop, int branch, float *tmp);
/* Backward of ffn_forward: g (n, d) holds d(out) on entry and d(x) on return (residual included);
 * ACCUMULATES the parameter gradients; uses w->t1, t2 (n, d) and w->tf1, tf2 (n, f). */
void ffn_backward(float *g, const float *x, const float *ln, const float *mean, const float *rstd,
                  const float *h, const float *act, const float *ln_w, const float *w1, const float *w2,
                  float *dln_w, float *dln_b, float *dw1, float *db1, float *dw2, float *db2, int n,
                  int d, int f, float scale, const residual_dropout *drop, int branch, encoder_grad_work *w);

/* Activation buffers of one layer on B x T rows seeing Tk keys (Tk = T offline); save: for a
 * backward (the attention probabilities, B x H x T x Tk, are kept). Without save probs is NULL and
 * buffers never live at once in conformer_layer_forward share memory: after a forward only its
 * output y is meaningful, not a's buffers. */
void conformer_layer_acts_take(arena *ar, conformer_layer_acts *a, const struct mslam_model_config *cfg,
                               int B, int T, int Tk, int save);

/* Subsampler: raw log-mel (B, T_mel, n_mels) -> x0 (B, T, d), T = mslam_subsampled_frames(T_mel).
 * Buffers: mel_norm (B, T_mel, n_mels), c1 (B, C, T1, F1), c2 and c2t (B, C, T, F2); mel_lens
 * (NULL: all valid) zero the rows beyond each item's length before the convolutions. */
void speech_subsampler_forward(float *x0, float *mel_norm, float *c1, float *c2, float *c2t,
                               const float *mel, const int *mel_lens, const mslam_params *P,
                               const struct mslam_model_config *cfg, int B, int T_mel, float *scratch);
size_t speech_subsampler_scratch_size(const struct mslam_model_config *cfg, int T_mel);

/* Scratch floats for a layer on B x T rows seeing Tk keys. */
size_t conformer_layer_scratch_size(const struct mslam_model_config *cfg, int B, int T, int Tk, int save);

/* The text path's input before its LayerNorm: pre_ln (B, L, d) = embedding of ids (B, L), each in
 * the vocabulary (padding too), + positions (L, d) in every item. */
void text_embed_forward(float *pre_ln, const int *ids, const float *positions, const mslam_params *P, int B,
                        int L, int d);

/* Sets rows t >= lens[b] of x (B, T, d) to zero. */
void zero_padded_rows(float *x, int B, int T, int d, const int *lens);
/* mslam_encode_pcm with its errors naming fn, the public call that encodes (each of its checks
 * once, in one place). */
float *mslam_encode_pcm_as(mslam_model *model, const float *pcm, size_t n_samples,
                           const struct mslam_encode_params *params, int *n_frames, const char *fn);
/* mslam_encode_text likewise. */
float *mslam_encode_text_as(mslam_model *model, const char *utf8, const struct mslam_encode_params *params,
                            int *n_frames, const char *fn);
/* Normalised log-mel rows (n, n_mels): (mel - mean) / std. */
void mel_normalise(float *out, const float *mel, int n, int n_mels, const float *mean, const float *std);

#endif
