/* mslam-trainer train: supervised training of the encoder with CTC (asr), language ID (lid)
 * and speech-translation decoder (st) heads, or all three at once (multi).
 *
 * A step: the next global batch of the epoch's plan is split over the processes; each loads
 * its share (log-mel on the fly, SpecAugment), runs the encoder under one attention mask
 * (chunked with random chunk sizes, or full context), the heads' losses and the backward pass;
 * the gradients are summed over the processes, clipped by their global norm and applied with
 * AdamW. Each loss is normalised by its count over the whole global batch (CTC: target
 * characters, LID: utterances, ST: target tokens), so K processes with batch B take the same
 * step as one process with batch K*B. With --text-data, each step also trains the decoder on
 * text pairs (transcript characters -> the encoder's text path -> decoder -> English), the
 * translation objective on text that mSLAM's shared encoder makes possible. */
#include "train.h"

#include "augment.h"
#include "checkpoint.h"
#include "common.h"
#include "data.h"
#include "decoder.h"
#include "dist.h"
#include "encoder.h"
#include "eval.h"
#include "heads.h"
#include "init.h"
#include "manifest.h"
#include "optim.h"
#include "pretrain.h"
#include "options.h"
#include "progress.h"
#include "safetensors.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum task { TASK_ASR = 1, TASK_LID = 2, TASK_ST = 4, TASK_MULTI = 7, TASK_PRETRAIN = 8 };
/* The validation score that picks OUT/best.safetensors (--best-metric). */
enum best_metric { BEST_NONE, BEST_CER, BEST_LID, BEST_BLEU };

#define ACCUMULATE_MAX 1024
#define DEFAULT_LR 1e-3
#define LR_WARN_ABOVE 0.1 /* a peak learning rate above this is warned of (warn_idle_settings) */
/* utterances or text pairs of a step and process, all micro-batches together */
#define BATCH_MAX (1 << 20)

typedef struct {
    gchar **data; /* manifests, one or several */
    gchar **data_weight; /* --data-weight: one per --data (NULL: each 1) */
    gchar **text_data_weight; /* --text-data-weight: one per --text-data (NULL: each 1) */
    /* their values (parse_weights; NULL: every row once an epoch, also for weights all 1) */
    double *data_weights, *text_data_weights;
    gchar *task, *split, *layout, *lang, *audio_dir, *out, *init, *valid, *valid_split, *schedule, *best_metric;
    gchar *quantizer; /* pretrain: gumbel (w2v-BERT) or random (BEST-RQ); NULL: the --init model's, else gumbel */
    gchar *vocab;     /* with --init: init (its characters, then the data's) or data (the data's alone) */
    gchar **text_data; /* text-pair manifests, none or several */
    gchar **reinit;    /* with --init: prefixes of the tensor names that stay freshly initialised */
    gboolean resume, no_specaug, symmetric_conv, freeze_encoder, cache_encoder;
    int d_model, heads, ff, kernel, sub_channels, speech_layers, shared_layers, decoder_layers;
    int batch_size, accumulate, steps, stop_at, seed, threads, warmup;
    double max_seconds, lr, lr_min, weight_decay, clip, beta1, beta2, eps;
    int freq_masks, freq_width, time_masks, time_width, eq_points;
    double time_ratio, eq_prob, eq_db, warp_prob, warp, speed_prob, speed, gain_prob, gain_db, noise_prob;
    int chunk_min, chunk_max, left_chunks_max;
    double full_context;
    double ctc_weight, lid_weight, st_weight, mt_weight, label_smoothing, dropout;
    int text_batch, text_max_chars;
    double text_noise;
    int codes, mask_span, text_mask_span, distractors;
    double mask_prob, text_mask_ratio, gumbel_tau, gumbel_tau_min, w2v_weight, diversity_weight, mlm_weight,
        spanbert_weight;
    int save_every, keep, log_every, valid_every, valid_items, min_char_count, stats_items, patience, max_skipped;
    unsigned architecture_given; /* bit i: architecture_options[i] was given (options_given), not defaulted */
    unsigned validation_given;   /* bit i: validation_shape_options[i] was given */
    char *record; /* options_record of the options that shape the steps, kept in each checkpoint */
    char *record_defaults; /* the same of the defaults: an option an older checkpoint lacks had its default */
} train_opts;

/* ---- signals ---- */

static volatile sig_atomic_t stop_signal;
/* What the first signal prints at once, as the step under way may take seconds and a user who
 * sees nothing presses Ctrl-C again, which quits without the checkpoint ("" on the ranks but 0:
 * rank 0 speaks for them). Written by write(2), the handler's only safe way to print. */
static char stop_notice[192];
static size_t stop_notice_len;

static void on_signal(int sig) {
    int first = !stop_signal;
    stop_signal = sig;
    signal(sig, SIG_DFL); /* a second one ends the process at once */
    if (first && stop_notice_len && write(STDERR_FILENO, stop_notice, stop_notice_len) < 0) {
        /* nowhere to say it: the stop goes on */
    }
}

/* The stop signals' dispositions before the run's, restored at its end. */
static struct sigaction stop_signals_before[N_STOP_SIGNALS];

static void restore_signals(void) { stop_signals_restore(stop_signals_before); }

/* SIGINT, SIGTERM and SIGHUP stop the run where it can stop cleanly (one ignored, as SIGHUP under
 * nohup, stays ignored); what says what happens then, on rank 0 (tty: stderr is a terminal). */
static void stop_on_signals(int rank, int tty, const char *what) {
    stop_notice_len = 0;
    if (rank == 0) {
        /* on a terminal the progress bar has no newline yet: the notice goes below it */
        int n = snprintf(stop_notice, sizeof stop_notice, "%sstopping: %s\n",
                         tty ? "\n" : "", what);
        stop_notice_len = n > 0 && (size_t)n < sizeof stop_notice ? (size_t)n : 0;
    }
    stop_signals_catch(on_signal, stop_signals_before);
}

/* ---- the trainer ---- */

/* One micro-batch of this process's share of a step (--accumulate N makes N of them; the
 * share itself without it): its examples (dataset indices) and their encoder frames, from its
 * decoded features or from the encoder cache, and its text pairs. */
typedef struct {
    int n, cap;
    int *example, *frames;
    int *slots;      /* each example's place in the step's global batch */
    double seconds;  /* audio in the micro-batch */
    int failed;      /* examples whose audio could not be read (left out of example[]) */
    feature_batch fb; /* its decoded features (unused with the encoder cache) */
    /* the augmentation its features were drawn with (aug_seed; none from the encoder cache):
     * which of its utterances are noise alone (item_is_noise) */
    int augmented;
    uint64_t aug_seed;
    int n_text;      /* its text pairs: indices into the trainer's text dataset */
    int *text_items;
    int text_slot0;  /* the first pair's place in the step's global text batch */
    /* --task pretrain: span masks drawn once (local_counts) for the step's counts and passes:
     * speech (n, T encoder frames), text (n_text, their longest transcript) */
    unsigned char *speech_masked, *text_masked;
    size_t cap_speech_masked, cap_text_masked;
} step_batch;

typedef struct {
    train_opts *o;
    int tasks;
    mslam_model *model;
    const struct mslam_model_config *cfg;
    mslam_param_table gtab;
    mslam_params G;
    float *grad;
    adamw opt;
    optim_config oc;
    specaug_config aug;
    int augment; /* aug changes anything */
    dataset train, valid;
    long epoch_size;      /* examples an epoch (epoch_plan_size) */
    dataset text; /* text pairs of --text-data (empty without) */
    long text_epoch_size; /* text pairs an epoch (epoch_plan_size under --text-data-weight) */
    epoch_plan plan;
    long plan_epoch; /* epoch of plan; -1: none made yet */
    epoch_plan text_plan; /* the text pairs' epoch text_plan_epoch (-1: none made yet) */
    long text_plan_epoch;
    train_position pos;
    mslam_encoder_pass pass;
    head_work hw;
    decoder_pass dp;
    step_batch *micro; /* this process's micro-batches of the step, o->accumulate of them */
    const float *enc_out; /* (n, T, d): the encoder's output of the micro-batch in hand */
    /* --cache-encoder: the frozen encoder's output of training example i, (cache_frames[i], d)
     * in F16 from cache + cache_offset[i] * d; 0 frames: its audio could not be read */
    uint16_t *cache;
    size_t *cache_offset;
    int *cache_frames;
    float *cache_out; /* the micro-batch widened to F32, (n, T, d) */
    size_t cap_cache_out;
    /* per-step buffers */
    float *denc, *sub_enc, *sub_denc;
    const float *sub_in; /* see subset_begin */
    float *sub_grad;
    int *idx, *lens, *targets, *target_lens, *langs;
    int *drop_keys; /* the global places of the translated items (--dropout), cap_items */
    size_t cap_enc, cap_items, cap_targets;
    /* the translation objective on text: buffers of a micro-batch's pairs */
    mslam_encoder_pass text_pass;
    int *mt_ids, *mt_lens, *mt_targets, *mt_target_lens;
    int *mt_keys; /* the pairs' places in the step's global text batch (--dropout), --text-batch */
    int *mt_noisy; /* --text-noise: pair i's source at i x 2 text_max_chars */
    float *mt_denc;
    size_t cap_mt_ids, cap_mt_targets;
    /* --task pretrain: the gradient of the speech layers' output (B, T, d) */
    pretrain_work pw;
    float *pt_dmid;
    size_t cap_pt_dmid;
    random_quantizer rq; /* --quantizer random: BEST-RQ's (K 0 otherwise) */
    int *rq_codes;       /* (B*T) a micro-batch's codes from it */
    size_t cap_rq_codes;
    FILE *log;
    int out_lock;    /* rank 0's lock of --out (-1: none) */
    int rank, world, tty;
    int best_metric; /* enum best_metric */
} trainer;

/* Sums over all processes of one step; index names below. */
enum {
    S_CTC, S_CTC_N, S_LID, S_LID_N, S_ST, S_ST_N, S_MT, S_MT_N, S_ITEMS, S_SECONDS, S_FAILED,
    /* --task pretrain */
    S_W2V, S_MLM, S_MLM_OK, S_MASKED_N, S_DIV, S_PPL, S_DIV_N, S_CODES, S_CODES_N, S_SPAN, S_SPAN_OK, S_SPAN_N,
    S_N
};

/* Per-step buffers, allocated again when a batch needs more (their contents never carry over). */
static int ensure_step_buffers(trainer *t, int B, int T, int n_targets) {
    size_t enc = (size_t)B * T * t->cfg->d_model;
    if (enc > t->cap_enc) {
        free(t->denc), free(t->sub_enc), free(t->sub_denc);
        t->denc = malloc(enc * sizeof(float));
        t->sub_enc = malloc(enc * sizeof(float));
        t->sub_denc = malloc(enc * sizeof(float));
        t->cap_enc = enc;
    }
    if ((size_t)B > t->cap_items) {
        free(t->idx), free(t->lens), free(t->target_lens), free(t->langs), free(t->drop_keys);
        t->drop_keys = malloc((size_t)B * sizeof(int));
        t->idx = malloc((size_t)B * sizeof(int));
        t->lens = malloc((size_t)B * sizeof(int));
        t->target_lens = malloc((size_t)B * sizeof(int));
        t->langs = malloc((size_t)B * sizeof(int));
        t->cap_items = (size_t)B;
    }
    if ((size_t)n_targets > t->cap_targets) {
        free(t->targets);
        t->targets = malloc((size_t)n_targets * sizeof(int));
        t->cap_targets = (size_t)n_targets;
    }
    if (!t->denc || !t->sub_enc || !t->sub_denc || !t->idx || !t->lens || !t->target_lens || !t->langs ||
        !t->targets || !t->drop_keys) {
        t->cap_enc = t->cap_items = t->cap_targets = 0; /* so that the next call tries again */
        return mslam_error("out of memory for the buffers of a step of %d x %d frames", B, T);
    }
    return 0;
}

/* Same rule as the CTC head: each label one frame, one more between equal neighbours. */
static int ctc_fits(const int *ids, int n, int T) {
    int need = n;
    for (int i = 1; i < n; i++) need += ids[i] == ids[i - 1];
    return T > 0 && need <= T;
}

/* A head that trains on items t->idx[0..n) of the batch (those with its labels) reads their
 * encoder frames from t->sub_in and adds their gradient to t->sub_grad: the batch's own buffers
 * when every item takes part, else compact copies, added back by subset_end. item = T * d. */
static void subset_begin(trainer *t, int n, int B, size_t item) {
    if (n == B) {
        t->sub_in = t->enc_out;
        t->sub_grad = t->denc;
        return;
    }
    t->sub_in = t->sub_enc;
    t->sub_grad = t->sub_denc;
    for (int i = 0; i < n; i++) memcpy(t->sub_enc + i * item, t->enc_out + t->idx[i] * item, item * sizeof(float));
    memset(t->sub_denc, 0, (size_t)n * item * sizeof(float));
}

static void subset_end(trainer *t, int n, int B, size_t item) {
    for (int i = 0; i < n && n < B; i++)
        add_scaled(t->denc + t->idx[i] * item, t->denc + t->idx[i] * item, t->sub_denc + i * item, 1.0f, item);
}

/* The attention mask of a step: full context with probability full_context, else chunks of a
 * random size seeing a random number of left chunks (or all of them), as WeNet's dynamic chunk
 * training, so that one model serves offline and streaming use. */
static attn_mask step_mask(const train_opts *o, long step) {
    mslam_rng rng;
    rng_for(&rng, (uint64_t)o->seed, 0xc4c4, (uint64_t)step, 0);
    attn_mask m = {0, -1, 0};
    if (mslam_rng_uniform(&rng) < o->full_context) return m;
    m.chunk = o->chunk_min + (int)(mslam_rng_uniform(&rng) * (o->chunk_max - o->chunk_min + 1));
    if (o->left_chunks_max > 0 && mslam_rng_uniform(&rng) < 0.5f)
        m.left_chunks = 1 + (int)(mslam_rng_uniform(&rng) * o->left_chunks_max);
    return m;
}

static int step_batch_reserve(step_batch *sb, int n) {
    if (n <= sb->cap) return 0;
    free(sb->example), free(sb->frames), free(sb->slots);
    sb->example = malloc((size_t)n * sizeof(int));
    sb->frames = malloc((size_t)n * sizeof(int));
    sb->slots = malloc((size_t)n * sizeof(int));
    sb->cap = sb->example && sb->frames && sb->slots ? n : 0;
    return sb->cap ? 0 : mslam_error("out of memory for a batch of %d utterances", n);
}

/* The micro-batch's examples as feature_batch_load left its features. */
static int batch_from_features(step_batch *sb) {
    const feature_batch *fb = &sb->fb;
    if (step_batch_reserve(sb, fb->B)) return -1;
    sb->n = fb->B;
    for (int b = 0; b < fb->B; b++) {
        sb->example[b] = fb->example[b];
        sb->slots[b] = fb->slot[b];
        sb->frames[b] = mslam_subsampled_frames(fb->mel_lens[b]);
    }
    sb->seconds = fb->seconds;
    sb->failed = fb->n_failed;
    return 0;
}

/* A micro-batch from the encoder cache: examples[0..count) (slots slot0 + i), less those without
 * frames. */
static int cache_batch(const trainer *t, step_batch *sb, const int *examples, int count, int slot0) {
    if (step_batch_reserve(sb, count)) return -1;
    sb->n = sb->failed = 0;
    sb->seconds = 0;
    for (int i = 0; i < count; i++) {
        int e = examples[i];
        if (t->cache_frames[e] == 0) {
            sb->failed++;
            continue;
        }
        sb->example[sb->n] = e;
        sb->slots[sb->n] = slot0 + i;
        sb->frames[sb->n++] = t->cache_frames[e];
        sb->seconds += t->train.items[e].seconds;
    }
    return 0;
}

/* The cached encoder output of micro-batch sb, widened into t->cache_out (B, T, d) with
 * zeros beyond each item's frames; *T is the longest. */
static int cache_gather(trainer *t, const step_batch *sb, int *T) {
    size_t d = (size_t)t->cfg->d_model;
    int longest = 1;
    for (int b = 0; b < sb->n; b++) longest = sb->frames[b] > longest ? sb->frames[b] : longest;
    size_t need = (size_t)sb->n * longest * d;
    if (need > t->cap_cache_out) {
        free(t->cache_out);
        t->cache_out = malloc(need * sizeof(float));
        t->cap_cache_out = t->cache_out ? need : 0;
        if (!t->cache_out) return mslam_error("out of memory for a batch of %d x %d cached frames", sb->n, longest);
    }
    for (int b = 0; b < sb->n; b++) {
        const uint16_t *src = t->cache + t->cache_offset[sb->example[b]] * d;
        float *dst = t->cache_out + (size_t)b * longest * d;
        size_t valid = (size_t)sb->frames[b] * d;
        for (size_t k = 0; k < valid; k++) dst[k] = st_f16_to_f32(src[k]);
        memset(dst + valid, 0, ((size_t)longest * d - valid) * sizeof(float));
    }
    t->enc_out = t->cache_out;
    *T = longest;
    return 0;
}

/* --cache-encoder: the frozen encoder runs once over every training example, in epoch 0's
 * length-bucketed global batches (little padding) without augmentation, each batch under a mask
 * drawn as a training step's (the same share of full-context and chunked outputs) and encoded
 * in slices of --batch-size, and its output is kept in F16: decoder steps then decode no audio
 * and run no encoder. The global batches, not the slices, decide each utterance's mask, so any
 * split of them into processes and micro-batches caches the same outputs. Every process caches
 * the whole dataset (its shares change with the epoch). Returns 0, 1 when a signal stopped it
 * (no step taken: nothing to save) or -1. */
static int cache_build(trainer *t) {
    const train_opts *o = t->o;
    const struct mslam_model_config *cfg = t->cfg;
    size_t d = (size_t)cfg->d_model, used = 0, cap = 0;
    epoch_plan plan = {0};
    t->cache_offset = mslam_calloc((size_t)t->train.n, sizeof(size_t), "the encoder cache's index");
    t->cache_frames = mslam_calloc((size_t)t->train.n, sizeof(int), "the encoder cache's index");
    if (!t->cache_offset || !t->cache_frames ||
        epoch_plan_make(&plan, &t->train, t->pos.seed, 0, t->pos.global_batch, NULL))
        return -1;
    double t0 = progress_now(), seconds = 0;
    int rc = 0, done = 0, stopped = 0, failed = 0;
    /* every rank caches every batch: after each, the ranks agree whether a signal (which may have
     * reached one alone) or a failure (another rank's) stops them all, or one would wait for
     * the others in the first step forever */
    for (int b = 0; b < plan.n_batches && !stopped && !failed; b++) {
        int first, count;
        epoch_plan_batch(&plan, b, &first, &count);
        attn_mask mask = step_mask(o, b);
        for (int slice = 0; slice < count && !rc; slice += o->batch_size) {
            int n = count - slice < o->batch_size ? count - slice : o->batch_size;
            feature_batch *fb = &t->micro[0].fb;
            rc = feature_batch_load(fb, &t->train, plan.order + first + slice, n, 0, cfg->n_mels, NULL, 0,
                                    t->model->p.mel_mean) ||
                 mslam_encoder_speech_forward(&t->pass, cfg, &t->model->p, fb->mel, fb->mel_lens, fb->B, fb->T_mel,
                                              &mask, 0);
            for (int i = 0; !rc && i < fb->B; i++) {
                size_t frames = (size_t)t->pass.lens[i];
                if (used + frames > cap) {
                    size_t grown = cap ? cap * 2 : (size_t)1 << 20;
                    while (grown < used + frames) grown *= 2;
                    uint16_t *p = realloc(t->cache, grown * d * sizeof(uint16_t));
                    if (!p) {
                        rc = mslam_error("out of memory for the encoder cache (%zu frames of %zu)", grown, d);
                        break;
                    }
                    t->cache = p;
                    cap = grown;
                }
                const float *src = t->pass.out + (size_t)i * t->pass.T * d;
                uint16_t *dst = t->cache + used * d;
                for (size_t k = 0; k < frames * d; k++) dst[k] = st_f32_to_f16(src[k]);
                t->cache_offset[fb->example[i]] = used;
                t->cache_frames[fb->example[i]] = (int)frames;
                used += frames;
            }
            seconds += fb->seconds;
        }
        done += count;
        failed = dist_any(rc != 0);
        stopped = dist_any(stop_signal != 0);
        if (failed && !rc) rc = mslam_error("another process failed while caching the encoder outputs");
        if (!rc && t->rank == 0 && (b % 100 == 99 || b == plan.n_batches - 1)) {
            double el = progress_now() - t0;
            fprintf(stderr, "%sencoder cache: %d of %d utterances, %.0f audio-s/s, %.2f GB%s", t->tty ? "\r\033[K" : "",
                    done, t->train.n, seconds / el, used * d * 2 / 1e9, t->tty && b < plan.n_batches - 1 ? "" : "\n");
            fflush(stderr);
        }
    }
    epoch_plan_free(&plan);
    return rc ? -1 : stopped ? 1 : 0;
}

