# cmake -DNM=<nm> -DLIBS=<lib;lib...> -P instrumented.cmake
# Fails unless every library references the ASan and UBSan runtimes and
# libFuzzer's coverage hooks.
set(bad 0)
foreach(lib ${LIBS})
  execute_process(COMMAND ${NM} -u ${lib} OUTPUT_VARIABLE syms
    RESULT_VARIABLE rc ERROR_QUIET)
  if(NOT rc EQUAL 0)
    message(SEND_ERROR "${lib}: ${NM} failed")
    set(bad 1)
    continue()
  endif()
  foreach(want __asan_report_ __ubsan_handle_ __sanitizer_cov_)
    string(FIND "${syms}" "${want}" at)
    if(at EQUAL -1)
      message(SEND_ERROR "${lib}: no ${want}* reference: not instrumented")
      set(bad 1)
    endif()
  endforeach()
endforeach()
if(NOT bad)
  list(LENGTH LIBS n)
  message(STATUS "${n} libraries call ASan, UBSan and libFuzzer coverage")
endif()
