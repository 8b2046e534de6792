/* Subcommands of mslam-trainer: train, eval and export (supervised training), info (what a file
 * is). Each takes the arguments after "mslam-trainer" (argv[0] is the subcommand's name) and
 * returns the exit status. */
#ifndef MSLAM_TRAINER_TRAIN_H
#define MSLAM_TRAINER_TRAIN_H

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_export(int argc, char **argv);
int cmd_info(int argc, char **argv);

/* What the file at path is and holds, as `mslam-trainer info` prints it (show_options: a
 * checkpoint's recorded training options too). New string, or NULL with the error set when the
 * file is not one mslam reads. */
char *info_text(const char *path, int show_options);

#endif
