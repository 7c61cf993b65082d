/* cmd_uplift.c - `offerq uplift`: a targeting policy learnt from a shop's own
 * randomised campaign log, with off-policy estimates (include/offerq/coupon/uplift.h). */
#include "cli/cli.h"
#include "offerq/core/io.h"
#include "offerq/core/tables.h"
#include "offerq/core/csv.h"
#include "offerq/core/data.h"
#include "offerq/coupon/rawfeat.h"
#include "offerq/coupon/uplift.h"

#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void help(FILE *fp)
{
    fprintf(
        fp,
        "Usage: offerq uplift --contacts C.csv --customers U.csv --offers O.csv --out-dir DIR\n"
        "                     [--target T.csv] [--holdout H.csv] [options]\n\n"
        "Learns from a campaign log which offer to make to whom, and estimates from the\n"
        "log alone what that policy and every fixed offer are worth (no simulator).\n"
        "Inputs (CSV as real exports come: BOM, CRLF, quotes, no final newline):\n"
        "  C.csv  contacts  user_id,[date,]offer,ordered,value[,propensity]: one row per\n"
        "         contact; ordered 0/1 (or a count), value = the order's gross profit\n"
        "  U.csv  customers user_id + attribute columns (numbers, or text = categories)\n"
        "  O.csv  offers    offer,redeem_cost,contact_cost: the catalogue, any names\n"
        "Net reward of a contact: value - redeem_cost x ordered - contact_cost.\n"
        "Model: gradient-boosted trees (XGBoost) for P(order | attributes, offer) and for\n"
        "the order's value; expected profit of an offer = P (value - redeem_cost) -\n"
        "contact_cost; the policy shows the best (with --explore, a logged random draw).\n"
        "Estimates: IPS, self-normalised IPS and doubly robust value per contact, each\n"
        "with a 95 %% interval, of the learned policy and of every fixed offer,\n"
        "cross-fitted on C (2 folds by customer); with --holdout, also of the model\n"
        "learnt on all of C on the held-out contacts H. Without a propensity column\n"
        "the propensities are estimated as the offers' shares (said in the output:\n"
        "right for a randomised test). Qini coefficient of the \"any offer vs the\n"
        "control\" ranking and the calibration of P(order) by decile.\n"
        "Writes, each file atomically:\n"
        "  DIR/recommendations.csv  user_id,offer,expected_profit,propensity,\n"
        "                           expected_profit_<offer>... for EVERY customer of T\n"
        "                           (default: of U)\n"
        "  DIR/estimates.json       the estimates printed on stdout\n\n"
        "Options:\n"
        "  --target T.csv   customers to recommend for (same attribute columns as U)\n"
        "  --holdout H.csv  contacts of other customers (in U) to evaluate on\n"
        "  --columns MAP    the files' names of our columns, e.g.\n"
        "                   user_id=id,offer=test_coupon,ordered=trans_after\n"
        "  --ignore COLS    columns of U that are not attributes (comma-separated); the\n"
        "                   contact columns (offer, ordered, ...) never are\n"
        "  --control NAME   the offer that means \"no offer\" (default: none, if the\n"
        "                   catalogue has it); needed for the Qini coefficient\n"
        "  --explore E      share of customers shown a uniformly random offer (default\n"
        "                   0.05; 0 = none): keeps tomorrow's log evaluable\n"
        "  --budget X       total expected cost of the offers shown (default: no limit)\n"
        "  --trees N        boosting rounds (default 200; 400 with --orders or --events)\n"
        "  --tree-depth D   depth of each tree (default 3; 4 with --orders or --events)\n"
        "  --seed S         seed of the trees, folds and exploration (default 1)\n"
        "  --no-crossfit    skip the cross-fitted estimates (recommend only)\n"
        "  --select         choose the trees' depth and leaf sizes among 4 settings by\n"
        "                   the learned policy's cross-fitted DR value on C\n"
        "  --guard          show the best fixed offer to everyone when the learned\n"
        "                   policy's cross-fitted DR value does not beat it\n"
        "  --orders R.csv   every purchase: user_id,date,value[,category]; gives each\n"
        "                   contact recency, frequency, monetary value, tenure, BG/NBD\n"
        "                   P(alive) (fitted on the orders before the first contact) and\n"
        "                   the favourite category, as of the contact's date (the\n"
        "                   contacts then need a date column)\n"
        "  --events E.csv   the browsing stream: user_id,date,category; gives visits in\n"
        "                   the last K days, days since the last visit and the share of\n"
        "                   views in the favourite category, as of the contact's date\n"
        "  --visit-days K   the window of the visits_<K>d and orders_<K>d features\n"
        "                   (default 30)\n"
        "  --bgnbd-until D  fit BG/NBD on the orders before D: first (default: the\n"
        "                   first contact's day, nothing after the campaign starts), last\n"
        "                   (the day after the last contact: for a log whose contacts span\n"
        "                   its whole history; the 4 population parameters then see later\n"
        "                   orders) or a date YYYY-MM-DD\n"
        "  --history-features SET  what the trees learn from, of the features derived\n"
        "                   from the orders and events: compact (default: one per kind\n"
        "                   of evidence, as the log path's model) or full (also\n"
        "                   orders_before, tenure_days, days_since_visit, fav_share,\n"
        "                   browse_focus, which repeat the others)\n"
        "  --order-value V  the expected value of an order: gross (default: g of the\n"
        "                   gross-profit model fitted on the orders and events, where\n"
        "                   it exists; the value trees elsewhere) or trees (trees on\n"
        "                   the ordering contacts' value)\n"
        "  --discount-ladder  the offers other than the control are one discount at\n"
        "                   different depths (e.g. 5, 10, 20 off): P(order) may not fall\n"
        "                   as redeem_cost grows, and offers are told apart by their cost\n"
        "                   alone (each needs its own); not for a catalogue of different\n"
        "                   kinds (free shipping, a percentage, an e-mail variant)\n"
        "  --as-of DATE     the day recommendations are made for, YYYY-MM-DD (default:\n"
        "                   the day after the latest date of the contacts, orders, events)\n"
        "  --quiet          no progress on stderr\n\n"
        "Example:\n"
        "  # the Artea coupon A/B test as published (docs/readme/realdata.md)\n"
        "  offerq uplift --contacts ../shared/data/artea_ab.csv \\\n"
        "      --customers ../shared/data/artea_ab.csv --offers examples/artea_offers.csv \\\n"
        "      --columns user_id=id,offer=test_coupon,ordered=trans_after,value=revenue_after \\\n"
        "      --control 0 --target ../shared/data/artea_next.csv --out-dir example/artea\n");
}

