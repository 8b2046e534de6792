/* AdamW over the parameter block, its learning-rate schedule and global-norm clipping.
 *
 * Parameters, gradients and both moments are blocks of the same layout (core/params.h), so the
 * update is one flat loop over the block, run per parameter-table entry only to know whether
 * the entry decays or is frozen. */
#ifndef MSLAM_TRAINER_OPTIM_H
#define MSLAM_TRAINER_OPTIM_H

#include "params.h"

#include <stddef.h>

enum lr_schedule {
    LR_COSINE,       /* linear warm-up, then cosine from lr to lr_min at total_steps */
    LR_INVERSE_SQRT, /* linear warm-up, then lr * sqrt(warmup / step) (never below lr_min) */
    LR_CONSTANT,     /* linear warm-up, then lr */
};

typedef struct {
    float lr, lr_min;
    int warmup_steps;
    long total_steps;
    enum lr_schedule schedule;
    float beta1, beta2, eps;
    float weight_decay; /* decoupled (AdamW); matrices only, see optim_init */
    float clip_norm;    /* global gradient norm limit; <= 0: no clipping */
} optim_config;

optim_config optim_default_config(void);
/* "cosine", "inverse-sqrt", "constant" -> schedule; -1 when unknown. */
int lr_schedule_parse(const char *name);
const char *lr_schedule_name(enum lr_schedule schedule);

/* Learning rate of optimizer step `step` (0-based: the first update is step 0). */
float optim_lr(const optim_config *c, long step);

/* What the update does to one parameter-table entry. */
typedef struct {
    size_t offset, n;
    int decay;  /* weight decay applies */
    int frozen; /* never updated (the feature statistics) */
} optim_segment;

typedef struct {
    optim_config cfg;
    size_t n;          /* floats in the block */
    float *m, *v;      /* first and second moments, block layout */
    long t;            /* updates done (the bias correction's exponent) */
    optim_segment *segments;
    int n_segments;
} adamw;

/* Moments zeroed. Weight decay goes to entries of two or more dimensions (weight matrices,
 * convolution kernels, embeddings) but not to the relative-position biases u and v; the
 * feature statistics frontend.* and the attention key biases *.k.bias (which cannot change any
 * output) are frozen. Returns 0 or -1 (error recorded). */
int adamw_init(adamw *o, const optim_config *cfg, const mslam_param_table *table);
/* Freezes every entry whose name starts with none of prefixes (NULL-terminated): only those
 * train (e.g. "decoder": the translation decoder on a fixed encoder). A frozen entry gets no
 * update, decay included. */
void adamw_train_only(adamw *o, const mslam_param_table *table, const char *const *prefixes);
void adamw_free(adamw *o);

/* Sum of squares of g (n floats) in double precision, in an order that does not depend on the
 * thread count. */
double grad_sq_norm(const float *g, size_t n);

/* One AdamW step: params -= lr (m_hat / (sqrt(v_hat) + eps) + wd params) with gradient
 * grad * grad_scale (grad_scale carries the clipping). Increments o->t. */
void adamw_step(adamw *o, float *params, const float *grad, float lr, float grad_scale);

/* Scale that clipping applies to a gradient of global norm `norm` (1 when within the limit). */
float clip_scale(const optim_config *c, double norm);

#endif
