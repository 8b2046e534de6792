/* Self-supervised pre-training: trainer/pretrain.c's span masks and losses, and core/encoder.c's
 * hooks for them.
 *
 * - Masks (pretrain_mask_speech, pretrain_mask_text): the rows they may touch, their counts, their
 *   determinism per (seed, key) whatever the item's place in the batch, their coverage and spans.
 * - w2v-BERT's loss against references computed here (InfoNCE with distractors of another code
 *   and of the same code, diversity, code prediction, the statistics), and its gradients against
 *   central differences of the returned loss. The hard codes are piecewise constant in the
 *   quantizer's input and weights: a difference whose two sides (or centre) have other codes is
 *   skipped, and everything else is then exact, except the quantizer's straight-through gradient,
 *   which is no derivative of the loss and is checked against its formula (test_w2v_straight_through).
 * - A keyed batch split in two adds up to the whole (losses, statistics, gradients).
 * - BEST-RQ's random quantizer against codes computed here, and the code prediction of given
 *   codes (no contrastive or diversity term).
 * - SpanBERT's loss, gradients, counts and errors.
 * - The encoder's masked passes: features, mask embeddings, the gradient injected at the speech
 *   layers' output (with shared layers, without any, without speech layers), the text path's mask,
 *   the errors; and w2v-BERT end to end through the encoder. */
#include "common.h"
#include "encoder.h"
#include "model.h"
#include "pretrain.h"
#include "testutil.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

enum { D = 8, V = 8, N_MELS = 16 };

static const char *const tiny_vocab[V] = {"<blank>", "<unk>", " ", "a", "b", "c", "d", "e"};
static const char *const tiny_langs[] = {"en", "fr"};

static struct mslam_model_config pt_config(int n_codes, int n_speech, int n_shared) {
    return (struct mslam_model_config){.n_mels = N_MELS, .d_model = D, .n_heads = 2, .d_ff = 12, .conv_kernel = 3,
                                       .sub_channels = 2, .n_speech_layers = n_speech,
                                       .n_shared_layers = n_shared, .vocab_size = V, .n_langs = 2,
                                       .n_codes = n_codes};
}

static mslam_model *pt_model(int n_codes, int n_speech, int n_shared, uint64_t seed) {
    struct mslam_model_config cfg = pt_config(n_codes, n_speech, n_shared);
    mslam_model *m = mslam_model_new(&cfg, tiny_vocab, tiny_langs);
    CHECK(m != NULL, "model: %s", mslam_last_error());
    if (m) test_randomise_model(m, seed, 0.3f);
    return m;
}

/* A gradient block lined up with a model's. */
typedef struct {
    mslam_param_table t;
    mslam_params G;
    float *block;
} grad_block;

static void grads_init(grad_block *g, const struct mslam_model_config *cfg) {
    CHECK(mslam_param_table_build(&g->t, cfg, &g->G) == 0, "gradient table: %s", mslam_last_error());
    g->block = calloc(g->t.total, sizeof(float));
    mslam_params_bind(&g->t, g->block);
}

static void grads_zero(grad_block *g) { memset(g->block, 0, g->t.total * sizeof(float)); }

static void grads_free(grad_block *g) {
    free(g->block);
    mslam_param_table_free(&g->t);
}

static float *normal_array(size_t n, float scale, uint64_t seed) {
    float *x = malloc(n * sizeof(float));
    mslam_rng rng;
    mslam_rng_seed(&rng, seed);
    for (size_t i = 0; i < n; i++) x[i] = scale * mslam_rng_normal(&rng);
    return x;
}

/* Rows t >= lens[b] of x (B, T, d) set to NaN: whatever reads them shows. */
static void poison_padding(float *x, const int *lens, int B, int T, int d) {
    for (int b = 0; b < B; b++)
        for (int t = lens[b]; t < T; t++)
            for (int i = 0; i < d; i++) x[((size_t)b * T + t) * d + i] = NAN;
}

static double max_abs(const float *x, size_t n) {
    double m = 0;
    for (size_t i = 0; i < n; i++) m = fmax(m, fabs(x[i]));
    return m;
}

static int all_finite(const float *x, size_t n) {
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i])) return 0;
    return 1;
}

static double rel_diff(double a, double b) { return fabs(a - b) / fmax(1e-12, fmax(fabs(a), fabs(b))); }

/* ---- finite differences ---- */

typedef struct {
    double nmse, max_err, max_numeric;
    size_t checked, skipped;
} fd_result;

/* Central differences of loss with respect to x (every element, or max_checks spread evenly),
 * against analytic; an element whose -h, centre and +h states fall in different regions (hard
 * codes, ReLU signs) is skipped. The step is the one the floats really took. */
static fd_result fd_check(const char *name, test_loss_fn loss, test_region_fn region, void *ctx, float *x,
                          const float *analytic, size_t n, float eps, size_t max_checks) {
    fd_result r = {0};
    size_t step = max_checks && max_checks < n ? n / max_checks : 1;
    loss(ctx);
    unsigned long long r0 = region ? region(ctx) : 0;
    double num = 0, den = 0;
    int nan = 0;
    for (size_t i = 0; i < n; i += step) {
        float saved = x[i];
        if (!isfinite(saved)) continue; /* the padding's NaN: read by nothing */
        x[i] = saved + eps;
        double hp = x[i], lp = loss(ctx);
        unsigned long long rp = region ? region(ctx) : 0;
        x[i] = saved - eps;
        double hm = x[i], lm = loss(ctx);
        unsigned long long rm = region ? region(ctx) : 0;
        x[i] = saved;
        if (rp != r0 || rm != r0) {
            r.skipped++;
            continue;
        }
        double numeric = (lp - lm) / (hp - hm), d = analytic[i] - numeric;
        nan |= !isfinite(d);
        num += d * d;
        den += numeric * numeric;
        if (!(fabs(d) <= r.max_err)) r.max_err = fabs(d);
        r.max_numeric = fmax(r.max_numeric, fabs(numeric));
        r.checked++;
    }
    loss(ctx); /* back to the centre's state */
    r.nmse = nan ? INFINITY : den > 0 ? num / den : (num > 0 ? INFINITY : 0);
    printf("  grad %-44s n=%-5zu checked=%-4zu skipped=%-3zu nmse=%.2e max_abs_err=%.2e\n", name, n, r.checked,
           r.skipped, r.nmse, r.max_err);
    return r;
}

/* fd_check with the verdict: nmse below tol over enough checked elements; nonzero: the gradient
 * must not vanish (a check of zeros against zeros proves nothing). */
static void expect_fd(const char *name, test_loss_fn loss, test_region_fn region, void *ctx, float *x,
                      const float *analytic, size_t n, float eps, size_t max_checks, double tol, int nonzero) {
    fd_result r = fd_check(name, loss, region, ctx, x, analytic, n, eps, max_checks);
    CHECK(r.nmse < tol, "%s: nmse %.3e >= %.1e (max abs err %.3e)", name, r.nmse, tol, r.max_err);
    CHECK(r.checked > 0 && r.skipped * 4 <= r.checked + r.skipped, "%s: %zu checked, %zu skipped at a code change",
          name, r.checked, r.skipped);
    if (nonzero) CHECK(r.max_numeric > 0 && max_abs(analytic, n) > 0, "%s: the gradient vanishes", name);
}

/* ======================= masks ======================= */

static int item_count(const unsigned char *m, int T, int b) {
    int c = 0;
    for (int t = 0; t < T; t++) c += m[(size_t)b * T + t];
    return c;
}

static void test_mask_speech(void) {
    printf("pretrain_mask_speech\n");
    enum { B = 6, T = 40 };
    int lens[B] = {0, 1, 2, 3, 17, 40}, keys[B] = {7, 3, 12, 0, 5, 9};
    unsigned char m[B * T], again[B * T];
    memset(m, 0xab, sizeof m);
    int total = pretrain_mask_speech(m, lens, B, T, 0.2f, 4, 42, keys);
    int sum = 0, whole = 1, inside = 1;
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            unsigned char v = m[b * T + t];
            whole &= v <= 1;
            inside &= t < lens[b] || v == 0;
            sum += v;
        }
    CHECK(whole, "speech mask: the buffer is written whole with 0 and 1");
    CHECK(inside, "speech mask: a frame at or beyond its item's length is masked");
    CHECK(total == sum, "speech mask: returned %d, %d masked", total, sum);
    for (int b = 0; b < B; b++) {
        int c = item_count(m, T, b);
        if (lens[b] < 2) CHECK(c == 0, "speech mask: item %d of %d frames has %d masked, wants none", b, lens[b], c);
        else CHECK(c >= 2, "speech mask: item %d of %d frames has %d masked, wants at least 2", b, lens[b], c);
    }
    /* deterministic, and a function of the key: alone, or at another place, an item gets its mask */
    memset(again, 0xcd, sizeof again);
    CHECK(pretrain_mask_speech(again, lens, B, T, 0.2f, 4, 42, keys) == total && !memcmp(m, again, sizeof m),
          "speech mask: the same call gives another mask");
    for (int b = 0; b < B; b++) {
        unsigned char one[T];
        int Tb = lens[b] > 0 ? lens[b] : 1;
        pretrain_mask_speech(one, &lens[b], 1, Tb, 0.2f, 4, 42, &keys[b]);
        CHECK(!memcmp(one, m + b * T, (size_t)lens[b]), "speech mask: item %d alone (its key %d) differs", b, keys[b]);
    }
    int rlens[B], rkeys[B];
    for (int b = 0; b < B; b++) rlens[b] = lens[B - 1 - b], rkeys[b] = keys[B - 1 - b];
    pretrain_mask_speech(again, rlens, B, T, 0.2f, 4, 42, rkeys);
    for (int b = 0; b < B; b++)
        CHECK(!memcmp(again + (B - 1 - b) * T, m + b * T, T), "speech mask: item %d at place %d differs", b, B - 1 - b);
    /* no keys: the item's place is its key */
    int places[B] = {0, 1, 2, 3, 4, 5};
    pretrain_mask_speech(m, lens, B, T, 0.2f, 4, 42, places);
    pretrain_mask_speech(again, lens, B, T, 0.2f, 4, 42, NULL);
    CHECK(!memcmp(m, again, sizeof m), "speech mask: keys NULL is not keys 0 .. B-1");
    /* the seed matters */
    pretrain_mask_speech(m, lens, B, T, 0.2f, 4, 42, keys);
    pretrain_mask_speech(again, lens, B, T, 0.2f, 4, 43, keys);
    CHECK(memcmp(m + 5 * T, again + 5 * T, T), "speech mask: seeds 42 and 43 mask the same frames");
    /* p_start 0: exactly the two forced frames; 1: everything */
    pretrain_mask_speech(m, lens, B, T, 0.0f, 4, 42, keys);
    for (int b = 0; b < B; b++)
        CHECK(item_count(m, T, b) == (lens[b] >= 2 ? 2 : 0), "speech mask p 0: item %d has %d masked", b,
              item_count(m, T, b));
    CHECK(pretrain_mask_speech(m, lens, B, T, 1.0f, 4, 42, keys) == 40 + 17 + 3 + 2, "speech mask p 1: not all");
    /* coverage of long items: a frame is masked when one of the span frames up to it starts a
     * span, 1 - (1 - p)^span (below p * span: spans overlap) */
    enum { BL = 16, TL = 600 };
    static unsigned char big[BL * TL];
    int blens[BL];
    for (int b = 0; b < BL; b++) blens[b] = TL;
    int covered = pretrain_mask_speech(big, blens, BL, TL, 0.065f, 10, 7, NULL);
    double frac = (double)covered / (BL * TL), want = 1 - pow(1 - 0.065, 10);
    printf("  coverage p 0.065 span 10: %.3f (1 - (1-p)^span = %.3f, p * span = 0.65)\n", frac, want);
    CHECK(fabs(frac - want) < 0.03, "speech mask: coverage %.3f, wants about %.3f", frac, want);
}

