/* CPU kernels declared in ops.h: the reference backend.
 *
 * Matrix products go through mslam_sgemm (BLAS above MSLAM_BLAS_MIN_WORK), everything else is
 * plain loops written so that GCC vectorises them at -O3; OpenMP splits work where it pays. */
#include "ops.h"

#include "common.h"

#include <cblas.h>
#include <dlfcn.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#ifdef _OPENMP
#include <omp.h>
#define OMP(...) _Pragma(#__VA_ARGS__)
#else
#define OMP(...)
#endif

/* Loops that carry the element-wise and attention work are compiled twice, for AVX2 + FMA
 * (x86-64-v3) and for the baseline ISA, and the loader picks one: the library stays portable and
 * vectorises 8 wide where the CPU allows (OpenMP's outlined bodies inherit the target). GCC 12
 * gives the ifunc symbols of such functions default visibility whatever -fvisibility or a
 * visibility attribute says: core/libmslam.map keeps them out of libmslam.so's exports. Not under
 * ThreadSanitizer: the loader resolves the ifuncs before TSan has started, and every program
 * crashed before main (GCC 12, -fsanitize=thread). */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) && !defined(__SANITIZE_THREAD__)
#define HOT_LOOPS __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define HOT_LOOPS
#endif

/* Below this many scalar operations an OpenMP team costs more than it saves. */
#define OMP_MIN_WORK 32768

#ifdef _OPENMP
/* Threads of the kernels called on this thread; 0 until mslam_use_threads: OpenMP's count.
 * Kept apart from OpenMP's own setting (every parallel region below says num_threads) so that a
 * public call leaves the caller's omp_get_max_threads() as it was. */
static _Thread_local int kernel_threads;
#endif

static int max_threads(void) {
#ifdef _OPENMP
    return kernel_threads > 0 ? kernel_threads : omp_get_max_threads();
#else
    return 1;
#endif
}

static int thread_id(void) {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

/* A float's bits as an int32 that orders like the float (negative values flipped), and back.
 * Integer comparisons let GCC if-convert clamps that float comparisons under the default
 * -ftrapping-math would leave as branches, which stops vectorisation. */
static inline int32_t float_key(float x) {
    int32_t b;
    memcpy(&b, &x, sizeof b);
    return b ^ ((b >> 31) & 0x7fffffff);
}

static inline float key_float(int32_t k) {
    k ^= (k >> 31) & 0x7fffffff;
    float x;
    memcpy(&x, &k, sizeof x);
    return x;
}

/* exp for softmax-like loops: Cephes' range reduction and polynomial (about 2 ulp on the clamped
 * range), written without calls or branches so that loops using it vectorise, which glibc's expf
 * does not at the default ISA level. Inputs are clamped to [-87.3, 88.3] (so below that 1e-38
 * comes out instead of 0, and NaN comes out finite). */
static inline float exp_fast(float x) {
    int32_t kx = float_key(x);
    const int32_t lo = float_key(-87.3f), hi = float_key(88.3f);
    kx = kx < lo ? lo : kx;
    kx = kx > hi ? hi : kx;
    x = key_float(kx);
    /* n = round(x / ln 2) by the 1.5 * 2^23 trick (exact for |x / ln 2| < 2^22) */
    float n = (x * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
    float r = x - n * 0.693359375f;
    r = r - n * -2.12194440e-4f;
    float poly = 1.9875691500e-4f;
    poly = poly * r + 1.3981999507e-3f;
    poly = poly * r + 8.3334519073e-3f;
    poly = poly * r + 4.1665795894e-2f;
    poly = poly * r + 1.6666665459e-1f;
    poly = poly * r + 5.0000001201e-1f;
    float e = poly * r * r + r + 1.0f;
    uint32_t bits = (uint32_t)((int32_t)n + 127) << 23;
    float two_n;
    memcpy(&two_n, &bits, sizeof two_n);
    return e * two_n;
}

static inline float sigmoidf(float x) { return 1.0f / (1.0f + exp_fast(-x)); }

/* Row reductions keep LANES partial results: GCC vectorises that shape without -ffast-math,
 * whereas one running sum fixes the order of the additions and stays scalar. */
#define LANES 8

static inline float lanes_total(const float *acc) {
    float t = 0.0f;
    for (int l = 0; l < LANES; l++) t += acc[l];
    return t;
}

static inline float row_sum(const float *x, int n) {
    float acc[LANES] = {0};
    int j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int l = 0; l < LANES; l++) acc[l] += x[j + l];
    for (; j < n; j++) acc[0] += x[j];
    return lanes_total(acc);
}

static inline float row_dot(const float *a, const float *b, int n) {
    float acc[LANES] = {0};
    int j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int l = 0; l < LANES; l++) acc[l] += a[j + l] * b[j + l];
    for (; j < n; j++) acc[0] += a[j] * b[j];
    return lanes_total(acc);
}

/* max of x (n >= 1), compared as integer keys (see float_key); NaN wins, as with fmax chains */
static inline float row_max(const float *x, int n) {
    int32_t acc[LANES];
    for (int l = 0; l < LANES; l++) acc[l] = float_key(-INFINITY);
    int j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int l = 0; l < LANES; l++) {
            int32_t k = float_key(x[j + l]);
            acc[l] = k > acc[l] ? k : acc[l];
        }
    for (; j < n; j++) {
        int32_t k = float_key(x[j]);
        acc[0] = k > acc[0] ? k : acc[0];
    }
    for (int l = 1; l < LANES; l++) acc[0] = acc[l] > acc[0] ? acc[l] : acc[0];
    return key_float(acc[0]);
}

/* y = exp(scale (x - m)) (y may be x); returns sum(y) */
static inline float exp_shift_sum(float *y, const float *x, int n, float scale, float m) {
    float acc[LANES] = {0};
    int j = 0;
    for (; j + LANES <= n; j += LANES)
        for (int l = 0; l < LANES; l++) {
            y[j + l] = exp_fast(scale * (x[j + l] - m));
            acc[l] += y[j + l];
        }
    for (; j < n; j++) {
        y[j] = exp_fast(scale * (x[j] - m));
        acc[0] += y[j];
    }
    return lanes_total(acc);
}

/* ---- random numbers: xoroshiro128+ seeded through splitmix64 ---- */

