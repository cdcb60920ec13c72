/* Embedding fastroute without Envoy or Python: open a router bundle, route prompts.
 *
 *   cc route.c -I<csrc> -L<dir of libfastroute.so> -lfastroute -Wl,-rpath,<that dir> -o route
 *   ./route <bundle dir> <static embedder dir> <share of strong calls> PROMPT...
 *
 * Prints, per prompt, the model it goes to and its win rate: the strong target when the win
 * rate >= the threshold that sends that share of the bundle's training prompts to it. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fastroute.h"

int main(int argc, char **argv)
{
    if (argc < 5) {
        fprintf(stderr, "usage: %s BUNDLE_DIR EMBEDDER_DIR SHARE PROMPT...\n", argv[0]);
        return 2;
    }
    fastroute_engine_options options = {0};
    options.embedder_dir = argv[2];
    fastroute_engine *engine;
    fastroute_error err;
    if (fastroute_engine_open(argv[1], &options, &engine, &err) != FASTROUTE_OK) {
        fprintf(stderr, "route: %s\n", err.message);
        return 1;
    }
    double threshold;
    if (fastroute_engine_threshold_for(engine, strtod(argv[3], NULL), &threshold, &err) != FASTROUTE_OK) {
        fprintf(stderr, "route: %s\n", err.message);
        fastroute_engine_close(engine);
        return 1;
    }
    fastroute_scratch *scratch = fastroute_scratch_for_engine(engine); /* one per thread */
    if (!scratch) {
        fastroute_engine_close(engine);
        return 1;
    }
    int status = 0;
    for (int i = 4; i < argc; i++) {
        const char *text = argv[i];
        const size_t len = strlen(text);
        double p;
        if (fastroute_engine_win_rates(engine, scratch, &text, &len, 1, &p, &err) != FASTROUTE_OK) {
            fprintf(stderr, "route: %s\n", err.message);
            status = 1;
            continue;
        }
        printf("%s\t%.6f\n", p >= threshold ? fastroute_engine_strong_model(engine) : fastroute_engine_weak_model(engine), p);
    }
    fastroute_scratch_free(scratch);
    fastroute_engine_close(engine);
    return status;
}
