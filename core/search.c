/* CTC greedy and prefix beam search, decoder beam search (see search.h). */
#include "search.h"

#include "common.h"
#include "heads.h"
#include "ops.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

void search_result_free(search_result *r) {
    free(r->tokens);
    memset(r, 0, sizeof *r);
}

/* ---- CTC greedy ---- */

int ctc_greedy(const float *log_probs, int T, int V, int frame0, int *prev, search_token *out) {
    int n = 0;
    for (int t = 0; t < T; t++) {
        const float *row = log_probs + (size_t)t * V;
        int best = 0;
        for (int c = 1; c < V; c++) best = row[c] > row[best] ? c : best;
        if (best != CTC_BLANK && best != *prev) out[n++] = (search_token){best, frame0 + t, row[best]};
        *prev = best;
    }
    return n;
}

/* ---- CTC prefix beam search ---- */

/* A prefix reached at this frame, keyed by (its parent node, its last label): the empty prefix is
 * (-1, -1), a beam prefix N is (parent[N], token[N]) and its extension by c is (N, c). Because
 * the trie holds one node per prefix, equal keys are equal prefixes. */
struct ctc_candidate {
    int parent, token;
    double pb, pnb;
    double fused; /* the LM's part of the prefix's score */
    int slot;
};

static uint32_t hash_pair(int a, int b) {
    uint32_t h = (uint32_t)a * 0x9e3779b1u ^ ((uint32_t)b + 0x7f4a7c15u) * 0x85ebca77u;
    h ^= h >> 15;
    h *= 0x2c1b3c6du;
    return h ^ (h >> 12);
}

static int pow2_at_least(size_t n) {
    size_t p = 16;
    while (p < n) p *= 2;
    return p > (size_t)1 << 30 ? -1 : (int)p;
}

static int child_find(const ctc_beam *s, int parent, int token) {
    uint32_t mask = (uint32_t)s->child_cap - 1;
    for (uint32_t h = hash_pair(parent, token) & mask;; h = (h + 1) & mask) {
        int n = s->child[h];
        if (n < 0) return -1;
        if (s->parent[n] == parent && s->token[n] == token) return n;
    }
}

static void child_insert(ctc_beam *s, int node) {
    uint32_t mask = (uint32_t)s->child_cap - 1;
    uint32_t h = hash_pair(s->parent[node], s->token[node]) & mask;
    while (s->child[h] >= 0) h = (h + 1) & mask;
    s->child[h] = node;
}

static void child_rebuild(ctc_beam *s) {
    for (int i = 0; i < s->child_cap; i++) s->child[i] = -1;
    for (int n = 1; n < s->n_nodes; n++) child_insert(s, n);
}

/* Keeps only the nodes on the paths of the live beams (renumbered in the same order, so that
 * parents still come first). */
static void compact(ctc_beam *s) {
    int *newid = s->mark;
    for (int i = 0; i < s->n_nodes; i++) newid[i] = -1;
    newid[0] = 0;
    for (int b = 0; b < s->n_beams; b++)
        for (int n = s->node[b]; n > 0 && newid[n] < 0; n = s->parent[n]) newid[n] = 1;
    int k = 0;
    for (int i = 0; i < s->n_nodes; i++) {
        if (newid[i] < 0) continue;
        newid[i] = k;
        s->parent[k] = i ? newid[s->parent[i]] : -1;
        s->token[k] = s->token[i];
        s->frame[k] = s->frame[i];
        s->depth[k] = s->depth[i];
        s->token_logp[k] = s->token_logp[i];
        s->fused[k] = s->fused[i];
        k++;
    }
    for (int b = 0; b < s->n_beams; b++) s->node[b] = newid[s->node[b]];
    s->n_nodes = k;
    child_rebuild(s);
}

