#!/usr/bin/python3
# A simulated OAuth 2.0 identity provider for the integration tests (Python 3 stdlib only).
# Promises: plain HTTP on one loopback address only; every request is one line in --log; tokens are
# random, in memory, and die with the process; the test steers it through /control/* endpoints.
"""Usage: oauth_idp.py --addr IP --port PORT --log FILE [--pidfile FILE] [options]

Token endpoint (POST /token, application/x-www-form-urlencoded; client authentication by
client_id/client_secret in the body or HTTP Basic, RFC 6749 2.3.1; JSON answers, RFC 6749 5.1/5.2):
  grant_type=refresh_token            refresh_token [scope]: a new access_token (and, with --rotate,
                                      a new refresh_token; the old one then is invalid_grant)
  grant_type=urn:ietf:params:oauth:grant-type:device_code
                                      device_code: authorization_pending until approved, then the
                                      tokens; slow_down / access_denied / expired_token (RFC 8628 3.5)
  grant_type=authorization_code       code redirect_uri code_verifier: PKCE S256 against the
                                      code_challenge given at /authorize (RFC 7636 4.6)
  grant_type=client_credentials       Microsoft 365 app-only (RFC 6749 4.4): client_id scope and
                                      client_assertion_type=urn:ietf:params:oauth:client-assertion-type:jwt-bearer
                                      + client_assertion (RFC 7523 2.2), a JWT checked like Entra ID
                                      does: RS256 signature by the certificate whose SHA-1 thumbprint
                                      is the header's x5t (registered with --app), aud = this token
                                      URL, iss = sub = client_id, nbf <= now < exp <= nbf + 10 min,
                                      a jti not seen before; or a client_secret of --client. The token
                                      is for the app's mailbox (--app's MAILBOX: Add-MailboxPermission)
  grant_type=urn:ietf:params:oauth:grant-type:jwt-bearer
                                      a Google service account (RFC 7523 2.1): assertion, a JWT with
                                      kid (--service-account's KEY_ID), iss = the account's email,
                                      sub = the mailbox the token is for, scope, aud = this token URL,
                                      iat <= now < exp <= iat + 1 h, signed RS256 by the account's key
  Refusals of those two name what is wrong in Entra's and Google's words: invalid_client
  "AADSTS700027: Client assertion contains an invalid signature" (unknown or revoked key, bad
  signature), "AADSTS700024" (time range), "AADSTS50027" (aud, iss/sub), "AADSTS7000215" (wrong
  secret); invalid_grant "Invalid JWT Signature." / "Invalid JWT: ..." for a service account.
  A device or code grant whose request asked for the scope "openid" also answers an id_token (OIDC
  Core 1.0 3.1.3.3): a JWT signed HS256 with a key of this process (nobody can check it, as
  postbridge need not: it comes straight from the token endpoint), claims iss (this IdP's URL),
  sub, aud (the client_id), iat, exp (+3600), preferred_username (the user), email
  (USER@--domain) and email_verified true.
  errors: 400 invalid_grant (unknown, used, revoked or expired grant, with error_description),
          401 invalid_client (unknown client_id or wrong secret), 400 invalid_request,
          400 unsupported_grant_type
POST /devicecode                      RFC 8628 3.2: device_code, user_code ("ABCD-EFGH"),
                                      verification_uri http://IP:PORT/device, verification_uri_complete,
                                      expires_in (--device-expires-in, 900), interval (--interval, 1)
GET  /device[?user_code=CODE]         the "browser" page of the device flow; with user_code: the user
                                      entered the code and approves it
GET  /authorize?response_type=code&client_id=..&redirect_uri=..&state=..&code_challenge=..
     &code_challenge_method=S256[&scope=..][&login_hint=USER][&user=USER]
                                      auto-approves: 302 to redirect_uri?code=..&state=.. (`curl -sL`
                                      completes a browser login) for `user` (the one who signs in,
                                      whatever the login hint said), else login_hint, else --user;
                                      errors go to the redirect_uri as error=invalid_request etc.,
                                      or a 400 page for an unknown client
Validation (what Dovecot's oauth2 passdb calls):
  POST /introspect (token=..)  |  GET /introspect?token=..  |  GET /introspect with
  "Authorization: Bearer .."  (Dovecot introspection_mode = post | get | auth), RFC 7662 answer:
      active token:   {"active": true, "username": USER, "email": USER@DOMAIN, "scope": ..,
                       "client_id": .., "token_type": "Bearer", "sub": USER, "exp": .., "iat": ..}
      otherwise:      {"active": false}
  GET /tokeninfo?access_token=..       Google-style token info: 200 {"expires_in", "scope", "active",
                                       "username", "email", ...} or 400 {"error": "invalid_token"}
  GET /.well-known/openid-configuration  the endpoints above as discovery metadata
Control (tests only; POST, no authentication, answers JSON):
  /control/issue?user=U[&scope=S][&client_id=C]  mint a refresh+access token pair without a login
  /control/approve[?user_code=CODE][&user=U]     approve every pending device code, or one
  /control/deny[?user_code=CODE]                 the user declines: access_denied
  /control/auto-approve-device[?on=0|1]          device codes are approved at their first poll
  /control/slow-down[?count=N]                   the next N device polls answer slow_down
  /control/expire-access[?user=U]                every access token issued so far is invalid now
  /control/revoke-refresh[?user=U]               every refresh token issued so far is invalid_grant
  /control/scope?scope=S                         the scope of access tokens issued from now on
                                                 (scope= empty: back to --scope)
  /control/expires-in?seconds=N                  expires_in of access tokens issued from now on
  /control/stats                                 counters (see STAT_KEYS)
  /control/tokens                                every access and refresh token issued so far, for
                                                 the tests' leak scans
  /control/revoke-key?client_id=C                the certificate of app C (or the key of service
                                                 account C) is deleted at the provider: its next
                                                 assertions are refused; tokens issued stay valid

What Dovecot 2.3.19 (Debian 12) makes of the answers (oauth2 passdb with username_attribute =
username, active_attribute = active, active_value = true, scope = mail; see lib.sh's
pb_dovecot_oauth_start): {"active": false} fails the login like a wrong password ("Introspection
failed: Provided token is not valid"), so does a "username" other than the login name or a "scope"
without the wanted one ("Token is not valid for scope 'mail'"), and a 400 from /tokeninfo ("Token
validation failed: Invalid token"); an IdP that cannot be reached is a temporary failure. Dovecot
POSTs token=..&client_id=&client_secret= (both empty) in post mode and appends the same to the
URL in get mode.
Every answer carries "Connection: close": Dovecot's HTTP client does not retry a request
(no_auto_retry), so a kept-alive connection to an IdP that was restarted would fail one login.

Scope: every access token gets the scope --scope (default "mail offline_access") or the one set
by /control/scope, whatever the client asked for (the request is logged). Dovecot checks its own
`scope` setting against it.

Log (--log): "ready http://IP:PORT" once listening, then one line per request:
  HH:MM:SS.mmm METHOD PATH key=value ... -> STATUS summary
Token values are shortened to their first 10 characters there ("at-3fA9c1…").
"""
import argparse
import base64
import binascii
import hashlib
import hmac
import json
import os
import secrets
import signal
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"                  # RFC 7523 2.1
ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"   # RFC 7523 2.2
STAT_KEYS = (
    "refresh_ok", "refresh_failed",              # grant_type=refresh_token answered with tokens / an error
    "device_authorizations",                     # POST /devicecode
    "device_polls", "device_pending", "device_ok", "device_failed",  # grant_type=device_code
    "authorize",                                 # GET /authorize that redirected with a code
    "code_exchanges", "code_ok", "code_failed",  # grant_type=authorization_code
    "token_requests",                            # every POST /token
    "invalid_client",                            # of those, refused for the client
    "introspections", "introspections_ok", "introspections_failed",  # active / inactive answers
    "tokeninfo_ok", "tokeninfo_failed",
    "issued_access", "issued_refresh",           # tokens minted (any way, /control/issue included)
    "issued_id_tokens",                          # id_tokens in device/code grant answers (scope openid)
    "app_ok", "app_failed",                      # client_credentials and jwt-bearer grants
    "requests",                                  # every HTTP request
)