/* Expected count of SpanBERT's mask: round(ratio * len), at least 1, at most len. */
static int text_want(float ratio, int len) {
    if (len < 1) return 0;
    int w = (int)floor((double)ratio * len + 0.5);
    return w < 1 ? 1 : w > len ? len : w;
}

static void test_mask_text(void) {
    printf("pretrain_mask_text\n");
    enum { B = 6, L = 50 };
    int lens[B] = {0, 1, 7, 13, 40, 48}, keys[B] = {2, 9, 4, 11, 0, 6};
    unsigned char m[B * L], again[B * L];
    const float ratios[] = {0.15f, 0.0f, 1.0f, 0.45f};
    for (size_t r = 0; r < sizeof ratios / sizeof ratios[0]; r++) {
        float ratio = ratios[r];
        memset(m, 0xab, sizeof m);
        int total = pretrain_mask_text(m, lens, B, L, ratio, 3, 42, keys), sum = 0, whole = 1, inside = 1;
        for (int b = 0; b < B; b++)
            for (int t = 0; t < L; t++) {
                whole &= m[b * L + t] <= 1;
                inside &= t < lens[b] || m[b * L + t] == 0;
                sum += m[b * L + t];
            }
        CHECK(whole && inside, "text mask ratio %g: the buffer is not 0/1 or a character beyond a length is masked",
              (double)ratio);
        CHECK(total == sum, "text mask ratio %g: returned %d, %d masked", (double)ratio, total, sum);
        for (int b = 0; b < B; b++)
            CHECK(item_count(m, L, b) == text_want(ratio, lens[b]), "text mask ratio %g: item %d of %d has %d, wants %d",
                  (double)ratio, b, lens[b], item_count(m, L, b), text_want(ratio, lens[b]));
    }
    pretrain_mask_text(m, lens, B, L, 0.15f, 3, 42, keys);
    pretrain_mask_text(again, lens, B, L, 0.15f, 3, 42, keys);
    CHECK(!memcmp(m, again, sizeof m), "text mask: the same call gives another mask");
    for (int b = 0; b < B; b++) {
        unsigned char one[L];
        int Lb = lens[b] > 0 ? lens[b] : 1;
        pretrain_mask_text(one, &lens[b], 1, Lb, 0.15f, 3, 42, &keys[b]);
        CHECK(!memcmp(one, m + b * L, (size_t)lens[b]), "text mask: item %d alone (its key %d) differs", b, keys[b]);
    }
    int rlens[B], rkeys[B], places[B] = {0, 1, 2, 3, 4, 5};
    for (int b = 0; b < B; b++) rlens[b] = lens[B - 1 - b], rkeys[b] = keys[B - 1 - b];
    pretrain_mask_text(again, rlens, B, L, 0.15f, 3, 42, rkeys);
    for (int b = 0; b < B; b++)
        CHECK(!memcmp(again + (B - 1 - b) * L, m + b * L, L), "text mask: item %d at place %d differs", b, B - 1 - b);
    pretrain_mask_text(m, lens, B, L, 0.15f, 3, 42, places);
    pretrain_mask_text(again, lens, B, L, 0.15f, 3, 42, NULL);
    CHECK(!memcmp(m, again, sizeof m), "text mask: keys NULL is not keys 0 .. B-1");
    pretrain_mask_text(m, lens, B, L, 0.15f, 3, 42, keys);
    pretrain_mask_text(again, lens, B, L, 0.15f, 3, 43, keys);
    CHECK(memcmp(m + 4 * L, again + 4 * L, 2 * L), "text mask: seeds 42 and 43 mask the same characters");
    /* spans of at most max_span: the masked runs are spans, except where two spans happen to
     * touch or overlap, which is rare at 5% density; so most runs are at most max_span long, and
     * with max_span 3 many are longer than one character */
    enum { BS = 50, LS = 400 };
    static unsigned char sm[BS * LS];
    int slens[BS];
    for (int b = 0; b < BS; b++) slens[b] = LS;
    for (int max_span = 1; max_span <= 3; max_span += 2) {
        pretrain_mask_text(sm, slens, BS, LS, 0.05f, max_span, 5, NULL);
        int runs = 0, long_runs = 0, multi = 0;
        for (int b = 0; b < BS; b++)
            for (int t = 0; t < LS;) {
                if (!sm[b * LS + t]) {
                    t++;
                    continue;
                }
                int len = 0;
                while (t < LS && sm[b * LS + t]) len++, t++;
                runs++;
                long_runs += len > max_span;
                multi += len > 1;
            }
        printf("  max_span %d: %d runs, %d longer than max_span, %d longer than 1\n", max_span, runs, long_runs, multi);
        CHECK(long_runs * 10 < runs, "text mask max_span %d: %d of %d runs are longer", max_span, long_runs, runs);
        if (max_span == 3) CHECK(multi * 3 > runs, "text mask max_span 3: only %d of %d runs are longer than 1", multi, runs);
    }
}

/* ======================= w2v-BERT ======================= */

typedef struct {
    mslam_model *m;
    w2v_bert_config c;
    int B, T;
    const int *lens, *keys;
    const unsigned char *masked;
    uint64_t seed;
    float *features, *context, *top;
    float cs, ds, ms;
    pretrain_work w;
    w2v_bert_loss out;
    unsigned long long codes_hash;
} w2v_ctx;

static unsigned long long hash_ints(unsigned long long h, const int *x, int n) {
    for (int i = 0; i < n; i++) h = (h ^ (unsigned)x[i]) * 1099511628211ull;
    return h;
}

static int w2v_call(w2v_ctx *c, mslam_params *G, float *dcontext, float *dtop) {
    int rc = w2v_bert_loss_compute(&c->w, &c->m->cfg, &c->m->p, G, &c->c, c->features, c->context, c->top, c->masked,
                                   c->lens, c->B, c->T, c->seed, c->keys, c->cs, c->ds, c->ms, dcontext, dtop, &c->out);
    c->codes_hash = hash_ints(1469598103934665603ull, c->w.codes, rc ? 0 : c->out.n_masked);
    return rc;
}

/* the loss whose gradient the backward gives: the scales times the returned sums */
static double w2v_loss(void *ctx) {
    w2v_ctx *c = ctx;
    if (w2v_call(c, NULL, NULL, NULL)) return NAN;
    return c->cs * c->out.contrastive + c->ds * c->out.diversity + c->ms * c->out.mlm;
}

static unsigned long long w2v_region(void *ctx) { return ((w2v_ctx *)ctx)->codes_hash; }

/* The masked valid rows in the order the losses take them (item by item); returns M. */
static int masked_rows(int *row_of, int *item_first, const unsigned char *masked, const int *lens, int B, int T) {
    int M = 0;
    for (int b = 0; b < B; b++) {
        if (item_first) item_first[b] = M;
        for (int t = 0; t < lens[b]; t++)
            if (masked[b * T + t]) row_of[M++] = b * T + t;
    }
    if (item_first) item_first[B] = M;
    return M;
}

/* y (out) = W (out, in) x + b, in double */
static void linear_ref(double *y, const float *x, const float *W, const float *bias, int in, int out) {
    for (int o = 0; o < out; o++) {
        double s = bias ? bias[o] : 0;
        for (int i = 0; i < in; i++) s += (double)W[(size_t)o * in + i] * x[i];
        y[o] = s;
    }
}

/* x (d) with mean 0 and variance 1 (+ 1e-5), as the quantizer reads a frame's features. */
static const float *standardised_ref(const float *x, int d) {
    static float out[64];
    double mean = 0, var = 0;
    for (int i = 0; i < d; i++) mean += x[i];
    mean /= d;
    for (int i = 0; i < d; i++) var += (x[i] - mean) * (x[i] - mean);
    double rstd = 1.0 / sqrt(var / d + 1e-5);
    for (int i = 0; i < d; i++) out[i] = (float)((x[i] - mean) * rstd);
    return out;
}

static void softmax_ref(double *p, const double *l, int K) {
    double mx = l[0], s = 0;
    for (int k = 1; k < K; k++) mx = fmax(mx, l[k]);
    for (int k = 0; k < K; k++) s += p[k] = exp(l[k] - mx);
    for (int k = 0; k < K; k++) p[k] /= s;
}

static double cross_entropy_ref(const double *l, int K, int target, int *correct) {
    double mx = l[0], s = 0;
    int best = 0;
    for (int k = 1; k < K; k++) mx = fmax(mx, l[k]), best = l[k] > l[best] ? k : best;
    for (int k = 0; k < K; k++) s += exp(l[k] - mx);
    *correct = best == target;
    return mx + log(s) - l[target];
}

/* The statistics that do not depend on the draws, from the codes the call chose: diversity and
 * perplexity (the noise-free softmax of the quantizer), code prediction, codes used, counts.
 * Also checks that each code is its row's Gumbel-softmax argmax. */
static void check_w2v_stats(const char *what, w2v_ctx *c) {
    const struct mslam_model_config *cfg = &c->m->cfg;
    const mslam_params *P = &c->m->p;
    int K = cfg->n_codes, B = c->B;
    int *row_of = malloc((size_t)B * c->T * sizeof(int)), *first = malloc((size_t)(B + 1) * sizeof(int));
    int M = masked_rows(row_of, first, c->masked, c->lens, B, c->T);
    double diversity = 0, perplexity = 0, mlm = 0, correct = 0, used = 0, items = 0;
    double l[64], p[64], avg[64] = {0};
    int codes_ok = 1;
    for (int b = 0; b < B; b++) {
        int n = first[b + 1] - first[b];
        if (n == 0) continue;
        items++;
        for (int m = first[b]; m < first[b + 1]; m++) {
            linear_ref(l, standardised_ref(c->features + (size_t)row_of[m] * D, D), P->pt_quant_w, P->pt_quant_b, D, K);
            softmax_ref(p, l, K);
            for (int k = 0; k < K; k++) avg[k] += p[k] / M; /* over every masked frame of the call */
            int code = c->w.codes[m], ok;
            const float *soft = c->w.soft + (size_t)m * K;
            codes_ok &= code >= 0 && code < K;
            for (int k = 0; k < K && codes_ok; k++) codes_ok &= soft[k] <= soft[code];
            linear_ref(l, c->top + (size_t)row_of[m] * D, P->pt_mlm_w, P->pt_mlm_b, D, K);
            mlm += cross_entropy_ref(l, K, code, &ok);
            correct += ok;
            int seen = 0;
            for (int j = first[b]; j < m; j++) seen |= c->w.codes[j] == code;
            used += !seen;
        }
    }
    if (M > 0) {
        double H = 0;
        for (int k = 0; k < K; k++)
            if (avg[k] > 0) H -= avg[k] * log(avg[k]);
        diversity = (K - exp(H)) / K;
        perplexity = exp(H);
    }
    CHECK(codes_ok, "%s: a code is not its row's Gumbel-softmax argmax", what);
    CHECK(c->out.n_masked == M && c->out.n_items == (int)items, "%s: %d masked in %d items, wants %d in %.0f", what,
          c->out.n_masked, c->out.n_items, M, items);
    CHECK(rel_diff(c->out.diversity, diversity) < 1e-5, "%s: diversity %.8g, reference %.8g", what, c->out.diversity,
          diversity);
    CHECK(rel_diff(c->out.perplexity, perplexity) < 1e-5, "%s: perplexity %.8g, reference %.8g", what,
          c->out.perplexity, perplexity);
    CHECK(rel_diff(c->out.mlm, mlm) < 1e-5, "%s: mlm %.8g, reference %.8g", what, c->out.mlm, mlm);
    CHECK(c->out.mlm_correct == correct && c->out.codes_used == used, "%s: mlm_correct %g codes_used %g, wants %g %g",
          what, c->out.mlm_correct, c->out.codes_used, correct, used);
    free(row_of);
    free(first);
}

