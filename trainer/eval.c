/* mslam-trainer eval, and the scoring that validation during training shares with it. */
#include "eval.h"

#include "backend_vulkan.h"

#include "checkpoint.h"
#include "common.h"
#include "decoder.h"
#include "encoder.h"
#include "heads.h"
#include "lm.h"
#include "manifest.h"
#include "tm.h"
#include "options.h"
#include "progress.h"
#include "search.h"
#include "train.h"
#include "util.h"

#include <errno.h>
#include <float.h>
#include <json-c/json.h>
#include <math.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *const mode_names[EVAL_N_MODES] = {"offline", "streaming"};
const char *const eval_st_input_names[EVAL_ST_N_INPUTS] = {"speech", "text", "transcript"};

eval_config eval_default_config(void) {
    return (eval_config){.modes = (1 << EVAL_OFFLINE) | (1 << EVAL_STREAMING),
                         .chunk_frames = 8,
                         .left_chunks = 4,
                         .ctc_beam = 8,
                         .st_beam = 4,
                         .st_max_len = 300,
                         .length_penalty = 1.0f,
                         .no_repeat_ngram = mslam_decode_default_params().no_repeat_ngram,
                         .batch_size = 8,
                         .max_items = 0,
                         .lid_seconds = 0,
                         .asr = 1,
                         .lid = 1,
                         .st = 1,
                         .lm_weight = mslam_decode_default_params().lm_weight,
                         .lm_bonus = mslam_decode_default_params().lm_bonus,
                         .lid_lm_weight = mslam_decode_default_params().lid_lm_weight,
                         .translation_lm_weight = mslam_decode_default_params().translation_lm_weight,
                         .tm_min_similarity = mslam_decode_default_params().tm_min_similarity};
}

/* Text of token ids (reserved entries left out). New string. */
static char *tokens_text(const mslam_model *m, const search_result *r) {
    size_t len = 1;
    for (int i = 0; i < r->n; i++)
        if (r->tokens[i].id >= VOCAB_N_RESERVED) len += strlen(m->vocab[r->tokens[i].id]);
    char *s = mslam_malloc(len, "hypothesis text");
    if (!s) return NULL;
    size_t at = 0;
    for (int i = 0; i < r->n; i++) {
        if (r->tokens[i].id < VOCAB_N_RESERVED) continue;
        size_t k = strlen(m->vocab[r->tokens[i].id]);
        memcpy(s + at, m->vocab[r->tokens[i].id], k);
        at += k;
    }
    s[at] = '\0';
    return s;
}

/* Buffers and searches of one evaluation. */
typedef struct {
    mslam_model *m;
    const eval_config *c;
    mslam_encoder_pass pass;
    mslam_encoder_pass text_pass; /* the translation's source through the text path */
    int *source, n_source;        /* its characters (--st-input text or transcript) */
    char *source_text;            /* the same as text, the translation memory's key: under --st-input
                                   * text the reference's normal form with every character */
    const char *heard;            /* the language found on this utterance: the one the CTC beam's
                                   * LM was chosen by, else language ID's (NULL: none yet) */
    float *logits, *log_probs;
    size_t cap_frames;
    search_token *greedy;
    ctc_beam beam;
    decoder_cache cache;
    decoder_search_params sp;
    unsigned char *banned;
} evaluator;

static int lang_slot(const eval_result *r, const char *lang) {
    for (int i = 0; i < r->n_langs; i++)
        if (!strcmp(r->langs[i], lang)) return i;
    return -1;
}

void eval_hyps_header(FILE *f) { fputs("mode\ttask\tpath\tlang\tspeaker\treference\thypothesis\n", f); }

static void hyps_field(FILE *f, const char *s, char end) {
    for (; *s; s++) fputc(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s, f);
    fputc(end, f);
}

static void write_hyp(FILE *f, int mode, const char *task, const example *e, const char *ref, const char *hyp) {
    if (!f) return;
    fprintf(f, "%s\t%s\t", mode_names[mode], task);
    hyps_field(f, e->audio, '\t');
    hyps_field(f, e->lang, '\t');
    hyps_field(f, e->speaker, '\t');
    hyps_field(f, ref, '\t');
    hyps_field(f, hyp, '\n');
}

/* Whether any utterance of the speaker was scored (--max-items may leave all out). */
static int speaker_scored(const eval_speaker *es) { return es->n_asr > 0 || es->lid_total > 0; }

static eval_speaker *speaker_scores(eval_result *r, int mode, const char *speaker) {
    for (int i = 0; i < r->n_speakers; i++)
        if (!strcmp(r->speakers[i], speaker)) return &r->per_speaker[mode][i];
    return NULL;
}

enum { SCORE_ASR = 1, SCORE_LID = 2, SCORE_ST = 4 };

/* The language the library's language ID picks on the frames (log_probs: their CTC
 * log-probabilities when computed, else NULL), with the LM as configured; lm_only: only the LM's
 * languages compete. Returns the language or -1. */
static int identify(evaluator *ev, const float *enc, int n, const float *log_probs, int lm_only) {
    struct mslam_decode_params p = mslam_decode_default_params();
    p.lm = ev->c->lm;
    p.lid_lm_weight = ev->c->lm ? ev->c->lid_lm_weight : 0;
    p.n_threads = mslam_get_threads(); /* as the evaluation runs */
    return identify_language_frames(ev->m, &p, enc, n, log_probs, ev->logits, lm_only, "language ID");
}

/* The CTC prefix beam's best transcript of the log-probabilities in ev->log_probs (n frames),
 * with the LM of the language heard (of the reference's without a LID head) when there is one. */
static int ctc_beam_search(evaluator *ev, const example *e, const float *enc, int n, search_result *best) {
    const mslam_model *m = ev->m;
    const eval_config *c = ev->c;
    if (c->lm) {
        int heard = m->cfg.lid_head ? identify(ev, enc, n, ev->log_probs, 1) : -1;
        if (m->cfg.lid_head && heard < 0) return -1;
        const char *code = heard >= 0 ? m->langs[heard] : e->lang;
        ev->heard = code;
        int t = mslam_lm_lang_index(c->lm, code);
        ctc_beam_set_lm(&ev->beam, t >= 0 ? c->lm : NULL, t, c->lm_weight, c->lm_bonus);
    }
    ctc_beam_reset(&ev->beam);
    return ctc_beam_step(&ev->beam, ev->log_probs, n, 0) || ctc_beam_best(&ev->beam, 1, best) ? -1 : 0;
}

/* Sets the translation's source: ids (n of them) and text, both taken. */
static void set_source(evaluator *ev, int *ids, int n, char *text) {
    free(ev->source);
    free(ev->source_text);
    ev->source = ids;
    ev->n_source = n;
    ev->source_text = text;
}

/* The characters of a CTC search result into ev->source (ids and count) and ev->source_text:
 * text is r's tokens_text, taken (NULL: made here); 0 or -1. */
static int keep_source(evaluator *ev, const search_result *r, char *text) {
    int *ids = malloc(((size_t)r->n + 1) * sizeof *ids);
    if (!text) text = tokens_text(ev->m, r);
    if (!ids || !text) {
        free(ids);
        free(text);
        return mslam_error("out of memory for a translation source of %d characters", r->n);
    }
    int n = 0;
    for (int i = 0; i < r->n; i++)
        if (r->tokens[i].id >= VOCAB_N_RESERVED) ids[n++] = r->tokens[i].id;
    set_source(ev, ids, n, text);
    return 0;
}

/* The characters the decoder translates from under --st-input text or transcript, into
 * ev->source and ev->source_text: the reference transcript in the ASR normal form (the ids
 * leave characters outside the vocabulary out, the text keeps them), or the CTC transcript of
 * the utterance's frames (prefix beam when c->ctc_beam > 1, else greedy). Returns 0 or -1. */
static int translation_source(evaluator *ev, const example *e, const float *enc, int n) {
    const mslam_model *m = ev->m;
    if (ev->c->st_input == EVAL_ST_TEXT) {
        char *norm = asr_target_text(e->text, e->lang);
        int *ids = NULL, count = norm ? encode_text(m, norm, &ids, NULL) : -1;
        if (count < 0) {
            free(norm);
            return -1;
        }
        set_source(ev, ids, count, norm);
        return 0;
    }
    ctc_head_log_probs(ev->log_probs, ev->logits, enc, n, &m->cfg, &m->p);
    if (ev->c->ctc_beam <= 1) {
        int prev = CTC_BLANK;
        search_result greedy = {.tokens = ev->greedy};
        greedy.n = ctc_greedy(ev->log_probs, n, m->cfg.vocab_size, 0, &prev, ev->greedy);
        return keep_source(ev, &greedy, NULL);
    }
    search_result best = {0};
    int rc = ctc_beam_search(ev, e, enc, n, &best) || keep_source(ev, &best, NULL) ? -1 : 0;
    search_result_free(&best);
    return rc;
}

/* The language of the translation's source, for the translation memory: the reference's under
 * --st-input text, else the one found on the utterance (ev->heard), or that language ID finds now
 * (the reference's without a LID head), kept in ev->heard for the utterance's next ask. NULL on
 * failure. */
static const char *source_language(evaluator *ev, const example *e, const float *enc, int n) {
    if (ev->c->st_input == EVAL_ST_TEXT) return e->lang;
    if (ev->heard) return ev->heard;
    if (!ev->m->cfg.lid_head) return e->lang;
    int heard = identify(ev, enc, n, NULL, 0);
    if (heard >= 0) ev->heard = ev->m->langs[heard];
    return heard >= 0 ? ev->heard : NULL;
}