def asked_openid(scope):
    return "openid" in (scope or "").split()


def short(tok):
    return (tok[:10] + "\u2026") if tok and len(tok) > 10 else (tok or "")


class State:
    """All tokens and codes, behind one lock."""

    def __init__(self, args):
        self.lock = threading.Lock()
        self.args = args
        self.clients = {args.client_id: args.client_secret}
        for c in args.client or []:
            cid, _, sec = c.partition(":")
            self.clients[cid] = sec or None
        self.access = {}     # token -> dict(user, scope, client_id, iat, exp, active)
        self.refresh = {}    # token -> dict(user, scope, client_id, active)
        self.devices = {}    # device_code -> dict(user_code, client_id, scope, status, user, expires)
        self.codes = {}      # code -> dict(client_id, redirect_uri, challenge, user, scope, expires, used)
        self.scope_override = None
        self.expires_in = args.expires_in
        self.auto_approve = args.auto_approve_device
        self.slow_down = 0
        self.jwt_key = secrets.token_bytes(32)
        self.apps = {}       # client_id -> dict(public_key, x5t, mailbox, revoked): --app
        for spec in args.app or []:
            cid, path, mailbox = spec.split(":", 2)
            with open(path, "rb") as f:
                cert = x509.load_pem_x509_certificate(f.read())
            x5t = b64url(cert.fingerprint(hashes.SHA1()))
            self.apps[cid] = dict(public_key=cert.public_key(), x5t=x5t, mailbox=mailbox, revoked=False)
        self.service_accounts = {}  # email -> dict(public_key, kid, revoked): --service-account
        for spec in args.service_account or []:
            email, path, kid = spec.split(":", 2)
            with open(path, "rb") as f:
                self.service_accounts[email] = dict(public_key=public_key_of(f.read()), kid=kid, revoked=False)
        self.jtis = set()    # client assertion ids seen (replays are refused)
        self.stats = {k: 0 for k in STAT_KEYS}

    def count(self, key, n=1):
        self.stats[key] += n

    def granted_scope(self):
        return self.scope_override if self.scope_override is not None else self.args.scope

    def id_token(self, user, client_id):
        """An OIDC id_token (a JWT, HS256 with this process's key) saying USER signed in."""
        a = self.args
        now = int(time.time())
        claims = {"iss": "http://%s:%d" % (a.addr, a.port), "sub": user, "aud": client_id,
                  "iat": now, "exp": now + 3600, "preferred_username": user,
                  "email": "%s@%s" % (user, a.domain), "email_verified": True}

        def b64(raw):
            return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        signing_input = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode()) + "." + \
            b64(json.dumps(claims, sort_keys=True).encode())
        sig = hmac.new(self.jwt_key, signing_input.encode(), hashlib.sha256).digest()
        self.count("issued_id_tokens")
        return signing_input + "." + b64(sig)

    def mint(self, user, client_id, scope=None, refresh=True, openid=False):
        """A new access token (and refresh token, and with openid an id_token); returns the RFC
        6749 5.1 answer."""
        scope = self.granted_scope() if scope is None else scope
        now = int(time.time())
        at = "at-" + secrets.token_urlsafe(24)
        self.access[at] = dict(user=user, scope=scope, client_id=client_id, iat=now,
                               exp=now + self.expires_in, active=True)
        self.count("issued_access")
        out = {"access_token": at, "token_type": "Bearer", "expires_in": self.expires_in, "scope": scope}
        if openid:
            out["id_token"] = self.id_token(user, client_id)
        if refresh:
            rt = "rt-" + secrets.token_urlsafe(24)
            self.refresh[rt] = dict(user=user, scope=scope, client_id=client_id, active=True)
            self.count("issued_refresh")
            out["refresh_token"] = rt
        return out

    def access_info(self, token):
        """(active, record or None) of an access token."""
        rec = self.access.get(token)
        if rec is None:
            return False, None
        return rec["active"] and time.time() < rec["exp"], rec


