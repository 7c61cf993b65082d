/* cmd_bgnbd.c - `offerq bgnbd fit|score|plot`: BG/NBD and the other "buy till you
 * die" models (MBG/NBD, Pareto/NBD, the Gamma-Gamma spend model, CLV). */
#include "cli/cli.h"
#include "offerq/coupon/alive.h"
#include "offerq/coupon/bgnbd.h"
#include "offerq/coupon/btyd.h"
#include "offerq/core/data.h"
#include "offerq/core/io.h"

#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void help(FILE *fp)
{
    fprintf(
        fp,
        "Usage: offerq bgnbd fit   (--log LOG | --orders FILE | --transactions FILE | "
        "--summary CSV)\n"
        "                          [options] --out params.json\n"
        "       offerq bgnbd score --params params.json (--log | --orders | --transactions |\n"
        "                          --summary) [--t T] [--plot FILE.svg] --out scores.csv\n"
        "       offerq bgnbd plot  --params params.json --kind KIND [data] --out FILE.svg\n\n"
        "BG/NBD (Fader, Hardie & Lee 2005): fits (r, alpha, a, b) by maximum likelihood and\n"
        "scores customers: P(alive) and expected repeat purchases in the next T. Also\n"
        "MBG/NBD, Pareto/NBD and the Gamma-Gamma spend model with CLV, as lifetimes has them.\n"
        "The fit prints and saves standard errors and 95%% intervals (log scale).\n\n"
        "Data (one of):\n"
        "  --log LOG           a customer log; uses LOG's sidecar <stem>.orders.csv (every\n"
        "                      purchase) when it exists, else the log's order_placed = 1 rows\n"
        "  --orders FILE       an orders file user_id,date,value (as `offerq gen` writes)\n"
        "  --transactions FILE customer, date[, ...] per line, comma or blank separated,\n"
        "                      dates YYYYMMDD or YYYY-MM-DD (e.g. CDNOW's files)\n"
        "  --summary CSV       id,frequency,recency,T[,frequency_holdout,duration_holdout]\n"
        "Summary options (all but --unit: not with --summary):\n"
        "  --unit days|weeks   time unit (default days; score: the unit of the params file;\n"
        "                      with --summary: the unit its times are in)\n"
        "  --calibration-end D last calibration day YYYY-MM-DD (default: the last purchase)\n"
        "  --observation-end D last holdout day; adds a holdout period (score reports it)\n"
        "  --id-column N       field of the customer id in --transactions (default 1)\n"
        "  --date-column N     field of the date (default: first date after the id)\n"
        "  --value-column N    field of the purchase value (for gammagamma and --spend;\n"
        "                      CDNOW: 5 in cdnow_sample.txt); a summary CSV gives it as\n"
        "                      monetary_value (mean value of the repeat purchase days)\n"
        "Fit options:\n"
        "  --model M           bgnbd (default), mbgnbd, paretonbd or gammagamma (spend per\n"
        "                      transaction of customers with repeat purchases)\n"
        "  --penalizer X       L2 penalizer, same objective as lifetimes' penalizer_coef (0)\n"
        "Score options (the model is the one of --params):\n"
        "  --p-n N             columns p_0..p_N, P(n purchases in (T, T+t] | history)\n"
        "  --spend GG.json     a gammagamma fit: columns expected_average_profit and clv\n"
        "                      (needs purchase values)\n"
        "  --months M          CLV horizon in months (default 12)\n"
        "  --discount-rate D   monthly discount rate of the CLV (default 0.01)\n"
        "  --t T               horizon of expected purchases, in the unit (default: the\n"
        "                      holdout length when there is one, else 30 days)\n"
        "  --plot FILE.svg     calibration/holdout chart (needs a holdout)\n"
        "Plot options (lifetimes' diagnostic charts, for the model of --params):\n"
        "  --model M           optional check: the model --params must hold (bgnbd,\n"
        "                      mbgnbd or paretonbd)\n"
        "  --kind K            frequency-recency: E[X(t)] over frequency x recency (--t,\n"
        "                      default 1 unit); p-alive: P(alive) over the same grid;\n"
        "                      period: customers by repeat purchases, actual vs the model's\n"
        "                      expectation; cumulative: repeat purchases over time, actual\n"
        "                      vs expected (needs dates: --log, --orders, --transactions)\n"
        "  --max-frequency N   grid rows (default: the data's largest frequency); period:\n"
        "                      the last bar, \">= N\" (default 7)\n"
        "  --max-recency N     grid columns and the customers' age T (default: the data's\n"
        "                      largest T); without data both --max options are needed\n"
        "  --quiet             no messages on stderr\n\n"
        "Examples:\n"
        "  offerq bgnbd fit --summary ../shared/data/cdnow_summary.csv --out example/cdnow.json\n"
        "  offerq bgnbd score --params example/cdnow.json --unit weeks --transactions "
        "../shared/data/cdnow_sample.txt \\\n"
        "      --id-column 2 --calibration-end 1997-09-30 --observation-end 1998-06-30 \\\n"
        "      --plot example/holdout.svg --out example/scores.csv\n"
        "  offerq bgnbd fit --model paretonbd --summary ../shared/data/cdnow_summary.csv "
        "--out example/pnbd.json\n"
        "  offerq bgnbd fit --model gammagamma --transactions ../shared/data/cdnow_sample.txt "
        "\\\n"
        "      --id-column 2 --value-column 5 --unit weeks --calibration-end 1997-09-30 --out "
        "example/gg.json\n"
        "  offerq bgnbd score --params example/cdnow.json --spend example/gg.json --unit weeks "
        "--p-n 3 --t 39 \\\n"
        "      --transactions ../shared/data/cdnow_sample.txt --id-column 2 --value-column 5 \\\n"
        "      --calibration-end 1997-09-30 --out example/clv.csv\n"
        "  offerq gen --contact-effect 0 --out example/ce0/log.csv && offerq bgnbd fit --log "
        "example/ce0/log.csv "
        "--out example/ce0/bgnbd.json\n");
}

