/* Random streams into the three elements (suite fuzz), through GstHarness: mslamasr,
 * mslamtranslate (input speech, transcript, auto) and mslamlid, on a model with random weights
 * and on the loudness model of the element tests, with properties drawn from their ranges
 * (latency, pause, max-duration, partial-results, second-pass, beam-size, languages, interval,
 * window), F32 or S16 caps. Each run pushes 30 random steps: buffers of 0 to 7000 samples (S16
 * ones of an odd number of bytes too) of noise, silence, speech-like tones or, in F32, NaN,
 * infinities and samples far beyond full scale; timestamps that continue, jump ahead or back, are
 * missing or lie near the end of time; DISCONT flags; GAP events of any time and duration; new
 * segments (any start, with a stop); FLUSH pairs; then EOS (and, apart, a segment in bytes, which
 * each element must refuse with an element error). The elements must neither crash nor stop the
 * stream for it (every push answers OK: bad audio is a warning, not an error), and every text
 * buffer they send holds UTF-8 with a timestamp.
 *   MSLAM_FUZZ_SCALE=K   K x 60 runs per element (default 1)
 *   MSLAM_FUZZ_SEED=S    the draws' random seed (default 1) */
#include "fuzz.h"
#include "gsttestutil.h"
#include "testutil.h"

#include <gst/check/gstharness.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SAMPLE_NS(n) gst_util_uint64_scale_int((n), GST_SECOND, 16000)

typedef struct {
    const char *launch; /* the element's description */
    int is_s16;
    int sends_text; /* asr, translate; mslamlid passes the audio through */
    long outputs, pushes;
} fuzz_run;

/* Drains the harness's output and checks each buffer. */
static void pull_all(GstHarness *h, fuzz_run *run) {
    GstBuffer *b;
    while ((b = gst_harness_try_pull(h))) {
        run->outputs++;
        if (run->sends_text) {
            GstMapInfo map;
            if (gst_buffer_map(b, &map, GST_MAP_READ)) {
                CHECK(g_utf8_validate((const char *)map.data, (gssize)map.size, NULL), "%s: a text buffer is not UTF-8",
                       run->launch);
                gst_buffer_unmap(b, &map);
            }
            CHECK(GST_BUFFER_PTS_IS_VALID(b), "%s: a text buffer without a timestamp", run->launch);
        }
        gst_buffer_unref(b);
    }
    GstEvent *e;
    while ((e = gst_harness_try_pull_event(h))) gst_event_unref(e);
}

static GstBuffer *draw_buffer(fuzz_run *run, GstClockTime *next_pts, mslam_rng *rng) {
    static const guint sizes[] = {0, 1, 3, 160, 639, 640, 1600, 4000, 7000};
    guint n = PICK(rng, sizes);
    gsize bytes = run->is_s16 ? 2 * (gsize)n + (draw(rng, 8) == 0) : 4 * (gsize)n;
    GstBuffer *b = gst_buffer_new_allocate(NULL, bytes, NULL);
    GstMapInfo map;
    gst_buffer_map(b, &map, GST_MAP_WRITE);
    uint32_t kind = draw(rng, 5);
    for (guint i = 0; i < n; i++) {
        float x = kind == 0   ? 0.0f
                  : kind == 1 ? 0.5f * sinf(0.05f * (float)i) * sinf(0.0004f * (float)(*next_pts / SAMPLE_NS(1) + i))
                              : (mslam_rng_uniform(rng) * 2 - 1) * (kind == 2 ? 0.01f : 0.8f);
        if (run->is_s16) ((gint16 *)map.data)[i] = (gint16)(x * 32767);
        else ((float *)map.data)[i] = x;
    }
    if (!run->is_s16 && n && draw(rng, 6) == 0)
        ((float *)map.data)[draw(rng, n)] = PICK(rng, ((const float[]){NAN, INFINITY, -INFINITY, 3e38f, 1e19f}));
    if (run->is_s16 && (bytes & 1)) map.data[bytes - 1] = 0x7f;
    gst_buffer_unmap(b, &map);
    switch (draw(rng, 10)) {
    case 0: *next_pts += 3 * GST_SECOND; break;             /* a jump ahead */
    case 1: *next_pts = *next_pts / 2; break;               /* back in time */
    case 2: *next_pts = GST_CLOCK_TIME_NONE; break;         /* no timestamp */
    case 3: *next_pts = G_MAXUINT64 - 10 * GST_SECOND; break; /* near the end of time */
    default: break;
    }
    GST_BUFFER_PTS(b) = *next_pts;
    GST_BUFFER_DURATION(b) = draw(rng, 6) ? SAMPLE_NS(n) : GST_CLOCK_TIME_NONE;
    if (draw(rng, 8) == 0) GST_BUFFER_FLAG_SET(b, GST_BUFFER_FLAG_DISCONT);
    if (!GST_CLOCK_TIME_IS_VALID(*next_pts)) *next_pts = 0;
    else if (*next_pts < G_MAXUINT64 - 20 * GST_SECOND) *next_pts += SAMPLE_NS(n);
    return b;
}

