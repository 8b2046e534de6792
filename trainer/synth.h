/* Speech from text through libespeak-ng's C API.
 *
 * espeak-ng keeps its synthesis state in globals (it is not thread-safe), and that state carries
 * from one utterance to the next: the same text and voice sound slightly different depending on
 * what was spoken before (a pitch-flutter phase, filter memories, noise generators). The corpus
 * builder therefore initialises espeak-ng once, never speaks in that process, and speaks each
 * utterance in a fresh fork of it: every utterance starts from the same state, so the audio
 * depends only on its own parameters, in any order, on any number of processes, on a resumed run. */
#ifndef MSLAM_TRAINER_SYNTH_H
#define MSLAM_TRAINER_SYNTH_H

#include "audio.h"

/* Loads espeak-ng's data (data_path NULL: the installed espeak-ng-data), once per process:
 * after espeak_ng_Terminate, a second initialisation starts a helper thread that a forked child
 * lacks, and the child's synthesis then waits forever. */
int synth_init(const char *data_path);
/* Output rate of espeak-ng's voices (22050 Hz). */
int synth_sample_rate(void);

/* Checks that espeak-ng has a language voice (e.g. "es"), a voice variant (e.g. "m3"),
 * without loading either. */
int synth_check_voice(const char *voice);
int synth_check_variant(const char *variant);

struct synth_params {
    const char *voice;   /* language voice, e.g. "es" */
    const char *variant; /* voice variant, e.g. "m3", "f2", "klatt4" */
    int rate;            /* words per minute, 80-450 (espeak-ng's default is 175) */
    int pitch;           /* 0-100 (default 50) */
};

/* Speaks UTF-8 text into out (replacing its content) at synth_sample_rate(). */
int synth_speak(const struct synth_params *params, const char *text, struct audio *out);

#endif
