#!/usr/bin/env bash
# Self-check of the OAuth part of the harness (needs no postbridge binary): the simulated identity
# provider oauth_idp.py answers the refresh, device and authorization-code grants as RFC 6749/8628/
# 7636 say, and a real Dovecot (pb_dovecot_oauth_start) takes XOAUTH2 and OAUTHBEARER logins with
# its tokens on POP3 and submission, refuses expired tokens and tokens without the scope with the
# JSON challenge before the final error, and still takes passwords. What Dovecot sends on a failed
# login is kept verbatim in oauth-transcripts.txt. Never skipped.
. "$(dirname "$0")/lib.sh"
pb_init 48

# --- a small client: OAuth logins on POP3/submission, the grants at the IdP -----------------------
cat > "$PB_WORK/oauth_client.py" <<'EOF'
"""oauth_client.py login PROTO PORT TLS MECH USER SECRET [--send FROM TO]
     PROTO pop3|smtp, TLS stls|implicit, MECH xoauth2|oauthbearer|plain; prints the SASL exchange
     ("S: ..." verbatim server lines, "C: ..." what was sent), then "result ok|fail|tempfail" and,
     after a POP3 login, "stat N".
   oauth_client.py grants IDP_BASE OUT_JSON: walks the grants at the IdP, asserting every answer."""
import base64, hashlib, http.server, json, os, poplib, secrets, smtplib, ssl, subprocess, sys, threading
import urllib.error, urllib.parse, urllib.request

IP, CA = os.environ["PB_IP"], os.environ["PB_CA"]


def sasl(mech, user, secret, port):
    if mech == "xoauth2":                       # Google's format
        raw = "user=%s\x01auth=Bearer %s\x01\x01" % (user, secret)
    elif mech == "oauthbearer":                 # RFC 7628 3.1: gs2-header, kvpairs
        raw = "n,a=%s,\x01host=%s\x01port=%d\x01auth=Bearer %s\x01\x01" % (user, IP, port, secret)
    else:
        raw = "\0%s\0%s" % (user, secret)
    return base64.b64encode(raw.encode()).decode()


def after_challenge(mech):
    # RFC 7628 3.2.3: the client answers the error challenge with a single %x01 (OAUTHBEARER);
    # XOAUTH2 clients send an empty line.
    return base64.b64encode(b"\x01").decode() if mech == "oauthbearer" else ""


def login_pop3(port, tls, mech, user, secret):
    ctx = ssl.create_default_context(cafile=CA)
    p = poplib.POP3_SSL(IP, port, context=ctx, timeout=30) if tls == "implicit" else poplib.POP3(IP, port, timeout=30)
    if tls == "stls":
        p.stls(ctx)
    ir = sasl(mech, user, secret, port)
    print("C: AUTH %s <initial response, %d bytes>" % (mech.upper(), len(ir)))
    p._putcmd("AUTH %s %s" % (mech.upper(), ir))
    line = p._getline()[0].decode()
    print("S: " + line)
    if line.startswith("+ "):
        if line != "+ ":
            print("decoded: " + base64.b64decode(line[2:]).decode())
        p._putcmd(after_challenge(mech))
        print("C: " + (after_challenge(mech) or "<empty line>"))
        line = p._getline()[0].decode()
        print("S: " + line)
    if line.startswith("+OK"):
        print("result ok")
        print("stat %d" % p.stat()[0])
        p.quit()
    else:
        print("result " + ("tempfail" if "[SYS/TEMP]" in line else "fail"))
        p.close()


