/* mslam-trainer train end to end on a tiny synthetic corpus:
 * - exact resume: N steps straight (options from a GLib key file) and N/2 + --resume + N/2
 *   (options as flags) give bit-identical parameters, across an epoch boundary;
 * - a non-finite loss is detected, the step skipped and counted, and nothing non-finite is
 *   written;
 * - SIGTERM makes the trainer write a checkpoint and exit 0, and the run continues from it;
 * - eval and export run on the result; eval --st-input text translates each reference transcript
 *   through the text path exactly as the public API's mslam_encode_text + mslam_translate_frames;
 * - --freeze-encoder with a larger --decoder-layers trains the decoder alone, new layers on top;
 *   with --task asr the CTC head alone, with multi the heads that have a loss;
 * - --accumulate 2 takes the steps of a batch twice as large, text pairs included; a resume with
 *   another global batch warns;
 * - --best-metric keeps the best validated model, --patience stops a run that no longer improves;
 * - --dropout resumes bit for bit;
 * - --task pretrain (w2v-BERT, SpanBERT, CTC) resumes bit for bit, splits into micro-batches as
 *   one batch (but for its diversity loss, per micro-batch), logs its losses, and export and
 *   --init leave its tensors out.
 * Usage: test_train_run PATH-OF-mslam-trainer */
#include "checkpoint.h"
#include "corpus.h"
#include "data.h"
#include "init.h"
#include "lmbuild.h"
#include "testutil.h"
#include "tmbuild.h"
#include "train.h"
#include "train_fixture.h"
#include "util.h"

#include <glib.h>
#include <json-c/json.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define N_STEPS 8 /* 24 examples in batches of 4: one epoch is 6 steps */

static const char *const common[] = {
    "--steps", "8", "--batch-size", "4", "--warmup", "2", "--d-model", "32", "--heads", "2", "--ff", "64",
    "--kernel", "5", "--sub-channels", "8", "--speech-layers", "1", "--shared-layers", "1",
    "--decoder-layers", "1", "--threads", "2", "--log-every", "1", "--save-every", "100", "--stats-items", "12",
};
#define N_COMMON ((int)(sizeof common / sizeof common[0]))

/* Appends "train --data MANIFEST --out OUT" and the common options to argv at argc; the new argc. */
static int train_args(char **argv, int argc, const char *manifest, const char *out) {
    argv[argc++] = (char *)"train";
    argv[argc++] = (char *)"--data";
    argv[argc++] = (char *)manifest;
    argv[argc++] = (char *)"--out";
    argv[argc++] = (char *)out;
    for (int i = 0; i < N_COMMON; i++) argv[argc++] = (char *)common[i];
    return argc;
}

/* cmd_train with the common options, then extra ones (NULL-terminated). */
static int train(const char *manifest, const char *out, ...) {
    char *argv[96];
    int argc = train_args(argv, 0, manifest, out);
    va_list ap;
    va_start(ap, out);
    for (const char *a; (a = va_arg(ap, const char *)) != NULL;) argv[argc++] = (char *)a;
    va_end(ap);
    argv[argc] = NULL;
    return cmd_train(argc, argv);
}

/* What checkpoint_rewrite changes in a checkpoint's position. */
enum { REWRITE_FORGET_ROWS = 1, REWRITE_VALIDATION_PENDING = 2 };

/* Writes the checkpoint at path again, its model and optimizer state as they were, its position
 * edited (REWRITE_ flags: the rows of --data forgotten, as before they were recorded; a
 * validation marked pending, as a signal leaves it) and its options record options (NULL: its
 * own), to make a checkpoint of another version or moment. 0 or -1. */
static int checkpoint_rewrite(const char *path, int edits, const char *options) {
    mslam_model *m = NULL;
    train_position pos = {0};
    adamw opt = {0};
    optim_config oc = optim_default_config();
    char *own = options ? NULL : checkpoint_options(path);
    int rc = checkpoint_load(path, &m, &pos, NULL) == 0 && adamw_init(&opt, &oc, &m->table) == 0 &&
                     checkpoint_load_optimizer(path, &opt) == 0
                 ? 0
                 : -1;
    if (edits & REWRITE_FORGET_ROWS) pos.data = (train_rows){0};
    if (edits & REWRITE_VALIDATION_PENDING) pos.validation_pending = 1;
    if (!rc) rc = checkpoint_save(path, m, &opt, &pos, options ? options : own);
    adamw_free(&opt), mslam_model_free(m), free(own);
    return rc;
}

static void test_exact_resume(const char *manifest) {
    char *straight = str_printf("%s/straight", fixture_dir()), *split = str_printf("%s/split", fixture_dir());
    char *config = str_printf("%s/train.conf", fixture_dir());
    /* the straight run takes its options from a key file (the same values as the flags) */
    FILE *f = fopen(config, "w");
    fprintf(f, "# mslam-trainer options\n[train]\n");
    for (int i = 0; i < N_COMMON; i += 2) fprintf(f, "%s=%s\n", common[i] + 2, common[i + 1]);
    fprintf(f, "data=%s\nout=%s\n", manifest, straight);
    fclose(f);
    char *argv[] = {(char *)"train", (char *)"--config", config, NULL};
    CHECK(cmd_train(3, argv) == 0, "straight run from the key file");
    CHECK(train(manifest, split, "--stop-at", "5", NULL) == 0, "first half");
    char *half = str_printf("%s/ckpt-00000005.safetensors", split), *model = str_printf("%s/model.safetensors", split);
    CHECK(access(half, F_OK) == 0 && access(model, F_OK) != 0, "--stop-at writes a checkpoint, no final model");
    /* steps logged after the checkpoint by a run that was then killed: the resume logs them again,
     * and the log keeps one record a step (it had both) */
    char *split_log = str_printf("%s/train.jsonl", split);
    FILE *lf = fopen(split_log, "a");
    if (lf) fputs("{\"step\":6,\"epoch\":0,\"loss\":1}\n{\"step\":7,\"epoch\":0,\"loss\":1}\n", lf), fclose(lf);
    CHECK(train(manifest, split, "--resume", NULL) == 0, "second half");
    char *split_text = NULL;
    size_t split_n = 0;
    int once = read_file(split_log, 1 << 20, &split_text, &split_n) == 0;
    for (int s = 1; once && s <= N_STEPS; s++) {
        char *record = str_printf("{\"step\":%d,\"epoch\"", s);
        const char *at = strstr(split_text, record);
        once = at && !strstr(at + 1, record);
        free(record);
    }
    CHECK(once, "the resumed log has one record of each step: %s", split_text ? split_text : "");
    free(split_text), free(split_log);
    char *model_a = str_printf("%s/model.safetensors", straight);
    CHECK(test_files_equal(model_a, model), "N straight == N/2 + resume + N/2, bit for bit");
    mslam_model *a = NULL, *b = NULL;
    train_position pos;
    char *last = str_printf("%s/ckpt-%08d.safetensors", split, N_STEPS);
    CHECK(checkpoint_load(last, &b, &pos, NULL) == 0 && pos.step == N_STEPS && pos.epoch == 1 && pos.batch == 2,
          "the position after %d steps: epoch 1, batch 2 (got step %ld epoch %ld batch %ld)", N_STEPS, pos.step,
          pos.epoch, pos.batch);
    /* and training moved the parameters */
    char *first = str_printf("%s/ckpt-00000005.safetensors", split);
    CHECK(checkpoint_load(first, &a, NULL, NULL) == 0 && a && b &&
              memcmp(a->block, b->block, a->table.total * sizeof(float)),
          "parameters changed between steps 5 and 8");
    mslam_model_free(a), mslam_model_free(b);
    /* a fresh run into a folder of checkpoints is refused before it writes anything: it would
     * prune them and overwrite the log, and --resume would later continue the old run */
    char *log = str_printf("%s/train.jsonl", split), *log_before = NULL, *log_after = NULL;
    size_t n_before = 0, n_after = 0;
    CHECK(read_file(log, 1 << 20, &log_before, &n_before) == 0, "reading %s", log);
    CHECK(train(manifest, split, "--steps", "2", NULL) != 0, "a fresh run into %s was not refused", split);
    CHECK(read_file(log, 1 << 20, &log_after, &n_after) == 0 && n_after == n_before &&
              !memcmp(log_before, log_after, n_before) && access(last, F_OK) == 0,
          "the refused run changed the log or the checkpoints");
    free(log), free(log_before), free(log_after);
    /* the checkpoint records the options that shape the steps, and a resume with others warns */
    char *record = checkpoint_options(last);
    CHECK(record && strstr(record, "\nlr=0.001\n") && strstr(record, "\nbatch-size=4\n") && !strstr(record, "threads=") &&
              !strstr(record, "stop-at="),
          "the checkpoint's options record: %s", record ? record : "(none)");
    free(record);
    struct strlist warnings = {0};
    mslam_log_set(fixture_collect_warnings, &warnings);
    CHECK(train(manifest, split, "--resume", "--lr", "0.002", "--steps", "9", NULL) == 0, "resume with another --lr");
    mslam_log_set(NULL, NULL);
    int warned = 0;
    for (size_t i = 0; i < warnings.n; i++) warned |= strstr(warnings.items[i], "lr: 0.001 -> 0.002") != NULL;
    CHECK(warned, "a resume with another --lr warns (%zu warnings)", warnings.n);
    strlist_free(&warnings);
    free(straight), free(split), free(config), free(half), free(model), free(model_a), free(last), free(first);
}

/* Whether the last error says a (and b, when not NULL). */
static int error_mentions(const char *a, const char *b) {
    const char *msg = mslam_last_error();
    return strstr(msg, a) != NULL && (!b || strstr(msg, b) != NULL);
}

/* Writes the lines of text (a manifest, header first) to path with line a and line b swapped (1:
 * the first row; b 0: line a left out) or, with replace, line a's text column (the third) by line
 * b's. */
static void write_rows_changed(const char *path, const char *text, int a, int b, int replace) {
    gchar **lines = g_strsplit(text, "\n", -1);
    int n = (int)g_strv_length(lines);
    CHECK(a < n && b < n, "the manifest has %d lines", n);
    if (replace) {
        gchar **fa = g_strsplit(lines[a], "\t", -1), **fb = g_strsplit(lines[b], "\t", -1);
        g_free(fa[2]), fa[2] = g_strdup(fb[2]);
        g_free(lines[a]), lines[a] = g_strjoinv("\t", fa);
        g_strfreev(fa), g_strfreev(fb);
    } else if (b) {
        gchar *t = lines[a];
        lines[a] = lines[b], lines[b] = t;
    } else {
        g_free(lines[a]);
        for (int i = a; i < n; i++) lines[i] = lines[i + 1];
    }
    gchar *joined = g_strjoinv("\n", lines);
    CHECK(write_file_atomic(path, joined, strlen(joined)) == 0, "writing %s", path);
    g_free(joined), g_strfreev(lines);
}

/* The checkpoint records the usable rows its position counts in: a resume whose --data (or
 * --text-data) gives other rows, or the same in another order, is refused naming how they differ;
 * the same rows read through another path resume; a checkpoint written before the rows were
 * recorded resumes with a warning. And --valid is recorded: a resume with another warns. */
static void test_resume_data(const char *manifest) {
    char *data = str_printf("%s/resume-data.tsv", fixture_dir()), *out = str_printf("%s/resume-data", fixture_dir());
    char *original = NULL;
    size_t n_original = 0;
    CHECK(read_file(manifest, 1 << 20, &original, &n_original) == 0 &&
              write_file_atomic(data, original, n_original) == 0,
          "copying the manifest");
    CHECK(train(data, out, "--stop-at", "3", NULL) == 0, "first part: %s", mslam_last_error());
    char *three = str_printf("%s/ckpt-00000003.safetensors", out);
    mslam_model *m = NULL;
    train_position pos = {0}, first = {0};
    CHECK(checkpoint_load(three, &m, &first, NULL) == 0 && first.data.rows == 24 && first.text.rows == 0,
          "the checkpoint records 24 rows of --data, none of --text-data (got %ld, %ld)", first.data.rows,
          first.text.rows);
    mslam_model_free(m);
    /* rows 1 and 2 are train rows of one language */
    static const struct {
        int a, b, replace;
        const char *says;
    } changed[] = {{2, 0, 0, "24 usable rows when it was written, 23 now"},
                   {1, 2, 0, "the same 24 usable rows as when it was written, in another order"},
                   {1, 2, 1, "24 usable rows, as when it was written, but not the same ones"}};
    for (size_t i = 0; i < sizeof changed / sizeof *changed; i++) {
        write_rows_changed(data, original, changed[i].a, changed[i].b, changed[i].replace);
        CHECK(train(data, out, "--resume", NULL) == 1 && error_mentions("--resume: the checkpoint's position", NULL) &&
                  error_mentions(changed[i].says, "--data"),
              "a resume whose --data changed (%s): %s", changed[i].says, mslam_last_error());
    }
    char *four_before = str_printf("%s/ckpt-00000004.safetensors", out);
    CHECK(access(four_before, F_OK) != 0, "a refused resume wrote a checkpoint");
    free(four_before);

    /* a checkpoint written before the rows were recorded: resumed, warning (on the changed data) */
    CHECK(checkpoint_rewrite(three, REWRITE_FORGET_ROWS, NULL) == 0, "rewriting %s without its rows: %s", three,
          mslam_last_error());
    struct strlist warnings = {0};
    mslam_log_set(fixture_collect_warnings, &warnings);
    int rc = train(data, out, "--resume", "--stop-at", "4", NULL);
    mslam_log_set(NULL, NULL);
    int warned = fixture_warned_of(&warnings, "does not record which rows", "");
    CHECK(rc == 0 && warned, "a checkpoint without its rows resumes, warning (%zu warnings): %s", warnings.n,
          mslam_last_error());
    strlist_free(&warnings);
    /* the original rows again: the checkpoint of step 4 recorded the changed ones */
    CHECK(write_file_atomic(data, original, n_original) == 0 && train(data, out, "--resume", NULL) == 1 &&
              error_mentions("not the same ones", NULL),
          "resumed from the changed rows with the original: %s", mslam_last_error());

    /* the same rows through another spelling of the path resume (the option's change is warned of) */
    char *out2 = str_printf("%s/resume-data2", fixture_dir()), *spelt = str_printf("%s/./resume-data.tsv", fixture_dir());
    char *two = str_printf("%s/ckpt-00000002.safetensors", out2), *four = str_printf("%s/ckpt-00000004.safetensors", out2);
    CHECK(train(data, out2, "--stop-at", "2", "--text-data", data, "--text-batch", "2", NULL) == 0 &&
              train(spelt, out2, "--resume", "--stop-at", "3", "--text-data", data, "--text-batch", "2", NULL) == 0,
          "the same rows through another path: %s", mslam_last_error());
    CHECK(checkpoint_load(two, &m, &pos, NULL) == 0 && pos.data.rows == 24 && pos.data.hash == first.data.hash &&
              pos.text.rows == 16,
          "the checkpoint records the --data rows as the first run's (%ld, %016llx) and 16 text pairs (%ld)",
          pos.data.rows, (unsigned long long)pos.data.hash, pos.text.rows);
    mslam_model_free(m);
    /* --text-data's rows are checked too */
    char *text = str_printf("%s/resume-text.tsv", fixture_dir());
    write_rows_changed(text, original, 1, 2, 0);
    CHECK(train(data, out2, "--resume", "--stop-at", "4", "--text-data", text, "--text-batch", "2", NULL) == 1 &&
              error_mentions("in another order", "--text-data"),
          "a resume whose --text-data changed: %s", mslam_last_error());
    CHECK(access(four, F_OK) != 0, "the refused resume wrote a checkpoint");

    /* --valid is recorded, and a resume with another warns */
    char *out3 = str_printf("%s/resume-valid", fixture_dir());
    CHECK(train(data, out3, "--stop-at", "2", "--valid", manifest, "--valid-every", "2", NULL) == 0,
          "validated: %s", mslam_last_error());
    char *valid_two = str_printf("%s/ckpt-00000002.safetensors", out3), *record = checkpoint_options(valid_two);
    char *valid_line = str_printf("\nvalid=%s\n", manifest);
    CHECK(record && strstr(record, valid_line) && strstr(record, "\nvalid-split=dev\n"),
          "the checkpoint records --valid: %s", record ? record : "(none)");
    warnings = (struct strlist){0};
    mslam_log_set(fixture_collect_warnings, &warnings);
    rc = train(data, out3, "--resume", "--stop-at", "4", "--valid", data, "--valid-every", "2", NULL);
    mslam_log_set(NULL, NULL);
    char *valid_change = str_printf("valid: %s -> %s", manifest, data);
    int valid_warned = fixture_warned_of(&warnings, "was validated on other data", valid_change),
        steps_warned = fixture_warned_of(&warnings, "written with other options", "");
    CHECK(rc == 0 && valid_warned && !steps_warned,
          "a resume with another --valid warns of the validation, not of the steps (%zu warnings)", warnings.n);
    strlist_free(&warnings);
    /* one without --valid validates nothing: no scores to compare, no warning; --max-skipped
     * changes no step (it had warned that the steps differ) */
    warnings = (struct strlist){0};
    mslam_log_set(fixture_collect_warnings, &warnings);
    rc = train(data, out3, "--resume", "--stop-at", "5", "--max-skipped", "5", NULL);
    mslam_log_set(NULL, NULL);
    valid_warned = fixture_warned_of(&warnings, "validated on other data", "");
    steps_warned = fixture_warned_of(&warnings, "written with other options", "");
    CHECK(rc == 0 && !valid_warned && !steps_warned,
          "a resume without --valid, with another --max-skipped: warned of the validation %d, of the steps %d",
          valid_warned, steps_warned);
    strlist_free(&warnings);
    /* a checkpoint of a version that recorded an option no longer recorded (0.2.0: max-skipped) */
    char *five = str_printf("%s/ckpt-00000005.safetensors", out3), *five_record = checkpoint_options(five);
    char *older = five_record ? str_printf("%smax-skipped=100\n", five_record) : NULL;
    CHECK(older && checkpoint_rewrite(five, 0, older) == 0, "rewriting %s with an older record: %s", five,
          mslam_last_error());
    warnings = (struct strlist){0};
    mslam_log_set(fixture_collect_warnings, &warnings);
    rc = train(data, out3, "--resume", "--stop-at", "6", "--max-skipped", "5", NULL);
    mslam_log_set(NULL, NULL);
    steps_warned = fixture_warned_of(&warnings, "written with other options", "");
    CHECK(rc == 0 && !steps_warned, "a resume of a record with max-skipped: rc %d, warned of the steps %d (%s)", rc,
          steps_warned, warnings.n ? warnings.items[0] : "");
    strlist_free(&warnings);
    free(five), free(five_record), free(older);
    free(data), free(out), free(original), free(three), free(out2), free(spelt), free(two), free(four), free(text);
    free(out3), free(valid_two), free(record), free(valid_line), free(valid_change);
}

/* Gradient accumulation: two micro-batches of 2 utterances and 2 text pairs a step take the
 * steps of batches of 4 and 4 (every loss normalised over the whole step, the same utterances
 * augmented alike), up to the order of float sums. */
static void test_accumulate(const char *manifest) {
    char *whole = str_printf("%s/acc-whole", fixture_dir()), *micro = str_printf("%s/acc-micro", fixture_dir());
    /* SpecAugment, the equaliser, speed perturbation and dropout on, so that their draws are
     * compared too */
    CHECK(train(manifest, whole, "--text-data", manifest, "--text-batch", "4", "--eq-prob", "0.5", "--speed-prob", "0.5", "--dropout", "0.2", "--steps", "6",
                NULL) == 0,
          "batches of 4");
    CHECK(train(manifest, micro, "--text-data", manifest, "--text-batch", "2", "--eq-prob", "0.5", "--speed-prob", "0.5", "--dropout", "0.2", "--steps", "6",
                "--batch-size", "2", "--accumulate", "2", "--stop-at", "3", NULL) == 0,
          "2 micro-batches of 2, to step 3");
    CHECK(train(manifest, micro, "--text-data", manifest, "--text-batch", "2", "--eq-prob", "0.5", "--speed-prob", "0.5", "--dropout", "0.2", "--steps", "6",
                "--batch-size", "2", "--accumulate", "2", "--resume", NULL) == 0,
          "and resumed");
    fixture_compare_runs(whole, micro, 6, "1 x 2 micro-batches x 2 vs 1 x 4");
    char *last = str_printf("%s/ckpt-00000006.safetensors", micro);
    mslam_model *m = NULL;
    train_position pos = {0};
    CHECK(checkpoint_load(last, &m, &pos, NULL) == 0 && pos.accumulate == 2 && pos.global_batch == 4 &&
              pos.world_size == 1,
          "the checkpoint records 1 process x 2 micro-batches, 4 utterances a step (%d x %d, %d)", pos.world_size,
          pos.accumulate, pos.global_batch);
    mslam_model_free(m);
    /* one micro-batch of 2 is another batch: warned */
    struct strlist warnings = {0};
    mslam_log_set(fixture_collect_warnings, &warnings);
    CHECK(train(manifest, micro, "--text-data", manifest, "--text-batch", "2", "--eq-prob", "0.5", "--speed-prob", "0.5", "--dropout", "0.2", "--steps", "7",
                "--batch-size", "2", "--resume", NULL) == 0,
          "resume without --accumulate");
    mslam_log_set(NULL, NULL);
    int warned = 0;
    for (size_t i = 0; i < warnings.n; i++)
        warned |= strstr(warnings.items[i], "trained on 4 utterances a step (1 process(es) x 2 micro-batch(es) x batch "
                                            "2), this run takes 2") != NULL;
    CHECK(warned, "a resume with another global batch warns (%zu warnings)", warnings.n);
    strlist_free(&warnings);
    /* a larger global batch on resume: the position in the epoch carries over as a count of
     * utterances, so no step falls past the end of the new epoch (none skipped) */
    char *grown = str_printf("%s/acc-grown", fixture_dir());
    CHECK(train(manifest, grown, "--batch-size", "2", "--stop-at", "5", NULL) == 0 &&
              train(manifest, grown, "--batch-size", "2", "--accumulate", "4", "--resume", NULL) == 0,
          "batches of 2 to step 5, then 4 micro-batches of 2");
    char *grown_last = str_printf("%s/ckpt-%08d.safetensors", grown, N_STEPS);
    CHECK(checkpoint_load(grown_last, &m, &pos, NULL) == 0 && pos.skipped_steps == 0,
          "no step skipped after the resume (%ld)", pos.skipped_steps);
    mslam_model_free(m);
    /* the same global batches split otherwise on resume: said, not warned (batch-size and
     * text-batch differ by design) */
    char *resplit = str_printf("%s/acc-resplit", fixture_dir());
    warnings = (struct strlist){0};
    CHECK(train(manifest, resplit, "--text-data", manifest, "--stop-at", "3", NULL) == 0, "batches of 4 to step 3");
    mslam_log_set(fixture_collect_warnings, &warnings);
    CHECK(train(manifest, resplit, "--text-data", manifest, "--batch-size", "2", "--text-batch", "8", "--accumulate",
                "2", "--resume", NULL) == 0,
          "resumed as 2 micro-batches of 2");
    mslam_log_set(NULL, NULL);
    CHECK(warnings.n == 0, "no warning for another split of the same batches (%s)",
          warnings.n ? warnings.items[0] : "");
    strlist_free(&warnings);
    /* --cache-encoder: the global batches decide each cached utterance's mask, so 2 micro-batches
     * of 2 take the steps of batches of 4 (half the steps chunked) */
    char *init = str_printf("%s/straight/model.safetensors", fixture_dir());
    char *cached4 = str_printf("%s/acc-cached4", fixture_dir()), *cached22 = str_printf("%s/acc-cached22", fixture_dir());
    CHECK(train(manifest, cached4, "--task", "st", "--freeze-encoder", "--no-specaug", "--cache-encoder", "--init", init,
                NULL) == 0 &&
              train(manifest, cached22, "--task", "st", "--freeze-encoder", "--no-specaug", "--cache-encoder", "--init",
                    init, "--batch-size", "2", "--accumulate", "2", NULL) == 0,
          "cached encoder outputs, batches of 4 and 2 x 2: %s", mslam_last_error());
    fixture_compare_runs(cached4, cached22, N_STEPS, "--cache-encoder: 1 x 2 micro-batches x 2 vs 1 x 4");
    /* out of range */
    CHECK(train(manifest, micro, "--accumulate", "0", NULL) != 0 && strstr(mslam_last_error(), "--accumulate 0"),
          "--accumulate 0 refused: %s", mslam_last_error());
    free(whole), free(micro), free(last), free(grown), free(grown_last), free(resplit), free(init), free(cached4),
        free(cached22);
}

