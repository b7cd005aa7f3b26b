// The connection doctor's words and verdicts (src/doctor/advice.cpp, report.cpp): what an admin
// reads when a step fails. The probes themselves run against real servers in
// tests/integration/test_doctor.sh.
#include <catch2/catch.hpp>

#include <boost/json.hpp>

#include "doctor/advice.hpp"
#include "doctor/probe.hpp"
#include "doctor/report.hpp"

using namespace pb;
using namespace pb::doctor;
using Catch::Matchers::Contains;

namespace {

constexpr std::int64_t kNow = 1'800'000'000;  // 2027-01-15
constexpr std::int64_t kDay = 86400;

net::TlsPeerInfo good_certificate() {
  net::TlsPeerInfo info;
  info.session = "TLSv1.3 TLS_AES_256_GCM_SHA384";
  info.have_certificate = true;
  info.subject = "CN=smtp.example.net";
  info.issuer = "CN=Example CA,O=Example";
  info.names = {"smtp.example.net", "mail.example.net"};
  info.not_before = kNow - 30 * kDay;
  info.not_after = kNow + 60 * kDay;
  info.chain_trusted = true;
  info.name_matches = true;
  return info;
}

}  // namespace

TEST_CASE("doctor: a good certificate is ok and described") {
  auto a = assess_certificate(good_certificate(), "smtp.example.net", true, kNow);
  CHECK(a.verdict == Verdict::ok);
  CHECK(a.problem.empty());
  REQUIRE(a.details.size() >= 5);
  CHECK(a.details[0] == "TLSv1.3 TLS_AES_256_GCM_SHA384");
  CHECK(a.details[1] == "certificate for smtp.example.net, mail.example.net");
  CHECK(a.details[2] == "issued by CN=Example CA,O=Example");
  CHECK(a.details[3] == "valid until 2027-03-16 (60 days left)");
  CHECK(a.details[4] == "host name smtp.example.net matches");
}

TEST_CASE("doctor: a certificate for another name fails and says for which") {
  auto info = good_certificate();
  info.name_matches = false;
  auto a = assess_certificate(info, "smtp.other.example", true, kNow);
  CHECK(a.verdict == Verdict::failed);
  CHECK(a.problem == "the certificate is for smtp.example.net, mail.example.net, not smtp.other.example");
  CHECK_THAT(a.advice, Contains("use the host name the certificate is for"));

  SECTION("with tls_verify = false it is a warning that says what the risk is") {
    auto w = assess_certificate(info, "smtp.other.example", false, kNow);
    CHECK(w.verdict == Verdict::warning);
    CHECK_THAT(w.problem, Contains("tls_verify = false"));
    CHECK_THAT(w.problem, Contains("read the password"));
  }
}

TEST_CASE("doctor: untrusted, expired and soon expiring certificates") {
  auto info = good_certificate();
  SECTION("self-signed: set ca_file rather than switching verification off") {
    info.chain_trusted = false;
    info.chain_problem = "self-signed certificate";
    auto a = assess_certificate(info, "smtp.example.net", true, kNow);
    CHECK(a.verdict == Verdict::failed);
    CHECK(a.problem == "the certificate is not trusted: self-signed certificate");
    CHECK_THAT(a.advice, Contains("set ca_file"));
  }
  SECTION("expired: the operator must renew it") {
    info.chain_trusted = false;
    info.chain_problem = "certificate has expired";
    info.not_after = kNow - kDay;
    auto a = assess_certificate(info, "smtp.example.net", true, kNow);
    CHECK(a.verdict == Verdict::failed);
    CHECK_THAT(a.details[3], Contains("(expired)"));
    CHECK_THAT(a.advice, Contains("renew"));
  }
  SECTION("expires in 5 days: a warning with the date") {
    info.not_after = kNow + 5 * kDay + 100;
    auto a = assess_certificate(info, "smtp.example.net", true, kNow);
    CHECK(a.verdict == Verdict::warning);
    CHECK(a.problem == "the certificate expires in 5 days: connections will fail after 2027-01-20 unless it is renewed");
  }
  SECTION("valid, but verification is off: say so") {
    auto a = assess_certificate(info, "smtp.example.net", false, kNow);
    CHECK(a.verdict == Verdict::warning);
    CHECK_THAT(a.problem, Contains("tls_verify = true"));
  }
  SECTION("no certificate at all") {
    info.have_certificate = false;
    CHECK(assess_certificate(info, "smtp.example.net", true, kNow).verdict == Verdict::failed);
  }
}

