#include "checkpoint.h"

#include "common.h"
#include "util.h"

#include <errno.h>
#include <glib.h>
#include <limits.h>
#include <math.h>
#include <json-c/json.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define TRAINING_KEY "training"
#define OPTIONS_KEY "training_options"

static char *position_json(const train_position *p, long adam_t) {
    struct json_object *o = json_object_new_object();
    if (!o) return NULL;
    json_object_object_add(o, "step", json_object_new_int64(p->step));
    json_object_object_add(o, "epoch", json_object_new_int64(p->epoch));
    json_object_object_add(o, "batch", json_object_new_int64(p->batch));
    json_object_object_add(o, "seed", json_object_new_uint64(p->seed));
    json_object_object_add(o, "adam_t", json_object_new_int64(adam_t));
    json_object_object_add(o, "world_size", json_object_new_int(p->world_size));
    json_object_object_add(o, "accumulate", json_object_new_int(p->accumulate));
    json_object_object_add(o, "global_batch", json_object_new_int(p->global_batch));
    json_object_object_add(o, "audio_seconds", json_object_new_double(p->audio_seconds));
    json_object_object_add(o, "skipped_steps", json_object_new_int64(p->skipped_steps));
    json_object_object_add(o, "elapsed_s", json_object_new_double(p->elapsed_s));
    if (p->best_metric[0]) {
        json_object_object_add(o, "best_metric", json_object_new_string(p->best_metric));
        json_object_object_add(o, "stale_validations", json_object_new_int(p->stale_validations));
    }
    if (p->validation_pending) json_object_object_add(o, "validation_pending", json_object_new_boolean(1));
    const struct {
        const char *rows, *hash, *unordered;
        const train_rows *r;
    } lists[] = {{"data_rows", "data_hash", "data_unordered", &p->data},
                 {"text_rows", "text_hash", "text_unordered", &p->text}};
    for (size_t i = 0; i < sizeof lists / sizeof *lists; i++)
        if (lists[i].r->rows > 0) {
            json_object_object_add(o, lists[i].rows, json_object_new_int64(lists[i].r->rows));
            json_object_object_add(o, lists[i].hash, json_object_new_uint64(lists[i].r->hash));
            json_object_object_add(o, lists[i].unordered, json_object_new_uint64(lists[i].r->unordered));
        }
    /* JSON has no NaN or infinity: an interval with one starts afresh on resume (as before) */
    int log_finite = 1;
    for (int i = 0; i < CHECKPOINT_LOG_SCORES; i++) log_finite &= isfinite(p->log_sums[i]) != 0;
    if (p->log_steps > 0 && log_finite) {
        struct json_object *sums = json_object_new_array();
        for (int i = 0; i < CHECKPOINT_LOG_SCORES; i++)
            json_object_array_add(sums, json_object_new_double(p->log_sums[i]));
        json_object_object_add(o, "log_steps", json_object_new_int(p->log_steps));
        json_object_object_add(o, "log_sums", sums);
    }
    if (p->best_step > 0) { /* JSON has no NaN for "none yet" */
        json_object_object_add(o, "best_step", json_object_new_int64(p->best_step));
        json_object_object_add(o, "best_score", json_object_new_double(p->best_score));
    }
    const char *text = json_object_to_json_string_ext(o, JSON_C_TO_STRING_PLAIN);
    char *copy = text ? str_dup(text) : NULL;
    json_object_put(o);
    return copy;
}

int checkpoint_save(const char *path, const mslam_model *model, const adamw *opt, const train_position *pos,
                    const char *options) {
    char key[] = TRAINING_KEY, options_key[] = OPTIONS_KEY;
    char *json = position_json(pos, opt ? opt->t : 0);
    if (!json) return mslam_error("cannot write %s: out of memory", path);
    st_meta meta[2] = {{key, json}, {options_key, (char *)options}};
    st_write_tensor extra[2];
    int n_extra = 0;
    if (opt) {
        extra[0] = (st_write_tensor){.name = CHECKPOINT_OPTIMIZER_PREFIX "m", .dtype = ST_F32, .ndim = 1,
                                     .shape = {(int64_t)opt->n}, .data = opt->m};
        extra[1] = (st_write_tensor){.name = CHECKPOINT_OPTIMIZER_PREFIX "v", .dtype = ST_F32, .ndim = 1,
                                     .shape = {(int64_t)opt->n}, .data = opt->v};
        n_extra = 2;
    }
    int rc = mslam_model_save_with(model, path, extra, n_extra, meta, options ? 2 : 1);
    free(json);
    return rc;
}

