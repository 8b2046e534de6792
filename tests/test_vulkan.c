/* The Vulkan backend against the CPU reference: the encoder's offline passes (speech with
 * padding, chunk masks and either conv; text) agree within float rounding on every frame, and so
 * does the public API on a model loaded with device = vulkan. Runs on whatever Vulkan device
 * MSLAM_VULKAN_DEVICE picks, else the first one (Mesa's lavapipe on machines without a GPU);
 * without one the test is skipped (exit 77). */
#include "backend_vulkan.h"
#include "encoder.h"
#include "model.h"
#include "testutil.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Relative error (max |vk - cpu| / max |cpu|) the backend must stay within: the shaders sum in
 * another order than BLAS and use the GPU's exp, so results differ by rounding, which the
 * LayerNorms of a few layers do not amplify. */
#define TOLERANCE 1e-4

static const char *vocab[] = {"<blank>", "<unk>", " ", "a", "b", "c", "d", "e"};
static const char *langs[] = {"en", "de"};
/* The name of the device the tests run on */
static char vk_name[256];

/* Sizes that are not multiples of the shaders' tiles (64) or workgroups, with more heads than
 * one and a head wider than a warp. */
static mslam_model *tiny_model(int causal, int d, int heads, uint64_t seed) {
    struct mslam_model_config cfg = {.n_mels = 80, .d_model = d, .n_heads = heads, .d_ff = 2 * d + 8,
                                     .conv_kernel = 7, .sub_channels = 5, .n_speech_layers = 2,
                                     .n_shared_layers = 2, .vocab_size = 8, .n_langs = 2, .causal_conv = causal};
    mslam_model *m = mslam_model_new(&cfg, vocab, langs);
    if (m) test_randomise_model(m, seed, 0.2f);
    return m;
}

static double max_rel(const float *a, const float *ref, size_t n) { return test_max_rel_err(a, ref, n, 1.0f); }

/* B items of random log-mel, item b with mel_lens[b] valid frames of T_mel. */
static float *random_mel(int B, int T_mel, int n_mels, uint64_t seed) {
    float *mel = malloc((size_t)B * T_mel * n_mels * sizeof(float));
    mslam_rng rng;
    mslam_rng_seed(&rng, seed);
    test_fill_uniform(mel, (size_t)B * T_mel * n_mels, -9.0f, -1.0f, &rng);
    return mel;
}

static void speech_case(mslam_vk *vk, mslam_model *m, const char *name, int B, int T_mel, const int *mel_lens,
                        const attn_mask *mask) {
    const struct mslam_model_config *cfg = &m->cfg;
    float *mel = random_mel(B, T_mel, cfg->n_mels, 7 + (uint64_t)T_mel);
    mslam_encoder_pass pass = {0};
    int rc = mslam_encoder_speech_forward(&pass, cfg, &m->p, mel, mel_lens, B, T_mel, mask, 0);
    CHECK(rc == 0, "%s: CPU: %s", name, mslam_last_error());
    size_t n = (size_t)pass.B * pass.T * cfg->d_model;
    mslam_encoder_pass on_device = {.vk = vk};
    rc = mslam_encoder_speech_forward(&on_device, cfg, &m->p, mel, mel_lens, B, T_mel, mask, 0);
    CHECK(rc == 0, "%s: Vulkan: %s", name, mslam_last_error());
    CHECK(on_device.on_device, "%s: the pass ran on the CPU", name);
    const float *out = on_device.out;
    if (rc == 0) {
        double err = max_rel(out, pass.out, n);
        printf("%-44s %zu values, max relative error %.2e\n", name, n, err);
        CHECK(err < TOLERANCE, "%s: Vulkan differs from the CPU by %.3e", name, err);
        /* padded frames are zero, as on the CPU */
        for (int b = 0; b < B; b++)
            for (int t = mslam_subsampled_frames(mel_lens[b]); t < pass.T; t++)
                for (int c = 0; c < cfg->d_model; c++)
                    CHECK(out[((size_t)b * pass.T + t) * cfg->d_model + c] == 0.0f, "%s: padded frame %d of item %d", name,
                          t, b);
        for (int b = 0; b < B; b++)
            CHECK(on_device.lens[b] == pass.lens[b], "%s: item %d has %d frames, %d on the CPU", name, b,
                  on_device.lens[b], pass.lens[b]);
    }
    free(mel);
    mslam_encoder_pass_free(&pass);
    mslam_encoder_pass_free(&on_device);
}

static void text_case(mslam_vk *vk, mslam_model *m, const char *name, int B, int L, const int *lens) {
    const struct mslam_model_config *cfg = &m->cfg;
    int *ids = malloc((size_t)B * L * sizeof(int));
    for (int i = 0; i < B * L; i++) ids[i] = 2 + (i * 5 + i / 3) % 6;
    mslam_encoder_pass pass = {0};
    int rc = mslam_encoder_text_forward(&pass, cfg, &m->p, ids, lens, B, L, 0);
    CHECK(rc == 0, "%s: CPU: %s", name, mslam_last_error());
    size_t n = (size_t)B * L * cfg->d_model;
    mslam_encoder_pass on_device = {.vk = vk};
    rc = mslam_encoder_text_forward(&on_device, cfg, &m->p, ids, lens, B, L, 0);
    CHECK(rc == 0, "%s: Vulkan: %s", name, mslam_last_error());
    CHECK(on_device.on_device, "%s: the pass ran on the CPU", name);
    if (rc == 0) {
        double err = max_rel(on_device.out, pass.out, n);
        printf("%-44s %zu values, max relative error %.2e\n", name, n, err);
        CHECK(err < TOLERANCE, "%s: Vulkan differs from the CPU by %.3e", name, err);
    }
    free(ids);
    mslam_encoder_pass_free(&pass);
    mslam_encoder_pass_free(&on_device);
}

