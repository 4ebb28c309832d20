/*
 * Golden-data driver for the allocator tests: performs a scripted sequence of malloc-family calls in the
 * real glibc and records every result, without any stdio or other heap use while it runs.
 *
 * usage: driver SCRIPT OUTPUT [MALLOC_INFO_OUTPUT]
 * SCRIPT (little-endian u64 words): nops, nslots, nthreads, then nops records of
 *        {op, thread, slot, a, b}.
 * OUTPUT (u64 words): brk0 (sbrk(0) before anything else), nops, then per op {result, usable, x, y}.
 * Threads 1..nthreads-1 are created before the script runs and execute their ops one at a time
 * (the main thread hands each op over and waits), so the interleaving is fixed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <malloc.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

enum {
  OP_MALLOC = 0, OP_FREE = 1, OP_CALLOC = 2, OP_REALLOC = 3, OP_MEMALIGN = 4, OP_POSIX_MEMALIGN = 5,
  OP_ALIGNED_ALLOC = 6, OP_VALLOC = 7, OP_PVALLOC = 8, OP_TRIM = 9, OP_REALLOCARRAY = 10,
  OP_MALLOPT = 11, OP_USABLE = 12, OP_THREAD_EXIT = 13, OP_MALLINFO = 14,
  OP_FREE_AT = 16 /* free(slot + a): corrupt pointers for the abort tests */,
  OP_REALLOC_AT = 17 /* realloc(slot + a, b) */,
  OP_HEAP_RESIDENT = 18 /* resident pages of [brk0, sbrk(0)) by mincore */,
  OP_MALLOC_INFO = 15 /* last op only: fdopen (one FILE malloc) + unbuffered-by-static-buffer malloc_info to argv[3] */
};

#define MAX_THREADS 64

static uint64_t *script, *out, **slots;
static uint64_t nops, nslots, nthreads;
static sem_t go[MAX_THREADS], done;
static volatile uint64_t current_op;
static volatile int thread_exit_flag[MAX_THREADS];
static uintptr_t brk_start;
static const char *info_path = "/dev/null";

static void die(const char *msg) {
  size_t n = 0;
  while (msg[n]) n++;
  (void)!write(2, msg, n);
  _exit(2);
}

static void *map(size_t bytes) {
  void *p = mmap(0, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) die("driver: mmap failed\n");
  return p;
}

static void run_op(uint64_t i) {
  uint64_t *rec = script + 3 + i * 5;
  uint64_t op = rec[0], slot = rec[2], a = rec[3], b = rec[4];
  uint64_t *o = out + 2 + i * 4;
  void *p = 0;
  switch (op) {
  case OP_MALLOC: p = malloc(a); slots[slot] = p; break;
  case OP_FREE: free(slots[slot]); slots[slot] = 0; break;
  case OP_FREE_AT: free((char *)slots[slot] + a); break;
  case OP_REALLOC_AT: p = realloc((char *)slots[slot] + a, b); break;
  case OP_CALLOC: p = calloc(a, b); slots[slot] = p; break;
  case OP_REALLOC: p = realloc(slots[slot], a); if (p || a == 0) slots[slot] = p; break;
  case OP_MEMALIGN: p = memalign(a, b); slots[slot] = p; break;
  case OP_POSIX_MEMALIGN: {
    void *q = 0;
    int rc = posix_memalign(&q, a, b);
    p = rc == 0 ? q : 0;
    o[2] = (uint64_t)rc;
    slots[slot] = p;
    break;
  }
  case OP_ALIGNED_ALLOC: p = aligned_alloc(a, b); slots[slot] = p; break;
  case OP_VALLOC: p = valloc(a); slots[slot] = p; break;
  case OP_PVALLOC: p = pvalloc(a); slots[slot] = p; break;
  case OP_TRIM: o[0] = (uint64_t)malloc_trim(a); return;
  case OP_REALLOCARRAY: p = reallocarray(slots[slot], a, b); if (p) slots[slot] = p; break;
  case OP_MALLOPT: o[0] = (uint64_t)mallopt((int)(int64_t)a, (int)(int64_t)b); return;
  case OP_USABLE: o[0] = malloc_usable_size(slots[slot]); return;
  case OP_HEAP_RESIDENT: {
    static unsigned char vec[1 << 20];
    uintptr_t lo = brk_start, hi = (uintptr_t)sbrk(0);
    uint64_t n = 0, sum = 0, sum2 = 0, page = 0;
    while (lo < hi) {
      size_t len = hi - lo;
      if (len > ((size_t)1 << 20) * 4096) len = ((size_t)1 << 20) * 4096;
      if (mincore((void *)lo, len, vec) != 0) die("driver: mincore\n");
      for (size_t k = 0; k < len / 4096; k++, page++)
        if (vec[k] & 1) { n++; sum += page; sum2 += page * page; }
      lo += len;
    }
    o[0] = n;
    o[1] = hi - brk_start;
    o[2] = sum;
    o[3] = sum2;
    return;
  }
  case OP_MALLINFO: {
    struct mallinfo2 mi = mallinfo2();
    o[0] = mi.arena; o[1] = mi.ordblks; o[2] = mi.fordblks; o[3] = mi.hblkhd;
    return;
  }
  case OP_MALLOC_INFO: {
    static char buffer[1 << 16];
    int fd = open(info_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0) die("driver: cannot open malloc_info output\n");
    FILE *fp = fdopen(fd, "w");
    if (!fp) die("driver: fdopen\n");
    setvbuf(fp, buffer, _IOFBF, sizeof buffer);
    malloc_info(0, fp);
    fclose(fp);
    return;
  }
  default: die("driver: bad op\n");
  }
  o[0] = (uint64_t)p;
  o[1] = p ? malloc_usable_size(p) : 0;
}

