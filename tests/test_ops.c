/* CPU kernels (core/ops.h): forward results against direct double-precision references, every
 * backward against central finite differences of loss = sum(out * R) for a fixed random R. */
#include "testutil.h"

#include <cblas.h>
#include <strings.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* NMSE of an analytic gradient against finite differences (float32 forward, eps 1e-2) that a
 * correct backward stays well below; a dropped or wrong term gives 1e-3 and more. */
#define GRAD_TOL 1e-5

static mslam_rng rng;

/* ---- allocations, all freed at the end (the sanitizer build checks for leaks) ---- */

#define MAX_ALLOCS 2048
static void *allocs[MAX_ALLOCS];
static int n_allocs;

static void *track(void *p) {
    if (!p || n_allocs == MAX_ALLOCS) {
        fprintf(stderr, "test_ops: out of memory or allocation slots\n");
        exit(1);
    }
    allocs[n_allocs++] = p;
    return p;
}

static float *falloc(size_t n) { return track(calloc(n ? n : 1, sizeof(float))); }
static double *dalloc(size_t n) { return track(calloc(n ? n : 1, sizeof(double))); }

static float *frand(size_t n, float lo, float hi) {
    float *p = falloc(n);
    test_fill_uniform(p, n, lo, hi, &rng);
    return p;
}

static float *fcopy(const float *x, size_t n) {
    float *p = falloc(n);
    memcpy(p, x, n * sizeof *p);
    return p;
}

static void free_all(void) {
    while (n_allocs) free(allocs[--n_allocs]);
}

static double max_abs_diff_d(const float *a, const double *ref, size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - ref[i]);
        if (!(e <= worst)) worst = e;
    }
    return worst;
}

static double max_abs_diff(const float *a, const float *b, size_t n) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)a[i] - b[i]);
        if (!(e <= worst)) worst = e;
    }
    return worst;
}

/* ---- gradient-check harness ---- */

#define MAX_IN 6

typedef struct grad_case grad_case;
struct grad_case {
    const char *op;
    void (*forward)(grad_case *c);  /* out from in[] */
    void (*backward)(grad_case *c); /* accumulates into grad[] with dout = R */
    float *out, *R;
    size_t n_out;
    int n_in;
    const char *name[MAX_IN];
    float *in[MAX_IN], *grad[MAX_IN];
    size_t n[MAX_IN];
    void *params;
};

static void add_input(grad_case *c, const char *name, float *x, size_t n) {
    c->name[c->n_in] = name;
    c->in[c->n_in] = x;
    c->grad[c->n_in] = falloc(n);
    c->n[c->n_in] = n;
    c->n_in++;
}

static double case_loss(void *ctx) {
    grad_case *c = ctx;
    c->forward(c);
    double sum = 0;
    for (size_t i = 0; i < c->n_out; i++) sum += (double)c->out[i] * c->R[i];
    return sum;
}

/* Runs backward twice into zeroed gradients and halves them, so that a backward that overwrites
 * instead of accumulating fails, then checks every input. */
static void run_case(grad_case *c, float eps, size_t max_checks) {
    c->R = frand(c->n_out, -1, 1);
    c->forward(c);
    for (int i = 0; i < c->n_in; i++) memset(c->grad[i], 0, c->n[i] * sizeof(float));
    c->backward(c);
    c->backward(c);
    for (int i = 0; i < c->n_in; i++)
        for (size_t j = 0; j < c->n[i]; j++) c->grad[i][j] *= 0.5f;
    for (int i = 0; i < c->n_in; i++) {
        char label[128];
        snprintf(label, sizeof label, "%s d%s", c->op, c->name[i]);
        double nmse = test_grad_check(label, case_loss, c, c->in[i], c->grad[i], c->n[i], eps, max_checks);
        CHECK(nmse < GRAD_TOL, "%s: gradient nmse %.3e", label, nmse);
    }
}

/* ---- rng ---- */

static void test_rng(void) {
    mslam_rng a, b, c;
    mslam_rng_seed(&a, 42);
    mslam_rng_seed(&b, 42);
    mslam_rng_seed(&c, 43);
    int same = 1, differ = 0;
    for (int i = 0; i < 100; i++) {
        uint32_t x = mslam_rng_u32(&a), y = mslam_rng_u32(&b), z = mslam_rng_u32(&c);
        same &= x == y;
        differ += x != z;
    }
    CHECK(same, "rng: same seed gives different sequences");
    CHECK(differ > 90, "rng: seeds 42 and 43 agree in %d of 100 draws", 100 - differ);

    const int n = 200000;
    double su = 0, sn = 0, sn2 = 0;
    float umin = 1, umax = 0;
    for (int i = 0; i < n; i++) {
        float u = mslam_rng_uniform(&a);
        umin = u < umin ? u : umin;
        umax = u > umax ? u : umax;
        su += u;
        double g = mslam_rng_normal(&a);
        sn += g;
        sn2 += g * g;
    }
    CHECK(umin >= 0.0f && umax < 1.0f, "rng: uniform out of [0, 1): %g %g", umin, umax);
    CHECK(fabs(su / n - 0.5) < 0.005, "rng: uniform mean %g", su / n);
    CHECK(fabs(sn / n) < 0.01, "rng: normal mean %g", sn / n);
    CHECK(fabs(sn2 / n - 1.0) < 0.02, "rng: normal variance %g", sn2 / n);
}

/* ---- sgemm ---- */

static void naive_gemm(double *C, int ta, int tb, int M, int N, int K, float alpha, const float *A,
                       int lda, const float *B, int ldb, float beta, const float *C0, int ldc) {
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double s = 0;
            for (int p = 0; p < K; p++)
                s += (double)(ta ? A[p * lda + i] : A[i * lda + p]) * (tb ? B[j * ldb + p] : B[p * ldb + j]);
            C[i * ldc + j] = alpha * s + (beta == 0.0f ? 0.0 : beta * (double)C0[i * ldc + j]);
        }
}