static int grow_nodes(ctc_beam *s, int cap) {
    int child_cap = pow2_at_least(2 * (size_t)cap);
    if (child_cap < 0) return mslam_error("CTC beam search: %d prefixes are too many", cap);
#define GROW(field)                                                                            \
    do {                                                                                       \
        void *p = realloc(s->field, (size_t)cap * sizeof *s->field);                           \
        if (!p) return mslam_error("out of memory growing the CTC prefix trie to %d", cap);    \
        s->field = p;                                                                          \
    } while (0)
    GROW(parent);
    GROW(token);
    GROW(frame);
    GROW(depth);
    GROW(token_logp);
    GROW(mark);
    GROW(fused);
#undef GROW
    int *child = realloc(s->child, (size_t)child_cap * sizeof *child);
    if (!child) return mslam_error("out of memory growing the CTC prefix trie to %d", cap);
    s->child = child;
    s->child_cap = child_cap;
    s->node_cap = cap;
    child_rebuild(s);
    return 0;
}

/* Room for the beam_size nodes a frame may add: drop dead prefixes first, grow when the live
 * ones fill more than half. */
static int reserve_nodes(ctc_beam *s) {
    if (s->n_nodes + s->beam_size <= s->node_cap) return 0;
    compact(s);
    if (s->n_nodes + s->beam_size <= s->node_cap / 2) return 0;
    return grow_nodes(s, 2 * (s->n_nodes + s->beam_size));
}

int ctc_beam_init(ctc_beam *s, int beam_size, int V, float token_min_logp) {
    memset(s, 0, sizeof *s);
    if (beam_size < 1 || beam_size > CTC_MAX_BEAM)
        return mslam_error("CTC beam search: beam size %d is outside 1..%d", beam_size, CTC_MAX_BEAM);
    if (V < 2) return mslam_error("CTC beam search: a vocabulary of %d tokens has no label", V);
    if (isnan(token_min_logp)) return mslam_error("CTC beam search: token_min_logp is NaN");
    s->beam_size = beam_size;
    s->V = V;
    s->token_min_logp = token_min_logp;
    /* each beam prefix proposes itself and V - 1 extensions */
    size_t cand = (size_t)beam_size * V;
    s->slot_cap = pow2_at_least(2 * cand);
    if (s->slot_cap < 0)
        return mslam_error("CTC beam search: beam size %d x vocabulary %d are too many candidates", beam_size, V);
    s->cand_cap = (int)cand;
    s->cand = mslam_malloc(cand * sizeof *s->cand, "CTC beam candidates");
    s->cand_slot = s->slot_cap > 0 ? mslam_malloc((size_t)s->slot_cap * sizeof(int), "CTC beam candidates") : NULL;
    s->labels = mslam_malloc((size_t)V * sizeof(int), "CTC beam labels");
    s->node = mslam_malloc((size_t)beam_size * sizeof(int), "CTC beam");
    s->pb = mslam_malloc((size_t)beam_size * sizeof(double), "CTC beam");
    s->pnb = mslam_malloc((size_t)beam_size * sizeof(double), "CTC beam");
    if (!s->cand || !s->cand_slot || !s->labels || !s->node || !s->pb || !s->pnb ||
        grow_nodes(s, 64 + 4 * beam_size)) {
        ctc_beam_free(s);
        return -1;
    }
    for (int i = 0; i < s->slot_cap; i++) s->cand_slot[i] = -1;
    ctc_beam_reset(s);
    return 0;
}

void ctc_beam_set_lm(ctc_beam *s, const mslam_lm *lm, int lang, float weight, float bonus) {
    if (weight == 0) lm = NULL; /* weight 0: no LM, nor its bonus */
    s->lm = lm;
    s->lm_lang = lm ? &lm->langs[lang] : NULL;
    s->lm_weight = weight;
    s->lm_bonus = bonus;
}

