#include "pretrain.h"

#include "common.h"
#include "data.h"
#include "encoder.h"
#include "ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* purposes of rng_for */
enum {
    RNG_SPEECH_MASK = 0x3a51,
    RNG_TEXT_MASK = 0x3a52,
    RNG_GUMBEL = 0x3a53,
    RNG_DISTRACTORS = 0x3a54,
    RNG_RANDOM_QUANTIZER = 0x3a55
};

static uint64_t item_key(const int *keys, int b) { return keys ? (uint64_t)keys[b] : (uint64_t)b; }

int pretrain_mask_speech(unsigned char *masked, const int *lens, int B, int T, float p_start, int span,
                         uint64_t seed, const int *keys) {
    memset(masked, 0, (size_t)B * T);
    int total = 0;
    for (int b = 0; b < B; b++) {
        int len = lens[b] < T ? lens[b] : T, count = 0;
        if (len < 2) continue; /* no distractor to tell its code from */
        unsigned char *m = masked + (size_t)b * T;
        mslam_rng rng;
        rng_for(&rng, seed, RNG_SPEECH_MASK, item_key(keys, b), 0);
        for (int t = 0; t < len; t++)
            if (mslam_rng_uniform(&rng) < p_start)
                for (int k = t; k < t + span && k < len; k++) m[k] = 1;
        for (int t = 0; t < len; t++) count += m[t];
        while (count < 2) {
            int t = (int)(mslam_rng_u32(&rng) % (uint32_t)len);
            if (!m[t]) m[t] = 1, count++;
        }
        total += count;
    }
    return total;
}

int pretrain_mask_text(unsigned char *masked, const int *lens, int B, int L, float ratio, int max_span,
                       uint64_t seed, const int *keys) {
    memset(masked, 0, (size_t)B * L);
    int total = 0;
    if (max_span < 1) max_span = 1;
    for (int b = 0; b < B; b++) {
        int len = lens[b] < L ? lens[b] : L, count = 0;
        if (len < 1) continue;
        unsigned char *m = masked + (size_t)b * L;
        int want = (int)lrintf(ratio * (float)len);
        want = want < 1 ? 1 : want > len ? len : want;
        mslam_rng rng;
        rng_for(&rng, seed, RNG_TEXT_MASK, item_key(keys, b), 0);
        for (int tries = 0; count < want && tries < 64 * len; tries++) {
            /* geometric span length, p = 0.2 (SpanBERT), clipped */
            float u = mslam_rng_uniform(&rng);
            int span = 1 + (int)floorf(logf(1.0f - u) / logf(0.8f));
            span = span > max_span ? max_span : span;
            span = span > want - count ? want - count : span;
            span = span < 1 ? 1 : span;
            int start = (int)(mslam_rng_u32(&rng) % (uint32_t)(len - span + 1));
            for (int t = start; t < start + span; t++) count += !m[t], m[t] = 1;
        }
        for (int t = 0; t < len && count < want; t++) count += !m[t], m[t] = 1;
        total += count;
    }
    return total;
}

w2v_bert_config w2v_bert_default_config(void) {
    return (w2v_bert_config){.gumbel_tau = 2.0f, .kappa = 0.1f, .distractors = 100};
}

void pretrain_work_free(pretrain_work *w) {
    arena_release(&w->arena);
    memset(w, 0, sizeof *w);
}

/* Hands out the buffers of one call (M rows of width d, K classes: codes or characters, B items,
 * S candidates); with a counting arena only sizes them. */
static void plan_work(pretrain_work *w, arena *ar, size_t M, int d, int K, int B, int S) {
    size_t md = M * d, mk = M * K;
    w->logits = arena_take(ar, mk), w->probs = arena_take(ar, mk), w->soft = arena_take(ar, mk);
    w->dsoft = arena_take(ar, mk), w->dlogits = arena_take(ar, mk);
    w->mlm_logits = arena_take(ar, mk), w->dmlm_logits = arena_take(ar, mk);
    w->avg = arena_take(ar, (size_t)K), w->davg = arena_take(ar, (size_t)K);
    w->quant_in = arena_take(ar, md), w->ctx = arena_take(ar, md), w->dctx = arena_take(ar, md);
    w->q = arena_take(ar, md), w->dq = arena_take(ar, md), w->rows = arena_take(ar, md), w->drows = arena_take(ar, md);
    w->ln_mean = arena_take(ar, M), w->ln_rstd = arena_take(ar, M);
    w->ones = arena_take(ar, (size_t)d), w->zeros = arena_take(ar, (size_t)d);
    w->sims = arena_take(ar, (size_t)S);
    /* ints in the float block, as heads.c's: it is malloc'd, its elements take the stored type */
    w->codes = (int *)arena_take(ar, M), w->row_of = (int *)arena_take(ar, M);
    w->cand = (int *)arena_take(ar, (size_t)S), w->item_first = (int *)arena_take(ar, (size_t)B + 1);
}