def b64url(raw):
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def public_key_of(pem):
    """The public key of a PEM certificate or public key."""
    if b"BEGIN CERTIFICATE" in pem:
        return x509.load_pem_x509_certificate(pem).public_key()
    return serialization.load_pem_public_key(pem)


def jwt_parts(token, refuse):
    """(header, claims, signing_input, signature) of a compact JWT, or refuse(why)."""
    try:
        h, c, sig = token.split(".")
        return json.loads(unb64url(h)), json.loads(unb64url(c)), (h + "." + c).encode(), unb64url(sig)
    except (ValueError, binascii.Error):
        refuse("the JWT is malformed")


def rs256_valid(public_key, signing_input, signature):
    try:
        public_key.verify(signature, signing_input, padding.PKCS1v15(), hashes.SHA256())
        return True
    except InvalidSignature:
        return False


class OAuthError(Exception):
    def __init__(self, status, error, description=None):
        super().__init__(error)
        self.status, self.error, self.description = status, error, description


class Handler(BaseHTTPRequestHandler):
    server_version = "pb-oauth-idp/1"
    protocol_version = "HTTP/1.1"
    timeout = 30                      # a client that sends nothing does not hold a thread for ever

    # ---- plumbing -------------------------------------------------------------------------------
    def log_message(self, fmt, *a):   # BaseHTTPRequestHandler's own stderr log: not wanted
        pass

    def st(self):
        return self.server.state

    def _params(self):
        u = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(u.query, keep_blank_values=True))
        body = {}
        n = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(n) if n > 0 else b""
        if raw:
            ctype = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
            if ctype in ("", "application/x-www-form-urlencoded"):
                body = dict(urllib.parse.parse_qsl(raw.decode("utf-8", "replace"), keep_blank_values=True))
        return u.path, q, body

    def _log(self, path, params, status, summary):
        shown = []
        for k, v in params.items():
            if k in ("token", "access_token", "refresh_token", "device_code", "code", "code_verifier",
                     "client_secret", "code_challenge", "client_assertion", "assertion"):
                v = short(v)
            shown.append("%s=%s" % (k, v))
        auth = self.headers.get("Authorization")
        if auth:
            kind, _, val = auth.partition(" ")
            shown.append("Authorization=%s %s" % (kind, short(val)))
        now = time.time()
        line = " ".join([time.strftime("%H:%M:%S", time.localtime(now)) + ".%03d" % (now % 1 * 1000),
                         self.command, path] + shown + ["->", str(status), summary])
        self.server.log(line)

    def _send(self, status, obj=None, headers=None, body=None, ctype="application/json"):
        if body is None:
            body = json.dumps(obj if obj is not None else {}, sort_keys=True).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("Connection", "close")
        self.close_connection = True
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _dispatch(self):
        path, q, body = self._params()
        params = dict(q)
        params.update(body)
        st = self.st()
        with st.lock:
            st.count("requests")
        try:
            route = ROUTES.get((self.command, path)) or ROUTES.get(("*", path))
            if route is None:
                raise OAuthError(404, "not_found", "no such endpoint: %s %s" % (self.command, path))
            status, obj, summary, extra = route(self, params)
        except OAuthError as e:
            obj = {"error": e.error}
            if e.description:
                obj["error_description"] = e.description
            status, summary, extra = e.status, e.error + (": " + e.description if e.description else ""), {}
            if e.error == "invalid_client" and e.status == 401:
                extra = {"headers": {"WWW-Authenticate": 'Basic realm="pb-oauth-idp"'}}
        self._log(path, params, status, summary)
        self._send(status, obj, **extra)

    do_GET = do_POST = _dispatch

    # ---- client authentication ------------------------------------------------------------------
    def _client(self, p, required=True):
        """The authenticated client_id (body or HTTP Basic), or OAuthError invalid_client."""
        cid, sec = p.get("client_id"), p.get("client_secret")
        auth = self.headers.get("Authorization") or ""
        if auth.lower().startswith("basic "):
            try:
                dec = base64.b64decode(auth[6:].strip()).decode()
                bid, _, bsec = dec.partition(":")
                cid, sec = urllib.parse.unquote_plus(bid), urllib.parse.unquote_plus(bsec)
            except Exception:
                raise OAuthError(401, "invalid_client", "malformed HTTP Basic client authentication")
        st = self.st()
        if not cid:
            if not required:
                return None
            st.count("invalid_client")
            raise OAuthError(401, "invalid_client", "client_id missing")
        if cid not in st.clients:
            st.count("invalid_client")
            raise OAuthError(401, "invalid_client", "unknown client_id '%s'" % cid)
        want = st.clients[cid]
        if want is not None and sec != want:
            st.count("invalid_client")
            raise OAuthError(401, "invalid_client",
                             "client_secret missing" if not sec else "wrong client_secret for '%s'" % cid)
        return cid

    # ---- POST /token ----------------------------------------------------------------------------
    def token(self, p):
        st = self.st()
        with st.lock:
            st.count("token_requests")
            grant = p.get("grant_type", "")
            counter = {"refresh_token": "refresh", DEVICE_GRANT: "device",
                       "authorization_code": "code"}.get(grant)
            if grant == DEVICE_GRANT:
                st.count("device_polls")
            elif grant == "authorization_code":
                st.count("code_exchanges")
            if grant in ("client_credentials", JWT_BEARER):
                try:
                    out = self._grant_client_credentials(p) if grant == "client_credentials" else self._grant_jwt_bearer(p)
                except OAuthError:
                    st.count("app_failed")
                    raise
                st.count("app_ok")
                return 200, out, "app-only token for %s (access %s)" % (out.pop("_user"), short(out["access_token"])), {}
            try:
                cid = self._client(p)
                if grant == "refresh_token":
                    out = self._grant_refresh(p, cid)
                elif grant == DEVICE_GRANT:
                    out = self._grant_device(p, cid)
                elif grant == "authorization_code":
                    out = self._grant_code(p, cid)
                elif not grant:
                    raise OAuthError(400, "invalid_request", "grant_type missing")
                else:
                    raise OAuthError(400, "unsupported_grant_type", "grant_type '%s' is not supported" % grant)
            except OAuthError as e:
                if counter and not (counter == "device" and e.error in ("authorization_pending", "slow_down")):
                    st.count(counter + "_failed")
                raise
            st.count(counter + "_ok")
            summary = "tokens for %s (access %s%s)" % (out.pop("_user"), short(out["access_token"]),
                                                      ", refresh " + short(out["refresh_token"])
                                                      if "refresh_token" in out else "")
            return 200, out, summary, {}

    def _grant_refresh(self, p, cid):
        st = self.st()
        rt = p.get("refresh_token")
        if not rt:
            raise OAuthError(400, "invalid_request", "refresh_token missing")
        rec = st.refresh.get(rt)
        if rec is None:
            raise OAuthError(400, "invalid_grant", "unknown refresh token")
        if not rec["active"]:
            raise OAuthError(400, "invalid_grant", "the refresh token was revoked; sign in again")
        if rec["client_id"] != cid:
            raise OAuthError(400, "invalid_grant", "the refresh token was issued to another client")
        out = st.mint(rec["user"], cid, refresh=st.args.rotate)
        if st.args.rotate:
            rec["active"] = False
            st.refresh[out["refresh_token"]]["scope"] = rec["scope"]
        out["_user"] = rec["user"]
        return out

    def _token_url(self):
        a = self.st().args
        return "http://%s:%d/token" % (a.addr, a.port)

    def _grant_client_credentials(self, p):
        """RFC 6749 4.4 with a private-key JWT (RFC 7523 2.2), as Microsoft Entra ID checks it."""
        st = self.st()
        cid = p.get("client_id", "")

        def refuse(code, why):
            raise OAuthError(401, "invalid_client", "%s: %s" % (code, why))
        if p.get("client_assertion_type") != ASSERTION_TYPE:
            # The secret instead of a certificate: a client of --client.
            self._client(p)
            if cid not in st.apps:
                raise OAuthError(400, "unauthorized_client", "AADSTS700016: Application with identifier '%s' "
                                 "has no app-only access to any mailbox" % cid)
            return self._mint_app(st.apps[cid]["mailbox"], cid)
        app = st.apps.get(cid)
        if app is None:
            raise OAuthError(400, "unauthorized_client", "AADSTS700016: Application with identifier '%s' was not "
                             "found in the directory" % cid)
        header, claims, signing_input, sig = jwt_parts(p.get("client_assertion", ""),
                                                       lambda why: refuse("AADSTS50027", "JWT token is invalid or malformed: " + why))
        if header.get("alg") != "RS256":
            refuse("AADSTS5002738", "Invalid JWT token. '%s' is not a supported signature algorithm." % header.get("alg"))
        if app["revoked"] or header.get("x5t") != app["x5t"] or not rs256_valid(app["public_key"], signing_input, sig):
            refuse("AADSTS700027", "Client assertion contains an invalid signature. [Reason - The key was not found., "
                   "Thumbprint of key used by client: '%s']" % header.get("x5t"))
        if claims.get("aud") != self._token_url():
            refuse("AADSTS50027", "JWT token is invalid or malformed: the audience '%s' is not this token "
                   "endpoint" % claims.get("aud"))
        if claims.get("iss") != cid or claims.get("sub") != cid:
            refuse("AADSTS50027", "JWT token is invalid or malformed: iss and sub must be the client_id")
        now = time.time()
        nbf, exp = claims.get("nbf", claims.get("iat", 0)), claims.get("exp", 0)
        if not (nbf - 300 <= now < exp) or exp - nbf > 600:
            refuse("AADSTS700024", "Client assertion is not within its valid time range.")
        jti = claims.get("jti")
        if not jti or jti in st.jtis:
            refuse("AADSTS700025", "Client assertion jti is missing or was already used.")
        st.jtis.add(jti)
        return self._mint_app(app["mailbox"], cid)

    def _grant_jwt_bearer(self, p):
        """RFC 7523 2.1, as Google checks a service account's assertion."""
        st = self.st()

        def refuse(why, error="invalid_grant"):
            raise OAuthError(400, error, why)
        header, claims, signing_input, sig = jwt_parts(p.get("assertion", ""), lambda why: refuse("Invalid JWT: " + why))
        sa = st.service_accounts.get(claims.get("iss"))
        if sa is None:
            refuse("Invalid issuer: the service account '%s' does not exist" % claims.get("iss"), "invalid_client")
        if header.get("alg") != "RS256" or header.get("kid") != sa["kid"] or sa["revoked"] or \
                not rs256_valid(sa["public_key"], signing_input, sig):
            refuse("Invalid JWT Signature.")
        if claims.get("aud") != self._token_url():
            refuse("Invalid JWT: audience '%s' is not this token endpoint" % claims.get("aud"))
        now = time.time()
        iat, exp = claims.get("iat", 0), claims.get("exp", 0)
        if not (iat - 300 <= now < exp) or exp - iat > 3600:
            refuse("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.")
        user = claims.get("sub")
        if not user:
            refuse("Invalid email or User ID")
        if "https://mail.google.com/" not in (claims.get("scope") or "").split():
            refuse("Client is unauthorized to retrieve access tokens using this method, or client not authorized "
                   "for any of the scopes requested.", "unauthorized_client")
        return self._mint_app(user, claims["iss"])

    def _mint_app(self, user, cid):
        out = self.st().mint(user, cid, refresh=False)
        out["_user"] = user
        return out

    def _grant_device(self, p, cid):
        st = self.st()
        dc = p.get("device_code")
        if not dc:
            raise OAuthError(400, "invalid_request", "device_code missing")
        rec = st.devices.get(dc)
        if rec is None:
            raise OAuthError(400, "invalid_grant", "unknown device_code")
        if rec["client_id"] != cid:
            raise OAuthError(400, "invalid_grant", "the device_code was issued to another client")
        if rec["status"] == "used":
            raise OAuthError(400, "invalid_grant", "the device_code was already used")
        if time.time() >= rec["expires"]:
            raise OAuthError(400, "expired_token", "the device_code expired")
        if rec["status"] == "denied":
            raise OAuthError(400, "access_denied", "the user declined the authorization request")
        if st.slow_down > 0:
            st.slow_down -= 1
            raise OAuthError(400, "slow_down", "polling too fast")
        if rec["status"] == "pending" and st.auto_approve:
            rec["status"] = "approved"
        if rec["status"] == "pending":
            st.count("device_pending")
            raise OAuthError(400, "authorization_pending", "waiting for the user at the verification URI")
        rec["status"] = "used"
        out = st.mint(rec["user"], cid, openid=asked_openid(rec["scope"]))
        out["_user"] = rec["user"]
        return out

    def _grant_code(self, p, cid):
        st = self.st()
        code = p.get("code")
        if not code:
            raise OAuthError(400, "invalid_request", "code missing")
        rec = st.codes.get(code)
        if rec is None:
            raise OAuthError(400, "invalid_grant", "unknown authorization code")
        if rec["used"]:
            raise OAuthError(400, "invalid_grant", "the authorization code was already used")
        if time.time() >= rec["expires"]:
            raise OAuthError(400, "invalid_grant", "the authorization code expired")
        if rec["client_id"] != cid:
            raise OAuthError(400, "invalid_grant", "the authorization code was issued to another client")
        if p.get("redirect_uri") != rec["redirect_uri"]:
            raise OAuthError(400, "invalid_grant", "redirect_uri does not match the one of the authorization request")
        verifier = p.get("code_verifier")
        if not verifier:
            raise OAuthError(400, "invalid_grant", "code_verifier missing (PKCE is required)")
        calc = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        if calc != rec["challenge"]:
            raise OAuthError(400, "invalid_grant", "code_verifier does not match the code_challenge (S256)")
        rec["used"] = True
        out = st.mint(rec["user"], cid, openid=asked_openid(rec["scope"]))
        out["_user"] = rec["user"]
        return out

    # ---- POST /devicecode -----------------------------------------------------------------------
    def devicecode(self, p):
        st = self.st()
        with st.lock:
            cid = self._client(p)
            alphabet = "BCDFGHJKLMNPQRSTVWXZ"      # RFC 8628 6.1: no vowels, no look-alikes
            uc = "".join(secrets.choice(alphabet) for _ in range(4)) + "-" + \
                 "".join(secrets.choice(alphabet) for _ in range(4))
            dc = "dc-" + secrets.token_urlsafe(24)
            st.devices[dc] = dict(user_code=uc, client_id=cid, scope=p.get("scope", ""), status="pending",
                                  user=p.get("login_hint") or st.args.user,
                                  expires=time.time() + st.args.device_expires_in)
            st.count("device_authorizations")
            base = "http://%s:%d" % (st.args.addr, st.args.port)
            out = {"device_code": dc, "user_code": uc, "verification_uri": base + "/device",
                   "verification_uri_complete": base + "/device?user_code=" + uc,
                   "expires_in": st.args.device_expires_in, "interval": st.args.interval,
                   "message": "To sign in, open %s/device and enter the code %s" % (base, uc)}
            return 200, out, "user_code %s device_code %s" % (uc, short(dc)), {}

    # ---- GET /device ----------------------------------------------------------------------------
    def device_page(self, p):
        st = self.st()
        uc = p.get("user_code")
        with st.lock:
            if not uc:
                html = b"<html><body><form>Code: <input name=user_code><input type=submit></form></body></html>"
                return 200, None, "form", {"body": html, "ctype": "text/html"}
            n = self._approve(uc.upper(), p.get("user"))
        if n == 0:
            html = b"<html><body>Unknown or used code.</body></html>"
            return 404, None, "no pending code " + uc, {"body": html, "ctype": "text/html"}
        html = b"<html><body>Signed in. You can close this window.</body></html>"
        return 200, None, "approved " + uc, {"body": html, "ctype": "text/html"}

    def _approve(self, user_code=None, user=None):
        n = 0
        for rec in self.st().devices.values():
            if rec["status"] == "pending" and (not user_code or rec["user_code"] == user_code):
                rec["status"] = "approved"
                if user:
                    rec["user"] = user
                n += 1
        return n

    # ---- GET /authorize -------------------------------------------------------------------------
    def authorize(self, p):
        st = self.st()
        cid, ru, state = p.get("client_id"), p.get("redirect_uri"), p.get("state")
        with st.lock:
            if not cid or cid not in st.clients:
                raise OAuthError(400, "invalid_client", "unknown client_id '%s'" % (cid or ""))
            if not ru or not ru.startswith(("http://", "https://")):
                raise OAuthError(400, "invalid_request", "redirect_uri missing or not absolute")

            def redirect(params, summary):
                sep = "&" if urllib.parse.urlsplit(ru).query else "?"
                if state is not None:
                    params["state"] = state
                loc = ru + sep + urllib.parse.urlencode(params)
                html = ("<html><body>Redirecting to <a href=\"%s\">the application</a></body></html>" % loc).encode()
                return 302, None, summary, {"headers": {"Location": loc}, "body": html, "ctype": "text/html"}

            if p.get("response_type") != "code":
                return redirect({"error": "unsupported_response_type"}, "response_type not code")
            if not p.get("code_challenge"):
                return redirect({"error": "invalid_request", "error_description": "PKCE code_challenge required"},
                                "no code_challenge")
            if p.get("code_challenge_method") != "S256":
                return redirect({"error": "invalid_request", "error_description": "code_challenge_method must be S256"},
                                "code_challenge_method not S256")
            code = "ac-" + secrets.token_urlsafe(24)
            user = p.get("user") or p.get("login_hint") or st.args.user
            st.codes[code] = dict(client_id=cid, redirect_uri=ru, challenge=p["code_challenge"], user=user,
                                  scope=p.get("scope", ""), expires=time.time() + 600, used=False)
            st.count("authorize")
            return redirect({"code": code}, "code %s for %s" % (short(code), user))

    # ---- validation -----------------------------------------------------------------------------
    def introspect(self, p):
        st = self.st()
        tok = p.get("token")
        auth = self.headers.get("Authorization") or ""
        if not tok and auth.lower().startswith("bearer "):
            tok = auth[7:].strip()
        with st.lock:
            st.count("introspections")
            active, rec = st.access_info(tok or "")
            if active:
                st.count("introspections_ok")
                out = self._claims(rec)
                out["active"] = True
                return 200, out, "active, %s, scope '%s'" % (rec["user"], rec["scope"]), {}
            st.count("introspections_failed")
            why = "unknown token" if rec is None else ("expired" if rec["active"] else "expired by control")
            return 200, {"active": False}, "inactive (%s)" % why, {}

    def tokeninfo(self, p):
        st = self.st()
        tok = p.get("access_token") or p.get("token") or ""
        with st.lock:
            active, rec = st.access_info(tok)
            if not active:
                st.count("tokeninfo_failed")
                raise OAuthError(400, "invalid_token", "the access token is invalid or expired")
            st.count("tokeninfo_ok")
            out = self._claims(rec)
            out["active"] = True      # Dovecot's active_attribute: all fields here, no extra introspection
            out["expires_in"] = max(1, int(rec["exp"] - time.time()))
            return 200, out, "valid, %s" % rec["user"], {}

    def _claims(self, rec):
        return {"username": rec["user"], "sub": rec["user"], "email": "%s@%s" % (rec["user"], self.st().args.domain),
                "scope": rec["scope"], "client_id": rec["client_id"], "token_type": "Bearer",
                "iat": rec["iat"], "exp": rec["exp"]}

    def discovery(self, p):
        a = self.st().args
        base = "http://%s:%d" % (a.addr, a.port)
        return 200, {"issuer": base, "token_endpoint": base + "/token",
                     "device_authorization_endpoint": base + "/devicecode",
                     "authorization_endpoint": base + "/authorize",
                     "introspection_endpoint": base + "/introspect",
                     "grant_types_supported": ["refresh_token", DEVICE_GRANT, "authorization_code",
                                               "client_credentials", JWT_BEARER],
                     "code_challenge_methods_supported": ["S256"]}, "metadata", {}

    # ---- control --------------------------------------------------------------------------------
    def c_issue(self, p):
        st = self.st()
        with st.lock:
            user = p.get("user") or st.args.user
            cid = p.get("client_id") or st.args.client_id
            out = st.mint(user, cid, scope=p.get("scope") or None)
            out["user"] = user
            return 200, out, "issued for %s (access %s, refresh %s)" % (
                user, short(out["access_token"]), short(out["refresh_token"])), {}

    def c_approve(self, p):
        with self.st().lock:
            n = self._approve((p.get("user_code") or "").upper() or None, p.get("user"))
        return 200, {"approved": n}, "approved %d" % n, {}

    def c_deny(self, p):
        st = self.st()
        uc = (p.get("user_code") or "").upper()
        n = 0
        with st.lock:
            for rec in st.devices.values():
                if rec["status"] == "pending" and (not uc or rec["user_code"] == uc):
                    rec["status"] = "denied"
                    n += 1
        return 200, {"denied": n}, "denied %d" % n, {}

    def c_auto_approve(self, p):
        st = self.st()
        with st.lock:
            st.auto_approve = p.get("on", "1") not in ("0", "false", "no", "off")
            n = self._approve() if st.auto_approve else 0
        return 200, {"auto_approve_device": st.auto_approve, "approved": n}, "auto-approve %s" % st.auto_approve, {}

    def c_slow_down(self, p):
        st = self.st()
        with st.lock:
            st.slow_down = int(p.get("count", "1"))
        return 200, {"slow_down": st.slow_down}, "slow_down x%d" % st.slow_down, {}

    def _invalidate(self, table, p, what):
        st = self.st()
        user = p.get("user")
        n = 0
        with st.lock:
            for rec in table(st).values():
                if rec["active"] and (not user or rec["user"] == user):
                    rec["active"] = False
                    n += 1
        return 200, {what: n}, "%s %d" % (what, n), {}

    def c_expire_access(self, p):
        return self._invalidate(lambda st: st.access, p, "expired")

    def c_revoke_refresh(self, p):
        return self._invalidate(lambda st: st.refresh, p, "revoked")

    def c_scope(self, p):
        st = self.st()
        with st.lock:
            s = p.get("scope")
            st.scope_override = s if s else None
            return 200, {"scope": st.granted_scope()}, "scope now '%s'" % st.granted_scope(), {}

    def c_expires_in(self, p):
        st = self.st()
        with st.lock:
            st.expires_in = int(p.get("seconds", st.args.expires_in))
            return 200, {"expires_in": st.expires_in}, "expires_in now %d" % st.expires_in, {}

    def c_revoke_key(self, p):
        st = self.st()
        cid = p.get("client_id", "")
        with st.lock:
            reg = st.apps.get(cid) or st.service_accounts.get(cid)
            if reg is None:
                raise OAuthError(404, "not_found", "no app or service account '%s'" % cid)
            reg["revoked"] = True
        return 200, {"revoked": cid}, "key of %s revoked" % cid, {}

    def c_tokens(self, p):
        st = self.st()
        with st.lock:
            return 200, {"access": sorted(st.access), "refresh": sorted(st.refresh)}, "tokens", {}

    def c_stats(self, p):
        st = self.st()
        with st.lock:
            return 200, dict(st.stats), "stats", {}


