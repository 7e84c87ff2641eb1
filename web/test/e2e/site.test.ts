// The site in a real browser (Debian's chromium) against a real chain: anvil with the
// contract from `aqueduct deploy --dev`, a chain-mode `aqueduct node`, and the test
// wallet. The tests run in order and share the chain: the member who pays in one is
// the member whose credential is used with curl in the next.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { AQUEDUCT_BIN, LocalNet, DEV, MEMBER, NODE, PAYEE, STRANGER, ORIGIN_BODY, curl } from "../support/chain";
import { Site } from "../support/site";
import { aqueductAbi } from "../../src/chain";
import { launch, open, screenshot, setReject, waitText, walletState, type Opened, type WalletOptions } from "../support/browser";
import { Proc, eventually, freePort, removeDir, scratchDir } from "../support/procs";

const net = new LocalNet();
const site = new Site();
let browser: Browser;
const opened: Opened[] = [];

const ANVIL_CHAIN = "0x7a69";
const T = { timeout: 120_000 };

before(async () => {
  await Promise.all([net.start(), site.start()]);
  site.config = {
    chainId: 31337,
    chainName: "Anvil",
    rpc: [net.rpc],
    contract: net.contract,
    deployBlock: net.deployBlock,
    maxCredentialLifetimeSecs: 86400,
    readmeUrl: "README.md#running-a-node",
  };
  browser = await launch();
});

after(async () => {
  for (const o of opened) await o.context.close().catch(() => undefined);
  await browser?.close();
  await site.stop();
  await net.stop();
  for (const o of opened) {
    assert.deepEqual(o.outside, [], "the page asked for something outside loopback");
    assert.deepEqual(o.errors, [], "uncaught errors in the page");
  }
});

async function visit(path: string, opts: { locale?: string; wallet?: WalletOptions } = {}): Promise<Page> {
  const o = await open(browser, site.url + path, { ...opts, rpc: net.rpc });
  opened.push(o);
  return o.page;
}

function wallet(i: number, chainId = ANVIL_CHAIN): WalletOptions {
  return { account: DEV[i].address, chainId, announce: true };
}

/** Connects the announced test wallet on the current page. */
async function connect(page: Page): Promise<void> {
  await page.click("#connect-0");
  await page.waitForSelector("#account");
}

test("home shows the chain's live figures, in English and in Chinese", T, async () => {
  const page = await visit("#/");
  assert.equal(await waitText(page, "#price", /100 tUSD per 1 day/), "100 tUSD per 1 day");
  assert.equal(await waitText(page, "#active-nodes", /\d/), "1");
  assert.match((await page.textContent("#healthy-nodes")) ?? "", /not measured/);
  await screenshot(page, "home-en");
  const zh = await visit("#/", { locale: "zh-CN" });
  await waitText(zh, "#price", /每 1 天 100 tUSD/);
  assert.equal(await zh.getAttribute("html", "lang"), "zh-CN");
  assert.equal(await zh.textContent("#nav-join"), "加入");
  await screenshot(zh, "home-zh");
  await zh.click("#lang");
  await waitText(zh, "#price", /100 tUSD per 1 day/);
  assert.equal(await zh.textContent("#nav-join"), "Join");
});

test("a broken config.json stops the site with a sentence naming the key, in both languages", T, async () => {
  const good = site.config;
  site.config = { ...good, contract: "0x12" };
  try {
    const page = await visit("#/");
    assert.equal(
      await waitText(page, "#config-problem", /./),
      "This site cannot start: its config.json is not usable (contract). Whoever hosts the site has to fix that file.",
    );
    assert.equal(await page.getAttribute("#config-problem", "data-field"), "contract");
    const zh = await visit("#/", { locale: "zh-CN" });
    assert.equal(await waitText(zh, "#config-problem", /./), "本站无法启动：它的 config.json 不可用（contract）。需要由托管本站的人修正该文件。");
  } finally {
    site.config = good;
  }
});

