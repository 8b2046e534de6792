/* mslamtranslate on synthesised English speech with GSTTEST_MODEL_LOUDNESS (gsttestutil.h):
 * segments follow the speech (by CTC blanks, or by the energy rule for a model without a CTC
 * head), each is translated by the decoder, buffers and mslam-translation messages agree;
 * languages, partial results, EOS, input=transcript (the cascade through the text path) and
 * input=auto (the model's own), an LM on the transcript, the translation LM and memory, and
 * model errors. */
#include "gsttestutil.h"

#include "tm.h"

#include <gst/check/gstcheck.h>
#include <mslam.h>
#include <stdarg.h>
#include <string.h>

#define MS (GST_MSECOND)
#define SAMPLES_TIME(n) gst_util_uint64_scale((n), GST_SECOND, 16000)
#define EDGE_TOLERANCE (250 * MS)

static const gsttest_fixture *fx;
static float *talk;
static size_t n_talk;
static GstClockTime utt_start[2], utt_end[2];
static char *no_decoder;

static void setup_talk(void) {
    fx = gsttest_fixture_get();
    if (talk) return;
    gsttest_append(&talk, &n_talk, NULL, 8000);
    utt_start[0] = SAMPLES_TIME(n_talk);
    gsttest_append(&talk, &n_talk, fx->speech[0], fx->n_speech[0]);
    utt_end[0] = SAMPLES_TIME(n_talk);
    gsttest_append(&talk, &n_talk, NULL, 16000);
    utt_start[1] = SAMPLES_TIME(n_talk);
    gsttest_append(&talk, &n_talk, fx->speech[1], fx->n_speech[1]);
    utt_end[1] = SAMPLES_TIME(n_talk);
    gsttest_append(&talk, &n_talk, NULL, 8000);
}

static gsttest_run *run(const char *model, const char *extra) {
    char *d = g_strdup_printf("mslamtranslate model=%s %s", model, extra ? extra : "");
    gsttest_run *r = gsttest_run_element(d, talk, n_talk, FALSE, 1024, 0);
    g_free(d);
    fail_unless(r && r->eos && !r->error);
    return r;
}

/* The element described by printf-style fmt (after "mslamtranslate ") does not start, and its
 * error message holds want and want_too (NULL: want alone). */
static void check_start_error(const char *want, const char *want_too, const char *fmt, ...) G_GNUC_PRINTF(3, 4);
static void check_start_error(const char *want, const char *want_too, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    char *props = g_strdup_vprintf(fmt, ap);
    va_end(ap);
    char *d = g_strdup_printf("mslamtranslate %s", props);
    char *message = gsttest_start_error(d);
    fail_unless(message && strstr(message, want) && (!want_too || strstr(message, want_too)), "%s: %s", d,
                message ? message : "(started)");
    g_free(message);
    g_free(d);
    g_free(props);
}

/* Two translations on the two utterances, in order, inside the audio; the final messages carry
 * the same text and times. Returns the final messages (unref with g_ptr_array_unref). */
static GPtrArray *check_translations(const gsttest_run *r) {
    GPtrArray *finals = g_ptr_array_new();
    fail_unless_equals_int(r->buffers->len, 2);
    for (guint i = 0; i < 2; i++) {
        const gsttest_caption *c = g_ptr_array_index(r->buffers, i);
        fail_unless(c->text && *c->text);
        /* the decoder writes characters of its vocabulary: "h" is its favourite */
        fail_unless(strchr(c->text, 'h'), "translation \"%s\"", c->text);
        fail_unless(c->pts + EDGE_TOLERANCE >= utt_start[i] && c->pts <= utt_start[i] + EDGE_TOLERANCE,
                    "translation %u at %" GST_TIME_FORMAT, i, GST_TIME_ARGS(c->pts));
        fail_unless(c->pts + c->duration + EDGE_TOLERANCE >= utt_end[i] &&
                    c->pts + c->duration <= utt_end[i] + EDGE_TOLERANCE,
                    "translation %u ends at %" GST_TIME_FORMAT, i, GST_TIME_ARGS(c->pts + c->duration));
    }
    for (guint i = 0; i < r->messages->len; i++) {
        const GstStructure *s = g_ptr_array_index(r->messages, i);
        gboolean final;
        fail_unless(gst_structure_has_name(s, "mslam-translation"));
        fail_unless(gst_structure_get_boolean(s, "final", &final));
        if (final) g_ptr_array_add(finals, (gpointer)s);
    }
    fail_unless_equals_int(finals->len, 2);
    for (guint i = 0; i < 2; i++) {
        const GstStructure *s = g_ptr_array_index(finals, i);
        const gsttest_caption *c = g_ptr_array_index(r->buffers, i);
        guint64 start, end;
        gdouble conf;
        fail_unless_equals_string(gst_structure_get_string(s, "text"), c->text);
        fail_unless(gst_structure_get_uint64(s, "start", &start) && gst_structure_get_uint64(s, "end", &end));
        fail_unless_equals_uint64(start, c->pts);
        fail_unless_equals_uint64(end, c->pts + c->duration);
        fail_unless(gst_structure_get_double(s, "confidence", &conf) && conf > 0 && conf <= 1);
        fail_unless_equals_string(gst_structure_get_string(s, "language"), "en");
    }
    return finals;
}

