/* nightly_conf.c - offerq nightly's configuration file and its environment
 * overrides (nightly_conf.h). The file is INI as libinih reads it (Debian's
 * build: inline comments after " ;", indented lines continue a value, lines
 * up to 199 characters). The [run] and [crosssell] keys are the options of
 * `offerq run` and `offerq crosssell learn`, taken from their option tables
 * and checked by their own parsers, so a key means exactly what the option
 * means and the two cannot drift apart. */
#include "cli/prod/nightly_conf.h"
#include "cli/cli.h"
#include "offerq/prod/db.h"
#include "offerq/prod/publish.h"

#include <ctype.h>
#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

extern char **environ;

enum { K_STR, K_SECRET, K_PATH, K_LIST, K_LONG, K_OPT, K_FLAG };

typedef struct key_spec {
    const char *section, *key;
    int kind;
    long lo, hi;
} key_spec;

static const key_spec fixed_keys[] = {
    {"source", "pg", K_STR, 0, 0},
    {"source", "load", K_LIST, 0, 0},
    {"source", "log", K_PATH, 0, 0},
    {"source", "orders", K_PATH, 0, 0},
    {"source", "events", K_PATH, 0, 0},
    {"source", "pg_keep_runs", K_LONG, 0, 1000000000},
    {"publish", "redis", K_STR, 0, 0},
    {"publish", "password", K_SECRET, 0, 0},
    {"publish", "prefix", K_STR, 0, 0},
    {"publish", "timeout_ms", K_LONG, 1, 3600000},
    {"publish", "wait_replicas", K_LONG, 1, 1000},
    {"publish", "wait_timeout_ms", K_LONG, 1, 3600000},
    {"output", "dir", K_PATH, 0, 0},
    {"output", "keep_runs", K_LONG, 1, 1000},
    {"output", "lock", K_PATH, 0, 0},
    {"output", "status", K_PATH, 0, 0},
};
#define N_FIXED (sizeof fixed_keys / sizeof *fixed_keys)

static const char *const sections[] = {"source", "run", "crosssell", "publish", "output"};
#define N_SECTIONS (sizeof sections / sizeof *sections)

/* Options of the commands that have a home elsewhere in the file. */
typedef struct excluded {
    const char *section, *key, *why;
} excluded;
static const excluded excluded_keys[] = {
    {"run", "help", "not a setting"},
    {"run", "log", "the log is [source] log (or [source] pg)"},
    {"run", "pg", "PostgreSQL is [source] pg"},
    {"run", "out_dir", "the run folder is [output] dir"},
    {"run", "keep_runs", "runs kept is [output] keep_runs"},
    {"run", "orders", "the purchases are [source] orders"},
    {"run", "events", "the browsing stream is [source] events"},
    {"run", "quiet", "offerq nightly is quiet; --verbose shows each stage's progress"},
    {"crosssell", "help", "not a setting"},
    {"crosssell", "out", "the table is written into the run folder as crosssell.oxq"},
    {"crosssell", "summary", "the summary is written into the run folder as crosssell.json"},
    {"crosssell", "quiet", "offerq nightly is quiet; --verbose shows each stage's progress"},
};

/* Option values that are file paths (relative to the config file's folder). */
static const char *const path_opts[] = {"run.model", "run.warm_start", "crosssell.items",
                                        "crosssell.rules", "crosssell.baskets"};

/* "plan-k" and "plan_k" are the same key; stored with '_'. */
static void canon(char *dst, size_t len, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < len; i++)
        dst[i] = src[i] == '-' ? '_' : src[i];
    dst[i] = 0;
}

static int same_key(const char *opt_name, const char *key)
{
    for (; *opt_name && *key; opt_name++, key++)
        if (*opt_name != *key && !(*opt_name == '-' && *key == '_')) return 0;
    return !*opt_name && !*key;
}

static const struct option *option_table(const char *section)
{
    if (!strcmp(section, "run")) return cli_run_options;
    if (!strcmp(section, "crosssell")) return cli_xsell_learn_options;
    return NULL;
}

typedef struct keyinfo {
    int kind; /* K_* */
    long lo, hi;
    const struct option *opt; /* for [run] and [crosssell] */
    const char *why;          /* an excluded key's home */
} keyinfo;

