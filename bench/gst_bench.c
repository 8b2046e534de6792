/* The GStreamer elements on English speech (synthesised by the corpus builder's code), next to
 * pocketsphinx's GStreamer element on the same audio in the same run:
 *  - real-time factor (wall time / audio time, as fast as the pipeline goes) of mslamasr,
 *    mslamtranslate and mslamlid alone and of the three in one pipeline (tee), and of
 *    pocketsphinx;
 *  - word error rate of mslamasr and pocketsphinx against the text spoken;
 *  - latency: the audio is fed at the pace of a live source (each 10 ms buffer when its last
 *    sample would have been captured, on the pipeline clock), and for each sentence the time from
 *    the end of its words to its final caption leaving the element (running time of the pipeline
 *    clock), per element and with the three in one pipeline.
 * With a trained model (--model or $MSLAM_MODEL, which must load; else the bundled
 * models/default.safetensors or the installed default) every figure is real.
 * Without one, a stand-in of the default model's size (models/default-train.conf: 12 Conformer
 * layers of width 144, a 2-layer decoder) with the loudness weights of the tests
 * (tests/gst/gsttestutil.h: captions follow the speech) gives real compute and endpointing
 * figures, and its WER means nothing (it writes "a" per run of speech).
 *
 *   gst_bench [--model FILE] [--sentences N] [--threads N] [--skip-paced] [--lm FILE] [--props PROPS]
 * Prints one "name key=value ..." line per measurement and a summary table. */
#include "gsttestutil.h"
#include "metrics.h"

#include <gst/app/gstappsrc.h>
#include <gst/gst.h>
#include <math.h>
#include <mslam.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MS (GST_MSECOND)
#define SAMPLES_TIME(n) gst_util_uint64_scale((n), GST_SECOND, 16000)

static const char *sentences[] = {
    "the weather is nice today and the sun is shining",
    "please open the door and close the window",
    "we are going to the market tomorrow morning",
    "she reads a book every evening before bed",
    "the train leaves the station at seven in the morning",
    "my brother plays the guitar in a small band",
    "can you tell me where the nearest hospital is",
    "the children are playing football in the park",
    "i would like a cup of coffee with milk",
    "they moved to a new house near the river",
    "the meeting starts after lunch on monday",
    "he forgot his keys on the kitchen table",
};

static int n_sent = 10;
static GstClockTime words_end[G_N_ELEMENTS(sentences)];
static float *talk;
static size_t n_talk;
static char *wav, *model;
static gboolean trained;
static int threads = 1; /* the elements' default */
static char *lm_path;    /* --lm: one more mslamasr row, with the LM and languages=en */
static char *extra_props; /* --props: added to every mslam element */
static char *translate_props; /* --translate-props: added to mslamtranslate */

/* ---- one pipeline run ---- */

typedef struct {
    GstClockTime pts, dur, pushed; /* pushed: running time when it left the element */
    char *text;
} caption;

typedef struct {
    GstElement *pipeline;
    GArray *asr, *tr; /* caption */
    GString *sphinx;  /* pocketsphinx final hypotheses */
    double wall;      /* seconds from PLAYING to EOS */
} run_result;

static GstPadProbeReturn on_text(GstPad *pad, GstPadProbeInfo *info, gpointer user_data) {
    run_result *r = g_object_get_data(G_OBJECT(pad), "result");
    GArray *into = user_data;
    GstBuffer *buf = GST_PAD_PROBE_INFO_BUFFER(info);
    GstClock *clock = gst_element_get_clock(r->pipeline);
    caption c = {GST_BUFFER_PTS(buf), GST_BUFFER_DURATION(buf), GST_CLOCK_TIME_NONE, NULL};
    GstMapInfo map;
    if (clock) {
        c.pushed = gst_clock_get_time(clock) - gst_element_get_base_time(r->pipeline);
        gst_object_unref(clock);
    }
    if (gst_buffer_map(buf, &map, GST_MAP_READ)) {
        c.text = g_strndup((const char *)map.data, map.size);
        gst_buffer_unmap(buf, &map);
    }
    g_array_append_val(into, c);
    return GST_PAD_PROBE_OK;
}

