/* Streaming sessions: PCM in, encoder frames out, chunk by chunk with cached left context.
 *
 * Pipeline of one push: samples -> log-mel frames (frame f needs samples [160 f, 160 f + 400)) ->
 * subsampled frames (frame t needs mel frames [4 t, 4 t + 6]) -> pending until a chunk is full ->
 * every layer with its cache (keys/values of the visible left chunks, last k-1 conv inputs) ->
 * ready frames. Because the conv is causal and the attention of a chunk sees exactly the cached
 * left chunks, the frames equal a whole-utterance forward under the same chunk mask. */
#include "common.h"
#include "encoder.h"
#include "frontend.h"
#include "model.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct mslam_stream {
    mslam_model *model;
    struct mslam_stream_params params;
    mslam_frontend fe;
    int n_layers;

    float *pcm;        /* samples not yet covered by a finished mel frame's hop */
    size_t n_pcm, pcm_cap;
    float *mel;        /* mel frames not yet consumed by the subsampler (raw log-mel) */
    int n_mel, mel_cap;
    float *pending;    /* (chunk, d) subsampled frames waiting for a full chunk */
    int n_pending;
    float *ready;      /* (ready_cap, d) encoded frames not yet read */
    int n_ready, ready_cap;
    size_t n_pushed;   /* samples pushed since the stream began (or was reset) */
    int tail_padded;   /* mslam_stream_finish appended MSLAM_TAIL_PADDING zeros */
    int finished;      /* mslam_stream_finish ran: no more audio until mslam_stream_reset */

    conformer_layer_state *states; /* n_layers */
    int kv_cap;                    /* rows each state's k and v hold */

    arena work;        /* chunk activations, sized for kv_cap keys */
    int work_threads;  /* threads the work's attention scratch has a slice for */
    conformer_layer_acts acts;
    float *pe, *x_a, *x_b, *scratch;
    float *mel_norm, *c1, *c2, *c2t, *sub_out, *fe_scratch; /* subsampler window */
};

struct mslam_stream_params mslam_stream_default_params(void) {
    /* one thread: a chunk is a few frames, which more threads do not speed up, and on a busy
     * machine a team of them waiting for each other made pushes of 20 ms take 230-340 ms */
    return (struct mslam_stream_params){.chunk_frames = 8, .left_chunks = 4, .n_threads = 1};
}

static int resize_work(mslam_stream *s);

/* Threads of the stream's kernels on the calling thread (a stream may be fed from another thread
 * than the one that made it, whose OpenMP count, the default, may be larger). Attention's scratch
 * holds a slice per thread: the chunk buffers grow when the count outgrows them. */
static int use_threads(mslam_stream *s) {
    mslam_model_use_threads(s->model, s->params.n_threads);
    return mslam_get_threads() > s->work_threads ? resize_work(s) : 0;
}

static int plan_work(mslam_stream *s, arena *ar) {
    const struct mslam_model_config *cfg = &s->model->cfg;
    int T = s->params.chunk_frames, Tk = s->kv_cap, d = cfg->d_model, C = cfg->sub_channels;
    int W = mslam_subsampler_window(T), T1 = (W - 3) / 2 + 1, F1 = (cfg->n_mels - 3) / 2 + 1;
    int F2 = mslam_subsampled_mels(cfg->n_mels);
    conformer_layer_acts_take(ar, &s->acts, cfg, 1, T, Tk, 0);
    s->pe = arena_take(ar, (size_t)(T + Tk - 1) * d);
    s->x_a = arena_take(ar, (size_t)T * d);
    s->x_b = arena_take(ar, (size_t)T * d);
    size_t scratch = conformer_layer_scratch_size(cfg, 1, T, Tk, 0);
    size_t sub = speech_subsampler_scratch_size(cfg, W);
    s->scratch = arena_take(ar, scratch > sub ? scratch : sub);
    s->mel_norm = arena_take(ar, (size_t)W * cfg->n_mels);
    s->c1 = arena_take(ar, (size_t)C * T1 * F1);
    s->c2 = arena_take(ar, (size_t)C * T * F2);
    s->c2t = arena_take(ar, (size_t)C * T * F2);
    s->sub_out = arena_take(ar, (size_t)T * d);
    return 0;
}

static int resize_work(mslam_stream *s) {
    arena counter = {0};
    plan_work(s, &counter);
    s->work.used = counter.used;
    /* failed, the buffers are unplanned: work_threads 0 makes the next call plan them again */
    s->work_threads = 0;
    if (counter.used > s->work.size && arena_commit(&s->work, "the stream's chunk buffers")) return -1;
    s->work.used = 0;
    s->work_threads = mslam_get_threads();
    return plan_work(s, &s->work);
}

