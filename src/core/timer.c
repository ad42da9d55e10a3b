// timer.c - see timer.h.
#include "core/timer.h"

#include <time.h>

double timer_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

void timer_start(Timer *t) { t->start_ms = timer_now_ms(); }

double timer_stop(Timer *t) {
    double dt = timer_now_ms() - t->start_ms;
    t->total_ms += dt;
    return dt;
}