/* The main fixture: 3 items of 10, 7 and 4 frames (one masked frame beyond its item's length, which
 * never counts; the padding's rows NaN), K = 5 codes so that an item's frames share codes and
 * some distractors are left out, 6 distractors drawn with replacement. */
enum { WB = 3, WT = 10 };
static const int w_lens[WB] = {10, 7, 4}, w_keys[WB] = {3, 8, 1};

static void w2v_fixture(w2v_ctx *c, mslam_model *m, unsigned char *masked) {
    int M = pretrain_mask_speech(masked, w_lens, WB, WT, 0.3f, 3, 5, w_keys);
    masked[2 * WT + 6] = 1;
    size_t n = (size_t)WB * WT * D;
    *c = (w2v_ctx){.m = m, .c = w2v_bert_default_config(), .B = WB, .T = WT, .lens = w_lens, .keys = w_keys,
                   .masked = masked, .seed = 99, .cs = 1.0f, .ds = 0.5f, .ms = 0.7f};
    c->c.distractors = 6;
    c->features = normal_array(n, 1.0f, 31);
    c->context = normal_array(n, 1.0f, 32);
    c->top = normal_array(n, 1.0f, 33);
    poison_padding(c->features, w_lens, WB, WT, D);
    poison_padding(c->context, w_lens, WB, WT, D);
    poison_padding(c->top, w_lens, WB, WT, D);
    printf("  fixture: %d masked frames of %d\n", M, 10 + 7 + 4);
}

static void w2v_fixture_free(w2v_ctx *c) {
    free(c->features);
    free(c->context);
    free(c->top);
    pretrain_work_free(&c->w);
}

/* Whether the gradient block is zero outside the tensors named by the prefixes. */
static int zero_outside(const grad_block *g, const char *const *prefixes, int n_prefixes, const char **culprit) {
    for (int i = 0; i < g->t.n; i++) {
        const mslam_param_entry *e = &g->t.entries[i];
        int listed = 0;
        for (int j = 0; j < n_prefixes; j++) listed |= !strncmp(e->name, prefixes[j], strlen(prefixes[j]));
        if (!listed && max_abs(g->block + e->offset, e->numel) != 0) {
            *culprit = e->name;
            return 0;
        }
    }
    return 1;
}

static void test_w2v_gradients(void) {
    printf("w2v-BERT loss: gradients against central differences\n");
    mslam_model *m = pt_model(5, 1, 1, 21);
    if (!m) return;
    const int K = 5;
    unsigned char masked[WB * WT];
    w2v_ctx c;
    w2v_fixture(&c, m, masked);
    size_t n = (size_t)WB * WT * D;
    double L = w2v_loss(&c);
    CHECK(isfinite(L), "w2v: loss %g", L);
    check_w2v_stats("w2v fixture", &c);
    /* the distractors of an item's own code are left out somewhere: two frames of an item share a code */
    int first[WB + 1], row_of[WB * WT], shared = 0;
    masked_rows(row_of, first, masked, w_lens, WB, WT);
    for (int b = 0; b < WB; b++)
        for (int i = first[b]; i < first[b + 1]; i++)
            for (int j = first[b]; j < i; j++) shared |= c.w.codes[i] == c.w.codes[j];
    CHECK(shared, "w2v fixture: no item has two frames of one code (the exclusion goes unchecked)");
    printf("  contrastive %.5f diversity %.5f mlm %.5f perplexity %.3f codes used %.0f\n", c.out.contrastive,
           c.out.diversity, c.out.mlm, c.out.perplexity, c.out.codes_used);

    grad_block g;
    grads_init(&g, &m->cfg);
    const mslam_params *P = &m->p;
    mslam_params *G = &g.G;
    float *dctx = calloc(n, sizeof(float)), *dtop = calloc(n, sizeof(float));
    CHECK(w2v_call(&c, G, dctx, dtop) == 0, "w2v backward: %s", mslam_last_error());
    CHECK(c.cs * c.out.contrastive + c.ds * c.out.diversity + c.ms * c.out.mlm == L,
          "w2v: the backward's loss differs from the forward's");
    /* only the masked valid rows get gradients */
    int rows_ok = 1;
    for (int r = 0; r < WB * WT; r++) {
        int b = r / WT, t = r % WT;
        if (t < w_lens[b] && masked[r]) continue;
        rows_ok &= max_abs(dctx + (size_t)r * D, D) == 0 && max_abs(dtop + (size_t)r * D, D) == 0;
    }
    CHECK(rows_ok, "w2v: an unmasked or padded row has a gradient");
    const char *culprit = "";
    const char *const touched[] = {"pretrain.quantizer.", "pretrain.codebook", "pretrain.contrastive.", "pretrain.mlm."};
    CHECK(zero_outside(&g, touched, 4, &culprit), "w2v: %s has a gradient", culprit);
    CHECK(all_finite(g.block, g.t.total), "w2v: a gradient is not finite");
    /* exact gradients (the codes stay put) */
    const double tol = 1e-4;
    expect_fd("w2v context", w2v_loss, w2v_region, &c, c.context, dctx, n, 1e-3f, 0, tol, 1);
    expect_fd("w2v top", w2v_loss, w2v_region, &c, c.top, dtop, n, 1e-3f, 0, tol, 1);
    expect_fd("w2v pretrain.contrastive.weight", w2v_loss, w2v_region, &c, P->pt_ctx_w, G->pt_ctx_w, D * D, 1e-3f, 0,
              tol, 1);
    expect_fd("w2v pretrain.contrastive.bias", w2v_loss, w2v_region, &c, P->pt_ctx_b, G->pt_ctx_b, D, 1e-3f, 0, tol,
              1);
    expect_fd("w2v pretrain.mlm.weight", w2v_loss, w2v_region, &c, P->pt_mlm_w, G->pt_mlm_w, (size_t)K * D, 1e-3f, 0,
              tol, 1);
    expect_fd("w2v pretrain.mlm.bias", w2v_loss, w2v_region, &c, P->pt_mlm_b, G->pt_mlm_b, K, 1e-3f, 0, tol, 1);
    expect_fd("w2v pretrain.codebook", w2v_loss, w2v_region, &c, P->pt_codebook, G->pt_codebook, (size_t)K * D, 1e-3f,
              0, tol, 1);
    CHECK(max_abs(G->pt_quant_b, K) > 0 && all_finite(G->pt_quant_w, (size_t)K * D),
          "w2v: the quantizer gets no gradient");

    /* backward accumulates */
    float *qw = malloc((size_t)K * D * sizeof(float)), *dctx2 = malloc(n * sizeof(float));
    memcpy(qw, G->pt_quant_w, (size_t)K * D * sizeof(float));
    memcpy(dctx2, dctx, n * sizeof(float));
    w2v_call(&c, G, dctx2, dtop);
    double acc = 0;
    for (size_t i = 0; i < n; i++) acc = fmax(acc, fabs(dctx2[i] - 2 * dctx[i]));
    for (int i = 0; i < K * D; i++) acc = fmax(acc, fabs(G->pt_quant_w[i] - 2 * qw[i]));
    CHECK(acc < 1e-5, "w2v: a second backward does not add the same gradients again (%.2e)", acc);

    /* the quantizer without the contrastive term: the diversity's gradient is exact (its softmax
     * has no noise), and the code prediction sends none (its targets are constants) */
    c.cs = 0, c.ds = 1, c.ms = 1;
    grads_zero(&g);
    memset(dctx, 0, n * sizeof(float));
    w2v_call(&c, G, dctx, dtop);
    expect_fd("w2v diversity pretrain.quantizer.weight", w2v_loss, w2v_region, &c, P->pt_quant_w, G->pt_quant_w,
              (size_t)K * D, 1e-3f, 0, tol, 1);
    expect_fd("w2v diversity pretrain.quantizer.bias", w2v_loss, w2v_region, &c, P->pt_quant_b, G->pt_quant_b, K, 1e-3f,
              0, tol, 1);
    CHECK(max_abs(dctx, n) == 0 && max_abs(G->pt_codebook, (size_t)K * D) == 0,
          "w2v: without the contrastive term the context or the codebook has a gradient");
    /* the parts add up: quantizer gradient (contrastive + diversity) = (contrastive) + (diversity) */
    float *q_div = malloc((size_t)K * D * sizeof(float)), *q_con = malloc((size_t)K * D * sizeof(float));
    memcpy(q_div, G->pt_quant_w, (size_t)K * D * sizeof(float));
    c.cs = 1, c.ds = 0, c.ms = 0;
    grads_zero(&g);
    w2v_call(&c, G, dctx, dtop);
    memcpy(q_con, G->pt_quant_w, (size_t)K * D * sizeof(float));
    c.cs = 1, c.ds = 1;
    grads_zero(&g);
    w2v_call(&c, G, dctx, dtop);
    double sum_err = 0;
    for (int i = 0; i < K * D; i++) sum_err = fmax(sum_err, fabs(G->pt_quant_w[i] - q_div[i] - q_con[i]));
    CHECK(sum_err < 1e-5 * fmax(1, max_abs(q_con, (size_t)K * D)),
          "w2v: the quantizer's gradient is not the sum of its contrastive and diversity parts (%.2e)", sum_err);
    CHECK(max_abs(q_con, (size_t)K * D) > 0, "w2v: the contrastive term sends the quantizer nothing (straight-through)");

    /* the features get no gradient (there is no output for one): without the diversity, the loss
     * does not move with them as long as the codes stay */
    c.cs = 1, c.ds = 0, c.ms = 1;
    double centre = w2v_loss(&c);
    unsigned long long codes = c.codes_hash;
    int moved = 0, stable = 0;
    for (size_t i = 0; i < n; i++) {
        float saved = c.features[i];
        for (int s = -1; s <= 1; s += 2) {
            c.features[i] = saved + s * 1e-2f;
            double l = w2v_loss(&c);
            if (c.codes_hash != codes) continue;
            stable++;
            moved += l != centre;
        }
        c.features[i] = saved;
    }
    CHECK(moved == 0 && stable > (int)n, "w2v: the loss without diversity moves with the features (%d of %d)", moved,
          stable);

    /* the seed draws the noise: another seed, other Gumbel-softmax values */
    c.seed = 100;
    w2v_loss(&c);
    float *soft100 = malloc((size_t)c.out.n_masked * K * sizeof(float));
    memcpy(soft100, c.w.soft, (size_t)c.out.n_masked * K * sizeof(float));
    c.seed = 99;
    w2v_loss(&c);
    CHECK(memcmp(soft100, c.w.soft, (size_t)c.out.n_masked * K * sizeof(float)),
          "w2v: seeds 99 and 100 draw the same Gumbel noise");

    /* one code for every frame: every distractor is left out, the contrastive loss is 0 and
     * sends nothing back; the diversity is then about (K - 1) / K */
    float saved_b0 = P->pt_quant_b[0];
    P->pt_quant_b[0] += 1000.0f;
    c.cs = 1, c.ds = 0, c.ms = 0;
    grads_zero(&g);
    memset(dctx, 0, n * sizeof(float));
    CHECK(w2v_call(&c, G, dctx, dtop) == 0, "w2v one code: %s", mslam_last_error());
    CHECK(c.out.contrastive == 0, "w2v one code: contrastive %g, wants 0", c.out.contrastive);
    CHECK(c.out.codes_used == c.out.n_items && c.out.n_items == WB, "w2v one code: %g codes used in %d items",
          c.out.codes_used, c.out.n_items);
    CHECK(fabs(c.out.diversity - (K - 1.0) / K) < 1e-4 && fabs(c.out.perplexity - 1) < 1e-4,
          "w2v one code: diversity %g perplexity %g", c.out.diversity, c.out.perplexity);
    CHECK(max_abs(dctx, n) == 0 && max_abs(g.block, g.t.total) == 0, "w2v one code: a gradient is not zero");
    P->pt_quant_b[0] = saved_b0;

    free(soft100);
    free(q_div);
    free(q_con);
    free(qw);
    free(dctx2);
    free(dctx);
    free(dtop);
    grads_free(&g);
    w2v_fixture_free(&c);
    mslam_model_free(m);
}

