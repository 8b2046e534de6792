/* Evaluation of a model on a dataset: speech recognition (CER and WER per language, CTC greedy
 * and prefix beam search), language identification (accuracy, confusion table) and speech
 * translation (sacreBLEU BLEU and chrF, decoder beam search), each offline (full context) and
 * streaming (the chunked attention mask a stream uses, which gives a stream's exact output). */
#ifndef MSLAM_TRAINER_EVAL_H
#define MSLAM_TRAINER_EVAL_H

#include "data.h"
#include "metrics.h"
#include "model.h"

#include <signal.h>
#include <stdio.h>

enum { EVAL_OFFLINE, EVAL_STREAMING, EVAL_N_MODES };

/* What the translation decoder reads: the speech's encoder frames (end-to-end translation), the
 * reference transcript through the encoder's text path (text translation: how well the decoder
 * translates what was said, whatever the recognition), or the CTC transcript (prefix beam with
 * the LM when one is given, else greedy) through the text path (a cascade). */
enum { EVAL_ST_SPEECH, EVAL_ST_TEXT, EVAL_ST_TRANSCRIPT, EVAL_ST_N_INPUTS };
extern const char *const eval_st_input_names[EVAL_ST_N_INPUTS];

typedef struct {
    int modes;          /* bit (1 << EVAL_OFFLINE) | (1 << EVAL_STREAMING) */
    int chunk_frames;   /* streaming mode: encoder frames per chunk */
    int left_chunks;    /* streaming mode: left chunks seen (< 0: all) */
    int ctc_beam;       /* prefix beam width; <= 1: greedy only */
    int st_beam;        /* decoder beam width */
    int st_max_len;     /* characters a translation may have (and at most one per encoder
                         * frame plus 10: an untrained decoder stops early); 0: that limit alone */
    float length_penalty;
    int no_repeat_ngram; /* decoder search: see decoder_search_params */
    int st_input;       /* EVAL_ST_SPEECH, EVAL_ST_TEXT or EVAL_ST_TRANSCRIPT */
    int batch_size;     /* utterances encoded together */
    int max_items;      /* <= 0: all */
    float lid_seconds;  /* > 0: language ID on each utterance's first lid_seconds (a pass of its
                         * own: the encoder sees nothing after them); else on the whole */
    int asr, lid, st;   /* which tasks to score (those the model has heads for) */
    FILE *hyps;         /* not NULL: every hypothesis as a TSV row (eval_hyps_header) */
    const mslam_lm *lm; /* not NULL: the CTC beam fuses it (lm_weight, lm_bonus) in the language
                         * language ID finds, and language ID adds lid_lm_weight * its score */
    float lm_weight, lm_bonus, lid_lm_weight;
    const mslam_lm *translation_lm; /* not NULL: an LM of translations (its "text" says so), fused
                                     * into the decoder's beam search with translation_lm_weight */
    float translation_lm_weight;
    const mslam_tm *tm; /* not NULL: a source transcript whose nearest known sentence is at
                         * least tm_min_similarity similar takes its translation (tm_translate) */
    float tm_min_similarity;
    struct mslam_vk *vk; /* not NULL: the encoder's passes run on this Vulkan device (--device) */
    const volatile sig_atomic_t *cancel; /* not NULL: eval_model stops (returns 1) once it is non-zero */
} eval_config;

/* Columns of eval_config.hyps: mode (offline, streaming), task (asr, asr-beam, lid, st), audio
 * path, language, speaker, reference, hypothesis (tabs and line breaks as spaces). */
void eval_hyps_header(FILE *f);

eval_config eval_default_config(void);

/* Scores of one language in one mode. */
typedef struct {
    struct mslam_asr_acc greedy, beam; /* ASR */
    struct mslam_bleu_stats bleu;      /* ST from this language */
    struct mslam_chrf_stats chrf;
    int n_asr, n_st;
} eval_lang;

/* Scores of one speaker (voice) in one mode: ASR per language, greedy and prefix beam (its CER
 * is the mean over its languages, as the table's mean row) and LID hits. */
typedef struct {
    struct mslam_asr_acc *greedy, *beam; /* n_langs each */
    int n_asr, lid_total, lid_correct;
} eval_speaker;

typedef struct {
    int n_langs;
    char **langs;          /* dataset languages (copied) */
    eval_lang *per_lang[EVAL_N_MODES];
    int n_speakers;        /* named speakers of the dataset (0: none named) */
    char **speakers;
    eval_speaker *per_speaker[EVAL_N_MODES];
    mslam_confusion *lid[EVAL_N_MODES];
    struct mslam_bleu_stats bleu[EVAL_N_MODES]; /* all languages together */
    struct mslam_chrf_stats chrf[EVAL_N_MODES];
    int n_items;
    int n_bad_audio;       /* rows left out: unreadable, empty or too-short audio (warned each) */
    int n_unknown_lang;    /* utterances left out of LID: their language is not the model's */
    struct strlist unknown_langs; /* those languages */
    double seconds;        /* audio evaluated */
    double wall_s;         /* time it took */
    eval_config cfg;
    char *lm_name, *translation_lm_name; /* the LMs' files (copies; NULL: none), for the record */
    char *tm_name;                       /* the translation memory's file, likewise */
    int st_from_memory[EVAL_N_MODES];    /* translations the memory gave */
} eval_result;

/* Translation of reference transcripts only (--tasks st --st-input text): no audio is read, and
 * the rows are the manifest's text pairs (dataset_load_text_pairs), with audio or without. */
int eval_text_only(const eval_config *c);
/* The st_input a model's decoder was trained for (its config's translate_input): EVAL_ST_SPEECH
 * or EVAL_ST_TRANSCRIPT; what eval without --st-input and training's validation translate. */
int eval_st_input_of(const struct mslam_model_config *cfg);

/* Runs the model over ds (examples as dataset_encode left them, or as dataset_load_text_pairs did
 * when eval_text_only; the language of an example that the model does not know counts nothing
 * for LID). Returns 0, 1 when c->cancel stopped it (r holds nothing), or -1. */
int eval_model(mslam_model *m, const dataset *ds, const eval_config *c, eval_result *r);
void eval_result_free(eval_result *r);

/* Mean CER over languages (greedy), LID accuracy, corpus BLEU; NAN where not measured. */
void eval_summary(const eval_result *r, int mode, double *cer, double *lid_acc, double *bleu);

/* A table per mode on fp. */
void eval_print(const eval_result *r, FILE *fp);
/* The whole result as JSON text (malloc'd). */
char *eval_json(const eval_result *r);

#endif
