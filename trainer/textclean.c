#include "textclean.h"

#include "common.h"
#include "util.h"

#include <stdlib.h>
#include <string.h>

/* ---- scripts ---- */

static const struct {
    uint32_t first, last;
    enum script script;
} script_ranges[] = {
    {'A', 'Z', SCRIPT_LATIN},         {'a', 'z', SCRIPT_LATIN},           {0x00c0, 0x00d6, SCRIPT_LATIN},
    {0x00d8, 0x00f6, SCRIPT_LATIN},   {0x00f8, 0x02af, SCRIPT_LATIN},     {0x0300, 0x036f, SCRIPT_MARK},
    {0x0370, 0x03ff, SCRIPT_GREEK},   {0x0400, 0x052f, SCRIPT_CYRILLIC},  {0x0531, 0x058a, SCRIPT_ARMENIAN},
    {0x0591, 0x05c7, SCRIPT_MARK},    {0x05d0, 0x05f2, SCRIPT_HEBREW},    {0x0610, 0x061a, SCRIPT_MARK},
    {0x0620, 0x064a, SCRIPT_ARABIC},  {0x064b, 0x065f, SCRIPT_MARK},      {0x066e, 0x06d3, SCRIPT_ARABIC},
    {0x06d5, 0x06ff, SCRIPT_ARABIC},  {0x0750, 0x077f, SCRIPT_ARABIC},    {0x0900, 0x0963, SCRIPT_DEVANAGARI},
    {0x0966, 0x097f, SCRIPT_DEVANAGARI}, {0x0980, 0x09ff, SCRIPT_BENGALI}, {0x0a00, 0x0a7f, SCRIPT_GURMUKHI},
    {0x0a80, 0x0aff, SCRIPT_GUJARATI}, {0x0b00, 0x0b7f, SCRIPT_ORIYA},    {0x0b80, 0x0bff, SCRIPT_TAMIL},
    {0x0c00, 0x0c7f, SCRIPT_TELUGU},  {0x0c80, 0x0cff, SCRIPT_KANNADA},   {0x0d00, 0x0d7f, SCRIPT_MALAYALAM},
    {0x0d80, 0x0dff, SCRIPT_SINHALA}, {0x0e01, 0x0e5b, SCRIPT_THAI},      {0x10a0, 0x10ff, SCRIPT_GEORGIAN},
    {0x1100, 0x11ff, SCRIPT_HANGUL},  {0x1200, 0x137f, SCRIPT_ETHIOPIC},  {0x1e00, 0x1eff, SCRIPT_LATIN},
    {0x200c, 0x200d, SCRIPT_MARK},    {0x3041, 0x3096, SCRIPT_KANA},      {0x30a1, 0x30fa, SCRIPT_KANA},
    {0x30fc, 0x30ff, SCRIPT_KANA},    {0x3130, 0x318f, SCRIPT_HANGUL},    {0x3400, 0x4dbf, SCRIPT_HAN},
    {0x4e00, 0x9fff, SCRIPT_HAN},     {0xac00, 0xd7af, SCRIPT_HANGUL},
};

enum script script_of(uint32_t cp) {
    size_t lo = 0, hi = sizeof script_ranges / sizeof script_ranges[0];
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (cp < script_ranges[mid].first) {
            hi = mid;
        } else if (cp > script_ranges[mid].last) {
            lo = mid + 1;
        } else {
            return script_ranges[mid].script;
        }
    }
    return SCRIPT_NONE;
}

const char *script_name(enum script script) {
    static const char *const names[] = {
        "none",     "mark",     "Latin",   "Greek",   "Cyrillic", "Armenian", "Hebrew",   "Arabic",
        "Devanagari", "Bengali", "Gurmukhi", "Gujarati", "Oriya",  "Tamil",   "Telugu",   "Kannada",
        "Malayalam", "Sinhala", "Thai",    "Georgian", "Ethiopic", "Hangul",  "Kana",     "Han",
    };
    return (unsigned)script < sizeof names / sizeof names[0] ? names[script] : "?";
}

