/* The languages the corpus builder speaks: their espeak-ng voice, script, and where their text
 * comes from in what Debian installs. */
#ifndef MSLAM_TRAINER_LANGS_H
#define MSLAM_TRAINER_LANGS_H

#include "textclean.h"

struct lang_info {
    const char *code;     /* label in manifests: ISO 639-1 where there is one, else 639-3 */
    const char *name;     /* English name */
    const char *voice;    /* espeak-ng voice */
    enum script script;   /* script of its letters */
    int unspaced;         /* no spaces between words */
    int in_default;       /* part of the default corpus */
    /* gettext locale folders (under e.g. /usr/share/locale), comma-separated, most preferred
     * first. English, the source language of the catalogs, takes the original (msgid) side of
     * the catalogs of these locales; every other language the translation side. */
    const char *locales;
    /* fortune files or folders under the fortune root (/usr/share/games/fortunes),
     * comma-separated; "!path" leaves out a file that a listed folder holds. */
    const char *fortunes;
};

const struct lang_info *lang_find(const char *code);
/* All languages, in a fixed order (n set to their number). */
const struct lang_info *lang_table(int *n);
int lang_is_english(const struct lang_info *lang);

#endif
