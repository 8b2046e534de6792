/* Evaluation metrics: text normalisation, CER/WER, sacreBLEU-compatible BLEU and chrF, LID
 * confusion tables. See metrics.h for the definitions; comments here say how and why. */
#include "metrics.h"

#include "common.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>

/* ---------------------------------------------------------------------------------------- */
/* Growable byte buffer. Failure is sticky so that a sequence of appends needs one check, at
 * sb_finish, which names what was being built. */

struct sbuf {
    char *p;
    size_t len, cap;
    int failed;
};

static int sb_reserve(struct sbuf *b, size_t extra) {
    if (b->failed) return -1;
    if (b->len + extra + 1 <= b->cap) return 0;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < b->len + extra + 1) {
        if (cap > SIZE_MAX / 2) {
            b->failed = 1;
            return -1;
        }
        cap *= 2;
    }
    char *p = realloc(b->p, cap);
    if (!p) {
        b->failed = 1;
        return -1;
    }
    b->p = p;
    b->cap = cap;
    return 0;
}

static void sb_putn(struct sbuf *b, const char *s, size_t n) {
    if (sb_reserve(b, n) < 0) return;
    memcpy(b->p + b->len, s, n);
    b->len += n;
}

static void sb_putc(struct sbuf *b, char c) {
    if (sb_reserve(b, 1) < 0) return;
    b->p[b->len++] = c;
}

/* Appends the UTF-8 encoding of a valid scalar value. */
static void sb_put_cp(struct sbuf *b, uint32_t cp) {
    char e[4];
    size_t n;
    if (cp < 0x80) {
        e[0] = (char)cp;
        n = 1;
    } else if (cp < 0x800) {
        e[0] = (char)(0xC0 | (cp >> 6));
        e[1] = (char)(0x80 | (cp & 0x3F));
        n = 2;
    } else if (cp < 0x10000) {
        e[0] = (char)(0xE0 | (cp >> 12));
        e[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
        e[2] = (char)(0x80 | (cp & 0x3F));
        n = 3;
    } else {
        e[0] = (char)(0xF0 | (cp >> 18));
        e[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
        e[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
        e[3] = (char)(0x80 | (cp & 0x3F));
        n = 4;
    }
    sb_putn(b, e, n);
}

/* The NUL-terminated result, or NULL (and the buffer freed) after any failure. */
static char *sb_finish(struct sbuf *b, const char *what) {
    if (sb_reserve(b, 0) < 0) {
        free(b->p);
        mslam_error("out of memory building %s", what);
        return NULL;
    }
    b->p[b->len] = '\0';
    return b->p;
}

/* ---------------------------------------------------------------------------------------- */
/* UTF-8 */

char *mslam_utf8_sanitize(const char *text, size_t len, size_t *n_invalid) {
    if (n_invalid) *n_invalid = 0;
    if (!text && len) {
        mslam_error("utf8_sanitize: NULL text");
        return NULL;
    }
    struct sbuf b = {0};
    sb_reserve(&b, len);
    size_t bad_count = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        int bad;
        size_t k = mslam_utf8_decode_replacing(text + i, len - i, &cp, &bad);
        if (bad) {
            sb_putn(&b, "\xEF\xBF\xBD", 3);
            bad_count++;
        } else {
            sb_putn(&b, text + i, k);
        }
        i += k;
    }
    if (n_invalid) *n_invalid = bad_count;
    return sb_finish(&b, "a sanitized UTF-8 string");
}

/* Decodes a NUL-terminated string into a malloc'd array of code points (invalid -> U+FFFD).
 * When drop is given, code points for which it returns true are left out. */
static uint32_t *utf8_to_cps(const char *s, int (*drop)(uint32_t), size_t *n_out,
                             size_t *n_invalid) {
    size_t len = strlen(s), n = 0, bad_count = 0;
    uint32_t *out = mslam_malloc((len + 1) * sizeof *out, "a code point array");
    if (!out) return NULL;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        int bad;
        i += mslam_utf8_decode_replacing(s + i, len - i, &cp, &bad);
        bad_count += (size_t)bad;
        if (!drop || !drop(cp)) out[n++] = cp;
    }
    *n_out = n;
    if (n_invalid) *n_invalid = bad_count;
    return out;
}

/* Python's str.isspace() set, which str.split() and str.rstrip() use (and so sacreBLEU). It
 * differs from Unicode White_Space: it has U+001C..U+001F, and lacks nothing else we see. */
static int is_py_space(uint32_t c) {
    return (c >= 0x09 && c <= 0x0D) || (c >= 0x1C && c <= 0x20) || c == 0x85 || c == 0xA0 ||
           c == 0x1680 || (c >= 0x2000 && c <= 0x200A) || c == 0x2028 || c == 0x2029 ||
           c == 0x202F || c == 0x205F || c == 0x3000;
}

/* Whitespace for ASR normalisation and word splitting: White_Space, and control characters,
 * which carry no text and would otherwise glue or split words at random. */
static int is_norm_space(uint32_t c) {
    return uc_is_property_white_space(c) ||
           uc_is_general_category_withtable(c, UC_CATEGORY_MASK_Cc);
}

/* ---------------------------------------------------------------------------------------- */
/* Tokens and interning */

struct tok {
    const char *s;
    size_t n;
};

/* Appends to *toks (grown as needed) the maximal runs of s that contain no is_space code point.
 * s is valid UTF-8 or has U+FFFD semantics for bad bytes (they are never space). */
static int split_tokens(const char *s, int (*is_space)(uint32_t), struct tok **toks, size_t *n,
                        size_t *cap) {
    size_t len = strlen(s);
    size_t start = 0;
    int in_tok = 0;
    for (size_t i = 0; i <= len;) {
        uint32_t cp = ' ';
        int bad = 0;
        size_t k = 1;
        if (i < len) k = mslam_utf8_decode_replacing(s + i, len - i, &cp, &bad);
        int space = i == len || is_space(cp);
        if (space && in_tok) {
            if (*n == *cap) {
                size_t nc = *cap ? 2 * *cap : 32;
                struct tok *t = realloc(*toks, nc * sizeof *t);
                if (!t) return mslam_error("out of memory splitting tokens");
                *toks = t;
                *cap = nc;
            }
            (*toks)[(*n)++] = (struct tok){s + start, i - start};
            in_tok = 0;
        } else if (!space && !in_tok) {
            start = i;
            in_tok = 1;
        }
        i += k;
    }
    return 0;
}

/* Open-addressing table mapping token strings to ids 1, 2, ... (0 marks an empty slot). Sized
 * for a known number of tokens, so it never grows. */
struct intern {
    struct tok *keys;
    uint32_t *ids;
    size_t mask;
    uint32_t next_id;
};

static int intern_init(struct intern *t, size_t max_tokens) {
    size_t cap = 16;
    while (cap < 2 * max_tokens + 2) cap *= 2;
    t->keys = mslam_calloc(cap, sizeof *t->keys, "a token table");
    t->ids = mslam_calloc(cap, sizeof *t->ids, "a token table");
    t->mask = cap - 1;
    t->next_id = 1;
    if (!t->keys || !t->ids) {
        free(t->keys);
        free(t->ids);
        return -1;
    }
    return 0;
}

static void intern_free(struct intern *t) {
    free(t->keys);
    free(t->ids);
}

static uint32_t intern_id(struct intern *t, struct tok w) {
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < w.n; i++) h = (h ^ (unsigned char)w.s[i]) * 1099511628211ull;
    for (size_t at = (size_t)h & t->mask;; at = (at + 1) & t->mask) {
        if (!t->ids[at]) {
            t->keys[at] = w;
            t->ids[at] = t->next_id++;
            return t->ids[at];
        }
        if (t->keys[at].n == w.n && memcmp(t->keys[at].s, w.s, w.n) == 0) return t->ids[at];
    }
}