TEST_CASE("doctor: many names are shortened") {
  auto info = good_certificate();
  info.names.clear();
  for (int i = 0; i < 20; ++i) info.names.push_back("n" + std::to_string(i) + ".example");
  auto a = assess_certificate(info, "n1.example", true, kNow);
  CHECK(a.details[1] == "certificate for n0.example, n1.example, n2.example, n3.example, n4.example, n5.example, … (20 names)");
}

TEST_CASE("doctor: a blocked port 25 points to 587 and 465") {
  auto words = tcp_advice(25, Protocol::smtp, ConnectFailure::timeout);
  CHECK_THAT(words, Contains("port 25 is often blocked"));
  CHECK_THAT(words, Contains("587 with tls = \"starttls\""));
  CHECK_THAT(words, Contains("465 with tls = \"implicit\""));
  CHECK_THAT(tcp_advice(995, Protocol::pop3, ConnectFailure::timeout), Contains("firewall"));
  CHECK_THAT(tcp_advice(1, Protocol::pop3, ConnectFailure::refused), Contains("995 with tls = \"implicit\" or 110"));
  CHECK_THAT(tcp_advice(24, Protocol::lmtp, ConnectFailure::refused), Contains("LMTP"));
  CHECK(tcp_problem("192.0.2.1:25", ConnectFailure::timeout, std::chrono::seconds(20), "") ==
        "no answer from 192.0.2.1:25 within 20s: the connection attempt is dropped");
  CHECK(tcp_problem("192.0.2.1:25", ConnectFailure::refused, std::chrono::seconds(20), "") ==
        "192.0.2.1:25 refused the connection: nothing listens on that port");
}

TEST_CASE("doctor: the wrong TLS mode is recognised from the answer, then from the port") {
  using config::TlsMode;
  CHECK_THAT(tls_mode_advice(2587, TlsMode::implicit, Protocol::smtp,
                             "TLS handshake with x failed: wrong version number (SSL routines)"),
             Contains("set tls = \"starttls\""));
  CHECK_THAT(tls_mode_advice(2465, TlsMode::starttls, Protocol::smtp, "no answer within 20s waiting for x"),
             Contains("set tls = \"implicit\""));
  CHECK_THAT(tls_mode_advice(587, TlsMode::implicit, Protocol::smtp, "handshake failed"), Contains("STARTTLS"));
  CHECK_THAT(tls_mode_advice(110, TlsMode::implicit, Protocol::pop3, "handshake failed"), Contains("STLS"));
  CHECK_THAT(tls_mode_advice(995, TlsMode::starttls, Protocol::pop3, "refused"), Contains("tls = \"implicit\""));
  CHECK(tls_mode_advice(2525, TlsMode::starttls, Protocol::smtp, "refused STARTTLS").empty());
}

TEST_CASE("doctor: size limits in words") {
  CHECK(size_limit_detail(std::uint64_t{20'000'000}) == "the server accepts at most 20.0 MB per message");
  CHECK(size_limit_detail(std::uint64_t{0}) == "SIZE announced without a limit");
  CHECK_THAT(size_limit_detail(std::nullopt), Contains("no SIZE"));
}

TEST_CASE("doctor: --ports recommends the first port that works, or keeps the configured one") {
  using config::TlsMode;
  std::vector<PortResult> r{{465, "implicit", Verdict::failed, "no answer"},
                            {587, "starttls", Verdict::ok, "TLSv1.3"},
                            {25, "starttls", Verdict::warning, "no login"}};
  CHECK(port_recommendation(r, 25, TlsMode::starttls) == "configure port = 587 and tls = \"starttls\"");
  CHECK(port_recommendation(r, 587, TlsMode::starttls) == "the configured port 587 (tls = \"starttls\") works");
  r[1].verdict = Verdict::failed;
  CHECK_THAT(port_recommendation(r, 587, TlsMode::starttls), Contains("none of the usual ports works"));
  CHECK_THAT(port_recommendation(r, 587, TlsMode::starttls), !Contains("nor the configured"));
}

