/* Reader and writer of the safetensors layout: 8-byte little-endian header length N, N bytes of
 * JSON header {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, ...,
 * "__metadata__": {"key": "string", ...}}, then the data (offsets relative to its start).
 * The reader mmaps the file and validates every entry before anyone reads a byte of data. */
#ifndef MSLAM_SAFETENSORS_H
#define MSLAM_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

typedef enum { ST_F32, ST_F16, ST_BF16, ST_I8, ST_I32, ST_I64, ST_U8, ST_F64 } st_dtype;

#define ST_MAX_DIMS 8

typedef struct {
    char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    size_t numel;
    size_t begin, end; /* byte offsets into the data section */
} st_tensor;

typedef struct {
    char *key, *value;
} st_meta;

typedef struct {
    char *path; /* as given to st_open, for messages */
    void *map;
    size_t map_size;
    const uint8_t *data; /* start of the data section */
    size_t data_size;
    st_tensor *tensors; /* sorted by name: st_find bisects */
    int n_tensors;
    st_meta *meta;
    int n_meta;
} st_file;

/* Opens and validates path. Returns 0, or -1 with mslam_last_error naming the file and the
 * problem (and the tensor or field when there is one). On failure f needs no st_close. */
int st_open(st_file *f, const char *path);
void st_close(st_file *f);
const st_tensor *st_find(const st_file *f, const char *name);
/* Value of a __metadata__ key, or NULL. */
const char *st_meta_get(const st_file *f, const char *key);
size_t st_dtype_size(st_dtype dtype);
const char *st_dtype_name(st_dtype dtype);
/* Strict JSON parse of text[0, n) (also used for metadata values that hold JSON): one value and
 * nothing after it but whitespace. Returns the value (json_object_put it), or NULL with *why
 * set to a static reason. */
struct json_object;
struct json_object *st_json_parse(const char *text, size_t n, const char **why);
/* Copies a float tensor (F32, F16, BF16, F64) into out as float32 (t->numel values). */
int st_read_f32(const st_file *f, const st_tensor *t, float *out);
/* Copies an integer tensor (I32, I64, I8, U8) into out as int32 (range-checked). */
int st_read_i32(const st_file *f, const st_tensor *t, int32_t *out);

/* IEEE half -> single, exact for every value (subnormals, infinities, NaN payloads). */
float st_f16_to_f32(uint16_t h);
/* Single -> half, rounded to nearest with ties to even; beyond the half range: infinity. */
uint16_t st_f32_to_f16(float f);

typedef struct {
    const char *name;
    st_dtype dtype;
    int ndim;
    int64_t shape[ST_MAX_DIMS];
    const void *data; /* numel * dtype size bytes, little-endian */
} st_write_tensor;

/* Writes a file atomically: a temporary file beside path, fsync, rename; an existing file at
 * path is untouched on failure. Tensors are laid out in the given order, the header padded with
 * spaces to a multiple of 8 bytes (so F32 data is aligned in an mmap). */
int st_write(const char *path, const st_write_tensor *tensors, int n_tensors, const st_meta *meta,
             int n_meta);

#endif
