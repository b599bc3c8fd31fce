/*
 * version.c — the build stamps GORT_VERSION here, as Go's linker stamps
 * -X main.version; nothing else in the runtime knows the version.
 */
#include "gort/version.h"

#ifndef GORT_VERSION
#error "GORT_VERSION must be defined by the build"
#endif

const char *gort_version(void) { return GORT_VERSION; }

const char *gort_build_variant(void)
{
#ifdef GORT_DEBUG
    return "debug";
#else
    return "release";
#endif
}
