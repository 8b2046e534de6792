/* mslamasr on synthesised English speech, with a model whose CTC head emits "a" on voiced
 * frames and blanks on silence (gsttestutil.h: GSTTEST_MODEL_LOUDNESS): captions follow the
 * speech, so their count and times can be checked; messages, timestamps with a non-zero segment
 * start and after a seek, S16 input, EOS, FLUSH, GAP events, latency, caps and model failures. */
#include "gsttestutil.h"

#include <gst/app/gstappsink.h>
#include <gst/app/gstappsrc.h>
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <math.h>
#include <mslam.h>
#include <string.h>

#define MS (GST_MSECOND)
#define SAMPLES_TIME(n) gst_util_uint64_scale((n), GST_SECOND, 16000)
/* how far a caption's edges may be from its speech: 3 frames of lead/tail, a frame of rounding,
 * the subsampler's 7 log-mel frames */
#define EDGE_TOLERANCE (250 * MS)

static const gsttest_fixture *fx;

/* The talk: 0.5 s silence, utterance 0, 1 s silence, utterance 1, 0.5 s silence. */
static float *talk;
static size_t n_talk;
static GstClockTime utt_start[2], utt_end[2];

static void setup_talk(void) {
    fx = gsttest_fixture_get();
    n_talk = 0;
    g_free(talk);
    talk = NULL;
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

static char *desc(const char *extra) {
    return g_strdup_printf("mslamasr model=%s %s", fx->loud, extra ? extra : "");
}

static gboolean only_a(const char *text) {
    if (!*text) return FALSE;
    for (const char *p = text; *p; p++)
        if (*p != 'a') return FALSE;
    return TRUE;
}

/* Checks buffers: valid, inside [t0, t0 + duration], in order, not overlapping. */
static void check_timeline(const gsttest_run *r, GstClockTime t0, GstClockTime duration) {
    GstClockTime prev_end = t0;
    for (guint i = 0; i < r->buffers->len; i++) {
        const gsttest_caption *c = g_ptr_array_index(r->buffers, i);
        fail_unless(GST_CLOCK_TIME_IS_VALID(c->pts) && GST_CLOCK_TIME_IS_VALID(c->duration), "caption %u untimed", i);
        fail_unless(c->duration > 0, "caption %u has no duration", i);
        fail_unless(c->pts >= prev_end, "caption %u starts at %" GST_TIME_FORMAT " before the previous end %"
                    GST_TIME_FORMAT, i, GST_TIME_ARGS(c->pts), GST_TIME_ARGS(prev_end));
        fail_unless(c->pts + c->duration <= t0 + duration, "caption %u ends at %" GST_TIME_FORMAT
                    " after the audio (%" GST_TIME_FORMAT ")", i, GST_TIME_ARGS(c->pts + c->duration),
                    GST_TIME_ARGS(t0 + duration));
        prev_end = c->pts + c->duration;
    }
}

/* The two captions lie on the two utterances (shifted by t0). */
static void check_follows_talk(const gsttest_run *r, GstClockTime t0) {
    fail_unless_equals_int(r->buffers->len, 2);
    for (guint i = 0; i < 2; i++) {
        const gsttest_caption *c = g_ptr_array_index(r->buffers, i);
        GstClockTime s = t0 + utt_start[i], e = t0 + utt_end[i];
        fail_unless(only_a(c->text), "caption %u is \"%s\"", i, c->text);
        fail_unless(c->pts + EDGE_TOLERANCE >= s && c->pts <= s + EDGE_TOLERANCE,
                    "caption %u starts at %" GST_TIME_FORMAT ", its speech at %" GST_TIME_FORMAT, i,
                    GST_TIME_ARGS(c->pts), GST_TIME_ARGS(s));
        fail_unless(c->pts + c->duration + EDGE_TOLERANCE >= e && c->pts + c->duration <= e + EDGE_TOLERANCE,
                    "caption %u ends at %" GST_TIME_FORMAT ", its speech at %" GST_TIME_FORMAT, i,
                    GST_TIME_ARGS(c->pts + c->duration), GST_TIME_ARGS(e));
    }
}

static guint count_messages(const gsttest_run *r, const char *name, gboolean final) {
    guint n = 0;
    for (guint i = 0; i < r->messages->len; i++) {
        const GstStructure *s = g_ptr_array_index(r->messages, i);
        gboolean f;
        if (gst_structure_has_name(s, name) && gst_structure_get_boolean(s, "final", &f) && f == final) n++;
    }
    return n;
}

GST_START_TEST(test_captions_follow_speech) {
    setup_talk();
    char *d = desc(NULL);
    gsttest_run *r = gsttest_run_element(d, talk, n_talk, FALSE, 1024, 0);
    g_free(d);
    fail_unless(r && r->eos && !r->error);
    check_timeline(r, 0, SAMPLES_TIME(n_talk));
    check_follows_talk(r, 0);
    gsttest_run_free(r);
}
GST_END_TEST;

/* A glitch in float audio, a sample far beyond full scale, neither stops the element nor changes
 * its captions: 1e19 overflowed the log-mel features into NaN, and the decoder's error ended the
 * stream. */
GST_START_TEST(test_sample_beyond_full_scale) {
    setup_talk();
    /* in each utterance (in silence, the click clamped to full scale is a voiced block) */
    talk[(size_t)(utt_start[0] * 16000 / GST_SECOND) + 800] = 1e19f;
    talk[(size_t)(utt_start[1] * 16000 / GST_SECOND) + 800] = -1e19f;
    char *d = desc(NULL);
    gsttest_run *r = gsttest_run_element(d, talk, n_talk, FALSE, 1024, 0);
    g_free(d);
    fail_unless(r != NULL);
    if (r->error) {
        GError *err = NULL;
        gst_message_parse_error(r->error, &err, NULL);
        fail("an element error: %s", err->message);
    }
    fail_unless(r->eos);
    check_follows_talk(r, 0);
    gsttest_run_free(r);
}
GST_END_TEST;

GST_START_TEST(test_messages) {
    setup_talk();
    char *d = desc(NULL);
    gsttest_run *r = gsttest_run_element(d, talk, n_talk, FALSE, 1024, 0);
    g_free(d);
    fail_unless(r && r->eos);
    /* one final message per buffer, with the same text and times, and partials before each */
    guint b = 0, partials_since = 0;
    GstClockTime last_partial_end = 0;
    for (guint i = 0; i < r->messages->len; i++) {
        const GstStructure *s = g_ptr_array_index(r->messages, i);
        const char *text = gst_structure_get_string(s, "text"), *lang = gst_structure_get_string(s, "language");
        guint64 start, end, rt, st;
        gboolean final;
        gdouble conf;
        fail_unless(gst_structure_has_name(s, "mslam-asr"));
        fail_unless(text && lang);
        fail_unless(gst_structure_get_uint64(s, "start", &start) && gst_structure_get_uint64(s, "end", &end));
        fail_unless(gst_structure_get_uint64(s, "running-time", &rt) && gst_structure_get_uint64(s, "stream-time", &st));
        fail_unless(gst_structure_get_boolean(s, "final", &final));
        fail_unless(gst_structure_get_double(s, "confidence", &conf));
        fail_unless(conf > 0.0 && conf <= 1.0, "confidence %f", conf);
        fail_unless(start < end);
        fail_unless_equals_uint64(rt, start); /* segment from 0 */
        fail_unless_equals_string(lang, "en"); /* the LID head says en on speech */
        fail_unless(only_a(text), "message text \"%s\"", text);
        if (!final) {
            /* partials grow: the same start, a later end */
            if (partials_since > 0) fail_unless(end >= last_partial_end);
            last_partial_end = end;
            partials_since++;
            continue;
        }
        fail_unless(b < r->buffers->len);
        const gsttest_caption *c = g_ptr_array_index(r->buffers, b);
        fail_unless_equals_string(text, c->text);
        fail_unless_equals_uint64(start, c->pts);
        fail_unless_equals_uint64(end, c->pts + c->duration);
        fail_unless(partials_since > 0, "no partial result before caption %u", b);
        partials_since = 0;
        b++;
    }
    fail_unless_equals_int(b, r->buffers->len);
    fail_unless_equals_int(b, 2);
    gsttest_run_free(r);

    /* partial-results=false: finals only */
    d = desc("partial-results=false");
    r = gsttest_run_element(d, talk, n_talk, FALSE, 1024, 0);
    g_free(d);
    fail_unless(r && r->eos);
    fail_unless_equals_int(count_messages(r, "mslam-asr", FALSE), 0);
    fail_unless_equals_int(count_messages(r, "mslam-asr", TRUE), 2);
    gsttest_run_free(r);
}
GST_END_TEST;

/* The same captions from 16-bit input, from odd buffer sizes, and after a segment starting at
 * 10 s (timestamps on the audio's timeline, not from zero). */
GST_START_TEST(test_formats_and_segment_start) {
    setup_talk();
    char *d = desc(NULL);
    gsttest_run *ref = gsttest_run_element(d, talk, n_talk, FALSE, 1024, 0);
    gsttest_run *s16 = gsttest_run_element(d, talk, n_talk, TRUE, 333, 0);
    gsttest_run *late = gsttest_run_element(d, talk, n_talk, FALSE, 4000, 10 * GST_SECOND);
    g_free(d);
    fail_unless(ref && s16 && late && s16->eos && late->eos);
    check_follows_talk(s16, 0);
    check_follows_talk(late, 10 * GST_SECOND);
    check_timeline(late, 10 * GST_SECOND, SAMPLES_TIME(n_talk));
    for (guint i = 0; i < 2; i++) {
        const gsttest_caption *a = g_ptr_array_index(ref->buffers, i), *b = g_ptr_array_index(s16->buffers, i),
                              *c = g_ptr_array_index(late->buffers, i);
        /* 16-bit rounding may move an edge by a frame, no more */
        fail_unless(ABS(GST_CLOCK_DIFF(a->pts, b->pts)) <= 40 * MS);
        fail_unless_equals_uint64(c->pts, a->pts + 10 * GST_SECOND);
        fail_unless_equals_uint64(c->duration, a->duration);
    }
    gsttest_run_free(ref);
    gsttest_run_free(s16);
    gsttest_run_free(late);
}
GST_END_TEST;

/* Both utterances back to back and no silence after, run with props: max-duration (1000 ms) cuts
 * the speech into captions no longer than it, and EOS drains the one open at the end. */
static void check_max_duration(const char *props) {
    fx = gsttest_fixture_get();
    float *pcm = NULL;
    size_t n = 0;
    gsttest_append(&pcm, &n, fx->speech[0], fx->n_speech[0]);
    gsttest_append(&pcm, &n, fx->speech[1], fx->n_speech[1]);
    GstClockTime total = SAMPLES_TIME(n);
    char *d = desc(props);
    gsttest_run *r = gsttest_run_element(d, pcm, n, FALSE, 1024, 0);
    g_free(d);
    fail_unless(r && r->eos && !r->error);
    check_timeline(r, 0, total);
    fail_unless(r->buffers->len >= total / (1000 * MS), "%u captions in %" GST_TIME_FORMAT,
                r->buffers->len, GST_TIME_ARGS(total));
    for (guint i = 0; i < r->buffers->len; i++) {
        const gsttest_caption *c = g_ptr_array_index(r->buffers, i);
        fail_unless(c->duration <= 1000 * MS, "caption %u lasts %" GST_TIME_FORMAT, i,
                    GST_TIME_ARGS(c->duration));
    }
    const gsttest_caption *last = g_ptr_array_index(r->buffers, r->buffers->len - 1);
    fail_unless(last->pts + last->duration + EDGE_TOLERANCE >= total, "the speech at the end was not drained");
    gsttest_run_free(r);
    g_free(pcm);
}

/* Low noise: -60 dBFS, below the energy rule's floor (uniform in [-a, a] has an RMS of a / sqrt(3)). */
static void low_noise(float *pcm, size_t n) {
    GRand *rand = g_rand_new_with_seed(7);
    for (size_t i = 0; i < n; i++) pcm[i] = (float)g_rand_double_range(rand, -1.0, 1.0) * 0.001f * sqrtf(3.0f);
    g_rand_free(rand);
}

/* A character in silence opens a caption when voiced audio follows it in the frames decoded so
 * far (the check at open looks up to their end), but the caption ends a little after CTC's last
 * character: with the voiced audio after that end, the character is the model's noise after all
 * and makes no caption (the check at close); with the voiced audio inside it, a caption. The
 * model emits "a" on silence and blanks on sound; the low noise around (-60 dBFS) is below the
 * energy rule's floor. */
GST_START_TEST(test_no_caption_before_voice) {
    fx = gsttest_fixture_get();
    struct gsttest_model_opts o = {.kind = GSTTEST_MODEL_LOUDNESS, .ctc_head = 1, .lid_head = 1,
                                   .ctc_on_silence = 'a'};
    char *model = g_strdup(gsttest_path("ctc-on-silence-no-decoder.safetensors"));
    fail_unless(gsttest_write_model(model, &o) == 0);
    const size_t n = 4 * 32000;
    float *pcm = g_new(float, n);
    /* the second chunk of 2 s (frames 50-99) comes in one process () call: silence in frames
     * 60-64 ("a" at 60-63, so the caption ends at 67: 3 frames after), then blanks for more
     * than a pause, with a loud burst of 5 frames from frame bursts[b] */
    const size_t bursts[2] = {80, 65};
    for (int b = 0; b < 2; b++) {
        low_noise(pcm, n);
        memset(pcm + 60 * 640, 0, 5 * 640 * sizeof(float));
        for (size_t i = bursts[b] * 640; i < (bursts[b] + 5) * 640; i++)
            pcm[i] = 0.3f * sinf(2.0f * (float)G_PI * 440.0f * (float)i / 16000.0f);
        char *d = g_strdup_printf("mslamasr model=%s latency=2000 partial-results=true", model);
        gsttest_run *r = gsttest_run_element(d, pcm, n, FALSE, 1024, 0);
        fail_unless(r && r->eos && !r->error, "%s", d);
        if (b == 0) {
            fail_unless_equals_int(r->buffers->len, 0);
            fail_unless_equals_int(r->messages->len, 0);
        } else {
            fail_unless_equals_int(r->buffers->len, 1);
            fail_unless_equals_int(r->messages->len, 1);
            const gsttest_caption *c = g_ptr_array_index(r->buffers, 0);
            fail_unless_equals_string(c->text, "a");
            /* the lead of 3 frames before the voice, not before the character at 60 (the model's
             * noise in silence: before the voice the cue would come 200 ms early) */
            fail_unless_equals_uint64(c->pts, 62 * 40 * MS);
            fail_unless_equals_uint64(c->pts + c->duration, 67 * 40 * MS);
        }
        gsttest_run_free(r);
        g_free(d);
    }
    g_free(pcm);
    g_free(model);
}
GST_END_TEST;

/* A model whose CTC head emits spaces on silence and "a" on sound, and no decoder: its file (g_free
 * the path). */
static char *spaces_model(void) {
    fx = gsttest_fixture_get();
    struct gsttest_model_opts o = {.kind = GSTTEST_MODEL_LOUDNESS, .ctc_head = 1, .lid_head = 1,
                                   .ctc_on_silence = ' '};
    char *model = g_strdup(gsttest_path("spaces-in-silence-no-decoder.safetensors"));
    fail_unless(gsttest_write_model(model, &o) == 0);
    return model;
}

/* White noise in pcm[from, from + n), up to 0.3 of full scale: loud in every mel band (a low tone is
 * near the floor after pre-emphasis). */
static void noise_burst(float *pcm, size_t from, size_t n, GRand *rand) {
    for (size_t i = from; i < from + n; i++) pcm[i] = (float)g_rand_double_range(rand, -0.3, 0.3);
}

/* The final message's words: a model that emits spaces on silence and "a" on sound hears two
 * bursts 160 ms apart (less than a pause) as one caption "a a", whose words start where the
 * bursts do (within 2 frames: the subsampler's context), end after their character, lie inside
 * the caption and come the same with and without the second pass (whose result counts frames
 * from the caption's start, the stream's from the stream's). */
GST_START_TEST(test_words) {
    char *model = spaces_model();
    const size_t n = 3 * 16000, bursts[2] = {8000, 15360}, burst_len = 4800;
    float *pcm = g_new0(float, n);
    GRand *rand = g_rand_new_with_seed(3);
    for (int b = 0; b < 2; b++) noise_burst(pcm, bursts[b], burst_len, rand);
    g_rand_free(rand);
    guint64 starts[2][2], ends[2][2];
    for (int second_pass = 0; second_pass < 2; second_pass++) {
        /* greedy: a prefix search sums the paths, and on this model's flat "a" (p 0.47) those
         * with spaces inside a burst outweigh the one without */
        char *d = g_strdup_printf("mslamasr model=%s beam-size=1 second-pass=%s", model,
                                  second_pass ? "true" : "false");
        gsttest_run *r = gsttest_run_element(d, pcm, n, FALSE, 1024, 0);
        fail_unless(r && r->eos && !r->error, "%s", d);
        fail_unless_equals_int(count_messages(r, "mslam-asr", TRUE), 1);
        for (guint i = 0; i < r->messages->len; i++) {
            const GstStructure *s = g_ptr_array_index(r->messages, i);
            gboolean final = FALSE;
            guint64 start, end;
            fail_unless(gst_structure_get_boolean(s, "final", &final));
            if (!final) continue;
            fail_unless_equals_string(gst_structure_get_string(s, "text"), "a a");
            fail_unless(gst_structure_get_uint64(s, "start", &start) && gst_structure_get_uint64(s, "end", &end));
            const GValue *words = gst_structure_get_value(s, "words");
            fail_unless(words && GST_VALUE_HOLDS_ARRAY(words), "%s: no words", d);
            fail_unless_equals_int(gst_value_array_get_size(words), 2);
            for (guint w = 0; w < 2; w++) {
                const GstStructure *word = gst_value_get_structure(gst_value_array_get_value(words, w));
                guint64 ws, we;
                gdouble conf;
                fail_unless(gst_structure_has_name(word, "word"));
                fail_unless_equals_string(gst_structure_get_string(word, "text"), "a");
                fail_unless(gst_structure_get_uint64(word, "start", &ws) && gst_structure_get_uint64(word, "end", &we));
                fail_unless(gst_structure_get_double(word, "confidence", &conf) && conf > 0.0 && conf <= 1.0);
                GstClockTime burst = SAMPLES_TIME(bursts[w]);
                fail_unless(ws + 80 * MS >= burst && ws <= burst + 80 * MS, "%s: word %u starts at %" GST_TIME_FORMAT
                            ", its burst at %" GST_TIME_FORMAT, d, w, GST_TIME_ARGS(ws), GST_TIME_ARGS(burst));
                fail_unless(start <= ws && ws < we && we <= end, "%s: word %u outside its caption", d, w);
                fail_unless(w == 0 || ws >= ends[second_pass][0], "%s: the words overlap", d);
                starts[second_pass][w] = ws, ends[second_pass][w] = we;
            }
        }
        gsttest_run_free(r);
        g_free(d);
    }
    for (int w = 0; w < 2; w++) {
        fail_unless_equals_uint64(starts[0][w], starts[1][w]);
        fail_unless_equals_uint64(ends[0][w], ends[1][w]);
    }
    g_free(pcm);
    g_free(model);
}
GST_END_TEST;

/* The last sound of the audio is heard: a burst in the final 30 ms before EOS, which no frame
 * read before the tail padding (the last frame ended 45-85 ms before the audio), is a caption
 * "a" with and without the second pass, ending at the audio's end or before it; also when the
 * audio is no whole number of frames, its burst after the last whole one (which reads it). */
GST_START_TEST(test_sound_at_the_end) {
    char *model = spaces_model();
    const size_t lengths[2] = {32000, 32560}, burst_len = 480;
    float *pcm = g_new0(float, lengths[1]);
    for (int run = 0; run < 4; run++) {
        size_t n = lengths[run / 2];
        int second_pass = run % 2;
        memset(pcm, 0, n * sizeof *pcm);
        GRand *rand = g_rand_new_with_seed(5);
        noise_burst(pcm, n - burst_len, burst_len, rand);
        g_rand_free(rand);
        char *d = g_strdup_printf("mslamasr model=%s beam-size=1 second-pass=%s", model, second_pass ? "true" : "false");
        gsttest_run *r = gsttest_run_element(d, pcm, n, FALSE, 1024, 0);
        fail_unless(r && r->eos && !r->error, "%s", d);
        fail_unless(r->buffers->len == 1, "%s, %zu samples: %u captions", d, n, r->buffers->len);
        const gsttest_caption *c = g_ptr_array_index(r->buffers, 0);
        fail_unless(!strcmp(c->text, "a"), "%s, %zu samples: \"%s\"", d, n, c->text);
        fail_unless(c->pts + c->duration <= SAMPLES_TIME(n), "%s: the caption ends at %" GST_TIME_FORMAT ", after the audio",
                    d, GST_TIME_ARGS(c->pts + c->duration));
        gsttest_run_free(r);
        g_free(d);
    }
    g_free(pcm);
    g_free(model);
}
GST_END_TEST;

/* A caption cut at max-duration ends between words, not inside one: ten bursts of 400 ms, 200 ms
 * apart (less than a pause), on a model that emits spaces on silence and "a" on sound, are ten
 * words "a", each in one caption (a cut right at max-duration, 2 s after the first caption's
 * start, fell inside the fourth burst, whose "a" then came in two captions), with and without the
 * second pass (whose transcript places the cut; without it the stream's). Every cut lies in a
 * silence; each caption's words start at their bursts (the stream decoder reads the frames after
 * a cut again and counts frames from the cut), and a partial result after a cut starts after it. */
GST_START_TEST(test_max_duration_between_words) {
    char *model = spaces_model();
    enum { BURSTS = 10 };
    const size_t first = 8320, every = 9600, burst_len = 6400, n = first + BURSTS * every;
    float *pcm = g_new0(float, n);
    GRand *rand = g_rand_new_with_seed(11);
    for (size_t b = 0; b < BURSTS; b++) noise_burst(pcm, first + b * every, burst_len, rand);
    g_rand_free(rand);
    for (int second_pass = 0; second_pass < 2; second_pass++) {
        char *d = g_strdup_printf("mslamasr model=%s beam-size=1 pause=2000 max-duration=2000 partial-results=true "
                                  "second-pass=%s", model, second_pass ? "true" : "false");
        gsttest_run *r = gsttest_run_element(d, pcm, n, FALSE, 1024, 0);
        fail_unless(r && r->eos && !r->error, "%s", d);
        guint words = 0, finals = 0;
        GstClockTime last_end = 0;
        for (guint i = 0; i < r->messages->len; i++) {
            const GstStructure *s = g_ptr_array_index(r->messages, i);
            gboolean final = FALSE;
            guint64 start, end;
            fail_unless(gst_structure_get_boolean(s, "final", &final));
            fail_unless(gst_structure_get_uint64(s, "start", &start) && gst_structure_get_uint64(s, "end", &end));
            const char *text = gst_structure_get_string(s, "text");
            fail_unless(start >= last_end, "%s: \"%s\" starts at %" GST_TIME_FORMAT ", before the last caption's end",
                        d, text, GST_TIME_ARGS(start));
            if (!final) continue;
            fail_unless(end - start <= 2000 * MS);
            for (size_t b = 0; b < BURSTS; b++) {
                GstClockTime b_start = SAMPLES_TIME(first + b * every), b_end = SAMPLES_TIME(first + b * every + burst_len);
                fail_unless(end <= b_start || end >= b_end || end == SAMPLES_TIME(n),
                            "%s: caption %u (\"%s\") ends at %" GST_TIME_FORMAT " inside burst %zu", d, finals, text,
                            GST_TIME_ARGS(end), b);
            }
            const GValue *ws = gst_structure_get_value(s, "words");
            fail_unless(ws && GST_VALUE_HOLDS_ARRAY(ws), "%s: no words", d);
            for (guint w = 0; w < gst_value_array_get_size(ws); w++, words++) {
                const GstStructure *word = gst_value_get_structure(gst_value_array_get_value(ws, w));
                guint64 w_start;
                fail_unless(gst_structure_get_uint64(word, "start", &w_start));
                GstClockTime burst = SAMPLES_TIME(first + MIN(words, BURSTS - 1) * every);
                fail_unless(w_start + 80 * MS >= burst && w_start <= burst + 80 * MS,
                            "%s: word %u starts at %" GST_TIME_FORMAT ", its burst at %" GST_TIME_FORMAT, d, words,
                            GST_TIME_ARGS(w_start), GST_TIME_ARGS(burst));
            }
            last_end = end;
            finals++;
        }
        fail_unless(finals >= 3, "%s: %u captions", d, finals);
        fail_unless_equals_int(words, BURSTS);
        gsttest_run_free(r);
        g_free(d);
    }
    g_free(pcm);
    g_free(model);
}
GST_END_TEST;

/* Silence and low noise (-60 dBFS, below the energy rule's floor) make no caption and no
 * message, though the CTC head emits characters there (a model that does so on silence, as trained
 * models now and then do): a caption needs a frame the energy rule heard as voiced. The same for
 * mslamtranslate, which translates the transcript of nothing otherwise. */
GST_START_TEST(test_no_caption_without_voice) {
    fx = gsttest_fixture_get();
    struct gsttest_model_opts o = {.kind = GSTTEST_MODEL_LOUDNESS, .ctc_head = 1, .lid_head = 1,
                                   .n_decoder_layers = 1, .ctc_on_silence = 'a'};
    char *model = g_strdup(gsttest_path("ctc-on-silence.safetensors"));
    fail_unless(gsttest_write_model(model, &o) == 0);
    const size_t n = 48000;
    float *quiet = g_new0(float, n), *noise = g_new(float, n);
    low_noise(noise, n);
    const float *inputs[2] = {quiet, noise};
    const char *elements[2] = {"mslamasr", "mslamtranslate input=transcript partial-results=true"};
    for (int e = 0; e < 2; e++) {
        for (int i = 0; i < 2; i++) {
            char *d = g_strdup_printf("%s model=%s", elements[e], model);
            gsttest_run *r = gsttest_run_element(d, inputs[i], n, FALSE, 1024, 0);
            fail_unless(r && r->eos && !r->error, "%s", d);
            fail_unless_equals_int(r->buffers->len, 0);
            for (guint m = 0; m < r->messages->len; m++) {
                const GstStructure *s = g_ptr_array_index(r->messages, m);
                fail_unless(!gst_structure_has_name(s, "mslam-asr") && !gst_structure_has_name(s, "mslam-translation"),
                            "%s on %s: %" GST_PTR_FORMAT, d, i ? "noise" : "silence", s);
            }
            /* downstream hears of the time passed */
            GstClockTime covered = 0;
            for (guint k = 0; k < r->events->len; k++) {
                GstEvent *ev = g_ptr_array_index(r->events, k);
                GstClockTime ts, dur;
                if (GST_EVENT_TYPE(ev) != GST_EVENT_GAP) continue;
                gst_event_parse_gap(ev, &ts, &dur);
                covered = ts + dur;
            }
            fail_unless(covered + 100 * MS >= SAMPLES_TIME(n), "gaps stop at %" GST_TIME_FORMAT, GST_TIME_ARGS(covered));
            gsttest_run_free(r);
            g_free(d);
        }
    }
    g_free(quiet);
    g_free(noise);
    g_free(model);
}
GST_END_TEST;

/* max-duration is a hard bound whatever the chunk, also one longer than max-duration (captions
 * are cut inside a chunk): a caption may start as early as the first frame kept before it (up
 * to 12 frames before the chunk it opens in), so the frames a chunk brings while no caption is
 * open leave room for those; EOS drains the caption open at the end. */
GST_START_TEST(test_max_duration_and_eos) {
    const char *latencies[] = {"40", "320", "680", "1000", "1400", "2000"};
    for (guint i = 0; i < G_N_ELEMENTS(latencies); i++) {
        char *props = g_strdup_printf("latency=%s max-duration=1000 pause=2000", latencies[i]);
        check_max_duration(props);
        g_free(props);
    }
}
GST_END_TEST;

/* A caption still open at EOS ends where its speech ends, as at a pause, not at the end of the
 * silence after it (pause=2000: the 1.5 s of silence before EOS is no pause). */
GST_START_TEST(test_eos_ends_at_speech) {
    fx = gsttest_fixture_get();
    float *pcm = NULL;
    size_t n = 0;
    gsttest_append(&pcm, &n, NULL, 8000);
    gsttest_append(&pcm, &n, fx->speech[0], fx->n_speech[0]);
    GstClockTime speech_end = SAMPLES_TIME(n);
    gsttest_append(&pcm, &n, NULL, 24000);
    const char *props[2] = {"pause=2000", "pause=2000 second-pass=false"};
    for (int i = 0; i < 2; i++) {
        char *d = desc(props[i]);
        gsttest_run *r = gsttest_run_element(d, pcm, n, FALSE, 1024, 0);
        g_free(d);
        fail_unless(r && r->eos && !r->error);
        fail_unless_equals_int(r->buffers->len, 1);
        const gsttest_caption *c = g_ptr_array_index(r->buffers, 0);
        fail_unless(c->pts + c->duration + EDGE_TOLERANCE >= speech_end && c->pts + c->duration <= speech_end + EDGE_TOLERANCE,
                    "the caption ends at %" GST_TIME_FORMAT ", its speech at %" GST_TIME_FORMAT, GST_TIME_ARGS(c->pts + c->duration),
                    GST_TIME_ARGS(speech_end));
        gsttest_run_free(r);
    }
    /* the same through mslamtranslate without a CTC head (the energy rule alone) */
    char *d = g_strdup_printf("mslamtranslate model=%s pause=2000", fx->loud_noctc);
    gsttest_run *r = gsttest_run_element(d, pcm, n, FALSE, 1024, 0);
    g_free(d);
    fail_unless(r && r->eos && !r->error);
    fail_unless_equals_int(r->buffers->len, 1);
    const gsttest_caption *c = g_ptr_array_index(r->buffers, 0);
    fail_unless(c->pts + c->duration <= speech_end + EDGE_TOLERANCE, "the translation ends at %" GST_TIME_FORMAT
                ", its speech at %" GST_TIME_FORMAT, GST_TIME_ARGS(c->pts + c->duration), GST_TIME_ARGS(speech_end));
    gsttest_run_free(r);
    g_free(pcm);
}
GST_END_TEST;

/* GAP events fill the silences (so textoverlay need not wait), in order with the captions. */
GST_START_TEST(test_gaps) {
    setup_talk();
    char *d = desc(NULL);
    gsttest_run *r = gsttest_run_element(d, talk, n_talk, FALSE, 1024, 0);
    g_free(d);
    fail_unless(r && r->eos);
    GstClockTime covered = 0;
    guint gaps = 0;
    for (guint i = 0; i < r->events->len; i++) {
        GstEvent *e = g_ptr_array_index(r->events, i);
        if (GST_EVENT_TYPE(e) != GST_EVENT_GAP) continue;
        GstClockTime ts, dur;
        gst_event_parse_gap(e, &ts, &dur);
        fail_unless(ts >= covered || ts + 40 * MS >= covered, "gap at %" GST_TIME_FORMAT " goes back", GST_TIME_ARGS(ts));
        covered = ts + dur;
        gaps += dur > 0; /* (not the timeline's first, of no duration, on which a sink prerolls) */
        /* no gap inside a caption */
        for (guint b = 0; b < r->buffers->len; b++) {
            const gsttest_caption *c = g_ptr_array_index(r->buffers, b);
            fail_unless(ts + dur <= c->pts || ts >= c->pts + c->duration, "gap overlaps caption %u", b);
        }
    }
    fail_unless(gaps >= 3);
    fail_unless(covered + 100 * MS >= SAMPLES_TIME(n_talk), "gaps stop at %" GST_TIME_FORMAT, GST_TIME_ARGS(covered));
    gsttest_run_free(r);
}
GST_END_TEST;

/* Runs the pipeline launch describes to its EOS (an error or 60 s without one fails, saying what). */
static void run_to_eos(const char *launch, const char *what) {
    GstElement *pipeline = gst_parse_launch(launch, NULL);
    fail_unless(pipeline != NULL, "%s: %s", what, launch);
    gst_element_set_state(pipeline, GST_STATE_PLAYING);
    GstBus *bus = gst_element_get_bus(pipeline);
    GstMessage *m = gst_bus_timed_pop_filtered(bus, 60 * GST_SECOND, GST_MESSAGE_EOS | GST_MESSAGE_ERROR);
    fail_unless(m && GST_MESSAGE_TYPE(m) == GST_MESSAGE_EOS, "%s: the pipeline stalled or failed", what);
    gst_message_unref(m);
    gst_object_unref(bus);
    gst_element_set_state(pipeline, GST_STATE_NULL);
    gst_object_unref(pipeline);
}

/* Paused while a caption is open, beside an audio sink through a tee with the default queues: the
 * caption's sink must preroll again, on something that comes before the caption (which comes
 * only when its speech ends, after more audio than the audio branch's queue holds); it waited
 * for good, and so did the pipeline, also after PLAYING again. */
GST_START_TEST(test_pause_mid_caption) {
    setup_talk();
    /* in Matroska, which plays backwards too (wavparse does not) */
    char *wav = g_strdup(gsttest_path("pause-talk.wav")), *mka = g_strdup(gsttest_path("pause-talk.mka"));
    fail_unless(gsttest_write_wav(wav, talk, n_talk) == 0);
    char *launch = g_strdup_printf("filesrc location=%s ! wavparse ! matroskamux ! filesink location=%s", wav, mka);
    run_to_eos(launch, "the talk written as Matroska");
    g_free(launch);
    launch = g_strdup_printf("filesrc location=%s ! matroskademux ! audioconvert ! tee name=t t. ! queue ! fakesink "
                             "sync=true t. ! queue ! mslamasr model=%s ! fakesink name=text sync=true", mka, fx->loud);
    GstElement *pipeline = gst_parse_launch(launch, NULL);
    g_free(launch);
    fail_unless(pipeline != NULL);
    gst_element_set_state(pipeline, GST_STATE_PLAYING);
    fail_unless_equals_int(gst_element_get_state(pipeline, NULL, NULL, 10 * GST_SECOND), GST_STATE_CHANGE_SUCCESS);
    /* into the first utterance, a second after its start; paused four times 0.3 s apart (the
     * element's GAP had come at times before the pause was recorded, and been skipped) */
    g_usleep((utt_start[0] + GST_SECOND) / GST_USECOND);
    for (int pause = 0; pause < 4; pause++) {
        gst_element_set_state(pipeline, GST_STATE_PAUSED);
        fail_unless_equals_int(gst_element_get_state(pipeline, NULL, NULL, 10 * GST_SECOND), GST_STATE_CHANGE_SUCCESS);
        gint64 paused_at = 0, later = 0;
        fail_unless(gst_element_query_position(pipeline, GST_FORMAT_TIME, &paused_at));
        fail_unless(pause > 0 || ((GstClockTime)paused_at > utt_start[0] && (GstClockTime)paused_at < utt_end[0]),
                    "paused at %" GST_TIME_FORMAT ", not inside the utterance", GST_TIME_ARGS(paused_at));
        gst_element_set_state(pipeline, GST_STATE_PLAYING);
        fail_unless_equals_int(gst_element_get_state(pipeline, NULL, NULL, 10 * GST_SECOND), GST_STATE_CHANGE_SUCCESS);
        g_usleep(3 * G_USEC_PER_SEC / 10);
        fail_unless(gst_element_query_position(pipeline, GST_FORMAT_TIME, &later) && later > paused_at + 100 * MS,
                    "played on from %" GST_TIME_FORMAT " to %" GST_TIME_FORMAT, GST_TIME_ARGS(paused_at),
                    GST_TIME_ARGS(later));
    }
    /* played backwards (nothing is fed, the text's sink has only GAPs to preroll on) and paused */
    gint64 at = 0, later = 0;
    fail_unless(gst_element_seek(pipeline, -1.0, GST_FORMAT_TIME, GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_ACCURATE,
                                 GST_SEEK_TYPE_SET, 0, GST_SEEK_TYPE_SET, (gint64)SAMPLES_TIME(n_talk)));
    fail_unless_equals_int(gst_element_get_state(pipeline, NULL, NULL, 10 * GST_SECOND), GST_STATE_CHANGE_SUCCESS);
    g_usleep(G_USEC_PER_SEC / 2);
    gst_element_set_state(pipeline, GST_STATE_PAUSED);
    fail_unless_equals_int(gst_element_get_state(pipeline, NULL, NULL, 10 * GST_SECOND), GST_STATE_CHANGE_SUCCESS);
    fail_unless(gst_element_query_position(pipeline, GST_FORMAT_TIME, &at));
    gst_element_set_state(pipeline, GST_STATE_PLAYING);
    fail_unless_equals_int(gst_element_get_state(pipeline, NULL, NULL, 10 * GST_SECOND), GST_STATE_CHANGE_SUCCESS);
    g_usleep(3 * G_USEC_PER_SEC / 10);
    fail_unless(gst_element_query_position(pipeline, GST_FORMAT_TIME, &later) && later < at - 100 * MS,
                "played backwards from %" GST_TIME_FORMAT " to %" GST_TIME_FORMAT, GST_TIME_ARGS(at), GST_TIME_ARGS(later));
    gst_element_set_state(pipeline, GST_STATE_NULL);
    gst_object_unref(pipeline);
    g_free(wav), g_free(mka);
}
GST_END_TEST;

/* A seek in a file: captions after it carry the file's times. */
GST_START_TEST(test_seek) {
    setup_talk();
    char *wav = g_strdup(gsttest_path("talk.wav"));
    fail_unless(gsttest_write_wav(wav, talk, n_talk) == 0);
    char *launch = g_strdup_printf("filesrc location=%s ! wavparse ! audioconvert ! mslamasr name=el model=%s "
                                   "! appsink name=sink sync=false", wav, fx->loud);
    GstElement *pipeline = gst_parse_launch(launch, NULL);
    g_free(launch);
    fail_unless(pipeline != NULL);
    GstElement *sink = gst_bin_get_by_name(GST_BIN(pipeline), "sink");
    fail_unless_equals_int(gst_element_set_state(pipeline, GST_STATE_PAUSED), GST_STATE_CHANGE_ASYNC);
    fail_unless_equals_int(gst_element_get_state(pipeline, NULL, NULL, GST_CLOCK_TIME_NONE), GST_STATE_CHANGE_SUCCESS);
    /* into the silence before utterance 1 */
    GstClockTime target = utt_start[1] - 500 * MS;
    fail_unless(gst_element_seek_simple(pipeline, GST_FORMAT_TIME, GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_ACCURATE,
                                        target));
    gst_element_set_state(pipeline, GST_STATE_PLAYING);
    GstSample *sample;
    guint n = 0;
    GstClockTime first_pts = GST_CLOCK_TIME_NONE, first_dur = 0;
    while ((sample = gst_app_sink_pull_sample(GST_APP_SINK(sink)))) {
        GstBuffer *b = gst_sample_get_buffer(sample);
        const GstSegment *seg = gst_sample_get_segment(sample);
        if (n == 0) {
            first_pts = GST_BUFFER_PTS(b);
            first_dur = GST_BUFFER_DURATION(b);
            fail_unless(seg->start >= target - 40 * MS, "segment starts at %" GST_TIME_FORMAT, GST_TIME_ARGS(seg->start));
        }
        n++;
        gst_sample_unref(sample);
    }
    fail_unless_equals_int(n, 1);
    fail_unless(first_pts + EDGE_TOLERANCE >= utt_start[1] && first_pts <= utt_start[1] + EDGE_TOLERANCE,
                "caption after the seek at %" GST_TIME_FORMAT ", its speech at %" GST_TIME_FORMAT,
                GST_TIME_ARGS(first_pts), GST_TIME_ARGS(utt_start[1]));
    fail_unless(first_pts + first_dur <= utt_end[1] + EDGE_TOLERANCE);
    gst_element_set_state(pipeline, GST_STATE_NULL);
    gst_object_unref(sink);
    gst_object_unref(pipeline);
    g_free(wav);
}
GST_END_TEST;

/* Captions muxed with the audio they come from, through a tee: the muxer waits for the text of
 * each time, which comes up to the element's latency after the audio (LATENCY query), so a queue
 * on the audio branch that holds that much audio (here max-duration 2000 + 280 + 45 ms) lets the
 * file be written; a 1 s queue (the default) would stall the tee. */
GST_START_TEST(test_mux_with_audio) {
    setup_talk();
    char *wav = g_strdup(gsttest_path("mux-talk.wav")), *mka = g_strdup(gsttest_path("mux-talk.mka"));
    fail_unless(gsttest_write_wav(wav, talk, n_talk) == 0);
    char *launch = g_strdup_printf(
        "filesrc location=%s ! wavparse ! audioconvert ! tee name=t "
        "t. ! queue ! mslamasr model=%s max-duration=2000 ! mux. "
        "t. ! queue max-size-time=2500000000 max-size-bytes=0 max-size-buffers=0 ! audioconvert ! flacenc ! "
        "matroskamux name=mux ! filesink location=%s", wav, fx->loud, mka);
    run_to_eos(launch, "captions muxed with their audio");
    g_free(launch);
    gchar *data = NULL;
    gsize size = 0;
    fail_unless(g_file_get_contents(mka, &data, &size, NULL));
    fail_unless(memmem(data, size, "S_TEXT/UTF8", 11) != NULL, "no text track");
    g_free(data);
    g_free(wav);
    g_free(mka);
}
GST_END_TEST;

/* Pushes pcm [from, to) into a harness as F32 buffers of 1600 samples from time t0. */
static void push_audio(GstHarness *h, const float *pcm, size_t from, size_t to, GstClockTime t0) {
    fail_unless_equals_int(gsttest_harness_push_pcm(h, pcm, from, to, t0, FALSE), GST_FLOW_OK);
}

/* The same, the first buffer marked DISCONT (what comes after packets lost or a jump). */
static void push_audio_discont(GstHarness *h, const float *pcm, size_t from, size_t to, GstClockTime t0) {
    GstBuffer *b = gsttest_pcm_buffer(pcm + from, MIN(1600, to - from), FALSE, t0);
    GST_BUFFER_FLAG_SET(b, GST_BUFFER_FLAG_DISCONT);
    fail_unless_equals_int(gst_harness_push(h, b), GST_FLOW_OK);
    if (to > from + 1600) push_audio(h, pcm, from + 1600, to, t0 + SAMPLES_TIME(1600));
}

/* A flushing seek as the element sees it: FLUSH_START, FLUSH_STOP, then a segment starting at t. */
static void flush_to(GstHarness *h, GstClockTime t) {
    fail_unless(gst_harness_push_event(h, gst_event_new_flush_start()));
    fail_unless(gst_harness_push_event(h, gst_event_new_flush_stop(TRUE)));
    GstSegment seg;
    gst_segment_init(&seg, GST_FORMAT_TIME);
    seg.start = seg.time = t;
    fail_unless(gst_harness_push_event(h, gst_event_new_segment(&seg)));
}

/* A harness around mslamasr with props (NULL: none) on the loudness model, F32 input. */
static GstHarness *asr_harness(const char *props) {
    char *launch = desc(props);
    GstHarness *h = gst_harness_new_parse(launch);
    g_free(launch);
    gst_harness_set_src_caps_str(h, "audio/x-raw, format=F32LE, rate=16000, channels=1, layout=interleaved");
    return h;
}

/* What befalls the talk's bytes on their way at byte `at` (in its format; 0: nothing): `lost`
 * bytes from there never come, the timestamps from there on are `shift` later (a live source
 * that paused or jitters), the next buffer is marked DISCONT, or another stream starts before it
 * (STREAM_START, the same caps and segment), or the same caps come again. */
typedef struct {
    gsize at, lost;
    GstClockTime shift;
    gboolean discont, new_stream, caps_again;
    const char *props; /* the element's properties (NULL: none) */
} on_the_way;

/* Pushes the talk's bytes [from, to) in format s16 or F32 cut every chunk bytes (as an
 * application pushes what it reads from a socket), each piece stamped with the time of the sample
 * it starts in, plus shift; the first piece marked DISCONT when discont. */
static void push_pieces(GstHarness *h, GstBuffer *all, gboolean s16, gsize from, gsize to, gsize chunk,
                        GstClockTime shift, gboolean discont) {
    gsize bps = s16 ? 2 : 4;
    for (gsize off = from; off < to; off += chunk) {
        GstBuffer *piece = gst_buffer_copy_region(all, GST_BUFFER_COPY_MEMORY, off, MIN(chunk, to - off));
        GST_BUFFER_PTS(piece) = SAMPLES_TIME(off / bps) + shift;
        if (discont && off == from) GST_BUFFER_FLAG_SET(piece, GST_BUFFER_FLAG_DISCONT);
        fail_unless_equals_int(gst_harness_push(h, piece), GST_FLOW_OK);
    }
}

/* The captions of the talk in format s16 or F32 through mslamasr on random weights, cut every
 * chunk bytes (0: in 100 ms buffers), within segment (NULL: the harness's), with `way` befalling
 * it (NULL: nothing): "pts +duration text" of each, then the final messages' confidence. Random
 * weights, as every bit of the samples moves their text and confidence, where the loudness
 * model's captions are the energy rule's (misread speech is as loud, its captions as long). */
static GPtrArray *said_at_eos(GstHarness *h, GstBus *bus);

static GPtrArray *captions_on_the_way(gboolean s16, gsize chunk, const GstSegment *segment, const on_the_way *way) {
    const char *caps = s16 ? "audio/x-raw, format=S16LE, rate=16000, channels=1, layout=interleaved"
                           : "audio/x-raw, format=F32LE, rate=16000, channels=1, layout=interleaved";
    char *launch = g_strdup_printf("mslamasr model=%s %s", fx->random, way && way->props ? way->props : "");
    GstHarness *h = gst_harness_new_parse(launch);
    g_free(launch);
    GstBus *bus = gst_bus_new();
    gst_element_set_bus(h->element, bus);
    gst_harness_set_src_caps_str(h, caps);
    if (segment) fail_unless(gst_harness_push_event(h, gst_event_new_segment(segment)));
    GstBuffer *all = gsttest_pcm_buffer(talk, n_talk, s16, 0);
    gsize size = gst_buffer_get_size(all), at = way && way->at ? way->at : size;
    if (chunk == 0) chunk = 1600 * (s16 ? 2 : 4);
    push_pieces(h, all, s16, 0, at, chunk, 0, FALSE);
    if (at < size) {
        if (way->new_stream) {
            fail_unless(gst_harness_push_event(h, gst_event_new_stream_start("another")));
            gst_harness_set_src_caps_str(h, caps);
            if (segment) fail_unless(gst_harness_push_event(h, gst_event_new_segment(segment)));
        }
        if (way->caps_again) {
            GstCaps *same = gst_caps_from_string(caps);
            fail_unless(gst_harness_push_event(h, gst_event_new_caps(same)));
            gst_caps_unref(same);
        }
        push_pieces(h, all, s16, at + way->lost, size, chunk, way->shift, way->discont);
    }
    gst_buffer_unref(all);
    return said_at_eos(h, bus);
}

/* After EOS into h (its element's bus `bus`): "pts +duration text" of each caption, then the
 * final messages' confidence; tears h down. */
static GPtrArray *said_at_eos(GstHarness *h, GstBus *bus) {
    fail_unless(gst_harness_push_event(h, gst_event_new_eos()));
    GPtrArray *said = g_ptr_array_new_with_free_func(g_free);
    for (GstBuffer *b; (b = gst_harness_try_pull(h)); gst_buffer_unref(b)) {
        GstMapInfo map;
        fail_unless(gst_buffer_map(b, &map, GST_MAP_READ));
        g_ptr_array_add(said, g_strdup_printf("%" GST_TIME_FORMAT " +%" GST_TIME_FORMAT " \"%.*s\"",
                                              GST_TIME_ARGS(GST_BUFFER_PTS(b)), GST_TIME_ARGS(GST_BUFFER_DURATION(b)),
                                              (int)map.size, (const char *)map.data));
        gst_buffer_unmap(b, &map);
    }
    for (GstMessage *m; (m = gst_bus_pop_filtered(bus, GST_MESSAGE_ELEMENT)); gst_message_unref(m)) {
        const GstStructure *st = gst_message_get_structure(m);
        gboolean final = FALSE;
        gdouble confidence = 0;
        if (st && gst_structure_get_boolean(st, "final", &final) && final &&
            gst_structure_get_double(st, "confidence", &confidence))
            g_ptr_array_add(said, g_strdup_printf("confidence %.17g", confidence));
    }
    gst_element_set_bus(h->element, NULL);
    gst_object_unref(bus);
    gst_harness_teardown(h);
    return said;
}

/* The captions of pieces (S16 cut every 333 bytes, F32 every 1001) are those of 100-ms buffers
 * of whole samples, within segment, each with its own way (NULL: none); n_captions: how many
 * there are. */
static void check_pieces_read_whole(const GstSegment *segment, const on_the_way *pieces_way,
                                    const on_the_way *whole_way, gboolean s16, guint n_captions, const char *what) {
    GPtrArray *whole = captions_on_the_way(s16, 0, segment, whole_way),
              *pieces = captions_on_the_way(s16, s16 ? 333 : 1001, segment, pieces_way);
    /* each caption and its message's confidence */
    fail_unless_equals_int(whole->len, 2 * n_captions);
    fail_unless_equals_int(pieces->len, whole->len);
    for (guint i = 0; i < whole->len; i++)
        fail_unless(strcmp(g_ptr_array_index(pieces, i), g_ptr_array_index(whole, i)) == 0,
                    "%s, %s: %s, of whole samples %s", what, s16 ? "S16" : "F32",
                    (char *)g_ptr_array_index(pieces, i), (char *)g_ptr_array_index(whole, i));
    g_ptr_array_unref(whole);
    g_ptr_array_unref(pieces);
}

/* Buffers that end inside a sample: the rest of it comes with the next buffer, and the captions
 * are those of whole buffers. The element read each buffer's whole samples alone, so every
 * sample after a cut was misread (16-bit: bytes of two samples, loud noise; float: garbage,
 * captions in the silence). The sample a buffer ends inside is finished by the next one across
 * what timestamps decide (a live source that pauses 1.5 s, a new timeline, or jitters 100 ms, a
 * dropout's silence), the same caps sent again, and the segment's start and stop (clipped in
 * samples: whole frames of the buffer's bytes cut where samples do not start); each of those
 * made every later sample of two halves. Bytes lost (a buffer marked DISCONT) or another
 * stream drop the sample's first bytes: the next buffer starts on a sample. */
GST_START_TEST(test_samples_split_between_buffers) {
    setup_talk();
    /* in the silence between the utterances: the 1 s after the first */
    gsize between = (gsize)gst_util_uint64_scale(utt_end[0] + 500 * MS, 16000, GST_SECOND);
    for (int s16 = 0; s16 < 2; s16++) {
        gsize bps = s16 ? 2 : 4;
        check_pieces_read_whole(NULL, NULL, NULL, s16, 2, "plain");

        /* the shift (not marked DISCONT) counts at once with discont-wait=0, at the split sample
         * (a live pipeline's stall-timeout ends the timeline at a pause); with the default it
         * counts once it has lasted 1 s, at a buffer that starts elsewhere in each cutting */
        const GstClockTime shifts[2] = {1500 * MS, 100 * MS};
        for (int i = 0; i < 2; i++) {
            on_the_way pieces = {.at = between * bps + 1, .shift = shifts[i], .props = "discont-wait=0"},
                       whole = {.at = between * bps, .shift = shifts[i], .props = "discont-wait=0"};
            check_pieces_read_whole(NULL, &pieces, &whole, s16, 2, i ? "a jitter of 100 ms" : "a pause of 1.5 s");
        }
        on_the_way caps_again = {.at = between * bps + 1, .caps_again = TRUE},
                   caps_again_whole = {.at = between * bps, .caps_again = TRUE};
        check_pieces_read_whole(NULL, &caps_again, &caps_again_whole, s16, 2, "the caps again");

        /* the segment starts in a piece that starts inside a sample (S16: byte 9657, F32: 19019),
         * and stops in the silence after the talk */
        GstSegment segment;
        gst_segment_init(&segment, GST_FORMAT_TIME);
        segment.start = segment.time = SAMPLES_TIME(4900);
        segment.stop = SAMPLES_TIME(n_talk - 3001);
        check_pieces_read_whole(&segment, NULL, NULL, s16, 2, "a segment");

        /* a sample's last bytes lost: the next buffer, on a sample, marked DISCONT (a parser's) */
        on_the_way lost = {.at = between * bps + 1, .lost = bps - 1, .discont = TRUE},
                   lost_whole = {.at = between * bps, .lost = bps, .discont = TRUE};
        check_pieces_read_whole(NULL, &lost, &lost_whole, s16, 2, "a DISCONT");
        lost.discont = lost_whole.discont = FALSE;
        lost.new_stream = lost_whole.new_stream = TRUE;
        check_pieces_read_whole(NULL, &lost, &lost_whole, s16, 2, "another stream");
    }
}
GST_END_TEST;

/* The talk through mslamasr on random weights with props, in 20 ms buffers from 1 s whose
 * timestamps jitter by up to jitter either way (the first on time), as a live appsrc with
 * do-timestamp=true stamps them by arrival: what said_at_eos says. The jitter is pseudo-random
 * from a fixed seed, and never more than 40 ms off for a second on end (no drift that lasts). */
static GPtrArray *captions_jittered(const char *props, GstClockTime jitter) {
    char *launch = g_strdup_printf("mslamasr model=%s %s", fx->random, props);
    GstHarness *h = gst_harness_new_parse(launch);
    g_free(launch);
    GstBus *bus = gst_bus_new();
    gst_element_set_bus(h->element, bus);
    gst_harness_set_src_caps_str(h, "audio/x-raw, format=F32LE, rate=16000, channels=1, layout=interleaved");
    GRand *rand = g_rand_new_with_seed(20261206);
    GstClockTime off_since = GST_CLOCK_TIME_NONE;
    for (size_t off = 0; off < n_talk; off += 320) {
        GstClockTime t = GST_SECOND + SAMPLES_TIME(off);
        GstClockTimeDiff j = off && jitter ? g_rand_int_range(rand, -(gint32)(jitter / 1000), (gint32)(jitter / 1000) + 1) * 1000 : 0;
        if (ABS(j) <= (GstClockTimeDiff)(40 * MS))
            off_since = GST_CLOCK_TIME_NONE;
        else if (!GST_CLOCK_TIME_IS_VALID(off_since))
            off_since = t;
        fail_unless(!GST_CLOCK_TIME_IS_VALID(off_since) || t - off_since < GST_SECOND, "a drift that lasts");
        fail_unless_equals_int(gst_harness_push(h, gsttest_pcm_buffer(talk + off, MIN(320, n_talk - off), FALSE, t + j)),
                               GST_FLOW_OK);
    }
    g_rand_free(rand);
    return said_at_eos(h, bus);
}

static gboolean same_said(const GPtrArray *a, const GPtrArray *b) {
    if (a->len != b->len) return FALSE;
    for (guint i = 0; i < a->len; i++)
        if (strcmp(g_ptr_array_index(a, i), g_ptr_array_index(b, i)) != 0) return FALSE;
    return TRUE;
}

static char *said_text(const GPtrArray *said) {
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < said->len; i++) g_string_append_printf(s, "\n  %s", (char *)g_ptr_array_index(said, i));
    return g_string_free(s, FALSE);
}