static void *worker(void *arg) {
  int t = (int)(intptr_t)arg;
  for (;;) {
    while (sem_wait(&go[t]) != 0) {}
    if (thread_exit_flag[t]) { sem_post(&done); return 0; }
    run_op(current_op);
    sem_post(&done);
  }
}

int main(int argc, char **argv) {
  uint64_t brk0 = (uint64_t)sbrk(0);
  brk_start = (uintptr_t)brk0;
  if (argc != 3 && argc != 4) die("usage: driver SCRIPT OUTPUT [MALLOC_INFO_OUTPUT]\n");
  if (argc == 4) info_path = argv[3];
  int fd = open(argv[1], O_RDONLY);
  if (fd < 0) die("driver: cannot open script\n");
  struct stat st;
  if (fstat(fd, &st) != 0) die("driver: fstat failed\n");
  script = map((size_t)st.st_size + 8);
  for (size_t got = 0; got < (size_t)st.st_size;) {
    ssize_t n = read(fd, (char *)script + got, (size_t)st.st_size - got);
    if (n <= 0) die("driver: short read\n");
    got += (size_t)n;
  }
  close(fd);
  nops = script[0]; nslots = script[1]; nthreads = script[2];
  if (nthreads > MAX_THREADS) die("driver: too many threads\n");
  out = map((2 + nops * 4) * 8);
  slots = map((nslots + 1) * sizeof(void *));
  out[0] = brk0; out[1] = nops;

  pthread_t tids[MAX_THREADS];
  sem_init(&done, 0, 0);
  for (uint64_t t = 1; t < nthreads; t++) {
    sem_init(&go[t], 0, 0);
    if (pthread_create(&tids[t], 0, worker, (void *)(intptr_t)t) != 0) die("driver: pthread_create\n");
  }
  for (uint64_t i = 0; i < nops; i++) {
    uint64_t *rec = script + 3 + i * 5;
    uint64_t t = rec[1];
    if (t == 0) {
      run_op(i);
    } else if (rec[0] == OP_THREAD_EXIT) {
      thread_exit_flag[t] = 1;
      sem_post(&go[t]);
      while (sem_wait(&done) != 0) {}
      pthread_join(tids[t], 0);
    } else {
      current_op = i;
      sem_post(&go[t]);
      while (sem_wait(&done) != 0) {}
    }
  }
  fd = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (fd < 0) die("driver: cannot open output\n");
  size_t bytes = (2 + nops * 4) * 8;
  for (size_t put = 0; put < bytes;) {
    ssize_t n = write(fd, (char *)out + put, bytes - put);
    if (n <= 0) die("driver: short write\n");
    put += (size_t)n;
  }
  close(fd);
  return 0;
}
