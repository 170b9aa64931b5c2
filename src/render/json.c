/* Renders an analysed recording as one JSON document (docs/JSON.md): the
 * recording, the process summary, the verdict and the ranked sites with
 * their evidence and folded frames. Strings from the recording are
 * arbitrary bytes, so every one goes through lk_json_string; numbers that
 * are not finite are written as null. Stdio only. */
#include "json.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../analyze/reach.h"
#include "../record/format.h"
#include "content.h"

/* Length of the valid UTF-8 sequence at p (at most n bytes), 0 if invalid;
 * *cp gets the code point. */
static size_t
utf8_seq(const unsigned char *p, size_t n, uint32_t *cp)
{
    size_t len;
    uint32_t min, c;
    if (p[0] < 0x80) {
        *cp = p[0];
        return 1;
    }
    if ((p[0] & 0xe0) == 0xc0)
        len = 2, min = 0x80, c = p[0] & 0x1f;
    else if ((p[0] & 0xf0) == 0xe0)
        len = 3, min = 0x800, c = p[0] & 0x0f;
    else if ((p[0] & 0xf8) == 0xf0)
        len = 4, min = 0x10000, c = p[0] & 0x07;
    else
        return 0;
    if (len > n)
        return 0;
    for (size_t i = 1; i < len; i++) {
        if ((p[i] & 0xc0) != 0x80)
            return 0;
        c = (c << 6) | (p[i] & 0x3f);
    }
    if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
        return 0;
    *cp = c;
    return len;
}

void
lk_json_string(FILE *out, const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    fputc('"', out);
    for (size_t i = 0; i < n;) {
        unsigned char ch = p[i];
        uint32_t cp;
        if (ch == '"' || ch == '\\') {
            fputc('\\', out);
            fputc(ch, out);
            i++;
        } else if (ch < 0x20 || ch == 0x7f || ch == '<' || ch == '>' || ch == '&') {
            fprintf(out, "\\u%04x", ch);
            i++;
        } else {
            size_t k = utf8_seq(p + i, n - i, &cp);
            if (k == 0)
                fputs("\\ufffd", out), k = 1;
            else if (cp == 0x2028 || cp == 0x2029)
                fprintf(out, "\\u%04x", (unsigned)cp);
            else
                fwrite(p + i, 1, k, out);
            i += k;
        }
    }
    fputc('"', out);
}

void
lk_json_str(FILE *out, const char *s)
{
    if (s)
        lk_json_string(out, s, strlen(s));
    else
        fputs("null", out);
}

void
lk_json_num(FILE *out, double v, int digits)
{
    if (isfinite(v))
        fprintf(out, "%.*g", digits, v);
    else
        fputs("null", out);
}

static void
num(FILE *out, double v)
{
    lk_json_num(out, v, 17);
}

void
lk_json_u64(FILE *out, uint64_t v)
{
    fprintf(out, "%llu", (unsigned long long)v);
}

void
lk_json_cmdline(FILE *out, const struct lk_model *m)
{
    fputc('[', out);
    for (size_t i = 0, start = 0, k = 0; i < m->info.cmdline.n; i++)
        if (m->info.cmdline.p[i] == 0) {
            fputs(k++ ? "," : "", out);
            lk_json_string(out, (const char *)m->info.cmdline.p + start, i - start);
            start = i + 1;
        }
    fputc(']', out);
}

void
lk_json_settings(FILE *out, int *first, const struct lk_model *m)
{
    lk_json_key(out, first, "arch");
    lk_json_string(out, (const char *)m->info.arch.p, m->info.arch.n);
    lk_json_key(out, first, "agent_version");
    lk_json_string(out, (const char *)m->info.agent_version.p, m->info.agent_version.n);
    lk_json_key(out, first, "start_realtime_ns");
    lk_json_u64(out, m->info.start_realtime_ns);
    lk_json_key(out, first, "period_ms");
    lk_json_u64(out, m->info.period_ms);
    lk_json_key(out, first, "depth");
    lk_json_u64(out, m->info.depth);
    lk_json_key(out, first, "sample_bytes");
    lk_json_u64(out, m->info.sample_bytes);
}

