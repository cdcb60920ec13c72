/* Model names: fastroute.data.aliases.canonical_model in C (the table is that module's
 * ALIASES; tests/native/test_engine.py checks that both give the same spelling). */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "fre.h"

static const char *const FRE_ALIASES[][2] = {
    {"gpt4-1106-preview", "gpt-4-1106-preview"},
    {"gpt4-0314", "gpt-4-0314"},
    {"gpt4", "gpt-4-0314"},
    {"gpt4-0613", "gpt-4-0613"},
    {"gpt4-0613-concise", "gpt-4-0613-concise"},
    {"gpt35-turbo-instruct", "gpt-3.5-turbo-instruct"},
    {"gpt-3.5-turbo-0301", "gpt-3.5-turbo-0314"},
    {"mixtral-8x7b-chat", "mixtral-8x7b-instruct-v0.1"},
    {"mixtral-8x7b-instruct", "mixtral-8x7b-instruct-v0.1"},
    {"mistral-7b-chat", "mistral-7b-instruct"},
    {"claude", "claude-1"},
    {"claude-v1", "claude-1"},
    {"claude-2", "claude-2.0"},
    {"claude-v2", "claude-2.0"},
    {"claude-instant-v1", "claude-instant-1"},
    {"claude-instant-1.2", "claude-instant-1"},
    {"llama-2-70b-chat-hf", "llama-2-70b-chat"},
    {"llama-2-13b-chat-hf", "llama-2-13b-chat"},
    {"llama-2-7b-chat-hf", "llama-2-7b-chat"},
    {"code-llama-instruct-34b-chat", "codellama-34b-instruct"},
    {"wizardlm-13b-v1.2", "wizardlm-13b"},
    {"vicuna-33b-v1.3", "vicuna-33b"},
};

/* Python's str.strip() whitespace, for the ASCII range (what model names hold). */
static int fre_py_space(unsigned char c) { return c == ' ' || (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x1f); }

void fre_canonical_model(const char *name, char *out, size_t cap)
{
    if (!cap)
        return;
    size_t lo = 0, hi = strlen(name);
    while (lo < hi && fre_py_space((unsigned char)name[lo]))
        lo++;
    while (hi > lo && fre_py_space((unsigned char)name[hi - 1]))
        hi--;
    for (size_t i = hi; i > lo; i--) /* rsplit("/", 1)[-1] */
        if (name[i - 1] == '/') {
            lo = i;
            break;
        }
    size_t k = 0;
    for (size_t i = lo; i < hi && k + 1 < cap; i++) {
        const unsigned char c = (unsigned char)name[i];
        out[k++] = c == '_' ? '-' : (char)(c < 0x80 ? tolower(c) : c); /* lower(): ASCII here */
    }
    out[k] = '\0';
    for (size_t a = 0; a < sizeof FRE_ALIASES / sizeof FRE_ALIASES[0]; a++)
        if (strcmp(out, FRE_ALIASES[a][0]) == 0) {
            snprintf(out, cap, "%s", FRE_ALIASES[a][1]);
            return;
        }
}

int fre_model_index(const fastroute_engine *e, const char *name)
{
    for (int i = 0; i < e->n_models; i++)
        if (strcmp(e->models[i], name) == 0)
            return i;
    char want[256], have[256];
    fre_canonical_model(name, want, sizeof want);
    for (int i = 0; i < e->n_models; i++) { /* the first model of that canonical spelling */
        fre_canonical_model(e->models[i], have, sizeof have);
        if (strcmp(have, want) == 0)
            return i;
    }
    return -1;
}