void ctc_beam_reset(ctc_beam *s) {
    s->n_nodes = 1;
    s->fused[0] = 0.0;
    s->parent[0] = -1;
    s->token[0] = -1;
    s->frame[0] = -1;
    s->depth[0] = 0;
    s->token_logp[0] = 0.0f;
    for (int i = 0; i < s->child_cap; i++) s->child[i] = -1;
    s->n_beams = 1;
    s->node[0] = 0;
    s->pb[0] = 0.0;
    s->pnb[0] = -INFINITY;
    s->root_last = -1;
    s->align_frames = 0;
}

/* log p_lm(token | the prefix ending at node) */
static double lm_next(const ctc_beam *s, int node, int token) {
    int ctx[LM_MAX_ORDER], n = s->lm_lang->order - 1, k = n;
    for (; k > 0 && node > 0; node = s->parent[node]) ctx[--k] = s->token[node];
    if (k > 0) ctx[--k] = s->lm->bos_id;
    return lm_token_logp(s->lm_lang, ctx + k, n - k, token);
}

/* fused: the LM's part of the candidate's prefix (used when it is new). */
static struct ctc_candidate *candidate(ctc_beam *s, int parent, int token, double fused) {
    uint32_t mask = (uint32_t)s->slot_cap - 1;
    for (uint32_t h = hash_pair(parent, token) & mask;; h = (h + 1) & mask) {
        int i = s->cand_slot[h];
        if (i < 0) {
            i = s->n_cand++;
            s->cand[i] = (struct ctc_candidate){parent, token, -INFINITY, -INFINITY, fused, (int)h};
            s->cand_slot[h] = i;
            return &s->cand[i];
        }
        if (s->cand[i].parent == parent && s->cand[i].token == token) return &s->cand[i];
    }
}

static double cand_score(const struct ctc_candidate *c) { return log_add(c->pb, c->pnb) + c->fused; }

/* Whether node is one of the n tips or on the path to one (the tips first: most nodes reached
 * again are the beam's own, and the walks up are then saved). */
static int on_a_path(const ctc_beam *s, const int *tips, int n, int node) {
    for (int b = 0; b < n; b++)
        if (tips[b] == node) return 1;
    for (int b = 0; b < n; b++) {
        int m = tips[b];
        while (m > 0 && s->depth[m] > s->depth[node]) m = s->parent[m];
        if (m == node) return 1;
    }
    return 0;
}

/* Keeps frame's CTC_ALIGN_LABELS likeliest labels but the blank (lp: its log-probs). */
static int keep_frame_labels(ctc_beam *s, const float *lp, int frame) {
    if (s->align_frames == 0) s->align_first = frame;
    /* frames fed out of order (the decoder numbers them in order): none kept from here on, and
     * the tokens after them keep their entries' times */
    if (frame != s->align_first + s->align_frames) return 0;
    if (s->align_frames == s->align_cap) {
        int cap = s->align_cap ? 2 * s->align_cap : 256;
        void *p = realloc(s->align, (size_t)cap * CTC_ALIGN_LABELS * sizeof *s->align);
        if (!p) return mslam_error("out of memory keeping the labels of %d frames", cap);
        s->align = p;
        s->align_cap = cap;
    }
    struct ctc_frame_label *top = s->align + (size_t)s->align_frames * CTC_ALIGN_LABELS;
    for (int k = 0; k < CTC_ALIGN_LABELS; k++) top[k] = (struct ctc_frame_label){-1, -INFINITY};
    for (int c = 0; c < s->V; c++) {
        if (c == CTC_BLANK || !(lp[c] > top[CTC_ALIGN_LABELS - 1].logp)) continue;
        int k = CTC_ALIGN_LABELS - 1;
        for (; k > 0 && lp[c] > top[k - 1].logp; k--) top[k] = top[k - 1];
        top[k] = (struct ctc_frame_label){c, lp[c]};
    }
    s->align_frames++;
    return 0;
}

/* One frame lp (V): every beam prefix either stays (a blank, or its last label again) or grows
 * by a label; alignments of equal prefixes add up in the candidate table. */
