/* Encoder tests: finite-difference gradients of a Conformer layer and of the whole encoder,
 * parity with the PyTorch reference (tests/reference/mslam_ref.py), batches with padding, and
 * the offline encode API. */
#include "common.h"
#include "encoder.h"
#include "model.h"
#include "safetensors.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const char *tiny_vocab[] = {"<blank>", "<unk>", " ", "a", "b", "c", "d", "e"};
static const char *tiny_langs[] = {"en", "fr"};

static struct mslam_model_config tiny_config(int causal) {
    return (struct mslam_model_config){
        .n_mels = 80, .d_model = 8, .n_heads = 2, .d_ff = 12, .conv_kernel = 3, .sub_channels = 2,
        .n_speech_layers = 1, .n_shared_layers = 1, .vocab_size = 8, .n_langs = 2, .causal_conv = causal};
}

static void randomise(mslam_model *m, uint64_t seed) {
    mslam_rng rng;
    mslam_rng_seed(&rng, seed);
    for (int i = 0; i < m->table.n; i++) {
        const mslam_param_entry *e = &m->table.entries[i];
        float *x = m->block + e->offset;
        int is_norm_weight = strstr(e->name, "ln.weight") || strstr(e->name, "norm.weight") ||
                             strstr(e->name, "ln_out.weight");
        for (size_t j = 0; j < e->numel; j++) {
            float r = mslam_rng_normal(&rng);
            if (!strcmp(e->name, "frontend.mel_mean")) x[j] = -5.0f + r;
            else if (!strcmp(e->name, "frontend.mel_std")) x[j] = 2.0f + 0.5f * mslam_rng_uniform(&rng);
            else if (is_norm_weight) x[j] = 1.0f + 0.1f * r;
            else x[j] = 0.3f * r;
        }
    }
}

static mslam_model *tiny_model(int causal, uint64_t seed) {
    struct mslam_model_config cfg = tiny_config(causal);
    mslam_model *m = mslam_model_new(&cfg, tiny_vocab, tiny_langs);
    if (m) randomise(m, seed);
    return m;
}

/* ---- gradient checks ---- */

typedef struct {
    mslam_model *m;
    mslam_encoder_pass pass;
    int speech;
    const float *mel;
    const int *lens;
    const int *ids;
    int B, T_in;
    attn_mask mask;
    residual_dropout dropout; /* of every training pass */
    const float *weight; /* (B, T, d) loss weights */
} grad_ctx;

static int forward(grad_ctx *c, int save) {
    c->pass.dropout = c->dropout;
    if (c->speech)
        return mslam_encoder_speech_forward(&c->pass, &c->m->cfg, &c->m->p, c->mel, c->lens, c->B, c->T_in,
                                            &c->mask, save);
    return mslam_encoder_text_forward(&c->pass, &c->m->cfg, &c->m->p, c->ids, c->lens, c->B, c->T_in, save);
}

/* a training pass (save = 1), so that dropout is the backward's */
static double loss_of(void *ctx) {
    grad_ctx *c = ctx;
    if (forward(c, 1)) return NAN;
    size_t n = (size_t)c->pass.B * c->pass.T * c->m->cfg.d_model;
    double loss = 0;
    for (size_t i = 0; i < n; i++) loss += (double)c->pass.out[i] * c->weight[i];
    return loss;
}

/* ReLU sign pattern of the subsampler: finite differences across a kink are skipped. */
static unsigned long long relu_region(void *ctx) {
    grad_ctx *c = ctx;
    if (!c->speech) return 0;
    const mslam_encoder_pass *p = &c->pass;
    size_t n1 = (size_t)p->B * c->m->cfg.sub_channels * p->T1 * p->F1;
    size_t n2 = (size_t)p->B * c->m->cfg.sub_channels * p->T * p->F2;
    unsigned long long h = 1469598103934665603ull;
    for (size_t i = 0; i < n1; i++) h = (h ^ (p->c1[i] > 0)) * 1099511628211ull;
    for (size_t i = 0; i < n2; i++) h = (h ^ (p->c2[i] > 0)) * 1099511628211ull;
    return h;
}

