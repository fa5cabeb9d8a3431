import os from 'node:os';

export interface WorkQueueLimits {
  /** Tasks that may run at once. */
  concurrency: number;
  /** Admissions beyond `concurrency` that may be out at once (waiting for a slot, or between their tasks). */
  queueLimit: number;
}

/** One admitted caller's place: its tasks wait for a free slot, and `release` gives the place back. */
export interface Admission {
  run<T>(task: () => Promise<T>): Promise<T>;
  release(): void;
}

/**
 * A bound on CPU-heavy work that runs in libuv's thread pool: at most `concurrency` tasks run at once, and at most
 * `concurrency + queueLimit` callers are admitted at once. A caller is admitted (or refused at once) before it
 * starts, so a refusal costs nothing and a queue never grows without bound; an admitted caller may run several
 * tasks one after another under the same place in line.
 */
export class WorkQueue {
  #limits: WorkQueueLimits;
  #admitted = 0;
  #running = 0;
  readonly #waiting: Array<() => void> = [];

  constructor(limits: WorkQueueLimits) {
    this.#limits = { ...limits };
  }

  /** Changes the limits; callers already admitted keep their places, and waiting tasks start if slots opened. */
  configure(limits: WorkQueueLimits): void {
    this.#limits = { ...limits };
    while (this.#running < this.#limits.concurrency && this.#waiting.length > 0) {
      this.#running++;
      this.#waiting.shift()!();
    }
  }

  get load(): { admitted: number; running: number; waiting: number } {
    return { admitted: this.#admitted, running: this.#running, waiting: this.#waiting.length };
  }

  /** Admits one caller, or returns undefined when `concurrency + queueLimit` callers are already admitted. */
  tryAdmit(): Admission | undefined {
    if (this.#admitted >= this.#limits.concurrency + this.#limits.queueLimit) return undefined;
    this.#admitted++;
    let released = false;
    return {
      run: (task) => {
        if (released) return Promise.reject(new Error('This admission was already released.'));
        return this.#run(task);
      },
      release: () => {
        if (released) return;
        released = true;
        this.#admitted--;
      },
    };
  }

  async #run<T>(task: () => Promise<T>): Promise<T> {
    // A finishing task hands its slot straight to the next waiter, so `#running` only counts down when none waits.
    if (this.#running < this.#limits.concurrency) this.#running++;
    else await new Promise<void>((resolve) => this.#waiting.push(resolve));
    try {
      return await task();
    } finally {
      if (this.#running > this.#limits.concurrency) this.#running--;
      else {
        const next = this.#waiting.shift();
        if (next) next();
        else this.#running--;
      }
    }
  }
}

/**
 * How many CPU-heavy tasks to run at once by default: half the cores, and always fewer than libuv's thread pool
 * (UV_THREADPOOL_SIZE, 4 by default) holds, so file, DNS and WebCrypto work still finds a free thread.
 */
export function defaultCpuConcurrency(): number {
  const poolSize = Number(process.env.UV_THREADPOOL_SIZE) || 4;
  return Math.max(1, Math.min(Math.floor(os.availableParallelism() / 2), poolSize - 1));
}
