/* btyd_plot.c - BG/NBD, MBG/NBD and Pareto/NBD diagnostics (btyd.h): the frequency/recency and
 * P(alive) matrices, repeat purchases per customer against the model, and
 * cumulative repeat purchases tracked over time, with their SVG charts. */
#include "offerq/coupon/btyd.h"
#include "offerq/core/data.h"
#include "bgnbd_int.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* the model of BG/NBD parameters p */
static oq_btyd_model bg_model(const oq_bgnbd_params *p)
{
    return (oq_btyd_model){OQ_BTYD_BGNBD, {p->r, p->alpha, p->a, p->b}};
}

static int model_check(const oq_btyd_model *m, oq_error *err)
{
    if (m->kind == OQ_BTYD_BGNBD) {
        oq_bgnbd_params p = {m->par[0], m->par[1], m->par[2], m->par[3]};
        return oq_bgnbd_params_check(&p, err);
    }
    return oq_btyd_check(m, err);
}

int oq_btyd_grid(const oq_btyd_model *m, int what, int max_x, int max_tx, double T, double t,
                 double *out, oq_error *err)
{
    int rc = model_check(m, err);
    if (rc) return rc;
    if (max_x < 0 || max_tx < 0 || max_x > 100000 || max_tx > 100000 || !(T >= max_tx) ||
        !isfinite(T) || (what == OQ_BGNBD_GRID_EXPECTED && !(t >= 0 && isfinite(t))) ||
        (what != OQ_BGNBD_GRID_EXPECTED && what != OQ_BGNBD_GRID_ALIVE))
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "grid: need 0 <= max_x, max_tx <= 100000, T >= max_tx, t >= 0");
    for (int x = 0; x <= max_x; x++)
        for (int tx = 0; tx <= max_tx; tx++) {
            double *o = &out[(size_t)x * (size_t)(max_tx + 1) + (size_t)tx];
            if (what == OQ_BGNBD_GRID_ALIVE)
                *o = oq_btyd_p_alive(m, x, tx, T);
            else if ((rc = oq_btyd_expected(m, t, x, tx, T, o)))
                return oq_error_set(err, rc, NULL, 0, 0, "E[X(t)] failed at x=%d, t_x=%d", x, tx);
        }
    return 0;
}

int oq_bgnbd_grid(const oq_bgnbd_params *p, int what, int max_x, int max_tx, double T, double t,
                  double *out, oq_error *err)
{
    oq_btyd_model m = bg_model(p);
    return oq_btyd_grid(&m, what, max_x, max_tx, T, t, out, err);
}

int oq_btyd_period_counts(const oq_btyd_model *m, const oq_bgnbd_summary *s, int max_x,
                          double *actual, double *expected, oq_error *err)
{
    int rc = model_check(m, err);
    if (rc) return rc;
    if (max_x < 1 || max_x > 1000)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "max_x must be in 1..1000");
    memset(actual, 0, (size_t)(max_x + 1) * sizeof *actual);
    memset(expected, 0, (size_t)(max_x + 1) * sizeof *expected);
    for (size_t i = 0; i < s->n; i++) {
        double x = s->x[i];
        actual[x >= max_x ? max_x : (int)x] += 1;
        double below = 0;
        for (int k = 0; k < max_x; k++) {
            double pk = oq_btyd_p_n(m, s->T[i], k);
            if (!isfinite(pk))
                return oq_error_set(err, OQ_ENUM, NULL, 0, 0, "P(X(%g) = %d) failed (customer %zu)",
                                    s->T[i], k, i);
            expected[k] += pk;
            below += pk;
        }
        expected[max_x] += below < 1 ? 1 - below : 0;
    }
    return 0;
}

int oq_bgnbd_period_counts(const oq_bgnbd_params *p, const oq_bgnbd_summary *s, int max_x,
                           double *actual, double *expected, oq_error *err)
{
    oq_btyd_model m = bg_model(p);
    return oq_btyd_period_counts(&m, s, max_x, actual, expected, err);
}