void
lk_json_key(FILE *out, int *first, const char *k)
{
    fputs(*first ? "" : ",", out);
    *first = 0;
    fprintf(out, "\"%s\":", k);
}

static void
recording(FILE *out, const struct lk_model *m, const struct lk_analysis *a)
{
    int f = 1;
    char ver[32];
    fputc('{', out);
    lk_json_key(out, &f, "file");
    lk_json_str(out, m->name);
    lk_json_key(out, &f, "format_version");
    snprintf(ver, sizeof ver, "%u.%u", m->major, m->minor);
    lk_json_str(out, ver);
    lk_json_key(out, &f, "pid");
    lk_json_u64(out, m->info.pid);
    lk_json_key(out, &f, "ppid");
    lk_json_u64(out, m->info.ppid);
    lk_json_key(out, &f, "exe");
    lk_json_string(out, (const char *)m->info.exe.p, m->info.exe.n);
    lk_json_key(out, &f, "cmdline");
    lk_json_cmdline(out, m);
    lk_json_settings(out, &f, m);
    lk_json_key(out, &f, "not_interposed");
    fputs(m->info.flags & LK_INFO_NOT_INTERPOSED ? "true" : "false", out);
    lk_json_key(out, &f, "fork_child");
    fputs(m->info.flags & LK_INFO_FORK_CHILD ? "true" : "false", out);
    lk_json_key(out, &f, "tracks_mmap");
    fputs(m->info.flags & LK_INFO_TRACKS_MMAP ? "true" : "false", out);
    lk_json_key(out, &f, "snapshots");
    lk_json_u64(out, m->nsnaps);
    lk_json_key(out, &f, "duration_s");
    num(out, a->proc.duration_s);
    lk_json_key(out, &f, "sites");
    lk_json_u64(out, m->nsites);
    lk_json_key(out, &f, "modules");
    lk_json_u64(out, m->nmodules);
    lk_json_key(out, &f, "torn");
    fputs(m->torn ? "true" : "false", out);
    lk_json_key(out, &f, "end");
    if (m->has_end) {
        static const char *const why[] = {"exit", "signal", "exec", "agent"};
        fputs("{\"reason\":", out);
        lk_json_str(out, m->end.reason < 4 ? why[m->end.reason] : "unknown");
        fputs(",\"code\":", out);
        lk_json_u64(out, m->end.code);
        fputs(",\"time_s\":", out);
        num(out, (double)m->end.time_ns / 1e9);
        fputc('}', out);
    } else {
        fputs("null", out);
    }
    fputc('}', out);
}

static void
trend_fields(FILE *out, int *f, const char *rate, const char *ci, const char *pv,
             const struct lk_trend *t)
{
    lk_json_key(out, f, rate);
    num(out, t->slope);
    lk_json_key(out, f, ci);
    fputc('[', out);
    num(out, t->slope_lo);
    fputc(',', out);
    num(out, t->slope_hi);
    fputc(']', out);
    lk_json_key(out, f, pv);
    num(out, t->p);
}

static const char *const part_key[LK_SPLIT_NPARTS] = {
    "rss",          "heap",        "allocator_free", "allocator_overhead", "outside_malloc",
    "tracked_mmap", "file_backed",
};

