// Language choice and string lookup. The language comes from a saved choice, else from
// the browser's languages (any Chinese variant reads the Simplified table).
import { en, type StringKey, type Strings } from "./strings/en";
import { zh } from "./strings/zh";

export type Lang = "en" | "zh";
export const TABLES: Record<Lang, Strings> = { en, zh };
const SAVED = "aqueduct.lang";

export function detectLang(languages: readonly string[], saved: string | null): Lang {
  if (saved === "en" || saved === "zh") return saved;
  for (const l of languages) {
    const tag = l.toLowerCase();
    if (tag.startsWith("zh")) return "zh";
    if (tag.startsWith("en")) return "en";
  }
  return "en";
}

let current: Lang = "en";

export function lang(): Lang {
  return current;
}

export function initLang(): Lang {
  let saved: string | null = null;
  try {
    saved = localStorage.getItem(SAVED);
  } catch {
    // Storage can be off (private windows); the browser's language decides then.
  }
  current = detectLang(navigator.languages ?? [navigator.language], saved);
  return current;
}

export function setLang(l: Lang): void {
  current = l;
  try {
    localStorage.setItem(SAVED, l);
  } catch {
    // Not saved; the choice holds for this visit.
  }
}

export type Params = Record<string, string | number | bigint>;

/** Fills `{name}` placeholders of a table string. */
export function fill(template: string, params: Params = {}): string {
  return template.replace(/\{(\w+)\}/g, (m, name: string) => (name in params ? String(params[name]) : m));
}

export function t(key: StringKey, params?: Params): string {
  return fill(TABLES[current][key], params);
}

/** A length of time in the largest unit that divides it exactly. */
export function duration(seconds: number | bigint): string {
  const s = Number(seconds);
  const units: [number, StringKey, StringKey][] = [
    [86400, "dur.day", "dur.days"],
    [3600, "dur.hour", "dur.hours"],
    [60, "dur.minute", "dur.minutes"],
  ];
  for (const [size, one, many] of units) {
    if (s >= size && s % size === 0) {
      const n = s / size;
      return t(n === 1 ? one : many, { n });
    }
  }
  return t(s === 1 ? "dur.second" : "dur.seconds", { n: s });
}

/** A unix time as a local date and time with its zone. */
export function date(unixSeconds: number | bigint): string {
  const locale = current === "zh" ? "zh-CN" : "en-GB";
  return new Intl.DateTimeFormat(locale, { dateStyle: "medium", timeStyle: "short" }).format(
    new Date(Number(unixSeconds) * 1000),
  );
}

/** A byte count in the largest binary unit that keeps it at 1 or more (units read the same in both languages). */
export function bytes(n: bigint): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = Number(n);
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return i === 0 ? `${v} B` : `${v.toFixed(1)} ${units[i]}`;
}