/* Codes forced by the features (50 e_code, standardised, through 100 x the identity: no Gumbel
 * noise overturns a margin of about 300), so that the draws cannot matter: item 0 has two frames of codes 0 and 1 (each
 * frame's distractors are all the other frame), item 1 two frames of code 2 (every distractor left
 * out: no contrastive term), item 2 a single frame of code 3 (no contrastive term). The losses
 * against formulas computed here. */
static void test_w2v_reference(void) {
    printf("w2v-BERT loss: reference values\n");
    mslam_model *m = pt_model(5, 1, 1, 23);
    if (!m) return;
    enum { B = 3, T = 4, K = 5 };
    int lens[B] = {4, 4, 3};
    unsigned char masked[B * T] = {0, 1, 0, 1, 1, 0, 1, 0, 0, 1, 0, 1 /* beyond item 2's length */};
    const int code_of[B * T] = {-1, 0, -1, 1, 2, -1, 2, -1, -1, 3, -1, -1};
    const mslam_params *P = &m->p;
    memset(P->pt_quant_w, 0, (size_t)K * D * sizeof(float));
    memset(P->pt_quant_b, 0, K * sizeof(float));
    for (int k = 0; k < K; k++) P->pt_quant_w[k * D + k] = 100; /* standardised, the margin is about 3: x 100 */
    w2v_ctx c = {.m = m, .c = w2v_bert_default_config(), .B = B, .T = T, .lens = lens, .masked = masked, .seed = 3,
                 .cs = 1, .ds = 1, .ms = 1};
    c.c.distractors = 5;
    size_t n = (size_t)B * T * D;
    c.features = normal_array(n, 0.1f, 41);
    c.context = normal_array(n, 1.0f, 42);
    c.top = normal_array(n, 1.0f, 43);
    for (int r = 0; r < B * T; r++)
        if (code_of[r] >= 0) c.features[(size_t)r * D + code_of[r]] += 50.0f;
    CHECK(w2v_call(&c, NULL, NULL, NULL) == 0, "w2v reference: %s", mslam_last_error());
    int want_codes[5] = {0, 1, 2, 2, 3};
    CHECK(!memcmp(c.w.codes, want_codes, sizeof want_codes), "w2v reference: codes %d %d %d %d %d", c.w.codes[0],
          c.w.codes[1], c.w.codes[2], c.w.codes[3], c.w.codes[4]);
    check_w2v_stats("w2v reference", &c);
    /* item 0: -log(e^s(own) / (e^s(own) + 5 e^s(other))), s = cos(W c + b, q) / kappa */
    double contrastive = 0;
    const int rows[2] = {1, 3}, own[2] = {0, 1};
    for (int i = 0; i < 2; i++) {
        double a[D], s[2];
        linear_ref(a, c.context + rows[i] * D, P->pt_ctx_w, P->pt_ctx_b, D, D);
        for (int j = 0; j < 2; j++) {
            const float *q = P->pt_codebook + (size_t)own[j == 0 ? i : 1 - i] * D;
            double dot = 0, na = 0, nq = 0;
            for (int e = 0; e < D; e++) dot += a[e] * q[e], na += a[e] * a[e], nq += (double)q[e] * q[e];
            s[j] = dot / sqrt(na * nq) / c.c.kappa;
        }
        contrastive += log(exp(s[0]) + c.c.distractors * exp(s[1])) - s[0];
    }
    printf("  contrastive %.6f (reference %.6f) diversity %.6f mlm %.6f\n", c.out.contrastive, contrastive,
           c.out.diversity, c.out.mlm);
    CHECK(rel_diff(c.out.contrastive, contrastive) < 1e-5, "w2v reference: contrastive %.8g, reference %.8g",
          c.out.contrastive, contrastive);
    /* the five frames' codes 0 1 2 2 3: a mean distribution of (.2, .2, .4, .2, 0) */
    double entropy = -(3 * 0.2 * log(0.2) + 0.4 * log(0.4)), want_diversity = (K - exp(entropy)) / K;
    CHECK(fabs(c.out.diversity - want_diversity) < 1e-5, "w2v reference: diversity %g, wants %g", c.out.diversity,
          want_diversity);
    /* gradients: items 1 and 2 get none from the contrastive term; the rest against differences */
    grad_block g;
    grads_init(&g, &m->cfg);
    float *dctx = calloc(n, sizeof(float)), *dtop = calloc(n, sizeof(float));
    c.ds = 0, c.ms = 0;
    w2v_call(&c, &g.G, dctx, dtop);
    CHECK(max_abs(dctx + 4 * D, 8 * D) == 0, "w2v reference: items 1 and 2 get a contrastive gradient");
    CHECK(max_abs(g.G.pt_codebook + 2 * D, 3 * D) == 0, "w2v reference: codes 2 .. 4 get a contrastive gradient");
    expect_fd("w2v reference context", w2v_loss, w2v_region, &c, c.context, dctx, n, 1e-3f, 0, 1e-4, 1);
    expect_fd("w2v reference codebook", w2v_loss, w2v_region, &c, P->pt_codebook, g.G.pt_codebook, (size_t)K * D,
              1e-3f, 0, 1e-4, 1);
    /* no masked frame: nothing, and no error */
    unsigned char none[B * T] = {0};
    c.masked = none;
    CHECK(w2v_call(&c, &g.G, dctx, dtop) == 0 && c.out.n_masked == 0 && c.out.contrastive == 0 &&
              c.out.diversity == 0 && c.out.mlm == 0 && c.out.n_items == 0,
          "w2v reference: a batch without masked frames counts something");
    c.masked = masked;
    /* errors */
    mslam_log_set(test_quiet_log, NULL);
    w2v_bert_config saved = c.c;
    c.c.gumbel_tau = 0;
    CHECK(w2v_call(&c, NULL, NULL, NULL) == -1, "w2v: tau 0 is accepted");
    c.c.gumbel_tau = NAN;
    CHECK(w2v_call(&c, NULL, NULL, NULL) == -1, "w2v: tau NaN is accepted");
    c.c = saved;
    c.c.kappa = -1;
    CHECK(w2v_call(&c, NULL, NULL, NULL) == -1, "w2v: kappa -1 is accepted");
    c.c = saved;
    mslam_model *plain = pt_model(0, 1, 1, 5);
    if (plain) {
        w2v_ctx p = c;
        p.m = plain;
        p.w = (pretrain_work){0};
        CHECK(w2v_call(&p, NULL, NULL, NULL) == -1 && strstr(mslam_last_error(), "n_codes"),
              "w2v: a model without the pre-training tensors is accepted (%s)", mslam_last_error());
        pretrain_work_free(&p.w);
        mslam_model_free(plain);
    }
    mslam_log_set(NULL, NULL);
    free(dctx);
    free(dtop);
    grads_free(&g);
    w2v_fixture_free(&c);
    mslam_model_free(m);
}

/* The straight-through quantizer: the forward uses the hard code's vector q_m = codebook[code_m];
 * the backward takes dL/dq_m at that q as the gradient of the soft q_m = sum_k soft_mk codebook_k,
 * soft_m = softmax((logits_m + gumbel_m) / tau):
 *   dlogits_mk = soft_mk (dq_m . codebook_k - sum_j soft_mj dq_m . codebook_j) / tau,
 * into the quantizer's bias (summed over m) and weight (times the features). That is not a
 * derivative of the loss, so it is checked against this formula, with dq_m from central
 * differences of the loss in codebook[code_m]: every masked frame has a code of its own here
 * (features 4 e_m through about 2 I), so that row's derivative is dq_m alone.
 * soft_m is read from the work buffers; that it is a Gumbel-softmax of the logits with tau is
 * checked on its own: tau log soft_m - logits_m (the noise, up to a constant) is the same at two
 * temperatures. */
static void test_w2v_straight_through(void) {
    printf("w2v-BERT loss: straight-through quantizer\n");
    enum { B = 2, T = 6, K = 7, M = 6 };
    mslam_model *m = pt_model(K, 1, 1, 25);
    if (!m) return;
    int lens[B] = {6, 4};
    unsigned char masked[B * T] = {1, 0, 1, 1, 0, 1, 0, 1, 1, 0, 0, 0};
    int row_of[M];
    masked_rows(row_of, NULL, masked, lens, B, T);
    const mslam_params *P = &m->p;
    mslam_rng rng;
    mslam_rng_seed(&rng, 77);
    for (int i = 0; i < K * D; i++) P->pt_quant_w[i] = 0.05f * mslam_rng_normal(&rng) + (i / D == i % D ? 2.0f : 0.0f);
    memset(P->pt_quant_b, 0, K * sizeof(float));
    size_t n = (size_t)B * T * D;
    w2v_ctx c = {.m = m, .c = w2v_bert_default_config(), .B = B, .T = T, .lens = lens, .masked = masked, .seed = 8,
                 .cs = 1, .ds = 0, .ms = 0};
    c.c.distractors = 5;
    c.c.gumbel_tau = 4.0f;
    c.features = normal_array(n, 0.1f, 51);
    c.context = normal_array(n, 1.0f, 52);
    c.top = normal_array(n, 1.0f, 53);
    for (int j = 0; j < M; j++) c.features[(size_t)row_of[j] * D + j] += 4.0f;
    w2v_loss(&c);
    int distinct = c.out.n_masked == M;
    for (int i = 0; i < M && distinct; i++)
        for (int j = 0; j < i; j++) distinct &= c.w.codes[i] != c.w.codes[j];
    CHECK(distinct, "straight-through: the masked frames do not have a code each");
    if (!distinct) goto done;
    /* soft is a Gumbel-softmax: the noise it implies is the same at tau 4 and 1.5 */
    {
        double soft4[M][K], worst = 0, spread = 0;
        for (int i = 0; i < M * K; i++) soft4[i / K][i % K] = c.w.soft[i];
        c.c.gumbel_tau = 1.5f;
        w2v_loss(&c);
        for (int j = 0; j < M; j++) {
            double l[K], g4[K], g15[K];
            linear_ref(l, standardised_ref(c.features + (size_t)row_of[j] * D, D), P->pt_quant_w, P->pt_quant_b, D, K);
            for (int k = 0; k < K; k++) {
                g4[k] = 4.0 * log(soft4[j][k]) - l[k];
                g15[k] = 1.5 * log(c.w.soft[(size_t)j * K + k]) - l[k];
            }
            for (int k = 1; k < K; k++) {
                worst = fmax(worst, fabs((g4[k] - g4[0]) - (g15[k] - g15[0])));
                spread = fmax(spread, fabs(g4[k] - g4[0]));
            }
        }
        printf("  implied Gumbel noise at tau 4 and 1.5: max diff %.2e (noise spread %.2f)\n", worst, spread);
        CHECK(worst < 1e-3 && spread > 0.1, "straight-through: soft is no Gumbel-softmax of the logits (%.2e, %.2e)",
              worst, spread);
        c.c.gumbel_tau = 4.0f;
    }
    grad_block g;
    grads_init(&g, &m->cfg);
    float *dctx = calloc(n, sizeof(float)), *dtop = calloc(n, sizeof(float));
    CHECK(w2v_call(&c, &g.G, dctx, dtop) == 0, "straight-through backward: %s", mslam_last_error());
    expect_fd("straight-through codebook", w2v_loss, w2v_region, &c, P->pt_codebook, g.G.pt_codebook, (size_t)K * D,
              1e-3f, 0, 1e-4, 1);
    {
        double dq[M][D], want_b[K] = {0}, want_w[K * D] = {0};
        for (int j = 0; j < M; j++)
            for (int i = 0; i < D; i++) {
                float *x = P->pt_codebook + (size_t)c.w.codes[j] * D + i, saved = *x;
                *x = saved + 1e-3f;
                double hp = *x, lp = w2v_loss(&c);
                *x = saved - 1e-3f;
                double hm = *x, lm = w2v_loss(&c);
                *x = saved;
                dq[j][i] = (lp - lm) / (hp - hm);
            }
        w2v_loss(&c); /* the centre's soft */
        for (int j = 0; j < M; j++) {
            const float *soft = c.w.soft + (size_t)j * K, *x = standardised_ref(c.features + (size_t)row_of[j] * D, D);
            double a[K], mean = 0;
            for (int k = 0; k < K; k++) {
                a[k] = 0;
                for (int i = 0; i < D; i++) a[k] += dq[j][i] * P->pt_codebook[(size_t)k * D + i];
                mean += soft[k] * a[k];
            }
            for (int k = 0; k < K; k++) {
                double dl = soft[k] * (a[k] - mean) / c.c.gumbel_tau;
                want_b[k] += dl;
                for (int i = 0; i < D; i++) want_w[k * D + i] += dl * x[i];
            }
        }
        double num = 0, den = 0;
        for (int k = 0; k < K; k++) {
            num += pow(g.G.pt_quant_b[k] - want_b[k], 2), den += want_b[k] * want_b[k];
            for (int i = 0; i < D; i++)
                num += pow(g.G.pt_quant_w[k * D + i] - want_w[k * D + i], 2), den += pow(want_w[k * D + i], 2);
        }
        printf("  quantizer gradient against the straight-through formula: nmse %.2e (|want|^2 %.2e)\n", num / den,
               den);
        CHECK(den > 0 && num / den < 1e-4, "straight-through: the quantizer's gradient is off the formula (nmse %.2e)",
              num / den);
        CHECK(all_finite(g.G.pt_quant_w, (size_t)K * D), "straight-through: the quantizer's gradient is not finite");
    }
    free(dctx);
    free(dtop);
    grads_free(&g);
done:
    w2v_fixture_free(&c);
    mslam_model_free(m);
}

