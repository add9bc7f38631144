/**
 * The scoped discovery listing (issue 16, item 5): `GET <path>/peerjs/peers?tag=<tag>` answers the
 * ids registered under one signaling tag, and nothing else lists ids. A tag is derived from a
 * cluster's secret (src/security/cluster-secret.ts), so the listing shows a cluster only to whoever
 * already knows its tag, and the cluster's name never reaches the server at all.
 *
 *   byTag:  "abcdefgh23456789" ──▶ { dyn-abcdefgh23456789-<node 1>, dyn-abcdefgh23456789-<node 2> }
 *           "zyxwvuts76543222" ──▶ { dyn-zyxwvuts76543222-<node 3> }
 *
 * Answers (JSON, `Cache-Control: no-store`):
 *   200 `["dyn-<tag>-<node>", …]`            the ids peer holds an open socket for, under that tag
 *   400 `{"error": "…"}`                      no `tag`, or not 16 characters a–z 2–7
 *
 * Kept up to date from peer's own `connection` / `disconnect` events (signaling-server.ts), so it
 * lists exactly what peer has registered. Pure: no I/O.
 */
import { TAG_LENGTH } from '../security/cluster-secret.js';
import { NODE_ID_LENGTH } from '../security/node-key.js';

/** The HTTP answer to a listing request: status and JSON body. */
export type ListingAnswer = { status: 200; body: string[] } | { status: 400; body: { error: string } };

/** Counters of listing requests. */
export interface ListingStats {
  /** Answered 200. */
  answered: number;
  /** Refused 400 (no tag, or a malformed one). */
  refused: number;
}

const TAG = new RegExp(`^[a-z2-7]{${TAG_LENGTH}}$`);
const PEER_ID = new RegExp(`^dyn-([a-z2-7]{${TAG_LENGTH}})-[a-z2-7]{${NODE_ID_LENGTH}}$`);

/** Registered peer ids by tag; see the file header. */
export class PeerListing {
  private readonly byTag = new Map<string, Set<string>>();
  private readonly counters: ListingStats = { answered: 0, refused: 0 };

  /** peer registered `peerId` (ids not of the `dyn-<tag>-<node>` shape are never listed). */
  add(peerId: string): void {
    const tag = PEER_ID.exec(peerId)?.[1];
    if (tag === undefined) return;
    let ids = this.byTag.get(tag);
    if (ids === undefined) {
      ids = new Set();
      this.byTag.set(tag, ids);
    }
    ids.add(peerId);
  }

  /** peer dropped `peerId`. */
  remove(peerId: string): void {
    const tag = PEER_ID.exec(peerId)?.[1];
    const ids = tag === undefined ? undefined : this.byTag.get(tag);
    if (ids === undefined || tag === undefined) return;
    ids.delete(peerId);
    if (ids.size === 0) this.byTag.delete(tag);
  }

  /** The answer to a listing request whose `tag` query parameter is `tag` (null when absent). */
  answer(tag: string | null): ListingAnswer {
    if (tag === null || !TAG.test(tag)) {
      this.counters.refused++;
      return { status: 400, body: { error: `the listing needs ?tag=<${TAG_LENGTH} characters a-z 2-7>` } };
    }
    this.counters.answered++;
    return { status: 200, body: [...(this.byTag.get(tag) ?? [])] };
  }

  stats(): ListingStats {
    return { ...this.counters };
  }
}
