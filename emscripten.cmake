# emscripten.cmake — the wasm flags of gort, included by CMakeLists.txt when
# it is configured with emcmake, and the functions that link programs and JS
# modules with it. Facts behind the flags are in the design notes: threads
# need a ready worker pool, fibers need ASYNCIFY, and the runtime's heap may
# grow to the whole 4 GB of wasm32.
#
# Every flag is carried by the target gort_wasm, which gort links PUBLIC: a
# program outside gort's tree that does add_subdirectory(gort) and links gort
# compiles and links with them as gort's own targets do (directory-scope
# options would stop at gort's folder).
add_library(gort_wasm INTERFACE)

# Threads: shared memory and atomics in every object of the program.
target_compile_options(gort_wasm INTERFACE -pthread)
target_link_options(gort_wasm INTERFACE
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
# operation gets some 15% faster. The runtime's once_do is listed too: its
# callbacks are the runtime's setup functions (tables, fixed allocators),
# which never park (src/lock.h), and through it the heap's first use
# (allocmcache, so the shared cache's allocation path) and the scheduler's
# latency metric (execute_prepare) were instrumented. Binaryen warns about
# every name of the list that a program lacks, and which of musl's functions a program contains
# depends on the program, its optimization and whether it exits: names that
# some programs lack are given as patterns that always match something
# ('*printf*', '*fwrite*'), and the two functions of stdio's exit are listed
# for programs only (gort_wasm_program). The functions below add the list.
set_property(GLOBAL PROPERTY GORT_ASYNCIFY_REMOVE
  "'emscripten_current_thread_process_queued_calls','emscripten_main_thread_process_queued_calls','_do_call','_emscripten_do_dispatch_to_thread','fflush','*fwrite*','*printf*','pop_arg','out','once_do'")

# Every build checks each move of the C stack pointer against the running
# fiber's limits: an overflow stops with a clear message (overflow_lib.js
# names the goroutine) instead of overwriting the memory below the stack.
target_link_options(gort_wasm INTERFACE -sSTACK_OVERFLOW_CHECK=2)

# The fiber switch drives Asyncify from wasm (src/prim/wasm/fiber.c): it
# changes the Asyncify state in uninstrumented functions by design, which the
# checks emcc asks of Asyncify with -sASSERTIONS (asyncify-asserts) trap on.
# The extra passes come last on wasm-opt's command line: the empty value
# wins.
target_link_options(gort_wasm INTERFACE
  "SHELL:-sBINARYEN_EXTRA_PASSES=--pass-arg=asyncify-asserts@")

# The runtime's own JS, in every program and module: what lets the fiber
# switch set the stack-overflow check's limits from wasm (fiber_lib.js); the
# stack-overflow report naming the goroutine (overflow_lib.js).
set(GORT_WASM_JS_DIR ${CMAKE_CURRENT_LIST_DIR}/src/prim/wasm)
target_link_options(gort_wasm INTERFACE
  # SHELL: keeps each flag with its file (CMake drops repeated flags).
  "SHELL:--js-library ${GORT_WASM_JS_DIR}/fiber_lib.js"
  "SHELL:--js-library ${GORT_WASM_JS_DIR}/overflow_lib.js")
set_property(TARGET gort_wasm APPEND PROPERTY INTERFACE_LINK_DEPENDS
  ${GORT_WASM_JS_DIR}/fiber_lib.js
  ${GORT_WASM_JS_DIR}/overflow_lib.js)

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
  # This file's folder, wherever the function is called from.
  set(js_dir ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/src/prim/wasm)
  get_property(asyncify_remove GLOBAL PROPERTY GORT_ASYNCIFY_REMOVE)
  set_target_properties(${target} PROPERTIES SUFFIX ".js")
  target_link_options(${target} PRIVATE
    "SHELL:-sASYNCIFY_REMOVE=[${asyncify_remove},'close_file','__stdio_exit']"
    -sPROXY_TO_PTHREAD=1
    -sEXIT_RUNTIME=1
    -sPTHREAD_POOL_SIZE=${GORT_PTHREAD_POOL}
    -sENVIRONMENT=node,worker
    # Node 18+ has fetch(), which Emscripten 3.1.6 then uses for the .wasm
    # path and fails; node_pre.js hands the bytes over from the file system.
    "SHELL:--pre-js ${js_dir}/node_pre.js"
    "SHELL:--js-library ${js_dir}/exit_lib.js")
  set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS
    ${js_dir}/node_pre.js ${js_dir}/exit_lib.js)