/* --dropout: a run with it resumes bit for bit (the masks are a function of seed, step and
 * micro-batch) and ends elsewhere than one without. */
static void test_dropout(const char *manifest) {
    char *straight = str_printf("%s/drop-straight", fixture_dir()), *split = str_printf("%s/drop-split", fixture_dir());
    char *plain = str_printf("%s/drop-none", fixture_dir());
    CHECK(train(manifest, straight, "--dropout", "0.2", "--text-data", manifest, NULL) == 0, "training with dropout");
    CHECK(train(manifest, split, "--dropout", "0.2", "--text-data", manifest, "--stop-at", "3", NULL) == 0 &&
              train(manifest, split, "--dropout", "0.2", "--text-data", manifest, "--resume", NULL) == 0,
          "the same, stopped at step 3 and resumed");
    CHECK(train(manifest, plain, "--text-data", manifest, NULL) == 0, "the same without dropout");
    char *a = str_printf("%s/model.safetensors", straight), *b = str_printf("%s/model.safetensors", split),
         *c = str_printf("%s/model.safetensors", plain);
    CHECK(test_files_equal(a, b), "with dropout, N straight == N/2 + resume + N/2, bit for bit");
    CHECK(!test_files_equal(a, c), "dropout changed the steps");
    char *last = str_printf("%s/ckpt-%08d.safetensors", split, N_STEPS), *record = checkpoint_options(last);
    CHECK(record && strstr(record, "\ndropout=0.2"), "the checkpoint records --dropout: %s", record ? record : "");
    CHECK(train(manifest, plain, "--dropout", "1", NULL) != 0 && strstr(mslam_last_error(), "--dropout 1"),
          "--dropout 1 refused: %s", mslam_last_error());
    free(last), free(record), free(straight), free(split), free(plain), free(a), free(b), free(c);
}

/* The step of the best (lowest) valid_cer in a train.jsonl, the first of equals; 0 when none. */
static long best_cer_step(const char *log_path) {
    char *text = NULL;
    size_t n;
    long best_step = 0;
    double best = INFINITY;
    if (read_file(log_path, 1 << 20, &text, &n)) return 0;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        const char *cer = strstr(line, "\"valid_cer\":");
        if (!cer || !strncmp(cer + 12, "null", 4)) continue;
        double x = atof(cer + 12);
        if (x < best) best = x, best_step = atol(strstr(line, "\"step\":") + 7);
    }
    free(text);
    return best_step;
}

/* --best-metric keeps the best validated model as OUT/best.safetensors; --patience stops a run
 * whose validations stop improving, writing its checkpoint and model. */
static void test_best_and_patience(const char *manifest) {
    char *out = str_printf("%s/best", fixture_dir()), *log = str_printf("%s/train.jsonl", out);
    CHECK(train(manifest, out, "--valid", manifest, "--valid-every", "1", "--save-every", "1", "--keep", "10", NULL) == 0,
          "training with validations");
    long step = best_cer_step(log);
    printf("best validation CER at step %ld\n", step);
    /* this run's first validation is not its best, so the best model was replaced at least once */
    CHECK(step > 1, "the best validation after the first (step %ld)", step);
    char *best = str_printf("%s/best.safetensors", out), *ckpt = str_printf("%s/ckpt-%08ld.safetensors", out, step);
    mslam_model *a = NULL, *b = NULL;
    train_position pos = {0};
    CHECK(step > 0 && checkpoint_load(best, &a, NULL, NULL) == 0 && checkpoint_load(ckpt, &b, &pos, NULL) == 0 &&
              a->table.total == b->table.total && !memcmp(a->block, b->block, a->table.total * sizeof(float)),
          "best.safetensors is the model of step %ld, the lowest validation CER", step);
    CHECK(pos.best_step == step, "the checkpoint records the best step %ld (got %ld)", step, pos.best_step);
    mslam_model_free(a), mslam_model_free(b);
    char *text = NULL;
    size_t n;
    char *record = str_printf("\"best_step\":%ld", step);
    CHECK(read_file(log, 1 << 20, &text, &n) == 0 && strstr(text, record), "the log's validations name the best step");
    free(text), free(record), free(best), free(ckpt);

    /* a learning rate of 0: the validation CER never improves after the first, so --patience 2
     * stops at the third validation (step 6 of 8) with a checkpoint and a model */
    char *still = str_printf("%s/patience", fixture_dir());
    CHECK(train(manifest, still, "--valid", manifest, "--valid-every", "2", "--lr", "0", "--lr-min", "0", "--patience",
                "2", NULL) == 0,
          "a run out of patience exits 0");
    char *six = str_printf("%s/ckpt-00000006.safetensors", still), *eight = str_printf("%s/ckpt-00000008.safetensors", still);
    char *model = str_printf("%s/model.safetensors", still), *best2 = str_printf("%s/best.safetensors", still);
    CHECK(checkpoint_load(six, &a, &pos, NULL) == 0 && pos.best_step == 2 && pos.stale_validations == 2 &&
              access(eight, F_OK) != 0 && access(model, F_OK) == 0 && access(best2, F_OK) == 0,
          "stopped at step 6 (best step %ld, %d stale), with model.safetensors and best.safetensors", pos.best_step,
          pos.stale_validations);
    mslam_model_free(a);
    /* the same stopped at step 4 and resumed: the stale count carries over, so it stops at 6 */
    char *halves = str_printf("%s/patience-halves", fixture_dir());
    char *six2 = str_printf("%s/ckpt-00000006.safetensors", halves), *eight2 = str_printf("%s/ckpt-00000008.safetensors", halves);
    CHECK(train(manifest, halves, "--valid", manifest, "--valid-every", "2", "--lr", "0", "--lr-min", "0", "--patience",
                "2", "--stop-at", "4", NULL) == 0 &&
              train(manifest, halves, "--valid", manifest, "--valid-every", "2", "--lr", "0", "--lr-min", "0",
                    "--patience", "2", "--resume", NULL) == 0,
          "the patience run in two halves");
    CHECK(access(six2, F_OK) == 0 && access(eight2, F_OK) != 0, "resumed, it still stops at step 6");
    /* resumed once more after its patience ran out: one more validation, and the count it stops
     * at is the one it printed (3), not --patience */
    char *said_path = str_printf("%s/patience-said.txt", fixture_dir()), *said = NULL;
    int saved_err = test_output_to(STDERR_FILENO, said_path);
    int rc_more = train(manifest, halves, "--valid", manifest, "--valid-every", "2", "--lr", "0", "--lr-min", "0",
                        "--patience", "2", "--resume", NULL);
    test_output_restore(STDERR_FILENO, saved_err);
    size_t n_said;
    CHECK(rc_more == 0 && read_file(said_path, 1 << 20, &said, &n_said) == 0 &&
              strstr(said, "for 3 validation(s): stopping (--patience)") &&
              strstr(said, "stopped early at step 8: 3 validation(s) without a better CER"),
          "a resume past its patience: rc %d, said: %s", rc_more, said ? said : "(nothing)");
    free(said), free(said_path);
    /* another --best-metric on resume counts afresh: its first validation is its best */
    char *other = str_printf("%s/patience-other", fixture_dir()), *other_last = str_printf("%s/ckpt-%08d.safetensors", other, N_STEPS);
    CHECK(train(manifest, other, "--valid", manifest, "--valid-every", "2", "--stop-at", "4", NULL) == 0 &&
              train(manifest, other, "--valid", manifest, "--valid-every", "2", "--best-metric", "lid", "--resume",
                    NULL) == 0,
          "CER to step 4, then LID accuracy");
    CHECK(checkpoint_load(other_last, &a, &pos, NULL) == 0 && !strcmp(pos.best_metric, "lid") && pos.best_step >= 6,
          "the resumed run keeps the best LID accuracy from step 6 on (%s, step %ld)", pos.best_metric, pos.best_step);
    mslam_model_free(a);
    /* a signal at a validation's step writes the checkpoint first, marked: the resume validates
     * that step before the next, as the run would have (this simulates it: step 4 checkpointed
     * without its validation, marked, resumed), and ends as the straight run does */
    char *straight = str_printf("%s/valid-straight", fixture_dir()), *pending = str_printf("%s/valid-pending", fixture_dir());
    char *four = str_printf("%s/ckpt-00000004.safetensors", pending);
    CHECK(train(manifest, straight, "--valid", manifest, "--valid-every", "4", NULL) == 0 &&
              train(manifest, pending, "--valid", manifest, "--valid-every", "1000", "--stop-at", "4", NULL) == 0,
          "the straight run, and one to step 4 without its validation");
    int state = 0;
    CHECK(checkpoint_load(four, &a, &pos, &state) == 0 && state && pos.best_step == 0, "step 4's checkpoint");
    mslam_model_free(a);
    a = NULL;
    CHECK(checkpoint_rewrite(four, REWRITE_VALIDATION_PENDING, NULL) == 0,
          "marked as stopped before its validation: %s", mslam_last_error());
    char *info = info_text(four, 0);
    CHECK(info && strstr(info, "\n  validation   pending: a signal stopped step 4's validation"),
          "info shows the pending validation: %s", info ? info : mslam_last_error());
    free(info);
    /* the same resumed with validations off (--valid-every 0) still does the one pending: --valid
     * is read for it */
    char *pending_off = str_printf("%s/valid-pending-off", fixture_dir());
    char *off_four = str_printf("%s/ckpt-00000004.safetensors", pending_off);
    char *off_five = str_printf("%s/ckpt-00000005.safetensors", pending_off);
    CHECK(train(manifest, pending_off, "--valid", manifest, "--valid-every", "1000", "--stop-at", "4", NULL) == 0 &&
              checkpoint_rewrite(off_four, REWRITE_VALIDATION_PENDING, NULL) == 0 &&
              train(manifest, pending_off, "--valid", manifest, "--valid-every", "0", "--resume", "--stop-at", "5",
                    NULL) == 0 &&
              checkpoint_load(off_five, &a, &pos, NULL) == 0,
          "a pending validation resumed with --valid-every 0: %s", mslam_last_error());
    CHECK(pos.best_step == 4 && !pos.validation_pending, "its validation ran (best step %ld, pending %d)", pos.best_step,
          pos.validation_pending);
    mslam_model_free(a);
    a = NULL;
    free(pending_off), free(off_four), free(off_five);
    CHECK(train(manifest, pending, "--valid", manifest, "--valid-every", "4", "--resume", NULL) == 0, "resumed");
    char *straight_best = str_printf("%s/best.safetensors", straight), *pending_best = str_printf("%s/best.safetensors", pending);
    char *straight_model = str_printf("%s/model.safetensors", straight), *pending_model = str_printf("%s/model.safetensors", pending);
    char *straight_last = str_printf("%s/ckpt-%08d.safetensors", straight, N_STEPS);
    char *pending_last = str_printf("%s/ckpt-%08d.safetensors", pending, N_STEPS);
    train_position p1 = {0}, p2 = {0};
    a = b = NULL;
    CHECK(test_files_equal(straight_best, pending_best) && test_files_equal(straight_model, pending_model) &&
              checkpoint_load(straight_last, &a, &p1, NULL) == 0 && checkpoint_load(pending_last, &b, &p2, NULL) == 0 &&
              p1.best_step == p2.best_step && p1.stale_validations == p2.stale_validations && !p2.validation_pending,
          "the pending validation ran first: the same best model, model and best step (%ld, %ld)", p1.best_step,
          p2.best_step);
    mslam_model_free(a), mslam_model_free(b);
    free(straight), free(pending), free(four), free(straight_best), free(pending_best), free(straight_model),
        free(pending_model), free(straight_last), free(pending_last);
    /* best.safetensors that cannot be written: warned, and training goes on to its model */
    char *blocked = str_printf("%s/patience-blocked", fixture_dir()), *blocked_best = str_printf("%s/best.safetensors", blocked);
    char *blocked_model = str_printf("%s/model.safetensors", blocked);
    CHECK(mkdir(blocked, 0755) == 0 && mkdir(blocked_best, 0755) == 0, "a folder where best.safetensors goes");
    CHECK(train(manifest, blocked, "--valid", manifest, "--valid-every", "4", NULL) == 0 &&
              access(blocked_model, F_OK) == 0,
          "a best model that cannot be written stops nothing: %s", mslam_last_error());
    free(still), free(six), free(eight), free(model), free(best2), free(halves), free(six2), free(eight2), free(other),
        free(other_last), free(blocked), free(blocked_best), free(blocked_model);

    /* refused before anything is read */
    CHECK(train(manifest, out, "--patience", "2", NULL) != 0 && strstr(mslam_last_error(), "needs --valid"),
          "--patience without --valid: %s", mslam_last_error());
    CHECK(train(manifest, out, "--task", "asr", "--valid", manifest, "--best-metric", "bleu", NULL) != 0 &&
              strstr(mslam_last_error(), "does not measure it"),
          "--best-metric bleu for --task asr: %s", mslam_last_error());
    CHECK(train(manifest, out, "--valid", manifest, "--best-metric", "wer", NULL) != 0 &&
              strstr(mslam_last_error(), "expected cer, lid, bleu or none"),
          "--best-metric wer: %s", mslam_last_error());
    free(out), free(log);
}

/* --text-data: the decoder also learns from text pairs through the encoder's text path; the
 * pairs of a step are a function of (seed, step), so resume stays exact. */
static void test_text_pairs(const char *manifest) {
    char *straight = str_printf("%s/mt-straight", fixture_dir()), *split = str_printf("%s/mt-split", fixture_dir());
    CHECK(train(manifest, straight, "--text-data", manifest, "--text-batch", "3", NULL) == 0, "training with text pairs");
    CHECK(train(manifest, split, "--text-data", manifest, "--text-batch", "3", "--stop-at", "4", NULL) == 0 &&
              train(manifest, split, "--text-data", manifest, "--text-batch", "3", "--resume", NULL) == 0,
          "the same in two halves");
    char *model_a = str_printf("%s/model.safetensors", straight), *model_b = str_printf("%s/model.safetensors", split);
    CHECK(test_files_equal(model_a, model_b), "with text pairs, N straight == N/2 + resume + N/2, bit for bit");
    char *half = str_printf("%s/ckpt-00000004.safetensors", split), *info = info_text(half, 0);
    CHECK(info && strstr(info, "\n  data         24 usable rows of --data, ") && strstr(info, " of --text-data\n"),
          "info shows the rows of --data and --text-data: %s", info ? info : mslam_last_error());
    free(half), free(info);
    char *log = str_printf("%s/train.jsonl", straight), *text = NULL;
    size_t n;
    const char *mt = read_file(log, 1 << 20, &text, &n) == 0 ? strstr(text, "\"mt\":") : NULL;
    double first_mt = mt ? strtod(mt + 5, NULL) : 0;
    CHECK(first_mt > 1, "the log has the text translation loss (first record: %g)", first_mt);
    free(text);
    /* --text-noise: the noisy sources are a function of (seed, step) too */
    char *noisy = str_printf("%s/mt-noisy", fixture_dir()), *noisy_split = str_printf("%s/mt-noisy-split", fixture_dir());
    char *model_n = str_printf("%s/model.safetensors", noisy), *model_ns = str_printf("%s/model.safetensors", noisy_split);
    CHECK(train(manifest, noisy, "--text-data", manifest, "--text-batch", "3", "--text-noise", "0.3", NULL) == 0 &&
              train(manifest, noisy_split, "--text-data", manifest, "--text-batch", "3", "--text-noise", "0.3",
                    "--stop-at", "4", NULL) == 0 &&
              train(manifest, noisy_split, "--text-data", manifest, "--text-batch", "3", "--text-noise", "0.3",
                    "--resume", NULL) == 0,
          "training with noisy text pairs");
    CHECK(test_files_equal(model_n, model_ns) && !test_files_equal(model_n, model_a),
          "with --text-noise, N straight == N/2 + resume + N/2, and not the noiseless run");
    char *folder_text = str_printf("%s/mt-folder", fixture_dir());
    CHECK(train(manifest, folder_text, "--text-data", fixture_dir(), NULL) == 2 &&
              strstr(mslam_last_error(), "--text-data") && strstr(mslam_last_error(), "is a folder") &&
              access(folder_text, F_OK) != 0,
          "--text-data FOLDER is refused before --out is made: %s", mslam_last_error());
    free(folder_text);
    char *bad_noise = str_printf("%s/mt-bad-noise", fixture_dir());
    CHECK(train(manifest, bad_noise, "--text-data", manifest, "--text-noise", "1.5", NULL) != 0 &&
              strstr(mslam_last_error(), "--text-noise"),
          "--text-noise above 1 is an error naming it: %s", mslam_last_error());
    char *bad_eq = str_printf("%s/bad-eq", fixture_dir());
    for (int i = 0; i < 2; i++) {
        CHECK(train(manifest, bad_eq, "--eq-prob", "0.5", "--eq-points", i ? "65" : "1", NULL) != 0 &&
                  strstr(mslam_last_error(), i ? "--eq-points 65: must be 2..64" : "--eq-points 1: must be 2..64"),
              "--eq-points outside 2..64 is an error naming it: %s", mslam_last_error());
    }
    /* augmentation values that would silently do nothing, or break every step: refused, naming the
     * option (--eq-db inf made every feature non-finite and skipped every step; a negative count
     * of masks gave none; a width of INT_MAX overflowed drawing the masks) */
    static const char *const bad_aug[][2] = {{"--eq-db", "inf"},         {"--eq-db", "1e6"},
                                             {"--freq-masks", "-1"},     {"--time-masks", "-2"},
                                             {"--freq-width", "-1"},     {"--freq-width", "2147483647"},
                                             {"--time-width", "-1"},     {"--time-masks", "1000000000"},
                                             {"--stats-items", "0"}};
    for (size_t i = 0; i < sizeof bad_aug / sizeof *bad_aug; i++) {
        CHECK(train(manifest, bad_eq, "--eq-prob", "0.5", bad_aug[i][0], bad_aug[i][1], NULL) == 2 &&
                  strstr(mslam_last_error(), bad_aug[i][0]) && access(bad_eq, F_OK) != 0,
              "%s %s is an error naming it: %s", bad_aug[i][0], bad_aug[i][1], mslam_last_error());
    }
    free(noisy), free(noisy_split), free(model_n), free(model_ns), free(bad_noise), free(bad_eq);
    char *asr = str_printf("%s/mt-asr", fixture_dir());
    CHECK(train(manifest, asr, "--task", "asr", "--text-data", manifest, NULL) != 0 &&
              strstr(mslam_last_error(), "--text-data"),
          "--text-data without a decoder is an error naming it: %s", mslam_last_error());
    char *big = str_printf("%s/mt-big", fixture_dir());
    CHECK(train(manifest, big, "--text-data", manifest, "--text-batch", "17", NULL) != 0 &&
              strstr(mslam_last_error(), "fewer than a step's 17"),
          "more pairs a step than the 16 there are is an error before training: %s", mslam_last_error());
    char *twice = str_printf("%s/mt-twice", fixture_dir());
    struct strlist warnings = {0};
    mslam_log_set(fixture_collect_warnings, &warnings);
    int rc_twice = train(manifest, twice, "--text-data", manifest, "--text-data", manifest, "--text-batch", "17",
                         "--stop-at", "1", NULL);
    mslam_log_set(NULL, NULL);
    CHECK(rc_twice == 0, "--text-data twice trains on both manifests' pairs (32, enough for 17 a step): %s",
          mslam_last_error());
    CHECK(fixture_warned_of(&warnings, "--text-data", "is given again: its pairs count once more each time"),
          "--text-data A --text-data A is warned of (%s)", warnings.n ? warnings.items[0] : "no warning");
    strlist_free(&warnings);
    free(twice);
    free(straight), free(split), free(model_a), free(model_b), free(log), free(asr), free(big);
}

/* The config's translate_input of a model or checkpoint file, -1 when it does not load. */
static int translate_input_of(const char *path) {
    mslam_model *m = NULL;
    int input = checkpoint_load(path, &m, NULL, NULL) == 0 ? m->cfg.translate_input : -1;
    mslam_model_free(m);
    return input;
}

/* What the decoder reads is recorded in the model: speech when the run translates speech, the
 * CTC transcript when the decoder learns from text pairs alone (--st-weight 0), the --init
 * model's when the run does not train the decoder; export --translate-input sets it, and eval
 * without --st-input follows it. */
static void test_translate_input(const char *manifest) {
    char *dir = str_printf("%s/mt-straight", fixture_dir());
    char *speech = str_printf("%s/model.safetensors", dir);
    CHECK(translate_input_of(speech) == MSLAM_TRANSLATE_SPEECH, "speech and text pairs: the decoder reads speech");
    char *text_out = str_printf("%s/mt-text-only", fixture_dir()), *asr_out = str_printf("%s/mt-then-asr", fixture_dir());
    char *text_model = str_printf("%s/model.safetensors", text_out), *asr_model = str_printf("%s/model.safetensors", asr_out);
    CHECK(train(manifest, text_out, "--text-data", manifest, "--text-batch", "3", "--st-weight", "0", NULL) == 0 &&
              translate_input_of(text_model) == MSLAM_TRANSLATE_TRANSCRIPT,
          "text pairs alone: the decoder reads the transcript");
    CHECK(train(manifest, asr_out, "--init", text_model, "--task", "asr", NULL) == 0 &&
              translate_input_of(asr_model) == MSLAM_TRANSLATE_TRANSCRIPT,
          "a run that does not train the decoder keeps the --init model's");
    char *json = str_printf("%s/eval-auto.json", fixture_dir()), *js = NULL;
    char *ev[] = {(char *)"eval", (char *)"--model", text_model, (char *)"--data", (char *)manifest, (char *)"--tasks",
                  (char *)"st", (char *)"--modes", (char *)"offline", (char *)"--max-len", (char *)"10", (char *)"--json",
                  json, NULL};
    size_t n;
    struct json_object *root = NULL, *input;
    CHECK(cmd_eval(13, ev) == 0 && read_file(json, 1 << 20, &js, &n) == 0 && (root = json_tokener_parse(js)) &&
              json_object_object_get_ex(root, "st_input", &input) &&
              !strcmp(json_object_get_string(input), "transcript"),
          "eval without --st-input translates what the model's decoder reads: %s", js ? js : mslam_last_error());
    json_object_put(root);
    free(js);
    char *out = str_printf("%s/exported-speech.safetensors", fixture_dir());
    char *ex[] = {(char *)"export", (char *)"--checkpoint", text_model, (char *)"--out", out,
                  (char *)"--translate-input", (char *)"speech", NULL};
    CHECK(cmd_export(7, ex) == 0 && translate_input_of(out) == MSLAM_TRANSLATE_SPEECH, "export --translate-input speech");
    /* a decoder without a CTC head cannot read a transcript: nothing is written */
    char *st_out = str_printf("%s/mt-st", fixture_dir()), *st_model = str_printf("%s/model.safetensors", st_out);
    char *refused = str_printf("%s/refused.safetensors", fixture_dir());
    char *ex2[] = {(char *)"export", (char *)"--checkpoint", st_model, (char *)"--out", refused,
                   (char *)"--translate-input", (char *)"transcript", NULL};
    CHECK(train(manifest, st_out, "--task", "st", NULL) == 0 && cmd_export(7, ex2) == 1 &&
              strstr(mslam_last_error(), "--translate-input: config: translate_input = 1 (the CTC transcript) needs a "
                                         "CTC head") && access(refused, F_OK) != 0,
          "export --translate-input transcript without a CTC head: %s", mslam_last_error());
    free(dir), free(speech), free(text_out), free(asr_out), free(text_model), free(asr_model), free(json), free(out);
    free(st_out), free(st_model), free(refused);
}

