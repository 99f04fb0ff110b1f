import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError, errorMessage } from '../errors.js';
import { configSchema, type Config } from './schema.js';

export const defaultConfigFile = 'kics-sync.yaml';

export interface LoadConfigOptions {
  /** Explicit path (`--config`); otherwise KICS_SYNC_CONFIG, otherwise ./kics-sync.yaml if it exists. */
  file?: string | undefined;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface LoadedConfig {
  config: Config;
  /** The file read, or null when none exists and the defaults are used. */
  file: string | null;
}

/**
 * Reads, interpolates and validates the configuration. Relative paths in the file are resolved
 * against the file's folder, so a config works from any working directory.
 */
export async function loadConfig(options: LoadConfigOptions = {}): Promise<LoadedConfig> {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const explicit = options.file ?? env.KICS_SYNC_CONFIG;
  const file = path.resolve(cwd, explicit ?? defaultConfigFile);

  let text: string | null;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' && explicit === undefined) text = null;
    else throw new ConfigError(`cannot read config file ${file}: ${code === 'ENOENT' ? 'no such file' : (error as Error).message}`, { cause: error, details: { file } });
  }

  if (text === null) return { config: parseConfig({}, { env, baseDir: cwd, file: null, deferUnset: true }), file: null };
  // `${NAME}` may stand anywhere, even where YAML would not allow `${` (a flow map such as
  // `{ password: ${PW} }`). Each one becomes a plain token before parsing and its value is put back
  // into the parsed strings, so no value from the environment can change the document's structure.
  const references: Reference[] = [];
  const protectedText = text.replace(referencePattern, (match, name: string, fallback: string | undefined) => {
    if (match.startsWith('$$')) return match;
    references.push({ name, fallback });
    return `${tokenPrefix}${references.length - 1}${tokenSuffix}`;
  });
  const doc = parseDocument(protectedText, { prettyErrors: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0]!;
    const where = first.linePos?.[0] ? `${file}:${first.linePos[0].line}:${first.linePos[0].col}` : file;
    throw new ConfigError(`${where}: not valid YAML: ${first.message.split('\n')[0]}`, { details: { file } });
  }
  let raw: unknown;
  try {
    // yaml refuses a document whose aliases would expand beyond `maxAliasCount` (an alias bomb).
    raw = doc.toJS() ?? {};
  } catch (error) {
    throw new ConfigError(`${file}: not usable YAML: ${errorMessage(error)}`, { cause: error, details: { file } });
  }
  return { config: parseConfig(raw, { env, baseDir: path.dirname(file), file, references, deferUnset: true }), file };
}

interface Reference {
  name: string;
  fallback: string | undefined;
}

const referencePattern = /\$?\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g;
const tokenPrefix = 'KICSSYNCENVREF';
const tokenSuffix = 'X';
const tokenPattern = new RegExp(`${tokenPrefix}(\\d+)${tokenSuffix}`, 'g');

export interface ParseConfigOptions {
  env?: NodeJS.ProcessEnv;
  /** Folder against which relative paths are resolved. */
  baseDir?: string;
  /** For messages only. */
  file?: string | null;
  /** `${NAME}` references that loadConfig replaced by tokens before parsing the YAML. */
  references?: Reference[];
  /**
   * A reference to an unset variable is not an error until the setting is used: a command that reads
   * only the database needs no KICS password. The value stands as a marker that `requireSettings()`
   * (called where a system is opened) turns into the error naming the setting and the variable.
   */
  deferUnset?: boolean;
}

/** Sections of the outside systems, whose settings are checked where the system is opened (`requireSettings()`). */
const deferredSections = new Set(['kics', 'ksc', 'sources', 'database']);

/** Marks a setting whose environment variable was not set (NUL never comes from a YAML file or the environment). */
// eslint-disable-next-line no-control-regex -- NUL is the marker: no YAML file or environment value holds one.
const unsetMarker = /\u0000unset:([A-Za-z_][A-Za-z0-9_]*)@([^@\u0000]*)@([^\u0000]*)\u0000/;

/**
 * Throws the configuration error for the first setting under `section` that refers to an unset
 * environment variable; call it where the system the section describes is opened.
 */
export function requireSettings(section: unknown): void {
  const found = findMarker(section);
  if (found) throw new ConfigError(`${found.where}: ${found.key} refers to environment variable ${found.variable}, which is not set`, { details: { key: found.key, variable: found.variable } });
}

