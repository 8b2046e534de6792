/* Command-line options of the trainer's subcommands: one GOptionEntry table per
 * subcommand serves both the flags and the GLib key file given with --config FILE, whose group
 * is the subcommand's name and whose keys are the long option names:
 *
 *   [train]
 *   task=multi
 *   batch-size=16
 *   lr=0.001
 *
 * Flags on the command line override the file. */
#ifndef MSLAM_TRAINER_OPTIONS_H
#define MSLAM_TRAINER_OPTIONS_H

#include <glib.h>

/* Parses argv (argv[0] is the subcommand) against entries (terminated by a zero entry; string
 * options must point at NULL or g_strdup'd defaults). Adds --config. summary and description
 * appear in --help. Returns 0, 1 when --help was printed, or -1 with the error printed. */
int options_parse(const char *command, const GOptionEntry *entries, int argc, char **argv,
                  const char *parameter_string, const char *summary, const char *description,
                  int *n_rest, char ***rest);

/* The FILE of argv's last --config FILE or --config=FILE (before a "--"), or NULL. */
const char *options_config_path(int argc, char **argv);
/* An output file's checks before any work: option's path out is not empty (an unset variable, or
 * "out=" in a key file: the work had been done and then failed to write) nor the --config key
 * file of argv, which it would replace. 0, or -1 with the error recorded. */
int options_check_output(const char *option, const char *out, int argc, char **argv);
/* The key file at path when it reads and has the group (the subcommand's name); else NULL with
 * the error printed. */
GKeyFile *options_key_file_open(const char *path, const char *group);

/* Which of names (NULL-terminated, at most 32) of entries were given for command: bit i for
 * names[i] given as a flag in argv (before a "--") or as a key of the --config file's group; an
 * option left at its default value was not. */
unsigned options_given(const char *command, const GOptionEntry *entries, int argc, char **argv,
                       const char *const *names);

/* g_free's every string option of entries (call once the options are no longer needed). */
void options_free(const GOptionEntry *entries);

/* A record of the options' values: "name=value" lines (values escaped as C strings) in the
 * entries' order, leaving out the names in skip (NULL-terminated; may be NULL). New string. */
char *options_record(const GOptionEntry *entries, const char *const *skip);
/* The options whose values differ between two records, as "name: was -> now" joined with "; "
 * (an option missing from one record reads as "(none)"; one that was lacks, written before the
 * option existed, as its value in defaults when given, a record of the defaults), leaving out the
 * names in ignore (NULL-terminated; may be NULL); NULL when they agree. New string. */
char *options_record_diff(const char *was, const char *now, const char *defaults, const char *const *ignore);
/* The items of a recorded list value (split at each ';' that no '\\' escapes, the last ';'
 * closing the list), or NULL when the value is no list. g_strfreev it. */
gchar **options_record_list(const char *value);
/* The value of name in a record, or NULL. New string (g_free). */
gchar *options_record_value(const char *record, const char *name);

#endif
