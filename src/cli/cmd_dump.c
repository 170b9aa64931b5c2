/* `leakscope dump FILE`: every record of a recording, one line each, for
 * checking a file against docs/FORMAT.md and for debugging the agent. Reads
 * the file into memory; prints on stdout, errors on stderr. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/err.h"
#include "cli.h"
#include "record/format.h"
#include "record/reader.h"

static const char *const type_names[] = {"?", "INFO", "MODULE", "MODULE_GONE", "STACK",
                                         "SNAPSHOT", "END", "NOTE", "SCAN"};

int
lk_cli_read_file(const char *path, uint8_t **data, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return -errno;
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            fclose(f);
            return -ENOMEM;
        }
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        cap *= 2;
        uint8_t *nb = realloc(buf, cap);
        if (!nb)
            free(buf);
        buf = nb;
    }
    int err = ferror(f) ? -EIO : 0;
    fclose(f);
    if (err) {
        free(buf);
        return err;
    }
    *data = buf;
    *len = n;
    return 0;
}

static void
dump_snapshot(const struct lk_record *rec, int verbose)
{
    struct lk_snapshot s;
    struct lk_site_entry e;
    if (lk_snapshot_decode(rec->payload, rec->len, &s) < 0) {
        printf("  (malformed)\n");
        return;
    }
    printf(" seq=%" PRIu64 " t=%.3fs period=%" PRIu64 " rss=%" PRIu64 " heap_live=%" PRIu64
           " heap_count=%" PRIu64 " allocs=%" PRIu64 " frees=%" PRIu64 "\n",
           s.seq, (double)s.time_ns / 1e9, s.period, s.proc[LK_PROC_RSS],
           s.proc[LK_PROC_HEAP_LIVE], s.proc[LK_PROC_HEAP_COUNT], s.proc[LK_PROC_ALLOCS],
           s.proc[LK_PROC_FREES]);
    if (verbose) {
        printf("    proc");
        for (uint64_t i = 0; i < s.nproc && i < LK_PROC_NFIELDS; i++)
            printf(" %" PRIu64, s.proc[i]);
        printf("\n");
    }
    int r;
    while ((r = lk_snapshot_next_site(&s, &e)) == 1)
        if (verbose)
            printf("    site %" PRIu64 ": live %" PRIu64 " B / %" PRIu64 ", allocs %" PRIu64
                   ", frees %" PRIu64 ", cohorts %" PRIu64 "\n",
                   e.site, e.f[LK_SITE_LIVE_BYTES], e.f[LK_SITE_LIVE_COUNT], e.f[LK_SITE_ALLOCS],
                   e.f[LK_SITE_FREES], e.ncohorts);
    if (r < 0)
        printf("    (malformed site list)\n");
}

static const char *
ret_kind_name(uint64_t k)
{
    static const char *const names[] = {"none", "site", "module", "stack", "other"};
    return k < sizeof names / sizeof names[0] ? names[k] : "?";
}

/* A SCAN record: the head on the record's line, then one line per site
 * ("site 3: unreachable 1/64 B, indirect 2/128 B, reachable 0/0 B; held by
 * module 1 x2"), then each content sample as hex and text, redacted bytes
 * shown as '*'. */
static void
dump_scan(const struct lk_record *rec)
{
    static const char *const trig[] = {"request", "signal", "period", "exit"};
    static const char *const states[] = {"unreachable", "indirect", "reachable"};
    struct lk_scan s;
    struct lk_scan_site e;
    struct lk_scan_sample sm;
    if (lk_scan_decode(rec->payload, rec->len, &s) < 0) {
        printf("  (malformed)\n");
        return;
    }
    printf(" seq=%" PRIu64 " t=%.3fs period=%" PRIu64 " trigger=%s flags=0x%" PRIx64 "%s%s%s%s%s"
           " pause_ns=%" PRIu64 " scan_ns=%" PRIu64 " threads=%" PRIu64 " root_bytes=%" PRIu64
           " heap_bytes=%" PRIu64 " blocks=%" PRIu64 "\n",
           s.seq, (double)s.time_ns / 1e9, s.period, s.trigger < 4 ? trig[s.trigger] : "?", s.flags,
           (s.flags & LK_SCAN_REGISTERS) ? " registers" : "",
           (s.flags & LK_SCAN_INTERIOR) ? " interior" : "",
           (s.flags & LK_SCAN_PARTIAL) ? " partial" : "", (s.flags & LK_SCAN_SAMPLED) ? " sampled" : "",
           (s.flags & LK_SCAN_IN_PLACE) ? " in_place" : "", s.pause_ns, s.scan_ns, s.threads, s.root_bytes, s.heap_bytes, s.blocks);
    int r;
    while ((r = lk_scan_next_site(&s, &e)) == 1) {
        printf("    site %" PRIu64 ":", e.site);
        for (int k = 0; k < LK_NSTATES; k++)
            printf("%s %s %" PRIu64 "/%" PRIu64 " B", k ? "," : "", states[k], e.count[k],
                   e.bytes[k]);
        for (uint64_t k = 0; k < e.nret; k++)
            printf("%s %s %" PRIu64 " x%" PRIu64, k ? "," : "; held by", ret_kind_name(e.ret_kind[k]),
                   e.ret_id[k], e.ret_count[k]);
        printf("\n");
    }
    if (r < 0) {
        printf("    (malformed site list)\n");
        return;
    }
    while ((r = lk_scan_next_sample(&s, &sm)) == 1) {
        printf("    sample site %" PRIu64 " %s size=%" PRIu64 " period=%" PRIu64 " bytes=%zu\n",
               sm.site, sm.state < LK_NSTATES ? states[sm.state] : "?", sm.size, sm.period,
               sm.content.n);
        for (size_t off = 0; off < sm.content.n; off += 16) {
            printf("      %04zx ", off);
            for (size_t i = off; i < off + 16; i++) {
                if (i >= sm.content.n) {
                    printf("   ");
                    continue;
                }
                int red = i / 8 < sm.redacted.n && (sm.redacted.p[i / 8] >> (i % 8)) & 1;
                if (red)
                    printf(" **");
                else
                    printf(" %02x", sm.content.p[i]);
            }
            printf("  |");
            for (size_t i = off; i < off + 16 && i < sm.content.n; i++) {
                int red = i / 8 < sm.redacted.n && (sm.redacted.p[i / 8] >> (i % 8)) & 1;
                uint8_t c = sm.content.p[i];
                putchar(red ? '*' : (c >= 32 && c < 127) ? c : '.');
            }
            printf("|\n");
        }
    }
    if (r < 0)
        printf("    (malformed samples)\n");
}

