/* mwanda eval MODEL --tasks FILE.jsonl [--tasks FILE2 ...] [--ctx N] [--langs a,b]
 *                   [--limit N] [--threads N] [--json FILE] [--items FILE] */
#include "cli/cli.h"

#include "calib/mpi.h"
#include "eval/tasks.h"

#include <getopt.h>
#include <jansson.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

static const char USAGE[] =
    "usage: mwanda eval MODEL --tasks FILE.jsonl [--tasks FILE2.jsonl ...] [--ctx N]\n"
    "                   [--langs de,fr,...] [--limit N] [--threads N] [--json FILE]\n"
    "                   [--items FILE]\n"
    "\n"
    "Multiple-choice accuracy per task and language, scored by log-likelihood as\n"
    "lm-evaluation-harness scores it. Each line of FILE is one item:\n"
    "  {\"lang\": \"de\", \"context\": \"Der Himmel ist\", \"choices\": [\" blau.\", \" laut.\"],\n"
    "   \"label\": 0, \"task\": \"cloze\", \"id\": \"7\"}   (task and id optional)\n"
    "Each choice is appended to the context as it is; its log-likelihood is the\n"
    "sum of the log-probabilities of its tokens. acc takes the choice with the\n"
    "highest log-likelihood, acc_norm the highest per byte of the choice. With a\n"
    "95% Wilson interval of acc. Results are grouped by (task, language); the\n"
    "table goes to stdout, progress to stderr. See docs/tasks.md. Under mpirun the\n"
    "processes share the work and give the same bytes (docs/scaling.md).\n"
    "\n"
    "  --tasks FILE    JSONL items; repeat for more files (lines without a \"task\"\n"
    "                  then take the file's name without .jsonl as their task)\n"
    "  --ctx N         the model's window in tokens; longer items lose tokens on\n"
    "                  the left (default: the model's training context)\n"
    "  --langs LIST    only these languages\n"
    "  --limit N       only the first N items of each (task, language)\n"
    "  --threads N     threads (default: all cores)\n"
    "  --json FILE     also write the results as JSON\n"
    "  --items FILE    write every item's log-likelihoods, predictions and tokens\n"
    "  -h, --help      this text\n"
    "\n"
    "example:\n"
    "  mwanda eval gemma3-270m --tasks data/tasks/test.jsonl --json tasks.json\n";

#define MAX_FILES 64

struct opts {
    const char *files[MAX_FILES];
    int n_files;
    const char *langs, *json_path, *items_path;
    long long ctx, threads, limit;
};

static int parse_opts(int argc, char **argv, struct opts *o) {
    static const struct option OPTS[] = {{"tasks", required_argument, NULL, 'T'},
                                         {"ctx", required_argument, NULL, 'c'},
                                         {"langs", required_argument, NULL, 'L'},
                                         {"limit", required_argument, NULL, 'n'},
                                         {"threads", required_argument, NULL, 't'},
                                         {"json", required_argument, NULL, 'j'},
                                         {"items", required_argument, NULL, 'I'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    *o = (struct opts){0};
    int c, rc;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":h", OPTS, NULL)) != -1) {
        switch (c) {
        case 'T':
            if (o->n_files == MAX_FILES)
                return cli_usage_error("eval", "at most %d --tasks files", MAX_FILES);
            o->files[o->n_files++] = optarg;
            break;
        case 'L':
            o->langs = optarg;
            break;
        case 'j':
            o->json_path = optarg;
            break;
        case 'I':
            o->items_path = optarg;
            break;
        case 'c':
            if ((rc = cli_parse_int("eval", optarg, "--ctx", 2, 1 << 20, &o->ctx))) return rc;
            break;
        case 'n':
            if ((rc = cli_parse_int("eval", optarg, "--limit", 1, 1000000000, &o->limit)))
                return rc;
            break;
        case 't':
            if ((rc = cli_parse_int("eval", optarg, "--threads", 1, 1024, &o->threads))) return rc;
            break;
        case 'h':
            fputs(USAGE, stdout);
            return -1;
        case ':':
            return cli_usage_error("eval", "option %s needs a value", argv[optind - 1]);
        default:
            return cli_usage_error("eval", "unknown option '%s' with --tasks", argv[optind - 1]);
        }
    }
    if (optind != argc - 1) return cli_usage_error("eval", "expected one MODEL");
    return CLI_OK;
}

