// Listener plumbing (binding plain and implicit-TLS addresses, connection slots, TLS
// context, the hashing pool) and the relay policy hooks, which spool what the client sent with our
// Received: line and the Message-ID:/Date: it lacked.
#include "app/listener.hpp"

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/ssl/context.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

#include <random>

#include "app/relay_login.hpp"
#include "app/relay_slots.hpp"
#include "app/storage.hpp"
#include "endpoint/route.hpp"
#include "mail/headers.hpp"
#include "net/accept.hpp"
#include "net/tls.hpp"
#include "net/transport.hpp"
#include "queue/spool.hpp"
#include "routing/sender_route.hpp"
#include "smtp/server.hpp"
#include "util/log.hpp"
#include "util/password.hpp"

namespace pb::app {
namespace asio = boost::asio;
namespace ssl = boost::asio::ssl;
using tcp = asio::ip::tcp;

namespace {

bool is_loopback_ip(const std::string& ip) {
  return ip.rfind("127.", 0) == 0 || ip == "::1" || ip.rfind("::ffff:127.", 0) == 0;
}

// Streams the message into a spool file after our Received: line, adding the Message-ID: and
// Date: it lacks at the end of its header section (RFC 6409 8.2, 8.3: what the listener takes
// is submitted mail, from allow_networks or a login); picks Subject/Message-ID for the queue.
class SpoolSink final : public smtp::MessageSink {
 public:
  SpoolSink(const std::filesystem::path& spool_dir, const std::string& received, mail::HeaderCompleter c)
      : file(spool_dir), completer(std::move(c)) {
    file.write(received);
  }
  void write(std::string_view bytes) override {
    if (!completer.in_header()) return file.write(bytes);  // the body: straight through
    out_.clear();
    completer.feed(bytes, out_);
    file.write(out_);
  }
  // The message is complete: what the completer held back, and the fields if it had no body.
  void finish() {
    out_.clear();
    completer.finish(out_);
    file.write(out_);
  }
  queue::SpoolFile file;
  mail::HeaderCompleter completer;

 private:
  std::string out_;
};

// 64 bits from the system's random source for each Message-ID: never a sequence a stranger could
// continue.
std::uint64_t message_id_random() {
  std::random_device rd;
  return (static_cast<std::uint64_t>(rd()) << 32) ^ rd();
}

const smtp::HookReply kNoStorage{452, "4.3.1", "insufficient system storage, try again later"};

class RelayHooks final : public smtp::Hooks {
 public:
  RelayHooks(Context& ctx, GroupCommitter& committer, RelayLogin& login,
             std::function<void(const std::string&)> on_queued, std::string peer_ip)
      : ctx_(ctx), committer_(committer), login_(login), on_queued_(std::move(on_queued)), peer_ip_(std::move(peer_ip)) {}

  // Against the current config: a login added by a reload works in sessions already open.
  asio::awaitable<smtp::AuthResult> authenticate(const std::string& user, const std::string& password) override {
    co_return co_await login_.check(ctx_.config, user, password, peer_ip_);
  }

  // RFC 1870 6.1 / RFC 3463 4.3.1: no room for the message (its SIZE= if given) while keeping the
  // reserve free: refused before a byte of it is read; the client tries again later.
  std::optional<smtp::HookReply> check_sender(const smtp::MailTransaction& t) override {
    // RFC 4954 / RFC 6409 8.1: a submission server may tie senders to logins (Postfix:
    // reject_sender_login_mismatch, 553 5.7.1).
    if (const auto* u = t.auth_user.empty() ? nullptr : ctx_.config->relay.find_user(t.auth_user);
        u && !routing::sender_allowed(u->senders, t.sender)) {
      log::notice("relay: login '" + u->name + "' from " + peer_ip_ + " may not send as <" + t.sender + ">");
      return smtp::HookReply{553, "5.7.1", "<" + t.sender + ">: sender address not allowed for login " + u->name +
                                               "; its [[relay.user]] senders list what it may use"};
    }
    auto storage = check_storage(ctx_, t.declared_size.value_or(0));
    if (storage.ok) return std::nullopt;
    log_storage_problem(storage, "new mail from the office is refused with 452 4.3.1");
    return kNoStorage;
  }