TEST_CASE("doctor: --ports keeps a configured port of its own that works") {
  using config::TlsMode;
  // The probe tries the configured port first when it is not one of the usual ones.
  std::vector<PortResult> r{{2995, "implicit", Verdict::ok, "TLSv1.3"},
                            {995, "implicit", Verdict::failed, "refused"},
                            {110, "starttls", Verdict::failed, "refused"}};
  CHECK(port_recommendation(r, 2995, TlsMode::implicit) == "the configured port 2995 (tls = \"implicit\") works");
  r[0].verdict = Verdict::failed;
  CHECK(port_recommendation(r, 2995, TlsMode::implicit) ==
        "none of the usual ports works from here, nor the configured port 2995: check the host name and the firewall");
}

TEST_CASE("doctor: a server that speaks only TLS 1.0 is named as such, not as a certificate problem") {
  auto h = assess_handshake(net::TlsFailure::old_version, "TLSv1 ECDHE-RSA-AES256-SHA", "pop.example.net");
  CHECK(h.problem == "the server speaks only TLS 1.0 (postbridge requires 1.2 or later)");
  CHECK_THAT(h.advice, Contains("ask whoever runs pop.example.net to switch on TLS 1.2 or 1.3"));
  CHECK_THAT(h.advice, Contains("no setting to allow them"));
  CHECK_THAT(h.advice, Contains("postbridge test --ports"));
  CHECK_THAT(h.problem + h.advice, !Contains("certificate"));

  SECTION("TLS 1.1, and a version the second handshake could not find out") {
    CHECK(assess_handshake(net::TlsFailure::old_version, "TLSv1.1 AES128-SHA", "h").problem ==
          "the server speaks only TLS 1.1 (postbridge requires 1.2 or later)");
    CHECK(assess_handshake(net::TlsFailure::old_version, "", "h").problem ==
          "the server speaks only a TLS version older than 1.2 (postbridge requires 1.2 or later)");
  }
  SECTION("an answer that looked like no TLS, from a TLS 1.0 server") {
    CHECK(assess_handshake(net::TlsFailure::not_tls, "TLSv1 AES256-SHA", "h").problem ==
          "the server speaks only TLS 1.0 (postbridge requires 1.2 or later)");
    // Plain text on the port: the TLS mode advice says it, not this.
    CHECK(assess_handshake(net::TlsFailure::not_tls, "", "h").problem.empty());
  }
  SECTION("no cipher in common") {
    auto c = assess_handshake(net::TlsFailure::no_shared_cipher, "TLSv1.2 DES-CBC3-SHA", "smtp.example.net");
    CHECK(c.problem == "the server found no cipher it shares with postbridge: it offers only outdated ones "
                       "(TLS 1.2 DES-CBC3-SHA when every cipher was allowed)");
    CHECK_THAT(c.advice, Contains("update its TLS settings"));
    CHECK(assess_handshake(net::TlsFailure::no_shared_cipher, "", "h").problem ==
          "the server found no cipher it shares with postbridge");
  }
  SECTION("other failures say nothing more than their error") {
    CHECK(assess_handshake(net::TlsFailure::other, "", "h").problem.empty());
    CHECK(assess_handshake(net::TlsFailure::certificate, "", "h").problem.empty());
  }
}

TEST_CASE("doctor: UIDL is reported as the fetcher finds it, not only from CAPA") {
  CHECK(uidl_detail(UidlSupport::announced) == "UIDL: yes");
  CHECK(uidl_detail(UidlSupport::unknown) == "UIDL: not announced (tried after the login)");
  CHECK_THAT(uidl_detail(UidlSupport::answered), Contains("UIDL: yes (not announced, but the server answers it"));
  CHECK_THAT(uidl_detail(UidlSupport::refused), Contains("UIDL: no (the server refuses it)"));
}