static int get_int64(struct json_object *o, const char *name, long *out, const char *path) {
    struct json_object *v;
    if (!json_object_object_get_ex(o, name, &v) || !json_object_is_type(v, json_type_int))
        return mslam_error("%s: training position has no integer '%s'", path, name);
    *out = (long)json_object_get_int64(v);
    return 0;
}

static int get_double(struct json_object *o, const char *name, double *out, const char *path) {
    struct json_object *v;
    if (!json_object_object_get_ex(o, name, &v) ||
        !(json_object_is_type(v, json_type_double) || json_object_is_type(v, json_type_int)))
        return mslam_error("%s: training position has no number '%s'", path, name);
    *out = json_object_get_double(v);
    return 0;
}

/* The rows a position counts in, when recorded (name_rows, name_hash, name_unordered); r stays
 * zero otherwise. */
static int get_rows(struct json_object *o, const char *name, train_rows *r, const char *path) {
    char rows[32], hash[32], unordered[32];
    snprintf(rows, sizeof rows, "%s_rows", name);
    snprintf(hash, sizeof hash, "%s_hash", name);
    snprintf(unordered, sizeof unordered, "%s_unordered", name);
    struct json_object *h, *u;
    if (!json_object_object_get_ex(o, rows, NULL)) return 0;
    if (get_int64(o, rows, &r->rows, path)) return -1;
    if (r->rows < 1 || !json_object_object_get_ex(o, hash, &h) || !json_object_is_type(h, json_type_int) ||
        !json_object_object_get_ex(o, unordered, &u) || !json_object_is_type(u, json_type_int))
        return mslam_error("%s: training position has a bad '%s', '%s' or '%s'", path, rows, hash, unordered);
    r->hash = json_object_get_uint64(h);
    r->unordered = json_object_get_uint64(u);
    return 0;
}

static int read_position(const st_file *f, train_position *pos, long *adam_t) {
    const char *text = st_meta_get(f, TRAINING_KEY), *why;
    struct json_object *o = st_json_parse(text, strlen(text), &why);
    if (!o || !json_object_is_type(o, json_type_object)) {
        json_object_put(o);
        return mslam_error("%s: __metadata__ \"%s\" is not a JSON object", f->path, TRAINING_KEY);
    }
    *pos = (train_position){0};
    long world = 0, global_batch = 0, accumulate = 1, stale = 0;
    struct json_object *seed, *present;
    int rc = get_int64(o, "step", &pos->step, f->path) || get_int64(o, "epoch", &pos->epoch, f->path) ||
             get_int64(o, "batch", &pos->batch, f->path) || get_int64(o, "adam_t", adam_t, f->path) ||
             get_int64(o, "world_size", &world, f->path) ||
             get_int64(o, "global_batch", &global_batch, f->path) ||
             get_double(o, "audio_seconds", &pos->audio_seconds, f->path) ||
             get_int64(o, "skipped_steps", &pos->skipped_steps, f->path) ||
             get_double(o, "elapsed_s", &pos->elapsed_s, f->path);
    /* checkpoints before --accumulate lack it: one micro-batch a step */
    if (!rc && json_object_object_get_ex(o, "accumulate", &present))
        rc = get_int64(o, "accumulate", &accumulate, f->path);
    /* the --best-metric bookkeeping from the first validation on, a best score once there is one */
    if (!rc && json_object_object_get_ex(o, "best_metric", &present)) {
        const char *name = json_object_get_string(present);
        if (!json_object_is_type(present, json_type_string) || strlen(name) >= sizeof pos->best_metric)
            rc = mslam_error("%s: training position has a bad 'best_metric'", f->path);
        else
            strcpy(pos->best_metric, name);
        if (!rc) rc = get_int64(o, "stale_validations", &stale, f->path);
    }
    if (!rc && json_object_object_get_ex(o, "validation_pending", &present))
        pos->validation_pending = json_object_get_boolean(present);
    if (!rc && json_object_object_get_ex(o, "best_step", &present))
        rc = get_int64(o, "best_step", &pos->best_step, f->path) ||
             get_double(o, "best_score", &pos->best_score, f->path);
    /* checkpoints before the rows were recorded lack them */
    if (!rc) rc = get_rows(o, "data", &pos->data, f->path) || get_rows(o, "text", &pos->text, f->path);
    /* and those before the log interval was kept, or written at its end, lack it */
    long log_steps = 0;
    if (!rc && json_object_object_get_ex(o, "log_steps", &present)) {
        struct json_object *sums = NULL;
        rc = get_int64(o, "log_steps", &log_steps, f->path);
        if (!rc && (log_steps < 0 || log_steps > pos->step || !json_object_object_get_ex(o, "log_sums", &sums) ||
                    !json_object_is_type(sums, json_type_array) ||
                    json_object_array_length(sums) != CHECKPOINT_LOG_SCORES))
            rc = mslam_error("%s: training position has a bad 'log_steps' or 'log_sums'", f->path);
        for (int i = 0; !rc && i < CHECKPOINT_LOG_SCORES; i++) {
            struct json_object *v = json_object_array_get_idx(sums, (size_t)i);
            if (!json_object_is_type(v, json_type_double) && !json_object_is_type(v, json_type_int))
                rc = mslam_error("%s: training position has a 'log_sums' that is not numbers", f->path);
            else
                pos->log_sums[i] = json_object_get_double(v);
        }
        pos->log_steps = (int)log_steps;
    }
    if (!rc && !json_object_object_get_ex(o, "seed", &seed))
        rc = mslam_error("%s: training position has no 'seed'", f->path);
    if (!rc) {
        pos->seed = json_object_get_uint64(seed);
        pos->world_size = (int)world;
        pos->accumulate = (int)accumulate;
        pos->global_batch = (int)global_batch;
        pos->stale_validations = (int)stale;
        /* bounded so that every product of them below fits an int */
        if (world < 1 || world > CHECKPOINT_MAX_SPLIT || accumulate < 1 || accumulate > CHECKPOINT_MAX_SPLIT ||
            global_batch < world * accumulate || global_batch > INT_MAX)
            rc = mslam_error("%s: training position has a batch of %ld processes x %ld micro-batches, %ld examples",
                             f->path, world, accumulate, global_batch);
        else if (pos->step < 0 || pos->epoch < 0 || pos->batch < 0 || *adam_t < 0 || *adam_t > pos->step ||
                 pos->best_step < 0 || pos->best_step > pos->step || stale < 0)
            rc = mslam_error("%s: training position has negative or inconsistent counters", f->path);
    }
    json_object_put(o);
    return rc ? -1 : 0;
}