GST_START_TEST(test_translations_follow_speech) {
    setup_talk();
    /* French named: the loudness model's LID head hears English, which is its own translation
     * (test_english_as_said) */
    gsttest_run *r = run(fx->loud, "languages=fr");
    GPtrArray *finals = check_translations(r);
    for (guint i = 0; i < finals->len; i++) {
        const GstStructure *s = g_ptr_array_index(finals, i);
        fail_unless_equals_string(gst_structure_get_string(s, "source-language"), "fr");
        /* the CTC head's "a" per voiced run: each utterance is one */
        fail_unless_equals_string(gst_structure_get_string(s, "source-text"), "a");
    }
    g_ptr_array_unref(finals);
    gsttest_run_free(r);
}
GST_END_TEST;

/* English is its own translation, as mslam_translate gives it: the loudness model's LID head
 * hears English on speech, and each final translation is the transcript ("a"), with the
 * transcript's confidence, whatever the decoder reads; named English too. */
GST_START_TEST(test_english_as_said) {
    setup_talk();
    const char *props[] = {"input=speech", "input=transcript", "languages=en"};
    char *asr_desc = g_strdup_printf("mslamasr model=%s", fx->loud);
    gsttest_run *asr = gsttest_run_element(asr_desc, talk, n_talk, FALSE, 1024, 0);
    g_free(asr_desc);
    fail_unless(asr && asr->eos && !asr->error);
    for (guint k = 0; k < G_N_ELEMENTS(props); k++) {
        gsttest_run *r = run(fx->loud, props[k]);
        fail_unless_equals_int(r->buffers->len, 2);
        for (guint i = 0; i < r->buffers->len; i++) {
            const gsttest_caption *c = g_ptr_array_index(r->buffers, i);
            const GstStructure *s = gsttest_final_message_at(r, c->pts), *said = gsttest_final_message_at(asr, c->pts);
            gdouble confidence = 0, said_confidence = -1;
            fail_unless(s && said, "%s: no final message at %" GST_TIME_FORMAT, props[k], GST_TIME_ARGS(c->pts));
            fail_unless_equals_string(c->text, "a");
            fail_unless_equals_string(gst_structure_get_string(s, "source-text"), "a");
            fail_unless_equals_string(gst_structure_get_string(s, "source-language"), "en");
            fail_unless(gst_structure_get_double(s, "confidence", &confidence) &&
                        gst_structure_get_double(said, "confidence", &said_confidence) &&
                        fabs(confidence - said_confidence) < 1e-9,
                        "%s: confidence %g, mslamasr's %g", props[k], confidence, said_confidence);
        }
        gsttest_run_free(r);
    }
    gsttest_run_free(asr);
}
GST_END_TEST;

/* source-text is the transcript without the spaces at its ends (a model that hears spaces in
 * silence puts them there; "a" on speech), as the captions of mslamasr are. */
