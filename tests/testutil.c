#include "testutil.h"

#include <math.h>
#include <stdlib.h>

int test_failures;

int test_result(const char *name) {
    if (test_failures) {
        fprintf(stderr, "%s: %d check(s) failed\n", name, test_failures);
        return 1;
    }
    printf("%s: all checks passed\n", name);
    return 0;
}

const char *test_data_path(const char *relative) {
    static char path[4096];
    const char *root = getenv("MSLAM_TEST_DATA");
    snprintf(path, sizeof path, "%s/%s", root ? root : "tests", relative);
    return path;
}

void test_fill_uniform(float *x, size_t n, float lo, float hi, mslam_rng *rng) {
    for (size_t i = 0; i < n; i++) x[i] = lo + (hi - lo) * mslam_rng_uniform(rng);
}

double test_nmse(const float *a, const float *ref, size_t n) {
    double num = 0, den = 0;
    for (size_t i = 0; i < n; i++) {
        double d = (double)a[i] - ref[i];
        num += d * d;
        den += (double)ref[i] * ref[i];
    }
    if (den == 0) return num == 0 ? 0 : INFINITY;
    return num / den;
}

double test_max_rel_err(const float *a, const float *ref, size_t n, float floor) {
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double scale = fabs((double)ref[i]) > floor ? fabs((double)ref[i]) : floor;
        double e = fabs((double)a[i] - ref[i]) / scale;
        if (!(e <= worst)) worst = e; /* NaN propagates as failure */
    }
    return worst;
}

double test_grad_check(const char *name, test_loss_fn loss, void *ctx, float *x,
                       const float *analytic, size_t n, float eps, size_t max_checks) {
    return test_grad_check_regions(name, loss, NULL, ctx, x, analytic, n, eps, max_checks);
}

double test_grad_check_regions(const char *name, test_loss_fn loss, test_region_fn region, void *ctx,
                               float *x, const float *analytic, size_t n, float eps, size_t max_checks) {
    size_t step = (max_checks && max_checks < n) ? n / max_checks : 1;
    double num = 0, den = 0, worst = 0;
    size_t checked = 0, skipped = 0;
    for (size_t i = 0; i < n; i += step) {
        float saved = x[i];
        x[i] = saved + eps;
        double lp = loss(ctx);
        unsigned long long rp = region ? region(ctx) : 0;
        x[i] = saved - eps;
        double lm = loss(ctx);
        unsigned long long rm = region ? region(ctx) : 0;
        x[i] = saved;
        if (rp != rm) {
            skipped++;
            continue;
        }
        double numeric = (lp - lm) / (2.0 * eps);
        double d = analytic[i] - numeric;
        num += d * d;
        den += numeric * numeric;
        if (fabs(d) > worst || isnan(d)) worst = fabs(d);
        checked++;
    }
    double nmse = den > 0 ? num / den : (num > 0 ? INFINITY : 0);
    printf("  grad %-40s n=%-7zu checked=%-5zu skipped=%-3zu nmse=%.3e max_abs_err=%.3e\n", name, n,
           checked, skipped, nmse, worst);
    return nmse;
}
