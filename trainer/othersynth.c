#include "othersynth.h"

#include "common.h"
#include "progress.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <locale.h>
#include <glib.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

/* espeak-ng's words per minute at a voice's own pace: the corpus's --rate draws are on its scale */
#define NATURAL_RATE 175.0
/* a voice says its check sentence in a fraction of a second; a hung one is not waited for */
#define CHECK_SECONDS 60

/* What Debian 12 main has for the languages of langs.h (its Hindi, Marathi and Telugu Festival
 * voices fail: no hindi_phones.scm). The encodings are those the voices' lexicons are written in;
 * the English voices read ASCII, what it lacks approximated ("café" as "cafe": flite drops the
 * "é", Festival spells its bytes out). */
static const struct other_voice voices[] = {
    {"festival:kal_diphone", "en", "ASCII", "festvox-kallpc16k", 1, "kal"},
    {"festival:ked_diphone", "en", "ASCII", "festvox-kdlpc16k", 1, "ked"},
    {"festival:cmu_us_slt_arctic_hts", "en", "ASCII", "festvox-us-slt-hts", 0, "slt"},
    {"flite:kal", "en", "ASCII", "flite", 1, "kal"},
    {"flite:kal16", "en", "ASCII", "flite", 1, "kal"},
    {"flite:awb", "en", "ASCII", "flite", 1, "awb"},
    {"flite:rms", "en", "ASCII", "flite", 1, "rms"},
    {"flite:slt", "en", "ASCII", "flite", 1, "slt"},
    {"festival:lp_diphone", "it", "ISO-8859-1", "festvox-italp16k", 1, "lp"},
    {"festival:pc_diphone", "it", "ISO-8859-1", "festvox-itapc16k", 1, "pc"},
    {"festival:upc_ca_ona_hts", "ca", "UTF-8", "festvox-ca-ona-hts", 0, "ona"},
    {"festival:czech_dita", "cs", "ISO-8859-2", "festvox-czech-dita", 1, "dita"},
    {"festival:czech_machac", "cs", "ISO-8859-2", "festvox-czech-machac", 1, "machac"},
    {"festival:czech_krb", "cs", "ISO-8859-2", "festvox-czech-krb", 1, "krb"},
    {"festival:czech_ph", "cs", "ISO-8859-2", "festvox-czech-ph", 1, "ph"},
    {"festival:suo_fi_lj_diphone", "fi", "ISO-8859-1", "festvox-suopuhe-lj", 1, "lj"},
    {"festival:hy_fi_mv_diphone", "fi", "ISO-8859-1", "festvox-suopuhe-mv", 1, "mv"},
    {"festival:msu_ru_nsh_clunits", "ru", "UTF-8", "festvox-ru", 1, "nsh"},
};
#define N_VOICES (sizeof voices / sizeof voices[0])

/* a sentence each language's voices can say, to check them */
static const char *check_sentence(const char *lang) {
    static const struct {
        const char *lang, *text;
    } sentences[] = {{"en", "The file is open."}, {"it", "Il file è aperto."}, {"ca", "El fitxer és obert."},
                     {"cs", "Soubor je otevřený."}, {"fi", "Tiedosto on auki."}, {"ru", "Файл открыт."}};
    for (size_t i = 0; i < sizeof sentences / sizeof sentences[0]; i++)
        if (!strcmp(sentences[i].lang, lang)) return sentences[i].text;
    return "a";
}

static int is_festival(const struct other_voice *voice) { return !strncmp(voice->name, "festival:", 9); }

int othersynth_lookup(const char *name, const char *split, const struct other_voice **other) {
    *other = NULL;
    if (!strchr(name, ':')) return 0;
    for (size_t i = 0; i < N_VOICES; i++)
        if (!strcmp(voices[i].name, name)) {
            *other = &voices[i];
            return 0;
        }
    GString *known = g_string_new(NULL);
    for (size_t i = 0; i < N_VOICES; i++) g_string_append_printf(known, "%s%s", i ? ", " : "", voices[i].name);
    mslam_error("%s%s%sunknown voice '%s': the other synthesizers' voices are %s (mslam-trainer corpus "
                "--list-voices says which speak here)",
                split ? "--" : "", split ? split : "", split ? "-voices: " : "", name, known->str);
    g_string_free(known, TRUE);
    return -1;
}

