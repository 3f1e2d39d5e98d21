#include "lb/base/json_read.h"

#include <cstdint>

namespace ballast {

namespace {

class Reader {
 public:
  explicit Reader(std::string_view t) : t_(t) {}

  bool fail(std::string& error, const char* what) {
    error = std::string(what) + " at byte " + std::to_string(i_);
    return false;
  }
  void ws() {
    while (i_ < t_.size() && (t_[i_] == ' ' || t_[i_] == '\t' || t_[i_] == '\n' || t_[i_] == '\r')) ++i_;
  }
  bool eat(char c) {
    ws();
    if (i_ < t_.size() && t_[i_] == c) {
      ++i_;
      return true;
    }
    return false;
  }
  bool atEnd() {
    ws();
    return i_ == t_.size();
  }
  char peek() {
    ws();
    return i_ < t_.size() ? t_[i_] : '\0';
  }

  // A string starting at '"'; false on a malformed one.
  bool str(std::string& out) {
    if (!eat('"')) return false;
    out.clear();
    while (i_ < t_.size()) {
      const char c = t_[i_++];
      if (c == '"') return true;
      if (static_cast<unsigned char>(c) < 0x20) return false;
      if (c != '\\') {
        out.push_back(c);
        continue;
      }
      if (i_ >= t_.size()) return false;
      const char e = t_[i_++];
      switch (e) {
        case '"': out.push_back('"'); break;
        case '\\': out.push_back('\\'); break;
        case '/': out.push_back('/'); break;
        case 'b': out.push_back('\b'); break;
        case 'f': out.push_back('\f'); break;
        case 'n': out.push_back('\n'); break;
        case 'r': out.push_back('\r'); break;
        case 't': out.push_back('\t'); break;
        case 'u': {
          uint32_t cp = 0;
          if (!hex4(cp)) return false;
          if (cp >= 0xD800 && cp <= 0xDBFF) {
            // A surrogate pair: the low half must follow.
            uint32_t lo = 0;
            if (i_ + 1 >= t_.size() || t_[i_] != '\\' || t_[i_ + 1] != 'u') return false;
            i_ += 2;
            if (!hex4(lo) || lo < 0xDC00 || lo > 0xDFFF) return false;
            cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
          } else if (cp >= 0xDC00 && cp <= 0xDFFF) {
            return false;
          }
          utf8(cp, out);
          break;
        }
        default: return false;
      }
    }
    return false;
  }

  // A number, true, false or null: its literal text.
  bool literal(std::string& out) {
    ws();
    const size_t start = i_;
    while (i_ < t_.size()) {
      const char c = t_[i_];
      const bool ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || c == '-' || c == '+' || c == '.' ||
                      c == 'E';
      if (!ok) break;
      ++i_;
    }
    out.assign(t_.substr(start, i_ - start));
    if (out == "true" || out == "false" || out == "null") return true;
    if (out.empty()) return false;
    // A JSON number: -?digits(.digits)?([eE][+-]?digits)?
    size_t k = 0;
    if (out[k] == '-') ++k;
    const auto digits = [&] {
      const size_t from = k;
      while (k < out.size() && out[k] >= '0' && out[k] <= '9') ++k;
      return k > from;
    };
    if (!digits()) return false;
    if (k < out.size() && out[k] == '.') {
      ++k;
      if (!digits()) return false;
    }
    if (k < out.size() && (out[k] == 'e' || out[k] == 'E')) {
      ++k;
      if (k < out.size() && (out[k] == '+' || out[k] == '-')) ++k;
      if (!digits()) return false;
    }
    return k == out.size();
  }

