/* mslam-captions: the mslam elements inside an application.
 *
 * This is the example for people embedding mslam in a media app: build a pipeline with
 * gst_parse_launch, watch the bus, and read the element messages the elements post
 * (mslam-asr, mslam-translation, mslam-lid); the same elements also put the final text out as
 * timed text buffers, for subtitle encoders, overlays and muxers.
 *
 *   mslam-captions [--translate] [--lid] [--words] [--model FILE] [--latency MS] [--min-confidence C]
 *                  [--voice-threshold DB] FILE|URI
 *   mslam-captions [--translate] [--lid] [--words] --live   (the default audio input, or the source
 *                                                            MSLAM_AUDIO_SRC names; Ctrl-C ends)
 *
 * Captions print as "[start --> end] text (language, confidence)"; on a terminal the caption
 * being spoken is shown as it grows (partial results) and replaced by its final text. --words
 * prints each caption's words under it, timed ("  [start --> end] word (confidence)").
 */
#include <gst/gst.h>
#include <glib-unix.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

typedef struct {
    GMainLoop *loop;
    GstElement *pipeline;
    gboolean tty;       /* partial results are redrawn in place */
    gboolean words;     /* print each final caption's words */
    gboolean partial_shown;
    gboolean file;      /* the source is a file or URI (not --live) */
    gboolean got_audio; /* the decoder has put out an audio stream */
    gboolean interrupted; /* Ctrl-C: the run ends by SIGINT once drained, so a loop over files stops */
    int status;
} App;

static void clear_partial(App *app) {
    if (app->partial_shown) {
        fputs("\r\033[K", stdout);
        app->partial_shown = FALSE;
    }
}

static void print_time(GstClockTime t) {
    if (!GST_CLOCK_TIME_IS_VALID(t)) {
        fputs("--:--:--.---", stdout);
        return;
    }
    guint64 ms = t / GST_MSECOND;
    printf("%02u:%02u:%02u.%03u", (unsigned)(ms / 3600000), (unsigned)(ms / 60000 % 60), (unsigned)(ms / 1000 % 60),
           (unsigned)(ms % 1000));
}

/* mslam-asr and mslam-translation: text, start, end, final, confidence, language, words
 * (translations add source-language and, with a CTC head, source-text and source-words). */
static void on_caption(App *app, const GstStructure *s) {
    const gchar *text = gst_structure_get_string(s, "text");
    const gchar *lang = gst_structure_get_string(s, "language");
    const gchar *source_lang = gst_structure_get_string(s, "source-language");
    guint64 start = GST_CLOCK_TIME_NONE, end = GST_CLOCK_TIME_NONE;
    gboolean final = TRUE;
    gdouble confidence = 0;
    gboolean translation = gst_structure_has_name(s, "mslam-translation");

    gst_structure_get_uint64(s, "start", &start);
    gst_structure_get_uint64(s, "end", &end);
    gst_structure_get_boolean(s, "final", &final);
    gst_structure_get_double(s, "confidence", &confidence);
    if (!final) {
        /* partial results only make sense where they can be redrawn: on one row, the text's end
         * (a row that wrapped would stay on the screen) */
        if (!app->tty) return;
        clear_partial(app);
        struct winsize ws;
        glong room = (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 20 ? ws.ws_col : 80) - 10;
        glong length = text ? g_utf8_strlen(text, -1) : 0;
        const gchar *shown = text && length > room ? g_utf8_offset_to_pointer(text, length - room) : text;
        printf("%s... %s", translation ? "(en) " : "", shown ? shown : "");
        app->partial_shown = TRUE;
        fflush(stdout);
        return;
    }
    clear_partial(app);
    putchar('[');
    print_time(start);
    fputs(" --> ", stdout);
    print_time(end);
    if (translation)
        printf("] %s (en, from %s, %.2f)\n", text, source_lang ? source_lang : "?", confidence);
    else
        printf("] %s (%s, %.2f)\n", text, lang ? lang : "?", confidence);
    const GValue *words = app->words ? gst_structure_get_value(s, translation ? "source-words" : "words") : NULL;
    for (guint i = 0; words && i < gst_value_array_get_size(words); i++) {
        const GstStructure *word = gst_value_get_structure(gst_value_array_get_value(words, i));
        guint64 word_start = GST_CLOCK_TIME_NONE, word_end = GST_CLOCK_TIME_NONE;
        gdouble word_confidence = 0;
        gst_structure_get_uint64(word, "start", &word_start);
        gst_structure_get_uint64(word, "end", &word_end);
        gst_structure_get_double(word, "confidence", &word_confidence);
        fputs("  [", stdout);
        print_time(word_start);
        fputs(" --> ", stdout);
        print_time(word_end);
        printf("] %s (%.2f)\n", gst_structure_get_string(word, "text"), word_confidence);
    }
    fflush(stdout);
}