const char *text_verdict_name(enum text_verdict verdict) {
    static const char *const names[] = {"ok",         "encoding", "format", "markup",      "characters",
                                        "too short",  "too long", "script", "not a sentence"};
    return (unsigned)verdict < sizeof names / sizeof names[0] ? names[verdict] : "?";
}

struct text_rules text_default_rules(enum script script, int unspaced) {
    return (struct text_rules){
        .script = script,
        .unspaced = unspaced,
        .min_chars = unspaced ? 6 : 12,
        .max_chars = 200,
        .min_words = 3,
    };
}

/* ---- character classes ---- */

static int is_letter(uint32_t cp) { return script_of(cp) != SCRIPT_NONE; }

static int is_digit(uint32_t cp) { return cp >= '0' && cp <= '9'; }

static int is_ascii_alnum(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/* Lower-case letters of the cased scripts we speak (a sentence does not start with one). */
static int is_lowercase(uint32_t cp) {
    return (cp >= 'a' && cp <= 'z') || (cp >= 0xdf && cp <= 0xff && cp != 0xf7) || (cp >= 0x3ac && cp <= 0x3ce) ||
           (cp >= 0x430 && cp <= 0x45f);
}

/* Punctuation that reads naturally inside a sentence, in the scripts we speak. */
static int is_sentence_punct(uint32_t cp) {
    static const uint32_t allowed[] = {
        '.',    ',',    ';',    ':',    '!',    '?',    '\'',   '"',    '-',    '(',    ')',    0x00a1, 0x00ab,
        0x00b7, 0x00bb, 0x00bf, 0x055d, 0x0589, 0x05be, 0x05f3, 0x05f4, 0x060c, 0x061b, 0x061f, 0x06d4, 0x0964,
        0x0965, 0x2010, 0x2011, 0x2013, 0x2014, 0x2018, 0x2019, 0x201a, 0x201c, 0x201d, 0x201e, 0x2026, 0x2039,
        0x203a, 0x3001, 0x3002, 0x300c, 0x300d, 0x300e, 0x300f, 0x30fb, 0xff01, 0xff08, 0xff09, 0xff0c, 0xff1a,
        0xff1b, 0xff1f,
    };
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0]; i++)
        if (allowed[i] == cp) return 1;
    return 0;
}

static int ends_sentence(uint32_t cp) {
    static const uint32_t marks[] = {'.',    '!',    '?',    '"',    '\'',   ')',    0x00bb, 0x061f, 0x06d4, 0x0964,
                                     0x0965, 0x2019, 0x201d, 0x2026, 0x203a, 0x3002, 0x300d, 0x300f, 0xff01, 0xff09,
                                     0xff1f};
    if (is_letter(cp) || is_digit(cp)) return 1;
    for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++)
        if (marks[i] == cp) return 1;
    return 0;
}

static int opens_sentence(uint32_t cp) {
    static const uint32_t marks[] = {'"', '\'', '(', 0x00a1, 0x00ab, 0x00bf, 0x2018, 0x201a, 0x201c, 0x201e,
                                     0x2039, 0x300c, 0x300e, 0xff08};
    if (is_letter(cp)) return !is_lowercase(cp) && script_of(cp) != SCRIPT_MARK;
    if (is_digit(cp)) return 1;
    for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++)
        if (marks[i] == cp) return 1;
    return 0;
}

/* Spaces other than ' ' that catalogs use (no-break, thin, figure), read as one space. */
static int is_space(uint32_t cp) {
    return cp == ' ' || cp == '\t' || cp == '\n' || cp == '\r' || cp == 0xa0 || cp == 0x2007 || cp == 0x2009 ||
           cp == 0x202f;
}

/* ---- cleaning passes; each writes into out, which is at least as large as its input ---- */

