/* The recording format, mirroring docs/FORMAT.md (the normative text).
 *
 * A recording is a 16-byte file header followed by framed records:
 * type (u8), payload length (u32 LE), payload, CRC-32 (u32 LE) of type,
 * length and payload. Payload integers are LEB128 varints. This header is
 * shared by the agent (writer.c) and the CLI (reader.c, format.c): it holds
 * no state and nothing here allocates. */
#ifndef LK_FORMAT_H
#define LK_FORMAT_H

#include <stddef.h>
#include <stdint.h>

#define LK_MAGIC "LKSCOPE"     /* 8 bytes with its NUL */
#define LK_MAGIC_LEN 8
#define LK_VERSION_MAJOR 1     /* readers reject other majors */
#define LK_VERSION_MINOR 3     /* readers accept any minor of their major */
#define LK_FILE_HEADER_LEN 16  /* magic, major u16, minor u16, flags u32 */
#define LK_FRAME_HEAD 5        /* type u8 + length u32 */
#define LK_FRAME_TAIL 4        /* crc32 u32 */
#define LK_MAX_RECORD (256u << 20) /* longest payload a reader accepts */
#define LK_MAX_FRAMES 256      /* deepest stack the format carries */
#define LK_COHORTS 24          /* cohort buckets per site, see lk_cohort_of() */
#define LK_SIZE_CLASSES 32     /* log2 size classes, see lk_size_class() */

enum lk_rec_type {
    LK_REC_INFO = 1,        /* once, first: process and agent settings */
    LK_REC_MODULE = 2,      /* a loaded ELF object */
    LK_REC_MODULE_GONE = 3, /* an object was unloaded (dlclose) */
    LK_REC_STACK = 4,       /* a new allocation site and its call stack */
    LK_REC_SNAPSHOT = 5,    /* process memory and the sites that changed */
    LK_REC_END = 6,         /* the process ended or the agent stopped */
    LK_REC_NOTE = 7,        /* a message from the agent */
    LK_REC_SCAN = 8,        /* since 1.3: a reachability scan of the live blocks */
};

/* INFO flags */
#define LK_INFO_NOT_INTERPOSED 0x1u /* malloc resolves elsewhere: program has its own allocator */
#define LK_INFO_FORK_CHILD 0x2u     /* recording of a forked child */
#define LK_INFO_TRACKS_MMAP 0x4u    /* anonymous mmap is tracked as site kind LK_KIND_MMAP */
#define LK_INFO_WATCH 0x8u          /* written by `leakscope watch`: no agent, process fields only */

/* STACK kinds */
enum lk_kind { LK_KIND_HEAP = 0, LK_KIND_MMAP = 1 };

