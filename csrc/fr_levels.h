/* Compiles the kernel section of FR_OP_FILE (an op's csrc/<op>.c, the part under
 * `#ifdef FR_LEVEL`) once per SIMD level: portable (FR_LEVEL 0), AVX2+FMA+F16C (1) and
 * AVX-512 (2), each through per-function target attributes (FR_ATTR), with FR_FN(name)
 * appending the level's suffix; FR_DISPATCH in fr_internal.h picks one at run time. gcc's
 * target_clones takes one feature name per clone, which cannot say "AVX2 and FMA and
 * F16C", so the dispatch is explicit. No -march=native: one build runs on any x86-64 CPU. */

#define FR_FN(name) fr_##name##_scalar
#define FR_LEVEL 0
#define FR_ATTR
#include FR_OP_FILE
#undef FR_FN
#undef FR_LEVEL
#undef FR_ATTR

#if FR_X86
#define FR_FN(name) fr_##name##_avx2
#define FR_LEVEL 1
#define FR_ATTR __attribute__((target("avx2,fma,f16c")))
#include FR_OP_FILE
#undef FR_FN
#undef FR_LEVEL
#undef FR_ATTR

#define FR_FN(name) fr_##name##_avx512
#define FR_LEVEL 2
#define FR_ATTR __attribute__((target("avx512f,avx512vl,avx512bw,avx512dq,avx2,fma,f16c")))
#include FR_OP_FILE
#undef FR_FN
#undef FR_LEVEL
#undef FR_ATTR
#endif