/* Checks every parameter tensor the path touches (and the mel input for speech). */
static void check_encoder_grads(const char *what, grad_ctx *c, float *mel_mutable, double threshold) {
    mslam_model *m = c->m;
    CHECK(forward(c, 1) == 0, "%s: forward failed: %s", what, mslam_last_error());
    int B = c->pass.B, T = c->pass.T, d = m->cfg.d_model;
    float *weight = malloc((size_t)B * T * d * sizeof(float));
    mslam_rng rng;
    mslam_rng_seed(&rng, 7);
    test_fill_uniform(weight, (size_t)B * T * d, -1, 1, &rng);
    c->weight = weight;

    mslam_params G;
    mslam_param_table gt;
    CHECK(mslam_param_table_build(&gt, &m->cfg, &G) == 0, "grad table");
    float *grad = calloc(gt.total, sizeof(float));
    mslam_params_bind(&gt, grad);
    float *dmel = c->speech ? calloc((size_t)B * c->T_in * m->cfg.n_mels, sizeof(float)) : NULL;
    CHECK(mslam_encoder_backward(&c->pass, &m->cfg, &m->p, &G, weight, dmel) == 0, "%s: backward: %s", what,
          mslam_last_error());
    for (int i = 0; m->table.entries && i < m->table.n; i++) {
        const mslam_param_entry *e = &m->table.entries[i];
        if (!strncmp(e->name, "frontend.", 9)) continue;
        int used = c->speech ? strncmp(e->name, "text.", 5) != 0
                             : (strncmp(e->name, "text.", 5) == 0 || strncmp(e->name, "shared_", 7) == 0);
        if (!used) continue;
        /* composed by hand: GCC's -Wformat-truncation misreads snprintf here under ASan */
        char name[160] = "";
        strncat(name, what, 80);
        strcat(name, " ");
        strncat(name, e->name, MSLAM_PARAM_NAME_MAX);
        if (strstr(e->name, "attn.k.bias")) {
            /* softmax is invariant to a shift shared by all keys: the true gradient is zero */
            float worst = 0;
            for (size_t j = 0; j < e->numel; j++) worst = fmaxf(worst, fabsf(grad[e->offset + j]));
            CHECK(worst < 1e-5f, "%s: gradient %.2e should be zero", name, worst);
            continue;
        }
        /* a subsampler conv weight moves every pre-activation of its layer: a smaller step keeps
         * most of them on their side of the ReLU kink */
        float eps = strncmp(e->name, "subsampler.conv", 15) ? 1e-2f : 1e-3f;
        double nmse = test_grad_check_regions(name, loss_of, relu_region, c, m->block + e->offset,
                                              grad + e->offset, e->numel, eps, 24);
        CHECK(nmse < threshold, "%s: nmse %.3e >= %.1e", name, nmse, threshold);
    }
    if (dmel) {
        char name[160];
        snprintf(name, sizeof name, "%s input mel", what);
        double nmse = test_grad_check_regions(name, loss_of, relu_region, c, mel_mutable, dmel,
                                              (size_t)B * c->T_in * m->cfg.n_mels, 1e-2f, 64);
        CHECK(nmse < threshold, "%s: nmse %.3e", name, nmse);
    }
    free(dmel);
    free(grad);
    free(weight);
    mslam_param_table_free(&gt);
    mslam_encoder_pass_free(&c->pass);
}

