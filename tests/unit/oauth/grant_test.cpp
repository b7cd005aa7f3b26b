// Token-endpoint vocabulary: presets, the https rule, form encoding, PKCE (RFC 7636 Appendix B)
// and the answers of RFC 6749 5 / RFC 8628 turned into tokens or plain-words TokenErrors.
#include <catch2/catch.hpp>

#include "oauth/grant.hpp"

using namespace pb::oauth;

namespace {
TokenError token_error(unsigned status, const std::string& body, Grant g = Grant::refresh_token) {
  try {
    parse_token_response(status, body, g, "info");
  } catch (const TokenError& e) {
    return e;
  }
  FAIL("expected a TokenError");
  throw std::logic_error("unreachable");
}
}  // namespace

TEST_CASE("grant: provider presets", "[oauth][grant]") {
  auto ms = preset("microsoft", "contoso.onmicrosoft.com");
  REQUIRE(ms);
  CHECK(ms->token_url == "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token");
  CHECK(ms->device_authorization_url == "https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/devicecode");
  CHECK(ms->scopes == "https://outlook.office.com/POP.AccessAsUser.All https://outlook.office.com/SMTP.Send offline_access "
                      "openid email profile");  // the OpenID scopes: an id_token that says who signed in
  CHECK(preset("microsoft")->token_url == "https://login.microsoftonline.com/common/oauth2/v2.0/token");
  CHECK_THROWS_AS(preset("microsoft", "evil/../x"), std::invalid_argument);
  auto g = preset("google");
  REQUIRE(g);
  CHECK(g->token_url == "https://oauth2.googleapis.com/token");
  CHECK(g->authorization_url == "https://accounts.google.com/o/oauth2/v2/auth");
  CHECK(g->device_authorization_url.empty());
  CHECK(g->scopes == "https://mail.google.com/ openid email");
  CHECK_FALSE(preset("yahoo"));
}

TEST_CASE("grant: endpoint URLs are https, or http to a loopback IP literal alone", "[oauth][grant]") {
  auto u = parse_endpoint_url("https://login.microsoftonline.com/common/oauth2/v2.0/token");
  CHECK(u.tls);
  CHECK(u.host == "login.microsoftonline.com");
  CHECK(u.port == 443);
  CHECK(u.target == "/common/oauth2/v2.0/token");
  auto l = parse_endpoint_url("http://127.0.0.1:8080/token?x=1#frag");
  CHECK_FALSE(l.tls);
  CHECK(l.port == 8080);
  CHECK(l.target == "/token?x=1");
  auto v6 = parse_endpoint_url("http://[::1]:9/");
  CHECK(v6.host == "::1");
  CHECK(parse_endpoint_url("https://h.test").target == "/");
  for (const char* bad : {"http://localhost/token", "http://oauth2.googleapis.com/token", "http://127.0.0.1.evil.test/",
                          "ftp://h/", "https://user:pw@h/", "https://h:99999/", "https:///x", "https://h a/"}) {
    INFO(bad);
    try {
      parse_endpoint_url(bad);
      FAIL("accepted");
    } catch (const TokenError& e) {
      CHECK(e.kind() == TokenFailure::client);
    }
  }
}

TEST_CASE("grant: form encoding percent-encodes all but unreserved characters", "[oauth][grant]") {
  CHECK(form_encode("a-b.c_d~e") == "a-b.c_d~e");
  CHECK(form_encode("https://mail.google.com/ x+y&z=ä") == "https%3A%2F%2Fmail.google.com%2F%20x%2By%26z%3D%C3%A4");
  CHECK(form_body({{"grant_type", "refresh_token"}, {"refresh_token", "0.A/b+c="}}) ==
        "grant_type=refresh_token&refresh_token=0.A%2Fb%2Bc%3D");
}