/* ---------------------------------------------------------------------------------------- */
/* Normalisation */

static int is_letter_or_mark(uint32_t c) {
    return uc_is_general_category_withtable(c, UC_CATEGORY_MASK_L | UC_CATEGORY_MASK_M);
}

/* Whether lang's primary subtag (before '-' or '_', any case) is one of the NULL-terminated
 * list. */
static int lang_is(const char *lang, const char *const *codes) {
    if (!lang) return 0;
    char primary[8];
    size_t n = 0;
    while (lang[n] && lang[n] != '-' && lang[n] != '_') {
        if (n + 1 >= sizeof primary) return 0;
        char c = lang[n];
        primary[n++] = (char)(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
    }
    primary[n] = '\0';
    for (; *codes; codes++)
        if (strcmp(primary, *codes) == 0) return 1;
    return 0;
}

static const char *const turkic_codes[] = {"tr", "tur", "az", "aze", "azb", "azj", NULL};

/* Case folding with libunistring (full folding, NFKC after it). libunistring's Turkish
 * tailoring maps "İ" to "ı" + U+0307, not to "i" as CaseFolding.txt's T entries say, so the two
 * T entries are applied here beforehand and libunistring folds without a language. */
static uint8_t *casefold_nfkc(const uint8_t *s, size_t n, int turkic, size_t *m) {
    uint8_t *tmp = NULL;
    if (turkic) {
        struct sbuf b = {0};
        for (size_t i = 0; i < n;) {
            uint32_t cp;
            int bad;
            size_t k = mslam_utf8_decode_replacing((const char *)s + i, n - i, &cp, &bad);
            if (cp == 0x49)
                sb_putn(&b, "\xC4\xB1", 2); /* I -> ı */
            else if (cp == 0x130)
                sb_putc(&b, 'i'); /* İ -> i */
            else
                sb_putn(&b, (const char *)s + i, k);
            i += k;
        }
        tmp = (uint8_t *)sb_finish(&b, "a Turkic case mapping");
        if (!tmp) return NULL;
        s = tmp;
        n = b.len;
    }
    uint8_t *r = u8_casefold(s, n, NULL, UNINORM_NFKC, NULL, m);
    free(tmp);
    if (!r) mslam_error("text_normalize: case folding failed (out of memory)");
    return r;
}

char *mslam_text_normalize(const char *text, const char *lang, unsigned flags, size_t *n_invalid) {
    if (n_invalid) *n_invalid = 0;
    if (!text) {
        mslam_error("text_normalize: NULL text");
        return NULL;
    }
    char *clean = mslam_utf8_sanitize(text, strlen(text), n_invalid);
    if (!clean) return NULL;
    size_t n = strlen(clean);
    if (n == 0) return clean;

    size_t m = 0;
    uint8_t *nfkc = u8_normalize(UNINORM_NFKC, (const uint8_t *)clean, n, NULL, &m);
    free(clean);
    if (!nfkc) {
        mslam_error("text_normalize: NFKC failed (out of memory)");
        return NULL;
    }
    uint8_t *folded = nfkc;
    if (!(flags & MSLAM_NORM_KEEP_CASE)) {
        folded = casefold_nfkc(nfkc, m, lang_is(lang, turkic_codes), &m);
        free(nfkc);
        if (!folded) return NULL;
    }

    /* The apostrophe rule looks one code point ahead, so work on a decoded copy. */
    struct sbuf f = {0};
    sb_putn(&f, (const char *)folded, m);
    free(folded);
    char *fs = sb_finish(&f, "a normalised string");
    if (!fs) return NULL;
    size_t ncp = 0;
    uint32_t *cps = utf8_to_cps(fs, NULL, &ncp, NULL);
    free(fs);
    if (!cps) return NULL;

    struct sbuf out = {0};
    int pending_space = 0, prev_letter = 0;
    for (size_t i = 0; i < ncp; i++) {
        uint32_t c = cps[i];
        if (is_norm_space(c)) {
            pending_space = 1;
            continue;
        }
        int punct = uc_is_general_category_withtable(c, UC_CATEGORY_MASK_P);
        int symbol = uc_is_general_category_withtable(c, UC_CATEGORY_MASK_S) && c != 0xFFFD;
        if ((punct && !(flags & MSLAM_NORM_KEEP_PUNCT)) ||
            (symbol && !(flags & MSLAM_NORM_KEEP_SYMBOLS))) {
            int apostrophe = c == 0x27 || c == 0x2019;
            if (!(apostrophe && prev_letter && !pending_space && i + 1 < ncp &&
                  is_letter_or_mark(cps[i + 1])))
                pending_space = 1;
            continue;
        }
        if (pending_space && out.len > 0 && !(flags & MSLAM_NORM_NO_SPACES)) sb_putc(&out, ' ');
        pending_space = 0;
        sb_put_cp(&out, c);
        prev_letter = is_letter_or_mark(c);
    }
    free(cps);
    return sb_finish(&out, "a normalised string");
}

/* ---------------------------------------------------------------------------------------- */
/* Edit distance */

struct edit_cell {
    size_t sub, ins, del;
};

static size_t cell_cost(struct edit_cell c) { return c.sub + c.ins + c.del; }

int mslam_edit_distance(const uint32_t *ref, size_t n_ref, const uint32_t *hyp, size_t n_hyp,
                        struct mslam_edit_counts *out) {
    if (!out || (n_ref && !ref) || (n_hyp && !hyp))
        return mslam_error("edit_distance: NULL argument");
    if (n_hyp >= SIZE_MAX / (2 * sizeof(struct edit_cell)))
        return mslam_error("edit_distance: hypothesis of %zu symbols is too long", n_hyp);
    /* Two rows of the DP table; each cell carries the counts of its best alignment, so the
     * split into substitutions, insertions and deletions needs no backtrace matrix. */
    struct edit_cell *prev = mslam_malloc(2 * (n_hyp + 1) * sizeof *prev, "edit distance rows");
    if (!prev) return -1;
    struct edit_cell *cur = prev + n_hyp + 1;
    for (size_t j = 0; j <= n_hyp; j++) prev[j] = (struct edit_cell){0, j, 0};
    for (size_t i = 1; i <= n_ref; i++) {
        cur[0] = (struct edit_cell){0, 0, i};
        for (size_t j = 1; j <= n_hyp; j++) {
            struct edit_cell diag = prev[j - 1], up = prev[j], left = cur[j - 1];
            if (ref[i - 1] != hyp[j - 1]) diag.sub++;
            up.del++;
            left.ins++;
            /* Ties: match/substitution, then deletion, then insertion. */
            struct edit_cell best = diag;
            if (cell_cost(up) < cell_cost(best)) best = up;
            if (cell_cost(left) < cell_cost(best)) best = left;
            cur[j] = best;
        }
        struct edit_cell *t = prev;
        prev = cur;
        cur = t;
    }
    struct edit_cell r = prev[n_hyp];
    *out = (struct mslam_edit_counts){r.sub, r.ins, r.del, n_ref};
    free(prev < cur ? prev : cur); /* the block starts at the lower of the two rows */
    return 0;
}

void mslam_edit_counts_add(struct mslam_edit_counts *acc, const struct mslam_edit_counts *c) {
    acc->sub += c->sub;
    acc->ins += c->ins;
    acc->del += c->del;
    acc->ref_len += c->ref_len;
}

double mslam_error_rate(const struct mslam_edit_counts *c) {
    if (!c || c->ref_len == 0) return NAN;
    return (double)(c->sub + c->ins + c->del) / (double)c->ref_len;
}

int mslam_cer_counts(const char *ref, const char *hyp, struct mslam_edit_counts *out) {
    if (!ref || !hyp || !out) return mslam_error("cer_counts: NULL argument");
    size_t nr, nh;
    uint32_t *r = utf8_to_cps(ref, NULL, &nr, NULL);
    uint32_t *h = r ? utf8_to_cps(hyp, NULL, &nh, NULL) : NULL;
    int rc = h ? mslam_edit_distance(r, nr, h, nh, out) : -1;
    free(r);
    free(h);
    return rc;
}

int mslam_wer_counts(const char *ref, const char *hyp, struct mslam_edit_counts *out) {
    if (!ref || !hyp || !out) return mslam_error("wer_counts: NULL argument");
    struct tok *toks = NULL;
    size_t n = 0, cap = 0;
    int rc = split_tokens(ref, is_norm_space, &toks, &n, &cap);
    size_t n_ref = n;
    if (rc == 0) rc = split_tokens(hyp, is_norm_space, &toks, &n, &cap);
    uint32_t *ids = NULL;
    struct intern t = {0};
    if (rc == 0 && (rc = intern_init(&t, n)) == 0) {
        ids = mslam_malloc((n + 1) * sizeof *ids, "word ids");
        if (ids) {
            for (size_t i = 0; i < n; i++) ids[i] = intern_id(&t, toks[i]);
            rc = mslam_edit_distance(ids, n_ref, ids + n_ref, n - n_ref, out);
        } else {
            rc = -1;
        }
        intern_free(&t);
    }
    free(ids);
    free(toks);
    return rc;
}

int mslam_lang_written_without_spaces(const char *lang) {
    static const char *const codes[] = {"zh",  "zho", "chi", "cmn", "yue", "wuu", "ja", "jpn",
                                        "th",  "tha", "lo",  "lao", "km",  "khm", "my", "mya",
                                        "bur", "bo",  "bod", "tib", "dz",  "dzo", NULL};
    return lang_is(lang, codes);
}

void mslam_asr_acc_init(struct mslam_asr_acc *acc, const char *lang, int no_spaces) {
    memset(acc, 0, sizeof *acc);
    if (lang) snprintf(acc->lang, sizeof acc->lang, "%s", lang);
    acc->wer_defined = !no_spaces;
    acc->norm_flags = no_spaces ? MSLAM_NORM_NO_SPACES : 0;
}

int mslam_asr_acc_add(struct mslam_asr_acc *acc, const char *ref, const char *hyp) {
    if (!acc || !ref || !hyp) return mslam_error("asr_acc_add: NULL argument");
    size_t bad_r = 0, bad_h = 0;
    const char *lang = acc->lang[0] ? acc->lang : NULL;
    char *r = mslam_text_normalize(ref, lang, acc->norm_flags, &bad_r);
    char *h = r ? mslam_text_normalize(hyp, lang, acc->norm_flags, &bad_h) : NULL;
    struct mslam_edit_counts c = {0}, w = {0};
    int rc = h ? mslam_cer_counts(r, h, &c) : -1;
    if (rc == 0 && acc->wer_defined) rc = mslam_wer_counts(r, h, &w);
    free(r);
    free(h);
    if (rc < 0) return -1; /* nothing added, so the sums stay consistent */
    mslam_edit_counts_add(&acc->chars, &c);
    mslam_edit_counts_add(&acc->words, &w);
    acc->n_utts++;
    acc->n_invalid += bad_r + bad_h;
    return 0;
}

double mslam_asr_acc_cer(const struct mslam_asr_acc *acc) { return mslam_error_rate(&acc->chars); }

double mslam_asr_acc_wer(const struct mslam_asr_acc *acc) {
    return acc->wer_defined ? mslam_error_rate(&acc->words) : NAN;
}

/* ---------------------------------------------------------------------------------------- */
/* mteval-v13a tokenisation (sacreBLEU tokenizer_13a.py + tokenizer_re.py)
 *
 * The regexes are applied to UTF-8 bytes instead of code points. That is exact: each pattern
 * is two characters of which one is ASCII ('.', ',', '-' or a digit) and the other a negated
 * class ([^0-9]); a multi-byte character is matched by [^0-9] through its last byte (before '.'
 * or ',') or its first byte (after '.' or ','), its other bytes never start a match, and the
 * inserted spaces never land inside it. */

/* Replaces every non-overlapping occurrence of from, left to right, as Python's str.replace. */
static char *replace_all(char *s, const char *from, const char *to) {
    if (!s || !strstr(s, from)) return s;
    struct sbuf b = {0};
    size_t nf = strlen(from), nt = strlen(to);
    const char *p = s, *q;
    while ((q = strstr(p, from))) {
        sb_putn(&b, p, (size_t)(q - p));
        sb_putn(&b, to, nt);
        p = q + nf;
    }
    sb_putn(&b, p, strlen(p));
    free(s);
    return sb_finish(&b, "a 13a tokenisation");
}

/* r'([\{-\~\[-\` -\&\(-\+\:-\@\/])' -> r' \1 ': ASCII punctuation except ' , - . */
static int is_13a_punct(unsigned char c) {
    return (c >= 0x7B && c <= 0x7E) || (c >= 0x5B && c <= 0x60) || (c >= 0x20 && c <= 0x26) ||
           (c >= 0x28 && c <= 0x2B) || (c >= 0x3A && c <= 0x40) || c == 0x2F;
}

static int is_digit(unsigned char c) { return c >= '0' && c <= '9'; }

enum rule_13a {
    RULE_NONDIGIT_PERIOD, /* r'([^0-9])([\.,])' -> r'\1 \2 ' */
    RULE_PERIOD_NONDIGIT, /* r'([\.,])([^0-9])' -> r' \1 \2' */
    RULE_DIGIT_DASH,      /* r'([0-9])(-)'      -> r'\1 \2 ' */
};

/* One re.sub pass of a two-character pattern: scan left to right, and after a match resume
 * after its second character (matches do not overlap). */
static char *apply_rule(char *s, enum rule_13a rule) {
    if (!s) return NULL;
    struct sbuf b = {0};
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        unsigned char a = (unsigned char)s[i], c = i + 1 < n ? (unsigned char)s[i + 1] : 0;
        int match = 0;
        if (i + 1 < n) {
            switch (rule) {
            case RULE_NONDIGIT_PERIOD:
                match = !is_digit(a) && (c == '.' || c == ',');
                break;
            case RULE_PERIOD_NONDIGIT:
                match = (a == '.' || a == ',') && !is_digit(c);
                break;
            case RULE_DIGIT_DASH:
                match = is_digit(a) && c == '-';
                break;
            }
        }
        if (!match) {
            sb_putc(&b, (char)a);
            i++;
            continue;
        }
        if (rule == RULE_PERIOD_NONDIGIT) sb_putc(&b, ' ');
        sb_putc(&b, (char)a);
        sb_putc(&b, ' ');
        sb_putc(&b, (char)c);
        if (rule != RULE_PERIOD_NONDIGIT) sb_putc(&b, ' ');
        i += 2;
    }
    free(s);
    return sb_finish(&b, "a 13a tokenisation");
}

