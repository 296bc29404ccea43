/* The AVX-512F path, compiled with -mavx512f whatever the build's target
 * (gemm.cmake) and called only on CPUs that have it. */
#if defined(__x86_64__)
#if !defined(__AVX512F__)
#error "gemm_v512.c needs -mavx512f (src/kernels/gemm.cmake)"
#endif
/* 12 x 32 tile: 24 accumulators, 2 B vectors and a broadcast of the 32 zmm
 * registers. Blocks by analogy with the AVX2 path (the B sliver in L2,
 * 64 KiB; the A block 96 KiB); not measured, no AVX-512 machine so far. */
#define TILE_VW    16
#define TILE_MR    12
#define TILE_NV    2
#define TILE_KC    512
#define TILE_MC    48
#define TILE_NAME  mw_gemm_impl_v512
#define TILE_LABEL "v512"
#include "kernels/gemm_tile.h"
#endif
