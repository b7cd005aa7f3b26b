// The status page: renders /api/status, /api/events, /api/queue and /api/chart, follows /api/stream
// (polling every 10 s when it cannot), and sends the admin's actions. Promises: text from mail or
// peers only ever reaches the DOM through textContent/attributes, never as markup; POSTs carry the
// X-Postbridge header the server demands; all times are shown in the browser's time zone.
import { lang, t, tn } from "./i18n.js";

// ---------------------------------------------------------------------------------------------
// Small DOM helpers. el() never parses HTML: strings become text nodes.

const $ = (id) => document.getElementById(id);
const SVG_NS = "http://www.w3.org/2000/svg";

// Bidi embeddings, overrides and isolates in text from mail would reorder what the admin reads
// ("invoice\u202Efdp.exe" shows as "invoiceexe.pdf"): they are shown as their code, as the CLI
// shows them. The marks U+200E/U+200F stay (they cannot reverse a word).
const BIDI_CONTROLS = /[\u202A-\u202E\u2066-\u2069]/g;
const bidiSafe = (v) => String(v).replace(BIDI_CONTROLS, (c) => `\\u${c.charCodeAt(0).toString(16).toUpperCase()}`);

function el(tag, opts = {}, ...children) {
  const node = opts.svg ? document.createElementNS(SVG_NS, tag) : document.createElement(tag);
  if (opts.cls) node.setAttribute("class", opts.cls);
  if (opts.text !== undefined) node.textContent = bidiSafe(opts.text);
  for (const [k, v] of Object.entries(opts.attrs || {})) {
    if (v !== undefined && v !== null && v !== false) node.setAttribute(k, v === true ? "" : bidiSafe(v));
  }
  for (const [k, v] of Object.entries(opts.on || {})) node.addEventListener(k, v);
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(bidiSafe(c)));
  }
  return node;
}
const svgEl = (tag, attrs = {}, ...children) => el(tag, { svg: true, attrs }, ...children);

// ---------------------------------------------------------------------------------------------
// State

const POLL_MS = 10000;           // fallback polling when the event stream is unavailable
const STALE_MS = 16000;          // the stream sends status every 5 s: silence this long means trouble
const PAGE = 50;                 // log rows per page

const S = {
  status: null,
  statusAt: 0,                   // Date.now() when the last status arrived
  skew: 0,                       // server clock minus browser clock, seconds
  live: "connecting",
  tab: "fetch",
  filter: "",                    // "" | "account:NAME" | "route:ROUTE"
  q: "",
  viewTab: "",                   // the tab whose rows the table holds
  shownIds: new Set(),
  nextBefore: 0,
  viewToken: 0,
  queue: null,
  lastEventId: 0,
  lastEventKnown: false,
  recent: [],                    // the last stream events, oldest first (see loadView)         // lastEventId came from the server (else the stream starts "now")
  chart: null,
  cardSigs: new Map(),           // card key -> signature of what it shows (skip needless re-renders)
  pendingPoll: new Map(),        // account -> Date.now() when "Poll now" was pressed
  testing: new Set(),            // "account:NAME" | "smarthost:NAME" | "local:local" while its test runs
  filterSig: "",
  signIn: null,                  // { kind, name } of the sign-in dialog
  signInTimer: 0,
};

// ---------------------------------------------------------------------------------------------
// Formatting: numbers, sizes, times (browser time zone), durations

const nf = new Intl.NumberFormat(lang);
const nf1 = new Intl.NumberFormat(lang, { maximumFractionDigits: 1 });
const rtf = new Intl.RelativeTimeFormat(lang, { numeric: "auto" });
const fmtTime = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit" });
const fmtWeekdayTime = new Intl.DateTimeFormat(lang, { weekday: "short", hour: "2-digit", minute: "2-digit" });
const fmtDateTime = new Intl.DateTimeFormat(lang, { dateStyle: "medium", timeStyle: "short" });
const fmtFull = new Intl.DateTimeFormat(lang, { dateStyle: "full", timeStyle: "medium" });
const fmtHour = new Intl.DateTimeFormat(lang, { hour: "2-digit", minute: "2-digit" });

const nowSec = () => Date.now() / 1000 + S.skew;

function fmtSize(bytes) {
  const n = Number(bytes) || 0;
  if (n < 1024) return t("size.B", { n: nf.format(n) });
  if (n < 1024 * 1024) return t("size.KB", { n: nf1.format(n / 1024) });
  if (n < 1024 ** 3) return t("size.MB", { n: nf1.format(n / 1024 ** 2) });
  return t("size.GB", { n: nf1.format(n / 1024 ** 3) });
}

function sameDay(a, b) {
  return a.getFullYear() === b.getFullYear() && a.getMonth() === b.getMonth() && a.getDate() === b.getDate();
}

// A clock time for today, weekday + time within a week, a date otherwise.
function fmtClock(ts) {
  const d = new Date(ts * 1000), now = new Date(nowSec() * 1000);
  if (sameDay(d, now)) return fmtTime.format(d);
  if (Math.abs(ts - nowSec()) < 6 * 86400) return fmtWeekdayTime.format(d);
  return fmtDateTime.format(d);
}

function fmtRel(ts) {
  const diff = ts - nowSec(), a = Math.abs(diff);
  if (a < 10) return t("time.justNow");
  if (a < 60) return rtf.format(Math.round(diff), "second");
  if (a < 3570) return rtf.format(Math.round(diff / 60), "minute");   // "in 60 minutes" reads as "in 1 hour"
  if (a < 86400 * 2) return rtf.format(Math.round(diff / 3600), "hour");
  return rtf.format(Math.round(diff / 86400), "day");
}

const fmtWhen = (ts) => t("time.relAbs", { rel: fmtRel(ts), abs: fmtClock(ts) });

// <time> that the ticker keeps current. fmt: "when" (relative + clock), "clock", "rel".
function timeEl(ts, fmt = "split") {
  if (!ts) return el("span", { cls: "muted", text: t("meta.never") });
  const node = el("time", { attrs: { datetime: new Date(ts * 1000).toISOString(), "data-ts": ts, "data-fmt": fmt,
                                     title: fmtFull.format(new Date(ts * 1000)) } });
  renderTime(node);
  return node;
}

function renderTime(node) {
  const ts = Number(node.dataset.ts), fmt = node.dataset.fmt;
  if (fmt === "next" && ts <= nowSec()) {
    node.textContent = t("time.due");   // overdue or running: "due now" reads better than "2 s ago"
    return;
  }
  if (fmt === "split" || fmt === "next") {
    // Relative first (what the admin wants to know), the clock time quieter beside it.
    node.replaceChildren(fmtRel(ts), el("span", { cls: "abs", text: fmtClock(ts) }));
    return;
  }
  node.textContent = fmt === "clock" ? fmtClock(ts) : fmt === "rel" ? fmtRel(ts) : fmtWhen(ts);
}

function fmtDuration(seconds) {
  const s = Math.max(0, Math.floor(seconds));
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  const unit = (n, u) => new Intl.NumberFormat(lang, { style: "unit", unit: u, unitDisplay: "long" }).format(n);
  if (d > 0) return h > 0 ? `${unit(d, "day")}, ${unit(h, "hour")}` : unit(d, "day");
  if (h > 0) return m > 0 ? `${unit(h, "hour")}, ${unit(m, "minute")}` : unit(h, "hour");
  return unit(m, "minute");
}

