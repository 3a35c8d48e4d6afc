import { createRequire } from 'node:module';
import type { AedesPersistence } from 'aedes-persistence';

/**
 * aedes' in-memory persistence with retained messages indexed by topic. The stock one answers
 * every SUBSCRIBE by testing the filter against every retained message; a fleet keeps one
 * retained state message per device, so 10,000 devices subscribing to their command topic and
 * to an artifact's manifest cost 10,000 x 10,000 topic matches. Here a filter without wildcards
 * is one map lookup, and one whose only wildcard is a trailing `+` (an artifact's `chunk/+`)
 * reads just the children of its parent topic. Other filters go to the stock scan, so what a
 * subscriber receives is unchanged.
 */

/** What this index reads of a retained PUBLISH (aedes' packet type is a union of all kinds). */
export interface Packet {
  topic: string;
  payload: Buffer | string;
}

interface AsyncMemoryPersistence {
  storeRetained(packet: Packet): Promise<void>;
  createRetainedStream(pattern: string): Iterable<Packet>;
  createRetainedStreamCombi(patterns: string[]): Iterable<Packet>;
}
type AsyncMemoryPersistenceClass = new (opts?: object) => AsyncMemoryPersistence;
type CallBackPersistenceClass = new (
  factory: (opts: object) => AsyncMemoryPersistence,
  opts?: object,
) => AedesPersistence;

// The package exports only the wrapped default; its two layers are plain CommonJS files.
const load = createRequire(__filename);
const MemoryPersistence = load(
  'aedes-persistence/asyncPersistence.js',
) as AsyncMemoryPersistenceClass;
const { CallBackPersistence } = load('aedes-persistence/callBackPersistence.js') as {
  CallBackPersistence: CallBackPersistenceClass;
};

/** Retained packets by topic, and topics by parent (all levels but the last). */
export class RetainedTopicIndex {
  private readonly byTopic = new Map<string, Packet>();
  private readonly byParent = new Map<string, Set<string>>();

  get size(): number {
    return this.byTopic.size;
  }

  store(packet: Packet): void {
    const { topic } = packet;
    const parent = parentOf(topic);
    if (packet.payload.length === 0) {
      this.byTopic.delete(topic);
      const siblings = this.byParent.get(parent);
      siblings?.delete(topic);
      if (siblings?.size === 0) this.byParent.delete(parent);
      return;
    }
    this.byTopic.set(topic, { ...packet });
    let siblings = this.byParent.get(parent);
    if (!siblings) this.byParent.set(parent, (siblings = new Set()));
    siblings.add(topic);
  }

  /** The retained packets a filter matches, or undefined when the filter needs the full scan. */
  match(filter: string): Packet[] | undefined {
    if (!/[+#]/.test(filter)) {
      const packet = this.byTopic.get(filter);
      return packet ? [packet] : [];
    }
    const parent = parentOf(filter);
    if (!filter.endsWith('/+') || parent === '' || /[+#]/.test(parent)) return undefined;
    const topics = this.byParent.get(parent);
    return topics ? [...topics].map((t) => this.byTopic.get(t)!) : [];
  }
}

function parentOf(topic: string): string {
  const slash = topic.lastIndexOf('/');
  return slash < 0 ? '' : topic.slice(0, slash);
}

class IndexedMemoryPersistence extends MemoryPersistence {
  private readonly index = new RetainedTopicIndex();

  override async storeRetained(packet: Packet): Promise<void> {
    this.index.store(packet);
    await super.storeRetained(packet);
  }

  override createRetainedStream(pattern: string): Iterable<Packet> {
    return this.index.match(pattern) ?? super.createRetainedStream(pattern);
  }

  override createRetainedStreamCombi(patterns: string[]): Iterable<Packet> {
    const matched = patterns.map((p) => this.index.match(p));
    if (matched.some((m) => m === undefined)) return super.createRetainedStreamCombi(patterns);
    return (matched as Packet[][]).flat();
  }
}

/** The persistence to hand `Aedes.createBroker` in place of its default. */
export function indexedRetainedPersistence(): AedesPersistence {
  return new CallBackPersistence((opts) => new IndexedMemoryPersistence(opts));
}
