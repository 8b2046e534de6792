/* Helpers of the element tests and the element benchmark (see gsttestutil.h). */
#include "gsttestutil.h"

#include "audio.h"
#include "lm.h"
#include "model.h"
#include "ops.h"
#include "synth.h"

#include <gst/app/gstappsrc.h>
#include <malloc.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- model files ---- */

static const char *test_vocab[] = {"<blank>", "<unk>", "<s>", "</s>", " ", "a", "e", "h", "l", "o", "n", "t"};
static const char *test_langs[] = {"en", "fr", "de"};
#define TEST_VOCAB_SIZE ((int)(sizeof test_vocab / sizeof *test_vocab))
#define TEST_N_LANGS ((int)(sizeof test_langs / sizeof *test_langs))
#define ID_BLANK 0
#define ID_EOS 3
#define ID_SPACE 4
#define ID_A 5
#define ID_H 7

static int is_norm_weight(const char *name) {
    size_t n = strlen(name);
    static const char *suffixes[] = {"ln.weight", "norm.weight", "ln_out.weight"};
    for (size_t i = 0; i < sizeof suffixes / sizeof *suffixes; i++) {
        size_t k = strlen(suffixes[i]);
        if (n >= k && strcmp(name + n - k, suffixes[i]) == 0) return 1;
    }
    return 0;
}

int gsttest_write_uniform_lm(const char *path, const float *floor_logp) {
    mslam_lm *lm = lm_new(3, test_vocab, TEST_VOCAB_SIZE, test_langs, TEST_N_LANGS);
    int rc = lm ? 0 : -1, n_reserved = 0;
    for (int i = 0; i < TEST_VOCAB_SIZE; i++) n_reserved += test_vocab[i][0] == '<';
    for (int l = 0; !rc && l < TEST_N_LANGS; l++) {
        rc = lm_table_reserve(&lm->langs[l], 1);
        /* the characters and "</s>" */
        lm->langs[l].floor_logp = floor_logp ? floor_logp[l] : -logf((float)(TEST_VOCAB_SIZE - n_reserved + 1));
    }
    if (!rc) rc = lm_save(lm, path);
    if (rc) fprintf(stderr, "uniform LM: %s\n", mslam_last_error());
    mslam_lm_free(lm);
    return rc;
}

int gsttest_write_translation_lm(const char *path, const char *favoured) {
    static const char *const english[] = {"en"};
    mslam_lm *lm = lm_new(1, test_vocab, TEST_VOCAB_SIZE, english, 1);
    int rc = lm ? 0 : -1, chars[TEST_VOCAB_SIZE], n = 0, fav = -1;
    for (int i = 0; lm && i < TEST_VOCAB_SIZE; i++) {
        if (test_vocab[i][0] != '<' || i == lm->bos_id || i == lm->eos_id) chars[n++] = i;
        if (!strcmp(test_vocab[i], favoured)) fav = i;
    }
    if (lm) lm->of_translations = 1;
    lm_table *t = lm ? &lm->langs[0] : NULL;
    if (!rc) rc = lm_table_set_chars(lm, t, chars, n) || lm_table_reserve(t, 1);
    if (!rc && fav >= 0) {
        /* p(favoured) = 0.9, the rest share 0.1 through the floor (not normalised exactly: the
         * search needs no normalised LM) */
        lm_table_put(t, lm_key(t, &fav, 1), logf(0.9f), 0.0f);
        t->floor_logp = logf(0.1f / (float)(n - 2));
    }
    if (!rc) rc = fav >= 0 ? lm_save(lm, path) : -1;
    if (rc) fprintf(stderr, "translation LM: %s\n", mslam_last_error());
    mslam_lm_free(lm);
    return rc;
}

static void fill_random(mslam_model *m, unsigned seed) {
    mslam_rng rng;
    mslam_rng_seed(&rng, seed);
    for (int i = 0; i < m->table.n; i++) {
        const mslam_param_entry *e = &m->table.entries[i];
        float *x = m->block + e->offset;
        for (size_t j = 0; j < e->numel; j++) {
            float r = mslam_rng_normal(&rng);
            if (!strcmp(e->name, "frontend.mel_mean")) x[j] = -5.0f + r;
            else if (!strcmp(e->name, "frontend.mel_std")) x[j] = 2.0f + 0.5f * mslam_rng_uniform(&rng);
            else if (is_norm_weight(e->name)) x[j] = 1.0f + 0.1f * r;
            else x[j] = 0.3f * r;
        }
    }
}

