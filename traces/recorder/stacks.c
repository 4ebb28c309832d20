/*
 * Call stacks (PTRECORD_STACKS=DEPTH, `record --stacks`; FORMAT.md "Stacks"): the caller's stack of every
 * allocating call, de-duplicated into a table whose new entries are written to the trace before the event
 * that first uses them, plus the executable mappings (modules) the frames fall in.
 *
 * Unwinding: libgcc's _Unwind_Backtrace (DWARF CFI, so it is right where code has no frame pointers, as most
 * of a Debian system has not). libgcc_s is dlopen'ed and warmed up once at process start, only with the
 * option, so an unrecorded-stacks process never loads it; with glibc 2.35+ and libgcc 12+ it finds FDEs
 * through _dl_find_object: no lock, no allocation, safe in a signal handler.
 *
 * The trace stays the exact malloc stream glibc saw: the unwinder's own calls on the program's heap are events
 * like any other, without a stack. Loading it (dlopen of libgcc_s and libunwind, their first unwind) happens in
 * the constructor with the main thread recording, so those calls go in as they come; the calls the unwinder makes
 * while unwinding for an event (libunwind's per-thread cache lives in dynamic TLS, which glibc mallocs at each
 * thread's first unwind) wait in the thread's side buffer and are appended right after that event, which glibc
 * served before them (ptrecord.h, PTR_UNWINDING_*).
 *
 * The table: one open-addressing hash table per process in an mmap'd, never-moving area, shared by every
 * thread without a lock. A slot is claimed with one compare-and-swap of its hash word, filled (frames into
 * the frame arena, the stack's record written to the trace), then published by storing its id (release).
 * A lookup that meets a claimed slot not yet published does not wait: it goes on probing, so two threads
 * that meet the same new stack at the same moment may define it twice (two valid ids). Nothing here waits
 * for another thread, so a signal handler can never deadlock on the table; a call made while its own thread
 * is inside the unwinder or the table (a handler that interrupted them) gets no stack (id 0).
 *
 * Modules: written at start (dl_iterate_phdr: every executable PT_LOAD segment, with its GNU build id read
 * from the PT_NOTE segments in memory). A new stack with a frame outside every known module looks again
 * (libraries dlopen'ed since), under a try-lock: a thread that finds it taken goes on without waiting.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <unwind.h>
#include <sys/mman.h>
#include "ptrecord.h"
#include "encode.h"
#include "sys.h"

struct ptr_stacks ptr_stacks;

#define STACK_SLOTS (1u << 20)                /* 16 MiB reserved, pages touched as used */
#define STACK_MAX_IDS (STACK_SLOTS / 4 * 3)   /* a full table gives id 0: probes stay short */
#define ARENA_WORDS (32u << 20)               /* 256 MiB of frames reserved */
#define MAX_MODULES 8192
#define MODULE_BUF 16384

struct stack_slot {
    uint64_t hash;   /* 0: empty; claimed by CAS */
    uint32_t id;     /* 0 until published (release) */
    uint32_t off;    /* arena word index: [n, frame0, frame1, ...] */
};

struct known_module {
    uint64_t start, end;
};

typedef _Unwind_Reason_Code (*backtrace_fn)(_Unwind_Trace_Fn, void *);
typedef _Unwind_Ptr (*getip_fn)(struct _Unwind_Context *);
typedef int (*unw_backtrace_fn)(void **, int);
typedef int (*unw_caching_fn)(void *, int);

static backtrace_fn unwind_backtrace;
static getip_fn unwind_getip;
static unw_backtrace_fn fast_backtrace;   /* libunwind's unw_backtrace, when libunwind.so.8 is installed */
static struct stack_slot *slots;
static uint64_t *arena;
static uint64_t arena_used;
static uint32_t next_id;
static struct known_module *known;
static uint32_t known_count;
static int module_lock;
static unsigned long long last_adds;   /* dlpi_adds at the last look */
static int have_adds, scan_first;
static uint8_t *module_buf;   /* one table block being built, under module_lock */
static uint32_t module_len, module_records;
static char exe_path[4096];

/* ---- writing table blocks ---- */