test("without a wallet the Join page says so and offers nothing to click", T, async () => {
  const page = await visit("#/join");
  assert.match(await waitText(page, "#wallet-problem", /No wallet found/), /Install a browser wallet/);
  assert.equal(await page.locator("#connect-0").count(), 0);
});

test("a wallet only at window.ethereum is offered as the browser wallet", T, async () => {
  const page = await visit("#/join", { wallet: { account: DEV[MEMBER].address, chainId: ANVIL_CHAIN, legacy: true } });
  assert.equal(await waitText(page, "#connect-0", /Connect/), "Connect Browser wallet");
  await connect(page);
  assert.equal(await page.getAttribute("#account", "data-account"), DEV[MEMBER].address);
});

let member: Page;

test("connect on the wrong chain, then switch (the wallet adds the chain first)", T, async () => {
  member = await visit("#/join", { wallet: wallet(MEMBER, "0x1") });
  assert.match(await waitText(member, "#connect-0", /Test Wallet/), /Connect Test Wallet/);
  assert.equal(await member.getAttribute("#connect-0 img", "src").then((s) => s?.startsWith("data:image/svg+xml")), true);
  await connect(member);
  assert.match(await waitText(member, "#wrong-chain", /chain 1/), /this network lives on Anvil \(chain 31337\)/);
  assert.equal(await member.locator("#periods").count(), 0, "no payment form on the wrong chain");
  await member.click("#switch-chain");
  await member.waitForSelector("#periods");
  const w = await walletState(member);
  assert.equal(w.chainId, ANVIL_CHAIN);
  assert.equal(w.added.length, 1);
  assert.equal(w.added[0].chainId, ANVIL_CHAIN);
  assert.deepEqual(w.added[0].rpcUrls, [net.rpc]);
  assert.equal(await member.locator("#wrong-chain").count(), 0);
  assert.equal(await waitText(member, "#balance", /tUSD/), "1000 tUSD");
  assert.equal(await waitText(member, "#membership", /member/), "not a member");
  assert.equal(await waitText(member, "#cost", /Cost/), "Cost: 100 tUSD for 1 day of access");
  assert.equal(await waitText(member, "#periods-hint", /period/), "one period is 1 day; one payment buys 1 to 12");
  assert.equal(await waitText(member, "#periods-cap", /ahead/), "A member can be paid at most 12 periods (12 days) ahead. For this address, up to 12 can be added now.");
  assert.equal(await waitText(member, "#refundable", /./), "nothing");
});

test("the user rejects in the wallet: a plain sentence, nothing sent, the form kept", T, async () => {
  await member.fill("#periods", "3");
  await setReject(member, ["eth_sendTransaction"]);
  await member.click("#subscribe");
  assert.equal(await waitText(member, "#join-problem", /./), "You rejected the request in your wallet. Nothing was sent.");
  assert.equal(await member.getAttribute("#tx-approve", "data-state"), "failed");
  assert.equal(await member.inputValue("#periods"), "3");
  assert.equal(await member.isEnabled("#subscribe"), true);
  assert.equal(await net.read<bigint>("memberUntil", [DEV[MEMBER].address]), 0n);
  await setReject(member, []);
});

test("not enough tokens: said before any transaction", T, async () => {
  const sent = (await walletState(member)).calls.filter((c) => c === "eth_sendTransaction").length;
  await member.fill("#periods", "11");
  await waitText(member, "#cost", /1100 tUSD/);
  await member.click("#subscribe");
  assert.equal(await waitText(member, "#join-problem", /Not enough/), "Not enough tUSD: you have 1000 tUSD, this costs 1100 tUSD.");
  assert.equal((await walletState(member)).calls.filter((c) => c === "eth_sendTransaction").length, sent);
  assert.equal(await member.inputValue("#periods"), "11");
});