static void test_sgemm_shape(int M, int N, int K) {
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            /* leading dimensions larger than the rows to catch stride mistakes */
            int lda = (ta ? M : K) + 3, ldb = (tb ? K : N) + 2, ldc = N + 1;
            float *A = frand((size_t)(ta ? K : M) * lda, -1, 1);
            float *B = frand((size_t)(tb ? N : K) * ldb, -1, 1);
            float *C0 = frand((size_t)M * ldc, -1, 1);
            float *C = fcopy(C0, (size_t)M * ldc);
            double *ref = dalloc((size_t)M * ldc);
            naive_gemm(ref, ta, tb, M, N, K, 0.75f, A, lda, B, ldb, 0.5f, C0, ldc);
            mslam_sgemm(ta, tb, M, N, K, 0.75f, A, lda, B, ldb, 0.5f, C, ldc);
            double worst = 0;
            for (int i = 0; i < M; i++) {
                double e = max_abs_diff_d(C + (size_t)i * ldc, ref + (size_t)i * ldc, N);
                worst = e > worst ? e : worst;
            }
            CHECK(worst < 1e-4, "sgemm %dx%dx%d ta=%d tb=%d: max abs err %g", M, N, K, ta, tb, worst);

            /* beta == 0 must not read C (NaN garbage) */
            for (size_t i = 0; i < (size_t)M * ldc; i++) C[i] = NAN;
            naive_gemm(ref, ta, tb, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C0, ldc);
            mslam_sgemm(ta, tb, M, N, K, 1.0f, A, lda, B, ldb, 0.0f, C, ldc);
            worst = 0;
            for (int i = 0; i < M; i++) {
                double e = max_abs_diff_d(C + (size_t)i * ldc, ref + (size_t)i * ldc, N);
                worst = e > worst ? e : worst;
            }
            CHECK(worst < 1e-4, "sgemm beta=0 %dx%dx%d ta=%d tb=%d: max abs err %g", M, N, K, ta, tb, worst);

            /* the same product one row at a time takes the loop path (N*K < MSLAM_BLAS_MIN_WORK) */
            if ((double)M * N * K >= MSLAM_BLAS_MIN_WORK) {
                float *Crow = fcopy(C0, (size_t)M * ldc);
                for (int i = 0; i < M; i++)
                    mslam_sgemm(ta, tb, 1, N, K, 1.0f, ta ? A + i : A + (size_t)i * lda, lda, B, ldb,
                                0.0f, Crow + (size_t)i * ldc, ldc);
                double nm = 0;
                for (int i = 0; i < M; i++) {
                    double e = test_nmse(Crow + (size_t)i * ldc, C + (size_t)i * ldc, N);
                    nm = e > nm ? e : nm;
                }
                CHECK(nm < 1e-12, "sgemm loop vs BLAS ta=%d tb=%d: nmse %g", ta, tb, nm);
            }
        }
}

static void test_sgemm(void) {
    CHECK(5 * 7 * 6 < MSLAM_BLAS_MIN_WORK && 40 * 36 * 30 >= MSLAM_BLAS_MIN_WORK,
          "sgemm: the test sizes no longer straddle MSLAM_BLAS_MIN_WORK");
    test_sgemm_shape(5, 7, 6);    /* loop path */
    test_sgemm_shape(40, 36, 30); /* BLAS path */
    test_sgemm_shape(3, 200, 150); /* a few rows: sgemv path */
    test_sgemm_shape(2, 3000, 400); /* sgemv with its columns split over threads */
#if defined(OPENBLAS_VERSION) && defined(__x86_64__) && defined(__GNUC__)
    /* OpenBLAS's fallback for a CPU model it does not know is left for kernels the CPU runs
     * (ops_cpu.c blas_pick_kernels, when the library is loaded) */
    __builtin_cpu_init();
    const char *core = openblas_get_corename();
    if (!getenv("OPENBLAS_CORETYPE") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma"))
        CHECK(core && strcasecmp(core, "prescott"), "OpenBLAS runs its %s kernels on a CPU with AVX2 and FMA",
              core ? core : "(unknown)");
    printf("OpenBLAS kernels: %s\n", core ? core : "(unknown)");
#endif
}

/* ---- linear ---- */

typedef struct {
    int n, in, out;
} linear_p;

static void linear_fwd(grad_case *c) {
    linear_p *p = c->params;
    linear_forward(c->out, c->in[0], c->in[1], c->in[2], p->n, p->in, p->out);
}

static void linear_bwd(grad_case *c) {
    linear_p *p = c->params;
    linear_backward(c->grad[0], c->grad[1], c->grad[2], c->R, c->in[0], c->in[1], p->n, p->in, p->out);
}

static void test_linear_case(const char *op, int n, int in, int out, size_t max_checks) {
    linear_p p = {n, in, out};
    grad_case c = {.op = op, .forward = linear_fwd, .backward = linear_bwd, .params = &p};
    add_input(&c, "x", frand((size_t)n * in, -1, 1), (size_t)n * in);
    add_input(&c, "w", frand((size_t)out * in, -1, 1), (size_t)out * in);
    add_input(&c, "b", frand(out, -1, 1), out);
    c.n_out = (size_t)n * out;
    c.out = falloc(c.n_out);
    run_case(&c, 1e-2f, max_checks);
}

static void test_linear(void) {
    test_linear_case("linear(loop)", 3, 5, 4, 0);
    CHECK(40 * 48 * 40 >= MSLAM_BLAS_MIN_WORK, "linear BLAS size");
    test_linear_case("linear(blas)", 40, 48, 40, 150);
}

/* ---- layernorm ---- */

typedef struct {
    int n, d;
    float *mean, *rstd;
} ln_p;

static void ln_fwd(grad_case *c) {
    ln_p *p = c->params;
    layernorm_forward(c->out, p->mean, p->rstd, c->in[0], c->in[1], c->in[2], p->n, p->d);
}

static void ln_bwd(grad_case *c) {
    ln_p *p = c->params;
    layernorm_backward(c->grad[0], c->grad[1], c->grad[2], c->R, c->in[0], p->mean, p->rstd, c->in[1],
                       p->n, p->d);
}

static void test_layernorm(void) {
    int n = 5, d = 12;
    ln_p p = {n, d, falloc(n), falloc(n)};
    grad_case c = {.op = "layernorm", .forward = ln_fwd, .backward = ln_bwd, .params = &p};
    add_input(&c, "x", frand((size_t)n * d, -2, 2), (size_t)n * d);
    add_input(&c, "w", frand(d, 0.5f, 1.5f), d);
    add_input(&c, "b", frand(d, -1, 1), d);
    c.n_out = (size_t)n * d;
    c.out = falloc(c.n_out);

    ln_fwd(&c);
    double *ref = dalloc(c.n_out);
    for (int i = 0; i < n; i++) {
        const float *x = c.in[0] + i * d;
        double m = 0, v = 0;
        for (int j = 0; j < d; j++) m += x[j];
        m /= d;
        for (int j = 0; j < d; j++) v += (x[j] - m) * (x[j] - m);
        v /= d;
        for (int j = 0; j < d; j++) ref[i * d + j] = (x[j] - m) / sqrt(v + MSLAM_LN_EPS) * c.in[1][j] + c.in[2][j];
    }
    double e = max_abs_diff_d(c.out, ref, c.n_out);
    CHECK(e < 1e-5, "layernorm forward: max abs err %g", e);
    run_case(&c, 1e-2f, 0);
}

/* ---- element-wise ---- */

typedef struct {
    int n, d;
} nd_p;

static void swish_fwd(grad_case *c) { swish_forward(c->out, c->in[0], c->n_out); }
static void swish_bwd(grad_case *c) { swish_backward(c->grad[0], c->R, c->in[0], c->n_out); }
static void relu_fwd(grad_case *c) { relu_forward(c->out, c->in[0], c->n_out); }
static void relu_bwd(grad_case *c) { relu_backward(c->grad[0], c->R, c->out, c->n_out); }

static void glu_fwd(grad_case *c) {
    nd_p *p = c->params;
    glu_forward(c->out, c->in[0], p->n, p->d);
}

static void glu_bwd(grad_case *c) {
    nd_p *p = c->params;
    glu_backward(c->grad[0], c->R, c->in[0], p->n, p->d);
}

static void test_elementwise(void) {
    size_t n = 64;
    grad_case sw = {.op = "swish", .forward = swish_fwd, .backward = swish_bwd, .n_out = n};
    add_input(&sw, "x", frand(n, -4, 4), n);
    sw.out = falloc(n);
    swish_fwd(&sw);
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double x = sw.in[0][i], e = fabs(sw.out[i] - x / (1 + exp(-x)));
        worst = e > worst ? e : worst;
    }
    CHECK(worst < 1e-6, "swish forward: max abs err %g", worst);
    run_case(&sw, 1e-2f, 0);

    grad_case re = {.op = "relu", .forward = relu_fwd, .backward = relu_bwd, .n_out = n};
    float *x = frand(n, -2, 2);
    /* central differences straddling the kink would be meaningless: keep inputs off 0 */
    for (size_t i = 0; i < n; i++)
        if (fabsf(x[i]) < 0.1f) x[i] = x[i] < 0 ? -0.5f : 0.5f;
    add_input(&re, "x", x, n);
    re.out = falloc(n);
    run_case(&re, 1e-2f, 0);

    nd_p gp = {6, 5};
    grad_case gl = {.op = "glu", .forward = glu_fwd, .backward = glu_bwd, .params = &gp, .n_out = 30};
    add_input(&gl, "x", frand(60, -3, 3), 60);
    gl.out = falloc(30);
    glu_fwd(&gl);
    worst = 0;
    for (int i = 0; i < 6; i++)
        for (int j = 0; j < 5; j++) {
            double a = gl.in[0][i * 10 + j], b = gl.in[0][i * 10 + 5 + j];
            double e = fabs(gl.out[i * 5 + j] - a / (1 + exp(-b)));
            worst = e > worst ? e : worst;
        }
    CHECK(worst < 1e-6, "glu forward: max abs err %g", worst);
    run_case(&gl, 1e-2f, 0);

    float a[3] = {1, 2, 3}, b[3] = {4, 5, 6};
    add_scaled(a, a, b, 0.5f, 3); /* aliasing y == a is allowed */
    CHECK(a[0] == 3 && a[1] == 4.5f && a[2] == 6, "add_scaled: %g %g %g", a[0], a[1], a[2]);
}