static int work_setup(pretrain_work *w, int M, int d, int K, int B, int S) {
    size_t rows = (size_t)(M > 0 ? M : 1);
    arena counter = {0};
    plan_work(w, &counter, rows, d, K, B, S);
    w->arena.used = counter.used;
    if (counter.used > w->arena.size && arena_commit(&w->arena, "the pre-training losses")) return -1;
    w->arena.used = 0;
    plan_work(w, &w->arena, rows, d, K, B, S);
    return 0;
}

/* row_of[m]: the m-th masked valid row, item by item; item_first[b] .. item_first[b + 1]: item b's.
 * Returns M. */
static int gather_masked(int *row_of, int *item_first, const unsigned char *masked, const int *lens, int B, int T) {
    int M = 0;
    for (int b = 0; b < B; b++) {
        item_first[b] = M;
        for (int t = 0; t < lens[b] && t < T; t++)
            if (masked[(size_t)b * T + t]) row_of[M++] = b * T + t;
    }
    item_first[B] = M;
    return M;
}

static int count_masked(const unsigned char *masked, const int *lens, int B, int T) {
    int M = 0;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < lens[b] && t < T; t++) M += masked[(size_t)b * T + t] != 0;
    return M;
}

static void gather_rows(float *dst, const float *src, const int *row_of, int M, int d) {
    for (int m = 0; m < M; m++) memcpy(dst + (size_t)m * d, src + (size_t)row_of[m] * d, (size_t)d * sizeof(float));
}

static void scatter_add_rows(float *dst, const float *src, const int *row_of, int M, int d) {
    for (int m = 0; m < M; m++) add_scaled(dst + (size_t)row_of[m] * d, dst + (size_t)row_of[m] * d,
                                           src + (size_t)m * d, 1.0f, (size_t)d);
}

static int argmax(const float *x, int n) {
    int best = 0;
    for (int i = 1; i < n; i++) best = x[i] > x[best] ? i : best;
    return best;
}

static float norm_of(const float *x, int d) {
    double s = 0;
    for (int i = 0; i < d; i++) s += (double)x[i] * x[i];
    return (float)sqrt(s);
}

#define COS_EPS 1e-6f

/* cos(a, b) = a.b / (|a| |b|); da += g dcos/da, db += g dcos/db (norms floored at COS_EPS). */
static float cosine(const float *a, const float *b, int d) {
    double dot = 0;
    for (int i = 0; i < d; i++) dot += (double)a[i] * b[i];
    float na = fmaxf(norm_of(a, d), COS_EPS), nb = fmaxf(norm_of(b, d), COS_EPS);
    return (float)(dot / ((double)na * nb));
}

static void cosine_backward(float *da, float *db, const float *a, const float *b, int d, float g) {
    float na = fmaxf(norm_of(a, d), COS_EPS), nb = fmaxf(norm_of(b, d), COS_EPS), c = cosine(a, b, d);
    for (int i = 0; i < d; i++) {
        da[i] += g * (b[i] / (na * nb) - c * a[i] / (na * na));
        db[i] += g * (a[i] / (na * nb) - c * b[i] / (nb * nb));
    }
}

/* out->codes_used, n_items: the distinct codes of each item's masked frames, the items with any */
static void count_codes_used(const pretrain_work *w, int B, w2v_bert_loss *out) {
    for (int b = 0; b < B; b++) {
        int first = w->item_first[b], count = w->item_first[b + 1] - first;
        for (int m = first; m < first + count; m++) {
            int seen = 0;
            for (int j = first; j < m && !seen; j++) seen = w->codes[j] == w->codes[m];
            out->codes_used += !seen;
        }
        out->n_items += count > 0;
    }
}