test("no ETH for gas: a plain sentence, and the form stays", T, async () => {
  const poor = DEV[3].address;
  await net.rpcCall("anvil_setBalance", [poor, "0x0"]);
  const page = await visit("#/join", { wallet: wallet(3) });
  await connect(page);
  await waitText(page, "#balance", /1000 tUSD/);
  await page.click("#subscribe");
  assert.equal(
    await waitText(page, "#join-problem", /./),
    "Not enough ETH to pay for gas. Add a little ETH to this wallet and try again.",
  );
  assert.equal(await page.getAttribute("#tx-approve", "data-state"), "failed");
  assert.equal(await page.isEnabled("#subscribe"), true);
  assert.equal(await page.inputValue("#periods"), "1");
});

test("approve and subscribe: each step shown, and the chain has the membership", T, async () => {
  await member.fill("#periods", "1");
  await member.click("#subscribe");
  await member.waitForSelector("#join-done:not([hidden])");
  assert.equal(await member.getAttribute("#tx-approve", "data-state"), "mined");
  assert.match((await member.textContent("#tx-approve")) ?? "", /Allow the contract to take 100 tUSD Mined in block \d+/);
  assert.equal(await member.getAttribute("#tx-subscribe", "data-state"), "mined");
  const until = await net.read<bigint>("memberUntil", [DEV[MEMBER].address]);
  assert.equal(await net.read<boolean>("isMember", [DEV[MEMBER].address]), true);
  assert.equal(await member.getAttribute("#join-done", "data-until"), String(until));
  assert.match((await member.textContent("#join-done")) ?? "", new RegExp(`Paid\\. ${DEV[MEMBER].address} is a member until`));
  await waitText(member, "#membership", /member until/);
  assert.equal(await member.getAttribute("#membership span", "data-until"), String(until));
  assert.equal(await waitText(member, "#balance", /900/), "900 tUSD");
  assert.equal(await waitText(member, "#periods-cap", /up to 11/), "A member can be paid at most 12 periods (12 days) ahead. For this address, up to 11 can be added now.");
  await screenshot(member, "join-paid-en");
});

test("paused: the admin's pause is said plainly, and the page works again after", T, async () => {
  await net.ownerCall("pause");
  try {
    await member.click("#subscribe");
    const text = await waitText(member, "#join-problem", /paused/);
    assert.equal(text, "New subscriptions are paused by the network's admin. Access already bought keeps working; try again later.");
    assert.equal(await member.getAttribute("#join-problem", "data-error"), "EnforcedPause");
  } finally {
    await net.ownerCall("unpause");
  }
  const before = await net.read<bigint>("memberUntil", [DEV[MEMBER].address]);
  await member.click("#subscribe");
  await member.waitForSelector("#join-problem[hidden]", { state: "attached" });
  await member.waitForSelector("#tx-subscribe[data-state=mined]");
  assert.equal(await net.read<bigint>("memberUntil", [DEV[MEMBER].address]), before + 86400n);
});

test("the prepayment cap: more periods than the contract allows are refused in plain words, before any transaction", T, async () => {
  // The member holds 2 days now (the two tests above): 10 more fit under the 12-day cap.
  await waitText(member, "#periods-cap", /up to 10/);
  const sent = (await walletState(member)).calls.filter((c) => c === "eth_sendTransaction").length;
  await member.fill("#periods", "13");
  await member.click("#subscribe");
  assert.equal(await waitText(member, "#join-problem", /./), "Choose a whole number of periods from 1 to 12.");
  await member.fill("#periods", "11");
  await member.click("#subscribe");
  assert.equal(
    await waitText(member, "#join-problem", /up to|from 1 to 10/),
    "Choose a whole number of periods from 1 to 10: a member can be paid at most 12 periods ahead.",
  );
  assert.equal((await walletState(member)).calls.filter((c) => c === "eth_sendTransaction").length, sent);
  assert.equal(await member.inputValue("#periods"), "11");
  await member.fill("#periods", "1");
});