/* mslam-lid: language, confidence, languages[], probabilities[], start, end. */
static void on_language(App *app, const GstStructure *s) {
    const GValue *langs = gst_structure_get_value(s, "languages");
    const GValue *probs = gst_structure_get_value(s, "probabilities");
    guint64 end = GST_CLOCK_TIME_NONE;

    gst_structure_get_uint64(s, "end", &end);
    clear_partial(app);
    fputs("  language at ", stdout);
    print_time(end);
    fputs(":", stdout);
    for (guint i = 0; langs && probs && i < gst_value_array_get_size(langs); i++)
        printf(" %s %.0f%%", g_value_get_string(gst_value_array_get_value(langs, i)),
               100 * g_value_get_double(gst_value_array_get_value(probs, i)));
    putchar('\n');
    fflush(stdout);
}

/* Whether a message came from a source element (filesrc, souphttpsrc: what reads the input). */
static gboolean is_source_element(GstObject *object) {
    if (!GST_IS_ELEMENT(object)) return FALSE;
    const gchar *klass = gst_element_class_get_metadata(GST_ELEMENT_GET_CLASS(object), GST_ELEMENT_METADATA_KLASS);
    return klass && strstr(klass, "Source") != NULL;
}

static gboolean on_bus(GstBus *bus, GstMessage *msg, gpointer data) {
    App *app = data;
    (void)bus;
    switch (GST_MESSAGE_TYPE(msg)) {
    case GST_MESSAGE_ELEMENT: {
        const GstStructure *s = gst_message_get_structure(msg);
        if (gst_structure_has_name(s, "mslam-asr") || gst_structure_has_name(s, "mslam-translation"))
            on_caption(app, s);
        else if (gst_structure_has_name(s, "mslam-lid"))
            on_language(app, s);
        break;
    }
    case GST_MESSAGE_ERROR: {
        GError *err = NULL;
        gchar *debug = NULL;
        gst_message_parse_error(msg, &err, &debug);
        clear_partial(app);
        fprintf(stderr, "error from %s: %s\n", GST_OBJECT_NAME(GST_MESSAGE_SRC(msg)), err->message);
        if (debug) fprintf(stderr, "  (%s)\n", debug);
        /* the elements' advice names their property; here it is an option */
        if (debug && strstr(debug, "set the model property or MSLAM_MODEL"))
            fprintf(stderr, "(here: --model FILE, or MSLAM_MODEL)\n");
        /* a video without sound fails as a demuxer's "not-linked", which says nothing of why; a
         * source that could not read (souphttpsrc at an address with no server) as bare */
        if (app->file && !app->got_audio && err->domain == GST_STREAM_ERROR) {
            if (is_source_element(GST_MESSAGE_SRC(msg)))
                fprintf(stderr, "nothing could be read from the file or URI (for a URI: a host that cannot be "
                        "reached or refuses the connection?)\n");
            else
                fprintf(stderr, "no audio stream came out of the file: it has none, or none that the installed "
                        "GStreamer plugins decode\n");
        }
        /* the default input failed (no microphone, no sound server): where else audio can come from */
        if (!app->file && !g_getenv("MSLAM_AUDIO_SRC") &&
            g_str_has_prefix(GST_OBJECT_NAME(GST_MESSAGE_SRC(msg)), "autoaudiosrc"))
            fprintf(stderr, "the default audio input failed: MSLAM_AUDIO_SRC names another source (e.g. "
                    "\"pulsesrc server=HOST\", or \"audiotestsrc is-live=true\" to try the pipeline)\n");
        g_error_free(err);
        g_free(debug);
        app->status = 1;
        g_main_loop_quit(app->loop);
        break;
    }
    case GST_MESSAGE_EOS:
        clear_partial(app);
        g_main_loop_quit(app->loop);
        break;
    default:
        break;
    }
    return G_SOURCE_CONTINUE;
}

