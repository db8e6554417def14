#include "raw_socket.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstring>

namespace chtlink::testing {
namespace {

// Waits until `fd` is readable or the deadline passes.
bool readable(int fd, std::chrono::steady_clock::time_point end) {
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(end - std::chrono::steady_clock::now());
  if (left.count() <= 0) return false;
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, static_cast<int>(left.count())) > 0;
}

}  // namespace

RawSocket::RawSocket(uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

RawSocket::~RawSocket() {
  if (fd_ >= 0) ::close(fd_);
}

bool RawSocket::send(const std::string& bytes) {
  size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd_, bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) return false;
    sent += static_cast<size_t>(n);
  }
  return true;
}

std::string RawSocket::readResponse(std::chrono::milliseconds deadline) {
  auto end = std::chrono::steady_clock::now() + deadline;
  char buf[65536];
  while (true) {
    auto head_end = buffered_.find("\r\n\r\n");
    if (head_end != std::string::npos) {
      size_t length = 0;
      std::string head = buffered_.substr(0, head_end);
      std::string lower;
      for (char c : head) lower += static_cast<char>(std::tolower(c));
      auto cl = lower.find("content-length:");
      if (cl != std::string::npos) length = std::stoul(head.substr(cl + 15));
      size_t total = head_end + 4 + length;
      if (buffered_.size() >= total) {
        std::string response = buffered_.substr(0, total);
        buffered_.erase(0, total);
        return response;
      }
    }
    if (!readable(fd_, end)) return "";
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return "";
    buffered_.append(buf, static_cast<size_t>(n));
  }
}

bool RawSocket::waitClosed(std::chrono::milliseconds deadline) {
  auto end = std::chrono::steady_clock::now() + deadline;
  char buf[4096];
  while (readable(fd_, end)) {
    ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) return true;
  }
  return false;
}

int statusOf(const std::string& response) {
  if (response.rfind("HTTP/1.", 0) != 0 || response.size() < 12) return 0;
  return std::atoi(response.c_str() + 9);
}

std::string bodyOf(const std::string& response) {
  auto p = response.find("\r\n\r\n");
  return p == std::string::npos ? "" : response.substr(p + 4);
}

}  // namespace chtlink::testing