typedef struct args {
    const char *log, *orders, *transactions, *summary, *out, *params, *plot;
    const char *unit, *model, *spend, *kind;
    int32_t cal, obs;
    long id_col, date_col, value_col, pn, months, max_freq, max_rec;
    double penalizer, t, discount;
    int have_t, quiet;
} args;

/* The purchases of --log (its orders sidecar, else its order rows), --orders
 * or --transactions into *out (oq_bgnbd_tx_free). */
static int load_tx(const args *a, oq_bgnbd_tx **out)
{
    oq_error err = {0};
    oq_bgnbd_tx *tx = NULL;
    char side[4096] = "";
    const char *file = a->orders ? a->orders : a->transactions;
    if (a->log && !oq_sidecar_path(a->log, ".orders.csv", side, sizeof side) &&
        oq_file_exists(side))
        file = side;
    if (file) {
        if (!a->quiet) fprintf(stderr, "offerq bgnbd: purchases from %s\n", file);
        /* an orders file (--orders, the log's sidecar) is checked whole, as
         * `offerq run` reads its values too (alive.h) */
        int rc = file == a->transactions || a->id_col != 1 || a->date_col != 0 || a->value_col
                     ? oq_bgnbd_tx_read_value(file, (int)a->id_col, (int)a->date_col,
                                              (int)a->value_col, &tx, &err)
                     : oq_alive_tx_read(file, &tx, &err);
        if (rc) return cli_fail(&err, "fix the line above and run again");
    } else {
        if (!a->quiet)
            fprintf(stderr, "offerq bgnbd: purchases from the order rows of %s (no %s)\n", a->log,
                    side);
        oq_log *log = NULL;
        if (oq_log_read(a->log, &log, &err))
            return cli_fail(&err, "fix the line above and run again");
        int rc = oq_bgnbd_tx_from_log(log, &tx, &err);
        oq_log_free(log);
        if (!rc && tx->n == 0) {
            oq_bgnbd_tx_free(tx);
            rc = oq_error_set(&err, OQ_EINVAL, a->log, 0, 0,
                              "no purchases: no row of the log has order_placed = 1 and there "
                              "is no %s",
                              side);
        }
        if (rc) return cli_fail(&err, NULL);
    }
    *out = tx;
    return 0;
}

/* Load or build the summary the options ask for. unit_days: from --unit, or
 * the params file's unit (score), or days. */
static int load_summary(const char *cmd, const args *a, double unit_days, oq_bgnbd_summary **out)
{
    oq_error err = {0};
    int nsrc = !!a->log + !!a->orders + !!a->transactions + !!a->summary;
    if (nsrc != 1)
        return cli_usage_error(cmd,
                               "give exactly one of --log, --orders, --transactions, --summary");
    if (a->summary) {
        /* --unit only declares the summary's unit (its times are already in it) */
        if (a->cal != OQ_BGNBD_NO_DATE || a->obs != OQ_BGNBD_NO_DATE)
            return cli_usage_error(cmd, "the period ends do not apply to --summary");
        if (a->value_col)
            return cli_usage_error(cmd, "--value-column does not apply to --summary (its "
                                        "monetary_value column holds the values)");
        if (oq_bgnbd_summary_read(a->summary, out, &err))
            return cli_fail(&err, "fix the row above and run again");
        (*out)->unit_days = unit_days;
        return 0;
    }
    oq_bgnbd_tx *tx = NULL;
    int rc = load_tx(a, &tx);
    if (rc) return rc;
    oq_bgnbd_split sp = {
        .unit_days = unit_days, .calibration_end = a->cal, .observation_end = a->obs};
    rc = oq_bgnbd_summary_build(tx, &sp, out, &err);
    oq_bgnbd_tx_free(tx);
    if (rc) return cli_fail(&err, NULL);
    if (!a->quiet) fprintf(stderr, "offerq bgnbd: %zu customers\n", (*out)->n);
    return 0;
}

