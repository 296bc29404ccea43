/* Subcommands whose issue has not landed yet. */
#include "cli/cli.h"

#include <string.h>

int cmd_pending(int argc, char **argv) {
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: mwanda %s ...\n\n'mwanda %s' is not available yet in this version.\n",
                   argv[0], argv[0]);
            return CLI_OK;
        }
    return cli_error("'%s' is not available yet in mwanda %s", argv[0], mw_version());
}
