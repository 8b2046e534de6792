/* mslam-trainer export: checkpoint -> inference model file (the model's tensors and metadata,
 * without optimizer moments or training position); several checkpoints -> their average. */
#include "checkpoint.h"
#include "common.h"
#include "init.h"
#include "options.h"
#include "train.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A model whose config fails the check with the new value (transcript without a CTC head) is
 * left unchanged. */
static int set_translate_input(mslam_model *m, int input) {
    struct mslam_model_config c = m->cfg;
    c.translate_input = input;
    if (modelfile_check_config(&c, "--translate-input")) return -1;
    m->cfg.translate_input = input;
    return 0;
}

/* m without the pre-training tensors (n_codes 0): what inference reads. m itself when it has
 * none, else a new model (m freed); NULL on failure (m freed). */
static mslam_model *without_pretraining(mslam_model *m) {
    if (m->cfg.n_codes == 0) return m;
    struct mslam_model_config c = m->cfg;
    c.n_codes = 0;
    c.quantizer = MSLAM_QUANTIZER_GUMBEL;
    mslam_model *plain = mslam_model_new(&c, (const char *const *)m->vocab, (const char *const *)m->langs);
    if (plain) model_copy_params(plain, m, NULL);
    mslam_model_free(m);
    return plain;
}

/* The same architecture, head fields included, vocabulary and languages: parameters of one mean
 * the same as the other's. */
static int same_model(const mslam_model *a, const mslam_model *b, const char *b_path) {
    struct mslam_model_config x = a->cfg, y = b->cfg;
    x.translate_input = y.translate_input = 0;
    if (memcmp(&x, &y, sizeof x))
        return mslam_error("%s: another architecture than the first checkpoint's (config differs)", b_path);
    for (int i = 0; i < a->cfg.vocab_size; i++)
        if (strcmp(a->vocab[i], b->vocab[i]))
            return mslam_error("%s: vocabulary entry %d is \"%s\", the first checkpoint's \"%s\"", b_path, i, b->vocab[i],
                               a->vocab[i]);
    for (int i = 0; i < a->cfg.n_langs; i++)
        if (strcmp(a->langs[i], b->langs[i]))
            return mslam_error("%s: language %d is %s, the first checkpoint's %s", b_path, i, b->langs[i], a->langs[i]);
    return 0;
}

/* The first of paths (n >= 1) with every parameter the mean over all of them (as fairseq's
 * average_checkpoints.py: the last checkpoints of a run, averaged, usually translate better than
 * the last alone). NULL on failure. */
static mslam_model *load_average(char **paths, int n) {
    mslam_model *first = NULL;
    for (int k = 0; k < n; k++)
        if (refuse_run_folder(paths[k], "--checkpoint ", 1)) return NULL;
    if (checkpoint_load(paths[0], &first, NULL, NULL)) return NULL;
    if (n == 1) return first;
    size_t total = first->table.total;
    double *sum = mslam_malloc(total * sizeof *sum, "the checkpoints' sum");
    int rc = sum ? 0 : -1;
    for (size_t j = 0; !rc && j < total; j++) sum[j] = first->block[j];
    for (int k = 1; k < n && !rc; k++) {
        mslam_model *m = NULL;
        rc = checkpoint_load(paths[k], &m, NULL, NULL) || same_model(first, m, paths[k]);
        for (size_t j = 0; !rc && j < total; j++) sum[j] += m->block[j];
        mslam_model_free(m);
    }
    for (size_t j = 0; !rc && j < total; j++) first->block[j] = (float)(sum[j] / n);
    free(sum);
    if (rc) {
        mslam_model_free(first);
        return NULL;
    }
    return first;
}