/* The passes of one model, through the backend's own entry points. */
static void backend_cases(int causal, int d, int heads) {
    mslam_model *m = tiny_model(causal, d, heads, 3 + (uint64_t)d);
    CHECK(m != NULL, "model: %s", mslam_last_error());
    if (!m) return;
    mslam_vk *vk = NULL;
    CHECK(mslam_vk_open(&vk, m, MSLAM_DEVICE_VULKAN) == 0 && vk, "open: %s", mslam_last_error());
    if (!vk) {
        mslam_model_free(m);
        return;
    }
    char name[96];
    int one[] = {203}, three[] = {161, 97, 30};
    attn_mask chunked = {4, 2, 0}, unbounded = {3, -1, 0}, int_max_left = {2, INT_MAX, 0}, huge = {100000, 30000, 0};
    snprintf(name, sizeof name, "speech, %s conv, d %d, 1 item", causal ? "causal" : "symmetric", d);
    speech_case(vk, m, name, 1, 203, one, NULL);
    snprintf(name, sizeof name, "speech, %s conv, d %d, 3 padded items", causal ? "causal" : "symmetric", d);
    speech_case(vk, m, name, 3, 161, three, NULL);
    snprintf(name, sizeof name, "speech, d %d, chunks of 4, 2 left", d);
    speech_case(vk, m, name, 3, 161, three, &chunked);
    snprintf(name, sizeof name, "speech, d %d, chunks of 3, all left", d);
    speech_case(vk, m, name, 1, 203, one, &unbounded);
    /* masks whose chunk arithmetic passes 2^31 (a left context of INT_MAX chunks is all of them) */
    snprintf(name, sizeof name, "speech, d %d, chunks of 2, INT_MAX left", d);
    speech_case(vk, m, name, 1, 203, one, &int_max_left);
    snprintf(name, sizeof name, "speech, d %d, chunks of 100000, 30000 left", d);
    speech_case(vk, m, name, 1, 203, one, &huge);
    /* a second, shorter pass reuses the grown buffers */
    snprintf(name, sizeof name, "speech, d %d, shorter after longer", d);
    int short_len[] = {40};
    speech_case(vk, m, name, 1, 40, short_len, NULL);
    int text_lens[] = {13, 5};
    snprintf(name, sizeof name, "text, d %d, 2 padded items", d);
    text_case(vk, m, name, 2, 13, text_lens);
    /* a pass with another model's parameters is refused, not run on the wrong weights */
    mslam_model *other = tiny_model(causal, d, heads, 99);
    mslam_encoder_pass wrong = {.vk = vk};
    float mel[80 * 20] = {0};
    int twenty = 20;
    CHECK(other && mslam_encoder_speech_forward(&wrong, &other->cfg, &other->p, mel, &twenty, 1, 20, NULL, 0) != 0 &&
              strstr(mslam_last_error(), "not the model's"),
          "another model's parameters: %s", mslam_last_error());
    mslam_encoder_pass_free(&wrong);
    mslam_model_free(other);
    mslam_vk_close(vk);
    mslam_model_free(m);
}

/* More frames than a dispatch's workgroups along x (the attention has one a frame; 65535 on
 * lavapipe and most GPUs), in buffers that would hold them (a model of 8 dimensions): left to the
 * CPU (a review found them dispatched); fewer run on the device. */
static void workgroup_limit(void) {
    struct mslam_model_config cfg = {.n_mels = 7, .d_model = 8, .n_heads = 1, .d_ff = 8, .conv_kernel = 1,
                                     .sub_channels = 1, .n_speech_layers = 1, .vocab_size = 8, .n_langs = 2,
                                     .causal_conv = 1};
    mslam_model *m = mslam_model_new(&cfg, vocab, langs);
    mslam_vk *vk = NULL;
    CHECK(m && mslam_vk_open(&vk, m, MSLAM_DEVICE_VULKAN) == 0 && vk, "open: %s", mslam_last_error());
    if (vk) {
        char why[512] = "", needs[96];
        CHECK(mslam_vk_fits(vk, &cfg, 1, 1, 4 * 60000 + 7, NULL, 0) &&
                  !mslam_vk_fits(vk, &cfg, 1, 1, 4 * 70000 + 7, why, sizeof why) && strstr(why, "workgroups") &&
                  !mslam_vk_fits(vk, &cfg, 0, 1, 70000, NULL, 0),
              "60,000 frames fit, 70,000 exceed the workgroup count: %s", why);
        /* the message says which limit and the numbers (it said only "workgroups") */
        printf("too many workgroups: %s\n", why);
        snprintf(needs, sizeof needs, "the attention needs one a frame, %d, and maxComputeWorkGroupCount[0] is ",
                 mslam_subsampled_frames(4 * 70000 + 7));
        CHECK(strstr(why, needs) != NULL, "the workgroups' message names the limit and the counts: %s", why);
        CHECK(!mslam_vk_fits(vk, &cfg, 0, 1, 70000, why, sizeof why) &&
                  strstr(why, "one a character, 70000, and maxComputeWorkGroupCount[0] is "),
              "70,000 characters: %s", why);
    }
    mslam_vk_close(vk);
    mslam_model_free(m);
}

/* Configs at the edges: no shared layers, no speech layers, a head as wide as the attention
 * shader holds (256), and one wider, which device vulkan refuses and auto leaves to the CPU. */
