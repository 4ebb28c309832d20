/*
 * ptworkload-mt: a deterministic multi-threaded allocation workload for the recorder and replayer.
 *
 *   ptworkload-mt [THREADS [ITEMS [SEED]]]     defaults: 4 threads, 20000 items per producer, seed 1
 *
 * THREADS/2 producer-consumer pairs (at least one pair). Each producer allocates ITEMS blocks of
 * pseudo-random sizes (xorshift from SEED and the pair index: 16 B .. 4 KiB, some 64 KiB), fills
 * them, and hands them to its consumer through a bounded ring guarded by a mutex; the consumer
 * checks the contents, sometimes reallocs, and frees them: every block is freed by another thread.
 * Each thread also keeps a small private working set (malloc/calloc/free in its own arena).
 * The amount of work is fixed by the arguments; only the interleaving varies between runs.
 * Prints one line: the number of blocks handed over and a checksum, identical on every run.
 *
 *   ptworkload-mt --lockstep [THREADS [ROUNDS [SEED]]]   defaults: 4 threads, 400 rounds, seed 1
 *
 * Lockstep mode: the same kinds of calls in a fixed schedule, so glibc's heap layout repeats
 * exactly from run to run (and a model replaying the recording must return the same addresses).
 * Three phases; in each, main starts THREADS workers (one more in the middle phase) that take
 * turns through a token (mutex + condvar): exactly one thread calls the allocator at a time,
 * worker 0, 1, ..., THREADS-1, 0, ... for ROUNDS turns each. In its turn a worker makes a few
 * malloc/calloc/realloc/free calls on one slot table shared by every thread of every phase, so
 * blocks are freed and reallocated by other threads than their allocators, including threads of
 * an earlier phase that have exited (their arenas then hold blocks of the living). At the end of
 * a phase main lets the workers exit one by one, joining each before releasing the next (a
 * thread's tcache flush and the return of its arena to the free list happen in a fixed order),
 * then makes a few calls itself. The next phase's threads reuse the freed arenas (or, with
 * glibc.malloc.arena_max, share arenas round-robin). Prints the number of calls and a checksum.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RING 64

struct ring {
    pthread_mutex_t lock;
    pthread_cond_t not_empty, not_full;
    void *items[RING];
    size_t sizes[RING];
    unsigned head, tail, count;
};

struct pair {
    struct ring ring;
    unsigned index;
    unsigned items;
    uint64_t seed;
    uint64_t checksum;   /* consumer's sum over contents */
};

