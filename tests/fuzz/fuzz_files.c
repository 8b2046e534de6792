/* Bounded mutation fuzzing of every reader of the files a user hands mslam (suite fuzz): model
 * files (F32 and F16), checkpoints, character LMs, translation memories, manifests (mslam, Common
 * Voice, CoVoST-2, FLEURS), gettext catalogs (either byte order) and audio.
 *
 * Each seed is a good file, made here (or a fixture of tests/fixtures/corpus); each round writes
 * a mutated copy of it (1 to 4 of: a bit flipped, a byte set to an edge value, a byte inserted, a
 * range dropped or doubled, the file cut short and, in a safetensors header, a number replaced by
 * an edge value with the header's length kept right, so that the mutation gets past the JSON
 * parser into the checks of shapes, offsets and config) and hands it to the reader. The reader
 * must refuse it with a message naming the file, or accept it; whatever it accepts must then run
 * without crashing and answer each call with a result or an error: a model transcribes,
 * identifies the language, translates (speech and text) and streams; a checkpoint also loads its
 * optimizer state, and its options record is compared with a run's as a resume does; an LM
 * serves a transcription and a language ID, a memory a lookup and a translation; a catalog's
 * every message and a manifest's every record are read. Run under
 * MSLAM_SANITIZE=1 ./tests/run.sh, ASan and UBSan catch what would pass unnoticed here.
 *
 *   MSLAM_FUZZ_SCALE=K   K x 500 rounds per seed (the audio seeds a quarter of that; default 1)
 *   MSLAM_FUZZ_SEED=S    the mutations' random seed (default 1)
 * The round being tried is in FOLDER (printed first), which stays when the test crashes. */
#include "audio.h"
#include "checkpoint.h"
#include "common.h"
#include "fuzz.h"
#include "manifest.h"
#include "mo.h"
#include "model.h"
#include "options.h"
#include "testutil.h"
#include "tm.h"
#include "train_fixture.h"
#include "util.h"

#include <ctype.h>
#include <glib.h>
#include <math.h>
#include <sndfile.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

typedef struct {
    uint8_t *data;
    size_t n;
} bytes;

static bytes read_all(const char *path) {
    char *text = NULL;
    size_t n = 0;
    bytes b = {0};
    CHECK(read_file(path, (size_t)1 << 26, &text, &n) == 0, "reading the seed %s: %s", path, mslam_last_error());
    b.data = (uint8_t *)text, b.n = n;
    return b;
}

/* ---- mutations ---- */

/* End of a safetensors header (8 + its length), or 0 when b does not start with a plausible one. */
static size_t header_end(const bytes *b) {
    if (b->n <= 8) return 0;
    uint64_t len = 0;
    for (int i = 7; i >= 0; i--) len = len << 8 | b->data[i];
    return len <= b->n - 8 && b->data[8] == '{' ? (size_t)(8 + len) : 0;
}

/* Replaces [at, at + drop) of b by the n bytes of with. */
static void splice(bytes *b, size_t at, size_t drop, const void *with, size_t n) {
    uint8_t *d = malloc(b->n - drop + n + 1);
    memcpy(d, b->data, at);
    memcpy(d + at, with, n);
    memcpy(d + at + n, b->data + at + drop, b->n - at - drop);
    free(b->data);
    b->data = d, b->n = b->n - drop + n;
}

static const uint8_t edge_bytes[] = {0x00, 0xff, 0x7f, 0x80, '"', '\\', '{', '}', '[', ']', ',', ':',
                                     '-', '0', '9', '\t', '\n', ' ', 0xc3, 0xe6, 0xf0};
static const char *const edge_numbers[] = {"0", "-1", "1", "2", "3", "7", "8", "255", "65536", "2147483647",
                                           "2147483648", "-2147483648", "4294967297", "9223372036854775807",
                                           "18446744073709551615", "1e30", "-1e30", "0.5", "nan"};

/* Replaces one number of a safetensors header (also those in its metadata's JSON strings) by an
 * edge value and writes the header's new length. 0 when the header has no number. */
