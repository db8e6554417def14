// The one translation unit that compiles Asio, Asio SSL and Beast (their separate-compilation
// mode, set by the chtlink_asio_config target): every other file includes only declarations.
//
// Optimised builds of Boost 1.74's own code trip g++ 12's -Wnull-dereference (a false
// positive in asio's scheduler); it is silenced for this file only.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wnull-dereference"
#include <boost/asio/impl/src.hpp>
#include <boost/asio/ssl/impl/src.hpp>
#include <boost/beast/src.hpp>
#pragma GCC diagnostic pop
