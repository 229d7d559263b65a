# brine_add_model(NAME MODEL model.cpp [FUNCTION fn] [SCHEDULE tuned] [DTYPE f32] [TARGET host]
#                 [FROZEN_PARAMS]
#                 [TRAINING LOSS loss [FROM_LOGITS] [OPTIMIZER sgd|adam] [LEARNING_RATE lr]
#                  [MOMENTUM m] [NESTEROV]])
#
# FROZEN_PARAMS compiles NAME::Model for inference with fixed weights: its
# Dense kernels are packed into panels once, on the first call
# (CompileOptions::frozen_params).
#
# With TRAINING, the library also holds NAME::TrainStep (forward, loss,
# backward and the optimizer update of every weight, as compiled kernels)
# and NAME::Gradients (the loss and d loss / d parameter).
#
# Builds a generator from the model file, which defines `brine::Model
# brine_model()` or, with FUNCTION, `brine::Model fn()` (so that one file can
# hold several models), runs
# it at build time, and creates the static library target NAME from what it
# emits: NAME.h (the typed entry point), NAME.cpp (the execution plan),
# NAME_kernels.o and NAME_runtime.o. Linking NAME needs brine_runtime only:
# neither libHalide nor LLVM.
function(brine_add_model NAME)
  cmake_parse_arguments(ARG "TRAINING;FROM_LOGITS;NESTEROV;FROZEN_PARAMS"
                        "MODEL;FUNCTION;SCHEDULE;DTYPE;TARGET;LOSS;OPTIMIZER;LEARNING_RATE;MOMENTUM" "" ${ARGN})
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
  set(training_args)
  if (ARG_TRAINING)
    if (NOT ARG_LOSS)
      message(FATAL_ERROR "brine_add_model(${NAME}): TRAINING needs LOSS")
    endif ()
    list(APPEND training_args --train-loss ${ARG_LOSS})
    if (ARG_FROM_LOGITS)
      list(APPEND training_args --from-logits)
    endif ()
    if (ARG_OPTIMIZER)
      list(APPEND training_args --optimizer ${ARG_OPTIMIZER})
    endif ()
    if (ARG_LEARNING_RATE)
      list(APPEND training_args --learning-rate ${ARG_LEARNING_RATE})
    endif ()
    if (ARG_MOMENTUM)
      list(APPEND training_args --momentum ${ARG_MOMENTUM})
    endif ()
    if (ARG_NESTEROV)
      list(APPEND training_args --nesterov)
    endif ()
  endif ()
  if (ARG_FROZEN_PARAMS)
    list(APPEND training_args --frozen-params)
  endif ()
  set(out "${CMAKE_CURRENT_BINARY_DIR}/${NAME}.brine")
  set(outputs "${out}/${NAME}.h" "${out}/${NAME}.cpp" "${out}/${NAME}_kernels.o" "${out}/${NAME}_runtime.o")
  add_custom_command(
    OUTPUT ${outputs}
    COMMAND ${NAME}_generator --name ${NAME} --out "${out}" --schedule ${ARG_SCHEDULE} --dtype ${ARG_DTYPE}
            --target ${ARG_TARGET} ${training_args}
    DEPENDS ${NAME}_generator
    COMMENT "brine: compiling model ${NAME} (${ARG_SCHEDULE})"
    VERBATIM)
  add_library(${NAME} STATIC "${out}/${NAME}.cpp" "${out}/${NAME}_kernels.o" "${out}/${NAME}_runtime.o")
  target_include_directories(${NAME} PUBLIC "${out}")
  target_link_libraries(${NAME} PUBLIC brine_runtime Threads::Threads ${CMAKE_DL_LIBS})
endfunction()