static void watch_text(run_result *r, const char *name, GArray *into) {
    GstElement *el = gst_bin_get_by_name(GST_BIN(r->pipeline), name);
    if (!el) return;
    GstPad *pad = gst_element_get_static_pad(el, "src");
    g_object_set_data(G_OBJECT(pad), "result", r);
    gst_pad_add_probe(pad, GST_PAD_PROBE_TYPE_BUFFER, on_text, into, NULL);
    gst_object_unref(pad);
    gst_object_unref(el);
}

/* Waits for EOS (or an error: exits). Collects pocketsphinx's final hypotheses. */
static void wait_eos(run_result *r) {
    GstBus *bus = gst_element_get_bus(r->pipeline);
    for (;;) {
        GstMessage *m = gst_bus_timed_pop_filtered(bus, GST_CLOCK_TIME_NONE,
                                                   GST_MESSAGE_EOS | GST_MESSAGE_ERROR | GST_MESSAGE_ELEMENT);
        if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_ERROR) {
            GError *err = NULL;
            gst_message_parse_error(m, &err, NULL);
            fprintf(stderr, "error from %s: %s\n", GST_OBJECT_NAME(GST_MESSAGE_SRC(m)), err->message);
            exit(1);
        }
        if (GST_MESSAGE_TYPE(m) == GST_MESSAGE_EOS) {
            gst_message_unref(m);
            break;
        }
        const GstStructure *s = gst_message_get_structure(m);
        gboolean final = FALSE;
        if (gst_structure_has_name(s, "pocketsphinx") && gst_structure_get_boolean(s, "final", &final) && final) {
            const char *h = gst_structure_get_string(s, "hypothesis");
            if (h && *h) g_string_append_printf(r->sphinx, "%s%s", r->sphinx->len ? " " : "", h);
        }
        gst_message_unref(m);
    }
    gst_object_unref(bus);
}

static run_result *run_new(const char *launch) {
    run_result *r = g_new0(run_result, 1);
    GError *err = NULL;
    r->pipeline = gst_parse_launch(launch, &err);
    /* (a missing element, pocketsphinx's without gstreamer1.0-pocketsphinx, or property is an
     * error with a pipeline: it had failed later as "Internal data stream error") */
    if (!r->pipeline || err) {
        fprintf(stderr, "%s: %s\n", launch, err ? err->message : "cannot make the pipeline");
        exit(1);
    }
    r->asr = g_array_new(FALSE, TRUE, sizeof(caption));
    r->tr = g_array_new(FALSE, TRUE, sizeof(caption));
    r->sphinx = g_string_new(NULL);
    watch_text(r, "asr", r->asr);
    watch_text(r, "tr", r->tr);
    return r;
}

static void run_free(run_result *r) {
    gst_element_set_state(r->pipeline, GST_STATE_NULL);
    gst_object_unref(r->pipeline);
    for (guint i = 0; i < r->asr->len; i++) g_free(g_array_index(r->asr, caption, i).text);
    for (guint i = 0; i < r->tr->len; i++) g_free(g_array_index(r->tr, caption, i).text);
    g_array_free(r->asr, TRUE);
    g_array_free(r->tr, TRUE);
    g_string_free(r->sphinx, TRUE);
    g_free(r);
}

/* As fast as it goes: filesrc ! wavparse ! audioconvert ! audioresample ! <chain>. */
static run_result *run_file(const char *chain) {
    char *launch = g_strdup_printf("filesrc location=%s ! wavparse ! audioconvert ! audioresample ! %s", wav, chain);
    run_result *r = run_new(launch);
    g_free(launch);
    gint64 t0 = g_get_monotonic_time();
    gst_element_set_state(r->pipeline, GST_STATE_PLAYING);
    wait_eos(r);
    r->wall = (g_get_monotonic_time() - t0) / 1e6;
    return r;
}

/* At the pace of a live source: appsrc ! <chain>, each 10 ms buffer pushed when its last sample
 * would have been captured. */
