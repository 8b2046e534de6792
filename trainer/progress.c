#include "progress.h"

#include <stdio.h>
#include <time.h>
#include <unistd.h>

#define BAR_WIDTH 30
#define REDRAW_SECONDS 0.2

double progress_now(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

void progress_start(struct progress *p, size_t total, const char *unit, int enabled) {
    *p = (struct progress){
        .enabled = enabled < 0 ? isatty(STDERR_FILENO) : enabled,
        .unit = unit,
        .total = total,
        .start = progress_now(),
    };
}

static void format_duration(double seconds, char *out, size_t size) {
    long s = (long)(seconds + 0.5);
    if (s >= 3600) {
        snprintf(out, size, "%ldh%02ldm", s / 3600, s / 60 % 60);
    } else {
        snprintf(out, size, "%ldm%02lds", s / 60, s % 60);
    }
}

static void draw(struct progress *p, double now) {
    size_t filled = p->total ? p->done * BAR_WIDTH / p->total : BAR_WIDTH;
    char bar[BAR_WIDTH + 1];
    for (size_t i = 0; i < BAR_WIDTH; i++) bar[i] = i < filled ? '#' : '.';
    bar[BAR_WIDTH] = '\0';
    /* the rate counts only the items made in this run, so that resuming does not skew the ETA */
    double elapsed = now - p->start;
    size_t made = p->done - p->reused;
    char eta[32] = "?", spent[32];
    if (made > 0 && p->done < p->total)
        format_duration(elapsed / (double)made * (double)(p->total - p->done), eta, sizeof eta);
    else if (p->done >= p->total)
        snprintf(eta, sizeof eta, "0m00s");
    format_duration(elapsed, spent, sizeof spent);
    fprintf(stderr, "\r[%s] %3d%% %zu/%zu %s, %.2f h audio, %.1f/s, %s spent, ETA %s\033[K", bar,
            p->total ? (int)(100 * p->done / p->total) : 100, p->done, p->total, p->unit, p->audio_seconds / 3600.0,
            elapsed > 0 ? (double)made / elapsed : 0.0, spent, eta);
    fflush(stderr);
    p->last_draw = now;
}

void progress_step(struct progress *p, int reused, double audio_seconds) {
    p->done++;
    if (reused) p->reused++;
    p->audio_seconds += audio_seconds;
    if (!p->enabled) return;
    double now = progress_now();
    if (now - p->last_draw >= REDRAW_SECONDS || p->done == p->total) draw(p, now);
}

void progress_finish(struct progress *p) {
    if (!p->enabled) return;
    draw(p, progress_now());
    fputc('\n', stderr);
}

void progress_clear(struct progress *p) {
    if (!p->enabled) return;
    fputs("\r\033[K", stderr);
    fflush(stderr);
}
