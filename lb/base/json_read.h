// Reads JSON. Two entry points over one reader:
//  - parseFlatJsonObject: the one kind of JSON ballast accepts from
//    operators, a flat object whose values are strings, numbers, booleans or
//    null (an admin request body such as {"for": "2h", "reason": "INC-4411"});
//  - parseJson: a whole document of any shape, for documents our own
//    writer produced (the supervisor merging its workers' /status).
// Anything malformed (including a document cut short) is an error with its
// byte offset, never a guess.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace ballast {

// Member names and values in order; string values unescaped (\uXXXX to
// UTF-8), other values as their literal text. Returns false and sets
// `error` ("expected ':' at byte 12") on anything else.
bool parseFlatJsonObject(std::string_view text, std::vector<std::pair<std::string, std::string>>& out,
                         std::string& error);

struct JsonMember;

// One parsed JSON value. Strings are unescaped (\uXXXX to UTF-8); numbers
// and booleans keep their literal text ("12", "-0.5", "true"), so a value
// read and written again is not rounded through a double.
struct JsonValue {
  enum class Kind : uint8_t { Null, Bool, Number, String, Array, Object };
  Kind kind = Kind::Null;
  std::string text;                                        // Bool, Number, String
  std::vector<JsonValue> items;                            // Array
  std::vector<JsonMember> members;  // Object, in document order

  bool isObject() const { return kind == Kind::Object; }
  bool isArray() const { return kind == Kind::Array; }
  bool isNumber() const { return kind == Kind::Number; }
  // The first member named `key` of an object; null when absent or not an object.
  const JsonValue* find(std::string_view key) const;
  JsonValue* find(std::string_view key);
};

struct JsonMember {
  std::string name;
  JsonValue value;
};

// Nesting deeper than this is refused (an error, not a stack overflow).
constexpr int kJsonMaxDepth = 64;

// Parses a whole document (any value, surrounding whitespace allowed) into
// `out`. Returns false and sets `error` on malformed or truncated text, on
// text after the value, or on nesting deeper than kJsonMaxDepth.
bool parseJson(std::string_view text, JsonValue& out, std::string& error);

}  // namespace ballast
