#include "testutil.h"

#include "model.h"

#include <fcntl.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int test_failures;

void test_quiet_log(enum mslam_log_level level, const char *message, void *user_data) {
    (void)level, (void)message, (void)user_data;
}

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

void test_randomise_model(struct mslam_model *m, uint64_t seed, float scale) {
    mslam_rng rng;
    mslam_rng_seed(&rng, seed);
    for (int i = 0; i < m->table.n; i++) {
        const mslam_param_entry *e = &m->table.entries[i];
        float *x = m->block + e->offset;
        const char *leaf = strrchr(e->name, '.');
        int is_norm_weight = leaf && !strcmp(leaf, ".weight") &&
                             (strstr(e->name, "ln.weight") || strstr(e->name, "norm.weight") ||
                              strstr(e->name, "ln_out.weight"));
        for (size_t j = 0; j < e->numel; j++) {
            float r = mslam_rng_normal(&rng);
            if (!strcmp(e->name, "frontend.mel_mean")) x[j] = -5.0f + r;
            else if (!strcmp(e->name, "frontend.mel_std")) x[j] = 2.0f + 0.5f * mslam_rng_uniform(&rng);
            else if (is_norm_weight) x[j] = 1.0f + 0.1f * r;
            else x[j] = scale * r;
        }
    }
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

static void put_u32(FILE *f, uint32_t v, int big_endian) {
    unsigned char b[4];
    for (int i = 0; i < 4; i++) b[i] = (unsigned char)(v >> (big_endian ? 24 - 8 * i : 8 * i));
    fwrite(b, 1, 4, f);
}

void test_write_mo(const char *path, const char *const *ids, const size_t *id_lens, const char *const *strs, int n,
                   int big_endian) {
    CHECK(n < 256, "test_write_mo: %d messages, at most 255", n);
    if (n >= 256) return;
    const char *header = "Content-Type: text/plain; charset=UTF-8\n";
    int total = n + 1;
    uint32_t originals = 28, translations = originals + 8 * (uint32_t)total, data = translations + 8 * (uint32_t)total;
    FILE *f = fopen(path, "wb");
    CHECK(f != NULL, "cannot write %s", path);
    if (!f) return;
    put_u32(f, 0x950412de, big_endian);
    put_u32(f, 0, big_endian);
    put_u32(f, (uint32_t)total, big_endian);
    put_u32(f, originals, big_endian);
    put_u32(f, translations, big_endian);
    put_u32(f, 0, big_endian);
    put_u32(f, data, big_endian);
    uint32_t offset = data;
    size_t lens[2][256];
    for (int side = 0; side < 2; side++) {
        for (int i = 0; i < total; i++) {
            size_t len = side == 1   ? strlen(i == 0 ? header : strs[i - 1])
                         : i == 0    ? 0
                         : id_lens ? id_lens[i - 1]
                                   : strlen(ids[i - 1]);
            lens[side][i] = len;
            put_u32(f, (uint32_t)len, big_endian);
            put_u32(f, offset, big_endian);
            offset += (uint32_t)len + 1;
        }
    }
    for (int side = 0; side < 2; side++)
        for (int i = 0; i < total; i++) {
            const char *s = side == 0 ? (i == 0 ? "" : ids[i - 1]) : (i == 0 ? header : strs[i - 1]);
            fwrite(s, 1, lens[side][i] + 1, f);
        }
    fclose(f);
}

int test_files_equal(const char *a, const char *b) {
    FILE *fa = fopen(a, "rb"), *fb = fopen(b, "rb");
    int same = fa && fb;
    while (same) {
        char x[65536], y[65536];
        size_t nx = fread(x, 1, sizeof x, fa), ny = fread(y, 1, sizeof y, fb);
        same = nx == ny && !memcmp(x, y, nx) && !ferror(fa) && !ferror(fb);
        if (nx < sizeof x) break;
    }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    return same;
}

int test_output_to(int fd, const char *path) {
    fflush(stdout), fflush(stderr);
    int saved = dup(fd), to = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (saved >= 0 && to >= 0 && dup2(to, fd) >= 0) {
        close(to);
        return saved;
    }
    if (to >= 0) close(to);
    if (saved >= 0) close(saved);
    return -1;
}

void test_output_restore(int fd, int saved) {
    fflush(stdout), fflush(stderr);
    if (saved >= 0) dup2(saved, fd), close(saved);
}

#if defined(__SANITIZE_ADDRESS__)
/* Sanitizer builds: no library is unloaded. The Vulkan loader unloads its drivers when an
 * instance ends, and what lavapipe's one-time set-up keeps for the process's life (Mesa
 * 22.3.6-1+deb12u2) was then reported as leaked from an unknown module; kept loaded, the
 * library still points at it. Every test links this file (the element tests too). */
int dlclose(void *handle) {
    (void)handle;
    return 0;
}
#endif