/* See GSTTEST_MODEL_LOUDNESS. Log-mel of silence sits at the floor (ln 1e-10 = -23), speech well
 * above -15: with mean -15 and std 1 the normalised features are negative on silence (ReLU: 0)
 * and positive on speech. Both convs average channel 0, the output projection puts the average in
 * dimension 0 of the frame, every layer's residual branches are zero so its final LayerNorm maps
 * [x0 > 0, 0, ...] to a fixed vector (dimension 0 = sqrt(d - 1)) and silence to zero. */
static void fill_loudness(mslam_model *m, char ctc_on_silence) {
    const struct mslam_model_config *c = &m->cfg;
    int d = c->d_model, C = c->sub_channels, F2 = mslam_subsampled_mels(c->n_mels);
    memset(m->block, 0, m->table.total * sizeof *m->block);
    for (int i = 0; i < m->table.n; i++) {
        const mslam_param_entry *e = &m->table.entries[i];
        if (is_norm_weight(e->name))
            for (size_t j = 0; j < e->numel; j++) m->block[e->offset + j] = 1.0f;
    }
    for (int i = 0; i < c->n_mels; i++) {
        m->p.mel_mean[i] = -15.0f;
        m->p.mel_std[i] = 1.0f;
    }
    for (int k = 0; k < 9; k++) m->p.sub_conv1_w[k] = 1.0f / 9; /* out channel 0, in channel 0 */
    for (int k = 0; k < 9; k++) m->p.sub_conv2_w[k] = 1.0f / 9;
    for (int f = 0; f < F2; f++) m->p.sub_out_w[f] = 1.0f / F2; /* row 0, channel 0's bins */
    (void)C;
    (void)d;
    if (c->ctc_head) {
        m->p.ctc_b[ID_BLANK] = 1.0f;
        if (ctc_on_silence == 'a') {
            m->p.ctc_w[(size_t)ID_A * d + 0] = -1.0f; /* speech: 2 - sqrt(d - 1) < 1 */
            m->p.ctc_b[ID_A] = 2.0f;                  /* silence: 2 > 1 */
        } else {
            m->p.ctc_w[(size_t)ID_A * d + 0] = 1.0f; /* speech: logit sqrt(d - 1) > 1 (and > 1.5) */
            if (ctc_on_silence == ' ') m->p.ctc_b[ID_SPACE] = 1.5f; /* silence: 1.5 > 1 */
        }
    }
    if (c->lid_head) {
        m->p.lid_w[0 * d + 0] = 1.0f; /* en */
        m->p.lid_b[1] = 0.5f;         /* fr on silence */
        m->p.lid_b[2] = -1.0f;        /* de: never first */
    }
    if (c->n_decoder_layers > 0) {
        m->p.dec_out_b[ID_H] = 1.0f;
        m->p.dec_out_b[ID_EOS] = 0.5f;
    }
}

int gsttest_write_model(const char *path, const struct gsttest_model_opts *o) {
    int d = o->d_model > 0 ? o->d_model : 8;
    int layers = o->n_layers > 0 ? o->n_layers : 1;
    struct mslam_model_config cfg = {
        .n_mels = 80, .d_model = d, .n_heads = o->n_heads > 0 ? o->n_heads : 2,
        .d_ff = o->d_ff > 0 ? o->d_ff : 2 * d, .conv_kernel = o->conv_kernel > 0 ? o->conv_kernel : 3,
        .sub_channels = o->sub_channels > 0 ? o->sub_channels : d < 32 ? 2 : 16,
        .n_speech_layers = layers, .n_shared_layers = layers,
        .vocab_size = TEST_VOCAB_SIZE, .n_langs = TEST_N_LANGS, .causal_conv = 1,
        .ctc_head = o->ctc_head, .lid_head = o->lid_head, .n_decoder_layers = o->n_decoder_layers,
        .translate_input = o->translate_input};
    mslam_model *m = mslam_model_new(&cfg, test_vocab, test_langs);
    if (!m) {
        fprintf(stderr, "mslam_model_new: %s\n", mslam_last_error());
        return -1;
    }
    if (o->kind == GSTTEST_MODEL_LOUDNESS) fill_loudness(m, o->ctc_on_silence);
    else fill_random(m, o->seed);
    int rc = mslam_model_save(m, path);
    if (rc) fprintf(stderr, "mslam_model_save %s: %s\n", path, mslam_last_error());
    mslam_model_free(m);
    return rc;
}

