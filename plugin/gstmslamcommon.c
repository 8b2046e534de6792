/* What the three mslam elements have in common: the model cache, the energy rule and the
 * abstract element GstMslamBase (see gstmslamcommon.h). */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include "gstmslamcommon.h"

#include <gst/tag/tag.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

GST_DEBUG_CATEGORY_STATIC (gst_mslam_debug);
#define GST_CAT_DEFAULT gst_mslam_debug

/* ---- model cache ---- */

/* A file's identity: a model retrained in place is another file. */
typedef struct
{
  dev_t dev;
  ino_t ino;
  off_t size;
  struct timespec mtime;
} FileIdentity;

static FileIdentity
file_identity (const struct stat *st)
{
  return (FileIdentity) {
  st->st_dev, st->st_ino, st->st_size, st->st_mtim};
}

static gboolean
same_file (const FileIdentity * a, const FileIdentity * b)
{
  return a->dev == b->dev && a->ino == b->ino && a->size == b->size
      && a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* One loaded file on one device. The key is the device it runs on and the canonical path, so
 * that elements asking for device=auto share with those asking for the device auto picked. The
 * file's identity decides whether a new load is needed: a model retrained in place is loaded anew
 * for elements started after that, while running ones keep their copy. */
typedef struct
{
  mslam_model *model;
  gchar *path;
  gchar *key;                   /* "<enum mslam_device>:<path>", the device it runs on */
  FileIdentity file;
  guint refs;
  gboolean cached;              /* still the table's entry for its key */
} CachedModel;

/* Where device=auto put a file (the device a GPU's presence, the model's sizes and the device's
 * start decided), so that a later auto element looks for the copy there without loading one. */
typedef struct
{
  FileIdentity file;
  enum mslam_device device;
} AutoDevice;

static GMutex cache_lock;
static GHashTable *cache_by_path;       /* key (device and canonical path) -> CachedModel */
static GHashTable *auto_devices;        /* canonical path -> AutoDevice */
static GHashTable *cache_by_model;      /* mslam_model * -> CachedModel */

const gchar *
gst_mslam_default_model_path (const gchar ** from)
{
  const gchar *env = g_getenv ("MSLAM_MODEL");
  gboolean set = env && *env;

  if (from)
    *from = set ? "MSLAM_MODEL" : "the installed default";
  return set ? env : MSLAM_DEFAULT_MODEL;
}

static void
cached_model_free (CachedModel * c)
{
  mslam_model_free (c->model);
  g_free (c->path);
  g_free (c->key);
  g_free (c);
}

/* Routes libmslam's messages into GStreamer's debug log (errors reach the elements through
 * mslam_last_error and become element errors there). */
static void
log_to_gst (enum mslam_log_level level, const char *message, void *user_data)
{
  (void) user_data;
  switch (level) {
    case MSLAM_LOG_ERROR:
      GST_INFO ("libmslam: %s", message);
      break;
    case MSLAM_LOG_WARN:
      GST_WARNING ("libmslam: %s", message);
      break;
    case MSLAM_LOG_INFO:
      GST_INFO ("libmslam: %s", message);
      break;
    default:
      GST_DEBUG ("libmslam: %s", message);
      break;
  }
}

/* Takes c out of the table (its users keep it). */
static void
cache_forget (CachedModel * c)
{
  g_hash_table_remove (cache_by_path, c->key);
  c->cached = FALSE;
}

/* The entry of key when it holds the file as st describes it; a stale one is forgotten. */
static CachedModel *
cache_find (const gchar * key, const struct stat *st)
{
  CachedModel *c = g_hash_table_lookup (cache_by_path, key);
  FileIdentity file = file_identity (st);

  if (c && same_file (&c->file, &file))
    return c;
  if (c)
    cache_forget (c);           /* the file changed: new users get a new copy */
  return NULL;
}

mslam_model *
gst_mslam_model_acquire (const gchar * path, GstMslamDevice device,
    gchar ** reason)
{
  struct stat st;
  char *real;
  gchar *key;
  CachedModel *c;
  AutoDevice *picked;
  FileIdentity file;
  mslam_model *model;
  struct mslam_model_params params = mslam_model_default_params ();

  /* once, and only where the application has not routed libmslam's messages itself (it has one
   * callback per process): into GStreamer's debug log rather than onto stderr; before any call
   * of the library below */
  {
    static gsize routed = 0;
    if (g_once_init_enter (&routed)) {
      mslam_log_callback app_cb = NULL;
      mslam_log_get (&app_cb, NULL);
      if (!app_cb)
        mslam_log_set (log_to_gst, NULL);
      g_once_init_leave (&routed, 1);
    }
  }
  if (!path || !*path) {
    *reason = g_strdup ("no model file given");
    return NULL;
  }
  if (stat (path, &st) != 0) {
    *reason = g_strdup (g_strerror (errno));
    return NULL;
  }
  if (!S_ISREG (st.st_mode)) {
    /* the library's word for what the path is (a training run's folder names its files) */
    model = mslam_model_load (path, params);
    *reason = g_strdup (model ? "not a regular file" : mslam_last_error ());
    mslam_model_free (model);
    return NULL;
  }
  real = realpath (path, NULL);
  if (!real) {
    *reason = g_strdup (g_strerror (errno));
    return NULL;
  }

  params.device = device == GST_MSLAM_DEVICE_VULKAN ? MSLAM_DEVICE_VULKAN :
      device == GST_MSLAM_DEVICE_CPU ? MSLAM_DEVICE_CPU : MSLAM_DEVICE_AUTO;
  file = file_identity (&st);

  g_mutex_lock (&cache_lock);
  if (!cache_by_path) {
    cache_by_path = g_hash_table_new (g_str_hash, g_str_equal);
    cache_by_model = g_hash_table_new (g_direct_hash, g_direct_equal);
    auto_devices = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  }
  /* auto looks where it put this file before (it loads as auto all the same: the device may
   * fail this time) */
  picked = params.device == MSLAM_DEVICE_AUTO ? g_hash_table_lookup (auto_devices, real) : NULL;
  key = g_strdup_printf ("%d:%s", (int) (picked && same_file (&picked->file, &file) ?
          picked->device : params.device), real);
  c = cache_find (key, &st);
  if (c)
    goto share;

  /* Loading under the lock: a second element asking for the same file waits for this load and
   * shares it rather than loading its own copy. Threads are chosen per call (stream and decode
   * parameters), so the model's own default (all cores) does not matter. */
  model = mslam_model_load (real, params);
  if (!model) {
    *reason = g_strdup (mslam_last_error ());
    g_mutex_unlock (&cache_lock);
    free (real);
    g_free (key);
    return NULL;
  }
  if (params.device == MSLAM_DEVICE_AUTO) {
    /* auto has said where the file runs: an element that asked for that device may have loaded
     * it (then this load was one too many, once for this file) */
    AutoDevice *a = g_new (AutoDevice, 1);
    a->file = file;
    a->device = strcmp (mslam_model_device (model), "cpu") ? MSLAM_DEVICE_VULKAN : MSLAM_DEVICE_CPU;
    g_hash_table_replace (auto_devices, g_strdup (real), a);
    g_free (key);
    key = g_strdup_printf ("%d:%s", (int) a->device, real);
    c = cache_find (key, &st);
    if (c) {
      mslam_model_free (model);
      goto share;
    }
  }
  c = g_new0 (CachedModel, 1);
  c->model = model;
  c->path = g_strdup (real);
  c->key = key;
  c->file = file;
  c->refs = 1;
  c->cached = TRUE;
  g_hash_table_insert (cache_by_path, c->key, c);
  g_hash_table_insert (cache_by_model, model, c);
  GST_INFO ("loaded %s; the encoder's full-context passes run on %s", real,
      mslam_model_device (model));
  g_mutex_unlock (&cache_lock);
  free (real);
  return model;

share:
  c->refs++;
  GST_DEBUG ("sharing %s on %s (%u users)", real, mslam_model_device (c->model),
      c->refs);
  g_mutex_unlock (&cache_lock);
  free (real);
  g_free (key);
  return c->model;
}

void
gst_mslam_model_release (mslam_model * model)
{
  CachedModel *c;

  if (!model)
    return;
  g_mutex_lock (&cache_lock);
  c = cache_by_model ? g_hash_table_lookup (cache_by_model, model) : NULL;
  g_assert (c != NULL);
  if (--c->refs == 0) {
    GST_INFO ("freeing %s", c->path);
    g_hash_table_remove (cache_by_model, model);
    if (c->cached)
      cache_forget (c);
    cached_model_free (c);
  }
  g_mutex_unlock (&cache_lock);
}

/* ---- energy rule ---- */

#define VAD_BLOCK 160           /* 10 ms */
/* voice-threshold's default: never speech below this (dBFS), so that quiet sound at a stream's
 * start, before a noise floor is learnt, is none. The demo's espeak-ng sentences (their loudest
 * 10-ms blocks at -15 to -10 dBFS) keep their captions 30 dB quieter, and lose most of them 40 dB
 * quieter, where -70 and anything lower keep them (models/results/session43/). */
#define DEFAULT_VOICE_THRESHOLD_DB -55.0
#define VAD_ABOVE_NOISE_DB 12.0 /* speech is this much above the noise floor */
#define VAD_NOISE_RISE_DB 0.05  /* per block: the floor follows rising noise at 5 dB/s */
/* digital silence: samples all equal, give or take a 16-bit step (the energy's floor: -100) */
#define VAD_DIGITAL_SILENCE_DB -99.0
/* A sound whose 50-ms energies (the mean power of VAD_STEADY_SPAN blocks, sliding by one) lie
 * within this between their 10th and 90th percentiles, as heard and tilted (block_rise_db), is
 * steady. Over 10 ms, noise of little high frequency (rumble: noise low-passed at 100-200 Hz, red
 * noise) varies as speech does, with few of its periods in a block (9-11 dB between those
 * percentiles, speech from 10); over 50 ms, white noise lies within 0.4 dB, pink 1.3, red 4.4,
 * blue 4.8, rumble about 5.5 (up to 6.5 through a 4-pole 100-Hz low-pass), and espeak-ng speech
 * of the corpus's test split, noise and reverberation added, from 7.7 as heard
 * (models/results/session41/). */
#define VAD_STEADY_DB 6.0
#define VAD_STEADY_SPAN 5
/* the blocks a sound is judged on, 1.5 s (a burst is no steady sound), where the stream has
 * them; it is judged on a second at least */
#define VAD_STEADY_BLOCKS 150
#define VAD_STEADY_MIN_BLOCKS 100

void
gst_mslam_vad_init (GstMslamVad * vad)
{
  vad->block_db = g_new0 (gfloat, GST_MSLAM_VAD_BLOCKS);
  vad->block_rise_db = g_new0 (gfloat, GST_MSLAM_VAD_BLOCKS);
  vad->threshold_db = DEFAULT_VOICE_THRESHOLD_DB;
  gst_mslam_vad_reset (vad);
}

void
gst_mslam_vad_clear (GstMslamVad * vad)
{
  g_clear_pointer (&vad->block_db, g_free);
  g_clear_pointer (&vad->block_rise_db, g_free);
}

void
gst_mslam_vad_reset (GstMslamVad * vad)
{
  vad->noise_db = -100.0;
  vad->n_block = 0;
  vad->n = 0;
  vad->voiced_start = -1;
  vad->silence_start = 0;
  vad->last_voiced_end = -1;
  vad->n_recent = 0;
  vad->have_last = FALSE;
  memset (vad->frame_voiced, 0, sizeof vad->frame_voiced);
}

void
gst_mslam_vad_restart (GstMslamVad * vad)
{
  gdouble noise_db = vad->noise_db;

  gst_mslam_vad_reset (vad);
  vad->noise_db = noise_db;
}

gdouble
gst_mslam_energy (const gfloat * pcm, gsize n)
{
  gdouble sum = 0.0, mean = 0.0;

  for (gsize i = 0; i < n; i++)
    mean += pcm[i];
  mean = n ? mean / n : 0.0;
  for (gsize i = 0; i < n; i++)
    sum += ((gdouble) pcm[i] - mean) * ((gdouble) pcm[i] - mean);
  return sum;
}

/* Whether the last n_recent blocks, up to block `last`, lie within VAD_ABOVE_NOISE_DB of their
 * quietest, which *quietest gets: none stood out from the others as a voice does. */
static gboolean
recent_quietest_if_steady (const GstMslamVad * vad, guint64 last, gdouble * quietest)
{
  gdouble loudest = vad->block_db[last % GST_MSLAM_VAD_BLOCKS];

  *quietest = loudest;
  for (guint i = 1; i < vad->n_recent; i++) {
    gdouble db = vad->block_db[(last - i) % GST_MSLAM_VAD_BLOCKS];
    *quietest = MIN (*quietest, db);
    loudest = MAX (loudest, db);
  }
  return vad->n_recent > 0 && loudest - *quietest < VAD_ABOVE_NOISE_DB;
}

static int
compare_floats (gconstpointer a, gconstpointer b)
{
  gfloat x = *(const gfloat *) a, y = *(const gfloat *) b;

  return x < y ? -1 : x > y;
}

/* power[0..n) (n >= VAD_STEADY_SPAN) becomes its 50-ms means in dB, in time order (mean m of
 * blocks m..m + VAD_STEADY_SPAN - 1); their number. */
static guint
means_db (gfloat * power, guint n)
{
  gdouble sum = 0.0;

  for (guint i = 0; i < n; i++) {
    sum += power[i];
    if (i + 1 >= VAD_STEADY_SPAN) {
      gdouble mean = sum / VAD_STEADY_SPAN;
      sum -= power[i + 1 - VAD_STEADY_SPAN];
      /* (a mean's blocks are read before it overwrites the first of them) */
      power[i + 1 - VAD_STEADY_SPAN] = (gfloat) (10.0 * log10 (MAX (mean, 1e-10)));
    }
  }
  return n - VAD_STEADY_SPAN + 1;
}

/* Whether block b was a sound, not digital silence. */
static gboolean
block_heard (const GstMslamVad * vad, guint64 b)
{
  return vad->block_db[b % GST_MSLAM_VAD_BLOCKS] > VAD_DIGITAL_SILENCE_DB;
}

/* Whether ring's energies (dB, block b at b % GST_MSLAM_VAD_BLOCKS) of blocks [lo, hi) (at least
 * VAD_STEADY_MIN_BLOCKS; the sound's own are [own_lo, own_hi)) are a steady sound's: their 50-ms
 * means lie within VAD_STEADY_DB between their 10th and 90th percentiles (a click or a cough in
 * the noise is no voice either), and a short sound's own loudest 50 ms does not stand out from
 * what was heard around it by as much either (rumble's bursts: by 2.9 dB at most; a short
 * caption of speech stands out by up to 7 dB, and is 8.9 dB and more between the percentiles
 * anyway). what names the energies in the log. */
static gboolean
steady_in (const gfloat * ring, guint64 lo, guint64 hi, guint64 own_lo, guint64 own_hi, const gchar * what)
{
  guint n = (guint) (hi - lo), own_first = (guint) (own_lo - lo), n_own = (guint) (own_hi - own_lo);
  gfloat *power = g_new (gfloat, n);
  guint n_means, m;
  gdouble own_loudest = -200.0, p10, p90;
  gboolean steady;

  for (guint i = 0; i < n; i++)
    power[i] = (gfloat) pow (10.0, ring[(lo + i) % GST_MSLAM_VAD_BLOCKS] / 10.0);
  n_means = means_db (power, n);
  for (m = own_first >= VAD_STEADY_SPAN - 1 ? own_first - (VAD_STEADY_SPAN - 1) : 0;
      m < MIN (own_first + n_own, n_means); m++)
    own_loudest = MAX (own_loudest, power[m]);
  qsort (power, n_means, sizeof *power, compare_floats);
  p10 = power[n_means / 10];
  p90 = power[n_means * 9 / 10];
  steady = p90 - p10 < VAD_STEADY_DB &&
      (n_own >= VAD_STEADY_BLOCKS || own_loudest - p90 < VAD_STEADY_DB);
  GST_LOG ("blocks %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT ": %u blocks (%u its own), 50-ms %s "
      "within %.2f dB, its loudest %.2f dB over their 90th percentile: %s", lo, hi, n, n_own, what,
      p90 - p10, own_loudest - p90, steady ? "steady" : "not steady");
  g_free (power);
  return steady;
}

gboolean
gst_mslam_vad_steady (const GstMslamVad * vad, guint64 start, guint64 end)
{
  const guint per_frame = GST_MSLAM_FRAME_SAMPLES / VAD_BLOCK;
  guint64 judged = vad->n / VAD_BLOCK;  /* blocks with an energy */
  guint64 oldest = judged > GST_MSLAM_VAD_BLOCKS ? judged - GST_MSLAM_VAD_BLOCKS : 0;
  guint64 first_voiced = end, last_voiced = start, own_lo, own_hi, lo, hi;

  for (guint64 f = start; f < end; f++)
    if (gst_mslam_vad_frame_voiced (vad, f)) {
      first_voiced = MIN (first_voiced, f);
      last_voiced = f;
    }
  /* the blocks from the first voiced frame to the last, the gaps between included (bursts apart
   * are no steady sound), and where that is under 1.5 s, of the whole voiced run they lie in, as
   * far as that (a caption of a character or two that the model wrote on noise that had begun) */
  if (first_voiced < end) {
    for (; (last_voiced + 1 - first_voiced) * per_frame < VAD_STEADY_BLOCKS &&
        gst_mslam_vad_frame_voiced (vad, last_voiced + 1); last_voiced++);
    for (; (last_voiced + 1 - first_voiced) * per_frame < VAD_STEADY_BLOCKS && first_voiced > 0 &&
        gst_mslam_vad_frame_voiced (vad, first_voiced - 1); first_voiced--);
    start = first_voiced, end = last_voiced + 1;
  }
  /* The blocks judged, one run [lo, hi) around the sound's own [own_lo, own_hi). Under 1.5 s of
   * them, those heard before are added until there is that much, then, at a stream's start,
   * those after: what was heard around a short sound (rumble voiced in bursts of a few hundred
   * ms is steady over 1.5 s, as is a caption the model wrote on steady noise once the floor had
   * learnt it, and unvoiced it, with a voiced frame or two; a word stands out from the noise or
   * silence around it, as a voiced block is 12 dB above the floor). Not beyond digital silence:
   * a muted input, a dropout or a noise gate's closing parts what was heard (noise that begins
   * after it is judged on its own, and bursts a gate lets through are not one noise). Within the
   * sound's own frames it counts, a gap between bursts. Frames older than those remembered have
   * no block. */
  own_lo = MIN (MAX (start * per_frame, oldest), judged);
  own_hi = MAX (MIN (end * per_frame, judged), own_lo);
  for (lo = own_lo, hi = own_hi; hi - lo < VAD_STEADY_BLOCKS && lo > oldest && block_heard (vad, lo - 1); lo--);
  for (; hi - lo < VAD_STEADY_BLOCKS && hi < judged && block_heard (vad, hi); hi++);
  /* Steady both as heard and tilted up 6 dB an octave (the samples' differences): rumble under a
   * voice fills its energies and leaves it standing out of the differences', hiss the other way
   * round, and noise alone is steady either way. (None of its own blocks heard, or remembered:
   * nothing to judge.) */
  return own_hi > own_lo && hi - lo >= VAD_STEADY_MIN_BLOCKS &&
      steady_in (vad->block_db, lo, hi, own_lo, own_hi, "energies") &&
      steady_in (vad->block_rise_db, lo, hi, own_lo, own_hi, "differences' energies");
}

/* The ring's blocks, up to the one at sample start, judged again under the floor risen to their
 * quietest: none is voiced. The frames wholly among them are unvoiced again and the silence
 * runs from the ring's first block at the latest, so that what the floor had not yet learnt
 * (the first 1.5 s of a steady noise) counts no more as speech for what is decided
 * later: mslamlid's windows, a caption's end. */
static void
unvoice_recent (GstMslamVad * vad, gint64 start)
{
  gint64 first = start - (gint64) (GST_MSLAM_VAD_FLOOR_BLOCKS - 1) * VAD_BLOCK;

  for (gint64 f = (first + GST_MSLAM_FRAME_SAMPLES - 1) / GST_MSLAM_FRAME_SAMPLES;
      f <= start / GST_MSLAM_FRAME_SAMPLES; f++)
    vad->frame_voiced[f % GST_MSLAM_VAD_FRAMES] = 0;
  if (vad->silence_start < 0 || vad->silence_start > first)
    vad->silence_start = first;
  vad->last_voiced_end = MIN (vad->last_voiced_end, first);
}

/* The energy of the block's sample-to-sample differences (from the last block's last sample),
 * for the steady-sound rule: the sound tilted up 6 dB an octave, so that rumble (100 Hz: -28 dB
 * against 4 kHz) weighs little under a voice (its first formant, 300-800 Hz: -17 to -9 dB). */
static gdouble
block_rise_energy (GstMslamVad * vad)
{
  gdouble sum = 0.0, prev = vad->have_last ? vad->last_sample : vad->block[0];

  for (guint i = 0; i < VAD_BLOCK; i++) {
    sum += ((gdouble) vad->block[i] - prev) * ((gdouble) vad->block[i] - prev);
    prev = vad->block[i];
  }
  vad->last_sample = vad->block[VAD_BLOCK - 1];
  vad->have_last = TRUE;
  return sum;
}

static void
vad_block (GstMslamVad * vad, gint64 start)
{
  gdouble db, quietest;
  gboolean voiced;

  /* about the block's mean: a DC offset of 0.02 (-34 dBFS) had been heard as a voice until the
   * noise floor rose to it */
  db = 10.0 * log10 (gst_mslam_energy (vad->block, VAD_BLOCK) / VAD_BLOCK + 1e-10);
  voiced = db > vad->threshold_db && db > vad->noise_db + VAD_ABOVE_NOISE_DB;
  /* a block lies in one frame (160 divides 640); the first block of a frame clears its slot */
  if (start % GST_MSLAM_FRAME_SAMPLES == 0)
    vad->frame_voiced[(start / GST_MSLAM_FRAME_SAMPLES) % GST_MSLAM_VAD_FRAMES] = 0;
  if (voiced)
    vad->frame_voiced[(start / GST_MSLAM_FRAME_SAMPLES) % GST_MSLAM_VAD_FRAMES] = 1;
  /* digital silence (a muted input, a file's padding) is no measure of the room's noise, as a
   * dropout's is not: the floor stays (it fell to -100 dB, and the same noise after it counted as
   * speech again until learnt anew: characters where it began) */
  if (db > VAD_DIGITAL_SILENCE_DB)
    vad->noise_db = db < vad->noise_db ? db : vad->noise_db + VAD_NOISE_RISE_DB;
  /* GST_MSLAM_VAD_FLOOR_BLOCKS in which no block stood out from the quietest as a voice does:
   * noise alone, the floor at once (steady noise of -48 dBFS had counted as speech for 8 s while
   * the floor crept up from -100); not where some did (speech, whose reverberation may fill the
   * gaps between words to 10-15 dB under it: a floor at their quietest made it unvoiced) */
  vad->block_db[(start / VAD_BLOCK) % GST_MSLAM_VAD_BLOCKS] = (gfloat) db;
  vad->block_rise_db[(start / VAD_BLOCK) % GST_MSLAM_VAD_BLOCKS] = (gfloat) (10.0 *
      log10 (block_rise_energy (vad) / VAD_BLOCK + 1e-10));
  if (vad->n_recent < GST_MSLAM_VAD_FLOOR_BLOCKS)
    vad->n_recent++;
  if (vad->n_recent == GST_MSLAM_VAD_FLOOR_BLOCKS &&
      recent_quietest_if_steady (vad, (guint64) start / VAD_BLOCK, &quietest)) {
    vad->noise_db = MAX (vad->noise_db, quietest);
    unvoice_recent (vad, start);
    voiced = FALSE;
  }
  if (voiced) {
    if (vad->voiced_start < 0)
      vad->voiced_start = start;
    vad->silence_start = -1;
    vad->last_voiced_end = start + VAD_BLOCK;
  } else {
    if (vad->silence_start < 0)
      vad->silence_start = start;
    vad->voiced_start = -1;
  }
}

void
gst_mslam_vad_end (GstMslamVad * vad)
{
  guint64 whole = vad->n / GST_MSLAM_FRAME_SAMPLES;     /* the frames the encoder makes */
  guint64 judged = vad->n - vad->n_block;       /* samples in finished blocks */

  /* (the unfinished block, under 10 ms, is not judged) */
  if (whole == 0 || judged <= whole * GST_MSLAM_FRAME_SAMPLES)
    return;
  vad->frame_voiced[(whole - 1) % GST_MSLAM_VAD_FRAMES] |= vad->frame_voiced[whole % GST_MSLAM_VAD_FRAMES];
}

gboolean
gst_mslam_vad_frame_voiced (const GstMslamVad * vad, guint64 f)
{
  guint64 seen = vad->n / GST_MSLAM_FRAME_SAMPLES + 1;   /* frames with a block so far */

  if (f >= seen || f + GST_MSLAM_VAD_FRAMES < seen)
    return FALSE;
  return vad->frame_voiced[f % GST_MSLAM_VAD_FRAMES];
}

gboolean
gst_mslam_vad_any_voiced (const GstMslamVad * vad, guint64 start, guint64 end)
{
  return gst_mslam_vad_n_voiced (vad, start, end) > 0;
}

guint64
gst_mslam_vad_n_voiced (const GstMslamVad * vad, guint64 start, guint64 end)
{
  guint64 n = 0;

  for (guint64 f = start; f < end; f++)
    n += gst_mslam_vad_frame_voiced (vad, f);
  return n;
}

void
gst_mslam_vad_push (GstMslamVad * vad, const gfloat * pcm, gsize n)
{
  while (n > 0) {
    gsize take = MIN (n, VAD_BLOCK - vad->n_block);
    memcpy (vad->block + vad->n_block, pcm, take * sizeof *pcm);
    vad->n_block += take;
    vad->n += take;
    pcm += take;
    n -= take;
    if (vad->n_block == VAD_BLOCK) {
      vad_block (vad, (gint64) vad->n - VAD_BLOCK);
      vad->n_block = 0;
    }
  }
}

/* ---- GstMslamBase ---- */

GType
gst_mslam_device_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {GST_MSLAM_DEVICE_AUTO,
          "A GPU through Vulkan when there is one (or MSLAM_VULKAN_DEVICE's), else the CPU",
        "auto"},
    {GST_MSLAM_DEVICE_CPU, "CPU (OpenBLAS)", "cpu"},
    {GST_MSLAM_DEVICE_VULKAN,
          "Vulkan compute on any device (Mesa's lavapipe too); starting fails without one",
        "vulkan"},
    {0, NULL, NULL},
  };
  if (g_once_init_enter (&type)) {
    GType t = g_enum_register_static ("GstMslamDevice", values);
    g_once_init_leave (&type, t);
  }
  return type;
}

