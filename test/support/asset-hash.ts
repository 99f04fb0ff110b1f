/**
 * Prints the canonical JSON and content hash of the asset given as JSON in argv[2], in this process's
 * locale (tests start it under different LANG / LC_ALL values).
 */
import { canonicalAsset, canonicalJson } from '../../src/model/normalize.js';
import type { CanonicalAsset } from '../../src/model/asset.js';

const asset = JSON.parse(process.argv[2]!) as CanonicalAsset;
process.stdout.write(JSON.stringify({ locale: Intl.DateTimeFormat().resolvedOptions().locale, ...canonicalJson(canonicalAsset(asset)) }));