/* The residual dropout of one pass (--dropout) over n items whose places in the step's global
 * batch are keys: an item's masks are a function of (seed, step, pass, its place), so a resumed
 * run draws the same and any split of the global batch into processes and micro-batches too. */
enum { DROP_SPEECH, DROP_SPEECH_DECODER, DROP_TEXT, DROP_TEXT_DECODER };
static residual_dropout step_dropout(const trainer *t, int pass, const int *keys, int n) {
    return (residual_dropout){(float)t->o->dropout, seed_for((uint64_t)t->o->seed, 0xd209, (uint64_t)t->pos.step,
                                                              (uint64_t)pass), keys, n};
}

/* ---- pre-training (--task pretrain) ---- */

enum { PRETRAIN_SPEECH, PRETRAIN_TEXT };

#define RQ_DIM 16 /* BEST-RQ's projection: 16 dimensions */
#define RQ_SEED 0x6265737472712025ull

/* The step's seed of pre-training draws of kind (masks, Gumbel noise, distractors: each item's
 * from its key, its place in the step's global batch). */
static uint64_t pretrain_seed(const trainer *t, int kind) {
    return seed_for((uint64_t)t->o->seed, 0x5e1f, (uint64_t)t->pos.step, (uint64_t)kind);
}

/* Micro-batch sb's speech span masks over the T encoder frames of its features, into
 * sb->speech_masked; returns the count (or -1). */
static int speech_masks(trainer *t, step_batch *sb) {
    int T = mslam_subsampled_frames(sb->fb.T_mel);
    if (buffer_grow((void **)&sb->speech_masked, &sb->cap_speech_masked, (size_t)sb->n * T, 1, "span masks"))
        return -1;
    return pretrain_mask_speech(sb->speech_masked, sb->frames, sb->n, T, (float)t->o->mask_prob, t->o->mask_span,
                                pretrain_seed(t, PRETRAIN_SPEECH), sb->slots);
}

/* The transcripts of micro-batch sb's text items into t->mt_lens, their keys into t->mt_keys;
 * returns the longest. */
static int text_lens(trainer *t, const step_batch *sb) {
    int L = 1;
    for (int i = 0; i < sb->n_text; i++) {
        t->mt_keys[i] = sb->text_slot0 + i;
        t->mt_lens[i] = t->text.items[sb->text_items[i]].n_text;
        L = t->mt_lens[i] > L ? t->mt_lens[i] : L;
    }
    return L;
}

/* Micro-batch sb's text span masks over its longest transcript, into sb->text_masked; returns
 * the count (or -1). */
static int text_masks(trainer *t, step_batch *sb) {
    int L = text_lens(t, sb);
    if (buffer_grow((void **)&sb->text_masked, &sb->cap_text_masked, (size_t)sb->n_text * L, 1, "span masks"))
        return -1;
    return pretrain_mask_text(sb->text_masked, t->mt_lens, sb->n_text, L, (float)t->o->text_mask_ratio,
                              t->o->text_mask_span, pretrain_seed(t, PRETRAIN_TEXT), t->mt_keys);
}

/* The Gumbel-softmax temperature of this step: --gumbel-tau decaying geometrically to
 * --gumbel-tau-min over --steps (wav2vec 2.0 anneals 2 -> 0.5). */
static float gumbel_tau(const trainer *t) {
    double f = t->o->steps > 0 ? (double)t->pos.step / t->o->steps : 1;
    f = f < 1 ? f : 1;
    return (float)(t->o->gumbel_tau * pow(t->o->gumbel_tau_min / t->o->gumbel_tau, f));
}

/* w2v-BERT's losses of a masked speech pass (t->pass, run with save = 1): sums into sums[], the
 * gradients into t->G, t->denc (the output's) and, but with BEST-RQ's targets, t->pt_dmid (the
 * speech layers' output's). */
static int w2v_bert_step(trainer *t, const step_batch *sb, int T, const double *norm, double *sums) {
    const train_opts *o = t->o;
    size_t nd = (size_t)sb->n * T * t->cfg->d_model;
    if (!t->rq.K) {
        if (buffer_grow((void **)&t->pt_dmid, &t->cap_pt_dmid, nd, sizeof(float), "the speech layers' gradient"))
            return -1;
        memset(t->pt_dmid, 0, nd * sizeof(float));
    }
    w2v_bert_config c = w2v_bert_default_config();
    c.gumbel_tau = gumbel_tau(t);
    c.distractors = o->distractors;
    if (t->rq.K) {
        if (buffer_grow((void **)&t->rq_codes, &t->cap_rq_codes, (size_t)sb->n * T, sizeof(int),
                        "the random quantizer's codes"))
            return -1;
        const feature_batch *fb = &sb->fb;
        if (random_quantizer_codes(&t->rq, t->rq_codes, fb->mel, fb->mel_lens, sb->n, fb->T_mel, t->model->p.mel_mean,
                                   t->model->p.mel_std, sb->frames, T))
            return -1;
        c.codes = t->rq_codes;
    }
    /* diversity: one value per micro-batch (pretrain.h), their mean over the step */
    double masked = norm[S_MASKED_N] > 0 ? norm[S_MASKED_N] : 1, groups = norm[S_DIV_N] > 0 ? norm[S_DIV_N] : 1;
    w2v_bert_loss l;
    if (w2v_bert_loss_compute(&t->pw, t->cfg, &t->model->p, &t->G, &c, t->pass.features,
                              mslam_encoder_speech_layers_out(&t->pass, t->cfg), t->pass.out, sb->speech_masked,
                              sb->frames, sb->n, T, pretrain_seed(t, PRETRAIN_SPEECH), sb->slots,
                              (float)(o->w2v_weight / masked), (float)(o->diversity_weight / groups),
                              (float)(o->mlm_weight / masked), t->rq.K ? NULL : t->pt_dmid, t->denc, &l))
        return -1;
    sums[S_W2V] += l.contrastive;
    sums[S_MLM] += l.mlm;
    sums[S_MLM_OK] += l.mlm_correct;
    sums[S_DIV] += l.diversity;
    sums[S_PPL] += l.perplexity;
    sums[S_CODES] += l.codes_used;
    sums[S_CODES_N] += l.n_items;
    return 0;
}

/* Whether item b of the micro-batch is noise alone (--noise-prob): its CTC target is empty (all
 * blanks), and it has no language and no translation. */
static int item_is_noise(const trainer *t, const step_batch *sb, int b) {
    return sb->augmented && noise_in_slot(&t->aug, sb->aug_seed, sb->slots[b]);
}

/* Forward, losses and backward of the speech of micro-batch sb; sums[] gets the loss sums,
 * t->grad the gradient (added). norm[] holds the step's global counts. */
static int speech_step(trainer *t, const step_batch *sb, const attn_mask *mask, const double *norm, double *sums) {
    const struct mslam_model_config *cfg = t->cfg;
    const train_opts *o = t->o;
    int B = sb->n, d = cfg->d_model, T = 0;
    if (B == 0) return 0;
    t->pass.dropout = step_dropout(t, DROP_SPEECH, sb->slots, B); /* a frozen encoder's pass saves nothing: none */
    int pretrain = (t->tasks & TASK_PRETRAIN) != 0;
    t->pass.masked = NULL;
    t->pass.d_speech_out = NULL;
    if (pretrain) t->pass.masked = sb->speech_masked;
    if (t->cache) {
        if (cache_gather(t, sb, &T)) return -1;
    } else {
        const feature_batch *fb = &sb->fb;
        if (mslam_encoder_speech_forward(&t->pass, cfg, &t->model->p, fb->mel, fb->mel_lens, B, fb->T_mel, mask,
                                         !o->freeze_encoder))
            return -1;
        t->enc_out = t->pass.out;
        T = t->pass.T;
    }
    size_t item = (size_t)T * d;
    int longest = 1; /* CTC targets are concatenated, ST targets padded to the longest */
    for (int b = 0; b < B; b++) {
        const example *e = &t->train.items[sb->example[b]];
        longest = e->n_text > longest ? e->n_text : longest;
        longest = e->n_trans > longest ? e->n_trans : longest;
    }
    if (ensure_step_buffers(t, B, T, B * longest)) return -1;
    memset(t->denc, 0, (size_t)B * item * sizeof(float));
    const int *enc_lens = sb->frames;
    if (pretrain && norm[S_MASKED_N] > 0 && w2v_bert_step(t, sb, T, norm, sums)) return -1;

    if ((t->tasks & TASK_ASR) && norm[S_CTC_N] > 0) {
        int n = 0, off = 0;
        for (int b = 0; b < B; b++) {
            const example *e = &t->train.items[sb->example[b]];
            int noise = item_is_noise(t, sb, b), len = noise ? 0 : e->n_text;
            if (enc_lens[b] == 0 || (!noise && (len == 0 || !ctc_fits(e->text_ids, len, enc_lens[b])))) continue;
            t->idx[n] = b;
            t->lens[n] = enc_lens[b];
            t->target_lens[n] = len;
            if (len) memcpy(t->targets + off, e->text_ids, (size_t)len * sizeof(int));
            off += len;
            n++;
        }
        if (n) {
            head_loss hl;
            subset_begin(t, n, B, item);
            if (ctc_head_loss(&t->hw, cfg, &t->model->p, &t->G, t->sub_in, t->lens, n, T, t->targets,
                              t->target_lens, (float)(o->ctc_weight / norm[S_CTC_N]),
                              o->freeze_encoder ? NULL : t->sub_grad, &hl))
                return -1;
            subset_end(t, n, B, item);
            sums[S_CTC] += hl.loss;
        }
    }
    if ((t->tasks & TASK_LID) && norm[S_LID_N] > 0) {
        for (int b = 0; b < B; b++)
            t->langs[b] = item_is_noise(t, sb, b) ? -1 : t->train.items[sb->example[b]].lang_id;
        head_loss hl;
        if (lid_head_loss(&t->hw, cfg, &t->model->p, &t->G, t->enc_out, enc_lens, B, T, t->langs,
                          (float)o->label_smoothing, (float)(o->lid_weight / norm[S_LID_N]),
                          o->freeze_encoder ? NULL : t->denc, &hl))
            return -1;
        sums[S_LID] += hl.loss;
    }
    if ((t->tasks & TASK_ST) && norm[S_ST_N] > 0) {
        int n = 0, Lt = 0;
        for (int b = 0; b < B; b++) {
            const example *e = &t->train.items[sb->example[b]];
            if (e->n_trans == 0 || enc_lens[b] == 0 || item_is_noise(t, sb, b)) continue;
            t->idx[n] = b;
            t->lens[n] = enc_lens[b];
            t->target_lens[n] = e->n_trans;
            Lt = e->n_trans > Lt ? e->n_trans : Lt;
            n++;
        }
        if (n) {
            for (int i = 0; i < n; i++) {
                const example *e = &t->train.items[sb->example[t->idx[i]]];
                memcpy(t->targets + (size_t)i * Lt, e->trans_ids, (size_t)e->n_trans * sizeof(int));
                for (int k = e->n_trans; k < Lt; k++) t->targets[(size_t)i * Lt + k] = 0;
            }
            for (int i = 0; i < n; i++) t->drop_keys[i] = sb->slots[t->idx[i]];
            t->dp.dropout = step_dropout(t, DROP_SPEECH_DECODER, t->drop_keys, n);
            head_loss hl;
            subset_begin(t, n, B, item);
            if (decoder_loss(&t->dp, cfg, &t->model->p, &t->G, VOCAB_BOS, VOCAB_EOS, t->sub_in, t->lens, n, T,
                             t->targets, t->target_lens, Lt, (float)o->label_smoothing,
                             (float)(o->st_weight / norm[S_ST_N]), o->freeze_encoder ? NULL : t->sub_grad, &hl))
                return -1;
            subset_end(t, n, B, item);
            sums[S_ST] += hl.loss;
        }
    }
    if (o->freeze_encoder) return 0;
    /* w2v_bert_step ran (and sized and zeroed pt_dmid) only when the step masked something, and
     * BEST-RQ's targets send nothing to the speech layers' output */
    if (pretrain && norm[S_MASKED_N] > 0 && !t->rq.K) t->pass.d_speech_out = t->pt_dmid;
    int rc = mslam_encoder_backward(&t->pass, cfg, &t->model->p, &t->G, t->denc, NULL);
    t->pass.masked = NULL;
    t->pass.d_speech_out = NULL;
    return rc;
}

static int ensure_mt_buffers(trainer *t, int B, int L, int Lt) {
    size_t ids = (size_t)B * L, targets = (size_t)B * Lt;
    if (ids > t->cap_mt_ids) {
        free(t->mt_ids), free(t->mt_denc);
        t->mt_ids = malloc(ids * sizeof(int));
        t->mt_denc = malloc(ids * t->cfg->d_model * sizeof(float));
        t->cap_mt_ids = ids;
    }
    if (targets > t->cap_mt_targets) {
        free(t->mt_targets);
        t->mt_targets = malloc(targets * sizeof(int));
        t->cap_mt_targets = targets;
    }
    if (!t->mt_ids || !t->mt_denc || !t->mt_targets) {
        t->cap_mt_ids = t->cap_mt_targets = 0;
        return mslam_error("out of memory for a text batch of %d x %d characters", B, L);
    }
    return 0;
}

/* The translation objective on text: micro-batch sb's pairs go through the text embedding and
 * the shared layers (B, L, d) into the decoder, which learns to write their English translation
 * from the representation speech also reaches. */
static int mt_step(trainer *t, const step_batch *sb, const double *norm, double *sums) {
    const struct mslam_model_config *cfg = t->cfg;
    int B = sb->n_text, L = 1, Lt = 1;
    if (B == 0 || norm[S_MT_N] <= 0) return 0;
    const int noisy_cap = 2 * t->o->text_max_chars;
    for (int i = 0; i < B; i++) t->mt_keys[i] = sb->text_slot0 + i;
    for (int i = 0; i < B; i++) {
        const example *e = &t->text.items[sb->text_items[i]];
        t->mt_lens[i] = e->n_text;
        if (t->mt_noisy) { /* a function of (seed, step, the pair's place in the global batch) */
            mslam_rng rng;
            mslam_rng_seed(&rng, hash_mix(hash_mix((uint64_t)t->o->seed ^ 0x7e415e, (uint64_t)t->pos.step),
                                          (uint64_t)t->mt_keys[i]));
            t->mt_lens[i] = augment_text_noise(e->text_ids, e->n_text, t->mt_noisy + (size_t)i * noisy_cap,
                                               t->o->text_noise, &rng);
        }
        L = t->mt_lens[i] > L ? t->mt_lens[i] : L;
        Lt = e->n_trans > Lt ? e->n_trans : Lt;
    }
    if (ensure_mt_buffers(t, B, L, Lt)) return -1;
    for (int i = 0; i < B; i++) {
        const example *e = &t->text.items[sb->text_items[i]];
        const int *source = t->mt_noisy ? t->mt_noisy + (size_t)i * noisy_cap : e->text_ids;
        t->mt_target_lens[i] = e->n_trans;
        for (int k = 0; k < L; k++) t->mt_ids[(size_t)i * L + k] = k < t->mt_lens[i] ? source[k] : 0;
        for (int k = 0; k < Lt; k++) t->mt_targets[(size_t)i * Lt + k] = k < e->n_trans ? e->trans_ids[k] : 0;
    }
    int freeze = t->o->freeze_encoder;
    t->text_pass.dropout = step_dropout(t, DROP_TEXT, t->mt_keys, B);
    t->dp.dropout = step_dropout(t, DROP_TEXT_DECODER, t->mt_keys, B);
    if (mslam_encoder_text_forward(&t->text_pass, cfg, &t->model->p, t->mt_ids, t->mt_lens, B, L, !freeze))
        return -1;
    if (!freeze) memset(t->mt_denc, 0, (size_t)B * L * cfg->d_model * sizeof(float));
    head_loss hl;
    if (decoder_loss(&t->dp, cfg, &t->model->p, &t->G, VOCAB_BOS, VOCAB_EOS, t->text_pass.out, t->mt_lens, B, L,
                     t->mt_targets, t->mt_target_lens, Lt, (float)t->o->label_smoothing,
                     (float)(t->o->mt_weight / norm[S_MT_N]), freeze ? NULL : t->mt_denc, &hl))
        return -1;
    sums[S_MT] += hl.loss;
    if (freeze) return 0;
    return mslam_encoder_backward(&t->text_pass, cfg, &t->model->p, &t->G, t->mt_denc, NULL);
}

/* SpanBERT on micro-batch sb's text pairs' transcripts: spans of characters masked, predicted
 * from the shared layers. */
static int spanbert_step(trainer *t, const step_batch *sb, const double *norm, double *sums) {
    const struct mslam_model_config *cfg = t->cfg;
    int B = sb->n_text;
    if (B == 0 || norm[S_SPAN_N] <= 0) return 0;
    int L = text_lens(t, sb);
    if (ensure_mt_buffers(t, B, L, 1)) return -1;
    for (int i = 0; i < B; i++) {
        const example *e = &t->text.items[sb->text_items[i]];
        for (int k = 0; k < L; k++) t->mt_ids[(size_t)i * L + k] = k < e->n_text ? e->text_ids[k] : 0;
    }
    t->text_pass.dropout = step_dropout(t, DROP_TEXT, t->mt_keys, B);
    t->text_pass.masked = sb->text_masked;
    int rc = mslam_encoder_text_forward(&t->text_pass, cfg, &t->model->p, t->mt_ids, t->mt_lens, B, L, 1);
    double loss = 0, correct = 0;
    int n = 0;
    if (!rc) {
        memset(t->mt_denc, 0, (size_t)B * L * cfg->d_model * sizeof(float));
        rc = spanbert_loss_compute(&t->pw, cfg, &t->model->p, &t->G, t->text_pass.out, t->mt_ids, sb->text_masked,
                                   t->mt_lens, B, L, (float)(t->o->spanbert_weight / norm[S_SPAN_N]), t->mt_denc,
                                   &loss, &n, &correct);
    }
    if (!rc) rc = mslam_encoder_backward(&t->text_pass, cfg, &t->model->p, &t->G, t->mt_denc, NULL);
    t->text_pass.masked = NULL;
    sums[S_SPAN] += loss;
    sums[S_SPAN_OK] += correct;
    return rc;
}