/* ---- speech ---- */

/* Through the corpus builder's synthesis (trainer/synth.c) and resampling (trainer/audio.c). */
float *gsttest_speak(const char *voice, const char *text, size_t *n) {
    struct synth_params sp = {.voice = voice, .variant = "m3", .rate = 160, .pitch = 50};
    struct audio raw = {0}, out = {0};
    float *pcm = NULL;
    if (synth_init(NULL) || synth_speak(&sp, text, &raw) || audio_resample(&raw, 1.0, 16000, &out)) {
        fprintf(stderr, "speech synthesis: %s\n", mslam_last_error());
    } else {
        pcm = g_memdup2(out.samples, out.n * sizeof(float));
        *n = out.n;
    }
    audio_free(&raw);
    audio_free(&out);
    return pcm;
}

int gsttest_write_wav(const char *path, const float *pcm, size_t n) {
    struct audio a = {.samples = (float *)pcm, .n = n, .cap = n, .rate = 16000};
    if (audio_write(path, &a, AUDIO_WAV)) {
        fprintf(stderr, "%s\n", mslam_last_error());
        return -1;
    }
    return 0;
}

void gsttest_append(float **dst, size_t *n_dst, const float *src, size_t n) {
    *dst = g_renew(float, *dst, *n_dst + n);
    if (src) memcpy(*dst + *n_dst, src, n * sizeof(float));
    else memset(*dst + *n_dst, 0, n * sizeof(float));
    *n_dst += n;
}

void gsttest_add_white_noise(float *pcm, size_t n, float amplitude, guint32 *x) {
    for (size_t i = 0; i < n; i++) {
        *x = *x * 1664525u + 1013904223u;
        pcm[i] += amplitude * ((float)(*x >> 8) / 8388608.0f - 1.0f);
    }
}

void gsttest_add_rumble(float *pcm, size_t n, float rms, guint32 *x) {
    /* two one-pole low-passes at 100 Hz: exp(-2 pi 100 / 16000) */
    const float a = 0.9615f;
    float *low = g_new0(float, n), y1 = 0.0f, y2 = 0.0f;
    double sum = 0.0;
    gsttest_add_white_noise(low, n, 1.0f, x);
    for (size_t i = 0; i < n; i++) {
        y1 = a * y1 + (1.0f - a) * low[i];
        y2 = a * y2 + (1.0f - a) * y1;
        low[i] = y2;
        sum += (double)y2 * y2;
    }
    float scale = sum > 0.0 ? rms / (float)sqrt(sum / (double)n) : 0.0f;
    for (size_t i = 0; i < n; i++) pcm[i] += scale * low[i];
    g_free(low);
}

/* ---- files ---- */

static char *tmpdir;
static pid_t tmpdir_owner;

static void remove_tmpdir(void) {
    /* check forks every test: only the process that made the folder removes it */
    if (!tmpdir || getpid() != tmpdir_owner) return;
    GDir *dir = g_dir_open(tmpdir, 0, NULL);
    const char *name;
    while (dir && (name = g_dir_read_name(dir))) {
        char *p = g_build_filename(tmpdir, name, NULL);
        unlink(p);
        g_free(p);
    }
    if (dir) g_dir_close(dir);
    rmdir(tmpdir);
    g_free(tmpdir);
    tmpdir = NULL;
}

const char *gsttest_tmpdir(void) {
    if (!tmpdir) {
        tmpdir = g_dir_make_tmp("mslam-gst-XXXXXX", NULL);
        g_assert(tmpdir);
        tmpdir_owner = getpid();
        atexit(remove_tmpdir);
    }
    return tmpdir;
}

const char *gsttest_trained_model(void) {
    const char *env = g_getenv("MSLAM_MODEL");
    if (env && *env) return env;
    return g_file_test(MSLAM_BUNDLED_MODEL, G_FILE_TEST_EXISTS) ? MSLAM_BUNDLED_MODEL : MSLAM_DEFAULT_MODEL;
}

char *gsttest_path(const char *name) {
    static char buf[4096];
    snprintf(buf, sizeof buf, "%s/%s", gsttest_tmpdir(), name);
    return buf;
}