/* A live source that stamps its buffers as they arrive jitters: 20 ms buffers whose timestamps
 * are up to 80 or 150 ms off, never for a second on end, give the captions (text, times,
 * confidence) of the same audio on time, as the drift counts only once it lasts discont-wait.
 * Each jitter was silence put in or audio dropped in the middle of words: on the bundled model,
 * these buffers up to 150 ms off read the first utterance "d kii bu ct bptrtt ctd kidba a", on
 * time "the cuic raun focx jomp saove the lisidag". With discont-wait=0 every drift counts at
 * once, as before, and the captions change. */
GST_START_TEST(test_timestamp_jitter) {
    setup_talk();
    GPtrArray *on_time = captions_jittered("", 0);
    fail_unless(on_time->len >= 4, "%u captions and confidences", on_time->len);
    const GstClockTime jitters[2] = {80 * MS, 150 * MS};
    for (int i = 0; i < 2; i++) {
        GPtrArray *jittered = captions_jittered("", jitters[i]), *at_once = captions_jittered("discont-wait=0", jitters[i]);
        char *a = said_text(on_time), *b = said_text(jittered);
        fail_unless(same_said(jittered, on_time), "a jitter of %" GST_TIME_FORMAT ":%s\non time:%s",
                    GST_TIME_ARGS(jitters[i]), b, a);
        fail_unless(!same_said(at_once, on_time), "discont-wait=0, a jitter of %" GST_TIME_FORMAT
                    ": the captions on time", GST_TIME_ARGS(jitters[i]));
        g_free(a);
        g_free(b);
        g_ptr_array_unref(jittered);
        g_ptr_array_unref(at_once);
    }
    g_ptr_array_unref(on_time);
}
GST_END_TEST;

