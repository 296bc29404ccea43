/* A map from names to indices (open addressing, FNV-1a), for the name
 * look-ups of model files with thousands of tensors. Keys are borrowed. */
#ifndef MW_CORE_STRMAP_H
#define MW_CORE_STRMAP_H

#include <stdbool.h>
#include <stdint.h>

typedef struct mw_strmap {
    const char **keys; /* [cap], NULL = empty slot */
    int64_t *vals;     /* [cap] */
    uint64_t cap;      /* power of two */
    uint64_t n;
} mw_strmap;

/* Sized for n_expected keys; false when out of memory. */
bool mw_strmap_init(mw_strmap *m, uint64_t n_expected);
void mw_strmap_free(mw_strmap *m);
/* Adds key -> val; returns false if the key is already there (val unchanged)
 * or the map is full. */
bool mw_strmap_put(mw_strmap *m, const char *key, int64_t val);
/* Index stored for key, or -1. */
int64_t mw_strmap_get(const mw_strmap *m, const char *key);

#endif