static int beam_frame(ctc_beam *s, const float *lp, int frame) {
    if (reserve_nodes(s) || keep_frame_labels(s, lp, frame)) return -1;
    const int V = s->V, K = s->beam_size;
    int n_labels = 0;
    for (int c = 0; c < V; c++)
        if (c != CTC_BLANK && lp[c] >= s->token_min_logp) s->labels[n_labels++] = c;

    s->n_cand = 0;
    for (int b = 0; b < s->n_beams; b++) {
        const int N = s->node[b], last = N ? s->token[N] : s->root_last;
        const double pb = s->pb[b], pnb = s->pnb[b], total = log_add(pb, pnb);
        struct ctc_candidate *same = candidate(s, s->parent[N], s->token[N], s->fused[N]);
        same->pb = log_add(same->pb, total + lp[CTC_BLANK]);
        if (last >= 0) same->pnb = log_add(same->pnb, pnb + lp[last]);
        for (int i = 0; i < n_labels; i++) {
            const int c = s->labels[i];
            double fused = s->fused[N];
            if (s->lm) fused += s->lm_weight * lm_next(s, N, c) + s->lm_bonus;
            /* a repeated label extends the prefix only across a blank */
            struct ctc_candidate *ext = candidate(s, N, c, fused);
            ext->pnb = log_add(ext->pnb, (c == last ? pb : total) + lp[c]);
        }
    }

    /* the K best candidates (ties: the first proposed), best first */
    int top[CTC_MAX_BEAM], n_top = 0;
    for (int i = 0; i < s->n_cand; i++) {
        double sc = cand_score(&s->cand[i]);
        if (!(sc > -INFINITY) || (n_top == K && !(sc > cand_score(&s->cand[top[K - 1]])))) continue;
        int j = n_top < K ? n_top++ : K - 1;
        while (j > 0 && sc > cand_score(&s->cand[top[j - 1]])) {
            top[j] = top[j - 1];
            j--;
        }
        top[j] = i;
    }
    int before[CTC_MAX_BEAM], n_before = s->n_beams; /* the previous frame's prefixes */
    memcpy(before, s->node, (size_t)n_before * sizeof *before);
    for (int k = 0; k < n_top; k++) {
        const struct ctc_candidate *c = &s->cand[top[k]];
        int n = c->token < 0 ? 0 : child_find(s, c->parent, c->token);
        if (n > 0 && !on_a_path(s, before, n_before, n)) {
            /* a prefix that had left the beam comes back, its last label emitted now: its node
             * (kept until the trie is compacted) takes this frame's time and probability */
            s->frame[n] = frame;
            s->token_logp[n] = lp[c->token];
            s->fused[n] = c->fused;
        }
        if (n < 0) {
            n = s->n_nodes++;
            s->parent[n] = c->parent;
            s->token[n] = c->token;
            s->frame[n] = frame;
            s->depth[n] = s->depth[c->parent] + 1;
            s->token_logp[n] = lp[c->token];
            s->fused[n] = c->fused;
            child_insert(s, n);
        }
        s->node[k] = n;
        s->pb[k] = c->pb;
        s->pnb[k] = c->pnb;
    }
    /* (no finite candidate only with non-finite input: the beam stays as it was) */
    if (n_top > 0) s->n_beams = n_top;
    for (int i = 0; i < s->n_cand; i++) s->cand_slot[s->cand[i].slot] = -1;
    return 0;
}

int ctc_beam_step(ctc_beam *s, const float *log_probs, int T, int frame0) {
    for (int t = 0; t < T; t++)
        if (beam_frame(s, log_probs + (size_t)t * s->V, frame0 + t)) return -1;
    return 0;
}

/* What the beam ranks prefix b by at the end (final: with the LM's end of sentence). */
static double final_score(const ctc_beam *s, int b, int final) {
    double score = log_add(s->pb[b], s->pnb[b]) + s->fused[s->node[b]];
    if (s->lm && final) score += s->lm_weight * lm_next(s, s->node[b], s->lm->eos_id);
    return score;
}