static void test_gradients(void) {
    printf("gradient checks (finite differences, float32, eps 1e-2)\n");
    for (int causal = 0; causal <= 1; causal++) {
        mslam_model *m = tiny_model(causal, 11 + causal);
        CHECK(m != NULL, "model: %s", mslam_last_error());
        if (!m) return;
        /* speech: 2 items, 27 and 20 mel frames -> 5 and 3 encoder frames; chunked attention */
        int B = 2, T_mel = 27, lens[2] = {27, 20};
        float *mel = malloc((size_t)B * T_mel * 80 * sizeof(float));
        mslam_rng rng;
        mslam_rng_seed(&rng, 3);
        for (int i = 0; i < B * T_mel * 80; i++) mel[i] = -5.0f + 2.0f * mslam_rng_normal(&rng);
        grad_ctx c = {.m = m, .speech = 1, .mel = mel, .lens = lens, .B = B, .T_in = T_mel,
                      .mask = {2, 1, 0}};
        check_encoder_grads(causal ? "speech causal chunk2/1" : "speech symmetric chunk2/1", &c, mel, 1e-4);
        c.mask = (attn_mask){0, -1, 0};
        check_encoder_grads(causal ? "speech causal full" : "speech symmetric full", &c, mel, 1e-4);
        /* residual dropout: the masks are a function of the seed, the same in every forward */
        c.dropout = (residual_dropout){.p = 0.3f, .seed = 1234};
        check_encoder_grads(causal ? "speech causal full dropout 0.3" : "speech symmetric full dropout 0.3", &c,
                            mel, 1e-4);
        c.dropout = (residual_dropout){0};
        /* text: 2 items of 6 and 4 characters */
        int ids[12] = {3, 4, 2, 5, 6, 7, 7, 3, 3, 4, 0, 0}, tlens[2] = {6, 4};
        grad_ctx t = {.m = m, .speech = 0, .ids = ids, .lens = tlens, .B = 2, .T_in = 6};
        check_encoder_grads(causal ? "text causal" : "text symmetric", &t, NULL, 1e-4);
        t.dropout = (residual_dropout){.p = 0.2f, .seed = 5};
        check_encoder_grads(causal ? "text causal dropout 0.2" : "text symmetric dropout 0.2", &t, NULL, 1e-4);
        free(mel);
        mslam_model_free(m);
    }
}

/* Residual dropout acts in training passes (save = 1) only: an inference pass with the same
 * setting gives the frames of one without, and a training pass others. */
static void test_dropout_training_only(void) {
    mslam_model *m = tiny_model(1, 5);
    if (!m) return;
    int B = 1, T_mel = 40, lens[1] = {40}, d = m->cfg.d_model;
    float *mel = malloc((size_t)T_mel * 80 * sizeof(float));
    mslam_rng rng;
    mslam_rng_seed(&rng, 4);
    for (int i = 0; i < T_mel * 80; i++) mel[i] = -5.0f + 2.0f * mslam_rng_normal(&rng);
    mslam_encoder_pass plain = {0}, drop = {0};
    drop.dropout = (residual_dropout){.p = 0.5f, .seed = 3};
    int ok = mslam_encoder_speech_forward(&plain, &m->cfg, &m->p, mel, lens, B, T_mel, NULL, 0) == 0 &&
             mslam_encoder_speech_forward(&drop, &m->cfg, &m->p, mel, lens, B, T_mel, NULL, 0) == 0;
    size_t n = (size_t)plain.T * d;
    CHECK(ok && !memcmp(plain.out, drop.out, n * sizeof(float)), "dropout: an inference pass is unchanged");
    ok = ok && mslam_encoder_speech_forward(&drop, &m->cfg, &m->p, mel, lens, B, T_mel, NULL, 1) == 0;
    CHECK(ok && memcmp(plain.out, drop.out, n * sizeof(float)), "dropout: a training pass changes the frames");
    mslam_encoder_pass_free(&plain);
    mslam_encoder_pass_free(&drop);
    free(mel);
    mslam_model_free(m);
}

/* ---- batches with padding equal batch size 1 ---- */

