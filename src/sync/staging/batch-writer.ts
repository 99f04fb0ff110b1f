/**
 * Writes that run behind a read, one after the other: a batch is written while the next one is read
 * and prepared. `push()` returns once fewer than `maxQueued` batches are queued (2: the previous write
 * is done and this one is in flight), so memory stays bounded whatever the size of the source.
 */
export class BatchWriter<Batch> {
  private chain: Promise<void> = Promise.resolve();
  private readonly queued: Promise<void>[] = [];

  constructor(
    private readonly write: (batch: Batch) => Promise<void>,
    private readonly maxQueued: number,
  ) {}

  async push(batch: Batch): Promise<void> {
    const done = this.chain.then(() => this.write(batch));
    // Seen by drain() or the next push; until then a failure must not count as unhandled.
    done.catch(() => {});
    this.chain = done;
    this.queued.push(done);
    while (this.queued.length >= this.maxQueued) await this.queued.shift();
  }

  /** Waits for every queued write; throws the first failure. */
  async drain(): Promise<void> {
    this.queued.length = 0;
    await this.chain;
  }
}