static void write_table_block(uint8_t *block, uint32_t payload_len, uint32_t records)
{
    if (ptr_proc.fd < 0 || records == 0) {
        return;
    }
    struct ptr_block_header *h = (struct ptr_block_header *)block;
    h->magic = BLOCK_MAGIC;
    h->codec = 0;
    h->flags = BLOCK_FLAG_TABLE;
    h->reserved = 0;
    h->tid = ptr_self.tid;
    h->event_count = records;
    h->stored_len = payload_len;
    h->raw_len = payload_len;
    h->base_ts = 0;
    h->crc = ptr_crc32_update(ptr_crc32(block, offsetof(struct ptr_block_header, crc)),
                              block + sizeof(struct ptr_block_header), payload_len);
    ptr_write_block(block, sizeof(struct ptr_block_header) + payload_len);
}

/* ---- modules ---- */

static void flush_modules(void)
{
    write_table_block(module_buf, module_len, module_records);
    module_len = 0;
    module_records = 0;
}

static uint64_t str_len(const char *s)
{
    uint64_t n = 0;
    while (s[n]) {
        n++;
    }
    return n;
}

/* The GNU build id of an object, from its PT_NOTE segments in memory; its length (0: none). */
static uint32_t build_id(const struct dl_phdr_info *info, const uint8_t **id)
{
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE) {
            continue;
        }
        const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr);
        const uint8_t *end = p + ph->p_memsz;
        uint64_t align = ph->p_align == 8 ? 8 : 4;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)p;
            const uint8_t *name = p + sizeof(ElfW(Nhdr));
            const uint8_t *desc = name + ((n->n_namesz + align - 1) & ~(align - 1));
            if (desc + n->n_descsz > end) {
                break;
            }
            if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 && name[0] == 'G' && name[1] == 'N' && name[2] == 'U' &&
                n->n_descsz > 0 && n->n_descsz <= 64) {
                *id = desc;
                return n->n_descsz;
            }
            p = desc + ((n->n_descsz + align - 1) & ~(align - 1));
        }
    }
    return 0;
}

static int is_known(uint64_t start, uint64_t end)
{
    uint32_t n = __atomic_load_n(&known_count, __ATOMIC_ACQUIRE);
    for (uint32_t i = 0; i < n; i++) {
        if (known[i].start == start && known[i].end == end) {
            return 1;
        }
    }
    return 0;
}

static int module_callback(struct dl_phdr_info *info, size_t size, void *data)
{
    (void)data;
    if (scan_first) {
        scan_first = 0;
        if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs) {
            if (have_adds && info->dlpi_adds == last_adds) {
                return 1; /* nothing loaded since the last look */
            }
            last_adds = info->dlpi_adds;
            have_adds = 1;
        }
    }
    const char *path = info->dlpi_name != NULL && info->dlpi_name[0] != 0 ? info->dlpi_name : exe_path;
    const uint8_t *id = NULL;
    uint32_t id_len = 0;
    int id_read = 0;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X) || ph->p_memsz == 0) {
            continue;
        }
        uint64_t start = info->dlpi_addr + ph->p_vaddr, end = start + ph->p_memsz;
        uint32_t n = known_count;
        if (is_known(start, end) || n >= MAX_MODULES) {
            continue;
        }
        if (!id_read) {
            id_len = build_id(info, &id);
            id_read = 1;
        }
        uint64_t path_len = str_len(path);
        if (path_len > 4096) {
            path_len = 4096;
        }
        if (module_len + 60 + path_len + id_len > MODULE_BUF - sizeof(struct ptr_block_header)) {
            flush_modules();
        }
        uint8_t *p = module_buf + sizeof(struct ptr_block_header) + module_len;
        *p++ = 1; /* module record */
        p = ptr_put_varint(p, start);
        p = ptr_put_varint(p, end - start);
        p = ptr_put_varint(p, ph->p_offset);
        p = ptr_put_varint(p, path_len);
        __builtin_memcpy(p, path, path_len);
        p += path_len;
        p = ptr_put_varint(p, id_len);
        if (id_len > 0) {
            __builtin_memcpy(p, id, id_len);
            p += id_len;
        }
        module_len = (uint32_t)(p - (module_buf + sizeof(struct ptr_block_header)));
        module_records++;
        known[n].start = start;
        known[n].end = end;
        __atomic_store_n(&known_count, n + 1, __ATOMIC_RELEASE);
    }
    return 0;
}