/* Forward, losses and backward of this process's share of the step, one micro-batch after
 * another; their gradients add up in t->grad (zeroed here). */
static int local_step(trainer *t, const attn_mask *mask, const double *norm, double *sums) {
    memset(t->grad, 0, t->gtab.total * sizeof(float));
    for (int k = 0; k < t->o->accumulate; k++)
        if (speech_step(t, &t->micro[k], mask, norm, sums) ||
            (t->tasks & TASK_PRETRAIN ? spanbert_step : mt_step)(t, &t->micro[k], norm, sums))
            return -1;
    return 0;
}

/* This process's text pairs of the step: every step takes the next full global batch
 * (text_batch x processes x micro-batches pairs) of the text pairs' own epochs, planned as the
 * speech's (epoch_plan: shuffled by seed and epoch, length-bucketed, so that a batch pads
 * little), and micro-batch k of this process the slice at (k x processes + rank) x text_batch.
 * The step alone decides which pairs: any split of the same global batch takes the same pairs,
 * and a resumed run too. */
static int pick_text_pairs(trainer *t) {
    int n = t->text.n ? t->o->text_batch : 0, global = n * t->world * t->o->accumulate;
    for (int k = 0; k < t->o->accumulate; k++) t->micro[k].n_text = n;
    if (!n) return 0;
    /* at least 1: checked when the pairs were loaded; each epoch leaves out its short batch */
    long full_batches = t->text_epoch_size / global;
    long epoch = t->pos.step / full_batches;
    if (t->text_plan_epoch != epoch) {
        epoch_plan_free(&t->text_plan);
        /* a seed of their own, so that the text pairs' epochs do not mirror the speech's */
        if (epoch_plan_make(&t->text_plan, &t->text, hash_mix((uint64_t)t->o->seed, 0x7e47), epoch, global,
                            t->o->text_data_weights))
            return -1;
        t->text_plan_epoch = epoch;
    }
    int first, count;
    epoch_plan_batch(&t->text_plan, (int)(t->pos.step % full_batches), &first, &count);
    for (int k = 0; k < t->o->accumulate; k++) {
        step_batch *sb = &t->micro[k];
        sb->text_slot0 = (k * t->world + t->rank) * n;
        memcpy(sb->text_items, t->text_plan.order + first + sb->text_slot0, (size_t)n * sizeof(int));
    }
    return 0;
}

/* Counts of one loaded micro-batch's items that each loss normalises by, added to norm[]. Noise
 * alone counts as one character of CTC's, whatever its length: with none, a step of noise alone
 * would have nothing to normalise by and train no blanks; with its frames, it would outweigh the
 * speech. (The logged CTC loss per character then mixes in the noise's.) It counts for no other
 * loss. */
static int local_counts(trainer *t, step_batch *sb, double *norm) {
    for (int b = 0; b < sb->n; b++) {
        const example *e = &t->train.items[sb->example[b]];
        int T = sb->frames[b];
        if (item_is_noise(t, sb, b)) {
            norm[S_CTC_N] += (t->tasks & TASK_ASR) && T > 0;
            continue;
        }
        if ((t->tasks & TASK_ASR) && e->n_text > 0 && ctc_fits(e->text_ids, e->n_text, T))
            norm[S_CTC_N] += e->n_text;
        if ((t->tasks & TASK_LID) && e->lang_id >= 0 && T > 0) norm[S_LID_N] += 1;
        if ((t->tasks & TASK_ST) && e->n_trans > 0 && T > 0) norm[S_ST_N] += e->n_trans + 1; /* + end of sentence */
    }
    if (t->tasks & TASK_PRETRAIN) {
        /* the masks the step's passes use, drawn here: the losses are normalised by their counts */
        int n = 0;
        if (sb->n && (n = speech_masks(t, sb)) < 0) return -1;
        norm[S_MASKED_N] += n;
        norm[S_DIV_N] += n > 0;
        if (sb->n_text && (n = text_masks(t, sb)) < 0) return -1;
        if (sb->n_text) norm[S_SPAN_N] += n;
    } else {
        for (int i = 0; i < sb->n_text; i++) norm[S_MT_N] += t->text.items[sb->text_items[i]].n_trans + 1;
    }
    norm[S_ITEMS] += sb->n;
    norm[S_SECONDS] += sb->seconds;
    norm[S_FAILED] += sb->failed;
    return 0;
}

/* What one step reports. */
typedef struct {
    double loss, ctc, lid, st, mt, grad_norm, seconds;
    /* --task pretrain: losses per masked frame (w2v: contrastive, mlm), per micro-batch (div),
     * per masked character (span); the MLM and SpanBERT heads' accuracy, the codes' perplexity
     * in a micro-batch and distinct codes per utterance */
    double w2v, div, mlm, span, mlm_acc, span_acc, ppl, codes;
    float lr;
    int items, failed, skipped;
    attn_mask mask;
} step_report;

#define REPORT_SCORES CHECKPOINT_LOG_SCORES
/* The scores of r a log interval averages (losses, accuracies, the codes' figures, gradient
 * norm), into score[REPORT_SCORES]. */
static void report_scores(step_report *r, double **score) {
    double *const all[REPORT_SCORES] = {&r->loss, &r->ctc, &r->lid, &r->st,      &r->mt,       &r->w2v, &r->div,
                                        &r->mlm,  &r->span, &r->mlm_acc, &r->span_acc, &r->ppl, &r->codes, &r->grad_norm};
    memcpy(score, all, sizeof all);
}

static int train_step(trainer *t, step_report *rep) {
    const train_opts *o = t->o;
    memset(rep, 0, sizeof *rep);
    if (t->plan_epoch != t->pos.epoch) {
        epoch_plan_free(&t->plan);
        if (epoch_plan_make(&t->plan, &t->train, t->pos.seed, t->pos.epoch, t->pos.global_batch, o->data_weights))
            return -1;
        t->plan_epoch = t->pos.epoch;
    }
    if (t->pos.batch >= t->plan.n_batches) {
        /* a resume whose --data-weight makes shorter epochs than its checkpoint's: the next one */
        t->pos.batch = 0;
        t->pos.epoch++;
        return train_step(t, rep);
    }
    int first, count;
    epoch_plan_batch(&t->plan, (int)t->pos.batch, &first, &count);
    double norm[S_N] = {0}, sums[S_N] = {0};
    if (pick_text_pairs(t)) return -1;
    /* micro-batch k of this process: the slice of the global batch at (k x processes + rank) x
     * batch size (its slots number its augmentation draws), so that any split of one global batch
     * into processes and micro-batches takes the same utterances, augmented alike. All are loaded
     * before the first backward, as every loss is normalised over the whole step. */
    for (int k = 0; k < o->accumulate; k++) {
        step_batch *sb = &t->micro[k];
        int lo = (k * t->world + t->rank) * o->batch_size, hi = lo + o->batch_size;
        lo = lo < count ? lo : count;
        hi = hi < count ? hi : count;
        const int *share = t->plan.order + first + lo;
        sb->augmented = !t->cache && t->augment;
        sb->aug_seed = hash_mix((uint64_t)o->seed, (uint64_t)t->pos.step);
        if (t->cache ? cache_batch(t, sb, share, hi - lo, lo)
                     : feature_batch_load(&sb->fb, &t->train, share, hi - lo, lo, t->cfg->n_mels,
                                          t->augment ? &t->aug : NULL, sb->aug_seed, t->model->p.mel_mean) ||
                           batch_from_features(sb))
            return -1;
        if (local_counts(t, sb, norm)) return -1;
    }
    if (dist_sum_f64(norm, S_N)) return -1;
    rep->mask = step_mask(o, t->pos.step);
    if (local_step(t, &rep->mask, norm, sums)) return -1;
    if (dist_sum_f32(t->grad, t->gtab.total) || dist_sum_f64(sums, S_N)) return -1;

    rep->ctc = norm[S_CTC_N] > 0 ? sums[S_CTC] / norm[S_CTC_N] : 0;
    rep->lid = norm[S_LID_N] > 0 ? sums[S_LID] / norm[S_LID_N] : 0;
    rep->st = norm[S_ST_N] > 0 ? sums[S_ST] / norm[S_ST_N] : 0;
    rep->mt = norm[S_MT_N] > 0 ? sums[S_MT] / norm[S_MT_N] : 0;
    rep->loss = o->ctc_weight * rep->ctc + o->lid_weight * rep->lid + o->st_weight * rep->st + o->mt_weight * rep->mt;
    if (t->tasks & TASK_PRETRAIN) {
        double masked = norm[S_MASKED_N], groups = norm[S_DIV_N], items = sums[S_CODES_N], chars = norm[S_SPAN_N];
        rep->w2v = masked > 0 ? sums[S_W2V] / masked : 0;
        rep->mlm = masked > 0 ? sums[S_MLM] / masked : 0;
        rep->mlm_acc = masked > 0 ? sums[S_MLM_OK] / masked : 0;
        rep->div = groups > 0 ? sums[S_DIV] / groups : 0;
        rep->ppl = groups > 0 ? sums[S_PPL] / groups : 0;
        rep->codes = items > 0 ? sums[S_CODES] / items : 0;
        rep->span = chars > 0 ? sums[S_SPAN] / chars : 0;
        rep->span_acc = chars > 0 ? sums[S_SPAN_OK] / chars : 0;
        rep->loss += o->w2v_weight * rep->w2v + o->diversity_weight * rep->div + o->mlm_weight * rep->mlm +
                     o->spanbert_weight * rep->span;
    }
    rep->items = (int)norm[S_ITEMS];
    rep->failed = (int)norm[S_FAILED];
    rep->seconds = norm[S_SECONDS];
    rep->grad_norm = sqrt(grad_sq_norm(t->grad, t->gtab.total));
    rep->lr = optim_lr(&t->oc, t->pos.step);
    if (rep->items == 0 || !isfinite(rep->loss) || !isfinite(rep->grad_norm)) {
        /* the same verdict on every process: the sums above are global */
        rep->skipped = 1;
        t->pos.skipped_steps++;
    } else {
        adamw_step(&t->opt, t->model->block, t->grad, rep->lr, clip_scale(&t->oc, rep->grad_norm));
    }
    t->pos.step++;
    t->pos.audio_seconds += rep->seconds;
    if (++t->pos.batch >= t->plan.n_batches) {
        t->pos.batch = 0;
        t->pos.epoch++;
    }
    return 0;
}

/* ---- output ---- */

static void format_duration(char *buf, size_t size, double s) {
    long x = s > 0 && s < 1e9 ? (long)s : 0;
    snprintf(buf, size, "%ld:%02ld:%02ld", x / 3600, x / 60 % 60, x % 60);
}

/* One line per log interval: a redrawn bar on a terminal, plain lines otherwise. */
static void print_progress(const trainer *t, const step_report *avg, double rate, double step_s, int final) {
    long total = t->o->steps;
    double frac = total > 0 ? (double)t->pos.step / total : 0;
    char eta[32], elapsed[32];
    format_duration(eta, sizeof eta, (double)(total - t->pos.step) * step_s);
    format_duration(elapsed, sizeof elapsed, t->pos.elapsed_s);
    if (t->tty) {
        char bar[21];
        int fill = (int)(frac * 20);
        for (int i = 0; i < 20; i++) bar[i] = i < fill ? '=' : (i == fill ? '>' : ' ');
        bar[20] = '\0';
        fprintf(stderr, "\r\033[Kstep %ld/%ld [%s] %3.0f%% loss %.4f lr %.2e %.1f audio-s/s ETA %s", t->pos.step,
                total, bar, 100 * frac, avg->loss, (double)avg->lr, rate, eta);
        if (final) fputc('\n', stderr);
    } else {
        char mt[160] = "";
        if (t->tasks & TASK_PRETRAIN)
            snprintf(mt, sizeof mt, " w2v %.4f div %.4f mlm %.4f (%.1f%%, perplexity %.1f, %.1f codes) span %.4f (%.1f%%)",
                     avg->w2v, avg->div, avg->mlm, 100 * avg->mlm_acc, avg->ppl, avg->codes, avg->span,
                     100 * avg->span_acc);
        else if (t->text.n)
            snprintf(mt, sizeof mt, " mt %.4f", avg->mt);
        fprintf(stderr, "step %ld/%ld loss %.4f (ctc %.4f lid %.4f st %.4f%s) lr %.3e grad-norm %.3f %.1f audio-s/s elapsed %s ETA %s\n",
                t->pos.step, total, avg->loss, avg->ctc, avg->lid, avg->st, mt, (double)avg->lr, avg->grad_norm, rate,
                elapsed, eta);
    }
    fflush(stderr);
}

static void log_json(trainer *t, const step_report *avg, double rate) {
    if (!t->log) return;
    char pretrain[320] = "";
    if (t->tasks & TASK_PRETRAIN)
        snprintf(pretrain, sizeof pretrain,
                 "\"w2v\":%.6g,\"diversity\":%.6g,\"mlm\":%.6g,\"mlm_acc\":%.6g,\"perplexity\":%.6g,"
                 "\"codes\":%.6g,\"spanbert\":%.6g,\"spanbert_acc\":%.6g,",
                 avg->w2v, avg->div, avg->mlm, avg->mlm_acc, avg->ppl, avg->codes, avg->span, avg->span_acc);
    fprintf(t->log,
            "{\"step\":%ld,\"epoch\":%ld,\"loss\":%.6g,\"ctc\":%.6g,\"lid\":%.6g,\"st\":%.6g,\"mt\":%.6g,%s\"lr\":%.6g,"
            "\"grad_norm\":%.6g,\"audio_s\":%.1f,\"audio_s_per_s\":%.3f,\"elapsed_s\":%.1f,\"skipped_steps\":%ld}\n",
            t->pos.step, t->pos.epoch, avg->loss, avg->ctc, avg->lid, avg->st, avg->mt, pretrain, (double)avg->lr,
            avg->grad_norm,
            t->pos.audio_seconds, rate, t->pos.elapsed_s, t->pos.skipped_steps);
    fflush(t->log);
}

/* A resumed run's log: the records of steps after the checkpoint's (logged before a crash or a
 * kill, and to be logged again) go, so that every step has one record. */
static int log_keep_until(const char *path, long step) {
    char *text = NULL;
    size_t size;
    if (!file_exists(path)) return 0;
    if (read_file(path, (size_t)1 << 31, &text, &size)) return -1;
    GString *kept = g_string_sized_new(size);
    int dropped = 0;
    for (char *line = text, *next; line && *line; line = next) {
        char *end = strchr(line, '\n');
        next = end ? end + 1 : NULL;
        size_t len = end ? (size_t)(end - line) + 1 : strlen(line);
        const char *at = strstr(line, "\"step\":");
        long s = at && (!end || at < end) ? strtol(at + 7, NULL, 10) : 0;
        if (s > step) dropped++;
        else g_string_append_len(kept, line, (gssize)len);
    }
    int rc = dropped ? write_file_atomic(path, kept->str, kept->len) : 0;
    g_string_free(kept, TRUE);
    free(text);
    return rc;
}

static int save_checkpoint(trainer *t) {
    if (t->rank != 0) return 0;
    char *path = checkpoint_path(t->o->out, t->pos.step);
    if (!path) return -1;
    int rc = checkpoint_save(path, t->model, &t->opt, &t->pos, t->o->record);
    if (!rc) rc = checkpoint_prune(t->o->out, t->o->keep);
    /* on a terminal in place of the bar, which the next log interval draws again */
    if (!rc) fprintf(stderr, "%scheckpoint %s\n", t->tty ? "\r\033[K" : "", path);
    free(path);
    return rc;
}

static const char *const best_metric_names[] = {"none", "cer", "lid", "bleu"};
static const char *const best_metric_titles[] = {"", "CER", "LID accuracy", "BLEU"};

/* A validation's score under --best-metric (NAN: not measured): a better one than the run's best
 * so far becomes OUT/best.safetensors (the inference model, as model.safetensors) and the new
 * best; one that is not counts towards --patience. Sets *stop when patience ran out. A model that
 * cannot be written is warned about and the validation left out of the count (training goes on,
 * as after a validation that failed). */
static void note_validation(trainer *t, double score, int *stop) {
    const train_opts *o = t->o;
    train_position *p = &t->pos;
    const char *name = best_metric_names[t->best_metric], *title = best_metric_titles[t->best_metric];
    if (strcmp(p->best_metric, name)) {
        /* a resumed run's checkpoint kept another metric's best: this one starts afresh */
        if (p->best_metric[0])
            fprintf(stderr, "--best-metric %s: the checkpoint kept the best %s; counting afresh\n", name,
                    p->best_metric);
        snprintf(p->best_metric, sizeof p->best_metric, "%s", name);
        p->best_step = 0;
        p->stale_validations = 0;
    }
    int lower_better = t->best_metric == BEST_CER;
    int better = isfinite(score) && (p->best_step == 0 || (lower_better ? score < p->best_score : score > p->best_score));
    *stop = 0;
    if (better) {
        char *path = path_join(o->out, "best.safetensors");
        int rc = path ? mslam_model_save(t->model, path) : -1;
        free(path);
        if (rc) {
            mslam_log(MSLAM_LOG_WARN, "the best model so far was not kept: %s", mslam_last_error());
            return;
        }
        p->best_step = p->step;
        p->best_score = score;
        p->stale_validations = 0;
        fprintf(stderr, "best %s so far: %s/best.safetensors\n", title, o->out);
        return;
    }
    p->stale_validations++;
    *stop = o->patience > 0 && p->stale_validations >= o->patience;
    int percent = t->best_metric != BEST_BLEU;
    if (p->best_step > 0)
        fprintf(stderr, "no better %s than step %ld's %.2f%s for %d validation(s)%s\n", title, p->best_step,
                percent ? 100 * p->best_score : p->best_score, percent ? "%" : "", p->stale_validations,
                *stop ? ": stopping (--patience)" : "");
    else
        fprintf(stderr, "no %s measured for %d validation(s)%s\n", title, p->stale_validations,
                *stop ? ": stopping (--patience)" : "");
}

/* Rank 0's validation: scores --valid-items utterances of the validation data, prints and logs
 * the scores, then note_validation under --best-metric. */
