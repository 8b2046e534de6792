/* CPU kernels: each layer a *_forward / *_backward pair (llm.c style).
 *
 * Conventions
 * - float32, row-major. "n" is a count of rows (for sequences, B*T flattened).
 * - Every backward ACCUMULATES (+=) into each gradient it writes, inputs and parameters alike;
 *   callers zero gradient buffers. A gradient pointer may be NULL: that gradient is skipped.
 * - No allocation inside ops except where a comment says so (scratch comes from the caller).
 * - Large matrix products go to BLAS through mslam_sgemm; small ones and element-wise work are
 *   plain loops (OpenMP where it pays).
 */
#ifndef MSLAM_OPS_H
#define MSLAM_OPS_H

#include <math.h>
#include <stddef.h>
#include <stdint.h>

#define MSLAM_LN_EPS 1e-5f

/* ---- random numbers (dropout, init) ---- */
typedef struct {
    uint64_t s[2];
} mslam_rng;
void mslam_rng_seed(mslam_rng *rng, uint64_t seed);
uint32_t mslam_rng_u32(mslam_rng *rng);
float mslam_rng_uniform(mslam_rng *rng); /* [0, 1) */
float mslam_rng_normal(mslam_rng *rng);  /* N(0, 1) */
/* splitmix64's finaliser: a bijection of 64-bit values whose every output bit depends on every
 * input bit. The trainer's corpus hashes are built on it: it must never change. */
uint64_t mix64(uint64_t x);
/* Mixes two 64-bit values into one (seeds derived from several keys). */
uint64_t hash_mix(uint64_t a, uint64_t b);

/* ---- matrix product ----
 * C (M, N) = alpha * op(A) (M, K) . op(B) (K, N) + beta * C, row-major with leading dimensions.
 * Goes to cblas_sgemm when M*N*K >= MSLAM_BLAS_MIN_WORK, else a plain loop. */
#define MSLAM_BLAS_MIN_WORK (32 * 32 * 32)
void mslam_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc);
/* Threads of the kernels called on this thread: n_threads, or all cores when n_threads <= 0.
 * With OpenMP the kernels start their teams with this count and OpenMP's own setting
 * (omp_get_max_threads) is left alone, so the public API can call it without changing its
 * caller's; BLAS runs serially (one thread pool: ours). Without OpenMP it sets OpenBLAS' count,
 * which is the process's. */
void mslam_use_threads(int n_threads);
/* mslam_use_threads, and OpenMP's count of this thread too: for programs built on the kernels
 * whose own OpenMP loops are to follow (the trainer). */
void mslam_set_threads(int n_threads);
int mslam_get_threads(void); /* the kernels' threads on this thread */

/* ---- linear: y (n, out) = x (n, in) . w^T + b;  w (out, in) as PyTorch, b (out) or NULL ---- */
void linear_forward(float *y, const float *x, const float *w, const float *b, int n, int in, int out);
/* dx (n, in), dw (out, in), db (out) */
void linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                     int n, int in, int out);

/* ---- LayerNorm over the last dim d: x (n, d) -> y (n, d); mean, rstd (n) saved for backward ---- */
void layernorm_forward(float *y, float *mean, float *rstd, const float *x, const float *w,
                       const float *b, int n, int d);
void layernorm_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                        const float *mean, const float *rstd, const float *w, int n, int d);

/* ---- element-wise: x, y (n) ---- */
void swish_forward(float *y, const float *x, size_t n); /* x * sigmoid(x) */
void swish_backward(float *dx, const float *dy, const float *x, size_t n);
void relu_forward(float *y, const float *x, size_t n);
void relu_backward(float *dx, const float *dy, const float *y, size_t n); /* y: forward output */
/* y = a + scale * b (residual with a scale, e.g. the Conformer's half-step FFN); y may alias a */
void add_scaled(float *y, const float *a, const float *b, float scale, size_t n);

/* ---- GLU over the last dim: x (n, 2d) = [a | b] -> y (n, d) = a * sigmoid(b) (torch GLU(dim=-1)) */
void glu_forward(float *y, const float *x, int n, int d);
void glu_backward(float *dx, const float *dy, const float *x, int n, int d);

