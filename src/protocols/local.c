// local.c - local training (see local.h): the driver keeps and checkpoints each party's model.
#include "protocols/local.h"

#include "core/xalloc.h"

static void *create(const ProtocolEnv *env, const void *ext, const void *opts,
                    ProtocolShape *shape) {
    (void)env, (void)ext, (void)opts;
    *shape = (ProtocolShape){.parties_train = 1, .own_models = 1};
    return xcalloc(1, 1);
}

static void destroy(void *st) { xfree(st); }

const Protocol protocol_local = {.name = "local", .create = create, .destroy = destroy};
