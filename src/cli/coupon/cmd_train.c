/* cmd_train.c - `offerq train`: fit the profit Transformer, or the sequence
 * response model, on a log. */
#include "cli/cli.h"
#include "cli/coupon/profit_io.h"
#include "offerq/core/io.h"
#include "offerq/coupon/alive.h"
#include "offerq/coupon/profit.h"
#include "offerq/coupon/reward.h"
#include "offerq/coupon/seq.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

static void help(FILE *fp)
{
    fprintf(fp, "Usage: offerq train --log LOG.csv --out MODEL.ofq [options]\n\n"
                "Trains the profit model (the seed's WorldTransformer, docs/readme/profit.md):\n"
                "from each log row's 30-day category stream, 5 state features and coupon it\n"
                "predicts the reward (order_profit - coupon when ordered, else 0). Customers\n"
                "are split into training and validation sets; each epoch prints the\n"
                "validation MSE and the MSE of predicting the mean.\n\n"
                "With --reward sequence it trains the sequence response model instead\n"
                "(docs/readme/profit.md): P(order | the customer's daily browsing, orders and\n"
                "earlier contacts, coupon) from a Transformer whose coupon query attends\n"
                "over the history, with the log's state features and BG/NBD P(alive). Each\n"
                "epoch reports the held-out customers' log-loss (beside that of each\n"
                "coupon's order rate) and the doubly-robust value of the model's greedy\n"
                "policy r^ = P(order) (g - coupon) from the logged propensities; the epoch\n"
                "with the best DR value is kept (early stopping). `offerq run --reward\n"
                "sequence --model FILE` reuses it.\n\n"
                "Options:\n"
                "  --reward NAME     transformer (default: the profit Transformer) or sequence\n"
                "  --log LOG.csv     customer log (required)\n"
                "  --events FILE     category stream user_id,date,category (default: the\n"
                "                    sidecar LOG.events.csv when it exists; without one the\n"
                "                    history is the customer's earlier log rows)\n"
                "  --out MODEL.ofq   model file to write (required; written atomically)\n"
                "  --orders FILE     sequence: purchases user_id,date,value (default: the\n"
                "                    sidecar LOG.orders.csv when it exists, else the log's\n"
                "                    order rows)\n"
                "  --epochs N        passes over the training set (default 3; sequence: at\n"
                "                    most 10, early stopping)\n"
                "  --patience N      sequence: from epoch 5 on, stop after N epochs without a\n"
                "                    better held-out DR value (default 3; 0 = run every epoch)\n"
                "  --batch N         minibatch size (default 256)\n"
                "  --lr X            AdamW learning rate (default 2e-3)\n"
                "  --weight-decay X  AdamW decoupled weight decay (default 0.01)\n"
                "  --clip X          gradient-norm clip, 0 = none (default 1)\n"
                "  --val X           share of customers held out (default 0.2)\n"
                "  --seq N --dim N --heads N --layers N --ff N --hidden N --dropout X\n"
                "                    architecture (default 30 32 4 2 64 64 0.1; sequence:\n"
                "                    30 32 4 1 64 64 0.1)\n"
                "  --pool-heads N    sequence: heads of the coupon query pooling (default 4)\n"
                "  --bands N         sequence: order value bands (default 4)\n"
                "  --seed S          initialisation, split, shuffling, dropout (default 1)\n"
                "  --quiet           no progress on stderr\n\n"
                "Example:\n"
                "  offerq gen --customers 1000 --seed 1 --out example/small.csv\n"
                "  offerq train --log example/small.csv --out example/profit.ofq --epochs 1\n"
                "(seconds; on the 70,000 rows of example/log.csv an epoch takes minutes)\n");
}

/* `offerq train --reward sequence`: BG/NBD on the purchases (P(alive) is a
 * feature), then the sequence reward model's own fit (reward_sequence.c),
 * which trains with the held-out report and writes the model. */
static int train_sequence(const char *log_path, const char *ev_path, const char *orders,
                          const char *out, const oq_seq_opts *so)
{
    oq_error err = {0};
    oq_log *log = NULL, *tom = NULL;
    oq_log_index *ix = NULL;
    oq_alive *alive = NULL;
    oq_reward *rw = NULL;
    int rc = 1;
    if (oq_log_read(log_path, &log, &err)) return cli_fail(&err, "fix the log and run again");
    int32_t day = oq_log_last_day(log) + 1;
    oq_alive_opts ao = {.log_path = log_path, .orders_path = orders, .quiet = so->train.quiet};
    if (oq_log_index_build(log, &ix, &err) || oq_log_tomorrow(log, ix, day, &tom, &err) ||
        oq_alive_fit(log, &ao, &alive, &err)) {
        cli_fail(&err, NULL);
        goto cleanup;
    }
    oq_reward_input in = {.log = log,
                          .ix = ix,
                          .day = day,
                          .tomorrow = tom,
                          .alive = alive,
                          .log_path = log_path,
                          .events_path = ev_path,
                          .save_model = out,
                          .seq = so,
                          .seed = so->train.seed,
                          .quiet = so->train.quiet};
    if (oq_reward_fit(OQ_REWARD_SEQUENCE, &in, &rw, &err)) {
        cli_fail(&err, NULL);
        goto cleanup;
    }
    if (!so->train.quiet) fprintf(stderr, "offerq train: wrote %s\n", out);
    rc = 0;
cleanup:
    oq_reward_free(rw);
    oq_alive_free(alive);
    oq_log_free(tom);
    oq_log_index_free(ix);
    oq_log_free(log);
    return rc;
}

