/* The loaded model (internal view of the opaque mslam_model). */
#ifndef MSLAM_MODEL_H
#define MSLAM_MODEL_H

#include "mslam.h"
#include "params.h"
#include "safetensors.h"

/* A one-character vocabulary entry: code point and id. */
typedef struct {
    uint32_t cp;
    int id;
} mslam_vocab_char;

struct mslam_model {
    struct mslam_model_config cfg;
    mslam_param_table table;
    mslam_params p;       /* slots point into block */
    float *block;         /* table.total floats, fp32, owned */
    char **vocab;         /* vocab_size UTF-8 strings; reserved entries look like "<blank>" */
    char **langs;         /* n_langs language codes */
    mslam_vocab_char *chars; /* one-character entries sorted by code point (mslam_model_char_id) */
    int n_chars;
    int bos_id, eos_id;   /* "<s>" and "</s>" (decoder models; -1 otherwise); CTC blank is id 0 */
    int n_threads;        /* of mslam_model_params; <= 0: all cores */
    struct mslam_vk *vk;  /* the Vulkan device the offline encoder passes run on, or NULL: the CPU */
    char *device;         /* mslam_model_device's text */
    char *device_lost;    /* its text once vk is lost under auto (mslam_vk_cpu_instead): "cpu: ..." */
    char *path;
};

/* Builds an empty model of a config (parameters zero) with the given vocabulary and languages
 * (copied). Used by tests, the trainer and the loader. NULL on failure. */
mslam_model *mslam_model_new(const struct mslam_model_config *cfg, const char *const *vocab,
                             const char *const *langs);

/* Writes model (config, vocabulary, languages in __metadata__, every table tensor as F32). */
int mslam_model_save(const mslam_model *model, const char *path);
/* The same with every tensor as F16 (half the size; the loader widens to F32 again). A value
 * beyond the F16 range is an error naming the tensor. */
int mslam_model_save_f16(const mslam_model *model, const char *path);
/* The same with each weight matrix and kernel in I8 with an F32 scale per row of its first
 * dimension (absmax / 127, rounded to nearest), the other tensors F16: about a quarter of the F32
 * file. The loader widens to F32 again; an element moves by at most half its row's scale. A
 * weight that is not finite, or another value beyond the F16 range, is an error naming it. */
int mslam_model_save_int8(const mslam_model *model, const char *path);
/* The float tensor "<name>.scale" beside a weight in I8: a scale per row of its first dimension. */
#define MODEL_INT8_SCALE_SUFFIX ".scale"
/* The same file with more tensors after the model's and more __metadata__ keys (a trainer
 * checkpoint: optimizer moments, training position). */
int mslam_model_save_with(const mslam_model *model, const char *path, const st_write_tensor *extra,
                          int n_extra, const st_meta *extra_meta, int n_extra_meta);
/* The model of an opened file (as mslam_model_load, which calls it); tensors whose names start
 * with extra_prefix (when not NULL) are left to the caller instead of being refused. */
mslam_model *mslam_model_from_st(const st_file *f, const char *extra_prefix,
                                 struct mslam_model_params params);

/* Threads of the kernels a public call runs on this thread: n_threads (the call's params), else
 * the model's, else all cores. OpenMP's own setting stays as the caller had it. */
void mslam_model_use_threads(const mslam_model *model, int n_threads);

/* Whether the model's feature statistics can normalise audio (mslam_frontend_check_stats, the
 * error naming fn and the model's file): every call that featurises audio asks, as a model whose
 * statistics were never measured would divide by a zero std. */
int mslam_model_check_features(const mslam_model *model, const char *fn);

/* Character id of the UTF-8 character at s (its length in bytes written to *len), -1 when not
 * in the vocabulary; -1 with *len = 1 when s does not start with valid UTF-8. */
int mslam_model_char_id(const mslam_model *model, const char *s, int *len);
/* The character ids of UTF-8 text (malloc'ed, *n of them; at least one int allocated). NULL on
 * failure: text that is not valid UTF-8, or a character outside the vocabulary, is an error
 * naming it and fn. */
int *mslam_model_text_ids(const mslam_model *model, const char *utf8, int *n, const char *fn);


/* Shared by the readers and writers of mslam's safetensors files (models, checkpoints, LMs). */
#include <json-c/json.h>
/* mslam_config_check with where in front of its message (a config check cannot know the file or
 * option the config came from). */
int modelfile_check_config(const struct mslam_model_config *cfg, const char *where);
/* Checks n vocabulary entries: each one UTF-8 character or a reserved "<name>", no repeats. */
int modelfile_check_vocab(const char *const *vocab, int n, const char *where);
/* Checks n language codes: 1 to 64 printable ASCII characters without spaces, no repeats. */
int modelfile_check_langs(const char *const *langs, int n, const char *where);
/* Index of token among n strings, or -1. */
int modelfile_vocab_index(char *const *vocab, int n, const char *token);
/* Copies of n strings (NULL when out of memory); modelfile_free_strings frees them. */
char **modelfile_copy_strings(const char *const *src, int n);
void modelfile_free_strings(char **s, int n);
/* The __metadata__ value of key parsed as JSON of the given type, or NULL (error recorded). */
struct json_object *modelfile_meta_json(const st_file *f, const char *key, enum json_type type);
/* A metadata array of exactly n strings (count_field names n in messages; n < 0: any number,
 * written to *n_items when not NULL); *items point into *json (json_object_put it, free *items). */
int modelfile_meta_strings(const st_file *f, const char *key, int n, const char *count_field,
                           struct json_object **json, const char ***items, int *n_items);
/* An integer metadata value (its absence or another text is an error naming the key). */
int modelfile_meta_int(const st_file *f, const char *key, int *out);
/* What an mslam file is, by its metadata, with the options that take it ("a character LM (for
 * --lm, ...)"), or NULL for none of mslam's kinds. */
const char *modelfile_kind(const st_file *f);
/* Checks that f's __metadata__ "format" is format and "format_version" MSLAM_FORMAT_VERSION; the
 * error calls the file what it is not ("a character LM", "a translation memory") and, where
 * modelfile_kind knows, what it is. */
int modelfile_check_format(const st_file *f, const char *format, const char *what);
/* Compact JSON text of v, malloc'd; v is put. */
char *modelfile_json_text(struct json_object *v);
/* A JSON array of n strings, or NULL. */
struct json_object *modelfile_string_array(char *const *s, int n);

#endif
