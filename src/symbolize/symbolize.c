/* Offline symbolization of recorded frames with libdwfl. Each module gets a
 * Dwfl session of its own, opened on first use at its recorded base: a
 * module loaded, unloaded and replaced by another at the same address
 * (dlopen/dlclose) then never overlaps another in one address space. Inline
 * chains come from dwarf_getscopes_die on the innermost scope, call sites
 * from DW_AT_call_file/line, as eu-addr2line -i does. Results are cached
 * per (module, offset) in an open-addressing table; every string returned
 * is owned by the symbolizer. CLI only: it allocates freely. */
#include "symbolize.h"

#include <dwarf.h>
#include <elfutils/libdw.h>
#include <elfutils/libdwfl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

char *__cxa_demangle(const char *mangled, char *buf, size_t *len, int *status);

struct mod_state {
    const struct lk_model_module *mod;
    int tried;  /* open attempted */
    Dwfl *dwfl; /* NULL when the module could not be opened */
    Dwfl_Module *dm;
    Dwarf_Addr bias; /* dwfl address = bias + ELF vaddr (= recorded offset) */
};

struct entry {
    uint64_t module, offset; /* key */
    int used;
    size_t n;
    struct lk_sym_frame *frames;
};

struct lk_symbolizer {
    const struct lk_model *m;
    struct mod_state *mods; /* parallel to m->modules */
    struct entry *tab;
    size_t cap, count; /* cap is a power of two */
    char **strs;       /* every string handed out, freed at close */
    size_t nstrs, capstrs;
    char **warn;
    size_t nwarn, capwarn;
    struct lk_sym_frame unknown; /* returned when out of memory */
};

static char *debuginfo_path = NULL; /* libdwfl's default: ":.debug:/usr/lib/debug" */

static const Dwfl_Callbacks callbacks = {
    .find_elf = dwfl_build_id_find_elf,
    .find_debuginfo = dwfl_standard_find_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = &debuginfo_path,
};

static int
push(char ***arr, size_t *n, size_t *cap, char *s)
{
    if (!s)
        return -1;
    if (*n == *cap) {
        size_t nc = *cap ? *cap * 2 : 64;
        char **p = realloc(*arr, nc * sizeof *p);
        if (!p) {
            free(s);
            return -1;
        }
        *arr = p;
        *cap = nc;
    }
    (*arr)[(*n)++] = s;
    return 0;
}

/* A copy owned by the symbolizer, NULL for NULL or on ENOMEM. */
static const char *
keep(struct lk_symbolizer *s, const char *str)
{
    if (!str)
        return NULL;
    char *c = strdup(str);
    if (push(&s->strs, &s->nstrs, &s->capstrs, c) < 0)
        return NULL;
    return c;
}

/* Keeps a demangled copy of a symbol name. */
static const char *
keep_name(struct lk_symbolizer *s, const char *name)
{
    if (!name)
        return NULL;
    if (name[0] == '_' && name[1] == 'Z') {
        int status = 0;
        char *d = __cxa_demangle(name, NULL, NULL, &status);
        if (d && status == 0) {
            if (push(&s->strs, &s->nstrs, &s->capstrs, d) < 0)
                return NULL;
            return d;
        }
        free(d);
    }
    return keep(s, name);
}

static void
warn(struct lk_symbolizer *s, const char *fmt, const char *path)
{
    char buf[512];
    snprintf(buf, sizeof buf, fmt, path);
    for (size_t i = 0; i < s->nwarn; i++)
        if (!strcmp(s->warn[i], buf))
            return;
    push(&s->warn, &s->nwarn, &s->capwarn, strdup(buf));
}

struct lk_symbolizer *
lk_symbolize_open(const struct lk_model *m)
{
    struct lk_symbolizer *s = calloc(1, sizeof *s);
    if (!s)
        return NULL;
    s->m = m;
    s->mods = calloc(m->nmodules ? m->nmodules : 1, sizeof *s->mods);
    s->cap = 1024;
    s->tab = calloc(s->cap, sizeof *s->tab);
    if (!s->mods || !s->tab) {
        lk_symbolize_close(s);
        return NULL;
    }
    for (size_t i = 0; i < m->nmodules; i++)
        s->mods[i].mod = &m->modules[i];
    return s;
}

