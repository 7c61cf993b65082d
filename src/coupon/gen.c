/* gen.c - ground-truth log generator. The story is in include/offerq/coupon/gen.h. */
#include "util/json.h"
#include "offerq/coupon/gen.h"
#include "offerq/core/data.h"
#include "offerq/core/io.h"
#include "offerq/core/rng.h"

#include <gsl/gsl_randist.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Categories past the 16 named ones repeat their value and margin (gen.h). */
static const char *cat_names[OQ_GEN_MAX_CATS] = {
    "electronics",   "fashion",   "beauty",        "baby",      "home",          "grocery",
    "sports",        "books",     "toys",          "garden",    "pets",          "auto",
    "music",         "office",    "health",        "travel",    "electronics-2", "fashion-2",
    "beauty-2",      "baby-2",    "home-2",        "grocery-2", "sports-2",      "books-2",
    "toys-2",        "garden-2",  "pets-2",        "auto-2",    "music-2",       "office-2",
    "health-2",      "travel-2",  "electronics-3", "fashion-3", "beauty-3",      "baby-3",
    "home-3",        "grocery-3", "sports-3",      "books-3",   "toys-3",        "garden-3",
    "pets-3",        "auto-3",    "music-3",       "office-3",  "health-3",      "travel-3",
    "electronics-4", "fashion-4", "beauty-4",      "baby-4",    "home-4",        "grocery-4",
    "sports-4",      "books-4",   "toys-4",        "garden-4",  "pets-4",        "auto-4",
    "music-4",       "office-4",  "health-4",      "travel-4"};
/* Order value multiplier and gross margin per category. */
static const double cat_value[OQ_GEN_NAMED_CATS] = {2.5, 1.2, 0.8, 1.0, 1.5, 0.5, 1.1, 0.6,
                                                    0.9, 1.3, 0.7, 1.8, 0.6, 0.8, 0.9, 2.0};
static const double cat_margin[OQ_GEN_NAMED_CATS] = {
    0.10, 0.40, 0.50, 0.30, 0.30, 0.15, 0.30, 0.25, 0.35, 0.30, 0.30, 0.12, 0.25, 0.30, 0.35, 0.15};

const char *oq_gen_category_name(int k)
{
    return cat_names[k];
}

/* Value multiplier and margin of category k (k mod the named ones). */
static double value_of(const oq_gen_config *cfg, int k)
{
    return cfg->cat_value[k % OQ_GEN_NAMED_CATS];
}

static double margin_of(const oq_gen_config *cfg, int k)
{
    return cfg->cat_margin[k % OQ_GEN_NAMED_CATS];
}

void oq_gen_config_default(oq_gen_config *c)
{
    memset(c, 0, sizeof *c);
    c->seed = 1;
    c->n_customers = 10000;
    oq_date_parse("2025-01-01", 10, &c->start_day);
    oq_date_parse("2025-06-30", 10, &c->end_day);
    c->snapshots = 7;
    c->birth_window = 90;
    c->r = 0.6;
    c->alpha = 20.0;
    c->a = 0.8;
    c->b = 2.5;
    const double mix[OQ_GEN_NTYPES] = {0.25, 0.40, 0.20, 0.15};
    memcpy(c->type_mix, mix, sizeof mix);
    const double plog[4] = {0.4, 0.2, 0.2, 0.2};
    memcpy(c->p_log, plog, sizeof plog);
    c->contact_effect = 1.0;
    c->drift = 0.03;
    c->budget_left_end = 0.15;
    c->n_cats = 8;
    memcpy(c->cat_value, cat_value, sizeof cat_value);
    memcpy(c->cat_margin, cat_margin, sizeof cat_margin);
    c->order_in_favourite = 0.8;
    c->aov_median = 100.0;
    c->aov_sigma = 0.5;
    const double intent[OQ_GEN_NTYPES] = {0.30, 0.03, 0.01, 0.25};
    memcpy(c->intent, intent, sizeof intent);
    c->sleeping_factor = 0.3;
    c->qmax_lo = 0.3;
    c->qmax_width = 0.3;
    c->sens_lo = 3;
    c->sens_width = 12;
    const double conc[OQ_GEN_NTYPES] = {0.75, 0.35, 0.6, 0.7};
    const double visit[OQ_GEN_NTYPES] = {0.5, 0.4, 0.15, 0.35};
    memcpy(c->conc, conc, sizeof conc);
    memcpy(c->visit, visit, sizeof visit);
    /* The default world's lasting effects (docs/readme/gen.md says why these
     * strengths). */
    c->lasting.lapse = 0.005;
    c->lasting.lapse_days = 30;
    c->lasting.deal = 0.3;
    c->lasting.deal_days = 30;
    c->lasting.weekly = 0.3;
    c->lasting.campaign_budget = 0;
    c->lasting.contact_rate = 0;
    c->write_events = 1;
    c->write_orders = 1;
}

