/**
 * Why one attempt of an ownership handoff transfer failed (paper §4.9), one class per condition
 * (STYLE.md habit 5).
 *
 * These never leave the ownership handoff: the sender (ownership-handoff-sender.ts) throws them inside
 * a transfer's attempt and catches them at its end, where they decide whether the transfer is retried
 * or dropped, and their message becomes the transfer's `lastError` (`TransferState`, shown by the
 * explorer). Their messages are the short words the explorer has always shown ('refused', …), so they
 * say what happened; what to do is always the same: nothing, the transfer is retried by itself.
 */
import { DynamoError } from './errors.js';

/** Base class of the errors an ownership handoff transfer fails with. */
export class OwnershipHandoffError extends DynamoError {
  override name = 'OwnershipHandoffError';
}

/**
 * The receiver answered a handoff-start, handoff-batch or handoff-finish with `accepted: false` (or
 * with another reply): it does not replicate the partition in its ring, as views of the ring differ
 * for a moment after a change. A pull transfer that is refused is dropped; others are retried.
 */
export class TransferRefusedError extends OwnershipHandoffError {
  override name = 'TransferRefusedError';
  constructor() {
    super('refused');
  }
}

/**
 * A transfer waited for a batch slot and, meanwhile, its receiver became unreachable or stopped
 * replicating the partition: the batch is not sent (it would hold the slot until its deadline).
 */
export class TransferNotWantedError extends OwnershipHandoffError {
  override name = 'TransferNotWantedError';
  constructor() {
    super('not wanted now');
  }
}

/** The node's Merkle trees are not built yet, so the keys of a partition to send cannot be listed. */
export class MerkleTreesNotReadyError extends OwnershipHandoffError {
  override name = 'MerkleTreesNotReadyError';
  constructor() {
    super('no Merkle trees yet');
  }
}

/**
 * The text of a failed attempt for `TransferState.lastError`: an ownership handoff error's message
 * alone ('refused'), any other error's name and message ('RequestTimeoutError: …'; a plain `Error`'s
 * message alone), or the thrown value as a string.
 */
export function describeTransferFailure(error: unknown): string {
  if (error instanceof OwnershipHandoffError) return error.message;
  return error instanceof Error ? `${error.name === 'Error' ? '' : `${error.name}: `}${error.message}` : String(error);
}