/* The beam index of the most probable prefix (final: with the LM's end of sentence). */
static int best_beam(const ctc_beam *s, int final, double *score_out) {
    int best = 0;
    double best_score = final_score(s, 0, final);
    for (int b = 1; b < s->n_beams; b++) {
        double score = final_score(s, b, final);
        if (score > best_score) best = b, best_score = score;
    }
    *score_out = best_score;
    return best;
}

void ctc_beam_continue(ctc_beam *s, int final) {
    double score;
    int b = best_beam(s, final, &score), node = s->node[b];
    int last = s->pnb[b] > s->pb[b] ? (node ? s->token[node] : s->root_last) : -1;
    ctc_beam_reset(s);
    if (last < 0) return;
    s->root_last = last;
    s->pb[0] = -INFINITY;
    s->pnb[0] = 0.0;
}

/* Frames a token may be timed at (time_tokens): at most TIMING_CANDIDATES, in frame order */
#define TIMING_CANDIDATES 24
/* A token's frames are looked for up to the entry of the token this many after it (its spike
 * comes before that one's, which comes after its entry) */
#define TIMING_LOOKAHEAD 8

typedef struct {
    int frame, back; /* back: the previous token's candidate on the best timing to here */
    float logp;
    double total;    /* the timing's log-probabilities up to here */
} timing_candidate;

/* Times tokens[0..n) (their frames: their prefixes' entries into the beam, increasing) at their
 * spikes: among the frames from a token's entry on where its label is one of the frame's kept
 * likeliest, and its entry itself, the strictly increasing frames (two apart for a label
 * repeated, which needs a blank between) of largest total log-probability. A backward walk that
 * took each token's best frame had given "aa"'s second a the first's spike. 0, or -1 out of
 * memory (the tokens as they were). */
static int time_tokens(const ctc_beam *s, search_token *tokens, int n) {
    if (n == 0 || s->align_frames == 0) return 0;
    const int end = s->align_first + s->align_frames;
    timing_candidate *cand = malloc((size_t)n * TIMING_CANDIDATES * sizeof *cand);
    int *n_cand = malloc((size_t)n * sizeof *n_cand);
    if (!cand || !n_cand) {
        free(cand), free(n_cand);
        return mslam_error("out of memory timing %d characters", n);
    }
    for (int i = 0; i < n; i++) {
        timing_candidate *c = cand + (size_t)i * TIMING_CANDIDATES;
        int m = 0, entry = tokens[i].frame;
        int from = entry > s->align_first ? entry : s->align_first;
        int to = i + TIMING_LOOKAHEAD < n && tokens[i + TIMING_LOOKAHEAD].frame < end ? tokens[i + TIMING_LOOKAHEAD].frame
                                                                                      : end;
        /* the entry, so that one timing (the entries') always holds */
        c[m++] = (timing_candidate){entry, -1, tokens[i].logp, -INFINITY};
        for (int f = from; f < to; f++) {
            const struct ctc_frame_label *top = s->align + (size_t)(f - s->align_first) * CTC_ALIGN_LABELS;
            int k = 0;
            while (k < CTC_ALIGN_LABELS && top[k].id != tokens[i].id) k++;
            if (k == CTC_ALIGN_LABELS || f == entry) continue;
            /* full: the least likely but the entry makes room, if this one is likelier */
            int slot = m;
            if (m == TIMING_CANDIDATES) {
                slot = 1;
                for (int j = 2; j < m; j++) slot = c[j].logp < c[slot].logp ? j : slot;
                if (!(top[k].logp > c[slot].logp)) continue;
            } else {
                m++;
            }
            c[slot] = (timing_candidate){f, -1, top[k].logp, -INFINITY};
        }
        /* in frame order (insertion: a few dozen) */
        for (int a = 1; a < m; a++)
            for (int b = a; b > 0 && c[b].frame < c[b - 1].frame; b--) {
                timing_candidate x = c[b];
                c[b] = c[b - 1], c[b - 1] = x;
            }
        n_cand[i] = m;
    }
    for (int i = 0; i < n; i++) {
        timing_candidate *c = cand + (size_t)i * TIMING_CANDIDATES, *p = c - TIMING_CANDIDATES;
        int gap = i > 0 && tokens[i].id == tokens[i - 1].id ? 2 : 1, q = 0, best_q = -1;
        double best = -INFINITY;
        for (int j = 0; j < n_cand[i]; j++) {
            if (i == 0) {
                c[j].total = c[j].logp;
                continue;
            }
            /* the best of the previous token's candidates early enough (both in frame order) */
            for (; q < n_cand[i - 1] && p[q].frame <= c[j].frame - gap; q++)
                if (p[q].total > best) best = p[q].total, best_q = q;
            c[j].total = best_q >= 0 ? best + c[j].logp : -INFINITY;
            c[j].back = best_q;
        }
    }
    timing_candidate *last = cand + (size_t)(n - 1) * TIMING_CANDIDATES;
    int at = -1;
    for (int j = 0; j < n_cand[n - 1]; j++)
        if (last[j].total > -INFINITY && (at < 0 || last[j].total > last[at].total)) at = j;
    for (int i = n - 1; at >= 0 && i >= 0; i--) {
        const timing_candidate *c = cand + (size_t)i * TIMING_CANDIDATES + at;
        tokens[i].frame = c->frame;
        tokens[i].logp = c->logp;
        at = c->back;
    }
    free(cand);
    free(n_cand);
    return 0;
}

