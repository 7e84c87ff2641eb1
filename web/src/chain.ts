// Everything the site asks the chain: reads through one public client over the
// deployment's RPC URLs, writes through the user's wallet. ABIs come from
// contracts/artifacts/ at build time (the build keeps only their `abi`).
import aqueductArtifact from "../../contracts/artifacts/Aqueduct.json";
import tokenArtifact from "../../contracts/artifacts/TestStablecoin.json";
import { getBlock, getLogs, readContract, simulateContract, waitForTransactionReceipt, writeContract } from "viem/actions";
import {
  createClient,
  defineChain,
  fallback,
  http,
  type Abi,
  type AbiEvent,
  type AbiFunction,
  type Address,
  type Chain,
  type Client,
  type Hash,
  type TransactionReceipt,
} from "viem";
import type { WalletClient } from "./wallet";
import type { SiteConfig } from "./config";

export const aqueductAbi = aqueductArtifact.abi as Abi;
/** The calls the site makes on the fee token are plain ERC-20 ones. */
export const tokenAbi = tokenArtifact.abi as Abi;
/** Aqueduct's calls can revert with its own errors or the token's (SafeERC20 passes them on). */
export const callAbi: Abi = [...aqueductAbi, ...tokenAbi.filter((e) => e.type === "error")];

/** Most registry entries listed; a registry this large is far beyond today's networks. */
export const MAX_LISTED_NODES = 1000;
/** Epochs one claim walks (the contract's own per-call settling bound is 64). */
export const CLAIM_MAX_EPOCHS = 64n;
/** Payments of one wallet looked at for refunds, newest first. */
export const MAX_REFUND_PAYMENTS = 200;

const eventOf = (name: string) => aqueductAbi.find((e): e is AbiEvent => e.type === "event" && e.name === name);
const subscribedEvent = eventOf("Subscribed");
const heartbeatEvent = eventOf("Heartbeat");

/** What a node says it served, summed over its heartbeats of one epoch (self-reported, not checked). */
export interface Usage {
  sessions: bigint;
  bytes: bigint;
  /** The most distinct members one heartbeat reported. */
  members: bigint;
}

export function chainOf(cfg: SiteConfig): Chain {
  return defineChain({
    id: cfg.chainId,
    name: cfg.chainName,
    nativeCurrency: cfg.nativeCurrency,
    rpcUrls: { default: { http: cfg.rpc } },
  });
}

/**
 * The arguments of `claim` for `node`, built from the ABI's inputs by name: the one place
 * that knows claim's signature (today `claim(node, maxEpochs)`). The contract pays the
 * node's payee, whoever sends the claim, so no input names a recipient.
 */
export function claimArgs(abi: Abi, node: Address): unknown[] {
  const claim = abi.find((e): e is AbiFunction => e.type === "function" && e.name === "claim");
  if (!claim) throw new Error("the contract's ABI has no claim function");
  return claim.inputs.map((input) => {
    if (input.type === "uint256" && /epochs/i.test(input.name ?? "")) return CLAIM_MAX_EPOCHS;
    if (input.type === "address" && /^node$/i.test(input.name ?? "")) return node;
    throw new Error(`claim's input ${input.name}: ${input.type} is not known to the site`);
  });
}

/**
 * How many periods `member` may buy now: one payment buys at most `maxPeriods`, and the
 * contract refuses access paid beyond `now + maxPeriods * periodLength` (its prepayment cap).
 */
export function periodsRoom(p: Pick<Params, "maxPeriods" | "periodLength">, until: bigint, now: bigint): bigint {
  const limit = now + p.maxPeriods * p.periodLength;
  const start = until > now ? until : now;
  if (start >= limit) return 0n;
  const room = (limit - start) / p.periodLength;
  return room < p.maxPeriods ? room : p.maxPeriods;
}

export interface NodeEntry {
  address: Address;
  endpoint: string;
  active: boolean;
}

export interface Params {
  price: bigint;
  periodLength: bigint;
  epochLength: bigint;
  slotLength: bigint;
  maxPeriods: bigint;
  genesis: bigint;
  token: Address;
  symbol: string;
  decimals: number;
}

export interface OperatorState {
  node: Address;
  /** Whether the node is in the registry at all (removed nodes stay, inactive). */
  registered: boolean;
  active: boolean;
  endpoint?: string;
  /** Where its earnings go; the zero address if it was never added. */
  payee: Address;
  epoch: bigint;
  heartbeats: bigint;
  /** Heartbeats of the epoch just ended: still in the monitor's challenge window. */
  heartbeatsLastEpoch: bigint;
  slotsPerEpoch: bigint;
  claimable: bigint;
  payeeBalance: bigint;
  /** When the epoch just ended settles (the start of the next epoch), unix seconds. */
  nextSettlesAt: bigint;
}

