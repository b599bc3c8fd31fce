/*
 * gort/version.h — which gort this is.
 */
#ifndef GORT_VERSION_H
#define GORT_VERSION_H

#ifdef __cplusplus
extern "C" {
#endif

/* The version stamped into the library when it was built (the package's
 * version, or what the build was given with -DGORT_VERSION=...), e.g.
 * "0.1.0". */
const char *gort_version(void);

/* "debug" or "release": the build variant. Debug builds check the runtime's
 * invariants as they go and verify the heap's structures. */
const char *gort_build_variant(void);

#ifdef __cplusplus
}
#endif

#endif