/* ---- dwconv1d ---- */

typedef struct {
    int B, T_in, T_out, d, k, pad;
    const int *lengths;
} dw_p;

static void dw_fwd(grad_case *c) {
    dw_p *p = c->params;
    dwconv1d_forward(c->out, c->in[0], c->in[1], c->in[2], p->B, p->T_in, p->T_out, p->d, p->k, p->pad,
                     p->lengths);
}

static void dw_bwd(grad_case *c) {
    dw_p *p = c->params;
    dwconv1d_backward(c->grad[0], c->grad[1], c->grad[2], c->R, c->in[0], c->in[1], p->B, p->T_in,
                      p->T_out, p->d, p->k, p->pad, p->lengths);
}

static void dw_naive(double *y, const float *x, const float *w, const float *b, const dw_p *p) {
    for (int bi = 0; bi < p->B; bi++) {
        int len = p->lengths ? p->lengths[bi] : p->T_in;
        for (int t = 0; t < p->T_out; t++)
            for (int c = 0; c < p->d; c++) {
                double s = b[c];
                for (int j = 0; j < p->k; j++) {
                    int src = t - p->pad + j;
                    if (src >= 0 && src < len) s += (double)w[c * p->k + j] * x[((size_t)bi * p->T_in + src) * p->d + c];
                }
                y[((size_t)bi * p->T_out + t) * p->d + c] = s;
            }
    }
}

static void test_dwconv_case(const char *op, int T_in, int T_out, int k, int pad, int d,
                             const int *lengths, size_t max_checks) {
    dw_p p = {2, T_in, T_out, d, k, pad, lengths};
    grad_case c = {.op = op, .forward = dw_fwd, .backward = dw_bwd, .params = &p};
    add_input(&c, "x", frand((size_t)2 * T_in * d, -1, 1), (size_t)2 * T_in * d);
    add_input(&c, "w", frand((size_t)d * k, -1, 1), (size_t)d * k);
    add_input(&c, "b", frand(d, -1, 1), d);
    c.n_out = (size_t)2 * T_out * d;
    c.out = falloc(c.n_out);
    dw_fwd(&c);
    double *ref = dalloc(c.n_out);
    dw_naive(ref, c.in[0], c.in[1], c.in[2], &p);
    double e = max_abs_diff_d(c.out, ref, c.n_out);
    CHECK(e < 1e-5, "%s forward: max abs err %g", op, e);
    run_case(&c, 1e-2f, max_checks);
}

/* Streaming over [cache of k-1 rows; chunk] with pad_left = 0 equals causal mode on the whole
 * sequence. */
static void test_dwconv_streaming(void) {
    const int T = 12, d = 37, k = 5, chunk = 4;
    float *x = frand((size_t)T * d, -1, 1), *w = frand((size_t)d * k, -1, 1), *b = frand(d, -1, 1);
    float *full = falloc((size_t)T * d);
    dwconv1d_forward(full, x, w, b, 1, T, T, d, k, k - 1, NULL);
    float *in = falloc((size_t)(k - 1 + chunk) * d), *y = falloc((size_t)chunk * d);
    double worst = 0;
    for (int t0 = 0; t0 < T; t0 += chunk) {
        for (int r = 0; r < k - 1 + chunk; r++) {
            int src = t0 - (k - 1) + r;
            for (int c = 0; c < d; c++) in[(size_t)r * d + c] = src >= 0 ? x[(size_t)src * d + c] : 0.0f;
        }
        dwconv1d_forward(y, in, w, b, 1, k - 1 + chunk, chunk, d, k, 0, NULL);
        double e = max_abs_diff(y, full + (size_t)t0 * d, (size_t)chunk * d);
        worst = e > worst ? e : worst;
    }
    CHECK(worst < 1e-6, "dwconv1d streaming vs causal: max abs err %g", worst);
}

