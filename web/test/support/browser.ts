// Debian's chromium, driven by playwright-core (no browser is ever downloaded), and the
// test wallet: an EIP-1193 provider injected into the page by the test only, announced
// by EIP-6963 (and/or set as window.ethereum), backed by anvil's unlocked dev accounts.
import { chromium, type Browser, type BrowserContext, type Page } from "playwright-core";
import { mkdirSync } from "node:fs";
import { join } from "node:path";
import { WEB } from "./paths";
import { WAIT_MS } from "./procs";

export const CHROMIUM = process.env.CHROMIUM ?? "/usr/bin/chromium";
export const ARTIFACTS = join(WEB, "test-artifacts");

export async function launch(): Promise<Browser> {
  // playwright's launch gives chromium a fresh, empty --user-data-dir of its own each time.
  return chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-quic",
      "--no-first-run",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
    ],
  });
}

export interface WalletOptions {
  /** The dev account the wallet holds. */
  account: string;
  /** The chain the wallet starts on (hex), e.g. "0x1" to test switching. */
  chainId: string;
  /** Chains the wallet knows at start; switching to another answers 4902 until it is added. */
  known?: string[];
  announce?: boolean;
  legacy?: boolean;
}

export interface TestWalletState {
  account: string;
  chainId: string;
  known: string[];
  reject: string[];
  calls: string[];
  added: { chainId: string; rpcUrls: string[]; chainName: string }[];
}

/** Runs in the page before any of its scripts. */
function injectWallet(o: WalletOptions & { rpcChainId: string }) {
  type Listener = (...a: unknown[]) => void;
  const listeners: Record<string, Listener[]> = {};
  const state: TestWalletState = {
    account: o.account,
    chainId: o.chainId,
    known: o.known ?? [o.chainId],
    reject: [],
    calls: [],
    added: [],
  };
  const fail = (code: number, message: string, data?: unknown) => Object.assign(new Error(message), { code, data });
  const emit = (ev: string, ...a: unknown[]) => (listeners[ev] ?? []).forEach((f) => f(...a));
  type Answer = { result?: unknown; error?: { code: number; message: string; data?: unknown } };
  const bridge = (m: string, p: unknown) =>
    (window as unknown as { __aqWalletRpc: (m: string, p: unknown) => Promise<Answer> }).__aqWalletRpc(m, p);
  const provider = {
    isTestWallet: true,
    async request({ method, params }: { method: string; params?: unknown[] }) {
      state.calls.push(method);
      if (state.reject.includes(method)) throw fail(4001, "User rejected the request.");
      switch (method) {
        case "eth_requestAccounts":
        case "eth_accounts":
          return [state.account];
        case "eth_chainId":
          return state.chainId;
        case "wallet_switchEthereumChain": {
          const id = String((params?.[0] as { chainId: string }).chainId).toLowerCase();
          if (!state.known.includes(id)) throw fail(4902, `Unrecognized chain ID ${id}. Try adding the chain first.`);
          state.chainId = id;
          emit("chainChanged", id);
          return null;
        }
        case "wallet_addEthereumChain": {
          const p = params?.[0] as { chainId: string; rpcUrls: string[]; chainName: string };
          state.known.push(p.chainId.toLowerCase());
          state.added.push(p);
          return null;
        }
      }
      if (state.chainId !== o.rpcChainId) throw fail(4901, "the test wallet only reaches anvil");
      if (method === "eth_sendTransaction") {
        const tx = params?.[0] as { from?: string };
        if (tx.from?.toLowerCase() !== state.account.toLowerCase()) throw fail(4100, "not this wallet's account");
      }
      const r = await bridge(method, params ?? []);
      if (r.error) throw fail(r.error.code, r.error.message, r.error.data);
      return r.result;
    },
    on(ev: string, f: Listener) {
      (listeners[ev] ??= []).push(f);
    },
    removeListener(ev: string, f: Listener) {
      listeners[ev] = (listeners[ev] ?? []).filter((g) => g !== f);
    },
  };
  (window as unknown as { __testWallet: TestWalletState }).__testWallet = state;
  if (o.legacy) (window as unknown as { ethereum: unknown }).ethereum = provider;
  if (o.announce) {
    const info = {
      uuid: "9f1c7c1e-0000-4000-8000-aqueducttest",
      name: "Test Wallet",
      icon: "data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 8 8'%3E%3Crect width='8' height='8' fill='%23f90'/%3E%3C/svg%3E",
      rdns: "org.aqueduct.test",
    };
    const announce = () =>
      window.dispatchEvent(new CustomEvent("eip6963:announceProvider", { detail: Object.freeze({ info, provider }) }));
    window.addEventListener("eip6963:requestProvider", announce);
    announce();
  }
}

