// The site's start: read config.json, pick the language, find wallets, and draw the page
// the address bar names (#/join, ...). Pages are redrawn on a language, wallet or chain
// change; the form values live in `app.form`, so a redraw keeps what the user typed.
import { ConfigError, loadConfig } from "./config";
import { Network } from "./chain";
import { Session, discoverWallets } from "./wallet";
import { h, clear, rich } from "./dom";
import { initLang, lang, setLang, t } from "./i18n";
import type { App } from "./app";
import type { StringKey } from "./strings/en";
import { home } from "./pages/home";
import { join } from "./pages/join";
import { access } from "./pages/access";
import { nodes } from "./pages/nodes";
import { operators } from "./pages/operators";

const PAGES: Record<string, { key: StringKey; render: (app: App) => HTMLElement }> = {
  "": { key: "nav.home", render: home },
  join: { key: "nav.join", render: join },
  access: { key: "nav.access", render: access },
  nodes: { key: "nav.nodes", render: nodes },
  operators: { key: "nav.operators", render: operators },
};

function route(): string {
  const name = location.hash.replace(/^#\/?/, "");
  return name in PAGES ? name : "";
}

async function start(): Promise<void> {
  initLang();
  const main = document.getElementById("app")!;
  let cfg;
  try {
    cfg = await loadConfig();
  } catch (e) {
    document.documentElement.lang = lang() === "zh" ? "zh-CN" : "en";
    const field = e instanceof ConfigError ? e.field : String(e);
    clear(main, h("p", { class: "problem", id: "config-problem", role: "alert", "data-field": field }, ...rich("err.config", { field })));
    return;
  }
  const net = new Network(cfg);
  const session = new Session(net.chain);
  const app: App = {
    cfg,
    net,
    session,
    form: { periods: "1", member: "", node: "*", lifetime: "3600", opsNode: "" },
    rerender: draw,
  };

  function draw(): void {
    const current = route();
    document.documentElement.lang = lang() === "zh" ? "zh-CN" : "en";
    document.title = `${t(PAGES[current].key)} · ${t("app.title")}`;
    const brand = document.getElementById("brand")!;
    clear(brand, h("span", { class: "logo", "aria-hidden": "true" }), t("app.title"));
    brand.title = t("app.tagline");
    clear(
      document.getElementById("nav")!,
      ...Object.entries(PAGES).map(([name, p]) =>
        h("a", { href: `#/${name}`, id: `nav-${name || "home"}`, "aria-current": name === current ? "page" : undefined }, t(p.key)),
      ),
    );
    const switcher = document.getElementById("lang") as HTMLButtonElement;
    switcher.textContent = t("lang.switch");
    switcher.title = t("lang.switchTitle");
    clear(
      document.getElementById("footer")!,
      h("span", { class: "mono" }, t("footer.contract", { contract: cfg!.contract, chain: cfg!.chainId })),
    );
    clear(main, PAGES[current].render(app));
    main.setAttribute("data-page", current || "home");
  }

  document.getElementById("lang")!.addEventListener("click", () => {
    setLang(lang() === "en" ? "zh" : "en");
    draw();
  });
  window.addEventListener("hashchange", draw);
  session.onChange(draw);
  discoverWallets(() => {
    if (!session.connected) draw();
  });
  draw();
}

start();
