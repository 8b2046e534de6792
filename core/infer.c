/* Public inference API (mslam.h): recognition with the CTC head (offline and incremental),
 * translation with the decoder, language identification with the LID head, and results. */
#include "common.h"
#include "decoder.h"
#include "frontend.h"
#include "heads.h"
#include "lm.h"
#include "model.h"
#include "search.h"
#include "tm.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct mslam_decode_params mslam_decode_default_params(void) {
    return (struct mslam_decode_params){
        .beam_size = 4,
        .max_len = 0,
        .length_penalty = 1.0f,
        .no_repeat_ngram = 8, /* chosen on the translation corpus's dev split (README, stage 3) */
        .token_min_logp = -12.0f, /* p < 6e-6 at a frame: never on the best path in practice */
        .languages = NULL,
        .lm = NULL,
        .lm_weight = 0.8f,
        .lm_bonus = 2.5f,
        .lid_lm_weight = 0.1f,
        .translation_lm_weight = 0.2f,
        .translation_memory = NULL,
        .tm_min_similarity = 0.5f, /* chosen on the default corpus's dev split (README) */
        .chunk_frames = 0,
        .left_chunks = -1,
        .n_threads = 0,
    };
}

/* A reserved vocabulary entry ("<blank>", "</s>", ...) is not text; a character is one code
 * point (the loader allows nothing else), so a longer entry starting with '<' is reserved. */
static int is_reserved(const mslam_model *m, int id) { return m->vocab[id][0] == '<' && m->vocab[id][1]; }

/* ---- results ---- */

struct mslam_result {
    char *text;
    char *token_text; /* the tokens' texts, each NUL-terminated, at token_off[i] */
    int *token_off, *ids, *frames;
    float *probs;
    int n_tokens;
    float confidence;
    int start_frame, end_frame;
    /* words: tokens [word_first[w], word_end[w]), texts NUL-terminated at word_off[w] in
     * word_text, geometric mean probabilities word_probs[w] */
    char *word_text;
    int *word_off, *word_first, *word_end;
    float *word_probs;
    int n_words;
};

/* The text of a search's tokens (reserved ones left out) over frames [start, end). */
static mslam_result *result_new(const mslam_model *m, const search_token *tokens, int n, int start, int end) {
    mslam_result *r = mslam_calloc(1, sizeof *r, "a result");
    if (!r) return NULL;
    size_t bytes = 1;
    for (int i = 0; i < n; i++) bytes += strlen(m->vocab[tokens[i].id]) + 1;
    r->text = mslam_malloc(bytes, "a result");
    r->token_text = mslam_malloc(bytes, "a result");
    r->token_off = mslam_malloc((size_t)(n ? n : 1) * sizeof(int), "a result");
    r->ids = mslam_malloc((size_t)(n ? n : 1) * sizeof(int), "a result");
    r->frames = mslam_malloc((size_t)(n ? n : 1) * sizeof(int), "a result");
    r->probs = mslam_malloc((size_t)(n ? n : 1) * sizeof(float), "a result");
    /* at most a word per token, and their texts with a NUL each */
    r->word_text = mslam_malloc(bytes, "a result");
    r->word_off = mslam_malloc((size_t)(n ? n : 1) * sizeof(int), "a result");
    r->word_first = mslam_malloc((size_t)(n ? n : 1) * sizeof(int), "a result");
    r->word_end = mslam_malloc((size_t)(n ? n : 1) * sizeof(int), "a result");
    r->word_probs = mslam_malloc((size_t)(n ? n : 1) * sizeof(float), "a result");
    if (!r->text || !r->token_text || !r->token_off || !r->ids || !r->frames || !r->probs || !r->word_text ||
        !r->word_off || !r->word_first || !r->word_end || !r->word_probs) {
        mslam_result_free(r);
        return NULL;
    }
    size_t len = 0, off = 0, word_len = 0;
    double sum_logp = 0;
    for (int i = 0; i < n; i++) {
        if (is_reserved(m, tokens[i].id)) continue;
        const char *s = m->vocab[tokens[i].id];
        size_t k = strlen(s);
        memcpy(r->text + len, s, k);
        len += k;
        memcpy(r->token_text + off, s, k + 1);
        r->token_off[r->n_tokens] = (int)off;
        off += k + 1;
        r->ids[r->n_tokens] = tokens[i].id;
        r->frames[r->n_tokens] = tokens[i].frame;
        /* log-probabilities a caller pushed may lie a rounding above 0: probabilities stay <= 1 */
        const float logp = tokens[i].logp < 0 ? tokens[i].logp : 0;
        r->probs[r->n_tokens] = expf(logp);
        sum_logp += logp;
        /* a space ends the word being read; another token starts one or goes on with it */
        int w = r->n_words - 1, in_word = w >= 0 && r->word_end[w] == r->n_tokens;
        if (strcmp(s, " ")) {
            if (!in_word) {
                w = r->n_words++;
                r->word_first[w] = r->n_tokens;
                r->word_off[w] = (int)word_len;
                r->word_probs[w] = 0; /* the sum of its log-probabilities until the end */
            }
            memcpy(r->word_text + word_len, s, k);
            word_len += k;
            r->word_text[word_len] = '\0';
            r->word_probs[w] += logp;
            r->word_end[w] = r->n_tokens + 1;
        } else if (in_word) {
            word_len++; /* past the word's NUL */
        }
        r->n_tokens++;
    }
    r->text[len] = '\0';
    r->confidence = r->n_tokens ? (float)exp(sum_logp / r->n_tokens) : 0.0f;
    for (int w = 0; w < r->n_words; w++)
        r->word_probs[w] = expf(r->word_probs[w] / (float)(r->word_end[w] - r->word_first[w]));
    r->start_frame = start;
    r->end_frame = end;
    return r;
}

