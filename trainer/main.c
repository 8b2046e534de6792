/* mslam-trainer: one executable, one subcommand per task. Adding a subcommand is one line in
 * the table below and a function taking (argc, argv) with argv[0] its name, answering --help. */
#include "common.h"
#include "corpus.h"
#include "lmbuild.h"
#include "tmbuild.h"
#include "train.h"

#include <stdio.h>
#include <string.h>
#include <unistd.h>

struct subcommand {
    const char *name;
    const char *summary;
    int (*run)(int argc, char **argv); /* returns the exit status */
};

static const struct subcommand subcommands[] = {
    {"corpus", "build a multilingual speech/text corpus from Debian's packages, or print a manifest's statistics",
     corpus_main},
    {"train", "train speech recognition, language ID and translation heads on one encoder", cmd_train},
    {"eval", "score a model on a manifest (CER/WER, LID accuracy, BLEU/chrF; offline and streaming)", cmd_eval},
    {"export", "write the inference model file of a checkpoint (no optimizer state)", cmd_export},
    {"lm", "build character n-gram language models (one per language) for decoding and language ID", cmd_lm},
    {"tm", "build a translation memory (known sentences and their English) for translation", cmd_tm},
    {"info", "say what a model, checkpoint, LM or translation memory file is and holds", cmd_info},
};
#define N_SUBCOMMANDS (sizeof subcommands / sizeof subcommands[0])

static void usage(FILE *out) {
    fprintf(out, "Usage: mslam-trainer COMMAND [OPTIONS]\n"
                 "       mslam-trainer COMMAND --help\n\nCommands:\n");
    for (size_t i = 0; i < N_SUBCOMMANDS; i++) fprintf(out, "  %-8s %s\n", subcommands[i].name, subcommands[i].summary);
    fprintf(out, "\nmslam %s\n", mslam_version());
}

static pid_t main_pid;

/* Warnings of libmslam and of the subcommands, under the program's name. Errors are not printed
 * as they are raised: the error that stops a command is printed by the command, once, with its
 * name, and one that is handled (a file skipped, another way tried) is none to the user; a
 * subcommand's worker process (the corpus's) has no command to print its own, so prints it. */
static void log_to_stderr(enum mslam_log_level level, const char *message, void *user_data) {
    (void)user_data;
    if (level > MSLAM_LOG_WARN || (level == MSLAM_LOG_ERROR && getpid() == main_pid)) return;
    fprintf(stderr, "mslam-trainer: %s: %s\n", level == MSLAM_LOG_ERROR ? "error" : "warning", message);
}

int main(int argc, char **argv) {
    main_pid = getpid();
    mslam_log_set(log_to_stderr, NULL);
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        (strcmp(argv[1], "help") == 0 && argc == 2)) {
        usage(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (strcmp(argv[1], "--version") == 0) {
        printf("mslam-trainer %s\n", mslam_version());
        return 0;
    }
    /* "help COMMAND" is "COMMAND --help" */
    if (strcmp(argv[1], "help") == 0 && argc > 3) {
        fprintf(stderr, "mslam-trainer help: one command, not '%s %s...'\n\n", argv[2], argv[3]);
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "help") == 0 && argc == 3) {
        char help[] = "--help";
        char *args[] = {argv[2], help, NULL};
        for (size_t i = 0; i < N_SUBCOMMANDS; i++)
            if (strcmp(argv[2], subcommands[i].name) == 0) return subcommands[i].run(2, args);
        fprintf(stderr, "mslam-trainer help: unknown command '%s'\n\n", argv[2]);
        usage(stderr);
        return 2;
    }
    for (size_t i = 0; i < N_SUBCOMMANDS; i++)
        if (strcmp(argv[1], subcommands[i].name) == 0) return subcommands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "mslam-trainer: unknown command '%s'\n\n", argv[1]);
    usage(stderr);
    return 2;
}
