/* Training-step benchmark on the Conformer-S config (d 144, 16 layers, 4 heads, FFN 576,
 * kernel 31, subsampler with 144 channels): forward with saved activations, a mean-squared
 * error against a fixed target (as bench/torch_conformer.py --train), backward, global gradient
 * norm and AdamW, on a batch of 8 x 10 s.
 *
 * Usage: train_bench [--threads N] [--runs N] [--batch B] [--seconds S] [--dropout P] [--profile]
 * --dropout P: residual dropout on every layer's branches (as train --dropout; keyed per item).
 * Prints "mslam_train step_s=... audio_s_per_s=..." (parsed by bench/train.sh) and, with
 * --profile, the split of one step into forward, backward and optimizer. */
#include "benchutil.h"
#include "encoder.h"
#include "model.h"
#include "ops.h"
#include "optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

int main(int argc, char **argv) {
    struct bench_sizes sizes = {.threads = 2, .runs = 5, .batch = 8, .seconds = 10};
    int profile = 0;
    double dropout = 0;
    static const char usage[] =
        "usage: train_bench [--threads N] [--runs N] [--batch B] [--seconds S] [--dropout P] [--profile]\n";
    for (int i = 1; i < argc; i++) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (!strcmp(opt, "--profile")) {
            profile = 1;
            continue;
        }
        i++; /* every other option takes a value */
        if (bench_help_or_missing(opt, val, usage, &bad) || bench_size_option(opt, val, &sizes, &bad)) {
        } else if (!strcmp(opt, "--dropout")) {
            bad = bench_double(opt, val, 0, 1, &dropout);
            if (!bad && dropout >= 1) {
                fprintf(stderr, "--dropout: %g is not below 1\n", dropout);
                bad = 1;
            }
        } else {
            bench_unknown_option(opt, &bad);
        }
        if (bad) return bench_usage_error(usage);
    }
    const int threads = sizes.threads, runs = sizes.runs, B = sizes.batch;
    const double seconds = sizes.seconds;
    mslam_set_threads(threads);
    struct mslam_model_config cfg = bench_conformer_s(8);
    mslam_model *m = bench_random_model(&cfg);
    if (!m) {
        fprintf(stderr, "model: %s\n", mslam_last_error());
        return 1;
    }
    float *grad = calloc(m->table.total, sizeof(float));
    mslam_params G;
    mslam_param_table gtab;
    optim_config oc = optim_default_config();
    adamw opt;
    if (!grad || mslam_param_table_build(&gtab, &cfg, &G) || adamw_init(&opt, &oc, &m->table)) {
        fprintf(stderr, "setup: %s\n", mslam_last_error());
        return 1;
    }
    mslam_params_bind(&gtab, grad);

    int T_mel = (int)lround(seconds * 100), T = mslam_subsampled_frames(T_mel), d = cfg.d_model;
    size_t n_out = (size_t)B * T * d;
    float *mel = malloc((size_t)B * T_mel * cfg.n_mels * sizeof(float));
    float *target = malloc(n_out * sizeof(float)), *dout = malloc(n_out * sizeof(float));
    int *lens = malloc((size_t)B * sizeof(int));
    if (!mel || !target || !dout || !lens) {
        fprintf(stderr, "out of memory for %d x %g s\n", B, seconds);
        return 1;
    }
    mslam_rng rng;
    mslam_rng_seed(&rng, 7);
    for (size_t i = 0; i < (size_t)B * T_mel * cfg.n_mels; i++) mel[i] = -5 + 2 * mslam_rng_normal(&rng);
    for (size_t i = 0; i < n_out; i++) target[i] = mslam_rng_normal(&rng);
    for (int b = 0; b < B; b++) lens[b] = T_mel;

    int *keys = malloc((size_t)B * sizeof *keys);
    for (int b = 0; keys && b < B; b++) keys[b] = b;
    mslam_encoder_pass pass = {.dropout = {(float)dropout, 7, keys, B}};
    double t_step[32], t_fwd[32], t_bwd[32], t_opt[32];
    for (int r = 0; r <= runs; r++) {
        double t0 = bench_now();
        memset(grad, 0, m->table.total * sizeof(float));
        if (mslam_encoder_speech_forward(&pass, &cfg, &m->p, mel, lens, B, T_mel, NULL, 1)) {
            fprintf(stderr, "forward: %s\n", mslam_last_error());
            return 1;
        }
        double t1 = bench_now();
        for (size_t i = 0; i < n_out; i++) dout[i] = 2.0f * (pass.out[i] - target[i]) / (float)n_out;
        if (mslam_encoder_backward(&pass, &cfg, &m->p, &G, dout, NULL)) {
            fprintf(stderr, "backward: %s\n", mslam_last_error());
            return 1;
        }
        double t2 = bench_now();
        double norm = sqrt(grad_sq_norm(grad, m->table.total));
        adamw_step(&opt, m->block, grad, 1e-4f, clip_scale(&oc, norm));
        double t3 = bench_now();
        if (r) {
            t_step[r - 1] = t3 - t0;
            t_fwd[r - 1] = t1 - t0;
            t_bwd[r - 1] = t2 - t1;
            t_opt[r - 1] = t3 - t2;
        }
    }
    double step = bench_median(t_step, runs), audio = B * seconds;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    printf("config: Conformer-S d=144 layers=16 heads=4 ffn=576 kernel=31 sub_channels=144 "
           "(%zu parameters, subsampler included), batch %d x %.1f s, dropout %g, %d threads, median of %d, "
           "OpenBLAS kernels %s\n",
           m->table.total, B, seconds, dropout, threads, runs, bench_blas_kernels());
    printf("mslam_train dropout=%g step_s=%.4f audio_s_per_s=%.2f peak_rss_mb=%.0f\n", dropout, step, audio / step,
           ru.ru_maxrss / 1024.0);
    if (profile)
        printf("mslam_train_split forward_s=%.4f backward_s=%.4f optimizer_s=%.4f\n", bench_median(t_fwd, runs),
               bench_median(t_bwd, runs), bench_median(t_opt, runs));
    mslam_encoder_pass_free(&pass);
    adamw_free(&opt);
    mslam_param_table_free(&gtab);
    mslam_model_free(m);
    free(grad);
    free(mel);
    free(target);
    free(dout);
    free(lens);
    free(keys);
    return 0;
}