/* The translation memory's English for the source in ev->source_text into *hyp; 1 when it had
 * one, 0 when not, -1 on failure. */
static int memory_translation(evaluator *ev, const example *e, const float *enc, int n, char **hyp) {
    const mslam_model *m = ev->m;
    search_result known;
    const char *lang = source_language(ev, e, enc, n);
    int used = lang ? tm_translate(m, ev->c->tm, lang, ev->c->tm_min_similarity, ev->source_text, &known,
                                  "--translation-memory") : -1;
    if (used < 0) {
        char why[512];
        snprintf(why, sizeof why, "%s", mslam_last_error());
        return mslam_error("translation memory: %s", why);
    }
    if (used) {
        *hyp = tokens_text(m, &known);
        search_result_free(&known);
        if (!*hyp) return -1;
    }
    return used;
}

/* The decoder's translation of e (from the encoder frames enc (n, d) or, per --st-input, from
 * ev->source, which holds the CTC transcript already when have_transcript) into *hyp (free it;
 * NULL: nothing of the transcript is in the vocabulary, not scored); with a translation memory
 * the transcript is looked up first, and *from_memory set when the memory gave it. Returns 0 or -1. */
static int translate_item(evaluator *ev, const example *e, const float *enc, int n, int have_transcript, char **hyp,
                          int *from_memory) {
    mslam_model *m = ev->m;
    const struct mslam_model_config *cfg = &m->cfg;
    const eval_config *c = ev->c;
    search_result res = {0};
    /* an untrained decoder may never stop: at most one character per encoder frame plus 10,
     * or two per source character plus 10 */
    const float *source = enc;
    int n_source = n, longest = n + 10;
    *hyp = NULL;
    /* English is its own translation, as mslam_translate and mslam_translate_text give it: the
     * transcript, where the language is known (the reference's under --st-input text, else
     * language ID's on a CTC transcript) */
    int english = 0;
    if (c->st_input == EVAL_ST_TEXT || (cfg->ctc_head && cfg->lid_head)) {
        const char *lang = source_language(ev, e, enc, n);
        if (!lang) return -1;
        english = mslam_is_english(lang);
    }
    /* the memory looks the transcript up whatever the decoder reads */
    if ((c->st_input != EVAL_ST_SPEECH || c->tm || english) && !have_transcript && translation_source(ev, e, enc, n))
        return -1;
    if (english) {
        *hyp = strdup(ev->source_text);
        return *hyp ? 0 : mslam_error("out of memory for a translation of %zu bytes", strlen(ev->source_text));
    }
    if (c->st_input == EVAL_ST_TEXT && ev->n_source == 0) return 0;
    if (c->tm && ev->n_source > 0) {
        int used = memory_translation(ev, e, enc, n, hyp);
        if (used) {
            *from_memory = used == 1;
            return used < 0 ? -1 : 0;
        }
    }
    if (c->st_input != EVAL_ST_SPEECH) {
        n_source = ev->n_source;
        if (n_source > 0 &&
            mslam_encoder_text_forward(&ev->text_pass, cfg, &m->p, ev->source, &n_source, 1, n_source, 0))
            return -1;
        source = ev->text_pass.out;
        longest = 2 * n_source + 10;
    }
    /* --max-len 0: no limit of the user's, the decoder's own alone */
    ev->sp.max_len = c->st_max_len > 0 && c->st_max_len < longest ? c->st_max_len : longest;
    if (n_source > 0 &&
        decoder_beam_search(&ev->cache, cfg, &m->p, VOCAB_BOS, VOCAB_EOS, source, n_source, &ev->sp, &res))
        return -1;
    *hyp = tokens_text(m, &res);
    search_result_free(&res);
    return *hyp ? 0 : -1;
}

/* Adds translation hyp of e (from_memory: the translation memory's) to mode's BLEU and chrF
 * (overall and e's language), its count of the memory's and --hyps. */
static int add_translation(evaluator *ev, eval_result *r, int mode, const example *e, const char *hyp,
                           int from_memory) {
    eval_lang *el = &r->per_lang[mode][lang_slot(r, e->lang)];
    const char *refs[1] = {e->translation};
    if (mslam_bleu_add(&el->bleu, hyp, refs, 1) || mslam_chrf_add(&el->chrf, hyp, refs, 1) ||
        mslam_bleu_add(&r->bleu[mode], hyp, refs, 1) || mslam_chrf_add(&r->chrf[mode], hyp, refs, 1))
        return -1;
    write_hyp(ev->c->hyps, mode, "st", e, e->translation, hyp);
    el->n_st++;
    r->st_from_memory[mode] += from_memory;
    return 0;
}

/* Scores the tasks of `what` on one utterance's encoder frames (n, d) in mode. */
static int score_item(evaluator *ev, eval_result *r, int mode, int what, const example *e, const float *enc, int n) {
    mslam_model *m = ev->m;
    const struct mslam_model_config *cfg = &m->cfg;
    const eval_config *c = ev->c;
    int V = cfg->vocab_size, N = cfg->n_langs;
    int lang = lang_slot(r, e->lang);
    eval_lang *el = &r->per_lang[mode][lang];
    eval_speaker *es = speaker_scores(r, mode, e->speaker);
    int have_transcript = 0; /* the CTC transcript of this utterance is in ev->source */
    ev->heard = NULL;
    if ((size_t)n > ev->cap_frames) {
        free(ev->logits), free(ev->log_probs), free(ev->greedy);
        size_t rows = (size_t)n > (size_t)N ? (size_t)n : (size_t)N;
        ev->logits = malloc(rows * V * sizeof(float));
        ev->log_probs = malloc(rows * V * sizeof(float));
        ev->greedy = malloc((size_t)n * sizeof *ev->greedy);
        ev->cap_frames = (size_t)n;
        if (!ev->logits || !ev->log_probs || !ev->greedy) {
            ev->cap_frames = 0;
            return mslam_error("out of memory scoring %d frames", n);
        }
    }
    if ((what & SCORE_ASR) && c->asr && cfg->ctc_head && *e->text) {
        ctc_head_log_probs(ev->log_probs, ev->logits, enc, n, cfg, &m->p);
        int prev = CTC_BLANK;
        search_result res = {.tokens = ev->greedy};
        res.n = ctc_greedy(ev->log_probs, n, V, 0, &prev, ev->greedy);
        char *hyp = tokens_text(m, &res);
        int rc = !hyp || mslam_asr_acc_add(&el->greedy, e->text, hyp) ||
                 (es && mslam_asr_acc_add(&es->greedy[lang], e->text, hyp));
        if (hyp) write_hyp(c->hyps, mode, "asr", e, e->text, hyp);
        /* the cascade translates the transcript scored here: kept, not searched again */
        int keep = c->st_input == EVAL_ST_TRANSCRIPT || (c->tm && c->st_input == EVAL_ST_SPEECH);
        if (rc || !keep || c->ctc_beam > 1) free(hyp);
        else if (keep_source(ev, &res, hyp)) return -1;
        else have_transcript = 1;
        if (rc) return -1;
        if (es) es->n_asr++;
        if (c->ctc_beam > 1) {
            search_result best = {0};
            rc = ctc_beam_search(ev, e, enc, n, &best);
            hyp = rc ? NULL : tokens_text(m, &best);
            rc = rc || !hyp || mslam_asr_acc_add(&el->beam, e->text, hyp) ||
                 (es && mslam_asr_acc_add(&es->beam[lang], e->text, hyp));
            if (hyp) write_hyp(c->hyps, mode, "asr-beam", e, e->text, hyp);
            if (rc || !keep) free(hyp);
            else if (keep_source(ev, &best, hyp)) rc = -1;
            else have_transcript = 1;
            search_result_free(&best);
            if (rc) return -1;
        }
        el->n_asr++;
    }
    if ((what & SCORE_LID) && c->lid && cfg->lid_head && e->lang_id >= 0) {
        int best = identify(ev, enc, n, NULL, 0);
        if (best < 0) return -1;
        if (!ev->heard) ev->heard = m->langs[best]; /* what source_language would find again */
        if (mslam_confusion_add_index(r->lid[mode], (size_t)e->lang_id, (size_t)best)) return -1;
        if (es) es->lid_total++, es->lid_correct += best == e->lang_id;
        write_hyp(c->hyps, mode, "lid", e, e->lang, m->langs[best]);
    }
    if ((what & SCORE_ST) && c->st && cfg->n_decoder_layers > 0 && *e->translation &&
        (c->st_input != EVAL_ST_TEXT || *e->text)) {
        char *hyp = NULL;
        int from_memory = 0;
        int rc = translate_item(ev, e, enc, n, have_transcript, &hyp, &from_memory) ||
                 (hyp && add_translation(ev, r, mode, e, hyp, from_memory));
        free(hyp);
        if (rc) return -1;
    }
    return 0;
}

static const dataset *sort_ds;

static int cmp_seconds(const void *a, const void *b) {
    double x = sort_ds->items[*(const int *)a].seconds, y = sort_ds->items[*(const int *)b].seconds;
    return (x > y) - (x < y);
}

