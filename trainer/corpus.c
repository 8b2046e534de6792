#include "corpus.h"

#include "augment.h"
#include "common.h"
#include "langs.h"
#include "ops.h"
#include "options.h"
#include "othersynth.h"
#include "progress.h"
#include "synth.h"
#include "textsrc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#define CORPUS_RATE 16000.0
#define DEFAULT_FORTUNE_DIR "/usr/share/games/fortunes"
#define MAX_BABBLE 4
#define PARTS_DIR ".parts"
/* Salts that keep the hashes of different decisions independent. */
#define SALT_ORDER 0x6f72646572ULL
#define SALT_UTTERANCE 0x7574746572ULL

/* ---- options ---- */

static const char *const default_voices[SPLIT_N] = {
    [SPLIT_TRAIN] = "m1,m2,m3,m4,m5,f1,f2,f3,klatt,klatt2,klatt3",
    [SPLIT_DEV] = "m6,f4,klatt4",
    [SPLIT_TEST] = "m7,m8,f5,klatt5,klatt6",
};

int corpus_default_options(struct corpus_options *o) {
    *o = (struct corpus_options){
        .out_dir = "corpus",
        .utterances = {[SPLIT_TRAIN] = 400, [SPLIT_DEV] = 50, [SPLIT_TEST] = 50},
        .text_per_lang = 5000,
        .seed = 1,
        .locale_dir = "/usr/share/locale",
        .fortune_dir = DEFAULT_FORTUNE_DIR,
        .format = AUDIO_FLAC,
        .rate = {130, 210},
        .pitch = {30, 70},
        .noise_prob = 0.5,
        .snr_db = {5, 30},
        .speed_prob = 0.3,
        .speed = {0.9, 1.1},
        .reverb_prob = 0.3,
        .rt60 = {0.2, 0.8},
        .gain_db = {-6, 6},
        .progress = -1,
        .worker_seconds = 300,
        .other_share = 0.5,
    };
    for (int s = SPLIT_TRAIN; s < SPLIT_N; s++)
        if (strlist_split(&o->voices[s], default_voices[s])) return -1;
    return 0;
}

void corpus_options_free(struct corpus_options *o) {
    strlist_free(&o->langs);
    for (int s = 0; s < SPLIT_N; s++) strlist_free(&o->voices[s]);
}

static int check_range(const char *name, struct range r, double lo, double hi) {
    if (!(r.min >= lo && r.max <= hi && r.min <= r.max))
        return mslam_error("--%s %g:%g: expected %g <= min <= max <= %g", name, r.min, r.max, lo, hi);
    return 0;
}

static int check_probability(const char *name, double p) {
    if (!(p >= 0.0 && p <= 1.0)) return mslam_error("--%s %g: expected a probability in [0, 1]", name, p);
    return 0;
}

/* --espeak-data DIR: espeak-ng reads DIR/espeak-ng-data when that is a folder, else DIR, and when
 * neither is a folder it silently speaks with the installed data (while corpus.conf records DIR);
 * a folder without the phoneme tables fails with a bare "No such file or directory". So the folder
 * must hold what espeak_ng_Initialize loads, and the voices the corpus picks its variants from. */
static int check_espeak_data(const char *dir) {
    static const char *const needed[] = {"phontab", "phonindex", "phondata", "intonations", "voices/"};
    struct stat st;
    if (stat(dir, &st) != 0)
        return mslam_error("--espeak-data %s: %s (espeak-ng's data folder, as the installed one that "
                           "espeak-ng --version names)", dir, errno == ENOENT ? "no such folder" : strerror(errno));
    if (!S_ISDIR(st.st_mode)) return mslam_error("--espeak-data %s: not a folder (espeak-ng's data folder)", dir);
    char *nested = path_join(dir, "espeak-ng-data");
    if (!nested) return -1;
    const char *data = is_folder(nested) ? nested : dir;
    GString *missing = g_string_new(NULL);
    for (size_t i = 0; i < sizeof needed / sizeof *needed; i++) {
        size_t len = strlen(needed[i]);
        int folder = needed[i][len - 1] == '/';
        char *path = str_printf("%s/%.*s", data, (int)(len - folder), needed[i]);
        if (path && !(folder ? is_folder(path) : file_exists(path)))
            g_string_append_printf(missing, "%s%s", missing->len ? ", " : "", needed[i]);
        free(path);
    }
    int rc = missing->len ? mslam_error("--espeak-data %s: %s holds no espeak-ng data (no %s); give espeak-ng's "
                                        "data folder, or one that holds it as espeak-ng-data/",
                                        dir, data, missing->str)
                          : 0;
    g_string_free(missing, TRUE);
    free(nested);
    return rc;
}

static int check_options(const struct corpus_options *o) {
    /* (an unset variable, --out "$OUT": the build went into the root folder) */
    if (!o->out_dir || !*o->out_dir) return mslam_error("--out is empty: name the corpus's folder");
    for (int s = SPLIT_TRAIN; s < SPLIT_N; s++) {
        if (o->utterances[s] < 0 || o->utterances[s] > 10000000)
            return mslam_error("--%s %d: expected 0 to 10000000 utterances", split_name(s), o->utterances[s]);
        size_t variants = 0;
        for (size_t i = 0; i < o->voices[s].n; i++) {
            const struct other_voice *other;
            if (othersynth_lookup(o->voices[s].items[i], split_name(s), &other)) return -1;
            variants += other == NULL;
        }
        /* another synthesizer's voice speaks its own language alone: espeak-ng speaks the rest */
        if (o->utterances[s] > 0 && variants == 0)
            return mslam_error("--%s-voices has no espeak-ng voice variant, but %d %s utterance%s asked for: add one "
                               "(m1, f2, klatt3, ...); other synthesizers' voices speak only their own language",
                               split_name(s), o->utterances[s], split_name(s), o->utterances[s] == 1 ? " is" : "s are");
    }
    if (o->text_per_lang < 0) return mslam_error("--text-per-lang %d: expected >= 0", o->text_per_lang);
    /* A voice heard in training must not be heard in dev or test: test measures new speakers. */
    for (int a = SPLIT_TRAIN; a < SPLIT_N; a++)
        for (int b = a + 1; b < SPLIT_N; b++)
            for (size_t i = 0; i < o->voices[a].n; i++)
                if (strlist_contains(&o->voices[b], o->voices[a].items[i]))
                    return mslam_error("voice '%s' is in both --%s-voices and --%s-voices; splits must "
                                       "not share voices",
                                       o->voices[a].items[i], split_name(a), split_name(b));
    /* nor a speaker: Festival's and flite's kal (and slt) are one person's recordings */
    for (int a = SPLIT_TRAIN; a < SPLIT_N; a++)
        for (int b = a + 1; b < SPLIT_N; b++)
            for (size_t i = 0; i < o->voices[a].n; i++)
                for (size_t j = 0; j < o->voices[b].n; j++) {
                    const struct other_voice *x, *y;
                    othersynth_lookup(o->voices[a].items[i], NULL, &x); /* known: checked above */
                    othersynth_lookup(o->voices[b].items[j], NULL, &y);
                    if (x && y && !strcmp(x->speaker, y->speaker))
                        return mslam_error("voices %s (--%s-voices) and %s (--%s-voices) are one speaker's "
                                           "recordings (%s); splits must not share speakers",
                                           x->name, split_name(a), y->name, split_name(b), x->speaker);
                }
    if (check_range("rate", o->rate, 80, 450) || check_range("pitch", o->pitch, 0, 100) ||
        check_range("snr", o->snr_db, -20, 100) || check_range("speed", o->speed, 0.5, 2.0) ||
        check_range("rt60", o->rt60, 0.01, 5.0) || check_range("gain", o->gain_db, -40, 40) ||
        check_probability("noise-prob", o->noise_prob) || check_probability("speed-prob", o->speed_prob) ||
        check_probability("reverb-prob", o->reverb_prob) || check_probability("other-share", o->other_share))
        return -1;
    for (size_t i = 0; i < o->langs.n; i++)
        if (!lang_find(o->langs.items[i]))
            return mslam_error("unknown language '%s' (mslam-trainer corpus --list-langs shows the known ones)",
                               o->langs.items[i]);
    /* none of the catalog folders there (a misspelt one) would leave an output folder whose
     * options refuse the corrected ones; a missing one of several adds nothing (pool_add_catalogs) */
    struct strlist roots = {0};
    int folders = 0;
    if (o->locale_dir && strlist_split_on(&roots, o->locale_dir, ':')) return -1;
    for (size_t r = 0; r < roots.n && !folders; r++) folders = is_folder(roots.items[r]);
    strlist_free(&roots);
    if (o->locale_dir && !folders)
        return mslam_error("--locale-dir %s: no such folder (the gettext catalogs' roots, e.g. /usr/share/locale)",
                           o->locale_dir);
    /* the same for fortunes, but for the default folder, which only the fortunes packages make
     * (corpus_build says that it goes without) */
    if (o->fortune_dir && strcmp(o->fortune_dir, DEFAULT_FORTUNE_DIR) != 0 && !is_folder(o->fortune_dir))
        return mslam_error("--fortune-dir %s: no such folder (the fortune files' folder, e.g. %s)", o->fortune_dir,
                           DEFAULT_FORTUNE_DIR);
    if (o->espeak_data && check_espeak_data(o->espeak_data)) return -1;
    return 0;
}

/* x as %g writes it (6 digits, what corpus.conf has always held) when that reads back as x, else
 * with all its digits: --snr 5:30.000001 is not the 5:30 of an earlier run. */
static void exact_number(char out[32], double x) {
    snprintf(out, 32, "%g", x);
    if (strtod(out, NULL) != x) snprintf(out, 32, "%.17g", x);
}

/* What the corpus's content depends on: a resumed build must match it. (Not the languages: a
 * corpus can be extended with more; not jobs or progress, which change nothing.) */
