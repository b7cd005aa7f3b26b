// The status page in real headless Chromium (Debian's), driven by test_page.sh over stdin/stdout.
// Promises: fails on any page error, console error or JavaScript dialog; waits for conditions, never
// for fixed times; leaves desktop and phone screenshots in English and German in E2E_OUT.
//
// Protocol with the shell: this script prints "HOOK <name>" and waits for a line "done" (or
// "fail <why>") on stdin while the shell changes the world (puts mail into the mailbox, reloads the
// config); "OK <what>" lines are progress; the last line is "PASS" or "FAIL <why>".
import { createRequire } from "node:module";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";

const env = (name) => {
  const v = process.env[name];
  if (!v) { console.log(`FAIL environment variable ${name} is not set`); process.exit(2); }
  return v;
};
const BASE = env("E2E_URL");            // http://127.0.N.1:PORT/
const OUT = env("E2E_OUT");             // screenshots go here
const NODE_DIR = env("E2E_NODE_DIR");   // where playwright-core was installed
const XSS = "<img src=x onerror=alert(1)>";

const { chromium } = createRequire(path.join(NODE_DIR, "package.json"))("playwright-core");

// ---------------------------------------------------------------------------------------------
// Talking to the shell

const lines = readline.createInterface({ input: process.stdin });
const waiting = [];
lines.on("line", (l) => waiting.shift()?.(l));
lines.on("close", () => { for (const w of waiting.splice(0)) w("fail the test script went away"); });

function hook(name) {
  return new Promise((resolve, reject) => {
    waiting.push((answer) => (answer === "done" ? resolve() : reject(new Error(`hook ${name}: ${answer}`))));
    console.log(`HOOK ${name}`);
  });
}
const ok = (what) => console.log(`OK ${what}`);

// ---------------------------------------------------------------------------------------------
// The browser

const problems = [];   // dialogs, page errors, console errors: any of them fails the test

async function launch(locale) {
  // A fresh profile per run, outside the test's folder (its many *.log files are not ours); the
  // browser is never downloaded: Debian's /usr/bin/chromium.
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), "pb-e2e-chromium-"));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--headless", "--disable-gpu", "--disable-quic", "--no-first-run",
           "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    locale,
    timezoneId: "Europe/Berlin",
    viewport: { width: 1280, height: 900 },
    deviceScaleFactor: 1,
  });
  const page = context.pages()[0] ?? await context.newPage();
  page.on("dialog", async (d) => {
    problems.push(`a JavaScript dialog opened (${d.type()}): ${d.message()}`);
    await d.dismiss().catch(() => {});
  });
  page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
  page.on("console", (m) => { if (m.type() === "error") problems.push(`console error: ${m.text()}`); });
  return { context, page, profile };
}

async function close({ context, profile }) {
  await context.close().catch(() => {});
  fs.rmSync(profile, { recursive: true, force: true, maxRetries: 5 });
}

function check(cond, what) {
  if (!cond) throw new Error(what);
  ok(what);
}

function noProblems(when) {
  if (problems.length) throw new Error(`${when}: ${problems.join(" | ")}`);
}