static int mutate_header_number(bytes *b, mslam_rng *rng) {
    size_t end = header_end(b), starts[4096];
    int n = 0;
    for (size_t i = 9; i < end && n < 4096; i++) {
        int digit = isdigit(b->data[i]) || (b->data[i] == '-' && i + 1 < end && isdigit(b->data[i + 1]));
        if (digit && !isalnum(b->data[i - 1]) && b->data[i - 1] != '.' && b->data[i - 1] != '_' &&
            b->data[i - 1] != '-')
            starts[n++] = i;
    }
    if (!n) return 0;
    size_t at = starts[draw(rng, (uint32_t)n)], len = 0;
    while (at + len < end && b->data[at + len] && strchr("0123456789.eE+-", b->data[at + len])) len++;
    const char *with = edge_numbers[draw(rng, sizeof edge_numbers / sizeof *edge_numbers)];
    splice(b, at, len, with, strlen(with));
    uint64_t header = end - 8 - len + strlen(with);
    for (int i = 0; i < 8; i++) b->data[i] = (uint8_t)(header >> (8 * i));
    return 1;
}

/* A bit of *byte flipped (flip), or *byte set to an edge value. */
static void change_byte(uint8_t *byte, int flip, mslam_rng *rng) {
    if (flip) *byte ^= (uint8_t)(1u << draw(rng, 8));
    else *byte = edge_bytes[draw(rng, sizeof edge_bytes)];
}

/* b = seed with 1 to 4 mutations. In a safetensors file, a round mutates the header (2 in 5),
 * the tensors' data alone (2 in 5: a model's reader takes any weights, NaN, Inf or huge, so
 * these test what comes after loading; an LM's or a memory's data are checked), or anywhere. */
static void mutate(bytes *b, const bytes *seed, mslam_rng *rng) {
    free(b->data);
    b->data = malloc(seed->n + 1);
    memcpy(b->data, seed->data, seed->n);
    b->n = seed->n;
    int count = 1 + (int)draw(rng, 4);
    uint32_t where = draw(rng, 5);
    size_t data_start = header_end(b);
    if (where >= 2 && where < 4 && data_start && data_start < b->n) {
        for (int k = 0; k < count; k++) {
            change_byte(&b->data[data_start + draw(rng, (uint32_t)(b->n - data_start))], draw(rng, 2), rng);
        }
        return;
    }
    for (int k = 0; k < count && b->n > 0; k++) {
        size_t end = header_end(b);
        size_t span = end && where < 2 ? end : b->n;
        size_t at = draw(rng, (uint32_t)span);
        uint32_t kind = draw(rng, 100);
        if (kind < 45) {
            change_byte(&b->data[at], kind < 25, rng);
        } else if (kind < 70 && end && mutate_header_number(b, rng)) {
        } else if (kind < 80) {
            splice(b, at, 0, &edge_bytes[draw(rng, sizeof edge_bytes)], 1);
        } else if (kind < 88) {
            size_t len = 1 + draw(rng, 16);
            splice(b, at, at + len <= b->n ? len : b->n - at, "", 0);
        } else if (kind < 96) {
            size_t len = 1 + draw(rng, 16);
            if (at + len > b->n) len = b->n - at;
            uint8_t copy[16];
            memcpy(copy, b->data + at, len);
            splice(b, at, 0, copy, len);
        } else {
            b->n = at;
        }
    }
}

/* ---- what the readers' results must do ---- */

enum { PCM_SAMPLES = 8000 };
static float pcm[PCM_SAMPLES];
static mslam_model *good_model; /* for the LM and memory rounds */

/* A refusal (status < 0 or NULL) names the file. */
static void check_refusal(const char *what, const char *path) {
    const char *e = mslam_last_error();
    CHECK(e && strcmp(e, FUZZ_NO_ERROR) && strstr(e, path),
          "%s refused %s with the message \"%s\", which does not name it", what, path, e ? e : "(null)");
}

