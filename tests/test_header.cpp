// The public header compiles as C++ and links from C++ (extern "C").
#include "mslam.h"

#include <cstdio>

int main() {
    mslam_stream_params sp = mslam_stream_default_params();
    std::printf("C++ sees mslam %s, chunk %d\n", mslam_version(), sp.chunk_frames);
    return sp.chunk_frames > 0 ? 0 : 1;
}