/* 0: a key; -1: no such section; -2: no such key; -3: excluded (ki->why). */
static int key_lookup(const char *section, const char *key, keyinfo *ki)
{
    memset(ki, 0, sizeof *ki);
    size_t s = 0;
    while (s < N_SECTIONS && strcmp(sections[s], section) != 0)
        s++;
    if (s == N_SECTIONS) return -1;
    for (size_t i = 0; i < sizeof excluded_keys / sizeof *excluded_keys; i++)
        if (!strcmp(excluded_keys[i].section, section) && !strcmp(excluded_keys[i].key, key)) {
            ki->why = excluded_keys[i].why;
            return -3;
        }
    const struct option *tab = option_table(section);
    if (tab) {
        for (; tab->name; tab++)
            if (same_key(tab->name, key)) {
                char full[64];
                snprintf(full, sizeof full, "%s.%s", section, key);
                ki->opt = tab;
                ki->kind = tab->has_arg == no_argument ? K_FLAG : K_OPT;
                for (size_t i = 0; i < sizeof path_opts / sizeof *path_opts; i++)
                    if (!strcmp(path_opts[i], full)) ki->kind = K_PATH;
                return 0;
            }
        return -2;
    }
    for (size_t i = 0; i < N_FIXED; i++)
        if (!strcmp(fixed_keys[i].section, section) && !strcmp(fixed_keys[i].key, key)) {
            ki->kind = fixed_keys[i].kind;
            ki->lo = fixed_keys[i].lo;
            ki->hi = fixed_keys[i].hi;
            return 0;
        }
    return -2;
}

static void problem(nightly_conf *c, const char *origin, const char *fmt, ...) OQ_PRINTF(3, 4);
static void problem(nightly_conf *c, const char *origin, const char *fmt, ...)
{
    va_list ap;
    fprintf(stderr, "offerq nightly: %s: ", origin);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap); // NOLINT(clang-analyzer-valist.Uninitialized): va_start above
    va_end(ap);
    fputc('\n', stderr);
    c->errors++;
}

static nightly_entry *find(const nightly_conf *c, const char *section, const char *key)
{
    for (size_t i = 0; i < c->n; i++)
        if (!strcmp(c->e[i].section, section) && !strcmp(c->e[i].key, key)) return &c->e[i];
    return NULL;
}

/* The value of a key, NULL when unset or empty. */
static const char *get(const nightly_conf *c, const char *section, const char *key)
{
    const nightly_entry *e = find(c, section, key);
    return e && e->value[0] ? e->value : NULL;
}

static nightly_entry *add(nightly_conf *c, const char *section, const char *key)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? 2 * c->cap : 32;
        nightly_entry *e = realloc(c->e, cap * sizeof *e);
        if (!e) return NULL;
        c->e = e;
        c->cap = cap;
    }
    nightly_entry *e = &c->e[c->n++];
    memset(e, 0, sizeof *e);
    snprintf(e->section, sizeof e->section, "%s", section);
    snprintf(e->key, sizeof e->key, "%s", key);
    return e;
}

/* ---- the file -------------------------------------------------------------------- */

typedef struct parse_ctx {
    nightly_conf *c;
    FILE *fp;
    long line;
    int indented; /* the line just read starts with a blank and has text */
    char *buf;
    size_t cap;
    char last_section[16], last_key[40];
} parse_ctx;

/* libinih's reader (fgets-like): counts lines, so that the handler knows its
 * line (Debian's libinih is built without INI_HANDLER_LINENO), and refuses a
 * line longer than inih's buffer instead of letting it be cut in two. */
static char *reader(char *str, int num, void *stream)
{
    parse_ctx *p = stream;
    ssize_t n = getline(&p->buf, &p->cap, p->fp);
    if (n < 0) return NULL;
    p->line++;
    while (n > 0 && (p->buf[n - 1] == '\n' || p->buf[n - 1] == '\r'))
        p->buf[--n] = 0;
    const char *t = p->buf + strspn(p->buf, " \t");
    p->indented = t != p->buf && *t && *t != ';' && *t != '#';
    char where[4200];
    snprintf(where, sizeof where, "%s:%ld", p->c->path, p->line);
    if (n + 2 > num) {
        problem(p->c, where,
                "line longer than %d characters (give a long URL in the environment, "
                "e.g. OFFERQ_PG)",
                num - 2);
        snprintf(str, (size_t)num, "\n");
        return str;
    }
    snprintf(str, (size_t)num, "%s\n", p->buf);
    return str;
}