int ctc_beam_best(const ctc_beam *s, int final, search_result *out) {
    memset(out, 0, sizeof *out);
    double best_score;
    int best = best_beam(s, final, &best_score);
    int node = s->node[best], n = s->depth[node];
    out->tokens = mslam_malloc((size_t)(n ? n : 1) * sizeof *out->tokens, "search result");
    if (!out->tokens) return -1;
    out->n = n;
    for (int i = n - 1; i >= 0; i--, node = s->parent[node])
        out->tokens[i] = (search_token){s->token[node], s->frame[node], s->token_logp[node]};
    if (time_tokens(s, out->tokens, n)) {
        search_result_free(out);
        return -1;
    }
    out->logp = log_add(s->pb[best], s->pnb[best]);
    out->score = best_score;
    return 0;
}

void ctc_beam_free(ctc_beam *s) {
    free(s->parent);
    free(s->token);
    free(s->frame);
    free(s->depth);
    free(s->token_logp);
    free(s->child);
    free(s->node);
    free(s->pb);
    free(s->pnb);
    free(s->cand);
    free(s->cand_slot);
    free(s->labels);
    free(s->mark);
    free(s->fused);
    free(s->align);
    memset(s, 0, sizeof *s);
}

/* ---- decoder beam search ---- */

typedef struct {
    double score; /* hypothesis score after this token: its log-prob, + the LM's part with one */
    double total; /* hypothesis log-prob after this token */
    int beam, token;
    float logp;   /* the token's own log-prob */
} dec_candidate;

/* Inserts c into top (n of cap, best first) when it ranks; ties keep the earlier. */
static void top_insert(dec_candidate *top, int *n, int cap, dec_candidate c) {
    if (!(c.score > -INFINITY) || (*n == cap && !(c.score > top[cap - 1].score))) return;
    int i = *n < cap ? (*n)++ : cap - 1;
    while (i > 0 && c.score > top[i - 1].score) {
        top[i] = top[i - 1];
        i--;
    }
    top[i] = c;
}

/* How a step-t beam came about: from beam `parent` of step t-1 by token. */
typedef struct {
    int parent;
    search_token token;
} backpointer;

typedef struct {
    int step, beam; /* ended at this step from this live beam */
    double logp, score;
} finished_hyp;

/* Whether token c may follow at position pos: the end of sentence always, another token before
 * max_len unless banned. */
