/* Heads on the encoder output: CTC over the vocabulary (speech recognition) and a pooled
 * classifier over the languages (language identification).
 *
 * Training API (used by the trainer): each *_loss call runs forward, loss and, when asked,
 * backward for a batch of encoder outputs. Losses are SUMS over what counted (items for CTC and
 * LID); out->n_* give the counts the caller normalises by. Gradients are scale * d(sum)/d(...)
 * and ACCUMULATE (+=) into G (a gradient mslam_params) and denc, as every backward of ops.h.
 *
 * Shapes: B items, T padded frames, d = d_model, V = vocab_size, N = n_langs; enc (B, T, d) is
 * the encoder output (rows at or beyond lens[b] are ignored). */
#ifndef MSLAM_HEADS_H
#define MSLAM_HEADS_H

#include "arena.h"
#include "params.h"

/* Id of the CTC blank (checked at model load: vocab entry 0 is "<blank>"). */
#define CTC_BLANK 0

/* Reusable buffers of the head losses: zero-initialise, reuse across calls (grown when a batch
 * needs more), release with head_work_free. One per thread. */
typedef struct {
    arena arena;
    float *logits, *logp, *dlogp, *dlogits; /* CTC (T, V): one item at a time; LID (B, N) */
    float *pooled, *dpooled;                /* LID (B, d) */
    int *labels;                            /* LID (B): -1 for items that do not count */
    double *ctc_scratch;                    /* ctc_scratch_size of the longest item */
} head_work;

void head_work_free(head_work *w);

/* What a loss call counted (also used by decoder_loss). */
typedef struct {
    double loss;   /* sum of the counted items' (decoder: tokens') losses, unscaled */
    int n_items;   /* items that counted */
    int n_tokens;  /* decoder: target tokens that counted (end of sentence included); else 0 */
    int n_skipped; /* items left out: CTC targets that cannot fit in their frames (or no frames),
                    * LID items without frames; they add nothing to the loss or gradients */
} head_loss;

/* CTC head: log_probs = log_softmax(enc W^T + b) over V, loss_b = -log p(targets_b | enc_b).
 * targets: the items' character ids concatenated (sum of target_lens), each in [1, V) (0 is the
 * blank); target_lens (B) >= 0. An item whose targets need more frames than lens[b] (each label
 * one frame, plus one between equal neighbours) is skipped and counted in out->n_skipped.
 * G, denc: NULL for no backward (G->ctc_w, ctc_b and denc (B, T, d) are accumulated).
 * Returns 0, or -1 for invalid input (error recorded). */
int ctc_head_loss(head_work *w, const struct mslam_model_config *cfg, const mslam_params *P,
                  mslam_params *G, const float *enc, const int *lens, int B, int T,
                  const int *targets, const int *target_lens, float scale, float *denc,
                  head_loss *out);

/* Inference: enc (n, d) -> log_probs (n, V) = log_softmax(enc W^T + b); logits (n, V) scratch. */
void ctc_head_log_probs(float *log_probs, float *logits, const float *enc, int n,
                        const struct mslam_model_config *cfg, const mslam_params *P);

/* LID head: pooled_b = mean of enc_b's first lens[b] frames; logits_b = pooled_b W^T + b over the
 * N languages; loss_b = cross-entropy with label smoothing (ops.h cross_entropy) against
 * langs[b] in [0, N), or -1 for an item without a language label (not counted). Items without
 * frames are skipped (out->n_skipped). G->lid_w, lid_b and denc accumulate as above. */
int lid_head_loss(head_work *w, const struct mslam_model_config *cfg, const mslam_params *P,
                  mslam_params *G, const float *enc, const int *lens, int B, int T,
                  const int *langs, float label_smoothing, float scale, float *denc, head_loss *out);

/* Inference: enc (n, d), n > 0 -> logits (N) of the mean frame; pooled (d) scratch. */
void lid_head_logits(float *logits, float *pooled, const float *enc, int n,
                     const struct mslam_model_config *cfg, const mslam_params *P);

#endif
