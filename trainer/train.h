/* The supervised subcommands of mslam-trainer: train, eval, export, info. Each takes the arguments
 * after "mslam-trainer" (argv[0] is the subcommand's name) and returns the exit status. */
#ifndef MSLAM_TRAINER_TRAIN_H
#define MSLAM_TRAINER_TRAIN_H

#include <stdio.h>

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_info(int argc, char **argv);

/* What the file at path is and holds (mslam-trainer info), printed to out; show_options: a
 * checkpoint's recorded training options too. 0, or -1 with the error set when the file is not
 * one mslam reads. */
int info_print(FILE *out, const char *path, int show_options);

#endif
