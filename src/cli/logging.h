// Loggers for one process: made here, in main's thread, and passed down; library code never
// uses spdlog's default logger.
#pragma once

#include <memory>

#include "config/config.h"

namespace spdlog {
class logger;
namespace details {
class thread_pool;
}
}  // namespace spdlog

namespace chtlink::cli {

struct Loggers {
  std::shared_ptr<spdlog::logger> main;
  // Per-request lines; asynchronous so writing them never holds up an I/O thread.
  std::shared_ptr<spdlog::logger> access;
  std::shared_ptr<spdlog::details::thread_pool> pool;  // the access logger's writer thread

  ~Loggers();
};

// Text on a terminal (coloured) or JSON lines, on stderr.
Loggers makeLoggers(const config::LogOptions& options);

}  // namespace chtlink::cli
