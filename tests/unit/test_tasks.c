/* Tests of src/eval/tasks.c: reading JSONL items (every error path names its
 * line), argmax ties, the Wilson interval (its bounds solve the interval's
 * quadratic) and the summary per (task, language). Encoding and scoring
 * against tokenizers and a numpy model are in tests/py/test_tasks.py. */
#include "check.h"
#include "eval/tasks.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char GOOD[] =
    "{\"lang\": \"de\", \"context\": \"Der Himmel ist\", \"choices\": [\" blau.\", \" laut.\"], "
    "\"label\": 0, \"id\": 7}\n"
    "\n"
    "  \r\n"
    "{\"lang\": \"fr\", \"task\": \"cloze\", \"context\": \"\", \"choices\": [\"a\", "
    "\"\\u00e9t\\u00e9\", "
    "\"c\"], \"label\": 2, \"id\": \"x-1\", \"extra\": [1, 2]}\r\n"
    "{\"lang\": \"zh-Hans\", \"context\": \"\xe5\xa4\xa9\", \"choices\": [\"\xe8\x93\x9d\", "
    "\"x\"], \"label\": 1}";

static void test_good(void) {
    mw_task_set set = {0};
    mw_err err = {{0}};
    enum mw_status s = mw_tasks_parse(GOOD, sizeof GOOD - 1, "good.jsonl", NULL, &set, &err);
    CHECK(s == MW_OK, "parse: %s", err.msg);
    CHECK(set.n == 3, "%lld items", (long long)set.n);
    if (set.n != 3) return;
    mw_task_item *a = &set.items[0], *b = &set.items[1], *c = &set.items[2];
    CHECK(a->line == 1 && b->line == 4 && c->line == 5, "lines %lld %lld %lld", (long long)a->line,
          (long long)b->line, (long long)c->line);
    CHECK(!strcmp(a->lang, "de") && !a->task[0] && !strcmp(a->id, "7"), "item 1 names");
    CHECK(a->n_choices == 2 && a->label == 0 && a->choice_len[1] == 6 &&
              !strcmp(a->choices[1], " laut."),
          "item 1 choices");
    CHECK(!strcmp(b->task, "cloze") && !strcmp(b->id, "x-1") && b->context_len == 0, "item 2");
    CHECK(b->n_choices == 3 && b->label == 2 && b->choice_len[1] == 5 &&
              !strcmp(b->choices[1], "\xc3\xa9t\xc3\xa9"),
          "item 2 choices: escapes decoded to UTF-8");
    CHECK(!strcmp(c->lang, "zh-Hans") && c->id == NULL && c->context_len == 3, "item 3");
    CHECK(!strcmp(a->file, "good.jsonl"), "file name kept");

    /* a second file appends; its default task names lines without one */
    s = mw_tasks_parse(GOOD, sizeof GOOD - 1, "more.jsonl", "more", &set, &err);
    CHECK(s == MW_OK && set.n == 6, "append: %s", err.msg);
    if (set.n == 6) {
        CHECK(!strcmp(set.items[3].task, "more") && !strcmp(set.items[4].task, "cloze"),
              "default task only where a line has none");
    }
    mw_task_set_free(&set);
}

struct bad {
    const char *data;
    const char *expect; /* substring of the message */
};

