// Typed access to one TOML table for the config loaders (loaders.hpp): every
// problem is collected with FILE:LINE:COL and the key's path; getters never throw.
#pragma once
#include <toml++/toml.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

#include "config/config.hpp"
#include "util/text.hpp"

namespace pb::config::detail {

// ---------------------------------------------------------------------------------------------
// Problem collection

class Problems {
 public:
  // `file_mode`: the file's permission bits (stat), which decide whether it may hold a secret.
  explicit Problems(std::string file, unsigned file_mode = 0) : file_(std::move(file)), file_mode_(file_mode) {}
  const std::string& file() const { return file_; }
  unsigned file_mode() const { return file_mode_; }

  void add(const toml::source_region& at, std::string_view key, std::string_view what) {
    add(static_cast<int>(at.begin.line), static_cast<int>(at.begin.column), key, what);
  }
  // line 0: no position (e.g. a default that does not work, with the section absent).
  // Keys and messages echo the file's text (and toml++'s, "saw 'fal\n'"): control bytes are
  // shown as \xNN so that every problem stays the one line the CLI and the log print.
  void add(int line, int col, std::string_view key, std::string_view what) {
    std::string text = file_ + ":";
    if (line > 0) text += std::to_string(line) + ":" + std::to_string(col) + ":";
    text += " ";
    if (!key.empty()) text += text::printable(key, std::string::npos) + ": ";
    text += text::printable(what, std::string::npos);
    items_.push_back({line, col, items_.size(), std::move(text)});
  }
  bool empty() const { return items_.empty(); }

  // In file order, so the list reads top to bottom like the file.
  [[noreturn]] void raise() {
    std::sort(items_.begin(), items_.end());
    std::vector<std::string> lines;
    for (auto& item : items_) lines.push_back(std::get<3>(item));
    throw ConfigError(std::move(lines));
  }