/* Process fields of a SNAPSHOT, in order. Later minors may append fields. */
enum lk_proc_field {
    LK_PROC_RSS,         /* resident set size, bytes (VmRSS) */
    LK_PROC_VM,          /* virtual size, bytes */
    LK_PROC_HEAP_LIVE,   /* bytes in live tracked blocks (requested sizes) */
    LK_PROC_HEAP_COUNT,  /* live tracked blocks */
    LK_PROC_ALLOCS,      /* tracked allocations since start */
    LK_PROC_FREES,       /* tracked frees since start */
    LK_PROC_MI_ARENA,    /* mallinfo2 arena: bytes from sbrk */
    LK_PROC_MI_HBLKHD,   /* mallinfo2 hblkhd: bytes in mmapped chunks */
    LK_PROC_MI_UORD,     /* mallinfo2 uordblks: bytes in use in the main arenas */
    LK_PROC_MI_FORD,     /* mallinfo2 fordblks: free bytes held by the allocator */
    LK_PROC_MI_KEEP,     /* mallinfo2 keepcost: releasable top-most free bytes */
    LK_PROC_UNTRACKED,   /* blocks freed that the agent never saw allocated */
    /* since 1.1 */
    LK_PROC_ANON,        /* resident anonymous bytes (RssAnon, = smaps_rollup Anonymous) */
    LK_PROC_RSS_FILE,    /* file-backed and shmem resident bytes (RssFile + RssShmem) */
    LK_PROC_SWAP,        /* bytes swapped out (VmSwap) */
    LK_PROC_MMAP_LIVE,   /* bytes in live anonymous mappings the program made (kind LK_KIND_MMAP) */
    LK_PROC_MMAP_COUNT,  /* those mappings */
    LK_PROC_CG_LIMIT,    /* cgroup v2 memory.max in bytes, 0 = no limit */
    LK_PROC_CG_USAGE,    /* cgroup v2 memory.current in bytes, 0 = unknown */
    LK_PROC_MEM_TOTAL,   /* /proc/meminfo MemTotal in bytes */
    LK_PROC_THREADS,     /* threads in the process */
    /* since 1.2 */
    LK_PROC_AGENT,       /* bytes of the agent's own tables (its anonymous memory, about) */
    LK_PROC_MAP_HEAP,    /* resident bytes of [heap] (smaps; written by `watch`) */
    LK_PROC_MAP_ANON,    /* of other anonymous mappings (mmap'd arenas, managed heaps) */
    LK_PROC_MAP_STACK,   /* of [stack] and thread stacks */
    LK_PROC_MAP_FILE,    /* of file-backed mappings */
    LK_PROC_MAP_OTHER,   /* of [vdso], [vvar] and the rest */
    LK_PROC_NFIELDS
};

/* Per-site fields of a SNAPSHOT, in order. Later minors may append. */
enum lk_site_field {
    LK_SITE_LIVE_BYTES,  /* sum of requested sizes of live blocks */
    LK_SITE_LIVE_COUNT,  /* live blocks */
    LK_SITE_ALLOCS,      /* allocations since start */
    LK_SITE_FREES,       /* frees since start */
    LK_SITE_ALLOC_BYTES, /* bytes allocated since start */
    LK_SITE_NFIELDS
};

/* SCAN: what started it, how it was done, per-site states and retainers */
enum lk_scan_trigger {
    LK_SCAN_BY_REQUEST = 0, /* `leakscope scan PID` (a request file) */
    LK_SCAN_BY_SIGNAL = 1,  /* the signal named by LEAKSCOPE_SCAN_SIGNAL */
    LK_SCAN_BY_PERIOD = 2,  /* every LEAKSCOPE_SCAN_EVERY periods */
    LK_SCAN_AT_EXIT = 3,    /* the final scan at exit */
};
#define LK_SCAN_REGISTERS 0x1u /* every thread's registers were roots (threads were stopped) */
#define LK_SCAN_INTERIOR 0x2u  /* a pointer into a block's middle kept it (not only its start) */
#define LK_SCAN_PARTIAL 0x4u   /* stopped early (time or memory limit): states are not final */
#define LK_SCAN_SAMPLED 0x8u   /* the recording samples: untracked blocks could hold pointers */
#define LK_SCAN_IN_PLACE 0x10u /* one thread at exit: scanned in place, nothing stopped or copied */

enum lk_block_state {
    LK_BLOCK_UNREACHABLE = 0, /* no pointer from a root or a reachable block: directly lost */
    LK_BLOCK_INDIRECT = 1,    /* reachable only from unreachable blocks */
    LK_BLOCK_REACHABLE = 2,
    LK_NSTATES
};

/* Who held a block when the scan first reached it. */
enum lk_retainer_kind {
    LK_RET_NONE = 0,
    LK_RET_SITE = 1,   /* a block of site `id` */
    LK_RET_MODULE = 2, /* a writable segment (.data, .bss) of module `id` */
    LK_RET_STACK = 3,  /* a thread's stack or registers (id = 0) */
    LK_RET_OTHER = 4,  /* another root mapping (TLS, memory the agent did not see allocated) */
};
#define LK_SCAN_RETAINERS 4  /* most retainers per site entry */
#define LK_SCAN_CONTENT 256  /* most content bytes per sample */