#define DEFAULT_DEVICE GST_MSLAM_DEVICE_AUTO
#define DEFAULT_LATENCY_MS 320
#define MIN_LATENCY_MS 40
#define MAX_LATENCY_MS 10240
#define DEFAULT_N_THREADS 1
#define DEFAULT_SECOND_PASS TRUE
#define DEFAULT_STALL_TIMEOUT_MS 1000
#define DEFAULT_DISCONT_WAIT_MS 1000

gint
gst_mslam_frames_for_ms (guint ms)
{
  return MAX (1, (gint) ((ms + 20) / 40));
}

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS, GST_STATIC_CAPS (GST_MSLAM_AUDIO_CAPS));

/* Registered by hand (not G_DEFINE_TYPE) because the instance init needs the class of the
 * element being made (its "src" template and passthrough flag), as GstBaseTransform does. */
static GstElementClass *gst_mslam_base_parent_class = NULL;
static void gst_mslam_base_class_init (gpointer g_class, gpointer data);
static void gst_mslam_base_init (GTypeInstance * instance, gpointer g_class);

GType
gst_mslam_base_get_type (void)
{
  static gsize type = 0;

  if (g_once_init_enter (&type)) {
    static const GTypeInfo info = {
      sizeof (GstMslamBaseClass), NULL, NULL, gst_mslam_base_class_init,
      NULL, NULL, sizeof (GstMslamBase), 0, gst_mslam_base_init, NULL,
    };
    GType t = g_type_register_static (GST_TYPE_ELEMENT, "GstMslamBase", &info,
        G_TYPE_FLAG_ABSTRACT);
    g_once_init_leave (&type, t);
  }
  return type;
}

