/* What the benchmarks share: a monotonic clock and medians. */
#ifndef MSLAM_BENCHUTIL_H
#define MSLAM_BENCHUTIL_H

#include "mslam.h"

/* Seconds on the monotonic clock. */
double bench_now(void);
/* The median of x[0 .. n) (sorts x; n >= 1). */
double bench_median(double *x, int n);
/* The kernels OpenBLAS runs (after mslam's first product: ops_cpu.c may have changed them), or
 * what BLAS this is when not OpenBLAS. */
const char *bench_blas_kernels(void);
/* For a program's option opt (val: the word after it, NULL at the end): -h/--help prints usage
 * and exits 0; an option without its value is said on stderr (*bad = 1). Returns 1 when it
 * handled opt, 0 for the caller to read it. */
int bench_help_or_missing(const char *opt, const char *val, const char *usage, int *bad);
/* An option no case took: says so (*bad = 1). */
void bench_unknown_option(const char *opt, int *bad);
/* The usage on stderr after a refused option; returns 2, the programs' status for it. */
int bench_usage_error(const char *usage);
/* Conformer-S, the benchmarks' model (d 144, 16 layers of which speech_layers are the speech
 * path's, 4 heads, FFN 576, kernel 31, subsampler of 144 channels; a vocabulary of 2, one
 * language): the same in encoder_bench and train_bench, as torch_conformer.py builds it. */
struct mslam_model_config bench_conformer_s(int speech_layers);
/* A model of cfg with weights N(0, 0.05^2) (seed 42), feature statistics mean -5 and std 2, the
 * characters "<blank>" "a" and the language "en"; NULL on failure (mslam_last_error says why). */
mslam_model *bench_random_model(const struct mslam_model_config *cfg);
/* The sizes every benchmark program takes. */
struct bench_sizes {
    int threads, runs, batch;
    double seconds; /* of audio per item */
};
/* When opt is --threads, --runs, --batch or --seconds: reads val (NULL: missing) into s and
 * returns 1, with *bad set when val is missing or out of range (a message on stderr); else 0. */
int bench_size_option(const char *opt, const char *val, struct bench_sizes *s, int *bad);
/* *out = the whole of s as an integer in [lo, hi], else a message naming opt on stderr and -1. */
int bench_int(const char *opt, const char *s, int lo, int hi, int *out);
/* *out = the whole of s as a finite number in [lo, hi], else a message naming opt and -1. */
int bench_double(const char *opt, const char *s, double lo, double hi, double *out);

#endif