GST_START_TEST(test_source_text_stripped) {
    setup_talk();
    struct gsttest_model_opts o = {.kind = GSTTEST_MODEL_LOUDNESS, .ctc_head = 1, .lid_head = 1,
                                   .n_decoder_layers = 1, .ctc_on_silence = ' '};
    char *model = g_strdup(gsttest_path("spaces-in-silence.safetensors"));
    fail_unless(gsttest_write_model(model, &o) == 0);
    gsttest_run *r = run(model, "input=transcript");
    guint finals = 0;
    for (guint i = 0; i < r->messages->len; i++) {
        const GstStructure *s = g_ptr_array_index(r->messages, i);
        gboolean final = FALSE;
        if (!gst_structure_get_boolean(s, "final", &final) || !final) continue;
        const char *text = gst_structure_get_string(s, "source-text");
        fail_unless(text && text[0] == 'a' && text[strlen(text) - 1] == 'a', "source-text \"%s\"", text);
        /* its words, joined by spaces, are the text (test_gst_asr's test_words times them) */
        const GValue *words = gst_structure_get_value(s, "source-words");
        fail_unless(words && GST_VALUE_HOLDS_ARRAY(words), "no source-words");
        GString *joined = g_string_new(NULL);
        for (guint w = 0; w < gst_value_array_get_size(words); w++) {
            const GstStructure *word = gst_value_get_structure(gst_value_array_get_value(words, w));
            g_string_append_printf(joined, "%s%s", w ? " " : "", gst_structure_get_string(word, "text"));
        }
        fail_unless_equals_string(joined->str, text);
        g_string_free(joined, TRUE);
        finals++;
    }
    fail_unless_equals_int(finals, 2);
    gsttest_run_free(r);
    g_free(model);
}
GST_END_TEST;

/* Without a CTC head the energy rule alone cuts the segments. */
GST_START_TEST(test_energy_segmentation) {
    setup_talk();
    gsttest_run *r = run(fx->loud_noctc, NULL);
    GPtrArray *finals = check_translations(r);
    for (guint i = 0; i < finals->len; i++)
        fail_if(gst_structure_has_field(g_ptr_array_index(finals, i), "source-text") ||
                gst_structure_has_field(g_ptr_array_index(finals, i), "source-words"));
    g_ptr_array_unref(finals);
    gsttest_run_free(r);
}
GST_END_TEST;

/* languages restricts the source language; partial results are translations of the open
 * segment, before its final. */
GST_START_TEST(test_languages_and_partials) {
    setup_talk();
    gsttest_run *r = run(fx->loud, "languages=fr,de partial-results=true");
    guint partials = 0;
    for (guint i = 0; i < r->messages->len; i++) {
        const GstStructure *s = g_ptr_array_index(r->messages, i);
        gboolean final;
        gst_structure_get_boolean(s, "final", &final);
        /* en is excluded: fr beats de on speech */
        fail_unless_equals_string(gst_structure_get_string(s, "source-language"), "fr");
        if (!final) partials++;
    }
    fail_unless(partials >= 2, "%u partial translations", partials);
    fail_unless_equals_int(r->buffers->len, 2);
    gsttest_run_free(r);

    /* off by default */
    r = run(fx->loud, NULL);
    for (guint i = 0; i < r->messages->len; i++) {
        gboolean final = FALSE;
        gst_structure_get_boolean(g_ptr_array_index(r->messages, i), "final", &final);
        fail_unless(final);
    }
    gsttest_run_free(r);
}
GST_END_TEST;

/* Speech until EOS is translated at EOS. */
GST_START_TEST(test_eos_drains) {
    setup_talk();
    char *d = g_strdup_printf("mslamtranslate model=%s", fx->loud);
    gsttest_run *r = gsttest_run_element(d, fx->speech[0], fx->n_speech[0], TRUE, 777, 0);
    g_free(d);
    fail_unless(r && r->eos);
    fail_unless_equals_int(r->buffers->len, 1);
    const gsttest_caption *c = g_ptr_array_index(r->buffers, 0);
    fail_unless(c->pts + c->duration + EDGE_TOLERANCE >= SAMPLES_TIME(fx->n_speech[0]));
    gsttest_run_free(r);
}
GST_END_TEST;

/* no-repeat-ngram reaches the search: with 1 no character comes twice in a translation, while
 * the loudness model's decoder, left alone, repeats its favourite "h". */
GST_START_TEST(test_no_repeat_ngram) {
    setup_talk();
    gsttest_run *r = run(fx->loud, "no-repeat-ngram=0 languages=fr");
    gboolean repeats = FALSE;
    for (guint i = 0; i < r->buffers->len; i++) {
        const char *text = ((const gsttest_caption *)g_ptr_array_index(r->buffers, i))->text;
        repeats |= strchr(text, 'h') != strrchr(text, 'h');
    }
    fail_unless(repeats, "without the ban the decoder repeats characters");
    gsttest_run_free(r);
    r = run(fx->loud, "no-repeat-ngram=1 languages=fr");
    fail_unless(r->buffers->len > 0);
    for (guint i = 0; i < r->buffers->len; i++) {
        const char *text = ((const gsttest_caption *)g_ptr_array_index(r->buffers, i))->text;
        for (const char *c = text; *c; c++) fail_unless(strchr(c + 1, *c) == NULL, "\"%s\" repeats '%c'", text, *c);
    }
    gsttest_run_free(r);
}
GST_END_TEST;