TEST_CASE("doctor: the text report shows a hostile server's words escaped") {
  Report r;
  r.kind = "account";
  r.name = "info";
  r.endpoint = "pop.example.net:995, POP3, implicit TLS";
  const std::string hostile = "-ERR [AUTH] \x1B]0;owned\x07\x1B[2J\xC2\x9B" "31m\x9B" "1m";
  r.add(Step{"greeting", "greeting", Verdict::ok, {}, {"+OK \x1B[5m ready"}, ""});
  r.add(Step{"login", "login as info@example.net", Verdict::failed, {}, {}, "rejected the password: " + hostile});
  r.advise("check the password \xC2\x85");
  const std::string text = render_text(r);
  for (unsigned char c : text) {
    CHECK((c >= 0x20 || c == '\n'));
    CHECK(c != 0x7F);
    CHECK(c != 0x9B);
  }
  CHECK(text.find("\xC2\x9B") == std::string::npos);
  CHECK(text.find("\xC2\x85") == std::string::npos);
  CHECK_THAT(text, Contains("owned"));
  CHECK_THAT(text, Contains("Result: does not work: rejected the password: -ERR [AUTH] "));
  CHECK_THAT(text, Contains("account info — pop.example.net:995"));  // our own UTF-8 stays
}

TEST_CASE("doctor: a report is ok until a step fails, advice is kept once") {
  Report r;
  r.kind = "account";
  r.name = "info";
  r.endpoint = "pop.example.net:995, POP3, implicit TLS";
  r.add(Step{"dns", "DNS lookup of pop.example.net", Verdict::ok, std::chrono::milliseconds(12), {"pop.example.net -> 192.0.2.1"}, ""});
  CHECK(r.ok());
  CHECK(r.summary() == "works");
  r.add(Step{"tcp", "TCP to [2001:db8::1]:995", Verdict::warning, std::chrono::milliseconds(3), {}, "no route"});
  CHECK(r.ok());
  CHECK(r.summary() == "works, with warnings (see above)");
  r.add(Step{"login", "login as info@example.net", Verdict::failed, std::chrono::milliseconds(2100), {}, "-ERR [AUTH] failed"});
  r.advise("check the password");
  r.advise("check the password");
  r.advise("");
  CHECK_FALSE(r.ok());
  CHECK(r.summary() == "does not work: -ERR [AUTH] failed");
  CHECK(r.advice.size() == 1);

  std::string text = render_text(r);
  CHECK_THAT(text, Contains("account info — pop.example.net:995, POP3, implicit TLS\n"));
  CHECK_THAT(text, Contains("  ok       12 ms  DNS lookup of pop.example.net\n"));
  CHECK_THAT(text, Contains("  FAIL     2.1 s  login as info@example.net\n"));
  CHECK_THAT(text, Contains("-> -ERR [AUTH] failed\n"));
  CHECK_THAT(text, Contains("Result: does not work: -ERR [AUTH] failed\nWhat to do: check the password\n"));

  auto j = to_json(r);
  CHECK(j.at("ok").as_bool() == false);
  CHECK(j.at("steps").as_array().size() == 3);
  CHECK(j.at("steps").as_array()[2].as_object().at("verdict").as_string() == "failed");
  CHECK(j.at("steps").as_array()[2].as_object().at("ms").as_int64() == 2100);
  CHECK_FALSE(j.contains("ports"));
}

TEST_CASE("doctor: JSON stays valid for bytes from a hostile server") {
  Report r;
  r.kind = "smarthost";
  r.name = "x";
  r.add(Step{"greeting", "greeting", Verdict::ok, {}, {std::string("220 \xff\xfe evil\x01")}, ""});
  auto text = boost::json::serialize(to_json(r));
  CHECK_NOTHROW(boost::json::parse(text));
  CHECK_THAT(text, Contains("\\ufffd") || Contains("\xef\xbf\xbd"));
}

TEST_CASE("doctor: the --send-to sender is one the smarthost takes") {
  config::Config cfg;
  cfg.service.postmaster = "postmaster@office.example";
  config::Smarthost s;
  s.name = "p";
  CHECK(test_sender(cfg, s) == "postmaster@office.example");
  s.username = "login@provider.example";
  CHECK(test_sender(cfg, s) == "login@provider.example");
  s.senders = {config::SenderPattern{"", "firma.example"}};
  CHECK(test_sender(cfg, s) == "postmaster@firma.example");
  s.senders.push_back(config::SenderPattern{"info", "firma.example"});
  CHECK(test_sender(cfg, s) == "info@firma.example");
  s.rewrite_sender = "office@firma.example";
  CHECK(test_sender(cfg, s) == "office@firma.example");
}
