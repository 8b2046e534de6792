/* Searches: CTC greedy on hand-made log-probs; CTC prefix beam search against brute-force
 * enumeration of every label sequence (best sequence and its probability), fed whole or frame by
 * frame, and over a long stream (trie compaction); decoder beam search: beam 1 equals a greedy
 * argmax loop over the teacher-forced decoder, a wide beam equals exhaustive enumeration. */
#include "heads.h"
#include "model.h"
#include "search.h"
#include "testutil.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---- CTC greedy ---- */

static void test_ctc_greedy(void) {
    enum { T = 8, V = 4 };
    /* most likely label per frame: a a - a b b - c  (a=1, b=2, c=3, - blank) */
    const int path[T] = {1, 1, 0, 1, 2, 2, 0, 3};
    float lp[T * V];
    for (int t = 0; t < T; t++)
        for (int c = 0; c < V; c++) lp[t * V + c] = logf(c == path[t] ? 0.7f : 0.1f);
    search_token out[T];
    int prev = CTC_BLANK;
    int n = ctc_greedy(lp, T, V, 100, &prev, out);
    const int want_id[4] = {1, 1, 2, 3}, want_frame[4] = {100, 103, 104, 107};
    CHECK(n == 4, "greedy emits %d tokens, want 4 (a a b c)", n);
    for (int i = 0; i < n && i < 4; i++) {
        CHECK(out[i].id == want_id[i] && out[i].frame == want_frame[i], "token %d: id %d frame %d", i, out[i].id,
              out[i].frame);
        CHECK(fabsf(out[i].logp - logf(0.7f)) < 1e-6f, "token %d log-prob %g", i, out[i].logp);
    }
    /* fed in pieces that split the repeat "a a": the carried label collapses it */
    prev = CTC_BLANK;
    int m = ctc_greedy(lp, 1, V, 100, &prev, out);
    m += ctc_greedy(lp + V, 4, V, 101, &prev, out + m);
    m += ctc_greedy(lp + 5 * V, 3, V, 105, &prev, out + m);
    CHECK(m == 4 && out[1].frame == 103 && out[3].id == 3, "greedy in pieces: %d tokens", m);
}

/* ---- CTC prefix beam search vs brute force ---- */

/* log p(labels | log_probs): every alignment summed (ops.h ctc_loss, double precision inside). */
static double seq_logp(const float *lp, int T, int V, const int *labels, int L) {
    double scratch[2 * 8 * 17];
    return -ctc_loss(NULL, lp, T, V, labels, L, CTC_BLANK, 1.0f, scratch);
}

static void random_log_probs(float *lp, int T, int V, float sharpness, mslam_rng *rng) {
    float *logits = malloc((size_t)T * V * sizeof(float));
    for (int i = 0; i < T * V; i++) logits[i] = sharpness * mslam_rng_normal(rng);
    log_softmax_forward(lp, logits, T, V);
    free(logits);
}

