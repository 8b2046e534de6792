/* mslamlid with GSTTEST_MODEL_LOUDNESS (gsttestutil.h), whose LID head says "en" when most of the
 * window is speech and "fr" when little is: messages over the sliding window, language tags on
 * changes, the languages restriction, audio passthrough, silence, short audio, model errors; the
 * second pass against the offline API on random weights. */
#include "gsttestutil.h"

#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <math.h>
#include <mslam.h>
#include <string.h>

#define MS (GST_MSECOND)
#define SAMPLES_TIME(n) gst_util_uint64_scale((n), GST_SECOND, 16000)

static const gsttest_fixture *fx;
/* speech (3 s), silence (3 s), speech (3 s) */
static float *talk;
static size_t n_talk;

static void make_talk(void) {
    fx = gsttest_fixture_get();
    if (talk) return;
    gsttest_append(&talk, &n_talk, fx->speech[0], MIN(fx->n_speech[0], 48000));
    gsttest_append(&talk, &n_talk, NULL, 48000);
    gsttest_append(&talk, &n_talk, fx->speech[0], MIN(fx->n_speech[0], 48000));
}

/* Speech (3 s), 9 s of silence, speech again: the loudness model says "fr" on a window of 10 s
 * whose audio is mostly silence (under a fifth loud) but holds the second of voice a decision
 * needs, so that its decisions change (en, fr, en) as a stream's language may. */
#define CHANGING_WINDOW "window=10000"
static float *changing_talk;
static size_t n_changing_talk;

static void make_changing_talk(void) {
    make_talk();
    if (changing_talk) return;
    size_t n = MIN(fx->n_speech[0], 48000);
    gsttest_append(&changing_talk, &n_changing_talk, fx->speech[0], n);
    gsttest_append(&changing_talk, &n_changing_talk, NULL, 16000 * 9);
    gsttest_append(&changing_talk, &n_changing_talk, fx->speech[0], n);
}

static gsttest_run *run(const char *extra, const float *pcm, size_t n) {
    char *d = g_strdup_printf("mslamlid model=%s %s", fx->loud, extra ? extra : "");
    gsttest_run *r = gsttest_run_element(d, pcm, n, FALSE, 1600, 0);
    g_free(d);
    fail_unless(r && r->eos && !r->error);
    return r;
}

/* A harness around mslamlid with props on the loudness model, its input caps of format (F32LE or
 * S16LE) at 16 kHz mono. */
static GstHarness *lid_harness(const char *props, const char *format) {
    char *launch = g_strdup_printf("mslamlid model=%s %s", fx->loud, props);
    GstHarness *h = gst_harness_new_parse(launch);
    g_free(launch);
    char *caps = g_strdup_printf("audio/x-raw, format=%s, rate=16000, channels=1, layout=interleaved", format);
    gst_harness_set_src_caps_str(h, caps);
    g_free(caps);
    return h;
}

/* Language codes of the tag events the element sent, in order (free with g_strfreev). */
static char **tags_of(const gsttest_run *r) {
    GPtrArray *codes = g_ptr_array_new();
    for (guint i = 0; i < r->events->len; i++) {
        GstEvent *e = g_ptr_array_index(r->events, i);
        GstTagList *tags;
        gchar *code;
        if (GST_EVENT_TYPE(e) != GST_EVENT_TAG) continue;
        gst_event_parse_tag(e, &tags);
        if (gst_tag_list_get_string(tags, GST_TAG_LANGUAGE_CODE, &code)) g_ptr_array_add(codes, code);
    }
    g_ptr_array_add(codes, NULL);
    return (char **)g_ptr_array_free(codes, FALSE);
}

GST_START_TEST(test_sliding_window_and_tags) {
    make_changing_talk();
    gsttest_run *r = run(CHANGING_WINDOW " interval=200", changing_talk, n_changing_talk);
    char **codes = tags_of(r);
    char *joined = g_strjoinv(",", codes);
    fail_unless_equals_string(joined, "en,fr,en");
    g_free(joined);
    g_strfreev(codes);

    /* one message per interval with voiced audio in its window, and one at the end over the audio
     * after the last (EOS), fields well formed */
    GstClockTime prev_end = 0;
    guint n = 0;
    for (guint i = 0; i < r->messages->len; i++) {
        const GstStructure *s = g_ptr_array_index(r->messages, i);
        guint64 start, end, rt;
        gdouble conf, sum = 0, prev = 1;
        fail_unless(gst_structure_has_name(s, "mslam-lid"));
        fail_unless(gst_structure_get_uint64(s, "start", &start) && gst_structure_get_uint64(s, "end", &end));
        fail_unless(gst_structure_get_uint64(s, "running-time", &rt));
        fail_unless_equals_uint64(rt, end);
        fail_unless(end > start && end - start <= 10000 * MS, "window %" GST_TIME_FORMAT, GST_TIME_ARGS(end - start));
        gboolean last = i + 1 == r->messages->len;
        fail_unless(end > prev_end && (n == 0 || last || end - prev_end >= 200 * MS));
        fail_unless(end <= SAMPLES_TIME(n_changing_talk));
        /* the last ends with the audio (its last whole encoder frame, which reads to the end) */
        if (last) fail_unless(end + 40 * MS > SAMPLES_TIME(n_changing_talk), "the last decision ends at %" GST_TIME_FORMAT
                              " of %" GST_TIME_FORMAT, GST_TIME_ARGS(end), GST_TIME_ARGS(SAMPLES_TIME(n_changing_talk)));
        prev_end = end;
        fail_unless(gst_structure_get_double(s, "confidence", &conf));
        const GValue *langs = gst_structure_get_value(s, "languages");
        const GValue *probs = gst_structure_get_value(s, "probabilities");
        fail_unless(langs && probs && GST_VALUE_HOLDS_ARRAY(langs) && GST_VALUE_HOLDS_ARRAY(probs));
        fail_unless_equals_int(gst_value_array_get_size(langs), 3);
        fail_unless_equals_int(gst_value_array_get_size(probs), 3);
        fail_unless_equals_string(g_value_get_string(gst_value_array_get_value(langs, 0)),
                                  gst_structure_get_string(s, "language"));
        for (guint k = 0; k < 3; k++) {
            double p = g_value_get_double(gst_value_array_get_value(probs, k));
            fail_unless(p <= prev + 1e-9, "probabilities not sorted");
            prev = p;
            sum += p;
        }
        fail_unless(fabs(sum - 1.0) < 1e-4, "probabilities sum to %f", sum);
        fail_unless_equals_float(conf, g_value_get_double(gst_value_array_get_value(probs, 0)));
        n++;
    }
    /* 75 decisions in 15 s, less those before the first second of voice and those whose window
     * held less (a decision in the gap needs a second of the first speech's voice in its window) */
    fail_unless(n >= 55 && n <= 70, "%u decisions", n);
    gsttest_run_free(r);
}
GST_END_TEST;