void
lk_symbolize_close(struct lk_symbolizer *s)
{
    if (!s)
        return;
    if (s->mods)
        for (size_t i = 0; i < s->m->nmodules; i++)
            if (s->mods[i].dwfl)
                dwfl_end(s->mods[i].dwfl);
    if (s->tab)
        for (size_t i = 0; i < s->cap; i++)
            free(s->tab[i].frames);
    for (size_t i = 0; i < s->nstrs; i++)
        free(s->strs[i]);
    for (size_t i = 0; i < s->nwarn; i++)
        free(s->warn[i]);
    free(s->strs);
    free(s->warn);
    free(s->tab);
    free(s->mods);
    free(s);
}

const char *
lk_symbolize_warning(const struct lk_symbolizer *s, size_t i)
{
    return i < s->nwarn ? s->warn[i] : NULL;
}

/* Reports path into a fresh Dwfl; 0 with st->dwfl/dm set, -1 otherwise. */
static int
report(struct mod_state *st, const char *path)
{
    Dwfl *dwfl = dwfl_begin(&callbacks);
    if (!dwfl)
        return -1;
    dwfl_report_begin(dwfl);
    Dwfl_Module *dm = dwfl_report_elf(dwfl, st->mod->path, path, -1, st->mod->base, false);
    dwfl_report_end(dwfl, NULL, NULL);
    if (!dm) {
        dwfl_end(dwfl);
        return -1;
    }
    Dwarf_Addr bias = 0;
    if (!dwfl_module_getelf(dm, &bias)) {
        dwfl_end(dwfl);
        return -1;
    }
    st->dwfl = dwfl;
    st->dm = dm;
    st->bias = bias;
    return 0;
}

/* Whether the opened module's build-id matches the recorded one (or either
 * is unknown). */
static int
build_id_ok(const struct mod_state *st)
{
    const unsigned char *bits = NULL;
    GElf_Addr vaddr;
    if (!st->mod->build_id_len)
        return 1;
    int n = dwfl_module_build_id(st->dm, &bits, &vaddr);
    if (n <= 0)
        return 1;
    return (size_t)n == st->mod->build_id_len && !memcmp(bits, st->mod->build_id, (size_t)n);
}

/* Opens the module from a file found by its recorded build-id, the way gdb
 * and eu-* tools look: in each directory of LEAKSCOPE_DEBUG_PATH (colon-
 * separated; a symbol store of copies of shipped binaries or of their debug
 * files) and then /usr/lib/debug, DIR/.build-id/ab/cdef....debug, then
 * (symbol stores keep the binary itself) DIR/.build-id/ab/cdef...; then
 * debuginfod's client cache ($DEBUGINFOD_CACHE_PATH, else
 * $XDG_CACHE_HOME/debuginfod_client, else ~/.cache/debuginfod_client)
 * HEX/debuginfo and HEX/executable. A library unloaded and deleted before
 * the report still resolves when one of these holds it. 0 when opened. */