/* export with several --checkpoint: every parameter the mean of theirs, in the first's config;
 * checkpoints of another architecture are refused and nothing is written. */
static void test_export_average(void) {
    char *a = str_printf("%s/mt-split/ckpt-%08d.safetensors", fixture_dir(), 4);
    char *b = str_printf("%s/mt-split/ckpt-%08d.safetensors", fixture_dir(), N_STEPS);
    char *mean = str_printf("%s/mean.safetensors", fixture_dir());
    char *ex[] = {(char *)"export", (char *)"--checkpoint", a, (char *)"--checkpoint", b, (char *)"--out", mean, NULL};
    mslam_model *ma = NULL, *mb = NULL, *mm = NULL;
    CHECK(cmd_export(7, ex) == 0 && checkpoint_load(a, &ma, NULL, NULL) == 0 && checkpoint_load(b, &mb, NULL, NULL) == 0 &&
              checkpoint_load(mean, &mm, NULL, NULL) == 0,
          "export the mean of two checkpoints: %s", mslam_last_error());
    size_t off = 0, differ = 0;
    for (size_t j = 0; mm && j < mm->table.total; j++) {
        float want = (float)(((double)ma->block[j] + mb->block[j]) / 2);
        off += mm->block[j] != want;
        differ += ma->block[j] != mb->block[j];
    }
    CHECK(mm && off == 0 && differ > mm->table.total / 2, "%zu of %zu parameters are not the mean (%zu differ)", off,
          mm ? mm->table.total : 0, differ);
    mslam_model_free(ma), mslam_model_free(mb), mslam_model_free(mm);
    /* the same list from a --config key file */
    char *conf = str_printf("%s/export.conf", fixture_dir()), *mean2 = str_printf("%s/mean2.safetensors", fixture_dir());
    FILE *f = fopen(conf, "w");
    if (f) fprintf(f, "[export]\ncheckpoint=%s;%s\nout=%s\n", a, b, mean2), fclose(f);
    char *by_conf[] = {(char *)"export", (char *)"--config", conf, NULL};
    CHECK(cmd_export(3, by_conf) == 0 && test_files_equal(mean, mean2), "--config checkpoint=A;B: the same mean");
    char *other = str_printf("%s/mt-st/model.safetensors", fixture_dir());
    char *refused = str_printf("%s/mean-refused.safetensors", fixture_dir());
    ex[4] = other;
    ex[6] = refused;
    CHECK(cmd_export(7, ex) == 1 && strstr(mslam_last_error(), "another architecture than the first checkpoint's") &&
              access(refused, F_OK) != 0,
          "another architecture is refused: %s", mslam_last_error());
    /* the same architecture with two characters swapped: their rows would be averaged across */
    char *swapped = str_printf("%s/swapped.safetensors", fixture_dir());
    mslam_model *src = NULL, *sw = NULL;
    if (checkpoint_load(a, &src, NULL, NULL) == 0) {
        const char **vocab = malloc((size_t)src->cfg.vocab_size * sizeof *vocab);
        for (int i = 0; i < src->cfg.vocab_size; i++) vocab[i] = src->vocab[i];
        int last = src->cfg.vocab_size - 1;
        vocab[last] = src->vocab[last - 1], vocab[last - 1] = src->vocab[last];
        sw = mslam_model_new(&src->cfg, vocab, (const char *const *)src->langs);
        free(vocab);
    }
    CHECK(sw && mslam_model_save(sw, swapped) == 0, "a model with a swapped vocabulary: %s", mslam_last_error());
    ex[4] = swapped;
    CHECK(cmd_export(7, ex) == 1 && strstr(mslam_last_error(), "vocabulary entry") && access(refused, F_OK) != 0,
          "another vocabulary is refused: %s", mslam_last_error());
    mslam_model_free(src), mslam_model_free(sw);
    free(a), free(b), free(mean), free(other), free(refused), free(conf), free(mean2), free(swapped);
}

static const mslam_param_entry *entry_named(const mslam_model *m, const char *name) {
    for (int i = 0; i < m->table.n; i++)
        if (!strcmp(m->table.entries[i].name, name)) return &m->table.entries[i];
    return NULL;
}

/* Model b trained from a: every tensor whose name starts with one of prefixes moved (each
 * prefix's at least once), every other is a's bit for bit. */
static void check_trained_alone(const mslam_model *a, const mslam_model *b, const char *const *prefixes,
                                const char *what) {
    int others_same = 1;
    for (const char *const *p = prefixes; *p; p++) {
        int moved = 0;
        for (int i = 0; i < a->table.n; i++) {
            const mslam_param_entry *x = &a->table.entries[i], *y = entry_named(b, x->name);
            if (y && y->numel == x->numel && !strncmp(x->name, *p, strlen(*p)))
                moved |= memcmp(a->block + x->offset, b->block + y->offset, x->numel * sizeof(float)) != 0;
        }
        CHECK(moved, "%s: the %s tensors trained", what, *p);
    }
    for (int i = 0; i < a->table.n; i++) {
        const mslam_param_entry *x = &a->table.entries[i], *y = entry_named(b, x->name);
        int head = 0;
        for (const char *const *p = prefixes; *p && !head; p++) head = !strncmp(x->name, *p, strlen(*p));
        if (head) continue;
        if (!y || y->numel != x->numel || memcmp(a->block + x->offset, b->block + y->offset, x->numel * sizeof(float))) {
            others_same = 0;
            fprintf(stderr, "  %s: %s changed\n", what, x->name);
        }
    }
    CHECK(others_same, "%s: every other tensor is unchanged", what);
}

/* Decoder-only training from test_exact_resume's model (1 decoder layer): the encoder, CTC and
 * LID tensors stay bit for bit, the old decoder layer moves, a second one is added. */
static void test_freeze_encoder(const char *manifest) {
    char *init = str_printf("%s/straight/model.safetensors", fixture_dir());
    char *out = str_printf("%s/frozen", fixture_dir()), *model = str_printf("%s/model.safetensors", out);
    /* a translation with a character the init model does not know: skipped, the vocabulary kept */
    char *text = NULL, *odd = str_printf("%s/odd-char.tsv", fixture_dir());
    size_t n = 0;
    CHECK(read_file(manifest, 1 << 20, &text, &n) == 0, "the fixture manifest");
    char *row = text ? strchr(text, '\n') : NULL, *field = row;
    for (int k = 0; field && k < 3; k++) field = strchr(field + 1, '\t'); /* the translation's tab */
    FILE *f = field ? fopen(odd, "w") : NULL;
    if (f) {
        fwrite(text, 1, (size_t)(field + 1 - text), f);
        fputs("\xce\xa9", f); /* Omega */
        fputs(field + 1, f);
        fclose(f);
    }
    free(text);
    CHECK(train(odd, out, "--task", "st", "--freeze-encoder", "--init", init, "--decoder-layers", "2", "--audio-dir",
                fixture_dir(), NULL) == 0,
          "decoder-only training: %s", mslam_last_error());
    /* resumed, the encoder is the checkpoint's: no --init needed */
    CHECK(train(odd, out, "--task", "st", "--freeze-encoder", "--decoder-layers", "2", "--audio-dir", fixture_dir(),
                "--steps", "9", "--resume", NULL) == 0,
          "decoder-only training resumed without --init: %s", mslam_last_error());
    mslam_model *a = NULL, *b = NULL;
    CHECK(checkpoint_load(init, &a, NULL, NULL) == 0 && checkpoint_load(model, &b, NULL, NULL) == 0, "both load");
    if (a && b) {
        CHECK(b->cfg.vocab_size == a->cfg.vocab_size && b->cfg.n_langs == a->cfg.n_langs,
              "the vocabulary (%d, init %d) and languages stay", b->cfg.vocab_size, a->cfg.vocab_size);
        CHECK(b->cfg.n_decoder_layers == 2 && b->cfg.ctc_head && b->cfg.lid_head,
              "two decoder layers, the CTC and LID heads kept (%d layers)", b->cfg.n_decoder_layers);
        check_trained_alone(a, b, (const char *const[]){"decoder", NULL}, "decoder-only training");
        CHECK(entry_named(b, "decoder_layers.1.cross_attn.q.weight") != NULL, "the new layer is there");
    }
    mslam_model_free(a), mslam_model_free(b);
    /* the heads of --task asr (a linear probe, from the encoder cache) and of multi */
    char *probe = str_printf("%s/frozen-asr", fixture_dir()), *multi = str_printf("%s/frozen-multi", fixture_dir());
    CHECK(train(manifest, probe, "--task", "asr", "--freeze-encoder", "--cache-encoder", "--no-specaug", "--init", init,
                NULL) == 0 &&
              train(manifest, multi, "--freeze-encoder", "--init", init, "--lid-weight", "0", NULL) == 0,
          "--freeze-encoder with --task asr and multi: %s", mslam_last_error());
    /* multi at --lid-weight 0: the LID head has no loss and stays (AdamW's decay would shrink it) */
    static const char *const ctc_alone[] = {"ctc.", NULL}, *const two_heads[] = {"ctc.", "decoder", NULL};
    const char *const *trained[] = {ctc_alone, two_heads};
    const char *runs[] = {probe, multi};
    for (int r = 0; r < 2; r++) {
        char *path = str_printf("%s/model.safetensors", runs[r]);
        a = b = NULL;
        CHECK(checkpoint_load(init, &a, NULL, NULL) == 0 && checkpoint_load(path, &b, NULL, NULL) == 0, "both load");
        if (a && b) check_trained_alone(a, b, trained[r], runs[r]);
        mslam_model_free(a), mslam_model_free(b);
        free(path);
    }
    char *pretrain = str_printf("%s/frozen-pretrain", fixture_dir());
    CHECK(train(manifest, pretrain, "--task", "pretrain", "--freeze-encoder", "--init", init, NULL) != 0 &&
              strstr(mslam_last_error(), "--freeze-encoder"),
          "--freeze-encoder with --task pretrain is an error naming it: %s", mslam_last_error());
    char *no_init = str_printf("%s/frozen-no-init", fixture_dir());
    CHECK(train(manifest, no_init, "--task", "st", "--freeze-encoder", NULL) != 0 && strstr(mslam_last_error(), "--init"),
          "--freeze-encoder without --init is an error naming it: %s", mslam_last_error());
    free(init), free(out), free(model), free(multi), free(odd), free(no_init), free(probe), free(pretrain);
}

/* --init --vocab data: the vocabulary shrinks to the data's characters (here the German rows':
 * no "m", which only the French ones have), every row over characters is the init model's row of
 * the same character, every other tensor the init model's; the default keeps the init's. */
static void test_vocab_data(const char *manifest) {
    char *init = str_printf("%s/straight/model.safetensors", fixture_dir());
    char *german = str_printf("%s/german.tsv", fixture_dir()), *text = NULL;
    size_t n = 0;
    FILE *f = read_file(manifest, 1 << 20, &text, &n) == 0 ? fopen(german, "w") : NULL;
    for (char *line = f ? text : NULL, *end; line && *line; line = end + (*end != '\0')) {
        end = line + strcspn(line, "\n");
        const char *tab = strchr(line, '\t');
        if (line == text || (tab && tab < end && !strncmp(tab + 1, "de\t", 3))) fprintf(f, "%.*s\n", (int)(end - line), line);
    }
    if (f) fclose(f);
    free(text);
    char *narrow = str_printf("%s/vocab-data", fixture_dir()), *wide = str_printf("%s/vocab-init", fixture_dir());
    CHECK(train(german, narrow, "--task", "asr", "--init", init, "--vocab", "data", "--lr", "0", "--lr-min", "0",
                "--steps", "1", "--audio-dir", fixture_dir(), NULL) == 0 &&
              train(german, wide, "--task", "asr", "--init", init, "--lr", "0", "--lr-min", "0", "--steps", "1",
                    "--audio-dir", fixture_dir(), NULL) == 0,
          "--vocab data and init: %s", mslam_last_error());
    mslam_model *a = NULL, *b = NULL, *c = NULL;
    char *narrow_model = str_printf("%s/model.safetensors", narrow), *wide_model = str_printf("%s/model.safetensors", wide);
    CHECK(checkpoint_load(init, &a, NULL, NULL) == 0 && checkpoint_load(narrow_model, &b, NULL, NULL) == 0 &&
              checkpoint_load(wide_model, &c, NULL, NULL) == 0,
          "the three models load");
    if (a && b && c) {
        int has_m = 0, known = 1;
        for (int i = 0; i < b->cfg.vocab_size; i++) {
            has_m |= !strcmp(b->vocab[i], "m");
            int j = -1;
            for (int k = 0; k < a->cfg.vocab_size && j < 0; k++) j = strcmp(a->vocab[k], b->vocab[i]) ? -1 : k;
            known &= j >= 0;
            for (int k = 0; j >= 0 && k < b->cfg.d_model; k++) {
                known &= b->p.text_embed[(size_t)i * b->cfg.d_model + k] == a->p.text_embed[(size_t)j * a->cfg.d_model + k];
                known &= b->p.ctc_w[(size_t)i * b->cfg.d_model + k] == a->p.ctc_w[(size_t)j * a->cfg.d_model + k];
            }
            known &= j >= 0 && b->p.ctc_b[i] == a->p.ctc_b[j];
        }
        CHECK(b->cfg.vocab_size < a->cfg.vocab_size && !has_m && c->cfg.vocab_size == a->cfg.vocab_size,
              "--vocab data: %d characters of the init model's %d, without \"m\"; --vocab init keeps %d",
              b->cfg.vocab_size, a->cfg.vocab_size, c->cfg.vocab_size);
        CHECK(known, "--vocab data: each character's embedding and CTC rows are the init model's of that character");
        const mslam_param_entry *x = entry_named(a, "shared_layers.0.attn.q.weight"),
                                *y = entry_named(b, "shared_layers.0.attn.q.weight");
        CHECK(x && y && !memcmp(a->block + x->offset, b->block + y->offset, x->numel * sizeof(float)),
              "--vocab data: the encoder is the init model's");
    }
    /* --min-char-count leaves out new characters, not the init model's that the data has */
    char *rare = str_printf("%s/vocab-data-rare", fixture_dir()), *rare_model = str_printf("%s/model.safetensors", rare);
    mslam_model *r = NULL;
    CHECK(train(german, rare, "--task", "asr", "--init", init, "--vocab", "data", "--min-char-count", "1000000", "--lr",
                "0", "--lr-min", "0", "--steps", "1", "--audio-dir", fixture_dir(), NULL) == 0 &&
              checkpoint_load(rare_model, &r, NULL, NULL) == 0,
          "--vocab data --min-char-count 1000000: %s", mslam_last_error());
    if (r && b)
        CHECK(r->cfg.vocab_size == b->cfg.vocab_size, "--vocab data keeps the init's characters however rare in the "
              "data: %d characters (%d at --min-char-count 1)", r->cfg.vocab_size, b->cfg.vocab_size);
    mslam_model_free(r);
    free(rare), free(rare_model);
    mslam_model_free(a), mslam_model_free(b), mslam_model_free(c);
    /* options that change nothing here are warned about */
    char *idle = str_printf("%s/vocab-idle", fixture_dir());
    struct strlist warnings = {0};
    mslam_log_set(fixture_collect_warnings, &warnings);
    CHECK(train(german, idle, "--task", "asr", "--vocab", "data", "--quantizer", "random", "--steps", "1", "--audio-dir",
                fixture_dir(), NULL) == 0,
          "--vocab data without --init, --quantizer random without pretrain: %s", mslam_last_error());
    mslam_log_set(NULL, NULL);
    int vocab_warned = 0, quantizer_warned = 0;
    for (size_t i = 0; i < warnings.n; i++) {
        vocab_warned |= strstr(warnings.items[i], "--vocab data") != NULL;
        quantizer_warned |= strstr(warnings.items[i], "--quantizer random") != NULL;
    }
    CHECK(vocab_warned && quantizer_warned, "--vocab data without --init (%d) and --quantizer random without "
          "pretrain (%d) warn", vocab_warned, quantizer_warned);
    strlist_free(&warnings);
    free(idle);
    char *bad = str_printf("%s/vocab-bad", fixture_dir());
    CHECK(train(german, bad, "--task", "asr", "--init", init, "--vocab", "corpus", NULL) != 0 &&
              strstr(mslam_last_error(), "--vocab corpus"),
          "--vocab corpus refused naming it: %s", mslam_last_error());
    free(init), free(german), free(narrow), free(wide), free(narrow_model), free(wide_model), free(bad);
}

/* --init --reinit: the tensors of the prefixes are a fresh model's (--seed's initialisation),
 * every other the init model's; a prefix no tensor has, or no --init, is refused. */
static void test_reinit(const char *manifest) {
    char *init = str_printf("%s/straight/model.safetensors", fixture_dir());
    char *out = str_printf("%s/reinit", fixture_dir()), *model = str_printf("%s/model.safetensors", out);
    CHECK(train(manifest, out, "--init", init, "--reinit", "shared_layers.", "--reinit", "text.", "--lr", "0", "--lr-min",
                "0", "--steps", "1", NULL) == 0,
          "--reinit shared_layers. text.: %s", mslam_last_error());
    mslam_model *a = NULL, *b = NULL, *fresh = NULL;
    CHECK(checkpoint_load(init, &a, NULL, NULL) == 0 && checkpoint_load(model, &b, NULL, NULL) == 0 &&
              (fresh = mslam_model_new(&b->cfg, (const char *const *)b->vocab, (const char *const *)b->langs)) != NULL,
          "the models load: %s", mslam_last_error());
    if (a && b && fresh) {
        model_init_params(fresh, 1); /* the common options' --seed, the default */
        int fresh_ok = 1, kept_ok = 1, n_fresh = 0;
        for (int i = 0; i < b->table.n; i++) {
            const mslam_param_entry *y = &b->table.entries[i];
            const mslam_param_entry *x = entry_named(a, y->name), *z = entry_named(fresh, y->name);
            int reinit = !strncmp(y->name, "shared_layers.", 14) || !strncmp(y->name, "text.", 5);
            const mslam_model *from = reinit ? fresh : a;
            const mslam_param_entry *w = reinit ? z : x;
            int same = w && w->numel == y->numel && !memcmp(from->block + w->offset, b->block + y->offset, y->numel * sizeof(float));
            if (reinit) fresh_ok &= same, n_fresh++;
            else kept_ok &= same;
            if (!same) fprintf(stderr, "  --reinit: %s is not the %s one\n", y->name, reinit ? "fresh" : "init model's");
        }
        CHECK(n_fresh > 0 && fresh_ok && kept_ok, "--reinit: %d tensors freshly initialised, every other the init model's",
              n_fresh);
    }
    mslam_model_free(a), mslam_model_free(b), mslam_model_free(fresh);
    char *bad = str_printf("%s/reinit-bad", fixture_dir());
    CHECK(train(manifest, bad, "--init", init, "--reinit", "shared.", NULL) != 0 && strstr(mslam_last_error(), "--reinit shared."),
          "a --reinit prefix no tensor has is refused naming it: %s", mslam_last_error());
    CHECK(train(manifest, bad, "--reinit", "text.", NULL) == 2 && strstr(mslam_last_error(), "no --init"),
          "--reinit without --init is a usage error: %s", mslam_last_error());
    /* an empty prefix, which every name starts with, had undone --init in silence */
    CHECK(train(manifest, bad, "--init", init, "--reinit", "", NULL) == 2 && strstr(mslam_last_error(), "--reinit is empty"),
          "--reinit '': %s", mslam_last_error());
    free(init), free(out), free(model), free(bad);
}

/* What eval (argc, argv) prints on standard output, malloc'd; NULL when it fails. */
static char *eval_table(int argc, char **argv) {
    char *table_path = str_printf("%s/eval-table.txt", fixture_dir()), *text = NULL;
    int saved_stdout = test_output_to(STDOUT_FILENO, table_path);
    int rc = cmd_eval(argc, argv);
    test_output_restore(STDOUT_FILENO, saved_stdout);
    size_t n;
    if (rc != 0 || read_file(table_path, 1 << 20, &text, &n) != 0) free(text), text = NULL;
    free(table_path);
    return text;
}

/* A LID probe (--task lid --freeze-encoder) of a model without a LID head, trained on German
 * alone: the data's languages join the init model's (with the init's alone every utterance but
 * the German ones was skipped), and only the new head trains. */
static void test_lid_probe(const char *manifest) {
    char *german = str_printf("%s/german.tsv", fixture_dir());
    char *asr = str_printf("%s/lid-probe-init", fixture_dir()), *asr_model = str_printf("%s/model.safetensors", asr);
    char *lid = str_printf("%s/lid-probe", fixture_dir()), *lid_model = str_printf("%s/model.safetensors", lid);
    char *straight = str_printf("%s/straight/model.safetensors", fixture_dir());
    CHECK(train(german, asr, "--task", "asr", "--steps", "1", "--audio-dir", fixture_dir(), NULL) == 0 &&
              train(manifest, lid, "--task", "lid", "--freeze-encoder", "--init", asr_model, NULL) == 0,
          "a LID probe of a German ASR model: %s", mslam_last_error());
    mslam_model *a = NULL, *b = NULL, *all = NULL;
    CHECK(checkpoint_load(asr_model, &a, NULL, NULL) == 0 && checkpoint_load(lid_model, &b, NULL, NULL) == 0 &&
              checkpoint_load(straight, &all, NULL, NULL) == 0,
          "the models load");
    if (a && b && all) {
        CHECK(!a->cfg.lid_head && a->cfg.n_langs == 1 && b->cfg.lid_head && b->cfg.n_langs == all->cfg.n_langs,
              "the probe's languages are the data's: %d (the data's %d, the init model's %d)", b->cfg.n_langs,
              all->cfg.n_langs, a->cfg.n_langs);
        check_trained_alone(a, b, (const char *const[]){NULL}, "a LID probe");
    }
    /* eval scores the heads a model has: no column of a task it cannot do */
    char *ev_asr[] = {(char *)"eval", (char *)"--model", asr_model, (char *)"--data", (char *)manifest,
                      (char *)"--modes", (char *)"offline", NULL};
    char *ev_lid[] = {(char *)"eval", (char *)"--model", lid_model, (char *)"--data", (char *)manifest,
                      (char *)"--modes", (char *)"offline", (char *)"--tasks", (char *)"lid", NULL};
    char *asr_table = eval_table(7, ev_asr), *lid_table = eval_table(9, ev_lid);
    CHECK(asr_table && strstr(asr_table, "CER") && strstr(asr_table, "per speaker (CER") &&
              !strstr(asr_table, "BLEU") && !strstr(asr_table, "LID"),
          "a CTC model's tables have recognition's columns alone: %s", asr_table ? asr_table : mslam_last_error());
    CHECK(lid_table && strstr(lid_table, "recall") && strstr(lid_table, "per speaker:") &&
              !strstr(lid_table, "CER") && !strstr(lid_table, "BLEU"),
          "eval --tasks lid: language ID's table and columns alone: %s", lid_table ? lid_table : mslam_last_error());
    free(asr_table), free(lid_table);
    mslam_model_free(a), mslam_model_free(b), mslam_model_free(all);
    free(german), free(asr), free(asr_model), free(lid), free(lid_model), free(straight);
}

