#include "options.h"

#include "common.h"
#include "util.h"

#include <stdio.h>
#include <math.h>
#include <string.h>

/* g_key_file_load_from_file, past a UTF-8 byte order mark (a Windows editor's; GLib refuses the
 * first line then, quoting the invisible mark), as the manifests are read. */
static gboolean key_file_load(GKeyFile *kf, const char *path, GError **err) {
    gchar *text = NULL;
    gsize size = 0;
    const char *kind = irregular_file_kind(path); /* (GLib would wait on a FIFO) */
    if (kind) {
        g_set_error(err, G_FILE_ERROR, G_FILE_ERROR_INVAL, "%s, not a regular file", kind);
        return FALSE;
    }
    if (!g_file_get_contents(path, &text, &size, err)) return FALSE;
    gsize skip = size >= 3 && !memcmp(text, "\xEF\xBB\xBF", 3) ? 3 : 0;
    gboolean ok = g_key_file_load_from_data(kf, text + skip, size - skip, G_KEY_FILE_NONE, err);
    g_free(text);
    return ok;
}

GKeyFile *options_key_file_open(const char *path, const char *group) {
    GKeyFile *kf = g_key_file_new();
    GError *err = NULL;
    if (!key_file_load(kf, path, &err)) {
        fprintf(stderr, "mslam-trainer %s: cannot read --config %s: %s\n", group, path, err->message);
        g_error_free(err);
        g_key_file_free(kf);
        return NULL;
    }
    if (!g_key_file_has_group(kf, group)) {
        gchar *first = g_key_file_get_start_group(kf);
        fprintf(stderr, "mslam-trainer %s: --config %s has no [%s] group%s%s%s\n", group, path, group,
                first ? " (it starts with [" : "", first ? first : "", first ? "])" : "");
        g_free(first);
        g_key_file_free(kf);
        return NULL;
    }
    return kf;
}

const char *options_config_path(int argc, char **argv) {
    const char *config = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--")) break;
        if (!strcmp(argv[i], "--config") && i + 1 < argc) config = argv[i + 1];
        else if (!strncmp(argv[i], "--config=", 9)) config = argv[i] + 9;
    }
    return config;
}

int options_check_output(const char *option, const char *out, int argc, char **argv) {
    if (!out) return 0;
    if (!*out) return mslam_error("%s is empty: name the file to write", option);
    const char *config = options_config_path(argc, argv);
    if (config && same_file(out, config))
        return mslam_error("%s %s is the --config key file the options are read from: choose another output", option,
                           out);
    return 0;
}

/* Whether option e is given as a flag in argv (before a "--"). */
static int given_as_flag(const GOptionEntry *e, int argc, char **argv) {
    size_t len = strlen(e->long_name);
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--")) break;
        if (!strncmp(a, "--", 2) && !strncmp(a + 2, e->long_name, len) && (a[2 + len] == '\0' || a[2 + len] == '='))
            return 1;
        if (e->short_name && a[0] == '-' && a[1] == e->short_name) return 1;
    }
    return 0;
}

unsigned options_given(const char *command, const GOptionEntry *entries, int argc, char **argv,
                       const char *const *names) {
    const char *config = options_config_path(argc, argv);
    GKeyFile *kf = config ? g_key_file_new() : NULL;
    if (kf && !key_file_load(kf, config, NULL)) g_key_file_free(kf), kf = NULL;
    unsigned given = 0;
    for (int i = 0; names[i]; i++) {
        const GOptionEntry *e = entries;
        while (e->long_name && strcmp(e->long_name, names[i])) e++;
        if (e->long_name && (given_as_flag(e, argc, argv) || (kf && g_key_file_has_key(kf, command, names[i], NULL))))
            given |= 1u << i;
    }
    if (kf) g_key_file_free(kf);
    return given;
}