def login_smtp(port, tls, mech, user, secret, send):
    ctx = ssl.create_default_context(cafile=CA)
    s = smtplib.SMTP_SSL(IP, port, context=ctx, timeout=30) if tls == "implicit" else smtplib.SMTP(IP, port, timeout=30)
    s.ehlo("client.test")
    if tls == "stls":
        s.starttls(context=ctx)
        s.ehlo("client.test")
    print("EHLO AUTH:%s" % s.esmtp_features.get("auth", ""))
    ir = sasl(mech, user, secret, port)
    print("C: AUTH %s <initial response, %d bytes>" % (mech.upper(), len(ir)))
    code, msg = s.docmd("AUTH", "%s %s" % (mech.upper(), ir))
    print("S: %d %s" % (code, msg.decode()))
    if code == 334:
        print("decoded: " + base64.b64decode(msg).decode())
        code, msg = s.docmd(after_challenge(mech))
        print("C: " + (after_challenge(mech) or "<empty line>"))
        print("S: %d %s" % (code, msg.decode()))
    if code == 235:
        print("result ok")
        if send:
            body = ("From: <%s>\r\nTo: <%s>\r\nSubject: sent with %s\r\nMessage-ID: <oauth.%s@client.test>\r\n\r\n"
                    "hello\r\n" % (send[0], send[1], mech, secrets.token_hex(6)))
            s.sendmail(send[0], [send[1]], body)
            print("sent")
        s.quit()
    else:
        print("result " + ("tempfail" if code // 100 == 4 else "fail"))
        s.close()


# ---- the grants -------------------------------------------------------------------------------
NOREDIR = urllib.request.build_opener(urllib.request.ProxyHandler({}))


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *a, **k):
        return None


NOFOLLOW = urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirect())


def call(base, path, form=None, method="POST", auth=None, opener=NOREDIR):
    data = urllib.parse.urlencode(form or {}).encode() if method == "POST" else None
    req = urllib.request.Request(base + path, data=data, method=method)
    if auth:
        req.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with opener.open(req, timeout=10) as r:
            return r.status, r.headers, json.loads(r.read() or b"{}")
    except urllib.error.HTTPError as e:
        body = e.read()
        try:
            obj = json.loads(body)
        except ValueError:
            obj = {"_raw": body.decode(errors="replace")}
        return e.code, e.headers, obj


def expect(what, got_status, obj, status, **members):
    bad = got_status != status or any(obj.get(k) != v for k, v in members.items())
    if bad:
        sys.exit("FAILED %s: expected %s %s, got %s %s" % (what, status, members, got_status, obj))
    print("ok: %s -> %d %s" % (what, got_status, obj.get("error", "") or ", ".join(sorted(obj))))


