/* Transformer decoder: finite-difference gradients of every decoder parameter and of the encoder
 * output, parity with the PyTorch reference (heads_tiny*.safetensors), incremental decoding with
 * the key/value cache equal to the teacher-forced forward (with beam reordering and cache
 * growth), and errors. */
#include "decoder.h"
#include "model.h"
#include "safetensors.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *vocab[] = {"<blank>", "<s>", "</s>", " ", "a", "b", "c", "d"};
static const char *langs[] = {"en"};

static mslam_model *tiny_model(uint64_t seed) {
    struct mslam_model_config cfg = {
        .n_mels = 80, .d_model = 8, .n_heads = 2, .d_ff = 12, .conv_kernel = 3, .sub_channels = 1,
        .vocab_size = 8, .n_langs = 1, .causal_conv = 1, .n_decoder_layers = 2};
    mslam_model *m = mslam_model_new(&cfg, vocab, langs);
    CHECK(m != NULL, "model: %s", mslam_last_error());
    if (m) test_randomise_model(m, seed, 0.4f);
    return m;
}

/* ---- gradient checks ---- */

enum { B = 2, T = 5, LT = 3, D = 8 };

typedef struct {
    mslam_model *m;
    decoder_pass pass;
    float enc[B * T * D];
    int enc_lens[B], targets[B * LT], target_lens[B];
    residual_dropout dropout;
} grad_ctx;

static int run(grad_ctx *c, mslam_params *G, float *denc, head_loss *out) {
    c->pass.dropout = c->dropout; /* the same masks in every call */
    return decoder_loss(&c->pass, &c->m->cfg, &c->m->p, G, c->m->bos_id, c->m->eos_id, c->enc, c->enc_lens, B, T,
                        c->targets, c->target_lens, LT, 0.1f, 0.5f, denc, out);
}

static double loss_of(void *ctx) {
    head_loss out;
    return run(ctx, NULL, NULL, &out) ? NAN : 0.5 * out.loss;
}