static run_result *run_paced(const char *chain) {
    char *launch = g_strdup_printf("appsrc name=src is-live=true format=time min-latency=10000000 "
                                   "caps=audio/x-raw,format=F32LE,rate=16000,channels=1,layout=interleaved ! %s",
                                   chain);
    run_result *r = run_new(launch);
    g_free(launch);
    GstElement *src = gst_bin_get_by_name(GST_BIN(r->pipeline), "src");
    gst_element_set_state(r->pipeline, GST_STATE_PLAYING);
    gst_element_get_state(r->pipeline, NULL, NULL, GST_CLOCK_TIME_NONE);
    GstClock *clock = gst_element_get_clock(r->pipeline);
    GstClockTime base = gst_element_get_base_time(r->pipeline);
    gint64 t0 = g_get_monotonic_time();
    for (size_t off = 0; off < n_talk; off += 160) {
        size_t k = MIN(160, n_talk - off);
        GstClockID id = gst_clock_new_single_shot_id(clock, base + SAMPLES_TIME(off + k));
        gst_clock_id_wait(id, NULL);
        gst_clock_id_unref(id);
        GstBuffer *b = gst_buffer_new_memdup(talk + off, k * sizeof(float));
        GST_BUFFER_PTS(b) = SAMPLES_TIME(off);
        GST_BUFFER_DURATION(b) = SAMPLES_TIME(k);
        gst_app_src_push_buffer(GST_APP_SRC(src), b);
    }
    gst_app_src_end_of_stream(GST_APP_SRC(src));
    wait_eos(r);
    r->wall = (g_get_monotonic_time() - t0) / 1e6;
    gst_object_unref(clock);
    gst_object_unref(src);
    return r;
}

/* ---- figures ---- */

static double audio_seconds(void) { return n_talk / 16000.0; }

static char *reference(void) {
    GString *s = g_string_new(NULL);
    for (int i = 0; i < n_sent; i++) g_string_append_printf(s, "%s%s", i ? " " : "", sentences[i]);
    return g_string_free(s, FALSE);
}

static double wer_of(const char *hyp) {
    char *ref = reference();
    struct mslam_edit_counts c;
    double wer = -1;
    if (mslam_wer_counts(ref, hyp, &c) == 0 && c.ref_len) wer = (double)(c.sub + c.ins + c.del) / c.ref_len;
    g_free(ref);
    return wer;
}

static char *joined(GArray *caps) {
    GString *s = g_string_new(NULL);
    for (guint i = 0; i < caps->len; i++)
        g_string_append_printf(s, "%s%s", i ? " " : "", g_array_index(caps, caption, i).text);
    return g_string_free(s, FALSE);
}

/* Per sentence, the caption that holds the end of its words (the last one that starts before
 * it): pushed - words_end. Mean and max in ms; *n how many sentences had one. */
static void latencies(GArray *caps, double *mean, double *max, int *n) {
    double sum = 0;
    *max = 0;
    *n = 0;
    for (int s = 0; s < n_sent; s++) {
        const caption *best = NULL;
        for (guint i = 0; i < caps->len; i++) {
            const caption *c = &g_array_index(caps, caption, i);
            if (c->pts <= words_end[s] && c->pts + c->dur + 500 * MS >= words_end[s]) best = c;
        }
        if (!best || !GST_CLOCK_TIME_IS_VALID(best->pushed)) continue;
        double ms = GST_CLOCK_DIFF(words_end[s], best->pushed) / 1e6;
        sum += ms;
        *max = MAX(*max, ms);
        (*n)++;
    }
    *mean = *n ? sum / *n : -1;
}

/* mslamtranslate's segments are named a language the decoder translates from: the talk is
 * English, which would be its own translation (the transcript), and the figures are the
 * decoder's. Spanish when the model has it (the bundled decoder learnt es it pt ca ro), else the
 * model's first language other than English (--translate-props may name others: the last
 * assignment holds). */
static char translate_languages[32] = "languages=es";

static char *element(const char *factory, const char *name, int n_threads) {
    int translate = !strcmp(factory, "mslamtranslate");
    return g_strdup_printf("%s name=%s model=\"%s\" n-threads=%d %s %s %s", factory, name, model, n_threads,
                           translate ? translate_languages : "", extra_props ? extra_props : "",
                           translate && translate_props ? translate_props : "");
}

