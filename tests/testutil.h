/* Helpers shared by the C tests: fixtures, comparisons, finite-difference gradient checks. */
#ifndef MSLAM_TESTUTIL_H
#define MSLAM_TESTUTIL_H

#include "mslam.h"
#include "ops.h"

#include <stddef.h>
#include <stdio.h>

extern int test_failures;

/* Records a failure (and prints where) when cond is false; the test goes on. */
#define CHECK(cond, ...)                                                                       \
    do {                                                                                       \
        if (!(cond)) {                                                                         \
            fprintf(stderr, "%s:%d: FAIL: ", __FILE__, __LINE__);                              \
            fprintf(stderr, __VA_ARGS__);                                                      \
            fputc('\n', stderr);                                                               \
            test_failures++;                                                                   \
        }                                                                                      \
    } while (0)

/* A log callback that drops every message: for tests whose expected errors would flood the log
 * (each is read back with mslam_last_error instead). */
void test_quiet_log(enum mslam_log_level level, const char *message, void *user_data);

/* Exit status for main: 0 when no CHECK failed. */
int test_result(const char *name);

/* Whether two files hold the same bytes (0 when either cannot be read). */
int test_files_equal(const char *a, const char *b);

/* This process's descriptor fd (STDOUT_FILENO, STDERR_FILENO) writes into path (truncated) until
 * test_output_restore(fd, the returned copy of the old one; -1 when it could not be redirected). */
int test_output_to(int fd, const char *path);
void test_output_restore(int fd, int saved);

/* Path of a file under tests/ (MSLAM_TEST_DATA, set by meson). Static buffer. */
const char *test_data_path(const char *relative);

void test_fill_uniform(float *x, size_t n, float lo, float hi, mslam_rng *rng);

struct mslam_model;
/* Random parameters of every tensor: LayerNorm weights 1 + N(0, 0.1^2), feature statistics mean
 * -5 + N(0, 1) and std in [2, 2.5), all else N(0, scale^2). */
void test_randomise_model(struct mslam_model *m, uint64_t seed, float scale);
/* sum (a - ref)^2 / sum ref^2 (0 when both are zero). */
double test_nmse(const float *a, const float *ref, size_t n);
/* max |a - ref| / max(|ref|, floor). */
double test_max_rel_err(const float *a, const float *ref, size_t n, float floor);

/* Loss of the current state: the check calls it after perturbing one element of x. */
typedef double (*test_loss_fn)(void *ctx);

/* Central differences of loss with respect to x (n elements; at most max_checks of them, spread
 * evenly, when max_checks < n), compared with analytic. Returns the NMSE of analytic against the
 * numeric gradient over the checked elements and prints one line with name and figures. */
double test_grad_check(const char *name, test_loss_fn loss, void *ctx, float *x,
                       const float *analytic, size_t n, float eps, size_t max_checks);

/* Identifies the piecewise-linear region of the current state (e.g. a hash of ReLU signs). */
typedef unsigned long long (*test_region_fn)(void *ctx);

/* As test_grad_check, but an element whose +eps and -eps evaluations fall in different regions
 * (the difference straddles a kink, where finite differences are meaningless) is skipped. */
double test_grad_check_regions(const char *name, test_loss_fn loss, test_region_fn region, void *ctx,
                               float *x, const float *analytic, size_t n, float eps, size_t max_checks);

/* A gettext catalog at path: n messages (at most 255, plus the header entry) in the given byte
 * order. Originals may hold a NUL (plural) and \x04 (context) inside, so their lengths are given
 * (id_lens NULL: each is a plain string). */
void test_write_mo(const char *path, const char *const *ids, const size_t *id_lens, const char *const *strs, int n,
                   int big_endian);

#endif
