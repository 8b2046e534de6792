/* The translation memory next to the decoder on the same sentences, in the same run: the
 * memory's load time and resident size, and per sentence of a manifest's split the time of a
 * lookup (mslam_tm_lookup) against the decoder's translation (mslam_translate_text without the
 * memory), medians; then how many of the sentences the memory answers at the default minimum
 * similarity.
 *   build/bench/tm_bench --model M --memory TM --data MANIFEST [--split test] [--sentences 200]
 *     [--threads 2] */
#include "benchutil.h"
#include "data.h"
#include "manifest.h"
#include "util.h"

#include <mslam.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Resident set size in MB (/proc/self/statm), 0 when unknown. */
static double rss_mb(void) {
    long pages = 0, resident = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f && fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    if (f) fclose(f);
    return (double)resident * (double)sysconf(_SC_PAGESIZE) / (1 << 20);
}

int main(int argc, char **argv) {
    const char *model_path = NULL, *tm_path = NULL, *data = NULL, *split_name = "test";
    int max_sentences = 200, threads = 2;
    static const char usage[] = "usage: tm_bench --model M --memory TM --data MANIFEST [--split S] [--sentences N] "
                                "[--threads N]\n";
    for (int i = 1; i < argc; i += 2) {
        const char *opt = argv[i], *val = i + 1 < argc ? argv[i + 1] : NULL;
        int bad = 0;
        if (bench_help_or_missing(opt, val, usage, &bad)) {
        } else if (!strcmp(opt, "--model")) model_path = val;
        else if (!strcmp(opt, "--memory")) tm_path = val;
        else if (!strcmp(opt, "--data")) data = val;
        else if (!strcmp(opt, "--split")) split_name = val;
        else if (!strcmp(opt, "--sentences")) bad = bench_int(opt, val, 1, 1000000, &max_sentences);
        else if (!strcmp(opt, "--threads")) bad = bench_int(opt, val, 1, 1024, &threads);
        else bench_unknown_option(opt, &bad);
        if (bad) return bench_usage_error(usage);
    }
    int split = split_option(split_name);
    if (!model_path || !tm_path || !data || split < 0) return bench_usage_error(usage);
    struct mslam_model_params mp = mslam_model_default_params();
    mp.n_threads = threads;
    mslam_model *model = mslam_model_load(model_path, mp);
    double before = rss_mb(), t0 = bench_now();
    mslam_tm *tm = model ? mslam_tm_load(tm_path) : NULL;
    double load_s = bench_now() - t0, tm_mb = rss_mb() - before;
    if (!tm) {
        fprintf(stderr, "tm_bench: %s\n", mslam_last_error());
        mslam_model_free(model);
        return 1;
    }
    /* the split's sentences with a translation, in the CTC normal form the memory keeps */
    char **text = malloc((size_t)max_sentences * sizeof *text), **lang = malloc((size_t)max_sentences * sizeof *lang);
    int n = 0;
    manifest_reader *r = manifest_open(data, NULL);
    struct manifest_record rec;
    while (r && n < max_sentences && manifest_next(r, &rec) == 1) {
        if ((split != SPLIT_N && (int)rec.split != split) || !*rec.translation || !*rec.text) continue;
        char *norm = asr_target_text(rec.text, rec.lang);
        if (!norm || !*norm) {
            free(norm);
            continue;
        }
        text[n] = norm;
        lang[n++] = str_dup(rec.lang);
    }
    manifest_close(r);
    if (n == 0) {
        fprintf(stderr, "tm_bench: no %s row of %s has a sentence and a translation\n", split_name, data);
        mslam_tm_free(tm);
        mslam_model_free(model);
        return 1;
    }
    double *t_tm = malloc((size_t)n * sizeof *t_tm), *t_dec = malloc((size_t)n * sizeof *t_dec);
    struct mslam_decode_params p = mslam_decode_default_params();
    p.n_threads = threads;
    int answered = 0, translated = 0;
    for (int i = 0; i < n; i++) {
        struct mslam_tm_match match;
        double a = bench_now();
        mslam_tm_lookup(tm, text[i], lang[i], &match);
        t_tm[i] = bench_now() - a;
        /* what translation takes from the memory (its vocabulary check included) */
        struct mslam_decode_params mp = p;
        mslam_result *known = NULL;
        mp.translation_memory = tm;
        mp.languages = lang[i];
        answered += mslam_translate_memory(model, text[i], &mp, &known) == 1;
        mslam_result_free(known);
        a = bench_now();
        mslam_result *res = mslam_translate_text(model, text[i], &p);
        t_dec[i] = bench_now() - a;
        translated += res != NULL;
        mslam_result_free(res);
    }
    double med_tm = bench_median(t_tm, n), med_dec = bench_median(t_dec, n);
    printf("translation memory %s: %d sentences, loaded in %.2f s, +%.0f MB resident\n", tm_path,
           mslam_tm_n_entries(tm), load_s, tm_mb);
    printf("%d %s sentences of %s (%d translated by the decoder), %d threads, medians per sentence:\n", n,
           split_name, data, translated, threads);
    printf("| | ms per sentence |\n|---|---|\n| memory lookup | %.2f |\n| decoder (beam %d, mslam_translate_text) | %.2f |\n",
           1e3 * med_tm, p.beam_size, 1e3 * med_dec);
    printf("lookup / decoder: %.3f; the memory answers %d of %d at minimum similarity %.2f\n",
           med_dec > 0 ? med_tm / med_dec : 0, answered, n, (double)p.tm_min_similarity);
    for (int i = 0; i < n; i++) free(text[i]), free(lang[i]);
    free(text), free(lang), free(t_tm), free(t_dec);
    mslam_tm_free(tm);
    mslam_model_free(model);
    return 0;
}