int
lk_cmd_dump(int argc, char **argv)
{
    int verbose = 0;
    const char *path = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-v"))
            verbose = 1;
        else if (!path)
            path = argv[i];
    }
    if (!path) {
        lk_cli_error("usage: leakscope dump [-v] FILE");
        return 2;
    }
    uint8_t *data;
    size_t len;
    int err = lk_cli_read_file(path, &data, &len);
    if (err < 0) {
        lk_cli_error("%s: %s", path, lk_strerror(err));
        return 2;
    }
    struct lk_reader r;
    struct lk_record rec;
    int rc = 0;
    if (lk_reader_open(&r, path, data, len) < 0) {
        lk_cli_error("%s", r.errmsg);
        free(data);
        return 2;
    }
    printf("version %u.%u, %zu bytes\n", r.major, r.minor, len);
    while ((err = lk_reader_next(&r, &rec)) == 1) {
        const char *name = rec.type < sizeof type_names / sizeof *type_names
                               ? type_names[rec.type] : "UNKNOWN";
        printf("#%" PRIu64 " @0x%" PRIx64 " %s len=%zu", rec.index, rec.offset, name, rec.len);
        if (rec.type == LK_REC_SNAPSHOT) {
            dump_snapshot(&rec, verbose);
            continue;
        }
        if (rec.type == LK_REC_SCAN) {
            dump_scan(&rec);
            continue;
        }
        if (rec.type == LK_REC_MODULE) {
            struct lk_module m;
            if (lk_module_decode(rec.payload, rec.len, &m) == 0)
                printf(" id=%" PRIu64 " base=0x%" PRIx64 " %.*s", m.id, m.base, (int)m.path.n,
                       (const char *)m.path.p);
        } else if (rec.type == LK_REC_STACK) {
            struct lk_stack st;
            struct lk_frame fr[LK_MAX_FRAMES];
            if (lk_stack_decode(rec.payload, rec.len, &st, fr, LK_MAX_FRAMES) == 0) {
                printf(" site=%" PRIu64 " kind=%" PRIu64 " frames=%" PRIu64, st.site, st.kind,
                       st.nframes);
                for (uint64_t i = 0; verbose && i < st.nframes; i++)
                    printf(" %" PRIu64 "+0x%" PRIx64, fr[i].module, fr[i].offset);
            }
        } else if (rec.type == LK_REC_INFO) {
            struct lk_info in;
            if (lk_info_decode(rec.payload, rec.len, &in) == 0)
                printf(" pid=%" PRIu64 " period=%" PRIu64 "ms depth=%" PRIu64 " sample=%" PRIu64
                       " flags=0x%" PRIx64 " exe=%.*s",
                       in.pid, in.period_ms, in.depth, in.sample_bytes, in.flags, (int)in.exe.n,
                       (const char *)in.exe.p);
        } else if (rec.type == LK_REC_END) {
            struct lk_end en;
            if (lk_end_decode(rec.payload, rec.len, &en) == 0)
                printf(" reason=%" PRIu64 " code=%" PRIu64, en.reason, en.code);
        } else if (rec.type == LK_REC_NOTE) {
            struct lk_note no;
            if (lk_note_decode(rec.payload, rec.len, &no) == 0)
                printf(" level=%" PRIu64 " %.*s", no.level, (int)no.text.n,
                       (const char *)no.text.p);
        }
        printf("\n");
    }
    if (err < 0) {
        lk_cli_error("%s", r.errmsg);
        rc = 2;
    } else if (r.torn) {
        fprintf(stderr, "leakscope: warning: %s\n", r.errmsg);
    }
    free(data);
    return rc;
}
