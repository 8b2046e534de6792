/* mslam-trainer export: checkpoint -> inference model file (the model's tensors and metadata,
 * without optimizer moments or training position). */
#include "checkpoint.h"
#include "common.h"
#include "options.h"
#include "train.h"

#include <stdio.h>
#include <string.h>

/* A model whose config fails the check with the new value (transcript without a CTC head) is
 * left unchanged. */
static int set_translate_input(mslam_model *m, int input) {
    struct mslam_model_config c = m->cfg;
    c.translate_input = input;
    const char *outer = mslam_error_context_set("--translate-input");
    int rc = mslam_config_check(&c);
    mslam_error_context_set(outer);
    if (!rc) m->cfg.translate_input = input;
    return rc;
}

int cmd_export(int argc, char **argv) {
    gchar *in = NULL, *out = NULL, *dtype = NULL, *input = NULL;
    GOptionEntry entries[] = {
        {"checkpoint", 0, 0, G_OPTION_ARG_STRING, &in, "checkpoint (or model) to read", "FILE"},
        {"out", 0, 0, G_OPTION_ARG_STRING, &out, "model file to write (safetensors; written atomically)", "FILE"},
        {"dtype", 0, 0, G_OPTION_ARG_STRING, &dtype, "f32 (default) or f16 (half the size)", "TYPE"},
        {"translate-input", 0, 0, G_OPTION_ARG_STRING, &input,
         "what the decoder reads, recorded in the file (mslamtranslate input=auto, mslam_translate and eval follow "
         "it): speech (the encoder's frames) or transcript (the CTC transcript through the text path; needs a CTC "
         "head); default: the checkpoint's, which training sets", "NAME"},
        G_OPTION_ENTRY_NULL};
    int n_rest;
    char **rest = NULL;
    int parsed = options_parse("export", entries, argc, argv, "",
                               "Writes the inference model of a training checkpoint: every parameter as F32 (or F16), "
                               "the config, vocabulary and languages; no optimizer state.",
                               "The result loads with mslam_model_load and the GStreamer elements' model property.",
                               &n_rest, &rest);
    int rc = parsed < 0 ? 2 : 0;
    if (!parsed && (n_rest > 0 || !in || !out)) {
        fprintf(stderr, "mslam-trainer export: --checkpoint and --out are required, nothing else (see --help)\n");
        rc = 2;
    }
    int half = dtype && !g_ascii_strcasecmp(dtype, "f16");
    if (!parsed && !rc && dtype && !half && g_ascii_strcasecmp(dtype, "f32")) {
        fprintf(stderr, "mslam-trainer export: --dtype is f32 or f16, not '%s'\n", dtype);
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
        if (checkpoint_load(in, &m, NULL, NULL) || (translate_input >= 0 && set_translate_input(m, translate_input)) ||
            (half ? mslam_model_save_f16(m, out) : mslam_model_save(m, out))) {
            fprintf(stderr, "mslam-trainer export: %s\n", mslam_last_error());
            rc = 1;
        } else {
            fprintf(stderr, "%s: %zu parameters, %d languages, vocabulary of %d\n", out, m->table.total, m->cfg.n_langs,
                    m->cfg.vocab_size);
        }
        mslam_model_free(m);
    }
    options_free(entries);
    return rc;
}