/* --cache-encoder trains the decoder on F16 copies of the encoder outputs that the uncached run
 * computes afresh each step: with full context and no augmentation the two runs take the same
 * steps up to that rounding, far below how far the decoder moves. */
static void test_cache_encoder(const char *manifest) {
    char *init = str_printf("%s/straight/model.safetensors", fixture_dir());
    char *fresh = str_printf("%s/uncached", fixture_dir()), *cached = str_printf("%s/cached", fixture_dir());
    char *fresh_model = str_printf("%s/model.safetensors", fresh), *cached_model = str_printf("%s/model.safetensors", cached);
    const char *same[] = {"--task", "st", "--freeze-encoder", "--no-specaug", "--full-context", "1"};
    CHECK(train(manifest, fresh, same[0], same[1], same[2], same[3], same[4], same[5], "--init", init, "--audio-dir",
                fixture_dir(), NULL) == 0,
          "decoder-only training: %s", mslam_last_error());
    CHECK(train(manifest, cached, same[0], same[1], same[2], same[3], same[4], same[5], "--init", init, "--audio-dir",
                fixture_dir(), "--cache-encoder", NULL) == 0,
          "decoder-only training on cached encoder outputs: %s", mslam_last_error());
    mslam_model *a = NULL, *b = NULL, *start = NULL;
    CHECK(checkpoint_load(fresh_model, &a, NULL, NULL) == 0 && checkpoint_load(cached_model, &b, NULL, NULL) == 0 &&
              checkpoint_load(init, &start, NULL, NULL) == 0,
          "the models load");
    if (a && b && start) {
        /* as vectors (L2): the cache's F16 rounding can flip the sign of a parameter's near-zero
         * gradient, and AdamW's first steps move such a parameter by the whole learning rate
         * either way, so single parameters may differ by 2 lr; the decoder as a whole must not */
        double moved = 0, apart = 0, apart_max = 0;
        for (int i = 0; i < a->table.n; i++) {
            const mslam_param_entry *x = &a->table.entries[i], *y = entry_named(b, x->name), *z = entry_named(start, x->name);
            if (strncmp(x->name, "decoder", 7) || !y || !z || y->numel != x->numel || z->numel != x->numel) continue;
            for (size_t k = 0; k < x->numel; k++) {
                double u = a->block[x->offset + k], v = b->block[y->offset + k], w = start->block[z->offset + k];
                moved += (u - w) * (u - w);
                apart += (u - v) * (u - v);
                apart_max = fmax(apart_max, fabs(u - v));
            }
        }
        moved = sqrt(moved), apart = sqrt(apart);
        fprintf(stderr, "  cached vs uncached: decoder moved %.3g (L2), the runs differ by %.3g (L2; at most %.3g)\n",
                moved, apart, apart_max);
        CHECK(moved > 0 && apart < 0.05 * moved, "cached and uncached decoders agree (%.3g apart, moved %.3g)", apart,
              moved);
    }
    mslam_model_free(a), mslam_model_free(b), mslam_model_free(start);
    /* with text pairs as well (the text path runs each step, uncached): the same in two halves */
    char *mt_a = str_printf("%s/cached-mt-a", fixture_dir()), *mt_b = str_printf("%s/cached-mt-b", fixture_dir());
    CHECK(train(manifest, mt_a, same[0], same[1], same[2], same[3], "--init", init, "--audio-dir", fixture_dir(),
                "--cache-encoder", "--text-data", manifest, "--text-batch", "3", NULL) == 0 &&
              train(manifest, mt_b, same[0], same[1], same[2], same[3], "--init", init, "--audio-dir", fixture_dir(),
                    "--cache-encoder", "--text-data", manifest, "--text-batch", "3", "--stop-at", "4", NULL) == 0 &&
              train(manifest, mt_b, same[0], same[1], same[2], same[3], "--init", init, "--audio-dir", fixture_dir(),
                    "--cache-encoder", "--text-data", manifest, "--text-batch", "3", "--resume", NULL) == 0,
          "cached speech with text pairs: %s", mslam_last_error());
    char *mt_model_a = str_printf("%s/model.safetensors", mt_a), *mt_model_b = str_printf("%s/model.safetensors", mt_b);
    char *mt_log = str_printf("%s/train.jsonl", mt_a), *log_text = NULL;
    size_t log_size;
    CHECK(test_files_equal(mt_model_a, mt_model_b), "cached speech with text pairs: N straight == N/2 + resume + N/2");
    CHECK(read_file(mt_log, 1 << 20, &log_text, &log_size) == 0 && strstr(log_text, "\"mt\":"),
          "cached speech with text pairs: the log has the text translation loss");
    free(log_text);
    free(mt_a), free(mt_b), free(mt_model_a), free(mt_model_b), free(mt_log);
    char *alone = str_printf("%s/cached-alone", fixture_dir());
    CHECK(train(manifest, alone, "--task", "st", "--cache-encoder", NULL) != 0 &&
              strstr(mslam_last_error(), "--freeze-encoder"),
          "--cache-encoder without --freeze-encoder is an error naming it: %s", mslam_last_error());
    free(init), free(fresh), free(cached), free(fresh_model), free(cached_model), free(alone);
}

static void test_non_finite(const char *manifest) {
    char *out = str_printf("%s/nan", fixture_dir());
    /* a learning rate of 1e30 sends the parameters to 1e30 after one step: the next forward
     * overflows to inf and NaN */
    CHECK(train(manifest, out, "--lr", "1e30", "--warmup", "0", "--stop-at", "4", "--task", "asr", NULL) == 0,
          "training goes on through non-finite losses");
    char *ckpt = str_printf("%s/ckpt-00000004.safetensors", out), *log = str_printf("%s/train.jsonl", out);
    mslam_model *m = NULL;
    train_position pos;
    CHECK(checkpoint_load(ckpt, &m, &pos, NULL) == 0, "the checkpoint loads (every value finite): %s",
          mslam_last_error());
    CHECK(pos.skipped_steps >= 2, "non-finite steps skipped and counted: %ld", pos.skipped_steps);
    char *text = NULL;
    size_t n;
    CHECK(read_file(log, 1 << 20, &text, &n) == 0 && strstr(text, "\"skipped_steps\":3"), "the log reports them");
    free(text);
    /* steps skipped in a row, --max-skipped of them: the run stops with an error (it had gone on
     * to its end, the schedule spent and good checkpoints pruned, and exited 0), without a
     * checkpoint of them */
    char *stopped = str_printf("%s/nan-stopped", fixture_dir()), *at_3 = str_printf("%s/ckpt-00000003.safetensors", stopped);
    char *at_2 = str_printf("%s/ckpt-00000002.safetensors", stopped), *at_1 = str_printf("%s/ckpt-00000001.safetensors", stopped);
    CHECK(train(manifest, stopped, "--lr", "1e30", "--warmup", "0", "--stop-at", "6", "--task", "asr", "--max-skipped",
                "2", "--save-every", "1", NULL) != 0 &&
              strstr(mslam_last_error(), "steps 2 to 3 were all skipped") && strstr(mslam_last_error(), "--max-skipped 2") &&
              access(at_3, F_OK) != 0 && access(at_2, F_OK) != 0 && access(at_1, F_OK) == 0,
          "--max-skipped 2: %s (a checkpoint of step 1 alone)", mslam_last_error());
    free(stopped), free(at_3), free(at_2), free(at_1);
    /* resuming this ASR run for a task whose head it lacks: an error naming the task, before any step */
    CHECK(train(manifest, out, "--lr", "1e30", "--warmup", "0", "--task", "lid", "--resume", NULL) == 1 &&
              strstr(mslam_last_error(), "--task lid needs a LID head") && strstr(mslam_last_error(), "--init"),
          "resuming an ASR run as lid: \"%s\"", mslam_last_error());
    mslam_model_free(m);
    free(out), free(ckpt), free(log);
}

/* While a run writes into a folder, a second one there (--resume, or a fresh one before the
 * first checkpoint) is refused, naming the folder: both had run, each writing over the other's
 * checkpoints, log and model. */
struct second_run {
    const char *manifest, *out;
    int refused;
};
static void second_run_into(void *data) {
    struct second_run *s = data;
    /* (--stop-at: without the lock it would train on, beside the first) */
    s->refused = train(s->manifest, s->out, "--steps", "100000", "--resume", "--stop-at", "5", NULL) != 0 &&
                 strstr(mslam_last_error(), "another training run is writing into") &&
                 strstr(mslam_last_error(), s->out);
    if (!s->refused) printf("a second run into %s: %s\n", s->out, mslam_last_error());
}

static void test_signal(const char *trainer, const char *manifest) {
    char *out = str_printf("%s/signal", fixture_dir()), *log = str_printf("%s/train.jsonl", out);
    char *argv[96] = {(char *)trainer};
    int argc = train_args(argv, 1, manifest, out);
    argv[argc++] = (char *)"--steps"; /* later options win: long enough to be interrupted */
    argv[argc++] = (char *)"100000";
    argv[argc] = NULL;
    char *err = str_printf("%s/signal.err", fixture_dir()), *said = NULL;
    int saved = test_output_to(STDERR_FILENO, err); /* the trainer's, which it inherits */
    struct second_run second = {manifest, out, 0};
    int status = fixture_interrupt_after(argv, log, 2, SIGTERM, second_run_into, &second);
    test_output_restore(STDERR_FILENO, saved);
    CHECK(second.refused, "a second run into the folder of a run under way was not refused");
    CHECK(status >= 0, "the trainer ran until its log had 2 lines (%d)", status);
    CHECK(WIFEXITED(status) && WEXITSTATUS(status) == 0, "SIGTERM: clean exit (status 0x%x)", status);
    /* at once, before the step under way ends: a user who sees nothing presses Ctrl-C again */
    size_t said_n = 0;
    const char *notice = read_file(err, 1 << 20, &said, &said_n) == 0 ? strstr(said, "stopping: a checkpoint") : NULL;
    const char *stopped = notice ? strstr(notice, "stopped by signal") : NULL;
    CHECK(notice && stopped && !strstr(notice + 1, "stopping:"),
          "the signal is acknowledged once, before the stop: %s", said ? said : "");
    free(err), free(said);
    char *ckpt = checkpoint_latest(out);
    mslam_model *m = NULL;
    train_position pos = {0};
    int state = 0;
    CHECK(ckpt && checkpoint_load(ckpt, &m, &pos, &state) == 0 && state && pos.step >= 2,
          "a checkpoint at the step reached: %s", ckpt ? ckpt : "none");
    char stop[32];
    snprintf(stop, sizeof stop, "%ld", pos.step + 1);
    CHECK(train(manifest, out, "--steps", "100000", "--resume", "--stop-at", stop, NULL) == 0, "resumes");
    char *next = checkpoint_path(out, pos.step + 1);
    CHECK(access(next, F_OK) == 0, "one more step: %s", next);
    /* a closed terminal (SIGHUP) stops it as cleanly */
    int lines_before = fixture_count_lines(log);
    argv[argc++] = (char *)"--resume";
    argv[argc] = NULL;
    saved = test_output_to(STDERR_FILENO, "/dev/null");
    status = fixture_interrupt(argv, log, lines_before + 2, SIGHUP);
    test_output_restore(STDERR_FILENO, saved);
    char *after_hup = checkpoint_latest(out);
    CHECK(status >= 0 && WIFEXITED(status) && WEXITSTATUS(status) == 0 && after_hup && strcmp(after_hup, next) > 0,
          "SIGHUP: clean exit (status 0x%x) and a checkpoint past %s: %s", status, next, after_hup ? after_hup : "none");
    free(after_hup);
    mslam_model_free(m);
    free(out), free(log), free(ckpt), free(next);
}

/* Ctrl-C during eval: its outputs stay as they were, and their temporary files go. */
static void test_eval_interrupt(const char *trainer, const char *manifest) {
    char *model = str_printf("%s/exported.safetensors", fixture_dir());
    char *json = str_printf("%s/kept-eval.json", fixture_dir()), *json_tmp = str_printf("%s.tmp", json);
    char *hyps = str_printf("%s/kept-hyps.tsv", fixture_dir()), *hyps_tmp = str_printf("%s.tmp", hyps);
    write_file_atomic(json, "earlier\n", 8);
    char *argv[96] = {(char *)trainer, (char *)"eval", (char *)"--model", model, (char *)"--threads", (char *)"1",
                      (char *)"--json", json, (char *)"--hyps", hyps};
    int argc = 10;
    for (int i = 0; i < 40; i++) argv[argc++] = (char *)"--data", argv[argc++] = (char *)manifest; /* seconds of work */
    argv[argc] = NULL;
    /* Ctrl-C, and a closed terminal (the temporary files were left) */
    static const int signals[] = {SIGINT, SIGHUP};
    for (size_t i = 0; i < sizeof signals / sizeof *signals; i++) {
        int status = fixture_interrupt(argv, hyps_tmp, 50, signals[i]);
        char *text = NULL;
        size_t n;
        CHECK(status >= 0 && WIFSIGNALED(status) && WTERMSIG(status) == signals[i], "eval ended by signal %d (%d)",
              signals[i], status);
        CHECK(read_file(json, 64, &text, &n) == 0 && !strcmp(text, "earlier\n") && access(json_tmp, F_OK) != 0 &&
                  access(hyps_tmp, F_OK) != 0 && access(hyps, F_OK) != 0,
              "signal %d: the JSON as it was, no temporary files, no hypotheses file", signals[i]);
        free(text);
    }
    free(model), free(json), free(json_tmp), free(hyps), free(hyps_tmp);
}