/* A 200 ms GAP inside the speech (a dropout) is silence on the same timeline: the language is
 * not tagged again as for a new timeline (en,fr,en as without it), and the GAP goes on. */
GST_START_TEST(test_dropout_gap) {
    make_changing_talk();
    GstHarness *h = lid_harness(CHANGING_WINDOW " interval=200", "F32LE");
    size_t at = 24000, lost = 3200;
    fail_unless_equals_int(gsttest_harness_push_pcm(h, changing_talk, 0, at, 0, FALSE), GST_FLOW_OK);
    fail_unless(gst_harness_push_event(h, gst_event_new_gap(SAMPLES_TIME(at), SAMPLES_TIME(lost))));
    fail_unless_equals_int(gsttest_harness_push_pcm(h, changing_talk, at + lost, n_changing_talk, SAMPLES_TIME(at + lost), FALSE),
                           GST_FLOW_OK);
    fail_unless(gst_harness_push_event(h, gst_event_new_eos()));
    GString *codes = g_string_new(NULL);
    gboolean gap_passed = FALSE;
    for (GstEvent *e; (e = gst_harness_try_pull_event(h)); gst_event_unref(e)) {
        gap_passed |= GST_EVENT_TYPE(e) == GST_EVENT_GAP;
        gchar *code = NULL;
        GstTagList *tags;
        if (GST_EVENT_TYPE(e) != GST_EVENT_TAG) continue;
        gst_event_parse_tag(e, &tags);
        if (gst_tag_list_get_string(tags, GST_TAG_LANGUAGE_CODE, &code)) g_string_append_printf(codes, ",%s", code);
        g_free(code);
    }
    fail_unless(gap_passed, "the GAP did not go on");
    fail_unless_equals_string(codes->str, ",en,fr,en");
    g_string_free(codes, TRUE);
    gst_harness_teardown(h);
}
GST_END_TEST;

/* languages: only those are candidates (en, which wins on speech, is left out), named as the
 * model does or as a media app has them at hand: ISO 639-2 (a Matroska track's, B or T form), a
 * locale or a BCP 47 tag. */
GST_START_TEST(test_languages) {
    make_talk();
    static const char *const forms[] = {"languages=fr,de", "languages=fre,deu", "languages=fra,ger",
                                        "languages=fr_FR,DE-at"};
    for (size_t f = 0; f < G_N_ELEMENTS(forms); f++) {
        gsttest_run *r = run(forms[f], talk, n_talk);
        char **codes = tags_of(r);
        fail_unless(codes[0] && !codes[1], "%s", forms[f]);
        fail_unless_equals_string(codes[0], "fr");
        g_strfreev(codes);
        fail_unless(r->messages->len > 0, "%s", forms[f]);
        for (guint i = 0; i < r->messages->len; i++) {
            const GValue *langs = gst_structure_get_value(g_ptr_array_index(r->messages, i), "languages");
            fail_unless_equals_int(gst_value_array_get_size(langs), 2);
            for (guint k = 0; k < 2; k++) {
                const char *code = g_value_get_string(gst_value_array_get_value(langs, k));
                fail_unless(!strcmp(code, "fr") || !strcmp(code, "de"), "%s: %s", forms[f], code);
            }
        }
        gsttest_run_free(r);
    }
}
GST_END_TEST;

/* Silence: nothing to identify, no message, no tag. Audio shorter than the interval: one
 * decision at EOS. */
GST_START_TEST(test_silence_and_short) {
    fx = gsttest_fixture_get();
    float *quiet = g_new0(float, 64000);
    gsttest_run *r = run(NULL, quiet, 64000);
    fail_unless_equals_int(r->messages->len, 0);
    char **codes = tags_of(r);
    fail_unless(codes[0] == NULL);
    g_strfreev(codes);
    gsttest_run_free(r);
    g_free(quiet);

    r = run("interval=5000", fx->speech[1], MIN(fx->n_speech[1], 16000));
    fail_unless_equals_int(r->messages->len, 1);
    fail_unless_equals_string(gst_structure_get_string(g_ptr_array_index(r->messages, 0), "language"), "en");
    gsttest_run_free(r);
}
GST_END_TEST;

/* Half a second of speech between two seconds of silence, a word: too little to decide on (the
 * bundled model said Hebrew at 0.84 on "sí"); the whole sentence is decided. */
