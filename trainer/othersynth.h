/* Speech from synthesizers other than espeak-ng: Festival's voices (through its text2wave
 * command) and flite's (through the flite command), the ones Debian 12 packages for the corpus's
 * languages. A model trained on one synthesizer hears little else (README, "Speech from other
 * synthesizers"); the corpus builder mixes these voices in where a language has them.
 *
 * A voice is named "festival:NAME" or "flite:NAME" (othersynth_find). Each utterance runs the
 * command in a child process of its own, so that the builder's worker stays as it was: the
 * command's output, at the voice's own rate, is read back and deleted. */
#ifndef MSLAM_TRAINER_OTHERSYNTH_H
#define MSLAM_TRAINER_OTHERSYNTH_H

#include "audio.h"

#include <stdio.h>

struct other_voice {
    const char *name;     /* "festival:kal_diphone" */
    const char *lang;     /* the language it speaks (langs.h code) */
    const char *encoding; /* of the text it reads (the transcript stays UTF-8) */
    const char *package;  /* the Debian package that installs it */
    int stretches;        /* whether it follows the rate asked for (HTS voices keep their own) */
};

/* Whether name has the form of another synthesizer's voice ("SYNTHESIZER:VOICE"), known or not. */
int othersynth_is_other(const char *name);
/* The voice of that name; NULL, with an error listing the known voices, when there is none (as
 * one of --SPLIT-voices, when split is not NULL). */
const struct other_voice *othersynth_find(const char *name, const char *split);
/* Speaks a short sentence with the voice: an error naming its Debian package when it is not
 * installed or does not speak. */
int othersynth_check(const struct other_voice *voice);
/* A table of the known voices: language, Debian package, and whether each speaks on this machine
 * (each is tried). */
void othersynth_list(FILE *out);

/* Speaks UTF-8 text into out (replacing its content, at the voice's rate), at rate words per
 * minute (espeak-ng's scale: 175 is a voice's own pace) where the voice stretches. A text the
 * voice's encoding cannot hold, or one it makes no audio of, is an error naming both. */
int othersynth_speak(const struct other_voice *voice, const char *text, int rate, struct audio *out);

#endif
