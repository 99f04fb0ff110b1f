import { ConfigError } from '../errors.js';
import { comparedFields, kicsOwnedFields, nonNullableAssetFields, type ComparedField } from '../model/fields.js';

/**
 * The device fields the reconciler writes, who owns each by default, and the precedence lists
 * (`reconcile.precedence`) resolved against the configured sources.
 */

/** Single-valued writable fields, in the order reports and ops list them (declared in src/model/fields.ts). */
export const scalarFields: readonly ComparedField[] = comparedFields;
export type ScalarField = ComparedField;

/** KICS refuses null for these: a source saying "empty" has no opinion on them. */
export const nonNullableFields: ReadonlySet<string> = nonNullableAssetFields;

/** What KICS discovers from traffic and keeps unless configured otherwise. */
export const discoveredFields: ReadonlySet<string> = kicsOwnedFields;

/** The fields of a KICS device the engine reads and writes (the rest of its JSON is KICS's own). */
export const deviceFields = [...scalarFields, 'status', 'labels', 'userAttributes', 'addressInformation'] as const;

/** Every field a plan may change, in op order (Test guards and changes follow it). */
export const planFields = [...scalarFields, 'labels', 'userAttributes', 'addressInformation', 'status'] as const;
export type PlanField = (typeof planFields)[number];

/**
 * Precedence keys beyond the device fields: `status` decides which source says an asset is retired,
 * `industrialConfig` which source's configuration file is uploaded, `owner` who owns the asset (the
 * scope of `plan --owner`), `userAttributes.<name>` one managed attribute.
 */
const extraKeys = ['labels', 'userAttributes', 'status', 'industrialConfig', 'owner'] as const;
const precedenceKeys: ReadonlySet<string> = new Set<string>([...scalarFields, ...extraKeys]);

/**
 * An object's own value of a field, undefined when it has none. An asset holds only the fields its
 * source gives: looking up a missing field through the prototypes, for every field of every asset of
 * a 100,000-device plan, costs four times the reading of the own ones.
 */
export function ownField(object: object, field: string): unknown {
  return Object.hasOwn(object, field) ? (object as Record<string, unknown>)[field] : undefined;
}

/** The reserved name that stands for KICS's own value in a precedence list. */
export const kicsEntry = 'kics';

export type Precedence = Readonly<Record<string, readonly string[]>>;

/**
 * Complete precedence lists: the defaults (sources in config order own what describes the asset;
 * `kics` first for what KICS discovers), overridden per key by `reconcile.precedence`. Refuses an
 * unknown field or source with the config path in the message.
 */
export function resolvePrecedence(configured: Readonly<Record<string, readonly string[]>>, sourceNames: readonly string[]): Record<string, string[]> {
  const known = new Set(sourceNames);
  const resolved: Record<string, string[]> = {};
  for (const key of precedenceKeys) resolved[key] = discoveredFields.has(key) ? [kicsEntry, ...sourceNames] : [...sourceNames];
  for (const [key, list] of Object.entries(configured)) {
    const attribute = key.startsWith('userAttributes.') ? key.slice('userAttributes.'.length) : null;
    if (!precedenceKeys.has(key) && (attribute === null || attribute === '')) {
      throw new ConfigError(
        `reconcile.precedence.${key}: unknown field; expected one of ${[...precedenceKeys].join(', ')} or userAttributes.<name>`,
        { code: 'CONFIG_INVALID', details: { key } },
      );
    }
    list.forEach((entry, index) => {
      if (entry !== kicsEntry && !known.has(entry)) {
        throw new ConfigError(
          `reconcile.precedence.${key}[${index}]: ${JSON.stringify(entry)} is not a configured, enabled source; expected "kics" or one of ${sourceNames.map((n) => JSON.stringify(n)).join(', ') || '(no sources configured)'}`,
          { code: 'CONFIG_INVALID', details: { key, entry } },
        );
      }
    });
    resolved[key] = [...new Set(list)];
  }
  return resolved;
}

/** The precedence list of one managed user attribute. */
export function attributePrecedence(precedence: Precedence, name: string): readonly string[] {
  return precedence[`userAttributes.${name}`] ?? precedence.userAttributes ?? [];
}
