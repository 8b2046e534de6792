#include "util.h"

#include "common.h"
#include "manifest.h"
#include "ops.h"

#include <dirent.h>
#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- hashing ---- */

uint64_t hash64(const void *data, size_t n, uint64_t seed) {
    const unsigned char *p = data;
    uint64_t h = 0xcbf29ce484222325ULL ^ mix64(seed);
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ULL;
    }
    return mix64(h);
}

uint64_t hash_str(const char *s, uint64_t seed) { return hash64(s, strlen(s), seed); }


/* ---- UTF-8 ---- */

int utf8_encode(uint32_t cp, char *out) {
    unsigned char *o = (unsigned char *)out;
    if (cp < 0x80) {
        o[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (unsigned char)(0xc0 | (cp >> 6));
        o[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (unsigned char)(0xe0 | (cp >> 12));
        o[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (unsigned char)(0xf0 | (cp >> 18));
    o[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

/* ---- strings ---- */

char *str_ndup(const char *s, size_t n) {
    char *copy = mslam_malloc(n + 1, "a string");
    if (!copy) return NULL;
    memcpy(copy, s, n);
    copy[n] = '\0';
    return copy;
}

char *str_dup(const char *s) { return str_ndup(s, strlen(s)); }

char *str_printf(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        mslam_error("cannot format '%s'", fmt);
        return NULL;
    }
    char *s = mslam_malloc((size_t)n + 1, "a string");
    if (!s) return NULL;
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

int strlist_push(struct strlist *list, const char *s) {
    if (list->n == list->cap) {
        size_t cap = list->cap ? 2 * list->cap : 16;
        char **items = realloc(list->items, cap * sizeof *items);
        if (!items) return mslam_error("out of memory growing a list of %zu strings", list->n);
        list->items = items;
        list->cap = cap;
    }
    char *copy = str_dup(s);
    if (!copy) return -1;
    list->items[list->n++] = copy;
    return 0;
}

static int cmp_str(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

void strlist_sort(struct strlist *list) {
    if (list->n > 1) qsort(list->items, list->n, sizeof *list->items, cmp_str);
}

int strlist_contains(const struct strlist *list, const char *s) {
    for (size_t i = 0; i < list->n; i++)
        if (strcmp(list->items[i], s) == 0) return 1;
    return 0;
}

void strlist_free(struct strlist *list) {
    for (size_t i = 0; i < list->n; i++) free(list->items[i]);
    free(list->items);
    *list = (struct strlist){0};
}

int strlist_split_on(struct strlist *list, const char *s, char separator) {
    const char separators[2] = {separator, '\0'};
    while (*s) {
        size_t len = strcspn(s, separators);
        if (len > 0) {
            char *item = str_ndup(s, len);
            if (!item) return -1;
            int rc = strlist_push(list, item);
            free(item);
            if (rc) return rc;
        }
        s += len;
        if (*s == separator) s++;
    }
    return 0;
}

int strlist_split(struct strlist *list, const char *s) { return strlist_split_on(list, s, ','); }

int strlist_split_list(struct strlist *list, const char *value) {
    char *commas = str_dup(value);
    if (!commas) return -1;
    for (char *c = commas; *c; c++)
        if (*c == ';') *c = ',';
    int rc = strlist_split(list, commas);
    free(commas);
    return rc;
}

/* ---- paths, folders and files ---- */

/* Entries of dir that are regular files (folders 0) or folders (1), sorted, with their paths. */
static int list_entries(const char *dir, int folders, struct strlist *paths) {
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) return 0;
        return mslam_error("cannot open folder %s: %s", dir, strerror(errno));
    }
    struct strlist found = {0};
    int rc = 0;
    struct dirent *entry;
    while (rc == 0 && (entry = readdir(d)) != NULL) {
        if (entry->d_name[0] == '.') continue;
        char *path = path_join(dir, entry->d_name);
        if (!path) {
            rc = -1;
            break;
        }
        struct stat st;
        if (lstat(path, &st) == 0 && (folders ? S_ISDIR(st.st_mode) : S_ISREG(st.st_mode)))
            rc = strlist_push(&found, path);
        free(path);
    }
    closedir(d);
    /* readdir's order depends on the file system: sorting keeps builds reproducible. */
    strlist_sort(&found);
    for (size_t i = 0; rc == 0 && i < found.n; i++) rc = strlist_push(paths, found.items[i]);
    strlist_free(&found);
    return rc;
}

int list_files(const char *dir, struct strlist *paths) { return list_entries(dir, 0, paths); }

int list_folders(const char *dir, struct strlist *paths) { return list_entries(dir, 1, paths); }

char *path_join(const char *dir, const char *name) {
    size_t n = strlen(dir);
    if (n == 0 || name[0] == '/') return str_dup(name);
    return str_printf("%s%s%s", dir, dir[n - 1] == '/' ? "" : "/", name);
}

char *path_dirname(const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return str_dup(".");
    if (slash == path) return str_dup("/");
    return str_ndup(path, (size_t)(slash - path));
}

int mkdir_p(const char *path) {
    if (!*path) return mslam_error("cannot create a folder of an empty name");
    char *copy = str_dup(path);
    if (!copy) return -1;
    int rc = 0;
    for (char *p = copy + 1;; p++) {
        if (*p != '/' && *p != '\0') continue;
        char saved = *p;
        *p = '\0';
        struct stat st;
        if (mkdir(copy, 0777) != 0 && errno != EEXIST) {
            rc = mslam_error("cannot create folder %s: %s", copy, strerror(errno));
        } else if (stat(copy, &st) != 0 || !S_ISDIR(st.st_mode)) {
            rc = mslam_error("cannot create folder %s: %s exists and is not a folder", path, copy);
        }
        *p = saved;
        if (rc || saved == '\0') break;
    }
    free(copy);
    return rc;
}

int lock_folder(const char *folder, const char *lock_path, const char *who, const char *instead, int *fd) {
    *fd = open(lock_path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    int rc = 0;
    if (*fd < 0) rc = mslam_error("cannot open %s: %s", lock_path, strerror(errno));
    else if (flock(*fd, LOCK_EX | LOCK_NB) != 0)
        rc = errno == EWOULDBLOCK ? mslam_error("another %s is writing into %s (it holds %s): wait for it to end, or %s",
                                                who, folder, lock_path, instead)
                                  : mslam_error("cannot lock %s: %s", lock_path, strerror(errno));
    if (rc && *fd >= 0) {
        close(*fd);
        *fd = -1;
    }
    return rc;
}

int folder_holds(const char *folder, const char *const *names, const char **found) {
    *found = NULL;
    for (; *names && !*found; names++) {
        char *path = path_join(folder, *names);
        if (!path) return -1;
        if (file_exists(path)) *found = *names;
        free(path);
    }
    return 0;
}

int file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

int is_folder(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

const char *plural_s(long long n) { return n == 1 ? "" : "s"; }

FILE *fopen_regular(const char *path, const char **kind) {
    *kind = NULL;
    /* O_NONBLOCK: opening a FIFO for reading waits for a writer, forever when none comes */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return NULL;
    struct stat st;
    int flags = fstat(fd, &st) == 0 ? fcntl(fd, F_GETFL) : -1;
    if (flags >= 0 && !S_ISREG(st.st_mode))
        *kind = S_ISDIR(st.st_mode)    ? "a folder"
                : S_ISFIFO(st.st_mode) ? "a FIFO (named pipe)"
                : S_ISSOCK(st.st_mode) ? "a socket"
                                       : "a device";
    FILE *f = flags >= 0 && !*kind && fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) == 0 ? fdopen(fd, "rb") : NULL;
    if (!f) {
        int err = errno;
        close(fd);
        errno = err;
    }
    return f;
}

const char *irregular_file_kind(const char *path) {
    const char *kind;
    FILE *f = fopen_regular(path, &kind);
    if (f) fclose(f);
    return kind;
}

int read_file(const char *path, size_t max_size, char **data, size_t *size) {
    *data = NULL;
    *size = 0;
    const char *kind;
    FILE *f = fopen_regular(path, &kind);
    if (!f && kind) return mslam_error("cannot read %s: %s, not a regular file", path, kind);
    if (!f) return mslam_error("cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        int err = errno;
        fclose(f);
        return mslam_error("cannot read %s: %s", path, strerror(err));
    }
    if ((unsigned long long)st.st_size > max_size) {
        fclose(f);
        return mslam_error("%s is too large (%lld bytes; at most %zu expected)", path, (long long)st.st_size,
                           max_size);
    }
    size_t n = (size_t)st.st_size;
    char *buf = mslam_malloc(n + 1, path);
    if (!buf) {
        fclose(f);
        return -1;
    }
    size_t got = fread(buf, 1, n, f);
    int failed = ferror(f);
    fclose(f);
    if (failed || got != n) {
        free(buf);
        return mslam_error("cannot read %s: %s", path, failed ? strerror(errno) : "file shrank while read");
    }
    buf[n] = '\0';
    *data = buf;
    *size = n;
    return 0;
}

/* The temporary file of an atomic_file that lands on target. */
static char *temp_name(const char *target) { return str_printf("%s.tmp", target); }

int atomic_file_open(struct atomic_file *af, const char *path) {
    *af = (struct atomic_file){0};
    int mode, where = mslam_output_target(path, &af->path, &mode);
    if (where < 0) return -1;
    if (where == 1) {
        if (!(af->f = fopen(path, "wb"))) return mslam_error("cannot write %s: %s", path, strerror(errno));
        return 0;
    }
    if (!(af->tmp = temp_name(af->path))) {
        atomic_file_abort(af);
        return -1;
    }
    if (!(af->f = fopen(af->tmp, "wb"))) {
        int rc = mslam_error("cannot write %s: %s", af->tmp, strerror(errno));
        atomic_file_abort(af);
        return rc;
    }
    if (mode >= 0) fchmod(fileno(af->f), (mode_t)mode);
    return 0;
}

int atomic_file_commit(struct atomic_file *af) {
    int failed = ferror(af->f);
    int err = errno;
    /* on disk before the rename, so that a crash leaves the old file or the whole new one */
    if (!failed && af->tmp && (fflush(af->f) != 0 || fsync(fileno(af->f)) != 0)) {
        failed = 1;
        err = errno;
    }
    if (fclose(af->f) != 0 && !failed) {
        failed = 1;
        err = errno;
    }
    af->f = NULL;
    int rc = 0;
    const char *written = af->tmp ? af->tmp : af->path;
    if (failed) rc = mslam_error("cannot write %s: %s", written ? written : "(a device)", strerror(err));
    else if (af->tmp && rename(af->tmp, af->path) != 0)
        rc = mslam_error("cannot rename %s to %s: %s", af->tmp, af->path, strerror(errno));
    if (rc && af->tmp) unlink(af->tmp);
    if (!rc && af->tmp) mslam_sync_parent_dir(af->path);
    free(af->tmp);
    free(af->path);
    *af = (struct atomic_file){0};
    return rc;
}

void atomic_file_abort(struct atomic_file *af) {
    if (af->f) {
        fclose(af->f);
        if (af->tmp) unlink(af->tmp);
    }
    free(af->tmp);
    free(af->path);
    *af = (struct atomic_file){0};
}

int write_file_atomic(const char *path, const void *data, size_t size) {
    struct atomic_file af;
    if (atomic_file_open(&af, path)) return -1;
    if (size && fwrite(data, 1, size, af.f) != size) {
        int rc = mslam_error("cannot write %s: %s", af.tmp, strerror(errno));
        atomic_file_abort(&af);
        return rc;
    }
    return atomic_file_commit(&af);
}

int same_file(const char *a, const char *b) {
    struct stat sa, sb;
    return a && b && stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

void warn_paths_repeated(const char *option, const char *const *paths, const char *what) {
    struct strlist files = {0}; /* a corpus folder is its manifest.tsv */
    for (size_t i = 0; paths && paths[i]; i++) {
        char *file = manifest_file(paths[i]);
        int rc = strlist_push(&files, file ? file : paths[i]);
        free(file);
        if (rc) break; /* (out of memory: nothing more said) */
    }
    for (size_t i = 0; i < files.n; i++)
        for (size_t j = 0; j < i; j++) {
            if (strcmp(paths[i], paths[j]) && !same_file(files.items[i], files.items[j])) continue;
            if (strcmp(paths[i], paths[j]))
                mslam_log(MSLAM_LOG_WARN, "%s %s and %s %s are one file: %s", option, paths[j], option, paths[i], what);
            else
                mslam_log(MSLAM_LOG_WARN, "%s %s is given again: %s", option, paths[i], what);
            break;
        }
    strlist_free(&files);
}

/* The index of the input (NULL-terminated inputs; a corpus folder is its manifest.tsv) that is
 * file, -1 where none is, -2 out of memory (said). */
static long input_that_is(const char *file, const char *const *inputs) {
    for (size_t i = 0; inputs && inputs[i]; i++) {
        char *input = manifest_file(inputs[i]);
        if (!input) {
            mslam_error("out of memory for a path");
            return -2;
        }
        int same = same_file(file, input);
        free(input);
        if (same) return (long)i;
    }
    return -1;
}

int check_output_not_input(const char *out_option, const char *out, const char *in_option,
                           const char *const *inputs) {
    long i = input_that_is(out, inputs);
    if (i >= 0)
        return mslam_error("%s %s is the file %s %s reads: choose another output", out_option, out, in_option,
                           inputs[i]);
    return i == -2 ? -1 : 0;
}

/* path as an absolute name, its folder's links resolved, so that two spellings of a file that
 * does not exist yet compare equal (path as given where its folder does not exist). */
static char *canonical_name(const char *path) {
    char *dir = path_dirname(path), *real_dir = dir ? realpath(dir, NULL) : NULL;
    const char *slash = strrchr(path, '/');
    char *name = real_dir ? path_join(real_dir, slash ? slash + 1 : path) : str_dup(path);
    free(dir);
    free(real_dir);
    return name;
}

/* Where an atomic_file of path lands, *name (canonical_name), and *tmp, its temporary file (NULL
 * for a device or a pipe, written directly). */
static int atomic_file_names(const char *path, char **name, char **tmp) {
    char *target = NULL;
    int mode, where = mslam_output_target(path, &target, &mode);
    *name = where < 0 ? NULL : canonical_name(where == 1 ? path : target);
    *tmp = *name && where == 0 ? temp_name(*name) : NULL;
    free(target);
    return !*name || (where == 0 && !*tmp) ? -1 : 0;
}

int check_outputs_apart(const char *a_option, const char *a, const char *b_option, const char *b) {
    char *a_name = NULL, *a_tmp = NULL, *b_name = NULL, *b_tmp = NULL;
    int rc = atomic_file_names(a, &a_name, &a_tmp) || atomic_file_names(b, &b_name, &b_tmp) ? -1 : 0;
    if (rc == 0 && (!strcmp(a_name, b_name) || same_file(a, b)))
        rc = mslam_error("%s %s and %s %s name one file: give each its own", a_option, a, b_option, b);
    else if (rc == 0 && a_tmp && (!strcmp(a_tmp, b_name) || same_file(a_tmp, b)))
        rc = mslam_error("%s %s is written through %s (then renamed onto it), which is %s %s: give each its own file",
                         a_option, a, a_tmp, b_option, b);
    else if (rc == 0 && b_tmp && (!strcmp(b_tmp, a_name) || same_file(b_tmp, a)))
        rc = mslam_error("%s %s is written through %s (then renamed onto it), which is %s %s: give each its own file",
                         b_option, b, b_tmp, a_option, a);
    free(a_name), free(a_tmp), free(b_name), free(b_tmp);
    return rc;
}

int check_atomic_output_not_input(const char *out_option, const char *out, const char *in_option,
                                  const char *const *inputs) {
    if (check_output_not_input(out_option, out, in_option, inputs)) return -1;
    char *name = NULL, *tmp = NULL;
    int rc = atomic_file_names(out, &name, &tmp);
    long i = rc == 0 && tmp ? input_that_is(tmp, inputs) : -1;
    if (i >= 0)
        rc = mslam_error("%s %s is written through %s (then renamed onto it), the file %s %s reads: choose another "
                         "output", out_option, out, tmp, in_option, inputs[i]);
    else if (i == -2)
        rc = -1;
    free(name), free(tmp);
    return rc;
}

const int stop_signals[N_STOP_SIGNALS] = {SIGINT, SIGTERM, SIGHUP};

void stop_signals_catch(void (*handler)(int), struct sigaction saved[N_STOP_SIGNALS]) {
    for (int i = 0; i < N_STOP_SIGNALS; i++) {
        struct sigaction now;
        sigaction(stop_signals[i], NULL, &now);
        if (now.sa_handler == handler) continue;
        saved[i] = now;
        if (now.sa_handler == SIG_IGN) continue;
        struct sigaction sa = {.sa_handler = handler};
        sigemptyset(&sa.sa_mask);
        sigaction(stop_signals[i], &sa, NULL);
    }
}

void stop_signals_restore(const struct sigaction saved[N_STOP_SIGNALS]) {
    for (int i = 0; i < N_STOP_SIGNALS; i++) sigaction(stop_signals[i], &saved[i], NULL);
}

pid_t fork_tied(void) {
    fflush(stdout);
    fflush(stderr);
    pid_t parent = getpid(), pid = fork();
    if (pid == 0 && prctl(PR_SET_PDEATHSIG, SIGKILL) == 0 && getppid() != parent) _exit(1);
    return pid;
}

int starts_with_any(const char *s, const char *const *prefixes) {
    for (const char *const *p = prefixes; p && *p; p++)
        if (!strncmp(s, *p, strlen(*p))) return 1;
    return 0;
}

int buffer_grow(void **p, size_t *have, size_t want, size_t elem, const char *what) {
    if (want <= *have) return 0;
    void *q = realloc(*p, want * elem);
    if (!q) return mslam_error("out of memory for %s", what);
    *p = q;
    *have = want;
    return 0;
}