/* Grows every layer's key/value cache to hold rows (keeping the cached rows). */
static int grow_kv(mslam_stream *s, int rows) {
    if (rows <= s->kv_cap) return 0;
    int cap = s->kv_cap * 2 > rows ? s->kv_cap * 2 : rows;
    size_t bytes = (size_t)cap * s->model->cfg.d_model * sizeof(float);
    for (int l = 0; l < s->n_layers; l++) {
        float *k = realloc(s->states[l].k, bytes);
        if (k) s->states[l].k = k;
        float *v = realloc(s->states[l].v, bytes);
        if (v) s->states[l].v = v;
        if (!k || !v) return mslam_error("out of memory growing the stream's attention cache to %d frames", cap);
    }
    s->kv_cap = cap;
    return resize_work(s);
}

mslam_stream *mslam_stream_new(mslam_model *model, struct mslam_stream_params params) {
    if (!model) {
        mslam_error("mslam_stream_new: model is NULL");
        return NULL;
    }
    const struct mslam_model_config *cfg = &model->cfg;
    if (params.chunk_frames <= 0 || params.chunk_frames > STREAM_MAX_CHUNK_FRAMES) {
        mslam_error("mslam_stream_new: chunk_frames = %d is out of range (1..%d)", params.chunk_frames,
                    STREAM_MAX_CHUNK_FRAMES);
        return NULL;
    }
    if (!cfg->causal_conv) {
        mslam_error("mslam_stream_new: model '%s' has a non-causal convolution (causal_conv = 0) and "
                    "cannot stream", model->path ? model->path : "(in memory)");
        return NULL;
    }
    mslam_stream *s = mslam_calloc(1, sizeof *s, "stream");
    if (!s) return NULL;
    s->model = model;
    s->params = params;
    s->n_layers = cfg->n_speech_layers + cfg->n_shared_layers;
    int d = cfg->d_model, T = params.chunk_frames, k = cfg->conv_kernel;
    s->states = mslam_calloc((size_t)(s->n_layers ? s->n_layers : 1), sizeof *s->states, "stream caches");
    s->pending = mslam_malloc((size_t)T * d * sizeof(float), "stream pending frames");
    s->mel_cap = mslam_subsampler_window(T);
    s->mel = mslam_malloc((size_t)s->mel_cap * cfg->n_mels * sizeof(float), "stream log-mel");
    s->fe_scratch = mslam_malloc(mslam_frontend_scratch_size(1) * sizeof(float), "frontend scratch");
    int ok = s->states && s->pending && s->mel && s->fe_scratch && mslam_frontend_init(&s->fe, cfg->n_mels) == 0;
    for (int l = 0; ok && l < s->n_layers; l++) {
        s->states[l].conv = mslam_calloc((size_t)(k - 1 + T), (size_t)d * sizeof(float), "conv cache");
        ok = s->states[l].conv != NULL;
    }
    /* room for one chunk: the cache (and the attention buffers sized by it) grows as the left
     * context fills, so a stream allocates for what it has seen, not for what left_chunks allows */
    mslam_model_use_threads(model, params.n_threads);
    if (!ok || grow_kv(s, T)) {
        mslam_stream_free(s);
        return NULL;
    }
    return s;
}

void mslam_stream_free(mslam_stream *s) {
    if (!s) return;
    for (int l = 0; s->states && l < s->n_layers; l++) {
        free(s->states[l].k);
        free(s->states[l].v);
        free(s->states[l].conv);
    }
    free(s->states);
    free(s->pcm);
    free(s->mel);
    free(s->pending);
    free(s->ready);
    free(s->fe_scratch);
    arena_release(&s->work);
    if (s->fe.window) mslam_frontend_free(&s->fe);
    free(s);
}

void mslam_stream_reset(mslam_stream *s) {
    if (!s) return;
    const struct mslam_model_config *cfg = &s->model->cfg;
    s->n_pcm = 0;
    s->n_mel = 0;
    s->n_pending = 0;
    s->n_ready = 0;
    s->n_pushed = 0;
    s->tail_padded = 0;
    s->finished = 0;
    for (int l = 0; l < s->n_layers; l++) {
        s->states[l].n_cached = 0;
        memset(s->states[l].conv, 0,
               (size_t)(cfg->conv_kernel - 1 + s->params.chunk_frames) * cfg->d_model * sizeof(float));
    }
}

