import { toHex, type Address } from "viem";
import { signMessage } from "viem/actions";
import { h, clear, rich } from "../dom";
import { date, duration, t } from "../i18n";
import { problemBox, walletPanel, type App } from "../app";
import { credentialFromSignature, credentialMessage, localToml, proxyUrls, type NodeScope } from "../credential";
import { parseEndpoint } from "../endpoint";
import { endpointSummary } from "../endpoint_view";
import type { NodeEntry } from "../chain";

/** Lifetimes offered, capped at what the deployment's nodes accept. */
const LIFETIMES = [3600, 12 * 3600, 86400, 7 * 86400, 30 * 86400];
/** Kept off the nodes' limit so a browser clock a little ahead is not refused. */
const CLOCK_MARGIN = 60;

export function lifetimes(max: number): number[] {
  const list = LIFETIMES.filter((s) => s <= max);
  return list.length ? list : [max];
}

function copyButton(id: string, text: string): HTMLButtonElement {
  const b = h("button", { id, type: "button", class: "copy" }, t("access.copy"));
  b.addEventListener("click", async () => {
    try {
      await navigator.clipboard.writeText(text);
    } catch {
      // No clipboard permission (plain http, old browser): select the text for Ctrl-C.
      const field = b.previousElementSibling;
      if (field instanceof HTMLInputElement) field.select();
    }
    b.textContent = t("access.copied");
    setTimeout(() => (b.textContent = t("access.copy")), 1500);
  });
  return b;
}

function secretRow(id: string, key: "access.username" | "access.password", value: string): HTMLElement {
  return h(
    "div",
    { class: "secret" },
    h("span", { class: "secret-label" }, t(key)),
    h("input", { id, readonly: true, value, spellcheck: "false" }),
    copyButton(`${id}-copy`, value),
  );
}