static void test_prefix_beam_exact(void) {
    mslam_rng rng;
    mslam_rng_seed(&rng, 41);
    double worst_logp = 0, worst_total = 0;
    int mismatches = 0;
    for (int trial = 0; trial < 20; trial++) {
        const int T = 3 + trial % 3, V = 3 + trial % 2; /* up to 5 frames, 2 or 3 labels */
        float lp[5 * 4];
        random_log_probs(lp, T, V, 1.5f, &rng);
        /* brute force: every sequence of up to T labels */
        int labels[8], best[8], best_len = 0, n_seq = 0;
        double best_logp = -INFINITY, total = -INFINITY;
        for (int L = 0; L <= T; L++) {
            int count = 1;
            for (int i = 0; i < L; i++) count *= V - 1;
            for (int code = 0; code < count; code++) {
                for (int i = 0, x = code; i < L; i++, x /= V - 1) labels[i] = 1 + x % (V - 1);
                double l = seq_logp(lp, T, V, labels, L);
                total = log_add(total, l);
                n_seq++;
                if (l > best_logp) {
                    best_logp = l;
                    best_len = L;
                    memcpy(best, labels, sizeof labels);
                }
            }
        }
        /* (float log-probs: each frame sums to 1 within rounding) */
        CHECK(fabs(total) < 1e-5, "the sequences' probabilities sum to %.9f", exp(total));
        /* a beam as wide as the number of sequences is exact */
        ctc_beam s;
        CHECK(ctc_beam_init(&s, n_seq, V, -INFINITY) == 0, "beam: %s", mslam_last_error());
        for (int feed = 0; feed < 2; feed++) {
            ctc_beam_reset(&s);
            if (feed == 0) ctc_beam_step(&s, lp, T, 0);
            else
                for (int t = 0; t < T; t++) ctc_beam_step(&s, lp + t * V, 1, t);
            search_result r;
            CHECK(ctc_beam_best(&s, 1, &r) == 0, "best");
            int same = r.n == best_len;
            for (int i = 0; same && i < r.n; i++) same = r.tokens[i].id == best[i];
            mismatches += !same;
            worst_logp = fmax(worst_logp, fabs(r.logp - best_logp));
            /* every prefix alive: their probabilities add up to one */
            double beam_total = -INFINITY;
            for (int b = 0; b < s.n_beams; b++) beam_total = log_add(beam_total, log_add(s.pb[b], s.pnb[b]));
            worst_total = fmax(worst_total, fabs(beam_total));
            for (int i = 1; i < r.n; i++)
                CHECK(r.tokens[i].frame > r.tokens[i - 1].frame, "token frames must increase");
            search_result_free(&r);
        }
        ctc_beam_free(&s);
    }
    printf("prefix beam search vs brute force (20 cases, T <= 5): %d mismatches, max |log p| err %.2e, "
           "total probability err %.2e\n", mismatches, worst_logp, worst_total);
    CHECK(mismatches == 0, "prefix beam search missed the best sequence %d times", mismatches);
    CHECK(worst_logp < 1e-5 && worst_total < 1e-6, "log-probabilities disagree: %.2e, %.2e", worst_logp, worst_total);
}

/* A long stream with a narrow beam: the trie is compacted many times; chunked feeding equals
 * feeding all at once, the result's probability is at most the true one, and a sharp model's
 * beam result equals greedy. */
/* A prefix that leaves the beam and comes back later (its node kept in the trie) is reported
 * at the frame and probability of its new emission (a review found the first one's). V 3:
 * blank, a, b; beam 2. "a" at frame 0 (p 0.3), dropped at frame 1 for "" and "b", then emitted
 * from "" at frame 6 (p 0.8). Also after an earlier segment grew the trie (node_cap). */
static void frame_row(float *row, float blank, float a, float b) {
    row[0] = logf(blank), row[1] = a > 0 ? logf(a) : -INFINITY, row[2] = b > 0 ? logf(b) : -INFINITY;
}

static void test_prefix_beam_returns(void) {
    enum { T = 10, V = 3 };
    float lp[T * V];
    frame_row(lp, 0.7f, 0.3f, 0);
    frame_row(lp + V, 0.6f, 1e-6f, 0.4f);
    for (int t = 2; t < T; t++) frame_row(lp + t * V, 1 - 2e-6f, 1e-6f, 1e-6f);
    frame_row(lp + 6 * V, 0.2f, 0.8f, 0);
    for (int warm = 0; warm < 2; warm++) {
        ctc_beam s;
        CHECK(ctc_beam_init(&s, 2, V, -INFINITY) == 0, "init: %s", mslam_last_error());
        if (warm) {
            mslam_rng rng;
            mslam_rng_seed(&rng, 1);
            float *noise = malloc(400 * V * sizeof(float));
            for (int i = 0; i < 400 * V; i++) noise[i] = mslam_rng_normal(&rng);
            log_softmax_forward(noise, noise, 400, V);
            CHECK(ctc_beam_step(&s, noise, 400, 0) == 0, "a first segment");
            free(noise);
            ctc_beam_reset(&s);
        }
        search_result r = {0};
        CHECK(ctc_beam_step(&s, lp, T, 0) == 0 && ctc_beam_best(&s, 1, &r) == 0, "search");
        CHECK(r.n == 1 && r.tokens[0].id == 1 && r.tokens[0].frame == 6 && fabsf(expf(r.tokens[0].logp) - 0.8f) < 1e-5f,
              "\"a\" back in the beam (warm %d): %d tokens, frame %d, p %g", warm, r.n, r.n ? r.tokens[0].frame : -1,
              r.n ? expf(r.tokens[0].logp) : 0);
        search_result_free(&r);
        ctc_beam_free(&s);
    }
}

