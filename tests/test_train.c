/* Trainer building blocks: AdamW and its schedule, clipping, checkpoints, initialisation,
 * vocabulary, epoch plans, features and SpecAugment, the text pairs' noise, and the handling of
 * bad input. */
#include "audio.h"
#include "augment.h"
#include "checkpoint.h"
#include "data.h"
#include "eval.h"
#include "init.h"
#include "manifest.h"
#include "optim.h"
#include "options.h"
#include "testutil.h"
#include "train_fixture.h"
#include "util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const struct mslam_model_config tiny_cfg = {
    .n_mels = 80, .d_model = 16, .n_heads = 2, .d_ff = 32, .conv_kernel = 3, .sub_channels = 4,
    .n_speech_layers = 1, .n_shared_layers = 1, .vocab_size = 6, .n_langs = 2, .causal_conv = 1,
    .ctc_head = 1, .lid_head = 1, .n_decoder_layers = 1};
static const char *const tiny_vocab[] = {"<blank>", "<unk>", "<s>", "</s>", "a", "b"};
static const char *const tiny_langs[] = {"de", "en"};

static void test_schedule(void) {
    optim_config c = optim_default_config();
    c.lr = 1e-3f, c.lr_min = 1e-5f, c.warmup_steps = 10, c.total_steps = 110, c.schedule = LR_COSINE;
    CHECK(fabsf(optim_lr(&c, 0) - 1e-4f) < 1e-9f, "warm-up starts at lr / warmup, got %g", (double)optim_lr(&c, 0));
    CHECK(fabsf(optim_lr(&c, 9) - 1e-3f) < 1e-9f, "warm-up ends at lr");
    CHECK(fabsf(optim_lr(&c, 59) - 0.5f * (1e-3f + 1e-5f)) < 1e-8f, "cosine midpoint, got %g", (double)optim_lr(&c, 59));
    CHECK(fabsf(optim_lr(&c, 109) - 1e-5f) < 1e-9f, "cosine ends at lr_min, got %g", (double)optim_lr(&c, 109));
    CHECK(fabsf(optim_lr(&c, 500) - 1e-5f) < 1e-9f, "and stays there");
    c.schedule = LR_INVERSE_SQRT;
    CHECK(fabsf(optim_lr(&c, 39) - 5e-4f) < 1e-8f, "inverse sqrt: lr * sqrt(10 / 40), got %g", (double)optim_lr(&c, 39));
    c.schedule = LR_CONSTANT;
    CHECK(optim_lr(&c, 1000) == 1e-3f, "constant after warm-up");
    CHECK(lr_schedule_parse("inverse-sqrt") == LR_INVERSE_SQRT && lr_schedule_parse("linear") < 0, "schedule names");
    c.clip_norm = 2;
    CHECK(clip_scale(&c, 1.0) == 1.0f && fabsf(clip_scale(&c, 8.0) - 0.25f) < 1e-7f, "clipping scale");
}

/* AdamW against a double-precision reference on a real parameter table: decay only on the
 * matrices (not on biases, LayerNorms or the position biases), nothing for the frozen feature
 * statistics. */
static void test_adamw(void) {
    mslam_model *m = mslam_model_new(&tiny_cfg, tiny_vocab, tiny_langs);
    optim_config c = optim_default_config();
    c.weight_decay = 0.1f;
    adamw o;
    CHECK(m && adamw_init(&o, &c, &m->table) == 0, "adamw_init");
    if (!m) return;
    size_t n = m->table.total;
    float *p0 = malloc(n * sizeof(float)), *g = malloc(n * sizeof(float));
    double *pr = malloc(n * sizeof(double)), *mr = calloc(n, sizeof(double)), *vr = calloc(n, sizeof(double));
    mslam_rng rng;
    mslam_rng_seed(&rng, 3);
    test_fill_uniform(m->block, n, -1, 1, &rng);
    memcpy(p0, m->block, n * sizeof(float));
    for (size_t i = 0; i < n; i++) pr[i] = m->block[i];
    float lrs[3] = {1e-2f, 5e-3f, 1e-3f}, scale = 0.5f;
    for (int step = 0; step < 3; step++) {
        test_fill_uniform(g, n, -1, 1, &rng);
        adamw_step(&o, m->block, g, lrs[step], scale);
        for (int s = 0; s < o.n_segments; s++) {
            const optim_segment *seg = &o.segments[s];
            if (seg->frozen) continue;
            for (size_t i = seg->offset; i < seg->offset + seg->n; i++) {
                double gi = (double)g[i] * scale, t = step + 1;
                mr[i] = 0.9 * mr[i] + 0.1 * gi;
                vr[i] = 0.98 * vr[i] + 0.02 * gi * gi;
                double upd = (mr[i] / (1 - pow(0.9, t))) / (sqrt(vr[i] / (1 - pow(0.98, t))) + 1e-9);
                pr[i] -= lrs[step] * upd + (seg->decay ? lrs[step] * 0.1 * pr[i] : 0);
            }
        }
    }
    double worst = 0;
    for (size_t i = 0; i < n; i++) worst = fmax(worst, fabs(m->block[i] - pr[i]));
    CHECK(worst < 1e-5, "AdamW matches the double reference (max error %g)", worst);
    for (int i = 0; i < m->table.n; i++) {
        const mslam_param_entry *e = &m->table.entries[i];
        const optim_segment *seg = &o.segments[i];
        int is_frontend = !strncmp(e->name, "frontend.", 9);
        int frozen = is_frontend || (strstr(e->name, ".k.bias") && !strstr(e->name, ".k.bias."));
        CHECK(seg->frozen == frozen, "%s frozen = %d", e->name, seg->frozen);
        int want_decay = e->ndim >= 2 && !strstr(e->name, "pos_bias");
        CHECK(seg->decay == want_decay, "%s decay = %d", e->name, seg->decay);
        if (frozen) CHECK(!memcmp(m->block + e->offset, p0 + e->offset, e->numel * sizeof(float)), "%s unchanged", e->name);
    }
    double serial = 0;
    for (size_t i = 0; i < n; i++) serial += (double)g[i] * g[i];
    CHECK(fabs(grad_sq_norm(g, n) - serial) <= 1e-9 * serial, "squared norm");
    adamw_free(&o);
    mslam_model_free(m);
    free(p0), free(g), free(pr), free(mr), free(vr);
}