 private:
  std::string file_;
  unsigned file_mode_;
  std::vector<std::tuple<int, int, std::size_t, std::string>> items_;
};

// ---------------------------------------------------------------------------------------------
// Small helpers

inline const char* type_name(toml::node_type t) {
  switch (t) {
    case toml::node_type::table:
      return "table";
    case toml::node_type::array:
      return "array";
    case toml::node_type::string:
      return "string";
    case toml::node_type::integer:
      return "integer";
    case toml::node_type::floating_point:
      return "floating-point number";
    case toml::node_type::boolean:
      return "boolean";
    case toml::node_type::date:
      return "date";
    case toml::node_type::time:
      return "time";
    case toml::node_type::date_time:
      return "date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

inline std::string in_quotes(std::string_view s) { return "'" + text::printable(s, 80) + "'"; }

// "did you mean" for typos: the closest candidate within edit distance 2, or one that the
// word is a prefix of (or that is a prefix of the word).
inline std::string suggestion(std::string_view word, const std::vector<std::string_view>& candidates) {
  std::string_view best;
  std::size_t best_distance = 3;
  for (auto c : candidates) {
    std::size_t d = text::edit_distance(word, c);
    bool prefix = word.size() >= 3 && (c.starts_with(word) || word.starts_with(c));
    if (prefix && d > 2) d = 2;
    if (d < best_distance) {
      best = c;
      best_distance = d;
    }
  }
  if (best.empty()) return "";
  return "; did you mean '" + std::string(best) + "'?";
}

inline std::string join_quoted(const std::vector<std::string_view>& names) {
  std::string out;
  for (std::size_t i = 0; i < names.size(); ++i) {
    if (i) out += i + 1 == names.size() ? " or " : ", ";
    out += "\"" + std::string(names[i]) + "\"";
  }
  return out;
}

template <class E>
struct Choice {
  std::string_view name;
  E value;
};

// ---------------------------------------------------------------------------------------------
// Section: typed access to one TOML table; reports unknown keys and wrong types. Getters leave
// the output untouched (the default) when the key is absent or its value is invalid.

class Section {
 public:
  Section(const toml::table& t, std::string path, Problems& problems,
          std::vector<std::string_view> known)
      : table_(t), path_(std::move(path)), problems_(problems), known_(std::move(known)) {
    for (auto&& [key, node] : table_) {
      if (std::find(known_.begin(), known_.end(), key.str()) != known_.end()) continue;
      problems_.add(key.source(), key_path(key.str()),
                    "unknown key" + suggestion(key.str(), known_));
    }
  }

  const toml::table& table() const { return table_; }
  Problems& problems() const { return problems_; }
  const toml::node* node(std::string_view key) const { return table_.get(key); }
  std::string key_path(std::string_view key) const {
    return path_.empty() ? std::string(key) : path_ + "." + std::string(key);
  }

  void problem(std::string_view key, std::string_view what) const {
    const toml::node* n = node(key);
    if (n)
      problems_.add(n->source(), key_path(key), what);
    else
      problems_.add(table_.source(), key_path(key), what);
  }
  void problem_at(const toml::node& n, std::string_view key, std::string_view what) const {
    problems_.add(n.source(), key_path(key), what);
  }
  void wrong_type(std::string_view key, std::string_view expected) const {
    problem(key, "expected " + std::string(expected) + ", got " + type_name(node(key)->type()));
  }
  void missing(std::string_view key, std::string_view hint) const {
    problems_.add(table_.source(), key_path(key), "missing; " + std::string(hint));
  }

  const std::string* string(std::string_view key, std::string_view expected = "a string") const {
    const toml::node* n = node(key);
    if (!n) return nullptr;
    if (auto* v = n->as_string()) return &v->get();
    wrong_type(key, expected);
    return nullptr;
  }

  bool get(std::string_view key, std::string& out) const {
    if (auto* s = string(key)) {
      out = *s;
      return true;
    }
    return false;
  }

  // A string that must be present and non-empty; true if `out` holds one.
  bool required(std::string_view key, std::string& out, std::string_view hint) const {
    if (!node(key)) {
      missing(key, hint);
      return false;
    }
    if (!get(key, out)) return false;
    if (out.empty()) {
      problem(key, "is empty; " + std::string(hint));
      return false;
    }
    return true;
  }

  bool get(std::string_view key, bool& out) const {
    const toml::node* n = node(key);
    if (!n) return false;
    if (auto* v = n->as_boolean()) {
      out = v->get();
      return true;
    }
    wrong_type(key, "true or false");
    return false;
  }

  template <class Int>
  bool get_int(std::string_view key, Int& out, std::int64_t lo, std::int64_t hi) const {
    const toml::node* n = node(key);
    if (!n) return false;
    std::string range = std::to_string(lo) + ".." + std::to_string(hi);
    auto* v = n->as_integer();
    if (!v) {
      wrong_type(key, "a whole number " + range);
      return false;
    }
    if (v->get() < lo || v->get() > hi) {
      problem(key, std::to_string(v->get()) + " is out of range; allowed " + range);
      return false;
    }
    out = static_cast<Int>(v->get());
    return true;
  }

  bool get_port(std::string_view key, std::uint16_t& out) const {
    return get_int(key, out, 1, 65535);
  }

  // Whether 0 is a value of its own ("off") for a duration key. With Zero::off, "0", "0s",
  // "0ms" and the bare integer 0 all mean off and `min` applies to the other values only, so
  // every key with an off switch reads the same way.
  enum class Zero { refused, off };

  bool get_duration(std::string_view key, Duration& out, Duration min,
                    Zero zero = Zero::refused) const {
    const toml::node* n = node(key);
    if (!n) return false;
    const std::string off_hint = zero == Zero::off ? " (\"0\" switches it off)" : "";
    if (auto* i = n->as_integer(); i && zero == Zero::off) {
      if (i->get() == 0) {
        out = Duration::zero();
        return true;
      }
      const std::string n_text = std::to_string(i->get() < 0 ? 5 : i->get());
      problem(key, std::to_string(i->get()) +
                       " has no unit; write a duration as a string like \"" + n_text +
                       "s\" or \"" + n_text +
                       "m\" (only 0, which switches it off, may stand without quotes)");
      return false;
    }
    const std::string* s = string(key, "a string like \"5m\"");
    if (!s) return false;
    auto d = parse_duration(*s);
    if (!d) {
      problem(key, in_quotes(*s) +
                       " is not a duration; use a number with a unit: \"500ms\", "
                       "\"30s\", \"5m\", \"1h\", \"2d\" or combined like \"1h30m\"" +
                       off_hint);
      return false;
    }
    if (*d == Duration::zero() && zero == Zero::off) {
      out = *d;
      return true;
    }
    if (*d < min) {
      problem(key, in_quotes(*s) + " is too short; the minimum is " + format_duration(min) +
                       off_hint);
      return false;
    }
    out = *d;
    return true;
  }

  bool get_size(std::string_view key, ByteSize& out) const {
    const toml::node* n = node(key);
    if (!n) return false;
    std::optional<ByteSize> size;
    std::string shown;
    if (auto* i = n->as_integer()) {  // a bare integer counts bytes
      if (i->get() >= 0) size = ByteSize{static_cast<std::uint64_t>(i->get())};
      shown = std::to_string(i->get());
    } else if (auto* s = n->as_string()) {
      size = parse_size(s->get());
      shown = in_quotes(s->get());
    } else {
      wrong_type(key, "a string like \"50MB\"");
      return false;
    }
    if (!size) {
      problem(key, shown +
                       " is not a size; use bytes or a unit: \"512KB\", \"50MB\", "
                       "\"1GB\" (powers of 1000) or \"64MiB\" (powers of 1024)");
      return false;
    }
    if (size->bytes == 0) {
      problem(key, "must be at least 1 byte");
      return false;
    }
    out = *size;
    return true;
  }

  // A string that must be one of `names` (compared exactly); `out` is the matching name.
  bool get_name(std::string_view key, const std::vector<std::string_view>& names,
                std::string_view& out) const {
    const std::string* s = string(key, "one of " + join_quoted(names));
    if (!s) return false;
    for (auto name : names) {
      if (name == *s) {
        out = name;
        return true;
      }
    }
    problem(key,
            in_quotes(*s) + " is not allowed; use " + join_quoted(names) + suggestion(*s, names));
    return false;
  }

  template <class E, std::size_t N>
  bool get_enum(std::string_view key, E& out, const std::array<Choice<E>, N>& choices) const {
    std::vector<std::string_view> names;
    for (auto& c : choices) names.push_back(c.name);
    std::string_view name;
    if (!get_name(key, names, name)) return false;
    for (auto& c : choices) {
      if (c.name == name) out = c.value;
    }
    return true;
  }

 private:
  const toml::table& table_;
  std::string path_;
  Problems& problems_;
  std::vector<std::string_view> known_;
};

}  // namespace pb::config::detail