/* exp(entropy) of the distribution avg (K) */
static double perplexity_of(const float *avg, int K) {
    double H = 0;
    for (int k = 0; k < K; k++)
        if (avg[k] > 0) H -= (double)avg[k] * log(avg[k]);
    return exp(H);
}

/* Given codes: their perplexity over the M masked frames (of the one-hot mean) and use. */
static void given_codes_stats(pretrain_work *w, int M, int K, int B, w2v_bert_loss *out) {
    for (int k = 0; k < K; k++) w->avg[k] = 0;
    for (int m = 0; m < M; m++) w->avg[w->codes[m]] += 1.0f / (float)M;
    out->perplexity = perplexity_of(w->avg, K);
    count_codes_used(w, B, out);
}

/* Masked prediction of the M masked frames' code ids (w->codes) from the top's rows. */
static int mlm_loss(pretrain_work *w, int d, int K, const mslam_params *P, mslam_params *G, const float *top, int M,
                    float mlm_scale, float *dtop, w2v_bert_loss *out) {
    gather_rows(w->rows, top, w->row_of, M, d);
    linear_forward(w->mlm_logits, w->rows, P->pt_mlm_w, P->pt_mlm_b, M, d, K);
    if (dtop) memset(w->dmlm_logits, 0, (size_t)M * K * sizeof(float));
    out->mlm = cross_entropy(dtop ? w->dmlm_logits : NULL, w->mlm_logits, w->codes, M, K, 0.0f, -1, mlm_scale, NULL);
    for (int m = 0; m < M; m++) out->mlm_correct += argmax(w->mlm_logits + (size_t)m * K, K) == w->codes[m];
    if (dtop) {
        memset(w->drows, 0, (size_t)M * d * sizeof(float));
        linear_backward(w->drows, G->pt_mlm_w, G->pt_mlm_b, w->dmlm_logits, w->rows, P->pt_mlm_w, M, d, K);
        scatter_add_rows(dtop, w->drows, w->row_of, M, d);
    }
    out->n_masked = M;
    return 0;
}

