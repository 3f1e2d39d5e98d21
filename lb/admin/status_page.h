// The admin status page served at GET /: one self-contained HTML document
// (inline CSS and JavaScript, no external script, font or image) that polls
// /status every 2 s and draws listeners -> routes -> pools -> backends as an
// SVG diagram coloured by backend state.
#pragma once

#include <string_view>

namespace ballast {

// Static text with program lifetime.
std::string_view statusPageHtml();

}  // namespace ballast
