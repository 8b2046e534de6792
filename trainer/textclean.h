/* Turns catalog messages and fortune lines into text a speech synthesiser can read and a
 * character-level model can learn from, or rejects them.
 *
 * Catalog messages are user-interface strings: many are labels, menu items or templates. A
 * message survives when, after stripping markup (<b>, &amp;) and accelerator marks (_File,
 * &File, "(_F)"), it holds no printf format or placeholder (%s, {0}, $VAR, @FILE@: removing those
 * would leave a broken sentence, so such messages are dropped whole), only letters, digits and
 * ordinary punctuation, enough words, and reads as a sentence: it starts with a capital or an
 * opening mark and does not end like a label (":", ","). */
#ifndef MSLAM_TRAINER_TEXTCLEAN_H
#define MSLAM_TRAINER_TEXTCLEAN_H

#include <stddef.h>
#include <stdint.h>

enum script {
    SCRIPT_NONE, /* not a letter: digits, punctuation, spaces, symbols */
    SCRIPT_MARK, /* combining marks, which belong to the letter before them */
    SCRIPT_LATIN,
    SCRIPT_GREEK,
    SCRIPT_CYRILLIC,
    SCRIPT_ARMENIAN,
    SCRIPT_HEBREW,
    SCRIPT_ARABIC,
    SCRIPT_DEVANAGARI,
    SCRIPT_BENGALI,
    SCRIPT_GURMUKHI,
    SCRIPT_GUJARATI,
    SCRIPT_ORIYA,
    SCRIPT_TAMIL,
    SCRIPT_TELUGU,
    SCRIPT_KANNADA,
    SCRIPT_MALAYALAM,
    SCRIPT_SINHALA,
    SCRIPT_THAI,
    SCRIPT_GEORGIAN,
    SCRIPT_ETHIOPIC,
    SCRIPT_HANGUL,
    SCRIPT_KANA,
    SCRIPT_HAN,
};

enum script script_of(uint32_t cp);
const char *script_name(enum script script);

/* Why a text was rejected (TEXT_OK when kept). */
enum text_verdict {
    TEXT_OK,
    TEXT_ENCODING,     /* not valid UTF-8, or control characters */
    TEXT_FORMAT,       /* printf format or placeholder */
    TEXT_MARKUP,       /* a tag or entity we do not know */
    TEXT_CHARS,        /* characters that are neither letters, digits nor ordinary punctuation */
    TEXT_SHORT,        /* fewer characters or words than asked */
    TEXT_LONG,         /* more characters than asked */
    TEXT_SCRIPT,       /* too few letters of the language's script */
    TEXT_NOT_SENTENCE, /* a label, fragment, file name or command-line option */
    TEXT_N_VERDICTS
};

const char *text_verdict_name(enum text_verdict verdict);

struct text_rules {
    enum script script; /* letters must be mostly of this script (SCRIPT_NONE: any) */
    int unspaced;       /* the script writes no spaces between words (Han, Kana) */
    int min_chars;      /* code points */
    int max_chars;
    int min_words;      /* spaced scripts only */
};

struct text_rules text_default_rules(enum script script, int unspaced);

/* Cleans in into out (out_size bytes; the result is never longer than in). */
enum text_verdict text_clean(const char *in, const struct text_rules *rules, char *out, size_t out_size);

#endif