static int
open_by_build_id(struct mod_state *st)
{
    const struct lk_model_module *mod = st->mod;
    if (mod->build_id_len < 2 || mod->build_id_len > 64)
        return -1;
    char hex[2 * 64 + 1];
    for (size_t i = 0; i < mod->build_id_len; i++)
        snprintf(hex + 2 * i, 3, "%02x", mod->build_id[i]);
    const char *env = getenv("LEAKSCOPE_DEBUG_PATH");
    char dirs[4096];
    snprintf(dirs, sizeof dirs, "%s%s/usr/lib/debug", env && env[0] ? env : "",
             env && env[0] ? ":" : "");
    char path[4096 + 256];
    for (char *save = NULL, *d = strtok_r(dirs, ":", &save); d; d = strtok_r(NULL, ":", &save)) {
        static const char *const suffix[] = {".debug", ""};
        for (int k = 0; k < 2; k++) {
            snprintf(path, sizeof path, "%s/.build-id/%.2s/%s%s", d, hex, hex + 2, suffix[k]);
            if (access(path, R_OK) == 0 && report(st, path) == 0) {
                if (build_id_ok(st))
                    return 0;
                dwfl_end(st->dwfl);
                st->dwfl = NULL;
                st->dm = NULL;
            }
        }
    }
    char cache[4096];
    const char *c = getenv("DEBUGINFOD_CACHE_PATH"), *x = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    if (c && c[0])
        snprintf(cache, sizeof cache, "%s", c);
    else if (x && x[0])
        snprintf(cache, sizeof cache, "%s/debuginfod_client", x);
    else if (home && home[0])
        snprintf(cache, sizeof cache, "%s/.cache/debuginfod_client", home);
    else
        return -1;
    static const char *const leaf[] = {"debuginfo", "executable"};
    for (int k = 0; k < 2; k++) {
        snprintf(path, sizeof path, "%s/%s/%s", cache, hex, leaf[k]);
        if (access(path, R_OK) == 0 && report(st, path) == 0) {
            if (build_id_ok(st))
                return 0;
            dwfl_end(st->dwfl);
            st->dwfl = NULL;
            st->dm = NULL;
        }
    }
    return -1;
}

static void
open_module(struct lk_symbolizer *s, struct mod_state *st)
{
    st->tried = 1;
    const char *path = st->mod->path;
    int exists = path[0] && access(path, R_OK) == 0;
    if (exists && report(st, path) == 0) {
        if (build_id_ok(st))
            return;
        dwfl_end(st->dwfl);
        st->dwfl = NULL;
        st->dm = NULL;
        if (open_by_build_id(st) == 0)
            return;
        warn(s,
             "%s: build-id differs from the recording (rebuilt since?); its frames are "
             "shown as path+offset",
             path);
        return;
    }
    if (open_by_build_id(st) == 0)
        return;
    const char *b = strrchr(path, '/');
    if (!strncmp(b ? b + 1 : path, "libleakscope", 12))
        return; /* the agent's own frames are folded away by name */
    warn(s,
         exists ? "%s: not a readable ELF file; its frames are shown as path+offset"
                : "%s: file not found (nor a file with its build-id in LEAKSCOPE_DEBUG_PATH, "
                  "/usr/lib/debug or debuginfod's cache); its frames are shown as path+offset",
         path[0] ? path : "(unnamed module)");
}

/* The name of a function DIE: linkage name (demangled) when present, else
 * DW_AT_name, following abstract origins. */
static const char *
die_name(struct lk_symbolizer *s, Dwarf_Die *die)
{
    Dwarf_Attribute attr;
    const char *name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_linkage_name, &attr));
    if (!name)
        name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_MIPS_linkage_name, &attr));
    if (!name)
        name = dwarf_formstring(dwarf_attr_integrate(die, DW_AT_name, &attr));
    return keep_name(s, name);
}

static int
is_function(Dwarf_Die *die)
{
    int tag = dwarf_tag(die);
    return tag == DW_TAG_subprogram || tag == DW_TAG_inlined_subroutine ||
           tag == DW_TAG_entry_point;
}

/* Resolves addr (a dwfl address inside st's module) into up to max logical
 * frames; returns the count. */