static int result_init(eval_result *r, const mslam_model *m, const dataset *ds, const eval_config *c) {
    memset(r, 0, sizeof *r);
    r->cfg = *c;
    if ((c->lm && !(r->lm_name = str_dup(lm_name(c->lm)))) ||
        (c->translation_lm && !(r->translation_lm_name = str_dup(lm_name(c->translation_lm)))) ||
        (c->tm && !(r->tm_name = str_dup(c->tm->path))))
        return mslam_error("out of memory");
    struct strlist langs;
    if (langs_build(ds, &langs)) return -1;
    if (langs.n == 0 && strlist_push(&langs, "")) return -1; /* no language labels: one unnamed group */
    r->n_langs = (int)langs.n;
    r->langs = langs.items; /* taken over */
    struct strlist speakers = {0};
    for (int i = 0; i < ds->n; i++)
        if (*ds->items[i].speaker && !strlist_contains(&speakers, ds->items[i].speaker) &&
            strlist_push(&speakers, ds->items[i].speaker)) {
            strlist_free(&speakers);
            return -1;
        }
    r->n_speakers = (int)speakers.n;
    r->speakers = speakers.items; /* taken over */
    for (int mode = 0; mode < EVAL_N_MODES; mode++) {
        if (r->n_speakers) {
            r->per_speaker[mode] = mslam_calloc((size_t)r->n_speakers, sizeof(eval_speaker), "per-speaker scores");
            if (!r->per_speaker[mode]) return -1;
            for (int i = 0; i < r->n_speakers; i++) {
                eval_speaker *es = &r->per_speaker[mode][i];
                es->greedy = mslam_calloc((size_t)r->n_langs, sizeof *es->greedy, "per-speaker ASR scores");
                es->beam = mslam_calloc((size_t)r->n_langs, sizeof *es->beam, "per-speaker ASR scores");
                if (!es->greedy || !es->beam) return -1;
                for (int l = 0; l < r->n_langs; l++) {
                    int no_spaces = mslam_lang_written_without_spaces(r->langs[l]);
                    mslam_asr_acc_init(&es->greedy[l], r->langs[l], no_spaces);
                    mslam_asr_acc_init(&es->beam[l], r->langs[l], no_spaces);
                }
            }
        }
        r->per_lang[mode] = mslam_calloc((size_t)r->n_langs, sizeof(eval_lang), "per-language scores");
        r->lid[mode] = mslam_confusion_new((const char *const *)m->langs, (size_t)m->cfg.n_langs);
        if (!r->per_lang[mode] || !r->lid[mode]) return -1;
        if (mslam_chrf_init(&r->chrf[mode], mslam_chrf_default_params())) return -1;
        for (int l = 0; l < r->n_langs; l++) {
            eval_lang *el = &r->per_lang[mode][l];
            int no_spaces = mslam_lang_written_without_spaces(r->langs[l]);
            mslam_asr_acc_init(&el->greedy, r->langs[l], no_spaces);
            mslam_asr_acc_init(&el->beam, r->langs[l], no_spaces);
            if (mslam_chrf_init(&el->chrf, mslam_chrf_default_params())) return -1;
        }
    }
    return 0;
}

int eval_st_input_of(const struct mslam_model_config *cfg) {
    return cfg->translate_input == MSLAM_TRANSLATE_TRANSCRIPT ? EVAL_ST_TRANSCRIPT : EVAL_ST_SPEECH;
}

int eval_text_only(const eval_config *c) {
    return c->st && c->st_input == EVAL_ST_TEXT && !c->asr && !c->lid;
}

static int cancelled(const eval_config *c) { return c->cancel && *c->cancel; }

/* Whether the tasks scored decode a CTC transcript: recognition, or translation of the transcript
 * or through the memory, which looks the transcript up. */
static int decodes_ctc(const eval_config *c) {
    return c->asr || (c->st && (c->st_input == EVAL_ST_TRANSCRIPT || (c->tm && c->st_input != EVAL_ST_TEXT)));
}

int eval_model(mslam_model *m, const dataset *ds, const eval_config *c, eval_result *r) {
    double t0 = progress_now();
    const struct mslam_model_config *cfg = &m->cfg;
    if (result_init(r, m, ds, c)) {
        eval_result_free(r);
        return -1;
    }
    if (c->st && c->st_input == EVAL_ST_TRANSCRIPT && cfg->n_decoder_layers > 0 && !cfg->ctc_head) {
        eval_result_free(r);
        return mslam_error("--st-input transcript: the model has no CTC head to transcribe with");
    }
    evaluator ev = {.m = m, .c = c};
    ev.pass.vk = ev.text_pass.vk = c->vk;
    ev.sp = (decoder_search_params){.beam_size = c->st_beam, .max_len = c->st_max_len,
                                    .length_penalty = c->length_penalty, .no_repeat_ngram = c->no_repeat_ngram,
                                    .lm = c->translation_lm ? &c->translation_lm->langs[0] : NULL,
                                    .lm_weight = c->translation_lm_weight};
    ev.banned = mslam_calloc((size_t)cfg->vocab_size, 1, "banned tokens");
    int n = c->max_items > 0 && c->max_items < ds->n ? c->max_items : ds->n;
    int *items = mslam_malloc((size_t)(n ? n : 1) * sizeof(int), "evaluation order");
    int rc = ev.banned && items ? 0 : -1;
    if (!rc && cfg->ctc_head && c->ctc_beam > 1) rc = ctc_beam_init(&ev.beam, c->ctc_beam, cfg->vocab_size, logf(1e-4f));
    if (!rc) {
        /* a decoder never writes the reserved entries but the end of sentence */
        for (int k = 0; k < VOCAB_N_RESERVED; k++) ev.banned[k] = k != VOCAB_EOS;
        ev.sp.banned = ev.banned;
        /* spread over the dataset when capped; sorted by length so that batches pad little */
        for (int i = 0; i < n; i++) items[i] = (int)((long)i * ds->n / n);
        sort_ds = ds;
        qsort(items, (size_t)n, sizeof *items, cmp_seconds);
    }
    /* LID can score only the model's languages: the others are counted and named, so that the
     * accuracy does not read as over every utterance */
    for (int i = 0; !rc && c->lid && cfg->lid_head && i < n; i++) {
        const example *e = &ds->items[items[i]];
        if (!*e->lang || e->lang_id >= 0) continue;
        r->n_unknown_lang++;
        if (!strlist_contains(&r->unknown_langs, e->lang)) rc = strlist_push(&r->unknown_langs, e->lang);
    }
    feature_batch fb = {0};
    int lid_pass = c->lid_seconds > 0 && c->lid && cfg->lid_head;
    /* translation of reference transcripts alone reads no audio (text pairs need none) */
    for (int i = 0; !rc && !cancelled(c) && eval_text_only(c) && i < n; i++) {
        /* the text path has no streaming form: one translation serves every mode */
        const example *e = &ds->items[items[i]];
        char *hyp = NULL;
        int from_memory = 0;
        rc = cfg->n_decoder_layers > 0 && *e->text && *e->translation
                 ? translate_item(&ev, e, NULL, 0, 0, &hyp, &from_memory)
                 : 0;
        for (int mode = 0; mode < EVAL_N_MODES && !rc && hyp; mode++)
            if (c->modes & (1 << mode)) rc = add_translation(&ev, r, mode, e, hyp, from_memory);
        free(hyp);
        r->n_items++;
    }
    /* the clips: each utterance's first lid_seconds, as if nothing came after (what
     * mslam_identify_language gives on them) */
    feature_batch clips = {.quiet = 1};
    if (lid_pass) clips.max_samples = (size_t)round(c->lid_seconds * MSLAM_SAMPLE_RATE); /* 640 .. 1.6e10 */
    for (int at = 0; !rc && !cancelled(c) && !eval_text_only(c) && at < n; at += c->batch_size) {
        int count = n - at < c->batch_size ? n - at : c->batch_size;
        rc = feature_batch_load(&fb, ds, items + at, count, 0, cfg->n_mels, NULL, 0, NULL);
        r->n_bad_audio += fb.n_failed; /* audio that fails to decode: left out like unreadable rows */
        if (rc || fb.B == 0) continue;
        if (lid_pass) rc = feature_batch_load(&clips, ds, fb.example, fb.B, 0, cfg->n_mels, NULL, 0, NULL);
        for (int mode = 0; mode < EVAL_N_MODES && !rc; mode++) {
            if (!(c->modes & (1 << mode))) continue;
            attn_mask mask = {mode == EVAL_STREAMING ? c->chunk_frames : 0, c->left_chunks, 0};
            rc = mslam_encoder_speech_forward(&ev.pass, cfg, &m->p, fb.mel, fb.mel_lens, fb.B, fb.T_mel, &mask, 0);
            for (int b = 0; b < fb.B && !rc; b++) {
                int frames = ev.pass.lens[b];
                if (frames > 0)
                    rc = score_item(&ev, r, mode, SCORE_ASR | SCORE_ST | (lid_pass ? 0 : SCORE_LID),
                                    &ds->items[fb.example[b]], ev.pass.out + (size_t)b * ev.pass.T * cfg->d_model,
                                    frames);
            }
            if (rc || !lid_pass || clips.B == 0) continue;
            rc = mslam_encoder_speech_forward(&ev.pass, cfg, &m->p, clips.mel, clips.mel_lens, clips.B, clips.T_mel,
                                              &mask, 0);
            for (int b = 0; b < clips.B && !rc; b++) {
                int frames = ev.pass.lens[b];
                if (frames > 0)
                    rc = score_item(&ev, r, mode, SCORE_LID, &ds->items[clips.example[b]],
                                    ev.pass.out + (size_t)b * ev.pass.T * cfg->d_model, frames);
            }
        }
        r->n_items += fb.B;
        r->seconds += fb.seconds;
    }
    feature_batch_free(&clips);
    feature_batch_free(&fb);
    mslam_encoder_pass_free(&ev.pass);
    mslam_encoder_pass_free(&ev.text_pass);
    set_source(&ev, NULL, 0, NULL);
    if (cfg->ctc_head && c->ctc_beam > 1) ctc_beam_free(&ev.beam);
    decoder_cache_free(&ev.cache);
    free(ev.logits);
    free(ev.log_probs);
    free(ev.greedy);
    free(ev.banned);
    free(items);
    r->wall_s = progress_now() - t0;
    if (!rc && cancelled(c)) rc = 1;
    if (rc) eval_result_free(r);
    return rc;
}

