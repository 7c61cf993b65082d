/* fuzz_cli_nightlyconf.c - libFuzzer target: the configuration file of
 * `offerq nightly` (src/cli/prod/nightly_conf.c: libinih, then every value
 * checked, [run] and [crosssell] by the commands' own option parsers).
 * A file is accepted with exactly one source (pg or log) and an output dir,
 * or refused with at least one problem counted; the effective entries print
 * (passwords as ***) and everything read is freed (LeakSanitizer). Problems
 * go to stderr, as in `offerq nightly --check`. */
#include "cli/prod/nightly_conf.h"
#include "fuzz_util.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static FILE *sink;
    if (!sink && !(sink = fopen("/dev/null", "w"))) abort();
    nightly_conf c;
    int rc = nightly_conf_load(&c, fuzz_file(data, size));
    if (rc == 0) {
        if (c.errors) abort();
        if (!c.dir || !c.dir[0] || !c.pg == !c.log) abort(); /* one source, a folder */
        if (!c.lock[0] || !c.status[0]) abort();
        if (c.wait_timeout_ms && !c.wait_replicas) abort();
        if (c.run_argc < 1 || !c.run_argv || c.run_argv[c.run_argc]) abort();
        nightly_conf_print(&c, sink);
        if (c.password && c.password[0]) {
            /* the password is never printed: print into memory, and the line
             * of [publish] password (a line that starts so: values hold no
             * newline) shows *** */
            char *buf = NULL;
            size_t len = 0;
            FILE *m = open_memstream(&buf, &len);
            if (!m) abort();
            nightly_conf_print(&c, m);
            fclose(m);
            static const char key[] = "  [publish] password = ";
            int seen = 0;
            for (const char *l = buf; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
                if (!strncmp(l, key, sizeof key - 1)) {
                    seen = 1;
                    if (strncmp(l + sizeof key - 1, "***", 3) != 0) abort();
                }
            if (!seen) abort();
            free(buf);
        }
    } else if (c.errors == 0 && rc != -1) {
        abort();
    }
    nightly_conf_free(&c);
    return 0;
}