static void exercise_model(mslam_model *m, const char *path) {
    struct mslam_model_config c = mslam_model_get_config(m);
    struct mslam_decode_params dp = mslam_decode_default_params();
    dp.beam_size = 2;
    dp.max_len = 12;
    mslam_error("%s", FUZZ_NO_ERROR);
    fuzz_check_result(mslam_transcribe(m, pcm, PCM_SAMPLES, &dp), "mslam_transcribe", 1);
    fuzz_check_result(mslam_translate(m, pcm, PCM_SAMPLES, &dp), "mslam_translate", 0);
    fuzz_check_result(mslam_translate_text(m, "ab", &dp), "mslam_translate_text", 0);
    float *probs = calloc(c.n_langs > 0 ? (size_t)c.n_langs : 1, sizeof *probs);
    int best = mslam_identify_language(m, pcm, PCM_SAMPLES, &dp, probs);
    CHECK(best < c.n_langs, "mslam_identify_language on %s: language %d of %d", path, best, c.n_langs);
    if (best < 0) fuzz_check_error("mslam_identify_language");
    free(probs);
    mslam_stream *s = mslam_stream_new(m, mslam_stream_default_params());
    if (!s) fuzz_check_error("mslam_stream_new");
    if (s) {
        float *frames = malloc((size_t)c.d_model * 64 * sizeof *frames);
        int ready = mslam_stream_push(s, pcm, PCM_SAMPLES);
        if (ready >= 0) ready = mslam_stream_finish(s);
        if (ready < 0) fuzz_check_error("mslam_stream_push / mslam_stream_finish");
        int got = ready >= 0 ? mslam_stream_read(s, frames, 64) : 0;
        CHECK(ready < 0 || got == (ready < 64 ? ready : 64), "a stream of %s: %d frames read of %d ready", path, got,
              ready);
        free(frames);
        mslam_stream_free(s);
    }
    mslam_error("%s", FUZZ_NO_ERROR);
}

/* ---- the readers: each returns 1 when it accepted the file ---- */

static int try_model(const char *path) {
    mslam_model *m = mslam_model_load(path, mslam_model_default_params());
    if (!m) return check_refusal("mslam_model_load", path), 0;
    exercise_model(m, path);
    mslam_model_free(m);
    return 1;
}

static int try_checkpoint(const char *path) {
    mslam_model *m = NULL;
    train_position pos;
    int has_state = 0;
    if (checkpoint_load(path, &m, &pos, &has_state) < 0) return check_refusal("checkpoint_load", path), 0;
    optim_config oc = optim_default_config();
    adamw opt;
    if (has_state && adamw_init(&opt, &oc, &m->table) == 0) {
        mslam_error("%s", FUZZ_NO_ERROR);
        if (checkpoint_load_optimizer(path, &opt) < 0) check_refusal("checkpoint_load_optimizer", path);
        adamw_free(&opt);
    }
    /* the options record, compared with a run's as a resume does */
    char *record = checkpoint_options(path);
    if (record) g_free(options_record_diff(record, "steps=3\nlr=0.001\n", "steps=8\nkeep=2\n", NULL));
    free(record);
    exercise_model(m, path);
    mslam_model_free(m);
    return 1;
}

static int try_lm(const char *path) {
    mslam_lm *lm = mslam_lm_load(path);
    if (!lm) return check_refusal("mslam_lm_load", path), 0;
    struct mslam_decode_params dp = mslam_decode_default_params();
    dp.beam_size = 2;
    dp.lm = lm;
    dp.languages = mslam_model_lang(good_model, 0);
    mslam_error("%s", FUZZ_NO_ERROR);
    fuzz_check_result(mslam_transcribe(good_model, pcm, PCM_SAMPLES, &dp), "mslam_transcribe with the LM", 1);
    dp.languages = NULL;
    float probs[16];
    if (mslam_identify_language(good_model, pcm, PCM_SAMPLES, &dp, probs) < 0)
        fuzz_check_error("mslam_identify_language with the LM");
    mslam_lm_free(lm);
    return 1;
}