/* The process split (procsplit.h) as fields of the "process" object. */
static void
split(FILE *out, int *f, const struct lk_procsplit *sp)
{
    lk_json_key(out, f, "verdict");
    lk_json_str(out, lk_proc_verdict_name(sp->verdict));
    lk_json_key(out, f, "why");
    lk_json_str(out, sp->why);
    lk_json_key(out, f, "advice");
    fputc('[', out);
    for (size_t i = 0; i < sp->nadvice; i++) {
        fputs(i ? "," : "", out);
        lk_json_str(out, sp->advice[i]);
    }
    fputc(']', out);
    lk_json_key(out, f, "material_bytes");
    lk_json_u64(out, sp->material);
    lk_json_key(out, f, "parts");
    fputc('{', out);
    for (int i = 0; i < LK_SPLIT_NPARTS; i++) {
        const struct lk_split_series *s = &sp->part[i];
        int g = 1;
        fprintf(out, "%s\"%s\":{", i ? "," : "", part_key[i]);
        lk_json_key(out, &g, "recorded");
        fputs(s->recorded ? "true" : "false", out);
        if (s->recorded) {
            lk_json_key(out, &g, "start");
            lk_json_u64(out, s->start);
            lk_json_key(out, &g, "end");
            lk_json_u64(out, s->end);
            lk_json_key(out, &g, "peak");
            lk_json_u64(out, s->peak);
            trend_fields(out, &g, "rate_bytes_per_s", "rate_ci", "p_value", &s->t);
        }
        fputc('}', out);
    }
    fputc('}', out);
    lk_json_key(out, f, "retention");
    fprintf(out,
            "{\"heap_drop\":%llu,\"rss_kept\":%llu,\"free_held\":%llu,\"releasable_top\":%llu}",
            (unsigned long long)sp->heap_drop, (unsigned long long)sp->rss_kept,
            (unsigned long long)sp->free_held, (unsigned long long)sp->releasable);
    lk_json_key(out, f, "threads");
    lk_json_u64(out, sp->threads);
    lk_json_key(out, f, "time_to_limit");
    fputs("{\"limit_kind\":", out);
    lk_json_str(out, sp->limit_kind == LK_LIMIT_CGROUP     ? "cgroup"
             : sp->limit_kind == LK_LIMIT_PHYSICAL ? "physical"
                                                   : NULL);
    fputs(",\"limit\":", out);
    lk_json_u64(out, sp->limit);
    fputs(",\"usage\":", out);
    lk_json_u64(out, sp->usage);
    fputs(",\"rate_bytes_per_s\":", out);
    num(out, sp->rss_rate);
    fputs(",\"seconds\":", out);
    if (sp->time_to_limit_s >= 0)
        num(out, sp->time_to_limit_s);
    else
        fputs("null", out);
    fputc('}', out);
}

static void
process(FILE *out, const struct lk_analysis *a)
{
    const struct lk_proc_summary *p = &a->proc;
    int f = 1;
    fputc('{', out);
    lk_json_key(out, &f, "rss_start");
    lk_json_u64(out, p->rss_start);
    lk_json_key(out, &f, "rss_end");
    lk_json_u64(out, p->rss_end);
    lk_json_key(out, &f, "rss_peak");
    lk_json_u64(out, p->rss_peak);
    trend_fields(out, &f, "rss_rate_bytes_per_s", "rss_rate_ci", "rss_p_value", &p->rss);
    lk_json_key(out, &f, "heap_start");
    lk_json_u64(out, p->heap_start);
    lk_json_key(out, &f, "heap_end");
    lk_json_u64(out, p->heap_end);
    lk_json_key(out, &f, "heap_peak");
    lk_json_u64(out, p->heap_peak);
    trend_fields(out, &f, "heap_rate_bytes_per_s", "heap_rate_ci", "heap_p_value", &p->heap);
    lk_json_key(out, &f, "allocs");
    lk_json_u64(out, p->allocs);
    lk_json_key(out, &f, "frees");
    lk_json_u64(out, p->frees);
    lk_json_key(out, &f, "rss_outside_heap");
    fputs(p->rss_outside_heap ? "true" : "false", out);
    split(out, &f, &p->split);
    fputc('}', out);
}

void
lk_json_frame(FILE *out, const struct lk_sym_frame *fr)
{
    int f = 1;
    char addr[32];
    fputc('{', out);
    lk_json_key(out, &f, "function");
    lk_json_str(out, fr->function);
    lk_json_key(out, &f, "file");
    lk_json_str(out, fr->file);
    lk_json_key(out, &f, "line");
    if (fr->line)
        fprintf(out, "%u", fr->line);
    else
        fputs("null", out);
    lk_json_key(out, &f, "module");
    lk_json_str(out, fr->module);
    lk_json_key(out, &f, "offset");
    snprintf(addr, sizeof addr, "0x%llx", (unsigned long long)fr->offset);
    lk_json_str(out, addr);
    lk_json_key(out, &f, "inlined");
    fputs(fr->inlined ? "true" : "false", out);
    fputc('}', out);
}

