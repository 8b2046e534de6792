/* Corpus builder (trainer/): the .mo reader in both byte orders and on corrupt files, text
 * cleaning, the manifest readers on tiny Common Voice / CoVoST-2 / FLEURS / mslam fixtures, and
 * a tiny corpus (3 languages x 5 utterances) built from catalogs this test writes: the files
 * decode as 16 kHz mono with the manifest's durations, splits share no sentence and no voice,
 * two builds (1 and 2 jobs) and a resumed build are byte-identical (after a kill, after a hung
 * espeak-ng), bad inputs give errors that name the problem; Festival's and flite's voices mixed in
 * (with stand-ins for text2wave that fail, cannot write their audio and hang). */
#include "audio.h"
#include "common.h"
#include "corpus.h"
#include "langs.h"
#include "manifest.h"
#include "mo.h"
#include "mslam.h"
#include "othersynth.h"
#include "progress.h"
#include "textclean.h"
#include "textsrc.h"
#include "testutil.h"
#include "train_fixture.h"
#include "util.h"

#include <dirent.h>
#include <dlfcn.h>
#include <espeak-ng/espeak_ng.h>
#include <ftw.h>
#include <glib.h>
#include <fcntl.h>
#include <math.h>
#include <sndfile.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <errno.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* Set, the synthesis of every utterance hangs, as a stuck espeak-ng would (in the workers forked
 * after): this program's espeak_ng_Synthesize stands before the library's, which it calls
 * otherwise. */
static volatile sig_atomic_t synthesis_hangs;

espeak_ng_STATUS espeak_ng_Synthesize(const void *text, size_t size, unsigned int position,
                                      espeak_POSITION_TYPE position_type, unsigned int end_position,
                                      unsigned int flags, unsigned int *unique_identifier, void *user_data) {
    typedef espeak_ng_STATUS (*synthesize_fn)(const void *, size_t, unsigned int, espeak_POSITION_TYPE, unsigned int,
                                              unsigned int, unsigned int *, void *);
    while (synthesis_hangs) pause();
    synthesize_fn library = (synthesize_fn)dlsym(RTLD_NEXT, "espeak_ng_Synthesize");
    if (!library) return ENS_NOT_SUPPORTED;
    return library(text, size, position, position_type, end_position, flags, unique_identifier, user_data);
}

static char tmp_root[] = "/tmp/mslam-test-corpus-XXXXXX";

