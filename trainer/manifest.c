#include "manifest.h"

#include "common.h"
#include "util.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define MAX_FIELDS 64
#define FLEURS_COLUMNS 7
#define FLEURS_SAMPLE_RATE 16000.0

enum column { COL_PATH, COL_LANG, COL_TEXT, COL_TRANSLATION, COL_DURATION, COL_SPEAKER, COL_SPLIT, COL_N };

static const char *const mslam_columns[COL_N] = {"path", "lang", "text", "translation", "duration", "speaker",
                                                  "split"};

const char *split_name(enum manifest_split split) {
    static const char *const names[SPLIT_N] = {"", "train", "dev", "test"};
    return (unsigned)split < SPLIT_N ? names[split] : "?";
}

int split_parse(const char *name) {
    for (int s = 0; s < SPLIT_N; s++)
        if (strcmp(name, split_name((enum manifest_split)s)) == 0) return s;
    return -1;
}

int split_option(const char *name) {
    if (name && !strcmp(name, "all")) return SPLIT_N;
    int split = name ? split_parse(name) : -1;
    if (split <= SPLIT_NONE) return mslam_error("split '%s': expected train, dev, test or all", name ? name : "(none)");
    return split;
}

const char *layout_name(enum manifest_layout layout) {
    static const char *const names[] = {"automatic", "mslam", "Common Voice", "CoVoST-2", "FLEURS"};
    return (unsigned)layout < sizeof names / sizeof names[0] ? names[layout] : "?";
}

int layout_option(const char *name, enum manifest_layout *layout) {
    static const struct {
        const char *name;
        enum manifest_layout layout;
    } names[] = {{"auto", LAYOUT_AUTO},       {"mslam", LAYOUT_MSLAM},     {"common-voice", LAYOUT_COMMON_VOICE},
                 {"covost2", LAYOUT_COVOST2}, {"fleurs", LAYOUT_FLEURS}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i].name) == 0) {
            *layout = names[i].layout;
            return 0;
        }
    return mslam_error("layout '%s': expected auto, mslam, common-voice, covost2 or fleurs", name);
}

struct clip_duration {
    char *clip;
    double seconds;
};

struct manifest_reader {
    FILE *f;
    char *path;
    enum manifest_layout layout;
    long line_no;
    char *line;
    size_t line_cap;
    int have_line; /* FLEURS: the first line, read to tell the layout, is a row */
    enum manifest_layout detected; /* what the header looks like, when --layout forced another */
    char *fields[MAX_FIELDS];
    int n_columns;
    int col[COL_N]; /* field index of each column, -1 when absent */
    char *lang;     /* the language of every row, when the layout has no column for it */
    char *audio_dir;
    enum manifest_split split; /* from the file name, when the layout has no column for it */
    struct clip_duration *durations; /* Common Voice's clip_durations.tsv, sorted by clip */
    size_t n_durations;
    char *audio;
    char row_lang[16];     /* a row's language column as mslam names it (corpus_language) */
    int drop_translation;  /* CoVoST-2 into another language than English */
    char *clip;            /* a Common Voice path with the ".mp3" early releases left out */
    char *unread;          /* the mslam header's columns it does not read, space-separated */
};

/* ---- reading lines and fields ---- */

/* Reads the next line without its line break; 0 at the end, -1 on a read error. */
static int read_line(manifest_reader *r) {
    ssize_t n = getline(&r->line, &r->line_cap, r->f);
    if (n < 0) {
        if (ferror(r->f)) return mslam_error("%s: read error: %s", r->path, strerror(errno));
        return 0;
    }
    r->line_no++;
    /* UTF-16 (a Windows editor's "Unicode") has a NUL in every ASCII character */
    if (r->line_no == 1 && n >= 2 && ((unsigned char)r->line[0] == 0xFF || (unsigned char)r->line[0] == 0xFE) &&
        ((unsigned char)r->line[1] ^ (unsigned char)r->line[0]) == 0x01)
        return mslam_error("%s is UTF-16 text: save it as UTF-8", r->path);
    if ((size_t)n != strlen(r->line))
        return r->line_no == 1 ? mslam_error("%s is not a text manifest (NUL bytes in its first line: a model, LM or "
                                             "audio file?)", r->path)
                               : mslam_error("%s:%ld: NUL byte in a text line", r->path, r->line_no);
    /* lines ended by a CR alone (classic Mac OS): the whole file reads as one line */
    char *cr = r->line_no == 1 ? strchr(r->line, '\r') : NULL;
    if (cr && cr[1] != '\n' && cr[1] != '\0')
        return mslam_error("%s ends its lines with a CR alone: save it with LF (or CR LF) line ends", r->path);
    /* a byte-order mark, as spreadsheets write UTF-8 */
    if (r->line_no == 1 && !strncmp(r->line, "\xEF\xBB\xBF", 3)) {
        memmove(r->line, r->line + 3, (size_t)n - 2);
        n -= 3;
    }
    while (n > 0 && (r->line[n - 1] == '\n' || r->line[n - 1] == '\r')) r->line[--n] = '\0';
    return 1;
}