void eval_result_free(eval_result *r) {
    struct strlist langs = {.items = r->langs, .n = (size_t)r->n_langs, .cap = (size_t)r->n_langs};
    strlist_free(&langs);
    for (int mode = 0; mode < EVAL_N_MODES; mode++) {
        for (int i = 0; r->per_speaker[mode] && i < r->n_speakers; i++) {
            free(r->per_speaker[mode][i].greedy);
            free(r->per_speaker[mode][i].beam);
        }
        free(r->per_speaker[mode]);
    }
    struct strlist speakers = {.items = r->speakers, .n = (size_t)r->n_speakers, .cap = (size_t)r->n_speakers};
    strlist_free(&speakers);
    for (int mode = 0; mode < EVAL_N_MODES; mode++) {
        free(r->per_lang[mode]);
        mslam_confusion_free(r->lid[mode]);
    }
    free(r->lm_name);
    free(r->translation_lm_name);
    free(r->tm_name);
    strlist_free(&r->unknown_langs);
    memset(r, 0, sizeof *r);
}

/* ---- reporting ---- */

static double bleu_score(const struct mslam_bleu_stats *st) {
    if (st->n_segments == 0) return NAN;
    struct mslam_bleu b;
    mslam_bleu_compute(st, &b);
    return b.score;
}

void eval_summary(const eval_result *r, int mode, double *cer, double *lid_acc, double *bleu) {
    double sum = 0;
    int n = 0;
    for (int l = 0; r->per_lang[mode] && l < r->n_langs; l++) {
        double x = mslam_asr_acc_cer(&r->per_lang[mode][l].greedy);
        if (r->per_lang[mode][l].n_asr && isfinite(x)) sum += x, n++;
    }
    *cer = n ? sum / n : NAN;
    *lid_acc = r->lid[mode] ? mslam_confusion_accuracy(r->lid[mode]) : NAN;
    *bleu = bleu_score(&r->bleu[mode]);
}

/* Mean CER over the languages of acc (n_langs: a speaker's greedy or beam scores); NAN when none. */
static double speaker_cer(const eval_result *r, const struct mslam_asr_acc *acc) {
    double sum = 0;
    int n = 0;
    for (int l = 0; l < r->n_langs; l++) {
        double x = mslam_asr_acc_cer(&acc[l]);
        if (acc[l].n_utts && isfinite(x)) sum += x, n++;
    }
    return n ? sum / n : NAN;
}

static double speaker_lid_accuracy(const eval_speaker *es) {
    return es->lid_total ? (double)es->lid_correct / es->lid_total : NAN;
}

static void print_rate(FILE *fp, double x) {
    if (isfinite(x)) fprintf(fp, " %7.2f%%", 100 * x);
    else fprintf(fp, " %8s", "-");
}

/* Recognition and translation scores per language (columns of the tasks scored), then the mean
 * CER and WER over languages. */
static void print_language_table(const eval_result *r, int mode, FILE *fp) {
    const int beam = r->cfg.ctc_beam > 1, asr = r->cfg.asr, st = r->cfg.st;
    if (!asr && !st) return;
    fprintf(fp, "%-10s", "lang");
    if (asr) fprintf(fp, " %6s %8s %8s", "utts", "CER", "WER");
    if (asr && beam) fprintf(fp, " %8s %8s", "CER-beam", "WER-beam");
    if (st) fprintf(fp, " %6s %8s %8s", "st", "BLEU", "chrF2");
    fputc('\n', fp);
    double sum[4] = {0};
    int counted[4] = {0};
    for (int l = 0; l < r->n_langs; l++) {
        const eval_lang *el = &r->per_lang[mode][l];
        if (!el->n_asr && !el->n_st) continue;
        double x[4] = {mslam_asr_acc_cer(&el->greedy), mslam_asr_acc_wer(&el->greedy),
                       mslam_asr_acc_cer(&el->beam), mslam_asr_acc_wer(&el->beam)};
        fprintf(fp, "%-10s", *r->langs[l] ? r->langs[l] : "(none)");
        if (asr) fprintf(fp, " %6d", el->n_asr);
        for (int k = 0; asr && k < (beam ? 4 : 2); k++) {
            print_rate(fp, el->n_asr ? x[k] : NAN);
            if (el->n_asr && isfinite(x[k])) sum[k] += x[k], counted[k]++;
        }
        if (st) fprintf(fp, " %6d", el->n_st);
        if (st && el->n_st) fprintf(fp, " %8.2f %8.2f", bleu_score(&el->bleu), mslam_chrf_compute(&el->chrf));
        else if (st) fprintf(fp, " %8s %8s", "-", "-");
        fputc('\n', fp);
    }
    if (asr) {
        fprintf(fp, "%-10s %6s", "mean", "");
        for (int k = 0; k < (beam ? 4 : 2); k++) print_rate(fp, counted[k] ? sum[k] / counted[k] : NAN);
        fputc('\n', fp);
    }
}

void eval_print(const eval_result *r, FILE *fp) {
    if (eval_text_only(&r->cfg))
        fprintf(fp, "%d text pairs (reference transcripts; no audio read), evaluated in %.1f s\n", r->n_items,
                r->wall_s);
    else
        fprintf(fp, "%d utterances, %.1f s of audio, evaluated in %.1f s\n", r->n_items, r->seconds, r->wall_s);
    if (r->n_bad_audio)
        fprintf(fp, "%d rows left out: their audio is unreadable, empty or too short\n", r->n_bad_audio);
    if (r->n_unknown_lang) {
        fprintf(fp, "%d utterances left out of LID: their languages (", r->n_unknown_lang);
        for (size_t i = 0; i < r->unknown_langs.n; i++) fprintf(fp, "%s%s", i ? " " : "", r->unknown_langs.items[i]);
        fputs(") are not the model's\n", fp);
    }
    const eval_config *c = &r->cfg;
    /* only what the tasks scored decode: language ID alone reads no CTC transcript, and reads the
     * LM only through its LID weight */
    const int ctc = decodes_ctc(c);
    const int lid_lm = c->lid && r->lm_name && c->lid_lm_weight > 0;
    if (ctc) {
        fprintf(fp, "decoding: CTC %s %d", c->ctc_beam > 1 ? "prefix beam" : "greedy", c->ctc_beam);
        /* (greedy reads no LM: named where language ID weighs it alone) */
        if (r->lm_name && c->ctc_beam > 1) {
            fprintf(fp, ", LM %s (weight %g, bonus %g", r->lm_name, (double)c->lm_weight, (double)c->lm_bonus);
            if (c->lid) fprintf(fp, "; LID weight %g", (double)c->lid_lm_weight);
            fputc(')', fp);
        } else if (lid_lm) {
            fprintf(fp, ", language ID with LM %s (weight %g)", r->lm_name, (double)c->lid_lm_weight);
        }
    } else if (lid_lm) {
        fprintf(fp, "decoding: language ID with LM %s (weight %g)", r->lm_name, (double)c->lid_lm_weight);
    }
    if ((ctc || lid_lm) && !c->st) fputc('\n', fp);
    if (c->st) {
        if (ctc || lid_lm) fputs("; ", fp);
        fprintf(fp, "%stranslation beam %d, length penalty %g, no-repeat-ngram %d", ctc || lid_lm ? "" : "decoding: ",
                c->st_beam, (double)c->length_penalty, c->no_repeat_ngram);
        if (r->translation_lm_name)
            fprintf(fp, ", translation LM %s (weight %g)", r->translation_lm_name, (double)c->translation_lm_weight);
        if (r->tm_name)
            fprintf(fp, ", translation memory %s (minimum similarity %g)", r->tm_name, (double)c->tm_min_similarity);
        fputc('\n', fp);
    }
    for (int mode = 0; mode < EVAL_N_MODES; mode++) {
        if (!(r->cfg.modes & (1 << mode))) continue;
        if (mode == EVAL_STREAMING)
            fprintf(fp, "\n== streaming (chunks of %d frames = %d ms, %d left chunks) ==\n", r->cfg.chunk_frames,
                    r->cfg.chunk_frames * 40, r->cfg.left_chunks);
        else
            fprintf(fp, "\n== offline (full context) ==\n");
        print_language_table(r, mode, fp);
        if (r->bleu[mode].n_segments) {
            struct mslam_bleu b;
            char line[256], chrf[64];
            mslam_bleu_compute(&r->bleu[mode], &b);
            mslam_bleu_format(&b, line, sizeof line);
            mslam_chrf_format(&r->chrf[mode], chrf, sizeof chrf);
            fprintf(fp, "translation into English, all languages%s: %s; %s\n",
                    r->cfg.st_input == EVAL_ST_TEXT         ? " (from the reference transcript)"
                    : r->cfg.st_input == EVAL_ST_TRANSCRIPT ? " (from the CTC transcript)"
                                                            : "",
                    line, chrf);
            if (r->tm_name) fprintf(fp, "translations from the memory: %d\n", r->st_from_memory[mode]);
        }
        if (mslam_confusion_total(r->lid[mode])) {
            if (r->cfg.lid_seconds > 0)
                fprintf(fp, "language identification (first %g s of each utterance):\n", (double)r->cfg.lid_seconds);
            else
                fprintf(fp, "language identification:\n");
            mslam_confusion_print(r->lid[mode], fp, 10);
        }
        int speakers_scored = 0; /* translation alone (--st-input text) scores no speaker */
        for (int i = 0; i < r->n_speakers; i++) speakers_scored += speaker_scored(&r->per_speaker[mode][i]);
        if (speakers_scored > 1) {
            int beam = r->cfg.ctc_beam > 1;
            const int asr = r->cfg.asr, lid = r->cfg.lid;
            fprintf(fp, "per speaker%s:\n", asr ? " (CER: mean over the speaker's languages)" : "");
            int width = 10; /* the names' column: "festival:cmu_us_slt_arctic_hts" is 30 */
            for (int i = 0; i < r->n_speakers; i++)
                if ((int)strlen(r->speakers[i]) > width) width = (int)strlen(r->speakers[i]);
            fprintf(fp, "%-*s", width, "speaker");
            if (asr) fprintf(fp, " %6s %8s", "asr", "CER");
            if (asr && beam) fprintf(fp, " %8s", "CER-beam");
            if (lid) fprintf(fp, " %6s %8s", "lid", "LID");
            fputc('\n', fp);
            for (int i = 0; i < r->n_speakers; i++) {
                const eval_speaker *es = &r->per_speaker[mode][i];
                if (!speaker_scored(es)) continue; /* --max-items left all theirs out */
                fprintf(fp, "%-*s", width, r->speakers[i]);
                if (asr) {
                    fprintf(fp, " %6d", es->n_asr);
                    print_rate(fp, speaker_cer(r, es->greedy));
                }
                if (asr && beam) print_rate(fp, speaker_cer(r, es->beam));
                if (lid) {
                    fprintf(fp, " %6d", es->lid_total);
                    print_rate(fp, speaker_lid_accuracy(es));
                }
                fputc('\n', fp);
            }
        }
    }
}

