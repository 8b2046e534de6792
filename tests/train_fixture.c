#include "train_fixture.h"

#include "audio.h"
#include "data.h"
#include "model.h"
#include "ops.h"
#include "testutil.h"
#include "util.h"

#include <ftw.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static char dir[4096], manifest[4200], sub[4300];

const char *fixture_dir(void) { return dir; }

static const char *const langs[3] = {"de", "en", "fr"};
/* Words per language; a sentence is two or three of them. */
static const char *const words[3][6] = {
    {"ja", "nein", "haus", "brot", "zug", "see"},
    {"yes", "no", "house", "bread", "train", "sea"},
    {"oui", "non", "maison", "pain", "train", "mer"},
};

/* One 60 ms tone per character with a language-specific overtone, 30 ms of silence between
 * words, a little noise. */
static int write_utterance(const char *path, const char *text, int lang, mslam_rng *rng) {
    struct audio a = {.rate = 16000};
    size_t tone = 960, gap = 480;
    for (const char *c = text; *c; c++) {
        size_t n = *c == ' ' ? gap : tone;
        if (audio_reserve(&a, a.n + n)) return -1;
        double f = 200.0 + 37.0 * (unsigned char)(*c - 'a');
        for (size_t i = 0; i < n; i++) {
            double t = (double)i / 16000;
            double x = *c == ' ' ? 0 : 0.3 * sin(2 * M_PI * f * t) + 0.1 * sin(2 * M_PI * f * (2 + lang) * t);
            a.samples[a.n++] = (float)(x + 0.01 * mslam_rng_normal(rng));
        }
    }
    int rc = audio_write(path, &a, AUDIO_FLAC);
    audio_free(&a);
    return rc;
}

const char *fixture_write(int n_per_lang, int flags) {
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/mslam-train-XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) return NULL;
    snprintf(manifest, sizeof manifest, "%s/manifest.tsv", dir);
    FILE *f = fopen(manifest, "w");
    if (!f) return NULL;
    fprintf(f, "path\tlang\ttext\ttranslation\tduration\tspeaker\tsplit\n");
    mslam_rng rng;
    mslam_rng_seed(&rng, 7);
    static const char *const splits[3] = {"train", "dev", "test"};
    int rc = 0;
    for (int l = 0; l < 3 && !rc; l++) {
        for (int s = 0; s < 3 && !rc; s++) {
            int n = s == 0 ? n_per_lang : 3;
            for (int i = 0; i < n && !rc; i++) {
                char text[128] = "", trans[128] = "", name[64], path[4400];
                int n_words = 2 + (int)(mslam_rng_uniform(&rng) * 2);
                for (int w = 0; w < n_words; w++) {
                    int k = (int)(mslam_rng_uniform(&rng) * 6);
                    strcat(text, w ? " " : ""), strcat(text, words[l][k]);
                    strcat(trans, w ? " " : ""), strcat(trans, words[1][k]);
                }
                snprintf(name, sizeof name, "%s_%s_%03d.flac", langs[l], splits[s], i);
                snprintf(path, sizeof path, "%s/%s", dir, name);
                rc = write_utterance(path, text, l, &rng);
                /* English is the target language: its rows have no translation */
                fprintf(f, "%s\t%s\t%s\t%s\t\tv%d\t%s\n", name, langs[l], text, l == 1 ? "" : trans, i % 2, splits[s]);
            }
        }
    }
    if (!rc && (flags & FIXTURE_BAD_ROWS)) {
        char path[4400];
        /* zero-length audio */
        struct audio empty = {.rate = 16000};
        snprintf(path, sizeof path, "%s/empty.wav", dir);
        rc = audio_write(path, &empty, AUDIO_WAV);
        /* not audio at all */
        snprintf(path, sizeof path, "%s/corrupt.flac", dir);
        FILE *c = fopen(path, "w");
        if (c) fputs("this is not a FLAC file\n", c), fclose(c);
        fprintf(f, "missing.flac\tde\tja nein\tyes no\t\tv0\ttrain\n");
        fprintf(f, "empty.wav\tde\tja nein\tyes no\t\tv0\ttrain\n");
        fprintf(f, "corrupt.flac\tde\tja nein\tyes no\t\tv0\ttrain\n");
        /* a transcript with nothing to recognise once normalised (an empty one is a bad row,
         * which the manifest reader refuses with the line number) */
        fprintf(f, "de_train_000.flac\tde\t?!\t\t\tv0\ttrain\n");
    }
    if (fclose(f) || rc) return NULL;
    return manifest;
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st, (void)type, (void)ftw;
    return remove(path);
}