async function shot(page, name, { phone = false } = {}) {
  if (phone) await page.setViewportSize({ width: 390, height: 844 });
  // Let the chart redraw for the new width before the picture is taken.
  await page.waitForFunction(() => new Promise((r) => requestAnimationFrame(() => requestAnimationFrame(() => r(true)))));
  const file = path.join(OUT, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  if (phone) await page.setViewportSize({ width: 1280, height: 900 });
  ok(`screenshot ${file}`);
}

const card = (page, name) => page.locator(`[data-card="acct:${name}"]`);

// ---------------------------------------------------------------------------------------------
// The scenario

// Waits until an account's poll is over, or "Poll now" would only join the running one.
async function idle(page, account) {
  await page.waitForFunction((name) => {
    const b = document.querySelector(`[data-card="acct:${name}"] button`);
    return b && b.getAttribute("aria-disabled") !== "true" && !document.querySelector(`[data-card="acct:${name}"] .badge-busy`);
  }, account, { timeout: 30000 });
}

async function english() {
  const browser = await launch("en-US");
  const { page } = browser;
  try {
    const response = await page.goto(BASE);
    check(response && response.status() === 200, `GET / answers 200 (got ${response?.status()})`);
    const csp = response.headers()["content-security-policy"] || "";
    check(/script-src 'self'/.test(csp), `the page is served with a CSP (${csp})`);

    await card(page, "alice").waitFor({ state: "visible", timeout: 20000 });
    check(true, "alice's card is shown");
    await page.locator("#live[data-state=live]").waitFor({ timeout: 20000 });
    check(true, "the live indicator says the event stream is connected");
    await page.locator("#verdict:not([data-tone=loading])").waitFor({ timeout: 20000 });
    check((await page.locator("#verdict-text").textContent()).length > 0, "the verdict line is filled in");
    await page.locator("#chart svg[role=img] > title#chart-title").waitFor({ state: "attached", timeout: 20000 });
    check(await page.locator("#chart svg rect").count() >= 24, "the 24-hour chart is drawn as SVG");
    // The first poll (an empty mailbox) must be over before the test's own poll, or "Poll now"
    // would only join the running one.
    await idle(page, "alice");
    await page.locator("#tab-fetch").click();
    check(await page.locator("#tab-fetch").getAttribute("aria-selected") === "true", "the fetch log tab is open");
    noProblems("after loading the page");

    // A reload would clear this marker: the row must arrive through the live update.
    await page.evaluate(() => { window.__e2eNoReload = 1; });
    await hook("put-message");
    await card(page, "alice").getByRole("button", { name: /poll now/i }).click();
    ok("pressed Poll now on alice's card");
    const row = page.locator("#table-body tr", { has: page.locator(".col-subject", { hasText: XSS }) });
    await row.first().waitFor({ state: "visible", timeout: 30000 });
    check(await page.evaluate(() => window.__e2eNoReload === 1), "the fetched message appeared without a reload");
    const subject = await row.first().locator(".col-subject").textContent();
    // The override is shown as its code: the reader sees the name as it is, not "invoiceexe.pdf".
    check(subject.trim() === `${XSS} invoice\\u202Efdp.exe`, `the subject is shown as literal text: ${subject.trim()}`);
    check(await page.locator("#table-body img, #table-body script").count() === 0,
          "no element was made from the subject");
    check(await page.evaluate(() => !document.querySelector("main img[src=x]")), "no <img src=x> anywhere on the page");
    noProblems("after the XSS message was fetched");
    await shot(page, "step-fetched-en");

    // Multidrop: the fetch log says where a catch-all message went and why, as text.
    await idle(page, "carol");
    await hook("put-multidrop");
    await card(page, "carol").getByRole("button", { name: /poll now/i }).click();
    const routed = page.locator("#table-body tr .col-routing", { hasText: "via To (info@firma.test, map)" });
    await routed.first().waitFor({ state: "visible", timeout: 30000 });
    const why = (await routed.first().textContent()).trim();
    check(why.startsWith("alice@office.test via To (info@firma.test, map); bob@office.test via To"),
          `the fetch log shows the routing decision: ${why}`);
    check(why.includes('"<img src=y onerror=alert(2)>"@evil.example in To is not in our domains'),
          "the foreign address is named in the note, as text");
    check(await page.locator("#table-body img").count() === 0, "no element was made from the routing note");
    check((await card(page, "carol").textContent()).includes("catch-all: firma.test -> office.test"),
          "carol's card says where a catch-all mailbox delivers");
    noProblems("after the multidrop message was fetched");

    // A second account with a wrong password arrives by a config reload: its card turns red.
    await hook("add-bad-account");
    await page.locator('[data-card="acct:bob"].card-bad').waitFor({ timeout: 45000 });
    const words = (await card(page, "bob").locator(".card-reason").textContent()).trim();
    check(/Login rejected by .+: -ERR/.test(words) && /Authentication failed/i.test(words),
          `bob's card is red with the reason: ${words}`);
    check(/password/i.test(await card(page, "bob").locator(".card-step").textContent()), "and says what to check next");
    await page.locator("#verdict[data-tone=bad]").waitFor({ timeout: 15000 });
    check(/1 problem needs attention/.test(await page.locator("#verdict-text").textContent()),
          "the verdict line counts the problem");
    check(await page.evaluate(() => window.__e2eNoReload === 1), "still the same page (no reload)");

    // Keyboard: arrows move between tabs; the error log shows the rejected login.
    await page.locator("#tab-fetch").focus();
    await page.keyboard.press("ArrowRight");
    check(await page.evaluate(() => document.activeElement?.id) === "tab-send", "ArrowRight moves to the send log tab");
    await page.keyboard.press("End");
    check(await page.locator("#tab-error").getAttribute("aria-selected") === "true", "End opens the errors tab");
    await page.locator("#table-body tr", { hasText: "Authentication failed" }).first().waitFor({ timeout: 15000 });
    check(true, "the errors tab lists the rejected login");
    await page.locator("#tab-queue").click();
    await page.locator("#table-empty:not([hidden])").waitFor({ timeout: 15000 });
    check(/queue is empty/i.test(await page.locator("#table-empty").textContent()), "the queue tab says the queue is empty");
    await page.locator("#tab-fetch").click();
    await row.first().waitFor({ state: "visible", timeout: 15000 });

    // "Test connection": the doctor's report in a dialog; bob's login fails and says why.
    await card(page, "bob").getByRole("button", { name: /test connection/i }).click();
    const report = page.locator("#testreport");
    await report.waitFor({ state: "visible", timeout: 60000 });
    check((await page.locator("#testreport-title").textContent()) === "Connection test: bob", "the report dialog opens for bob");
    check(/^Does not work\./.test(await page.locator("#testreport-summary").textContent()), "it says bob does not work");
    const failed = page.locator("#testreport-steps .test-step-failed");
    check(await failed.count() === 1 && /login as bob/.test(await failed.textContent()),
          `the failed step is the login: ${(await failed.textContent()).trim()}`);
    check(await page.locator("#testreport-steps .test-step-ok").count() >= 4, "DNS, TCP, TLS, greeting and capabilities passed");
    check(/was it changed/.test(await page.locator("#testreport-advice").textContent()), "the advice asks about the password");
    check(await page.evaluate(() => document.activeElement?.id) === "testreport-close", "the Close button has the focus");
    await shot(page, "test-report-en");
    await page.keyboard.press("Escape");
    await report.waitFor({ state: "hidden", timeout: 5000 });
    await card(page, "alice").getByRole("button", { name: /test connection/i }).click();
    await report.waitFor({ state: "visible", timeout: 60000 });
    check(/^Works\./.test(await page.locator("#testreport-summary").textContent()), "alice's connection works");
    check(/waiting at the provider; nothing was fetched or deleted/.test(await page.locator("#testreport-steps").textContent()),
          "the report counts the mailbox without fetching");
    await page.locator("#testreport-close").click();
    await report.waitFor({ state: "hidden", timeout: 5000 });

    // A reload with a broken file: the page says so (the old configuration keeps running), until fixed.
    await hook("break-config");
    const configProblem = page.locator("#verdict-list li", { hasText: "Configuration:" });
    await configProblem.waitFor({ timeout: 30000 });
    check(/keeps running: .*postbridge\.toml:\d+:\d+: /.test(await configProblem.textContent()),
          `the broken reload is shown with file and line: ${(await configProblem.textContent()).trim()}`);
    await hook("fix-config");
    await configProblem.waitFor({ state: "detached", timeout: 30000 });
    check(true, "the configuration problem goes away after a good reload");

    // "Sign in": an OAuth account without a login is red and says so; the page's device login
    // shows a code, the user approves it at the provider, the dialog follows, the mailbox works.
    await hook("add-oauth-account");
    await card(page, "dave").waitFor({ state: "visible", timeout: 30000 });
    await page.locator('[data-card="acct:dave"].card-bad').waitFor({ timeout: 30000 });
    check(/no OAuth login yet/.test(await card(page, "dave").textContent()), "dave's card says there is no OAuth login yet");
    check(/Press Sign in/.test(await card(page, "dave").textContent()), "and says to press Sign in");
    await card(page, "dave").getByRole("button", { name: /sign in/i }).click();
    const signin = page.locator("#signin");
    await signin.waitFor({ state: "visible", timeout: 10000 });
    await page.locator("#signin-code").waitFor({ timeout: 20000 });
    check(/^[A-Z]{4}-[A-Z]{4}$/.test(await page.locator("#signin-code").textContent()), "the dialog shows the device code");
    check(/\/device/.test(await page.locator("#signin-body a").getAttribute("href")), "and the provider's page to enter it");
    check(await page.locator("#signin-paste").isHidden(), "a device login has no paste box");
    await shot(page, "signin-en");
    await hook("approve-oauth");
    await page.locator('#signin-body[data-state="done"]').waitFor({ timeout: 30000 });
    check(/Signed in/.test(await page.locator("#signin-body").textContent()), "the dialog says the sign-in worked");
    await page.locator("#signin-close").click();
    await signin.waitFor({ state: "hidden", timeout: 5000 });
    await page.locator('[data-card="acct:dave"]:not(.card-bad)').waitFor({ timeout: 30000 });
    check(true, "dave's card turns green after the sign-in");

    noProblems("at the end of the English run");
    await shot(page, "desktop-en");
    await shot(page, "phone-en", { phone: true });
  } finally {
    await close(browser);
  }
}

async function german() {
  const browser = await launch("de-DE");
  const { page } = browser;
  try {
    await page.goto(BASE);
    await page.locator('[data-card="acct:bob"].card-bad').waitFor({ timeout: 20000 });
    check(await page.evaluate(() => document.documentElement.lang) === "de", "German browsers get the German page");
    check(/Anmeldung bei .+ abgelehnt/.test(await card(page, "bob").locator(".card-reason").textContent()),
          "the red card speaks German");
    check((await page.locator("#tab-fetch").textContent()).trim() === "Abrufprotokoll", "the tabs speak German");
    await page.locator("#table-body tr", { has: page.locator(".col-subject", { hasText: XSS }) }).first()
      .waitFor({ timeout: 15000 });
    noProblems("in the German run");
    await shot(page, "desktop-de");
    await shot(page, "phone-de", { phone: true });
  } finally {
    await close(browser);
  }
}

try {
  fs.mkdirSync(OUT, { recursive: true });
  await english();
  await german();
  noProblems("at the end");
  console.log("PASS");
  process.exit(0);
} catch (e) {
  console.log(`FAIL ${String(e?.message || e).replace(/\s+/g, " ")}`);
  process.exit(1);
}
