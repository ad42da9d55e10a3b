// signals.c - a flag set from the handler, agreed on collectively (see signals.h).
#include "fl/signals.h"

#include <signal.h>
#include <string.h>

#include "core/die.h"

static volatile sig_atomic_t pending_signal;

static void on_signal(int sig) { pending_signal = sig; }

void signals_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction(SIGUSR1)");
    CHECK(sigaction(SIGTERM, &sa, NULL) == 0, "sigaction(SIGTERM)");
}

int signals_pending(void) { return (int)pending_signal; }

int signals_agree(Comm *c) {
    int32_t any = (int32_t)pending_signal;
    comm_allreduce(c, &any, 1, COMM_I32, COMM_MAX, NULL);
    return any;
}
