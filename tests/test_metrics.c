/* Evaluation metrics (trainer/metrics.c).
 *
 * Where the expected values come from:
 *  - tests/reference/fixtures/metrics_sacrebleu.json: corpus BLEU, chrF and 13a tokenisations
 *    computed by sacreBLEU 2.6.0 itself (tests/reference/metrics_reference.py; sacreBLEU is not
 *    a Debian package, so the script runs against a source checkout, see its docstring). Hand
 *    cases (punctuation, numbers, hyphens, entities, newlines, Unicode, empty hypotheses and
 *    references, orders without a match or without n-grams, several references) and seeded
 *    random corpora of tricky tokens.
 *  - sacreBLEU's own test suite (mjpost/sacrebleu test/test_bleu.py, test/test_chrf.py at
 *    v2.6.0), copied below with their tolerances: an independent check of the fixture.
 *  - Hand-computed normalisation, CER/WER and confusion-table cases; a full-matrix Levenshtein
 *    written here for random sequences. */
#include "common.h"
#include "metrics.h"
#include "mslam.h"
#include "testutil.h"

#include <json-c/json.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* ---------------------------------------------------------------------------------------- */
/* helpers */

static void check_str(int line, const char *what, const char *got, const char *want) {
    if (!got || strcmp(got, want) != 0) {
        fprintf(stderr, "line %d: %s: got \"%s\", want \"%s\"\n", line, what, got ? got : "(NULL)",
                want);
        test_failures++;
    }
}
#define CHECK_STR(what, got, want) check_str(__LINE__, what, got, want)

static void check_near(int line, const char *what, double got, double want, double tol) {
    if (!(fabs(got - want) <= tol)) {
        fprintf(stderr, "line %d: %s: got %.10f, want %.10f (tolerance %g)\n", line, what, got,
                want, tol);
        test_failures++;
    }
}
#define CHECK_NEAR(what, got, want, tol) check_near(__LINE__, what, got, want, tol)

/* Normalises text and compares with want; frees the result. */
static void check_norm(int line, const char *text, const char *lang, unsigned flags,
                       const char *want) {
    size_t bad = 99;
    char *got = mslam_text_normalize(text, lang, flags, &bad);
    char what[256];
    snprintf(what, sizeof what, "normalize(\"%s\", %s, 0x%x)", text, lang ? lang : "NULL", flags);
    check_str(line, what, got, want);
    free(got);
}
#define CHECK_NORM(text, lang, flags, want) check_norm(__LINE__, text, lang, flags, want)

static void check_counts(int line, const char *what, struct mslam_edit_counts c, size_t sub,
                         size_t ins, size_t del, size_t ref_len) {
    if (c.sub != sub || c.ins != ins || c.del != del || c.ref_len != ref_len) {
        fprintf(stderr, "line %d: %s: got S=%zu I=%zu D=%zu N=%zu, want S=%zu I=%zu D=%zu N=%zu\n",
                line, what, c.sub, c.ins, c.del, c.ref_len, sub, ins, del, ref_len);
        test_failures++;
    }
}
#define CHECK_COUNTS(what, c, s, i, d, n) check_counts(__LINE__, what, c, s, i, d, n)

/* Corpus BLEU of parallel arrays in sacreBLEU's layout: refs[k][i] is reference k of hyp i. */
static int corpus_bleu(const char *const *hyps, size_t n, const char *const *const *refs,
                       size_t n_refs, struct mslam_bleu *out) {
    struct mslam_bleu_stats st = {0};
    for (size_t i = 0; i < n; i++) {
        const char *seg_refs[8];
        for (size_t k = 0; k < n_refs; k++) seg_refs[k] = refs[k][i];
        if (mslam_bleu_add(&st, hyps[i], seg_refs, n_refs) < 0) return -1;
    }
    mslam_bleu_compute(&st, out);
    return 0;
}

static double corpus_chrf(const char *const *hyps, size_t n, const char *const *refs, int beta,
                          int eps) {
    struct mslam_chrf_stats st;
    struct mslam_chrf_params p = mslam_chrf_default_params();
    p.beta = beta;
    p.eps_smoothing = eps;
    if (mslam_chrf_init(&st, p) < 0) return NAN;
    for (size_t i = 0; i < n; i++)
        if (mslam_chrf_add(&st, hyps[i], &refs[i], 1) < 0) return NAN;
    return mslam_chrf_compute(&st);
}

/* ---------------------------------------------------------------------------------------- */
/* UTF-8 */

/* Language codes and device names are compared in ASCII, whatever the locale: "I" and "i" are
 * one letter even in Turkish. */
static void test_ascii_nocase(void) {
    CHECK(mslam_ascii_compare_nocase("ID", "id") == 0 && mslam_ascii_compare_nocase("es", "ES") == 0 &&
              mslam_ascii_compare_nocase("de", "DEU") < 0 && mslam_ascii_compare_nocase("fr", "EN") > 0 &&
              mslam_ascii_compare_nocase("\xc3\xa9", "\xc3\x89") != 0,
          "mslam_ascii_compare_nocase");
    const char *name = "llvmpipe (LLVM 15)";
    CHECK(mslam_ascii_find_nocase(name, "PIPE") == name + 4 && mslam_ascii_find_nocase(name, "llvm 15") == name + 10 &&
              mslam_ascii_find_nocase(name, "") == name && !mslam_ascii_find_nocase(name, "radeon") &&
              !mslam_ascii_find_nocase("ab", "abc"),
          "mslam_ascii_find_nocase");
}

