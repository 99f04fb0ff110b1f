import { createHash, randomBytes, scrypt as scryptCallback, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import type { Sql } from '../db/sql.js';
import { UsageError } from '../errors.js';

/**
 * The people who use the review console, and their API tokens. Passwords are hashed with scrypt
 * (node:crypto, N = 2^15, r = 8, p = 1: OWASP's minimum for scrypt), stored as
 * `scrypt$N$r$p$salt$hash`; API tokens are 32 random bytes shown once, only their SHA-256 kept.
 */

export const consoleRoles = ['admin', 'owner', 'viewer'] as const;
export type ConsoleRole = (typeof consoleRoles)[number];

export interface ConsoleUser {
  id: number;
  name: string;
  role: ConsoleRole;
  /** Owner names (as the sources write them) whose items the user may see and decide. */
  owners: string[];
  createdAt: Date;
  disabledAt: Date | null;
  hasPassword: boolean;
}

const scryptParams = { N: 2 ** 15, r: 8, p: 1 };
const keyLength = 32;
/** Room for N = 2^15 (128 * N * r bytes) and more. */
const maxmem = 64 * 1024 * 1024;
/** Longer inputs are refused before hashing: scrypt of a huge string is work for nothing. */
const maxPasswordLength = 1024;
export const minPasswordLength = 12;

function scrypt(password: string, salt: Buffer, options: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => scryptCallback(password, salt, keyLength, options, (error, key) => (error ? reject(error) : resolve(key))));
}

