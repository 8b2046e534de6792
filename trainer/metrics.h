/* Evaluation metrics for `mslam-trainer eval`: pure functions of their inputs, no global state.
 *
 *   ASR  character and word error rates (CER, WER) after a fixed text normalisation, with
 *        substitutions, insertions and deletions counted separately and summed per language.
 *   ST   BLEU and chrF computed exactly as sacreBLEU 2.x does with its defaults
 *        (corpus_bleu: tokenize 13a, smooth 'exp', mixed case; corpus_chrf: chrF2, char order 6,
 *        word order 0, whitespace removed, effective-order averaging).
 *   LID  accuracy and a confusion table.
 *
 * Text is NUL-terminated UTF-8. Invalid UTF-8 never fails a call: each maximal ill-formed
 * subsequence (Unicode 14, section 3.9, "U+FFFD substitution of maximal subparts", the policy
 * of Python's bytes.decode(errors="replace")) reads as one U+FFFD, and the number of
 * substitutions is reported (n_invalid) so that the caller can warn about a broken file.
 *
 * Errors (NULL arguments, bad parameters, out of memory) return -1 or NULL and set
 * mslam_last_error(); nothing here aborts. */
#ifndef MSLAM_METRICS_H
#define MSLAM_METRICS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---------------------------------------------------------------------------------------- */
/* UTF-8                                                                                     */

/* A malloc'd copy of text (len bytes, which may include no NUL) with every maximal ill-formed
 * subsequence replaced by U+FFFD; *n_invalid (may be NULL) gets the number of replacements.
 * NULL on allocation failure. */
char *mslam_utf8_sanitize(const char *text, size_t len, size_t *n_invalid);

/* ---------------------------------------------------------------------------------------- */
/* Text normalisation for ASR scoring                                                        */

/* Flags for mslam_text_normalize; 0 is the full normalisation used by the ASR accumulators. */
enum mslam_norm_flags {
    MSLAM_NORM_KEEP_CASE = 1u << 0,    /* skip case folding */
    MSLAM_NORM_KEEP_PUNCT = 1u << 1,   /* keep general category P* */
    MSLAM_NORM_KEEP_SYMBOLS = 1u << 2, /* keep general category S* */
    MSLAM_NORM_NO_SPACES = 1u << 3,    /* drop all whitespace (scripts written without spaces) */
};

/* Normalises a transcript for CER/WER, in this order:
 *  1. invalid UTF-8 -> U+FFFD (counted in *n_invalid, which may be NULL);
 *  2. Unicode NFKC (ligatures split, full-width forms narrowed, combining accents composed);
 *  3. full case folding (Unicode CaseFolding.txt, status C and F, then NFKC again); lang (may
 *     be NULL) is a BCP 47 / ISO 639 code whose primary subtag, when Turkic (tr, tur, az, aze),
 *     adds the T mappings: "I" folds to dotless "ı" and "İ" to "i" (otherwise "I" -> "i" and
 *     "İ" -> "i" + U+0307);
 *  4. punctuation (P*) and symbols (S*) are removed: an apostrophe (U+0027 or U+2019) between
 *     two letters or marks (L* or M*) is deleted, so that contractions and elisions stay one word
 *     ("don't" -> "dont", "l'homme" -> "lhomme"); every other P* or S* code point becomes a
 *     space ("well-known" -> "well known", "U.S." -> "u s", "$5" -> "5"). Symbols go too because
 *     ASR references are inconsistent about writing "%", "+" or emoji, and a CTC character
 *     vocabulary rarely has them. U+FFFD (So) is the exception: it stays, so that garbage in a
 *     hypothesis counts as errors instead of vanishing;
 *  5. whitespace (Unicode White_Space) and control characters (Cc) collapse to one U+0020,
 *     leading and trailing spaces are trimmed; with MSLAM_NORM_NO_SPACES all of it is dropped.
 * Letters, marks (M*: needed by Indic and other scripts), digits and format characters (Cf:
 * ZWJ/ZWNJ matter in Persian and Indic scripts) are kept. Numbers are not spelled out.
 * Returns a malloc'd NUL-terminated string, or NULL with mslam_last_error() set. */
char *mslam_text_normalize(const char *text, const char *lang, unsigned flags, size_t *n_invalid);

/* ---------------------------------------------------------------------------------------- */
/* Edit distance, CER, WER                                                                   */

/* Counts of one minimum-cost alignment (Levenshtein: each substitution, insertion and deletion
 * costs 1). Where several alignments have the minimum cost, a match or substitution is preferred
 * to a deletion and a deletion to an insertion, scanning from the start, so the split is
 * deterministic. hits = ref_len - sub - del; hyp_len = ref_len - del + ins. */
struct mslam_edit_counts {
    size_t sub, ins, del;
    size_t ref_len;
};

/* Levenshtein alignment counts of two sequences of symbols (code points, word ids). O(n_ref *
 * n_hyp) time, O(n_hyp) memory. Returns 0, or -1 on allocation failure. */
