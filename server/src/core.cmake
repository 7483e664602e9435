# kithd_core: the whole server except main() (tests link it to call the
# services directly), and the kithd executable. Included from server/CMakeLists.txt.
set(KITHD_SRC ${CMAKE_CURRENT_SOURCE_DIR}/src)
add_library(kithd_core STATIC
  ${KITHD_SRC}/logging.h ${KITHD_SRC}/logging.cpp
  ${KITHD_SRC}/config.h ${KITHD_SRC}/config.cpp
  ${KITHD_SRC}/credentials.h ${KITHD_SRC}/credentials.cpp
  ${KITHD_SRC}/password_hasher.h ${KITHD_SRC}/password_hasher.cpp
  ${KITHD_SRC}/rate_limit.h ${KITHD_SRC}/rate_limit.cpp
  ${KITHD_SRC}/metrics.h ${KITHD_SRC}/metrics.cpp
  ${KITHD_SRC}/caller.h
  ${KITHD_SRC}/conversation_access.h ${KITHD_SRC}/conversation_access.cpp
  ${KITHD_SRC}/session_registry.h ${KITHD_SRC}/session_registry.cpp
  ${KITHD_SRC}/presence_service.h ${KITHD_SRC}/presence_service.cpp
  ${KITHD_SRC}/auth_service.h ${KITHD_SRC}/auth_service.cpp
  ${KITHD_SRC}/message_service.h ${KITHD_SRC}/message_service.cpp
  ${KITHD_SRC}/group_service.h ${KITHD_SRC}/group_service.cpp
  ${KITHD_SRC}/user_service.h ${KITHD_SRC}/user_service.cpp
  ${KITHD_SRC}/bulk_lane.h ${KITHD_SRC}/bulk_lane.cpp
  ${KITHD_SRC}/wire_socket.h ${KITHD_SRC}/wire_socket.cpp
  ${KITHD_SRC}/ws_socket.h ${KITHD_SRC}/ws_socket.cpp
  ${KITHD_SRC}/ws_listener.h ${KITHD_SRC}/ws_listener.cpp
  ${KITHD_SRC}/session.h ${KITHD_SRC}/session.cpp
  ${KITHD_SRC}/gateway.h ${KITHD_SRC}/gateway.cpp
  ${KITHD_SRC}/admin_http.h ${KITHD_SRC}/admin_http.cpp
  ${KITHD_SRC}/admin_cli.h ${KITHD_SRC}/admin_cli.cpp
  ${KITHD_SRC}/epoll_dispatcher.h ${KITHD_SRC}/epoll_dispatcher.cpp
  ${KITHD_SRC}/signal_watcher.h ${KITHD_SRC}/signal_watcher.cpp
  ${KITHD_SRC}/server.h ${KITHD_SRC}/server.cpp
)
target_include_directories(kithd_core PUBLIC ${KITHD_SRC})
target_link_libraries(kithd_core
  PUBLIC kithd_store kith_shared Qt6::Core Qt6::Network Qt6::WebSockets Qt6::Sql Qt6::HttpServer
         PkgConfig::SODIUM
  PRIVATE kith_warnings)

add_executable(kithd ${KITHD_SRC}/main.cpp)
target_compile_definitions(kithd PRIVATE KITH_VERSION="${PROJECT_VERSION}")
target_link_libraries(kithd PRIVATE kithd_core kith_warnings)
# Only the server binary: malloc/free were about a tenth of kithd's profile
# under load, much of it glibc's consolidation of freed chunks.
if(KITH_WITH_JEMALLOC)
  pkg_check_modules(JEMALLOC IMPORTED_TARGET jemalloc)
  if(NOT JEMALLOC_FOUND)
    message(FATAL_ERROR "jemalloc not found: install libjemalloc-dev (tools/deps.sh does), "
                        "or configure with -DKITH_WITH_JEMALLOC=OFF to use the C library's malloc")
  endif()
  target_link_libraries(kithd PRIVATE PkgConfig::JEMALLOC)
endif()