static void gst_mslam_base_finalize (GObject * object);
static void gst_mslam_base_set_property (GObject * object, guint prop_id,
    const GValue * value, GParamSpec * pspec);
static void gst_mslam_base_get_property (GObject * object, guint prop_id,
    GValue * value, GParamSpec * pspec);
static GstStateChangeReturn gst_mslam_base_change_state (GstElement * element,
    GstStateChange transition);
static GstFlowReturn gst_mslam_base_chain (GstPad * pad, GstObject * parent, GstBuffer * buf);
static gboolean gst_mslam_base_sink_event (GstPad * pad, GstObject * parent, GstEvent * event);
static gboolean gst_mslam_base_sink_query (GstPad * pad, GstObject * parent, GstQuery * query);
static gboolean gst_mslam_base_src_query (GstPad * pad, GstObject * parent, GstQuery * query);

static void
gst_mslam_base_class_init (gpointer g_class, gpointer data)
{
  GstMslamBaseClass *klass = g_class;
  (void) data;
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  gchar *model_blurb;

  GST_DEBUG_CATEGORY_INIT (gst_mslam_debug, "mslam", 0, "mslam model cache and common element code");
  gst_mslam_base_parent_class = g_type_class_peek_parent (klass);

  gobject_class->finalize = gst_mslam_base_finalize;
  gobject_class->set_property = gst_mslam_base_set_property;
  gobject_class->get_property = gst_mslam_base_get_property;

  /* The blurb names the default, so that gst-inspect-1.0 shows where the model is looked for. */
  model_blurb = g_strdup_printf ("Model file (safetensors, as written by mslam-trainer); "
      "NULL: $MSLAM_MODEL when set, else the installed default model (%s)", MSLAM_DEFAULT_MODEL);
  g_object_class_install_property (gobject_class, GST_MSLAM_BASE_PROP_MODEL,
      g_param_spec_string ("model", "Model", model_blurb, NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_NAME | G_PARAM_STATIC_NICK | GST_PARAM_MUTABLE_READY));
  g_free (model_blurb);
  g_object_class_install_property (gobject_class, GST_MSLAM_BASE_PROP_DEVICE,
      g_param_spec_enum ("device", "Device",
          "Where the encoder's full-context passes run (a caption's second pass, mslamlid's "
          "decision): Vulkan or the CPU; the chunk-by-chunk stream runs on the CPU",
          GST_TYPE_MSLAM_DEVICE, DEFAULT_DEVICE,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, GST_MSLAM_BASE_PROP_LATENCY,
      g_param_spec_uint ("latency", "Latency",
          "Audio encoded at a time, in milliseconds (rounded to 40 ms encoder frames): the model "
          "hears the audio, so partial results and language decisions come, this much (plus 45 ms "
          "of look-ahead and compute) after it. The LATENCY query answers the element's own "
          "delay: max-duration and a chunk for captions (mslamasr, mslamtranslate), hold-audio "
          "for mslamlid",
          MIN_LATENCY_MS, MAX_LATENCY_MS, DEFAULT_LATENCY_MS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, GST_MSLAM_BASE_PROP_N_THREADS,
      g_param_spec_int ("n-threads", "Threads",
          "Threads for the model (0: OpenMP's count on the thread that calls the library: "
          "OMP_NUM_THREADS, else all cores). A chunk is a few frames: one thread is usually "
          "fastest, more pay off for large models or long latencies",
          0, 256, DEFAULT_N_THREADS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, GST_MSLAM_BASE_PROP_LANGUAGES,
      g_param_spec_string ("languages", "Languages",
          "Comma-separated language codes of the model to choose among (e.g. \"en,fr,de\"; in any "
          "case, and ISO 639-2 codes or locales of its languages too: eng, fre, pt_BR); NULL or "
          "empty: all of the model's languages", NULL,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, GST_MSLAM_BASE_PROP_SECOND_PASS,
      g_param_spec_boolean ("second-pass", "Second pass",
          "Encode the audio behind each final result (a caption, a translation, a language "
          "decision's window) again with full attention context before it is decoded: offline "
          "accuracy for one more encoder pass over it (partial results stay streaming)",
          DEFAULT_SECOND_PASS, G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_READY));
  g_object_class_install_property (gobject_class, GST_MSLAM_BASE_PROP_STALL_TIMEOUT,
      g_param_spec_uint ("stall-timeout", "Stall timeout",
          "In a live pipeline (upstream's LATENCY query says live), while PLAYING: when no audio "
          "has come for this many milliseconds after the next buffer was due (a buffer's duration "
          "after the last one came, on the element's clock; the source stopped: "
          "a sender that went away, a discontinuous transmission that sends nothing in silence), "
          "what was said is complete and goes out, as after a long GAP, instead of waiting for "
          "more audio or EOS. 0: never",
          0, 60000, DEFAULT_STALL_TIMEOUT_MS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, GST_MSLAM_BASE_PROP_DISCONT_WAIT,
      g_param_spec_uint ("discont-wait", "Discont wait",
          "How long, in milliseconds of buffer time, a buffer time more than 40 ms off the samples "
          "counted so far must last before it counts (as audiobasesink's discont-wait): until "
          "then the audio is taken as continuous, so that the jitter of a live source that stamps "
          "buffers as they arrive changes nothing. A drift that lasts is then a hole heard as "
          "silence, an overlap dropped, or, beyond a second, a new timeline. A buffer marked "
          "DISCONT (packets lost) or the first after a GAP counts at once. 0: every drift counts "
          "at once",
          0, 60000, DEFAULT_DISCONT_WAIT_MS,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));
  g_object_class_install_property (gobject_class, GST_MSLAM_BASE_PROP_VOICE_THRESHOLD,
      g_param_spec_double ("voice-threshold", "Voice threshold",
          "The energy rule's absolute floor, in dBFS: a 10-ms block quieter than this (its "
          "energy about its mean) is never a voice, whatever the noise floor it learns. Characters "
          "heard where nothing was voiced go out in no caption, and no language is decided on "
          "them. Lower it for a quiet microphone, whose speech is loudest under about -45 dBFS over "
          "10 ms (-75 hears speech 40 dB quieter than espeak-ng's, which is loudest at -15 to -10 "
          "dBFS); -100: the noise floor's rule alone",
          -100.0, 0.0, DEFAULT_VOICE_THRESHOLD_DB,
          G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING));

  element_class->change_state = GST_DEBUG_FUNCPTR (gst_mslam_base_change_state);
  gst_element_class_add_static_pad_template (element_class, &sink_template);

  gst_type_mark_as_plugin_api (GST_TYPE_MSLAM_BASE, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_MSLAM_DEVICE, 0);
}

static void
gst_mslam_base_init (GTypeInstance * instance, gpointer g_class)
{
  GstMslamBase *self = (GstMslamBase *) instance;
  GstMslamBaseClass *klass = g_class;
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstPadTemplate *src_template;

  self->sinkpad = gst_pad_new_from_static_template (&sink_template, "sink");
  gst_pad_set_chain_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_mslam_base_chain));
  gst_pad_set_event_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_mslam_base_sink_event));
  gst_pad_set_query_function (self->sinkpad, GST_DEBUG_FUNCPTR (gst_mslam_base_sink_query));
  gst_element_add_pad (GST_ELEMENT (self), self->sinkpad);

  /* each subclass adds its own "src" template: audio (passthrough) or text */
  src_template = gst_element_class_get_pad_template (element_class, "src");
  g_assert (src_template != NULL);
  self->srcpad = gst_pad_new_from_template (src_template, "src");
  gst_pad_set_query_function (self->srcpad, GST_DEBUG_FUNCPTR (gst_mslam_base_src_query));
  if (klass->passthrough) {
    GST_PAD_SET_PROXY_CAPS (self->sinkpad);
    GST_PAD_SET_PROXY_CAPS (self->srcpad);
    GST_PAD_SET_PROXY_ALLOCATION (self->sinkpad);
  }
  gst_pad_use_fixed_caps (self->srcpad);
  gst_element_add_pad (GST_ELEMENT (self), self->srcpad);

  self->device = DEFAULT_DEVICE;
  self->latency_ms = DEFAULT_LATENCY_MS;
  self->n_threads = DEFAULT_N_THREADS;
  self->second_pass = DEFAULT_SECOND_PASS;
  self->stall_timeout_ms = DEFAULT_STALL_TIMEOUT_MS;
  self->discont_wait_ms = DEFAULT_DISCONT_WAIT_MS;
  self->voice_threshold_db = DEFAULT_VOICE_THRESHOLD_DB;
  self->drift_since = GST_CLOCK_TIME_NONE;
  g_mutex_init (&self->watch_lock);
  g_cond_init (&self->watch_cond);
  self->stall_deadline = GST_CLOCK_TIME_NONE;
  gst_segment_init (&self->segment, GST_FORMAT_TIME);
  gst_mslam_vad_init (&self->vad);
}

static void
gst_mslam_base_finalize (GObject * object)
{
  GstMslamBase *self = GST_MSLAM_BASE (object);

  g_free (self->model_path);
  g_free (self->languages);
  g_mutex_clear (&self->watch_lock);
  g_cond_clear (&self->watch_cond);
  gst_mslam_vad_clear (&self->vad);
  G_OBJECT_CLASS (gst_mslam_base_parent_class)->finalize (object);
}

static void
gst_mslam_base_set_property (GObject * object, guint prop_id, const GValue * value,
    GParamSpec * pspec)
{
  GstMslamBase *self = GST_MSLAM_BASE (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case GST_MSLAM_BASE_PROP_MODEL:
      g_free (self->model_path);
      self->model_path = g_value_dup_string (value);
      break;
    case GST_MSLAM_BASE_PROP_DEVICE:
      self->device = g_value_get_enum (value);
      break;
    case GST_MSLAM_BASE_PROP_LATENCY:
      self->latency_ms = g_value_get_uint (value);
      break;
    case GST_MSLAM_BASE_PROP_N_THREADS:
      self->n_threads = g_value_get_int (value);
      break;
    case GST_MSLAM_BASE_PROP_LANGUAGES:
      g_free (self->languages);
      self->languages = g_value_dup_string (value);
      break;
    case GST_MSLAM_BASE_PROP_SECOND_PASS:
      self->second_pass = g_value_get_boolean (value);
      break;
    case GST_MSLAM_BASE_PROP_STALL_TIMEOUT:
      self->stall_timeout_ms = g_value_get_uint (value);
      break;
    case GST_MSLAM_BASE_PROP_DISCONT_WAIT:
      self->discont_wait_ms = g_value_get_uint (value);
      break;
    case GST_MSLAM_BASE_PROP_VOICE_THRESHOLD:
      self->voice_threshold_db = g_value_get_double (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
  gst_mslam_base_warn_setting_waits (self, pspec);
}

void
gst_mslam_base_warn_setting_waits (GstMslamBase * self, GParamSpec * pspec)
{
  gboolean running;

  if (!(pspec->flags & GST_PARAM_MUTABLE_READY))
    return;
  GST_OBJECT_LOCK (self);
  running = self->running;
  GST_OBJECT_UNLOCK (self);
  /* (logged outside the lock, which logging an object takes) */
  if (running)
    GST_WARNING_OBJECT (self, "%s set while running: the element goes on with the value it started with, "
        "and takes the new one at its next start (READY to PAUSED)", g_param_spec_get_name (pspec));
}

static void
gst_mslam_base_get_property (GObject * object, guint prop_id, GValue * value, GParamSpec * pspec)
{
  GstMslamBase *self = GST_MSLAM_BASE (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case GST_MSLAM_BASE_PROP_MODEL:
      g_value_set_string (value, self->model_path);
      break;
    case GST_MSLAM_BASE_PROP_DEVICE:
      g_value_set_enum (value, self->device);
      break;
    case GST_MSLAM_BASE_PROP_LATENCY:
      g_value_set_uint (value, self->latency_ms);
      break;
    case GST_MSLAM_BASE_PROP_N_THREADS:
      g_value_set_int (value, self->n_threads);
      break;
    case GST_MSLAM_BASE_PROP_LANGUAGES:
      g_value_set_string (value, self->languages);
      break;
    case GST_MSLAM_BASE_PROP_SECOND_PASS:
      g_value_set_boolean (value, self->second_pass);
      break;
    case GST_MSLAM_BASE_PROP_STALL_TIMEOUT:
      g_value_set_uint (value, self->stall_timeout_ms);
      break;
    case GST_MSLAM_BASE_PROP_DISCONT_WAIT:
      g_value_set_uint (value, self->discont_wait_ms);
      break;
    case GST_MSLAM_BASE_PROP_VOICE_THRESHOLD:
      g_value_set_double (value, self->voice_threshold_db);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

GstClockTime
gst_mslam_base_sample_time (GstMslamBase * self, guint64 n)
{
  return self->t0 + gst_util_uint64_scale_int_round (n, GST_SECOND, MSLAM_SAMPLE_RATE);
}

GstClockTime
gst_mslam_base_frame_time (GstMslamBase * self, guint64 i)
{
  return gst_mslam_base_sample_time (self, i * GST_MSLAM_FRAME_SAMPLES);
}

const gchar *
gst_mslam_base_lang (GstMslamBase * self, gint index)
{
  return self->model ? mslam_model_lang (self->model, index) : NULL;
}

gint
gst_mslam_base_setting (GstMslamBase * self, const gint * running, const guint * property,
    gint (*convert) (guint))
{
  gint value;

  GST_OBJECT_LOCK (self);
  if (self->running)
    value = *running;
  else
    value = convert ? convert (*property) : (gint) (*property);
  GST_OBJECT_UNLOCK (self);
  return value;
}

gint
gst_mslam_base_chunk_frames (GstMslamBase * self)
{
  return gst_mslam_base_setting (self, &self->chunk_frames, &self->latency_ms,
      gst_mslam_frames_for_ms);
}

void
gst_mslam_base_model_error (GstMslamBase * self, const gchar * format, ...)
{
  va_list args;
  gchar *reason;

  va_start (args, format);
  reason = g_strdup_vprintf (format, args);
  va_end (args);
  GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
      ("Cannot use the mslam model \"%s\": %s", self->model_file, reason),
      ("model=%s", self->model_file));
  g_free (reason);
}

void
gst_mslam_base_file_error (GstMslamBase * self, const gchar * property, const gchar * path,
    const gchar * reason)
{
  GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
      ("Cannot use %s=\"%s\": %s", property, path, reason),
      ("%s=%s, model=%s", property, path, self->model_file));
}

mslam_lm *
gst_mslam_base_load_lm (GstMslamBase * self, const gchar * path, gboolean translations)
{
  const gchar *property = translations ? "translation-lm" : "lm";
  mslam_lm *lm;

  if (!translations && !self->config.ctc_head) {
    gst_mslam_base_file_error (self, property, path, "the model has no CTC head, so the LM has no "
        "transcript to score (unset lm)");
    return NULL;
  }
  lm = mslam_lm_load (path);
  if (!lm || mslam_lm_check_model (lm, self->model) < 0) {
    gst_mslam_base_file_error (self, property, path, mslam_last_error ());
    mslam_lm_free (lm);
    return NULL;
  }
  if (!mslam_lm_of_translations (lm) != !translations) {
    gst_mslam_base_file_error (self, property, path, translations ?
        "the LM models transcripts, not English translations (build one with mslam-trainer lm "
        "--translations; a transcripts' LM is the lm property)" :
        "the LM models English translations, not transcripts (it is mslamtranslate's translation-lm)");
    mslam_lm_free (lm);
    return NULL;
  }
  return lm;
}

void
gst_mslam_audio_history_append (GstMslamAudioHistory * h, const gfloat * pcm, gsize n, guint64 first)
{
  /* a gap in what was kept would put samples at the wrong times: start again from here */
  if (first != h->first + h->n) {
    GST_WARNING ("audio history at sample %" G_GUINT64_FORMAT ", got sample %" G_GUINT64_FORMAT
        "; starting it again", h->first + h->n, first);
    h->n = 0;
    h->first = first;
  }
  if (h->n + n > h->cap) {
    h->cap = MAX (h->n + n, 2 * h->cap);
    h->pcm = g_renew (gfloat, h->pcm, h->cap);
  }
  memcpy (h->pcm + h->n, pcm, n * sizeof (gfloat));
  h->n += n;
}

void
gst_mslam_audio_history_drop_before (GstMslamAudioHistory * h, guint64 from)
{
  gsize k;

  if (from <= h->first)
    return;
  k = (gsize) MIN (from - h->first, (guint64) h->n);
  if (k < h->n)
    memmove (h->pcm, h->pcm + k, (h->n - k) * sizeof (gfloat));
  h->n -= k;
  h->first += k;
}

void
gst_mslam_audio_history_reset (GstMslamAudioHistory * h)
{
  h->n = 0;
  h->first = 0;
}

void
gst_mslam_audio_history_free (GstMslamAudioHistory * h)
{
  g_free (h->pcm);
  h->pcm = NULL;
  h->n = h->cap = 0;
  h->first = 0;
}

gboolean
gst_mslam_base_flushing (GstMslamBase * self)
{
  gboolean flushing;

  GST_OBJECT_LOCK (self->sinkpad);
  flushing = GST_PAD_IS_FLUSHING (self->sinkpad);
  GST_OBJECT_UNLOCK (self->sinkpad);
  return flushing || g_atomic_int_get (&self->flush_starts) != g_atomic_int_get (&self->flush_starts_stopped);
}

int
gst_mslam_base_abort_if_flushing (void *self)
{
  return gst_mslam_base_flushing (GST_MSLAM_BASE (self));
}

gfloat *
gst_mslam_base_encode_again (GstMslamBase * self, guint64 start, guint64 end, gint * n)
{
  const GstMslamAudioHistory *h = &self->audio;
  struct mslam_encode_params params = mslam_encode_default_params ();
  guint64 from = start * GST_MSLAM_FRAME_SAMPLES;
  /* up to 639 samples after the frames (still end - start frames): the last frame reads them,
   * real audio mid-stream, and at a timeline's end the tail that no whole frame holds */
  guint64 until = MIN (end * GST_MSLAM_FRAME_SAMPLES + GST_MSLAM_FRAME_SAMPLES - 1, h->first + h->n);
  gfloat *frames;

  *n = 0;
  if (!self->running_second_pass)
    return NULL;
  if (from < h->first || until <= from) {
    GST_WARNING_OBJECT (self, "no audio kept for frames %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT
        " (samples %" G_GUINT64_FORMAT "-%" G_GUINT64_FORMAT " kept); the stream's frames stand",
        start, end, h->first, h->first + h->n);
    return NULL;
  }
  params.n_threads = self->threads;
  params.abort_callback = gst_mslam_base_abort_if_flushing;
  params.abort_callback_user_data = self;
  frames = mslam_encode_pcm (self->model, h->pcm + (from - h->first), (gsize) (until - from),
      &params, n);
  if (!frames) {
    if (gst_mslam_base_flushing (self))
      GST_DEBUG_OBJECT (self, "the second pass stopped: the element is flushing (%s)", mslam_last_error ());
    else
      GST_WARNING_OBJECT (self, "the second pass failed (%s); the stream's frames stand",
          mslam_last_error ());
    return NULL;
  }
  *n = MIN (*n, (gint) (end - start));
  if (*n <= 0) {
    mslam_free (frames);
    return NULL;
  }
  return frames;
}

gint
gst_mslam_base_identify (GstMslamBase * self, const gfloat * frames, gint n,
    gint * out_index, gfloat * out_prob, gint max_out, gchar ** reason)
{
  struct mslam_decode_params p = mslam_decode_default_params ();
  gint n_langs = self->config.n_langs, n_out = 0;
  gfloat *probs;

  p.languages = self->lang_list;
  p.n_threads = self->threads;
  p.lm = self->lid_lm;
  p.lid_lm_weight = self->lid_lm_weight;
  probs = g_new (gfloat, n_langs);
  if (mslam_identify_language_frames (self->model, frames, n, &p, probs) < 0) {
    *reason = g_strdup (mslam_last_error ());
    g_free (probs);
    return -1;
  }
  /* the top max_out by selection: n_langs is small */
  for (; n_out < max_out; n_out++) {
    gint best = -1;
    for (gint i = 0; i < n_langs; i++)
      if (probs[i] > 0.0f && (best < 0 || probs[i] > probs[best]))
        best = i;
    if (best < 0)
      break;
    out_index[n_out] = best;
    out_prob[n_out] = probs[best];
    probs[best] = -1.0f;
  }
  g_free (probs);
  return n_out;
}

void
gst_mslam_base_post (GstMslamBase * self, GstStructure * s)
{
  /* a result of audio a flush (a seek) or a stop has thrown away: its text is not pushed
   * either */
  if (gst_mslam_base_flushing (self)) {
    GST_DEBUG_OBJECT (self, "flushing: %" GST_PTR_FORMAT " not posted", s);
    gst_structure_free (s);
    return;
  }
  gst_element_post_message (GST_ELEMENT (self), gst_message_new_element (GST_OBJECT (self), s));
}

/* The model's index of a language code in any case (EN, en: a model's codes differ in more than
 * case; the trainer refuses ES and es together), -1 when it has none. */
static gint
model_language_exact (GstMslamBase * self, const gchar * code)
{
  for (gint i = 0; i < self->config.n_langs; i++)
    if (g_ascii_strcasecmp (code, mslam_model_lang (self->model, i)) == 0)
      return i;
  return -1;
}

/* The model's index of a language as GStreamer and applications write it: the model's code, or
 * another form of it, as a media app has it at hand: ISO 639-2 (eng, fre, deu: Matroska's
 * track headers; GStreamer's language-code tag allows it) or a locale or BCP 47 tag (en_US,
 * pt-BR), whose language is the model's. -1 when it has none. */
static gint
model_language (GstMslamBase * self, const gchar * code)
{
  gint found = model_language_exact (self, code);
  gchar *primary, *lower;
  const gchar *iso_639_1;

  if (found >= 0)
    return found;
  primary = g_strndup (code, strcspn (code, "-_"));
  if (strcmp (primary, code) != 0)
    found = model_language_exact (self, primary);
  lower = g_ascii_strdown (primary, -1);
  iso_639_1 = gst_tag_get_language_code_iso_639_1 (lower);
  if (found < 0 && iso_639_1)
    found = model_language_exact (self, iso_639_1);
  g_free (lower);
  g_free (primary);
  return found;
}

/* "en, fr" -> indices of the model's languages, each once (en,eng or en,en_US name one language,
 * which is then the one language the list names); FALSE after an element error for a code the
 * model lacks. */
static gboolean
parse_languages (GstMslamBase * self, const gchar * list)
{
  gchar **codes;
  gint n_langs = self->config.n_langs;

  g_free (self->lang_ids);
  self->lang_ids = NULL;
  self->n_lang_ids = 0;
  if (!list || !*list)
    return TRUE;
  codes = g_strsplit_set (list, ", ", -1);
  self->lang_ids = g_new0 (gint, g_strv_length (codes) + 1);
  for (gchar ** c = codes; *c; c++) {
    gboolean named_before = FALSE;
    gint found;
    if (!**c)
      continue;
    found = model_language (self, *c);
    if (found < 0) {
      GString *all = g_string_new (NULL);
      for (gint i = 0; i < n_langs; i++)
        g_string_append_printf (all, "%s%s", i ? ", " : "", mslam_model_lang (self->model, i));
      GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
          ("languages: \"%s\" is not a language of the model \"%s\" (it has: %s)", *c, self->model_file,
              n_langs ? all->str : "none"), ("languages=%s", list));
      g_string_free (all, TRUE);
      g_strfreev (codes);
      return FALSE;
    }
    for (gint i = 0; i < self->n_lang_ids; i++)
      named_before |= self->lang_ids[i] == found;
    if (!named_before)
      self->lang_ids[self->n_lang_ids++] = found;
  }
  g_strfreev (codes);
  if (self->n_lang_ids == 0) {
    /* "," or " ": as the library's list, one naming no language is a mistake, not "all" */
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("languages: \"%s\" names no language (leave it empty for all of the model's)", list),
        ("languages=%s", list));
    return FALSE;
  }
  return TRUE;
}

/* The timeline starts again: the stream forgets its context, the next buffer sets t0. The first
 * bytes of a sample that the last buffer left stay (see forget_split_sample): a timeline ends on
 * timestamps (a stall, a jump), not on bytes lost. */
static void
timeline_reset (GstMslamBase * self)
{
  GstMslamBaseClass *klass = GST_MSLAM_BASE_GET_CLASS (self);

  if (self->stream)
    mslam_stream_reset (self->stream);
  self->started = FALSE;
  self->t0 = 0;
  self->n_samples = 0;
  self->n_frames = 0;
  self->drift_since = GST_CLOCK_TIME_NONE;
  self->resync = FALSE;
  gst_mslam_vad_restart (&self->vad);
  gst_mslam_audio_history_reset (&self->audio);
  if (klass->reset && self->model)
    klass->reset (self);
}

/* A live source that stops (below the sink event handler) */
static void watch_start (GstMslamBase * self);
static void watch_stop (GstMslamBase * self);
static void watch_disarm (GstMslamBase * self);
static gboolean upstream_is_live (GstMslamBase * self);
static void watch_due (GstMslamBase * self, GstClockTime after, gboolean keep_later);

static void
base_stop (GstMslamBase * self)
{
  GstMslamBaseClass *klass = GST_MSLAM_BASE_GET_CLASS (self);

  watch_stop (self);
  GST_OBJECT_LOCK (self);
  self->running = FALSE;
  GST_OBJECT_UNLOCK (self);
  if (klass->stop)
    klass->stop (self);
  mslam_stream_free (self->stream);
  self->stream = NULL;
  gst_mslam_model_release (self->model);
  self->model = NULL;
  g_free (self->model_file);
  self->model_file = NULL;
  g_free (self->lang_ids);
  self->lang_ids = NULL;
  self->n_lang_ids = 0;
  g_free (self->lang_list);
  self->lang_list = NULL;
  g_free (self->pcm);
  self->pcm = NULL;
  self->pcm_cap = 0;
  self->n_split = 0;
  g_free (self->frames);
  self->frames = NULL;
  self->frames_cap = 0;
  gst_mslam_audio_history_free (&self->audio);
  self->have_info = FALSE;
  g_atomic_int_set (&self->upstream_live, FALSE);
  gst_caps_replace (&self->refused_caps, NULL);
  self->refused_format = GST_FORMAT_UNDEFINED;
  self->reverse_said = FALSE;
  g_queue_clear_full (&self->held, (GDestroyNotify) gst_mini_object_unref);
  self->held_duration = 0;
  self->hold_max = 0;
}

/* READY->PAUSED: the model (shared through the cache), its stream and the subclass' state. A
 * failure is an element error naming the model file and the reason. */
static gboolean
base_start (GstMslamBase * self)
{
  GstMslamBaseClass *klass = GST_MSLAM_BASE_GET_CLASS (self);
  struct mslam_stream_params sp = mslam_stream_default_params ();
  gchar *reason = NULL, *languages;
  const gchar *model_from;
  GstMslamDevice device;
  guint latency_ms;
  gint left_frames;

  /* (a flush that a stop cut short, its FLUSH_STOP never handled, is over) */
  g_atomic_int_set (&self->flush_starts, 0);
  g_atomic_int_set (&self->flush_starts_stopped, 0);
  GST_OBJECT_LOCK (self);
  /* "" as unset, as languages="" is; model_from: where the path came from, for an error */
  model_from = "the model property";
  self->model_file = g_strdup (self->model_path && *self->model_path ? self->model_path :
      gst_mslam_default_model_path (&model_from));
  device = self->device;
  latency_ms = self->latency_ms;
  self->threads = self->n_threads;
  self->running_second_pass = self->second_pass;
  languages = g_strdup (self->languages);
  GST_OBJECT_UNLOCK (self);

  GST_INFO_OBJECT (self, "loading model %s", self->model_file);
  self->model = gst_mslam_model_acquire (self->model_file, device, &reason);
  if (!self->model && strstr (reason, ": device vulkan: ")) {
    /* the file is a model; the device it was asked to run on failed (mslam_model_load's
     * "PATH: device vulkan: WHY") */
    GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS,
        ("Could not run the mslam model \"%s\" on device=vulkan: %s", self->model_file,
            strstr (reason, ": device vulkan: ") + strlen (": device vulkan: ")),
        ("device=vulkan; set device=auto or cpu, or MSLAM_VULKAN_DEVICE to a Vulkan device"));
    g_free (reason);
    goto failed;
  }
  if (!self->model) {
    /* GST_ELEMENT_ERROR's code is a name; this one depends on whether the file is there */
    gst_element_message_full (GST_ELEMENT (self), GST_MESSAGE_ERROR, GST_RESOURCE_ERROR,
        g_file_test (self->model_file, G_FILE_TEST_EXISTS) ? GST_RESOURCE_ERROR_OPEN_READ :
        GST_RESOURCE_ERROR_NOT_FOUND,
        g_strdup_printf ("Could not load the mslam model \"%s\" (%s): %s", self->model_file, model_from, reason),
        g_strdup_printf ("model=%s; set the model property or MSLAM_MODEL to a model file", self->model_file),
        __FILE__, GST_FUNCTION, __LINE__);
    g_free (reason);
    goto failed;
  }
  self->config = mslam_model_get_config (self->model);
  if (!parse_languages (self, languages))
    goto failed;
  if (self->n_lang_ids > 0) {
    /* the codes as the library reads them: comma-separated, no spaces */
    GString *list = g_string_new (NULL);
    for (gint i = 0; i < self->n_lang_ids; i++)
      g_string_append_printf (list, "%s%s", i ? "," : "", mslam_model_lang (self->model,
              self->lang_ids[i]));
    self->lang_list = g_string_free (list, FALSE);
  }

  /* The chunk is the latency; the cached left context stays about as long as the library's
   * default (4 chunks of 320 ms) whatever the chunk: the trainer's random chunk sizes and left
   * contexts cover that range, and a fixed context keeps the cost per second of audio flat. */
  left_frames = sp.chunk_frames * (sp.left_chunks > 0 ? sp.left_chunks : 1);
  self->chunk_frames = gst_mslam_frames_for_ms (latency_ms);
  sp.chunk_frames = self->chunk_frames;
  sp.left_chunks = MAX (1, (left_frames + self->chunk_frames - 1) / self->chunk_frames);
  sp.n_threads = self->threads;
  self->stream = mslam_stream_new (self->model, sp);
  if (!self->stream) {
    gst_mslam_base_model_error (self, "%s", mslam_last_error ());
    goto failed;
  }
  if (klass->start && !klass->start (self))
    goto failed;
  timeline_reset (self);
  self->text_end = GST_CLOCK_TIME_NONE;
  gst_mslam_vad_reset (&self->vad);
  watch_start (self);
  GST_OBJECT_LOCK (self);
  self->running = TRUE;
  GST_OBJECT_UNLOCK (self);
  g_free (languages);
  return TRUE;

failed:
  g_free (languages);
  base_stop (self);
  return FALSE;
}

