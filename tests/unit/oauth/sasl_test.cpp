// SASL XOAUTH2 / OAUTHBEARER byte strings against RFC 7628 section 4 and the providers' docs, and
// the error challenge parsed into a status a caller can act on.
#include <catch2/catch.hpp>

#include "oauth/sasl.hpp"
#include "util/base64.hpp"

using namespace pb::oauth;

TEST_CASE("sasl: OAUTHBEARER initial response is RFC 7628 4.1's example byte for byte", "[oauth][sasl]") {
  const std::string token = "vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==";
  std::string raw = oauthbearer_message("user@example.com", "server.example.com", 143, token);
  CHECK(raw == std::string("n,a=user@example.com,\x01host=server.example.com\x01port=143\x01"
                           "auth=Bearer vF9dft4qmTc2Nvb3RlckBhbHRhdmlzdGEuY29tCg==\x01\x01"));
  CHECK(initial_response(Mechanism::oauthbearer, "user@example.com", "server.example.com", 143, token) ==
        "bixhPXVzZXJAZXhhbXBsZS5jb20sAWhvc3Q9c2VydmVyLmV4YW1wbGUuY29tAXBvcnQ9MTQzAWF1dGg9QmVhcmVyIHZGOWRmdDRxbVRjMk52Y"
        "jNSbGNrQmhiSFJoZG1semRHRXVZMjl0Q2c9PQEB");
}

TEST_CASE("sasl: OAUTHBEARER escapes ',' and '=' in the user name and may leave out host and port", "[oauth][sasl]") {
  CHECK(oauthbearer_message("a,b=c", "", 0, "T") == std::string("n,a=a=2Cb=3Dc,\x01" "auth=Bearer T\x01\x01"));
  CHECK(oauthbearer_message("", "h", 587, "T") == std::string("n,,\x01host=h\x01port=587\x01" "auth=Bearer T\x01\x01"));
}

TEST_CASE("sasl: XOAUTH2 initial response is Microsoft's documented example", "[oauth][sasl]") {
  // learn.microsoft.com/exchange/client-developer/legacy-protocols/how-to-authenticate-an-imap-pop-smtp-application-by-using-oauth
  std::string raw = xoauth2_message("test@contoso.onmicrosoft.com", "EwBAAl3BAAUFFpUAo7J3Ve0bjLBWZWCclRC3EoAA");
  CHECK(raw == std::string("user=test@contoso.onmicrosoft.com\x01" "auth=Bearer EwBAAl3BAAUFFpUAo7J3Ve0bjLBWZWCclRC3EoAA\x01\x01"));
  CHECK(initial_response(Mechanism::xoauth2, "test@contoso.onmicrosoft.com", "ignored", 993,
                         "EwBAAl3BAAUFFpUAo7J3Ve0bjLBWZWCclRC3EoAA") ==
        "dXNlcj10ZXN0QGNvbnRvc28ub25taWNyb3NvZnQuY29tAWF1dGg9QmVhcmVyIEV3QkFBbDNCQUFVRkZwVUFvN0ozVmUwYmpMQldaV0NjbFJDM0VvQUEBAQ==");
}

TEST_CASE("sasl: mechanism names", "[oauth][sasl]") {
  CHECK(parse_mechanism("xoauth2") == Mechanism::xoauth2);
  CHECK(parse_mechanism("OAUTHBEARER") == Mechanism::oauthbearer);
  CHECK_FALSE(parse_mechanism("PLAIN"));
  CHECK(std::string(mechanism_name(Mechanism::oauthbearer)) == "OAUTHBEARER");
  CHECK(kDummyResponse == pb::base64::encode("\x01"));
}

TEST_CASE("sasl: RFC 7628 4.3's error challenge says the token was rejected", "[oauth][sasl]") {
  auto e = parse_error_challenge(
      "eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIiwic2NvcGUiOiJleGFtcGxlX3Njb3BlIiwib3BlbmlkLWNvbmZpZ3VyYXRpb24iOiJodHRwczovL2V4"
      "YW1wbGUuY29tLy53ZWxsLWtub3duL29wZW5pZC1jb25maWd1cmF0aW9uIn0=");
  REQUIRE(e);
  CHECK(e->status == "invalid_token");
  CHECK(e->scope == "example_scope");
  CHECK(e->openid_configuration == "https://example.com/.well-known/openid-configuration");
  CHECK(e->token_rejected());
  CHECK(e->describe() == "invalid_token (scope example_scope)");
}

TEST_CASE("sasl: Google's XOAUTH2 error JSON, a wrong scope is not a rejected token", "[oauth][sasl]") {
  auto expired = parse_error_challenge(pb::base64::encode(R"({"status":"401","schemes":"Bearer","scope":"https://mail.google.com/"})"));
  REQUIRE(expired);
  CHECK(expired->token_rejected());
  CHECK(expired->scope == "https://mail.google.com/");
  auto scope = parse_error_challenge(pb::base64::encode(R"({"status":"insufficient_scope","scope":"x"})"));
  REQUIRE(scope);
  CHECK_FALSE(scope->token_rejected());
  auto numeric = parse_error_challenge(pb::base64::encode(R"({"status":400})"));
  REQUIRE(numeric);
  CHECK(numeric->status == "400");
  CHECK_FALSE(numeric->token_rejected());
}

TEST_CASE("sasl: challenges that are not base64 JSON objects give nullopt", "[oauth][sasl]") {
  CHECK_FALSE(parse_error_challenge("not base64 !"));
  CHECK_FALSE(parse_error_challenge(pb::base64::encode("[1,2]")));
  CHECK_FALSE(parse_error_challenge(pb::base64::encode("{\"status\":")));
  CHECK_FALSE(parse_error_challenge(""));
  auto empty = parse_error_challenge(pb::base64::encode("{}"));
  REQUIRE(empty);
  CHECK(empty->describe() == "no status");
}
