import { stringify } from 'csv-stringify/sync';
import type { PlanHeader, PlanItem } from '../plan-schema.js';
import { changeRows, sourcesText, spaceNames, type PlanItems } from './display.js';

/**
 * The CSV report: one row per item, safe to open in Excel (UTF-8 BOM). csv-stringify's `escape_formulas`
 * prefixes a cell starting with = + - @ tab or CR (and their full-width forms) with a quote, so no cell
 * is ever read as a formula; `quoted_match` quotes every cell holding a CR or LF, which csv-stringify
 * leaves bare when the record delimiter is CRLF, so a bare LF in a name can neither split a row nor
 * start a line with a formula in a reader that ends rows at any line break.
 */
const columns = ['seq', 'action', 'status', 'kics_device_id', 'device_name', 'address_space_id', 'address_space', 'owner', 'sources', 'match_keys', 'changed_fields', 'changes', 'reason', 'conflict_kind', 'last_error'];

const options = { escape_formulas: true, record_delimiter: 'windows', quoted_match: /[\r\n]/ } as const;

function row(item: PlanItem, spaces: ReadonlyMap<number, string>): (string | number)[] {
  const changes = changeRows(item);
  return [
    item.seq,
    item.action,
    item.status,
    item.kicsDeviceId ?? '',
    item.deviceName ?? '',
    item.addressSpaceId ?? '',
    item.addressSpaceId === null ? '' : (spaces.get(item.addressSpaceId) ?? ''),
    item.owner ?? '',
    sourcesText(item),
    item.matchKeys.map((k) => `${k.kind}:${k.space ?? '-'}:${k.value}`).join(' '),
    changes.map(([f]) => f).join(' '),
    changes.map(([f, b, a]) => `${f}: ${b} -> ${a}`).join('\n'),
    item.reason ?? '',
    item.conflict?.kind ?? '',
    item.lastError ?? '',
  ];
}

export async function* renderCsv(header: PlanHeader, items: PlanItems): AsyncGenerator<string> {
  const spaces = spaceNames(header);
  yield `\uFEFF${stringify([columns], options)}`;
  let batch: (string | number)[][] = [];
  for await (const item of items) {
    batch.push(row(item, spaces));
    if (batch.length >= 1000) {
      yield stringify(batch, options);
      batch = [];
    }
  }
  if (batch.length > 0) yield stringify(batch, options);
}
