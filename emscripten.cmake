# emscripten.cmake — the wasm flags of gort, included by CMakeLists.txt when
# it is configured with emcmake. Facts behind them are in the design notes:
# threads need a ready worker pool, fibers need ASYNCIFY, and the runtime's
# heap may grow to the whole 4 GB of wasm32.

# Threads: shared memory and atomics everywhere.
add_compile_options(-pthread)
add_link_options(
  -pthread
  -sASYNCIFY=1
  -sALLOW_MEMORY_GROWTH=1
  -sMAXIMUM_MEMORY=4GB
  -sINITIAL_MEMORY=64MB
  -Wno-pthreads-mem-growth)

# Asyncify instruments every function that may reach a fiber switch, and
# counts an indirect call as one. Emscripten's queued-call processing (inside
# every futex wait, so inside every lock) and musl's stdio (reached by every
# fatal error) call through function pointers but never switch fibers:
# listed here, they no longer drag the runtime's hot paths (locks, run
# queues, allocation, marking) into the instrumented graph. A channel
# operation gets some 15% faster.
add_link_options(
  "SHELL:-sASYNCIFY_REMOVE=['emscripten_current_thread_process_queued_calls','emscripten_main_thread_process_queued_calls','_do_call','_emscripten_do_dispatch_to_thread','fflush','__fwritex','__vfprintf_internal','printf_core','pop_arg','out','close_file','__stdio_exit','fiprintf','__small_printf']")

# Every build checks each move of the C stack pointer against the running
# fiber's limits: an overflow stops with a clear message (overflow_lib.js
# names the goroutine) instead of overwriting the memory below the stack.
add_link_options(-sSTACK_OVERFLOW_CHECK=2)

# Node 18+ has fetch(), which Emscripten 3.1.6 then uses for the .wasm path
# and fails; this hands the bytes over from the file system instead.
set(GORT_WASM_PRE_JS ${CMAKE_CURRENT_LIST_DIR}/src/prim/wasm/node_pre.js)
# Fibers that migrate between workers, and workers reused after fibers, need
# two repairs to Emscripten 3.1.6's JS (see the file).
set(GORT_WASM_FIBER_POST_JS ${CMAKE_CURRENT_LIST_DIR}/src/prim/wasm/fiber_post.js)
set(GORT_WASM_OVERFLOW_LIB_JS ${CMAKE_CURRENT_LIST_DIR}/src/prim/wasm/overflow_lib.js)
set(GORT_WASM_FIBER_LIB_JS ${CMAKE_CURRENT_LIST_DIR}/src/prim/wasm/fiber_lib.js)
set(GORT_WASM_EXIT_LIB_JS ${CMAKE_CURRENT_LIST_DIR}/src/prim/wasm/exit_lib.js)

# A C program with main() that Node runs as `node prog.js args...`: main
# runs on a pthread so it may block, the process exits with main's status,
# and a pool of workers is ready before main starts (a wasm thread cannot be
# created synchronously). GORT_PTHREAD_POOL workers, 8 unless set. On
# Node the program sets three process-wide V8 flags as it loads, unless given
# on the command line (src/prim/wasm/node_pre.js): its module is compiled whole
# at the top tier, and JS functions get their feedback vectors at once, so
# that no compilation lands inside a collector pause.
function(gort_wasm_program target)
  if(NOT GORT_PTHREAD_POOL)
    set(GORT_PTHREAD_POOL 8)
  endif()
  set_target_properties(${target} PROPERTIES SUFFIX ".js")
  target_link_options(${target} PRIVATE
    -sPROXY_TO_PTHREAD=1
    -sEXIT_RUNTIME=1
    -sPTHREAD_POOL_SIZE=${GORT_PTHREAD_POOL}
    -sENVIRONMENT=node,worker
    # SHELL: keeps each flag with its file (CMake drops repeated flags).
    "SHELL:--pre-js ${GORT_WASM_PRE_JS}"
    "SHELL:--post-js ${GORT_WASM_FIBER_POST_JS}"
    "SHELL:--js-library ${GORT_WASM_FIBER_LIB_JS}"
    "SHELL:--js-library ${GORT_WASM_OVERFLOW_LIB_JS}"
    "SHELL:--js-library ${GORT_WASM_EXIT_LIB_JS}")
  set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS ${GORT_WASM_PRE_JS})
  set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS ${GORT_WASM_FIBER_POST_JS})
  set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS ${GORT_WASM_OVERFLOW_LIB_JS})
  set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS ${GORT_WASM_FIBER_LIB_JS})
  set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS ${GORT_WASM_EXIT_LIB_JS})
endfunction()
