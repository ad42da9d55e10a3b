// timer.h - monotonic wall-clock timing in milliseconds. Local.
#pragma once

// Milliseconds on CLOCK_MONOTONIC since an arbitrary origin.
double timer_now_ms(void);

typedef struct Timer {
    double start_ms;
    double total_ms; // accumulated over start/stop pairs
} Timer;

void timer_start(Timer *t);
// Adds the time since the last timer_start to total_ms and returns that interval.
double timer_stop(Timer *t);