static void config_edges(void) {
    struct mslam_model_config base = {.n_mels = 80, .d_model = 32, .n_heads = 4, .d_ff = 40, .conv_kernel = 5,
                                      .sub_channels = 3, .n_speech_layers = 2, .n_shared_layers = 0,
                                      .vocab_size = 8, .n_langs = 2, .causal_conv = 1};
    int three[] = {120, 61, 30};
    for (int k = 0; k < 3; k++) {
        struct mslam_model_config cfg = base;
        const char *name = "no shared layers";
        if (k == 1) cfg.n_speech_layers = 0, cfg.n_shared_layers = 2, name = "no speech layers";
        if (k == 2) cfg.d_model = 256, cfg.n_heads = 1, cfg.d_ff = 64, cfg.n_shared_layers = 1, name = "a head of 256";
        mslam_model *m = mslam_model_new(&cfg, vocab, langs);
        CHECK(m != NULL, "%s: %s", name, mslam_last_error());
        if (!m) continue;
        test_randomise_model(m, 5 + (uint64_t)k, 0.2f);
        mslam_vk *vk = NULL;
        CHECK(mslam_vk_open(&vk, m, MSLAM_DEVICE_VULKAN) == 0 && vk, "%s: open: %s", name, mslam_last_error());
        if (vk) {
            speech_case(vk, m, name, 3, 120, three, NULL);
            int text_lens[] = {9, 4};
            text_case(vk, m, name, 2, 9, text_lens);
            /* what fits the device's buffers runs there; an hour of 1000 items does not */
            CHECK(mslam_vk_fits(vk, &cfg, 1, 3, 120, NULL, 0) && !mslam_vk_fits(vk, &cfg, 1, 1000, 360000, NULL, 0),
                  "%s: mslam_vk_fits", name);
        }
        mslam_vk_close(vk);
        mslam_model_free(m);
    }
    struct mslam_model_config wide = base;
    wide.d_model = 288, wide.n_heads = 1, wide.n_shared_layers = 1;
    mslam_model *m = mslam_model_new(&wide, vocab, langs);
    mslam_vk *vk = NULL;
    CHECK(m && mslam_vk_open(&vk, m, MSLAM_DEVICE_VULKAN) != 0 && !vk && strstr(mslam_last_error(), "288 dimensions"),
          "a head of 288 on device vulkan: %s", mslam_last_error());
    CHECK(m && mslam_vk_open(&vk, m, MSLAM_DEVICE_AUTO) == 0 && !vk, "a head of 288 on device auto: %s",
          mslam_last_error());
    mslam_model_free(m);
}

/* Counts the occurrences of needle in haystack. */
static int count_in(const char *haystack, const char *needle) {
    int n = 0;
    for (const char *at = strstr(haystack, needle); at; at = strstr(at + 1, needle)) n++;
    return n;
}

/* Weights larger than one storage buffer of the device (202 MB; lavapipe's buffers hold 134 MB):
 * device vulkan refuses the model with a message naming the device once (it was named twice),
 * and auto leaves it to the CPU. Skipped on a device whose buffers hold the weights. */
static void weights_too_large(void) {
    struct mslam_model_config cfg = {.n_mels = 80, .d_model = 1024, .n_heads = 8, .d_ff = 4096, .conv_kernel = 3,
                                     .sub_channels = 1, .n_speech_layers = 2, .vocab_size = 8, .n_langs = 2,
                                     .causal_conv = 1};
    mslam_model *m = mslam_model_new(&cfg, vocab, langs);
    CHECK(m != NULL, "a model of 202 MB: %s", mslam_last_error());
    if (!m) return;
    mslam_vk *vk = NULL;
    if (mslam_vk_open(&vk, m, MSLAM_DEVICE_VULKAN) == 0) {
        printf("the device holds 202 MB of weights in one buffer: weights_too_large skipped\n");
    } else {
        const char *said = mslam_last_error();
        printf("weights too large: %s\n", said);
        CHECK(!vk && strstr(said, "MB of weights") && vk_name[0] && count_in(said, vk_name) == 1,
              "weights larger than a buffer: the device (%s) named once: %s", vk_name, said);
        CHECK(mslam_vk_open(&vk, m, MSLAM_DEVICE_AUTO) == 0 && !vk, "auto with weights larger than a buffer: %s",
              mslam_last_error());
    }
    mslam_vk_close(vk);
    mslam_model_free(m);
}

/* Sets MSLAM_VULKAN_DEVICE to the test's device (auto then looks at it, whatever its kind), or
 * back to what it was (restore, with the copy saved). */
static void name_test_device(int restore, char *saved, size_t size) {
    if (!restore) {
        const char *was = getenv("MSLAM_VULKAN_DEVICE");
        snprintf(saved, size, "%s", was ? was : "");
        setenv("MSLAM_VULKAN_DEVICE", vk_name, 1);
    } else if (*saved) {
        setenv("MSLAM_VULKAN_DEVICE", saved, 1);
    } else {
        unsetenv("MSLAM_VULKAN_DEVICE");
    }
}

/* A device below the shaders' compute limits (pretended: lavapipe's are above them; Vulkan
 * guarantees 128 invocations and a width of 128): vulkan refuses it with an error naming the
 * device and the limit, auto leaves the model to the CPU (a review found such devices used), and
 * a device at the shaders' needs exactly is taken. The needs, read from the SPIR-V: 256
 * invocations, a width of 256 (conv2d, dwconv, eltwise), a height of 16 (linear), 8320 bytes of
 * shared arrays (linear's two tiles of 16 x 65 floats). */