typedef struct {
    GstClockTime pts, end;
    char *text;
} pulled_caption;

static void pulled_caption_clear(gpointer p) {
    g_free(((pulled_caption *)p)->text);
}

/* EOS into h, and the captions that come out (taken from h, which is torn down). */
static GArray *captions_at_eos(GstHarness *h) {
    fail_unless(gst_harness_push_event(h, gst_event_new_eos()));
    GArray *caps = g_array_new(FALSE, TRUE, sizeof(pulled_caption));
    g_array_set_clear_func(caps, pulled_caption_clear);
    for (GstBuffer *b; (b = gst_harness_try_pull(h)); gst_buffer_unref(b)) {
        GstMapInfo map;
        fail_unless(gst_buffer_map(b, &map, GST_MAP_READ));
        pulled_caption c = {GST_BUFFER_PTS(b), GST_BUFFER_PTS(b) + GST_BUFFER_DURATION(b),
                            g_strndup((const char *)map.data, map.size)};
        gst_buffer_unmap(b, &map);
        g_array_append_val(caps, c);
    }
    gst_harness_teardown(h);
    return caps;
}

/* The talk through mslamasr (loudness model, props) in 100 ms buffers, with a hole of `hole` in
 * the timestamps at sample `at` (0: none), the buffer after it marked DISCONT when discont:
 * the captions at EOS. */