mslam_result *mslam_result_from_frame(const mslam_model *model, const mslam_result *r, int frame) {
    if (!model || !r) {
        mslam_error("mslam_result_from_frame: %s is NULL", model ? "the result" : "the model");
        return NULL;
    }
    /* (its end too: an empty part, as of an empty segment's [end, end)) */
    if (frame < r->start_frame || frame > r->end_frame) {
        mslam_error("mslam_result_from_frame: frame %d is outside the result's frames [%d, %d]", frame, r->start_frame,
                    r->end_frame);
        return NULL;
    }
    for (int i = 0; i < r->n_tokens; i++)
        if (r->frames[i] < 0) {
            mslam_error("mslam_result_from_frame: a translation's characters have no frames");
            return NULL;
        }
    search_token *kept = mslam_malloc((size_t)(r->n_tokens ? r->n_tokens : 1) * sizeof *kept, "a result's part");
    if (!kept) return NULL;
    int n = 0;
    for (int i = 0; i < r->n_tokens; i++)
        if (r->frames[i] >= frame)
            kept[n++] = (search_token){r->ids[i], r->frames[i] - frame, logf(r->probs[i])};
    mslam_result *part = result_new(model, kept, n, 0, r->end_frame - frame);
    free(kept);
    return part;
}

const char *mslam_result_text(const mslam_result *r) { return r ? r->text : ""; }
float mslam_result_confidence(const mslam_result *r) { return r ? r->confidence : 0.0f; }
int mslam_result_n_tokens(const mslam_result *r) { return r ? r->n_tokens : 0; }
int mslam_result_start_frame(const mslam_result *r) { return r ? r->start_frame : 0; }
int mslam_result_end_frame(const mslam_result *r) { return r ? r->end_frame : 0; }

static int in_range(const mslam_result *r, int i) { return r && i >= 0 && i < r->n_tokens; }
int mslam_result_token_id(const mslam_result *r, int i) { return in_range(r, i) ? r->ids[i] : -1; }
const char *mslam_result_token_text(const mslam_result *r, int i) {
    return in_range(r, i) ? r->token_text + r->token_off[i] : NULL;
}
int mslam_result_token_frame(const mslam_result *r, int i) { return in_range(r, i) ? r->frames[i] : -1; }
float mslam_result_token_prob(const mslam_result *r, int i) { return in_range(r, i) ? r->probs[i] : 0.0f; }

int mslam_result_n_words(const mslam_result *r) { return r ? r->n_words : 0; }
static int word_in_range(const mslam_result *r, int w) { return r && w >= 0 && w < r->n_words; }
const char *mslam_result_word_text(const mslam_result *r, int w) {
    return word_in_range(r, w) ? r->word_text + r->word_off[w] : NULL;
}
int mslam_result_word_start_frame(const mslam_result *r, int w) {
    return word_in_range(r, w) ? r->frames[r->word_first[w]] : -1;
}
int mslam_result_word_end_frame(const mslam_result *r, int w) {
    int last = word_in_range(r, w) ? r->frames[r->word_end[w] - 1] : -1;
    return last < 0 ? -1 : last + 1;
}
float mslam_result_word_prob(const mslam_result *r, int w) { return word_in_range(r, w) ? r->word_probs[w] : 0.0f; }

void mslam_result_free(mslam_result *r) {
    if (!r) return;
    free(r->text);
    free(r->token_text);
    free(r->token_off);
    free(r->ids);
    free(r->frames);
    free(r->probs);
    free(r->word_text);
    free(r->word_off);
    free(r->word_first);
    free(r->word_end);
    free(r->word_probs);
    free(r);
}

/* ---- checks shared by the entry points ---- */

static int check_model(const mslam_model *m, const char *fn, int need_ctc, int need_lid, int need_dec) {
    if (!m) return mslam_error("%s: model is NULL", fn);
    const char *path = m->path ? m->path : "(in memory)";
    if (need_ctc && !m->cfg.ctc_head)
        return mslam_error("%s: model '%s' has no CTC head (it cannot transcribe)", fn, path);
    if (need_lid && !m->cfg.lid_head)
        return mslam_error("%s: model '%s' has no LID head (it cannot identify languages)", fn, path);
    if (need_dec && m->cfg.n_decoder_layers <= 0)
        return mslam_error("%s: model '%s' has no decoder (it cannot translate)", fn, path);
    return 0;
}

static int check_frames(const float *frames, int n_frames, const char *fn) {
    if (n_frames < 0) return mslam_error("%s: n_frames = %d is negative", fn, n_frames);
    if (!frames && n_frames) return mslam_error("%s: frames is NULL", fn);
    return 0;
}

/* check_frames for encoder frames (n_frames x d_model), which must also hold finite numbers: a
 * NaN or an infinity would spread through a head to every score and come back as a result (a
 * language, a text) instead of an error. */
static int check_encoder_frames(const mslam_model *m, const float *frames, int n_frames, const char *fn) {
    if (check_frames(frames, n_frames, fn)) return -1;
    const size_t d = (size_t)m->cfg.d_model;
    for (size_t i = 0; i < (size_t)n_frames * d; i++)
        if (!isfinite(frames[i]))
            return mslam_error("%s: frame %zu, value %zu: %g is not a finite number", fn, i / d, i % d,
                               (double)frames[i]);
    return 0;
}

/* The encoder's part of decode params: attention, threads, the abort callback. */
static struct mslam_encode_params encode_params_of(const struct mslam_decode_params *p) {
    return (struct mslam_encode_params){p->chunk_frames, p->left_chunks, p->n_threads, p->abort_callback,
                                        p->abort_callback_user_data};
}

/* PCM -> encoder frames for the entry points that take audio (fn: the caller, for messages). */
static float *encode(mslam_model *m, const float *pcm, size_t n, const struct mslam_decode_params *p,
                     int *n_frames, const char *fn) {
    struct mslam_encode_params ep = encode_params_of(p);
    return mslam_encode_pcm_as(m, pcm, n, &ep, n_frames, fn);
}

/* ---- language models ---- */

static int parse_languages(const mslam_model *m, const char *list, unsigned char *allowed, const char *fn);

/* The index of the one language that list names; -2 when it names none or several; -1 on an
 * error (an unknown code, recorded). */