/* dropout: the residual dropout of every call (p 0: none) */
static void test_gradients(float dropout) {
    grad_ctx *c = calloc(1, sizeof *c);
    c->dropout = (residual_dropout){.p = dropout, .seed = 31};
    c->m = tiny_model(21);
    if (!c->m) {
        free(c);
        return;
    }
    mslam_model *m = c->m;
    mslam_rng rng;
    mslam_rng_seed(&rng, 22);
    test_fill_uniform(c->enc, sizeof c->enc / sizeof *c->enc, -1.0f, 1.0f, &rng);
    /* item 1: 3 frames of 5 and 1 target token of 3; padding must not matter */
    int lens[B] = {5, 3}, tl[B] = {3, 1}, tg[B * LT] = {4, 5, 3, 7, 0, 0};
    memcpy(c->enc_lens, lens, sizeof lens);
    memcpy(c->target_lens, tl, sizeof tl);
    memcpy(c->targets, tg, sizeof tg);

    mslam_params G;
    mslam_param_table gt;
    CHECK(mslam_param_table_build(&gt, &m->cfg, &G) == 0, "grad table");
    float *grad = calloc(gt.total, sizeof(float));
    mslam_params_bind(&gt, grad);
    float denc[B * T * D] = {0};
    head_loss out;
    CHECK(run(c, &G, denc, &out) == 0, "decoder loss: %s", mslam_last_error());
    CHECK(out.n_tokens == 6 && out.n_items == 2, "tokens counted: %d (want 3 + 1 + 2 ends)", out.n_tokens);
    printf("gradient checks (finite differences, float32, eps 1e-2, dropout %g), loss %.4f over %d tokens\n",
           (double)dropout, out.loss, out.n_tokens);
    int n_checked = 0;
    for (int i = 0; i < gt.n; i++) {
        const mslam_param_entry *e = &gt.entries[i];
        if (strncmp(e->name, "decoder", 7)) continue;
        n_checked++;
        if (strstr(e->name, "k.bias")) {
            /* q . bk is the same for every key of a query and softmax ignores it: exactly zero */
            float worst = 0;
            for (size_t j = 0; j < e->numel; j++) worst = fmaxf(worst, fabsf(grad[e->offset + j]));
            CHECK(worst < 1e-6f, "%s: gradient %.2e should be zero", e->name, worst);
            continue;
        }
        double nmse = test_grad_check(e->name, loss_of, c, m->block + e->offset, grad + e->offset, e->numel,
                                      1e-2f, 48);
        CHECK(nmse < 1e-5, "%s: nmse %.3e", e->name, nmse);
    }
    CHECK(n_checked == 2 * 26 + 5, "%d decoder tensors checked", n_checked);
    double nmse = test_grad_check("encoder output", loss_of, c, c->enc, denc, (size_t)B * T * D, 1e-2f, 0);
    CHECK(nmse < 1e-5, "d(enc): nmse %.3e", nmse);
    for (int t = lens[1]; t < T; t++)
        for (int k = 0; k < D; k++)
            CHECK(denc[(T + t) * D + k] == 0.0f, "padded frame %d of item 1 has a gradient", t);
    free(grad);
    mslam_param_table_free(&gt);
    decoder_pass_free(&c->pass);
    mslam_model_free(m);
    free(c);
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

static double rel_err(const float *a, const float *ref, size_t n) {
    float scale = 0;
    for (size_t i = 0; i < n; i++) scale = fmaxf(scale, fabsf(ref[i]));
    return test_max_rel_err(a, ref, n, fmaxf(scale, 1e-30f));
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
    const st_tensor *et = st_find(&io, "enc"), *tt = st_find(&io, "dec_targets");
    const int nB = (int)et->shape[0], nT = (int)et->shape[1], Lt = (int)tt->shape[1], d = m->cfg.d_model;
    const int V = m->cfg.vocab_size;
    float *enc = read_f32(&io, "enc", NULL);
    int *lens = read_i32(&io, "enc_lens");
    int *targets = read_i32(&io, "dec_targets"), *tl = read_i32(&io, "dec_target_lens");
    mslam_params G;
    mslam_param_table gt;
    mslam_param_table_build(&gt, &m->cfg, &G);
    float *grad = calloc(gt.total, sizeof(float));
    float *denc = calloc((size_t)nB * nT * d, sizeof(float));
    mslam_params_bind(&gt, grad);
    decoder_pass pass = {0};
    head_loss out;
    CHECK(decoder_loss(&pass, &m->cfg, &m->p, &G, m->bos_id, m->eos_id, enc, lens, nB, nT, targets, tl, Lt, 0.1f,
                       1.0f, denc, &out) == 0,
          "decoder loss: %s", mslam_last_error());

    float *ref = read_f32(&io, "dec_logits", NULL);
    double e_logits = rel_err(pass.logits, ref, (size_t)nB * (Lt + 1) * V);
    free(ref);
    ref = read_f32(&io, "dec_loss", NULL);
    double e_loss = fabs(out.loss - ref[0]) / fabs(ref[0]);
    printf("parity decoder: loss %.6f vs %.6f (rel err %.2e), logits max rel err %.2e\n", out.loss, ref[0], e_loss,
           e_logits);
    free(ref);
    CHECK(e_loss <= 1e-5 && e_logits <= 1e-5, "decoder loss or logits differ from PyTorch: %.2e, %.2e", e_loss,
          e_logits);

    double worst = 0;
    const char *worst_name = "";
    int n_compared = 0;
    for (int i = 0; i < gt.n; i++) {
        const mslam_param_entry *e = &gt.entries[i];
        if (strncmp(e->name, "decoder", 7)) continue;
        char name[96];
        snprintf(name, sizeof name, "grad.%s", e->name);
        ref = read_f32(&io, name, NULL);
        if (!ref) continue;
        /* k.bias: a true zero, compared against the largest gradient of its layer's tensors */
        double err = strstr(e->name, "k.bias") ? test_max_rel_err(grad + e->offset, ref, e->numel, 1e-2f)
                                               : rel_err(grad + e->offset, ref, e->numel);
        if (err > worst) worst = err, worst_name = e->name;
        n_compared++;
        free(ref);
    }
    size_t n_enc;
    ref = read_f32(&io, "dec_denc", &n_enc);
    double e_enc = rel_err(denc, ref, n_enc);
    free(ref);
    printf("parity decoder: %d parameter gradients max rel err %.2e (%s), d(enc) %.2e\n", n_compared, worst,
           worst_name, e_enc);
    CHECK(n_compared == 2 * 26 + 5, "compared %d decoder gradients", n_compared);
    CHECK(worst <= 1e-4, "decoder gradient %s differs from PyTorch: %.2e", worst_name, worst);
    CHECK(e_enc <= 1e-4, "decoder d(enc) differs from PyTorch: %.2e", e_enc);

    decoder_pass_free(&pass);
    free(grad);
    free(denc);
    free(enc);
    free(lens);
    free(targets);
    free(tl);
    mslam_param_table_free(&gt);
    st_close(&io);
    mslam_model_free(m);
}

/* ---- incremental decoding ---- */

/* Teacher-forced logits (nb, L + 1, V) of nb token sequences (nb, L) on the same frames. */
static float *full_logits(mslam_model *m, decoder_pass *p, const float *enc, int Tn, const int *seqs, int nb, int L) {
    const int d = m->cfg.d_model, V = m->cfg.vocab_size;
    float *encs = malloc((size_t)nb * Tn * d * sizeof(float));
    int *lens = malloc((size_t)nb * sizeof(int)), *tl = malloc((size_t)nb * sizeof(int));
    for (int b = 0; b < nb; b++) {
        memcpy(encs + (size_t)b * Tn * d, enc, (size_t)Tn * d * sizeof(float));
        lens[b] = Tn;
        tl[b] = L;
    }
    float *out = NULL;
    if (decoder_forward(p, &m->cfg, &m->p, m->bos_id, m->eos_id, encs, lens, nb, Tn, seqs, tl, L) == 0) {
        out = malloc((size_t)nb * (L + 1) * V * sizeof(float));
        memcpy(out, p->logits, (size_t)nb * (L + 1) * V * sizeof(float));
    }
    CHECK(out != NULL, "full forward: %s", mslam_last_error());
    free(encs);
    free(lens);
    free(tl);
    return out;
}

/* max |step - full| / max |full| for beam b at position pos */
static double step_err(const float *step, const float *full, int b, int pos, int L, int V) {
    return rel_err(step, full + ((size_t)b * (L + 1) + pos) * V, (size_t)V);
}

static void test_incremental(void) {
    mslam_model *m = mslam_model_load(test_data_path("reference/fixtures/heads_tiny.safetensors"),
                                      mslam_model_default_params());
    if (!m) return;
    const int d = m->cfg.d_model, V = m->cfg.vocab_size, Tn = 6, bos = m->bos_id;
    float enc[6 * 16];
    mslam_rng rng;
    mslam_rng_seed(&rng, 31);
    test_fill_uniform(enc, (size_t)Tn * d, -1.0f, 1.0f, &rng);
    decoder_pass pass = {0};
    decoder_cache cache = {0};
    float logits[3 * 16];
    double worst = 0;

    /* three beams; after position 1 they become (C, A, A) and the third takes another way */
    int first[3 * 2] = {4, 5, 8, 3, 9, 9};
    int after[3 * 4] = {9, 9, 5, 3, 4, 5, 6, 7, 4, 5, 7, 8};
    float *full1 = full_logits(m, &pass, enc, Tn, first, 3, 2);
    float *full2 = full_logits(m, &pass, enc, Tn, after, 3, 4);
    CHECK(decoder_cache_begin(&cache, &m->cfg, &m->p, enc, Tn, 3) == 0, "cache: %s", mslam_last_error());
    int tokens[3] = {bos, bos, bos};
    for (int pos = 0; full1 && full2 && pos <= 4; pos++) {
        if (pos == 2) {
            int parents[3] = {2, 0, 0};
            decoder_cache_reorder(&cache, &m->cfg, parents, 3, 2);
        }
        for (int b = 0; pos > 0 && b < 3; b++) tokens[b] = pos < 2 ? first[b * 2 + pos - 1] : after[b * 4 + pos - 1];
        CHECK(decoder_cache_step(&cache, &m->cfg, &m->p, tokens, 3, pos, logits) == 0, "step %d", pos);
        for (int b = 0; b < 3; b++) {
            double e = pos < 2 ? step_err(logits + b * V, full1, b, pos, 2, V)
                               : step_err(logits + b * V, full2, b, pos, 4, V);
            worst = e > worst ? e : worst;
        }
    }
    free(full1);
    free(full2);

    /* one beam over 70 positions: the cache grows past its first 32 and 64 */
    enum { LONG = 69 };
    int seq[LONG];
    for (int i = 0; i < LONG; i++) seq[i] = 3 + (int)(mslam_rng_u32(&rng) % (unsigned)(V - 3));
    float *full = full_logits(m, &pass, enc, Tn, seq, 1, LONG);
    CHECK(decoder_cache_begin(&cache, &m->cfg, &m->p, enc, Tn, 1) == 0, "cache: %s", mslam_last_error());
    for (int pos = 0; full && pos <= LONG; pos++) {
        int tok = pos ? seq[pos - 1] : bos;
        CHECK(decoder_cache_step(&cache, &m->cfg, &m->p, &tok, 1, pos, logits) == 0, "step %d", pos);
        double e = step_err(logits, full, 0, pos, LONG, V);
        worst = e > worst ? e : worst;
    }
    free(full);
    printf("incremental (cached keys/values, reordered beams, cache growth) vs teacher-forced logits: max rel "
           "err %.2e\n", worst);
    CHECK(worst <= 1e-5, "incremental logits differ from the full forward: %.2e", worst);
    decoder_cache_free(&cache);
    decoder_pass_free(&pass);
    mslam_model_free(m);
}

/* ---- errors ---- */

static void test_errors(void) {
    struct mslam_model_config cfg = {
        .n_mels = 80, .d_model = 8, .n_heads = 2, .d_ff = 12, .conv_kernel = 3, .sub_channels = 1,
        .vocab_size = 8, .n_langs = 1, .causal_conv = 1, .n_decoder_layers = 1};
    const char *no_eos[] = {"<blank>", "<s>", "<pad>", " ", "a", "b", "c", "d"};
    mslam_model *m = mslam_model_new(&cfg, no_eos, langs);
    CHECK(m == NULL && strstr(mslam_last_error(), "</s>"), "decoder without </s>: %s", mslam_last_error());
    cfg.n_decoder_layers = 0;
    m = mslam_model_new(&cfg, no_eos, langs);
    CHECK(m != NULL, "no decoder, no sentence marks needed: %s", mslam_last_error());
    float enc[8 * 2] = {0};
    int lens[1] = {2}, tg[1] = {4}, tl[1] = {1};
    decoder_pass pass = {0};
    head_loss out;
    CHECK(decoder_loss(&pass, &cfg, &m->p, NULL, 1, 2, enc, lens, 1, 2, tg, tl, 1, 0.1f, 1.0f, NULL, &out) < 0 &&
              strstr(mslam_last_error(), "no decoder"),
          "decoder loss without a decoder: %s", mslam_last_error());
    mslam_model_free(m);
    m = tiny_model(3);
    tg[0] = 8;
    CHECK(decoder_loss(&pass, &m->cfg, &m->p, NULL, m->bos_id, m->eos_id, enc, lens, 1, 2, tg, tl, 1, 0.1f, 1.0f,
                       NULL, &out) < 0 && strstr(mslam_last_error(), "target id 8"),
          "target outside the vocabulary: %s", mslam_last_error());
    decoder_pass_free(&pass);
    mslam_model_free(m);
}

int main(void) {
    /* thousands of tiny forwards: one thread (a team's spinning costs more than it saves here) */
    mslam_set_threads(1);
    test_gradients(0.0f);
    test_gradients(0.3f);
    mslam_set_threads(2);
    test_parity();
    test_incremental();
    test_errors();
    return test_result("decoder");
}
