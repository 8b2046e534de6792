/* The public header compiles as C on its own and exposes the API without internal headers. */
#include "mslam.h"

#include <stdio.h>
#include <string.h>

int main(void) {
    struct mslam_model_params mp = mslam_model_default_params();
    struct mslam_stream_params sp = mslam_stream_default_params();
    struct mslam_encode_params ep = mslam_encode_default_params();
    struct mslam_decode_params dp = mslam_decode_default_params();
    if (sp.chunk_frames <= 0 || ep.chunk_frames < 0 || mp.n_threads < 0 || dp.beam_size < 1) {
        fprintf(stderr, "default params out of range\n");
        return 1;
    }
    if (mslam_model_load("/nonexistent/model.safetensors", mp) != NULL) return 1;
    if (strstr(mslam_last_error(), "/nonexistent/model.safetensors") == NULL) {
        fprintf(stderr, "error message does not name the path: %s\n", mslam_last_error());
        return 1;
    }
    printf("mslam %s\n", mslam_version());
    return 0;
}