export function access(app: App): HTMLElement {
  const { net, session, form, cfg } = app;
  const page = h("section", { id: "page-access" }, h("h1", {}, t("access.title")), h("p", { class: "lead" }, t("access.lead")));
  page.append(walletPanel(app));
  page.append(h("p", { class: "warning", id: "bearer-warning" }, t("access.warning")));
  if (!session.connected) return page;
  const account = session.account!;

  const nodeSelect = h("select", { id: "node", onchange: () => (form.node = nodeSelect.value) }, h("option", { value: "*" }, t("access.anyNode")));
  let registry: NodeEntry[] = [];
  const listed = net.nodes();
  listed.then(
    (list) => {
      registry = list;
      for (const n of list.filter((e) => e.active)) {
        nodeSelect.append(h("option", { value: n.address.toLowerCase() }, t("ops.nodeOption", { address: n.address, endpoint: endpointSummary(n.endpoint) })));
      }
      nodeSelect.value = form.node;
      if (nodeSelect.value !== form.node) nodeSelect.value = "*";
    },
    (e) => problem.fail(e),
  );
  const lifetime = h(
    "select",
    { id: "lifetime", onchange: () => (form.lifetime = lifetime.value) },
    ...lifetimes(cfg.maxCredentialLifetimeSecs).map((s) => h("option", { value: String(s) }, duration(s))),
  );
  lifetime.value = form.lifetime;
  if (lifetime.value !== form.lifetime) lifetime.selectedIndex = 0;

  const problem = problemBox("access-problem");
  const result = h("div", { id: "credential", hidden: true });
  const button = h("button", { id: "sign", class: "primary", type: "submit" }, t("access.sign"));

  const sign = async () => {
    problem.show(null);
    result.hidden = true;
    const ttl = Math.min(Number(lifetime.value), cfg.maxCredentialLifetimeSecs - CLOCK_MARGIN);
    const expires = Math.floor(Date.now() / 1000) + ttl;
    const node = nodeSelect.value as NodeScope;
    const params = { chainId: cfg.chainId, contract: cfg.contract, node, expires };
    const message = credentialMessage(params);
    // personal_sign of exactly the protocol's text, as UTF-8 bytes.
    const signature = await signMessage(session.client!, { account, message: { raw: toHex(message) } });
    const cred = credentialFromSignature(account, params, signature);
    await listed.catch(() => undefined);
    const endpoints = node === "*" ? registry.filter((e) => e.active) : registry.filter((e) => e.address.toLowerCase() === node);
    const urls = h("ul", { class: "urls", id: "urls" });
    const urlRow = (id: string, kind: string, label: string, value: string) =>
      h(
        "li",
        {},
        h("span", { class: "url-label" }, label),
        h("input", { id, class: "url", readonly: true, value, "data-kind": kind }),
        copyButton(`${id}-copy`, value),
      );
    let anyTls = false;
    let anyPlain = false;
    const parsed = endpoints.map((e) => ({ entry: e, parsed: parseEndpoint(e.endpoint) }));
    parsed.forEach(({ entry, parsed: p }, i) => {
      if (!p.ok) {
        urls.append(h("li", { class: "bad-endpoint", "data-error": p.error.kind }, t("access.badEndpoint", { address: entry.address, entry: entry.endpoint })));
        return;
      }
      const u = proxyUrls(cred, p.endpoint);
      if (u.tls) {
        anyTls = true;
        urls.append(urlRow(`https-${i}`, "https", "https://", u.tls.https), urlRow(`curl-${i}`, "curl", t("access.curlFlags"), u.tls.curl));
      }
      if (u.plain) {
        anyPlain = true;
        urls.append(urlRow(`socks-${i}`, "socks5h", "socks5h://", u.plain.socks5h), urlRow(`http-${i}`, "http", "http://", u.plain.http));
      }
    });
    if (!endpoints.length) urls.append(h("li", {}, t("access.noNodes")));
    const chosen = node === "*" ? undefined : parsed[0];
    const toml = localToml({
      rpc: cfg.rpc,
      contract: cfg.contract,
      credential: cred,
      node: chosen?.parsed.ok ? { endpoint: chosen.parsed.endpoint, address: chosen.entry.address } : undefined,
      comment: [t("access.localComment1"), t("access.localComment2")],
    });
    // A chosen node whose entry cannot be read: a file for the whole registry would not be what was asked.
    const offerFile = !chosen || chosen.parsed.ok;
    const download = h(
      "a",
      { id: "download-local", class: "button", download: "local.toml", href: URL.createObjectURL(new Blob([toml], { type: "application/toml" })) },
      t("access.download"),
    );
    const membership = h("p", { id: "membership-warning", class: "warning", hidden: true });
    clear(
      result,
      h("p", { id: "expires", "data-expires": String(expires) }, t("access.expires", { date: date(expires) })),
      secretRow("username", "access.username", cred.username),
      secretRow("password", "access.password", cred.password),
      membership,
      h("h2", {}, t("access.urls")),
      urls,
      anyTls && h("p", { class: "hint", id: "curl-note" }, ...rich("access.curlNote")),
      anyPlain && h("p", { class: "warning", id: "plain-note" }, t("access.plainNote")),
      offerFile && h("p", {}, download),
      offerFile && h("p", { class: "hint" }, ...rich("access.localHint")),
    );
    result.hidden = false;
    const until = await net.memberUntil(account as Address);
    const now = BigInt(Math.floor(Date.now() / 1000));
    if (until <= now) {
      membership.textContent = t("access.notMember");
      membership.hidden = false;
    } else if (until < BigInt(expires)) {
      membership.textContent = t("access.endsBefore", { date: date(until) });
      membership.hidden = false;
    }
  };

  const formEl = h(
    "form",
    {
      id: "access-form",
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        button.disabled = true;
        try {
          await sign();
        } catch (e) {
          problem.fail(e);
        } finally {
          button.disabled = false;
        }
      },
    },
    h("label", {}, h("span", {}, t("access.node")), nodeSelect),
    h("label", {}, h("span", {}, t("access.lifetime")), lifetime),
    button,
  );
  page.append(formEl, problem.el, result);
  return page;
}