static void compute_limits(void) {
    static const struct {
        struct mslam_vk_pretence limits;
        const char *said;
    } below[] = {
        {{.max_invocations = 128}, "maxComputeWorkGroupInvocations is 128, the shaders need 256"},
        {{.max_invocations = 255}, "maxComputeWorkGroupInvocations is 255, the shaders need 256"},
        {{.max_size = {128, 0, 0}}, "maxComputeWorkGroupSize[0] is 128, the shaders need 256"},
        {{.max_size = {0, 15, 0}}, "maxComputeWorkGroupSize[1] is 15, the shaders need 16"},
        {{.max_shared_bytes = 8319}, "maxComputeSharedMemorySize is 8319 bytes, the shaders need 8320"},
    };
    mslam_model *m = tiny_model(1, 16, 2, 1);
    CHECK(m != NULL, "model: %s", mslam_last_error());
    if (!m) return;
    char saved[256];
    name_test_device(0, saved, sizeof saved);
    for (size_t i = 0; i < sizeof below / sizeof below[0]; i++) {
        mslam_vk_pretend(&below[i].limits);
        mslam_vk *vk = NULL;
        int rc = mslam_vk_open(&vk, m, MSLAM_DEVICE_VULKAN);
        const char *said = mslam_last_error();
        if (i == 0) printf("below the shaders' limits: %s\n", said);
        CHECK(rc != 0 && !vk && strstr(said, below[i].said) && count_in(said, vk_name) == 1,
              "vulkan on a device where %s: %s", below[i].said, said);
        mslam_vk_close(vk);
        vk = NULL;
        CHECK(mslam_vk_open(&vk, m, MSLAM_DEVICE_AUTO) == 0 && !vk, "auto on a device where %s: %s", below[i].said,
              vk ? "the device" : mslam_last_error());
        mslam_vk_close(vk);
    }
    struct mslam_vk_pretence at_needs = {.max_invocations = 256, .max_size = {256, 16, 1}, .max_shared_bytes = 8320};
    mslam_vk_pretend(&at_needs);
    mslam_vk *vk = NULL;
    CHECK(mslam_vk_open(&vk, m, MSLAM_DEVICE_VULKAN) == 0 && vk, "a device at the shaders' needs: %s",
          mslam_last_error());
    mslam_vk_close(vk);
    mslam_vk_pretend(NULL);
    name_test_device(1, saved, sizeof saved);
    mslam_model_free(m);
}

/* MSLAM_VULKAN_DEVICE naming two devices (pretended: each device listed twice, as two GPUs of
 * one model) of which the first is below the shaders' limits: the second is taken, by vulkan and
 * auto (a review found the later matches never tried and the load failed); with both below, the
 * error names each and why. */
static void named_devices_below_limits(void) {
    mslam_model *m = tiny_model(1, 16, 2, 1);
    CHECK(m != NULL, "model: %s", mslam_last_error());
    if (!m) return;
    char saved[256];
    name_test_device(0, saved, sizeof saved);
    struct mslam_vk_pretence first_below = {.max_invocations = 128, .limited_devices = 1, .each_device_twice = 1};
    mslam_vk_pretend(&first_below);
    mslam_vk *vk = NULL;
    CHECK(mslam_vk_open(&vk, m, MSLAM_DEVICE_VULKAN) == 0 && vk, "vulkan, the first device named below the limits: %s",
          vk ? "" : mslam_last_error());
    if (vk) speech_case(vk, m, "speech on the second device named", 1, 40, (int[]){40}, NULL);
    mslam_vk_close(vk);
    vk = NULL;
    CHECK(mslam_vk_open(&vk, m, MSLAM_DEVICE_AUTO) == 0 && vk, "auto, the first device named below the limits: %s",
          vk ? "" : mslam_last_error());
    mslam_vk_close(vk);
    vk = NULL;
    struct mslam_vk_pretence both_below = {.max_invocations = 128, .each_device_twice = 1};
    mslam_vk_pretend(&both_below);
    int rc = mslam_vk_open(&vk, m, MSLAM_DEVICE_VULKAN);
    const char *said = mslam_last_error();
    printf("every device named below the limits: %s\n", said);
    CHECK(rc != 0 && !vk && strstr(said, "Vulkan device 0, ") && strstr(said, "Vulkan device 1, ") &&
              count_in(said, "maxComputeWorkGroupInvocations is 128, the shaders need 256") >= 2 &&
              count_in(said, vk_name) >= 2,
          "vulkan, every device named below the limits: %s", said);
    mslam_vk_close(vk);
    mslam_vk_pretend(NULL);
    name_test_device(1, saved, sizeof saved);
    mslam_model_free(m);
}

/* Keeps the last message logged at level info (user_data: a char[512]). */
static void keep_info(enum mslam_log_level level, const char *message, void *user_data) {
    if (level == MSLAM_LOG_INFO) snprintf(user_data, 512, "%s", message);
}

/* The least memory free (pretended) with which mslam_vk_fits takes a speech pass of T_mel frames
 * on vk as its buffers are now: bisected, as the buffers that grow may or may not take their room. */
static uint64_t least_free_fitting(mslam_vk *vk, const mslam_model *m, int T_mel) {
    uint64_t refused = 1, fits = (uint64_t)1 << 32;
    while (fits - refused > 1) {
        uint64_t mid = refused + (fits - refused) / 2;
        struct mslam_vk_pretence free_mid = {.heap_free_bytes = mid};
        mslam_vk_pretend(&free_mid);
        if (mslam_vk_fits(vk, &m->cfg, 1, 1, T_mel, NULL, 0)) fits = mid;
        else refused = mid;
    }
    mslam_vk_pretend(NULL);
    return fits;
}

/* Less memory free than a load or a pass needs (pretended: lavapipe reports no budgets; a GPU
 * with VK_EXT_memory_budget reports its heaps' budgets and usage). A load is refused before
 * anything is allocated, with an error naming the device, the bytes needed and those free, not an
 * out-of-memory midway; auto loads the model on the CPU. A pass goes to the CPU, as one larger
 * than the buffers does (it failed), with the CPU's result, and the device keeps its buffers and
 * runs the next pass that they hold. The bound is exact: the device's memory that a pass replaces
 * counts as free, and at one byte less than mslam_vk_fits asks the backend's own pass is refused. */