/** One payment whose unserved epochs are owed back to its payer. */
export interface Refund {
  member: Address;
  until: bigint;
  amount: bigint;
}

export type TxState =
  | { kind: "wallet" }
  | { kind: "sent"; hash: Hash }
  | { kind: "mined"; block: bigint; hash: Hash };

/** A transaction that was mined but reverted. */
export class RevertedTx extends Error {
  constructor(public hash: Hash) {
    super(`transaction ${hash} reverted`);
  }
}

export interface Call {
  address: Address;
  abi: Abi;
  functionName: string;
  args: readonly unknown[];
}

export class Network {
  /** A bare client with the few actions imported one by one: a much smaller bundle than a public client's. */
  readonly client: Client;
  readonly chain: Chain;
  private params?: Promise<Params>;

  constructor(readonly cfg: SiteConfig) {
    this.chain = chainOf(cfg);
    this.client = createClient({
      chain: this.chain,
      transport: fallback(cfg.rpc.map((u) => http(u, { batch: true, retryCount: 1 }))),
    });
  }

  read<T>(functionName: string, args: readonly unknown[] = []): Promise<T> {
    return readContract(this.client, { address: this.cfg.contract, abi: aqueductAbi, functionName, args }) as Promise<T>;
  }

  readToken<T>(functionName: string, args: readonly unknown[] = []): Promise<T> {
    return this.getParams().then(
      (p) => readContract(this.client, { address: p.token, abi: tokenAbi, functionName, args }) as Promise<T>,
    );
  }

  /** The contract's fixed settings and its token; read once per visit. */
  getParams(): Promise<Params> {
    this.params ??= (async () => {
      const [price, periodLength, epochLength, slotLength, maxPeriods, genesis, token] = await Promise.all([
        this.read<bigint>("price"),
        this.read<bigint>("periodLength"),
        this.read<bigint>("epochLength"),
        this.read<bigint>("slotLength"),
        this.read<bigint>("maxPeriods"),
        this.read<bigint>("genesis"),
        this.read<Address>("token"),
      ]);
      const [symbol, decimals] = await Promise.all([
        readContract(this.client, { address: token, abi: tokenAbi, functionName: "symbol" }) as Promise<string>,
        readContract(this.client, { address: token, abi: tokenAbi, functionName: "decimals" }) as Promise<number>,
      ]);
      return { price, periodLength, epochLength, slotLength, maxPeriods, genesis, token, symbol, decimals: Number(decimals) };
    })();
    this.params.catch(() => (this.params = undefined));
    return this.params;
  }

  paused(): Promise<boolean> {
    return this.read<boolean>("paused");
  }

  async nodes(): Promise<NodeEntry[]> {
    const count = await this.read<bigint>("nodeCount");
    const n = Number(count < BigInt(MAX_LISTED_NODES) ? count : BigInt(MAX_LISTED_NODES));
    const rows = await Promise.all(
      Array.from({ length: n }, (_, i) => this.read<readonly [Address, string, boolean]>("nodeAt", [BigInt(i)])),
    );
    return rows.map(([address, endpoint, active]) => ({ address, endpoint, active }));
  }

  memberUntil(member: Address): Promise<bigint> {
    return this.read<bigint>("memberUntil", [member]);
  }

  balance(owner: Address): Promise<bigint> {
    return this.readToken<bigint>("balanceOf", [owner]);
  }

  allowance(owner: Address): Promise<bigint> {
    return this.readToken<bigint>("allowance", [owner, this.cfg.contract]);
  }

  /** The chain's own clock (the latest block's time): what the contract's checks use. */
  async chainNow(): Promise<bigint> {
    return (await getBlock(this.client, { blockTag: "latest" })).timestamp;
  }

  /** The usage counters of `node`'s heartbeats in `epoch`, from the Heartbeat logs. */
  async usage(node: Address, epoch: bigint): Promise<Usage> {
    if (!heartbeatEvent) throw new Error("the contract's ABI has no Heartbeat event");
    const logs = await getLogs(this.client, {
      address: this.cfg.contract,
      event: heartbeatEvent,
      args: { node, epoch },
      fromBlock: BigInt(this.cfg.deployBlock),
      toBlock: "latest",
    });
    const u: Usage = { sessions: 0n, bytes: 0n, members: 0n };
    for (const log of logs) {
      const a = (log as unknown as { args: { sessions: bigint; bytesRelayed: bigint; members: bigint } }).args;
      u.sessions += a.sessions;
      u.bytes += a.bytesRelayed;
      if (a.members > u.members) u.members = a.members;
    }
    return u;
  }

