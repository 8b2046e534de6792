/* What the fuzz tests share: the random draws, a silent log and the "no error yet" mark. */
#ifndef MSLAM_FUZZ_H
#define MSLAM_FUZZ_H

#include "mslam.h"
#include "ops.h"

#include <stdint.h>

/* Recorded (mslam_error) before each call, so that a call that fails without recording an error
 * of its own is caught. */
#define FUZZ_NO_ERROR "fuzz: no error recorded"

/* Uniform in [0, n); 0 when n is 0. */
static inline uint32_t draw(mslam_rng *rng, uint32_t n) { return n ? mslam_rng_u32(rng) % n : 0; }

/* One element of an array (a compound literal too). */
#define PICK(rng, array) (array)[draw(rng, sizeof(array) / sizeof *(array))]

/* A log callback that drops everything: thousands of refusals would flood the test's log. */
static inline void quiet_log(enum mslam_log_level level, const char *message, void *user_data) {
    (void)level, (void)message, (void)user_data;
}

#endif
