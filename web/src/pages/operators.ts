import { h, clear, rich } from "../dom";
import { t } from "../i18n";
import { amount, problemBox, txLine, walletPanel, type App } from "../app";
import { explain } from "../errors";

export function operators(app: App): HTMLElement {
  const { net, session, cfg } = app;
  const page = h("section", { id: "page-operators" }, h("h1", {}, t("ops.title")), h("p", { class: "lead" }, t("ops.lead")));
  page.append(walletPanel(app));
  if (session.connected && session.onRightChain) {
    const account = session.account!;
    const facts = h("dl", { class: "facts", id: "ops-facts", "data-state": "loading" }, h("dt", {}, t("common.loading")));
    const problem = problemBox("ops-problem");
    const txs = h("ol", { class: "txs" });
    const done = h("p", { id: "ops-done", class: "done", hidden: true });
    const claim = h("button", { id: "claim", class: "primary", disabled: true }, t("ops.claim"));
    const load = async () => {
      const [s, p] = await Promise.all([net.operator(account), net.getParams()]);
      const row = (id: string, key: Parameters<typeof t>[0], value: string, data?: string) => [
        h("dt", {}, t(key)),
        h("dd", { id, "data-value": data ?? value }, value),
      ];
      clear(
        facts,
        ...row("whitelisted", "ops.whitelisted", t(s.active ? "common.yes" : "common.no"), String(s.active)),
        ...row("endpoint", "ops.endpoint", s.endpoint ?? "—"),
        ...row("epoch", "ops.epoch", String(s.epoch)),
        ...row("heartbeats", "ops.heartbeats", t("ops.heartbeatsValue", { n: s.heartbeats, slots: s.slotsPerEpoch }), String(s.heartbeats)),
        ...row("claimable", "ops.claimable", `${amount(s.claimable, p)} ${p.symbol}`, String(s.claimable)),
        ...row("ops-balance", "ops.balance", `${amount(s.balance, p)} ${p.symbol}`, String(s.balance)),
      );
      facts.setAttribute("data-state", "ready");
      claim.disabled = s.claimable === 0n;
      return { s, p };
    };
    load().catch((e) => problem.fail(e));
    claim.addEventListener("click", async () => {
      problem.show(null);
      done.hidden = true;
      claim.disabled = true;
      const line = txLine("tx-claim", t("ops.claimStep"));
      clear(txs, line.el);
      try {
        await net.send(session.client!, account, net.claimCall(account), line.update);
        const { s, p } = await load();
        done.textContent = t("ops.claimed", { amount: amount(s.balance, p), symbol: p.symbol });
        done.hidden = false;
      } catch (e) {
        const why = explain(e, { want: cfg.chainName });
        line.failed(why);
        problem.show(why);
        await load().catch(() => undefined);
      }
    });
    page.append(facts, h("p", {}, claim), problem.el, txs, done);
  }
  const steps = h("ol", { class: "how" }, ...(["ops.run1", "ops.run2", "ops.run3"] as const).map((k) => h("li", {}, ...rich(k))));
  page.append(h("h2", {}, t("ops.runTitle")), steps);
  if (cfg.readmeUrl) page.append(h("p", {}, h("a", { href: cfg.readmeUrl, id: "readme-link" }, t("ops.readme"))));
  return page;
}
