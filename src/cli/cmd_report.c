/* mwanda report RUN_DIR... [-o OUT_DIR] */
#include "cli/cli.h"

#include "report/report.h"

#include <getopt.h>
#include <string.h>

static const char USAGE[] =
    "usage: mwanda report RUN_DIR... [-o OUT_DIR]\n"
    "\n"
    "Writes OUT_DIR/report.md, a Markdown report with tables, and the SVG charts it\n"
    "shows: the perplexity change of each pruned run per language (held-out\n"
    "languages shaded), the target sparsity per decoder block, and the task\n"
    "accuracy per language with 95% intervals and chance level.\n"
    "\n"
    "Each RUN_DIR holds any of:\n"
    "  prune.json   from mwanda prune --json (a folder without one is dense)\n"
    "  eval.json    from mwanda eval --json (perplexity per language)\n"
    "  tasks.json   from mwanda eval --tasks FILE --json (accuracy per language)\n"
    "  run.json     optional: {\"name\": \"...\", \"unseen\": [\"sw\", ...]}\n"
    "The first run without prune.json (or with method \"dense\") is the baseline\n"
    "every other run is compared with. The files written are listed on stdout.\n"
    "\n"
    "  -o, --output DIR   output folder (default: report); a new folder appears\n"
    "                     complete, files in an existing one are replaced one by one\n"
    "  -h, --help         this text\n"
    "\n"
    "example:\n"
    "  mwanda report runs/dense runs/wanda-50 runs/mwanda-50 -o report\n";

int cmd_report(int argc, char **argv) {
    static const struct option OPTS[] = {{"output", required_argument, NULL, 'o'},
                                         {"help", no_argument, NULL, 'h'},
                                         {NULL, 0, NULL, 0}};
    const char *out_dir = "report";
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":o:h", OPTS, NULL)) != -1) {
        switch (c) {
        case 'o':
            if (!*optarg) return cli_usage_error("report", "--output needs a folder name");
            out_dir = optarg;
            break;
        case 'h':
            fputs(USAGE, stdout);
            return CLI_OK;
        case ':':
            return cli_usage_error("report", "option %s needs a value", argv[optind - 1]);
        default:
            return cli_usage_error("report", "unknown option '%s'", argv[optind - 1]);
        }
    }
    if (optind >= argc) return cli_usage_error("report", "expected at least one RUN_DIR");
    if (argc - optind > MW_REPORT_MAX_RUNS)
        return cli_usage_error("report", "%d runs: at most %d fit in one report", argc - optind,
                               MW_REPORT_MAX_RUNS);
    mw_report r;
    mw_report_doc doc;
    mw_err err = {{0}};
    enum mw_status s =
        mw_report_load((const char *const *)argv + optind, (size_t)(argc - optind), &r, &err);
    if (s) return cli_error("%s", err.msg[0] ? err.msg : mw_strerror(s));
    s = mw_report_render(&r, &doc, &err);
    if (!s) s = mw_report_write(&doc, out_dir, &err);
    if (!s) {
        size_t len = strlen(out_dir);
        while (len > 1 && out_dir[len - 1] == '/')
            len--;
        for (size_t i = 0; i < doc.n; i++)
            printf("%.*s/%s\n", (int)len, out_dir, doc.files[i].name);
    }
    mw_report_doc_free(&doc);
    mw_report_free(&r);
    if (s) return cli_error("%s", err.msg[0] ? err.msg : mw_strerror(s));
    return CLI_OK;
}