static void test_dwconv(void) {
    static const int lengths[2] = {9, 6}, long_lengths[2] = {40, 31};
    /* d = 37 ends in a partial channel block */
    test_dwconv_case("dwconv1d(symmetric)", 10, 10, 5, 2, 37, lengths, 0);
    test_dwconv_case("dwconv1d(causal)", 10, 10, 5, 4, 6, lengths, 0);
    test_dwconv_case("dwconv1d(streaming)", 10, 6, 5, 0, 6, lengths, 0);
    /* more taps than one stack tile holds */
    test_dwconv_case("dwconv1d(k=35)", 40, 40, 35, 17, 5, long_lengths, 150);
    test_dwconv_streaming();
}

/* ---- conv2d ---- */

typedef struct {
    int B, C_in, H, W, C_out;
    float *scratch;
} conv_p;

static void conv_fwd(grad_case *c) {
    conv_p *p = c->params;
    conv2d_forward(c->out, c->in[0], c->in[1], c->in[2], p->B, p->C_in, p->H, p->W, p->C_out, p->scratch);
}

static void conv_bwd(grad_case *c) {
    conv_p *p = c->params;
    conv2d_backward(c->grad[0], c->grad[1], c->grad[2], c->R, c->in[0], c->in[1], p->B, p->C_in, p->H,
                    p->W, p->C_out, p->scratch);
}

static void test_conv2d_case(const char *op, int B, int C_in, int H, int W, int C_out, size_t max_checks) {
    int Ho = (H - 3) / 2 + 1, Wo = (W - 3) / 2 + 1;
    conv_p p = {B, C_in, H, W, C_out, falloc(conv2d_scratch_size(C_in, H, W))};
    CHECK(conv2d_scratch_size(C_in, H, W) == (size_t)C_in * 9 * Ho * Wo, "conv2d scratch size");
    grad_case c = {.op = op, .forward = conv_fwd, .backward = conv_bwd, .params = &p};
    size_t nx = (size_t)B * C_in * H * W, nw = (size_t)C_out * C_in * 9;
    add_input(&c, "x", frand(nx, -1, 1), nx);
    add_input(&c, "w", frand(nw, -1, 1), nw);
    add_input(&c, "b", frand(C_out, -1, 1), C_out);
    c.n_out = (size_t)B * C_out * Ho * Wo;
    c.out = falloc(c.n_out);
    conv_fwd(&c);
    double *ref = dalloc(c.n_out);
    const float *x = c.in[0], *w = c.in[1], *b = c.in[2];
    for (int bi = 0; bi < B; bi++)
        for (int co = 0; co < C_out; co++)
            for (int oh = 0; oh < Ho; oh++)
                for (int ow = 0; ow < Wo; ow++) {
                    double s = b[co];
                    for (int ci = 0; ci < C_in; ci++)
                        for (int kh = 0; kh < 3; kh++)
                            for (int kw = 0; kw < 3; kw++)
                                s += (double)w[((co * C_in + ci) * 3 + kh) * 3 + kw] *
                                     x[(((size_t)bi * C_in + ci) * H + 2 * oh + kh) * W + 2 * ow + kw];
                    ref[(((size_t)bi * C_out + co) * Ho + oh) * Wo + ow] = s;
                }
    double e = max_abs_diff_d(c.out, ref, c.n_out);
    CHECK(e < 1e-4, "%s forward: max abs err %g", op, e);
    run_case(&c, 1e-2f, max_checks);
}

static void test_conv2d(void) {
    test_conv2d_case("conv2d(loop)", 2, 2, 9, 8, 3, 0);
    /* 16 x 64 x 36 output by columns by depth: the BLAS path */
    test_conv2d_case("conv2d(blas)", 1, 4, 17, 17, 16, 120);
}

/* ---- softmax / log-softmax ---- */

static void softmax_fwd(grad_case *c) {
    nd_p *p = c->params;
    softmax_forward(c->out, c->in[0], p->n, p->d);
}

static void softmax_bwd(grad_case *c) {
    nd_p *p = c->params;
    softmax_backward(c->grad[0], c->R, c->out, p->n, p->d);
}

static void log_softmax_fwd(grad_case *c) {
    nd_p *p = c->params;
    log_softmax_forward(c->out, c->in[0], p->n, p->d);
}

static void log_softmax_bwd(grad_case *c) {
    nd_p *p = c->params;
    log_softmax_backward(c->grad[0], c->R, c->out, p->n, p->d);
}

static void test_softmax(void) {
    nd_p p = {4, 9};
    size_t n = 36;
    float *x = frand(n, -5, 5);
    x[3] = -80; /* deep in the tail */
    grad_case sm = {.op = "softmax", .forward = softmax_fwd, .backward = softmax_bwd, .params = &p, .n_out = n};
    add_input(&sm, "x", x, n);
    sm.out = falloc(n);
    grad_case ls = {.op = "log_softmax", .forward = log_softmax_fwd, .backward = log_softmax_bwd, .params = &p, .n_out = n};
    add_input(&ls, "x", fcopy(x, n), n);
    ls.out = falloc(n);
    softmax_fwd(&sm);
    log_softmax_fwd(&ls);
    double worst_sum = 0, worst_p = 0, worst_l = 0;
    for (int i = 0; i < p.n; i++) {
        double m = -INFINITY, z = 0, s = 0;
        for (int j = 0; j < p.d; j++) m = fmax(m, x[i * p.d + j]);
        for (int j = 0; j < p.d; j++) z += exp(x[i * p.d + j] - m);
        for (int j = 0; j < p.d; j++) {
            double ref = exp(x[i * p.d + j] - m) / z;
            worst_p = fmax(worst_p, fabs(sm.out[i * p.d + j] - ref) / ref);
            worst_l = fmax(worst_l, fabs(ls.out[i * p.d + j] - log(ref)));
            s += sm.out[i * p.d + j];
        }
        worst_sum = fmax(worst_sum, fabs(s - 1));
    }
    CHECK(worst_sum < 1e-6, "softmax rows sum to 1 within %g", worst_sum);
    CHECK(worst_p < 1e-5, "softmax forward: max rel err %g", worst_p);
    CHECK(worst_l < 1e-5, "log_softmax forward: max abs err %g", worst_l);
    run_case(&sm, 1e-2f, 0);
    run_case(&ls, 1e-2f, 0);
}

/* ---- sinusoid table ---- */

static void test_sinusoid(void) {
    int pos0 = -3, n = 7, d = 8;
    float *t = falloc((size_t)n * d);
    sinusoid_table(t, pos0, n, d);
    double worst = 0;
    for (int i = 0; i < n; i++)
        for (int m = 0; 2 * m < d; m++) {
            double a = (pos0 + i) * pow(10000.0, -2.0 * m / d);
            worst = fmax(worst, fabs(t[i * d + 2 * m] - sin(a)));
            worst = fmax(worst, fabs(t[i * d + 2 * m + 1] - cos(a)));
        }
    CHECK(worst < 1e-6, "sinusoid_table: max abs err %g", worst);
    CHECK(t[3 * d] == 0.0f && t[3 * d + 1] == 1.0f, "sinusoid_table: position 0 is not (0, 1)");
    CHECK(t[2 * d] < 0 && t[4 * d] > 0, "sinusoid_table: signs of sin(-1) and sin(1)");
}