void oq_bgnbd_tracking_free(oq_bgnbd_tracking *t)
{
    if (!t) return;
    free(t->actual);
    free(t->expected);
    memset(t, 0, sizeof *t);
}

typedef struct cday {
    int64_t user;
    int32_t day;
} cday;

static int cmp_cday(const void *a, const void *b)
{
    const cday *x = a, *y = b;
    if (x->user != y->user) return x->user < y->user ? -1 : 1;
    return (x->day > y->day) - (x->day < y->day);
}

int oq_btyd_tracking_build(const oq_btyd_model *m, const oq_bgnbd_tx *tx, double unit_days,
                           int32_t calibration_end, oq_bgnbd_tracking *out, oq_error *err)
{
    memset(out, 0, sizeof *out);
    int rc = model_check(m, err);
    if (rc) return rc;
    if (!(unit_days > 0) || tx->n == 0)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "tracking: need transactions and a time unit > 0");
    cday *v = malloc(tx->n * sizeof *v);
    if (!v) return oq_error_oom(err, NULL, NULL);
    int32_t lo = INT32_MAX, hi = INT32_MIN;
    for (size_t i = 0; i < tx->n; i++) {
        v[i] = (cday){tx->user[i], tx->day[i]};
        lo = tx->day[i] < lo ? tx->day[i] : lo;
        hi = tx->day[i] > hi ? tx->day[i] : hi;
    }
    if (calibration_end == OQ_BGNBD_NO_DATE) calibration_end = hi;
    qsort(v, tx->n, sizeof *v, cmp_cday);
    size_t nd = (size_t)(hi - lo) + 1;
    double *born = calloc(nd, sizeof *born); /* customers by first purchase day */
    double *ep = malloc(nd * sizeof *ep);    /* population E[X(d days)] */
    out->actual = calloc(nd, sizeof *out->actual);
    out->expected = calloc(nd, sizeof *out->expected);
    if (!born || !ep || !out->actual || !out->expected) {
        rc = oq_error_oom(err, NULL, NULL);
        goto cleanup;
    }
    out->first_day = lo;
    out->n_days = nd;
    out->calibration_end = calibration_end;
    /* Customers born by the calibration end (the population the model was
     * fitted on); their repeat purchase days (same-day purchases once). */
    for (size_t i = 0; i < tx->n;) {
        size_t j = i;
        int32_t first = v[i].day, last = first;
        if (first <= calibration_end) {
            born[first - lo] += 1;
            out->customers++;
        }
        for (; j < tx->n && v[j].user == v[i].user; j++)
            if (first <= calibration_end && v[j].day != last) {
                out->actual[v[j].day - lo] += 1;
                last = v[j].day;
            }
        i = j;
    }
    oq_bgnbd_params bp = {m->par[0], m->par[1], m->par[2], m->par[3]};
    for (size_t d = 0; d < nd; d++)
        if ((rc = m->kind == OQ_BTYD_BGNBD
                      ? oq_bgnbd_expected_pop(&bp, (double)d / unit_days, &ep[d])
                      : oq_btyd_expected(m, (double)d / unit_days, 0, 0, 0, &ep[d]))) {
            rc = oq_error_set(err, rc, NULL, 0, 0, "E[X(t)] failed at t = %zu days", d);
            goto cleanup;
        }
    /* expected[d]: repeat purchases expected by the end of day d, summed over
     * the cohorts of each first day c <= d: born[c] x E[X(d - c)]. */
    for (size_t d = 0; d < nd; d++) {
        double e = 0;
        for (size_t c = 0; c <= d; c++)
            if (born[c] > 0) e += born[c] * ep[d - c];
        out->expected[d] = e;
    }
    for (size_t d = 1; d < nd; d++)
        out->actual[d] += out->actual[d - 1];
