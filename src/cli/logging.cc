#include "cli/logging.h"

#include <spdlog/async.h>
#include <spdlog/async_logger.h>
#include <spdlog/sinks/stdout_color_sinks.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

namespace chtlink::cli {
namespace {

// One JSON object per line: {"time", "level", "logger", "message"}. spdlog's pattern
// formatter cannot escape the message, so this small formatter does it with nlohmann.
class JsonLineFormatter final : public spdlog::formatter {
 public:
  void format(const spdlog::details::log_msg& msg, spdlog::memory_buf_t& dest) override {
    auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(msg.time.time_since_epoch());
    std::time_t secs = static_cast<std::time_t>(ms.count() / 1000);
    std::tm tm{};
    gmtime_r(&secs, &tm);
    char stamp[32];
    std::strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    nlohmann::json line = {
        {"time", fmt::format("{}.{:03d}Z", stamp, static_cast<int>(ms.count() % 1000))},
        {"level", std::string(spdlog::level::to_string_view(msg.level).data(),
                              spdlog::level::to_string_view(msg.level).size())},
        {"logger", std::string(msg.logger_name.data(), msg.logger_name.size())},
        {"message", std::string(msg.payload.data(), msg.payload.size())}};
    std::string text = line.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    dest.append(text.data(), text.data() + text.size());
    dest.push_back('\n');
  }
  std::unique_ptr<spdlog::formatter> clone() const override {
    return std::make_unique<JsonLineFormatter>();
  }
};

}  // namespace

Loggers::~Loggers() {
  if (access) access->flush();
  if (main) main->flush();
}

Loggers makeLoggers(const config::LogOptions& options) {
  auto sink = std::make_shared<spdlog::sinks::stderr_color_sink_mt>();
  if (options.format == "json") {
    sink->set_formatter(std::make_unique<JsonLineFormatter>());
  } else {
    sink->set_pattern("%Y-%m-%d %H:%M:%S.%e %^%-5l%$ [%n] %v");
  }
  Loggers loggers;
  loggers.main = std::make_shared<spdlog::logger>("chtlink", sink);
  loggers.main->set_level(spdlog::level::from_str(options.level));
  loggers.main->flush_on(spdlog::level::info);

  loggers.pool = std::make_shared<spdlog::details::thread_pool>(8192, 1);
  loggers.access = std::make_shared<spdlog::async_logger>("access", sink, loggers.pool,
                                                          spdlog::async_overflow_policy::block);
  loggers.access->set_level(options.access_log ? spdlog::level::info : spdlog::level::off);
  return loggers;
}

}  // namespace chtlink::cli