/* Whether the segment's audio plays backwards: a reverse seek (rate), or reversed upstream
 * already (applied_rate: scaletempo's). */
static gboolean
segment_reversed (const GstSegment * segment)
{
  return segment->rate * segment->applied_rate < 0.0;
}

/* A GAP over the segment: audio played backwards gets no text (a sink syncs a reversed GAP on
 * its stop, which plays first). */
static GstEvent *
gap_over_segment (const GstSegment * segment)
{
  return gst_event_new_gap (segment->start, GST_CLOCK_TIME_IS_VALID (segment->stop) ?
      segment->stop - segment->start : GST_CLOCK_TIME_NONE);
}

/* Paused (a sink downstream waits for something to preroll on): a GAP of no duration where the
 * text stands, on which the text's sink prerolls. A caption goes out when its speech has ended:
 * paused mid-caption, beside an audio sink through a tee whose other queue filled, no more audio
 * came to end it, and the pipeline waited for good (also after PLAYING again). Called from a
 * thread of its own: it waits for the streaming thread, which may be inside the element. */
static void
preroll_text (GstElement * element, gpointer data)
{
  GstMslamBase *self = GST_MSLAM_BASE (element);
  gboolean paused;
  GstEvent *gap = NULL;

  (void) data;
  GST_PAD_STREAM_LOCK (self->sinkpad);
  /* (called at once, it may run before the change of state is recorded) */
  GST_OBJECT_LOCK (self);
  paused = GST_STATE_TARGET (self) == GST_STATE_PAUSED && (GST_STATE (self) == GST_STATE_PAUSED ||
      GST_STATE_NEXT (self) == GST_STATE_PAUSED);
  GST_OBJECT_UNLOCK (self);
  /* played backwards, nothing is fed: the GAP over the segment again */
  if (segment_reversed (&self->segment))
    gap = gap_over_segment (&self->segment);
  else if (self->started && GST_CLOCK_TIME_IS_VALID (self->text_end))
    gap = gst_event_new_gap (self->text_end, 0);
  if (gap && paused && !gst_mslam_base_flushing (self)) {
    GST_DEBUG_OBJECT (self, "paused: %" GST_PTR_FORMAT " for the text's sink to preroll on", gap);
    gst_pad_push_event (self->srcpad, gap);
  } else if (gap) {
    gst_event_unref (gap);
  }
  GST_PAD_STREAM_UNLOCK (self->sinkpad);
}