static void
counts3(FILE *out, const uint64_t *count, const uint64_t *bytes)
{
    for (unsigned k = 0; k < LK_NSTATES; k++)
        fprintf(out, "%s\"%s\":{\"count\":%llu,\"bytes\":%llu}", k ? "," : "",
                lk_reach_state_name(k), (unsigned long long)count[k],
                (unsigned long long)bytes[k]);
}

void
lk_json_sample(FILE *out, const struct lk_model_sample *s)
{
    char hex[3 * LK_SCAN_CONTENT + 1], text[LK_SCAN_CONTENT + 1];
    lk_content_hex(hex, sizeof hex, s, 0, s->len);
    lk_content_text(text, sizeof text, s, 0, s->len);
    fputs("{\"state\":", out);
    lk_json_str(out, lk_reach_state_name(s->state));
    fprintf(out, ",\"size\":%llu,\"birth_period\":%llu,\"hex\":", (unsigned long long)s->size,
            (unsigned long long)s->period);
    lk_json_str(out, hex);
    fputs(",\"text\":", out);
    lk_json_str(out, text);
    fputc('}', out);
}

void
lk_json_site_scan(FILE *out, const struct lk_model *m, const struct lk_site_verdict *v,
                  struct lk_symbolizer *sym, int content)
{
    const struct lk_site_reach *r = &v->reach;
    const struct lk_model_scan *sc = &m->scans[r->scan];
    char who[384];
    int f = 1;
    fputc('{', out);
    lk_json_key(out, &f, "scan_seq");
    lk_json_u64(out, sc->seq);
    lk_json_key(out, &f, "time_s");
    num(out, (double)sc->time_ns / 1e9);
    lk_json_key(out, &f, "registers");
    fputs(sc->flags & LK_SCAN_REGISTERS ? "true" : "false", out);
    lk_json_key(out, &f, "partial");
    fputs(sc->flags & LK_SCAN_PARTIAL ? "true" : "false", out);
    lk_json_key(out, &f, "states");
    fputc('{', out);
    counts3(out, r->at.count, r->at.bytes);
    fputc('}', out);
    lk_json_key(out, &f, "trend_verdict");
    lk_json_str(out, lk_verdict_name(r->trend_verdict));
    lk_json_key(out, &f, "lost");
    fputs(r->lost ? "true" : "false", out);
    lk_json_key(out, &f, "lost_decisive");
    fputs(r->lost && r->decisive ? "true" : "false", out);
    lk_json_key(out, &f, "lost_evidence_only");
    fputs(r->evidence && !r->lost ? "true" : "false", out);
    lk_json_key(out, &f, "lost_count");
    lk_json_u64(out, r->lost_count);
    lk_json_key(out, &f, "lost_bytes");
    lk_json_u64(out, r->lost_bytes);
    lk_json_key(out, &f, "lost_rate_bytes_per_s");
    num(out, r->lost_rate);
    lk_json_key(out, &f, "lost_scans");
    fprintf(out, "%d", r->nlost_scans);
    lk_json_key(out, &f, "held");
    fputs(r->held ? "true" : "false", out);
    lk_json_key(out, &f, "retainers");
    fputc('[', out);
    for (uint32_t k = 0; k < r->at.nret; k++) {
        lk_render_retainer(who, sizeof who, m, sym, r->at.ret_kind[k], r->at.ret_id[k]);
        fprintf(out, "%s{\"kind\":", k ? "," : "");
        lk_json_str(out, lk_retainer_kind_name(r->at.ret_kind[k]));
        fprintf(out, ",\"id\":%llu,\"count\":%llu,\"label\":",
                (unsigned long long)r->at.ret_id[k], (unsigned long long)r->at.ret_count[k]);
        lk_json_str(out, who);
        fputc('}', out);
    }
    fputc(']', out);
    const struct lk_model_sample *smp[LK_CONTENT_PER_SITE];
    size_t ns = lk_content_of_site(m, v->id, smp, LK_CONTENT_PER_SITE);
    lk_json_key(out, &f, "samples_hidden");
    lk_json_u64(out, content ? 0 : ns);
    if (content) {
        lk_json_key(out, &f, "samples");
        fputc('[', out);
        for (size_t k = 0; k < ns && k < LK_CONTENT_PER_SITE; k++) {
            fputs(k ? "," : "", out);
            lk_json_sample(out, smp[k]);
        }
        fputc(']', out);
    }
    fputc('}', out);
}

