/* cmd_publish.c - `offerq publish`: a run's Q table and daily list to Redis,
 * switched atomically; `--rollback` returns to the previous version. */
#include "cli/cli.h"
#include "offerq/prod/publish.h"

#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void help(FILE *fp)
{
    fprintf(fp, "Usage: offerq publish --redis URL DIR\n"
                "       offerq publish --redis URL --rollback\n"
                "       offerq publish --redis URL --status\n\n"
                "Writes DIR/qtable.ofq and DIR/recommendations.csv (+ report.json, eval.json,\n"
                "crosssell.json when present) to Redis as a new version, then switches the\n"
                "pointer key <prefix>:current to it in one atomic step. Readers see the old\n"
                "version or the new one, never half of one; a publish that dies before the\n"
                "switch changes nothing. The version before is kept: --rollback swaps back\n"
                "(a second --rollback rolls forward again).\n\n"
                "Every file is checked before Redis is touched: the list with its reader, the\n"
                "Q table with its loader (size, CRC), the .json files as JSON. Publishes may\n"
                "overlap: each claims its own version, which no other publish deletes while\n"
                "its writer is connected; the one that switches last is served. Versions of\n"
                "dead publishes and keys of no version are removed by the next publish.\n\n"
                "Versions: a publish takes max(last version + 1, floor), floor being --run-id\n"
                "or else the sequence number of a run folder of `offerq run --out-dir`\n"
                "(DIR.runs/<seq>-<time>), so versions keep increasing when Redis restarts\n"
                "empty, and equal the PostgreSQL run ids when the nightly passes them.\n\n"
                "Options:\n"
                "  --redis URL     redis://[[user]:password@]host[:port][/db] or unix:/path\n"
                "                  (or $OFFERQ_REDIS); password also from $OFFERQ_REDIS_PASSWORD\n"
                "                  (ACL user: redis://user:password@host; requirepass only:\n"
                "                  redis://:password@host; %%XX for special characters)\n"
                "                  or a Redis Cluster: redis+cluster://host:port[,host:port...]\n"
                "                  (any nodes; keys under {P}, one slot: docs/readme/prod.md)\n"
                "  --run-id N      the run's id (e.g. `offerq run --pg`'s run N): the version\n"
                "                  is at least N\n"
                "  --prefix P      key prefix (default offerq)\n"
                "  --rollback      make the previous version current again\n"
                "  --status        print the current and previous versions\n"
                "  --redis-timeout-ms MS  bound on connecting and on each command (default\n"
                "                  5000): a frozen Redis is an error after it, not a hang\n"
                "  --wait-replicas N  after the switch, wait until N replicas of the master\n"
                "                  holding the keys have it (Redis WAIT); fewer in time: exit 1,\n"
                "                  the version stays live (replication is asynchronous: without\n"
                "                  this a failover right after a publish can lose it)\n"
                "  --wait-timeout-ms MS  bound on that wait (default: half of\n"
                "                  --redis-timeout-ms; must be below it)\n\n"
                "Example:\n  offerq publish --redis redis://127.0.0.1:6379 example/run\n"
                "  offerq publish --redis redis://127.0.0.1:6379 --run-id 42 example/run\n"
                "  (with a password: --redis redis://user:PASSWORD@127.0.0.1:6379, or\n"
                "  OFFERQ_REDIS_PASSWORD=PASSWORD in the environment)\n");
}

