/* Encoder forward benchmark on the Conformer-S config (d 144, 16 layers, 4 heads, FFN 576,
 * kernel 31), batch 8 x 10 s, printed next to cblas_sgemm's own rate measured in the same run.
 * With --device vulkan the passes run on the Vulkan backend (the device MSLAM_VULKAN_DEVICE
 * picks, else the first: bench/vulkan.sh).
 *
 * Usage: encoder_bench [--threads N] [--runs N] [--batch B] [--seconds S] [--speech-layers N]
 *                      [--device cpu|vulkan]
 * Prints one "key=value" line per figure set, parsed by bench/encoder.sh and bench/vulkan.sh. */
#include "backend_vulkan.h"
#include "benchutil.h"
#include "encoder.h"
#include "model.h"
#include "ops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

/* FLOPs of one Conformer layer on B x T frames (multiply-add = 2). */
static double layer_flops(const struct mslam_model_config *c, int B, int T) {
    double n = (double)B * T, d = c->d_model, f = c->d_ff, R = 2.0 * T - 1, e = d / c->n_heads;
    double ffn = 2 * (2 * n * d * f * 2);
    double proj = 4 * 2 * n * d * d + 2 * R * d * d;
    double scores = (double)B * c->n_heads * (2.0 * T * T * e + 2.0 * T * R * e + 2.0 * T * T * e);
    double conv = 2 * n * d * 2 * d + 2 * n * d * d + 2 * n * d * c->conv_kernel;
    return ffn + proj + scores + conv;
}

static double subsampler_flops(const struct mslam_model_config *c, int B, int T_mel) {
    int C = c->sub_channels, T1 = (T_mel - 3) / 2 + 1, F1 = (c->n_mels - 3) / 2 + 1;
    int T2 = mslam_subsampled_frames(T_mel), F2 = mslam_subsampled_mels(c->n_mels);
    return (double)B * (2.0 * T1 * F1 * C * 9 + 2.0 * T2 * F2 * C * C * 9 + 2.0 * T2 * C * F2 * c->d_model);
}

static double sgemm_gflops(int runs) {
    int n = 1536;
    float *a = malloc((size_t)n * n * sizeof(float)), *b = malloc((size_t)n * n * sizeof(float)),
          *c = malloc((size_t)n * n * sizeof(float));
    mslam_rng rng;
    mslam_rng_seed(&rng, 1);
    for (size_t i = 0; i < (size_t)n * n; i++) {
        a[i] = mslam_rng_uniform(&rng);
        b[i] = mslam_rng_uniform(&rng);
    }
    double t[16];
    for (int r = 0; r <= runs; r++) {
        double t0 = bench_now();
        mslam_sgemm(0, 1, n, n, n, 1.0f, a, n, b, n, 0.0f, c, n);
        if (r) t[r - 1] = bench_now() - t0;
    }
    free(a);
    free(b);
    free(c);
    return 2.0 * n * n * n / bench_median(t, runs) / 1e9;
}

/* Median seconds of a forward over the batch, on the CPU or (vulkan) a Vulkan device opened for
 * m, the first run left out (it sizes the buffers). */
static double time_forward(mslam_model *m, int vulkan, const float *mel, const int *lens, int B, int T_mel,
                           int runs, int name_device) {
    double t[32];
    mslam_vk *vk = NULL;
    if (vulkan && mslam_vk_open(&vk, m, MSLAM_DEVICE_VULKAN)) {
        fprintf(stderr, "Vulkan: %s\n", mslam_last_error());
        exit(1);
    }
    mslam_encoder_pass pass = {.vk = vk};
    for (int r = 0; r <= runs; r++) {
        double t0 = bench_now();
        if (mslam_encoder_speech_forward(&pass, &m->cfg, &m->p, mel, lens, B, T_mel, NULL, 0)) {
            fprintf(stderr, "forward failed: %s\n", mslam_last_error());
            exit(1);
        }
        if (vk && !pass.on_device) { /* the encoder fell back to the CPU: these would be its times */
            fprintf(stderr, "a pass of %d x %d mel frames does not fit the buffers of Vulkan device %s: "
                            "lower --batch or --seconds\n", B, T_mel, mslam_vk_device_name(vk));
            exit(1);
        }
        if (r) t[r - 1] = bench_now() - t0;
    }
    if (vk && name_device) printf("device: vulkan: %s\n", mslam_vk_device_name(vk));
    mslam_encoder_pass_free(&pass);
    mslam_vk_close(vk);
    return bench_median(t, runs);
}