enum lk_end_reason { LK_END_EXIT = 0, LK_END_SIGNAL = 1, LK_END_EXEC = 2, LK_END_AGENT = 3 };
enum lk_note_level { LK_NOTE_INFO = 0, LK_NOTE_WARN = 1, LK_NOTE_ERROR = 2 };

/* Cohort bucket of an allocation born in `period`: bucket k holds periods
 * [2^k - 1, 2^(k+1) - 1), so early periods stay fine-grained and a run of
 * a million periods needs 20 buckets. */
static inline unsigned
lk_cohort_of(uint64_t period)
{
    unsigned k = 63u - (unsigned)__builtin_clzll(period + 1);
    return k < LK_COHORTS ? k : LK_COHORTS - 1;
}

/* First period of cohort bucket k. */
static inline uint64_t
lk_cohort_start(unsigned k)
{
    return (1ull << k) - 1;
}

/* Size class: floor(log2(size)), 0 for sizes 0 and 1, capped. */
static inline unsigned
lk_size_class(uint64_t size)
{
    if (size < 2)
        return 0;
    unsigned c = 63u - (unsigned)__builtin_clzll(size);
    return c < LK_SIZE_CLASSES ? c : LK_SIZE_CLASSES - 1;
}

/* ---- decoding (format.c) ---------------------------------------------- */

struct lk_bytes {
    const uint8_t *p;
    size_t n;
};

/* A cursor over one payload. Any read past the end or malformed varint sets
 * err and yields zeros, so decoders check err once at the end. */
struct lk_dec {
    const uint8_t *p;
    const uint8_t *end;
    int err;
};

void lk_dec_init(struct lk_dec *d, const uint8_t *p, size_t n);
uint64_t lk_dec_u64(struct lk_dec *d);
int64_t lk_dec_i64(struct lk_dec *d);
struct lk_bytes lk_dec_bytes(struct lk_dec *d);
/* A count of items each at least min_bytes long; err when it cannot fit in
 * what is left, so a hostile count never drives a huge allocation. */
uint64_t lk_dec_count(struct lk_dec *d, size_t min_bytes);

struct lk_info {
    uint64_t pid, ppid;
    uint64_t start_realtime_ns; /* CLOCK_REALTIME at agent start */
    uint64_t page_size;
    uint64_t period_ms;    /* snapshot period */
    uint64_t depth;        /* maximum frames captured */
    uint64_t sample_bytes; /* mean sampling interval, 0 = every allocation */
    uint64_t flags;        /* LK_INFO_* */
    uint64_t pointer_bytes;
    struct lk_bytes arch;      /* "x86_64", ... */
    struct lk_bytes exe;       /* /proc/self/exe at start */
    struct lk_bytes cmdline;   /* arguments, each followed by a NUL byte */
    struct lk_bytes agent_version;
};
int lk_info_decode(const uint8_t *p, size_t n, struct lk_info *out);

struct lk_module {
    uint64_t id;       /* >= 1, unique in the recording */
    uint64_t base;     /* load bias: runtime address = ELF vaddr + base */
    uint64_t lo, hi;   /* runtime address range of its PT_LOAD segments */
    uint64_t time_ns;  /* monotonic time since start when first seen */
    struct lk_bytes path;
    struct lk_bytes build_id;
};
int lk_module_decode(const uint8_t *p, size_t n, struct lk_module *out);

struct lk_module_gone {
    uint64_t id;
    uint64_t time_ns;
};
int lk_module_gone_decode(const uint8_t *p, size_t n, struct lk_module_gone *out);

struct lk_frame {
    uint64_t module; /* module id, 0 = none (offset is then the address) */
    uint64_t offset; /* return address minus the module's base */
};
struct lk_stack {
    uint64_t site;    /* >= 1 */
    uint64_t kind;    /* lk_kind */
    uint64_t nframes; /* frames decoded into the caller's array */
};
/* Decodes at most max frames into frames[]; more frames is an error. */
int lk_stack_decode(const uint8_t *p, size_t n, struct lk_stack *out, struct lk_frame *frames,
                    size_t max);