test("paying for another address makes that address the member", T, async () => {
  const other = DEV[4].address;
  await member.fill("#member", "0x1234");
  await member.click("#subscribe");
  assert.equal(await waitText(member, "#join-problem", /./), "That is not an address (0x and 40 hex digits).");
  assert.equal(await member.inputValue("#member"), "0x1234");
  await member.fill("#member", other);
  await member.dispatchEvent("#member", "change");
  await waitText(member, "#membership", /not a member/);
  await member.click("#subscribe");
  await member.waitForSelector("#join-done:not([hidden])");
  const until = await net.read<bigint>("memberUntil", [other]);
  assert.ok(until > 0n);
  assert.match((await member.textContent("#join-done")) ?? "", new RegExp(`${other} is a member until`));
  await member.waitForSelector(`#membership span[data-until="${until}"]`);
  await member.fill("#member", "");
  await member.dispatchEvent("#member", "change");
});

/** The proxy URLs the Access page shows, after signing as the connected wallet. */
async function signOnAccessPage(page: Page, node: string): Promise<{ socks: string; http: string; password: string }> {
  await page.click("#nav-access");
  await page.waitForSelector(`#node option[value="${node}"]`, { state: "attached" });
  await page.selectOption("#node", node);
  await page.selectOption("#lifetime", "3600");
  await page.click("#sign");
  await page.waitForSelector("#credential:not([hidden])");
  return {
    socks: await page.inputValue("#socks-0"),
    http: await page.inputValue("#http-0"),
    password: await page.inputValue("#password"),
  };
}

test("a credential signed in the page gets curl through the real node", T, async () => {
  const nodeAddr = DEV[NODE].address.toLowerCase();
  const urls = await signOnAccessPage(member, nodeAddr);
  const expires = Number(await member.getAttribute("#expires", "data-expires"));
  const now = Math.floor(Date.now() / 1000);
  assert.ok(expires > now + 3500 && expires <= now + 3600, `expires ${expires}, now ${now}`);
  assert.equal(await member.inputValue("#username"), DEV[MEMBER].address.toLowerCase());
  assert.match(urls.password, new RegExp(`^${expires}:${nodeAddr}:[0-9a-f]{130}$`));
  assert.equal(urls.socks, `socks5h://${DEV[MEMBER].address.toLowerCase()}:${urls.password.replaceAll(":", "%3A")}@127.0.0.1:${net.nodePort}`);
  assert.equal(await member.locator("#membership-warning").isHidden(), true);
  assert.match((await member.textContent("#bearer-warning")) ?? "", /bearer secret/);
  // The node learns of the payment from the chain's logs within a poll or two.
  const body = await eventually("curl through the node with the page's credential", async () => {
    const r = await curl(["--proxy", urls.socks, net.originUrl]);
    return r.code === 0 ? r.stdout : undefined;
  });
  assert.equal(body, ORIGIN_BODY);
  const viaHttp = await curl(["--proxy", urls.http, net.originUrl]);
  assert.equal(viaHttp.stdout, ORIGIN_BODY, viaHttp.stderr);
  const [download] = await Promise.all([member.waitForEvent("download"), member.click("#download-local")]);
  assert.equal(download.suggestedFilename(), "local.toml");
  const text = readFileSync((await download.path())!, "utf8");
  assert.match(text, new RegExp(`nodes = \\["127\\.0\\.0\\.1:${net.nodePort}@${nodeAddr}"\\]`));
  assert.match(text, new RegExp(`contract = "${net.contract.toLowerCase()}"`));
  assert.doesNotMatch(text, /key =/);
  // The downloaded file is all `aqueduct local` needs: no key file, the page's credential.
  const dir = scratchDir("local-toml");
  writeFileSync(join(dir, "local.toml"), text);
  const port = await freePort();
  const local = new Proc("aqueduct local", AQUEDUCT_BIN, ["local", "--config", join(dir, "local.toml"), "--listen", `127.0.0.1:${port}`], join(dir, "local.log"));
  try {
    await local.waitLog(/listening on/);
    const viaLocal = await eventually("curl through aqueduct local", async () => {
      const r = await curl(["--proxy", `socks5h://127.0.0.1:${port}`, net.originUrl]);
      return r.code === 0 ? r.stdout : undefined;
    });
    assert.equal(viaLocal, ORIGIN_BODY);
  } finally {
    await local.stop();
    removeDir(dir);
  }
  await screenshot(member, "access-signed-en");
});