static void test_bad(void) {
    static const struct bad BAD[] = {
        {"", "no items"},
        {"\n  \n", "no items"},
        {"{\"lang\": \"de\"", "f.jsonl:1: bad JSON"},
        {"{\"lang\": \"de\", \"context\": \"a\", \"choices\": [\"b\", \"c\"], \"label\": 0}\n[1]",
         "f.jsonl:2: not a JSON object"},
        {"{\"context\": \"a\", \"choices\": [\"b\", \"c\"], \"label\": 0}", ":1: missing \"lang\""},
        {"{\"lang\": \"de\", \"choices\": [\"b\", \"c\"], \"label\": 0}", "missing \"context\""},
        {"{\"lang\": \"de\", \"context\": \"a\", \"label\": 0}", "missing \"choices\""},
        {"{\"lang\": \"de\", \"context\": \"a\", \"choices\": [\"b\", \"c\"]}",
         "missing \"label\""},
        {"{\"lang\": \"de\", \"context\": \"a\", \"choices\": [\"b\", \"c\"], \"label\": 2}",
         "\"label\" 2 is not a choice (0 to 1)"},
        {"{\"lang\": \"de\", \"context\": \"a\", \"choices\": [\"b\", \"c\"], \"label\": -1}",
         "\"label\" -1 is not a choice"},
        {"{\"lang\": \"de\", \"context\": \"a\", \"choices\": [\"b\", \"c\"], \"label\": 1.0}",
         "\"label\" must be an integer"},
        {"{\"lang\": \"de\", \"context\": \"a\", \"choices\": [\"b\"], \"label\": 0}",
         "2 to 1000 strings, not 1"},
        {"{\"lang\": \"de\", \"context\": \"a\", \"choices\": \"bc\", \"label\": 0}",
         "must be a list of strings"},
        {"{\"lang\": \"de\", \"context\": \"a\", \"choices\": [\"b\", 3], \"label\": 0}",
         "choice 1 is not a string"},
        {"{\"lang\": \"de\", \"context\": \"a\", \"choices\": [\"b\", \"\"], \"label\": 0}",
         "choice 1 is empty"},
        {"{\"lang\": \"d e\", \"context\": \"a\", \"choices\": [\"b\", \"c\"], \"label\": 0}",
         "\"lang\" must be a string"},
        {"{\"lang\": \"\", \"context\": \"a\", \"choices\": [\"b\", \"c\"], \"label\": 0}",
         "\"lang\" must be a string"},
        {"{\"lang\": \"de\", \"task\": 5, \"context\": \"a\", \"choices\": [\"b\", \"c\"], "
         "\"label\": 0}",
         "\"task\" must be a string"},
        {"{\"lang\": \"de\", \"context\": 1, \"choices\": [\"b\", \"c\"], \"label\": 0}",
         "\"context\" must be a string"},
        {"{\"lang\": \"de\", \"context\": \"a\", \"choices\": [\"b\", \"c\"], \"label\": 0, "
         "\"id\": [1]}",
         "\"id\" must be a string or an integer"},
        {"{\"lang\": \"de\", \"context\": \"a\xc3\x28\", \"choices\": [\"b\", \"c\"], \"label\": "
         "0}",
         "f.jsonl:1: not valid UTF-8"},
        {"{\"lang\": \"de\", \"context\": \"\xed\xa0\x80\", \"choices\": [\"b\", \"c\"], "
         "\"label\": 0}",
         "not valid UTF-8"},
        {"{\"lang\": \"de\", \"context\": \"a\\u0000\", \"choices\": [\"b\", \"c\"], \"label\": 0}",
         "bad JSON"},
        {"{\"lang\": \"de\", \"lang\": \"fr\", \"context\": \"a\", \"choices\": [\"b\", \"c\"], "
         "\"label\": 0}",
         "bad JSON"},
    };
    for (size_t i = 0; i < sizeof BAD / sizeof BAD[0]; i++) {
        mw_task_set set = {0};
        mw_err err = {{0}};
        enum mw_status s =
            mw_tasks_parse(BAD[i].data, strlen(BAD[i].data), "f.jsonl", NULL, &set, &err);
        CHECK(s == MW_ERR_FORMAT, "bad %zu: status %d", i, s);
        CHECK(strstr(err.msg, BAD[i].expect) != NULL, "bad %zu: message '%s', expected '%s'", i,
              err.msg, BAD[i].expect);
        CHECK(strchr(err.msg, '\n') == NULL, "bad %zu: one line", i);
        CHECK(set.n == 0, "bad %zu: no items left", i);
        mw_task_set_free(&set);
    }
    /* a failing file leaves the items of earlier ones alone */
    mw_task_set set = {0};
    mw_err err = {{0}};
    CHECK(mw_tasks_parse(GOOD, sizeof GOOD - 1, "a", NULL, &set, &err) == MW_OK, "%s", err.msg);
    CHECK(mw_tasks_parse(BAD[3].data, strlen(BAD[3].data), "b", NULL, &set, &err) != MW_OK,
          "second file fails");
    CHECK(set.n == 3, "first file's items kept (%lld)", (long long)set.n);
    CHECK(mw_tasks_read("/nonexistent/tasks.jsonl", NULL, &set, &err) == MW_ERR_IO, "missing file");
    mw_task_set_free(&set);
}

static void test_argmax(void) {
    double v[] = {-3, -1, -1, -2};
    CHECK(mw_argmax(v, 4) == 1, "first of equal maxima");
    double w[] = {-INFINITY, -INFINITY};
    CHECK(mw_argmax(w, 2) == 0, "all -inf");
    double u[] = {NAN, 1, 2};
    CHECK(mw_argmax(u, 3) == 0, "NaN first stays (comparisons false)");
}