/* ---- attention ---- */

static void test_attn_visible(void) {
    attn_mask m = {3, 1, 0};
    /* query frame 7 is in chunk 2 and sees chunks 1..2 = frames 3..8 */
    CHECK(!attn_visible(&m, 7, 2, 100) && attn_visible(&m, 7, 3, 100) && attn_visible(&m, 7, 8, 100) &&
              !attn_visible(&m, 7, 9, 100),
          "attn_visible: chunk 3 left 1");
    CHECK(!attn_visible(&m, 7, 5, 5) && attn_visible(&m, 7, 4, 5), "attn_visible: key_len");
    attn_mask all = {3, -1, 0};
    CHECK(attn_visible(&all, 7, 0, 100) && !attn_visible(&all, 7, 9, 100), "attn_visible: unlimited left");
    attn_mask causal = {0, -1, 1};
    CHECK(attn_visible(&causal, 4, 4, 10) && !attn_visible(&causal, 4, 5, 10), "attn_visible: causal");
    CHECK(attn_visible(NULL, 0, 9, 10) && !attn_visible(NULL, 0, 10, 10), "attn_visible: no mask");
}

typedef struct {
    int rel, B, Tq, Tk, H, dh, q_off;
    attn_mask mask;
    const int *key_lens;
    float *probs, *scratch;
} attn_p;

static void attn_fwd(grad_case *c) {
    attn_p *p = c->params;
    if (p->rel)
        relattn_forward(c->out, p->probs, c->in[0], c->in[1], c->in[2], c->in[3], c->in[4], c->in[5], p->B,
                        p->Tq, p->Tk, p->H, p->dh, &p->mask, p->key_lens, p->scratch);
    else
        attn_forward(c->out, p->probs, c->in[0], c->in[1], c->in[2], p->B, p->Tq, p->Tk, p->H, p->dh,
                     p->q_off, &p->mask, p->key_lens, p->scratch);
}

static void attn_bwd(grad_case *c) {
    attn_p *p = c->params;
    if (p->rel)
        relattn_backward(c->grad[0], c->grad[1], c->grad[2], c->grad[3], c->grad[4], c->grad[5], c->R,
                         p->probs, c->in[0], c->in[1], c->in[2], c->in[3], c->in[4], c->in[5], p->B, p->Tq,
                         p->Tk, p->H, p->dh, &p->mask, p->key_lens, p->scratch);
    else
        attn_backward(c->grad[0], c->grad[1], c->grad[2], c->R, p->probs, c->in[0], c->in[1], c->in[2],
                      p->B, p->Tq, p->Tk, p->H, p->dh, p->q_off, &p->mask, p->key_lens, p->scratch);
}

/* Direct evaluation of the ops.h formula in double: out (B, Tq, D), probs (B, H, Tq, Tk). */
static void attn_naive(double *out, double *probs, const grad_case *c) {
    const attn_p *p = c->params;
    const int D = p->H * p->dh, Tq = p->Tq, Tk = p->Tk, dh = p->dh;
    const float *q = c->in[0], *k = c->in[1], *v = c->in[2];
    double *s = dalloc(Tk);
    for (int b = 0; b < p->B; b++)
        for (int h = 0; h < p->H; h++)
            for (int i = 0; i < Tq; i++) {
                int key_len = p->key_lens ? p->key_lens[b] : Tk;
                const float *qi = q + ((size_t)b * Tq + i) * D + h * dh;
                double m = -INFINITY, z = 0;
                for (int j = 0; j < Tk; j++) {
                    s[j] = -INFINITY;
                    if (!attn_visible(&p->mask, p->q_off + i, j, key_len)) continue;
                    const float *kj = k + ((size_t)b * Tk + j) * D + h * dh;
                    double acc = 0;
                    for (int e = 0; e < dh; e++) {
                        double qu = p->rel ? (double)qi[e] + c->in[4][h * dh + e] : qi[e];
                        acc += qu * kj[e];
                        if (p->rel) {
                            const float *pr = c->in[3] + (size_t)(Tk - 1 + i - j) * D + h * dh;
                            acc += ((double)qi[e] + c->in[5][h * dh + e]) * pr[e];
                        }
                    }
                    s[j] = acc / sqrt(dh);
                    m = fmax(m, s[j]);
                }
                for (int j = 0; j < Tk; j++) z += s[j] == -INFINITY ? 0 : exp(s[j] - m);
                double *pr = probs + (((size_t)b * p->H + h) * Tq + i) * Tk;
                for (int j = 0; j < Tk; j++) pr[j] = s[j] == -INFINITY ? 0 : exp(s[j] - m) / z;
                for (int e = 0; e < dh; e++) {
                    double o = 0;
                    for (int j = 0; j < Tk; j++) o += pr[j] * v[((size_t)b * Tk + j) * D + h * dh + e];
                    out[((size_t)b * Tq + i) * D + h * dh + e] = o;
                }
            }
}

static grad_case make_attn_case(const char *op, attn_p *p) {
    const int D = p->H * p->dh, R = p->Tq + p->Tk - 1;
    grad_case c = {.op = op, .forward = attn_fwd, .backward = attn_bwd, .params = p};
    size_t nq = (size_t)p->B * p->Tq * D, nk = (size_t)p->B * p->Tk * D;
    add_input(&c, "q", frand(nq, -1, 1), nq);
    add_input(&c, "k", frand(nk, -1, 1), nk);
    add_input(&c, "v", frand(nk, -1, 1), nk);
    if (p->rel) {
        p->q_off = p->Tk - p->Tq;
        add_input(&c, "p", frand((size_t)R * D, -1, 1), (size_t)R * D);
        add_input(&c, "pos_u", frand(D, -0.5f, 0.5f), D);
        add_input(&c, "pos_v", frand(D, -0.5f, 0.5f), D);
    }
    p->probs = falloc((size_t)p->B * p->H * p->Tq * p->Tk);
    p->scratch = falloc(p->rel ? relattn_scratch_size(p->Tq, p->Tk, p->H, p->dh, 1)
                               : attn_scratch_size(p->Tq, p->Tk, p->H, p->dh));
    c.n_out = nq;
    c.out = falloc(nq);
    return c;
}

/* Forward against the naive formula, masked keys at exactly zero probability, query rows that see
 * no key at zero output; then the gradient checks. */