def grants(base, out):
    tokens = {}
    c = "pb-test-client"
    # refresh_token grant with a token seeded by /control/issue
    _, _, iss = call(base, "/control/issue", {"user": "alice"})
    st, _, o = call(base, "/token", {"grant_type": "refresh_token", "refresh_token": iss["refresh_token"], "client_id": c})
    expect("refresh grant", st, o, 200, token_type="Bearer", expires_in=3600, scope="mail offline_access")
    assert o["access_token"] != iss["access_token"] and "refresh_token" not in o, o   # no rotation by default
    tokens["refreshed_access"], tokens["refresh"] = o["access_token"], iss["refresh_token"]
    st, _, o = call(base, "/token", {"grant_type": "refresh_token", "refresh_token": iss["refresh_token"], "client_id": "nobody"})
    expect("refresh grant, unknown client", st, o, 401, error="invalid_client")
    st, _, o = call(base, "/token", {"grant_type": "refresh_token", "refresh_token": "rt-bogus", "client_id": c})
    expect("refresh grant, unknown refresh token", st, o, 400, error="invalid_grant")
    assert o.get("error_description"), o
    st, _, o = call(base, "/token", {"grant_type": "password", "client_id": c})
    expect("unsupported grant", st, o, 400, error="unsupported_grant_type")
    # a confidential client: the secret is checked, in the body or by HTTP Basic
    _, _, iss2 = call(base, "/control/issue", {"user": "bob", "client_id": "pb-confidential"})
    f = {"grant_type": "refresh_token", "refresh_token": iss2["refresh_token"], "client_id": "pb-confidential"}
    st, hdr, o = call(base, "/token", dict(f, client_secret="wrong"))
    expect("confidential client, wrong secret", st, o, 401, error="invalid_client")
    assert hdr.get("WWW-Authenticate", "").startswith("Basic"), dict(hdr)
    st, _, o = call(base, "/token", dict(f, client_secret="Conf-Secret-1"))
    expect("confidential client, secret in the body", st, o, 200, token_type="Bearer")
    st, _, o = call(base, "/token", {"grant_type": "refresh_token", "refresh_token": iss2["refresh_token"]},
                    auth="pb-confidential:Conf-Secret-1")
    expect("confidential client, HTTP Basic", st, o, 200, token_type="Bearer")
    st, _, o = call(base, "/token", {"grant_type": "refresh_token", "refresh_token": iss2["refresh_token"], "client_id": c})
    expect("refresh token of another client", st, o, 400, error="invalid_grant")

    # device authorization grant (RFC 8628)
    st, _, d = call(base, "/devicecode", {"client_id": c, "scope": "mail offline_access"})
    expect("device authorization", st, d, 200, expires_in=900, interval=1, verification_uri=base + "/device")
    assert len(d["user_code"]) == 9 and d["user_code"][4] == "-", d
    poll = {"grant_type": "urn:ietf:params:oauth:grant-type:device_code", "device_code": d["device_code"], "client_id": c}
    st, _, o = call(base, "/token", poll)
    expect("device poll before approval", st, o, 400, error="authorization_pending")
    st, _, o = call(base, "/control/approve", {"user_code": d["user_code"]})
    expect("approve the user code", st, o, 200, approved=1)
    st, _, o = call(base, "/token", poll)
    expect("device poll after approval", st, o, 200, token_type="Bearer", scope="mail offline_access")
    assert o.get("refresh_token") and o.get("access_token"), o
    tokens["device_access"] = o["access_token"]
    st, _, o = call(base, "/token", poll)
    expect("device code used twice", st, o, 400, error="invalid_grant")
    # denied, and auto-approval at the first poll
    _, _, d2 = call(base, "/devicecode", {"client_id": c})
    call(base, "/control/deny", {"user_code": d2["user_code"]})
    st, _, o = call(base, "/token", dict(poll, device_code=d2["device_code"]))
    expect("device poll, user declined", st, o, 400, error="access_denied")
    call(base, "/control/auto-approve-device", {"on": "1"})
    _, _, d3 = call(base, "/devicecode", {"client_id": c})
    call(base, "/control/slow-down", {"count": "1"})
    st, _, o = call(base, "/token", dict(poll, device_code=d3["device_code"]))
    expect("device poll, slow_down asked", st, o, 400, error="slow_down")
    st, _, o = call(base, "/token", dict(poll, device_code=d3["device_code"]))
    expect("device poll, auto-approved", st, o, 200, token_type="Bearer")
    call(base, "/control/auto-approve-device", {"on": "0"})

    # authorization code grant with PKCE (RFC 7636), completed by `curl -sL` like a browser
    got = {}

    class Cb(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            got.update(urllib.parse.parse_qsl(urllib.parse.urlsplit(self.path).query))
            self.send_response(200); self.send_header("Content-Length", "2"); self.end_headers(); self.wfile.write(b"ok")

        def log_message(self, *a):
            pass
    cb = http.server.HTTPServer((IP, 0), Cb)
    threading.Thread(target=cb.serve_forever, daemon=True).start()
    redirect = "http://%s:%d/callback" % (IP, cb.server_address[1])
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    q = urllib.parse.urlencode({"response_type": "code", "client_id": c, "redirect_uri": redirect, "state": "st-42",
                                "code_challenge": challenge, "code_challenge_method": "S256", "scope": "mail"})
    r = subprocess.run(["curl", "-sS", "-L", "--noproxy", "*", "--max-time", "10", base + "/authorize?" + q],
                       capture_output=True, text=True)
    cb.shutdown()
    if r.returncode != 0 or r.stdout != "ok" or got.get("state") != "st-42" or not got.get("code"):
        sys.exit("FAILED curl -sL /authorize: rc=%d out=%r err=%r callback=%r" % (r.returncode, r.stdout, r.stderr, got))
    print("ok: curl -sL /authorize reached the redirect_uri with code and state")
    ex = {"grant_type": "authorization_code", "code": got["code"], "redirect_uri": redirect, "client_id": c}
    st, _, o = call(base, "/token", dict(ex, code_verifier=verifier + "x"))
    expect("code exchange, wrong code_verifier", st, o, 400, error="invalid_grant")
    st, _, o = call(base, "/token", dict(ex, code_verifier=verifier, redirect_uri=redirect + "/other"))
    expect("code exchange, other redirect_uri", st, o, 400, error="invalid_grant")
    st, _, o = call(base, "/token", dict(ex, code_verifier=verifier))
    expect("code exchange", st, o, 200, token_type="Bearer")
    assert o.get("refresh_token"), o
    tokens["code_access"] = o["access_token"]
    st, _, o = call(base, "/token", dict(ex, code_verifier=verifier))
    expect("code used twice", st, o, 400, error="invalid_grant")
    # without PKCE the IdP redirects with an error instead of a code
    q = urllib.parse.urlencode({"response_type": "code", "client_id": c, "redirect_uri": redirect, "state": "s"})
    st, hdr, _ = call(base, "/authorize?" + q, method="GET", opener=NOFOLLOW)
    loc = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(hdr.get("Location", "")).query))
    if st != 302 or loc.get("error") != "invalid_request" or loc.get("state") != "s":
        sys.exit("FAILED /authorize without PKCE: %s %r" % (st, hdr.get("Location")))
    print("ok: /authorize without code_challenge -> 302 error=invalid_request")
    with open(out, "w") as f:
        json.dump(tokens, f)