/* The translation of message s must be the API's for its source text: mslam_encode_text, then
 * mslam_translate_frames. */
static void check_translation_of(mslam_model *model, const GstStructure *s, const struct mslam_decode_params *p) {
    const char *source = gst_structure_get_string(s, "source-text"), *translation = gst_structure_get_string(s, "text");
    int n = 0;
    float *frames = mslam_encode_text(model, source, NULL, &n);
    mslam_result *expected = frames ? mslam_translate_frames(model, frames, n, p) : NULL;
    fail_unless(expected != NULL, "%s", mslam_last_error());
    fail_unless_equals_string(translation, mslam_result_text(expected));
    mslam_result_free(expected);
    mslam_free(frames);
}

/* input=transcript: each segment's CTC transcript goes through the text path, and the
 * translation is the API's for that text (mslam_encode_text, then mslam_translate_frames with
 * the element's beam); without a CTC head the element does not start. */
GST_START_TEST(test_transcript_input) {
    setup_talk();
    gsttest_run *r = run(fx->loud, "input=transcript beam-size=1 languages=fr");
    mslam_model *model = mslam_model_load(fx->loud, mslam_model_default_params());
    fail_unless(model != NULL, "%s", mslam_last_error());
    struct mslam_decode_params p = mslam_decode_default_params();
    p.beam_size = 1;
    guint finals = 0;
    for (guint i = 0; i < r->messages->len; i++) {
        const GstStructure *s = g_ptr_array_index(r->messages, i);
        const char *source = gst_structure_get_string(s, "source-text");
        gboolean final = FALSE;
        gst_structure_get_boolean(s, "final", &final);
        fail_unless(source && *source);
        check_translation_of(model, s, &p);
        finals += final;
    }
    fail_unless_equals_int(finals, 2);
    fail_unless_equals_int(r->buffers->len, 2);
    mslam_model_free(model);
    gsttest_run_free(r);

    check_start_error("input=transcript", "no CTC head", "model=%s input=transcript", fx->loud_noctc);
}
GST_END_TEST;

/* The captions of r as "text (confidence)" lines (g_free it): equal when two runs translated
 * alike (random weights write the same text from any source, not with the same probabilities). */
static char *captions_of(const gsttest_run *r) {
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < r->buffers->len; i++) {
        const gsttest_caption *c = g_ptr_array_index(r->buffers, i);
        g_string_append_printf(s, "%s (%.6f)\n", c->text, c->confidence);
    }
    return g_string_free(s, FALSE);
}

static char *captions_with(const char *model, const char *extra) {
    gsttest_run *r = run(model, extra);
    fail_unless(r->buffers->len > 1, "%u translations", r->buffers->len);
    char *text = captions_of(r);
    gsttest_run_free(r);
    return text;
}

/* input=auto (the default) reads what the model's config says its decoder was trained on: the
 * transcript for translate_input = 1, the speech frames for 0 (every other fixture). */
GST_START_TEST(test_auto_input) {
    setup_talk();
    GstElement *e = gst_element_factory_make("mslamtranslate", NULL);
    fail_unless(e != NULL);
    GParamSpec *spec = g_object_class_find_property(G_OBJECT_GET_CLASS(e), "input");
    GEnumValue *v = g_enum_get_value(G_PARAM_SPEC_ENUM(spec)->enum_class, G_PARAM_SPEC_ENUM(spec)->default_value);
    fail_unless(v && !strcmp(v->value_nick, "auto"), "default input %s", v ? v->value_nick : "?");
    gst_object_unref(e);

    char *path = g_strdup(gsttest_path("random-transcript.safetensors"));
    struct gsttest_model_opts o = {.kind = GSTTEST_MODEL_RANDOM, .ctc_head = 1, .lid_head = 1, .n_decoder_layers = 1,
                                   .seed = 7, .translate_input = MSLAM_TRANSLATE_TRANSCRIPT};
    fail_unless(gsttest_write_model(path, &o) == 0);
    /* French named: the random LID head hears English, which would be its own translation;
     * without the second pass, where random weights hear something in more captions */
    const char *common = "max-duration=1000 second-pass=false languages=fr";
    char *text_auto = captions_with(path, common);
    char *with = g_strdup_printf("input=transcript %s", common);
    char *text_transcript = captions_with(path, with);
    g_free(with);
    with = g_strdup_printf("input=speech %s", common);
    char *text_speech = captions_with(path, with);
    fail_unless_equals_string(text_auto, text_transcript);
    fail_unless(strcmp(text_auto, text_speech) != 0, "input=auto read the speech:\n%s", text_auto);
    /* the same weights with translate_input = 0 (fx->random) */
    char *speech_model_auto = captions_with(fx->random, common);
    fail_unless_equals_string(speech_model_auto, text_speech);
    g_free(speech_model_auto);
    g_free(with);
    g_free(text_auto);
    g_free(text_transcript);
    g_free(text_speech);
    g_free(path);
}
GST_END_TEST;