/* Splits r->line at its tabs into r->fields; returns the field count or -1. CoVoST-2's files are pandas' to_csv with
 * escapechar '\\' and no quoting (get_covost_splits.py): there a backslash makes the character
 * after it part of the field ("\\\"" a quote, "\\\\" a backslash, a backslash and a tab a tab),
 * which is unescaped in place. */
static int split_fields(manifest_reader *r) {
    const int escaped = r->layout == LAYOUT_COVOST2;
    int n = 0;
    char *in = r->line, *out = r->line;
    r->fields[n++] = out;
    for (; *in; in++) {
        if (escaped && *in == '\\') {
            if (!in[1])
                return mslam_error("%s:%ld: the line ends in an escaping backslash (a line break inside a field, "
                                   "which is not read)", r->path, r->line_no);
            *out++ = *++in;
        } else if (*in == '\t') {
            *out++ = '\0';
            if (n == MAX_FIELDS) return mslam_error("%s:%ld: more than %d fields", r->path, r->line_no, MAX_FIELDS);
            r->fields[n++] = out;
        } else {
            *out++ = *in;
        }
    }
    *out = '\0';
    return n;
}

static int field_index(char **fields, int n, const char *name) {
    for (int i = 0; i < n; i++)
        if (strcmp(fields[i], name) == 0) return i;
    return -1;
}

static int is_integer(const char *s) {
    if (!*s) return 0;
    for (; *s; s++)
        if (*s < '0' || *s > '9') return 0;
    return 1;
}

/* ---- names that carry the language and the split ---- */