/* At beams 2, 4 and 16: the two tokens of log_probs (T, 3) fed from frame0 have ids, frames and
 * probabilities as given. */
static void check_two_timed(const float *log_probs, int T, int frame0, const int id[2], const int frame[2],
                            const float p[2], const char *what) {
    static const int beams[] = {2, 4, 16};
    for (size_t i = 0; i < sizeof beams / sizeof *beams; i++) {
        ctc_beam s;
        search_result r = {0};
        CHECK(ctc_beam_init(&s, beams[i], 3, -INFINITY) == 0 && ctc_beam_step(&s, log_probs, T, frame0) == 0 &&
                  ctc_beam_best(&s, 1, &r) == 0,
              "search: %s", mslam_last_error());
        int as_given = r.n == 2;
        for (int k = 0; as_given && k < 2; k++)
            as_given = r.tokens[k].id == id[k] && r.tokens[k].frame == frame[k] && fabsf(expf(r.tokens[k].logp) - p[k]) < 1e-5f;
        CHECK(as_given, "%s at beam %d: %d tokens, %d at frame %d p %g, %d at frame %d p %g", what, beams[i], r.n,
              r.n ? r.tokens[0].id : -1, r.n ? r.tokens[0].frame : -1, r.n ? expf(r.tokens[0].logp) : 0,
              r.n > 1 ? r.tokens[1].id : -1, r.n > 1 ? r.tokens[1].frame : -1, r.n > 1 ? expf(r.tokens[1].logp) : 0);
        search_result_free(&r);
        ctc_beam_free(&s);
    }
}

/* T frames of V 3 (blank, a, b), mostly blank (0.99), with the n given rows: {frame, blank, a, b}. */
static void frames_with(float *lp, int T, const float rows[][4], int n) {
    for (int t = 0; t < T; t++) frame_row(lp + t * 3, 0.99f, 0.005f, 0.005f);
    for (int i = 0; i < n; i++) frame_row(lp + (int)rows[i][0] * 3, rows[i][1], rows[i][2], rows[i][3]);
}

/* A label whose prefix enters the beam early, at a small probability, and stays there: its
 * token is at its spike, with the spike's probability, whatever the beam (it had been at the
 * entry: "s" of "no se pudo" at p 0.006 a frame before its 0.98, so that a wider beam, or an LM,
 * gave the same text a lower confidence). V 3: blank, a, b; "a" at p 0.01 at frames 0-1 and
 * 0.98 at 3, "b" at 0.01 at frame 4 and 0.97 at 6. */
static void test_prefix_beam_spikes(void) {
    enum { T = 9, V = 3 };
    float lp[T * V];
    frames_with(lp, T,
                (const float[][4]){{0, 0.98f, 0.01f, 0.01f}, {1, 0.98f, 0.01f, 0.01f}, {3, 0.01f, 0.98f, 0.01f},
                                   {4, 0.98f, 0.01f, 0.01f}, {6, 0.02f, 0.01f, 0.97f}},
                5);
    check_two_timed(lp, T, 100, (const int[]){1, 2}, (const int[]){103, 106}, (const float[]){0.98f, 0.97f}, "ab");
    /* a doubled letter: "aa" spiking at frames 5 (p 0.99) and 10 (0.90), small a's at 0 and 2 (a
     * review found the second a at the first's spike and the first at frame 0, p 0.05) */
    enum { T2 = 13 };
    float aa[T2 * V];
    frames_with(aa, T2,
                (const float[][4]){{0, 0.9f, 0.05f, 0.05f}, {2, 0.9f, 0.05f, 0.05f}, {5, 0.005f, 0.99f, 0.005f},
                                   {10, 0.05f, 0.90f, 0.05f}},
                4);
    check_two_timed(aa, T2, 0, (const int[]){1, 1}, (const int[]){5, 10}, (const float[]){0.99f, 0.90f}, "aa");
    /* frames fed with a gap (none kept after it): times stay increasing, none before the first */
    ctc_beam s;
    search_result r = {0};
    CHECK(ctc_beam_init(&s, 4, V, -INFINITY) == 0 && ctc_beam_step(&s, lp, 5, 0) == 0 &&
              ctc_beam_step(&s, lp + 5 * V, T - 5, 100) == 0 && ctc_beam_best(&s, 1, &r) == 0,
          "search with a gap: %s", mslam_last_error());
    int increasing = 1;
    for (int i = 0; i < r.n; i++) increasing &= r.tokens[i].frame >= 0 && (i == 0 || r.tokens[i].frame > r.tokens[i - 1].frame);
    CHECK(r.n == 2 && increasing, "frames fed with a gap: %d tokens, at %d and %d", r.n, r.n ? r.tokens[0].frame : -1,
          r.n > 1 ? r.tokens[1].frame : -1);
    search_result_free(&r);
    ctc_beam_free(&s);
}

