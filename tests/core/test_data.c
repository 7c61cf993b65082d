/* test_data.c - customer log and events ingest: good input, every bad-input
 * case of issue 2 (each error names line and column), dates, dictionary. */
#include "testutil.h"
#include "offerq/core/data.h"
#include "offerq/core/comm.h"
#include "offerq/core/csv.h"
#include "offerq/core/io.h"
#include "util/rbuf.h"
#include "util/wbuf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define HDR OQ_LOG_HEADER "\n"
#define ROW1 "1,2025-01-05,3,2,45.50,baby,0.9,10,1,30.25\n"
#define ROW2 "1,2025-01-09,4,1,45.50,books,0.8,none,0,0\n"
#define ROW3 "2,2025-02-01,10,0,0,baby,1,20,0,0\n"

static void test_good_log(void **state)
{
    (void)state;
    const char *csv = HDR ROW1 ROW2 ROW3;
    oq_log *log = NULL;
    oq_error err = {0};
    assert_int_equal(oq_log_read_mem("t.csv", csv, strlen(csv), &log, &err), 0);
    assert_int_equal(log->n, 3);
    assert_int_equal(log->user_id[2], 2);
    int32_t d;
    assert_int_equal(oq_date_parse("2025-01-05", 10, &d), 0);
    assert_int_equal(log->day[0], d);
    assert_int_equal(log->days_since[1], 4);
    assert_int_equal(log->purchases_30d[0], 2);
    assert_float_equal(log->aov[0], 45.5, 1e-12);
    assert_int_equal(log->cats.n, 2);
    assert_int_equal(log->category[0], log->category[2]);
    assert_string_equal(log->cats.names[log->category[1]], "books");
    assert_float_equal(log->budget[1], 0.8, 1e-6);
    assert_int_equal(log->coupon[0], OQ_COUPON_10);
    assert_int_equal(log->coupon[1], OQ_COUPON_NONE);
    assert_int_equal(log->order[0], 1);
    assert_float_equal(oq_log_reward(log, 0), 20.25, 1e-12);
    assert_float_equal(oq_log_reward(log, 1), 0.0, 0);
    oq_log_free(log);
}

/* BOM, CRLF, quoted fields (with an embedded comma and a doubled quote) and
 * columns in another order are accepted and mean the same as the plain file. */
static void test_accepted_variants(void **state)
{
    (void)state;
    const char *variants[] = {
        "\xEF\xBB\xBF" HDR ROW1,
        OQ_LOG_HEADER "\r\n1,2025-01-05,3,2,45.50,baby,0.9,10,1,30.25\r\n",
        HDR "\"1\",\"2025-01-05\",3,2,\"45.50\",\"baby\",0.9,\"10\",1,30.25\n",
        "snapshot_date,user_id,days_since_last_purchase,purchases_last_30d,avg_order_value,"
        "category,remaining_budget_pct,coupon_offered,order_placed,order_profit\n"
        "2025-01-05,1,3,2,45.50,baby,0.9,10,1,30.25\n",
        HDR "\n" ROW1 "\n", /* blank lines are skipped */
    };
    for (size_t i = 0; i < sizeof variants / sizeof *variants; i++) {
        oq_log *log = NULL;
        oq_error err = {0};
        int rc = oq_log_read_mem("v.csv", variants[i], strlen(variants[i]), &log, &err);
        if (rc)
            fail_msg("variant %zu rejected: %s (line %ld col %ld)", i, err.msg, err.line, err.col);
        assert_int_equal(log->n, 1);
        assert_int_equal(log->user_id[0], 1);
        assert_float_equal(log->profit[0], 30.25, 1e-12);
        assert_string_equal(log->cats.names[log->category[0]], "baby");
        oq_log_free(log);
    }
    /* A quoted category with a comma and a quote inside. */
    const char *q = HDR "1,2025-01-05,3,2,45.5,\"toys, \"\"big\"\"\",0.9,10,1,30.25\n";
    oq_log *log = NULL;
    oq_error err = {0};
    assert_int_equal(oq_log_read_mem("q.csv", q, strlen(q), &log, &err), 0);
    assert_string_equal(log->cats.names[0], "toys, \"big\"");
    oq_log_free(log);
}