static int try_tm(const char *path) {
    mslam_tm *tm = mslam_tm_load(path);
    if (!tm) return check_refusal("mslam_tm_load", path), 0;
    const char *const queries[] = {"ab ab", "", "b", "\xc3\xa9t\xc3\xa9"};
    for (size_t i = 0; i < sizeof queries / sizeof *queries; i++) {
        struct mslam_tm_match match;
        mslam_error("%s", FUZZ_NO_ERROR);
        int found = mslam_tm_lookup(tm, queries[i], i % 2 ? mslam_model_lang(good_model, 1) : NULL, &match);
        fuzz_check_lookup(tm, found, &match, "mslam_tm_lookup");
    }
    struct mslam_decode_params dp = mslam_decode_default_params();
    dp.beam_size = 2;
    dp.max_len = 12;
    dp.translation_memory = tm;
    fuzz_check_result(mslam_translate_text(good_model, "ab ab", &dp), "mslam_translate_text with the memory", 0);
    mslam_tm_free(tm);
    return 1;
}

static int try_manifest(const char *path) {
    struct manifest man = {0};
    if (manifest_load(path, NULL, &man) < 0) return check_refusal("manifest_load", path), 0;
    for (size_t i = 0; i < man.n; i++) {
        const struct manifest_record *r = &man.records[i];
        CHECK(r->lang && r->text && r->translation && r->speaker, "%s: record %zu lacks a field", path, i);
    }
    manifest_free(&man);
    return 1;
}

static int try_mo(const char *path) {
    mo_catalog *c = mo_open(path);
    if (!c) return check_refusal("mo_open", path), 0;
    size_t chars = strlen(mo_charset(c));
    for (size_t i = 0; i < mo_count(c); i++) {
        struct mo_message msg = mo_get(c, i);
        chars += strlen(msg.original) + strlen(msg.translation);
    }
    CHECK(chars < ((size_t)1 << 26), "%s: %zu characters", path, chars);
    mo_close(c);
    return 1;
}

static int try_audio(const char *path) {
    struct audio a = {0};
    long long frames = -1;
    int rate = 0, channels = 0;
    if (audio_probe(path, &frames, &rate, &channels) < 0) check_refusal("audio_probe", path);
    else CHECK(frames >= 0 && rate > 0, "%s: probed as %lld frames at %d Hz", path, frames, rate);
    if (audio_read(path, &a) < 0) return check_refusal("audio_read", path), 0;
    size_t not_finite = 0; /* (reads every sample, for ASan) */
    for (size_t i = 0; i < a.n; i++) not_finite += !isfinite(a.samples[i]);
    CHECK(not_finite == 0, "%s: %zu of %zu samples are not finite numbers", path, not_finite, a.n);
    audio_free(&a);
    return 1;
}

/* ---- the run ---- */

static char seeds[4096]; /* the folder of the seeds made here */

/* seeds/name (static buffer: valid until the next call). */
static const char *in_seeds(const char *name) {
    static char path[4096 + 64];
    snprintf(path, sizeof path, "%s/%s", seeds, name);
    return path;
}

typedef struct {
    const char *name;
    const char *seed; /* a file name in the seeds folder, or a path */
    const char *file_name; /* of the mutated copy, under the work folder (some readers take the
                            * language from the file's or the folder's name) */
    int (*try_input)(const char *path);
    int rounds_divisor;
} fuzz_target;