static int handler(void *user, const char *section, const char *name, const char *value)
{
    parse_ctx *p = user;
    nightly_conf *c = p->c;
    char where[4200], key[40];
    snprintf(where, sizeof where, "%s:%ld", c->path, p->line);
    canon(key, sizeof key, name);
    int cont = p->indented && !strcmp(p->last_section, section) && !strcmp(p->last_key, key);
    snprintf(p->last_section, sizeof p->last_section, "%s", section);
    snprintf(p->last_key, sizeof p->last_key, "%s", key);
    if (!*section) {
        problem(c, where,
                "'%s' before any [section] (sections: source, run, crosssell, publish, "
                "output)",
                name);
        return 1;
    }
    keyinfo ki;
    switch (key_lookup(section, key, &ki)) {
    case -1:
        problem(c, where,
                "unknown section [%s] (sections: source, run, crosssell, publish, output)",
                section);
        return 1;
    case -2:
        if (option_table(section))
            problem(c, where, "unknown key '%s' in [%s]: offerq %s has no option --%s", name,
                    section, !strcmp(section, "run") ? "run" : "crosssell learn", name);
        else
            problem(c, where, "unknown key '%s' in [%s] (offerq nightly --help lists the keys)",
                    name, section);
        return 1;
    case -3:
        problem(c, where, "[%s] %s is not set here: %s", section, name, ki.why);
        return 1;
    default:
        break;
    }
    nightly_entry *e = find(c, section, key);
    if (e && ki.kind == K_LIST) { /* load: several lines or several keys add up */
        size_t n = strlen(e->value) + strlen(value) + 2;
        char *v = malloc(n);
        if (!v) return 0;
        snprintf(v, n, "%s %s", e->value, value);
        free(e->value);
        e->value = v;
        return 1;
    }
    if (e) {
        if (cont)
            problem(c, where,
                    "an indented line continues the value of [%s] %s (only load takes several "
                    "lines): remove the indentation",
                    section, name);
        else
            problem(c, where, "[%s] %s is set twice (first at %s)", section, name, e->origin);
        return 1;
    }
    if (!(e = add(c, section, key))) return 0;
    if (!(e->value = strdup(value)) || !(e->origin = strdup(where))) {
        free(e->value);
        c->n--; /* not half an entry */
        return 0;
    }
    return 1;
}

static int read_file(nightly_conf *c)
{
    parse_ctx p = {.c = c};
    if (!(p.fp = fopen(c->path, "r"))) {
        problem(c, c->path, "cannot read the config file: %s", strerror(errno));
        return -1;
    }
    int bad = ini_parse_stream(reader, &p, handler, &p);
    fclose(p.fp);
    free(p.buf);
    if (bad > 0) {
        char where[4200];
        snprintf(where, sizeof where, "%s:%d", c->path, bad);
        problem(c, where, "not '[section]', 'key = value' or a comment (; or #)");
    } else if (bad < 0) {
        problem(c, c->path, "out of memory reading the file");
    }
    return 0;
}

/* ---- the environment --------------------------------------------------------------- */

static void env_name(char *out, size_t len, const char *section, const char *key)
{
    size_t o = (size_t)snprintf(out, len, "OFFERQ_%s_%s", section, key);
    for (size_t i = 7; i < o && i < len; i++)
        out[i] = out[i] == '-' ? '_' : (char)toupper((unsigned char)out[i]);
}

static int set_from_env(nightly_conf *c, const char *section, const char *key, const char *var)
{
    const char *v = getenv(var);
    if (!v) return 0;
    nightly_entry *e = find(c, section, key);
    if (e) {
        /* keep the file's line (an alias may have overridden it already) */
        if (!e->file_origin && e->origin[0] != '$') {
            e->file_origin = e->origin;
            e->origin = NULL;
        }
        free(e->value);
        free(e->origin);
        e->value = e->origin = NULL;
    } else if (!(e = add(c, section, key))) {
        return -1;
    }
    size_t n = strlen(var) + 2;
    if (!(e->value = strdup(v)) || !(e->origin = malloc(n))) {
        free(e->value);
        free(e->file_origin);
        *e = c->e[--c->n]; /* not half an entry: the last one takes its place */
        return -1;
    }
    snprintf(e->origin, n, "$%s", var);
    return 0;
}