/* Field of the final message of r that starts at start (NULL: none; a translation that came
 * out empty posts no message). */
static const char *final_field_at(const gsttest_run *r, guint64 start, const char *field) {
    const GstStructure *m = gsttest_final_message_at(r, start);
    return m ? gst_structure_get_string(m, field) : NULL;
}

/* Whether message s is final; if so its start into *start. */
static gboolean final_with_start(const GstStructure *s, guint64 *start) {
    gboolean final = FALSE;
    gst_structure_get_boolean(s, "final", &final);
    if (final) fail_unless(gst_structure_get_uint64(s, "start", start));
    return final;
}

/* lm=: the transcript is mslamasr's with the same LM (each final segment decoded again in the
 * language identified on it), the LM changes it (the transcripts joined: where max-duration cuts
 * follows the words, which the LM changes), and that is what input=transcript translates; an LM
 * with a model without a CTC head does not start. */
GST_START_TEST(test_transcript_lm) {
    setup_talk();
    char *lm = g_strdup(gsttest_path("translate-uniform-lm.safetensors"));
    fail_unless(gsttest_write_uniform_lm(lm, NULL) == 0);
    /* French named: the translations are the decoder's, not English's own transcript */
    const char *common = "beam-size=4 max-duration=1000 lm-bonus=10 languages=fr";
    char *with_lm = g_strdup_printf("input=transcript %s lm=%s", common, lm);
    char *without_lm = g_strdup_printf("input=transcript %s", common);
    char *asr_desc = g_strdup_printf("mslamasr model=%s %s lm=%s", fx->random, common, lm);
    gsttest_run *asr = gsttest_run_element(asr_desc, talk, n_talk, FALSE, 1024, 0);
    fail_unless(asr && asr->eos && !asr->error);
    gsttest_run *r = run(fx->random, with_lm), *plain = run(fx->random, without_lm);

    mslam_model *model = mslam_model_load(fx->random, mslam_model_default_params());
    fail_unless(model != NULL, "%s", mslam_last_error());
    struct mslam_decode_params p = mslam_decode_default_params();
    p.beam_size = 4;
    guint finals = 0;
    GString *sources = g_string_new(NULL), *plain_sources = g_string_new(NULL);
    for (guint i = 0; i < r->messages->len; i++) {
        const GstStructure *s = g_ptr_array_index(r->messages, i);
        guint64 start = 0;
        if (!final_with_start(s, &start)) continue;
        finals++;
        const char *source = gst_structure_get_string(s, "source-text");
        fail_unless_equals_string(source, final_field_at(asr, start, "text"));
        g_string_append_printf(sources, "%s\n", source);
        check_translation_of(model, s, &p);
    }
    for (guint i = 0; i < plain->messages->len; i++) {
        const GstStructure *s = g_ptr_array_index(plain->messages, i);
        guint64 start = 0;
        if (final_with_start(s, &start))
            g_string_append_printf(plain_sources, "%s\n", gst_structure_get_string(s, "source-text"));
    }
    fail_unless(finals > 1, "%u translations", finals);
    fail_unless(strcmp(sources->str, plain_sources->str) != 0, "the LM changed no transcript:\n%s", sources->str);
    g_string_free(sources, TRUE);
    g_string_free(plain_sources, TRUE);
    mslam_model_free(model);
    gsttest_run_free(asr);
    gsttest_run_free(r);
    gsttest_run_free(plain);

    check_start_error(lm, "no CTC head", "model=%s lm=%s", fx->loud_noctc, lm);
    g_free(asr_desc);
    g_free(with_lm);
    g_free(without_lm);
    g_free(lm);
}
GST_END_TEST;

