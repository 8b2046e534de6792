#include "langs.h"

#include <string.h>

#define LATIN SCRIPT_LATIN
#define CYRILLIC SCRIPT_CYRILLIC

/* English fortunes of the fortunes and fortunes-min packages (the fortune root also holds the
 * Italian and Portuguese files of fortunes-it and fortunes-br). */
#define ENGLISH_FORTUNES                                                                                         \
    "fortunes,literature,riddles,art,computers,definitions,drugs,education,ethnic,food,goedel,humorists,kids,"  \
    "law,linux,love,magic,medicine,men-women,miscellaneous,news,paradoxum,people,pets,platitudes,politics,"     \
    "pratchett,science,songs-poems,sports,tao,wisdom,work"

/* in_default: the 50 languages of the default corpus: the close pairs that make language ID
 * hard (es/pt/ca/it, da/nb/sv, cs/sk/pl, ru/uk/bg, hi/mr/ne), then languages with many thousand
 * clean catalog sentences. The others stay out to keep the default corpus at 50 languages; some
 * have little clean text (az, ky, mt, sw, am, si), and Japanese a voice that spells kanji out. */
static const struct lang_info langs[] = {
    /* code  name            voice     script              unspaced default locales  fortunes */
    {"en", "English", "en-us", LATIN, 0, 1, "de,fr,es", ENGLISH_FORTUNES},
    {"de", "German", "de", LATIN, 0, 1, "de", "de"},
    {"fr", "French", "fr", LATIN, 0, 1, "fr", ""},
    {"es", "Spanish", "es", LATIN, 0, 1, "es", "es"},
    {"pt", "Portuguese", "pt-br", LATIN, 0, 1, "pt_BR,pt,pt_PT", "brasil"},
    {"ca", "Catalan", "ca", LATIN, 0, 1, "ca", ""},
    {"it", "Italian", "it", LATIN, 0, 1, "it", "it"},
    {"ro", "Romanian", "ro", LATIN, 0, 1, "ro", ""},
    {"nl", "Dutch", "nl", LATIN, 0, 1, "nl", ""},
    {"af", "Afrikaans", "af", LATIN, 0, 0, "af", ""},
    {"da", "Danish", "da", LATIN, 0, 1, "da", ""},
    {"nb", "Norwegian Bokmal", "nb", LATIN, 0, 1, "nb,no,nb_NO", ""},
    {"sv", "Swedish", "sv", LATIN, 0, 1, "sv", ""},
    {"is", "Icelandic", "is", LATIN, 0, 0, "is", ""},
    {"cs", "Czech", "cs", LATIN, 0, 1, "cs", "cs,!cs/klasik-sk"},
    {"sk", "Slovak", "sk", LATIN, 0, 1, "sk", "cs/klasik-sk"},
    {"pl", "Polish", "pl", LATIN, 0, 1, "pl", "pl"},
    {"sl", "Slovenian", "sl", LATIN, 0, 1, "sl", ""},
    {"hr", "Croatian", "hr", LATIN, 0, 1, "hr", ""},
    {"bs", "Bosnian", "bs", LATIN, 0, 0, "bs", ""},
    {"sr", "Serbian", "sr", CYRILLIC, 0, 1, "sr", ""},
    {"mk", "Macedonian", "mk", CYRILLIC, 0, 0, "mk", ""},
    {"bg", "Bulgarian", "bg", CYRILLIC, 0, 1, "bg", "bg"},
    {"ru", "Russian", "ru", CYRILLIC, 0, 1, "ru", "ru"},
    {"uk", "Ukrainian", "uk", CYRILLIC, 0, 1, "uk", ""},
    {"be", "Belarusian", "be", CYRILLIC, 0, 1, "be", ""},
    {"lt", "Lithuanian", "lt", LATIN, 0, 1, "lt", ""},
    {"lv", "Latvian", "lv", LATIN, 0, 1, "lv", ""},
    {"et", "Estonian", "et", LATIN, 0, 1, "et", ""},
    {"fi", "Finnish", "fi", LATIN, 0, 1, "fi", ""},
    {"hu", "Hungarian", "hu", LATIN, 0, 1, "hu", ""},
    {"el", "Greek", "el", SCRIPT_GREEK, 0, 1, "el", ""},
    {"tr", "Turkish", "tr", LATIN, 0, 1, "tr", ""},
    {"az", "Azerbaijani", "az", LATIN, 0, 0, "az", ""},
    {"kk", "Kazakh", "kk", CYRILLIC, 0, 0, "kk", ""},
    {"ky", "Kyrgyz", "ky", CYRILLIC, 0, 0, "ky", ""},
    {"ka", "Georgian", "ka", SCRIPT_GEORGIAN, 0, 1, "ka", ""},
    {"hy", "Armenian", "hy", SCRIPT_ARMENIAN, 0, 1, "hy", ""},
    {"he", "Hebrew", "he", SCRIPT_HEBREW, 0, 1, "he", ""},
    {"ar", "Arabic", "ar", SCRIPT_ARABIC, 0, 1, "ar", ""},
    {"fa", "Persian", "fa", SCRIPT_ARABIC, 0, 1, "fa", ""},
    {"ur", "Urdu", "ur", SCRIPT_ARABIC, 0, 0, "ur", ""},
    {"hi", "Hindi", "hi", SCRIPT_DEVANAGARI, 0, 1, "hi", ""},
    {"mr", "Marathi", "mr", SCRIPT_DEVANAGARI, 0, 1, "mr", ""},
    {"ne", "Nepali", "ne", SCRIPT_DEVANAGARI, 0, 1, "ne", ""},
    {"bn", "Bengali", "bn", SCRIPT_BENGALI, 0, 1, "bn,bn_IN", ""},
    {"as", "Assamese", "as", SCRIPT_BENGALI, 0, 0, "as", ""},
    {"pa", "Punjabi", "pa", SCRIPT_GURMUKHI, 0, 1, "pa", ""},
    {"gu", "Gujarati", "gu", SCRIPT_GUJARATI, 0, 1, "gu", ""},
    {"or", "Odia", "or", SCRIPT_ORIYA, 0, 0, "or", ""},
    {"ta", "Tamil", "ta", SCRIPT_TAMIL, 0, 1, "ta", ""},
    {"te", "Telugu", "te", SCRIPT_TELUGU, 0, 1, "te", ""},
    {"kn", "Kannada", "kn", SCRIPT_KANNADA, 0, 0, "kn", ""},
    {"ml", "Malayalam", "ml", SCRIPT_MALAYALAM, 0, 1, "ml", ""},
    {"si", "Sinhala", "si", SCRIPT_SINHALA, 0, 0, "si", ""},
    {"id", "Indonesian", "id", LATIN, 0, 1, "id", ""},
    {"ms", "Malay", "ms", LATIN, 0, 1, "ms", ""},
    {"vi", "Vietnamese", "vi", LATIN, 0, 1, "vi", ""},
    /* Debian's espeak-ng reads Han characters as Mandarin pinyin spelt out in English, but
     * reads them properly in Cantonese: written Chinese read in Cantonese, as Hong Kong does. */
    {"yue", "Cantonese", "yue", SCRIPT_HAN, 1, 1, "zh_HK,zh_TW", ""},
    {"zh", "Chinese (Mandarin)", "cmn", SCRIPT_HAN, 1, 0, "zh_CN", ""},
    {"ja", "Japanese", "ja", SCRIPT_KANA, 1, 0, "ja", ""},
    {"ko", "Korean", "ko", SCRIPT_HANGUL, 0, 1, "ko", ""},
    {"th", "Thai", "th", SCRIPT_THAI, 1, 1, "th", ""},
    {"eu", "Basque", "eu", LATIN, 0, 1, "eu", ""},
    {"cy", "Welsh", "cy", LATIN, 0, 0, "cy", ""},
    {"ga", "Irish", "ga", LATIN, 0, 0, "ga", "ga"},
    {"gd", "Scottish Gaelic", "gd", LATIN, 0, 0, "gd", ""},
    {"sq", "Albanian", "sq", LATIN, 0, 0, "sq", ""},
    {"eo", "Esperanto", "eo", LATIN, 0, 0, "eo", "eo"},
    {"mt", "Maltese", "mt", LATIN, 0, 0, "mt", ""},
    {"sw", "Swahili", "sw", LATIN, 0, 0, "sw", ""},
    {"am", "Amharic", "am", SCRIPT_ETHIOPIC, 0, 0, "am", ""},
};

const struct lang_info *lang_table(int *n) {
    *n = (int)(sizeof langs / sizeof langs[0]);
    return langs;
}

const struct lang_info *lang_find(const char *code) {
    for (size_t i = 0; i < sizeof langs / sizeof langs[0]; i++)
        if (strcmp(langs[i].code, code) == 0) return &langs[i];
    return NULL;
}

int lang_is_english(const struct lang_info *lang) { return strcmp(lang->code, "en") == 0; }