static void validate_here(trainer *t, int *stop, int *cancelled) {
    eval_config c = eval_default_config();
    c.cancel = &stop_signal; /* Ctrl-C: the checkpoint comes first, the validation on resume */
    c.modes = 1 << EVAL_OFFLINE;
    c.ctc_beam = 1;
    c.st_beam = 1;
    c.max_items = t->o->valid_items;
    c.asr = (t->tasks & TASK_ASR) != 0;
    c.lid = (t->tasks & TASK_LID) != 0;
    c.st = (t->tasks & TASK_ST) != 0;
    c.st_input = eval_st_input_of(t->cfg);
    eval_result r;
    double cer = NAN, acc = NAN, bleu = NAN;
    int rc = eval_model(t->model, &t->valid, &c, &r);
    if (rc > 0) {
        *cancelled = 1;
        return;
    }
    if (rc) {
        mslam_log(MSLAM_LOG_WARN, "validation failed: %s", mslam_last_error());
    } else {
        eval_summary(&r, EVAL_OFFLINE, &cer, &acc, &bleu);
        if (t->tty) fputc('\n', stderr);
        fprintf(stderr, "valid step %ld:", t->pos.step);
        if (isfinite(cer)) fprintf(stderr, " CER %.2f%%", 100 * cer);
        if (isfinite(acc)) fprintf(stderr, " LID %.2f%%", 100 * acc);
        if (isfinite(bleu)) fprintf(stderr, " BLEU %.2f", bleu);
        fprintf(stderr, " (%d utterances)\n", r.n_items);
        eval_result_free(&r);
    }
    double score = t->best_metric == BEST_CER ? cer : t->best_metric == BEST_LID ? acc : bleu;
    if (t->best_metric != BEST_NONE) note_validation(t, score, stop);
    if (t->log) {
        /* JSON has no NaN: a score that was not measured is null */
        char s_cer[32] = "null", s_acc[32] = "null", s_bleu[32] = "null", s_best[48] = "";
        if (isfinite(cer)) snprintf(s_cer, sizeof s_cer, "%.6g", cer);
        if (isfinite(acc)) snprintf(s_acc, sizeof s_acc, "%.6g", acc);
        if (isfinite(bleu)) snprintf(s_bleu, sizeof s_bleu, "%.6g", bleu);
        if (t->best_metric != BEST_NONE && t->pos.best_step > 0)
            snprintf(s_best, sizeof s_best, ",\"best_step\":%ld", t->pos.best_step);
        fprintf(t->log, "{\"step\":%ld,\"valid_cer\":%s,\"valid_lid_acc\":%s,\"valid_bleu\":%s%s,\"elapsed_s\":%.1f}\n",
                t->pos.step, s_cer, s_acc, s_bleu, s_best, t->pos.elapsed_s);
        fflush(t->log);
    }
}

/* Whether this run scores --valid, and so reads it: a validation is due at some step, or the
 * resumed checkpoint's was stopped by a signal; pre-training alone has nothing it scores. Data
 * never scored is not read: a stage on another corpus's --audio-dir (train-default.sh's text-pair
 * stages) may name the usual --valid, whose audio is not there. */
static int validation_runs(const trainer *t) {
    const train_opts *o = t->o;
    return o->valid && (t->tasks & TASK_MULTI) &&
           ((o->valid_every > 0 && o->valid_every <= o->steps) || t->pos.validation_pending);
}

/* A validation: rank 0 scores and keeps the best model (validate_here). Returns whether
 * --patience ran out, the same verdict on every process; *cancelled whether a signal stopped it
 * (nothing measured: the checkpoint says the validation is still to do). */
static int validate(trainer *t, int *cancelled) {
    int stop_here = 0, cancelled_here = 0;
    /* pre-training alone has nothing eval scores */
    if (t->rank == 0 && t->valid.n && (t->tasks & TASK_MULTI)) validate_here(t, &stop_here, &cancelled_here);
    *cancelled = dist_any(cancelled_here);
    t->pos.validation_pending = *cancelled;
    return dist_any(stop_here);
}

/* ---- setup ---- */

static int parse_task(const char *name);

/* The tasks --task and the weights train: pre-training also trains CTC on the utterances that
 * have a transcript (mSLAM's paired data) unless --ctc-weight 0. */
static int tasks_of(const train_opts *o) {
    int tasks = parse_task(o->task);
    return tasks == TASK_PRETRAIN && o->ctc_weight > 0 ? tasks | TASK_ASR : tasks;
}

static int parse_task(const char *name) {
    if (!strcmp(name, "asr")) return TASK_ASR;
    if (!strcmp(name, "lid")) return TASK_LID;
    if (!strcmp(name, "st")) return TASK_ST;
    if (!strcmp(name, "multi")) return TASK_MULTI;
    if (!strcmp(name, "pretrain")) return TASK_PRETRAIN;
    return mslam_error("--task %s: expected asr, lid, st, multi or pretrain", name);
}

/* --best-metric NAME for the tasks trained; without one, the main task's score when there is a
 * --valid manifest: CER with a CTC head, else LID accuracy, else BLEU. */
static int parse_best_metric(const char *name, int tasks) {
    if (!name && !(tasks & TASK_MULTI)) return BEST_NONE;
    if (!name) return tasks & TASK_ASR ? BEST_CER : tasks & TASK_LID ? BEST_LID : BEST_BLEU;
    static const int needs[] = {0, TASK_ASR, TASK_LID, TASK_ST};
    for (int m = 0; m < (int)(sizeof needs / sizeof needs[0]); m++)
        if (!strcmp(name, best_metric_names[m])) {
            if (needs[m] && !(tasks & needs[m]))
                return mslam_error("--best-metric %s: the task trained does not measure it", name);
            return m;
        }
    return mslam_error("--best-metric %s: expected cer, lid, bleu or none", name);
}

static int need_of(int tasks) {
    /* w2v-BERT takes every utterance; CTC those with a transcript */
    if (tasks & TASK_PRETRAIN) return KEEP_ALL | ((tasks & TASK_ASR) ? NEED_TEXT : 0);
    return ((tasks & TASK_ASR) ? NEED_TEXT : 0) | ((tasks & TASK_LID) ? NEED_LANG : 0) |
           ((tasks & TASK_ST) ? NEED_TRANSLATION : 0);
}

/* Appends the entries of add that base lacks (keeping base's order: ids stay valid). */
static int merge_lists(struct strlist *base, const struct strlist *add) {
    for (size_t i = 0; i < add->n; i++)
        if (!strlist_contains(base, add->items[i]) && strlist_push(base, add->items[i])) return -1;
    return 0;
}

/* The options that shape the model, which a resumed run takes from its checkpoint and an --init
 * run from the init model (but for more decoder layers, and the codes), in warn_architecture_kept's
 * order; "quantizer", last, is checked where the model is built. */
enum { N_ARCHITECTURE_KEPT = 10 };
static const char *const architecture_options[] = {"d-model",       "heads",          "ff",
                                                   "kernel",        "sub-channels",   "speech-layers",
                                                   "shared-layers", "decoder-layers", "symmetric-conv",
                                                   "codes",         "quantizer",      NULL};
_Static_assert(sizeof architecture_options / sizeof *architecture_options == N_ARCHITECTURE_KEPT + 2,
               "architecture_options: the kept ones, then quantizer and NULL");

/* Options that only shape a validation: given without --valid they do nothing (warned of). */
static const char *const validation_shape_options[] = {"valid-every", "valid-items", "valid-split", NULL};

/* Whether architecture_options[i] was given, as a flag or in the key file. */
static int architecture_given(const train_opts *o, int i) { return (o->architecture_given >> i) & 1u; }

/* Whether the architecture option of that name was given. */
static int architecture_option_given(const train_opts *o, const char *name) {
    for (int i = 0; architecture_options[i]; i++)
        if (!strcmp(architecture_options[i], name)) return architecture_given(o, i);
    return 0;
}

/* Warns of the architecture options given that model m, from where (a checkpoint resumed, an
 * init model), overrides. */
static void warn_architecture_kept(const trainer *t, const mslam_model *m, const char *where, int resuming) {
    const train_opts *o = t->o;
    const struct mslam_model_config *c = &m->cfg;
    /* architecture_options[i]'s value as given and as the model has it */
    const struct {
        int given, model;
    } kept[N_ARCHITECTURE_KEPT] = {
        {o->d_model, c->d_model},
        {o->heads, c->n_heads},
        {o->ff, c->d_ff},
        {o->kernel, c->conv_kernel},
        {o->sub_channels, c->sub_channels},
        {o->speech_layers, c->n_speech_layers},
        {o->shared_layers, c->n_shared_layers},
        /* with --init, more decoder layers than the model's are added on top */
        {o->decoder_layers, c->n_decoder_layers > 0 && (resuming || o->decoder_layers < c->n_decoder_layers)
                                ? c->n_decoder_layers
                                : o->decoder_layers},
        {o->symmetric_conv != 0, !c->causal_conv},
        {o->codes, resuming && c->n_codes > 0 ? c->n_codes : o->codes}};
    GString *list = g_string_new(NULL);
    for (int i = 0; i < N_ARCHITECTURE_KEPT; i++)
        if (kept[i].given != kept[i].model && architecture_given(o, i))
            g_string_append_printf(list, "%s--%s %d (%d)", list->len ? ", " : "", architecture_options[i],
                                   kept[i].given, kept[i].model);
    if (list->len && t->rank == 0)
        mslam_log(MSLAM_LOG_WARN, "%s %s keeps its architecture: %s given, the model's in brackets (%s)",
                  resuming ? "a run resumed from" : "--init", where, list->str,
                  resuming ? "start a new run with --init to change it" : "--decoder-layers above its own adds layers");
    g_string_free(list, TRUE);
}

/* The options of the validation data, recorded with the others but for the steps' comparison:
 * the best score so far (--best-metric) and the validations without a better one (--patience)
 * were measured on the checkpoint's. */
static const char *const validation_options[] = {"valid", "valid-split", "valid-items", NULL};
/* What a resumed run must share with the checkpoint's to take the same steps is every option but
 * these: those of files, logging, parallelism and when to stop (the validation data, whose scores
 * the best model and --patience compare, is recorded: validation_options, warned of apart). */
static const char *const not_recorded[] = {"out",         "init",       "reinit",      "resume",      "stop-at",
                                           "threads",     "accumulate", "valid-every", "best-metric", "patience",
                                           "save-every",  "keep",       "log-every",   "max-skipped", NULL};

/* Warns when the validation data of a resumed run is not its checkpoint's (was: the checkpoint's
 * options record; one written before they were recorded, or without --valid, says nothing). */
static void warn_validation_changed(const trainer *t, const char *was, const char *latest) {
    /* a run that no longer validates compares nothing with the checkpoint's scores */
    gchar *valid_was = was && t->o->valid && *t->o->valid ? options_record_value(was, "valid") : NULL;
    GString *list = g_string_new(NULL);
    for (const char *const *name = validation_options; valid_was && *valid_was && *name; name++) {
        gchar *a = options_record_value(was, *name), *b = options_record_value(t->o->record, *name);
        if (a && b && strcmp(a, b))
            g_string_append_printf(list, "%s%s: %s -> %s", list->len ? "; " : "", *name, *a ? a : "(none)",
                                   *b ? b : "(none)");
        g_free(a), g_free(b);
    }
    if (list->len) {
        const train_position *p = &t->pos;
        char best[96] = "";
        if (p->best_step > 0)
            snprintf(best, sizeof best, ": its best %s so far, step %ld's, and", p->best_metric, p->best_step);
        mslam_log(MSLAM_LOG_WARN, "--resume: %s was validated on other data (%s)%s the validations counted for "
                  "--patience were measured on its data, not this run's", latest, list->str,
                  best[0] ? best : ":");
    }
    g_string_free(list, TRUE);
    g_free(valid_was);
}

/* *name, when a corpus folder, as its manifest.tsv, which it stands for. */
static int name_folder_manifest(gchar **name) {
    if (!*name || !is_folder(*name)) return 0;
    char *file = manifest_file(*name);
    if (!file) return -1;
    g_free(*name);
    *name = g_strdup(file);
    free(file);
    return 0;
}

/* A checkpoint's options record (malloc'd; taken) as this version records the same options: a
 * folder of data (a list) or valid as its manifest.tsv (name_folder_manifests), weights all 1 as
 * none (parse_weights), so that a resume of a run recorded before those rules compares alike. An
 * item with escapes names no folder here and stays as it is. New malloc'd string. */
static char *record_as_now(char *was) {
    GString *out = g_string_new(NULL);
    gchar **lines = g_strsplit(was, "\n", -1);
    for (gchar **line = lines; *line; line++) {
        char *eq = strchr(*line, '=');
        gchar *name = eq ? g_strndup(*line, (size_t)(eq - *line)) : NULL;
        int paths = name && (!strcmp(name, "data") || !strcmp(name, "valid"));
        int weights = name && (!strcmp(name, "data-weight") || !strcmp(name, "text-data-weight"));
        gchar **items = paths || weights ? options_record_list(eq + 1) : NULL;
        if (paths && !items && eq[1]) { /* one path, not a list (valid) */
            gchar *path = g_strdup(eq + 1);
            name_folder_manifest(&path); /* (out of memory: as it was) */
            g_string_append_printf(out, "%s=%s", name, path);
            g_free(path);
        } else if (items) {
            int all_one = 1;
            GString *list = g_string_new(NULL);
            for (gchar **item = items; *item; item++) {
                if (weights) all_one &= g_ascii_strtod(*item, NULL) == 1;
                if (paths) name_folder_manifest(item);
                g_string_append_printf(list, "%s;", *item);
            }
            g_string_append_printf(out, "%s=%s", name, weights && all_one ? "" : list->str);
            g_string_free(list, TRUE);
        } else {
            g_string_append(out, *line);
        }
        if (line[1]) g_string_append_c(out, '\n');
        g_strfreev(items);
        g_free(name);
    }
    g_strfreev(lines);
    free(was);
    char *now = strdup(out->str);
    g_string_free(out, TRUE);
    return now;
}

/* A resume's batches against the checkpoint's: the options that shape the steps, and the global
 * batch (processes x micro-batches x --batch-size utterances, and --text-batch pairs likewise). A
 * split of the same global batches into other processes and micro-batches takes the same steps
 * (its sums in another order): said, and --batch-size and --text-batch then differ by design. A
 * different global batch is warned about, and the position in the epoch carried over as a count
 * of utterances, so that it lies inside the new, differently cut epoch. */
static void resume_batches(trainer *t, const char *latest) {
    const train_opts *o = t->o;
    train_position *p = &t->pos;
    long long split_was = (long long)p->world_size * p->accumulate, split = (long long)t->world * o->accumulate;
    long long global = o->batch_size * split;
    char *was = t->rank == 0 ? checkpoint_options(latest) : NULL;
    if (was) was = record_as_now(was);
    gchar *text_batch_was = was ? options_record_value(was, "text-batch") : NULL;
    if (was && !text_batch_was) text_batch_was = options_record_value(o->record_defaults, "text-batch");
    /* the text batch counts only when there are text pairs (else another --text-data warns) */
    int same_globals = p->global_batch == global && (!o->text_data || !*o->text_data || !text_batch_was ||
                                                     atoll(text_batch_was) * split_was == o->text_batch * split);
    /* the model's options are the checkpoint's (warn_architecture_kept), the split's are said below,
     * and the validation data's apart (they do not change the steps) */
    const char *ignored[sizeof architecture_options / sizeof *architecture_options +
                        sizeof validation_options / sizeof *validation_options +
                        sizeof not_recorded / sizeof *not_recorded + 2];
    size_t n_ignored = 0;
    /* what is not recorded now, an older version's checkpoint may have recorded (0.2.0's
     * max-skipped): no step depends on it */
    for (const char *const *u = not_recorded; *u; u++) ignored[n_ignored++] = *u;
    for (const char *const *a = architecture_options; *a; a++) ignored[n_ignored++] = *a;
    for (const char *const *v = validation_options; *v; v++) ignored[n_ignored++] = *v;
    if (same_globals) ignored[n_ignored++] = "batch-size", ignored[n_ignored++] = "text-batch";
    ignored[n_ignored] = NULL;
    char *diff = was && o->record ? options_record_diff(was, o->record, o->record_defaults, ignored) : NULL;
    if (diff)
        mslam_log(MSLAM_LOG_WARN, "--resume: %s was written with other options (%s): the steps differ from an "
                  "uninterrupted run's", latest, diff);
    warn_validation_changed(t, was, latest);
    if (p->global_batch != global) {
        mslam_log(MSLAM_LOG_WARN, "the checkpoint was trained on %d utterances a step (%d process(es) x %d "
                  "micro-batch(es) x batch %lld), this run takes %lld (%d x %d x %d): the batches differ from an "
                  "uninterrupted run", p->global_batch, p->world_size, p->accumulate, p->global_batch / split_was,
                  global, t->world, o->accumulate, o->batch_size);
        p->batch = (long)(p->batch * (long long)p->global_batch / global);
    } else if (t->rank == 0 && (t->world != p->world_size || o->accumulate != p->accumulate)) {
        fprintf(stderr, "the checkpoint was trained as %d process(es) x %d micro-batch(es) x batch %lld, this run "
                "takes the same %lld utterances a step as %d x %d x %d: the sums run in another order\n",
                p->world_size, p->accumulate, p->global_batch / split_was, global, t->world, o->accumulate,
                o->batch_size);
    }
    free(was);
    g_free(text_batch_was);
    g_free(diff);
}

/* The error of a resume whose newest checkpoint, latest, cannot be read (mslam_last_error says
 * why): a save cut short, a full disk or a copy broken on the way. Nothing is deleted, as the
 * file may be worth a look: the error says which checkpoint a resume takes once it is moved
 * away (one that cannot be opened either is said to be damaged too). */
static int refuse_damaged_checkpoint(const char *out, const char *latest) {
    const char *why = mslam_last_error();
    size_t named = strlen(latest);
    if (!strncmp(why, latest, named) && !strncmp(why + named, ": ", 2)) why += named + 2; /* named once is enough */
    gchar *reason = g_strdup(why);
    char *older = checkpoint_before(out, checkpoint_step(latest));
    st_file f;
    int older_opens = older && st_open(&f, older) == 0;
    if (older_opens) st_close(&f);
    char next[512];
    if (!older)
        snprintf(next, sizeof next, "it is the only checkpoint there, so --resume would then start afresh");
    else
        snprintf(next, sizeof next, "--resume then continues from %s, the newest before it%s", older,
                 older_opens ? "" : ", which cannot be read either");
    mslam_error("--resume: the newest checkpoint, %s, is damaged (%s). Nothing was deleted: move it out of %s and %s",
                latest, reason, out, next);
    free(older);
    g_free(reason);
    return -1;
}

/* The encoder's architecture as the options give it (the output heads, vocabulary and languages
 * left to the caller): one place for build_model and check_architecture. */
static struct mslam_model_config architecture_of_options(const train_opts *o) {
    return (struct mslam_model_config){
        .n_mels = 80, .d_model = o->d_model, .n_heads = o->heads, .d_ff = o->ff, .conv_kernel = o->kernel,
        .sub_channels = o->sub_channels, .n_speech_layers = o->speech_layers, .n_shared_layers = o->shared_layers,
        .causal_conv = !o->symmetric_conv};
}

/* The model to train: from a checkpoint when resuming, else a fresh one whose vocabulary and
 * languages come from the data (after those of the --init model, whose parameters it takes). */
