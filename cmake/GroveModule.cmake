# Helpers for the modules' CMakeLists.txt files.
#
# grove_module(NAME <name> SOURCES ... [DEPS <module> ...] [LIBS <lib> ...])
#
#   One module, one folder, one OBJECT library named gv_<name>. DEPS names
#   the modules this one may include and link; a DEP that cmake/arrows does
#   not allow is a configure error (tools/check-includes holds every
#   #include line to the same list). LIBS are outside libraries: `m`,
#   Threads::Threads, or a PkgConfig::<VAR> target made by grove_pkg().
#   libgrove (lib/) is assembled from every module's objects and links
#   every module's LIBS.
#
# grove_pkg(<VAR> <pkg-config module>)
#
#   Finds an outside library with pkg-config and makes PkgConfig::<VAR>.
#   Use this (not pkg_check_modules directly) for anything a module links,
#   so grove.pc and groveConfig.cmake can name it for static users.
#
# grove_test(<name> SOURCES ... [TIMEOUT seconds] [LABELS ...] [ARGS ...])
#
#   A cmocka executable linked with the internal library, run by ctest. A
#   test that calls cmocka's skip() counts as skipped, which
#   tools/run-tests treats as a failure.

file(STRINGS ${CMAKE_CURRENT_LIST_DIR}/arrows s_arrow_lines REGEX "^[a-z_]+:")
foreach(line IN LISTS s_arrow_lines)
  string(REGEX MATCH "^([a-z_]+):(.*)$" _ "${line}")
  set(name ${CMAKE_MATCH_1})
  string(STRIP "${CMAKE_MATCH_2}" deps)
  string(REGEX REPLACE "[ \t]+" ";" deps "${deps}")
  set_property(GLOBAL PROPERTY GROVE_ARROWS_${name} "${deps}")
  set_property(GLOBAL APPEND PROPERTY GROVE_KNOWN_MODULES ${name})
endforeach()

function(grove_module)
  cmake_parse_arguments(M "" "NAME" "SOURCES;DEPS;LIBS" ${ARGN})
  get_property(known GLOBAL PROPERTY GROVE_KNOWN_MODULES)
  if(NOT M_NAME IN_LIST known)
    message(FATAL_ERROR "grove_module(${M_NAME}): not a module of cmake/arrows "
                        "(docs/build.md)")
  endif()
  get_property(allowed GLOBAL PROPERTY GROVE_ARROWS_${M_NAME})
  foreach(dep IN LISTS M_DEPS)
    if(NOT dep IN_LIST allowed)
      message(FATAL_ERROR "grove_module(${M_NAME}): may not depend on '${dep}' "
                          "(cmake/arrows allows: ${allowed})")
    endif()
  endforeach()

  add_library(gv_${M_NAME} OBJECT ${M_SOURCES})
  target_include_directories(gv_${M_NAME} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}/include>
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}>)
  target_compile_definitions(gv_${M_NAME} PRIVATE GROVE_BUILDING_LIBRARY)
  foreach(dep IN LISTS M_DEPS)
    target_link_libraries(gv_${M_NAME} PUBLIC gv_${dep})
  endforeach()
  target_link_libraries(gv_${M_NAME} PUBLIC ${M_LIBS})
  set_property(GLOBAL APPEND PROPERTY GROVE_MODULES gv_${M_NAME})
  set_property(GLOBAL APPEND PROPERTY GROVE_MODULE_LIBS ${M_LIBS})
endfunction()

function(grove_pkg var module)
  find_package(PkgConfig REQUIRED)
  pkg_check_modules(${var} REQUIRED IMPORTED_TARGET GLOBAL ${module})
  set_property(GLOBAL PROPERTY GROVE_PKG_PkgConfig::${var} ${module})
  set_property(GLOBAL APPEND PROPERTY GROVE_PKGS "${var}=${module}")
endfunction()

function(grove_test name)
  cmake_parse_arguments(T "" "TIMEOUT" "SOURCES;LABELS;ARGS" ${ARGN})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 120)
  endif()
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE grove_internal PkgConfig::CMOCKA)
  add_test(NAME ${name} COMMAND ${name} ${T_ARGS})
  set_tests_properties(${name} PROPERTIES TIMEOUT ${T_TIMEOUT}
    LABELS "${T_LABELS}" ENVIRONMENT "CMOCKA_MESSAGE_OUTPUT=stdout"
    SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]")
endfunction()