static bool in_list(const char *name, const char *list) {
    if (!list) return true;
    size_t n = strlen(name);
    for (const char *p = list; *p;) {
        const char *end = strchr(p, ',');
        size_t k = end ? (size_t)(end - p) : strlen(p);
        if (k == n && strncmp(p, name, n) == 0) return true;
        p += k + (end != NULL);
    }
    return false;
}

/* "dir/xcopa.jsonl" -> "xcopa" (the task of lines without one). */
static void file_task(const char *path, char *out, size_t size) {
    const char *base = strrchr(path, '/');
    base = base ? base + 1 : path;
    size_t n = strlen(base);
    if (n > 6 && strcmp(base + n - 6, ".jsonl") == 0) n -= 6;
    snprintf(out, size, "%.*s", (int)n, base);
}

/* Items of one (task, language) kept so far. */
struct kept {
    char task[MW_TASK_NAME_MAX], lang[MW_TASK_NAME_MAX];
    int64_t count;
};

/* The counter of it's (task, language); NULL when out of memory. */
static int64_t *kept_count(const mw_task_item *it, struct kept **k, int64_t *n) {
    for (int64_t i = 0; i < *n; i++)
        if (!strcmp((*k)[i].lang, it->lang) && !strcmp((*k)[i].task, it->task))
            return &(*k)[i].count;
    struct kept *p = realloc(*k, (size_t)(*n + 1) * sizeof *p);
    if (!p) return NULL;
    *k = p;
    memcpy(p[*n].task, it->task, sizeof p->task);
    memcpy(p[*n].lang, it->lang, sizeof p->lang);
    p[*n].count = 0;
    return &p[(*n)++].count;
}

/* Drops items outside --langs and past --limit per (task, language). */
static int select_items(mw_task_set *set, const struct opts *o) {
    struct kept *k = NULL;
    int64_t n_k = 0, kept = 0;
    int rc = CLI_OK;
    for (int64_t i = 0; i < set->n; i++) {
        mw_task_item *it = &set->items[i];
        bool keep = in_list(it->lang, o->langs);
        if (keep && o->limit) {
            int64_t *c = rc ? NULL : kept_count(it, &k, &n_k);
            if (!c && !rc) rc = cli_error("out of memory");
            keep = c && (*c)++ < o->limit;
        }
        if (keep)
            set->items[kept++] = *it;
        else
            mw_task_item_free(it);
    }
    set->n = kept;
    free(k);
    return rc;
}

static int read_items(const struct opts *o, mw_task_set *set) {
    mw_err err = {{0}};
    for (int i = 0; i < o->n_files; i++) {
        char task[MW_TASK_NAME_MAX];
        file_task(o->files[i], task, sizeof task);
        enum mw_status s = mw_tasks_read(o->files[i], o->n_files > 1 ? task : NULL, set, &err);
        if (s) return cli_error("%s", err.msg);
    }
    if (select_items(set, o)) return CLI_FAIL;
    if (set->n == 0) return cli_error("no items of --langs %s", o->langs ? o->langs : "");
    return CLI_OK;
}

static void print_table(const mw_task_group *g, int64_t n) {
    bool tasks = n > 0 && g[0].task[0];
    printf("| %slanguage | items | acc | 95%% CI | acc_norm | 95%% CI | chance |\n",
           tasks ? "task | " : "");
    printf("|%s---|---:|---:|---|---:|---|---:|\n", tasks ? "---|" : "");
    for (int64_t i = 0; i < n;) {
        int64_t j = i, items = 0;
        double acc = 0, acc_norm = 0;
        for (; j < n && !strcmp(g[j].task, g[i].task); j++) {
            if (tasks) printf("| %s ", g[j].task);
            printf("| %s | %lld | %.4f | %.3f-%.3f | %.4f | %.3f-%.3f | %.3f |\n", g[j].lang,
                   (long long)g[j].n, g[j].acc, g[j].ci_lo, g[j].ci_hi, g[j].acc_norm,
                   g[j].ci_norm_lo, g[j].ci_norm_hi, g[j].chance);
            items += g[j].n;
            acc += g[j].acc;
            acc_norm += g[j].acc_norm;
        }
        if (j - i > 1) {
            if (tasks) printf("| %s ", g[i].task);
            printf("| macro average (%lld languages) | %lld | %.4f | | %.4f | | |\n",
                   (long long)(j - i), (long long)items, acc / (double)(j - i),
                   acc_norm / (double)(j - i));
        }
        i = j;
    }
}