/* A batch split in two calls (each item's key its place in the whole) adds up to the whole: the
 * same masks, noise and distractors, so the same losses, statistics and gradients. The second
 * part is padded to its own longest item. */
static void test_w2v_split(void) {
    printf("w2v-BERT loss: a keyed batch split in two adds up\n");
    enum { B = 4, T = 10, K = 5, T2 = 9 };
    mslam_model *m = pt_model(K, 1, 1, 27);
    if (!m) return;
    int lens[B] = {10, 6, 9, 3}, keys[B] = {0, 1, 2, 3};
    unsigned char masked[B * T], m1[2 * T], m2[2 * T2];
    pretrain_mask_speech(masked, lens, B, T, 0.4f, 2, 11, keys);
    pretrain_mask_speech(m1, lens, 2, T, 0.4f, 2, 11, keys);
    pretrain_mask_speech(m2, lens + 2, 2, T2, 0.4f, 2, 11, keys + 2);
    int same_masks = !memcmp(m1, masked, sizeof m1);
    for (int b = 0; b < 2; b++) same_masks &= !memcmp(m2 + b * T2, masked + (2 + b) * T, T2);
    CHECK(same_masks, "split: the parts' masks are not the whole's");
    size_t n = (size_t)B * T * D, n2 = (size_t)2 * T2 * D;
    /* no diversity: one value per call, its gradient does not split (checked apart above) */
    w2v_ctx whole = {.m = m, .c = w2v_bert_default_config(), .B = B, .T = T, .lens = lens, .keys = keys,
                     .masked = masked, .seed = 17, .cs = 1, .ds = 0, .ms = 0.7f};
    whole.c.distractors = 8;
    whole.features = normal_array(n, 1.0f, 61);
    whole.context = normal_array(n, 1.0f, 62);
    whole.top = normal_array(n, 1.0f, 63);
    w2v_ctx a = whole, b = whole;
    a.w = b.w = (pretrain_work){0};
    a.B = 2, a.masked = m1; /* the first two items: the whole's rows */
    b.B = 2, b.T = T2, b.lens = lens + 2, b.keys = keys + 2, b.masked = m2;
    b.features = malloc(n2 * sizeof(float)), b.context = malloc(n2 * sizeof(float)), b.top = malloc(n2 * sizeof(float));
    for (int i = 0; i < 2; i++)
        for (int t = 0; t < T2; t++) {
            size_t src = ((size_t)(2 + i) * T + t) * D, dst = ((size_t)i * T2 + t) * D;
            memcpy(b.features + dst, whole.features + src, D * sizeof(float));
            memcpy(b.context + dst, whole.context + src, D * sizeof(float));
            memcpy(b.top + dst, whole.top + src, D * sizeof(float));
        }
    grad_block gw, gs;
    grads_init(&gw, &m->cfg);
    grads_init(&gs, &m->cfg);
    float *dcw = calloc(n, sizeof(float)), *dtw = calloc(n, sizeof(float));
    float *dcs = calloc(n, sizeof(float)), *dts = calloc(n, sizeof(float));
    float *dcb = calloc(n2, sizeof(float)), *dtb = calloc(n2, sizeof(float));
    int ok = w2v_call(&whole, &gw.G, dcw, dtw) == 0 && w2v_call(&a, &gs.G, dcs, dts) == 0 &&
             w2v_call(&b, &gs.G, dcb, dtb) == 0;
    CHECK(ok, "split: %s", mslam_last_error());
    const w2v_bert_loss *W = &whole.out, *A = &a.out, *Bo = &b.out;
    printf("  whole: contrastive %.6f diversity %.6f mlm %.6f; parts: %.6f %.6f %.6f\n", W->contrastive, W->diversity,
           W->mlm, A->contrastive + Bo->contrastive, A->diversity + Bo->diversity, A->mlm + Bo->mlm);
    /* the diversity is one value per call, over its masked frames (pretrain.h): not additive */
    CHECK(rel_diff(W->contrastive, A->contrastive + Bo->contrastive) < 1e-6 && rel_diff(W->mlm, A->mlm + Bo->mlm) < 1e-6,
          "split: the parts' losses do not add up to the whole's");
    CHECK(W->mlm_correct == A->mlm_correct + Bo->mlm_correct && W->codes_used == A->codes_used + Bo->codes_used &&
              W->n_masked == A->n_masked + Bo->n_masked && W->n_items == A->n_items + Bo->n_items,
          "split: the parts' counts do not add up to the whole's");
    double gerr = 0, gmax = max_abs(gw.block, gw.t.total);
    for (size_t i = 0; i < gw.t.total; i++) gerr = fmax(gerr, fabs(gw.block[i] - gs.block[i]));
    for (size_t i = 0; i < (size_t)2 * T * D; i++) gerr = fmax(gerr, fmax(fabs(dcw[i] - dcs[i]), fabs(dtw[i] - dts[i])));
    for (int i = 0; i < 2; i++)
        for (int t = 0; t < T; t++)
            for (int e = 0; e < D; e++) {
                size_t w = ((size_t)(2 + i) * T + t) * D + e;
                float cb = t < T2 ? dcb[((size_t)i * T2 + t) * D + e] : 0, tb = t < T2 ? dtb[((size_t)i * T2 + t) * D + e] : 0;
                gerr = fmax(gerr, fmax(fabs(dcw[w] - cb), fabs(dtw[w] - tb)));
            }
    printf("  gradients: max |whole - parts| %.2e (max |gradient| %.2e)\n", gerr, gmax);
    CHECK(gmax > 0 && gerr <= 1e-5 * gmax, "split: the parts' gradients do not add up to the whole's (%.2e)", gerr);
    /* the same batch in reverse order, keys following the items */
    int rlens[B], rkeys[B];
    unsigned char rmasked[B * T];
    float *rf = malloc(n * sizeof(float)), *rc = malloc(n * sizeof(float)), *rt = malloc(n * sizeof(float));
    for (int i = 0; i < B; i++) {
        int j = B - 1 - i;
        rlens[i] = lens[j], rkeys[i] = keys[j];
        memcpy(rmasked + i * T, masked + j * T, T);
        memcpy(rf + (size_t)i * T * D, whole.features + (size_t)j * T * D, (size_t)T * D * sizeof(float));
        memcpy(rc + (size_t)i * T * D, whole.context + (size_t)j * T * D, (size_t)T * D * sizeof(float));
        memcpy(rt + (size_t)i * T * D, whole.top + (size_t)j * T * D, (size_t)T * D * sizeof(float));
    }
    w2v_ctx r = whole;
    r.w = (pretrain_work){0};
    r.lens = rlens, r.keys = rkeys, r.masked = rmasked, r.features = rf, r.context = rc, r.top = rt;
    w2v_call(&r, NULL, NULL, NULL);
    CHECK(rel_diff(W->contrastive, r.out.contrastive) < 1e-6 && rel_diff(W->diversity, r.out.diversity) < 1e-6 &&
              rel_diff(W->mlm, r.out.mlm) < 1e-6 && W->codes_used == r.out.codes_used,
          "split: the batch in reverse order gives other losses");
    /* no keys: the places are the keys */
    whole.keys = NULL;
    double c0 = W->contrastive, d0 = W->diversity, l0 = W->mlm;
    w2v_call(&whole, NULL, NULL, NULL);
    CHECK(W->contrastive == c0 && W->diversity == d0 && W->mlm == l0, "split: keys NULL is not keys 0 .. B-1");
    pretrain_work_free(&r.w);
    free(rf), free(rc), free(rt);
    free(dcw), free(dtw), free(dcs), free(dts), free(dcb), free(dtb);
    grads_free(&gw);
    grads_free(&gs);
    pretrain_work_free(&a.w);
    pretrain_work_free(&b.w);
    free(b.features), free(b.context), free(b.top);
    w2v_fixture_free(&whole);
    mslam_model_free(m);
}

/* ======================= SpanBERT ======================= */

typedef struct {
    mslam_model *m;
    int B, L;
    const int *lens, *ids;
    const unsigned char *masked;
    float *top;
    float scale;
    pretrain_work *w;
    double loss, correct;
    int n;
} sb_ctx;

static int sb_call(sb_ctx *c, mslam_params *G, float *dtop) {
    return spanbert_loss_compute(c->w, &c->m->cfg, &c->m->p, G, c->top, c->ids, c->masked, c->lens, c->B, c->L,
                                 c->scale, dtop, &c->loss, &c->n, &c->correct);
}

static double sb_loss(void *ctx) {
    sb_ctx *c = ctx;
    return sb_call(c, NULL, NULL) ? NAN : c->scale * c->loss;
}

