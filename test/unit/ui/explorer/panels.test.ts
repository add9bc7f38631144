/**
 * How the explorer's partition panel words a transfer (src/ui/explorer/panels.ts, describeTransfer):
 * progress while it runs, and after a failure the attempt count and why it failed, so a handoff that
 * keeps failing is visible rather than looking like one that is slow.
 */
import { describe, expect, it } from 'vitest';
import { describeTransfer, type TransferView } from '../../../../src/ui/explorer/panels.js';

const base: TransferView = { peer: 'b3k', reason: 'ownership', keysSent: 0, keysTotal: 0, state: 'running', attempts: 1 };

describe('describeTransfer', () => {
  it('shows progress while a transfer runs', () => {
    expect(describeTransfer({ ...base, keysSent: 128, keysTotal: 512 })).toBe('→ b3k 128/512 keys, running · ownership');
    expect(describeTransfer(base)).toBe('→ b3k keys not listed yet, running · ownership');
  });

  it('shows the attempt and the last failure once one failed', () => {
    expect(describeTransfer({ ...base, state: 'waiting', attempts: 3, lastError: 'refused', reason: 'sweep' })).toBe('→ b3k keys not listed yet, waiting to retry (attempt 3; last: refused) · sweep');
    expect(describeTransfer({ ...base, keysSent: 256, keysTotal: 512, attempts: 2, lastError: 'RequestTimeoutError: no answer' })).toBe(
      '→ b3k 256/512 keys, retrying (attempt 2; last: RequestTimeoutError: no answer) · ownership',
    );
  });
});