int mslam_edit_distance(const uint32_t *ref, size_t n_ref, const uint32_t *hyp, size_t n_hyp,
                        struct mslam_edit_counts *out);

/* Adds c to acc (corpus-level sums). */
void mslam_edit_counts_add(struct mslam_edit_counts *acc, const struct mslam_edit_counts *c);

/* (sub + ins + del) / ref_len: a corpus-level rate is the ratio of the sums, not the mean of the
 * per-utterance rates. It can exceed 1 (insertions). NAN when ref_len is 0: a rate against an
 * empty reference is undefined, but the counts still add to a corpus total. */
double mslam_error_rate(const struct mslam_edit_counts *c);

/* Edit counts over code points (CER) and over words (WER) of two texts as they are: normalise
 * them first (mslam_text_normalize). Code points include spaces, as jiwer's CER does. Words are
 * maximal runs of non-whitespace (Unicode White_Space). Invalid UTF-8 reads as U+FFFD. */
int mslam_cer_counts(const char *ref, const char *hyp, struct mslam_edit_counts *out);
int mslam_wer_counts(const char *ref, const char *hyp, struct mslam_edit_counts *out);

/* Whether lang (BCP 47 or ISO 639; the primary subtag is read) is usually written without
 * spaces between words, so that WER is not meaningful: zh, ja, th, lo, km, my, bo, dz, yue, wuu
 * and their 3-letter codes. A default that callers may override. */
int mslam_lang_written_without_spaces(const char *lang);

/* Corpus-level ASR scores of one language. Initialise with mslam_asr_acc_init, add one
 * (reference, hypothesis) pair per utterance; both are normalised with norm_flags and lang. */
struct mslam_asr_acc {
    char lang[16];                  /* as given to init (truncated), used for case folding */
    unsigned norm_flags;            /* mslam_norm_flags; MSLAM_NORM_NO_SPACES when !wer_defined */
    int wer_defined;                /* 0: written without spaces; words are not counted */
    struct mslam_edit_counts chars; /* CER sums */
    struct mslam_edit_counts words; /* WER sums (all zero when !wer_defined) */
    size_t n_utts;
    size_t n_invalid; /* U+FFFD substitutions in references and hypotheses */
};

/* no_spaces: the language is written without spaces between words (the caller decides, e.g.
 * with mslam_lang_written_without_spaces). Then CER is computed with all whitespace removed,
 * as usual for Chinese and Japanese, and WER is not computed (mslam_asr_acc_wer gives NAN). */
void mslam_asr_acc_init(struct mslam_asr_acc *acc, const char *lang, int no_spaces);
int mslam_asr_acc_add(struct mslam_asr_acc *acc, const char *ref, const char *hyp);
double mslam_asr_acc_cer(const struct mslam_asr_acc *acc); /* NAN when no reference characters */
double mslam_asr_acc_wer(const struct mslam_asr_acc *acc); /* NAN when !wer_defined or no words */

/* ---------------------------------------------------------------------------------------- */
/* BLEU (sacreBLEU corpus_bleu defaults)                                                     */

#define MSLAM_BLEU_ORDER 4

/* mteval-v13a tokenisation as sacreBLEU's Tokenizer13a applied to an rstrip()ped segment:
 * "<skipped>" and "-\n" removed, "\n" -> " ", &quot; &amp; &lt; &gt; unescaped, ASCII
 * punctuation other than ' , - . split off, "." and "," split off unless both neighbours are
 * digits, "-" split off after a digit, whitespace (Python's str.split set) collapsed.
 * Returns a malloc'd string of tokens joined by single spaces, or NULL on allocation failure. */
char *mslam_tokenize_13a(const char *text, size_t *n_invalid);

/* Sufficient statistics, summed over segments. Zero-initialise ({0}) before the first add. */
struct mslam_bleu_stats {
    size_t hyp_len, ref_len;          /* tokens; ref_len sums the closest reference lengths */
    size_t correct[MSLAM_BLEU_ORDER]; /* clipped n-gram matches, n = 1..4 */
    size_t total[MSLAM_BLEU_ORDER];   /* hypothesis n-grams */
    size_t n_segments, n_invalid;
};

/* Adds one segment: its hypothesis and its n_refs >= 1 references (sacreBLEU's refs[k][i] for
 * segment i). With several references, n-gram counts are clipped by the maximum count in any
 * one reference and ref_len takes the reference length closest to the hypothesis length (the
 * shorter on a tie). */
int mslam_bleu_add(struct mslam_bleu_stats *st, const char *hyp, const char *const *refs,
                   size_t n_refs);

struct mslam_bleu {
    double score;                        /* 0..100 */
    double precisions[MSLAM_BLEU_ORDER]; /* percent, after smoothing */
    double bp, ratio;                    /* brevity penalty; hyp_len / ref_len (0 if ref_len 0) */
    size_t hyp_len, ref_len;
    size_t correct[MSLAM_BLEU_ORDER], total[MSLAM_BLEU_ORDER];
};