/* ---- depthwise conv1d over time, channels last ----
 * x (B, T_in, d), w (d, k), b (d) or NULL -> y (B, T_out, d):
 *   y[b, t, c] = b[c] + sum_{j<k} w[c, j] * x[b, t - pad_left + j, c]
 * where rows outside [0, len_b) read as zero; len_b = lengths ? lengths[b] : T_in.
 * Symmetric ("same"): pad_left = (k-1)/2, T_out = T_in.  Causal: pad_left = k-1, T_out = T_in.
 * Streaming with a cache of k-1 rows prepended: pad_left = 0, T_out = T_in - (k-1). */
void dwconv1d_forward(float *y, const float *x, const float *w, const float *b, int B, int T_in,
                      int T_out, int d, int k, int pad_left, const int *lengths);
void dwconv1d_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                       const float *w, int B, int T_in, int T_out, int d, int k, int pad_left,
                       const int *lengths);

/* ---- 2-D convolution, 3x3 stride 2, no padding ("valid"), NCHW as PyTorch ----
 * x (B, C_in, H, W), w (C_out, C_in, 3, 3), b (C_out) -> y (B, C_out, H', W'),
 * H' = (H - 3) / 2 + 1, W' = (W - 3) / 2 + 1. Implemented as im2col + sgemm.
 * scratch: conv2d_scratch_size(...) floats (the im2col matrix of one item). */
size_t conv2d_scratch_size(int C_in, int H, int W);
void conv2d_forward(float *y, const float *x, const float *w, const float *b, int B, int C_in, int H,
                    int W, int C_out, float *scratch);
void conv2d_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                     const float *w, int B, int C_in, int H, int W, int C_out, float *scratch);

/* ---- softmax / log-softmax over the last dim: x, y (n, d) ---- */
void softmax_forward(float *y, const float *x, int n, int d);
void softmax_backward(float *dx, const float *dy, const float *y, int n, int d);
void log_softmax_forward(float *y, const float *x, int n, int d);
void log_softmax_backward(float *dx, const float *dy, const float *y, int n, int d);

/* ---- sinusoidal table: out (n, d), row i for position pos0 + i (pos0 may be negative):
 * out[i, 2m] = sin(p * 10000^(-2m/d)), out[i, 2m+1] = cos(p * 10000^(-2m/d)); d even ---- */
void sinusoid_table(float *out, int pos0, int n, int d);

/* ---- attention mask shared by full-utterance and streaming attention ----
 * Query i (absolute frame q_off + i) sees key j (absolute frame j) iff j < key_len and, when
 * chunk > 0, chunk(j) <= chunk(i) and (left_chunks < 0 or chunk(j) >= chunk(i) - left_chunks),
 * with chunk(t) = t / chunk. causal != 0 adds j <= q_off + i (decoder self-attention). */
typedef struct {
    int chunk;       /* frames per chunk; 0: no chunking */
    int left_chunks; /* < 0: unlimited */
    int causal;
} attn_mask;
int attn_visible(const attn_mask *mask, int q_abs, int j, int key_len);

/* ---- multi-head self-attention core with relative positions (Transformer-XL / Conformer) ----
 * Inputs after the q/k/v projections, heads interleaved in the last dim (h*dh + e):
 *   q (B, Tq, H*dh); k, v (B, Tk, H*dh); Tk >= Tq and query i is absolute frame q_off + i with
 *   q_off = Tk - Tq (the queries are the last Tq key frames; 0 for a full utterance);
 *   p (R, H*dh), R = Tq + Tk - 1: projected embedding of the relative distance
 *     rel(i, j) = (q_off + i) - j, which runs from -(Tq - 1) to Tk - 1; row r holds distance
 *     r - (Tq - 1), so pair (i, j) reads row q_off + i - j + Tq - 1 = Tk - 1 + i - j;
 *   pos_u, pos_v (H, dh): learned biases u (content) and v (position).
 *   score[b,h,i,j] = ((q_i + u_h) . k_j + (q_i + v_h) . p_{rel(i,j)}) / sqrt(dh), masked (see
 *   attn_mask with key_len = key_lens ? key_lens[b] : Tk) -> softmax over j -> probs;
 *   out (B, Tq, H*dh) = probs . v. A query row that sees no key gets zeros.
 * probs (B, H, Tq, Tk) is written for backward; NULL (inference): query rows go in blocks of 64
 * over the keys they see, so memory grows with Tk, not Tq x Tk. scratch: relattn_scratch_size
 * floats (backward: for relattn_backward and a forward with probs). */