size_t gsttest_rss(void) {
    /* free blocks that glibc keeps in the streaming threads' arenas count as resident, and how many
     * depends on how the threads were scheduled (on a loaded machine 40 state cycles grew by 4.2 MB):
     * handing them back first leaves what is live */
    malloc_trim(0);
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        fclose(f);
    }
    return (size_t)resident * (size_t)sysconf(_SC_PAGESIZE);
}

/* ---- the common fixture ---- */

void gsttest_trim(float **pcm, size_t *n) {
    size_t a = 0, b = *n;
    while (a < b && fabsf((*pcm)[a]) < 0.01f) a++;
    while (b > a && fabsf((*pcm)[b - 1]) < 0.01f) b--;
    memmove(*pcm, *pcm + a, (b - a) * sizeof(float));
    *n = b - a;
}

const gsttest_fixture *gsttest_fixture_get(void) {
    static gsttest_fixture f;
    static const char *sentences[2] = {"the quick brown fox jumps over the lazy dog",
                                       "hello world how are you today"};
    if (f.loud) return &f;
    struct gsttest_model_opts all = {.kind = GSTTEST_MODEL_LOUDNESS, .ctc_head = 1, .lid_head = 1,
                                     .n_decoder_layers = 1};
    struct gsttest_model_opts noctc = all, rnd = all;
    noctc.ctc_head = 0;
    rnd.kind = GSTTEST_MODEL_RANDOM;
    rnd.seed = 7;
    f.loud = g_strdup(gsttest_path("loud.safetensors"));
    f.loud_noctc = g_strdup(gsttest_path("loud-noctc.safetensors"));
    f.random = g_strdup(gsttest_path("random.safetensors"));
    f.corrupt = g_strdup(gsttest_path("corrupt.safetensors"));
    g_assert(gsttest_write_model(f.loud, &all) == 0);
    g_assert(gsttest_write_model(f.loud_noctc, &noctc) == 0);
    g_assert(gsttest_write_model(f.random, &rnd) == 0);
    g_assert(g_file_set_contents(f.corrupt, "\x10\0\0\0\0\0\0\0{\"a\": not json}", 24, NULL));
    for (int i = 0; i < 2; i++) {
        f.speech[i] = gsttest_speak("en", sentences[i], &f.n_speech[i]);
        g_assert(f.speech[i] != NULL);
        gsttest_trim(&f.speech[i], &f.n_speech[i]);
    }
    return &f;
}

/* ---- running an element ---- */

static void caption_free(gpointer p) {
    gsttest_caption *c = p;
    g_free(c->text);
    g_free(c->language);
    g_free(c->source_language);
    g_free(c);
}

const GstStructure *gsttest_final_message_at(const gsttest_run *r, GstClockTime start) {
    for (guint i = 0; i < r->messages->len; i++) {
        const GstStructure *m = g_ptr_array_index(r->messages, i);
        gboolean final = FALSE;
        guint64 t = GST_CLOCK_TIME_NONE;
        gst_structure_get_boolean(m, "final", &final);
        gst_structure_get_uint64(m, "start", &t);
        if (final && t == start) return m;
    }
    return NULL;
}

void gsttest_frames_samples(GstClockTime t0, GstClockTime start, GstClockTime end, size_t n, size_t *from,
                            size_t *until) {
    const GstClockTime frame = 40 * GST_MSECOND;
    *from = MIN(n, (size_t)((start - t0) / frame) * 640);
    *until = MIN(n, (size_t)((end - t0) / frame) * 640 + 639);
}

/* The result of continued caption c's samples [from, until) (kind, params p) with up to
 * GSTTEST_CONTEXT_FRAMES of audio before them: see gsttest_offline_caption. */