static char *options_fingerprint(const struct corpus_options *o) {
    GString *text = g_string_new(NULL);
    g_string_append_printf(
        text,
        "# options of this corpus (mslam-trainer corpus); a resumed build must use the same\n"
        "seed %llu\ntrain %d\ndev %d\ntest %d\ntext-per-lang %d\nformat %s\nlocale-dir %s\nfortune-dir %s\n"
        "espeak-data %s\n",
        (unsigned long long)o->seed, o->utterances[SPLIT_TRAIN], o->utterances[SPLIT_DEV], o->utterances[SPLIT_TEST],
        o->text_per_lang, audio_format_extension(o->format), o->locale_dir, o->fortune_dir,
        o->espeak_data ? o->espeak_data : "(installed)");
    for (int s = SPLIT_TRAIN; s < SPLIT_N; s++) {
        g_string_append_printf(text, "%s-voices ", split_name(s));
        for (size_t i = 0; i < o->voices[s].n; i++)
            g_string_append_printf(text, "%s%s", i ? "," : "", o->voices[s].items[i]);
        g_string_append_c(text, '\n');
    }
    int with_others = 0;
    for (int s = SPLIT_TRAIN; s < SPLIT_N; s++)
        for (size_t i = 0; i < o->voices[s].n; i++) {
            const struct other_voice *other;
            with_others |= othersynth_lookup(o->voices[s].items[i], NULL, &other) == 0 && other;
        }
    if (with_others) { /* only then: an espeak-ng corpus's corpus.conf stays as it was */
        char share[32];
        exact_number(share, o->other_share);
        g_string_append_printf(text, "other-share %s\n", share);
    }
    const struct {
        const char *name;
        double x[2];
        int n;
    } numbers[] = {{"rate", {o->rate.min, o->rate.max}, 2},       {"pitch", {o->pitch.min, o->pitch.max}, 2},
                   {"noise-prob", {o->noise_prob, 0}, 1},         {"snr", {o->snr_db.min, o->snr_db.max}, 2},
                   {"speed-prob", {o->speed_prob, 0}, 1},         {"speed", {o->speed.min, o->speed.max}, 2},
                   {"reverb-prob", {o->reverb_prob, 0}, 1},       {"rt60", {o->rt60.min, o->rt60.max}, 2},
                   {"gain", {o->gain_db.min, o->gain_db.max}, 2}};
    for (size_t i = 0; i < sizeof numbers / sizeof numbers[0]; i++) {
        char a[32], b[32];
        exact_number(a, numbers[i].x[0]);
        exact_number(b, numbers[i].x[1]);
        g_string_append_printf(text, "%s %s%s%s\n", numbers[i].name, a, numbers[i].n == 2 ? ":" : "",
                               numbers[i].n == 2 ? b : "");
    }
    char *fingerprint = str_dup(text->str);
    g_string_free(text, TRUE);
    return fingerprint;
}

/* The language folders under out_dir/audio, sorted (none: an empty list). */
static struct strlist audio_folders(const char *out_dir) {
    struct strlist folders = {0};
    char *audio = path_join(out_dir, "audio");
    if (audio) list_folders(audio, &folders);
    free(audio);
    return folders;
}

/* Whether out_dir/audio holds a file (in a language's folder). */
static int holds_audio(const char *out_dir) {
    struct strlist folders = audio_folders(out_dir);
    int found = 0;
    for (size_t i = 0; i < folders.n && !found; i++) {
        struct strlist files = {0};
        found = list_files(folders.items[i], &files) == 0 && files.n > 0;
        strlist_free(&files);
    }
    strlist_free(&folders);
    return found;
}

/* corpus.conf's "option value" lines as the "option=value" lines of an options record
 * (options.h), its comment left out. */
static char *conf_as_record(const char *conf) {
    GString *record = g_string_new(NULL);
    for (const char *line = conf; *line;) {
        size_t len = strcspn(line, "\n"), name = strcspn(line, " \n");
        if (len > 0 && line[0] != '#') {
            g_string_append_len(record, line, (gssize)name);
            g_string_append_c(record, '=');
            if (name < len) g_string_append_len(record, line + name + 1, (gssize)(len - name - 1));
            g_string_append_c(record, '\n');
        }
        line += len + (line[len] == '\n');
    }
    return g_string_free(record, FALSE);
}

/* Whether two values of a folder option of corpus.conf name the same folders, however spelt (a
 * trailing slash, a relative path): --locale-dir lists roots, in an order that counts. */
static int same_folders(const char *option, const char *a, const char *b) {
    if (!strcmp(a, b)) return 1;
    if (strcmp(option, "locale-dir") != 0) return same_file(a, b);
    struct strlist x = {0}, y = {0};
    int same = strlist_split_on(&x, a, ':') == 0 && strlist_split_on(&y, b, ':') == 0 && x.n == y.n;
    for (size_t i = 0; same && i < x.n; i++)
        same = !strcmp(x.items[i], y.items[i]) || same_file(x.items[i], y.items[i]);
    strlist_free(&x);
    strlist_free(&y);
    return same;
}

/* The options that differ between an earlier build's corpus.conf (was) and this build's (now), as
 * "option: was -> now" joined by "; ", the folders that two spellings name counting as the same;
 * NULL when they agree. g_free. */
static char *conf_differences(const char *was, const char *now) {
    static const char *const folder_options[] = {"locale-dir", "fortune-dir", "espeak-data"};
    char *was_record = conf_as_record(was), *now_record = conf_as_record(now);
    const char *same[sizeof folder_options / sizeof *folder_options + 1] = {0};
    size_t n_same = 0;
    for (size_t i = 0; i < sizeof folder_options / sizeof *folder_options; i++) {
        gchar *x = options_record_value(was_record, folder_options[i]);
        gchar *y = options_record_value(now_record, folder_options[i]);
        if (x && y && same_folders(folder_options[i], x, y)) same[n_same++] = folder_options[i];
        g_free(x);
        g_free(y);
    }
    char *differences = options_record_diff(was_record, now_record, NULL, same);
    g_free(was_record);
    g_free(now_record);
    return differences;
}

static int check_or_write_conf(const struct corpus_options *o) {
    char *want = options_fingerprint(o), *conf = path_join(o->out_dir, "corpus.conf"), *have = NULL;
    char *differences = NULL;
    size_t size;
    int rc = want && conf ? 0 : -1;
    if (rc == 0 && file_exists(conf)) {
        rc = read_file(conf, 1 << 20, &have, &size);
        /* none: the same options, its folders perhaps spelt otherwise, and corpus.conf stays as it is */
        if (rc == 0 && strcmp(have, want) != 0) differences = conf_differences(have, want);
        if (differences && !holds_audio(o->out_dir)) {
            /* an earlier attempt that failed before any audio (too few dev utterances, no
             * catalogs): nothing to keep, so the corrected command builds here */
            rc = write_file_atomic(conf, want, strlen(want));
        } else if (differences)
            rc = mslam_error("%s holds a corpus built with other options (%s; see %s); build into another folder, "
                             "or give the same options to resume",
                             o->out_dir, differences, conf);
    } else if (rc == 0) {
        /* a folder of the user's own: its manifests would be replaced */
        static const char *const outputs[] = {"manifest.tsv", "text.tsv", NULL};
        const char *found;
        rc = folder_holds(o->out_dir, outputs, &found);
        if (rc == 0 && found)
            rc = mslam_error("%s holds a %s that no corpus build made there (it has no corpus.conf), which a build "
                             "would replace: build into another folder", o->out_dir, found);
        if (rc == 0) rc = write_file_atomic(conf, want, strlen(want));
    }
    g_free(differences);
    free(have);
    free(conf);
    free(want);
    return rc;
}

/* ---- planning one language ---- */

struct voice_draw {
    const char *variant;
    int rate, pitch;
    const struct other_voice *other; /* NULL: espeak-ng speaks, with variant, rate and pitch */
};

struct utterance {
    const struct sentence *sentence;
    enum manifest_split split;
    char *path; /* relative to the corpus folder */
    struct voice_draw voice;
    double speed;         /* 1: not perturbed */
    double rt60, wet;     /* rt60 0: no reverberation */
    enum noise_kind noise;
    double snr_db;
    int n_babble;
    const struct sentence *babble[MAX_BABBLE];
    struct voice_draw babble_voice[MAX_BABBLE];
    double gain_db;
    uint64_t noise_seed;
    double duration; /* seconds, known once written */
    int skipped;     /* another synthesizer made no audio of it: left out of the manifest */
};

struct ordered {
    uint64_t order;
    const struct sentence *sentence;
};

struct plan {
    const struct lang_info *lang;
    /* each split's voices, as voice_draw takes them: espeak-ng's variants, and the other
     * synthesizers' voices of this language */
    const char **variants[SPLIT_N];
    size_t n_variants[SPLIT_N];
    const struct other_voice **others[SPLIT_N];
    size_t n_others[SPLIT_N];
    struct ordered *buckets[SPLIT_N]; /* sentences of each split, in a seeded order */
    size_t bucket_n[SPLIT_N];
    struct utterance *utts;
    size_t n_utts;
};

static double uniform(mslam_rng *rng, struct range r) { return r.min + (r.max - r.min) * mslam_rng_uniform(rng); }

static int uniform_int(mslam_rng *rng, struct range r) { return (int)lround(uniform(rng, r)); }

static struct voice_draw draw_voice(const struct corpus_options *o, const struct plan *plan,
                                    enum manifest_split split, mslam_rng *rng) {
    return (struct voice_draw){
        .variant = plan->variants[split][mslam_rng_u32(rng) % plan->n_variants[split]],
        .rate = uniform_int(rng, o->rate),
        .pitch = uniform_int(rng, o->pitch),
    };
}

/* The split of a sentence: fractions of the key space in proportion to the sizes asked for. */
static enum manifest_split split_of(const struct corpus_options *o, const struct sentence *s) {
    double total = o->utterances[SPLIT_TRAIN] + o->utterances[SPLIT_DEV] + o->utterances[SPLIT_TEST];
    double u = (double)(hash_mix(s->key, o->seed) >> 11) * 0x1.0p-53 * total;
    if (u < o->utterances[SPLIT_TEST]) return SPLIT_TEST;
    if (u < o->utterances[SPLIT_TEST] + o->utterances[SPLIT_DEV]) return SPLIT_DEV;
    return SPLIT_TRAIN;
}