static void test_utf8(void) {
    static const struct {
        const char *in, *out;
        size_t bad;
    } cases[] = {
        {"plain é😀", "plain é😀", 0},
        {"\xC3", "\xEF\xBF\xBD", 1}, /* truncated 2-byte */
        {"a\xE0\x80"
         "b",
         "a\xEF\xBF\xBD\xEF\xBF\xBD"
         "b",
         2},                                                         /* E0 needs A0..BF next */
        {"\xED\xA0\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD", 3}, /* a surrogate */
        {"\xF0\x9F\x98", "\xEF\xBF\xBD", 1}, /* truncated 4-byte: 1 subpart */
        {"\xF0\x9F\x98x", "\xEF\xBF\xBDx", 1},
        {"\xC0\xAF", "\xEF\xBF\xBD\xEF\xBF\xBD", 2},                                 /* overlong */
        {"\xF4\x90\x80\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD", 4}, /* > 10FFFF */
        {"\xFF\xFE", "\xEF\xBF\xBD\xEF\xBF\xBD", 2},
        {"\x80"
         "abc",
         "\xEF\xBF\xBD"
         "abc",
         1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t bad = 99;
        char *got = mslam_utf8_sanitize(cases[i].in, strlen(cases[i].in), &bad);
        CHECK_STR("utf8_sanitize", got, cases[i].out);
        CHECK(bad == cases[i].bad, "utf8_sanitize case %zu: %zu invalid, want %zu", i, bad,
              cases[i].bad);
        free(got);
    }

    /* The strict decoder (core's mslam_utf8_decode, the same code) accepts exactly the encodings
     * of RFC 3629: every byte sequence of up to 3 bytes and every 4-byte one with a lead of F0..F4
     * is tried; a sequence is accepted iff it is the encoding of the code point it gives. */
    long accepted[5] = {0};
    for (uint32_t seq = 0; seq < (1u << 24) + 5 * (1u << 18); seq++) {
        unsigned char b[5] = {0};
        size_t n;
        if (seq < 256) {
            n = 1, b[0] = (unsigned char)seq;
        } else if (seq < 65536) {
            n = 2, b[0] = (unsigned char)(seq >> 8), b[1] = (unsigned char)seq;
        } else if (seq < (1u << 24)) {
            n = 3, b[0] = (unsigned char)(seq >> 16), b[1] = (unsigned char)(seq >> 8), b[2] = (unsigned char)seq;
        } else {
            uint32_t k = seq - (1u << 24); /* lead F0..F4, then three bytes of 80..BF */
            n = 4, b[0] = (unsigned char)(0xF0 + (k >> 18));
            for (int j = 0; j < 3; j++) b[1 + j] = (unsigned char)(0x80 + ((k >> (12 - 6 * j)) & 0x3F));
        }
        uint32_t cp = 0, cp_nul = 0;
        int len = mslam_utf8_decode((const char *)b, n, &cp);
        /* b[n] is 0: reading up to the NUL must stop where the length given does */
        int len_nul = mslam_utf8_decode((const char *)b, MSLAM_UTF8_NUL_TERMINATED, &cp_nul);
        if (len_nul != len || (len && cp_nul != cp)) {
            CHECK(0, "sequence %06x: %d bytes (U+%04X) with the length given, %d (U+%04X) up to the NUL", seq, len, cp,
                  len_nul, cp_nul);
            break;
        }
        if (len != (int)n) continue;
        int want = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
        if (want != (int)n || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) {
            CHECK(0, "sequence %06x decoded to U+%04X, which is not its encoding", seq, cp);
            break;
        }
        accepted[n]++;
    }
    /* ASCII; U+0080..U+07FF; U+0800..U+FFFF less the surrogates; U+10000..U+10FFFF */
    CHECK(accepted[1] == 128 && accepted[2] == 1920 && accepted[3] == 61440 && accepted[4] == 0x100000,
          "accepted %ld / %ld / %ld / %ld sequences of 1 / 2 / 3 / 4 bytes", accepted[1], accepted[2],
          accepted[3], accepted[4]);
    uint32_t cp = 0;
    CHECK(mslam_utf8_decode("\xC3\xA9", 1, &cp) == 0 && mslam_utf8_decode("", 0, &cp) == 0,
          "a cut sequence or no bytes decoded");
}

/* ---------------------------------------------------------------------------------------- */
/* Normalisation */

static void test_normalize(void) {
    CHECK_NORM("Hello, World!", NULL, 0, "hello world");
    CHECK_NORM("  multiple   spaces\tand\nnew\r\nlines\x01here  ", NULL, 0,
               "multiple spaces and new lines here");
    CHECK_NORM("", NULL, 0, "");
    CHECK_NORM("  !!! ... ", NULL, 0, "");
    /* NFKC: ligatures, full-width forms, combining accents composed. */
    CHECK_NORM("\xEF\xAC\x81ne \xEF\xAC\x82our", NULL, 0, "fine flour");
    CHECK_NORM("\xEF\xBC\xA6\xEF\xBC\xB5\xEF\xBC\xAC\xEF\xBC\xAC\xE3\x80\x80\xEF\xBD\x97\xEF\xBD"
               "\x89\xEF\xBD\x84\xEF\xBD\x94\xEF\xBD\x88\xEF\xBC\x81",
               NULL, 0, "full width");
    CHECK_NORM("E\xCC\x81te\xCC\x81", NULL, 0, "\xC3\xA9t\xC3\xA9"); /* É + é composed */
    CHECK_NORM("Stra\xC3\x9F"
               "e",
               NULL, 0, "strasse");
    /* Apostrophes inside words are deleted; other punctuation and symbols become spaces. */
    CHECK_NORM("Don't l\xE2\x80\x99homme", NULL, 0, "dont lhomme");
    CHECK_NORM("'quoted' - dash", NULL, 0, "quoted dash");
    CHECK_NORM("well-known U.S. $5 50% C++ \xF0\x9F\x98\x80 a+b", NULL, 0,
               "well known u s 5 50 c a b");
    /* Marks and format characters stay: Devanagari vowel signs and virama, ZWNJ. */
    CHECK_NORM(
        "\xE0\xA4\xA8\xE0\xA4\xAE\xE0\xA4\xB8\xE0\xA5\x8D\xE0\xA4\xA4\xE0\xA5\x87 "
        "\xE0\xA4\xA6\xE0\xA5\x81\xE0\xA4\xA8\xE0\xA4\xBF\xE0\xA4\xAF\xE0\xA4\xBE\xE0\xA5\xA4",
        "hi", 0,
        "\xE0\xA4\xA8\xE0\xA4\xAE\xE0\xA4\xB8\xE0\xA5\x8D\xE0\xA4\xA4\xE0\xA5\x87 "
        "\xE0\xA4\xA6\xE0\xA5\x81\xE0\xA4\xA8\xE0\xA4\xBF\xE0\xA4\xAF\xE0\xA4\xBE");
    CHECK_NORM("\xD9\x85\xDB\x8C\xE2\x80\x8C\xD8\xB1\xD9\x88\xD9\x85", "fa", 0,
               "\xD9\x85\xDB\x8C\xE2\x80\x8C\xD8\xB1\xD9\x88\xD9\x85");
    /* Turkic case folding only for Turkic languages. */
    CHECK_NORM("I\xC5\x9F\xC4\xB1k \xC4\xB0stanbul", "tr", 0, "\xC4\xB1\xC5\x9F\xC4\xB1k istanbul");
    CHECK_NORM("I\xC5\x9F\xC4\xB1k \xC4\xB0stanbul", "tr-TR", 0,
               "\xC4\xB1\xC5\x9F\xC4\xB1k istanbul");
    CHECK_NORM("I\xC5\x9F\xC4\xB1k \xC4\xB0stanbul", NULL, 0,
               "i\xC5\x9F\xC4\xB1k i\xCC\x87stanbul");
    CHECK_NORM("I", "en", 0, "i");
    /* Flags. */
    CHECK_NORM("Hello, World!", NULL, MSLAM_NORM_KEEP_CASE | MSLAM_NORM_KEEP_PUNCT,
               "Hello, World!");
    CHECK_NORM("Hello, World!", NULL, MSLAM_NORM_KEEP_CASE, "Hello World");
    CHECK_NORM("$5 + 3!", NULL, MSLAM_NORM_KEEP_SYMBOLS, "$5 + 3");
    CHECK_NORM("\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C \xE4\xB8\x96\xE7\x95\x8C\xE3\x80\x82", "zh",
               MSLAM_NORM_NO_SPACES, "\xE4\xBD\xA0\xE5\xA5\xBD\xE4\xB8\x96\xE7\x95\x8C");

    /* Invalid bytes read as U+FFFD, which is kept (a symbol, but it must count as an error)
     * and counted. */
    size_t bad = 0;
    char *s = mslam_text_normalize("ab\xFF"
                                   "cd \xC3",
                                   NULL, 0, &bad);
    CHECK_STR("normalize invalid", s,
              "ab\xEF\xBF\xBD"
              "cd \xEF\xBF\xBD");
    CHECK(bad == 2, "normalize counted %zu invalid sequences, want 2", bad);
    free(s);
    CHECK(mslam_text_normalize(NULL, NULL, 0, NULL) == NULL, "NULL text must fail");
}

/* ---------------------------------------------------------------------------------------- */
/* Edit distance, CER, WER */

/* Full-matrix Levenshtein distance, written independently of the library's two-row version. */
static size_t naive_distance(const uint32_t *a, size_t na, const uint32_t *b, size_t nb) {
    size_t *d = malloc((na + 1) * (nb + 1) * sizeof *d);
    for (size_t i = 0; i <= na; i++) d[i * (nb + 1)] = i;
    for (size_t j = 0; j <= nb; j++) d[j] = j;
    for (size_t i = 1; i <= na; i++) {
        for (size_t j = 1; j <= nb; j++) {
            size_t best = d[(i - 1) * (nb + 1) + j - 1] + (a[i - 1] != b[j - 1]);
            size_t up = d[(i - 1) * (nb + 1) + j] + 1, left = d[i * (nb + 1) + j - 1] + 1;
            if (up < best) best = up;
            if (left < best) best = left;
            d[i * (nb + 1) + j] = best;
        }
    }
    size_t r = d[na * (nb + 1) + nb];
    free(d);
    return r;
}

static void test_edit_distance(void) {
    struct mslam_edit_counts c;
    CHECK(mslam_cer_counts("kitten", "sitting", &c) == 0, "cer_counts failed");
    CHECK_COUNTS("kitten/sitting", c, 2, 1, 0, 6);
    CHECK(mslam_wer_counts("the cat sat on the mat", "the cat sit on mat", &c) == 0, "wer");
    CHECK_COUNTS("WER sub+del", c, 1, 0, 1, 6);
    CHECK_NEAR("WER rate", mslam_error_rate(&c), 2.0 / 6.0, 1e-15);
    /* Insertions only. */
    CHECK(mslam_wer_counts("a c", "a b c", &c) == 0, "wer");
    CHECK_COUNTS("WER insertion", c, 0, 1, 0, 2);
    CHECK(mslam_cer_counts("a c", "a b c", &c) == 0, "cer");
    CHECK_COUNTS("CER insertion", c, 0, 2, 0, 3);
    CHECK(mslam_wer_counts("", "x y z", &c) == 0, "wer");
    CHECK_COUNTS("WER empty reference", c, 0, 3, 0, 0);
    CHECK(isnan(mslam_error_rate(&c)), "a rate against an empty reference is NAN");
    CHECK(mslam_cer_counts("", "a b", &c) == 0, "cer");
    CHECK_COUNTS("CER empty reference", c, 0, 3, 0, 0);
    CHECK(mslam_cer_counts("", "", &c) == 0, "cer");
    CHECK_COUNTS("CER both empty", c, 0, 0, 0, 0);
    /* Deletions only. */
    CHECK(mslam_wer_counts("one two three", "", &c) == 0, "wer");
    CHECK_COUNTS("WER empty hypothesis", c, 0, 0, 3, 3);
    /* Code points, not bytes: é vs e is one substitution. */
    CHECK(mslam_cer_counts("caf\xC3\xA9", "cafe", &c) == 0, "cer");
    CHECK_COUNTS("CER code points", c, 1, 0, 0, 4);
    /* Ties resolve to substitutions: "a b" vs "b a" is 2 substitutions, not a deletion and an
     * insertion. */
    CHECK(mslam_wer_counts("a b", "b a", &c) == 0, "wer");
    CHECK_COUNTS("WER tie-break", c, 2, 0, 0, 2);
    /* Words are compared whole, any length. */
    CHECK(mslam_wer_counts("alpha beta", "alphabeta beta", &c) == 0, "wer");
    CHECK_COUNTS("WER whole words", c, 1, 0, 0, 2);

    /* Random sequences: the total equals a full-matrix DP and the counts are consistent. */
    mslam_rng rng;
    mslam_rng_seed(&rng, 1234);
    uint32_t a[40], b[40];
    for (int t = 0; t < 300; t++) {
        size_t na = (size_t)(mslam_rng_uniform(&rng) * 40),
               nb = (size_t)(mslam_rng_uniform(&rng) * 40);
        uint32_t alphabet = 2 + (uint32_t)(mslam_rng_uniform(&rng) * 5);
        for (size_t i = 0; i < na; i++) a[i] = (uint32_t)(mslam_rng_uniform(&rng) * alphabet);
        for (size_t i = 0; i < nb; i++) b[i] = (uint32_t)(mslam_rng_uniform(&rng) * alphabet);
        CHECK(mslam_edit_distance(a, na, b, nb, &c) == 0, "edit_distance failed");
        size_t want = naive_distance(a, na, b, nb);
        CHECK(c.sub + c.ins + c.del == want, "random %d: distance %zu, want %zu", t,
              c.sub + c.ins + c.del, want);
        CHECK(c.ref_len == na && na - c.del + c.ins == nb && c.sub + c.del <= na,
              "random %d: inconsistent counts S=%zu I=%zu D=%zu for %zu -> %zu", t, c.sub, c.ins,
              c.del, na, nb);
    }
    CHECK(mslam_edit_distance(NULL, 3, b, 1, &c) < 0, "NULL sequence must fail");
}

static void test_asr_acc(void) {
    struct mslam_asr_acc acc;
    mslam_asr_acc_init(&acc, "en", 0);
    /* Normalisation makes these equal: case, punctuation, ligature, composed accent. */
    CHECK(mslam_asr_acc_add(&acc, "Hello, World!", "hello world") == 0, "add");
    CHECK(mslam_asr_acc_add(&acc, "\xEF\xAC\x81ne caf\xC3\xA9.", "Fine cafe\xCC\x81") == 0, "add");
    CHECK(mslam_asr_acc_add(&acc, "Don't STOP", "dont stop") == 0, "add");
    CHECK_COUNTS("normalised equal (chars)", acc.chars, 0, 0, 0, 11 + 9 + 9);
    CHECK_COUNTS("normalised equal (words)", acc.words, 0, 0, 0, 6);
    CHECK_NEAR("CER 0", mslam_asr_acc_cer(&acc), 0.0, 0.0);

    /* Corpus rates are ratios of sums, not means of utterance rates: 1 error in 2 words and 0
     * in 8 give 1/10, not 0.25. */
    mslam_asr_acc_init(&acc, "en", 0);
    CHECK(mslam_asr_acc_add(&acc, "good morning", "good evening") == 0, "add");
    CHECK(mslam_asr_acc_add(&acc, "one two three four five six seven eight",
                            "One, two, three, four, five, six, seven, eight.") == 0,
          "add");
    CHECK_COUNTS("corpus words", acc.words, 1, 0, 0, 10);
    CHECK_NEAR("corpus WER", mslam_asr_acc_wer(&acc), 0.1, 1e-15);
    /* "morning" -> "evening": m/e o/v r/e n n i n g = 3 substitutions in 12 + 39 characters. */
    CHECK_COUNTS("corpus chars", acc.chars, 3, 0, 0, 12 + 39);
    CHECK(acc.n_utts == 2 && acc.n_invalid == 0, "n_utts %zu n_invalid %zu", acc.n_utts,
          acc.n_invalid);

    /* An empty reference adds insertions to the corpus sums. */
    CHECK(mslam_asr_acc_add(&acc, "", "uh") == 0, "add");
    CHECK_COUNTS("corpus words after empty ref", acc.words, 1, 1, 0, 10);
    CHECK_NEAR("corpus WER after empty ref", mslam_asr_acc_wer(&acc), 0.2, 1e-15);

    /* Invalid UTF-8 is counted and scored as U+FFFD. */
    CHECK(mslam_asr_acc_add(&acc, "ok", "o\xFF") == 0, "add");
    CHECK(acc.n_invalid == 1, "n_invalid %zu, want 1", acc.n_invalid);
    CHECK_COUNTS("chars after invalid", acc.chars, 4, 2, 0, 12 + 39 + 2);

    /* A language written without spaces: CER without spaces, no WER. */
    CHECK(mslam_lang_written_without_spaces("zh-CN") && mslam_lang_written_without_spaces("ja") &&
              mslam_lang_written_without_spaces("th") && mslam_lang_written_without_spaces("yue") &&
              !mslam_lang_written_without_spaces("en") &&
              !mslam_lang_written_without_spaces("zhx") && !mslam_lang_written_without_spaces(NULL),
          "lang_written_without_spaces");
    mslam_asr_acc_init(&acc, "zh", mslam_lang_written_without_spaces("zh"));
    CHECK(mslam_asr_acc_add(
              &acc, "\xE4\xBD\xA0\xE5\xA5\xBD\xEF\xBC\x8C\xE4\xB8\x96\xE7\x95\x8C\xE3\x80\x82",
              "\xE4\xBD\xA0\xE5\xA5\xBD \xE4\xB8\x96\xE7\x95\x8C") == 0,
          "add");
    /* 今天天气很好 vs 今天天汽很好: one substitution in six. */
    CHECK(mslam_asr_acc_add(
              &acc, "\xE4\xBB\x8A\xE5\xA4\xA9\xE5\xA4\xA9\xE6\xB0\x94\xE5\xBE\x88\xE5\xA5\xBD",
              "\xE4\xBB\x8A\xE5\xA4\xA9\xE5\xA4\xA9\xE6\xB1\xBD\xE5\xBE\x88\xE5\xA5\xBD") == 0,
          "add");
    CHECK_COUNTS("zh chars", acc.chars, 1, 0, 0, 4 + 6);
    CHECK(isnan(mslam_asr_acc_wer(&acc)), "WER of a language without spaces must be NAN");
    CHECK(acc.words.ref_len == 0, "no words counted for zh");
    CHECK(mslam_asr_acc_add(&acc, NULL, "x") < 0 && acc.n_utts == 2, "NULL reference must fail");

    mslam_asr_acc_init(&acc, "en", 0);
    CHECK(isnan(mslam_asr_acc_cer(&acc)) && isnan(mslam_asr_acc_wer(&acc)), "empty acc is NAN");
}

/* ---------------------------------------------------------------------------------------- */
/* BLEU and chrF: sacreBLEU's own test suite */

static const char *const readme_hyps[] = {"The dog bit the man.", "It wasn't surprising.",
                                          "The man had just bitten him."};
static const char *const readme_ref0[] = {"The dog bit the man.", "It was not unexpected.",
                                          "The man bit him first."};
static const char *const readme_ref1[] = {"The dog had bit the man.", "No one was surprised.",
                                          "The man had bitten the dog."};

static void test_sacrebleu_suite(void) {
    const char *const *refs[] = {readme_ref0, readme_ref1};
    struct mslam_bleu b;
    char line[256];
    /* test_bleu.py test_corpus_bleu_cases (EPSILON 1e-8). */
    CHECK(corpus_bleu(readme_hyps, 3, refs, 2, &b) == 0, "corpus_bleu failed");
    CHECK_NEAR("README BLEU", b.score, 48.530827, 1e-6);
    mslam_bleu_format(&b, line, sizeof line);
    CHECK_STR(
        "README BLEU line", line,
        "BLEU = 48.53 82.4/50.0/45.5/37.5 (BP = 0.943 ratio = 0.944 hyp_len = 17 ref_len = 18)");
    const char *const empty[] = {"", "", ""};
    CHECK(corpus_bleu(empty, 3, refs, 2, &b) == 0, "corpus_bleu failed");
    CHECK(b.score == 0.0, "empty hypotheses: BLEU %f, want 0", b.score);

    /* test_case_statistics: counts and totals. */
    const char *const h1[] = {"am I am a character sequence"};
    const char *const r1[] = {"I am a symbol string sequence a a"};
    const char *const *refs1[] = {r1};
    CHECK(corpus_bleu(h1, 1, refs1, 1, &b) == 0, "corpus_bleu failed");
    static const size_t want_counts[] = {4, 2, 1, 0}, want_totals[] = {6, 5, 4, 3};
    for (int n = 0; n < 4; n++)
        CHECK(b.correct[n] == want_counts[n] && b.total[n] == want_totals[n],
              "statistics order %d: %zu/%zu, want %zu/%zu", n + 1, b.correct[n], b.total[n],
              want_counts[n], want_totals[n]);

    /* test_case_scoring: compute_bleu([9,7,5,3], [10,8,6,4], 11, 11) = 0.8375922397. */
    struct mslam_bleu_stats st = {
        .hyp_len = 11, .ref_len = 11, .correct = {9, 7, 5, 3}, .total = {10, 8, 6, 4}};
    mslam_bleu_compute(&st, &b);
    CHECK_NEAR("compute_bleu", b.score / 100, 0.8375922397, 1e-8);

    /* test_chrf.py test_cases: beta 3, eps_smoothing (EPSILON 1e-4). */
    static const struct {
        const char *hyp, *ref;
        double score;
    } eps[] = {
        {"abcdefg", "hijklmnop", 0.0},
        {"a", "b", 0.0},
        {"", "b", 0.0},
        {"", "ref", 0.0},
        {"", "reference", 0.0},
        {"aa", "ab", 8.3333},
        {"a", "a", 16.6667},
        {"a b c", "a b c", 50.0},
        {"a b c", "abc", 50.0},
        {" risk assessment must be made of those who are qualified and expertise in the sector - "
         "these are the scientists .",
         "risk assessment has to be undertaken by those who are qualified and expert in that area "
         "- that is the scientists .",
         63.361730},
        {" Die    Beziehung zwischen  Obama und Netanjahu ist nicht gerade  freundlich. ",
         "Das Verhältnis zwischen Obama und Netanyahu ist nicht gerade freundschaftlich.",
         64.1302698},
        {"Niemand hat die Absicht, eine Mauer zu errichten",
         "Niemand hat die Absicht, eine Mauer zu errichten", 100.0},
    };
    for (size_t i = 0; i < sizeof eps / sizeof eps[0]; i++)
        CHECK_NEAR("chrF beta 3 eps", corpus_chrf(&eps[i].hyp, 1, &eps[i].ref, 3, 1), eps[i].score,
                   1e-4);
    const char *const ab_h[] = {"a", "b"}, *const ac_r[] = {"a", "c"};
    CHECK_NEAR("chrF beta 3 eps, 2 segments", corpus_chrf(ab_h, 2, ac_r, 3, 1), 8.3333, 1e-4);

    /* test_cases_effective_order: beta 3, sacreBLEU's default averaging. */
    static const struct {
        const char *hyp, *ref;
        double score;
    } eff[] = {
        {"a", "a", 100.0},       {"", "reference", 0.0}, {"a b c", "a b c", 100.0},
        {"a b c", "abc", 100.0}, {"", "c", 0.0},         {"aa", "ab", 25.0},
    };
    for (size_t i = 0; i < sizeof eff / sizeof eff[0]; i++)
        CHECK_NEAR("chrF beta 3 effective order", corpus_chrf(&eff[i].hyp, 1, &eff[i].ref, 3, 0),
                   eff[i].score, 1e-4);
    CHECK_NEAR("chrF beta 3 effective order, 2 segments", corpus_chrf(ab_h, 2, ac_r, 3, 0), 50.0,
               1e-4);

    /* test_sentence_level_chrf: sentence_chrf(eps_smoothing=True), beta 2. */
    static const struct {
        const char *hyp, *ref;
        double score;
    } sent[] = {
        {"Co nás nejvíc trápí, protože lékaři si vybírají, kdo bude žít a kdo zemře.",
         "Nejvíce smutní jsme z toho, že musíme rozhodovat o tom, kdo bude žít a kdo zemře.",
         39.14078509},
        {"Nebo prostě nemají vybavení, které by jim pomohlo, uvedli lékaři.",
         "A někdy nemáme ani potřebný materiál, abychom jim pomohli, popsali lékaři.", 31.22557079},
        {"Lapali po dechu, jejich životy skončily dřív, než skutečně začaly.",
         "Lapali po dechu a pak jejich život skončil - dřív, než skutečně mohl začít, "
         "připomněli.",
         57.15704367},
    };
    for (size_t i = 0; i < sizeof sent / sizeof sent[0]; i++)
        CHECK_NEAR("sentence chrF eps", corpus_chrf(&sent[i].hyp, 1, &sent[i].ref, 2, 1),
                   sent[i].score, 1e-4);
}

/* ---------------------------------------------------------------------------------------- */
/* BLEU and chrF: the sacreBLEU fixture */

static const char *jstr(json_object *o) { return json_object_get_string(o); }

static void test_fixture(void) {
    const char *path = test_data_path("reference/fixtures/metrics_sacrebleu.json");
    json_object *doc = json_object_from_file(path);
    CHECK(doc != NULL, "cannot read %s", path);
    if (!doc) return;
    json_object *cases = json_object_object_get(doc, "cases");
    size_t n_cases = cases ? json_object_array_length(cases) : 0;
    CHECK(n_cases >= 15, "%s has %zu cases", path, n_cases);
    size_t n_tok_checked = 0;
    for (size_t ci = 0; ci < n_cases; ci++) {
        json_object *c = json_object_array_get_idx(cases, ci);
        const char *name = jstr(json_object_object_get(c, "name"));
        json_object *hyps = json_object_object_get(c, "hyps"),
                    *refs = json_object_object_get(c, "refs");
        size_t n = json_object_array_length(hyps), n_refs = json_object_array_length(refs);
        if (n_refs < 1 || n_refs > 8) {
            CHECK(0, "%s: %zu reference streams", name, n_refs);
            continue;
        }
        struct mslam_bleu_stats bs = {0};
        struct mslam_chrf_stats cs, cs3;
        struct mslam_chrf_params p3 = {.char_order = 6, .beta = 3, .eps_smoothing = 1};
        CHECK(mslam_chrf_init(&cs, mslam_chrf_default_params()) == 0, "chrf_init");
        CHECK(mslam_chrf_init(&cs3, p3) == 0, "chrf_init");
        json_object *toks = json_object_object_get(c, "tok13a");
        for (size_t i = 0; i < n; i++) {
            const char *hyp = jstr(json_object_array_get_idx(hyps, i)), *seg_refs[8];
            for (size_t k = 0; k < n_refs; k++)
                seg_refs[k] =
                    jstr(json_object_array_get_idx(json_object_array_get_idx(refs, k), i));
            CHECK(mslam_bleu_add(&bs, hyp, seg_refs, n_refs) == 0, "%s: bleu_add", name);
            CHECK(mslam_chrf_add(&cs, hyp, seg_refs, n_refs) == 0, "%s: chrf_add", name);
            CHECK(mslam_chrf_add(&cs3, hyp, seg_refs, n_refs) == 0, "%s: chrf_add", name);
            char *tok = mslam_tokenize_13a(hyp, NULL);
            const char *want = jstr(json_object_array_get_idx(toks, i));
            if (!tok || strcmp(tok, want) != 0) {
                fprintf(stderr, "%s segment %zu: 13a of \"%s\"\n  got  \"%s\"\n  want \"%s\"\n",
                        name, i, hyp, tok ? tok : "(NULL)", want);
                test_failures++;
            }
            n_tok_checked++;
            free(tok);
        }
        struct mslam_bleu b;
        mslam_bleu_compute(&bs, &b);
        json_object *eb = json_object_object_get(c, "bleu");
        char what[128];
        snprintf(what, sizeof what, "%s: BLEU", name);
        CHECK_NEAR(what, b.score, json_object_get_double(json_object_object_get(eb, "score")),
                   1e-9);
        snprintf(what, sizeof what, "%s: BP", name);
        CHECK_NEAR(what, b.bp, json_object_get_double(json_object_object_get(eb, "bp")), 1e-12);
        for (int k = 0; k < MSLAM_BLEU_ORDER; k++) {
            size_t wc = (size_t)json_object_get_int64(
                json_object_array_get_idx(json_object_object_get(eb, "counts"), (size_t)k));
            size_t wt = (size_t)json_object_get_int64(
                json_object_array_get_idx(json_object_object_get(eb, "totals"), (size_t)k));
            double wp = json_object_get_double(
                json_object_array_get_idx(json_object_object_get(eb, "precisions"), (size_t)k));
            CHECK(b.correct[k] == wc && b.total[k] == wt, "%s: order %d: %zu/%zu, want %zu/%zu",
                  name, k + 1, b.correct[k], b.total[k], wc, wt);
            snprintf(what, sizeof what, "%s: precision %d", name, k + 1);
            CHECK_NEAR(what, b.precisions[k], wp, 1e-9);
        }
        size_t sys_len = (size_t)json_object_get_int64(json_object_object_get(eb, "sys_len"));
        size_t ref_len = (size_t)json_object_get_int64(json_object_object_get(eb, "ref_len"));
        CHECK(b.hyp_len == sys_len && b.ref_len == ref_len, "%s: lengths %zu/%zu, want %zu/%zu",
              name, b.hyp_len, b.ref_len, sys_len, ref_len);
        char line[256];
        mslam_bleu_format(&b, line, sizeof line);
        snprintf(what, sizeof what, "%s: BLEU line", name);
        CHECK_STR(what, line, jstr(json_object_object_get(eb, "line")));
        snprintf(what, sizeof what, "%s: chrF2", name);
        CHECK_NEAR(what, mslam_chrf_compute(&cs),
                   json_object_get_double(json_object_object_get(c, "chrf")), 1e-9);
        snprintf(what, sizeof what, "%s: chrF3 eps", name);
        CHECK_NEAR(what, mslam_chrf_compute(&cs3),
                   json_object_get_double(json_object_object_get(c, "chrf_beta3_eps")), 1e-9);
    }
    printf("fixture: %zu cases, %zu 13a tokenisations\n", n_cases, n_tok_checked);
    json_object_put(doc);
}

/* ---------------------------------------------------------------------------------------- */
/* BLEU and chrF: hand cases, invalid input, errors */

static void test_bleu_chrf_misc(void) {
    static const struct {
        const char *in, *out;
    } tok[] = {
        {"Hello, world!", "Hello , world !"},
        {"3.14, 1,000 and 5.", "3.14 , 1,000 and 5 ."},
        {"state-of-the-art 3-4", "state-of-the-art 3 - 4"},
        {"isn't (it)?", "isn't ( it ) ?"},
        {"&amp;lt;b&amp;gt;", "< b >"},
        {"co-\noperate\nnow  ", "cooperate now"},
        {"  ", ""},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof tok / sizeof tok[0]; i++) {
        char *got = mslam_tokenize_13a(tok[i].in, NULL);
        CHECK_STR("tokenize_13a", got, tok[i].out);
        free(got);
    }

    /* Invalid UTF-8 scores as U+FFFD would, and is counted. */
    const char *bad_hyp = "caf\xC3 au lait \xFF.",
               *fffd_hyp = "caf\xEF\xBF\xBD au lait \xEF\xBF\xBD.";
    const char *ref = "caf\xC3\xA9 au lait \xEF\xBF\xBD.";
    struct mslam_bleu_stats s1 = {0}, s2 = {0};
    CHECK(mslam_bleu_add(&s1, bad_hyp, &ref, 1) == 0 && mslam_bleu_add(&s2, fffd_hyp, &ref, 1) == 0,
          "bleu_add");
    struct mslam_bleu b1, b2;
    mslam_bleu_compute(&s1, &b1);
    mslam_bleu_compute(&s2, &b2);
    CHECK(b1.score == b2.score && b1.correct[0] == 4 && b1.total[0] == 5,
          "invalid UTF-8 BLEU %f vs %f, %zu/%zu unigrams", b1.score, b2.score, b1.correct[0],
          b1.total[0]);
    CHECK(s1.n_invalid == 2 && s2.n_invalid == 0, "BLEU n_invalid %zu/%zu", s1.n_invalid,
          s2.n_invalid);
    struct mslam_chrf_stats c1, c2;
    mslam_chrf_init(&c1, mslam_chrf_default_params());
    mslam_chrf_init(&c2, mslam_chrf_default_params());
    CHECK(mslam_chrf_add(&c1, bad_hyp, &ref, 1) == 0 && mslam_chrf_add(&c2, fffd_hyp, &ref, 1) == 0,
          "chrf_add");
    CHECK(mslam_chrf_compute(&c1) == mslam_chrf_compute(&c2) && c1.n_invalid == 2,
          "invalid UTF-8 chrF %f vs %f, n_invalid %zu", mslam_chrf_compute(&c1),
          mslam_chrf_compute(&c2), c1.n_invalid);
    char line[64];
    mslam_chrf_format(&c2, line, sizeof line);
    CHECK(strncmp(line, "chrF2 = ", 8) == 0, "chrF line \"%s\"", line);

    /* Errors leave the statistics as they were. */
    struct mslam_bleu_stats st = {0};
    CHECK(mslam_bleu_add(&st, "a", &ref, 0) < 0 && strstr(mslam_last_error(), "reference"),
          "no references must fail: \"%s\"", mslam_last_error());
    const char *null_ref = NULL;
    CHECK(mslam_bleu_add(&st, "a", &null_ref, 1) < 0, "a NULL reference must fail");
    CHECK(mslam_bleu_add(&st, NULL, &ref, 1) < 0, "a NULL hypothesis must fail");
    CHECK(st.n_segments == 0 && st.hyp_len == 0, "a failed add changed the statistics");
    struct mslam_chrf_stats cs;
    struct mslam_chrf_params p = mslam_chrf_default_params();
    p.char_order = 0;
    CHECK(mslam_chrf_init(&cs, p) < 0, "char_order 0 must fail");
    p.char_order = MSLAM_CHRF_MAX_ORDER + 1;
    CHECK(mslam_chrf_init(&cs, p) < 0, "char_order above the maximum must fail");
    p = mslam_chrf_default_params();
    CHECK(p.char_order == 6 && p.beta == 2 && p.eps_smoothing == 0, "chrF defaults");
    CHECK(mslam_chrf_init(&cs, p) == 0 && mslam_chrf_add(&cs, "a", &ref, 0) < 0,
          "chrF without references must fail");
}

/* ---------------------------------------------------------------------------------------- */
/* Language identification */

static void test_confusion(void) {
    const char *langs[] = {"en", "de", "fr", "nl"};
    mslam_confusion *c = mslam_confusion_new(langs, 4);
    CHECK(c != NULL, "confusion_new: %s", mslam_last_error());
    if (!c) return;
    for (int i = 0; i < 5; i++) CHECK(mslam_confusion_add(c, "en", "en") == 0, "add");
    for (int i = 0; i < 3; i++) CHECK(mslam_confusion_add(c, "de", "de") == 0, "add");
    for (int i = 0; i < 2; i++) CHECK(mslam_confusion_add(c, "de", "nl") == 0, "add");
    for (int i = 0; i < 4; i++) CHECK(mslam_confusion_add_index(c, 2, 2) == 0, "add");
    CHECK(mslam_confusion_add(c, "fr", "en") == 0, "add");
    CHECK(mslam_confusion_add_index(c, 3, 1) == 0, "add");
    CHECK(mslam_confusion_add(c, "xx", "en") < 0 && strstr(mslam_last_error(), "xx"),
          "an unknown language must fail naming it");
    CHECK(mslam_confusion_add(c, "en", "yy") < 0, "an unknown hypothesis must fail");
    CHECK(mslam_confusion_add_index(c, 4, 0) < 0, "an index out of range must fail");

    static const size_t want[4][4] = {{5, 0, 0, 0}, {0, 3, 0, 2}, {1, 0, 4, 0}, {0, 1, 0, 0}};
    for (size_t r = 0; r < 4; r++)
        for (size_t h = 0; h < 4; h++)
            CHECK(mslam_confusion_count(c, r, h) == want[r][h], "count[%s][%s] = %zu, want %zu",
                  langs[r], langs[h], mslam_confusion_count(c, r, h), want[r][h]);
    CHECK(mslam_confusion_total(c) == 16, "total %zu", mslam_confusion_total(c));
    CHECK_NEAR("accuracy", mslam_confusion_accuracy(c), 12.0 / 16.0, 1e-15);
    CHECK_NEAR("recall de", mslam_confusion_recall(c, 1), 3.0 / 5.0, 1e-15);
    CHECK_NEAR("recall nl", mslam_confusion_recall(c, 3), 0.0, 0.0);
    CHECK(mslam_confusion_index(c, "fr") == 2 && mslam_confusion_index(c, "it") == -1 &&
              strcmp(mslam_confusion_lang(c, 3), "nl") == 0 && mslam_confusion_lang(c, 4) == NULL,
          "lookups");

    /* The printout: accuracy, then the confusions most frequent first, ties in table order,
     * at most max_pairs of them. */
    FILE *fp = tmpfile();
    CHECK(fp != NULL, "tmpfile");
    if (fp) {
        CHECK(mslam_confusion_print(c, fp, 2) == 0, "print");
        char text[2048] = {0};
        rewind(fp);
        size_t got = fread(text, 1, sizeof text - 1, fp);
        text[got] = '\0';
        fclose(fp);
        const char *acc = strstr(text, "LID accuracy: 75.00% (12/16)");
        const char *p1 = strstr(text, "de -> nl: 2 (40.0% of de)");
        const char *p2 = strstr(text, "fr -> en: 1 (20.0% of fr)");
        CHECK(acc && p1 && p2 && acc < p1 && p1 < p2, "printout:\n%s", text);
        CHECK(!strstr(text, "nl -> de"), "max_pairs 2 printed a third pair:\n%s", text);
    }
    mslam_confusion_free(c);

    const char *dup[] = {"en", "de", "en"};
    CHECK(mslam_confusion_new(dup, 3) == NULL && strstr(mslam_last_error(), "twice"),
          "a language listed twice must fail");
    CHECK(mslam_confusion_new(langs, 0) == NULL, "no languages must fail");
    c = mslam_confusion_new(langs, 2);
    CHECK(c && isnan(mslam_confusion_accuracy(c)), "an empty table has no accuracy");
    mslam_confusion_free(c);
}

/* ---------------------------------------------------------------------------------------- */
/* Random bytes (bounded; run under ASan/UBSan): no crash, and invariants that must hold for any
 * input. */

static void random_text(mslam_rng *rng, char *buf, size_t max) {
    /* Mostly the bytes the tokeniser and the normaliser care about, plus stray UTF-8 pieces. */
    static const char *const pieces[] = {"a",
                                         "B",
                                         "7",
                                         ".",
                                         ",",
                                         "-",
                                         "'",
                                         "&amp;",
                                         "&",
                                         "<skipped>",
                                         "\n",
                                         " ",
                                         "  ",
                                         "\t",
                                         "\xC3\xA9",
                                         "\xE2\x80\x99",
                                         "\xEF\xAC\x81",
                                         "\xE3\x80\x80",
                                         "\xF0\x9F\x98\x80",
                                         "\xCC\x81",
                                         "\xC4\xB0",
                                         "\x80",
                                         "\xC3",
                                         "\xE0\x80",
                                         "\xED\xA0\x80",
                                         "\xF4\x90",
                                         "\xFF"};
    size_t n = 0, count = mslam_rng_u32(rng) % 24;
    for (size_t i = 0; i < count; i++) {
        const char *p = pieces[mslam_rng_u32(rng) % (sizeof pieces / sizeof pieces[0])];
        size_t len = strlen(p);
        if (n + len >= max) break;
        memcpy(buf + n, p, len);
        n += len;
    }
    buf[n] = '\0';
}

static void test_random_inputs(void) {
    mslam_rng rng;
    mslam_rng_seed(&rng, 99);
    char a[256], b[256];
    struct mslam_bleu_stats bs = {0};
    struct mslam_chrf_stats cs;
    mslam_chrf_init(&cs, mslam_chrf_default_params());
    for (int t = 0; t < 2000; t++) {
        random_text(&rng, a, sizeof a);
        random_text(&rng, b, sizeof b);
        size_t bad = 0, bad2 = 0;
        char *clean = mslam_utf8_sanitize(a, strlen(a), &bad);
        char *again = clean ? mslam_utf8_sanitize(clean, strlen(clean), &bad2) : NULL;
        CHECK(again && bad2 == 0 && strcmp(clean, again) == 0, "sanitize output is not valid");
        free(clean);
        free(again);

        char *na = mslam_text_normalize(a, "tr", 0, NULL),
             *nb = mslam_text_normalize(b, NULL, 0, NULL);
        CHECK(na && nb, "normalize failed");
        if (!na || !nb) {
            free(na);
            free(nb);
            continue;
        }
        size_t len = strlen(na);
        CHECK(!strstr(na, "  ") && (len == 0 || (na[0] != ' ' && na[len - 1] != ' ')),
              "normalised text has stray spaces: \"%s\"", na);
        size_t n_fffd = 0;
        for (const char *p = na; (p = strstr(p, "\xEF\xBF\xBD")); p += 3) n_fffd++;
        CHECK(n_fffd == bad, "%zu invalid sequences became %zu U+FFFD", bad, n_fffd);

        struct mslam_edit_counts w;
        CHECK(mslam_wer_counts(na, nb, &w) == 0, "wer_counts failed");
        size_t hyp_words = 0;
        for (const char *p = nb; *p; p++) hyp_words += p[0] != ' ' && (p == nb || p[-1] == ' ');
        CHECK(w.ref_len - w.del + w.ins == hyp_words && w.sub + w.del <= w.ref_len,
              "inconsistent WER counts for \"%s\" / \"%s\"", na, nb);
        free(na);
        free(nb);

        char *tok = mslam_tokenize_13a(a, NULL);
        CHECK(tok && !strstr(tok, "  ") && (!tok[0] || tok[strlen(tok) - 1] != ' '),
              "13a output \"%s\"", tok ? tok : "(NULL)");
        free(tok);
        const char *ref = b;
        CHECK(mslam_bleu_add(&bs, a, &ref, 1) == 0, "bleu_add failed");
        CHECK(mslam_chrf_add(&cs, a, &ref, 1) == 0, "chrf_add failed");
    }
    struct mslam_bleu r;
    mslam_bleu_compute(&bs, &r);
    for (int n = 0; n < MSLAM_BLEU_ORDER; n++)
        CHECK(r.correct[n] <= r.total[n], "order %d: %zu matches of %zu", n + 1, r.correct[n],
              r.total[n]);
    CHECK(r.total[0] == r.hyp_len && r.score >= 0 && r.score <= 100, "BLEU %f, %zu unigrams of %zu",
          r.score, r.total[0], r.hyp_len);
    double chrf = mslam_chrf_compute(&cs);
    CHECK(chrf >= 0 && chrf <= 100, "chrF %f", chrf);
}

int main(void) {
    test_utf8();
    test_ascii_nocase();
    test_normalize();
    test_edit_distance();
    test_asr_acc();
    test_sacrebleu_suite();
    test_fixture();
    test_bleu_chrf_misc();
    test_confusion();
    test_random_inputs();
    return test_result("test_metrics");
}
