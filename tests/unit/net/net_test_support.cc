#include "net_test_support.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cstdio>
#include <functional>
#include <stdexcept>

namespace chtlink::net::testing {

using Clock = std::chrono::steady_clock;

// RawConnection --------------------------------------------------------------------------

RawConnection::RawConnection(uint16_t port) {
  fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd_ < 0) return;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd_);
    fd_ = -1;
    return;
  }
  int one = 1;
  ::setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

RawConnection::~RawConnection() { close(); }

void RawConnection::close() {
  if (fd_ >= 0) ::close(fd_);
  fd_ = -1;
}

bool RawConnection::send(std::string_view data) {
  if (fd_ < 0) return false;
  while (!data.empty()) {
    ssize_t n = ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

bool RawConnection::readMore(Clock::time_point until) {
  if (fd_ < 0) return false;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    char chunk[16384];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    buffer_.append(chunk, static_cast<size_t>(n));
    return true;
  }
}

std::optional<RawResponse> RawConnection::readResponse(std::chrono::milliseconds deadline) {
  auto until = Clock::now() + deadline;
  size_t end;
  while ((end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (!readMore(until)) return std::nullopt;
  }
  std::string head = buffer_.substr(0, end);
  buffer_.erase(0, end + 4);
  RawResponse r;
  size_t line_end = head.find("\r\n");
  std::string status_line = head.substr(0, line_end);
  if (status_line.size() < 12) return std::nullopt;
  r.status = std::stoi(status_line.substr(9, 3));
  size_t pos = line_end == std::string::npos ? head.size() : line_end + 2;
  while (pos < head.size()) {
    size_t next = head.find("\r\n", pos);
    if (next == std::string::npos) next = head.size();
    std::string line = head.substr(pos, next - pos);
    size_t colon = line.find(':');
    if (colon != std::string::npos) {
      std::string name = line.substr(0, colon);
      for (auto& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      std::string value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.erase(0, 1);
      r.headers[name] = value;
    }
    pos = next + 2;
  }
  size_t length = 0;
  if (auto cl = r.header("content-length"); !cl.empty()) length = std::stoul(cl);
  bool no_body = r.status < 200 || r.status == 204 || r.status == 304;
  if (!no_body) {
    while (buffer_.size() < length) {
      if (!readMore(until)) return std::nullopt;
    }
    r.body = buffer_.substr(0, length);
    buffer_.erase(0, length);
  }
  return r;
}

bool RawConnection::waitClosed(std::chrono::milliseconds deadline, std::string* leftover) {
  auto until = Clock::now() + deadline;
  if (fd_ < 0) return true;
  for (;;) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    if (left.count() <= 0) return false;
    pollfd p{fd_, POLLIN, 0};
    int r = ::poll(&p, 1, static_cast<int>(left.count()));
    if (r < 0 && errno == EINTR) continue;
    if (r <= 0) return false;
    char chunk[4096];
    ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) {
      if (leftover) *leftover = buffer_;
      return true;  // EOF or reset
    }
    buffer_.append(chunk, static_cast<size_t>(n));
  }
}

// RawServer ------------------------------------------------------------------------------

RawServer::RawServer(Script script) {
  listen_fd_ = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
      ::listen(listen_fd_, 16) != 0) {
    throw std::runtime_error("RawServer: cannot listen");
  }
  socklen_t len = sizeof addr;
  ::getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len);
  port_ = ntohs(addr.sin_port);
  thread_ = std::thread([this, script = std::move(script)] {
    for (int index = 0;; ++index) {
      int fd = ::accept(listen_fd_, nullptr, nullptr);
      if (fd < 0) return;  // the listening socket was shut down
      ++accepted_;
      script(fd, index);
      ::close(fd);
    }
  });
}

RawServer::~RawServer() {
  ::shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
  thread_.join();
  ::close(listen_fd_);
}

std::string RawServer::readHead(int fd) {
  std::string head;
  auto until = Clock::now() + 5s;
  while (head.find("\r\n\r\n") == std::string::npos) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - Clock::now());
    if (left.count() <= 0) return {};
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left.count())) <= 0) return {};
    char chunk[4096];
    ssize_t n = ::recv(fd, chunk, sizeof chunk, 0);
    if (n <= 0) return {};
    head.append(chunk, static_cast<size_t>(n));
  }
  return head;
}

void RawServer::writeAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

// Certificates ---------------------------------------------------------------------------