static uint64_t next_random(uint64_t *s)
{
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

static size_t pick_size(uint64_t *s)
{
    uint64_t r = next_random(s);
    if (r % 97 == 0) {
        return 65536 + (size_t)(r % 4096);
    }
    return 16 + (size_t)(r % 4080);
}

static void ring_put(struct ring *r, void *p, size_t n)
{
    pthread_mutex_lock(&r->lock);
    while (r->count == RING) {
        pthread_cond_wait(&r->not_full, &r->lock);
    }
    r->items[r->tail] = p;
    r->sizes[r->tail] = n;
    r->tail = (r->tail + 1) % RING;
    r->count++;
    pthread_cond_signal(&r->not_empty);
    pthread_mutex_unlock(&r->lock);
}

static void *ring_get(struct ring *r, size_t *n)
{
    pthread_mutex_lock(&r->lock);
    while (r->count == 0) {
        pthread_cond_wait(&r->not_empty, &r->lock);
    }
    void *p = r->items[r->head];
    *n = r->sizes[r->head];
    r->head = (r->head + 1) % RING;
    r->count--;
    pthread_cond_signal(&r->not_full);
    pthread_mutex_unlock(&r->lock);
    return p;
}

/* A private working set: allocations that stay in the thread's own arena. */
static void churn(uint64_t *s, void **slots, unsigned nslots)
{
    unsigned i = (unsigned)(next_random(s) % nslots);
    free(slots[i]);
    slots[i] = (next_random(s) & 1) ? malloc(pick_size(s) / 4 + 1) : calloc(1, pick_size(s) / 8 + 1);
}

static void *producer(void *arg)
{
    struct pair *pr = arg;
    uint64_t s = pr->seed;
    void *slots[16] = { 0 };
    for (unsigned i = 0; i < pr->items; i++) {
        size_t n = pick_size(&s);
        unsigned char *p = malloc(n);
        memset(p, (int)(i & 0xff), n);
        ring_put(&pr->ring, p, n);
        if (i % 4 == 0) {
            churn(&s, slots, 16);
        }
    }
    ring_put(&pr->ring, NULL, 0);
    for (unsigned i = 0; i < 16; i++) {
        free(slots[i]);
    }
    return NULL;
}

static void *consumer(void *arg)
{
    struct pair *pr = arg;
    uint64_t s = pr->seed ^ 0x9E3779B97F4A7C15ull;
    void *slots[16] = { 0 };
    uint64_t sum = 0;
    for (;;) {
        size_t n;
        unsigned char *p = ring_get(&pr->ring, &n);
        if (p == NULL) {
            break;
        }
        sum += p[0] + p[n - 1] + n;
        if (next_random(&s) % 8 == 0) {
            p = realloc(p, n / 2 + 1);
        }
        free(p);
        churn(&s, slots, 16);
    }
    for (unsigned i = 0; i < 16; i++) {
        free(slots[i]);
    }
    pr->checksum = sum;
    return NULL;
}

/* ---- lockstep mode ------------------------------------------------------------------------ */

#define LOCKSTEP_SLOTS 512

static struct {
    pthread_mutex_t lock;
    pthread_cond_t changed;
    int turn;          /* worker index allowed to run, or -1 */
    int exiting;       /* worker index allowed to return, or -1 */
    unsigned workers;  /* workers of the current phase */
    unsigned rounds;
    uint64_t rng;      /* shared: only the thread holding the token touches it */
    void *slots[LOCKSTEP_SLOTS];
    size_t sizes[LOCKSTEP_SLOTS];
    uint64_t calls, checksum;
} ls = { PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, -1, -1, 0, 0, 0, { 0 }, { 0 }, 0, 0 };

static size_t lockstep_size(void)
{
    uint64_t r = next_random(&ls.rng);
    switch (r % 64) {
    case 0:
        return 140000 + (size_t)(r >> 8) % 60000;   /* above the mmap threshold */
    case 1: case 2: case 3:
        return 1100 + (size_t)(r >> 8) % 20000;     /* no tcache: bins */
    default:
        return 1 + (size_t)(r >> 8) % 600;          /* tcache and fastbins */
    }
}

/* One call on a random slot: free what is there and/or put a new block in it. */
static void lockstep_call(void)
{
    uint64_t r = next_random(&ls.rng);
    unsigned i = (unsigned)(r % LOCKSTEP_SLOTS);
    unsigned char *p = ls.slots[i];
    if (p != NULL) {
        ls.checksum += p[0] + p[ls.sizes[i] - 1];
    }
    switch ((r >> 16) % 8) {
    case 0: case 1: case 2: {   /* free only */
        free(p);
        ls.slots[i] = NULL;
        ls.calls++;
        return;
    }
    case 3:                     /* realloc (grow or shrink; realloc(NULL, n) on an empty slot) */
        if (p != NULL || (r >> 20) % 2 == 0) {
            size_t n = lockstep_size();
            p = realloc(p, n);
            if (p == NULL) {
                abort();
            }
            ls.calls++;
            if (n > ls.sizes[i] || ls.slots[i] == NULL) {
                memset(p, (int)(r & 0xff), n);
            } else {
                p[n - 1] = p[0];
            }
            ls.slots[i] = p;
            ls.sizes[i] = n;
            return;
        }
        break;
    default:
        break;
    }
    free(p);
    size_t n = lockstep_size();
    p = (r >> 24) % 4 == 0 ? calloc(1, n) : malloc(n);
    if (p == NULL) {
        abort();
    }
    ls.calls += 2;
    memset(p, (int)(r & 0xff), n);
    ls.slots[i] = p;
    ls.sizes[i] = n;
}

static void *lockstep_worker(void *arg)
{
    int me = (int)(uintptr_t)arg;
    pthread_mutex_lock(&ls.lock);
    for (unsigned round = 0; round < ls.rounds; round++) {
        while (ls.turn != me) {
            pthread_cond_wait(&ls.changed, &ls.lock);
        }
        unsigned calls = 1 + (unsigned)(next_random(&ls.rng) % 6);
        for (unsigned c = 0; c < calls; c++) {
            lockstep_call();
        }
        ls.turn = (me + 1) % (int)ls.workers;
        if (round + 1 == ls.rounds && me + 1 == (int)ls.workers) {
            ls.turn = -1;   /* the last worker's last turn: the phase is over */
        }
        pthread_cond_broadcast(&ls.changed);
    }
    while (ls.exiting != me) {
        pthread_cond_wait(&ls.changed, &ls.lock);
    }
    pthread_mutex_unlock(&ls.lock);
    return NULL;
}

static int lockstep_main(unsigned threads, unsigned rounds, uint64_t seed)
{
    pthread_t tids[64];
    if (threads < 1 || threads > 63) {
        fprintf(stderr, "ptworkload-mt: --lockstep takes 1..63 threads\n");
        return 2;
    }
    ls.rng = (seed + 1) * 0x2545F4914F6CDD1Dull;
    ls.rounds = rounds;
    for (unsigned phase = 0; phase < 3; phase++) {
        ls.workers = threads + (phase == 1);
        /* Create every worker before the first turn: pthread_create allocates in main's arena. */
        pthread_mutex_lock(&ls.lock);
        ls.turn = -1;
        ls.exiting = -1;
        pthread_mutex_unlock(&ls.lock);
        for (unsigned w = 0; w < ls.workers; w++) {
            if (pthread_create(&tids[w], NULL, lockstep_worker, (void *)(uintptr_t)w) != 0) {
                return 1;
            }
        }
        pthread_mutex_lock(&ls.lock);
        ls.turn = 0;
        pthread_cond_broadcast(&ls.changed);
        while (ls.turn != -1) {
            pthread_cond_wait(&ls.changed, &ls.lock);
        }
        pthread_mutex_unlock(&ls.lock);
        /* Exits one at a time, in a fixed order: join each before releasing the next. */
        for (unsigned k = 0; k < ls.workers; k++) {
            unsigned w = (phase + k) % ls.workers;
            pthread_mutex_lock(&ls.lock);
            ls.exiting = (int)w;
            pthread_cond_broadcast(&ls.changed);
            pthread_mutex_unlock(&ls.lock);
            pthread_join(tids[w], NULL);
        }
        for (unsigned c = 0; c < 40; c++) {
            lockstep_call();   /* main's own calls, in the main arena */
        }
    }
    for (unsigned i = 0; i < LOCKSTEP_SLOTS; i++) {
        free(ls.slots[i]);
    }
    printf("lockstep: %llu calls, checksum %llu\n", (unsigned long long)ls.calls, (unsigned long long)ls.checksum);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--lockstep") == 0) {
        return lockstep_main(argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 4,
                             argc > 3 ? (unsigned)strtoul(argv[3], NULL, 10) : 400,
                             argc > 4 ? strtoull(argv[4], NULL, 10) : 1);
    }
    unsigned threads = argc > 1 ? (unsigned)strtoul(argv[1], NULL, 10) : 4;
    unsigned items = argc > 2 ? (unsigned)strtoul(argv[2], NULL, 10) : 20000;
    uint64_t seed = argc > 3 ? strtoull(argv[3], NULL, 10) : 1;
    unsigned pairs = threads / 2 ? threads / 2 : 1;
    struct pair *prs = calloc(pairs, sizeof *prs);
    pthread_t *tids = calloc(2 * pairs, sizeof *tids);
    if (prs == NULL || tids == NULL) {
        return 1;
    }
    for (unsigned i = 0; i < pairs; i++) {
        pthread_mutex_init(&prs[i].ring.lock, NULL);
        pthread_cond_init(&prs[i].ring.not_empty, NULL);
        pthread_cond_init(&prs[i].ring.not_full, NULL);
        prs[i].index = i;
        prs[i].items = items;
        prs[i].seed = (seed + 1) * 0x2545F4914F6CDD1Dull + i + 1;
        pthread_create(&tids[2 * i], NULL, producer, &prs[i]);
        pthread_create(&tids[2 * i + 1], NULL, consumer, &prs[i]);
    }
    uint64_t total = 0;
    for (unsigned i = 0; i < pairs; i++) {
        pthread_join(tids[2 * i], NULL);
        pthread_join(tids[2 * i + 1], NULL);
        total += prs[i].checksum;
    }
    printf("handed over %u blocks, checksum %llu\n", pairs * items, (unsigned long long)total);
    free(tids);
    free(prs);
    return 0;
}