static struct json_object *num(double x) { return isfinite(x) ? json_object_new_double(x) : NULL; }
/* A setting as it was given (0.8, not 0.800000011920929). */
static struct json_object *setting(float x) {
    char text[32];
    snprintf(text, sizeof text, "%g", (double)x);
    return isfinite(x) ? json_object_new_double_s(strtod(text, NULL), text) : NULL;
}

static struct json_object *bleu_json(const struct mslam_bleu_stats *st) {
    struct mslam_bleu b;
    mslam_bleu_compute(st, &b);
    struct json_object *o = json_object_new_object();
    json_object_object_add(o, "score", num(b.score));
    struct json_object *p = json_object_new_array();
    for (int k = 0; k < MSLAM_BLEU_ORDER; k++) json_object_array_add(p, num(b.precisions[k]));
    json_object_object_add(o, "precisions", p);
    json_object_object_add(o, "bp", num(b.bp));
    json_object_object_add(o, "hyp_len", json_object_new_int64((int64_t)b.hyp_len));
    json_object_object_add(o, "ref_len", json_object_new_int64((int64_t)b.ref_len));
    json_object_object_add(o, "segments", json_object_new_int64((int64_t)st->n_segments));
    return o;
}

char *eval_json(const eval_result *r) {
    struct json_object *root = json_object_new_object();
    json_object_object_add(root, "utterances", json_object_new_int(r->n_items));
    json_object_object_add(root, "bad_audio", json_object_new_int(r->n_bad_audio));
    json_object_object_add(root, "lid_unknown_language", json_object_new_int(r->n_unknown_lang));
    struct json_object *unknown = json_object_new_array();
    for (size_t i = 0; i < r->unknown_langs.n; i++)
        json_object_array_add(unknown, json_object_new_string(r->unknown_langs.items[i]));
    json_object_object_add(root, "lid_unknown_languages", unknown);
    json_object_object_add(root, "audio_seconds", num(r->seconds));
    json_object_object_add(root, "wall_seconds", num(r->wall_s));
    json_object_object_add(root, "st_input", json_object_new_string(eval_st_input_names[r->cfg.st_input]));
    const eval_config *c = &r->cfg;
    struct json_object *dec = json_object_new_object();
    json_object_object_add(dec, "ctc_beam", json_object_new_int(c->ctc_beam));
    json_object_object_add(dec, "lm", r->lm_name ? json_object_new_string(r->lm_name) : NULL);
    json_object_object_add(dec, "lm_weight", setting(c->lm_weight));
    json_object_object_add(dec, "lm_bonus", setting(c->lm_bonus));
    json_object_object_add(dec, "lid_lm_weight", setting(c->lid_lm_weight));
    json_object_object_add(dec, "st_beam", json_object_new_int(c->st_beam));
    json_object_object_add(dec, "length_penalty", setting(c->length_penalty));
    json_object_object_add(dec, "no_repeat_ngram", json_object_new_int(c->no_repeat_ngram));
    json_object_object_add(dec, "translation_lm",
                           r->translation_lm_name ? json_object_new_string(r->translation_lm_name) : NULL);
    json_object_object_add(dec, "translation_lm_weight", setting(c->translation_lm_weight));
    json_object_object_add(dec, "translation_memory", r->tm_name ? json_object_new_string(r->tm_name) : NULL);
    json_object_object_add(dec, "tm_min_similarity", setting(c->tm_min_similarity));
    json_object_object_add(root, "decoding", dec);
    for (int mode = 0; mode < EVAL_N_MODES; mode++) {
        if (!(r->cfg.modes & (1 << mode))) continue;
        struct json_object *mo = json_object_new_object(), *langs = json_object_new_object();
        if (mode == EVAL_STREAMING) {
            json_object_object_add(mo, "chunk_frames", json_object_new_int(r->cfg.chunk_frames));
            json_object_object_add(mo, "left_chunks", json_object_new_int(r->cfg.left_chunks));
        }
        for (int l = 0; l < r->n_langs; l++) {
            const eval_lang *el = &r->per_lang[mode][l];
            if (!el->n_asr && !el->n_st) continue;
            struct json_object *lo = json_object_new_object();
            json_object_object_add(lo, "asr_utterances", json_object_new_int(el->n_asr));
            if (el->n_asr) {
                json_object_object_add(lo, "cer", num(mslam_asr_acc_cer(&el->greedy)));
                json_object_object_add(lo, "wer", num(mslam_asr_acc_wer(&el->greedy)));
                if (r->cfg.ctc_beam > 1) {
                    json_object_object_add(lo, "cer_beam", num(mslam_asr_acc_cer(&el->beam)));
                    json_object_object_add(lo, "wer_beam", num(mslam_asr_acc_wer(&el->beam)));
                }
            }
            if (el->n_st) {
                json_object_object_add(lo, "bleu", bleu_json(&el->bleu));
                json_object_object_add(lo, "chrf", num(mslam_chrf_compute(&el->chrf)));
            }
            json_object_object_add(langs, *r->langs[l] ? r->langs[l] : "(none)", lo);
        }
        json_object_object_add(mo, "languages", langs);
        double cer, acc, bleu;
        eval_summary(r, mode, &cer, &acc, &bleu);
        json_object_object_add(mo, "mean_cer", num(cer));
        if (r->bleu[mode].n_segments) {
            json_object_object_add(mo, "bleu", bleu_json(&r->bleu[mode]));
            json_object_object_add(mo, "chrf", num(mslam_chrf_compute(&r->chrf[mode])));
            if (r->tm_name) json_object_object_add(mo, "st_from_memory", json_object_new_int(r->st_from_memory[mode]));
        }
        const mslam_confusion *cf = r->lid[mode];
        size_t nl = mslam_confusion_n_langs(cf);
        if (mslam_confusion_total(cf)) {
            struct json_object *lid = json_object_new_object(), *table = json_object_new_object();
            json_object_object_add(lid, "accuracy", num(acc));
            if (r->cfg.lid_seconds > 0) json_object_object_add(lid, "clip_seconds", num(r->cfg.lid_seconds));
            json_object_object_add(lid, "utterances", json_object_new_int64((int64_t)mslam_confusion_total(cf)));
            for (size_t i = 0; i < nl; i++) {
                struct json_object *row = NULL;
                for (size_t j = 0; j < nl; j++) {
                    size_t k = mslam_confusion_count(cf, i, j);
                    if (!k) continue;
                    if (!row) row = json_object_new_object();
                    json_object_object_add(row, mslam_confusion_lang(cf, j), json_object_new_int64((int64_t)k));
                }
                if (row) json_object_object_add(table, mslam_confusion_lang(cf, i), row);
            }
            json_object_object_add(lid, "confusion", table);
            json_object_object_add(mo, "lid", lid);
        }
        if (r->n_speakers) {
            struct json_object *speakers = json_object_new_object();
            for (int i = 0; i < r->n_speakers; i++) {
                const eval_speaker *es = &r->per_speaker[mode][i];
                if (!speaker_scored(es)) continue;
                struct json_object *so = json_object_new_object();
                json_object_object_add(so, "asr_utterances", json_object_new_int(es->n_asr));
                json_object_object_add(so, "cer", num(speaker_cer(r, es->greedy)));
                if (r->cfg.ctc_beam > 1) json_object_object_add(so, "cer_beam", num(speaker_cer(r, es->beam)));
                json_object_object_add(so, "lid_utterances", json_object_new_int(es->lid_total));
                json_object_object_add(so, "lid_accuracy", num(speaker_lid_accuracy(es)));
                json_object_object_add(speakers, r->speakers[i], so);
            }
            json_object_object_add(mo, "speakers", speakers);
        }
        json_object_object_add(root, mode_names[mode], mo);
    }
    const char *text = json_object_to_json_string_ext(root, JSON_C_TO_STRING_PRETTY | JSON_C_TO_STRING_NOSLASHESCAPE);
    char *copy = text ? strdup(text) : NULL;
    json_object_put(root);
    return copy;
}

