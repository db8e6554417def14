# chtlink_module(NAME SOURCES ... DEPENDS ...)
# One static library per module under src/, named chtlink_<NAME>. Include paths start at src/
# ("net/server.h"). DEPENDS lists the modules and libraries it may use; tools/check_includes.sh
# rejects includes of modules not listed.
function(chtlink_module name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPENDS;PRIVATE_DEPENDS" ${ARGN})
  add_library(chtlink_${name} STATIC ${M_SOURCES})
  target_include_directories(chtlink_${name} PUBLIC ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(chtlink_${name} PUBLIC ${M_DEPENDS} PRIVATE chtlink_warnings ${M_PRIVATE_DEPENDS})
  set_property(GLOBAL APPEND PROPERTY CHTLINK_MODULES ${name})
endfunction()

function(chtlink_executable name)
  cmake_parse_arguments(M "" "" "SOURCES;DEPENDS" ${ARGN})
  add_executable(${name} ${M_SOURCES})
  target_link_libraries(${name} PRIVATE chtlink_warnings ${M_DEPENDS})
endfunction()
