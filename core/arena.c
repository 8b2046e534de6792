#include "arena.h"

#include "common.h"

#include <stdlib.h>

int arena_commit(arena *a, const char *what) {
    size_t bytes = a->used * sizeof(float);
    void *p = NULL;
    if (bytes && posix_memalign(&p, 64, bytes) != 0)
        return mslam_error("out of memory: %zu MiB for %s", bytes >> 20, what);
    free(a->base);
    a->base = p;
    a->size = a->used;
    a->used = 0;
    return 0;
}

void arena_release(arena *a) {
    free(a->base);
    a->base = NULL;
    a->used = a->size = 0;
}