GST_START_TEST(test_word_is_not_decided) {
    fx = gsttest_fixture_get();
    for (int whole = 0; whole < 2; whole++) {
        float *pcm = NULL;
        size_t n = 0, said = whole ? fx->n_speech[0] - 4000 : 8000;
        fail_unless(fx->n_speech[0] >= 4000 + 24000, "the sentence is %zu samples", fx->n_speech[0]);
        gsttest_append(&pcm, &n, NULL, 32000);
        gsttest_append(&pcm, &n, fx->speech[0] + 4000, said);
        gsttest_append(&pcm, &n, NULL, 32000);
        gsttest_run *r = run(NULL, pcm, n);
        if (whole) fail_unless(r->messages->len > 0, "no decision on a sentence");
        else fail_unless_equals_int(r->messages->len, 0);
        gsttest_run_free(r);
        g_free(pcm);
    }
}
GST_END_TEST;

/* Steady noise, from the stream's start or after a silence, is no voice to decide on, also
 * before the energy rule has learnt it as the noise floor (white noise had been decided at 1, 2
 * and 3 s: Hebrew at 0.86 with the bundled model; after 10 s of silence at 0.92); the talk
 * spoken over the same noise from the start is. */
GST_START_TEST(test_noise_is_not_decided) {
    make_talk();
    size_t n = 16000 * 5, silence = 16000 * 4;
    float *noise = g_new0(float, silence + n);
    guint32 x = 3;
    gsttest_add_white_noise(noise + silence, n, 0.0173f, &x); /* about -40 dBFS */
    gsttest_run *r = run(NULL, noise + silence, n);
    fail_unless_equals_int(r->messages->len, 0);
    gsttest_run_free(r);
    r = run(NULL, noise, silence + n);
    fail_unless_equals_int(r->messages->len, 0);
    gsttest_run_free(r);
    /* nor rumble (noise low-passed at 100 Hz), whose 10-ms energies vary as a voice's: the energy
     * rule hears it in bursts, from the start and after the silence */
    memset(noise, 0, (silence + n) * sizeof *noise);
    gsttest_add_rumble(noise + silence, n, 0.02f, &x); /* -34 dBFS */
    r = run(NULL, noise + silence, n);
    fail_unless_equals_int(r->messages->len, 0);
    gsttest_run_free(r);
    r = run(NULL, noise, silence + n);
    fail_unless_equals_int(r->messages->len, 0);
    gsttest_run_free(r);
    g_free(noise);
    float *noisy_talk = g_memdup2(talk, n_talk * sizeof *talk);
    gsttest_add_white_noise(noisy_talk, n_talk, 0.0173f, &x);
    r = run(NULL, noisy_talk, n_talk);
    fail_unless(r->messages->len > 0, "no decision on the talk in noise");
    gsttest_run_free(r);
    g_free(noisy_talk);
}
GST_END_TEST;

/* A decision needs voiced audio inside its window (a second of it): 2.15 s of silence, then speech. The element
 * has heard the speech's start (the audio runs ahead of the encoder's frames) when it would decide
 * on the window that ends at 2 s, but that window is silent: the first decision's window holds
 * speech, and the first tag is the speech's language ("fr" is what the model says on silence). */
GST_START_TEST(test_window_needs_voice) {
    fx = gsttest_fixture_get();
    float *pcm = NULL;
    size_t n = 0;
    gsttest_append(&pcm, &n, NULL, 34400);
    GstClockTime speech_start = SAMPLES_TIME(n);
    gsttest_append(&pcm, &n, fx->speech[0], fx->n_speech[0]);
    gsttest_append(&pcm, &n, NULL, 8000);
    gsttest_run *r = run("window=2000 interval=1000", pcm, n);
    fail_unless(r->messages->len > 0);
    for (guint i = 0; i < r->messages->len; i++) {
        guint64 end = 0;
        fail_unless(gst_structure_get_uint64(g_ptr_array_index(r->messages, i), "end", &end));
        fail_unless(end > speech_start, "a decision on %" GST_TIME_FORMAT ", before the speech at %" GST_TIME_FORMAT,
                    GST_TIME_ARGS(end), GST_TIME_ARGS(speech_start));
    }
    char **codes = tags_of(r);
    fail_unless(codes[0] != NULL);
    fail_unless_equals_string(codes[0], "en");
    g_strfreev(codes);
    gsttest_run_free(r);
    /* a click (40 ms, as a codec's pre-echo before the speech) in the silence is no voice to
     * decide on: the decisions still wait for the speech */
    for (size_t i = 20000; i < 20640; i++) pcm[i] = 0.3f * sinf(0.3f * (float)i);
    r = run("window=2000 interval=1000", pcm, n);
    fail_unless(r->messages->len > 0);
    for (guint i = 0; i < r->messages->len; i++) {
        guint64 end = 0;
        fail_unless(gst_structure_get_uint64(g_ptr_array_index(r->messages, i), "end", &end));
        fail_unless(end > speech_start, "a decision on a click, the window ending at %" GST_TIME_FORMAT,
                    GST_TIME_ARGS(end));
    }
    gsttest_run_free(r);
    g_free(pcm);
}
GST_END_TEST;

typedef struct {
    GString *order; /* "T": a language tag, "B": an audio buffer, as they left the element */
} order_ctx;

static GstPadProbeReturn record_order(GstPad *pad, GstPadProbeInfo *info, gpointer user_data) {
    order_ctx *ctx = user_data;
    (void)pad;
    if (info->type & GST_PAD_PROBE_TYPE_BUFFER) {
        g_string_append_c(ctx->order, 'B');
    } else if (GST_EVENT_TYPE(GST_PAD_PROBE_INFO_EVENT(info)) == GST_EVENT_TAG) {
        GstTagList *tags;
        gchar *code = NULL;
        gst_event_parse_tag(GST_PAD_PROBE_INFO_EVENT(info), &tags);
        if (gst_tag_list_get_string(tags, GST_TAG_LANGUAGE_CODE, &code)) g_string_append_c(ctx->order, 'T');
        g_free(code);
    }
    return GST_PAD_PROBE_OK;
}