static mslam_result *offline_with_context(const gsttest_caption *c, GstClockTime t0, const float *pcm, size_t from,
                                          size_t until, mslam_model *model, enum gsttest_offline_kind kind,
                                          const struct mslam_decode_params *p, const char **language) {
    const size_t frame_samples = 640;
    const struct mslam_model_config cfg = mslam_model_get_config(model);
    const int n_lid_langs = cfg.lid_head ? cfg.n_langs : 0;
    const int ctx = (int)MIN((GstClockTime)GSTTEST_CONTEXT_FRAMES, (c->pts - t0) / (40 * GST_MSECOND));
    const int d = cfg.d_model;
    int n_frames = 0;
    float *frames = mslam_encode_pcm(model, pcm + from - (size_t)ctx * frame_samples,
                                     until - from + (size_t)ctx * frame_samples, NULL, &n_frames);
    mslam_result *all = NULL, *r = NULL;
    *language = NULL;
    if (!frames) return NULL;
    /* as many as the caption has, and the context */
    n_frames = MIN(n_frames, ctx + (int)(c->duration / (40 * GST_MSECOND)));
    if (n_lid_langs > 0) {
        float *probs = g_new(float, n_lid_langs);
        int lang = mslam_identify_language_frames(model, frames + (size_t)ctx * d, n_frames - ctx, p, probs);
        g_free(probs);
        if (lang < 0) goto done;
        *language = mslam_model_lang(model, lang);
    }
    struct mslam_decode_params in_language = *p;
    if (p->lm && !p->languages) {
        /* the elements decode again with the LM of the language identified, where it has one */
        if (*language && mslam_lm_lang_index(p->lm, *language) >= 0)
            in_language.languages = *language;
        else
            in_language.lm = NULL;
    }
    if (!cfg.ctc_head) {
        /* (translation alone: of the caption's frames) */
        if (kind == GSTTEST_TRANSLATE) r = mslam_translate_frames(model, frames + (size_t)ctx * d, n_frames - ctx, p);
        goto done;
    }
    if (!(all = mslam_transcribe_frames(model, frames, n_frames, &in_language)) ||
        !(r = mslam_result_from_frame(model, all, ctx)) || kind == GSTTEST_TRANSCRIBE ||
        (*language && !strcmp(*language, "en")))
        goto done;
    mslam_result *said = r;
    r = cfg.translate_input == MSLAM_TRANSLATE_TRANSCRIPT
            ? mslam_translate_text(model, mslam_result_text(said), p)
            : mslam_translate_frames(model, frames + (size_t)ctx * d, n_frames - ctx, p);
    mslam_result_free(said);
done:
    mslam_result_free(all);
    mslam_free(frames);
    return r;
}

int gsttest_offline_caption(const gsttest_caption *c, gboolean continued, GstClockTime t0, const float *pcm, size_t n,
                            mslam_model *model, enum gsttest_offline_kind kind,
                            const struct mslam_decode_params *params, gsttest_offline *out) {
    struct mslam_decode_params p = params ? *params : mslam_decode_default_params();
    const int n_lid_langs = mslam_model_get_config(model).lid_head ? mslam_model_get_config(model).n_langs : 0;
    size_t from, until;
    mslam_result *r;
    gsttest_frames_samples(t0, c->pts, c->pts + c->duration, n, &from, &until);
    *out = (gsttest_offline){0};
    if (continued) {
        r = offline_with_context(c, t0, pcm, from, until, model, kind, &p, &out->language);
    } else {
        r = (kind == GSTTEST_TRANSCRIBE ? mslam_transcribe : mslam_translate)(model, pcm + from, until - from, &p);
        if (r && n_lid_langs > 0) {
            float *probs = g_new(float, n_lid_langs);
            int lang = mslam_identify_language(model, pcm + from, until - from, &p, probs);
            g_free(probs);
            if (lang >= 0) out->language = mslam_model_lang(model, lang);
            else g_clear_pointer(&r, mslam_result_free);
        }
    }
    if (!r) {
        g_printerr("offline API: %s\n", mslam_last_error());
        return -1;
    }
    out->confidence = mslam_result_confidence(r);
    out->text = g_strstrip(g_strdup(mslam_result_text(r)));
    mslam_result_free(r);
    return 0;
}

gboolean gsttest_caption_is_offline(const gsttest_run *r, const gsttest_caption *c, GstClockTime t0, const float *pcm,
                                    size_t n, mslam_model *model, enum gsttest_offline_kind kind,
                                    const struct mslam_decode_params *params) {
    const GstStructure *m = gsttest_final_message_at(r, c->pts);
    gboolean continued = FALSE;
    double confidence = -1;
    gsttest_offline expected;
    if (!m || !gst_structure_get_boolean(m, "continued", &continued) ||
        gsttest_offline_caption(c, continued, t0, pcm, n, model, kind, params, &expected))
        return FALSE;
    const char *language = gst_structure_get_string(m, kind == GSTTEST_TRANSCRIBE ? "language" : "source-language");
    gboolean same = gst_structure_get_double(m, "confidence", &confidence) && !strcmp(c->text, expected.text) &&
                    fabs(confidence - expected.confidence) < 1e-4 &&
                    (!expected.language || !g_strcmp0(language, expected.language));
    g_free(expected.text);
    return same;
}