static int named_language(const mslam_model *m, const char *list, const char *fn) {
    if (!list || !*list) return -2;
    unsigned char *allowed = mslam_malloc((size_t)m->cfg.n_langs, "a language list");
    int found = allowed && parse_languages(m, list, allowed, fn) == 0 ? -2 : -1;
    for (int i = 0; found != -1 && i < m->cfg.n_langs; i++)
        if (allowed[i]) found = found == -2 ? i : -3;
    free(allowed);
    return found == -3 ? -2 : found;
}

int lm_check_weights(const struct mslam_decode_params *p, const char *fn) {
    if (!isfinite(p->lm_weight) || p->lm_weight < 0 || !isfinite(p->lm_bonus) || !isfinite(p->lid_lm_weight) ||
        p->lid_lm_weight < 0 || !isfinite(p->translation_lm_weight) || p->translation_lm_weight < 0)
        return mslam_error("%s: LM weights must be finite and not negative (lm_weight %g, lm_bonus %g, "
                           "lid_lm_weight %g, translation_lm_weight %g; the bonus may be negative)",
                           fn, (double)p->lm_weight, (double)p->lm_bonus, (double)p->lid_lm_weight,
                           (double)p->translation_lm_weight);
    return 0;
}

/* The LM language a CTC beam search fuses (params->languages names it), or -1. */
static int lm_language(const mslam_model *m, const struct mslam_decode_params *p, const char *fn) {
    if (lm_check_model(p->lm, m, 0, fn) || lm_check_weights(p, fn)) return -1;
    if (p->beam_size < 2) return mslam_error("%s: an LM works in the beam search: beam_size must be at least 2", fn);
    int named = named_language(m, p->languages, fn);
    char quoted[MSLAM_QUOTE_SIZE];
    if (named == -2)
        return p->languages ? mslam_error("%s: with an LM, languages must name the one language spoken (it is \"%s\")",
                                          fn, mslam_quote(quoted, p->languages, MSLAM_UTF8_NUL_TERMINATED))
                            : mslam_error("%s: with an LM, languages must name the one language spoken (it is NULL)", fn);
    if (named < 0) return -1;
    int lang = mslam_lm_lang_index(p->lm, m->langs[named]);
    if (lang < 0) return mslam_error("%s: LM '%s' has no model of language '%s'", fn, lm_name(p->lm), m->langs[named]);
    return lang;
}

/* ---- CTC ---- */

int mslam_ctc_log_probs(mslam_model *model, const float *frames, int n_frames, float *log_probs) {
    if (check_model(model, "mslam_ctc_log_probs", 1, 0, 0) ||
        check_encoder_frames(model, frames, n_frames, "mslam_ctc_log_probs"))
        return -1;
    if (!log_probs && n_frames) return mslam_error("mslam_ctc_log_probs: log_probs is NULL");
    if (n_frames == 0) return 0;
    float *logits = mslam_malloc((size_t)n_frames * model->cfg.vocab_size * sizeof(float), "CTC logits");
    if (!logits) return -1;
    mslam_model_use_threads(model, 0);
    ctc_head_log_probs(log_probs, logits, frames, n_frames, &model->cfg, &model->p);
    free(logits);
    return 0;
}

struct mslam_ctc_decoder {
    mslam_model *model;
    struct mslam_decode_params params;
    int n_frames;        /* fed since creation or reset */
    int seg_start;       /* first frame of the open segment */
    int trailing_blanks;
    float blank_prob;
    /* greedy (beam_size 1): the segment's tokens so far and the last frame's label */
    search_token *tokens;
    int n_tokens, tokens_cap, prev;
    /* prefix beam search (beam_size > 1) */
    ctc_beam beam;
    /* push_frames: log-probs of up to CHUNK frames at a time */
    float *logits, *log_probs;
};

#define CTC_DECODER_CHUNK 64

/* mslam_ctc_decoder_new, whose errors name fn: the API function the caller called. */
static mslam_ctc_decoder *ctc_decoder_new(mslam_model *model, const struct mslam_decode_params *params,
                                          const char *fn) {
    if (check_model(model, fn, 1, 0, 0)) return NULL;
    struct mslam_decode_params p = params ? *params : mslam_decode_default_params();
    if (p.beam_size < 1 || p.beam_size > CTC_MAX_BEAM) {
        mslam_error("%s: beam_size = %d is outside 1..%d", fn, p.beam_size, CTC_MAX_BEAM);
        return NULL;
    }
    /* at 0 or above no character passes (none has a probability of 1), and every transcript of
     * the beam search is empty */
    if (!(p.token_min_logp < 0)) {
        mslam_error("%s: token_min_logp = %g lets no character through: a log-probability below 0 (-INFINITY: "
                    "exact search)", fn, (double)p.token_min_logp);
        return NULL;
    }
    int lm_lang = -1;
    if (p.lm && p.lm_weight == 0) { /* the LM takes no part in the search (nor its bonus) */
        if (lm_check_model(p.lm, model, 0, fn) || lm_check_weights(&p, fn)) return NULL;
        p.lm = NULL;
    }
    if (p.lm && (lm_lang = lm_language(model, &p, fn)) < 0) return NULL;
    /* unused without an LM, but a code the model lacks is a mistake to name, not to ignore */
    if (!p.lm && named_language(model, p.languages, fn) == -1) return NULL;
    mslam_ctc_decoder *dec = mslam_calloc(1, sizeof *dec, "a CTC decoder");
    if (!dec) return NULL;
    dec->model = model;
    dec->params = p;
    dec->params.languages = NULL; /* not used, and the caller's string may not outlive us */
    size_t chunk = (size_t)CTC_DECODER_CHUNK * model->cfg.vocab_size;
    dec->logits = mslam_malloc(chunk * sizeof(float), "a CTC decoder");
    dec->log_probs = mslam_malloc(chunk * sizeof(float), "a CTC decoder");
    if (!dec->logits || !dec->log_probs ||
        (p.beam_size > 1 && ctc_beam_init(&dec->beam, p.beam_size, model->cfg.vocab_size, p.token_min_logp))) {
        mslam_ctc_decoder_free(dec);
        return NULL;
    }
    if (p.lm) ctc_beam_set_lm(&dec->beam, p.lm, lm_lang, p.lm_weight, p.lm_bonus);
    mslam_ctc_decoder_reset(dec);
    return dec;
}