/* Writes the modules not written yet. Returns at once when another thread (or an interrupted one) is at it. */
static void scan_modules(void)
{
    int expected = 0;
    if (!__atomic_compare_exchange_n(&module_lock, &expected, 1, 0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
        return;
    }
    scan_first = 1;
    dl_iterate_phdr(module_callback, NULL);
    flush_modules();
    __atomic_store_n(&module_lock, 0, __ATOMIC_RELEASE);
}

static int in_known_module(uint64_t pc)
{
    uint32_t n = __atomic_load_n(&known_count, __ATOMIC_ACQUIRE);
    for (uint32_t i = n; i-- > 0;) {
        if (pc >= known[i].start && pc < known[i].end) {
            return 1;
        }
    }
    return 0;
}

/* ---- the table ---- */

static int fresh_table(void)
{
    slots = ptr_mmap((unsigned long)STACK_SLOTS * sizeof(struct stack_slot), PROT_READ | PROT_WRITE,
                     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
    arena = ptr_mmap((unsigned long)ARENA_WORDS * 8, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE);
    known = ptr_mmap(MAX_MODULES * sizeof(struct known_module), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    module_buf = ptr_mmap(MODULE_BUF, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS);
    arena_used = 0;
    next_id = 0;
    known_count = 0;
    module_lock = 0;
    module_len = 0;
    module_records = 0;
    have_adds = 0;
    last_adds = 0;
    return slots != NULL && arena != NULL && known != NULL && module_buf != NULL ? 0 : -1;
}

static uint64_t hash_frames(const uint64_t *f, uint32_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ n;
    for (uint32_t i = 0; i < n; i++) {
        h = (h ^ f[i]) * 0xff51afd7ed558ccdull;
        h ^= h >> 32;
    }
    return h | 1; /* 0 marks an empty slot */
}

/* The new stack's record, as a one-record table block. */
static void write_stack(uint32_t id, const uint64_t *f, uint32_t n)
{
    uint8_t block[sizeof(struct ptr_block_header) + 16 + PTR_STACK_MAX_DEPTH * 10] __attribute__((aligned(8)));
    uint8_t *payload = block + sizeof(struct ptr_block_header);
    uint8_t *p = payload;
    *p++ = 2; /* stack record */
    p = ptr_put_varint(p, id);
    p = ptr_put_varint(p, n);
    uint64_t previous = 0;
    for (uint32_t i = 0; i < n; i++) {
        int64_t d = (int64_t)(f[i] - previous);
        p = ptr_put_varint(p, ((uint64_t)d << 1) ^ (uint64_t)(d >> 63));
        previous = f[i];
    }
    write_table_block(block, (uint32_t)(p - payload), 1);
}

/* The id of stack f[0..n), defining it (record written) when new; 0 when the table is full. */
static uint32_t intern(const uint64_t *f, uint32_t n)
{
    uint64_t h = hash_frames(f, n);
    uint32_t mask = STACK_SLOTS - 1;
    for (uint32_t probe = 0, i = (uint32_t)(h >> 20) & mask; probe < 64; probe++, i = (i + 1) & mask) {
        struct stack_slot *s = &slots[i];
        uint64_t sh = __atomic_load_n(&s->hash, __ATOMIC_ACQUIRE);
        if (sh == 0) {
            if (__atomic_load_n(&next_id, __ATOMIC_RELAXED) >= STACK_MAX_IDS) {
                return 0;
            }
            if (__atomic_compare_exchange_n(&s->hash, &sh, h, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
                uint64_t off = __atomic_fetch_add(&arena_used, (uint64_t)n + 1, __ATOMIC_RELAXED);
                if (off + n + 1 > ARENA_WORDS) {
                    return 0; /* the slot stays claimed and unpublished: lookups pass it by */
                }
                arena[off] = n;
                __builtin_memcpy(&arena[off + 1], f, (size_t)n * 8);
                uint32_t id = __atomic_add_fetch(&next_id, 1, __ATOMIC_RELAXED);
                for (uint32_t k = 0; k < n; k++) {
                    if (!in_known_module(f[k])) {
                        scan_modules(); /* a library loaded since: its module record before this stack's */
                        break;
                    }
                }
                write_stack(id, f, n);
                s->off = (uint32_t)off;
                __atomic_store_n(&s->id, id, __ATOMIC_RELEASE);
                return id;
            }
            /* another thread claimed it first: look at what it claimed it for */
        }
        if (sh == h) {
            uint32_t id = __atomic_load_n(&s->id, __ATOMIC_ACQUIRE);
            if (id != 0) {
                const uint64_t *e = &arena[s->off];
                if (e[0] == n && __builtin_memcmp(e + 1, f, (size_t)n * 8) == 0) {
                    return id;
                }
            }
        }
    }
    return 0;
}

/* ---- unwinding ---- */

struct walk {
    uint64_t frames[PTR_STACK_MAX_DEPTH];
    uint32_t n, max;
    int outside;   /* past the recorder's own frames */
};

static _Unwind_Reason_Code walk_frame(struct _Unwind_Context *ctx, void *arg)
{
    struct walk *w = arg;
    uint64_t ip = (uint64_t)unwind_getip(ctx);
    if (ip == 0) {
        return _URC_END_OF_STACK;
    }
    if (!w->outside) {
        if (ptr_pc_in_recorder((uintptr_t)ip)) {
            return _URC_NO_REASON;
        }
        w->outside = 1;
    }
    w->frames[w->n++] = ip;
    return w->n >= w->max ? _URC_END_OF_STACK : _URC_NO_REASON;
}

static _Unwind_Reason_Code warm_frame(struct _Unwind_Context *ctx, void *arg)
{
    (void)ctx;
    (void)arg;
    return _URC_NO_REASON;
}

/* The recorder's own frames above the caller's, at most (interpose.c's wrappers, thread_buffer.c, this file). */
#define RECORDER_FRAMES 12

/* With libunwind: its cached fast trace (heaptrack's unwinder), then the recorder's frames dropped. */
static void fast_walk(struct walk *w)
{
    void *ips[PTR_STACK_MAX_DEPTH + RECORDER_FRAMES];
    int n = fast_backtrace(ips, (int)w->max + RECORDER_FRAMES);
    int i = 0;
    while (i < n && ptr_pc_in_recorder((uintptr_t)ips[i])) {
        i++;
    }
    for (; i < n && w->n < w->max; i++) {
        w->frames[w->n++] = (uint64_t)(uintptr_t)ips[i];
    }
}

/* A signal handler of the program is running on this thread (signals.c sets handler_frame in its trampoline). */
static int in_handler(struct ptr_thread *t)
{
    uintptr_t frame = __atomic_load_n(&t->handler_frame, __ATOMIC_RELAXED);
    return frame != 0 && (uintptr_t)__builtin_frame_address(0) < frame;
}

uint32_t ptr_stack_capture(struct ptr_thread *t)
{
    if (t->unwinding || unwind_backtrace == NULL || slots == NULL || t->state != TS_ACTIVE) {
        return 0; /* a handler that interrupted this thread's unwinder or table; the unwinder loading; or none */
    }
    /* BUSY while unwinding: the calls the unwinder itself makes on this thread (libunwind's per-thread cache, in
       dynamic TLS) wait in the side buffer and follow the event (ptr_record_call), and a signal handler that
       interrupts the unwinder finds the recorder busy: its calls wait there too and get no stack. */
    t->unwinding = PTR_UNWINDING_CAPTURE;
    t->state = TS_BUSY;
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    struct walk w;
    w.n = 0;
    w.max = (uint32_t)ptr_stacks.depth;
    w.outside = 0;
    if (fast_backtrace != NULL && !in_handler(t)) {
        fast_walk(&w);
    } else {
        unwind_backtrace(walk_frame, &w); /* libgcc 12 + glibc 2.35: no lock, safe in a handler */
    }
    uint32_t id = w.n == 0 ? 0 : intern(w.frames, w.n);
    __atomic_signal_fence(__ATOMIC_SEQ_CST);
    /* Back to ACTIVE, unless the process ended meanwhile and another thread wrote this buffer out (INERT). */
    uint8_t busy = TS_BUSY;
    __atomic_compare_exchange_n(&t->state, &busy, TS_ACTIVE, 0, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
    t->unwinding = PTR_UNWINDING_NONE;
    return id;
}

/* Runs with the calling thread ACTIVE and LOADING: the calls of dlopen and of the first unwinds are recorded, without stacks. */
static void load_unwinder(void)
{
    void *gcc = dlopen("libgcc_s.so.1", RTLD_NOW | RTLD_LOCAL);
    if (gcc == NULL) {
        return;
    }
    getip_fn getip = (getip_fn)dlsym(gcc, "_Unwind_GetIP");
    backtrace_fn bt = (backtrace_fn)dlsym(gcc, "_Unwind_Backtrace");
    if (getip == NULL || bt == NULL) {
        return;
    }
    bt(warm_frame, NULL); /* libgcc's first unwind sets itself up */
    unwind_getip = getip;
    unwind_backtrace = bt;
    /* libunwind (where installed) caches each return address's unwind rule: several times faster than libgcc, which
       interprets the DWARF CFI at every frame. PTRECORD_UNWIND=libgcc keeps to libgcc. */
    if (ptr_stacks.libgcc_only) {
        return;
    }
    void *unw = dlopen("libunwind.so.8", RTLD_NOW | RTLD_LOCAL);
    if (unw == NULL) {
        return;
    }
    unw_backtrace_fn ub = (unw_backtrace_fn)dlsym(unw, "unw_backtrace");
    unw_caching_fn caching = (unw_caching_fn)dlsym(unw, "_ULx86_64_set_caching_policy");
    void **space = (void **)dlsym(unw, "_ULx86_64_local_addr_space");
    if (ub == NULL || caching == NULL || space == NULL) {
        return;
    }
    caching(*space, 2 /* UNW_CACHE_PER_THREAD: no lock */);
    void *ips[4];
    ub(ips, 4); /* its first trace sets it up */
    fast_backtrace = ub;
}

static void write_start_modules(void)
{
    long n = ptr_readlink("/proc/self/exe", exe_path, sizeof exe_path - 1);
    exe_path[n > 0 ? n : 0] = 0;
    scan_modules();
}

/* Process start (no heap use): the recorder's code range, the table, the modules loaded so far. */
void ptr_stacks_start(void)
{
    if (ptr_stacks.depth == 0 || ptr_proc.fd < 0) {
        return;
    }
    ptr_find_recorder_text();
    if (fresh_table() == 0) {
        write_start_modules();
    } else {
        slots = NULL;
    }
}

/*
 * The constructor, once per process image: starts the calling thread's recording if its first call is still to
 * come, then loads the unwinder with that thread ACTIVE, so every call of dlopen and of the first unwinds is in the
 * trace, in glibc's order. Events before it (calls made before the constructor ran) get no stack. Modules loaded
 * with the unwinder reach the table the first time a stack has a frame in one (intern).
 */
void ptr_stacks_load(void)
{
    static int loaded;
    if (ptr_stacks.depth == 0 || ptr_proc.fd < 0 || slots == NULL || loaded) {
        return;
    }
    struct ptr_thread *t = &ptr_self;
    if (t->state == TS_UNINIT) {
        ptr_thread_slow_init(t);
    }
    if (t->state != TS_ACTIVE || t->unwinding != PTR_UNWINDING_NONE) {
        return;
    }
    loaded = 1;
    t->unwinding = PTR_UNWINDING_LOADING;
    load_unwinder();
    t->unwinding = PTR_UNWINDING_NONE;
}

void ptr_stacks_after_fork_child(void)
{
    if (ptr_stacks.depth == 0 || ptr_proc.fd < 0 || slots == NULL) {
        return;
    }
    /* The parent's table (copied, pages shared until written) defines ids in the parent's file: start anew. */
    ptr_munmap(slots, (unsigned long)STACK_SLOTS * sizeof(struct stack_slot));
    ptr_munmap(arena, (unsigned long)ARENA_WORDS * 8);
    ptr_munmap(known, MAX_MODULES * sizeof(struct known_module));
    ptr_munmap(module_buf, MODULE_BUF);
    ptr_self.unwinding = PTR_UNWINDING_NONE;
    if (fresh_table() == 0) {
        write_start_modules();
    } else {
        slots = NULL;
    }
}