int cmd_train(int argc, char **argv)
{
    enum {
        O_LOG = 256,
        O_EV,
        O_OUT,
        O_EP,
        O_BATCH,
        O_LR,
        O_WD,
        O_CLIP,
        O_VAL,
        O_SEQ,
        O_DIM,
        O_HEADS,
        O_LAYERS,
        O_FF,
        O_HID,
        O_DROP,
        O_SEED,
        O_QUIET,
        O_REWARD,
        O_ORDERS,
        O_PAT,
        O_PH,
        O_BANDS
    };
    static const struct option opts[] = {{"help", no_argument, 0, 'h'},
                                         {"log", required_argument, 0, O_LOG},
                                         {"events", required_argument, 0, O_EV},
                                         {"out", required_argument, 0, O_OUT},
                                         {"epochs", required_argument, 0, O_EP},
                                         {"batch", required_argument, 0, O_BATCH},
                                         {"lr", required_argument, 0, O_LR},
                                         {"weight-decay", required_argument, 0, O_WD},
                                         {"clip", required_argument, 0, O_CLIP},
                                         {"val", required_argument, 0, O_VAL},
                                         {"seq", required_argument, 0, O_SEQ},
                                         {"dim", required_argument, 0, O_DIM},
                                         {"heads", required_argument, 0, O_HEADS},
                                         {"layers", required_argument, 0, O_LAYERS},
                                         {"ff", required_argument, 0, O_FF},
                                         {"hidden", required_argument, 0, O_HID},
                                         {"dropout", required_argument, 0, O_DROP},
                                         {"seed", required_argument, 0, O_SEED},
                                         {"quiet", no_argument, 0, O_QUIET},
                                         {"reward", required_argument, 0, O_REWARD},
                                         {"orders", required_argument, 0, O_ORDERS},
                                         {"patience", required_argument, 0, O_PAT},
                                         {"pool-heads", required_argument, 0, O_PH},
                                         {"bands", required_argument, 0, O_BANDS},
                                         {0, 0, 0, 0}};
    oq_profit_config cfg;
    oq_profit_config_default(&cfg);
    oq_profit_train_opts to;
    oq_profit_train_opts_default(&to);
    const char *log_path = NULL, *ev_path = NULL, *out = NULL, *orders = NULL;
    long lv;
    double dv;
    int c, sequence = 0, set[8] = {0}, patience = -1, pool_heads = 0, bands = 0;
    int dims[6] = {0};
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            help(stdout);
            return 0;
        case O_LOG:
            log_path = optarg;
            break;
        case O_EV:
            ev_path = optarg;
            break;
        case O_OUT:
            if (cli_out_path("train", "--out", optarg, 0)) return 2;
            out = optarg;
            break;
        case O_EP:
            if (cli_long("train", "--epochs", optarg, 1, 100000, &lv)) return 2;
            to.epochs = (int)lv;
            set[1] = 1;
            break;
        case O_BATCH:
            if (cli_long("train", "--batch", optarg, 1, 65536, &lv)) return 2;
            to.batch = (int)lv;
            break;
        case O_LR:
            if (cli_double("train", "--lr", optarg, 1e-9, 10, &to.lr)) return 2;
            break;
        case O_WD:
            if (cli_double("train", "--weight-decay", optarg, 0, 10, &to.weight_decay)) return 2;
            break;
        case O_CLIP:
            if (cli_double("train", "--clip", optarg, 0, 1e9, &to.clip)) return 2;
            break;
        case O_VAL:
            if (cli_double("train", "--val", optarg, 0, 0.9, &to.val_frac)) return 2;
            break;
        case O_SEQ:
        case O_DIM:
        case O_HEADS:
        case O_LAYERS:
        case O_FF:
        case O_HID: {
            static const char *names[] = {"--seq",    "--dim", "--heads",
                                          "--layers", "--ff",  "--hidden"};
            int *dst[] = {&cfg.seq_len, &cfg.d, &cfg.heads, &cfg.layers, &cfg.ff, &cfg.hidden};
            if (cli_long("train", names[c - O_SEQ], optarg, 1, 4096, &lv)) return 2;
            *dst[c - O_SEQ] = (int)lv;
            dims[c - O_SEQ] = (int)lv;
            break;
        }
        case O_DROP:
            if (cli_double("train", "--dropout", optarg, 0, 0.9, &dv)) return 2;
            cfg.dropout = (float)dv;
            set[0] = 1;
            break;
        case O_REWARD:
            if (!strcmp(optarg, "sequence"))
                sequence = 1;
            else if (strcmp(optarg, "transformer") != 0)
                return cli_usage_error("train",
                                       "--reward: expected transformer or sequence, got "
                                       "'%s'",
                                       optarg);
            break;
        case O_ORDERS:
            orders = optarg;
            break;
        case O_PAT:
            if (cli_long("train", "--patience", optarg, 0, 1000, &lv)) return 2;
            patience = (int)lv;
            break;
        case O_PH:
            if (cli_long("train", "--pool-heads", optarg, 1, 4096, &lv)) return 2;
            pool_heads = (int)lv;
            break;
        case O_BANDS:
            if (cli_long("train", "--bands", optarg, 1, OQ_SEQ_MAX_BANDS, &lv)) return 2;
            bands = (int)lv;
            break;
        case O_SEED:
            if (cli_u64("train", "--seed", optarg, &to.seed)) return 2;
            break;
        case O_QUIET:
            to.quiet = 1;
            break;
        default:
            return cli_bad_option("train");
        }
    }
    if (optind != argc) return cli_usage_error("train", "unexpected argument '%s'", argv[optind]);
    if (!log_path) return cli_usage_error("train", "--log LOG.csv is required");
    if (!out) return cli_usage_error("train", "--out MODEL.ofq is required");
    if (cfg.d % cfg.heads)
        return cli_usage_error("train", "--heads (%d) must divide --dim (%d)", cfg.heads, cfg.d);
    if (!sequence && (orders || patience >= 0 || pool_heads || bands))
        return cli_usage_error("train", "--orders, --patience, --pool-heads and --bands are for "
                                        "the sequence model (--reward sequence)");
    if (sequence) {
        oq_seq_opts so;
        oq_seq_opts_default(&so);
        int *dst[] = {&so.cfg.seq_len, &so.cfg.d,  &so.cfg.heads,
                      &so.cfg.layers,  &so.cfg.ff, &so.cfg.hidden};
        for (int k = 0; k < 6; k++)
            if (dims[k]) *dst[k] = dims[k];
        if (set[0]) so.cfg.dropout = cfg.dropout;
        if (pool_heads) so.cfg.pool_heads = pool_heads;
        if (bands) so.cfg.n_bands = bands;
        if (so.cfg.d % so.cfg.heads || so.cfg.d % so.cfg.pool_heads)
            return cli_usage_error("train", "--heads and --pool-heads must divide --dim (%d)",
                                   so.cfg.d);
        if (so.cfg.seq_len > OQ_SEQ_MAX_SEQ)
            return cli_usage_error("train", "--seq: at most %d days", OQ_SEQ_MAX_SEQ);
        so.train.batch = to.batch;
        so.train.lr = to.lr;
        so.train.weight_decay = to.weight_decay;
        so.train.clip = to.clip;
        so.train.val_frac = to.val_frac;
        so.train.seed = to.seed;
        so.train.quiet = to.quiet;
        if (set[1]) so.train.epochs = to.epochs;
        if (patience >= 0) so.train.patience = patience;
        return train_sequence(log_path, ev_path, orders, out, &so);
    }

    profit_input in;
    int rc = profit_input_open(&in, log_path, ev_path, to.quiet);
    if (rc) return rc;
    oq_error err = {0};
    oq_profit_data *d = NULL;
    oq_profit_samples *s = NULL;
    oq_profit *m = NULL;
    oq_profit_epoch *hist = NULL;
    rc = 1;
    if (oq_profit_data_new(in.log, in.ix, in.ev, NULL, cfg.seq_len, &d, &err) ||
        oq_profit_data_build(d, &s, &err) ||
        oq_profit_new(&cfg, &in.log->cats, to.seed, &m, &err)) {
        cli_fail(&err, NULL);
        goto cleanup;
    }
    if (!to.quiet)
        fprintf(stderr, "offerq train: %zu samples, %zu customers, %zu parameters\n", s->n,
                in.ix->n_customers, m->n_params);
    if (oq_profit_train(m, s, &to, NULL, &err)) {
        cli_fail(&err, NULL);
        goto cleanup;
    }
    if (oq_profit_save(m, out, &err)) {
        cli_fail(&err, NULL);
        goto cleanup;
    }
    if (!to.quiet) fprintf(stderr, "offerq train: wrote %s\n", out);
    rc = 0;
cleanup:
    (void)hist;
    oq_profit_free(m);
    oq_profit_samples_free(s);
    oq_profit_data_free(d);
    profit_input_close(&in);
    return rc;
}