endfunction()

# gort_wasm_module(name SOURCES file... [OUTPUT_NAME stem])
#
# Links C files of goroutines (exported to JS with GORT_EXPORT_GO, see
# gort/js.h) with gort and its JS bridge into a module that the npm package
# loads: start({ module }) with the URL of one of its two glue files. Both
# come from the same objects and share one .wasm:
#   <binary dir>/<stem>/node/<stem>.js    CommonJS glue, for Node
#   <binary dir>/<stem>/web/<stem>.mjs    ES module glue, for browsers
# each beside its pthread worker file and the .wasm. <name> is an OBJECT
# library of the sources: give it include folders, definitions and libraries
# as to any target; <name>_node and <name>_web are the two links.
function(gort_wasm_module name)
  cmake_parse_arguments(PARSE_ARGV 1 arg "" "OUTPUT_NAME" "SOURCES")
  if(NOT arg_SOURCES)
    message(FATAL_ERROR "gort_wasm_module(${name}): no SOURCES")
  endif()
  if(NOT arg_OUTPUT_NAME)
    set(arg_OUTPUT_NAME ${name})
  endif()
  set(js_dir ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/src/js)
  set(out_dir ${CMAKE_CURRENT_BINARY_DIR}/${arg_OUTPUT_NAME})
  get_property(asyncify_remove GLOBAL PROPERTY GORT_ASYNCIFY_REMOVE)

  add_library(${name} OBJECT ${arg_SOURCES})
  target_link_libraries(${name} PUBLIC gort)

  foreach(flavour node web)
    set(target ${name}_${flavour})
    add_executable(${target})
    # Linking an OBJECT library directly links its objects: every exported
    # goroutine's registration and every bridge export stays in the module.
    target_link_libraries(${target} PRIVATE ${name} gort_js_bridge gort)
    set_target_properties(${target} PROPERTIES
      OUTPUT_NAME ${arg_OUTPUT_NAME}
      RUNTIME_OUTPUT_DIRECTORY ${out_dir}/${flavour})
    target_link_options(${target} PRIVATE
      "SHELL:-sASYNCIFY_REMOVE=[${asyncify_remove}]"
      --no-entry
      -sMODULARIZE=1
      -sEXPORT_NAME=createGortModule
      -sEXIT_RUNTIME=0
      # The pool: JS sets Module.gortPoolSize before the module loads (a
      # runtime needs a worker per processor, one for gort_main and one
      # for the collector).
      "SHELL:-sPTHREAD_POOL_SIZE=Module.gortPoolSize"
      -sNODEJS_CATCH_EXIT=0
      -sNODEJS_CATCH_REJECTION=0
      "SHELL:-sEXPORTED_FUNCTIONS=['_malloc','_free']"
      # The functions' names (a name section, 5% of the .wasm): a trap's
      # stack then names where the module was (FatalError's cause).
      --profiling-funcs
      "SHELL:--pre-js ${js_dir}/pre.js"
      "SHELL:--js-library ${js_dir}/lib.js")
    set_property(TARGET ${target} APPEND PROPERTY LINK_DEPENDS ${js_dir}/pre.js ${js_dir}/lib.js)
  endforeach()

  set_target_properties(${name}_web PROPERTIES SUFFIX ".mjs")
  target_link_options(${name}_web PRIVATE -sEXPORT_ES6=1 -sENVIRONMENT=web,worker)
  set_target_properties(${name}_node PROPERTIES SUFFIX ".js")
  target_link_options(${name}_node PRIVATE -sENVIRONMENT=node,worker
    "SHELL:--pre-js ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/src/prim/wasm/node_pre.js")
  set_property(TARGET ${name}_node APPEND PROPERTY LINK_DEPENDS
    ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/src/prim/wasm/node_pre.js)
  # Emscripten's CommonJS glue in a folder of its own, whatever package
  # the build folder lies in ("type": "module" would make Node misread it).
  file(WRITE ${out_dir}/node/package.json "{ \"type\": \"commonjs\" }\n")
endfunction()
