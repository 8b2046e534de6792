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
    const char *speaker;  /* the person recorded: voices of one (Festival's and flite's kal) are one
                             speaker, which a test split must not share with train */
};

/* Sorts a voice list's item: *other is the other synthesizer's voice it names ("SYNTHESIZER:VOICE"),
 * or NULL for an espeak-ng variant ("m3"). -1, with an error listing the known voices (as one of
 * --SPLIT-voices, when split is not NULL), for an unknown "SYNTHESIZER:VOICE". */
int othersynth_lookup(const char *name, const char *split, const struct other_voice **other);
/* Speaks a short sentence with the voice (in a temporary folder, waiting at most a minute): an
 * error naming its Debian package when it does not speak. */
int othersynth_check(const struct other_voice *voice);
/* A table of the known voices: language, Debian package, and whether each speaks on this machine
 * (each is tried). */
void othersynth_list(FILE *out);

/* othersynth_speak's result when the voice made no audio of the text (Festival fails so on a few
 * sentences in a thousand, exiting 0), or the text has characters the voice's encoding lacks and
 * cannot approximate: the text's fault, not the machine's. */
#define OTHERSYNTH_NOTHING 1

/* Speaks UTF-8 text into out (replacing its content, at the voice's rate), at rate words per
 * minute (espeak-ng's scale: 175 is a voice's own pace) where the voice stretches. The command's
 * files go in work_dir, a folder the caller owns, and are removed (othersynth_clean removes those
 * of a process killed meanwhile). Returns 0, OTHERSYNTH_NOTHING or -1 (the command could not run,
 * failed or was killed; a file could not be written or read, the command's audio among them, whose
 * write errors the commands do not report), the error naming the voice. */
int othersynth_speak(const struct other_voice *voice, const char *text, int rate, const char *work_dir,
                     struct audio *out);
/* Removes work_dir and the files othersynth_speak writes there (nothing else is removed: a folder
 * that holds more stays). */
void othersynth_clean(const char *work_dir);

#endif
