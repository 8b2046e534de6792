/* Parameters of a model about to be trained: a fresh initialisation, or a copy of what an
 * existing model or checkpoint (--init) has in common with it. */
#ifndef MSLAM_TRAINER_INIT_H
#define MSLAM_TRAINER_INIT_H

#include "model.h"

#include <stdint.h>

/* Every parameter from seed alone: matrices and kernels Xavier-uniform (fan-in: all but the
 * first dimension, fan-out: the first), embeddings and the pre-training quantizer N(0, 1),
 * LayerNorm scales 1, biases and the
 * relative-position biases 0, feature statistics mean 0 and std 1.
 * The last projection of each residual branch (feed-forward linear2, attention out, conv pw2)
 * is scaled down by residual_scale, as GPT-2's initialisation: every Conformer block ends in a
 * LayerNorm, so branches as large as the stream would wash the input out over a deep stack. With
 * full-size branches the 12-layer default model sat on the CTC plateau (loss 3.03 per character
 * after 400 steps on 4 languages); scaled, it left it after about 100 steps (1.69 at step 325). */
void model_init_params(mslam_model *m, uint64_t seed);
/* 1 / sqrt(2 x layers) for the last projection of a residual branch (encoder layers for encoder
 * tensors, decoder layers for decoder ones); 1 for every other tensor. */
float residual_scale(const struct mslam_model_config *cfg, const char *name);

/* Copies every tensor of src that dst has by name. A tensor over the characters (text embedding,
 * CTC head, decoder embedding and output, SpanBERT's head) by character: each row of dst from
 * src's row of the same character, a character src lacks left as it was; any other tensor whole
 * when the shapes agree, its leading rows when only the first dimension differs (a language list
 * that grew or shrank, in the same order), except a tensor over the pre-training codes, copied
 * only for the same number of codes. A tensor whose name starts with one of fresh (NULL-ended;
 * NULL: none) is not copied. Returns the number of tensors of dst that got nothing, not every row
 * (the others left as they were), or only some of src's rows. */
int model_copy_params(mslam_model *dst, const mslam_model *src, const char *const *fresh);

#endif
