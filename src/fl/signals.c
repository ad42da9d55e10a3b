// signals.c - flags set from the handler, agreed on collectively, and SIGTERM's grace timer (see
// signals.h).
#include "fl/signals.h"

#include <errno.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/die.h"

// What the handler writes: the line at SIGTERM and the line at the grace exit, formatted in
// normal context. Two copies: signals_progress fills the spare one, then flips `note`, so the
// handler never reads a half-written line.
typedef struct {
    char receipt[1024], expiry[1024];
    size_t n_receipt, n_expiry;
} Note;

static Note notes[2];
static volatile sig_atomic_t note;           // the copy the handler reads
static volatile sig_atomic_t pending_signal; // the largest signal number received
static volatile sig_atomic_t term_seen;      // a SIGTERM arrived (the timer is armed once)
static volatile sig_atomic_t grace_set;      // signals_set_term_grace was called
static volatile sig_atomic_t stopping;       // a stop was agreed: the timer no longer exits
static timer_t grace_timer;
static struct timespec grace_ts; // --term-grace
static double grace_s;
static int log_rank_id;

static void say(const char *s, size_t n) {
    ssize_t r = write(STDERR_FILENO, s, n); // nothing to do if stderr is gone
    (void)r;
}

static void grace_exit(void) {
    const Note *n = &notes[note];
    say(n->expiry, n->n_expiry);
    _exit(EXIT_REQUEUE);
}

static void start_grace(void) {
    const Note *n = &notes[note];
    say(n->receipt, n->n_receipt);
    if (grace_ts.tv_sec == 0 && grace_ts.tv_nsec == 0) grace_exit(); // a zero it_value disarms
    struct itimerspec its = {.it_value = grace_ts};
    timer_settime(grace_timer, 0, &its, NULL);
}

static void on_signal(int sig) {
    int saved = errno;
    if (sig == SIGALRM) {
        if (term_seen && !stopping) grace_exit();
    } else {
        if (sig > pending_signal) pending_signal = sig;
        // After an agreed stop the checkpoint is being written: let it finish.
        if (sig == SIGTERM && !term_seen && !stopping) {
            term_seen = 1;
            if (grace_set) start_grace();
        }
    }
    errno = saved;
}

void signals_install(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    CHECK(sigaction(SIGUSR1, &sa, NULL) == 0, "sigaction(SIGUSR1): %s", strerror(errno));
    CHECK(sigaction(SIGTERM, &sa, NULL) == 0, "sigaction(SIGTERM): %s", strerror(errno));
    CHECK(sigaction(SIGALRM, &sa, NULL) == 0, "sigaction(SIGALRM): %s", strerror(errno));
    struct sigevent ev;
    memset(&ev, 0, sizeof ev);
    ev.sigev_notify = SIGEV_SIGNAL;
    ev.sigev_signo = SIGALRM;
    CHECK(timer_create(CLOCK_MONOTONIC, &ev, &grace_timer) == 0, "timer_create: %s",
          strerror(errno));
}

// Formats both lines into the spare copy and makes it the current one.
static void format_note(const char *dir, int round, int published, int writing) {
    Note *n = &notes[!note];
    char from[1200];
    if (!dir)
        snprintf(from, sizeof from, "--resume=auto continues from the newest checkpoint, if any");
    else if (round == 0)
        snprintf(from, sizeof from,
                 "--resume=auto continues from the newest checkpoint in %s, if any", dir);
    else if (published == 0)
        snprintf(from, sizeof from, "no checkpoint yet: a rerun starts from round 1");
    else
        snprintf(from, sizeof from, "--resume=auto continues from round %d (%s/round_%06d.h5)",
                 published, dir, published);
    int a, b;
    if (round == 0) {
        a = snprintf(n->receipt, sizeof n->receipt,
                     "[rank %d] SIGTERM during start-up: exit 3 in --term-grace=%g s; %s\n",
                     log_rank_id, grace_s, from);
        b = snprintf(n->expiry, sizeof n->expiry,
                     "[rank %d] SIGTERM: exit 3 during start-up (--term-grace=%g s); %s\n",
                     log_rank_id, grace_s, from);
    } else if (writing) {
        a = snprintf(n->receipt, sizeof n->receipt,
                     "[rank %d] SIGTERM while writing the checkpoint of round %d: exit 3 in "
                     "--term-grace=%g s unless the next round ends sooner\n",
                     log_rank_id, round, grace_s);
        b = snprintf(n->expiry, sizeof n->expiry,
                     "[rank %d] SIGTERM: exit 3 while writing the checkpoint of round %d "
                     "(--term-grace=%g s); --resume=auto continues from round %d if it was "
                     "published, else %s\n",
                     log_rank_id, round, grace_s, round,
                     published ? "from the previous checkpoint" : "from the start");
    } else {
        a = snprintf(n->receipt, sizeof n->receipt,
                     "[rank %d] SIGTERM in round %d: its checkpoint and exit 3 if every rank ends "
                     "it within --term-grace=%g s, else exit 3 then\n",
                     log_rank_id, round, grace_s);
        b = snprintf(n->expiry, sizeof n->expiry,
                     "[rank %d] SIGTERM: round %d did not end within --term-grace=%g s: exit 3 "
                     "without its checkpoint; %s\n",
                     log_rank_id, round, grace_s, from);
    }
    // A truncated line still ends the buffer with its NUL: write what fits.
    n->n_receipt = a < 0 ? 0 : (size_t)a < sizeof n->receipt ? (size_t)a : sizeof n->receipt - 1;
    n->n_expiry = b < 0 ? 0 : (size_t)b < sizeof n->expiry ? (size_t)b : sizeof n->expiry - 1;
    note = !note;
}

void signals_set_term_grace(double seconds, int rank) {
    CHECK(seconds >= 0 && isfinite(seconds), "--term-grace=%g: expected seconds >= 0", seconds);
    // SIGTERM is held while the settings change, so the handler sees either none or all of them.
    sigset_t term, old;
    sigemptyset(&term);
    sigaddset(&term, SIGTERM);
    CHECK(sigprocmask(SIG_BLOCK, &term, &old) == 0, "sigprocmask: %s", strerror(errno));
    grace_s = seconds, log_rank_id = rank;
    grace_ts.tv_sec = (time_t)seconds;
    grace_ts.tv_nsec = (long)((seconds - (double)grace_ts.tv_sec) * 1e9);
    format_note(NULL, 0, 0, 0);
    grace_set = 1;
    if (term_seen && !stopping) start_grace(); // a SIGTERM during start-up
    CHECK(sigprocmask(SIG_SETMASK, &old, NULL) == 0, "sigprocmask: %s", strerror(errno));
}

void signals_progress(const char *ckpt_dir, int round, int published, int writing) {
    format_note(ckpt_dir, round, published, writing);
}

int signals_pending(void) { return (int)pending_signal; }

// First the flag, then the timer: a timer firing in between sees the flag.
static void disarm(void) {
    stopping = 1;
    struct itimerspec off;
    memset(&off, 0, sizeof off);
    timer_settime(grace_timer, 0, &off, NULL);
}

int signals_agree(Comm *c) {
    int32_t any = (int32_t)pending_signal;
    comm_allreduce(c, &any, 1, COMM_I32, COMM_MAX, NULL);
    if (any) disarm();
    return any;
}

void signals_done(void) { disarm(); }

const char *signals_name(int sig) {
    static char other[32];
    if (sig == SIGUSR1) return "SIGUSR1";
    if (sig == SIGTERM) return "SIGTERM";
    snprintf(other, sizeof other, "signal %d", sig);
    return other;
}
