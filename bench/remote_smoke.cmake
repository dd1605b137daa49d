# remote_smoke.cmake - the bench_remote_smoke test (bench/CMakeLists.txt):
# runs `remote --smoke` (two nodes as two processes, a thousand trips and
# messages, one peer killed and one frozen) and checks that it succeeds
# and prints exactly the seven remote figures, in order, each a
# well-formed `<name> <value> <unit>` line with a positive value. It
# asserts nothing about speed.
#
#   cmake -DPROGRAM=path/to/remote -P remote_smoke.cmake
if(NOT PROGRAM)
  message(FATAL_ERROR "remote_smoke: PROGRAM is not set")
endif()
execute_process(COMMAND ${PROGRAM} --smoke
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err TIMEOUT 280)
message("${err}")
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "remote_smoke: `remote --smoke` failed (${rc}); stdout:\n${out}")
endif()

set(expected remote_pingpong remote_rtt_p50 remote_rtt_p99 remote_throughput
    remote_batch_mean nodedown_kill_ms nodedown_silent_ms)
string(REGEX REPLACE "\n$" "" out "${out}")
string(REPLACE "\n" ";" lines "${out}")
set(names "")
foreach(line IN LISTS lines)
  if(NOT line MATCHES "^([a-z0-9_]+) ([-+0-9.eE]+) ([A-Za-z/]+)$")
    message(FATAL_ERROR "remote_smoke: malformed line on stdout: '${line}'")
  endif()
  if(NOT CMAKE_MATCH_2 GREATER 0)
    message(FATAL_ERROR "remote_smoke: not a positive figure: '${line}'")
  endif()
  list(APPEND names ${CMAKE_MATCH_1})
endforeach()
if(NOT names STREQUAL expected)
  message(FATAL_ERROR "remote_smoke: figures '${names}', expected '${expected}'")
endif()
message("remote_smoke: ${out}")
