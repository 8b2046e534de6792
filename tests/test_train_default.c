/* models/train-default.sh end to end on a tiny corpus: the two-hour path (STAGE3=0) with every
 * stage cut to 2 steps of a tiny model (EXTRA), then models/make-lms.sh (both LMs and the
 * translation memory, from catalogs written here where make-corpus.sh unpacks its own), the
 * scores, the F16 export. Checks that each stage trains on its own data (stage 0 on its
 * Latin-script subset, stages 1 and 2 on every language) and that the script writes what it
 * promises. The fixture's fr rows are relabelled ro, a language outside stage 0's six.
 * Usage: test_train_default PATH-OF-train-default.sh BUILD-DIR */
#include "checkpoint.h"
#include "testutil.h"
#include "train_fixture.h"
#include "util.h"

#include <glib.h>
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

/* Catalogs where models/make-corpus.sh unpacks its own beside CORPUS: CORPUS-catalogs (none
 * but a folder each) and CORPUS-st-catalogs (es it pt ca ro fr: 60 messages each, which
 * make-lms.sh's text-pair corpus reads, its English text their English sources, and its
 * French text fr's: the fixture has no French rows, so the LM leaves it out). Returns 0 or -1. */
static int write_catalogs(const char *corpus) {
    /* the fixture's English words (whose capitals the test's manifest puts in the vocabulary, so
     * that the LM of translations has sentences) and theirs */
    static const char *const english[6] = {"Yes", "No", "House", "Bread", "Train", "Sea"};
    static const char *const langs[6][7] = {
        {"es", "si", "no", "casa", "pan", "tren", "mar"},       {"it", "si", "no", "casa", "pane", "treno", "mare"},
        {"pt_BR", "sim", "nao", "casa", "pao", "trem", "mar"},  {"ca", "si", "no", "casa", "pa", "tren", "mar"},
        {"ro", "da", "nu", "casa", "paine", "tren", "mare"},    {"fr", "oui", "non", "maison", "pain", "train", "mer"},
    };
    char *dirs[3] = {str_printf("%s-catalogs/usr/share/locale", corpus),
                     str_printf("%s-catalogs/usr/share/games/fortunes", corpus), NULL};
    int rc = mkdir_p(dirs[0]) || mkdir_p(dirs[1]) ? -1 : 0;
    enum { N = 60 };
    char *ids[N], *strs[N];
    for (int l = 0; l < 6 && rc == 0; l++) {
        dirs[2] = str_printf("%s-st-catalogs/usr/share/locale/%s/LC_MESSAGES", corpus, langs[l][0]);
        char *path = str_printf("%s/mslam-test.mo", dirs[2]);
        rc = mkdir_p(dirs[2]);
        for (int i = 0; i < N; i++) {
            /* three words, every sentence another: the first two are i's last two digits in base
             * 6, the third tells the first 36 from the rest */
            int w[3] = {i % 6, i / 6 % 6, (i / 36 + i) % 6};
            ids[i] = str_printf("%s %s %s", english[w[0]], english[w[1]], english[w[2]]);
            strs[i] = str_printf("%s %s %s", langs[l][1 + w[0]], langs[l][1 + w[1]], langs[l][1 + w[2]]);
            strs[i][0] = (char)(strs[i][0] - 'a' + 'A');
        }
        if (rc == 0) test_write_mo(path, (const char *const *)ids, NULL, (const char *const *)strs, N, 0);
        for (int i = 0; i < N; i++) free(ids[i]), free(strs[i]);
        free(path);
        free(dirs[2]);
    }
    free(dirs[0]), free(dirs[1]);
    return rc;
}

/* Runs train-default.sh (at script, with the trainer of build_dir) on corpus into out with every
 * stage cut to 2 steps of a tiny model and the options extra, the environment's settings (e.g.
 * "STAGE3=0") before it; its output in the fixture's script.log, printed when it fails. Returns
 * its status. */