// "pop.example.net:995" -> "pop.example.net"; "[::1]:995" -> "::1".
function hostOnly(host) {
  const h = String(host || "");
  const v6 = h.match(/^\[([^\]]+)\](?::\d+)?$/);
  if (v6) return v6[1];
  return h.replace(/:\d+$/, "");
}

// The server's own words from "HOST rejected the password: -ERR [AUTH] ...", or the whole text.
function peerReply(text) {
  const m = String(text || "").match(/\brejected the [^:]*?: (.+)$/s);
  return m ? m[1] : String(text || "");
}

function routeLabel(route) {
  if (!route) return "";
  if (route === "local") return t("kind.local");
  return route.startsWith("smarthost:") ? route.slice("smarthost:".length) : route;
}

// ---------------------------------------------------------------------------------------------
// API

class ApiError extends Error {}

async function api(path, opts = {}) {
  let res;
  try {
    res = await fetch(path, { cache: "no-store", credentials: "same-origin", ...opts });
  } catch (e) {
    throw new ApiError(e.message || "network error");
  }
  let body = null;
  try { body = await res.json(); } catch { body = null; }
  if (!res.ok) throw new ApiError(body?.message || `HTTP ${res.status}`);
  return body;
}

// Every state-changing request: POST with the header the server's CSRF rule asks for.
const post = (path) => api(path, { method: "POST", headers: { "X-Postbridge": "1" } });

// ---------------------------------------------------------------------------------------------
// Header, live indicator, toasts, announcements

function applyStaticText() {
  document.documentElement.lang = lang;
  document.title = t("doc.title");
  for (const node of document.querySelectorAll("[data-i18n]")) node.textContent = t(node.dataset.i18n);
  $("search").placeholder = t("search.placeholder");
  $("cards").setAttribute("aria-label", t("aria.cards"));
  setLive("connecting");
  setVerdict("loading", t("verdict.loading"), "", []);
}

function setLive(state) {
  S.live = state;
  const box = $("live");
  box.dataset.state = state;
  const text = t(`live.${state}`);
  if ($("live-text").textContent !== text) $("live-text").textContent = text;
  box.title = state === "live" ? t("live.title.live") : state === "polling" ? t("live.title.polling") : "";
}

function toast(message, tone = "info") {
  const item = el("div", { cls: `toast toast-${tone}` }, el("span", { text: message }));
  const close = el("button", { cls: "toast-close", attrs: { type: "button", "aria-label": t("aria.close") }, text: "×",
                               on: { click: () => item.remove() } });
  item.append(close);
  $("toasts").append(item);
  setTimeout(() => item.remove(), tone === "error" ? 12000 : 6000);
}

function announce(message) {
  const a = $("announcer");
  a.textContent = "";
  // A fresh text node after a tick, so screen readers announce a repeat of the same words too.
  setTimeout(() => { a.textContent = bidiSafe(message); }, 50);
}

// ---------------------------------------------------------------------------------------------
// Status: header, verdict, cards

function renderStatus(s) {
  S.status = s;
  S.statusAt = Date.now();
  if (Number.isFinite(s.now)) S.skew = s.now - Date.now() / 1000;
  // "Poll now" was pressed: the button stays busy until a poll has finished after the press.
  for (const [name, since] of S.pendingPoll) {
    const a = (s.accounts || []).find((x) => x.name === name);
    const pressedAt = since / 1000 + S.skew;
    if (!a || Date.now() - since > 60000 || (!a.polling && a.last_poll >= pressedAt - 1)) S.pendingPoll.delete(name);
  }
  $("version").textContent = t("header.version", { v: s.version || "?" });
  renderUptime();
  renderVerdict(s);
  renderCards(s);
  renderLogins(s);
  renderFilterOptions();
  const q = s.queue || {};
  const waiting = (q.queued || 0) + (q.held || 0) + (q.failed || 0);
  $("count-queue").textContent = waiting ? nf.format(waiting) : "";
}

// Addresses that gave wrong passwords lately, at the relay or this page (the shared throttle):
// the section shows only while there are any. Addresses come from the network: text nodes only.
function renderLogins(s) {
  const rows = s.logins || [];
  $("logins-block").hidden = rows.length === 0;
  $("logins-body").replaceChildren(...rows.map(loginRow));
}

const DOOR_KEYS = { "relay": "logins.door.relay", "status page": "logins.door.page" };

function fmtSeconds(seconds) {
  const s = Math.max(1, Math.ceil(seconds));
  if (s >= 60) return fmtDuration(s + 59);  // "2 minutes" rather than "1 minute" for 61 s
  return new Intl.NumberFormat(lang, { style: "unit", unit: "second", unitDisplay: "long" }).format(s);
}

function loginRow(l) {
  const doors = String(l.doors || "").split(", ").filter(Boolean).map((d) => DOOR_KEYS[d] ? t(DOOR_KEYS[d]) : d).join(", ");
  const last = fmtRel(nowSec() - (l.last_failure_ago || 0));
  const state = l.waiting > 0 ? t("logins.waiting", { d: fmtSeconds(l.waiting), last })
                              : t("logins.free", { last });
  return el("tr", { attrs: { "data-address": l.address } },
    el("td", { cls: "addr", text: l.address }),
    el("td", { text: doors }),
    el("td", { cls: "col-attempts", text: nf.format(l.failures || 0) }),
    el("td", { text: state }));
}

function renderUptime() {
  const s = S.status;
  if (!s) return;
  const up = (s.uptime || 0) + (Date.now() - S.statusAt) / 1000;
  $("uptime").textContent = t("header.uptime", { d: fmtDuration(up) });
}

const RED = new Set(["auth-failed", "error"]);

function problemsOf(s) {
  const problems = [], notes = [];
  if (s.storage && s.storage.ok === false) {
    problems.push({ tone: "bad", name: t("storage.name"),
                    text: t("storage.full", { free: fmtSize(s.storage.free), min: fmtSize(s.storage.min_free) }) });
  }
  const cfg = s.config || {};
  if (cfg.reload_failed_at && (cfg.reload_problems || []).length) {
    problems.push({ tone: "bad", name: t("config.name"),
                    text: t("config.reloadFailed", { problem: cfg.reload_problems.join(" · ") }) });
  }
  for (const a of s.accounts || []) {
    if (a.enabled !== false && RED.has(a.state)) {
      problems.push({ key: `acct:${a.name}`, tone: "bad", name: a.name, text: accountWords(a).reason });
    }
  }
  for (const r of s.routes || []) {
    const name = r.kind === "local" ? t("kind.local") : r.name;
    if (r.state === "auth-failed" || r.state === "paused") {
      problems.push({ key: `route:${r.route}`, tone: r.state === "auth-failed" ? "bad" : "warn", name,
                      text: routeWords(r).reason });
    } else if (r.state === "rate-limited") {
      notes.push({ key: `route:${r.route}`, text: t("note.rateLimited", { name, time: fmtClock(r.rate_limited_until) }) });
    }
  }
  const q = s.queue || {};
  if (q.failed) notes.push({ tab: "queue", text: tn("note.failed", q.failed) });
  if (q.held) notes.push({ tab: "queue", text: tn("note.held", q.held) });
  return { problems, notes };
}

