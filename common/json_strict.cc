#include "common/json_strict.h"

#include <unordered_set>
#include <vector>

namespace sluice {

namespace {

using nlohmann::json;

// At most `max` bytes of `text`, anything but printable ASCII as '?': keys
// and parser messages end up in answers and logs.
std::string printable(std::string_view text, size_t max = 64) {
  std::string out;
  for (const char c : text.substr(0, max)) {
    out.push_back(c >= 0x20 && c < 0x7F ? c : '?');
  }
  if (text.size() > max) out.append("...");
  return out;
}

// One open object or array while parsing.
struct Frame {
  bool array = false;
  size_t index = 0;                      // array: the element being read
  std::string key;                       // object: the member being read
  std::unordered_set<std::string> keys;  // object: every key so far
};

std::string path_of(std::string_view root, const std::vector<Frame>& stack) {
  std::string path(root);
  for (const Frame& f : stack) {
    if (f.array) {
      // Appended piece by piece: GCC 12 warns falsely (-Wrestrict) on "[" + std::string.
      path.append("[").append(std::to_string(f.index)).append("]");
    } else {
      if (!path.empty()) path += '.';
      path += printable(f.key);
    }
  }
  return path;
}

// "syntax error while parsing value - invalid literal" out of nlohmann's
// "[json.exception.parse_error.101] parse error at line 1, column 2: syntax
// error while parsing value - invalid literal; last read: 'x'".
std::string syntax_message(const json::parse_error& e) {
  std::string_view what = e.what();
  if (const auto colon = what.find(": "); colon != std::string_view::npos) {
    what.remove_prefix(colon + 2);
  }
  if (const auto last = what.find("; last read"); last != std::string_view::npos) {
    what = what.substr(0, last);
  }
  std::string message = "not valid JSON: ";
  message.append(printable(what, 200)).append(" at byte ").append(std::to_string(e.byte));
  return message;
}

// "ROOT: WHAT", or WHAT alone without a root.
std::string under(std::string_view root, const std::string& what) {
  if (root.empty()) return what;
  std::string out(root);
  out.append(": ").append(what);
  return out;
}

}  // namespace

bool parse_json_strict(std::string_view text, json& out, JsonStrictError& error,
                       std::string_view root) {
  std::vector<Frame> stack;
  bool duplicate = false;
  // An element of the enclosing array is complete: the next one follows.
  auto element_done = [&] {
    if (!stack.empty() && stack.back().array) ++stack.back().index;
  };
  const json::parser_callback_t callback = [&](int, json::parse_event_t event, json& parsed) {
    switch (event) {
      case json::parse_event_t::object_start:
        stack.push_back(Frame{});
        break;
      case json::parse_event_t::array_start:
        stack.push_back(Frame{true, 0, {}, {}});
        break;
      case json::parse_event_t::key: {
        Frame& f = stack.back();
        f.key = parsed.get_ref<const std::string&>();
        if (!duplicate && !f.keys.insert(f.key).second) {
          duplicate = true;
          error.field = path_of(root, stack);
          error.message = error.field;
          error.message.append(": duplicate key '")
              .append(printable(f.key))
              .append("' (a key may appear once per object)");
        }
        break;
      }
      case json::parse_event_t::object_end:
      case json::parse_event_t::array_end:
        stack.pop_back();
        element_done();
        break;
      case json::parse_event_t::value:
        element_done();
        break;
    }
    return true;  // keep everything: the document is refused as a whole
  };
  json doc;
  try {
    doc = json::parse(text.begin(), text.end(), callback, /*allow_exceptions=*/true);
  } catch (const json::parse_error& e) {
    error.field = std::string(root);
    error.message = under(root, syntax_message(e));
    return false;
  } catch (const json::exception& e) {  // a number out of range (out_of_range.406)
    error.field = std::string(root);
    error.message = under(root, "not valid JSON: " + printable(e.what(), 200));
    return false;
  }
  if (duplicate) return false;
  out = std::move(doc);
  return true;
}

}  // namespace sluice