/* Sets every option of entries that the key file's group names. */
static int apply_key_file(const char *path, const char *group, const GOptionEntry *entries) {
    GKeyFile *kf = options_key_file_open(path, group);
    if (!kf) return -1;
    GError *err = NULL;
    int rc = 0;
    gsize n_keys = 0;
    gchar **keys = g_key_file_get_keys(kf, group, &n_keys, NULL);
    for (gsize k = 0; keys && k < n_keys && !rc; k++) {
        const GOptionEntry *e = entries;
        while (e->long_name && strcmp(e->long_name, keys[k])) e++;
        if (!e->long_name) {
            fprintf(stderr, "mslam-trainer %s: %s: unknown key '%s' in group [%s]\n", group, path, keys[k], group);
            rc = -1;
            break;
        }
        switch (e->arg) {
        case G_OPTION_ARG_NONE:
            *(gboolean *)e->arg_data = g_key_file_get_boolean(kf, group, keys[k], &err);
            break;
        case G_OPTION_ARG_INT:
            *(gint *)e->arg_data = g_key_file_get_integer(kf, group, keys[k], &err);
            break;
        case G_OPTION_ARG_DOUBLE:
            *(gdouble *)e->arg_data = g_key_file_get_double(kf, group, keys[k], &err);
            break;
        case G_OPTION_ARG_STRING:
        case G_OPTION_ARG_FILENAME: {
            gchar *v = g_key_file_get_string(kf, group, keys[k], &err);
            if (v) {
                g_free(*(gchar **)e->arg_data);
                *(gchar **)e->arg_data = v;
            }
            break;
        }
        case G_OPTION_ARG_STRING_ARRAY:
        case G_OPTION_ARG_FILENAME_ARRAY: { /* a list: "a;b;c" */
            gchar **v = g_key_file_get_string_list(kf, group, keys[k], NULL, &err);
            if (v) {
                g_strfreev(*(gchar ***)e->arg_data);
                *(gchar ***)e->arg_data = v;
            }
            break;
        }
        default:
            break;
        }
        if (err) {
            /* GLib says only that the value "cannot be interpreted": say what it is and what is wanted */
            const char *wanted = e->arg == G_OPTION_ARG_NONE     ? "true or false"
                                 : e->arg == G_OPTION_ARG_INT    ? "a whole number"
                                 : e->arg == G_OPTION_ARG_DOUBLE ? "a number"
                                                                 : NULL;
            gchar *value = wanted ? g_key_file_get_value(kf, group, keys[k], NULL) : NULL;
            if (value)
                fprintf(stderr, "mslam-trainer %s: %s: key '%s': '%s' is not %s%s\n", group, path, keys[k], value,
                        wanted, strchr(value, '#') ? " (a key file's comment takes a line of its own)" : "");
            else
                fprintf(stderr, "mslam-trainer %s: %s: key '%s': %s\n", group, path, keys[k], err->message);
            g_free(value);
            g_clear_error(&err);
            rc = -1;
        }
    }
    g_strfreev(keys);
    g_key_file_free(kf);
    return rc;
}

static int is_list(const GOptionEntry *e) {
    return e->arg == G_OPTION_ARG_STRING_ARRAY || e->arg == G_OPTION_ARG_FILENAME_ARRAY;
}

static int holds_allocation(const GOptionEntry *e) {
    return e->arg == G_OPTION_ARG_STRING || e->arg == G_OPTION_ARG_FILENAME || is_list(e);
}

static void free_value(const GOptionEntry *e, gpointer value) {
    if (is_list(e)) g_strfreev(value);
    else g_free(value);
}

/* GLib reads "--flag=VALUE" of a flag without a value as "--flag" and drops VALUE, so that
 * "--no-specaug=false" would turn SpecAugment off: refused, naming the flag. A boolean a key
 * file sets cannot be cleared by a flag either (GLib's flags only set it): the README says so. */
