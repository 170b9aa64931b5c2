/* Content samples as hex and printable text, and retainers' names
 * (content.h). The samples are what the agent copied from blocks at a
 * scan, already redacted; this module only shows them and never shows a
 * redacted byte as anything but a star. Stdio and snprintf only. */
#include "content.h"

#include <string.h>

#include "../record/format.h"

int
lk_content_redacted(const struct lk_model_sample *s, size_t i)
{
    if (i >= s->len)
        return 0;
    return (s->redacted[i / 8] >> (i % 8)) & 1;
}

void
lk_content_hex(char *buf, size_t cap, const struct lk_model_sample *s, size_t off, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    size_t k = 0;
    if (!cap)
        return;
    for (size_t i = off; i < off + n && i < s->len && k + 4 <= cap; i++) {
        if (i > off)
            buf[k++] = ' ';
        if (lk_content_redacted(s, i)) {
            buf[k++] = '*';
            buf[k++] = '*';
        } else {
            buf[k++] = hex[s->content[i] >> 4];
            buf[k++] = hex[s->content[i] & 15];
        }
    }
    buf[k] = 0;
}

void
lk_content_text(char *buf, size_t cap, const struct lk_model_sample *s, size_t off, size_t n)
{
    size_t k = 0;
    if (!cap)
        return;
    for (size_t i = off; i < off + n && i < s->len && k + 2 <= cap; i++) {
        uint8_t c = s->content[i];
        buf[k++] = lk_content_redacted(s, i) ? '*' : (c >= 0x20 && c < 0x7f ? (char)c : '.');
    }
    buf[k] = 0;
}

void
lk_content_dump(FILE *out, const char *indent, const struct lk_model_sample *s)
{
    char hex[3 * LK_CONTENT_ROW + 1], text[LK_CONTENT_ROW + 1];
    for (size_t off = 0; off < s->len; off += LK_CONTENT_ROW) {
        lk_content_hex(hex, sizeof hex, s, off, LK_CONTENT_ROW);
        lk_content_text(text, sizeof text, s, off, LK_CONTENT_ROW);
        fprintf(out, "%s%04zx  %-*s  |%s|\n", indent, off, 3 * LK_CONTENT_ROW - 1, hex, text);
    }
    if (!s->len)
        fprintf(out, "%s(no bytes: an empty block)\n", indent);
}

size_t
lk_content_of_site(const struct lk_model *m, uint64_t id, const struct lk_model_sample **out,
                   size_t max)
{
    size_t n = 0;
    for (size_t i = 0; i < m->nsamples; i++)
        if (m->samples[i].site == id) {
            if (n < max)
                out[n] = &m->samples[i];
            n++;
        }
    return n;
}

const char *
lk_retainer_kind_name(uint64_t kind)
{
    switch (kind) {
    case LK_RET_SITE:
        return "site";
    case LK_RET_MODULE:
        return "module";
    case LK_RET_STACK:
        return "stack";
    case LK_RET_OTHER:
        return "other";
    default:
        return "unknown";
    }
}

void
lk_render_retainer(char *buf, size_t cap, const struct lk_model *m, struct lk_symbolizer *sym,
                   uint64_t kind, uint64_t id)
{
    switch (kind) {
    case LK_RET_SITE: {
        const struct lk_model_site *s = lk_model_site(m, id);
        struct lk_sym_frame fr;
        size_t total = 0;
        if (s && s->has_stack && sym && lk_symbolize_stack(sym, s, 1, &fr, 1, &total) == 1 &&
            fr.function) {
            const char *file = fr.file ? strrchr(fr.file, '/') : NULL;
            file = file ? file + 1 : fr.file;
            if (file && fr.line)
                snprintf(buf, cap, "site %llu (%s, %s:%u)", (unsigned long long)id, fr.function,
                         file, fr.line);
            else
                snprintf(buf, cap, "site %llu (%s)", (unsigned long long)id, fr.function);
        } else {
            snprintf(buf, cap, "site %llu", (unsigned long long)id);
        }
        break;
    }
    case LK_RET_MODULE: {
        const struct lk_model_module *mod = lk_model_module(m, id);
        const char *name = mod && mod->path ? strrchr(mod->path, '/') : NULL;
        name = name ? name + 1 : mod ? mod->path : NULL;
        if (name && *name)
            snprintf(buf, cap, "%s .data/.bss", name);
        else
            snprintf(buf, cap, "module %llu .data/.bss", (unsigned long long)id);
        break;
    }
    case LK_RET_STACK:
        snprintf(buf, cap, "a thread's stack or registers");
        break;
    case LK_RET_OTHER:
        snprintf(buf, cap, "other root memory (TLS, memory the agent did not see allocated)");
        break;
    default:
        snprintf(buf, cap, "a holder of unknown kind %llu", (unsigned long long)kind);
        break;
    }
}
