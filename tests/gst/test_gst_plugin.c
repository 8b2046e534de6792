/* The plugin as a whole: found uninstalled through GST_PLUGIN_PATH (isolated registry), its three
 * elements and their properties, the model path rules (property, MSLAM_MODEL, installed default),
 * device=vulkan, one copy of the weights for elements sharing a model (RSS of one element and of
 * three), and repeated PLAYING <-> NULL under load without growth or crash. */
#include "gsttestutil.h"

#include <dlfcn.h>
#include <glib/gstdio.h>
#include <gst/check/gstcheck.h>
#include <stdio.h>
#include <string.h>

#define MB (1024.0 * 1024.0)

/* AddressSanitizer keeps freed memory in quarantine and adds shadow memory: RSS says nothing
 * about our allocations there, so the RSS checks only run in plain builds (sanitizer builds
 * check leaks with LeakSanitizer instead, see tests/meson.build). */
#if defined(__SANITIZE_ADDRESS__)
#define RSS_MEANINGFUL 0
#else
#define RSS_MEANINGFUL 1
#endif

static const gsttest_fixture *fx;

GST_START_TEST(test_registry) {
    GstPlugin *plugin = gst_registry_find_plugin(gst_registry_get(), "mslam");
    fail_unless(plugin != NULL, "plugin mslam not found (GST_PLUGIN_PATH=%s)", g_getenv("GST_PLUGIN_PATH"));
    const char *dir = g_getenv("MSLAM_BUILD_PLUGIN_DIR");
    fail_unless(dir && g_str_has_prefix(gst_plugin_get_filename(plugin), dir), "loaded from %s",
                gst_plugin_get_filename(plugin));
    fail_unless(g_str_has_suffix(gst_plugin_get_filename(plugin), "libgstmslam.so"));
    GList *features = gst_registry_get_feature_list_by_plugin(gst_registry_get(), "mslam");
    fail_unless_equals_int(g_list_length(features), 3);
    gst_plugin_feature_list_free(features);
    const char *names[] = {"mslamasr", "mslamtranslate", "mslamlid"};
    for (guint i = 0; i < 3; i++) {
        GstElementFactory *f = gst_element_factory_find(names[i]);
        fail_unless(f != NULL, "%s", names[i]);
        fail_unless(gst_element_factory_get_metadata(f, GST_ELEMENT_METADATA_DESCRIPTION) != NULL);
        gst_object_unref(f);
    }
    gst_object_unref(plugin);
}
GST_END_TEST;

/* name, element mask (1 asr, 2 translate, 4 lid), type, min, max, default */
typedef struct {
    const char *name;
    int elements;
    GType type;
    double min, max, def;
} prop_spec;