void
lk_json_scans(FILE *out, const struct lk_model *m)
{
    fputc('[', out);
    for (size_t i = 0; i < m->nscans; i++) {
        const struct lk_model_scan *sc = &m->scans[i];
        int f = 1;
        fputs(i ? ",{" : "{", out);
        lk_json_key(out, &f, "seq");
        lk_json_u64(out, sc->seq);
        lk_json_key(out, &f, "time_s");
        num(out, (double)sc->time_ns / 1e9);
        lk_json_key(out, &f, "period");
        lk_json_u64(out, sc->period);
        lk_json_key(out, &f, "trigger");
        lk_json_str(out, lk_reach_trigger_name(sc->trigger));
        lk_json_key(out, &f, "registers");
        fputs(sc->flags & LK_SCAN_REGISTERS ? "true" : "false", out);
        lk_json_key(out, &f, "interior");
        fputs(sc->flags & LK_SCAN_INTERIOR ? "true" : "false", out);
        lk_json_key(out, &f, "partial");
        fputs(sc->flags & LK_SCAN_PARTIAL ? "true" : "false", out);
        lk_json_key(out, &f, "sampled");
        fputs(sc->flags & LK_SCAN_SAMPLED ? "true" : "false", out);
        lk_json_key(out, &f, "in_place");
        fputs(sc->flags & LK_SCAN_IN_PLACE ? "true" : "false", out);
        lk_json_key(out, &f, "decisive");
        fputs(lk_reach_decisive(sc) ? "true" : "false", out);
        lk_json_key(out, &f, "pause_s");
        num(out, (double)sc->pause_ns / 1e9);
        lk_json_key(out, &f, "scan_s");
        num(out, (double)sc->scan_ns / 1e9);
        lk_json_key(out, &f, "threads");
        lk_json_u64(out, sc->threads);
        lk_json_key(out, &f, "root_bytes");
        lk_json_u64(out, sc->root_bytes);
        lk_json_key(out, &f, "heap_bytes");
        lk_json_u64(out, sc->heap_bytes);
        lk_json_key(out, &f, "blocks");
        lk_json_u64(out, sc->blocks);
        lk_json_key(out, &f, "sites");
        lk_json_u64(out, sc->nsites);
        lk_json_key(out, &f, "samples");
        lk_json_u64(out, sc->nsamples);
        lk_json_key(out, &f, "states");
        fputc('{', out);
        counts3(out, sc->count, sc->bytes);
        fputs("}}", out);
    }
    fputc(']', out);
}

