// One sentence for every way a wallet or chain call can fail. viem wraps errors in
// layers; BaseError.walk finds the layer that says what happened.
import {
  BaseError,
  ChainMismatchError,
  ContractFunctionRevertedError,
  HttpRequestError,
  InsufficientFundsError,
  TimeoutError,
  UserRejectedRequestError,
} from "viem";
import type { StringKey } from "./strings/en";
import type { Params } from "./i18n";
import { RevertedTx } from "./chain";

export interface Problem {
  key: StringKey;
  params?: Params;
  /** The contract's error name, when the contract said no. */
  errorName?: string;
}

/** Contract errors that have a sentence of their own. */
const BY_ERROR_NAME: Record<string, StringKey> = {
  EnforcedPause: "err.paused",
  ERC20InsufficientBalance: "err.tokens",
  NothingToClaim: "err.nothingToClaim",
  NodeNotActive: "err.notNode",
  InvalidPeriods: "err.periods",
  PrepaymentCapExceeded: "err.prepaymentCap",
  PaymentTooSmall: "err.paymentTooSmall",
  NothingToRefund: "err.nothingToRefund",
  SettlementBehind: "err.settlementBehind",
  NotPayee: "err.notPayee",
};

function hasCode(e: unknown, code: number): boolean {
  return typeof e === "object" && e !== null && (e as { code?: unknown }).code === code;
}

export function explain(err: unknown, params: Params = {}): Problem {
  if (err instanceof BaseError) {
    const rejected = err.walk((e) => e instanceof UserRejectedRequestError || hasCode(e, 4001));
    if (rejected) return { key: "err.rejected" };
    if (err.walk((e) => e instanceof ChainMismatchError)) return { key: "err.wrongChain", params };
    const revert = err.walk((e) => e instanceof ContractFunctionRevertedError) as ContractFunctionRevertedError | null;
    const name = revert?.data?.errorName;
    if (name) {
      const key = BY_ERROR_NAME[name];
      if (key) return { key, params, errorName: name };
      return { key: "err.reverted", params: { name }, errorName: name };
    }
    if (err.walk((e) => e instanceof InsufficientFundsError) || /insufficient funds/i.test(err.message)) {
      return { key: "err.gas" };
    }
    if (err.walk((e) => e instanceof HttpRequestError || e instanceof TimeoutError)) return { key: "err.rpc" };
    return { key: "err.unknown", params: { message: err.shortMessage } };
  }
  if (hasCode(err, 4001)) return { key: "err.rejected" };
  if (err instanceof RevertedTx) return { key: "err.reverted", params: { name: "reverted" } };
  const message = err instanceof Error ? err.message : String(err);
  return { key: "err.unknown", params: { message } };
}
