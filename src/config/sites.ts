import path from 'node:path';
import { z } from 'zod';
import { UsageError } from '../errors.js';
import { kicsConfigSchema } from './kics.js';
import { kscConfigSchema } from './ksc.js';
import { reconcileConfigSchema } from './reconcile.js';
import { sourceConfigSchema } from './sources.js';
import { scheduleConfigSchema, syncConfigSchema } from './sync.js';

/** The site a configuration without `sites:` describes, and the one whose data lives where it always did. */
export const defaultSiteName = 'default';

const siteName = z.string().regex(/^[a-z][a-z0-9_-]{0,39}$/, 'a site name: a lower-case letter, then up to 39 lower-case letters, digits, - or _');

/**
 * Which of the shared sources (the top-level `sources:`) a site reads, and which of their records are
 * the site's: a CMDB that lists every plant serves each site with the records of its owners or its
 * address spaces. Each list left out does not narrow.
 */
export const siteScopeSchema = z.strictObject({
  /** Names of shared sources; default: all of them. */
  sources: z.array(z.string().min(1)).min(1).optional(),
  /** Records whose owner is one of these (case-insensitive). */
  owners: z.array(z.string().min(1)).min(1).optional(),
  /** Records with an interface in one of these address spaces (the id or name the source gives). */
  addressSpaces: z.array(z.union([z.number().int().nonnegative(), z.string().min(1)])).min(1).optional(),
});
export type SiteScope = z.infer<typeof siteScopeSchema>;

/**
 * One plant: its KICS, its sources, its schedule and settings. A section the site leaves out is the
 * top-level one (shared by every site that leaves it out).
 */
export const siteConfigSchema = z.strictObject({
  name: siteName,
  kics: kicsConfigSchema.optional(),
  /** The site's own sources. Without them the site reads the shared sources, narrowed by `scope`. */
  sources: z.array(sourceConfigSchema).optional(),
  scope: siteScopeSchema.optional(),
  // Absent stays absent (then the top-level section counts): `.optional()` would fill in the defaults.
  reconcile: z.union([z.undefined(), reconcileConfigSchema]),
  sync: z.union([z.undefined(), syncConfigSchema]),
  schedule: z.union([z.undefined(), scheduleConfigSchema]),
  ksc: kscConfigSchema.optional(),
});
export type SiteConfig = z.infer<typeof siteConfigSchema>;

/** Where a site's data lives. */
export interface SiteLocation {
  name: string;
  /**
   * PostgreSQL schema holding the site's tables: `public` for the default site (so a configuration
   * without `sites:` keeps its data where it was), `site_<name>` for the others.
   */
  schema: string;
  /** Folder for the site's reports, rejects files and (PGlite) embedded database. */
  dataDir: string;
}

export function siteSchemaName(name: string): string {
  return name === defaultSiteName ? 'public' : `site_${name.replaceAll('-', '_')}`;
}

export function siteDataDir(dataDir: string, name: string): string {
  return name === defaultSiteName ? dataDir : path.join(dataDir, 'sites', name);
}

/** Refinements of the whole configuration that involve `sites:`. */
export function checkSites(
  config: { sites?: SiteConfig[] | undefined; sources: { name: string }[] },
  ctx: z.RefinementCtx,
): void {
  const sites = config.sites;
  if (sites === undefined) return;
  const schemas = new Map<string, string>();
  sites.forEach((site, i) => {
    const schema = siteSchemaName(site.name);
    const clash = schemas.get(schema);
    if (clash !== undefined) ctx.addIssue({ code: 'custom', path: ['sites', i, 'name'], message: `a name different from site "${clash}" (site names must be unique, - and _ count as the same)` });
    schemas.set(schema, site.name);
    const own = site.sources ?? [];
    if (new Set(own.map((s) => s.name)).size !== own.length) ctx.addIssue({ code: 'custom', path: ['sites', i, 'sources'], message: 'source names unique within the site' });
    if (own.some((s) => s.name === 'kics')) ctx.addIssue({ code: 'custom', path: ['sites', i, 'sources'], message: 'a source name other than "kics" (reserved for the KICS snapshot)' });
    const shared = new Set(config.sources.map((s) => s.name));
    for (const [j, name] of (site.scope?.sources ?? []).entries()) {
      if (!shared.has(name)) ctx.addIssue({ code: 'custom', path: ['sites', i, 'scope', 'sources', j], message: `the name of a shared source (top-level sources: ${[...shared].join(', ') || 'none'})` });
    }
    for (const s of own) {
      if (shared.has(s.name) && site.scope !== undefined) ctx.addIssue({ code: 'custom', path: ['sites', i, 'sources'], message: `a name other than the shared source "${s.name}" the site's scope reads` });
    }
  });
}