void fixture_remove(void) {
    if (*dir) nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    *dir = '\0';
}

const char *fixture_subdir(const char *name) {
    snprintf(sub, sizeof sub, "%s/%s", dir, name);
    mkdir(sub, 0755);
    return sub;
}

mslam_model *fixture_model(const char *manifest, struct mslam_model_config *cfg, unsigned long long seed) {
    dataset ds = {0};
    struct strlist vocab = {0}, langs = {0};
    mslam_model *m = NULL;
    if (dataset_load_split(&ds, manifest, NULL, NULL, NULL, "all", NULL) == 0 && vocab_build(&ds, NULL, 1, &vocab) == 0 &&
        langs_build(&ds, &langs) == 0) {
        cfg->vocab_size = (int)vocab.n;
        cfg->n_langs = (int)langs.n;
        m = mslam_model_new(cfg, (const char *const *)vocab.items, (const char *const *)langs.items);
        if (m) test_randomise_model(m, seed, 0.3f);
    }
    strlist_free(&vocab), strlist_free(&langs);
    dataset_free(&ds);
    return m;
}

int fixture_count_lines(const char *path) {
    char *text = NULL;
    size_t n = 0;
    if (access(path, F_OK) || read_file(path, 1 << 20, &text, &n)) return 0; /* not yet written: no error */
    int lines = 0;
    for (size_t i = 0; i < n; i++) lines += text[i] == '\n';
    free(text);
    return lines;
}

int fixture_interrupt(char *const argv[], const char *log, int lines, int sig) {
    return fixture_interrupt_after(argv, log, lines, sig, NULL, NULL);
}

/* Waits, in 10-ms polls, until pid ends (1, *status set) or, with log, until log holds `lines`
 * lines (0); after 60 s pid is killed (-2); -1 when waitpid fails. */