static int build_model(trainer *t, int *resumed) {
    train_opts *o = t->o;
    *resumed = 0;
    char *latest = o->resume ? checkpoint_latest(o->out) : NULL;
    if (o->resume) {
        /* every process resumes from the checkpoint rank 0 wrote, or none does: an --out each
         * reads on its own disk would have one resume and another start afresh, and their
         * collectives pair up wrongly */
        double step = latest ? (double)checkpoint_step(latest) : -1, seen[2] = {step, step * step};
        if (dist_sum_f64(seen, 2)) return -1;
        if (seen[1] * t->world != seen[0] * seen[0]) {
            mslam_error("--resume: the processes find different checkpoints in %s (this one, rank %d: %s): --out "
                        "must be one folder that every process reads", o->out, t->rank, latest ? latest : "none");
            free(latest);
            return -1;
        }
    }
    if (o->resume && !latest) mslam_log(MSLAM_LOG_WARN, "--resume: no checkpoint in %s, starting afresh", o->out);
    if (latest) {
        int has_state = 0, rc = checkpoint_load(latest, &t->model, &t->pos, &has_state), damaged = rc != 0;
        if (!rc && !has_state) rc = mslam_error("%s has no optimizer state to resume from", latest);
        if (!rc) {
            t->cfg = &t->model->cfg;
            rc = adamw_init(&t->opt, &t->oc, &t->model->table);
            if (!rc && checkpoint_load_optimizer(latest, &t->opt)) rc = -1, damaged = 1;
        }
        /* every process reads the checkpoint itself: all of them stop when one cannot (none
         * turns to an older checkpoint on its own, which would leave the processes at other steps) */
        int damaged_anywhere = dist_any(damaged);
        if (damaged) rc = refuse_damaged_checkpoint(o->out, latest);
        else if (damaged_anywhere && !rc) rc = mslam_error("--resume: another process could not read %s", latest);
        const struct mslam_model_config *mc = t->model ? &t->model->cfg : NULL;
        const char *lacking = !mc                                                  ? NULL
                              : (t->tasks & TASK_ASR) && !mc->ctc_head             ? "a CTC head"
                              : (t->tasks & TASK_LID) && !mc->lid_head             ? "a LID head"
                              : (t->tasks & TASK_ST) && mc->n_decoder_layers < 1 ? "a translation decoder"
                              : (t->tasks & TASK_PRETRAIN) && mc->n_codes < 1     ? "the pre-training tensors"
                                                                                   : NULL;
        if (!rc && lacking && (t->tasks & TASK_PRETRAIN) && !mc->ctc_head && mc->n_codes > 0)
            rc = mslam_error("--task pretrain trains CTC unless --ctc-weight 0, and %s was pre-trained without: resume "
                             "with --ctc-weight 0", latest);
        else if (!rc && lacking)
            rc = mslam_error("--task %s needs %s, which %s lacks: resume with the task it was trained for, or start "
                             "a new run from it with --init %s --out ANOTHER", o->task, lacking, latest, latest);
        else if (!rc && (t->tasks & TASK_PRETRAIN) && o->quantizer && quantizer_named(o->quantizer) != mc->quantizer)
            rc = mslam_error("--quantizer %s: %s was pre-trained with --quantizer %s: resume with it (or leave "
                             "--quantizer out)", o->quantizer, latest, quantizer_name(mc->quantizer));
        if (!rc && t->rank == 0)
            fprintf(stderr, "resuming from %s at step %ld (epoch %ld, batch %ld)\n", latest, t->pos.step, t->pos.epoch,
                    t->pos.batch);
        if (!rc) warn_architecture_kept(t, t->model, latest, 1);
        if (!rc && o->init && t->rank == 0)
            mslam_log(MSLAM_LOG_WARN, "--init %s is not read: the run resumes from %s", o->init, latest);
        if (!rc) resume_batches(t, latest);
        free(latest);
        *resumed = !rc;
        return rc ? -1 : 0;
    }
    mslam_model *init = NULL;
    if (o->init && checkpoint_load(o->init, &init, NULL, NULL)) return -1;
    if (init) warn_architecture_kept(t, init, o->init, 0);
    struct strlist vocab = {0}, langs = {0}, data_vocab, data_langs;
    /* pre-training's text may be in languages without speech (mSLAM's text-only languages):
     * SpanBERT reads its characters */
    const dataset *text = (t->tasks & TASK_PRETRAIN) ? &t->text : NULL;
    int rc = vocab_build(&t->train, text, o->min_char_count, &data_vocab);
    if (!rc) rc = langs_build(&t->train, &data_langs);
    if (rc) {
        mslam_model_free(init);
        return -1;
    }
    if (init) {
        /* --vocab data: the init model's characters that the data has, however rarely
         * (--min-char-count leaves out new characters), in its order (its rows are copied by
         * character, model_copy_params), the data's others after them */
        int data_only = !strcmp(o->vocab, "data");
        struct strlist data_all = {0};
        if (data_only && o->min_char_count > 1) rc = vocab_build(&t->train, text, 1, &data_all);
        for (int i = 0; i < init->cfg.vocab_size && !rc; i++)
            if (!data_only || strlist_contains(data_all.n ? &data_all : &data_vocab, init->vocab[i]))
                rc = strlist_push(&vocab, init->vocab[i]);
        strlist_free(&data_all);
        for (int i = 0; i < init->cfg.n_langs && !rc; i++) rc = strlist_push(&langs, init->langs[i]);
    }
    /* a frozen encoder keeps its vocabulary (--vocab data may narrow it): a new character would
     * get an untrained text-embedding row (and the translation decoder, which reads text,
     * untrained rows) that the frozen encoder then reads. The languages are the LID head's rows:
     * they grow where the head trains and stay where it is kept as it was. */
    int frozen = init && o->freeze_encoder, lid_trains = (t->tasks & TASK_LID) && o->lid_weight > 0;
    if (!rc && !frozen) rc = merge_lists(&vocab, &data_vocab);
    if (!rc && (!frozen || lid_trains)) rc = merge_lists(&langs, &data_langs);
    if (!rc) rc = langs_check(&langs, t->rank == 0);
    strlist_free(&data_vocab);
    strlist_free(&data_langs);
    if (!rc && langs.n == 0) rc = strlist_push(&langs, "und"); /* no language labels: LID unused */
    struct mslam_model_config c = architecture_of_options(o);
    c.vocab_size = (int)vocab.n, c.n_langs = (int)langs.n;
    c.ctc_head = (t->tasks & TASK_ASR) != 0, c.lid_head = (t->tasks & TASK_LID) != 0;
    c.n_decoder_layers = (t->tasks & TASK_ST) ? o->decoder_layers : 0;
    c.n_codes = (t->tasks & TASK_PRETRAIN) ? o->codes : 0;
    /* pre-training continued from a pre-trained model keeps its targets unless --quantizer says */
    if (c.n_codes > 0)
        c.quantizer = o->quantizer                      ? quantizer_named(o->quantizer)
                      : init && init->cfg.n_codes > 0 ? init->cfg.quantizer
                                                        : MSLAM_QUANTIZER_GUMBEL;
    if (init) { /* the architecture of the init model; heads as the task needs */
        const struct mslam_model_config *ic = &init->cfg;
        c.n_mels = ic->n_mels, c.d_model = ic->d_model, c.n_heads = ic->n_heads, c.d_ff = ic->d_ff;
        c.conv_kernel = ic->conv_kernel, c.sub_channels = ic->sub_channels, c.causal_conv = ic->causal_conv;
        c.n_speech_layers = ic->n_speech_layers, c.n_shared_layers = ic->n_shared_layers;
        c.ctc_head |= ic->ctc_head, c.lid_head |= ic->lid_head;
        /* --decoder-layers above the init model's adds fresh layers on top of its decoder; not
         * given, its decoder stays as it is */
        if (ic->n_decoder_layers > c.n_decoder_layers ||
            (ic->n_decoder_layers > 0 && !architecture_option_given(o, "decoder-layers")))
            c.n_decoder_layers = ic->n_decoder_layers;
        if (ic->n_decoder_layers > 0 && c.n_decoder_layers > ic->n_decoder_layers && t->rank == 0)
            fprintf(stderr, "--decoder-layers %d: %d new decoder layer(s) on top of the %d of %s (--decoder-layers %d "
                    "keeps its decoder as it is)\n", c.n_decoder_layers, c.n_decoder_layers - ic->n_decoder_layers,
                    ic->n_decoder_layers, o->init, ic->n_decoder_layers);
        c.translate_input = ic->translate_input;
    }
    /* what the decoder reads, as this run trains it: speech frames when it translates speech,
     * the transcript's text-path frames when it learns from text pairs alone */
    if ((t->tasks & TASK_ST) && o->st_weight > 0)
        c.translate_input = MSLAM_TRANSLATE_SPEECH;
    else if ((t->tasks & TASK_ST) && o->text_data && *o->text_data && o->mt_weight > 0 && c.ctc_head)
        c.translate_input = MSLAM_TRANSLATE_TRANSCRIPT;
    if (!rc && (t->tasks & TASK_ST) && c.n_decoder_layers < 1)
        rc = mslam_error("--task %s needs --decoder-layers of at least 1", o->task);
    mslam_model *m = rc ? NULL : mslam_model_new(&c, (const char *const *)vocab.items, (const char *const *)langs.items);
    strlist_free(&vocab);
    strlist_free(&langs);
    if (!m) {
        mslam_model_free(init);
        return -1;
    }
    t->model = m;
    t->cfg = &m->cfg;
    model_init_params(m, (uint64_t)o->seed);
    int fresh_statistics = !init;
    for (gchar **prefix = init ? o->reinit : NULL; prefix && *prefix; prefix++) {
        const char *const one[] = {*prefix, NULL};
        int found = 0; /* a misspelt prefix would change nothing */
        for (int i = 0; i < m->table.n && !found; i++) found = starts_with_any(m->table.entries[i].name, one);
        if (!found) {
            mslam_model_free(init);
            return mslam_error("--reinit %s: no tensor of the model has a name that starts with it (e.g. "
                               "shared_layers., shared_layers.5., text., ctc.)", *prefix);
        }
        fresh_statistics |= starts_with_any("frontend.mel_mean", one) || starts_with_any("frontend.mel_std", one);
    }
    if (init) {
        int missed = model_copy_params(m, init, (const char *const *)o->reinit);
        if (t->rank == 0)
            fprintf(stderr, "initialised from %s (%d of %d tensors new or partly new)\n", o->init, missed, m->table.n);
        mslam_model_free(init);
    }
    if (fresh_statistics && t->rank == 0 &&
        mel_statistics(&t->train, c.n_mels, o->stats_items, m->p.mel_mean, m->p.mel_std))
        return -1;
    /* every process starts from rank 0's parameters (the feature statistics are measured there) */
    if (dist_broadcast_f32(m->block, m->table.total)) return -1;
    t->pos.seed = (uint64_t)o->seed;
    return adamw_init(&t->opt, &t->oc, &m->table);
}

static void report_data(const trainer *t, const char *what, const dataset_report *r) {
    if (t->rank != 0) return;
    fprintf(stderr, "%s: %d utterances kept", what, r->kept);
    if (r->missing_audio) fprintf(stderr, ", %d unreadable audio", r->missing_audio);
    if (r->empty_audio) fprintf(stderr, ", %d empty or too short", r->empty_audio);
    if (r->too_long) fprintf(stderr, ", %d longer than --max-seconds", r->too_long);
    if (r->empty_text) fprintf(stderr, ", %d without the labels the task needs", r->empty_text);
    if (r->unknown_chars)
        fprintf(stderr, ", %d transcript%s or translation%s with characters outside the vocabulary", r->unknown_chars,
                plural_s(r->unknown_chars), plural_s(r->unknown_chars));
    if (r->unknown_lang) fprintf(stderr, ", %d in languages outside the model's list", r->unknown_lang);
    fputc('\n', stderr);
}

static void trainer_free(trainer *t) {
    mslam_model_free(t->model);
    mslam_param_table_free(&t->gtab);
    free(t->grad);
    adamw_free(&t->opt);
    dataset_free(&t->train);
    dataset_free(&t->valid);
    dataset_free(&t->text);
    mslam_encoder_pass_free(&t->text_pass);
    free(t->mt_ids), free(t->mt_lens), free(t->mt_targets), free(t->mt_target_lens), free(t->mt_keys);
    free(t->mt_noisy);
    free(t->mt_denc);
    epoch_plan_free(&t->plan);
    epoch_plan_free(&t->text_plan);
    mslam_encoder_pass_free(&t->pass);
    head_work_free(&t->hw);
    decoder_pass_free(&t->dp);
    pretrain_work_free(&t->pw);
    free(t->pt_dmid);
    random_quantizer_free(&t->rq);
    free(t->rq_codes);
    for (int k = 0; t->micro && k < t->o->accumulate; k++) {
        feature_batch_free(&t->micro[k].fb);
        free(t->micro[k].example), free(t->micro[k].frames), free(t->micro[k].slots), free(t->micro[k].text_items);
        free(t->micro[k].speech_masked), free(t->micro[k].text_masked);
    }
    free(t->micro);
    free(t->cache), free(t->cache_offset), free(t->cache_frames), free(t->cache_out);
    free(t->denc);
    free(t->sub_enc);
    free(t->sub_denc);
    free(t->idx);
    free(t->lens);
    free(t->targets);
    free(t->target_lens);
    free(t->langs);
    free(t->drop_keys);
    if (t->log) fclose(t->log);
    if (t->out_lock >= 0) close(t->out_lock);
}

/* A resumed run's usable rows of option (--data, --text-data) against those its checkpoint's
 * position counts in (recorded, zero when it has none): the epochs' order indexes them, so that
 * other rows would continue at a place in another list; refused, saying how they differ. Then
 * recorded holds this run's rows, for its checkpoints. */
static int check_rows(const trainer *t, int resumed, const char *option, const dataset *ds, train_rows *recorded) {
    train_rows now;
    dataset_rows_hash(ds, &now.rows, &now.hash, &now.unordered);
    /* every process takes its share of each batch of one epoch order: processes with other rows (a
     * file missing on one node, a manifest edited on one disk) would each take theirs of another.
     * Rank 0's count and hash in 16-bit parts, which floats hold exactly */
    float mine[6], first[6];
    for (int k = 0; k < 4; k++) mine[k] = (float)((now.hash >> (16 * k)) & 0xffff);
    mine[4] = (float)(now.rows & 0xffff), mine[5] = (float)(now.rows >> 16);
    memcpy(first, mine, sizeof first);
    if (dist_broadcast_f32(first, 6)) return -1;
    int differs = memcmp(first, mine, sizeof mine) != 0;
    if (dist_any(differs)) {
        long rows0 = (long)first[4] + ((long)first[5] << 16);
        if (!differs) return mslam_error("another process read other rows of %s than this one", option);
        return mslam_error("the processes read other rows of %s: %ld usable rows of %s here (rank %d), %ld usable rows "
                           "of %s%s on rank 0; every process must read the same rows (the same manifest, every audio "
                           "file readable on each)", option, now.rows, option, t->rank, rows0, option,
                           rows0 == now.rows ? ", not the same ones," : "");
    }
    if (resumed && recorded->rows > 0 && (recorded->rows != now.rows || recorded->hash != now.hash)) {
        char how[160];
        if (recorded->rows != now.rows)
            snprintf(how, sizeof how, "%ld usable rows when it was written, %ld now", recorded->rows, now.rows);
        else if (recorded->unordered == now.unordered)
            snprintf(how, sizeof how, "the same %ld usable rows as when it was written, in another order", now.rows);
        else
            snprintf(how, sizeof how, "%ld usable rows, as when it was written, but not the same ones (a file, "
                     "language, transcript, translation or duration differs)", now.rows);
        return mslam_error("--resume: the checkpoint's position in %s (epoch %ld, batch %ld) counts in the rows %s "
                           "gave, and they differ: %s. Resuming would continue at that place in another list: resume "
                           "with the data (and --split, --max-seconds, --task) it was written with, or start a new "
                           "run from its checkpoint with --init", t->o->out, t->pos.epoch, t->pos.batch, option, how);
    }
    *recorded = now;
    return 0;
}

static int default_threads(void) {
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    const char *local = getenv("OMPI_COMM_WORLD_LOCAL_SIZE");
    long per = cores / (local && atoi(local) > 0 ? atoi(local) : 1);
    return per > 0 ? (int)per : 1;
}

/* SpecAugment fills its masks with the mean: the random quantizer's codes of those frames would
 * all be one. from: where the quantizer came from when --quantizer did not say (NULL: it did). */
static int refuse_specaug_with_random_quantizer(const train_opts *o, const char *from) {
    if (o->no_specaug || (o->freq_masks <= 0 && o->time_masks <= 0)) return 0;
    return mslam_error("--quantizer random%s%s%s reads its targets from the log-mel, which SpecAugment's masks would "
                       "blank: give --no-specaug (the span masks of pre-training are its augmentation)",
                       from ? " (the quantizer of " : "", from ? from : "", from ? ")" : "");
}

/* Whether --quantizer names the random quantizer (BEST-RQ); one that a model or checkpoint brings
 * is its config's. */
static int asks_random_quantizer(const train_opts *o) {
    return o->quantizer && quantizer_named(o->quantizer) == MSLAM_QUANTIZER_RANDOM;
}

/* The sum of the weights of the losses --task trains (a loss without its data, --mt-weight
 * without --text-data, counts none; w2v-BERT's contrastive and diversity losses none with the
 * random quantizer), their flags and values written into names. Every one 0: the run would only
 * decay the parameters. */
static double trained_weight(const train_opts *o, int random, char *names, size_t size) {
    int tasks = parse_task(o->task), text = o->text_data && *o->text_data;
    const struct {
        int trained;
        const char *flag;
        double weight;
    } losses[] = {{(tasks & (TASK_ASR | TASK_PRETRAIN)) != 0, "--ctc-weight", o->ctc_weight},
                  {(tasks & TASK_LID) != 0, "--lid-weight", o->lid_weight},
                  {(tasks & TASK_ST) != 0, "--st-weight", o->st_weight},
                  {(tasks & TASK_ST) && text, "--mt-weight", o->mt_weight},
                  /* BEST-RQ's targets have no contrastive or diversity loss */
                  {(tasks & TASK_PRETRAIN) && !random, "--w2v-weight", o->w2v_weight},
                  {(tasks & TASK_PRETRAIN) && !random, "--diversity-weight", o->diversity_weight},
                  {(tasks & TASK_PRETRAIN) != 0, "--mlm-weight", o->mlm_weight},
                  {(tasks & TASK_PRETRAIN) && text, "--spanbert-weight", o->spanbert_weight}};
    double sum = 0;
    size_t used = 0;
    names[0] = '\0';
    for (size_t i = 0; i < sizeof losses / sizeof *losses; i++) {
        if (!losses[i].trained) continue;
        sum += losses[i].weight;
        if (used < size)
            used += (size_t)snprintf(names + used, size - used, "%s%s %g", used ? ", " : "", losses[i].flag,
                                     losses[i].weight);
    }
    return sum;
}

/* The architecture options under the library's own rules (mslam_config_check, which
 * mslam_model_new applies), before anything is read: its message names config fields ("d_model
 * = 32 is not a multiple of n_heads = 3"), rewritten here as the flags that set them ("--d-model
 * 32 is not a multiple of --heads 3"). The vocabulary and languages come from the data later. */
static int check_architecture(const train_opts *o) {
    struct mslam_model_config c = architecture_of_options(o);
    c.n_decoder_layers = o->decoder_layers, c.vocab_size = 1, c.n_langs = 1;
    c.n_codes = o->codes, c.quantizer = MSLAM_QUANTIZER_GUMBEL;
    if (!mslam_config_check(&c)) return 0;
    static const struct {
        const char *field, *flag;
    } flags[] = {{"d_model", "--d-model"},           {"n_heads", "--heads"},
                 {"d_ff", "--ff"},                   {"conv_kernel", "--kernel"},
                 {"sub_channels", "--sub-channels"}, {"n_speech_layers", "--speech-layers"},
                 {"n_shared_layers", "--shared-layers"}, {"n_decoder_layers", "--decoder-layers"},
                 {"n_codes", "--codes"}};
    const char *message = mslam_last_error();
    if (!strncmp(message, "config: ", 8)) message += 8;
    GString *named = g_string_new(message);
    for (size_t i = 0; i < sizeof flags / sizeof *flags; i++) {
        gchar *was = g_strdup_printf("%s = ", flags[i].field), *now = g_strdup_printf("%s ", flags[i].flag);
        for (char *at = named->str; (at = strstr(at, was));) {
            /* a whole field name: "n_heads", not the "heads" in it */
            if (at > named->str && (g_ascii_isalnum(at[-1]) || at[-1] == '_')) {
                at += strlen(was);
                continue;
            }
            gssize pos = at - named->str;
            g_string_erase(named, pos, (gssize)strlen(was));
            g_string_insert(named, pos, now);
            at = named->str + pos + strlen(now);
        }
        g_free(was), g_free(now);
    }
    mslam_error("%s", named->str);
    g_string_free(named, TRUE);
    return -1;
}

