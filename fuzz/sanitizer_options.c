/*
 * sanitizer_options.c — the sanitizer settings of every fuzz target, as the
 * C tests get them from ctest: the runtime keeps its metadata for the life
 * of the process (no leak), and ASan's fake stacks would hide locals from
 * the collector's conservative stack scan. UBSan stops at the first report.
 */
const char *__asan_default_options(void);
const char *__ubsan_default_options(void);

const char *__asan_default_options(void)
{
    return "detect_leaks=0:detect_stack_use_after_return=0:abort_on_error=1";
}

const char *__ubsan_default_options(void) { return "print_stacktrace=1:halt_on_error=1"; }