static void test_eval_export(const char *trainer, const char *manifest) {
    char *ckpt = str_printf("%s/split/ckpt-%08d.safetensors", fixture_dir(), N_STEPS);
    char *model = str_printf("%s/exported.safetensors", fixture_dir());
    char *json = str_printf("%s/eval.json", fixture_dir());
    char *hyps = str_printf("%s/hyps.tsv", fixture_dir());
    char *ex[] = {(char *)"export", (char *)"--checkpoint", ckpt, (char *)"--out", model, NULL};
    CHECK(cmd_export(5, ex) == 0, "export");
    mslam_model *m = mslam_model_load(model, mslam_model_default_params());
    CHECK(m != NULL, "the exported file is a model: %s", mslam_last_error());
    /* info: a checkpoint with its position and options, the model it exports, as int8 */
    char *info = info_text(ckpt, 0), *with_options = info_text(ckpt, 1), *parameters = NULL;
    const char *line = info ? strstr(info, "parameters   ") : NULL; /* the same count in every file */
    if (line) parameters = strndup(line, strcspn(line, "\n") + 1);
    CHECK(info && strstr(info, "mslam training checkpoint") && strstr(info, "weights F32, with the optimizer's state") &&
              strstr(info, "position     step 8, ") && strstr(info, "options      recorded") && parameters &&
              strstr(info, "languages    de") && strstr(info, "translation decoder of 1 layer, reading the speech") &&
              strstr(info, "\n  data         24 usable rows of --data\n") && !strstr(info, "validation   pending"),
          "info on a checkpoint: %s", info ? info : mslam_last_error());
    CHECK(with_options && strstr(with_options, "\n    steps=8\n") && strstr(with_options, "\n    batch-size=4\n"),
          "info --options: %s", with_options ? with_options : mslam_last_error());
    free(info), free(with_options);
    char *int8 = str_printf("%s/exported-int8.safetensors", fixture_dir());
    char *ex8[] = {(char *)"export", (char *)"--checkpoint", ckpt, (char *)"--out", int8, (char *)"--dtype",
                   (char *)"int8", NULL};
    CHECK(cmd_export(7, ex8) == 0, "export --dtype int8: %s", mslam_last_error());
    info = info_text(model, 0);
    with_options = info_text(int8, 0);
    CHECK(info && strstr(info, "mslam model (") && strstr(info, "; weights F32)") && !strstr(info, "position") &&
              !strstr(info, "options"),
          "info on the exported model: %s", info ? info : mslam_last_error());
    CHECK(with_options && strstr(with_options, "weights F16 and I8 (with a scale per row)") && parameters &&
              strstr(with_options, parameters),
          "info on the int8 model: %s", with_options ? with_options : mslam_last_error());
    free(info), free(with_options), free(int8), free(parameters);
    CHECK(info_text(manifest, 0) == NULL && strstr(mslam_last_error(), manifest),
          "info refuses a manifest naming it: %s", mslam_last_error());
    /* a run's folder where a file is read: each command names the files in it to give */
    char *run = path_dirname(ckpt), *run_model = path_join(run, "model.safetensors");
    char *folder_export[] = {(char *)"export", (char *)"--checkpoint", run, (char *)"--out", model, NULL};
    char *folder_eval[] = {(char *)"eval", (char *)"--model", run, (char *)"--data", (char *)manifest, NULL};
    CHECK(info_text(run, 0) == NULL && strstr(mslam_last_error(), "is a training run's folder") &&
              strstr(mslam_last_error(), run_model) && strstr(mslam_last_error(), "/ckpt-"),
          "info on a run's folder names its model and latest checkpoint: %s", mslam_last_error());
    CHECK(cmd_eval(5, folder_eval) == 1 && strstr(mslam_last_error(), "--model ") &&
              strstr(mslam_last_error(), run_model) && strstr(mslam_last_error(), "/ckpt-"),
          "eval --model on a run's folder names its model and latest checkpoint: %s", mslam_last_error());
    CHECK(cmd_export(5, folder_export) == 1 && strstr(mslam_last_error(), "--checkpoint ") &&
              strstr(mslam_last_error(), ".safetensors (its latest checkpoint)") &&
              !strstr(mslam_last_error(), "(the run's model)"),
          "export --checkpoint on a run's folder names its latest checkpoint: %s", mslam_last_error());
    CHECK(info_text(fixture_dir(), 0) == NULL && strstr(mslam_last_error(), "is a folder, not a file"),
          "info on another folder says it is one: %s", mslam_last_error());
    free(run), free(run_model);
    char *missing = str_printf("%s/no-such.safetensors", fixture_dir());
    char *info_args[] = {(char *)"info", model, missing, NULL};
    CHECK(cmd_info(3, info_args) == 1, "info on a model and a missing file: status 1");
    CHECK(cmd_info(1, info_args) == 2, "info without a file: a usage error");
    free(missing);
    mslam_model_free(m);
    char *ev[] = {(char *)"eval", (char *)"--model", model, (char *)"--data", (char *)manifest, (char *)"--json", json,
                  (char *)"--ctc-beam", (char *)"4", (char *)"--st-beam", (char *)"2", (char *)"--max-len",
                  (char *)"20", (char *)"--threads", (char *)"2", (char *)"--hyps", hyps, NULL};
    CHECK(cmd_eval(17, ev) == 0, "eval");
    char *text = NULL;
    size_t n;
    CHECK(read_file(json, 1 << 20, &text, &n) == 0 && strstr(text, "\"offline\"") && strstr(text, "\"streaming\"") &&
              strstr(text, "\"cer\"") && strstr(text, "\"bleu\"") && strstr(text, "\"confusion\""),
          "eval JSON has both modes, CER, BLEU and the LID confusion table");
    /* the fixture's test split: 3 languages x 3 utterances, voices v0 v1 v0 */
    struct json_object *root = text ? json_tokener_parse(text) : NULL, *offline, *speakers, *v0, *v1, *x;
    int found = root && json_object_object_get_ex(root, "offline", &offline) &&
                json_object_object_get_ex(offline, "speakers", &speakers) &&
                json_object_object_get_ex(speakers, "v0", &v0) && json_object_object_get_ex(speakers, "v1", &v1);
    int v0_asr = found && json_object_object_get_ex(v0, "asr_utterances", &x) ? json_object_get_int(x) : -1;
    double v1_beam = found && json_object_object_get_ex(v1, "cer_beam", &x) ? json_object_get_double(x) : -1;
    CHECK(v1_beam >= 0, "eval JSON has each voice's prefix-beam CER (v1: %g)", v1_beam);
    int v1_lid = found && json_object_object_get_ex(v1, "lid_utterances", &x) ? json_object_get_int(x) : -1;
    CHECK(found && json_object_object_length(speakers) == 2 && v0_asr == 6 && v1_lid == 3,
          "eval JSON scores each voice (v0: %d transcripts, v1: %d LID decisions)", v0_asr, v1_lid);
    json_object_put(root);
    free(text);
    /* --max-items 1 scores one voice: the other is not listed with no utterances */
    char *ev_one[] = {(char *)"eval", (char *)"--model", model, (char *)"--data", (char *)manifest, (char *)"--json", json,
                      (char *)"--modes", (char *)"offline", (char *)"--tasks", (char *)"asr", (char *)"--max-items",
                      (char *)"1", NULL};
    text = NULL;
    root = NULL;
    CHECK(cmd_eval(13, ev_one) == 0 && read_file(json, 1 << 20, &text, &n) == 0 && (root = json_tokener_parse(text)) &&
              json_object_object_get_ex(root, "offline", &offline) &&
              json_object_object_get_ex(offline, "speakers", &speakers) && json_object_object_length(speakers) == 1,
          "eval --max-items 1 lists the one voice scored: %s", text ? text : mslam_last_error());
    json_object_put(root);
    free(text);
    /* a row whose audio is missing is left out with a warning, and counted */
    char *with_missing = str_printf("%s/missing-audio.tsv", fixture_dir()), *rows_text = NULL;
    FILE *f = read_file(manifest, 1 << 20, &rows_text, &n) == 0 ? fopen(with_missing, "w") : NULL;
    if (f) {
        fprintf(f, "%sgone.flac\tde\thallo\thello\t\tv0\ttest\n", rows_text);
        fclose(f);
    }
    free(rows_text);
    char *ev_missing[] = {(char *)"eval", (char *)"--model", model, (char *)"--data", with_missing, (char *)"--json", json,
                          (char *)"--modes", (char *)"offline", (char *)"--tasks", (char *)"asr", NULL};
    text = NULL;
    root = NULL;
    CHECK(f && cmd_eval(11, ev_missing) == 0 && read_file(json, 1 << 20, &text, &n) == 0 &&
              (root = json_tokener_parse(text)) && json_object_object_get_ex(root, "bad_audio", &x) &&
              json_object_get_int(x) == 1 && json_object_object_get_ex(root, "utterances", &x) &&
              json_object_get_int(x) == 9,
          "eval counts the row with missing audio apart from the 9 it scores: %s", text ? text : "(no JSON)");
    json_object_put(root);
    free(text);
    /* rows of languages the model lacks are left out of LID, counted and named */
    rows_text = NULL;
    f = read_file(manifest, 1 << 20, &rows_text, &n) == 0 ? fopen(with_missing, "w") : NULL;
    const char *first = rows_text ? strstr(rows_text, "\ttest\n") : NULL; /* the end of a test row, */
    while (first && first > rows_text && first[-1] != '\n') first--;   /* then its start, */
    if (first) first--;                                                 /* as after its newline */
    const char *lang_at = first ? strchr(first + 1, '\t') : NULL, *lang_end = lang_at ? strchr(lang_at + 1, '\t') : NULL;
    const char *row_end = lang_end ? strchr(lang_end, '\n') : NULL;
    if (f && row_end) {
        fputs(rows_text, f);
        const char *other[] = {"xx", "yy", "xx"};
        for (int i = 0; i < 3; i++)
            fprintf(f, "%.*s\t%s%.*s\n", (int)(lang_at - first - 1), first + 1, other[i], (int)(row_end - lang_end),
                    lang_end);
    }
    if (f) fclose(f);
    free(rows_text);
    char *ev_unknown[] = {(char *)"eval", (char *)"--model", model, (char *)"--data", with_missing, (char *)"--json",
                          json, (char *)"--modes", (char *)"offline", (char *)"--tasks", (char *)"lid", NULL};
    text = NULL;
    root = NULL;
    struct json_object *unknown = NULL;
    CHECK(row_end && cmd_eval(11, ev_unknown) == 0 && read_file(json, 1 << 20, &text, &n) == 0 &&
              (root = json_tokener_parse(text)) && json_object_object_get_ex(root, "lid_unknown_language", &x) &&
              json_object_get_int(x) == 3 && json_object_object_get_ex(root, "lid_unknown_languages", &unknown) &&
              json_object_array_length(unknown) == 2 &&
              !strcmp(json_object_get_string(json_object_array_get_idx(unknown, 0)), "xx") &&
              json_object_object_get_ex(root, "utterances", &x) && json_object_get_int(x) == 12,
          "eval counts and names the 3 rows of languages the model lacks: %s", text ? text : "(no JSON)");
    json_object_put(root);
    free(text);
    free(with_missing);
    /* several --data: the manifest cut in two by language scores as the whole, and trains */
    char *part_a = str_printf("%s/part-de.tsv", fixture_dir()), *part_b = str_printf("%s/part-rest.tsv", fixture_dir());
    rows_text = NULL;
    FILE *fa = NULL, *fb = NULL;
    if (read_file(manifest, 1 << 20, &rows_text, &n) == 0 && (fa = fopen(part_a, "w")) && (fb = fopen(part_b, "w")))
        for (char *line = rows_text, *end; *line; line = end + 1) {
            end = strchr(line, '\n');
            if (!end) break;
            int header = line == rows_text, de = !strncmp(line, "de_", 3);
            if (header || de) fwrite(line, 1, (size_t)(end - line + 1), fa);
            if (header || !de) fwrite(line, 1, (size_t)(end - line + 1), fb);
        }
    if (fa) fclose(fa);
    if (fb) fclose(fb);
    free(rows_text);
    char *json_parts = str_printf("%s/eval-parts.json", fixture_dir());
    char *ev_whole[] = {(char *)"eval", (char *)"--model", model, (char *)"--data", (char *)manifest, (char *)"--json",
                        json, (char *)"--modes", (char *)"offline", (char *)"--tasks", (char *)"asr,lid", NULL};
    char *ev_parts[] = {(char *)"eval", (char *)"--model", model, (char *)"--data", part_a, (char *)"--data", part_b,
                        (char *)"--json", json_parts, (char *)"--modes", (char *)"offline", (char *)"--tasks",
                        (char *)"asr,lid", NULL};
    char *whole_text = NULL, *parts_text = NULL;
    struct json_object *whole = NULL, *parts = NULL, *w_off, *p_off, *w_cer, *p_cer;
    CHECK(cmd_eval(11, ev_whole) == 0 && cmd_eval(13, ev_parts) == 0 &&
              read_file(json, 1 << 20, &whole_text, &n) == 0 && read_file(json_parts, 1 << 20, &parts_text, &n) == 0 &&
              (whole = json_tokener_parse(whole_text)) && (parts = json_tokener_parse(parts_text)) &&
              json_object_object_get_ex(whole, "offline", &w_off) && json_object_object_get_ex(parts, "offline", &p_off) &&
              json_object_object_get_ex(w_off, "mean_cer", &w_cer) && json_object_object_get_ex(p_off, "mean_cer", &p_cer) &&
              json_object_get_double(w_cer) == json_object_get_double(p_cer) &&
              json_object_object_get_ex(parts, "utterances", &x) && json_object_get_int(x) == 9,
          "eval --data A --data B scores as the manifest they were cut from");
    json_object_put(whole), json_object_put(parts);
    free(whole_text), free(parts_text), free(json_parts);
    char *two_out = str_printf("%s/two-manifests", fixture_dir());
    char *tr[] = {(char *)"train", (char *)"--data", part_a, (char *)"--data", part_b, (char *)"--out", two_out,
                  (char *)"--task", (char *)"asr", (char *)"--steps", (char *)"1", (char *)"--d-model", (char *)"32",
                  (char *)"--heads", (char *)"2", (char *)"--ff", (char *)"64", (char *)"--kernel", (char *)"5",
                  (char *)"--sub-channels", (char *)"8", (char *)"--speech-layers", (char *)"1", (char *)"--shared-layers",
                  (char *)"1", (char *)"--stats-items", (char *)"4", NULL};
    char *two_ckpt = str_printf("%s/ckpt-00000001.safetensors", two_out), *two_record = NULL;
    mslam_model *two = NULL;
    CHECK(cmd_train(27, tr) == 0 && checkpoint_load(two_ckpt, &two, NULL, NULL) == 0 && two->cfg.n_langs == 3 &&
              (two_record = checkpoint_options(two_ckpt)) && strstr(two_record, part_a) && strstr(two_record, ";"),
          "train --data A --data B learns the languages of both: %s", two_record ? two_record : mslam_last_error());
    mslam_model_free(two);
    free(two_out), free(two_ckpt), free(two_record), free(part_a), free(part_b);
    /* --json - writes nothing but the JSON on standard output (the table goes to standard error) */
    char *command = str_printf("'%s' eval --model '%s' --data '%s' --modes offline --tasks lid --json - 2>/dev/null",
                               trainer, model, manifest);
    FILE *p = popen(command, "r");
    char out[1 << 16];
    size_t got = p ? fread(out, 1, sizeof out - 1, p) : 0;
    out[got] = '\0';
    int status = p ? pclose(p) : -1;
    root = json_tokener_parse(out);
    CHECK(status == 0 && root && json_object_object_get_ex(root, "offline", &x), "eval --json - gave: %s", out);
    json_object_put(root);
    free(command);
    /* --tasks and --modes take their words only */
    char *typo[] = {(char *)"eval", (char *)"--model", model, (char *)"--data", (char *)manifest, (char *)"--tasks",
                    (char *)"ASR", NULL};
    CHECK(cmd_eval(7, typo) == 2, "--tasks ASR is a usage error");
    typo[5] = (char *)"--modes", typo[6] = (char *)"offline,stream";
    CHECK(cmd_eval(7, typo) == 2, "--modes offline,stream is a usage error");
    typo[6] = (char *)"";
    CHECK(cmd_eval(7, typo) == 2, "an empty --modes is a usage error");
    char *spaced[] = {(char *)"eval", (char *)"--model", model, (char *)"--data", (char *)manifest, (char *)"--tasks",
                      (char *)"asr, lid", (char *)"--modes", (char *)" offline ", NULL};
    CHECK(cmd_eval(9, spaced) == 0, "--tasks 'asr, lid' --modes ' offline ': %s", mslam_last_error());
    /* the decoding line names what the tasks scored decode: language ID alone no CTC search */
    char *lid_only[] = {(char *)"eval", (char *)"--model", model, (char *)"--data", (char *)manifest, (char *)"--tasks",
                        (char *)"lid", (char *)"--modes", (char *)"offline", NULL};
    char *table = eval_table(9, lid_only);
    CHECK(table && strstr(table, "LID accuracy") && !strstr(table, "decoding") && !strstr(table, "CTC"),
          "eval --tasks lid prints no decoding line: %s", table ? table : mslam_last_error());
    free(table);
    lid_only[6] = (char *)"lid,st";
    table = eval_table(9, lid_only);
    CHECK(table && strstr(table, "\ndecoding: translation beam 4,") && !strstr(table, "CTC"),
          "eval --tasks lid,st names the translation's search alone: %s", table ? table : mslam_last_error());
    free(table);
    lid_only[6] = (char *)"asr";
    table = eval_table(9, lid_only);
    CHECK(table && strstr(table, "\ndecoding: CTC prefix beam 8\n"), "eval --tasks asr names the CTC search: %s",
          table ? table : mslam_last_error());
    free(table);
    /* 9 test utterances x 2 modes: asr, asr-beam and lid rows, st rows for the 6 translated */
    text = NULL;
    int rows = 0, asr_rows = 0;
    if (read_file(hyps, 1 << 20, &text, &n) == 0)
        for (char *line = strchr(text, '\n'); line && line[1]; line = strchr(line + 1, '\n'))
            rows++, asr_rows += !strncmp(line + 1, "offline\tasr\t", 12);
    CHECK(text && !strncmp(text, "mode\ttask\tpath", 14) && rows == 2 * (9 * 3 + 6) && asr_rows == 9,
          "--hyps writes a header and one row per hypothesis (%d rows, %d offline asr)", rows, asr_rows);
    free(text);
    free(hyps);
    /* --init: a new run (another task) starts from the exported parameters */
    char *init_out = str_printf("%s/init", fixture_dir());
    CHECK(train(manifest, init_out, "--init", model, "--task", "lid", "--lr", "0", "--stop-at", "1", NULL) == 0,
          "--init from a model");
    char *init_ckpt = str_printf("%s/ckpt-00000001.safetensors", init_out);
    mslam_model *from = mslam_model_load(model, mslam_model_default_params()), *to = NULL;
    CHECK(checkpoint_load(init_ckpt, &to, NULL, NULL) == 0 && from && to &&
              to->cfg.vocab_size == from->cfg.vocab_size && to->cfg.lid_head &&
              !memcmp(to->p.shared[0].ffn1_w1, from->p.shared[0].ffn1_w1,
                      (size_t)from->cfg.d_ff * from->cfg.d_model * sizeof(float)),
          "the encoder, vocabulary and heads come from the --init model");
    mslam_model_free(from), mslam_model_free(to);
    free(init_out), free(init_ckpt);
    free(ckpt), free(model), free(json);
}

/* Outputs never replace inputs, a failed eval leaves its outputs as they were, and bad option
 * values are usage errors (exit status 2) that name the option. */
static void test_refusals(const char *manifest) {
    char *model = str_printf("%s/exported.safetensors", fixture_dir());
    char *hyps = str_printf("%s/kept.tsv", fixture_dir()), *hyps_tmp = str_printf("%s.tmp", hyps);
    char *nothing = str_printf("%s/no-such-model.safetensors", fixture_dir());
    char *out = str_printf("%s/refused", fixture_dir());
    char *manifest_before = NULL, *text = NULL;
    size_t n;
    write_file_atomic(hyps, "earlier\n", 8);
    read_file(manifest, 1 << 20, &manifest_before, &n);
    /* a wrong --audio-dir: the statistics say where they looked */
    char *nowhere = str_printf("%s/no-audio-here", fixture_dir()), *no_audio = str_printf("%s/no-audio", fixture_dir());
    CHECK(train(manifest, no_audio, "--audio-dir", nowhere, NULL) != 0 && strstr(mslam_last_error(), "is --audio-dir right?") &&
              strstr(mslam_last_error(), "no-audio-here/") && strstr(mslam_last_error(), "No such file"),
          "a wrong --audio-dir: %s", mslam_last_error());
    /* with --init (no statistics measured): the same question once no file is found */
    CHECK(access(model, R_OK) == 0 && train(manifest, no_audio, "--init", model, "--audio-dir", nowhere, NULL) != 0 &&
              strstr(mslam_last_error(), "could not be read") && strstr(mslam_last_error(), "is --audio-dir right?"),
          "a wrong --audio-dir with --init: %s", mslam_last_error());
    free(nowhere), free(no_audio);
    /* an old run's folder, its checkpoints deleted: a fresh run there is refused, the models kept
     * (model.safetensors had been replaced beside the old best.safetensors) */
    char *old_run = str_printf("%s/old-run", fixture_dir()), *old_model = str_printf("%s/model.safetensors", old_run);
    CHECK(mkdir_p(old_run) == 0 && write_file_atomic(old_model, "old\n", 4) == 0, "cannot write %s", old_model);
    CHECK(train(manifest, old_run, NULL) != 0 && strstr(mslam_last_error(), "holds another run's model.safetensors") &&
              read_file(old_model, 64, &text, &n) == 0 && !strcmp(text, "old\n"),
          "a fresh run into an old run's folder: %s", mslam_last_error());
    free(text), text = NULL;
    free(old_run), free(old_model);
    /* an empty --out (an unset variable) */
    CHECK(train(manifest, "", NULL) == 2 && strstr(mslam_last_error(), "--out is empty"), "--out '': %s",
          mslam_last_error());
    char *ev[] = {(char *)"eval", (char *)"--model", nothing, (char *)"--data", (char *)manifest, (char *)"--hyps",
                  hyps, NULL};
    CHECK(cmd_eval(7, ev) == 1 && read_file(hyps, 64, &text, &n) == 0 && !strcmp(text, "earlier\n") &&
              access(hyps_tmp, F_OK) != 0,
          "an eval that fails leaves --hyps as it was");
    free(text);
    ev[2] = model, ev[5] = (char *)"--json", ev[6] = (char *)manifest;
    CHECK(cmd_eval(7, ev) == 2 && strstr(mslam_last_error(), "--json") && strstr(mslam_last_error(), "--data"),
          "eval --json onto its --data: %s", mslam_last_error());
    ev[5] = (char *)"--hyps", ev[6] = model;
    CHECK(cmd_eval(7, ev) == 2 && strstr(mslam_last_error(), "--model"), "eval --hyps onto its --model: %s",
          mslam_last_error());
    char *both[] = {(char *)"eval", (char *)"--model", model, (char *)"--data", (char *)manifest, (char *)"--json",
                    hyps, (char *)"--hyps", hyps, NULL};
    CHECK(cmd_eval(9, both) == 2, "eval --json and --hyps onto one file");
    char *dotted = str_printf("%s/./kept.tsv", fixture_dir());
    both[8] = dotted;
    text = NULL;
    CHECK(cmd_eval(9, both) == 2 && read_file(hyps, 64, &text, &n) == 0 && !strcmp(text, "earlier\n"),
          "eval --json and --hyps onto one file spelled two ways");
    free(text), free(dotted);
    /* nor one output the other's temporary file (FILE.tmp), which the other's rename replaces, nor
     * an input, which opening it empties */
    char *temp_clash[] = {(char *)"eval", (char *)"--model", model, (char *)"--data", (char *)manifest,
                          (char *)"--json", hyps_tmp, (char *)"--hyps", hyps, NULL};
    for (int swapped = 0; swapped < 2; swapped++) {
        temp_clash[5] = (char *)(swapped ? "--hyps" : "--json");
        temp_clash[7] = (char *)(swapped ? "--json" : "--hyps");
        text = NULL;
        CHECK(cmd_eval(9, temp_clash) == 2 && strstr(mslam_last_error(), "--json") &&
                  strstr(mslam_last_error(), "--hyps") && strstr(mslam_last_error(), "written through") &&
                  read_file(hyps, 64, &text, &n) == 0 && !strcmp(text, "earlier\n") && access(hyps_tmp, F_OK) != 0,
              "eval %s FILE.tmp %s FILE: %s", temp_clash[5], temp_clash[7], mslam_last_error());
        free(text);
    }
    char *rows_tmp = str_printf("%s/rows.tsv.tmp", fixture_dir()), *rows = str_printf("%s/rows.tsv", fixture_dir());
    char *temp_input[] = {(char *)"eval", (char *)"--model", model, (char *)"--data", rows_tmp, (char *)"--hyps", rows,
                          NULL};
    text = NULL;
    CHECK(write_file_atomic(rows_tmp, manifest_before, strlen(manifest_before)) == 0 && cmd_eval(7, temp_input) == 2 &&
              strstr(mslam_last_error(), "--hyps") && strstr(mslam_last_error(), "--data") &&
              read_file(rows_tmp, 1 << 20, &text, &n) == 0 && !strcmp(text, manifest_before),
          "eval --data FILE.tmp --hyps FILE: %s", mslam_last_error());
    free(text), free(rows_tmp), free(rows);
    char *memory_out[] = {(char *)"eval", (char *)"--model", model, (char *)"--data", (char *)manifest,
                          (char *)"--translation-memory", hyps, (char *)"--json", hyps, NULL};
    CHECK(cmd_eval(9, memory_out) == 2 && strstr(mslam_last_error(), "--translation-memory"),
          "eval --json onto its --translation-memory (without --lm): %s", mslam_last_error());
    /* through a symbolic link the file it names is replaced, and the link stays */
    char *target = str_printf("%s/target.json", fixture_dir()), *link = str_printf("%s/link.json", fixture_dir());
    struct stat st;
    text = NULL;
    char *to_link[] = {(char *)"eval", (char *)"--model", model, (char *)"--data", (char *)manifest, (char *)"--tasks",
                       (char *)"lid", (char *)"--modes", (char *)"offline", (char *)"--json", link, NULL};
    CHECK(write_file_atomic(target, "{}", 2) == 0 && symlink("target.json", link) == 0 && cmd_eval(11, to_link) == 0 &&
              lstat(link, &st) == 0 && S_ISLNK(st.st_mode) && read_file(target, 1 << 20, &text, &n) == 0 &&
              strstr(text, "\"utterances\""),
          "eval --json through a symbolic link writes the file it names");
    free(text), free(target), free(link);
    char *ex[] = {(char *)"export", (char *)"--checkpoint", model, (char *)"--out", model, NULL};
    CHECK(cmd_export(5, ex) == 2 && strstr(mslam_last_error(), "--checkpoint"), "export --out onto its --checkpoint");
    char *lm[] = {(char *)"lm", (char *)"--model", model, (char *)"--text", (char *)manifest, (char *)"--out",
                  (char *)manifest, NULL};
    CHECK(cmd_lm(7, lm) == 2 && strstr(mslam_last_error(), "--text"), "lm --out onto its --text");
    lm[6] = hyps;
    char *lm_order[] = {lm[0], lm[1], lm[2], lm[3], lm[4], lm[5], lm[6], (char *)"--order", (char *)"17", NULL};
    CHECK(cmd_lm(9, lm_order) == 2, "lm --order 17");
    char *tm[] = {(char *)"tm", (char *)"--text", (char *)manifest, (char *)"--out", (char *)manifest, NULL};
    CHECK(cmd_tm(5, tm) == 2, "tm --out onto its --text");
    /* empty outputs (an unset variable, "out=" in a key file) are refused before any work (they
     * failed after it), as is --hyps - (a file named "-" was written) */
    tm[4] = (char *)"";
    CHECK(cmd_tm(5, tm) == 2 && strstr(mslam_last_error(), "--out is empty"), "tm --out '': %s", mslam_last_error());
    char *empty_json[] = {(char *)"eval", (char *)"--model", model, (char *)"--data", (char *)manifest,
                          (char *)"--json", (char *)"", NULL};
    CHECK(cmd_eval(7, empty_json) == 2 && strstr(mslam_last_error(), "--json is empty"), "eval --json '': %s",
          mslam_last_error());
    empty_json[5] = (char *)"--hyps", empty_json[6] = (char *)"-";
    CHECK(cmd_eval(7, empty_json) == 2 && access("-", F_OK) != 0, "eval --hyps - is not a usage error");
    /* one manifest or checkpoint named twice counts twice, which is rarely meant: warned of (here
     * the corpus folder and its manifest.tsv) */
    struct strlist warnings = {0};
    char *data_twice[] = {(char *)"eval", (char *)"--model", model, (char *)"--data", (char *)manifest, (char *)"--data",
                          (char *)fixture_dir(), (char *)"--tasks", (char *)"lid", (char *)"--modes", (char *)"offline",
                          NULL};
    mslam_log_set(fixture_collect_warnings, &warnings);
    int rc_twice = cmd_eval(11, data_twice);
    mslam_log_set(NULL, NULL);
    CHECK(rc_twice == 0 && fixture_warned_of(&warnings, "are one file: its utterances are scored once more", ""),
          "eval --data DIR/manifest.tsv --data DIR: rc %d, %s", rc_twice, warnings.n ? warnings.items[0] : "no warning");
    strlist_free(&warnings);
    char *twice_out = str_printf("%s/twice.safetensors", fixture_dir());
    char *export_twice[] = {(char *)"export", (char *)"--checkpoint", model, (char *)"--checkpoint", model, (char *)"--out",
                            twice_out, NULL};
    mslam_log_set(fixture_collect_warnings, &warnings);
    rc_twice = cmd_export(7, export_twice);
    mslam_log_set(NULL, NULL);
    CHECK(rc_twice == 0 && fixture_warned_of(&warnings, "it weighs once more each time in the mean", ""),
          "export --checkpoint A --checkpoint A: rc %d, %s", rc_twice, warnings.n ? warnings.items[0] : "no warning");
    strlist_free(&warnings);
    unlink(twice_out);
    free(twice_out);
    /* a weight beyond a float's range is named as given (it reached the check as inf) */
    empty_json[5] = (char *)"--lm-weight", empty_json[6] = (char *)"1e300";
    CHECK(cmd_eval(7, empty_json) == 2 && strstr(mslam_last_error(), "--lm-weight 1e+300 is out of range"),
          "eval --lm-weight 1e300: %s", mslam_last_error());
    /* a key file's lists at semicolons (tasks=lid;asr), and the key file as --json: refused, kept */
    char *conf = str_printf("%s/eval.conf", fixture_dir()), *conf_json = str_printf("%s/eval-conf.json", fixture_dir());
    write_file_atomic(conf, "[eval]\ntasks=lid;asr\nmodes=offline\n", 34);
    char *by_conf[] = {(char *)"eval", (char *)"--model", model, (char *)"--data", (char *)manifest, (char *)"--config",
                       conf, (char *)"--json", conf_json, NULL};
    text = NULL;
    CHECK(cmd_eval(9, by_conf) == 0 && read_file(conf_json, 1 << 20, &text, &n) == 0 && strstr(text, "\"lid\"") &&
              strstr(text, "\"cer\""),
          "eval with tasks=lid;asr from a key file: %s", mslam_last_error());
    free(text), text = NULL;
    by_conf[8] = conf;
    CHECK(cmd_eval(9, by_conf) == 2 && strstr(mslam_last_error(), "is the --config key file") &&
              read_file(conf, 64, &text, &n) == 0 && !strncmp(text, "[eval]", 6),
          "eval --json the --config file: %s", mslam_last_error());
    free(text), text = NULL;
    free(conf), free(conf_json);
    /* a model given as --data: not a manifest; a LID clip shorter than one encoder frame */
    char *binary_data[] = {(char *)"eval", (char *)"--model", model, (char *)"--data", model, NULL};
    CHECK(cmd_eval(5, binary_data) == 1 && strstr(mslam_last_error(), "is not a text manifest"),
          "eval --data MODEL: %s", mslam_last_error());
    char *short_clip[] = {(char *)"eval", (char *)"--model", model, (char *)"--data", (char *)manifest,
                          (char *)"--lid-seconds", (char *)"0.01", NULL};
    CHECK(cmd_eval(7, short_clip) == 2 && strstr(mslam_last_error(), "--lid-seconds"), "eval --lid-seconds 0.01: %s",
          mslam_last_error());
    /* the corpus folder for its manifest: the manifest is what it reads (the outputs had replaced it) */
    char *folder = (char *)fixture_dir();
    ev[2] = model, ev[4] = folder, ev[5] = (char *)"--json", ev[6] = (char *)manifest;
    CHECK(cmd_eval(7, ev) == 2 && strstr(mslam_last_error(), "--data"), "eval --json onto its --data folder's manifest: %s",
          mslam_last_error());
    ev[5] = (char *)"--hyps";
    CHECK(cmd_eval(7, ev) == 2, "eval --hyps onto its --data folder's manifest");
    lm[4] = folder, lm[6] = (char *)manifest;
    CHECK(cmd_lm(7, lm) == 2 && strstr(mslam_last_error(), "--text"), "lm --out onto its --text folder's manifest");
    tm[2] = folder;
    CHECK(cmd_tm(5, tm) == 2, "tm --out onto its --text folder's manifest");
    CHECK(read_file(manifest, 1 << 20, &text, &n) == 0 && manifest_before && !strcmp(text, manifest_before),
          "the manifest is as it was");
    free(text);
    char *corpus_out = str_printf("%s/refused-corpus", fixture_dir());
    char *corpus[] = {(char *)"corpus", (char *)"--rate", (char *)"300:100", (char *)"--out", corpus_out, NULL};
    CHECK(corpus_main(5, corpus) == 2 && strstr(mslam_last_error(), "--rate") && access(corpus_out, F_OK) != 0,
          "corpus --rate 300:100: a usage error, nothing written (%s)", mslam_last_error());
    free(corpus_out);
    /* each option that is out of range, alone */
    static const char *const bad_eval[][2] = {{"--left-chunks", "-2"}, {"--split", "valid"}, {"--ctc-beam", "0"},
                                              {"--length-penalty", "nan"}, {"--chunk", "0"}, {"--max-len", "-1"}};
    for (size_t i = 0; i < sizeof bad_eval / sizeof bad_eval[0]; i++) {
        char *bad[] = {(char *)"eval", (char *)"--model", model, (char *)"--data", (char *)manifest,
                       (char *)bad_eval[i][0], (char *)bad_eval[i][1], NULL};
        CHECK(cmd_eval(7, bad) == 2, "eval %s %s is a usage error", bad_eval[i][0], bad_eval[i][1]);
    }
    static const char *const bad_train[][2] = {{"--lr", "nan"}, {"--label-smoothing", "1"}, {"--beta2", "1.5"},
                                               {"--full-context", "2"}, {"--warmup", "-5"}, {"--lr", "-1"},
                                               {"--left-chunks-max", "-2"}, {"--split", "valid"},
                                               {"--valid-split", "valid"}, {"--layout", "bogus"}};
    for (size_t i = 0; i < sizeof bad_train / sizeof bad_train[0]; i++)
        CHECK(train(manifest, out, bad_train[i][0], bad_train[i][1], NULL) == 2 &&
                  strstr(mslam_last_error(), bad_train[i][0]) && access(out, F_OK) != 0,
              "train %s %s: a usage error naming it, nothing written (%s)", bad_train[i][0], bad_train[i][1],
              mslam_last_error());
    /* the same naming the value, for the model's options (the library's rules, its config's field
     * names: --d-model 32 is common's), one augmentation option at a time, and the numbers where 0
     * means something (none, all, the default) and a negative one nothing */
    static const char *const bad_named[][3] = {{"--heads", "3", "--d-model 32"},
                                               {"--kernel", "4", "odd"},
                                               {"--d-model", "31", "--heads 2"},
                                               {"--speech-layers", "99", "0..64"},
                                               {"--eq-points", "1", "2..64"},
                                               {"--eq-prob", "2", "[0, 1]"},
                                               {"--warp", "1", "[0, 1)"},
                                               {"--seed", "-5", "0 or more"},
                                               {"--threads", "-1", "0 (cores"},
                                               {"--valid-every", "-1", "0 (never)"},
                                               {"--valid-items", "-1", "0 (all"}};
    for (size_t i = 0; i < sizeof bad_named / sizeof bad_named[0]; i++) {
        char *named = str_printf("%s %s", bad_named[i][0], bad_named[i][1]);
        CHECK(train(manifest, out, bad_named[i][0], bad_named[i][1], NULL) == 2 &&
                  error_mentions(named, bad_named[i][2]) &&
                  !strstr(mslam_last_error(), "config:") && !strstr(mslam_last_error(), "--warp-prob") &&
                  access(out, F_OK) != 0,
              "train %s: a usage error naming it and its value, nothing written (%s)", named, mslam_last_error());
        free(named);
    }
    /* every loss the task trains weighted 0: nothing would learn */
    CHECK(train(manifest, out, "--task", "asr", "--ctc-weight", "0", NULL) == 2 &&
              error_mentions("--task asr", "--ctc-weight 0") && access(out, F_OK) != 0,
          "train --task asr --ctc-weight 0: %s", mslam_last_error());
    char *text_only = str_printf("%s/text-only", fixture_dir());
    CHECK(train(manifest, text_only, "--task", "st", "--st-weight", "0", "--text-data", manifest, "--text-batch", "2",
                "--stop-at", "1", NULL) == 0,
          "--task st --st-weight 0 still trains on --text-data: %s", mslam_last_error());
    free(text_only);
    /* GLib drops the value of a flag that takes none: --no-specaug=false turned SpecAugment on */
    CHECK(train(manifest, out, "--no-specaug=false", NULL) == 2 && error_mentions("--no-specaug", "takes no value") &&
              access(out, F_OK) != 0,
          "train --no-specaug=false: %s", mslam_last_error());
    CHECK(train(manifest, out, "--resume=true", NULL) == 2 && error_mentions("--resume", "takes no value"),
          "train --resume=true: %s", mslam_last_error());
    /* data that cannot be read is an error before --out is made */
    char *missing_data = str_printf("%s/no-such-manifest.tsv", fixture_dir());
    CHECK(train(missing_data, out, NULL) == 1 && strstr(mslam_last_error(), missing_data) && access(out, F_OK) != 0,
          "train --data %s: an error naming it, no --out made (%s)", missing_data, mslam_last_error());
    free(missing_data);
    /* one language written in two cases in the data: refused before training, naming both */
    char *cased = str_printf("%s/cased.tsv", fixture_dir()), *cased_text = NULL;
    FILE *cf = read_file(manifest, 1 << 20, &cased_text, &n) == 0 ? fopen(cased, "w") : NULL;
    for (char *line = cased_text, *end; cf && line && *line; line = end + 1) {
        if (!(end = strchr(line, '\n'))) break;
        char *tab = strchr(line, '\t');
        /* the second de row says DE */
        static int de_rows;
        if (line != cased_text && tab && !strncmp(tab + 1, "de\t", 3) && ++de_rows == 2)
            fprintf(cf, "%.*s\tDE%.*s\n", (int)(tab - line), line, (int)(end - tab - 3), tab + 3);
        else
            fprintf(cf, "%.*s\n", (int)(end - line), line);
    }
    if (cf) fclose(cf);
    free(cased_text);
    CHECK(cf && train(cased, out, NULL) == 1 && strstr(mslam_last_error(), "differ only in case") &&
              access(out, F_OK) != 0,
          "train on de and DE: %s", mslam_last_error());
    free(cased);
    /* --resume into a folder that does not exist (a misspelt --out) is an error, not a new run */
    CHECK(train(manifest, out, "--resume", NULL) == 1 && strstr(mslam_last_error(), "no run to continue") &&
              access(out, F_OK) != 0,
          "train --resume into a missing --out: %s", mslam_last_error());
    /* --left-chunks-max -1 is 0's "all", as eval's --left-chunks -1: the same steps */
    char *left[2] = {str_printf("%s/left-all-0", fixture_dir()), str_printf("%s/left-all-1", fixture_dir())};
    mslam_model *by[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++) {
        CHECK(train(manifest, left[i], "--left-chunks-max", i ? "-1" : "0", "--full-context", "0", "--stop-at", "3",
                    NULL) == 0,
              "train --left-chunks-max %s: %s", i ? "-1" : "0", mslam_last_error());
        char *ckpt = checkpoint_latest(left[i]);
        if (!ckpt || checkpoint_load(ckpt, &by[i], NULL, NULL)) by[i] = NULL;
        free(ckpt), free(left[i]);
    }
    CHECK(by[0] && by[1] && by[0]->table.total == by[1]->table.total &&
              !memcmp(by[0]->block, by[1]->block, by[0]->table.total * sizeof(float)),
          "--left-chunks-max -1 and 0 took other steps");
    mslam_model_free(by[0]), mslam_model_free(by[1]);
    free(model), free(hyps), free(hyps_tmp), free(nothing), free(out), free(manifest_before);
}