  async operator(node: Address): Promise<OperatorState> {
    const p = await this.getParams();
    const [active, epoch, claimable, payee, nodes] = await Promise.all([
      this.read<boolean>("isActiveNode", [node]),
      this.read<bigint>("currentEpoch"),
      this.read<bigint>("claimable", [node]),
      this.read<Address>("payeeOf", [node]),
      this.nodes(),
    ]);
    const [heartbeats, heartbeatsLastEpoch, payeeBalance] = await Promise.all([
      this.read<bigint>("heartbeatsInEpoch", [node, epoch]),
      epoch > 0n ? this.read<bigint>("heartbeatsInEpoch", [node, epoch - 1n]) : Promise.resolve(0n),
      this.balance(payee),
    ]);
    const entry = nodes.find((e) => e.address.toLowerCase() === node.toLowerCase());
    return {
      node,
      registered: entry !== undefined,
      active,
      endpoint: entry?.endpoint,
      payee,
      epoch,
      heartbeats,
      heartbeatsLastEpoch,
      slotsPerEpoch: p.epochLength / p.slotLength,
      claimable,
      payeeBalance,
      nextSettlesAt: p.genesis + (epoch + 1n) * p.epochLength,
    };
  }

  /**
   * What the contract owes back to `payer` for epochs no node served, payment by payment
   * (only those with something due). Payments are found by their Subscribed logs from
   * the deployment's first block; a refund goes to the payer, whoever asks for it.
   */
  async refunds(payer: Address): Promise<Refund[]> {
    if (!subscribedEvent) throw new Error("the contract's ABI has no Subscribed event");
    const logs = await getLogs(this.client, {
      address: this.cfg.contract,
      event: subscribedEvent,
      args: { payer },
      fromBlock: BigInt(this.cfg.deployBlock),
      toBlock: "latest",
    });
    const seen = new Set<string>();
    const payments: { member: Address; until: bigint }[] = [];
    for (const log of logs.reverse()) {
      const { member, until } = (log as unknown as { args: { member: Address; until: bigint } }).args;
      const key = `${member.toLowerCase()}:${until}`;
      if (seen.has(key)) continue;
      seen.add(key);
      payments.push({ member, until });
      if (payments.length >= MAX_REFUND_PAYMENTS) break;
    }
    const amounts = await Promise.all(payments.map((q) => this.read<bigint>("refundable", [q.member, q.until])));
    return payments.map((q, i) => ({ ...q, amount: amounts[i] })).filter((r) => r.amount > 0n);
  }

  /**
   * Sends one call from the wallet: simulated first (so a revert is named before the
   * wallet opens), then signed by the wallet, then waited for. `onState` hears each step.
   */
  async send(
    wallet: WalletClient,
    account: Address,
    call: Call,
    onState: (s: TxState) => void,
    simulate = true,
  ): Promise<TransactionReceipt> {
    onState({ kind: "wallet" });
    const request = { ...call, account, chain: this.chain };
    if (simulate) await simulateContract(this.client, { ...request, abi: call.abi === aqueductAbi ? callAbi : call.abi });
    const hash = await writeContract(wallet, request);
    onState({ kind: "sent", hash });
    const receipt = await waitForTransactionReceipt(this.client, { hash });
    if (receipt.status !== "success") throw new RevertedTx(hash);
    onState({ kind: "mined", block: receipt.blockNumber, hash });
    return receipt;
  }

  subscribeCall(member: Address, periods: bigint): Call {
    return { address: this.cfg.contract, abi: aqueductAbi, functionName: "subscribe", args: [member, periods] };
  }

  async approveCall(amount: bigint): Promise<Call> {
    const p = await this.getParams();
    return { address: p.token, abi: tokenAbi, functionName: "approve", args: [this.cfg.contract, amount] };
  }

  claimCall(node: Address): Call {
    return { address: this.cfg.contract, abi: aqueductAbi, functionName: "claim", args: claimArgs(aqueductAbi, node) };
  }

  refundCall(r: Refund): Call {
    return { address: this.cfg.contract, abi: aqueductAbi, functionName: "refund", args: [r.member, r.until] };
  }
}