function renderVerdict(s) {
  const { problems, notes } = problemsOf(s);
  const fetched = (s.accounts || []).reduce((n, a) => n + (a.fetched_today || 0), 0);
  const sent = (s.routes || []).filter((r) => r.kind !== "local").reduce((n, r) => n + (r.sent_today || 0), 0);
  const queued = (s.queue?.queued || 0) + (s.queue?.held || 0);
  const sub = t("summary.today", { fetched: nf.format(fetched), sent: nf.format(sent), queued: nf.format(queued) });
  const tone = problems.some((p) => p.tone === "bad") ? "bad" : problems.length ? "warn" : "ok";
  const head = problems.length ? tn("verdict.problems", problems.length) : t("verdict.ok");
  setVerdict(tone, head, sub, [...problems, ...notes.map((n) => ({ ...n, tone: "note" }))]);
  document.title = problems.length ? `(${problems.length}) ${t("doc.title")}` : t("doc.title");
}

function setVerdict(tone, head, sub, items) {
  const box = $("verdict");
  box.dataset.tone = tone;
  if ($("verdict-text").textContent !== head) $("verdict-text").textContent = head;
  if ($("verdict-sub").textContent !== sub) $("verdict-sub").textContent = sub;
  const sig = JSON.stringify(items.map((i) => [i.name, i.text, i.tone]));
  const list = $("verdict-list");
  if (list.dataset.sig === sig) return;
  list.dataset.sig = sig;
  list.replaceChildren(...items.map((item) => {
    const text = el("span", {}, item.name ? el("strong", { text: `${item.name}: ` }) : null, item.text);
    if (item.key || item.tab) {
      text.append(" ", el("button", { cls: "link", attrs: { type: "button" }, text: t("btn.showProblem"), on: {
        click: () => (item.key ? focusCard(item.key) : setTab(item.tab, { focus: true, scroll: true })),
      } }));
    }
    return el("li", { cls: `verdict-item verdict-${item.tone}` }, text);
  }));
}

function focusCard(key) {
  const card = document.querySelector(`[data-card="${CSS.escape(key)}"]`);
  if (!card) return;
  card.scrollIntoView({ behavior: "smooth", block: "center" });
  card.focus({ preventScroll: true });
}

function renderCards(s) {
  const wanted = [
    ...(s.accounts || []).filter((a) => !isDisabled(a)).map((a) => ({ key: `acct:${a.name}`, data: a, build: accountCard })),
    ...(s.routes || []).map((r) => ({ key: `route:${r.route}`, data: r, build: routeCard })),
    // Switched-off mailboxes last: they need no attention.
    ...(s.accounts || []).filter(isDisabled).map((a) => ({ key: `acct:${a.name}`, data: a, build: accountCard })),
  ];
  const box = $("cards");
  const existing = new Map([...box.children].map((c) => [c.dataset.card, c]));
  let prev = null;
  for (const w of wanted) {
    const testKey = w.key.startsWith("acct:") ? `account:${w.data.name}`
                  : w.data.kind === "local" ? "local:local" : `smarthost:${w.data.name}`;
    const sig = JSON.stringify([w.data, S.pendingPoll.has(w.data.name) && w.key.startsWith("acct:"), S.testing.has(testKey)]);
    let node = existing.get(w.key);
    if (!node || S.cardSigs.get(w.key) !== sig) {
      const fresh = w.build(w.data);
      fresh.dataset.card = w.key;
      if (node) {
        // Keep the keyboard focus where it was: on the card itself or on the same button in it.
        const active = document.activeElement;
        const cardFocused = active === node;
        const focusKey = node.contains(active) ? active.dataset.focusKey : undefined;
        node.replaceWith(fresh);
        if (cardFocused) fresh.focus({ preventScroll: true });
        else if (focusKey) {
          const again = fresh.querySelector(`[data-focus-key="${focusKey}"]`);
          (again || fresh).focus({ preventScroll: true });
        }
      }
      node = fresh;
      S.cardSigs.set(w.key, sig);
    }
    existing.delete(w.key);
    // Keep the order of `wanted`, moving only the cards that are out of place.
    if (prev ? prev.nextSibling !== node : box.firstChild !== node) {
      if (prev) prev.after(node); else box.prepend(node);
    }
    prev = node;
  }
  for (const [key, node] of existing) { node.remove(); S.cardSigs.delete(key); }
}

function card(tone, title, kindLine, badge, badgeTone) {
  const root = el("article", { cls: `card card-${tone}`, attrs: { tabindex: "-1" } });
  const head = el("header", { cls: "card-head" },
    el("div", { cls: "card-title" }, el("h3", { text: title }), el("p", { cls: "card-kind", text: kindLine })),
    el("span", { cls: `badge badge-${badgeTone || tone}`, text: badge }));
  root.append(head);
  return root;
}

function cardMessage(reason, step, tone) {
  const box = el("div", { cls: `card-msg card-msg-${tone}` });
  if (reason) box.append(el("p", { cls: "card-reason", text: reason }));
  if (step) box.append(el("p", { cls: "card-step", text: step }));
  return box;
}

function meta(rows) {
  const dl = el("dl", { cls: "meta" });
  for (const [label, value, cls] of rows) {
    dl.append(el("div", { cls: `meta-row ${cls || ""}` }, el("dt", { text: label }),
                                                 el("dd", {}, value)));
  }
  return dl;
}

const isDisabled = (a) => a.enabled === false || a.state === "disabled";

// What is wrong with an account and what to do about it, in plain words.
// An OAuth login that failed: no usable token ("OAuth: ..." from postbridge: sign in again), or
// the server refused a fresh token (the app's permissions at the provider).
function oauthWords(error, host, when) {
  const text = error || "";
  if (text.startsWith("OAuth: ")) return { reason: t("oauth.noLogin", { reply: text.slice(7) }), step: t("oauth.noLoginStep") };
  return { reason: t("acct.authFailed", { host, reply: peerReply(text) }), step: t("oauth.refusedStep", { when }) };
}

function accountWords(a) {
  const host = hostOnly(a.host);
  const when = a.next_poll ? fmtWhen(a.next_poll) : "?";
  if (isDisabled(a)) return { reason: t("acct.disabled"), step: "" };
  if (a.state === "auth-failed" && a.oauth) return oauthWords(a.last_error, host, when);
  if (a.state === "auth-failed" && a.app_login) {
    return { reason: t("acct.authFailed", { host, reply: peerReply(a.last_error) }), step: t("app.refusedStep", { when }) };
  }
  if (a.state === "auth-failed") {
    return { reason: t("acct.authFailed", { host, reply: peerReply(a.last_error) }), step: t("acct.authFailedStep", { when }) };
  }
  if (a.state === "error") {
    return { reason: t("acct.error", { error: a.last_error || t("state.error") }), step: t("acct.errorStep", { when }) };
  }
  if (a.polling) return { reason: t("acct.pollingNow", { host }), step: "" };
  return { reason: a.last_poll ? t("acct.ok") : t("acct.okNever"), step: "" };
}

