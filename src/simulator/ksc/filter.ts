/**
 * KSC's search filter syntax ("resembling RFC 2254"), the subset the simulator needs to be strict
 * about what it is sent:
 *
 *   filter     = "(" ( "&" filter+ | "|" filter+ | "!" filter | comparison ) ")"
 *   comparison = attribute ( "=" | "<>" | "<" | "<=" | ">" | ">=" ) value
 *   value      = integer | "true" | "false" | string | 'T' string     (T"2024-05-01 10:00:00" is a time)
 *   string     = '"' ( any character but '"' and '\' | '\' any character )* '"'
 *
 * In `=` and `<>` a `*` in a string is a wildcard. String comparisons ignore case, as KSC's do.
 */
export type FilterValue = string | number | boolean | Date;
export type FilterOp = '=' | '<>' | '<' | '<=' | '>' | '>=';
export type FilterNode =
  | { kind: 'and' | 'or'; children: FilterNode[] }
  | { kind: 'not'; child: FilterNode }
  | { kind: 'cmp'; attribute: string; op: FilterOp; value: FilterValue };

export class FilterSyntaxError extends Error {}

export function parseFilter(text: string): FilterNode | null {
  const trimmed = text.trim();
  if (trimmed === '') return null;
  const parser = new Parser(trimmed);
  const node = parser.filter();
  parser.skipSpace();
  if (!parser.done()) throw new FilterSyntaxError(`unexpected ${JSON.stringify(trimmed.slice(parser.pos, parser.pos + 10))} at position ${parser.pos} of the filter`);
  return node;
}

/** The attributes a filter names, for checking them against the known ones. */
export function filterAttributes(node: FilterNode | null, into = new Set<string>()): Set<string> {
  if (!node) return into;
  if (node.kind === 'cmp') into.add(node.attribute);
  else if (node.kind === 'not') filterAttributes(node.child, into);
  else for (const child of node.children) filterAttributes(child, into);
  return into;
}

export type FilterPredicate = (record: Readonly<Record<string, unknown>>) => boolean;

export function matchesFilter(node: FilterNode | null, record: Readonly<Record<string, unknown>>): boolean {
  return compileFilter(node)(record);
}

/**
 * The filter as a predicate, compiled once per query: wildcards become one RegExp each, and an OR of
 * exact string equalities on one attribute (`(|(HostId = "a")(HostId = "b")...)`) becomes a set
 * lookup, so a long OR costs the same per record as a short one.
 */
export function compileFilter(node: FilterNode | null): FilterPredicate {
  if (!node) return () => true;
  switch (node.kind) {
    case 'and': {
      const children = node.children.map(compileFilter);
      return (r) => children.every((c) => c(r));
    }
    case 'or': {
      const first = node.children[0];
      const exact = node.children.every((c) => c.kind === 'cmp' && c.op === '=' && typeof c.value === 'string' && !c.value.includes('*') && first?.kind === 'cmp' && c.attribute === first.attribute);
      if (exact && first?.kind === 'cmp') {
        const values = new Set(node.children.map((c) => (c as { value: string }).value.toLowerCase()));
        const attribute = first.attribute;
        return (r) => values.has(textOf(r[attribute] ?? '').toLowerCase());
      }
      const children = node.children.map(compileFilter);
      return (r) => children.some((c) => c(r));
    }
    case 'not': {
      const child = compileFilter(node.child);
      return (r) => !child(r);
    }
    case 'cmp': {
      const { attribute, op, value } = node;
      const pattern = typeof value === 'string' && (op === '=' || op === '<>') ? wildcard(value) : null;
      return (r) => compare(r[attribute], op, value, pattern);
    }
  }
}

function compare(actual: unknown, op: FilterOp, expected: FilterValue, pattern: RegExp | null): boolean {
  if (actual === undefined || actual === null) actual = typeof expected === 'string' ? '' : null;
  if (actual === null) return op === '<>';
  if (pattern) {
    const equal = pattern.test(textOf(actual));
    return op === '=' ? equal : !equal;
  }
  const a = normalise(actual);
  const b = normalise(expected);
  if (typeof a !== typeof b) return op === '<>';
  switch (op) {
    case '=':
      return a === b;
    case '<>':
      return a !== b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
  }
}

