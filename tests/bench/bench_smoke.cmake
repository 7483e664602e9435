# Runs each kith-bench scenario at a tiny size and checks what its JSON line
# counts: nothing lost, duplicated or reordered, every client connected and
# caught up. Timings are printed by kith-bench and never checked here.
#
# Inputs: KITH_BENCH, KITHD, WORK_DIR.

cmake_minimum_required(VERSION 3.25)

# One data folder for the whole test, so each user is registered (Argon2) once.
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}/data")

# Per scenario: its arguments, then the JSON fields that must be zero and the
# fields that must equal a given count.
function(run_scenario name)
  cmake_parse_arguments(ARG "" "" "ARGS;ZERO;EQUAL" ${ARGN})
  execute_process(
    COMMAND "${KITH_BENCH}" ${name} --kithd "${KITHD}" --data "${WORK_DIR}/data"
            --deadline 60 ${ARG_ARGS}
    OUTPUT_VARIABLE out
    ERROR_VARIABLE err
    RESULT_VARIABLE rc
    TIMEOUT 80)
  message(STATUS "${name}:\n${out}${err}")
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "kith-bench ${name} failed (${rc})")
  endif()
  string(REGEX MATCH "{\"scenario\":\"${name}\"[^\n]*}" json "${out}")
  if(json STREQUAL "")
    message(FATAL_ERROR "kith-bench ${name} printed no JSON line")
  endif()
  foreach(field ${ARG_ZERO})
    string(JSON value ERROR_VARIABLE jsonError GET "${json}" ${field})
    if(jsonError OR NOT value EQUAL 0)
      message(FATAL_ERROR "${name}: ${field} is '${value}' (${jsonError}), expected 0")
    endif()
  endforeach()
  foreach(pair ${ARG_EQUAL})
    string(REPLACE "=" ";" parts "${pair}")
    list(GET parts 0 field)
    list(GET parts 1 expected)
    string(JSON value ERROR_VARIABLE jsonError GET "${json}" ${field})
    if(jsonError OR NOT value EQUAL expected)
      message(FATAL_ERROR "${name}: ${field} is '${value}' (${jsonError}), expected ${expected}")
    endif()
  endforeach()
endfunction()

run_scenario(connect ARGS --users 20 --workers 2
  ZERO failed EQUAL connected=20)
run_scenario(direct ARGS --pairs 4 --seconds 1 --window 8 --with-relay --idle 10 --users 20
  ZERO lost duplicates reordered errors relay_lost EQUAL idle_connections=10)
# The same two over wss://: kithd serves TLS with its own certificate (made
# in the data folder on first start) and the bench's clients speak it.
run_scenario(connect ARGS --users 20 --workers 2 --tls
  ZERO failed EQUAL connected=20 tls=1)
run_scenario(direct ARGS --pairs 4 --seconds 1 --window 8 --idle 10 --users 20 --tls
  ZERO lost duplicates reordered errors EQUAL idle_connections=10 tls=1)
# Scenarios without TLS support refuse --tls rather than measure plain ws://.
execute_process(
  COMMAND "${KITH_BENCH}" latency --kithd "${KITHD}" --data "${WORK_DIR}/data" --tls
  OUTPUT_VARIABLE out ERROR_VARIABLE err RESULT_VARIABLE rc TIMEOUT 20)
if(NOT rc EQUAL 2 OR NOT err MATCHES "--tls is for connect, direct and hostile only")
  message(FATAL_ERROR "latency --tls: expected a refusal (exit 2), got ${rc}: ${out}${err}")
endif()
run_scenario(relay ARGS --pairs 4 --seconds 1
  ZERO lost duplicates reordered errors)
run_scenario(latency ARGS --pairs 4 --seconds 1 --rate 200
  ZERO lost duplicates reordered errors)
# kithd held to one CPU, as on a one-core box.
run_scenario(latency ARGS --pairs 4 --seconds 1 --rate 200 --kithd-cpus 0
  ZERO lost duplicates reordered errors)
# ... and on a slow disk: every fsync kithd makes costs 2 ms more (kith-bench
# refuses to run when the library that adds it is not in kithd's memory).
run_scenario(latency ARGS --pairs 4 --seconds 1 --rate 200 --kithd-cpus 0 --kithd-fsync-ms 2
  ZERO lost duplicates reordered errors EQUAL kithd_fsync_extra_us=2000)
# Seeds the 500-message history group (plus its creation event, seq 501),
# then measures in two rounds: quiet, with two pullers paging it, quiet, with
# them, quiet; every page asked for is answered before the next quiet run.
run_scenario(latency ARGS --pairs 4 --seconds 1 --rate 200 --pullers 2 --pull-depth 500 --pull-deflate
  --pull-rounds 2
  ZERO lost_without lost_with duplicates_without duplicates_with reordered_without
       reordered_with errors_without errors_with pull_gaps pull_errors pull_unanswered
  EQUAL history_messages=501 history_reused=0 rounds=2 sent_without=600 sent_with=400)
# The control: the same rounds with the pullers connected but idle, so no
# page is asked for and both sides are quiet runs.
run_scenario(latency ARGS --pairs 4 --seconds 1 --rate 200 --pullers 2 --pull-depth 500
  --pull-rounds 2 --pull-control
  ZERO lost_without lost_with duplicates_without duplicates_with reordered_without
       reordered_with errors_without errors_with pull_pages pull_errors pull_unanswered
  EQUAL pull_control=1 history_reused=1 rounds=2 sent_without=600 sent_with=400)
# Reuses that history; both passes (without and, when kithd grants it, with
# deflate) must bring the same 501 messages in three pages.
run_scenario(history ARGS --pull-depth 500
  ZERO mismatches gaps
  EQUAL history_reused=1 history_messages=501 messages=501 plain_messages=501 pages=3)
run_scenario(fanout ARGS --members 12 --messages 3 --workers 2
  ZERO missing duplicates errors EQUAL deliveries=33)
run_scenario(reactions ARGS --members 12 --workers 2
  ZERO missing duplicates errors EQUAL acks=12)
run_scenario(storm ARGS --clients 10 --missed 5 --workers 2
  ZERO gaps duplicates errors EQUAL caught_up=10 received=50)
# A few hostile connections (a quarter each: pulls never read, pings never
# read, a partial frame before auth, typing never read) beside two chatting
# bystanders: no bystander message is lost. Memory and latency are printed
# for people; they are measured at size on a quiet machine (docs/performance.md).
run_scenario(hostile ARGS --clients 8 --seconds 2
  ZERO bystander_lost bystander_errors EQUAL hostile_connections=8)
# The same over wss://: every hostile connection gets through the TLS
# handshake and the upgrade before it does its worst.
run_scenario(hostile ARGS --clients 8 --seconds 2 --tls
  ZERO bystander_lost bystander_errors EQUAL hostile_connections=8 upgraded=8 tls=1)
# files, tiny: an 8 MiB file up and down through kithd beside a plain
# loopback copy, five clients uploading an image each at once (every one
# fetched back and checked against its SHA-256), then the chat quiet, with the
# file going up and down over and over, and quiet again: no image and no
# message lost. Throughput, memory and latency are printed, never checked.
run_scenario(files ARGS --file-mib 8 --clients 5 --seconds 2 --pairs 4 --rate 200
  ZERO images_failed lost_without lost_with duplicates_without duplicates_with
       reordered_without reordered_with errors_without errors_with load_errors lost_after
       duplicates_after reordered_after errors_after
  EQUAL upload_status=201 download_status=200 download_whole=1 images=5 images_ok=5)