function accountCard(a) {
  const pending = S.pendingPoll.has(a.name) || a.polling;
  const disabled = isDisabled(a);
  const tone = disabled ? "off" : RED.has(a.state) ? "bad" : "ok";
  const badge = disabled ? t("state.disabled") : a.polling ? t("state.polling") : t(`state.${a.state}`);
  const root = card(tone, a.name, `${t("kind.mailbox")} · ${a.host}`, badge, a.polling && !disabled ? "busy" : tone);
  const { reason, step } = accountWords(a);
  root.append(cardMessage(reason, step, tone));

  root.append(meta([
    ...(a.delivers_to ? [[t("meta.deliversTo"), addrNode(a.delivers_to)]] : []),
    [t("meta.lastPoll"), timeEl(a.last_poll)],
    [t("meta.nextPoll"), disabled ? el("span", { cls: "muted", text: "—" }) : timeEl(a.next_poll, "next")],
    [t("meta.today"), tn("meta.messagesSize", a.fetched_today || 0, { size: fmtSize(a.bytes_today) })],
  ]));

  // A disabled mailbox can still be tested: that is how an admin checks it before switching it on.
  if (disabled) {
    root.append(el("div", { cls: "card-actions" }, testButton("account", a.name)));
    return root;
  }
  // aria-disabled rather than disabled: the button keeps the keyboard focus while the poll runs.
  const btn = el("button", { cls: "btn btn-primary", attrs: { type: "button", "data-focus-key": "poll",
                                                              "aria-disabled": pending ? "true" : false },
                             text: pending ? t("btn.polling") : t("btn.pollNow"),
                             on: { click: () => { if (!pending) pollNow(a.name); } } });
  btn.setAttribute("aria-label", `${pending ? t("btn.polling") : t("btn.pollNow")}: ${a.name}`);
  root.append(el("div", { cls: "card-actions" }, btn, testButton("account", a.name),
                 a.oauth ? signInButton("account", a.name) : null));
  return root;
}

function quota(n, max) {
  const box = el("span", { cls: "quota" }, el("span", { text: max ? t("meta.nOfMax", { n: nf.format(n), max: nf.format(max) })
                                                                   : nf.format(n) }));
  if (max) {
    const frac = Math.min(1, n / max);
    const bar = el("span", { cls: `quota-bar${frac >= 1 ? " quota-full" : frac >= 0.8 ? " quota-high" : ""}`,
                             attrs: { "aria-hidden": "true" } });
    const fill = el("span", { cls: "quota-fill" });
    fill.style.width = `${(frac * 100).toFixed(1)}%`;   // CSSOM, allowed under style-src 'self'
    bar.append(fill);
    box.append(bar);
  }
  return box;
}

function routeWords(r) {
  if (r.state === "paused") {
    return { reason: r.reason ? t("route.paused", { reason: r.reason }) : t("route.pausedNoReason"),
             step: t("route.pausedStep", { when: r.paused_until ? fmtWhen(r.paused_until) : "?" }) };
  }
  if (r.state === "rate-limited") {
    return { reason: t("route.rateLimited", { time: fmtClock(r.rate_limited_until) }), step: t("route.rateLimitedStep") };
  }
  if (r.state === "auth-failed" && r.oauth) {
    return oauthWords(r.reason || r.last_reply, hostOnly(r.host), r.paused_until ? fmtWhen(r.paused_until) : "?");
  }
  if (r.state === "auth-failed" && r.app_login) {
    return { reason: t("route.authFailed", { host: hostOnly(r.host), reply: peerReply(r.reason || r.last_reply) }),
             step: t("app.refusedStep", { when: r.paused_until ? fmtWhen(r.paused_until) : "?" }) };
  }
  if (r.state === "auth-failed") {
    return { reason: t("route.authFailed", { host: hostOnly(r.host), reply: peerReply(r.reason || r.last_reply) }),
             step: t("route.authFailedStep") };
  }
  return { reason: r.kind === "local" ? t("route.okLocal") : t("route.okSmarthost"), step: "" };
}

function routeCard(r) {
  const local = r.kind === "local";
  const tone = r.state === "auth-failed" ? "bad" : r.state === "paused" || r.state === "rate-limited" ? "warn" : "ok";
  const title = local ? t("kind.local") : r.name;
  const kindLine = local ? r.host : `${t("kind.smarthost")} · ${r.host}`;
  const label = t(`state.${r.state}`);
  const root = card(tone, title, kindLine, label === `state.${r.state}` ? r.state : label);
  const { reason, step } = routeWords(r);
  root.append(cardMessage(reason, step, tone));

  const q = r.queue || {};
  const rows = [[local ? t("meta.deliveredToday") : t("meta.sentToday"), quota(r.sent_today || 0, r.max_per_day || 0)]];
  if (r.max_per_hour) rows.push([t("meta.thisHour"), quota(r.sent_last_hour || 0, r.max_per_hour)]);
  rows.push([t("meta.queue"), (q.queued || q.held || q.failed)
    ? t("meta.queueCounts", { q: nf.format(q.queued || 0), h: nf.format(q.held || 0), f: nf.format(q.failed || 0) })
    : el("span", { cls: "muted", text: t("meta.none") })]);
  if (r.last_reply) rows.push([t("meta.lastReply"), el("code", { cls: "reply", text: r.last_reply, attrs: { title: r.last_reply } }), "meta-wide"]);
  root.append(meta(rows));

  const actions = el("div", { cls: "card-actions" });
  if (r.state === "paused" || r.state === "auth-failed") {
    actions.append(el("button", { cls: "btn btn-primary", attrs: { type: "button", "data-focus-key": "resume" },
                                  text: t("btn.resume"), on: { click: () => resume(r.name) } }));
  }
  // A route whose smarthost left the config has nothing to test.
  if (!r.host.startsWith("(")) actions.append(testButton(local ? "local" : "smarthost", r.name));
  if (r.oauth) actions.append(signInButton("smarthost", r.name));
  if (actions.childElementCount) root.append(actions);
  return root;
}

// ---------------------------------------------------------------------------------------------
// Actions

async function pollNow(name) {
  S.pendingPoll.set(name, Date.now());
  if (S.status) renderCards(S.status);
  try {
    await post(`api/accounts/${encodeURIComponent(name)}/poll`);
    toast(t("toast.polling", { name }));
  } catch (e) {
    S.pendingPoll.delete(name);
    toast(t("toast.failed", { message: e.message }), "error");
  }
  if (S.status) renderCards(S.status);
  refreshStatusSoon();
}

// "Test connection": the connection doctor of `postbridge test`, run by the service. The button
// stays busy until the report arrives (seconds); the report opens in a dialog.
function testButton(kind, name) {
  const key = `${kind}:${name}`;
  const busy = S.testing.has(key);
  const label = busy ? t("btn.testing") : t("btn.test");
  const btn = el("button", { cls: "btn", attrs: { type: "button", "data-focus-key": "test",
                                                  "aria-disabled": busy ? "true" : false },
                             text: label, on: { click: () => { if (!S.testing.has(key)) runTest(kind, name); } } });
  btn.setAttribute("aria-label", `${label}: ${kind === "local" ? t("kind.local") : name}`);
  return btn;
}

async function runTest(kind, name) {
  const key = `${kind}:${name}`;  // the card signature's test key (renderCards)
  const shown = kind === "local" ? t("kind.local") : name;
  S.testing.add(key);
  if (S.status) renderCards(S.status);
  try {
    const path = kind === "local" ? "api/test/local" : `api/test/${kind}/${encodeURIComponent(name)}`;
    showTestReport(await post(path), shown);
  } catch (e) {
    toast(t("toast.testFailed", { name: shown, message: e.message }), "error");
  } finally {
    S.testing.delete(key);
    if (S.status) renderCards(S.status);
  }
}

function fmtMs(ms) {
  if (!ms) return "<1 ms";
  return ms < 1000 ? `${nf.format(ms)} ms` : `${(ms / 1000).toLocaleString(lang, { maximumFractionDigits: 1 })} s`;
}