  std::optional<smtp::HookReply> check_recipient(const smtp::MailTransaction& t, const std::string& rcpt) override {
    const auto& relay = ctx_.config->relay;
    bool trusted = !t.auth_user.empty() ||
                   std::any_of(relay.allow_networks.begin(), relay.allow_networks.end(),
                               [&](const inet::Cidr& c) { return c.contains(peer_ip_); });
    if (!trusted) {
      log::warn("relay: refused <" + rcpt + "> from " + peer_ip_ + ": not in allow_networks and not logged in");
      return smtp::HookReply{554, "5.7.1", "<" + rcpt + ">: relay access denied; log in first or ask the admin to "
                                           "add this address to [relay] allow_networks"};
    }
    if (!routing::route_for_sender(ctx_.config->smarthosts, t.sender))
      return smtp::HookReply{550, "5.7.1", "no smarthost takes mail from <" + t.sender + ">: add it to the senders of a "
                                           "[[smarthost]] in the postbridge config, or make one the default"};
    return std::nullopt;
  }

  std::unique_ptr<smtp::MessageSink> begin_message(const smtp::MailTransaction& t) override {
    mail::ReceivedInfo info;
    info.from_host = t.helo;
    info.from_addr = peer_ip_;
    info.by_host = ctx_.config->service.hostname;
    info.protocol = mail::smtp_transmission_type(t.esmtp, t.smtputf8, t.tls, !t.auth_user.empty());
    if (t.recipients.size() == 1) info.for_addr = t.recipients.front();
    if (ctx_.loop_marker) info.mark = ctx_.loop_marker->make(info.by_host);
    const auto now = Context::now();
    mail::HeaderCompleter completer(mail::make_message_id(now, message_id_random(), info.by_host),
                                    mail::rfc5322_date(now));
    return std::make_unique<SpoolSink>(ctx_.store.spool_dir(), mail::build_received(info, now), std::move(completer));
  }

  asio::awaitable<smtp::HookReply> commit(std::unique_ptr<smtp::MessageSink> sink, const smtp::MailTransaction& t) override {
    auto& s = static_cast<SpoolSink&>(*sink);
    auto route = routing::route_for_sender(ctx_.config->smarthosts, t.sender);
    if (!route) co_return smtp::HookReply{451, "4.3.0", "the smarthost for this sender was removed; try again later"};
    queue::NewMessage m;
    m.route = endpoint::smarthost_route_name(*route);
    m.sender = t.sender;
    m.recipients = t.recipients;
    m.notify = t.notify;
    m.orcpt = t.orcpt;
    m.envid = t.envid;
    m.ret = t.ret;
    m.auth_user = t.auth_user;
    try {
      s.finish();
    } catch (const std::exception& ex) {
      co_return queue::is_storage_full(ex) ? kNoStorage : smtp::HookReply{451, "4.3.0", "could not store the message safely; please try again later"};
    }
    log_added_fields(s.completer, t);
    m.size = s.file.size();
    m.subject = mail::decode_rfc2047(s.completer.headers().get("Subject").value_or(""));
    m.message_id = s.completer.message_id();
    std::string rcpts;
    for (const auto& r : m.recipients) rcpts += (rcpts.empty() ? "" : ", ") + r;
    auto e = queue::Event::received(m, rcpts, "from " + peer_ip_ + (t.auth_user.empty() ? "" : " (user " + t.auth_user + ")"));
    try {
      m.spool_name = s.file.commit_deferred();
      auto id = co_await committer_.commit(std::move(m), std::move(e));
      on_queued_(endpoint::smarthost_route_name(*route));
      co_return smtp::HookReply{250, "2.0.0", "Ok: queued as " + std::to_string(id)};
    } catch (const std::exception& ex) {
      if (queue::is_storage_full(ex)) co_return kNoStorage;
      co_return smtp::HookReply{451, "4.3.0", "could not store the message safely; please try again later"};
    }
  }

  void abandon(std::unique_ptr<smtp::MessageSink> sink) override { static_cast<SpoolSink&>(*sink).file.abandon(); }