int w2v_bert_loss_compute(pretrain_work *w, const struct mslam_model_config *cfg, const mslam_params *P,
                          mslam_params *G, const w2v_bert_config *c, const float *features, const float *context,
                          const float *top, const unsigned char *masked, const int *lens, int B, int T,
                          uint64_t seed, const int *keys, float contrastive_scale, float diversity_scale,
                          float mlm_scale, float *dcontext, float *dtop, w2v_bert_loss *out) {
    memset(out, 0, sizeof *out);
    const int d = cfg->d_model, K = cfg->n_codes, S = 1 + (c->distractors > 0 ? c->distractors : 1);
    if (K <= 0) return mslam_error("w2v-BERT needs a model with the pre-training tensors (n_codes > 0)");
    if (!(c->gumbel_tau > 0) || !(c->kappa > 0))
        return mslam_error("w2v-BERT: the Gumbel temperature (%g) and kappa (%g) must be positive", c->gumbel_tau,
                           c->kappa);
    if (!c->codes && !dcontext != !dtop)
        return mslam_error("w2v-BERT: dcontext and dtop are both given (backward) or neither");
    int backward = dcontext != NULL;
    if (work_setup(w, count_masked(masked, lens, B, T), d, K, B, S)) return -1;
    const int M = gather_masked(w->row_of, w->item_first, masked, lens, B, T);
    if (M == 0) return 0;

    if (c->codes) {
        for (int m = 0; m < M; m++) {
            w->codes[m] = c->codes[w->row_of[m]];
            if (w->codes[m] < 0 || w->codes[m] >= K)
                return mslam_error("w2v-BERT: given code %d of row %d is outside 0..%d", w->codes[m], w->row_of[m],
                                   K - 1);
        }
        given_codes_stats(w, M, K, B, out);
        return mlm_loss(w, d, K, P, G, top, M, mlm_scale, dtop, out);
    }

    /* quantizer: logits (M, K) of the unmasked features, each standardised (as wav2vec 2.0's
     * LayerNorm before it, without parameters: the features get no gradient here); Gumbel-softmax,
     * hard code */
    gather_rows(w->rows, features, w->row_of, M, d);
    for (int i = 0; i < d; i++) w->ones[i] = 1, w->zeros[i] = 0;
    layernorm_forward(w->quant_in, w->ln_mean, w->ln_rstd, w->rows, w->ones, w->zeros, M, d);
    linear_forward(w->logits, w->quant_in, P->pt_quant_w, P->pt_quant_b, M, d, K);
    memcpy(w->probs, w->logits, (size_t)M * K * sizeof(float));
    softmax_forward(w->probs, w->probs, M, K);
    for (int b = 0; b < B; b++)
        for (int m = w->item_first[b]; m < w->item_first[b + 1]; m++) {
            mslam_rng rng;
            rng_for(&rng, seed, RNG_GUMBEL, item_key(keys, b), (uint64_t)(w->row_of[m] - b * T));
            float *s = w->soft + (size_t)m * K;
            const float *l = w->logits + (size_t)m * K;
            for (int k = 0; k < K; k++) {
                float u = mslam_rng_uniform(&rng);
                u = u < 1e-7f ? 1e-7f : u;
                s[k] = (l[k] - logf(-logf(u))) / c->gumbel_tau;
            }
        }
    softmax_forward(w->soft, w->soft, M, K);
    for (int m = 0; m < M; m++) {
        w->codes[m] = argmax(w->soft + (size_t)m * K, K);
        memcpy(w->q + (size_t)m * d, P->pt_codebook + (size_t)w->codes[m] * d, (size_t)d * sizeof(float));
    }

    /* contrastive: projected context against the item's codes */
    gather_rows(w->rows, context, w->row_of, M, d);
    linear_forward(w->ctx, w->rows, P->pt_ctx_w, P->pt_ctx_b, M, d, d);
    if (backward) {
        memset(w->dctx, 0, (size_t)M * d * sizeof(float));
        memset(w->dq, 0, (size_t)M * d * sizeof(float));
        memset(w->dsoft, 0, (size_t)M * K * sizeof(float));
        memset(w->dlogits, 0, (size_t)M * K * sizeof(float));
    }
    for (int b = 0; b < B; b++) {
        int first = w->item_first[b], count = w->item_first[b + 1] - first;
        if (count < 2) continue;
        for (int m = first; m < first + count; m++) {
            mslam_rng rng;
            rng_for(&rng, seed, RNG_DISTRACTORS, item_key(keys, b), (uint64_t)(w->row_of[m] - b * T));
            w->cand[0] = m;
            for (int j = 1; j < S; j++) { /* another of the item's masked frames */
                int r = first + (int)(mslam_rng_u32(&rng) % (uint32_t)(count - 1));
                w->cand[j] = r >= m ? r + 1 : r;
            }
            const float *a = w->ctx + (size_t)m * d;
            float top_sim = -INFINITY;
            for (int j = 0; j < S; j++) {
                /* a distractor with the frame's own code is the same vector: left out (wav2vec 2.0) */
                int same = j > 0 && w->codes[w->cand[j]] == w->codes[m];
                w->sims[j] = same ? -INFINITY : cosine(a, w->q + (size_t)w->cand[j] * d, d) / c->kappa;
                top_sim = w->sims[j] > top_sim ? w->sims[j] : top_sim;
            }
            double sum = 0;
            for (int j = 0; j < S; j++) sum += exp((double)w->sims[j] - top_sim);
            double lse = top_sim + log(sum);
            out->contrastive += lse - w->sims[0];
            if (!backward || contrastive_scale == 0) continue;
            for (int j = 0; j < S; j++) {
                float p = (float)exp((double)w->sims[j] - lse), g = (p - (j == 0)) * contrastive_scale / c->kappa;
                if (p == 0 && j > 0) continue;
                cosine_backward(w->dctx + (size_t)m * d, w->dq + (size_t)w->cand[j] * d, a,
                                w->q + (size_t)w->cand[j] * d, d, g);
            }
        }
    }

    /* diversity over every masked frame of the call: (K - exp(H(their mean softmax))) / K */
    for (int k = 0; k < K; k++) w->avg[k] = 0;
    for (int m = 0; m < M; m++)
        for (int k = 0; k < K; k++) w->avg[k] += w->probs[(size_t)m * K + k] / (float)M;
    double ppl = perplexity_of(w->avg, K);
    out->diversity = (K - ppl) / K;
    out->perplexity = ppl;
    if (backward && diversity_scale != 0) {
        for (int k = 0; k < K; k++) /* d/davg of (K - exp(H)) / K = exp(H) (log avg + 1) / K */
            w->davg[k] = w->avg[k] > 0 ? (float)(diversity_scale * ppl * (log(w->avg[k]) + 1.0) / K / M) : 0;
        for (int m = 0; m < M; m++) memcpy(w->dsoft + (size_t)m * K, w->davg, (size_t)K * sizeof(float));
    }
    count_codes_used(w, B, out);
    if (backward) {
        /* the diversity's gradient through the noise-free softmax; dsoft then holds the codes' */
        softmax_backward(w->dlogits, w->dsoft, w->probs, M, K);
        memset(w->dsoft, 0, (size_t)M * K * sizeof(float));
        /* straight-through: q = sum_k y_k codebook_k with y the hard one-hot forward, soft backward */
        mslam_sgemm(0, 1, M, K, d, 1.0f, w->dq, d, P->pt_codebook, d, 0.0f, w->dsoft, K);
        for (int m = 0; m < M; m++)
            add_scaled(G->pt_codebook + (size_t)w->codes[m] * d, G->pt_codebook + (size_t)w->codes[m] * d,
                       w->dq + (size_t)m * d, 1.0f, (size_t)d);
        for (size_t i = 0; i < (size_t)M * K; i++) w->dsoft[i] /= c->gumbel_tau;
        softmax_backward(w->dlogits, w->dsoft, w->soft, M, K);
        linear_backward(NULL, G->pt_quant_w, G->pt_quant_b, w->dlogits, w->quant_in, P->pt_quant_w, M, d, K);
        if (dcontext) {
            gather_rows(w->rows, context, w->row_of, M, d);
            memset(w->drows, 0, (size_t)M * d * sizeof(float));
            linear_backward(w->drows, G->pt_ctx_w, G->pt_ctx_b, w->dctx, w->rows, P->pt_ctx_w, M, d, d);
            scatter_add_rows(dcontext, w->drows, w->row_of, M, d);
        }
    }

    return mlm_loss(w, d, K, P, G, top, M, mlm_scale, dtop, out);
}

