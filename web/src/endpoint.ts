// A node's registry entry (doc/protocol.md, "Node endpoints"): one or more fields
// separated by single spaces, `HOST:PORT` (plain SOCKS5 + HTTP), `tls=HOST:PORT` (the
// same inside TLS) and `pin=sha256//BASE64` (required with tls=). The same rules as the
// Rust parser (src/endpoint.rs, src/host_port.rs), so the site reads an entry exactly
// as `aqueduct local` does. Pure: no DOM.

/** The contract's `MAX_ENDPOINT_LENGTH`, in bytes. */
export const MAX_ENDPOINT_LENGTH = 260;
/** Longest DNS name (RFC 1035 §2.3.4, without the trailing dot). */
const MAX_HOST_LENGTH = 253;

export interface HostPort {
  /** A name or an IP literal, without brackets. */
  host: string;
  port: number;
}

export interface Endpoint {
  /** SOCKS5 and HTTP proxy in clear. */
  plain?: HostPort;
  /** The same protocols inside TLS, with the pin of the node's TLS key. */
  tls?: { addr: HostPort; pin: string };
}

export type HostPortError = "noPort" | "badPort" | "badIpv6" | "badHost";

export type EndpointError =
  | { kind: "empty" }
  | { kind: "tooLong"; bytes: number }
  | { kind: "spacing" }
  | { kind: "plain"; why: HostPortError }
  | { kind: "tls"; why: HostPortError }
  | { kind: "pin" }
  | { kind: "repeated"; field: "plain" | "tls=" | "pin=" }
  | { kind: "unknownField"; name: string }
  | { kind: "tlsWithoutPin" }
  | { kind: "pinWithoutTls" };

export type ParsedEndpoint = { ok: true; endpoint: Endpoint } | { ok: false; error: EndpointError };

/** `sha256//` and the 44-character canonical base64 of 32 bytes (last symbol's unused bits zero). */
const PIN = /^sha256\/\/[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]=$/;

function isIpv6(s: string): boolean {
  if (!/^[0-9A-Fa-f:.]+$/.test(s) || !s.includes(":")) return false;
  try {
    new URL(`http://[${s}]/`);
    return true;
  } catch {
    return false;
  }
}

export function parseHostPort(s: string): { ok: true; addr: HostPort } | { ok: false; why: HostPortError } {
  const colon = s.lastIndexOf(":");
  if (colon < 0) return { ok: false, why: "noPort" };
  const portText = s.slice(colon + 1);
  const port = Number(portText);
  if (!/^[0-9]+$/.test(portText) || port < 1 || port > 65535) return { ok: false, why: "badPort" };
  let host = s.slice(0, colon);
  const bracketed = host.startsWith("[");
  if (bracketed) {
    if (!host.endsWith("]") || !isIpv6(host.slice(1, -1))) return { ok: false, why: "badIpv6" };
    host = host.slice(1, -1);
  }
  if (!host || host.length > MAX_HOST_LENGTH || !/^[A-Za-z0-9\-._:]+$/.test(host) || (host.includes(":") && !bracketed)) {
    return { ok: false, why: "badHost" };
  }
  return { ok: true, addr: { host, port } };
}

/** `host:port`, with an IPv6 literal in brackets. */
export function hostPortText(a: HostPort): string {
  return a.host.includes(":") ? `[${a.host}]:${a.port}` : `${a.host}:${a.port}`;
}

/** Reads one registry entry; why not, as a value, when it is malformed. */
export function parseEndpoint(entry: string): ParsedEndpoint {
  const fail = (error: EndpointError): ParsedEndpoint => ({ ok: false, error });
  if (!entry) return fail({ kind: "empty" });
  const bytes = new TextEncoder().encode(entry).length;
  if (bytes > MAX_ENDPOINT_LENGTH) return fail({ kind: "tooLong", bytes });
  let plain: HostPort | undefined;
  let tls: HostPort | undefined;
  let pin: string | undefined;
  for (const field of entry.split(" ")) {
    if (!field) return fail({ kind: "spacing" });
    if (field.startsWith("tls=")) {
      const r = parseHostPort(field.slice(4));
      if (!r.ok) return fail({ kind: "tls", why: r.why });
      if (tls) return fail({ kind: "repeated", field: "tls=" });
      tls = r.addr;
    } else if (field.startsWith("pin=")) {
      if (!PIN.test(field.slice(4))) return fail({ kind: "pin" });
      if (pin) return fail({ kind: "repeated", field: "pin=" });
      pin = field.slice(4);
    } else if (field.includes("=")) {
      return fail({ kind: "unknownField", name: `${field.split("=")[0]}=` });
    } else {
      const r = parseHostPort(field);
      if (!r.ok) return fail({ kind: "plain", why: r.why });
      if (plain) return fail({ kind: "repeated", field: "plain" });
      plain = r.addr;
    }
  }
  if (tls && !pin) return fail({ kind: "tlsWithoutPin" });
  if (pin && !tls) return fail({ kind: "pinWithoutTls" });
  const endpoint: Endpoint = {};
  if (plain) endpoint.plain = plain;
  if (tls && pin) endpoint.tls = { addr: tls, pin };
  return { ok: true, endpoint };
}

/** The canonical text (plain address, `tls=`, `pin=`), as `aqueduct` writes and reads it. */
export function endpointText(e: Endpoint): string {
  const fields: string[] = [];
  if (e.plain) fields.push(hostPortText(e.plain));
  if (e.tls) fields.push(`tls=${hostPortText(e.tls.addr)}`, `pin=${e.tls.pin}`);
  return fields.join(" ");
}