typedef struct bad_case {
    const char *what;
    const char *csv;
    long line, col;     /* expected position; col 0 = any */
    const char *needle; /* must appear in the message */
} bad_case;

static const bad_case bad_cases[] = {
    {"empty file", "", 1, 1, "empty file"},
    {"missing column in header",
     "user_id,snapshot_date,days_since_last_purchase,purchases_last_30d,avg_order_value,"
     "category,remaining_budget_pct,coupon_offered,order_placed\n",
     1, 0, "missing column \"order_profit\""},
    {"unknown column in header",
     OQ_LOG_HEADER ",bonus\n1,2025-01-05,3,2,45.50,baby,0.9,10,1,30.25,1\n", 1, 11,
     "unknown column"},
    {"missing columns in a row", HDR "1,2025-01-05,3,2,45.50,baby,0.9,10,1\n", 2, 0,
     "missing columns"},
    {"extra columns in a row", HDR ROW1 "1,2025-01-05,3,2,45.50,baby,0.9,10,1,30.25,7\n", 3, 11,
     "extra columns"},
    {"non-number", HDR "1,2025-01-05,3,2,abc,baby,0.9,10,1,30.25\n", 2, 5, "avg_order_value"},
    {"non-integer user", HDR "x1,2025-01-05,3,2,45,baby,0.9,10,1,30.25\n", 2, 1, "user_id"},
    {"negative count", HDR ROW1 "1,2025-01-06,3,-2,45.50,baby,0.9,10,1,30.25\n", 3, 4,
     "purchases_last_30d"},
    {"negative days", HDR "1,2025-01-06,-1,2,45.50,baby,0.9,10,1,30.25\n", 2, 3, ">= 0"},
    {"budget above 1", HDR "1,2025-01-05,3,2,45.50,baby,1.5,10,1,30.25\n", 2, 7, "[0, 1]"},
    {"budget below 0", HDR "1,2025-01-05,3,2,45.50,baby,-0.1,10,1,30.25\n", 2, 7, "[0, 1]"},
    {"coupon not allowed", HDR "1,2025-01-05,3,2,45.50,baby,0.9,15,1,30.25\n", 2, 8,
     "none, 5, 10, 20"},
    {"order not 0/1", HDR "1,2025-01-05,3,2,45.50,baby,0.9,10,2,30.25\n", 2, 9, "0 or 1"},
    {"bad date", HDR "1,2025-02-30,3,2,45.50,baby,0.9,10,1,30.25\n", 2, 2, "YYYY-MM-DD"},
    {"bad date form", HDR "1,05/01/2025,3,2,45.50,baby,0.9,10,1,30.25\n", 2, 2, "YYYY-MM-DD"},
    {"empty category", HDR "1,2025-01-05,3,2,45.50,,0.9,10,1,30.25\n", 2, 6, "category"},
    {"NaN profit", HDR "1,2025-01-05,3,2,45.50,baby,0.9,10,1,nan\n", 2, 10, "a number"},
    {"truncated last line", HDR ROW1 "2,2025-01-05,3,2,45.50,baby,0.9,10,1,30", 3, 0,
     "truncated last line"},
    {"unterminated quote", HDR "1,2025-01-05,3,2,45.50,\"baby,0.9,10,1,30.25\n", 2, 0,
     "unterminated"},
    {"header only is fine but a broken row is not", HDR ROW1 ROW2 "3\n", 4, 0, "missing columns"},
};

static void test_bad_inputs(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof bad_cases / sizeof *bad_cases; i++) {
        const bad_case *c = &bad_cases[i];
        oq_log *log = (oq_log *)0x1;
        oq_error err = {0};
        int rc = oq_log_read_mem("bad.csv", c->csv, strlen(c->csv), &log, &err);
        if (rc == 0) fail_msg("case '%s' was accepted", c->what);
        assert_null(log);
        assert_string_equal(err.file, "bad.csv");
        if (err.line != c->line)
            fail_msg("case '%s': line %ld, expected %ld (%s)", c->what, err.line, c->line, err.msg);
        if (c->col && err.col != c->col)
            fail_msg("case '%s': column %ld, expected %ld (%s)", c->what, err.col, c->col, err.msg);
        if (!strstr(err.msg, c->needle))
            fail_msg("case '%s': message '%s' lacks '%s'", c->what, err.msg, c->needle);
        char buf[1200];
        oq_error_format(&err, buf, sizeof buf);
        assert_non_null(strstr(buf, "bad.csv:"));
    }
}

