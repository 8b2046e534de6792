/* mslam-trainer info: what a file mslam reads is and holds. A model: its size and weight
 * dtypes, parameters, encoder, heads, what its decoder reads and its languages; a training
 * checkpoint: the same, where training stands (whether a validation is pending, the data rows
 * its position counts in) and (--options) the options it ran with; a
 * character LM: its order and languages, and whether it models transcripts or translations; a
 * translation memory: its sentences and languages. Every file is loaded and checked as its
 * reader loads it: a model info describes is one the elements and the C API load (a checkpoint
 * is for eval, --init and export, which makes the elements' model of it). */
#include "checkpoint.h"
#include "common.h"
#include "lm.h"
#include "options.h"
#include "safetensors.h"
#include "tm.h"
#include "train.h"
#include "util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* "8,863,404" */
static void print_count(FILE *out, long long n) {
    char digits[32], grouped[48];
    int len = snprintf(digits, sizeof digits, "%lld", n), j = 0;
    for (int i = 0; i < len; i++) {
        if (i && digits[i - 1] != '-' && (len - i) % 3 == 0) grouped[j++] = ',';
        grouped[j++] = digits[i];
    }
    grouped[j] = '\0';
    fputs(grouped, out);
}

/* "PATH: mslam WHAT (12.3 MB": a description's first line, to be ended by the caller. */
static void print_title(FILE *out, const char *path, const char *what) {
    struct stat st;
    fprintf(out, "%s: mslam %s (", path, what);
    if (stat(path, &st) != 0) return;
    if (st.st_size >= 1000000) fprintf(out, "%.1f MB", (double)st.st_size / 1e6);
    else fprintf(out, "%.0f kB", (double)st.st_size / 1e3);
}

/* "F16", "I8 (with a scale per row) and F16", "F32": the dtypes of a model file's parameter
 * tensors, most frequent first, leaving out the optimizer's and the scales of I8 weights. */
static void print_weight_dtypes(FILE *out, const st_file *f) {
    int count[ST_F64 + 1] = {0}, shown = 0;
    for (int i = 0; i < f->n_tensors; i++) {
        const char *name = f->tensors[i].name;
        if (!strncmp(name, CHECKPOINT_OPTIMIZER_PREFIX, strlen(CHECKPOINT_OPTIMIZER_PREFIX)) ||
            mslam_str_ends_with(name, MODEL_INT8_SCALE_SUFFIX))
            continue;
        count[f->tensors[i].dtype]++;
    }
    for (;;) {
        int most = -1;
        for (int d = 0; d <= ST_F64; d++)
            if (count[d] && (most < 0 || count[d] > count[most])) most = d;
        if (most < 0) break;
        fprintf(out, "%s%s%s", shown ? " and " : "", st_dtype_name((st_dtype)most),
                most == ST_I8 ? " (with a scale per row)" : "");
        count[most] = 0;
        shown++;
    }
}

/* "  languages    de en fr (3)": code(of, i) for i < n */
static void print_langs(FILE *out, int n, const char *(*code)(const void *of, int i), const void *of) {
    fputs("  languages    ", out);
    for (int i = 0; i < n; i++) fprintf(out, "%s%s", i ? " " : "", code(of, i));
    fprintf(out, " (%d)\n", n);
}

static const char *model_lang(const void *m, int i) { return ((const mslam_model *)m)->langs[i]; }
static const char *lm_lang(const void *lm, int i) { return ((const mslam_lm *)lm)->langs[i].code; }
static const char *tm_lang(const void *tm, int i) { return ((const mslam_tm *)tm)->langs[i]; }