GST_START_TEST(test_properties) {
    const prop_spec specs[] = {
        {"model", 7, G_TYPE_STRING, 0, 0, 0},
        {"languages", 7, G_TYPE_STRING, 0, 0, 0},
        {"latency", 7, G_TYPE_UINT, 40, 10240, 320},
        {"n-threads", 7, G_TYPE_INT, 0, 256, 1},
        {"beam-size", 3, G_TYPE_INT, 1, 64, 4},
        {"partial-results", 1, G_TYPE_BOOLEAN, 0, 1, 1},
        {"partial-results", 2, G_TYPE_BOOLEAN, 0, 1, 0},
        {"pause", 3, G_TYPE_UINT, 80, 10000, 300},
        {"max-duration", 3, G_TYPE_UINT, 1000, 60000, 6000},
        {"interval", 4, G_TYPE_UINT, 40, 60000, 1000},
        {"window", 4, G_TYPE_UINT, 200, 60000, 3000},
        {"no-repeat-ngram", 2, G_TYPE_INT, 0, 64, 8},
        {"line-length", 3, G_TYPE_UINT, 0, 1000, 0},
        {"max-lines", 3, G_TYPE_UINT, 0, 100, 0},
        {"stall-timeout", 7, G_TYPE_UINT, 0, 60000, 1000},
        {"tag-confidence", 4, G_TYPE_DOUBLE, 0, 1, 0},
    };
    const char *names[] = {"mslamasr", "mslamtranslate", "mslamlid"};
    for (int e = 0; e < 3; e++) {
        GstElement *el = gst_element_factory_make(names[e], NULL);
        fail_unless(el != NULL);
        GObjectClass *klass = G_OBJECT_GET_CLASS(el);
        GParamSpec *device = g_object_class_find_property(klass, "device");
        fail_unless(device && G_IS_PARAM_SPEC_ENUM(device));
        GEnumClass *ec = G_PARAM_SPEC_ENUM(device)->enum_class;
        fail_unless(g_enum_get_value_by_nick(ec, "auto") && g_enum_get_value_by_nick(ec, "cpu") &&
                    g_enum_get_value_by_nick(ec, "vulkan"));
        for (guint i = 0; i < G_N_ELEMENTS(specs); i++) {
            GParamSpec *p = g_object_class_find_property(klass, specs[i].name);
            if (!(specs[i].elements & (1 << e))) {
                /* a property of another element only, unless it also has its own entry */
                gboolean elsewhere = FALSE;
                for (guint k = 0; k < G_N_ELEMENTS(specs); k++)
                    elsewhere |= !strcmp(specs[k].name, specs[i].name) && (specs[k].elements & (1 << e));
                fail_unless(p == NULL || elsewhere, "%s has %s", names[e], specs[i].name);
                continue;
            }
            fail_unless(p != NULL, "%s lacks %s", names[e], specs[i].name);
            fail_unless(G_PARAM_SPEC_VALUE_TYPE(p) == specs[i].type, "%s.%s type", names[e], specs[i].name);
            fail_unless(g_param_spec_get_blurb(p) && strlen(g_param_spec_get_blurb(p)) > 10);
            fail_unless(p->flags & G_PARAM_STATIC_NAME);
            if (specs[i].type == G_TYPE_UINT) {
                GParamSpecUInt *u = G_PARAM_SPEC_UINT(p);
                fail_unless(u->minimum == specs[i].min && u->maximum == specs[i].max &&
                                u->default_value == specs[i].def,
                            "%s.%s range", names[e], specs[i].name);
            } else if (specs[i].type == G_TYPE_INT) {
                GParamSpecInt *u = G_PARAM_SPEC_INT(p);
                fail_unless(u->minimum == specs[i].min && u->maximum == specs[i].max &&
                                u->default_value == specs[i].def,
                            "%s.%s range", names[e], specs[i].name);
            } else if (specs[i].type == G_TYPE_DOUBLE) {
                GParamSpecDouble *u = G_PARAM_SPEC_DOUBLE(p);
                fail_unless(u->minimum == specs[i].min && u->maximum == specs[i].max &&
                                u->default_value == specs[i].def,
                            "%s.%s range", names[e], specs[i].name);
            } else if (specs[i].type == G_TYPE_BOOLEAN) {
                gboolean v;
                g_object_get(el, specs[i].name, &v, NULL);
                fail_unless_equals_int(v, (int)specs[i].def);
            }
        }
        /* the model blurb names the installed default */
        fail_unless(strstr(g_param_spec_get_blurb(g_object_class_find_property(klass, "model")), MSLAM_DEFAULT_MODEL));
        gst_object_unref(el);
    }
}
GST_END_TEST;