static void test_attn_case(const char *op, attn_p *p, size_t max_checks) {
    grad_case c = make_attn_case(op, p);
    size_t np = (size_t)p->B * p->H * p->Tq * p->Tk;
    double *ref_out = dalloc(c.n_out), *ref_probs = dalloc(np);
    attn_fwd(&c);
    attn_naive(ref_out, ref_probs, &c);
    double eo = max_abs_diff_d(c.out, ref_out, c.n_out), ep = max_abs_diff_d(p->probs, ref_probs, np);
    CHECK(eo < 1e-5 && ep < 1e-5, "%s forward: max abs err out %g probs %g", op, eo, ep);

    int bad_mask = 0, empty_rows = 0, bad_empty = 0;
    const int D = p->H * p->dh;
    for (int b = 0; b < p->B; b++)
        for (int h = 0; h < p->H; h++)
            for (int i = 0; i < p->Tq; i++) {
                int key_len = p->key_lens ? p->key_lens[b] : p->Tk, seen = 0;
                const float *pr = p->probs + (((size_t)b * p->H + h) * p->Tq + i) * p->Tk;
                for (int j = 0; j < p->Tk; j++) {
                    int vis = attn_visible(&p->mask, p->q_off + i, j, key_len);
                    seen += vis;
                    bad_mask += vis ? !(pr[j] > 0) : pr[j] != 0.0f;
                }
                if (!seen) {
                    empty_rows++;
                    for (int e = 0; e < p->dh; e++) bad_empty += c.out[((size_t)b * p->Tq + i) * D + h * p->dh + e] != 0.0f;
                }
            }
    CHECK(!bad_mask, "%s: %d probabilities disagree with the mask", op, bad_mask);
    CHECK(!bad_empty, "%s: %d outputs of rows without keys are not zero", op, bad_empty);
    if (empty_rows) printf("  %s: %d query rows see no key\n", op, empty_rows);

    run_case(&c, 1e-2f, max_checks);
}

/* relattn without probs gives the same output; each gradient alone equals its value when all are
 * asked for; one thread and the full team agree (per-thread sums of dp, dpos_u, dpos_v). */
static void test_relattn_variants(void) {
    static const int key_lens[2] = {10, 5};
    attn_p p = {.rel = 1, .B = 2, .Tq = 4, .Tk = 10, .H = 2, .dh = 4, .mask = {3, 1, 0}, .key_lens = key_lens};
    grad_case c = make_attn_case("relattn", &p);
    attn_fwd(&c);
    float *out2 = falloc(c.n_out);
    relattn_forward(out2, NULL, c.in[0], c.in[1], c.in[2], c.in[3], c.in[4], c.in[5], p.B, p.Tq, p.Tk, p.H,
                    p.dh, &p.mask, key_lens, p.scratch);
    CHECK(max_abs_diff(out2, c.out, c.n_out) == 0, "relattn: output differs without probs");

    c.R = frand(c.n_out, -1, 1);
    attn_bwd(&c);
    for (int which = 0; which < 6; which++) {
        float *g[6] = {NULL};
        g[which] = falloc(c.n[which]);
        relattn_backward(g[0], g[1], g[2], g[3], g[4], g[5], c.R, p.probs, c.in[0], c.in[1], c.in[2],
                         c.in[3], c.in[4], c.in[5], p.B, p.Tq, p.Tk, p.H, p.dh, &p.mask, key_lens, p.scratch);
        double e = max_abs_diff(g[which], c.grad[which], c.n[which]);
        CHECK(e < 1e-6, "relattn: d%s alone differs by %g", c.name[which], e);
    }

    float *g1[6];
    for (int i = 0; i < 6; i++) g1[i] = falloc(c.n[i]);
    mslam_set_threads(1);
    relattn_backward(g1[0], g1[1], g1[2], g1[3], g1[4], g1[5], c.R, p.probs, c.in[0], c.in[1], c.in[2],
                     c.in[3], c.in[4], c.in[5], p.B, p.Tq, p.Tk, p.H, p.dh, &p.mask, key_lens, p.scratch);
    mslam_set_threads(2);
    for (int i = 0; i < 6; i++) {
        double e = test_nmse(g1[i], c.grad[i], c.n[i]);
        CHECK(e < 1e-12, "relattn: d%s with 1 thread differs (nmse %g)", c.name[i], e);
    }
}

/* Without probs (inference) the queries go in blocks of 64 over the keys they see: outputs as
 * with probs, across block edges, with chunk masks, a streaming shape (queries the last of the
 * keys) and padded items; and the scratch grows with the keys, not their square. */
static void test_relattn_blocks(void) {
    static const int lens[2] = {150, 97}, lens_stream[2] = {180, 131};
    const struct {
        int Tq, Tk;
        attn_mask mask;
        const int *key_lens;
    } cases[] = {{150, 150, {0, -1, 0}, lens}, {150, 150, {8, 2, 0}, lens}, {100, 180, {8, 2, 0}, lens_stream},
                 {65, 65, {4, 0, 0}, NULL}};
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        attn_p p = {.rel = 1, .B = 2, .Tq = cases[k].Tq, .Tk = cases[k].Tk, .H = 2, .dh = 8, .mask = cases[k].mask,
                    .key_lens = cases[k].key_lens};
        grad_case c = make_attn_case("relattn", &p);
        attn_fwd(&c);
        float *blocked = falloc(c.n_out);
        relattn_forward(blocked, NULL, c.in[0], c.in[1], c.in[2], c.in[3], c.in[4], c.in[5], p.B, p.Tq, p.Tk, p.H,
                        p.dh, &p.mask, p.key_lens, p.scratch);
        double e = max_abs_diff(blocked, c.out, c.n_out);
        CHECK(e < 1e-5, "relattn in query blocks, case %zu (Tq %d, Tk %d, chunk %d): differs by %g", k, p.Tq, p.Tk,
              p.mask.chunk, e);
    }
    size_t hour = relattn_scratch_size(90000, 90000, 4, 36, 0), training = relattn_scratch_size(900, 900, 4, 36, 1);
    CHECK(hour < (size_t)200 << 20, "an hour's inference scratch: %zu MB", hour * 4 >> 20);
    CHECK(training > relattn_scratch_size(900, 900, 4, 36, 0), "a backward's scratch holds whole score matrices");
}