static GstEvent *draw_event(GstClockTime *next_pts, mslam_rng *rng) {
    GstSegment seg;
    GstTagList *tags;
    switch (draw(rng, 6)) {
    case 0:
        return gst_event_new_gap(draw(rng, 4) ? *next_pts : 0,
                                 PICK(rng, ((const GstClockTime[]){0, GST_SECOND / 50, GST_SECOND, 60 * GST_SECOND,
                                                                   GST_CLOCK_TIME_NONE})));
    case 1:
        /* (a segment of another format is an element error: segment_format_refused) */
        gst_segment_init(&seg, GST_FORMAT_TIME);
        seg.start = seg.time = PICK(rng, ((const guint64[]){0, GST_SECOND, 3600 * GST_SECOND}));
        if (draw(rng, 3) == 0) seg.stop = seg.start + GST_SECOND / 2;
        *next_pts = seg.start;
        return gst_event_new_segment(&seg);
    case 2: return gst_event_new_segment_done(GST_FORMAT_TIME, *next_pts);
    case 3:
        tags = gst_tag_list_new(GST_TAG_LANGUAGE_CODE, PICK(rng, ((const char *const[]){"es", "", "zh-Hant-TW"})),
                                GST_TAG_BITRATE, 352800, NULL);
        gst_tag_list_set_scope(tags, draw(rng, 2) ? GST_TAG_SCOPE_STREAM : GST_TAG_SCOPE_GLOBAL);
        return gst_event_new_tag(tags);
    default:
        return NULL; /* a flush (two events) */
    }
}

/* Checks a caption message: UTF-8 text, start <= end, and its timed words (words,
 * source-words) each a run of characters without a space, in order, inside the caption (set_words
 * clamps them there, so what this catches is a word outside through another route) with a
 * confidence in [0, 1]. */
static void check_caption_message(const GstStructure *s, const char *launch) {
    const char *text = gst_structure_get_string(s, "text");
    guint64 start = 0, end = 0, prev_end = 0;
    if (!text) return;
    CHECK(g_utf8_validate(text, -1, NULL), "%s: a message's text is not UTF-8", launch);
    CHECK(gst_structure_get_uint64(s, "start", &start) && gst_structure_get_uint64(s, "end", &end) && start <= end,
          "%s: a message without start <= end", launch);
    const GValue *words = gst_structure_get_value(s, "words");
    if (!words) words = gst_structure_get_value(s, "source-words");
    prev_end = start;
    for (guint i = 0; words && i < gst_value_array_get_size(words); i++) {
        const GstStructure *w = gst_value_get_structure(gst_value_array_get_value(words, i));
        const char *wt = gst_structure_get_string(w, "text");
        guint64 ws = 0, we = 0;
        gdouble conf = -1;
        CHECK(wt && *wt && g_utf8_validate(wt, -1, NULL) && !strchr(wt, ' '), "%s: word %u is \"%s\"", launch, i,
              wt ? wt : "(none)");
        CHECK(gst_structure_get_uint64(w, "start", &ws) && gst_structure_get_uint64(w, "end", &we) &&
                  prev_end <= ws && ws < we && we <= end,
              "%s: word %u at %" GST_TIME_FORMAT " - %" GST_TIME_FORMAT " out of order or outside its caption's %"
              GST_TIME_FORMAT " - %" GST_TIME_FORMAT, launch, i, GST_TIME_ARGS(ws), GST_TIME_ARGS(we),
              GST_TIME_ARGS(start), GST_TIME_ARGS(end));
        CHECK(gst_structure_get_double(w, "confidence", &conf) && conf >= 0 && conf <= 1,
              "%s: word %u's confidence %g", launch, i, conf);
        prev_end = we;
    }
}