static void test_batch_consistency(void) {
    mslam_model *m = tiny_model(1, 5);
    if (!m) return;
    int B = 3, T_mel = 61, lens[3] = {61, 33, 48}, d = m->cfg.d_model;
    float *mel = malloc((size_t)B * T_mel * 80 * sizeof(float));
    mslam_rng rng;
    mslam_rng_seed(&rng, 9);
    for (int i = 0; i < B * T_mel * 80; i++) mel[i] = -5.0f + 2.0f * mslam_rng_normal(&rng);
    attn_mask mask = {3, 1, 0};
    /* and in training passes with residual dropout keyed by item: an item's masks follow its key,
     * not its place in the batch or the padding */
    for (int dropout = 0; dropout <= 1; dropout++) {
        int keys[3] = {10, 4, 7};
        mslam_encoder_pass batch = {0}, one = {0};
        if (dropout) batch.dropout = (residual_dropout){.p = 0.3f, .seed = 8, .keys = keys, .n_keys = B};
        CHECK(mslam_encoder_speech_forward(&batch, &m->cfg, &m->p, mel, lens, B, T_mel, &mask, dropout) == 0, "batch");
        double worst = 0;
        for (int b = 0; b < B; b++) {
            if (dropout) one.dropout = (residual_dropout){.p = 0.3f, .seed = 8, .keys = &keys[b], .n_keys = 1};
            CHECK(mslam_encoder_speech_forward(&one, &m->cfg, &m->p, mel + (size_t)b * T_mel * 80, &lens[b], 1,
                                               lens[b], &mask, dropout) == 0, "single %d", b);
            int T1 = one.T;
            CHECK(T1 == batch.lens[b], "item %d: %d frames alone, %d in the batch", b, T1, batch.lens[b]);
            for (int i = 0; i < T1 * d; i++) {
                double e = fabs(one.out[i] - batch.out[(size_t)b * batch.T * d + i]);
                if (e > worst) worst = e;
            }
            for (int i = T1 * d; i < batch.T * d; i++)
                CHECK(batch.out[(size_t)b * batch.T * d + i] == 0, "padded frame of item %d is not zero", b);
        }
        printf("batch of 3 with padding vs one at a time%s: max abs diff %.2e\n", dropout ? ", keyed dropout 0.3" : "",
               worst);
        CHECK(worst <= 1e-5, "batch differs from batch size 1 by %.2e%s", worst, dropout ? " (keyed dropout)" : "");
        mslam_encoder_pass_free(&batch);
        mslam_encoder_pass_free(&one);
    }
    free(mel);
    mslam_model_free(m);
}

/* ---- a long inference pass subsamples in pieces ---- */

/* An inference pass of more than 256 encoder frames runs the subsampler one item and 256 frames at
 * a time (for an hour's recording its whole-pass buffers took gigabytes): the same frames as a
 * training pass, which keeps the whole subsampler for its backward, and less memory than the
 * first convolution's whole output. Item 1 ends inside a piece; item 0 spans pieces at 256, 512. */
static void test_long_inference_pieces(void) {
    struct mslam_model_config cfg = tiny_config(1);
    cfg.sub_channels = 16;
    mslam_model *m = mslam_model_new(&cfg, tiny_vocab, tiny_langs);
    if (!m) return;
    randomise(m, 12);
    int B = 2, T_mel = mslam_subsampler_window(2000), lens[2] = {T_mel, 1500}, d = cfg.d_model;
    float *mel = malloc((size_t)B * T_mel * 80 * sizeof(float));
    mslam_rng rng;
    mslam_rng_seed(&rng, 13);
    for (size_t i = 0; i < (size_t)B * T_mel * 80; i++) mel[i] = -5.0f + 2.0f * mslam_rng_normal(&rng);
    attn_mask mask = {8, 2, 0};
    mslam_encoder_pass pieces = {0}, whole = {0};
    int ok = mslam_encoder_speech_forward(&pieces, &m->cfg, &m->p, mel, lens, B, T_mel, &mask, 0) == 0 &&
             mslam_encoder_speech_forward(&whole, &m->cfg, &m->p, mel, lens, B, T_mel, &mask, 1) == 0;
    CHECK(ok, "long passes: %s", mslam_last_error());
    if (ok) {
        double worst = 0;
        for (size_t i = 0; i < (size_t)B * whole.T * d; i++) {
            double e = fabs(pieces.out[i] - whole.out[i]);
            if (e > worst) worst = e;
        }
        printf("inference pass of %d frames in subsampler pieces vs a training pass: max abs diff %.2e\n", whole.T,
               worst);
        CHECK(worst <= 1e-5, "subsampler pieces differ from the whole pass by %.2e", worst);
        size_t c1_whole = (size_t)B * cfg.sub_channels * whole.T1 * whole.F1 * sizeof(float);
        CHECK(pieces.arena.used * sizeof(float) < c1_whole,
              "an inference pass of %d frames takes %zu bytes, more than the first convolution's whole output (%zu)",
              whole.T, pieces.arena.used * sizeof(float), c1_whole);
    }
    mslam_encoder_pass_free(&pieces);
    mslam_encoder_pass_free(&whole);
    free(mel);
    mslam_model_free(m);
}