static void test_spanbert(void) {
    printf("SpanBERT loss\n");
    enum { B = 2, L = 9 };
    mslam_model *m = pt_model(5, 1, 1, 29);
    if (!m) return;
    int lens[B] = {9, 6}, keys[B] = {4, 2};
    int ids[B * L] = {3, 4, 2, 5, 7, 6, 3, 1, 0, 4, 4, 6, 2, 5, 3, -7, 99, 8 /* padding: never read */};
    unsigned char masked[B * L];
    int M = pretrain_mask_text(masked, lens, B, L, 0.35f, 3, 13, keys);
    masked[L + 7] = 1; /* beyond item 1's length */
    size_t n = (size_t)B * L * D;
    /* one work for SpanBERT (V classes) and w2v-BERT (K codes) in turn: its buffers follow */
    pretrain_work work = {0};
    sb_ctx c = {.m = m, .B = B, .L = L, .lens = lens, .ids = ids, .masked = masked, .scale = 1.0f, .w = &work};
    c.top = normal_array(n, 1.0f, 71);
    poison_padding(c.top, lens, B, L, D);
    CHECK(sb_call(&c, NULL, NULL) == 0, "spanbert: %s", mslam_last_error());
    /* reference */
    double loss = 0, correct = 0;
    int count = 0;
    for (int r = 0; r < B * L; r++) {
        if (!masked[r] || r % L >= lens[r / L]) continue;
        double l[V];
        int ok;
        linear_ref(l, c.top + (size_t)r * D, m->p.pt_text_w, m->p.pt_text_b, D, V);
        loss += cross_entropy_ref(l, V, ids[r], &ok);
        correct += ok, count++;
    }
    printf("  %d masked: loss %.6f (reference %.6f), %g ranked first\n", c.n, c.loss, loss, c.correct);
    CHECK(c.n == M && count == M, "spanbert: %d counted, %d masked", c.n, M);
    CHECK(rel_diff(c.loss, loss) < 1e-5 && c.correct == correct, "spanbert: loss %.8g correct %g, reference %.8g %g",
          c.loss, c.correct, loss, correct);
    grad_block g;
    grads_init(&g, &m->cfg);
    float *dtop = calloc(n, sizeof(float));
    CHECK(sb_call(&c, &g.G, dtop) == 0, "spanbert backward: %s", mslam_last_error());
    const char *culprit = "";
    const char *const touched[] = {"pretrain.text_mlm."};
    CHECK(zero_outside(&g, touched, 1, &culprit), "spanbert: %s has a gradient", culprit);
    int rows_ok = 1;
    for (int r = 0; r < B * L; r++)
        if (!masked[r] || r % L >= lens[r / L]) rows_ok &= max_abs(dtop + (size_t)r * D, D) == 0;
    CHECK(rows_ok, "spanbert: an unmasked or padded row has a gradient");
    expect_fd("spanbert top", sb_loss, NULL, &c, c.top, dtop, n, 1e-2f, 0, 1e-4, 1);
    expect_fd("spanbert pretrain.text_mlm.weight", sb_loss, NULL, &c, m->p.pt_text_w, g.G.pt_text_w, V * D, 1e-2f, 0,
              1e-4, 1);
    expect_fd("spanbert pretrain.text_mlm.bias", sb_loss, NULL, &c, m->p.pt_text_b, g.G.pt_text_b, V, 1e-2f, 0, 1e-4, 1);
    /* the scale scales the gradients, not the returned sum */
    float *dtop2 = calloc(n, sizeof(float));
    float *gb = malloc(V * sizeof(float));
    memcpy(gb, g.G.pt_text_b, V * sizeof(float));
    grads_zero(&g);
    c.scale = 0.25f;
    sb_call(&c, &g.G, dtop2);
    double serr = 0;
    for (size_t i = 0; i < n; i++) serr = fmax(serr, fabs(dtop2[i] - 0.25f * dtop[i]));
    for (int i = 0; i < V; i++) serr = fmax(serr, fabs(g.G.pt_text_b[i] - 0.25f * gb[i]));
    CHECK(serr < 1e-6 && rel_diff(c.loss, loss) < 1e-5, "spanbert: scale 0.25 (%.2e, loss %g)", serr, c.loss);
    c.scale = 1;
    /* the work's buffers through w2v-BERT's sizes and back */
    {
        unsigned char wm[WB * WT];
        w2v_ctx wc;
        w2v_fixture(&wc, m, wm);
        double before = w2v_loss(&wc);
        pretrain_work_free(&wc.w);
        wc.w = work;
        double shared_work = w2v_loss(&wc);
        work = wc.w;
        wc.w = (pretrain_work){0};
        CHECK(before == shared_work, "spanbert: w2v-BERT on SpanBERT's work differs");
        CHECK(sb_call(&c, NULL, NULL) == 0 && rel_diff(c.loss, loss) < 1e-5, "spanbert: after w2v-BERT on its work");
        w2v_fixture_free(&wc);
    }
    /* errors: a masked character outside the vocabulary; an unmasked one is not read */
    mslam_log_set(test_quiet_log, NULL);
    int bad[B * L];
    memcpy(bad, ids, sizeof bad);
    int first = -1, unmasked = -1;
    for (int r = 0; r < lens[0]; r++) {
        if (masked[r] && first < 0) first = r;
        if (!masked[r] && unmasked < 0) unmasked = r;
    }
    c.ids = bad;
    bad[unmasked] = V;
    CHECK(sb_call(&c, NULL, NULL) == 0, "spanbert: an unmasked character outside the vocabulary is refused");
    bad[first] = V;
    CHECK(sb_call(&c, NULL, NULL) == -1 && strstr(mslam_last_error(), "vocabulary"),
          "spanbert: a masked id %d is accepted", V);
    bad[first] = -1;
    CHECK(sb_call(&c, NULL, NULL) == -1, "spanbert: a masked id -1 is accepted");
    c.ids = ids;
    unsigned char none[B * L] = {0};
    c.masked = none;
    CHECK(sb_call(&c, &g.G, dtop) == 0 && c.n == 0 && c.loss == 0, "spanbert: nothing masked counts something");
    c.masked = masked;
    mslam_model *plain = pt_model(0, 1, 1, 5);
    if (plain) {
        c.m = plain;
        CHECK(sb_call(&c, NULL, NULL) == -1, "spanbert: a model without the pre-training tensors is accepted");
        c.m = m;
        mslam_model_free(plain);
    }
    mslam_log_set(NULL, NULL);
    free(gb);
    free(dtop2);
    free(dtop);
    free(c.top);
    grads_free(&g);
    pretrain_work_free(&work);
    mslam_model_free(m);
}

/* ======================= encoder hooks ======================= */

typedef struct {
    mslam_model *m;
    mslam_encoder_pass pass; /* its masked and d_speech_out are the test's */
    int speech;
    const float *mel;
    const int *lens, *ids;
    int B, T_in;
    const float *R1, *R2; /* (B, T, d): loss = sum(out R1) + sum(speech layers' out R2) */
} enc_ctx;

static int enc_forward(enc_ctx *c) {
    if (c->speech)
        return mslam_encoder_speech_forward(&c->pass, &c->m->cfg, &c->m->p, c->mel, c->lens, c->B, c->T_in, NULL, 1);
    return mslam_encoder_text_forward(&c->pass, &c->m->cfg, &c->m->p, c->ids, c->lens, c->B, c->T_in, 1);
}

static double enc_loss(void *ctx) {
    enc_ctx *c = ctx;
    if (enc_forward(c)) return NAN;
    size_t n = (size_t)c->pass.B * c->pass.T * c->m->cfg.d_model;
    double loss = 0;
    for (size_t i = 0; i < n; i++) loss += (double)c->pass.out[i] * c->R1[i];
    if (c->speech && c->R2) {
        const float *mid = mslam_encoder_speech_layers_out(&c->pass, &c->m->cfg);
        for (size_t i = 0; i < n; i++) loss += (double)mid[i] * c->R2[i];
    }
    return loss;
}

/* ReLU signs of the subsampler: a difference across a kink is skipped */
static unsigned long long relu_region_of(const mslam_encoder_pass *p, const struct mslam_model_config *cfg) {
    if (p->input != ENCODER_SPEECH) return 0;
    size_t n1 = (size_t)p->B * cfg->sub_channels * p->T1 * p->F1, n2 = (size_t)p->B * cfg->sub_channels * p->T * p->F2;
    unsigned long long h = 1469598103934665603ull;
    for (size_t i = 0; i < n1; i++) h = (h ^ (p->c1[i] > 0)) * 1099511628211ull;
    for (size_t i = 0; i < n2; i++) h = (h ^ (p->c2[i] > 0)) * 1099511628211ull;
    return h;
}

static unsigned long long enc_region(void *ctx) {
    enc_ctx *c = ctx;
    return relu_region_of(&c->pass, &c->m->cfg);
}

/* Every parameter tensor of the path (frontend statistics aside) against central differences of
 * enc_loss, max_checks elements each; the tensors named in nonzero must get a gradient. */
static void check_enc_grads(const char *what, enc_ctx *c, grad_block *g, size_t max_checks,
                            const char *const *nonzero, int n_nonzero) {
    mslam_model *m = c->m;
    for (int i = 0; i < m->table.n; i++) {
        const mslam_param_entry *e = &m->table.entries[i];
        if (!strncmp(e->name, "frontend.", 9)) continue;
        int text_part = !strncmp(e->name, "text.", 5) || !strcmp(e->name, "pretrain.text_mask");
        if (c->speech ? text_part : !(text_part || !strncmp(e->name, "shared_", 7))) continue;
        char name[160] = "";
        strncat(name, what, 80);
        strcat(name, " ");
        strncat(name, e->name, MSLAM_PARAM_NAME_MAX);
        const float *analytic = g->block + e->offset;
        if (strstr(e->name, "attn.k.bias")) { /* softmax ignores a shift shared by all keys */
            CHECK(max_abs(analytic, e->numel) < 1e-5, "%s: gradient should be zero", name);
            continue;
        }
        int must = 0;
        for (int j = 0; j < n_nonzero; j++) must |= !strcmp(e->name, nonzero[j]);
        float eps = strncmp(e->name, "subsampler.conv", 15) ? 1e-2f : 1e-3f;
        expect_fd(name, enc_loss, enc_region, c, m->block + e->offset, analytic, e->numel, eps, max_checks, 1e-4, must);
    }
}

/* speech: 2 items of 35 and 27 mel frames -> 8 and 6 encoder frames */
enum { EB = 2, ET_MEL = 35, ET = 8 };
static const int e_mel_lens[EB] = {35, 27};
/* masked frames: item 0 {1, 2, 3, 6}, item 1 {0, 4} and frame 7, beyond its length */
static const unsigned char e_masked[EB * ET] = {0, 1, 1, 1, 0, 0, 1, 0, 1, 0, 0, 0, 1, 0, 0, 1};

static float *test_mel(uint64_t seed) {
    float *mel = normal_array((size_t)EB * ET_MEL * N_MELS, 2.0f, seed);
    for (size_t i = 0; i < (size_t)EB * ET_MEL * N_MELS; i++) mel[i] -= 5.0f;
    return mel;
}

/* A masked speech pass with the speech layers' gradient on the model, against differences. */
static void check_speech_masked_grads(const char *what, mslam_model *m, size_t max_checks) {
    float *mel = test_mel(81);
    size_t n = (size_t)EB * ET * D;
    float *R1 = normal_array(n, 1.0f, 82), *R2 = normal_array(n, 1.0f, 83);
    enc_ctx c = {.m = m, .speech = 1, .mel = mel, .lens = e_mel_lens, .B = EB, .T_in = ET_MEL, .R1 = R1, .R2 = R2};
    c.pass.masked = e_masked;
    c.pass.d_speech_out = R2;
    CHECK(enc_forward(&c) == 0 && c.pass.T == ET, "%s: forward: %s", what, mslam_last_error());
    grad_block g;
    grads_init(&g, &m->cfg);
    float *dmel = calloc((size_t)EB * ET_MEL * N_MELS, sizeof(float));
    CHECK(mslam_encoder_backward(&c.pass, &m->cfg, &m->p, &g.G, R1, dmel) == 0, "%s: backward: %s", what,
          mslam_last_error());
    const char *nonzero[] = {"pretrain.speech_mask", "subsampler.out.weight", "subsampler.conv1.weight",
                             m->cfg.n_speech_layers ? "speech_layers.0.ffn1.linear1.weight" : "shared_layers.0.ffn1.linear1.weight",
                             m->cfg.n_shared_layers ? "shared_layers.0.attn.q.weight" : "speech_layers.0.attn.q.weight"};
    check_enc_grads(what, &c, &g, max_checks, nonzero, 5);
    char name[160];
    snprintf(name, sizeof name, "%s input mel", what);
    expect_fd(name, enc_loss, enc_region, &c, mel, dmel, (size_t)EB * ET_MEL * N_MELS, 1e-2f, 64, 1e-4, 1);
    free(dmel);
    grads_free(&g);
    mslam_encoder_pass_free(&c.pass);
    free(R1), free(R2), free(mel);
}