/* eval --st-input text: the decoder reads each reference transcript through the encoder's text
 * path. Each translation must be the public API's for the same text (mslam_encode_text, then
 * mslam_translate_frames with the same beam and length), the same in both modes (the text path
 * has no streaming mask); --st-input transcript runs the cascade; a bad name is an error. */
static void test_st_input(const char *manifest) {
    char *model_path = str_printf("%s/exported.safetensors", fixture_dir());
    char *hyps = str_printf("%s/hyps-text.tsv", fixture_dir());
    char *json = str_printf("%s/eval-text.json", fixture_dir());
    char *ev[] = {(char *)"eval", (char *)"--model", model_path, (char *)"--data", (char *)manifest,
                  (char *)"--tasks", (char *)"st", (char *)"--st-input", (char *)"text", (char *)"--st-beam",
                  (char *)"2", (char *)"--max-len", (char *)"20", (char *)"--threads", (char *)"2", (char *)"--hyps",
                  hyps, (char *)"--json", json, NULL};
    /* no per-speaker table, as translation alone scores no speaker */
    char *text = eval_table(19, ev), *js = NULL;
    size_t n;
    CHECK(text && strstr(text, "translation into English") && !strstr(text, "per speaker"),
          "eval --st-input text prints no per-speaker table: %s", text ? text : mslam_last_error());
    free(text);
    text = NULL;
    struct json_object *root = read_file(json, 1 << 20, &js, &n) == 0 ? json_tokener_parse(js) : NULL, *input;
    CHECK(root && json_object_object_get_ex(root, "st_input", &input) && !strcmp(json_object_get_string(input), "text"),
          "the JSON names the translation's input");
    json_object_put(root);
    free(js);
    mslam_model *m = mslam_model_load(model_path, mslam_model_default_params());
    dataset ds = {0};
    CHECK(m && dataset_load_split(&ds, manifest, NULL, NULL, NULL, "test", NULL) == 0, "model and test split");
    int rows = 0, same_as_api = 0, same_in_modes = 0;
    char **lines = m && read_file(hyps, 1 << 20, &text, &n) == 0 ? g_strsplit(text, "\n", -1) : NULL;
    GHashTable *offline = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, g_free);
    for (int pass = 0; pass < 2; pass++) /* offline rows first, then streaming against them */
        for (char **line = lines ? lines + 1 : NULL; line && *line; line++) {
            char **f = g_strsplit(*line, "\t", 8);
            int is_offline = f[0] && !strcmp(f[0], "offline");
            if (g_strv_length(f) != 7 || strcmp(f[1], "st") || is_offline != (pass == 0)) {
                g_strfreev(f);
                continue;
            }
            if (!is_offline) {
                const char *there = g_hash_table_lookup(offline, f[2]);
                same_in_modes += there && !strcmp(there, f[6]);
            }
            for (int i = 0; i < ds.n; i++) {
                if (strcmp(ds.items[i].audio, f[2])) continue;
                char *norm = asr_target_text(ds.items[i].text, ds.items[i].lang);
                int frames = 0;
                float *enc = norm ? mslam_encode_text(m, norm, NULL, &frames) : NULL;
                struct mslam_decode_params p = mslam_decode_default_params();
                p.beam_size = 2;
                p.max_len = 2 * frames + 10 < 20 ? 2 * frames + 10 : 20;
                mslam_result *r = enc ? mslam_translate_frames(m, enc, frames, &p) : NULL;
                same_as_api += r && !strcmp(mslam_result_text(r), f[6]);
                mslam_result_free(r);
                mslam_free(enc);
                free(norm);
            }
            rows++;
            if (is_offline) g_hash_table_insert(offline, g_strdup(f[2]), g_strdup(f[6]));
            g_strfreev(f);
        }
    g_hash_table_destroy(offline);
    g_strfreev(lines);
    /* 6 of the 9 test utterances have a translation, each scored in both modes */
    CHECK(rows == 12 && same_as_api == rows && same_in_modes == rows / 2,
          "--st-input text: %d rows, %d as mslam_encode_text + mslam_translate_frames, %d the same in both modes",
          rows, same_as_api, same_in_modes);
    /* the same pairs without audio: text-only evaluation reads no audio and gives the same rows */
    char *pairs = str_printf("%s/text-pairs.tsv", fixture_dir());
    char *pair_hyps = str_printf("%s/hyps-pairs.tsv", fixture_dir());
    FILE *f = fopen(pairs, "w");
    CHECK(f != NULL, "write %s", pairs);
    fprintf(f, "path\tlang\ttext\ttranslation\tduration\tspeaker\tsplit\n");
    for (int i = 0; f && i < ds.n; i++)
        if (*ds.items[i].translation)
            fprintf(f, "\t%s\t%s\t%s\t\t%s\ttest\n", ds.items[i].lang, ds.items[i].text, ds.items[i].translation,
                    ds.items[i].speaker);
    if (f) fclose(f);
    ev[4] = pairs;
    ev[16] = pair_hyps;
    CHECK(cmd_eval(19, ev) == 0, "eval --st-input text on text pairs without audio: %s", mslam_last_error());
    ev[4] = (char *)manifest;
    ev[16] = hyps;
    char *pair_text = NULL;
    int pair_rows = 0, pair_same = 0;
    if (text && read_file(pair_hyps, 1 << 20, &pair_text, &n) == 0)
        for (char *line = strchr(pair_text, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
            char *one = g_strndup(line + 1, strcspn(line + 1, "\n"));
            char **f2 = g_strsplit(one, "\t", 8);
            int whole = g_strv_length(f2) == 7;
            /* the same mode, task, language, speaker, reference and translation as from the audio manifest */
            char *tail = whole ? g_strjoinv("\t", f2 + 3) : NULL;
            char *head = whole ? g_strdup_printf("%s\t%s\t", f2[0], f2[1]) : NULL;
            for (char *at = tail ? strstr(text, tail) : NULL; at; at = strstr(at + 1, tail)) {
                char *start = at;
                while (start > text && start[-1] != '\n') start--;
                if (!strncmp(start, head, strlen(head)) && at[strlen(tail)] == '\n') {
                    pair_same++;
                    break;
                }
            }
            pair_rows++;
            g_free(tail), g_free(head), g_free(one);
            g_strfreev(f2);
        }
    CHECK(pair_rows == 12 && pair_same == pair_rows, "text pairs without audio: %d of %d rows as with the audio",
          pair_same, pair_rows);
    free(pair_text);
    /* English is its own translation, as mslam_translate gives it: an English pair's hypothesis is
     * its transcript (here the reference's normal form), not the decoder's */
    const char *english = NULL;
    for (int i = 0; i < ds.n && !english; i++)
        if (!strcmp(ds.items[i].lang, "en")) english = ds.items[i].text;
    f = english ? fopen(pairs, "w") : NULL;
    CHECK(f != NULL, "an English pair in %s", pairs);
    if (f) {
        fprintf(f, "path\tlang\ttext\ttranslation\tduration\tspeaker\tsplit\n\ten\t%s\tsomething else\t\tv0\ttest\n",
                english);
        fclose(f);
    }
    ev[4] = pairs;
    ev[16] = pair_hyps;
    CHECK(f && cmd_eval(19, ev) == 0, "eval --st-input text on an English pair: %s", mslam_last_error());
    ev[4] = (char *)manifest;
    ev[16] = hyps;
    char *norm = english ? asr_target_text(english, "en") : NULL;
    pair_text = NULL;
    char **last = f && read_file(pair_hyps, 1 << 20, &pair_text, &n) == 0 ? g_strsplit(pair_text, "\n", 3) : NULL;
    char **fields = last && last[0] && last[1] ? g_strsplit(last[1], "\t", 8) : NULL;
    CHECK(norm && fields && g_strv_length(fields) == 7 && !strcmp(fields[1], "st") && !strcmp(fields[6], norm),
          "an English pair is translated as its transcript \"%s\": %s", norm ? norm : "", last && last[1] ? last[1] : "");
    g_strfreev(fields), g_strfreev(last);
    free(norm), free(pair_text);
    free(pairs), free(pair_hyps);
    free(text);
    dataset_free(&ds);
    mslam_model_free(m);
    ev[8] = (char *)"transcript";
    CHECK(cmd_eval(19, ev) == 0, "eval --st-input transcript: %s", mslam_last_error());
    text = NULL;
    rows = 0;
    if (read_file(hyps, 1 << 20, &text, &n) == 0)
        for (char *line = strchr(text, '\n'); line && line[1]; line = strchr(line + 1, '\n')) rows++;
    CHECK(rows == 12, "--st-input transcript: a translation per utterance and mode (%d)", rows);
    /* scoring recognition too, the cascade takes the transcript recognition scored (prefix
     * beam, width 8 by default) instead of searching again: the same translations */
    ev[6] = (char *)"asr,st";
    CHECK(cmd_eval(19, ev) == 0, "eval --tasks asr,st --st-input transcript: %s", mslam_last_error());
    char *with_asr = NULL;
    int same = 0, st_rows = 0;
    if (text && read_file(hyps, 1 << 20, &with_asr, &n) == 0)
        for (char *line = strchr(with_asr, '\n'); line && line[1]; line = strchr(line + 1, '\n')) {
            char *end = strchr(line + 1, '\n');
            size_t len = (size_t)(end - line);
            char *tab = strchr(line + 1, '\t');
            if (!tab || strncmp(tab + 1, "st\t", 3)) continue;
            st_rows++;
            same += memmem(text, strlen(text), line, len + 1) != NULL;
        }
    CHECK(st_rows == 12 && same == st_rows, "--tasks asr,st: %d of %d translations as with --tasks st", same, st_rows);
    free(with_asr);
    free(text);
    /* --max-len 0 is the decoder's own limit: the translations of a limit no translation reaches,
     * not empty ones (the model's weights randomised: a trained decoder this small may end every
     * translation at once) */
    char *random_path = str_printf("%s/exported-random.safetensors", fixture_dir());
    mslam_model *random = mslam_model_load(model_path, mslam_model_default_params());
    if (random) test_randomise_model(random, 11, 0.3f);
    CHECK(random && mslam_model_save(random, random_path) == 0, "a randomised model: %s", mslam_last_error());
    mslam_model_free(random);
    ev[2] = random_path;
    ev[6] = (char *)"st";
    ev[8] = (char *)"text";
    ev[12] = (char *)"100000";
    char *no_limit = NULL, *decoder_limit = NULL;
    CHECK(cmd_eval(19, ev) == 0 && read_file(hyps, 1 << 20, &no_limit, &n) == 0, "eval --max-len 100000: %s",
          mslam_last_error());
    ev[12] = (char *)"0";
    CHECK(cmd_eval(19, ev) == 0 && read_file(hyps, 1 << 20, &decoder_limit, &n) == 0, "eval --max-len 0: %s",
          mslam_last_error());
    int written = 0; /* st rows with a translation: the last field not empty */
    for (char *line = no_limit ? strchr(no_limit, '\n') : NULL; line && line[1]; line = strchr(line + 1, '\n'))
        written += strchr(line + 1, '\n')[-1] != '\t';
    CHECK(written > 0 && decoder_limit && !strcmp(no_limit, decoder_limit),
          "--max-len 0 translates as without a limit of its own (%d translations not empty):\n%s\nagainst\n%s",
          written, no_limit ? no_limit : "(none)", decoder_limit ? decoder_limit : "(none)");
    free(no_limit), free(decoder_limit);
    ev[2] = model_path;
    free(random_path);
    ev[12] = (char *)"20";
    ev[8] = (char *)"phonemes";
    CHECK(cmd_eval(19, ev) == 2, "--st-input phonemes is a usage error");
    free(model_path), free(hyps), free(json);
}

/* The last record of a train.jsonl that has `field` (NULL when none); json_object_put it. */
static json_object *last_record_with(const char *log_path, const char *field) {
    char *text = NULL;
    size_t n = 0;
    json_object *found = NULL;
    if (read_file(log_path, 1 << 22, &text, &n)) return NULL;
    for (char *line = strtok(text, "\n"); line; line = strtok(NULL, "\n")) {
        json_object *o = json_tokener_parse(line), *v;
        if (o && json_object_object_get_ex(o, field, &v)) {
            json_object_put(found);
            found = o;
        } else {
            json_object_put(o);
        }
    }
    free(text);
    return found;
}

/* The number field of a log record, NaN when rec is NULL or lacks it. */
static double record_number(json_object *rec, const char *field) {
    json_object *v = NULL;
    return rec && json_object_object_get_ex(rec, field, &v) ? json_object_get_double(v) : NAN;
}

/* --task pretrain: its draws (span masks, Gumbel noise, distractors) are functions of (seed,
 * step, the item's place in the global batch), so a run resumes bit for bit and two
 * micro-batches take the steps of one batch twice their size (without the diversity loss, which
 * is one per micro-batch, as wav2vec 2.0's is per device); what it trains is left out of the
 * exported model and of a model --init'ed from it. */