static int cmp_ordered(const void *a, const void *b) {
    uint64_t x = ((const struct ordered *)a)->order, y = ((const struct ordered *)b)->order;
    return x < y ? -1 : x > y;
}

static void plan_free(struct plan *plan) {
    for (int s = 0; s < SPLIT_N; s++) {
        free(plan->buckets[s]);
        free(plan->variants[s]);
        free(plan->others[s]);
    }
    for (size_t i = 0; i < plan->n_utts; i++) free(plan->utts[i].path);
    free(plan->utts);
    *plan = (struct plan){0};
}

static void draw_utterance(const struct corpus_options *o, const struct plan *plan, struct utterance *u,
                           uint64_t seed) {
    mslam_rng rng;
    mslam_rng_seed(&rng, seed);
    u->voice = draw_voice(o, plan, u->split, &rng);
    u->speed = mslam_rng_uniform(&rng) < o->speed_prob ? uniform(&rng, o->speed) : 1.0;
    if (mslam_rng_uniform(&rng) < o->reverb_prob) {
        u->rt60 = uniform(&rng, o->rt60);
        u->wet = uniform(&rng, (struct range){0.2, 0.5});
    }
    if (mslam_rng_uniform(&rng) < o->noise_prob) {
        u->noise = (enum noise_kind)(NOISE_WHITE + mslam_rng_u32(&rng) % (NOISE_N_KINDS - NOISE_WHITE));
        u->snr_db = uniform(&rng, o->snr_db);
    }
    if (u->noise == NOISE_BABBLE) {
        /* other sentences of the same split, so that no text crosses splits even as noise */
        const struct ordered *bucket = plan->buckets[u->split];
        size_t n = plan->bucket_n[u->split];
        u->n_babble = 2 + (int)(mslam_rng_u32(&rng) % (MAX_BABBLE - 1));
        for (int b = 0; b < u->n_babble; b++) {
            u->babble[b] = bucket[mslam_rng_u32(&rng) % n].sentence;
            u->babble_voice[b] = draw_voice(o, plan, u->split, &rng);
        }
    }
    u->gain_db = uniform(&rng, o->gain_db);
    u->noise_seed = ((uint64_t)mslam_rng_u32(&rng) << 32) | mslam_rng_u32(&rng);
    /* drawn last, and only where there are other voices: an espeak-ng corpus stays as it was */
    size_t n_others = plan->n_others[u->split];
    if (n_others > 0 && mslam_rng_uniform(&rng) < o->other_share)
        u->voice.other = plan->others[u->split][mslam_rng_u32(&rng) % n_others];
}

/* The split's voices, sorted by kind, the other synthesizers' kept to those of the plan's language. */
static int plan_voices(const struct corpus_options *o, struct plan *plan) {
    for (int s = SPLIT_TRAIN; s < SPLIT_N; s++) {
        size_t n = o->voices[s].n ? o->voices[s].n : 1;
        plan->variants[s] = mslam_calloc(n, sizeof *plan->variants[s], "a split's voices");
        plan->others[s] = mslam_calloc(n, sizeof *plan->others[s], "a split's voices");
        if (!plan->variants[s] || !plan->others[s]) return -1;
        for (size_t i = 0; i < o->voices[s].n; i++) {
            const char *name = o->voices[s].items[i];
            const struct other_voice *other;
            if (othersynth_lookup(name, split_name(s), &other)) return -1;
            if (!other) plan->variants[s][plan->n_variants[s]++] = name;
            else if (!strcmp(other->lang, plan->lang->code)) plan->others[s][plan->n_others[s]++] = other;
        }
    }
    return 0;
}

static int plan_language(const struct corpus_options *o, const struct sentence_pool *pool, struct plan *plan) {
    const char *code = pool->lang->code;
    *plan = (struct plan){.lang = pool->lang};
    if (plan_voices(o, plan)) return -1;
    for (int s = SPLIT_TRAIN; s < SPLIT_N; s++) {
        plan->buckets[s] = mslam_calloc(pool->n, sizeof *plan->buckets[s], "a split's sentences");
        if (!plan->buckets[s]) return -1;
    }
    for (size_t i = 0; i < pool->n; i++) {
        const struct sentence *s = &pool->items[i];
        enum manifest_split split = split_of(o, s);
        plan->buckets[split][plan->bucket_n[split]++] =
            (struct ordered){hash_mix(s->text_hash, o->seed ^ SALT_ORDER), s};
    }
    size_t total = 0;
    for (int s = SPLIT_TRAIN; s < SPLIT_N; s++) {
        qsort(plan->buckets[s], plan->bucket_n[s], sizeof *plan->buckets[s], cmp_ordered);
        if (o->utterances[s] > 0 && plan->bucket_n[s] == 0)
            return mslam_error("%s: no sentence fell in the %s split (%zu sentence%s in all); ask for more %s "
                               "utterances relative to the others, or give more text",
                               code, split_name(s), pool->n, plural_s((long long)pool->n), split_name(s));
        if ((size_t)o->utterances[s] > plan->bucket_n[s])
            mslam_log(MSLAM_LOG_WARN, "%s: %zu sentence%s for %d %s utterances; some are spoken twice, by "
                      "other voices", code, plan->bucket_n[s], plural_s((long long)plan->bucket_n[s]),
                      o->utterances[s], split_name(s));
        total += (size_t)o->utterances[s];
    }
    plan->utts = mslam_calloc(total, sizeof *plan->utts, "the utterances of a language");
    if (!plan->utts) return -1;
    uint64_t lang_seed = hash_str(code, o->seed ^ SALT_UTTERANCE);
    for (int s = SPLIT_TRAIN; s < SPLIT_N; s++) {
        for (int i = 0; i < o->utterances[s]; i++) {
            struct utterance *u = &plan->utts[plan->n_utts++];
            u->split = (enum manifest_split)s;
            u->sentence = plan->buckets[s][(size_t)i % plan->bucket_n[s]].sentence;
            u->path = str_printf("audio/%s/%s_%s_%05d.%s", code, code, split_name(s), i,
                                 audio_format_extension(o->format));
            if (!u->path) return -1;
            draw_utterance(o, plan, u, hash_mix(hash_mix(lang_seed, (uint64_t)s), (uint64_t)i));
        }
    }
    return 0;
}

/* ---- speaking one utterance (in a forked child) ---- */

/* The folder of a worker's other-synthesizer files (removed by the build once the worker ends). */
static char *work_dir_of(const struct corpus_options *o, pid_t worker) {
    return str_printf("%s/%s/synth-%ld", o->out_dir, PARTS_DIR, (long)worker);
}

/* Speaks text at 16 kHz (speed-perturbed when speed != 1). Returns 0, -1, or OTHERSYNTH_NOTHING
 * (another synthesizer's voice made no audio of the text). */
static int speak(const struct corpus_options *o, const struct lang_info *lang, const struct voice_draw *v,
                 const char *text, double speed, struct audio *raw, struct audio *out) {
    struct synth_params params = {lang->voice, v->variant, v->rate, v->pitch};
    if (!v->other) {
        if (synth_speak(&params, text, raw)) return -1;
    } else {
        char *work_dir = work_dir_of(o, getpid());
        int rc = !work_dir ? -1 : mkdir(work_dir, 0755) != 0 && errno != EEXIST
                                      ? mslam_error("cannot make %s: %s", work_dir, strerror(errno))
                                      : othersynth_speak(v->other, text, v->rate, work_dir, raw);
        if (work_dir) rmdir(work_dir); /* othersynth_speak removed its files */
        free(work_dir);
        if (rc) return rc;
    }
    return audio_resample(raw, speed, CORPUS_RATE, out);
}

/* Babble: several other utterances of the language, each at unit power, looped from random
 * offsets over the length of the speech. */
static int make_babble(const struct corpus_options *o, const struct lang_info *lang, const struct utterance *u,
                       size_t n, mslam_rng *rng, struct audio *raw, struct audio *noise) {
    struct audio talker = {0};
    int rc = audio_reserve(noise, n);
    if (rc == 0) {
        memset(noise->samples, 0, n * sizeof *noise->samples);
        noise->n = n;
        noise->rate = CORPUS_RATE;
    }
    for (int b = 0; rc == 0 && b < u->n_babble; b++) {
        rc = speak(o, lang, &u->babble_voice[b], u->babble[b]->text, 1.0, raw, &talker);
        if (rc || talker.n == 0) continue;
        double power = 0.0;
        for (size_t t = 0; t < talker.n; t++) power += (double)talker.samples[t] * talker.samples[t];
        float scale = power > 0.0 ? (float)sqrt((double)talker.n / power) : 0.0f;
        size_t offset = mslam_rng_u32(rng) % talker.n;
        for (size_t t = 0; t < n; t++) noise->samples[t] += scale * talker.samples[(t + offset) % talker.n];
    }
    audio_free(&talker);
    return rc;
}

/* A worker's exit status when another synthesizer made no audio of its utterance (0: made, 1: failed). */
#define WORKER_SKIPPED 3

/* Returns 0, -1 (failed: the build stops), or OTHERSYNTH_NOTHING: another synthesizer's voice made
 * nothing of the sentence, which the corpus goes without. */