void gsttest_run_free(gsttest_run *r) {
    if (!r) return;
    g_ptr_array_unref(r->buffers);
    g_ptr_array_unref(r->messages);
    g_ptr_array_unref(r->events);
    if (r->error) gst_message_unref(r->error);
    g_free(r);
}

typedef struct {
    gsttest_run *run;
    GstElement *pipeline;
} probe_ctx;

static GstPadProbeReturn on_src_data(GstPad *pad, GstPadProbeInfo *info, gpointer user_data) {
    probe_ctx *ctx = user_data;
    (void)pad;
    if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
        GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
        GstMapInfo map;
        gsttest_caption *c = g_new0(gsttest_caption, 1);
        if (gst_buffer_map(buf, &map, GST_MAP_READ)) {
            c->text = g_strndup((const char *)map.data, map.size);
            gst_buffer_unmap(buf, &map);
        }
        c->pts = GST_BUFFER_PTS(buf);
        c->duration = GST_BUFFER_DURATION(buf);
        c->final = TRUE;
        GstClock *clock = gst_element_get_clock(ctx->pipeline);
        if (clock) {
            c->pushed = gst_clock_get_time(clock) - gst_element_get_base_time(ctx->pipeline);
            gst_object_unref(clock);
        } else {
            c->pushed = GST_CLOCK_TIME_NONE;
        }
        g_ptr_array_add(ctx->run->buffers, c);
    } else if (info->type & GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM) {
        g_ptr_array_add(ctx->run->events, gst_event_ref(GST_PAD_PROBE_INFO_EVENT(info)));
    }
    return GST_PAD_PROBE_OK;
}

GstBuffer *gsttest_pcm_buffer(const float *pcm, size_t n, gboolean s16, GstClockTime pts) {
    size_t bps = s16 ? 2 : 4;
    GstBuffer *b = gst_buffer_new_allocate(NULL, n * bps, NULL);
    GstMapInfo map;
    gst_buffer_map(b, &map, GST_MAP_WRITE);
    if (s16) {
        gint16 *o = (gint16 *)map.data;
        for (size_t i = 0; i < n; i++) {
            float v = pcm[i] * 32768.0f;
            o[i] = (gint16)(v > 32767 ? 32767 : v < -32768 ? -32768 : v);
        }
    } else {
        memcpy(map.data, pcm, n * bps);
    }
    gst_buffer_unmap(b, &map);
    GST_BUFFER_PTS(b) = pts;
    GST_BUFFER_DURATION(b) = gst_util_uint64_scale(n, GST_SECOND, 16000);
    return b;
}

GstFlowReturn gsttest_harness_push_pcm(GstHarness *h, const float *pcm, size_t from, size_t to, GstClockTime t0,
                                       gboolean s16) {
    GstFlowReturn ret = GST_FLOW_OK;
    for (size_t off = from; off < to && ret == GST_FLOW_OK; off += 1600)
        ret = gst_harness_push(h, gsttest_pcm_buffer(pcm + off, MIN(1600, to - off), s16,
                                                     t0 + gst_util_uint64_scale(off - from, GST_SECOND, 16000)));
    return ret;
}