static void
site(FILE *out, const struct lk_model *m, const struct lk_site_verdict *v,
     struct lk_symbolizer *sym, struct lk_sym_frame *fr, size_t maxf, int content)
{
    const struct lk_model_site *s = &m->sites[v->site];
    int f = 1;
    fputc('{', out);
    lk_json_key(out, &f, "site");
    lk_json_u64(out, v->id);
    lk_json_key(out, &f, "verdict");
    lk_json_str(out, lk_verdict_name(v->verdict));
    lk_json_key(out, &f, "why");
    lk_json_str(out, v->why);
    lk_json_key(out, &f, "kind");
    lk_json_str(out, s->kind == LK_KIND_MMAP ? "mmap" : "heap");
    lk_json_key(out, &f, "kind_label");
    lk_json_str(out, s->kind == LK_KIND_MMAP ? "anonymous mmap" : "heap");
    lk_json_key(out, &f, "late_leak");
    fputs(v->late ? "true" : "false", out);
    lk_json_key(out, &f, "verdict_time_s");
    if (v->verdict_time_s >= 0 && v->verdict != LK_VERDICT_UNKNOWN)
        num(out, v->verdict_time_s);
    else
        fputs("null", out);
    lk_json_key(out, &f, "verdict_snapshots");
    lk_json_u64(out, v->verdict_snaps);
    lk_json_key(out, &f, "fitted");
    fputs(v->fitted ? "true" : "false", out);
    lk_json_key(out, &f, "rate_bytes_per_s");
    num(out, v->rate);
    lk_json_key(out, &f, "rate_ci");
    if (v->fitted) {
        fputc('[', out);
        num(out, v->rate_lo);
        fputc(',', out);
        num(out, v->rate_hi);
        fputc(']', out);
    } else {
        fputs("null", out);
    }
    lk_json_key(out, &f, "p_value");
    if (v->fitted)
        num(out, v->trend.p);
    else
        fputs("null", out);
    lk_json_key(out, &f, "tail_rate_bytes_per_s");
    if (v->fitted)
        num(out, v->tail_rate);
    else
        fputs("null", out);
    lk_json_key(out, &f, "live_bytes_start");
    lk_json_u64(out, v->live_bytes_start);
    lk_json_key(out, &f, "live_bytes_end");
    lk_json_u64(out, v->live_bytes_end);
    lk_json_key(out, &f, "live_count_start");
    lk_json_u64(out, v->live_count_start);
    lk_json_key(out, &f, "live_count_end");
    lk_json_u64(out, v->live_count_end);
    lk_json_key(out, &f, "peak_live_bytes");
    lk_json_u64(out, v->peak_live_bytes);
    lk_json_key(out, &f, "allocs");
    lk_json_u64(out, v->allocs);
    lk_json_key(out, &f, "frees");
    lk_json_u64(out, v->frees);
    lk_json_key(out, &f, "alloc_bytes");
    lk_json_u64(out, v->alloc_bytes);
    lk_json_key(out, &f, "survival");
    if (v->survival >= 0)
        num(out, v->survival);
    else
        fputs("null", out);
    lk_json_key(out, &f, "survival_early");
    if (v->survival_early >= 0)
        num(out, v->survival_early);
    else
        fputs("null", out);
    lk_json_key(out, &f, "survival_hi");
    if (v->survival >= 0)
        num(out, v->survival_hi);
    else
        fputs("null", out);
    lk_json_key(out, &f, "cohorts");
    fprintf(out, "{\"early_born\":%llu,\"early_live_mid\":%llu,\"early_live\":%llu}",
            (unsigned long long)v->early_born, (unsigned long long)v->early_live_mid,
            (unsigned long long)v->early_live);
    lk_json_key(out, &f, "survival_from_cohorts");
    fputs(v->survival_from_cohorts ? "true" : "false", out);
    if (v->reach.scanned && v->reach.scan < m->nscans) {
        lk_json_key(out, &f, "scan");
        lk_json_site_scan(out, m, v, sym, content);
    }
    size_t total = 0, n = 0;
    if (s->has_stack && fr)
        n = lk_symbolize_stack(sym, s, 1, fr, maxf, &total);
    lk_json_key(out, &f, "frames_total");
    lk_json_u64(out, total);
    lk_json_key(out, &f, "frames");
    fputc('[', out);
    for (size_t i = 0; i < n; i++) {
        if (i)
            fputc(',', out);
        lk_json_frame(out, &fr[i]);
    }
    fputs("]}", out);
}

int
lk_render_json(FILE *out, const struct lk_model *m, const struct lk_analysis *a,
               struct lk_symbolizer *sym, const struct lk_render_opts *opts)
{
    size_t top = opts && opts->top > 0 ? (size_t)opts->top : LK_RENDER_TOP;
    size_t maxf = opts && opts->frames > 0 ? (size_t)opts->frames : LK_RENDER_FRAMES;
    size_t nsites = opts && opts->all ? a->nsites : (a->nsites < top ? a->nsites : top);
    struct lk_sym_frame *fr = calloc(maxf, sizeof *fr);
    char line[512];
    int f = 1;