static int speak_utterance(const struct corpus_options *o, const struct lang_info *lang, const struct utterance *u,
                           const char *path) {
    struct audio raw = {0}, speech = {0}, noise = {0};
    mslam_rng rng;
    mslam_rng_seed(&rng, u->noise_seed);
    srand((unsigned)u->noise_seed); /* espeak-ng's noise sources use rand() */
    int outer = mslam_errors_unlogged(u->voice.other != NULL); /* another voice's failure: warned of below */
    int rc = speak(o, lang, &u->voice, u->sentence->text, u->speed, &raw, &speech);
    mslam_errors_unlogged(outer);
    if (rc == OTHERSYNTH_NOTHING) {
        mslam_log(MSLAM_LOG_WARN, "%s left out: %s", path, mslam_last_error());
        audio_free(&raw);
        audio_free(&speech);
        return rc;
    }
    if (rc && u->voice.other) mslam_log(MSLAM_LOG_ERROR, "%s", mslam_last_error());
    if (rc == 0 && u->rt60 > 0.0) rc = augment_reverb(&speech, u->rt60, u->wet);
    if (rc == 0 && u->noise != NOISE_NONE) {
        rc = u->noise == NOISE_BABBLE ? make_babble(o, lang, u, speech.n, &rng, &raw, &noise)
                                      : augment_coloured_noise(&noise, u->noise, speech.n, CORPUS_RATE, &rng);
        if (rc == 0) augment_add_noise(&speech, &noise, u->snr_db);
    }
    if (rc == 0) {
        augment_gain(&speech, u->gain_db);
        rc = audio_write(path, &speech, o->format);
    }
    if (rc) mslam_log(MSLAM_LOG_ERROR, "while making %s (%s, \"%s\")", path, lang->code, u->sentence->text);
    audio_free(&raw);
    audio_free(&speech);
    audio_free(&noise);
    return rc;
}

/* ---- running the utterances of a language on worker processes ---- */

struct worker {
    pid_t pid;
    size_t utt;
};

/* Duration of a finished file, from its header. */
static int probe_duration(const char *path, double *seconds) {
    long long frames;
    int rate, channels;
    if (audio_probe(path, &frames, &rate, &channels)) return -1;
    if (rate != (int)CORPUS_RATE || channels != 1)
        return mslam_error("%s: %d Hz, %d channels (a corpus file is %d Hz mono)", path,
                           rate, channels, (int)CORPUS_RATE);
    *seconds = (double)frames / CORPUS_RATE;
    return 0;
}

/* Whether an earlier run's file decodes to the seconds its header announces (a file cut short
 * keeps its header). */
static int check_whole(const char *path, double seconds) {
    struct audio a = {0};
    int rc = audio_read(path, &a);
    long long expected = llround(seconds * CORPUS_RATE);
    if (rc == 0 && (long long)a.n != expected)
        rc = mslam_error("%s holds %zu of the %lld sample%s its header announces", path, a.n, expected,
                         plural_s(expected));
    audio_free(&a);
    return rc;
}

static int run_utterances(const struct corpus_options *o, struct plan *plan, int jobs, struct progress *progress) {
    struct worker *workers = mslam_calloc((size_t)jobs, sizeof *workers, "the worker table");
    if (!workers) return -1;
    int running = 0, failed = 0;
    size_t next = 0;
    char *failed_path = NULL;
    while (!failed || running > 0) {
        while (!failed && running < jobs && next < plan->n_utts) {
            struct utterance *u = &plan->utts[next];
            char *path = path_join(o->out_dir, u->path);
            if (!path) {
                failed = 1;
                break;
            }
            if (file_exists(path)) { /* finished by an earlier run */
                if (probe_duration(path, &u->duration) == 0 && check_whole(path, u->duration) == 0) {
                    progress_step(progress, 1, u->duration);
                    free(path);
                    next++;
                    continue;
                }
                /* cut short or empty (the language's audio is synced to disk when it is done: a
                 * crash or a power cut before then can leave such files): made again */
                mslam_log(MSLAM_LOG_WARN, "%s: made again (%s)", path, mslam_last_error());
                if (unlink(path) != 0) {
                    mslam_error("cannot remove %s to make it again: %s", path, strerror(errno));
                    free(path);
                    failed = 1;
                    break;
                }
            }
            /* a build killed outright (SIGKILL, the OOM killer) takes its workers along: left
             * running, they held the folder's lock and wrote files a resumed build makes */
            pid_t pid = fork_tied();
            if (pid == 0) {
                alarm(o->worker_seconds); /* SIGALRM ends a hung worker (0: none) */
                int spoken = speak_utterance(o, plan->lang, u, path);
                _exit(spoken == OTHERSYNTH_NOTHING ? WORKER_SKIPPED : spoken ? 1 : 0);
            }
            free(path);
            if (pid < 0) {
                mslam_error("cannot start a worker process: %s", strerror(errno));
                failed = 1;
                break;
            }
            int slot = 0;
            while (workers[slot].pid != 0) slot++;
            workers[slot] = (struct worker){pid, next++};
            running++;
        }
        if (running == 0) break;
        int status;
        pid_t pid = waitpid(-1, &status, 0);
        if (pid < 0) {
            if (errno == EINTR) continue;
            mslam_error("waiting for workers: %s", strerror(errno));
            failed = 1;
            break;
        }
        int slot = 0;
        while (slot < jobs && workers[slot].pid != pid) slot++;
        if (slot == jobs) continue; /* not one of ours */
        struct utterance *u = &plan->utts[workers[slot].utt];
        workers[slot].pid = 0;
        running--;
        char *path = path_join(o->out_dir, u->path);
        if (WIFSIGNALED(status) && u->voice.other) { /* what it was making another voice speak left */
            char *work_dir = work_dir_of(o, pid);
            if (work_dir) othersynth_clean(work_dir);
            free(work_dir);
        }
        if (WIFSIGNALED(status)) { /* killed: it had nothing to say */
            if (!failed && path && WTERMSIG(status) == SIGALRM)
                mslam_error("the worker making %s took over %u s (%s stuck?); run the command again to resume", path,
                            o->worker_seconds, u->voice.other ? u->voice.other->name : "espeak-ng");
            else if (!failed && path)
                mslam_error("the worker making %s was killed by signal %d", path, WTERMSIG(status));
            failed = 1;
        } else if (WIFEXITED(status) && WEXITSTATUS(status) == WORKER_SKIPPED) {
            u->skipped = 1;
            progress_step(progress, 0, 0.0);
        } else if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
            if (!failed && path) failed_path = str_dup(path);
            failed = 1;
        } else if (!path || probe_duration(path, &u->duration)) {
            failed = 1;
        } else {
            progress_step(progress, 0, u->duration);
        }
        free(path);
    }
    free(workers);
    if (failed_path) {
        mslam_error("could not make %s (the worker's message is above)", failed_path);
        free(failed_path);
    }
    return failed ? -1 : 0;
}

/* Flushes every file of the file system that holds folder to disk (best effort). */
static void sync_folder(const char *folder) {
    int fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return;
    syncfs(fd);
    close(fd);
}

/* ---- per-language manifests ---- */

static int write_rows(const char *path, const struct plan *plan, const struct sentence_pool *pool,
                      const struct corpus_options *o, int text_rows) {
    char *data = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&data, &size);
    if (!f) return mslam_error("cannot open a memory stream: %s", strerror(errno));
    int rc = manifest_write_header(f);
    if (!text_rows) {
        for (size_t i = 0; rc == 0 && i < plan->n_utts; i++) {
            const struct utterance *u = &plan->utts[i];
            if (u->skipped) continue;
            struct manifest_record rec = {
                .audio = u->path,
                .lang = plan->lang->code,
                .text = u->sentence->text,
                .translation = u->sentence->translation,
                .speaker = u->voice.other ? u->voice.other->name : u->voice.variant,
                .duration = u->duration,
                .split = u->split,
            };
            rc = manifest_write_row(f, &rec);
        }
    } else {
        /* every sentence keeps its split, in the same seeded order, up to text_per_lang */
        struct ordered *all = mslam_calloc(pool->n, sizeof *all, "the text rows");
        rc = all ? rc : -1;
        size_t n = 0;
        for (int s = SPLIT_TRAIN; rc == 0 && s < SPLIT_N; s++)
            for (size_t i = 0; i < plan->bucket_n[s]; i++) all[n++] = plan->buckets[s][i];
        if (rc == 0) qsort(all, n, sizeof *all, cmp_ordered);
        for (size_t i = 0; rc == 0 && i < n && i < (size_t)o->text_per_lang; i++) {
            struct manifest_record rec = {
                .lang = plan->lang->code,
                .text = all[i].sentence->text,
                .translation = all[i].sentence->translation,
                .duration = -1.0,
                .split = split_of(o, all[i].sentence),
            };
            rc = manifest_write_row(f, &rec);
        }
        free(all);
    }
    if (fclose(f) != 0 && rc == 0) rc = mslam_error("cannot write the rows of %s", path);
    if (rc == 0) rc = write_file_atomic(path, data, size);
    free(data);
    return rc;
}

struct lang_summary {
    size_t utterances, text_rows, sentences;
    double seconds;
};

/* Counts a finished language's part (when resuming): 1 when all its audio files are there,
 * 0 when some are missing (the language is made again, keeping the files that are there). */
static int summarise_part(const struct corpus_options *o, const char *path, struct lang_summary *sum) {
    struct manifest_options opts = {.layout = LAYOUT_MSLAM, .audio_dir = o->out_dir};
    manifest_reader *r = manifest_open(path, &opts);
    if (!r) return -1;
    struct manifest_record rec;
    int got, complete = 1;
    *sum = (struct lang_summary){0};
    while ((got = manifest_next(r, &rec)) > 0) {
        sum->utterances++;
        sum->seconds += rec.duration > 0 ? rec.duration : 0.0;
        if (rec.audio && !file_exists(rec.audio)) complete = 0;
    }
    manifest_close(r);
    return got < 0 ? -1 : complete;
}

/* What an utterance's audio is made from (sentence, voices, every augmentation draw), hashed:
 * the same options over other sentences (catalogs installed or updated since) give other plans. */
static uint64_t utterance_hash(const struct utterance *u) {
    GString *what = g_string_new(NULL);
    g_string_append_printf(what, "%s\t%s %d %d\t%.17g %.17g %.17g %d %.17g %.17g %llu", u->sentence->text,
                           u->voice.variant, u->voice.rate, u->voice.pitch, u->speed, u->rt60, u->wet, (int)u->noise,
                           u->snr_db, u->gain_db, (unsigned long long)u->noise_seed);
    for (int i = 0; i < u->n_babble; i++)
        g_string_append_printf(what, "\t%s %s %d %d", u->babble[i]->text, u->babble_voice[i].variant,
                               u->babble_voice[i].rate, u->babble_voice[i].pitch);
    if (u->voice.other) g_string_append_printf(what, "\tspoken by %s", u->voice.other->name);
    uint64_t h = hash_str(what->str, 0x9e3779b97f4a7c15ull);
    g_string_free(what, TRUE);
    return h;
}

