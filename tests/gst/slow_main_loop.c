/* Preloaded (LD_PRELOAD) into gst-launch-1.0 by the pipelines test: g_main_loop_run starts
 * 300 ms late, so that an error a pipeline posts at once comes before gst-launch-1.0's main loop
 * runs, as it does now and then on a loaded machine (gst-launch-1.0 then loses it). */
#ifndef _GNU_SOURCE /* RTLD_NEXT; the project defines it already */
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <glib.h>

void g_main_loop_run(GMainLoop *loop) {
    void (*run)(GMainLoop *) = (void (*)(GMainLoop *))dlsym(RTLD_NEXT, "g_main_loop_run");
    g_usleep(300 * 1000);
    run(loop);
}