static const char *base_name(const char *path) {
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* "train.tsv" -> train; "covost_v2.fr_en.dev.tsv" -> dev; others -> none. */
static enum manifest_split split_from_name(const char *path) {
    const char *base = base_name(path);
    size_t n = strlen(base);
    if (n > 4 && strcmp(base + n - 4, ".tsv") == 0) n -= 4;
    const char *start = base + n;
    while (start > base && start[-1] != '.') start--;
    char word[16];
    size_t len = (size_t)(base + n - start);
    if (len == 0 || len >= sizeof word) return SPLIT_NONE;
    memcpy(word, start, len);
    word[len] = '\0';
    int split = split_parse(word);
    return split > 0 ? (enum manifest_split)split : SPLIT_NONE;
}

/* Name of the folder holding path (".../fr/train.tsv" -> "fr", FLEURS's "en_us"; corpus_language
 * makes a code of it). */
static char *folder_language(const char *path) {
    char *dir = path_dirname(path);
    if (!dir) return NULL;
    const char *name = base_name(dir);
    char *lang = (*name && strcmp(name, ".") != 0 && strcmp(name, "/") != 0) ? str_dup(name) : NULL;
    free(dir);
    return lang;
}

/* mslam's code of a corpus's language name (the trainer's language table and the default model
 * use ISO 639-1 codes where there is one): the language without its region or script
 * ("sv-SE" -> "sv", FLEURS's "cmn_hans_cn" -> "cmn" -> "zh"), lower case, with the corpora's
 * Chinese names mapped as the table has them (cmn, zh-*: zh; zh-HK, Cantonese: yue). Into out
 * (size bytes); out is empty when code does not fit. */
static void corpus_language(const char *code, char *out, size_t size) {
    size_t n = strcspn(code, "-_");
    if (strlen(code) == 5 && mslam_ascii_equal_nocase(code, "zh-HK", 5)) code = "yue", n = 3;
    else if (n == 3 && mslam_ascii_equal_nocase(code, "cmn", 3)) code = "zh", n = 2;
    if (n >= size) n = 0;
    for (size_t i = 0; i < n; i++) out[i] = code[i] >= 'A' && code[i] <= 'Z' ? (char)(code[i] - 'A' + 'a') : code[i];
    out[n] = '\0';
}

/* "covost_v2.fr_en.train.tsv" -> "fr"; *target: "en". */
static char *covost_language(const char *path, char **target) {
    const char *base = base_name(path);
    const char *prefix = "covost_v2.";
    *target = NULL;
    if (strncmp(base, prefix, strlen(prefix)) != 0) return NULL;
    const char *src = base + strlen(prefix);
    size_t n = strcspn(src, "_.");
    if (n == 0 || src[n] != '_') return NULL;
    *target = str_ndup(src + n + 1, strcspn(src + n + 1, "."));
    return str_ndup(src, n);
}

/* ---- Common Voice clip durations ---- */

static int cmp_clip(const void *a, const void *b) {
    return strcmp(((const struct clip_duration *)a)->clip, ((const struct clip_duration *)b)->clip);
}

static int load_clip_durations(manifest_reader *r, const char *path) {
    const char *kind;
    FILE *f = fopen_regular(path, &kind);
    if (!f && kind) return mslam_error("cannot read %s: %s, not a regular file", path, kind);
    if (!f) return 0; /* optional */
    char *line = NULL;
    size_t cap = 0, n_alloc = 0;
    long line_no = 0;
    int rc = 0;
    while (rc == 0 && getline(&line, &cap, f) >= 0) {
        line_no++;
        line[strcspn(line, "\r\n")] = '\0';
        char *tab = strchr(line, '\t');
        if (line_no == 1 || line[0] == '\0') continue; /* header: clip, duration[ms] */
        char *end = NULL;
        double ms = tab ? strtod(tab + 1, &end) : NAN;
        if (!tab || end == tab + 1 || *end != '\0' || !(ms >= 0.0) || !isfinite(ms)) {
            rc = mslam_error("%s:%ld: expected a clip name, a tab and a duration in ms", path, line_no);
            break;
        }
        *tab = '\0';
        if (r->n_durations == n_alloc) {
            n_alloc = n_alloc ? 2 * n_alloc : 1024;
            struct clip_duration *d = realloc(r->durations, n_alloc * sizeof *d);
            if (!d) {
                rc = mslam_error("out of memory reading %s", path);
                break;
            }
            r->durations = d;
        }
        char *clip = str_dup(line);
        if (!clip) {
            rc = -1;
            break;
        }
        r->durations[r->n_durations++] = (struct clip_duration){clip, ms / 1000.0};
    }
    free(line);
    fclose(f);
    if (r->n_durations > 1) qsort(r->durations, r->n_durations, sizeof *r->durations, cmp_clip);
    return rc;
}

static double clip_seconds(const manifest_reader *r, const char *clip) {
    struct clip_duration key = {(char *)clip, 0.0};
    const struct clip_duration *d = r->n_durations ? bsearch(&key, r->durations, r->n_durations,
                                                             sizeof *r->durations, cmp_clip) : NULL;
    return d ? d->seconds : -1.0;
}

/* ---- opening: tell the layout, map its columns ---- */

static enum manifest_layout detect_layout(char **fields, int n) {
    if (field_index(fields, n, "path") >= 0 && field_index(fields, n, "lang") >= 0 &&
        field_index(fields, n, "text") >= 0)
        return LAYOUT_MSLAM;
    if (field_index(fields, n, "path") >= 0 && field_index(fields, n, "sentence") >= 0)
        return field_index(fields, n, "translation") >= 0 ? LAYOUT_COVOST2 : LAYOUT_COMMON_VOICE;
    if (n == FLEURS_COLUMNS && is_integer(fields[0]) && is_integer(fields[5])) return LAYOUT_FLEURS;
    return LAYOUT_AUTO;
}

static int map_columns(manifest_reader *r, char **fields, int n) {
    for (int c = 0; c < COL_N; c++) r->col[c] = -1;
    r->n_columns = n;
    switch (r->layout) {
    case LAYOUT_MSLAM:
        for (int c = 0; c < COL_N; c++) r->col[c] = field_index(fields, n, mslam_columns[c]);
        /* kept for the messages: a misspelt column ("splt") is read as none */
        for (int i = 0; i < n; i++) {
            int known = 0;
            for (int c = 0; c < COL_N; c++) known |= r->col[c] == i;
            if (known) continue;
            char *more = str_printf("%s%s%s", r->unread ? r->unread : "", r->unread ? " " : "", fields[i]);
            if (!more) return -1;
            free(r->unread);
            r->unread = more;
        }
        break;
    case LAYOUT_COMMON_VOICE:
    case LAYOUT_COVOST2:
        r->col[COL_PATH] = field_index(fields, n, "path");
        r->col[COL_TEXT] = field_index(fields, n, "sentence");
        r->col[COL_SPEAKER] = field_index(fields, n, "client_id");
        r->col[COL_TRANSLATION] = field_index(fields, n, "translation");
        if (r->layout == LAYOUT_COMMON_VOICE) r->col[COL_LANG] = field_index(fields, n, "locale");
        break;
    case LAYOUT_FLEURS:
        if (n != FLEURS_COLUMNS)
            return mslam_error("%s: FLEURS rows have %d columns, this file %d", r->path, FLEURS_COLUMNS, n);
        r->col[COL_PATH] = 1;
        r->col[COL_TEXT] = 2;
        r->col[COL_DURATION] = 5;
        break;
    case LAYOUT_AUTO:
        break;
    }
    if (r->layout == LAYOUT_MSLAM) {
        for (int c = COL_PATH; c <= COL_TEXT; c++)
            if (r->col[c] < 0) return mslam_error("%s: the header has no '%s' column", r->path, mslam_columns[c]);
    } else if (r->col[COL_PATH] < 0 || r->col[COL_TEXT] < 0) {
        return mslam_error("%s: a %s header needs 'path' and 'sentence' columns", r->path, layout_name(r->layout));
    }
    return 0;
}

/* Language and audio folder of the layouts that take them from names. */
static int resolve_names(manifest_reader *r, const struct manifest_options *opts) {
    char *dir = path_dirname(r->path);
    if (!dir) return -1;
    r->split = r->layout == LAYOUT_MSLAM ? SPLIT_NONE : split_from_name(r->path);
    char *target = NULL;
    char *named = r->layout == LAYOUT_COVOST2 ? covost_language(r->path, &target) : NULL;
    if (target && strcmp(target, "en")) {
        /* mslam's decoder translates into English */
        mslam_log(MSLAM_LOG_WARN, "%s: its translations are into '%s', not English: they are left out (its rows serve "
                  "recognition and language ID)", r->path, target);
        r->drop_translation = 1;
    }
    free(target);
    if (opts && opts->lang) {
        r->lang = str_dup(opts->lang);
    } else if (r->col[COL_LANG] < 0) {
        if (!named && r->layout != LAYOUT_COVOST2) named = folder_language(r->path);
        char code[sizeof r->row_lang];
        if (named) corpus_language(named, code, sizeof code);
        r->lang = named && *code ? str_dup(code) : NULL;
        if (!r->lang) {
            free(named);
            free(dir);
            return mslam_error("%s: cannot tell the language of this %s file from its name; give it (--lang)", r->path,
                               layout_name(r->layout));
        }
    }
    free(named);
    int rc = 0;
    if (opts && opts->audio_dir) {
        r->audio_dir = str_dup(opts->audio_dir);
    } else if (r->layout == LAYOUT_MSLAM) {
        r->audio_dir = str_dup(dir);
    } else if (r->layout == LAYOUT_FLEURS) {
        r->audio_dir = str_printf("%s/audio/%s", dir, split_name(r->split));
    } else {
        r->audio_dir = path_join(dir, "clips");
    }
    if (!r->audio_dir) rc = -1;
    /* Common Voice keeps clip_durations.tsv beside its TSVs, that is beside clips/ */
    if (rc == 0 && (r->layout == LAYOUT_COMMON_VOICE || r->layout == LAYOUT_COVOST2)) {
        char *clips_parent = path_dirname(r->audio_dir);
        char *durations = clips_parent ? path_join(clips_parent, "clip_durations.tsv") : NULL;
        free(clips_parent);
        rc = durations ? load_clip_durations(r, durations) : -1;
        free(durations);
    }
    free(dir);
    return rc;
}

char *manifest_file(const char *path) {
    return is_folder(path) ? path_join(path, "manifest.tsv") : str_dup(path);
}

manifest_reader *manifest_open(const char *path, const struct manifest_options *opts) {
    manifest_reader *r = mslam_calloc(1, sizeof *r, "a manifest reader");
    if (!r) return NULL;
    const char *given = path;
    if (!(r->path = manifest_file(path))) goto fail;
    path = r->path;
    const char *kind;
    r->f = fopen_regular(path, &kind);
    int open_errno = r->f || kind ? 0 : errno;
    if (!r->f && open_errno == ENOENT) {
        /* a folder without its manifest, named as the folder or as its manifest.tsv (train names
         * folders so): a corpus still being built, or not a corpus at all */
        int folder_given = strcmp(given, path) != 0;
        const char *slash = strrchr(path, '/');
        char *folder = path_dirname(path);
        char *conf = folder && (folder_given || !strcmp(slash ? slash + 1 : path, "manifest.tsv"))
                         ? path_join(folder, "corpus.conf")
                         : NULL;
        int building = conf && file_exists(conf);
        if (building)
            mslam_error("%s: the corpus build in this folder has not finished (no manifest.tsv yet; its corpus "
                        "command run again resumes it)", folder_given ? given : folder);
        else if (folder_given)
            mslam_error("%s: a folder without manifest.tsv, not a corpus (name the manifest file)", given);
        free(folder), free(conf);
        if (building || folder_given) goto fail;
    }
    if (!r->f) {
        if (!*given) /* an empty item of a list: a key file's data=a;;b */
            mslam_error("a manifest's path is empty (an empty item in a list of manifests?)");
        else if (kind)
            mslam_error("cannot read manifest %s: %s, not a regular file (a manifest is a file, or a corpus folder "
                        "that holds manifest.tsv)", path, kind);
        else
            mslam_error("cannot open manifest %s: %s", path, strerror(open_errno));
        goto fail;
    }
    int got = read_line(r);
    if (got <= 0) {
        if (got == 0) mslam_error("%s: empty file (a manifest starts with a header line)", path);
        goto fail;
    }
    int n = split_fields(r);
    if (n < 0) goto fail;
    enum manifest_layout detected = detect_layout(r->fields, n);
    r->layout = opts && opts->layout != LAYOUT_AUTO ? opts->layout : detected;
    r->detected = detected != r->layout ? detected : LAYOUT_AUTO;
    if (r->layout == LAYOUT_AUTO) {
        mslam_error("%s: unknown layout; the first line should be a header naming path, lang and text (mslam), "
                    "client_id, path and sentence (Common Voice), path, sentence and translation (CoVoST-2), or a "
                    "FLEURS row of %d fields",
                    path, FLEURS_COLUMNS);
        goto fail;
    }
    if (map_columns(r, r->fields, n) || resolve_names(r, opts)) goto fail;
    r->have_line = r->layout == LAYOUT_FLEURS; /* FLEURS files have no header */
    return r;
fail:
    manifest_close(r);
    return NULL;
}

enum manifest_layout manifest_reader_layout(const manifest_reader *reader) { return reader->layout; }

int manifest_reader_has_splits(const manifest_reader *reader) {
    return reader->col[COL_SPLIT] >= 0 || reader->split != SPLIT_NONE;
}

const char *manifest_reader_unread_columns(const manifest_reader *reader) {
    return reader->unread ? reader->unread : "";
}

void manifest_close(manifest_reader *r) {
    if (!r) return;
    if (r->f) fclose(r->f);
    for (size_t i = 0; i < r->n_durations; i++) free(r->durations[i].clip);
    free(r->durations);
    free(r->path);
    free(r->line);
    free(r->lang);
    free(r->audio_dir);
    free(r->audio);
    free(r->clip);
    free(r->unread);
    free(r);
}

/* ---- rows ---- */

static const char *field(const manifest_reader *r, enum column c) { return r->col[c] >= 0 ? r->fields[r->col[c]] : ""; }

static int parse_duration(const manifest_reader *r, const char *s, double *seconds) {
    if (!*s) {
        *seconds = -1.0;
        return 0;
    }
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (*end == '\0' && !errno && v < 0.0)
        return mslam_error("%s:%ld: duration '%s' is negative (seconds; leave it empty when unknown)", r->path,
                           r->line_no, s);
    if (*end != '\0' || errno || !isfinite(v))
        return mslam_error("%s:%ld: duration '%s' is not a number of seconds", r->path, r->line_no, s);
    *seconds = r->layout == LAYOUT_FLEURS ? v / FLEURS_SAMPLE_RATE : v;
    return 0;
}

static int read_record(manifest_reader *r, struct manifest_record *rec);

int manifest_next(manifest_reader *r, struct manifest_record *rec) {
    if (r->detected == LAYOUT_AUTO) return read_record(r, rec);
    /* a row's error may come from the layout forced: it is logged once, saying so */
    int outer = mslam_errors_unlogged(1);
    int got = read_record(r, rec);
    mslam_errors_unlogged(outer);
    if (got < 0) {
        char *why = str_dup(mslam_last_error());
        mslam_error("%s (read as the %s layout, as --layout says; the header looks like %s's)", why ? why : "",
                    layout_name(r->layout), layout_name(r->detected));
        free(why);
    }
    return got;
}

static int read_record(manifest_reader *r, struct manifest_record *rec) {
    if (r->have_line) {
        r->have_line = 0; /* split already, by manifest_open */
    } else {
        int got;
        do {
            got = read_line(r);
            if (got <= 0) return got;
        } while (r->line[0] == '\0'); /* blank lines, as at the end of some files */
        int n = split_fields(r);
        if (n < 0) return -1;
        if (n != r->n_columns)
            return mslam_error("%s:%ld: %d fields where the header has %d", r->path, r->line_no, n, r->n_columns);
        int header_again = r->layout == LAYOUT_MSLAM;
        for (int c = 0; header_again && c < COL_N; c++)
            header_again = r->col[c] < 0 || !strcmp(field(r, c), mslam_columns[c]);
        if (header_again) /* (its split column was said to be none of train, dev, test) */
            return mslam_error("%s:%ld repeats the header line (manifests joined with cat? keep the first file's "
                               "header alone, e.g. tail -n +2 for the others)", r->path, r->line_no);
    }
    const char *text = field(r, COL_TEXT), *path = field(r, COL_PATH);
    /* speech without a transcript serves language ID (and training that needs a transcript
     * counts and skips it); a row with neither audio nor text holds nothing */
    if (!*text && !*path) return mslam_error("%s:%ld: empty text on a row without audio", r->path, r->line_no);
    if (mslam_utf8_length(text) < 0) return mslam_error("%s:%ld: text is not UTF-8", r->path, r->line_no);
    const char *lang = r->lang ? r->lang : field(r, COL_LANG);
    if (!r->lang && r->layout != LAYOUT_MSLAM) { /* Common Voice's locale column: "sv-SE" */
        corpus_language(lang, r->row_lang, sizeof r->row_lang);
        if (*lang && !*r->row_lang) return mslam_error("%s:%ld: locale '%s' is too long", r->path, r->line_no, lang);
        lang = r->row_lang;
    }
    *rec = (struct manifest_record){
        .lang = lang,
        .text = text,
        .translation = r->drop_translation ? "" : field(r, COL_TRANSLATION),
        .speaker = field(r, COL_SPEAKER),
        .split = r->split,
    };
    if (!*rec->lang) return mslam_error("%s:%ld: empty lang", r->path, r->line_no);
    /* a code is letters, digits, '-' and '_' ("en", "yue", "sv-SE"): a control byte in one made
     * the translation memory's build crash */
    if (strspn(rec->lang, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_") != strlen(rec->lang) ||
        strlen(rec->lang) > 15)
        return mslam_error("%s:%ld: lang '%s' is no language code (letters, digits, '-' and '_', at most 15)", r->path,
                           r->line_no, rec->lang);
    if (mslam_utf8_length(rec->translation) < 0)
        return mslam_error("%s:%ld: translation is not UTF-8", r->path, r->line_no);
    if (r->col[COL_SPLIT] >= 0) {
        int split = split_parse(field(r, COL_SPLIT));
        if (split < 0)
            return mslam_error("%s:%ld: split '%s' is none of train, dev, test", r->path, r->line_no,
                               field(r, COL_SPLIT));
        rec->split = (enum manifest_split)split;
    }
    if (parse_duration(r, field(r, COL_DURATION), &rec->duration)) return -1;
    if (*path && (r->layout == LAYOUT_COMMON_VOICE || r->layout == LAYOUT_COVOST2) && !strchr(base_name(path), '.')) {
        /* the first Common Voice releases named clips without their ".mp3" */
        free(r->clip);
        if (!(r->clip = str_printf("%s.mp3", path))) return -1;
        path = r->clip;
    }
    if (r->layout == LAYOUT_COMMON_VOICE || r->layout == LAYOUT_COVOST2) rec->duration = clip_seconds(r, path);
    free(r->audio);
    r->audio = NULL;
    if (*path) {
        r->audio = path_join(r->audio_dir, path);
        if (!r->audio) return -1;
    }
    rec->audio = r->audio;
    return 1;
}

/* ---- whole manifests ---- */

int manifest_load(const char *path, const struct manifest_options *opts, struct manifest *m) {
    *m = (struct manifest){0};
    manifest_reader *r = manifest_open(path, opts);
    if (!r) return -1;
    m->layout = r->layout;
    struct manifest_record rec;
    int got;
    while ((got = manifest_next(r, &rec)) > 0) {
        if (m->n == m->cap) {
            size_t cap = m->cap ? 2 * m->cap : 256;
            struct manifest_record *records = realloc(m->records, cap * sizeof *records);
            if (!records) {
                got = mslam_error("out of memory for %zu records of %s", cap, path);
                break;
            }
            m->records = records;
            m->cap = cap;
        }
        /* One block per record holds its strings, text first: manifest_free frees text. */
        const char *parts[5] = {rec.text, rec.audio ? rec.audio : "", rec.lang, rec.translation, rec.speaker};
        size_t lens[5], total = 0;
        for (int i = 0; i < 5; i++) total += (lens[i] = strlen(parts[i]) + 1);
        char *block = mslam_malloc(total, "a manifest record");
        if (!block) {
            got = -1;
            break;
        }
        char *copies[5];
        for (int i = 0, offset = 0; i < 5; offset += (int)lens[i], i++) {
            copies[i] = block + offset;
            memcpy(copies[i], parts[i], lens[i]);
        }
        struct manifest_record *out = &m->records[m->n++];
        *out = rec;
        out->text = copies[0];
        out->audio = rec.audio ? copies[1] : NULL;
        out->lang = copies[2];
        out->translation = copies[3];
        out->speaker = copies[4];
    }
    manifest_close(r);
    if (got < 0) {
        manifest_free(m);
        return -1;
    }
    return 0;
}

void manifest_free(struct manifest *m) {
    for (size_t i = 0; i < m->n; i++) free((char *)m->records[i].text);
    free(m->records);
    *m = (struct manifest){0};
}

/* ---- writing ---- */

int manifest_write_header(FILE *f) {
    for (int c = 0; c < COL_N; c++) fprintf(f, "%s%c", mslam_columns[c], c + 1 < COL_N ? '\t' : '\n');
    return ferror(f) ? mslam_error("cannot write a manifest header: %s", strerror(errno)) : 0;
}

int manifest_write_row(FILE *f, const struct manifest_record *rec) {
    const char *fields[] = {rec->audio ? rec->audio : "", rec->lang, rec->text, rec->translation ? rec->translation : "",
                            rec->speaker ? rec->speaker : ""};
    static const enum column names[] = {COL_PATH, COL_LANG, COL_TEXT, COL_TRANSLATION, COL_SPEAKER};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++)
        if (strpbrk(fields[i], "\t\r\n"))
            return mslam_error("cannot write manifest field %s \"%s\": it holds a tab or line break",
                               mslam_columns[names[i]], fields[i]);
    char duration[32] = "";
    if (rec->duration >= 0.0) snprintf(duration, sizeof duration, "%.3f", rec->duration);
    fprintf(f, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", fields[0], fields[1], fields[2], fields[3], duration, fields[4],
            split_name(rec->split));
    return ferror(f) ? mslam_error("cannot write a manifest row: %s", strerror(errno)) : 0;
}