static void test_prefix_beam_stream(void) {
    enum { T = 3000, V = 6 };
    mslam_rng rng;
    mslam_rng_seed(&rng, 43);
    float *lp = malloc((size_t)T * V * sizeof(float));
    random_log_probs(lp, T, V, 2.5f, &rng);
    ctc_beam whole, chunked;
    CHECK(ctc_beam_init(&whole, 4, V, -INFINITY) == 0 && ctc_beam_init(&chunked, 4, V, -INFINITY) == 0, "init");
    ctc_beam_step(&whole, lp, T, 0);
    for (int t = 0; t < T; t += 37) ctc_beam_step(&chunked, lp + (size_t)t * V, t + 37 <= T ? 37 : T - t, t);
    search_result a, b;
    ctc_beam_best(&whole, 1, &a);
    ctc_beam_best(&chunked, 1, &b);
    int same = a.n == b.n && a.logp == b.logp;
    for (int i = 0; same && i < a.n; i++) same = a.tokens[i].id == b.tokens[i].id && a.tokens[i].frame == b.tokens[i].frame;
    CHECK(same, "chunked feeding changes the result (%d vs %d tokens)", a.n, b.n);
    printf("prefix beam over %d frames: %d tokens, trie %d nodes, capacity %d\n", T, a.n, whole.n_nodes,
           whole.node_cap);
    /* up to beam new nodes per frame: without dropping dead prefixes it would pass 2T */
    CHECK(whole.node_cap < 2 * T, "the trie holds %d nodes after %d frames", whole.node_cap, T);
    search_result_free(&a);
    search_result_free(&b);
    ctc_beam_free(&whole);
    ctc_beam_free(&chunked);

    /* sharp distributions: beam 3 finds the greedy transcript */
    enum { T2 = 40 };
    float sharp[T2 * V];
    random_log_probs(sharp, T2, V, 12.0f, &rng);
    search_token g[T2];
    int prev = CTC_BLANK, n = ctc_greedy(sharp, T2, V, 0, &prev, g);
    ctc_beam s;
    ctc_beam_init(&s, 3, V, -12.0f);
    ctc_beam_step(&s, sharp, T2, 0);
    ctc_beam_best(&s, 1, &a);
    same = a.n == n;
    for (int i = 0; same && i < n; i++) same = a.tokens[i].id == g[i].id;
    CHECK(same, "a sharp model: beam (%d tokens) differs from greedy (%d)", a.n, n);
    int labels[T2];
    for (int i = 0; i < a.n; i++) labels[i] = a.tokens[i].id;
    double scratch[2 * T2 * (2 * T2 + 1)];
    double exact = -ctc_loss(NULL, sharp, T2, V, labels, a.n, CTC_BLANK, 1.0f, scratch);
    /* the beam sums the alignments through the prefixes it kept: a lower bound */
    CHECK(a.logp <= exact + 1e-9 && a.logp > exact - 0.1, "beam log p %.6f vs exact %.6f", a.logp, exact);
    search_result_free(&a);
    ctc_beam_free(&s);
    free(lp);
}

/* ---- decoder beam search ---- */

static const char *vocab[] = {"<blank>", "<s>", "</s>", "a", "b", "c", "d"};
static const char *langs[] = {"en"};