/* ---- parity with the PyTorch reference ---- */

static float *read_tensor(const st_file *f, const char *name, size_t *numel) {
    const st_tensor *t = st_find(f, name);
    CHECK(t != NULL, "fixture has no tensor '%s'", name);
    if (!t) return NULL;
    float *x = malloc(t->numel * sizeof(float));
    CHECK(st_read_f32(f, t, x) == 0, "read %s: %s", name, mslam_last_error());
    if (numel) *numel = t->numel;
    return x;
}

static int *read_ints(const st_file *f, const char *name) {
    const st_tensor *t = st_find(f, name);
    CHECK(t != NULL, "fixture has no tensor '%s'", name);
    if (!t) return NULL;
    int32_t *x = malloc(t->numel * sizeof(int32_t));
    CHECK(st_read_i32(f, t, x) == 0, "read %s: %s", name, mslam_last_error());
    return (int *)x;
}

/* Relative error of the valid frames: max |a - ref| / max(|ref|, 1e-2)... over items. */
static double compare_frames(const float *a, const float *ref, int B, int T, int d, const int *lens) {
    double worst = 0;
    for (int b = 0; b < B; b++) {
        size_t off = (size_t)b * T * d;
        double e = test_max_rel_err(a + off, ref + off, (size_t)lens[b] * d, 1e-2f);
        if (e > worst) worst = e;
    }
    return worst;
}