gsttest_run *gsttest_run_element(const char *element_desc, const float *pcm, size_t n, gboolean s16,
                                 size_t buf_samples, GstClockTime t0) {
    gsttest_run *r = g_new0(gsttest_run, 1);
    r->buffers = g_ptr_array_new_with_free_func(caption_free);
    r->messages = g_ptr_array_new_with_free_func((GDestroyNotify)gst_structure_free);
    r->events = g_ptr_array_new_with_free_func((GDestroyNotify)gst_event_unref);

    char *desc = g_strdup_printf("appsrc name=src format=time ! %s name=el ! fakesink name=sink sync=false "
                                 "async=false",
                                 element_desc);
    GError *err = NULL;
    GstElement *pipeline = gst_parse_launch(desc, &err);
    g_free(desc);
    if (!pipeline) {
        fprintf(stderr, "gst_parse_launch: %s\n", err ? err->message : "?");
        g_clear_error(&err);
        gsttest_run_free(r);
        return NULL;
    }
    GstElement *src = gst_bin_get_by_name(GST_BIN(pipeline), "src");
    GstElement *el = gst_bin_get_by_name(GST_BIN(pipeline), "el");
    GstElement *sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
    GstCaps *caps = gst_caps_new_simple("audio/x-raw", "format", G_TYPE_STRING, s16 ? "S16LE" : "F32LE",
                                        "rate", G_TYPE_INT, 16000, "channels", G_TYPE_INT, 1, "layout",
                                        G_TYPE_STRING, "interleaved", NULL);
    g_object_set(src, "caps", caps, "max-bytes", (guint64)0, "block", FALSE, "handle-segment-change", TRUE, NULL);
    gst_caps_unref(caps);
    probe_ctx ctx = {r, pipeline};
    GstPad *srcpad = gst_element_get_static_pad(el, "src");
    gst_pad_add_probe(srcpad, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, on_src_data, &ctx,
                      NULL);
    gst_object_unref(srcpad);

    GstBus *bus = gst_element_get_bus(pipeline);
    if (gst_element_set_state(pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
        GstMessage *m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
        r->error = m;
    } else {
        /* a segment starting at t0, so that t0 is also the start of the running time */
        GstSegment seg;
        gst_segment_init(&seg, GST_FORMAT_TIME);
        seg.start = t0;
        seg.time = t0;
        for (size_t off = 0; off < n; off += buf_samples) {
            size_t k = MIN(buf_samples, n - off);
            GstBuffer *b = gsttest_pcm_buffer(pcm + off, k, s16, t0 + gst_util_uint64_scale(off, GST_SECOND, 16000));
            GST_BUFFER_OFFSET(b) = off;
            if (off == 0) {
                GstSample *s = gst_sample_new(b, NULL, &seg, NULL);
                gst_app_src_push_sample(GST_APP_SRC(src), s);
                gst_sample_unref(s);
                gst_buffer_unref(b);
            } else {
                gst_app_src_push_buffer(GST_APP_SRC(src), b);
            }
        }
        gst_app_src_end_of_stream(GST_APP_SRC(src));
        for (;;) {
            GstMessage *m = gst_bus_timed_pop_filtered(bus, 120 * GST_SECOND,
                                                       GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_ELEMENT);
            if (!m) break;
            if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ELEMENT) {
                g_ptr_array_add(r->messages, gst_structure_copy(gst_message_get_structure(m)));
                gst_message_unref(m);
                continue;
            }
            if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_EOS) {
                r->eos = TRUE;
                gst_message_unref(m);
            } else {
                r->error = m;
            }
            break;
        }
    }
    gst_element_set_state(pipeline, GST_STATE_NULL);
    /* messages posted after EOS (none expected) */
    GstMessage *m;
    while ((m = gst_bus_pop_filtered(bus, GST_MESSAGE_ELEMENT))) {
        g_ptr_array_add(r->messages, gst_structure_copy(gst_message_get_structure(m)));
        gst_message_unref(m);
    }
    gst_object_unref(bus);
    gst_object_unref(src);
    gst_object_unref(el);
    gst_object_unref(sink);
    gst_object_unref(pipeline);
    return r;
}

char *gsttest_pop_error(GstElement *pipeline, int *code) {
    GstBus *bus = gst_element_get_bus(pipeline);
    GstMessage *m = gst_bus_timed_pop_filtered(bus, 5 * GST_SECOND, GST_MESSAGE_ERROR);
    char *text = NULL;
    if (code) *code = -1;
    if (m) {
        GError *err = NULL;
        gst_message_parse_error(m, &err, NULL);
        text = g_strdup(err->message);
        if (code) *code = err->code;
        g_error_free(err);
        gst_message_unref(m);
    }
    gst_object_unref(bus);
    return text;
}

char *gsttest_launch_error(const char *launch, int *code) {
    GstElement *pipeline = gst_parse_launch(launch, NULL);
    char *text = NULL;
    if (code) *code = -1;
    if (pipeline && gst_element_set_state(pipeline, GST_STATE_PAUSED) == GST_STATE_CHANGE_FAILURE)
        text = gsttest_pop_error(pipeline, code);
    if (pipeline) {
        gst_element_set_state(pipeline, GST_STATE_NULL);
        gst_object_unref(pipeline);
    }
    return text;
}

char *gsttest_start_error(const char *element_desc) {
    char *launch = g_strdup_printf("audiotestsrc ! %s ! fakesink", element_desc);
    char *text = gsttest_launch_error(launch, NULL);
    g_free(launch);
    return text;
}