struct lk_snapshot {
    uint64_t seq;     /* increasing in file order; gaps where older snapshots were thinned */
    uint64_t time_ns; /* monotonic time since start */
    uint64_t period;  /* period index at the snapshot */
    uint64_t proc[LK_PROC_NFIELDS]; /* missing fields read as 0 */
    uint64_t nproc;   /* fields present in the file */
    uint64_t nclasses; /* classes present; 0 = as in the previous snapshot (1.2) */
    uint64_t class_count[LK_SIZE_CLASSES]; /* live blocks per size class */
    uint64_t class_bytes[LK_SIZE_CLASSES];
    struct lk_dec sites; /* cursor at the first site entry */
};
struct lk_site_entry {
    uint64_t site;
    uint64_t f[LK_SITE_NFIELDS];
    uint64_t ncohorts;
    uint64_t born[LK_COHORTS];      /* allocations born in bucket k */
    uint64_t live_count[LK_COHORTS];
    uint64_t live_bytes[LK_COHORTS];
    uint64_t hist[LK_SIZE_CLASSES]; /* allocations per size class */
};
int lk_snapshot_decode(const uint8_t *p, size_t n, struct lk_snapshot *out);
/* Decodes the next site entry: 1 and *out filled, 0 at the list's end
 * (site id 0), negative when malformed. */
int lk_snapshot_next_site(struct lk_snapshot *s, struct lk_site_entry *out);

struct lk_end {
    uint64_t time_ns;
    uint64_t reason; /* lk_end_reason */
    uint64_t code;   /* exit status or signal number */
};
int lk_end_decode(const uint8_t *p, size_t n, struct lk_end *out);

struct lk_note {
    uint64_t level; /* lk_note_level */
    uint64_t time_ns;
    struct lk_bytes text;
};
int lk_note_decode(const uint8_t *p, size_t n, struct lk_note *out);

struct lk_scan {
    uint64_t seq;        /* 0, 1, 2, ... in file order */
    uint64_t time_ns;    /* when the threads were stopped */
    uint64_t period;     /* period index at the scan */
    uint64_t trigger;    /* lk_scan_trigger */
    uint64_t flags;      /* LK_SCAN_* */
    uint64_t pause_ns;   /* how long the program's threads were stopped */
    uint64_t scan_ns;    /* how long the scan of the copy took */
    uint64_t threads;    /* threads whose stacks and registers were roots */
    uint64_t root_bytes; /* bytes of root memory scanned */
    uint64_t heap_bytes; /* bytes of block memory scanned */
    uint64_t blocks;     /* tracked blocks the scan classified */
    struct lk_dec sites; /* cursor at the first site entry, then the samples */
};
struct lk_scan_site {
    uint64_t site;
    uint64_t count[LK_NSTATES]; /* blocks per lk_block_state */
    uint64_t bytes[LK_NSTATES];
    uint64_t nret;              /* retainers decoded, at most LK_SCAN_RETAINERS */
    uint64_t ret_kind[LK_SCAN_RETAINERS];
    uint64_t ret_id[LK_SCAN_RETAINERS];
    uint64_t ret_count[LK_SCAN_RETAINERS]; /* blocks of this site first reached from it */
};
struct lk_scan_sample {
    uint64_t site;
    uint64_t state;  /* lk_block_state */
    uint64_t size;   /* the block's requested size */
    uint64_t period; /* its birth period */
    struct lk_bytes content; /* its first bytes, redacted spans zeroed */
    struct lk_bytes redacted; /* one bit per content byte (LSB first): 1 = redacted */
};
int lk_scan_decode(const uint8_t *p, size_t n, struct lk_scan *out);
/* Next site entry: 1 and *out filled, 0 after the list's end (site 0), negative
 * when malformed. Then lk_scan_next_sample the same way (site 0 ends them). */
int lk_scan_next_site(struct lk_scan *s, struct lk_scan_site *out);
int lk_scan_next_sample(struct lk_scan *s, struct lk_scan_sample *out);

#endif