ROUTES = {
    ("POST", "/token"): Handler.token,
    ("POST", "/devicecode"): Handler.devicecode,
    ("GET", "/device"): Handler.device_page,
    ("GET", "/authorize"): Handler.authorize,
    ("*", "/introspect"): Handler.introspect,
    ("GET", "/tokeninfo"): Handler.tokeninfo,
    ("GET", "/.well-known/openid-configuration"): Handler.discovery,
    ("POST", "/control/issue"): Handler.c_issue,
    ("POST", "/control/approve"): Handler.c_approve,
    ("POST", "/control/deny"): Handler.c_deny,
    ("POST", "/control/auto-approve-device"): Handler.c_auto_approve,
    ("POST", "/control/slow-down"): Handler.c_slow_down,
    ("POST", "/control/expire-access"): Handler.c_expire_access,
    ("POST", "/control/revoke-refresh"): Handler.c_revoke_refresh,
    ("POST", "/control/scope"): Handler.c_scope,
    ("POST", "/control/expires-in"): Handler.c_expires_in,
    ("*", "/control/stats"): Handler.c_stats,
    ("POST", "/control/revoke-key"): Handler.c_revoke_key,
    ("*", "/control/tokens"): Handler.c_tokens,
}


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, addr, state, logfile):
        self.state = state
        self._logf = open(logfile, "a", buffering=1, encoding="utf-8", errors="backslashreplace")
        self._loglock = threading.Lock()
        super().__init__(addr, Handler)

    def log(self, line):
        with self._loglock:
            self._logf.write(line + "\n")


