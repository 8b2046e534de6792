/* Searches: CTC greedy and prefix beam search over per-frame log-probabilities, and beam search
 * (greedy as beam 1) with the Transformer decoder.
 *
 * All scores are natural-log probabilities. Frames are encoder frames (25 per second). */
#ifndef MSLAM_SEARCH_H
#define MSLAM_SEARCH_H

#include "decoder.h"
#include "lm.h"
#include "params.h"

typedef struct {
    int id;
    int frame;  /* CTC: frame at which the token is emitted (greedy: the first of its run; beam:
                 * its likeliest, ctc_beam_best); decoder: -1 */
    float logp; /* CTC: log-prob of the token at that frame; decoder: log p(token | prefix, audio) */
} search_token;

/* A finished search: tokens (malloc'd, n entries; search_result_free releases them). */
typedef struct {
    search_token *tokens;
    int n;
    double logp;  /* CTC: log p(token sequence | frames), summed over alignments (greedy: of the
                   * best path); decoder: sum of the tokens' and the end of sentence's log-probs */
    double score; /* what the search ranked by: CTC logp (+ the LM's part, with one); decoder
                   * logp (+ the LM's part, with one) / (n + 1)^length_penalty */
} search_result;

void search_result_free(search_result *r);

/* ---- CTC greedy: per frame the most likely label; repeats collapse, blanks drop ----
 * log_probs (T, V); frames are numbered from frame0. *prev carries the previous frame's label
 * across calls (CTC_BLANK at the start of a segment), so a sequence can be fed in chunks.
 * Writes the emitted tokens to out (room for T) and returns their count. */
int ctc_greedy(const float *log_probs, int T, int V, int frame0, int *prev, search_token *out);

/* ---- CTC prefix beam search (Hannun et al. 2014), log space, prefixes merged exactly ----
 * Each prefix keeps the log-probabilities of the alignments of the frames so far that produce it
 * and end in a blank (pb) or in its last label (pnb); after each frame the beam_size prefixes of
 * largest pb + pnb survive. Prefixes are nodes of a trie (one node per distinct prefix), so two
 * ways of reaching a prefix always merge. Frames can be fed in chunks (streaming). */
typedef struct {
    int beam_size, V;
    float token_min_logp; /* a label less likely than this at a frame does not extend prefixes
                           * (-INFINITY: exact search) */
    /* trie: node 0 is the empty prefix; a node's parent has a smaller id */
    int *parent, *token, *frame, *depth;
    float *token_logp;
    int n_nodes, node_cap;
    int *child;            /* open addressing (parent, token) -> node, child_cap slots (-1: free) */
    int child_cap;
    /* the beam */
    int *node;
    double *pb, *pnb;
    int n_beams;
    int root_last;         /* the label the empty prefix's alignments end in (-1: blank): the last
                            * segment's, when a segment ends mid-label (ctc_beam_continue) */
    /* candidates of one frame: (parent, token) keys in an open-addressing table */
    struct ctc_candidate *cand;
    int *cand_slot, cand_cap, n_cand, slot_cap;
    int *labels;           /* (V) labels that pass token_min_logp at the current frame */
    int *mark;             /* (node_cap) compaction */
    /* shallow fusion (lm NULL: none): prefixes rank by log p_ctc + fused[node], where fused is
     * lm_weight * log p_lm(prefix) + lm_bonus * characters */
    const mslam_lm *lm;
    const lm_table *lm_lang;
    float lm_weight, lm_bonus;
    double *fused;         /* (node_cap) */
    /* the segment's frames, for the tokens' times (ctc_beam_best): each frame's CTC_ALIGN_LABELS
     * likeliest labels but the blank, from frame align_first on (align_frames of them) */
    struct ctc_frame_label *align;
    int align_first, align_frames, align_cap;
} ctc_beam;

/* Labels kept per frame to time the tokens: a token's spike is its frame's likeliest label or
 * close to it. */
#define CTC_ALIGN_LABELS 8
struct ctc_frame_label {
    int id;
    float logp;
};