/* A NUL byte inside a field (a binary file, say) is an error, not a shorter string. */
static void test_nul_byte(void **state)
{
    (void)state;
    static const char csv[] = HDR "1,2025-01-05,3,2,45.50,ba\0by,0.9,10,1,30.25\n";
    oq_log *log = NULL;
    oq_error err = {0};
    assert_int_equal(oq_log_read_mem("nul.csv", csv, sizeof csv - 1, &log, &err), OQ_EPARSE);
    assert_int_equal(err.line, 2);
    assert_int_equal(err.col, 6);
    assert_non_null(strstr(err.msg, "NUL byte"));
}

/* oq_error_set may format err->msg into itself (issue 21, item 12: the
 * message was "bad item data: bad item data: ventory ..."). */
static void test_error_self_format(void **state)
{
    (void)state;
    oq_error err = {0};
    oq_error_set(&err, OQ_EINVAL, "a.csv", 3, 4, "inventory must be <= %d", 65535);
    assert_int_equal(oq_error_set(&err, OQ_EFORMAT, err.file, 0, 0, "bad item data: %s", err.msg),
                     OQ_EFORMAT);
    assert_string_equal(err.msg, "bad item data: inventory must be <= 65535");
    assert_string_equal(err.file, "a.csv");
}

/* oq_csv_header_map: the mapper every reader uses for its header. */
static void test_header_map(void **state)
{
    (void)state;
    static const oq_csv_col cols[3] = {
        {"id", 1, "customer_id|user_id"}, {"value", 1, NULL}, {"note", 0, NULL}};
    static const struct {
        const char *fields[4];
        size_t nf;
        int allow_unknown;
        int idx[3];         /* expected on success */
        long col;           /* 0: success, else the column the error names */
        const char *needle; /* in the message */
    } cases[] = {
        {{"value", "id"}, 2, 0, {1, 0, -1}, 0, NULL},
        {{"note", "user_id", "value"}, 3, 0, {1, 2, 0}, 0, NULL},
        {{"customer_id", "x", "value"}, 3, 1, {0, 2, -1}, 0, NULL},
        {{"id", "x", "value"},
         3,
         0,
         {0},
         2,
         "unknown column \"x\" in header; expected the "
         "columns id,value and optionally note"},
        {{"id", "value", "user_id"}, 3, 0, {0}, 3, "column \"id\" appears twice"},
        {{"value", "note"}, 2, 1, {0}, 3, "missing column \"id\""},
        {{"ID", "value"}, 2, 1, {0}, 3, "missing column \"id\""}, /* case-sensitive */
    };
    for (size_t k = 0; k < sizeof cases / sizeof *cases; k++) {
        oq_error err = {0};
        int idx[3] = {7, 7, 7};
        int rc = oq_csv_header_map("h.csv", 1, (char *const *)cases[k].fields, cases[k].nf, cols, 3,
                                   cases[k].allow_unknown, idx, &err);
        if (!cases[k].col) {
            assert_int_equal(rc, 0);
            for (int c = 0; c < 3; c++)
                assert_int_equal(idx[c], cases[k].idx[c]);
            continue;
        }
        if (rc != OQ_EPARSE || !strstr(err.msg, cases[k].needle))
            fprintf(stderr, "case %zu: rc %d: %s\n", k, rc, err.msg);
        assert_int_equal(rc, OQ_EPARSE);
        assert_string_equal(err.file, "h.csv");
        assert_int_equal(err.line, 1);
        assert_int_equal(err.col, cases[k].col);
        assert_non_null(strstr(err.msg, cases[k].needle));
    }
}

/* util/wbuf.h writes little-endian bytes that util/rbuf.h reads back; a
 * size past max is refused and every later append is a no-op. */