/* BLEU of the summed statistics as sacreBLEU's BLEU.compute_bleu(smooth_method='exp'):
 * BP = exp(1 - ref_len / hyp_len) when hyp_len < ref_len (0 when hyp_len is 0), else 1;
 * p_n = 100 correct_n / total_n, and an order with no match gets 100 / (2^k total_n) for its
 * k-th such order; score = BP exp(mean log p_n). No match at any order gives 0 with all
 * precisions 0; an order with no hypothesis n-gram at all gives 0. */
void mslam_bleu_compute(const struct mslam_bleu_stats *st, struct mslam_bleu *out);

/* sacreBLEU's score line: "BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944
 * hyp_len = 17 ref_len = 18)". Returns the length snprintf would write. */
int mslam_bleu_format(const struct mslam_bleu *b, char *buf, size_t size);

/* ---------------------------------------------------------------------------------------- */
/* chrF (sacreBLEU corpus_chrf defaults)                                                     */

#define MSLAM_CHRF_MAX_ORDER 10

struct mslam_chrf_params {
    int char_order;    /* 1..MSLAM_CHRF_MAX_ORDER; sacreBLEU: 6 */
    int beta;          /* >= 0; recall weighs beta times precision; sacreBLEU: 2 */
    int eps_smoothing; /* 0: sacreBLEU's default (effective order); 1: chrF++.py/NLTK/Moses */
};

struct mslam_chrf_params mslam_chrf_default_params(void);

/* Character n-gram statistics summed over segments: per order n, hypothesis n-grams, reference
 * n-grams, clipped matches. Whitespace is removed before n-grams are taken (sacreBLEU's
 * whitespace=False); n-grams are over code points. */
struct mslam_chrf_stats {
    struct mslam_chrf_params params;
    size_t hyp[MSLAM_CHRF_MAX_ORDER], ref[MSLAM_CHRF_MAX_ORDER], match[MSLAM_CHRF_MAX_ORDER];
    size_t n_segments, n_invalid;
};

/* Zeroes st and stores params; -1 when they are out of range. */
int mslam_chrf_init(struct mslam_chrf_stats *st, struct mslam_chrf_params params);

/* Adds one segment. As sacreBLEU: an order at which the reference has no n-gram adds no
 * hypothesis n-grams either; with several references, the statistics of the reference with the
 * highest segment-level chrF are added (the first on a tie). */
int mslam_chrf_add(struct mslam_chrf_stats *st, const char *hyp, const char *const *refs,
                   size_t n_refs);

/* chrF of the summed statistics, 0..100. Default (effective order): precision and recall are
 * averaged over the orders where both hypothesis and reference have n-grams, and one F-beta is
 * taken of the two averages (sacreBLEU >= 2.0 CHRF._compute_f_score, not a mean of per-order F).
 * eps_smoothing: the mean over all orders of per-order F-beta, with 1e-16 for an undefined P, R
 * or F. */
double mslam_chrf_compute(const struct mslam_chrf_stats *st);

/* "chrF2 = 67.65" (sacreBLEU's name: chrF followed by beta). */
int mslam_chrf_format(const struct mslam_chrf_stats *st, char *buf, size_t size);

/* ---------------------------------------------------------------------------------------- */
/* Language identification                                                                  */

typedef struct mslam_confusion mslam_confusion;

/* A table over n_langs >= 1 distinct language codes (copied). NULL on error. */
mslam_confusion *mslam_confusion_new(const char *const *langs, size_t n_langs);
void mslam_confusion_free(mslam_confusion *c);

/* Counts one utterance of reference language ref classified as hyp, by code or by index.
 * An unknown code or index is an error and counts nothing. */
int mslam_confusion_add(mslam_confusion *c, const char *ref, const char *hyp);
int mslam_confusion_add_index(mslam_confusion *c, size_t ref, size_t hyp);

size_t mslam_confusion_n_langs(const mslam_confusion *c);
const char *mslam_confusion_lang(const mslam_confusion *c, size_t i);  /* NULL out of range */
int mslam_confusion_index(const mslam_confusion *c, const char *lang); /* -1 when unknown */
/* Utterances of reference ref classified as hyp (0 out of range). */
size_t mslam_confusion_count(const mslam_confusion *c, size_t ref, size_t hyp);
size_t mslam_confusion_total(const mslam_confusion *c);
/* Correct / total over all utterances; NAN when there are none. */
double mslam_confusion_accuracy(const mslam_confusion *c);
/* Recall of one reference language (its row's diagonal share); NAN when its row is empty. */
double mslam_confusion_recall(const mslam_confusion *c, size_t ref);

/* Prints the overall accuracy, one line per language with utterances (count and recall), and
 * the max_pairs most frequent confusions "ref -> hyp: count (share of ref's utterances)", most
 * frequent first (ties in table order). Returns 0, or -1 when writing fails. */
int mslam_confusion_print(const mslam_confusion *c, FILE *fp, size_t max_pairs);

#endif