static int refuse_boolean_values(const char *command, const GOptionEntry *entries, int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--")) break;
        const char *eq = strchr(argv[i], '=');
        if (strncmp(argv[i], "--", 2) || !eq) continue;
        size_t len = (size_t)(eq - argv[i] - 2);
        for (const GOptionEntry *e = entries; e->long_name; e++) {
            if (e->arg != G_OPTION_ARG_NONE || strlen(e->long_name) != len || strncmp(argv[i] + 2, e->long_name, len))
                continue;
            mslam_error("--%s takes no value ('%s'): give --%s alone to set it, leave it out otherwise (a key file's "
                        "%s=true is cleared only in the file)", e->long_name, argv[i], e->long_name, e->long_name);
            fprintf(stderr, "mslam-trainer %s: %s\n", command, mslam_last_error());
            return -1;
        }
    }
    return 0;
}

int options_parse(const char *command, const GOptionEntry *entries, int argc, char **argv,
                  const char *parameter_string, const char *summary, const char *description,
                  int *n_rest, char ***rest) {
    if (refuse_boolean_values(command, entries, argc, argv)) return -1;
    /* the key file first, so that flags override it */
    const char *config = options_config_path(argc, argv);
    if (config && apply_key_file(config, command, entries)) return -1;

    gchar *config_arg = NULL;
    GOptionEntry config_entry[] = {
        {"config", 0, 0, G_OPTION_ARG_FILENAME, &config_arg,
         "GLib key file of options (group named after the subcommand, keys = long option names); flags override it, "
         "but a flag without a value (a boolean) can only set what the file leaves false",
         "FILE"},
        G_OPTION_ENTRY_NULL};
    GOptionContext *ctx = g_option_context_new(parameter_string);
    g_option_context_set_summary(ctx, summary);
    g_option_context_set_description(ctx, description);
    g_option_context_add_main_entries(ctx, entries, NULL);
    g_option_context_add_main_entries(ctx, config_entry, NULL);
    /* argv[0] is the subcommand; GLib prints it as the program name in --help */
    gchar *prgname = g_strdup_printf("mslam-trainer %s", command);
    g_set_prgname(prgname);
    g_free(prgname);
    int help = 0;
    for (int i = 1; i < argc; i++)
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h") || !strcmp(argv[i], "-?")) help = 1;
    if (help) {
        gchar *text = g_option_context_get_help(ctx, TRUE, NULL);
        fputs(text, stdout);
        g_free(text);
        g_option_context_free(ctx);
        return 1;
    }
    /* GLib replaces a string or list option's value without freeing the one it had (the default
     * or the key file's): keep them to free those that were replaced */
    int n_entries = 0;
    while (entries[n_entries].long_name) n_entries++;
    gpointer *before = g_new0(gpointer, (gsize)n_entries + 1);
    for (int i = 0; i < n_entries; i++)
        if (holds_allocation(&entries[i])) before[i] = *(gpointer *)entries[i].arg_data;
    gchar **args = g_new0(gchar *, (gsize)argc + 1);
    for (int i = 0; i < argc; i++) args[i] = g_strdup(argv[i]);
    GError *err = NULL;
    int rc = 0;
    if (!g_option_context_parse_strv(ctx, &args, &err)) {
        fprintf(stderr, "mslam-trainer %s: %s (see --help)\n", command, err->message);
        g_error_free(err);
        rc = -1;
    }
    for (int i = 0; i < n_entries; i++)
        if (before[i] && before[i] != *(gpointer *)entries[i].arg_data) free_value(&entries[i], before[i]);
    g_free(before);
    g_free(config_arg);
    g_option_context_free(ctx);
    if (rc) {
        g_strfreev(args);
        return -1;
    }
    *n_rest = (int)g_strv_length(args) - 1;
    *rest = args;
    return 0;
}

void options_free(const GOptionEntry *entries) {
    for (const GOptionEntry *e = entries; e->long_name; e++) {
        if (holds_allocation(e)) {
            free_value(e, *(gpointer *)e->arg_data);
            *(gpointer *)e->arg_data = NULL;
        }
    }
}

