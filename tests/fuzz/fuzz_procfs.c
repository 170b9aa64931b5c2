/* libFuzzer target: the agent's parsers of text it does not control -- the
 * /proc and cgroup files procmem.c reads (field and kb_field over status
 * and meminfo, parse_u64 over cgroup values; they are static, so
 * procmem.c is included here) and the LEAKSCOPE_* environment variables
 * options.c parses. The input's first byte picks the parser; the rest is
 * the file's text or the variables' values (NUL-separated). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/agent/procmem.c"
#include "agent/options.h"

static const char *const vars[] = {
    "LEAKSCOPE_OUT",    "LEAKSCOPE_PERIOD_MS", "LEAKSCOPE_PERIOD",  "LEAKSCOPE_DEPTH",
    "LEAKSCOPE_QUIET",  "LEAKSCOPE_FORK",      "LEAKSCOPE_SIGNALS", "LEAKSCOPE_DISABLE",
    "LEAKSCOPE_MMAP",   "LEAKSCOPE_SAMPLE",    "LEAKSCOPE_FOLLOW_EXEC",
};
#define NVARS (sizeof vars / sizeof vars[0])

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    if (len < 1 || len > 8192)
        return 0;
    char *text = malloc(len);
    memcpy(text, data + 1, len - 1);
    text[len - 1] = '\0';
    volatile uint64_t sink = 0;
    if (data[0] & 1) {
        static const char *const keys[] = {"VmSize", "VmRSS",   "RssAnon",  "RssFile",
                                           "VmSwap", "MemTotal", "Threads", ""};
        for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++)
            sink += kb_field(text, keys[i]) + field(text, keys[i]);
        const char *p = text;
        sink += parse_u64(&p);
        sink += parse_u64(&p);
    } else {
        const char *p = text;
        for (size_t i = 0; i < NVARS; i++) {
            if (p < text + len - 1) {
                setenv(vars[i], p, 1);
                p += strlen(p) + 1;
            } else {
                unsetenv(vars[i]);
            }
        }
        struct lk_options o;
        const char *bad = NULL;
        lk_options_load(&o, &bad);
        sink += o.period_ms + o.depth + o.sample_bytes + strlen(o.out);
    }
    (void)sink;
    free(text);
    return 0;
}
