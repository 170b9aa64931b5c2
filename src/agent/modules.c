/* Module list from dl_iterate_phdr: path, load bias, address range of the
 * PT_LOAD segments and the GNU build-id note read from memory. Modules are
 * never forgotten, only marked gone, so stacks captured before a dlclose
 * still resolve. Storage is one mmap'd array (no malloc, no arena).
 *
 * The agent's task may not call dl_iterate_phdr (task.h: the loader's lock
 * is a recursive mutex that reads the caller's thread descriptor), so the
 * program's threads update the list (start-up, the hooks once per period
 * and when a new site has a frame outside every module, the final snapshot)
 * and the task only reads it. An entry is written whole before nmods
 * publishes it, and afterwards only its present flag changes; one thread
 * updates at a time (a try-lock: the others skip). */
#include "modules.h"

#include <elf.h>
#include <errno.h>
#include <stddef.h>
#include <link.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/syscall.h>

#include "sys.h"

#define MAX_MODULES 4096
#define PATH_CAP 512

struct mod {
    uint64_t id;
    uintptr_t base, lo, hi;
    _Atomic int present; /* seen in the latest scan */
    int written;   /* MODULE record written to the current recording */
    int gone_written;
    int seen;      /* scratch for a scan */
    uint8_t build_id[64];
    uint32_t build_id_len;
    char path[PATH_CAP];
};

static struct mod *mods;
static _Atomic unsigned nmods;
static atomic_int updating;
static _Atomic unsigned hint; /* the module of the latest lk_modules_covers hit */
static unsigned long long last_adds = ~0ull, last_subs = ~0ull;
static char exe_path[PATH_CAP];

static void
read_build_id(const struct dl_phdr_info *info, struct mod *m)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE)
            continue;
        const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
        const uint8_t *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
            size_t namesz = (nh->n_namesz + 3) & ~3u, descsz = (nh->n_descsz + 3) & ~3u;
            const uint8_t *name = p + sizeof *nh, *desc = name + namesz;
            if (desc + descsz > end)
                break;
            if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 && !memcmp(name, "GNU", 4) &&
                nh->n_descsz <= sizeof m->build_id) {
                memcpy(m->build_id, desc, nh->n_descsz);
                m->build_id_len = nh->n_descsz;
                return;
            }
            p = desc + descsz;
        }
    }
}

static int
scan_cb(struct dl_phdr_info *info, size_t size, void *ctx)
{
    (void)size;
    (void)ctx;
    const char *name = info->dlpi_name;
    if (!name || !name[0])
        name = exe_path;
    uintptr_t lo = UINTPTR_MAX, hi = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD)
            continue;
        uintptr_t a = info->dlpi_addr + ph->p_vaddr;
        if (a < lo)
            lo = a;
        if (a + ph->p_memsz > hi)
            hi = a + ph->p_memsz;
    }
    if (hi == 0)
        return 0;
    unsigned n = atomic_load_explicit(&nmods, memory_order_relaxed); /* the updater's own */
    for (unsigned i = 0; i < n; i++) {
        struct mod *m = &mods[i];
        if (atomic_load_explicit(&m->present, memory_order_relaxed) && m->base == info->dlpi_addr &&
            m->lo == lo && !strncmp(m->path, name, PATH_CAP - 1)) {
            m->seen = 1;
            return 0;
        }
    }
    if (n >= MAX_MODULES)
        return 0;
    struct mod *m = &mods[n];
    memset(m, 0, sizeof *m);
    m->id = n + 1;
    m->base = info->dlpi_addr;
    m->lo = lo;
    m->hi = hi;
    m->present = 1;
    m->seen = 1;
    for (size_t k = 0; k < PATH_CAP - 1 && name[k]; k++)
        m->path[k] = name[k];
    read_build_id(info, m);
    atomic_store_explicit(&nmods, n + 1, memory_order_release); /* published whole */
    return 0;
}

static void
scan(void)
{
    unsigned n = atomic_load_explicit(&nmods, memory_order_relaxed);
    for (unsigned i = 0; i < n; i++)
        mods[i].seen = 0;
    dl_iterate_phdr(scan_cb, NULL);
    for (unsigned i = 0; i < n; i++)
        if (!mods[i].seen)
            atomic_store_explicit(&mods[i].present, 0, memory_order_release);
}

static int
adds_cb(struct dl_phdr_info *info, size_t size, void *ctx)
{
    unsigned long long *v = ctx;
    if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs) {
        v[0] = info->dlpi_adds;
        v[1] = info->dlpi_subs;
    }
    return 1; /* the counters are the same in every entry: one is enough */
}

int
lk_modules_init(uintptr_t self_addr, uintptr_t *self_lo, uintptr_t *self_hi)
{
    if (!mods) {
        mods = lk_sys_mmap(MAX_MODULES * sizeof *mods);
        if (!mods)
            return -ENOMEM;
    }
    lk_sys_readlink("/proc/self/exe", exe_path, sizeof exe_path);
    scan();
    *self_lo = *self_hi = 0;
    for (unsigned i = 0; i < atomic_load(&nmods); i++)
        if (mods[i].present && self_addr >= mods[i].lo && self_addr < mods[i].hi) {
            *self_lo = mods[i].lo;
            *self_hi = mods[i].hi;
        }
    return 0;
}