export async function hashPassword(password: string): Promise<string> {
  if (password.length < minPasswordLength) throw new UsageError(`a password needs at least ${minPasswordLength} characters`);
  if (password.length > maxPasswordLength) throw new UsageError(`a password has at most ${maxPasswordLength} characters`);
  const salt = randomBytes(16);
  const key = await scrypt(password, salt, { ...scryptParams, maxmem });
  return ['scrypt', scryptParams.N, scryptParams.r, scryptParams.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

/** Whether `password` matches `stored` (compared in constant time). A malformed hash never matches. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$');
  if (scheme !== 'scrypt' || !salt || !hash || password.length > maxPasswordLength) return false;
  const options = { N: Number(n), r: Number(r), p: Number(p), maxmem };
  if (![options.N, options.r, options.p].every((v) => Number.isSafeInteger(v) && v > 0)) return false;
  const expected = Buffer.from(hash, 'base64url');
  const key = await scrypt(password, Buffer.from(salt, 'base64url'), options);
  return key.length === expected.length && timingSafeEqual(key, expected);
}

interface UserRow {
  id: number;
  name: string;
  role: ConsoleRole;
  owners: string[] | null;
  created_at: Date;
  disabled_at: Date | null;
  password_hash: string | null;
}

const userColumns = 'id, name, role::text AS role, owners, created_at, disabled_at, password_hash';

function userOf(row: UserRow): ConsoleUser {
  return { id: row.id, name: row.name, role: row.role, owners: row.owners ?? [], createdAt: row.created_at, disabledAt: row.disabled_at, hasPassword: row.password_hash !== null };
}

/** A user name: printable, no spaces at the ends, at most 200 characters. */
export function checkUserName(name: string): string {
  const trimmed = name.trim();
  if (trimmed === '' || trimmed.length > 200 || /[\p{Cc}]/u.test(trimmed)) throw new UsageError(`a user name is 1 to 200 printable characters; found ${JSON.stringify(name)}`);
  return trimmed;
}

export async function addUser(db: Sql, user: { name: string; role: ConsoleRole; owners: readonly string[]; password: string | null }): Promise<ConsoleUser> {
  const name = checkUserName(user.name);
  if (user.role === 'owner' && user.owners.length === 0) throw new UsageError('an owner needs at least one --owner: the owner names whose items they decide');
  const hash = user.password === null ? null : await hashPassword(user.password);
  const rows = await db.query<UserRow>(
    `INSERT INTO console_user (name, role, owners, password_hash) VALUES ($1, $2::"ConsoleRole", $3::text[], $4)
     ON CONFLICT (name) DO NOTHING RETURNING ${userColumns}`,
    [name, user.role, [...new Set(user.owners)], hash],
  );
  if (rows.length === 0) throw new UsageError(`a user named ${JSON.stringify(name)} exists already`);
  return userOf(rows[0]!);
}

export async function listUsers(db: Sql): Promise<ConsoleUser[]> {
  return (await db.query<UserRow>(`SELECT ${userColumns} FROM console_user ORDER BY name`)).map(userOf);
}

export async function findUser(db: Sql, name: string): Promise<(ConsoleUser & { passwordHash: string | null }) | null> {
  const [row] = await db.query<UserRow>(`SELECT ${userColumns} FROM console_user WHERE name = $1`, [name]);
  return row ? { ...userOf(row), passwordHash: row.password_hash } : null;
}

export async function userById(db: Sql, id: number): Promise<ConsoleUser | null> {
  const [row] = await db.query<UserRow>(`SELECT ${userColumns} FROM console_user WHERE id = $1`, [id]);
  return row ? userOf(row) : null;
}

/** Disables a user: their sessions and API tokens stop working at the next request. */
export async function disableUser(db: Sql, name: string): Promise<ConsoleUser> {
  const [row] = await db.query<UserRow>(`UPDATE console_user SET disabled_at = COALESCE(disabled_at, now()) WHERE name = $1 RETURNING ${userColumns}`, [name]);
  if (!row) throw new UsageError(`no user named ${JSON.stringify(name)}`);
  return userOf(row);
}

const tokenPrefix = 'ksk_';

function tokenHash(token: string): string {
  return createHash('sha256').update(token).digest('hex');
}

/** A new API token for the user: returned once, only its hash is stored. */
export async function createToken(db: Sql, name: string, label: string): Promise<{ token: string; user: ConsoleUser }> {
  const user = await findUser(db, name);
  if (!user) throw new UsageError(`no user named ${JSON.stringify(name)}`);
  if (user.disabledAt) throw new UsageError(`user ${JSON.stringify(name)} is disabled`);
  const token = `${tokenPrefix}${randomBytes(32).toString('base64url')}`;
  await db.execute(`INSERT INTO api_token (user_id, label, token_hash) VALUES ($1, $2, $3)`, [user.id, label, tokenHash(token)]);
  return { token, user };
}

/** The active user an API token belongs to, or null (unknown, revoked, or the user disabled). */
export async function userByToken(db: Sql, token: string): Promise<ConsoleUser | null> {
  if (!token.startsWith(tokenPrefix) || token.length > 200) return null;
  const [row] = await db.query<UserRow>(
    `UPDATE api_token t SET last_used_at = now() FROM console_user u
      WHERE t.token_hash = $1 AND t.revoked_at IS NULL AND u.id = t.user_id AND u.disabled_at IS NULL
  RETURNING u.id, u.name, u.role::text AS role, u.owners, u.created_at, u.disabled_at, u.password_hash`,
    [tokenHash(token)],
  );
  return row ? userOf(row) : null;
}

/**
 * The user an OpenID Connect sign-in stands for (`subject` = issuer and sub): created at the first
 * sign-in, role and owners refreshed from the claims at each. A local user of the same name is never
 * taken over; a disabled one stays disabled. Returns the user, or why the sign-in is refused.
 */
export async function upsertOidcUser(db: Sql, u: { subject: string; name: string; role: ConsoleRole; owners: readonly string[] }): Promise<ConsoleUser | string> {
  const name = checkUserName(u.name);
  const [row] = await db.query<UserRow & { oidc_subject: string | null }>(
    `INSERT INTO console_user (name, role, owners, oidc_subject) VALUES ($1, $2::"ConsoleRole", $3::text[], $4)
     ON CONFLICT (oidc_subject) DO UPDATE SET role = EXCLUDED.role, owners = EXCLUDED.owners
     RETURNING ${userColumns}, oidc_subject`,
    [name, u.role, [...new Set(u.owners)], u.subject],
  ).catch((error: unknown) => {
    if ((error as { code?: string }).code === '23505') return [];
    throw error;
  });
  if (!row) return `a user named ${JSON.stringify(name)} exists already in kics-sync: ask an admin`;
  const user = userOf(row);
  return user.disabledAt ? 'this user is disabled in kics-sync' : user;
}
