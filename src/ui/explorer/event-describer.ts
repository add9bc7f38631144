/**
 * The activity log's words for the node's events: one line per event worth a line, nothing for the
 * routine ones (a gossip round that brought nothing new, an ownership handoff of an empty partition).
 * It remembers the last membership and the last signaling server state it described, so that a
 * repeat says nothing: keep one describer per page (per node).
 */
import type { DynamoEvent } from '../../index.js';

/** Event types that are rare and each matter: their lines are never merged with the line before. */
const NEVER_MERGED: ReadonlySet<DynamoEvent['type']> = new Set(['membership-change', 'removal', 'error', 'connectivity', 'signaling']);

/** Describes one node's events for its activity log. */
export class EventDescriber {
  /** The members and statuses last described (`id:status,…`). */
  private lastMembership = '';
  /** The signaling server state last described (its retries go through connecting and back: logged once). */
  private lastServerState = '';

  /**
   * The kind under which lines of `event` merge within a second (see ActivityLog), or undefined when
   * each of its lines stands alone.
   */
  mergeKind(event: DynamoEvent): string | undefined {
    return NEVER_MERGED.has(event.type) ? undefined : event.type;
  }

  /** The log line for `event`, or undefined when it is not worth one (or repeats the last one of its kind). */
  describe(event: DynamoEvent): string | undefined {
    switch (event.type) {
      case 'put':
        return `put ${event.key} → ${event.version.node}:${event.version.counter}, coordinated by ${event.coordinator}, ${event.acks} acks, ${event.latencyMs} ms`;
      case 'get':
        return `get ${event.key} → ${event.siblings} version(s) from ${event.answeredBy.join(', ')}, ${event.latencyMs} ms`;
      case 'read-repair':
        return `read repair of ${event.key} on ${event.replicas.join(', ')}`;
      case 'membership': {
        // Only when the set of members or their statuses changed (records change often: incarnations, handoff lists).
        const signature = event.members.map((m) => `${m.id}:${m.status}`).join(',');
        if (signature === this.lastMembership) return undefined;
        this.lastMembership = signature;
        return `membership: ${event.members.map((m) => (m.status === 'up' ? m.id : `${m.id} (${m.status})`)).join(', ')}`;
      }
      case 'message-dropped':
        return `dropped a message from ${event.from}: ${event.reason}`;
      case 'error':
        return `error (${event.context}): ${event.error.message}`;
      case 'reachability':
        return `${event.peer} is ${event.to} (was ${event.from})`;
      case 'hint-stored':
        return `holding a hint for ${event.intendedFor}: ${event.key}`;
      case 'hints-delivered':
        return `delivered ${event.count} hint${event.count === 1 ? '' : 's'} to ${event.peer}`;
      case 'hints-expired':
        return `dropped ${event.count} hint${event.count === 1 ? '' : 's'} for ${event.intendedFor}, away longer than hintTtlMs (another replica holds each)`;
      case 'tombstones-purged':
        return `purged ${event.count} tombstone${event.count === 1 ? '' : 's'}: deleted longer than tombstoneGraceMs ago, held the same by every replica`;
      case 'hints-passed':
        return `passed ${event.count} hint${event.count === 1 ? '' : 's'} for ${event.intendedFor} to ${event.to} (leaving)`;
      case 'anti-entropy':
        return `anti-entropy with ${event.peer}: ${event.partitionsDiffering.length} of ${event.partitionsCompared} partitions differed, ${event.keysPulled} keys taken, ${event.keysPushed} sent`;
      case 'ownership-handoff':
        return event.keys > 0 || event.reason !== 'ownership' ? `handed partition ${event.partition} to ${event.peer}: ${event.keys} key${event.keys === 1 ? '' : 's'} in ${Math.round(event.durationMs)} ms (${event.reason})` : undefined;
      case 'partition-received':
        return `received partition ${event.partition}: this node now serves it`;
      case 'removal':
        return `${event.target} removed by ${event.by}`;
      case 'membership-change':
        return event.change === 'capacity' ? `${event.node} changed its capacity to ${event.capacity}` : `${event.node}: ${event.change}`;
      case 'gossip':
        return event.changed && event.direction === 'received' ? `gossip from ${event.peer} brought membership news` : undefined;
      case 'connectivity':
        return event.connected ? 'reconnected' : 'disconnected';
      case 'seeds':
        return event.seeds.length > 0 ? `seeds from signaling: ${event.seeds.join(', ')}` : undefined;
      case 'signaling': {
        if (event.server.state === 'connecting' || event.server.state === this.lastServerState) return undefined;
        const first = this.lastServerState === '';
        this.lastServerState = event.server.state;
        if (event.server.state === 'open') return first ? 'signaling server reachable' : 'signaling server reachable again';
        if (event.server.state === 'id-taken') return 'signaling server: this node’s id is still held by an older tab; retrying';
        return 'signaling server unreachable: retrying with backoff; new connections are set up through the cluster and between tabs of this browser';
      }
      default:
        return undefined;
    }
  }
}