if __name__ == "__main__":
    if sys.argv[1] == "login":
        proto, port, tls, mech, user, secret = sys.argv[2:8]
        send = sys.argv[9:11] if len(sys.argv) > 8 and sys.argv[8] == "--send" else None
        if proto == "pop3":
            login_pop3(int(port), tls, mech, user, secret)
        else:
            login_smtp(int(port), tls, mech, user, secret, send)
    else:
        grants(sys.argv[2], sys.argv[3])
EOF
export PB_IP PB_CA
TRANSCRIPTS="$PB_WORK/oauth-transcripts.txt"
: > "$TRANSCRIPTS"

# login NAME PROTO PORT TLS MECH USER SECRET [--send FROM TO]: one login; its transcript in
# $PB_WORK/login-NAME.txt (and appended to oauth-transcripts.txt).
login() {
  local name="$1"; shift
  "$PB_PY" "$PB_WORK/oauth_client.py" login "$@" > "$PB_WORK/login-$name.txt" 2>&1 \
    || pb_fail "login $name: the client failed: $(tail -n 5 "$PB_WORK/login-$name.txt")"
  { echo "== $name: $1 port $2 ($3) ${4^^} as $5"; cat "$PB_WORK/login-$name.txt"; echo; } >> "$TRANSCRIPTS"
}
# got NAME ERE: the transcript of login NAME has a line matching ERE.
got() { pb_assert_grep "login $1: /$2/" "$2" "$PB_WORK/login-$1.txt"; }

XO_CHALLENGE_B64='eyJzdGF0dXMiOiI0MDEiLCJzY2hlbWVzIjoiYmVhcmVyIiwic2NvcGUiOiJtYWlsIn0='   # {"status":"401","schemes":"bearer","scope":"mail"}
OB_CHALLENGE_B64='eyJzdGF0dXMiOiJpbnZhbGlkX3Rva2VuIn0='                               # {"status":"invalid_token"}

