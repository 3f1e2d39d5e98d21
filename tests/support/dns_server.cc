#include "tests/support/dns_server.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <stdexcept>

namespace ballast::test {

namespace {

constexpr uint16_t kTypeA = 1;
constexpr uint16_t kTypeAAAA = 28;
constexpr uint16_t kTypeSrv = 33;
constexpr uint8_t kServFail = 2;
constexpr uint8_t kNxDomain = 3;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

void put16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v & 0xff));
}

void put32(std::vector<uint8_t>& out, uint32_t v) {
  put16(out, static_cast<uint16_t>(v >> 16));
  put16(out, static_cast<uint16_t>(v & 0xffff));
}

void putName(std::vector<uint8_t>& out, const std::string& name) {
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    out.push_back(static_cast<uint8_t>(dot - start));
    out.insert(out.end(), name.begin() + static_cast<long>(start), name.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  out.push_back(0);
}

}  // namespace

TestDnsServer::TestDnsServer() {
  fd_ = ::socket(AF_INET, SOCK_DGRAM, 0);
  if (fd_ < 0) throw std::runtime_error("dns server: socket failed");
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof(sa);
  if (::bind(fd_, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0 ||
      ::getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len) != 0) {
    ::close(fd_);
    throw std::runtime_error("dns server: bind failed");
  }
  port_ = ntohs(sa.sin_port);
  thread_ = std::thread([this] { serve(); });
}

TestDnsServer::~TestDnsServer() {
  stop_ = true;
  thread_.join();
  ::close(fd_);
}

void TestDnsServer::setA(const std::string& name, std::vector<std::string> ips, uint32_t ttl) {
  std::lock_guard<std::mutex> lock(mu_);
  records_[{lower(name), kTypeA}] = Entry{std::move(ips), {}, ttl};
}

void TestDnsServer::setAAAA(const std::string& name, std::vector<std::string> ips, uint32_t ttl) {
  std::lock_guard<std::mutex> lock(mu_);
  records_[{lower(name), kTypeAAAA}] = Entry{std::move(ips), {}, ttl};
}

void TestDnsServer::setSrv(const std::string& name, std::vector<Srv> records, uint32_t ttl) {
  std::lock_guard<std::mutex> lock(mu_);
  records_[{lower(name), kTypeSrv}] = Entry{{}, std::move(records), ttl};
}

void TestDnsServer::serve() {
  uint8_t buf[1500];
  while (!stop_) {
    // The wake-up interval only bounds how long the destructor waits.
    pollfd p{fd_, POLLIN, 0};
    if (::poll(&p, 1, 20) <= 0) continue;
    sockaddr_in from{};
    socklen_t from_len = sizeof(from);
    const ssize_t n = ::recvfrom(fd_, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 12) continue;
    ++queries_;
    std::vector<uint8_t> reply = answer(buf, static_cast<size_t>(n));
    if (reply.empty()) continue;  // Drop, or a question we cannot read
    ::sendto(fd_, reply.data(), reply.size(), 0, reinterpret_cast<sockaddr*>(&from), from_len);
  }
}

// The reply to one query (empty: send nothing).
std::vector<uint8_t> TestDnsServer::answer(const uint8_t* q, size_t len) {
  const Failure failure = failure_.load();
  if (failure == Failure::Drop) return {};
  // The question: labels, then type and class.
  size_t pos = 12;
  std::string name;
  while (pos < len && q[pos] != 0) {
    const size_t l = q[pos];
    if (l > 63 || pos + 1 + l > len) return {};
    if (!name.empty()) name += '.';
    name.append(reinterpret_cast<const char*>(q + pos + 1), l);
    pos += 1 + l;
  }
  if (pos + 5 > len) return {};
  const size_t question_end = pos + 5;
  const uint16_t type = static_cast<uint16_t>((q[pos + 1] << 8) | q[pos + 2]);
  name = lower(name);

  Entry entry;
  bool found = false;
  bool name_exists = false;
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = records_.find({name, type});
    if (it != records_.end()) {
      entry = it->second;
      found = true;
    }
    for (const auto& kv : records_) name_exists = name_exists || kv.first.first == name;
  }
  uint8_t rcode = 0;
  if (failure == Failure::ServFail) rcode = kServFail;
  if (failure == Failure::NxDomain || !name_exists) rcode = kNxDomain;

  std::vector<uint8_t> out(q, q + question_end);
  out[2] = static_cast<uint8_t>(0x80 | (q[2] & 0x79) | 0x04);  // QR, opcode and RD copied, AA
  out[3] = static_cast<uint8_t>(0x80 | rcode);                  // RA
  out[4] = 0;
  out[5] = 1;  // one question
  for (size_t i = 6; i < 12; ++i) out[i] = 0;
  if (rcode != 0 || !found) return out;

  uint16_t count = 0;
  const auto header = [&](uint16_t rtype) {
    put16(out, 0xc00c);  // the question's name
    put16(out, rtype);
    put16(out, 1);  // IN
    put32(out, entry.ttl);
    ++count;
  };
  if (type == kTypeA || type == kTypeAAAA) {
    for (const auto& ip : entry.ips) {
      uint8_t raw[16];
      const int family = type == kTypeA ? AF_INET : AF_INET6;
      if (::inet_pton(family, ip.c_str(), raw) != 1) continue;
      header(type);
      put16(out, type == kTypeA ? 4 : 16);
      out.insert(out.end(), raw, raw + (type == kTypeA ? 4 : 16));
    }
  } else if (type == kTypeSrv) {
    for (const auto& s : entry.srv) {
      header(type);
      std::vector<uint8_t> rdata;
      put16(rdata, s.priority);
      put16(rdata, s.weight);
      put16(rdata, s.port);
      putName(rdata, lower(s.target));
      put16(out, static_cast<uint16_t>(rdata.size()));
      out.insert(out.end(), rdata.begin(), rdata.end());
    }
  }
  out[6] = static_cast<uint8_t>(count >> 8);
  out[7] = static_cast<uint8_t>(count & 0xff);
  return out;
}

}  // namespace ballast::test