cleanup:
    free(v);
    free(born);
    free(ep);
    if (rc) oq_bgnbd_tracking_free(out);
    return rc;
}

int oq_bgnbd_tracking_build(const oq_bgnbd_params *p, const oq_bgnbd_tx *tx, double unit_days,
                            int32_t calibration_end, oq_bgnbd_tracking *out, oq_error *err)
{
    oq_btyd_model m = bg_model(p);
    return oq_btyd_tracking_build(&m, tx, unit_days, calibration_end, out, err);
}

/* ---- SVG -------------------------------------------------------------------------- */

void oq_svg_text(FILE *fp, const char *s)
{
    for (const char *c = s ? s : ""; *c; c++) {
        if (*c == '<')
            fputs("&lt;", fp);
        else if (*c == '>')
            fputs("&gt;", fp);
        else if (*c == '&')
            fputs("&amp;", fp);
        else
            fputc(*c, fp);
    }
}

static void svg_head(FILE *fp, double w, double h, const char *title)
{
    fprintf(fp,
            "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%.0f\" height=\"%.0f\" "
            "font-family=\"sans-serif\" font-size=\"12\">\n"
            "<rect width=\"100%%\" height=\"100%%\" fill=\"white\"/>\n"
            "<text x=\"%.0f\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">",
            w, h, w / 2);
    oq_svg_text(fp, title);
    fputs("</text>\n", fp);
}

/* The x axis and 5 labelled horizontal grid lines from 0 to ymax. */
static void svg_frame(FILE *fp, double W, double H, double L, double R, double T, double B,
                      double ymax)
{
    fprintf(fp, "<line x1=\"%.0f\" y1=\"%.0f\" x2=\"%.0f\" y2=\"%.0f\" stroke=\"black\"/>\n", L,
            H - B, W - R, H - B);
    for (int i = 0; i <= 4; i++) {
        double y = H - B - (H - B - T) * i / 4;
        fprintf(fp, "<text x=\"%.0f\" y=\"%.1f\" text-anchor=\"end\">%.0f</text>\n", L - 6, y + 4,
                ymax * i / 4);
        fprintf(fp, "<line x1=\"%.0f\" y1=\"%.1f\" x2=\"%.0f\" y2=\"%.1f\" stroke=\"#ddd\"/>\n", L,
                y, W - R, y);
    }
}

/* Light yellow (0) to dark red (1), like matplotlib's YlOrRd. */
static void heat_color(double u, char out[8])
{
    static const unsigned char st[5][3] = {
        {255, 255, 204}, {254, 217, 118}, {253, 141, 60}, {227, 26, 28}, {128, 0, 38}};
    u = !(u >= 0) ? 0 : u > 1 ? 1 : u;
    double f = u * 4;
    int k = f >= 4 ? 3 : (int)f;
    double w = f - k;
    unsigned c[3];
    for (int i = 0; i < 3; i++)
        c[i] = (unsigned)lround(st[k][i] * (1 - w) + st[k + 1][i] * w);
    snprintf(out, 8, "#%02x%02x%02x", c[0] & 255u, c[1] & 255u, c[2] & 255u);
}