/* Orders and events on the contacts path: the model's tables (one row per
 * contact, features as of its date) and the customers' as of the
 * recommendation day. */
typedef struct raw_tables {
    const char *orders_path, *events_path;
    int visit_days, has_asof;
    int32_t asof;
    int fit_until; /* 0: BG/NBD on the orders before the first contact; 1: the last; 2: date */
    int32_t fit_date;
    int full;        /* --history-features full: every derived feature (rawfeat.h) */
    int value_trees; /* --order-value trees: V from the value trees even with g */
    oq_txtab *ords, *evs;
    oq_rawfeat *rf;
    oq_customers *xc, *xh, *xn; /* NULL without orders and events */
} raw_tables;

static void raw_free(raw_tables *t)
{
    oq_customers_free(t->xc);
    oq_customers_free(t->xh);
    oq_customers_free(t->xn);
    oq_rawfeat_free(t->rf);
    oq_txtab_free(t->ords);
    oq_txtab_free(t->evs);
}

/* Returns 0, or the exit status after the message. who may be NULL (no
 * recommendations). */
static int raw_prepare(const char *cmd, raw_tables *t, const oq_table_map *mapp, int control,
                       int quiet, const oq_customers *cust, const oq_customers *who,
                       oq_contacts *ct, oq_contacts *ho)
{
    oq_error err = {0};
    oq_table_map map = *mapp;
    const char *orders_path = t->orders_path, *events_path = t->events_path;
    int visit_days = t->visit_days;
    int32_t asof = t->asof;
    if (!orders_path && !events_path) {
        const char *note = "no orders: no BG/NBD, P(alive) not used (no recency, frequency, "
                           "monetary value or browsing features either; give --orders, "
                           "--events)";
        printf("features: the customers' attributes only; %s\n", note);
        if (!quiet) fprintf(stderr, "offerq %s: %s\n", cmd, note);
        return 0;
    }
    if ((orders_path && oq_orders_table_read(orders_path, &map, &t->ords, &err)) ||
        (events_path && oq_events_table_read(events_path, &map, &t->evs, &err))) {
        return cli_fail(&err, "orders are user_id,date,value[,category]; events "
                              "user_id,date,category");
    }
    if (!ct->date || (ho && !ho->date)) {
        const oq_contacts *nd = !ct->date ? ct : ho;
        fprintf(stderr,
                "offerq: error: %s:1: the contacts have no date column (%s): with --orders "
                "or --events every contact needs its day, YYYY-MM-DD, so that its features "
                "come only from what happened before it\n",
                nd->path, map.date ? map.date : "date");
        return 1;
    }
    int32_t first = INT32_MAX, last = INT32_MIN;
    for (size_t i = 0; i < ct->n; i++) {
        if (ct->date[i] < first) first = ct->date[i];
        if (ct->date[i] > last) last = ct->date[i];
    }
    for (size_t i = 0; ho && i < ho->n; i++)
        if (ho->date[i] > last) last = ho->date[i];
    const oq_txtab *tabs[2] = {t->ords, t->evs};
    for (int k = 0; k < 2; k++)
        for (size_t i = 0; tabs[k] && i < tabs[k]->n; i++)
            if (tabs[k]->date[i] > last) last = tabs[k]->date[i];
    if (!t->has_asof) asof = last + 1;
    int32_t lastct = INT32_MIN; /* the model's contacts only, not the held-out ones */
    for (size_t i = 0; i < ct->n; i++)
        if (ct->date[i] > lastct) lastct = ct->date[i];
    int32_t fit_end = t->fit_until == 0 ? first : t->fit_until == 1 ? lastct + 1 : t->fit_date;
    if (t->fit_until) {
        char dd[11];
        oq_date_format(fit_end, dd);
        printf("BG/NBD on the orders before %s (--bgnbd-until): its 4 population parameters "
               "have seen orders after earlier contacts (each contact's own x, t_x, T still "
               "end before its date)\n",
               dd);
    }
    if (oq_rawfeat_new2(t->ords, t->evs, ct, ho, control, fit_end, visit_days, &t->rf, &err) ||
        (oq_rawfeat_set_features(t->rf, t->full ? OQ_RAWFEAT_FULL : OQ_RAWFEAT_COMPACT), 0) ||
        oq_rawfeat_contacts(t->rf, cust, ct, &t->xc, &err) ||
        (ho && oq_rawfeat_contacts(t->rf, cust, ho, &t->xh, &err)) ||
        (who && oq_rawfeat_customers(t->rf, who, asof, &t->xn, &err)))
        return cli_fail(&err, NULL);
    const oq_rawfeat_info *in = oq_rawfeat_info_get(t->rf);
    char d0[11], d1[11];
    oq_date_format(fit_end, d0);
    oq_date_format(asof, d1);
    printf("features from raw tables: %zu orders, %zu events, %zu categories; as of each "
           "contact's date; recommendations as of %s\n",
           t->ords ? t->ords->n : 0, t->evs ? t->evs->n : 0, in->ncat, d1);
    printf("  derived:");
    for (size_t k = cust->nattr; k < t->xc->nattr; k++)
        printf(" %s", t->xc->attr[k]);
    printf("\n");
    const char *rest[OQ_RAWFEAT_MAX];
    size_t nrest = oq_rawfeat_names(t->rf, 1, rest);
    if (!t->full && nrest) {
        printf("  left out (they repeat the above; --history-features full keeps them):");
        for (size_t k = 0; k < nrest; k++)
            printf(" %s", rest[k]);
        printf("\n");
    }
    if (in->alive_used)
        printf("  BG/NBD on the orders before %s (%zu customers): r %.4g, alpha %.4g, a "
               "%.4g, b %.4g (converged)\n",
               d0, in->fit_customers, in->fit.p.r, in->fit.p.alpha, in->fit.p.a, in->fit.p.b);
    if (in->filter_used) {
        char d2[11] = "(all)";
        if (in->filter_end != INT32_MAX) oq_date_format(in->filter_end, d2);
        printf("  gross-profit model (gross.h) on the orders and events before %s (%zu orders "
               "with a category, %zu ordered contact days for the margins): favourite filter "
               "drift %.3g, conc %.2g, alpha %.1f\n",
               d2, in->filter_orders, in->margin_rows, in->drift, in->conc, in->alpha);
        printf("  value of an order: %s\n",
               t->value_trees ? "the value trees (--order-value trees)"
                              : "gross_value, g of that model, where it is known (the value "
                                "trees elsewhere; --order-value trees: the trees everywhere)");
    }
    if (in->note[0]) {
        printf("  not used: %s\n", in->note);
        fprintf(stderr, "offerq %s: warning: %s\n", cmd, in->note);
    }
    t->asof = asof;
    return 0;
}

