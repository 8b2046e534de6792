/* Parameters of a model about to be trained: a fresh initialisation, or a copy of what an
 * existing model or checkpoint (--init) has in common with it. */
#ifndef MSLAM_TRAINER_INIT_H
#define MSLAM_TRAINER_INIT_H

#include "model.h"

#include <stdint.h>

/* Every parameter from seed alone: matrices and kernels Xavier-uniform (fan-in: all but the
 * first dimension, fan-out: the first), embeddings N(0, 1), LayerNorm scales 1, biases and the
 * relative-position biases 0, feature statistics mean 0 and std 1. */
void model_init_params(mslam_model *m, uint64_t seed);

/* Copies every tensor of src that dst has by name: whole when the shapes agree, the leading rows
 * when only the first dimension differs (a vocabulary or language list that grew or shrank, in
 * the same order). Returns the number of tensors of dst that got nothing (left as they were). */
int model_copy_params(mslam_model *dst, const mslam_model *src);

#endif