/* Takes every message off bus: checks the caption messages (launch NULL: none) and returns the
 * debug text of the first error (g_free it), or NULL. */
static gchar *drain_bus(GstBus *bus, const char *launch) {
    gchar *error = NULL;
    GstMessage *m;
    while ((m = gst_bus_pop(bus))) {
        if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ERROR && !error) {
            GError *err = NULL;
            gchar *debug = NULL;
            gst_message_parse_error(m, &err, &debug);
            error = g_strdup_printf("%s (%s)", err->message, debug ? debug : "");
            g_clear_error(&err), g_free(debug);
        } else if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ELEMENT && launch) {
            check_caption_message(gst_message_get_structure(m), launch);
        }
        gst_message_unref(m);
    }
    return error;
}

/* One run of an element on random steps. */
static void run_once(const char *element, const gsttest_fixture *fx, mslam_rng *rng) {
    char *props;
    const char *model = draw(rng, 2) ? fx->random : fx->loud;
    const char *languages = PICK(rng, ((const char *const[]){"", "en", "fr", "en,fr", "de,en"}));
    char *common = g_strdup_printf("model=%s latency=%u second-pass=%s languages=\"%s\"", model,
                                   PICK(rng, ((const guint[]){40, 120, 320, 2000})), draw(rng, 3) ? "false" : "true",
                                   languages);
    if (!strcmp(element, "mslamlid"))
        props = g_strdup_printf("%s interval=%u window=%u", common, PICK(rng, ((const guint[]){40, 500, 3000})),
                                PICK(rng, ((const guint[]){200, 1000, 8000})));
    else
        props = g_strdup_printf("%s pause=%u max-duration=%u partial-results=%s beam-size=%d%s", common,
                                PICK(rng, ((const guint[]){80, 300, 2000})), PICK(rng, ((const guint[]){1000, 5000})),
                                draw(rng, 2) ? "true" : "false", PICK(rng, ((const int[]){1, 2, 8})),
                                !strcmp(element, "mslamtranslate")
                                    ? PICK(rng, ((const char *const[]){" input=speech", " input=transcript", ""}))
                                    : "");
    fuzz_run run = {.is_s16 = draw(rng, 2), .sends_text = strcmp(element, "mslamlid") != 0};
    char *launch = g_strdup_printf("%s %s", element, props);
    run.launch = launch;
    GstHarness *h = gst_harness_new_parse(launch);
    char *caps = g_strdup_printf("audio/x-raw, format=%s, rate=16000, channels=1, layout=interleaved",
                                 run.is_s16 ? "S16LE" : "F32LE");
    gst_harness_set_src_caps_str(h, caps);
    g_free(caps);
    GstBus *bus = gst_bus_new();
    gst_element_set_bus(h->element, bus);
    GstClockTime next_pts = 0;
    for (int step = 0; step < 30; step++) {
        if (draw(rng, 4)) {
            GstBuffer *b = draw_buffer(&run, &next_pts, rng);
            char *what = g_strdup_printf("%zu bytes at %" GST_TIME_FORMAT, gst_buffer_get_size(b),
                                         GST_TIME_ARGS(GST_BUFFER_PTS(b)));
            GstFlowReturn flow = gst_harness_push(h, b);
            run.pushes++;
            gchar *error = drain_bus(bus, launch);
            CHECK(flow == GST_FLOW_OK, "%s: step %d (%s): push returned %s: %s", launch, step, what,
                  gst_flow_get_name(flow), error ? error : "no error message");
            g_free(error), g_free(what);
            if (flow != GST_FLOW_OK) break;
        } else {
            GstEvent *e = draw_event(&next_pts, rng);
            if (e) {
                gst_harness_push_event(h, e);
            } else {
                gst_harness_push_event(h, gst_event_new_flush_start());
                gst_harness_push_event(h, gst_event_new_flush_stop(TRUE));
                GstSegment seg;
                gst_segment_init(&seg, GST_FORMAT_TIME);
                gst_harness_push_event(h, gst_event_new_segment(&seg));
                next_pts = 0;
            }
        }
        pull_all(h, &run);
        g_free(drain_bus(bus, launch)); /* an error counts with the push that failed (above) */
    }
    gst_harness_push_event(h, gst_event_new_eos());
    pull_all(h, &run);
    g_free(drain_bus(bus, launch));
    /* mslamlid passes every buffer on: empty ones, those outside the segment, all */
    CHECK(run.sends_text || run.outputs == run.pushes, "%s: %ld buffers pushed, %ld passed on", launch, run.pushes,
          run.outputs);
    gst_element_set_bus(h->element, NULL);
    gst_object_unref(bus);
    gst_harness_teardown(h);
    g_free(launch), g_free(props), g_free(common);
}

