// registry.c - lookup over the generated method table (see method.h).
#include <string.h>

#include "methods/method.h"

const Method *method_find(const char *name) {
    for (int i = 0; i < method_count; i++)
        if (strcmp(method_registry[i]->opt.name, name) == 0) return method_registry[i];
    return NULL;
}