function findMarker(value: unknown): { key: string; variable: string; where: string } | null {
  if (typeof value === 'string') {
    const m = unsetMarker.exec(value);
    return m ? { variable: m[1]!, key: m[2]!, where: m[3]! } : null;
  }
  if (Array.isArray(value)) {
    for (const item of value) {
      const found = findMarker(item);
      if (found) return found;
    }
    return null;
  }
  if (value !== null && typeof value === 'object') {
    for (const item of Object.values(value)) {
      const found = findMarker(item);
      if (found) return found;
    }
  }
  return null;
}

/** Validates an already-parsed config object (used by tests and by `loadConfig`). */
export function parseConfig(raw: unknown, options: ParseConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const where = options.file ?? 'configuration';
  const interpolated = interpolate(raw, env, options.references ?? [], where, options.deferUnset ?? false);
  const result = configSchema.safeParse(interpolated.value);
  if (!result.success) {
    // A setting left unset that its check refuses is reported as unset, as it would have been at once.
    for (const issue of result.error.issues) requireSettings(valueAt(interpolated.value, issue.path as Path).value);
    throw new ConfigError(describeIssues(result.error.issues, interpolated.value, interpolated.secretPaths, where), { details: { file: options.file ?? null } });
  }
  return resolvePaths(result.data, options.baseDir ?? process.cwd());
}

type Path = (string | number)[];

/** `${NAME}` and `${NAME:-default}` in string values; `$${` escapes a literal `${`. */
function interpolate(value: unknown, env: NodeJS.ProcessEnv, references: Reference[], where: string, deferUnset: boolean): { value: unknown; secretPaths: Set<string> } {
  const secretPaths = new Set<string>();
  const resolve = (p: Path, ref: Reference): string => {
    const found = env[ref.name];
    if (found !== undefined && found !== '') return found;
    if (ref.fallback !== undefined) return ref.fallback;
    if (deferUnset && deferredSections.has(String(p[0]))) return `\u0000unset:${ref.name}@${formatPath(p)}@${where}\u0000`;
    throw new ConfigError(`${where}: ${formatPath(p)} refers to environment variable ${ref.name}, which is not set`, { details: { key: formatPath(p), variable: ref.name } });
  };
  const walk = (v: unknown, p: Path): unknown => {
    if (typeof v === 'string') {
      if (!v.includes('$') && !v.includes(tokenPrefix)) return v;
      let usedEnv = false;
      const out = v
        .replace(tokenPattern, (_match, index: string) => {
          usedEnv = true;
          return resolve(p, references[Number(index)]!);
        })
        .replace(referencePattern, (match, name: string, fallback: string | undefined) => {
          if (match.startsWith('$$')) return match.slice(1);
          usedEnv = true;
          return resolve(p, { name, fallback });
        });
      if (usedEnv) secretPaths.add(formatPath(p));
      return out;
    }
    if (Array.isArray(v)) return v.map((item, i) => walk(item, [...p, i]));
    if (v !== null && typeof v === 'object') return Object.fromEntries(Object.entries(v).map(([k, item]) => [k, walk(item, [...p, k])]));
    return v;
  };
  return { value: walk(value, []), secretPaths };
}

const secretKey = /pass(word|phrase)?|token|secret|key$/i;

function describeIssues(issues: z.core.$ZodIssue[], input: unknown, secretPaths: Set<string>, where: string): string {
  const lines = issues.slice(0, 10).map((issue) => {
    const p = issue.path as Path;
    const key = formatPath(p);
    const last = p[p.length - 1];
    const found = valueAt(input, p);
    const hidden = secretPaths.has(key) || (typeof last === 'string' && secretKey.test(last));
    const shown = found.present ? (hidden ? '[redacted]' : preview(found.value)) : 'nothing';
    let expected: string;
    switch (issue.code) {
      case 'invalid_type':
        expected = issue.expected;
        break;
      case 'invalid_value':
        expected = `one of ${issue.values.map((x) => JSON.stringify(x)).join(', ')}`;
        break;
      case 'unrecognized_keys':
        return `${key || '(top level)'}: unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => JSON.stringify(k)).join(', ')}`;
      case 'invalid_union':
        expected = 'discriminator' in issue && issue.discriminator ? `${String(issue.discriminator)} one of ${JSON.stringify((issue as { options?: unknown[] }).options ?? [])}` : 'one of the allowed shapes';
        break;
      default:
        expected = describeExpected(issue);
    }
    if (issue.code === 'invalid_type' && issue.expected === 'number' && typeof found.value === 'number') expected = 'a finite number';
    return `${key || '(top level)'}: expected ${expected}, found ${shown}`;
  });
  const more = issues.length > 10 ? `\n  (${issues.length - 10} more)` : '';
  return `${where} is not valid:\n  ${lines.join('\n  ')}${more}`;
}