static void fuzz(const fuzz_target *t, const char *dir, int rounds, mslam_rng *rng) {
    bytes seed = read_all(t->seed[0] == '/' ? t->seed : in_seeds(t->seed)), input = {0};
    if (!seed.data) return;
    char *path = str_printf("%s/%s", dir, t->file_name), *slash = strrchr(path, '/');
    *slash = '\0';
    mkdir_p(path);
    *slash = '/';
    /* the seed itself is accepted */
    mslam_error("%s", FUZZ_NO_ERROR);
    CHECK(write_file_atomic(path, seed.data, seed.n) == 0 && t->try_input(path) == 1,
          "%s: the good seed is refused: %s", t->name, mslam_last_error());
    int accepted = 0, n = rounds / t->rounds_divisor;
    for (int r = 0; r < n; r++) {
        mutate(&input, &seed, rng);
        if (write_file_atomic(path, input.data, input.n)) {
            CHECK(0, "writing %s: %s", path, mslam_last_error());
            break;
        }
        mslam_error("%s", FUZZ_NO_ERROR);
        accepted += t->try_input(path);
    }
    printf("%-28s %5d rounds, %5d accepted\n", t->name, n, accepted);
    fflush(stdout);
    unlink(path);
    free(path);
    free(seed.data);
    free(input.data);
}

