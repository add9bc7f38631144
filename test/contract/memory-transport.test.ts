/**
 * The Transport contract (transport-contract.ts) against the in-memory network (src/net/memory-network.ts)
 * on a calm setting: no loss, no duplication, and one fixed delay, so that nothing reorders (the
 * simulation turns reordering on with a spread between the delay bounds).
 */
import { MemoryNetwork } from '../../src/net/memory-network.js';
import type { NodeId } from '../../src/core/types.js';
import { runTransportContract, type TransportEndpoint, type TransportNetwork } from './transport-contract.js';

/** Virtual time: tasks ordered by (time, sequence), run by `settle`. */
class VirtualTime {
  nowMs = 0;
  private seq = 0;
  private readonly tasks: { atMs: number; seq: number; run: () => void }[] = [];

  schedule(delayMs: number, run: () => void): void {
    this.tasks.push({ atMs: this.nowMs + delayMs, seq: this.seq++, run });
    this.tasks.sort((x, y) => x.atMs - y.atMs || x.seq - y.seq);
  }

  runAll(): void {
    for (let task = this.tasks.shift(); task !== undefined; task = this.tasks.shift()) {
      this.nowMs = task.atMs;
      task.run();
    }
  }
}

runTransportContract('MemoryNetwork', async () => {
  const time = new VirtualTime();
  let draws = 0;
  // The network draws for loss, duplication and delay; with no faults the values do not matter.
  const random = { next: (): number => (draws++ * 0.618) % 1 };
  const network = new MemoryNetwork((delayMs, run) => time.schedule(delayMs, run), random, {
    lossProbability: 0,
    duplicateProbability: 0,
    delayMinMs: 2,
    delayMaxMs: 2,
  });
  const fixture: TransportNetwork = {
    async join(id: NodeId): Promise<TransportEndpoint> {
      const inbox: TransportEndpoint['inbox'] = [];
      const transport = network.attach(id, (from, message) => inbox.push({ from, message }));
      return { id, transport, inbox };
    },
    async leave(id) {
      network.detach(id);
    },
    async settle() {
      time.runAll();
    },
    sendUndecodable(from, to) {
      // 0xc1 is the one byte MessagePack never uses.
      network.sendBytes(from, to, Uint8Array.of(0xc1));
    },
    async close() {},
  };
  return fixture;
});