/* A weight flag's values (flag "--data-weight" for the manifests of --data, "--text-data-weight"
 * for those of --text-data): one per manifest, each a number from 0 to DATA_WEIGHT_MAX, into
 * *weights (malloc'd). Weights all 1 plan as none (epoch_plan_make): *weights stays NULL and the
 * flag is dropped, so that the options record (and a resume's comparison) reads as without it. */
#define DATA_WEIGHT_MAX 1000
static int parse_weights(const char *flag, const char *manifest_flag, gchar **manifests, gchar ***values,
                         double **weights) {
    *weights = NULL;
    if (!*values) return 0;
    guint n_manifests = manifests ? g_strv_length(manifests) : 0, n = g_strv_length(*values);
    if (n == 0) { /* an empty key (text-data-weight=): none given */
        g_strfreev(*values);
        *values = NULL;
        return 0;
    }
    if (n != n_manifests)
        return mslam_error("%s: %u given for %u %s; give one for each, in their order (1: every row once an epoch)",
                           flag, n, n_manifests, manifest_flag);
    double *w = mslam_malloc(n * sizeof(double), flag);
    if (!w) return -1;
    int all_one = 1, any = 0;
    for (guint i = 0; i < n; i++) {
        char *end;
        const char *text = (*values)[i];
        w[i] = g_ascii_strtod(text, &end);
        if (end == text || *end || !isfinite(w[i]) || w[i] < 0 || w[i] > DATA_WEIGHT_MAX) {
            free(w);
            return mslam_error("%s %s (for %s): expected a number from 0 to %d, how many times an epoch each of its "
                               "rows is taken on average", flag, text, manifests[i], DATA_WEIGHT_MAX);
        }
        all_one &= w[i] == 1;
        any |= w[i] > 0;
    }
    if (!any) {
        free(w);
        return mslam_error("%s: every weight is 0, so an epoch would take no row of %s", flag, manifest_flag);
    }
    if (all_one) {
        free(w);
        g_strfreev(*values);
        *values = NULL;
        return 0;
    }
    *weights = w;
    return 0;
}

/* The folders of --data and --valid as their manifests, so that the options record (a resume's
 * comparison) reads "c" and "c/manifest.tsv" as one. */
static int name_folder_manifests(train_opts *o) {
    for (gchar **d = o->data; d && *d; d++)
        if (name_folder_manifest(d)) return -1;
    return name_folder_manifest(&o->valid);
}

/* --data-weight and --text-data-weight into their values (check_options has seen the rest). */
static int parse_weight_options(train_opts *o) {
    return parse_weights("--data-weight", "--data", o->data, &o->data_weight, &o->data_weights) ||
           parse_weights("--text-data-weight", "--text-data", o->text_data, &o->text_data_weight,
                         &o->text_data_weights);
}

/* With weights (NULL: none), what each manifest of ds gives an epoch of size examples (rank 0
 * says; flag names the weights in the warning of one that rounds to no row). */
static void report_weights(const trainer *t, const dataset *ds, const double *weights, long size, const char *flag) {
    if (t->rank != 0 || !weights) return;
    long *rows = dataset_rows_per_file(ds);
    if (!rows) return;
    fprintf(stderr, "%s: an epoch of %ld examples:", flag, size);
    for (size_t f = 0; f < ds->files.n; f++)
        fprintf(stderr, "%s %ld of %s (%ld usable rows x %g)", f ? ";" : "", epoch_rows_at_weight(weights[f], rows[f]),
                ds->files.items[f], rows[f], weights[f]);
    fputc('\n', stderr);
    for (size_t f = 0; f < ds->files.n; f++)
        if (weights[f] > 0 && rows[f] > 0 && epoch_rows_at_weight(weights[f], rows[f]) == 0)
            mslam_log(MSLAM_LOG_WARN, "%s %g takes none of the %ld usable rows of %s into an epoch (%g rows, "
                      "rounded to 0): give at least %g", flag, weights[f], rows[f], ds->files.items[f],
                      weights[f] * (double)rows[f], 0.5 / (double)rows[f]);
    free(rows);
}

/* The examples of an epoch of ds under weights (epoch_plan_size), said by report_weights; -1 with
 * the error under flag's name. */
static long weighted_epoch_size(const trainer *t, const dataset *ds, const double *weights, const char *flag) {
    const char *outer = mslam_error_context_set(flag);
    long size = epoch_plan_size(ds, weights);
    mslam_error_context_set(outer);
    if (size >= 0) report_weights(t, ds, weights, size, flag);
    return size;
}

/* The options' values, before anything is read or written: an error names the option. */
static int check_options(const train_opts *o) {
    if (parse_task(o->task) < 0) return -1;
    if (lr_schedule_parse(o->schedule) < 0)
        return mslam_error("--schedule %s: expected cosine, inverse-sqrt or constant", o->schedule);
    if (!o->data || !o->data[0]) return mslam_error("--data MANIFEST is required (see mslam-trainer train --help)");
    if (!o->out || !*o->out) return mslam_error("--out is empty: name the run's folder");
    /* the manifest options, each error under its flag's name, before --out is made */
    enum manifest_layout layout;
    const char *outer = mslam_error_context_set("--split");
    int bad = split_option(o->split) < 0;
    if (!bad) {
        mslam_error_context_set("--valid-split");
        bad = split_option(o->valid_split) < 0;
    }
    if (!bad && o->layout) {
        mslam_error_context_set("--layout");
        bad = layout_option(o->layout, &layout) < 0;
    }
    mslam_error_context_set(outer);
    if (bad) return -1;
    if (o->accumulate < 1 || o->accumulate > ACCUMULATE_MAX)
        return mslam_error("--accumulate %d: must be 1..%d", o->accumulate, ACCUMULATE_MAX);
    if ((long long)o->batch_size * o->accumulate > BATCH_MAX || (long long)o->text_batch * o->accumulate > BATCH_MAX)
        return mslam_error("--batch-size %d or --text-batch %d x --accumulate %d is over %d a process", o->batch_size,
                           o->text_batch, o->accumulate, BATCH_MAX);
    const struct {
        const char *flag;
        int value;
    } counts[] = {{"--batch-size", o->batch_size}, {"--steps", o->steps},         {"--chunk-min", o->chunk_min},
                  {"--keep", o->keep},             {"--log-every", o->log_every}, {"--save-every", o->save_every},
                  {"--stats-items", o->stats_items}};
    for (size_t i = 0; i < sizeof counts / sizeof *counts; i++)
        if (counts[i].value < 1) return mslam_error("%s %d: must be at least 1", counts[i].flag, counts[i].value);
    /* SpecAugment's masks: a negative count or width would silently give none, and a width is
     * drawn as uniform x (width + 1), which must fit an int */
    const struct {
        const char *flag;
        int value, hi;
    } masks[] = {{"--freq-masks", o->freq_masks, SPECAUG_MASKS_MAX},
                 {"--freq-width", o->freq_width, SPECAUG_WIDTH_MAX},
                 {"--time-masks", o->time_masks, SPECAUG_MASKS_MAX},
                 {"--time-width", o->time_width, SPECAUG_WIDTH_MAX}};
    for (size_t i = 0; i < sizeof masks / sizeof *masks; i++)
        if (masks[i].value < 0 || masks[i].value > masks[i].hi)
            return mslam_error("%s %d: must be 0..%d", masks[i].flag, masks[i].value, masks[i].hi);
    if (o->chunk_max < o->chunk_min)
        return mslam_error("--chunk-max %d: must be at least --chunk-min (%d)", o->chunk_max, o->chunk_min);
    /* real-valued options: a NaN fails every test, so each range is written as what holds */
    const struct {
        const char *flag;
        double value, lo, hi;
        int hi_open;
    } ranges[] = {
        {"--lr", o->lr, 0, 1e30, 0}, {"--lr-min", o->lr_min, 0, 1e30, 0},
        {"--beta1", o->beta1, 0, 1, 1}, {"--beta2", o->beta2, 0, 1, 1},
        {"--adam-eps", o->eps, 1e-30, 1, 0}, {"--weight-decay", o->weight_decay, 0, 1e3, 0},
        {"--clip", o->clip, 0, 1e30, 0}, {"--max-seconds", o->max_seconds, 0, 1e6, 0},
        {"--full-context", o->full_context, 0, 1, 0}, {"--label-smoothing", o->label_smoothing, 0, 1, 1},
        {"--ctc-weight", o->ctc_weight, 0, 1e6, 0}, {"--lid-weight", o->lid_weight, 0, 1e6, 0},
        {"--st-weight", o->st_weight, 0, 1e6, 0}, {"--mt-weight", o->mt_weight, 0, 1e6, 0},
        {"--time-ratio", o->time_ratio, 0, 1, 0}, {"--text-noise", o->text_noise, 0, 1, 0},
        {"--dropout", o->dropout, 0, 0.99, 0}, {"--speed-prob", o->speed_prob, 0, 1, 0},
        {"--speed", o->speed, 0, 0.5, 0}, {"--mask-prob", o->mask_prob, 0, 1, 0},
        {"--text-mask-ratio", o->text_mask_ratio, 0, 1, 0}, {"--gumbel-tau", o->gumbel_tau, 1e-3, 1e3, 0},
        {"--gumbel-tau-min", o->gumbel_tau_min, 1e-3, 1e3, 0}, {"--w2v-weight", o->w2v_weight, 0, 1e6, 0},
        {"--diversity-weight", o->diversity_weight, 0, 1e6, 0}, {"--mlm-weight", o->mlm_weight, 0, 1e6, 0},
        {"--spanbert-weight", o->spanbert_weight, 0, 1e6, 0},
        /* an infinite gain makes every feature non-finite, and every step is skipped */
        {"--eq-db", o->eq_db, 0, EQ_DB_MAX, 0},
        {"--eq-prob", o->eq_prob, 0, 1, 0}, {"--warp-prob", o->warp_prob, 0, 1, 0},
        {"--warp", o->warp, 0, 1, 1}, {"--gain-prob", o->gain_prob, 0, 1, 0},
        {"--gain-db", o->gain_db, 0, 100, 0}, {"--noise-prob", o->noise_prob, 0, 1, 0},
    };
    for (size_t i = 0; i < sizeof ranges / sizeof ranges[0]; i++)
        if (!(ranges[i].value >= ranges[i].lo &&
              (ranges[i].hi_open ? ranges[i].value < ranges[i].hi : ranges[i].value <= ranges[i].hi)))
            return mslam_error("%s %g is outside [%g, %g%s", ranges[i].flag, ranges[i].value, ranges[i].lo,
                               ranges[i].hi, ranges[i].hi_open ? ")" : "]");
    if (o->eq_points < 2 || o->eq_points > EQ_POINTS_MAX)
        return mslam_error("--eq-points %d: must be 2..%d", o->eq_points, EQ_POINTS_MAX);
    /* 0 is a choice of its own for most of these (none, all, the default): a negative value is a typo */
    const struct {
        const char *flag, *zero;
        int value;
    } non_negative[] = {{"--warmup", "no warm-up", o->warmup},
                        {"--seed", NULL, o->seed}, /* as corpus's: a seed is stored unsigned */
                        {"--threads", "cores / processes on the host", o->threads},
                        {"--valid-every", "never", o->valid_every},
                        {"--valid-items", "all of them", o->valid_items}};
    for (size_t i = 0; i < sizeof non_negative / sizeof *non_negative; i++)
        if (non_negative[i].value < 0)
            return mslam_error("%s %d: must be 0%s%s%s or more", non_negative[i].flag, non_negative[i].value,
                               non_negative[i].zero ? " (" : "", non_negative[i].zero ? non_negative[i].zero : "",
                               non_negative[i].zero ? ")" : "");
    if (check_architecture(o)) return -1;
    char weights[256];
    if (trained_weight(o, asks_random_quantizer(o), weights, sizeof weights) <= 0)
        return mslam_error("--task %s: every loss it trains has weight 0 (%s): nothing would learn", o->task,
                           weights);
    if (o->left_chunks_max < -1)
        return mslam_error("--left-chunks-max %d: must be -1 or 0 (all, as eval's --left-chunks -1) or more",
                           o->left_chunks_max);
    if (o->codes < 2 || o->codes > 1 << 16) return mslam_error("--codes %d: must be 2..%d", o->codes, 1 << 16);
    if (strcmp(o->vocab, "init") && strcmp(o->vocab, "data"))
        return mslam_error("--vocab %s: must be init (the --init model's characters, then the data's) or data",
                           o->vocab);
    for (gchar **prefix = o->reinit; prefix && *prefix; prefix++)
        if (!**prefix) /* which every name starts with: --init undone */
            return mslam_error("--reinit is empty: it names the start of the tensor names to leave fresh");
    if (o->reinit && *o->reinit && !o->init)
        return mslam_error("--reinit %s: it leaves tensors of the --init model freshly initialised, and there is no --init",
                           o->reinit[0]);
    if (o->freeze_encoder && (tasks_of(o) & TASK_PRETRAIN))
        return mslam_error("--freeze-encoder trains the heads alone: --task pretrain trains the encoder");
    if (o->freeze_encoder && !o->init) { /* a resumed run's encoder is its checkpoint's */
        char *latest = o->resume && o->out ? checkpoint_latest(o->out) : NULL;
        int resumes = latest != NULL;
        free(latest);
        if (!resumes) return mslam_error("--freeze-encoder needs --init: the model whose encoder stays");
    }
    if (o->cache_encoder && !o->freeze_encoder)
        return mslam_error("--cache-encoder keeps the encoder's outputs: it needs --freeze-encoder");
    if (text_manifests_check(o->text_data, "--text-data")) return -1;
    if (o->text_data && *o->text_data && !(tasks_of(o) & (TASK_ST | TASK_PRETRAIN)))
        return mslam_error("--text-data trains the translation decoder (or SpanBERT): it needs --task st, multi or "
                           "pretrain");
    if (o->quantizer && quantizer_named(o->quantizer) < 0)
        return mslam_error("--quantizer %s: must be gumbel (w2v-BERT's) or random (BEST-RQ's)", o->quantizer);
    if ((tasks_of(o) & TASK_PRETRAIN) && asks_random_quantizer(o) &&
        refuse_specaug_with_random_quantizer(o, NULL))
        return -1;
    if (!(o->gumbel_tau_min <= o->gumbel_tau))
        return mslam_error("--gumbel-tau-min %g: must be at most --gumbel-tau (%g), the temperature decays",
                           o->gumbel_tau_min, o->gumbel_tau);
    if (o->mask_span < 1 || o->text_mask_span < 1 || o->distractors < 1)
        return mslam_error("--mask-span, --text-mask-span and --distractors must be at least 1");
    if (o->text_batch < 1 || o->text_max_chars < 1)
        return mslam_error("--text-batch and --text-max-chars must be at least 1");
    if (parse_best_metric(o->best_metric, tasks_of(o)) < 0) return -1;
    if (o->patience < 0) return mslam_error("--patience %d: must be 0 (never) or more", o->patience);
    if (o->max_skipped < 0) return mslam_error("--max-skipped %d: must be 0 (never) or more", o->max_skipped);
    if (o->stop_at < 0) return mslam_error("--stop-at %d: must be 0 (run to --steps) or a step", o->stop_at);
    if (o->patience > 0 && (!o->valid || o->valid_every < 1))
        return mslam_error("--patience %d counts validations: it needs --valid and --valid-every", o->patience);
    if (o->best_metric && strcmp(o->best_metric, "none") && (!o->valid || o->valid_every < 1))
        return mslam_error("--best-metric %s keeps the best validated model: it needs --valid and --valid-every",
                           o->best_metric);
    if (o->patience > 0 && o->best_metric && !strcmp(o->best_metric, "none"))
        return mslam_error("--patience %d waits for a better --best-metric: it cannot be none", o->patience);
    return 0;
}

/* Settings that are valid alone but, together, leave part of the run doing nothing, or a peak
 * learning rate that can only scramble the model: warned of (a short trial run of a long run's
 * key file has the first and may mean to). */
static void warn_idle_settings(const trainer *t) {
    const train_opts *o = t->o;
    if (!o->valid && o->validation_given) {
        GString *given = g_string_new(NULL);
        for (int i = 0; validation_shape_options[i]; i++)
            if ((o->validation_given >> i) & 1u)
                g_string_append_printf(given, "%s--%s", given->len ? ", " : "", validation_shape_options[i]);
        mslam_log(MSLAM_LOG_WARN, "%s given without --valid: nothing is validated (--valid MANIFEST names the data "
                  "to score)", given->str);
        g_string_free(given, TRUE);
    }
    if (o->valid && o->valid_every == 0)
        mslam_log(MSLAM_LOG_WARN, "--valid %s is never scored: --valid-every is 0", o->valid);
    else if (o->valid && o->valid_every > o->steps)
        mslam_log(MSLAM_LOG_WARN, "--valid-every %d is more than --steps %d: --valid %s is never scored (and no "
                  "best.safetensors kept)", o->valid_every, o->steps, o->valid);
    if (o->noise_prob > 0 && !(t->tasks & TASK_ASR))
        mslam_log(MSLAM_LOG_WARN, "--noise-prob %g: noise alone is trained as CTC's blanks, and --task %s trains no "
                  "CTC (or --ctc-weight is 0): those utterances teach nothing", o->noise_prob, o->task);
    if (o->lr_min > o->lr && strcmp(o->schedule, "constant") != 0)
        mslam_log(MSLAM_LOG_WARN, "--lr-min %g is more than --lr %g: after the warm-up the learning rate rises to "
                  "--lr-min instead of decaying", o->lr_min, o->lr);
    if (o->warmup > o->steps && o->lr > 0)
        mslam_log(MSLAM_LOG_WARN, "--warmup %d is more than --steps %d: the learning rate rises for the whole run, to "
                  "%.3g at the last step, and never reaches --lr %g", o->warmup, o->steps,
                  (double)optim_lr(&t->oc, o->steps - 1), o->lr);
    /* AdamW's steps are about lr in size whatever the gradient: above ~0.1 the weights (of order
     * 0.1-1) are thrown around, and the loss climbs without ever going non-finite */
    if (o->lr > LR_WARN_ABOVE)
        mslam_log(MSLAM_LOG_WARN, "--lr %g: AdamW moves every weight by about the learning rate each step, so a "
                  "rate above %g scrambles the model (the default is %g; Conformers train at 1e-4 to 5e-3)", o->lr,
                  LR_WARN_ABOVE, DEFAULT_LR);
}