static int parse_args(const char *cmd, int argc, char **argv, args *a)
{
    enum {
        O_LOG = 256,
        O_ORD,
        O_TX,
        O_SUM,
        O_OUT,
        O_PAR,
        O_PLOT,
        O_UNIT,
        O_CAL,
        O_OBS,
        O_IDC,
        O_DC,
        O_PEN,
        O_T,
        O_QUIET,
        O_MODEL,
        O_VC,
        O_PN,
        O_SPEND,
        O_MONTHS,
        O_DISC,
        O_KIND,
        O_MAXF,
        O_MAXR
    };
    static const struct option opts[] = {{"help", no_argument, 0, 'h'},
                                         {"log", required_argument, 0, O_LOG},
                                         {"orders", required_argument, 0, O_ORD},
                                         {"transactions", required_argument, 0, O_TX},
                                         {"summary", required_argument, 0, O_SUM},
                                         {"out", required_argument, 0, O_OUT},
                                         {"params", required_argument, 0, O_PAR},
                                         {"plot", required_argument, 0, O_PLOT},
                                         {"unit", required_argument, 0, O_UNIT},
                                         {"calibration-end", required_argument, 0, O_CAL},
                                         {"observation-end", required_argument, 0, O_OBS},
                                         {"id-column", required_argument, 0, O_IDC},
                                         {"date-column", required_argument, 0, O_DC},
                                         {"penalizer", required_argument, 0, O_PEN},
                                         {"t", required_argument, 0, O_T},
                                         {"quiet", no_argument, 0, O_QUIET},
                                         {"model", required_argument, 0, O_MODEL},
                                         {"value-column", required_argument, 0, O_VC},
                                         {"p-n", required_argument, 0, O_PN},
                                         {"spend", required_argument, 0, O_SPEND},
                                         {"months", required_argument, 0, O_MONTHS},
                                         {"discount-rate", required_argument, 0, O_DISC},
                                         {"kind", required_argument, 0, O_KIND},
                                         {"max-frequency", required_argument, 0, O_MAXF},
                                         {"max-recency", required_argument, 0, O_MAXR},
                                         {0, 0, 0, 0}};
    memset(a, 0, sizeof *a);
    a->cal = a->obs = OQ_BGNBD_NO_DATE;
    a->id_col = 1;
    a->pn = -1;
    a->max_freq = a->max_rec = -1;
    a->months = 12;
    a->discount = 0.01;
    int c;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            help(stdout);
            return 1;
        case O_LOG:
            a->log = optarg;
            break;
        case O_ORD:
            a->orders = optarg;
            break;
        case O_TX:
            a->transactions = optarg;
            break;
        case O_SUM:
            a->summary = optarg;
            break;
        case O_OUT:
            if (cli_out_path(cmd, "--out", optarg, 0)) return -1;
            a->out = optarg;
            break;
        case O_PAR:
            a->params = optarg;
            break;
        case O_PLOT:
            if (cli_out_path(cmd, "--plot", optarg, 0)) return -1;
            a->plot = optarg;
            break;
        case O_UNIT:
            if (strcmp(optarg, "days") != 0 && strcmp(optarg, "weeks") != 0) {
                cli_usage_error(cmd, "--unit expects days or weeks, got '%s'", optarg);
                return -1;
            }
            a->unit = optarg;
            break;
        case O_CAL:
        case O_OBS:
            if (oq_date_parse(optarg, strlen(optarg), c == O_CAL ? &a->cal : &a->obs)) {
                cli_usage_error(cmd, "%s expects a date YYYY-MM-DD, got '%s'",
                                c == O_CAL ? "--calibration-end" : "--observation-end", optarg);
                return -1;
            }
            break;
        case O_IDC:
            if (cli_long(cmd, "--id-column", optarg, 1, 64, &a->id_col)) return -1;
            break;
        case O_DC:
            if (cli_long(cmd, "--date-column", optarg, 1, 64, &a->date_col)) return -1;
            break;
        case O_PEN:
            if (cli_double(cmd, "--penalizer", optarg, 0, 1e6, &a->penalizer)) return -1;
            break;
        case O_T:
            if (cli_double(cmd, "--t", optarg, 0, 1e9, &a->t)) return -1;
            a->have_t = 1;
            break;
        case O_QUIET:
            a->quiet = 1;
            break;
        case O_MODEL:
            if (oq_btyd_kind_parse(optarg) < 0 && strcmp(optarg, "gammagamma") != 0) {
                cli_usage_error(cmd,
                                "--model expects bgnbd, mbgnbd, paretonbd or gammagamma, got '%s'",
                                optarg);
                return -1;
            }
            a->model = optarg;
            break;
        case O_VC:
            if (cli_long(cmd, "--value-column", optarg, 1, 64, &a->value_col)) return -1;
            break;
        case O_PN:
            if (cli_long(cmd, "--p-n", optarg, 0, 1000, &a->pn)) return -1;
            break;
        case O_SPEND:
            a->spend = optarg;
            break;
        case O_MONTHS:
            if (cli_long(cmd, "--months", optarg, 0, 1200, &a->months)) return -1;
            break;
        case O_DISC:
            if (cli_double(cmd, "--discount-rate", optarg, 0, 10, &a->discount)) return -1;
            break;
        case O_KIND:
            if (strcmp(optarg, "frequency-recency") != 0 && strcmp(optarg, "p-alive") != 0 &&
                strcmp(optarg, "period") != 0 && strcmp(optarg, "cumulative") != 0) {
                cli_usage_error(cmd,
                                "--kind expects frequency-recency, p-alive, period or "
                                "cumulative, got '%s'",
                                optarg);
                return -1;
            }
            a->kind = optarg;
            break;
        case O_MAXF:
            if (cli_long(cmd, "--max-frequency", optarg, 1, 1000, &a->max_freq)) return -1;
            break;
        case O_MAXR:
            if (cli_long(cmd, "--max-recency", optarg, 1, 100000, &a->max_rec)) return -1;
            break;
        default:
            cli_bad_option(cmd);
            return -1;
        }
    }
    if (optind != argc) {
        cli_usage_error(cmd, "unexpected argument '%s'", argv[optind]);
        return -1;
    }
    if (!a->out) {
        cli_usage_error(cmd, "--out is required");
        return -1;
    }
    return 0;
}