void oq_bgnbd_grid_svg(const double *grid, int max_x, int max_tx, const char *title,
                       const char *legend, FILE *fp)
{
    const double L = 70, T = 40, B = 60, cell = fmax(3, fmin(14, 560.0 / (max_tx + 1)));
    const double cw = cell, ch = fmax(3, fmin(14, 420.0 / (max_x + 1)));
    const double W = L + cw * (max_tx + 1) + 110, H = T + ch * (max_x + 1) + B;
    double vmax = 0;
    for (size_t i = 0; i < (size_t)(max_x + 1) * (size_t)(max_tx + 1); i++)
        if (isfinite(grid[i]) && grid[i] > vmax) vmax = grid[i];
    if (!(vmax > 0)) vmax = 1;
    svg_head(fp, W, H, title);
    char col[8];
    /* frequency grows downwards as in lifetimes' matrices: row 0 at the top */
    for (int x = 0; x <= max_x; x++)
        for (int tx = 0; tx <= max_tx; tx++) {
            double v = grid[(size_t)x * (size_t)(max_tx + 1) + (size_t)tx];
            heat_color(v / vmax, col);
            fprintf(fp,
                    "<rect class=\"cell\" x=\"%.1f\" y=\"%.1f\" width=\"%.2f\" height=\"%.2f\" "
                    "fill=\"%s\"><title>frequency %d, recency %d: %.4g</title></rect>\n",
                    L + cw * tx, T + ch * x, cw, ch, col, x, tx, v);
        }
    for (int tx = 0; tx <= max_tx; tx += max_tx >= 10 ? max_tx / 10 : 1)
        fprintf(fp, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">%d</text>\n",
                L + cw * (tx + 0.5), T + ch * (max_x + 1) + 16, tx);
    for (int x = 0; x <= max_x; x += max_x >= 10 ? max_x / 10 : 1)
        fprintf(fp, "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"end\">%d</text>\n", L - 6,
                T + ch * (x + 0.5) + 4, x);
    fprintf(fp,
            "<text x=\"%.1f\" y=\"%.1f\" text-anchor=\"middle\">customer's recency (time of the "
            "last purchase)</text>\n"
            "<text x=\"16\" y=\"%.1f\" transform=\"rotate(-90 16 %.1f)\" "
            "text-anchor=\"middle\">customer's frequency (repeat purchases)</text>\n",
            L + cw * (max_tx + 1) / 2, H - 16, T + ch * (max_x + 1) / 2, T + ch * (max_x + 1) / 2);
    /* colour scale */
    double sx = L + cw * (max_tx + 1) + 24, sh = ch * (max_x + 1);
    for (int i = 0; i < 20; i++) {
        heat_color(1 - i / 19.0, col);
        fprintf(fp, "<rect x=\"%.1f\" y=\"%.1f\" width=\"14\" height=\"%.2f\" fill=\"%s\"/>\n", sx,
                T + sh * i / 20, sh / 20 + 0.5, col);
    }
    fprintf(fp,
            "<text x=\"%.1f\" y=\"%.1f\">%.3g</text>\n<text x=\"%.1f\" y=\"%.1f\">0</text>\n"
            "<text x=\"%.1f\" y=\"%.1f\" font-size=\"11\">",
            sx + 18, T + 10, vmax, sx + 18, T + sh, sx - 4, T + sh + 18);
    oq_svg_text(fp, legend);
    fputs("</text>\n</svg>\n", fp);
}

void oq_bgnbd_period_svg(const double *actual, const double *expected, int max_x, const char *title,
                         FILE *fp)
{
    const double W = 640, H = 420, L = 70, R = 20, T = 40, B = 60;
    double ymax = 0;
    for (int k = 0; k <= max_x; k++)
        ymax = fmax(ymax, fmax(actual[k], expected[k]));
    ymax = ymax > 0 ? ymax * 1.1 : 1;
    svg_head(fp, W, H, title);
    svg_frame(fp, W, H, L, R, T, B, ymax);
    double gw = (W - L - R) / (max_x + 1), bw = gw * 0.38;
    for (int k = 0; k <= max_x; k++) {
        for (int s = 0; s < 2; s++) {
            double v = s ? expected[k] : actual[k], h = (H - B - T) * v / ymax;
            fprintf(fp,
                    "<rect class=\"%s\" x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" "
                    "fill=\"%s\"><title>%s, %d: %.1f</title></rect>\n",
                    s ? "model" : "actual", L + gw * k + gw * 0.1 + s * bw, H - B - h, bw, h,
                    s ? "#d62728" : "#1f77b4", s ? "model" : "actual", k, v);
        }
        fprintf(fp, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"middle\">%s%d</text>\n",
                L + gw * (k + 0.5), H - B + 18, k == max_x ? "&gt;=" : "", k);
    }
    fprintf(fp,
            "<text x=\"%.0f\" y=\"%.0f\" text-anchor=\"middle\">repeat purchases in the "
            "calibration period</text>\n"
            "<text x=\"16\" y=\"%.0f\" transform=\"rotate(-90 16 %.0f)\" "
            "text-anchor=\"middle\">customers</text>\n"
            "<text x=\"%.0f\" y=\"%.0f\" fill=\"#1f77b4\">actual</text>\n"
            "<text x=\"%.0f\" y=\"%.0f\" fill=\"#d62728\">BG/NBD: sum of P(X(T) = x) over the "
            "customers</text>\n</svg>\n",
            (L + W - R) / 2, H - 18, (T + H - B) / 2, (T + H - B) / 2, W - R - 330, T + 14,
            W - R - 330, T + 30);
}