/* translation-lm=: each final translation is the API's with the same LM and weight, and an LM
 * that favours one character changes them; an LM of transcripts there, or of translations as
 * lm=, does not start, by name. */
GST_START_TEST(test_translation_lm) {
    setup_talk();
    char *tlm = g_strdup(gsttest_path("translation-lm.safetensors"));
    char *asr_lm = g_strdup(gsttest_path("translate-asr-lm.safetensors"));
    fail_unless(gsttest_write_translation_lm(tlm, "t") == 0 && gsttest_write_uniform_lm(asr_lm, NULL) == 0);
    /* French named: the random LID head hears English, which would be its own translation */
    char *with_lm = g_strdup_printf("input=transcript max-duration=1000 languages=fr translation-lm=%s "
                                    "translation-lm-weight=3", tlm);
    gsttest_run *r = run(fx->random, with_lm),
                *plain = run(fx->random, "input=transcript max-duration=1000 languages=fr");
    mslam_model *model = mslam_model_load(fx->random, mslam_model_default_params());
    mslam_lm *lm = mslam_lm_load(tlm);
    fail_unless(model && lm, "%s", mslam_last_error());
    struct mslam_decode_params p = mslam_decode_default_params();
    p.translation_lm = lm;
    p.translation_lm_weight = 3.0f;
    guint finals = 0, changed = 0;
    for (guint i = 0; i < r->messages->len; i++) {
        const GstStructure *s = g_ptr_array_index(r->messages, i);
        guint64 start = 0;
        if (!final_with_start(s, &start)) continue;
        finals++;
        const char *text = gst_structure_get_string(s, "text");
        check_translation_of(model, s, &p);
        const char *plain_text = final_field_at(plain, start, "text");
        changed += plain_text && strcmp(text, plain_text) != 0;
    }
    fail_unless(finals > 1 && changed > 0, "the translation LM changed %u of %u translations", changed, finals);
    mslam_lm_free(lm);
    mslam_model_free(model);
    gsttest_run_free(r);
    gsttest_run_free(plain);

    /* the headline names the property and its file */
    char *named = g_strdup_printf("Cannot use translation-lm=\"%s\"", asr_lm);
    check_start_error(named, "not English translations", "model=%s translation-lm=%s", fx->random, asr_lm);
    g_free(named);
    named = g_strdup_printf("Cannot use lm=\"%s\"", tlm);
    check_start_error(named, "translation-lm", "model=%s lm=%s", fx->random, tlm);
    g_free(named);
    g_free(with_lm);
    g_free(tlm);
    g_free(asr_lm);
}
GST_END_TEST;

/* Writes at path a memory of plain's final transcripts that heard something (each under the
 * language identified on it), each translated as translation (NULL: the transcript itself).
 * Returns how many it holds. */
static guint write_memory_of_run(const gsttest_run *plain, const char *translation, const char *path) {
    GPtrArray *sources = g_ptr_array_new(), *translations = g_ptr_array_new();
    GPtrArray *langs = g_ptr_array_new_with_free_func(g_free);
    GArray *lang_of = g_array_new(FALSE, FALSE, sizeof(int32_t));
    for (guint i = 0; i < plain->messages->len; i++) {
        const GstStructure *s = g_ptr_array_index(plain->messages, i);
        guint64 start = 0;
        const char *source = gst_structure_get_string(s, "source-text");
        if (!final_with_start(s, &start) || !*source) continue; /* nothing heard: nothing to match */
        const char *lang = gst_structure_get_string(s, "source-language");
        int32_t l = 0;
        while (l < (int32_t)langs->len && strcmp(g_ptr_array_index(langs, l), lang)) l++;
        if (l == (int32_t)langs->len) g_ptr_array_add(langs, g_strdup(lang));
        g_array_append_val(lang_of, l);
        g_ptr_array_add(sources, (gpointer)source);
        g_ptr_array_add(translations, (gpointer)(translation ? translation : source));
    }
    guint n = sources->len;
    if (n > 0) {
        mslam_tm *tm = tm_new((const char *const *)sources->pdata, (const char *const *)translations->pdata,
                              (const int32_t *)lang_of->data, (const char *const *)langs->pdata, (int)langs->len,
                              (int)n);
        fail_unless(tm && tm_save(tm, path) == 0, "%s", mslam_last_error());
        mslam_tm_free(tm);
    }
    g_ptr_array_unref(sources);
    g_ptr_array_unref(translations);
    g_ptr_array_unref(langs);
    g_array_unref(lang_of);
    return n;
}

