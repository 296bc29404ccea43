/* SIGINT, SIGTERM and SIGHUP. Whatever the command, a signal first removes
 * the outputs being written (their temporary names), so that an interrupted
 * run leaves nothing behind, not even under mpirun, which ends the other
 * ranks with SIGTERM and soon SIGKILL when one dies. Commands that can stop
 * at a safe point (calibrate, prune) then take the first signal as a
 * request; otherwise, and on a second signal, the process dies of it as it
 * would without a handler. */
#include "cli/cli.h"

#include <errno.h>
#include <signal.h>
#include <string.h>

static volatile sig_atomic_t g_signal; /* the request, once received */
static volatile sig_atomic_t g_polite;

static void on_signal(int sig) {
    int saved = errno;
    mw_remove_partial_outputs();
    if (g_polite && !g_signal) {
        g_signal = sig;
        errno = saved;
        return;
    }
    signal(sig, SIG_DFL);
    raise(sig);
    errno = saved;
}

void cli_signals_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
}

void cli_signals_polite(void) {
    g_polite = 1;
}

int cli_signal_received(void) {
    return g_signal;
}
