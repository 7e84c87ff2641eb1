// The user's wallet: found by EIP-6963 announcements (window.ethereum only when none
// announces), connected on request, and moved to the network's chain with EIP-3326
// (adding it first with EIP-3085 when the wallet does not know it).
import { createClient, custom, getAddress, type Account, type Address, type Chain, type Client, type EIP1193Provider, type Transport } from "viem";
import { addChain, switchChain } from "viem/actions";

/** The wallet as a bare viem client (actions are imported one by one). */
export type WalletClient = Client<Transport, Chain, Account>;

export interface WalletChoice {
  uuid: string;
  name: string;
  /** A data: URI only, so no wallet can make the page load an outside asset. */
  icon?: string;
  provider: EIP1193Provider;
}

interface AnnounceDetail {
  info?: { uuid?: unknown; name?: unknown; icon?: unknown };
  provider?: EIP1193Provider;
}

const announced = new Map<string, WalletChoice>();

export function discoverWallets(onChange: () => void): void {
  window.addEventListener("eip6963:announceProvider", (ev) => {
    const d = (ev as CustomEvent<AnnounceDetail>).detail;
    const info = d?.info;
    if (!info || typeof info.uuid !== "string" || typeof info.name !== "string" || !d.provider) return;
    const icon = typeof info.icon === "string" && info.icon.startsWith("data:image/") ? info.icon : undefined;
    announced.set(info.uuid, { uuid: info.uuid, name: info.name, icon, provider: d.provider });
    onChange();
  });
  window.dispatchEvent(new Event("eip6963:requestProvider"));
}

/** Announced wallets; else the legacy injected one, named by `fallbackName`. */
export function walletChoices(fallbackName: string): WalletChoice[] {
  const list = [...announced.values()];
  const injected = (window as { ethereum?: EIP1193Provider }).ethereum;
  if (list.length === 0 && injected) list.push({ uuid: "window.ethereum", name: fallbackName, provider: injected });
  return list;
}

function codeOf(e: unknown): number | undefined {
  for (let cur = e, depth = 0; cur && typeof cur === "object" && depth < 6; depth++) {
    const c = (cur as { code?: unknown }).code;
    if (c === 4902) return 4902;
    const data = (cur as { data?: { originalError?: unknown } }).data;
    cur = (cur as { cause?: unknown }).cause ?? data?.originalError;
  }
  return undefined;
}

export class Session {
  wallet?: WalletChoice;
  account?: Address;
  chainId?: number;
  client?: WalletClient;
  private listeners = new Set<() => void>();
  private detach?: () => void;

  constructor(private chain: Chain) {}

  onChange(f: () => void): void {
    this.listeners.add(f);
  }

  private changed(): void {
    for (const f of this.listeners) f();
  }

  get connected(): boolean {
    return this.account !== undefined;
  }

  get onRightChain(): boolean {
    return this.chainId === this.chain.id;
  }

  async connect(w: WalletChoice): Promise<void> {
    const accounts = (await w.provider.request({ method: "eth_requestAccounts" })) as string[];
    if (!accounts.length) throw new Error("the wallet gave no account");
    const chainId = Number(await w.provider.request({ method: "eth_chainId" }));
    this.detach?.();
    this.wallet = w;
    this.account = getAddress(accounts[0]);
    this.chainId = chainId;
    this.client = createClient({ account: this.account, chain: this.chain, transport: custom(w.provider) });
    const onAccounts = (a: unknown) => {
      const list = a as string[];
      if (list.length === 0) this.disconnect();
      else {
        this.account = getAddress(list[0]);
        this.client = createClient({ account: this.account, chain: this.chain, transport: custom(w.provider) });
        this.changed();
      }
    };
    const onChain = (id: unknown) => {
      this.chainId = Number(id);
      this.changed();
    };
    w.provider.on?.("accountsChanged", onAccounts as never);
    w.provider.on?.("chainChanged", onChain as never);
    this.detach = () => {
      w.provider.removeListener?.("accountsChanged", onAccounts as never);
      w.provider.removeListener?.("chainChanged", onChain as never);
    };
    this.changed();
  }

  disconnect(): void {
    this.detach?.();
    this.detach = undefined;
    this.wallet = this.account = this.chainId = this.client = undefined;
    this.changed();
  }

  /** Asks the wallet to switch to the network's chain, adding it if the wallet lacks it. */
  async switchChain(): Promise<void> {
    const client = this.client;
    if (!client || !this.wallet) return;
    try {
      await switchChain(client, { id: this.chain.id });
    } catch (e) {
      if (codeOf(e) !== 4902) throw e;
      await addChain(client, { chain: this.chain });
      await switchChain(client, { id: this.chain.id });
    }
    this.chainId = Number(await this.wallet.provider.request({ method: "eth_chainId" }));
    this.changed();
  }
}