static mslam_model *tiny_decoder(uint64_t seed) {
    struct mslam_model_config cfg = {
        .n_mels = 80, .d_model = 8, .n_heads = 2, .d_ff = 12, .conv_kernel = 3, .sub_channels = 1,
        .vocab_size = 7, .n_langs = 1, .causal_conv = 1, .n_decoder_layers = 2};
    mslam_model *m = mslam_model_new(&cfg, vocab, langs);
    CHECK(m != NULL, "model: %s", mslam_last_error());
    if (m) {
        test_randomise_model(m, seed, 0.6f);
        /* a random model puts much of its mass on the tokens the search bans and ends at once:
         * take it off those, and make the empty sentence compete with longer ones */
        m->p.dec_out_b[0] -= 10.0f;
        m->p.dec_out_b[m->bos_id] -= 10.0f;
        m->p.dec_out_b[m->eos_id] -= 6.0f;
    }
    return m;
}

/* Teacher-forced log p(seq + </s>) of n_seq sequences (n_seq, L) with lengths lens. */
static void score_sequences(mslam_model *m, decoder_pass *p, const float *enc, int Tn, const int *seqs,
                            const int *lens, int n_seq, int L, double *logp) {
    const int d = m->cfg.d_model, V = m->cfg.vocab_size;
    float *encs = malloc((size_t)n_seq * Tn * d * sizeof(float));
    int *elens = malloc((size_t)n_seq * sizeof(int));
    for (int b = 0; b < n_seq; b++) {
        memcpy(encs + (size_t)b * Tn * d, enc, (size_t)Tn * d * sizeof(float));
        elens[b] = Tn;
    }
    CHECK(decoder_forward(p, &m->cfg, &m->p, m->bos_id, m->eos_id, encs, elens, n_seq, Tn, seqs, lens, L) == 0,
          "forward: %s", mslam_last_error());
    float *row = malloc((size_t)V * sizeof(float));
    for (int b = 0; b < n_seq; b++) {
        logp[b] = 0;
        for (int t = 0; t <= lens[b]; t++) {
            log_softmax_forward(row, p->logits + ((size_t)b * (L + 1) + t) * V, 1, V);
            logp[b] += row[t < lens[b] ? seqs[b * L + t] : m->eos_id];
        }
    }
    free(row);
    free(encs);
    free(elens);
}

static void test_decoder_greedy(mslam_model *m, const float *enc, int Tn, const unsigned char *banned) {
    const int V = m->cfg.vocab_size, max_len = 12;
    decoder_pass p = {0};
    decoder_cache cache = {0};
    /* argmax loop, each step a full teacher-forced forward of the prefix */
    int seq[16], n = 0;
    float *row = malloc((size_t)V * sizeof(float));
    for (;;) {
        int lens[1] = {n}, elens[1] = {Tn};
        CHECK(decoder_forward(&p, &m->cfg, &m->p, m->bos_id, m->eos_id, enc, elens, 1, Tn, seq, lens, n) == 0, "fwd");
        log_softmax_forward(row, p.logits + (size_t)n * V, 1, V);
        int best = m->eos_id;
        for (int c = 0; c < V && n < max_len; c++)
            if (!banned[c] && row[c] > row[best]) best = c;
        if (best == m->eos_id) break;
        seq[n++] = best;
    }
    decoder_search_params sp = {.beam_size = 1, .max_len = max_len, .length_penalty = 0.7f, .banned = banned};
    search_result r;
    CHECK(decoder_beam_search(&cache, &m->cfg, &m->p, m->bos_id, m->eos_id, enc, Tn, &sp, &r) == 0, "search: %s",
          mslam_last_error());
    int same = r.n == n;
    for (int i = 0; same && i < n; i++) same = r.tokens[i].id == seq[i];
    printf("decoder beam 1: %d tokens, greedy argmax loop: %d tokens, %s\n", r.n, n, same ? "same" : "DIFFERENT");
    CHECK(same, "beam 1 differs from the greedy argmax loop");
    search_result_free(&r);
    free(row);
    decoder_pass_free(&p);
    decoder_cache_free(&cache);
}