static void test_wbuf(void **state)
{
    (void)state;
    oq_wbuf w = {0};
    oq_wb_bytes(&w, "AB", 2);
    oq_wb_u8(&w, 0x01);
    oq_wb_u16(&w, 0x0302);
    oq_wb_u32(&w, 0x07060504u);
    oq_wb_u64(&w, 0x0f0e0d0c0b0a0908ull);
    oq_wb_f32(&w, 1.5f);
    oq_wb_f64(&w, -2.25);
    oq_wb_crc32(&w);
    assert_false(w.bad);
    assert_int_equal(w.n, 2 + 1 + 2 + 4 + 8 + 4 + 8 + 4);
    static const unsigned char head[17] = {'A', 'B', 1,  2,  3,  4,  5,  6, 7,
                                           8,   9,   10, 11, 12, 13, 14, 15};
    assert_memory_equal(w.p, head, sizeof head);
    oq_rbuf r = {w.p, w.n, 0, 0};
    assert_non_null(oq_rb_take(&r, 5));
    assert_int_equal(oq_rb_u32(&r), 0x07060504u);
    assert_true(oq_rb_u64(&r) == 0x0f0e0d0c0b0a0908ull);
    assert_true(oq_rb_f32(&r) == 1.5f);
    assert_true(oq_rb_f64(&r) == -2.25);
    assert_int_equal(oq_rb_u32(&r), oq_crc32(0, w.p, w.n - 4));
    assert_false(r.bad);
    oq_wb_free(&w);

    oq_wbuf small = {.max = 6};
    oq_wb_u32(&small, 1);
    oq_wb_u32(&small, 2); /* 8 bytes > max */
    assert_true(small.bad);
    oq_wb_u8(&small, 3);
    assert_int_equal(small.n, 4);
    oq_wb_free(&small);
}

static void test_file_errors(void **state)
{
    (void)state;
    oq_log *log = NULL;
    oq_error err = {0};
    assert_int_equal(oq_log_read("/nonexistent/x.csv", &log, &err), OQ_EIO);
    assert_null(log);
    assert_non_null(strstr(err.msg, "cannot open"));
}

static void test_dates(void **state)
{
    (void)state;
    int32_t d;
    assert_int_equal(oq_date_parse("1970-01-01", 10, &d), 0);
    assert_int_equal(d, 0);
    assert_int_equal(oq_date_parse("2000-02-29", 10, &d), 0);
    assert_int_equal(d, 11016);
    assert_int_equal(oq_date_parse("1900-02-29", 10, &d), -1); /* not a leap year */
    assert_int_equal(oq_date_parse("2024-13-01", 10, &d), -1);
    assert_int_equal(oq_date_parse("2024-1-01", 9, &d), -1);
    char out[11];
    for (int32_t x = -25567; x < 40000; x += 37) { /* 1900 .. 2079 round trip */
        oq_date_format(x, out);
        assert_int_equal(oq_date_parse(out, 10, &d), 0);
        assert_int_equal(d, x);
    }
    oq_date_format(20088, out);
    assert_string_equal(out, "2024-12-31");
}

static void test_dict(void **state)
{
    (void)state;
    oq_dict d = {0};
    char name[32];
    uint32_t id;
    for (int i = 0; i < 1000; i++) {
        int n = snprintf(name, sizeof name, "cat%d", i);
        assert_int_equal(oq_dict_intern(&d, name, (size_t)n, &id), 0);
        assert_int_equal(id, (uint32_t)i);
    }
    assert_int_equal(oq_dict_intern(&d, "cat7", 4, &id), 0);
    assert_int_equal(id, 7);
    assert_int_equal(oq_dict_find(&d, "cat999"), 999);
    assert_int_equal(oq_dict_find(&d, "nope"), -1);
    oq_dict_clear(&d);
}

static void test_index(void **state)
{
    (void)state;
    const char *csv = HDR ROW3 ROW2 ROW1; /* unsorted */
    oq_log *log = NULL;
    oq_error err = {0};
    assert_int_equal(oq_log_read_mem("t.csv", csv, strlen(csv), &log, &err), 0);
    oq_log_index *ix = NULL;
    assert_int_equal(oq_log_index_build(log, &ix, &err), 0);
    assert_int_equal(ix->n_customers, 2);
    assert_int_equal(ix->user_id[0], 1);
    assert_int_equal(ix->start[1], 2);
    assert_true(log->day[ix->row[0]] < log->day[ix->row[1]]);
    assert_int_equal(oq_log_index_find(ix, 2), 1);
    assert_int_equal(oq_log_index_find(ix, 3), -1);
    oq_log_index_free(ix);
    oq_log_free(log);
}

