#include "core/pending.h"

#include "mwanda.h"

#include <stdatomic.h>
#include <string.h>
#include <unistd.h>

/* Fixed storage: a handler may neither allocate nor take locks. A slot is
 * filled before it is marked live, and the handler reads live slots only. */
#define PENDING_PATH 4096

enum { SLOT_FREE, SLOT_FILLING, SLOT_LIVE };

static char g_path[MW_PENDING_SLOTS][PENDING_PATH];
static atomic_int g_state[MW_PENDING_SLOTS];

int mw_pending_add(const char *path) {
    size_t n = strlen(path);
    if (n >= PENDING_PATH) return -1;
    for (int i = 0; i < MW_PENDING_SLOTS; i++) {
        int expected = SLOT_FREE;
        if (atomic_compare_exchange_strong(&g_state[i], &expected, SLOT_FILLING)) {
            memcpy(g_path[i], path, n + 1);
            atomic_store(&g_state[i], SLOT_LIVE);
            return i;
        }
    }
    return -1;
}

void mw_pending_drop(int slot) {
    if (slot >= 0 && slot < MW_PENDING_SLOTS) atomic_store(&g_state[slot], SLOT_FREE);
}

void mw_remove_partial_outputs(void) {
    /* files first, then the folders they were in (unlink fails on a folder,
     * rmdir on a file: both harmless) */
    for (int i = 0; i < MW_PENDING_SLOTS; i++)
        if (atomic_load(&g_state[i]) == SLOT_LIVE) unlink(g_path[i]);
    for (int i = 0; i < MW_PENDING_SLOTS; i++)
        if (atomic_load(&g_state[i]) == SLOT_LIVE) rmdir(g_path[i]);
}