static const char *const known_tags[] = {"a",     "b",   "big", "br",  "em", "i", "p", "s",
                                         "small", "span", "strong", "sub", "sup", "tt", "u"};

static int tag_is_known(const char *name, size_t n) {
    for (size_t i = 0; i < sizeof known_tags / sizeof known_tags[0]; i++)
        if (strlen(known_tags[i]) == n && strncmp(known_tags[i], name, n) == 0) return 1;
    return 0;
}

/* Decodes the entity at s ('&' ... ';'), returning its length or 0 when s is no entity we know. */
static size_t decode_entity(const char *s, uint32_t *cp) {
    static const struct {
        const char *name;
        uint32_t cp;
    } entities[] = {{"amp", '&'},     {"lt", '<'},       {"gt", '>'},       {"quot", '"'},
                    {"apos", '\''},   {"nbsp", 0xa0},    {"hellip", 0x2026}, {"ndash", 0x2013},
                    {"mdash", 0x2014}, {"laquo", 0xab},  {"raquo", 0xbb}};
    const char *semi = strchr(s, ';');
    if (!semi || semi - s > 10) return 0;
    size_t len = (size_t)(semi - s) + 1;
    if (s[1] == '#') {
        char *end;
        unsigned long v = (s[2] == 'x' || s[2] == 'X') ? strtoul(s + 3, &end, 16) : strtoul(s + 2, &end, 10);
        if (end != semi || v == 0 || v > 0x10ffff || v < 0x20 || (v >= 0xd800 && v <= 0xdfff)) return 0;
        *cp = (uint32_t)v;
        return len;
    }
    for (size_t i = 0; i < sizeof entities / sizeof entities[0]; i++) {
        size_t n = strlen(entities[i].name);
        if (n + 2 == len && strncmp(s + 1, entities[i].name, n) == 0) {
            *cp = entities[i].cp;
            return len;
        }
    }
    return 0;
}

/* Strips known tags, decodes entities, removes accelerator marks. */
static enum text_verdict strip_markup(const char *in, char *out) {
    size_t o = 0;
    int underscores = 0;
    for (size_t i = 0; in[i];) {
        char c = in[i];
        if (c == '<') {
            const char *close = strchr(in + i, '>');
            if (!close) return TEXT_MARKUP;
            const char *name = in + i + 1 + (in[i + 1] == '/');
            size_t n = 0;
            while (is_ascii_alnum((unsigned char)name[n])) n++;
            if (!tag_is_known(name, n)) return TEXT_MARKUP;
            if ((n == 2 && strncmp(name, "br", 2) == 0) || (n == 1 && name[0] == 'p')) out[o++] = ' ';
            i = (size_t)(close - in) + 1;
        } else if (c == '&') {
            uint32_t cp;
            size_t len = decode_entity(in + i, &cp);
            if (len > 0) {
                o += (size_t)utf8_encode(cp, out + o);
                i += len;
            } else if (is_ascii_alnum((unsigned char)in[i + 1]) || (unsigned char)in[i + 1] >= 0x80) {
                i++; /* "&File": a Qt/KDE accelerator mark */
            } else if (in[i + 1] == '#' || strchr(in + i, ';')) {
                return TEXT_MARKUP;
            } else {
                out[o++] = in[i++];
            }
        } else if (c == '(' && (in[i + 1] == '_' || in[i + 1] == '&') && is_ascii_alnum((unsigned char)in[i + 2]) &&
                   in[i + 3] == ')') {
            i += 4; /* "ファイル(_F)": the accelerator of a script without Latin letters */
        } else if (c == '_' && underscores == 0 && in[i + 1] && (is_ascii_alnum((unsigned char)in[i + 1]) ||
                                                                 (unsigned char)in[i + 1] >= 0x80)) {
            underscores++; /* "_Open", "Op_en": GTK's accelerator mark; a second '_' is no mark */
            i++;
        } else {
            out[o++] = in[i++];
        }
    }
    out[o] = '\0';
    return TEXT_OK;
}