static void memory_free(void) {
    mslam_model *m = tiny_model(1, 24, 2, 11);
    CHECK(m != NULL, "model: %s", mslam_last_error());
    if (!m) return;
    char saved[256];
    name_test_device(0, saved, sizeof saved);
    size_t weight_bytes = m->table.total * sizeof(float);
    struct mslam_vk_pretence short_of_weights = {.heap_free_bytes = weight_bytes - 1};
    mslam_vk_pretend(&short_of_weights);
    mslam_vk *vk = NULL;
    int rc = mslam_vk_open(&vk, m, MSLAM_DEVICE_VULKAN);
    const char *said = mslam_last_error();
    printf("weights short of memory: %s\n", said);
    char free_bytes[64];
    snprintf(free_bytes, sizeof free_bytes, "has %zu", weight_bytes - 1);
    CHECK(rc != 0 && !vk && strstr(said, "the weight buffer needs") && strstr(said, free_bytes) &&
              count_in(said, vk_name) == 1,
          "%zu bytes of weights with one byte less free: %s", weight_bytes, said);
    mslam_vk_close(vk);
    vk = NULL;
    CHECK(mslam_vk_open(&vk, m, MSLAM_DEVICE_AUTO) == 0 && !vk, "auto with too little memory free: %s",
          vk ? "the device" : mslam_last_error());
    mslam_vk_close(vk);
    vk = NULL;
    mslam_vk_pretend(NULL);
    CHECK(mslam_vk_open(&vk, m, MSLAM_DEVICE_VULKAN) == 0 && vk, "open: %s", mslam_last_error());
    if (vk) {
        int short_len[] = {40}, long_len[] = {2000};
        speech_case(vk, m, "speech before a pass short of memory", 1, 40, short_len, NULL);
        /* 2000 mel frames take some 2 MB of activations */
        struct mslam_vk_pretence one_mb = {.heap_free_bytes = 1000000};
        mslam_vk_pretend(&one_mb);
        float *mel = random_mel(1, 2000, m->cfg.n_mels, 5);
        mslam_encoder_pass cpu = {0}, pass = {.vk = vk};
        char info[512] = "";
        mslam_log_callback saved_log;
        void *saved_data;
        mslam_log_get(&saved_log, &saved_data);
        mslam_log_set(keep_info, info);
        rc = mslam_encoder_speech_forward(&pass, &m->cfg, &m->p, mel, long_len, 1, 2000, NULL, 0);
        mslam_log_set(saved_log, saved_data);
        printf("a pass short of memory: %s\n", info);
        CHECK(rc == 0 && !pass.on_device, "a pass of 2000 mel frames with 1 MB free: %s",
              rc ? mslam_last_error() : "it ran on the device");
        CHECK(strstr(info, "runs on the CPU: it needs more memory than the Vulkan device has free") &&
                  strstr(info, "the activation buffer needs"),
              "the log of a pass short of memory: %s", info);
        CHECK(mslam_encoder_speech_forward(&cpu, &m->cfg, &m->p, mel, long_len, 1, 2000, NULL, 0) == 0,
              "the CPU's pass: %s", mslam_last_error());
        size_t n = (size_t)cpu.B * cpu.T * m->cfg.d_model;
        int same_shape = rc == 0 && cpu.out && pass.B == cpu.B && pass.T == cpu.T;
        CHECK(same_shape && !memcmp(pass.out, cpu.out, n * sizeof(float)),
              "a pass short of memory differs from the CPU's (max relative error %.3e)",
              same_shape ? max_rel(pass.out, cpu.out, n) : -1.0);
        mslam_encoder_pass_free(&pass);
        mslam_encoder_pass_free(&cpu);
        free(mel);
        /* where the device reports no budget (lavapipe), asking whether a pass fits makes no
         * buffer to ask its memory (it made four for a pass that grows both buffers); with a
         * budget (pretended) it does, to be exact */
        mslam_vk_pretend(NULL);
        unsigned made = mslam_vk_buffers_created();
        CHECK(mslam_vk_fits(vk, &m->cfg, 1, 1, 2000, NULL, 0), "2000 frames fit without a budget");
        if (strstr(vk_name, "llvmpipe"))
            CHECK(mslam_vk_buffers_created() == made, "no budget reported: %u buffers made to ask",
                  mslam_vk_buffers_created() - made);
        struct mslam_vk_pretence plenty = {.heap_free_bytes = (uint64_t)1 << 32};
        mslam_vk_pretend(&plenty);
        made = mslam_vk_buffers_created();
        CHECK(mslam_vk_fits(vk, &m->cfg, 1, 1, 2000, NULL, 0) && mslam_vk_buffers_created() > made,
              "a budget reported: %u buffers made to ask", mslam_vk_buffers_created() - made);
        /* nothing was freed or allocated: with one byte free, the buffers made for 40 frames
         * still hold their pass */
        struct mslam_vk_pretence one_byte = {.heap_free_bytes = 1};
        mslam_vk_pretend(&one_byte);
        speech_case(vk, m, "speech after a pass short of memory", 1, 40, short_len, NULL);
        /* with the memory free that mslam_vk_fits asks for 2000 frames on the buffers of 40 (both
         * grow: the activations take their room, which staging must leave), the pass runs on the
         * device */
        uint64_t least = least_free_fitting(vk, m, 2000);
        printf("2000 mel frames on buffers of 40: %llu bytes free needed\n", (unsigned long long)least);
        struct mslam_vk_pretence just_enough = {.heap_free_bytes = least};
        mslam_vk_pretend(&just_enough);
        speech_case(vk, m, "speech with just the memory free it needs", 1, 2000, long_len, NULL);
        mslam_vk_pretend(NULL);
        /* one byte less, on the same buffers of 40 (a fresh device): the backend's own pass, which
         * does not ask mslam_vk_fits, is refused by the allocations' check */
        mslam_vk_close(vk);
        vk = NULL;
        CHECK(mslam_vk_open(&vk, m, MSLAM_DEVICE_VULKAN) == 0 && vk, "open again: %s", mslam_last_error());
        if (vk) {
            speech_case(vk, m, "speech on a fresh device", 1, 40, short_len, NULL);
            uint64_t again = least_free_fitting(vk, m, 2000);
            CHECK(again == least, "the same buffers need %llu bytes free, then %llu", (unsigned long long)least,
                  (unsigned long long)again);
            struct mslam_vk_pretence short_by_one = {.heap_free_bytes = least - 1};
            mslam_vk_pretend(&short_by_one);
            mel = random_mel(1, 2000, m->cfg.n_mels, 5);
            float *out = malloc(n * sizeof(float));
            rc = mslam_vk_encode_speech(vk, &m->cfg, &m->p, mel, long_len, 1, 2000, NULL, out);
            said = mslam_last_error();
            printf("one byte short: %s\n", rc ? said : "it ran");
            CHECK(rc != 0 && strstr(said, "needs") && strstr(said, "free"), "%llu bytes free, one short: %s",
                  (unsigned long long)(least - 1), rc ? said : "it ran");
            free(out);
            free(mel);
            mslam_vk_pretend(NULL);
            speech_case(vk, m, "speech after a pass short of memory", 1, 2000, long_len, NULL);
        }
    }
    mslam_vk_close(vk);
    name_test_device(1, saved, sizeof saved);
    mslam_model_free(m);
}