/* Loads the model (an error names what is wrong with it) and picks translate_languages. */
static int choose_translate_language(const char *path) {
    struct mslam_model_params params = mslam_model_default_params();
    params.device = MSLAM_DEVICE_CPU; /* only its languages are read */
    mslam_model *m = mslam_model_load(path, params);
    if (!m) return 1; /* the library said why on stderr */
    const char *pick = NULL;
    for (int l = 0; l < mslam_model_get_config(m).n_langs; l++) {
        const char *code = mslam_model_lang(m, l);
        if (!strcmp(code, "es")) {
            pick = code;
            break;
        }
        if (!pick && strcmp(code, "en")) pick = code;
    }
    if (pick) snprintf(translate_languages, sizeof translate_languages, "languages=%s", pick);
    mslam_model_free(m);
    return 0;
}

int main(int argc, char **argv) {
    gboolean skip_paced = FALSE;
    GOptionEntry entries[] = {
        {"model", 'm', 0, G_OPTION_ARG_FILENAME, &model, "Trained model (default: $MSLAM_MODEL, the bundled one, the installed one)", "FILE"},
        {"sentences", 'n', 0, G_OPTION_ARG_INT, &n_sent, "English sentences to speak (1..12)", "N"},
        {"threads", 't', 0, G_OPTION_ARG_INT, &threads, "n-threads of an element alone", "N"},
        {"skip-paced", 0, 0, G_OPTION_ARG_NONE, &skip_paced, "No real-time latency runs", NULL},
        {"lm", 0, 0, G_OPTION_ARG_FILENAME, &lm_path, "Character LM (mslam-trainer lm) for an extra mslamasr row", "FILE"},
        {"props", 0, 0, G_OPTION_ARG_STRING, &extra_props, "Properties added to every mslam element (e.g. \"second-pass=false\")", "PROPS"},
        {"translate-props", 0, 0, G_OPTION_ARG_STRING, &translate_props,
         "Properties added to mslamtranslate (e.g. \"translation-lm=FILE\")", "PROPS"},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    GOptionContext *ctx = g_option_context_new(NULL);
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_add_group(ctx, gst_init_get_option_group());
    GError *err = NULL;
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        fprintf(stderr, "%s\n", err->message);
        return 2;
    }
    g_option_context_free(ctx);
    if (n_sent < 1 || n_sent > (int)G_N_ELEMENTS(sentences)) {
        fprintf(stderr, "--sentences %d: give 1 to %d\n", n_sent, (int)G_N_ELEMENTS(sentences));
        return 2;
    }

    /* a model named (--model, $MSLAM_MODEL) must load: figures of the stand-in would pass for its */
    gboolean named = model || (g_getenv("MSLAM_MODEL") && *g_getenv("MSLAM_MODEL"));
    if (!model) model = g_strdup(gsttest_trained_model());
    trained = named || g_file_test(model, G_FILE_TEST_EXISTS);
    if (trained && choose_translate_language(model)) return 1;
    if (!trained) {
        g_free(model);
        model = g_strdup(gsttest_path("stand-in.safetensors"));
        struct gsttest_model_opts o = {.kind = GSTTEST_MODEL_LOUDNESS, .ctc_head = 1, .lid_head = 1,
                                       .n_decoder_layers = 2, .d_model = 144, .n_layers = 6, .n_heads = 4,
                                       .d_ff = 576, .conv_kernel = 15, .sub_channels = 64};
        if (gsttest_write_model(model, &o) || choose_translate_language(model)) return 1;
    }
    printf("model %s (%s)\n", model, trained ? "trained" : "untrained stand-in of the default model's size");

    /* the talk: 0.5 s of silence, then each sentence followed by 1.2 s of silence */
    gsttest_append(&talk, &n_talk, NULL, 8000);
    for (int i = 0; i < n_sent; i++) {
        size_t k;
        float *s = gsttest_speak("en", sentences[i], &k);
        if (!s) return 1;
        size_t a = 0, b = k;
        while (a < b && fabsf(s[a]) < 0.01f) a++;
        while (b > a && fabsf(s[b - 1]) < 0.01f) b--;
        gsttest_append(&talk, &n_talk, s + a, b - a);
        words_end[i] = SAMPLES_TIME(n_talk);
        gsttest_append(&talk, &n_talk, NULL, 19200);
        g_free(s);
    }
    wav = g_strdup(gsttest_path("talk.wav"));
    if (gsttest_write_wav(wav, talk, n_talk)) return 1;
    printf("audio %.1f s: %d English sentences (espeak-ng en+m3), 1.2 s of silence after each\n", audio_seconds(),
           n_sent);
    if (extra_props) printf("every mslam element with: %s\n", extra_props);
    printf("mslamtranslate with: %s%s%s (the decoder translates the English talk)\n", translate_languages,
           translate_props ? " " : "", translate_props ? translate_props : "");
    /* the machine may be shared: say how busy it was */
    gchar *loadavg = NULL;
    if (g_file_get_contents("/proc/loadavg", &loadavg, NULL, NULL)) printf("load average at start: %s", loadavg);
    g_free(loadavg);
    printf("\n");

    /* ---- real-time factors (and WER) ---- */
    struct {
        const char *name;
        double rtf, wer;
    } rows[8];
    int n_rows = 0;
    char *asr = element("mslamasr", "asr", threads), *tr = element("mslamtranslate", "tr", threads),
         *lid = element("mslamlid", "lid", threads);
    const char *names[3] = {"mslamasr", "mslamtranslate", "mslamlid"};
    char *alone[3] = {asr, tr, lid};
    for (int e = 0; e < 3; e++) {
        char *chain = g_strdup_printf("%s ! fakesink async=false", alone[e]);
        run_result *r = run_file(chain);
        double rtf = r->wall / audio_seconds(), wer = -1;
        if (e == 0) {
            char *hyp = joined(r->asr);
            wer = wer_of(hyp);
            printf("mslamasr text: %s\n", hyp);
            g_free(hyp);
        }
        printf("rtf element=%s threads=%d rtf=%.4f wall=%.2f%s\n", names[e], threads, rtf, r->wall,
               e == 0 ? "" : "");
        rows[n_rows].name = names[e];
        rows[n_rows].rtf = rtf;
        rows[n_rows++].wer = wer;
        run_free(r);
        g_free(chain);
    }
    if (lm_path) {
        char *chain = g_strdup_printf("%s languages=en lm=\"%s\" ! fakesink async=false", asr, lm_path);
        run_result *r = run_file(chain);
        char *hyp = joined(r->asr);
        rows[n_rows].name = "mslamasr languages=en lm=...";
        rows[n_rows].rtf = r->wall / audio_seconds();
        rows[n_rows].wer = wer_of(hyp);
        printf("mslamasr+lm text: %s\nrtf element=mslamasr+lm threads=%d rtf=%.4f wall=%.2f\n", hyp, threads,
               rows[n_rows].rtf, r->wall);
        n_rows++;
        g_free(hyp);
        run_free(r);
        g_free(chain);
    }
    for (int t = 1; t <= 2; t++) {
        char *a = element("mslamasr", "asr", t), *b = element("mslamtranslate", "tr", t), *c = element("mslamlid", "lid", t);
        char *chain = g_strdup_printf("tee name=t t. ! queue ! %s ! fakesink async=false t. ! queue ! %s ! fakesink async=false "
                                      "t. ! queue ! %s ! fakesink async=false", a, b, c);
        run_result *r = run_file(chain);
        double rtf = r->wall / audio_seconds();
        printf("rtf element=all-three threads=%dx3 rtf=%.4f wall=%.2f\n", t, rtf, r->wall);
        rows[n_rows].name = t == 1 ? "all three (tee), n-threads=1 each" : "all three (tee), n-threads=2 each";
        rows[n_rows].rtf = rtf;
        rows[n_rows++].wer = -1;
        run_free(r);
        g_free(chain);
        g_free(a);
        g_free(b);
        g_free(c);
    }
    {
        run_result *r = run_file("pocketsphinx ! fakesink async=false");
        double rtf = r->wall / audio_seconds(), wer = wer_of(r->sphinx->str);
        printf("pocketsphinx text: %s\n", r->sphinx->str);
        printf("rtf element=pocketsphinx rtf=%.4f wall=%.2f wer=%.3f\n", rtf, r->wall, wer);
        rows[n_rows].name = "pocketsphinx (en-us)";
        rows[n_rows].rtf = rtf;
        rows[n_rows++].wer = wer;
        run_free(r);
    }

    /* ---- latency at a live source's pace ---- */
    struct {
        const char *name;
        double mean, max;
        int n;
    } lat[4];
    int n_lat = 0;
    if (!skip_paced) {
        char *chain = g_strdup_printf("%s ! fakesink async=false", asr);
        run_result *r = run_paced(chain);
        latencies(r->asr, &lat[n_lat].mean, &lat[n_lat].max, &lat[n_lat].n);
        lat[n_lat++].name = "mslamasr alone";
        run_free(r);
        g_free(chain);
        chain = g_strdup_printf("%s ! fakesink async=false", tr);
        r = run_paced(chain);
        latencies(r->tr, &lat[n_lat].mean, &lat[n_lat].max, &lat[n_lat].n);
        lat[n_lat++].name = "mslamtranslate alone";
        run_free(r);
        g_free(chain);
        char *a = element("mslamasr", "asr", 1), *b = element("mslamtranslate", "tr", 1), *c = element("mslamlid", "lid", 1);
        chain = g_strdup_printf("tee name=t t. ! queue ! %s ! fakesink async=false t. ! queue ! %s ! fakesink async=false "
                                "t. ! queue ! %s ! fakesink async=false", a, b, c);
        r = run_paced(chain);
        latencies(r->asr, &lat[n_lat].mean, &lat[n_lat].max, &lat[n_lat].n);
        lat[n_lat++].name = "mslamasr, all three (n-threads=1 each)";
        latencies(r->tr, &lat[n_lat].mean, &lat[n_lat].max, &lat[n_lat].n);
        lat[n_lat++].name = "mslamtranslate, all three (n-threads=1 each)";
        run_free(r);
        g_free(chain);
        g_free(a);
        g_free(b);
        g_free(c);
        for (int i = 0; i < n_lat; i++)
            printf("latency run=\"%s\" sentences=%d mean_ms=%.0f max_ms=%.0f\n", lat[i].name, lat[i].n, lat[i].mean,
                   lat[i].max);
    }

    /* ---- summary ---- */
    printf("\n| element | real-time factor | WER |\n|---|---|---|\n");
    for (int i = 0; i < n_rows; i++) {
        char w[32] = "";
        if (rows[i].wer >= 0 && (trained || !strcmp(rows[i].name, "pocketsphinx (en-us)")))
            snprintf(w, sizeof w, "%.1f%%", 100 * rows[i].wer);
        else if (rows[i].wer >= 0)
            snprintf(w, sizeof w, "n/a (untrained)");
        printf("| %s | %.4f | %s |\n", rows[i].name, rows[i].rtf, w);
    }
    if (n_lat) {
        printf("\n| latency: words end -> final text out (latency=320) | sentences | mean | max |\n|---|---|---|---|\n");
        for (int i = 0; i < n_lat; i++)
            printf("| %s | %d | %.0f ms | %.0f ms |\n", lat[i].name, lat[i].n, lat[i].mean, lat[i].max);
    }
    double all = 1e9;
    for (int i = 0; i < n_rows; i++)
        if (g_str_has_prefix(rows[i].name, "all three")) all = MIN(all, rows[i].rtf);
    printf("\ntarget: all three <= 0.2 real-time factor on 2 cores: %s (%.4f)\n", all <= 0.2 ? "met" : "NOT met", all);
    if (n_lat) {
        double worst = 0;
        for (int i = 0; i < n_lat; i++) worst = MAX(worst, lat[i].max);
        printf("target: final caption <= latency + 200 ms = 520 ms after the words end: %s (worst %.0f ms)\n",
               worst <= 520 ? "met" : "NOT met", worst);
    }
    g_free(asr);
    g_free(tr);
    g_free(lid);
    return 0;
}