static GArray *captions_with_hole(const char *props, size_t at, GstClockTime hole, gboolean discont) {
    GstHarness *h = asr_harness(props);
    if (at == 0) {
        push_audio(h, talk, 0, n_talk, 0);
    } else {
        push_audio(h, talk, 0, at, 0);
        (discont ? push_audio_discont : push_audio)(h, talk, at, n_talk, SAMPLES_TIME(at) + hole);
    }
    return captions_at_eos(h);
}

#define CAPTION(a, i) (&g_array_index((a), pulled_caption, (i)))

/* Whether a caption of caps ends within EDGE_TOLERANCE of t and the next starts within it of
 * next: the caption cut there. */
static gboolean cut_at(const GArray *caps, GstClockTime t, GstClockTime next) {
    for (guint i = 0; i + 1 < caps->len; i++)
        if (CAPTION(caps, i)->end + EDGE_TOLERANCE >= t && CAPTION(caps, i)->end <= t + EDGE_TOLERANCE &&
            CAPTION(caps, i + 1)->pts + EDGE_TOLERANCE >= next && CAPTION(caps, i + 1)->pts <= next + EDGE_TOLERANCE)
            return TRUE;
    return FALSE;
}

/* A hole of 500 ms in the timestamps in the middle of a word, the buffer after it marked
 * DISCONT (packets lost: rtpjitterbuffer marks the next buffer), is silence at once: the caption
 * ends at the hole and the next starts after it, on the buffers' times. Not marked, the audio
 * is continuous until the drift has lasted discont-wait (1 s): the word keeps its caption (with
 * discont-wait=0, as before, the hole is silence at once). */
GST_START_TEST(test_discont_hole) {
    setup_talk();
    size_t mid = (size_t)(utt_start[0] * 16000 / GST_SECOND) + fx->n_speech[0] / 2;
    GstClockTime t = SAMPLES_TIME(mid), hole = 500 * MS;
    GArray *marked = captions_with_hole(NULL, mid, hole, TRUE), *unmarked = captions_with_hole(NULL, mid, hole, FALSE),
           *at_once = captions_with_hole("discont-wait=0", mid, hole, FALSE);
    fail_unless(marked->len == 3 && cut_at(marked, t, t + hole), "marked DISCONT: %u captions, the first ends at %"
                GST_TIME_FORMAT ", the hole at %" GST_TIME_FORMAT, marked->len,
                GST_TIME_ARGS(marked->len ? CAPTION(marked, 0)->end : 0), GST_TIME_ARGS(t));
    fail_unless(at_once->len == 3 && cut_at(at_once, t, t + hole), "discont-wait=0: %u captions", at_once->len);
    fail_unless(unmarked->len >= 1 && CAPTION(unmarked, 0)->pts < t && CAPTION(unmarked, 0)->end > t + EDGE_TOLERANCE,
                "not marked: the first caption ends at %" GST_TIME_FORMAT ", the hole at %" GST_TIME_FORMAT,
                GST_TIME_ARGS(unmarked->len ? CAPTION(unmarked, 0)->end : 0), GST_TIME_ARGS(t));
    fail_unless(!cut_at(unmarked, t, t + hole), "not marked: the caption was cut at the hole");
    g_array_unref(marked);
    g_array_unref(unmarked);
    g_array_unref(at_once);
}
GST_END_TEST;

/* A drift that lasts, not marked DISCONT (the source's clock jumped 300 ms ahead, near the end of
 * the first utterance): the audio is continuous until the drift has lasted discont-wait (1 s),
 * so the first caption is that of the talk on time; then it counts, as a hole: 300 ms of
 * silence, and the second caption lies on the buffers' times, 300 ms later. With
 * discont-wait=0 the silence came at once, in the word. */
GST_START_TEST(test_clock_jump) {
    setup_talk();
    fail_unless(fx->n_speech[0] > 8000 && fx->n_speech[0] < 48000, "utterance 0 is %zu samples", fx->n_speech[0]);
    size_t at = (size_t)(utt_end[0] * 16000 / GST_SECOND) - 8000;
    GstClockTime jump = 300 * MS;
    GArray *on_time = captions_with_hole(NULL, 0, 0, FALSE), *later = captions_with_hole(NULL, at, jump, FALSE),
           *at_once = captions_with_hole("discont-wait=0", at, jump, FALSE);
    fail_unless_equals_int(on_time->len, 2);
    fail_unless_equals_int(later->len, 2);
    fail_unless(at_once->len >= 2);
    fail_unless(CAPTION(later, 0)->pts == CAPTION(on_time, 0)->pts && CAPTION(later, 0)->end == CAPTION(on_time, 0)->end,
                "the first caption at %" GST_TIME_FORMAT " - %" GST_TIME_FORMAT ", on time %" GST_TIME_FORMAT
                " - %" GST_TIME_FORMAT, GST_TIME_ARGS(CAPTION(later, 0)->pts), GST_TIME_ARGS(CAPTION(later, 0)->end),
                GST_TIME_ARGS(CAPTION(on_time, 0)->pts), GST_TIME_ARGS(CAPTION(on_time, 0)->end));
    fail_unless_equals_string(CAPTION(later, 0)->text, CAPTION(on_time, 0)->text);
    /* the second: a frame of rounding either way (the silence is not whole encoder frames) */
    GstClockTime s = CAPTION(on_time, 1)->pts + jump, e = CAPTION(on_time, 1)->end + jump;
    fail_unless(CAPTION(later, 1)->pts + 40 * MS >= s && CAPTION(later, 1)->pts <= s + 40 * MS &&
                CAPTION(later, 1)->end + 40 * MS >= e && CAPTION(later, 1)->end <= e + 40 * MS,
                "the second caption at %" GST_TIME_FORMAT " - %" GST_TIME_FORMAT ", on the buffers' times %"
                GST_TIME_FORMAT " - %" GST_TIME_FORMAT, GST_TIME_ARGS(CAPTION(later, 1)->pts),
                GST_TIME_ARGS(CAPTION(later, 1)->end), GST_TIME_ARGS(s), GST_TIME_ARGS(e));
    /* at once: the end of the first utterance is 300 ms later */
    GstClockTime end0 = CAPTION(at_once, at_once->len - 2)->end;
    fail_unless(end0 + 40 * MS >= CAPTION(on_time, 0)->end + jump && end0 <= CAPTION(on_time, 0)->end + jump + 40 * MS,
                "discont-wait=0: the first utterance ends at %" GST_TIME_FORMAT, GST_TIME_ARGS(end0));
    g_array_unref(on_time);
    g_array_unref(later);
    g_array_unref(at_once);
}
GST_END_TEST;

/* The same jump backwards: after discont-wait the whole overlap (300 ms, three of the test's
 * buffers) is dropped at once, and the second caption is 300 ms earlier (an overlap dropped a
 * buffer at a time, the drift waited out again after each, had it 100 ms earlier). */
