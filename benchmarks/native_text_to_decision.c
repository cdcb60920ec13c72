/* The C API's own cost, text to decision, one prompt per call on one thread (what a host's
 * worker thread pays): reads prompts (one per line) from stdin, routes each `reps` times
 * through fastroute_engine_win_rates, and prints the median and p99 of the per-call times in
 * microseconds, plus the engine's resident memory. benchmarks/native_bench.py runs it beside
 * the Python API. Usage: native_text_to_decision BUNDLE EMBEDDER_DIR REPS < prompts */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fastroute.h"

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e6 + (double)t.tv_nsec / 1e3;
}

static long rss_kb(void)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = -1;
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, "VmRSS:", 6) == 0)
            kb = strtol(line + 6, NULL, 10);
    if (f)
        fclose(f);
    return kb;
}

static int cmp(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int main(int argc, char **argv)
{
    if (argc != 4)
        return 2;
    const long before = rss_kb();
    fastroute_engine_options o = {0};
    o.embedder_dir = argv[2];
    fastroute_engine *e;
    fastroute_error err;
    if (fastroute_engine_open(argv[1], &o, &e, &err) != FASTROUTE_OK) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    fastroute_scratch *s = fastroute_scratch_for_engine(e);
    const long loaded = rss_kb();
    size_t cap = 1024, n = 0;
    char **prompts = malloc(cap * sizeof *prompts);
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    while ((len = getline(&line, &lcap, stdin)) > 0) {
        if (line[len - 1] == '\n')
            line[--len] = '\0';
        if (n == cap)
            prompts = realloc(prompts, (cap *= 2) * sizeof *prompts);
        prompts[n++] = strdup(line);
    }
    const int reps = atoi(argv[3]);
    double *t = malloc(sizeof(double) * n * (size_t)reps);
    double threshold = 0.5, sink = 0;
    fastroute_engine_threshold_for(e, 0.5, &threshold, &err);
    size_t k = 0;
    for (int r = 0; r < reps; r++)
        for (size_t i = 0; i < n; i++) {
            const char *text = prompts[i];
            const size_t l = strlen(text);
            double p;
            const double t0 = now_us();
            fastroute_engine_win_rates(e, s, &text, &l, 1, &p, &err);
            const char *model = p >= threshold ? fastroute_engine_strong_model(e) : fastroute_engine_weak_model(e);
            t[k++] = now_us() - t0;
            sink += p + (double)(model[0] == 'x');
        }
    qsort(t, k, sizeof *t, cmp);
    printf("{\"median_us\": %.3f, \"p99_us\": %.3f, \"calls\": %zu, \"rss_engine_kb\": %ld, \"scratch_bytes\": %zu, \"sink\": %.3f}\n",
           t[k / 2], t[(size_t)(k * 0.99)], k, loaded - before, fastroute_scratch_bytes(s), sink);
    return 0;
}
