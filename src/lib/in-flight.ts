/**
 * The work a server is doing on behalf of its clients (HTTP requests, REST handlers, GraphQL operations over every
 * transport), so shutdown can wait for it to finish before closing what it uses, even when the client that asked
 * for it has gone away.
 */
export class InFlightWork {
  readonly #running = new Set<Promise<unknown>>();

  get size(): number {
    return this.#running.size;
  }

  /** Counts `work` as running until it settles, and returns it unchanged. */
  track<T>(work: Promise<T>): Promise<T> {
    const settled = work.then(
      () => undefined,
      () => undefined,
    );
    this.#running.add(settled);
    void settled.then(() => this.#running.delete(settled));
    return work;
  }

  /** Resolves true once nothing is running (work started meanwhile included), or false at `deadline`. */
  async idle(deadline: Promise<unknown>): Promise<boolean> {
    let expired = false;
    void deadline.then(() => (expired = true));
    while (this.#running.size > 0 && !expired) {
      await Promise.race([Promise.all(this.#running), deadline]);
    }
    return this.#running.size === 0;
  }
}