/* Resuming: audio an earlier run made from another plan (other sentences at its path) is made
 * again; then this plan is recorded (PARTS_DIR/LANG.plan: path and hash a line) before any audio
 * is made, so that the next resume can tell. */
static int reconcile_plan(const struct corpus_options *o, const struct plan *plan) {
    char *plan_path = str_printf("%s/%s/%s.plan", o->out_dir, PARTS_DIR, plan->lang->code), *old = NULL;
    size_t size;
    GHashTable *before = g_hash_table_new_full(g_str_hash, g_str_equal, g_free, NULL);
    GString *now = g_string_new(NULL);
    int rc = plan_path ? 0 : -1, remade = 0;
    char **lines = NULL; /* the earlier plan's, which before's values point into */
    if (rc == 0 && file_exists(plan_path) && (rc = read_file(plan_path, (size_t)1 << 30, &old, &size)) == 0) {
        lines = g_strsplit(old, "\n", -1);
        for (char **line = lines; *line; line++) {
            char *tab = strchr(*line, '\t');
            if (tab) g_hash_table_insert(before, g_strndup(*line, (gsize)(tab - *line)), tab + 1);
        }
    }
    for (size_t i = 0; rc == 0 && i < plan->n_utts; i++) {
        const struct utterance *u = &plan->utts[i];
        char hex[17];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)utterance_hash(u));
        g_string_append_printf(now, "%s\t%s\n", u->path, hex);
        const char *was = old ? g_hash_table_lookup(before, u->path) : NULL;
        char *path = old ? path_join(o->out_dir, u->path) : NULL;
        if (path && file_exists(path) && (!was || strncmp(was, hex, 16) != 0)) {
            if (unlink(path) != 0) rc = mslam_error("cannot remove %s to make it again: %s", path, strerror(errno));
            remade++;
        }
        free(path);
    }
    if (rc == 0) rc = write_file_atomic(plan_path, now->str, now->len);
    if (rc == 0 && remade)
        mslam_log(MSLAM_LOG_WARN, "%s: %d utterance%s of an earlier run %s planned from other sentences (catalogs "
                  "changed since?): made again", plan->lang->code, remade, plural_s(remade),
                  remade == 1 ? "was" : "were");
    g_string_free(now, TRUE);
    g_hash_table_destroy(before);
    g_strfreev(lines);
    free(old);
    free(plan_path);
    return rc;
}

static int build_language(const struct corpus_options *o, const struct lang_info *lang, int jobs,
                          struct progress *progress, struct lang_summary *sum) {
    char *speech_part = str_printf("%s/%s/%s.tsv", o->out_dir, PARTS_DIR, lang->code);
    char *text_part = str_printf("%s/%s/%s.text.tsv", o->out_dir, PARTS_DIR, lang->code);
    char *audio_dir = str_printf("%s/audio/%s", o->out_dir, lang->code);
    struct sentence_pool pool;
    struct plan plan = {0};
    pool_init(&pool, lang);
    int rc = speech_part && text_part && audio_dir ? 0 : -1;
    if (rc == 0 && file_exists(speech_part) && file_exists(text_part)) {
        rc = summarise_part(o, speech_part, sum);
        if (rc == 1) {
            for (size_t i = 0; i < sum->utterances; i++) progress_step(progress, 1, sum->seconds / sum->utterances);
            /* and those other voices made nothing of, which the total counts */
            size_t planned = (size_t)o->utterances[SPLIT_TRAIN] + o->utterances[SPLIT_DEV] + o->utterances[SPLIT_TEST];
            for (size_t i = sum->utterances; i < planned; i++) progress_step(progress, 1, 0.0);
            rc = 0;
            goto done;
        }
        *sum = (struct lang_summary){0};
    }
    if (rc == 0) rc = mkdir_p(audio_dir);
    if (rc == 0) rc = pool_add_catalogs(&pool, o->locale_dir);
    if (rc == 0) rc = pool_add_fortunes(&pool, o->fortune_dir);
    if (rc == 0 && pool.n == 0)
        rc = mslam_error("%s: no usable sentences in the catalogs of %s under %s, nor in fortunes under %s; "
                         "install packages with gettext catalogs in it (the [corpus] group of packages.txt in mslam's "
                         "source, which its models/make-corpus.sh unpacks) or give --locale-dir",
                         lang->code, lang->locales, o->locale_dir, o->fortune_dir);
    if (rc == 0) rc = plan_language(o, &pool, &plan);
    if (rc == 0) rc = reconcile_plan(o, &plan);
    if (rc == 0) rc = run_utterances(o, &plan, jobs, progress);
    /* the language's audio on disk before the speech part marks it done, so that after a power
     * cut only an unfinished language's files can be cut short (one sync, not one a file) */
    if (rc == 0) sync_folder(o->out_dir);
    /* text first: the speech part marks the language as done */
    if (rc == 0) rc = write_rows(text_part, &plan, &pool, o, 1);
    if (rc == 0) rc = write_rows(speech_part, &plan, &pool, o, 0);
    if (rc == 0) {
        size_t skipped = 0;
        sum->sentences = pool.n;
        for (size_t i = 0; i < plan.n_utts; i++) {
            skipped += (size_t)plan.utts[i].skipped;
            sum->seconds += plan.utts[i].skipped ? 0.0 : plan.utts[i].duration;
        }
        sum->utterances = plan.n_utts - skipped;
        if (skipped)
            mslam_log(MSLAM_LOG_WARN, "%s: %zu utterance%s left out, which other synthesizers' voices made no audio of "
                      "(warned of above)", lang->code, skipped, plural_s((long long)skipped));
    }
done:
    plan_free(&plan);
    pool_free(&pool);
    free(speech_part);
    free(text_part);
    free(audio_dir);
    return rc;
}

/* Joins the languages' parts into one manifest (one header, rows in language order). */
static int merge_parts(const struct corpus_options *o, const struct lang_info **langs, int n_langs,
                       const char *suffix, const char *name) {
    char *path = path_join(o->out_dir, name);
    struct atomic_file out = {0};
    int rc = !path || atomic_file_open(&out, path) ? -1 : manifest_write_header(out.f);
    char *line = NULL;
    size_t cap = 0;
    for (int l = 0; rc == 0 && l < n_langs; l++) {
        char *part = str_printf("%s/%s/%s%s", o->out_dir, PARTS_DIR, langs[l]->code, suffix);
        FILE *in = part ? fopen(part, "rb") : NULL;
        if (!in) {
            rc = part ? mslam_error("cannot read %s: %s", part, strerror(errno)) : -1;
        } else {
            ssize_t len;
            for (long line_no = 1; (len = getline(&line, &cap, in)) > 0; line_no++)
                if (line_no > 1) fwrite(line, 1, (size_t)len, out.f);
            if (ferror(in)) rc = mslam_error("cannot read %s", part);
            fclose(in);
        }
        free(part);
    }
    if (rc == 0) rc = atomic_file_commit(&out);
    else atomic_file_abort(&out);
    free(line);
    free(path);
    return rc;
}

static int select_languages(const struct corpus_options *o, const struct lang_info ***out, int *n_out) {
    int n_table;
    const struct lang_info *table = lang_table(&n_table);
    const struct lang_info **langs = mslam_calloc((size_t)n_table + o->langs.n, sizeof *langs, "languages");
    if (!langs) return -1;
    int n = 0;
    if (o->langs.n == 0) {
        for (int i = 0; i < n_table; i++)
            if (table[i].in_default) langs[n++] = &table[i];
    } else {
        for (size_t i = 0; i < o->langs.n; i++) {
            const struct lang_info *lang = lang_find(o->langs.items[i]);
            int repeated = 0;
            for (int j = 0; j < n; j++) repeated |= langs[j] == lang;
            if (!repeated) langs[n++] = lang;
        }
    }
    *out = langs;
    *n_out = n;
    return 0;
}

/* A build into a folder that an earlier build of more languages made leaves those languages'
 * audio as it was, outside the manifest: says so, naming them, so that the space can be freed. */
static void note_audio_of_other_languages(const struct corpus_options *o, const struct lang_info **langs,
                                          int n_langs) {
    struct strlist folders = audio_folders(o->out_dir);
    GString *others = g_string_new(NULL);
    for (size_t i = 0; i < folders.n; i++) {
        const char *name = strrchr(folders.items[i], '/') + 1;
        int listed = 0;
        for (int l = 0; !listed && l < n_langs; l++) listed = !strcmp(name, langs[l]->code);
        if (!listed) g_string_append_printf(others, " %s", name);
    }
    if (others->len)
        mslam_log(MSLAM_LOG_WARN, "%s/audio holds audio of languages this build does not list, left out of "
                  "manifest.tsv (an earlier build's; remove those folders to free their space):%s", o->out_dir,
                  others->str);
    g_string_free(others, TRUE);
    strlist_free(&folders);
}