static int decoder_may_emit(const decoder_search_params *sp, int c, int eos, int pos) {
    return c == eos || (pos < sp->max_len && !(sp->banned && sp->banned[c]));
}

/* The n tokens of the hypothesis that is beam `beam` after step n - 1, from the backpointers of
 * steps 0..n-1 (K per step). */
static void trace_back(const backpointer *bp, int K, int n, int beam, search_token *out) {
    for (int t = n - 1; t >= 0; t--) {
        const backpointer *e = &bp[(size_t)t * K + beam];
        out[t] = e->token;
        beam = e->parent;
    }
}

/* Sets to -inf in row (V log-probabilities) every token that would complete an N-gram the
 * hypothesis h (pos tokens) already holds: for each earlier occurrence of its last N-1 tokens,
 * the token that followed it. */
static void ban_repeated_ngrams(float *row, const search_token *h, int pos, int N) {
    const search_token *tail = h + pos - (N - 1);
    for (int j = 0; j + N - 1 < pos; j++) {
        int i = 0;
        while (i < N - 1 && h[j + i].id == tail[i].id) i++;
        if (i == N - 1) row[h[j + N - 1].id] = -INFINITY;
    }
}

int decoder_search_check(int beam_size, int max_len, float length_penalty, int no_repeat_ngram, const char *who) {
    if (beam_size < 1 || beam_size > DECODER_MAX_BEAM)
        return mslam_error("%s: beam_size = %d is outside 1..%d (the decoder's beam size)", who, beam_size,
                           DECODER_MAX_BEAM);
    if (max_len < 0 || max_len > DECODER_MAX_LEN)
        return mslam_error("%s: max_len = %d is outside 0..%d", who, max_len, DECODER_MAX_LEN);
    if (!(length_penalty >= 0.0f && length_penalty <= 10.0f))
        return mslam_error("%s: length_penalty = %g is outside 0..10", who, (double)length_penalty);
    if (no_repeat_ngram < 0 || no_repeat_ngram > DECODER_MAX_LEN)
        return mslam_error("%s: no_repeat_ngram = %d is outside 0..%d (0: off)", who, no_repeat_ngram,
                           DECODER_MAX_LEN);
    return 0;
}

