/* json.c - see json.h.
 *
 * oq_json_dumps is jansson's dump.c rewritten for one difference: jansson
 * prints a real with a fixed "%.17g" (JSON_REAL_PRECISION(0) means 17 in
 * jansson 2.14), so 0.1 comes out as 0.10000000000000001. Everything else
 * (separators, indentation, string escapes, ".0" on integral reals, no '+'
 * or leading zeros in exponents) follows jansson, so the files keep their
 * layout. */
#include "util/json.h"
#include "offerq/core/io.h"
#include "util/num.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_DEPTH 2048

typedef struct jbuf {
    char *p;
    size_t n, cap;
    int bad; /* out of memory or too deep */
} jbuf;

static void put(jbuf *b, const char *s, size_t len)
{
    if (b->bad) return;
    if (b->n + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->n + len + 1)
            cap *= 2;
        char *q = realloc(b->p, cap);
        if (!q) {
            b->bad = 1;
            return;
        }
        b->p = q;
        b->cap = cap;
    }
    memcpy(b->p + b->n, s, len);
    b->n += len;
    b->p[b->n] = 0;
}

static void puts_(jbuf *b, const char *s)
{
    put(b, s, strlen(s));
}

/* jansson's dump_indent: a newline and depth * n spaces when indenting, else
 * one space where a separator allows it (not with JSON_COMPACT). */
static void indent(jbuf *b, size_t flags, int depth, int space)
{
    size_t n = flags & JSON_MAX_INDENT;
    if (n) {
        puts_(b, "\n");
        for (size_t i = 0; i < n * (size_t)depth; i++)
            puts_(b, " ");
    } else if (space && !(flags & JSON_COMPACT)) {
        puts_(b, " ");
    }
}

static void put_string(jbuf *b, const char *s, size_t len)
{
    puts_(b, "\"");
    size_t run = 0; /* bytes copied as they are, pending */
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[8];
        switch (c) {
        case '"':
            esc = "\\\"";
            break;
        case '\\':
            esc = "\\\\";
            break;
        case '\b':
            esc = "\\b";
            break;
        case '\f':
            esc = "\\f";
            break;
        case '\n':
            esc = "\\n";
            break;
        case '\r':
            esc = "\\r";
            break;
        case '\t':
            esc = "\\t";
            break;
        default:
            if (c < 0x20) {
                snprintf(u, sizeof u, "\\u%04X", c);
                esc = u;
            }
        }
        if (!esc) {
            run++;
            continue;
        }
        put(b, s + i - run, run);
        run = 0;
        puts_(b, esc);
    }
    put(b, s + len - run, run);
    puts_(b, "\"");
}

/* A real as jansson marks it (integral values get ".0", exponents lose '+'
 * and leading zeros) with the shortest digits that round-trip. */
static void put_real(jbuf *b, double v)
{
    char t[OQ_DBL_BUF + 4], out[OQ_DBL_BUF + 4];
    oq_fmt_double(v, t);
    if (!strpbrk(t, ".eE")) strcat(t, ".0");
    size_t k = 0;
    for (const char *p = t; *p; p++) {
        out[k++] = *p;
        if (*p == 'e' || *p == 'E') {
            if (p[1] == '+')
                p++;
            else if (p[1] == '-')
                out[k++] = *++p;
            while (p[1] == '0' && p[2])
                p++;
        }
    }
    out[k] = 0;
    puts_(b, out);
}

static void dump(jbuf *b, const json_t *j, size_t flags, int depth)
{
    char num[32];
    if (depth > MAX_DEPTH) {
        b->bad = 1;
        return;
    }
    switch (json_typeof(j)) {
    case JSON_NULL:
        puts_(b, "null");
        break;
    case JSON_TRUE:
        puts_(b, "true");
        break;
    case JSON_FALSE:
        puts_(b, "false");
        break;
    case JSON_INTEGER:
        snprintf(num, sizeof num, "%" JSON_INTEGER_FORMAT, json_integer_value(j));
        puts_(b, num);
        break;
    case JSON_REAL:
        put_real(b, json_real_value(j));
        break;
    case JSON_STRING:
        put_string(b, json_string_value(j), json_string_length(j));
        break;
    case JSON_ARRAY: {
        size_t n = json_array_size(j);
        puts_(b, "[");
        if (!n) {
            puts_(b, "]");
            break;
        }
        indent(b, flags, depth + 1, 0);
        for (size_t i = 0; i < n && !b->bad; i++) {
            dump(b, json_array_get(j, i), flags, depth + 1);
            if (i + 1 < n) {
                puts_(b, ",");
                indent(b, flags, depth + 1, 1);
            } else {
                indent(b, flags, depth, 0);
            }
        }
        puts_(b, "]");
        break;
    }
    case JSON_OBJECT: {
        size_t n = json_object_size(j), i = 0;
        const char *key;
        json_t *v;
        puts_(b, "{");
        if (!n) {
            puts_(b, "}");
            break;
        }
        indent(b, flags, depth + 1, 0);
        /* Insertion order, as json_dumps without JSON_SORT_KEYS. The cast:
         * json_object_foreach takes a json_t *, it does not modify it. */
        json_object_foreach((json_t *)j, key, v)
        {
            put_string(b, key, strlen(key));
            puts_(b, flags & JSON_COMPACT ? ":" : ": ");
            dump(b, v, flags, depth + 1);
            if (++i < n) {
                puts_(b, ",");
                indent(b, flags, depth + 1, 1);
            } else {
                indent(b, flags, depth, 0);
            }
        }
        puts_(b, "}");
        break;
    }
    }
}

char *oq_json_dumps(const json_t *j, size_t flags)
{
    jbuf b = {0};
    if (!j) return NULL;
    dump(&b, j, flags, 0);
    if (b.bad) {
        free(b.p);
        return NULL;
    }
    return b.p;
}

int oq_json_write_atomic(const char *path, const json_t *root, oq_error *err)
{
    if (!root) return oq_error_oom(err, path, "JSON");
    char *text = oq_json_dumps(root, JSON_INDENT(2));
    if (!text) return oq_error_oom(err, path, "JSON");
    size_t len = strlen(text);
    char *t = realloc(text, len + 2); /* room for the final newline */
    if (!t) {
        free(text);
        return oq_error_oom(err, path, "JSON");
    }
    t[len] = '\n';
    int rc = oq_write_file_atomic(path, t, len + 1, err);
    free(t);
    return rc;
}
