/**
 * Operating errors of the store, one class per condition (STYLE.md habit 5).
 *
 * Every class sets a stable `name`; code that receives errors across a worker or page boundary
 * (where classes are lost) compares `error.name`. Messages say what happened and what to do.
 */

/** Base class of every error this store throws on purpose. */
export class DynamoError extends Error {
  override name = 'DynamoError';
}

/** A key was not a non-empty string of at most `maxKeyBytes` UTF-8 bytes (DESIGN.md §3 "Limits"). */
export class InvalidKeyError extends DynamoError {
  override name = 'InvalidKeyError';
}

/** A value was not JSON-compatible data or bytes (`Uint8Array`). Nothing was written. */
export class InvalidValueError extends DynamoError {
  override name = 'InvalidValueError';
}

/** An encoded value exceeded the 1 MiB limit (paper §2: objects under 1 MB). Nothing was written. */
export class ValueTooLargeError extends DynamoError {
  override name = 'ValueTooLargeError';
  constructor(
    readonly sizeBytes: number,
    readonly maxBytes: number,
  ) {
    super(`value is ${sizeBytes} bytes encoded; the limit is ${maxBytes} bytes. Store large data in parts under several keys.`);
  }
}

/**
 * A put would leave more sibling data under one key than a message may carry. Nothing was written:
 * read the key and put a merged value with its context to collapse the siblings first.
 */
export class VersionSetTooLargeError extends DynamoError {
  override name = 'VersionSetTooLargeError';
  constructor(
    readonly sizeBytes: number,
    readonly maxBytes: number,
    /** What is too large when it is not the bytes (too many siblings or clock entries). */
    detail?: string,
  ) {
    super(
      detail ??
        `the key's versions would take ${sizeBytes} bytes (limit ${maxBytes}); get the key and put a merged value with its context to collapse its siblings`,
    );
  }
}

/**
 * A write would take a vector-clock counter past Number.MAX_SAFE_INTEGER, where counters stop being
 * exact and a dot could name two writes (paper §4.4). Only a corrupt clock gets there (a peer sent a
 * counter near the limit). Nothing was written; the key can still be read, and written through another
 * replica.
 */
export class ClockOverflowError extends DynamoError {
  override name = 'ClockOverflowError';
}

/** A context string was not one returned by `get`/`put` of this store. */
export class InvalidContextError extends DynamoError {
  override name = 'InvalidContextError';
}

/** An option was out of range, e.g. `r > n` or a non-positive timeout. */
export class InvalidOptionError extends DynamoError {
  override name = 'InvalidOptionError';
}

/**
 * Fewer replicas answered than the request needed before its deadline (paper §4.5).
 * `answered` successful replies of `needed` (R or W), out of `replicas` asked (N).
 */
export class QuorumNotReachedError extends DynamoError {
  override name = 'QuorumNotReachedError';
  constructor(
    readonly operation: 'get' | 'put' | 'delete',
    readonly answered: number,
    readonly needed: number,
    readonly replicas: number,
    detail = '',
  ) {
    super(
      `${operation}: ${answered} of ${needed} needed replicas answered (${replicas} asked)${detail ? `: ${detail}` : ''}. ` +
        'Retry later, or lower r/w for this request.',
    );
  }
}

/** A request to a single peer got no answer before its deadline. */
export class RequestTimeoutError extends DynamoError {
  override name = 'RequestTimeoutError';
}

/** A peer answered a request with an error of its own (`code` is that error's `name`). */
export class RemoteError extends DynamoError {
  override name = 'RemoteError';
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/** The node is not running (not started yet, or closed); start it or open the tab again. */
export class NodeNotRunningError extends DynamoError {
  override name = 'NodeNotRunningError';
}

/** The ring has no member able to serve the request (no node has joined yet). */
export class NoReplicasError extends DynamoError {
  override name = 'NoReplicasError';
}

/** The underlying storage failed (IndexedDB error, aborted transaction, closed database). */
export class StorageError extends DynamoError {
  override name = 'StorageError';
}

/** The browser refused to store more data (IndexedDB `QuotaExceededError`). Free space and retry. */
export class StorageQuotaError extends StorageError {
  override name = 'StorageQuotaError';
}

/** This tab cannot run as the requested node: another tab holds that node id's lock. */
export class IdentityLockedError extends DynamoError {
  override name = 'IdentityLockedError';
}

/** The transport could not reach a peer at all (no connection could be opened). */
export class PeerUnreachableError extends DynamoError {
  override name = 'PeerUnreachableError';
}

/**
 * A node id that has written before finds its stored state gone (storage evicted or cleared). It must
 * not run under that id again (its dot counters would restart): the host starts a new identity.
 */
export class StoredStateLostError extends DynamoError {
  override name = 'StoredStateLostError';
}

/**
 * A remembered or adopted node id whose database holds no key for it, or belongs to another cluster
 * secret (issue 16: an id is only usable with its key). The host starts a new identity; the old
 * database is left as it is.
 */
export class NodeKeyMissingError extends DynamoError {
  override name = 'NodeKeyMissingError';
}
