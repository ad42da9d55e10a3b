// speech.c - espeak-ng helper process with one fresh worker per block (speech.h).
#include "data/speech.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/die.h"
#include "core/xalloc.h"

#ifdef HAVE_ESPEAK
#include <espeak-ng/espeak_ng.h>
#include <espeak-ng/speak_lib.h>
#endif

struct Speech {
    pid_t helper;
    int req_fd; // parent writes requests
    int res_fd; // parent reads results
};

static void write_all(int fd, const void *buf, size_t n) {
    const char *p = buf;
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) continue;
        CHECK(w > 0, "write to speech pipe failed: %s", strerror(errno));
        p += w;
        n -= (size_t)w;
    }
}

// Returns 0 on EOF before the first byte (helper told to stop), 1 when n bytes were read.
static int read_all(int fd, void *buf, size_t n) {
    char *p = buf;
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r == 0 && got == 0) return 0;
        CHECK(r > 0, "speech pipe closed after %zu of %zu bytes (%s)", got, n,
              r < 0 ? strerror(errno) : "EOF: the worker died");
        got += (size_t)r;
    }
    return 1;
}

#ifdef HAVE_ESPEAK
// Worker state: the utterance being collected.
static int16_t *g_buf;
static int g_len;

static int synth_cb(short *wav, int n, espeak_EVENT *ev) {
    (void)ev;
    if (wav && n > 0) {
        int take = n < SPEECH_MAX_SAMPLES - g_len ? n : SPEECH_MAX_SAMPLES - g_len;
        if (take > 0) memcpy(g_buf + g_len, wav, sizeof(int16_t) * (size_t)take);
        g_len += take;
    }
    return 0;
}

// Status word per utterance: >= 0 = number of samples that follow, < 0 = error code.
static void worker(const SpeechReq *reqs, int n, int res_fd) {
    g_buf = xmalloc(sizeof(int16_t) * SPEECH_MAX_SAMPLES);
    for (int i = 0; i < n; i++) {
        const SpeechReq *q = &reqs[i];
        int32_t status = 0;
        if (espeak_SetVoiceByName(q->voice) != EE_OK) status = -1;
        if (status == 0) {
            espeak_SetParameter(espeakRATE, q->rate, 0);
            espeak_SetParameter(espeakPITCH, q->pitch, 0);
            espeak_SetParameter(espeakRANGE, q->range, 0);
            g_len = 0;
            if (espeak_Synth(q->text, strlen(q->text) + 1, 0, POS_CHARACTER, 0, espeakCHARS_AUTO,
                             NULL, NULL) != EE_OK ||
                espeak_Synchronize() != EE_OK)
                status = -2;
            else
                status = g_len;
        }
        write_all(res_fd, &status, sizeof(status));
        if (status > 0) write_all(res_fd, g_buf, sizeof(int16_t) * (size_t)status);
    }
}

static _Noreturn void helper_main(int req_fd, int res_fd) {
    espeak_ng_InitializePath(NULL);
    int ok = espeak_ng_Initialize(NULL) == ENS_OK &&
             espeak_ng_InitializeOutput(ENOUTPUT_MODE_SYNCHRONOUS, 0, NULL) == ENS_OK;
    espeak_SetSynthCallback(synth_cb);
    SpeechReq *reqs = xmalloc(sizeof(SpeechReq) * SPEECH_MAX_BLOCK);
    for (;;) {
        int32_t n;
        if (!read_all(req_fd, &n, sizeof(n))) _exit(0);
        if (n < 1 || n > SPEECH_MAX_BLOCK) _exit(2);
        read_all(req_fd, reqs, sizeof(SpeechReq) * (size_t)n);
        if (!ok) {
            int32_t status = -3;
            for (int i = 0; i < n; i++)
                write_all(res_fd, &status, sizeof(status));
            continue;
        }
        // The worker inherits the state right after initialisation; its changes die with it.
        pid_t w = fork();
        if (w < 0) _exit(3);
        if (w == 0) {
            worker(reqs, n, res_fd);
            _exit(0);
        }
        int st;
        while (waitpid(w, &st, 0) < 0 && errno == EINTR) {
        }
    }
}
#endif

Speech *speech_start(void) {
#ifndef HAVE_ESPEAK
    die_set_hint("apt-get install libespeak-ng-dev espeak-ng-data, then rebuild (make)");
    CHECK(0, "built without libespeak-ng: no speech synthesis");
#else
    int req[2], res[2];
    CHECK(pipe(req) == 0 && pipe(res) == 0, "pipe failed: %s", strerror(errno));
    pid_t pid = fork();
    CHECK(pid >= 0, "fork of the speech helper failed: %s", strerror(errno));
    if (pid == 0) {
        close(req[1]);
        close(res[0]);
        // Default dispositions: an inherited handler (Check's SIGTERM handler kills the whole test
        // process group) must not run in the helper.
        signal(SIGPIPE, SIG_DFL);
        signal(SIGTERM, SIG_DFL);
        signal(SIGINT, SIG_DFL);
        helper_main(req[0], res[1]);
    }
    close(req[0]);
    close(res[1]);
    // Close-on-exec: a process that MPI_Init forks and execs (Open MPI's singleton daemon) must not
    // keep the request pipe open, or the helper never sees EOF and speech_stop waits forever.
    CHECK(fcntl(req[1], F_SETFD, FD_CLOEXEC) == 0 && fcntl(res[0], F_SETFD, FD_CLOEXEC) == 0,
          "fcntl failed: %s", strerror(errno));
    Speech *s = xmalloc(sizeof(Speech));
    s->helper = pid;
    s->req_fd = req[1];
    s->res_fd = res[0];
    return s;
#endif
}

void speech_block(Speech *s, const SpeechReq *reqs, int n, int16_t *const *out, int *len) {
    CHECK_PTR(s);
    CHECK_PTR(reqs);
    CHECK_PTR(out);
    CHECK_PTR(len);
    CHECK(n >= 1 && n <= SPEECH_MAX_BLOCK, "n=%d not in [1, %d]", n, SPEECH_MAX_BLOCK);
    int32_t n32 = n;
    write_all(s->req_fd, &n32, sizeof(n32));
    write_all(s->req_fd, reqs, sizeof(SpeechReq) * (size_t)n);
    for (int i = 0; i < n; i++) {
        int32_t status;
        CHECK(read_all(s->res_fd, &status, sizeof(status)), "speech helper exited");
        CHECK(status != -1, "espeak-ng has no voice \"%s\"", reqs[i].voice);
        CHECK(status != -3, "espeak-ng failed to initialise (is espeak-ng-data installed?)");
        CHECK(status > 0, "espeak-ng failed to speak \"%s\" with voice %s (status %d)",
              reqs[i].text, reqs[i].voice, (int)status);
        CHECK_PTR(out[i]);
        read_all(s->res_fd, out[i], sizeof(int16_t) * (size_t)status);
        len[i] = status;
    }
}

void speech_stop(Speech *s) {
    if (!s) return;
    close(s->req_fd); // EOF ends the helper's loop
    close(s->res_fd);
    kill(s->helper, SIGKILL); // in case a forked child still holds the pipe open (it is idle now)
    int st;
    while (waitpid(s->helper, &st, 0) < 0 && errno == EINTR) {
    }
    xfree(s);
}
