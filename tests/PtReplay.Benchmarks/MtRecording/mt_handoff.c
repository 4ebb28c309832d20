/*
 * The multi-thread recording benchmark's program (run.sh): 4 threads in a ring. Each allocates and touches blocks,
 * keeps a private working set of 64, and hands every 4th block to the next thread through a lock-free
 * single-producer/single-consumer queue; the receiver frees it (a cross-thread free). No locks, no waits: the
 * allocator calls are the program's work.   mt_handoff [ROUNDS]   (per thread, default 2000000)
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define THREADS 4
#define QSIZE 65536
struct queue { _Atomic unsigned head, tail; void *slot[QSIZE]; char pad[64]; };
static struct queue q[THREADS];
static unsigned rounds = 2000000;
static _Atomic long handed;
static uint64_t rnd(uint64_t *s) { uint64_t x = *s; x ^= x << 13; x ^= x >> 7; x ^= x << 17; return *s = x; }
static void *worker(void *arg)
{
    unsigned id = (unsigned)(uintptr_t)arg;
    struct queue *out = &q[(id + 1) % THREADS], *in = &q[id];
    uint64_t s = 0x9E3779B97F4A7C15ull * (id + 1);
    void *set[64] = { 0 };
    long mine = 0;
    for (unsigned i = 0; i < rounds; i++) {
        unsigned k = (unsigned)(rnd(&s) % 64);
        free(set[k]);
        set[k] = malloc(16 + rnd(&s) % 512);
        memset(set[k], (int)i, 16);
        if ((i & 3) == 0) {
            void *p = malloc(16 + rnd(&s) % 256);
            memset(p, (int)i, 16);
            unsigned t = atomic_load_explicit(&out->tail, memory_order_relaxed);
            if (t - atomic_load_explicit(&out->head, memory_order_acquire) < QSIZE) {
                out->slot[t % QSIZE] = p;
                atomic_store_explicit(&out->tail, t + 1, memory_order_release);
                mine++;
            } else {
                free(p);
            }
        }
        unsigned h = atomic_load_explicit(&in->head, memory_order_relaxed);
        if (h != atomic_load_explicit(&in->tail, memory_order_acquire)) {
            free(in->slot[h % QSIZE]);
            atomic_store_explicit(&in->head, h + 1, memory_order_release);
        }
    }
    for (unsigned k = 0; k < 64; k++) free(set[k]);
    atomic_fetch_add(&handed, mine);
    return NULL;
}
int main(int argc, char **argv)
{
    if (argc > 1) rounds = (unsigned)strtoul(argv[1], NULL, 10);
    pthread_t t[THREADS];
    for (unsigned i = 0; i < THREADS; i++) pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)i);
    for (unsigned i = 0; i < THREADS; i++) pthread_join(t[i], NULL);
    long left = 0;
    for (unsigned i = 0; i < THREADS; i++) {
        unsigned h = q[i].head, tl = q[i].tail;
        left += tl - h;
        for (; h != tl; h++) free(q[i].slot[h % QSIZE]);
    }
    printf("handed %ld blocks, %ld still queued at the end\n", (long)handed, left);
    return 0;
}