/* Every key of a section, as "key" (canonical), through fn. */
static void each_key(const char *section, void (*fn)(void *, const char *), void *arg)
{
    const struct option *tab = option_table(section);
    keyinfo ki;
    char key[40];
    if (tab) {
        for (; tab->name; tab++) {
            canon(key, sizeof key, tab->name);
            if (key_lookup(section, key, &ki) == 0) fn(arg, key);
        }
        return;
    }
    for (size_t i = 0; i < N_FIXED; i++)
        if (!strcmp(fixed_keys[i].section, section)) fn(arg, fixed_keys[i].key);
}

typedef struct env_walk {
    nightly_conf *c;
    const char *section;
    const char *var; /* a variable looked for (typo check) */
    int found, failed;
} env_walk;

static void env_key(void *arg, const char *key)
{
    env_walk *w = arg;
    char var[128];
    env_name(var, sizeof var, w->section, key);
    if (w->var) {
        size_t n = strcspn(w->var, "=");
        if (strlen(var) == n && !strncmp(var, w->var, n)) w->found = 1;
        return;
    }
    if (set_from_env(w->c, w->section, key, var)) w->failed = 1;
}

static int read_env(nightly_conf *c)
{
    static const char *const alias[][3] = {{"OFFERQ_PG", "source", "pg"},
                                           {"OFFERQ_REDIS", "publish", "redis"},
                                           {"OFFERQ_REDIS_PASSWORD", "publish", "password"}};
    for (size_t i = 0; i < sizeof alias / sizeof *alias; i++)
        if (set_from_env(c, alias[i][1], alias[i][2], alias[i][0])) return -1;
    for (size_t s = 0; s < N_SECTIONS; s++) {
        env_walk w = {.c = c, .section = sections[s]};
        each_key(sections[s], env_key, &w);
        if (w.failed) return -1;
        /* A variable of this section that names no key: a typo, refused. */
        char prefix[64];
        env_name(prefix, sizeof prefix, sections[s], "");
        for (char **ev = environ; *ev; ev++) {
            if (strncmp(*ev, prefix, strlen(prefix)) != 0) continue;
            w.var = *ev;
            w.found = 0;
            each_key(sections[s], env_key, &w);
            if (!w.found) {
                char where[128];
                snprintf(where, sizeof where, "$%.*s", (int)strcspn(*ev, "="), *ev);
                problem(c, where, "names no key of [%s] (offerq nightly --help lists the keys)",
                        sections[s]);
            }
        }
    }
    return 0;
}

/* ---- checking the values --------------------------------------------------------------- */

/* A relative path from the file is relative to the file's folder. */
static int resolve_path(const nightly_conf *c, nightly_entry *e)
{
    if (e->origin[0] == '$' || e->value[0] == '/' || !strcmp(c->base, ".")) return 0;
    size_t n = strlen(c->base) + strlen(e->value) + 2;
    char *v = malloc(n);
    if (!v) return -1;
    snprintf(v, n, "%s/%s", c->base, e->value);
    free(e->value);
    e->value = v;
    return 0;
}

static int parse_bool(const char *s, int *out)
{
    static const char *const yes[] = {"true", "yes", "on", "1"}, *const no[] = {"false", "no",
                                                                                "off", "0"};
    for (size_t i = 0; i < 4; i++) {
        if (!strcasecmp(s, yes[i])) return *out = 1, 0;
        if (!strcasecmp(s, no[i])) return *out = 0, 0;
    }
    return -1;
}