/* The estimates with standard errors and 95 % intervals (log scale), on stderr. */
static void print_params(int k, const char *const *names, const double *est, const double *se,
                         const double *lo, const double *hi, int ok)
{
    fprintf(stderr, "  %-6s %12s %12s   %s\n", "param", "estimate", "std. error",
            "95% interval (log scale)");
    for (int i = 0; i < k; i++) {
        if (ok)
            fprintf(stderr, "  %-6s %12.6g %12.6g   [%.6g, %.6g]\n", names[i], est[i], se[i], lo[i],
                    hi[i]);
        else
            fprintf(stderr, "  %-6s %12.6g %12s\n", names[i], est[i], "n/a");
    }
    if (!ok)
        fprintf(stderr, "offerq bgnbd: warning: the observed information is not positive "
                        "definite at the estimate: no standard errors\n");
}

static int fit_other(const char *cmd, const args *a, const oq_bgnbd_summary *s, double unit)
{
    oq_error err = {0};
    oq_btyd_fit_opts o = {.penalizer = a->penalizer};
    double t0 = oq_now();
    if (!strcmp(a->model, "gammagamma")) {
        if (!s->monetary)
            return cli_usage_error(cmd, "gammagamma needs purchase values: --value-column N with "
                                        "--transactions or --orders, or a monetary_value column "
                                        "in --summary");
        oq_ggamma_fit_report g;
        if (oq_ggamma_fit(s->x, s->monetary, s->n, &o, &g, &err) ||
            oq_ggamma_params_save(a->out, &g, a->penalizer, &err))
            return cli_fail(&err, NULL);
        if (!a->quiet) {
            fprintf(stderr,
                    "offerq bgnbd: gammagamma p %.6g q %.6g v %.6g; LL %.4f; %zu customers with "
                    "repeat purchases; nelder-mead, %d iterations, %.1f ms\n",
                    g.g.p, g.g.q, g.g.v, g.ll, g.n_customers, g.iterations, 1e3 * (oq_now() - t0));
            static const char *const nm[3] = {"p", "q", "v"};
            const double est[3] = {g.g.p, g.g.q, g.g.v};
            print_params(3, nm, est, g.se, g.ci_lo, g.ci_hi, g.se_ok);
            fprintf(stderr, "offerq bgnbd: mean spend per transaction p v / (q - 1) = %.4f\n",
                    g.g.q > 1 ? g.g.p * g.g.v / (g.g.q - 1) : NAN);
        }
    } else {
        oq_btyd_kind k = (oq_btyd_kind)oq_btyd_kind_parse(a->model);
        oq_btyd_fit_report r;
        if (oq_btyd_fit(k, s->x, s->tx, s->T, s->n, &o, &r, &err) ||
            oq_btyd_params_save(a->out, &r, a->penalizer, unit, &err))
            return cli_fail(&err, NULL);
        if (!a->quiet) {
            const char *nm[4];
            for (int i = 0; i < 4; i++)
                nm[i] = oq_btyd_param_name(k, i);
            fprintf(stderr,
                    "offerq bgnbd: %s %s %.6g %s %.6g %s %.6g %s %.6g; LL %.4f; %s, %d "
                    "iterations, %zu groups, %.1f ms\n",
                    a->model, nm[0], r.m.par[0], nm[1], r.m.par[1], nm[2], r.m.par[2], nm[3],
                    r.m.par[3], r.ll, r.bfgs ? "bfgs" : "nelder-mead", r.iterations, r.n_groups,
                    1e3 * (oq_now() - t0));
            print_params(4, nm, r.m.par, r.se, r.ci_lo, r.ci_hi, r.se_ok);
            if (!r.converged)
                fprintf(stderr, "offerq bgnbd: warning: not converged; try --penalizer 0.001\n");
        }
    }
    if (!a->quiet) fprintf(stderr, "offerq bgnbd: wrote %s\n", a->out);
    return 0;
}