mslam_ctc_decoder *mslam_ctc_decoder_new(mslam_model *model, const struct mslam_decode_params *params) {
    return ctc_decoder_new(model, params, "mslam_ctc_decoder_new");
}

void mslam_ctc_decoder_free(mslam_ctc_decoder *dec) {
    if (!dec) return;
    ctc_beam_free(&dec->beam);
    free(dec->tokens);
    free(dec->logits);
    free(dec->log_probs);
    free(dec);
}

/* An empty segment from the next frame on; continuing: it follows the one just finished at once,
 * so that a label the last frames were in goes on there rather than counting again. */
static void open_segment(mslam_ctc_decoder *dec, int continuing) {
    dec->seg_start = dec->n_frames;
    dec->trailing_blanks = 0;
    dec->n_tokens = 0;
    if (!continuing) dec->prev = CTC_BLANK; /* greedy: the last frame's label, kept when continuing */
    if (dec->params.beam_size > 1 && continuing) ctc_beam_continue(&dec->beam, 1);
    else if (dec->params.beam_size > 1) ctc_beam_reset(&dec->beam);
}

void mslam_ctc_decoder_reset(mslam_ctc_decoder *dec) {
    if (!dec) return;
    dec->n_frames = 0;
    dec->blank_prob = 1.0f;
    open_segment(dec, 0);
}

/* Decodes n_frames rows of log-probabilities (vocab_size each), checked or the CTC head's own. */
static int decoder_take_log_probs(mslam_ctc_decoder *dec, const float *log_probs, int n_frames) {
    const int V = dec->model->cfg.vocab_size, beam = dec->params.beam_size > 1;
    if (!beam) {
        if (dec->n_tokens + n_frames > dec->tokens_cap) {
            int cap = dec->tokens_cap ? dec->tokens_cap : 64;
            while (cap < dec->n_tokens + n_frames) cap *= 2;
            search_token *t = realloc(dec->tokens, (size_t)cap * sizeof *t);
            if (!t) return mslam_error("out of memory holding %d recognised characters", cap);
            dec->tokens = t;
            dec->tokens_cap = cap;
        }
        dec->n_tokens += ctc_greedy(log_probs, n_frames, V, dec->n_frames, &dec->prev, dec->tokens + dec->n_tokens);
    }
    for (int t = 0; t < n_frames; t++) {
        const float *row = log_probs + (size_t)t * V;
        /* a frame at a time: when the beam fails (out of memory), the frames it took stay
         * counted, and the times of what follows stay right */
        if (beam && ctc_beam_step(&dec->beam, row, 1, dec->n_frames)) return -1;
        int best = 0;
        for (int c = 1; c < V; c++) best = row[c] > row[best] ? c : best;
        dec->trailing_blanks = best == CTC_BLANK ? dec->trailing_blanks + 1 : 0;
        dec->blank_prob = expf(row[CTC_BLANK]);
        dec->n_frames++;
    }
    return 0;
}

int mslam_ctc_decoder_push_log_probs(mslam_ctc_decoder *dec, const float *log_probs, int n_frames) {
    if (!dec) return mslam_error("mslam_ctc_decoder_push_log_probs: decoder is NULL");
    if (check_frames(log_probs, n_frames, "mslam_ctc_decoder_push_log_probs")) return -1;
    const int V = dec->model->cfg.vocab_size;
    /* -inf is a probability of 0; NaN, or above 0 by more than a half-precision log-softmax's
     * rounding, is not a log-probability */
    for (size_t i = 0; i < (size_t)n_frames * V; i++)
        if (!(log_probs[i] <= 1e-2f))
            return mslam_error("mslam_ctc_decoder_push_log_probs: frame %zu, token %zu: %g is not a log-probability",
                               i / V, i % V, (double)log_probs[i]);
    return decoder_take_log_probs(dec, log_probs, n_frames);
}

int mslam_ctc_decoder_push_frames(mslam_ctc_decoder *dec, const float *frames, int n_frames) {
    if (!dec) return mslam_error("mslam_ctc_decoder_push_frames: decoder is NULL");
    const struct mslam_model_config *cfg = &dec->model->cfg;
    if (check_encoder_frames(dec->model, frames, n_frames, "mslam_ctc_decoder_push_frames")) return -1;
    mslam_model_use_threads(dec->model, dec->params.n_threads);
    for (int t = 0; t < n_frames; t += CTC_DECODER_CHUNK) {
        int n = n_frames - t < CTC_DECODER_CHUNK ? n_frames - t : CTC_DECODER_CHUNK;
        ctc_head_log_probs(dec->log_probs, dec->logits, frames + (size_t)t * cfg->d_model, n, cfg, &dec->model->p);
        if (decoder_take_log_probs(dec, dec->log_probs, n)) return -1;
    }
    return 0;
}

/* The open segment's best text; final: the segment ends here (an LM scores its end). */
static mslam_result *segment_result(mslam_ctc_decoder *dec, int final, const char *fn) {
    if (!dec) {
        mslam_error("%s: decoder is NULL", fn);
        return NULL;
    }
    if (dec->params.beam_size == 1)
        return result_new(dec->model, dec->tokens, dec->n_tokens, dec->seg_start, dec->n_frames);
    search_result best;
    if (ctc_beam_best(&dec->beam, final, &best)) return NULL;
    mslam_result *r = result_new(dec->model, best.tokens, best.n, dec->seg_start, dec->n_frames);
    search_result_free(&best);
    return r;
}

mslam_result *mslam_ctc_decoder_partial(mslam_ctc_decoder *dec) {
    return segment_result(dec, 0, "mslam_ctc_decoder_partial");
}

mslam_result *mslam_ctc_decoder_finish(mslam_ctc_decoder *dec) {
    mslam_result *r = segment_result(dec, 1, "mslam_ctc_decoder_finish");
    if (r) open_segment(dec, 1);
    return r;
}

