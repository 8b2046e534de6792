/* Data parallelism: K processes started by `mpirun -np K` each train on their share of every
 * global batch and sum their gradients with an allreduce, so that all of them take the same
 * optimizer step. Built without MPI (or started without mpirun) this is a one-process stub of
 * the same API: rank 0 of 1, and every reduction returns its input. */
#ifndef MSLAM_TRAINER_DIST_H
#define MSLAM_TRAINER_DIST_H

#include <stddef.h>

/* Joins the MPI job when the process was started by mpirun (its environment says so);
 * otherwise, or without MPI support, runs alone. Returns 0 or -1 (error recorded). */
int dist_init(int *argc, char ***argv);
void dist_finalize(void);
int dist_rank(void);
int dist_size(void);
/* "MPI (OpenMPI x.y)" or "none", for --version and logs. */
const char *dist_backend(void);

/* In-place sums over all processes (every process gets the total). 0 or -1. */
int dist_sum_f32(float *x, size_t n);
int dist_sum_f64(double *x, size_t n);
/* Rank 0's n floats copied to every process. */
int dist_broadcast_f32(float *x, size_t n);
/* 1 when flag is non-zero on any process (a signal that one of them received). */
int dist_any(int flag);
/* Returns when every process has called it. */
void dist_barrier(void);
/* Ends every process of the job with status code (a failure on one rank would otherwise leave
 * the others waiting in a reduction forever); returns only without MPI. */
void dist_abort(int code);

#endif