static int do_fit(int argc, char **argv)
{
    const char *cmd = "bgnbd fit";
    args a;
    int rc = parse_args(cmd, argc, argv, &a);
    if (rc) return rc > 0 ? 0 : 2;
    if (a.params || a.plot || a.have_t || a.spend || a.pn >= 0)
        return cli_usage_error(cmd, "--params, --plot, --t, --spend and --p-n belong to 'bgnbd "
                                    "score'");
    double unit = a.unit && !strcmp(a.unit, "weeks") ? 7 : 1;
    if (a.summary && !a.unit) unit = 0; /* the summary's unit is not known */
    oq_bgnbd_summary *s = NULL;
    if ((rc = load_summary(cmd, &a, unit, &s)) || !s) return rc ? rc : 1;
    oq_error err = {0};
    oq_bgnbd_data *d = NULL;
    oq_bgnbd_fit_report rep;
    oq_bgnbd_fit_opts o = {.penalizer = a.penalizer};
    double t0 = oq_now();
    if (a.model && strcmp(a.model, "bgnbd") != 0) {
        rc = fit_other(cmd, &a, s, unit);
        goto cleanup;
    }
    if (oq_bgnbd_data_new(s->x, s->tx, s->T, NULL, s->n, &d, &err) ||
        oq_bgnbd_fit(d, &o, &rep, &err) ||
        oq_bgnbd_params_save(a.out, &rep, a.penalizer, unit, &err)) {
        rc = cli_fail(&err, NULL);
        goto cleanup;
    }
    if (!a.quiet) {
        fprintf(stderr,
                "offerq bgnbd: r %.6g alpha %.6g a %.6g b %.6g; LL %.4f; %s, %d iterations, "
                "%d starts (%d agree), |grad| %.2g, %zu groups, %.1f ms\n",
                rep.p.r, rep.p.alpha, rep.p.a, rep.p.b, rep.ll, rep.method, rep.iterations,
                rep.starts, rep.starts_agree, rep.grad_norm, rep.n_groups, 1e3 * (oq_now() - t0));
        static const char *const nm[4] = {"r", "alpha", "a", "b"};
        const double est[4] = {rep.p.r, rep.p.alpha, rep.p.a, rep.p.b};
        print_params(4, nm, est, rep.se, rep.ci_lo, rep.ci_hi, rep.se_ok);
        if (!rep.converged)
            fprintf(stderr, "offerq bgnbd: warning: not converged; try --penalizer 0.001\n");
        fprintf(stderr, "offerq bgnbd: wrote %s\n", a.out);
    }
cleanup:
    oq_bgnbd_data_free(d);
    oq_bgnbd_summary_free(s);
    return rc;
}