/* A harness around mslamlid with props (the loudness model) whose src pad records what leaves it
 * into ctx, in order, with F32 caps set. */
static GstHarness *recording_harness(const char *props, order_ctx *ctx) {
    char *launch = g_strdup_printf("mslamlid model=%s %s", fx->loud, props);
    GstHarness *h = gst_harness_new_parse(launch);
    g_free(launch);
    GstPad *src = gst_element_get_static_pad(h->element, "src");
    gst_pad_add_probe(src, GST_PAD_PROBE_TYPE_BUFFER | GST_PAD_PROBE_TYPE_EVENT_DOWNSTREAM, record_order, ctx, NULL);
    gst_object_unref(src);
    gst_harness_set_src_caps_str(h, "audio/x-raw, format=F32LE, rate=16000, channels=1, layout=interleaved");
    return h;
}

/* Pushes pcm into a harness around mslamlid with props, 100 ms buffers; returns what left it, in
 * order (see order_ctx); *before_eos: how many buffers had left before EOS. */
static char *pass_through(const char *props, const float *pcm, size_t n, guint *before_eos) {
    order_ctx ctx = {g_string_new(NULL)};
    GstHarness *h = recording_harness(props, &ctx);
    guint pushed = (guint)((n + 1599) / 1600);
    fail_unless_equals_int(gsttest_harness_push_pcm(h, pcm, 0, n, 0, FALSE), GST_FLOW_OK);
    *before_eos = gst_harness_buffers_received(h);
    fail_unless(gst_harness_push_event(h, gst_event_new_eos()));
    fail_unless_equals_int(gst_harness_buffers_received(h), pushed);
    gst_harness_teardown(h);
    return g_string_free(ctx.order, FALSE);
}

/* The language codes of the tag events h's sink got (taken from it), each followed by a space
 * (g_free it; "" when none). */
static char *harness_language_codes(GstHarness *h) {
    GString *codes = g_string_new(NULL);
    for (GstEvent *e; (e = gst_harness_try_pull_event(h)); gst_event_unref(e)) {
        GstTagList *tags;
        gchar *code;
        if (GST_EVENT_TYPE(e) != GST_EVENT_TAG) continue;
        gst_event_parse_tag(e, &tags);
        if (gst_tag_list_get_string(tags, GST_TAG_LANGUAGE_CODE, &code)) g_string_append_printf(codes, "%s ", code);
        g_free(code);
    }
    return g_string_free(codes, FALSE);
}

/* Whether a language tag is among the events h's sink got (taken from it). */
static gboolean harness_got_language_tag(GstHarness *h) {
    char *codes = harness_language_codes(h);
    gboolean tagged = *codes != '\0';
    g_free(codes);
    return tagged;
}

/* hold-audio: the audio waits for the first decision, so that its tag goes out ahead of all of
 * it (a muxer writes a track's language only from a tag before its first buffer); no longer than
 * hold-audio, though, which the LATENCY query adds; without it the audio goes on at once and the
 * tag comes later. */