/* Room for n more ready frames. */
static int reserve_ready(mslam_stream *s, int n) {
    int d = s->model->cfg.d_model;
    if (s->n_ready + n > s->ready_cap) {
        int cap = s->ready_cap ? s->ready_cap : 64;
        while (cap < s->n_ready + n) cap *= 2;
        float *r = realloc(s->ready, (size_t)cap * d * sizeof(float));
        if (!r) return mslam_error("out of memory holding %d encoded frames", cap);
        s->ready = r;
        s->ready_cap = cap;
    }
    return 0;
}

/* Runs the pending T frames through every layer and moves the result to ready. Everything it
 * allocates comes first: out of memory, it leaves the stream as it was (the chunk pending). */
static int encode_chunk(mslam_stream *s, int T) {
    const struct mslam_model_config *cfg = &s->model->cfg;
    int d = cfg->d_model, k = cfg->conv_kernel;
    int n_cached = s->n_layers ? s->states[0].n_cached : 0;
    if (reserve_ready(s, T) || grow_kv(s, n_cached + T)) return -1;
    int Tk = n_cached + T;
    sinusoid_table(s->pe, -(T - 1), T + Tk - 1, d);
    attn_mask all_visible = {0, -1, 0};
    const float *x = s->pending;
    float *bufs[2] = {s->x_a, s->x_b};
    int lens[1] = {T};
    /* frames of left context a chunk sees (64 bits: both are a caller's ints); < 0: all */
    long long visible = s->params.left_chunks < 0 ? -1 : (long long)s->params.left_chunks * s->params.chunk_frames;
    for (int l = 0; l < s->n_layers; l++) {
        const conformer_layer_params *L =
            l < cfg->n_speech_layers ? &s->model->p.speech[l] : &s->model->p.shared[l - cfg->n_speech_layers];
        conformer_layer_state *st = &s->states[l];
        float *y = bufs[l % 2];
        conformer_layer_forward(y, x, &s->acts, L, cfg, 1, T, lens, &all_visible, s->pe, st, NULL, s->scratch);
        x = y;
        /* keep the visible left context and the last k-1 conv inputs for the next chunk */
        st->n_cached += T;
        if (visible >= 0 && st->n_cached > visible) {
            int keep = (int)visible, drop = st->n_cached - keep;
            memmove(st->k, st->k + (size_t)drop * d, (size_t)keep * d * sizeof(float));
            memmove(st->v, st->v + (size_t)drop * d, (size_t)keep * d * sizeof(float));
            st->n_cached = keep;
        }
        memmove(st->conv, st->conv + (size_t)T * d, (size_t)(k - 1) * d * sizeof(float));
    }
    s->n_pending = 0;
    memcpy(s->ready + (size_t)s->n_ready * d, x, (size_t)T * d * sizeof(float));
    s->n_ready += T;
    return 0;
}

/* Subsamples what the mel buffer allows into pending, encoding each chunk that fills up. */
static int drain_mel(mslam_stream *s) {
    const struct mslam_model_config *cfg = &s->model->cfg;
    int d = cfg->d_model, M = cfg->n_mels, chunk = s->params.chunk_frames;
    while (s->n_mel >= 7) {
        /* a full chunk is left only by an encode that failed (out of memory): again first */
        if (s->n_pending == chunk && encode_chunk(s, chunk)) return -1;
        int room = chunk - s->n_pending;
        int T = mslam_subsampled_frames(s->n_mel);
        if (T > room) T = room;
        int W = mslam_subsampler_window(T);
        speech_subsampler_forward(s->sub_out, s->mel_norm, s->c1, s->c2, s->c2t, s->mel, NULL,
                                  &s->model->p, cfg, 1, W, s->scratch);
        memcpy(s->pending + (size_t)s->n_pending * d, s->sub_out, (size_t)T * d * sizeof(float));
        s->n_pending += T;
        s->n_mel -= 4 * T;
        memmove(s->mel, s->mel + (size_t)4 * T * M, (size_t)s->n_mel * M * sizeof(float));
        if (s->n_pending == chunk && encode_chunk(s, chunk)) return -1;
    }
    return 0;
}

/* Appends n samples (NULL: zeros) and turns every mel frame they complete into log-mel, encoding
 * each chunk that fills up. */