void
lk_modules_update(void)
{
    unsigned long long v[2] = {0, 0};
    if (!mods || atomic_exchange_explicit(&updating, 1, memory_order_acquire))
        return;
    dl_iterate_phdr(adds_cb, v);
    if (v[0] != last_adds || v[1] != last_subs) {
        last_adds = v[0];
        last_subs = v[1];
        scan();
    }
    atomic_store_explicit(&updating, 0, memory_order_release);
}

int
lk_modules_covers(uintptr_t addr, uintptr_t *lo, uintptr_t *hi)
{
    unsigned n = atomic_load_explicit(&nmods, memory_order_acquire);
    unsigned h = atomic_load_explicit(&hint, memory_order_relaxed);
    for (unsigned k = 0, i = h < n ? h : 0; k < n; k++, i = i + 1 < n ? i + 1 : 0) {
        const struct mod *m = &mods[i];
        if (addr >= m->lo && addr < m->hi && atomic_load_explicit(&m->present, memory_order_acquire)) {
            if (i != h)
                atomic_store_explicit(&hint, i, memory_order_relaxed);
            if (lo) {
                *lo = m->lo;
                *hi = m->hi;
            }
            return 1;
        }
    }
    return 0;
}

/* this thread's lk_modules_fork_prepare took `updating` (threads may fork at once) */
static __thread int fork_held __attribute__((tls_model("initial-exec")));

void
lk_modules_fork_prepare(void)
{
    uint64_t until = 0;
    for (;;) {
        int zero = 0;
        if (atomic_compare_exchange_strong(&updating, &zero, 1)) {
            fork_held = 1;
            return;
        }
        uint64_t now = lk_sys_now_ns();
        if (!until)
            until = now + 100000000ull;
        else if (now > until)
            break; /* an updater stuck (the program forked from a callback of its own?) */
        lk_sys_call6(SYS_sched_yield, 0, 0, 0, 0, 0, 0);
    }
    fork_held = 0;
}

void
lk_modules_fork_parent(void)
{
    if (fork_held)
        atomic_store_explicit(&updating, 0, memory_order_release);
    fork_held = 0;
}

void
lk_modules_after_fork(void)
{
    fork_held = 0;
    atomic_store(&updating, 0);
}

void
lk_modules_refresh(struct lk_writer *w, uint64_t time_ns, int rewrite_all)
{
    if (!mods)
        return;
    unsigned n = atomic_load_explicit(&nmods, memory_order_acquire);
    for (unsigned i = 0; i < n; i++) {
        struct mod *m = &mods[i];
        if (rewrite_all) {
            m->written = 0;
            m->gone_written = 0;
        }
        if (!m->written) {
            struct lk_module rec = {
                .id = m->id, .base = m->base, .lo = m->lo, .hi = m->hi, .time_ns = time_ns,
                .path = {(const uint8_t *)m->path, strlen(m->path)},
                .build_id = {m->build_id, m->build_id_len},
            };
            lk_write_module(w, &rec);
            m->written = 1;
        }
        if (!atomic_load_explicit(&m->present, memory_order_acquire) && !m->gone_written) {
            lk_write_module_gone(w, m->id, time_ns);
            m->gone_written = 1;
        }
    }
}

/* The answer for addr, and the range around it [*a, *b) over which the
 * answer is the same: the chosen module's range less the parts of modules
 * that do not contain addr (a module that contains addr and lost to the
 * chosen one loses wherever they overlap: the choice depends only on the
 * modules' order and presence). */
static struct lk_frame
locate(uintptr_t addr, uintptr_t *a, uintptr_t *b)
{
    struct lk_frame f = {0, addr};
    int best_present = 0;
    unsigned n = mods ? atomic_load_explicit(&nmods, memory_order_acquire) : 0;
    unsigned best = 0;
    for (unsigned i = 0; i < n; i++) {
        struct mod *m = &mods[i];
        if (addr < m->lo || addr >= m->hi)
            continue;
        int present = atomic_load_explicit(&m->present, memory_order_acquire);
        if (f.module && best_present && !present)
            continue;
        f.module = m->id;
        f.offset = addr - m->base;
        best_present = present;
        best = i;
    }
    if (!a)
        return f;
    *a = f.module ? mods[best].lo : 0;
    *b = f.module ? mods[best].hi : UINTPTR_MAX;
    for (unsigned i = 0; i < n; i++) {
        const struct mod *m = &mods[i];
        if (m->hi <= addr && m->hi > *a)
            *a = m->hi;
        else if (m->lo > addr && m->lo < *b)
            *b = m->lo;
    }
    return f;
}

struct lk_frame
lk_modules_locate(uintptr_t addr)
{
    return locate(addr, NULL, NULL);
}

struct lk_frame
lk_modules_locate_cached(uintptr_t addr, struct lk_modules_cache *c)
{
    for (unsigned i = 0; i < LK_MODULES_CACHED; i++)
        if (c->e[i].module && addr >= c->e[i].lo && addr < c->e[i].hi)
            return (struct lk_frame){c->e[i].module, addr - c->e[i].base};
    unsigned i = c->next;
    c->next = (i + 1) % LK_MODULES_CACHED;
    struct lk_frame f = locate(addr, &c->e[i].lo, &c->e[i].hi);
    c->e[i].module = f.module;
    c->e[i].base = addr - f.offset;
    return f;
}
