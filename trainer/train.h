/* The supervised subcommands of mslam-trainer: train, eval, export. Each takes the arguments
 * after "mslam-trainer" (argv[0] is the subcommand's name) and returns the exit status. */
#ifndef MSLAM_TRAINER_TRAIN_H
#define MSLAM_TRAINER_TRAIN_H

int cmd_train(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_export(int argc, char **argv);

#endif