TEST_CASE("grant: PKCE S256 is RFC 7636 Appendix B's example, verifiers are random", "[oauth][grant]") {
  CHECK(pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk") == "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
  Pkce a = make_pkce(), b = make_pkce();
  CHECK(a.verifier.size() == 64);
  CHECK(a.verifier != b.verifier);
  CHECK(a.challenge == pkce_s256(a.verifier));
  CHECK(a.verifier.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") == std::string::npos);
  std::string url = authorization_request_url(*preset("google"), "cid", "http://127.0.0.1:5000/", "st", a);
  CHECK(url.starts_with("https://accounts.google.com/o/oauth2/v2/auth?response_type=code&client_id=cid&"
                        "redirect_uri=http%3A%2F%2F127.0.0.1%3A5000%2F&scope=https%3A%2F%2Fmail.google.com%2F%20openid%20email&state=st&"
                        "code_challenge=" + a.challenge + "&code_challenge_method=S256"));
  CHECK(url.ends_with("&access_type=offline&prompt=consent"));
  url = authorization_request_url(*preset("microsoft"), "cid", "http://127.0.0.1:5000/", "st", a, "info@firma.de");
  CHECK(url.find("&login_hint=info%40firma.de") != std::string::npos);
  CHECK(url.find("access_type") == std::string::npos);
}

TEST_CASE("grant: a token answer, with and without rotation", "[oauth][grant]") {
  auto t = parse_token_response(200, R"({"token_type":"Bearer","scope":"s","expires_in":3599,"access_token":"AT","refresh_token":"RT2"})",
                                Grant::refresh_token, "info");
  CHECK(t.access_token == "AT");
  CHECK(t.expires_in == std::chrono::seconds(3599));
  CHECK(t.refresh_token == "RT2");
  CHECK(t.scope == "s");
  auto kept = parse_token_response(200, R"({"token_type":"bearer","expires_in":"3600","access_token":"AT"})",
                                   Grant::refresh_token, "info");
  CHECK(kept.refresh_token.empty());
  CHECK(kept.expires_in == std::chrono::seconds(3600));
  // A lifetime near 2^63 (a hostile endpoint) is capped at a day, so "now + expires_in" cannot overflow.
  auto huge = parse_token_response(200, R"({"token_type":"Bearer","expires_in":9223372036854775807,"access_token":"AT"})",
                                   Grant::refresh_token, "info");
  CHECK(huge.expires_in == std::chrono::seconds(86'400));
  auto code = parse_device_authorization(
      200, R"({"device_code":"DC","user_code":"U","verification_uri":"https://x.example/d","expires_in":18446744073709551615})",
      "info");
  CHECK(code.expires_in == std::chrono::seconds(3600));
}

TEST_CASE("grant: invalid_grant keeps the provider's words and says what to do", "[oauth][grant]") {
  auto e = token_error(400, R"({"error":"invalid_grant","error_description":"AADSTS70008: The provided authorization code or refresh token has expired due to inactivity.\r\nTrace ID: 1\r\nCorrelation ID: 2"})");
  CHECK(e.kind() == TokenFailure::login_needed);
  CHECK(e.error() == "invalid_grant");
  CHECK(e.http_status() == 400);
  CHECK(std::string(e.what()) ==
        "the refresh token no longer works (invalid_grant): AADSTS70008: The provided authorization code or refresh "
        "token has expired due to inactivity. Trace ID: 1 Correlation ID: 2; run postbridge oauth login info");
  CHECK_THAT(token_error(400, R"({"error":"invalid_grant"})", Grant::authorization_code).what(),
             Catch::StartsWith("the authorization code was refused (invalid_grant); run postbridge oauth login info again"));
}

TEST_CASE("grant: a recognised provider error says what it means after the provider's words", "[oauth][grant]") {
  // Microsoft's literal answer for a refresh token unused for 90 days.
  auto unused = token_error(400, R"({"error":"invalid_grant","error_description":"AADSTS700082: The refresh token has expired due to inactivity. The token was issued on 2026-05-20T16:18:37.2732417Z and was inactive for 90.00:00:00."})");
  CHECK(unused.kind() == TokenFailure::login_needed);
  CHECK_THAT(unused.what(), Catch::StartsWith("the refresh token no longer works (invalid_grant): AADSTS700082: The "
                                              "refresh token has expired due to inactivity."));
  CHECK_THAT(unused.what(), Catch::EndsWith("run postbridge oauth login info — the sign-in expired because it was "
                                            "not used for 90 days: sign in again: postbridge oauth login"));
  // Google's device flow refusing the mail scope.
  auto scope = token_error(400, R"({"error":"invalid_scope","error_description":"Invalid device flow scope: https://mail.google.com/"})",
                           Grant::device_code);
  CHECK(scope.kind() == TokenFailure::client);
  CHECK_THAT(scope.what(), Catch::Contains("Invalid device flow scope") &&
                               Catch::Contains("postbridge oauth login --browser"));
  // Microsoft's device login still waiting for the user: a state, never an error.
  CHECK(parse_device_poll(400, R"({"error":"authorization_pending","error_description":"AADSTS70016: OAuth 2.0 device flow error. Authorization is pending. Continue polling."})",
                          "info").state == DevicePoll::State::pending);
  // An error no table entry knows keeps exactly the old words.
  CHECK_THAT(token_error(400, R"({"error":"invalid_grant","error_description":"AADSTS70008: expired"})").what(),
             Catch::EndsWith("; run postbridge oauth login info"));
}

TEST_CASE("grant: error codes decide the failure kind", "[oauth][grant]") {
  CHECK(token_error(401, R"({"error":"invalid_client"})").kind() == TokenFailure::client);
  CHECK(token_error(400, R"({"error":"invalid_scope","error_description":"x"})").kind() == TokenFailure::client);
  CHECK(token_error(400, R"({"error":"unsupported_grant_type"})").kind() == TokenFailure::client);
  CHECK(token_error(400, R"({"error":"something_new"})").kind() == TokenFailure::provider);
  auto e500 = token_error(500, "<html>Internal Server Error</html>");
  CHECK(e500.kind() == TokenFailure::provider);
  CHECK(e500.transient());
  CHECK_THAT(e500.what(), Catch::Contains("HTTP 500") && Catch::Contains("Internal Server Error"));
  auto bad = token_error(200, "{\"access_token\": ");
  CHECK(bad.kind() == TokenFailure::provider);
  CHECK_THAT(bad.what(), Catch::Contains("not a JSON object"));
  // A mangled success (a BOM, a proxy's prefix) holds a live token: its words are not shown.
  auto mangled = token_error(200, "\xEF\xBB\xBF{\"access_token\": \"ya29.LIVE-TOKEN-VALUE\", \"expires_in\": 3599}");
  CHECK_THAT(mangled.what(), Catch::Contains("not shown") && !Catch::Contains("ya29"));
  CHECK_THAT(token_error(502, "upstream said: refresh_token=1//0gLIVE").what(), !Catch::Contains("1//0gLIVE"));
  CHECK(token_error(200, R"({"token_type":"Bearer"})").kind() == TokenFailure::provider);
  CHECK_THAT(token_error(200, R"({"token_type":"MAC","access_token":"AT"})").what(), Catch::Contains("not a Bearer token"));
}

TEST_CASE("grant: device authorization answer and polls (RFC 8628)", "[oauth][grant]") {
  auto d = parse_device_authorization(
      200, R"({"device_code":"DC","user_code":"ABCD-EFGH","verification_uri":"https://microsoft.com/devicelogin","expires_in":900,"interval":5,"message":"To sign in, use a web browser"})",
      "info");
  CHECK(d.device_code == "DC");
  CHECK(d.user_code == "ABCD-EFGH");
  CHECK(d.verification_uri == "https://microsoft.com/devicelogin");
  CHECK(d.expires_in == std::chrono::seconds(900));
  CHECK(d.interval == std::chrono::seconds(5));
  auto g = parse_device_authorization(200, R"({"device_code":"DC","user_code":"U","verification_url":"https://www.google.com/device","expires_in":1800})", "info");
  CHECK(g.verification_uri == "https://www.google.com/device");
  CHECK(g.interval == std::chrono::seconds(5));
  CHECK_THROWS_AS(parse_device_authorization(200, R"({"user_code":"U"})", "info"), TokenError);

  CHECK(parse_device_poll(400, R"({"error":"authorization_pending"})", "info").state == DevicePoll::State::pending);
  CHECK(parse_device_poll(400, R"({"error":"slow_down"})", "info").state == DevicePoll::State::slow_down);
  auto done = parse_device_poll(200, R"({"access_token":"AT","refresh_token":"RT","expires_in":60})", "info");
  CHECK(done.state == DevicePoll::State::done);
  CHECK(done.token.refresh_token == "RT");
  try {
    parse_device_poll(400, R"({"error":"access_denied"})", "info");
    FAIL("no error");
  } catch (const TokenError& e) {
    CHECK(e.kind() == TokenFailure::login_needed);
    CHECK_THAT(e.what(), Catch::StartsWith("the login was declined at the provider (access_denied)"));
  }
}
