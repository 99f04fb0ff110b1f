import type { Logger } from '../../log.js';
import type { KscClient } from './client.js';
import { KscError } from './errors.js';
import type { KscParams } from './params.js';

/** KSC keeps a result-set at most this long after its last use (`lMaxLifeTime` is capped at 7200 s). */
export const maxResultSetLifetimeSeconds = 7200;

/**
 * Reads a server-side result-set (`ChunkAccessor`) chunk by chunk and always releases it, also when
 * the reader stops early or fails: a forgotten accessor holds memory on the KSC server until it expires.
 */
export async function* readChunkAccessor(client: KscClient, accessor: string, options: { chunkSize: number; signal?: AbortSignal | undefined; logger?: Logger }): AsyncGenerator<KscParams[]> {
  try {
    const count = await client.call('ChunkAccessor.GetItemsCount', { strAccessor: accessor }, { signal: options.signal });
    const total = typeof count.retval === 'number' ? count.retval : 0;
    for (let start = 0; start < total; start += options.chunkSize) {
      const chunk = await client.call('ChunkAccessor.GetItemsChunk', { strAccessor: accessor, nStart: start, nCount: options.chunkSize }, { signal: options.signal });
      const items = iteratorArray(chunk.out.pChunk, 'ChunkAccessor.GetItemsChunk', 'pChunk');
      if (items.length === 0) break;
      yield items;
    }
  } finally {
    await release(client, 'ChunkAccessor.Release', { strAccessor: accessor }, options.logger);
  }
}

/** The same for a `SrvView` iterator (`GetRecordRange` takes [start, end), then `ReleaseIterator`). */
export async function* readSrvView(client: KscClient, iterator: string, options: { chunkSize: number; signal?: AbortSignal | undefined; logger?: Logger }): AsyncGenerator<KscParams[]> {
  try {
    const count = await client.call('SrvView.GetRecordCount', { wstrIteratorId: iterator }, { signal: options.signal });
    const total = typeof count.retval === 'number' ? count.retval : 0;
    for (let start = 0; start < total; start += options.chunkSize) {
      const range = await client.call('SrvView.GetRecordRange', { wstrIteratorId: iterator, nStart: start, nEnd: Math.min(total, start + options.chunkSize) }, { signal: options.signal });
      const items = iteratorArray(range.out.pRecords, 'SrvView.GetRecordRange', 'pRecords');
      if (items.length === 0) break;
      yield items;
    }
  } finally {
    await release(client, 'SrvView.ReleaseIterator', { wstrIteratorId: iterator }, options.logger);
  }
}

async function release(client: KscClient, method: string, args: Record<string, string>, logger: Logger | undefined): Promise<void> {
  try {
    await client.call(method, args, { signal: AbortSignal.timeout(10_000) });
  } catch (error) {
    // Not fatal: KSC frees the result-set itself when its lifetime ends.
    logger?.warn({ method, err: (error as Error).message }, 'could not release a KSC result-set; KSC frees it when its lifetime ends');
  }
}

/** The `KLCSP_ITERATOR_ARRAY` of a chunk container, each element decoded. */
function iteratorArray(container: unknown, method: string, name: string): KscParams[] {
  if (container === undefined || container === null) throw new KscError(`KSC ${method} answered without ${name}`, { code: 'KSC_BAD_RESPONSE' });
  const items = (container as KscParams).KLCSP_ITERATOR_ARRAY;
  if (items === undefined || items === null) return [];
  if (!Array.isArray(items)) throw new KscError(`KSC ${method}: ${name}.KLCSP_ITERATOR_ARRAY is not an array`, { code: 'KSC_BAD_RESPONSE' });
  return items.map((item, i) => {
    if (item === null || typeof item !== 'object' || Array.isArray(item) || item instanceof Date || item instanceof Uint8Array) {
      throw new KscError(`KSC ${method}: element ${i} of ${name}.KLCSP_ITERATOR_ARRAY is not a params container`, { code: 'KSC_BAD_RESPONSE' });
    }
    return item;
  });
}