static int read_moment(const st_file *f, const char *name, float *out, size_t n) {
    const st_tensor *t = st_find(f, name);
    if (!t) return mslam_error("%s: checkpoint has no tensor '%s'", f->path, name);
    if (t->ndim != 1 || t->numel != n)
        return mslam_error("%s: tensor '%s' has %zu values, the model has %zu parameters", f->path, name,
                           t->numel, n);
    return st_read_f32(f, t, out);
}

int checkpoint_read(const st_file *f, mslam_model **model, train_position *pos, int *has_state) {
    *model = NULL;
    mslam_model *m = mslam_model_from_st(f, CHECKPOINT_OPTIMIZER_PREFIX, mslam_model_default_params());
    int state = m && st_meta_get(f, TRAINING_KEY) != NULL;
    train_position p = {0};
    long adam_t;
    if (!m || (state && read_position(f, &p, &adam_t))) {
        mslam_model_free(m);
        return -1;
    }
    *model = m;
    if (pos) *pos = p;
    if (has_state) *has_state = state;
    return 0;
}

int checkpoint_load(const char *path, mslam_model **model, train_position *pos, int *has_state) {
    st_file f;
    *model = NULL;
    if (st_open(&f, path)) return -1;
    int rc = checkpoint_read(&f, model, pos, has_state);
    st_close(&f);
    return rc;
}

const char *checkpoint_options_of(const st_file *f) { return st_meta_get(f, OPTIONS_KEY); }

char *checkpoint_options(const char *path) {
    st_file f;
    if (st_open(&f, path)) return NULL;
    const char *options = checkpoint_options_of(&f);
    char *copy = options ? str_dup(options) : NULL;
    st_close(&f);
    return copy;
}

int checkpoint_load_optimizer(const char *path, adamw *opt) {
    st_file f;
    if (st_open(&f, path)) return -1;
    train_position p;
    long adam_t = 0;
    int rc = 0;
    if (!st_meta_get(&f, TRAINING_KEY)) rc = mslam_error("%s is a model, not a checkpoint: no optimizer state", path);
    if (!rc) rc = read_position(&f, &p, &adam_t);
    if (!rc) rc = read_moment(&f, CHECKPOINT_OPTIMIZER_PREFIX "m", opt->m, opt->n) ||
                  read_moment(&f, CHECKPOINT_OPTIMIZER_PREFIX "v", opt->v, opt->n) ? -1 : 0;
    if (!rc) opt->t = adam_t;
    st_close(&f);
    return rc;
}

char *checkpoint_path(const char *dir, long step) { return str_printf("%s/ckpt-%08ld.safetensors", dir, step); }

