// A registry entry as the pages show it: each field on its own line (plain, TLS, the
// pin), or the raw entry marked unreadable. Parsing is src/endpoint.ts.
import { h } from "./dom";
import { t } from "./i18n";
import { hostPortText, parseEndpoint } from "./endpoint";

/** One line for tight places (a <select> option): `a:1 (plain), b:2 (TLS)`. */
export function endpointSummary(entry: string): string {
  const r = parseEndpoint(entry);
  if (!r.ok) return t("endpoint.bad", { entry });
  const parts: string[] = [];
  if (r.endpoint.plain) parts.push(t("endpoint.plain", { addr: hostPortText(r.endpoint.plain) }));
  if (r.endpoint.tls) parts.push(t("endpoint.tls", { addr: hostPortText(r.endpoint.tls.addr) }));
  return parts.join(", ");
}

/** The entry's fields as lines; `data-plain`, `data-tls`, `data-pin` or `data-error` say what it holds. */
export function endpointView(entry: string): HTMLElement {
  const r = parseEndpoint(entry);
  if (!r.ok) return h("span", { class: "endpoint bad", "data-error": r.error.kind }, t("endpoint.bad", { entry }));
  const { plain, tls } = r.endpoint;
  return h(
    "span",
    {
      class: "endpoint",
      "data-plain": plain && hostPortText(plain),
      "data-tls": tls && hostPortText(tls.addr),
      "data-pin": tls?.pin,
    },
    plain && h("span", { class: "ep-plain" }, t("endpoint.plain", { addr: hostPortText(plain) })),
    tls && h("span", { class: "ep-tls" }, t("endpoint.tls", { addr: hostPortText(tls.addr) })),
    tls && h("span", { class: "ep-pin", title: tls.pin }, t("endpoint.pin", { pin: tls.pin })),
  );
}