static int run(trainer *t) {
    train_opts *o = t->o;
    t->tasks = tasks_of(o);
    int sched = lr_schedule_parse(o->schedule);
    if (t->tasks < 0 || sched < 0) return -1;
    t->oc = (optim_config){.lr = (float)o->lr, .lr_min = (float)o->lr_min, .warmup_steps = o->warmup,
                           .total_steps = o->steps, .schedule = sched, .beta1 = (float)o->beta1,
                           .beta2 = (float)o->beta2, .eps = (float)o->eps, .weight_decay = (float)o->weight_decay,
                           .clip_norm = (float)o->clip};
    t->aug = (specaug_config){.freq_masks = o->no_specaug ? 0 : o->freq_masks, .freq_width = o->freq_width,
                              .time_masks = o->no_specaug ? 0 : o->time_masks, .time_ratio = (float)o->time_ratio,
                              .time_width = o->time_width, .eq_prob = (float)o->eq_prob, .eq_db = (float)o->eq_db,
                              .eq_points = o->eq_points, .warp_prob = (float)o->warp_prob, .warp = (float)o->warp,
                              .speed_prob = (float)o->speed_prob, .speed = (float)o->speed,
                              .gain_prob = (float)o->gain_prob, .gain_db = (float)o->gain_db,
                              .noise_prob = (float)o->noise_prob};
    t->augment = t->aug.freq_masks > 0 || t->aug.time_masks > 0 || t->aug.eq_prob > 0 || t->aug.warp_prob > 0 ||
                 t->aug.speed_prob > 0 || t->aug.gain_prob > 0 || t->aug.noise_prob > 0;
    mslam_set_threads(o->threads > 0 ? o->threads : default_threads());
    if (!(t->micro = mslam_calloc((size_t)o->accumulate, sizeof *t->micro, "micro-batches"))) return -1;
    struct stat out_st;
    if (o->resume && stat(o->out, &out_st) != 0 && errno == ENOENT)
        /* most likely a misspelt --out: a run there would start from nothing */
        return mslam_error("--resume: %s does not exist, so there is no run to continue (without --resume a new "
                           "run starts there)", o->out);
    char *latest = o->resume ? NULL : checkpoint_latest(o->out);
    if (latest) {
        /* a fresh run would prune the old run's later checkpoints in place of its own and
         * overwrite its log, and a later --resume would continue the old run */
        mslam_error("%s holds another run's checkpoints (the latest %s): --resume continues that run; to start "
                    "afresh, give another --out or delete them", o->out, latest);
        free(latest);
        return -1;
    }
    /* nor its models, its checkpoints deleted: a fresh run would replace model.safetensors beside
     * the old run's best.safetensors, and truncate its log */
    static const char *const run_models[] = {"model.safetensors", "best.safetensors", NULL};
    const char *old_model = NULL;
    if (!o->resume && folder_holds(o->out, run_models, &old_model)) return -1;
    if (old_model)
        return mslam_error("%s holds another run's %s: give another --out, or delete it to start afresh there",
                           o->out, old_model);
    t->best_metric = parse_best_metric(o->best_metric, t->tasks);
    if (t->best_metric < 0) return -1;
    if (asks_random_quantizer(o) && !(t->tasks & TASK_PRETRAIN) &&
        t->rank == 0)
        mslam_log(MSLAM_LOG_WARN, "--quantizer random chooses pre-training's targets: --task %s has none", o->task);
    if (!strcmp(o->vocab, "data") && !o->init && t->rank == 0)
        mslam_log(MSLAM_LOG_WARN, "--vocab data narrows an --init model's vocabulary: without --init the "
                  "vocabulary is the data's anyway");
    if (o->valid && !(t->tasks & TASK_MULTI) && t->rank == 0)
        mslam_log(MSLAM_LOG_WARN, "--valid %s: pre-training without CTC (--ctc-weight 0) has no head that validation "
                  "scores: it does not run", o->valid);
    if (t->rank == 0) warn_idle_settings(t);
    if (o->cache_encoder && t->augment && t->rank == 0)
        mslam_log(MSLAM_LOG_WARN, "--cache-encoder: the encoder sees each utterance once, unaugmented; SpecAugment, "
                  "--eq-prob, --warp-prob, --speed-prob, --gain-prob and --noise-prob change nothing (--no-specaug silences "
                  "this)");
    for (gchar **data = o->data; *data; data++)
        if (dataset_load_split(&t->train, *data, o->layout, o->lang, o->audio_dir, o->split, "--split")) return -1;
    /* the text rows before the model: pre-training's vocabulary takes their characters */
    for (gchar **text = o->text_data; text && *text; text++)
        if (dataset_load_text_pairs(&t->text, *text, o->split, (t->tasks & TASK_PRETRAIN) != 0)) return -1;
    int resumed;
    if (build_model(t, &resumed)) return -1;
    int validates = validation_runs(t);
    if (validates && dataset_load_split(&t->valid, o->valid, o->layout, o->lang, o->audio_dir, o->valid_split,
                                        "--valid-split"))
        return -1;
    if ((t->tasks & TASK_PRETRAIN) && t->cfg->quantizer == MSLAM_QUANTIZER_RANDOM) {
        const char *from = resumed ? "the checkpoint resumed" : o->init;
        if (!o->quantizer && refuse_specaug_with_random_quantizer(o, from)) return -1;
        /* a quantizer that came from there, not from --quantizer, which the options' check saw */
        char weights[256];
        if (!o->quantizer && trained_weight(o, 1, weights, sizeof weights) <= 0)
            return mslam_error("--task %s: the quantizer of %s is random (BEST-RQ), whose targets have no "
                               "contrastive or diversity loss, and every other loss the task trains has weight 0 "
                               "(%s): nothing would learn", o->task, from, weights);
        /* one quantizer whatever --seed: a run resumed, or continued with --init, has the same targets */
        if (random_quantizer_init(&t->rq, t->cfg->n_mels, RQ_DIM, t->cfg->n_codes, RQ_SEED)) return -1;
    }
    if (o->freeze_encoder) {
        /* the heads of the tasks, as linear probes or a decoder on a fixed encoder */
        const char *heads[4] = {0};
        int n_heads = 0;
        /* a head without a loss stays as it was (AdamW's decay would shrink it) */
        if ((t->tasks & TASK_ASR) && o->ctc_weight > 0) heads[n_heads++] = "ctc.";
        if ((t->tasks & TASK_LID) && o->lid_weight > 0) heads[n_heads++] = "lid.";
        if ((t->tasks & TASK_ST) && (o->st_weight > 0 || o->mt_weight > 0)) heads[n_heads++] = "decoder";
        adamw_train_only(&t->opt, &t->model->table, heads);
    }
    dataset_report rep;
    t->train.role = "training data";
    t->valid.role = "validation data";
    if (dataset_encode(&t->train, t->model, need_of(t->tasks), o->max_seconds, &rep)) return -1;
    report_data(t, "training data", &rep);
    if (resumed && !t->pos.data.rows && t->rank == 0)
        mslam_log(MSLAM_LOG_WARN, "--resume: the checkpoint in %s does not record which rows of --data (and "
                  "--text-data) its position counts in (it was written before they were recorded): they are taken to "
                  "be the same", o->out);
    /* the text rows are compared where the checkpoint has them: it may be older, or trained without */
    if (check_rows(t, resumed, "--data", &t->train, &t->pos.data)) return -1;
    if ((t->epoch_size = weighted_epoch_size(t, &t->train, o->data_weights, "--data-weight")) < 0) return -1;
    if (validates) {
        /* what validation scores: pre-training's untranscribed utterances would take its places */
        if (dataset_encode(&t->valid, t->model, need_of(t->tasks) & ~KEEP_ALL, 0, &rep)) return -1;
        report_data(t, "validation data", &rep);
    }
    if (o->text_data && *o->text_data) {
        int transcripts_only = (t->tasks & TASK_PRETRAIN) != 0; /* SpanBERT reads no translation */
        if (dataset_encode_text_pairs(&t->text, t->model, o->text_max_chars, transcripts_only, &rep) ||
            check_rows(t, resumed, "--text-data", &t->text, &t->pos.text))
            return -1;
        if (t->rank == 0)
            fprintf(stderr, "text %s: %d kept, %d with characters outside the vocabulary, %d longer than "
                    "--text-max-chars, %d with an empty or missing %s\n", transcripts_only ? "rows" : "pairs", rep.kept,
                    rep.unknown_chars, rep.too_long, t->text.n_incomplete + rep.empty_text,
                    transcripts_only ? "transcript" : "side");
        t->text_epoch_size = weighted_epoch_size(t, &t->text, o->text_data_weights, "--text-data-weight");
        if (t->text_epoch_size < 0) return -1;
        if (t->text_epoch_size < o->text_batch * t->world * o->accumulate)
            return mslam_error("--text-data: %ld text pairs an epoch are fewer than a step's %d (--text-batch x "
                               "processes x --accumulate)", t->text_epoch_size, o->text_batch * t->world * o->accumulate);
        for (int k = 0; k < o->accumulate; k++)
            if (!(t->micro[k].text_items = mslam_malloc((size_t)o->text_batch * sizeof(int), "text batch")))
                return -1;
        t->mt_lens = mslam_malloc((size_t)o->text_batch * sizeof(int), "text lengths");
        t->mt_target_lens = mslam_malloc((size_t)o->text_batch * sizeof(int), "text target lengths");
        t->mt_keys = mslam_malloc((size_t)o->text_batch * sizeof(int), "text batch places");
        if (!t->mt_lens || !t->mt_target_lens || !t->mt_keys) return -1;
        if (o->text_noise > 0 &&
            !(t->mt_noisy = mslam_malloc((size_t)o->text_batch * 2 * o->text_max_chars * sizeof(int), "noisy text")))
            return -1;
    } else {
        t->pos.text = (train_rows){0}; /* a resume without the checkpoint's text pairs */
    }
    if (mslam_param_table_build(&t->gtab, t->cfg, &t->G)) return -1;
    if (!(t->grad = mslam_calloc(t->gtab.total, sizeof(float), "gradients"))) return -1;
    mslam_params_bind(&t->gtab, t->grad);
    t->plan_epoch = -1;
    t->text_plan_epoch = -1;

    /* made once the data and the model have loaded, so that a mistake in them leaves no empty folder */
    if (mkdir_p(o->out)) return -1;
    if (t->rank == 0) {
        /* two runs into one folder would write each other's checkpoints, log and models */
        char *lock_path = path_join(o->out, ".lock");
        int locked = lock_path ? lock_folder(o->out, lock_path, "training run", "give another --out", &t->out_lock) : -1;
        free(lock_path);
        if (locked) return -1;
        char *log_path = path_join(o->out, "train.jsonl");
        if (log_path && resumed && log_keep_until(log_path, t->pos.step)) {
            free(log_path);
            return -1;
        }
        t->log = log_path ? fopen(log_path, resumed ? "a" : "w") : NULL;
        if (!t->log) mslam_error("cannot write %s: %s", log_path ? log_path : "the log", strerror(errno));
        free(log_path);
        if (!t->log) return -1;
        t->tty = isatty(STDERR_FILENO);
        const struct mslam_model_config *c = t->cfg;
        fprintf(stderr,
                "model: d_model %d, %d heads, ff %d, kernel %d, %d speech + %d shared layers, %d decoder layer%s, "
                "vocabulary %d, %d language%s, %zu parameters\n",
                c->d_model, c->n_heads, c->d_ff, c->conv_kernel, c->n_speech_layers, c->n_shared_layers,
                c->n_decoder_layers, plural_s(c->n_decoder_layers), c->vocab_size, c->n_langs, plural_s(c->n_langs),
                t->model->table.total);
        char micro[48] = "";
        if (o->accumulate > 1) snprintf(micro, sizeof micro, " x %d micro-batches", o->accumulate);
        /* in the plan's batches: an epoch's last may be short (10 utterances in batches of 4 are 3) */
        const double epochs =
            (double)o->steps / (double)epoch_batches(t->epoch_size, o->batch_size * t->world * o->accumulate);
        fprintf(stderr, "training: task %s, %d process%s%s x batch %d, %d step%s (%.1f epochs)\n", o->task, t->world,
                t->world == 1 ? "" : "es", micro, o->batch_size, o->steps, plural_s(o->steps), epochs);
    }
    /* --stop-at at or past --steps is --steps: the run ends there with its model */
    long stop_at = o->stop_at > 0 && o->stop_at < o->steps ? o->stop_at : o->steps;
    if (resumed && t->pos.step >= stop_at && t->rank == 0) {
        int by_stop_at = stop_at < o->steps;
        fprintf(stderr, "the run is at step %ld of %s %ld: nothing to train (%s)\n", t->pos.step,
                by_stop_at ? "--stop-at" : "--steps", stop_at,
                by_stop_at ? "a larger --stop-at, or none, continues it" : "a larger --steps continues it, on another "
                                                                          "schedule");
    }
    t->pos.world_size = t->world;
    t->pos.accumulate = o->accumulate;
    t->pos.global_batch = o->batch_size * t->world * o->accumulate;

    stop_signal = 0; /* (a run before in this process may have been stopped) */
    if (o->cache_encoder)
        stop_on_signals(t->rank, t->tty, "after this batch of the encoder cache, before any step: nothing to save "
                                         "(Ctrl-C again quits at once)");
    int cached = o->cache_encoder ? cache_build(t) : 0;
    if (cached) {
        if (cached > 0 && t->rank == 0)
            fprintf(stderr, "stopped by a signal while caching the encoder outputs, before any step\n");
        restore_signals();
        return cached < 0 ? -1 : 0;
    }
    if (!stop_signal)
        stop_on_signals(t->rank, t->tty, "a checkpoint is written after this step (Ctrl-C again quits without it)");
    /* the log interval under way, which a checkpoint carries over */
    step_report acc = {0};
    int n_acc = t->pos.log_steps;
    double *acc_scores[REPORT_SCORES];
    report_scores(&acc, acc_scores);
    for (int i = 0; i < REPORT_SCORES; i++) *acc_scores[i] = t->pos.log_sums[i];
    double t_last = progress_now(), seconds_last = t->pos.audio_seconds, t_step0 = progress_now();
    long step_last = t->pos.step;
    int rc = 0, interrupted = 0, out_of_patience = 0, cancelled = 0, skipped_in_a_row = 0;
    if (t->pos.validation_pending) {
        /* the validation of the checkpoint's step, which a signal stopped: as the run would have */
        out_of_patience = validate(t, &cancelled);
        if (cancelled) interrupted = 1; /* stopped again: the checkpoint stays as it is */
        else rc = save_checkpoint(t);   /* done: the checkpoint says so */
    }
    while (!rc && !interrupted && !out_of_patience && t->pos.step < stop_at) {
        step_report r;
        if ((rc = train_step(t, &r))) break;
        double t_now = progress_now();
        t->pos.elapsed_s += t_now - t_step0;
        t_step0 = t_now;
        if (r.skipped && t->rank == 0) {
            if (t->tty) fputc('\n', stderr);
            mslam_log(MSLAM_LOG_WARN, "step %ld skipped: %s (loss %g, gradient norm %g)", t->pos.step,
                      r.items ? "non-finite loss or gradient" : "no usable utterance in the batch", r.loss,
                      r.grad_norm);
        }
        if (r.failed && t->rank == 0 && !t->tty) fprintf(stderr, "step %ld: %d utterances skipped (unreadable audio)\n",
                                                         t->pos.step, r.failed);
        /* (the same on every process: the verdict is) */
        skipped_in_a_row = r.skipped ? skipped_in_a_row + 1 : 0;
        if (o->max_skipped > 0 && skipped_in_a_row >= o->max_skipped) {
            /* the run would go on to its end (the schedule spent, the checkpoints of good steps
             * pruned for ones of none) and exit 0 */
            rc = mslam_error("steps %ld to %ld were all skipped: %s; stopped (--max-skipped %d), with no checkpoint "
                             "of them", t->pos.step - skipped_in_a_row + 1, t->pos.step,
                             r.items ? "the loss or the gradient was not finite (too high a --lr?)"
                                     : "no usable utterance in their batches (has the audio moved, or gone?)",
                             o->max_skipped);
            break;
        }
        if (!r.skipped) {
            double *sum[REPORT_SCORES], *one[REPORT_SCORES];
            report_scores(&acc, sum);
            report_scores(&r, one);
            for (int i = 0; i < REPORT_SCORES; i++) *sum[i] += *one[i];
            n_acc++;
        }
        acc.lr = r.lr;
        acc.seconds += r.seconds;
        int last = t->pos.step == stop_at;
        interrupted = dist_any(stop_signal != 0);
        int interval_ends = t->pos.step % o->log_every == 0;
        if (interval_ends || last || interrupted) {
            step_report avg = acc;
            double *mean[REPORT_SCORES];
            report_scores(&avg, mean);
            for (int i = 0; n_acc && i < REPORT_SCORES; i++) *mean[i] /= n_acc;
            double rate = (t->pos.audio_seconds - seconds_last) / (t_now - t_last);
            double step_s = (t_now - t_last) / (t->pos.step - step_last);
            if (t->rank == 0) {
                print_progress(t, &avg, rate, step_s, last || interrupted);
                log_json(t, &avg, rate);
            }
            /* a record before the interval's end (the run stops here) is an extra one: the
             * interval goes on in the checkpoint, and the resumed run's record at its end is an
             * uninterrupted run's */
            if (interval_ends) {
                memset(&acc, 0, sizeof acc);
                n_acc = 0;
            }
            t_last = t_now;
            seconds_last = t->pos.audio_seconds;
            step_last = t->pos.step;
        }
        if (o->valid && o->valid_every > 0 && t->pos.step % o->valid_every == 0) {
            /* a signal before it or during it: the checkpoint first, the validation on resume */
            if (interrupted) t->pos.validation_pending = 1;
            else out_of_patience = validate(t, &cancelled);
            interrupted = interrupted || cancelled;
        }
        /* (none at a step of a run of skipped ones: it would prune a checkpoint of trained steps
         * for one of none; the end, a signal or patience still write theirs) */
        if ((t->pos.step % o->save_every == 0 && !skipped_in_a_row) || last || interrupted || out_of_patience) {
            t->pos.log_steps = n_acc;
            for (int i = 0; i < REPORT_SCORES; i++) t->pos.log_sums[i] = *acc_scores[i];
            if ((rc = save_checkpoint(t))) break;
        }
        if (interrupted || out_of_patience) break;
        t_step0 = progress_now(); /* checkpoints and validation are not training time */
    }
    if (!rc && t->rank == 0) {
        if (interrupted)
            fprintf(stderr, "stopped by signal %d at step %ld; continue with --resume\n", (int)stop_signal, t->pos.step);
        if (out_of_patience && t->pos.best_step > 0)
            fprintf(stderr, "stopped early at step %ld: %d validation(s) without a better %s; the best, step %ld's: "
                    "%s/best.safetensors\n", t->pos.step, t->pos.stale_validations, best_metric_titles[t->best_metric],
                    t->pos.best_step, o->out);
        else if (out_of_patience)
            fprintf(stderr, "stopped early at step %ld: %d validation(s) without a %s measured (does the validation "
                    "data have what it scores?)\n", t->pos.step, t->pos.stale_validations,
                    best_metric_titles[t->best_metric]);
        if (t->pos.step >= o->steps || out_of_patience) {
            char *model_path = path_join(o->out, "model.safetensors");
            rc = model_path ? mslam_model_save(t->model, model_path) : -1;
            if (!rc) fprintf(stderr, "model: %s\n", model_path);
            free(model_path);
        }
    }
    /* Ctrl-C on mpirun reaches the ranks as SIGTERM, and mpirun SIGKILLs the others as soon as
     * one of them exits: no rank leaves before rank 0 has written its checkpoint (every rank
     * agreed on `interrupted`, so all of them come here) */
    if (interrupted) dist_barrier();
    restore_signals();
    return rc;
}

#define OPT_INT(name, field, help, arg) {name, 0, 0, G_OPTION_ARG_INT, &o.field, help, arg}
#define OPT_DBL(name, field, help, arg) {name, 0, 0, G_OPTION_ARG_DOUBLE, &o.field, help, arg}
#define OPT_STR(name, field, help, arg) {name, 0, 0, G_OPTION_ARG_STRING, &o.field, help, arg}
#define OPT_BOOL(name, field, help) {name, 0, 0, G_OPTION_ARG_NONE, &o.field, help, NULL}