/* Counts the errors logged (user_data: an int). */
static void count_errors(enum mslam_log_level level, const char *message, void *user_data) {
    (void)message;
    if (level == MSLAM_LOG_ERROR) ++*(int *)user_data;
}

/* The warnings and errors logged, and the last warning */
typedef struct {
    int warnings, errors;
    char warning[512];
} logged;

static void count_logged(enum mslam_log_level level, const char *message, void *user_data) {
    logged *l = user_data;
    if (level == MSLAM_LOG_ERROR) l->errors++;
    if (level == MSLAM_LOG_WARN) l->warnings++, snprintf(l->warning, sizeof l->warning, "%s", message);
}

/* The device lost under auto (pretended): the pass that met the loss runs again on the CPU, and
 * so does every later one (they failed, as under vulkan), with one warning and no error; the
 * model's device then says "cpu: " and why. The results are the CPU model's, bit for bit. */
static void lost_under_auto(const char *path, mslam_model *cpu, const float *pcm, size_t n) {
    char saved[256];
    name_test_device(0, saved, sizeof saved);
    struct mslam_model_params auto_params = mslam_model_default_params();
    mslam_model *gpu = mslam_model_load(path, auto_params);
    name_test_device(1, saved, sizeof saved);
    CHECK(gpu && !strncmp(mslam_model_device(gpu), "vulkan: ", 8), "auto on the test's device: %s",
          gpu ? mslam_model_device(gpu) : mslam_last_error());
    if (!gpu || !gpu->vk) {
        mslam_model_free(gpu);
        return;
    }
    logged l = {0};
    mslam_log_callback saved_log;
    void *saved_data;
    mslam_log_get(&saved_log, &saved_data);
    mslam_log_set(count_logged, &l);
    mslam_vk_pretend_device_lost(gpu->vk);
    for (int call = 0; call < 3; call++) {
        int n_cpu = 0, n_gpu = 0;
        float *a, *b;
        if (call == 1)
            a = mslam_encode_text(cpu, "abc dea", NULL, &n_cpu), b = mslam_encode_text(gpu, "abc dea", NULL, &n_gpu);
        else
            a = mslam_encode_pcm(cpu, pcm, n, NULL, &n_cpu), b = mslam_encode_pcm(gpu, pcm, n, NULL, &n_gpu);
        CHECK(a && b && n_cpu == n_gpu && n_cpu > 0 && !memcmp(a, b, (size_t)n_cpu * 24 * sizeof(float)),
              "call %d after the device was lost under auto: %s", call,
              !b ? mslam_last_error() : n_cpu != n_gpu ? "other frames" : "other values than the CPU's");
        mslam_free(a);
        mslam_free(b);
    }
    mslam_log_set(saved_log, saved_data);
    printf("device lost under auto: %s; the model's device: %s\n", l.warning, mslam_model_device(gpu));
    CHECK(l.warnings == 1 && l.errors == 0 && strstr(l.warning, "was lost") && strstr(l.warning, vk_name) &&
              strstr(l.warning, "runs on the CPU"),
          "the loss under auto: %d warnings, %d errors: %s", l.warnings, l.errors, l.warning);
    const char *device = mslam_model_device(gpu);
    CHECK(mslam_vk_lost(gpu->vk) && !strncmp(device, "cpu: ", 5) && strstr(device, vk_name) && strstr(device, "lost"),
          "the model's device after the loss under auto: %s", device);
    mslam_model_free(gpu);
}

/* An abort callback that takes the device's memory (pretended) after the pass checked that it
 * fits, as another program can, and lets the pass go on. */
static int memory_taken(void *user_data) {
    (void)user_data;
    struct mslam_vk_pretence taken = {.heap_free_bytes = 1000};
    mslam_vk_pretend(&taken);
    return 0;
}

/* The device's memory taken between a pass's check and its allocations: under auto the pass runs
 * on the CPU (the CPU model's frames, bit for bit), with a warning that gives the device's error
 * and no error logged, the device kept for the next pass; under vulkan (gpu) the call fails,
 * saying why. */