long checkpoint_step(const char *path) {
    const char *name = strrchr(path, '/');
    name = name ? name + 1 : path;
    long step;
    int end = 0;
    if (sscanf(name, "ckpt-%ld.safetensors%n", &step, &end) == 1 && name[end] == '\0' && step >= 0) return step;
    return -1;
}

static int cmp_step(const void *a, const void *b) {
    long x = checkpoint_step(*(char *const *)a), y = checkpoint_step(*(char *const *)b);
    return (x > y) - (x < y);
}

/* The checkpoints among a folder's files, oldest first. */
static int checkpoints_among(const struct strlist *files, struct strlist *out) {
    memset(out, 0, sizeof *out);
    int rc = 0;
    for (size_t i = 0; i < files->n && !rc; i++)
        if (checkpoint_step(files->items[i]) >= 0) rc = strlist_push(out, files->items[i]);
    if (!rc && out->n) qsort(out->items, out->n, sizeof *out->items, cmp_step); /* items is NULL when n is 0 */
    return rc;
}

/* Checkpoints of dir, oldest first. */
static int list_checkpoints(const char *dir, struct strlist *out) {
    struct strlist all = {0};
    memset(out, 0, sizeof *out);
    int rc = list_files(dir, &all) || checkpoints_among(&all, out);
    strlist_free(&all);
    return rc ? -1 : 0;
}

char *checkpoint_before(const char *dir, long step) {
    struct strlist l;
    if (list_checkpoints(dir, &l)) return NULL;
    char *older = NULL;
    for (size_t i = l.n; i-- > 0 && !older;)
        if (checkpoint_step(l.items[i]) < step) older = str_dup(l.items[i]);
    strlist_free(&l);
    return older;
}

char *checkpoint_latest(const char *dir) { return checkpoint_before(dir, LONG_MAX); }

int checkpoint_prune(const char *dir, int keep) {
    struct strlist l = {0}, all = {0};
    if (list_files(dir, &all) || checkpoints_among(&all, &l)) {
        strlist_free(&all);
        return -1;
    }
    for (size_t i = 0; keep > 0 && i + (size_t)keep < l.n; i++)
        if (unlink(l.items[i]) != 0)
            mslam_log(MSLAM_LOG_WARN, "cannot delete old checkpoint %s: %s", l.items[i], strerror(errno));
    strlist_free(&l);
    /* a save killed before its rename (SIGKILL, a second Ctrl-C) leaves its temporary file, as
     * large as a checkpoint: only rank 0 writes, and its save has just renamed its own */
    for (size_t i = 0; i < all.n; i++) {
        const char *name = strrchr(all.items[i], '/');
        name = name ? name + 1 : all.items[i];
        if (!strncmp(name, "ckpt-", 5) && strstr(name, ".safetensors.tmp-") && unlink(all.items[i]) != 0)
            mslam_log(MSLAM_LOG_WARN, "cannot delete %s, left by an interrupted save: %s", all.items[i],
                      strerror(errno));
    }
    strlist_free(&all);
    return 0;
}

int refuse_run_folder(const char *path, const char *option, int checkpoint_only) {
    if (!is_folder(path)) return 0;
    struct strlist files = {0};
    if (list_files(path, &files)) return -1;
    const char *model = NULL, *best = NULL;
    for (size_t i = 0; i < files.n; i++) {
        const char *name = strrchr(files.items[i], '/') ? strrchr(files.items[i], '/') + 1 : files.items[i];
        if (!strcmp(name, "model.safetensors")) model = files.items[i];
        else if (!strcmp(name, "best.safetensors")) best = files.items[i];
    }
    char *latest = checkpoint_latest(path); /* the one --resume takes */
    GString *offer = g_string_new(NULL);
    if (!checkpoint_only && model) g_string_append_printf(offer, "%s (the run's model)", model);
    if (!checkpoint_only && best)
        g_string_append_printf(offer, "%s%s (the best validated model)", offer->len ? ", " : "", best);
    if (latest) g_string_append_printf(offer, "%s%s (its latest checkpoint)", offer->len ? ", " : "", latest);
    if (!offer->len)
        mslam_error("%s%s is a folder, not a file: name a model file%s (a training run's folder, train --out, holds "
                    "model.safetensors, best.safetensors and checkpoints ckpt-STEP.safetensors)", option, path,
                    checkpoint_only || *option ? " or training checkpoint"
                                               : ", training checkpoint, LM or translation memory");
    else
        mslam_error("%s%s is a training run's folder, not a file: give one of its files: %s%s", option, path, offer->str,
                    checkpoint_only && model ? "; its model.safetensors is exported already" : "");
    g_string_free(offer, TRUE);
    strlist_free(&files);
    free(latest);
    return -1;
}
