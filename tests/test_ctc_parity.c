/* CTC loss and gradient against PyTorch (tests/reference/fixtures/ctc.safetensors, written by
 * make_fixtures.py): loss = ctc_loss(log_softmax(logits), targets, blank 0, reduction "sum") and
 * its gradient with respect to the logits, in float64. Here: log_softmax_forward -> ctc_loss
 * (gradient with respect to the log-probabilities) -> log_softmax_backward.
 * Bounds: loss relative error 1e-5; gradient max absolute error 1e-5. */
#include "mslam.h"
#include "ops.h"
#include "safetensors.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define LOSS_RTOL 1e-5
#define GRAD_ATOL 1e-5

typedef struct {
    int T, V, L;
    float *logits, *grad; /* (T, V) */
    float loss;
    int *targets;         /* (L) */
} ctc_case;

static void case_free(ctc_case *c) {
    free(c->logits);
    free(c->grad);
    free(c->targets);
    memset(c, 0, sizeof *c);
}

/* Loads logits<suffix>, targets<suffix>, loss<suffix>, grad_logits<suffix>. Returns 0 or -1. */
static int case_load(ctc_case *c, const st_file *f, const char *suffix) {
    char name[64];
    memset(c, 0, sizeof *c);
    snprintf(name, sizeof name, "logits%s", suffix);
    const st_tensor *tl = st_find(f, name);
    snprintf(name, sizeof name, "targets%s", suffix);
    const st_tensor *tt = st_find(f, name);
    snprintf(name, sizeof name, "loss%s", suffix);
    const st_tensor *ts = st_find(f, name);
    snprintf(name, sizeof name, "grad_logits%s", suffix);
    const st_tensor *tg = st_find(f, name);
    if (!tl || !tt || !ts || !tg || tl->ndim != 2 || tt->ndim != 1 || ts->numel != 1 ||
        tg->ndim != 2 || tg->shape[0] != tl->shape[0] || tg->shape[1] != tl->shape[1]) {
        CHECK(0, "case '%s': fixture tensors missing or misshapen", suffix);
        return -1;
    }
    c->T = (int)tl->shape[0];
    c->V = (int)tl->shape[1];
    c->L = (int)tt->shape[0];
    size_t n = (size_t)c->T * c->V;
    c->logits = malloc(n * sizeof *c->logits);
    c->grad = malloc(n * sizeof *c->grad);
    c->targets = malloc((size_t)(c->L ? c->L : 1) * sizeof *c->targets);
    int32_t *t32 = malloc((size_t)(c->L ? c->L : 1) * sizeof *t32);
    int bad = !c->logits || !c->grad || !c->targets || !t32 || st_read_f32(f, tl, c->logits) ||
              st_read_f32(f, tg, c->grad) || st_read_f32(f, ts, &c->loss) || st_read_i32(f, tt, t32);
    if (!bad)
        for (int i = 0; i < c->L; i++) c->targets[i] = t32[i];
    free(t32);
    if (bad) {
        CHECK(0, "case '%s': cannot read the fixture: %s", suffix, mslam_last_error());
        case_free(c);
        return -1;
    }
    return 0;
}

static void run_case(const ctc_case *c, const char *label) {
    size_t n = (size_t)c->T * c->V;
    float *lp = malloc(n * sizeof *lp);
    float *dlp = calloc(n, sizeof *dlp);
    float *dlogits = calloc(n, sizeof *dlogits);
    double *scratch = malloc(ctc_scratch_size(c->T, c->L) * sizeof *scratch);
    if (!lp || !dlp || !dlogits || !scratch) {
        CHECK(0, "out of memory");
        goto done;
    }
    log_softmax_forward(lp, c->logits, c->T, c->V);
    double loss = ctc_loss(dlp, lp, c->T, c->V, c->targets, c->L, 0, 1.0f, scratch);
    log_softmax_backward(dlogits, dlp, lp, c->T, c->V);

    double loss_err = fabs(loss - c->loss) / fabs((double)c->loss);
    double grad_err = 0;
    for (size_t i = 0; i < n; i++) {
        double e = fabs((double)dlogits[i] - c->grad[i]);
        if (!(e <= grad_err)) grad_err = e; /* NaN counts as failure */
    }
    printf("  %s: T=%d V=%d L=%d loss %.6f (ref %.6f, rel err %.2e), grad max abs err %.2e\n", label,
           c->T, c->V, c->L, loss, c->loss, loss_err, grad_err);
    CHECK(loss_err <= LOSS_RTOL, "%s: loss %.8g vs reference %.8g", label, loss, c->loss);
    CHECK(grad_err <= GRAD_ATOL, "%s: gradient max abs err %.3e", label, grad_err);

    /* Without a gradient buffer the loss is the same. */
    double loss_only = ctc_loss(NULL, lp, c->T, c->V, c->targets, c->L, 0, 1.0f, scratch);
    CHECK(loss_only == loss, "%s: loss without gradient %.10g != %.10g", label, loss_only, loss);

    /* Too few frames for the labels (each repeat needs a blank between): impossible, +inf. */
    int repeats = 0;
    for (int i = 1; i < c->L; i++) repeats += c->targets[i] == c->targets[i - 1];
    int t_short = c->L + repeats - 1;
    if (t_short >= 1) {
        double inf = ctc_loss(NULL, lp, t_short, c->V, c->targets, c->L, 0, 1.0f, scratch);
        CHECK(isinf(inf) && inf > 0, "%s: T=%d < minimum %d gives %g, expected +inf", label, t_short,
              c->L + repeats, inf);
    }
done:
    free(lp);
    free(dlp);
    free(dlogits);
    free(scratch);
}

int main(void) {
    st_file f;
    if (st_open(&f, test_data_path("reference/fixtures/ctc.safetensors"))) {
        CHECK(0, "cannot open the CTC fixture: %s", mslam_last_error());
        return test_result("ctc-parity");
    }
    static const char *const suffixes[] = {"", "2"};
    static const char *const labels[] = {"case 1", "case 2"};
    for (int i = 0; i < 2; i++) {
        ctc_case c;
        if (case_load(&c, &f, suffixes[i]) == 0) {
            run_case(&c, labels[i]);
            case_free(&c);
        }
    }
    st_close(&f);
    return test_result("ctc-parity");
}