 private:
  // Once per message: the client's software writes no Message-ID or Date, which the admin may
  // want to fix there (a DKIM signature made before us does not cover what we add).
  void log_added_fields(const mail::HeaderCompleter& c, const smtp::MailTransaction& t) const {
    std::string added;
    if (c.added_message_id()) added = "Message-ID: " + c.message_id();
    if (c.added_date()) added += (added.empty() ? "" : " and ") + std::string("Date:");
    if (added.empty()) return;
    log::info("relay: added " + added + " to the message from <" + t.sender + "> (" + peer_ip_ +
              "): the sending program wrote none (RFC 6409 8.2, 8.3)");
  }

  Context& ctx_;
  GroupCommitter& committer_;
  RelayLogin& login_;
  std::function<void(const std::string&)> on_queued_;
  std::string peer_ip_;
};

std::shared_ptr<ssl::context> server_context(const config::Relay& relay) {
  if (!relay.tls()) return nullptr;
  return net::server_context(relay.tls_cert_file, relay.tls_key_file);
}

// RFC 5321 3.8: 421 and close, so the client retries later.
std::string busy_reply(RelaySlots::Refusal why) {
  return why == RelaySlots::Refusal::full ? "421 4.7.0 too many connections, try again later\r\n"
                                          : "421 4.7.0 too many connections from your address, try again later\r\n";
}

}  // namespace

struct Listener::Impl {
  Impl(Context& c, GroupCommitter& gc, std::function<void(const std::string&)> queued)
      : ctx(c), committer(gc), on_queued(std::move(queued)),
        login(hasher.get_executor(), c.logins, [](const std::string& password, const std::string& hash) {
          return password::verify_password(password, hash);
        }) {}

