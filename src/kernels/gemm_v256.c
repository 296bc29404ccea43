/* The AVX2 + FMA path. gemm.cmake compiles this file with -mavx2 -mfma
 * whatever the build's target, and gemm_own.c calls it only on CPUs that
 * have both, so portable builds still get it. */
#if defined(__x86_64__)
#if !defined(__AVX2__) || !defined(__FMA__)
#error "gemm_v256.c needs -mavx2 -mfma (src/kernels/gemm.cmake)"
#endif
/* 6 x 16 tile: 12 accumulators, 2 B vectors and a broadcast of the 16 ymm
 * registers; per step 12 FMAs against 8 loads. Blocks measured on Zen 3
 * (docs/gemm.md): a kc as large as 768 (the B sliver, 48 KiB, then lives
 * in L2) beat 256 (L1) by 5-10%, as layers with K <= 768 then make one
 * pass over C; mc = 48 keeps the A block (144 KiB) in L2 beside it. */
#define TILE_VW    8
#define TILE_MR    6
#define TILE_NV    2
#define TILE_KC    768
#define TILE_MC    48
#define TILE_NAME  mw_gemm_impl_v256
#define TILE_LABEL "v256"
#include "kernels/gemm_tile.h"
#endif