static json_t *group_json(const mw_task_group *g) {
    return json_pack("{s:f, s:f, s:I, s:[f,f], s:[f,f], s:I, s:I, s:f}", "acc", g->acc, "acc_norm",
                     g->acc_norm, "n", (json_int_t)g->n, "ci95", g->ci_lo, g->ci_hi, "ci95_norm",
                     g->ci_norm_lo, g->ci_norm_hi, "correct", (json_int_t)g->correct,
                     "correct_norm", (json_int_t)g->correct_norm, "chance", g->chance);
}

/* Mean over the languages of each task. */
static json_t *macro_json(const mw_task_group *g, int64_t n) {
    json_t *macro = json_object();
    for (int64_t i = 0; i < n;) {
        int64_t j = i, items = 0;
        double acc = 0, acc_norm = 0;
        for (; j < n && !strcmp(g[j].task, g[i].task); j++) {
            items += g[j].n;
            acc += g[j].acc;
            acc_norm += g[j].acc_norm;
        }
        json_object_set_new(macro, g[i].task[0] ? g[i].task : "all",
                            json_pack("{s:f, s:f, s:I, s:I}", "acc", acc / (double)(j - i),
                                      "acc_norm", acc_norm / (double)(j - i), "languages",
                                      (json_int_t)(j - i), "n", (json_int_t)items));
        i = j;
    }
    return macro;
}

static int write_json(const char *path, const char *model, const struct opts *o,
                      const mw_task_seqs *s, const mw_task_group *g, int64_t n) {
    /* {"<lang>": {...}} without task names, {"<task>": {"<lang>": {...}}} with */
    json_t *groups = json_object(), *files = json_array();
    for (int64_t i = 0; i < n; i++) {
        json_t *parent = groups;
        if (g[i].task[0]) {
            if (!(parent = json_object_get(groups, g[i].task))) {
                parent = json_object();
                json_object_set_new(groups, g[i].task, parent);
            }
        }
        json_object_set_new(parent, g[i].lang, group_json(&g[i]));
    }
    for (int i = 0; i < o->n_files; i++)
        json_array_append_new(files, json_string(o->files[i]));
    json_t *root = json_pack("{s:s, s:o, s:I, s:I, s:o, s:o}", "model", model, "files", files,
                             "ctx", (json_int_t)s->max_len, "truncated", (json_int_t)s->truncated,
                             "tasks", groups, "macro", macro_json(g, n));
    int rc = cli_write_json(path, root);
    json_decref(root);
    return rc;
}

static json_t *ids_json(const int32_t *ids, int64_t n) {
    json_t *a = json_array();
    for (int64_t i = 0; i < n; i++)
        json_array_append_new(a, json_integer(ids[i]));
    return a;
}

