// The tables: messages and recipients (the queue), uidls and seen_messages (the ledger), events
// (the log), account_state, alerts. Steps are appended for later schema changes, never edited.
#include "queue/schema.hpp"

namespace pb::queue::db {

namespace {

constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE messages (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,  -- never reused: a queue id names one message forever
  route        TEXT    NOT NULL,
  account      TEXT    NOT NULL DEFAULT '',
  uidl         TEXT    NOT NULL DEFAULT '',
  sender       TEXT    NOT NULL DEFAULT '',
  spool_name   TEXT    NOT NULL UNIQUE,   -- one row per spool file: removing it can hurt no other row
  size         INTEGER NOT NULL DEFAULT 0 CHECK (size >= 0),
  subject      TEXT    NOT NULL DEFAULT '',
  message_id   TEXT    NOT NULL DEFAULT '',  -- the Message-ID header; the queue id is `id`
  state        TEXT    NOT NULL DEFAULT 'queued'
                       CHECK (state IN ('queued', 'delivered', 'failed', 'held')),
  attempts     INTEGER NOT NULL DEFAULT 0,
  created_at   INTEGER NOT NULL,
  next_attempt INTEGER NOT NULL,
  last_reply   TEXT    NOT NULL DEFAULT '',
  updated_at   INTEGER NOT NULL,
  envid        TEXT    NOT NULL DEFAULT '',  -- DSN ENVID (RFC 3461 4.4), kept for the bounce
  ret          TEXT    NOT NULL DEFAULT '',  -- DSN RET=FULL|HDRS
  is_bounce    INTEGER NOT NULL DEFAULT 0,   -- a DSN/notice: its own failure never bounces again
  auth_user    TEXT    NOT NULL DEFAULT '',  -- relay client that logged in, for the log
  delay_notified INTEGER NOT NULL DEFAULT 0, -- a "delayed" DSN was sent
  attempt_open INTEGER NOT NULL DEFAULT 0    -- attempt recorded, outcome not yet: set while sending
);
CREATE INDEX messages_due ON messages (state, route, next_attempt);
CREATE INDEX messages_account ON messages (account, state);

CREATE TABLE recipients (
  msg_id  INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
  address TEXT    NOT NULL,  -- domain lower-cased (RFC 5321 2.4), local part as given
  state   TEXT    NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'delivered', 'failed')),
  reply   TEXT    NOT NULL DEFAULT '',
  notify  TEXT    NOT NULL DEFAULT '',  -- DSN NOTIFY= as given (RFC 3461 4.1)
  orcpt   TEXT    NOT NULL DEFAULT '',  -- DSN ORCPT= (RFC 3461 4.2)
  PRIMARY KEY (msg_id, address)
);

CREATE TABLE uidls (
  account    TEXT    NOT NULL,
  uidl       TEXT    NOT NULL,
  state      TEXT    NOT NULL CHECK (state IN ('stored', 'deleted', 'too_large')),
  msg_id     INTEGER REFERENCES messages (id) ON DELETE SET NULL,
  size       INTEGER NOT NULL DEFAULT 0,
  first_seen INTEGER NOT NULL,
  PRIMARY KEY (account, uidl)
);
CREATE INDEX uidls_msg ON uidls (msg_id);  -- keeps ON DELETE SET NULL from scanning the table

CREATE TABLE events (
  id         INTEGER PRIMARY KEY,
  time       INTEGER NOT NULL,
  kind       TEXT    NOT NULL,
  account    TEXT    NOT NULL DEFAULT '',
  route      TEXT    NOT NULL DEFAULT '',
  msg_id     INTEGER,  -- no foreign key: the log outlives purged messages
  sender     TEXT    NOT NULL DEFAULT '',
  recipients TEXT    NOT NULL DEFAULT '',
  subject    TEXT    NOT NULL DEFAULT '',
  size       INTEGER NOT NULL DEFAULT 0,
  count      INTEGER NOT NULL DEFAULT 0,
  result     TEXT    NOT NULL DEFAULT '',
  text       TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX events_time ON events (time);
CREATE INDEX events_kind_time ON events (kind, time);

CREATE TABLE account_state (
  name         TEXT    PRIMARY KEY,
  state        TEXT    NOT NULL DEFAULT 'ok',
  last_poll    INTEGER NOT NULL DEFAULT 0,
  last_success INTEGER NOT NULL DEFAULT 0,
  next_poll    INTEGER NOT NULL DEFAULT 0,
  last_error   TEXT    NOT NULL DEFAULT '',
  failures     INTEGER NOT NULL DEFAULT 0
);
)sql"},
    // Multidrop: two more recipient outcomes, and what each recipient already received.
    // SQLite cannot change a CHECK constraint, so the recipients table is rebuilt.
    {2, R"sql(
CREATE TABLE recipients_v2 (
  msg_id  INTEGER NOT NULL REFERENCES messages (id) ON DELETE CASCADE,
  address TEXT    NOT NULL,
  state   TEXT    NOT NULL DEFAULT 'pending'
                  CHECK (state IN ('pending', 'delivered', 'failed', 'redirected', 'duplicate')),
  reply   TEXT    NOT NULL DEFAULT '',
  notify  TEXT    NOT NULL DEFAULT '',
  orcpt   TEXT    NOT NULL DEFAULT '',
  PRIMARY KEY (msg_id, address)
);
INSERT INTO recipients_v2 (msg_id, address, state, reply, notify, orcpt)
  SELECT msg_id, address, state, reply, notify, orcpt FROM recipients;
DROP TABLE recipients;
ALTER TABLE recipients_v2 RENAME TO recipients;

-- Multidrop duplicate check: a provider that keeps one copy per recipient hands out the same
-- message (Message-ID and body) several times; each local recipient gets it once.
CREATE TABLE seen_messages (
  message_id  TEXT    NOT NULL,
  body_digest TEXT    NOT NULL,
  address     TEXT    NOT NULL,  -- lower-cased
  msg_id      INTEGER NOT NULL,  -- the queue id that carries it (no foreign key: outlives purges)
  time        INTEGER NOT NULL,
  PRIMARY KEY (message_id, body_digest, address)
);
CREATE INDEX seen_messages_time ON seen_messages (time);
)sql"},
    // Alerts: the problems the admin was told about (or is about to be), one row per problem.
    {3, R"sql(
CREATE TABLE alerts (
  condition    TEXT    NOT NULL,
  object       TEXT    NOT NULL,
  since        INTEGER NOT NULL,
  raised_at    INTEGER NOT NULL DEFAULT 0,  -- 0: not told yet
  last_sent    INTEGER NOT NULL DEFAULT 0,
  absent_since INTEGER NOT NULL DEFAULT 0,  -- 0: still seen
  words        TEXT    NOT NULL DEFAULT '',
  fix          TEXT    NOT NULL DEFAULT '',
  PRIMARY KEY (condition, object)
);
)sql"},
    // IMAP: what identifies a fetched message besides its UID (which a new UIDVALIDITY renumbers):
    // its Message-ID, its size at the provider and the SHA-256 of its octets. POP3 rows keep ''/0.
    {4, R"sql(
ALTER TABLE uidls ADD COLUMN message_id TEXT NOT NULL DEFAULT '';
ALTER TABLE uidls ADD COLUMN provider_size INTEGER NOT NULL DEFAULT 0;
ALTER TABLE uidls ADD COLUMN content_digest TEXT NOT NULL DEFAULT '';
)sql"},
};

}  // namespace

std::span<const Migration> migrations() { return kMigrations; }

}  // namespace pb::queue::db
