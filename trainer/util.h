/* Small helpers of mslam-trainer: hashing, UTF-8, string lists, paths and folders, files.
 * Failures record a message with mslam_error (core/common.h), as in libmslam. */
#ifndef MSLAM_TRAINER_UTIL_H
#define MSLAM_TRAINER_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <signal.h>
#include <stdio.h>
#include <sys/types.h>

/* 64-bit hash of n bytes (FNV-1a, then splitmix64's finaliser, mix64 of core/ops.h, so that every
 * bit is usable). Part of the corpus format: splits and choices derive from it (and from
 * hash_mix, core/ops.h), so it must never change. */
uint64_t hash64(const void *data, size_t n, uint64_t seed);
uint64_t hash_str(const char *s, uint64_t seed);

/* Appends the UTF-8 encoding of cp to out (room for 4 bytes needed); returns bytes written. */
int utf8_encode(uint32_t cp, char *out);

char *str_dup(const char *s);
char *str_ndup(const char *s, size_t n);
/* printf into a new string (NULL and an error when out of memory). */
char *str_printf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* *p holds at least want elements of elem bytes afterwards (realloc'd when *have is smaller; the
 * contents kept); 0, or -1 with an error naming what. */
int buffer_grow(void **p, size_t *have, size_t want, size_t elem, const char *what);

/* A growable list of owned strings. */
struct strlist {
    char **items;
    size_t n, cap;
};
int strlist_push(struct strlist *list, const char *s); /* copies s */
void strlist_sort(struct strlist *list);
int strlist_contains(const struct strlist *list, const char *s);
/* Whether s starts with one of prefixes (NULL-terminated; NULL itself: none). */
int starts_with_any(const char *s, const char *const *prefixes);
void strlist_free(struct strlist *list);
/* Splits s at commas (strlist_split) or at separator into list (empty items dropped). */
int strlist_split(struct strlist *list, const char *s);
/* Splits a list option's value at commas and, as a key file writes a list (langs=es;de, as
 * train's data=A;B), at semicolons; empty items are dropped. */
int strlist_split_list(struct strlist *list, const char *value);
int strlist_split_on(struct strlist *list, const char *s, char separator);

/* Regular files (not links, not folders) in dir, sorted by name, with their full paths.
 * A missing folder gives an empty list; other failures an error. */
int list_files(const char *dir, struct strlist *paths);
/* The same of the folders in dir (not links). */
int list_folders(const char *dir, struct strlist *paths);

/* Joins folder and name with one '/'. New string. */
char *path_join(const char *dir, const char *name);
/* Folder part of path ("." when none). New string. */
char *path_dirname(const char *path);
/* Creates path and its missing parents; an error names the part that failed and why (an empty
 * path is one). */
int mkdir_p(const char *path);
/* Takes the lock file lock_path (flock, made when missing) for a run that writes into folder:
 * *fd to close when done (a kill releases it too). Held by another process: an error that says
 * "another WHO is writing into FOLDER (it holds LOCK_PATH): wait for it to end, or INSTEAD". */
int lock_folder(const char *folder, const char *lock_path, const char *who, const char *instead, int *fd);
int file_exists(const char *path);
/* The first of names (NULL-terminated) that folder holds as a file, in *found (NULL: none).
 * 0, or -1 out of memory. */
int folder_holds(const char *folder, const char *const *names, const char **found);
/* Whether path is a folder (through links). */
int is_folder(const char *path);
/* "s" unless n is 1: "%ld row%s", n, plural_s(n). */
const char *plural_s(long long n);

/* path opened for reading ("rb") where it is a regular file (through links). NULL otherwise: with
 * *kind NULL where it cannot be opened (errno says why), else naming what it is instead ("a FIFO
 * (named pipe)", "a folder", "a device", "a socket"). A FIFO is not waited on (fopen would wait
 * for a writer, forever when none comes), nor a device read to no end. */
FILE *fopen_regular(const char *path, const char **kind);
/* What path is where it is no regular file (as fopen_regular names it), NULL where it is one or
 * cannot be opened: for a library that opens files by name, which would wait on a FIFO. */
const char *irregular_file_kind(const char *path);
/* Reads a whole file (at most max_size bytes) into a new buffer with a NUL after the data. */
int read_file(const char *path, size_t max_size, char **data, size_t *size);
/* A file written through path.tmp: atomic_file_commit syncs it and renames it onto path, so that
 * path is complete or as it was (never emptied by a command that fails, nor by a crash or a power
 * cut); atomic_file_abort removes it.
 * Both close the stream and free the names. Through a symbolic link the file it names is
 * replaced, with its mode; a device or a pipe (/dev/stdout) is written directly (tmp NULL). */
struct atomic_file {
    FILE *f;
    char *path, *tmp;
};
int atomic_file_open(struct atomic_file *af, const char *path);
int atomic_file_commit(struct atomic_file *af);
void atomic_file_abort(struct atomic_file *af);
/* Writes data to path through an atomic_file. */
int write_file_atomic(const char *path, const void *data, size_t size);

/* Whether a and b name one existing file (the same device and inode, whatever the spelling). */
int same_file(const char *a, const char *b);
/* Warns of each of paths (NULL-terminated) that names a file an earlier one names, whatever the
 * spelling (a corpus folder is its manifest.tsv): a manifest given twice is read twice, which is
 * rarely meant (option names them in the message, what follows says what it does). */
void warn_paths_repeated(const char *option, const char *const *paths, const char *what);
/* An error when out is one of inputs (NULL-terminated; NULL itself is no inputs), or the
 * manifest.tsv of an input that is a folder (manifest_file): a command must not write over what
 * it reads. The message names both options. */
int check_output_not_input(const char *out_option, const char *out, const char *in_option,
                           const char *const *inputs);
/* For outputs written through an atomic_file. An error when outputs a and b of one command would
 * land on one file (whatever the spelling; neither need exist yet), or one is the other's
 * temporary file (PATH.tmp), which the other's rename would replace and its failure remove; and
 * check_output_not_input's, also when out's temporary file is one of inputs, which opening it
 * would empty. The messages name both options. */
int check_outputs_apart(const char *a_option, const char *a, const char *b_option, const char *b);
int check_atomic_output_not_input(const char *out_option, const char *out, const char *in_option,
                                  const char *const *inputs);

/* The signals that end a command's work early: Ctrl-C, kill (and mpirun's Ctrl-C), a closed
 * terminal (SSH gone). */
#define N_STOP_SIGNALS 3
extern const int stop_signals[N_STOP_SIGNALS];
/* Sets handler for each of stop_signals, keeping its disposition before in saved (unless handler
 * is already set: a second call keeps the first's); one that is ignored (SIGHUP under nohup,
 * SIGINT for a script's background job) stays ignored. */
void stop_signals_catch(void (*handler)(int), struct sigaction saved[N_STOP_SIGNALS]);
/* Puts back the dispositions that stop_signals_catch kept. */
void stop_signals_restore(const struct sigaction saved[N_STOP_SIGNALS]);

/* fork(), stdio flushed first (the child would write this process's buffered output again), the
 * child killed when this process dies (PR_SET_PDEATHSIG, best effort; a child whose parent died
 * before it was tied exits 1 at once). Returns as fork does. */
pid_t fork_tied(void);

#endif