export interface Opened {
  context: BrowserContext;
  page: Page;
  /** Requests to anything but loopback (there must be none). */
  outside: string[];
  errors: string[];
}

/**
 * A fresh context (no storage from other tests) on `url`, in `locale`, with the test
 * wallet when `wallet` is given. The wallet's chain calls go to anvil at `rpc`.
 */
export async function open(
  browser: Browser,
  url: string,
  opts: { locale?: string; wallet?: WalletOptions; rpc?: string } = {},
): Promise<Opened> {
  const context = await browser.newContext({ locale: opts.locale ?? "en-US", viewport: { width: 1100, height: 800 } });
  context.setDefaultTimeout(WAIT_MS);
  const outside: string[] = [];
  const errors: string[] = [];
  context.on("request", (req) => {
    const u = new URL(req.url());
    if (u.protocol === "data:" || u.protocol === "blob:") return;
    if (u.hostname !== "127.0.0.1" && u.hostname !== "localhost" && u.hostname !== "[::1]") outside.push(req.url());
  });
  if (opts.wallet) {
    const rpc = opts.rpc!;
    await context.exposeFunction("__aqWalletRpc", async (method: string, params: unknown[]) => {
      const res = await fetch(rpc, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ jsonrpc: "2.0", id: 1, method, params }),
      });
      return res.json();
    });
    await context.addInitScript(injectWallet, { ...opts.wallet, rpcChainId: "0x7a69" });
  }
  const page = await context.newPage();
  page.on("pageerror", (e) => errors.push(String(e)));
  // A blocked asset (CSP), a failed load or an error the site logs shows up here.
  page.on("console", (m) => {
    if (m.type() === "error") errors.push(`console: ${m.text()}`);
  });
  await page.goto(url);
  return { context, page, outside, errors };
}

export async function walletState(page: Page): Promise<TestWalletState> {
  return page.evaluate(() => (window as unknown as { __testWallet: TestWalletState }).__testWallet);
}

export async function setReject(page: Page, methods: string[]): Promise<void> {
  await page.evaluate((m) => {
    (window as unknown as { __testWallet: TestWalletState }).__testWallet.reject = m;
  }, methods);
}

/** Waits until `selector`'s text matches `pattern`; returns the text. */
export async function waitText(page: Page, selector: string, pattern: RegExp): Promise<string> {
  try {
    await page.waitForFunction(
      ([sel, src, flags]) => {
        const el = document.querySelector(sel);
        return !!el && new RegExp(src, flags).test(el.textContent ?? "");
      },
      [selector, pattern.source, pattern.flags] as const,
      { timeout: WAIT_MS },
    );
  } catch (e) {
    // Say what the page showed instead, so a failure reads like a user's report.
    const seen = await page.locator(selector).first().textContent({ timeout: 1000 }).catch(() => null);
    await screenshot(page, `failed-${selector.replace(/[^\w-]+/g, "_")}`).catch(() => undefined);
    throw new Error(`${selector} never matched ${pattern}: it shows ${JSON.stringify(seen)} (${(e as Error).message.split("\n")[0]})`);
  }
  return (await page.textContent(selector)) ?? "";
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(ARTIFACTS, { recursive: true });
  const path = join(ARTIFACTS, `${name}.png`);
  await page.screenshot({ path, fullPage: true });
  return path;
}
