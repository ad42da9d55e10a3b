// none.c - nothing trains, nothing is exchanged (see none.h).
#include "protocols/none.h"

#include "core/xalloc.h"

static void *create(const ProtocolEnv *env, const void *ext, const void *opts,
                    ProtocolShape *shape) {
    (void)env, (void)ext, (void)opts;
    // global_trained: the driver tests the global model (it never changes; its broadcast sends the
    // same bits)
    *shape = (ProtocolShape){.global_trained = 1, .no_finetune = 1};
    return xcalloc(1, 1);
}

static void destroy(void *st) { xfree(st); }

const Protocol protocol_none = {.name = "none", .create = create, .destroy = destroy};
