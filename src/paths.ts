import { fileURLToPath } from 'node:url';

/** The installed package's root folder; the same from src/ (tests, tsx) and dist/ (the built CLI). */
export const packageRoot = fileURLToPath(new URL('..', import.meta.url));
export const prismaDir = fileURLToPath(new URL('../prisma/', import.meta.url));
export const migrationsDir = fileURLToPath(new URL('../prisma/migrations/', import.meta.url));
export const schemaFile = fileURLToPath(new URL('../prisma/schema.prisma', import.meta.url));
export const examplesDir = fileURLToPath(new URL('../examples/', import.meta.url));
