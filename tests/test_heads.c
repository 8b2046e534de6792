/* CTC and LID heads: finite-difference gradients of every head parameter and of the encoder
 * output, parity with the PyTorch reference (tests/reference/fixtures/heads_tiny*.safetensors),
 * skipped items, and input errors. */
#include "heads.h"
#include "model.h"
#include "safetensors.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *vocab[] = {"<blank>", "<s>", "</s>", " ", "a", "b", "c", "d"};
static const char *langs[] = {"en", "fr", "de"};

static mslam_model *tiny_model(int ctc, int lid, uint64_t seed) {
    struct mslam_model_config cfg = {
        .n_mels = 80, .d_model = 8, .n_heads = 2, .d_ff = 12, .conv_kernel = 3, .sub_channels = 1,
        .n_speech_layers = 0, .n_shared_layers = 0, .vocab_size = 8, .n_langs = 3, .causal_conv = 1,
        .ctc_head = ctc, .lid_head = lid};
    mslam_model *m = mslam_model_new(&cfg, vocab, langs);
    CHECK(m != NULL, "model: %s", mslam_last_error());
    if (m) test_randomise_model(m, seed, 0.5f);
    return m;
}

/* ---- gradient checks ---- */

enum { B = 3, T = 6 };

typedef struct {
    mslam_model *m;
    head_work work;
    float enc[B * T * 8];
    int lens[B];
    int targets[16], target_lens[B]; /* CTC */
    int langs[B];                    /* LID */
    int lid;
} grad_ctx;

static int run(grad_ctx *c, mslam_params *G, float *denc, head_loss *out) {
    if (c->lid)
        return lid_head_loss(&c->work, &c->m->cfg, &c->m->p, G, c->enc, c->lens, B, T, c->langs, 0.1f, 0.5f,
                             denc, out);
    return ctc_head_loss(&c->work, &c->m->cfg, &c->m->p, G, c->enc, c->lens, B, T, c->targets, c->target_lens,
                         0.5f, denc, out);
}

static double loss_of(void *ctx) {
    head_loss out;
    return run(ctx, NULL, NULL, &out) ? NAN : 0.5 * out.loss;
}

static void check_head_grads(grad_ctx *c, const char *what) {
    mslam_model *m = c->m;
    mslam_params G;
    mslam_param_table gt;
    CHECK(mslam_param_table_build(&gt, &m->cfg, &G) == 0, "grad table");
    float *grad = calloc(gt.total, sizeof(float));
    mslam_params_bind(&gt, grad);
    float denc[B * T * 8] = {0};
    head_loss out;
    CHECK(run(c, &G, denc, &out) == 0, "%s: %s", what, mslam_last_error());
    for (int i = 0; i < gt.n; i++) {
        const mslam_param_entry *e = &gt.entries[i];
        if (strncmp(e->name, c->lid ? "lid." : "ctc.", 4)) continue;
        char name[96];
        snprintf(name, sizeof name, "%s %s", what, e->name);
        double nmse = test_grad_check(name, loss_of, c, m->block + e->offset, grad + e->offset, e->numel, 1e-2f, 0);
        CHECK(nmse < 1e-5, "%s: nmse %.3e", name, nmse);
    }
    char name[96];
    snprintf(name, sizeof name, "%s encoder output", what);
    double nmse = test_grad_check(name, loss_of, c, c->enc, denc, (size_t)B * T * 8, 1e-2f, 0);
    CHECK(nmse < 1e-5, "%s: nmse %.3e", name, nmse);
    /* padded frames get nothing */
    for (int b = 0; b < B; b++)
        for (int i = c->lens[b] * 8; i < T * 8; i++)
            CHECK(denc[b * T * 8 + i] == 0.0f, "%s: padded frame of item %d has a gradient", what, b);
    free(grad);
    mslam_param_table_free(&gt);
}

/* A gradient check's context: tiny_model(ctc, lid, model_seed), encoder outputs uniform in +-1.5
 * drawn from enc_seed, items of lens frames; NULL when the model could not be made. */
static grad_ctx *grad_ctx_new(int ctc, int lid, uint64_t model_seed, uint64_t enc_seed, const int *lens) {
    grad_ctx *c = calloc(1, sizeof *c);
    c->m = tiny_model(ctc, lid, model_seed);
    if (!c->m) {
        free(c);
        return NULL;
    }
    c->lid = lid;
    mslam_rng rng;
    mslam_rng_seed(&rng, enc_seed);
    test_fill_uniform(c->enc, sizeof c->enc / sizeof *c->enc, -1.5f, 1.5f, &rng);
    memcpy(c->lens, lens, sizeof c->lens);
    return c;
}

