/* libFuzzer target: a multiple-choice tasks file (JSONL) as `mwanda eval
 * --tasks` reads it. A rejected file gets a one-line message; an accepted one
 * holds only items that keep the promises of eval/tasks.h (names, choice
 * counts, labels in range, lengths that match the text), each read whole so
 * that AddressSanitizer sees a wrong length. */
#include "eval/tasks.h"

#include <stddef.h>
#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static volatile size_t g_sink;

static bool good_name(const char *s) {
    size_t n = 0;
    while (n < MW_TASK_NAME_MAX && s[n])
        n++;
    if (n == 0 || n == MW_TASK_NAME_MAX) return false;
    for (size_t i = 0; i < n; i++)
        if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.-", s[i]))
            return false;
    return true;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    mw_task_set set = {0};
    mw_err err;
    err.msg[0] = 0;
    if (mw_tasks_parse((const char *)data, size, "fuzz.jsonl", "task", &set, &err) != MW_OK) {
        if (!err.msg[0] || strchr(err.msg, '\n') || set.n != 0 || set.items) __builtin_trap();
        return 0;
    }
    if (set.n < 1) __builtin_trap();
    size_t sum = 0;
    for (int64_t i = 0; i < set.n; i++) {
        const mw_task_item *it = &set.items[i];
        if (!good_name(it->lang) || !good_name(it->task) || it->line < 1 || it->n_choices < 2 ||
            it->n_choices > MW_TASK_CHOICES_MAX || it->label < 0 || it->label >= it->n_choices ||
            strlen(it->context) != it->context_len)
            __builtin_trap();
        for (int32_t c = 0; c < it->n_choices; c++)
            if (it->choice_len[c] == 0 || strlen(it->choices[c]) != it->choice_len[c])
                __builtin_trap();
        sum += it->context_len + (it->id ? strlen(it->id) : 0);
    }
    g_sink = sum;
    mw_task_set_free(&set);
    return 0;
}