GST_START_TEST(test_hold_audio) {
    make_talk();
    guint before_eos;
    char *order = pass_through("hold-audio=5000", talk, 48000, &before_eos);
    fail_unless(order[0] == 'T' && strchr(order, 'B'), "%s", order);
    fail_unless(before_eos > 0, "the audio waited for EOS");
    g_free(order);

    order = pass_through("", talk, 48000, &before_eos);
    fail_unless(order[0] == 'B' && strchr(order, 'T'), "%s", order);
    g_free(order);

    /* no decision as sure as tag-confidence: the audio waits for the end, which tags the best
     * guess ahead of all of it (a tag of the first, unsure decision would have gone first) */
    order = pass_through("hold-audio=20000 tag-confidence=1", talk, 48000, &before_eos);
    fail_unless(order[0] == 'T' && !strchr(order + 1, 'T') && strchr(order, 'B'), "%s", order);
    fail_unless(before_eos == 0, "%u buffers out before the end", before_eos);
    g_free(order);

    /* a long GAP (silence ahead) ends the wait: the best guess tagged, the audio out */
    GstHarness *h = lid_harness("hold-audio=20000 tag-confidence=1", "F32LE");
    fail_unless_equals_int(gsttest_harness_push_pcm(h, talk, 0, 48000, 0, FALSE), GST_FLOW_OK);
    fail_unless_equals_int(gst_harness_buffers_received(h), 0);
    fail_unless(gst_harness_push_event(h, gst_event_new_gap(SAMPLES_TIME(48000), 30 * GST_SECOND)));
    fail_unless_equals_int(gst_harness_buffers_received(h), 30);
    fail_unless(harness_got_language_tag(h), "no language tag at the gap");
    gst_harness_teardown(h);

    /* a live source that stops (no GAP comes): at stall-timeout after its last buffer, the same */
    h = lid_harness("hold-audio=20000 tag-confidence=1", "F32LE");
    gst_harness_set_live(h, TRUE);
    gst_harness_use_testclock(h);
    gst_harness_play(h);
    fail_unless_equals_int(gsttest_harness_push_pcm(h, talk, 0, 48000, 0, FALSE), GST_FLOW_OK);
    fail_unless_equals_int(gst_harness_buffers_received(h), 0);
    GstTestClock *clock = gst_harness_get_testclock(h);
    fail_unless(gst_test_clock_crank(clock));
    for (int i = 0; i < 30; i++) { /* the watch thread pushes them */
        GstBuffer *b = gst_harness_pull(h);
        fail_unless(b != NULL, "buffer %d did not come when the live source stopped", i);
        gst_buffer_unref(b);
    }
    fail_unless(harness_got_language_tag(h), "no language tag when the live source stopped");
    gst_object_unref(clock);
    gst_harness_teardown(h);

    /* a discontinuity (the audio goes on) is no end: the audio still waits for a sure decision */
    h = lid_harness("hold-audio=20000 tag-confidence=1", "F32LE");
    fail_unless_equals_int(gsttest_harness_push_pcm(h, talk, 0, 24000, 0, FALSE), GST_FLOW_OK);
    fail_unless_equals_int(gsttest_harness_push_pcm(h, talk, 24000, 48000, 5 * GST_SECOND, FALSE), GST_FLOW_OK);
    fail_unless_equals_int(gst_harness_buffers_received(h), 0);
    fail_unless(gst_harness_push_event(h, gst_event_new_eos()));
    fail_unless_equals_int(gst_harness_buffers_received(h), 30);
    gst_harness_teardown(h);

    /* the LATENCY query adds what may be held, and nothing without hold-audio */
    const char *props[2] = {"hold-audio=1500", ""};
    const GstClockTime held[2] = {1500 * MS, 0};
    for (int i = 0; i < 2; i++) {
        h = lid_harness(props[i], "F32LE");
        gst_harness_set_upstream_latency(h, 10 * MS);
        gst_harness_play(h);
        fail_unless_equals_uint64(gst_harness_query_latency(h), 10 * MS + held[i]);
        /* hold-audio set while it runs changes nothing until it starts again (the property is
         * the element's, inside the harness's bin) */
        GstElement *lid = gst_harness_find_element(h, "mslamlid");
        fail_unless(lid != NULL);
        g_object_set(lid, "hold-audio", 3000, NULL);
        fail_unless_equals_uint64(gst_harness_query_latency(h), 10 * MS + held[i]);
        fail_unless_equals_int(gst_element_set_state(h->element, GST_STATE_READY), GST_STATE_CHANGE_SUCCESS);
        gst_harness_play(h);
        fail_unless_equals_uint64(gst_harness_query_latency(h), 10 * MS + 3000 * MS);
        gst_object_unref(lid);
        gst_harness_teardown(h);
    }

    /* silence: no decision, the audio goes on once 500 ms of it waited, tagged "und" ahead of it
     * (undetermined: with no tag a muxer writes no language, which Matroska's readers take for
     * English); a language upstream's tags name stays */
    float *quiet = g_new0(float, 32000);
    order = pass_through("hold-audio=500", quiet, 32000, &before_eos);
    fail_unless(order[0] == 'T' && !strchr(order + 1, 'T'), "%s", order);
    fail_unless(before_eos >= 14, "%u of 20 buffers out before EOS", before_eos);
    g_free(order);
    /* the end before the hold's: "und" ahead of the audio all the same (it went untagged) */
    order = pass_through("hold-audio=5000", quiet, 16000, &before_eos);
    fail_unless(before_eos == 0 && order[0] == 'T' && !strchr(order + 1, 'T'), "%u out before EOS, then %s",
                before_eos, order);
    g_free(order);
    for (int upstream = 0; upstream < 2; upstream++) {
        h = lid_harness("hold-audio=500", "F32LE");
        gst_harness_play(h);
        if (upstream) {
            GstTagList *tags = gst_tag_list_new(GST_TAG_LANGUAGE_CODE, "fr", NULL);
            gst_tag_list_set_scope(tags, GST_TAG_SCOPE_STREAM);
            fail_unless(gst_harness_push_event(h, gst_event_new_tag(tags)));
        }
        fail_unless_equals_int(gsttest_harness_push_pcm(h, quiet, 0, 32000, 0, FALSE), GST_FLOW_OK);
        fail_unless(gst_harness_buffers_received(h) >= 14);
        char *codes = harness_language_codes(h);
        fail_unless_equals_string(codes, upstream ? "fr " : "und ");
        g_free(codes);
        gst_harness_teardown(h);
    }
    g_free(quiet);
}
GST_END_TEST;

/* Upstream's tags name the language only after hold-audio ran out (a demuxer or an application
 * tagging the stream a little later): the tag that goes downstream keeps upstream's language, as
 * one before the hold's end does; "und" stands for no language known, not for one overridden. */
GST_START_TEST(test_und_keeps_later_upstream_language) {
    float *quiet = g_new0(float, 32000);
    GstHarness *h = lid_harness("hold-audio=500", "F32LE");
    gst_harness_play(h);
    fail_unless_equals_int(gsttest_harness_push_pcm(h, quiet, 0, 16000, 0, FALSE), GST_FLOW_OK);
    char *codes = harness_language_codes(h);
    fail_unless_equals_string(codes, "und ");
    g_free(codes);
    GstTagList *tags = gst_tag_list_new(GST_TAG_LANGUAGE_CODE, "fr", NULL);
    gst_tag_list_set_scope(tags, GST_TAG_SCOPE_STREAM);
    fail_unless(gst_harness_push_event(h, gst_event_new_tag(tags)));
    fail_unless_equals_int(gsttest_harness_push_pcm(h, quiet, 16000, 32000, SAMPLES_TIME(16000), FALSE), GST_FLOW_OK);
    codes = harness_language_codes(h);
    fail_unless_equals_string(codes, "fr ");
    g_free(codes);
    gst_harness_teardown(h);
    g_free(quiet);
}
GST_END_TEST;

/* A stream decided, then a long GAP (a new timeline, held again), then too little to decide on
 * before the end: the language stays, not "und" over it (nor "und" twice after an expired
 * hold). */
