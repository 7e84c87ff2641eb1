import { h, clear } from "../dom";
import { t } from "../i18n";
import { problemBox, type App } from "../app";
import { fetchHealth, type Health } from "../monitor";

export function nodes(app: App): HTMLElement {
  const { net, cfg } = app;
  const problem = problemBox("nodes-problem");
  const note = h("p", { id: "monitor-note", class: "hint" });
  const table = h("table", { id: "nodes-table" });
  const load = async () => {
    problem.show(null);
    const healthP: Promise<Map<string, Health> | null> = cfg.monitorApi
      ? fetchHealth(cfg.monitorApi).catch(() => {
          note.textContent = t("nodes.monitorDown");
          return null;
        })
      : Promise.resolve(null);
    if (!cfg.monitorApi) note.textContent = t("nodes.monitorOff");
    const [list, health] = await Promise.all([net.nodes(), healthP]);
    if (health) note.textContent = "";
    const cols = [t("nodes.address"), t("nodes.endpoint"), t("nodes.active")];
    if (health) cols.push(t("nodes.health"), t("nodes.latency"), t("nodes.uptime"));
    const body = h("tbody");
    for (const n of list) {
      const hl = health?.get(n.address.toLowerCase());
      const row = h(
        "tr",
        { "data-address": n.address.toLowerCase(), "data-active": String(n.active) },
        h("td", { class: "mono" }, n.address),
        h("td", { class: "mono" }, n.endpoint),
        h("td", { class: n.active ? "yes" : "no" }, t(n.active ? "common.yes" : "common.no")),
      );
      if (health) {
        row.append(
          h(
            "td",
            { class: `health ${hl?.healthy === true ? "yes" : hl?.healthy === false ? "no" : ""}`, "data-health": hl?.state ?? "" },
            hl?.state ? t(`monitor.${hl.state}`) : t("nodes.unknown"),
          ),
          h("td", {}, hl?.latencyMs !== undefined ? t("nodes.ms", { ms: Math.round(hl.latencyMs) }) : "—"),
          h("td", {}, hl?.uptime24h !== undefined ? `${(hl.uptime24h * 100).toFixed(1)}%` : "—"),
        );
      }
      body.append(row);
    }
    if (!list.length) body.append(h("tr", {}, h("td", { colspan: cols.length }, t("nodes.empty"))));
    clear(table, h("thead", {}, h("tr", {}, ...cols.map((c) => h("th", {}, c)))), body);
    table.setAttribute("data-state", "ready");
  };
  load().catch((e) => problem.fail(e));
  return h(
    "section",
    { id: "page-nodes" },
    h("h1", {}, t("nodes.title")),
    h("p", { class: "lead" }, t("nodes.lead")),
    h("p", {}, h("button", { id: "refresh", onclick: () => load().catch((e) => problem.fail(e)) }, t("common.refresh"))),
    note,
    problem.el,
    h("div", { class: "table-wrap" }, table),
  );
}