// Everything in the report comes from servers and the config: text nodes only, never HTML.
function showTestReport(r, shown) {
  const warned = (r.steps || []).some((s) => s.verdict === "warning");
  $("testreport-title").textContent = bidiSafe(t("test.title", { name: shown }));
  $("testreport-summary").textContent = bidiSafe(
    `${r.ok ? (warned ? t("test.worksWarn") : t("test.works")) : t("test.fails")} ${r.endpoint || ""} — ${t("test.note")}`);
  $("testreport-steps").replaceChildren(...(r.steps || []).map((s) => el("li", { cls: `test-step test-step-${s.verdict}` },
    el("span", { cls: "test-verdict", text: t(`test.verdict.${s.verdict}`) }),
    el("span", { cls: "test-title", text: s.title }),
    el("span", { cls: "test-ms", text: s.verdict === "skipped" ? "" : fmtMs(s.ms) }),
    (s.details || []).length ? el("ul", { cls: "test-details" }, s.details.map((d) => el("li", { text: d }))) : null,
    s.problem ? el("p", { cls: "test-problem", text: s.problem }) : null)));
  const advice = r.advice || [];
  $("testreport-advice").replaceChildren(...(advice.length
    ? [el("h3", { text: t("test.whatToDo") }), el("ul", {}, advice.map((a) => el("li", { text: a })))] : []));
  const dlg = $("testreport");
  if (!dlg.open) dlg.showModal();
  $("testreport-close").focus();
}

// "Sign in": the OAuth login of `postbridge oauth login`, run by the service. A device login shows
// a code to enter at the provider (any computer); a browser login opens the provider's page, which
// comes back to this page's /oauth/callback, or the admin pastes the address it ended on. The
// dialog asks for the state every 2 s until the login is stored or failed. Text nodes only.
function signInButton(kind, name) {
  const btn = el("button", { cls: "btn", attrs: { type: "button", "data-focus-key": "signin" },
                             text: t("btn.signIn"), on: { click: () => startSignIn(kind, name) } });
  btn.setAttribute("aria-label", `${t("btn.signIn")}: ${name}`);
  return btn;
}

// Addresses from the provider become links only as http(s): never a javascript: or data: URL.
const safeHref = (u) => { try { return ["https:", "http:"].includes(new URL(u).protocol) ? u : "#"; } catch { return "#"; } };

const oauthPath = (kind, name) => `api/oauth/${kind}/${encodeURIComponent(name)}`;

async function startSignIn(kind, name) {
  clearTimeout(S.signInTimer);
  S.signIn = { kind, name };
  $("signin-title").textContent = t("signin.title", { name });
  $("signin-paste").hidden = true;
  showSignIn({ state: "starting" });
  const dlg = $("signin");
  if (!dlg.open) dlg.showModal();
  $("signin-close").focus();
  try {
    showSignIn(await post(`${oauthPath(kind, name)}/start`));
  } catch (e) {
    showSignIn({ state: "failed", error: e.message });
  }
}

function showSignIn(st) {
  const body = $("signin-body");
  const parts = [];
  if (st.state === "starting") parts.push(el("p", { text: t("signin.starting") }));
  if (st.state === "waiting" && st.flow === "device") {
    parts.push(el("p", {}, el("span", { text: t("signin.deviceOpen") }), " ",
                  el("a", { attrs: { href: safeHref(st.verification_uri), target: "_blank", rel: "noopener noreferrer" },
                            text: st.verification_uri })));
    parts.push(el("p", { cls: "signin-code-line" }, el("span", { text: t("signin.deviceCode") }), " ",
                  el("code", { cls: "signin-code", attrs: { id: "signin-code" }, text: st.user_code })));
    parts.push(el("p", { cls: "muted", text: t("signin.waiting") }));
  }
  if (st.state === "waiting" && st.flow === "browser") {
    parts.push(el("p", {}, el("a", { cls: "btn btn-primary", attrs: { href: safeHref(st.url), target: "_blank", rel: "noopener noreferrer",
                                                                      id: "signin-open" },
                                   text: t("signin.browserOpen") })));
    parts.push(el("p", { cls: "muted", text: t("signin.browserPaste") }));
  }
  if (st.state === "exchanging") parts.push(el("p", { text: t("signin.exchanging") }));
  if (st.state === "done") parts.push(el("p", { cls: "signin-done", text: t("signin.done") }));
  if (st.state === "failed") parts.push(el("p", { cls: "test-problem", text: t("signin.failed", { message: st.error || "" }) }));
  body.replaceChildren(...parts);
  body.dataset.state = st.state;
  $("signin-paste").hidden = !(st.state === "waiting" && st.flow === "browser");
  const busy = st.state === "starting" || st.state === "waiting" || st.state === "exchanging";
  clearTimeout(S.signInTimer);
  if (busy && $("signin").open) S.signInTimer = setTimeout(pollSignIn, 2000);
  if (st.state === "done") refreshStatusSoon();
}

async function pollSignIn() {
  const s = S.signIn;
  if (!s || !$("signin").open) return;
  try {
    showSignIn(await api(oauthPath(s.kind, s.name)));
  } catch (e) {
    showSignIn({ state: "failed", error: e.message });
  }
}

async function pasteSignIn(ev) {
  ev.preventDefault();
  const s = S.signIn;
  const url = $("signin-url").value.trim();
  if (!s || !url) return;
  try {
    showSignIn(await api(`${oauthPath(s.kind, s.name)}/code`, {
      method: "POST", headers: { "X-Postbridge": "1", "Content-Type": "application/json" }, body: JSON.stringify({ url }) }));
    $("signin-url").value = "";
  } catch (e) {
    toast(t("toast.failed", { message: e.message }), "error");
  }
}

async function resume(name) {
  try {
    await post(`api/smarthosts/${encodeURIComponent(name)}/resume`);
    toast(t("toast.resumed", { name }), "ok");
  } catch (e) {
    toast(t("toast.failed", { message: e.message }), "error");
  }
  refreshStatusSoon();
}

function confirmDialog(title, body, okLabel) {
  const dlg = $("confirm");
  $("confirm-title").textContent = bidiSafe(title);
  $("confirm-body").textContent = bidiSafe(body);
  $("confirm-ok").textContent = okLabel;
  dlg.returnValue = "";
  return new Promise((resolve) => {
    dlg.addEventListener("close", () => resolve(dlg.returnValue === "ok"), { once: true });
    dlg.showModal();
    $("confirm-cancel").focus();   // the safe choice has the focus
  });
}

async function queueAction(id, action) {
  if (action === "bounce" || action === "delete") {
    const ok = await confirmDialog(t(`confirm.${action}.title`, { id }), t(`confirm.${action}.body`), t(`btn.${action}`));
    if (!ok) return;
  }
  try {
    const res = await post(`api/queue/${encodeURIComponent(id)}/${action}`);
    const state = res?.state === "deleted" ? t("toast.deleted") : t(`qstate.${res?.state}`);
    toast(t("toast.queueAction", { id, state }), "ok");
  } catch (e) {
    toast(t("toast.failed", { message: e.message }), "error");
  }
  if (S.tab === "queue") loadView();
  refreshStatusSoon();
}

// ---------------------------------------------------------------------------------------------
// Tabs, filters, tables

const TABS = ["fetch", "send", "queue", "error"];

const COLUMNS = {
  fetch: ["time", "account", "from", "to", "subject", "size", "result", "routing"],
  send: ["time", "route", "from", "to", "subject", "size", "result", "reply"],
  error: ["time", "where", "result", "details", "subject"],
  queue: ["id", "route", "from", "to", "size", "age", "attempts", "nextTry", "lastReply", "actions"],
};