static void test_pretrain(const char *manifest) {
    char *straight = str_printf("%s/pt-straight", fixture_dir()), *split = str_printf("%s/pt-split", fixture_dir());
    char *micro = str_printf("%s/pt-micro", fixture_dir());
#define PRETRAIN "--task", "pretrain", "--codes", "8", "--distractors", "4", "--mask-prob", "0.3", "--mask-span", "2", \
                 "--text-data", manifest
    CHECK(train(manifest, straight, PRETRAIN, "--text-batch", "4", NULL) == 0, "pre-training: %s", mslam_last_error());
    CHECK(train(manifest, split, PRETRAIN, "--text-batch", "4", "--stop-at", "3", NULL) == 0 &&
              train(manifest, split, PRETRAIN, "--text-batch", "4", "--resume", NULL) == 0,
          "the same, stopped at step 3 and resumed");
    char *a = str_printf("%s/model.safetensors", straight), *b = str_printf("%s/model.safetensors", split);
    CHECK(test_files_equal(a, b), "pre-training: N straight == N/2 + resume + N/2, bit for bit");
    /* the diversity loss is one per micro-batch (pretrain.h): without it, the split is exact */
    char *whole = str_printf("%s/pt-whole", fixture_dir());
    CHECK(train(manifest, whole, PRETRAIN, "--text-batch", "4", "--diversity-weight", "0", NULL) == 0 &&
              train(manifest, micro, PRETRAIN, "--text-batch", "2", "--batch-size", "2", "--accumulate", "2",
                    "--diversity-weight", "0", NULL) == 0,
          "pre-training without the diversity loss in 1 batch of 4 and 2 micro-batches of 2");
    fixture_compare_runs(whole, micro, N_STEPS, "pre-training: 1 x 2 micro-batches x 2 vs 1 x 4");
    free(whole);
    /* the log: every loss finite, the contrastive one near log(1 + distractors) or below */
    char *log = str_printf("%s/train.jsonl", straight);
    json_object *rec = last_record_with(log, "w2v");
    static const char *const fields[] = {"w2v", "diversity", "mlm", "mlm_acc", "perplexity", "codes", "spanbert",
                                         "spanbert_acc", "ctc"};
    for (size_t i = 0; i < sizeof fields / sizeof *fields; i++) {
        double x = record_number(rec, fields[i]);
        CHECK(isfinite(x) && x >= 0, "the log's last %s is %g", fields[i], x);
        if (!strcmp(fields[i], "w2v") || !strcmp(fields[i], "spanbert") || !strcmp(fields[i], "ctc"))
            CHECK(x > 0, "the log's last %s is %g, not positive", fields[i], x);
    }
    json_object_put(rec);
    /* the model keeps the pre-training tensors and a CTC head; export leaves the tensors out */
    mslam_model *m = mslam_model_load(a, mslam_model_default_params()), *e = NULL;
    CHECK(m && m->cfg.n_codes == 8 && m->cfg.ctc_head == 1, "the pre-trained model: %d codes, CTC head %d",
          m ? m->cfg.n_codes : -1, m ? m->cfg.ctc_head : -1);
    char *exported = str_printf("%s/exported.safetensors", straight);
    char *ex[] = {(char *)"export", (char *)"--checkpoint", a, (char *)"--out", exported, NULL};
    CHECK(cmd_export(5, ex) == 0 && (e = mslam_model_load(exported, mslam_model_default_params())) != NULL,
          "export of the pre-trained model: %s", mslam_last_error());
    CHECK(m && e && e->cfg.n_codes == 0 && e->table.total < m->table.total, "export leaves the pre-training tensors out");
    for (int i = 0; m && e && i < e->table.n; i++) {
        const mslam_param_entry *x = &e->table.entries[i], *y = entry_named(m, x->name);
        CHECK(y && !memcmp(e->block + x->offset, m->block + y->offset, x->numel * sizeof(float)),
              "exported %s differs from the model's", x->name);
    }
    mslam_model_free(e);
    e = NULL;
    /* fine-tuning from it: a model without them, the encoder taken over */
    char *tuned = str_printf("%s/pt-tuned", fixture_dir()), *tuned_model = str_printf("%s/model.safetensors", tuned);
    CHECK(train(manifest, tuned, "--task", "asr", "--init", a, "--lr", "0", "--lr-min", "0", "--steps", "1", NULL) == 0 &&
              (e = mslam_model_load(tuned_model, mslam_model_default_params())) != NULL,
          "--task asr --init the pre-trained model: %s", mslam_last_error());
    const mslam_param_entry *w = e ? entry_named(e, "shared_layers.0.attn.q.weight") : NULL,
                            *w0 = m ? entry_named(m, "shared_layers.0.attn.q.weight") : NULL;
    CHECK(e && e->cfg.n_codes == 0 && w && w0 && !memcmp(e->block + w->offset, m->block + w0->offset, w->numel * sizeof(float)),
          "the fine-tuned model has no pre-training tensors and the pre-trained encoder");
    mslam_model_free(e), mslam_model_free(m);
    /* SpanBERT reads transcripts without translations, and without audio */
    char *text_only = str_printf("%s/transcripts.tsv", fixture_dir()), *rows = NULL;
    size_t n_rows = 0;
    int written = 0;
    FILE *tf = fopen(text_only, "w");
    if (tf && read_file(manifest, 1 << 20, &rows, &n_rows) == 0) {
        fprintf(tf, "path\tlang\ttext\ttranslation\tduration\tspeaker\tsplit\n");
        for (char *line = strtok(rows, "\n"); line; line = strtok(NULL, "\n")) {
            char *f[7] = {0};
            int k = 0;
            for (char *c = line; k < 7; k++) {
                f[k] = c;
                char *tab = strchr(c, '\t');
                if (!tab) break;
                *tab = '\0';
                c = tab + 1;
            }
            if (k >= 6 && !strcmp(f[6], "train") && *f[2]) written += fprintf(tf, "\t%s\t%s\t\t\t\ttrain\n", f[1], f[2]) > 0;
        }
    }
    if (tf) fclose(tf);
    free(rows);
    char *spans = str_printf("%s/pt-transcripts", fixture_dir()), *spans_log = str_printf("%s/train.jsonl", spans);
    CHECK(written > 0 && train(manifest, spans, "--task", "pretrain", "--codes", "8", "--distractors", "4", "--text-data",
                               text_only, "--steps", "2", NULL) == 0,
          "--task pretrain --text-data of transcripts alone (%d rows): %s", written, mslam_last_error());
    json_object *span_rec = last_record_with(spans_log, "spanbert"), *span_v = NULL;
    CHECK(span_rec && json_object_object_get_ex(span_rec, "spanbert", &span_v) && json_object_get_double(span_v) > 0,
          "SpanBERT trained on transcripts alone");
    json_object_put(span_rec);
    /* text in a language without speech (Greek): its characters join the vocabulary */
    char *greek = str_printf("%s/greek.tsv", fixture_dir()), *greek_out = str_printf("%s/pt-greek", fixture_dir());
    char *greek_model = str_printf("%s/model.safetensors", greek_out);
    FILE *gf = fopen(greek, "w");
    if (gf) {
        fprintf(gf, "path\tlang\ttext\ttranslation\tduration\tspeaker\tsplit\n");
        for (int i = 0; i < 8; i++) fprintf(gf, "\tel\t\xce\xb1\xce\xb2\xce\xb3 \xce\xb4\xce\xb5 %d\t\t\t\ttrain\n", i);
        fclose(gf);
    }
    mslam_model *gm = NULL;
    CHECK(train(manifest, greek_out, "--task", "pretrain", "--codes", "8", "--distractors", "4", "--text-data", greek,
                "--text-batch", "4", "--steps", "2", NULL) == 0 &&
              checkpoint_load(greek_model, &gm, NULL, NULL) == 0,
          "--task pretrain on Greek text without Greek speech: %s", mslam_last_error());
    int has_alpha = 0;
    for (int i = 0; gm && i < gm->cfg.vocab_size; i++) has_alpha |= !strcmp(gm->vocab[i], "\xce\xb1");
    CHECK(has_alpha, "pre-training's vocabulary has the text's Greek characters");
    mslam_model_free(gm);
    free(greek), free(greek_out), free(greek_model);
    char *st_out = str_printf("%s/st-transcripts", fixture_dir());
    CHECK(train(manifest, st_out, "--task", "st", "--text-data", text_only, "--steps", "2", NULL) != 0 &&
              strstr(mslam_last_error(), "a transcript and a translation"),
          "--task st refuses text data without translations: %s", mslam_last_error());
    free(text_only), free(spans), free(spans_log), free(st_out);
    /* with CTC, a validation scores CER and keeps the best model */
    char *valid = str_printf("%s/pt-valid", fixture_dir()), *best = str_printf("%s/best.safetensors", valid);
    CHECK(train(manifest, valid, PRETRAIN, "--steps", "2", "--valid", manifest, "--valid-every", "2", "--best-metric",
                "cer", NULL) == 0 && access(best, F_OK) == 0,
          "--task pretrain --best-metric cer keeps the best model: %s", mslam_last_error());
    free(valid), free(best);
    /* without CTC: no head; and the options' ranges */
    char *no_ctc = str_printf("%s/pt-no-ctc", fixture_dir()), *no_ctc_model = str_printf("%s/model.safetensors", no_ctc);
    struct strlist valid_warnings = {0};
    mslam_log_set(fixture_collect_warnings, &valid_warnings);
    CHECK(train(manifest, no_ctc, PRETRAIN, "--ctc-weight", "0", "--steps", "2", "--valid", manifest, NULL) == 0 &&
              (m = mslam_model_load(no_ctc_model, mslam_model_default_params())) != NULL && m->cfg.ctc_head == 0 &&
              m->cfg.n_codes == 8,
          "--task pretrain --ctc-weight 0: a model without a CTC head (%s)", mslam_last_error());
    mslam_log_set(NULL, NULL);
    int valid_warned = 0;
    for (size_t i = 0; i < valid_warnings.n; i++) valid_warned |= strstr(valid_warnings.items[i], "it does not run") != NULL;
    CHECK(valid_warned, "--valid with nothing to score warns");
    strlist_free(&valid_warnings);
    mslam_model_free(m);
    /* eval of an encoder alone: an error saying so, not empty tables */
    char *ev_headless[] = {(char *)"eval", (char *)"--model", no_ctc_model, (char *)"--data", (char *)manifest, NULL};
    CHECK(cmd_eval(5, ev_headless) == 1 && strstr(mslam_last_error(), "no head to score"),
          "eval of a model without heads: %s", mslam_last_error());
    /* resumed without --ctc-weight 0: refused, saying so */
    CHECK(train(manifest, no_ctc, PRETRAIN, "--steps", "3", "--resume", NULL) != 0 &&
              strstr(mslam_last_error(), "resume with --ctc-weight 0"),
          "a run pre-trained without CTC resumed with it: %s", mslam_last_error());
    CHECK(train(manifest, no_ctc, PRETRAIN, "--gumbel-tau-min", "3", NULL) != 0 &&
              strstr(mslam_last_error(), "--gumbel-tau-min 3"),
          "--gumbel-tau-min above --gumbel-tau refused: %s", mslam_last_error());
    CHECK(train(manifest, no_ctc, PRETRAIN, "--codes", "1", NULL) != 0 && strstr(mslam_last_error(), "--codes 1"),
          "--codes 1 refused: %s", mslam_last_error());
    CHECK(train(manifest, no_ctc, PRETRAIN, "--mask-prob", "1.5", NULL) != 0 && strstr(mslam_last_error(), "--mask-prob"),
          "--mask-prob 1.5 refused: %s", mslam_last_error());
    CHECK(train(manifest, no_ctc, PRETRAIN, "--quantizer", "random", "--freq-masks", "2", NULL) != 0 &&
              strstr(mslam_last_error(), "--no-specaug"),
          "--quantizer random with SpecAugment refused: %s", mslam_last_error());
    CHECK(train(manifest, no_ctc, PRETRAIN, "--quantizer", "kmeans", NULL) != 0 &&
              strstr(mslam_last_error(), "--quantizer kmeans"),
          "--quantizer kmeans refused: %s", mslam_last_error());
    /* BEST-RQ's targets: resumed bit for bit (one fixed quantizer; the checkpoint says which kind:
     * the resumed run does not repeat --quantizer), the code prediction alone in the log */
    char *rq = str_printf("%s/pt-rq", fixture_dir()), *rq_split = str_printf("%s/pt-rq-split", fixture_dir());
    struct strlist warnings = {0};
    CHECK(train(manifest, rq, PRETRAIN, "--quantizer", "random", "--no-specaug", NULL) == 0 &&
              train(manifest, rq_split, PRETRAIN, "--quantizer", "random", "--no-specaug", "--stop-at", "3", NULL) == 0,
          "--quantizer random, straight and stopped: %s", mslam_last_error());
    /* resumed without --quantizer and with another --codes: the checkpoint's quantizer and 8 codes
     * stay, the codes said as such (the steps are the same: no "other options") */
    mslam_log_set(fixture_collect_warnings, &warnings);
    CHECK(train(manifest, rq_split, PRETRAIN, "--no-specaug", "--codes", "64", "--resume", NULL) == 0,
          "--quantizer random resumed: %s", mslam_last_error());
    mslam_log_set(NULL, NULL);
    CHECK(warnings.n == 1 && strstr(warnings.items[0], "keeps its architecture: --codes 64 (8)"),
          "resumed without --quantizer, with --codes 64: %zu warnings (%s)", warnings.n,
          warnings.n ? warnings.items[0] : "");
    strlist_free(&warnings);
    CHECK(train(manifest, rq_split, PRETRAIN, "--quantizer", "gumbel", "--steps", "9", "--resume", NULL) != 0 &&
              strstr(mslam_last_error(), "--quantizer random"),
          "resuming BEST-RQ with --quantizer gumbel is refused naming the checkpoint's: %s", mslam_last_error());
    char *rq_a = str_printf("%s/model.safetensors", rq), *rq_b = str_printf("%s/model.safetensors", rq_split);
    CHECK(test_files_equal(rq_a, rq_b), "--quantizer random: N straight == N/2 + resume + N/2, bit for bit");
    /* the random quantizer of --init (not of --quantizer, which the options' check sees) with every
     * loss but the ones it has none of weighted 0: nothing would learn, refused */
    char *rq_idle = str_printf("%s/pt-rq-idle", fixture_dir());
    CHECK(train(manifest, rq_idle, "--task", "pretrain", "--codes", "8", "--init", rq_a, "--no-specaug", "--ctc-weight",
                "0", "--mlm-weight", "0", NULL) != 0 &&
              strstr(mslam_last_error(), "is random") && strstr(mslam_last_error(), "nothing would learn") &&
              strstr(mslam_last_error(), rq_a),
          "pre-training from a BEST-RQ model with --ctc-weight 0 --mlm-weight 0: %s", mslam_last_error());
    free(rq_idle);
    CHECK(!test_files_equal(a, rq_a), "--quantizer random trains otherwise than gumbel");
    char *rq_log = str_printf("%s/train.jsonl", rq);
    json_object *rq_rec = last_record_with(rq_log, "mlm");
    double w2v = record_number(rq_rec, "w2v"), mlm = record_number(rq_rec, "mlm"),
           ppl = record_number(rq_rec, "perplexity");
    CHECK(w2v == 0 && isfinite(mlm) && mlm > 0 && ppl >= 1 && ppl <= 8,
          "--quantizer random logs no contrastive loss (%g), a code prediction loss (%g), a perplexity of 1..8 codes (%g)",
          w2v, mlm, ppl);
    json_object_put(rq_rec);
    /* the model records its quantizer and has none of w2v-BERT's quantizer, codebook and
     * contrastive head; info says so */
    mslam_model *trained = NULL;
    CHECK(checkpoint_load(rq_a, &trained, NULL, NULL) == 0, "--quantizer random: the model loads: %s", mslam_last_error());
    if (trained) {
        CHECK(trained->cfg.quantizer == MSLAM_QUANTIZER_RANDOM && trained->cfg.n_codes == 8,
              "the model records the random quantizer (%d) of 8 codes (%d)", trained->cfg.quantizer, trained->cfg.n_codes);
        static const char *const names[] = {"pretrain.quantizer.weight", "pretrain.codebook",
                                            "pretrain.contrastive.weight", "pretrain.mlm.weight"};
        for (int i = 0; i < 4; i++)
            CHECK((entry_named(trained, names[i]) != NULL) == (i == 3), "--quantizer random: %s %s", names[i],
                  i < 3 ? "is left out" : "is there");
    }
    mslam_model_free(trained);
    char *rq_info = info_text(rq_a, 0);
    CHECK(rq_info && strstr(rq_info, "BEST-RQ targets of 8 codes") && !strstr(rq_info, "w2v-BERT"),
          "info names BEST-RQ's targets: %s", rq_info ? rq_info : mslam_last_error());
    free(rq_info);
    /* pre-training continued from it keeps its targets, and so refuses SpecAugment */
    char *rq_more = str_printf("%s/pt-rq-more", fixture_dir()), *rq_more_model = str_printf("%s/model.safetensors", rq_more);
    CHECK(train(manifest, rq_more, PRETRAIN, "--init", rq_a, "--steps", "1", NULL) != 0 &&
              strstr(mslam_last_error(), "--no-specaug") && strstr(mslam_last_error(), "(the quantizer of "),
          "pre-training from a BEST-RQ model with SpecAugment is refused: %s", mslam_last_error());
    CHECK(train(manifest, rq_more, PRETRAIN, "--init", rq_a, "--steps", "1", "--no-specaug", NULL) == 0 &&
              checkpoint_load(rq_more_model, &trained, NULL, NULL) == 0 && trained->cfg.quantizer == MSLAM_QUANTIZER_RANDOM,
          "pre-training from a BEST-RQ model keeps its quantizer: %s", mslam_last_error());
    mslam_model_free(trained);
    free(rq), free(rq_split), free(rq_a), free(rq_b), free(rq_log), free(rq_more), free(rq_more_model);
#undef PRETRAIN
    free(straight), free(split), free(micro), free(a), free(b), free(log), free(exported), free(tuned),
        free(tuned_model), free(no_ctc), free(no_ctc_model);
}

/* Whether a warning collected says a and b. */
/* Settings that leave part of a run idle are warned of, each naming its options; a resume that
 * is already past --stop-at says there is nothing to train, as one at --steps does. */
static void test_idle_settings(const char *manifest) {
    char *out = str_printf("%s/idle", fixture_dir()), *err = str_printf("%s/idle.err", fixture_dir());
    struct strlist warnings = {0};
    mslam_log_set(fixture_collect_warnings, &warnings);
    CHECK(train(manifest, out, "--valid", manifest, "--valid-every", "50", "--warmup", "100", "--stop-at", "4",
                NULL) == 0,
          "a run with --valid-every 50 and --warmup 100 of --steps 8: %s", mslam_last_error());
    mslam_log_set(NULL, NULL);
    CHECK(fixture_warned_of(&warnings, "--valid-every 50", "--steps 8") && fixture_warned_of(&warnings, "--warmup 100", "--lr"),
          "--valid-every and --warmup above --steps warn (%zu warnings)", warnings.n);
    strlist_free(&warnings);
    mslam_log_set(fixture_collect_warnings, &warnings);
    int saved = test_output_to(STDERR_FILENO, err);
    int rc = train(manifest, out, "--valid", manifest, "--valid-every", "0", "--resume", "--stop-at", "2", NULL);
    test_output_restore(STDERR_FILENO, saved);
    mslam_log_set(NULL, NULL);
    char *text = NULL;
    size_t n = 0;
    CHECK(rc == 0 && fixture_warned_of(&warnings, "--valid-every is 0", manifest), "--valid with --valid-every 0 warns (%zu)",
          warnings.n);
    CHECK(read_file(err, 1 << 20, &text, &n) == 0 &&
              strstr(text, "the run is at step 4 of --stop-at 2: nothing to train"),
          "a resume past --stop-at says there is nothing to train: %s", text ? text : "");
    strlist_free(&warnings);
    /* --valid that is never scored is not read either: its audio need not be there (a stage on
     * another corpus's --audio-dir, train-default.sh's text-pair stages); scored, it is */
    char *absent = str_printf("%s/absent-audio.tsv", fixture_dir()), *absent_out = str_printf("%s-absent", out);
    FILE *f = fopen(absent, "w");
    CHECK(f && fprintf(f, "path\tlang\ttext\tsplit\nnowhere/gone.flac\ten\tgone\tdev\n") > 0 && fclose(f) == 0, "writing %s",
          absent);
    mslam_log_set(test_quiet_log, NULL);
    CHECK(train(manifest, absent_out, "--valid", absent, "--valid-every", "0", "--stop-at", "1", NULL) == 0,
          "--valid-every 0 with --valid of audio that is not there: %s", mslam_last_error());
    CHECK(train(manifest, absent_out, "--valid", absent, "--valid-every", "2", "--resume", "--stop-at", "2", NULL) != 0 &&
              error_mentions("could not be read", NULL),
          "--valid-every 2 with --valid of audio that is not there: %s", mslam_last_error());
    mslam_log_set(NULL, NULL);
    free(absent), free(absent_out);
    free(text), free(out), free(err);
}

/* A newest checkpoint that cannot be read: the error names it, says it is damaged and which
 * checkpoint a resume takes once it is moved away; nothing is deleted, and that resume works. */
static void test_damaged_checkpoint(const char *manifest) {
    char *out = str_printf("%s/damaged", fixture_dir()), *moved = str_printf("%s/damaged-5.safetensors", fixture_dir());
    char *three = checkpoint_path(out, 3), *five = checkpoint_path(out, 5);
    CHECK(train(manifest, out, "--stop-at", "3", NULL) == 0 &&
              train(manifest, out, "--resume", "--stop-at", "5", NULL) == 0,
          "checkpoints at steps 3 and 5: %s", mslam_last_error());
    CHECK(truncate(five, 1000) == 0, "cutting %s short", five);
    CHECK(train(manifest, out, "--resume", NULL) == 1 && error_mentions(five, "damaged") &&
              error_mentions(three, "move it") &&
              access(five, F_OK) == 0 && access(three, F_OK) == 0,
          "resume from a damaged checkpoint: %s", mslam_last_error());
    char *four = checkpoint_path(out, 4);
    CHECK(rename(five, moved) == 0 && train(manifest, out, "--resume", "--stop-at", "4", NULL) == 0 &&
              access(four, F_OK) == 0,
          "once it is moved away the run resumes from step 3: %s", mslam_last_error());
    free(out), free(moved), free(three), free(five), free(four);
}

/* The record that ends a log interval is the same whether or not the run stopped inside it: the
 * checkpoint carries the interval's sums. */
static void test_log_interval(const char *manifest) {
    char *straight = str_printf("%s/log-straight", fixture_dir()), *split = str_printf("%s/log-split", fixture_dir());
    CHECK(train(manifest, straight, "--log-every", "4", NULL) == 0 &&
              train(manifest, split, "--log-every", "4", "--stop-at", "6", NULL) == 0 &&
              train(manifest, split, "--log-every", "4", "--resume", NULL) == 0,
          "a run straight and one stopped at step 6 of 8: %s", mslam_last_error());
    char *records[2] = {NULL, NULL};
    for (int i = 0; i < 2; i++) {
        char *log = str_printf("%s/train.jsonl", i ? split : straight), *text = NULL;
        size_t n = 0;
        const char *at = read_file(log, 1 << 20, &text, &n) == 0 ? strstr(text, "{\"step\":8,") : NULL;
        /* up to the timings, which differ */
        const char *end = at ? strstr(at, ",\"audio_s_per_s\"") : NULL;
        if (end) records[i] = g_strndup(at, (gsize)(end - at));
        free(text), free(log);
    }
    CHECK(records[0] && records[1] && !strcmp(records[0], records[1]),
          "step 8's record averages steps 5..8 after a resume at 6 too:\n%s\n%s", records[0] ? records[0] : "none",
          records[1] ? records[1] : "none");
    g_free(records[0]), g_free(records[1]);
    free(straight), free(split);
}

/* --data-weight: the manifest at 0.5 makes epochs of 12 of its 24 rows (3 steps of 4), and a run
 * resumed halfway ends bit for bit as one straight; a resume with another weight warns and, when
 * its position lies past the shorter epoch's end, goes on with the next epoch; bad weights are
 * refused before --out is made. The straight run reads its weight from a key file. */
