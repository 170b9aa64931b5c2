/* Renders an analysed recording as the human report: verdict line, then
 * the suspects (LEAK, GROWING, BOUNDED) ranked by live-bytes growth rate,
 * each with its evidence and folded, symbolized stack, then process memory
 * and the recording's warnings. Stdio only; the caller owns out. Numbers
 * are rounded for reading: scripts should use the JSON report. */
#include "text.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "../analyze/reach.h"
#include "../record/format.h"
#include "content.h"

char *
lk_render_bytes(char *buf, size_t cap, double bytes)
{
    static const char *const unit[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
    double v = fabs(bytes);
    unsigned u = 0;
    while (v >= 1024 && u + 1 < sizeof unit / sizeof unit[0]) {
        v /= 1024;
        u++;
    }
    if (!isfinite(bytes))
        snprintf(buf, cap, "?");
    else if (u == 0)
        snprintf(buf, cap, "%s%.0f B", bytes < 0 ? "-" : "", v);
    else
        snprintf(buf, cap, "%s%.1f %s", bytes < 0 ? "-" : "", v, unit[u]);
    return buf;
}

/* "+32.0 KiB/s" */
static char *
rate_str(char *buf, size_t cap, double rate)
{
    char b[24]; /* "-1023.9 PiB" at most, so "+...B/s" fits a 32-byte buf */
    snprintf(buf, cap, "%s%s/s", rate > 0 ? "+" : "", lk_render_bytes(b, sizeof b, rate));
    return buf;
}

static char *
duration_str(char *buf, size_t cap, double s)
{
    if (s < 60)
        snprintf(buf, cap, "%.1f s", s);
    else if (s < 3600)
        snprintf(buf, cap, "%d min %d s", (int)(s / 60), (int)fmod(s, 60));
    else if (s < 86400 * 2)
        snprintf(buf, cap, "%d h %d min", (int)(s / 3600), (int)fmod(s / 60, 60));
    else
        snprintf(buf, cap, "%.1f days", s / 86400);
    return buf;
}

static const char *
plural(size_t n, const char *one, const char *many)
{
    return n == 1 ? one : many;
}

void
lk_render_summary(char *buf, size_t cap, const struct lk_model *m, const struct lk_analysis *a)
{
    char r1[48], r2[48], d[48];
    size_t nl = a->counts[LK_VERDICT_LEAK], ng = a->counts[LK_VERDICT_GROWING];
    size_t nb = a->counts[LK_VERDICT_BOUNDED];
    if (a->verdict == LK_VERDICT_LEAK && a->lost_sites) {
        /* Lost blocks first: they are the direct evidence. */
        size_t nt = nl - a->lost_sites; /* LEAK by trend alone */
        int k =
            snprintf(buf, cap, "LEAK: %zu %s %llu %s (%s) nothing points to", a->lost_sites,
                     plural(a->lost_sites, "site holds", "sites hold"),
                     (unsigned long long)a->lost_count, plural(a->lost_count, "block", "blocks"),
                     lk_render_bytes(d, sizeof d, (double)a->lost_bytes));
        if (k > 0 && (size_t)k < cap && nt)
            k += snprintf(buf + k, cap - (size_t)k, "; %zu more %s without being freed, %s", nt,
                          plural(nt, "site grows", "sites grow"),
                          rate_str(r1, sizeof r1, a->leak_rate - a->lost_trend_rate));
        if (k > 0 && (size_t)k < cap && ng)
            snprintf(buf + k, cap - (size_t)k, "; %zu more %s with turnover, %s", ng,
                     plural(ng, "grows", "grow"), rate_str(r2, sizeof r2, a->growing_rate));
        return;
    }
    switch (a->verdict) {
    case LK_VERDICT_LEAK:
        if (ng)
            snprintf(buf, cap,
                     "LEAK: %zu %s without being freed, %s total; %zu more %s with turnover, %s",
                     nl, plural(nl, "site grows", "sites grow"),
                     rate_str(r1, sizeof r1, a->leak_rate), ng, plural(ng, "grows", "grow"),
                     rate_str(r2, sizeof r2, a->growing_rate));
        else
            snprintf(buf, cap, "LEAK: %zu %s without being freed, %s total", nl,
                     plural(nl, "site grows", "sites grow"), rate_str(r1, sizeof r1, a->leak_rate));
        break;
    case LK_VERDICT_GROWING:
        snprintf(buf, cap,
                 "GROWING: %zu %s without bound although %s freed too, %s total "
                 "(a cache or queue with no limit?)",
                 ng, plural(ng, "site grows", "sites grow"),
                 plural(ng, "its memory is", "their memory is"),
                 rate_str(r1, sizeof r1, a->growing_rate));
        break;
    case LK_VERDICT_BOUNDED:
        snprintf(buf, cap, "No leak found: %zu %s, then stopped (bounded) over %s", nb,
                 plural(nb, "site grew", "sites grew"),
                 duration_str(d, sizeof d, a->proc.duration_s));
        break;
    case LK_VERDICT_UNKNOWN:
        snprintf(buf, cap,
                 "Not enough data yet: %zu %s over %s; a verdict needs at least %d "
                 "(run longer or lower the period)",
                 m->nsnaps, plural(m->nsnaps, "snapshot", "snapshots"),
                 duration_str(d, sizeof d, a->proc.duration_s), LK_VERDICT_MIN_SNAPS);
        break;
    default:
        snprintf(buf, cap,
                 "No leak found: no site's live memory grows materially "
                 "(%zu %s, %zu snapshots over %s)",
                 m->nsites, plural(m->nsites, "site", "sites"), m->nsnaps,
                 duration_str(d, sizeof d, a->proc.duration_s));
        break;
    }
}

const char *
lk_render_recording_warning(const struct lk_model *m, size_t i, char *buf, size_t cap)
{
    size_t k = 0;
    if (m->torn && k++ == i)
        return m->warning;
    if ((m->info.flags & LK_INFO_NOT_INTERPOSED) && k++ == i)
        return "the program uses its own allocator (malloc not interposed): the heap it manages "
               "is not tracked, only process memory is";
    if (m->info.sample_bytes && k++ == i) {
        snprintf(buf, cap,
                 "sampled recording (one sample per %llu bytes on average): counts are "
                 "estimates",
                 (unsigned long long)m->info.sample_bytes);
        return buf;
    }
    if (!m->has_end && k++ == i)
        return "the recording has no END record: the process was killed or is still running";
    if (m->has_end && m->end.reason == LK_END_SIGNAL && k++ == i) {
        snprintf(buf, cap, "the process ended on signal %llu", (unsigned long long)m->end.code);
        return buf;
    }
    return NULL;
}

static void
print_frame(FILE *out, const struct lk_sym_frame *f)
{
    char where[512];
    if (f->file)
        snprintf(where, sizeof where, "%s:%u", f->file, f->line);
    else
        where[0] = 0;
    const char *mod = f->module ? strrchr(f->module, '/') : NULL;
    mod = mod ? mod + 1 : f->module;
    if (f->function)
        fprintf(out, "      %s%s%s%s  [%s]%s\n", f->function, where[0] ? "  " : "", where, "",
                mod ? mod : "?", f->inlined ? " (inlined)" : "");
    else if (f->module)
        fprintf(out, "      %s+0x%llx%s%s\n", f->module, (unsigned long long)f->offset,
                where[0] ? "  " : "", where);
    else
        fprintf(out, "      0x%llx\n", (unsigned long long)f->offset);
}

static void
print_stack(FILE *out, const struct lk_model *m, const struct lk_site_verdict *v,
            struct lk_symbolizer *sym, size_t maxf)
{
    const struct lk_model_site *s = &m->sites[v->site];
    struct lk_sym_frame *fr = calloc(maxf ? maxf : 1, sizeof *fr);
    size_t total = 0;
    if (!s->has_stack) {
        fprintf(out, "      (no stack recorded for this site)\n");
        free(fr);
        return;
    }
    if (!fr)
        return;
    size_t n = lk_symbolize_stack(sym, s, 1, fr, maxf, &total);
    for (size_t i = 0; i < n; i++)
        print_frame(out, &fr[i]);
    if (total > n)
        fprintf(out, "      ... %zu more %s\n", total - n, plural(total - n, "frame", "frames"));
    if (total == 0)
        fprintf(out, "      (empty stack)\n");
    free(fr);
}

static const char *
state_flags(const struct lk_model_scan *sc)
{
    if ((sc->flags & LK_SCAN_PARTIAL) && !(sc->flags & LK_SCAN_REGISTERS))
        return " (partial, without every thread's registers: counts are lower bounds)";
    if (sc->flags & LK_SCAN_PARTIAL)
        return " (partial: the scan stopped early, counts are lower bounds)";
    if (!(sc->flags & LK_SCAN_REGISTERS))
        return " (without every thread's registers)";
    return "";
}

void
lk_render_site_reach(FILE *out, const struct lk_model *m, const struct lk_site_verdict *v,
                     struct lk_symbolizer *sym, int content)
{
    const struct lk_site_reach *r = &v->reach;
    char b[3][32], d[48], who[384];
    if (!r->scanned || r->scan >= m->nscans)
        return;
    const struct lk_model_scan *sc = &m->scans[r->scan];
    const struct lk_model_reach *at = &r->at;
    fprintf(out,
            "   reachability (scan at %s): %llu unreachable %s (%s), %llu indirect (%s), "
            "%llu reachable (%s)%s\n",
            duration_str(d, sizeof d, (double)sc->time_ns / 1e9),
            (unsigned long long)at->count[LK_BLOCK_UNREACHABLE],
            plural(at->count[LK_BLOCK_UNREACHABLE], "block", "blocks"),
            lk_render_bytes(b[0], sizeof b[0], (double)at->bytes[LK_BLOCK_UNREACHABLE]),
            (unsigned long long)at->count[LK_BLOCK_INDIRECT],
            lk_render_bytes(b[1], sizeof b[1], (double)at->bytes[LK_BLOCK_INDIRECT]),
            (unsigned long long)at->count[LK_BLOCK_REACHABLE],
            lk_render_bytes(b[2], sizeof b[2], (double)at->bytes[LK_BLOCK_REACHABLE]),
            state_flags(sc));
    if (r->lost && r->decisive) {
        fprintf(out, "   lost: %llu %s (%s) nothing points to, in %d %s",
                (unsigned long long)r->lost_count, plural(r->lost_count, "block", "blocks"),
                lk_render_bytes(b[0], sizeof b[0], (double)r->lost_bytes), r->nlost_scans,
                plural((size_t)r->nlost_scans, "scan", "scans in a row"));
        if (r->lost_rate != 0)
            fprintf(out, "; lost bytes grow %s", rate_str(b[1], sizeof b[1], r->lost_rate));
        fputs(": a leak whatever the trend says\n", out);
    } else if (r->evidence) {
        fprintf(out, "   %llu %s (%s) nothing pointed to in a scan that %s: %s\n",
                (unsigned long long)r->lost_count, plural(r->lost_count, "block", "blocks"),
                lk_render_bytes(b[0], sizeof b[0], (double)r->lost_bytes),
                (m->scans[r->lost_scan].flags & LK_SCAN_PARTIAL)  ? "stopped early"
                : m->scans[r->lost_scan].trigger == LK_SCAN_AT_EXIT ? "was made at exit"
                                                                    : "could not read every "
                                                                      "thread's registers",
                r->lost ? "the growing trend agrees, so LEAK"
                : m->scans[r->lost_scan].trigger == LK_SCAN_AT_EXIT
                    ? "at exit, blocks main still held in its locals read as lost too, so "
                      "it is evidence, not a verdict on its own"
                    : "a pointer held only there may have been missed, so it is evidence, "
                      "not a verdict on its own");
    }
    if (r->held) {
        fputs("   held by something: look for a missing eviction or removal", out);
        if (at->nret) {
            lk_render_retainer(who, sizeof who, m, sym, at->ret_kind[0], at->ret_id[0]);
            fprintf(out, "; mostly by %s", who);
        }
        fputc('\n', out);
    }
    if (at->nret) {
        fputs("   retainers:", out);
        for (uint32_t k = 0; k < at->nret; k++) {
            lk_render_retainer(who, sizeof who, m, sym, at->ret_kind[k], at->ret_id[k]);
            fprintf(out, "%s %s (%llu %s)", k ? "," : "", who, (unsigned long long)at->ret_count[k],
                    plural(at->ret_count[k], "block", "blocks"));
        }
        fputc('\n', out);
    }
    const struct lk_model_sample *smp[LK_CONTENT_PER_SITE];
    size_t ns = lk_content_of_site(m, v->id, smp, LK_CONTENT_PER_SITE);
    if (ns && !content) {
        fprintf(out, "   %zu content %s recorded, hidden (pass --content to show them)\n", ns,
                plural(ns, "sample", "samples"));
    } else if (ns) {
        for (size_t k = 0; k < ns && k < LK_CONTENT_PER_SITE; k++) {
            fprintf(out, "   content of a%s %s block of %s, born in period %llu:\n",
                    smp[k]->state == LK_BLOCK_UNREACHABLE ? "n" : "",
                    lk_reach_state_name(smp[k]->state),
                    lk_render_bytes(b[0], sizeof b[0], (double)smp[k]->size),
                    (unsigned long long)smp[k]->period);
            lk_content_dump(out, "      ", smp[k]);
        }
        if (ns > LK_CONTENT_PER_SITE)
            fprintf(out, "   (%zu more samples not shown)\n", ns - LK_CONTENT_PER_SITE);
    }
}

void
lk_render_scans_line(char *buf, size_t cap, const struct lk_model *m, const struct lk_analysis *a)
{
    char d[48], b1[32];
    uint64_t pause = 0, scanned = 0;
    int k;
    buf[0] = 0;
    if (!m->nscans)
        return;
    for (size_t i = 0; i < m->nscans; i++) {
        if (m->scans[i].pause_ns > pause)
            pause = m->scans[i].pause_ns;
        scanned += m->scans[i].root_bytes + m->scans[i].heap_bytes;
    }
    k = snprintf(buf, cap, "Scans: %zu (", m->nscans);
    for (size_t i = 0; i < m->nscans && k > 0 && (size_t)k < cap; i++) {
        if (m->nscans > 4 && i == 2) {
            k += snprintf(buf + k, cap - (size_t)k, ", ...");
            i = m->nscans - 2;
            continue;
        }
        k += snprintf(buf + k, cap - (size_t)k, "%s%s at %s", i ? ", " : "",
                      lk_reach_trigger_name(m->scans[i].trigger),
                      duration_str(d, sizeof d, (double)m->scans[i].time_ns / 1e9));
    }
    if (k > 0 && (size_t)k < cap)
        k += snprintf(buf + k, cap - (size_t)k, "), longest pause %.1f ms, %s scanned",
                      (double)pause / 1e6, lk_render_bytes(b1, sizeof b1, (double)scanned));
    if (k > 0 && (size_t)k < cap && a->lost_sites)
        k += snprintf(buf + k, cap - (size_t)k, "; lost blocks in %zu %s", a->lost_sites,
                      plural(a->lost_sites, "site", "sites"));
    if (k > 0 && (size_t)k < cap && a->held_sites)
        k += snprintf(buf + k, cap - (size_t)k, "; %zu growing %s held by something", a->held_sites,
                      plural(a->held_sites, "site", "sites"));
    const struct lk_model_scan *last = &m->scans[m->nscans - 1];
    if (k > 0 && (size_t)k < cap && !lk_reach_decisive(last))
        snprintf(buf + k, cap - (size_t)k, "; the latest scan%s",
                 last->trigger == LK_SCAN_AT_EXIT && !*state_flags(last)
                     ? " was at exit, where lost blocks count only if the trend agrees"
                     : state_flags(last));
}

static void
print_site(FILE *out, const struct lk_model *m, const struct lk_site_verdict *v, size_t rank,
           struct lk_symbolizer *sym, size_t maxf, int content)
{
    char a[32], b[32], c[32], d[32];
    const struct lk_model_site *s = &m->sites[v->site];
    fprintf(out, "#%zu %s  site %llu%s  %s", rank, lk_verdict_name(v->verdict),
            (unsigned long long)v->id, s->kind == LK_KIND_MMAP ? " (anonymous mmap)" : "",
            rate_str(a, sizeof a, v->rate));
    if (v->fitted)
        fprintf(out, " (95%% CI %s .. %s, p %s %.2g)", rate_str(b, sizeof b, v->rate_lo),
                rate_str(c, sizeof c, v->rate_hi), v->trend.p < 1e-12 ? "<" : "=",
                v->trend.p < 1e-12 ? 1e-12 : v->trend.p);
    else
        fprintf(out, " (average)");
    fputc('\n', out);
    fprintf(out, "   live %s -> %s (%llu -> %llu blocks), peak %s; %llu allocs, %llu frees",
            lk_render_bytes(a, sizeof a, (double)v->live_bytes_start),
            lk_render_bytes(b, sizeof b, (double)v->live_bytes_end),
            (unsigned long long)v->live_count_start, (unsigned long long)v->live_count_end,
            lk_render_bytes(c, sizeof c, (double)v->peak_live_bytes), (unsigned long long)v->allocs,
            (unsigned long long)v->frees);
    fputc('\n', out);
    if (v->survival >= 0 && v->survival_from_cohorts)
        fprintf(out,
                "   survival %.0f%% (99%% bound %.0f%%): of %llu blocks born in the first quarter, "
                "%llu were live at mid-run, %llu are now\n",
                100 * v->survival, 100 * v->survival_hi, (unsigned long long)v->early_born,
                (unsigned long long)v->early_live_mid, (unsigned long long)v->early_live);
    else if (v->survival >= 0)
        fprintf(out, "   survival %.0f%% (estimated from counts: no cohorts recorded)\n",
                100 * v->survival);
    if (v->fitted)
        fprintf(out, "   last third of the run: %s; ", rate_str(d, sizeof d, v->tail_rate));
    else
        fputs("   ", out);
    fprintf(out, "%s\n", v->why ? v->why : "");
    if (v->verdict_time_s >= 0 && v->verdict != LK_VERDICT_UNKNOWN)
        fprintf(out, "   %s since %s (snapshot %zu of %zu)\n", lk_verdict_name(v->verdict),
                duration_str(d, sizeof d, v->verdict_time_s), v->verdict_snaps, m->nsnaps);
    lk_render_site_reach(out, m, v, sym, content);
    print_stack(out, m, v, sym, maxf);
    fputc('\n', out);
}

/* "12 min 3 s", or "more than a year". */
static char *
eta_str(char *buf, size_t cap, double s)
{
    if (s > 365.0 * 86400)
        snprintf(buf, cap, "more than a year");
    else
        duration_str(buf, cap, s);
    return buf;
}

static void
print_process(FILE *out, const struct lk_model *m, const struct lk_analysis *a)
{
    char b1[32], b2[32], b3[32], d[48];
    const struct lk_proc_summary *p = &a->proc;
    const struct lk_procsplit *sp = &p->split;
    fprintf(out, "Process memory: %s\n", lk_proc_verdict_name(sp->verdict));
    fprintf(out, "   %s\n", sp->why ? sp->why : "");
    for (int i = 0; i < LK_SPLIT_NPARTS; i++) {
        const struct lk_split_series *s = &sp->part[i];
        if (!s->recorded) {
            fprintf(out, "   %-19s not recorded\n", lk_split_part_name((enum lk_split_part)i));
            continue;
        }
        fprintf(out, "   %-19s %10s -> %-10s peak %-10s %s\n",
                lk_split_part_name((enum lk_split_part)i),
                lk_render_bytes(b1, sizeof b1, (double)s->start),
                lk_render_bytes(b2, sizeof b2, (double)s->end),
                lk_render_bytes(b3, sizeof b3, (double)s->peak), rate_str(d, sizeof d, s->t.slope));
    }
    if (sp->verdict == LK_PROC_RETENTION)
        fprintf(out,
                "   the live heap fell by %s from its peak while RSS kept %s; the allocator "
                "holds %s free, %s of it releasable at the top of the heap\n",
                lk_render_bytes(b1, sizeof b1, (double)sp->heap_drop),
                lk_render_bytes(b2, sizeof b2, (double)sp->rss_kept),
                lk_render_bytes(b3, sizeof b3, (double)sp->free_held),
                lk_render_bytes(d, sizeof d, (double)sp->releasable));
    for (size_t i = 0; i < sp->nadvice; i++)
        fprintf(out, "   advice: %s\n", sp->advice[i]);
    fprintf(out, "   allocations   %llu, frees %llu\n", (unsigned long long)p->allocs,
            (unsigned long long)p->frees);
    if (!sp->has_smaps)
        fprintf(out, "   time to limit: not recorded (the recording predates cgroup and MemTotal "
                     "fields)\n");
    else if (sp->limit_kind == LK_LIMIT_NONE)
        fprintf(out, "   time to limit: no cgroup limit or MemTotal recorded\n");
    else if (sp->time_to_limit_s < 0)
        fprintf(out, "   time to limit: RSS does not grow (limit %s, %s used)\n",
                lk_render_bytes(b1, sizeof b1, (double)sp->limit),
                lk_render_bytes(b2, sizeof b2, (double)sp->usage));
    else
        fprintf(out, "   time to limit: %s at %s reaches the %s of %s (%s used now)\n",
                eta_str(d, sizeof d, sp->time_to_limit_s), rate_str(b3, sizeof b3, sp->rss_rate),
                sp->limit_kind == LK_LIMIT_CGROUP ? "cgroup limit" : "physical memory",
                lk_render_bytes(b1, sizeof b1, (double)sp->limit),
                lk_render_bytes(b2, sizeof b2, (double)sp->usage));
    (void)m;
}

int
lk_render_text(FILE *out, const struct lk_model *m, const struct lk_analysis *a,
               struct lk_symbolizer *sym, const struct lk_render_opts *opts)
{
    char line[512], b1[32], d[48];
    size_t top = opts && opts->top > 0 ? (size_t)opts->top : LK_RENDER_TOP;
    size_t maxf = opts && opts->frames > 0 ? (size_t)opts->frames : LK_RENDER_FRAMES;
    int all = opts && opts->all;

    lk_render_summary(line, sizeof line, m, a);
    fprintf(out, "%s\n", line);
    if (a->verdict_by_scan)
        fprintf(out, "Time to verdict: %s (the first reachability scan that found lost blocks)\n",
                duration_str(d, sizeof d, a->verdict_time_s));
    else if (a->verdict != LK_VERDICT_UNKNOWN && a->verdict_time_s >= 0)
        fprintf(out,
                "Time to verdict: %s (the verdict held at every one of %zu checked points from "
                "snapshot %zu of %zu on)\n",
                duration_str(d, sizeof d, a->verdict_time_s), a->nprefixes, a->verdict_snaps,
                m->nsnaps);
    fputc('\n', out);

    /* What was recorded. */
    fprintf(out, "recording %s: ", m->name);
    if (m->info.cmdline.n) {
        for (size_t i = 0; i < m->info.cmdline.n && i < 200; i++) {
            char ch = (char)m->info.cmdline.p[i];
            fputc(ch == 0 ? ' ' : (ch < 32 ? '?' : ch), out);
        }
    } else if (m->info.exe.n) {
        fprintf(out, "%.*s ", (int)m->info.exe.n, (const char *)m->info.exe.p);
    }
    fprintf(out, "(pid %llu), %zu snapshots over %s, %zu sites\n\n",
            (unsigned long long)m->info.pid, m->nsnaps,
            duration_str(d, sizeof d, a->proc.duration_s), m->nsites);
    if (m->nscans) {
        lk_render_scans_line(line, sizeof line, m, a);
        fprintf(out, "%s\n", line);
        if (m->nsamples)
            fprintf(out, "%s\n",
                    opts && opts->content
                        ? "Content samples are shown: they are the program's memory and can hold "
                          "user data; share this report with care"
                        : "The latest scan recorded content samples; they are hidden (pass "
                          "--content to show them)");
        fputc('\n', out);
    }

    /* Suspects. */
    size_t shown = 0;
    for (size_t i = 0; i < a->nsites && shown < top; i++) {
        const struct lk_site_verdict *v = &a->sites[i];
        int show = all || lk_verdict_interesting(v->verdict) ||
                   (a->verdict == LK_VERDICT_UNKNOWN && v->live_bytes_end > 0);
        if (!show)
            continue;
        if (!shown)
            fprintf(out, a->verdict == LK_VERDICT_UNKNOWN && !all
                             ? "Largest live sites (no verdict yet):\n\n"
                             : "Suspects, fastest growing first:\n\n");
        print_site(out, m, v, ++shown, sym, maxf, opts && opts->content);
    }
    size_t interesting = 0;
    for (size_t i = 0; i < a->nsites; i++)
        interesting += lk_verdict_interesting(a->sites[i].verdict) != 0;
    if (!all && interesting > shown && a->verdict != LK_VERDICT_UNKNOWN)
        fprintf(out, "(%zu more suspect %s not shown; use --top N or --all)\n\n",
                interesting - shown, plural(interesting - shown, "site", "sites"));
    if (!all && a->verdict != LK_VERDICT_UNKNOWN) {
        size_t nt = a->counts[LK_VERDICT_TEMPORARY], ns = a->counts[LK_VERDICT_STABLE];
        fprintf(out,
                "Other sites: %zu stable, %zu temporary (peaked, then freed); "
                "growth counts as material from %s\n\n",
                ns, nt, lk_render_bytes(b1, sizeof b1, (double)a->material_bytes));
    }

    /* Process memory. */
    print_process(out, m, a);
    if (m->has_end) {
        static const char *const why[] = {"exited", "killed by a signal", "exec'd",
                                          "agent stopped"};
        fprintf(out, "   end           %s (%s %llu)\n",
                m->end.reason < 4 ? why[m->end.reason] : "unknown reason",
                m->end.reason == LK_END_SIGNAL ? "signal" : "code",
                (unsigned long long)m->end.code);
    }

    /* Notes and warnings. */
    int header = 0;
    char wb[256];
    const char *w;
    for (size_t i = 0; (w = lk_render_recording_warning(m, i, wb, sizeof wb)); i++) {
        if (!header++)
            fprintf(out, "\nWarnings\n");
        fprintf(out, "   %s\n", w);
    }
    for (size_t i = 0; sym && (w = lk_symbolize_warning(sym, i)); i++) {
        if (!header++)
            fprintf(out, "\nWarnings\n");
        fprintf(out, "   %s\n", w);
    }
    if (m->nnotes) {
        static const char *const lv[] = {"info", "warning", "error"};
        fprintf(out, "\nNotes from the agent\n");
        for (size_t i = 0; i < m->nnotes; i++)
            fprintf(out, "   %8.1f s  %s: %s\n", (double)m->notes[i].time_ns / 1e9,
                    m->notes[i].level < 3 ? lv[m->notes[i].level] : "note", m->notes[i].text);
    }
    fflush(out);
    return ferror(out) ? -EIO : 0;
}