static int do_score(int argc, char **argv)
{
    const char *cmd = "bgnbd score";
    args a;
    int rc = parse_args(cmd, argc, argv, &a);
    if (rc) return rc > 0 ? 0 : 2;
    if (!a.params) return cli_usage_error(cmd, "--params is required");
    if (a.model)
        return cli_usage_error(cmd, "--model belongs to 'bgnbd fit' (score uses the "
                                    "model of --params)");
    oq_error err = {0};
    oq_btyd_model m;
    double punit = 0;
    if (oq_btyd_params_load(a.params, &m, &punit, &err))
        return cli_fail(&err, "write it with 'offerq bgnbd fit'");
    const oq_bgnbd_params p = {m.par[0], m.par[1], m.par[2], m.par[3]};
    int is_bg = m.kind == OQ_BTYD_BGNBD;
    oq_ggamma_params gg = {0};
    if (a.spend && oq_ggamma_params_load(a.spend, &gg, &err)) return cli_fail(&err, NULL);
    if (!a.unit && !(punit > 0) && !a.summary)
        return cli_usage_error(cmd,
                               "%s does not say its time unit (it was fitted on a summary "
                               "CSV): pass --unit days or --unit weeks",
                               a.params);
    double unit = a.unit ? (!strcmp(a.unit, "weeks") ? 7 : 1) : (punit > 0 ? punit : 1);
    if (a.unit && punit > 0 && unit != punit)
        return cli_usage_error(cmd, "--unit %s differs from the unit of %s (%g days)", a.unit,
                               a.params, punit);
    if (a.spend && !a.unit && !(punit > 0))
        return cli_usage_error(cmd,
                               "the CLV needs the time unit (months are 30 days or 4.345 "
                               "weeks) and %s does not say it: pass --unit days or --unit weeks",
                               a.params);
    oq_bgnbd_summary *s = NULL;
    if ((rc = load_summary(cmd, &a, unit, &s)) || !s) return rc ? rc : 1;
    if (a.plot && !s->x_holdout) {
        oq_bgnbd_summary_free(s);
        return cli_usage_error(cmd, "--plot needs a holdout period (--observation-end, or "
                                    "holdout columns in the summary)");
    }
    if (a.plot && !is_bg) {
        oq_bgnbd_summary_free(s);
        return cli_usage_error(cmd, "--plot draws the BG/NBD holdout chart; %s holds %s", a.params,
                               oq_btyd_kind_name(m.kind));
    }
    if (a.spend && !s->monetary) {
        oq_bgnbd_summary_free(s);
        return cli_usage_error(cmd, "--spend needs purchase values: --value-column N, or a "
                                    "monetary_value column in --summary");
    }
    double *pa = malloc(s->n * sizeof *pa), *ex = malloc(s->n * sizeof *ex);
    oq_afile af = {0}, pf = {0};
    if (!pa || !ex) {
        rc = cli_fail(&(oq_error){.msg = "out of memory"}, NULL);
        goto cleanup;
    }
    double t = a.have_t ? a.t : 30.0 / unit;
    int per_t = !a.have_t && s->t_holdout;
    int bad = 0;
    if (is_bg) {
        bad = oq_bgnbd_p_alive_batch(&p, s->x, s->tx, s->T, s->n, pa) ||
              oq_bgnbd_expected_batch(&p, t, per_t ? s->t_holdout : NULL, s->x, s->tx, s->T, s->n,
                                      ex);
    } else {
        for (size_t i = 0; i < s->n && !bad; i++) {
            pa[i] = oq_btyd_p_alive(&m, s->x[i], s->tx[i], s->T[i]);
            bad = oq_btyd_expected(&m, per_t ? s->t_holdout[i] : t, s->x[i], s->tx[i], s->T[i],
                                   &ex[i]) != 0;
        }
    }
    if (bad) {
        rc = cli_fail(&(oq_error){.msg = "numerical failure computing the scores"}, NULL);
        goto cleanup;
    }
    if (oq_afile_open(&af, a.out, &err)) {
        rc = cli_fail(&err, NULL);
        goto cleanup;
    }
    fprintf(af.fp, "id,frequency,recency,T,p_alive,expected_purchases");
    for (long n = 0; n <= a.pn; n++)
        fprintf(af.fp, ",p_%ld", n);
    if (a.spend) fprintf(af.fp, ",monetary_value,expected_average_profit,clv");
    fprintf(af.fp, "\n");
    for (size_t i = 0; i < s->n; i++) {
        fprintf(af.fp, "%lld,%.17g,%.17g,%.17g,%.17g,%.17g", (long long)s->id[i], s->x[i], s->tx[i],
                s->T[i], pa[i], ex[i]);
        double ti = per_t ? s->t_holdout[i] : t;
        for (long n = 0; n <= a.pn; n++) {
            double pn = oq_btyd_p_n_cond(&m, ti, (int)n, s->x[i], s->tx[i], s->T[i]);
            if (!isfinite(pn)) {
                rc = cli_fail(&(oq_error){.msg = "numerical failure computing P(n) (--p-n)"}, NULL);
                goto cleanup;
            }
            fprintf(af.fp, ",%.17g", pn);
        }
        if (a.spend) {
            double clv;
            if (oq_btyd_clv(&m, &gg, s->x[i], s->tx[i], s->T[i], s->monetary[i], (int)a.months,
                            a.discount, unit, &clv)) {
                rc = cli_fail(&(oq_error){.msg = "numerical failure computing the CLV"}, NULL);
                goto cleanup;
            }
            fprintf(af.fp, ",%.17g,%.17g,%.17g", s->monetary[i],
                    oq_ggamma_expected_profit(&gg, s->x[i], s->monetary[i]), clv);
        }
        fprintf(af.fp, "\n");
    }
    if (oq_afile_commit(&af, &err)) {
        rc = cli_fail(&err, NULL);
        goto cleanup;
    }
    if (!a.quiet) fprintf(stderr, "offerq bgnbd: wrote %s (%zu customers)\n", a.out, s->n);
    if (s->x_holdout && per_t && !is_bg && !a.quiet) {
        double act = 0, pred = 0;
        for (size_t i = 0; i < s->n; i++) {
            act += s->x_holdout[i];
            pred += ex[i];
        }
        fprintf(stderr, "total holdout purchases: actual %.1f, predicted (%s) %.1f\n", act,
                oq_btyd_kind_name(m.kind), pred);
    }
    if (s->x_holdout && is_bg) {
        oq_bgnbd_holdout h;
        if (oq_bgnbd_holdout_report(&p, s, 7, &h, NULL, &err)) {
            rc = cli_fail(&err, NULL);
            goto cleanup;
        }
        if (!a.quiet) oq_bgnbd_holdout_print(&h, stderr);
        if (a.plot) {
            if (oq_afile_open(&pf, a.plot, &err)) {
                rc = cli_fail(&err, NULL);
                goto cleanup;
            }
            char title[256];
            snprintf(title, sizeof title, "BG/NBD calibration vs holdout (%zu customers, MAE %.3f)",
                     s->n, h.mae);
            oq_bgnbd_holdout_svg(&h, title, pf.fp);
            if (oq_afile_commit(&pf, &err)) {
                rc = cli_fail(&err, NULL);
                goto cleanup;
            }
            if (!a.quiet) fprintf(stderr, "offerq bgnbd: wrote %s\n", a.plot);
        }
    }
cleanup:
    oq_afile_abort(&af);
    oq_afile_abort(&pf);
    free(pa);
    free(ex);
    oq_bgnbd_summary_free(s);
    return rc;
}