static void test_parity(void) {
    mslam_model *m = mslam_model_load(test_data_path("reference/fixtures/encoder_tiny.safetensors"),
                                      mslam_model_default_params());
    CHECK(m != NULL, "reference model: %s", mslam_last_error());
    st_file io;
    int opened = st_open(&io, test_data_path("reference/fixtures/encoder_tiny_io.safetensors")) == 0;
    CHECK(opened, "reference fixture: %s", mslam_last_error());
    if (!m || !opened) {
        if (m) mslam_model_free(m);
        if (opened) st_close(&io);
        return;
    }
    const struct mslam_model_config *cfg = &m->cfg;
    int d = cfg->d_model;
    const st_tensor *mt = st_find(&io, "mel");
    int B = (int)mt->shape[0], T_mel = (int)mt->shape[1];
    float *mel = read_tensor(&io, "mel", NULL);
    int *mel_lens = read_ints(&io, "mel_lens");
    int *chunk = read_ints(&io, "chunk");

    mslam_encoder_pass pass = {0};
    /* chunked attention */
    attn_mask mask = {chunk[0], chunk[1], 0};
    CHECK(mslam_encoder_speech_forward(&pass, cfg, &m->p, mel, mel_lens, B, T_mel, &mask, 0) == 0, "chunk fwd");
    float *ref = read_tensor(&io, "speech_out_chunk", NULL);
    double e = compare_frames(pass.out, ref, B, pass.T, d, pass.lens);
    printf("parity speech chunked (%d/%d): max rel err %.2e\n", chunk[0], chunk[1], e);
    CHECK(e <= 1e-4, "speech chunked output differs from PyTorch: %.2e", e);
    free(ref);

    /* full context, with gradients */
    CHECK(mslam_encoder_speech_forward(&pass, cfg, &m->p, mel, mel_lens, B, T_mel, NULL, 1) == 0, "fwd");
    ref = read_tensor(&io, "speech_out", NULL);
    e = compare_frames(pass.out, ref, B, pass.T, d, pass.lens);
    printf("parity speech full: max rel err %.2e\n", e);
    CHECK(e <= 1e-4, "speech output differs from PyTorch: %.2e", e);
    free(ref);

    mslam_params G;
    mslam_param_table gt;
    mslam_param_table_build(&gt, cfg, &G);
    float *grad = calloc(gt.total, sizeof(float));
    mslam_params_bind(&gt, grad);
    float *dmel = calloc((size_t)B * T_mel * cfg->n_mels, sizeof(float));
    float *sw = read_tensor(&io, "speech_weight", NULL);
    CHECK(mslam_encoder_backward(&pass, cfg, &m->p, &G, sw, dmel) == 0, "backward");

    /* text */
    const st_tensor *it = st_find(&io, "text_ids");
    int TB = (int)it->shape[0], L = (int)it->shape[1];
    int *ids = read_ints(&io, "text_ids");
    int *tlens = read_ints(&io, "text_lens");
    mslam_encoder_pass tpass = {0};
    CHECK(mslam_encoder_text_forward(&tpass, cfg, &m->p, ids, tlens, TB, L, 1) == 0, "text fwd: %s",
          mslam_last_error());
    ref = read_tensor(&io, "text_out", NULL);
    e = compare_frames(tpass.out, ref, TB, L, d, tlens);
    printf("parity text: max rel err %.2e\n", e);
    CHECK(e <= 1e-4, "text output differs from PyTorch: %.2e", e);
    free(ref);
    float *tw = read_tensor(&io, "text_weight", NULL);
    CHECK(mslam_encoder_backward(&tpass, cfg, &m->p, &G, tw, NULL) == 0, "text backward");

    /* parameter gradients, relative to each tensor's largest reference gradient, floored at 1e-3 of
     * the largest of all (attn.k.bias has a true gradient of zero: only rounding is left there) */
    float global = 0;
    for (int i = 0; i < gt.n; i++) {
        char name[96];
        snprintf(name, sizeof name, "grad.%s", gt.entries[i].name);
        size_t nr;
        float *g_ref = st_find(&io, name) ? read_tensor(&io, name, &nr) : NULL;
        for (size_t j = 0; g_ref && j < nr; j++) global = fmaxf(global, fabsf(g_ref[j]));
        free(g_ref);
    }
    double worst = 0;
    const char *worst_name = "";
    for (int i = 0; i < gt.n; i++) {
        const mslam_param_entry *en = &gt.entries[i];
        if (!strncmp(en->name, "frontend.", 9)) continue;
        char name[96];
        snprintf(name, sizeof name, "grad.%s", en->name);
        float *g_ref = read_tensor(&io, name, NULL);
        if (!g_ref) continue;
        float scale = 0;
        for (size_t j = 0; j < en->numel; j++) scale = fmaxf(scale, fabsf(g_ref[j]));
        double err = test_max_rel_err(grad + en->offset, g_ref, en->numel, fmaxf(scale, 1e-3f * global));
        if (err > worst) {
            worst = err;
            worst_name = en->name;
        }
        free(g_ref);
    }
    printf("parity parameter gradients: max err %.2e (relative to each tensor's largest), worst %s\n", worst,
           worst_name);
    CHECK(worst <= 1e-4, "parameter gradient %s differs from PyTorch: %.2e", worst_name, worst);
    size_t n_mel_ref;
    float *dmel_ref = read_tensor(&io, "grad.mel", &n_mel_ref);
    float scale = 0;
    for (size_t j = 0; j < n_mel_ref; j++) scale = fmaxf(scale, fabsf(dmel_ref[j]));
    e = test_max_rel_err(dmel, dmel_ref, n_mel_ref, scale);
    printf("parity input gradient: max err %.2e\n", e);
    CHECK(e <= 1e-4, "mel gradient differs from PyTorch: %.2e", e);

    /* pcm -> frames through the public API */
    size_t n_pcm;
    float *pcm = read_tensor(&io, "pcm", &n_pcm);
    int n_frames = 0;
    float *frames = mslam_encode_pcm(m, pcm, n_pcm, NULL, &n_frames);
    CHECK(frames != NULL, "encode_pcm: %s", mslam_last_error());
    const st_tensor *pt = st_find(&io, "speech_out_pcm");
    CHECK(pt && n_frames == (int)pt->shape[1], "encode_pcm: %d frames, reference %d", n_frames,
          pt ? (int)pt->shape[1] : -1);
    if (frames && pt && n_frames == (int)pt->shape[1]) {
        ref = read_tensor(&io, "speech_out_pcm", NULL);
        e = test_max_rel_err(frames, ref, (size_t)n_frames * d, 1e-2f);
        printf("parity pcm -> frames: max rel err %.2e\n", e);
        CHECK(e <= 1e-3, "pcm -> frames differs from PyTorch: %.2e", e);
        free(ref);
    }
    mslam_free(frames);

    free(pcm);
    free(dmel_ref);
    free(tw);
    free(tlens);
    free(ids);
    free(sw);
    free(dmel);
    free(grad);
    mslam_param_table_free(&gt);
    mslam_encoder_pass_free(&pass);
    mslam_encoder_pass_free(&tpass);
    free(chunk);
    free(mel_lens);
    free(mel);
    st_close(&io);
    mslam_model_free(m);
}