function valueAt(input: unknown, p: Path): { present: boolean; value?: unknown } {
  let cur: unknown = input;
  for (const seg of p) {
    if (cur === null || typeof cur !== 'object' || !(seg in (cur as Record<string | number, unknown>))) return { present: false };
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return { present: true, value: cur };
}

/**
 * What a check wanted, in words: a message the schema wrote itself is kept; zod's defaults ("Invalid ISO
 * datetime", "Too small: expected number to be >=1") are put as the value that was expected.
 */
function describeExpected(issue: z.core.$ZodIssue): string {
  const own = !/^(Invalid|Too (small|big))\b/.test(issue.message);
  if (own) return issue.message;
  switch (issue.code) {
    case 'invalid_format': {
      const formats: Record<string, string> = {
        datetime: 'an ISO 8601 date and time with its offset, such as 2027-01-31T08:00:00Z',
        date: 'an ISO 8601 date, such as 2027-01-31',
        url: 'a URL, such as https://kics.plant.example:8080',
        regex: `text matching ${'pattern' in issue ? String(issue.pattern) : 'the expected pattern'}`,
      };
      return formats[issue.format] ?? `a value in ${issue.format} format`;
    }
    case 'too_small':
    case 'too_big': {
      const bound = issue.code === 'too_small' ? issue.minimum : issue.maximum;
      const inclusive = issue.inclusive !== false;
      const op = issue.code === 'too_small' ? (inclusive ? 'at least' : 'more than') : inclusive ? 'at most' : 'less than';
      if (issue.origin === 'string') return `text of ${op} ${String(bound)} character(s)`;
      if (issue.origin === 'array' || issue.origin === 'set') return `${op} ${String(bound)} item(s)`;
      return `a number of ${op} ${String(bound)}`;
    }
    default:
      return issue.message;
  }
}

function preview(value: unknown): string {
  if (typeof value === 'number' && !Number.isFinite(value)) return `${String(value)} (beyond what a number can hold)`;
  const text = typeof value === 'string' ? JSON.stringify(value) : JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

export function formatPath(p: Path): string {
  return p.reduce<string>((acc, seg) => (typeof seg === 'number' ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg), '');
}

/** Relative filesystem paths in the config are relative to the config file's folder. */
function resolvePaths(config: Config, baseDir: string): Config {
  const abs = (p: string): string => path.resolve(baseDir, p);
  const optAbs = (p: string | undefined): string | undefined => (p === undefined ? undefined : abs(p));
  const kics = (k: Config['kics']): Config['kics'] =>
    k && {
      ...k,
      package: k.package && { ...k.package, dir: abs(k.package.dir) },
      pem: k.pem && { cert: abs(k.pem.cert), key: abs(k.pem.key), ca: abs(k.pem.ca), ...(k.pem.passphrase === undefined ? {} : { passphrase: k.pem.passphrase }) },
    };
  const sources = (list: Config['sources']): Config['sources'] =>
    list.map((s) => (s.type === 'csv' ? { ...s, path: abs(s.path), rejectsFile: optAbs(s.rejectsFile) } : s.type === 'netbox' || s.type === 'servicenow' ? { ...s, caFile: optAbs(s.caFile) } : s));
  const reconcile = (r: Config['reconcile']): Config['reconcile'] => ({ ...r, industrialConfig: { ...r.industrialConfig, root: optAbs(r.industrialConfig.root) } });
  const ksc = (k: Config['ksc']): Config['ksc'] => k && { ...k, ca: optAbs(k.ca) };
  return {
    ...config,
    dataDir: abs(config.dataDir),
    kics: kics(config.kics),
    sources: sources(config.sources),
    reconcile: reconcile(config.reconcile),
    ksc: ksc(config.ksc),
    console: { ...config.console, ...(config.console.tls ? { tls: { certFile: abs(config.console.tls.certFile), keyFile: abs(config.console.tls.keyFile) } } : {}) },
    ...(config.sites
      ? {
          sites: config.sites.map((site) => ({
            ...site,
            kics: kics(site.kics),
            sources: site.sources && sources(site.sources),
            reconcile: site.reconcile && reconcile(site.reconcile),
            ksc: ksc(site.ksc),
          })),
        }
      : {}),
  };
}