function setupTabs() {
  const list = document.querySelector("[role=tablist]");
  for (const tab of list.querySelectorAll("[role=tab]")) {
    tab.addEventListener("click", () => setTab(tab.dataset.tab));
  }
  // WAI-ARIA tabs pattern: arrows move between tabs, Home/End jump, the panel is next in tab order.
  list.addEventListener("keydown", (e) => {
    const i = TABS.indexOf(S.tab);
    const next = { ArrowRight: i + 1, ArrowLeft: i - 1, Home: 0, End: TABS.length - 1 }[e.key];
    if (next === undefined) return;
    e.preventDefault();
    setTab(TABS[(next + TABS.length) % TABS.length], { focus: true });
  });
  $("toolbar").addEventListener("submit", (e) => e.preventDefault());
  $("signin-paste").addEventListener("submit", pasteSignIn);
  $("signin").addEventListener("close", () => { clearTimeout(S.signInTimer); S.signIn = null; });
  $("filter").addEventListener("change", () => { S.filter = $("filter").value; loadView(); });
  let timer = 0;
  $("search").addEventListener("input", () => {
    clearTimeout(timer);
    timer = setTimeout(() => {
      S.q = $("search").value.trim();
      if (S.tab === "queue" && S.queue) renderQueue(S.queue); else loadView();
    }, 250);
  });
  $("older").addEventListener("click", () => loadView({ older: true }));
}

function setTab(name, { focus = false, scroll = false } = {}) {
  if (!TABS.includes(name)) name = "fetch";
  S.tab = name;
  for (const tab of document.querySelectorAll("[role=tab]")) {
    const on = tab.dataset.tab === name;
    tab.setAttribute("aria-selected", on ? "true" : "false");
    tab.tabIndex = on ? 0 : -1;
    if (on && focus) tab.focus();
  }
  $("panel").setAttribute("aria-labelledby", `tab-${name}`);
  if (location.hash !== `#${name}`) history.replaceState(null, "", `#${name}`);
  renderFilterOptions(true);
  if (scroll) $("panel").scrollIntoView({ behavior: "smooth", block: "start" });
  loadView();
}

// The filter offers what the tab can show: mailboxes for fetches, routes for sending and the queue.
function renderFilterOptions(force = false) {
  const s = S.status || { accounts: [], routes: [] };
  const withAccounts = S.tab === "fetch" || S.tab === "error";
  const withRoutes = S.tab !== "fetch";
  const routes = new Map((s.routes || []).map((r) => [r.route, r.kind === "local" ? t("kind.local") : r.name]));
  for (const r of s.queue?.by_route || []) if (!routes.has(r.route)) routes.set(r.route, routeLabel(r.route));
  const sig = JSON.stringify([S.tab, (s.accounts || []).map((a) => a.name), [...routes]]);
  if (!force && sig === S.filterSig) return;
  S.filterSig = sig;
  const sel = $("filter");
  const opts = [el("option", { attrs: { value: "" }, text: t("filter.all") })];
  if (withAccounts && s.accounts?.length) {
    opts.push(el("optgroup", { attrs: { label: t("filter.mailboxes") } },
      s.accounts.map((a) => el("option", { attrs: { value: `account:${a.name}` }, text: a.name }))));
  }
  if (withRoutes && routes.size) {
    opts.push(el("optgroup", { attrs: { label: t("filter.routes") } },
      [...routes].map(([route, label]) => el("option", { attrs: { value: `route:${route}` }, text: label }))));
  }
  sel.replaceChildren(...opts);
  const keep = [...sel.options].some((o) => o.value === S.filter);
  if (!keep) S.filter = "";
  sel.value = S.filter;
}

function setHead(tab) {
  const cols = COLUMNS[tab];
  $("table").dataset.tab = tab;
  $("table-head").replaceChildren(...cols.map((c) => el("th", { attrs: { scope: "col" }, cls: `col-${c}`, text: t(`col.${c}`) })));
}

function setEmpty(text) {
  const p = $("table-empty");
  p.hidden = !text;
  p.textContent = text || "";
}

async function loadView({ older = false } = {}) {
  const token = ++S.viewToken;
  const tab = S.tab;
  if (!older && tab !== S.viewTab) {
    // Another tab: its rows have other columns, so the old ones go at once. (A new filter or
    // search on the same tab keeps the old rows until the new ones arrive: no flicker.)
    S.viewTab = tab;
    setHead(tab);
    $("table-body").replaceChildren();
    S.shownIds.clear();
    $("older").hidden = true;
    $("table-note").textContent = "";
    setEmpty(t("table.loading"));
  }
  try {
    if (tab === "queue") {
      const params = new URLSearchParams({ limit: "500" });
      if (S.filter.startsWith("route:")) params.set("route", S.filter.slice(6));
      const data = await api(`api/queue?${params}`);
      if (token !== S.viewToken) return;
      S.queue = data;
      renderQueue(data);
      return;
    }
    const params = new URLSearchParams({ kind: tab, limit: String(PAGE) });
    if (S.filter.startsWith("account:")) params.set("account", S.filter.slice(8));
    if (S.filter.startsWith("route:")) params.set("route", S.filter.slice(6));
    if (S.q) params.set("q", S.q);
    if (older && S.nextBefore) params.set("before", String(S.nextBefore));
    const data = await api(`api/events?${params}`);
    if (token !== S.viewToken) return;
    if (!older) {
      S.shownIds.clear();
      $("table-body").replaceChildren();
    }
    const rows = [];
    for (const e of data.events || []) {
      if (S.shownIds.has(e.id)) continue;
      S.shownIds.add(e.id);
      rows.push(eventRow(e, tab));
    }
    $("table-body").append(...rows);
    if (!older) {
      // Events that came by the stream while this page was on its way are not lost.
      const newest = data.events?.[0]?.id || 0;
      for (const e of S.recent) if (e.id > newest) showLive(e);
    }
    S.nextBefore = data.next_before || 0;
    $("older").hidden = !S.nextBefore;
    setEmpty($("table-body").children.length ? "" : (S.q || S.filter) ? t("empty.filtered") : t(`empty.${tab}`));
  } catch (e) {
    if (token !== S.viewToken) return;
    setEmpty(t("table.loadFailed", { message: e.message }));
  }
}

// One wrapper per cell, so the phone layout (label | value grid) sees a single value item.
function td(col, ...content) {
  const items = content.filter((c) => c !== "" && c !== null && c !== undefined);
  return el("td", { cls: `col-${col}`, attrs: { "data-label": t(`col.${col}`) } },
            items.length ? el("div", { cls: "cell" }, ...items) : null);
}

const OK_RESULTS = new Set(["ok", "queued"]);
const WARN_RESULTS = new Set(["deferred", "delayed", "paused", "skipped", "held", "redirected", "interrupted", "raised",
                              "reminded"]);
// An alert that says a problem is gone: good news, though it is listed with the problems.
const GOOD_RESULTS = new Set(["resolved"]);

function resultBadge(result, tab) {
  const tone = OK_RESULTS.has(result) || GOOD_RESULTS.has(result) ? "ok" : WARN_RESULTS.has(result) ? "warn" : "bad";
  let label = t(`result.${result}`);
  if (result === "ok" && (tab === "fetch" || tab === "send")) label = t(`result.ok.${tab}`);
  if (label === `result.${result}`) label = result;   // a result word this page does not know yet
  return el("span", { cls: `badge badge-${tone}`, text: label });
}

function subjectNode(subject) {
  return subject ? el("span", { cls: "subject", text: subject, attrs: { title: subject } })
                 : el("span", { cls: "muted", text: t("queue.noSubject") });
}

// An address with break opportunities after "@" and ".", so narrow columns wrap it at sensible places.
function addrNode(text, cls = "addr", attrs = {}) {
  const node = el("span", { cls, attrs });
  for (const part of String(text).split(/(?<=[@.,])/)) node.append(part, el("wbr"));
  return node;
}

