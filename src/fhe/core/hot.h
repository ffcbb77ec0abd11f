// SPDX-License-Identifier: Apache-2.0
/*
 * core/hot.h - marks the TFHE inner loops for per-CPU code generation
 * (private). With GCC on x86-64, VEIL_FHE_HOT compiles a function
 * for AVX-512 (x86-64-v4), AVX2 (x86-64-v3) and baseline x86-64 and picks
 * one at load time (ifunc); only static functions carry it (callers in
 * other files go through a plain wrapper). Clang and sanitizer builds use
 * the baseline code only. The core sources are built with
 * -ffp-contract=off (src/fhe/CMakeLists.txt), so every clone performs the
 * same IEEE operations in the same order and returns identical bits: only
 * the speed depends on the CPU.
 */
#ifndef VEIL_FHE_CORE_HOT_H
#define VEIL_FHE_CORE_HOT_H

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__) &&                             \
    !defined(__SANITIZE_ADDRESS__) && !defined(VEIL_FHE_NO_CLONES)
#if defined(VEIL_FHE_CLONES_MAX_V3) /* testing: behave like a CPU without AVX-512 */
#define VEIL_FHE_HOT __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define VEIL_FHE_HOT __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#endif
#else
#define VEIL_FHE_HOT
#endif

#endif /* VEIL_FHE_CORE_HOT_H */
