/* Self-supervised pre-training objectives (mSLAM: Bapna et al. 2022, arXiv 2202.01374), on a
 * model with the pre-training tensors (config n_codes = K > 0, params.h's pt_*).
 *
 * w2v-BERT (Chung et al. 2021) on speech: spans of the subsampled frames are masked (the
 * encoder's pass->masked); a Gumbel-softmax quantizer turns each masked frame's unmasked
 * features, standardised (mean 0, variance 1, as wav2vec 2.0's LayerNorm before it), into one of
 * K codes; the speech layers' output there, projected, must pick its
 * frame's code vector among distractors drawn from the item's other masked frames (InfoNCE over
 * cosine similarities), a diversity loss keeps the codes in use, and the shared layers' output
 * must predict the code's id (cross-entropy).
 * SpanBERT (Joshi et al. 2020) on characters: spans of characters are masked and the shared
 * layers' output must predict them.
 *
 * As the heads' losses (heads.h): each returns SUMS (per masked frame or character) that the
 * caller normalises by counts over the whole step, so that any split of a batch into processes
 * and micro-batches adds up to the same, except the diversity loss: one value per call, over the
 * call's masked frames (as wav2vec 2.0's, per device batch: a mean code distribution over one
 * utterance's few dozen frames cannot be both flat and made of confident codes, so a per-item
 * diversity kept the codes' logits flat and the contrastive loss at chance); gradients are
 * scale x d(sum)/d(...) and
 * ACCUMULATE into G and the d* buffers. Random draws (masks, Gumbel noise, distractors) are
 * functions of (seed, the item's key, the frame), not of the item's place in a micro-batch.
 *
 * Shapes: B items, T padded frames (L characters), d = d_model, n = B*T rows; rows at or beyond
 * lens[b] never count. */
#ifndef MSLAM_TRAINER_PRETRAIN_H
#define MSLAM_TRAINER_PRETRAIN_H

#include "arena.h"
#include "params.h"

#include <stdint.h>

/* w2v-BERT's masking (wav2vec 2.0's): each of an item's frames starts a span of `span` frames
 * with probability p_start; spans overlap and stop at the item's length. An item of at least 2
 * frames gets at least 2 masked (a positive and a distractor). masked (B*T) is written whole.
 * Returns the number of masked frames. */
int pretrain_mask_speech(unsigned char *masked, const int *lens, int B, int T, float p_start, int span,
                         uint64_t seed, const int *keys);

/* SpanBERT's masking: spans of geometric length (p = 0.2, at most max_span) at random places,
 * until ratio of the item's characters (at least one) are masked. Returns the number masked. */
int pretrain_mask_text(unsigned char *masked, const int *lens, int B, int L, float ratio, int max_span,
                       uint64_t seed, const int *keys);

typedef struct {
    float gumbel_tau;  /* Gumbel-softmax temperature (the caller anneals it: 2 -> 0.5) */
    float kappa;       /* contrastive temperature (0.1) */
    int distractors;   /* per masked frame, drawn with replacement from the item's others (100) */
    /* NULL: the Gumbel-softmax quantizer's codes. Else (B*T) each frame's code, given (BEST-RQ's
     * random_quantizer_codes): no quantizer, contrastive or diversity loss; the shared layers
     * predict these codes, and perplexity and codes_used describe them */
    const int *codes;
} w2v_bert_config;

w2v_bert_config w2v_bert_default_config(void);

typedef struct {
    double contrastive;  /* sum over masked frames of -log p(own code | distractors) */
    double diversity;    /* (K - perplexity of the masked frames' mean code distribution) / K */
    double mlm;          /* sum over masked frames of -log p(code id) from the shared layers */
    double mlm_correct;  /* masked frames whose code id the MLM head ranks first */
    double codes_used;   /* sum over items of the distinct codes their masked frames got */
    double perplexity;   /* exp(entropy of the masked frames' mean code distribution) */
    int n_masked, n_items; /* masked frames; items with masked frames */
} w2v_bert_loss;

/* Reusable buffers: zero-initialise, release with pretrain_work_free. M masked rows, K classes
 * (codes, or characters for SpanBERT), S = 1 + distractors candidates; one arena, grown when a
 * call needs more (heads.h's head_work). */
