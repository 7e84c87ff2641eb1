// What every page gets: the deployment's settings, the chain, the wallet session and the
// form values that must survive a re-render (an error never loses what the user typed).
import { formatUnits } from "viem";
import type { SiteConfig } from "./config";
import type { Network, Params, TxState } from "./chain";
import type { Session } from "./wallet";
import { walletChoices } from "./wallet";
import { explain, type Problem } from "./errors";
import { h, clear, rich, shortAddress } from "./dom";
import { t } from "./i18n";
import type { StringKey } from "./strings/en";

export interface Form {
  periods: string;
  member: string;
  node: string;
  lifetime: string;
  /** The node the Operators page shows (lowercase address; "" = the wallet's own, if a node). */
  opsNode: string;
}

export interface App {
  cfg: SiteConfig;
  net: Network;
  session: Session;
  form: Form;
  rerender(): void;
}

export function amount(value: bigint, p: Params): string {
  return formatUnits(value, p.decimals);
}

/** A <p> for one sentence of trouble; empty until `show`. */
export function problemBox(id: string) {
  const el = h("p", { id, class: "problem", role: "alert", hidden: true });
  return {
    el,
    show(p: Problem | null) {
      if (!p) {
        el.hidden = true;
        el.replaceChildren();
        el.removeAttribute("data-error");
        return;
      }
      el.hidden = false;
      clear(el, ...rich(p.key, p.params));
      if (p.errorName) el.setAttribute("data-error", p.errorName);
      else el.removeAttribute("data-error");
    },
    fail(err: unknown, params?: Record<string, string>) {
      this.show(explain(err, params));
    },
  };
}

/** One transaction's line: its label, then what is happening to it. */
export function txLine(id: string, label: string) {
  const status = h("span", { class: "tx-status" });
  const el = h("li", { id, class: "tx", "data-state": "idle" }, h("span", { class: "tx-label" }, label), " ", status);
  return {
    el,
    update(s: TxState) {
      el.setAttribute("data-state", s.kind);
      if (s.kind === "wallet") status.textContent = t("tx.wallet");
      else if (s.kind === "sent") {
        status.textContent = t("tx.sent", { hash: s.hash });
        el.setAttribute("data-hash", s.hash);
      } else status.textContent = t("tx.mined", { block: s.block });
    },
    failed(p: Problem) {
      el.setAttribute("data-state", "failed");
      const reason = t(p.key, p.params) + (p.errorName && p.key !== "err.reverted" ? ` (${p.errorName})` : "");
      status.textContent = t("tx.failed", { reason });
    },
  };
}

/**
 * The wallet part of a page: connect buttons, the connected account, or a sentence
 * saying no wallet is there; and the offer to switch when it is on another chain.
 */
export function walletPanel(app: App): HTMLElement {
  const { session, cfg } = app;
  const box = h("div", { class: "wallet-panel", id: "wallet-panel" });
  const problem = problemBox("wallet-problem");
  if (!session.connected) {
    const choices = walletChoices(t("wallet.fallbackName"));
    if (choices.length === 0) {
      problem.show({ key: "err.noWallet" });
      box.append(problem.el);
      return box;
    }
    const buttons = choices.map((w, i) =>
      h(
        "button",
        {
          id: `connect-${i}`,
          class: "primary",
          onclick: async (ev: Event) => {
            const b = ev.currentTarget as HTMLButtonElement;
            b.disabled = true;
            b.textContent = t("wallet.connecting");
            try {
              problem.show(null);
              await session.connect(w);
            } catch (e) {
              b.disabled = false;
              b.replaceChildren(...label(w));
              problem.fail(e);
            }
          },
        },
        ...label(w),
      ),
    );
    box.append(h("div", { class: "row" }, ...buttons), problem.el);
    return box;
  }
  const account = session.account!;
  box.append(
    h(
      "p",
      { class: "row" },
      h("span", { id: "account", "data-account": account, title: account }, t("wallet.connected", { account })),
      " ",
      h("button", { id: "disconnect", class: "link", onclick: () => session.disconnect() }, t("wallet.disconnect")),
    ),
  );
  if (!session.onRightChain) {
    const sw = h(
      "button",
      {
        id: "switch-chain",
        class: "primary",
        onclick: async () => {
          sw.disabled = true;
          try {
            problem.show(null);
            await session.switchChain();
          } catch (e) {
            sw.disabled = false;
            problem.fail(e);
          }
        },
      },
      t("wallet.switch", { want: cfg.chainName }),
    );
    box.append(
      h(
        "p",
        { id: "wrong-chain", class: "warning" },
        t("wallet.wrongChain", { have: session.chainId ?? "?", want: cfg.chainName, id: cfg.chainId }),
      ),
      sw,
    );
  }
  box.append(problem.el);
  return box;
}

function label(w: { name: string; icon?: string }): Node[] {
  const nodes: Node[] = [];
  if (w.icon) nodes.push(h("img", { src: w.icon, alt: "", class: "wallet-icon", width: 20, height: 20 }));
  nodes.push(document.createTextNode(t("wallet.connectWith", { name: w.name })));
  return nodes;
}

/** A labelled value in a definition list; the value fills in when `load` resolves. */
export function fact(list: HTMLElement, id: string, key: StringKey, load: () => Promise<Node | string>, onError?: (e: unknown) => void) {
  const value = h("dd", { id, "data-state": "loading" }, t("common.loading"));
  list.append(h("dt", {}, t(key)), value);
  load().then(
    (v) => {
      clear(value, v);
      value.setAttribute("data-state", "ready");
    },
    (e) => {
      clear(value, t(explain(e).key, explain(e).params));
      value.setAttribute("data-state", "error");
      onError?.(e);
    },
  );
  return value;
}

export { shortAddress };