test("a stranger's credential, well signed in the page, is refused by the node", T, async () => {
  const page = await visit("#/access", { wallet: wallet(STRANGER) });
  await connect(page);
  const urls = await signOnAccessPage(page, "*");
  assert.match(urls.password, /^\d+:\*:[0-9a-f]{130}$/);
  assert.match(await waitText(page, "#membership-warning", /not a paying member/), /nodes will refuse this credential/);
  const viaHttp = await curl(["--output", "/dev/null", "--write-out", "%{http_code}", "--proxy", urls.http, net.originUrl]);
  assert.equal(viaHttp.stdout, "407");
  const viaSocks = await curl(["--proxy", urls.socks, net.originUrl]);
  assert.notEqual(viaSocks.code, 0);
  assert.notEqual(viaSocks.stdout, ORIGIN_BODY);
  // The member's own credential still works: the refusal is about the stranger.
  const mine = await member.inputValue("#socks-0");
  assert.equal((await curl(["--proxy", mine, net.originUrl])).stdout, ORIGIN_BODY);
});

test("rejecting the signature leaves the Access page usable", T, async () => {
  await setReject(member, ["personal_sign"]);
  await member.click("#sign");
  assert.equal(await waitText(member, "#access-problem", /./), "You rejected the request in your wallet. Nothing was sent.");
  assert.equal(await member.isHidden("#credential"), true);
  await setReject(member, []);
  await member.click("#sign");
  await member.waitForSelector("#credential:not([hidden])");
  assert.equal(await member.isHidden("#access-problem"), true);
});

test("Nodes and Home show what the real `aqueduct monitor` measured through the node", T, async () => {
  const dashboard = await net.startMonitor();
  const address = DEV[NODE].address;
  // Its own JSON first: the node is up once a round has probed it through the node.
  await eventually("the monitor's first round through the node", async () => {
    const res = await fetch(`${dashboard}/api/nodes`);
    if (!res.ok) return undefined;
    const list = (await res.json()) as { node: string; state: string }[];
    return list.some((n) => n.node.toLowerCase() === address.toLowerCase() && n.state === "up");
  }, 90_000);
  site.monitorUpstream = dashboard;
  site.config = { ...site.config, monitorApi: `${site.url}monitor` };
  try {
    const page = await visit("#/nodes");
    await page.waitForSelector("#nodes-table[data-state=ready]", { state: "attached" });
    const cells = await page.locator(`#nodes-table tr[data-address="${address.toLowerCase()}"] td`).allTextContents();
    assert.deepEqual(cells.slice(0, 4), [address, `127.0.0.1:${net.nodePort}`, "yes", "up"]);
    assert.match(cells[4], /^\d+ ms$/);
    assert.match(cells[5], /^\d{1,3}\.\d%$/);
    assert.equal(await page.textContent("#monitor-note"), "");
    await page.click("#nav-home");
    assert.equal(await waitText(page, "#healthy-nodes", /of/), "1 of 1");
  } finally {
    site.monitorUpstream = undefined;
    site.config = { ...site.config, monitorApi: undefined };
    await net.monitor?.stop();
  }
});