int corpus_build(const struct corpus_options *o) {
    if (check_options(o)) return -1;
    signal(SIGCHLD, SIG_DFL); /* inherited as ignored, workers would reap themselves: waitpid fails */
    const struct lang_info **langs = NULL;
    int n_langs = 0;
    if (select_languages(o, &langs, &n_langs)) return -1;
    /* two builds into one folder would make the same files at once and each rewrite the other's
     * plan and manifests; taken first, so that a second build is refused at once, not after
     * speaking with every voice to check it */
    char *parts = path_join(o->out_dir, PARTS_DIR);
    int rc = parts ? mkdir_p(parts) : -1;
    int lock = -1;
    char *lock_path = parts ? path_join(parts, "lock") : NULL;
    if (rc == 0) rc = lock_path ? lock_folder(o->out_dir, lock_path, "corpus build", "build into another folder", &lock)
                                : -1;
    free(lock_path);
    if (rc == 0) { /* the other-synthesizer folders of workers of a build killed outright */
        struct strlist folders = {0};
        list_folders(parts, &folders);
        for (size_t i = 0; i < folders.n; i++)
            if (!strncmp(strrchr(folders.items[i], '/') + 1, "synth-", 6)) othersynth_clean(folders.items[i]);
        strlist_free(&folders);
    }
    if (rc == 0) rc = synth_init(o->espeak_data);
    for (int l = 0; rc == 0 && l < n_langs; l++) rc = synth_check_voice(langs[l]->voice);
    for (int s = SPLIT_TRAIN; rc == 0 && s < SPLIT_N; s++)
        for (size_t v = 0; rc == 0 && v < o->voices[s].n; v++) {
            const char *name = o->voices[s].items[v];
            const struct other_voice *other;
            if ((rc = othersynth_lookup(name, split_name(s), &other)) != 0) break;
            if (!other) {
                rc = synth_check_variant(name);
                continue;
            }
            int spoken = 0;
            for (int l = 0; l < n_langs && !spoken; l++) spoken = !strcmp(langs[l]->code, other->lang);
            if (!spoken)
                mslam_log(MSLAM_LOG_WARN, "--%s-voices: %s speaks %s, which this build does not make", split_name(s),
                          name, other->lang);
            else rc = othersynth_check(other);
        }
    if (rc == 0) rc = check_or_write_conf(o);
    if (rc == 0 && o->fortune_dir && !is_folder(o->fortune_dir)) {
        int with_fortunes = 0;
        for (int l = 0; l < n_langs && !with_fortunes; l++) with_fortunes = langs[l]->fortunes[0] != '\0';
        if (with_fortunes)
            mslam_log(MSLAM_LOG_WARN, "%s: no such folder, so the corpus has no sentences from fortunes: install "
                      "fortunes packages (fortunes-min, fortunes, fortunes-de, fortunes-es, ...: the [corpus] group of "
                      "packages.txt in mslam's source) or give --fortune-dir (its models/make-corpus.sh gives "
                      "those it unpacks)",
                      o->fortune_dir);
    }

    int jobs = o->jobs > 0 ? o->jobs : (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (jobs < 1) jobs = 1;
    size_t per_lang = (size_t)o->utterances[SPLIT_TRAIN] + o->utterances[SPLIT_DEV] + o->utterances[SPLIT_TEST];
    struct progress progress;
    progress_start(&progress, per_lang * (size_t)n_langs, "utterances", o->quiet ? 0 : o->progress);
    double start = progress_now();
    struct lang_summary total = {0};
    for (int l = 0; rc == 0 && l < n_langs; l++) {
        struct lang_summary sum = {0};
        double t0 = progress_now();
        rc = build_language(o, langs[l], jobs, &progress, &sum);
        if (rc == 0 && !o->quiet) {
            progress_clear(&progress);
            if (sum.sentences)
                fprintf(stderr, "%-4s %5zu utterance%s, %6.3f h, from %zu sentence%s, %.1f s\n", langs[l]->code,
                        sum.utterances, plural_s((long long)sum.utterances), sum.seconds / 3600.0, sum.sentences,
                        plural_s((long long)sum.sentences), progress_now() - t0);
            else
                fprintf(stderr, "%-4s %5zu utterance%s, %6.3f h, finished by an earlier run\n", langs[l]->code,
                        sum.utterances, plural_s((long long)sum.utterances), sum.seconds / 3600.0);
        }
        total.utterances += sum.utterances;
        total.seconds += sum.seconds;
    }
    progress_finish(&progress);
    if (rc == 0) rc = merge_parts(o, langs, n_langs, ".text.tsv", "text.tsv");
    if (rc == 0) rc = merge_parts(o, langs, n_langs, ".tsv", "manifest.tsv");
    if (rc == 0 && !o->quiet)
        fprintf(stderr, "%s/manifest.tsv: %zu utterance%s, %.2f hours of audio, %d language%s, in %.1f s with %d "
                "job%s\n", o->out_dir, total.utterances, plural_s((long long)total.utterances),
                total.seconds / 3600.0, n_langs, plural_s(n_langs), progress_now() - start, jobs, plural_s(jobs));
    if (rc == 0) note_audio_of_other_languages(o, langs, n_langs);
    if (lock >= 0) close(lock);
    free(parts);
    free(langs);
    return rc;
}

/* ---- statistics of a manifest ---- */

struct stats_row {
    char *lang;
    enum manifest_split split;
    size_t utterances, text_rows, unknown_duration;
    double seconds;
    long chars;
};

static int cmp_stats_row(const void *a, const void *b) {
    const struct stats_row *x = a, *y = b;
    int c = strcmp(x->lang, y->lang);
    return c ? c : (int)x->split - (int)y->split;
}

static void print_stats_row(FILE *out, const char *lang, const char *split, const struct stats_row *r) {
    char hours[32];
    if (r->unknown_duration && r->unknown_duration == r->utterances)
        snprintf(hours, sizeof hours, "?");
    else
        snprintf(hours, sizeof hours, "%.3f%s", r->seconds / 3600.0, r->unknown_duration ? "+?" : "");
    fprintf(out, "%-6s %-6s %11zu %10s %12ld %10zu\n", lang, split, r->utterances, hours, r->chars, r->text_rows);
}

/* Adds the rows of r to the table rows (n of cap), their characters with count_chars: 0 at the
 * end, -1 on an error. */
static int add_stats_rows(manifest_reader *r, int count_chars, struct stats_row **rows, size_t *n, size_t *cap) {
    struct manifest_record rec;
    int got;
    while ((got = manifest_next(r, &rec)) > 0) {
        size_t i = 0;
        while (i < *n && !((*rows)[i].split == rec.split && strcmp((*rows)[i].lang, rec.lang) == 0)) i++;
        if (i == *n) {
            if (*n == *cap) {
                size_t grown_cap = *cap ? 2 * *cap : 64;
                struct stats_row *grown = realloc(*rows, grown_cap * sizeof *grown);
                if (!grown) return mslam_error("out of memory for statistics");
                *rows = grown, *cap = grown_cap;
            }
            (*rows)[*n] = (struct stats_row){.lang = str_dup(rec.lang), .split = rec.split};
            if (!(*rows)[*n].lang) return -1;
            ++*n;
        }
        struct stats_row *row = &(*rows)[i];
        if (count_chars) row->chars += mslam_utf8_length(rec.text);
        if (!rec.audio) {
            row->text_rows++;
            continue;
        }
        row->utterances++;
        if (rec.duration >= 0.0) row->seconds += rec.duration;
        else row->unknown_duration++;
    }
    return got;
}

int corpus_print_stats(const char *path, const struct manifest_options *opts, FILE *out) {
    manifest_reader *r = manifest_open(path, opts);
    if (!r) return -1;
    struct stats_row *rows = NULL;
    size_t n = 0, cap = 0;
    int got = add_stats_rows(r, 1, &rows, &n, &cap);
    /* a corpus folder's text rows are in text.tsv, beside its manifest.tsv (counted, their
     * characters left out: those of the speech are the folder's) */
    char *text_path = is_folder(path) ? path_join(path, "text.tsv") : NULL;
    int with_text = text_path && access(text_path, F_OK) == 0;
    if (got == 0 && with_text) {
        manifest_reader *text = manifest_open(text_path, opts);
        got = text ? add_stats_rows(text, 0, &rows, &n, &cap) : -1;
        manifest_close(text);
    }
    free(text_path);
    if (got == 0) {
        qsort(rows, n, sizeof *rows, cmp_stats_row);
        struct stats_row totals[SPLIT_N] = {0}, all = {0};
        fprintf(out, "%s (%s layout%s)\n%-6s %-6s %11s %10s %12s %10s\n", path,
                layout_name(manifest_reader_layout(r)), with_text ? "; manifest.tsv and text.tsv" : "", "lang",
                "split", "utterances", "hours", "characters", "text rows");
        for (size_t i = 0; i < n; i++) {
            print_stats_row(out, rows[i].lang, split_name(rows[i].split)[0] ? split_name(rows[i].split) : "-",
                            &rows[i]);
            struct stats_row *sums[2] = {&totals[rows[i].split], &all};
            for (int k = 0; k < 2; k++) {
                sums[k]->utterances += rows[i].utterances;
                sums[k]->text_rows += rows[i].text_rows;
                sums[k]->unknown_duration += rows[i].unknown_duration;
                sums[k]->seconds += rows[i].seconds;
                sums[k]->chars += rows[i].chars;
            }
        }
        for (int s = 0; s < SPLIT_N; s++)
            if (totals[s].utterances || totals[s].text_rows)
                print_stats_row(out, "all", split_name(s)[0] ? split_name(s) : "-", &totals[s]);
        print_stats_row(out, "all", "all", &all);
    }
    for (size_t i = 0; i < n; i++) free(rows[i].lang);
    free(rows);
    manifest_close(r);
    return got;
}

/* ---- the subcommand ---- */

static void usage(FILE *out) {
    fprintf(out,
            "Usage: mslam-trainer corpus --out DIR [OPTIONS]\n"
            "       mslam-trainer corpus --stats [MANIFEST|FOLDER] [--layout NAME] [--lang CODE] [--audio-dir DIR]\n"
            "\n"
            "Builds a multilingual speech and text corpus from what Debian ships: sentences from gettext\n"
            "catalogs (with their English source as translation) and fortune files, spoken by espeak-ng\n"
            "with several voices, rates and pitches, augmented, written at 16 kHz mono. The same options\n"
            "give the same files; an interrupted build resumes, keeping what it finished.\n"
            "\n"
            "Output:\n"
            "  -o, --out DIR            corpus folder (a build needs it; --stats reads its manifest\n"
            "                           when given no other: default corpus)\n"
            "      --format flac|wav    audio files (default: flac)\n"
            "Languages and sizes:\n"
            "  -l, --langs LIST         codes separated by commas (or semicolons, as a key file's list), or\n"
            "                           'default' (50) or 'all' (default: default)\n"
            "      --list-langs         print the known languages and exit\n"
            "      --train N            utterances per language in train (default: 400)\n"
            "      --dev N              ... in dev (default: 50)\n"
            "      --test N             ... in test (default: 50)\n"
            "      --text-per-lang N    text-only rows per language in text.tsv (default: 5000)\n"
            "Text sources:\n"
            "      --locale-dir DIRS    gettext catalogs, DIR/<locale>/LC_MESSAGES/*.mo for each DIR of the\n"
            "                           colon-separated list (default: /usr/share/locale)\n"
            "      --fortune-dir DIR    fortune files (default: " DEFAULT_FORTUNE_DIR ")\n"
            "Voices:\n"
            "      --espeak-data DIR    espeak-ng data folder, or one holding espeak-ng-data/ (default: the\n"
            "                           installed one)\n"
            "      --train-voices LIST  voices of train: espeak-ng voice variants, and other synthesizers'\n"
            "                           voices (festival:NAME, flite:NAME; --list-voices) for their language\n"
            "                           (default: %s)\n"
            "      --dev-voices LIST    ... of dev (default: %s)\n"
            "      --test-voices LIST   ... of test (default: %s); the three lists must not overlap\n"
            "      --other-share P      probability that another synthesizer's voice of the split speaks an\n"
            "                           utterance of its language (default: 0.5)\n"
            "      --list-voices        print the other synthesizers' voices, whether each speaks here, and exit\n"
            "      --rate MIN:MAX       words per minute (default: 130:210; other synthesizers' voices:\n"
            "                           their pace stretched by 175 / rate, HTS voices keep theirs)\n"
            "      --pitch MIN:MAX      0-100 (default: 30:70; espeak-ng's alone)\n"
            "Augmentation (each utterance draws its own):\n"
            "      --no-augment         none of the below\n"
            "      --noise-prob P       probability of additive noise: white, pink, brown or babble (default: 0.5)\n"
            "      --snr MIN:MAX        signal-to-noise ratio in dB (default: 5:30)\n"
            "      --speed-prob P       probability of speed perturbation (default: 0.3)\n"
            "      --speed MIN:MAX      speed factor (default: 0.9:1.1)\n"
            "      --reverb-prob P      probability of reverberation (default: 0.3)\n"
            "      --rt60 MIN:MAX       reverberation time in seconds (default: 0.2:0.8)\n"
            "      --gain MIN:MAX       gain in dB, peak-limited (default: -6:6)\n"
            "Run:\n"
            "  -j, --jobs N             worker processes (default: the number of cores)\n"
            "      --seed N             (default: 1)\n"
            "      --progress, --no-progress   progress bar (default: on a terminal)\n"
            "  -q, --quiet              no progress and no summary\n"
            "Statistics:\n"
            "      --stats              print hours, utterances, characters and text rows per language and\n"
            "                           split of a manifest in any layout (mslam, Common Voice, CoVoST-2,\n"
            "                           FLEURS) and exit; a FOLDER means FOLDER/manifest.tsv, with the text\n"
            "                           rows of FOLDER/text.tsv (default: the --out folder)\n"
            "      --layout NAME        mslam, common-voice, covost2 or fleurs (default: told by the header)\n"
            "      --lang CODE          language of every row, for layouts that name it nowhere\n"
            "      --audio-dir DIR      folder of the audio files (default: the layout's)\n"
            "Options from a file:\n"
            "      --config FILE        GLib key file: group [corpus], keys = the long option names above\n"
            "                           (train=800, langs=es,it, no-augment=true); flags override it\n"
            "  -h, --help               this help\n",
            default_voices[SPLIT_TRAIN], default_voices[SPLIT_DEV], default_voices[SPLIT_TEST]);
}

static int parse_int(const char *opt, const char *s, long lo, long hi, long *out) {
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        return mslam_error("%s '%s': expected an integer from %ld to %ld", opt, s, lo, hi);
    *out = v;
    return 0;
}

static int parse_double(const char *opt, const char *s, double *out) {
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno || end == s || *end || !isfinite(v)) return mslam_error("%s '%s': expected a number", opt, s);
    *out = v;
    return 0;
}

