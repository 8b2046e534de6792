#include "benchutil.h"

#include "model.h"
#include "ops.h"

#include <cblas.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct mslam_model_config bench_conformer_s(int speech_layers) {
    return (struct mslam_model_config){.n_mels = 80, .d_model = 144, .n_heads = 4, .d_ff = 576, .conv_kernel = 31,
                                       .sub_channels = 144, .n_speech_layers = speech_layers,
                                       .n_shared_layers = 16 - speech_layers, .vocab_size = 2, .n_langs = 1,
                                       .causal_conv = 1};
}

mslam_model *bench_random_model(const struct mslam_model_config *cfg) {
    static const char *vocab[] = {"<blank>", "a"};
    static const char *langs[] = {"en"};
    mslam_model *m = mslam_model_new(cfg, vocab, langs);
    if (!m) return NULL;
    mslam_rng rng;
    mslam_rng_seed(&rng, 42);
    for (size_t i = 0; i < m->table.total; i++) m->block[i] = 0.05f * mslam_rng_normal(&rng);
    for (int i = 0; i < cfg->n_mels; i++) {
        m->p.mel_mean[i] = -5;
        m->p.mel_std[i] = 2;
    }
    return m;
}

double bench_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

double bench_median(double *x, int n) {
    qsort(x, (size_t)n, sizeof *x, cmp_double);
    return n % 2 ? x[n / 2] : 0.5 * (x[n / 2 - 1] + x[n / 2]);
}

const char *bench_blas_kernels(void) {
#ifdef OPENBLAS_VERSION
    const char *core = openblas_get_corename();
    return core ? core : "unknown";
#else
    return "not OpenBLAS";
#endif
}

int bench_int(const char *opt, const char *s, int lo, int hi, int *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (end == s || *end || errno || v < lo || v > hi) {
        fprintf(stderr, "%s: '%s' is not a whole number from %d to %d\n", opt, s, lo, hi);
        return -1;
    }
    *out = (int)v;
    return 0;
}

int bench_double(const char *opt, const char *s, double lo, double hi, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end || errno || !isfinite(v) || v < lo || v > hi) {
        fprintf(stderr, "%s: '%s' is not a number from %g to %g\n", opt, s, lo, hi);
        return -1;
    }
    *out = v;
    return 0;
}

int bench_size_option(const char *opt, const char *val, struct bench_sizes *s, int *bad) {
    static const char *const names[] = {"--threads", "--runs", "--batch", "--seconds"};
    int which = -1;
    for (int k = 0; k < 4 && which < 0; k++)
        if (!strcmp(opt, names[k])) which = k;
    if (which < 0) return 0;
    if (!val) {
        fprintf(stderr, "%s needs a value\n", opt);
        *bad = 1;
        return 1;
    }
    *bad = which == 0   ? bench_int(opt, val, 1, 1024, &s->threads)
           : which == 1 ? bench_int(opt, val, 1, 31, &s->runs)
           : which == 2 ? bench_int(opt, val, 1, 4096, &s->batch)
                        : bench_double(opt, val, 0.1, 3600, &s->seconds);
    *bad = *bad != 0;
    return 1;
}

int bench_help_or_missing(const char *opt, const char *val, const char *usage, int *bad) {
    if (!strcmp(opt, "-h") || !strcmp(opt, "--help")) {
        fputs(usage, stdout);
        exit(0);
    }
    if (val) return 0;
    fprintf(stderr, "%s needs a value\n", opt);
    *bad = 1;
    return 1;
}

void bench_unknown_option(const char *opt, int *bad) {
    fprintf(stderr, "unknown option %s\n", opt);
    *bad = 1;
}

int bench_usage_error(const char *usage) {
    fputs(usage, stderr);
    return 2;
}
