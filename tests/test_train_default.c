/* models/train-default.sh end to end on a tiny corpus: the two-hour path (STAGE3=0) with every
 * stage cut to 2 steps of a tiny model (EXTRA), then the LM, the scores, the F16 export. Checks
 * that each stage trains on its own data (stage 0 on its Latin-script subset, stages 1 and 2 on
 * every language) and that the script writes what it promises. The fixture's fr rows are
 * relabelled ro, a language outside stage 0's six.
 * Usage: test_train_default PATH-OF-train-default.sh BUILD-DIR */
#include "checkpoint.h"
#include "testutil.h"
#include "train_fixture.h"
#include "util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Languages of a stage's model, or -1. */
static int model_langs(const char *dir) {
    char *path = str_printf("%s/model.safetensors", dir);
    mslam_model *m = NULL;
    int n = checkpoint_load(path, &m, NULL, NULL) == 0 ? m->cfg.n_langs : -1;
    mslam_model_free(m);
    free(path);
    return n;
}

int main(int argc, char **argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: test_train_default PATH-OF-train-default.sh BUILD-DIR\n");
        return 2;
    }
    const char *manifest = fixture_write(6, 0);
    CHECK(manifest != NULL, "fixture");
    if (!manifest) return test_result("test_train_default");
    char *text = NULL;
    size_t n = 0;
    CHECK(read_file(manifest, 1 << 20, &text, &n) == 0, "reading %s", manifest);
    /* fr -> ro; the manifest doubles as the corpus's text.tsv, which the LM reads */
    char *corpus_text = str_printf("%s/text.tsv", fixture_dir());
    FILE *f = text ? fopen(manifest, "w") : NULL, *g = f ? fopen(corpus_text, "w") : NULL;
    for (char *line = text, *end; g && line && *line; line = end ? end + 1 : NULL) {
        end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line + 1) : strlen(line);
        char *tab = memchr(line, '\t', len);
        for (FILE *out = f; out; out = out == f ? g : NULL) {
            if (tab && !strncmp(tab, "\tfr\t", 4)) {
                fwrite(line, 1, (size_t)(tab - line), out);
                fputs("\tro\t", out);
                fwrite(tab + 4, 1, len - (size_t)(tab + 4 - line), out);
            } else {
                fwrite(line, 1, len, out);
            }
        }
    }
    CHECK(f && g, "rewriting the manifest");
    if (f) fclose(f);
    if (g) fclose(g);
    free(text);
    free(corpus_text);

    char *out = str_printf("%s/run", fixture_dir());
    char *command = str_printf(
        "STAGE3=0 MSLAM_BUILD_DIR='%s' EXTRA='--steps 2 --batch-size 4 --d-model 32 --heads 2 --ff 64 --kernel 5 "
        "--sub-channels 8 --speech-layers 1 --shared-layers 1 --decoder-layers 1 --stats-items 12 --valid-items 6' "
        "sh '%s' '%s' '%s' > '%s/script.log' 2>&1",
        argv[2], argv[1], fixture_dir(), out, fixture_dir());
    int status = system(command);
    char *log = str_printf("%s/script.log", fixture_dir()), *log_text = NULL;
    if (status != 0 && read_file(log, 1 << 20, &log_text, &n) == 0) fprintf(stderr, "%s\n", log_text);
    CHECK(status == 0, "train-default.sh failed (status %d)", status);
    free(log_text), free(log), free(command);

    /* stage 0: de and en (stage 0's awk keeps en de fr es it pt); then every language */
    char *stage0 = str_printf("%s/stage0", out), *stage1 = str_printf("%s/stage1", out);
    int langs0 = model_langs(stage0), langs1 = model_langs(stage1), langs2 = model_langs(out);
    CHECK(langs0 == 2 && langs1 == 3 && langs2 == 3,
          "languages of stages 0, 1, 2: %d, %d, %d (want 2, 3, 3)", langs0, langs1, langs2);
    const char *const written[] = {"default.safetensors", "lm.safetensors", "eval-test.txt", "eval-test.json",
                                   "train.jsonl", "stage0/train.jsonl", "stage1/train.jsonl"};
    for (size_t i = 0; i < sizeof written / sizeof *written; i++) {
        char *path = str_printf("%s/%s", out, written[i]);
        CHECK(access(path, F_OK) == 0, "the script did not write %s", path);
        free(path);
    }
    free(stage0), free(stage1), free(out);
    fixture_remove();
    return test_result("test_train_default");
}