GST_START_TEST(test_model_path_rules) {
    g_setenv("MSLAM_MODEL", fx->loud, TRUE);
    char *err = gsttest_launch_error("audiotestsrc ! mslamasr ! fakesink", NULL);
    fail_unless(err == NULL, "with MSLAM_MODEL: %s", err);
    /* the property wins over the environment */
    char *launch = g_strdup_printf("audiotestsrc ! mslamasr model=%s ! fakesink", fx->corrupt);
    err = gsttest_launch_error(launch, NULL);
    g_free(launch);
    fail_unless(err && strstr(err, fx->corrupt), "%s", err);
    g_free(err);
    /* model="" reads as unset, as languages="" does; language codes in any case */
    err = gsttest_launch_error("audiotestsrc ! mslamasr model=\"\" languages=EN ! fakesink", NULL);
    fail_unless(err == NULL, "model=\"\" with MSLAM_MODEL, languages=EN: %s", err);
    /* the error says where the path came from, and a training run's folder which of its files
     * to give */
    char *run = g_strdup(gsttest_path("run")), *run_model = g_build_filename(run, "model.safetensors", NULL);
    fail_unless(g_mkdir_with_parents(run, 0700) == 0 && g_file_set_contents(run_model, "", 0, NULL));
    g_setenv("MSLAM_MODEL", run, TRUE);
    err = gsttest_launch_error("audiotestsrc ! mslamasr ! fakesink", NULL);
    fail_unless(err && strstr(err, "(MSLAM_MODEL)") && strstr(err, "a training run's folder?") &&
                    strstr(err, "best.safetensors"), "%s", err);
    g_free(err);
    launch = g_strdup_printf("audiotestsrc ! mslamasr model=%s ! fakesink", run);
    err = gsttest_launch_error(launch, NULL);
    g_free(launch);
    fail_unless(err && strstr(err, "(the model property)"), "%s", err);
    g_free(err);
    g_unlink(run_model), g_rmdir(run), g_free(run_model), g_free(run);
    g_unsetenv("MSLAM_MODEL");
    /* a model file that is not there is NOT_FOUND, one that cannot be read OPEN_READ */
    int code;
    err = gsttest_launch_error("audiotestsrc ! mslamasr model=/nonexistent/m.safetensors ! fakesink", &code);
    fail_unless(err && code == GST_RESOURCE_ERROR_NOT_FOUND, "missing model: code %d, %s", code, err);
    g_free(err);
    launch = g_strdup_printf("audiotestsrc ! mslamasr model=%s ! fakesink", fx->corrupt);
    err = gsttest_launch_error(launch, &code);
    g_free(launch);
    fail_unless(err && code == GST_RESOURCE_ERROR_OPEN_READ, "corrupt model: code %d, %s", code, err);
    g_free(err);
    if (!g_file_test(MSLAM_DEFAULT_MODEL, G_FILE_TEST_EXISTS)) {
        err = gsttest_launch_error("audiotestsrc ! mslamlid ! fakesink", NULL);
        fail_unless(err && strstr(err, MSLAM_DEFAULT_MODEL) && strstr(err, "No such file"), "%s", err);
        g_free(err);
    }
    /* a Vulkan device that is not there (or a build without the backend): the element error says so */
    g_setenv("MSLAM_VULKAN_DEVICE", "no such device", TRUE);
    launch = g_strdup_printf("audiotestsrc ! mslamtranslate model=%s device=vulkan ! fakesink", fx->loud);
    err = gsttest_launch_error(launch, &code);
    g_free(launch);
    g_unsetenv("MSLAM_VULKAN_DEVICE");
    fail_unless(err && code == GST_RESOURCE_ERROR_SETTINGS && strstr(err, "device=vulkan") &&
                    (strstr(err, "MSLAM_VULKAN_DEVICE=no such device") || strstr(err, "has no Vulkan backend")),
                "code %d, %s", code, err);
    g_free(err);
}
GST_END_TEST;

/* A property read at start, set while the element runs, is warned of (it applies at the next
 * start); one that applies at once (partial-results) is not. */
static int waits_warnings;
static void count_waits(GstDebugCategory *category, GstDebugLevel level, const gchar *file, const gchar *function,
                        gint line, GObject *object, GstDebugMessage *message, gpointer user_data) {
    (void)category, (void)file, (void)function, (void)line, (void)object, (void)user_data;
    const gchar *text = gst_debug_message_get(message);
    waits_warnings += level == GST_LEVEL_WARNING && text && strstr(text, "set while running") != NULL;
}

GST_START_TEST(test_setting_waits_warning) {
    gst_debug_set_threshold_for_name("mslam", GST_LEVEL_WARNING);
    gst_debug_add_log_function(count_waits, NULL, NULL);
    char *launch = g_strdup_printf("mslamasr model=%s", fx->loud);
    GstHarness *h = gst_harness_new_parse(launch);
    g_free(launch);
    gst_harness_set_src_caps_str(h, "audio/x-raw, format=F32LE, rate=16000, channels=1, layout=interleaved");
    gst_harness_play(h);
    GstElement *asr = gst_harness_find_element(h, "mslamasr");
    fail_unless(asr != NULL);
    g_object_set(asr, "partial-results", FALSE, "line-length", 42, NULL);
    fail_unless_equals_int(waits_warnings, 0);
    g_object_set(asr, "latency", 640, "pause", 500, NULL);
    fail_unless_equals_int(waits_warnings, 2);
    gst_object_unref(asr);
    gst_harness_teardown(h);
    gst_debug_remove_log_function(count_waits);
}
GST_END_TEST;

