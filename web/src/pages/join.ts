import { isAddress, type Address } from "viem";
import { h, clear, rich } from "../dom";
import { date, duration, t } from "../i18n";
import { amount, fact, problemBox, txLine, walletPanel, type App } from "../app";
import { explain } from "../errors";

export function join(app: App): HTMLElement {
  const { net, session, form, cfg } = app;
  const page = h("section", { id: "page-join" }, h("h1", {}, t("join.title")), h("p", { class: "lead" }, t("join.lead")));
  page.append(walletPanel(app));
  if (!session.connected || !session.onRightChain) {
    if (!session.connected) page.append(h("p", { class: "hint" }, t("join.needWallet")));
    return page;
  }
  const account = session.account!;
  const facts = h("dl", { class: "facts", id: "join-facts" });
  const memberOf = (): Address => (isAddress(form.member.trim()) ? (form.member.trim() as Address) : account);

  const showFacts = () => {
    clear(facts);
    fact(facts, "balance", "join.balance", async () => {
      const p = await net.getParams();
      return `${amount(await net.balance(account), p)} ${p.symbol}`;
    });
    const member = memberOf();
    fact(facts, "membership", "join.membership", async () => {
      const until = await net.memberUntil(member);
      const now = BigInt(Math.floor(Date.now() / 1000));
      const el = h("span", { "data-until": String(until) });
      el.textContent =
        until === 0n ? t("join.notMember") : until > now ? t("join.memberUntil", { date: date(until) }) : t("join.memberEnded", { date: date(until) });
      return el;
    });
  };
  showFacts();

  const periods = h("input", {
    id: "periods",
    type: "number",
    min: 1,
    step: 1,
    inputmode: "numeric",
    value: form.periods,
    oninput: () => {
      form.periods = periods.value;
      showCost();
    },
  });
  const member = h("input", {
    id: "member",
    type: "text",
    spellcheck: "false",
    autocomplete: "off",
    placeholder: account,
    value: form.member,
    oninput: () => {
      form.member = member.value;
    },
    onchange: () => showFacts(),
  });
  const hint = h("small", { id: "periods-hint" });
  const cost = h("p", { id: "cost", class: "cost" });
  const showCost = () => {
    net.getParams().then((p) => {
      hint.textContent = t("join.periodsHint", { period: duration(p.periodLength), max: p.maxPeriods });
      const n = /^\d+$/.test(form.periods.trim()) ? BigInt(form.periods.trim()) : 0n;
      cost.textContent =
        n > 0n ? t("join.cost", { amount: amount(p.price * n, p), symbol: p.symbol, duration: duration(p.periodLength * n) }) : "";
    });
  };
  showCost();

  const problem = problemBox("join-problem");
  const txs = h("ol", { class: "txs", id: "txs" });
  const done = h("p", { id: "join-done", class: "done", hidden: true });
  const button = h("button", { id: "subscribe", class: "primary", type: "submit" }, t("join.subscribe"));

  const pay = async () => {
    problem.show(null);
    done.hidden = true;
    clear(txs);
    const p = await net.getParams();
    const text = form.periods.trim();
    const n = /^\d+$/.test(text) ? BigInt(text) : 0n;
    if (n < 1n || n > p.maxPeriods) return problem.show({ key: "err.periods", params: { max: p.maxPeriods } });
    const who = form.member.trim();
    if (who !== "" && !isAddress(who)) return problem.show({ key: "err.address" });
    const target = who === "" ? account : (who as Address);
    if (!session.onRightChain) return problem.show({ key: "err.wrongChain", params: { want: cfg.chainName } });
    const need = p.price * n;
    const [balance, allowance, paused] = await Promise.all([net.balance(account), net.allowance(account), net.paused()]);
    // Checked before any transaction, so a member never approves for a payment that cannot go through.
    if (paused) return problem.show({ key: "err.paused", errorName: "EnforcedPause" });
    if (balance < need) {
      return problem.show({
        key: "err.tokens",
        params: { symbol: p.symbol, have: `${amount(balance, p)} ${p.symbol}`, need: `${amount(need, p)} ${p.symbol}` },
      });
    }
    const client = session.client!;
    if (allowance < need) {
      const line = txLine("tx-approve", t("join.approveStep", { amount: amount(need, p), symbol: p.symbol }));
      txs.append(line.el);
      try {
        // Approving exactly the price: the contract can never take more than this payment.
        await net.send(client, account, await net.approveCall(need), line.update, false);
      } catch (e) {
        line.failed(explain(e, { want: cfg.chainName }));
        throw e;
      }
    }
    const line = txLine("tx-subscribe", t("join.subscribeStep"));
    txs.append(line.el);
    try {
      await net.send(client, account, net.subscribeCall(target, n), line.update);
    } catch (e) {
      line.failed(explain(e, { want: cfg.chainName, symbol: p.symbol, have: "—", need: `${amount(need, p)} ${p.symbol}` }));
      throw e;
    }
    const until = await net.memberUntil(target);
    done.textContent = t("join.done", { member: target, date: date(until) });
    done.setAttribute("data-until", String(until));
    done.hidden = false;
    showFacts();
  };

  const formEl = h(
    "form",
    {
      id: "join-form",
      onsubmit: async (ev: Event) => {
        ev.preventDefault();
        button.disabled = true;
        try {
          await pay();
        } catch (e) {
          problem.fail(e, { want: cfg.chainName });
        } finally {
          button.disabled = false;
        }
      },
    },
    h("label", {}, h("span", {}, t("join.periods")), periods, hint),
    h("label", {}, h("span", {}, t("join.member")), member, h("small", {}, ...rich("join.memberHint"))),
    cost,
    button,
  );
  page.append(facts, formEl, problem.el, txs, done);
  return page;
}
