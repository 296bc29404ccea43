/* The 128-bit path: SSE on any x86-64 (with FMA when the build targets a
 * CPU that has it), and whatever the compiler makes of 16-byte vectors
 * elsewhere. Always built; the fallback when the CPU has nothing wider.
 * 6 x 8 tile: 12 accumulators, 2 B vectors and a broadcast of the 16 xmm
 * registers. Blocks as for AVX2 (gemm_v256.c). */
#define TILE_VW    4
#define TILE_MR    6
#define TILE_NV    2
#define TILE_KC    768
#define TILE_MC    48
#define TILE_NAME  mw_gemm_impl_v128
#define TILE_LABEL "v128"
#include "kernels/gemm_tile.h"