# --- servers -------------------------------------------------------------------------------------
pb_certs
pb_sink_start
pb_idp_start --client pb-confidential:Conf-Secret-1
pb_dovecot_oauth_start
[ "$(cat "/proc/$(tr -dc 0-9 < "$PB_IDP_PIDFILE")/comm")" == python3 ] || pb_fail "the IdP pid file does not name python3"
pb_fill alice 5 5
pb_assert_eq "alice's mailbox after fill" 5 "$(pb_mailbox_count alice)"

# --- the IdP's grants ----------------------------------------------------------------------------
"$PB_PY" "$PB_WORK/oauth_client.py" grants "$(pb_idp_url "")" "$PB_WORK/tokens.json" >&2 \
  || pb_fail "the IdP's grants do not behave as RFC 6749/8628/7636 say (see above)"
pb_assert_eq "refresh grants answered with tokens" 3 "$(pb_idp_stat refresh_ok)"
pb_assert_eq "device polls" 6 "$(pb_idp_stat device_polls)"
pb_assert_eq "code exchanges" 4 "$(pb_idp_stat code_exchanges)"
pb_assert_eq "code exchanges answered with tokens" 1 "$(pb_idp_stat code_ok)"
pb_assert_eq "token requests refused for the client" 2 "$(pb_idp_stat invalid_client)"
pb_assert_grep "the IdP logs requests with shortened tokens" '^[0-9:.]+ POST /token .*refresh_token=rt-.{7}… .*-> 200 tokens for alice' "$PB_IDP_LOG"

# --- OAuth logins that work ----------------------------------------------------------------------
pb_idp_issue alice
login pop3-xoauth2 pop3 "$PB_POP3_PORT" stls xoauth2 alice "$PB_IDP_ACCESS_TOKEN"
got pop3-xoauth2 '^S: \+OK Logged in\.$'; got pop3-xoauth2 '^stat 5$'
login pop3s-oauthbearer pop3 "$PB_POP3S_PORT" implicit oauthbearer alice "$PB_IDP_ACCESS_TOKEN"
got pop3s-oauthbearer '^S: \+OK Logged in\.$'; got pop3s-oauthbearer '^stat 5$'
# tokens from the three grants are accepted too
for t in refreshed_access device_access code_access; do
  login "pop3-$t" pop3 "$PB_POP3S_PORT" implicit xoauth2 alice "$(pb_json "$t" < "$PB_WORK/tokens.json")"
  got "pop3-$t" '^result ok$'
done
login subm-xoauth2 smtp "$PB_OAUTH_SUBM_PORT" stls xoauth2 alice "$PB_IDP_ACCESS_TOKEN" --send alice@example.test rcpt@office.test
got subm-xoauth2 '^EHLO AUTH: PLAIN LOGIN XOAUTH2 OAUTHBEARER$'
got subm-xoauth2 '^S: 235 2\.7\.0 Logged in\.$'; got subm-xoauth2 '^sent$'
login subms-oauthbearer smtp "$PB_OAUTH_SUBMS_PORT" implicit oauthbearer alice "$PB_IDP_ACCESS_TOKEN"
got subms-oauthbearer '^S: 235 2\.7\.0 Logged in\.$'
wait_for "the message sent through submission at the sink" 30 pb_sink_has_exactly 1
pb_assert_grep "the sink got it from alice" '^X-Rcpt-Args: <rcpt@office.test>' "$(pb_sink_files | head -n 1)"
pb_assert_grep "Dovecot logged the XOAUTH2 POP3 login" 'pop3-login: Info: Login: user=<alice>, method=XOAUTH2' "$PB_POP3_LOG"
pb_assert_grep "Dovecot logged the OAUTHBEARER submission login" 'submission-login: Info: Login: user=<alice>, method=OAUTHBEARER' "$PB_POP3_LOG"
pb_assert_eq "no OAuth login refused so far" 0 "$(pb_oauth_auth_failures)"
pb_assert_eq "no password compared with a token" 0 "$(pb_pop3_auth_failures)"
ok_before="$(pb_idp_stat introspections_ok)"
pb_assert_eq "introspections answered active" 7 "$ok_before"