typedef struct {
    arena arena;
    float *logits, *probs, *soft, *dsoft, *dlogits; /* (M, K): code logits, softmax, Gumbel-softmax */
    float *avg, *davg;                              /* (K) the mean code distribution */
    float *quant_in;                                /* (M, d) the quantizer's input, standardised */
    float *ln_mean, *ln_rstd, *ones, *zeros;        /* (M), (M), (d), (d): its LayerNorm */
    float *ctx, *dctx, *q, *dq;                     /* (M, d) projected context, code vectors */
    float *mlm_logits, *dmlm_logits;                /* (M, K) */
    float *rows, *drows;                            /* (M, d) gathered rows */
    float *sims;                                    /* (S) */
    int *codes, *row_of, *cand, *item_first;        /* (M), (M), (S), (B + 1) */
} pretrain_work;

void pretrain_work_free(pretrain_work *w);

/* --quantizer's names of enum mslam_quantizer: "gumbel", "random"; -1 / NULL for others. */
int quantizer_named(const char *name);
const char *quantizer_name(int quantizer);

/* BEST-RQ's quantizer (Chiu et al. 2022, arXiv 2202.01855): the targets come from the input, not
 * from what the encoder learns. A subsampled frame's log-mel frames under the middle of its
 * receptive field (RQ_STACK of them, standardised with the model's statistics and stacked) go
 * through a fixed random projection to dim; its code is the nearest (largest cosine) of K fixed
 * random unit vectors. Nothing here is trained, so the codes cannot collapse and a step's targets
 * are the same whatever the encoder has become; a function of the seed alone (the trainer's is
 * fixed), not stored. */
#define RQ_STACK 4
typedef struct {
    int n_mels, dim, K;
    float *proj;     /* (dim, RQ_STACK x n_mels), N(0, 1 / (RQ_STACK x n_mels)) */
    float *codebook; /* (K, dim), unit rows */
} random_quantizer;

int random_quantizer_init(random_quantizer *q, int n_mels, int dim, int K, uint64_t seed);
void random_quantizer_free(random_quantizer *q);
/* codes (B*T): the code of subsampled frame t of item b for t < lens[b], -1 beyond; mel (B, T_mel,
 * n_mels) the raw log-mel, mel_lens its frames; mean and std (n_mels) the model's statistics.
 * Subsampled frame t sees mel frames 4t .. 4t+6 (two 3-wide convolutions of stride 2) and stacks
 * 4t+2 .. 4t+5, the last frame repeated past mel_lens[b]. Returns 0, or -1 (out of memory). */
int random_quantizer_codes(const random_quantizer *q, int *codes, const float *mel, const int *mel_lens, int B,
                           int T_mel, const float *mean, const float *std, const int *lens, int T);

/* features (n, d): the speech pass's unmasked subsampler output (pass->features); context (n, d):
 * its speech layers' output; top (n, d): its final output (== context without shared layers).
 * The quantizer's input gets no gradient (the targets do not pull the features; the codes and
 * their logits learn through the contrastive and diversity losses, straight-through). An item
 * with a single masked frame adds no contrastive term. dcontext and
 * dtop: both NULL for no backward (then G may be NULL), or both given; with c->codes dcontext is
 * unused (may be NULL: nothing reaches the speech layers' output). Returns 0 or -1 (error
 * recorded). */
int w2v_bert_loss_compute(pretrain_work *w, const struct mslam_model_config *cfg, const mslam_params *P,
                          mslam_params *G, const w2v_bert_config *c, const float *features, const float *context,
                          const float *top, const unsigned char *masked, const int *lens, int B, int T,
                          uint64_t seed, const int *keys, float contrastive_scale, float diversity_scale,
                          float mlm_scale, float *dcontext, float *dtop, w2v_bert_loss *out);

/* top (B*L, d): the text pass's output; ids (B*L) the characters before masking. Sums
 * -log p(character) over the masked ones into *loss, their count into *n and the correctly
 * ranked first into *correct. dtop NULL: no backward. */
int spanbert_loss_compute(pretrain_work *w, const struct mslam_model_config *cfg, const mslam_params *P,
                          mslam_params *G, const float *top, const int *ids, const unsigned char *masked,
                          const int *lens, int B, int L, float scale, float *dtop, double *loss, int *n,
                          double *correct);

#endif