static int print_model(FILE *out, const char *path, const st_file *f, int show_options) {
    mslam_model *m = NULL;
    train_position pos;
    int has_state = 0;
    if (checkpoint_read(f, &m, &pos, &has_state)) return -1;
    const struct mslam_model_config *c = &m->cfg;
    print_title(out, path, has_state ? "training checkpoint" : "model");
    fputs("; weights ", out);
    print_weight_dtypes(out, f);
    fprintf(out, "%s)\n  parameters   ", has_state ? ", with the optimizer's state" : "");
    print_count(out, (long long)m->table.total);
    fprintf(out, "\n  encoder      d_model %d, %d heads, feed-forward %d, %s depthwise convolution of %d, "
                 "subsampler of %d channel%s over %d mel bins; %d speech-only + %d shared layers\n",
            c->d_model, c->n_heads, c->d_ff, c->causal_conv ? "causal" : "centred", c->conv_kernel, c->sub_channels,
            plural_s(c->sub_channels), c->n_mels, c->n_speech_layers, c->n_shared_layers);
    fprintf(out, "  vocabulary   %d characters (reserved ids included)\n", c->vocab_size);
    fprintf(out, "  heads        %s%s%s", c->ctc_head ? "CTC (recognition)" : "",
            c->ctc_head && c->lid_head ? ", " : "", c->lid_head ? "LID (language identification)" : "");
    if (c->n_decoder_layers > 0)
        fprintf(out, "%stranslation decoder of %d layer%s, reading the %s", c->ctc_head || c->lid_head ? ", " : "",
                c->n_decoder_layers, plural_s(c->n_decoder_layers),
                c->translate_input == MSLAM_TRANSLATE_TRANSCRIPT ? "CTC transcript" : "speech frames");
    if (!c->ctc_head && !c->lid_head && c->n_decoder_layers <= 0) fputs("none (an encoder alone)", out);
    fputc('\n', out);
    if (c->n_codes > 0 && c->quantizer == MSLAM_QUANTIZER_RANDOM)
        fprintf(out, "  pre-training BEST-RQ targets of %d codes (a fixed random quantizer, not stored), masked-prediction "
                     "head, SpanBERT character head (training only: export leaves them out)\n", c->n_codes);
    else if (c->n_codes > 0)
        fprintf(out, "  pre-training w2v-BERT quantizer of %d codes, contrastive and masked-prediction heads, SpanBERT "
                     "character head (training only: export leaves them out)\n", c->n_codes);
    print_langs(out, c->n_langs, model_lang, m);
    if (has_state) {
        fprintf(out, "  position     step %ld, epoch %ld batch %ld; %d process%s x %d micro-batch%s, %d utterances a "
                     "step; %.1f h of audio, %.1f h of training; %ld step%s skipped\n",
                pos.step, pos.epoch, pos.batch, pos.world_size, pos.world_size == 1 ? "" : "es", pos.accumulate,
                pos.accumulate == 1 ? "" : "es", pos.global_batch, pos.audio_seconds / 3600, pos.elapsed_s / 3600,
                pos.skipped_steps, plural_s(pos.skipped_steps));
        if (pos.best_step > 0)
            fprintf(out, "  best         %s %.4g at step %ld (%d validation%s since)\n", pos.best_metric,
                    pos.best_score, pos.best_step, pos.stale_validations, plural_s(pos.stale_validations));
        if (pos.validation_pending)
            fprintf(out, "  validation   pending: a signal stopped step %ld's validation; a resume runs it first\n",
                    pos.step);
        /* the rows the position counts in: a resume refuses other ones (rows 0: older checkpoints
         * recorded none) */
        if (pos.data.rows > 0) {
            fputs("  data         ", out);
            print_count(out, pos.data.rows);
            fprintf(out, " usable row%s of --data", plural_s(pos.data.rows));
            if (pos.text.rows > 0) {
                fputs(", ", out);
                print_count(out, pos.text.rows);
                fputs(" of --text-data", out);
            }
            fputc('\n', out);
        }
    }
    const char *options = checkpoint_options_of(f);
    if (options && show_options) {
        fputs("  options\n", out);
        for (const char *line = options, *end; *line; line = *end ? end + 1 : end) {
            end = line + strcspn(line, "\n");
            if (end > line) fprintf(out, "    %.*s\n", (int)(end - line), line);
        }
    } else if (options) {
        fputs("  options      recorded (--options prints them)\n", out);
    } else if (show_options) {
        fputs("  options      none recorded (only checkpoints record them)\n", out);
    }
    mslam_model_free(m);
    return 0;
}