GST_START_TEST(test_clock_jump_back) {
    setup_talk();
    size_t at = (size_t)(utt_end[0] * 16000 / GST_SECOND) - 8000;
    GstClockTime jump = 300 * MS;
    /* (SAMPLES_TIME(at) + hole wraps to 300 ms before the samples' time) */
    GArray *on_time = captions_with_hole(NULL, 0, 0, FALSE),
           *earlier = captions_with_hole(NULL, at, (GstClockTime) - (GstClockTimeDiff)jump, FALSE);
    fail_unless_equals_int(on_time->len, 2);
    fail_unless_equals_int(earlier->len, 2);
    GstClockTime s = CAPTION(on_time, 1)->pts - jump, e = CAPTION(on_time, 1)->end - jump;
    fail_unless(CAPTION(earlier, 1)->pts + 40 * MS >= s && CAPTION(earlier, 1)->pts <= s + 40 * MS &&
                CAPTION(earlier, 1)->end + 40 * MS >= e && CAPTION(earlier, 1)->end <= e + 40 * MS,
                "the second caption at %" GST_TIME_FORMAT " - %" GST_TIME_FORMAT ", on the buffers' times %"
                GST_TIME_FORMAT " - %" GST_TIME_FORMAT, GST_TIME_ARGS(CAPTION(earlier, 1)->pts),
                GST_TIME_ARGS(CAPTION(earlier, 1)->end), GST_TIME_ARGS(s), GST_TIME_ARGS(e));
    g_array_unref(on_time);
    g_array_unref(earlier);
}
GST_END_TEST;

/* A source whose clock starts again from 0 between the utterances (marked DISCONT: at once): a
 * new timeline, whose caption would lie before the first one's; its text goes out after what the
 * first put out (its end, a GAP to where the timeline ended), shifted as a whole, so that times
 * never go back (a pause and play of a live RTP source had put a caption before the one it
 * followed) and the spacing stays: here the second caption is where it is without the restart. */
GST_START_TEST(test_clock_restarts) {
    setup_talk();
    size_t between = (size_t)((utt_end[0] + utt_start[1]) / 2 * 16000 / GST_SECOND);
    GArray *on_time = captions_with_hole(NULL, 0, 0, FALSE),
           *again = captions_with_hole(NULL, between, (GstClockTime) - (GstClockTimeDiff)SAMPLES_TIME(between), TRUE);
    fail_unless_equals_int(on_time->len, 2);
    fail_unless_equals_int(again->len, 2);
    fail_unless(CAPTION(again, 1)->pts >= CAPTION(again, 0)->end && CAPTION(again, 1)->pts + 80 * MS >= CAPTION(on_time, 1)->pts &&
                CAPTION(again, 1)->pts <= CAPTION(on_time, 1)->pts + 80 * MS,
                "the second caption at %" GST_TIME_FORMAT " (on time %" GST_TIME_FORMAT "), the first ends at %"
                GST_TIME_FORMAT, GST_TIME_ARGS(CAPTION(again, 1)->pts), GST_TIME_ARGS(CAPTION(on_time, 1)->pts),
                GST_TIME_ARGS(CAPTION(again, 0)->end));
    GstClockTime d = CAPTION(again, 1)->end - CAPTION(again, 1)->pts,
                 d_on_time = CAPTION(on_time, 1)->end - CAPTION(on_time, 1)->pts;
    fail_unless(d + 40 * MS >= d_on_time && d <= d_on_time + 40 * MS, "the second lasts %" GST_TIME_FORMAT
                ", on time %" GST_TIME_FORMAT, GST_TIME_ARGS(d), GST_TIME_ARGS(d_on_time));
    g_array_unref(on_time);
    g_array_unref(again);
}
GST_END_TEST;

/* A dropout's GAP while a drift is waited out (buffers 60 ms late from 200 ms before the middle
 * of a word, then a GAP of 40 ms at their times, then the rest as late): silence up to the GAP's
 * end, as a dropout is, and the word keeps its caption (the GAP, 60 ms off the samples counted,
 * had ended the timeline and cut the caption in two). */
GST_START_TEST(test_gap_during_drift) {
    setup_talk();
    GstHarness *h = asr_harness(NULL);
    size_t mid = ((size_t)(utt_start[0] * 16000 / GST_SECOND) + fx->n_speech[0] / 2) / 320 * 320;
    size_t late = mid - 3200;
    for (size_t off = 0; off < mid; off += 320)
        fail_unless_equals_int(gst_harness_push(h, gsttest_pcm_buffer(talk + off, 320, FALSE,
                                                                      SAMPLES_TIME(off) + (off < late ? 0 : 60 * MS))),
                               GST_FLOW_OK);
    fail_unless(gst_harness_push_event(h, gst_event_new_gap(SAMPLES_TIME(mid) + 60 * MS, 40 * MS)));
    for (size_t off = mid + 640; off + 320 <= n_talk; off += 320)
        fail_unless_equals_int(gst_harness_push(h, gsttest_pcm_buffer(talk + off, 320, FALSE, SAMPLES_TIME(off) + 60 * MS)),
                               GST_FLOW_OK);
    fail_unless(gst_harness_push_event(h, gst_event_new_eos()));
    fail_unless_equals_int(gst_harness_buffers_received(h), 2);
    gst_harness_teardown(h);
}
GST_END_TEST;

/* A live source that stops mid-sentence (a sender gone): stall-timeout (1 s) after its last
 * buffer ended, on the element's clock, the open caption goes out as after a long GAP; with a
 * source that is not live, or stall-timeout 0, nothing waits on the clock. The test clock stands
 * still, so every buffer sets the same deadline: 1.1 s (a buffer of 100 ms, then 1 s). */
static GstHarness *stalling_harness(const char *props, gboolean live, size_t *said) {
    GstHarness *h = asr_harness(props);
    gst_harness_set_live(h, live);
    gst_harness_use_testclock(h);
    gst_harness_play(h);
    /* the middle of utterance 0, in whole buffers (one deadline): a caption is open, none is final */
    *said = ((size_t)(utt_start[0] * 16000 / GST_SECOND) + fx->n_speech[0] / 2) / 1600 * 1600;
    push_audio(h, talk, 0, *said, 0);
    fail_unless_equals_int(gst_harness_buffers_received(h), 0);
    return h;
}

GST_START_TEST(test_live_source_stops) {
    setup_talk();
    size_t said;
    GstHarness *h = stalling_harness(NULL, TRUE, &said);
    GstTestClock *clock = gst_harness_get_testclock(h);
    GstClockID id;
    gst_test_clock_wait_for_next_pending_id(clock, &id);
    fail_unless_equals_uint64(gst_clock_id_get_time(id), 1100 * MS);
    gst_clock_id_unref(id);
    fail_unless(gst_test_clock_crank(clock));
    GstBuffer *b = gst_harness_pull(h);
    fail_unless(b != NULL, "no caption after the stall");
    GstMapInfo map;
    fail_unless(gst_buffer_map(b, &map, GST_MAP_READ));
    char *text = g_strndup((const char *)map.data, map.size);
    gst_buffer_unmap(b, &map);
    fail_unless(only_a(text), "caption \"%s\"", text);
    fail_unless(GST_BUFFER_PTS(b) + EDGE_TOLERANCE >= utt_start[0] && GST_BUFFER_PTS(b) <= utt_start[0] + EDGE_TOLERANCE,
                "caption at %" GST_TIME_FORMAT, GST_TIME_ARGS(GST_BUFFER_PTS(b)));
    fail_unless(GST_BUFFER_PTS(b) + GST_BUFFER_DURATION(b) <= SAMPLES_TIME(said) + EDGE_TOLERANCE);
    g_free(text);
    gst_buffer_unref(b);
    /* the source comes back: a new timeline, whose speech makes a caption of its own */
    push_audio(h, talk, (size_t)(utt_end[0] * 16000 / GST_SECOND), n_talk, 5 * GST_SECOND);
    fail_unless(gst_harness_push_event(h, gst_event_new_eos()));
    fail_unless_equals_int(gst_harness_buffers_received(h), 2);
    gst_object_unref(clock);
    gst_harness_teardown(h);

    /* not live, or stall-timeout=0: no wait on the clock, and the caption waits for EOS */
    for (int k = 0; k < 2; k++) {
        h = stalling_harness(k ? "stall-timeout=0" : NULL, k == 1, &said);
        clock = gst_harness_get_testclock(h);
        fail_if(gst_test_clock_timed_wait_for_multiple_pending_ids(clock, 1, 300, NULL),
                "a wait on the clock (%s)", k ? "stall-timeout=0" : "not live");
        fail_unless_equals_int(gst_harness_buffers_received(h), 0);
        fail_unless(gst_harness_push_event(h, gst_event_new_eos()));
        fail_unless_equals_int(gst_harness_buffers_received(h), 1);
        gst_object_unref(clock);
        gst_harness_teardown(h);
    }
}
GST_END_TEST;

/* Final caption messages on bus until it has been quiet for wait. */
static int final_messages(GstBus *bus, GstClockTime wait) {
    int finals = 0;
    for (GstMessage *m; (m = gst_bus_timed_pop_filtered(bus, wait, GST_MESSAGE_ELEMENT)); gst_message_unref(m)) {
        gboolean final = FALSE;
        const GstStructure *s = gst_message_get_structure(m);
        finals += s && gst_structure_get_boolean(s, "final", &final) && final;
    }
    return finals;
}

/* The stall watch's edges (from a review): a flush's audio is not drained as a stall; after
 * PAUSED -> PLAYING the audio is due again (a source gone while paused still ends the caption);
 * stall-timeout lowered while playing takes the next buffer's deadline at once; the streaming
 * thread busy inside the element past the deadline (an event) is no stall. */
