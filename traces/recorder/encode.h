/*
 * Event encoding (traces/FORMAT.md, "Events"). Inline: this is the hot path.
 *
 *   event := tag · [varint status] · [varint dt] · arguments by kind
 *   tag   := bits 0-4 kind · bit 5 null-result · bit 6 time advanced (dt present) · bit 7 status present
 *   addr  := zigzag(value - last_addr); last_addr = value
 *
 * The recorder writes single-thread blocks with the timed-tags flag only: an event that repeats the
 * last clock reading (dt = 0, most of them) is one byte shorter.
 */
#ifndef PTRECORD_ENCODE_H
#define PTRECORD_ENCODE_H

#include <stdint.h>

/* LEB128: 7 bits a byte, low group first, bit 7 set on every byte but the last. */
static inline uint8_t *ptr_put_varint(uint8_t *p, uint64_t v)
{
    if (__builtin_expect(v < 0x80, 1)) { /* dt = 0, small sizes and counts: one byte */
        *p = (uint8_t)v;
        return p + 1;
    }
    do {
        *p++ = (uint8_t)(v | 0x80);
        v >>= 7;
    } while (v >= 0x80);
    *p++ = (uint8_t)v;
    return p;
}

/* Set once at process start (encode.c): PDEP is available and fast on this CPU. */
extern int ptr_varint_pdep;
/* By the index of a value's highest set bit (0..55): its varint length, and its continuation bits. */
extern uint8_t ptr_varint_len[56];
extern uint64_t ptr_varint_cont[56];

/*
 * The same bytes as ptr_put_varint, for values whose length varies from event to event (address
 * deltas, mostly 3-4 bytes): with PDEP, the eight 7-bit groups are spread into eight bytes in one
 * instruction, the continuation bits of all but the last used byte come from a table, and one 8-byte
 * store writes them: no loop, no data-dependent branch. The store may write up to 7 bytes past the
 * varint's end, never past the 10 bytes a varint may take, so an event stays within
 * PTR_MAX_EVENT_BYTES; bytes past pos are not committed.
 */
static inline uint8_t *ptr_put_varint_wide(uint8_t *p, uint64_t v)
{
#if defined(__x86_64__)
    if (__builtin_expect(ptr_varint_pdep, 1)) {
        unsigned top = 63u ^ (unsigned)__builtin_clzll(v | 1u); /* highest set bit */
        if (__builtin_expect(top < 56u, 1)) {
            uint64_t bytes;
            __asm__("pdep %2, %1, %0" : "=r"(bytes) : "r"(v), "r"(0x7f7f7f7f7f7f7f7full));
            bytes |= ptr_varint_cont[top];
            __builtin_memcpy(p, &bytes, 8); /* little-endian: low group first */
            return p + ptr_varint_len[top];
        }
    }
#endif
    return ptr_put_varint(p, v);
}

static inline uint8_t *ptr_put_addr(uint8_t *p, uint64_t *last, uint64_t value)
{
    int64_t delta = (int64_t)(value - *last);
    *last = value;
    return ptr_put_varint_wide(p, ((uint64_t)delta << 1) ^ (uint64_t)(delta >> 63));
}

/* Tag, optional status and optional time delta; the caller appends the arguments. */
static inline uint8_t *ptr_put_prologue(uint8_t *p, unsigned tag, uint64_t status, uint64_t dt)
{
    *p++ = (uint8_t)(tag | (status != 0 ? 0x80u /* TAG_STATUS */ : 0u) | (dt != 0 ? 0x40u /* TAG_TIME_ADVANCED */ : 0u));
    if (status != 0) {
        p = ptr_put_varint(p, status);
    }
    return dt != 0 ? ptr_put_varint(p, dt) : p;
}

#endif

#ifndef PTRECORD_ENCODE_ARGS
#define PTRECORD_ENCODE_ARGS
#include "ptrecord.h"
/*
 * The arguments of one event by kind (FORMAT.md table). Always inlined with a constant kind, so
 * each entry point compiles to just its own fields.
 */
static inline __attribute__((always_inline)) uint8_t *
ptr_put_args(uint8_t *p, uint64_t *last_addr, unsigned kind, uint64_t ptr, uint64_t count,
             uint64_t align, uint64_t size, uint64_t result, int null_result)
{
    switch (kind) {
    case K_MALLOC:
    case K_VALLOC:
    case K_PVALLOC:
        p = ptr_put_varint(p, size);
        break;
    case K_CALLOC:
        p = ptr_put_varint(p, count);
        p = ptr_put_varint(p, size);
        break;
    case K_REALLOC:
        p = ptr_put_addr(p, last_addr, ptr);
        p = ptr_put_varint(p, size);
        break;
    case K_REALLOCARRAY:
        p = ptr_put_addr(p, last_addr, ptr);
        p = ptr_put_varint(p, count);
        p = ptr_put_varint(p, size);
        break;
    case K_FREE:
        return ptr_put_addr(p, last_addr, ptr);
    case K_MEMALIGN:
    case K_POSIX_MEMALIGN:
    case K_ALIGNED_ALLOC:
        p = ptr_put_varint(p, align);
        p = ptr_put_varint(p, size);
        break;
    case K_MALLOPT: /* param and value are C ints: zigzag, as the negative M_* parameters need */
        p = ptr_put_varint(p, (count << 1) ^ (uint64_t)((int64_t)count >> 63));
        return ptr_put_varint(p, (size << 1) ^ (uint64_t)((int64_t)size >> 63));
    case K_MALLOC_TRIM:
        return ptr_put_varint(p, size);
    case K_THREAD_START:
    case K_THREAD_EXIT:
    case K_FORK:
        return ptr_put_varint(p, size);
    default: /* K_EXEC: no arguments */
        return p;
    }
    if (!null_result) {
        p = ptr_put_addr(p, last_addr, result);
    }
    return p;
}
#endif
