/* libFuzzer target: the statistics file reader on arbitrary bytes (GGUF
 * parsing first, then every key, shape and value check of calib). An
 * accepted file's sums are all read, so that a wrong size shows up under
 * AddressSanitizer. The seed was written by mw_stats_write (two blocks, two
 * languages; see make() in tests/unit/test_calib_file.c). */
#include "calib/calib.h"

#include <stddef.h>
#include <stdint.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile double g_sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mw_gguf *g = NULL;
    mw_err err;
    if (mw_gguf_open_memory(data, size, &g, &err) != MW_OK) return 0;
    mw_stats st;
    if (mw_stats_from_gguf(g, "fuzz", &st, &err) == MW_OK) {
        double x = 0;
        for (int64_t i = 0; i < st.n_layer * MW_IN_COUNT; i++) {
            const mw_input_stats *s = &st.in[i];
            for (int64_t j = 0; j < st.n_lang * s->n_in; j++)
                x += s->sum2[j] + s->sum[j] + s->pos[j];
            for (int l = 0; l < st.n_lang; l++)
                x += s->tokens[l];
        }
        g_sink = x;
        mw_stats_free(&st);
    }
    mw_gguf_close(g);
    return 0;
}
