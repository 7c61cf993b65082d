/* replay_main.c - runs a libFuzzer target over every file of its corpus with
 * any compiler (gcc, sanitizers), so fuzz findings replay as ordinary tests.
 *   replay_<name> DIR...   (each DIR's files, in name order) */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int cmp(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
    size_t total = 0;
    for (int a = 1; a < argc; a++) {
        DIR *d = opendir(argv[a]);
        if (!d) {
            fprintf(stderr, "replay: cannot open %s\n", argv[a]);
            return 1;
        }
        char *names[4096];
        size_t n = 0;
        struct dirent *e;
        while ((e = readdir(d)) && n < 4096)
            if (e->d_name[0] != '.') names[n++] = strdup(e->d_name);
        closedir(d);
        qsort(names, n, sizeof *names, cmp);
        for (size_t i = 0; i < n; i++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", argv[a], names[i]);
            FILE *fp = fopen(path, "rb");
            if (!fp) return 1;
            fseek(fp, 0, SEEK_END);
            long len = ftell(fp);
            fseek(fp, 0, SEEK_SET);
            uint8_t *buf = malloc((size_t)len + 1);
            if (fread(buf, 1, (size_t)len, fp) != (size_t)len) return 1;
            fclose(fp);
            LLVMFuzzerTestOneInput(buf, (size_t)len);
            free(buf);
            free(names[i]);
            total++;
        }
    }
    printf("replay: %zu inputs, no crash\n", total);
    return total ? 0 : 1;
}