int mslam_ctc_decoder_trailing_blanks(const mslam_ctc_decoder *dec) { return dec ? dec->trailing_blanks : 0; }
float mslam_ctc_decoder_blank_prob(const mslam_ctc_decoder *dec) { return dec ? dec->blank_prob : 1.0f; }
int mslam_ctc_decoder_n_frames(const mslam_ctc_decoder *dec) { return dec ? dec->n_frames : 0; }

/* Whether p's LM takes part in a CTC search: one given, weighted, and a beam to search in. */
static int lm_in_search(const struct mslam_decode_params *p) {
    return p->lm && p->lm_weight != 0 && p->beam_size >= 2;
}

/* The language spoken on encoder frames: the one params->languages names, else the one language
 * ID finds (with a LID head and frames; among the LM's languages when an LM takes part in the
 * search, a beam's, as it is chosen in that language; log_probs as lm_add_lid_scores). Its
 * index, -2 when neither is known, -1 on failure. */
static int language_of_frames(mslam_model *model, const struct mslam_decode_params *p, const float *frames,
                              int n_frames, const float *log_probs, const char *fn) {
    int named = named_language(model, p->languages, fn);
    if (named != -2 || !model->cfg.lid_head || n_frames == 0) return named;
    float *probs = mslam_malloc((size_t)model->cfg.n_langs * sizeof(float), "language identification");
    int lid = probs ? identify_language_frames(model, p, frames, n_frames, log_probs, probs, lm_in_search(p), fn) : -1;
    free(probs);
    return lid;
}

/* mslam_transcribe on encoder frames (n_frames x d_model). lang not NULL asks for the language
 * spoken: the one params->languages names, else the one language ID finds (as for the LM, which
 * is chosen in it), or NULL when neither is known (no LID head, no frames). Errors name fn. */
static mslam_result *transcribe_frames(mslam_model *model, const float *frames, int n_frames,
                                       const struct mslam_decode_params *params, const char **lang, const char *fn) {
    struct mslam_decode_params p = *params;
    float *log_probs = NULL;
    mslam_result *r = NULL;
    mslam_ctc_decoder *dec = NULL;
    if (lang) *lang = NULL;
    if (n_frames == 0) p.lm = NULL; /* nothing to search: an empty result, as without an LM */
    if (p.lm) { /* log-probabilities once, for language ID and the search */
        size_t n = (size_t)n_frames * model->cfg.vocab_size;
        log_probs = mslam_malloc(n * sizeof(float), "CTC log-probabilities");
        float *logits = mslam_malloc(n * sizeof(float), "CTC logits");
        int ok = log_probs && logits;
        if (ok) {
            mslam_model_use_threads(model, p.n_threads);
            ctc_head_log_probs(log_probs, logits, frames, n_frames, &model->cfg, &model->p);
        }
        free(logits);
        if (!ok) goto done;
    }
    /* an LM in the language that language ID finds, when the caller names none (among the LM's) */
    int spoken = p.lm || lang ? language_of_frames(model, &p, frames, n_frames, log_probs, fn) : -2;
    if (spoken == -1) goto done;
    if (spoken >= 0 && lm_in_search(&p)) p.languages = model->langs[spoken];
    if (spoken >= 0 && lang) *lang = model->langs[spoken];
    dec = ctc_decoder_new(model, &p, fn);
    if (dec && (log_probs ? mslam_ctc_decoder_push_log_probs(dec, log_probs, n_frames)
                          : mslam_ctc_decoder_push_frames(dec, frames, n_frames)) == 0)
        r = mslam_ctc_decoder_finish(dec);
done:
    free(log_probs);
    mslam_ctc_decoder_free(dec);
    return r;
}

/* 0 when p's LM (if any) is one of the model's transcripts and its languages are the model's,
 * else -1 (fn: the caller): checked before any audio is encoded, not after. */
static int check_transcribe_params(const mslam_model *m, const struct mslam_decode_params *p, const char *fn) {
    if (p->lm && lm_check_model(p->lm, m, 0, fn)) return -1;
    return named_language(m, p->languages, fn) == -1 ? -1 : 0;
}

mslam_result *mslam_transcribe(mslam_model *model, const float *pcm, size_t n_samples,
                               const struct mslam_decode_params *params) {
    if (check_model(model, "mslam_transcribe", 1, 0, 0)) return NULL;
    struct mslam_decode_params p = params ? *params : mslam_decode_default_params();
    if (check_transcribe_params(model, &p, "mslam_transcribe")) return NULL;
    int n_frames = 0;
    float *frames = encode(model, pcm, n_samples, &p, &n_frames, "mslam_transcribe");
    mslam_result *r = frames ? transcribe_frames(model, frames, n_frames, &p, NULL, "mslam_transcribe") : NULL;
    free(frames);
    return r;
}

mslam_result *mslam_transcribe_frames(mslam_model *model, const float *frames, int n_frames,
                                      const struct mslam_decode_params *params) {
    if (check_model(model, "mslam_transcribe_frames", 1, 0, 0) ||
        check_encoder_frames(model, frames, n_frames, "mslam_transcribe_frames"))
        return NULL;
    struct mslam_decode_params p = params ? *params : mslam_decode_default_params();
    if (check_transcribe_params(model, &p, "mslam_transcribe_frames")) return NULL;
    return transcribe_frames(model, frames, n_frames, &p, NULL, "mslam_transcribe_frames");
}

/* ---- translation ---- */

/* 0 when p's languages are the model's, its beam size one the decoder's search takes (searches:
 * the caller may run it), its translation LM (if any) one that search can fuse and its memory's
 * minimum similarity in [0, 1], else -1 (fn: the caller). */