static int wait_child(pid_t pid, int *status, const char *log, int lines) {
    for (int waited_ms = 0; !log || fixture_count_lines(log) < lines; waited_ms += 10) {
        pid_t done = waitpid(pid, status, WNOHANG);
        if (done == pid) return 1;
        if (done < 0) return -1;
        if (waited_ms >= 60000) {
            kill(pid, SIGKILL);
            waitpid(pid, status, 0);
            return -2;
        }
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
    return 0;
}

int fixture_interrupt_after(char *const argv[], const char *log, int lines, int sig, void (*meanwhile)(void *),
                            void *data) {
    pid_t pid = fork();
    if (pid < 0) return -1;
    if (pid == 0) {
        /* as a terminal's process would have it: a test run under nohup ignores SIGHUP, which the
         * trainer then leaves ignored, and would run on (a runner may block it, too) */
        signal(sig, SIG_DFL);
        sigset_t one;
        sigemptyset(&one);
        sigaddset(&one, sig);
        sigprocmask(SIG_UNBLOCK, &one, NULL);
        execv(argv[0], argv);
        _exit(127);
    }
    int status = 0, got = wait_child(pid, &status, log, lines);
    if (got != 0) return got == 1 ? -2 : got; /* ended before the log had the lines, or stuck */
    if (meanwhile) meanwhile(data);
    kill(pid, sig);
    got = wait_child(pid, &status, NULL, 0); /* 60 s at most for it to stop, not meson's timeout */
    return got == 1 ? status : got;
}

void fixture_compare_runs(const char *dir_a, const char *dir_b, int steps, const char *what) {
    char *pa = str_printf("%s/model.safetensors", dir_a), *pb = str_printf("%s/model.safetensors", dir_b);
    mslam_model *a = mslam_model_load(pa, mslam_model_default_params());
    mslam_model *b = mslam_model_load(pb, mslam_model_default_params());
    CHECK(a && b, "%s: both runs wrote a model: %s", what, mslam_last_error());
    if (a && b && a->table.total == b->table.total) {
        /* Parameters: the sums run in another order, and Adam divides each gradient by its own
         * running size, so directions with a near-zero gradient (the relative-position projection
         * along the nearly constant low-frequency sinusoids) move by rounding noise times the
         * learning rate; the parameters agree to ~1e-5 overall and the model's outputs agree. */
        double diff = 0, norm = 0;
        for (size_t i = 0; i < a->table.total; i++) {
            double d = (double)a->block[i] - b->block[i];
            diff += d * d;
            norm += (double)a->block[i] * a->block[i];
        }
        printf("%s after %d steps: relative L2 difference of the parameters %.3g\n", what, steps, sqrt(diff / norm));
        CHECK(sqrt(diff / norm) < 1e-3, "%s: parameters agree (relative L2 %.3g)", what, sqrt(diff / norm));
        /* the encoder output of one utterance */
        struct audio pcm = {0};
        char *wav = str_printf("%s/de_test_000.flac", fixture_dir());
        int fa = 0, fb = 0;
        float *ya = NULL, *yb = NULL;
        if (audio_read(wav, &pcm) == 0) {
            ya = mslam_encode_pcm(a, pcm.samples, pcm.n, NULL, &fa);
            yb = mslam_encode_pcm(b, pcm.samples, pcm.n, NULL, &fb);
        }
        CHECK(ya && yb && fa == fb && fa > 0, "%s: encode", what);
        if (ya && yb && fa == fb) {
            /* outputs of a LayerNorm, of unit scale: relative to at least 1e-2, as a difference
             * of 1e-6 on an element near zero is rounding that the steps carried (an ASan build on
             * OpenBLAS's SkylakeX kernels: 1.5e-3 relative to 1e-3 on one element of 6 x 2 micro-
             * batches of 2 against 4) */
            double err = test_max_rel_err(yb, ya, (size_t)fa * a->cfg.d_model, 1e-2f);
            printf("%s: encoder outputs: max relative difference %.3g\n", what, err);
            CHECK(err < 1e-3, "%s: encoder outputs agree (%.3g)", what, err);
        }
        mslam_free(ya), mslam_free(yb), audio_free(&pcm), free(wav);
        /* the losses of every step, as each run logged them */
        char *la = str_printf("%s/train.jsonl", dir_a), *lb = str_printf("%s/train.jsonl", dir_b);
        char *ta = NULL, *tb = NULL;
        size_t na, nb;
        CHECK(read_file(la, 1 << 20, &ta, &na) == 0 && read_file(lb, 1 << 20, &tb, &nb) == 0, "%s: logs", what);
        int logged = 0;
        for (const char *xa = ta, *xb = tb; xa && xb && (xa = strstr(xa, "\"loss\":")) && (xb = strstr(xb, "\"loss\":"));
             xa++, xb++, logged++) {
            double x = atof(xa + 7), y = atof(xb + 7);
            CHECK(fabs(x - y) <= 1e-4 * fabs(x), "%s: step %d: loss %.6g vs %.6g", what, logged + 1, x, y);
        }
        CHECK(logged == steps, "%s: %d logged steps in each run, got %d", what, steps, logged);
        free(la), free(lb), free(ta), free(tb);
    }
    mslam_model_free(a), mslam_model_free(b);
    free(pa), free(pb);
}

void fixture_collect_warnings(enum mslam_log_level level, const char *message, void *user_data) {
    if (level == MSLAM_LOG_WARN) strlist_push(user_data, message);
}

int fixture_warned_of(const struct strlist *warnings, const char *a, const char *b) {
    for (size_t i = 0; i < warnings->n; i++)
        if (strstr(warnings->items[i], a) && strstr(warnings->items[i], b)) return 1;
    return 0;
}