test("the Nodes page lists the registry, with health once a monitor is configured", T, async () => {
  const plain = await visit("#/nodes");
  await plain.waitForSelector("#nodes-table[data-state=ready]", { state: "attached" });
  const row = `#nodes-table tr[data-address="${DEV[NODE].address.toLowerCase()}"]`;
  assert.deepEqual(await plain.locator(`${row} td`).allTextContents(), [DEV[NODE].address, `127.0.0.1:${net.nodePort}`, "yes"]);
  assert.match((await plain.textContent("#monitor-note")) ?? "", /no monitor is configured/);

  site.config = { ...site.config, monitorApi: `${site.url}monitor` };
  // The shape `aqueduct monitor` answers at /api/nodes (src/monitor/stats.rs, NodeSummary).
  site.monitor = [
    {
      node: DEV[NODE].address,
      endpoint: `127.0.0.1:${net.nodePort}`,
      active: true,
      state: "up",
      uptime_24h: 0.995,
      uptime_7d: 0.99,
      uptime_30d: null,
      probes_24h: 200,
      heartbeats_24h: 140,
      slots_24h: 144,
      heartbeat_share_24h: 0.97,
      latency_p50_ms: 12.4,
      latency_p95_ms: 30.1,
      throughput_kbps: 900.5,
      egress: "127.0.0.1",
      last_outcome: "ok",
      last_probe_ms: Date.now(),
      last_failure: null,
      flagged: false,
      reported_usage: null,
    },
  ];
  try {
    const page = await visit("#/nodes");
    await page.waitForSelector("#nodes-table[data-state=ready]", { state: "attached" });
    assert.deepEqual(await page.locator(`${row} td`).allTextContents(), [
      DEV[NODE].address,
      `127.0.0.1:${net.nodePort}`,
      "yes",
      "up",
      "12 ms",
      "99.5%",
    ]);
    await page.click("#nav-home");
    assert.equal(await waitText(page, "#healthy-nodes", /of/), "1 of 1");
    assert.ok(site.monitorHits >= 2);
    const zh = await visit("#/nodes", { locale: "zh-CN" });
    await zh.waitForSelector("#nodes-table[data-state=ready]", { state: "attached" });
    assert.equal(await zh.locator(`${row} td.health`).textContent(), "正常");
    site.monitor = [{ ...(site.monitor as object[])[0], state: "down" }];
    await page.click("#nav-home");
    await page.reload();
    assert.equal(await waitText(page, "#healthy-nodes", /of/), "0 of 1");
  } finally {
    site.config = { ...site.config, monitorApi: undefined };
  }
});

test("screenshots of every page in both languages", T, async () => {
  const pages = ["", "join", "access", "nodes", "operators"];
  for (const locale of ["en-US", "zh-CN"]) {
    const lang = locale.slice(0, 2);
    const page = await visit("#/", { locale, wallet: wallet(MEMBER) });
    await waitText(page, "#price", /tUSD/);
    for (const name of pages) {
      await page.click(`#nav-${name || "home"}`);
      // The page is drawn on the hash change, after the click returns.
      await page.waitForSelector(`#app[data-page="${name || "home"}"]`, { state: "attached" });
      if (name === "join" || name === "access" || name === "operators") {
        if (await page.locator("#connect-0").count()) await connect(page);
      }
      if (name === "join") {
        await waitText(page, "#membership", /\d{4}/);
        await page.waitForSelector("#refundable[data-state=ready]", { state: "attached" });
        await waitText(page, "#periods-cap", /\d/);
      }
      if (name === "nodes") await page.waitForSelector("#nodes-table[data-state=ready]", { state: "attached" });
      if (name === "operators") await page.waitForSelector("#ops-facts[data-state=ready]", { state: "attached" });
      // Every visible string comes from the page's language table.
      if (lang === "zh") assert.match((await page.textContent("main h1")) ?? "", /[\u4e00-\u9fff]/);
      await screenshot(page, `${name || "home"}-${lang}`);
    }
  }
});

