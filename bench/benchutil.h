/* What the benchmarks share: a monotonic clock and medians. */
#ifndef MSLAM_BENCHUTIL_H
#define MSLAM_BENCHUTIL_H

/* Seconds on the monotonic clock. */
double bench_now(void);
/* The median of x[0 .. n) (sorts x; n >= 1). */
double bench_median(double *x, int n);
/* The kernels OpenBLAS runs (after mslam's first product: ops_cpu.c may have changed them), or
 * what BLAS this is when not OpenBLAS. */
const char *bench_blas_kernels(void);
/* *out = the whole of s as an integer in [lo, hi], else a message naming opt on stderr and -1. */
int bench_int(const char *opt, const char *s, int lo, int hi, int *out);
/* *out = the whole of s as a finite number in [lo, hi], else a message naming opt and -1. */
int bench_double(const char *opt, const char *s, double lo, double hi, double *out);

#endif