/* An application's own libmslam log callback stays when elements start (they route the
 * library's messages into GStreamer's log only where no callback is set). The elements use the
 * shared libmslam, this test's own calls a static copy: the callback is set and read in the
 * shared one, as an application linked with it does. */
static int app_errors;
static void app_log(enum mslam_log_level level, const char *message, void *user_data) {
    (void)message;
    (void)user_data;
    app_errors += level == MSLAM_LOG_ERROR;
}

GST_START_TEST(test_app_log_callback) {
    void *shared = dlopen(MSLAM_SONAME, RTLD_NOW);
    fail_unless(shared != NULL, "dlopen %s: %s", MSLAM_SONAME, dlerror());
    void (*log_set)(mslam_log_callback, void *) = (void (*)(mslam_log_callback, void *))dlsym(shared, "mslam_log_set");
    void (*log_get)(mslam_log_callback *, void **) =
        (void (*)(mslam_log_callback *, void **))dlsym(shared, "mslam_log_get");
    mslam_model *(*model_load)(const char *, struct mslam_model_params) =
        (mslam_model * (*)(const char *, struct mslam_model_params)) dlsym(shared, "mslam_model_load");
    fail_unless(log_set && log_get && model_load);
    log_set(app_log, NULL);
    char *launch = g_strdup_printf("audiotestsrc ! mslamasr model=%s ! fakesink", fx->loud);
    GstElement *p = gst_parse_launch(launch, NULL);
    g_free(launch);
    fail_unless(p && gst_element_set_state(p, GST_STATE_PAUSED) != GST_STATE_CHANGE_FAILURE);
    gst_element_get_state(p, NULL, NULL, GST_CLOCK_TIME_NONE);
    gst_element_set_state(p, GST_STATE_NULL);
    gst_object_unref(p);
    mslam_log_callback cb = NULL;
    log_get(&cb, NULL);
    fail_unless(cb == app_log, "an element replaced the application's log callback");
    app_errors = 0;
    fail_unless(model_load("/nonexistent/model.safetensors", mslam_model_default_params()) == NULL);
    fail_unless(app_errors == 1, "the application's callback heard %d errors", app_errors);
    log_set(NULL, NULL);
    dlclose(shared);
}
GST_END_TEST;

/* Elements that load the same file share one copy of the weights. */
static char *big_model;
static double big_model_mb;

static GstElement *paused(const char *launch) {
    GstElement *p = gst_parse_launch(launch, NULL);
    fail_unless(p != NULL);
    GstStateChangeReturn r = gst_element_set_state(p, GST_STATE_PAUSED);
    fail_unless(r != GST_STATE_CHANGE_FAILURE);
    return p;
}

static void stop(GstElement *p) {
    gst_element_set_state(p, GST_STATE_NULL);
    gst_object_unref(p);
}

GST_START_TEST(test_shared_weights) {
    /* warm up GStreamer's own allocations (elements, caps, threads) with a tiny model */
    char *launch = g_strdup_printf("appsrc ! mslamasr model=%s ! fakesink", fx->loud);
    stop(paused(launch));
    g_free(launch);

    size_t base = gsttest_rss();
    launch = g_strdup_printf("appsrc ! mslamasr model=%s ! fakesink", big_model);
    GstElement *one = paused(launch);
    g_free(launch);
    size_t rss_one = gsttest_rss();
    stop(one);
    size_t after_one = gsttest_rss();

    launch = g_strdup_printf("appsrc ! tee name=t ! queue ! mslamasr model=%s ! fakesink "
                             "t. ! queue ! mslamtranslate model=%s ! fakesink t. ! queue ! mslamlid model=%s ! fakesink",
                             big_model, big_model, big_model);
    GstElement *three = paused(launch);
    g_free(launch);
    size_t rss_three = gsttest_rss();
    stop(three);
    size_t after_three = gsttest_rss();

    double d_one = (rss_one - (double)base) / MB, d_three = (rss_three - (double)base) / MB;
    printf("model file %.1f MB: RSS +%.1f MB with mslamasr alone, +%.1f MB with mslamasr, mslamtranslate and "
           "mslamlid together (+%.1f, +%.1f MB after stopping)\n",
           big_model_mb, d_one, d_three, (after_one - (double)base) / MB, (after_three - (double)base) / MB);
    if (!RSS_MEANINGFUL) return;
    fail_unless(d_one > 0.8 * big_model_mb, "one element added only %.1f MB", d_one);
    fail_unless(d_three < d_one + 0.3 * big_model_mb, "three elements: %.1f MB, one: %.1f MB", d_three, d_one);
    /* stopping frees the weights */
    fail_unless((after_three - (double)base) / MB < 0.3 * big_model_mb, "%.1f MB left after stopping",
                (after_three - (double)base) / MB);
}
GST_END_TEST;