static void test_data_weights(const char *manifest) {
    char *straight = str_printf("%s/weighted", fixture_dir()), *split = str_printf("%s/weighted-split", fixture_dir());
    /* the straight run's weight from a key file, saved with a byte order mark (GLib refused it) */
    char *config = str_printf("%s/weighted.conf", fixture_dir());
    CHECK(write_file_atomic(config, "\xEF\xBB\xBF[train]\ndata-weight=0.5\n", 27) == 0, "writing %s", config);
    CHECK(train(manifest, straight, "--config", config, NULL) == 0 &&
              train(manifest, split, "--data-weight", "0.5", "--stop-at", "4", NULL) == 0 &&
              train(manifest, split, "--data-weight", "0.5", "--resume", NULL) == 0,
          "weighted runs: %s", mslam_last_error());
    char *model_a = str_printf("%s/model.safetensors", straight), *model_b = str_printf("%s/model.safetensors", split);
    CHECK(test_files_equal(model_a, model_b), "a weighted run resumed halfway == straight, bit for bit");
    char *last = str_printf("%s/ckpt-%08d.safetensors", split, N_STEPS);
    mslam_model *m = NULL;
    train_position pos = {0};
    CHECK(checkpoint_load(last, &m, &pos, NULL) == 0 && pos.epoch == 2 && pos.batch == 2,
          "after %d steps of epochs of 3: epoch 2, batch 2 (got epoch %ld batch %ld)", N_STEPS, pos.epoch, pos.batch);
    mslam_model_free(m);

    /* stopped at epoch 1, batch 2; at 0.25 an epoch has 2 batches */
    char *other = str_printf("%s/weighted-other", fixture_dir()), *six = str_printf("%s/ckpt-00000006.safetensors", other);
    CHECK(train(manifest, other, "--data-weight", "0.5", "--stop-at", "5", NULL) == 0, "%s", mslam_last_error());
    struct strlist warnings = {0};
    mslam_log_set(fixture_collect_warnings, &warnings);
    int rc = train(manifest, other, "--data-weight", "0.25", "--resume", "--stop-at", "6", NULL);
    mslam_log_set(NULL, NULL);
    int warned = fixture_warned_of(&warnings, "written with other options", "data-weight: 0.5 -> 0.25");
    m = NULL;
    CHECK(rc == 0 && warned && checkpoint_load(six, &m, &pos, NULL) == 0 && pos.epoch == 2 && pos.batch == 1,
          "a resume at 0.25 from epoch 1 batch 2 takes epoch 2's first batch (rc %d, warned %d, epoch %ld batch %ld): %s",
          rc, warned, pos.epoch, pos.batch, mslam_last_error());
    mslam_model_free(m);
    strlist_free(&warnings);

    /* a weight too small for any row of its manifest is warned of */
    char *tiny = str_printf("%s/weighted-tiny", fixture_dir());
    warnings = (struct strlist){0};
    mslam_log_set(fixture_collect_warnings, &warnings);
    rc = train(manifest, tiny, "--data", manifest, "--data-weight", "1", "--data-weight", "0.01", "--steps", "1", NULL);
    mslam_log_set(NULL, NULL);
    warned = fixture_warned_of(&warnings, "--data-weight 0.01 takes none of the 24 usable rows", "give at least");
    CHECK(rc == 0 && warned, "a weight that rounds to no row: rc %d, warned %d: %s", rc, warned, mslam_last_error());
    strlist_free(&warnings);
    free(tiny);

    static const struct {
        const char *weight, *second, *says;
    } bad[] = {{"1", "1", "2 given for 1 --data"}, {"half", NULL, "--data-weight half"},
               {"-1", NULL, "expected a number from 0 to"}, {"inf", NULL, "expected a number"},
               {"1e9", NULL, "expected a number"}, {"0", NULL, "every weight is 0"}};
    char *refused = str_printf("%s/weighted-refused", fixture_dir());
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        rc = bad[i].second ? train(manifest, refused, "--data-weight", bad[i].weight, "--data-weight", bad[i].second, NULL)
                           : train(manifest, refused, "--data-weight", bad[i].weight, NULL);
        CHECK(rc != 0 && error_mentions(bad[i].says, "--data-weight") && access(refused, F_OK) != 0,
              "--data-weight %s: %s", bad[i].weight, mslam_last_error());
    }
    free(straight), free(split), free(model_a), free(model_b), free(last), free(other), free(six), free(refused);
    free(config);
}

/* --text-data-weight: the text pairs at 0.5 make epochs of 12 of the 24 pairs (4 steps of 3), and
 * a run resumed halfway ends bit for bit as one straight, unlike the unweighted run; weights all
 * 1 are none: the same model as without them, and a resume of an unweighted checkpoint with
 * them (or with --data-weight 1) does not warn; bad weights are refused before --out is made. */
static void test_text_data_weights(const char *manifest) {
    char *plain = str_printf("%s/mt-plain", fixture_dir()), *ones = str_printf("%s/mt-ones", fixture_dir());
    char *straight = str_printf("%s/mt-weighted", fixture_dir()), *split = str_printf("%s/mt-weighted-split", fixture_dir());
    CHECK(train(manifest, plain, "--text-data", manifest, "--text-batch", "3", NULL) == 0 &&
              train(manifest, ones, "--text-data", manifest, "--text-batch", "3", "--text-data-weight", "1.0", NULL) == 0 &&
              train(manifest, straight, "--text-data", manifest, "--text-batch", "3", "--text-data-weight", "0.5",
                    NULL) == 0 &&
              train(manifest, split, "--text-data", manifest, "--text-batch", "3", "--text-data-weight", "0.5",
                    "--stop-at", "4", NULL) == 0 &&
              train(manifest, split, "--text-data", manifest, "--text-batch", "3", "--text-data-weight", "0.5",
                    "--resume", NULL) == 0,
          "runs with --text-data-weight: %s", mslam_last_error());
    char *model_plain = str_printf("%s/model.safetensors", plain), *model_ones = str_printf("%s/model.safetensors", ones);
    char *model_a = str_printf("%s/model.safetensors", straight), *model_b = str_printf("%s/model.safetensors", split);
    CHECK(test_files_equal(model_a, model_b), "a run with weighted text pairs resumed halfway == straight, bit for bit");
    CHECK(!test_files_equal(model_a, model_plain), "the weight changes the text pairs the steps take");
    CHECK(test_files_equal(model_ones, model_plain), "text pairs weighted 1 train as unweighted, bit for bit");

    char *resumed = str_printf("%s/mt-ones-resumed", fixture_dir());
    CHECK(train(manifest, resumed, "--text-data", manifest, "--text-batch", "3", "--stop-at", "4", NULL) == 0,
          "%s", mslam_last_error());
    struct strlist warnings = {0};
    mslam_log_set(fixture_collect_warnings, &warnings);
    int rc = train(manifest, resumed, "--text-data", manifest, "--text-batch", "3", "--text-data-weight", "1",
                   "--data-weight", "1", "--resume", NULL);
    mslam_log_set(NULL, NULL);
    int warned = fixture_warned_of(&warnings, "written with other options", "");
    CHECK(rc == 0 && !warned, "weights of 1 resume an unweighted checkpoint without a warning (rc %d, warned %d)", rc,
          warned);
    strlist_free(&warnings);

    static const struct {
        const char *text_data, *weight, *says;
    } bad[] = {{NULL, "1", "1 given for 0 --text-data"}, {"yes", "x", "--text-data-weight x"},
               {"yes", "0", "every weight is 0"}};
    char *refused = str_printf("%s/mt-weighted-refused", fixture_dir());
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        rc = bad[i].text_data ? train(manifest, refused, "--text-data", manifest, "--text-data-weight", bad[i].weight, NULL)
                              : train(manifest, refused, "--text-data-weight", bad[i].weight, NULL);
        CHECK(rc != 0 && error_mentions(bad[i].says, "--text-data-weight") && access(refused, F_OK) != 0,
              "--text-data-weight %s: %s", bad[i].weight, mslam_last_error());
    }
    /* an empty key (text-data-weight=) is none */
    char *conf = str_printf("%s/empty-weight.conf", fixture_dir()), *empty = str_printf("%s/mt-empty-weight", fixture_dir());
    static const char empty_weight[] = "[train]\ntext-data-weight=\n";
    CHECK(write_file_atomic(conf, empty_weight, strlen(empty_weight)) == 0 &&
              train(manifest, empty, "--text-data", manifest, "--text-batch", "3", "--steps", "1", "--config", conf,
                    NULL) == 0,
          "an empty text-data-weight key: %s", mslam_last_error());
    free(conf), free(empty);
    free(plain), free(ones), free(straight), free(split), free(model_plain), free(model_ones), free(model_a);
    free(model_b), free(resumed), free(refused);
}

/* --init keeps the init model's decoder unless --decoder-layers is given (its default had added
 * a layer to a 1-layer decoder), and an architecture option given at its default value that the
 * init model overrides is warned of like any other. */
static void test_init_architecture(const char *manifest) {
    char *init = str_printf("%s/straight/model.safetensors", fixture_dir());
    struct {
        const char *decoder_layers; /* NULL: not given */
        int layers;
    } runs[] = {{NULL, 1}, {"2", 2}};
    for (size_t r = 0; r < sizeof runs / sizeof *runs; r++) {
        char *out = str_printf("%s/init-decoder-%zu", fixture_dir(), r), *model = str_printf("%s/model.safetensors", out);
        char *argv[96];
        int argc = 0;
        argv[argc++] = (char *)"train";
        argv[argc++] = (char *)"--data", argv[argc++] = (char *)manifest;
        argv[argc++] = (char *)"--out", argv[argc++] = out;
        argv[argc++] = (char *)"--init", argv[argc++] = init;
        for (int i = 0; i < N_COMMON; i += 2)
            if (strcmp(common[i], "--decoder-layers")) argv[argc++] = (char *)common[i], argv[argc++] = (char *)common[i + 1];
        argv[argc++] = (char *)"--steps", argv[argc++] = (char *)"1";
        if (runs[r].decoder_layers) argv[argc++] = (char *)"--decoder-layers", argv[argc++] = (char *)runs[r].decoder_layers;
        argv[argc] = NULL;
        mslam_model *m = NULL;
        CHECK(cmd_train(argc, argv) == 0 && checkpoint_load(model, &m, NULL, NULL) == 0 &&
                  m->cfg.n_decoder_layers == runs[r].layers,
              "--init of a 1-layer decoder, --decoder-layers %s: %d layers (expected %d): %s",
              runs[r].decoder_layers ? runs[r].decoder_layers : "not given", m ? m->cfg.n_decoder_layers : -1,
              runs[r].layers, mslam_last_error());
        mslam_model_free(m);
        free(out), free(model);
    }
    char *out = str_printf("%s/init-d-model", fixture_dir());
    struct strlist warnings = {0};
    mslam_log_set(fixture_collect_warnings, &warnings);
    int rc = train(manifest, out, "--init", init, "--d-model", "144", "--steps", "1", NULL);
    mslam_log_set(NULL, NULL);
    CHECK(rc == 0 && fixture_warned_of(&warnings, "keeps its architecture", "--d-model 144 (32)"),
          "--d-model 144 (the default) given with --init of a 32-wide model: rc %d, %zu warnings", rc, warnings.n);
    strlist_free(&warnings);
    free(out), free(init);
}

/* A corpus folder as --data is its manifest.tsv, in the options record too: a resume that names
 * the folder where the run named the file (or the other way round) is no other option. */
static void test_folder_as_manifest(const char *manifest) {
    char *out = str_printf("%s/folder-data", fixture_dir());
    struct strlist warnings = {0};
    CHECK(train(manifest, out, "--stop-at", "2", NULL) == 0, "%s", mslam_last_error());
    mslam_log_set(fixture_collect_warnings, &warnings);
    int rc = train(fixture_dir(), out, "--resume", "--stop-at", "3", "--valid", fixture_dir(), NULL);
    mslam_log_set(NULL, NULL);
    int warned = fixture_warned_of(&warnings, "written with other options", "");
    CHECK(rc == 0 && !warned, "--data FOLDER resumes a run of --data FOLDER/manifest.tsv: rc %d, warned %d (%s)", rc,
          warned, warnings.n ? warnings.items[0] : "");
    strlist_free(&warnings);
    /* a checkpoint recorded before these rules (data=FOLDER, data-weight=1): the same options */
    char *three = str_printf("%s/ckpt-00000003.safetensors", out), *options = checkpoint_options(three);
    char *data_was = str_printf("data=%s;", manifest), *data_old = str_printf("data=%s;", fixture_dir());
    char *at = options ? strstr(options, data_was) : NULL, *weight = options ? strstr(options, "data-weight=\n") : NULL;
    CHECK(at && weight, "the record holds %s and an empty data-weight: %s", data_was, options ? options : "(none)");
    if (at && weight) {
        GString *old = g_string_new_len(options, at - options);
        g_string_append(old, data_old);
        g_string_append_len(old, at + strlen(data_was), weight - (at + strlen(data_was)));
        g_string_append(old, "data-weight=1;\n");
        g_string_append(old, weight + strlen("data-weight=\n"));
        CHECK(checkpoint_rewrite(three, 0, old->str) == 0, "rewriting %s with an older record: %s", three,
              mslam_last_error());
        g_string_free(old, TRUE);
        mslam_log_set(fixture_collect_warnings, &warnings);
        rc = train(fixture_dir(), out, "--resume", "--stop-at", "4", NULL);
        mslam_log_set(NULL, NULL);
        warned = fixture_warned_of(&warnings, "written with other options", "");
        CHECK(rc == 0 && !warned, "a record of data=FOLDER and data-weight=1 resumes without a warning: rc %d, "
              "warned %d (%s)", rc, warned, warnings.n ? warnings.items[0] : "");
        strlist_free(&warnings);
    }
    free(three), free(options), free(data_was), free(data_old);
    free(out);
}

/* A key file's value of the wrong type: the error quotes it and says what is wanted (GLib says
 * only that it "cannot be interpreted"), and that a comment takes a line of its own. */
static void test_key_file_values(const char *manifest) {
    static const struct {
        const char *line, *says;
    } bad[] = {{"lr=fast", "key 'lr': 'fast' is not a number"},
               {"steps=1.5", "key 'steps': '1.5' is not a whole number"},
               {"no-specaug=yes", "key 'no-specaug': 'yes' is not true or false"},
               {"lr=0.1 # peak", "'0.1 # peak' is not a number (a key file's comment takes a line of its own)"}};
    char *conf = str_printf("%s/bad-value.conf", fixture_dir()), *err = str_printf("%s/bad-value.err", fixture_dir());
    char *out = str_printf("%s/bad-value", fixture_dir());
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char *text = str_printf("[train]\n%s\n", bad[i].line), *said = NULL;
        size_t n;
        write_file_atomic(conf, text, strlen(text));
        int saved = test_output_to(STDERR_FILENO, err);
        int rc = train(manifest, out, "--config", conf, NULL);
        test_output_restore(STDERR_FILENO, saved);
        CHECK(rc == 2 && read_file(err, 1 << 16, &said, &n) == 0 && strstr(said, bad[i].says) &&
                  access(out, F_OK) != 0,
              "key file line '%s': rc %d, said: %s", bad[i].line, rc, said ? said : "(nothing)");
        free(text), free(said);
    }
    free(conf), free(err), free(out);
}

/* The first step's "ctc" and "lid" losses of a run of --task multi (with --noise-prob noise_prob
 * unless NULL) into fixture folder `name`; 0 or -1. */
static int first_losses(const char *manifest, const char *name, const char *noise_prob, double *ctc, double *lid) {
    char *out = str_printf("%s/%s", fixture_dir(), name), *log = str_printf("%s/train.jsonl", out), *text = NULL;
    size_t n = 0;
    mslam_log_set(test_quiet_log, NULL);
    int rc = train(manifest, out, "--task", "multi", "--stop-at", "1", noise_prob ? "--noise-prob" : NULL, noise_prob, NULL) == 0 &&
                     read_file(log, 1 << 20, &text, &n) == 0
                 ? 0
                 : -1;
    mslam_log_set(NULL, NULL);
    const char *c = text ? strstr(text, "\"ctc\":") : NULL, *l = text ? strstr(text, "\"lid\":") : NULL;
    if (!c || !l) rc = -1;
    *ctc = c ? atof(c + 6) : -1, *lid = l ? atof(l + 6) : -1;
    free(text), free(log), free(out);
    return rc;
}

/* --noise-prob 1: every utterance is noise alone, trained as CTC blanks with no language: the log
 * has a CTC loss and no LID loss, where the same run without it has both. */
static void test_noise_prob(const char *manifest) {
    double ctc, lid, ctc_speech, lid_speech;
    CHECK(first_losses(manifest, "noise-alone", "1", &ctc, &lid) == 0 &&
              first_losses(manifest, "noise-control", NULL, &ctc_speech, &lid_speech) == 0,
          "runs with and without noise alone: %s", mslam_last_error());
    CHECK(ctc > 0 && lid == 0 && ctc_speech > 0 && lid_speech > 0,
          "noise alone: CTC loss %g, LID %g (the speech: %g, %g)", ctc, lid, ctc_speech, lid_speech);
    /* without CTC, noise alone teaches nothing: a warning says so */
    char *out = str_printf("%s/noise-lid", fixture_dir());
    struct strlist warnings = {0};
    mslam_log_set(fixture_collect_warnings, &warnings);
    CHECK(train(manifest, out, "--task", "lid", "--noise-prob", "0.5", "--stop-at", "1", NULL) == 0 &&
              fixture_warned_of(&warnings, "--noise-prob 0.5", "teach nothing"),
          "--noise-prob with --task lid warns (%zu warnings): %s", warnings.n, mslam_last_error());
    mslam_log_set(NULL, NULL);
    strlist_free(&warnings);
    free(out);
}

/* A peak learning rate that can only scramble the model is warned of; the usual ones are not. */
static void test_lr_warning(const char *manifest) {
    static const struct {
        const char *lr;
        int warns;
    } runs[] = {{"5", 1}, {"0.003", 0}};
    for (size_t i = 0; i < sizeof runs / sizeof *runs; i++) {
        char *out = str_printf("%s/lr-%s", fixture_dir(), runs[i].lr);
        struct strlist warnings = {0};
        mslam_log_set(fixture_collect_warnings, &warnings);
        int rc = train(manifest, out, "--lr", runs[i].lr, "--steps", "1", NULL);
        mslam_log_set(NULL, NULL);
        int warned = fixture_warned_of(&warnings, "--lr ", "scrambles the model");
        CHECK(rc == 0 && warned == runs[i].warns, "--lr %s: rc %d, warned %d (expected %d)", runs[i].lr, rc, warned,
              runs[i].warns);
        strlist_free(&warnings);
        free(out);
    }
    /* --lr-min above --lr: the rate rises after the warm-up instead of decaying */
    char *out = str_printf("%s/lr-min-above", fixture_dir());
    struct strlist warnings = {0};
    mslam_log_set(fixture_collect_warnings, &warnings);
    int rc = train(manifest, out, "--lr", "0.001", "--lr-min", "0.01", "--steps", "1", NULL);
    mslam_log_set(NULL, NULL);
    CHECK(rc == 0 && fixture_warned_of(&warnings, "--lr-min 0.01 is more than --lr 0.001", "instead of decaying"),
          "--lr-min above --lr: rc %d, not warned", rc);
    strlist_free(&warnings);
    /* a negative --stop-at had been taken for none */
    CHECK(train(manifest, out, "--stop-at", "-1", NULL) == 2 && strstr(mslam_last_error(), "--stop-at -1"),
          "--stop-at -1: %s", mslam_last_error());
    free(out);
}

/* eval --lid-seconds S: each language decision is mslam_identify_language's on the utterance's
 * first S seconds alone (as if its audio ended there: the tail padding after them, not the audio
 * that follows), for clips shorter than the utterances and longer. On test_st_input's randomised
 * model, whose decisions turn on small differences in the features: with the clip taken from the
 * whole utterance's features, 2 and 8 of 9 decisions matched (the trained model's matched
 * either way). */
static void test_lid_clips(const char *manifest) {
    char *model_path = str_printf("%s/exported-random.safetensors", fixture_dir());
    char *hyps = str_printf("%s/hyps-lid.tsv", fixture_dir());
    mslam_model *m = mslam_model_load(model_path, mslam_model_default_params());
    CHECK(m != NULL, "the randomised model: %s", mslam_last_error());
    static const char *const seconds[] = {"0.3", "0.47", "60"};
    for (size_t s = 0; m && s < sizeof seconds / sizeof *seconds; s++) {
        char *ev[] = {(char *)"eval", (char *)"--model", model_path, (char *)"--data", (char *)manifest,
                      (char *)"--tasks", (char *)"lid", (char *)"--modes", (char *)"offline", (char *)"--lid-seconds",
                      (char *)seconds[s], (char *)"--hyps", hyps, NULL};
        char *text = NULL;
        size_t n;
        CHECK(cmd_eval(13, ev) == 0 && read_file(hyps, 1 << 20, &text, &n) == 0, "eval --lid-seconds %s: %s",
              seconds[s], mslam_last_error());
        int rows = 0, same = 0, clipped = 0;
        char **lines = text ? g_strsplit(text, "\n", -1) : NULL;
        for (char **line = lines ? lines + 1 : NULL; line && *line; line++) {
            char **f = g_strsplit(*line, "\t", 8);
            if (g_strv_length(f) == 7 && !strcmp(f[1], "lid")) {
                struct audio a = {0};
                if (audio_read(f[2], &a) == 0 && a.rate == 16000) {
                    size_t clip = (size_t)llround(atof(seconds[s]) * 16000);
                    clipped += a.n > clip;
                    float probs[16];
                    int lang = mslam_identify_language(m, a.samples, a.n < clip ? a.n : clip, NULL, probs);
                    same += lang >= 0 && !strcmp(mslam_model_lang(m, lang), f[6]);
                }
                audio_free(&a);
                rows++;
            }
            g_strfreev(f);
        }
        g_strfreev(lines);
        free(text);
        printf("  eval --lid-seconds %s: %d of %d decisions as the API's on the clip (%d clipped)\n", seconds[s], same,
               rows, clipped);
        CHECK(rows == 9 && same == rows && (s == 2 ? clipped == 0 : clipped > 0),
              "eval --lid-seconds %s: %d of %d decisions as mslam_identify_language's on the clip (%d clipped)",
              seconds[s], same, rows, clipped);
    }
    mslam_model_free(m);
    free(model_path), free(hyps);
}

/* Options that shape a validation, given without --valid (on the command line or in a key file),
 * are warned of; with --valid they are not. */
static void test_validation_options_alone(const char *manifest) {
    char *conf = str_printf("%s/valid-alone.conf", fixture_dir());
    const char *keys = "[train]\nvalid-split=test\n";
    CHECK(write_file_atomic(conf, keys, strlen(keys)) == 0, "key file");
    static const struct {
        int with_valid, warns;
    } runs[] = {{0, 1}, {1, 0}};
    for (size_t i = 0; i < sizeof runs / sizeof *runs; i++) {
        char *out = str_printf("%s/valid-alone-%zu", fixture_dir(), i);
        struct strlist warnings = {0};
        mslam_log_set(fixture_collect_warnings, &warnings);
        int rc = runs[i].with_valid ? train(manifest, out, "--valid-items", "3", "--config", conf, "--steps", "1",
                                            "--valid", manifest, NULL)
                                    : train(manifest, out, "--valid-items", "3", "--config", conf, "--steps", "1", NULL);
        mslam_log_set(NULL, NULL);
        int warned = fixture_warned_of(&warnings, "--valid-items, --valid-split given without --valid", "");
        CHECK(rc == 0 && warned == runs[i].warns, "--valid-items and a key file's valid-split %s --valid: rc %d, "
              "warned %d (%zu warnings)", runs[i].with_valid ? "with" : "without", rc, warned, warnings.n);
        strlist_free(&warnings);
        free(out);
    }
    free(conf);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: test_train_run PATH-OF-mslam-trainer\n");
        return 2;
    }
    const char *manifest = fixture_write(8, 0);
    CHECK(manifest != NULL, "fixture");
    if (!manifest) return test_result("test_train_run");
    test_exact_resume(manifest);
    test_resume_data(manifest);
    test_data_weights(manifest);
    test_text_data_weights(manifest);
    test_lr_warning(manifest);
    test_noise_prob(manifest);
    test_validation_options_alone(manifest);
    test_init_architecture(manifest);
    test_key_file_values(manifest);
    test_folder_as_manifest(manifest);
    test_freeze_encoder(manifest);
    test_vocab_data(manifest);
    test_lid_probe(manifest);
    test_reinit(manifest);
    test_cache_encoder(manifest);
    test_non_finite(manifest);
    test_signal(argv[1], manifest);
    test_eval_export(argv[1], manifest);
    test_eval_interrupt(argv[1], manifest);
    test_refusals(manifest);
    test_idle_settings(manifest);
    test_damaged_checkpoint(manifest);
    test_log_interval(manifest);
    test_st_input(manifest);
    test_lid_clips(manifest);
    test_text_pairs(manifest);
    test_accumulate(manifest);
    test_best_and_patience(manifest);
    test_dropout(manifest);
    test_translate_input(manifest);
    test_export_average();
    test_pretrain(manifest);
    fixture_remove();
    return test_result("test_train_run");
}
