#include "dist.h"

#include "common.h"

#include <stdlib.h>
#include <string.h>

#ifdef MSLAM_HAVE_MPI
#include <mpi.h>

#include <stdio.h>

static int joined, rank, size = 1;

/* mpirun (OpenMPI's, or a PMI/PMIx launcher) sets these; a plain start does not, and then we
 * stay out of MPI: singleton initialisation would cost time and spawn helpers for nothing. */
static int started_by_mpirun(void) {
    return getenv("OMPI_COMM_WORLD_SIZE") || getenv("PMI_SIZE") || getenv("PMIX_RANK");
}

static int check(int rc, const char *what) {
    if (rc == MPI_SUCCESS) return 0;
    char msg[MPI_MAX_ERROR_STRING];
    int len = 0;
    MPI_Error_string(rc, msg, &len);
    return mslam_error("MPI %s failed: %s", what, msg);
}

int dist_init(int *argc, char ***argv) {
    if (!started_by_mpirun()) return 0;
    int provided;
    if (check(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "initialisation")) return -1;
    joined = 1;
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    return 0;
}

void dist_finalize(void) {
    if (joined) MPI_Finalize();
    joined = 0;
}

int dist_rank(void) { return rank; }
int dist_size(void) { return size; }

const char *dist_backend(void) {
    static char name[64];
    int major = 0, minor = 0;
    MPI_Get_version(&major, &minor);
    snprintf(name, sizeof name, "MPI %d.%d%s", major, minor, joined ? "" : " (not started by mpirun)");
    return name;
}

/* MPI counts are ints: long buffers go in pieces. */
#define PIECE (1 << 28)

int dist_sum_f32(float *x, size_t n) {
    for (size_t at = 0; joined && size > 1 && at < n; at += PIECE) {
        int count = n - at < PIECE ? (int)(n - at) : PIECE;
        if (check(MPI_Allreduce(MPI_IN_PLACE, x + at, count, MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD), "allreduce"))
            return -1;
    }
    return 0;
}

int dist_sum_f64(double *x, size_t n) {
    for (size_t at = 0; joined && size > 1 && at < n; at += PIECE) {
        int count = n - at < PIECE ? (int)(n - at) : PIECE;
        if (check(MPI_Allreduce(MPI_IN_PLACE, x + at, count, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD), "allreduce"))
            return -1;
    }
    return 0;
}

int dist_broadcast_f32(float *x, size_t n) {
    for (size_t at = 0; joined && size > 1 && at < n; at += PIECE) {
        int count = n - at < PIECE ? (int)(n - at) : PIECE;
        if (check(MPI_Bcast(x + at, count, MPI_FLOAT, 0, MPI_COMM_WORLD), "broadcast")) return -1;
    }
    return 0;
}

int dist_any(int flag) {
    int any = flag != 0;
    if (joined && size > 1) MPI_Allreduce(MPI_IN_PLACE, &any, 1, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
    return any;
}

void dist_barrier(void) {
    if (joined && size > 1) MPI_Barrier(MPI_COMM_WORLD);
}

void dist_abort(int code) {
    if (joined && size > 1) MPI_Abort(MPI_COMM_WORLD, code);
}

#else /* one process */

/* Without MPI, K processes under mpirun would each train alone as rank 0 and write the same
 * files: refused, unless mpirun started just one. */
int dist_init(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    const char *world = getenv("OMPI_COMM_WORLD_SIZE"), *pmix_rank = getenv("PMIX_RANK");
    if (!world) world = getenv("PMI_SIZE");
    if ((world && atol(world) > 1) || (pmix_rank && strcmp(pmix_rank, "0") != 0))
        return mslam_error("started by mpirun as one of %s processes, but this mslam-trainer was built without MPI: "
                           "install libopenmpi-dev (packages.txt) and build again",
                           world ? world : "several");
    return 0;
}
void dist_finalize(void) {}
int dist_rank(void) { return 0; }
int dist_size(void) { return 1; }
const char *dist_backend(void) { return "none (built without MPI)"; }
int dist_sum_f32(float *x, size_t n) {
    (void)x;
    (void)n;
    return 0;
}
int dist_sum_f64(double *x, size_t n) {
    (void)x;
    (void)n;
    return 0;
}
int dist_broadcast_f32(float *x, size_t n) {
    (void)x;
    (void)n;
    return 0;
}
int dist_any(int flag) { return flag != 0; }
void dist_barrier(void) {}
void dist_abort(int code) { (void)code; }

#endif