    fputc('{', out);
    lk_json_key(out, &f, "schema");
    fprintf(out, "%d", LK_JSON_SCHEMA);
    lk_json_key(out, &f, "leakscope_version");
    lk_json_str(out, LK_VERSION);
    lk_json_key(out, &f, "recording");
    recording(out, m, a);
    lk_json_key(out, &f, "process");
    process(out, a);
    lk_json_key(out, &f, "verdict");
    lk_json_str(out, lk_verdict_name(a->verdict));
    lk_json_key(out, &f, "summary");
    lk_render_summary(line, sizeof line, m, a);
    lk_json_str(out, line);
    lk_json_key(out, &f, "verdict_time_s");
    if (a->verdict != LK_VERDICT_UNKNOWN && a->verdict_time_s >= 0)
        num(out, a->verdict_time_s);
    else
        fputs("null", out);
    lk_json_key(out, &f, "verdict_snapshots");
    lk_json_u64(out, a->verdict_snaps);
    lk_json_key(out, &f, "prefixes_checked");
    lk_json_u64(out, a->nprefixes);
    lk_json_key(out, &f, "leak_rate_bytes_per_s");
    num(out, a->leak_rate);
    lk_json_key(out, &f, "growing_rate_bytes_per_s");
    num(out, a->growing_rate);
    lk_json_key(out, &f, "material_bytes");
    lk_json_u64(out, a->material_bytes);
    lk_json_key(out, &f, "lost_sites");
    lk_json_u64(out, a->lost_sites);
    lk_json_key(out, &f, "lost_count");
    lk_json_u64(out, a->lost_count);
    lk_json_key(out, &f, "lost_bytes");
    lk_json_u64(out, a->lost_bytes);
    lk_json_key(out, &f, "verdict_by_scan");
    fputs(a->verdict_by_scan ? "true" : "false", out);
    lk_json_key(out, &f, "held_sites");
    lk_json_u64(out, a->held_sites);
    lk_json_key(out, &f, "content_shown");
    fputs(opts && opts->content && m->nsamples ? "true" : "false", out);
    lk_json_key(out, &f, "scans");
    lk_json_scans(out, m);
    lk_json_key(out, &f, "counts");
    fputc('{', out);
    for (int v = 0; v <= LK_VERDICT_UNKNOWN; v++)
        fprintf(out, "%s\"%s\":%zu", v ? "," : "", lk_verdict_name((enum lk_verdict)v),
                a->counts[v]);
    fputc('}', out);
    lk_json_key(out, &f, "sites");
    fputc('[', out);
    for (size_t i = 0; i < nsites; i++) {
        if (i)
            fputc(',', out);
        fputc('\n', out);
        site(out, m, &a->sites[i], sym, fr, maxf, opts && opts->content);
    }
    fputs("],\n", out);
    f = 1;
    fputs("\"notes\":[", out);
    for (size_t i = 0; i < m->nnotes; i++) {
        static const char *const lv[] = {"info", "warning", "error"};
        fprintf(out, "%s{\"level\":", i ? "," : "");
        lk_json_str(out, m->notes[i].level < 3 ? lv[m->notes[i].level] : "note");
        fputs(",\"time_s\":", out);
        num(out, (double)m->notes[i].time_ns / 1e9);
        fputs(",\"text\":", out);
        lk_json_str(out, m->notes[i].text);
        fputc('}', out);
    }
    fputs("],\"warnings\":[", out);
    char wb[256];
    const char *w;
    size_t k = 0;
    for (size_t i = 0; (w = lk_render_recording_warning(m, i, wb, sizeof wb)); i++, k++) {
        fputs(k ? "," : "", out);
        lk_json_str(out, w);
    }
    for (size_t i = 0; sym && (w = lk_symbolize_warning(sym, i)); i++, k++) {
        fputs(k ? "," : "", out);
        lk_json_str(out, w);
    }
    fputs("]}\n", out);
    free(fr);
    fflush(out);
    return ferror(out) ? -EIO : 0;
}