/* uridecodebin's streams: whether one is audio (the others stay unlinked). */
static void on_decoded_pad(GstElement *decoder, GstPad *pad, gpointer data) {
    App *app = data;
    (void)decoder;
    GstCaps *caps = gst_pad_get_current_caps(pad);
    if (!caps) caps = gst_pad_query_caps(pad, NULL);
    if (caps && !gst_caps_is_empty(caps) &&
        g_str_has_prefix(gst_structure_get_name(gst_caps_get_structure(caps, 0)), "audio/"))
        app->got_audio = TRUE;
    if (caps) gst_caps_unref(caps);
}

/* uridecodebin has put out all its streams: without an audio one, an error (which on_bus
 * explains). The demuxer's "not-linked" would end the run too, but where it had put out all its
 * data before the streams came out (a short file) no error came, and the run waited forever
 * (6 runs in 200 on a 10-frame video). */
static void on_no_more_pads(GstElement *decoder, gpointer data) {
    App *app = data;
    if (app->got_audio) return;
    GError *err = g_error_new_literal(GST_STREAM_ERROR, GST_STREAM_ERROR_WRONG_TYPE, "none of the file's streams is audio");
    gst_element_post_message(decoder, gst_message_new_error(GST_OBJECT(decoder), err, NULL));
    g_error_free(err);
}

/* Whether the value of --option is in the range of mslamasr's property of that name (a uint or a
 * double; gst_parse_launch would only warn and keep the default); an error naming it otherwise,
 * with what follows the range (unit). The plugin not found passes: building the pipeline says so. */
static gboolean option_in_range(const char *option, gdouble value, const char *unit) {
    GstElement *asr = gst_element_factory_make("mslamasr", NULL);
    if (!asr) return TRUE;
    GParamSpec *spec = g_object_class_find_property(G_OBJECT_GET_CLASS(asr), option);
    gdouble min = 0.0, max = 0.0;
    gboolean ranged = TRUE, ok = TRUE;
    if (spec && G_IS_PARAM_SPEC_UINT(spec)) {
        min = G_PARAM_SPEC_UINT(spec)->minimum;
        max = G_PARAM_SPEC_UINT(spec)->maximum;
    } else if (spec && G_IS_PARAM_SPEC_DOUBLE(spec)) {
        min = G_PARAM_SPEC_DOUBLE(spec)->minimum;
        max = G_PARAM_SPEC_DOUBLE(spec)->maximum;
    } else {
        ranged = FALSE;
    }
    if (ranged && !(value >= min && value <= max)) {
        fprintf(stderr, "--%s %g: must be %g to %g%s\n", option, value, min, max, unit);
        ok = FALSE;
    }
    gst_object_unref(asr);
    return ok;
}

/* Ctrl-C: EOS, so that the elements put out what they hold before the pipeline stops. */
static gboolean on_interrupt(gpointer data) {
    App *app = data;
    app->interrupted = TRUE;
    gst_element_send_event(app->pipeline, gst_event_new_eos());
    return G_SOURCE_REMOVE;
}