GST_START_TEST(test_stall_edges) {
    setup_talk();
    size_t said;
    GstClockID id;
    /* FLUSH_START before the deadline: nothing waits any more, and no caption of the flushed audio */
    GstHarness *h = stalling_harness(NULL, TRUE, &said);
    GstTestClock *clock = gst_harness_get_testclock(h);
    GstBus *bus = gst_bus_new();
    gst_element_set_bus(h->element, bus);
    gst_test_clock_wait_for_next_pending_id(clock, NULL);
    fail_unless(gst_harness_push_event(h, gst_event_new_flush_start()));
    fail_if(gst_test_clock_timed_wait_for_multiple_pending_ids(clock, 1, 300, NULL), "a wait after FLUSH_START");
    fail_unless(gst_harness_push_event(h, gst_event_new_flush_stop(TRUE)));
    fail_unless_equals_int(final_messages(bus, 300 * MS), 0);
    gst_element_set_bus(h->element, NULL);
    gst_object_unref(bus);
    gst_object_unref(clock);
    gst_harness_teardown(h);

    /* a serialized event between buffers (a tag) does not bring the next buffer's due time
     * forward: the wait stays at 1.1 s (it was moved to 1 s, the event's time + 1 s) */
    h = stalling_harness(NULL, TRUE, &said);
    clock = gst_harness_get_testclock(h);
    gst_test_clock_wait_for_next_pending_id(clock, NULL);
    GstTagList *tags = gst_tag_list_new(GST_TAG_BITRATE, 64000, NULL);
    gst_tag_list_set_scope(tags, GST_TAG_SCOPE_STREAM);
    fail_unless(gst_harness_push_event(h, gst_event_new_tag(tags)));
    for (int tries = 0; tries < 30; tries++) { /* 300 ms for the watch to take the event */
        GstClockTime due = 1100 * MS;
        if (gst_test_clock_peek_next_pending_id(clock, &id)) {
            due = gst_clock_id_get_time(id);
            gst_clock_id_unref(id);
        }
        fail_unless_equals_uint64(due, 1100 * MS);
        g_usleep(10000);
    }
    gst_object_unref(clock);
    gst_harness_teardown(h);

    /* paused and playing again with the source gone: the caption goes out stall-timeout later */
    h = stalling_harness(NULL, TRUE, &said);
    clock = gst_harness_get_testclock(h);
    gst_test_clock_wait_for_next_pending_id(clock, NULL);
    fail_unless(gst_element_set_state(h->element, GST_STATE_PAUSED) != GST_STATE_CHANGE_FAILURE);
    fail_unless(gst_element_set_state(h->element, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
    fail_unless(gst_test_clock_crank(clock));
    GstBuffer *b = gst_harness_pull(h);
    fail_unless(b != NULL, "no caption after PAUSED -> PLAYING");
    gst_buffer_unref(b);
    gst_object_unref(clock);
    gst_harness_teardown(h);

    /* stall-timeout lowered from 60 s to 1 s while playing: the next buffer's deadline is waited for */
    h = stalling_harness("stall-timeout=60000", TRUE, &said);
    clock = gst_harness_get_testclock(h);
    gst_test_clock_wait_for_next_pending_id(clock, &id);
    fail_unless_equals_uint64(gst_clock_id_get_time(id), 60100 * MS);
    gst_clock_id_unref(id);
    GstElement *asr = gst_harness_find_element(h, "mslamasr");
    g_object_set(asr, "stall-timeout", 1000, NULL);
    gst_object_unref(asr);
    push_audio(h, talk, said, said + 1600, SAMPLES_TIME(said));
    GstClockTime next = 0; /* the old wait goes, the new one comes (within 5 s) */
    for (int tries = 0; tries < 500 && next != 1100 * MS; tries++) {
        if (gst_test_clock_peek_next_pending_id(clock, &id)) {
            next = gst_clock_id_get_time(id);
            gst_clock_id_unref(id);
        }
        if (next != 1100 * MS) g_usleep(10000);
    }
    fail_unless_equals_uint64(next, 1100 * MS);
    fail_unless(gst_test_clock_crank(clock));
    b = gst_harness_pull(h);
    fail_unless(b != NULL, "no caption at the lowered timeout");
    gst_buffer_unref(b);
    gst_object_unref(clock);
    gst_harness_teardown(h);

    /* the streaming thread inside the element past the deadline (this thread holds the stream
     * lock, then sends a dropout GAP through it): the utterance goes on, one caption */
    h = stalling_harness(NULL, TRUE, &said);
    clock = gst_harness_get_testclock(h);
    asr = gst_harness_find_element(h, "mslamasr");
    GstPad *sink = gst_element_get_static_pad(asr, "sink");
    gst_test_clock_wait_for_next_pending_id(clock, NULL);
    GST_PAD_STREAM_LOCK(sink);
    fail_unless(gst_test_clock_crank(clock));
    g_usleep(100000); /* (the watch thread waits for the stream lock, or will) */
    fail_unless(gst_harness_push_event(h, gst_event_new_gap(SAMPLES_TIME(said), 100 * MS)));
    GST_PAD_STREAM_UNLOCK(sink);
    push_audio(h, talk, said + 1600, n_talk, SAMPLES_TIME(said + 1600));
    fail_unless(gst_harness_push_event(h, gst_event_new_eos()));
    fail_unless_equals_int(gst_harness_buffers_received(h), 2);
    gst_object_unref(sink);
    gst_object_unref(asr);
    gst_object_unref(clock);
    gst_harness_teardown(h);
}
GST_END_TEST;

/* FLUSH forgets the open caption: after it, captions come only from the new audio, on the new
 * timeline. */
GST_START_TEST(test_flush) {
    setup_talk();
    GstHarness *h = asr_harness(NULL);
    /* the middle of utterance 0: a caption is open, none is final */
    size_t s0 = (size_t)(utt_start[0] * 16000 / GST_SECOND);
    push_audio(h, talk, 0, s0 + fx->n_speech[0] / 2, 0);
    fail_unless_equals_int(gst_harness_buffers_received(h), 0);
    flush_to(h, 5 * GST_SECOND);
    /* the whole talk again from 5 s */
    push_audio(h, talk, 0, n_talk, 5 * GST_SECOND);
    fail_unless(gst_harness_push_event(h, gst_event_new_eos()));
    fail_unless_equals_int(gst_harness_buffers_received(h), 2);
    for (int i = 0; i < 2; i++) {
        GstBuffer *b = gst_harness_pull(h);
        GstClockTime s = 5 * GST_SECOND + utt_start[i];
        fail_unless(GST_BUFFER_PTS(b) + EDGE_TOLERANCE >= s && GST_BUFFER_PTS(b) <= s + EDGE_TOLERANCE,
                    "caption %d at %" GST_TIME_FORMAT, i, GST_TIME_ARGS(GST_BUFFER_PTS(b)));
        gst_buffer_unref(b);
    }
    gst_harness_teardown(h);
}
GST_END_TEST;

/* SEGMENT_DONE (the end of a segment seek's segment) puts out the open caption before it goes
 * downstream, as EOS does: an application may stop there. */
GST_START_TEST(test_segment_done) {
    setup_talk();
    GstHarness *h = asr_harness("pause=2000");
    /* utterance 0 and the 1 s after it: no pause of 2 s, so its caption is still open */
    size_t end0 = (size_t)(utt_end[0] * 16000 / GST_SECOND);
    push_audio(h, talk, 0, end0 + 16000, 0);
    fail_unless_equals_int(gst_harness_buffers_received(h), 0);
    fail_unless(gst_harness_push_event(h, gst_event_new_segment_done(GST_FORMAT_TIME, SAMPLES_TIME(end0 + 16000))));
    fail_unless_equals_int(gst_harness_buffers_received(h), 1);
    GstBuffer *b = gst_harness_pull(h);
    fail_unless(GST_BUFFER_PTS(b) + GST_BUFFER_DURATION(b) <= utt_end[0] + EDGE_TOLERANCE,
                "the caption ends at %" GST_TIME_FORMAT ", its speech at %" GST_TIME_FORMAT,
                GST_TIME_ARGS(GST_BUFFER_PTS(b) + GST_BUFFER_DURATION(b)), GST_TIME_ARGS(utt_end[0]));
    gst_buffer_unref(b);
    gboolean forwarded = FALSE;
    for (GstEvent *e; (e = gst_harness_try_pull_event(h)); gst_event_unref(e))
        forwarded |= GST_EVENT_TYPE(e) == GST_EVENT_SEGMENT_DONE;
    fail_unless(forwarded, "SEGMENT_DONE did not go downstream");
    gst_harness_teardown(h);
}
GST_END_TEST;

/* An upstream GAP of up to a second is a dropout (lost packets): silence on the same timeline, so
 * a 40 ms one inside a word leaves its caption whole; a longer one ends the caption at once. So
 * is a hole of up to a second in the timestamps, and audio overlapping the timeline is cut. */
GST_START_TEST(test_upstream_gaps) {
    setup_talk();
    size_t mid = (size_t)(utt_start[0] * 16000 / GST_SECOND) + fx->n_speech[0] / 2, lost = 640;
    GstHarness *h = asr_harness(NULL);
    push_audio(h, talk, 0, mid, 0);
    fail_unless(gst_harness_push_event(h, gst_event_new_gap(SAMPLES_TIME(mid), SAMPLES_TIME(lost))));
    push_audio(h, talk, mid + lost, n_talk, SAMPLES_TIME(mid + lost));
    fail_unless(gst_harness_push_event(h, gst_event_new_eos()));
    fail_unless_equals_int(gst_harness_buffers_received(h), 2);
    GstBuffer *b = gst_harness_pull(h);
    fail_unless(GST_BUFFER_PTS(b) + GST_BUFFER_DURATION(b) + EDGE_TOLERANCE >= utt_end[0],
                "the dropout cut the caption at %" GST_TIME_FORMAT ", its speech ends at %" GST_TIME_FORMAT,
                GST_TIME_ARGS(GST_BUFFER_PTS(b) + GST_BUFFER_DURATION(b)), GST_TIME_ARGS(utt_end[0]));
    gst_buffer_unref(b);
    gst_harness_teardown(h);

    h = asr_harness(NULL);
    push_audio(h, talk, 0, mid, 0);
    fail_unless_equals_int(gst_harness_buffers_received(h), 0);
    fail_unless(gst_harness_push_event(h, gst_event_new_gap(SAMPLES_TIME(mid), 3 * GST_SECOND)));
    fail_unless_equals_int(gst_harness_buffers_received(h), 1);
    gst_harness_teardown(h);

    /* a hole in the timestamps without a GAP (60 ms of packets lost, the next buffer marked DISCONT,
     * as rtpjitterbuffer without do-lost marks it) is the same dropout; and audio
     * that a dropout's silence ran over (80 ms of GAP, then the buffer that was due at its start)
     * loses only what the timeline already holds: the word keeps its caption either way; the
     * audio after the dropout lies on its timestamps at once (the DISCONT, the GAP), however long
     * discont-wait, so the caption ends where it ends without loss */
    GArray *no_loss = captions_with_hole(NULL, 0, 0, FALSE);
    fail_unless_equals_int(no_loss->len, 2);
    for (int overlap = 0; overlap < 2; overlap++) {
        h = asr_harness("discont-wait=60000");
        push_audio(h, talk, 0, mid, 0);
        if (overlap) {
            fail_unless(gst_harness_push_event(h, gst_event_new_gap(SAMPLES_TIME(mid), 80 * MS)));
            push_audio(h, talk, mid, n_talk, SAMPLES_TIME(mid));
        } else {
            push_audio_discont(h, talk, mid + 960, n_talk, SAMPLES_TIME(mid + 960));
        }
        fail_unless(gst_harness_push_event(h, gst_event_new_eos()));
        fail_unless_equals_int(gst_harness_buffers_received(h), 2);
        b = gst_harness_pull(h);
        GstClockTime end = GST_BUFFER_PTS(b) + GST_BUFFER_DURATION(b);
        fail_unless(end + 20 * MS >= CAPTION(no_loss, 0)->end && end <= CAPTION(no_loss, 0)->end + 20 * MS,
                    "%s: the caption ends at %" GST_TIME_FORMAT ", without loss at %" GST_TIME_FORMAT,
                    overlap ? "an overlap" : "a hole", GST_TIME_ARGS(end), GST_TIME_ARGS(CAPTION(no_loss, 0)->end));
        gst_buffer_unref(b);
        gst_harness_teardown(h);
    }
    g_array_unref(no_loss);
}
GST_END_TEST;

/* The text stream's tags: the audio's language, not its codec or bitrate (mslamasr), or the one
 * language its languages property names, else und; English (mslamtranslate, also without tags
 * from upstream), once; global tags pass as they are.
 * *n_stream: how many stream tag events came out. */
static GstTagList *pushed_tags(const char *element, gboolean tag_upstream, GstTagList **global, int *n_stream) {
    char *launch = g_strdup_printf("%s model=%s", element, fx->loud);
    GstHarness *h = gst_harness_new_parse(launch);
    g_free(launch);
    gst_harness_set_src_caps_str(h, "audio/x-raw, format=F32LE, rate=16000, channels=1, layout=interleaved");
    if (tag_upstream) {
        GstTagList *stream = gst_tag_list_new(GST_TAG_LANGUAGE_CODE, "es", GST_TAG_BITRATE, 256000, GST_TAG_AUDIO_CODEC,
                                              "Uncompressed 16-bit PCM audio", NULL);
        gst_tag_list_set_scope(stream, GST_TAG_SCOPE_STREAM);
        GstTagList *whole = gst_tag_list_new(GST_TAG_TITLE, "Talk", NULL);
        gst_tag_list_set_scope(whole, GST_TAG_SCOPE_GLOBAL);
        fail_unless(gst_harness_push_event(h, gst_event_new_tag(stream)));
        fail_unless(gst_harness_push_event(h, gst_event_new_tag(whole)));
    }
    push_audio(h, talk, 0, 16000, 0);
    GstTagList *stream_tags = NULL;
    *global = NULL;
    *n_stream = 0;
    for (GstEvent *e; (e = gst_harness_try_pull_event(h)); gst_event_unref(e)) {
        if (GST_EVENT_TYPE(e) != GST_EVENT_TAG) continue;
        GstTagList *t;
        gst_event_parse_tag(e, &t);
        *n_stream += gst_tag_list_get_scope(t) == GST_TAG_SCOPE_STREAM;
        GstTagList **into = gst_tag_list_get_scope(t) == GST_TAG_SCOPE_GLOBAL ? global : &stream_tags;
        if (*into) gst_tag_list_unref(*into);
        *into = gst_tag_list_ref(t);
    }
    gst_harness_teardown(h);
    return stream_tags;
}

/* The language code of the text stream's last stream tags as pushed_tags gets them (NULL: none;
 * g_free it); *n_stream as there. */
static gchar *text_language_of(const char *element, gboolean tag_upstream, int *n_stream) {
    GstTagList *global = NULL, *tags = pushed_tags(element, tag_upstream, &global, n_stream);
    gchar *code = NULL;
    if (tags) {
        gst_tag_list_get_string(tags, GST_TAG_LANGUAGE_CODE, &code);
        gst_tag_list_unref(tags);
    }
    if (global) gst_tag_list_unref(global);
    return code;
}

GST_START_TEST(test_text_tags) {
    setup_talk();
    int n_stream;
    GstTagList *global = NULL, *tags = pushed_tags("mslamasr", TRUE, &global, &n_stream);
    gchar *code = NULL, *title = NULL;
    guint bitrate;
    fail_unless(tags && gst_tag_list_get_string(tags, GST_TAG_LANGUAGE_CODE, &code) && !g_strcmp0(code, "es"));
    fail_if(gst_tag_list_get_uint(tags, GST_TAG_BITRATE, &bitrate), "the audio's bitrate on the text");
    fail_if(gst_tag_list_get_string(tags, GST_TAG_AUDIO_CODEC, &title), "the audio's codec on the text");
    fail_unless(global && gst_tag_list_get_string(global, GST_TAG_TITLE, &title) && !g_strcmp0(title, "Talk"));
    g_free(code), g_free(title), code = title = NULL;
    gst_tag_list_unref(tags), gst_tag_list_unref(global);
    /* no language from upstream nor named: undetermined (without a tag a Matroska track is read
     * as English) */
    code = text_language_of("mslamasr", FALSE, &n_stream);
    fail_unless(!g_strcmp0(code, "und"), "mslamasr's text without a language is not tagged und (%s)", code);
    fail_unless_equals_int(n_stream, 1);
    g_free(code), code = NULL;
    /* a seek (a new segment) leaves the audio's language on the text: no und over it */
    GstHarness *h = asr_harness(NULL);
    GstTagList *spanish = gst_tag_list_new(GST_TAG_LANGUAGE_CODE, "es", NULL);
    gst_tag_list_set_scope(spanish, GST_TAG_SCOPE_STREAM);
    fail_unless(gst_harness_push_event(h, gst_event_new_tag(spanish)));
    push_audio(h, talk, 0, 16000, 0);
    flush_to(h, GST_SECOND);
    push_audio(h, talk, 16000, 32000, GST_SECOND);
    gboolean spanish_seen = FALSE;
    for (GstEvent *e; (e = gst_harness_try_pull_event(h)); gst_event_unref(e)) {
        GstTagList *t;
        if (GST_EVENT_TYPE(e) != GST_EVENT_TAG) continue;
        gst_event_parse_tag(e, &t);
        if (gst_tag_list_get_scope(t) != GST_TAG_SCOPE_STREAM || !gst_tag_list_get_string(t, GST_TAG_LANGUAGE_CODE, &code))
            continue;
        fail_if(spanish_seen && strcmp(code, "es"), "the text tagged %s after es", code);
        spanish_seen = spanish_seen || !strcmp(code, "es");
        g_free(code), code = NULL;
    }
    fail_unless(spanish_seen);
    gst_harness_teardown(h);
    /* one language named: the captions are in it, whatever the audio's tags say */
    for (int upstream = 0; upstream < 2; upstream++) {
        code = text_language_of("mslamasr languages=deu", upstream, &n_stream);
        fail_unless(!g_strcmp0(code, "de"), "mslamasr languages=deu's text is not tagged German (%s, tags from upstream: %d)",
                    code, upstream);
        g_free(code), code = NULL;
    }
    for (int upstream = 0; upstream < 2; upstream++) {
        code = text_language_of("mslamtranslate", upstream, &n_stream);
        fail_unless(!g_strcmp0(code, "en"), "mslamtranslate's text is not tagged English (%s, tags from upstream: %d)",
                    code, upstream);
        /* upstream's tags change nothing of the text's: the segment's tag event was all */
        fail_unless_equals_int(n_stream, 1);
        g_free(code), code = NULL;
    }
}
GST_END_TEST;

/* lead samples of silence, then the talk (*n samples in all; g_free it). */
static float *talk_after(size_t lead, size_t *n) {
    *n = lead + n_talk;
    float *pcm = g_new0(float, *n);
    memcpy(pcm + lead, talk, n_talk * sizeof *talk);
    return pcm;
}

/* Whether caps are as many as the reference's captions, each starting within 40 ms of its
 * counterpart's time plus offset. */
static void fail_unless_captions_at(const GArray *caps, const GArray *reference, GstClockTime offset,
                                    const char *what) {
    fail_unless(caps->len == reference->len, "%u captions %s, %u without", caps->len, what, reference->len);
    for (guint i = 0; i < caps->len; i++) {
        GstClockTime at = CAPTION(reference, i)->pts + offset, pts = CAPTION(caps, i)->pts;
        fail_unless(pts + 40 * MS >= at && pts <= at + 40 * MS,
                    "caption %u starts at %" GST_TIME_FORMAT " %s, at %" GST_TIME_FORMAT " without", i,
                    GST_TIME_ARGS(pts), what, GST_TIME_ARGS(at));
    }
}

/* A flush (a seek) or a dropout GAP keeps the noise floor the element has learnt: the talk half
 * a second into the same steady noise after either gets the captions it gets after the noise
 * alone, at the same times (learning the floor again, the noise before the talk and between its
 * words was speech until the talk had gone: captions ran together, the first from the flush). */
GST_START_TEST(test_noise_floor_across_flush) {
    setup_talk();
    size_t n = 16000 * 20, n_noisy;
    float *noise = g_new0(float, n);
    guint32 x = 1;
    gsttest_add_white_noise(noise, n, 0.0245f, &x); /* about -37 dBFS */
    float *noisy_talk = talk_after(8000, &n_noisy);
    gsttest_add_white_noise(noisy_talk, n_noisy, 0.0245f, &x);
    GstHarness *h = asr_harness(NULL);
    push_audio(h, noise, 0, n, 0);
    push_audio(h, noisy_talk, 0, n_noisy, SAMPLES_TIME(n));
    GArray *reference = captions_at_eos(h);
    fail_unless(reference->len >= 2, "%u captions of the talk in noise", reference->len);
    h = asr_harness(NULL);
    push_audio(h, noise, 0, n, 0);
    flush_to(h, 30 * GST_SECOND);
    push_audio(h, noisy_talk, 0, n_noisy, 30 * GST_SECOND);
    GArray *caps = captions_at_eos(h);
    fail_unless_captions_at(caps, reference, 30 * GST_SECOND - SAMPLES_TIME(n), "after the flush");
    g_array_unref(caps);
    /* nor does a dropout, whose silence is no measure of the noise */
    h = asr_harness(NULL);
    push_audio(h, noise, 0, n, 0);
    fail_unless(gst_harness_push_event(h, gst_event_new_gap(SAMPLES_TIME(n), 40 * MS)));
    push_audio(h, noisy_talk, 0, n_noisy, SAMPLES_TIME(n) + 40 * MS);
    caps = captions_at_eos(h);
    fail_unless_captions_at(caps, reference, 40 * MS, "after the dropout");
    g_array_unref(caps);
    g_array_unref(reference);
    g_free(noisy_talk);
    g_free(noise);
}
GST_END_TEST;

/* Played backwards (a segment of rate -1), speech is no speech: no caption (they were scraps,
 * stamped forwards past the segment's stop), a GAP over the segment for the sink to preroll on,
 * and captions again from a forward segment on. */
GST_START_TEST(test_reverse_playback) {
    setup_talk();
    GstHarness *h = asr_harness(NULL);
    GstSegment segment;
    gst_segment_init(&segment, GST_FORMAT_TIME);
    segment.rate = -1.0;
    segment.stop = SAMPLES_TIME(n_talk);
    fail_unless(gst_harness_push_event(h, gst_event_new_segment(&segment)));
    push_audio(h, talk, 0, n_talk, 0);
    fail_unless(gst_harness_push_event(h, gst_event_new_eos()));
    fail_unless_equals_int(gst_harness_buffers_received(h), 0);
    gboolean gap = FALSE;
    for (GstEvent *e; (e = gst_harness_try_pull_event(h)); gst_event_unref(e)) {
        GstClockTime ts, duration;
        if (GST_EVENT_TYPE(e) != GST_EVENT_GAP) continue;
        gst_event_parse_gap(e, &ts, &duration);
        gap |= ts == 0 && duration == SAMPLES_TIME(n_talk);
    }
    fail_unless(gap, "no GAP over the reversed segment");
    gst_harness_teardown(h);
    /* reversed upstream already (scaletempo: rate 1, applied rate -1) */
    h = asr_harness(NULL);
    segment.rate = 1.0;
    segment.applied_rate = -1.0;
    fail_unless(gst_harness_push_event(h, gst_event_new_segment(&segment)));
    push_audio(h, talk, 0, n_talk, 0);
    fail_unless(gst_harness_push_event(h, gst_event_new_eos()));
    fail_unless_equals_int(gst_harness_buffers_received(h), 0);
    gst_harness_teardown(h);
    /* forwards again */
    h = asr_harness(NULL);
    fail_unless(gst_harness_push_event(h, gst_event_new_segment(&segment)));
    gst_segment_init(&segment, GST_FORMAT_TIME);
    fail_unless(gst_harness_push_event(h, gst_event_new_segment(&segment)));
    push_audio(h, talk, 0, n_talk, 0);
    fail_unless(gst_harness_push_event(h, gst_event_new_eos()));
    fail_unless_equals_int(gst_harness_buffers_received(h), 2);
    gst_harness_teardown(h);
}
GST_END_TEST;

/* A microphone's DC offset is no voice: the talk on an offset of 0.05 (-26 dBFS) gives its
 * captions at their times, and nothing else (the energy rule heard the offset as speech until
 * its noise floor had risen to it, and the talk's pauses went unheard). */
GST_START_TEST(test_dc_offset) {
    setup_talk();
    size_t n;
    float *offset = talk_after(16000 * 3, &n);
    for (size_t i = 0; i < n; i++) offset[i] = 0.05f + offset[i];
    GArray *reference = captions_with_hole(NULL, 0, 0, FALSE);
    GstHarness *h = asr_harness(NULL);
    push_audio(h, offset, 0, n, 0);
    GArray *caps = captions_at_eos(h);
    fail_unless_captions_at(caps, reference, 3 * GST_SECOND, "on the offset");
    g_array_unref(caps);
    g_array_unref(reference);
    g_free(offset);
}
GST_END_TEST;

/* Steady noise is learnt as the noise floor once 1.5 s of it were heard: after that it makes no
 * caption, and the talk after it gets its own captions at their times (white noise at -40 dBFS
 * had been heard as speech for about 10 s, the floor creeping up from -100 dB at 5 dB/s). */
GST_START_TEST(test_steady_noise_learnt) {
    setup_talk();
    size_t n;
    float *noisy = talk_after(16000 * 6, &n);
    guint32 x = 7;
    gsttest_add_white_noise(noisy, n, 0.0173f, &x); /* about -40 dBFS */
    GArray *reference = captions_with_hole(NULL, 0, 0, FALSE);
    GstHarness *h = asr_harness(NULL);
    push_audio(h, noisy, 0, n, 0);
    GArray *caps = captions_at_eos(h);
    guint speech_captions = 0;
    for (guint i = 0; i < caps->len; i++) {
        GstClockTime pts = CAPTION(caps, i)->pts;
        fail_unless(pts < 2 * GST_SECOND || pts + 40 * MS >= CAPTION(reference, 0)->pts + 6 * GST_SECOND,
                    "a caption at %" GST_TIME_FORMAT ", in the noise after its first 1.5 s", GST_TIME_ARGS(pts));
        speech_captions += pts >= 2 * GST_SECOND;
    }
    fail_unless_equals_int(speech_captions, reference->len);
    g_array_unref(caps);
    g_free(noisy);
    /* but not speech whose gaps something fills (reverberation): noise during the utterances
     * alone (0.08 of full scale, the gaps between words filled) is no floor to rise to, and the
     * captions stay as they were (a floor at its quietest cut one in two) */
    float *filled = g_new0(float, n_talk);
    gsttest_add_white_noise(filled, n_talk, 0.08f, &x);
    for (size_t i = 0; i < n_talk; i++) {
        GstClockTime t = SAMPLES_TIME(i);
        gboolean during = (t >= utt_start[0] && t < utt_end[0]) || (t >= utt_start[1] && t < utt_end[1]);
        filled[i] = talk[i] + (during ? filled[i] : 0.0f);
    }
    h = asr_harness(NULL);
    push_audio(h, filled, 0, n_talk, 0);
    caps = captions_at_eos(h);
    fail_unless_equals_int(caps->len, reference->len);
    g_array_unref(caps);
    g_array_unref(reference);
    g_free(filled);
}
GST_END_TEST;

/* Digital silence (a muted input) is no measure of the noise either: the same steady noise after
 * two seconds of zeros is no voice, and nothing is said of it, not even as a partial result (the
 * floor had fallen to the zeros, and the noise was a voice again until learnt anew: characters
 * where it began). */
GST_START_TEST(test_noise_after_digital_silence) {
    fx = gsttest_fixture_get();
    size_t n = 16000 * 8;
    float *pcm = g_new0(float, n);
    guint32 x = 9;
    gsttest_add_white_noise(pcm, 16000 * 3, 0.0245f, &x); /* about -37 dBFS */
    gsttest_add_white_noise(pcm + 16000 * 5, 16000 * 3, 0.0245f, &x);
    char *d = desc("partial-results=true");
    gsttest_run *r = gsttest_run_element(d, pcm, n, FALSE, 1600, 0);
    fail_unless(r && r->eos && !r->error, "%s", d);
    guint after = 0;
    for (guint i = 0; i < r->messages->len; i++) {
        guint64 end = 0;
        fail_unless(gst_structure_get_uint64(g_ptr_array_index(r->messages, i), "end", &end));
        after += end > 5 * GST_SECOND;
    }
    fail_unless_equals_int(after, 0);
    gsttest_run_free(r);
    g_free(d);
    g_free(pcm);
}
GST_END_TEST;

/* Steady noise that starts after the talk, half a second after its end, makes no caption: the
 * energy rule hears it as a voice until its floor has learnt it (1.5 s; then those frames count as
 * speech no more), and the model writes characters on it all along (the bundled model 5 s of
 * Hebrew letters, cut at max-duration, whose first frame stayed voiced). */
GST_START_TEST(test_noise_after_talk) {
    setup_talk();
    GArray *reference = captions_with_hole(NULL, 0, 0, FALSE);
    size_t n = n_talk + 8000 + 16000 * 8;
    float *pcm = g_new0(float, n);
    memcpy(pcm, talk, n_talk * sizeof *talk);
    guint32 x = 5;
    gsttest_add_white_noise(pcm + n_talk + 8000, n - n_talk - 8000, 0.0245f, &x); /* about -37 dBFS */
    GstHarness *h = asr_harness(NULL);
    push_audio(h, pcm, 0, n, 0);
    GArray *caps = captions_at_eos(h);
    fail_unless_captions_at(caps, reference, 0, "with noise after the talk");
    g_array_unref(caps);
    /* nor does noise after a silence where captions are cut at a second, before the floor has
     * learnt it: those are voiced, but a steady sound */
    memset(pcm, 0, n * sizeof *pcm);
    gsttest_add_white_noise(pcm + 16000 * 3, n - 16000 * 3, 0.0245f, &x);
    h = asr_harness("max-duration=1000");
    push_audio(h, pcm, 0, n, 0);
    caps = captions_at_eos(h);
    fail_unless_equals_int(caps->len, 0);
    g_array_unref(caps);
    /* nor rumble (noise low-passed at 100 Hz) after the talk or from the start: its 10-ms
     * energies vary as a voice's, and the energy rule hears it in bursts under a second (the
     * caption's steadiness is judged with what was heard before) */
    memcpy(pcm, talk, n_talk * sizeof *talk);
    memset(pcm + n_talk, 0, (n - n_talk) * sizeof *pcm);
    gsttest_add_rumble(pcm + n_talk + 8000, n - n_talk - 8000, 0.02f, &x); /* -34 dBFS */
    h = asr_harness(NULL);
    push_audio(h, pcm, 0, n, 0);
    caps = captions_at_eos(h);
    fail_unless_captions_at(caps, reference, 0, "with rumble after the talk");
    g_array_unref(caps);
    memset(pcm, 0, n * sizeof *pcm);
    gsttest_add_rumble(pcm, n, 0.02f, &x);
    h = asr_harness(NULL);
    push_audio(h, pcm, 0, n, 0);
    caps = captions_at_eos(h);
    fail_unless_equals_int(caps->len, 0);
    g_array_unref(caps);
    g_array_unref(reference);
    g_free(pcm);
}
GST_END_TEST;

/* LATENCY: upstream's plus the longest a caption can come after the time it is stamped with (it
 * goes out when it ends): max-duration, and the rest of the chunk that holds its last frame (a
 * chunk less a frame), and the encoder's 45 ms look-ahead. The element answers with what it
 * runs with: a latency or max-duration set while it runs changes nothing until it starts again,
 * and then does (restarted: *restarted_lat, when set_name is not NULL). */
static GstClockTime query_latency(const char *props, const char *set_name, const char *set_value,
                                  GstClockTime *restarted_lat) {
    GstHarness *h = asr_harness(props);
    gst_harness_set_upstream_latency(h, 10 * MS);
    gst_harness_play(h);
    GstClockTime lat = gst_harness_query_latency(h);
    if (set_name) {
        /* the harness wraps a parsed description in a bin: the property is the element's */
        GstElement *asr = gst_harness_find_element(h, "mslamasr");
        fail_unless(asr != NULL);
        gst_util_set_object_arg(G_OBJECT(asr), set_name, set_value);
        fail_unless_equals_uint64(gst_harness_query_latency(h), lat);
        fail_unless_equals_int(gst_element_set_state(h->element, GST_STATE_READY), GST_STATE_CHANGE_SUCCESS);
        gst_harness_play(h);
        *restarted_lat = gst_harness_query_latency(h);
        gst_object_unref(asr);
    }
    gst_harness_teardown(h);
    return lat;
}

GST_START_TEST(test_latency) {
    fx = gsttest_fixture_get();
    GstClockTime restarted = 0;
    fail_unless_equals_uint64(query_latency("latency=320", "latency", "2000", &restarted),
                              10 * MS + (6000 + 280 + 45) * MS);
    fail_unless_equals_uint64(restarted, 10 * MS + (6000 + 1960 + 45) * MS);
    fail_unless_equals_uint64(query_latency("latency=40 max-duration=1000", NULL, NULL, NULL), 10 * MS + (1000 + 45) * MS);
    fail_unless_equals_uint64(query_latency("latency=640 max-duration=1000", "max-duration", "3000", &restarted),
                              10 * MS + (1000 + 600 + 45) * MS);
    fail_unless_equals_uint64(restarted, 10 * MS + (3000 + 600 + 45) * MS);
    fail_unless_equals_uint64(query_latency("latency=2000 max-duration=1000", "latency", "40", &restarted),
                              10 * MS + (1000 + 1960 + 45) * MS);
    fail_unless_equals_uint64(restarted, 10 * MS + (1000 + 45) * MS);
}
GST_END_TEST;

/* Unsupported caps fail negotiation with a message that says what to put in front. */
/* The same segment sent again mid-utterance (concat and selectors re-send theirs) changes
 * nothing: two captions, as without it; caps refused are an error once, however often the
 * sticky caps come again (from a review). */
GST_START_TEST(test_same_segment_and_caps_again) {
    setup_talk();
    GstHarness *h = asr_harness(NULL);
    GstBus *bus = gst_bus_new();
    gst_element_set_bus(h->element, bus);
    size_t mid = ((size_t)(utt_start[0] * 16000 / GST_SECOND) + fx->n_speech[0] / 2) / 1600 * 1600;
    push_audio(h, talk, 0, mid, 0);
    GstSegment segment;
    gst_segment_init(&segment, GST_FORMAT_TIME);
    fail_unless(gst_harness_push_event(h, gst_event_new_segment(&segment)));
    push_audio(h, talk, mid, n_talk, SAMPLES_TIME(mid));
    fail_unless(gst_harness_push_event(h, gst_event_new_eos()));
    fail_unless_equals_int(final_messages(bus, 300 * MS), 2);
    gst_element_set_bus(h->element, NULL);
    gst_object_unref(bus);
    gst_harness_teardown(h);

    h = asr_harness(NULL);
    bus = gst_bus_new();
    gst_element_set_bus(h->element, bus);
    push_audio(h, talk, 0, 16000, 0);
    gst_harness_set_src_caps_str(h, "audio/x-raw, format=F32LE, rate=8000, channels=1, layout=interleaved");
    for (int k = 0; k < 3; k++)
        fail_if(gst_harness_push(h, gsttest_pcm_buffer(talk, 1600, FALSE, GST_SECOND + k * 100 * MS)) == GST_FLOW_OK);
    int errors = 0;
    for (GstMessage *m; (m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR)); gst_message_unref(m)) errors++;
    fail_unless_equals_int(errors, 1);
    gst_element_set_bus(h->element, NULL);
    gst_object_unref(bus);
    gst_harness_teardown(h);
}
GST_END_TEST;

GST_START_TEST(test_caps_refused) {
    fx = gsttest_fixture_get();
    char *launch = g_strdup_printf("appsrc name=src caps=\"audio/x-raw,format=S16LE,rate=44100,channels=2,layout=interleaved\" "
                             "format=time ! mslamasr model=%s ! fakesink", fx->loud);
    GstElement *pipeline = gst_parse_launch(launch, NULL);
    g_free(launch);
    GstElement *src = gst_bin_get_by_name(GST_BIN(pipeline), "src");
    gst_element_set_state(pipeline, GST_STATE_PLAYING);
    GstBuffer *b = gst_buffer_new_allocate(NULL, 4410 * 4, NULL);
    gst_buffer_memset(b, 0, 0, 4410 * 4);
    GST_BUFFER_PTS(b) = 0;
    gst_app_src_push_buffer(GST_APP_SRC(src), b);
    char *message = gsttest_pop_error(pipeline, NULL);
    fail_unless(message != NULL);
    fail_unless(strstr(message, "44100 Hz") && strstr(message, "2 channels") &&
                strstr(message, "audioconvert ! audioresample"), "error: %s", message);
    g_free(message);
    gst_element_set_state(pipeline, GST_STATE_NULL);
    gst_object_unref(src);
    gst_object_unref(pipeline);

    /* with audioconvert ! audioresample in front the same audio works */
    launch = g_strdup_printf("audiotestsrc num-buffers=20 ! audio/x-raw,rate=44100,channels=2 ! audioconvert ! "
                             "audioresample ! mslamasr model=%s ! fakesink", fx->loud);
    run_to_eos(launch, "44.1 kHz stereo through audioconvert ! audioresample");
    g_free(launch);
}
GST_END_TEST;

/* element_desc fails READY->PAUSED with an error that says want (and want_too, when not NULL). */
static void check_start_error(const char *element_desc, const char *want, const char *want_too) {
    char *message = gsttest_start_error(element_desc);
    fail_unless(message && strstr(message, want) && (!want_too || strstr(message, want_too)),
                "%s: error %s (wanted %s, %s)", element_desc, message, want, want_too ? want_too : "");
    g_free(message);
}

/* A missing or bad model fails READY->PAUSED with an error naming the file and the reason. */
static void check_model_error(const char *model, const char *element, const char *reason) {
    char *d = g_strdup_printf("%s model=\"%s\"", element, model);
    check_start_error(d, model, reason);
    g_free(d);
}

GST_START_TEST(test_bad_model) {
    fx = gsttest_fixture_get();
    check_model_error("/nonexistent/model.safetensors", "mslamasr", "No such file");
    check_model_error(fx->corrupt, "mslamasr", "header");
    check_model_error(fx->loud_noctc, "mslamasr", "no CTC head");
    char *d = g_strdup_printf("mslamasr model=%s languages=en,xx", fx->loud);
    check_start_error(d, "\"xx\" is not a language", NULL);
    g_free(d);
    d = g_strdup_printf("mslamasr model=%s languages=\",\"", fx->loud);
    check_start_error(d, "names no language", NULL);
    g_free(d);
}
GST_END_TEST;

/* lm=: a bad file or a missing language fails READY->PAUSED with an error that names the
 * property and its file, not the model; a good LM with one language runs to EOS. */
static void check_lm_error(const char *model, const char *props, const char *reason) {
    char *d = g_strdup_printf("mslamasr model=%s %s", model, props);
    check_start_error(d, reason, "Cannot use lm=\"");
    g_free(d);
}

GST_START_TEST(test_lm) {
    setup_talk();
    char *lm = g_strdup(gsttest_path("uniform-lm.safetensors"));
    fail_unless(gsttest_write_uniform_lm(lm, NULL) == 0);
    check_lm_error(fx->random, "lm=/nonexistent/lm.safetensors languages=en", "/nonexistent/lm.safetensors");
    char *props = g_strdup_printf("lm=%s languages=en", fx->loud);
    check_lm_error(fx->random, props, "not a character LM");
    g_free(props);
    props = g_strdup_printf("lm=%s languages=fr beam-size=1", lm);
    check_lm_error(fx->random, props, "beam-size");
    g_free(props);
    /* no language named and no LID head to find one */
    struct gsttest_model_opts o = {.kind = GSTTEST_MODEL_LOUDNESS, .ctc_head = 1};
    char *no_lid = g_strdup(gsttest_path("asr-no-lid.safetensors"));
    fail_unless(gsttest_write_model(no_lid, &o) == 0);
    props = g_strdup_printf("lm=%s", lm);
    check_lm_error(no_lid, props, "one language");
    g_free(props);
    g_free(no_lid);
    /* one language: the LM in the stream's search; none: each final caption decoded again */
    const char *modes[2] = {"languages=fr lm-weight=1 lm-bonus=0.5", ""};
    for (int i = 0; i < 2; i++) {
        char *d = g_strdup_printf("mslamasr model=%s lm=%s %s", fx->random, lm, modes[i]);
        gsttest_run *r = gsttest_run_element(d, talk, n_talk, FALSE, 1024, GST_SECOND);
        fail_unless(r && r->eos && !r->error, "%s", d);
        check_timeline(r, GST_SECOND, SAMPLES_TIME(n_talk));
        gsttest_run_free(r);
        g_free(d);
    }
    g_free(lm);
}
GST_END_TEST;

/* A language named twice (en and eng or en_US, as a media app may have it at hand) is the one
 * language named: on a model without a LID head, each caption's language is it, as the library
 * takes it, and an LM is taken for it; the two ids of one language made the language "und", and
 * the LM failed to start for want of one language. */
GST_START_TEST(test_language_named_twice) {
    setup_talk();
    struct gsttest_model_opts o = {.kind = GSTTEST_MODEL_LOUDNESS, .ctc_head = 1};
    char *no_lid = g_strdup(gsttest_path("asr-no-lid-named-twice.safetensors"));
    fail_unless(gsttest_write_model(no_lid, &o) == 0);
    char *d = g_strdup_printf("mslamasr model=%s languages=en,eng,en_US", no_lid);
    gsttest_run *r = gsttest_run_element(d, talk, n_talk, FALSE, 1600, 0);
    fail_unless(r && r->eos && !r->error);
    fail_unless_equals_int(count_messages(r, "mslam-asr", TRUE), 2);
    for (guint i = 0; i < r->messages->len; i++)
        fail_unless_equals_string(gst_structure_get_string(g_ptr_array_index(r->messages, i), "language"), "en");
    gsttest_run_free(r);
    g_free(d);
    char *lm = g_strdup(gsttest_path("uniform-lm-named-twice.safetensors"));
    fail_unless(gsttest_write_uniform_lm(lm, NULL) == 0);
    d = g_strdup_printf("mslamasr model=%s lm=%s languages=en,eng", no_lid, lm);
    r = gsttest_run_element(d, talk, n_talk, FALSE, 1600, 0);
    GError *error = NULL;
    if (r && r->error) gst_message_parse_error(r->error, &error, NULL);
    fail_unless(r && r->eos && !error, "%s", error ? error->message : "no run");
    g_clear_error(&error);
    gsttest_run_free(r);
    g_free(d);
    g_free(lm);
    g_free(no_lid);
}
GST_END_TEST;

/* min-confidence: final captions below it go out neither as text nor as messages (random weights:
 * every caption's confidence is low); 0, the default, keeps them all. */
GST_START_TEST(test_min_confidence) {
    setup_talk();
    double lowest = 1, highest = 0;
    char *d = g_strdup_printf("mslamasr model=%s max-duration=1000", fx->random);
    gsttest_run *r = gsttest_run_element(d, talk, n_talk, FALSE, 1024, 0);
    fail_unless(r && r->eos && !r->error && r->buffers->len > 0);
    for (guint i = 0; i < r->messages->len; i++) {
        const GstStructure *s = g_ptr_array_index(r->messages, i);
        gboolean final = FALSE;
        double c = 0;
        if (gst_structure_get_boolean(s, "final", &final) && final && gst_structure_get_double(s, "confidence", &c))
            lowest = MIN(lowest, c), highest = MAX(highest, c);
    }
    guint all = r->buffers->len;
    gsttest_run_free(r);
    g_free(d);
    fail_unless(lowest < highest, "confidences %g .. %g", lowest, highest);
    /* above the highest: none; between: fewer */
    const double cuts[2] = {highest + 1e-3, (lowest + highest) / 2};
    for (int k = 0; k < 2; k++) {
        d = g_strdup_printf("mslamasr model=%s max-duration=1000 min-confidence=%.6f", fx->random, cuts[k]);
        r = gsttest_run_element(d, talk, n_talk, FALSE, 1024, 0);
        fail_unless(r && r->eos && !r->error);
        guint finals = 0;
        for (guint i = 0; i < r->messages->len; i++) {
            const GstStructure *s = g_ptr_array_index(r->messages, i);
            gboolean final = FALSE;
            double c = 0;
            if (!gst_structure_get_boolean(s, "final", &final) || !final) continue;
            finals++;
            fail_unless(gst_structure_get_double(s, "confidence", &c) && c >= cuts[k], "%s: a caption of %g", d, c);
        }
        fail_unless_equals_int(finals, r->buffers->len);
        if (k == 0) {
            fail_unless_equals_int(r->buffers->len, 0);
        } else {
            fail_unless(r->buffers->len > 0 && r->buffers->len < all, "%u of %u captions", r->buffers->len, all);
        }
        gsttest_run_free(r);
        g_free(d);
    }
}
GST_END_TEST;

/* Random weights: any text, but a sane timeline. */
GST_START_TEST(test_random_model) {
    setup_talk();
    char *d = g_strdup_printf("mslamasr model=%s max-duration=1000", fx->random);
    gsttest_run *r = gsttest_run_element(d, talk, n_talk, FALSE, 1024, GST_SECOND);
    g_free(d);
    fail_unless(r && r->eos && !r->error);
    check_timeline(r, GST_SECOND, SAMPLES_TIME(n_talk));
    gsttest_run_free(r);
}
GST_END_TEST;

/* second-pass (the default): each final caption is the offline API's on its own audio
 * (mslam_transcribe and mslam_identify_language with the element's parameters, on the caption's
 * samples): text, confidence and language; a caption that a max-duration cut opened (its message
 * says `continued`) is that of its audio with the 320 ms before it, from its first frame on
 * (gsttest_offline_caption). Checked on a timeline that starts at 1 s, without an LM and with
 * one that favours German (which then also helps identify the language, as in mslamlid); with
 * second-pass=false the streaming encoder's captions differ on random weights. Returns how many
 * of r's captions match, and in *continued how many were continued. */
static guint count_offline_matches(const gsttest_run *r, mslam_model *model, const struct mslam_decode_params *p,
                                   guint *continued) {
    guint matches = 0;
    *continued = 0;
    for (guint i = 0; i < r->buffers->len; i++) {
        const gsttest_caption *c = g_ptr_array_index(r->buffers, i);
        const GstStructure *m = gsttest_final_message_at(r, c->pts);
        gboolean cut = FALSE;
        fail_unless(m && gst_structure_get_boolean(m, "continued", &cut));
        *continued += cut;
        /* continued: right after a caption that max-duration (1 s) cut, in its second half */
        const gsttest_caption *before = i > 0 ? g_ptr_array_index(r->buffers, i - 1) : NULL;
        fail_if(cut && !(before && before->duration >= 500 * GST_MSECOND &&
                         before->pts + before->duration <= c->pts &&
                         c->pts - (before->pts + before->duration) < GSTTEST_CONTEXT_FRAMES * 40 * GST_MSECOND),
                "caption %u at %" GST_TIME_FORMAT " is continued, but not after a cut", i, GST_TIME_ARGS(c->pts));
        matches += gsttest_caption_is_offline(r, c, GST_SECOND, talk, n_talk, model, GSTTEST_TRANSCRIBE, p);
    }
    return matches;
}

GST_START_TEST(test_second_pass) {
    setup_talk();
    mslam_model *model = mslam_model_load(fx->random, mslam_model_default_params());
    fail_unless(model != NULL, "%s", mslam_last_error());
    /* the test languages are en, fr, de */
    const float favour_de[3] = {-20.0f, -20.0f, -1.0f};
    char *lm_path = g_strdup(gsttest_path("asr-de-lm.safetensors"));
    fail_unless(gsttest_write_uniform_lm(lm_path, favour_de) == 0);
    mslam_lm *lm = mslam_lm_load(lm_path);
    fail_unless(lm != NULL, "%s", mslam_last_error());
    struct mslam_decode_params plain = mslam_decode_default_params(), with_lm = plain;
    with_lm.lm = lm;
    char *lm_props = g_strdup_printf("lm=%s", lm_path);
    const char *props[3] = {"", lm_props, "second-pass=false"};
    const struct mslam_decode_params *params[3] = {&plain, &with_lm, &plain};
    guint matches[3], captions[3], continued[3], german = 0;
    for (int i = 0; i < 3; i++) {
        char *d = g_strdup_printf("mslamasr model=%s max-duration=1000 %s", fx->random, props[i]);
        gsttest_run *r = gsttest_run_element(d, talk, n_talk, FALSE, 1024, GST_SECOND);
        g_free(d);
        fail_unless(r && r->eos && !r->error);
        check_timeline(r, GST_SECOND, SAMPLES_TIME(n_talk));
        captions[i] = r->buffers->len;
        matches[i] = count_offline_matches(r, model, params[i], &continued[i]);
        for (guint j = 0; i == 1 && j < r->messages->len; j++)
            german += !g_strcmp0(gst_structure_get_string(g_ptr_array_index(r->messages, j), "language"), "de");
        gsttest_run_free(r);
    }
    fail_unless(captions[0] > 2, "%u captions", captions[0]);
    /* cuts at max-duration opened some, and others followed a pause */
    fail_unless(continued[0] > 0 && continued[0] < captions[0], "%u of %u captions continued", continued[0],
                captions[0]);
    fail_unless_equals_int(matches[0], captions[0]);
    fail_unless_equals_int(matches[1], captions[1]);
    fail_unless(german > 0, "the LM that favours German identified no caption as German");
    fail_unless(matches[2] < captions[2], "without the second pass, all %u captions are the offline ones", captions[2]);
    mslam_lm_free(lm);
    g_free(lm_props);
    g_free(lm_path);
    mslam_model_free(model);
}
GST_END_TEST;

/* The second pass across a discontinuity: captions of the first timeline are the offline API's
 * on its audio, those of the second (a jump to 20 s without a flush, its first buffer marked
 * DISCONT) on the second's, continued ones (after a max-duration cut) included. */
GST_START_TEST(test_second_pass_discontinuity) {
    setup_talk();
    mslam_model *model = mslam_model_load(fx->random, mslam_model_default_params());
    fail_unless(model != NULL, "%s", mslam_last_error());
    char *launch = g_strdup_printf("mslamasr model=%s max-duration=1000", fx->random);
    GstHarness *h = gst_harness_new_parse(launch);
    g_free(launch);
    GstBus *bus = gst_bus_new();
    gst_element_set_bus(h->element, bus);
    gst_harness_set_src_caps_str(h, "audio/x-raw, format=F32LE, rate=16000, channels=1, layout=interleaved");
    size_t half = n_talk / 2;
    const GstClockTime jump = 20 * GST_SECOND;
    push_audio(h, talk, 0, half, 0);
    push_audio_discont(h, talk, 0, n_talk, jump);
    fail_unless(gst_harness_push_event(h, gst_event_new_eos()));
    /* the final messages, for `continued` */
    gsttest_run messages = {.messages = g_ptr_array_new_with_free_func((GDestroyNotify)gst_structure_free)};
    for (GstMessage *m; (m = gst_bus_pop_filtered(bus, GST_MESSAGE_ELEMENT)); gst_message_unref(m))
        g_ptr_array_add(messages.messages, gst_structure_copy(gst_message_get_structure(m)));
    guint n = gst_harness_buffers_received(h), second = 0, continued = 0;
    fail_unless(n > 3, "%u captions", n);
    for (guint i = 0; i < n; i++) {
        GstBuffer *b = gst_harness_pull(h);
        GstMapInfo map;
        fail_unless(gst_buffer_map(b, &map, GST_MAP_READ));
        gsttest_caption c = {.text = g_strndup((const char *)map.data, map.size), .pts = GST_BUFFER_PTS(b),
                             .duration = GST_BUFFER_DURATION(b)};
        gst_buffer_unmap(b, &map);
        gboolean later = c.pts >= jump, cut = FALSE;
        const GstStructure *m = gsttest_final_message_at(&messages, c.pts);
        fail_unless(m && gst_structure_get_boolean(m, "continued", &cut));
        continued += cut;
        second += later;
        gsttest_offline expected;
        fail_unless(gsttest_offline_caption(&c, cut, later ? jump : 0, talk, later ? n_talk : half, model,
                                            GSTTEST_TRANSCRIBE, NULL, &expected) == 0);
        fail_unless_equals_string(c.text, expected.text);
        g_free(expected.text);
        g_free(c.text);
        gst_buffer_unref(b);
    }
    fail_unless(second > 0 && second < n, "%u of %u captions after the jump", second, n);
    fail_unless(continued > 0, "no caption continued another");
    g_ptr_array_unref(messages.messages);
    gst_element_set_bus(h->element, NULL);
    gst_object_unref(bus);
    gst_harness_teardown(h);
    mslam_model_free(model);
}
GST_END_TEST;

static Suite *mslamasr_suite(void) {
    Suite *s = suite_create("mslamasr");
    TCase *tc = tcase_create("general");
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);
    tcase_add_test(tc, test_captions_follow_speech);
    tcase_add_test(tc, test_messages);
    tcase_add_test(tc, test_sample_beyond_full_scale);
    tcase_add_test(tc, test_formats_and_segment_start);
    tcase_add_test(tc, test_max_duration_and_eos);
    tcase_add_test(tc, test_max_duration_between_words);
    tcase_add_test(tc, test_no_caption_without_voice);
    tcase_add_test(tc, test_no_caption_before_voice);
    tcase_add_test(tc, test_words);
    tcase_add_test(tc, test_sound_at_the_end);
    tcase_add_test(tc, test_min_confidence);
    tcase_add_test(tc, test_eos_ends_at_speech);
    tcase_add_test(tc, test_gaps);
    tcase_add_test(tc, test_pause_mid_caption);
    tcase_add_test(tc, test_seek);
    tcase_add_test(tc, test_mux_with_audio);
    tcase_add_test(tc, test_flush);
    tcase_add_test(tc, test_samples_split_between_buffers);
    tcase_add_test(tc, test_timestamp_jitter);
    tcase_add_test(tc, test_discont_hole);
    tcase_add_test(tc, test_clock_jump);
    tcase_add_test(tc, test_segment_done);
    tcase_add_test(tc, test_upstream_gaps);
    tcase_add_test(tc, test_text_tags);
    tcase_add_test(tc, test_noise_floor_across_flush);
    tcase_add_test(tc, test_steady_noise_learnt);
    tcase_add_test(tc, test_noise_after_talk);
    tcase_add_test(tc, test_noise_after_digital_silence);
    tcase_add_test(tc, test_reverse_playback);
    tcase_add_test(tc, test_dc_offset);
    tcase_add_test(tc, test_latency);
    tcase_add_test(tc, test_caps_refused);
    tcase_add_test(tc, test_same_segment_and_caps_again);
    tcase_add_test(tc, test_bad_model);
    tcase_add_test(tc, test_random_model);
    tcase_add_test(tc, test_lm);
    tcase_add_test(tc, test_language_named_twice);
    tcase_add_test(tc, test_second_pass);
    tcase_add_test(tc, test_second_pass_discontinuity);
    tcase_add_test(tc, test_clock_jump_back);
    tcase_add_test(tc, test_clock_restarts);
    tcase_add_test(tc, test_gap_during_drift);
    tcase_add_test(tc, test_live_source_stops);
    tcase_add_test(tc, test_stall_edges);
    /* models and speech are made once, before check forks each test */
    fx = gsttest_fixture_get();
    return s;
}

GST_CHECK_MAIN(mslamasr);
