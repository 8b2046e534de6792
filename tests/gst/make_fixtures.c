/* Writes what the pipeline scripts' test (test_pipelines.sh) runs on into a folder:
 * loud.safetensors (GSTTEST_MODEL_LOUDNESS with every head), talk.wav (0.5 s silence, an
 * English utterance, 1 s silence, another, 0.5 s silence; 16 kHz mono) and said.wav (the two
 * utterances from the first sample on, 100 ms apart: speech before any silence). */
#include "gsttestutil.h"

#include <stdio.h>

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: %s DIR\n", argv[0]);
        return 2;
    }
    const gsttest_fixture *fx = gsttest_fixture_get();
    float *talk = NULL;
    size_t n = 0;
    gsttest_append(&talk, &n, NULL, 8000);
    gsttest_append(&talk, &n, fx->speech[0], fx->n_speech[0]);
    gsttest_append(&talk, &n, NULL, 16000);
    gsttest_append(&talk, &n, fx->speech[1], fx->n_speech[1]);
    gsttest_append(&talk, &n, NULL, 8000);
    float *said = NULL;
    size_t n_said = 0;
    gsttest_append(&said, &n_said, fx->speech[0], fx->n_speech[0]);
    gsttest_append(&said, &n_said, NULL, 1600);
    gsttest_append(&said, &n_said, fx->speech[1], fx->n_speech[1]);
    char *wav = g_build_filename(argv[1], "talk.wav", NULL), *said_wav = g_build_filename(argv[1], "said.wav", NULL);
    char *model = g_build_filename(argv[1], "loud.safetensors", NULL);
    struct gsttest_model_opts o = {.kind = GSTTEST_MODEL_LOUDNESS, .ctc_head = 1, .lid_head = 1,
                                   .n_decoder_layers = 1};
    int rc = gsttest_write_wav(wav, talk, n) || gsttest_write_wav(said_wav, said, n_said) ||
             gsttest_write_model(model, &o);
    g_free(wav), g_free(said_wav);
    g_free(model);
    g_free(talk), g_free(said);
    return rc;
}
