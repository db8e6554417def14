# Every target of ours gets these through chtlink_module()/chtlink_executable().
add_library(chtlink_warnings INTERFACE)
target_compile_options(chtlink_warnings INTERFACE
  -Wall -Wextra -Wshadow -Wpedantic -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Woverloaded-virtual -Wnull-dereference -Wimplicit-fallthrough -Werror)
