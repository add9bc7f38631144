/**
 * Load reports: how many objects and hints each member holds, spread by gossip so that every node
 * (and the ring explorer) sees the cluster's balance, and ownership handoff knows how much a holder
 * has left to send. A report carries a sequence number; the highest one of each member wins.
 */
import type { NodeId } from './types.js';

/** One member's report as gossiped: objects stored, hints held, and its sequence number. */
export interface LoadReport {
  id: NodeId;
  keys: number;
  hints: number;
  seq: number;
}

/** What load reports need from their node. */
export interface LoadReportPorts {
  self: NodeId;
  now(): number;
  /** True for a member this node knows and that was not removed (only members' reports are kept and relayed). */
  isMember(id: NodeId): boolean;
  /** Objects this node holds, by partition (from its Merkle trees), and the hints it holds. */
  ownCounts(): Promise<{ keys: number; hints: number }>;
}

/** The latest report of every member, this node's own refreshed once per gossip round. */
export class LoadReports {
  private readonly loads = new Map<NodeId, { keys: number; hints: number; seq: number; receivedAtMs: number }>();
  private refreshing = false;
  /** Bumped whenever a report changes (gossip caches its digest by it). */
  generation = 0;

  constructor(private readonly ports: LoadReportPorts) {}

  /** Refreshes this node's own report in the background (never waited for; errors leave it as it was). */
  refreshOwn(): void {
    if (this.refreshing) return;
    this.refreshing = true;
    void this.ports
      .ownCounts()
      .then(({ keys, hints }) => {
        const own = this.loads.get(this.ports.self);
        if (own?.keys !== keys || own.hints !== hints) {
          this.loads.set(this.ports.self, { keys, hints, seq: (own?.seq ?? 0) + 1, receivedAtMs: this.ports.now() });
          this.generation++;
        }
      })
      .catch(() => undefined)
      .finally(() => (this.refreshing = false));
  }

  /** Every report, as gossiped. */
  reports(): LoadReport[] {
    return [...this.loads].map(([id, l]) => ({ id, keys: l.keys, hints: l.hints, seq: l.seq }));
  }

  /** Takes a gossiped report if it is a member's and newer than the one known. */
  merge(load: LoadReport): void {
    if (load.id === this.ports.self || !this.ports.isMember(load.id)) return;
    const known = this.loads.get(load.id);
    if (known === undefined || load.seq > known.seq) {
      this.loads.set(load.id, { keys: load.keys, hints: load.hints, seq: load.seq, receivedAtMs: this.ports.now() });
      this.generation++;
    }
  }

  /** Objects a member last reported, if any. */
  keysOf(id: NodeId): number | undefined {
    return this.loads.get(id)?.keys;
  }

  /** Each member's last report and when it reached this node (ms). */
  byMember(): Map<NodeId, { keys: number; hints: number; reportedAtMs: number }> {
    return new Map([...this.loads].map(([id, l]) => [id, { keys: l.keys, hints: l.hints, reportedAtMs: l.receivedAtMs }]));
  }
}