/* The fewest significant digits that read back as x ("0.1", not g_ascii_dtostr's
 * "0.10000000000000001"), in the C locale. */
static gchar *shortest_double(gdouble x) {
    char number[G_ASCII_DTOSTR_BUF_SIZE];
    if (x == floor(x) && fabs(x) < 1e15) return g_strdup_printf("%.0f", x); /* 20, not 2e+01 */
    for (int digits = 1; digits < 17; digits++) {
        char format[8];
        snprintf(format, sizeof format, "%%.%dg", digits);
        g_ascii_formatd(number, sizeof number, format, x);
        if (g_ascii_strtod(number, NULL) == x) return g_strdup(number);
    }
    return g_strdup(g_ascii_dtostr(number, sizeof number, x));
}

char *options_record(const GOptionEntry *entries, const char *const *skip) {
    GString *record = g_string_new(NULL);
    for (const GOptionEntry *e = entries; e->long_name; e++) {
        int skipped = 0;
        for (const char *const *k = skip; k && *k && !skipped; k++) skipped = !strcmp(*k, e->long_name);
        if (skipped) continue;
        gchar *value = NULL;
        switch (e->arg) {
        case G_OPTION_ARG_NONE: value = g_strdup(*(gboolean *)e->arg_data ? "true" : "false"); break;
        case G_OPTION_ARG_INT: value = g_strdup_printf("%d", *(gint *)e->arg_data); break;
        case G_OPTION_ARG_DOUBLE: value = shortest_double(*(gdouble *)e->arg_data); break;
        case G_OPTION_ARG_STRING:
        case G_OPTION_ARG_FILENAME: {
            const gchar *v = *(gchar **)e->arg_data;
            value = g_strescape(v ? v : "", NULL);
            break;
        }
        case G_OPTION_ARG_STRING_ARRAY:
        case G_OPTION_ARG_FILENAME_ARRAY: { /* as a key file's list: "a;b", a ';' in an item as "\;" */
            GString *list = g_string_new(NULL);
            for (gchar **item = *(gchar ***)e->arg_data; item && *item; item++) {
                gchar *escaped = g_strescape(*item, NULL);
                for (const gchar *c = escaped; *c; c++) {
                    if (*c == ';') g_string_append_c(list, '\\');
                    g_string_append_c(list, *c);
                }
                g_string_append_c(list, ';');
                g_free(escaped);
            }
            value = g_string_free(list, FALSE);
            break;
        }
        default: continue; /* no other kind is used */
        }
        g_string_append_printf(record, "%s=%s\n", e->long_name, value);
        g_free(value);
    }
    return g_string_free(record, FALSE);
}

gchar *options_record_value(const char *record, const char *name) {
    size_t n = strlen(name);
    for (const char *line = record; line && *line;) {
        const char *end = strchr(line, '\n');
        if (!strncmp(line, name, n) && line[n] == '=') return g_strndup(line + n + 1, end ? (size_t)(end - line - n - 1) : strlen(line + n + 1));
        line = end ? end + 1 : NULL;
    }
    return NULL;
}

gchar **options_record_list(const char *value) {
    GPtrArray *items = g_ptr_array_new();
    int list = 0;
    const char *start = value;
    for (const char *c = value; *c; c++) {
        if (*c == '\\' && c[1]) {
            c++;
        } else if (*c == ';') {
            g_ptr_array_add(items, g_strndup(start, (size_t)(c - start)));
            start = c + 1;
            list = 1;
        }
    }
    if (*start) g_ptr_array_add(items, g_strdup(start));
    g_ptr_array_add(items, NULL);
    gchar **out = (gchar **)g_ptr_array_free(items, FALSE);
    if (!list) g_strfreev(out), out = NULL;
    return out;
}

/* Whether two recorded values, compared whole, are one: also a string and the one-item list of
 * an option that became repeatable ("x" and "x;"), and a number written with other digits. */
