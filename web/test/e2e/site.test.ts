// The site in a real browser (Debian's chromium) against a real chain: anvil with the
// contract from `aqueduct deploy --dev`, a chain-mode `aqueduct node`, and the test
// wallet. The tests run in order and share the chain: the member who pays in one is
// the member whose credential is used with curl in the next.
import { after, before, test } from "node:test";
import assert from "node:assert/strict";
import type { Browser, Page } from "playwright-core";
import { LocalNet, DEV, MEMBER, NODE, STRANGER, ORIGIN_BODY, curl } from "../support/chain";
import { Site } from "../support/site";
import { launch, open, screenshot, setReject, waitText, walletState, type Opened, type WalletOptions } from "../support/browser";
import { eventually } from "../support/procs";

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
  assert.equal(await waitText(page, "#price", /10 tUSD per 1 day/), "10 tUSD per 1 day");
  assert.equal(await waitText(page, "#active-nodes", /\d/), "1");
  assert.match((await page.textContent("#healthy-nodes")) ?? "", /not measured/);
  await screenshot(page, "home-en");
  const zh = await visit("#/", { locale: "zh-CN" });
  await waitText(zh, "#price", /每 1 天 10 tUSD/);
  assert.equal(await zh.getAttribute("html", "lang"), "zh-CN");
  assert.equal(await zh.textContent("#nav-join"), "加入");
  await screenshot(zh, "home-zh");
  await zh.click("#lang");
  await waitText(zh, "#price", /10 tUSD per 1 day/);
  assert.equal(await zh.textContent("#nav-join"), "Join");
});