static void test_wilson(void) {
    const double z = 1.959963984540054;
    int64_t cases[][2] = {{0, 10}, {10, 10}, {8, 10}, {1, 3}, {137, 400}, {1, 1}, {50, 100}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int64_t k = cases[i][0], n = cases[i][1];
        double lo, hi, p = (double)k / (double)n;
        mw_wilson95(k, n, &lo, &hi);
        CHECK(0 <= lo && lo <= p && p <= hi && hi <= 1, "%lld/%lld: [%g, %g]", (long long)k,
              (long long)n, lo, hi);
        /* both bounds solve (p - q)^2 = z^2 q (1 - q) / n */
        double qs[2] = {lo, hi};
        for (int j = 0; j < 2; j++) {
            double q = qs[j], f = (p - q) * (p - q) - z * z * q * (1 - q) / (double)n;
            CHECK(fabs(f) < 1e-12, "%lld/%lld bound %g: residual %g", (long long)k, (long long)n, q,
                  f);
        }
    }
    double lo, hi;
    mw_wilson95(5, 10, &lo, &hi);
    CHECK(fabs(lo + hi - 1) < 1e-12, "symmetric around 1/2");
}

static void test_summary(void) {
    static const char DATA[] =
        "{\"lang\": \"fr\", \"task\": \"b\", \"context\": \"\", \"choices\": [\"x\", \"yy\"], "
        "\"label\": 1}\n"
        "{\"lang\": \"de\", \"task\": \"b\", \"context\": \"\", \"choices\": [\"x\", \"yy\"], "
        "\"label\": 1}\n"
        "{\"lang\": \"de\", \"task\": \"a\", \"context\": \"\", \"choices\": [\"x\", \"yy\", "
        "\"z\"], \"label\": 0}\n"
        "{\"lang\": \"fr\", \"task\": \"b\", \"context\": \"\", \"choices\": [\"x\", \"yy\"], "
        "\"label\": 0}\n";
    mw_task_set set = {0};
    mw_err err = {{0}};
    CHECK(mw_tasks_parse(DATA, sizeof DATA - 1, "s", NULL, &set, &err) == MW_OK, "%s", err.msg);
    if (set.n != 4) return;
    /* per choice: ll; bytes are 1, 2 (, 1) */
    int64_t first[] = {0, 2, 4, 7, 9};
    double ll[] = {-1.0, -1.5,       /* acc: 0, norm: -1 vs -0.75 -> 1 */
                   -2.0, -1.0,       /* 1, 1 */
                   -1.0, -2.0, -1.0, /* tie: 0; norm -1, -1, -1: 0 */
                   -3.0, -4.0 /* 0; norm -3 vs -2 -> 1 */};
    mw_task_seqs s = {.n_items = 4, .first = first};
    int32_t pred[4], pred_norm[4];
    mw_task_group *g = NULL;
    int64_t n = 0;
    CHECK(mw_tasks_summarize(&set, &s, ll, pred, pred_norm, &g, &n, &err) == MW_OK, "%s", err.msg);
    CHECK(pred[0] == 0 && pred[1] == 1 && pred[2] == 0 && pred[3] == 0, "pred %d %d %d %d", pred[0],
          pred[1], pred[2], pred[3]);
    CHECK(pred_norm[0] == 1 && pred_norm[1] == 1 && pred_norm[2] == 0 && pred_norm[3] == 1,
          "pred_norm %d %d %d %d", pred_norm[0], pred_norm[1], pred_norm[2], pred_norm[3]);
    CHECK(n == 3, "%lld groups", (long long)n);
    if (n == 3) {
        /* sorted by task, then language */
        CHECK(!strcmp(g[0].task, "a") && !strcmp(g[0].lang, "de") && g[0].n == 1 &&
                  g[0].correct == 1 && fabs(g[0].chance - 1.0 / 3) < 1e-15,
              "group a/de");
        CHECK(!strcmp(g[1].task, "b") && !strcmp(g[1].lang, "de") && g[1].correct == 1 &&
                  g[1].correct_norm == 1,
              "group b/de");
        CHECK(!strcmp(g[2].lang, "fr") && g[2].n == 2 && g[2].correct == 1 &&
                  g[2].correct_norm == 1 && g[2].acc == 0.5 && g[2].acc_norm == 0.5,
              "group b/fr: %lld %lld", (long long)g[2].correct, (long long)g[2].correct_norm);
        double lo, hi;
        mw_wilson95(1, 2, &lo, &hi);
        CHECK(g[2].ci_lo == lo && g[2].ci_hi == hi, "group interval");
    }
    free(g);
    mw_task_set_free(&set);
}

int main(void) {
    test_good();
    test_bad();
    test_argmax();
    test_wilson();
    test_summary();
    if (g_failures) {
        printf("%d g_failures\n", g_failures);
        return 1;
    }
    printf("OK\n");
    return 0;
}