static GstStateChangeReturn
gst_mslam_base_change_state (GstElement * element, GstStateChange transition)
{
  GstMslamBase *self = GST_MSLAM_BASE (element);
  GstStateChangeReturn ret;

  if (transition == GST_STATE_CHANGE_READY_TO_PAUSED && !base_start (self))
    return GST_STATE_CHANGE_FAILURE;
  /* paused, nothing is due; playing again, the audio is due from now (the clock ran on) */
  if (transition == GST_STATE_CHANGE_PLAYING_TO_PAUSED)
    watch_disarm (self);
  else if (transition == GST_STATE_CHANGE_PAUSED_TO_PLAYING)
    watch_due (self, 0, FALSE);

  ret = GST_ELEMENT_CLASS (gst_mslam_base_parent_class)->change_state (element, transition);
  if (ret == GST_STATE_CHANGE_FAILURE) {
    if (transition == GST_STATE_CHANGE_READY_TO_PAUSED)
      base_stop (self);
    return ret;
  }

  if (transition == GST_STATE_CHANGE_PLAYING_TO_PAUSED && !GST_MSLAM_BASE_GET_CLASS (self)->passthrough)
    gst_element_call_async (element, preroll_text, NULL, NULL);
  /* after the parent deactivated the pads: no streaming thread is inside the element */
  if (transition == GST_STATE_CHANGE_PAUSED_TO_READY) {
    base_stop (self);
    gst_segment_init (&self->segment, GST_FORMAT_TIME);
  }
  return ret;
}

/* Reads every ready frame from the stream and hands them to the subclass. */
static GstFlowReturn
deliver_frames (GstMslamBase * self)
{
  GstMslamBaseClass *klass = GST_MSLAM_BASE_GET_CLASS (self);
  gint ready = mslam_stream_n_ready (self->stream), n;
  gsize d = (gsize) self->config.d_model;
  GstFlowReturn ret = GST_FLOW_OK;

  if (ready <= 0)
    return GST_FLOW_OK;
  if ((gsize) ready > self->frames_cap) {
    self->frames_cap = MAX ((gsize) ready, 2 * self->frames_cap);
    self->frames = g_renew (gfloat, self->frames, self->frames_cap * d);
  }
  n = mslam_stream_read (self->stream, self->frames, ready);
  for (gint done = 0, k; done < n && ret == GST_FLOW_OK; done += k) {
    guint64 first = self->n_frames;
    k = klass->process_limit ? MIN (n - done, klass->process_limit (self)) : n - done;
    self->n_frames += k;
    if (klass->process)
      ret = klass->process (self, self->frames + (gsize) done * d, k, first);
  }
  return ret;
}

/* End of the timeline (EOS, a discontinuity, a gap): the stream encodes its last, shorter
 * chunk; every frame goes to the subclass, which emits what it has pending. */
static GstFlowReturn
finish_timeline (GstMslamBase * self)
{
  GstMslamBaseClass *klass = GST_MSLAM_BASE_GET_CLASS (self);
  GstFlowReturn ret;

  if (!self->stream || !self->started)
    return GST_FLOW_OK;
  gst_mslam_vad_end (&self->vad);
  if (mslam_stream_finish (self->stream) < 0) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("mslam encoder failed: %s", mslam_last_error ()), (NULL));
    return GST_FLOW_ERROR;
  }
  ret = deliver_frames (self);
  if (ret == GST_FLOW_OK && klass->drain)
    ret = klass->drain (self);
  return ret;
}

static void
pcm_reserve (GstMslamBase * self, gsize n)
{
  if (n > self->pcm_cap) {
    self->pcm_cap = MAX (n, 2 * self->pcm_cap);
    self->pcm = g_renew (gfloat, self->pcm, self->pcm_cap);
  }
}

/* The n samples in self->pcm go on the timeline: the energy rule, the audio history, the encoder
 * and what the subclass makes of its frames. */
static GstFlowReturn
feed_pcm (GstMslamBase * self, gsize n)
{
  GstMslamBaseClass *klass = GST_MSLAM_BASE_GET_CLASS (self);
  gint ready;

  /* voice-threshold may change while playing: the rule takes a copy per buffer, which it then
   * reads without the lock */
  GST_OBJECT_LOCK (self);
  self->vad.threshold_db = self->voice_threshold_db;
  GST_OBJECT_UNLOCK (self);
  gst_mslam_vad_push (&self->vad, self->pcm, n);
  if (self->running_second_pass)
    gst_mslam_audio_history_append (&self->audio, self->pcm, n, self->n_samples);
  self->n_samples += n;
  ready = mslam_stream_push (self->stream, self->pcm, n);
  if (ready < 0) {
    GST_ELEMENT_ERROR (self, STREAM, FAILED, ("mslam encoder failed: %s", mslam_last_error ()), (NULL));
    return GST_FLOW_ERROR;
  }
  if (ready > 0)
    return deliver_frames (self);
  return klass->audio ? klass->audio (self) : GST_FLOW_OK;
}

/* n samples of silence on the timeline: a dropout (a short GAP, or a hole in the timestamps).
 * Its zeros are no measure of the room's noise: the energy rule's floor stays as it was (the
 * rule leaves it at digital silence; this also covers the block that mixes the last samples with
 * the zeros, which would lower it). A sample that the last
 * buffer left unfinished is still finished by the next one: the hole is one of timestamps (a live
 * source's jitter), not of bytes. */
static GstFlowReturn
feed_silence (GstMslamBase * self, gsize n)
{
  gdouble noise_db = self->vad.noise_db;
  GstFlowReturn ret;

  if (n == 0)
    return GST_FLOW_OK;
  pcm_reserve (self, n);
  memset (self->pcm, 0, n * sizeof (gfloat));
  ret = feed_pcm (self, n);
  self->vad.noise_db = noise_db;
  return ret;
}

/* n 16-bit or float samples at data -> floats in [-1, 1] at out. */
static void
convert_samples (GstMslamBase * self, const guint8 * data, gsize n, gfloat * out)
{
  if (GST_AUDIO_INFO_FORMAT (&self->info) == GST_AUDIO_FORMAT_S16LE) {
    for (gsize i = 0; i < n; i++) {
      gint16 s;
      memcpy (&s, data + 2 * i, 2);
      out[i] = GINT16_FROM_LE (s) / 32768.0f;
    }
  } else {
    /* memcpy: mapped memory need not be aligned for floats */
    memcpy (out, data, n * sizeof (gfloat));
    /* a glitch upstream should not stop captioning: the library refuses NaN, and a sample far
     * beyond full scale (1e19) overflows the log-mel features into NaN, which failed the element;
     * samples are clamped to full scale, as a conversion to integer samples would */
    for (gsize i = 0; i < n; i++) {
      if (isnan (out[i]))
        out[i] = 0.0f;
      else
        out[i] = CLAMP (out[i], -1.0f, 1.0f);
    }
  }
}

/* The first bytes of a sample that the last buffer left for the next one are dropped where the
 * bytes that come next do not go on from them: a flush, another stream, EOS, another format, a
 * buffer marked DISCONT (bytes lost upstream; a parser's next buffer starts on a sample). Not at
 * a timeline's end or a dropout's silence, which timestamps decide: a live source that pauses or
 * jitters goes on with the next byte, and dropping the bytes made every later sample of two. */
static void
forget_split_sample (GstMslamBase * self, const gchar * why)
{
  if (self->n_split > 0)
    GST_DEBUG_OBJECT (self, "%s: the %u bytes of a sample that the last buffer began are dropped",
        why, self->n_split);
  self->n_split = 0;
}

/* How many samples buf completes: with the first bytes of one that the last buffer left. */
static gsize
buffer_samples (GstMslamBase * self, GstBuffer * buf)
{
  return (self->n_split + gst_buffer_get_size (buf)) / GST_AUDIO_INFO_BPF (&self->info);
}