static int same_scalar(const char *a, const char *b) {
    /* one number in two spellings: older records wrote 17 digits ("0.10000000000000001"); only
     * decimal ones (strtod also reads "0x10" and "inf", which a string option may hold) */
    static const char decimal[] = "0123456789.eE+-";
    char *a_end, *b_end;
    if (*a && *b && !a[strspn(a, decimal)] && !b[strspn(b, decimal)]) {
        double x = g_ascii_strtod(a, &a_end), y = g_ascii_strtod(b, &b_end);
        if (!*a_end && !*b_end && x == y) return 1;
    }
    size_t na = strlen(a), nb = strlen(b);
    if (na == nb) return !strcmp(a, b);
    const char *longer = na > nb ? a : b, *shorter = na > nb ? b : a;
    size_t n = na < nb ? na : nb;
    return *shorter && strlen(longer) == n + 1 && longer[n] == ';' && !strncmp(a, b, n);
}

/* Whether two recorded values are one: two lists item by item as same_scalar compares values
 * ("1;0.25;" and "1.0;.25;"), anything else whole. */
static int same_value(const char *a, const char *b) {
    gchar **a_items = options_record_list(a), **b_items = options_record_list(b);
    int same;
    if (a_items && b_items) {
        same = g_strv_length(a_items) == g_strv_length(b_items);
        for (guint i = 0; same && a_items[i]; i++) same = same_scalar(a_items[i], b_items[i]);
    } else {
        same = same_scalar(a, b);
    }
    g_strfreev(a_items), g_strfreev(b_items);
    return same;
}

/* The length of a recorded value as shown: a list's last ';' left out ("a;b;" as "a;b"), so that
 * it does not run into the "; " between options. */
static int list_shown(const char *value) {
    size_t n = strlen(value);
    return (int)(n >= 2 && value[n - 1] == ';' && value[n - 2] != '\\' ? n - 1 : n);
}

/* Appends "name: was -> now" for each option of record a that b lacks or (a_is_was) holds with
 * another value; a name the earlier record b lacks reads as its value in defaults (NULL: none);
 * names in ignore are left out. */
static void diff_names(const char *a, const char *b, int a_is_was, const char *defaults, const char *const *ignore,
                       GString *out) {
    for (const char *line = a; line && *line;) {
        const char *end = strchr(line, '\n'), *eq = strchr(line, '=');
        if (eq && (!end || eq < end)) {
            gchar *name = g_strndup(line, (size_t)(eq - line));
            if (ignore && g_strv_contains(ignore, name)) {
                g_free(name);
                line = end ? end + 1 : NULL;
                continue;
            }
            gchar *mine = g_strndup(eq + 1, end ? (size_t)(end - eq - 1) : strlen(eq + 1));
            gchar *theirs = options_record_value(b, name);
            int both_have = !a_is_was && theirs; /* reported once, from the earlier record */
            if (!theirs && !a_is_was && defaults) theirs = options_record_value(defaults, name);
            if (!both_have && (!theirs || !same_value(mine, theirs))) {
                const char *was = a_is_was ? mine : theirs, *now = a_is_was ? theirs : mine;
                /* missing, an empty list or string */
                if (!was || !*was) was = "(none)";
                if (!now || !*now) now = "(none)";
                g_string_append_printf(out, "%s%s: %.*s -> %.*s", out->len ? "; " : "", name, list_shown(was), was,
                                       list_shown(now), now);
            }
            g_free(name), g_free(mine), g_free(theirs);
        }
        line = end ? end + 1 : NULL;
    }
}

char *options_record_diff(const char *was, const char *now, const char *defaults, const char *const *ignore) {
    GString *out = g_string_new(NULL);
    diff_names(was, now, 1, NULL, ignore, out);
    diff_names(now, was, 0, defaults, ignore, out);
    if (!out->len) {
        g_string_free(out, TRUE);
        return NULL;
    }
    return g_string_free(out, FALSE);
}
