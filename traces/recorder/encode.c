/*
 * Which varint encoder the recorder uses for address deltas (encode.h, ptr_put_addr): BMI2's PDEP
 * spreads the 7-bit groups in one instruction where it is fast (Intel since Haswell, AMD since Zen 3;
 * on Zen 1/2 it is microcoded and slow), otherwise the byte loop. Both write the same bytes.
 */
#include "ptrecord.h"
#include "encode.h"
#if defined(__x86_64__)
#include <cpuid.h>
#endif

int ptr_varint_pdep;
uint8_t ptr_varint_len[56];
uint64_t ptr_varint_cont[56];

void ptr_encode_init(int allow_pdep)
{
#if defined(__x86_64__)
    unsigned eax, ebx, ecx, edx;
    if (!allow_pdep || __get_cpuid_max(0, NULL) < 7) {
        return;
    }
    __cpuid(0, eax, ebx, ecx, edx);
    int amd = (ebx == 0x68747541u && edx == 0x69746e65u && ecx == 0x444d4163u)  /* "AuthenticAMD" */
              || (ebx == 0x6f677948u && edx == 0x6e65476eu && ecx == 0x656e6975u); /* "HygonGenuine" */
    __cpuid(1, eax, ebx, ecx, edx);
    unsigned family = (eax >> 8) & 0xfu;
    if (family == 0xfu) {
        family += (eax >> 20) & 0xffu;
    }
    __cpuid_count(7, 0, eax, ebx, ecx, edx);
    int bmi2 = (ebx >> 8) & 1u;
    if (!bmi2 || (amd && family < 0x19u)) {
        return;
    }
    for (unsigned top = 0; top < 56; top++) {
        unsigned len = top / 7 + 1; /* bytes of a value whose highest set bit is `top` */
        ptr_varint_len[top] = (uint8_t)len;
        ptr_varint_cont[top] = 0x0080808080808080ull & ((1ull << (8 * (len - 1))) - 1);
    }
    ptr_varint_pdep = 1;
#else
    (void)allow_pdep;
#endif
}
