// RawSocket: a plain blocking TCP connection to 127.0.0.1, for sending exactly the bytes a
// test wants (malformed requests, two requests on one connection) and reading answers.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace chtlink::testing {

class RawSocket {
 public:
  explicit RawSocket(uint16_t port);
  ~RawSocket();
  RawSocket(const RawSocket&) = delete;
  RawSocket& operator=(const RawSocket&) = delete;

  bool connected() const { return fd_ >= 0; }
  bool send(const std::string& bytes);
  // Reads one HTTP response (head + Content-Length body); empty string on timeout or close.
  std::string readResponse(std::chrono::milliseconds deadline = std::chrono::seconds(10));
  // True when the peer closed the connection within `deadline`.
  bool waitClosed(std::chrono::milliseconds deadline = std::chrono::seconds(10));

 private:
  int fd_ = -1;
  std::string buffered_;
};

// Status code of a raw HTTP response ("HTTP/1.1 404 Not Found" -> 404); 0 if none.
int statusOf(const std::string& response);
// Body of a raw HTTP response.
std::string bodyOf(const std::string& response);

}  // namespace chtlink::testing