static void test_events(void **state)
{
    (void)state;
    const char *csv = "user_id,date,category\n1,2025-01-01,baby\r\n1,2025-01-02,toys\n";
    oq_dict cats = {0};
    uint32_t id;
    assert_int_equal(oq_dict_intern(&cats, "toys", 4, &id), 0);
    oq_events *ev = NULL;
    oq_error err = {0};
    assert_int_equal(oq_events_read_mem("e.csv", csv, strlen(csv), &cats, &ev, &err), 0);
    assert_int_equal(ev->n, 2);
    assert_int_equal(ev->category[1], 0); /* shares ids with the dictionary passed in */
    assert_int_equal(ev->category[0], 1);
    oq_events_free(ev);
    const char *bad = "user_id,date,category\n1,2025-01-01,baby\n1,2025-13-02,toys\n";
    assert_int_not_equal(oq_events_read_mem("e.csv", bad, strlen(bad), &cats, &ev, &err), 0);
    assert_null(ev);
    assert_int_equal(err.line, 3);
    assert_int_equal(err.col, 2);
    oq_dict_clear(&cats);
}

/* Many rows, crossing the reader's 1 MiB buffer, read back identically. */
static void test_large_roundtrip(void **state)
{
    (void)state;
    size_t n = 40000, cap = n * 80 + 200, len = 0;
    char *buf = malloc(cap);
    assert_non_null(buf);
    len += (size_t)snprintf(buf + len, cap - len, "%s", HDR);
    for (size_t i = 0; i < n; i++)
        len += (size_t)snprintf(buf + len, cap - len,
                                "%zu,2025-03-%02zu,%zu,%zu,%zu.25,c%zu,0.5,%s,%zu,%zu.5\n", i,
                                1 + i % 28, i % 50, i % 7, i % 300, i % 13,
                                oq_coupon_name((int)(i % 4)), i % 2, i % 100);
    oq_log *log = NULL;
    oq_error err = {0};
    assert_int_equal(oq_log_read_mem("big.csv", buf, len, &log, &err), 0);
    assert_int_equal(log->n, n);
    for (size_t i = 0; i < n; i += 997) {
        assert_int_equal(log->user_id[i], (int64_t)i);
        assert_float_equal(log->aov[i], (double)(i % 300) + 0.25, 0);
        assert_int_equal(log->coupon[i], i % 4);
        assert_float_equal(log->profit[i], (double)(i % 100) + 0.5, 0);
    }
    assert_int_equal(log->cats.n, 13);
    oq_log_free(log);
    free(buf);
}

/* Issue 21 item 10: a log of n rows in 2025 with stray rows in 2993.
 * Returns the buffer (free). Rows far (k in far[]) get the date 2993-12-23;
 * row 2 has a quoted category spanning two lines, so line != row + 2 after. */
static char *horizon_log(size_t n, const size_t *far, size_t nfar, size_t *len)
{
    size_t cap = 128 + n * 80, used = 0;
    char *b = malloc(cap);
    assert_non_null(b);
    used += (size_t)snprintf(b + used, cap - used, "%s", HDR);
    for (size_t i = 0; i < n; i++) {
        int f = 0;
        for (size_t k = 0; k < nfar; k++)
            f |= far[k] == i;
        char d[11];
        oq_date_format(f ? 374000 : 20089 + (int32_t)(i % 180), d); /* 2993 / 2025 */
        used += (size_t)snprintf(b + used, cap - used, "%zu,%s,3,2,45.50,%s,0.9,10,1,30.25\n", i, d,
                                 i == 2 ? "\"two\nlines\"" : "baby");
    }
    *len = used;
    return b;
}

