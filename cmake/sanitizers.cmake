option(CHTLINK_SANITIZE "Build with AddressSanitizer and UndefinedBehaviorSanitizer" OFF)
if(CHTLINK_SANITIZE)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all
    # The sanitizers' instrumentation makes g++ 12 report uninitialised reads inside
    # libstdc++ (std::function in std::regex) that do not exist; the GCC manual warns of it.
    # The release and debug builds keep the warning.
    -Wno-maybe-uninitialized)
  add_link_options(-fsanitize=address,undefined)
endif()