static void memory_taken_under_auto(const char *path, mslam_model *cpu, mslam_model *gpu, const float *pcm,
                                    size_t n) {
    char saved[256];
    name_test_device(0, saved, sizeof saved);
    mslam_model *auto_gpu = mslam_model_load(path, mslam_model_default_params());
    name_test_device(1, saved, sizeof saved);
    CHECK(auto_gpu && !strncmp(mslam_model_device(auto_gpu), "vulkan: ", 8), "auto on the test's device: %s",
          auto_gpu ? mslam_model_device(auto_gpu) : mslam_last_error());
    if (!auto_gpu) return;
    struct mslam_encode_params ep = mslam_encode_default_params();
    ep.abort_callback = memory_taken;
    struct mslam_vk_pretence plenty = {.heap_free_bytes = (uint64_t)1 << 32};
    logged l = {0};
    mslam_log_callback saved_log;
    void *saved_data;
    mslam_log_get(&saved_log, &saved_data);
    mslam_log_set(count_logged, &l);
    int n_cpu = 0, n_gpu = 0;
    float *a = mslam_encode_pcm(cpu, pcm, n, NULL, &n_cpu);
    mslam_vk_pretend(&plenty);
    float *b = mslam_encode_pcm(auto_gpu, pcm, n, &ep, &n_gpu);
    mslam_vk_pretend(NULL);
    mslam_log_set(saved_log, saved_data);
    printf("memory taken under auto: %s\n", l.warning);
    CHECK(a && b && n_cpu == n_gpu && n_cpu > 0 && !memcmp(a, b, (size_t)n_cpu * 24 * sizeof(float)),
          "memory taken under auto: %s", !b ? mslam_last_error() : "other frames than the CPU's");
    CHECK(l.warnings == 1 && l.errors == 0 && strstr(l.warning, "free") && strstr(l.warning, "runs on the CPU instead"),
          "memory taken under auto: %d warnings, %d errors: %s", l.warnings, l.errors, l.warning);
    CHECK(!strncmp(mslam_model_device(auto_gpu), "vulkan: ", 8) && !mslam_vk_lost(auto_gpu->vk),
          "the device after a pass short of memory under auto: %s", mslam_model_device(auto_gpu));
    mslam_free(b);
    /* a failure that lasts is said once (it was at every pass: every chunk of a stream), and again
     * once a pass has run on the device */
    mslam_log_set(count_logged, &l);
    mslam_vk_pretend(&plenty);
    b = mslam_encode_pcm(auto_gpu, pcm, n, &ep, &n_gpu);
    mslam_vk_pretend(NULL);
    mslam_log_set(saved_log, saved_data);
    CHECK(b && l.warnings == 1, "a second pass short of memory under auto: %d warnings in all", l.warnings);
    mslam_free(b);
    b = mslam_encode_pcm(auto_gpu, pcm, n, NULL, &n_gpu);
    CHECK(b && n_gpu == n_cpu && max_rel(b, a, (size_t)n_cpu * 24) < TOLERANCE, "the next pass on the device: %s",
          b ? "other frames" : mslam_last_error());
    mslam_free(b);
    mslam_log_set(count_logged, &l);
    mslam_vk_pretend(&plenty);
    b = mslam_encode_pcm(auto_gpu, pcm, 2 * n, &ep, &n_gpu); /* longer: its buffers must grow */
    mslam_vk_pretend(NULL);
    mslam_log_set(saved_log, saved_data);
    CHECK(b && l.warnings == 2, "short of memory after a pass ran on the device: %d warnings in all", l.warnings);
    mslam_free(b);
    mslam_model_free(auto_gpu);
    /* under vulkan, on buffers that must grow for it (longer audio than any pass before) */
    mslam_vk_pretend(&plenty);
    b = mslam_encode_pcm(gpu, pcm, n * 2, &ep, &n_gpu);
    mslam_vk_pretend(NULL);
    const char *said = mslam_last_error();
    CHECK(!b && strstr(said, "free"), "memory taken under vulkan: %s", b ? "it gave frames" : said);
    mslam_free(b);
    mslam_free(a);
}