static char *tmp_path(const char *relative) { return path_join(tmp_root, relative); }

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw) {
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static int error_mentions(const char *a, const char *b) {
    const char *msg = mslam_last_error();
    return strstr(msg, a) != NULL && (!b || strstr(msg, b) != NULL);
}

static void test_mo_reader(void) {
    static const char plural[] = "One file was removed from the list.\0Several files were removed.";
    static const char context[] = "menu\x04Open the selected document now.";
    const char *ids[] = {"The file could not be opened.", plural, context};
    const size_t id_lens[] = {strlen(ids[0]), sizeof plural - 1, sizeof context - 1};
    const char *strs[] = {"No se pudo abrir el archivo.", "Se eliminó un archivo de la lista.", "Abrir ahora."};
    char *le = tmp_path("le.mo"), *be = tmp_path("be.mo");
    test_write_mo(le, ids, id_lens, strs, 3, 0);
    test_write_mo(be, ids, id_lens, strs, 3, 1);
    mo_catalog *a = mo_open(le), *b = mo_open(be);
    CHECK(a && b, "mo_open of a valid catalog failed: %s", mslam_last_error());
    if (a && b) {
        CHECK(mo_count(a) == 3 && mo_count(b) == 3, "3 messages expected, got %zu and %zu", mo_count(a), mo_count(b));
        CHECK(strcmp(mo_charset(a), "UTF-8") == 0, "charset '%s'", mo_charset(a));
        for (size_t i = 0; i < mo_count(a) && i < 3; i++) {
            struct mo_message x = mo_get(a, i), y = mo_get(b, i);
            CHECK(strcmp(x.original, y.original) == 0 && strcmp(x.translation, y.translation) == 0,
                  "byte orders disagree on message %zu", i);
            CHECK(strcmp(x.translation, strs[i]) == 0, "message %zu: '%s'", i, x.translation);
        }
        CHECK(strcmp(mo_get(a, 1).original, "One file was removed from the list.") == 0, "plural: '%s'",
              mo_get(a, 1).original);
        CHECK(strcmp(mo_get(a, 2).original, "Open the selected document now.") == 0, "context: '%s'",
              mo_get(a, 2).original);
    }
    mo_close(a);
    mo_close(b);

    /* corrupt and missing catalogs: NULL and a message naming the file and the problem */
    char *data;
    size_t size;
    CHECK(read_file(le, 1 << 20, &data, &size) == 0, "cannot read back %s", le);
    char *bad = tmp_path("bad.mo");
    struct {
        const char *what, *expect;
        size_t keep;
        size_t poke_at;
        uint32_t poke;
    } cases[] = {
        {"truncated header", "shorter than", 10, 0, 0},
        {"bad magic", "magic number", size, 0, 0x12345678},
        {"tables past the end", "tables", size, 12, 0x7ffffff0},
        {"string past the end", "beyond the file", size, 28 + 8 + 4, 0x7ffffff0},
        {"file cut inside the strings", "beyond the file", size - 20, 0, 0},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        char copy[4096];
        memcpy(copy, data, size < sizeof copy ? size : sizeof copy);
        if (cases[c].poke_at || cases[c].poke) memcpy(copy + cases[c].poke_at, &cases[c].poke, 4);
        CHECK(write_file_atomic(bad, copy, cases[c].keep) == 0, "cannot write %s", bad);
        mo_catalog *m = mo_open(bad);
        CHECK(m == NULL, "%s: a corrupt catalog was accepted", cases[c].what);
        CHECK(error_mentions(bad, cases[c].expect), "%s: message '%s' should name the file and say '%s'",
              cases[c].what, mslam_last_error(), cases[c].expect);
        mo_close(m);
    }
    char *missing = tmp_path("missing.mo");
    CHECK(mo_open(missing) == NULL && error_mentions(missing, "No such file"), "missing catalog: '%s'",
          mslam_last_error());
    free(data);
    free(missing);
    free(bad);
    free(le);
    free(be);
}

/* ---- text cleaning ---- */

static void test_text_clean(void) {
    struct {
        const char *in;
        enum script script;
        int unspaced;
        enum text_verdict verdict;
        const char *out;
    } cases[] = {
        {"<b>Warning:</b> the disk is almost full.", SCRIPT_LATIN, 0, TEXT_OK, "Warning: the disk is almost full."},
        {"_Save the current document", SCRIPT_LATIN, 0, TEXT_OK, "Save the current document"},
        {"Save &As another file here", SCRIPT_LATIN, 0, TEXT_OK, "Save As another file here"},
        {"Tom &amp; Jerry are friends.", SCRIPT_LATIN, 0, TEXT_CHARS, ""},
        {"Could not  open\nthe\tfile.", SCRIPT_LATIN, 0, TEXT_OK, "Could not open the file."},
        {"Could not open %s for writing.", SCRIPT_LATIN, 0, TEXT_FORMAT, ""},
        {"Hello {name}, welcome back.", SCRIPT_LATIN, 0, TEXT_FORMAT, ""},
        {"Set $HOME to your folder first.", SCRIPT_LATIN, 0, TEXT_FORMAT, ""},
        {"<filename> could not be read.", SCRIPT_LATIN, 0, TEXT_MARKUP, ""},
        {"Open", SCRIPT_LATIN, 0, TEXT_SHORT, ""},
        {"Enter the name of the new user:", SCRIPT_LATIN, 0, TEXT_NOT_SENTENCE, ""},
        {"the file was not found anywhere", SCRIPT_LATIN, 0, TEXT_NOT_SENTENCE, ""},
        {"Use --force to replace the file.", SCRIPT_LATIN, 0, TEXT_NOT_SENTENCE, ""},
        {"The file notes.txt was not found.", SCRIPT_LATIN, 0, TEXT_NOT_SENTENCE, ""},
        {"Файл не найден на этом диске.", SCRIPT_CYRILLIC, 0, TEXT_OK, "Файл не найден на этом диске."},
        {"The file was not found on disk.", SCRIPT_CYRILLIC, 0, TEXT_SCRIPT, ""},
        {"ファイルを開けませんでした(_O)", SCRIPT_KANA, 1, TEXT_OK, "ファイルを開けませんでした"},
        {"Bad \xff\xfe bytes in this message.", SCRIPT_LATIN, 0, TEXT_ENCODING, ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct text_rules rules = text_default_rules(cases[i].script, cases[i].unspaced);
        char out[512];
        enum text_verdict v = text_clean(cases[i].in, &rules, out, sizeof out);
        CHECK(v == cases[i].verdict, "\"%s\": %s, expected %s", cases[i].in, text_verdict_name(v),
              text_verdict_name(cases[i].verdict));
        CHECK(strcmp(out, cases[i].out) == 0, "\"%s\" cleaned to \"%s\", expected \"%s\"", cases[i].in, out,
              cases[i].out);
    }
}

/* ---- manifest readers ---- */

/* Bytes of the MPEG audio frame (Layer III) whose header starts b. */
static size_t mp3_frame_bytes(const uint8_t *b) {
    static const int kbps_mpeg1[16] = {0, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 256, 320, 0};
    static const int kbps_mpeg2[16] = {0, 8, 16, 24, 32, 40, 48, 56, 64, 80, 96, 112, 128, 144, 160, 0};
    static const int rates_mpeg1[4] = {44100, 48000, 32000, 0};
    int version = (b[1] >> 3) & 3; /* 3: MPEG-1, 2: MPEG-2, 0: MPEG-2.5 */
    int rate = rates_mpeg1[(b[2] >> 2) & 3] >> (version == 3 ? 0 : version == 2 ? 1 : 2);
    int kbps = (version == 3 ? kbps_mpeg1 : kbps_mpeg2)[b[2] >> 4];
    return rate ? (size_t)((version == 3 ? 144000 : 72000) * kbps / rate + ((b[2] >> 1) & 1)) : 0;
}

/* An Ogg Vorbis file cut in half: libsndfile gives no length (SF_COUNT_MAX) and decodes nothing
 * of it; audio_probe said 9.2e18 frames (a clip of 1.9e14 s) and audio_read an empty clip. Both
 * are an error naming the file now (a review); the whole file reads. */
static void test_cut_ogg(void) {
    char *full = tmp_path("full.ogg"), *cut = tmp_path("cut.ogg");
    SF_INFO info = {.samplerate = 16000, .channels = 1, .format = SF_FORMAT_OGG | SF_FORMAT_VORBIS};
    SNDFILE *f = sf_open(full, SFM_WRITE, &info);
    CHECK(f != NULL, "cannot write %s: %s", full, sf_strerror(NULL));
    if (!f) return;
    float pcm[16000];
    for (int i = 0; i < 16000; i++) pcm[i] = 0.3f * sinf(0.05f * (float)i);
    for (int k = 0; k < 4; k++) sf_writef_float(f, pcm, 16000);
    sf_close(f);
    char *bytes = NULL;
    size_t n = 0;
    CHECK(read_file(full, 1 << 24, &bytes, &n) == 0 && write_file_atomic(cut, bytes, n / 2) == 0, "the cut file");
    long long frames = 0;
    int rate = 0, channels = 0;
    struct audio a = {0};
    CHECK(audio_probe(full, &frames, &rate, &channels) == 0 && frames == 4 * 16000 && audio_read(full, &a) == 0 &&
              a.n == 4 * 16000,
          "the whole file: %lld frames probed, %zu read", frames, a.n);
    audio_free(&a);
    CHECK(audio_probe(cut, &frames, &rate, &channels) != 0 && error_mentions("no sample could be decoded", "cut.ogg"),
          "half an Ogg file probed: %s", mslam_last_error());
    CHECK(audio_read(cut, &a) != 0 && error_mentions("no sample could be decoded", "cut.ogg"),
          "half an Ogg file read: %s", mslam_last_error());
    audio_free(&a);
    free(bytes), free(full), free(cut);
}

/* An MP3 whose first frame, the Xing header with the stream's length, is gone (as in a VBR stream
 * cut from a broadcast, or what GStreamer's lamemp3enc writes): audio_read decodes all of it and
 * audio_probe counts it, where libsndfile alone stops at the length it guesses. */
static void test_mp3_without_header(void) {
    char *full = tmp_path("full.mp3"), *cut = tmp_path("cut.mp3");
    SF_INFO info = {.samplerate = 16000, .channels = 1, .format = SF_FORMAT_MPEG | SF_FORMAT_MPEG_LAYER_III};
    SNDFILE *f = sf_open(full, SFM_WRITE, &info);
    CHECK(f != NULL, "cannot write %s: %s", full, sf_strerror(NULL));
    if (!f) return;
    int mode = SF_BITRATE_MODE_VARIABLE;
    sf_command(f, SFC_SET_BITRATE_MODE, &mode, sizeof mode);
    static float tones[48000]; /* 3 s whose pitch changes every quarter second: a VBR stream */
    for (int k = 0; k < 48000; k++) tones[k] = 0.3f * sinf((float)k * 0.05f * (float)(1 + k / 4000 % 5));
    sf_writef_float(f, tones, 48000);
    sf_close(f);
    char *bytes = NULL;
    size_t n = 0, first = 0;
    CHECK(read_file(full, 1 << 20, &bytes, &n) == 0 && n > 4 && (uint8_t)bytes[0] == 0xff &&
              (first = mp3_frame_bytes((const uint8_t *)bytes)) > 0 && first < n && memmem(bytes, first, "Xing", 4),
          "%s does not start with a Xing frame", full);
    if (first) write_file_atomic(cut, bytes + first, n - first);
    free(bytes);
    SF_INFO cut_info = {0};
    SNDFILE *g = sf_open(cut, SFM_READ, &cut_info);
    long long sndfile_frames = g ? (long long)cut_info.frames : -1;
    if (g) sf_close(g);
    struct audio a = {0};
    long long frames = 0;
    int rate = 0, channels = 0;
    /* less the first frame's 576 samples, plus the encoder's delay and padding, which only the
     * lost header said how to trim */
    CHECK(audio_read(cut, &a) == 0 && a.rate == 16000 && a.n > 48000 - 1152 && a.n < 48000 + 2 * 1152,
          "%s: %zu samples of about 48000 (%s)", cut, a.n, mslam_last_error());
    CHECK(audio_probe(cut, &frames, &rate, &channels) == 0 && frames == (long long)a.n && rate == 16000,
          "probe of %s: %lld frames, read %zu", cut, frames, a.n);
    CHECK(sndfile_frames != (long long)a.n, "libsndfile's guess is right here (%lld): the test shows nothing",
          sndfile_frames);
    /* bytes after the last frame that are none (zeros): ignored, not an error */
    char *padded = tmp_path("padded.mp3"), *padded_bytes = NULL;
    size_t padded_n = 0;
    CHECK(read_file(cut, 1 << 20, &padded_bytes, &padded_n) == 0, "reading %s", cut);
    padded_bytes = realloc(padded_bytes, padded_n + 5000);
    memset(padded_bytes + padded_n, 0, 5000);
    write_file_atomic(padded, padded_bytes, padded_n + 5000);
    struct audio b = {0};
    CHECK(audio_read(padded, &b) == 0 && b.n == a.n, "%s: %zu samples of %zu (%s)", padded, b.n, a.n,
          mslam_last_error());
    audio_free(&b);
    free(padded_bytes), free(padded);
    printf("mp3 without its header: %zu samples decoded, libsndfile would read %lld\n", a.n, sndfile_frames);
    audio_free(&a);
    /* bytes that are no audio, named .mp3: an error that does not say the file is missing (it
     * said "File does not exist or is not a regular file", libsndfile's message of another case) */
    char *junk = tmp_path("junk.mp3"), junk_bytes[3000];
    for (size_t i = 0; i < sizeof junk_bytes; i++) junk_bytes[i] = (char)(i * 37 + i / 7);
    write_file_atomic(junk, junk_bytes, sizeof junk_bytes);
    CHECK(audio_read(junk, &b) != 0 && strstr(mslam_last_error(), junk) && !strstr(mslam_last_error(), "not exist"),
          "junk named .mp3: %s", mslam_last_error());
    printf("junk named .mp3: %s\n", mslam_last_error());
    free(junk);
    free(full), free(cut);
}

static void test_manifest_layouts(void) {
    static const char *const files[] = {"fixtures/corpus/mslam/manifest.tsv",
                                        "fixtures/corpus/common-voice/fr/test.tsv",
                                        "fixtures/corpus/covost2/covost_v2.fr_en.test.tsv",
                                        "fixtures/corpus/fleurs/fr_fr/test.tsv"};
    static const enum manifest_layout layouts[] = {LAYOUT_MSLAM, LAYOUT_COMMON_VOICE, LAYOUT_COVOST2, LAYOUT_FLEURS};
    static const char *const audio_suffix[] = {"mslam/clips/common_voice_fr_101.mp3",
                                               "common-voice/fr/clips/common_voice_fr_101.mp3",
                                               "covost2/clips/common_voice_fr_101.mp3",
                                               "fleurs/fr_fr/audio/test/14417217424830461217.wav"};
    static const char *const texts[] = {"Le fichier n’a pas pu être ouvert.", "La réunion commence à neuf heures.",
                                        "Il pleut depuis ce matin."};
    static const char *const translations[] = {"The file could not be opened.", "The meeting starts at nine o’clock.",
                                               "It has been raining since this morning."};
    static const double seconds[] = {3.12, 2.88, 1.968};
    for (int f = 0; f < 4; f++) {
        struct manifest m;
        int rc = manifest_load(test_data_path(files[f]), NULL, &m);
        CHECK(rc == 0, "%s: %s", files[f], mslam_last_error());
        if (rc) continue;
        CHECK(m.layout == layouts[f], "%s: layout %s, expected %s", files[f], layout_name(m.layout),
              layout_name(layouts[f]));
        size_t speech = 0;
        for (size_t i = 0; i < m.n; i++) {
            const struct manifest_record *r = &m.records[i];
            if (!r->audio) { /* the mslam fixture's text-only row */
                CHECK(f == 0 && r->split == SPLIT_TRAIN && r->duration < 0, "%s: unexpected text-only row", files[f]);
                continue;
            }
            CHECK(speech < 3, "%s: more than 3 utterances", files[f]);
            if (speech >= 3) break;
            CHECK(strcmp(r->lang, "fr") == 0, "%s row %zu: lang '%s'", files[f], i, r->lang);
            CHECK(strcmp(r->text, texts[speech]) == 0, "%s row %zu: text '%s'", files[f], i, r->text);
            CHECK(r->split == SPLIT_TEST, "%s row %zu: split '%s'", files[f], i, split_name(r->split));
            /* CoVoST-2 has no durations: they come from Common Voice's folder (below) */
            double want = layouts[f] == LAYOUT_COVOST2 ? -1.0 : seconds[speech];
            CHECK(fabs(r->duration - want) < 1e-6, "%s row %zu: duration %g, expected %g", files[f], i, r->duration,
                  want);
            int has_translation = layouts[f] == LAYOUT_MSLAM || layouts[f] == LAYOUT_COVOST2;
            CHECK(strcmp(r->translation, has_translation ? translations[speech] : "") == 0,
                  "%s row %zu: translation '%s'", files[f], i, r->translation);
            if (speech == 0)
                CHECK(mslam_str_ends_with(r->audio, audio_suffix[f]), "%s: audio path %s, expected .../%s", files[f],
                      r->audio, audio_suffix[f]);
            speech++;
        }
        CHECK(speech == 3, "%s: %zu utterances, expected 3", files[f], speech);
        manifest_free(&m);
    }

    /* CoVoST-2 with the audio folder of its Common Voice release: durations from there */
    char *clips = str_dup(test_data_path("fixtures/corpus/common-voice/fr/clips"));
    struct manifest_options covost = {.audio_dir = clips};
    struct manifest m;
    CHECK(manifest_load(test_data_path(files[2]), &covost, &m) == 0 && m.n == 3, "%s: %s", files[2],
          mslam_last_error());
    for (size_t i = 0; i < m.n && i < 3; i++)
        CHECK(fabs(m.records[i].duration - seconds[i]) < 1e-6 && mslam_str_ends_with(m.records[i].audio, "fr/clips/common_voice_fr_101.mp3") == (i == 0),
              "CoVoST-2 with Common Voice clips, row %zu: %s, %g s", i, m.records[i].audio, m.records[i].duration);
    manifest_free(&m);
    free(clips);
    /* a layout forced on another's file: a row's error says how the file was read */
    struct manifest_options as_fleurs = {.layout = LAYOUT_FLEURS};
    CHECK(manifest_load(test_data_path(files[0]), &as_fleurs, &m) != 0 &&
              error_mentions("read as the FLEURS layout, as --layout says; the header looks like mslam's", NULL),
          "an mslam manifest read as FLEURS: %s", mslam_last_error());
    /* a folder without manifest.tsv: an unfinished build (corpus.conf there) or not a corpus */
    char *folder = tmp_path("no-manifest"), *conf = path_join(folder, "corpus.conf");
    CHECK(mkdir_p(folder) == 0 && manifest_load(folder, NULL, &m) != 0 && error_mentions("not a corpus", folder),
          "a folder without a manifest: %s", mslam_last_error());
    CHECK(write_file_atomic(conf, "#\n", 2) == 0 && manifest_load(folder, NULL, &m) != 0 &&
              error_mentions("has not finished", folder),
          "an unfinished corpus: %s", mslam_last_error());
    /* named by its manifest.tsv, as train names a folder given to --data */
    char *its_manifest = path_join(folder, "manifest.tsv");
    CHECK(manifest_load(its_manifest, NULL, &m) != 0 && error_mentions("has not finished", folder),
          "an unfinished corpus named by its manifest.tsv: %s", mslam_last_error());
    free(its_manifest);
    char *stats_of_nothing[] = {"corpus", "--stats", "--out", conf, NULL};
    unlink(conf);
    CHECK(corpus_main(4, stats_of_nothing) == 1 && error_mentions("--stats names no manifest", conf),
          "corpus --stats without a manifest or a corpus folder: %s", mslam_last_error());
    free(folder), free(conf);

    /* the corpora's language names as mslam's codes; CoVoST-2 into another language than English;
     * Common Voice's first releases, whose paths lack ".mp3" */
    struct {
        const char *file, *content, *lang, *translation, *audio_end;
    } named[] = {
        {"cv/sv-SE/test.tsv",
         "client_id\tpath\tsentence_id\tsentence\tsentence_domain\tup_votes\tdown_votes\tage\tgender\taccents\t"
         "variant\tlocale\tsegment\nc1\tcommon_voice_sv-SE_1.mp3\ts1\tHej \"du\".\t\t2\t0\t\t\t\t\tsv-SE\t\n",
         "sv", "", "clips/common_voice_sv-SE_1.mp3"},
        {"cv/zh-HK/test.tsv", "client_id\tpath\tsentence\tup_votes\tdown_votes\tage\tgender\taccent\n"
                              "c1\t0a1b2c3d\t早晨\t2\t0\t\t\t\n",
         "yue", "", "zh-HK/clips/0a1b2c3d.mp3"},
        {"covost/covost_v2.en_de.test.tsv", "path\tsentence\ttranslation\tclient_id\n"
                                            "common_voice_en_1.mp3\tThe weather is nice.\tDas Wetter ist schön.\tc1\n",
         "en", "", "clips/common_voice_en_1.mp3"},
        {"covost/covost_v2.zh-CN_en.test.tsv", "path\tsentence\ttranslation\tclient_id\n"
                                               "common_voice_zh-CN_1.mp3\t你好\tHello\tc1\n",
         "zh", "Hello", "clips/common_voice_zh-CN_1.mp3"},
        /* pandas' escapes (escapechar '\\', no quoting): a quote, a backslash, a tab */
        {"covost/covost_v2.fr_en.dev.tsv", "path\tsentence\ttranslation\tclient_id\n"
                                           "common_voice_fr_1.mp3\tIl a dit \\\"oui\\\".\tHe said \\\"yes\\\" \\\\ a\\\tb.\tc1\n",
         "fr", "He said \"yes\" \\ a\tb.", "clips/common_voice_fr_1.mp3"},
        {"fleurs/cmn_hans_cn/test.tsv", "1\t1.wav\t你好\t你好\t你 好\t16000\tMALE\n", "zh", "", "audio/test/1.wav"},
    };
    for (size_t i = 0; i < sizeof named / sizeof *named; i++) {
        char *path = tmp_path(named[i].file), *dir = path_dirname(path);
        CHECK(dir && mkdir_p(dir) == 0 && write_file_atomic(path, named[i].content, strlen(named[i].content)) == 0,
              "writing %s", path);
        CHECK(manifest_load(path, NULL, &m) == 0 && m.n == 1 && !strcmp(m.records[0].lang, named[i].lang) &&
                  !strcmp(m.records[0].translation, named[i].translation) &&
                  mslam_str_ends_with(m.records[0].audio, named[i].audio_end),
              "%s: %s (lang '%s', translation '%s', audio %s)", named[i].file, mslam_last_error(),
              m.n ? m.records[0].lang : "", m.n ? m.records[0].translation : "", m.n ? m.records[0].audio : "");
        manifest_free(&m);
        free(path), free(dir);
    }

    /* a CoVoST-2 line that ends in an escaping backslash (a line break inside a field) is refused */
    char *cut = tmp_path("covost/covost_v2.fr_en.train.tsv");
    static const char cut_rows[] = "path\tsentence\ttranslation\tclient_id\na.mp3\tUne ligne\\\n";
    CHECK(write_file_atomic(cut, cut_rows, strlen(cut_rows)) == 0 && manifest_load(cut, NULL, &m) != 0 &&
              error_mentions(cut, ":2: the line ends in an escaping backslash"),
          "a field's line break: %s", mslam_last_error());
    free(cut);

    /* bad rows name the file, the line and the problem */
    struct {
        const char *content, *expect;
    } bad[] = {
        {"path\tlang\ttext\tduration\na.wav\tfr\tBonjour à tous.\tlong\n", ":2: duration 'long'"},
        {"path\tlang\ttext\tduration\na.wav\tfr\tBonjour.\t-1.5\n", ":2: duration '-1.5' is negative"},
        {"path\tlang\ttext\na.wav\tfr\n", ":2: 2 fields where the header has 3"},
        {"path\tlang\ttext\tsplit\na.wav\tfr\tBonjour.\tvalid\n", ":2: split 'valid'"},
        {"path\tlang\ttext\tsplit\na.wav\tfr\tBonjour.\ttrain\npath\tlang\ttext\tsplit\n", ":3 repeats the header line"},
        {"path\tlang\ttext\na.wav\te\x01\tBonjour.\n", ":2: lang 'e\x01' is no language code"},
        {"path\tlang\ttext\ra.wav\tfr\tBonjour.\r", "ends its lines with a CR alone"},
        {"\xff\xfep\x00a\x00", "is UTF-16 text: save it as UTF-8"},
        {"path\tlang\ttext\ttranslation\na.wav\tfr\tBonjour.\tHell\xf6\n", ":2: translation is not UTF-8"},
        {"what\tever\n", "unknown layout"},
        {"path\ttext\n", "unknown layout"},
        {"path\tlang\n", "unknown layout"},
    };
    char *path = tmp_path("bad.tsv");
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_file_atomic(path, bad[i].content, strlen(bad[i].content));
        CHECK(manifest_load(path, NULL, &m) != 0, "bad manifest %zu was accepted", i);
        CHECK(error_mentions(path, bad[i].expect), "bad manifest %zu: '%s' should say '%s'", i, mslam_last_error(),
              bad[i].expect);
    }
    /* an empty path (an empty item of a key file's list, data=a;;b) */
    CHECK(manifest_load("", NULL, &m) != 0 && error_mentions("a manifest's path is empty", NULL), "an empty path: %s",
          mslam_last_error());
    /* a UTF-8 byte-order mark (spreadsheets write one) is not part of the header */
    static const char bom[] = "\xEF\xBB\xBFpath\tlang\ttext\na.wav\tfr\tBonjour.\n";
    write_file_atomic(path, bom, strlen(bom));
    CHECK(manifest_load(path, NULL, &m) == 0 && m.layout == LAYOUT_MSLAM && m.n == 1 &&
              !strcmp(m.records[0].text, "Bonjour."),
          "a manifest after a byte-order mark: %s", mslam_last_error());
    manifest_free(&m);
    free(path);
}

/* ---- a tiny corpus ---- */

/* 20 English sentences and their Spanish, German and French translations, from word tables. */
static const char *const en_verbs[] = {"opened", "saved", "deleted", "found"};
static const char *const en_nouns[] = {"file", "folder", "printer", "document", "picture"};
static const char *const es_verbs[] = {"abrir", "guardar", "eliminar", "encontrar"};
static const char *const es_nouns[] = {"el archivo", "la carpeta", "la impresora", "el documento", "la imagen"};
static const char *const de_verbs[] = {"geöffnet", "gespeichert", "gelöscht", "gefunden"};
static const char *const de_nouns[] = {"Die Datei", "Der Ordner", "Der Drucker", "Das Dokument", "Das Bild"};
static const char *const fr_verbs[] = {"d’ouvrir", "d’enregistrer", "de supprimer", "de trouver"};
static const char *const fr_nouns[] = {"le fichier", "le dossier", "l’imprimante", "le document", "l’image"};

/* Messages a cleaner must drop: formats, labels, menu items, untranslated. */
static const char *const junk_ids[] = {"%s files were copied.", "_Open", "Name:", "Could not open {0}."};

static void write_catalog(const char *locale_root, const char *lang, int big_endian) {
    char *dir = str_printf("%s/%s/LC_MESSAGES", locale_root, lang);
    CHECK(dir && mkdir_p(dir) == 0, "cannot create %s", dir);
    const char *ids[24], *strs[24];
    size_t lens[24];
    char *owned[48];
    int n = 0, n_owned = 0;
    for (int v = 0; v < 4; v++)
        for (int k = 0; k < 5; k++) {
            char *id = str_printf("The %s could not be %s.", en_nouns[k], en_verbs[v]), *str;
            if (strcmp(lang, "es") == 0) str = str_printf("No se pudo %s %s.", es_verbs[v], es_nouns[k]);
            else if (strcmp(lang, "de") == 0) str = str_printf("%s konnte nicht %s werden.", de_nouns[k], de_verbs[v]);
            else str = str_printf("Impossible %s %s.", fr_verbs[v], fr_nouns[k]);
            owned[n_owned++] = id;
            owned[n_owned++] = str;
            ids[n] = id, lens[n] = strlen(id), strs[n] = str;
            n++;
        }
    for (size_t j = 0; j < sizeof junk_ids / sizeof junk_ids[0]; j++, n++)
        ids[n] = strs[n] = junk_ids[j], lens[n] = strlen(junk_ids[j]);
    char *path = str_printf("%s/tiny.mo", dir);
    test_write_mo(path, ids, lens, strs, n, big_endian);
    for (int i = 0; i < n_owned; i++) free(owned[i]);
    free(path);
    free(dir);
}

/* A tiny corpus of langs (NULL: es, de, fr) into out; locale and fortunes NULL: the defaults. */
static void tiny_options_of(struct corpus_options *o, const char *out, int jobs, const char *langs, const char *locale,
                            const char *fortunes) {
    CHECK(corpus_default_options(o) == 0, "default options: %s", mslam_last_error());
    o->out_dir = out;
    strlist_split(&o->langs, langs ? langs : "es,de,fr");
    if (locale) o->locale_dir = locale;
    if (fortunes) o->fortune_dir = fortunes;
    o->utterances[SPLIT_TRAIN] = 3;
    o->utterances[SPLIT_DEV] = 1;
    o->utterances[SPLIT_TEST] = 1;
    o->text_per_lang = 50;
    o->jobs = jobs;
    o->quiet = 1;
    o->progress = 0;
}

static void tiny_options(struct corpus_options *o, const char *out, int jobs) {
    tiny_options_of(o, out, jobs, NULL, NULL, NULL);
}

/* Compares two corpus folders: manifests, text, options and every audio file. */
static void check_identical(const char *a, const char *b, const struct manifest *m) {
    static const char *const names[] = {"manifest.tsv", "text.tsv", "corpus.conf"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char *x = path_join(a, names[i]), *y = path_join(b, names[i]);
        CHECK(test_files_equal(x, y), "%s and %s differ", x, y);
        free(x);
        free(y);
    }
    size_t differing = 0;
    const struct manifest_record *first = NULL; /* the first that differs, to name */
    for (size_t i = 0; i < m->n; i++) {
        const char *rel = m->records[i].audio + strlen(a) + 1;
        char *y = path_join(b, rel);
        int same = test_files_equal(m->records[i].audio, y);
        differing += !same;
        if (!same && !first) first = &m->records[i];
        free(y);
    }
    CHECK(differing == 0, "%zu of %zu audio files differ between %s and %s, the first %s (%s, spoken by %s)",
          differing, m->n, a, b, first ? first->audio : "", first ? first->text : "", first ? first->speaker : "");
}

/* A corpus utterance's file: 16 kHz mono, over half a second, as long as the manifest says, neither
 * silent nor clipped. */
static void check_utterance_audio(const struct manifest_record *r) {
    struct audio a = {0};
    long long frames;
    int rate, channels;
    CHECK(audio_probe(r->audio, &frames, &rate, &channels) == 0 && rate == 16000 && channels == 1,
          "%s: %d Hz, %d channels (%s)", r->audio, rate, channels, mslam_last_error());
    CHECK(audio_read(r->audio, &a) == 0, "%s does not decode: %s", r->audio, mslam_last_error());
    double seconds = (double)a.n / 16000.0;
    CHECK(a.n > 8000 && fabs(seconds - r->duration) < 0.0006, "%s: %zu samples = %.4f s, manifest says %.3f s",
          r->audio, a.n, seconds, r->duration);
    float peak = 0.0f;
    for (size_t t = 0; t < a.n; t++) peak = fmaxf(peak, fabsf(a.samples[t]));
    CHECK(peak > 0.01f && peak <= 1.0f, "%s: peak %g (silent or clipped)", r->audio, peak);
    audio_free(&a);
}

static void check_tiny_corpus(const char *dir, struct manifest *m) {
    char *manifest = path_join(dir, "manifest.tsv");
    CHECK(manifest_load(manifest, NULL, m) == 0, "%s: %s", manifest, mslam_last_error());
    CHECK(m->n == 15, "%zu utterances, expected 3 languages x 5", m->n);
    size_t per_split[SPLIT_N] = {0};
    for (size_t i = 0; i < m->n; i++) {
        const struct manifest_record *r = &m->records[i];
        per_split[r->split]++;
        CHECK(r->audio != NULL, "row %zu has no audio", i);
        if (!r->audio) continue;
        check_utterance_audio(r);
        CHECK(r->translation[0] != '\0', "%s: a catalog sentence lost its English translation", r->audio);
    }
    CHECK(per_split[SPLIT_TRAIN] == 9 && per_split[SPLIT_DEV] == 3 && per_split[SPLIT_TEST] == 3,
          "split sizes %zu/%zu/%zu, expected 9/3/3", per_split[SPLIT_TRAIN], per_split[SPLIT_DEV],
          per_split[SPLIT_TEST]);
    /* no sentence (nor English source) and no voice in two splits */
    for (size_t i = 0; i < m->n; i++)
        for (size_t j = 0; j < m->n; j++) {
            const struct manifest_record *x = &m->records[i], *y = &m->records[j];
            if (x->split == y->split) continue;
            CHECK(strcmp(x->text, y->text) != 0, "\"%s\" is in %s and %s", x->text, split_name(x->split),
                  split_name(y->split));
            CHECK(strcmp(x->translation, y->translation) != 0, "translation \"%s\" is in %s and %s", x->translation,
                  split_name(x->split), split_name(y->split));
            CHECK(strcmp(x->speaker, y->speaker) != 0, "voice %s speaks in %s and %s", x->speaker,
                  split_name(x->split), split_name(y->split));
        }
    /* text.tsv: text-only rows in the same layout, none of them a sentence of another split */
    char *text = path_join(dir, "text.tsv");
    struct manifest t;
    CHECK(manifest_load(text, NULL, &t) == 0 && t.n > 15, "%s: %zu rows (%s)", text, t.n, mslam_last_error());
    for (size_t i = 0; i < t.n; i++) {
        CHECK(t.records[i].audio == NULL, "text row %zu has audio", i);
        for (size_t j = 0; j < m->n; j++)
            CHECK(strcmp(t.records[i].text, m->records[j].text) != 0 || t.records[i].split == m->records[j].split,
                  "text row \"%s\" is in %s, its utterance in %s", t.records[i].text, split_name(t.records[i].split),
                  split_name(m->records[j].split));
    }
    manifest_free(&t);
    free(text);
    free(manifest);
}

/* Whether folder holds anything. */
static int folder_has_files(const char *folder) {
    DIR *dir = opendir(folder);
    if (!dir) return 0;
    int found = 0;
    for (struct dirent *e; !found && (e = readdir(dir)) != NULL;) found = strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
    closedir(dir);
    return found;
}

static void test_tiny_corpus(void) {
    char *locale = tmp_path("locale"), *fortunes = tmp_path("fortunes");
    CHECK(mkdir_p(fortunes) == 0, "cannot make %s", fortunes); /* none of the languages' files */
    write_catalog(locale, "es", 0);
    write_catalog(locale, "de", 1); /* a big-endian catalog */
    write_catalog(locale, "fr", 0);

    /* the sentence pool drops the junk and keeps the 20 pairs */
    struct sentence_pool pool;
    pool_init(&pool, lang_find("es"));
    CHECK(pool_add_catalogs(&pool, locale) == 0 && pool.n == 20, "es pool: %zu sentences, expected 20 (%s)", pool.n,
          mslam_last_error());
    CHECK(pool.stats.rejected[TEXT_FORMAT] == 2 && pool.stats.rejected[TEXT_SHORT] == 2,
          "es pool: %ld format and %ld short rejections, expected 2 and 2", pool.stats.rejected[TEXT_FORMAT],
          pool.stats.rejected[TEXT_SHORT]);
    pool_free(&pool);

    /* --locale-dir lists roots: a message both roots hold counts once, a missing root adds nothing;
     * the second root's es folder holds the French catalog, 20 other sentences */
    char *second = tmp_path("locale2"), *second_fr = str_printf("%s/fr", second),
         *second_es = str_printf("%s/es", second);
    write_catalog(second, "fr", 0);
    CHECK(rename(second_fr, second_es) == 0, "cannot rename %s", second_fr);
    const struct {
        char *roots;
        size_t sentences;
    } root_lists[] = {{str_printf("%s:%s", locale, locale), 20},
                      {str_printf(":%s/missing:%s:", locale, locale), 20},
                      {str_printf("%s:%s", locale, second), 40},
                      {str_printf("%s", second), 20}};
    for (size_t i = 0; i < sizeof root_lists / sizeof root_lists[0]; i++) {
        pool_init(&pool, lang_find("es"));
        CHECK(pool_add_catalogs(&pool, root_lists[i].roots) == 0 && pool.n == root_lists[i].sentences,
              "es pool of %s: %zu sentences, expected %zu (%s)", root_lists[i].roots, pool.n,
              root_lists[i].sentences, mslam_last_error());
        pool_free(&pool);
        free(root_lists[i].roots);
    }
    free(second_es);
    free(second_fr);
    free(second);

    char *one = tmp_path("one"), *two = tmp_path("two");
    struct corpus_options o;
    /* no catalog folder at all (a misspelt one): refused before the output folder is made, so that
     * the corrected command is not refused as "other options" */
    char *nowhere = tmp_path("no-catalogs"), *refused = tmp_path("refused-locale");
    tiny_options_of(&o, refused, 1, NULL, nowhere, fortunes);
    CHECK(corpus_build(&o) != 0 && strstr(mslam_last_error(), "--locale-dir") && access(refused, F_OK) != 0,
          "a --locale-dir that is no folder: refused, nothing written (%s)", mslam_last_error());
    corpus_options_free(&o);
    free(refused);
    /* nor a --fortune-dir that is no folder (it had built without fortunes, as if there were none) */
    char *no_fortunes = tmp_path("no-fortunes"), *refused_fortunes = tmp_path("refused-fortunes");
    tiny_options_of(&o, refused_fortunes, 1, NULL, locale, no_fortunes);
    CHECK(corpus_build(&o) != 0 && error_mentions("--fortune-dir", no_fortunes) && access(refused_fortunes, F_OK) != 0,
          "a --fortune-dir that is no folder: refused, nothing written (%s)", mslam_last_error());
    corpus_options_free(&o);
    free(no_fortunes), free(refused_fortunes), free(nowhere);
    tiny_options_of(&o, one, 1, NULL, locale, fortunes);
    CHECK(corpus_build(&o) == 0, "tiny corpus build: %s", mslam_last_error());
    corpus_options_free(&o);
    tiny_options_of(&o, two, 2, NULL, locale, fortunes);
    CHECK(corpus_build(&o) == 0, "tiny corpus build with 2 jobs: %s", mslam_last_error());

    struct manifest m = {0};
    check_tiny_corpus(one, &m);
    check_identical(one, two, &m);

    /* a language sounds the same whatever other languages the build has */
    corpus_options_free(&o);
    char *alone = tmp_path("es-alone");
    tiny_options_of(&o, alone, 1, "es", locale, fortunes);
    CHECK(corpus_build(&o) == 0, "es alone: %s", mslam_last_error());
    corpus_options_free(&o);
    size_t compared = 0, differing = 0;
    for (size_t i = 0; i < m.n; i++) {
        if (strcmp(m.records[i].lang, "es") != 0) continue;
        char *y = path_join(alone, m.records[i].audio + strlen(one) + 1);
        differing += !test_files_equal(m.records[i].audio, y);
        compared++;
        free(y);
    }
    CHECK(compared == 5 && differing == 0, "%zu of %zu es files differ when es is built alone", differing, compared);
    free(alone);
    tiny_options_of(&o, two, 2, NULL, locale, fortunes);

    /* resume: a lost audio file, an empty one and one cut short (a crash before the unfinished
     * languages' data reached the disk), and a lost manifest are made again, identically */
    char *lost = path_join(two, "audio/de/de_train_00001.flac"), *part = path_join(two, ".parts/de.tsv"),
         *merged = path_join(two, "manifest.tsv"), *emptied = path_join(two, "audio/de/de_train_00002.flac"),
         *cut = path_join(two, "audio/fr/fr_train_00002.flac"), *fr_part = path_join(two, ".parts/fr.tsv");
    struct stat cut_st;
    CHECK(unlink(lost) == 0 && unlink(part) == 0 && unlink(fr_part) == 0 && unlink(merged) == 0 &&
              truncate(emptied, 0) == 0 && stat(cut, &cut_st) == 0 && truncate(cut, cut_st.st_size / 2) == 0,
          "cannot remove or cut files of %s", two);
    CHECK(corpus_build(&o) == 0, "resumed build: %s", mslam_last_error());
    check_identical(one, two, &m);
    free(emptied);
    free(cut);
    free(fr_part);
    free(lost);
    free(part);

    /* a build of fewer languages into the folder: their manifest, and a warning naming the audio of
     * the others, left as it was */
    corpus_options_free(&o);
    tiny_options_of(&o, two, 2, "es", locale, fortunes);
    struct strlist warnings = {0};
    mslam_log_set(fixture_collect_warnings, &warnings);
    struct manifest es_only = {0};
    CHECK(corpus_build(&o) == 0 && manifest_load(merged, NULL, &es_only) == 0 && es_only.n == 5 &&
              warnings.n == 1 && strstr(warnings.items[0], "left out of manifest.tsv") &&
              strstr(warnings.items[0], " de") && strstr(warnings.items[0], " fr") && !strstr(warnings.items[0], " es"),
          "es alone into a folder of es, de, fr: %zu rows, %zu warnings (%s)", es_only.n, warnings.n,
          warnings.n ? warnings.items[0] : mslam_last_error());
    mslam_log_set(test_quiet_log, NULL);
    strlist_free(&warnings);
    manifest_free(&es_only);
    corpus_options_free(&o);
    tiny_options_of(&o, two, 2, NULL, locale, fortunes);
    CHECK(corpus_build(&o) == 0, "every language again: %s", mslam_last_error());
    check_identical(one, two, &m);

    /* a second build into a folder while another runs there is refused, and touches nothing */
    {
        char *lock_path = path_join(two, ".parts/lock");
        int held = lock_path ? open(lock_path, O_RDWR) : -1;
        CHECK(held >= 0 && flock(held, LOCK_EX | LOCK_NB) == 0, "cannot take %s as a running build would", lock_path);
        CHECK(corpus_build(&o) != 0 && error_mentions("another corpus build is writing into", two),
              "a build beside a running one: %s", mslam_last_error());
        if (held >= 0) close(held);
        check_identical(one, two, &m);
        free(lock_path);
    }

    /* a build killed outright (SIGKILL) while its workers speak: they die with it (left running, they
     * held the lock and wrote into the folder until done), and the folder resumes to the same corpus.
     * As the workers' subreaper this process reaps them and sees how they ended: the workers of the
     * tiny corpus live for milliseconds, so the build is killed as its first audio file appears, in
     * fresh folders until a kill finds a worker running (one that had ended before is reaped with
     * its exit status; without the fix every worker ends so) */
    {
        int workers = 0, killed_with_it = 0;
        char *killed = NULL;
        CHECK(prctl(PR_SET_CHILD_SUBREAPER, 1) == 0, "cannot be a subreaper: %s", strerror(errno));
        for (int attempt = 0; attempt < 20 && killed_with_it == 0; attempt++) {
            char name[32];
            snprintf(name, sizeof name, "killed%d", attempt);
            free(killed);
            killed = tmp_path(name);
            char *first_audio = path_join(killed, "audio/es");
            fflush(stdout), fflush(stderr);
            pid_t build = fork();
            if (build == 0) {
                struct corpus_options ko;
                tiny_options_of(&ko, killed, 2, NULL, locale, fortunes);
                _exit(corpus_build(&ko) ? 1 : 0);
            }
            int status = 0;
            pid_t ended = 0;
            for (int waited = 0; waited < 200000 && !folder_has_files(first_audio) &&
                                 (ended = waitpid(build, &status, WNOHANG)) == 0;
                 waited++)
                usleep(100);
            if (ended == 0) {
                kill(build, SIGKILL);
                ended = waitpid(build, &status, 0);
            }
            CHECK(ended == build && WIFSIGNALED(status), "the build ended before it was killed (status %d)", status);
            for (pid_t orphan; (orphan = waitpid(-1, &status, 0)) > 0;) {
                workers++;
                killed_with_it += WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL;
            }
            free(first_audio);
        }
        prctl(PR_SET_CHILD_SUBREAPER, 0);
        CHECK(killed_with_it > 0, "none of the killed builds' %d workers died with them", workers);
        struct corpus_options ko;
        tiny_options_of(&ko, killed, 2, NULL, locale, fortunes);
        CHECK(corpus_build(&ko) == 0, "the killed build resumed: %s", mslam_last_error());
        check_identical(one, killed, &m);
        corpus_options_free(&ko);
        free(killed);
    }
    /* a worker whose espeak-ng hangs is stopped after worker_seconds: the build fails naming the
     * file and the time, at once rather than never, and the command run again resumes to the same
     * corpus */
    {
        char *hung = tmp_path("hung");
        struct corpus_options ho;
        tiny_options_of(&ho, hung, 2, NULL, locale, fortunes);
        ho.worker_seconds = 1;
        double started = progress_now();
        synthesis_hangs = 1;
        int rc = corpus_build(&ho);
        synthesis_hangs = 0;
        double waited = progress_now() - started;
        CHECK(rc != 0 && error_mentions("took over 1 s (espeak-ng stuck?)", hung) && waited < 20,
              "a hung synthesis: status %d after %.1f s (%s)", rc, waited, mslam_last_error());
        CHECK(corpus_build(&ho) == 0, "the build of the hung synthesis run again: %s", mslam_last_error());
        check_identical(one, hung, &m);
        corpus_options_free(&ho);
        free(hung);
    }
    free(merged);

    /* a first attempt that fails before any audio (asks for more than the catalogs split into dev)
     * leaves its options in the folder: the corrected command builds there all the same */
    {
        char *retry = tmp_path("retry");
        struct corpus_options ro;
        tiny_options_of(&ro, retry, 1, "es", locale, fortunes);
        ro.utterances[SPLIT_TRAIN] = 2000;
        CHECK(corpus_build(&ro) != 0, "2000 train utterances from a tiny catalog fail");
        ro.utterances[SPLIT_TRAIN] = 3;
        CHECK(corpus_build(&ro) == 0, "the corrected command in the same folder: %s", mslam_last_error());
        corpus_options_free(&ro);
        free(retry);
    }

    /* catalogs that changed between an interrupted build and its resume: the audio the earlier
     * plan made at a path now planned from another sentence is made again (a review found it kept
     * under the new transcript); the corpus equals a fresh build from the new catalogs */
    {
        char *changed = tmp_path("locale-changed"), *resumed = tmp_path("changed-resumed"),
             *fresh = tmp_path("changed-fresh");
        write_catalog(changed, "es", 0);
        struct corpus_options co;
        tiny_options_of(&co, resumed, 2, "es", changed, fortunes);
        CHECK(corpus_build(&co) == 0, "es from one catalog: %s", mslam_last_error());
        char *part = path_join(resumed, ".parts/es.tsv"), *whole = path_join(resumed, "manifest.tsv");
        CHECK(unlink(part) == 0 && unlink(whole) == 0, "the build interrupted");
        static const char *const more[] = {"La copia de seguridad ha terminado.", "El disco está casi lleno.",
                                           "No hay conexión con el servidor.", "La impresora no responde.",
                                           "Se ha guardado el documento.", "La contraseña es incorrecta."};
        const char *ids[6], *strs[6];
        size_t lens[6];
        static const char *const more_en[] = {"The backup has finished.", "The disk is almost full.",
                                              "There is no connection to the server.", "The printer does not respond.",
                                              "The document has been saved.", "The password is wrong."};
        for (int i = 0; i < 6; i++) ids[i] = more_en[i], lens[i] = strlen(more_en[i]), strs[i] = more[i];
        char *more_path = str_printf("%s/es/LC_MESSAGES/more.mo", changed);
        test_write_mo(more_path, ids, lens, strs, 6, 0);
        struct strlist warned = {0};
        mslam_log_set(fixture_collect_warnings, &warned);
        CHECK(corpus_build(&co) == 0, "resumed with another catalog: %s", mslam_last_error());
        mslam_log_set(test_quiet_log, NULL);
        corpus_options_free(&co);
        tiny_options_of(&co, fresh, 2, "es", changed, fortunes);
        CHECK(corpus_build(&co) == 0, "fresh from both catalogs: %s", mslam_last_error());
        corpus_options_free(&co);
        struct manifest fm = {0};
        char *fresh_manifest = path_join(fresh, "manifest.tsv");
        CHECK(manifest_load(fresh_manifest, NULL, &fm) == 0, "%s", mslam_last_error());
        check_identical(fresh, resumed, &fm);
        int remade = 0;
        for (size_t i = 0; i < warned.n; i++) remade |= strstr(warned.items[i], "made again") != NULL;
        CHECK(remade, "the resume says it made audio again (%zu warnings)", warned.n);
        manifest_free(&fm);
        strlist_free(&warned);
        free(changed), free(resumed), free(fresh), free(part), free(whole), free(more_path), free(fresh_manifest);
    }

    /* the command with a key file (--config, group [corpus]) whose --train a flag overrides: the same
     * corpus; its lists separated by ';', as a key file's lists are (langs=es;de;fr had been the
     * unknown language 'es;de;fr') */
    char *four = tmp_path("four"), *conf = tmp_path("corpus.ini");
    char *conf_text = str_printf("[corpus]\nout=%s\nlangs=es;de;fr;\ntrain=7\ndev=1\ntest=1\ntext-per-lang=50\n"
                                 "test-voices=m7;m8;f5;klatt5;klatt6\n"
                                 "locale-dir=%s\nfortune-dir=%s\nprogress=false\nquiet=true\n",
                                 four, locale, fortunes);
    write_file_atomic(conf, conf_text, strlen(conf_text));
    char *with_config[] = {"corpus", "--config", conf, "--train", "3", "-j", "2", NULL};
    CHECK(corpus_main(7, with_config) == 0, "corpus --config %s --train 3 failed: %s", conf, mslam_last_error());
    check_identical(one, four, &m);
    /* and on the command line, the two separators mixed: the same options, so the build resumes */
    char *mixed[] = {"corpus", "--config", conf, "--train", "3", "--langs", "es,de;fr", "--dev-voices", "m6;f4,klatt4",
                     NULL};
    CHECK(corpus_main(9, mixed) == 0, "corpus --langs 'es,de;fr' --dev-voices 'm6;f4,klatt4': %s", mslam_last_error());
    check_identical(one, four, &m);
    const char *bad_configs[] = {"[corpus]\nbogus=1\n", "[corpus]\nstats=true\n", "[train]\nsteps=1\n",
                                 "[corpus]\nno-augment=maybe\n", "[corpus]\ntrain=many\n"};
    for (size_t i = 0; i < sizeof bad_configs / sizeof *bad_configs; i++) {
        write_file_atomic(conf, bad_configs[i], strlen(bad_configs[i]));
        char *bad[] = {"corpus", "--config", conf, "-o", four, "-q", NULL};
        CHECK(corpus_main(6, bad) == 2, "corpus --config with \"%s\" is not a usage error", bad_configs[i]);
    }
    /* --config abbreviated (getopt takes --conf) would be ignored: a usage error */
    write_file_atomic(conf, "[corpus]\ntrain=3\n", strlen("[corpus]\ntrain=3\n"));
    char *abbreviated[] = {"corpus", "--conf", conf, "-o", four, "-q", NULL};
    CHECK(corpus_main(6, abbreviated) == 2 && error_mentions("--config in full", NULL), "corpus --conf: '%s'",
          mslam_last_error());
    /* --stats of a corpus folder reads its manifest.tsv */
    char *stats_of_folder[] = {"corpus", "--stats", four, NULL};
    CHECK(corpus_main(3, stats_of_folder) == 0, "corpus --stats %s: %s", four, mslam_last_error());
    /* an empty --langs (an unset variable) is a usage error, not the default 50 languages */
    const char *no_langs[] = {"", ",", " , "};
    for (size_t i = 0; i < sizeof no_langs / sizeof *no_langs; i++) {
        char *bad[] = {"corpus", "--langs", (char *)no_langs[i], "-o", four, "-q", NULL};
        CHECK(corpus_main(6, bad) == 2, "corpus --langs '%s' is not a usage error", no_langs[i]);
    }
    /* an empty --out (an unset variable: the build had gone into the root folder) */
    char *empty_out[] = {"corpus", "--langs", "es", "-o", "", "-q", NULL};
    CHECK(corpus_main(6, empty_out) != 0 && error_mentions("--out is empty", NULL), "corpus -o '': '%s'",
          mslam_last_error());
    /* --lang, --layout and --audio-dir serve --stats alone: a build refuses them (--lang typed for
     * --langs had built the default 50 languages); the missing --locale-dir stops the command
     * quickly should they be ignored */
    {
        char *nowhere = tmp_path("no-catalogs"), *out = tmp_path("stats-only");
        const char *const stats_only[][3] = {{"--lang", "es", "--langs picks"},
                                             {"--layout", "mslam", "layout"},
                                             {"--audio-dir", "audio", "audio folder"}};
        for (size_t i = 0; i < sizeof stats_only / sizeof *stats_only; i++) {
            char *bad[] = {"corpus", (char *)stats_only[i][0], (char *)stats_only[i][1], "--locale-dir", nowhere,
                           "-o", out, "-q", NULL};
            CHECK(corpus_main(8, bad) == 2 && error_mentions(stats_only[i][0], "goes with --stats") &&
                      error_mentions(stats_only[i][2], NULL) && access(out, F_OK) != 0,
                  "corpus %s %s without --stats: '%s'", stats_only[i][0], stats_only[i][1], mslam_last_error());
        }
        free(nowhere), free(out);
    }
    /* a build without --out (a bare `corpus`, typed to see the usage) is a usage error that says
     * so, and writes nothing */
    {
        char *bare[] = {"corpus", "-q", NULL}, *cwd = getcwd(NULL, 0), *empty = tmp_path("bare");
        CHECK(cwd && mkdir_p(empty) == 0 && chdir(empty) == 0, "cannot enter %s", empty);
        CHECK(corpus_main(2, bare) == 2 && error_mentions("needs --out FOLDER", NULL) && access("corpus", F_OK) != 0,
              "corpus without --out: '%s'", mslam_last_error());
        CHECK(cwd && chdir(cwd) == 0, "cannot go back to %s", cwd);
        free(cwd), free(empty);
    }
    check_identical(one, four, &m);
    free(conf_text);
    free(conf);
    free(four);

    /* statistics */
    char *stats = NULL;
    size_t stats_size = 0;
    FILE *f = open_memstream(&stats, &stats_size);
    char *manifest = path_join(one, "manifest.tsv");
    CHECK(corpus_print_stats(manifest, NULL, f) == 0, "stats: %s", mslam_last_error());
    fclose(f);
    const char *total_row = stats ? strstr(stats, "\nall    all ") : NULL;
    size_t total = 0;
    CHECK(stats && strstr(stats, "\nde     train ") && strstr(stats, "\nfr     test ") && total_row &&
              sscanf(total_row + strlen("\nall    all "), "%zu", &total) == 1 && total == 15,
          "stats lack a row per language and split, or the total of 15:\n%s", stats);
    free(stats);
    free(manifest);
    /* of the folder: its text.tsv's rows too (the speech's characters alone) */
    stats = NULL;
    f = open_memstream(&stats, &stats_size);
    CHECK(corpus_print_stats(one, NULL, f) == 0, "stats of the folder: %s", mslam_last_error());
    fclose(f);
    total_row = stats ? strstr(stats, "\nall    all ") : NULL;
    size_t utterances = 0, text_rows = 0;
    CHECK(stats && strstr(stats, "manifest.tsv and text.tsv") && total_row &&
              sscanf(total_row + strlen("\nall    all "), "%zu %*s %*s %zu", &utterances, &text_rows) == 2 &&
              utterances == 15 && text_rows > 0,
          "the folder's stats lack text.tsv's rows (%zu utterances, %zu text rows):\n%s", utterances, text_rows, stats);
    free(stats);

    /* a build with other options into the same folder is refused, naming what differs */
    o.seed = 2;
    CHECK(corpus_build(&o) != 0 && error_mentions("other options", "seed: 1 -> 2") && !error_mentions("snr", NULL),
          "a changed seed was accepted, or not named: '%s'", mslam_last_error());
    o.seed = 1; /* and a change in the seventh digit (corpus.conf held 6) */
    o.snr_db.max += 1e-6;
    CHECK(corpus_build(&o) != 0 && error_mentions("other options", "snr: 5:30 -> 5:30.0000") &&
              !error_mentions("seed", NULL),
          "--snr 5:%.9g was taken for 5:%g, or not named: '%s'", o.snr_db.max, o.snr_db.max - 1e-6,
          mslam_last_error());
    o.snr_db.max -= 1e-6;
    /* other catalogs are other options, but the same folders spelt otherwise (a trailing slash, a
     * relative path) are not: the build resumes, and corpus.conf stays as the first build wrote it */
    {
        char *other = tmp_path("locale2"), *conf_path = path_join(two, "corpus.conf"), *conf_before = NULL,
             *conf_after = NULL, *cwd = getcwd(NULL, 0);
        size_t size;
        CHECK(read_file(conf_path, 1 << 20, &conf_before, &size) == 0, "cannot read %s", conf_path);
        o.locale_dir = other;
        CHECK(corpus_build(&o) != 0 && error_mentions("other options", "locale-dir: ") &&
                  error_mentions(locale, other) && !error_mentions("fortune-dir", NULL),
              "another --locale-dir: '%s'", mslam_last_error());
        char *slashed = str_printf("%s/", locale), *dotted = str_printf("%s/./fortunes", tmp_root);
        o.locale_dir = slashed;
        o.fortune_dir = dotted;
        CHECK(corpus_build(&o) == 0, "--locale-dir %s --fortune-dir %s: '%s'", slashed, dotted, mslam_last_error());
        CHECK(cwd && chdir(tmp_root) == 0, "cannot enter %s", tmp_root);
        o.locale_dir = "locale";
        o.fortune_dir = "fortunes/";
        CHECK(corpus_build(&o) == 0, "--locale-dir locale --fortune-dir fortunes/ in %s: '%s'", tmp_root,
              mslam_last_error());
        o.locale_dir = "locale:locale2"; /* a root more */
        CHECK(corpus_build(&o) != 0 && error_mentions("locale-dir: ", "-> locale:locale2"), "a root more: '%s'",
              mslam_last_error());
        CHECK(cwd && chdir(cwd) == 0, "cannot go back to %s", cwd);
        CHECK(read_file(conf_path, 1 << 20, &conf_after, &size) == 0 && !strcmp(conf_before, conf_after),
              "%s changed:\n%s", conf_path, conf_after);
        check_identical(one, two, &m);
        free(other), free(conf_path), free(conf_before), free(conf_after), free(cwd), free(slashed), free(dotted);
    }
    corpus_options_free(&o);

    /* bad inputs */
    tiny_options(&o, two, 1);
    strlist_free(&o.langs);
    strlist_split(&o.langs, "es,xx");
    CHECK(corpus_build(&o) != 0 && error_mentions("unknown language 'xx'", NULL), "unknown language: '%s'",
          mslam_last_error());
    corpus_options_free(&o);

    char *file = tmp_path("a-file"), *under_file = tmp_path("a-file/corpus");
    write_file_atomic(file, "x", 1);
    tiny_options_of(&o, under_file, 1, NULL, locale, fortunes);
    CHECK(corpus_build(&o) != 0 && error_mentions("cannot create folder", "a-file"), "unwritable output: '%s'",
          mslam_last_error());
    corpus_options_free(&o);

    /* an --espeak-data folder espeak-ng cannot use is refused up front, naming the option, and nothing
     * is written: a missing one had been passed over for the installed data (corpus.conf naming it),
     * an empty one failed with "No such file or directory" */
    {
        static const char *const tables[] = {"phontab", "phonindex", "phondata", "intonations"};
        char *out = tmp_path("espeak-refused"), *missing_data = tmp_path("no-espeak-data"),
             *empty_data = tmp_path("espeak-empty"), *above = tmp_path("espeak-above"),
             *data = tmp_path("espeak-above/espeak-ng-data"), *voices = tmp_path("espeak-above/espeak-ng-data/voices");
        CHECK(mkdir_p(empty_data) == 0 && mkdir_p(voices) == 0, "cannot make %s and %s", empty_data, voices);
        for (size_t i = 0; i < sizeof tables / sizeof *tables; i++) {
            char *table = path_join(data, tables[i]);
            CHECK(write_file_atomic(table, "x", 1) == 0, "cannot write %s", table);
            free(table);
        }
        const struct {
            const char *dir, *expect;
        } refusals[] = {{missing_data, "no such folder"}, {file, "not a folder"}, {empty_data, "no phontab"}};
        for (size_t i = 0; i < sizeof refusals / sizeof *refusals; i++) {
            tiny_options_of(&o, out, 1, "es", locale, fortunes);
            o.espeak_data = refusals[i].dir;
            CHECK(corpus_build(&o) != 0 && error_mentions("--espeak-data", refusals[i].dir) &&
                      error_mentions(refusals[i].expect, NULL) && access(out, F_OK) != 0,
                  "--espeak-data %s: '%s', expected a refusal saying '%s', nothing written", refusals[i].dir,
                  mslam_last_error(), refusals[i].expect);
            corpus_options_free(&o);
        }
        /* espeak-ng's layout, in the folder or in its espeak-ng-data/, passes; then espeak-ng, which
         * runs on the installed data in this process, refuses another folder */
        const char *accepted[] = {above, data};
        for (size_t i = 0; i < sizeof accepted / sizeof *accepted; i++) {
            tiny_options_of(&o, out, 1, "es", locale, fortunes);
            o.espeak_data = accepted[i];
            CHECK(corpus_build(&o) != 0 && !error_mentions("--espeak-data", NULL) &&
                      error_mentions("already runs", NULL),
                  "--espeak-data %s: '%s', expected espeak-ng's own refusal", accepted[i], mslam_last_error());
            corpus_options_free(&o);
        }
        free(out), free(missing_data), free(empty_data), free(above), free(data), free(voices);
    }

    /* the default fortune folder, where no fortunes package made it: the build goes without fortunes
     * and says so once */
    {
        char *out = tmp_path("default-fortunes");
        struct strlist warned = {0};
        tiny_options_of(&o, out, 1, "es,de", locale, NULL);
        mslam_log_set(fixture_collect_warnings, &warned);
        CHECK(corpus_build(&o) == 0, "es and de with the default --fortune-dir: %s", mslam_last_error());
        mslam_log_set(test_quiet_log, NULL);
        size_t about_fortunes = 0;
        for (size_t i = 0; i < warned.n; i++)
            about_fortunes += strstr(warned.items[i], o.fortune_dir) && strstr(warned.items[i], "fortunes-min");
        struct stat st;
        if (stat(o.fortune_dir, &st) != 0)
            CHECK(about_fortunes == 1, "%zu warnings that %s is missing, expected 1", about_fortunes, o.fortune_dir);
        else
            CHECK(about_fortunes == 0, "%zu warnings that %s is missing, but it is there", about_fortunes,
                  o.fortune_dir);
        corpus_options_free(&o);
        strlist_free(&warned);
        free(out);
    }

    char *empty = tmp_path("empty-catalogs"), *three = tmp_path("three");
    CHECK(mkdir(empty, 0755) == 0, "cannot make %s", empty);
    tiny_options_of(&o, three, 1, NULL, empty, fortunes);
    CHECK(corpus_build(&o) != 0 && error_mentions("no usable sentences", empty), "no catalogs: '%s'",
          mslam_last_error());
    corpus_options_free(&o);

    tiny_options(&o, three, 1);
    strlist_free(&o.voices[SPLIT_TEST]);
    strlist_split(&o.voices[SPLIT_TEST], "m1");
    CHECK(corpus_build(&o) != 0 && error_mentions("'m1' is in both", NULL), "shared voice: '%s'", mslam_last_error());
    strlist_free(&o.voices[SPLIT_TEST]);
    strlist_split(&o.voices[SPLIT_TEST], "m99");
    o.locale_dir = locale;
    CHECK(corpus_build(&o) != 0 && error_mentions("no voice variant 'm99'", NULL), "unknown voice: '%s'",
          mslam_last_error());
    corpus_options_free(&o);

    char *missing = tmp_path("locale/es/LC_MESSAGES/missing.mo");
    pool_init(&pool, lang_find("es"));
    CHECK(pool_add_catalog(&pool, missing) != 0 && error_mentions(missing, "No such file"), "missing catalog: '%s'",
          mslam_last_error());
    pool_free(&pool);

    manifest_free(&m);
    free(missing);
    free(empty);
    free(three);
    free(file);
    free(under_file);
    free(one);
    free(two);
    free(locale);
    free(fortunes);
}

/* Runs corpus_main with argv, its stderr (the summary lines) into a new string. */
static char *corpus_main_stderr(int argc, char **argv, int *status) {
    char *path = tmp_path("stderr.txt"), *text = NULL;
    size_t size;
    int saved = test_output_to(STDERR_FILENO, path);
    CHECK(saved >= 0, "cannot send stderr to %s", path);
    *status = corpus_main(argc, argv);
    test_output_restore(STDERR_FILENO, saved);
    CHECK(read_file(path, 1 << 20, &text, &size) == 0, "cannot read %s", path);
    free(path);
    return text;
}

/* An executable shell script at path (the stand-ins for festival's text2wave below). */
static void write_script(const char *path, const char *body) {
    char *text = str_printf("#!/bin/sh\n%s", body);
    CHECK(text && write_file_atomic(path, text, strlen(text)) == 0 && chmod(path, 0755) == 0, "cannot write %s",
          path);
    free(text);
}

/* Whether process pid has ended: gone, or a zombie that its new parent has not reaped (as a
 * container's first process may never do). */
static int process_gone(pid_t pid) {
    if (kill(pid, 0) != 0 && errno == ESRCH) return 1;
    char *stat_path = str_printf("/proc/%ld/stat", (long)pid), *stat = NULL;
    size_t size;
    int zombie = 0;
    if (stat_path && read_file(stat_path, 4096, &stat, &size) == 0) {
        const char *after_name = strrchr(stat, ')'); /* "PID (NAME) STATE ..." */
        zombie = after_name && after_name[1] == ' ' && after_name[2] == 'Z';
    }
    free(stat);
    free(stat_path);
    return zombie;
}

/* Builds with PATH starting at folder `first` (its text2wave stands in for festival's). */
static int build_with_path(const struct corpus_options *o, const char *first) {
    char *old = str_dup(getenv("PATH") ? getenv("PATH") : ""), *path = str_printf("%s:%s", first, old);
    setenv("PATH", path, 1);
    int rc = corpus_build(o);
    setenv("PATH", old, 1);
    free(path);
    free(old);
    return rc;
}

/* 8 train utterances of en (all 20 sentences in train), each spoken by festival:kal_diphone. */
static void festival_train_options(struct corpus_options *o, const char *out, int jobs, const char *locale,
                                   const char *fortunes) {
    tiny_options_of(o, out, jobs, "en", locale, fortunes);
    o->utterances[SPLIT_TRAIN] = 8;
    o->utterances[SPLIT_DEV] = o->utterances[SPLIT_TEST] = 0;
    strlist_free(&o->voices[SPLIT_TRAIN]);
    strlist_split(&o->voices[SPLIT_TRAIN], "m1,festival:kal_diphone");
    o->other_share = 1.0;
}

/* Festival's and flite's voices mixed in (trainer/othersynth.c): they speak their language's
 * utterances of their split alone, as often as --other-share says, the same with 1 and 2 jobs; an
 * utterance the voice makes nothing of is left out (and out again on resume), one it cannot write
 * stops the build; a voice that does not speak, a hung one, and bad voice lists are refused with
 * errors that name them. */
static void test_other_synthesizers(void) {
    char *locale = tmp_path("locale"), *fortunes = tmp_path("fortunes");
    char *one = tmp_path("other-one"), *two = tmp_path("other-two");
    struct corpus_options o;
    /* the value of meson's MALLOC_PERTURB_ under which Festival's audio of the same command
     * differed from run to run (its own heap bug: othersynth's run_command leaves the variable
     * out); as the test process's own malloc read it at start, only the commands see this */
    const char *perturb = getenv("MALLOC_PERTURB_");
    char *saved_perturb = perturb ? str_dup(perturb) : NULL;
    setenv("MALLOC_PERTURB_", "64", 1);
    for (int jobs = 1; jobs <= 2; jobs++) {
        tiny_options_of(&o, jobs == 1 ? one : two, jobs, "en,es", locale, fortunes);
        o.utterances[SPLIT_TRAIN] = 6;
        o.utterances[SPLIT_TEST] = 2;
        strlist_free(&o.voices[SPLIT_TRAIN]);
        strlist_free(&o.voices[SPLIT_TEST]);
        strlist_split(&o.voices[SPLIT_TRAIN], "m1,festival:kal_diphone,flite:rms");
        strlist_split(&o.voices[SPLIT_TEST], "m7,flite:slt");
        o.other_share = 1.0;
        CHECK(corpus_build(&o) == 0, "a corpus with festival's and flite's voices (%d jobs): %s", jobs,
              mslam_last_error());
        corpus_options_free(&o);
    }
    if (saved_perturb) setenv("MALLOC_PERTURB_", saved_perturb, 1);
    else unsetenv("MALLOC_PERTURB_");
    free(saved_perturb);
    struct manifest m = {0};
    char *manifest = path_join(one, "manifest.tsv");
    CHECK(manifest_load(manifest, NULL, &m) == 0 && m.n == 18, "%s: %zu rows, expected 2 x 9 (%s)", manifest, m.n,
          mslam_last_error());
    size_t by_other = 0;
    for (size_t i = 0; i < m.n; i++) {
        const struct manifest_record *r = &m.records[i];
        int en = !strcmp(r->lang, "en");
        const char *want = !en || r->split == SPLIT_DEV ? "an espeak-ng variant"
                           : r->split == SPLIT_TRAIN    ? "festival:kal_diphone or flite:rms"
                                                        : "flite:slt";
        int other = strchr(r->speaker, ':') != NULL;
        int as_asked = !en || r->split == SPLIT_DEV ? !other
                       : r->split == SPLIT_TRAIN    ? !strcmp(r->speaker, "festival:kal_diphone") ||
                                                       !strcmp(r->speaker, "flite:rms")
                                                    : !strcmp(r->speaker, "flite:slt");
        CHECK(as_asked, "%s (%s, %s) spoken by %s, expected %s", r->audio, r->lang, split_name(r->split), r->speaker,
              want);
        by_other += (size_t)other;
        check_utterance_audio(r);
    }
    CHECK(by_other == 8, "%zu utterances by other synthesizers, expected en's 6 train and 2 test", by_other);
    check_identical(one, two, &m);
    manifest_free(&m);

    /* a text2wave that, as festival's does, exits 0 having said nothing of some sentences: those are
     * left out with a warning, and left out again by a resumed build */
    char *fake = tmp_path("fake-festival"), *fake_text2wave = path_join(fake, "text2wave");
    gchar *real = g_find_program_in_path("text2wave");
    CHECK(real && mkdir_p(fake) == 0, "no text2wave in PATH, or cannot make %s", fake);
    char *body = str_printf("for a; do last=$a; done\n"
                            "if grep -q -e folder -e printer -e picture \"$last\"; then\n"
                            "  echo 'SIOD ERROR: a stand-in that cannot say it' >&2; exit 0\nfi\n"
                            "exec %s \"$@\"\n", real ? real : "false");
    write_script(fake_text2wave, body);
    char *gaps = tmp_path("other-gaps");
    festival_train_options(&o, gaps, 2, locale, fortunes);
    struct strlist warnings = {0};
    mslam_log_set(fixture_collect_warnings, &warnings);
    int rc = build_with_path(&o, fake);
    mslam_log_set(test_quiet_log, NULL);
    char *gaps_manifest = path_join(gaps, "manifest.tsv");
    CHECK(rc == 0 && manifest_load(gaps_manifest, NULL, &m) == 0, "a build with a voice that fails on some: %s",
          mslam_last_error());
    size_t train = 0, said = 0;
    for (size_t i = 0; i < m.n; i++) {
        train += m.records[i].split == SPLIT_TRAIN;
        said += m.records[i].split == SPLIT_TRAIN && (strstr(m.records[i].text, "folder") ||
                                                      strstr(m.records[i].text, "printer") ||
                                                      strstr(m.records[i].text, "picture"));
    }
    int left_out_warned = 0;
    for (size_t i = 0; i < warnings.n; i++) left_out_warned |= strstr(warnings.items[i], "left out") != NULL;
    CHECK(said == 0 && train > 0 && train < 8 && left_out_warned,
          "train kept %zu of 8 utterances, %zu of them sentences the voice cannot say; warned: %d", train, said,
          left_out_warned);
    strlist_free(&warnings);
    /* run again without the language's finished part, as after a build stopped within it: the
     * voice is asked again for what it could not say, and says nothing again */
    struct manifest before = m;
    m = (struct manifest){0};
    char *en_part = path_join(gaps, ".parts/en.tsv");
    CHECK(unlink(en_part) == 0 && build_with_path(&o, fake) == 0 && manifest_load(gaps_manifest, NULL, &m) == 0 &&
              m.n == before.n,
          "resumed: %zu rows, %zu before (%s)", m.n, before.n, mslam_last_error());
    for (size_t i = 0; i < m.n && i < before.n; i++)
        CHECK(!strcmp(m.records[i].audio, before.records[i].audio), "resumed: row %zu is %s, was %s", i,
              m.records[i].audio, before.records[i].audio);
    free(en_part);
    /* the other-synthesizer folder of a worker of a build killed outright goes at the next start */
    char *stale = path_join(gaps, ".parts/synth-999999"), *stale_text = path_join(stale, "text.txt");
    CHECK(mkdir_p(stale) == 0 && write_file_atomic(stale_text, "x", 1) == 0 && build_with_path(&o, fake) == 0 &&
              access(stale, F_OK) != 0,
          "a killed build's %s: still there after the next build (%s)", stale, mslam_last_error());
    free(stale_text), free(stale);
    manifest_free(&m);
    manifest_free(&before);
    corpus_options_free(&o);

    /* a text2wave that cannot write its audio (here: a link into a missing folder where its file
     * goes; a full disk alike) exits 0 too, as festival's and flite's do: not a sentence the voice
     * cannot say, but a failure that stops the build, the worker's message naming the write error */
    free(body);
    body = str_printf("for a; do speech=$last; last=$a; done\n"
                      "grep -q 'The file is open' \"$last\" || ln -s no-such-folder/speech.wav \"$speech\"\n"
                      "exec %s \"$@\"\n", real ? real : "false");
    write_script(fake_text2wave, body);
    char *unwritable = tmp_path("other-unwritable"), *stderr_path = tmp_path("unwritable-stderr.txt");
    char *stderr_text = NULL;
    festival_train_options(&o, unwritable, 1, locale, fortunes);
    mslam_log_set(NULL, NULL); /* the worker's message, on standard error */
    int saved = test_output_to(STDERR_FILENO, stderr_path);
    rc = build_with_path(&o, fake);
    test_output_restore(STDERR_FILENO, saved);
    mslam_log_set(test_quiet_log, NULL);
    size_t stderr_size;
    CHECK(rc != 0 && error_mentions("could not make", unwritable) &&
              read_file(stderr_path, 1 << 20, &stderr_text, &stderr_size) == 0 &&
              strstr(stderr_text, "festival:kal_diphone could not write its audio") &&
              strstr(stderr_text, "No such file or directory"),
          "a voice that cannot write its audio: rc %d, '%s', said:\n%s", rc, mslam_last_error(),
          stderr_text ? stderr_text : "");
    free(stderr_text), free(stderr_path), free(unwritable);
    corpus_options_free(&o);

    /* a voice that does not speak (a package missing) is refused before any audio, naming it */
    write_script(fake_text2wave, "echo 'SIOD ERROR: unbound variable : voice_kal_diphone' >&2\n");
    char *mute = tmp_path("other-mute"), *mute_audio = path_join(mute, "audio");
    char *mute_conf = path_join(mute, "corpus.conf");
    tiny_options_of(&o, mute, 1, "en", locale, fortunes);
    strlist_free(&o.voices[SPLIT_TRAIN]);
    strlist_split(&o.voices[SPLIT_TRAIN], "m1,festival:kal_diphone");
    CHECK(build_with_path(&o, fake) != 0 && error_mentions("festival:kal_diphone", "festvox-kallpc16k") &&
              error_mentions("unbound variable", NULL) && access(mute_audio, F_OK) != 0 && access(mute_conf, F_OK) != 0,
          "a voice that does not speak: '%s'", mslam_last_error());
    /* while another build holds the folder, a second is refused at once: before its voices are
     * checked (each speaks a sentence), which would fail here */
    char *mute_parts = path_join(mute, ".parts"), *mute_lock = path_join(mute, ".parts/lock");
    int held = mkdir_p(mute_parts) == 0 ? open(mute_lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644) : -1;
    CHECK(held >= 0 && flock(held, LOCK_EX | LOCK_NB) == 0, "cannot take %s as a running build would", mute_lock);
    CHECK(build_with_path(&o, fake) != 0 && error_mentions("another corpus build is writing into", mute),
          "a build beside a running one, with a voice that does not speak: '%s'", mslam_last_error());
    if (held >= 0) close(held);
    free(mute_parts), free(mute_lock), free(mute_audio), free(mute_conf);
    corpus_options_free(&o);

    /* a folder of the user's own, whose manifest a build would replace: refused, the file kept */
    char *own = tmp_path("own-folder"), *own_manifest = path_join(own, "manifest.tsv");
    CHECK(mkdir_p(own) == 0 && write_file_atomic(own_manifest, "mine\n", 5) == 0, "cannot write %s", own_manifest);
    tiny_options_of(&o, own, 1, "en", locale, fortunes);
    char *kept = NULL;
    size_t kept_size = 0;
    CHECK(corpus_build(&o) != 0 && error_mentions("no corpus build made there", own) &&
              read_file(own_manifest, 64, &kept, &kept_size) == 0 && !strcmp(kept, "mine\n"),
          "a build into a folder with a manifest of its own: '%s'", mslam_last_error());
    free(kept), free(own_manifest), free(own);
    corpus_options_free(&o);

    /* a voice that hangs on a sentence: its worker is stopped after worker_seconds, the command with it */
    char *pid_file = tmp_path("hung-text2wave.pid");
    free(body);
    body = str_printf("for a; do last=$a; done\n"
                      "if ! grep -q 'The file is open' \"$last\"; then echo $$ > %s; exec sleep 600; fi\n"
                      "exec %s \"$@\"\n", pid_file, real ? real : "false");
    write_script(fake_text2wave, body);
    char *hung = tmp_path("other-hung");
    festival_train_options(&o, hung, 1, locale, fortunes);
    o.worker_seconds = 1;
    CHECK(build_with_path(&o, fake) != 0 && error_mentions("took over 1 s (festival:kal_diphone stuck?)", NULL),
          "a hung voice: '%s'", mslam_last_error());
    char *pid_text = NULL;
    size_t size;
    long hung_pid = read_file(pid_file, 64, &pid_text, &size) == 0 ? strtol(pid_text, NULL, 10) : 0;
    int gone = 0;
    for (int tries = 0; tries < 200 && hung_pid > 0 && !gone; tries++) {
        gone = process_gone((pid_t)hung_pid);
        if (!gone) usleep(10000);
    }
    CHECK(hung_pid > 0 && gone, "the hung text2wave (pid %ld) outlived its worker", hung_pid);
    char *hung_parts = path_join(hung, ".parts");
    struct strlist left = {0};
    list_folders(hung_parts, &left);
    CHECK(left.n == 0, "the stopped worker's folder %s is left", left.n ? left.items[0] : "");
    strlist_free(&left);
    free(hung_parts);
    free(pid_text);
    corpus_options_free(&o);

    /* a Latin-1 voice reads what Latin-1 lacks approximated ("€" as "EUR"), and typographic quotes
     * and ellipses as ASCII ones (Festival's Italian says nothing of a sentence with guillemets) */
    const struct other_voice *italian = NULL;
    struct audio italian_speech = {0};
    char *work = tmp_path("italian-work");
    CHECK(othersynth_lookup("festival:lp_diphone", NULL, &italian) == 0 && italian && mkdir_p(work) == 0,
          "festival:lp_diphone: %s", mslam_last_error());
    const char *italian_texts[] = {"Salvataggio “modifiche” all'elenco delle attività… costo 5 €",
                                   "Indica se la pressione del tasto «Tab» inserisce il carattere di tabulazione"};
    for (size_t i = 0; italian && i < sizeof italian_texts / sizeof italian_texts[0]; i++) {
        italian_speech.n = 0;
        CHECK(othersynth_speak(italian, italian_texts[i], 175, work, &italian_speech) == 0 && italian_speech.n > 16000,
              "festival:lp_diphone on \"%s\": %zu samples (%s)", italian_texts[i], italian_speech.n,
              mslam_last_error());
    }
    othersynth_clean(work);
    CHECK(access(work, F_OK) != 0, "othersynth_clean left %s", work);
    audio_free(&italian_speech);
    free(work);

    /* --other-share 0.5: both kinds of voice speak en's train */
    char *half = tmp_path("other-half");
    festival_train_options(&o, half, 2, locale, fortunes);
    strlist_free(&o.voices[SPLIT_TRAIN]);
    strlist_split(&o.voices[SPLIT_TRAIN], "m1,flite:rms");
    o.other_share = 0.5;
    char *half_manifest = path_join(half, "manifest.tsv");
    size_t by_kind[2] = {0};
    CHECK(corpus_build(&o) == 0 && manifest_load(half_manifest, NULL, &m) == 0 && m.n == 8, "--other-share 0.5: %s",
          mslam_last_error());
    for (size_t i = 0; i < m.n; i++) by_kind[!strcmp(m.records[i].speaker, "flite:rms")]++;
    CHECK(by_kind[0] > 0 && by_kind[1] > 0, "--other-share 0.5: %zu utterances by m1, %zu by flite:rms", by_kind[0],
          by_kind[1]);
    manifest_free(&m);
    corpus_options_free(&o);
    free(half_manifest), free(half);

    /* bad voice lists */
    const struct {
        const char *train, *test, *expect;
        double share;
    } bad[] = {
        {"m1,festival:kal_diphone", "m7,flite:kal16", "one speaker's recordings (kal)", 0.5},
        {"m1,festival:nobody", "m7", "unknown voice 'festival:nobody'", 0.5},
        {"flite:rms", "m7", "no espeak-ng voice variant", 0.5},
        {"m1,flite:rms", "m7,flite:rms", "'flite:rms' is in both", 0.5},
        {"m1,flite:rms", "m7", "--other-share", 1.5},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *out = tmp_path("other-bad");
        tiny_options_of(&o, out, 1, "en", locale, fortunes);
        strlist_free(&o.voices[SPLIT_TRAIN]);
        strlist_free(&o.voices[SPLIT_TEST]);
        strlist_split(&o.voices[SPLIT_TRAIN], bad[i].train);
        strlist_split(&o.voices[SPLIT_TEST], bad[i].test);
        o.other_share = bad[i].share;
        CHECK(corpus_build(&o) != 0 && error_mentions(bad[i].expect, NULL) && access(out, F_OK) != 0,
              "train voices %s, test voices %s, share %g: '%s', expected '%s' and nothing written", bad[i].train,
              bad[i].test, bad[i].share, mslam_last_error(), bad[i].expect);
        corpus_options_free(&o);
        free(out);
    }
    free(hung), free(pid_file), free(mute), free(gaps), free(gaps_manifest), free(body), g_free(real);
    free(fake_text2wave), free(fake), free(manifest), free(one), free(two), free(locale), free(fortunes);
}

/* A count of one is said in the singular ("1 languages" had been printed). */
static void test_counts_in_words(void) {
    char *locale = tmp_path("one-sentence"), *dir = tmp_path("one-sentence/es/LC_MESSAGES"),
         *mo = tmp_path("one-sentence/es/LC_MESSAGES/one.mo"), *fortunes = tmp_path("no-fortune-files"),
         *out = tmp_path("counts");
    CHECK(mkdir_p(dir) == 0 && mkdir_p(fortunes) == 0, "cannot make %s and %s", dir, fortunes);
    const char *id = "The file could not be opened.", *str = "No se pudo abrir el archivo.";
    size_t len = strlen(id);
    test_write_mo(mo, &id, &len, &str, 1, 0);
    char *args[] = {"corpus", "--langs", "es", "--train", "1", "--dev", "0", "--test", "0", "--text-per-lang", "1",
                    "-j", "1", "--no-progress", "--locale-dir", locale, "--fortune-dir", fortunes, "-o", out, NULL};
    int status;
    for (int run = 0; run < 2; run++) { /* built, then finished by an earlier run */
        char *said = corpus_main_stderr(20, args, &status);
        CHECK(status == 0 && said && strstr(said, "es       1 utterance, ") &&
                  (run ? strstr(said, "finished by an earlier run") : strstr(said, " from 1 sentence, ")) &&
                  strstr(said, "manifest.tsv: 1 utterance, ") && strstr(said, " 1 language, ") &&
                  strstr(said, " with 1 job\n"),
              "run %d of a corpus of one utterance (status %d) said:\n%s", run + 1, status, said ? said : "");
        free(said);
    }
    /* one sentence for two utterances */
    args[4] = "2";
    char *two = tmp_path("counts-two");
    args[19] = two;
    struct strlist warned = {0};
    mslam_log_set(fixture_collect_warnings, &warned);
    char *said = corpus_main_stderr(20, args, &status);
    mslam_log_set(test_quiet_log, NULL);
    CHECK(status == 0 && said && strstr(said, "es       2 utterances, ") && strstr(said, " from 1 sentence, ") &&
              warned.n == 1 && strstr(warned.items[0], "es: 1 sentence for 2 train utterances"),
          "a corpus of two utterances of one sentence (status %d) said:\n%s%s", status, said ? said : "",
          warned.n ? warned.items[0] : "(no warning)");
    free(said);
    strlist_free(&warned);
    free(locale), free(dir), free(mo), free(fortunes), free(out), free(two);
}

/* A FIFO given as a manifest, as a corpus folder's manifest.tsv, as audio, as a file read whole
 * or as a key file is refused, naming what it is: opened for reading as a file, it would wait for a writer,
 * forever when none comes (the alarm ends the test then). */
static void test_fifo_refused(void) {
    char *folder = tmp_path("fifo-corpus"), *fifo = path_join(folder, "manifest.tsv");
    CHECK(mkdir_p(folder) == 0 && mkfifo(fifo, 0600) == 0, "cannot make the FIFO %s: %s", fifo, strerror(errno));
    alarm(30);
    struct manifest m = {0};
    CHECK(manifest_load(fifo, NULL, &m) != 0 && error_mentions("a FIFO (named pipe), not a regular file", fifo),
          "a FIFO as a manifest: %s", mslam_last_error());
    CHECK(manifest_load(folder, NULL, &m) != 0 && error_mentions("a FIFO (named pipe), not a regular file", fifo),
          "a corpus folder whose manifest.tsv is a FIFO: %s", mslam_last_error());
    char *stats[] = {"corpus", "--stats", fifo, NULL};
    CHECK(corpus_main(3, stats) != 0 && error_mentions("a FIFO (named pipe), not a regular file", fifo),
          "corpus --stats FIFO: %s", mslam_last_error());
    char *text = NULL;
    size_t size;
    CHECK(read_file(fifo, 1 << 20, &text, &size) != 0 && error_mentions("a FIFO (named pipe), not a regular file", fifo),
          "a FIFO read whole: %s", mslam_last_error());
    struct audio audio = {0};
    long long frames;
    int rate, channels;
    CHECK(audio_read(fifo, &audio) != 0 && error_mentions("a FIFO (named pipe), not a regular file", fifo),
          "a FIFO as audio: %s", mslam_last_error());
    CHECK(audio_probe(fifo, &frames, &rate, &channels) != 0 &&
              error_mentions("a FIFO (named pipe), not a regular file", fifo),
          "a FIFO's audio probed: %s", mslam_last_error());
    char *out = tmp_path("fifo-out"), *config[] = {"corpus", "--config", fifo, "-o", out, NULL};
    int status;
    char *said = corpus_main_stderr(5, config, &status);
    CHECK(status != 0 && said && strstr(said, "cannot read --config") && strstr(said, "a FIFO (named pipe)"),
          "a FIFO as --config (status %d) said:\n%s", status, said ? said : "");
    alarm(0);
    free(said), free(out), free(fifo), free(folder);
}

/* libespeak-ng 1.51 loses some memory each time a voice is loaded; LeakSanitizer (ASan builds)
 * reads this hook, and the test's own leaks are still reported. */
const char *__lsan_default_suppressions(void);
const char *__lsan_default_suppressions(void) { return "leak:libespeak-ng.so\n"; }

int main(void) {
    mslam_log_set(test_quiet_log, NULL);
    if (!mkdtemp(tmp_root)) {
        perror("mkdtemp");
        return 1;
    }
    setenv("TMPDIR", tmp_root, 1); /* the voices' check folders (othersynth's try_voice) */
    test_mo_reader();
    test_text_clean();
    test_manifest_layouts();
    test_mp3_without_header();
    test_cut_ogg();
    test_tiny_corpus();
    test_other_synthesizers();
    test_counts_in_words();
    test_fifo_refused();
    if (test_failures) /* the corpora that failed a check, to look at */
        fprintf(stderr, "corpus: the test's folders are kept in %s\n", tmp_root);
    else
        nftw(tmp_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return test_result("corpus");
}
