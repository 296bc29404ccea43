/* mw-dequant-bench [MELEMS] [REPS]
 *
 * Speed of mw_dequantize for every type it handles, on MELEMS million
 * elements (default 16) of pseudo-random bytes, in one call and in pieces
 * of 65536 elements (cache-sized). Prints the best of REPS runs (default 5)
 * in million elements per second. */
#include "mwanda.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

/* Best time of reps runs over n elements, in pieces of `piece` elements. */
static double best_time(uint32_t type, const uint8_t *x, float *y, uint64_t n, uint64_t piece,
                        int reps) {
    uint64_t bytes_per_piece = 0;
    mw_type_row_bytes(type, piece, &bytes_per_piece);
    double best = 1e30;
    for (int r = 0; r < reps; r++) {
        double t0 = now();
        for (uint64_t i = 0; i < n; i += piece)
            mw_dequantize(type, x + i / piece * bytes_per_piece, y + i, piece, NULL);
        double dt = now() - t0;
        if (dt < best) best = dt;
    }
    return best;
}

int main(int argc, char **argv) {
    double melems = argc > 1 ? atof(argv[1]) : 16;
    int reps = argc > 2 ? atoi(argv[2]) : 5;
    const uint64_t piece = 1 << 16;
    uint64_t n = (uint64_t)(melems * 1e6) / piece * piece;
    if (n == 0 || reps < 1) {
        fprintf(stderr, "usage: mw-dequant-bench [MELEMS] [REPS]\n");
        return 2;
    }
    uint8_t *x = malloc(n * 8);
    float *y = malloc(n * sizeof(float));
    if (!x || !y) {
        fprintf(stderr, "mw-dequant-bench: out of memory\n");
        return 1;
    }
    uint64_t s = 0x2545f4914f6cdd1du;
    for (uint64_t i = 0; i < n * 8; i++) {
        s ^= s << 13, s ^= s >> 7, s ^= s << 17;
        x[i] = (uint8_t)s;
    }
    printf("%-7s %12s %12s   (Melem/s, %llu elements)\n", "type", "one call", "pieces",
           (unsigned long long)n);
    for (uint32_t t = 0; t < MW_TYPE_COUNT; t++) {
        if (!mw_type_can_dequantize(t)) continue;
        double whole = best_time(t, x, y, n, n, reps);
        double serial = best_time(t, x, y, n, piece, reps);
        printf("%-7s %12.0f %12.0f\n", mw_type_name(t), (double)n / whole / 1e6,
               (double)n / serial / 1e6);
    }
    free(x);
    free(y);
    return 0;
}
