/**
 * Checks gossiped membership statements before they change a node's view (issue 16; DESIGN.md §3
 * "Security"): a member record must be signed by its own node (whose id its key derives to), a
 * removal by a member other than its target.
 *
 * Only what would change the view is checked: a record older than the one held, or the very record
 * held (same version and signature), changes nothing whoever signed it, and a removal already known
 * is skipped. Signatures found good are remembered (a bounded set), so the same new record arriving
 * from several peers is checked once, and steady-state gossip costs no signature check at all.
 */
import { sameBytes } from './bytes.js';
import { recordSigningFields, removalSigningFields, type Membership, type MemberRecord, type MembershipAuthority, type Removal } from './membership.js';
import type { NodeId } from './types.js';

/** Most signature checks remembered as passed. */
const VERIFIED_CACHE_SIZE = 4096;

/** What a check kept and what it refused, in the order given. */
export interface Checked<T> {
  taken: T[];
  refused: T[];
}

/** The checks of one node, against its current view. */
export class MembershipVerifier {
  /** Signatures checked and found good (`<id>@<version>:<signature hex>`), oldest dropped first. */
  private readonly verified = new Set<string>();

  constructor(
    private readonly authority: MembershipAuthority,
    private readonly membership: Membership,
  ) {}

  /** The records that may be taken: unchanged or older ones as they are, new ones only when signed by their node. */
  async records(incoming: readonly MemberRecord[]): Promise<Checked<MemberRecord>> {
    const ok = await Promise.all(incoming.map((record) => this.recordOk(record)));
    return split(incoming, ok);
  }

  /**
   * The removals not known yet that are signed by a known member other than their target; `keys` adds
   * public keys of members that arrived in the same message.
   */
  async removals(incoming: readonly Removal[], keys: ReadonlyMap<NodeId, Uint8Array>): Promise<Checked<Removal>> {
    const taken: Removal[] = [];
    const refused: Removal[] = [];
    for (const removal of incoming) {
      const known = this.membership.removalOf(removal.target);
      if (known !== undefined && known.by === removal.by && known.atMs === removal.atMs) continue;
      const removerKey = this.membership.raw(removal.by)?.publicKey ?? keys.get(removal.by);
      const ok =
        removal.by !== removal.target &&
        removerKey !== undefined &&
        removal.signature !== undefined &&
        (await this.authority.verify(removerKey, removalSigningFields(removal), removal.signature));
      (ok ? taken : refused).push(removal);
    }
    return { taken, refused };
  }

  private async recordOk(record: MemberRecord): Promise<boolean> {
    const current = this.membership.raw(record.id);
    // Older, or the very record held: it changes nothing, whoever signed it.
    if (current !== undefined && (record.version < current.version || (record.version === current.version && sameOrAbsent(record.signature, current.signature)))) return true;
    if (record.publicKey === undefined || record.signature === undefined) return false;
    if (current?.publicKey !== undefined && !sameOrAbsent(current.publicKey, record.publicKey)) return false;
    const cacheKey = `${record.id}@${record.version}:${hexOf(record.signature)}`;
    if (this.verified.has(cacheKey)) return true;
    if ((await this.authority.nodeIdOf(record.publicKey)) !== record.id) return false;
    if (!(await this.authority.verify(record.publicKey, recordSigningFields(record), record.signature))) return false;
    this.verified.add(cacheKey);
    if (this.verified.size > VERIFIED_CACHE_SIZE) this.verified.delete(this.verified.values().next().value!);
    return true;
  }
}

function split<T>(items: readonly T[], ok: readonly boolean[]): Checked<T> {
  const taken: T[] = [];
  const refused: T[] = [];
  items.forEach((item, i) => (ok[i] ? taken : refused).push(item));
  return { taken, refused };
}

/** True when both are absent, or both hold the same bytes. */
function sameOrAbsent(a: Uint8Array | undefined, b: Uint8Array | undefined): boolean {
  return a === undefined || b === undefined ? a === b : sameBytes(a, b);
}

function hexOf(bytes: Uint8Array): string {
  let out = '';
  for (const b of bytes) out += b.toString(16).padStart(2, '0');
  return out;
}