/* Whether seq (n tokens) holds some N tokens twice. */
static int repeats_ngram(const int *seq, int n, int N) {
    for (int i = 0; i + N <= n; i++)
        for (int j = i + 1; j + N <= n; j++)
            if (!memcmp(seq + i, seq + j, (size_t)N * sizeof(int))) return 1;
    return 0;
}

/* Every sequence of up to max_len allowed tokens, scored logp(seq + </s>) / (n + 1)^alpha: a beam
 * wider than the number of hypotheses at any step must return the best of them; with
 * no_repeat_ngram N, the best of those that hold no N tokens twice. */
static void test_decoder_exhaustive(mslam_model *m, const float *enc, int Tn, const unsigned char *banned) {
    enum { MAX_LEN = 3, A = 4, N_SEQ = 1 + A + A * A + A * A * A };
    const int allowed[A] = {3, 4, 5, 6};
    int seqs[N_SEQ * MAX_LEN] = {0}, lens[N_SEQ], k = 0;
    for (int L = 0; L <= MAX_LEN; L++) {
        int count = 1;
        for (int i = 0; i < L; i++) count *= A;
        for (int code = 0; code < count; code++, k++) {
            lens[k] = L;
            for (int i = 0, x = code; i < L; i++, x /= A) seqs[k * MAX_LEN + i] = allowed[x % A];
        }
    }
    double logp[N_SEQ];
    decoder_pass p = {0};
    score_sequences(m, &p, enc, Tn, seqs, lens, N_SEQ, MAX_LEN, logp);
    decoder_pass_free(&p);
    decoder_cache cache = {0};
    const float alphas[5] = {0.0f, 0.3f, 0.6f, 1.0f, 1.5f};
    int differs = 0; /* cases where the ban changes the best sequence */
    for (int ai = 0; ai < 5; ai++) {
        int best = 0;
        double best_score = -INFINITY;
        for (int s = 0; s < N_SEQ; s++) {
            double score = logp[s] / pow(lens[s] + 1.0, alphas[ai]);
            if (score > best_score) best_score = score, best = s;
        }
        decoder_search_params sp = {.beam_size = 128, .max_len = MAX_LEN, .length_penalty = alphas[ai],
                                    .banned = banned};
        search_result r;
        CHECK(decoder_beam_search(&cache, &m->cfg, &m->p, m->bos_id, m->eos_id, enc, Tn, &sp, &r) == 0, "search: %s",
              mslam_last_error());
        int same = r.n == lens[best];
        for (int i = 0; same && i < r.n; i++) same = r.tokens[i].id == seqs[best * MAX_LEN + i];
        printf("decoder beam 128, alpha %.1f: best of %d sequences has %d tokens, score %.6f; search: %d tokens, "
               "score %.6f\n", alphas[ai], N_SEQ, lens[best], best_score, r.n, r.score);
        CHECK(same, "alpha %.1f: the beam missed the best sequence", alphas[ai]);
        CHECK(fabs(r.score - best_score) < 1e-5, "alpha %.1f: score %.6f vs %.6f", alphas[ai], r.score, best_score);
        double token_sum = 0;
        for (int i = 0; i < r.n; i++) token_sum += r.tokens[i].logp;
        CHECK(token_sum > r.logp, "token log-probs (%g) plus the end's make the total (%g)", token_sum, r.logp);
        search_result_free(&r);

        for (int N = 1; N <= 2; N++) {
            int best_n = -1;
            double best_n_score = -INFINITY;
            for (int q = 0; q < N_SEQ; q++) {
                double score = logp[q] / pow(lens[q] + 1.0, alphas[ai]);
                if (!repeats_ngram(seqs + q * MAX_LEN, lens[q], N) && score > best_n_score) best_n_score = score, best_n = q;
            }
            decoder_search_params spn = sp;
            spn.no_repeat_ngram = N;
            CHECK(decoder_beam_search(&cache, &m->cfg, &m->p, m->bos_id, m->eos_id, enc, Tn, &spn, &r) == 0, "search");
            int same_n = best_n >= 0 && r.n == lens[best_n];
            for (int i = 0; same_n && i < r.n; i++) same_n = r.tokens[i].id == seqs[best_n * MAX_LEN + i];
            CHECK(same_n && fabs(r.score - best_n_score) < 1e-5,
                  "alpha %.1f, no_repeat_ngram %d: the best sequence without a repeat (%d tokens, %.6f) vs %d, %.6f",
                  alphas[ai], N, best_n >= 0 ? lens[best_n] : -1, best_n_score, r.n, r.score);
            if (best_n != best) differs++;
            search_result_free(&r);
        }

        /* narrower beams never beat the exhaustive best */
        for (int beam = 2; beam <= 4; beam++) {
            sp.beam_size = beam;
            CHECK(decoder_beam_search(&cache, &m->cfg, &m->p, m->bos_id, m->eos_id, enc, Tn, &sp, &r) == 0, "beam %d",
                  beam);
            CHECK(r.score <= best_score + 1e-6 && r.n <= MAX_LEN, "beam %d: score %.6f above the best %.6f", beam,
                  r.score, best_score);
            search_result_free(&r);
        }
    }
    CHECK(differs > 0, "no_repeat_ngram changed the best sequence in %d of 10 cases", differs);

    /* shallow fusion: a trigram LM over the four characters (random log-probabilities; the
     * search needs no normalised LM) ranks by (log p_dec + w log p_lm) / (n + 1)^alpha over the
     * tokens and the end; the result's logp stays the decoder's. Order 3 against sequences of up
     * to 3 tokens and the end: contexts from "<s>" alone to two characters. */
    static const char *const english[] = {"en"};
    mslam_lm *lm = lm_new(3, (const char *const *)m->vocab, m->cfg.vocab_size, english, 1);
    CHECK(lm != NULL, "lm_new: %s", mslam_last_error());
    lm_table *t = &lm->langs[0];
    const int lm_chars[6] = {m->bos_id, m->eos_id, 3, 4, 5, 6};
    CHECK(lm_table_set_chars(lm, t, lm_chars, 6) == 0 && lm_table_reserve(t, 256) == 0, "LM table");
    t->floor_logp = -9.0f;
    mslam_rng lm_rng;
    mslam_rng_seed(&lm_rng, 53);
    for (int w = 1; w < 6; w++) {
        lm_table_put(t, lm_key(t, &lm_chars[w], 1), -8.0f * mslam_rng_uniform(&lm_rng), -mslam_rng_uniform(&lm_rng));
        for (int h = 0; h < 6; h++)
            if (h != 1 && mslam_rng_uniform(&lm_rng) < 0.6f) {
                const int pair[2] = {lm_chars[h], lm_chars[w]};
                lm_table_put(t, lm_key(t, pair, 2), -8.0f * mslam_rng_uniform(&lm_rng), 0.0f);
                for (int g = 0; g < 6; g++)
                    if (g != 1 && h != 0 && mslam_rng_uniform(&lm_rng) < 0.4f) {
                        const int triple[3] = {lm_chars[g], lm_chars[h], lm_chars[w]};
                        lm_table_put(t, lm_key(t, triple, 3), -8.0f * mslam_rng_uniform(&lm_rng), 0.0f);
                    }
            }
    }
    int lm_differs = 0;
    const float weights[3] = {0.0f, 1.0f, 4.0f};
    for (int wi = 0; wi < 3; wi++)
        for (int ai = 1; ai < 5; ai += 2) {
            int best = 0;
            double best_score = -INFINITY, plain_best_score = -INFINITY;
            int plain_best = 0;
            for (int q = 0; q < N_SEQ; q++) {
                int ctx[MAX_LEN + 1] = {m->bos_id};
                double lm_logp = 0;
                for (int i = 0; i <= lens[q]; i++) {
                    int token = i < lens[q] ? seqs[q * MAX_LEN + i] : m->eos_id;
                    lm_logp += lm_token_logp(t, ctx, i + 1, token);
                    if (i < lens[q]) ctx[i + 1] = token;
                }
                double norm = pow(lens[q] + 1.0, alphas[ai]);
                double score = (logp[q] + weights[wi] * lm_logp) / norm;
                if (score > best_score) best_score = score, best = q;
                if (logp[q] / norm > plain_best_score) plain_best_score = logp[q] / norm, plain_best = q;
            }
            decoder_search_params sp = {.beam_size = 128, .max_len = MAX_LEN, .length_penalty = alphas[ai],
                                        .banned = banned, .lm = t, .lm_weight = weights[wi]};
            search_result r;
            CHECK(decoder_beam_search(&cache, &m->cfg, &m->p, m->bos_id, m->eos_id, enc, Tn, &sp, &r) == 0,
                  "search with an LM: %s", mslam_last_error());
            int same = r.n == lens[best];
            for (int i = 0; same && i < r.n; i++) same = r.tokens[i].id == seqs[best * MAX_LEN + i];
            printf("decoder beam 128 + LM weight %.1f, alpha %.1f: best has %d tokens, score %.6f; search: %d tokens, "
                   "score %.6f\n", weights[wi], alphas[ai], lens[best], best_score, r.n, r.score);
            CHECK(same && fabs(r.score - best_score) < 1e-5, "LM weight %.1f, alpha %.1f: the beam missed the best",
                  weights[wi], alphas[ai]);
            CHECK(fabs(r.logp - logp[best]) < 1e-4, "the result's logp is the decoder's (%.6f vs %.6f)", r.logp,
                  logp[best]);
            lm_differs += best != plain_best;
            search_result_free(&r);
        }
    CHECK(lm_differs > 0, "the LM changed the best sequence in %d of 6 cases", lm_differs);
    decoder_search_params bad = {.beam_size = 2, .max_len = MAX_LEN, .length_penalty = 1.0f, .lm = t,
                                 .lm_weight = -1.0f};
    search_result r;
    CHECK(decoder_beam_search(&cache, &m->cfg, &m->p, m->bos_id, m->eos_id, enc, Tn, &bad, &r) < 0 &&
              strstr(mslam_last_error(), "LM weight"),
          "LM weight -1: %s", mslam_last_error());
    mslam_lm_free(lm);
    decoder_cache_free(&cache);
}

