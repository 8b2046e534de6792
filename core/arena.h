/* Bump allocator for the tensors of one pass: sized once by a counting run, then allocated in one
 * block (no malloc per op). Usage: arena a = {0}; plan(&a) (base NULL: only counts);
 * arena_commit(&a); plan(&a) again (now hands out pointers). */
#ifndef MSLAM_ARENA_H
#define MSLAM_ARENA_H

#include <stddef.h>

typedef struct {
    float *base;   /* NULL while counting */
    size_t used;   /* floats handed out */
    size_t size;   /* floats in base */
} arena;

/* 16 floats = 64 bytes: every tensor starts on a cache line. */
#define ARENA_ALIGN 16

static inline float *arena_take(arena *a, size_t n) {
    size_t start = a->used;
    a->used += (n + ARENA_ALIGN - 1) / ARENA_ALIGN * ARENA_ALIGN;
    return a->base ? a->base + start : NULL;
}

/* Allocates what the counting run asked for; 0 or -1 (error recorded). */
int arena_commit(arena *a, const char *what);
void arena_release(arena *a);

#endif
