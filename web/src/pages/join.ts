import { isAddress, type Address } from "viem";
import { h, clear, rich } from "../dom";
import { date, duration, t } from "../i18n";
import { amount, fact, problemBox, txLine, walletPanel, type App } from "../app";
import { explain } from "../errors";
import { periodsRoom, type Params, type Refund } from "../chain";

/** What the contract lets `member` buy now: its end of access, the chain's clock and the room left. */
interface Limits {
  p: Params;
  until: bigint;
  now: bigint;
  room: bigint;
}

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
    onchange: () => {
      showFacts();
      showCap();
    },
  });
  const hint = h("small", { id: "periods-hint" });
  const cap = h("small", { id: "periods-cap" });
  const cost = h("p", { id: "cost", class: "cost" });
  const limits = async (member: Address): Promise<Limits> => {
    const [p, until, now] = await Promise.all([net.getParams(), net.memberUntil(member), net.chainNow()]);
    return { p, until, now, room: periodsRoom(p, until, now) };
  };
  const capText = (l: Limits, room = l.room) => {
    const ahead = { max: l.p.maxPeriods, duration: duration(l.p.maxPeriods * l.p.periodLength) };
    // The first moment one more period fits under the cap.
    const from = l.until - l.p.maxPeriods * l.p.periodLength + l.p.periodLength;
    return room > 0n ? t("join.cap", { ...ahead, room }) : t("join.capFull", { ...ahead, date: date(from) });
  };
  const showCost = () => {
    net.getParams().then((p) => {
      hint.textContent = t("join.periodsHint", { period: duration(p.periodLength), max: p.maxPeriods });
      periods.max = String(p.maxPeriods);
      const n = /^\d+$/.test(form.periods.trim()) ? BigInt(form.periods.trim()) : 0n;
      cost.textContent =
        n > 0n ? t("join.cost", { amount: amount(p.price * n, p), symbol: p.symbol, duration: duration(p.periodLength * n) }) : "";
    });
  };
  const showCap = () => {
    limits(memberOf()).then(
      (l) => {
        cap.textContent = capText(l);
        cap.setAttribute("data-room", String(l.room));
      },
      () => cap.replaceChildren(),
    );
  };
  showCost();
  showCap();

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
    // The prepayment cap, said before any transaction (the contract would refuse it).
    const l = await limits(target);
    if (l.room === 0n) return problem.show({ key: "err.capFull", params: { date: date(l.until - p.maxPeriods * p.periodLength + p.periodLength) } });
    if (n > l.room) return problem.show({ key: "err.periodsRoom", params: { room: l.room, max: p.maxPeriods } });
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
    showCap();
  };

  const formEl = h(
    "form",
    {
      id: "join-form",
      // The page says what is wrong in its own words (both languages), not the browser's bubble.
      novalidate: true,
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
    h("label", {}, h("span", {}, t("join.periods")), periods, hint, cap),
    h("label", {}, h("span", {}, t("join.member")), member, h("small", {}, ...rich("join.memberHint"))),
    cost,
    button,
  );
  page.append(facts, refunds(app, account, showFacts), formEl, problem.el, txs, done);
  return page;
}

/**
 * What epochs nobody served owe back to this wallet's payments, and a button to take it
 * back: one refund per payment that has something due (anyone may send it; the money goes
 * to the payer, which is this wallet).
 */
function refunds(app: App, account: Address, onDone: () => void): HTMLElement {
  const { net, session, cfg } = app;
  const value = h("dd", { id: "refundable", "data-state": "loading" }, t("common.loading"));
  const button = h("button", { id: "refund", type: "button", hidden: true });
  const problem = problemBox("refund-problem");
  const txs = h("ol", { class: "txs", id: "refund-txs" });
  const done = h("p", { id: "refund-done", class: "done", hidden: true });
  let due: Refund[] = [];
  const load = async () => {
    const [p, list] = await Promise.all([net.getParams(), net.refunds(account)]);
    due = list;
    const total = list.reduce((sum, r) => sum + r.amount, 0n);
    value.textContent = total > 0n ? t("join.refundValue", { amount: amount(total, p), symbol: p.symbol }) : t("join.refundNone");
    value.setAttribute("data-value", String(total));
    value.setAttribute("data-state", "ready");
    button.textContent = t("join.refund", { amount: amount(total, p), symbol: p.symbol });
    button.hidden = total === 0n;
  };
  const reload = () =>
    load().catch((e) => {
      value.textContent = "—";
      value.setAttribute("data-state", "error");
      problem.fail(e);
    });
  reload();
  button.addEventListener("click", async () => {
    problem.show(null);
    done.hidden = true;
    button.disabled = true;
    clear(txs);
    try {
      const p = await net.getParams();
      const before = await net.balance(account);
      for (const [i, r] of due.entries()) {
        const line = txLine(`tx-refund-${i}`, t("join.refundStep", { member: r.member, date: date(r.until) }));
        txs.append(line.el);
        try {
          await net.send(session.client!, account, net.refundCall(r), line.update);
        } catch (e) {
          line.failed(explain(e, { want: cfg.chainName }));
          throw e;
        }
      }
      const after = await net.balance(account);
      done.textContent = t("join.refunded", { amount: amount(after - before, p), balance: amount(after, p), symbol: p.symbol });
      done.hidden = false;
      onDone();
    } catch (e) {
      problem.fail(e, { want: cfg.chainName });
    } finally {
      button.disabled = false;
      await reload();
    }
  });
  return h(
    "div",
    { id: "refunds", class: "refunds" },
    h("dl", { class: "facts" }, h("dt", {}, t("join.refundable")), value),
    h("p", { class: "hint" }, t("join.refundHint")),
    h("p", {}, button),
    problem.el,
    txs,
    done,
  );
}
