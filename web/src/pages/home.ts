import { h } from "../dom";
import { duration, t } from "../i18n";
import { amount, fact, type App } from "../app";
import { fetchHealth } from "../monitor";

export function home(app: App): HTMLElement {
  const { net, cfg } = app;
  const figures = h("dl", { class: "figures" });
  const nodes = net.nodes();
  fact(figures, "price", "home.price", async () => {
    const p = await net.getParams();
    return t("home.priceValue", { amount: amount(p.price, p), symbol: p.symbol, period: duration(p.periodLength) });
  });
  fact(figures, "active-nodes", "home.activeNodes", async () => String((await nodes).filter((n) => n.active).length));
  fact(figures, "healthy-nodes", "home.healthy", async () => {
    if (!cfg.monitorApi) return t("home.noMonitor");
    const [list, health] = await Promise.all([nodes, fetchHealth(cfg.monitorApi)]);
    const active = list.filter((n) => n.active);
    const healthy = active.filter((n) => health.get(n.address.toLowerCase())?.healthy === true).length;
    return t("home.healthyValue", { healthy, total: active.length });
  });
  return h(
    "section",
    { id: "page-home" },
    h("h1", {}, t("home.title")),
    h("p", { class: "lead" }, t("home.lead")),
    h("h2", {}, t("home.figures")),
    figures,
    h("h2", {}, t("home.how")),
    h("ol", { class: "how" }, ...(["home.how1", "home.how2", "home.how3", "home.how4"] as const).map((k) => h("li", {}, t(k)))),
    h("p", {}, h("a", { class: "button primary", href: "#/join", id: "start" }, t("home.start"))),
  );
}