/* V of the model (uplift.h): g of the raw tables' gross-profit model when
 * there is one, unless --order-value trees. */
static void raw_value(const raw_tables *t, oq_uplift_opts *o)
{
    if (t->rf && oq_rawfeat_info_get(t->rf)->filter_used && !t->value_trees)
        o->value_attr = "gross_value";
}

/* With orders or events every contact is a row with its own history: a
 * larger table with more features, where the log path's trees (400 of depth
 * 4 with leaves of hessian 20, pmodel.h) do better (docs/readme/realdata.md);
 * an explicit --trees or --tree-depth wins. */
static void history_trees(oq_uplift_opts *o, int history, int set_trees, int set_depth)
{
    if (history && !set_trees) o->trees = OQ_UPLIFT_HISTORY_TREES;
    if (history && !set_depth) o->depth = OQ_UPLIFT_HISTORY_DEPTH;
    if (history) o->min_child_weight = OQ_UPLIFT_HISTORY_MCW;
}

int cmd_uplift(int argc, char **argv)
{
    enum {
        O_CONTACTS = 256,
        O_CUSTOMERS,
        O_OFFERS,
        O_OUT,
        O_TARGET,
        O_HOLDOUT,
        O_COLUMNS,
        O_IGNORE,
        O_CONTROL,
        O_EXPLORE,
        O_BUDGET,
        O_TREES,
        O_DEPTH,
        O_SEED,
        O_NOCF,
        O_GUARD,
        O_SELECT,
        O_QUIET,
        O_ORDERS,
        O_EVENTS,
        O_VISITDAYS,
        O_ASOF,
        O_BGUNTIL,
        O_HISTFEAT,
        O_ORDERVALUE,
        O_LADDER
    };
    static const struct option opts[] = {{"help", no_argument, 0, 'h'},
                                         {"contacts", required_argument, 0, O_CONTACTS},
                                         {"customers", required_argument, 0, O_CUSTOMERS},
                                         {"offers", required_argument, 0, O_OFFERS},
                                         {"out-dir", required_argument, 0, O_OUT},
                                         {"target", required_argument, 0, O_TARGET},
                                         {"holdout", required_argument, 0, O_HOLDOUT},
                                         {"columns", required_argument, 0, O_COLUMNS},
                                         {"ignore", required_argument, 0, O_IGNORE},
                                         {"control", required_argument, 0, O_CONTROL},
                                         {"explore", required_argument, 0, O_EXPLORE},
                                         {"budget", required_argument, 0, O_BUDGET},
                                         {"trees", required_argument, 0, O_TREES},
                                         {"tree-depth", required_argument, 0, O_DEPTH},
                                         {"seed", required_argument, 0, O_SEED},
                                         {"no-crossfit", no_argument, 0, O_NOCF},
                                         {"guard", no_argument, 0, O_GUARD},
                                         {"select", no_argument, 0, O_SELECT},
                                         {"quiet", no_argument, 0, O_QUIET},
                                         {"orders", required_argument, 0, O_ORDERS},
                                         {"events", required_argument, 0, O_EVENTS},
                                         {"visit-days", required_argument, 0, O_VISITDAYS},
                                         {"as-of", required_argument, 0, O_ASOF},
                                         {"bgnbd-until", required_argument, 0, O_BGUNTIL},
                                         {"history-features", required_argument, 0, O_HISTFEAT},
                                         {"order-value", required_argument, 0, O_ORDERVALUE},
                                         {"discount-ladder", no_argument, 0, O_LADDER},
                                         {0, 0, 0, 0}};
    const char *contacts = NULL, *customers = NULL, *offers_path = NULL, *out = NULL;
    const char *target = NULL, *holdout = NULL, *control = NULL;
    const char *orders_path = NULL, *events_path = NULL;
    int visit_days = 30, has_asof = 0, fit_until = 0, full = 0, value_trees = 0;
    int32_t asof = 0, fit_date = 0;
    char *columns = NULL;
    int crossfit = 1, guard = 0, select = 0, fixed = -1, c, set_trees = 0, set_depth = 0;
    long lv;
    oq_table_map map = {0};
    oq_uplift_opts o;
    oq_uplift_opts_default(&o);
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            help(stdout);
            return 0;
        case O_CONTACTS:
            contacts = optarg;
            break;
        case O_CUSTOMERS:
            customers = optarg;
            break;
        case O_OFFERS:
            offers_path = optarg;
            break;
        case O_OUT:
            if (cli_out_path("uplift", "--out-dir", optarg, 0)) return 2;
            out = optarg;
            break;
        case O_TARGET:
            target = optarg;
            break;
        case O_HOLDOUT:
            holdout = optarg;
            break;
        case O_COLUMNS:
            columns = optarg;
            break;
        case O_IGNORE:
            map.ignore = optarg;
            break;
        case O_CONTROL:
            control = optarg;
            break;
        case O_EXPLORE:
            if (cli_double("uplift", "--explore", optarg, 0, 1, &o.explore)) return 2;
            break;
        case O_BUDGET:
            if (cli_double("uplift", "--budget", optarg, 0, 1e300, &o.budget)) return 2;
            break;
        case O_TREES:
            if (cli_long("uplift", "--trees", optarg, 1, 100000, &lv)) return 2;
            o.trees = (int)lv;
            set_trees = 1;
            break;
        case O_DEPTH:
            if (cli_long("uplift", "--tree-depth", optarg, 1, 16, &lv)) return 2;
            o.depth = (int)lv;
            set_depth = 1;
            break;
        case O_SEED:
            if (cli_u64("uplift", "--seed", optarg, &o.seed)) return 2;
            break;
        case O_NOCF:
            crossfit = 0;
            break;
        case O_GUARD:
            guard = 1;
            break;
        case O_SELECT:
            select = 1;
            break;
        case O_QUIET:
            o.quiet = 1;
            break;
        case O_ORDERS:
            orders_path = optarg;
            break;
        case O_EVENTS:
            events_path = optarg;
            break;
        case O_VISITDAYS:
            if (cli_long("uplift", "--visit-days", optarg, 1, 3650, &lv)) return 2;
            visit_days = (int)lv;
            break;
        case O_ASOF:
            if (oq_date_parse(optarg, strlen(optarg), &asof))
                return cli_usage_error("uplift", "--as-of: got \"%s\", expected a date YYYY-MM-DD",
                                       optarg);
            has_asof = 1;
            break;
        case O_BGUNTIL:
            if (!strcmp(optarg, "first"))
                fit_until = 0;
            else if (!strcmp(optarg, "last"))
                fit_until = 1;
            else if (!oq_date_parse(optarg, strlen(optarg), &fit_date))
                fit_until = 2;
            else
                return cli_usage_error("uplift",
                                       "--bgnbd-until: got \"%s\", expected first, last or a "
                                       "date YYYY-MM-DD",
                                       optarg);
            break;
        case O_HISTFEAT:
            if (strcmp(optarg, "compact") != 0 && strcmp(optarg, "full") != 0)
                return cli_usage_error(
                    "uplift", "--history-features: got \"%s\", expected compact or full", optarg);
            full = !strcmp(optarg, "full");
            break;
        case O_ORDERVALUE:
            if (strcmp(optarg, "gross") != 0 && strcmp(optarg, "trees") != 0)
                return cli_usage_error(
                    "uplift", "--order-value: got \"%s\", expected gross or trees", optarg);
            value_trees = !strcmp(optarg, "trees");
            break;
        case O_LADDER:
            o.ladder = 1;
            break;
        default:
            return cli_bad_option("uplift");
        }
    }
    if (optind != argc) return cli_usage_error("uplift", "unexpected argument '%s'", argv[optind]);
    if (!contacts || !customers || !offers_path || !out)
        return cli_usage_error("uplift",
                               "--contacts, --customers, --offers and --out-dir are required");
    history_trees(&o, orders_path || events_path, set_trees, set_depth);
    oq_error err = {0};
    if (columns && oq_table_map_parse(columns, &map, &err))
        return cli_usage_error("uplift", "--columns: %s", err.msg);
    int rc = 1;
    oq_offers *offers = NULL;
    oq_contacts *ct = NULL, *ho = NULL;
    oq_customers *cust = NULL, *tgt = NULL;
    raw_tables rt = {0};
    oq_uplift_model *m = NULL;
    oq_uplift_report cf, hr;
    char path[4200];
    if (oq_offers_read(offers_path, &offers, &err)) {
        rc = cli_fail(&err, "the offers file is offer,redeem_cost,contact_cost, one row an offer");
        goto cleanup;
    }
    if (control) {
        o.control = oq_offers_find(offers, control, strlen(control));
        if (o.control < 0) {
            rc = cli_usage_error("uplift", "--control %s is not an offer of %s", control,
                                 offers_path);
            goto cleanup;
        }
    } else {
        o.control = oq_offers_find(offers, "none", 4);
    }
    if (oq_customers_read(customers, &map, &cust, &err) ||
        oq_contacts_read(contacts, &map, offers, &ct, &err) ||
        (holdout && oq_contacts_read(holdout, &map, offers, &ho, &err)) ||
        (target && oq_customers_read_like(target, &map, cust, &tgt, &err))) {
        rc = cli_fail(&err, "see `offerq uplift --help` for the formats; --columns maps "
                            "other column names");
        goto cleanup;
    }
    if (!o.quiet) {
        fprintf(stderr, "offerq uplift: %zu contacts, %zu customers with %zu attributes (", ct->n,
                cust->n, cust->nattr);
        for (size_t k = 0; k < cust->nattr; k++)
            fprintf(stderr, "%s%s%s", k ? ", " : "", cust->attr[k],
                    cust->is_text[k] ? " (text)" : "");
        fprintf(stderr, "), %zu offers\n", offers->n);
        if (o.control < 0)
            fprintf(stderr, "offerq uplift: no control offer (none, or --control NAME): no "
                            "Qini coefficient\n");
    }
    /* the model's tables: the customers' attributes, and with orders or
     * events the features derived from them as of each contact's date */
    const oq_customers *mc = cust, *hc = cust, *who = tgt ? tgt : cust;
    rt = (raw_tables){.orders_path = orders_path,
                      .events_path = events_path,
                      .visit_days = visit_days,
                      .has_asof = has_asof,
                      .asof = asof,
                      .fit_until = fit_until,
                      .fit_date = fit_date,
                      .full = full,
                      .value_trees = value_trees};
    if ((rc = raw_prepare("uplift", &rt, &map, o.control, o.quiet, cust, who, ct, ho)))
        goto cleanup;
    raw_value(&rt, &o);
    if (o.ladder)
        printf("model: the offers as a discount ladder (--discount-ladder): P(order) does not "
               "fall as redeem_cost grows, offers told apart by their cost\n");
    if (rt.xc) {
        mc = rt.xc;
        hc = rt.xh;
        who = rt.xn;
    }
    if (guard && !crossfit) {
        rc = cli_usage_error("uplift", "--guard needs the cross-fitted estimates");
        goto cleanup;
    }
    if (select) {
        double dr[OQ_UPLIFT_NCAND];
        int which = 0;
        oq_uplift_opts best;
        if (oq_uplift_select(&o, mc, ct, offers, &best, &which, dr, &err)) {
            rc = cli_fail(&err, NULL);
            goto cleanup;
        }
        printf("select: cross-fitted DR value of the learned policy per setting (depth, "
               "min_child_weight, value min_child_weight):");
        for (int k = 0; k < OQ_UPLIFT_NCAND; k++)
            printf(" %.4f%s", dr[k], k == which ? " (chosen)" : "");
        printf("\nselect: depth %d, %g, %g; the cross-fitted estimates below are of the "
               "chosen setting, so optimistic: judge it on held-out contacts (--holdout)\n",
               best.depth, best.min_child_weight, best.value_min_child_weight);
        o = best;
    }
    if (crossfit) {
        if (oq_uplift_crossfit(&o, mc, ct, offers, &cf, &err)) {
            rc = cli_fail(&err, NULL);
            goto cleanup;
        }
        oq_uplift_print(&cf, "cross-fitted on the contacts (2 folds by customer)", stdout);
        if (guard && oq_uplift_guard(&cf, &fixed) >= 0)
            printf("guard: the learned policy's cross-fitted DR value (%.4f) does not beat the "
                   "best fixed offer's: the recommendations show offer %s to everyone "
                   "(--guard)\n",
                   cf.pol[0].est.dr, offers->name[fixed]);
        else if (guard)
            printf("guard: the learned policy beats every fixed offer cross-fitted (DR)\n");
    }
    if (oq_uplift_fit(&o, mc, ct, NULL, 0, offers, &m, &err)) {
        rc = cli_fail(&err, NULL);
        goto cleanup;
    }
    oq_uplift_set_fallback(m, fixed);
    if (ho) {
        /* a held-out customer who is also in the training contacts flatters the model */
        unsigned char *seen = calloc(cust->n, 1);
        size_t both = 0;
        if (seen) {
            for (size_t i = 0; i < ct->n; i++) {
                long r = oq_customers_find(cust, ct->user[i]);
                if (r >= 0) seen[r] = 1;
            }
            for (size_t i = 0; i < ho->n; i++) {
                long r = oq_customers_find(cust, ho->user[i]);
                if (r >= 0 && seen[r] == 1) {
                    seen[r] = 2;
                    both++;
                }
            }
            free(seen);
        }
        if (both)
            fprintf(stderr,
                    "offerq uplift: warning: %zu customers of --holdout also have contacts in "
                    "--contacts: the model saw them, so the held-out estimates are optimistic\n",
                    both);
        if (oq_uplift_holdout(&o, m, hc, ho, offers, &hr, &err)) {
            rc = cli_fail(&err, "the held-out contacts' customers must be in --customers");
            goto cleanup;
        }
        oq_uplift_print(&hr, "held out (model learnt on all of --contacts)", stdout);
    }
    size_t count[OQ_TABLES_MAX_OFFERS];
    double total = 0;
    snprintf(path, sizeof path, "%s/recommendations.csv", out);
    if (oq_uplift_recommend(&o, m, who, offers, path, count, &total, &err)) {
        rc = cli_fail(&err, NULL);
        goto cleanup;
    }
    printf("recommendations: %zu customers, expected net profit %.2f (%.4f per customer):", who->n,
           total, total / (double)who->n);
    for (size_t a = 0; a < offers->n; a++)
        printf(" %s %zu%s", offers->name[a], count[a], a + 1 < offers->n ? "," : "\n");
    snprintf(path, sizeof path, "%s/estimates.json", out);
    char deployed[OQ_TABLES_MAX_ID + 16];
    snprintf(deployed, sizeof deployed, "%s%s", fixed >= 0 ? "offer:" : "learned",
             fixed >= 0 ? offers->name[fixed] : "");
    printf("deployed policy: %s\n", deployed);
    if (oq_uplift_write_json(path, crossfit ? &cf : NULL, ho ? &hr : NULL, offers, deployed,
                             &err)) {
        rc = cli_fail(&err, NULL);
        goto cleanup;
    }
    printf("wrote %s/recommendations.csv and %s/estimates.json\n", out, out);
    rc = 0;