def main():
    ap = argparse.ArgumentParser(description="simulated OAuth 2.0 identity provider for the tests",
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--addr", required=True, help="loopback IP to listen on (127.x.y.z)")
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--log", required=True, help="request log file (appended)")
    ap.add_argument("--pidfile", help="write the process id here once listening")
    ap.add_argument("--user", default="alice", help="whom the login flows sign in (default alice)")
    ap.add_argument("--domain", default="example.test", help="domain of the email claim")
    ap.add_argument("--client-id", default="pb-test-client", help="the registered client (default pb-test-client)")
    ap.add_argument("--client-secret", default=None, help="its secret (default: a public client, no secret)")
    ap.add_argument("--client", action="append", metavar="ID[:SECRET]", help="one more registered client")
    ap.add_argument("--app", action="append", metavar="CLIENT_ID:CERT_PEM:MAILBOX",
                    help="an app registration with this certificate and app-only access to MAILBOX")
    ap.add_argument("--service-account", action="append", metavar="EMAIL:CERT_OR_PUBKEY_PEM:KEY_ID",
                    help="a service account with domain-wide delegation for the mail scope")
    ap.add_argument("--scope", default="mail offline_access", help="scope of issued access tokens")
    ap.add_argument("--expires-in", type=int, default=3600, help="lifetime of access tokens in seconds")
    ap.add_argument("--rotate", action="store_true", help="each refresh returns a new refresh token "
                    "and invalidates the old one")
    ap.add_argument("--interval", type=int, default=1, help="device flow polling interval (seconds)")
    ap.add_argument("--device-expires-in", type=int, default=900, help="lifetime of device codes")
    ap.add_argument("--auto-approve-device", action="store_true", help="approve device codes at their first poll")
    args = ap.parse_args()
    if not args.addr.startswith("127."):
        ap.error("--addr must be a loopback address (127.x.y.z)")

    state = State(args)
    srv = Server((args.addr, args.port), state, args.log)
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=srv.shutdown, daemon=True).start())
    if args.pidfile:
        with open(args.pidfile + ".tmp", "w") as f:
            f.write("%d\n" % os.getpid())
        os.replace(args.pidfile + ".tmp", args.pidfile)
    srv.log("ready http://%s:%d user=%s client_id=%s secret=%s scope='%s' expires_in=%d rotate=%s interval=%d"
            % (args.addr, args.port, args.user, args.client_id, "yes" if args.client_secret else "no",
               args.scope, args.expires_in, args.rotate, args.interval))
    try:
        srv.serve_forever(poll_interval=0.5)
    finally:
        srv.log("stopped")
        srv.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