static void test_checkpoint(void) {
    mslam_model *m = mslam_model_new(&tiny_cfg, tiny_vocab, tiny_langs);
    optim_config c = optim_default_config();
    adamw o;
    if (!m || adamw_init(&o, &c, &m->table)) {
        CHECK(0, "setup");
        return;
    }
    model_init_params(m, 5);
    mslam_rng rng;
    mslam_rng_seed(&rng, 9);
    test_fill_uniform(o.m, o.n, -1, 1, &rng);
    test_fill_uniform(o.v, o.n, 0, 1, &rng);
    o.t = 41;
    train_position pos = {.step = 42, .epoch = 3, .batch = 7, .seed = 0xfedcba9876543210ull, .world_size = 2,
                          .accumulate = 3, .global_batch = 48, .audio_seconds = 1234.5, .skipped_steps = 1, .elapsed_s = 99.25,
                          .best_metric = "cer", .best_step = 40, .best_score = 0.125, .stale_validations = 1,
                          .log_steps = 3};
    /* the log interval under way: sums of any double (0.1 has no short binary form) */
    for (int i = 0; i < CHECKPOINT_LOG_SCORES; i++) pos.log_sums[i] = 0.1 * (i + 1) + (i == 5 ? 1e10 : 0);
    const char *dir = fixture_subdir("ckpt");
    for (long step = 10; step <= 50; step += 10) {
        char *path = checkpoint_path(dir, step);
        CHECK(checkpoint_save(path, m, &o, &pos, step == 50 ? "lr=0.001\nsteps=8\n" : NULL) == 0, "save %s: %s", path,
              mslam_last_error());
        free(path);
    }
    /* what a save killed before its rename left goes too; other files stay */
    char *left = str_printf("%s/ckpt-00000060.safetensors.tmp-123-0-1", dir), *other = str_printf("%s/notes.txt", dir);
    CHECK(write_file_atomic(left, "x", 1) == 0 && write_file_atomic(other, "x", 1) == 0, "a leftover and a note");
    CHECK(checkpoint_prune(dir, 2) == 0 && access(left, F_OK) != 0 && access(other, F_OK) == 0,
          "prune, the leftover of an interrupted save with it");
    free(left), free(other);
    char *latest = checkpoint_latest(dir);
    CHECK(latest && strstr(latest, "ckpt-00000050.safetensors"), "latest is step 50: %s", latest ? latest : "none");
    char *gone = checkpoint_path(dir, 30), *kept = checkpoint_path(dir, 40);
    CHECK(access(gone, F_OK) != 0 && access(kept, F_OK) == 0, "prune keeps the newest two");
    /* the checkpoint a resume takes once a damaged newest one is moved away */
    char *before_50 = checkpoint_before(dir, 50), *before_40 = checkpoint_before(dir, 40);
    CHECK(before_50 && !strcmp(before_50, kept) && !before_40, "before step 50: %s; before 40: %s",
          before_50 ? before_50 : "none", before_40 ? before_40 : "none");
    free(before_50), free(before_40);
    free(gone), free(kept);

    mslam_model *back = NULL;
    train_position pb;
    int state = 0;
    CHECK(latest && checkpoint_load(latest, &back, &pb, &state) == 0 && state, "load: %s", mslam_last_error());
    adamw ob;
    if (back && adamw_init(&ob, &c, &back->table) == 0) {
        CHECK(checkpoint_load_optimizer(latest, &ob) == 0, "load optimizer");
        CHECK(!memcmp(back->block, m->block, m->table.total * sizeof(float)), "parameters bit-exact");
        CHECK(!memcmp(ob.m, o.m, o.n * sizeof(float)) && !memcmp(ob.v, o.v, o.n * sizeof(float)) && ob.t == 41,
              "moments bit-exact");
        CHECK(pb.step == 42 && pb.epoch == 3 && pb.batch == 7 && pb.seed == pos.seed && pb.world_size == 2 &&
                  pb.accumulate == 3 && pb.global_batch == 48 && pb.audio_seconds == 1234.5 && pb.skipped_steps == 1 &&
                  !strcmp(pb.best_metric, "cer") && pb.best_step == 40 && pb.best_score == 0.125 &&
                  pb.stale_validations == 1 && pb.log_steps == 3 &&
                  !memcmp(pb.log_sums, pos.log_sums, sizeof pos.log_sums),
              "position round trip");
        adamw_free(&ob);
    }
    char *options = latest ? checkpoint_options(latest) : NULL, *none = checkpoint_path(dir, 40),
         *no_options = checkpoint_options(none);
    CHECK(options && !strcmp(options, "lr=0.001\nsteps=8\n") && !no_options,
          "the options record round trip (got \"%s\"), none where none was written", options ? options : "(none)");
    free(options), free(none), free(no_options);
    mslam_model_free(back);
    /* the library and the elements refuse a checkpoint, saying what makes their model of it */
    back = latest ? mslam_model_load(latest, mslam_model_default_params()) : NULL;
    CHECK(latest && !back && strstr(mslam_last_error(), "a training checkpoint, not a model") &&
              strstr(mslam_last_error(), "mslam-trainer export --checkpoint"),
          "a checkpoint as a model: \"%s\"", mslam_last_error());
    mslam_model_free(back);
    /* a checkpoint is also a model for export and --init; a plain model has no state */
    char *model_path = str_printf("%s/model.safetensors", dir);
    CHECK(mslam_model_save(m, model_path) == 0 && checkpoint_load(model_path, &back, &pb, &state) == 0 && !state &&
              pb.step == 0,
          "plain model: no training state");
    mslam_model_free(back);
    free(model_path);
    /* a checkpoint from before --accumulate (no "accumulate" in its position) took one micro-batch a
     * step; positions of no processes, or of more than an int holds, are refused; validations
     * without a best score yet keep their count */
    static const char *const positions[] = {
        "{\"step\":4,\"epoch\":0,\"batch\":4,\"seed\":1,\"adam_t\":4,\"world_size\":2,\"global_batch\":8,"
        "\"audio_seconds\":1.0,\"skipped_steps\":0,\"elapsed_s\":1.0}",
        "{\"step\":4,\"epoch\":0,\"batch\":4,\"seed\":1,\"adam_t\":4,\"world_size\":0,\"global_batch\":8,"
        "\"audio_seconds\":1.0,\"skipped_steps\":0,\"elapsed_s\":1.0}",
        "{\"step\":4,\"epoch\":0,\"batch\":4,\"seed\":1,\"adam_t\":4,\"world_size\":4294967296,\"global_batch\":8,"
        "\"audio_seconds\":1.0,\"skipped_steps\":0,\"elapsed_s\":1.0}",
        "{\"step\":4,\"epoch\":0,\"batch\":4,\"seed\":1,\"adam_t\":4,\"world_size\":1,\"accumulate\":2,"
        "\"global_batch\":8,\"audio_seconds\":1.0,\"skipped_steps\":0,\"elapsed_s\":1.0,\"best_metric\":\"cer\","
        "\"stale_validations\":2}"};
    for (int i = 0; i < 4; i++) {
        char *old_path = str_printf("%s/old-%d.safetensors", dir, i);
        st_meta meta = {(char *)"training", (char *)positions[i]};
        int saved = mslam_model_save_with(m, old_path, NULL, 0, &meta, 1) == 0;
        int loaded = saved && checkpoint_load(old_path, &back, &pb, &state) == 0;
        if (i == 0)
            CHECK(loaded && pb.accumulate == 1 && pb.world_size == 2 && pb.global_batch == 8,
                  "an older checkpoint's position: 1 micro-batch (%s)", loaded ? "loaded" : mslam_last_error());
        else if (i == 3)
            CHECK(loaded && pb.accumulate == 2 && !strcmp(pb.best_metric, "cer") && pb.best_step == 0 &&
                      pb.stale_validations == 2,
                  "2 validations without a CER measured (%s)", loaded ? "loaded" : mslam_last_error());
        else
            CHECK(saved && !loaded && strstr(mslam_last_error(), "processes"), "position %d refused: %s", i,
                  mslam_last_error());
        mslam_model_free(back);
        back = NULL;
        free(old_path);
    }
    /* a failed write leaves nothing behind and the old file intact */
    CHECK(checkpoint_save("/nonexistent-dir/x.safetensors", m, &o, &pos, NULL) != 0, "write into a missing folder fails");
    free(latest);
    adamw_free(&o);
    mslam_model_free(m);
}

static void test_init(void) {
    mslam_model *a = mslam_model_new(&tiny_cfg, tiny_vocab, tiny_langs);
    struct mslam_model_config big = tiny_cfg;
    big.vocab_size = 8;
    static const char *const vocab8[] = {"<blank>", "<unk>", "<s>", "</s>", "a", "b", "c", "d"};
    mslam_model *b = mslam_model_new(&big, vocab8, tiny_langs);
    if (!a || !b) {
        CHECK(0, "setup");
        return;
    }
    model_init_params(a, 1);
    for (int i = 0; i < a->table.n; i++) {
        const mslam_param_entry *e = &a->table.entries[i];
        const float *x = a->block + e->offset;
        const char *leaf = strrchr(e->name, '.');
        if (e->ndim == 1 && leaf && !strcmp(leaf, ".weight")) CHECK(x[0] == 1 && x[e->numel - 1] == 1, "%s is 1", e->name);
        if (e->ndim == 1 && leaf && !strcmp(leaf, ".bias")) CHECK(x[0] == 0, "%s is 0", e->name);
        if (e->ndim == 2 && !strstr(e->name, "embed") && !strstr(e->name, "pos_bias")) {
            float bound = sqrtf(6.0f / (e->shape[0] + e->shape[1])), worst = 0;
            if (strstr(e->name, "linear2.weight") || strstr(e->name, "attn.out.weight") || strstr(e->name, "pw2.weight"))
                bound *= residual_scale(&a->cfg, e->name);
            for (size_t k = 0; k < e->numel; k++) worst = fmaxf(worst, fabsf(x[k]));
            CHECK(worst <= bound && worst > 0.5f * bound, "%s within the Xavier bound", e->name);
        }
    }
    model_init_params(b, 2);
    int missed = model_copy_params(b, a, NULL);
    /* vocabulary-sized tensors: text.embed, ctc w/b, decoder embed, decoder out w/b */
    CHECK(missed == 6, "6 tensors only partly copied, got %d", missed);
    CHECK(!memcmp(b->p.text_embed, a->p.text_embed, 6 * 16 * sizeof(float)), "leading rows copied");
    CHECK(memcmp(b->p.text_embed + 6 * 16, a->p.text_embed, 16 * sizeof(float)), "new rows kept");
    CHECK(!memcmp(b->p.lid_w, a->p.lid_w, 2 * 16 * sizeof(float)), "same-shape tensors copied");
    mslam_model_free(a);
    mslam_model_free(b);
    /* the tensors over pre-training codes: copied for the same number of codes only (a prefix of
     * 4 codes' rows is not 3 codes' targets) */
    struct mslam_model_config four = tiny_cfg, three;
    four.n_codes = 4;
    three = four;
    three.n_codes = 3;
    mslam_model *k4 = mslam_model_new(&four, tiny_vocab, tiny_langs), *k4b = mslam_model_new(&four, tiny_vocab, tiny_langs),
                *k3 = mslam_model_new(&three, tiny_vocab, tiny_langs);
    if (k4 && k4b && k3) {
        model_init_params(k4, 1), model_init_params(k4b, 2), model_init_params(k3, 2);
        int same = model_copy_params(k4b, k4, NULL), fewer = model_copy_params(k3, k4, NULL);
        const size_t d = (size_t)four.d_model;
        CHECK(same == 0 && !memcmp(k4b->block, k4->block, k4->table.total * sizeof(float)), "4 codes to 4: all copied");
        CHECK(fewer == 5 && memcmp(k3->p.pt_mlm_w, k4->p.pt_mlm_w, d * sizeof(float)) &&
                  memcmp(k3->p.pt_codebook, k4->p.pt_codebook, d * sizeof(float)) &&
                  !memcmp(k3->p.pt_speech_mask, k4->p.pt_speech_mask, d * sizeof(float)),
              "4 codes to 3: the 5 tensors over codes new (%d), the mask embedding copied", fewer);
    } else {
        CHECK(0, "the coded models: %s", mslam_last_error());
    }
    mslam_model_free(k4), mslam_model_free(k4b), mslam_model_free(k3);
}

