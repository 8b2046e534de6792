#include "synth.h"

#include "common.h"
#include "util.h"

#include <espeak-ng/espeak_ng.h>
#include <fcntl.h>
#include <espeak-ng/speak_lib.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

/* espeak-ng hands samples to one global callback; it fills this buffer during synth_speak. */
static struct audio *capture;
static int capture_failed;
static int sample_rate;

static int on_samples(short *wav, int n, espeak_EVENT *events) {
    (void)events;
    if (!wav || n <= 0 || capture_failed) return 0;
    if (audio_reserve(capture, capture->n + (size_t)n)) {
        capture_failed = 1;
        return 1; /* non-zero asks espeak-ng to stop */
    }
    for (int i = 0; i < n; i++) capture->samples[capture->n++] = (float)wav[i] / 32768.0f;
    return 0;
}

static int espeak_failed(espeak_ng_STATUS status, const char *what) {
    char message[256];
    espeak_ng_GetStatusCodeMessage(status, message, sizeof message);
    return mslam_error("espeak-ng: %s: %s", what, message);
}

int synth_init(const char *data_path) {
    static char loaded_path[4096];
    if (sample_rate > 0) {
        if (strcmp(loaded_path, data_path ? data_path : "") != 0)
            return mslam_error("espeak-ng already runs with data from %s; one process uses one data folder",
                               loaded_path[0] ? loaded_path : "its installed folder");
        return 0;
    }
    snprintf(loaded_path, sizeof loaded_path, "%s", data_path ? data_path : "");
    espeak_ng_InitializePath(data_path);
    espeak_ng_ERROR_CONTEXT context = NULL;
    espeak_ng_STATUS status = espeak_ng_Initialize(&context);
    if (status != ENS_OK) {
        espeak_ng_ClearErrorContext(&context);
        return espeak_failed(status, data_path ? data_path : "cannot load the installed espeak-ng-data");
    }
    status = espeak_ng_InitializeOutput(ENOUTPUT_MODE_SYNCHRONOUS, 0, NULL);
    if (status != ENS_OK) return espeak_failed(status, "cannot set up synchronous output");
    espeak_SetSynthCallback(on_samples);
    sample_rate = espeak_ng_GetSampleRate();
    if (sample_rate <= 0) return mslam_error("espeak-ng reports a sample rate of %d Hz", sample_rate);
    return 0;
}

int synth_sample_rate(void) { return sample_rate; }

int synth_check_voice(const char *voice) {
    if (sample_rate <= 0) return mslam_error("espeak-ng is not initialised");
    /* Look the voice up in the list rather than load it: loading a voice leaves state behind
     * that the next voice does not reset, and the forked children must start from the state
     * of a process that never loaded one, or a language would sound different depending on
     * which languages were checked before it. */
    const espeak_VOICE **voices = espeak_ListVoices(NULL);
    for (size_t i = 0; voices && voices[i]; i++) {
        const char *id = voices[i]->identifier ? voices[i]->identifier : "";
        const char *slash = strrchr(id, '/');
        if (strcasecmp(slash ? slash + 1 : id, voice) == 0 ||
            (voices[i]->name && strcasecmp(voices[i]->name, voice) == 0))
            return 0;
    }
    return mslam_error("espeak-ng has no voice '%s'", voice);
}

int synth_check_variant(const char *variant) {
    if (sample_rate <= 0) return mslam_error("espeak-ng is not initialised");
    /* espeak-ng ignores an unknown variant silently, so look for its file. */
    const char *data = NULL;
    espeak_Info(&data);
    char *path = str_printf("%s/voices/!v/%s", data ? data : "", variant);
    if (!path) return -1;
    int found = file_exists(path);
    free(path);
    if (!found) return mslam_error("espeak-ng has no voice variant '%s' (no file voices/!v/%s in %s)", variant,
                                   variant, data ? data : "its data folder");
    return 0;
}

/* espeak-ng prints notes while it loads a voice ("Full dictionary is not installed for 'be'"),
 * and each utterance loads its voice afresh in its own process: keep them off stderr. Failures
 * come back as status codes, reported by the caller. */
static espeak_ng_STATUS set_voice_quietly(const char *name) {
    fflush(stderr);
    int saved = dup(STDERR_FILENO), null = open("/dev/null", O_WRONLY);
    if (saved >= 0 && null >= 0) dup2(null, STDERR_FILENO);
    espeak_ng_STATUS status = espeak_ng_SetVoiceByName(name);
    if (saved >= 0 && null >= 0) dup2(saved, STDERR_FILENO);
    if (saved >= 0) close(saved);
    if (null >= 0) close(null);
    return status;
}

int synth_speak(const struct synth_params *params, const char *text, struct audio *out) {
    char name[96];
    if (snprintf(name, sizeof name, "%s+%s", params->voice, params->variant) >= (int)sizeof name)
        return mslam_error("voice name '%s+%s' is too long", params->voice, params->variant);
    espeak_ng_STATUS status = set_voice_quietly(name);
    if (status != ENS_OK) return espeak_failed(status, name);
    if ((status = espeak_ng_SetParameter(espeakRATE, params->rate, 0)) != ENS_OK ||
        (status = espeak_ng_SetParameter(espeakPITCH, params->pitch, 0)) != ENS_OK)
        return espeak_failed(status, "cannot set rate and pitch");
    out->n = 0;
    out->rate = sample_rate;
    capture = out;
    capture_failed = 0;
    status = espeak_ng_Synthesize(text, strlen(text) + 1, 0, POS_CHARACTER, 0, espeakCHARS_UTF8, NULL, NULL);
    if (status == ENS_OK) status = espeak_ng_Synchronize();
    capture = NULL;
    if (capture_failed) return -1;
    if (status != ENS_OK) return espeak_failed(status, "synthesis failed");
    if (out->n == 0) return mslam_error("espeak-ng produced no audio for \"%s\" with voice %s", text, name);
    return 0;
}