char *mslam_tokenize_13a(const char *text, size_t *n_invalid) {
    if (n_invalid) *n_invalid = 0;
    if (!text) {
        mslam_error("tokenize_13a: NULL text");
        return NULL;
    }
    char *s = mslam_utf8_sanitize(text, strlen(text), n_invalid);
    if (!s) return NULL;

    /* sent.rstrip(), before anything else: "-\n" at the very end is stripped, not joined. */
    size_t len = strlen(s), end = 0;
    for (size_t i = 0; i < len;) {
        uint32_t cp;
        int bad;
        i += mslam_utf8_decode_replacing(s + i, len - i, &cp, &bad);
        if (!is_py_space(cp)) end = i;
    }
    s[end] = '\0';

    s = replace_all(s, "<skipped>", "");
    s = replace_all(s, "-\n", "");
    s = replace_all(s, "\n", " ");
    if (s && strchr(s, '&')) {
        s = replace_all(s, "&quot;", "\"");
        s = replace_all(s, "&amp;", "&");
        s = replace_all(s, "&lt;", "<");
        s = replace_all(s, "&gt;", ">");
    }
    if (!s) return NULL;

    /* f' {line} ' and the single-character rule in one pass. */
    struct sbuf b = {0};
    sb_putc(&b, ' ');
    for (const char *p = s; *p; p++) {
        if (is_13a_punct((unsigned char)*p)) {
            sb_putc(&b, ' ');
            sb_putc(&b, *p);
            sb_putc(&b, ' ');
        } else {
            sb_putc(&b, *p);
        }
    }
    sb_putc(&b, ' ');
    free(s);
    s = sb_finish(&b, "a 13a tokenisation");
    s = apply_rule(s, RULE_NONDIGIT_PERIOD);
    s = apply_rule(s, RULE_PERIOD_NONDIGIT);
    s = apply_rule(s, RULE_DIGIT_DASH);
    if (!s) return NULL;

    /* ' '.join(line.split()) */
    struct tok *toks = NULL;
    size_t n = 0, cap = 0;
    if (split_tokens(s, is_py_space, &toks, &n, &cap) < 0) {
        free(s);
        return NULL;
    }
    struct sbuf o = {0};
    for (size_t i = 0; i < n; i++) {
        if (i) sb_putc(&o, ' ');
        sb_putn(&o, toks[i].s, toks[i].n);
    }
    free(toks);
    free(s);
    return sb_finish(&o, "a 13a tokenisation");
}