void oq_gen_lasting_off(oq_gen_lasting *l)
{
    memset(l, 0, sizeof *l);
}

int oq_gen_config_check(const oq_gen_config *c, oq_error *err)
{
    int span = c->end_day - c->start_day + 1;
    if (c->n_customers < 1 || c->n_customers > 100000000)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "customers must be in [1, 1e8]");
    /* Written so that nothing overflows with any int from a truth file. */
    if (c->snapshots < 1 || c->snapshots > 64 || c->birth_window < 1 ||
        c->birth_window >= span - c->snapshots)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "the period (%d days) must be longer than birth window (%d) + "
                            "snapshots (%d)",
                            span, c->birth_window, c->snapshots);
    if (!(c->r > 0 && c->alpha > 0 && c->a > 0 && c->b > 0))
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "r, alpha, a, b must be > 0");
    if (c->n_cats < 2 || c->n_cats > OQ_GEN_MAX_CATS)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "categories must be in [2, %d]",
                            OQ_GEN_MAX_CATS);
    double s = 0, t = 0;
    for (int i = 0; i < 4; i++) {
        if (c->p_log[i] < 0 || c->type_mix[i] < 0)
            return oq_error_set(err, OQ_EINVAL, NULL, 0, 0, "probabilities must be >= 0");
        s += c->p_log[i];
        t += c->type_mix[i];
    }
    if (fabs(s - 1) > 1e-9 || fabs(t - 1) > 1e-9)
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "logging propensities and type mix must each sum to 1");
    if (!(c->contact_effect >= 0 && c->drift >= 0 && c->drift <= 1 && c->budget_left_end >= 0 &&
          c->budget_left_end < 1))
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "contact effect, drift or budget out of range");
    const oq_gen_lasting *L = &c->lasting;
    if (!(L->lapse >= 0 && L->lapse <= 1 && (L->lapse == 0 || L->lapse_days > 0) && L->deal >= 0 &&
          (L->deal == 0 || L->deal_days > 0) && L->weekly >= 0 && L->weekly < 1 &&
          L->campaign_budget >= 0 && L->contact_rate >= 0 && L->contact_rate <= 1))
        return oq_error_set(
            err, OQ_EINVAL, NULL, 0, 0,
            "lasting effects out of range (lapse and contact_rate in [0, 1], "
            "weekly in [0, 1), lapse_days and deal_days > 0 where their effect is on)");
    if (!(c->order_in_favourite >= 0 && c->order_in_favourite <= 1 && c->aov_median > 0 &&
          c->aov_sigma >= 0 && c->sens_lo > 0 && c->qmax_lo + c->qmax_width <= 1 &&
          c->lead_days >= 0 && c->lead_days <= OQ_GEN_MAX_LEAD))
        return oq_error_set(err, OQ_EINVAL, NULL, 0, 0,
                            "order_in_favourite, aov or persuadable parameters out of range");
    return 0;
}

/* Whether a persuadable customer can be moved today (types.persuadable.
 * lead_days): they browsed lead_days days ago. `browsed`: bit j = j + 1 days
 * ago. Always with lead_days 0. */
static int ready(const oq_gen_config *cfg, uint64_t browsed)
{
    return cfg->lead_days == 0 || (browsed >> (cfg->lead_days - 1) & 1);
}

/* Contact-day intent of a customer of a given type shown coupon c (gen.h);
 * rdy: ready() on that day. */
static double contact_intent(const oq_gen_config *cfg, const oq_gen_customer *cu, int c, int rdy)
{
    double v = oq_coupon_value(c), q;
    const double *in = cfg->intent;
    switch (cu->type) {
    case OQ_GEN_PERSUADABLE:
        q = rdy ? in[1] + (cu->qmax - in[1]) * (1 - exp(-v / cu->sens)) : in[1];
        break;
    case OQ_GEN_SLEEPING:
        q = c ? in[3] * cfg->sleeping_factor : in[3];
        break;
    default:
        q = in[cu->type];
        break;
    }
    q *= cfg->contact_effect;
    return q > 1 ? 1 : q;
}