void oq_bgnbd_tracking_svg(const oq_bgnbd_tracking *t, const char *title, FILE *fp)
{
    const double W = 640, H = 420, L = 70, R = 20, T = 40, B = 60;
    double ymax = 0;
    for (size_t d = 0; d < t->n_days; d++)
        ymax = fmax(ymax, fmax(t->actual[d], t->expected[d]));
    ymax = ymax > 0 ? ymax * 1.1 : 1;
    double span = t->n_days > 1 ? (double)(t->n_days - 1) : 1;
    svg_head(fp, W, H, title);
    svg_frame(fp, W, H, L, R, T, B, ymax);
    for (int s = 0; s < 2; s++) {
        fprintf(fp,
                "<polyline class=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\"%s points=\"",
                s ? "model" : "actual", s ? "#d62728" : "#1f77b4",
                s ? " stroke-dasharray=\"6 4\"" : "");
        /* at most ~600 points: one per pixel */
        size_t step = t->n_days > 600 ? t->n_days / 600 : 1;
        for (size_t d = 0; d < t->n_days; d += step)
            fprintf(fp, "%.1f,%.1f ", L + (W - L - R) * (double)d / span,
                    H - B - (H - B - T) * (s ? t->expected[d] : t->actual[d]) / ymax);
        fputs("\"/>\n", fp);
    }
    char date[11];
    for (int i = 0; i <= 4; i++) {
        size_t d = (size_t)lround(span * i / 4);
        oq_date_format(t->first_day + (int32_t)d, date);
        fprintf(fp, "<text x=\"%.1f\" y=\"%.0f\" text-anchor=\"%s\">%s</text>\n",
                L + (W - L - R) * (double)d / span, H - B + 18, i == 4 ? "end" : "middle", date);
    }
    if (t->calibration_end >= t->first_day &&
        t->calibration_end < t->first_day + (int32_t)t->n_days - 1) {
        double x = L + (W - L - R) * (double)(t->calibration_end - t->first_day) / span;
        fprintf(fp,
                "<line class=\"calibration-end\" x1=\"%.1f\" y1=\"%.0f\" x2=\"%.1f\" y2=\"%.0f\" "
                "stroke=\"#555\" stroke-dasharray=\"2 3\"/>\n"
                "<text x=\"%.1f\" y=\"%.0f\" font-size=\"11\">end of calibration</text>\n",
                x, T, x, H - B, x + 4, T + 50);
    }
    fprintf(fp,
            "<text x=\"16\" y=\"%.0f\" transform=\"rotate(-90 16 %.0f)\" "
            "text-anchor=\"middle\">cumulative repeat purchases</text>\n"
            "<text x=\"%.0f\" y=\"%.0f\" fill=\"#1f77b4\">actual</text>\n"
            "<text x=\"%.0f\" y=\"%.0f\" fill=\"#d62728\">BG/NBD expected (%.0f customers)</text>\n"
            "</svg>\n",
            (T + H - B) / 2, (T + H - B) / 2, L + 10, T + 14, L + 10, T + 30, t->customers);
}