test("operators: any wallet sees a node's payee, its unsettled epochs, and claims for the payee", T, async () => {
  const node = DEV[NODE].address;
  const payee = DEV[PAYEE].address;
  const epoch = await net.read<bigint>("currentEpoch");
  await eventually("the node's first heartbeat", async () => (await net.read<bigint>("heartbeatsInEpoch", [node, epoch])) > 0n);
  // The next slot's heartbeat reports what the node served since its first (the curl tests).
  const first = await net.read<bigint>("heartbeatsInEpoch", [node, epoch]);
  await net.warp(600);
  await eventually("the node's next heartbeat", async () => (await net.read<bigint>("heartbeatsInEpoch", [node, epoch])) > first);
  // The node stops, so its heartbeats are what they are now (and later epochs have nobody online).
  await net.stopNode();
  const reported = await net.client.getContractEvents({ address: net.contract, abi: aqueductAbi, eventName: "Heartbeat", args: { node, epoch }, fromBlock: 0n });
  const sessions = reported.reduce((sum, l) => sum + (l.args as { sessions: bigint }).sessions, 0n);
  const relayed = reported.reduce((sum, l) => sum + (l.args as { bytesRelayed: bigint }).bytesRelayed, 0n);
  assert.ok(sessions > 0n && relayed > 0n, `the node reported its sessions: ${sessions}, ${relayed} bytes`);
  const beats = await net.read<bigint>("heartbeatsInEpoch", [node, epoch]);
  // A stranger's wallet: not the node, not its payee. Anyone may trigger a claim.
  const page = await visit("#/operators", { wallet: wallet(STRANGER) });
  await connect(page);
  await page.waitForSelector(`#ops-facts[data-state=ready][data-node="${node.toLowerCase()}"]`, { state: "attached" });
  assert.equal(await page.getAttribute("#whitelisted", "data-value"), "true");
  assert.equal(await page.textContent("#endpoint"), `127.0.0.1:${net.nodePort}`);
  assert.equal(await page.textContent("#payee"), payee);
  assert.equal(await page.textContent("#claim-note"), `The claim pays ${payee}, whoever sends it.`);
  assert.equal(await page.getAttribute("#epoch", "data-value"), String(epoch));
  assert.equal(await page.textContent("#heartbeats"), `${beats} of 6 slots`);
  assert.equal(await page.getAttribute("#claimable", "data-value"), "0");
  assert.equal(await page.isDisabled("#claim"), true, "nothing to claim while the epoch runs");
  await page.waitForSelector("#usage[data-state=ready]", { state: "attached" });
  assert.equal(await page.getAttribute("#usage", "data-sessions"), String(sessions));
  assert.equal(await page.getAttribute("#usage", "data-bytes"), String(relayed));
  assert.match((await page.textContent("#usage")) ?? "", new RegExp(`^${sessions} sessions, [\\d.]+ (B|KiB|MiB) relayed, up to \\d+ members between two heartbeats$`));

  // The epoch ends: its earnings wait out the challenge window (the whole next epoch).
  await net.warp(3600);
  await page.reload();
  await connect(page);
  await page.waitForSelector("#ops-facts[data-state=ready]", { state: "attached" });
  assert.equal(await page.getAttribute("#claimable", "data-value"), "0");
  assert.equal(await page.textContent("#unsettled"), `${beats} heartbeats in epochs ${epoch} to ${epoch + 1n}`);
  assert.match((await page.textContent("#unsettled-note")) ?? "", /settles one full epoch after it ends/);
  assert.equal(await page.isDisabled("#claim"), true, "nothing to claim inside the challenge window");

  await net.warp(3600);
  const claimable = await net.read<bigint>("claimable", [node]);
  assert.ok(claimable > 0n, "the node earned its share of its first epoch");
  const [payeeBefore, nodeBefore, strangerBefore] = await Promise.all([
    net.tokenBalance(payee),
    net.tokenBalance(node),
    net.tokenBalance(DEV[STRANGER].address),
  ]);
  await page.reload();
  await connect(page);
  await page.waitForSelector("#ops-facts[data-state=ready]", { state: "attached" });
  assert.equal(await page.getAttribute("#claimable", "data-value"), String(claimable));
  assert.equal(await page.textContent("#unsettled"), `0 heartbeats in epochs ${epoch + 1n} to ${epoch + 2n}`);
  await page.click("#claim");
  await page.waitForSelector("#ops-done:not([hidden])");
  assert.equal(await page.getAttribute("#tx-claim", "data-state"), "mined");
  assert.equal(await page.getAttribute("#ops-done", "data-paid"), String(claimable));
  assert.match((await page.textContent("#ops-done")) ?? "", new RegExp(`for the payee ${payee}\\.$`));
  assert.equal(await net.read<bigint>("claimable", [node]), 0n);
  assert.equal(await net.tokenBalance(payee), payeeBefore + claimable, "the payee got the earnings");
  assert.equal(await net.tokenBalance(node), nodeBefore, "the node's own key got nothing");
  assert.equal(await net.tokenBalance(DEV[STRANGER].address), strangerBefore, "the sender got nothing");
  assert.equal(await page.getAttribute("#claimable", "data-value"), "0");
  assert.equal(await page.getAttribute("#payee-balance", "data-value"), String(payeeBefore + claimable));
  assert.equal(await page.isDisabled("#claim"), true);
  await screenshot(page, "operators-claimed-en");

  // The payee's own wallet sees itself named as the payee.
  const own = await visit("#/operators", { wallet: wallet(PAYEE) });
  await connect(own);
  await own.waitForSelector("#ops-facts[data-state=ready]", { state: "attached" });
  assert.equal(await own.textContent("#payee"), `${payee} (this wallet)`);
});