/* mslam_model_load with device = vulkan: the public calls give the CPU model's frames. */
static void public_api(void) {
    mslam_model *m = tiny_model(1, 24, 2, 11);
    CHECK(m != NULL, "model: %s", mslam_last_error());
    if (!m) return;
    char path[] = "/tmp/mslam-test-vulkan-XXXXXX";
    int fd = mkstemp(path);
    CHECK(fd >= 0, "mkstemp");
    if (fd >= 0) close(fd);
    CHECK(mslam_model_save(m, path) == 0, "save: %s", mslam_last_error());
    mslam_model_free(m);

    struct mslam_model_params cpu_params = mslam_model_default_params();
    CHECK(cpu_params.device == MSLAM_DEVICE_AUTO, "the default device is %d, not auto", (int)cpu_params.device);
    cpu_params.device = MSLAM_DEVICE_CPU;
    struct mslam_model_params vk_params = mslam_model_default_params();
    vk_params.device = MSLAM_DEVICE_VULKAN;
    mslam_model *cpu = mslam_model_load(path, cpu_params), *gpu = mslam_model_load(path, vk_params);
    CHECK(cpu && gpu, "load: %s", mslam_last_error());
    if (cpu && gpu) {
        CHECK(!strcmp(mslam_model_device(cpu), "cpu"), "CPU model's device: %s", mslam_model_device(cpu));
        CHECK(!strncmp(mslam_model_device(gpu), "vulkan: ", 8), "Vulkan model's device: %s", mslam_model_device(gpu));
        printf("device: %s\n", mslam_model_device(gpu));
        size_t n = 16000 * 3 / 2;
        float *pcm = malloc(n * sizeof(float));
        for (size_t i = 0; i < n; i++) pcm[i] = 0.3f * sinf(0.05f * (float)i + 0.00002f * (float)(i * i) / 16.0f);
        struct mslam_encode_params ep = mslam_encode_default_params();
        for (int chunked = 0; chunked < 2; chunked++) {
            ep.chunk_frames = chunked ? 8 : 0;
            ep.left_chunks = chunked ? 4 : -1;
            int n_cpu = 0, n_gpu = 0;
            float *a = mslam_encode_pcm(cpu, pcm, n, &ep, &n_cpu), *b = mslam_encode_pcm(gpu, pcm, n, &ep, &n_gpu);
            CHECK(a && b && n_cpu == n_gpu && n_cpu > 0, "mslam_encode_pcm: %d / %d frames (%s)", n_cpu, n_gpu,
                  mslam_last_error());
            if (a && b && n_cpu == n_gpu) {
                double err = max_rel(b, a, (size_t)n_cpu * 24);
                printf("mslam_encode_pcm%s: %d frames, max relative error %.2e\n", chunked ? " (chunks of 8)" : "",
                       n_cpu, err);
                CHECK(err < TOLERANCE, "mslam_encode_pcm differs by %.3e", err);
            }
            mslam_free(a);
            mslam_free(b);
        }
        int n_cpu = 0, n_gpu = 0;
        float *a = mslam_encode_text(cpu, "abc dea", NULL, &n_cpu), *b = mslam_encode_text(gpu, "abc dea", NULL, &n_gpu);
        CHECK(a && b && n_cpu == 7 && n_gpu == 7, "mslam_encode_text: %d / %d frames", n_cpu, n_gpu);
        if (a && b) CHECK(max_rel(b, a, 7 * 24) < TOLERANCE, "mslam_encode_text differs by %.3e", max_rel(b, a, 7 * 24));
        mslam_free(a);
        mslam_free(b);
        float *longer = malloc(2 * n * sizeof(float));
        for (size_t i = 0; i < 2 * n; i++) longer[i] = pcm[i % n];
        memory_taken_under_auto(path, cpu, gpu, longer, n);
        free(longer);
        /* audio shorter than one frame: no frames, as on the CPU */
        a = mslam_encode_pcm(gpu, pcm, 100, NULL, &n_gpu);
        CHECK(a && n_gpu == 0, "100 samples: %d frames", n_gpu);
        mslam_free(a);
        /* the device lost in a pass (pretended; a GPU reset or a driver fault): the call fails
         * saying so and what to do, and so do the later ones, without touching the device (its
         * command buffer may still be pending) or crashing; the model frees cleanly */
        mslam_vk_pretend_device_lost(gpu->vk);
        a = mslam_encode_pcm(gpu, pcm, n, NULL, &n_gpu);
        const char *said = mslam_last_error();
        printf("device lost: %s\n", said);
        CHECK(!a && strstr(said, "was lost") && strstr(said, vk_name) && strstr(said, "VK_ERROR_DEVICE_LOST") &&
                  strstr(said, "device cpu") && mslam_vk_lost(gpu->vk),
              "a pass on a lost device: %s", a ? "it gave frames" : said);
        mslam_free(a);
        a = mslam_encode_text(gpu, "abc", NULL, &n_gpu);
        said = mslam_last_error();
        CHECK(!a && strstr(said, "lost in an earlier pass") && strstr(said, vk_name),
              "a pass after the device was lost: %s", a ? "it gave frames" : said);
        mslam_free(a);
        CHECK(!strncmp(mslam_model_device(gpu), "vulkan: ", 8), "device vulkan after the loss: %s",
              mslam_model_device(gpu));
        lost_under_auto(path, cpu, pcm, n);
        free(pcm);
    }
    mslam_model_free(cpu);
    mslam_model_free(gpu);

    /* a device that is not there: the load fails and says which variable named it, once */
    setenv("MSLAM_VULKAN_DEVICE", "no such device", 1);
    int errors = 0;
    mslam_log_callback saved_log;
    void *saved_data;
    mslam_log_get(&saved_log, &saved_data);
    mslam_log_set(count_errors, &errors);
    mslam_model *none = mslam_model_load(path, vk_params);
    const char *said = mslam_last_error(), *at_path = strstr(said, path);
    CHECK(!none && strstr(said, "MSLAM_VULKAN_DEVICE=no such device") && at_path == said &&
              !strstr(at_path + 1, path) && errors == 1,
          "a missing device, one error naming the file once (%d logged): %s", errors, said);
    /* with auto the load goes on on the CPU, with a warning and no error */
    struct mslam_model_params auto_params = vk_params;
    auto_params.device = MSLAM_DEVICE_AUTO;
    errors = 0;
    mslam_model *on_cpu = mslam_model_load(path, auto_params);
    CHECK(on_cpu && !strcmp(mslam_model_device(on_cpu), "cpu") && errors == 0,
          "auto without the device named: %s, %d errors logged", on_cpu ? mslam_model_device(on_cpu) : "-", errors);
    mslam_model_free(on_cpu);
    mslam_log_set(saved_log, saved_data);
    mslam_model_free(none);
    /* digits that are no device's index: part of a name (lavapipe's "256 bits", a GPU's "4090";
     * they had been taken for an index alone, and named no device) */
    char number[16] = "";
    for (const char *c = vk_name; *c && !*number;) {
        size_t run = strspn(c, "0123456789");
        if (run >= 3 && run < sizeof number && *c != '0') memcpy(number, c, run), number[run] = '\0';
        c += run ? run : 1;
    }
    if (*number) {
        setenv("MSLAM_VULKAN_DEVICE", number, 1);
        mslam_model *by_number = mslam_model_load(path, vk_params);
        CHECK(by_number && strstr(mslam_model_device(by_number), vk_name), "MSLAM_VULKAN_DEVICE=%s: %s", number,
              by_number ? mslam_model_device(by_number) : mslam_last_error());
        mslam_model_free(by_number);
    } else {
        printf("no number of 3 digits in the device's name (%s): its digits as a name not tested\n", vk_name);
    }
    unsetenv("MSLAM_VULKAN_DEVICE");
    /* a device value out of the enum */
    vk_params.device = (enum mslam_device)7;
    none = mslam_model_load(path, vk_params);
    CHECK(!none && strstr(mslam_last_error(), "device = 7"), "device 7: %s", mslam_last_error());
    mslam_model_free(none);
    unlink(path);
}

int main(void) {
    mslam_log_set(test_quiet_log, NULL);
    if (!mslam_vk_available()) {
        printf("this build has no Vulkan backend: skipped\n");
        return 77;
    }
    mslam_model *probe = tiny_model(1, 16, 2, 1);
    mslam_vk *vk = NULL;
    if (!probe || mslam_vk_open(&vk, probe, MSLAM_DEVICE_VULKAN)) {
        printf("no Vulkan device (%s): skipped\n", mslam_last_error());
        mslam_model_free(probe);
        return 77;
    }
    printf("Vulkan device: %s\n", mslam_vk_device_name(vk));
    snprintf(vk_name, sizeof vk_name, "%s", mslam_vk_device_name(vk));
    mslam_vk_close(vk);
    mslam_model_free(probe);

    backend_cases(1, 24, 2);
    backend_cases(0, 40, 4);
    backend_cases(1, 144, 4); /* Conformer-S's width: heads of 36, tiles past 64 */
    workgroup_limit();
    config_edges();
    weights_too_large();
    compute_limits();
    named_devices_below_limits();
    memory_free();
    public_api();
    return test_result("vulkan");
}