cleanup:
    oq_uplift_free(m);
    oq_offers_free(offers);
    oq_contacts_free(ct);
    oq_contacts_free(ho);
    oq_customers_free(cust);
    oq_customers_free(tgt);
    raw_free(&rt);
    return rc;
}

/* ---- offerq eval --contacts: a run's recommendations judged on the log ---- */

typedef struct rec_ctx {
    const char *path;
    const oq_customers *cust;
    const oq_offers *offers;
    int *rec; /* (cust->n) offer, -1 none */
    int col[2];
    int header_done;
} rec_ctx;

static int rec_row(void *ctx, char **f, const size_t *lens, size_t n, long line, oq_error *err)
{
    rec_ctx *x = ctx;
    static const oq_csv_col cols[2] = {{"user_id", 1, NULL}, {"offer", 1, NULL}};
    if (!x->header_done) {
        x->header_done = 1;
        return oq_csv_header_map(x->path, line, f, n, cols, 2, 1, x->col, err);
    }
    if ((size_t)x->col[0] >= n || (size_t)x->col[1] >= n)
        return oq_error_set(err, OQ_EPARSE, x->path, line, (long)n + 1, "missing fields");
    int a = oq_offers_find(x->offers, f[x->col[1]], lens[x->col[1]]);
    if (a < 0)
        return oq_error_set(err, OQ_EPARSE, x->path, line, x->col[1] + 1,
                            "offer \"%.60s\": expected an offer of the catalogue", f[x->col[1]]);
    long r = oq_customers_find(x->cust, f[x->col[0]]);
    if (r >= 0) x->rec[r] = a; /* customers not in the contacts' table: not judged */
    return 0;
}