/* ---- API errors ---- */

/* mslam_quote, which messages quote text with: UTF-8 as it is, other bytes and control
 * characters as \xNN, long text cut at a character. */
static void test_quote(void) {
    char q[MSLAM_QUOTE_SIZE];
    CHECK(!strcmp(mslam_quote(q, "h\xc3\xa9llo", MSLAM_UTF8_NUL_TERMINATED), "h\xc3\xa9llo"), "UTF-8 as it is: %s", q);
    CHECK(!strcmp(mslam_quote(q, "a\xff\xc3\t", MSLAM_UTF8_NUL_TERMINATED), "a\\xFF\\xC3\\x09"), "bytes as \\xNN: %s", q);
    CHECK(!strcmp(mslam_quote(q, "abcdef", 3), "abc"), "n bytes: %s", q);
    char *long_text = malloc(2 * MSLAM_QUOTE_SIZE + 1);
    for (int i = 0; i < MSLAM_QUOTE_SIZE; i++) memcpy(long_text + 2 * i, "\xc3\xa9", 2);
    long_text[2 * MSLAM_QUOTE_SIZE] = '\0';
    size_t len = strlen(mslam_quote(q, long_text, MSLAM_UTF8_NUL_TERMINATED));
    CHECK(len < MSLAM_QUOTE_SIZE && len > 3 && !strcmp(q + len - 3, "...") && mslam_utf8_length(q) >= 0,
          "long text cut at a character: %s", q);
    free(long_text);
    /* n that cuts a character: the text goes on ("..."), no invented bytes */
    CHECK(!strcmp(mslam_quote(q, "\xe4\xb8\xad\xe6\x96\x87", 4), "\xe4\xb8\xad..."), "n inside a character: %s", q);
    /* text that fits whole takes no "..." */
    char fits[MSLAM_QUOTE_SIZE];
    memset(fits, 'a', sizeof fits - 1);
    fits[sizeof fits - 1] = '\0';
    CHECK(!strcmp(mslam_quote(q, fits, MSLAM_UTF8_NUL_TERMINATED), fits), "%zu bytes fit whole: %s",
          sizeof fits - 1, q);
    CHECK(!strcmp(mslam_quote(q, "a\xe2\x80\xa8" "b\xc2\x85", MSLAM_UTF8_NUL_TERMINATED), "a\\u2028b\\u0085"),
          "line separators written \\uNNNN: %s", q);
}