size_t relattn_scratch_size(int Tq, int Tk, int H, int dh, int backward);
void relattn_forward(float *out, float *probs, const float *q, const float *k, const float *v,
                     const float *p, const float *pos_u, const float *pos_v, int B, int Tq, int Tk,
                     int H, int dh, const attn_mask *mask, const int *key_lens, float *scratch);
void relattn_backward(float *dq, float *dk, float *dv, float *dp, float *dpos_u, float *dpos_v,
                      const float *dout, const float *probs, const float *q, const float *k,
                      const float *v, const float *p, const float *pos_u, const float *pos_v, int B,
                      int Tq, int Tk, int H, int dh, const attn_mask *mask, const int *key_lens,
                      float *scratch);

/* ---- multi-head attention core without positions (decoder self- and cross-attention) ----
 * q (B, Tq, H*dh); k, v (B, Tk, H*dh); score = q.k / sqrt(dh), masked with attn_mask
 * (q_off = 0 for cross-attention; causal for decoder self-attention), softmax, out = probs . v. */
size_t attn_scratch_size(int Tq, int Tk, int H, int dh);
void attn_forward(float *out, float *probs, const float *q, const float *k, const float *v, int B,
                  int Tq, int Tk, int H, int dh, int q_off, const attn_mask *mask,
                  const int *key_lens, float *scratch);
void attn_backward(float *dq, float *dk, float *dv, const float *dout, const float *probs,
                   const float *q, const float *k, const float *v, int B, int Tq, int Tk, int H,
                   int dh, int q_off, const attn_mask *mask, const int *key_lens, float *scratch);

/* ---- embedding: ids (n) into table (V, d) -> y (n, d); ids must be in [0, V) ---- */
void embedding_forward(float *y, const int *ids, const float *table, int n, int d);
void embedding_backward(float *dtable, const float *dy, const int *ids, int n, int d);

/* ---- dropout (inverted), its mask a function of (seed, i) ----
 * x (n) in place: element i is zeroed with probability p, else scaled by 1 / (1 - p). The mask is
 * drawn again from seed rather than stored, so the same call on the gradient of the output is
 * the backward. p <= 0: nothing. */
void dropout_hashed(float *x, size_t n, float p, uint64_t seed);

/* log(exp(a) + exp(b)), exact when either is -INFINITY (CTC and the searches). */
static inline double log_add(double a, double b) {
    if (a == -INFINITY) return b;
    if (b == -INFINITY) return a;
    return a > b ? a + log1p(exp(b - a)) : b + log1p(exp(a - b));
}

/* ---- CTC loss of one sequence, log-space forward-backward ----
 * log_probs (T, V) (normalised, e.g. log_softmax output), targets (L) in [0, V) without blank.
 * Returns -log p(targets | x) (INFINITY when impossible: T too short). When grad is not NULL,
 * ACCUMULATES scale * d(loss)/d(log_probs) into grad (T, V) (the true gradient with respect to
 * log_probs, not PyTorch's logits-combined form; through log_softmax_backward the two agree).
 * scratch: ctc_scratch_size(T, L) doubles. */
size_t ctc_scratch_size(int T, int L);
double ctc_loss(float *grad, const float *log_probs, int T, int V, const int *targets, int L,
                int blank, float scale, double *scratch);

/* ---- cross-entropy with label smoothing over logits (n, V) ----
 * loss_i = (1 - eps) * (-log p[target_i]) + eps * mean_v(-log p[v])   (torch's label_smoothing)
 * rows whose target == ignore_index count nothing. Returns the sum of row losses and the number
 * of counted rows in *n_counted. dlogits (n, V), when not NULL, ACCUMULATES scale * d(sum)/dlogits. */
double cross_entropy(float *dlogits, const float *logits, const int *targets, int n, int V,
                     float eps, int ignore_index, float scale, int *n_counted);

#endif /* MSLAM_OPS_H */