int main(int argc, char **argv) {
    struct bench_sizes sizes = {.threads = 2, .runs = 5, .batch = 8, .seconds = 10};
    int speech_layers = 8, vulkan = 0;
    static const char usage[] = "usage: encoder_bench [--threads N] [--runs N] [--batch B] [--seconds S] "
                                "[--speech-layers N] [--device cpu|vulkan]\n";
    for (int i = 1; i < argc; i += 2) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (bench_help_or_missing(opt, val, usage, &bad) || bench_size_option(opt, val, &sizes, &bad)) {
        } else if (!strcmp(opt, "--speech-layers")) bad = bench_int(opt, val, 0, 16, &speech_layers);
        else if (!strcmp(opt, "--device") && (!strcmp(val, "cpu") || !strcmp(val, "vulkan")))
            vulkan = !strcmp(val, "vulkan");
        else if (!strcmp(opt, "--device")) {
            fprintf(stderr, "--device: '%s' is not cpu or vulkan\n", val);
            bad = 1;
        } else {
            bench_unknown_option(opt, &bad);
        }
        if (bad) return bench_usage_error(usage);
    }
    const int threads = sizes.threads, runs = sizes.runs, B = sizes.batch;
    const double seconds = sizes.seconds;
    mslam_set_threads(threads);
    struct mslam_model_config cfg = bench_conformer_s(speech_layers);
    struct mslam_model_config sub_only = cfg;
    sub_only.n_speech_layers = sub_only.n_shared_layers = 0;
    mslam_model *m = bench_random_model(&cfg), *s = bench_random_model(&sub_only);
    if (!m || !s) {
        fprintf(stderr, "model: %s\n", mslam_last_error());
        return 1;
    }
    int T_mel = (int)lround(seconds * 100);
    float *mel = malloc((size_t)B * T_mel * cfg.n_mels * sizeof(float));
    int *lens = malloc((size_t)B * sizeof(int));
    if (!mel || !lens) {
        fprintf(stderr, "out of memory for %d x %g s of log-mel frames\n", B, seconds);
        return 1;
    }
    mslam_rng rng;
    mslam_rng_seed(&rng, 7);
    for (size_t i = 0; i < (size_t)B * T_mel * cfg.n_mels; i++) mel[i] = -5 + 2 * mslam_rng_normal(&rng);
    for (int b = 0; b < B; b++) lens[b] = T_mel;

    double peak = sgemm_gflops(3);
    double t_full = time_forward(m, vulkan, mel, lens, B, T_mel, runs, 1);
    double t_sub = time_forward(s, vulkan, mel, lens, B, T_mel, runs, 0);
    double t_layers = t_full - t_sub;
    int T = mslam_subsampled_frames(T_mel);
    double audio = B * seconds;
    double fl_layers = 16 * layer_flops(&cfg, B, T), fl_sub = subsampler_flops(&cfg, B, T_mel);
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("config: Conformer-S d=144 layers=16 (%d speech + %d shared) heads=4 ffn=576 kernel=31 "
           "sub_channels=144, batch %d x %.1f s (%d frames), %s, median of %d, OpenBLAS kernels %s\n",
           cfg.n_speech_layers, cfg.n_shared_layers, B, seconds, T, vulkan ? "Vulkan" : "CPU", runs,
           bench_blas_kernels());
    printf("threads=%d device=%s\n", threads, vulkan ? "vulkan" : "cpu");
    printf("mslam_layers rtf=%.5f seconds=%.4f gflop_per_audio_s=%.3f gflops=%.1f\n", t_layers / audio,
           t_layers, fl_layers / audio / 1e9, fl_layers / t_layers / 1e9);
    printf("mslam_encoder rtf=%.5f seconds=%.4f gflop_per_audio_s=%.3f gflops=%.1f (subsampler %.4f s)\n",
           t_full / audio, t_full, (fl_layers + fl_sub) / audio / 1e9, (fl_layers + fl_sub) / t_full / 1e9,
           t_sub);
    printf("cblas_sgemm gflops=%.1f (1536^3, same run)\n", peak);
    if (!vulkan) /* a share of the CPU's rate means nothing for a pass on another device */
        printf("fraction_of_sgemm layers=%.2f encoder=%.2f\n", fl_layers / t_layers / 1e9 / peak,
               (fl_layers + fl_sub) / t_full / 1e9 / peak);
    printf("peak_rss_mb=%.0f\n", ru.ru_maxrss / 1024.0);
    free(mel);
    free(lens);
    mslam_model_free(m);
    mslam_model_free(s);
    return 0;
}