static int run_script(const char *script, const char *build_dir, const char *corpus, const char *out,
                      const char *settings, const char *extra) {
    char *command = str_printf(
        "%s MSLAM_BUILD_DIR='%s' EXTRA='--steps 2 --batch-size 4 --d-model 32 --heads 2 --ff 64 --kernel 5 "
        "--sub-channels 8 --speech-layers 1 --shared-layers 1 --decoder-layers 1 --stats-items 12 --valid-items 6 %s' "
        "sh '%s' '%s' '%s' > '%s/script.log' 2>&1",
        settings, build_dir, extra, script, corpus, out, fixture_dir());
    int status = system(command);
    char *log = str_printf("%s/script.log", fixture_dir()), *log_text = NULL;
    size_t n = 0;
    if (status != 0 && read_file(log, 1 << 20, &log_text, &n) == 0) fprintf(stderr, "%s\n", log_text);
    free(log_text), free(log), free(command);
    return status;
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
    /* fr -> ro, and every word of the translations capitalised (see write_catalogs); the
     * manifest doubles as the corpus's text.tsv, which the LM reads */
    char *corpus_text = str_printf("%s/text.tsv", fixture_dir());
    FILE *f = text ? fopen(manifest, "w") : NULL, *g = f ? fopen(corpus_text, "w") : NULL;
    gchar **lines = g ? g_strsplit(text, "\n", -1) : NULL;
    for (int row = 0; lines && lines[row] && *lines[row]; row++) {
        /* columns: path lang text translation ... */
        gchar **field = g_strsplit(lines[row], "\t", -1);
        if (row > 0 && g_strv_length(field) > 3) {
            if (!strcmp(field[1], "fr")) strcpy(field[1], "ro");
            for (char *c = field[3]; *c; c++)
                if ((c == field[3] || c[-1] == ' ') && *c >= 'a' && *c <= 'z') *c = (char)(*c - 'a' + 'A');
        }
        gchar *joined = g_strjoinv("\t", field);
        fprintf(f, "%s\n", joined);
        fprintf(g, "%s\n", joined);
        g_free(joined);
        g_strfreev(field);
    }
    g_strfreev(lines);
    CHECK(f && g, "rewriting the manifest");
    if (f) fclose(f);
    if (g) fclose(g);
    free(text);
    free(corpus_text);

    /* the corpus as FIXTURE/corpus, a link to the fixture folder, so that its catalogs
     * (CORPUS-catalogs) are inside the folder fixture_remove deletes */
    char *corpus = str_printf("%s/corpus", fixture_dir());
    CHECK(symlink(".", corpus) == 0, "linking %s to its folder", corpus);
    CHECK(write_catalogs(corpus) == 0, "writing the catalogs beside %s", corpus);
    char *out = str_printf("%s/run", fixture_dir());
    CHECK(run_script(argv[1], argv[2], corpus, out, "STAGE3=0", "") == 0, "train-default.sh STAGE3=0 failed");

    /* stage 0: de and en (stage 0's awk keeps en de fr es it pt); then every language */
    char *stage0 = str_printf("%s/stage0", out), *stage1 = str_printf("%s/stage1", out);
    int langs0 = model_langs(stage0), langs1 = model_langs(stage1), langs2 = model_langs(out);
    CHECK(langs0 == 2 && langs1 == 3 && langs2 == 3,
          "languages of stages 0, 1, 2: %d, %d, %d (want 2, 3, 3)", langs0, langs1, langs2);
    const char *const written[] = {"default.safetensors", "lm.safetensors", "translation-lm.safetensors",
                                   "translation-memory.safetensors", "text-st/text.tsv", "text-en/text.tsv", "text-fr/text.tsv",
                                   "eval-test.txt",
                                   "eval-test.json", "eval-test-st5-memory.json", "eval-test-st49-memory.json",
                                   "train.jsonl", "stage0/train.jsonl", "stage1/train.jsonl"};
    for (size_t i = 0; i < sizeof written / sizeof *written; i++) {
        char *path = str_printf("%s/%s", out, written[i]);
        CHECK(access(path, F_OK) == 0, "the script did not write %s", path);
        free(path);
    }

    /* BUNDLED=1 on: stages 4-14 from stage 2's model (stages 0-2 are there and not trained
     * again), the translation corpus CORPUS-st and those of one language, CORPUS-en and
     * CORPUS-fr, the fixture again,
     * 8 of its 42 text pairs a step; stage 9 stops at step 1 of its 2 */
    const char *const linked[] = {"st", "en", "fr"};
    for (size_t i = 0; i < sizeof linked / sizeof *linked; i++) {
        char *link = str_printf("%s-%s", corpus, linked[i]);
        CHECK(symlink(".", link) == 0, "linking %s to its folder", link);
        free(link);
    }
    CHECK(run_script(argv[1], argv[2], corpus, out, "BUNDLED=1 STOP9=1", "--text-batch 8") == 0, "train-default.sh BUNDLED=1 failed");
    const char *const bundled[] = {"stage4/model.safetensors", "stage9/ckpt-00000001.safetensors",
                                   "stage10/f16.safetensors", "stage11/f16.safetensors", "stage12/f16.safetensors",
                                   "stage13/f16.safetensors", "stage14/model.safetensors",
                                   "bundled.safetensors",
                                   "eval-test-text-pairs-tlm.json", "eval-test-st5-memory.json"};
    for (size_t i = 0; i < sizeof bundled / sizeof *bundled; i++) {
        char *path = str_printf("%s/%s", out, bundled[i]);
        CHECK(access(path, F_OK) == 0, "BUNDLED=1: the script did not write %s", path);
        free(path);
    }
    free(stage0), free(stage1), free(out), free(corpus);
    fixture_remove();
    return test_result("test_train_default");
}