static void eval_help(FILE *fp)
{
    fprintf(fp, "Usage: offerq eval --contacts C.csv --customers U.csv --offers O.csv --run DIR\n"
                "                   [--orders R.csv] [--events E.csv] [--json FILE] [options]\n\n"
                "Judges a run's recommendations (DIR/recommendations.csv: user_id,offer, e.g.\n"
                "of `offerq run --contacts` or `offerq uplift`) on a campaign log alone, with\n"
                "no simulator: the policy \"show each contacted customer the offer recommended\n"
                "for them\" gets IPS, self-normalised IPS and doubly robust values per contact\n"
                "with 95 %% intervals, next to every fixed offer; the model for DR, the Qini\n"
                "coefficient and the calibration table is cross-fitted on the contacts (2\n"
                "folds by customer), as `offerq uplift` does. Without a propensity column the\n"
                "propensities are the offers' shares of the log (said). The log should be\n"
                "one the run did not learn from (e.g. the next campaign's, or --holdout's):\n"
                "on its own training log the run's value is optimistic.\n\n"
                "Options (as `offerq uplift`): --orders, --events, --visit-days, --columns,\n"
                "  --ignore, --control, --trees, --tree-depth, --seed, --quiet;\n"
                "  --json FILE   also write the estimates as JSON\n");
}

