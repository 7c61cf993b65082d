/* cmd_rock.c - placeholder until rock.c lands */
#include "cli/cli.h"
#include <stdio.h>
int cmd_rock(int argc, char **argv)
{
    (void)argc;
    (void)argv;
    fprintf(stderr, "offerq rock: not built yet\n");
    return 2;
}
