# All dependencies come from Debian 12 packages (scripts/setup.sh installs them).
find_package(Threads REQUIRED)
find_package(Boost 1.74 REQUIRED)
find_package(OpenSSL REQUIRED)
find_package(nlohmann_json 3.11 REQUIRED)
find_package(fmt REQUIRED)
find_package(spdlog REQUIRED)
find_package(CLI11 REQUIRED)
find_package(tomlplusplus REQUIRED)
find_package(prometheus-cpp CONFIG REQUIRED)
find_package(PkgConfig REQUIRED)
pkg_check_modules(SQLITE3 REQUIRED IMPORTED_TARGET sqlite3)
pkg_check_modules(LIBPQ REQUIRED IMPORTED_TARGET libpq)

# Asio and Beast are compiled once, in src/net/asio_src.cc, instead of in every file that
# includes them (their separate-compilation mode). Every target that includes Asio links this.
add_library(chtlink_asio_config INTERFACE)
target_compile_definitions(chtlink_asio_config INTERFACE
  BOOST_ASIO_SEPARATE_COMPILATION BOOST_BEAST_SEPARATE_COMPILATION
  BOOST_ASIO_NO_DEPRECATED BOOST_BEAST_USE_STD_STRING_VIEW)
target_link_libraries(chtlink_asio_config INTERFACE Boost::headers OpenSSL::SSL OpenSSL::Crypto Threads::Threads)

if(CHTLINK_TESTS)
  find_package(GTest REQUIRED)
endif()