static int check_translation_params(const mslam_model *m, const struct mslam_decode_params *p, int searches,
                                    const char *fn) {
    if (named_language(m, p->languages, fn) == -1) return -1;
    /* before any search (the transcript's, the memory's), whatever the audio turns out to need */
    /* the decoder search's limits, named for the caller (max_len <= 0: the default) */
    if (searches && decoder_search_check(p->beam_size, p->max_len > 0 ? p->max_len : 0, p->length_penalty,
                                         p->no_repeat_ngram, fn))
        return -1;
    if (p->translation_lm && (lm_check_model(p->translation_lm, m, 1, fn) || lm_check_weights(p, fn))) return -1;
    if (p->translation_memory && !(p->tm_min_similarity >= 0 && p->tm_min_similarity <= 1))
        return mslam_error("%s: tm_min_similarity must be in [0, 1] (it is %g)", fn, (double)p->tm_min_similarity);
    return 0;
}

/* The translations below come in two layers: the public functions check their arguments and
 * parameters once, and call these, which take them as checked (mslam_translate and
 * mslam_translate_text call several). */

/* mslam_translate_memory on checked arguments; errors name fn, the function called. */
static int translate_memory(mslam_model *model, const char *utf8, const struct mslam_decode_params *p,
                            mslam_result **out, const char *fn) {
    *out = NULL;
    if (!p->translation_memory) return 0;
    int named = named_language(model, p->languages, fn);
    if (named == -1) return -1;
    search_result known;
    int used = tm_translate(model, p->translation_memory, named >= 0 ? model->langs[named] : NULL,
                            p->tm_min_similarity, utf8, &known, fn);
    if (used != 1) return used;
    /* the lookup accepted utf8 as UTF-8 */
    *out = result_new(model, known.tokens, known.n, 0, (int)mslam_utf8_length(utf8));
    search_result_free(&known);
    return *out ? 1 : -1;
}

/* English is its own translation. A decoder learns X -> English from pairs of other languages
 * (English has no translation to pair), and on English writes something else entirely: so what
 * is written in English comes back as it is (each character certain; a character outside the
 * vocabulary is an error naming it, as the decoder's path gives), and a transcript of English
 * speech is taken as the translation (english_said). */
static mslam_result *english_as_translation(const mslam_model *m, const char *utf8, const char *fn) {
    int n = 0, *ids = mslam_model_text_ids(m, utf8, &n, fn);
    search_token *tokens = ids ? mslam_malloc((size_t)(n ? n : 1) * sizeof *tokens, "a translation") : NULL;
    mslam_result *r = NULL;
    if (tokens) {
        for (int i = 0; i < n; i++) tokens[i] = (search_token){.id = ids[i], .frame = -1, .logp = 0.0f};
        r = result_new(m, tokens, n, 0, n);
    }
    free(tokens);
    free(ids);
    return r;
}

/* The transcript said as English speech's translation: its characters, probabilities and
 * confidence, without frames (a translation's characters have none). */
static mslam_result *english_said(mslam_result *said) {
    for (int i = 0; i < said->n_tokens; i++) said->frames[i] = -1;
    return said;
}

/* mslam_translate_frames on checked arguments. */
static mslam_result *translate_frames(mslam_model *model, const float *frames, int n_frames,
                                      const struct mslam_decode_params *p, const char *fn) {
    if (n_frames == 0) return result_new(model, NULL, 0, 0, 0);
    const int V = model->cfg.vocab_size;
    /* the decoder writes text: no reserved token but the end of sentence */
    unsigned char *banned = mslam_malloc((size_t)V, "translation");
    if (!banned) return NULL;
    for (int i = 0; i < V; i++) banned[i] = i != model->eos_id && is_reserved(model, i);
    mslam_abort abort = {p->abort_callback, p->abort_callback_user_data, fn, 0};
    decoder_search_params sp = {
        .beam_size = p->beam_size,
        /* (the default, capped at what the search takes: over 32,760 frames it would exceed it) */
        .max_len = p->max_len > 0 ? p->max_len : (n_frames < 32760 ? 2 * n_frames + 16 : DECODER_MAX_LEN),
        .length_penalty = p->length_penalty,
        .no_repeat_ngram = p->no_repeat_ngram,
        .banned = banned,
        .lm = p->translation_lm ? &p->translation_lm->langs[0] : NULL,
        .lm_weight = p->translation_lm_weight,
        .abort = &abort,
    };
    mslam_model_use_threads(model, p->n_threads);
    decoder_cache cache = {0};
    search_result best;
    mslam_result *r = NULL;
    if (decoder_beam_search(&cache, &model->cfg, &model->p, model->bos_id, model->eos_id, frames, n_frames, &sp,
                            &best) == 0) {
        r = result_new(model, best.tokens, best.n, 0, n_frames);
        search_result_free(&best);
    }
    decoder_cache_free(&cache);
    free(banned);
    return r;
}

/* mslam_translate_text on checked arguments: English as it is, the memory, then the decoder;
 * errors name fn, the function called. */
static mslam_result *translate_text(mslam_model *model, const char *utf8, const struct mslam_decode_params *p,
                                    const char *fn) {
    int named = named_language(model, p->languages, fn);
    if (named == -1) return NULL;
    if (named >= 0 && mslam_is_english(model->langs[named])) return english_as_translation(model, utf8, fn);
    mslam_result *known = NULL;
    int used = translate_memory(model, utf8, p, &known, fn);
    if (used) return known;
    struct mslam_encode_params ep = encode_params_of(p); /* (text: the attention params unused) */
    int n_chars = 0;
    float *chars = mslam_encode_text_as(model, utf8, &ep, &n_chars, fn);
    mslam_result *r = chars ? translate_frames(model, chars, n_chars, p, fn) : NULL;
    mslam_free(chars);
    return r;
}

int mslam_translate_memory(mslam_model *model, const char *utf8, const struct mslam_decode_params *params,
                           mslam_result **out) {
    if (!out) return mslam_error("mslam_translate_memory: out is NULL");
    *out = NULL;
    if (check_model(model, "mslam_translate_memory", 0, 0, 0)) return -1;
    if (!utf8) return mslam_error("mslam_translate_memory: text is NULL");
    struct mslam_decode_params p = params ? *params : mslam_decode_default_params();
    if (p.translation_memory && check_translation_params(model, &p, 0, "mslam_translate_memory")) return -1;
    return translate_memory(model, utf8, &p, out, "mslam_translate_memory");
}