int cmd_export(int argc, char **argv) {
    gchar *out = NULL, *dtype = NULL, *input = NULL, **in = NULL;
    GOptionEntry entries[] = {
        {"checkpoint", 0, 0, G_OPTION_ARG_STRING_ARRAY, &in,
         "checkpoint (or model) to read; given several times, the parameters' mean over them (checkpoints of one "
         "model: the same architecture, vocabulary and languages; the first one's config and translate_input)",
         "FILE"},
        {"out", 0, 0, G_OPTION_ARG_STRING, &out, "model file to write (safetensors; written atomically)", "FILE"},
        {"dtype", 0, 0, G_OPTION_ARG_STRING, &dtype, "f32 (default), f16 (half the size) or int8 (weight matrices in 8 bits with a scale per row, the rest F16: "
         "about a quarter; the bundled model as int8 scores as its F16 file within noise: README, Training, export)", "TYPE"},
        {"translate-input", 0, 0, G_OPTION_ARG_STRING, &input,
         "what the decoder reads, recorded in the file (mslamtranslate input=auto, mslam_translate and eval follow "
         "it): speech (the encoder's frames) or transcript (the CTC transcript through the text path; needs a CTC "
         "head); default: the checkpoint's, which training sets", "NAME"},
        G_OPTION_ENTRY_NULL};
    int n_rest;
    char **rest = NULL;
    int parsed = options_parse("export", entries, argc, argv, "",
                               "Writes the inference model of a training checkpoint, or the average of several: every "
                               "parameter as F32 (or F16, or int8), the config, vocabulary and languages; no optimizer state "
                               "and none of --task pretrain's tensors.",
                               "The result loads with mslam_model_load and the GStreamer elements' model property.",
                               &n_rest, &rest);
    int rc = parsed < 0 ? 2 : 0;
    if (!parsed && (n_rest > 0 || !in || !in[0] || !out)) {
        if (n_rest > 0)
            fprintf(stderr, "mslam-trainer export: unexpected argument '%s' (files are given with --checkpoint and "
                    "--out; see --help)\n", rest[1]);
        else
            fprintf(stderr, "mslam-trainer export: %s (see --help)\n",
                    !in || !in[0] ? (out ? "--checkpoint FILE is required" : "--checkpoint FILE and --out FILE are required")
                                  : "--out FILE is required");
        rc = 2;
    }
    if (!parsed && !rc && (options_check_output("--out", out, argc, argv) ||
                           check_output_not_input("--out", out, "--checkpoint", (const char *const *)in))) {
        fprintf(stderr, "mslam-trainer export: %s\n", mslam_last_error());
        rc = 2;
    }
    if (!parsed && !rc)
        warn_paths_repeated("--checkpoint", (const char *const *)in, "it weighs once more each time in the mean");
    int (*save)(const mslam_model *, const char *) = mslam_model_save;
    if (dtype && !g_ascii_strcasecmp(dtype, "f16")) save = mslam_model_save_f16;
    else if (dtype && !g_ascii_strcasecmp(dtype, "int8")) save = mslam_model_save_int8;
    else if (!parsed && !rc && dtype && g_ascii_strcasecmp(dtype, "f32")) {
        fprintf(stderr, "mslam-trainer export: --dtype is f32, f16 or int8, not '%s'\n", dtype);
        rc = 2;
    }
    int translate_input = -1;
    if (!parsed && !rc && input) {
        if (!strcmp(input, "speech")) translate_input = MSLAM_TRANSLATE_SPEECH;
        else if (!strcmp(input, "transcript")) translate_input = MSLAM_TRANSLATE_TRANSCRIPT;
        else {
            fprintf(stderr, "mslam-trainer export: --translate-input is speech or transcript, not '%s'\n", input);
            rc = 2;
        }
    }
    g_strfreev(rest);
    if (!parsed && !rc) {
        mslam_model *m = NULL;
        int n_in = (int)g_strv_length(in);
        if (!(m = load_average(in, n_in)) || !(m = without_pretraining(m)) ||
            (translate_input >= 0 && set_translate_input(m, translate_input)) || save(m, out)) {
            fprintf(stderr, "mslam-trainer export: %s\n", mslam_last_error());
            rc = 1;
        } else {
            fprintf(stderr, "%s: %zu parameters, %d language%s, vocabulary of %d", out, m->table.total, m->cfg.n_langs,
                    plural_s(m->cfg.n_langs), m->cfg.vocab_size);
            if (n_in > 1) fprintf(stderr, "; the mean of %d checkpoints", n_in);
            fputc('\n', stderr);
        }
        mslam_model_free(m);
    }
    options_free(entries);
    return rc;
}