static void test_api_errors(void) {
    mslam_model *m = tiny_model(1, 1);
    if (!m) return;
    int n = -1;
    float *x = mslam_encode_text(m, "abz", NULL, &n);
    CHECK(x == NULL, "a character outside the vocabulary must fail");
    CHECK(strstr(mslam_last_error(), "'z'") != NULL, "error should name the character: %s", mslam_last_error());
    x = mslam_encode_text(m, "ab cd", NULL, &n);
    CHECK(x != NULL && n == 5, "text of 5 characters gives %d frames", n);
    mslam_free(x);
    float pcm[1000] = {0};
    x = mslam_encode_pcm(m, pcm, 639, NULL, &n);
    CHECK(x != NULL && n == 0, "audio shorter than one frame (640 samples) gives no frames (%d)", n);
    mslam_free(x);
    x = mslam_encode_pcm(m, pcm, 640, NULL, &n);
    CHECK(x != NULL && n == 1, "640 samples give one frame (%d)", n);
    mslam_free(x);
    pcm[10] = NAN;
    x = mslam_encode_pcm(m, pcm, 1000, NULL, &n);
    CHECK(x == NULL && strstr(mslam_last_error(), "sample 10"), "NaN sample: %s", mslam_last_error());
    struct mslam_encode_params ep = mslam_encode_default_params();
    ep.chunk_frames = -3;
    pcm[10] = 0;
    x = mslam_encode_pcm(m, pcm, 1000, &ep, &n);
    CHECK(x == NULL && strstr(mslam_last_error(), "chunk_frames"), "bad chunk: %s", mslam_last_error());
    /* text: the chunk params are checked as for speech, and not used (full context) */
    x = mslam_encode_text(m, "ab cd", &ep, &n);
    CHECK(x == NULL && strstr(mslam_last_error(), "mslam_encode_text: chunk_frames = -3"), "bad chunk for text: %s",
          mslam_last_error());
    int n_full = 0;
    float *full = mslam_encode_text(m, "ab cd", NULL, &n_full);
    ep.chunk_frames = 2, ep.left_chunks = 0;
    x = mslam_encode_text(m, "ab cd", &ep, &n);
    CHECK(full && x && n == n_full && !memcmp(x, full, (size_t)n * m->cfg.d_model * sizeof(float)),
          "text is encoded with full context whatever chunk_frames says");
    mslam_free(x);
    mslam_free(full);
    /* not UTF-8: an error of its own naming the byte; messages quote nothing that is not UTF-8 */
    x = mslam_encode_text(m, "ab\xff", NULL, &n);
    CHECK(x == NULL && strstr(mslam_last_error(), "mslam_encode_text: the text is not valid UTF-8 at byte 2 (0xFF)"),
          "invalid UTF-8: %s", mslam_last_error());
    x = mslam_encode_text(m, "a\xc3", NULL, &n);
    CHECK(x == NULL && strstr(mslam_last_error(), "not valid UTF-8 at byte 1 (0xC3)"), "a cut sequence: %s",
          mslam_last_error());
    x = mslam_encode_text(m, "a\nb", NULL, &n);
    CHECK(x == NULL && strstr(mslam_last_error(), "byte 1 ('\\x0A') is not in the model's vocabulary"),
          "a control character is quoted as \\x0A: %s", mslam_last_error());
    mslam_model_free(m);
}

int main(void) {
    mslam_set_threads(2);
    test_gradients();
    test_dropout_training_only();
    test_batch_consistency();
    test_long_inference_pieces();
    test_parity();
    test_quote();
    test_api_errors();
    return test_result("encoder");
}