/* The last line the command wrote to its output file (g_free), or NULL when it wrote none. */
static char *last_line(const char *path) {
    gchar *text = NULL;
    if (!g_file_get_contents(path, &text, NULL, NULL)) return NULL;
    g_strchomp(text);
    char *line = strrchr(text, '\n');
    char *last = *text ? g_strdup(line ? line + 1 : text) : NULL;
    g_free(text);
    return last;
}

/* Runs argv (argv[0] looked up in PATH) with no input, its output and errors written to log_path,
 * for at most `seconds` (0: no limit). Returns 0 when it exited with status 0; else an error naming
 * the command and its last message. */
static int run_command(char *const argv[], const char *log_path, unsigned seconds) {
    /* The environment without MALLOC_PERTURB_ (meson's tests set it, to a value drawn for each
     * run): Festival 2.5 reads a float past the end of an EST_Track's buffer, and under some
     * values (64: three runs, three different files) its audio then depends on heap contents
     * that differ from run to run, where without it the same command gives the same bytes (the
     * corpus test's builds with 1 and 2 jobs differed about once in a hundred). */
    size_t n_env = 0;
    while (environ[n_env]) n_env++;
    char **env = mslam_malloc((n_env + 1) * sizeof *env, "the environment");
    if (!env) return -1;
    size_t kept = 0;
    for (size_t i = 0; i < n_env; i++)
        if (strncmp(environ[i], "MALLOC_PERTURB_=", 16) != 0) env[kept++] = environ[i];
    env[kept] = NULL;
    /* its exit status is lost to a process that ignores SIGCHLD (the child is reaped at once) */
    struct sigaction default_chld = {.sa_handler = SIG_DFL}, saved;
    sigemptyset(&default_chld.sa_mask);
    sigaction(SIGCHLD, &default_chld, &saved);
    pid_t pid = fork_tied(); /* a worker stopped by its alarm takes the command along */
    if (pid == 0) {
        int in = open("/dev/null", O_RDONLY | O_CLOEXEC);
        int log = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        if (in < 0 || log < 0 || dup2(in, STDIN_FILENO) < 0 || dup2(log, STDOUT_FILENO) < 0 ||
            dup2(log, STDERR_FILENO) < 0)
            _exit(126);
        execvpe(argv[0], argv, env);
        dprintf(STDERR_FILENO, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    int rc = pid < 0 ? mslam_error("cannot start %s: %s", argv[0], strerror(errno)) : 0, status = 0;
    double deadline = progress_now() + seconds;
    for (pid_t done; rc == 0 && (done = waitpid(pid, &status, seconds ? WNOHANG : 0)) != pid;) {
        if (done < 0 && errno != EINTR) rc = mslam_error("waiting for %s: %s", argv[0], strerror(errno));
        else if (done == 0 && progress_now() > deadline) rc = mslam_error("%s took over %u s", argv[0], seconds);
        else if (done == 0) g_usleep(10000);
        if (rc) {
            kill(pid, SIGKILL);
            waitpid(pid, NULL, 0);
        }
    }
    sigaction(SIGCHLD, &saved, NULL);
    free(env);
    if (rc || (WIFEXITED(status) && WEXITSTATUS(status) == 0)) return rc;
    char *why = last_line(log_path);
    if (WIFSIGNALED(status))
        mslam_error("%s was killed by signal %d%s%s", argv[0], WTERMSIG(status), why ? ": " : "", why ? why : "");
    else
        mslam_error("%s failed (exit status %d)%s%s", argv[0], WEXITSTATUS(status), why ? ": " : "", why ? why : "");
    g_free(why);
    return -1;
}

/* text in encoding, what it lacks approximated as glibc's iconv does in the C.UTF-8 locale ("…" as
 * "...", "“" as '"', "é" as "e", which the C locale makes "?"): the transcript keeps the original
 * (free). NULL with errno when it cannot be converted, *no_converter set when the cause is that
 * iconv cannot convert to encoding at all (the machine's fault, not the text's). GLib's g_convert
 * refuses a text that needed an approximation. */
static char *encode(const char *text, const char *encoding, size_t *size, int *no_converter) {
    char target[64];
    snprintf(target, sizeof target, "%s//TRANSLIT", encoding);
    iconv_t cd = iconv_open(target, "UTF-8");
    *no_converter = cd == (iconv_t)-1;
    if (*no_converter) return NULL;
    locale_t utf8 = newlocale(LC_CTYPE_MASK, "C.UTF-8", (locale_t)0), outer = utf8 ? uselocale(utf8) : (locale_t)0;
    /* a character becomes at most a few (glibc's "½" is " 1/2"); E2BIG beyond */
    size_t in_left = strlen(text), cap = 4 * in_left + 16, out_left = cap;
    char *out = malloc(cap), *in = (char *)text, *at = out;
    int ok = out && iconv(cd, &in, &in_left, &at, &out_left) != (size_t)-1 &&
             iconv(cd, NULL, NULL, &at, &out_left) != (size_t)-1;
    int saved = out ? errno : ENOMEM;
    iconv_close(cd);
    if (utf8) {
        uselocale(outer);
        freelocale(utf8);
    }
    if (!ok) {
        free(out);
        errno = saved;
        return NULL;
    }
    *size = cap - out_left;
    return out;
}

/* The files othersynth_speak writes in work_dir. */
static const char *const work_files[] = {"text.txt", "speech.wav", "log.txt"};
enum { WORK_TEXT, WORK_SPEECH, WORK_LOG, N_WORK_FILES };

void othersynth_clean(const char *work_dir) {
    for (int i = 0; i < N_WORK_FILES; i++) {
        char *path = path_join(work_dir, work_files[i]);
        if (path) unlink(path);
        free(path);
    }
    rmdir(work_dir);
}

/* text with typographic quotes and ellipses as ASCII ones, for every voice: Festival's Italian
 * letter-to-sound rules fail on "«" and "»" (Latin-1 has them), its Russian on "…" (its UTF-8 text
 * keeps it), and each says nothing of the sentence then (g_free). */
static char *plain_punctuation(const char *text) {
    static const struct {
        const char *typographic, *plain;
    } marks[] = {{"«", "\""}, {"»", "\""}, {"‹", "\""}, {"›", "\""}, {"“", "\""}, {"”", "\""},
                 {"„", "\""}, {"‘", "'"},  {"’", "'"},  {"…", "..."}};
    GString *plain = g_string_new(NULL);
    for (const char *p = text; *p;) {
        size_t k = 0, n_marks = sizeof marks / sizeof marks[0];
        while (k < n_marks && strncmp(p, marks[k].typographic, strlen(marks[k].typographic)) != 0) k++;
        if (k < n_marks) {
            g_string_append(plain, marks[k].plain);
            p += strlen(marks[k].typographic);
        } else {
            g_string_append_c(plain, *p++);
        }
    }
    return g_string_free(plain, FALSE);
}

/* Why path cannot take a block of data (written and synced: a full disk may take the name but
 * not the data), as an errno value; 0 where it can. */
static int write_error(const char *path) {
    static const char block[4096];
    FILE *f = fopen(path, "wb");
    int written = f && fwrite(block, 1, sizeof block, f) == sizeof block && fflush(f) == 0 && fsync(fileno(f)) == 0;
    int err = errno;
    if (f && fclose(f) != 0 && written) {
        written = 0;
        err = errno;
    }
    return written ? 0 : err ? err : EIO;
}

static int speak(const struct other_voice *voice, const char *text, int rate, const char *work_dir, unsigned seconds,
                 struct audio *out) {
    size_t size = 0;
    int no_converter = 0;
    char *plain = plain_punctuation(text);
    char *encoded = encode(plain, voice->encoding, &size, &no_converter);
    g_free(plain);
    if (!encoded) {
        if (no_converter)
            return mslam_error("%s: iconv cannot convert UTF-8 to %s (%s; glibc's gconv modules missing?)",
                               voice->name, voice->encoding, strerror(errno));
        if (errno == ENOMEM) return mslam_error("out of memory converting a text for %s", voice->name);
        mslam_error("%s cannot read \"%s\" (%s: %s)", voice->name, text, voice->encoding, strerror(errno));
        return OTHERSYNTH_NOTHING;
    }
    char *path[N_WORK_FILES] = {0};
    int rc = 0;
    for (int i = 0; i < N_WORK_FILES; i++)
        if (!(path[i] = path_join(work_dir, work_files[i]))) rc = -1;
    /* a plain write: the file lives for one command (write_file_atomic's fsync and temporary file
     * would cost a disk flush an utterance, and leave a file othersynth_clean does not know) */
    FILE *f = rc == 0 ? fopen(path[WORK_TEXT], "wb") : NULL;
    int written = f && fwrite(encoded, 1, size, f) == size;
    if (f && fclose(f) != 0) written = 0;
    if (rc == 0 && !written) rc = mslam_error("cannot write %s: %s", path[WORK_TEXT], strerror(errno));
    char stretch[32];
    g_ascii_formatd(stretch, sizeof stretch, "%.4f", voice->stretches && rate > 0 ? NATURAL_RATE / rate : 1.0);
    const char *name = strchr(voice->name, ':') + 1;
    if (rc == 0 && is_festival(voice)) {
        char *select = str_printf("(voice_%s)", name);
        char *pace = str_printf("(Parameter.set 'Duration_Stretch %s)", stretch);
        char *argv[] = {"text2wave", "-eval", select, "-eval", pace, "-o", path[WORK_SPEECH], path[WORK_TEXT], NULL};
        rc = select && pace ? run_command(argv, path[WORK_LOG], seconds) : -1;
        free(select);
        free(pace);
    } else if (rc == 0) {
        char *pace = str_printf("duration_stretch=%s", stretch);
        char *argv[] = {"flite", "-voice", (char *)name, "--setf", pace, "-f", path[WORK_TEXT],
                        "-o", path[WORK_SPEECH], NULL};
        rc = pace ? run_command(argv, path[WORK_LOG], seconds) : -1;
        free(pace);
    }
    /* text2wave exits 0 after its errors (an unknown voice, a text it cannot say): no file, or
     * an empty one, is how they show */
    struct stat st;
    int nothing = rc == 0 && (stat(path[WORK_SPEECH], &st) != 0 || st.st_size == 0);
    if (rc == 0 && !nothing && (rc = audio_read(path[WORK_SPEECH], out)) == 0) nothing = out->n == 0;
    if (nothing) {
        /* and so do text2wave and flite when they cannot write the file (a full disk, a folder
         * they cannot write in): the machine's fault, which must stop the build, not the text's */
        char *why = last_line(path[WORK_LOG]);
        int write_errno = write_error(path[WORK_SPEECH]);
        if (write_errno)
            rc = mslam_error("%s could not write its audio of \"%s\": cannot write %s: %s%s%s%s", voice->name, text,
                             path[WORK_SPEECH], strerror(write_errno), why ? " (it said: " : "", why ? why : "",
                             why ? ")" : "");
        else {
            mslam_error("%s made no audio of \"%s\"%s%s", voice->name, text, why ? ": " : "", why ? why : "");
            rc = OTHERSYNTH_NOTHING;
        }
        g_free(why);
    }
    for (int i = 0; i < N_WORK_FILES; i++) {
        if (path[i]) unlink(path[i]);
        free(path[i]);
    }
    free(encoded);
    return rc;
}

int othersynth_speak(const struct other_voice *voice, const char *text, int rate, const char *work_dir,
                     struct audio *out) {
    return speak(voice, text, rate, work_dir, 0, out);
}

/* Says the voice's check sentence in a temporary folder, waiting at most CHECK_SECONDS. */
static int try_voice(const struct other_voice *voice) {
    GError *error = NULL;
    gchar *dir = g_dir_make_tmp("mslam-othersynth-XXXXXX", &error);
    if (!dir) {
        mslam_error("cannot make a temporary folder for %s: %s", voice->name, error->message);
        g_error_free(error);
        return -1;
    }
    struct audio a = {0};
    int rc = speak(voice, check_sentence(voice->lang), (int)NATURAL_RATE, dir, CHECK_SECONDS, &a);
    audio_free(&a);
    othersynth_clean(dir);
    g_free(dir);
    return rc;
}

void othersynth_list(FILE *out) {
    fprintf(out, "%-31s %-5s %-21s %-7s %s\n", "voice", "lang", "package", "speaks", "rate");
    for (size_t i = 0; i < N_VOICES; i++) {
        int outer = mslam_errors_unlogged(1);
        int speaks = try_voice(&voices[i]) == 0;
        mslam_errors_unlogged(outer);
        fprintf(out, "%-31s %-5s %-21s %-7s %s\n", voices[i].name, voices[i].lang, voices[i].package,
                speaks ? "yes" : "no", voices[i].stretches ? "--rate" : "its own");
    }
}

int othersynth_check(const struct other_voice *voice) {
    int outer = mslam_errors_unlogged(1); /* said once, below */
    int rc = try_voice(voice);
    mslam_errors_unlogged(outer);
    if (rc) {
        const char *program = is_festival(voice) ? "festival" : "flite";
        char *why = str_dup(mslam_last_error());
        rc = mslam_error("voice %s does not speak (%s); are Debian's %s%s%s installed? (mslam-trainer corpus "
                         "--list-voices)",
                         voice->name, why ? why : "", program, strcmp(program, voice->package) ? " and " : "",
                         strcmp(program, voice->package) ? voice->package : "");
        free(why);
    }
    return rc;
}
