/* A one-line progress bar with rate and ETA, redrawn in place on a terminal. */
#ifndef MSLAM_TRAINER_PROGRESS_H
#define MSLAM_TRAINER_PROGRESS_H

#include <stddef.h>

struct progress {
    int enabled;
    const char *unit;
    size_t total, done, reused; /* reused: found finished from an earlier run (not timed) */
    double audio_seconds;
    double start, last_draw;
};

/* enabled < 0: when stderr is a terminal. */
void progress_start(struct progress *p, size_t total, const char *unit, int enabled);
/* Counts one more item (reused: it was already there) with its audio length. */
void progress_step(struct progress *p, int reused, double audio_seconds);
/* Draws the final state and ends the line. */
void progress_finish(struct progress *p);
/* Clears the bar, so that a message can be printed (the next step redraws it). */
void progress_clear(struct progress *p);

/* Monotonic seconds. */
double progress_now(void);

#endif