function senderNode(sender) {
  return sender ? addrNode(sender) : el("span", { cls: "muted", text: t("queue.nullSender") });
}

function eventRow(e, tab) {
  const cells = {
    time: () => td("time", timeEl(e.time, "clock")),
    account: () => td("account", e.account || "—"),
    route: () => td("route", routeLabel(e.route) || "—"),
    where: () => td("where", e.account || routeLabel(e.route) || "—"),
    from: () => td("from", senderNode(e.sender)),
    to: () => td("to", e.recipients ? addrNode(e.recipients) : ""),
    subject: () => td("subject", e.subject || tab !== "error" ? subjectNode(e.subject) : ""),
    size: () => td("size", e.size ? fmtSize(e.size) : ""),
    result: () => td("result", resultBadge(e.result, tab)),
    reply: () => td("reply", e.text ? el("code", { cls: "reply", text: e.text, attrs: { title: e.text } }) : ""),
    details: () => td("details", el("span", { cls: "details", text: e.text || "" })),
    // Multidrop: where the message went and why ("anna@firma.local via Delivered-To ..."), as text.
    routing: () => td("routing", e.text ? el("span", { cls: "details", text: e.text, attrs: { title: e.text } }) : ""),
  };
  const tr = el("tr", { attrs: { "data-id": e.id } }, COLUMNS[tab].map((c) => cells[c]()));
  return tr;
}

function queueMatches(m, q) {
  if (!q) return true;
  const hay = [m.sender, m.subject, m.last_reply, m.route, m.account, String(m.id),
               ...(m.recipients || []).map((r) => r.address)].join("\n").toLowerCase();
  return hay.includes(q.toLowerCase());
}

function renderQueue(data) {
  if (S.tab !== "queue") return;
  const all = data.messages || [];
  const shown = all.filter((m) => queueMatches(m, S.q));
  // After an action the rows are rebuilt: keep the keyboard focus in the same row if it is still there.
  const active = document.activeElement;
  const inTable = $("table-body").contains(active);
  const key = inTable ? active.dataset.focusKey : undefined;
  const rowId = inTable ? active.closest("tr")?.dataset.id : undefined;
  $("table-body").replaceChildren(...shown.map(queueRow));
  if (inTable) {
    const again = (key && $("table-body").querySelector(`[data-focus-key="${CSS.escape(key)}"]`))
      || (rowId && $("table-body").querySelector(`tr[data-id="${CSS.escape(rowId)}"] button`));
    (again || $("panel")).focus();
  }
  $("older").hidden = true;
  const total = data.total ?? all.length;
  $("table-note").textContent = total > all.length ? t("queue.shown", { n: nf.format(all.length), total: nf.format(total) }) : "";
  setEmpty(shown.length ? "" : (S.q || S.filter) ? t("empty.filtered") : t("empty.queue"));
}

function actionButton(m, action, danger = false) {
  const b = el("button", { cls: `btn btn-small${danger ? " btn-danger-quiet" : ""}`,
                           attrs: { type: "button", "data-focus-key": `${m.id}:${action}` },
                           on: { click: () => queueAction(m.id, action) } },
               t(`btn.${action}`), el("span", { cls: "visually-hidden", text: ` #${m.id}` }));
  return b;
}

function queueRow(m) {
  const rcpts = (m.recipients || []).map((r) => addrNode(r.address, `addr rcpt rcpt-${r.state}`, { title: r.reply || r.state }));
  const next = m.state === "queued" ? timeEl(m.next_attempt, "next")
                                    : el("span", { cls: `badge badge-${m.state === "held" ? "warn" : "bad"}`, text: t(`qstate.${m.state}`) });
  const actions = [actionButton(m, "retry")];
  if (m.state === "queued") actions.push(actionButton(m, "hold"));
  if (m.state === "held") actions.push(actionButton(m, "release"));
  if (m.state !== "failed") actions.push(actionButton(m, "bounce", true));
  actions.push(actionButton(m, "delete", true));
  return el("tr", { attrs: { "data-id": m.id } },
    td("id", el("span", { cls: "num", text: `#${m.id}` })),
    td("route", routeLabel(m.route)),
    td("from", senderNode(m.sender), el("br"), subjectNode(m.subject)),
    td("to", ...rcpts.flatMap((r, i) => (i ? [", ", r] : [r]))),
    td("size", fmtSize(m.size)),
    td("age", timeEl(m.created_at, "rel")),
    td("attempts", el("span", { cls: "num", text: nf.format(m.attempts || 0) })),
    td("nextTry", next),
    td("lastReply", m.last_reply ? el("code", { cls: "reply", text: m.last_reply, attrs: { title: m.last_reply } }) : ""),
    td("actions", el("div", { cls: "row-actions" }, actions)));
}

// ---------------------------------------------------------------------------------------------
// Live events: new rows appear at the top of the open log without a reload

function matchesView(e) {
  const tab = S.tab;
  const kindOk = tab === "fetch" ? e.kind === "fetch"
               : tab === "send" ? e.kind === "send" || e.kind === "deliver"
               : tab === "error" ? !OK_RESULTS.has(e.result) : false;
  if (!kindOk) return false;
  if (S.filter.startsWith("account:") && e.account !== S.filter.slice(8)) return false;
  if (S.filter.startsWith("route:") && e.route !== S.filter.slice(6)) return false;
  if (S.q) {
    const hay = [e.sender, e.recipients, e.subject, e.text, e.account, e.route].join("\n").toLowerCase();
    if (!hay.includes(S.q.toLowerCase())) return false;
  }
  return true;
}

// A new event goes to the top of the open log if it belongs there.
function showLive(e) {
  if (S.tab === "queue" || S.viewTab !== S.tab || !matchesView(e) || S.shownIds.has(e.id)) return;
  S.shownIds.add(e.id);
  const row = eventRow(e, S.tab);
  row.classList.add("fresh");
  $("table-body").prepend(row);
  setEmpty("");
}

function onEvents(events) {
  const fresh = events.filter((e) => e.id > S.lastEventId).sort((a, b) => a.id - b.id);
  if (!fresh.length) return;
  S.lastEventId = fresh[fresh.length - 1].id;
  S.lastEventKnown = true;
  let fetched = 0, touchesQueue = false, touchesStatus = false;
  for (const e of fresh) {
    if (e.kind === "fetch" && e.result === "ok") fetched += Math.max(1, e.count || 0);
    if (e.kind !== "poll") touchesQueue = true;
    if (e.kind === "poll" || e.kind === "error" || e.kind === "send" || e.kind === "deliver") touchesStatus = true;
    showLive(e);
  }
  S.recent.push(...fresh);
  if (S.recent.length > 300) S.recent.splice(0, S.recent.length - 300);
  if (fetched) announce(tn("announce.fetched", fetched));
  if (touchesQueue && S.tab === "queue") debounce("queue", loadView, 800);
  if (touchesStatus) refreshStatusSoon();
  debounce("chart", loadChart, 3000);
}

const timers = new Map();
function debounce(key, fn, ms) {
  clearTimeout(timers.get(key));
  timers.set(key, setTimeout(fn, ms));
}

function refreshStatusSoon() {
  debounce("status", async () => {
    try { renderStatus(await api("api/status")); } catch { /* the stream or the poller reports trouble */ }
  }, 300);
}

// ---------------------------------------------------------------------------------------------
// The event stream, with polling as the fallback