int spanbert_loss_compute(pretrain_work *w, const struct mslam_model_config *cfg, const mslam_params *P,
                          mslam_params *G, const float *top, const int *ids, const unsigned char *masked,
                          const int *lens, int B, int L, float scale, float *dtop, double *loss, int *n,
                          double *correct) {
    const int d = cfg->d_model, V = cfg->vocab_size;
    *loss = 0, *n = 0, *correct = 0;
    if (cfg->n_codes <= 0) return mslam_error("SpanBERT needs a model with the pre-training tensors (n_codes > 0)");
    if (work_setup(w, count_masked(masked, lens, B, L), d, V, B, 2)) return -1;
    const int M = gather_masked(w->row_of, w->item_first, masked, lens, B, L);
    if (M == 0) return 0;
    for (int m = 0; m < M; m++) {
        w->codes[m] = ids[w->row_of[m]];
        if (w->codes[m] < 0 || w->codes[m] >= V)
            return mslam_error("SpanBERT: character id %d is outside the vocabulary (0..%d)", w->codes[m], V - 1);
    }
    gather_rows(w->rows, top, w->row_of, M, d);
    linear_forward(w->mlm_logits, w->rows, P->pt_text_w, P->pt_text_b, M, d, V);
    if (dtop) memset(w->dmlm_logits, 0, (size_t)M * V * sizeof(float));
    *loss = cross_entropy(dtop ? w->dmlm_logits : NULL, w->mlm_logits, w->codes, M, V, 0.0f, -1, scale, NULL);
    for (int m = 0; m < M; m++) *correct += argmax(w->mlm_logits + (size_t)m * V, V) == w->codes[m];
    if (dtop) {
        memset(w->drows, 0, (size_t)M * d * sizeof(float));
        linear_backward(w->drows, G->pt_text_w, G->pt_text_b, w->dmlm_logits, w->rows, P->pt_text_w, M, d, V);
        scatter_add_rows(dtop, w->drows, w->row_of, M, d);
    }
    *n = M;
    return 0;
}

