/* What the benchmarks share: a monotonic clock and medians. */
#ifndef MSLAM_BENCHUTIL_H
#define MSLAM_BENCHUTIL_H

/* Seconds on the monotonic clock. */
double bench_now(void);
/* The median of x[0 .. n) (sorts x; n >= 1). */
double bench_median(double *x, int n);

#endif