static int parse_range(const char *opt, const char *s, struct range *r) {
    const char *colon = strchr(s, ':');
    if (!colon) return mslam_error("%s '%s': expected MIN:MAX", opt, s);
    char *min = str_ndup(s, (size_t)(colon - s));
    int rc = min ? parse_double(opt, min, &r->min) : -1;
    if (rc == 0) rc = parse_double(opt, colon + 1, &r->max);
    free(min);
    return rc;
}

static void list_langs(FILE *out) {
    int n;
    const struct lang_info *t = lang_table(&n);
    fprintf(out, "%-5s %-20s %-7s %-10s %-8s %-16s %s\n", "code", "name", "voice", "script", "default", "catalogs",
            "fortunes");
    for (int i = 0; i < n; i++)
        fprintf(out, "%-5s %-20s %-7s %-10s %-8s %-16s %s\n", t[i].code, t[i].name, t[i].voice,
                script_name(t[i].script), t[i].in_default ? "yes" : "-", t[i].locales,
                t[i].fortunes[0] ? (strlen(t[i].fortunes) > 30 ? "(many files)" : t[i].fortunes) : "-");
}

enum {
    OPT_FORMAT = 256, OPT_LIST_LANGS, OPT_TRAIN, OPT_DEV, OPT_TEST, OPT_TEXT_PER_LANG, OPT_LOCALE_DIR,
    OPT_FORTUNE_DIR, OPT_ESPEAK_DATA, OPT_TRAIN_VOICES, OPT_DEV_VOICES, OPT_TEST_VOICES, OPT_OTHER_SHARE,
    OPT_LIST_VOICES, OPT_RATE, OPT_PITCH,
    OPT_NO_AUGMENT, OPT_NOISE_PROB, OPT_SNR, OPT_SPEED_PROB, OPT_SPEED, OPT_REVERB_PROB, OPT_RT60, OPT_GAIN,
    OPT_SEED, OPT_PROGRESS, OPT_NO_PROGRESS, OPT_STATS, OPT_LAYOUT, OPT_LANG, OPT_AUDIO_DIR, OPT_CONFIG,
};

static const struct option long_options[] = {
    {"out", required_argument, NULL, 'o'},
    {"format", required_argument, NULL, OPT_FORMAT},
    {"langs", required_argument, NULL, 'l'},
    {"list-langs", no_argument, NULL, OPT_LIST_LANGS},
    {"train", required_argument, NULL, OPT_TRAIN},
    {"dev", required_argument, NULL, OPT_DEV},
    {"test", required_argument, NULL, OPT_TEST},
    {"text-per-lang", required_argument, NULL, OPT_TEXT_PER_LANG},
    {"locale-dir", required_argument, NULL, OPT_LOCALE_DIR},
    {"fortune-dir", required_argument, NULL, OPT_FORTUNE_DIR},
    {"espeak-data", required_argument, NULL, OPT_ESPEAK_DATA},
    {"train-voices", required_argument, NULL, OPT_TRAIN_VOICES},
    {"dev-voices", required_argument, NULL, OPT_DEV_VOICES},
    {"test-voices", required_argument, NULL, OPT_TEST_VOICES},
    {"other-share", required_argument, NULL, OPT_OTHER_SHARE},
    {"list-voices", no_argument, NULL, OPT_LIST_VOICES},
    {"rate", required_argument, NULL, OPT_RATE},
    {"pitch", required_argument, NULL, OPT_PITCH},
    {"no-augment", no_argument, NULL, OPT_NO_AUGMENT},
    {"noise-prob", required_argument, NULL, OPT_NOISE_PROB},
    {"snr", required_argument, NULL, OPT_SNR},
    {"speed-prob", required_argument, NULL, OPT_SPEED_PROB},
    {"speed", required_argument, NULL, OPT_SPEED},
    {"reverb-prob", required_argument, NULL, OPT_REVERB_PROB},
    {"rt60", required_argument, NULL, OPT_RT60},
    {"gain", required_argument, NULL, OPT_GAIN},
    {"jobs", required_argument, NULL, 'j'},
    {"seed", required_argument, NULL, OPT_SEED},
    {"progress", no_argument, NULL, OPT_PROGRESS},
    {"no-progress", no_argument, NULL, OPT_NO_PROGRESS},
    {"quiet", no_argument, NULL, 'q'},
    {"stats", no_argument, NULL, OPT_STATS},
    {"layout", required_argument, NULL, OPT_LAYOUT},
    {"lang", required_argument, NULL, OPT_LANG},
    {"audio-dir", required_argument, NULL, OPT_AUDIO_DIR},
    {"config", required_argument, NULL, OPT_CONFIG},
    {"help", no_argument, NULL, 'h'},
    {NULL, 0, NULL, 0},
};

/* Parses argv into o and the statistics request; 0 to go on, 1 when done (help, list), -1 on a
 * usage error. */