# --- expired access token: the JSON challenge, then the failure ------------------------------------
issued="$(pb_idp_stat issued_access)"
pb_assert_eq "expire-access invalidates every access token issued" "$issued" "$(pb_idp_control expire-access | pb_json expired)"
failed_before="$(pb_idp_stat introspections_failed)"
login exp-pop3-xoauth2 pop3 "$PB_POP3_PORT" stls xoauth2 alice "$PB_IDP_ACCESS_TOKEN"
got exp-pop3-xoauth2 "^S: \\+ $XO_CHALLENGE_B64\$"
got exp-pop3-xoauth2 '^C: <empty line>$'
got exp-pop3-xoauth2 '^S: -ERR \[AUTH\] Authentication failed\.$'
login exp-pop3-oauthbearer pop3 "$PB_POP3S_PORT" implicit oauthbearer alice "$PB_IDP_ACCESS_TOKEN"
got exp-pop3-oauthbearer "^S: \\+ $OB_CHALLENGE_B64\$"
got exp-pop3-oauthbearer '^C: AQ==$'
got exp-pop3-oauthbearer '^S: -ERR \[AUTH\] Authentication failed\.$'
login exp-subm-xoauth2 smtp "$PB_OAUTH_SUBM_PORT" stls xoauth2 alice "$PB_IDP_ACCESS_TOKEN"
got exp-subm-xoauth2 "^S: 334 $XO_CHALLENGE_B64\$"
got exp-subm-xoauth2 '^S: 535 5\.7\.8 Authentication failed\.$'
login exp-subms-oauthbearer smtp "$PB_OAUTH_SUBMS_PORT" implicit oauthbearer alice "$PB_IDP_ACCESS_TOKEN"
got exp-subms-oauthbearer "^S: 334 $OB_CHALLENGE_B64\$"
got exp-subms-oauthbearer '^S: 535 5\.7\.8 Authentication failed\.$'
pb_assert_eq "introspections answered inactive" $((failed_before + 4)) "$(pb_idp_stat introspections_failed)"
pb_assert_grep "Dovecot says why" 'oauth2 failed: Introspection failed: Provided token is not valid' "$PB_POP3_LOG"
pb_assert_eq "OAuth logins refused" 4 "$(pb_oauth_auth_failures)"

# a refresh gives a token that works again
out="$(pb_idp_http POST /token "grant_type=refresh_token&client_id=pb-test-client&refresh_token=$PB_IDP_REFRESH_TOKEN")" \
  || pb_fail "refresh after expire-access refused: $out"
login refreshed-pop3 pop3 "$PB_POP3S_PORT" implicit xoauth2 alice "$(pb_json access_token <<< "$out")"
got refreshed-pop3 '^result ok$'

# --- a token for someone else, a token without the scope -----------------------------------------
pb_idp_issue bob
login wrong-user pop3 "$PB_POP3S_PORT" implicit xoauth2 alice "$PB_IDP_ACCESS_TOKEN"
got wrong-user "^S: \\+ $XO_CHALLENGE_B64\$"; got wrong-user '^S: -ERR \[AUTH\] Authentication failed\.$'
pb_assert_grep "Dovecot compares the token's user" "Introspection failed: Username 'alice' did not match 'bob'" "$PB_POP3_LOG"
pb_assert_eq "new tokens get another scope" "offline_access" "$(pb_idp_control scope scope=offline_access | pb_json scope)"
pb_idp_issue alice
pb_idp_control scope scope= > /dev/null
login wrong-scope-pop3 pop3 "$PB_POP3S_PORT" implicit oauthbearer alice "$PB_IDP_ACCESS_TOKEN"
got wrong-scope-pop3 "^S: \\+ $OB_CHALLENGE_B64\$"; got wrong-scope-pop3 '^S: -ERR \[AUTH\] Authentication failed\.$'
login wrong-scope-subm smtp "$PB_OAUTH_SUBMS_PORT" implicit xoauth2 alice "$PB_IDP_ACCESS_TOKEN"
got wrong-scope-subm "^S: 334 $XO_CHALLENGE_B64\$"; got wrong-scope-subm '^S: 535 5\.7\.8 Authentication failed\.$'
pb_assert_grep "Dovecot checks the scope itself" "Introspection failed: Token is not valid for scope '$PB_OAUTH_SCOPE'" "$PB_POP3_LOG"