/* A whitespace-separated list of paths, each resolved. */
static int split_list(nightly_conf *c, nightly_entry *e)
{
    char *save = NULL, *copy = strdup(e->value);
    if (!copy) return -1;
    for (char *t = strtok_r(copy, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
        char **l = realloc(c->load, (c->n_load + 1) * sizeof *l);
        if (!l) break;
        c->load = l;
        size_t n = strlen(c->base) + strlen(t) + 2;
        int rel = t[0] != '/' && e->origin[0] != '$' && strcmp(c->base, ".") != 0;
        if (!(c->load[c->n_load] = malloc(n))) break;
        snprintf(c->load[c->n_load++], n, "%s%s%s", rel ? c->base : "", rel ? "/" : "", t);
    }
    free(copy);
    return 0;
}

static int push_arg(char ***argv, int *argc, const char *s)
{
    char **a = realloc(*argv, (size_t)(*argc + 2) * sizeof *a);
    if (!a) return -1;
    *argv = a;
    if (!(a[*argc] = strdup(s))) return -1;
    a[++*argc] = NULL;
    return 0;
}

static void free_argv(char **argv, int argc)
{
    for (int i = 0; i < argc; i++)
        free(argv[i]);
    free(argv);
}

/* --key value (or --key for a flag that is true) of one entry; *n args added. */
static int entry_args(nightly_entry *e, const keyinfo *ki, char ***argv, int *argc, int *bad)
{
    char opt[64];
    snprintf(opt, sizeof opt, "--%s", ki->opt->name);
    if (ki->kind == K_FLAG) {
        int on;
        if (parse_bool(e->value, &on)) {
            *bad = 1;
            return 0;
        }
        return on ? push_arg(argv, argc, opt) : 0;
    }
    return push_arg(argv, argc, opt) || push_arg(argv, argc, e->value) ? -1 : 0;
}

/* Check one [run] / [crosssell] key with its command's own parser, naming
 * the key's origin in the message. */
static void check_option(nightly_conf *c, nightly_entry *e, const keyinfo *ki)
{
    char ctx[4400];
    snprintf(ctx, sizeof ctx, "%s: [%s] %s", e->origin, e->section, e->key);
    int run = !strcmp(e->section, "run"), bad = 0;
    char **argv = NULL;
    int argc = 0;
    if (push_arg(&argv, &argc, run ? "run" : "learn") || entry_args(e, ki, &argv, &argc, &bad)) {
        problem(c, ctx, "out of memory");
    } else if (bad) {
        problem(c, ctx, "expects true or false, got '%s'", e->value);
    } else {
        cli_set_context(ctx);
        oq_pipeline_opts o;
        char *pg = NULL;
        int rc = run ? cli_run_parse_check(argc, argv, &o, &pg, CLI_CHECK_VALUES)
                     : cli_crosssell_learn(argc, argv, CLI_CHECK_VALUES);
        free(pg);
        cli_set_context(NULL);
        if (rc) c->errors++;
    }
    free_argv(argv, argc);
}

static void check_fixed(nightly_conf *c, nightly_entry *e, const keyinfo *ki)
{
    char ctx[4400];
    snprintf(ctx, sizeof ctx, "%s: [%s] %s", e->origin, e->section, e->key);
    if (ki->kind == K_LONG) {
        char *end;
        errno = 0;
        long v = strtol(e->value, &end, 10);
        if (errno || end == e->value || *end || v < ki->lo || v > ki->hi)
            problem(c, ctx, "expects a whole number in [%ld, %ld], got '%s'", ki->lo, ki->hi,
                    e->value);
    } else if (ki->kind == K_PATH) {
        if (resolve_path(c, e)) problem(c, ctx, "out of memory");
    } else if (ki->kind == K_LIST) {
        if (split_list(c, e)) problem(c, ctx, "out of memory");
    }
}

static long get_long(const nightly_conf *c, const char *section, const char *key, long dflt)
{
    const char *v = get(c, section, key);
    return v ? strtol(v, NULL, 10) : dflt;
}

/* Build the [run] and [crosssell] argument vectors in file order. */
static int build_argv(nightly_conf *c, const char *section, char ***argv, int *argc)
{
    if (push_arg(argv, argc, !strcmp(section, "run") ? "run" : "learn")) return -1;
    for (size_t i = 0; i < c->n; i++) {
        nightly_entry *e = &c->e[i];
        keyinfo ki;
        int bad = 0;
        if (strcmp(e->section, section) != 0 || !e->value[0]) continue;
        if (key_lookup(e->section, e->key, &ki) || entry_args(e, &ki, argv, argc, &bad)) return -1;
    }
    return 0;
}

int nightly_conf_load(nightly_conf *c, const char *path)
{
    memset(c, 0, sizeof *c);
    snprintf(c->path, sizeof c->path, "%s", path);
    snprintf(c->base, sizeof c->base, "%s", path);
    char *slash = strrchr(c->base, '/');
    if (!slash)
        snprintf(c->base, sizeof c->base, ".");
    else if (slash == c->base)
        c->base[1] = 0;
    else
        *slash = 0;
    if (read_file(c)) return -1;
    /* On: every bad value is reported in one go, not one per attempt. */
    if (read_env(c)) {
        problem(c, "environment", "out of memory");
        return -1;
    }
    /* each value */
    for (size_t i = 0; i < c->n; i++) {
        nightly_entry *e = &c->e[i];
        keyinfo ki;
        int k = key_lookup(e->section, e->key, &ki);
        if (k || !e->value[0]) continue;
        if (ki.opt) {
            if (ki.kind == K_PATH && resolve_path(c, e)) problem(c, e->origin, "out of memory");
            check_option(c, e, &ki);
        } else {
            check_fixed(c, e, &ki);
        }
    }
    if (c->errors) return -1;
    /* the keys together */
    c->pg = get(c, "source", "pg");
    c->log = get(c, "source", "log");
    c->orders = get(c, "source", "orders");
    c->events = get(c, "source", "events");
    c->pg_keep_runs = get_long(c, "source", "pg_keep_runs", 0);
    c->redis = get(c, "publish", "redis");
    c->password = get(c, "publish", "password");
    c->prefix = get(c, "publish", "prefix");
    c->redis_timeout_ms = get_long(c, "publish", "timeout_ms", 0);
    c->wait_replicas = get_long(c, "publish", "wait_replicas", 0);
    c->wait_timeout_ms = get_long(c, "publish", "wait_timeout_ms", 0);
    nightly_entry *de = find(c, "output", "dir");
    if (de) { /* "out/run/" is the link out/run: DIR.lock must not land inside it */
        size_t n = strlen(de->value);
        while (n > 1 && de->value[n - 1] == '/')
            de->value[--n] = 0;
    }
    c->dir = get(c, "output", "dir");
    c->keep_runs = get_long(c, "output", "keep_runs", 3);
    if (!!c->pg == !!c->log)
        problem(c, c->path,
                c->pg ? "[source] has both pg and log: give one (pg: PostgreSQL; log: a CSV file)"
                      : "[source] needs pg (a PostgreSQL URL) or log (a CSV file)");
    if (c->n_load && !c->pg)
        problem(c, c->path, "[source] load needs pg: the files are loaded into PostgreSQL");
    if (c->pg_keep_runs && !c->pg) problem(c, c->path, "[source] pg_keep_runs needs pg");
    if (c->wait_timeout_ms && !c->wait_replicas)
        problem(c, c->path, "[publish] wait_timeout_ms needs wait_replicas");
    if (c->wait_timeout_ms &&
        c->wait_timeout_ms >= (c->redis_timeout_ms ? c->redis_timeout_ms : OQ_REDIS_TIMEOUT_MS))
        problem(c, c->path,
                "[publish] wait_timeout_ms must be below timeout_ms (default %d), which bounds "
                "the WAIT's answer",
                OQ_REDIS_TIMEOUT_MS);
    if ((c->password || c->prefix || c->redis_timeout_ms || c->wait_replicas) && !c->redis)
        problem(c, c->path, "[publish] needs redis (a URL) for its other keys to mean anything");
    if (!c->dir) {
        problem(c, c->path, "[output] dir is required: the run folder (a link to the newest run)");
    } else {
        cli_set_context("[output] dir");
        if (cli_out_path("nightly", "dir", c->dir, 1)) c->errors++;
        cli_set_context(NULL);
    }
    const char *lock = get(c, "output", "lock"), *status = get(c, "output", "status");
    if (c->dir) {
        snprintf(c->lock, sizeof c->lock, "%s", lock ? lock : "");
        snprintf(c->status, sizeof c->status, "%s", status ? status : "");
        if (!lock) snprintf(c->lock, sizeof c->lock, "%s.lock", c->dir);
        if (!status) snprintf(c->status, sizeof c->status, "%s.nightly.json", c->dir);
    }
    /* the commands' own checks of their options together */
    if (build_argv(c, "run", &c->run_argv, &c->run_argc) ||
        build_argv(c, "crosssell", &c->xsell_argv, &c->xsell_argc)) {
        problem(c, c->path, "out of memory");
        return -1;
    }
    char *pg = NULL;
    cli_set_context("[run]");
    int rc = cli_run_parse(c->run_argc, c->run_argv, &c->run, &pg);
    free(pg);
    cli_set_context(NULL);
    if (rc) c->errors++;
    if (c->xsell_argc > 1 && c->dir) {
        char **argv = NULL, table[4200];
        int argc = 0;
        snprintf(table, sizeof table, "%s/crosssell.oxq", c->dir);
        if (nightly_conf_xsell_argv(c, table, NULL, 0, &argv, &argc)) {
            problem(c, c->path, "out of memory");
        } else {
            cli_set_context("[crosssell]");
            if (cli_crosssell_learn(argc, argv, CLI_CHECK_ARGS)) c->errors++;
            cli_set_context(NULL);
        }
        free(argv);
    }
    return c->errors ? -1 : 0;
}

int nightly_conf_xsell_argv(const nightly_conf *c, const char *table, const char *summary,
                            int quiet, char ***argv, int *argc)
{
    /* learn --out TABLE [--summary S] [--quiet] then the keys' options */
    int n = 0, cap = c->xsell_argc + 7;
    char **a = calloc((size_t)cap, sizeof *a);
    if (!a) return -1;
    a[n++] = c->xsell_argv[0];
    a[n++] = (char *)"--out";
    a[n++] = (char *)table;
    if (summary) {
        a[n++] = (char *)"--summary";
        a[n++] = (char *)summary;
    }
    if (quiet) a[n++] = (char *)"--quiet";
    for (int i = 1; i < c->xsell_argc; i++)
        a[n++] = c->xsell_argv[i];
    a[n] = NULL;
    *argv = a;
    *argc = n;
    return 0;
}

void nightly_conf_free(nightly_conf *c)
{
    for (size_t i = 0; i < c->n; i++) {
        free(c->e[i].value);
        free(c->e[i].origin);
        free(c->e[i].file_origin);
    }
    free(c->e);
    for (size_t i = 0; i < c->n_load; i++)
        free(c->load[i]);
    free(c->load);
    free_argv(c->run_argv, c->run_argc);
    free_argv(c->xsell_argv, c->xsell_argc);
    memset(c, 0, sizeof *c);
}

void nightly_conf_print(const nightly_conf *c, FILE *fp)
{
    for (size_t i = 0; i < c->n; i++) {
        const nightly_entry *e = &c->e[i];
        char shown[4200];
        if (!e->value[0]) continue;
        if (!strcmp(e->section, "publish") && !strcmp(e->key, "password"))
            snprintf(shown, sizeof shown, "***");
        else if (!strcmp(e->section, "publish") && !strcmp(e->key, "redis"))
            oq_redis_url_redact(e->value, shown, sizeof shown);
        else if (!strcmp(e->section, "source") && !strcmp(e->key, "pg"))
            oq_db_url_redact(e->value, shown, sizeof shown);
        else
            snprintf(shown, sizeof shown, "%s", e->value);
        fprintf(fp, "  [%s] %s = %s  (%s%s%s)\n", e->section, e->key, shown, e->origin,
                e->file_origin ? ", over " : "", e->file_origin ? e->file_origin : "");
    }
}

typedef struct help_line {
    FILE *fp;
    int col;
} help_line;

static void help_key(void *arg, const char *key)
{
    help_line *h = arg;
    int n = (int)strlen(key) + 1;
    if (h->col + n > 79) {
        fprintf(h->fp, "\n%16s", "");
        h->col = 16;
    }
    fprintf(h->fp, " %s", key);
    h->col += n;
}

void nightly_conf_help_keys(FILE *fp)
{
    for (size_t s = 0; s < N_SECTIONS; s++) {
        help_line h = {fp, 16};
        fprintf(fp, "  %-13s", sections[s]);
        fprintf(fp, " ");
        h.col = 16;
        each_key(sections[s], help_key, &h);
        fputc('\n', fp);
    }
}