static size_t
resolve(struct lk_symbolizer *s, struct mod_state *st, Dwarf_Addr addr,
        const struct lk_sym_frame *proto, struct lk_sym_frame *out, size_t max)
{
    GElf_Off soff = 0;
    GElf_Sym sym;
    const char *symname = dwfl_module_addrinfo(st->dm, addr, &soff, &sym, NULL, NULL, NULL);
    const char *file = NULL;
    int line = 0;
    Dwfl_Line *dl = dwfl_module_getsrc(st->dm, addr);
    if (dl)
        file = dwfl_lineinfo(dl, NULL, &line, NULL, NULL, NULL);

    size_t n = 0;
    out[0] = *proto;
    out[0].file = keep(s, file);
    out[0].line = line > 0 ? (unsigned)line : 0;

    Dwarf_Addr cubias = 0;
    Dwarf_Die *cudie = dwfl_module_addrdie(st->dm, addr, &cubias);
    Dwarf_Die *scopes = NULL;
    int ns = cudie ? dwarf_getscopes(cudie, addr - cubias, &scopes) : 0;
    if (ns > 0) {
        Dwarf_Die inner = scopes[0];
        free(scopes);
        scopes = NULL;
        ns = dwarf_getscopes_die(&inner, &scopes);
    }
    Dwarf_Files *files = NULL;
    if (ns > 0 && dwarf_getsrcfiles(cudie, &files, NULL) != 0)
        files = NULL;
    /* Function scopes innermost first: each inlined one is a logical frame
     * whose caller's location is its DW_AT_call_file/line. */
    for (int i = 0; i < ns && n < max; i++) {
        Dwarf_Die *die = &scopes[i];
        if (!is_function(die))
            continue;
        int tag = dwarf_tag(die);
        /* out[n] holds the location (line table, or the call site of the
         * previous inlined scope); the name comes from this scope. */
        out[n].function = die_name(s, die);
        if (tag != DW_TAG_inlined_subroutine) {
            /* The outermost: the ELF symbol names it best (full C++ name). */
            if (symname)
                out[n].function = keep_name(s, symname);
            n++;
            break;
        }
        out[n].inlined = 1;
        Dwarf_Attribute attr;
        Dwarf_Word val;
        if (n + 1 < max) {
            out[n + 1] = *proto;
            if (files && dwarf_formudata(dwarf_attr(die, DW_AT_call_file, &attr), &val) == 0)
                out[n + 1].file = keep(s, dwarf_filesrc(files, val, NULL, NULL));
            if (dwarf_formudata(dwarf_attr(die, DW_AT_call_line, &attr), &val) == 0)
                out[n + 1].line = (unsigned)val;
        }
        n++;
    }
    free(scopes);
    if (n == 0) {
        out[0].function = keep_name(s, symname);
        n = 1;
    } else if (n < max && out[n - 1].inlined) {
        /* The chain ended without a subprogram: close it with the symbol. */
        const char *f = out[n].file;
        unsigned l = out[n].line;
        out[n] = *proto;
        out[n].function = keep_name(s, symname);
        out[n].file = f;
        out[n].line = l;
        n++;
    }
    return n;
}

/* Finds a module containing an absolute address; NULL when none does. */
static struct mod_state *
module_at(struct lk_symbolizer *s, uint64_t addr)
{
    for (size_t i = 0; i < s->m->nmodules; i++)
        if (s->mods[i].mod->lo <= addr && addr < s->mods[i].mod->hi)
            return &s->mods[i];
    return NULL;
}

static struct mod_state *
module_id(struct lk_symbolizer *s, uint64_t id)
{
    for (size_t i = 0; i < s->m->nmodules; i++)
        if (s->mods[i].mod->id == id)
            return &s->mods[i];
    return NULL;
}

static size_t
slot_of(uint64_t module, uint64_t offset, size_t cap)
{
    uint64_t h = (offset ^ (module * 0x9e3779b97f4a7c15ull)) * 0xff51afd7ed558ccdull;
    return (size_t)(h ^ (h >> 29)) & (cap - 1);
}

static int
rehash(struct lk_symbolizer *s)
{
    size_t cap = s->cap * 2;
    struct entry *tab = calloc(cap, sizeof *tab);
    if (!tab)
        return -1;
    for (size_t i = 0; i < s->cap; i++) {
        if (!s->tab[i].used)
            continue;
        size_t j = slot_of(s->tab[i].module, s->tab[i].offset, cap);
        while (tab[j].used)
            j = (j + 1) & (cap - 1);
        tab[j] = s->tab[i];
    }
    free(s->tab);
    s->tab = tab;
    s->cap = cap;
    return 0;
}