static int print_lm(FILE *out, const char *path) {
    mslam_lm *lm = mslam_lm_load(path);
    if (!lm) return -1;
    print_title(out, path, "character LM");
    fprintf(out, ")\n  models       %s\n  order        %d\n  vocabulary   %d characters (reserved ids included)\n",
            lm->of_translations ? "translations into English (for translation-lm=, --translation-lm)"
                                : "transcripts (for lm=, --lm)",
            lm->order, lm->vocab_size);
    size_t ngrams = 0;
    for (int l = 0; l < lm->n_langs; l++) {
        const lm_table *t = &lm->langs[l];
        /* as `mslam-trainer lm` counts them: without "<s>" */
        for (size_t k = 0; k < t->cap; k++) ngrams += t->keys[k] && t->logp[k] != LM_BOS_LOGP;
    }
    fputs("  n-grams      ", out);
    print_count(out, (long long)ngrams);
    fputc('\n', out);
    print_langs(out, lm->n_langs, lm_lang, lm);
    mslam_lm_free(lm);
    return 0;
}

static int print_tm(FILE *out, const char *path) {
    mslam_tm *tm = mslam_tm_load(path);
    if (!tm) return -1;
    print_title(out, path, "translation memory");
    fputs("; for translation-memory=, --translation-memory)\n  sentences    ", out);
    print_count(out, mslam_tm_n_entries(tm));
    fputs(", each with its English\n", out);
    print_langs(out, tm->n_langs, tm_lang, tm);
    mslam_tm_free(tm);
    return 0;
}

static int print_info(FILE *out, const char *path, int show_options) {
    st_file f;
    if (refuse_run_folder(path, "", 0) || st_open(&f, path)) return -1;
    const char *format = st_meta_get(&f, "format");
    int rc = !format                      ? print_model(out, path, &f, show_options)
             : !strcmp(format, LM_FORMAT) ? print_lm(out, path)
             : !strcmp(format, TM_FORMAT) ? print_tm(out, path)
                                          : mslam_error("%s: a safetensors file of format \"%s\", not an mslam model, "
                                                        "LM or memory (\"pt\" is PyTorch's; or a newer mslam's)",
                                                        path, format);
    st_close(&f);
    return rc;
}

char *info_text(const char *path, int show_options) {
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    if (!mem) {
        mslam_error("%s: out of memory for its description", path);
        return NULL;
    }
    int rc = print_info(mem, path, show_options);
    if (fclose(mem) && !rc) rc = mslam_error("%s: out of memory for its description", path);
    if (rc) {
        free(text);
        return NULL;
    }
    return text;
}

int cmd_info(int argc, char **argv) {
    gboolean show_options = FALSE;
    GOptionEntry entries[] = {
        {"options", 0, 0, G_OPTION_ARG_NONE, &show_options,
         "also print the training options a checkpoint recorded", NULL},
        G_OPTION_ENTRY_NULL};
    int n_rest = 0;
    char **rest = NULL;
    int parsed = options_parse("info", entries, argc, argv, "FILE...",
                               "Says what each file is and holds: a model or training checkpoint (size, weight dtypes, "
                               "parameters, encoder, heads, what the decoder reads, languages; a checkpoint's "
                               "training position), a character LM or a translation memory.",
                               "Each file is loaded and checked as its reader loads it: a model info describes "
                               "without an error is one the elements and the C API load (a checkpoint is for eval, "
                               "--init and export, which writes the elements' model of it).",
                               &n_rest, &rest);
    int rc = parsed < 0 ? 2 : 0;
    if (!parsed && n_rest < 1) {
        fprintf(stderr, "mslam-trainer info: name at least one file (see --help)\n");
        rc = 2;
    }
    /* as file(1): every file, each that cannot be read an error of its own (rest[0] is "info");
     * a file's lines go out once it was read whole, a blank line between two */
    for (int i = 1, shown = 0; !parsed && rc != 2 && i <= n_rest; i++) {
        char *text = info_text(rest[i], show_options);
        if (!text) {
            fprintf(stderr, "mslam-trainer info: %s\n", mslam_last_error());
            rc = 1;
        } else if (printf("%s%s", shown++ ? "\n" : "", text) < 0 || fflush(stdout)) {
            fprintf(stderr, "mslam-trainer info: cannot write standard output: %s\n", strerror(errno));
            rc = 1;
        }
        free(text);
    }
    g_strfreev(rest);
    options_free(entries);
    return rc;
}