/* With input=INPUT: a memory whose sentences are the final transcripts of a run without it (each
 * under the language identified on it, its translation the transcript itself) gives every final
 * translation of a run with it that heard something, with confidence 1 (of those that run
 * translated: random weights may write nothing from a transcript, which then posts no message). */
static void check_memory_translations(const char *input, const char *path) {
    /* French named: English would be its own translation before the memory is asked; without
     * the second pass, where random weights hear something in more captions */
    char *without = g_strdup_printf("input=%s max-duration=1000 second-pass=false languages=fr", input);
    gsttest_run *plain = run(fx->random, without);
    guint n_sources = write_memory_of_run(plain, NULL, path);
    fail_unless(n_sources > 1, "%u final transcripts", n_sources);
    char *with_tm = g_strdup_printf("%s translation-memory=%s", without, path);
    gsttest_run *r = run(fx->random, with_tm);
    guint finals = 0;
    for (guint i = 0; i < r->messages->len; i++) {
        const GstStructure *s = g_ptr_array_index(r->messages, i);
        guint64 start = 0;
        if (!final_with_start(s, &start) || !*gst_structure_get_string(s, "source-text") ||
            !final_field_at(plain, start, "source-text"))
            continue;
        finals++;
        gdouble confidence = 0;
        fail_unless(gst_structure_get_double(s, "confidence", &confidence));
        fail_unless_equals_string(gst_structure_get_string(s, "text"), gst_structure_get_string(s, "source-text"));
        fail_unless(confidence > 0.999, "confidence %g", confidence);
    }
    fail_unless_equals_int(finals, n_sources);
    gsttest_run_free(r);
    gsttest_run_free(plain);
    g_free(with_tm);
    g_free(without);
}

/* A translation longer than two lines of line-length comes in pieces of max-lines whose lines are
 * balanced: a memory that translates every transcript as a 95-character sentence (3 lines at 42,
 * the last "at one ten") gives pieces of two lines each, not a last piece of one word shown for a
 * fraction of the caption's time. */
GST_START_TEST(test_balanced_pieces) {
    fx = gsttest_fixture_get();
    /* (of the test model's characters: the memory's translations must be) */
    static const char english[] = "the tan hen ate a lot then the lean hen ate alone at noon then the tall neat hen ate at one ten";
    char *without = g_strdup("input=transcript max-duration=1000 languages=fr");
    gsttest_run *plain = run(fx->random, without);
    char *path = g_strdup(gsttest_path("translate-memory-long.safetensors"));
    fail_unless(write_memory_of_run(plain, english, path) > 0);
    char *with_tm = g_strdup_printf("%s translation-memory=%s line-length=42 max-lines=2", without, path);
    gsttest_run *r = run(fx->random, with_tm);
    guint pieces = 0;
    for (guint i = 0; i < r->buffers->len; i++) {
        const gsttest_caption *c = g_ptr_array_index(r->buffers, i);
        /* a piece of the sentence (its lines joined), not a caption of the decoder's ("a") */
        gchar *joined = g_strdelimit(g_strdup(c->text), "\n", ' ');
        gboolean ours = strlen(joined) > 5 && strstr(english, joined);
        g_free(joined);
        if (!ours) continue;
        gchar **lines = g_strsplit(c->text, "\n", -1);
        guint n_lines = g_strv_length(lines);
        for (guint l = 0; l < n_lines; l++)
            fail_unless(g_utf8_strlen(lines[l], -1) <= 42, "a line of %ld characters", g_utf8_strlen(lines[l], -1));
        g_strfreev(lines);
        fail_unless(n_lines == 2, "a piece of %u lines: \"%s\"", n_lines, c->text);
        pieces++;
    }
    fail_unless(pieces >= 2 && pieces % 2 == 0, "%u pieces", pieces);
    gsttest_run_free(r);
    gsttest_run_free(plain);
    g_free(with_tm);
    g_free(without);
    g_free(path);
}
GST_END_TEST;

/* translation-memory=: the memory's translations, whether the decoder reads the transcript or
 * the speech (the memory matches the transcript either way); a model without a CTC head does not
 * start with one, and a missing file is named. */