namespace {

template <typename T, void (*Free)(T*)>
struct Deleter {
  void operator()(T* p) const { Free(p); }
};
using PkeyPtr = std::unique_ptr<EVP_PKEY, Deleter<EVP_PKEY, EVP_PKEY_free>>;
using X509Ptr = std::unique_ptr<X509, Deleter<X509, X509_free>>;
using ExtPtr = std::unique_ptr<X509_EXTENSION, Deleter<X509_EXTENSION, X509_EXTENSION_free>>;

void check(bool ok, const char* what) {
  if (!ok) throw std::runtime_error(std::string("making a test certificate: ") + what);
}

void addExtension(X509* cert, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx_nodb(&ctx);
  X509V3_set_ctx(&ctx, cert, cert, nullptr, nullptr, 0);
  ExtPtr ext(X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str()));
  check(ext != nullptr, "extension");
  check(X509_add_ext(cert, ext.get(), -1) == 1, "add extension");
}

void writePem(const std::string& path, const std::function<int(FILE*)>& write) {
  FILE* f = std::fopen(path.c_str(), "w");
  check(f != nullptr, "open output file");
  int ok = write(f);
  std::fclose(f);
  check(ok == 1, "write PEM");
}

}  // namespace

CertFiles makeSelfSignedCertificate(const chtlink::testing::TempDir& dir,
                                    const std::string& subject_alt_names,
                                    const std::string& prefix) {
  PkeyPtr key(EVP_PKEY_Q_keygen(nullptr, nullptr, "EC", "P-256"));
  check(key != nullptr, "key");
  X509Ptr cert(X509_new());
  check(cert != nullptr, "X509_new");
  X509_set_version(cert.get(), 2);
  ASN1_INTEGER_set(X509_get_serialNumber(cert.get()), 1);
  X509_gmtime_adj(X509_getm_notBefore(cert.get()), -3600);
  X509_gmtime_adj(X509_getm_notAfter(cert.get()), 24 * 3600);
  X509_set_pubkey(cert.get(), key.get());
  X509_NAME* name = X509_get_subject_name(cert.get());
  X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                             reinterpret_cast<const unsigned char*>("chtlink test"), -1, -1, 0);
  X509_set_issuer_name(cert.get(), name);
  addExtension(cert.get(), NID_basic_constraints, "critical,CA:TRUE");
  addExtension(cert.get(), NID_key_usage, "critical,digitalSignature,keyCertSign");
  addExtension(cert.get(), NID_subject_alt_name, subject_alt_names);
  check(X509_sign(cert.get(), key.get(), EVP_sha256()) > 0, "sign");

  CertFiles files{dir.file(prefix + "-cert.pem"), dir.file(prefix + "-key.pem")};
  writePem(files.certificate_file, [&](FILE* f) { return PEM_write_X509(f, cert.get()); });
  writePem(files.private_key_file, [&](FILE* f) {
    return PEM_write_PrivateKey(f, key.get(), nullptr, nullptr, 0, nullptr, nullptr);
  });
  return files;
}

// ServerHarness --------------------------------------------------------------------------

ServerHarness::ServerHarness(int threads)
    : loop_(threads),
      sink_(std::make_shared<CaptureSink>()),
      log_(std::make_shared<spdlog::logger>("access", sink_)) {
  log_->set_level(spdlog::level::info);
}

ServerHarness::~ServerHarness() {
  // Threads first, so no handler runs while the server and loop are torn down.
  loop_.stop();
  server_.reset();
}

bool ServerHarness::start(Router router, ServerOptions options,
                          std::function<void(const RequestRecord&)> observer) {
  scheme_ = options.tls ? "https" : "http";
  server_ = std::make_unique<Server>(loop_, std::move(options), std::move(router), log_);
  if (observer) server_->setObserver(std::move(observer));
  auto port = server_->listen();
  if (!port) {
    error = port.error().message;
    return false;
  }
  port_ = *port;
  loop_.start();
  return true;
}

std::string ServerHarness::url(std::string_view path) const {
  return fmt::format("{}://127.0.0.1:{}{}", scheme_, port_, path);
}

ServerOptions ServerHarness::fastOptions() {
  ServerOptions o;
  o.name = "test";
  o.read_timeout = 2s;
  o.idle_timeout = 2s;
  o.request_timeout = 2s;
  o.write_timeout = 2s;
  return o;
}

}  // namespace chtlink::net::testing
