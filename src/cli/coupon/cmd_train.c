/* cmd_train.c - `offerq train`: fit the profit Transformer on a log. */
#include "cli/cli.h"
#include "cli/coupon/profit_io.h"
#include "offerq/coupon/profit.h"

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
                "Options:\n"
                "  --log LOG.csv     customer log (required)\n"
                "  --events FILE     category stream user_id,date,category (default: the\n"
                "                    sidecar LOG.events.csv when it exists; without one the\n"
                "                    history is the customer's earlier log rows)\n"
                "  --out MODEL.ofq   model file to write (required; written atomically)\n"
                "  --epochs N        passes over the training set (default 3)\n"
                "  --batch N         minibatch size (default 256)\n"
                "  --lr X            AdamW learning rate (default 2e-3)\n"
                "  --weight-decay X  AdamW decoupled weight decay (default 0.01)\n"
                "  --clip X          gradient-norm clip, 0 = none (default 1)\n"
                "  --val X           share of customers held out (default 0.2)\n"
                "  --seq N --dim N --heads N --layers N --ff N --hidden N --dropout X\n"
                "                    architecture (default 30 32 4 2 64 64 0.1)\n"
                "  --seed S          initialisation, split, shuffling, dropout (default 1)\n"
                "  --quiet           no progress on stderr\n\n"
                "Example:\n"
                "  offerq gen --customers 1000 --seed 1 --out example/small.csv\n"
                "  offerq train --log example/small.csv --out example/profit.ofq --epochs 1\n"
                "(seconds; on the 70,000 rows of example/log.csv an epoch takes minutes)\n");
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
        O_QUIET
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
                                         {0, 0, 0, 0}};
    oq_profit_config cfg;
    oq_profit_config_default(&cfg);
    oq_profit_train_opts to;
    oq_profit_train_opts_default(&to);
    const char *log_path = NULL, *ev_path = NULL, *out = NULL;
    long lv;
    double dv;
    int c;
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
            break;
        }
        case O_DROP:
            if (cli_double("train", "--dropout", optarg, 0, 0.9, &dv)) return 2;
            cfg.dropout = (float)dv;
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
