/**
 * How an open connection's packets travel (issue 17), read from its peer connection's selected ICE
 * candidate pair (getStats, https://www.w3.org/TR/webrtc-stats/): directly, through a NAT, or relayed
 * by a TURN server. For diagnostics (the explorer, the benches); nothing decides on it.
 */
import type { NodeId } from '../core/types.js';

/**
 * How one open connection's packets travel: its selected candidate pair's local and remote types,
 * `host` (a local address), `srflx` / `prflx` (an address a NAT mapped, found through STUN or by the
 * other end), `relay` (through a TURN server).
 */
export interface ConnectionPath {
  node: NodeId;
  localType: RTCIceCandidateType;
  remoteType: RTCIceCandidateType;
  /** `udp` or `tcp`. */
  protocol: string;
  /** For a relayed local candidate: how it reaches the TURN server (`udp`, `tcp`, `tls`). */
  relayProtocol?: string;
  /** The pair's current round-trip time, ms (from STUN consent checks), when known. */
  rttMs?: number;
}

/**
 * The selected candidate pair of `pc` (a connection to `node`) as a {@link ConnectionPath}; undefined
 * when there is none yet, or getStats is missing or fails.
 */
export async function selectedPath(node: NodeId, pc: RTCPeerConnection | undefined): Promise<ConnectionPath | undefined> {
  if (pc === undefined || typeof pc.getStats !== 'function') return undefined;
  let report: RTCStatsReport;
  try {
    report = await pc.getStats();
  } catch {
    return undefined;
  }
  type Stat = Record<string, unknown> & { id: string; type: string };
  const stats = new Map<string, Stat>();
  report.forEach((stat: Stat) => stats.set(stat.id, stat));
  let pair: Stat | undefined;
  for (const stat of stats.values()) {
    if (stat.type === 'transport' && typeof stat.selectedCandidatePairId === 'string') pair = stats.get(stat.selectedCandidatePairId);
  }
  // Browsers without `selectedCandidatePairId`: the nominated pair that succeeded.
  pair ??= [...stats.values()].find((s) => s.type === 'candidate-pair' && s.nominated === true && s.state === 'succeeded');
  if (pair === undefined) return undefined;
  const local = stats.get(String(pair.localCandidateId));
  const remote = stats.get(String(pair.remoteCandidateId));
  if (local === undefined || remote === undefined) return undefined;
  const rtt = typeof pair.currentRoundTripTime === 'number' ? pair.currentRoundTripTime * 1000 : undefined;
  return {
    node,
    localType: local.candidateType as RTCIceCandidateType,
    remoteType: remote.candidateType as RTCIceCandidateType,
    protocol: String(local.protocol ?? ''),
    ...(typeof local.relayProtocol === 'string' ? { relayProtocol: local.relayProtocol } : {}),
    ...(rtt !== undefined ? { rttMs: rtt } : {}),
  };
}