 private:
  bool hex4(uint32_t& v) {
    if (i_ + 4 > t_.size()) return false;
    v = 0;
    for (int n = 0; n < 4; ++n) {
      const char c = t_[i_++];
      v <<= 4;
      if (c >= '0' && c <= '9') {
        v |= static_cast<uint32_t>(c - '0');
      } else if (c >= 'a' && c <= 'f') {
        v |= static_cast<uint32_t>(c - 'a' + 10);
      } else if (c >= 'A' && c <= 'F') {
        v |= static_cast<uint32_t>(c - 'A' + 10);
      } else {
        return false;
      }
    }
    return true;
  }
  static void utf8(uint32_t cp, std::string& out) {
    if (cp < 0x80) {
      out.push_back(static_cast<char>(cp));
    } else if (cp < 0x800) {
      out.push_back(static_cast<char>(0xC0 | (cp >> 6)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else if (cp < 0x10000) {
      out.push_back(static_cast<char>(0xE0 | (cp >> 12)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    } else {
      out.push_back(static_cast<char>(0xF0 | (cp >> 18)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 12) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | ((cp >> 6) & 0x3F)));
      out.push_back(static_cast<char>(0x80 | (cp & 0x3F)));
    }
  }

  std::string_view t_;
  size_t i_ = 0;
};

}  // namespace

bool parseFlatJsonObject(std::string_view text, std::vector<std::pair<std::string, std::string>>& out,
                         std::string& error) {
  out.clear();
  Reader r(text);
  if (!r.eat('{')) return r.fail(error, "expected '{'");
  if (r.eat('}')) return r.atEnd() ? true : r.fail(error, "unexpected text after the object");
  for (;;) {
    std::string name;
    std::string value;
    if (r.peek() != '"' || !r.str(name)) return r.fail(error, "expected a member name in double quotes");
    if (!r.eat(':')) return r.fail(error, "expected ':'");
    const char c = r.peek();
    if (c == '{' || c == '[') return r.fail(error, "nested objects and arrays are not accepted");
    if (c == '"' ? !r.str(value) : !r.literal(value)) return r.fail(error, "malformed value");
    out.emplace_back(std::move(name), std::move(value));
    if (r.eat(',')) continue;
    if (r.eat('}')) break;
    return r.fail(error, "expected ',' or '}'");
  }
  if (!r.atEnd()) return r.fail(error, "unexpected text after the object");
  return true;
}

const JsonValue* JsonValue::find(std::string_view key) const {
  if (kind != Kind::Object) return nullptr;
  for (const auto& [name, value] : members) {
    if (name == key) return &value;
  }
  return nullptr;
}

JsonValue* JsonValue::find(std::string_view key) {
  return const_cast<JsonValue*>(static_cast<const JsonValue&>(*this).find(key));
}

namespace {

// One value at the reader's position (recursive; `depth` counts the
// containers around it).
bool readValue(Reader& r, JsonValue& v, int depth, std::string& error) {
  const char c = r.peek();
  if (c == '{' || c == '[') {
    if (depth >= kJsonMaxDepth) return r.fail(error, "nested too deep");
    const bool object = c == '{';
    r.eat(c);
    v.kind = object ? JsonValue::Kind::Object : JsonValue::Kind::Array;
    const char close = object ? '}' : ']';
    if (r.eat(close)) return true;
    for (;;) {
      if (object) {
        std::string name;
        if (r.peek() != '"' || !r.str(name)) return r.fail(error, "expected a member name in double quotes");
        if (!r.eat(':')) return r.fail(error, "expected ':'");
        v.members.push_back(JsonMember{std::move(name), JsonValue{}});
        if (!readValue(r, v.members.back().value, depth + 1, error)) return false;
      } else {
        v.items.emplace_back();
        if (!readValue(r, v.items.back(), depth + 1, error)) return false;
      }
      if (r.eat(',')) continue;
      if (r.eat(close)) return true;
      return r.fail(error, object ? "expected ',' or '}'" : "expected ',' or ']'");
    }
  }
  if (c == '"') {
    v.kind = JsonValue::Kind::String;
    return r.str(v.text) ? true : r.fail(error, "malformed string");
  }
  if (!r.literal(v.text)) return r.fail(error, c == '\0' ? "unexpected end of text" : "malformed value");
  if (v.text == "null") {
    v.kind = JsonValue::Kind::Null;
    v.text.clear();
  } else {
    v.kind = v.text == "true" || v.text == "false" ? JsonValue::Kind::Bool : JsonValue::Kind::Number;
  }
  return true;
}

}  // namespace

bool parseJson(std::string_view text, JsonValue& out, std::string& error) {
  out = JsonValue{};
  Reader r(text);
  if (!readValue(r, out, 0, error)) return false;
  if (!r.atEnd()) return r.fail(error, "unexpected text after the value");
  return true;
}

}  // namespace ballast