/* The buffer's samples -> floats in [-1, 1] in self->pcm; their count, buffer_samples' (0: none,
 * self->pcm untouched). The audio is a stream of bytes, as for rawaudioparse: a buffer that ends
 * inside a sample (an application that pushes what it read from a socket or a file, in any size)
 * leaves that sample's first bytes for the next buffer to complete, where dropping them misread
 * every sample after them (16-bit: loud noise; float: garbage values). */
static gsize
convert_audio (GstMslamBase * self, GstBuffer * buf)
{
  guint bpf = GST_AUDIO_INFO_BPF (&self->info);
  GstMapInfo map;
  gsize n = 0, whole, offset = 0;

  if (!gst_buffer_map (buf, &map, GST_MAP_READ)) {
    GST_WARNING_OBJECT (self, "could not map an audio buffer: its samples are skipped");
    forget_split_sample (self, "an audio buffer could not be read");
    return 0;
  }
  /* an empty buffer may map to no memory */
  if (map.size == 0) {
    gst_buffer_unmap (buf, &map);
    return 0;
  }
  g_assert (bpf <= sizeof self->split_sample);
  pcm_reserve (self, (self->n_split + map.size) / bpf + 1);
  if (self->n_split > 0) {
    offset = MIN (bpf - self->n_split, map.size);
    memcpy (self->split_sample + self->n_split, map.data, offset);
    self->n_split += offset;
    if (self->n_split < bpf) {
      gst_buffer_unmap (buf, &map);
      return 0;
    }
    convert_samples (self, self->split_sample, 1, self->pcm);
    self->n_split = 0;
    n = 1;
  }
  whole = (map.size - offset) / bpf;
  convert_samples (self, map.data + offset, whole, self->pcm + n);
  n += whole;
  self->n_split = map.size - offset - whole * bpf;
  if (self->n_split > 0) {
    GST_LOG_OBJECT (self, "a buffer ends %u bytes into a sample", self->n_split);
    memcpy (self->split_sample, map.data + offset + whole * bpf, self->n_split);
  }
  gst_buffer_unmap (buf, &map);
  return n;
}

/* Which of the n samples that a buffer completes lie inside the segment: [*first, *end); FALSE
 * when none does. *pts, the buffer's, is the time of its first sample, the one its first byte is
 * in (begun in the last buffer or not), and becomes that of the first one kept. Clipped in
 * samples: gst_audio_buffer_clip cuts whole frames of the buffer's own bytes, which lost the
 * bytes of a sample that the buffer begins or ends inside, and with them where every later
 * sample begins. */
static gboolean
clip_to_segment (GstMslamBase * self, GstClockTime * pts, gsize n, gsize * first, gsize * end)
{
  gint rate = GST_AUDIO_INFO_RATE (&self->info);
  guint64 start, stop, clip_start, clip_stop, before, after;

  *first = 0;
  *end = n;
  if (n == 0)
    return FALSE;
  /* no timestamp: inside the segment */
  if (!GST_CLOCK_TIME_IS_VALID (*pts))
    return TRUE;
  start = *pts;
  stop = start + gst_util_uint64_scale (n, GST_SECOND, rate);
  if (!gst_segment_clip (&self->segment, GST_FORMAT_TIME, start, stop, &clip_start, &clip_stop))
    return FALSE;
  before = gst_util_uint64_scale (clip_start - start, rate, GST_SECOND);
  after = gst_util_uint64_scale (stop - clip_stop, rate, GST_SECOND);
  if (before + after >= n)
    return FALSE;
  *first = before;
  *end = n - after;
  *pts = clip_start;
  return TRUE;
}

static GstEvent *with_stream_language (GstMslamBase * self, GstEvent * event);

GstFlowReturn
gst_mslam_base_release_held (GstMslamBase * self)
{
  GstFlowReturn ret = GST_FLOW_OK;
  GstMiniObject *obj;

  if (self->hold_max > 0)
    GST_DEBUG_OBJECT (self, "releasing %" GST_TIME_FORMAT " of held audio",
        GST_TIME_ARGS (self->held_duration));
  self->hold_max = 0;
  self->held_duration = 0;
  while ((obj = g_queue_pop_head (&self->held))) {
    if (GST_IS_BUFFER (obj)) {
      /* after a failed push the audio is dropped, the events still go */
      if (ret == GST_FLOW_OK)
        ret = gst_pad_push (self->srcpad, GST_BUFFER_CAST (obj));
      else
        gst_buffer_unref (GST_BUFFER_CAST (obj));
    } else {
      /* a tag event held from before the decision gets the language the decision has given */
      gst_pad_push_event (self->srcpad, with_stream_language (self, GST_EVENT_CAST (obj)));
    }
  }
  return ret;
}

/* Held data goes before a serialized query, which must not overtake it (DRAIN, ALLOCATION):
 * the hold ends there. */
static void
release_held_for_query (GstMslamBase * self, GstQuery * query)
{
  if (g_queue_is_empty (&self->held))
    return;
  GST_INFO_OBJECT (self, "%s query: the held audio goes first", GST_QUERY_TYPE_NAME (query));
  if (gst_mslam_base_release_held (self) != GST_FLOW_OK)
    GST_DEBUG_OBJECT (self, "pushing the held audio failed");
}

/* Flushing: the held audio and the timeline's events go, but the sticky events that describe
 * the stream (STREAM_START, CAPS, TAG, ...), which upstream does not send again, are taken to
 * `sticky` for the source pad. */
static void
flush_held (GstMslamBase * self, GQueue * sticky)
{
  GstMiniObject *obj;

  while ((obj = g_queue_pop_head (&self->held))) {
    if (GST_IS_EVENT (obj) && GST_EVENT_IS_STICKY (obj) &&
        GST_EVENT_TYPE (obj) != GST_EVENT_SEGMENT && GST_EVENT_TYPE (obj) != GST_EVENT_EOS)
      g_queue_push_tail (sticky, obj);
    else
      gst_mini_object_unref (obj);
  }
  self->held_duration = 0;
}

/* Passthrough: the audio goes downstream, or waits while the element holds it back; duration:
 * how long it lasts, by the samples it completes (its whole samples alone ran short of the audio
 * held when buffers end inside samples). */
static GstFlowReturn
forward_audio (GstMslamBase * self, GstBuffer * buf, GstClockTime duration)
{
  GstBuffer *copy;

  if (self->hold_max == 0)
    return gst_pad_push (self->srcpad, buf);
  self->held_duration += duration;
  /* a copy: upstream's buffer may come from a pool of a few (pipewiresrc, alsasrc), which would
   * run dry while the hold keeps them, long before hold_max */
  copy = gst_buffer_copy_deep (buf);
  gst_buffer_unref (buf);
  g_queue_push_tail (&self->held, copy);
  if (self->held_duration < self->hold_max)
    return GST_FLOW_OK;
  GST_INFO_OBJECT (self, "%" GST_TIME_FORMAT " of audio held: passing it on",
      GST_TIME_ARGS (self->held_duration));
  if (GST_MSLAM_BASE_GET_CLASS (self)->hold_expired)
    GST_MSLAM_BASE_GET_CLASS (self)->hold_expired (self);
  return gst_mslam_base_release_held (self);
}

/* An event for downstream: a serialized one waits behind held audio, so that the order stays. */
static gboolean
forward_event (GstMslamBase * self, GstEvent * event)
{
  if (GST_EVENT_IS_SERIALIZED (event) && !g_queue_is_empty (&self->held)) {
    g_queue_push_tail (&self->held, event);
    return TRUE;
  }
  return gst_pad_push_event (self->srcpad, event);
}

/* How far a buffer time may be from the samples counted so far before it is a drift: a hole, an
 * overlap or a jump (GStreamer's audio sinks use the same 40 ms); see drift_counts. */
#define DISCONT_TOLERANCE (40 * GST_MSECOND)
/* a GAP up to this long is a dropout, heard as silence; a longer one ends the timeline */
#define SHORT_GAP (1 * GST_SECOND)

/* Whether a buffer at pts, more than DISCONT_TOLERANCE off the samples counted, is to be acted
 * on: marked DISCONT (discont), the first after a dropout's GAP, or the drift has lasted
 * discont-wait of buffer time since it was first seen, as GstAudioBaseSink's discont-wait. Until
 * then the samples are taken as continuous: a live source that stamps its buffers as they
 * arrive (appsrc do-timestamp) jitters by tens of ms, and each jitter acted on was silence put
 * in or audio dropped in the middle of words. */
static gboolean
drift_counts (GstMslamBase * self, GstClockTime pts, gboolean discont)
{
  GstClockTime wait;

  GST_OBJECT_LOCK (self);
  wait = self->discont_wait_ms * GST_MSECOND;
  GST_OBJECT_UNLOCK (self);
  if (discont || self->resync || wait == 0)
    return TRUE;
  if (!GST_CLOCK_TIME_IS_VALID (self->drift_since)) {
    GST_DEBUG_OBJECT (self, "a drift first seen at %" GST_TIME_FORMAT ": the audio is taken as "
        "continuous until it lasts %" GST_TIME_FORMAT, GST_TIME_ARGS (pts), GST_TIME_ARGS (wait));
    self->drift_since = pts;
    return FALSE;
  }
  return GST_CLOCK_DIFF (self->drift_since, pts) >= (GstClockTimeDiff) wait;
}

static GstFlowReturn
gst_mslam_base_chain (GstPad * pad, GstObject * parent, GstBuffer * buf)
{
  GstMslamBase *self = GST_MSLAM_BASE (parent);
  GstMslamBaseClass *klass = GST_MSLAM_BASE_GET_CLASS (self);
  GstBuffer *passthrough = NULL;
  GstClockTime pts, duration;
  GstFlowReturn ret = GST_FLOW_OK;
  gsize n, first, end, overlap = 0;
  gboolean inside, discont;

  (void) pad;
  if (!self->have_info || !self->stream) {
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (NULL), ("audio arrived before caps"));
    gst_buffer_unref (buf);
    return GST_FLOW_NOT_NEGOTIATED;
  }
  discont = GST_BUFFER_FLAG_IS_SET (buf, GST_BUFFER_FLAG_DISCONT);
  if (discont)
    forget_split_sample (self, "a buffer marked DISCONT");
  n = buffer_samples (self, buf);
  duration = gst_util_uint64_scale_int (n, GST_SECOND, GST_AUDIO_INFO_RATE (&self->info));
  if (klass->passthrough)
    passthrough = gst_buffer_ref (buf);

  /* only audio inside the segment counts (a seek to 10 s may bring samples from 9.98 s), and
   * none played backwards */
  pts = GST_BUFFER_PTS (buf);
  first = end = 0;
  inside = !segment_reversed (&self->segment) && clip_to_segment (self, &pts, n, &first, &end);
  if (!inside)
    goto read;

  if (!self->started) {
    self->t0 = GST_CLOCK_TIME_IS_VALID (pts) ? pts : (self->segment.start != GST_CLOCK_TIME_NONE
        ? self->segment.start : 0);
    self->started = TRUE;
    g_atomic_int_set (&self->upstream_live, upstream_is_live (self));
    GST_DEBUG_OBJECT (self, "timeline starts at %" GST_TIME_FORMAT, GST_TIME_ARGS (self->t0));
  } else if (GST_CLOCK_TIME_IS_VALID (pts)) {
    GstClockTime expected = gst_mslam_base_sample_time (self, self->n_samples);
    GstClockTimeDiff ahead = GST_CLOCK_DIFF (expected, pts);    /* > 0: a hole before this buffer */
    gint rate = GST_AUDIO_INFO_RATE (&self->info);
    if (ABS (ahead) > (GstClockTimeDiff) DISCONT_TOLERANCE && !drift_counts (self, pts, discont)) {
      GST_LOG_OBJECT (self, "%" GST_TIME_FORMAT " is %" GST_STIME_FORMAT " off the samples counted: "
          "taken as continuous", GST_TIME_ARGS (pts), GST_STIME_ARGS (ahead));
      ahead = 0;
    } else {
      self->drift_since = GST_CLOCK_TIME_NONE;  /* on time, or the drift is acted on below */
    }
    self->resync = FALSE;
    if (ahead > (GstClockTimeDiff) DISCONT_TOLERANCE && ahead <= (GstClockTimeDiff) SHORT_GAP) {
      /* a hole of up to a second (packets lost, and no GAP said so): silence on the same
       * timeline, as a dropout GAP, rather than a caption cut in two mid-word */
      GST_DEBUG_OBJECT (self, "a hole of %" GST_STIME_FORMAT " before %" GST_TIME_FORMAT ": silence",
          GST_STIME_ARGS (ahead), GST_TIME_ARGS (pts));
      ret = feed_silence (self, gst_util_uint64_scale_round ((guint64) ahead, rate, GST_SECOND));
      if (ret != GST_FLOW_OK)
        goto done;
    } else if (ahead < -(GstClockTimeDiff) DISCONT_TOLERANCE && ahead >= -(GstClockTimeDiff) SHORT_GAP) {
      /* audio the timeline already holds (a dropout's silence ran longer than the hole): only
       * what comes after it, as audiorate does */
      overlap = gst_util_uint64_scale_round ((guint64) - ahead, rate, GST_SECOND);
      GST_DEBUG_OBJECT (self, "%" G_GSIZE_FORMAT " samples at %" GST_TIME_FORMAT " overlap the timeline: "
          "dropped (this buffer has %" G_GSIZE_FORMAT ")", overlap, GST_TIME_ARGS (pts), end - first);
      /* an overlap longer than this buffer goes on into the next, which drops its part at once
       * (the drift has counted: it is not waited out again) */
      self->resync = overlap > end - first;
    } else if (ABS (ahead) > (GstClockTimeDiff) DISCONT_TOLERANCE) {
      GST_INFO_OBJECT (self, "discontinuity: expected %" GST_TIME_FORMAT ", got %"
          GST_TIME_FORMAT "; starting a new timeline", GST_TIME_ARGS (expected), GST_TIME_ARGS (pts));
      ret = finish_timeline (self);
      timeline_reset (self);
      self->t0 = pts;
      self->started = TRUE;
      if (ret != GST_FLOW_OK)
        goto done;
    }
  }