/** What a site is made of, resolved against the top-level sections. */
export interface ResolvedSite<C> {
  location: SiteLocation;
  config: C;
}

interface SiteAware {
  dataDir: string;
  sites?: SiteConfig[] | undefined;
  sources: z.infer<typeof sourceConfigSchema>[];
  kics?: z.infer<typeof kicsConfigSchema> | undefined;
  reconcile: z.infer<typeof reconcileConfigSchema>;
  sync: z.infer<typeof syncConfigSchema>;
  schedule: z.infer<typeof scheduleConfigSchema>;
  ksc?: z.infer<typeof kscConfigSchema> | undefined;
}

/** The names of the configured sites: the ones under `sites:`, or `default` alone. */
export function siteNames(config: { sites?: SiteConfig[] | undefined }): string[] {
  return config.sites === undefined ? [defaultSiteName] : config.sites.map((s) => s.name);
}

/**
 * The site a command works on: the one named (`--site`), else the only one. With several sites and
 * none named, the error lists them.
 */
export function chooseSite(config: { sites?: SiteConfig[] | undefined }, wanted: string | undefined): string {
  const names = siteNames(config);
  if (wanted !== undefined) {
    if (!names.includes(wanted)) throw new UsageError(`--site ${JSON.stringify(wanted)}: no such site; the configuration has ${names.join(', ')}`);
    return wanted;
  }
  if (names.length === 1) return names[0]!;
  throw new UsageError(`the configuration has ${names.length} sites (${names.join(', ')}): name one with --site NAME`);
}

/**
 * The configuration of one site, in the shape every command already takes: the site's sections in
 * place of the top-level ones, its sources (own, or the shared ones its scope reads), its data folder.
 * The site's record scope is returned beside it (the plan keeps only the records it covers).
 */
export function resolveSite<C extends SiteAware>(config: C, name: string): ResolvedSite<C> & { scope: SiteScope | undefined } {
  const location: SiteLocation = { name, schema: siteSchemaName(name), dataDir: siteDataDir(config.dataDir, name) };
  const site = config.sites?.find((s) => s.name === name);
  if (config.sites === undefined || site === undefined) {
    if (name !== defaultSiteName || config.sites !== undefined) throw new UsageError(`no site named ${JSON.stringify(name)}; the configuration has ${siteNames(config).join(', ')}`);
    return { location, config, scope: undefined };
  }
  const shared = site.sources === undefined || site.scope !== undefined ? config.sources.filter((s) => site.scope?.sources === undefined || site.scope.sources.includes(s.name)) : [];
  const resolved: C = {
    ...config,
    dataDir: location.dataDir,
    kics: site.kics ?? config.kics,
    sources: [...(site.sources ?? []), ...shared],
    reconcile: site.reconcile ?? config.reconcile,
    sync: site.sync ?? config.sync,
    schedule: site.schedule ?? config.schedule,
    ksc: site.ksc ?? config.ksc,
  };
  return { location, config: resolved, scope: site.scope };
}

/** Which site a resolved configuration describes (`Config.site`). */
export interface SiteIdentity {
  name: string;
  schema: string;
  scope: SiteScope | undefined;
}

/** `resolveSite()` with the site named in the configuration it returns, as commands and workers run it. */
export function siteConfig<C extends SiteAware>(config: C, name: string): { location: SiteLocation; config: C & { site: SiteIdentity } } {
  const resolved = resolveSite(config, name);
  return { location: resolved.location, config: { ...resolved.config, site: { name, schema: resolved.location.schema, scope: resolved.scope } } };
}

/**
 * Whether a staged record belongs to a site with this scope: its owner is one of the scope's, and one
 * of its interfaces names one of the scope's address spaces (as the source names it: id or name).
 */
export function inSiteScope(scope: SiteScope | undefined, record: { owner: string | null; addressSpaces: readonly (number | string | null | undefined)[] }): boolean {
  if (scope === undefined) return true;
  if (scope.owners !== undefined) {
    const owner = record.owner?.trim().toLowerCase();
    if (owner === undefined || !scope.owners.some((o) => o.trim().toLowerCase() === owner)) return false;
  }
  if (scope.addressSpaces !== undefined) {
    const wanted = new Set(scope.addressSpaces.map((s) => String(s).trim().toLowerCase()));
    if (!record.addressSpaces.some((space) => space !== null && space !== undefined && wanted.has(String(space).trim().toLowerCase()))) return false;
  }
  return true;
}
