#include "lb/base/clock.h"

#include <sys/time.h>

#include <cmath>
#include <cstring>
#include <ctime>

namespace ballast {

namespace {

// "YYYY-MM-DDTHH:MM:SS" of the last second formatted.
struct SecondCache {
  time_t sec = -1;
  char text[32] = {0};
  size_t len = 0;
};

void refresh(SecondCache& cache, time_t sec) {
  if (sec == cache.sec) return;
  tm t;
  gmtime_r(&sec, &t);
  cache.len = strftime(cache.text, sizeof cache.text, "%Y-%m-%dT%H:%M:%S", &t);
  cache.sec = sec;
}

void appendWith(std::string& out, SecondCache& cache, time_t sec, int ms) {
  refresh(cache, sec);
  out.append(cache.text, cache.len);
  char tail[5] = {'.', static_cast<char>('0' + ms / 100), static_cast<char>('0' + (ms / 10) % 10),
                  static_cast<char>('0' + ms % 10), 'Z'};
  out.append(tail, sizeof tail);
}

}  // namespace

double wallSeconds() {
  timeval tv;
  gettimeofday(&tv, nullptr);
  return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
}

void appendIsoTime(std::string& out, double unix_seconds) {
  if (!std::isfinite(unix_seconds) || unix_seconds < 0) unix_seconds = 0;
  const auto whole = static_cast<time_t>(unix_seconds);
  int ms = static_cast<int>((unix_seconds - static_cast<double>(whole)) * 1000.0);
  ms = ms < 0 ? 0 : (ms > 999 ? 999 : ms);
  static SecondCache cache;
  appendWith(out, cache, whole, ms);
}

std::string isoTime(double unix_seconds) {
  std::string out;
  appendIsoTime(out, unix_seconds);
  return out;
}

void appendIsoTimeNow(std::string& out) {
  timeval tv;
  gettimeofday(&tv, nullptr);
  static SecondCache cache;
  appendWith(out, cache, tv.tv_sec, static_cast<int>(tv.tv_usec / 1000));
}

char* writeIsoTimeNow(char* out) {
  timeval tv;
  gettimeofday(&tv, nullptr);
  static SecondCache cache;
  refresh(cache, tv.tv_sec);
  // A year outside 1000..9999 would not be 19 bytes: pad or cut to keep the
  // fixed length the caller sized for (it never happens in practice).
  char* p = out;
  if (cache.len == 19) {
    std::memcpy(p, cache.text, 19);
    p += 19;
  } else {
    for (size_t i = 0; i < 19; ++i) *p++ = i < cache.len ? cache.text[i] : '0';
  }
  const int ms = static_cast<int>(tv.tv_usec / 1000);
  *p++ = '.';
  *p++ = static_cast<char>('0' + ms / 100);
  *p++ = static_cast<char>('0' + (ms / 10) % 10);
  *p++ = static_cast<char>('0' + ms % 10);
  *p++ = 'Z';
  return p;
}

}  // namespace ballast