/* Elements that ask for different devices share the copy that runs where both would run:
 * device=auto resolves (on a machine without a GPU, to the CPU; with MSLAM_VULKAN_DEVICE set, to
 * that Vulkan device) and then shares with device=cpu or device=vulkan, in either order, and once
 * it has said where a file runs, it looks there without loading the file to find out. */
static int loads, device_opens;
static void count_loads(GstDebugCategory *category, GstDebugLevel level, const gchar *file, const gchar *function,
                        gint line, GObject *object, GstDebugMessage *message, gpointer user_data) {
    (void)file, (void)function, (void)line, (void)object, (void)user_data;
    const gchar *text = gst_debug_message_get(message);
    loads += level == GST_LEVEL_INFO && !strcmp(gst_debug_category_get_name(category), "mslam") && text &&
             g_str_has_prefix(text, "loaded ");
    device_opens += text && strstr(text, "libmslam: the encoder runs on Vulkan device") != NULL;
}

static int loads_of(const char *first, const char *second) {
    char *launch = g_strdup_printf("appsrc ! tee name=t ! queue ! mslamasr model=%s %s ! fakesink "
                                   "t. ! queue ! mslamlid model=%s %s ! fakesink",
                                   fx->loud, first, fx->loud, second);
    loads = device_opens = 0;
    GstElement *p = paused(launch);
    stop(p);
    g_free(launch);
    return loads;
}

GST_START_TEST(test_devices_share) {
    gst_debug_set_threshold_for_name("mslam", GST_LEVEL_INFO);
    gst_debug_add_log_function(count_loads, NULL, NULL);
    struct mslam_model_params params = mslam_model_default_params();
    mslam_model *probe = mslam_model_load(fx->loud, params);
    fail_unless(probe != NULL);
    int auto_is_cpu = !strcmp(mslam_model_device(probe), "cpu");
    mslam_model_free(probe);
    if (auto_is_cpu) {
        fail_unless(loads_of("device=cpu", "device=auto") == 1, "cpu then auto: %d loads", loads);
        fail_unless(loads_of("device=auto", "device=cpu") == 1, "auto then cpu: %d loads", loads);
    }
    fail_unless(loads_of("device=cpu", "device=cpu") == 1, "cpu twice: %d loads", loads);
    /* with MSLAM_VULKAN_DEVICE, auto runs on that device and shares with device=vulkan */
    g_setenv("MSLAM_VULKAN_DEVICE", "0", TRUE);
    params.device = MSLAM_DEVICE_VULKAN;
    probe = mslam_model_load(fx->loud, params);
    if (probe) {
        /* a pipeline starts its elements downstream first: here the second named one first */
        fail_unless(loads_of("device=vulkan", "device=auto") == 1 && device_opens == 1, "auto, then vulkan: %d loads",
                    loads);
        /* vulkan first; auto knows from the load above where this file runs, and shares without
         * opening a device of its own to find out */
        fail_unless(loads_of("device=auto", "device=vulkan") == 1 && device_opens == 1,
                    "vulkan, then auto: %d loads, %d device opens", loads, device_opens);
        fail_unless(loads_of("device=cpu", "device=vulkan") == 2, "cpu and vulkan: %d loads", loads);
    } else {
        printf("no Vulkan device: device=vulkan sharing not checked (%s)\n", mslam_last_error());
    }
    mslam_model_free(probe);
    g_unsetenv("MSLAM_VULKAN_DEVICE");
    gst_debug_remove_log_function(count_loads);
}
GST_END_TEST;

