// A refresh that events ask for in bursts: one request at a time, and one more if asked again meanwhile.

/** `step` runs once per round and answers false to stop (it failed and said so). */
export function oneAtATime(step: () => Promise<boolean>): () => Promise<void> {
  let running: Promise<void> | null = null;
  let again = false;
  return async () => {
    if (running) {
      again = true;
      return running;
    }
    running = (async () => {
      do {
        again = false;
        if (!(await step())) return;
      } while (again);
    })().finally(() => { running = null; });
    return running;
  };
}
