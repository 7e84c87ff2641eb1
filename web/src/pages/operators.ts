import { getAddress, type Address } from "viem";
import { h, clear, rich } from "../dom";
import { bytes, date, t } from "../i18n";
import { amount, problemBox, txLine, walletPanel, type App } from "../app";
import { explain } from "../errors";
import type { NodeEntry } from "../chain";

/**
 * One node's books: whitelist state, payee, heartbeats (this epoch, and those not yet
 * settled), claimable earnings, and a claim that any connected wallet may send: the
 * contract pays the node's payee, whoever asks.
 */
export function operators(app: App): HTMLElement {
  const { net, session, cfg, form } = app;
  const page = h("section", { id: "page-operators" }, h("h1", {}, t("ops.title")), h("p", { class: "lead" }, t("ops.lead")));
  page.append(walletPanel(app));
  if (session.connected && session.onRightChain) {
    const account = session.account!;
    const select = h("select", { id: "ops-node", onchange: () => ((form.opsNode = select.value), load().catch(fail)) });
    const facts = h("dl", { class: "facts", id: "ops-facts", "data-state": "loading" }, h("dt", {}, t("common.loading")));
    const note = h("p", { id: "unsettled-note", class: "hint" });
    const claimNote = h("p", { id: "claim-note", class: "hint" });
    const problem = problemBox("ops-problem");
    const fail = (e: unknown) => problem.fail(e);
    const txs = h("ol", { class: "txs" });
    const done = h("p", { id: "ops-done", class: "done", hidden: true });
    const claim = h("button", { id: "claim", class: "primary", disabled: true }, t("ops.claim"));

    const fillNodes = (list: NodeEntry[]) => {
      const mine = list.find((n) => n.address.toLowerCase() === account.toLowerCase());
      clear(
        select,
        ...list.map((n) =>
          h(
            "option",
            { value: n.address.toLowerCase() },
            t(n.active ? "ops.nodeOption" : "ops.nodeRemoved", { address: n.address, endpoint: n.endpoint }),
          ),
        ),
      );
      // The wallet's own node first, else the one chosen before, else the first listed.
      const want = form.opsNode || mine?.address.toLowerCase() || list[0]?.address.toLowerCase() || "";
      select.value = want;
      if (select.value !== want && list.length) select.selectedIndex = 0;
      form.opsNode = select.value;
    };

    const load = async () => {
      if (!select.value) {
        clear(facts, h("dt", {}, t("ops.noNodes")));
        facts.setAttribute("data-state", "empty");
        claim.disabled = true;
        return undefined;
      }
      const node = getAddress(select.value) as Address;
      const [s, p] = await Promise.all([net.operator(node), net.getParams()]);
      const row = (id: string, key: Parameters<typeof t>[0], value: string, data?: string) => [
        h("dt", {}, t(key)),
        h("dd", { id, "data-value": data ?? value }, value),
      ];
      const payeeIsMe = s.payee.toLowerCase() === account.toLowerCase();
      const from = s.epoch > 0n ? s.epoch - 1n : 0n;
      clear(
        facts,
        ...row("whitelisted", "ops.whitelisted", t(s.active ? "common.yes" : "common.no"), String(s.active)),
        ...row("endpoint", "ops.endpoint", s.endpoint ?? "—"),
        ...row("payee", "ops.payee", payeeIsMe ? t("ops.payeeYou", { payee: s.payee }) : s.payee, s.payee),
        ...row("epoch", "ops.epoch", String(s.epoch)),
        ...row("heartbeats", "ops.heartbeats", t("ops.heartbeatsValue", { n: s.heartbeats, slots: s.slotsPerEpoch }), String(s.heartbeats)),
        ...row(
          "unsettled",
          "ops.unsettled",
          t("ops.unsettledValue", { n: s.heartbeats + s.heartbeatsLastEpoch, from, epoch: s.epoch }),
          String(s.heartbeats + s.heartbeatsLastEpoch),
        ),
        ...row("claimable", "ops.claimable", `${amount(s.claimable, p)} ${p.symbol}`, String(s.claimable)),
        ...row("payee-balance", "ops.payeeBalance", `${amount(s.payeeBalance, p)} ${p.symbol}`, String(s.payeeBalance)),
      );
      // The usage counters come from logs; a slow or limited RPC leaves the rest of the page as it is.
      const served = h("dd", { id: "usage", "data-state": "loading" }, t("common.loading"));
      facts.append(h("dt", {}, t("ops.usage")), served);
      net.usage(node, s.epoch).then(
        (u) => {
          served.textContent = t("ops.usageValue", { sessions: u.sessions, bytes: bytes(u.bytes), members: u.members });
          served.setAttribute("data-sessions", String(u.sessions));
          served.setAttribute("data-bytes", String(u.bytes));
          served.setAttribute("data-state", "ready");
        },
        () => {
          served.textContent = t("ops.usageUnknown");
          served.setAttribute("data-state", "error");
        },
      );
      note.textContent = t("ops.unsettledNote", { date: date(s.nextSettlesAt) });
      claimNote.textContent = t("ops.claimNote", { payee: s.payee });
      facts.setAttribute("data-state", "ready");
      facts.setAttribute("data-node", node.toLowerCase());
      claim.disabled = s.claimable === 0n;
      return { s, p };
    };

    net.nodes().then((list) => {
      fillNodes(list);
      return load();
    }).catch(fail);

    claim.addEventListener("click", async () => {
      problem.show(null);
      done.hidden = true;
      claim.disabled = true;
      const line = txLine("tx-claim", t("ops.claimStep"));
      clear(txs, line.el);
      try {
        const node = getAddress(select.value) as Address;
        const before = await net.operator(node);
        await net.send(session.client!, account, net.claimCall(node), line.update);
        const after = await load();
        if (after) {
          const paid = after.s.payeeBalance - before.payeeBalance;
          // After a long quiet spell a claim may spend itself settling epochs and pay nothing yet.
          done.textContent =
            paid === 0n && after.s.claimable > 0n
              ? t("ops.claimAgain")
              : t("ops.claimed", { amount: amount(paid, after.p), symbol: after.p.symbol, payee: after.s.payee });
          done.setAttribute("data-paid", String(paid));
          done.hidden = false;
        }
      } catch (e) {
        const why = explain(e, { want: cfg.chainName });
        line.failed(why);
        problem.show(why);
        await load().catch(() => undefined);
      }
    });
    page.append(
      h("label", {}, h("span", {}, t("ops.node")), select),
      facts,
      note,
      claimNote,
      h("p", {}, claim),
      problem.el,
      txs,
      done,
    );
  }
  const steps = h("ol", { class: "how" }, ...(["ops.run1", "ops.run2", "ops.run3"] as const).map((k) => h("li", {}, ...rich(k))));
  page.append(h("h2", {}, t("ops.runTitle")), steps);
  if (cfg.readmeUrl) page.append(h("p", {}, h("a", { href: cfg.readmeUrl, id: "readme-link" }, t("ops.readme"))));
  return page;
}