/* ---- the subcommand ---- */

/* Every manifest's rows of the split: text pairs for eval_text_only, else speech. */
static int load_manifests(dataset *ds, gchar **paths, const eval_config *c, const char *layout, const char *lang,
                          const char *audio_dir, const char *split) {
    for (; *paths; paths++)
        if (eval_text_only(c) ? dataset_load_text_pairs(ds, *paths, split, 0)
                              : dataset_load_split(ds, *paths, layout, lang, audio_dir, split, "--split"))
            return -1;
    return 0;
}

/* The mask of the names that the list (commas, or a key file's semicolons) gives (bit k for names[k]); -1, and a
 * message naming the option, when an item is none of them. */
static int name_mask(const char *list, const char *const *names, int n_names, const char *option) {
    GString *choices = g_string_new(NULL);
    for (int k = 0; k < n_names; k++) g_string_append_printf(choices, "%s%s", k ? ", " : "", names[k]);
    struct strlist items = {0};
    int mask = strlist_split_list(&items, list) ? -1 : 0;
    for (size_t i = 0; i < items.n && mask >= 0; i++) {
        g_strstrip(items.items[i]);
        int k = 0;
        while (k < n_names && strcmp(items.items[i], names[k]) != 0) k++;
        if (k < n_names) {
            mask |= 1 << k;
        } else {
            fprintf(stderr, "mslam-trainer eval: %s: '%s' is not one of %s\n", option, items.items[i], choices->str);
            mask = -1;
        }
    }
    if (mask == 0) {
        fprintf(stderr, "mslam-trainer eval: %s names none of %s\n", option, choices->str);
        mask = -1;
    }
    strlist_free(&items);
    g_string_free(choices, TRUE);
    return mask;
}

/* c->vk for --device (NULL: the CPU); a failure names the option. */
static int open_device(eval_config *c, const mslam_model *m, enum mslam_device device) {
    if (!mslam_vk_open(&c->vk, m, device)) return 0;
    char why[512];
    snprintf(why, sizeof why, "%s", mslam_last_error());
    return mslam_error("--device vulkan: %s", why);
}

/* --lm, --translation-lm and --translation-memory that nothing scored reads: the LM without a
 * CTC search (the tasks decode no transcript, or decode it greedily: --ctc-beam 1) and without
 * language ID to weigh; the translation LM and the memory without translations. */
static int warn_lm_unused(const eval_config *c, const struct mslam_model_config *cfg, const char *lm_path,
                          const char *translation_lm_path, const char *tm_path) {
    /* language ID reads it: scored, or finding the English speech a translation takes as it is */
    int lid_lm = c->lid_lm_weight > 0 &&
                 (c->lid || (c->st && cfg->ctc_head && cfg->lid_head && c->st_input != EVAL_ST_TEXT));
    if (c->lm && !decodes_ctc(c) && !lid_lm)
        mslam_log(MSLAM_LOG_WARN, "--lm %s is not used: the tasks scored decode no CTC transcript%s", lm_path,
                  c->st && c->st_input == EVAL_ST_SPEECH
                      ? " (the decoder translates the speech; --st-input transcript would read one)"
                      : "");
    else if (c->lm && c->ctc_beam <= 1 && !lid_lm)
        mslam_log(MSLAM_LOG_WARN, "--lm %s works in the prefix beam search: with --ctc-beam 1 recognition does not "
                  "use it (give --ctc-beam 2 or more)", lm_path);
    if (c->translation_lm && !c->st)
        mslam_log(MSLAM_LOG_WARN, "--translation-lm %s is not used: no translation is scored (--tasks st)",
                  translation_lm_path);
    if (c->tm && !c->st)
        mslam_log(MSLAM_LOG_WARN, "--translation-memory %s is not used: no translation is scored (--tasks st)",
                  tm_path);
    return 0;
}

/* A warning naming the data's languages that --lm has no model of: recognition picks the LM of
 * the language that language ID finds among the LM's (mslam_transcribe's rule), so their
 * utterances are decoded with another language's LM. */
static int warn_languages_without_lm(const dataset *ds, const eval_config *c, const char *lm_path) {
    if (!c->lm || !c->asr || c->ctc_beam <= 1) return 0;
    struct strlist seen;
    if (langs_build(ds, &seen)) return -1;
    GString *missing = g_string_new(NULL);
    for (size_t i = 0; i < seen.n; i++)
        if (mslam_lm_lang_index(c->lm, seen.items[i]) < 0)
            g_string_append_printf(missing, "%s%s", missing->len ? " " : "", seen.items[i]);
    if (missing->len)
        mslam_log(MSLAM_LOG_WARN, "--lm %s has no model of %s: those utterances are decoded with the LM of the "
                  "language that language ID picks among the LM's (build it with those languages, or leave --lm out)",
                  lm_path, missing->str);
    strlist_free(&seen);
    g_string_free(missing, TRUE);
    return 0;
}

/* Tasks named by --tasks need their heads; by default eval scores the heads there are (so that
 * the tables have no columns of a task the model cannot do), and a model needs one. */
static int check_tasks(eval_config *c, const mslam_model *m, int named) {
    if (!m->cfg.ctc_head && !m->cfg.lid_head && m->cfg.n_decoder_layers <= 0)
        return mslam_error("the model has no head to score (an encoder alone, e.g. pre-trained with --ctc-weight 0): "
                           "train one on it first (mslam-trainer train --init, --freeze-encoder for a probe)");
    if (!named) {
        c->asr = m->cfg.ctc_head;
        c->lid = m->cfg.lid_head;
        c->st = m->cfg.n_decoder_layers > 0;
        return 0;
    }
    if (c->asr && !m->cfg.ctc_head) return mslam_error("--tasks asr: the model has no CTC head");
    if (c->lid && !m->cfg.lid_head) return mslam_error("--tasks lid: the model has no language-ID head");
    if (c->st && m->cfg.n_decoder_layers <= 0) return mslam_error("--tasks st: the model has no translation decoder");
    return 0;
}

/* Ctrl-C, SIGTERM or SIGHUP during an evaluation: the temporary files of its outputs go (the
 * outputs stay as they were), then the signal's own action ends the process. The names are
 * copies: a commit frees the atomic_file's (after its rename, unlinking the name is harmless). */
static char outputs_in_progress[2][4096];