int main(int argc, char **argv) {
    gboolean translate = FALSE, lid = FALSE, live = FALSE, words = FALSE, version = FALSE;
    gchar *model = NULL;
    gint latency = 320;
    gdouble min_confidence = 0.0, voice_threshold = NAN; /* NAN: the elements' default */
    GOptionEntry entries[] = {
        {"translate", 't', 0, G_OPTION_ARG_NONE, &translate, "Also translate into English (mslamtranslate)", NULL},
        {"lid", 'l', 0, G_OPTION_ARG_NONE, &lid, "Also identify the language (mslamlid)", NULL},
        {"live", 0, 0, G_OPTION_ARG_NONE, &live,
         "Caption the default audio input (or the source element MSLAM_AUDIO_SRC names, e.g. \"audiotestsrc "
         "is-live=true\")", NULL},
        {"words", 'w', 0, G_OPTION_ARG_NONE, &words,
         "Print each caption's words with their times (the transcript's, under a translation)", NULL},
        {"model", 'm', 0, G_OPTION_ARG_FILENAME, &model, "Model file (default: $MSLAM_MODEL or the installed one)",
         "FILE"},
        {"latency", 0, 0, G_OPTION_ARG_INT, &latency, "Chunk of audio encoded at a time (ms)", "MS"},
        {"min-confidence", 0, 0, G_OPTION_ARG_DOUBLE, &min_confidence,
         "Drop captions and translations less sure than this, 0 to 1 (the elements' min-confidence; noise "
         "heard as speech comes out unsure; default 0: keep all)", "X"},
        {"voice-threshold", 0, 0, G_OPTION_ARG_DOUBLE, &voice_threshold,
         "Quieter than this (dBFS over 10 ms) is never speech: the elements' voice-threshold (their default "
         "when not given; a quiet microphone, whose captions come out cut short or not at all: -75)", "DB"},
        {"version", 0, 0, G_OPTION_ARG_NONE, &version, "Print the version and end", NULL},
        {NULL, 0, 0, 0, NULL, NULL, NULL},
    };
    GError *err = NULL;
    GOptionContext *ctx = g_option_context_new("[FILE|URI]");
    g_option_context_set_summary(ctx, "Captions speech with the mslam GStreamer elements.");
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_add_group(ctx, gst_init_get_option_group());
    if (!g_option_context_parse(ctx, &argc, &argv, &err)) {
        fprintf(stderr, "%s: %s (see --help)\n", argv[0], err->message);
        return 2;
    }
    g_option_context_free(ctx);
    if (version) {
        printf("mslam-captions %s\n", MSLAM_VERSION_STRING);
        return 0;
    }
    /* GOption keeps "--" when a word after it starts with '-' (a file named -talk.wav) */
    if (argc == 3 && strcmp(argv[1], "--") == 0) {
        argv[1] = argv[2];
        argc = 2;
    }
    if (live == (argc == 2) || argc > 2) {
        if (argc > 2)
            fprintf(stderr, "%s: one file or URI at a time, not %d (%s ...)\n", argv[0], argc - 1, argv[2]);
        else if (live)
            fprintf(stderr, "%s: --live reads the audio input: no file or URI with it\n", argv[0]);
        fprintf(stderr, "usage: %s [--translate] [--lid] [--words] [--model FILE] [--latency MS] [--min-confidence C] "
                "[--voice-threshold DB] FILE|URI, or --live (see --help)\n", argv[0]);
        return 2;
    }
    if (!option_in_range("latency", latency, " ms (the audio encoded at a time, in steps of 40 ms)") ||
        !option_in_range("min-confidence", min_confidence, "") ||
        (!isnan(voice_threshold) && !option_in_range("voice-threshold", voice_threshold, " dBFS")))
        return 2;

    /* The source: a file or URI decoded and converted, or the default audio input. */
    gchar *source;
    if (live) {
        /* another live source where there is no microphone to try it with, as live-captions.sh */
        const gchar *src = g_getenv("MSLAM_AUDIO_SRC");
        source = g_strdup(src && *src ? src : "autoaudiosrc");
    } else {
        /* a file first: talk:1.wav is a valid URI to GStreamer, of the scheme "talk" */
        gchar *uri = !g_file_test(argv[1], G_FILE_TEST_EXISTS) && gst_uri_is_valid(argv[1])
                         ? g_strdup(argv[1])
                         : gst_filename_to_uri(argv[1], &err);
        if (!uri) {
            fprintf(stderr, "%s: %s\n", argv[1], err->message);
            return 2;
        }
        source = g_strdup_printf("uridecodebin name=decoder uri=\"%s\"", uri);
        g_free(uri);
    }
    /* The elements' common properties; model and voice-threshold only when given (else $MSLAM_MODEL
     * or the default model, and the elements' default threshold). */
    GString *common = g_string_new(NULL);
    g_string_append_printf(common, "latency=%d", latency);
    if (!isnan(voice_threshold)) {
        gchar threshold[G_ASCII_DTOSTR_BUF_SIZE]; /* (a locale's decimal comma would not parse) */
        g_string_append_printf(common, " voice-threshold=%s", g_ascii_dtostr(threshold, sizeof threshold, voice_threshold));
    }
    if (model) g_string_append_printf(common, " model=\"%s\"", model);
    gchar *props = g_string_free(common, FALSE);
    GString *desc = g_string_new(NULL);
    g_string_append_printf(desc, "%s ! audioconvert ! audioresample ! tee name=t ", source);
    /* captions only through messages here: the text pads go to fakesinks. The queues hold 80 s
     * of audio, as pipelines/all-three.sh's, so that each branch runs at its own pace: a caption
     * comes at most max-duration (60 s at most) and a chunk (10.24 s) after its audio, while
     * mslamlid passes the audio on at once; without a bound, the slowest branch's queue would
     * hold the rest of a file. */
    const char *q = "queue max-size-buffers=0 max-size-bytes=0 max-size-time=80000000000";
    gchar sure[G_ASCII_DTOSTR_BUF_SIZE]; /* (a locale's decimal comma would not parse) */
    g_ascii_dtostr(sure, sizeof sure, min_confidence);
    g_string_append_printf(desc, "t. ! %s ! mslamasr %s min-confidence=%s ! fakesink ", q, props, sure);
    if (translate)
        g_string_append_printf(desc, "t. ! %s ! mslamtranslate %s min-confidence=%s ! fakesink ", q, props, sure);
    if (lid) g_string_append_printf(desc, "t. ! %s ! mslamlid %s ! fakesink ", q, props);
    g_free(source);
    g_free(props);

    App app = {0};
    app.tty = isatty(STDOUT_FILENO);
    app.words = words;
    app.file = !live;
    app.pipeline = gst_parse_launch(desc->str, &err);
    /* a missing element (the plugin not found) gives a pipeline without it, and an error */
    if (!app.pipeline || err) {
        fprintf(stderr, "cannot build \"%s\": %s%s\n", desc->str, err ? err->message : "unknown error",
                err && g_error_matches(err, GST_PARSE_ERROR, GST_PARSE_ERROR_NO_SUCH_ELEMENT) &&
                        strstr(err->message, "\"mslam")
                    ? " (is the mslam plugin installed, or GST_PLUGIN_PATH set to its folder?)"
                    : "");
        return 1;
    }
    g_string_free(desc, TRUE);
    GstElement *decoder = gst_bin_get_by_name(GST_BIN(app.pipeline), "decoder");
    if (decoder) {
        g_signal_connect(decoder, "pad-added", G_CALLBACK(on_decoded_pad), &app);
        g_signal_connect(decoder, "no-more-pads", G_CALLBACK(on_no_more_pads), &app);
        gst_object_unref(decoder);
    }
    app.loop = g_main_loop_new(NULL, FALSE);
    GstBus *bus = gst_element_get_bus(app.pipeline);
    gst_bus_add_watch(bus, on_bus, &app);
    g_unix_signal_add(SIGINT, on_interrupt, &app);

    if (gst_element_set_state(app.pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE) {
        /* the error message (a bad model, say) is on the bus: let on_bus print it */
        app.status = 1;
    }
    g_main_loop_run(app.loop);

    gst_element_set_state(app.pipeline, GST_STATE_NULL);
    gst_bus_remove_watch(bus);
    gst_object_unref(bus);
    gst_object_unref(app.pipeline);
    g_main_loop_unref(app.loop);
    g_free(model);
    if (app.interrupted) { /* as a shell's loop over files expects: ended by the signal, not 0 */
        fflush(stdout);
        signal(SIGINT, SIG_DFL);
        raise(SIGINT);
    }
    return app.status;
}
