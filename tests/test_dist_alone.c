/* trainer/dist.c built without MPI (as on a machine without libopenmpi-dev), whatever this build
 * has: alone it is rank 0 of 1 and its reductions return their input; started by mpirun as one
 * of several processes it refuses (each would otherwise train alone as rank 0 and write the same
 * files), naming the package to install. */
#include "common.h"
#include "dist.h"
#include "testutil.h"

#include <stdlib.h>
#include <string.h>

static int init_under(const char *name, const char *value) {
    unsetenv("OMPI_COMM_WORLD_SIZE");
    unsetenv("PMI_SIZE");
    unsetenv("PMIX_RANK");
    if (name) setenv(name, value, 1);
    return dist_init(NULL, NULL);
}

int main(void) {
    mslam_log_set(test_quiet_log, NULL);
    CHECK(strstr(dist_backend(), "without MPI") != NULL, "backend: %s", dist_backend());
    CHECK(init_under(NULL, NULL) == 0 && dist_rank() == 0 && dist_size() == 1, "alone: rank 0 of 1");
    CHECK(init_under("OMPI_COMM_WORLD_SIZE", "1") == 0, "mpirun -np 1 runs");
    CHECK(init_under("PMIX_RANK", "0") == 0, "rank 0 of a PMIx launcher runs");
    const char *several[][2] = {{"OMPI_COMM_WORLD_SIZE", "2"}, {"PMI_SIZE", "4"}, {"PMIX_RANK", "1"}};
    for (int i = 0; i < 3; i++) {
        CHECK(init_under(several[i][0], several[i][1]) == -1 && strstr(mslam_last_error(), "built without MPI") &&
                  strstr(mslam_last_error(), "libopenmpi-dev"),
              "%s=%s is refused: %s", several[i][0], several[i][1], mslam_last_error());
    }
    float x[3] = {1, -2, 3.5f};
    double y[2] = {0.25, -8};
    CHECK(dist_sum_f32(x, 3) == 0 && dist_sum_f64(y, 2) == 0 && dist_broadcast_f32(x, 3) == 0 && x[0] == 1 &&
              x[1] == -2 && x[2] == 3.5f && y[0] == 0.25 && y[1] == -8,
          "reductions over one process return their input");
    CHECK(dist_any(0) == 0 && dist_any(7) == 1, "dist_any is the flag itself");
    dist_abort(1); /* returns without MPI */
    dist_finalize();
    return test_result("test_dist_alone");
}