/* Collapses every run of spaces into one ' ', trims, drops soft hyphens and zero-width spaces.
 * May run in place (out == in): it never writes ahead of what it has read. */
static void normalise_spaces(const char *in, char *out) {
    size_t o = 0, n = strlen(in);
    int pending_space = 0;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int len = mslam_utf8_decode(in + i, n - i, &cp);
        if (is_space(cp)) {
            pending_space = o > 0;
        } else if (cp != 0xad && cp != 0x200b && cp != 0xfeff) {
            if (pending_space) out[o++] = ' ';
            pending_space = 0;
            memmove(out + o, in + i, (size_t)len);
            o += (size_t)len;
        }
        i += (size_t)len;
    }
    out[o] = '\0';
}

/* ---- the sentence test ---- */

static enum text_verdict judge(const char *s, const struct text_rules *rules) {
    size_t n = strlen(s);
    long chars = 0, non_space = 0, letters = 0, in_script = 0, words = 0, word_letters = 0;
    uint32_t first = 0, last = 0, prev = ' ', prev2 = ' ';
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int len = mslam_utf8_decode(s + i, n - i, &cp);
        i += (size_t)len;
        enum script sc = script_of(cp);
        if (!(sc != SCRIPT_NONE || is_digit(cp) || cp == ' ' || is_sentence_punct(cp))) return TEXT_CHARS;
        if (chars == 0) first = cp;
        chars++;
        if (cp != ' ') non_space++;
        if (sc != SCRIPT_NONE) letters++;
        if (sc == rules->script || (rules->script == SCRIPT_KANA && sc == SCRIPT_HAN)) in_script++;
        if (sc == SCRIPT_MARK) in_script++;
        /* a word is a run of non-spaces with a letter in it */
        if (cp == ' ') {
            if (word_letters) words++;
            word_letters = 0;
        } else if (sc != SCRIPT_NONE) {
            word_letters++;
        }
        /* "-v", "--all" after a space: a command-line option; "file.txt", "example.org": names */
        if (cp == '-' && prev == ' ' && i < n && (s[i] == '-' || is_ascii_alnum((unsigned char)s[i])))
            return TEXT_NOT_SENTENCE;
        if (prev == '.' && is_letter(prev2) && is_letter(cp)) return TEXT_NOT_SENTENCE;
        prev2 = prev;
        prev = cp;
        last = cp;
    }
    if (word_letters) words++;
    if (chars < rules->min_chars) return TEXT_SHORT;
    if (chars > rules->max_chars) return TEXT_LONG;
    if (!rules->unspaced && words < rules->min_words) return TEXT_SHORT;
    if (!opens_sentence(first) || !ends_sentence(last)) return TEXT_NOT_SENTENCE;
    if (letters * 4 < non_space * 3) return TEXT_CHARS;
    if (rules->script != SCRIPT_NONE && in_script * 5 < letters * 4) return TEXT_SCRIPT;
    return TEXT_OK;
}

enum text_verdict text_clean(const char *in, const struct text_rules *rules, char *out, size_t out_size) {
    size_t n = strlen(in);
    if (out_size > 0) out[0] = '\0';
    if (out_size < n + 1) return TEXT_LONG;
    for (size_t i = 0; i < n;) {
        uint32_t cp;
        int len = mslam_utf8_decode(in + i, n - i, &cp);
        if (len == 0 || (cp < 0x20 && !is_space(cp)) || (cp >= 0x7f && cp < 0xa0)) return TEXT_ENCODING;
        i += (size_t)len;
    }
    /* Removing a format or placeholder would leave a broken sentence: drop the message. */
    if (strpbrk(in, "%{}$@\\")) return TEXT_FORMAT;
    enum text_verdict verdict = strip_markup(in, out);
    if (verdict == TEXT_OK) {
        normalise_spaces(out, out);
        verdict = judge(out, rules);
    }
    if (verdict != TEXT_OK) out[0] = '\0';
    return verdict;
}