GST_START_TEST(test_translation_memory) {
    setup_talk();
    char *path = g_strdup(gsttest_path("translate-memory.safetensors"));
    check_memory_translations("transcript", path);
    check_memory_translations("speech", path);
    check_start_error("no CTC head", NULL, "model=%s translation-memory=%s", fx->loud_noctc, path);
    char *named = g_strdup_printf("Cannot use translation-memory=\"%s.missing\"", path);
    check_start_error(named, NULL, "model=%s input=transcript translation-memory=%s.missing", fx->random, path);
    g_free(named);
    g_free(path);
}
GST_END_TEST;

/* second-pass (the default): each final translation is the offline API's (mslam_translate) on
 * the segment's audio, text, confidence and source language, or for a segment that a
 * max-duration cut opened (`continued`) on its frames encoded with the 320 ms before
 * (gsttest_offline_caption) (random weights write the same text whatever they hear, but not with
 * the same probabilities); without it some differ. Returns how many match (p: the API's
 * parameters). */
static guint count_offline_translations(const gsttest_run *r, mslam_model *model, const struct mslam_decode_params *p) {
    guint matches = 0;
    for (guint i = 0; i < r->buffers->len; i++) {
        const gsttest_caption *c = g_ptr_array_index(r->buffers, i);
        matches += gsttest_caption_is_offline(r, c, 0, talk, n_talk, model, GSTTEST_TRANSLATE, p);
    }
    return matches;
}

/* The random LID head hears English (its own translation: the transcript), and with French
 * named the decoder translates. */
GST_START_TEST(test_second_pass) {
    setup_talk();
    mslam_model *model = mslam_model_load(fx->random, mslam_model_default_params());
    fail_unless(model != NULL, "%s", mslam_last_error());
    struct mslam_decode_params french = mslam_decode_default_params();
    french.languages = "fr";
    for (int named = 0; named < 2; named++) {
        const char *language = named ? " languages=fr" : "";
        char *with = g_strdup_printf("max-duration=1000%s", language);
        char *without = g_strdup_printf("max-duration=1000 second-pass=false%s", language);
        gsttest_run *r = run(fx->random, with), *streamed = run(fx->random, without);
        const struct mslam_decode_params *p = named ? &french : NULL;
        fail_unless(r->buffers->len > 2, "%u translations", r->buffers->len);
        fail_unless_equals_int(count_offline_translations(r, model, p), r->buffers->len);
        guint continued = 0;
        for (guint i = 0; i < r->messages->len; i++) {
            gboolean final = FALSE, cut = FALSE;
            const GstStructure *m = g_ptr_array_index(r->messages, i);
            continued += gst_structure_get_boolean(m, "final", &final) && final &&
                         gst_structure_get_boolean(m, "continued", &cut) && cut;
        }
        fail_unless(continued > 0, "no translation continued another");
        fail_unless(count_offline_translations(streamed, model, p) < streamed->buffers->len);
        gsttest_run_free(r);
        gsttest_run_free(streamed);
        g_free(with);
        g_free(without);
    }
    mslam_model_free(model);
}
GST_END_TEST;

GST_START_TEST(test_no_decoder) {
    fx = gsttest_fixture_get();
    check_start_error(no_decoder, "no decoder", "model=%s", no_decoder);
}
GST_END_TEST;

static Suite *mslamtranslate_suite(void) {
    Suite *s = suite_create("mslamtranslate");
    TCase *tc = tcase_create("general");
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);
    tcase_add_test(tc, test_translations_follow_speech);
    tcase_add_test(tc, test_english_as_said);
    tcase_add_test(tc, test_source_text_stripped);
    tcase_add_test(tc, test_energy_segmentation);
    tcase_add_test(tc, test_languages_and_partials);
    tcase_add_test(tc, test_eos_drains);
    tcase_add_test(tc, test_no_repeat_ngram);
    tcase_add_test(tc, test_transcript_input);
    tcase_add_test(tc, test_auto_input);
    tcase_add_test(tc, test_transcript_lm);
    tcase_add_test(tc, test_translation_lm);
    tcase_add_test(tc, test_translation_memory);
    tcase_add_test(tc, test_balanced_pieces);
    tcase_add_test(tc, test_second_pass);
    tcase_add_test(tc, test_no_decoder);
    fx = gsttest_fixture_get();
    setup_talk();
    struct gsttest_model_opts o = {.kind = GSTTEST_MODEL_LOUDNESS, .ctc_head = 1, .lid_head = 1};
    no_decoder = g_strdup(gsttest_path("no-decoder.safetensors"));
    g_assert(gsttest_write_model(no_decoder, &o) == 0);
    return s;
}

GST_CHECK_MAIN(mslamtranslate);