GST_START_TEST(test_end_keeps_decided_language) {
    fx = gsttest_fixture_get();
    size_t said = MIN(fx->n_speech[0], 48000);
    float *quiet = g_new0(float, 8000);
    for (int new_segment = 0; new_segment < 2; new_segment++) {
        GstHarness *h = lid_harness("hold-audio=5000", "F32LE");
        fail_unless_equals_int(gsttest_harness_push_pcm(h, fx->speech[0], 0, said, 0, FALSE), GST_FLOW_OK);
        GstClockTime after = SAMPLES_TIME(said) + 5 * GST_SECOND;
        if (new_segment) {
            GstSegment segment;
            gst_segment_init(&segment, GST_FORMAT_TIME);
            segment.start = segment.time = segment.position = after;
            fail_unless(gst_harness_push_event(h, gst_event_new_segment(&segment)));
        } else {
            fail_unless(gst_harness_push_event(h, gst_event_new_gap(SAMPLES_TIME(said), 5 * GST_SECOND)));
        }
        fail_unless_equals_int(gsttest_harness_push_pcm(h, quiet, 0, 8000, after, FALSE), GST_FLOW_OK);
        fail_unless(gst_harness_push_event(h, gst_event_new_eos()));
        char *codes = harness_language_codes(h);
        fail_unless_equals_string(codes, "en ");
        g_free(codes);
        gst_harness_teardown(h);
    }
    g_free(quiet);
}
GST_END_TEST;

/* hold-audio counts the audio held by the samples its buffers complete: S16 cut every 333 bytes
 * (an application pushing a socket's reads) is 166.5 samples a buffer, and counting each
 * buffer's whole samples alone (166) held the audio longer than hold-audio, a buffer more here,
 * one in 333 over a long hold. Silence: no decision ends the hold. */
GST_START_TEST(test_hold_audio_of_pieces) {
    fx = gsttest_fixture_get();
    GstHarness *h = lid_harness("hold-audio=5000", "S16LE");
    static const guint8 quiet[333];
    /* 5 s are 160000 bytes: 480 pieces are 159840, 481 are 160173 */
    for (int i = 0; i < 481; i++) {
        GstBuffer *piece = gst_buffer_new_memdup(quiet, sizeof quiet);
        GST_BUFFER_PTS(piece) = SAMPLES_TIME(i * 333 / 2);
        fail_unless_equals_int(gst_harness_push(h, piece), GST_FLOW_OK);
        fail_unless_equals_int(gst_harness_buffers_received(h), i < 480 ? 0 : 481);
    }
    gst_harness_teardown(h);
}
GST_END_TEST;

/* Pushes pcm[from, to) as format (F32LE or S16LE) in 100 ms buffers, timed from 0. */
static void push_as(GstHarness *h, const char *format, const float *pcm, size_t from, size_t to) {
    fail_unless_equals_int(gsttest_harness_push_pcm(h, pcm, from, to, 0, strcmp(format, "S16LE") == 0), GST_FLOW_OK);
}

static void flush_and_segment(GstHarness *h) {
    GstSegment seg;
    gst_segment_init(&seg, GST_FORMAT_TIME);
    fail_unless(gst_harness_push_event(h, gst_event_new_flush_start()));
    fail_unless(gst_harness_push_event(h, gst_event_new_flush_stop(TRUE)));
    fail_unless(gst_harness_push_event(h, gst_event_new_segment(&seg)));
}

static gboolean src_caps_are(GstHarness *h, const char *format) {
    GstPad *src = gst_element_get_static_pad(h->element, "src");
    GstCaps *caps = gst_pad_get_current_caps(src);
    gboolean same = caps && g_strcmp0(gst_structure_get_string(gst_caps_get_structure(caps, 0), "format"), format) == 0;
    if (caps) gst_caps_unref(caps);
    gst_object_unref(src);
    return same;
}

/* A flush while the audio is held (a flushing seek): the held audio goes, but caps that came
 * with it stay (upstream does not send them again), and the hold is armed again for the next
 * timeline, whose tag goes ahead of its audio as the first one did; also after a hold that a
 * decision ended. A serialized query (DRAIN) lets the held audio go ahead of it. */
GST_START_TEST(test_hold_after_flush) {
    make_talk();
    order_ctx ctx = {g_string_new(NULL)};
    GstHarness *h = recording_harness("hold-audio=5000", &ctx);

    /* speech: the decision ends the hold */
    push_as(h, "F32LE", talk, 0, 48000);
    fail_unless(ctx.order->str[0] == 'T' && gst_harness_buffers_received(h) > 0, "%s", ctx.order->str);
    flush_and_segment(h);
    guint out = gst_harness_buffers_received(h);

    /* held again: silence, new caps, more silence, then a flush */
    float *quiet = g_new0(float, 8000);
    push_as(h, "F32LE", quiet, 0, 4800);
    gst_harness_set_src_caps_str(h, "audio/x-raw, format=S16LE, rate=16000, channels=1, layout=interleaved");
    push_as(h, "S16LE", quiet, 4800, 8000);
    fail_unless_equals_int(gst_harness_buffers_received(h), out);
    fail_unless(src_caps_are(h, "F32LE"));
    flush_and_segment(h);
    fail_unless_equals_int(gst_harness_buffers_received(h), out);

    /* the S16LE caps outlived the flush; speech after it is held until its tag */
    g_string_truncate(ctx.order, 0);
    push_as(h, "S16LE", quiet, 0, 8000);
    fail_unless_equals_int(gst_harness_buffers_received(h), out);
    fail_unless(src_caps_are(h, "S16LE"), "the caps held at the flush are lost");
    push_as(h, "S16LE", talk, 0, 48000);
    fail_unless(gst_harness_buffers_received(h) > out, "no decision on the speech");
    const char *first_b = strchr(ctx.order->str, 'B');
    fail_unless(first_b && memchr(ctx.order->str, 'T', (size_t)(first_b - ctx.order->str)),
                "the tag after the flush does not precede the audio: %s", ctx.order->str);

    /* held audio goes ahead of a DRAIN query */
    flush_and_segment(h);
    out = gst_harness_buffers_received(h);
    push_as(h, "S16LE", quiet, 0, 8000);
    fail_unless_equals_int(gst_harness_buffers_received(h), out);
    GstQuery *drain = gst_query_new_drain();
    gst_pad_peer_query(h->srcpad, drain);
    gst_query_unref(drain);
    fail_unless_equals_int(gst_harness_buffers_received(h), out + 5);

    g_free(quiet);
    g_string_free(ctx.order, TRUE);
    gst_harness_teardown(h);
}
GST_END_TEST;