  Context& ctx;
  GroupCommitter& committer;
  std::function<void(const std::string&)> on_queued;
  std::vector<std::unique_ptr<tcp::acceptor>> acceptors;
  std::vector<inet::Endpoint> bound, bound_tls;  // what `acceptors` listen on: listen, listen_tls
  // Closed acceptors stay alive: their accept loops may still be about to wake up and look.
  std::vector<std::unique_ptr<tcp::acceptor>> retired;
  std::shared_ptr<ssl::context> tls;
  RelaySlots slots;
  // Password hashes take tens of ms: never on the mail thread. One thread is enough for an
  // office's logins, and a flood of guesses then uses one core at most.
  asio::thread_pool hasher{1};
  RelayLogin login;  // after hasher: it uses the pool's executor
};

Listener::Listener(Context& ctx, GroupCommitter& committer, std::function<void(const std::string&)> on_queued)
    : impl_(std::make_unique<Impl>(ctx, committer, std::move(on_queued))) {}

Listener::~Listener() = default;

int Listener::sessions() const { return impl_->slots.total(); }

void Listener::start() {
  const auto& relay = impl_->ctx.config->relay;
  try {
    impl_->tls = server_context(relay);
  } catch (const std::exception& e) {
    throw std::runtime_error("cannot load the listener's TLS certificate or key (" + relay.tls_cert_file + "): " + e.what());
  }
  bind_all();
}

void Listener::reconfigure() {
  const auto& relay = impl_->ctx.config->relay;
  try {
    impl_->tls = server_context(relay);
  } catch (const std::exception& e) {
    log::error("relay: cannot load the TLS certificate or key " + relay.tls_cert_file + " after the reload: " +
               e.what() + "; the previous one stays in use");
  }
  if (relay.listen == impl_->bound && relay.listen_tls == impl_->bound_tls) return;
  stop();
  bind_all();
}

void Listener::bind_all() {
  const auto& relay = impl_->ctx.config->relay;
  for (const auto& ep : relay.listen) bind(ep, false);
  for (const auto& ep : relay.listen_tls) bind(ep, true);
}

void Listener::bind(const inet::Endpoint& ep, bool implicit_tls) {
  auto& ctx = impl_->ctx;
  const std::string key = implicit_tls ? "[relay] listen_tls" : "[relay] listen";
  boost::system::error_code ec;
  auto addr = asio::ip::make_address(ep.host == "localhost" ? "127.0.0.1" : ep.host, ec);
  if (ec) throw std::runtime_error(key + ": cannot use address " + ep.host + ": " + ec.message());
  auto acc = net::listen_on(ctx.executor, tcp::endpoint(addr, ep.port), ec);
  if (ec) {
    std::string hint = ec == asio::error::address_in_use  ? " (another program uses this port)"
                       : ec == asio::error::access_denied ? " (ports below 1024 need root or CAP_NET_BIND_SERVICE)"
                                                          : "";
    throw std::runtime_error(key + ": cannot listen on " + ep.str() + ": " + ec.message() + hint);
  }
  log::notice("relay: listening on " + ep.str() +
              (implicit_tls ? " (implicit TLS)" : impl_->tls ? " (STARTTLS available)" : ""));
  auto* a = acc.get();
  impl_->acceptors.push_back(std::move(acc));
  (implicit_tls ? impl_->bound_tls : impl_->bound).push_back(ep);
  asio::co_spawn(ctx.executor,
                 net::accept_loop(*a, "relay", ep.str(),
                                  [this, implicit_tls](tcp::socket socket) {
                                    auto ex = socket.get_executor();
                                    asio::co_spawn(ex, session(std::move(socket), implicit_tls), asio::detached);
                                  }),
                 asio::detached);
}

void Listener::stop() {
  for (auto& a : impl_->acceptors) {
    boost::system::error_code ec;
    a->close(ec);
    impl_->retired.push_back(std::move(a));
  }
  impl_->acceptors.clear();
  impl_->bound.clear();
  impl_->bound_tls.clear();
}

// One client, on a plain or an implicit-TLS address: both kinds share the connection slots (the
// caps count a client's connections of either kind together).
asio::awaitable<void> Listener::session(tcp::socket socket, bool implicit_tls) {
  auto& ctx = impl_->ctx;
  const auto cfg = ctx.config;  // the session keeps the config it started with
  const auto& relay = cfg->relay;
  boost::system::error_code ec;
  auto remote = socket.remote_endpoint(ec);
  if (ec) co_return;  // gone already
  const std::string client = remote.address().to_string();
  auto taken = impl_->slots.take(relay, client);
  if (auto* why = std::get_if<RelaySlots::Refusal>(&taken)) {
    const std::string how = implicit_tls ? " (implicit TLS: closed without a reply)" : "";
    if (*why == RelaySlots::Refusal::address_full)
      log::notice("relay: refused a connection from " + client + ": it holds " +
                  std::to_string(impl_->slots.from(client)) + " already ([relay] max_connections_per_address)" + how);
    else
      log::notice("relay: refused a connection from " + client + ": all " + std::to_string(relay.max_connections) +
                  " connections are in use ([relay] max_connections)" + how);
    // On an implicit-TLS address the connection just closes: a plain-text 421 would be garbage to
    // a TLS client, and a handshake for a refused connection would cost what the cap saves. The
    // client sees a lost connection and tries again later, as after a 421.
    if (implicit_tls) co_return;
    const std::string busy = busy_reply(*why);
    co_await asio::async_write(socket, asio::buffer(busy), asio::redirect_error(asio::use_awaitable, ec));
    co_return;
  }
  RelaySlots::Slot slot = std::move(std::get<RelaySlots::Slot>(taken));
  auto transport = net::adopt_server_socket(std::move(socket), impl_->tls,
                                            std::chrono::duration_cast<std::chrono::milliseconds>(relay.command_timeout));
  std::string ip = net::peer_ip(*transport);
  smtp::ServerSettings settings;
  settings.hostname = cfg->service.hostname;
  settings.max_message_size = relay.max_message_size.bytes;
  settings.max_recipients = relay.max_recipients;
  settings.command_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(relay.command_timeout);
  settings.data_timeout = std::chrono::duration_cast<std::chrono::milliseconds>(relay.data_timeout);
  settings.tls_available = impl_->tls != nullptr;
  settings.implicit_tls = implicit_tls;
  settings.bare_line_ends = relay.bare_line_feeds == config::BareLineFeeds::reject ? smtp::BareLineEnds::reject
                                                                                   : smtp::BareLineEnds::normalize;
  settings.auth_available = !relay.users.empty();
  settings.peer_is_loopback = is_loopback_ip(ip);
  settings.peer_ip = ip;
  RelayHooks hooks(ctx, impl_->committer, impl_->login, impl_->on_queued, ip);
  try {
    co_await smtp::serve(*transport, settings, hooks);
  } catch (const std::exception& e) {
    log::warn("relay: session with " + transport->peer() + " ended: " + e.what());
  }
}

}  // namespace pb::app
