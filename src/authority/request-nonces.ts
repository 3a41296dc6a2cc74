// The nonce of a signed admin request is stored in the transaction of the change the request makes:
// one commit per request instead of two, and a request that changed something can never be replayed.
// Its rows are kept by nonce-store.ts.

export interface RequestNonce {
  keyId: string;
  nonce: string;
  seenAt: string;
}