static void test_attention(void) {
    test_attn_visible();
    test_relattn_blocks();
    static const int lens_c[2] = {10, 5}, lens_e[2] = {6, 4}, lens_f[2] = {8, 3}, lens_d[1] = {37};
    attn_p a = {.rel = 1, .B = 2, .Tq = 6, .Tk = 6, .H = 2, .dh = 4, .mask = {0, -1, 0}};
    test_attn_case("relattn(full)", &a, 0);
    attn_p b = {.rel = 1, .B = 2, .Tq = 6, .Tk = 6, .H = 2, .dh = 4, .mask = {3, 1, 0}};
    test_attn_case("relattn(chunk3,left1)", &b, 0);
    /* streaming shape: 4 queries are the last 4 of 10 keys; item 1 has 5 keys, so its query in
     * chunk 3 sees none */
    attn_p cc = {.rel = 1, .B = 2, .Tq = 4, .Tk = 10, .H = 2, .dh = 4, .mask = {3, 1, 0}, .key_lens = lens_c};
    test_attn_case("relattn(stream,key_lens)", &cc, 0);
    /* products large enough for BLAS */
    attn_p d = {.rel = 1, .B = 1, .Tq = 40, .Tk = 40, .H = 2, .dh = 24, .mask = {0, -1, 0}, .key_lens = lens_d};
    test_attn_case("relattn(blas)", &d, 60);
    test_relattn_variants();

    attn_p e = {.rel = 0, .B = 2, .Tq = 6, .Tk = 6, .H = 2, .dh = 4, .q_off = 0, .mask = {0, -1, 1}, .key_lens = lens_e};
    test_attn_case("attn(causal)", &e, 0);
    attn_p f = {.rel = 0, .B = 2, .Tq = 5, .Tk = 8, .H = 2, .dh = 4, .q_off = 0, .mask = {0, -1, 0}, .key_lens = lens_f};
    test_attn_case("attn(cross,key_lens)", &f, 0);
}

/* ---- embedding ---- */

typedef struct {
    const int *ids;
    int n, d;
} emb_p;

static void emb_fwd(grad_case *c) {
    emb_p *p = c->params;
    embedding_forward(c->out, p->ids, c->in[0], p->n, p->d);
}

static void emb_bwd(grad_case *c) {
    emb_p *p = c->params;
    embedding_backward(c->grad[0], c->R, p->ids, p->n, p->d);
}

static void test_embedding(void) {
    static const int ids[5] = {1, 3, 1, 5, 0}; /* id 1 twice: its gradient adds up */
    emb_p p = {ids, 5, 4};
    grad_case c = {.op = "embedding", .forward = emb_fwd, .backward = emb_bwd, .params = &p, .n_out = 20};
    add_input(&c, "table", frand(24, -1, 1), 24);
    c.out = falloc(20);
    emb_fwd(&c);
    CHECK(memcmp(c.out + 4 * 3, c.in[0] + 4 * 5, 4 * sizeof(float)) == 0, "embedding forward: row of id 5");
    run_case(&c, 1e-2f, 0);
}

/* ---- dropout ---- */

typedef struct {
    float p;
    float *tmp;
} drop_p;

/* The same seed on every call, so that the finite differences see a fixed mask. */
static void drop_fwd(grad_case *c) {
    drop_p *p = c->params;
    memcpy(c->out, c->in[0], c->n_out * sizeof(float));
    dropout_hashed(c->out, c->n_out, p->p, 7);
}

/* the same call on the output's gradient */
static void drop_bwd(grad_case *c) {
    drop_p *p = c->params;
    memcpy(p->tmp, c->R, c->n_out * sizeof(float));
    dropout_hashed(p->tmp, c->n_out, p->p, 7);
    for (size_t i = 0; i < c->n_out; i++) c->grad[0][i] += p->tmp[i];
}

static void test_dropout(void) {
    /* more than OMP_MIN_WORK, so that the threads draw their parts */
    const size_t n = 100000;
    const float pr = 0.25f;
    float *x = frand(n, -1, 1), *y = falloc(n), *again = falloc(n), *other = falloc(n);
    memcpy(y, x, n * sizeof *y);
    dropout_hashed(y, n, pr, 42);
    size_t dropped = 0, bad = 0, differ = 0;
    for (size_t i = 0; i < n; i++) {
        dropped += y[i] == 0.0f && x[i] != 0.0f;
        bad += y[i] != 0.0f && y[i] != x[i] * (1.0f / (1.0f - pr));
    }
    CHECK(!bad, "dropout: %zu values are neither dropped nor scaled by 1/(1-p)", bad);
    CHECK(fabs((double)dropped / n - pr) < 0.01, "dropout: dropped fraction %g", (double)dropped / n);
    /* the mask is a function of (seed, i): the same on one thread, another with another seed */
    mslam_set_threads(1);
    memcpy(again, x, n * sizeof *x);
    dropout_hashed(again, n, pr, 42);
    mslam_set_threads(2);
    memcpy(other, x, n * sizeof *x);
    dropout_hashed(other, n, pr, 43);
    for (size_t i = 0; i < n; i++) differ += (other[i] == 0.0f) != (y[i] == 0.0f);
    CHECK(memcmp(again, y, n * sizeof *y) == 0, "dropout: one thread draws the mask of two");
    CHECK(differ > n / 4, "dropout: seed 43 drops other elements than 42 (%zu differ)", differ);
    memcpy(y, x, n * sizeof *y);
    dropout_hashed(y, n, 0.0f, 42);
    CHECK(memcmp(y, x, n * sizeof *y) == 0, "dropout: p = 0 changes nothing");
    dropout_hashed(y, n, 1.0f, 42);
    size_t left = 0;
    for (size_t i = 0; i < n; i++) left += y[i] != 0.0f;
    CHECK(left == 0, "dropout: p = 1 drops everything (%zu left)", left);

    drop_p p = {0.3f, falloc(50)};
    grad_case c = {.op = "dropout", .forward = drop_fwd, .backward = drop_bwd, .params = &p, .n_out = 50};
    add_input(&c, "x", frand(50, -1, 1), 50);
    c.out = falloc(50);
    run_case(&c, 1e-2f, 0);
}

/* ---- CTC ---- */

/* -log p by summing over all V^T alignments (collapse repeats, then drop blanks). */
static double ctc_brute(const float *lp, int T, int V, const int *targets, int L, int blank) {
    int path[16], out[16];
    long total = 1;
    for (int t = 0; t < T; t++) total *= V;
    double p = 0;
    for (long code = 0; code < total; code++) {
        long c = code;
        for (int t = 0; t < T; t++, c /= V) path[t] = (int)(c % V);
        int n = 0;
        for (int t = 0; t < T; t++)
            if (path[t] != blank && (t == 0 || path[t] != path[t - 1])) out[n++] = path[t];
        if (n != L || (L && memcmp(out, targets, L * sizeof *out))) continue;
        double lsum = 0;
        for (int t = 0; t < T; t++) lsum += lp[t * V + path[t]];
        p += exp(lsum);
    }
    return -log(p);
}

typedef struct {
    float *lp, *logits;
    int T, V, L, blank;
    const int *targets;
    double *scratch;
} ctc_ctx;