let stream = null, pollTimer = 0, reconnectTimer = 0;

function connect() {
  clearTimeout(reconnectTimer);
  if (!("EventSource" in window)) { startPolling(); return; }
  stream = new EventSource(S.lastEventKnown ? `api/stream?after=${S.lastEventId}` : "api/stream");
  stream.addEventListener("open", () => { setLive("live"); stopPolling(); });
  stream.addEventListener("status", (m) => { setLive("live"); stopPolling(); renderStatus(JSON.parse(m.data)); });
  stream.addEventListener("events", (m) => onEvents(JSON.parse(m.data).events || []));
  stream.addEventListener("error", () => {
    if (!stream) return;
    if (stream.readyState === EventSource.CLOSED) {
      // The browser gave up (503: too many streams, or a proxy that cannot stream): poll, try later.
      stream = null;
      setLive("polling");
      startPolling();
      reconnectTimer = setTimeout(connect, 30000);
    } else {
      setLive("reconnecting");
      startPolling();
    }
  });
}

function startPolling() {
  if (pollTimer) return;
  pollTimer = setInterval(pollOnce, POLL_MS);
  pollOnce();
}

function stopPolling() {
  clearInterval(pollTimer);
  pollTimer = 0;
}

async function pollOnce() {
  try {
    renderStatus(await api("api/status"));
    if (S.live === "offline") setLive(stream ? "reconnecting" : "polling");
    const data = await api("api/events?limit=200");
    onEvents(data.events || []);
  } catch {
    setLive("offline");
    const when = S.statusAt ? fmtClock(S.statusAt / 1000 + S.skew) : "—";
    setVerdict("bad", t("verdict.unreachable"), t("verdict.unreachableDetail", { time: when }), []);
  }
}

// A stream that says it is open but has sent nothing for a while is treated as broken.
function watchdog() {
  if (S.live === "live" && Date.now() - S.statusAt > STALE_MS) {
    setLive("reconnecting");
    startPolling();
  }
}

// ---------------------------------------------------------------------------------------------
// The 24-hour chart: inline SVG built from /api/chart, redrawn for the container's width

async function loadChart() {
  try {
    S.chart = await api("api/chart");
    renderChart();
  } catch {
    if (!S.chart) $("chart").replaceChildren(el("p", { cls: "muted", text: t("chart.loadFailed") }));
  }
}

function niceMax(v) {
  if (v <= 4) return 4;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

function renderLegend(withFailed) {
  const items = [["fetched", t("chart.fetched")], ["sent", t("chart.sent")]];
  if (withFailed) items.push(["failed", t("chart.failed")]);
  const sig = items.map((i) => i[0]).join();
  const ul = $("chart-legend");
  if (ul.dataset.sig === sig) return;
  ul.dataset.sig = sig;
  ul.replaceChildren(...items.map(([k, label]) => el("li", {}, el("span", { cls: `swatch swatch-${k}`, attrs: { "aria-hidden": "true" } }), label)));
}

function renderChart() {
  const data = S.chart;
  const box = $("chart");
  if (!data?.hours?.length) return;
  const hours = data.hours;
  const width = Math.max(280, Math.floor(box.clientWidth || 600));
  const narrow = width < 560;
  const height = narrow ? 170 : 210;
  const m = { l: 34, r: 6, t: 10, b: 24 };
  const pw = width - m.l - m.r, ph = height - m.t - m.b;
  const withFailed = hours.some((h) => h.failed > 0);
  const series = withFailed ? ["fetched", "sent", "failed"] : ["fetched", "sent"];
  const top = niceMax(Math.max(...hours.flatMap((h) => series.map((k) => h[k] || 0))));
  const y = (v) => m.t + ph - (v / top) * ph;
  const gw = pw / hours.length;
  const bw = Math.max(2, Math.min(18, (gw * 0.78) / series.length));

  const totals = { fetched: 0, sent: 0 };
  let busiest = null;
  for (const h of hours) {
    totals.fetched += h.fetched || 0;
    totals.sent += h.sent || 0;
    const sum = (h.fetched || 0) + (h.sent || 0);
    if (sum && (!busiest || sum > busiest.sum)) busiest = { sum, time: h.time };
  }
  const desc = busiest
    ? t("chart.desc", { fetched: nf.format(totals.fetched), sent: nf.format(totals.sent), hour: fmtHour.format(new Date(busiest.time * 1000)) })
    : t("chart.descEmpty");

  const root = svgEl("svg", { width, height, viewBox: `0 0 ${width} ${height}`, role: "img",
                              "aria-labelledby": "chart-title chart-desc", class: "chart-svg" },
    svgEl("title", { id: "chart-title" }, t("chart.title")),
    svgEl("desc", { id: "chart-desc" }, desc));

  // Grid lines and y labels: 0, half, top.
  for (const v of [0, top / 2, top]) {
    const yy = Math.round(y(v)) + 0.5;
    root.append(svgEl("line", { x1: m.l, x2: width - m.r, y1: yy, y2: yy, class: v ? "grid" : "axis" }));
    root.append(svgEl("text", { x: m.l - 6, y: yy + 4, class: "tick tick-y" }, nf.format(v)));
  }

  const every = narrow ? 6 : 3;
  hours.forEach((h, i) => {
    const x0 = m.l + i * gw;
    const from = new Date(h.time * 1000), to = new Date((h.time + (data.bucket_seconds || 3600)) * 1000);
    const g = svgEl("g", { class: i === hours.length - 1 ? "hour hour-now" : "hour" },
      svgEl("title", {}, t("chart.bar", { from: fmtHour.format(from), to: fmtHour.format(to),
                                         fetched: nf.format(h.fetched || 0), sent: nf.format(h.sent || 0),
                                         failed: nf.format(h.failed || 0) })),
      svgEl("rect", { x: x0, y: m.t, width: gw, height: ph, class: "hover" }));
    const start = x0 + (gw - bw * series.length) / 2;
    series.forEach((k, j) => {
      const v = h[k] || 0;
      if (!v) return;
      const top = y(v), hgt = Math.max(1.5, m.t + ph - top);
      g.append(svgEl("rect", { x: start + j * bw, y: m.t + ph - hgt, width: Math.max(1, bw - 1), height: hgt, rx: 1.5,
                               class: `bar bar-${k}` }));
    });
    root.append(g);
    if (i % every === 0) {
      root.append(svgEl("text", { x: x0 + gw / 2, y: height - 6, class: "tick tick-x" }, fmtHour.format(from)));
    }
  });
  box.replaceChildren(root);
  renderLegend(withFailed);
}

// ---------------------------------------------------------------------------------------------
// Start

function tick() {
  for (const node of document.querySelectorAll("time[data-ts]")) renderTime(node);
  renderUptime();
}

async function boot() {
  applyStaticText();
  setupTabs();
  try {
    renderStatus(await api("api/status"));
  } catch {
    setLive("offline");
    setVerdict("bad", t("verdict.unreachable"), "", []);
  }
  try {
    const newest = await api("api/events?limit=1");
    S.lastEventId = newest?.events?.[0]?.id || 0;
    S.lastEventKnown = true;
  } catch { /* no events yet, or the server is down: the stream starts from now */ }
  setTab(location.hash.slice(1) || "fetch");
  loadChart();
  connect();
  setInterval(tick, 15000);
  setInterval(watchdog, 4000);
  setInterval(loadChart, 60000);
  let raf = 0;
  new ResizeObserver(() => { cancelAnimationFrame(raf); raf = requestAnimationFrame(renderChart); }).observe($("chart"));
}

boot();
