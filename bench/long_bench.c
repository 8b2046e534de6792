/* One long recording through mslam_encode_pcm, as a program captioning a file would call it:
 * the time and the process's peak memory for a given length, so that bench/long.sh can show how
 * both grow with the length (one process per length: the peak is the process's).
 *
 * Usage: long_bench [--model PATH] [--minutes M] [--chunk N] [--left N] [--threads N]
 * Prints one "key=value" line, parsed by bench/long.sh. */
#include "benchutil.h"
#include "mslam.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

int main(int argc, char **argv) {
    const char *model_path = "models/default.safetensors";
    double minutes = 1;
    int chunk = 8, left = 4, threads = 2;
    static const char usage[] = "usage: long_bench [--model PATH] [--minutes M] [--chunk N] [--left N] "
                                "[--threads N]\n";
    for (int i = 1; i < argc; i += 2) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (bench_help_or_missing(opt, val, usage, &bad)) {
        } else if (!strcmp(opt, "--model")) model_path = val;
        else if (!strcmp(opt, "--minutes")) bad = bench_double(opt, val, 0.05, 600, &minutes);
        else if (!strcmp(opt, "--chunk")) bad = bench_int(opt, val, 0, 1 << 20, &chunk);
        else if (!strcmp(opt, "--left")) bad = bench_int(opt, val, -1, 1 << 20, &left);
        else if (!strcmp(opt, "--threads")) bad = bench_int(opt, val, 1, 1024, &threads);
        else bench_unknown_option(opt, &bad);
        if (bad) return bench_usage_error(usage);
    }
    struct mslam_model_params mp = mslam_model_default_params();
    mp.n_threads = threads;
    mp.device = MSLAM_DEVICE_CPU;
    mslam_model *model = mslam_model_load(model_path, mp);
    if (!model) {
        fprintf(stderr, "long_bench: %s\n", mslam_last_error());
        return 1;
    }
    /* a tone gliding over the speech band with a little noise: every mel bin sees energy */
    size_t n_samples = (size_t)llround(minutes * 60 * 16000);
    float *pcm = malloc(n_samples * sizeof *pcm);
    if (!pcm) {
        fprintf(stderr, "long_bench: out of memory for %g minutes of audio\n", minutes);
        mslam_model_free(model);
        return 1;
    }
    uint64_t state = 1;
    double phase = 0;
    for (size_t i = 0; i < n_samples; i++) {
        state = state * 6364136223846793005ull + 1442695040888963407ull;
        phase += 2 * M_PI * (300 + 200 * sin(2 * M_PI * (double)i / 16000 / 3)) / 16000;
        pcm[i] = (float)(0.3 * sin(phase) + 0.02 * ((double)(state >> 40) / (1 << 24) - 0.5));
    }
    struct mslam_encode_params ep = mslam_encode_default_params();
    ep.chunk_frames = chunk;
    ep.left_chunks = left;
    int n_frames = 0;
    double t0 = bench_now();
    float *frames = mslam_encode_pcm(model, pcm, n_samples, &ep, &n_frames);
    double seconds = bench_now() - t0;
    if (!frames) {
        fprintf(stderr, "long_bench: %s\n", mslam_last_error());
        free(pcm);
        mslam_model_free(model);
        return 1;
    }
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("long_audio minutes=%g frames=%d seconds=%.2f rtf=%.4f peak_rss_mb=%.0f pcm_mb=%.0f chunk=%d left=%d "
           "threads=%d kernels=%s\n",
           minutes, n_frames, seconds, seconds / (minutes * 60), ru.ru_maxrss / 1024.0,
           n_samples * sizeof(float) / 1048576.0, chunk, left, threads, bench_blas_kernels());
    mslam_free(frames);
    free(pcm);
    mslam_model_free(model);
    return 0;
}