int cmd_uplift_eval(int argc, char **argv)
{
    int set_trees = 0, set_depth = 0;
    enum {
        E_CONTACTS = 256,
        E_CUSTOMERS,
        E_OFFERS,
        E_RUN,
        E_ORDERS,
        E_EVENTS,
        E_VISITDAYS,
        E_COLUMNS,
        E_IGNORE,
        E_CONTROL,
        E_TREES,
        E_DEPTH,
        E_SEED,
        E_JSON,
        E_QUIET
    };
    static const struct option opts[] = {{"help", no_argument, 0, 'h'},
                                         {"contacts", required_argument, 0, E_CONTACTS},
                                         {"customers", required_argument, 0, E_CUSTOMERS},
                                         {"offers", required_argument, 0, E_OFFERS},
                                         {"run", required_argument, 0, E_RUN},
                                         {"orders", required_argument, 0, E_ORDERS},
                                         {"events", required_argument, 0, E_EVENTS},
                                         {"visit-days", required_argument, 0, E_VISITDAYS},
                                         {"columns", required_argument, 0, E_COLUMNS},
                                         {"ignore", required_argument, 0, E_IGNORE},
                                         {"control", required_argument, 0, E_CONTROL},
                                         {"trees", required_argument, 0, E_TREES},
                                         {"tree-depth", required_argument, 0, E_DEPTH},
                                         {"seed", required_argument, 0, E_SEED},
                                         {"json", required_argument, 0, E_JSON},
                                         {"quiet", no_argument, 0, E_QUIET},
                                         {0, 0, 0, 0}};
    const char *contacts = NULL, *customers = NULL, *offers_path = NULL, *run = NULL;
    const char *control = NULL, *json = NULL;
    char *columns = NULL;
    raw_tables rt = {.visit_days = 30};
    oq_table_map map = {0};
    oq_uplift_opts o;
    oq_uplift_opts_default(&o);
    long lv;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            eval_help(stdout);
            return 0;
        case E_CONTACTS:
            contacts = optarg;
            break;
        case E_CUSTOMERS:
            customers = optarg;
            break;
        case E_OFFERS:
            offers_path = optarg;
            break;
        case E_RUN:
            run = optarg;
            break;
        case E_ORDERS:
            rt.orders_path = optarg;
            break;
        case E_EVENTS:
            rt.events_path = optarg;
            break;
        case E_VISITDAYS:
            if (cli_long("eval", "--visit-days", optarg, 1, 3650, &lv)) return 2;
            rt.visit_days = (int)lv;
            break;
        case E_COLUMNS:
            columns = optarg;
            break;
        case E_IGNORE:
            map.ignore = optarg;
            break;
        case E_CONTROL:
            control = optarg;
            break;
        case E_TREES:
            if (cli_long("eval", "--trees", optarg, 1, 100000, &lv)) return 2;
            o.trees = (int)lv;
            set_trees = 1;
            break;
        case E_DEPTH:
            if (cli_long("eval", "--tree-depth", optarg, 1, 16, &lv)) return 2;
            o.depth = (int)lv;
            set_depth = 1;
            break;
        case E_SEED:
            if (cli_u64("eval", "--seed", optarg, &o.seed)) return 2;
            break;
        case E_JSON:
            if (cli_out_path("eval", "--json", optarg, 0)) return 2;
            json = optarg;
            break;
        case E_QUIET:
            o.quiet = 1;
            break;
        default:
            return cli_bad_option("eval");
        }
    }
    if (optind != argc) return cli_usage_error("eval", "unexpected argument '%s'", argv[optind]);
    if (!contacts || !customers || !offers_path || !run)
        return cli_usage_error("eval", "with --contacts, --customers, --offers and --run are "
                                       "required");
    history_trees(&o, rt.orders_path || rt.events_path, set_trees, set_depth);
    oq_error err = {0};
    if (columns && oq_table_map_parse(columns, &map, &err))
        return cli_usage_error("eval", "--columns: %s", err.msg);
    int rc = 1;
    oq_offers *offers = NULL;
    oq_contacts *ct = NULL;
    oq_customers *cust = NULL;
    int *rec = NULL, *policy = NULL;
    char path[4200], dir[4096];
    oq_uplift_report rep;
    if (oq_offers_read(offers_path, &offers, &err)) {
        rc = cli_fail(&err, "the offers file is offer,redeem_cost,contact_cost");
        goto cleanup;
    }
    o.control = control ? oq_offers_find(offers, control, strlen(control))
                        : oq_offers_find(offers, "none", 4);
    if (control && o.control < 0) {
        rc = cli_usage_error("eval", "--control %s is not an offer of %s", control, offers_path);
        goto cleanup;
    }
    if (oq_customers_read(customers, &map, &cust, &err) ||
        oq_contacts_read(contacts, &map, offers, &ct, &err) ||
        oq_rundir_resolve(run, dir, sizeof dir, &err)) {
        rc = cli_fail(&err, NULL);
        goto cleanup;
    }
    rec = malloc(cust->n * sizeof *rec);
    policy = malloc(ct->n * sizeof *policy);
    if (!rec || !policy) {
        oq_error_oom(&err, NULL, NULL);
        rc = cli_fail(&err, NULL);
        goto cleanup;
    }
    for (size_t i = 0; i < cust->n; i++)
        rec[i] = -1;
    snprintf(path, sizeof path, "%s/recommendations.csv", dir);
    rec_ctx rx = {.path = path, .cust = cust, .offers = offers, .rec = rec, .col = {-1, -1}};
    if (oq_csv_read(path, NULL, rec_row, &rx, &err)) {
        rc = cli_fail(&err, "the run's recommendations.csv needs user_id,offer");
        goto cleanup;
    }
    for (size_t i = 0; i < ct->n; i++) {
        long r = oq_customers_find(cust, ct->user[i]);
        if (r < 0 || rec[r] < 0) {
            fprintf(stderr,
                    "offerq: error: %s:%ld:%d: customer \"%.60s\" of this contact has %s: "
                    "expected every contacted customer in %s%s\n",
                    ct->path, ct->line[i], ct->user_col, ct->user[i],
                    r < 0 ? "no row in the customers file" : "no recommendation in the run",
                    r < 0 ? customers : path, "");
            goto cleanup;
        }
        policy[i] = rec[r];
    }
    const oq_customers *mc = cust;
    if ((rc = raw_prepare("eval", &rt, &map, o.control, o.quiet, cust, NULL, ct, NULL)))
        goto cleanup;
    raw_value(&rt, &o);
    if (rt.xc) mc = rt.xc;
    if (oq_uplift_crossfit_policy(&o, mc, ct, offers, policy, &rep, &err)) {
        rc = cli_fail(&err, NULL);
        goto cleanup;
    }
    char title[4400];
    snprintf(title, sizeof title,
             "the run's recommendations (%s) on the contacts; model for DR cross-fitted (2 "
             "folds by customer)",
             path);
    oq_uplift_print(&rep, title, stdout);
    if (json && oq_uplift_write_json(json, &rep, NULL, offers, "run", &err)) {
        rc = cli_fail(&err, NULL);
        goto cleanup;
    }
    rc = 0;
cleanup:
    free(rec);
    free(policy);
    raw_free(&rt);
    oq_offers_free(offers);
    oq_contacts_free(ct);
    oq_customers_free(cust);
    return rc;
}
