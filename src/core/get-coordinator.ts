/**
 * The get coordinator (paper §4.5, §5): asks the key's targets (preference-targets.ts), answers after
 * R complete replies with every causally-maximal version (siblings), and once every target has
 * answered or failed, sends the merge to those that returned less (read repair): replicas as a
 * replica-put, fallbacks as a hint for the replica they hold the key for.
 */
import { RemoteError } from './errors.js';
import { fanOut, replicaDeadlineMs, type FanOutPorts } from './fan-out.js';
import type { Replica } from './replica.js';
import { QuorumAccumulator, readRepairPlan, type Answer } from './quorum.js';
import type { NodeEvent } from './node-api.js';
import type { RequestTargets } from './preference-targets.js';
import type { ReplyMessage } from './messages.js';
import type { RequestBody } from './request-table.js';
import type { NodeId, VersionSet } from './types.js';
import { mergeVersionSets } from './version-set.js';

/** What a coordinator needs from its node. */
export interface CoordinatorPorts extends FanOutPorts {
  self: NodeId;
  settings(): { replicaTimeoutMs: number; requestTimeoutMs: number; maxVersionSetBytes: number; maxClockEntries: number; hintedHandoff: boolean };
  /** Where requests for `key` go now. @throws NoReplicasError */
  targets(key: string): RequestTargets;
  /** False while the key's partition is still being received here (ownership handoff). */
  partitionComplete(key: string): boolean;
  replica: Replica;
  request(to: NodeId, body: RequestBody, timeoutMs: number): Promise<ReplyMessage>;
  now(): number;
  emit(event: NodeEvent): void;
  reportError(error: unknown, context: string): void;
}

/** What a coordinated read found. */
export interface GetOutcome {
  versions: VersionSet | undefined;
  answeredBy: NodeId[];
}

/** Coordinates reads of the keys this node is a replica of (or stands in for when none answers). */
export class GetCoordinator {
  getsCoordinated = 0;
  readRepairs = 0;

  constructor(private readonly ports: CoordinatorPorts) {}

  /**
   * Reads `key` from R targets within `timeoutMs`.
   * @throws NoReplicasError, QuorumNotReachedError, StorageError.
   */
  async coordinate(key: string, r: number, timeoutMs: number): Promise<GetOutcome> {
    const ports = this.ports;
    this.getsCoordinated++;
    const { targets, fallbacks } = ports.targets(key);
    // This node, when it is a target, is asked like the others: its read runs while the remote ones
    // travel (a failed local read is replaced by a fallback, as a silent replica would be).
    const accumulator = new QuorumAccumulator<VersionSet | undefined>('get', r, targets, fallbacks, ports.self);
    const { quorum, done } = fanOut(ports, accumulator, timeoutMs, (node) =>
      node === ports.self
        ? ports.replica.localState(key).then((value) => ({ value, complete: ports.partitionComplete(key) }))
        : ports.request(node, { type: 'replica-get', key }, replicaDeadlineMs(ports.settings().replicaTimeoutMs, timeoutMs)).then((reply) => {
            if (reply.type !== 'replica-get-reply') throw new RemoteError('UnexpectedReply', `${node} answered ${reply.type}`);
            return { value: reply.versions ?? undefined, complete: reply.complete ?? true };
          }),
    );
    const answers = await quorum;
    let versions: VersionSet | undefined;
    for (const { value } of answers.values()) if (value !== undefined) versions = versions === undefined ? value : mergeVersionSets(versions, value);
    const intended = new Map(targets.filter((t) => t.intendedFor !== undefined).map((t) => [t.node, t.intendedFor!]));
    void done.then((all) => this.readRepair(key, all, intended));
    return { versions, answeredBy: [...answers.keys()] };
  }

  /** Read repair (paper §5) once every target answered or failed. */
  private readRepair(key: string, answers: Map<NodeId, Answer<VersionSet | undefined>>, intended: Map<NodeId, NodeId>): void {
    const ports = this.ports;
    if (!ports.running()) return;
    const plan = readRepairPlan(answers, intended, ports.settings().maxVersionSetBytes);
    if (plan === undefined) return;
    this.readRepairs++;
    const { merged } = plan;
    const timeoutMs = ports.settings().requestTimeoutMs;
    for (const { node, intendedFor } of plan.stale) {
      if (node === ports.self) ports.replica.merge(key, merged).catch((error: unknown) => ports.reportError(error, `read repair of ${key}`));
      else if (intendedFor !== undefined) ports.request(node, { type: 'hinted-put', key, versions: merged, intendedFor }, timeoutMs).catch(() => undefined);
      else ports.request(node, { type: 'replica-put', key, versions: merged }, timeoutMs).catch(() => undefined);
    }
    ports.emit({ type: 'read-repair', key, replicas: plan.stale.map((s) => s.node) });
  }
}