read:
  /* a buffer outside the segment is read too: a sample it ends inside begins the next one's */
  if (convert_audio (self, buf) != n)
    inside = FALSE;             /* it could not be mapped (a warning says so) */
  gst_buffer_unref (buf);
  buf = NULL;
  first += overlap;
  if (!inside || end <= first)
    goto push;
  if (first > 0)
    memmove (self->pcm, self->pcm + first, (end - first) * sizeof (gfloat));
  ret = feed_pcm (self, end - first);
  if (ret != GST_FLOW_OK)
    goto done;

push:
  if (passthrough) {
    ret = forward_audio (self, passthrough, duration);
    passthrough = NULL;
  }
done:
  if (buf) {
    /* its samples are not fed, but the bytes of a sample it ends inside begin the next one's */
    convert_audio (self, buf);
    gst_buffer_unref (buf);
  }
  if (passthrough)
    gst_buffer_unref (passthrough);
  watch_due (self, duration, FALSE);
  return ret;
}

/* Describes caps for the error message users see when they forget audioconvert/audioresample. */
static gchar *
describe_audio_caps (GstCaps * caps)
{
  GstStructure *s = gst_caps_get_structure (caps, 0);
  const gchar *format = gst_structure_get_string (s, "format");
  gint rate = 0, channels = 0;

  gst_structure_get_int (s, "rate", &rate);
  gst_structure_get_int (s, "channels", &channels);
  return g_strdup_printf ("%s, %d Hz, %d channel%s", format ? format : "unknown format", rate,
      channels, channels == 1 ? "" : "s");
}

static gboolean
set_caps (GstMslamBase * self, GstCaps * caps)
{
  GstMslamBaseClass *klass = GST_MSLAM_BASE_GET_CLASS (self);
  GstCaps *supported = gst_static_pad_template_get_caps (&sink_template);
  GstAudioInfo info;
  gboolean ok = gst_caps_can_intersect (caps, supported) && gst_audio_info_from_caps (&info, caps);

  gst_caps_unref (supported);
  if (!ok && self->refused_caps && gst_caps_is_equal (caps, self->refused_caps)) {
    self->have_info = FALSE;    /* the sticky caps sent again: said already */
    return FALSE;
  }
  if (!ok) {
    gst_caps_replace (&self->refused_caps, caps);
    gchar *got = gst_caps_is_empty (caps) ? g_strdup ("empty caps") : describe_audio_caps (caps);
    GST_ELEMENT_ERROR (self, CORE, NEGOTIATION,
        ("%s needs 16000 Hz mono audio in F32LE or S16LE, got %s: put "
            "\"audioconvert ! audioresample\" in front of it", GST_OBJECT_NAME (self), got),
        ("caps %" GST_PTR_FORMAT, caps));
    g_free (got);
    self->have_info = FALSE;
    return FALSE;
  }
  /* the same format again (a CAPS event sent again, caps that change only a field the element
   * does not read) goes on with the bytes of the sample the last buffer ended inside */
  if (!self->have_info || GST_AUDIO_INFO_FORMAT (&info) != GST_AUDIO_INFO_FORMAT (&self->info))
    forget_split_sample (self, "another audio format");
  self->info = info;
  self->have_info = TRUE;
  gst_caps_replace (&self->refused_caps, NULL);
  if (klass->passthrough)
    return forward_event (self, gst_event_new_caps (caps));
  else {
    GstCaps *text = gst_caps_new_simple ("text/x-raw", "format", G_TYPE_STRING, "utf8", NULL);
    gboolean res = gst_pad_push_event (self->srcpad, gst_event_new_caps (text));
    gst_caps_unref (text);
    return res;
  }
}

static const gchar *
stream_language (GstMslamBase * self, const GstTagList * upstream)
{
  GstMslamBaseClass *klass = GST_MSLAM_BASE_GET_CLASS (self);

  return klass->stream_language ? klass->stream_language (self, upstream) : NULL;
}

/* A stream tag event of tags (NULL: none) with language-code language. */
static GstEvent *
stream_tags_with_language (const GstTagList * tags, const gchar * language)
{
  GstTagList *with = tags ? gst_tag_list_copy (tags) : gst_tag_list_new_empty ();

  gst_tag_list_set_scope (with, GST_TAG_SCOPE_STREAM);
  gst_tag_list_add (with, GST_TAG_MERGE_REPLACE, GST_TAG_LANGUAGE_CODE, language, NULL);
  return gst_event_new_tag (with);
}

/* The text stream's tags: its language (the element's, or the audio's from audio_tags, which may
 * be NULL), not the audio's codec, bitrate or container. */
static GstTagList *
text_stream_tags (GstMslamBase * self, const GstTagList * audio_tags)
{
  GstTagList *tags = gst_tag_list_new_empty ();
  const gchar *language = stream_language (self, audio_tags);
  gchar *code = NULL;

  gst_tag_list_set_scope (tags, GST_TAG_SCOPE_STREAM);
  if (language)
    gst_tag_list_add (tags, GST_TAG_MERGE_REPLACE, GST_TAG_LANGUAGE_CODE, language, NULL);
  else if (audio_tags && gst_tag_list_get_string (audio_tags, GST_TAG_LANGUAGE_CODE, &code))
    gst_tag_list_add (tags, GST_TAG_MERGE_REPLACE, GST_TAG_LANGUAGE_CODE, code, NULL);
  g_free (code);
  return tags;
}

GstEvent *
gst_mslam_pad_stream_tags (GstPad * pad)
{
  GstEvent *stream = NULL, *sticky;

  for (guint i = 0; !stream && (sticky = gst_pad_get_sticky_event (pad, GST_EVENT_TAG, i)); i++) {
    GstTagList *tags;
    gst_event_parse_tag (sticky, &tags);
    if (gst_tag_list_get_scope (tags) == GST_TAG_SCOPE_STREAM)
      stream = sticky;
    else
      gst_event_unref (sticky);
  }
  return stream;
}

/* The text stream's tags where the element names the text's language itself (stream_language,
 * given the audio's stream tags so far), else NULL (the audio's tag events bring its own). */
static GstTagList *
own_text_stream_tags (GstMslamBase * self)
{
  GstEvent *upstream = gst_mslam_pad_stream_tags (self->sinkpad);
  GstTagList *audio_tags = NULL, *tags = NULL;

  if (upstream)
    gst_event_parse_tag (upstream, &audio_tags);
  if (stream_language (self, audio_tags))
    tags = text_stream_tags (self, audio_tags);
  if (upstream)
    gst_event_unref (upstream);
  return tags;
}

/* Pushes a stream tag event of tags (taken) on the text pad, unless the pad's stream tags are
 * already these (the segment's and upstream's tag events often name the same language). */
static gboolean
push_text_stream_tags (GstMslamBase * self, GstTagList * tags)
{
  GstEvent *current = gst_mslam_pad_stream_tags (self->srcpad);
  gboolean same = FALSE;

  if (current) {
    GstTagList *current_tags;
    gst_event_parse_tag (current, &current_tags);
    same = gst_tag_list_is_equal (current_tags, tags);
    gst_event_unref (current);
  }
  if (same) {
    gst_tag_list_unref (tags);
    return TRUE;
  }
  return gst_pad_push_event (self->srcpad, gst_event_new_tag (tags));
}

/* An upstream stream tag event on its way through mslamlid, with the language decided so far: a
 * stream tag event stands for all of the stream's tags, and one without the language would take
 * it away downstream (parsers send new ones, e.g. for a bitrate). Other events as they are. */
static GstEvent *
with_stream_language (GstMslamBase * self, GstEvent * event)
{
  const gchar *language;
  GstTagList *tags;
  GstEvent *with;

  if (GST_EVENT_TYPE (event) != GST_EVENT_TAG)
    return event;
  gst_event_parse_tag (event, &tags);
  if (gst_tag_list_get_scope (tags) != GST_TAG_SCOPE_STREAM || !(language = stream_language (self, tags)))
    return event;
  with = stream_tags_with_language (tags, language);
  gst_event_unref (event);
  return with;
}

GstEvent *
gst_mslam_base_language_tag (GstMslamBase * self)
{
  GstEvent *upstream = gst_mslam_pad_stream_tags (self->sinkpad), *tag = NULL;
  GstTagList *tags = NULL;
  const gchar *language;

  if (upstream)
    gst_event_parse_tag (upstream, &tags);
  if ((language = stream_language (self, tags)))
    tag = stream_tags_with_language (tags, language);
  if (upstream)
    gst_event_unref (upstream);
  return tag;
}

/* What was said is complete (EOS, a segment's end, a new segment, a long gap): it goes out, then
 * (release: the audio held for a decision that did not come too) the next audio starts a new
 * timeline. */
static void
end_timeline (GstMslamBase * self, const gchar * at, gboolean release)
{
  GstFlowReturn ret;

  self->ending = release;
  /* (a flush stops a drain: no failure) */
  if ((ret = finish_timeline (self)) != GST_FLOW_OK && ret != GST_FLOW_FLUSHING)
    GST_WARNING_OBJECT (self, "draining at %s failed", at);
  self->ending = FALSE;
  if (release)
    gst_mslam_base_release_held (self);
  timeline_reset (self);
}

/* ---- a live source that stops ---- */

/* Whether upstream is live, as its LATENCY query answers. Streaming thread. */
static gboolean
upstream_is_live (GstMslamBase * self)
{
  GstQuery *query = gst_query_new_latency ();
  gboolean live = FALSE;

  if (gst_pad_peer_query (self->sinkpad, query))
    gst_query_parse_latency (query, &live, NULL, NULL);
  gst_query_unref (query);
  return live;
}

/* Cuts the wait in progress short when deadline comes earlier (watch_lock held): the watch
 * thread looks again. */
static void
watch_wake (GstMslamBase * self, GstClockTime deadline)
{
  if (self->watch_id && (!GST_CLOCK_TIME_IS_VALID (deadline) || deadline < self->watch_until))
    gst_clock_id_unschedule (self->watch_id);
}

/* The next audio is due `after` from now: the streaming thread leaves the element after a buffer
 * (a live source pushes one once it is captured, so the next is due its duration from now) or a
 * serialized event (0, keep_later: an event between buffers does not bring forward the due time
 * of the next buffer, which a long one set), or PAUSED turns PLAYING (0). In a live pipeline,
 * stall-timeout after that, the watch thread ends the timeline unless more came. */
static void
watch_due (GstMslamBase * self, GstClockTime after, gboolean keep_later)
{
  GstClock *clock = g_atomic_int_get (&self->upstream_live) ? gst_element_get_clock (GST_ELEMENT (self)) : NULL;
  GstClockTime deadline = GST_CLOCK_TIME_NONE;
  guint timeout_ms;

  GST_OBJECT_LOCK (self);
  timeout_ms = self->stall_timeout_ms;
  GST_OBJECT_UNLOCK (self);
  if (clock && timeout_ms > 0)
    deadline = gst_clock_get_time (clock) + after + timeout_ms * GST_MSECOND;
  if (clock)
    gst_object_unref (clock);
  g_mutex_lock (&self->watch_lock);
  self->watch_activity++;
  /* a later deadline is seen when the wait for the earlier one ends */
  if (keep_later && GST_CLOCK_TIME_IS_VALID (deadline) && GST_CLOCK_TIME_IS_VALID (self->stall_deadline)
      && self->stall_deadline > deadline)
    deadline = self->stall_deadline;
  if (!GST_CLOCK_TIME_IS_VALID (self->stall_deadline))
    g_cond_signal (&self->watch_cond);
  watch_wake (self, deadline);
  self->stall_deadline = deadline;
  g_mutex_unlock (&self->watch_lock);
}

/* Nothing to watch (paused; a flush). */
static void
watch_disarm (GstMslamBase * self)
{
  g_mutex_lock (&self->watch_lock);
  self->stall_deadline = GST_CLOCK_TIME_NONE;
  watch_wake (self, GST_CLOCK_TIME_NONE);
  g_mutex_unlock (&self->watch_lock);
}

/* The deadline passed after activity number `activity`: unless the streaming thread handled
 * anything since (it may have been inside the element, on an event or a long buffer, past the
 * deadline), the timeline ends, as at a long GAP, under the stream lock, while PLAYING, not
 * flushing and with stall-timeout still on. */
static void
end_stalled_timeline (GstMslamBase * self, guint64 activity)
{
  gboolean quiet, playing, flushing;
  guint timeout_ms;

  GST_PAD_STREAM_LOCK (self->sinkpad);
  g_mutex_lock (&self->watch_lock);
  quiet = !self->watch_quit && self->watch_activity == activity;
  g_mutex_unlock (&self->watch_lock);
  GST_OBJECT_LOCK (self);
  playing = GST_STATE (self) == GST_STATE_PLAYING && GST_STATE_PENDING (self) == GST_STATE_VOID_PENDING;
  timeout_ms = self->stall_timeout_ms;
  GST_OBJECT_UNLOCK (self);
  /* a FLUSH_START (not serialized) came: FLUSH_STOP forgets the timeline */
  flushing = gst_mslam_base_flushing (self);
  if (quiet && playing && !flushing && timeout_ms > 0 && self->started) {
    GST_INFO_OBJECT (self, "no audio from the live source for stall-timeout: what was said is complete");
    end_timeline (self, "a stall of the live source", TRUE);
  }
  GST_PAD_STREAM_UNLOCK (self->sinkpad);
}