static double expected_gross(const oq_gen_config *cfg, const oq_gen_customer *cu, int fav)
{
    double e = 0;
    for (int k = 0; k < cfg->n_cats; k++) {
        double f = cfg->order_in_favourite;
        double pk = (1 - f) / cfg->n_cats + (k == fav ? f : 0);
        e += pk * value_of(cfg, k) * margin_of(cfg, k);
    }
    return cu->aov * e;
}

/* Weekday rhythm of the order rate (lasting.weekly). */
static double week_factor(const oq_gen_config *cfg, int32_t day)
{
    if (cfg->lasting.weekly == 0) return 1;
    int dow = ((day % 7) + 7) % 7;
    return 1 + cfg->lasting.weekly * sin(2 * M_PI * dow / 7.0);
}

/* Probability of a natural (full-price) order on day for a living customer
 * with deal stock `deal` (gen.h, lasting). With every effect off this is
 * 1 - exp(-lambda) to the bit. */
static double natural_p(const oq_gen_config *cfg, const oq_gen_customer *cu, int32_t day,
                        double deal)
{
    double lam = cu->lambda * week_factor(cfg, day);
    if (cfg->lasting.deal > 0) lam *= exp(-cfg->lasting.deal * deal);
    return 1 - exp(-lam);
}

/* Daily probability of lapsing for good after t days without an order. */
static double lapse_hazard(const oq_gen_config *cfg, int32_t t)
{
    return cfg->lasting.lapse * (1 - exp(-(double)t / cfg->lasting.lapse_days));
}

static double deal_decay(const oq_gen_config *cfg)
{
    return exp(-1.0 / cfg->lasting.deal_days);
}

/* Expected order probability, net reward and spend of coupon c on a day
 * with natural order probability pn, favourite fav, ready() rdy (pn = 0: not
 * alive). */
static void expected_day(const oq_gen_config *cfg, const oq_gen_customer *cu, int alive, double pn,
                         int fav, int rdy, int c, double *p_order, double *reward, double *spend)
{
    double q = alive ? contact_intent(cfg, cu, c, rdy) : 0;
    double p = 1 - (1 - (alive ? pn : 0)) * (1 - q);
    double v = oq_coupon_value(c);
    *p_order = p;
    *reward = p * (expected_gross(cfg, cu, fav) - v);
    *spend = p * v;
}

void oq_gen_expected(const oq_gen_config *cfg, const oq_gen_customer *cu, int c, double *p_order,
                     double *reward, double *spend)
{
    int alive = cu->death_day > cfg->end_day + 1;
    double pn = natural_p(cfg, cu, cfg->end_day + 1, cu->deal_stock);
    expected_day(cfg, cu, alive, pn, cu->favourite_next, ready(cfg, cu->browsed), c, p_order,
                 reward, spend);
}

/* ---- simulation of one customer ----------------------------------------- */

typedef struct logrow {
    int32_t day, days_since, p30;
    double aov;
    int cat, coupon, order;
    double profit;
    int fav, alive, rdy; /* truth on the contact day (oq_gen_contact_truth) */
    double pn;           /* natural order probability that day */
} logrow;

typedef struct purchase {
    int32_t day;
    double value;
} purchase;

typedef struct evrow {
    int32_t day;
    int cat;
} evrow;

/* Per-thread scratch that one customer's simulation fills. */
typedef struct sim_buf {
    logrow rows[64];
    int nrows;
    purchase *buys;
    int nbuys, capbuys;
    evrow *evs;
    int nevs, capevs;
    double *spend; /* (span) redeemed coupon value by day offset, or NULL */
} sim_buf;

static int push_buy(sim_buf *b, int32_t day, double value)
{
    if (b->nbuys == b->capbuys) {
        int cap = b->capbuys ? b->capbuys * 2 : 64;
        purchase *p = realloc(b->buys, (size_t)cap * sizeof *p);
        if (!p) return OQ_ENOMEM;
        b->buys = p;
        b->capbuys = cap;
    }
    b->buys[b->nbuys++] = (purchase){day, value};
    return 0;
}

static int push_ev(sim_buf *b, int32_t day, int cat)
{
    if (b->nevs == b->capevs) {
        int cap = b->capevs ? b->capevs * 2 : 256;
        evrow *p = realloc(b->evs, (size_t)cap * sizeof *p);
        if (!p) return OQ_ENOMEM;
        b->evs = p;
        b->capevs = cap;
    }
    b->evs[b->nevs++] = (evrow){day, cat};
    return 0;
}