/* Whether item b of fb (80 mels) differs from plain (the same items unaugmented, laid out alike)
 * three quarters in: noise alone is there, whatever its onset (in the first half). */
static int replaced_by_noise(const feature_batch *fb, const float *plain, int b) {
    size_t at = ((size_t)b * fb->T_mel + (size_t)fb->mel_lens[b] * 3 / 4) * 80;
    float most = 0.0f;
    for (int m = 0; m < 80; m++) most = fmaxf(most, fabsf(fb->mel[at + m] - plain[at + m]));
    return most > 1e-3f;
}

static void test_data(const char *manifest) {
    dataset ds = {0};
    CHECK(dataset_load_split(&ds, manifest, NULL, NULL, NULL, "train", NULL) == 0, "load: %s", mslam_last_error());
    CHECK(ds.n == 3 * 8 + 4, "8 utterances per language + 4 bad rows, got %d", ds.n);
    /* the manifest's folder stands for its manifest.tsv: the same rows, the same audio paths */
    dataset by_folder = {0};
    CHECK(dataset_load_split(&by_folder, fixture_dir(), NULL, NULL, NULL, "train", NULL) == 0 && by_folder.n == ds.n &&
              !strcmp(by_folder.items[0].audio, ds.items[0].audio),
          "a corpus folder as --data: %s", mslam_last_error());
    dataset_free(&by_folder);
    /* feature statistics pass over the unreadable rows in silence: dataset_encode warns of each, once */
    float mean[80], std[80];
    struct strlist stats_warnings = {0};
    mslam_log_set(fixture_collect_warnings, &stats_warnings);
    CHECK(mel_statistics(&ds, 80, ds.n, mean, std) == 0 && stats_warnings.n == 0,
          "feature statistics: %zu warnings (%s)", stats_warnings.n, stats_warnings.n ? stats_warnings.items[0] : "");
    mslam_log_set(test_quiet_log, NULL);
    strlist_free(&stats_warnings);
    dataset bad = {0};
    CHECK(dataset_load_split(&bad, manifest, "nonsense", NULL, NULL, "train", NULL) != 0, "an unknown layout is an error");
    CHECK(dataset_load_split(&bad, manifest, NULL, NULL, NULL, "nonsense", NULL) != 0, "an unknown split is an error");
    char *empty = str_printf("%s/empty.tsv", fixture_dir());
    FILE *f = fopen(empty, "w");
    fprintf(f, "path\tlang\ttext\nde_train_002.flac\tde\t\n\tde\t\n");
    fclose(f);
    CHECK(dataset_load_split(&bad, empty, NULL, NULL, NULL, "all", NULL) != 0 && strstr(mslam_last_error(), "empty.tsv:3"),
          "a row with neither audio nor text stops with an error naming file and line: %s", mslam_last_error());
    dataset_free(&bad);
    /* speech without a transcript: kept for language ID, counted and skipped where one is needed */
    f = fopen(empty, "w");
    fprintf(f, "path\tlang\ttext\nde_train_002.flac\tde\t\n");
    fclose(f);
    dataset no_text = {0};
    CHECK(dataset_load_split(&no_text, empty, NULL, NULL, NULL, "all", NULL) == 0 && no_text.n == 1 && !*no_text.items[0].text,
          "a speech row without a transcript loads: %s", mslam_last_error());
    /* a split without speech names the splits that have it */
    char *splits = str_printf("%s/splits.tsv", fixture_dir());
    f = fopen(splits, "w");
    fprintf(f, "path\tlang\ttext\tsplit\nde_train_002.flac\tde\tja\tdev\nde_train_002.flac\tde\tja\tdev\n"
               "de_train_002.flac\tde\tja\ttrain\n");
    fclose(f);
    CHECK(dataset_load_split(&bad, splits, NULL, NULL, NULL, "test", "--split") != 0 &&
              strstr(mslam_last_error(), "no speech examples in split 'test' (the manifest has them in split train: "
                                         "1 row, dev: 2 rows; --split picks the split)"),
          "no speech in the split asked for: %s", mslam_last_error());
    dataset_free(&bad);
    /* no split option named: both of train's options named */
    CHECK(dataset_load_split(&bad, splits, NULL, NULL, NULL, "test", NULL) != 0 &&
              strstr(mslam_last_error(), "; --split (--valid-split for train --valid) picks the split)"),
          "no speech in the split asked for, train's options: %s", mslam_last_error());
    dataset_free(&bad);
    /* text pairs: a row without a translation or a transcript is counted as left out */
    f = fopen(splits, "w");
    fprintf(f, "path\tlang\ttext\ttranslation\tsplit\n\tde\tja\tyes\ttrain\n\tde\tja\t\ttrain\n"
               "de_train_002.flac\tde\t\tyes\ttrain\n\tde\tnein\tno\tdev\n");
    fclose(f);
    dataset pairs = {0}, rows = {0};
    CHECK(dataset_load_text_pairs(&pairs, splits, "train", 0) == 0 && pairs.n == 1 && pairs.n_incomplete == 2 &&
              dataset_load_text_pairs(&rows, splits, "train", 1) == 0 && rows.n == 2 && rows.n_incomplete == 1,
          "rows left out of the text pairs are counted: %d and %d of 2 and 1 (%s)", pairs.n_incomplete,
          rows.n_incomplete, mslam_last_error());
    dataset_free(&pairs), dataset_free(&rows);
    free(splits);
    struct strlist vocab, langs;
    CHECK(vocab_build(&ds, NULL, 1, &vocab) == 0 && langs_build(&ds, &langs) == 0, "vocabulary");
    CHECK(vocab.n > VOCAB_N_RESERVED && !strcmp(vocab.items[VOCAB_BLANK], "<blank>") &&
              !strcmp(vocab.items[VOCAB_BOS], "<s>") && !strcmp(vocab.items[VOCAB_EOS], "</s>"),
          "reserved entries first");
    for (size_t i = VOCAB_N_RESERVED + 1; i < vocab.n; i++)
        CHECK(strcmp(vocab.items[i - 1], vocab.items[i]) < 0, "sorted characters");
    CHECK(langs.n == 3 && !strcmp(langs.items[0], "de") && !strcmp(langs.items[2], "fr"), "languages sorted");
    /* one language in two cases is refused naming both; codes of other shapes are only warned of */
    struct strlist cased = {0}, odd = {0};
    strlist_split(&cased, "de,es,ES"), strlist_split(&odd, "zh-CN,yue,sr_Latn,und,Spanish!,e");
    struct strlist warned = {0};
    mslam_log_set(fixture_collect_warnings, &warned);
    CHECK(langs_check(&langs, 1) == 0 && langs_check(&cased, 1) != 0 && strstr(mslam_last_error(), "'es' and 'ES'") &&
              langs_check(&odd, 1) == 0,
          "language checks: %s", mslam_last_error());
    mslam_log_set(test_quiet_log, NULL);
    CHECK(warned.n == 2 && strstr(warned.items[0], "'Spanish!'") && strstr(warned.items[1], "'e'"),
          "warned of %zu codes (%s)", warned.n, warned.n ? warned.items[0] : "none");
    strlist_free(&cased), strlist_free(&odd), strlist_free(&warned);

    /* a model whose vocabulary lacks 'z': the transcripts holding it are dropped */
    struct strlist small = {0};
    for (size_t i = 0; i < vocab.n; i++)
        if (strcmp(vocab.items[i], "z")) strlist_push(&small, vocab.items[i]);
    struct mslam_model_config c = tiny_cfg;
    c.vocab_size = (int)small.n;
    c.n_langs = (int)langs.n;
    mslam_model *m = mslam_model_new(&c, (const char *const *)small.items, (const char *const *)langs.items);
    int with_z = 0;
    for (int i = 0; i < ds.n; i++) {
        char *norm = asr_target_text(ds.items[i].text, ds.items[i].lang);
        with_z += norm && strchr(norm, 'z') != NULL;
        free(norm);
    }
    dataset_report r;
    CHECK(m && dataset_encode(&ds, m, NEED_TEXT, 0, &r) == 0, "encode");
    CHECK(r.missing_audio == 2, "missing and corrupt files: %d", r.missing_audio);
    CHECK(r.empty_audio == 1, "zero-length audio: %d", r.empty_audio);
    CHECK(r.empty_text == 1, "transcript of punctuation only: %d", r.empty_text);
    CHECK(r.unknown_chars == with_z && with_z > 0, "transcripts with 'z': %d of %d", r.unknown_chars, with_z);
    CHECK(r.kept == 3 * 8 - with_z && ds.n == r.kept, "kept %d", r.kept);
    dataset lid_only = {0};
    CHECK(dataset_load_split(&lid_only, empty, NULL, NULL, NULL, "all", NULL) == 0 &&
              dataset_encode(&lid_only, m, NEED_LANG, 0, &r) == 0 && r.kept == 1,
          "language ID keeps the speech without a transcript");
    CHECK(dataset_encode(&no_text, m, NEED_TEXT, 0, &r) != 0 && r.empty_text == 1,
          "recognition counts it as an empty transcript and skips it (kept %d, empty %d)", r.kept, r.empty_text);
    dataset_free(&lid_only), dataset_free(&no_text);
    free(empty);
    for (int i = 0; i < ds.n; i++) {
        CHECK(ds.items[i].n_text > 0 && ds.items[i].seconds > 0.1 && ds.items[i].lang_id >= 0, "example %d encoded", i);
        for (int k = 0; k < ds.items[i].n_text; k++)
            CHECK(ds.items[i].text_ids[k] >= VOCAB_N_RESERVED && ds.items[i].text_ids[k] < c.vocab_size, "ids in range");
    }

    /* epoch plans: a permutation, the same for the same seed and epoch, short batch last */
    epoch_plan a, b, e1;
    CHECK(epoch_plan_make(&a, &ds, 5, 0, 4, NULL) == 0 && epoch_plan_make(&b, &ds, 5, 0, 4, NULL) == 0 &&
              epoch_plan_make(&e1, &ds, 5, 1, 4, NULL) == 0,
          "plans");
    CHECK(!memcmp(a.order, b.order, (size_t)ds.n * sizeof(int)), "deterministic");
    CHECK(memcmp(a.order, e1.order, (size_t)ds.n * sizeof(int)), "another epoch, another order");
    char *seen = calloc((size_t)ds.n, 1);
    for (int i = 0; i < ds.n; i++) seen[a.order[i]]++;
    int perm = 1;
    for (int i = 0; i < ds.n; i++) perm &= seen[i] == 1;
    CHECK(perm, "every example once per epoch");
    free(seen);
    int first, count;
    CHECK(a.n_batches == (ds.n + 3) / 4 && a.n_batches == epoch_batches(ds.n, 4), "batch count");
    /* train's epochs count these: 10 examples in batches of 4 are 3 a epoch */
    CHECK(epoch_batches(10, 4) == 3 && epoch_batches(8, 4) == 2 && epoch_batches(1, 4) == 1, "epoch_batches");
    epoch_plan_batch(&a, a.n_batches - 1, &first, &count);
    CHECK(count == (ds.n % 4 ? ds.n % 4 : 4) && first + count == ds.n, "the short batch is last");
    epoch_plan_free(&a), epoch_plan_free(&b), epoch_plan_free(&e1);

    /* features: lengths from the frontend, zero padding, a vanished file skipped */
    feature_batch fb = {0};
    int items[3] = {0, 1, 2};
    float fill[80];
    for (int k = 0; k < 80; k++) fill[k] = -3;
    CHECK(feature_batch_load(&fb, &ds, items, 3, 0, 80, NULL, 0, NULL) == 0 && fb.B == 3, "load 3");
    for (int i = 0; i < fb.B; i++) {
        int want = mslam_frontend_n_frames((size_t)llround(ds.items[i].seconds * 16000));
        CHECK(abs(fb.mel_lens[i] - want) <= 1, "item %d: %d frames, header says %d", i, fb.mel_lens[i], want);
        for (int t = fb.mel_lens[i]; t < fb.T_mel; t++)
            CHECK(fb.mel[((size_t)i * fb.T_mel + t) * 80] == 0, "padding is zero");
    }
    /* max_samples: each item's first samples alone, their log-mel with the tail padding after them
     * (not the audio that follows) */
    struct audio first_item = {0};
    CHECK(audio_read(ds.items[0].audio, &first_item) == 0 && first_item.rate == 16000 && first_item.n > 2000,
          "the first item's audio: %s", mslam_last_error());
    size_t clip = first_item.n / 2 + 77; /* no whole number of hops */
    feature_batch clips = {.max_samples = clip};
    if (first_item.n > 2000 && feature_batch_load(&clips, &ds, items, 1, 0, 80, NULL, 0, NULL) == 0 && clips.B == 1) {
        int n_clip = mslam_frontend_n_frames(clip);
        mslam_frontend fe;
        float *expected = malloc((size_t)n_clip * 80 * sizeof(float));
        float *scratch = malloc(mslam_frontend_scratch_size(n_clip) * sizeof(float));
        CHECK(expected && scratch && mslam_frontend_init(&fe, 80) == 0, "frontend");
        mslam_logmel(&fe, first_item.samples, clip, n_clip, expected, scratch);
        CHECK(clips.mel_lens[0] == n_clip && !memcmp(clips.mel, expected, (size_t)n_clip * 80 * sizeof(float)) &&
                  fabs(clips.seconds - clip / 16000.0) < 1e-9,
              "max_samples %zu of %zu: %d frames (expected %d), the clip's own features", clip, first_item.n,
              clips.mel_lens[0], n_clip);
        mslam_frontend_free(&fe);
        free(expected), free(scratch);
    } else {
        CHECK(0, "max_samples %zu: %s", clip, mslam_last_error());
    }
    feature_batch_free(&clips);
    audio_free(&first_item);
    float *plain = malloc((size_t)fb.B * fb.T_mel * 80 * sizeof(float));
    memcpy(plain, fb.mel, (size_t)fb.B * fb.T_mel * 80 * sizeof(float));
    int plain_lens[3];
    memcpy(plain_lens, fb.mel_lens, sizeof plain_lens);
    specaug_config aug = specaug_default_config();
    CHECK(feature_batch_load(&fb, &ds, items, 3, 5, 80, &aug, 77, fill) == 0, "augmented");
    int masked = 0, other = 0;
    for (size_t k = 0; k < (size_t)fb.mel_lens[0] * 80; k++) {
        masked += fb.mel[k] == -3.0f;
        other += fb.mel[k] != -3.0f && fb.mel[k] != plain[k];
    }
    CHECK(masked > 0 && other == 0, "SpecAugment only writes the fill value (%d masked, %d other)", masked, other);
    float *aug1 = malloc((size_t)fb.B * fb.T_mel * 80 * sizeof(float));
    memcpy(aug1, fb.mel, (size_t)fb.B * fb.T_mel * 80 * sizeof(float));
    CHECK(feature_batch_load(&fb, &ds, items, 3, 5, 80, &aug, 77, fill) == 0 &&
              !memcmp(aug1, fb.mel, (size_t)fb.B * fb.T_mel * 80 * sizeof(float)),
          "SpecAugment is a function of (seed, slot)");
    CHECK(feature_batch_load(&fb, &ds, items, 3, 6, 80, &aug, 77, fill) == 0 &&
              memcmp(aug1, fb.mel, (size_t)fb.B * 80 * sizeof(float)),
          "another slot, another mask");
    /* the equaliser adds one curve to every frame; the warp by 1 is the identity */
    specaug_config eq = {.eq_prob = 1, .eq_db = 15};
    int T0 = fb.mel_lens[0];
    float *x = malloc((size_t)T0 * 80 * sizeof(float));
    memcpy(x, plain, (size_t)T0 * 80 * sizeof(float));
    mslam_rng rng;
    mslam_rng_seed(&rng, 5);
    CHECK(channel_augment(x, T0, 80, &eq, &rng) == 0, "equaliser");
    float max_gain = 0, max_spread = 0;
    for (int m = 0; m < 80; m++) {
        float g0 = x[m] - plain[m];
        max_gain = fabsf(g0) > max_gain ? fabsf(g0) : max_gain;
        for (int t = 1; t < T0; t++) {
            float d = fabsf(x[(size_t)t * 80 + m] - plain[(size_t)t * 80 + m] - g0);
            max_spread = d > max_spread ? d : max_spread;
        }
    }
    CHECK(max_gain > 0.05f && max_gain <= 15 * 0.2303f + 1e-4f && max_spread < 1e-4f,
          "one gain per bin, within 15 dB (largest %g, spread %g)", (double)max_gain, (double)max_spread);
    /* a 6-point curve bends at most 4 times inside; 40 points give it room for many more */
    for (int points = 6; points <= 40; points += 34) {
        specaug_config fine = {.eq_prob = 1, .eq_db = 15, .eq_points = points};
        int most_bends = 0;
        for (int draw = 0; draw < 20; draw++) {
            memcpy(x, plain, (size_t)T0 * 80 * sizeof(float));
            CHECK(channel_augment(x, T0, 80, &fine, &rng) == 0, "equaliser of %d points", points);
            int bends = 0;
            for (int m = 1; m + 1 < 80; m++) {
                float before = (x[m] - plain[m]) - (x[m - 1] - plain[m - 1]);
                float after = (x[m + 1] - plain[m + 1]) - (x[m] - plain[m]);
                bends += (before > 1e-4f && after < -1e-4f) || (before < -1e-4f && after > 1e-4f);
            }
            most_bends = bends > most_bends ? bends : most_bends;
        }
        CHECK(points == 6 ? most_bends <= 4 : most_bends > 10, "%d equaliser points bend the curve up to %d times",
              points, most_bends);
    }
    specaug_config too_many = {.eq_prob = 1, .eq_db = 15, .eq_points = EQ_POINTS_MAX + 1};
    CHECK(channel_augment(x, T0, 80, &too_many, &rng) == -1 && strstr(mslam_last_error(), "equaliser points"),
          "too many equaliser points: %s", mslam_last_error());
    specaug_config unit_warp = {.warp_prob = 1, .warp = 0};
    memcpy(x, plain, (size_t)T0 * 80 * sizeof(float));
    CHECK(channel_augment(x, T0, 80, &unit_warp, &rng) == 0 && !memcmp(x, plain, (size_t)T0 * 80 * sizeof(float)),
          "a warp by 1 changes nothing");
    specaug_config warp = {.warp_prob = 1, .warp = 0.1f};
    CHECK(channel_augment(x, T0, 80, &warp, &rng) == 0 && memcmp(x, plain, (size_t)T0 * 80 * sizeof(float)),
          "a warp moves the spectrum");
    float lo = plain[0], hi = plain[0];
    for (size_t k = 0; k < (size_t)T0 * 80; k++) lo = plain[k] < lo ? plain[k] : lo, hi = plain[k] > hi ? plain[k] : hi;
    int inside = 1;
    for (size_t k = 0; k < (size_t)T0 * 80; k++) inside &= x[k] >= lo - 1e-5f && x[k] <= hi + 1e-5f;
    CHECK(inside, "a warp interpolates between values of the frame");
    free(x);
    /* speed perturbation: an utterance played at 0.9..1.1 times its speed has 1/1.1..1/0.9 of its
     * frames, the speed a function of (seed, slot) */
    specaug_config speed = {.speed_prob = 1, .speed = 0.1f};
    int fast_lens[3], changed = 0, in_range = 1;
    CHECK(feature_batch_load(&fb, &ds, items, 3, 5, 80, &speed, 77, fill) == 0 && fb.B == 3, "speed perturbed");
    memcpy(fast_lens, fb.mel_lens, sizeof fast_lens);
    for (int i = 0; i < 3; i++) {
        changed += fast_lens[i] != plain_lens[i];
        in_range &= fast_lens[i] >= plain_lens[i] / 1.1 - 2 && fast_lens[i] <= plain_lens[i] / 0.9 + 2;
    }
    CHECK(changed && in_range, "speed perturbation: %d of 3 lengths changed, within 1/1.1..1/0.9 (%d, %d, %d from "
          "%d, %d, %d)", changed, fast_lens[0], fast_lens[1], fast_lens[2], plain_lens[0], plain_lens[1], plain_lens[2]);
    CHECK(feature_batch_load(&fb, &ds, items, 3, 5, 80, &speed, 77, fill) == 0 &&
              !memcmp(fast_lens, fb.mel_lens, sizeof fast_lens),
          "speed perturbation is a function of (seed, slot)");
    /* level perturbation: an utterance played g dB quieter has every feature 2 ln(10^(g/20)) lower
     * where no bin nears the log floor (the frontend is linear up to the log), g within 0..40 dB
     * and drawn per (seed, slot) */
    specaug_config quieter = {.gain_prob = 1, .gain_db = 40};
    CHECK(feature_batch_load(&fb, &ds, items, 3, 5, 80, &quieter, 77, fill) == 0 && fb.B == 3, "played quieter");
    float *quiet1 = malloc((size_t)fb.B * fb.T_mel * 80 * sizeof(float));
    memcpy(quiet1, fb.mel, (size_t)fb.B * fb.T_mel * 80 * sizeof(float));
    double shifts[3] = {0, 0, 0}, worst_spread = 0;
    int judged = 1;
    for (int b = 0; b < 3; b++) {
        const float *q = quiet1 + (size_t)b * fb.T_mel * 80, *p = plain + (size_t)b * fb.T_mel * 80;
        double lo = INFINITY, hi = -INFINITY;
        int bins = 0;
        judged &= fb.mel_lens[b] == plain_lens[b];
        for (size_t k = 0; k < (size_t)fb.mel_lens[b] * 80; k++) {
            if (p[k] < logf(1e-10f) + 12.0f) continue; /* 40 dB is 9.2 below: still 2.8 above the floor */
            double d = (double)q[k] - p[k];
            lo = d < lo ? d : lo, hi = d > hi ? d : hi;
            bins++;
        }
        judged &= bins > 100;
        shifts[b] = (lo + hi) / 2;
        worst_spread = hi - lo > worst_spread ? hi - lo : worst_spread;
    }
    CHECK(judged && worst_spread < 1e-3 && shifts[0] != shifts[1] && shifts[1] != shifts[2],
          "played quieter: one shift per utterance (%g, %g, %g; spread %g)", shifts[0], shifts[1], shifts[2],
          worst_spread);
    int within = 1;
    for (int b = 0; b < 3; b++) within &= shifts[b] <= 0 && shifts[b] >= -40 * 0.2303 - 1e-3;
    CHECK(within, "played 0..40 dB quieter (%g, %g, %g in log power)", shifts[0], shifts[1], shifts[2]);
    CHECK(feature_batch_load(&fb, &ds, items, 3, 5, 80, &quieter, 77, fill) == 0 &&
              !memcmp(quiet1, fb.mel, (size_t)fb.B * fb.T_mel * 80 * sizeof(float)),
          "level perturbation is a function of (seed, slot)");
    free(quiet1);
    /* noise alone: the slots noise_in_slot names (about the share asked, a function of (seed,
     * slot)) have other features of the same lengths */
    specaug_config noisy = {.noise_prob = 1};
    CHECK(feature_batch_load(&fb, &ds, items, 3, 5, 80, &noisy, 77, fill) == 0 && fb.B == 3 &&
              !memcmp(fb.mel_lens, plain_lens, sizeof plain_lens),
          "noise alone keeps the utterances' lengths");
    int differ = 0;
    for (int b = 0; b < 3; b++) differ += replaced_by_noise(&fb, plain, b);
    CHECK(differ == 3, "noise alone: %d of 3 utterances' features changed", differ);
    specaug_config some_noise = {.noise_prob = 0.3f};
    int n_noise = 0, other_seed_differs = 0;
    for (int slot = 0; slot < 1000; slot++) {
        n_noise += noise_in_slot(&some_noise, 77, slot);
        other_seed_differs += noise_in_slot(&some_noise, 77, slot) != noise_in_slot(&some_noise, 78, slot);
    }
    CHECK(n_noise > 250 && n_noise < 350 && other_seed_differs > 100 && !noise_in_slot(&aug, 77, 0),
          "noise_in_slot: %d of 1000 slots at 0.3, %d other with another seed, none without --noise-prob", n_noise,
          other_seed_differs);
    /* at 0.5, with a seed that makes some of slots 5-7 noise and not all: the items replaced are
     * those noise_in_slot names for their slots */
    specaug_config half = {.noise_prob = 0.5f};
    uint64_t mixed = 0;
    for (uint64_t seed = 1; seed < 100 && !mixed; seed++) {
        int k = noise_in_slot(&half, seed, 5) + noise_in_slot(&half, seed, 6) + noise_in_slot(&half, seed, 7);
        if (k == 1 || k == 2) mixed = seed;
    }
    int as_named = mixed && feature_batch_load(&fb, &ds, items, 3, 5, 80, &half, mixed, fill) == 0 && fb.B == 3;
    for (int b = 0; as_named && b < 3; b++)
        as_named &= replaced_by_noise(&fb, plain, b) == noise_in_slot(&half, mixed, 5 + b);
    CHECK(as_named, "noise alone at 0.5 (seed %llu): the items replaced are the slots noise_in_slot names",
          (unsigned long long)mixed);
    /* the shortest utterance that makes one encoder frame, sped up below it, stays as it is */
    char *short_wav = str_printf("%s/short.wav", fixture_dir()), *kept_path = ds.items[0].audio;
    struct audio tiny = {0};
    const size_t one_frame = 640; /* 40 ms, the tail padding after them */
    CHECK(mslam_subsampled_frames(mslam_frontend_n_frames(one_frame)) == 1 &&
              mslam_subsampled_frames(mslam_frontend_n_frames(one_frame - 1)) == 0,
          "%zu samples are the fewest that make an encoder frame", one_frame);
    CHECK(audio_reserve(&tiny, one_frame) == 0, "short audio");
    for (size_t k = 0; k < one_frame; k++) tiny.samples[k] = 0.3f * sinf(0.05f * (float)k);
    tiny.n = one_frame;
    tiny.rate = 16000;
    int shorts[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    ds.items[0].audio = short_wav;
    CHECK(audio_write(short_wav, &tiny, AUDIO_WAV) == 0 &&
              feature_batch_load(&fb, &ds, shorts, 8, 0, 80, &speed, 77, fill) == 0 && fb.B == 8 && fb.n_failed == 0,
          "a short utterance sped up below one frame is kept (%d of 8, %d failed)", fb.B, fb.n_failed);
    ds.items[0].audio = kept_path;
    audio_free(&tiny);
    free(short_wav);
    unlink(ds.items[1].audio);
    CHECK(feature_batch_load(&fb, &ds, items, 3, 0, 80, NULL, 0, NULL) == 0 && fb.B == 2 && fb.n_failed == 1 &&
              fb.example[1] == 2,
          "an unreadable file is skipped, the batch goes on");
    free(plain);
    free(aug1);
    feature_batch_free(&fb);
    mslam_model_free(m);
    strlist_free(&small), strlist_free(&vocab), strlist_free(&langs);
    dataset_free(&ds);
}

/* Common Voice's files as a spreadsheet or Windows may leave them (a byte-order mark, CRLF, a
 * blank line), and durations no clip has: an infinite one in clip_durations.tsv is an error naming
 * the line, as in a manifest; a huge one is counted as too long, not turned into a sample count. */
static void test_manifest_edges(void) {
    const char *cv = fixture_subdir("cv-fr");
    char *tsv = str_printf("%s/train.tsv", cv), *durations = str_printf("%s/clip_durations.tsv", cv);
    static const char rows[] = "\xEF\xBB\xBF" "client_id\tpath\tsentence\tup_votes\tlocale\r\n"
                               "c1\ta.mp3\tBonjour \"toi\".\t2\tfr\r\n\r\nc2\tb.mp3\tSalut\t1\tfr\r\n";
    static const char good[] = "clip\tduration[ms]\r\na.mp3\t1500\r\nb.mp3\t2250\r\n";
    struct manifest m;
    CHECK(write_file_atomic(tsv, rows, strlen(rows)) == 0 && write_file_atomic(durations, good, strlen(good)) == 0 &&
              manifest_load(tsv, NULL, &m) == 0 && m.layout == LAYOUT_COMMON_VOICE && m.n == 2 &&
              !strcmp(m.records[0].text, "Bonjour \"toi\".") && !strcmp(m.records[1].lang, "fr") &&
              m.records[0].duration == 1.5 && m.records[1].duration == 2.25 && m.records[1].split == SPLIT_TRAIN,
          "Common Voice with a byte-order mark and CRLF: %s", mslam_last_error());
    manifest_free(&m);
    static const char infinite[] = "clip\tduration[ms]\na.mp3\t1500\nb.mp3\tinf\n";
    CHECK(write_file_atomic(durations, infinite, strlen(infinite)) == 0 && manifest_load(tsv, NULL, &m) != 0 &&
              strstr(mslam_last_error(), "clip_durations.tsv:3"),
          "an infinite clip duration is an error naming the line: %s", mslam_last_error());
    unlink(durations);
    /* Common Voice's validated.tsv has no split: --split all takes its rows, and the default's error says so */
    char *validated = str_printf("%s/validated.tsv", cv);
    dataset none = {0};
    CHECK(write_file_atomic(validated, rows, strlen(rows)) == 0 &&
              dataset_load_split(&none, validated, NULL, NULL, NULL, "train", NULL) != 0 &&
              strstr(mslam_last_error(), "(the manifest has no split in its file name (as train.tsv), so none of its 2 "
                                         "rows is in a split: --split all (--valid-split all for train --valid) takes "
                                         "them)") &&
              dataset_load_split(&none, validated, NULL, NULL, NULL, "all", NULL) == 0 && none.n == 2,
          "a Common Voice file without a split: %s", mslam_last_error());
    dataset_free(&none);
    free(validated);
    /* a duration of 1e300 s in a manifest: too long (--max-seconds), or kept without one */
    char *huge = str_printf("%s/huge.tsv", fixture_dir());
    char *text = str_printf("path\tlang\ttext\tduration\nde_train_000.flac\tde\tja\t1e300\n");
    mslam_model *model = mslam_model_new(&tiny_cfg, tiny_vocab, tiny_langs);
    dataset ds = {0};
    dataset_report rep;
    CHECK(model && write_file_atomic(huge, text, strlen(text)) == 0 &&
              dataset_load_split(&ds, huge, NULL, NULL, NULL, "all", NULL) == 0 && ds.n == 1 &&
              dataset_encode(&ds, model, NEED_LANG, 20, &rep) != 0 && rep.too_long == 1,
          "a duration of 1e300 s is too long: %s", mslam_last_error());
    dataset_free(&ds);
    CHECK(dataset_load_split(&ds, huge, NULL, NULL, NULL, "all", NULL) == 0 &&
              dataset_encode(&ds, model, NEED_LANG, 0, &rep) == 0 && rep.kept == 1,
          "and kept without --max-seconds: %s", mslam_last_error());
    dataset_free(&ds);
    mslam_model_free(model);
    free(tsv), free(durations), free(huge), free(text);
}

/* The data loader's warnings, one a line. */
static char data_warnings[16384];

static void keep_warnings(enum mslam_log_level level, const char *message, void *user_data) {
    (void)user_data;
    size_t at = strlen(data_warnings);
    if (level == MSLAM_LOG_WARN) snprintf(data_warnings + at, sizeof data_warnings - at, "%s\n", message);
}

static int count_of(const char *text, const char *part) {
    int n = 0;
    for (const char *at = strstr(text, part); at; at = strstr(at + 1, part)) n++;
    return n;
}

/* What the loader says of rows a model cannot use, or a manifest's languages and splits: once per
 * language code it does not know (with its rows), once per manifest for the labels with
 * characters outside the vocabulary and the rows in languages the model lacks (not a line a
 * row), and of a manifest without a split column, that it has none and which option takes its
 * rows. */
static void test_data_warnings(void) {
    char *langs = str_printf("%s/langs.tsv", fixture_dir()), *more = str_printf("%s/more.tsv", fixture_dir());
    char *no_split = str_printf("%s/no-split.tsv", fixture_dir());
    static const char langs_rows[] = "path\tlang\ttext\tduration\tsplit\n"
                                     "de_train_000.flac\tde\tab\t1.0\ttrain\n"
                                     "de_train_000.flac\tde\tabc\t1.0\ttrain\n"
                                     "de_train_000.flac\tde\txyz\t1.0\ttrain\n"
                                     "de_train_000.flac\tess\tab\t1.0\ttrain\n"
                                     "de_train_000.flac\tess\tab\t1.0\ttrain\n"
                                     "de_train_000.flac\tess\tba\t1.0\ttrain\n"
                                     "de_train_000.flac\tzz\tab\t1.0\ttrain\n"
                                     "de_train_000.flac\tes-MX\tba\t1.0\ttrain\n"
                                     "de_train_000.flac\tess\tab\t1.0\tdev\n";
    static const char more_rows[] = "path\tlang\ttext\tduration\tsplit\n"
                                    "de_train_000.flac\tde\tb\t1.0\ttrain\n"
                                    "de_train_000.flac\ten\tcab\t1.0\ttrain\n";
    static const char no_split_rows[] = "path\tlang\ttext\tsplt\n"
                                        "de_train_000.flac\tde\tab\ttrain\n"
                                        "de_train_000.flac\tde\tba\ttrain\n";
    mslam_log_callback saved;
    void *saved_data;
    mslam_log_get(&saved, &saved_data);
    mslam_log_set(keep_warnings, NULL);
    data_warnings[0] = '\0';
    dataset ds = {0};
    CHECK(write_file_atomic(langs, langs_rows, strlen(langs_rows)) == 0 &&
              write_file_atomic(more, more_rows, strlen(more_rows)) == 0 &&
              dataset_load_split(&ds, langs, NULL, NULL, NULL, "train", "--split") == 0 &&
              dataset_load_split(&ds, more, NULL, NULL, NULL, "train", "--split") == 0 && ds.n == 10,
          "two manifests load: %s", mslam_last_error());
    /* 'ess' once, with the rows of the split taken; 'zz'; not 'de', 'en', nor 'es-MX' (Spanish) */
    CHECK(count_of(data_warnings, "knows") == 2 && strstr(data_warnings, "langs.tsv: language 'ess' (3 rows) is not one") &&
              strstr(data_warnings, "langs.tsv: language 'zz' (1 row) is not one") &&
              strstr(data_warnings, "corpus --list-langs"),
          "a warning per language code mslam-trainer does not know:\n%s", data_warnings);
    data_warnings[0] = '\0';
    mslam_model *model = mslam_model_new(&tiny_cfg, tiny_vocab, tiny_langs); /* a b; de en */
    dataset_report rep;
    ds.role = "validation data"; /* (train's --valid may read the manifest of --data) */
    CHECK(model && dataset_encode(&ds, model, NEED_TEXT | NEED_LANG, 0, &rep) == 0 && rep.unknown_chars == 3 &&
              rep.kept == 10,
          "the transcripts with characters outside the vocabulary are dropped, their rows kept for LID (%d labels, %d kept): %s", rep.unknown_chars,
          rep.kept, mslam_last_error());
    CHECK(count_of(data_warnings, "\n") == 3 && count_of(data_warnings, "validation data, ") == 3 &&
              strstr(data_warnings, "langs.tsv: 2 rows with characters outside the model's vocabulary ('c' 'x')") &&
              strstr(data_warnings, "more.tsv: 1 row with characters outside the model's vocabulary ('c')") &&
              strstr(data_warnings, "langs.tsv: 5 rows in languages the model does not have (ess zz es-MX)"),
          "one summary per manifest, not a warning per row:\n%s", data_warnings);
    dataset_free(&ds);
    /* a header without a split column (misspelt): said so, the option that takes its rows named */
    CHECK(write_file_atomic(no_split, no_split_rows, strlen(no_split_rows)) == 0 &&
              dataset_load_split(&ds, no_split, NULL, NULL, NULL, "dev", "--valid-split") != 0 &&
              strstr(mslam_last_error(), "no-split.tsv: no speech examples in split 'dev' (the manifest has no split "
                                         "column, so none of its 2 rows is in a split: --valid-split all takes them; its "
                                         "header has columns not read: splt)"),
          "a manifest without a split column: %s", mslam_last_error());
    CHECK(dataset_load_split(&ds, no_split, NULL, NULL, NULL, "all", "--valid-split") == 0 && ds.n == 2,
          "all takes its rows: %s", mslam_last_error());
    dataset_free(&ds);
    mslam_log_set(saved, saved_data);
    mslam_model_free(model);
    free(langs), free(more), free(no_split);
}

/* augment_text_noise: none at p = 0; at p the share of characters edited is p, with length
 * kept on average (drops and insertions balance), every id one of the sequence's, the same
 * draws giving the same result; a sequence of one character never empties. */
static void test_text_noise(void) {
    enum { N = 20000 };
    int *ids = malloc(N * sizeof(int)), *out = malloc(2 * N * sizeof(int)), *again = malloc(2 * N * sizeof(int));
    for (int i = 0; i < N; i++) ids[i] = 4 + (i * 7) % 13;
    mslam_rng rng, same;
    mslam_rng_seed(&rng, 5);
    CHECK(augment_text_noise(ids, N, out, 0, &rng) == N && !memcmp(out, ids, N * sizeof(int)), "p = 0 keeps the text");
    mslam_rng_seed(&rng, 6);
    mslam_rng_seed(&same, 6);
    int m = augment_text_noise(ids, N, out, 0.1, &rng);
    CHECK(augment_text_noise(ids, N, again, 0.1, &same) == m && !memcmp(out, again, (size_t)m * sizeof(int)),
          "the same draws, the same noise");
    int in_set = 0, kept_prefix = 0;
    for (int i = 0; i < m; i++) in_set += out[i] >= 4 && out[i] < 17;
    while (kept_prefix < m && kept_prefix < N && out[kept_prefix] == ids[kept_prefix]) kept_prefix++;
    CHECK(in_set == m, "%d of %d ids outside the sequence's", m - in_set, m);
    CHECK(abs(m - N) < N / 50 && kept_prefix < 100, "p = 0.1: length %d of %d, first edit at %d", m, N, kept_prefix);
    mslam_rng_seed(&rng, 7);
    m = augment_text_noise(ids, N, out, 1, &rng);
    CHECK(m > N / 2 && m < 3 * N / 2 && m != N, "p = 1: every character edited, length %d", m);
    int one = 9, lone = 0;
    for (int k = 0; k < 50; k++) {
        int n1 = augment_text_noise(&one, 1, out, 1, &rng);
        lone += n1 >= 1 && n1 <= 2 && out[0] == 9;
    }
    CHECK(lone == 50, "one character stays one or two of itself (%d of 50)", lone);
    free(ids), free(out), free(again);
}

/* augment_noise_alone: the utterance's length kept, digital silence for its first 0-50 %, then
 * noise at -65 to -20 dBFS (its RMS), every draw another */
static void test_noise_alone(void) {
    enum { N = 16000, DRAWS = 60 };
    struct audio a = {0};
    CHECK(audio_reserve(&a, N) == 0, "audio");
    double quietest = 0, loudest = -200;
    int all_ok = 1, onsets_differ = 0;
    size_t first_onset = 0;
    for (int k = 0; k < DRAWS && a.samples; k++) {
        for (size_t i = 0; i < N; i++) a.samples[i] = 0.5f * sinf(0.1f * (float)i);
        a.n = N, a.rate = 16000;
        mslam_rng rng;
        mslam_rng_seed(&rng, 100 + (uint64_t)k);
        CHECK(augment_noise_alone(&a, N, &rng) == 0, "noise alone: %s", mslam_last_error());
        size_t onset = 0;
        while (onset < a.n && a.samples[onset] == 0.0f) onset++;
        double power = 0;
        for (size_t i = onset; i < a.n; i++) power += (double)a.samples[i] * a.samples[i];
        double db = 10 * log10(power / (double)(a.n - onset) + 1e-30);
        all_ok &= a.n == N && onset <= N / 2 + 1 && db >= -65.01 && db <= -19.99;
        quietest = db < quietest ? db : quietest, loudest = db > loudest ? db : loudest;
        if (k == 0) first_onset = onset;
        onsets_differ += onset != first_onset;
    }
    CHECK(all_ok && quietest < -50 && loudest > -35 && onsets_differ > DRAWS / 2,
          "noise alone: %d samples, silence for at most half, at %.1f to %.1f dBFS, onsets drawn", N, quietest,
          loudest);
    /* of which the first quarter is kept: the noise begins within its first half */
    int within_kept = 1;
    for (int k = 0; k < DRAWS && a.samples; k++) {
        mslam_rng rng;
        mslam_rng_seed(&rng, 300 + (uint64_t)k);
        a.n = N;
        CHECK(augment_noise_alone(&a, N / 4, &rng) == 0, "noise alone: %s", mslam_last_error());
        size_t onset = 0;
        while (onset < a.n && a.samples[onset] == 0.0f) onset++;
        within_kept &= onset <= N / 8 + 1;
    }
    CHECK(within_kept, "noise alone of which a quarter is kept: the onset within its first half");
    audio_free(&a);
}

/* options_record_diff(was, now, defaults, NULL) must be expected (NULL: no difference); what
 * names the case. */
static void check_record_diff(const char *was, const char *now, const char *defaults, const char *expected,
                              const char *what) {
    char *diff = options_record_diff(was, now, defaults, NULL);
    CHECK(expected ? diff && !strcmp(diff, expected) : !diff, "%s: \"%s\"", what, diff ? diff : "(none)");
    g_free(diff);
}

/* options_record and options_record_diff: what --resume compares */
static void test_options_record(void) {
    gint steps = 8;
    gdouble lr = 0.001;
    gboolean no_specaug = TRUE;
    gchar *task = g_strdup("st"), *out = g_strdup("run1"), *path = g_strdup("a\nb=c");
    GOptionEntry entries[] = {{"steps", 0, 0, G_OPTION_ARG_INT, &steps, "", "N"},
                              {"lr", 0, 0, G_OPTION_ARG_DOUBLE, &lr, "", "X"},
                              {"no-specaug", 0, 0, G_OPTION_ARG_NONE, &no_specaug, "", NULL},
                              {"task", 0, 0, G_OPTION_ARG_STRING, &task, "", "T"},
                              {"out", 0, 0, G_OPTION_ARG_STRING, &out, "", "DIR"},
                              {"data", 0, 0, G_OPTION_ARG_STRING, &path, "", "F"},
                              G_OPTION_ENTRY_NULL};
    const char *const skip[] = {"out", NULL};
    char *was = options_record(entries, skip);
    CHECK(!strcmp(was, "steps=8\nlr=0.001\nno-specaug=true\ntask=st\ndata=a\\nb=c\n"), "record: \"%s\"", was);
    g_free(out);
    out = g_strdup("run2");
    char *same = options_record(entries, skip);
    check_record_diff(was, same, NULL, NULL, "an option left out of the record does not count");
    steps = 10000;
    lr = 0.002;
    char *now = options_record(entries, skip);
    check_record_diff(was, now, NULL, "steps: 8 -> 10000; lr: 0.001 -> 0.002", "diff");
    check_record_diff("steps=8\nold=1\n", "steps=8\nnew=2\n", NULL, "old: 1 -> (none); new: (none) -> 2",
                      "diff of other names");
    /* a record written before an option existed: the run had the option's default */
    const char *defaults = "steps=10\nnew=2\nnewer=3\n";
    check_record_diff("steps=8\n", "steps=8\nnew=2\n", defaults, NULL,
                      "an option the earlier record lacks, at its default, does not count");
    check_record_diff("steps=8\n", "steps=8\nnew=5\nnewer=3\nnewest=1\n", defaults,
                      "new: 2 -> 5; newest: (none) -> 1", "diff against the defaults");
    g_free(was), g_free(same), g_free(now);
    g_free(task), g_free(out), g_free(path);

    /* a double in the fewest digits that read back as it; a record's older 17 digits are the same number */
    const double values[] = {0.1, 3e-4, 1.0 / 3, 2e-308, 123456.5, -0.0};
    const char *written[] = {"lr=0.1\n", "lr=0.0003\n", "lr=0.3333333333333333\n", "lr=2e-308\n", "lr=123456.5\n",
                             "lr=-0\n"};
    GOptionEntry lr_entry[] = {{"lr", 0, 0, G_OPTION_ARG_DOUBLE, &lr, "", "X"}, G_OPTION_ENTRY_NULL};
    for (size_t i = 0; i < sizeof values / sizeof *values; i++) {
        lr = values[i];
        char *record = options_record(lr_entry, NULL);
        CHECK(!strcmp(record, written[i]) && g_ascii_strtod(record + 3, NULL) == values[i], "%.17g recorded as \"%s\"",
              values[i], record);
        g_free(record);
    }
    check_record_diff("lr=0.10000000000000001\n", "lr=0.1\n", NULL, NULL, "one number in two spellings");
    check_record_diff("name=0x10\n", "name=16\n", NULL, "name: 0x10 -> 16", "only decimal numbers compare as numbers");
    check_record_diff("lr=0.10000000000000001\n", "lr=0.2\n", NULL, "lr: 0.10000000000000001 -> 0.2",
                      "diff of numbers");

    /* a list: items joined with ';' as in a key file, a ';' inside an item escaped */
    gchar **list = NULL;
    GOptionEntry list_entry[] = {{"data", 0, 0, G_OPTION_ARG_STRING_ARRAY, &list, "", "F"}, G_OPTION_ENTRY_NULL};
    list = g_strsplit("a;b", "|", -1);
    char *one = options_record(list_entry, NULL);
    g_strfreev(list);
    list = g_strsplit("a|b", "|", -1);
    char *two = options_record(list_entry, NULL);
    g_strfreev(list);
    CHECK(!strcmp(one, "data=a\\;b;\n") && !strcmp(two, "data=a;b;\n"), "list records: \"%s\", \"%s\"", one, two);
    g_free(one), g_free(two);
    /* an option that became a list (--text-data): its one value as a string is the same */
    check_record_diff("text-data=x.tsv\n", "text-data=x.tsv;\n", NULL, NULL, "a string and its one-item list are one value");
    check_record_diff("text-data=x.tsv\n", "text-data=x.tsv;y.tsv;\n", NULL, "text-data: x.tsv -> x.tsv;y.tsv",
                      "a second item is a difference (shown without the list's last ';')");
    check_record_diff("data=a;\nsteps=1\n", "data=b\\;;\nsteps=2\n", NULL, "data: a -> b\\;; steps: 1 -> 2",
                      "a list's last ';' left out, an escaped one kept");
    /* --data-weight: lists of numbers in other spellings are one; an empty list reads as none */
    check_record_diff("data-weight=1;0.25;\n", "data-weight=1.0;.25;\n", NULL, NULL, "lists of one numbers");
    check_record_diff("data-weight=1;0.25;\n", "data-weight=1;0.5;\n", NULL, "data-weight: 1;0.25 -> 1;0.5",
                      "lists of other numbers");
    check_record_diff("data-weight=\n", "data-weight=1;\n", NULL, "data-weight: (none) -> 1", "an empty list");
}

/* A run's folder given where a file is read: the checkpoint named as its latest is the one of
 * the highest step, as --resume takes it (checkpoint_latest), not the last name in sorted order:
 * a copy such as ckpt-old.safetensors, or a step of nine digits, sorts after the newest. */
static void test_run_folder(void) {
    const char *dir = fixture_subdir("run-folder");
    static const char *const names[] = {"model.safetensors", "ckpt-00000003.safetensors", "ckpt-100000000.safetensors",
                                        "ckpt-99999999.safetensors", "ckpt-old.safetensors"};
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        char *path = path_join(dir, names[i]);
        CHECK(path && write_file_atomic(path, "x", 1) == 0, "cannot write %s", path ? path : names[i]);
        free(path);
    }
    char *newest = path_join(dir, "ckpt-100000000.safetensors");
    CHECK(refuse_run_folder(dir, "", 0) != 0 && strstr(mslam_last_error(), newest) &&
              !strstr(mslam_last_error(), "ckpt-old") && !strstr(mslam_last_error(), "ckpt-99999999"),
          "a run's folder names its newest checkpoint, %s: %s", newest, mslam_last_error());
    free(newest);
}