static const char *const quantizer_names[] = {[MSLAM_QUANTIZER_GUMBEL] = "gumbel", [MSLAM_QUANTIZER_RANDOM] = "random"};

int quantizer_named(const char *name) {
    for (int q = 0; q < (int)(sizeof quantizer_names / sizeof *quantizer_names); q++)
        if (!strcmp(name, quantizer_names[q])) return q;
    return -1;
}

const char *quantizer_name(int quantizer) {
    return quantizer >= 0 && quantizer < (int)(sizeof quantizer_names / sizeof *quantizer_names)
               ? quantizer_names[quantizer]
               : NULL;
}

int random_quantizer_init(random_quantizer *q, int n_mels, int dim, int K, uint64_t seed) {
    memset(q, 0, sizeof *q);
    if (n_mels < 1 || dim < 1 || K < 2)
        return mslam_error("random quantizer: %d mel bins, %d dimensions and %d codes (needs 1, 1 and 2 or more)",
                           n_mels, dim, K);
    int in = RQ_STACK * n_mels;
    q->proj = mslam_malloc((size_t)dim * in * sizeof(float), "the random quantizer's projection");
    q->codebook = mslam_malloc((size_t)K * dim * sizeof(float), "the random quantizer's codebook");
    if (!q->proj || !q->codebook) {
        random_quantizer_free(q);
        return -1;
    }
    q->n_mels = n_mels, q->dim = dim, q->K = K;
    mslam_rng rng;
    rng_for(&rng, seed, RNG_RANDOM_QUANTIZER, 0, 0);
    float scale = 1.0f / sqrtf((float)in);
    for (size_t i = 0; i < (size_t)dim * in; i++) q->proj[i] = scale * mslam_rng_normal(&rng);
    rng_for(&rng, seed, RNG_RANDOM_QUANTIZER, 1, 0);
    for (int k = 0; k < K; k++) {
        float *v = q->codebook + (size_t)k * dim;
        for (int i = 0; i < dim; i++) v[i] = mslam_rng_normal(&rng);
        float n = fmaxf(norm_of(v, dim), COS_EPS);
        for (int i = 0; i < dim; i++) v[i] /= n;
    }
    return 0;
}

void random_quantizer_free(random_quantizer *q) {
    free(q->proj);
    free(q->codebook);
    memset(q, 0, sizeof *q);
}

int random_quantizer_codes(const random_quantizer *q, int *codes, const float *mel, const int *mel_lens, int B,
                           int T_mel, const float *mean, const float *std, const int *lens, int T) {
    const int nm = q->n_mels, in = RQ_STACK * nm;
    for (size_t i = 0; i < (size_t)B * T; i++) codes[i] = -1;
    /* an item's frames at once: stacked (T, in) -> projected (T, dim) -> scores (T, K) */
    float *stacked = mslam_malloc((size_t)T * (in + q->dim + q->K) * sizeof(float), "the random quantizer's frames");
    if (!stacked) return -1;
    float *projected = stacked + (size_t)T * in, *scores = projected + (size_t)T * q->dim;
    for (int b = 0; b < B; b++) {
        int last = (mel_lens[b] < T_mel ? mel_lens[b] : T_mel) - 1, n = lens[b] < T ? lens[b] : T;
        if (last < 0 || n <= 0) continue;
        for (int t = 0; t < n; t++)
            for (int j = 0; j < RQ_STACK; j++) {
                int f = 4 * t + 2 + j;
                f = f > last ? last : f;
                mel_normalise(stacked + (size_t)t * in + j * nm, mel + ((size_t)b * T_mel + f) * nm, 1, nm, mean, std);
            }
        linear_forward(projected, stacked, q->proj, NULL, n, in, q->dim);
        /* the codebook's rows are unit vectors: the largest dot product is the largest cosine */
        linear_forward(scores, projected, q->codebook, NULL, n, q->dim, q->K);
        for (int t = 0; t < n; t++) codes[(size_t)b * T + t] = argmax(scores + (size_t)t * q->K, q->K);
    }
    free(stacked);
    return 0;
}
