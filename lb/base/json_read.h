// Reads the one kind of JSON ballast accepts from operators: a flat object
// whose values are strings, numbers, booleans or null (an admin request
// body such as {"for": "2h", "reason": "INC-4411"}). Anything nested or
// malformed is an error with its byte offset, never a guess.
#pragma once

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

}  // namespace ballast