/* ---------------------------------------------------------------------------------------- */
/* n-grams: fixed-size keys padded with zeros, so that one memcmp orders and compares n-grams of
 * any one order (all keys of a pass have the same order). Counting is by sorting, which needs
 * no hash table and is O(n log n) per segment. */

struct ngram {
    uint32_t v[MSLAM_CHRF_MAX_ORDER];
};

static int ngram_cmp(const void *a, const void *b) { return memcmp(a, b, sizeof(struct ngram)); }

/* The sorted n-grams of order n of seq; returns how many (0 when len < n). */
static size_t make_ngrams(const uint32_t *seq, size_t len, int n, struct ngram *keys) {
    if (len < (size_t)n) return 0;
    size_t count = len - (size_t)n + 1;
    for (size_t i = 0; i < count; i++) {
        memset(&keys[i], 0, sizeof keys[i]);
        memcpy(keys[i].v, seq + i, (size_t)n * sizeof *seq);
    }
    qsort(keys, count, sizeof *keys, ngram_cmp);
    return count;
}

/* Occurrences of key in the sorted array a[0..n). */
static size_t ngram_count(const struct ngram *a, size_t n, const struct ngram *key) {
    size_t lo = 0, hi = n;
    while (lo < hi) { /* first element >= key */
        size_t mid = lo + (hi - lo) / 2;
        if (ngram_cmp(&a[mid], key) < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    size_t c = 0;
    while (lo + c < n && ngram_cmp(&a[lo + c], key) == 0) c++;
    return c;
}

/* sum over distinct hypothesis n-grams of min(count in hyp, max count in any reference):
 * sacreBLEU's clipped counts (with one reference: the Counter intersection). */
static size_t clipped_matches(const struct ngram *h, size_t nh, struct ngram *const *refs,
                              const size_t *nr, size_t n_refs) {
    size_t matches = 0;
    for (size_t i = 0; i < nh;) {
        size_t ch = 1;
        while (i + ch < nh && ngram_cmp(&h[i], &h[i + ch]) == 0) ch++;
        size_t best = 0;
        for (size_t r = 0; r < n_refs; r++) {
            size_t cr = ngram_count(refs[r], nr[r], &h[i]);
            if (cr > best) best = cr;
        }
        matches += ch < best ? ch : best;
        i += ch;
    }
    return matches;
}

/* ---------------------------------------------------------------------------------------- */
/* BLEU */

int mslam_bleu_add(struct mslam_bleu_stats *st, const char *hyp, const char *const *refs,
                   size_t n_refs) {
    if (!st || !hyp || !refs) return mslam_error("bleu_add: NULL argument");
    if (n_refs == 0) return mslam_error("bleu_add: a segment needs at least one reference");
    for (size_t r = 0; r < n_refs; r++)
        if (!refs[r]) return mslam_error("bleu_add: reference %zu is NULL", r);

    int rc = -1;
    size_t n_seg = n_refs + 1, bad = 0, bad_total = 0;
    char **text = mslam_calloc(n_seg, sizeof *text, "BLEU segments");
    size_t *start = mslam_calloc(n_seg + 1, sizeof *start, "BLEU segments");
    size_t *nk = mslam_calloc(n_seg, sizeof *nk, "BLEU segments");
    struct ngram **keys = mslam_calloc(n_seg, sizeof *keys, "BLEU n-grams");
    struct tok *toks = NULL;
    uint32_t *ids = NULL;
    struct intern t = {0};
    size_t n = 0, cap = 0;
    if (!text || !start || !nk || !keys) goto done;

    /* Segment 0 is the hypothesis, 1.. the references; their tokens lie in toks one after the
     * other, segment k's from start[k]. */
    for (size_t k = 0; k < n_seg; k++) {
        text[k] = mslam_tokenize_13a(k ? refs[k - 1] : hyp, &bad);
        if (!text[k]) goto done;
        bad_total += bad;
        start[k] = n;
        if (split_tokens(text[k], is_py_space, &toks, &n, &cap) < 0) goto done;
    }
    start[n_seg] = n;
    if (intern_init(&t, n) < 0) goto done;
    ids = mslam_malloc((n + 1) * sizeof *ids, "BLEU token ids");
    if (!ids) goto done;
    for (size_t i = 0; i < n; i++) ids[i] = intern_id(&t, toks[i]);
    for (size_t k = 0; k < n_seg; k++) {
        keys[k] = mslam_malloc((start[k + 1] - start[k] + 1) * sizeof **keys, "BLEU n-grams");
        if (!keys[k]) goto done;
    }

    size_t hyp_len = start[1];
    /* The reference length closest to the hypothesis length, the shorter on a tie. */
    size_t ref_len = 0, best_diff = SIZE_MAX;
    for (size_t k = 1; k < n_seg; k++) {
        size_t len = start[k + 1] - start[k];
        size_t diff = len > hyp_len ? len - hyp_len : hyp_len - len;
        if (diff < best_diff || (diff == best_diff && len < ref_len)) {
            best_diff = diff;
            ref_len = len;
        }
    }

    size_t correct[MSLAM_BLEU_ORDER], total[MSLAM_BLEU_ORDER];
    for (int order = 1; order <= MSLAM_BLEU_ORDER; order++) {
        for (size_t k = 0; k < n_seg; k++)
            nk[k] = make_ngrams(ids + start[k], start[k + 1] - start[k], order, keys[k]);
        total[order - 1] = nk[0];
        correct[order - 1] = clipped_matches(keys[0], nk[0], keys + 1, nk + 1, n_refs);
    }
    /* Only a complete segment is added, so the sums stay consistent after an error. */
    st->hyp_len += hyp_len;
    st->ref_len += ref_len;
    for (int i = 0; i < MSLAM_BLEU_ORDER; i++) {
        st->correct[i] += correct[i];
        st->total[i] += total[i];
    }
    st->n_segments++;
    st->n_invalid += bad_total;
    rc = 0;
done:
    for (size_t k = 0; text && k < n_seg; k++) free(text[k]);
    for (size_t k = 0; keys && k < n_seg; k++) free(keys[k]);
    free(text);
    free(start);
    free(nk);
    free(keys);
    free(toks);
    free(ids);
    intern_free(&t);
    return rc;
}

/* sacreBLEU's my_log: log with log(0) floored, so that exp(mean) gives 0 instead of a NaN. */
static double floored_log(double x) { return x == 0.0 ? -9999999999.0 : log(x); }

void mslam_bleu_compute(const struct mslam_bleu_stats *st, struct mslam_bleu *out) {
    memset(out, 0, sizeof *out);
    out->hyp_len = st->hyp_len;
    out->ref_len = st->ref_len;
    memcpy(out->correct, st->correct, sizeof out->correct);
    memcpy(out->total, st->total, sizeof out->total);
    out->ratio = st->ref_len ? (double)st->hyp_len / (double)st->ref_len : 0.0;
    out->bp = 1.0;
    if (st->hyp_len < st->ref_len)
        out->bp = st->hyp_len > 0 ? exp(1.0 - (double)st->ref_len / (double)st->hyp_len) : 0.0;

    int any = 0;
    for (int n = 0; n < MSLAM_BLEU_ORDER; n++) any |= st->correct[n] != 0;
    if (!any) return; /* score 0 and all precisions 0, as sacreBLEU's early return (#141) */

    double smooth = 1.0;
    for (int n = 0; n < MSLAM_BLEU_ORDER; n++) {
        if (st->total[n] == 0) break; /* this and higher orders stay 0: the score is 0 */
        if (st->correct[n] == 0) {
            smooth *= 2.0; /* 'exp' smoothing (mteval-v13a): 1/2, 1/4, ... of a match */
            out->precisions[n] = 100.0 / (smooth * (double)st->total[n]);
        } else {
            out->precisions[n] = 100.0 * (double)st->correct[n] / (double)st->total[n];
        }
    }
    double sum = 0.0;
    for (int n = 0; n < MSLAM_BLEU_ORDER; n++) sum += floored_log(out->precisions[n]);
    out->score = out->bp * exp(sum / MSLAM_BLEU_ORDER);
}

int mslam_bleu_format(const struct mslam_bleu *b, char *buf, size_t size) {
    return snprintf(buf, size,
                    "BLEU = %.2f %.1f/%.1f/%.1f/%.1f (BP = %.3f ratio = %.3f hyp_len = %zu "
                    "ref_len = %zu)",
                    b->score, b->precisions[0], b->precisions[1], b->precisions[2],
                    b->precisions[3], b->bp, b->ratio, b->hyp_len, b->ref_len);
}

/* ---------------------------------------------------------------------------------------- */
/* chrF */

struct mslam_chrf_params mslam_chrf_default_params(void) {
    return (struct mslam_chrf_params){.char_order = 6, .beta = 2, .eps_smoothing = 0};
}

int mslam_chrf_init(struct mslam_chrf_stats *st, struct mslam_chrf_params params) {
    if (!st) return mslam_error("chrf_init: NULL stats");
    if (params.char_order < 1 || params.char_order > MSLAM_CHRF_MAX_ORDER)
        return mslam_error("chrf_init: char_order %d is outside 1..%d", params.char_order,
                           MSLAM_CHRF_MAX_ORDER);
    if (params.beta < 0 || params.beta > 1000)
        return mslam_error("chrf_init: beta %d is outside 0..1000", params.beta);
    memset(st, 0, sizeof *st);
    st->params = params;
    return 0;
}

/* sacreBLEU's CHRF._compute_f_score, same operations in the same order. */
static double chrf_score(const size_t *hyp, const size_t *ref, const size_t *match, int order,
                         int beta, int eps_smoothing) {
    const double eps = 1e-16;
    double factor = (double)beta * beta, score = 0.0, avg_prec = 0.0, avg_rec = 0.0;
    int effective_order = 0;
    for (int i = 0; i < order; i++) {
        double prec = hyp[i] > 0 ? (double)match[i] / (double)hyp[i] : eps;
        double rec = ref[i] > 0 ? (double)match[i] / (double)ref[i] : eps;
        double denom = factor * prec + rec;
        score += denom > 0 ? (1 + factor) * prec * rec / denom : eps;
        if (hyp[i] > 0 && ref[i] > 0) {
            avg_prec += prec;
            avg_rec += rec;
            effective_order++;
        }
    }
    if (eps_smoothing) return 100 * score / order;
    if (effective_order == 0) {
        avg_prec = avg_rec = 0.0;
    } else {
        avg_prec /= effective_order;
        avg_rec /= effective_order;
    }
    if (avg_prec + avg_rec == 0.0) return 0.0;
    score = (1 + factor) * avg_prec * avg_rec;
    score /= factor * avg_prec + avg_rec;
    return 100 * score;
}

int mslam_chrf_add(struct mslam_chrf_stats *st, const char *hyp, const char *const *refs,
                   size_t n_refs) {
    if (!st || !hyp || !refs) return mslam_error("chrf_add: NULL argument");
    if (n_refs == 0) return mslam_error("chrf_add: a segment needs at least one reference");
    int order = st->params.char_order;
    if (order < 1 || order > MSLAM_CHRF_MAX_ORDER)
        return mslam_error("chrf_add: statistics not initialised (mslam_chrf_init)");
    for (size_t r = 0; r < n_refs; r++)
        if (!refs[r]) return mslam_error("chrf_add: reference %zu is NULL", r);

    int rc = -1;
    size_t nh = 0, nr = 0, bad = 0, bad_total = 0;
    uint32_t *h = utf8_to_cps(hyp, is_py_space, &nh, &bad_total); /* ''.join(line.split()) */
    uint32_t *r = NULL;
    struct ngram *hk = NULL, *rk = NULL;
    size_t hcount[MSLAM_CHRF_MAX_ORDER] = {0};
    size_t best[3][MSLAM_CHRF_MAX_ORDER] = {{0}};
    double best_f = -1.0;
    if (!h) goto done;
    /* The hypothesis n-grams of every order, kept for all references: order n at n * (nh+1). */
    hk = mslam_malloc((size_t)order * (nh + 1) * sizeof *hk, "chrF n-grams");
    if (!hk) goto done;
    for (int n = 1; n <= order; n++)
        hcount[n - 1] = make_ngrams(h, nh, n, hk + (size_t)(n - 1) * (nh + 1));

    for (size_t k = 0; k < n_refs; k++) {
        free(r);
        free(rk);
        rk = NULL;
        r = utf8_to_cps(refs[k], is_py_space, &nr, &bad);
        if (!r) goto done;
        bad_total += bad;
        rk = mslam_malloc((nr + 1) * sizeof *rk, "chrF n-grams");
        if (!rk) goto done;
        size_t s[3][MSLAM_CHRF_MAX_ORDER] = {{0}}; /* hyp, ref, match per order */
        for (int n = 1; n <= order; n++) {
            size_t rcount = make_ngrams(r, nr, n, rk);
            const struct ngram *hn = hk + (size_t)(n - 1) * (nh + 1);
            /* A reference without n-grams of this order takes the hypothesis's away too
             * (sacreBLEU: "hyp_count if ref_ngrams else 0"). */
            s[0][n - 1] = rcount ? hcount[n - 1] : 0;
            s[1][n - 1] = rcount;
            s[2][n - 1] = clipped_matches(hn, hcount[n - 1], &rk, &rcount, 1);
        }
        double f = chrf_score(s[0], s[1], s[2], order, st->params.beta, st->params.eps_smoothing);
        if (f > best_f) {
            best_f = f;
            memcpy(best, s, sizeof best);
        }
    }
    for (int n = 0; n < order; n++) {
        st->hyp[n] += best[0][n];
        st->ref[n] += best[1][n];
        st->match[n] += best[2][n];
    }
    st->n_segments++;
    st->n_invalid += bad_total;
    rc = 0;
done:
    free(h);
    free(r);
    free(hk);
    free(rk);
    return rc;
}

double mslam_chrf_compute(const struct mslam_chrf_stats *st) {
    int order = st->params.char_order;
    if (order < 1 || order > MSLAM_CHRF_MAX_ORDER) return NAN;
    return chrf_score(st->hyp, st->ref, st->match, order, st->params.beta,
                      st->params.eps_smoothing);
}

int mslam_chrf_format(const struct mslam_chrf_stats *st, char *buf, size_t size) {
    return snprintf(buf, size, "chrF%d = %.2f", st->params.beta, mslam_chrf_compute(st));
}

/* ---------------------------------------------------------------------------------------- */
/* Language identification */

struct mslam_confusion {
    size_t n;
    char **langs;
    size_t *counts; /* [ref * n + hyp] */
};

void mslam_confusion_free(mslam_confusion *c) {
    if (!c) return;
    for (size_t i = 0; c->langs && i < c->n; i++) free(c->langs[i]);
    free(c->langs);
    free(c->counts);
    free(c);
}

mslam_confusion *mslam_confusion_new(const char *const *langs, size_t n_langs) {
    if (!langs || n_langs == 0) {
        mslam_error("confusion_new: no languages");
        return NULL;
    }
    if (n_langs > 65536) {
        mslam_error("confusion_new: %zu languages is more than 65536", n_langs);
        return NULL;
    }
    for (size_t i = 0; i < n_langs; i++) {
        if (!langs[i] || !langs[i][0]) {
            mslam_error("confusion_new: language %zu is empty", i);
            return NULL;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp(langs[i], langs[j]) == 0) {
                mslam_error("confusion_new: language \"%s\" is listed twice", langs[i]);
                return NULL;
            }
        }
    }
    mslam_confusion *c = mslam_calloc(1, sizeof *c, "a confusion table");
    if (!c) return NULL;
    c->langs = mslam_calloc(n_langs, sizeof *c->langs, "a confusion table");
    c->counts = mslam_calloc(n_langs * n_langs, sizeof *c->counts, "a confusion table");
    if (!c->langs || !c->counts) {
        mslam_confusion_free(c);
        return NULL;
    }
    c->n = n_langs;
    for (size_t i = 0; i < n_langs; i++) {
        c->langs[i] = strdup(langs[i]);
        if (!c->langs[i]) {
            mslam_error("out of memory copying language codes");
            mslam_confusion_free(c);
            return NULL;
        }
    }
    return c;
}

size_t mslam_confusion_n_langs(const mslam_confusion *c) { return c ? c->n : 0; }

const char *mslam_confusion_lang(const mslam_confusion *c, size_t i) {
    return c && i < c->n ? c->langs[i] : NULL;
}

int mslam_confusion_index(const mslam_confusion *c, const char *lang) {
    if (!c || !lang) return -1;
    for (size_t i = 0; i < c->n; i++)
        if (strcmp(c->langs[i], lang) == 0) return (int)i;
    return -1;
}

int mslam_confusion_add_index(mslam_confusion *c, size_t ref, size_t hyp) {
    if (!c) return mslam_error("confusion_add: NULL table");
    if (ref >= c->n || hyp >= c->n)
        return mslam_error("confusion_add: language index %zu is outside 0..%zu",
                           ref >= c->n ? ref : hyp, c->n - 1);
    c->counts[ref * c->n + hyp]++;
    return 0;
}

int mslam_confusion_add(mslam_confusion *c, const char *ref, const char *hyp) {
    if (!c || !ref || !hyp) return mslam_error("confusion_add: NULL argument");
    int r = mslam_confusion_index(c, ref), h = mslam_confusion_index(c, hyp);
    if (r < 0) return mslam_error("confusion_add: unknown reference language \"%s\"", ref);
    if (h < 0) return mslam_error("confusion_add: unknown hypothesis language \"%s\"", hyp);
    return mslam_confusion_add_index(c, (size_t)r, (size_t)h);
}

size_t mslam_confusion_count(const mslam_confusion *c, size_t ref, size_t hyp) {
    return c && ref < c->n && hyp < c->n ? c->counts[ref * c->n + hyp] : 0;
}

static size_t row_total(const mslam_confusion *c, size_t ref) {
    size_t s = 0;
    for (size_t j = 0; j < c->n; j++) s += c->counts[ref * c->n + j];
    return s;
}

size_t mslam_confusion_total(const mslam_confusion *c) {
    size_t s = 0;
    for (size_t i = 0; c && i < c->n * c->n; i++) s += c->counts[i];
    return s;
}

double mslam_confusion_accuracy(const mslam_confusion *c) {
    size_t total = mslam_confusion_total(c), correct = 0;
    if (total == 0) return NAN;
    for (size_t i = 0; i < c->n; i++) correct += c->counts[i * c->n + i];
    return (double)correct / (double)total;
}

double mslam_confusion_recall(const mslam_confusion *c, size_t ref) {
    if (!c || ref >= c->n) return NAN;
    size_t row = row_total(c, ref);
    return row ? (double)c->counts[ref * c->n + ref] / (double)row : NAN;
}

struct confused_pair {
    size_t count, ref, hyp;
};

/* Most frequent first; ties in table order, so the printout is deterministic. */
static int pair_cmp(const void *a, const void *b) {
    const struct confused_pair *x = a, *y = b;
    if (x->count != y->count) return x->count > y->count ? -1 : 1;
    if (x->ref != y->ref) return x->ref < y->ref ? -1 : 1;
    return x->hyp < y->hyp ? -1 : (x->hyp > y->hyp);
}

int mslam_confusion_print(const mslam_confusion *c, FILE *fp, size_t max_pairs) {
    if (!c || !fp) return mslam_error("confusion_print: NULL argument");
    size_t total = mslam_confusion_total(c), correct = 0, n_pairs = 0;
    for (size_t i = 0; i < c->n; i++) correct += c->counts[i * c->n + i];
    int width = 4;
    for (size_t i = 0; i < c->n; i++) {
        int len = (int)strlen(c->langs[i]);
        if (len > width) width = len < 32 ? len : 32;
    }
    if (total)
        fprintf(fp, "LID accuracy: %.2f%% (%zu/%zu)\n", 100.0 * (double)correct / (double)total,
                correct, total);
    else
        fprintf(fp, "LID accuracy: n/a (no utterances)\n");
    fprintf(fp, "  %-*s %8s %8s\n", width, "lang", "utts", "recall");
    for (size_t i = 0; i < c->n; i++) {
        size_t row = row_total(c, i);
        if (!row) continue;
        fprintf(fp, "  %-*s %8zu %7.2f%%\n", width, c->langs[i], row,
                100.0 * (double)c->counts[i * c->n + i] / (double)row);
        for (size_t j = 0; j < c->n; j++) n_pairs += j != i && c->counts[i * c->n + j];
    }
    if (n_pairs && max_pairs) {
        struct confused_pair *p = mslam_malloc(n_pairs * sizeof *p, "confused pairs");
        if (!p) return -1;
        size_t k = 0;
        for (size_t i = 0; i < c->n; i++)
            for (size_t j = 0; j < c->n; j++)
                if (j != i && c->counts[i * c->n + j])
                    p[k++] = (struct confused_pair){c->counts[i * c->n + j], i, j};
        qsort(p, n_pairs, sizeof *p, pair_cmp);
        fprintf(fp, "most confused (reference -> hypothesis):\n");
        for (size_t i = 0; i < n_pairs && i < max_pairs; i++)
            fprintf(fp, "  %s -> %s: %zu (%.1f%% of %s)\n", c->langs[p[i].ref], c->langs[p[i].hyp],
                    p[i].count, 100.0 * (double)p[i].count / (double)row_total(c, p[i].ref),
                    c->langs[p[i].ref]);
        free(p);
    }
    if (ferror(fp)) return mslam_error("confusion_print: write failed");
    return 0;
}