static void remove_outputs_in_progress(int sig) {
    for (int i = 0; i < 2; i++)
        if (outputs_in_progress[i][0]) unlink(outputs_in_progress[i]);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* Watches the temporary files of json and hyps (either NULL) through the stop signals, keeping
 * the handlers it replaces in saved; watch_outputs_end puts them back. */
static void watch_outputs(const struct atomic_file *json, const struct atomic_file *hyps,
                          struct sigaction saved[N_STOP_SIGNALS]) {
    const char *tmp[2] = {json ? json->tmp : NULL, hyps ? hyps->tmp : NULL};
    for (int i = 0; i < 2; i++)
        snprintf(outputs_in_progress[i], sizeof outputs_in_progress[i], "%s",
                 tmp[i] && strlen(tmp[i]) < sizeof outputs_in_progress[i] ? tmp[i] : "");
    stop_signals_catch(remove_outputs_in_progress, saved);
}

static void watch_outputs_end(const struct sigaction saved[N_STOP_SIGNALS]) {
    stop_signals_restore(saved);
    outputs_in_progress[0][0] = outputs_in_progress[1][0] = '\0';
}

int cmd_eval(int argc, char **argv) {
    eval_config c = eval_default_config();
    gchar **data = NULL; /* manifests, one or several */
    gchar *model_path = NULL, *split = g_strdup("test"), *layout = NULL, *lang = NULL,
          *audio_dir = NULL, *json_path = NULL, *hyps_path = NULL, *modes = g_strdup("offline,streaming"), *tasks = NULL, *device = NULL;
    int threads = 0;
    double length_penalty = c.length_penalty, lid_seconds = 0, lm_weight = c.lm_weight, lm_bonus = c.lm_bonus,
           lid_lm_weight = c.lid_lm_weight, translation_lm_weight = c.translation_lm_weight,
           tm_min_similarity = c.tm_min_similarity;
    gchar *lm_path = NULL, *st_input = NULL, *translation_lm_path = NULL, *tm_path = NULL;
    GOptionEntry entries[] = {
        {"model", 0, 0, G_OPTION_ARG_STRING, &model_path, "model or checkpoint to evaluate", "FILE"},
        {"data", 0, 0, G_OPTION_ARG_STRING_ARRAY, &data, "manifest (mslam TSV or a corpus folder, Common Voice, CoVoST-2, FLEURS); several --data are scored together", "MANIFEST"},
        {"split", 0, 0, G_OPTION_ARG_STRING, &split, "split to score: test (default), dev, train or all", "SPLIT"},
        {"layout", 0, 0, G_OPTION_ARG_STRING, &layout, "manifest layout (default: from the header)", "NAME"},
        {"lang", 0, 0, G_OPTION_ARG_STRING, &lang, "language of every row, for layouts without one", "CODE"},
        {"audio-dir", 0, 0, G_OPTION_ARG_STRING, &audio_dir, "folder of the audio files", "DIR"},
        {"modes", 0, 0, G_OPTION_ARG_STRING, &modes, "offline, streaming, or both as offline,streaming (the default)", "LIST"},
        {"tasks", 0, 0, G_OPTION_ARG_STRING, &tasks, "asr, lid, st, comma-separated (default: every head the model has)", "LIST"},
        {"chunk", 0, 0, G_OPTION_ARG_INT, &c.chunk_frames, "streaming chunk in encoder frames of 40 ms (default 8)", "N"},
        {"left-chunks", 0, 0, G_OPTION_ARG_INT, &c.left_chunks, "streaming left context in chunks; -1: all (default 4)", "N"},
        {"ctc-beam", 0, 0, G_OPTION_ARG_INT, &c.ctc_beam, "CTC prefix beam width; 1: greedy only (default 8)", "N"},
        {"st-beam", 0, 0, G_OPTION_ARG_INT, &c.st_beam, "translation beam width; 1: greedy (default 4)", "N"},
        {"st-input", 0, 0, G_OPTION_ARG_STRING, &st_input,
         "what the translation decoder reads: speech (the encoder's frames), text (the reference "
         "transcript through the encoder's text path; with --tasks st alone no audio is read, and text pairs without "
         "audio count too) or transcript (the CTC transcript, beam and LM as for ASR, "
         "through the text path: a cascade); default: speech or transcript, as the model's translate_input says "
         "its decoder was trained", "NAME"},
        {"max-len", 0, 0, G_OPTION_ARG_INT, &c.st_max_len, "longest translation in characters (default 300; 0: no limit but the decoder's own, one character per encoder frame or two per source character, plus 10)", "N"},
        {"length-penalty", 0, 0, G_OPTION_ARG_DOUBLE, &length_penalty, "beam score = logp / (length + 1)^X (default 1)", "X"},
        {"no-repeat-ngram", 0, 0, G_OPTION_ARG_INT, &c.no_repeat_ngram,
         "translation: no N characters twice in one hypothesis; 0: off (default 8)", "N"},
        {"batch-size", 0, 0, G_OPTION_ARG_INT, &c.batch_size, "utterances encoded together (default 8)", "N"},
        {"max-items", 0, 0, G_OPTION_ARG_INT, &c.max_items, "score at most N utterances, spread over the set (default 0: all)", "N"},
        {"lid-seconds", 0, 0, G_OPTION_ARG_DOUBLE, &lid_seconds,
         "language ID on each utterance's first S seconds only (default 0: the whole utterance)", "S"},
        {"lm", 0, 0, G_OPTION_ARG_STRING, &lm_path,
         "character LM (mslam-trainer lm): fused into the CTC beam in the language LID finds, and into LID", "FILE"},
        {"lm-weight", 0, 0, G_OPTION_ARG_DOUBLE, &lm_weight, "CTC beam: weight of log p_lm (default 0.8)", "X"},
        {"lm-bonus", 0, 0, G_OPTION_ARG_DOUBLE, &lm_bonus, "CTC beam: score added per character (default 2.5)", "X"},
        {"lid-lm-weight", 0, 0, G_OPTION_ARG_DOUBLE, &lid_lm_weight,
         "language ID: weight of the greedy transcript's log p_lm per language; 0: LID head only (default 0.1)", "X"},
        {"translation-lm", 0, 0, G_OPTION_ARG_STRING, &translation_lm_path,
         "LM of English translations (mslam-trainer lm --translations): fused into the translation beam", "FILE"},
        {"translation-lm-weight", 0, 0, G_OPTION_ARG_DOUBLE, &translation_lm_weight,
         "translation beam: weight of log p_lm (default 0.2)", "X"},
        {"translation-memory", 0, 0, G_OPTION_ARG_STRING, &tm_path,
         "translation memory (mslam-trainer tm): a transcript (the reference's under --st-input text, else the CTC "
         "one) whose nearest known sentence is similar enough takes its translation, else the decoder translates",
         "FILE"},
        {"tm-min-similarity", 0, 0, G_OPTION_ARG_DOUBLE, &tm_min_similarity,
         "translation memory: least similarity (1 - edit distance / longer length) a match needs (default 0.5)", "X"},
        {"threads", 0, 0, G_OPTION_ARG_INT, &threads, "threads (default 0: all cores)", "N"},
        {"device", 0, 0, G_OPTION_ARG_STRING, &device,
         "where the encoder runs: cpu (default), vulkan (any Vulkan device; MSLAM_VULKAN_DEVICE picks one) or auto "
         "(a GPU through Vulkan when there is one); the heads, decoder and searches run on the CPU",
         "DEVICE"},
        {"json", 0, 0, G_OPTION_ARG_STRING, &json_path, "also write the scores as JSON to FILE (-: stdout, the table then on stderr)", "FILE"},
        {"hyps", 0, 0, G_OPTION_ARG_STRING, &hyps_path,
         "also write every hypothesis to FILE (TSV: mode, task, path, lang, speaker, reference, hypothesis)", "FILE"},
        G_OPTION_ENTRY_NULL};
    int n_rest;
    char **rest = NULL;
    int parsed = options_parse("eval", entries, argc, argv, "",
                               "Scores a model: CER/WER per language (CTC greedy and prefix beam), LID accuracy "
                               "and confusions, BLEU and chrF of translations, offline and streaming.",
                               "Transcripts are compared after Unicode normalisation (NFKC, case folding, "
                               "punctuation and symbols removed, spaces collapsed; no spaces at all for languages "
                               "written without them). BLEU and chrF are sacreBLEU's defaults (13a tokens, corpus "
                               "level, exponential smoothing; chrF2 over 6-grams).",
                               &n_rest, &rest);
    int rc = parsed > 0 ? 0 : (parsed < 0 ? 2 : 0);
    if (!parsed && n_rest > 0) {
        fprintf(stderr, "mslam-trainer eval: unexpected argument '%s'\n", rest[1]);
        rc = 2;
    }
    g_strfreev(rest);
    if (!parsed && !rc && (!model_path || !data || !data[0])) {
        fprintf(stderr, "mslam-trainer eval: --model and --data are required (see --help)\n");
        rc = 2;
    }
    /* the decoder takes floats: a larger value would reach it as inf, and be reported so */
    const struct {
        const char *option;
        double value;
    } float_options[] = {{"--length-penalty", length_penalty}, {"--lm-weight", lm_weight}, {"--lm-bonus", lm_bonus},
                         {"--lid-lm-weight", lid_lm_weight}, {"--translation-lm-weight", translation_lm_weight}};
    for (size_t i = 0; !parsed && !rc && i < G_N_ELEMENTS(float_options); i++)
        if (fabs(float_options[i].value) > FLT_MAX && isfinite(float_options[i].value)) {
            mslam_error("%s %g is out of range (at most %g)", float_options[i].option, float_options[i].value,
                        (double)FLT_MAX);
            fprintf(stderr, "mslam-trainer eval: %s\n", mslam_last_error());
            rc = 2;
        }
    if (!parsed && !rc) {
        c.length_penalty = (float)length_penalty;
        struct mslam_decode_params weights = mslam_decode_default_params();
        weights.lm_weight = c.lm_weight = (float)lm_weight;
        weights.lm_bonus = c.lm_bonus = (float)lm_bonus;
        weights.lid_lm_weight = c.lid_lm_weight = (float)lid_lm_weight;
        weights.translation_lm_weight = c.translation_lm_weight = (float)translation_lm_weight;
        if (lm_check_weights(&weights, "--lm-weight, --lm-bonus, --lid-lm-weight, --translation-lm-weight")) {
            fprintf(stderr, "mslam-trainer eval: %s\n", mslam_last_error());
            rc = 2;
        }
        c.tm_min_similarity = (float)tm_min_similarity;
        if (!(tm_min_similarity >= 0 && tm_min_similarity <= 1)) {
            fprintf(stderr, "mslam-trainer eval: --tm-min-similarity must be in [0, 1] (it is %g)\n",
                    tm_min_similarity);
            rc = 2;
        }
        c.lid_seconds = (float)lid_seconds;
        c.modes = name_mask(modes, mode_names, EVAL_N_MODES, "--modes");
        if (c.modes < 0) rc = 2, c.modes = 1 << EVAL_OFFLINE;
        if (tasks) {
            static const char *const task_names[] = {"asr", "lid", "st"};
            int mask = name_mask(tasks, task_names, 3, "--tasks");
            if (mask < 0) rc = 2, mask = 0;
            c.asr = (mask & 1) != 0;
            c.lid = (mask & 2) != 0;
            c.st = (mask & 4) != 0;
        }
        if (st_input) {
            c.st_input = -1;
            for (int k = 0; k < EVAL_ST_N_INPUTS; k++)
                if (!strcmp(st_input, eval_st_input_names[k])) c.st_input = k;
            if (c.st_input < 0) {
                fprintf(stderr, "mslam-trainer eval: --st-input '%s': expected speech, text or transcript\n", st_input);
                rc = 2;
            }
        }
        /* each names the option and the value given */
        char bad_text[160] = "", *bad = NULL;
#define EVAL_BAD(...) (snprintf(bad_text, sizeof bad_text, __VA_ARGS__), bad = bad_text)
        if (!c.modes) EVAL_BAD("--modes needs offline and/or streaming");
        else if (c.chunk_frames < 1 || c.chunk_frames > STREAM_MAX_CHUNK_FRAMES)
            EVAL_BAD("--chunk %d: must be 1..%d (as a stream's chunk)", c.chunk_frames, STREAM_MAX_CHUNK_FRAMES);
        else if (c.left_chunks < -1) EVAL_BAD("--left-chunks %d: must be -1 (all) or more", c.left_chunks);
        else if (c.ctc_beam < 1 || c.ctc_beam > CTC_MAX_BEAM)
            EVAL_BAD("--ctc-beam %d: must be 1..%d", c.ctc_beam, CTC_MAX_BEAM);
        else if (c.st_beam < 1 || c.st_beam > DECODER_MAX_BEAM)
            EVAL_BAD("--st-beam %d: must be 1..%d", c.st_beam, DECODER_MAX_BEAM);
        else if (!(length_penalty >= 0 && length_penalty <= 10))
            EVAL_BAD("--length-penalty %g: must be in [0, 10]", length_penalty);
        else if (c.st_max_len < 0) EVAL_BAD("--max-len %d: must be 0 (the decoder's limit) or more", c.st_max_len);
        else if (c.no_repeat_ngram < 0) EVAL_BAD("--no-repeat-ngram %d: must be 0 (off) or more", c.no_repeat_ngram);
        else if (c.batch_size < 1) EVAL_BAD("--batch-size %d: must be at least 1", c.batch_size);
        else if (c.max_items < 0) EVAL_BAD("--max-items %d: must be 0 (all) or more", c.max_items);
        else if (!(lid_seconds == 0 || (lid_seconds >= 0.04 && lid_seconds < 1e6)))
            EVAL_BAD("--lid-seconds %g: must be 0 (all) or from 0.04 (one encoder frame) to below 1000000", lid_seconds);
        else if (threads < 0) EVAL_BAD("--threads %d: must be 0 (all cores) or more", threads);
        else if (device && strcmp(device, "cpu") && strcmp(device, "vulkan") && strcmp(device, "auto"))
            EVAL_BAD("--device %s: must be cpu, vulkan or auto", device);
#undef EVAL_BAD
        if (bad) {
            fprintf(stderr, "mslam-trainer eval: %s\n", bad);
            mslam_error("%s", bad); /* for callers in the same process, as the other usage errors */
            rc = 2;
        } else if (split_option(split) < 0) {
            fprintf(stderr, "mslam-trainer eval: %s\n", mslam_last_error());
            rc = 2;
        }
    }
    /* the outputs must not be inputs, nor each other, nor have an input or the other for their
     * temporary file; a failed evaluation leaves them as they were (written through FILE.tmp,
     * renamed at the end) */
    const char *const inputs[][2] = {{"--model", model_path}, {"--lm", lm_path},
                                     {"--translation-lm", translation_lm_path}, {"--translation-memory", tm_path}};
    int json_to_stdout = json_path && !strcmp(json_path, "-");
    const char *outputs[][2] = {{"--json", json_to_stdout ? NULL : json_path}, {"--hyps", hyps_path}};
    if (!parsed && !rc && hyps_path && !strcmp(hyps_path, "-")) {
        fprintf(stderr, "mslam-trainer eval: --hyps - : the hypotheses go to a file (standard output has the table, "
                "or --json -)\n");
        rc = 2;
    }
    if (!parsed && !rc)
        warn_paths_repeated("--data", (const char *const *)data, "its utterances are scored once more each time");
    for (int o = 0; o < 2 && !parsed && !rc; o++) {
        if (!outputs[o][1]) continue;
        int same = options_check_output(outputs[o][0], outputs[o][1], argc, argv) ||
                   check_atomic_output_not_input(outputs[o][0], outputs[o][1], "--data", (const char *const *)data);
        for (size_t i = 0; i < sizeof inputs / sizeof inputs[0] && !same; i++)
            same = check_atomic_output_not_input(outputs[o][0], outputs[o][1], inputs[i][0],
                                                 (const char *const[]){inputs[i][1], NULL});
        if (!same && o == 1 && outputs[0][1])
            same = check_outputs_apart(outputs[0][0], outputs[0][1], outputs[1][0], outputs[1][1]);
        if (same) {
            fprintf(stderr, "mslam-trainer eval: %s\n", mslam_last_error());
            rc = 2;
        }
    }
    mslam_model *m = NULL;
    mslam_lm *lm = NULL, *translation_lm = NULL;
    mslam_tm *tm = NULL;
    dataset ds = {0};
    eval_result r = {0};
    struct atomic_file json_file = {0}, hyps_file = {0};
    if (!parsed && !rc && ((json_path && !json_to_stdout && atomic_file_open(&json_file, json_path)) ||
                           (hyps_path && atomic_file_open(&hyps_file, hyps_path)))) {
        fprintf(stderr, "mslam-trainer eval: %s\n", mslam_last_error());
        rc = 1;
    }
    if ((c.hyps = hyps_file.f)) eval_hyps_header(c.hyps);
    struct sigaction saved_handlers[N_STOP_SIGNALS];
    int watching = json_file.f || hyps_file.f;
    if (watching) watch_outputs(json_file.f ? &json_file : NULL, hyps_file.f ? &hyps_file : NULL, saved_handlers);
    if (!parsed && !rc) {
        mslam_set_threads(threads > 0 ? threads : (int)sysconf(_SC_NPROCESSORS_ONLN));
        dataset_report rep;
        int loaded = !refuse_run_folder(model_path, "--model ", 0) && checkpoint_load(model_path, &m, NULL, NULL) == 0;
        if (loaded && !st_input) c.st_input = eval_st_input_of(&m->cfg);
        enum mslam_device dev = !device || !strcmp(device, "cpu") ? MSLAM_DEVICE_CPU
                                : !strcmp(device, "vulkan")       ? MSLAM_DEVICE_VULKAN
                                                                  : MSLAM_DEVICE_AUTO;
        if (!loaded || open_device(&c, m, dev) || check_tasks(&c, m, tasks != NULL) ||
            (lm_path && (!(c.lm = lm = mslam_lm_load(lm_path)) || lm_check_model(lm, m, 0, "--lm"))) ||
            (translation_lm_path && (!(c.translation_lm = translation_lm = mslam_lm_load(translation_lm_path)) ||
                                     lm_check_model(translation_lm, m, 1, "--translation-lm"))) ||
            (tm_path && c.st_input != EVAL_ST_TEXT && !m->cfg.ctc_head &&
             mslam_error("--translation-memory matches the CTC transcript, but the model has no CTC head (use "
                         "--st-input text)")) ||
            (tm_path && !(c.tm = tm = mslam_tm_load(tm_path))) ||
            load_manifests(&ds, data, &c, layout, lang, audio_dir, split) ||
            warn_lm_unused(&c, &m->cfg, lm_path, translation_lm_path, tm_path) || warn_languages_without_lm(&ds, &c, lm_path) ||
            (!eval_text_only(&c) && dataset_encode(&ds, m, 0, 0, &rep)) ||
            eval_model(m, &ds, &c, &r)) {
            fprintf(stderr, "mslam-trainer eval: %s\n", mslam_last_error());
            rc = 1;
        }
        if (!rc && !eval_text_only(&c)) r.n_bad_audio += rep.missing_audio + rep.empty_audio;
    }
    if (!parsed && !rc) {
        /* with the JSON on standard output, the table goes to standard error */
        FILE *table = json_to_stdout ? stderr : stdout;
        if (!m->cfg.causal_conv && (c.modes & (1 << EVAL_STREAMING)))
            fprintf(table, "note: the model's convolutions are not causal; a stream cannot run it, and the "
                           "streaming figures only show the chunked attention\n");
        eval_print(&r, table);
        if (json_path) {
            char *text = eval_json(&r);
            FILE *f = json_to_stdout ? stdout : json_file.f;
            if (!text) {
                rc = 1;
            } else if (fprintf(f, "%s\n", text) < 0 || fflush(f)) {
                rc = mslam_error("cannot write %s: %s", json_path, strerror(errno));
            } else if (!json_to_stdout) {
                rc = atomic_file_commit(&json_file);
            }
            if (rc) {
                fprintf(stderr, "mslam-trainer eval: %s\n", mslam_last_error());
                rc = 1;
            }
            free(text);
        }
        if (!rc && hyps_path && atomic_file_commit(&hyps_file)) {
            fprintf(stderr, "mslam-trainer eval: %s\n", mslam_last_error());
            rc = 1;
        }
    }
    if (watching) watch_outputs_end(saved_handlers);
    atomic_file_abort(&json_file);
    atomic_file_abort(&hyps_file);
    eval_result_free(&r);
    dataset_free(&ds);
    mslam_lm_free(lm);
    mslam_lm_free(translation_lm);
    mslam_tm_free(tm);
    mslam_vk_close(c.vk);
    mslam_model_free(m);
    options_free(entries);
    return rc;
}
