import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The installed package's root folder; the same from src/ (tests, tsx) and dist/ (the built CLI). */
export const packageRoot = fileURLToPath(new URL('..', import.meta.url));
export const prismaDir = fileURLToPath(new URL('../prisma/', import.meta.url));
export const migrationsDir = fileURLToPath(new URL('../prisma/migrations/', import.meta.url));
export const schemaFile = fileURLToPath(new URL('../prisma/schema.prisma', import.meta.url));
export const examplesDir = fileURLToPath(new URL('../examples/', import.meta.url));

/** The installed kics-sync version (package.json). */
export const packageVersion = (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