static void grad_ctx_free(grad_ctx *c) {
    head_work_free(&c->work);
    mslam_model_free(c->m);
    free(c);
}

static void test_ctc_gradients(void) {
    /* item 0: a repeat; item 1: fits exactly (3 labels + 1 blank between equal ones = 4 frames);
     * item 2: 3 labels cannot fit in 2 frames -> skipped */
    int lens[B] = {6, 4, 2}, tl[B] = {3, 3, 3}, tg[9] = {4, 4, 5, 6, 6, 3, 4, 5, 6};
    grad_ctx *c = grad_ctx_new(1, 0, 3, 5, lens);
    if (!c) return;
    memcpy(c->target_lens, tl, sizeof tl);
    memcpy(c->targets, tg, sizeof tg);
    head_loss out;
    CHECK(run(c, NULL, NULL, &out) == 0 && out.n_items == 2 && out.n_skipped == 1 && isfinite(out.loss),
          "CTC: %d counted, %d skipped, loss %g", out.n_items, out.n_skipped, out.loss);
    check_head_grads(c, "ctc");
    /* the skipped item's frames get no gradient at all */
    float denc[B * T * 8] = {0};
    CHECK(run(c, NULL, denc, &out) == 0, "ctc denc only");
    float worst = 0;
    for (int i = 2 * T * 8; i < 3 * T * 8; i++) worst = fmaxf(worst, fabsf(denc[i]));
    CHECK(worst == 0.0f, "skipped CTC item has gradient %g", worst);
    grad_ctx_free(c);
}

/* An empty target (noise alone in training, --noise-prob): its loss is -sum_t log p(blank | t),
 * its gradients pass the finite-difference check, and the next item's target is read from its
 * own offset (the empty one takes no room in the concatenated targets). */
static void test_ctc_empty_target(void) {
    int lens[B] = {6, 4, 3}, tl[B] = {0, 3, 0}, tg[3] = {4, 5, 6};
    grad_ctx *c = grad_ctx_new(1, 0, 4, 6, lens);
    if (!c) return;
    memcpy(c->target_lens, tl, sizeof tl);
    memcpy(c->targets, tg, sizeof tg);
    head_loss all, middle;
    CHECK(run(c, NULL, NULL, &all) == 0 && all.n_items == 3 && all.n_skipped == 0,
          "CTC with empty targets: %d counted, %d skipped", all.n_items, all.n_skipped);
    double blanks = 0;
    float logp[T * 8], logits[T * 8];
    for (int b = 0; b < B; b += 2) {
        ctc_head_log_probs(logp, logits, c->enc + (size_t)b * T * 8, lens[b], &c->m->cfg, &c->m->p);
        for (int t = 0; t < lens[b]; t++) blanks -= logp[t * 8 + 0];
    }
    CHECK(ctc_head_loss(&c->work, &c->m->cfg, &c->m->p, NULL, c->enc + T * 8, lens + 1, 1, T, tg, tl + 1, 0.5f, NULL,
                        &middle) == 0,
          "the middle item alone");
    double want = blanks + middle.loss; /* (the loss unscaled: scale weighs the gradient) */
    CHECK(fabs(all.loss - want) <= 1e-5 * fabs(want), "CTC with empty targets: loss %.7f, want %.7f (blanks %.7f)",
          all.loss, want, blanks);
    check_head_grads(c, "ctc (empty targets)");
    grad_ctx_free(c);
}

static void test_lid_gradients(void) {
    int lens[B] = {6, 3, 1}, lg[B] = {2, 0, 1};
    grad_ctx *c = grad_ctx_new(0, 1, 4, 6, lens);
    if (!c) return;
    memcpy(c->langs, lg, sizeof lg);
    check_head_grads(c, "lid");
    /* an unlabelled item and an item without frames count nothing */
    c->langs[1] = -1;
    c->lens[2] = 0;
    head_loss out;
    CHECK(run(c, NULL, NULL, &out) == 0 && out.n_items == 1 && out.n_skipped == 1,
          "LID: %d counted, %d skipped", out.n_items, out.n_skipped);
    check_head_grads(c, "lid unlabelled");
    grad_ctx_free(c);
}

/* ---- parity ---- */

