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

int main(int argc, char **argv)
{
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
