/** A task run every so often on a timer that never holds the process open. */
export interface PeriodicTask {
  /** Cancels the timer and waits for a run under way. */
  stop(): Promise<void>;
}

/**
 * Runs `task` every `intervalMs`, one run at a time (a tick while one runs is skipped). A failure goes to `onError`
 * and the next tick runs as usual.
 */
export function runPeriodically(task: () => Promise<void>, intervalMs: number, onError: (error: unknown) => void): PeriodicTask {
  let running: Promise<void> | undefined;
  const timer = setInterval(() => {
    if (running) return;
    running = task()
      .catch(onError)
      .finally(() => {
        running = undefined;
      });
  }, intervalMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