static int take_samples(mslam_stream *s, const float *pcm, size_t n_samples) {
    const struct mslam_model_config *cfg = &s->model->cfg;
    if (s->n_pcm + n_samples > s->pcm_cap) {
        size_t cap = s->pcm_cap ? s->pcm_cap : 4096;
        while (cap < s->n_pcm + n_samples) cap *= 2;
        float *p = realloc(s->pcm, cap * sizeof(float));
        /* (the header names this message: the push took nothing) */
        if (!p) return mslam_error("out of memory buffering %zu samples", cap);
        s->pcm = p;
        s->pcm_cap = cap;
    }
    if (pcm && n_samples) {
        memcpy(s->pcm + s->n_pcm, pcm, n_samples * sizeof(float));
        s->n_pushed += n_samples;
    } else if (n_samples) {
        memset(s->pcm + s->n_pcm, 0, n_samples * sizeof(float));
        s->tail_padded = 1; /* in the buffer now: a finish that fails later and is called again pads no more */
    }
    s->n_pcm += n_samples;
    /* the tail padding, the last zeros of the buffer once appended, is no sample of the
     * recording: a frame's mean leaves it out, as offline (mslam_logmel reads it as zeros) */
    size_t recorded = !s->tail_padded ? s->n_pcm : s->n_pcm > MSLAM_TAIL_PADDING ? s->n_pcm - MSLAM_TAIL_PADDING : 0;
    /* one mel frame at a time keeps the mel buffer bounded by the subsampler's window */
    size_t used = 0;
    int failed = 0;
    while (!failed && s->n_pcm - used >= MSLAM_WIN_LENGTH) {
        if (s->n_mel == s->mel_cap && drain_mel(s)) {
            failed = 1; /* out of memory encoding a chunk: what was featurised stays taken */
            break;
        }
        mslam_logmel(&s->fe, s->pcm + used, recorded > used ? recorded - used : 0, 1,
                     s->mel + (size_t)s->n_mel * cfg->n_mels, s->fe_scratch);
        s->n_mel++;
        used += MSLAM_HOP_LENGTH;
    }
    /* (no buffer yet, when nothing was ever pushed) */
    if (used) memmove(s->pcm, s->pcm + used, (s->n_pcm - used) * sizeof(float));
    s->n_pcm -= used;
    if (failed || drain_mel(s)) return -1;
    return 0;
}

int mslam_stream_push(mslam_stream *s, const float *pcm, size_t n_samples) {
    if (!s) return mslam_error("mslam_stream_push: stream is NULL");
    if (!pcm && n_samples) return mslam_error("mslam_stream_push: pcm is NULL");
    for (size_t i = 0; i < n_samples; i++)
        if (!isfinite(pcm[i])) return mslam_error("mslam_stream_push: sample %zu is not a finite number", i);
    if (s->finished)
        return mslam_error("mslam_stream_push: the stream is finished (mslam_stream_reset starts a new one)");
    if (s->tail_padded)
        return mslam_error("mslam_stream_push: mslam_stream_finish failed after ending the audio: call it again, or "
                           "mslam_stream_reset to start a new stream");
    if (mslam_model_check_features(s->model, "mslam_stream_push")) return -1;
    if (use_threads(s)) return -1;
    if (take_samples(s, pcm, n_samples)) return -1;
    return s->n_ready;
}

int mslam_stream_finish(mslam_stream *s) {
    if (!s) return mslam_error("mslam_stream_finish: stream is NULL");
    if (s->finished) return s->n_ready;
    if (use_threads(s)) return -1;
    /* the tail padding that follows a recording offline, so the last frames read to the audio's
     * end as they do there (none after a stream that was never pushed, as offline); a finish
     * called again after one that failed featurises what that one left */
    if (s->n_pushed && take_samples(s, NULL, s->tail_padded ? 0 : MSLAM_TAIL_PADDING)) return -1;
    if (drain_mel(s)) return -1;
    if (s->n_pending > 0 && encode_chunk(s, s->n_pending)) return -1;
    s->finished = 1;
    return s->n_ready;
}

int mslam_stream_read(mslam_stream *s, float *out, int max_frames) {
    /* (a silent 0 with frames ready would make a caller's drain loop spin) */
    if (!s) return mslam_error("mslam_stream_read: the stream is NULL");
    if (max_frames < 0) return mslam_error("mslam_stream_read: max_frames %d is negative", max_frames);
    if (max_frames == 0) return 0;
    if (!out) return mslam_error("mslam_stream_read: out is NULL");
    int d = s->model->cfg.d_model;
    int n = s->n_ready < max_frames ? s->n_ready : max_frames;
    if (n == 0) return 0;
    memcpy(out, s->ready, (size_t)n * d * sizeof(float));
    memmove(s->ready, s->ready + (size_t)n * d, (size_t)(s->n_ready - n) * d * sizeof(float));
    s->n_ready -= n;
    return n;
}

int mslam_stream_n_ready(const mslam_stream *s) { return s ? s->n_ready : 0; }