test("refunds: epochs nobody served go back to the payer, who takes them back on Join", T, async () => {
  // The node stopped in the epoch it first served: once the next epoch settles (nobody was
  // online in it), the payments that cover it have its share due back to their payer.
  await net.warp(3600);
  const me = DEV[MEMBER].address;
  const page = await visit("#/join", { wallet: wallet(MEMBER) });
  await connect(page);
  await waitText(page, "#refundable", /tUSD/);
  const due = BigInt((await page.getAttribute("#refundable", "data-value")) ?? "0");
  // The member's first payment and the one for another address cover that epoch; the
  // renewal starts a day later and owes nothing yet.
  const latest = await net.read<bigint>("memberUntil", [me]);
  const first = await net.read<bigint>("refundable", [me, latest - 86400n]);
  const other = await net.read<bigint>("refundable", [DEV[4].address, await net.read<bigint>("memberUntil", [DEV[4].address])]);
  assert.ok(first > 0n && other > 0n, `refundable: first ${first}, other ${other}`);
  assert.equal(await net.read<bigint>("refundable", [me, latest]), 0n);
  assert.equal(due, first + other, "the page shows what the contract owes this payer");
  assert.match(await waitText(page, "#refund", /Take back/), new RegExp(`^Take back [\\d.]+ tUSD$`));
  const before = await net.tokenBalance(me);
  await page.click("#refund");
  await page.waitForSelector("#refund-done:not([hidden])");
  assert.equal(await net.tokenBalance(me), before + due, "the payer got exactly what the page said");
  assert.equal(await page.locator("#refund-txs li[data-state=mined]").count(), 2);
  assert.match((await page.textContent("#refund-done")) ?? "", /^Refunded [\d.]+ tUSD\. Balance now [\d.]+ tUSD\.$/);
  await page.waitForSelector("#refundable[data-value='0']", { state: "attached" });
  assert.equal(await page.textContent("#refundable"), "nothing");
  assert.equal(await page.isHidden("#refund"), true);
  assert.equal(await net.read<bigint>("refundable", [me, latest - 86400n]), 0n);
  await screenshot(page, "join-refunded-en");
});