mslam_result *mslam_translate_frames(mslam_model *model, const float *frames, int n_frames,
                                     const struct mslam_decode_params *params) {
    if (check_model(model, "mslam_translate_frames", 0, 0, 1) ||
        check_encoder_frames(model, frames, n_frames, "mslam_translate_frames"))
        return NULL;
    struct mslam_decode_params p = params ? *params : mslam_decode_default_params();
    if (check_translation_params(model, &p, 1, "mslam_translate_frames")) return NULL;
    return translate_frames(model, frames, n_frames, &p, "mslam_translate_frames");
}

mslam_result *mslam_translate_text(mslam_model *model, const char *utf8, const struct mslam_decode_params *params) {
    if (check_model(model, "mslam_translate_text", 0, 0, 1)) return NULL;
    if (!utf8) {
        mslam_error("mslam_translate_text: text is NULL");
        return NULL;
    }
    struct mslam_decode_params p = params ? *params : mslam_decode_default_params();
    if (check_translation_params(model, &p, 1, "mslam_translate_text")) return NULL;
    return translate_text(model, utf8, &p, "mslam_translate_text");
}

/* The audio is encoded once. With a CTC head, English speech (the language named, or else the
 * one language ID finds) is translated as its transcript. With a translation memory (and a CTC
 * head) the transcript is looked up first, in that language; otherwise, or when no known
 * sentence is near enough, the decoder translates what it was trained to read: the transcript
 * (through the text path) or the frames. The result spans the audio's frames. */
mslam_result *mslam_translate(mslam_model *model, const float *pcm, size_t n_samples,
                              const struct mslam_decode_params *params) {
    if (check_model(model, "mslam_translate", 0, 0, 1)) return NULL;
    struct mslam_decode_params p = params ? *params : mslam_decode_default_params();
    if (check_translation_params(model, &p, 1, "mslam_translate")) return NULL;
    const int from_transcript = model->cfg.translate_input == MSLAM_TRANSLATE_TRANSCRIPT;
    const int use_memory = p.translation_memory && model->cfg.ctc_head;
    /* with a CTC head the transcript may be searched (English speech's is its translation) */
    if (model->cfg.ctc_head && p.lm && lm_check_model(p.lm, model, 0, "mslam_translate")) return NULL;
    int n_frames = 0;
    float *frames = encode(model, pcm, n_samples, &p, &n_frames, "mslam_translate");
    if (!frames) return NULL;
    mslam_result *said = NULL, *r = NULL;
    const char *lang = NULL; /* the language spoken, where known: the memory searches it */
    if (from_transcript || use_memory) {
        if (!(said = transcribe_frames(model, frames, n_frames, &p, &lang, "mslam_translate"))) goto done;
    } else if (model->cfg.ctc_head) {
        /* the decoder reads the frames: the transcript is searched for English speech alone, with
         * the LM where it can serve (a beam, and the language among the LM's) */
        int spoken = language_of_frames(model, &p, frames, n_frames, NULL, "mslam_translate");
        if (spoken == -1) goto done;
        if (spoken >= 0 && mslam_is_english(model->langs[spoken])) {
            struct mslam_decode_params tp = p;
            tp.languages = model->langs[spoken];
            if (!lm_in_search(&tp) || mslam_lm_lang_index(tp.lm, tp.languages) < 0) tp.lm = NULL;
            if (!(said = transcribe_frames(model, frames, n_frames, &tp, &lang, "mslam_translate"))) goto done;
        }
    }
    if (said && mslam_is_english(lang)) {
        r = english_said(said);
        said = NULL;
        goto done;
    }
    if (use_memory) {
        struct mslam_decode_params mp = p;
        if (lang) mp.languages = lang;
        if (translate_memory(model, said->text, &mp, &r, "mslam_translate") < 0) goto done;
    }
    p.translation_memory = NULL; /* asked above */
    if (!r && from_transcript) r = translate_text(model, said->text, &p, "mslam_translate");
    else if (!r) r = translate_frames(model, frames, n_frames, &p, "mslam_translate");
    if (r && said) r->start_frame = said->start_frame, r->end_frame = said->end_frame;
done:
    free(frames);
    mslam_result_free(said);
    return r;
}

/* ---- language identification ---- */

/* allowed (n_langs) = 1 for the languages of a comma-separated list (NULL or "": all). */
static int parse_languages(const mslam_model *m, const char *list, unsigned char *allowed, const char *fn) {
    const int N = m->cfg.n_langs;
    int any = 0;
    memset(allowed, list && *list ? 0 : 1, (size_t)N);
    for (const char *s = list; s && *s;) {
        while (*s == ' ' || *s == ',') s++;
        size_t len = strcspn(s, ", ");
        if (!len) break;
        int found = -1;
        /* in any case ("EN"): the trainer refuses a model's codes that differ only in case */
        for (int i = 0; i < N && found < 0; i++)
            if (strlen(m->langs[i]) == len && mslam_ascii_equal_nocase(m->langs[i], s, len)) found = i;
        char quoted[MSLAM_QUOTE_SIZE];
        if (found < 0) return mslam_error("%s: language '%s' is not in the model", fn, mslam_quote(quoted, s, len));
        allowed[found] = 1;
        any = 1;
        s += len;
    }
    char quoted[MSLAM_QUOTE_SIZE];
    if (list && *list && !any)
        return mslam_error("%s: languages \"%s\" names no language", fn, mslam_quote(quoted, list, MSLAM_UTF8_NUL_TERMINATED));
    return 0;
}

