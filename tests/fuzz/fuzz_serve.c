/* fuzz_serve.c - libFuzzer target: the HTTP/JSON request handlers of the
 * service (serve.c through oq_serve_handle, the libmicrohttpd callback minus
 * the socket). Input: "METHOD\nPATH[?QUERY]\nBODY". The server is loaded
 * once from a small --dir (recommendations.csv, report.json, one SVG) with
 * stub models. Every answer has a known status; JSON answers parse, error
 * answers (>= 400) carry an "error" string, 200s of the model endpoints hold
 * finite numbers. */
#include "offerq/coupon/bgnbd.h"
#include "offerq/core/data.h"
#include "offerq/prod/serve.h"
#include "prod/serve_int.h"
#include "fuzz_util.h"

#include <jansson.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static double alive(void *ctx, double x, double tx, double T)
{
    return oq_bgnbd_p_alive(ctx, x, tx, T);
}

static int profit(void *ctx, const char *const *seq, size_t n, const double *feat, int coupon,
                  double *r_hat, char *msg, size_t msg_len)
{
    (void)ctx;
    for (size_t i = 0; i < n; i++)
        if (strlen(seq[i]) > 32) return snprintf(msg, msg_len, "unknown category"), OQ_EINVAL;
    *r_hat = feat[2] * 0.1 - oq_coupon_value(coupon);
    return 0;
}

static int xsell(void *ctx, const char *item, const long *inv, size_t n, json_t *out, char *msg,
                 size_t msg_len)
{
    (void)ctx;
    if (n == 0 || n > 16) return snprintf(msg, msg_len, "1 to 16 items"), OQ_EINVAL;
    /* Items are named by position ("1".."n") in this stand-in table. */
    char *end;
    long i = strtol(item, &end, 10);
    if (*end || i < 1 || i > (long)n) return snprintf(msg, msg_len, "unknown item"), OQ_EINVAL;
    json_object_set_new(out, "bundle", json_integer(i % (long)n));
    json_object_set_new(out, "discount", json_real(inv[i - 1] > 2 ? 0.1 : 0));
    return 0;
}

static char dir[64];

static void cleanup_dir(void)
{
    static const char *f[] = {"recommendations.csv", "report.json", "curve.svg"};
    char p[128];
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof p, "%s/%s", dir, f[i]);
        remove(p);
    }
    rmdir(dir);
}

static void put(const char *name, const char *text)
{
    char p[128];
    snprintf(p, sizeof p, "%s/%s", dir, name);
    FILE *fp = fopen(p, "w");
    if (!fp || fputs(text, fp) < 0 || fclose(fp)) abort();
}

static oq_serve *server(void)
{
    static oq_serve *s;
    static oq_bgnbd_params p = {0.243, 4.414, 0.793, 2.426};
    if (s) return s;
    snprintf(dir, sizeof dir, "/dev/shm/offerq-fuzz-serve-%ld", (long)getpid());
    if (mkdir(dir, 0700)) abort();
    atexit(cleanup_dir);
    put("recommendations.csv", OQ_RECO_HEADER "\n"
                                              "1,2025-07-01,d3|p1|a4|b7|cat2,10,4.5,0.93\n"
                                              "2,2025-07-01,d0|p0|a0|b0|cat0,none,0,0.01\n"
                                              "42,2025-07-01,\"x,y\",20,-1.25,1\n");
    put("report.json", "{\"customers\": 3, \"note\": \"fuzz\"}");
    put("curve.svg", "<svg xmlns=\"http://www.w3.org/2000/svg\"/>");
    oq_serve_config c = {0};
    c.dir = dir;
    c.max_body = 2048;
    c.models.p_alive = alive;
    c.models.alive_ctx = &p;
    c.models.profit = profit;
    c.models.crosssell = xsell;
    oq_error err = {0};
    if (oq_serve_load(&c, &s, &err)) {
        fprintf(stderr, "fuzz_serve: %s\n", err.msg);
        abort();
    }
    return s;
}

static const char *cut(const char **p, const char *end, char *buf, size_t len)
{
    const char *nl = memchr(*p, '\n', (size_t)(end - *p));
    size_t n = (size_t)((nl ? nl : end) - *p);
    if (n >= len) n = len - 1;
    memcpy(buf, *p, n);
    buf[n] = 0;
    *p = nl ? nl + 1 : end;
    return buf;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    oq_serve *s = server();
    const char *p = (const char *)data, *end = p + size;
    char method[16], target[1024];
    cut(&p, end, method, sizeof method);
    cut(&p, end, target, sizeof target);
    char *q = strchr(target, '?');
    if (q) *q++ = 0;
    char *resp = NULL;
    const char *type = NULL;
    int st =
        oq_serve_handle(s, method, target, q, p < end ? p : NULL, (size_t)(end - p), &resp, &type);
    static const int ok[] = {200, 400, 404, 405, 413, 500, 503};
    int known = 0;
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        known |= st == ok[i];
    if (!known || !type) abort();
    if (!strcmp(type, "application/json")) {
        json_error_t je;
        json_t *o = resp ? json_loads(resp, 0, &je) : NULL;
        if (!json_is_object(o)) abort();
        if (st >= 400 && !json_is_string(json_object_get(o, "error"))) abort();
        if (st == 200) {
            json_t *v = json_object_get(o, "p_alive");
            if (v && !(json_number_value(v) >= 0 && json_number_value(v) <= 1)) abort();
            v = json_object_get(o, "r_hat");
            if (v && !isfinite(json_number_value(v))) abort();
        }
        json_decref(o);
    }
    free(resp);
    return 0;
}