int main(void) {
    int rounds = fuzz_rounds(500);
    uint64_t seed = 1;
    CHECK(rounds >= 0 && fuzz_seed(&seed), "MSLAM_FUZZ_SCALE or MSLAM_FUZZ_SEED");
    mslam_log_set(test_quiet_log, NULL);
    for (int i = 0; i < PCM_SAMPLES; i++) pcm[i] = 0.3f * sinf(0.07f * i) * sinf(0.0011f * i);

    const char *manifest = fixture_write(2, 0);
    fuzz_fixture fx = {0};
    if (!manifest || fuzz_fixture_make(manifest, &fx) || rounds < 0) return test_result("fuzz_files");
    good_model = fx.model;
    const char *dir = fixture_dir();
    snprintf(seeds, sizeof seeds, "%s", fixture_subdir("seeds"));
    printf("fuzzing in %s (the round being tried stays there after a crash), seed %llu\n", dir,
           (unsigned long long)seed);
    char *work = str_printf("%s/work", dir), *cv_dir = str_printf("%s/cv/fr", work);
    char *cv_durations = str_printf("%s/clip_durations.tsv", cv_dir);
    /* Common Voice's reader wants clip_durations.tsv beside the manifest */
    bytes durations = read_all(test_data_path("fixtures/corpus/common-voice/fr/clip_durations.tsv"));
    CHECK(mkdir_p(cv_dir) == 0 && write_file_atomic(cv_durations, durations.data, durations.n) == 0, "writing %s",
          cv_durations);
    free(durations.data), free(cv_durations), free(cv_dir);

    CHECK(mslam_model_save(good_model, in_seeds("model.safetensors")) == 0, "saving the model");
    CHECK(mslam_model_save_f16(good_model, in_seeds("model-f16.safetensors")) == 0, "saving F16");
    CHECK(mslam_model_save_int8(good_model, in_seeds("model-int8.safetensors")) == 0, "saving int8");
    optim_config oc = optim_default_config();
    adamw opt;
    train_position pos = {.step = 3, .seed = 5, .world_size = 1, .accumulate = 1, .global_batch = 4};
    CHECK(adamw_init(&opt, &oc, &good_model->table) == 0 &&
              checkpoint_save(in_seeds("ckpt.safetensors"), good_model, &opt, &pos, "steps=3\n") == 0,
          "writing the checkpoint: %s", mslam_last_error());
    adamw_free(&opt);
    CHECK(lm_save(fx.lm, in_seeds("lm.safetensors")) == 0, "writing the LM: %s", mslam_last_error());
    CHECK(tm_save(fx.tm, in_seeds("tm.safetensors")) == 0, "writing the memory: %s", mslam_last_error());

    const char *ids[] = {"Open", "Close\0Closes", "menu\004File", "%d files"};
    const size_t id_lens[] = {4, 12, 9, 8};
    const char *strs[] = {"Abrir", "Cerrar", "Archivo", "%d archivos"};
    test_write_mo(in_seeds("le.mo"), ids, id_lens, strs, 4, 0);
    test_write_mo(in_seeds("be.mo"), ids, id_lens, strs, 4, 1);

    struct audio tone = {0};
    float beep[1600];
    for (int i = 0; i < 1600; i++) beep[i] = 0.5f * sinf(0.1f * i);
    tone.rate = 16000;
    CHECK(audio_append(&tone, beep, 1600) == 0 && audio_write(in_seeds("a.wav"), &tone, AUDIO_WAV) == 0 &&
              audio_write(in_seeds("a.flac"), &tone, AUDIO_FLAC) == 0,
          "writing audio: %s", mslam_last_error());
    audio_free(&tone);
    /* an MP3 (libmpg123 decodes it, see audio.c) */
    SF_INFO mp3_info = {.samplerate = 16000, .channels = 1, .format = SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III};
    SNDFILE *mp3 = sf_open(in_seeds("a.mp3"), SFM_WRITE, &mp3_info);
    CHECK(mp3 && sf_writef_float(mp3, beep, 1600) == 1600 && sf_close(mp3) == 0, "writing an MP3: %s",
          sf_strerror(NULL));
    /* a float WAV with a NaN: refused by name (the fuzz rounds seldom make one) */
    SF_INFO info = {.samplerate = 16000, .channels = 1, .format = SF_FORMAT_WAV | SF_FORMAT_FLOAT};
    SNDFILE *f = sf_open(in_seeds("nan.wav"), SFM_WRITE, &info);
    float nan_at_3[5] = {0, 0.5f, -0.5f, NAN, 0};
    CHECK(f && sf_writef_float(f, nan_at_3, 5) == 5 && sf_close(f) == 0, "writing a float WAV");
    struct audio read_back = {0};
    CHECK(audio_read(in_seeds("nan.wav"), &read_back) < 0 && strstr(mslam_last_error(), "sample 3 is not a finite"),
          "a WAV with a NaN: %s", mslam_last_error());
    audio_free(&read_back);

    char *cv = strdup(test_data_path("fixtures/corpus/common-voice/fr/test.tsv"));
    char *covost = strdup(test_data_path("fixtures/corpus/covost2/covost_v2.fr_en.test.tsv"));
    char *fleurs = strdup(test_data_path("fixtures/corpus/fleurs/fr_fr/test.tsv"));
    const fuzz_target targets[] = {
        {"model (F32)", "model.safetensors", "model.safetensors", try_model, 1},
        {"model (F16)", "model-f16.safetensors", "model.safetensors", try_model, 1},
        {"model (int8)", "model-int8.safetensors", "model.safetensors", try_model, 1},
        {"checkpoint", "ckpt.safetensors", "ckpt.safetensors", try_checkpoint, 1},
        {"character LM", "lm.safetensors", "lm.safetensors", try_lm, 1},
        {"translation memory", "tm.safetensors", "tm.safetensors", try_tm, 1},
        {"manifest (mslam)", manifest, "manifest.tsv", try_manifest, 1},
        {"manifest (Common Voice)", cv, "cv/fr/test.tsv", try_manifest, 1},
        {"manifest (CoVoST-2)", covost, "covost_v2.fr_en.test.tsv", try_manifest, 1},
        {"manifest (FLEURS)", fleurs, "fleurs/fr_fr/test.tsv", try_manifest, 1},
        {"catalog (little-endian)", "le.mo", "messages.mo", try_mo, 1},
        {"catalog (big-endian)", "be.mo", "messages.mo", try_mo, 1},
        {"audio (WAV)", "a.wav", "audio.wav", try_audio, 4},
        {"audio (FLAC)", "a.flac", "audio.flac", try_audio, 4},
        {"audio (MP3)", "a.mp3", "audio.mp3", try_audio, 4},
    };
    mslam_rng rng;
    mslam_rng_seed(&rng, seed);
    for (size_t i = 0; i < sizeof targets / sizeof *targets; i++) fuzz(&targets[i], work, rounds, &rng);
    free(cv), free(covost), free(fleurs);
    free(work);
    fuzz_fixture_free(&fx);
    if (!test_failures) fixture_remove();
    return test_result("fuzz_files");
}
