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

#endif