/* bgnbd plot: the four diagnostic charts of lifetimes' plotting module. */
static int do_plot(int argc, char **argv)
{
    const char *cmd = "bgnbd plot";
    args a;
    int rc = parse_args(cmd, argc, argv, &a);
    if (rc) return rc > 0 ? 0 : 2;
    if (!a.params) return cli_usage_error(cmd, "--params is required");
    if (!a.kind)
        return cli_usage_error(cmd, "--kind is required (frequency-recency, p-alive, period or "
                                    "cumulative)");
    if (a.plot || a.spend || a.pn >= 0)
        return cli_usage_error(cmd, "--plot, --spend and --p-n do not apply to plot");
    oq_error err = {0};
    oq_btyd_model m;
    double punit = 0;
    if (oq_btyd_params_load(a.params, &m, &punit, &err))
        return cli_fail(&err, "write it with 'offerq bgnbd fit'");
    if (a.model && (int)m.kind != oq_btyd_kind_parse(a.model))
        return cli_usage_error(cmd,
                               "--model %s: %s holds a %s fit (the charts use the model of "
                               "--params)",
                               a.model, a.params, oq_btyd_kind_name(m.kind));
    static const char *const mname[] = {"BG/NBD", "MBG/NBD", "Pareto/NBD"};
    const char *mn = mname[m.kind];
    double unit = a.unit ? (!strcmp(a.unit, "weeks") ? 7 : 1) : (punit > 0 ? punit : 1);
    if (a.unit && punit > 0 && unit != punit)
        return cli_usage_error(cmd, "--unit %s differs from the unit of %s (%g days)", a.unit,
                               a.params, punit);
    /* a fit on a summary CSV without --unit does not know its unit */
    const char *un = !a.unit && !(punit > 0) ? "time units"
                     : unit == 7             ? "weeks"
                     : unit == 1             ? "days"
                                             : "units";
    char title[256];
    oq_afile af = {0};
    double *grid = NULL, *act = NULL, *exp_ = NULL;
    oq_bgnbd_tracking tr = {0};
    oq_bgnbd_summary *s = NULL;
    oq_bgnbd_tx *tx = NULL;
    int grid_kind = !strcmp(a.kind, "frequency-recency") ? OQ_BGNBD_GRID_EXPECTED
                    : !strcmp(a.kind, "p-alive")         ? OQ_BGNBD_GRID_ALIVE
                                                         : -1;
    if (grid_kind >= 0) {
        /* The grid needs no data: the ranges come from the options, or from
         * the data's largest frequency and age when a source is given. */
        int max_x = (int)a.max_freq, max_tx = (int)a.max_rec;
        int have_src = a.log || a.orders || a.transactions || a.summary;
        if (have_src) {
            if ((rc = load_summary(cmd, &a, unit, &s)) || !s) return rc ? rc : 1;
            double mx = 0, mt = 0;
            for (size_t i = 0; i < s->n; i++) {
                mx = fmax(mx, s->x[i]);
                mt = fmax(mt, s->T[i]);
            }
            if (max_x < 0) max_x = (int)fmin(mx, 1000);
            if (max_tx < 0) max_tx = (int)fmin(ceil(mt), 100000);
        }
        if (max_x < 0 || max_tx < 0) {
            oq_bgnbd_summary_free(s);
            return cli_usage_error(cmd, "give --max-frequency and --max-recency, or the data "
                                        "(their largest frequency and age)");
        }
        double t = a.have_t ? a.t : 1;
        grid = malloc((size_t)(max_x + 1) * (size_t)(max_tx + 1) * sizeof *grid);
        if (!grid) {
            oq_error_oom(&err, NULL, NULL);
            rc = cli_fail(&err, NULL);
            goto cleanup;
        }
        if (oq_btyd_grid(&m, grid_kind, max_x, max_tx, max_tx, t, grid, &err)) {
            rc = cli_fail(&err, NULL);
            goto cleanup;
        }
        if (oq_afile_open(&af, a.out, &err)) {
            rc = cli_fail(&err, NULL);
            goto cleanup;
        }
        char legend[128];
        if (grid_kind == OQ_BGNBD_GRID_ALIVE) {
            snprintf(title, sizeof title, "%s P(alive) by frequency and recency (age T = %d %s)",
                     mn, max_tx, un);
            snprintf(legend, sizeof legend, "P(alive)");
        } else {
            snprintf(title, sizeof title,
                     "%s: expected purchases in the next %g %s by frequency and recency (T = %d)",
                     mn, t, un, max_tx);
            snprintf(legend, sizeof legend, "E[X(%g)]", t);
        }
        oq_bgnbd_grid_svg(grid, max_x, max_tx, title, legend, af.fp);
    } else if (!strcmp(a.kind, "period")) {
        int max_x = a.max_freq > 0 ? (int)a.max_freq : 7;
        if ((rc = load_summary(cmd, &a, unit, &s)) || !s) return rc ? rc : 1;
        act = malloc((size_t)(max_x + 1) * sizeof *act);
        exp_ = malloc((size_t)(max_x + 1) * sizeof *exp_);
        if (!act || !exp_) {
            oq_error_oom(&err, NULL, NULL);
            rc = cli_fail(&err, NULL);
            goto cleanup;
        }
        if (oq_btyd_period_counts(&m, s, max_x, act, exp_, &err) ||
            oq_afile_open(&af, a.out, &err)) {
            rc = cli_fail(&err, NULL);
            goto cleanup;
        }
        snprintf(title, sizeof title,
                 "Repeat purchases per customer: actual vs %s (%zu "
                 "customers)",
                 mn, s->n);
        oq_bgnbd_period_svg(act, exp_, max_x, title, af.fp);
        if (!a.quiet) {
            fprintf(stderr, "  %-6s %10s %10s\n", "x", "actual", "model");
            for (int k = 0; k <= max_x; k++)
                fprintf(stderr, "  %s%-4d %10.0f %10.1f\n", k == max_x ? ">=" : "  ", k, act[k],
                        exp_[k]);
        }
    } else { /* cumulative */
        if (a.summary)
            return cli_usage_error(cmd, "--kind cumulative needs purchase dates: --log, "
                                        "--orders or --transactions, not --summary");
        if ((rc = load_tx(&a, &tx))) return rc;
        if (oq_btyd_tracking_build(&m, tx, unit, a.cal, &tr, &err) ||
            oq_afile_open(&af, a.out, &err)) {
            rc = cli_fail(&err, NULL);
            goto cleanup;
        }
        snprintf(title, sizeof title, "Cumulative repeat purchases: actual vs %s", mn);
        oq_bgnbd_tracking_svg(&tr, title, af.fp);
        if (!a.quiet)
            fprintf(stderr,
                    "offerq bgnbd: %.0f customers; repeat purchases by the last day: actual "
                    "%.0f, model %.1f\n",
                    tr.customers, tr.actual[tr.n_days - 1], tr.expected[tr.n_days - 1]);
    }
    if (oq_afile_commit(&af, &err)) {
        rc = cli_fail(&err, NULL);
        goto cleanup;
    }
    if (!a.quiet) fprintf(stderr, "offerq bgnbd: wrote %s\n", a.out);
cleanup:
    oq_afile_abort(&af);
    free(grid);
    free(act);
    free(exp_);
    oq_bgnbd_tracking_free(&tr);
    oq_bgnbd_tx_free(tx);
    oq_bgnbd_summary_free(s);
    return rc;
}

int cmd_bgnbd(int argc, char **argv)
{
    if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
        help(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    if (!strcmp(argv[1], "fit")) return do_fit(argc - 1, argv + 1);
    if (!strcmp(argv[1], "score")) return do_score(argc - 1, argv + 1);
    if (!strcmp(argv[1], "plot")) return do_plot(argc - 1, argv + 1);
    return cli_usage_error("bgnbd", "unknown subcommand '%s' (fit, score or plot)", argv[1]);
}
