# Sanitizer and fuzzing builds.
#
# GROVE_SANITIZE=address  ASan + UBSan, no recovery: any report fails the test.
# GROVE_SANITIZE=thread   TSan.
# GROVE_BUILD_FUZZ=ON     clang only: everything is built with ASan + UBSan and
#                         libFuzzer's coverage (-fsanitize=fuzzer-no-link);
#                         tests/CMakeLists.txt links the targets of
#                         tests/fuzz with -fsanitize=fuzzer (libFuzzer's main).
set(s_san_flags "")
if(GROVE_SANITIZE STREQUAL "address")
  set(s_san_flags -fsanitize=address,undefined -fno-sanitize-recover=all)
elseif(GROVE_SANITIZE STREQUAL "thread")
  set(s_san_flags -fsanitize=thread)
elseif(NOT GROVE_SANITIZE STREQUAL "")
  message(FATAL_ERROR "GROVE_SANITIZE must be '', 'address' or 'thread', "
                      "not '${GROVE_SANITIZE}'")
endif()

if(GROVE_BUILD_FUZZ)
  if(NOT CMAKE_C_COMPILER_ID MATCHES "Clang")
    message(FATAL_ERROR "GROVE_BUILD_FUZZ needs clang (libFuzzer): "
                        "configure with CC=clang")
  endif()
  if(NOT GROVE_SANITIZE STREQUAL "")
    message(FATAL_ERROR "GROVE_BUILD_FUZZ already builds with ASan + UBSan; "
                        "leave GROVE_SANITIZE empty")
  endif()
  set(s_san_flags -fsanitize=address,undefined -fno-sanitize-recover=all)
  add_compile_options(-fsanitize=fuzzer-no-link)
endif()

if(s_san_flags)
  add_compile_options(${s_san_flags} -fno-omit-frame-pointer)
  add_link_options(${s_san_flags})
endif()

# The flags a program built against an installed sanitized libgrove needs
# too (tests/install builds such programs).
set(GROVE_SANITIZER_FLAGS "${s_san_flags}")
