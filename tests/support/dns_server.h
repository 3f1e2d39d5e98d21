// A small DNS server for the tests: UDP on 127.0.0.1 (port 0), answering A,
// AAAA and SRV questions from records the test sets, with TTLs, and with
// scripted failures (SERVFAIL, NXDOMAIN, or no answer at all). One thread
// serves; every setter is thread-safe and takes effect for the next query.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ballast::test {

class TestDnsServer {
 public:
  enum class Failure { None, ServFail, NxDomain, Drop };
  struct Srv {
    uint16_t priority = 10;
    uint16_t weight = 1;
    uint16_t port = 0;
    std::string target;
  };

  TestDnsServer();  // binds and starts serving; throws on failure
  ~TestDnsServer();
  TestDnsServer(const TestDnsServer&) = delete;
  TestDnsServer& operator=(const TestDnsServer&) = delete;

  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

  // Names are matched case-insensitively, without a trailing dot. An empty
  // list answers NOERROR with no records (the name exists).
  void setA(const std::string& name, std::vector<std::string> ips, uint32_t ttl = 1);
  void setAAAA(const std::string& name, std::vector<std::string> ips, uint32_t ttl = 1);
  void setSrv(const std::string& name, std::vector<Srv> records, uint32_t ttl = 1);
  // Applies to every question until set back to None.
  void setFailure(Failure f) { failure_ = f; }
  // Questions received so far (answered or not), for synchronising.
  uint64_t queries() const { return queries_.load(); }

 private:
  struct Entry {
    std::vector<std::string> ips;  // A / AAAA
    std::vector<Srv> srv;
    uint32_t ttl = 1;
  };
  void serve();
  std::vector<uint8_t> answer(const uint8_t* q, size_t len);

  int fd_ = -1;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<Failure> failure_{Failure::None};
  std::atomic<uint64_t> queries_{0};
  std::mutex mu_;
  std::map<std::pair<std::string, uint16_t>, Entry> records_;  // (name, type)
  std::thread thread_;
};

}  // namespace ballast::test