/* The audio goes through untouched, tags ahead of it. */
GST_START_TEST(test_passthrough) {
    make_talk();
    GstHarness *h = lid_harness("interval=200", "S16LE");
    GstTagList *codec = gst_tag_list_new(GST_TAG_AUDIO_CODEC, "Uncompressed 16-bit PCM audio", NULL);
    gst_tag_list_set_scope(codec, GST_TAG_SCOPE_STREAM);
    fail_unless(gst_harness_push_event(h, gst_event_new_tag(codec)));
    guint pushed = 0;
    for (size_t off = 0; off + 1600 <= 32000; off += 1600, pushed++) {
        GstBuffer *b = gst_buffer_new_allocate(NULL, 3200, NULL);
        GstMapInfo map;
        gst_buffer_map(b, &map, GST_MAP_WRITE);
        for (int i = 0; i < 1600; i++) ((gint16 *)map.data)[i] = (gint16)(talk[off + i] * 20000);
        gst_buffer_unmap(b, &map);
        GST_BUFFER_PTS(b) = SAMPLES_TIME(off);
        GST_BUFFER_DURATION(b) = 100 * MS;
        GstBuffer *copy = gst_buffer_copy_deep(b);
        fail_unless_equals_int(gst_harness_push(h, b), GST_FLOW_OK);
        GstBuffer *out = gst_harness_pull(h);
        GstMapInfo a, c;
        gst_buffer_map(out, &a, GST_MAP_READ);
        gst_buffer_map(copy, &c, GST_MAP_READ);
        fail_unless(a.size == c.size && memcmp(a.data, c.data, a.size) == 0, "buffer %u changed", pushed);
        gst_buffer_unmap(out, &a);
        gst_buffer_unmap(copy, &c);
        fail_unless_equals_uint64(GST_BUFFER_PTS(out), GST_BUFFER_PTS(copy));
        gst_buffer_unref(out);
        gst_buffer_unref(copy);
    }
    /* a later stream tag from upstream (a parser's new bitrate) keeps the language decided */
    GstTagList *later = gst_tag_list_new(GST_TAG_AUDIO_CODEC, "Uncompressed 16-bit PCM audio", GST_TAG_BITRATE,
                                         256000, NULL);
    gst_tag_list_set_scope(later, GST_TAG_SCOPE_STREAM);
    fail_unless(gst_harness_push_event(h, gst_event_new_tag(later)));
    /* caps as they came in; a language tag among the events */
    GstCaps *caps = gst_pad_get_current_caps(h->sinkpad);
    GstCaps *in = gst_caps_from_string("audio/x-raw, format=S16LE, rate=16000, channels=1, layout=interleaved");
    fail_unless(caps && gst_caps_is_equal(caps, in));
    gst_caps_unref(caps);
    gst_caps_unref(in);
    GstEvent *e;
    gboolean tagged = FALSE, last_has_language = FALSE;
    while ((e = gst_harness_try_pull_event(h))) {
        if (GST_EVENT_TYPE(e) == GST_EVENT_TAG) {
            GstTagList *tags;
            gchar *code = NULL;
            gst_event_parse_tag(e, &tags);
            last_has_language = gst_tag_list_get_tag_size(tags, GST_TAG_LANGUAGE_CODE) > 0;
            /* the stream's tags from upstream stay in the tag that adds the language */
            if (gst_tag_list_get_string(tags, GST_TAG_LANGUAGE_CODE, &code)) {
                gchar *audio_codec = NULL;
                fail_unless(gst_tag_list_get_string(tags, GST_TAG_AUDIO_CODEC, &audio_codec),
                            "the language tag dropped the stream's codec");
                g_free(audio_codec);
            }
            tagged |= code && !strcmp(code, "en");
            g_free(code);
        }
        gst_event_unref(e);
    }
    fail_unless(tagged);
    fail_unless(last_has_language, "the later stream tag took the language away");
    gst_harness_teardown(h);
}
GST_END_TEST;

GST_START_TEST(test_no_lid_head) {
    fx = gsttest_fixture_get();
    struct gsttest_model_opts o = {.kind = GSTTEST_MODEL_LOUDNESS, .ctc_head = 1};
    char *path = g_strdup(gsttest_path("no-lid.safetensors"));
    fail_unless(gsttest_write_model(path, &o) == 0);
    char *d = g_strdup_printf("mslamlid model=%s", path);
    char *message = gsttest_start_error(d);
    fail_unless(message && strstr(message, path) && strstr(message, "no LID head"), "%s", message);
    g_free(message);
    g_free(d);
    g_free(path);
}
GST_END_TEST;

/* lm=: an LM that scores every language alike changes no decision, one that favours German turns
 * every decision to German; a bad file is an error. */
