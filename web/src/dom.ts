// A few DOM helpers: elements from data, text from the string tables (backquoted parts of
// a table string become <code>).
import { t, type Params } from "./i18n";
import type { StringKey } from "./strings/en";

type Attrs = Record<string, string | boolean | number | undefined | ((ev: Event) => void)>;
export type Child = Node | string | null | undefined | false;

export function h<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Attrs = {},
  ...children: Child[]
): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === false) continue;
    if (typeof v === "function") el.addEventListener(k.replace(/^on/, ""), v);
    else if (v === true) el.setAttribute(k, "");
    else el.setAttribute(k, String(v));
  }
  append(el, children);
  return el;
}

export function append(el: Element, children: Child[]): void {
  for (const c of children) {
    if (c === null || c === undefined || c === false) continue;
    el.append(typeof c === "string" ? document.createTextNode(c) : c);
  }
}

/** A table string as nodes: text, with `backquoted` parts as <code>. */
export function rich(key: StringKey, params?: Params): Node[] {
  return t(key, params)
    .split("`")
    .map((part, i) => (i % 2 === 1 ? h("code", {}, part) : document.createTextNode(part)));
}

export function clear(el: Element, ...children: Child[]): void {
  el.replaceChildren();
  append(el, children);
}

/** A short form of an address for tight places; the full one is in the title. */
export function shortAddress(a: string): string {
  return `${a.slice(0, 6)}…${a.slice(-4)}`;
}