/* The CTC prefix search's largest beam (ctc_beam_init, and so mslam_ctc_decoder_new, refuse more). */
#define CTC_MAX_BEAM 1024
/* Returns 0 or -1 (bad parameters or out of memory, error recorded). */
int ctc_beam_init(ctc_beam *s, int beam_size, int V, float token_min_logp);
/* Shallow fusion with language lang of lm from the next reset on (lm NULL: none). */
void ctc_beam_set_lm(ctc_beam *s, const mslam_lm *lm, int lang, float weight, float bonus);
/* Back to the empty prefix (a new segment). */
void ctc_beam_reset(ctc_beam *s);
/* The same, for a segment that follows at once: when the best prefix's alignments end more
 * likely in its last label than in a blank (the segment ended mid-label), the new segment's
 * frames of that label are its continuation, not a new character. */
void ctc_beam_continue(ctc_beam *s, int final);
/* Feeds log_probs (T, V) of frames frame0 .. frame0 + T - 1. Returns 0 or -1 (out of memory). */
int ctc_beam_step(ctc_beam *s, const float *log_probs, int T, int frame0);
/* The most probable prefix so far (with an LM: its score with the end of sentence when final).
 * Its tokens are timed at their spikes: of the frames from each token's entry into the beam on
 * where its label is among the frame's kept likeliest, the strictly increasing ones (two apart
 * for a repeated label) of largest total log-probability; each token's log-probability is its
 * frame's. The entry alone was often an early frame of a small probability, kept while the
 * prefix stayed in the beam, so that a wider beam or an LM gave lower confidences and earlier
 * times for the same text. Returns 0 or -1 (out of memory). */
int ctc_beam_best(const ctc_beam *s, int final, search_result *out);
void ctc_beam_free(ctc_beam *s);

/* ---- decoder beam search ----
 * Hypotheses grow one token per step from "<s>"; the step-t candidates are the 2 * beam_size best
 * one-token extensions of the live hypotheses. Walking them best first, one that ends the
 * sentence finishes when it ranks among the first beam_size, the others fill the next beam (up to
 * beam_size). The search stops when beam_size hypotheses have finished or none is live; after
 * max_len tokens only the end of sentence may follow. The result is the finished hypothesis of
 * best score = logp / (n_tokens + 1)^length_penalty. Beam 1 is the greedy argmax decoder.
 * With no_repeat_ngram = n, a token that would complete an n-gram the hypothesis already holds is
 * not generated (fairseq's and Hugging Face's no_repeat_ngram_size, over characters here).
 * With an LM (shallow fusion, Gulcehre et al. 2015), candidates rank by the sum over their
 * tokens of log p_decoder + lm_weight * log p_lm, and only tokens within DECODER_LM_WINDOW nats
 * of their hypothesis's likeliest next token are candidates; the result's logp stays the
 * decoder's. */
#define DECODER_LM_WINDOW 10.0f
/* The decoder's largest beam (decoder_beam_search refuses more). */
#define DECODER_MAX_BEAM 256
#define DECODER_MAX_LEN (1 << 16) /* the most tokens a decoder search writes (and no_repeat_ngram's largest n) */
typedef struct {
    int beam_size;               /* >= 1 */
    int max_len;                 /* >= 0: tokens before the end of sentence */
    float length_penalty;        /* >= 0 */
    int no_repeat_ngram;         /* > 0: no hypothesis holds the same n tokens twice (loops such as
                                  * "a new new new"); 0: off */
    const unsigned char *banned; /* (V) or NULL: tokens never generated ("<s>", "<blank>") */
    const lm_table *lm;          /* NULL: none; else a character LM of the text the decoder writes
                                  * (the model's vocabulary) */
    float lm_weight;             /* >= 0; 0: the LM is not used */
    mslam_abort *abort;          /* asked before each step (NULL: none); when it stops the search,
                                  * the search fails */
} decoder_search_params;

/* The search's limits on its params (max_len as the search takes it: 0 or more), or -1 with an
 * error that who (a public function, "decoder search") begins. */
int decoder_search_check(int beam_size, int max_len, float length_penalty, int no_repeat_ngram, const char *who);

/* enc (T, d), T >= 1, one utterance; cache is reused across calls. Returns 0 or -1. */
int decoder_beam_search(decoder_cache *cache, const struct mslam_model_config *cfg, const mslam_params *P,
                        int bos, int eos, const float *enc, int T, const decoder_search_params *sp,
                        search_result *out);

#endif