static float *read_f32(const st_file *f, const char *name, size_t *numel) {
    const st_tensor *t = st_find(f, name);
    CHECK(t != NULL, "fixture has no tensor '%s'", name);
    if (!t) return NULL;
    float *x = malloc(t->numel * sizeof(float));
    CHECK(st_read_f32(f, t, x) == 0, "read %s: %s", name, mslam_last_error());
    if (numel) *numel = t->numel;
    return x;
}

static int *read_i32(const st_file *f, const char *name) {
    const st_tensor *t = st_find(f, name);
    CHECK(t != NULL, "fixture has no tensor '%s'", name);
    if (!t) return NULL;
    int32_t *x = malloc(t->numel * sizeof(int32_t));
    CHECK(st_read_i32(f, t, x) == 0, "read %s: %s", name, mslam_last_error());
    return (int *)x;
}

/* max |a - ref| / max |ref| */
static double rel_err(const float *a, const float *ref, size_t n) {
    float scale = 0;
    for (size_t i = 0; i < n; i++) scale = fmaxf(scale, fabsf(ref[i]));
    return test_max_rel_err(a, ref, n, fmaxf(scale, 1e-30f));
}

/* Compares every gradient tensor named prefix* and d(enc) with the fixture. */
static void compare_grads(const st_file *io, const mslam_param_table *gt, const float *grad, const char *prefix,
                          const float *denc, const char *denc_name, const char *what) {
    double worst = 0;
    const char *worst_name = "";
    for (int i = 0; i < gt->n; i++) {
        const mslam_param_entry *e = &gt->entries[i];
        if (strncmp(e->name, prefix, strlen(prefix))) continue;
        char name[96];
        snprintf(name, sizeof name, "grad.%s", e->name);
        float *ref = read_f32(io, name, NULL);
        if (!ref) continue;
        double err = rel_err(grad + e->offset, ref, e->numel);
        if (err > worst) worst = err, worst_name = e->name;
        free(ref);
    }
    size_t n;
    float *ref = read_f32(io, denc_name, &n);
    double e_enc = ref ? rel_err(denc, ref, n) : INFINITY;
    free(ref);
    printf("parity %s: parameter gradients max rel err %.2e (%s), d(enc) %.2e\n", what, worst, worst_name, e_enc);
    CHECK(worst <= 1e-4, "%s: gradient %s differs from PyTorch: %.2e", what, worst_name, worst);
    CHECK(e_enc <= 1e-4, "%s: d(enc) differs from PyTorch: %.2e", what, e_enc);
}

static void test_parity(void) {
    mslam_model *m = mslam_model_load(test_data_path("reference/fixtures/heads_tiny.safetensors"),
                                      mslam_model_default_params());
    CHECK(m != NULL, "reference model: %s", mslam_last_error());
    st_file io;
    int opened = st_open(&io, test_data_path("reference/fixtures/heads_tiny_io.safetensors")) == 0;
    CHECK(opened, "reference fixture: %s", mslam_last_error());
    if (!m || !opened) {
        mslam_model_free(m);
        if (opened) st_close(&io);
        return;
    }
    const st_tensor *et = st_find(&io, "enc");
    const int nB = (int)et->shape[0], nT = (int)et->shape[1], d = m->cfg.d_model;
    size_t n_enc = (size_t)nB * nT * d;
    float *enc = read_f32(&io, "enc", NULL);
    int *lens = read_i32(&io, "enc_lens");
    mslam_params G;
    mslam_param_table gt;
    mslam_param_table_build(&gt, &m->cfg, &G);
    float *grad = calloc(gt.total, sizeof(float));
    float *denc = calloc(n_enc, sizeof(float));
    mslam_params_bind(&gt, grad);
    head_work w = {0};
    head_loss out;

    int *tg = read_i32(&io, "ctc_targets"), *tl = read_i32(&io, "ctc_target_lens");
    float *ref_loss = read_f32(&io, "ctc_loss", NULL);
    CHECK(ctc_head_loss(&w, &m->cfg, &m->p, &G, enc, lens, nB, nT, tg, tl, 1.0f, denc, &out) == 0, "ctc: %s",
          mslam_last_error());
    double e = fabs(out.loss - ref_loss[0]) / fabs(ref_loss[0]);
    printf("parity CTC loss %.6f vs %.6f (rel err %.2e), %d counted, %d skipped\n", out.loss, ref_loss[0], e,
           out.n_items, out.n_skipped);
    CHECK(e <= 1e-5, "CTC loss differs from PyTorch: %.2e", e);
    CHECK(out.n_items == 2 && out.n_skipped == 1, "CTC: the impossible item must be skipped");
    compare_grads(&io, &gt, grad, "ctc.", denc, "ctc_denc", "CTC");
    free(tg);
    free(tl);
    free(ref_loss);

    memset(grad, 0, gt.total * sizeof(float));
    memset(denc, 0, n_enc * sizeof(float));
    int *lg = read_i32(&io, "lid_langs");
    ref_loss = read_f32(&io, "lid_loss", NULL);
    CHECK(lid_head_loss(&w, &m->cfg, &m->p, &G, enc, lens, nB, nT, lg, 0.1f, 1.0f, denc, &out) == 0, "lid: %s",
          mslam_last_error());
    float *ref_logits = read_f32(&io, "lid_logits", NULL);
    double el = rel_err(w.logits, ref_logits, (size_t)nB * m->cfg.n_langs);
    e = fabs(out.loss - ref_loss[0]) / fabs(ref_loss[0]);
    printf("parity LID loss %.6f vs %.6f (rel err %.2e), logits max rel err %.2e\n", out.loss, ref_loss[0], e, el);
    CHECK(e <= 1e-5 && el <= 1e-5, "LID loss or logits differ from PyTorch: %.2e, %.2e", e, el);
    compare_grads(&io, &gt, grad, "lid.", denc, "lid_denc", "LID");
    /* inference path: the same logits one item at a time */
    float logits[8], pooled[64];
    lid_head_logits(logits, pooled, enc + (size_t)nT * d, lens[1], &m->cfg, &m->p);
    el = rel_err(logits, ref_logits + m->cfg.n_langs, (size_t)m->cfg.n_langs);
    CHECK(el <= 1e-5, "lid_head_logits differs from PyTorch: %.2e", el);
    free(lg);
    free(ref_loss);
    free(ref_logits);

    head_work_free(&w);
    free(grad);
    free(denc);
    free(enc);
    free(lens);
    mslam_param_table_free(&gt);
    st_close(&io);
    mslam_model_free(m);
}