static void test_encoder_speech(void) {
    printf("encoder: masked speech passes\n");
    mslam_model *m = pt_model(5, 1, 1, 31);
    if (!m) return;
    float *mel = test_mel(81);
    size_t n = (size_t)EB * ET * D;
    mslam_encoder_pass plain = {0}, masked = {0};
    CHECK(mslam_encoder_speech_forward(&plain, &m->cfg, &m->p, mel, e_mel_lens, EB, ET_MEL, NULL, 1) == 0,
          "plain: %s", mslam_last_error());
    CHECK(plain.T == ET && plain.lens[0] == 8 && plain.lens[1] == 6, "plain: %d frames", plain.T);
    CHECK(plain.features == NULL, "a pass without masking has features");
    masked.masked = e_masked;
    CHECK(mslam_encoder_speech_forward(&masked, &m->cfg, &m->p, mel, e_mel_lens, EB, ET_MEL, NULL, 1) == 0,
          "masked: %s", mslam_last_error());
    CHECK(masked.features && !memcmp(masked.features, plain.xs[0], n * sizeof(float)),
          "masked: the features are not the unmasked pass's subsampler output");
    int rows_ok = 1, pad_ok = 1;
    for (int r = 0; r < EB * ET; r++) {
        const float *x = masked.xs[0] + (size_t)r * D;
        if (r % ET >= plain.lens[r / ET]) pad_ok &= max_abs(x, D) == 0 && max_abs(masked.out + (size_t)r * D, D) == 0;
        else if (e_masked[r]) rows_ok &= !memcmp(x, m->p.pt_speech_mask, D * sizeof(float));
        else rows_ok &= !memcmp(x, plain.xs[0] + (size_t)r * D, D * sizeof(float));
    }
    CHECK(rows_ok, "masked: the layers' input is not the mask embedding at masked frames, the features elsewhere");
    CHECK(pad_ok, "masked: a padded frame (one of them masked) is not zero");
    CHECK(memcmp(masked.out, plain.out, n * sizeof(float)), "masked: the output is the unmasked pass's");
    CHECK(mslam_encoder_speech_layers_out(&masked, &m->cfg) == masked.xs[1], "speech layers' output is not xs[1]");
    /* nothing masked: the unmasked pass */
    unsigned char none[EB * ET] = {0};
    masked.masked = none;
    mslam_encoder_speech_forward(&masked, &m->cfg, &m->p, mel, e_mel_lens, EB, ET_MEL, NULL, 1);
    CHECK(!memcmp(masked.out, plain.out, n * sizeof(float)) && !memcmp(masked.features, plain.xs[0], n * sizeof(float)),
          "masked: an all-zero mask changes the pass");
    /* errors: masking an inference pass, or a model without the pre-training tensors */
    mslam_log_set(test_quiet_log, NULL);
    masked.masked = e_masked;
    CHECK(mslam_encoder_speech_forward(&masked, &m->cfg, &m->p, mel, e_mel_lens, EB, ET_MEL, NULL, 0) == -1 &&
              strstr(mslam_last_error(), "save"),
          "masked: an inference pass (save 0) is accepted (%s)", mslam_last_error());
    mslam_model *none_pt = pt_model(0, 1, 1, 31);
    if (none_pt) {
        mslam_encoder_pass p = {0};
        p.masked = e_masked;
        CHECK(mslam_encoder_speech_forward(&p, &none_pt->cfg, &none_pt->p, mel, e_mel_lens, EB, ET_MEL, NULL, 1) == -1 &&
                  strstr(mslam_last_error(), "n_codes"),
              "masked: a model with n_codes 0 is accepted (%s)", mslam_last_error());
        mslam_encoder_pass_free(&p);
        p.masked = NULL; /* and the same pass then works without */
        CHECK(mslam_encoder_speech_forward(&p, &none_pt->cfg, &none_pt->p, mel, e_mel_lens, EB, ET_MEL, NULL, 1) == 0,
              "unmasked pass on the n_codes 0 model: %s", mslam_last_error());
        mslam_encoder_pass_free(&p);
        mslam_model_free(none_pt);
    }
    mslam_log_set(NULL, NULL);
    /* the masked pass after a refused call */
    CHECK(mslam_encoder_speech_forward(&masked, &m->cfg, &m->p, mel, e_mel_lens, EB, ET_MEL, NULL, 1) == 0,
          "masked after an error: %s", mslam_last_error());
    mslam_encoder_pass_free(&plain);
    mslam_encoder_pass_free(&masked);
    free(mel);

    check_speech_masked_grads("speech 1+1", m, 12);
    mslam_model_free(m);
    /* without shared layers: the speech layers' output is the output, d_speech_out joins dout */
    m = pt_model(5, 1, 0, 33);
    if (m) {
        mslam_encoder_pass p = {0};
        p.masked = e_masked;
        float *mel2 = test_mel(81);
        mslam_encoder_speech_forward(&p, &m->cfg, &m->p, mel2, e_mel_lens, EB, ET_MEL, NULL, 1);
        CHECK(mslam_encoder_speech_layers_out(&p, &m->cfg) == p.out, "no shared layers: speech layers' out is not out");
        mslam_encoder_pass_free(&p);
        free(mel2);
        check_speech_masked_grads("speech 1+0", m, 8);
        mslam_model_free(m);
    }
    /* without speech layers: the speech layers' output is the (masked) subsampler output */
    m = pt_model(5, 0, 1, 35);
    if (m) {
        check_speech_masked_grads("speech 0+1", m, 8);
        mslam_model_free(m);
    }
}

static void test_encoder_text(void) {
    printf("encoder: masked text passes\n");
    mslam_model *m = pt_model(5, 1, 1, 37);
    if (!m) return;
    enum { B = 2, L = 7 };
    /* character 6 only where masked: its embedding gets no gradient; 3 masked once, unmasked twice */
    int ids[B * L] = {3, 6, 4, 5, 3, 7, 2, 4, 5, 6, 3, 2, 0, 0}, lens[B] = {7, 5};
    const unsigned char masked[B * L] = {0, 1, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 1 /* padding */};
    size_t n = (size_t)B * L * D;
    float *R1 = normal_array(n, 1.0f, 91), *R2 = normal_array(n, 1.0f, 92);
    mslam_encoder_pass plain = {0};
    CHECK(mslam_encoder_text_forward(&plain, &m->cfg, &m->p, ids, lens, B, L, 1) == 0, "text: %s", mslam_last_error());
    /* d_speech_out is for speech passes: a text pass ignores it */
    enc_ctx c = {.m = m, .speech = 0, .ids = ids, .lens = lens, .B = B, .T_in = L, .R1 = R1};
    c.pass.masked = masked;
    c.pass.d_speech_out = R2;
    CHECK(enc_forward(&c) == 0, "masked text: %s", mslam_last_error());
    int rows_ok = 1;
    for (int r = 0; r < B * L; r++) {
        const float *x = c.pass.text_pre_ln + (size_t)r * D, *y = plain.text_pre_ln + (size_t)r * D;
        if (!masked[r]) {
            rows_ok &= !memcmp(x, y, D * sizeof(float));
            continue;
        }
        /* the mask embedding in place of the character's, the position kept */
        const float *emb = m->p.text_embed + (size_t)plain.ids[r] * D;
        for (int i = 0; i < D; i++) rows_ok &= fabsf(x[i] - (y[i] - emb[i] + m->p.pt_text_mask[i])) < 1e-5f;
    }
    CHECK(rows_ok, "masked text: the embedding rows are not the mask embedding plus the position");
    CHECK(memcmp(c.pass.out, plain.out, n * sizeof(float)), "masked text: the output is the unmasked pass's");
    grad_block g;
    grads_init(&g, &m->cfg);
    CHECK(mslam_encoder_backward(&c.pass, &m->cfg, &m->p, &g.G, R1, NULL) == 0, "masked text backward: %s",
          mslam_last_error());
    CHECK(max_abs(g.G.text_embed + 6 * D, D) == 0, "masked text: character 6, masked wherever it is, gets a gradient");
    CHECK(max_abs(g.G.text_embed + 3 * D, D) > 0, "masked text: character 3 gets no gradient from its unmasked places");
    CHECK(max_abs(g.G.pt_speech_mask, D) == 0, "masked text: the speech mask gets a gradient");
    const char *nonzero[] = {"pretrain.text_mask", "text.embed.weight", "shared_layers.0.attn.q.weight"};
    check_enc_grads("text 1+1", &c, &g, 24, nonzero, 3);
    /* errors */
    mslam_log_set(test_quiet_log, NULL);
    CHECK(mslam_encoder_text_forward(&c.pass, &m->cfg, &m->p, ids, lens, B, L, 0) == -1, "masked text: save 0 accepted");
    mslam_model *none_pt = pt_model(0, 1, 1, 31);
    if (none_pt) {
        mslam_encoder_pass p = {0};
        p.masked = masked;
        CHECK(mslam_encoder_text_forward(&p, &none_pt->cfg, &none_pt->p, ids, lens, B, L, 1) == -1,
              "masked text: a model with n_codes 0 is accepted");
        mslam_encoder_pass_free(&p);
        mslam_model_free(none_pt);
    }
    mslam_log_set(NULL, NULL);
    grads_free(&g);
    mslam_encoder_pass_free(&c.pass);
    mslam_encoder_pass_free(&plain);
    free(R1), free(R2);
    mslam_model_free(m);
}

/* ======================= w2v-BERT through the encoder ======================= */

/* The trainer's wiring: a masked speech pass; w2v-BERT on its features, speech layers' output and
 * output; the loss's gradients into the encoder as d_speech_out and dout. Without the diversity
 * term (whose gradient stops at the features by design) that is the loss's exact gradient while
 * the codes and ReLU signs stay. */
typedef struct {
    enc_ctx e;
    w2v_ctx w;
} e2e_ctx;

static double e2e_loss(void *ctx) {
    e2e_ctx *c = ctx;
    if (enc_forward(&c->e)) return NAN;
    w2v_ctx *w = &c->w;
    w->features = c->e.pass.features;
    w->context = (float *)mslam_encoder_speech_layers_out(&c->e.pass, &c->e.m->cfg);
    w->top = c->e.pass.out;
    w->lens = c->e.pass.lens;
    return w2v_loss(w);
}

static unsigned long long e2e_region(void *ctx) {
    e2e_ctx *c = ctx;
    return relu_region_of(&c->e.pass, &c->e.m->cfg) ^ c->w.codes_hash;
}

