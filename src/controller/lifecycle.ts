// The order the daemon's parts start and stop in: a list of named stages, started in order and
// stopped in reverse, so what feeds a part stops before it and what reports on it (HTTP) last.
import type { Logger } from '../logger.js';

export interface Stage<StopContext> {
  name: string;
  start?: () => void | Promise<void>;
  stop?: (context: StopContext) => void | Promise<void>;
}

export class Lifecycle<StopContext> {
  private started: Stage<StopContext>[] = [];

  constructor(
    private readonly stages: readonly Stage<StopContext>[],
    private readonly log: Logger,
  ) {}

  /** The stage names in start order (stop is the reverse). */
  get order(): string[] {
    return this.stages.map((s) => s.name);
  }

  /** Starts every stage in order; when one fails, stops those already started and rethrows. */
  async start(context: StopContext): Promise<void> {
    for (const stage of this.stages) {
      try {
        await stage.start?.();
      } catch (err) {
        await this.stop(context);
        throw err;
      }
      this.started.push(stage);
    }
  }

  /** Stops the started stages in reverse order. Never throws: a failing stage is logged and passed. */
  async stop(context: StopContext): Promise<void> {
    for (const stage of this.started.splice(0).reverse()) {
      try {
        await stage.stop?.(context);
      } catch (err) {
        this.log.error({ err, stage: stage.name }, `error stopping ${stage.name}`);
      }
    }
  }
}