static int draw_type(const oq_gen_config *cfg, double u)
{
    double acc = 0;
    for (int t = 0; t < OQ_GEN_NTYPES - 1; t++) {
        acc += cfg->type_mix[t];
        if (u < acc) return t;
    }
    return OQ_GEN_NTYPES - 1;
}

static int draw_coupon(const oq_gen_config *cfg, double u)
{
    double acc = 0;
    for (int c = 0; c < 3; c++) {
        acc += cfg->p_log[c];
        if (u < acc) return c;
    }
    return 3;
}

static int cmp_i32(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Simulate customer idx from birth to end_day + 1. Fills cu and, if b is not
 * NULL, the rows, purchases, events and daily spend of b; if lv is not NULL,
 * the state at the start of end_day + 1. With every lasting effect off the
 * draws are exactly those of the generator before they existed. */
static int simulate(const oq_gen_config *cfg, long idx, gsl_rng *rng, oq_gen_customer *cu,
                    sim_buf *b, oq_gen_live *lv)
{
    oq_rng_seed(rng, cfg->seed, (uint64_t)idx);
    memset(cu, 0, sizeof *cu);
    cu->user_id = idx + 1;
    cu->lambda = gsl_ran_gamma(rng, cfg->r, 1.0 / cfg->alpha);
    cu->p = gsl_ran_beta(rng, cfg->a, cfg->b);
    cu->type = draw_type(cfg, gsl_rng_uniform(rng));
    cu->sens = cfg->sens_lo + cfg->sens_width * gsl_rng_uniform(rng);
    cu->qmax = cfg->qmax_lo + cfg->qmax_width * gsl_rng_uniform(rng);
    cu->conc = cfg->conc[cu->type];
    cu->visit = cfg->visit[cu->type] * (0.7 + 0.6 * gsl_rng_uniform(rng));
    cu->aov = cfg->aov_median * exp(cfg->aov_sigma * gsl_ran_gaussian(rng, 1.0));
    cu->birth_day =
        cfg->start_day + (int32_t)gsl_rng_uniform_int(rng, (unsigned long)cfg->birth_window);
    cu->death_day = INT32_MAX;
    int K = cfg->n_cats;
    int fav = (int)gsl_rng_uniform_int(rng, (unsigned long)K);

    /* Contact days: `snapshots` distinct days in (birth, end], Floyd's sampling. */
    int S = cfg->snapshots;
    int32_t snap[64] = {0};
    int32_t lo = cu->birth_day + 1, n_days = cfg->end_day - lo + 1;
    int ns = 0;
    for (int32_t j = n_days - S; j < n_days; j++) {
        int32_t t = (int32_t)gsl_rng_uniform_int(rng, (unsigned long)j + 1);
        int dup = 0;
        for (int k = 0; k < ns; k++)
            dup |= snap[k] == lo + t;
        snap[ns++] = lo + (dup ? j : t);
    }
    qsort(snap, (size_t)ns, sizeof *snap, cmp_i32);

    if (b) {
        b->nrows = 0;
        b->nbuys = 0;
        b->nevs = 0;
    }
    const oq_gen_lasting *L = &cfg->lasting;
    int alive = 1, next_snap = 0, nbuys = 0;
    int32_t last = cu->birth_day;
    double sum_value = 0, deal = 0;
    int32_t recent[64]; /* ring of the latest purchase days, for purchases_last_30d */
    int nrecent = 0;
    uint64_t browsed_bits = 0; /* bit j: browsed j + 1 days ago (lead_days) */
    for (int32_t d = cu->birth_day; d <= cfg->end_day + 1; d++) {
        if (d > cu->birth_day && gsl_rng_uniform(rng) < cfg->drift)
            fav = (int)gsl_rng_uniform_int(rng, (unsigned long)K);
        if (d == cfg->end_day + 1) break;
        int contact = next_snap < ns && snap[next_snap] == d;
        int coupon = 0, buy;
        double pn = natural_p(cfg, cu, d, deal);
        if (d == cu->birth_day) {
            buy = 1;
        } else {
            buy = alive && gsl_rng_uniform(rng) < pn;
            if (contact) {
                coupon = draw_coupon(cfg, gsl_rng_uniform(rng));
                double q = alive ? contact_intent(cfg, cu, coupon, ready(cfg, browsed_bits)) : 0;
                if (gsl_rng_uniform(rng) < q) buy = 1;
            }
        }
        /* The day's browsing: always on a purchase day, else by visit rate. */
        double u_visit = gsl_rng_uniform(rng);
        int browsed = buy || u_visit < (alive ? cu->visit : 0.1 * cu->visit);
        int bcat =
            gsl_rng_uniform(rng) < cu->conc ? fav : (int)gsl_rng_uniform_int(rng, (unsigned long)K);
        int ocat = fav;
        double value = 0;
        if (buy) {
            if (gsl_rng_uniform(rng) >= cfg->order_in_favourite)
                ocat = (int)gsl_rng_uniform_int(rng, (unsigned long)K);
            value = cu->aov * value_of(cfg, ocat) * exp(0.3 * gsl_ran_gaussian(rng, 1.0) - 0.045);
            bcat = ocat;
        }
        if (contact) {
            int p30 = 0;
            for (int k = 0; k < nrecent; k++)
                p30 += d - recent[k] <= 30;
            if (b) {
                logrow *row = &b->rows[b->nrows++];
                row->day = d;
                row->days_since = d - last;
                row->p30 = p30;
                row->aov = sum_value / nbuys;
                row->cat = bcat;
                row->coupon = coupon;
                row->order = buy;
                row->profit = buy ? value * margin_of(cfg, ocat) : 0;
                row->fav = fav;
                row->alive = alive;
                row->rdy = ready(cfg, browsed_bits);
                row->pn = pn;
                if (buy && coupon && b->spend)
                    b->spend[d - cfg->start_day] += oq_coupon_value(coupon);
            }
            next_snap++;
        }
        if (browsed && b && d >= cfg->start_day && push_ev(b, d, bcat)) return OQ_ENOMEM;
        browsed_bits = browsed_bits << 1 | (uint64_t)(browsed != 0);
        if (buy) {
            if (b && push_buy(b, d, value)) return OQ_ENOMEM;
            nbuys++;
            sum_value += value;
            last = d;
            recent[nrecent % 64] = d;
            nrecent = nrecent < 64 ? nrecent + 1 : 64;
            if (contact && coupon) deal += 1; /* a redeemed coupon */
            /* BG/NBD: drop out with probability p after each repeat purchase. */
            if (d > cu->birth_day && gsl_rng_uniform(rng) < cu->p) {
                alive = 0;
                cu->death_day = d + 1;
            }
        } else if (alive && L->lapse > 0 && gsl_rng_uniform(rng) < lapse_hazard(cfg, d - last)) {
            alive = 0; /* lapsed after d - last days without an order */
            cu->death_day = d + 1;
        }
        if (L->deal > 0) deal *= deal_decay(cfg);
    }
    cu->n_purchases = nbuys;
    cu->last_purchase = last;
    cu->favourite_next = fav;
    cu->deal_stock = deal;
    cu->browsed = browsed_bits;
    if (lv) {
        lv->cu = *cu;
        lv->alive = alive;
        lv->last = last;
        lv->nbuys = nbuys;
        lv->sum_value = sum_value;
        memcpy(lv->recent, recent, sizeof recent);
        lv->nrecent = nrecent;
        lv->fav = fav;
        lv->deal_stock = deal;
        lv->browsed = browsed_bits;
    }
    return 0;
}

int oq_gen_customer_truth(const oq_gen_config *cfg, long idx, oq_gen_customer *out)
{
    gsl_rng *rng = oq_rng_new(cfg->seed, 0);
    if (!rng) return OQ_ENOMEM;
    int rc = simulate(cfg, idx, rng, out, NULL, NULL);
    gsl_rng_free(rng);
    return rc;
}

int oq_gen_contact_truth(const oq_gen_config *cfg, long idx, int32_t *day, double *reward,
                         double *spend, int *nrows)
{
    *nrows = 0;
    gsl_rng *rng = oq_rng_new(cfg->seed, 0);
    sim_buf b;
    memset(&b, 0, sizeof b);
    oq_gen_customer cu;
    int rc = rng ? simulate(cfg, idx, rng, &cu, &b, NULL) : OQ_ENOMEM;
    for (int k = 0; !rc && k < b.nrows; k++) {
        const logrow *r = &b.rows[k];
        /* The contact-day order model of simulate(): natural purchase or
         * contact intent, value and margin by the order category. */
        day[k] = r->day;
        for (int c = 0; c < 4; c++) {
            double p;
            expected_day(cfg, &cu, r->alive, r->pn, r->fav, r->rdy, c, &p, &reward[k * 4 + c],
                         &spend[k * 4 + c]);
        }
    }
    if (!rc) *nrows = b.nrows;
    gsl_rng_free(rng);
    free(b.buys);
    free(b.evs);
    return rc;
}

/* ---- after the log ------------------------------------------------------ */

int oq_gen_live_init(const oq_gen_config *cfg, long idx, oq_gen_live *out)
{
    gsl_rng *rng = oq_rng_new(cfg->seed, 0);
    if (!rng) return OQ_ENOMEM;
    oq_gen_customer cu;
    int rc = simulate(cfg, idx, rng, &cu, NULL, out);
    gsl_rng_free(rng);
    return rc;
}

double oq_gen_contact_rate(const oq_gen_config *cfg)
{
    if (cfg->lasting.contact_rate > 0) return cfg->lasting.contact_rate;
    /* The log's own rate: snapshots over the mean number of days after birth. */
    double span = cfg->end_day - cfg->start_day + 1;
    double after_birth = span - (cfg->birth_window + 1) / 2.0;
    return after_birth > cfg->snapshots ? cfg->snapshots / after_birth : 1;
}

/* The (customer, day) stream of the days after the log. */
static void seed_day(const oq_gen_config *cfg, long idx, int32_t day, gsl_rng *rng)
{
    oq_rng_seed(rng, cfg->seed ^ oq_mix64(0x6f66666572716cULL + (uint64_t)(int64_t)day),
                (uint64_t)idx);
}

int oq_gen_live_contacted(const oq_gen_config *cfg, long idx, int32_t day, gsl_rng *rng)
{
    seed_day(cfg, idx, day, rng);
    return gsl_rng_uniform(rng) < oq_gen_contact_rate(cfg);
}

void oq_gen_live_expected(const oq_gen_config *cfg, const oq_gen_live *live, int32_t day, int c,
                          double *p_order, double *reward, double *spend)
{
    double pn = natural_p(cfg, &live->cu, day, live->deal_stock);
    if (c >= 0) {
        expected_day(cfg, &live->cu, live->alive, pn, live->fav, ready(cfg, live->browsed), c,
                     p_order, reward, spend);
        return;
    }
    /* Not reached: natural orders only. */
    *p_order = live->alive ? pn : 0;
    *reward = *p_order * expected_gross(cfg, &live->cu, live->fav);
    *spend = 0;
}

void oq_gen_live_step(const oq_gen_config *cfg, long idx, oq_gen_live *lv, int32_t day, int contact,
                      int c, gsl_rng *rng, oq_gen_outcome *out)
{
    const oq_gen_customer *cu = &lv->cu;
    unsigned long K = (unsigned long)cfg->n_cats;
    /* Every draw of the day, in a fixed order whatever happens, so that two
     * policies see the same world (common random numbers). */
    seed_day(cfg, idx, day, rng);
    (void)gsl_rng_uniform(rng); /* oq_gen_live_contacted's draw */
    double u_nat = gsl_rng_uniform(rng);
    double u_intent = gsl_rng_uniform(rng), u_visit = gsl_rng_uniform(rng);
    double u_bcat = gsl_rng_uniform(rng);
    int k_bcat = (int)gsl_rng_uniform_int(rng, K);
    double u_ocat = gsl_rng_uniform(rng);
    int k_ocat = (int)gsl_rng_uniform_int(rng, K);
    double z_value = gsl_ran_gaussian(rng, 1.0);
    double u_drop = gsl_rng_uniform(rng), u_lapse = gsl_rng_uniform(rng);
    double u_drift = gsl_rng_uniform(rng);
    int k_drift = (int)gsl_rng_uniform_int(rng, K);

    memset(out, 0, sizeof *out);
    out->contact = contact;
    out->coupon = out->contact ? c : 0;
    out->days_since = day - lv->last;
    for (int k = 0; k < lv->nrecent; k++)
        out->p30 += day - lv->recent[k] <= 30;
    out->aov = lv->nbuys ? lv->sum_value / lv->nbuys : 0;

    int buy = lv->alive && u_nat < natural_p(cfg, cu, day, lv->deal_stock);
    if (out->contact && lv->alive &&
        u_intent < contact_intent(cfg, cu, out->coupon, ready(cfg, lv->browsed)))
        buy = 1;
    out->browsed = buy || u_visit < (lv->alive ? cu->visit : 0.1 * cu->visit);
    out->bcat = u_bcat < cu->conc ? lv->fav : k_bcat;
    if (buy) {
        int ocat = u_ocat >= cfg->order_in_favourite ? k_ocat : lv->fav;
        out->order = 1;
        out->value = cu->aov * value_of(cfg, ocat) * exp(0.3 * z_value - 0.045);
        out->profit = out->value * margin_of(cfg, ocat);
        out->bcat = ocat;
        lv->nbuys++;
        lv->sum_value += out->value;
        lv->last = day;
        /* The ring keeps the latest 64 days in any order: only counts are read. */
        lv->recent[lv->nrecent < 64 ? lv->nrecent : (lv->nbuys - 1) % 64] = day;
        lv->nrecent = lv->nrecent < 64 ? lv->nrecent + 1 : 64;
        if (out->coupon) lv->deal_stock += 1;
        if (u_drop < cu->p) lv->alive = 0;
    } else if (lv->alive && cfg->lasting.lapse > 0 && u_lapse < lapse_hazard(cfg, day - lv->last)) {
        lv->alive = 0;
    }
    if (cfg->lasting.deal > 0) lv->deal_stock *= deal_decay(cfg);
    if (u_drift < cfg->drift) lv->fav = k_drift;
    lv->browsed = lv->browsed << 1 | (uint64_t)(out->browsed != 0);
}

/* ---- writing ----------------------------------------------------------- */

/* The truth sidecar: the seed and the whole world (world.c), from which
 * every customer can be re-simulated. */
static int write_truth(const oq_gen_config *c, const char *path, oq_error *err)
{
    json_t *world = oq_gen_world_json(c);
    json_t *root = world ? json_pack("{s:s, s:I, s:o}", "generator", "offerq gen 2", "seed",
                                     (json_int_t)c->seed, "world", world)
                         : NULL;
    int rc = oq_json_write_atomic(path, root, err);
    json_decref(root);
    return rc;
}

/* A truth file of offerq before the world file ("offerq gen 1"): flat keys,
 * no lasting effects. */
static int load_truth_v1(json_t *root, const char *path, oq_gen_config *c, oq_error *err)
{
    json_error_t je;
    json_int_t seed = 0, n = 0;
    const char *d0 = NULL, *d1 = NULL;
    oq_gen_lasting_off(&c->lasting);
    int rc = json_unpack_ex(
        root, &je, 0,
        "{s:I, s:I, s:s, s:s, s:i, s:i, s:{s:F, s:F, s:F, s:F}, s:[FFFF], s:[FFFF], s:F,"
        " s:F, s:F, s:i}",
        "seed", &seed, "customers", &n, "start", &d0, "end", &d1, "snapshots", &c->snapshots,
        "birth_window", &c->birth_window, "bgnbd", "r", &c->r, "alpha", &c->alpha, "a", &c->a, "b",
        &c->b, "type_mix", &c->type_mix[0], &c->type_mix[1], &c->type_mix[2], &c->type_mix[3],
        "logging_propensity", &c->p_log[0], &c->p_log[1], &c->p_log[2], &c->p_log[3],
        "contact_effect", &c->contact_effect, "drift", &c->drift, "budget_left_end",
        &c->budget_left_end, "categories", &c->n_cats);
    if (rc)
        return oq_error_set(err, OQ_EPARSE, path, je.line, je.column, "not a truth file: %s",
                            je.text);
    if (oq_date_parse(d0, strlen(d0), &c->start_day) || oq_date_parse(d1, strlen(d1), &c->end_day))
        return oq_error_set(err, OQ_EPARSE, path, 0, 0, "bad start or end date");
    c->seed = (uint64_t)seed;
    c->n_customers = (long)n;
    return oq_gen_config_check(c, err);
}

int oq_gen_config_load(const char *path, oq_gen_config *c, oq_error *err)
{
    json_error_t je;
    json_t *root = json_load_file(path, 0, &je);
    if (!root) return oq_error_set(err, OQ_EPARSE, path, je.line, je.column, "%s", je.text);
    oq_gen_config_default(c);
    int rc;
    json_t *world = json_object_get(root, "world"), *seed = json_object_get(root, "seed");
    if (!world) {
        rc = load_truth_v1(root, path, c, err);
    } else if (!json_is_integer(seed)) {
        rc = oq_error_set(err, OQ_EPARSE, path, 0, 0, "not a truth file: no integer \"seed\"");
    } else {
        c->seed = (uint64_t)json_integer_value(seed);
        rc = oq_gen_world_apply(world, path, c, err);
    }
    json_decref(root);
    return rc;
}

int oq_gen_write(const oq_gen_config *cfg, const char *log_path, oq_error *err)
{
    int rc = oq_gen_config_check(cfg, err);
    if (rc) return rc;
    char ev_path[4096], or_path[4096], tr_path[4096];
    if (oq_sidecar_path(log_path, ".events.csv", ev_path, sizeof ev_path) ||
        oq_sidecar_path(log_path, ".orders.csv", or_path, sizeof or_path) ||
        oq_sidecar_path(log_path, ".truth.json", tr_path, sizeof tr_path))
        return oq_error_set(err, OQ_EINVAL, log_path, 0, 0, "path too long");
    int span = cfg->end_day - cfg->start_day + 1;
    oq_afile flog = {0}, fev = {0}, ford = {0};
    sim_buf b;
    memset(&b, 0, sizeof b);
    double *budget_pct = NULL;
    gsl_rng *rng = oq_rng_new(cfg->seed, 0);
    b.spend = calloc((size_t)span, sizeof *b.spend);
    budget_pct = calloc((size_t)span, sizeof *budget_pct);
    if (!rng || !b.spend || !budget_pct) {
        rc = oq_error_oom(err, log_path, NULL);
        goto cleanup;
    }
    oq_gen_customer cu;
    oq_progress pr;
    /* Pass 1: the daily coupon spend of all customers fixes the budget curve
     * (behaviour does not depend on the budget, so two passes agree). */
    oq_progress_start(&pr, "gen: budget", (double)cfg->n_customers, cfg->quiet);
    for (long i = 0; i < cfg->n_customers; i++) {
        if ((rc = simulate(cfg, i, rng, &cu, &b, NULL))) {
            oq_error_set(err, rc, log_path, 0, 0, "out of memory");
            goto cleanup;
        }
        if ((i & 4095) == 0) oq_progress_update(&pr, (double)i);
    }
    oq_progress_done(&pr);
    double total = 0;
    for (int d = 0; d < span; d++)
        total += b.spend[d];
    double budget = total > 0 ? total / (1 - cfg->budget_left_end) : 1;
    double cum = 0;
    for (int d = 0; d < span; d++) {
        budget_pct[d] = 1 - cum / budget;
        cum += b.spend[d];
    }
    free(b.spend);
    b.spend = NULL;

    if ((rc = oq_afile_open(&flog, log_path, err))) goto cleanup;
    if (cfg->write_events && (rc = oq_afile_open(&fev, ev_path, err))) goto cleanup;
    if (cfg->write_orders && (rc = oq_afile_open(&ford, or_path, err))) goto cleanup;
    fputs(OQ_LOG_HEADER "\n", flog.fp);
    if (fev.fp) {
        fputs("user_id,date,category\n", fev.fp);
    }
    if (ford.fp) {
        fputs("user_id,date,value\n", ford.fp);
    }
    oq_progress_start(&pr, "gen: write", (double)cfg->n_customers, cfg->quiet);
    char date[11];
    for (long i = 0; i < cfg->n_customers; i++) {
        if ((rc = simulate(cfg, i, rng, &cu, &b, NULL))) {
            oq_error_set(err, rc, log_path, 0, 0, "out of memory");
            goto cleanup;
        }
        long long uid = (long long)cu.user_id;
        for (int k = 0; k < b.nrows; k++) {
            const logrow *r = &b.rows[k];
            oq_date_format(r->day, date);
            fprintf(flog.fp, "%lld,%s,%d,%d,%.2f,%s,%.4f,%s,%d,%.2f\n", uid, date, r->days_since,
                    r->p30, r->aov, cat_names[r->cat], budget_pct[r->day - cfg->start_day],
                    oq_coupon_name(r->coupon), r->order, r->profit);
        }
        for (int k = 0; fev.fp && k < b.nevs; k++) {
            oq_date_format(b.evs[k].day, date);
            fprintf(fev.fp, "%lld,%s,%s\n", uid, date, cat_names[b.evs[k].cat]);
        }
        for (int k = 0; ford.fp && k < b.nbuys; k++) {
            oq_date_format(b.buys[k].day, date);
            fprintf(ford.fp, "%lld,%s,%.2f\n", uid, date, b.buys[k].value);
        }
        if ((i & 4095) == 0) oq_progress_update(&pr, (double)i);
    }
    oq_progress_done(&pr);
    /* Sidecars first, the log last: a log on disk always has its truth. */
    if ((rc = write_truth(cfg, tr_path, err))) goto cleanup;
    if (fev.fp && (rc = oq_afile_commit(&fev, err))) goto cleanup;
    if (ford.fp && (rc = oq_afile_commit(&ford, err))) goto cleanup;
    rc = oq_afile_commit(&flog, err);
cleanup:
    oq_afile_abort(&flog);
    oq_afile_abort(&fev);
    oq_afile_abort(&ford);
    gsl_rng_free(rng);
    free(b.spend);
    free(b.buys);
    free(b.evs);
    free(budget_pct);
    return rc;
}
