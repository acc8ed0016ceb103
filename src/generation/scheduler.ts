/**
 * Timing helpers shared by inline completions, commands and surprisal highlighting. They do not
 * depend on the editor, so they are unit-tested in plain Node.
 */

/** Waits `ms`; resolves false early when `signal` aborts. */
export function delay(ms: number, signal?: AbortSignal): Promise<boolean> {
  return new Promise((resolve) => {
    if (signal?.aborted) {
      resolve(false);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      resolve(false);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve(true);
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/** Who asks: a command outranks an inline completion, which outranks background scoring (surprisal highlighting). */
export type GenerationKind = 'background' | 'inline' | 'command';

const PRIORITY: Record<GenerationKind, number> = { background: 0, inline: 1, command: 2 };

export interface GenerationLease {
  readonly kind: GenerationKind;
  readonly label: string;
  readonly signal: AbortSignal;
  /** Ends the lease; call it exactly once, when the engine call has settled. */
  release(): void;
}

export interface GateState {
  readonly busy: boolean;
  readonly kind?: GenerationKind;
  readonly label?: string;
}

interface Running {
  readonly lease: GenerationLease;
  readonly controller: AbortController;
  readonly settled: Promise<void>;
}

/**
 * Lets at most one generation run at a time. A new request aborts the running one and waits for
 * it to settle before it starts, unless the running one has a higher priority: then the new
 * request is dropped (an inline completion never interrupts a command). A request that is itself
 * superseded while waiting gets no lease.
 */
export class GenerationGate {
  private running: Running | undefined;
  private ticket = 0;

  constructor(private readonly onChange: (state: GateState) => void = () => {}) {}

  get state(): GateState {
    const lease = this.running?.lease;
    return lease ? { busy: true, kind: lease.kind, label: lease.label } : { busy: false };
  }

  async acquire(kind: GenerationKind, label: string, signal?: AbortSignal): Promise<GenerationLease | undefined> {
    const ticket = ++this.ticket;
    while (this.running) {
      const current = this.running;
      if (PRIORITY[kind] < PRIORITY[current.lease.kind]) return undefined;
      current.controller.abort();
      await current.settled;
      if (ticket !== this.ticket || signal?.aborted) return undefined;
    }
    if (signal?.aborted) return undefined;
    const controller = new AbortController();
    const onOuterAbort = (): void => controller.abort();
    signal?.addEventListener('abort', onOuterAbort, { once: true });
    let settle!: () => void;
    const settled = new Promise<void>((resolve) => (settle = resolve));
    let released = false;
    const lease: GenerationLease = {
      kind,
      label,
      signal: controller.signal,
      release: () => {
        if (released) return;
        released = true;
        signal?.removeEventListener('abort', onOuterAbort);
        if (this.running?.lease === lease) this.running = undefined;
        settle();
        this.onChange(this.state);
      },
    };
    this.running = { lease, controller, settled };
    this.onChange(this.state);
    return lease;
  }

  /** Aborts the running generation, if any. Returns whether one was running. */
  stop(): boolean {
    if (!this.running) return false;
    this.running.controller.abort();
    return true;
  }
}

/** Runs `action` once, `ms` after the last `trigger()`; a trigger while it runs queues one more run. */
export class Debouncer {
  private timer: ReturnType<typeof setTimeout> | undefined;
  private runningAction: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly action: () => Promise<void> | void,
    private readonly ms: () => number,
  ) {}

  trigger(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.fire();
    }, this.ms());
  }

  cancel(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.again = false;
  }

  /** Resolves when no run is pending or in progress (for tests). */
  async idle(): Promise<void> {
    while (this.timer || this.runningAction) {
      await (this.runningAction ?? delay(5));
    }
  }

  private async fire(): Promise<void> {
    if (this.runningAction) {
      this.again = true;
      return;
    }
    this.runningAction = (async () => {
      try {
        await this.action();
      } catch {
        // The action reports its own errors.
      }
    })();
    await this.runningAction;
    this.runningAction = undefined;
    if (this.again) {
      this.again = false;
      void this.fire();
    }
  }
}
