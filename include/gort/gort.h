/*
 * gort/gort.h — the whole public C API of gort, a Go-style runtime.
 */
#ifndef GORT_GORT_H
#define GORT_GORT_H

#include "chan.h"
#include "context.h"
#include "error.h"
#include "gc.h"
#include "malloc.h"
#include "metrics.h"
#include "mstats.h"
#include "proc.h"
#include "sync.h"
#include "syncmap.h"
#include "trace.h"
#include "version.h"

#endif
