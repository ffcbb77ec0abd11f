# SPDX-License-Identifier: Apache-2.0
# veil_add_test(NAME <name> SOURCES <files...> [LIBS <libs...>] [LABELS fast|slow|...]
#               [TIMEOUT <seconds>] [ARGS <args...>])
# Builds one test program and registers it with ctest. Label "fast" marks tests
# that the ASan+UBSan build runs (make test-asan); everything runs in make test.
function(veil_add_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "SOURCES;LIBS;LABELS;ARGS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  target_include_directories(${T_NAME} PRIVATE ${PROJECT_SOURCE_DIR}/tests)
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} veil_base)
  add_test(NAME ${T_NAME} COMMAND ${T_NAME} ${T_ARGS})
  if(NOT T_LABELS)
    set(T_LABELS fast)
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "VEIL_SOURCE_DIR=${PROJECT_SOURCE_DIR};VEIL_BUILD_DIR=${PROJECT_BINARY_DIR}")
endfunction()

# veil_add_script_test(NAME <name> COMMAND <cmd...> [LABELS ...] [TIMEOUT s])
# Registers a shell-driven test (integration, interop) run from the source dir.
function(veil_add_script_test)
  cmake_parse_arguments(T "" "NAME;TIMEOUT" "COMMAND;LABELS" ${ARGN})
  add_test(NAME ${T_NAME} COMMAND ${T_COMMAND} WORKING_DIRECTORY ${PROJECT_SOURCE_DIR})
  if(NOT T_LABELS)
    set(T_LABELS slow)
  endif()
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 600)
  endif()
  set_tests_properties(${T_NAME} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "VEIL_SOURCE_DIR=${PROJECT_SOURCE_DIR};VEIL_BUILD_DIR=${PROJECT_BINARY_DIR};VEIL_BIN=${PROJECT_BINARY_DIR}/src/cmd/veil;VEILD_BIN=${PROJECT_BINARY_DIR}/src/cmd/veild")
endfunction()

# veil_add_fuzzer(NAME <name> SOURCES <files...> [LIBS <libs...>])
# A libFuzzer target (only in the VEIL_FUZZ=ON clang build). Seeds live in
# fuzz/corpus/<name>/.
function(veil_add_fuzzer)
  cmake_parse_arguments(F "" "NAME" "SOURCES;LIBS" ${ARGN})
  add_executable(${F_NAME} ${F_SOURCES})
  target_link_libraries(${F_NAME} PRIVATE ${F_LIBS} veil_base)
  target_link_options(${F_NAME} PRIVATE -fsanitize=fuzzer)
endfunction()
