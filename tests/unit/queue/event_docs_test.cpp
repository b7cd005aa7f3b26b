// The event words as the API contract (src/http/api.md) and the page (web/assets/) know them:
// a kind or result added to queue/event.hpp must be documented, and the page may compare only
// against words the service writes. Reads the files from the source tree.
#include <catch2/catch.hpp>

#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>

#include "queue/event.hpp"

using namespace pb::queue;

namespace {

const std::string kSourceDir = PB_TEST_DATA "/..";

std::string read_source(const std::string& relative) {
  std::ifstream in(kSourceDir + "/" + relative);
  REQUIRE(in);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// The `word` of each "| `word` | ... |" row of the Markdown table under `heading`.
std::set<std::string> table_words(const std::string& md, const std::string& heading) {
  std::set<std::string> out;
  const auto start = md.find("\n" + heading + "\n");
  if (start == std::string::npos) return out;
  const auto end = md.find("\n#", start + 1);
  std::istringstream lines(md.substr(start, end == std::string::npos ? std::string::npos : end - start));
  static const std::regex row(R"(^\| `([^`]+)` \|)");
  std::smatch m;
  for (std::string line; std::getline(lines, line);)
    if (std::regex_search(line, m, row)) out.insert(m[1]);
  return out;
}

// Every capture of `re` (its first group) in `text`.
std::set<std::string> captures(const std::string& text, const std::regex& re) {
  std::set<std::string> out;
  for (auto it = std::sregex_iterator(text.begin(), text.end(), re); it != std::sregex_iterator(); ++it)
    out.insert((*it)[1]);
  return out;
}

std::set<std::string> quoted_strings(const std::string& text) {
  return captures(text, std::regex(R"re("([^"]*)")re"));
}

std::set<std::string> kind_words() {
  std::set<std::string> out;
  for (auto k : kEventKinds) out.insert(std::string(to_string(k)));
  return out;
}

std::set<std::string> result_words() {
  std::set<std::string> out;
  for (auto r : kEventResults) out.insert(std::string(to_string(r)));
  return out;
}

}  // namespace

TEST_CASE("api.md lists every event kind and result, and no other", "[event][docs]") {
  const auto md = read_source("src/http/api.md");
  CHECK(table_words(md, "### Event kinds") == kind_words());
  CHECK(table_words(md, "### Event results") == result_words());
}

TEST_CASE("the page compares events only against known kinds and results", "[event][docs]") {
  const auto js = read_source("web/assets/app.js");
  const auto kinds = kind_words();
  const auto results = result_words();

  const auto kinds_compared = captures(js, std::regex(R"re(\be\.kind\s*[!=]==?\s*"([^"]*)")re"));
  CHECK(kinds_compared.size() >= 4);  // the pattern still finds the page's checks
  for (const auto& k : kinds_compared) {
    INFO("app.js compares an event kind with \"" << k << "\"");
    CHECK(kinds.contains(k));
  }

  auto results_compared = captures(js, std::regex(R"re(\b(?:e\.)?result\s*[!=]==?\s*"([^"]*)")re"));
  for (const auto& set : captures(js, std::regex(R"re(_RESULTS\s*=\s*new Set\(\[([^\]]*)\]\))re")))
    results_compared.merge(quoted_strings(set));
  CHECK(results_compared.size() >= 9);
  for (const auto& r : results_compared) {
    INFO("app.js compares an event result with \"" << r << "\"");
    CHECK(results.contains(r));
  }
}

TEST_CASE("the page has a label for every event result in each language", "[event][docs]") {
  const auto i18n = read_source("web/assets/i18n.js");
  for (const auto& r : result_words()) {
    const std::string key = "\"result." + r + "\":";
    std::size_t n = 0;
    for (auto at = i18n.find(key); at != std::string::npos; at = i18n.find(key, at + 1)) ++n;
    INFO("result." << r);
    CHECK(n >= 2);  // English and German
  }
}
