// A typed event bus whose listeners are isolated: one that throws is logged and cannot stop the others.
import { EngineEvents } from './contract';
import { Logger } from './log';

type Listener<K extends keyof EngineEvents> = (payload: EngineEvents[K]) => void;

export class EventBus {
  private readonly listeners = new Map<keyof EngineEvents, Set<Listener<keyof EngineEvents>>>();

  constructor(private readonly log: Logger) {}

  on<K extends keyof EngineEvents>(event: K, listener: Listener<K>): () => void {
    const set = this.listeners.get(event) ?? new Set();
    set.add(listener as Listener<keyof EngineEvents>);
    this.listeners.set(event, set);
    return () => set.delete(listener as Listener<keyof EngineEvents>);
  }

  emit<K extends keyof EngineEvents>(event: K, payload: EngineEvents[K]): void {
    for (const l of this.listeners.get(event) ?? []) {
      try {
        l(payload);
      } catch (err) {
        this.log('warn', 'event listener failed', { event, error: String(err) });
      }
    }
  }
}