static void test_date_horizon(void **state)
{
    (void)state;
    char d[11];
    oq_date_format(374000, d);
    assert_string_equal(d, "2993-12-23");
    /* the rule on plain dates: 1,000 dates over three years, one stray */
    int32_t day[1001];
    for (int i = 0; i < 1000; i++)
        day[i] = 20000 + i; /* 2024-10-04 .. 2027-06-30 */
    size_t idx[4], count;
    int32_t limit;
    assert_int_equal(oq_date_outliers(day, 1000, &limit, &count, idx, 4), 0);
    assert_int_equal(count, 0);
    day[1000] = 374000;
    assert_int_equal(oq_date_outliers(day, 1001, &limit, &count, idx, 4), 0);
    assert_int_equal(count, 1);
    assert_int_equal(idx[0], 1000);
    assert_int_equal(limit, 20999 + OQ_DATE_HORIZON_DAYS);
    day[999] = 20999 + OQ_DATE_HORIZON_DAYS; /* on the horizon: kept */
    assert_int_equal(oq_date_outliers(day, 1001, &limit, &count, idx, 4), 0);
    assert_int_equal(count, 1);
    /* two strays in a log of 2,000 rows: refused, both lines named */
    size_t far[2] = {3, 7}, len;
    char *b = horizon_log(2000, far, 2, &len);
    oq_log *log = NULL;
    oq_error err = {0};
    assert_int_equal(oq_log_read_mem("h.csv", b, len, &log, &err), OQ_EPARSE);
    assert_null(log);
    assert_int_equal(err.line, 6); /* row 3 is on line 6: row 2 spans lines 4-5 */
    assert_int_equal(err.col, 2);
    assert_non_null(strstr(err.msg, "2993-12-23"));
    assert_non_null(strstr(err.msg, "2 rows beyond that horizon, at lines 6, 10"));
    free(b);
    /* the same log without them is read */
    b = horizon_log(2000, NULL, 0, &len);
    assert_int_equal(oq_log_read_mem("h.csv", b, len, &log, &err), 0);
    assert_int_equal(log->n, 2000);
    oq_log_free(log);
    free(b);
}

/* A part's read (comm.h) of a file: the date horizon is checked on every
 * row's date in constant memory (oq_day_hist) and gives the whole read's
 * error, line, column and message; a clean file's parts are its rows, split
 * by customer, with the whole file's dictionary. */
static void test_read_part(void **state)
{
    (void)state;
    char path[] = "/tmp/offerq-test-part-XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    size_t far[2] = {3, 1500}, len;
    for (int clean = 0; clean < 2; clean++) {
        char *b = horizon_log(2000, clean ? NULL : far, clean ? 0 : 2, &len);
        FILE *fp = fopen(path, "wb");
        assert_non_null(fp);
        assert_int_equal(fwrite(b, 1, len, fp), len);
        fclose(fp);
        free(b);
        oq_log *whole = NULL, *part = NULL;
        oq_error e1 = {0}, e2 = {0};
        int rc = oq_log_read(path, &whole, &e1);
        assert_int_equal(rc, clean ? 0 : OQ_EPARSE);
        for (int n = 2; n <= 3; n++) {
            size_t rows = 0;
            for (int r = 0; r < n; r++) {
                oq_part pt = {.rank = r, .size = n};
                assert_int_equal(oq_log_read_part(path, &pt, &part, &e2), rc);
                if (!clean) {
                    assert_null(part);
                    assert_int_equal(e2.line, e1.line);
                    assert_int_equal(e2.col, e1.col);
                    assert_string_equal(e2.msg, e1.msg);
                    continue;
                }
                rows += part->n;
                assert_int_equal(part->cats.n, whole->cats.n);
                for (uint32_t k = 0; k < part->cats.n; k++)
                    assert_string_equal(part->cats.names[k], whole->cats.names[k]);
                for (size_t i = 0; i < part->n; i++)
                    assert_int_equal(oq_shard_of(part->user_id[i], n), (unsigned)r);
                oq_log_free(part);
            }
            if (clean) assert_int_equal(rows, whole->n);
        }
        if (!clean)
            assert_non_null(strstr(e1.msg, "2 rows beyond that horizon, at lines 6, 1503 "));
        oq_log_free(whole);
    }
    unlink(path);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good_log),
        cmocka_unit_test(test_date_horizon),
        cmocka_unit_test(test_accepted_variants),
        cmocka_unit_test(test_bad_inputs),
        cmocka_unit_test(test_nul_byte),
        cmocka_unit_test(test_error_self_format),
        cmocka_unit_test(test_header_map),
        cmocka_unit_test(test_wbuf),
        cmocka_unit_test(test_file_errors),
        cmocka_unit_test(test_dates),
        cmocka_unit_test(test_dict),
        cmocka_unit_test(test_index),
        cmocka_unit_test(test_events),
        cmocka_unit_test(test_read_part),
        cmocka_unit_test(test_large_roundtrip),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