static void test_end_to_end(void) {
    printf("w2v-BERT through the encoder\n");
    mslam_model *m = pt_model(5, 1, 1, 39);
    if (!m) return;
    float *mel = test_mel(85);
    unsigned char masked[EB * ET];
    e2e_ctx c = {.e = {.m = m, .speech = 1, .mel = mel, .lens = e_mel_lens, .B = EB, .T_in = ET_MEL}};
    CHECK(enc_forward(&c.e) == 0 && c.e.pass.T == ET, "e2e: %s", mslam_last_error());
    int keys[EB] = {5, 2};
    pretrain_mask_speech(masked, c.e.pass.lens, EB, ET, 0.35f, 2, 3, keys);
    c.e.pass.masked = masked;
    c.w = (w2v_ctx){.m = m, .c = w2v_bert_default_config(), .B = EB, .T = ET, .keys = keys, .masked = masked,
                    .seed = 4, .cs = 1, .ds = 0, .ms = 1};
    c.w.c.distractors = 4;
    size_t n = (size_t)EB * ET * D;
    float *dctx = calloc(n, sizeof(float)), *dtop = calloc(n, sizeof(float));
    double L = e2e_loss(&c);
    CHECK(isfinite(L) && c.w.out.n_masked > 0, "e2e: loss %g over %d frames", L, c.w.out.n_masked);
    grad_block g;
    grads_init(&g, &m->cfg);
    CHECK(w2v_call(&c.w, &g.G, dctx, dtop) == 0, "e2e: w2v backward: %s", mslam_last_error());
    c.e.pass.d_speech_out = dctx;
    CHECK(mslam_encoder_backward(&c.e.pass, &m->cfg, &m->p, &g.G, dtop, NULL) == 0, "e2e backward: %s",
          mslam_last_error());
    const mslam_params *P = &m->p;
    struct {
        const char *name;
        float *x;
        const float *gx;
        size_t n;
        float eps;
    } t[] = {
        {"pretrain.speech_mask", P->pt_speech_mask, g.G.pt_speech_mask, D, 1e-2f},
        {"subsampler.out.weight", P->sub_out_w, g.G.sub_out_w, (size_t)D * 2 * 3, 1e-2f},
        {"subsampler.conv2.weight", P->sub_conv2_w, g.G.sub_conv2_w, 2 * 2 * 9, 1e-3f},
        {"speech_layers.0.ffn1.w1", P->speech[0].ffn1_w1, g.G.speech[0].ffn1_w1, 12 * D, 1e-2f},
        {"speech_layers.0.attn.wo", P->speech[0].attn_wo, g.G.speech[0].attn_wo, D * D, 1e-2f},
        {"shared_layers.0.attn.wq", P->shared[0].attn_wq, g.G.shared[0].attn_wq, D * D, 1e-2f},
        {"shared_layers.0.ffn2.w2", P->shared[0].ffn2_w2, g.G.shared[0].ffn2_w2, D * 12, 1e-2f},
        {"pretrain.contrastive.weight", P->pt_ctx_w, g.G.pt_ctx_w, D * D, 1e-2f},
        {"pretrain.mlm.weight", P->pt_mlm_w, g.G.pt_mlm_w, 5 * D, 1e-2f},
        {"pretrain.codebook", P->pt_codebook, g.G.pt_codebook, 5 * D, 1e-2f},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char name[96];
        snprintf(name, sizeof name, "e2e %s", t[i].name);
        expect_fd(name, e2e_loss, e2e_region, &c, t[i].x, t[i].gx, t[i].n, t[i].eps, 16, 1e-4, 1);
    }
    grads_free(&g);
    free(dctx), free(dtop), free(mel);
    pretrain_work_free(&c.w.w);
    mslam_encoder_pass_free(&c.e.pass);
    mslam_model_free(m);
}

/* ======================= BEST-RQ ======================= */

/* The random quantizer: its draws are the seed's, its codebook's rows unit vectors, and each code
 * is the nearest of a frame's 4 stacked, standardised mel frames projected, computed here in
 * double (the last mel frame repeated past an item's length; -1 beyond lens). */
static void test_random_quantizer(void) {
    printf("BEST-RQ: the random quantizer\n");
    enum { NM = 5, DIM = 3, K = 6, B = 2, T_MEL = 20, T = 5 };
    random_quantizer q, again, other;
    CHECK(random_quantizer_init(&q, NM, DIM, K, 7) == 0 && random_quantizer_init(&again, NM, DIM, K, 7) == 0 &&
              random_quantizer_init(&other, NM, DIM, K, 8) == 0,
          "random quantizer: %s", mslam_last_error());
    CHECK(!memcmp(q.proj, again.proj, sizeof(float) * DIM * RQ_STACK * NM) &&
              !memcmp(q.codebook, again.codebook, sizeof(float) * K * DIM),
          "random quantizer: one seed, one quantizer");
    CHECK(memcmp(q.codebook, other.codebook, sizeof(float) * K * DIM) != 0, "random quantizer: another seed, the same");
    double worst = 0;
    for (int k = 0; k < K; k++) {
        double n = 0;
        for (int i = 0; i < DIM; i++) n += (double)q.codebook[k * DIM + i] * q.codebook[k * DIM + i];
        worst = fmax(worst, fabs(sqrt(n) - 1));
    }
    CHECK(worst < 1e-6, "random quantizer: a codebook row's norm is off 1 by %g", worst);
    const int mel_lens[B] = {T_MEL, 11}, lens[B] = {T, 3};
    float *mel = normal_array((size_t)B * T_MEL * NM, 2.0f, 61), mean[NM], std[NM];
    for (int i = 0; i < NM; i++) mean[i] = 0.3f * (float)i - 0.5f, std[i] = 0.5f + 0.25f * (float)i;
    int codes[B * T];
    CHECK(random_quantizer_codes(&q, codes, mel, mel_lens, B, T_MEL, mean, std, lens, T) == 0,
          "random quantizer codes: %s", mslam_last_error());
    int agree = 1, distinct = 0, seen[K] = {0};
    for (int b = 0; b < B; b++)
        for (int t = 0; t < T; t++) {
            int want = -1;
            if (t < lens[b]) {
                double x[RQ_STACK * NM], y[DIM], best = -INFINITY;
                for (int j = 0; j < RQ_STACK; j++) {
                    int f = 4 * t + 2 + j < mel_lens[b] ? 4 * t + 2 + j : mel_lens[b] - 1;
                    for (int i = 0; i < NM; i++)
                        x[j * NM + i] = ((double)mel[((size_t)b * T_MEL + f) * NM + i] - mean[i]) / std[i];
                }
                for (int o = 0; o < DIM; o++) {
                    y[o] = 0;
                    for (int i = 0; i < RQ_STACK * NM; i++) y[o] += (double)q.proj[o * RQ_STACK * NM + i] * x[i];
                }
                for (int k = 0; k < K; k++) {
                    double dot = 0;
                    for (int i = 0; i < DIM; i++) dot += y[i] * q.codebook[k * DIM + i];
                    if (dot > best) best = dot, want = k;
                }
                distinct += !seen[want]++;
            }
            if (codes[b * T + t] != want) {
                agree = 0;
                printf("  item %d frame %d: code %d, reference %d\n", b, t, codes[b * T + t], want);
            }
        }
    CHECK(agree, "random quantizer: a code differs from the reference");
    CHECK(distinct >= 3, "random quantizer: only %d distinct codes in %d frames", distinct, T + 3);
    /* item 1's frame 2 stacks mel frames 10, 10, 10, 10: a frame past its length changes nothing */
    mel[((size_t)1 * T_MEL + 12) * NM] += 100.0f;
    int again_codes[B * T];
    random_quantizer_codes(&q, again_codes, mel, mel_lens, B, T_MEL, mean, std, lens, T);
    CHECK(!memcmp(codes, again_codes, sizeof codes), "random quantizer: a mel frame past the item's length counts");
    /* in training, lens are the subsampler's frames of mel_lens: the stack never runs past them */
    int past = 0;
    for (int len = 7; len < 2000; len++) {
        int frames = mslam_subsampled_frames(len);
        past += frames > 0 && 4 * (frames - 1) + 2 + RQ_STACK - 1 > len - 1;
    }
    CHECK(past == 0, "random quantizer: %d mel lengths whose last subsampled frame stacks past them", past);
    random_quantizer_free(&q), random_quantizer_free(&again), random_quantizer_free(&other);
    CHECK(random_quantizer_init(&q, NM, DIM, 1, 7) != 0 && strstr(mslam_last_error(), "codes"),
          "random quantizer of 1 code: refused naming it (%s)", mslam_last_error());
    free(mel);
}

/* w2v_bert_loss_compute with the codes given (BEST-RQ): no contrastive or diversity term, the
 * code prediction against a reference and central differences, gradients to the MLM head and
 * the top's masked rows alone. */
static void test_given_codes(void) {
    printf("BEST-RQ: masked prediction of given codes\n");
    mslam_model *m = pt_model(5, 1, 1, 25);
    if (!m) return;
    const int K = 5;
    unsigned char masked[WB * WT];
    w2v_ctx c;
    w2v_fixture(&c, m, masked);
    int given[WB * WT];
    for (int r = 0; r < WB * WT; r++) given[r] = r % WT < w_lens[r / WT] ? (r * 7 + 3) % K : -1;
    c.c.codes = given;
    size_t n = (size_t)WB * WT * D;
    grad_block g;
    grads_init(&g, &m->cfg);
    float *dctx = calloc(n, sizeof(float)), *dtop = calloc(n, sizeof(float));
    CHECK(w2v_call(&c, &g.G, dctx, dtop) == 0, "given codes: %s", mslam_last_error());
    int row_of[WB * WT], M = masked_rows(row_of, NULL, masked, w_lens, WB, WT), correct = 0, ok;
    double mlm = 0, avg[5] = {0}, H = 0;
    for (int i = 0; i < M; i++) {
        double l[5];
        linear_ref(l, c.top + (size_t)row_of[i] * D, m->p.pt_mlm_w, m->p.pt_mlm_b, D, K);
        mlm += cross_entropy_ref(l, K, given[row_of[i]], &ok);
        correct += ok;
        avg[given[row_of[i]]] += 1.0 / M;
    }
    for (int k = 0; k < K; k++)
        if (avg[k] > 0) H -= avg[k] * log(avg[k]);
    CHECK(c.out.n_masked == M && c.out.contrastive == 0 && c.out.diversity == 0,
          "given codes: %d masked (%d), contrastive %g, diversity %g", c.out.n_masked, M, c.out.contrastive,
          c.out.diversity);
    CHECK(rel_diff(c.out.mlm, mlm) < 1e-5 && c.out.mlm_correct == correct && rel_diff(c.out.perplexity, exp(H)) < 1e-5,
          "given codes: mlm %g (reference %g), %g correct (%d), perplexity %g (%g)", c.out.mlm, mlm, c.out.mlm_correct,
          correct, c.out.perplexity, exp(H));
    const char *culprit = "";
    const char *const touched[] = {"pretrain.mlm."};
    CHECK(zero_outside(&g, touched, 1, &culprit), "given codes: %s has a gradient", culprit);
    CHECK(max_abs(dctx, n) == 0, "given codes: the speech layers' output has a gradient");
    expect_fd("given codes: top", w2v_loss, NULL, &c, c.top, dtop, n, 1e-3f, 0, 1e-4, 1);
    expect_fd("given codes: pretrain.mlm.weight", w2v_loss, NULL, &c, m->p.pt_mlm_w, g.G.pt_mlm_w, (size_t)K * D,
              1e-3f, 0, 1e-4, 1);
    given[row_of[0]] = K;
    CHECK(w2v_call(&c, NULL, NULL, NULL) != 0 && strstr(mslam_last_error(), "outside"),
          "given codes: a code outside 0..K-1 refused naming it (%s)", mslam_last_error());
    free(dctx), free(dtop);
    grads_free(&g);
    w2v_fixture_free(&c);
    mslam_model_free(m);
}

int main(void) {
    mslam_set_threads(1);
    test_mask_speech();
    test_mask_text();
    test_w2v_gradients();
    test_w2v_reference();
    test_w2v_straight_through();
    test_w2v_split();
    test_random_quantizer();
    test_given_codes();
    test_spanbert();
    test_encoder_speech();
    test_encoder_text();
    test_end_to_end();
    return test_result("pretrain");
}
