/*
 * gort/gort.h — the whole public C API of gort, a Go-style runtime.
 */
#ifndef GORT_GORT_H
#define GORT_GORT_H

#include "malloc.h"
#include "mstats.h"
#include "version.h"

#endif