static double ctc_lp_loss(void *ctx) {
    ctc_ctx *c = ctx;
    return ctc_loss(NULL, c->lp, c->T, c->V, c->targets, c->L, c->blank, 1.0f, c->scratch);
}

/* loss through log_softmax of the logits */
static double ctc_logit_loss(void *ctx) {
    ctc_ctx *c = ctx;
    log_softmax_forward(c->lp, c->logits, c->T, c->V);
    return ctc_lp_loss(ctx);
}

static void test_ctc(void) {
    static const int aa[2] = {1, 1}, ab[2] = {1, 2}, b2[3] = {0, 0, 1};
    struct {
        int T, V, blank, L;
        const int *targets;
    } cases[] = {{5, 3, 0, 2, aa}, {5, 3, 0, 2, ab}, {4, 3, 0, 0, NULL}, {6, 3, 2, 3, b2}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int T = cases[i].T, V = cases[i].V;
        float *logits = frand((size_t)T * V, -2, 2), *lp = falloc((size_t)T * V);
        log_softmax_forward(lp, logits, T, V);
        double *scratch = dalloc(ctc_scratch_size(T, cases[i].L));
        double got = ctc_loss(NULL, lp, T, V, cases[i].targets, cases[i].L, cases[i].blank, 1.0f, scratch);
        double ref = ctc_brute(lp, T, V, cases[i].targets, cases[i].L, cases[i].blank);
        CHECK(fabs(got - ref) < 1e-5 * fabs(ref) + 1e-6, "ctc case %zu: loss %.9g, brute force %.9g", i, got, ref);
    }

    /* "a a" needs a blank between: 3 frames are the minimum, and there is one path */
    float *lp = frand(3 * 3, -3, -0.1f), *grad = falloc(9);
    double *scratch = dalloc(ctc_scratch_size(3, 2));
    double one = ctc_loss(grad, lp, 3, 3, aa, 2, 0, 1.0f, scratch);
    CHECK(fabs(one + lp[1] + lp[3] + lp[7]) < 1e-6, "ctc: single path loss %g", one);
    memset(grad, 0, 9 * sizeof *grad);
    double inf = ctc_loss(grad, lp, 2, 3, aa, 2, 0, 1.0f, scratch);
    int untouched = 1;
    for (int i = 0; i < 9; i++) untouched &= grad[i] == 0.0f;
    CHECK(inf == INFINITY && untouched, "ctc: T too short gives %g and %s gradient", inf,
          untouched ? "no" : "a");

    /* gradient with respect to log_probs; accumulated twice at scale 0.5 */
    static const int tg[3] = {1, 1, 2};
    ctc_ctx c = {.T = 7, .V = 4, .L = 3, .blank = 0, .targets = tg};
    c.logits = frand(28, -2, 2);
    c.lp = falloc(28);
    c.scratch = dalloc(ctc_scratch_size(7, 3));
    log_softmax_forward(c.lp, c.logits, 7, 4);
    float *g = falloc(28);
    ctc_loss(g, c.lp, 7, 4, tg, 3, 0, 0.5f, c.scratch);
    ctc_loss(g, c.lp, 7, 4, tg, 3, 0, 0.5f, c.scratch);
    double nmse = test_grad_check("ctc dlog_probs", ctc_lp_loss, &c, c.lp, g, 28, 1e-2f, 0);
    CHECK(nmse < GRAD_TOL, "ctc: log_probs gradient nmse %g", nmse);

    /* through log_softmax_backward: the gradient with respect to the logits */
    float *gl = falloc(28);
    log_softmax_backward(gl, g, c.lp, 7, 4);
    nmse = test_grad_check("ctc+log_softmax dlogits", ctc_logit_loss, &c, c.logits, gl, 28, 1e-2f, 0);
    CHECK(nmse < GRAD_TOL, "ctc: logits gradient nmse %g", nmse);
    double worst = 0;
    for (int t = 0; t < 7; t++) {
        double s = 0;
        for (int v = 0; v < 4; v++) s += gl[t * 4 + v];
        worst = fmax(worst, fabs(s));
    }
    CHECK(worst < 1e-5, "ctc: logits gradient rows sum to %g, not 0", worst);
}

/* ---- cross-entropy ---- */

typedef struct {
    float *logits;
    const int *targets;
    int n, V;
} ce_ctx;

static double ce_loss(void *ctx) {
    ce_ctx *c = ctx;
    return cross_entropy(NULL, c->logits, c->targets, c->n, c->V, 0.1f, -100, 1.0f, NULL);
}

static void test_cross_entropy(void) {
    static const int targets[5] = {2, -100, 6, 0, 3};
    ce_ctx c = {frand(35, -3, 3), targets, 5, 7};
    int counted = 0;
    double got = cross_entropy(NULL, c.logits, targets, 5, 7, 0.1f, -100, 1.0f, &counted);
    double ref = 0;
    for (int i = 0; i < 5; i++) {
        if (targets[i] == -100) continue;
        const float *x = c.logits + i * 7;
        double m = -INFINITY, z = 0, smooth = 0;
        for (int v = 0; v < 7; v++) m = fmax(m, x[v]);
        for (int v = 0; v < 7; v++) z += exp(x[v] - m);
        for (int v = 0; v < 7; v++) smooth += -(x[v] - m - log(z)) / 7;
        ref += 0.9 * -(x[targets[i]] - m - log(z)) + 0.1 * smooth;
    }
    CHECK(counted == 4, "cross_entropy: counted %d rows, not 4", counted);
    CHECK(fabs(got - ref) < 1e-9 * ref, "cross_entropy: %.12g, reference %.12g", got, ref);

    float *g = falloc(35);
    cross_entropy(g, c.logits, targets, 5, 7, 0.1f, -100, 0.5f, NULL);
    cross_entropy(g, c.logits, targets, 5, 7, 0.1f, -100, 0.5f, NULL);
    int ignored_zero = 1;
    for (int v = 0; v < 7; v++) ignored_zero &= g[7 + v] == 0.0f;
    CHECK(ignored_zero, "cross_entropy: ignored row has a gradient");
    double nmse = test_grad_check("cross_entropy dlogits", ce_loss, &c, c.logits, g, 35, 1e-2f, 0);
    CHECK(nmse < GRAD_TOL, "cross_entropy: gradient nmse %g", nmse);
}

int main(void) {
    mslam_rng_seed(&rng, 20240611);
    /* two threads, so that the per-thread paths (attention scratch slices, sums) run */
    mslam_set_threads(2);
    test_rng();
    test_sgemm();
    test_linear();
    test_layernorm();
    test_elementwise();
    test_dwconv();
    test_conv2d();
    test_softmax();
    test_sinusoid();
    test_attention();
    test_embedding();
    test_dropout();
    test_ctc();
    test_cross_entropy();
    free_all();
    return test_result("ops");
}