static int write_items(const char *path, const mw_task_set *set, const mw_task_seqs *s,
                       const double *ll, const int32_t *pred, const int32_t *pred_norm) {
    json_t *items = json_array();
    for (int64_t i = 0; i < set->n; i++) {
        const mw_task_item *it = &set->items[i];
        const mw_task_seq *q = &s->seq[s->first[i]];
        json_t *lls = json_array(), *bytes = json_array(), *cont = json_array();
        json_t *start = json_array();
        for (int32_t c = 0; c < it->n_choices; c++) {
            json_array_append_new(lls, json_real(ll[s->first[i] + c]));
            json_array_append_new(bytes, json_integer((json_int_t)it->choice_len[c]));
            json_array_append_new(cont, ids_json(q[c].ids + q[c].n_ctx, q[c].n_cont));
            json_array_append_new(start, json_integer(q[c].start));
        }
        json_array_append_new(
            items,
            json_pack("{s:s, s:I, s:s?, s:s?, s:s, s:i, s:i, s:i, s:o, s:o, s:o, s:o, "
                      "s:o}",
                      "file", it->file, "line", (json_int_t)it->line, "id", it->id, "task",
                      it->task[0] ? it->task : NULL, "lang", it->lang, "label", it->label, "pred",
                      pred[i], "pred_norm", pred_norm[i], "ll", lls, "bytes", bytes, "context_ids",
                      ids_json(q[0].ids, q[0].n_ctx), "choice_ids", cont, "start", start));
    }
    int rc = cli_write_json(path, items);
    json_decref(items);
    return rc;
}

/* Encodes, scores and reports the items. */
static int score(const mw_model *m, const mw_tokenizer *tok, const struct opts *o,
                 const char *model, const mw_task_set *set) {
    mw_err err = {{0}};
    mw_task_seqs s = {0};
    int64_t ctx = o->ctx ? o->ctx : mw_model_hparams(m)->n_ctx_train;
    if (ctx < 2) ctx = 2048; /* a model that does not say */
    enum mw_status st = mw_tasks_encode(tok, set, ctx, &s, &err);
    if (st) return cli_error("%s", err.msg);
    int64_t n_seq = s.first[s.n_items], n_groups = 0;
    double *ll = malloc((size_t)n_seq * sizeof *ll);
    int32_t *pred = malloc((size_t)set->n * sizeof *pred);
    int32_t *pred_norm = malloc((size_t)set->n * sizeof *pred_norm);
    mw_task_group *g = NULL;
    int rc = CLI_OK;
    if (!ll || !pred || !pred_norm) rc = cli_error("out of memory");
    cli_progress p;
    cli_progress_init(&p, "tasks");
    /* under mpirun each process scores a share of the batches; rank 0 gets
     * every log-likelihood and reports (its progress: its own share) */
    bool writer = mw_mpi_writer();
    if (!rc &&
        (st = mw_tasks_loglik_shared(m, &s, writer ? cli_progress_update : NULL, &p, ll, &err)))
        rc = cli_error("%s", err.msg);
    if (!rc && !writer) goto done;
    if (!rc) cli_progress_done(&p);
    if (!rc && (st = mw_tasks_summarize(set, &s, ll, pred, pred_norm, &g, &n_groups, &err)))
        rc = cli_error("%s", err.msg);
    if (!rc && s.truncated)
        fprintf(stderr, "tasks: %lld sequences were cut on the left to %lld tokens\n",
                (long long)s.truncated, (long long)ctx);
    if (!rc) print_table(g, n_groups);
    if (!rc && o->json_path) rc = write_json(o->json_path, model, o, &s, g, n_groups);
    if (!rc && o->items_path) rc = write_items(o->items_path, set, &s, ll, pred, pred_norm);
done:
    free(g);
    free(ll);
    free(pred);
    free(pred_norm);
    mw_task_seqs_free(&s);
    return rc;
}

int cmd_eval_tasks(int argc, char **argv) {
    struct opts o;
    int rc = parse_opts(argc, argv, &o);
    if (rc) return rc < 0 ? CLI_OK : rc;
    if (o.threads) omp_set_num_threads((int)o.threads);
    mw_task_set set = {0};
    if ((rc = read_items(&o, &set))) {
        mw_task_set_free(&set);
        return rc;
    }
    mw_model *m = cli_open_model(argv[optind]);
    mw_tokenizer *tok = NULL;
    mw_err err = {{0}};
    if (!m)
        rc = CLI_FAIL;
    else if (mw_model_tokenizer(m, &tok, &err))
        rc = cli_error("%s", err.msg);
    else
        rc = score(m, tok, &o, argv[optind], &set);
    mw_tokenizer_free(tok);
    mw_model_close(m);
    mw_task_set_free(&set);
    return rc;
}