/* All three elements under load, PLAYING <-> NULL again and again: no crash, no growth. */
GST_START_TEST(test_state_cycles) {
    char *launch = g_strdup_printf(
        "audiotestsrc wave=ticks samplesperbuffer=1000 ! audio/x-raw,rate=16000,channels=1,format=S16LE ! "
        "tee name=t ! queue ! mslamasr model=%s max-duration=1000 ! fakesink t. ! queue ! mslamtranslate model=%s "
        "partial-results=true ! fakesink t. ! queue ! mslamlid model=%s interval=200 ! fakesink",
        fx->loud, fx->loud, fx->loud);
    /* RSS after 10, 25 and 40 cycles: a leak grows both intervals alike, while a one-off step (a
     * streaming thread's stack or malloc arena first touched late on a loaded machine: 4.1 MB once
     * under two training jobs) grows one */
    size_t rss_at[3] = {0};
    const int cycles = 40, marks[3] = {10, 25, 39};
    for (int i = 0; i < cycles; i++) {
        /* half the cycles reuse the pipeline, half build a new one */
        static GstElement *p;
        if (!p || i % 2) {
            if (p) gst_object_unref(p);
            p = gst_parse_launch(launch, NULL);
        }
        fail_unless(gst_element_set_state(p, GST_STATE_PLAYING) != GST_STATE_CHANGE_FAILURE);
        g_usleep((i % 5) * 20000 + 5000);
        GstBus *bus = gst_element_get_bus(p);
        GstMessage *m = gst_bus_pop_filtered(bus, GST_MESSAGE_ERROR);
        fail_unless(m == NULL, "error in cycle %d", i);
        gst_bus_set_flushing(bus, TRUE);
        gst_bus_set_flushing(bus, FALSE);
        gst_object_unref(bus);
        fail_unless(gst_element_set_state(p, GST_STATE_NULL) == GST_STATE_CHANGE_SUCCESS);
        if (i == cycles - 1) {
            gst_object_unref(p);
            p = NULL;
        }
        for (int k = 0; k < 3; k++)
            if (i == marks[k]) rss_at[k] = gsttest_rss();
    }
    printf("state cycles: RSS %.1f MB after 10 cycles, %.1f after 25, %.1f after %d\n", rss_at[0] / MB, rss_at[1] / MB,
           rss_at[2] / MB, cycles);
    if (RSS_MEANINGFUL)
        fail_unless(rss_at[1] < rss_at[0] + 3 * MB || rss_at[2] < rss_at[1] + 3 * MB,
                    "RSS grew by 3 MB or more in both intervals: %.1f, %.1f, %.1f MB", rss_at[0] / MB, rss_at[1] / MB,
                    rss_at[2] / MB);
    g_free(launch);
}
GST_END_TEST;

static Suite *mslamplugin_suite(void) {
    Suite *s = suite_create("mslam plugin");
    TCase *tc = tcase_create("general");
    tcase_set_timeout(tc, 300);
    suite_add_tcase(s, tc);
    tcase_add_test(tc, test_registry);
    tcase_add_test(tc, test_properties);
    tcase_add_test(tc, test_model_path_rules);
    tcase_add_test(tc, test_app_log_callback);
    tcase_add_test(tc, test_setting_waits_warning);
    tcase_add_test(tc, test_shared_weights);
    tcase_add_test(tc, test_devices_share);
    tcase_add_test(tc, test_state_cycles);
    fx = gsttest_fixture_get();
    /* a model of some size: 8 Conformer layers of width 256 */
    struct gsttest_model_opts o = {.kind = GSTTEST_MODEL_RANDOM, .ctc_head = 1, .lid_head = 1,
                                   .n_decoder_layers = 1, .d_model = 256, .n_layers = 4, .seed = 3};
    big_model = g_strdup(gsttest_path("big.safetensors"));
    g_assert(gsttest_write_model(big_model, &o) == 0);
    GStatBuf st;
    g_assert(g_stat(big_model, &st) == 0);
    big_model_mb = st.st_size / MB;
    return s;
}

GST_CHECK_MAIN(mslamplugin);
