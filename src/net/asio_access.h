// Private to src/net: reaches the io_context behind an EventLoop, so the public header stays
// free of Asio.
#pragma once

#include <boost/asio/io_context.hpp>

#include "net/event_loop.h"

namespace chtlink::net {

inline boost::asio::io_context& ioContext(EventLoop& loop) {
  return *static_cast<boost::asio::io_context*>(loop.nativeContext());
}

}  // namespace chtlink::net