function textOf(value: unknown): string {
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  return JSON.stringify(value) ?? '';
}

function normalise(value: unknown): number | string {
  if (value instanceof Date) return value.getTime();
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number') return value;
  return textOf(value).toLowerCase();
}

function wildcard(pattern: string): RegExp {
  const escaped = pattern.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*');
  return new RegExp(`^${escaped}$`, 'is');
}

class Parser {
  pos = 0;
  constructor(private readonly text: string) {}

  done(): boolean {
    return this.pos >= this.text.length;
  }

  skipSpace(): void {
    while (!this.done() && /\s/.test(this.text[this.pos]!)) this.pos += 1;
  }

  expect(ch: string): void {
    this.skipSpace();
    if (this.text[this.pos] !== ch) throw new FilterSyntaxError(`expected "${ch}" at position ${this.pos} of the filter; found ${this.done() ? 'the end' : JSON.stringify(this.text[this.pos])}`);
    this.pos += 1;
  }

  filter(): FilterNode {
    this.expect('(');
    this.skipSpace();
    const ch = this.text[this.pos];
    let node: FilterNode;
    if (ch === '&' || ch === '|') {
      this.pos += 1;
      const children: FilterNode[] = [];
      this.skipSpace();
      while (this.text[this.pos] === '(') {
        children.push(this.filter());
        this.skipSpace();
      }
      if (children.length === 0) throw new FilterSyntaxError(`"${ch}" at position ${this.pos - 1} has no operands`);
      node = { kind: ch === '&' ? 'and' : 'or', children };
    } else if (ch === '!') {
      this.pos += 1;
      node = { kind: 'not', child: this.filter() };
    } else {
      node = this.comparison();
    }
    this.expect(')');
    return node;
  }

  comparison(): FilterNode {
    this.skipSpace();
    const start = this.pos;
    while (!this.done() && /[A-Za-z0-9_]/.test(this.text[this.pos]!)) this.pos += 1;
    const attribute = this.text.slice(start, this.pos);
    if (!attribute) throw new FilterSyntaxError(`expected an attribute name at position ${start} of the filter`);
    this.skipSpace();
    const two = this.text.slice(this.pos, this.pos + 2);
    let op: FilterOp;
    if (two === '<>' || two === '<=' || two === '>=') {
      op = two;
      this.pos += 2;
    } else if (['=', '<', '>'].includes(this.text[this.pos]!)) {
      op = this.text[this.pos] as '=' | '<' | '>';
      this.pos += 1;
    } else throw new FilterSyntaxError(`expected a comparison after ${attribute} at position ${this.pos} of the filter`);
    this.skipSpace();
    return { kind: 'cmp', attribute, op, value: this.value() };
  }

  value(): FilterValue {
    const ch = this.text[this.pos];
    if (ch === '"') return this.string();
    if (ch === 'T' && this.text[this.pos + 1] === '"') {
      this.pos += 1;
      const text = this.string();
      const date = new Date(`${text.replace(' ', 'T')}Z`);
      if (Number.isNaN(date.getTime())) throw new FilterSyntaxError(`T"${text}" is not a time`);
      return date;
    }
    const start = this.pos;
    while (!this.done() && /[A-Za-z0-9_\-.]/.test(this.text[this.pos]!)) this.pos += 1;
    const word = this.text.slice(start, this.pos);
    if (/^-?\d+$/.test(word)) return Number(word);
    if (word === 'true' || word === 'false') return word === 'true';
    throw new FilterSyntaxError(`expected a value at position ${start} of the filter; found ${JSON.stringify(word || this.text.slice(start, start + 10))}`);
  }

  string(): string {
    this.pos += 1;
    let out = '';
    while (!this.done() && this.text[this.pos] !== '"') {
      if (this.text[this.pos] === '\\') this.pos += 1;
      if (this.done()) break;
      out += this.text[this.pos];
      this.pos += 1;
    }
    if (this.done()) throw new FilterSyntaxError('unterminated string in the filter');
    this.pos += 1;
    return out;
  }
}