GST_START_TEST(test_lm) {
    make_talk();
    /* the test languages are en, fr, de */
    const float favour_de[3] = {-20.0f, -20.0f, -1.0f};
    char *lm = g_strdup(gsttest_path("lid-uniform-lm.safetensors")), *de = g_strdup(gsttest_path("lid-de-lm.safetensors"));
    fail_unless(gsttest_write_uniform_lm(lm, NULL) == 0 && gsttest_write_uniform_lm(de, favour_de) == 0);
    gsttest_run *plain = run("languages=fr,de", talk, n_talk);
    char *props = g_strdup_printf("languages=fr,de lm=%s lm-weight=2", lm);
    gsttest_run *with_lm = run(props, talk, n_talk);
    g_free(props);
    props = g_strdup_printf("languages=fr,de lm=%s lm-weight=2", de);
    gsttest_run *with_de = run(props, talk, n_talk);
    g_free(props);
    fail_unless(plain->messages->len > 0 && plain->messages->len == with_lm->messages->len &&
                plain->messages->len == with_de->messages->len);
    for (guint i = 0; i < plain->messages->len; i++) {
        const char *was = gst_structure_get_string(g_ptr_array_index(plain->messages, i), "language");
        fail_unless_equals_string(gst_structure_get_string(g_ptr_array_index(with_lm->messages, i), "language"), was);
        fail_unless_equals_string(gst_structure_get_string(g_ptr_array_index(with_de->messages, i), "language"), "de");
    }
    fail_unless_equals_string(gst_structure_get_string(g_ptr_array_index(plain->messages, 0), "language"), "fr");
    gsttest_run_free(plain);
    gsttest_run_free(with_lm);
    gsttest_run_free(with_de);
    char *d = g_strdup_printf("mslamlid model=%s lm=/nonexistent/lm.safetensors", fx->loud);
    char *message = gsttest_start_error(d);
    fail_unless(message && strstr(message, "lm=\"/nonexistent/lm.safetensors\"") && !strstr(message, "mslam model"), "%s",
                message);
    g_free(message);
    g_free(d);
    g_free(lm);
    g_free(de);
}
GST_END_TEST;

/* second-pass (the default): each decision is the offline API's (mslam_identify_language on the
 * window's audio), language and probability; with
 * second-pass=false, on random weights, some differ. Returns how many of r's decisions match. */
static guint count_offline_decisions(const gsttest_run *r, mslam_model *model, guint *n_decisions) {
    struct mslam_decode_params p = mslam_decode_default_params();
    int n_langs = mslam_model_get_config(model).n_langs;
    float *probs = g_new(float, n_langs);
    guint matches = 0;
    *n_decisions = 0;
    for (guint i = 0; i < r->messages->len; i++) {
        const GstStructure *m = g_ptr_array_index(r->messages, i);
        guint64 start = 0, end = 0;
        double confidence = -1;
        if (!gst_structure_has_name(m, "mslam-lid")) continue;
        fail_unless(gst_structure_get_uint64(m, "start", &start) && gst_structure_get_uint64(m, "end", &end));
        fail_unless(gst_structure_get_double(m, "confidence", &confidence));
        size_t from, until;
        gsttest_frames_samples(0, start, end, n_talk, &from, &until);
        int lang = mslam_identify_language(model, talk + from, until - from, &p, probs);
        fail_unless(lang >= 0, "%s", mslam_last_error());
        matches += strcmp(gst_structure_get_string(m, "language"), mslam_model_lang(model, lang)) == 0 &&
                   fabs(confidence - probs[lang]) < 1e-4;
        (*n_decisions)++;
    }
    g_free(probs);
    return matches;
}

GST_START_TEST(test_second_pass) {
    make_talk();
    mslam_model *model = mslam_model_load(fx->random, mslam_model_default_params());
    fail_unless(model != NULL, "%s", mslam_last_error());
    const char *props[2] = {"", "second-pass=false"};
    guint matches[2], decisions[2];
    for (int i = 0; i < 2; i++) {
        char *d = g_strdup_printf("mslamlid model=%s window=1000 interval=500 %s", fx->random, props[i]);
        gsttest_run *r = gsttest_run_element(d, talk, n_talk, FALSE, 1600, 0);
        g_free(d);
        fail_unless(r && r->eos && !r->error);
        matches[i] = count_offline_decisions(r, model, &decisions[i]);
        gsttest_run_free(r);
    }
    fail_unless(decisions[0] > 5, "%u decisions", decisions[0]);
    fail_unless_equals_int(matches[0], decisions[0]);
    fail_unless(matches[1] < decisions[1], "without the second pass, all %u decisions are offline's", decisions[1]);
    mslam_model_free(model);
}
GST_END_TEST;

static Suite *mslamlid_suite(void) {
    Suite *s = suite_create("mslamlid");
    TCase *tc = tcase_create("general");
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);
    tcase_add_test(tc, test_sliding_window_and_tags);
    tcase_add_test(tc, test_languages);
    tcase_add_test(tc, test_silence_and_short);
    tcase_add_test(tc, test_word_is_not_decided);
    tcase_add_test(tc, test_noise_is_not_decided);
    tcase_add_test(tc, test_window_needs_voice);
    tcase_add_test(tc, test_hold_audio);
    tcase_add_test(tc, test_end_keeps_decided_language);
    tcase_add_test(tc, test_und_keeps_later_upstream_language);
    tcase_add_test(tc, test_hold_audio_of_pieces);
    tcase_add_test(tc, test_hold_after_flush);
    tcase_add_test(tc, test_passthrough);
    tcase_add_test(tc, test_dropout_gap);
    tcase_add_test(tc, test_no_lid_head);
    tcase_add_test(tc, test_lm);
    tcase_add_test(tc, test_second_pass);
    make_talk();
    return s;
}

GST_CHECK_MAIN(mslamlid);