static void test_decoder_search(void) {
    mslam_model *m = tiny_decoder(51);
    if (!m) return;
    const int Tn = 4, d = m->cfg.d_model;
    float enc[4 * 8];
    mslam_rng rng;
    mslam_rng_seed(&rng, 52);
    test_fill_uniform(enc, (size_t)Tn * d, -1.0f, 1.0f, &rng);
    unsigned char banned[7] = {1, 1, 0, 0, 0, 0, 0}; /* never "<blank>" or "<s>" */
    test_decoder_greedy(m, enc, Tn, banned);
    test_decoder_exhaustive(m, enc, Tn, banned);

    decoder_cache cache = {0};
    search_result r;
    decoder_search_params sp = {.beam_size = 0, .max_len = 4, .length_penalty = 1.0f};
    CHECK(decoder_beam_search(&cache, &m->cfg, &m->p, m->bos_id, m->eos_id, enc, Tn, &sp, &r) < 0 &&
              strstr(mslam_last_error(), "beam size"),
          "beam 0: %s", mslam_last_error());
    sp = (decoder_search_params){.beam_size = 2, .max_len = 4, .length_penalty = 1.0f, .no_repeat_ngram = -1};
    CHECK(decoder_beam_search(&cache, &m->cfg, &m->p, m->bos_id, m->eos_id, enc, Tn, &sp, &r) < 0 &&
              strstr(mslam_last_error(), "no_repeat_ngram"),
          "no_repeat_ngram -1: %s", mslam_last_error());
    sp = (decoder_search_params){.beam_size = 2, .max_len = 0, .length_penalty = 1.0f, .banned = banned};
    CHECK(decoder_beam_search(&cache, &m->cfg, &m->p, m->bos_id, m->eos_id, enc, Tn, &sp, &r) == 0 && r.n == 0,
          "max_len 0 gives the empty sentence (%d tokens)", r.n);
    search_result_free(&r);
    decoder_cache_free(&cache);
    mslam_model_free(m);
}

int main(void) {
    mslam_set_threads(2);
    test_ctc_greedy();
    test_prefix_beam_exact();
    test_prefix_beam_returns();
    test_prefix_beam_spikes();
    test_prefix_beam_stream();
    test_decoder_search();
    return test_result("search");
}