/* ---- errors ---- */

static void test_errors(void) {
    mslam_model *m = tiny_model(0, 1, 7);
    if (!m) return;
    float enc[2 * 4 * 8] = {0};
    int lens[2] = {4, 2}, tg[2] = {3, 4}, tl[2] = {1, 1}, lg[2] = {0, 3};
    head_work w = {0};
    head_loss out;
    CHECK(ctc_head_loss(&w, &m->cfg, &m->p, NULL, enc, lens, 2, 4, tg, tl, 1.0f, NULL, &out) < 0 &&
              strstr(mslam_last_error(), "no CTC head"),
          "CTC on a model without the head: %s", mslam_last_error());
    CHECK(lid_head_loss(&w, &m->cfg, &m->p, NULL, enc, lens, 2, 4, lg, 0.0f, 1.0f, NULL, &out) < 0 &&
              strstr(mslam_last_error(), "language 3"),
          "language out of range: %s", mslam_last_error());
    mslam_model_free(m);
    m = tiny_model(1, 0, 8);
    tg[1] = 0;
    CHECK(ctc_head_loss(&w, &m->cfg, &m->p, NULL, enc, lens, 2, 4, tg, tl, 1.0f, NULL, &out) < 0 &&
              strstr(mslam_last_error(), "blank"),
          "blank as a CTC target: %s", mslam_last_error());
    tg[1] = 4;
    lens[1] = 5;
    CHECK(ctc_head_loss(&w, &m->cfg, &m->p, NULL, enc, lens, 2, 4, tg, tl, 1.0f, NULL, &out) < 0,
          "length beyond T must fail");
    head_work_free(&w);
    mslam_model_free(m);

    /* a CTC head needs the blank at id 0 */
    struct mslam_model_config cfg = {
        .n_mels = 80, .d_model = 8, .n_heads = 2, .d_ff = 12, .conv_kernel = 3, .sub_channels = 1,
        .vocab_size = 3, .n_langs = 1, .causal_conv = 1, .ctc_head = 1};
    const char *bad_vocab[] = {"a", "<blank>", "b"};
    m = mslam_model_new(&cfg, bad_vocab, langs);
    CHECK(m == NULL && strstr(mslam_last_error(), "<blank>"), "blank not at 0: %s", mslam_last_error());
    mslam_model_free(m);
}

int main(void) {
    mslam_set_threads(2);
    test_ctc_gradients();
    test_ctc_empty_target();
    test_lid_gradients();
    test_parity();
    test_errors();
    return test_result("heads");
}