int cmd_publish(int argc, char **argv)
{
    enum {
        O_REDIS = 256,
        O_PREFIX,
        O_ROLLBACK,
        O_STATUS,
        O_PAUSE,
        O_PAUSE_LIST,
        O_TIMEOUT,
        O_RUN_ID,
        O_WAIT,
        O_WAIT_MS
    };
    static const struct option opts[] = {
        {"help", no_argument, 0, 'h'},
        {"redis", required_argument, 0, O_REDIS},
        {"prefix", required_argument, 0, O_PREFIX},
        {"rollback", no_argument, 0, O_ROLLBACK},
        {"status", no_argument, 0, O_STATUS},
        {"redis-timeout-ms", required_argument, 0, O_TIMEOUT},
        {"run-id", required_argument, 0, O_RUN_ID},
        {"wait-replicas", required_argument, 0, O_WAIT},
        {"wait-timeout-ms", required_argument, 0, O_WAIT_MS},
        /* tests only: sleep before the switch */
        {"debug-pause-ms", required_argument, 0, O_PAUSE},
        /* tests only: sleep before sending the list */
        {"debug-pause-list-ms", required_argument, 0, O_PAUSE_LIST},
        {0, 0, 0, 0}};
    const char *url = getenv("OFFERQ_REDIS");
    oq_publish_opts po = {0};
    int rollback = 0, status = 0, c;
    long lv;
    optind = 1;
    while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (c) {
        case 'h':
            help(stdout);
            return 0;
        case O_REDIS:
            url = optarg;
            break;
        case O_PREFIX:
            po.prefix = optarg;
            break;
        case O_ROLLBACK:
            rollback = 1;
            break;
        case O_STATUS:
            status = 1;
            break;
        case O_PAUSE:
            if (cli_long("publish", "--debug-pause-ms", optarg, 0, 600000, &lv)) return 2;
            po.pause_before_switch_ms = (int)lv;
            break;
        case O_TIMEOUT:
            if (cli_long("publish", "--redis-timeout-ms", optarg, 1, 3600000, &lv)) return 2;
            po.timeout_ms = (int)lv;
            break;
        case O_RUN_ID:
            if (cli_long("publish", "--run-id", optarg, 1, 1000000000000000L, &lv)) return 2;
            po.run_id = lv;
            break;
        case O_WAIT:
            if (cli_long("publish", "--wait-replicas", optarg, 1, 1000, &lv)) return 2;
            po.wait_replicas = (int)lv;
            break;
        case O_WAIT_MS:
            if (cli_long("publish", "--wait-timeout-ms", optarg, 1, 3600000, &lv)) return 2;
            po.wait_timeout_ms = (int)lv;
            break;
        case O_PAUSE_LIST:
            if (cli_long("publish", "--debug-pause-list-ms", optarg, 0, 600000, &lv)) return 2;
            po.pause_before_list_ms = (int)lv;
            break;
        default:
            return cli_bad_option("publish");
        }
    }
    if (!url || !*url)
        return cli_usage_error("publish", "--redis URL is required (or set OFFERQ_REDIS)");
    if (rollback + status > 1)
        return cli_usage_error("publish", "--rollback and --status exclude each other");
    if (po.wait_timeout_ms && !po.wait_replicas)
        return cli_usage_error("publish", "--wait-timeout-ms needs --wait-replicas N");
    if (po.wait_timeout_ms >= (po.timeout_ms > 0 ? po.timeout_ms : OQ_REDIS_TIMEOUT_MS))
        return cli_usage_error("publish", "--wait-timeout-ms must be below --redis-timeout-ms "
                                          "(default 5000), which bounds the WAIT's answer");
    /* A Redis that dies mid-write would otherwise kill us with SIGPIPE, silently;
     * ignored, the write fails with EPIPE and the error is reported. */
    signal(SIGPIPE, SIG_IGN);
    oq_error err = {0};
    oq_publish_info info = {0};
    if (rollback || status) {
        if (optind != argc) return cli_usage_error("publish", "--rollback/--status take no DIR");
        if (rollback ? oq_publish_rollback(url, &po, &info, &err)
                     : oq_publish_status(url, &po, &info, &err))
            return cli_fail(&err, NULL);
        printf("current %lld\nprevious %lld\n", info.current, info.previous);
        return 0;
    }
    if (optind != argc - 1) return cli_usage_error("publish", "expects exactly one DIR");
    if (oq_publish_dir(url, argv[optind], &po, &info, &err)) {
        char hint[160];
        if (info.current && po.wait_replicas && info.acked < po.wait_replicas)
            snprintf(hint, sizeof hint,
                     "version %lld is live; publish again once the replicas "
                     "are back, or check them (INFO replication)",
                     info.current);
        else if (info.current) /* the switch happened; removing old versions did not */
            snprintf(hint, sizeof hint, "version %lld is live; old versions were not all removed",
                     info.current);
        else
            snprintf(hint, sizeof hint, "nothing was switched; the served version is unchanged");
        return cli_fail(&err, hint);
    }
    printf("current %lld\nprevious %lld\n", info.current, info.previous);
    fprintf(stderr, "offerq publish: version %lld live (%zu users, Q table %zu bytes)\n",
            info.current, info.users, info.qtable_bytes);
    if (po.wait_replicas)
        fprintf(stderr, "offerq publish: %d replicas acknowledged it\n", info.acked);
    return 0;
}