int decoder_beam_search(decoder_cache *cache, const struct mslam_model_config *cfg, const mslam_params *P,
                        int bos, int eos, const float *enc, int T, const decoder_search_params *sp,
                        search_result *out) {
    memset(out, 0, sizeof *out);
    const int K = sp->beam_size, V = cfg->vocab_size, max_len = sp->max_len, N = sp->no_repeat_ngram;
    if (decoder_search_check(K, max_len, sp->length_penalty, N, "decoder search")) return -1;
    const lm_table *lm = sp->lm_weight > 0 ? sp->lm : NULL;
    if (sp->lm && !(isfinite(sp->lm_weight) && sp->lm_weight >= 0))
        return mslam_error("decoder search: LM weight %g is not a finite number >= 0", (double)sp->lm_weight);
    if (decoder_cache_begin(cache, cfg, P, enc, T, K)) return -1;

    float *logits = mslam_malloc((size_t)K * V * sizeof(float), "decoder search");
    float *logp = mslam_malloc((size_t)K * V * sizeof(float), "decoder search");
    dec_candidate *top = mslam_malloc((size_t)2 * K * sizeof *top, "decoder search");
    backpointer *bp = mslam_malloc(((size_t)max_len + 1) * K * sizeof *bp, "decoder search");
    finished_hyp *fin = mslam_malloc((size_t)2 * K * sizeof *fin, "decoder search");
    /* a live hypothesis's tokens, for no_repeat_ngram and the LM's context */
    search_token *hist = N > 0 || lm ? mslam_malloc(((size_t)max_len + 1) * sizeof *hist, "decoder search") : NULL;
    int *tokens = mslam_malloc((size_t)K * sizeof(int), "decoder search");
    int *parents = mslam_malloc((size_t)K * sizeof(int), "decoder search");
    double *scores = mslam_malloc((size_t)K * sizeof(double), "decoder search");
    double *totals = mslam_malloc((size_t)K * sizeof(double), "decoder search");
    int ctx[LM_MAX_ORDER];
    int rc = -1, n_live = 1, n_fin = 0;
    if (!logits || !logp || !top || !bp || !fin || !tokens || !parents || !scores || !totals || ((N > 0 || lm) && !hist))
        goto done;
    tokens[0] = bos;
    scores[0] = totals[0] = 0.0;
    for (int pos = 0;; pos++) {
        if (mslam_abort_now(sp->abort)) goto done;
        if (decoder_cache_step(cache, cfg, P, tokens, n_live, pos, logits)) goto done;
        log_softmax_forward(logp, logits, n_live, V);
        int n_top = 0;
        for (int b = 0; b < n_live; b++) {
            float *row = logp + (size_t)b * V;
            if ((N > 0 && pos >= N - 1) || lm) trace_back(bp, K, pos, b, hist);
            if (N > 0 && pos >= N - 1) ban_repeated_ngrams(row, hist, pos, N);
            float row_max = -INFINITY;
            int n_ctx = 0;
            if (lm) {
                for (int c = 0; c < V; c++)
                    if (row[c] > row_max && decoder_may_emit(sp, c, eos, pos)) row_max = row[c];
                /* "<s>" and the last order - 1 tokens, of which the LM reads the last order - 1 */
                int from = pos - (lm->order - 1) > 0 ? pos - (lm->order - 1) : 0;
                if (from == 0) ctx[n_ctx++] = bos;
                for (int i = from; i < pos; i++) ctx[n_ctx++] = hist[i].id;
            }
            for (int c = 0; c < V; c++) {
                if (!decoder_may_emit(sp, c, eos, pos)) continue;
                double fused = row[c];
                if (lm) {
                    if (!(row[c] >= row_max - DECODER_LM_WINDOW)) continue;
                    fused += sp->lm_weight * lm_token_logp(lm, ctx, n_ctx, c);
                }
                top_insert(top, &n_top, 2 * K, (dec_candidate){scores[b] + fused, totals[b] + row[c], b, c, row[c]});
            }
        }
        /* at most one end-of-sentence per live beam is among the 2K: K or more continue */
        int n_next = 0;
        for (int r = 0; r < n_top; r++) {
            const dec_candidate *c = &top[r];
            if (c->token == eos) {
                if (r < K) fin[n_fin++] = (finished_hyp){pos, c->beam, c->total, c->score / pow(pos + 1.0, sp->length_penalty)};
            } else if (n_next < K) {
                bp[(size_t)pos * K + n_next] = (backpointer){c->beam, {c->token, -1, c->logp}};
                parents[n_next] = c->beam;
                tokens[n_next] = c->token;
                scores[n_next] = c->score;
                totals[n_next] = c->total;
                n_next++;
            }
        }
        if (n_fin >= K || n_next == 0) break;
        decoder_cache_reorder(cache, cfg, parents, n_next, pos + 1);
        n_live = n_next;
    }
    if (n_fin == 0) {
        mslam_error("decoder search: no hypothesis has a finite score (non-finite model output?)");
        goto done;
    }
    const finished_hyp *best = &fin[0];
    for (int i = 1; i < n_fin; i++)
        if (fin[i].score > best->score) best = &fin[i];
    out->n = best->step;
    out->tokens = mslam_malloc((size_t)(out->n ? out->n : 1) * sizeof *out->tokens, "search result");
    if (!out->tokens) goto done;
    trace_back(bp, K, out->n, best->beam, out->tokens);
    out->logp = best->logp;
    out->score = best->score;
    rc = 0;
done:
    free(hist);
    free(logits);
    free(logp);
    free(top);
    free(bp);
    free(fin);
    free(tokens);
    free(parents);
    free(scores);
    free(totals);
    return rc;
}