static gpointer
watch_thread (gpointer data)
{
  GstMslamBase *self = data;

  g_mutex_lock (&self->watch_lock);
  while (!self->watch_quit) {
    GstClockTime when = self->stall_deadline;
    GstClock *clock;
    if (!GST_CLOCK_TIME_IS_VALID (when) || !(clock = gst_element_get_clock (GST_ELEMENT (self)))) {
      g_cond_wait (&self->watch_cond, &self->watch_lock);
      continue;
    }
    GstClockID id = self->watch_id = gst_clock_new_single_shot_id (clock, when);
    self->watch_until = when;
    gst_object_unref (clock);
    g_mutex_unlock (&self->watch_lock);
    GstClockReturn waited = gst_clock_id_wait (id, NULL);
    g_mutex_lock (&self->watch_lock);
    self->watch_id = NULL;
    gst_clock_id_unref (id);
    /* unscheduled (stopping, an earlier deadline), or a buffer came meanwhile: look again */
    if (self->watch_quit || (waited != GST_CLOCK_OK && waited != GST_CLOCK_EARLY) || self->stall_deadline != when)
      continue;
    self->stall_deadline = GST_CLOCK_TIME_NONE;
    guint64 activity = self->watch_activity;
    g_mutex_unlock (&self->watch_lock);
    end_stalled_timeline (self, activity);
    g_mutex_lock (&self->watch_lock);
  }
  g_mutex_unlock (&self->watch_lock);
  return NULL;
}

static void
watch_start (GstMslamBase * self)
{
  self->watch_quit = FALSE;
  self->stall_deadline = GST_CLOCK_TIME_NONE;
  self->watch_thread = g_thread_new ("mslam-stall", watch_thread, self);
}

static void
watch_stop (GstMslamBase * self)
{
  if (!self->watch_thread)
    return;
  g_mutex_lock (&self->watch_lock);
  self->watch_quit = TRUE;
  watch_wake (self, GST_CLOCK_TIME_NONE);
  g_cond_signal (&self->watch_cond);
  g_mutex_unlock (&self->watch_lock);
  g_thread_join (self->watch_thread);
  self->watch_thread = NULL;
}

static gboolean base_sink_event (GstPad * pad, GstObject * parent, GstEvent * event);

/* Every event, and then the watch's deadline: a serialized one was the streaming thread's (the
 * source is alive), a FLUSH_START ends what there was to watch. */
static gboolean
gst_mslam_base_sink_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  GstMslamBase *self = GST_MSLAM_BASE (parent);
  GstEventType type = GST_EVENT_TYPE (event);
  gboolean res;

  if (type == GST_EVENT_FLUSH_START) {
    g_atomic_int_inc (&self->flush_starts);
    watch_disarm (self);
  }
  res = base_sink_event (pad, parent, event);
  if (GST_EVENT_TYPE_SERIALIZED & type)
    watch_due (self, 0, TRUE);
  return res;
}

static gboolean
base_sink_event (GstPad * pad, GstObject * parent, GstEvent * event)
{
  GstMslamBase *self = GST_MSLAM_BASE (parent);
  GstMslamBaseClass *klass = GST_MSLAM_BASE_GET_CLASS (self);

  GST_LOG_OBJECT (self, "event %" GST_PTR_FORMAT, event);
  switch (GST_EVENT_TYPE (event)) {
    case GST_EVENT_STREAM_START:
      /* another stream (the one before has ended: EOS reset its timeline), another room */
      if (!self->started)
        gst_mslam_vad_reset (&self->vad);
      /* its bytes do not finish the last stream's samples (a selector or concat switching) */
      forget_split_sample (self, "another stream");
      if (!klass->passthrough) {
        /* the text is a stream of its own, derived from the audio's */
        const gchar *upstream_id = NULL;
        guint group_id;
        gchar *id;
        GstEvent *ours;
        gst_event_parse_stream_start (event, &upstream_id);
        id = g_strdup_printf ("%s/%s", upstream_id ? upstream_id : "mslam", GST_OBJECT_NAME (self));
        ours = gst_event_new_stream_start (id);
        if (gst_event_parse_group_id (event, &group_id))
          gst_event_set_group_id (ours, group_id);
        g_free (id);
        gst_event_unref (event);
        return gst_pad_push_event (self->srcpad, ours);
      }
      break;
    case GST_EVENT_CAPS:{
      GstCaps *caps;
      gboolean res;
      gst_event_parse_caps (event, &caps);
      res = set_caps (self, caps);
      gst_event_unref (event);
      return res;
    }
    case GST_EVENT_SEGMENT:{
      const GstSegment *segment;
      gboolean reversed;
      gst_event_parse_segment (event, &segment);
      if (segment->format != GST_FORMAT_TIME) {
        /* the sticky event comes again before each buffer: said once */
        if (segment->format != self->refused_format)
          GST_ELEMENT_ERROR (self, STREAM, FORMAT,
              ("%s reads audio on a TIME segment, and a segment in %s came (a file read with no "
                  "demuxer or decoder?): put \"decodebin ! audioconvert ! audioresample\" in front "
                  "of it", GST_OBJECT_NAME (self), gst_format_get_name (segment->format)),
              ("segments in %s format are not supported, only TIME", gst_format_get_name (segment->format)));
        self->refused_format = segment->format;
        gst_event_unref (event);
        return FALSE;
      }
      self->refused_format = GST_FORMAT_UNDEFINED;
      /* a new segment without a flush (e.g. a segment seek): end the old timeline first; the
       * same segment again (concat, selectors re-send theirs) changes nothing */
      if (!gst_segment_is_equal (segment, &self->segment)) {
        if (self->started)
          end_timeline (self, "a new segment", FALSE);
        self->text_end = GST_CLOCK_TIME_NONE;   /* times of another segment */
      }
      gst_segment_copy_into (segment, &self->segment);
      reversed = segment_reversed (&self->segment);
      if (reversed && !self->reverse_said) {
        /* speech played backwards is no speech: its captions were scraps, stamped forwards */
        GST_ELEMENT_WARNING (self, STREAM, NOT_IMPLEMENTED,
            ("%s says nothing of audio played backwards (rate %g, applied rate %g): it goes on with "
                "the next forward segment", GST_OBJECT_NAME (self), segment->rate, segment->applied_rate),
            (NULL));
        self->reverse_said = TRUE;
      }
      /* nothing to decide on: mslamlid's audio is not held for a decision (it went on tagged
       * und, over the language tagged before) */
      if (reversed && klass->passthrough && gst_mslam_base_release_held (self) != GST_FLOW_OK)
        GST_DEBUG_OBJECT (self, "the held audio went nowhere");
      if (!klass->passthrough) {
        /* the text's language, for muxers and players, once the segment is out (tags follow it),
         * as the audio's tags so far leave it; played backwards, no text: a GAP over the
         * segment, on which a sink prerolls */
        GstTagList *ours = own_text_stream_tags (self);
        gboolean res;

        if (!reversed && !ours)
          break;
        res = gst_pad_event_default (pad, parent, event);
        if (ours)
          res = push_text_stream_tags (self, ours) && res;
        if (reversed)
          res = gst_pad_push_event (self->srcpad, gap_over_segment (&self->segment)) && res;
        return res;
      }
      break;
    }
    case GST_EVENT_TAG:
      if (!klass->passthrough) {
        GstTagList *tags;
        gst_event_parse_tag (event, &tags);
        if (gst_tag_list_get_scope (tags) == GST_TAG_SCOPE_STREAM) {
          GstTagList *ours = text_stream_tags (self, tags);
          gst_event_unref (event);
          if (gst_tag_list_is_empty (ours)) {
            gst_tag_list_unref (ours);
            return TRUE;
          }
          return push_text_stream_tags (self, ours);
        }
      } else {
        event = with_stream_language (self, event);
      }
      break;
    case GST_EVENT_GAP:
      if (self->started) {
        GstClockTime ts, duration;
        gst_event_parse_gap (event, &ts, &duration);
        /* how far the gap's end is from the samples counted: its duration, and the drift of
         * upstream's times that discont-wait may be waiting out (which the gap settles) */
        GstClockTimeDiff to_end = GST_CLOCK_TIME_IS_VALID (ts) && GST_CLOCK_TIME_IS_VALID (duration) ?
            GST_CLOCK_DIFF (gst_mslam_base_sample_time (self, self->n_samples), ts) +
            (GstClockTimeDiff) duration : G_MAXINT64;
        if (duration <= SHORT_GAP && to_end <= (GstClockTimeDiff) SHORT_GAP &&
            to_end >= -(GstClockTimeDiff) SHORT_GAP) {
          /* a dropout (packets lost on the way): silence on the same timeline up to its end, so
           * that a word it falls in is not cut in two; a pause it makes ends the caption as any
           * pause does */
          GstFlowReturn ret = to_end <= 0 ? GST_FLOW_OK :
              feed_silence (self, gst_util_uint64_scale_round ((guint64) to_end,
                  GST_AUDIO_INFO_RATE (&self->info), GST_SECOND));
          /* the audio after it is where its timestamps say, as after a buffer marked DISCONT */
          self->resync = TRUE;
          if (ret != GST_FLOW_OK || !klass->passthrough) {
            gst_event_unref (event);
            return ret == GST_FLOW_OK;
          }
          break; /* mslamlid passes the GAP on with the audio */
        }
        /* no audio for a while: what was said before it is complete (and mslamlid's audio held
         * for a tag goes on, tagged with its best guess, rather than wait out the silence) */
        end_timeline (self, "a gap", TRUE);
      }
      break;
    case GST_EVENT_SEGMENT_DONE:
      /* the end of a segment seek's segment: what it held goes out before the event, as at EOS
       * (an application may stop at the last SEGMENT_DONE); the next segment is a new timeline */
      if (self->started)
        end_timeline (self, "the segment's end", TRUE);
      break;
    case GST_EVENT_EOS:
      /* the reset arms the hold again for a stream that may follow */
      end_timeline (self, "EOS", TRUE);
      forget_split_sample (self, "EOS");
      break;
    case GST_EVENT_FLUSH_STOP:{
      GQueue sticky = G_QUEUE_INIT;
      GstEvent *held;
      gboolean res;
      g_atomic_int_set (&self->flush_starts_stopped, g_atomic_int_get (&self->flush_starts));
      flush_held (self, &sticky);
      timeline_reset (self);
      self->text_end = GST_CLOCK_TIME_NONE;
      forget_split_sample (self, "a flush");
      gst_segment_init (&self->segment, GST_FORMAT_TIME);
      res = gst_pad_event_default (pad, parent, event);
      /* once the source pad flushes no more, it sends them before the next buffer */
      while ((held = g_queue_pop_head (&sticky))) {
        if (gst_pad_store_sticky_event (self->srcpad, held) != GST_FLOW_OK)
          GST_WARNING_OBJECT (self, "cannot keep %" GST_PTR_FORMAT " across the flush", held);
        gst_event_unref (held);
      }
      return res;
    }
    default:
      break;
  }
  if (klass->passthrough && GST_EVENT_IS_SERIALIZED (event) && !g_queue_is_empty (&self->held))
    return forward_event (self, event);
  return gst_pad_event_default (pad, parent, event);
}

static gboolean
gst_mslam_base_sink_query (GstPad * pad, GstObject * parent, GstQuery * query)
{
  GstMslamBase *self = GST_MSLAM_BASE (parent);
  GstMslamBaseClass *klass = GST_MSLAM_BASE_GET_CLASS (self);

  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_ACCEPT_CAPS:{
      /* Raw audio of any format is let through to the CAPS event, which fails with a message
       * saying what to put in front; negotiation itself follows the strict CAPS query below. */
      GstCaps *caps;
      GstStructure *s;
      gst_query_parse_accept_caps (query, &caps);
      s = gst_caps_get_size (caps) > 0 ? gst_caps_get_structure (caps, 0) : NULL;
      gst_query_set_accept_caps_result (query, s && gst_structure_has_name (s, "audio/x-raw"));
      return TRUE;
    }
    case GST_QUERY_CAPS:
      if (!klass->passthrough) {
        /* the text output puts no constraint on the audio: answer the template */
        GstCaps *filter, *caps = gst_pad_get_pad_template_caps (pad);
        gst_query_parse_caps (query, &filter);
        if (filter) {
          GstCaps *tmp = gst_caps_intersect_full (filter, caps, GST_CAPS_INTERSECT_FIRST);
          gst_caps_unref (caps);
          caps = tmp;
        }
        gst_query_set_caps_result (query, caps);
        gst_caps_unref (caps);
        return TRUE;
      }
      break;
    default:
      if (klass->passthrough && GST_QUERY_IS_SERIALIZED (query))
        release_held_for_query (self, query);
      break;
  }
  return gst_pad_query_default (pad, parent, query);
}

static gboolean
gst_mslam_base_src_query (GstPad * pad, GstObject * parent, GstQuery * query)
{
  GstMslamBase *self = GST_MSLAM_BASE (parent);
  GstMslamBaseClass *klass = GST_MSLAM_BASE_GET_CLASS (self);

  switch (GST_QUERY_TYPE (query)) {
    case GST_QUERY_LATENCY:
      if (klass->latency) {
        /* the output comes up to `ours` after its audio: downstream must wait that long for it
         * (min), and the element keeps that much audio itself (max) */
        gboolean live;
        GstClockTime min, max, ours;
        if (!gst_pad_peer_query (self->sinkpad, query))
          return FALSE;
        ours = klass->latency (self);
        gst_query_parse_latency (query, &live, &min, &max);
        GST_DEBUG_OBJECT (self, "upstream latency %" GST_TIME_FORMAT ", ours %" GST_TIME_FORMAT,
            GST_TIME_ARGS (min), GST_TIME_ARGS (ours));
        min += ours;
        if (GST_CLOCK_TIME_IS_VALID (max))
          max += ours;
        gst_query_set_latency (query, live, min, max);
        return TRUE;
      }
      break;
    case GST_QUERY_CAPS:
      if (!klass->passthrough) {
        GstCaps *filter, *caps = gst_pad_get_pad_template_caps (pad);
        gst_query_parse_caps (query, &filter);
        if (filter) {
          GstCaps *tmp = gst_caps_intersect_full (filter, caps, GST_CAPS_INTERSECT_FIRST);
          gst_caps_unref (caps);
          caps = tmp;
        }
        gst_query_set_caps_result (query, caps);
        gst_caps_unref (caps);
        return TRUE;
      }
      break;
    default:
      break;
  }
  return gst_pad_query_default (pad, parent, query);
}