/* --data-weight's epochs: weights of 1 plan as none do; 2 takes each row twice an epoch, in other
 * batches; 0.25 of 8 rows 2 an epoch, every row once in four epochs; 0.4 of 5 rows 2 an epoch,
 * never one twice, though every third epoch's straddle two shuffles, every row twice in five
 * epochs; 0 none; all 0 is refused. */
static void test_weighted_epochs(void) {
    dataset ds = {0};
    const char *names[] = {"a.tsv", "b.tsv", "c.tsv"};
    const int rows[] = {6, 8, 5};
    for (int f = 0; f < 3; f++) {
        strlist_push(&ds.files, names[f]);
        for (int r = 0; r < rows[f]; r++) {
            char audio[32];
            snprintf(audio, sizeof audio, "%s-%d.wav", names[f], r);
            dataset_add(&ds, audio, "x", "", "en", "", 1 + 0.1 * r);
        }
    }
    const double ones[] = {1, 1, 1}, weights[] = {2, 0.25, 0.4};
    epoch_plan plain, one;
    CHECK(epoch_plan_make(&plain, &ds, 9, 3, 4, NULL) == 0 && epoch_plan_make(&one, &ds, 9, 3, 4, ones) == 0 &&
              plain.n == 19 && one.n == 19 && !memcmp(plain.order, one.order, 19 * sizeof(int)),
          "weights of 1 plan the epoch as no weights");
    epoch_plan_free(&plain), epoch_plan_free(&one);
    CHECK(epoch_plan_size(&ds, weights) == 12 + 2 + 2, "epoch size %ld", epoch_plan_size(&ds, weights));
    int b_in_four[19] = {0}, c_in_five[19] = {0};
    for (long e = 0; e < 5; e++) {
        epoch_plan p, again;
        CHECK(epoch_plan_make(&p, &ds, 9, e, 4, weights) == 0 && epoch_plan_make(&again, &ds, 9, e, 4, weights) == 0 &&
                  p.n == 16 && p.n_batches == 4 && !memcmp(p.order, again.order, 16 * sizeof(int)),
              "epoch %ld: 16 examples in 4 batches, the same each time", e);
        int taken[19] = {0}, twice = 1, in_b = 0, in_c = 0, once = 1;
        for (int i = 0; i < p.n; i++) taken[p.order[i]]++;
        for (int i = 0; i < 6; i++) twice &= taken[i] == 2;
        for (int i = 6; i < 19; i++) once &= taken[i] <= 1;
        for (int i = 6; i < 14; i++) in_b += taken[i], b_in_four[i] += e < 4 ? taken[i] : 0;
        for (int i = 14; i < 19; i++) in_c += taken[i], c_in_five[i] += taken[i];
        CHECK(twice && once && in_b == 2 && in_c == 2,
              "epoch %ld: each row of a twice (%d), 2 rows of b (%d), 2 of c (%d), none of b or c twice (%d)", e,
              twice, in_b, in_c, once);
        int repeats = 0;
        for (int b = 0; b < p.n_batches; b++) {
            int first, count;
            epoch_plan_batch(&p, b, &first, &count);
            for (int x = first; x < first + count; x++)
                for (int y = x + 1; y < first + count; y++) repeats += p.order[x] == p.order[y];
        }
        CHECK(repeats == 0, "epoch %ld: %d rows twice in one batch", e, repeats);
        epoch_plan_free(&p), epoch_plan_free(&again);
    }
    int b_once = 1, c_twice = 1;
    for (int i = 6; i < 14; i++) b_once &= b_in_four[i] == 1;
    for (int i = 14; i < 19; i++) c_twice &= c_in_five[i] == 2;
    CHECK(b_once && c_twice, "every row of b once in four epochs (%d), of c twice in five (%d)", b_once, c_twice);
    /* the epochs that straddle two shuffles of c, under 50 seeds: without the straddle's rows moved
     * to the end of the next shuffle, one in five would take a row twice */
    int straddles_twice = 0;
    for (uint64_t seed = 0; seed < 50; seed++)
        for (long e = 2; e < 10; e += 5) { /* places 4-5 and 14-15: cycles 0-1 and 2-3 */
            epoch_plan p;
            int taken[19] = {0};
            if (epoch_plan_make(&p, &ds, seed, e, 4, weights) != 0) continue;
            for (int i = 0; i < p.n; i++) straddles_twice += p.order[i] >= 14 && ++taken[p.order[i]] > 1;
            epoch_plan_free(&p);
        }
    CHECK(straddles_twice == 0, "%d epochs straddling two shuffles took a row of c twice", straddles_twice);
    const double none[] = {0, 0, 0};
    epoch_plan p;
    CHECK(epoch_plan_make(&p, &ds, 9, 0, 4, none) != 0 && strstr(mslam_last_error(), "no example"),
          "all weights 0: %s", mslam_last_error());
    dataset_free(&ds);
}

int main(void) {
    const char *manifest = fixture_write(8, FIXTURE_BAD_ROWS);
    CHECK(manifest != NULL, "fixture");
    if (!manifest) return test_result("test_train");
    mslam_set_threads(2);
    test_schedule();
    test_adamw();
    test_options_record();
    test_checkpoint();
    test_run_folder();
    test_init();
    test_data(manifest);
    test_weighted_epochs();
    test_manifest_edges();
    test_data_warnings();
    test_text_noise();
    test_noise_alone();
    fixture_remove();
    return test_result("test_train");
}
