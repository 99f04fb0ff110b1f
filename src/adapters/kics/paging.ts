import type { z } from 'zod';
import { kicsLimits, type QueryFilter } from '../../model/kics.js';
import { KicsApiError, describeEndpoint } from './errors.js';
import type { KicsHttp } from './http.js';
import type { KicsRouteName } from './routes.js';
import { pageSchema } from './schemas.js';

/**
 * Reading a whole query endpoint page by page, so that nothing is missed or read twice while KICS
 * changes underneath.
 *
 * The reference describes `offset` two ways: the endpoints "return a specified number of devices
 * starting from a certain offset (but not including device with specified offset)", while the
 * `offset` member is the "0-based index of the item in the full list where the results must begin".
 * Measured against the simulator (test/adapters/kics/paging.test.ts): `offset: n` answers the match
 * with 0-based index n first, i.e. the n-th item counted from 1 is the last one *not* included; the
 * two wordings agree. Paging by offset is still wrong while KICS changes: a device created or deleted
 * before the reader's position shifts every later offset by one, so a device is read twice or never.
 *
 * So pages are keyed by id instead: sorted by `Id` ascending, `offset: 0`, and `Id > <last id of the
 * previous page>` added to the filter. A device deleted meanwhile simply is not there; one created
 * meanwhile has a higher id and is read if it matches; every device that exists from the start to the
 * end of the read is read exactly once. The next page is requested while the caller works on the
 * current one (the id it starts after is known as soon as a page arrives).
 */

export interface Page<T> {
  values: T[];
  /** KICS's clock when it answered this page (`Date` header). */
  serverDate: Date | null;
}

export interface PagingOptions {
  filter?: QueryFilter;
  /** Items per page, 1..1000 (default 1000, KICS's maximum). */
  pageSize?: number;
  /**
   * Id ranges read side by side (default 1). With more than one, the ids up to the current highest are
   * split into that many ranges, each paged as above (the last one open-ended, for devices created
   * meanwhile), and pages come in the order they arrive, not in id order: KICS answers one range while
   * the caller works on another's page.
   */
  streams?: number;
  signal?: AbortSignal | undefined;
}

interface Cursor {
  /** The last id read in this range. */
  after: number;
  /** The range's upper bound (inclusive); null for the last, open-ended range. */
  upTo: number | null;
}

export async function* pagesById<S extends z.ZodType<{ id: number }>>(http: KicsHttp, route: KicsRouteName, item: S, options: PagingOptions = {}): AsyncGenerator<Page<z.infer<S>>> {
  const pageSize = options.pageSize ?? kicsLimits.maxQueryLimit;
  if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > kicsLimits.maxQueryLimit) throw new RangeError(`pageSize must be 1..${kicsLimits.maxQueryLimit}; found ${pageSize}`);
  const schema = pageSchema(item);
  const endpoint = http.endpoint(route);
  // Stops prefetched pages when the caller stops reading.
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const query = async (filter: QueryFilter, sort: 'Asc' | 'Desc', limit: number) =>
    http.call({ route, json: { filter, sort: [{ column: 'Id', direction: sort }], offset: 0, limit }, schema, safety: 'repeatable', signal });

  const fetch = async (cursor: Cursor): Promise<Page<z.infer<S>>> => {
    const bounds: QueryFilter = [{ field: 'Id', condition: '>', value: cursor.after }];
    if (cursor.upTo !== null) bounds.push({ field: 'Id', condition: '<=', value: cursor.upTo });
    const answer = await query([...(options.filter ?? []), ...bounds], 'Asc', pageSize);
    const values = answer.value.values as z.infer<S>[];
    let previous = cursor.after;
    for (const [i, value] of values.entries()) {
      if (value.id <= previous || (cursor.upTo !== null && value.id > cursor.upTo)) {
        // A server that ignored the Id filter or the sort would make this loop forever or skip items.
        const from = cursor.after < 0 ? 'from the first id' : `after ${cursor.after}`;
        const range = cursor.upTo === null ? from : `${from} up to ${cursor.upTo}`;
        throw new KicsApiError(`${describeEndpoint(endpoint)}: values[${i}] has id ${value.id} after id ${previous}; a page sorted by Id ${range} was expected`, {
          code: 'KICS_BAD_RESPONSE',
          endpoint,
          status: answer.status,
        });
      }
      previous = value.id;
    }
    return { values, serverDate: answer.serverDate };
  };

  // Ids start at 0 for address spaces (the document: "integer >= 0"), at 1 for devices: the first page is of ids above -1.
  let cursors: Cursor[] = [{ after: -1, upTo: null }];
  const streams = Math.max(1, Math.floor(options.streams ?? 1));
  if (streams > 1) {
    const top = (await query(options.filter ?? [], 'Desc', 1)).value.values[0] as { id: number } | undefined;
    const ranges = top ? Math.min(streams, Math.ceil(top.id / pageSize)) : 1;
    if (ranges > 1) cursors = Array.from({ length: ranges }, (_, i) => ({ after: i === 0 ? -1 : Math.floor((top!.id * i) / ranges), upTo: i === ranges - 1 ? null : Math.floor((top!.id * (i + 1)) / ranges) }));
  }

  const inFlight = new Map<Cursor, Promise<[Cursor, Page<z.infer<S>>]>>();
  const request = (cursor: Cursor): void => {
    const next = fetch(cursor).then((page): [Cursor, Page<z.infer<S>>] => [cursor, page]);
    next.catch(() => {});
    inFlight.set(cursor, next);
  };
  try {
    for (const cursor of cursors) request(cursor);
    while (inFlight.size > 0) {
      const [cursor, page] = await Promise.race(inFlight.values());
      inFlight.delete(cursor);
      const last = page.values.at(-1);
      // The next page of this range is asked for before the caller sees this one.
      if (last && page.values.length >= pageSize) {
        cursor.after = last.id;
        request(cursor);
      }
      yield page;
    }
  } finally {
    stop.abort();
  }
}