int lm_add_lid_scores(mslam_model *m, const mslam_lm *lm, float weight, const float *frames, int n_frames,
                      const float *log_probs, const unsigned char *allowed, float *logits, const char *fn) {
    if (!m->cfg.ctc_head)
        return mslam_error("%s: model '%s' has no CTC head, so the LM cannot score a transcript (set "
                           "lid_lm_weight 0)",
                           fn, m->path ? m->path : "(in memory)");
    if (lm_check_model(lm, m, 0, fn)) return -1;
    const int V = m->cfg.vocab_size, N = m->cfg.n_langs, order = lm->order;
    float *lp = log_probs ? NULL : mslam_malloc((size_t)n_frames * V * 2 * sizeof(float), "language identification");
    search_token *tokens = mslam_malloc((size_t)n_frames * sizeof *tokens, "language identification");
    int *ids = mslam_malloc(((size_t)n_frames + 2) * sizeof(int), "language identification");
    double *score = mslam_malloc((size_t)N * sizeof(double), "language identification");
    int rc = (log_probs || lp) && tokens && ids && score ? 0 : -1;
    if (!rc) {
        if (!log_probs) {
            ctc_head_log_probs(lp, lp + (size_t)n_frames * V, frames, n_frames, &m->cfg, &m->p);
            log_probs = lp;
        }
        int prev = CTC_BLANK, n = ctc_greedy(log_probs, n_frames, V, 0, &prev, tokens), k = 0;
        ids[k++] = lm->bos_id;
        for (int i = 0; i < n; i++) ids[k++] = tokens[i].id;
        ids[k++] = lm->eos_id;
        double lowest = INFINITY;
        for (int l = 0; l < N; l++) {
            int t = !allowed || allowed[l] ? mslam_lm_lang_index(lm, m->langs[l]) : -1;
            score[l] = NAN;
            if (t < 0) continue;
            score[l] = 0;
            for (int i = 1; i < k; i++) {
                int from = i - order + 1 > 0 ? i - order + 1 : 0;
                score[l] += lm_token_logp(&lm->langs[t], ids + from, i - from, ids[i]);
            }
            lowest = score[l] < lowest ? score[l] : lowest;
        }
        /* an LM of none of the candidates says nothing about them */
        for (int l = 0; isfinite(lowest) && l < N; l++)
            if (!allowed || allowed[l]) logits[l] += weight * (float)(isnan(score[l]) ? lowest : score[l]);
    }
    free(lp);
    free(tokens);
    free(ids);
    free(score);
    return rc;
}

/* The fewest samples that make one encoder frame: the subsampler's window of log-mel frames,
 * each a window of samples (1360), less the tail padding that follows them (640 samples, 40 ms). */
static size_t samples_of_one_frame(void) {
    return MSLAM_WIN_LENGTH + (size_t)MSLAM_HOP_LENGTH * (size_t)(mslam_subsampler_window(1) - 1) - MSLAM_TAIL_PADDING;
}

int identify_language_frames(mslam_model *model, const struct mslam_decode_params *params, const float *frames,
                             int n_frames, const float *log_probs, float *probs, int lm_only, const char *fn) {
    if (check_model(model, fn, 0, 1, 0) || check_encoder_frames(model, frames, n_frames, fn)) return -1;
    if (!probs) return mslam_error("%s: probs is NULL", fn);
    if (n_frames == 0)
        return mslam_error("%s: no frames (the audio is shorter than the %zu samples, %g ms, of one frame)", fn,
                           samples_of_one_frame(), samples_of_one_frame() / 16.0);
    struct mslam_decode_params p = params ? *params : mslam_decode_default_params();
    const int N = model->cfg.n_langs, d = model->cfg.d_model;
    unsigned char *allowed = mslam_malloc((size_t)N, "language identification");
    float *pooled = mslam_malloc((size_t)d * sizeof(float), "language identification");
    int best = -1, ok = allowed && pooled && parse_languages(model, p.languages, allowed, fn) == 0;
    if (ok && lm_only) {
        int any = 0;
        for (int i = 0; i < N; i++) any |= allowed[i] &= mslam_lm_lang_index(p.lm, model->langs[i]) >= 0;
        if (!any) {
            mslam_error("%s: LM '%s' models none of the candidate languages", fn, lm_name(p.lm));
            ok = 0;
        }
    }
    if (ok) {
        mslam_model_use_threads(model, p.n_threads);
        lid_head_logits(probs, pooled, frames, n_frames, &model->cfg, &model->p);
        /* the weights checked as every call with an LM checks them, whether LID reads it or not */
        if (p.lm && (lm_check_weights(&p, fn) ||
                     (p.lid_lm_weight > 0 &&
                      lm_add_lid_scores(model, p.lm, p.lid_lm_weight, frames, n_frames, log_probs, allowed, probs, fn))))
            ok = 0;
    }
    if (ok) {
        /* softmax over the allowed languages only */
        for (int i = 0; i < N; i++)
            if (allowed[i] && (best < 0 || probs[i] > probs[best])) best = i;
        const double top = probs[best];
        double sum = 0;
        for (int i = 0; i < N; i++) sum += allowed[i] ? exp(probs[i] - top) : 0.0;
        for (int i = 0; i < N; i++) probs[i] = allowed[i] ? (float)(exp(probs[i] - top) / sum) : 0.0f;
    }
    free(allowed);
    free(pooled);
    return best;
}

int mslam_identify_language_frames(mslam_model *model, const float *frames, int n_frames,
                                   const struct mslam_decode_params *params, float *probs) {
    /* (identify_language_frames' message for none speaks of the audio mslam_identify_language had) */
    if (n_frames == 0) return mslam_error("mslam_identify_language_frames: n_frames is 0: no frame to identify the "
                                          "language of");
    return identify_language_frames(model, params, frames, n_frames, NULL, probs, 0,
                                    "mslam_identify_language_frames");
}

int mslam_identify_language(mslam_model *model, const float *pcm, size_t n_samples,
                            const struct mslam_decode_params *params, float *probs) {
    if (check_model(model, "mslam_identify_language", 0, 1, 0)) return -1;
    struct mslam_decode_params p = params ? *params : mslam_decode_default_params();
    int n_frames = 0;
    float *frames = encode(model, pcm, n_samples, &p, &n_frames, "mslam_identify_language");
    if (!frames) return -1;
    int best = identify_language_frames(model, &p, frames, n_frames, NULL, probs, 0, "mslam_identify_language");
    free(frames);
    return best;
}