int cmd_train(int argc, char **argv) {
    train_opts o = {
        .task = g_strdup("multi"), .split = g_strdup("train"), .out = g_strdup("train-out"),
        .valid_split = g_strdup("dev"), .schedule = g_strdup("cosine"), .quantizer = NULL,
        .vocab = g_strdup("init"),
        .d_model = 144, .heads = 4, .ff = 576, .kernel = 15, .sub_channels = 64, .speech_layers = 4,
        .shared_layers = 4, .decoder_layers = 2,
        .batch_size = 16, .accumulate = 1, .steps = 10000, .seed = 1, .warmup = 1000, .max_seconds = 20,
        .lr = DEFAULT_LR, .lr_min = 1e-5, .weight_decay = 0.01, .clip = 5, .beta1 = 0.9, .beta2 = 0.98, .eps = 1e-9,
        .freq_masks = 2, .freq_width = 27, .time_masks = 2, .time_width = 40, .time_ratio = 0.05,
        .eq_db = 15, .eq_points = EQ_POINTS_DEFAULT, .warp = 0.1, .speed = 0.1, .gain_db = 40,
        .chunk_min = 4, .chunk_max = 25, .left_chunks_max = 8, .full_context = 0.5,
        .ctc_weight = 1, .lid_weight = 1, .st_weight = 1, .mt_weight = 1, .label_smoothing = 0.1,
        .text_batch = 16, .text_max_chars = 200,
        .codes = 320, .mask_prob = 0.13, .mask_span = 5, .text_mask_ratio = 0.15, .text_mask_span = 20,
        .distractors = 100, .gumbel_tau = 2, .gumbel_tau_min = 0.5, .w2v_weight = 1, .diversity_weight = 1,
        .mlm_weight = 1, .spanbert_weight = 1,
        .save_every = 1000, .keep = 3, .log_every = 10, .valid_every = 1000, .valid_items = 500,
        .min_char_count = 1, .stats_items = 500, .patience = 0, .max_skipped = 100};
    GOptionEntry entries[] = {
        OPT_STR("task", task, "asr (CTC), lid (language ID), st (translation decoder), multi (all three; default) or pretrain (self-supervised: w2v-BERT on every utterance, SpanBERT on --text-data's transcripts, CTC on the utterances with a transcript unless --ctc-weight 0; fine-tune with --init)", "TASK"),
        {"data", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.data, "training manifest: mslam TSV (or a corpus folder: its manifest.tsv), Common Voice, CoVoST-2 or FLEURS TSV; several --data train on them all (e.g. one Common Voice or FLEURS TSV per language; in a key file, data=A;B)", "MANIFEST"},
        {"data-weight", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.data_weight, "one per --data, in their order: how many times an epoch each of its usable rows is taken on average (default 1): 2 takes every row twice (its copies in different batches), 0.25 a quarter of them (rounded), the next quarter the next epoch, so that over the epochs each row comes as often as the others; 0 trains on none (its characters and languages still join a new model's); e.g. to keep a large manifest from outweighing the others (in a key file, data-weight=1;0.25)", "W"},
        OPT_STR("split", split, "split of the manifest to train on: train (default), dev, test or all", "SPLIT"),
        OPT_STR("layout", layout, "manifest layout: mslam, common-voice, covost2, fleurs (default: from the header)", "NAME"),
        OPT_STR("lang", lang, "language of every row, for layouts without a language column", "CODE"),
        OPT_STR("audio-dir", audio_dir, "folder of the audio files, where the layout's default is wrong", "DIR"),
        OPT_STR("out", out, "output folder: checkpoints, train.jsonl, model.safetensors (default train-out); one holding checkpoints needs --resume", "DIR"),
        OPT_STR("init", init, "start from this model or checkpoint's parameters (architecture taken from it; a larger --decoder-layers adds decoder layers)", "FILE"),
        OPT_BOOL("resume", resume, "continue exactly from the newest checkpoint in --out (given the same options and threads; other options than it records warn)"),
        OPT_STR("valid", valid, "validation manifest, scored every --valid-every steps", "MANIFEST"),
        OPT_STR("valid-split", valid_split, "split of the validation manifest (default dev)", "SPLIT"),
        OPT_INT("valid-every", valid_every, "steps between validations; 0: none (default 1000)", "N"),
        OPT_INT("valid-items", valid_items, "utterances scored per validation, spread over the set; 0: all of them "
                "(default 500)", "N"),
        OPT_STR("best-metric", best_metric, "validation score whose best model is kept as OUT/best.safetensors: cer (lower is better), lid, bleu or none (default: cer with a CTC head, else lid, else bleu)", "NAME"),
        OPT_INT("patience", patience, "stop after N validations in a row without a better --best-metric, writing the checkpoint and model.safetensors (0: never; default 0)", "N"),
        OPT_INT("max-skipped", max_skipped, "stop with an error after N steps in a row were skipped (no usable utterance in their batches, or a non-finite loss), with no checkpoint of them (0: never; default 100)", "N"),
        OPT_INT("d-model", d_model, "encoder width (default 144)", "N"),
        OPT_INT("heads", heads, "attention heads (default 4)", "N"),
        OPT_INT("ff", ff, "feed-forward width (default 576)", "N"),
        OPT_INT("kernel", kernel, "depthwise convolution kernel (odd; default 15)", "N"),
        OPT_INT("sub-channels", sub_channels, "channels of the convolutional subsampler (default 64)", "N"),
        OPT_INT("speech-layers", speech_layers, "speech-only Conformer layers (default 4)", "N"),
        OPT_INT("shared-layers", shared_layers, "shared speech/text Conformer layers (default 4)", "N"),
        OPT_INT("decoder-layers", decoder_layers, "translation decoder layers (default 2; with --init, its model's, and more than its model's adds new layers on top)", "N"),
        OPT_BOOL("freeze-encoder", freeze_encoder, "train the heads of --task alone (the CTC and LID heads, the translation decoder) on --init's encoder: the encoder and the other heads keep --init's parameters and vocabulary and run forward only (the languages grow to the data's where the LID head trains); characters outside the vocabulary are skipped. With --task asr or lid, a linear probe of the encoder"),
        OPT_BOOL("cache-encoder", cache_encoder, "with --freeze-encoder: run the encoder once over the training data, without augmentation, and keep its outputs in memory (F16, 2 x d-model bytes per 40 ms frame): each step then trains the heads alone, several times faster"),
        OPT_BOOL("symmetric-conv", symmetric_conv, "centred depthwise convolution (no streaming; default causal)"),
        OPT_INT("batch-size", batch_size, "utterances per step, process and micro-batch (default 16)", "N"),
        OPT_INT("accumulate", accumulate, "micro-batches per step (gradient accumulation): each process runs N forward and backward passes of --batch-size utterances (and --text-batch pairs) and sums their gradients into one step, the step of a batch N times larger in the memory of one micro-batch (default 1)", "N"),
        OPT_DBL("max-seconds", max_seconds, "skip longer utterances; 0: no limit (default 20)", "S"),
        OPT_INT("steps", steps, "optimizer steps in all (the schedule's length; default 10000)", "N"),
        OPT_INT("stop-at", stop_at, "stop (with a checkpoint) at this step; --resume continues (default 0: run to --steps)", "N"),
        OPT_INT("seed", seed, "seed of every random choice: 0 or more (default 1)", "N"),
        OPT_INT("threads", threads, "threads per process; 0: cores / processes on the host (the default)", "N"),
        OPT_DBL("lr", lr, "peak learning rate (default 1e-3)", "X"),
        OPT_DBL("lr-min", lr_min, "final learning rate (default 1e-5)", "X"),
        OPT_INT("warmup", warmup, "linear warm-up steps (default 1000)", "N"),
        OPT_STR("schedule", schedule, "decay after warm-up: cosine (default), inverse-sqrt, constant", "NAME"),
        OPT_DBL("weight-decay", weight_decay, "AdamW decoupled weight decay of matrices (default 0.01)", "X"),
        OPT_DBL("clip", clip, "global gradient norm limit; 0: none (default 5)", "X"),
        OPT_DBL("beta1", beta1, "AdamW beta1 (default 0.9)", "X"),
        OPT_DBL("beta2", beta2, "AdamW beta2 (default 0.98)", "X"),
        OPT_DBL("adam-eps", eps, "AdamW epsilon (default 1e-9)", "X"),
        OPT_BOOL("no-specaug", no_specaug, "no SpecAugment masks (the equaliser and warp still apply); takes no "
                 "value: a key file's no-specaug=true is cleared only in the file"),
        OPT_INT("freq-masks", freq_masks, "SpecAugment frequency masks: 0..100 (default 2)", "N"),
        OPT_INT("freq-width", freq_width, "their largest width in mel bins (default 27)", "N"),
        OPT_INT("time-masks", time_masks, "SpecAugment time masks: 0..100 (default 2)", "N"),
        OPT_DBL("time-ratio", time_ratio, "their largest width as a share of the utterance (default 0.05)", "X"),
        OPT_INT("time-width", time_width, "and in frames (default 40)", "N"),
        OPT_DBL("eq-prob", eq_prob, "share of utterances through a random equaliser (unseen voices and microphones; default 0)", "X"),
        OPT_DBL("eq-db", eq_db, "its largest gain or cut in dB: 0..100 (default 15)", "X"),
        OPT_INT("eq-points", eq_points, "its points of independent gain, evenly spaced in mel: 2..64 (default 6)", "N"),
        OPT_DBL("warp-prob", warp_prob, "share of utterances with a warped frequency axis (vocal tract length; default 0)", "X"),
        OPT_DBL("warp", warp, "the warp factor's largest departure from 1 (default 0.1)", "X"),
        OPT_DBL("speed-prob", speed_prob, "share of utterances played at another speed, tempo and pitch together (speed perturbation; default 0)", "X"),
        OPT_DBL("speed", speed, "the speed's largest departure from 1: uniform in 1 +- X (default 0.1)", "X"),
        OPT_DBL("gain-prob", gain_prob, "share of utterances played quieter (a quiet microphone: the features are not level-invariant; default 0)", "X"),
        OPT_DBL("gain-db", gain_db, "how much quieter at most: uniform in 0..X dB, 0..100 (default 40)", "X"),
        OPT_DBL("noise-prob", noise_prob, "share of utterances replaced by noise alone (white, pink, brown or rumble at -65 "
                "to -20 dBFS, after digital silence), trained as blanks with no language or translation (default 0)",
                "X"),
        OPT_DBL("full-context", full_context, "share of steps with full attention, the rest chunked (default 0.5)", "X"),
        OPT_INT("chunk-min", chunk_min, "smallest random attention chunk, encoder frames of 40 ms (default 4)", "N"),
        OPT_INT("chunk-max", chunk_max, "largest random attention chunk (default 25)", "N"),
        OPT_INT("left-chunks-max", left_chunks_max, "half the chunked steps see 1..N left chunks, the others all; -1 or 0: all of them see all (default 8)", "N"),
        OPT_DBL("ctc-weight", ctc_weight, "weight of the CTC loss (per character; default 1)", "X"),
        OPT_DBL("lid-weight", lid_weight, "weight of the LID loss (per utterance; default 1)", "X"),
        OPT_DBL("st-weight", st_weight, "weight of the translation loss (per token; default 1)", "X"),
        {"reinit", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.reinit, "with --init: the tensors whose names start with PREFIX keep their fresh initialisation (--seed's) instead of the init model's; several --reinit (in a key file reinit=A;B). E.g. --reinit shared_layers. --reinit text. fine-tunes a pre-trained encoder's subsampler and speech layers under fresh shared layers, which recognised better than the whole pre-trained encoder (README, Pre-training). Prefixes: frontend. (the feature statistics), subsampler., speech_layers.N., shared_layers.N., text., ctc., lid., decoder_layers.N., decoder., pretrain.", "PREFIX"},
        {"text-data", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.text_data, "also train the decoder on text pairs of this manifest (rows with a transcript and a translation, audio or not, e.g. the corpus's text.tsv; several --text-data train on them all, in a key file text-data=A;B): transcript characters through the encoder's text path; with --st-weight 0 (and a CTC head) the model records that its decoder reads the CTC transcript (translate_input: mslamtranslate's input=auto and eval follow it); with --task pretrain, SpanBERT's text: every row with a transcript, translation or not", "MANIFEST"},
        {"text-data-weight", 0, 0, G_OPTION_ARG_STRING_ARRAY, &o.text_data_weight, "one per --text-data, in their order: how many times an epoch of text pairs takes each of its usable rows on average (default 1), as --data-weight does for --data (in a key file, text-data-weight=1;0.5)", "W"},
        OPT_INT("text-batch", text_batch, "text pairs per step, process and micro-batch (default 16)", "N"),
        OPT_INT("text-max-chars", text_max_chars, "leave out text pairs with a side longer than this (default 200)", "N"),
        OPT_DBL("text-noise", text_noise, "probability per source character of a text pair of a recognition-like error (dropped, replaced by or followed by another character of the sentence), so that the decoder learns to translate imperfect CTC transcripts (default 0)", "P"),
        OPT_DBL("mt-weight", mt_weight, "weight of the text translation loss (per token; default 1)", "X"),
        OPT_STR("vocab", vocab, "with --init, the vocabulary: init, the --init model's characters and then those of the data it lacks (default), or data, the characters of --data alone (its transcripts and translations), with --freeze-encoder the init model's that the data has; e.g. to fine-tune a model pre-trained on many scripts for a few languages: a CTC head over thousands of characters the data never has stays far longer on the CTC plateau. Rows over characters (text embedding, CTC head, decoder) are taken from --init by character", "NAME"),
        OPT_STR("quantizer", quantizer, "pretrain: the speech targets: gumbel, w2v-BERT's (a Gumbel-softmax quantizer of the subsampler's output, learnt through the contrastive and diversity losses) or random, BEST-RQ's (a fixed random projection of 4 standardised log-mel frames, the nearest of --codes fixed random unit vectors; masked prediction from the shared layers alone, no contrastive or diversity loss; the model has none of gumbel's tensors). Default: the --init or resumed model's when it was pre-trained, else gumbel", "NAME"),
        OPT_INT("codes", codes, "pretrain: codes of the quantizer (default 320)", "N"),
        OPT_DBL("mask-prob", mask_prob, "pretrain: probability of each encoder frame starting a masked span (default 0.13)", "P"),
        OPT_INT("mask-span", mask_span, "pretrain: frames of 40 ms per masked span (default 5; 0.13 x 5 masks about half the frames)", "N"),
        OPT_INT("distractors", distractors, "pretrain: distractors per masked frame, from the utterance's other masked frames (default 100)", "N"),
        OPT_DBL("gumbel-tau", gumbel_tau, "pretrain: the quantizer's Gumbel-softmax temperature at step 0 (default 2)", "X"),
        OPT_DBL("gumbel-tau-min", gumbel_tau_min, "pretrain: ... at the last step, decaying geometrically (default 0.5)", "X"),
        OPT_DBL("w2v-weight", w2v_weight, "pretrain: weight of the contrastive loss (per masked frame; default 1)", "X"),
        OPT_DBL("diversity-weight", diversity_weight, "pretrain: weight of the codebook diversity loss (per micro-batch; default 1: with wav2vec 2.0's 0.1 the default model used a dozen of its 320 codes)", "X"),
        OPT_DBL("mlm-weight", mlm_weight, "pretrain: weight of the masked code prediction from the shared layers (per masked frame; default 1)", "X"),
        OPT_DBL("text-mask-ratio", text_mask_ratio, "pretrain: share of a --text-data transcript's characters masked in spans (default 0.15)", "P"),
        OPT_INT("text-mask-span", text_mask_span, "pretrain: longest masked span of characters (default 20)", "N"),
        OPT_DBL("spanbert-weight", spanbert_weight, "pretrain: weight of the masked character prediction (per masked character; default 1)", "X"),
        OPT_DBL("label-smoothing", label_smoothing, "label smoothing of the LID and decoder losses (default 0.1)", "X"),
        OPT_DBL("dropout", dropout, "residual dropout: in training, the output of each residual branch of the encoder's layers (feed-forward modules, attention, convolution) and the decoder's (self-attention, cross-attention, feed-forward) is dropped with this probability (a frozen encoder has none; default 0)", "P"),
        OPT_INT("min-char-count", min_char_count, "characters rarer than this in the data stay out of the vocabulary, unless --init's model has them (default 1)", "N"),
        OPT_INT("stats-items", stats_items, "utterances the feature statistics are measured on (default 500)", "N"),
        OPT_INT("save-every", save_every, "steps between checkpoints (default 1000)", "N"),
        OPT_INT("keep", keep, "checkpoints kept (default 3)", "N"),
        OPT_INT("log-every", log_every, "steps between progress lines and log records (default 10)", "N"),
        G_OPTION_ENTRY_NULL};
    o.record_defaults = options_record(entries, not_recorded);
    int n_rest;
    char **rest = NULL;
    int parsed = options_parse("train", entries, argc, argv, "",
                               "Trains speech recognition (CTC), language ID and speech translation heads on one "
                               "Conformer encoder.",
                               "Run with mpirun -np K for data parallelism (gradients averaged over K processes, "
                               "data sharded by rank; only rank 0 writes).\n"
                               "SIGINT, SIGTERM or SIGHUP (unless ignored, as under nohup) writes a checkpoint and exits; --resume continues exactly.",
                               &n_rest, &rest);
    if (parsed) {
        options_free(entries);
        g_free(o.record_defaults);
        return parsed > 0 ? 0 : 2;
    }
    int rc = 0;
    if (n_rest > 0) {
        fprintf(stderr, "mslam-trainer train: unexpected argument '%s'\n", rest[1]);
        rc = 2;
    }
    g_strfreev(rest);
    if (!rc && check_options(&o)) {
        fprintf(stderr, "mslam-trainer train: %s\n", mslam_last_error());
        rc = 2;
    }
    if (!rc && (name_folder_manifests(&o) || parse_weight_options(&o))) {
        fprintf(stderr, "mslam-trainer train: %s\n", mslam_last_error());
        rc = 2;
    }
    if (!rc && dist_init(&argc, &argv)) {
        fprintf(stderr, "mslam-trainer train: %s\n", mslam_last_error());
        rc = 1;
    }
    if (!rc && dist_rank() == 0) {
        warn_paths_repeated("--data", (const char *const *)o.data,
                            "its rows count once more each time (--data-weight weighs a manifest)");
        warn_paths_repeated("--text-data", (const char *const *)o.text_data,
                            "its pairs count once more each time (--text-data-weight weighs a manifest)");
    }
    o.architecture_given = options_given("train", entries, argc, argv, architecture_options);
    o.validation_given = options_given("train", entries, argc, argv, validation_shape_options);
    o.record = rc ? NULL : options_record(entries, not_recorded);
    if (!rc) {
        trainer t = {.o = &o, .rank = dist_rank(), .world = dist_size(), .out_lock = -1};
        if (run(&t)) {
            if (t.world > 1) fprintf(stderr, "mslam-trainer train: rank %d: %s\n", t.rank, mslam_last_error());
            else fprintf(stderr, "mslam-trainer train: %s\n", mslam_last_error());
            rc = 1;
            dist_abort(rc);
        }
        trainer_free(&t);
    }
    dist_finalize();
    free(o.data_weights);
    free(o.text_data_weights);
    g_free(o.record);
    g_free(o.record_defaults);
    options_free(entries);
    return rc;
}