static int parse_args(int argc, char **argv, struct corpus_options *o, int *stats, struct manifest_options *mopts) {
    int opt;
    long v = 0;
    /* 0, not 1: glibc's getopt then starts afresh; with 1 it goes on from where the previous parse
     * stopped within an argument ("-q" last), in strings corpus_main has freed since */
    optind = 0;
    opterr = 0;
    int index = -1;
    /* the first option given that only --stats reads: a build would ignore it (--lang typed for
     * --langs built the default 50 languages) */
    int stats_only = 0, out_given = 0;
    while ((opt = getopt_long(argc, argv, ":o:l:j:qh", long_options, &index)) != -1) {
        int rc = 0;
        /* the option as typed, for messages (an unknown one or one missing its value is the
         * last argument read) */
        char name[64];
        if (opt != '?' && opt != ':' && index >= 0)
            snprintf(name, sizeof name, "--%s", long_options[index].name);
        else if (opt != '?' && opt != ':')
            snprintf(name, sizeof name, "-%c", opt);
        else
            snprintf(name, sizeof name, "%s", optind > 0 && optind - 1 < argc ? argv[optind - 1] : "?");
        index = -1;
        switch (opt) {
        case 'o': o->out_dir = optarg, out_given = 1; break;
        case OPT_FORMAT: {
            int format = audio_format_parse(optarg);
            if (format < 0) rc = mslam_error("--format '%s': expected flac or wav", optarg);
            else o->format = (enum audio_format)format;
            break;
        }
        case 'l':
            strlist_free(&o->langs);
            rc = strlist_split_list(&o->langs, optarg);
            /* an empty list would mean the default 50, which "default" says when meant */
            if (!rc && o->langs.n == 0)
                rc = mslam_error("%s '%s' names no language (codes separated by commas or semicolons, 'default' "
                                 "or 'all')", name, optarg);
            if (!rc && o->langs.n == 1 && strcmp(o->langs.items[0], "default") == 0) strlist_free(&o->langs);
            if (!rc && o->langs.n == 1 && strcmp(o->langs.items[0], "all") == 0) {
                int n;
                const struct lang_info *t = lang_table(&n);
                strlist_free(&o->langs);
                for (int i = 0; rc == 0 && i < n; i++) rc = strlist_push(&o->langs, t[i].code);
            }
            break;
        case OPT_LIST_LANGS: list_langs(stdout); return 1;
        case OPT_LIST_VOICES:
            signal(SIGCHLD, SIG_DFL); /* as corpus_build: the voices run as child processes */
            othersynth_list(stdout);
            return 1;
        case OPT_OTHER_SHARE: rc = parse_double(name, optarg, &o->other_share); break;
        case OPT_TRAIN:
        case OPT_DEV:
        case OPT_TEST:
            rc = parse_int(name, optarg, 0, 10000000, &v);
            o->utterances[opt == OPT_TRAIN ? SPLIT_TRAIN : opt == OPT_DEV ? SPLIT_DEV : SPLIT_TEST] = (int)v;
            break;
        case OPT_TEXT_PER_LANG:
            rc = parse_int(name, optarg, 0, 100000000, &v);
            o->text_per_lang = (int)v;
            break;
        case OPT_LOCALE_DIR: o->locale_dir = optarg; break;
        case OPT_FORTUNE_DIR: o->fortune_dir = optarg; break;
        case OPT_ESPEAK_DATA: o->espeak_data = optarg; break;
        case OPT_TRAIN_VOICES:
        case OPT_DEV_VOICES:
        case OPT_TEST_VOICES: {
            enum manifest_split s = opt == OPT_TRAIN_VOICES ? SPLIT_TRAIN : opt == OPT_DEV_VOICES ? SPLIT_DEV : SPLIT_TEST;
            strlist_free(&o->voices[s]);
            rc = strlist_split_list(&o->voices[s], optarg);
            break;
        }
        case OPT_RATE: rc = parse_range(name, optarg, &o->rate); break;
        case OPT_PITCH: rc = parse_range(name, optarg, &o->pitch); break;
        case OPT_NO_AUGMENT:
            o->noise_prob = o->speed_prob = o->reverb_prob = 0.0;
            o->gain_db = (struct range){0, 0};
            break;
        case OPT_NOISE_PROB: rc = parse_double(name, optarg, &o->noise_prob); break;
        case OPT_SNR: rc = parse_range(name, optarg, &o->snr_db); break;
        case OPT_SPEED_PROB: rc = parse_double(name, optarg, &o->speed_prob); break;
        case OPT_SPEED: rc = parse_range(name, optarg, &o->speed); break;
        case OPT_REVERB_PROB: rc = parse_double(name, optarg, &o->reverb_prob); break;
        case OPT_RT60: rc = parse_range(name, optarg, &o->rt60); break;
        case OPT_GAIN: rc = parse_range(name, optarg, &o->gain_db); break;
        case 'j':
            rc = parse_int(name, optarg, 1, 1024, &v);
            o->jobs = (int)v;
            break;
        case OPT_SEED:
            rc = parse_int(name, optarg, 0, 0x7fffffffL, &v);
            o->seed = (uint64_t)v;
            break;
        case OPT_PROGRESS: o->progress = 1; break;
        case OPT_NO_PROGRESS: o->progress = 0; break;
        case 'q': o->quiet = 1; break;
        case OPT_STATS: *stats = 1; break;
        case OPT_LAYOUT: rc = layout_option(optarg, &mopts->layout); break;
        case OPT_LANG: mopts->lang = optarg; break;
        case OPT_AUDIO_DIR: mopts->audio_dir = optarg; break;
        case OPT_CONFIG:
            /* read before, by with_config, which knows it only in full: getopt also takes an
             * abbreviation (--conf), which would otherwise be silently ignored */
            if (strcmp(argv[optind - 1], "--config") && strncmp(argv[optind - 1], "--config=", 9) &&
                (optind < 2 || strcmp(argv[optind - 2], "--config")))
                rc = mslam_error("write --config in full (it is read before the other options)");
            break;
        case 'h': usage(stdout); return 1;
        case ':': rc = mslam_error("%s needs a value", name); break;
        default: rc = mslam_error("unknown option %s (see mslam-trainer corpus --help)", name); break;
        }
        if (rc) return -1;
        if (!stats_only && (opt == OPT_LAYOUT || opt == OPT_LANG || opt == OPT_AUDIO_DIR)) stats_only = opt;
    }
    if (stats_only == OPT_LANG && !*stats)
        return mslam_error("--lang goes with --stats (the language of every row of the manifest it reads); "
                           "--langs picks the languages to build");
    if (stats_only && !*stats)
        return mslam_error("%s goes with --stats (the %s of the manifest it reads)",
                           stats_only == OPT_LAYOUT ? "--layout" : "--audio-dir",
                           stats_only == OPT_LAYOUT ? "layout" : "audio folder");
    if (optind < argc && !*stats)
        return mslam_error("unexpected argument '%s' (see mslam-trainer corpus --help)", argv[optind]);
    /* a bare `corpus`, typed to see the usage, had started the default build (1.7 GB) in ./corpus */
    if (!*stats && !out_given)
        return mslam_error("a build needs --out FOLDER (e.g. --out corpus: the default 50 languages make "
                           "about 1.7 GB there; see mslam-trainer corpus --help)");
    if (optind + 1 < argc) return mslam_error("--stats takes one manifest or folder, not '%s'", argv[optind + 1]);
    return 0;
}

static int run_stats(const struct corpus_options *o, const char *arg, const struct manifest_options *mopts) {
    if (!arg && access(o->out_dir, F_OK) != 0)
        return mslam_error("--stats names no manifest, and there is no corpus folder %s (--out's): "
                           "corpus --stats MANIFEST|FOLDER", o->out_dir);
    return corpus_print_stats(arg ? arg : o->out_dir, mopts, stdout); /* a folder: its manifest.tsv */
}

/* argv with the [corpus] group of --config FILE put first as flags ("--key=value"; a switch set
 * true as "--key", false as its "--no-key" where there is one), so that the command line
 * overrides it. NULL-terminated; g_strfreev. NULL with the error printed. */
static char **with_config(int argc, char **argv, int *n_args) {
    const char *config = options_config_path(argc, argv);
    GKeyFile *kf = config ? options_key_file_open(config, "corpus") : NULL;
    if (config && !kf) return NULL;
    GPtrArray *args = g_ptr_array_new_with_free_func(g_free);
    g_ptr_array_add(args, g_strdup(argv[0]));
    gchar **keys = kf ? g_key_file_get_keys(kf, "corpus", NULL, NULL) : NULL;
    int rc = 0;
    for (gchar **key = keys; key && *key && !rc; key++) {
        const struct option *o = long_options;
        while (o->name && strcmp(o->name, *key)) o++;
        /* what asks for an action, not a setting, stays on the command line */
        static const char *const actions[] = {"help", "list-langs", "stats", "config", NULL};
        if (!o->name || g_strv_contains(actions, *key)) {
            fprintf(stderr, "mslam-trainer corpus: %s: %s '%s' in group [corpus]%s\n", config,
                    o->name ? "key" : "unknown key", *key, o->name ? ": give it on the command line" : "");
            rc = -1;
            break;
        }
        GError *err = NULL;
        if (o->has_arg == no_argument) {
            gboolean on = g_key_file_get_boolean(kf, "corpus", *key, &err);
            gchar *no = g_strdup_printf("no-%s", *key);
            const struct option *negation = long_options;
            while (negation->name && strcmp(negation->name, no)) negation++;
            if (!err && (on || negation->name)) g_ptr_array_add(args, g_strdup_printf("--%s", on ? *key : no));
            g_free(no);
        } else {
            gchar *value = g_key_file_get_string(kf, "corpus", *key, &err);
            if (value) g_ptr_array_add(args, g_strdup_printf("--%s=%s", *key, value));
            g_free(value);
        }
        if (err) {
            fprintf(stderr, "mslam-trainer corpus: %s: key '%s': %s\n", config, *key, err->message);
            g_error_free(err);
            rc = -1;
        }
    }
    g_strfreev(keys);
    if (kf) g_key_file_free(kf);
    for (int i = 1; i < argc; i++) g_ptr_array_add(args, g_strdup(argv[i]));
    *n_args = (int)args->len;
    g_ptr_array_add(args, NULL);
    if (rc) {
        g_ptr_array_free(args, TRUE);
        return NULL;
    }
    g_ptr_array_set_free_func(args, NULL);
    return (char **)g_ptr_array_free(args, FALSE);
}

int corpus_main(int argc, char **argv) {
    struct corpus_options o;
    struct manifest_options mopts = {0};
    int stats = 0, status;
    if (corpus_default_options(&o)) {
        fprintf(stderr, "mslam-trainer corpus: %s\n", mslam_last_error());
        return 1;
    }
    /* o keeps pointers into args */
    char **args = with_config(argc, argv, &argc);
    if (!args) {
        corpus_options_free(&o);
        return 2;
    }
    argv = args;
    int parsed = parse_args(argc, argv, &o, &stats, &mopts);
    if (parsed != 0) {
        status = parsed > 0 ? 0 : 2;
    } else if (stats) {
        status = run_stats(&o, optind < argc ? argv[optind] : NULL, &mopts) ? 1 : 0;
    } else if (check_options(&o)) {
        status = 2; /* a usage error, like one parse_args finds */
    } else {
        status = corpus_build(&o) ? 1 : 0;
    }
    if (status) fprintf(stderr, "mslam-trainer corpus: %s\n", mslam_last_error());
    corpus_options_free(&o);
    g_strfreev(args);
    return status;
}