uint64_t mix64(uint64_t z) {
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

uint64_t hash_mix(uint64_t a, uint64_t b) { return mix64(a ^ mix64(b + 0x9e3779b97f4a7c15ull)); }

static uint64_t splitmix64(uint64_t *state) { return mix64(*state += 0x9e3779b97f4a7c15ull); }

static inline uint64_t rotl64(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

static uint64_t rng_next(mslam_rng *rng) {
    uint64_t s0 = rng->s[0], s1 = rng->s[1];
    uint64_t result = s0 + s1;
    s1 ^= s0;
    rng->s[0] = rotl64(s0, 24) ^ s1 ^ (s1 << 16);
    rng->s[1] = rotl64(s1, 37);
    return result;
}

void mslam_rng_seed(mslam_rng *rng, uint64_t seed) {
    /* splitmix64 never yields two zero words in a row, so the state is never all zero */
    rng->s[0] = splitmix64(&seed);
    rng->s[1] = splitmix64(&seed);
}

/* The low bits of xoroshiro128+ are weak: every output takes the high ones. */
uint32_t mslam_rng_u32(mslam_rng *rng) { return (uint32_t)(rng_next(rng) >> 32); }

float mslam_rng_uniform(mslam_rng *rng) { return (float)(rng_next(rng) >> 40) * 0x1.0p-24f; }

float mslam_rng_normal(mslam_rng *rng) {
    /* Box-Muller; u1 in (0, 1] keeps the log finite. One draw per call: the state has no room
     * for the second value. */
    double u1 = 1.0 - (double)(rng_next(rng) >> 11) * 0x1.0p-53;
    double u2 = (double)(rng_next(rng) >> 11) * 0x1.0p-53;
    return (float)(sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

/* ---- matrix product ---- */

/* C (M, N) = alpha op(A) op(B) + beta C by loops, for products too small for BLAS' packing to pay.
 * beta == 0 overwrites C without reading it (it may hold NaN garbage). */
HOT_LOOPS static void sgemm_loops(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                        int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    for (int i = 0; i < M; i++) {
        float *c = C + (size_t)i * ldc;
        if (!trans_b) {
            /* rows of B are contiguous: axpy of each into the row of C */
            if (beta == 0.0f)
                for (int j = 0; j < N; j++) c[j] = 0.0f;
            else if (beta != 1.0f)
                for (int j = 0; j < N; j++) c[j] *= beta;
            for (int p = 0; p < K; p++) {
                float a = alpha * (trans_a ? A[(size_t)p * lda + i] : A[(size_t)i * lda + p]);
                const float *b = B + (size_t)p * ldb;
                for (int j = 0; j < N; j++) c[j] += a * b[j];
            }
        } else {
            /* B (N, K): each C element is a dot product of contiguous rows (when A is not
             * transposed) */
            for (int j = 0; j < N; j++) {
                const float *b = B + (size_t)j * ldb;
                float sum;
                if (!trans_a) {
                    sum = row_dot(A + (size_t)i * lda, b, K);
                } else {
                    sum = 0.0f;
                    for (int p = 0; p < K; p++) sum += A[(size_t)p * lda + i] * b[p];
                }
                c[j] = beta == 0.0f ? alpha * sum : alpha * sum + beta * c[j];
            }
        }
    }
}

/* One thread pool: ours. OpenBLAS' pthreads build does not notice calls from inside an OpenMP
 * team, and its spinning threads and OpenMP's idle ones fight for the same cores; so with OpenMP
 * BLAS always runs on the calling thread and large products are split over the team here. */
#ifdef _OPENMP
static pthread_once_t blas_serial_once = PTHREAD_ONCE_INIT;
static void blas_serial(void) {
#ifdef OPENBLAS_VERSION
    openblas_set_num_threads(1);
#endif
}
#endif

/* Debian 12's OpenBLAS (0.3.21, built for every x86-64 core) picks its kernels by the CPU's model
 * number and falls back to its Prescott (SSE3) kernels for a model it does not know, such as
 * Intel's Emerald Rapids (family 6, model 207): the trainer's steps then run at well under half
 * the speed of its SkylakeX (AVX-512) kernels, which that CPU runs. So when OpenBLAS fell back
 * and the user chose no core (OPENBLAS_CORETYPE), the kernels are picked once more by what the
 * CPU can do, in OpenBLAS's own way of forcing a core: that variable, read by its
 * gotoblas_dynamic_init (looked up at run time: a BLAS built otherwise is left as it is). The
 * environment is left as it was. It is process-wide and not atomic: another thread reading the
 * environment, or calling OpenBLAS itself, meanwhile would race with it; so it runs when the
 * library is loaded (for a program linked with mslam, before main and its threads; for a plugin,
 * at its dlopen), and at the latest before mslam's first BLAS call. An application with
 * OpenBLAS work of its own on other threads can set OPENBLAS_CORETYPE: nothing is changed then. */
static pthread_once_t blas_kernels_once = PTHREAD_ONCE_INIT;
static void blas_pick_kernels(void) {
#if defined(OPENBLAS_VERSION) && defined(__x86_64__) && defined(__GNUC__)
    const char *core = openblas_get_corename();
    if (getenv("OPENBLAS_CORETYPE") || !core || strcasecmp(core, "prescott")) return;
    __builtin_cpu_init();
    const char *better = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                                 __builtin_cpu_supports("avx512dq") && __builtin_cpu_supports("avx512vl")
                             ? "SkylakeX"
                         : __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? "Haswell"
                                                                                            : NULL;
    void (*quit)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "gotoblas_dynamic_quit");
    void (*init)(void) = (void (*)(void))dlsym(RTLD_DEFAULT, "gotoblas_dynamic_init");
    if (!better || !quit || !init) return;
    setenv("OPENBLAS_CORETYPE", better, 1);
    quit();
    init();
    unsetenv("OPENBLAS_CORETYPE");
    mslam_log(MSLAM_LOG_INFO, "OpenBLAS did not know this CPU and took its Prescott kernels; it now runs its %s "
              "kernels, which the CPU supports (OPENBLAS_CORETYPE chooses otherwise)", openblas_get_corename());
#endif
}

#if defined(__GNUC__)
__attribute__((constructor)) static void blas_pick_kernels_at_load(void) {
    pthread_once(&blas_kernels_once, blas_pick_kernels);
}
#endif

static void blas_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A,
                       int lda, const float *B, int ldb, float beta, float *C, int ldc) {
    /* OpenBLAS zeroes C itself when beta == 0 (it does not multiply old contents by 0) */
    cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans, trans_b ? CblasTrans : CblasNoTrans,
                M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

/* Products with at least this many multiply-adds are split over the threads. */
#define SGEMM_SPLIT_MIN_WORK (1 << 20)
/* The share of a side of C (len rows or columns) each of team threads takes, rounded up to a
 * multiple of 16 (for columns: whole 64-byte lines, so no two threads write one cache line). */
static int thread_block(int len, int team) { return ((len + team - 1) / team + 15) / 16 * 16; }

/* Products with at most this many rows of C go row by row through sgemv: measured on one Zen
 * core with OpenBLAS 0.3.21 for (N, K) of the default model's layers, sgemv rows take 1/4..1/7 of
 * sgemm's time for 1 row, 1/2.4 for 2, break even at 4 and lose at 8. */
#define GEMV_MAX_ROWS 3

/* C (M, N) row by row: C_i = alpha op(B)^T a_i + beta C_i, where a_i is row i of op(A). For a
 * row or two (a greedy decoder step, a small beam) sgemm spends most of its time packing B into
 * blocks; sgemv streams B once in place. Columns are split over the threads for large products. */
static void gemv_rows(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                      const float *B, int ldb, float beta, float *C, int ldc, int team) {
    int block = team > 1 ? thread_block(N, team) : N;
    /* BLAS may multiply old contents by 0 (NaN stays NaN): with beta 0, C is cleared and added to */
    float beta_c = beta == 0.0f ? 1.0f : beta;
    OMP(omp parallel for schedule(static, 1) if (team > 1) num_threads(team))
    for (int start = 0; start < N; start += block) {
        int n = N - start < block ? N - start : block;
        for (int i = 0; i < M; i++) {
            float *c = C + (size_t)i * ldc + start;
            if (beta == 0.0f) memset(c, 0, (size_t)n * sizeof *c);
            const float *a = trans_a ? A + i : A + (size_t)i * lda;
            int inc_a = trans_a ? lda : 1;
            if (trans_b) /* B (N, K): C_i = B a_i */
                cblas_sgemv(CblasRowMajor, CblasNoTrans, n, K, alpha, B + (size_t)start * ldb, ldb, a, inc_a, beta_c, c, 1);
            else /* B (K, N): C_i = B^T a_i */
                cblas_sgemv(CblasRowMajor, CblasTrans, K, n, alpha, B + start, ldb, a, inc_a, beta_c, c, 1);
        }
    }
}

void mslam_sgemm(int trans_a, int trans_b, int M, int N, int K, float alpha, const float *A, int lda,
                 const float *B, int ldb, float beta, float *C, int ldc) {
    if (M <= 0 || N <= 0) return;
    double work = (double)M * N * K;
    if (work < MSLAM_BLAS_MIN_WORK) {
        sgemm_loops(trans_a, trans_b, M, N, K < 0 ? 0 : K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    pthread_once(&blas_kernels_once, blas_pick_kernels);
#ifdef _OPENMP
    pthread_once(&blas_serial_once, blas_serial);
    /* threads for this product: none inside a parallel region or for small work */
    int team = work >= SGEMM_SPLIT_MIN_WORK && !omp_in_parallel() ? max_threads() : 1;
#else
    int team = 1;
#endif
    if (M <= GEMV_MAX_ROWS) {
        gemv_rows(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc, team);
        return;
    }
#ifdef _OPENMP
    if (team > 1) {
        /* split the longer side of C, a block per thread */
        int split_rows = M >= N;
        int len = split_rows ? M : N;
        int block = thread_block(len, team);
        OMP(omp parallel for schedule(static, 1) num_threads(team))
        for (int start = 0; start < len; start += block) {
            int n = len - start < block ? len - start : block;
            if (split_rows)
                blas_sgemm(trans_a, trans_b, n, N, K, alpha, trans_a ? A + start : A + (size_t)start * lda, lda,
                           B, ldb, beta, C + (size_t)start * ldc, ldc);
            else
                blas_sgemm(trans_a, trans_b, M, n, K, alpha, A, lda, trans_b ? B + (size_t)start * ldb : B + start,
                           ldb, beta, C + start, ldc);
        }
        return;
    }
#endif
    blas_sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

int mslam_get_threads(void) {
#ifdef _OPENMP
    return max_threads();
#elif defined(OPENBLAS_VERSION)
    return openblas_get_num_threads();
#else
    return 1;
#endif
}

/* n_threads, or OpenMP's count on this thread when n_threads <= 0: OMP_NUM_THREADS or the
 * caller's omp_set_num_threads, else all the cores the process may run on; at most
 * MSLAM_THREADS_PER_CORE a core or MSLAM_THREADS_ANYWAY, whichever is more (a team of 100,000
 * overflowed libgomp's stacks, and many more threads than cores only wait on each other) */
#define MSLAM_THREADS_PER_CORE 4
#define MSLAM_THREADS_ANYWAY 64
static int threads_or_all(int n_threads) {
#ifdef _OPENMP
    int most = MSLAM_THREADS_PER_CORE * (omp_get_num_procs() > 0 ? omp_get_num_procs() : 1);
    if (most < MSLAM_THREADS_ANYWAY) most = MSLAM_THREADS_ANYWAY;
    int n = n_threads > 0 ? n_threads : omp_get_max_threads();
    return n < most ? n : most;
#else
    return n_threads > 0 ? n_threads : 1; /* OpenBLAS caps its own count */
#endif
}

void mslam_use_threads(int n_threads) {
    n_threads = threads_or_all(n_threads);
#ifdef _OPENMP
    kernel_threads = n_threads;
#elif defined(OPENBLAS_VERSION)
    openblas_set_num_threads(n_threads);
#endif
}

void mslam_set_threads(int n_threads) {
    mslam_use_threads(n_threads);
#ifdef _OPENMP
    omp_set_num_threads(threads_or_all(n_threads));
#endif
}

/* ---- linear ---- */

/* y (n, out) = x (n, in) . w^T (in, out) + b */
void linear_forward(float *y, const float *x, const float *w, const float *b, int n, int in, int out) {
    if (b)
        for (int i = 0; i < n; i++) memcpy(y + (size_t)i * out, b, (size_t)out * sizeof *y);
    mslam_sgemm(0, 1, n, out, in, 1.0f, x, in, w, in, b ? 1.0f : 0.0f, y, out);
}

/* dx (n, in) += dy (n, out) . w (out, in);  dw (out, in) += dy^T . x;  db (out) += sum_rows dy */
void linear_backward(float *dx, float *dw, float *db, const float *dy, const float *x, const float *w,
                     int n, int in, int out) {
    if (dx) mslam_sgemm(0, 0, n, in, out, 1.0f, dy, out, w, in, 1.0f, dx, in);
    if (dw) mslam_sgemm(1, 0, out, in, n, 1.0f, dy, out, x, in, 1.0f, dw, in);
    if (db)
        for (int i = 0; i < n; i++) {
            const float *row = dy + (size_t)i * out;
            for (int o = 0; o < out; o++) db[o] += row[o];
        }
}

/* ---- layernorm ---- */

/* x, y (n, d); w, b (d); mean, rstd (n). Biased variance, as torch. */
HOT_LOOPS void layernorm_forward(float *y, float *mean, float *rstd, const float *x, const float *w,
                       const float *b, int n, int d) {
    OMP(omp parallel for if ((size_t)n * d >= OMP_MIN_WORK) num_threads(max_threads()))
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * d;
        float *yi = y + (size_t)i * d;
        float m = row_sum(xi, d) / d;
        for (int c = 0; c < d; c++) yi[c] = xi[c] - m;
        float rs = 1.0f / sqrtf(row_dot(yi, yi, d) / d + MSLAM_LN_EPS);
        for (int c = 0; c < d; c++) yi[c] = yi[c] * rs * w[c] + b[c];
        mean[i] = m;
        rstd[i] = rs;
    }
}

/* dx (n, d) += rstd (dnorm - mean(dnorm) - norm mean(dnorm norm)) with dnorm = dy w;
 * dw (d) += sum_rows dy norm;  db (d) += sum_rows dy */
HOT_LOOPS void layernorm_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                        const float *mean, const float *rstd, const float *w, int n, int d) {
    if (dx) {
        OMP(omp parallel for if ((size_t)n * d >= OMP_MIN_WORK) num_threads(max_threads()))
        for (int i = 0; i < n; i++) {
            const float *xi = x + (size_t)i * d, *dyi = dy + (size_t)i * d;
            float *dxi = dx + (size_t)i * d;
            float m = mean[i], rs = rstd[i];
            /* sums of dnorm and dnorm * norm, in lanes (see LANES) */
            float acc_dn[LANES] = {0}, acc_dn_norm[LANES] = {0};
            int c0 = 0;
            for (; c0 + LANES <= d; c0 += LANES)
                for (int l = 0; l < LANES; l++) {
                    float dn = dyi[c0 + l] * w[c0 + l];
                    acc_dn[l] += dn;
                    acc_dn_norm[l] += dn * (xi[c0 + l] - m) * rs;
                }
            for (; c0 < d; c0++) {
                float dn = dyi[c0] * w[c0];
                acc_dn[0] += dn;
                acc_dn_norm[0] += dn * (xi[c0] - m) * rs;
            }
            float sum_dn = lanes_total(acc_dn) / d, sum_dn_norm = lanes_total(acc_dn_norm) / d;
            for (int c = 0; c < d; c++) {
                float norm = (xi[c] - m) * rs;
                dxi[c] += rs * (dyi[c] * w[c] - sum_dn - norm * sum_dn_norm);
            }
        }
    }
    /* parameter gradients sum over rows: serial over rows, vectorised over d (cheap) */
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * d, *dyi = dy + (size_t)i * d;
        float m = mean[i], rs = rstd[i];
        if (dw)
            for (int c = 0; c < d; c++) dw[c] += dyi[c] * (xi[c] - m) * rs;
        if (db)
            for (int c = 0; c < d; c++) db[c] += dyi[c];
    }
}

/* ---- element-wise ---- */

HOT_LOOPS void swish_forward(float *y, const float *x, size_t n) {
    OMP(omp parallel for if (n >= OMP_MIN_WORK) num_threads(max_threads()))
    for (size_t i = 0; i < n; i++) y[i] = x[i] * sigmoidf(x[i]);
}

/* d(x s(x))/dx = s (1 + x (1 - s)) */
HOT_LOOPS void swish_backward(float *dx, const float *dy, const float *x, size_t n) {
    OMP(omp parallel for if (n >= OMP_MIN_WORK) num_threads(max_threads()))
    for (size_t i = 0; i < n; i++) {
        float s = sigmoidf(x[i]);
        dx[i] += dy[i] * s * (1.0f + x[i] * (1.0f - s));
    }
}

HOT_LOOPS void relu_forward(float *y, const float *x, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = x[i] > 0.0f ? x[i] : 0.0f;
}

HOT_LOOPS void relu_backward(float *dx, const float *dy, const float *y, size_t n) {
    /* y > 0 compared as integers so that the loop vectorises (see float_key) */
    for (size_t i = 0; i < n; i++) dx[i] += float_key(y[i]) > 0 ? dy[i] : 0.0f;
}

HOT_LOOPS void add_scaled(float *y, const float *a, const float *b, float scale, size_t n) {
    for (size_t i = 0; i < n; i++) y[i] = a[i] + scale * b[i];
}

/* ---- GLU: x (n, 2d) = [a | b] -> y (n, d) = a sigmoid(b) ---- */

HOT_LOOPS void glu_forward(float *y, const float *x, int n, int d) {
    OMP(omp parallel for if ((size_t)n * d >= OMP_MIN_WORK) num_threads(max_threads()))
    for (int i = 0; i < n; i++) {
        const float *a = x + (size_t)i * 2 * d, *g = a + d;
        float *yi = y + (size_t)i * d;
        for (int c = 0; c < d; c++) yi[c] = a[c] * sigmoidf(g[c]);
    }
}

/* da += dy s(b);  db += dy a s(b) (1 - s(b)) */
HOT_LOOPS void glu_backward(float *dx, const float *dy, const float *x, int n, int d) {
    OMP(omp parallel for if ((size_t)n * d >= OMP_MIN_WORK) num_threads(max_threads()))
    for (int i = 0; i < n; i++) {
        const float *a = x + (size_t)i * 2 * d, *g = a + d, *dyi = dy + (size_t)i * d;
        float *da = dx + (size_t)i * 2 * d, *dg = da + d;
        for (int c = 0; c < d; c++) {
            float s = sigmoidf(g[c]);
            da[c] += dyi[c] * s;
            dg[c] += dyi[c] * a[c] * s * (1.0f - s);
        }
    }
}

/* ---- depthwise conv1d, channels last ---- */

/* Channels are processed in blocks of DW_CB with the taps of the block transposed to (tap,
 * channel) in a stack tile of DW_KB taps, so that the innermost loops run over contiguous
 * channels in x, y and the tile. */
#define DW_CB 32
#define DW_KB 32

static int dw_len(const int *lengths, int b, int T_in) {
    int len = lengths ? lengths[b] : T_in;
    return len < 0 ? 0 : len > T_in ? T_in : len;
}

/* Taps j in [j0, j1) of output row t read input rows t - pad_left + j inside [0, len). */
static void dw_tap_range(int t, int pad_left, int len, int j0, int j1, int *lo, int *hi) {
    int a = pad_left - t, b = len + pad_left - t;
    *lo = a > j0 ? a : j0;
    *hi = b < j1 ? b : j1;
}

/* x (B, T_in, d), w (d, k), b (d) -> y (B, T_out, d) */
HOT_LOOPS void dwconv1d_forward(float *y, const float *x, const float *w, const float *b, int B, int T_in,
                      int T_out, int d, int k, int pad_left, const int *lengths) {
    int n_cb = (d + DW_CB - 1) / DW_CB;
    OMP(omp parallel for schedule(static) if ((size_t)B * T_out * d * k >= OMP_MIN_WORK) num_threads(max_threads()))
    for (int task = 0; task < B * n_cb; task++) {
        int bi = task / n_cb, c0 = (task % n_cb) * DW_CB;
        int cw = d - c0 < DW_CB ? d - c0 : DW_CB;
        int len = dw_len(lengths, bi, T_in);
        const float *xb = x + (size_t)bi * T_in * d + c0;
        float *yb = y + (size_t)bi * T_out * d + c0;
        float tile[DW_KB][DW_CB];
        for (int t = 0; t < T_out; t++)
            for (int c = 0; c < cw; c++) yb[(size_t)t * d + c] = b ? b[c0 + c] : 0.0f;
        for (int j0 = 0; j0 < k; j0 += DW_KB) {
            int j1 = j0 + DW_KB < k ? j0 + DW_KB : k;
            for (int j = j0; j < j1; j++)
                for (int c = 0; c < cw; c++) tile[j - j0][c] = w[(size_t)(c0 + c) * k + j];
            for (int t = 0; t < T_out; t++) {
                int lo, hi;
                dw_tap_range(t, pad_left, len, j0, j1, &lo, &hi);
                float *yt = yb + (size_t)t * d;
                for (int j = lo; j < hi; j++) {
                    const float *xr = xb + (size_t)(t - pad_left + j) * d;
                    const float *wt = tile[j - j0];
                    for (int c = 0; c < cw; c++) yt[c] += wt[c] * xr[c];
                }
            }
        }
    }
}

/* dx (B, T_in, d) += scatter of w dy;  dw (d, k) += sum_{b,t} dy x(shifted);  db (d) += sum dy */
HOT_LOOPS void dwconv1d_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                       const float *w, int B, int T_in, int T_out, int d, int k, int pad_left,
                       const int *lengths) {
    int n_cb = (d + DW_CB - 1) / DW_CB;
    if (dx) {
        /* each (item, channel block) owns its part of dx */
        OMP(omp parallel for schedule(static) if ((size_t)B * T_out * d * k >= OMP_MIN_WORK) num_threads(max_threads()))
        for (int task = 0; task < B * n_cb; task++) {
            int bi = task / n_cb, c0 = (task % n_cb) * DW_CB;
            int cw = d - c0 < DW_CB ? d - c0 : DW_CB;
            int len = dw_len(lengths, bi, T_in);
            const float *dyb = dy + (size_t)bi * T_out * d + c0;
            float *dxb = dx + (size_t)bi * T_in * d + c0;
            float tile[DW_KB][DW_CB];
            for (int j0 = 0; j0 < k; j0 += DW_KB) {
                int j1 = j0 + DW_KB < k ? j0 + DW_KB : k;
                for (int j = j0; j < j1; j++)
                    for (int c = 0; c < cw; c++) tile[j - j0][c] = w[(size_t)(c0 + c) * k + j];
                for (int t = 0; t < T_out; t++) {
                    int lo, hi;
                    dw_tap_range(t, pad_left, len, j0, j1, &lo, &hi);
                    const float *dyt = dyb + (size_t)t * d;
                    for (int j = lo; j < hi; j++) {
                        float *dxr = dxb + (size_t)(t - pad_left + j) * d;
                        const float *wt = tile[j - j0];
                        for (int c = 0; c < cw; c++) dxr[c] += wt[c] * dyt[c];
                    }
                }
            }
        }
    }
    if (dw) {
        /* each (channel block, tap block) owns its dw entries and sums over all items and rows
         * into a stack tile; blocks of DW_CB / 2 channels give more tasks than channel blocks */
        const int cb = DW_CB / 2, n_cbw = (d + cb - 1) / cb, n_kb = (k + DW_KB - 1) / DW_KB;
        OMP(omp parallel for schedule(dynamic, 1) if ((size_t)B * T_out * d * k >= OMP_MIN_WORK) num_threads(max_threads()))
        for (int task = 0; task < n_cbw * n_kb; task++) {
            int c0 = (task / n_kb) * cb, j0 = (task % n_kb) * DW_KB;
            int cw = d - c0 < cb ? d - c0 : cb, j1 = j0 + DW_KB < k ? j0 + DW_KB : k;
            float acc[DW_KB][DW_CB / 2] = {{0}};
            for (int bi = 0; bi < B; bi++) {
                int len = dw_len(lengths, bi, T_in);
                const float *dyb = dy + (size_t)bi * T_out * d + c0;
                const float *xb = x + (size_t)bi * T_in * d + c0;
                for (int t = 0; t < T_out; t++) {
                    int lo, hi;
                    dw_tap_range(t, pad_left, len, j0, j1, &lo, &hi);
                    const float *dyt = dyb + (size_t)t * d;
                    for (int j = lo; j < hi; j++) {
                        const float *xr = xb + (size_t)(t - pad_left + j) * d;
                        float *a = acc[j - j0];
                        for (int c = 0; c < cw; c++) a[c] += dyt[c] * xr[c];
                    }
                }
            }
            for (int j = j0; j < j1; j++)
                for (int c = 0; c < cw; c++) dw[(size_t)(c0 + c) * k + j] += acc[j - j0][c];
        }
    }
    if (db)
        for (size_t r = 0; r < (size_t)B * T_out; r++)
            for (int c = 0; c < d; c++) db[c] += dy[r * d + c];
}

/* ---- conv2d 3x3 stride 2 valid, NCHW ---- */

static int conv_out(int n) { return n >= 3 ? (n - 3) / 2 + 1 : 0; }

size_t conv2d_scratch_size(int C_in, int H, int W) {
    return (size_t)C_in * 9 * conv_out(H) * conv_out(W);
}

/* x (C_in, H, W) of one item -> col (C_in*9, H'*W'), row ci*9 + kh*3 + kw */
HOT_LOOPS static void im2col(float *col, const float *x, int C_in, int H, int W) {
    int Ho = conv_out(H), Wo = conv_out(W);
    OMP(omp parallel for if ((size_t)C_in * 9 * Ho * Wo >= OMP_MIN_WORK) num_threads(max_threads()))
    for (int ci = 0; ci < C_in; ci++)
        for (int kk = 0; kk < 9; kk++) {
            int kh = kk / 3, kw = kk % 3;
            float *row = col + ((size_t)ci * 9 + kk) * Ho * Wo;
            for (int oh = 0; oh < Ho; oh++) {
                const float *xr = x + ((size_t)ci * H + 2 * oh + kh) * W + kw;
                for (int ow = 0; ow < Wo; ow++) row[oh * Wo + ow] = xr[2 * ow];
            }
        }
}

/* dx (C_in, H, W) += col2im(dcol (C_in*9, H'*W')); windows overlap, so it accumulates */
HOT_LOOPS static void col2im_add(float *dx, const float *dcol, int C_in, int H, int W) {
    int Ho = conv_out(H), Wo = conv_out(W);
    /* channels are independent; within a channel the 9 taps run in turn */
    OMP(omp parallel for if ((size_t)C_in * 9 * Ho * Wo >= OMP_MIN_WORK) num_threads(max_threads()))
    for (int ci = 0; ci < C_in; ci++)
        for (int kk = 0; kk < 9; kk++) {
            int kh = kk / 3, kw = kk % 3;
            const float *row = dcol + ((size_t)ci * 9 + kk) * Ho * Wo;
            for (int oh = 0; oh < Ho; oh++) {
                float *dxr = dx + ((size_t)ci * H + 2 * oh + kh) * W + kw;
                for (int ow = 0; ow < Wo; ow++) dxr[2 * ow] += row[oh * Wo + ow];
            }
        }
}

/* x (B, C_in, H, W), w (C_out, C_in*9), b (C_out) -> y (B, C_out, H'*W') = w . col_b + b */
void conv2d_forward(float *y, const float *x, const float *w, const float *b, int B, int C_in, int H,
                    int W, int C_out, float *scratch) {
    int HWo = conv_out(H) * conv_out(W), K = C_in * 9;
    for (int bi = 0; bi < B; bi++) {
        float *yb = y + (size_t)bi * C_out * HWo;
        im2col(scratch, x + (size_t)bi * C_in * H * W, C_in, H, W);
        for (int co = 0; co < C_out; co++)
            for (int p = 0; p < HWo; p++) yb[(size_t)co * HWo + p] = b ? b[co] : 0.0f;
        mslam_sgemm(0, 0, C_out, HWo, K, 1.0f, w, K, scratch, HWo, 1.0f, yb, HWo);
    }
}

/* db += sum dy_b;  dw (C_out, C_in*9) += dy_b . col_b^T;  dx_b += col2im(w^T . dy_b) */
void conv2d_backward(float *dx, float *dw, float *db, const float *dy, const float *x,
                     const float *w, int B, int C_in, int H, int W, int C_out, float *scratch) {
    int HWo = conv_out(H) * conv_out(W), K = C_in * 9;
    for (int bi = 0; bi < B; bi++) {
        const float *dyb = dy + (size_t)bi * C_out * HWo;
        if (db)
            for (int co = 0; co < C_out; co++)
                for (int p = 0; p < HWo; p++) db[co] += dyb[(size_t)co * HWo + p];
        if (dw) {
            im2col(scratch, x + (size_t)bi * C_in * H * W, C_in, H, W);
            mslam_sgemm(0, 1, C_out, K, HWo, 1.0f, dyb, HWo, scratch, HWo, 1.0f, dw, K);
        }
        if (dx) {
            /* the scratch now holds dcol; col is no longer needed */
            mslam_sgemm(1, 0, K, HWo, C_out, 1.0f, w, K, dyb, HWo, 0.0f, scratch, HWo);
            col2im_add(dx + (size_t)bi * C_in * H * W, scratch, C_in, H, W);
        }
    }
}

/* ---- softmax / log-softmax over the last dim ---- */

HOT_LOOPS void softmax_forward(float *y, const float *x, int n, int d) {
    OMP(omp parallel for if ((size_t)n * d >= OMP_MIN_WORK) num_threads(max_threads()))
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * d;
        float *yi = y + (size_t)i * d;
        float inv = 1.0f / exp_shift_sum(yi, xi, d, 1.0f, row_max(xi, d));
        for (int c = 0; c < d; c++) yi[c] *= inv;
    }
}

/* dx += y (dy - sum(dy y)) */
HOT_LOOPS void softmax_backward(float *dx, const float *dy, const float *y, int n, int d) {
    OMP(omp parallel for if ((size_t)n * d >= OMP_MIN_WORK) num_threads(max_threads()))
    for (int i = 0; i < n; i++) {
        const float *yi = y + (size_t)i * d, *dyi = dy + (size_t)i * d;
        float *dxi = dx + (size_t)i * d;
        float dot = row_dot(dyi, yi, d);
        for (int c = 0; c < d; c++) dxi[c] += yi[c] * (dyi[c] - dot);
    }
}

HOT_LOOPS void log_softmax_forward(float *y, const float *x, int n, int d) {
    OMP(omp parallel for if ((size_t)n * d >= OMP_MIN_WORK) num_threads(max_threads()))
    for (int i = 0; i < n; i++) {
        const float *xi = x + (size_t)i * d;
        float *yi = y + (size_t)i * d;
        /* y holds exp(x - m) until the last loop overwrites it */
        float m = row_max(xi, d);
        float lse = m + logf(exp_shift_sum(yi, xi, d, 1.0f, m));
        for (int c = 0; c < d; c++) yi[c] = xi[c] - lse;
    }
}

/* dx += dy - exp(y) sum(dy) */
HOT_LOOPS void log_softmax_backward(float *dx, const float *dy, const float *y, int n, int d) {
    OMP(omp parallel for if ((size_t)n * d >= OMP_MIN_WORK) num_threads(max_threads()))
    for (int i = 0; i < n; i++) {
        const float *yi = y + (size_t)i * d, *dyi = dy + (size_t)i * d;
        float *dxi = dx + (size_t)i * d;
        float sum = row_sum(dyi, d);
        for (int c = 0; c < d; c++) dxi[c] += dyi[c] - exp_fast(yi[c]) * sum;
    }
}

/* ---- sinusoidal table ---- */

void sinusoid_table(float *out, int pos0, int n, int d) {
    for (int i = 0; i < n; i++) {
        double p = (double)pos0 + i;
        for (int m = 0; 2 * m < d; m++) {
            double angle = p * pow(10000.0, -2.0 * m / d);
            out[(size_t)i * d + 2 * m] = (float)sin(angle);
            out[(size_t)i * d + 2 * m + 1] = (float)cos(angle);
        }
    }
}

/* ---- attention ---- */

int attn_visible(const attn_mask *mask, int q_abs, int j, int key_len) {
    if (j < 0 || j >= key_len) return 0;
    if (!mask) return 1;
    if (mask->chunk > 0) {
        int cq = q_abs / mask->chunk, ck = j / mask->chunk;
        if (ck > cq) return 0;
        if (mask->left_chunks >= 0 && ck < cq - mask->left_chunks) return 0;
    }
    if (mask->causal && j > q_abs) return 0;
    return 1;
}

/* The keys that query q_abs (>= 0) sees form one run [lo, hi) of [0, Tk) (empty when lo >= hi):
 * the same set as attn_visible, computed once per row. */
static void visible_range(const attn_mask *mask, int q_abs, int key_len, int Tk, int *lo, int *hi) {
    int l = 0, h = key_len < Tk ? key_len : Tk;
    if (mask && mask->chunk > 0) {
        /* 64 bits: a chunk and a left context of any int size (a caller's parameters) */
        long long chunk = mask->chunk, cq = q_abs / mask->chunk;
        if ((cq + 1) * chunk < h) h = (int)((cq + 1) * chunk);
        if (mask->left_chunks >= 0 && (cq - mask->left_chunks) * chunk > l) l = (int)((cq - mask->left_chunks) * chunk);
    }
    if (mask && mask->causal && q_abs + 1 < h) h = q_abs + 1;
    *lo = l;
    *hi = h;
}

/* row (Tk) = softmax over [lo, hi) of scale * row, zero elsewhere (all zero when empty) */
static inline __attribute__((always_inline)) void masked_softmax_row(float *row, int Tk, float scale, int lo, int hi) {
    if (lo >= hi) {
        memset(row, 0, (size_t)Tk * sizeof *row);
        return;
    }
    float inv = 1.0f / exp_shift_sum(row + lo, row + lo, hi - lo, scale, row_max(row + lo, hi - lo));
    for (int j = lo; j < hi; j++) row[j] *= inv;
    for (int j = 0; j < lo; j++) row[j] = 0.0f;
    for (int j = hi; j < Tk; j++) row[j] = 0.0f;
}

/* One thread's part of the attention scratch, as float offsets (each a multiple of 16 floats).
 * rel: relative-position attention; the buffers only it needs are empty otherwise. */
typedef struct {
    size_t qu, qv, tmp; /* (Tq, dh): q + u, q + v, a dq term (a query block's rows when blocked) */
    size_t s;           /* (Tq, Tk): dscores in backward; a query block's scores when blocked */
    size_t pos;         /* (Tq, R): positional scores; their gradient in backward (blocked: a block's) */
    size_t acc;         /* (R, H*dh) + 2 (H*dh): this thread's sums for dp, dpos_u, dpos_v */
    size_t total;
} attn_slice;

static size_t round16(size_t n) { return (n + 15) & ~(size_t)15; }

/* Query rows a forward pass without probs (inference) takes at a time: its scratch grows with
 * the keys, not with their square, and a chunk mask bounds the keys a block sees. */
#define ATTN_QUERY_BLOCK 64

/* blocked: the forward without probs, ATTN_QUERY_BLOCK query rows at a time (no backward) */
static attn_slice attn_layout(int Tq, int Tk, int H, int dh, int rel, int blocked) {
    if (blocked && Tq > ATTN_QUERY_BLOCK) Tq = ATTN_QUERY_BLOCK;
    size_t R = rel ? (size_t)Tq + Tk - 1 : 0, tqdh = rel ? (size_t)Tq * dh : 0;
    attn_slice L;
    L.qu = 0;
    L.qv = L.qu + round16(tqdh);
    L.tmp = L.qv + round16(tqdh);
    L.s = L.tmp + round16(tqdh);
    L.pos = L.s + round16((size_t)Tq * Tk);
    L.acc = L.pos + round16((size_t)Tq * R);
    L.total = L.acc + (rel && !blocked ? round16((R + 2) * H * dh) : 0);
    return L;
}

/* Scratch holds one slice per thread of the team the kernels start, which is
 * mslam_get_threads() of the calling thread: size it after the last mslam_use_threads (or
 * mslam_set_threads) that raises the count. */
size_t relattn_scratch_size(int Tq, int Tk, int H, int dh, int backward) {
    return (size_t)max_threads() * attn_layout(Tq, Tk, H, dh, 1, !backward).total;
}

size_t attn_scratch_size(int Tq, int Tk, int H, int dh) {
    return (size_t)max_threads() * attn_layout(Tq, Tk, H, dh, 0, 0).total;
}

/* Team for n_tasks (item, head) tasks: no more threads than tasks, at least one, and never more
 * than the scratch has slices for. */
static int attn_team(int n_tasks) {
    int team = max_threads();
    team = n_tasks < team ? n_tasks : team;
    return team > 1 ? team : 1;
}

/* dst (Tq, dh) = src (Tq, dh, row stride ld) + bias (dh) */
static inline __attribute__((always_inline)) void add_bias_rows(float *dst, const float *src, int ld, const float *bias, int Tq, int dh) {
    for (int i = 0; i < Tq; i++)
        for (int e = 0; e < dh; e++) dst[(size_t)i * dh + e] = src[(size_t)i * ld + e] + bias[e];
}

/* dst (Tq, dh, row stride ld) += src (Tq, dh) when dst is not NULL; colsum (dh) += column sums
 * of src when colsum is not NULL */
static inline __attribute__((always_inline)) void add_rows_and_colsum(float *dst, int ld, float *colsum, const float *src, int Tq, int dh) {
    for (int i = 0; i < Tq; i++) {
        const float *s = src + (size_t)i * dh;
        if (dst)
            for (int e = 0; e < dh; e++) dst[(size_t)i * ld + e] += s[e];
        if (colsum)
            for (int e = 0; e < dh; e++) colsum[e] += s[e];
    }
}

/* attn_core_forward without probs, for (item, head) bh: query rows in blocks of
 * ATTN_QUERY_BLOCK, each over the keys its rows see (the union of their visible ranges): scores
 * (nb, W) and positional scores (nb, nb + W - 1) in the blocked slice ws. */
HOT_LOOPS static void attn_forward_blocked(float *outb, const float *qb, const float *kb, const float *vb,
                                           const float *ph, const float *u, const float *vbias, int Tq, int Tk, int D,
                                           int dh, int q_off, const attn_mask *mask, int key_len, float *ws,
                                           const attn_slice *L) {
    const float scale = 1.0f / sqrtf((float)dh);
    for (int i0 = 0; i0 < Tq; i0 += ATTN_QUERY_BLOCK) {
        const int nb = Tq - i0 < ATTN_QUERY_BLOCK ? Tq - i0 : ATTN_QUERY_BLOCK;
        int klo = Tk, khi = 0;
        for (int r = 0; r < nb; r++) {
            int lo, hi;
            visible_range(mask, q_off + i0 + r, key_len, Tk, &lo, &hi);
            if (hi > lo) klo = lo < klo ? lo : klo, khi = hi > khi ? hi : khi;
        }
        if (khi <= klo) { /* no row of the block sees a key: zeros, as the whole pass gives */
            for (int r = 0; r < nb; r++) memset(outb + (size_t)(i0 + r) * D, 0, (size_t)dh * sizeof(float));
            continue;
        }
        const int W = khi - klo;
        float *S = ws + L->s;
        if (ph) {
            /* rel(i, j) = Tk - 1 + i - j over the block: from Tk + i0 - khi, nb + W - 1 of them */
            const int RW = nb + W - 1, pmin = Tk + i0 - khi;
            float *qu = ws + L->qu, *qv = ws + L->qv, *pos = ws + L->pos;
            add_bias_rows(qu, qb + (size_t)i0 * D, D, u, nb, dh);
            add_bias_rows(qv, qb + (size_t)i0 * D, D, vbias, nb, dh);
            mslam_sgemm(0, 1, nb, W, dh, 1.0f, qu, dh, kb + (size_t)klo * D, D, 0.0f, S, W);
            mslam_sgemm(0, 1, nb, RW, dh, 1.0f, qv, dh, ph + (size_t)pmin * D, D, 0.0f, pos, RW);
            for (int r = 0; r < nb; r++) {
                float *sr = S + (size_t)r * W;
                const float *pr = pos + (size_t)r * RW + (r + W - 1);
                for (int c = 0; c < W; c++) sr[c] += pr[-c];
            }
        } else {
            mslam_sgemm(0, 1, nb, W, dh, 1.0f, qb + (size_t)i0 * D, D, kb + (size_t)klo * D, D, 0.0f, S, W);
        }
        for (int r = 0; r < nb; r++) {
            int lo, hi;
            visible_range(mask, q_off + i0 + r, key_len, Tk, &lo, &hi);
            if (hi <= lo) lo = hi = klo; /* sees nothing: a row of zeros */
            masked_softmax_row(S + (size_t)r * W, W, scale, lo - klo, hi - klo);
        }
        mslam_sgemm(0, 0, nb, dh, W, 1.0f, S, W, vb + (size_t)klo * D, D, 0.0f, outb + (size_t)i0 * D, D);
    }
}

/* Shared by relattn (p != NULL: positional term, u and v biases) and attn (p == NULL).
 * q (B, Tq, D), k, v (B, Tk, D), p (R, D), pos_u, pos_v (H, dh), D = H*dh -> out (B, Tq, D),
 * probs (B, H, Tq, Tk) or NULL (inference: query blocks, attn_forward_blocked). One (item, head)
 * per task; per head the matrices are read in place with row stride D. */
HOT_LOOPS static void attn_core_forward(float *out, float *probs, const float *q, const float *k,
                              const float *v, const float *p, const float *pos_u,
                              const float *pos_v, int B, int Tq, int Tk, int H, int dh, int q_off,
                              const attn_mask *mask, const int *key_lens, float *scratch) {
    const int D = H * dh, R = Tq + Tk - 1;
    const float scale = 1.0f / sqrtf((float)dh);
    const attn_slice L = attn_layout(Tq, Tk, H, dh, p != NULL, probs == NULL);
    const int team = attn_team(B * H);
    (void)team; /* read by the pragma alone (none without OpenMP) */
    OMP(omp parallel for schedule(dynamic, 1) num_threads(team))
    for (int bh = 0; bh < B * H; bh++) {
        const int b = bh / H, h = bh % H;
        float *ws = scratch + (size_t)thread_id() * L.total;
        const float *qb = q + (size_t)b * Tq * D + h * dh;
        const float *kb = k + (size_t)b * Tk * D + h * dh;
        const float *vb = v + (size_t)b * Tk * D + h * dh;
        const int key_len = key_lens ? key_lens[b] : Tk;
        if (!probs) {
            attn_forward_blocked(out + (size_t)b * Tq * D + h * dh, qb, kb, vb, p ? p + h * dh : NULL,
                                 p ? pos_u + h * dh : NULL, p ? pos_v + h * dh : NULL, Tq, Tk, D, dh, q_off, mask,
                                 key_len, ws, &L);
            continue;
        }
        float *S = probs + (size_t)bh * Tq * Tk;
        if (p) {
            /* S = (q + u) k^T, then + (q + v) p^T read along the diagonals of rel(i, j) */
            float *qu = ws + L.qu, *qv = ws + L.qv, *pos = ws + L.pos;
            add_bias_rows(qu, qb, D, pos_u + h * dh, Tq, dh);
            add_bias_rows(qv, qb, D, pos_v + h * dh, Tq, dh);
            mslam_sgemm(0, 1, Tq, Tk, dh, 1.0f, qu, dh, kb, D, 0.0f, S, Tk);
            mslam_sgemm(0, 1, Tq, R, dh, 1.0f, qv, dh, p + h * dh, D, 0.0f, pos, R);
            for (int i = 0; i < Tq; i++) {
                float *si = S + (size_t)i * Tk;
                const float *pi = pos + (size_t)i * R + (Tk - 1 + i);
                for (int j = 0; j < Tk; j++) si[j] += pi[-j];
            }
        } else {
            mslam_sgemm(0, 1, Tq, Tk, dh, 1.0f, qb, D, kb, D, 0.0f, S, Tk);
        }
        for (int i = 0; i < Tq; i++) {
            int lo, hi;
            visible_range(mask, q_off + i, key_len, Tk, &lo, &hi);
            masked_softmax_row(S + (size_t)i * Tk, Tk, scale, lo, hi);
        }
        mslam_sgemm(0, 0, Tq, dh, Tk, 1.0f, S, Tk, vb, D, 0.0f, out + (size_t)b * Tq * D + h * dh, D);
    }
}

/* Backward of attn_core_forward. With G = dL/d(pre-scale score) = scale * softmax'(probs, dP):
 *   dv += probs^T dout, dP = dout v^T;
 *   content (q+u) k^T:  dq, du += G k;  dk += G^T (q + u);
 *   position (q+v) p^T: dpos[i, Tk-1+i-j] = G[i, j];  dq, dv_bias += dpos p_h;  dp_h += dpos^T (q+v).
 * dp, dpos_u, dpos_v sum over items, which different threads handle: each thread sums into its
 * slice and the slices are added at the end. */
HOT_LOOPS static void attn_core_backward(float *dq, float *dk, float *dv, float *dp, float *dpos_u,
                               float *dpos_v, const float *dout, const float *probs, const float *q,
                               const float *k, const float *v, const float *p, const float *pos_u,
                               const float *pos_v, int B, int Tq, int Tk, int H, int dh,
                               float *scratch) {
    const int D = H * dh, R = Tq + Tk - 1;
    const float scale = 1.0f / sqrtf((float)dh);
    const attn_slice L = attn_layout(Tq, Tk, H, dh, p != NULL, 0);
    const int team = attn_team(B * H);
    const size_t acc_n = ((size_t)R + 2) * D;
    const int need_g = dq || dk || (p && (dp || dpos_u || dpos_v));
    if (p)
        for (int t = 0; t < team; t++) memset(scratch + t * L.total + L.acc, 0, acc_n * sizeof(float));
    /* static: which thread's accumulator a task adds to must not depend on timing, or dp, dpos_u
     * and dpos_v would change from run to run (training resumes must be bit-exact) */
    OMP(omp parallel for schedule(static, 1) num_threads(team))
    for (int bh = 0; bh < B * H; bh++) {
        const int b = bh / H, h = bh % H;
        float *ws = scratch + (size_t)thread_id() * L.total;
        const float *P = probs + (size_t)bh * Tq * Tk;
        const float *dob = dout + (size_t)b * Tq * D + h * dh;
        const float *qb = q + (size_t)b * Tq * D + h * dh;
        const float *kb = k + (size_t)b * Tk * D + h * dh;
        const float *vb = v + (size_t)b * Tk * D + h * dh;
        float *dqb = dq ? dq + (size_t)b * Tq * D + h * dh : NULL;
        if (dv) mslam_sgemm(1, 0, Tk, dh, Tq, 1.0f, P, Tk, dob, D, 1.0f, dv + (size_t)b * Tk * D + h * dh, D);
        if (!need_g) continue;

        float *G = ws + L.s;
        mslam_sgemm(0, 1, Tq, Tk, dh, 1.0f, dob, D, vb, D, 0.0f, G, Tk);
        for (int i = 0; i < Tq; i++) {
            const float *pi = P + (size_t)i * Tk;
            float *gi = G + (size_t)i * Tk;
            float dot = row_dot(pi, gi, Tk);
            for (int j = 0; j < Tk; j++) gi[j] = scale * pi[j] * (gi[j] - dot);
        }

        if (!p) {
            if (dq) mslam_sgemm(0, 0, Tq, dh, Tk, 1.0f, G, Tk, kb, D, 1.0f, dqb, D);
            if (dk) mslam_sgemm(1, 0, Tk, dh, Tq, 1.0f, G, Tk, qb, D, 1.0f, dk + (size_t)b * Tk * D + h * dh, D);
            continue;
        }

        float *tmp = ws + L.tmp, *acc_dp = ws + L.acc;
        float *acc_du = acc_dp + (size_t)R * D, *acc_dv = acc_du + D;
        if (dk) {
            float *qu = ws + L.qu;
            add_bias_rows(qu, qb, D, pos_u + h * dh, Tq, dh);
            mslam_sgemm(1, 0, Tk, dh, Tq, 1.0f, G, Tk, qu, dh, 1.0f, dk + (size_t)b * Tk * D + h * dh, D);
        }
        if (dq || dpos_u) {
            mslam_sgemm(0, 0, Tq, dh, Tk, 1.0f, G, Tk, kb, D, 0.0f, tmp, dh);
            add_rows_and_colsum(dqb, D, dpos_u ? acc_du + h * dh : NULL, tmp, Tq, dh);
        }
        if (!(dq || dp || dpos_v)) continue;
        float *dpos = ws + L.pos;
        for (int i = 0; i < Tq; i++) {
            /* row i of dpos: G[i] reversed on columns [i, i + Tk), zero elsewhere */
            const float *gi = G + (size_t)i * Tk;
            float *row = dpos + (size_t)i * R, *di = row + (Tk - 1 + i);
            memset(row, 0, (size_t)i * sizeof *row);
            memset(row + i + Tk, 0, (size_t)(R - i - Tk) * sizeof *row);
            for (int j = 0; j < Tk; j++) di[-j] = gi[j];
        }
        if (dp) {
            float *qv = ws + L.qv;
            add_bias_rows(qv, qb, D, pos_v + h * dh, Tq, dh);
            mslam_sgemm(1, 0, R, dh, Tq, 1.0f, dpos, R, qv, dh, 1.0f, acc_dp + h * dh, D);
        }
        if (dq || dpos_v) {
            mslam_sgemm(0, 0, Tq, dh, R, 1.0f, dpos, R, p + h * dh, D, 0.0f, tmp, dh);
            add_rows_and_colsum(dqb, D, dpos_v ? acc_dv + h * dh : NULL, tmp, Tq, dh);
        }
    }
    if (!p) return;
    for (int t = 0; t < team; t++) {
        const float *acc = scratch + (size_t)t * L.total + L.acc;
        if (dp)
            for (size_t i = 0; i < (size_t)R * D; i++) dp[i] += acc[i];
        if (dpos_u)
            for (int i = 0; i < D; i++) dpos_u[i] += acc[(size_t)R * D + i];
        if (dpos_v)
            for (int i = 0; i < D; i++) dpos_v[i] += acc[(size_t)R * D + D + i];
    }
}

void relattn_forward(float *out, float *probs, const float *q, const float *k, const float *v,
                     const float *p, const float *pos_u, const float *pos_v, int B, int Tq, int Tk,
                     int H, int dh, const attn_mask *mask, const int *key_lens, float *scratch) {
    attn_core_forward(out, probs, q, k, v, p, pos_u, pos_v, B, Tq, Tk, H, dh, Tk - Tq, mask,
                      key_lens, scratch);
}

void relattn_backward(float *dq, float *dk, float *dv, float *dp, float *dpos_u, float *dpos_v,
                      const float *dout, const float *probs, const float *q, const float *k,
                      const float *v, const float *p, const float *pos_u, const float *pos_v, int B,
                      int Tq, int Tk, int H, int dh, const attn_mask *mask, const int *key_lens,
                      float *scratch) {
    /* the mask is already in probs: masked entries are 0 and so are their gradients */
    (void)mask;
    (void)key_lens;
    attn_core_backward(dq, dk, dv, dp, dpos_u, dpos_v, dout, probs, q, k, v, p, pos_u, pos_v, B, Tq,
                       Tk, H, dh, scratch);
}

void attn_forward(float *out, float *probs, const float *q, const float *k, const float *v, int B,
                  int Tq, int Tk, int H, int dh, int q_off, const attn_mask *mask,
                  const int *key_lens, float *scratch) {
    attn_core_forward(out, probs, q, k, v, NULL, NULL, NULL, B, Tq, Tk, H, dh, q_off, mask,
                      key_lens, scratch);
}

void attn_backward(float *dq, float *dk, float *dv, const float *dout, const float *probs,
                   const float *q, const float *k, const float *v, int B, int Tq, int Tk, int H,
                   int dh, int q_off, const attn_mask *mask, const int *key_lens, float *scratch) {
    /* as relattn_backward: the mask acts through probs */
    (void)q_off;
    (void)mask;
    (void)key_lens;
    attn_core_backward(dq, dk, dv, NULL, NULL, NULL, dout, probs, q, k, v, NULL, NULL, NULL, B, Tq,
                       Tk, H, dh, scratch);
}

/* ---- embedding ---- */

/* ids (n), table (V, d) -> y (n, d) */
void embedding_forward(float *y, const int *ids, const float *table, int n, int d) {
    for (int i = 0; i < n; i++)
        memcpy(y + (size_t)i * d, table + (size_t)ids[i] * d, (size_t)d * sizeof *y);
}

/* dtable (V, d) += dy rows at ids (repeated ids add up) */
void embedding_backward(float *dtable, const float *dy, const int *ids, int n, int d) {
    for (int i = 0; i < n; i++) {
        float *row = dtable + (size_t)ids[i] * d;
        const float *g = dy + (size_t)i * d;
        for (int c = 0; c < d; c++) row[c] += g[c];
    }
}

/* ---- dropout (inverted) ---- */

void dropout_hashed(float *x, size_t n, float p, uint64_t seed) {
    if (!(p > 0.0f)) return;
    /* element i is dropped when the top 32 bits of splitmix64's i-th output from seed fall below
     * p x 2^32: a counter-based draw, the same in any order and on any thread */
    uint64_t below = p >= 1.0f ? (uint64_t)1 << 32 : (uint64_t)((double)p * 4294967296.0);
    float keep = p < 1.0f ? 1.0f / (1.0f - p) : 0.0f;
    uint64_t base = mix64(seed);
    OMP(omp parallel for if (n >= OMP_MIN_WORK) num_threads(max_threads()))
    for (size_t i = 0; i < n; i++)
        x[i] = (mix64(base + (uint64_t)(i + 1) * 0x9e3779b97f4a7c15ull) >> 32) < below ? 0.0f : x[i] * keep;
}

/* ---- CTC ---- */

/* alpha and beta (T, 2L+1) */
size_t ctc_scratch_size(int T, int L) { return 2 * (size_t)(T > 0 ? T : 0) * (2 * (size_t)(L > 0 ? L : 0) + 1); }

/* log_probs (T, V), targets (L); extended labels z (S = 2L+1): blank, t1, blank, ..., tL, blank.
 * alpha[t][s] and beta[t][s] both include the emission log_probs[t][z_s], so
 * alpha + beta - log_probs[t][z_s] is the log mass of all paths through (t, s). */
double ctc_loss(float *grad, const float *log_probs, int T, int V, const int *targets, int L,
                int blank, float scale, double *scratch) {
    if (T <= 0 || L < 0) return INFINITY;
    const int S = 2 * L + 1;
    double *alpha = scratch, *beta = scratch + (size_t)T * S;
#define Z(s) ((s) % 2 ? targets[(s) / 2] : blank)
    /* a label may follow the label two places back (skipping a blank) unless the two are equal */
#define SKIP_OK(s) ((s) % 2 && (s) >= 2 && targets[(s) / 2] != targets[(s) / 2 - 1])
    for (int s = 0; s < S; s++) alpha[s] = s < 2 ? log_probs[Z(s)] : -INFINITY;
    for (int t = 1; t < T; t++) {
        const double *prev = alpha + (size_t)(t - 1) * S;
        double *cur = alpha + (size_t)t * S;
        const float *lp = log_probs + (size_t)t * V;
        for (int s = 0; s < S; s++) {
            double a = prev[s];
            if (s >= 1) a = log_add(a, prev[s - 1]);
            if (SKIP_OK(s)) a = log_add(a, prev[s - 2]);
            cur[s] = a == -INFINITY ? a : a + lp[Z(s)];
        }
    }
    const double *last = alpha + (size_t)(T - 1) * S;
    double log_p = S >= 2 ? log_add(last[S - 1], last[S - 2]) : last[S - 1];
    if (log_p == -INFINITY || isnan(log_p)) return INFINITY;
    if (!grad) return -log_p;

    const float *lp_last = log_probs + (size_t)(T - 1) * V;
    for (int s = 0; s < S; s++) beta[(size_t)(T - 1) * S + s] = s >= S - 2 ? lp_last[Z(s)] : -INFINITY;
    for (int t = T - 2; t >= 0; t--) {
        const double *next = beta + (size_t)(t + 1) * S;
        double *cur = beta + (size_t)t * S;
        const float *lp = log_probs + (size_t)t * V;
        for (int s = 0; s < S; s++) {
            double b = next[s];
            if (s + 1 < S) b = log_add(b, next[s + 1]);
            if (s + 2 < S && SKIP_OK(s + 2)) b = log_add(b, next[s + 2]);
            cur[s] = b == -INFINITY ? b : b + lp[Z(s)];
        }
    }
    /* d(-log p)/d log_probs[t][c] = -sum_{s: z_s = c} exp(alpha + beta - log_probs[t][c] - log p) */
    for (int t = 0; t < T; t++) {
        const double *a = alpha + (size_t)t * S, *b = beta + (size_t)t * S;
        const float *lp = log_probs + (size_t)t * V;
        float *g = grad + (size_t)t * V;
        for (int s = 0; s < S; s++) {
            if (a[s] == -INFINITY || b[s] == -INFINITY) continue;
            int c = Z(s);
            g[c] -= (float)(scale * exp(a[s] + b[s] - lp[c] - log_p));
        }
    }
#undef Z
#undef SKIP_OK
    return -log_p;
}

/* ---- cross-entropy with label smoothing ---- */

/* logits (n, V), targets (n). Row loss (1 - eps)(lse - x_t) + eps (lse - mean(x));
 * its gradient softmax(x) - (1 - eps) onehot(t) - eps / V. */
double cross_entropy(float *dlogits, const float *logits, const int *targets, int n, int V,
                     float eps, int ignore_index, float scale, int *n_counted) {
    double total = 0.0;
    int counted = 0;
    for (int i = 0; i < n; i++) {
        if (targets[i] == ignore_index) continue;
        const float *x = logits + (size_t)i * V;
        double m = -INFINITY, sum = 0.0, sum_x = 0.0;
        for (int c = 0; c < V; c++) m = x[c] > m ? x[c] : m;
        for (int c = 0; c < V; c++) {
            sum += exp(x[c] - m);
            sum_x += x[c];
        }
        double lse = m + log(sum);
        total += (1.0 - eps) * (lse - x[targets[i]]) + eps * (lse - sum_x / V);
        counted++;
        if (dlogits) {
            float *g = dlogits + (size_t)i * V;
            for (int c = 0; c < V; c++) g[c] += (float)(scale * (exp(x[c] - lse) - eps / V));
            g[targets[i]] -= scale * (1.0f - eps);
        }
    }
    if (n_counted) *n_counted = counted;
    return total;
}