size_t
lk_symbolize_frame(struct lk_symbolizer *s, const struct lk_frame *f,
                   const struct lk_sym_frame **out)
{
    size_t j = slot_of(f->module, f->offset, s->cap);
    for (; s->tab[j].used; j = (j + 1) & (s->cap - 1))
        if (s->tab[j].module == f->module && s->tab[j].offset == f->offset) {
            *out = s->tab[j].frames;
            return s->tab[j].n;
        }

    struct lk_sym_frame tmp[32];
    struct lk_sym_frame proto = {0};
    struct mod_state *st = NULL;
    uint64_t offset = f->offset;
    if (f->module) {
        st = module_id(s, f->module);
    } else if ((st = module_at(s, f->offset)) != NULL) {
        offset = f->offset - st->mod->base;
    }
    proto.module_id = st ? st->mod->id : 0;
    proto.module = st ? st->mod->path : NULL;
    proto.offset = st ? offset : f->offset;
    size_t n = 1;
    tmp[0] = proto;
    if (st) {
        if (!st->tried)
            open_module(s, st);
        if (st->dm)
            n = resolve(s, st, st->bias + offset - (offset ? 1 : 0), &proto, tmp,
                        sizeof tmp / sizeof tmp[0]);
    }

    struct lk_sym_frame *frames = malloc(n * sizeof *frames);
    if (!frames || ((s->count + 1) * 2 > s->cap && rehash(s) < 0)) {
        free(frames);
        s->unknown = proto;
        *out = &s->unknown;
        return 1;
    }
    memcpy(frames, tmp, n * sizeof *frames);
    j = slot_of(f->module, f->offset, s->cap);
    while (s->tab[j].used)
        j = (j + 1) & (s->cap - 1);
    s->tab[j] = (struct entry){f->module, f->offset, 1, n, frames};
    s->count++;
    *out = frames;
    return n;
}

static const char *
base_name(const char *path)
{
    const char *b = strrchr(path, '/');
    return b ? b + 1 : path;
}

int
lk_symbolize_is_allocator(const struct lk_sym_frame *f)
{
    static const char *const names[] = {
        "malloc",   "calloc",    "realloc", "free",         "posix_memalign", "aligned_alloc",
        "memalign", "valloc",    "pvalloc", "reallocarray", "strdup",         "strndup",
        "__strdup", "__strndup", "wcsdup",  "__wcsdup",
    };
    if (f->module && !strncmp(base_name(f->module), "libleakscope", 12))
        return 1;
    const char *fn = f->function;
    if (!fn)
        return 0;
    if (!strncmp(fn, "__GI_", 5))
        fn += 5;
    if (!strncmp(fn, "__libc_", 7) || !strncmp(fn, "operator new", 12) || !strncmp(fn, "_Znw", 4) ||
        !strncmp(fn, "_Zna", 4))
        return 1;
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(fn, names[i]))
            return 1;
    return 0;
}

size_t
lk_symbolize_stack(struct lk_symbolizer *s, const struct lk_model_site *site, int fold,
                   struct lk_sym_frame *out, size_t max, size_t *total)
{
    size_t n = 0, all = 0, skip = 0;
    int folding = fold;
    /* First pass: count the leading allocator frames. */
    if (fold) {
        size_t logical = 0;
        for (size_t i = 0; i < site->nframes && folding; i++) {
            const struct lk_sym_frame *fr;
            size_t k = lk_symbolize_frame(s, &site->frames[i], &fr);
            for (size_t j = 0; j < k && folding; j++, logical++)
                if (lk_symbolize_is_allocator(&fr[j]))
                    skip = logical + 1;
                else
                    folding = 0;
        }
        if (folding)
            skip = 0; /* everything is allocator: show it all */
    }
    for (size_t i = 0; i < site->nframes; i++) {
        const struct lk_sym_frame *fr;
        size_t k = lk_symbolize_frame(s, &site->frames[i], &fr);
        for (size_t j = 0; j < k; j++, all++)
            if (all >= skip && n < max)
                out[n++] = fr[j];
    }
    if (total)
        *total = all > skip ? all - skip : 0;
    return n;
}
