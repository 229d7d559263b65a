# brine_add_model(NAME MODEL model.cpp [FUNCTION fn] [SCHEDULE tuned] [DTYPE f32] [TARGET host])
#
# Builds a generator from the model file, which defines `brine::Model
# brine_model()` or, with FUNCTION, `brine::Model fn()` (so that one file can
# hold several models), runs
# it at build time, and creates the static library target NAME from what it
# emits: NAME.h (the typed entry point), NAME.cpp (the execution plan),
# NAME_kernels.o and NAME_runtime.o. Linking NAME needs brine_runtime only:
# neither libHalide nor LLVM.
function(brine_add_model NAME)
  cmake_parse_arguments(ARG "" "MODEL;FUNCTION;SCHEDULE;DTYPE;TARGET" "" ${ARGN})
  if (NOT ARG_MODEL)
    message(FATAL_ERROR "brine_add_model(${NAME}): MODEL is required")
  endif ()
  if (NOT ARG_SCHEDULE)
    set(ARG_SCHEDULE tuned)
  endif ()
  if (NOT ARG_DTYPE)
    set(ARG_DTYPE f32)
  endif ()
  if (NOT ARG_TARGET)
    set(ARG_TARGET host)
  endif ()
  set(sources ${ARG_MODEL})
  if (ARG_FUNCTION)
    set(shim "${CMAKE_CURRENT_BINARY_DIR}/${NAME}_entry.cpp")
    file(GENERATE OUTPUT "${shim}" CONTENT
         "#include \"dsl/model.h\"\nbrine::Model ${ARG_FUNCTION}();\nbrine::Model brine_model() { return ${ARG_FUNCTION}(); }\n")
    list(APPEND sources "${shim}")
  endif ()
  add_executable(${NAME}_generator ${sources})
  target_link_libraries(${NAME}_generator PRIVATE brine_aot_main)
  set(out "${CMAKE_CURRENT_BINARY_DIR}/${NAME}.brine")
  set(outputs "${out}/${NAME}.h" "${out}/${NAME}.cpp" "${out}/${NAME}_kernels.o" "${out}/${NAME}_runtime.o")
  add_custom_command(
    OUTPUT ${outputs}
    COMMAND ${NAME}_generator --name ${NAME} --out "${out}" --schedule ${ARG_SCHEDULE} --dtype ${ARG_DTYPE}
            --target ${ARG_TARGET}
    DEPENDS ${NAME}_generator
    COMMENT "brine: compiling model ${NAME} (${ARG_SCHEDULE})"
    VERBATIM)
  add_library(${NAME} STATIC "${out}/${NAME}.cpp" "${out}/${NAME}_kernels.o" "${out}/${NAME}_runtime.o")
  target_include_directories(${NAME} PUBLIC "${out}")
  target_link_libraries(${NAME} PUBLIC brine_runtime Threads::Threads ${CMAKE_DL_LIBS})
endfunction()