# --- passwords still work ------------------------------------------------------------------------
login plain-pop3 pop3 "$PB_POP3S_PORT" implicit plain alice "$PB_PASSWORD"
got plain-pop3 '^S: \+OK Logged in\.$'; got plain-pop3 '^stat 5$'
login plain-subm smtp "$PB_OAUTH_SUBM_PORT" stls plain alice "$PB_PASSWORD"
got plain-subm '^S: 235 2\.7\.0 Logged in\.$'
login plain-wrong pop3 "$PB_POP3S_PORT" implicit plain alice wrong-password
got plain-wrong '^S: -ERR \[AUTH\] Authentication failed\.$'
pb_assert_eq "the wrong password counted as a password failure" 1 "$(pb_pop3_auth_failures)"

# --- revoked refresh tokens ----------------------------------------------------------------------
pb_idp_control revoke-refresh > /dev/null
out="$(pb_idp_http POST /token "grant_type=refresh_token&client_id=pb-test-client&refresh_token=$PB_IDP_REFRESH_TOKEN")" \
  && pb_fail "a revoked refresh token was accepted: $out"
pb_assert_eq "revoked refresh token: error" invalid_grant "$(pb_json error <<< "$out")"
pb_assert_eq "revoked refresh token: description" "the refresh token was revoked; sign in again" \
  "$(pb_json error_description <<< "$out")"

# --- the IdP down: Dovecot fails temporarily, without a challenge ----------------------------------
pb_idp_stop
login idp-down-pop3 pop3 "$PB_POP3S_PORT" implicit xoauth2 alice "$PB_IDP_ACCESS_TOKEN"
got idp-down-pop3 '^S: -ERR \[SYS/TEMP\] Temporary authentication failure\. \[[^]]+\]$'
login idp-down-subm smtp "$PB_OAUTH_SUBM_PORT" stls xoauth2 alice "$PB_IDP_ACCESS_TOKEN"
got idp-down-subm '^S: 454 4\.7\.0 Temporary authentication failure\. \[[^]]+\]$'

# --- rotation: a restarted IdP with --rotate ------------------------------------------------------
pb_idp_start --rotate --expires-in 120
pb_idp_issue carol
out="$(pb_idp_http POST /token "grant_type=refresh_token&client_id=pb-test-client&refresh_token=$PB_IDP_REFRESH_TOKEN")" \
  || pb_fail "refresh with --rotate refused: $out"
pb_assert_eq "--expires-in" 120 "$(pb_json expires_in <<< "$out")"
new_rt="$(pb_json refresh_token <<< "$out")"
[ -n "$new_rt" ] && [ "$new_rt" != "$PB_IDP_REFRESH_TOKEN" ] || pb_fail "--rotate gave no new refresh token: $out"
out="$(pb_idp_http POST /token "grant_type=refresh_token&client_id=pb-test-client&refresh_token=$PB_IDP_REFRESH_TOKEN")" \
  && pb_fail "the rotated-out refresh token was accepted: $out"
pb_assert_eq "the old refresh token after rotation" invalid_grant "$(pb_json error <<< "$out")"
out="$(pb_idp_http POST /token "grant_type=refresh_token&client_id=pb-test-client&refresh_token=$new_rt")" \
  || pb_fail "the rotated refresh token was refused: $out"
pb_log "ok: --rotate hands out a new refresh token and retires the old one"

pb_log "what Dovecot sends on failed OAuth logins: $TRANSCRIPTS"
pb_pop3_stop
pb_idp_stop
