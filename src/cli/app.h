// The command line: parses arguments with CLI11 and runs one subcommand.
#pragma once

namespace chtlink::cli {

// Exit codes: 0 success, 1 a failure while running (database, port in use, ...),
// 2 a usage or configuration error.
inline constexpr int kExitOk = 0;
inline constexpr int kExitFailure = 1;
inline constexpr int kExitUsage = 2;

int run(int argc, char** argv);

}  // namespace chtlink::cli