/* A segment in another format than TIME is refused, with an element error that says so and
 * what to put in front; said once, though the sticky event comes again. */
static void segment_format_refused(const char *element, const gsttest_fixture *fx) {
    char *launch = g_strdup_printf("%s model=%s", element, fx->loud);
    GstHarness *h = gst_harness_new_parse(launch);
    gst_harness_set_src_caps_str(h, "audio/x-raw, format=F32LE, rate=16000, channels=1, layout=interleaved");
    GstBus *bus = gst_bus_new();
    gst_element_set_bus(h->element, bus);
    GstSegment seg;
    gst_segment_init(&seg, GST_FORMAT_BYTES);
    /* (the push of a sticky event succeeds once the harness has stored it, whatever the element
     * said) */
    gst_harness_push_event(h, gst_event_new_segment(&seg));
    gchar *error = drain_bus(bus, NULL);
    CHECK(error && strstr(error, "bytes") && strstr(error, "TIME") && strstr(error, "decodebin"),
          "%s: a segment in bytes gave the error \"%s\"", element, error ? error : "none");
    g_free(error);
    gst_harness_push_event(h, gst_event_new_segment(&seg));
    error = drain_bus(bus, NULL);
    CHECK(!error, "%s: the same segment again gave another error: \"%s\"", element, error);
    g_free(error);
    gst_element_set_bus(h->element, NULL);
    gst_object_unref(bus);
    gst_harness_teardown(h);
    g_free(launch);
}

int main(int argc, char **argv) {
    gst_init(&argc, &argv);
    int rounds = fuzz_rounds(60);
    uint64_t seed = 1;
    CHECK(rounds >= 0 && fuzz_seed(&seed), "MSLAM_FUZZ_SCALE or MSLAM_FUZZ_SEED");
    const gsttest_fixture *fx = gsttest_fixture_get();
    mslam_rng rng;
    mslam_rng_seed(&rng, seed);
    static const char *const elements[] = {"mslamasr", "mslamtranslate", "mslamlid"};
    for (size_t e = 0; e < 3; e++) {
        segment_format_refused(elements[e], fx);
        for (int r = 0; r < rounds; r++) run_once(elements[e], fx, &rng);
    }
    printf("%d runs of each element (seed %llu)\n", rounds, (unsigned long long)seed);
    return test_result("fuzz_elements");
}
