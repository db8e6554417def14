# Every target of ours gets these through chtlink_module()/chtlink_executable().
add_library(chtlink_warnings INTERFACE)
target_compile_options(chtlink_warnings INTERFACE
  -Wall -Wextra -Wshadow -Wpedantic -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Woverloaded-virtual -Wimplicit-fallthrough -Werror
  # g++ 12 reports impossible overlaps inside std::string's own memcpy in optimised builds
  # (GCC bug 105329, fixed in 13); the warning says nothing about our code.
  -Wno-restrict)
