import { X509Certificate, generateKeyPairSync, randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { isIP } from 'node:net';
import path from 'node:path';
import forge from 'node-forge';
import { KicsSyncError } from '../../errors.js';

/**
 * Certificates of the simulated KICS server, made with node-forge: a CA of its own, the REST
 * server's certificate (signed by that CA, with the host in its subjectAltName), and connector
 * client certificates signed by the same CA. The server accepts only client certificates that
 * chain to its CA, so a certificate from another CA, or an expired one, is refused in the TLS
 * handshake. The connector's part goes into the communication data package as a PKCS#12 file whose
 * key is encrypted with AES-256 (PBES2): Node's TLS and `openssl pkcs12` with OpenSSL 3 defaults
 * both read it.
 */

export interface PemPair {
  cert: string;
  key: string;
}

export interface ServerIdentity {
  ca: PemPair;
  server: PemPair;
}

/** A connector identity: its certificate and key, and the CA certificates a client should trust for the server. */
export interface ClientIdentity extends PemPair {
  /** The simulator's CA (trust anchor for the server certificate). */
  ca: string;
  /** The server certificate itself (KICS puts it in the package; a client may pin it). */
  serverCert: string;
}

export type ClientCertificateKind = 'valid' | 'expired' | 'foreign';

const day = 86_400_000;

function newKeyPair(): { privateKey: forge.pki.rsa.PrivateKey; publicKey: forge.pki.rsa.PublicKey } {
  const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048, privateKeyEncoding: { type: 'pkcs8', format: 'pem' }, publicKeyEncoding: { type: 'spki', format: 'pem' } });
  const key = forge.pki.privateKeyFromPem(privateKey);
  return { privateKey: key, publicKey: forge.pki.setRsaPublicKey(key.n, key.e) };
}

function serial(): string {
  // Positive (high bit clear), 16 bytes.
  const bytes = randomBytes(16);
  bytes[0] = bytes[0]! & 0x7f;
  return bytes.toString('hex');
}

interface IssueOptions {
  commonName: string;
  organization?: string;
  issuer: { cert: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey } | null;
  isCa?: boolean;
  notBefore: Date;
  notAfter: Date;
  extKeyUsage?: { serverAuth?: boolean; clientAuth?: boolean };
  altNames?: string[];
}

function issue(options: IssueOptions): { cert: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey } {
  const keys = newKeyPair();
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = serial();
  cert.validity.notBefore = options.notBefore;
  cert.validity.notAfter = options.notAfter;
  const subject = [
    { name: 'commonName', value: options.commonName },
    { name: 'organizationName', value: options.organization ?? 'KICS for Networks simulator' },
  ];
  cert.setSubject(subject);
  cert.setIssuer(options.issuer ? options.issuer.cert.subject.attributes : subject);
  const extensions: Record<string, unknown>[] = [{ name: 'subjectKeyIdentifier' }];
  if (options.isCa) {
    extensions.push({ name: 'basicConstraints', cA: true, critical: true }, { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true });
  } else {
    extensions.push({ name: 'basicConstraints', cA: false }, { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true });
  }
  if (options.extKeyUsage) extensions.push({ name: 'extKeyUsage', ...options.extKeyUsage });
  if (options.altNames && options.altNames.length > 0) {
    extensions.push({ name: 'subjectAltName', altNames: options.altNames.map((n) => (isIP(n) ? { type: 7, ip: n } : { type: 2, value: n })) });
  }
  if (options.issuer) {
    const ski = options.issuer.cert.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier?: string } | null;
    if (ski?.subjectKeyIdentifier) extensions.push({ name: 'authorityKeyIdentifier', keyIdentifier: forge.util.hexToBytes(ski.subjectKeyIdentifier) });
  }
  cert.setExtensions(extensions);
  cert.sign(options.issuer?.key ?? keys.privateKey, forge.md.sha256.create());
  return { cert, key: keys.privateKey };
}

function toPem(pair: { cert: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey }): PemPair {
  return { cert: forge.pki.certificateToPem(pair.cert), key: forge.pki.privateKeyToPem(pair.key) };
}

function fromPem(pair: PemPair): { cert: forge.pki.Certificate; key: forge.pki.rsa.PrivateKey } {
  return { cert: forge.pki.certificateFromPem(pair.cert), key: forge.pki.privateKeyFromPem(pair.key) };
}

/** A new CA (self-signed, 10 years). */
export function createCa(commonName = 'KICS for Networks simulator CA'): PemPair {
  const now = Date.now();
  return toPem(issue({ commonName, isCa: true, issuer: null, notBefore: new Date(now - day), notAfter: new Date(now + 3650 * day) }));
}

/** The REST server's certificate for `hosts` (IP addresses and DNS names), signed by `ca`. */
export function createServerCertificate(ca: PemPair, hosts: string[]): PemPair {
  const now = Date.now();
  const names = [...new Set([...hosts, '127.0.0.1', '::1', 'localhost'])];
  return toPem(issue({ commonName: hosts[0] ?? 'localhost', issuer: fromPem(ca), notBefore: new Date(now - day), notAfter: new Date(now + 825 * day), extKeyUsage: { serverAuth: true }, altNames: names }));
}

/**
 * A connector client certificate: `valid` (signed by the simulator's CA), `expired` (same CA, its
 * validity ended yesterday) or `foreign` (signed by a CA the server does not know).
 */
export function createClientCertificate(ca: PemPair, kind: ClientCertificateKind = 'valid', commonName = 'kics-sync connector'): PemPair {
  const now = Date.now();
  const issuer = kind === 'foreign' ? fromPem(createCa('Unrelated CA')) : fromPem(ca);
  const [notBefore, notAfter] = kind === 'expired' ? [now - 30 * day, now - day] : [now - day, now + 365 * day];
  return toPem(issue({ commonName, issuer, notBefore: new Date(notBefore), notAfter: new Date(notAfter), extKeyUsage: { clientAuth: true } }));
}

/** A PKCS#12 file: the key and its certificate, then `extraCerts` (CA / server certificate). Key bag AES-256, MAC SHA-1 (what OpenSSL 3 reads by default). */
export function buildPfx(identity: PemPair, extraCerts: string[], password: string, friendlyName = 'connector'): Buffer {
  const key = forge.pki.privateKeyFromPem(identity.key);
  const certs = [identity.cert, ...extraCerts].map((pem) => forge.pki.certificateFromPem(pem));
  const asn1 = forge.pkcs12.toPkcs12Asn1(key, certs, password, { algorithm: 'aes256', friendlyName, count: 10_000 });
  return Buffer.from(forge.asn1.toDer(asn1).getBytes(), 'binary');
}

/** What a package's PFX holds, as PEM: the key, the certificate that matches it, and the other certificates. */
export function readPfx(pfx: Buffer, password: string): { key: string; cert: string; others: string[] } {
  let p12: forge.pkcs12.Pkcs12Pfx;
  try {
    p12 = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(pfx.toString('binary')), password);
  } catch (error) {
    throw new KicsSyncError(`cannot open the PKCS#12 file: wrong password or not a PKCS#12 file (${(error as Error).message})`, { code: 'PACKAGE_UNREADABLE', cause: error });
  }
  const keyBag = p12.getBags({ bagType: forge.pki.oids.pkcs8ShroudedKeyBag! })[forge.pki.oids.pkcs8ShroudedKeyBag!]?.[0] ?? p12.getBags({ bagType: forge.pki.oids.keyBag! })[forge.pki.oids.keyBag!]?.[0];
  if (!keyBag?.key) throw new KicsSyncError('the PKCS#12 file holds no private key', { code: 'PACKAGE_UNREADABLE' });
  const key = keyBag.key;
  const certs = (p12.getBags({ bagType: forge.pki.oids.certBag! })[forge.pki.oids.certBag!] ?? []).flatMap((b) => (b.cert ? [b.cert] : []));
  const modulus = key.n.toString(16);
  const mine = certs.find((c) => (c.publicKey as forge.pki.rsa.PublicKey).n.toString(16) === modulus);
  if (!mine) throw new KicsSyncError('the PKCS#12 file has no certificate for its private key', { code: 'PACKAGE_UNREADABLE' });
  return { key: forge.pki.privateKeyToPem(key), cert: forge.pki.certificateToPem(mine), others: certs.filter((c) => c !== mine).map((c) => forge.pki.certificateToPem(c)) };
}

/** SHA-256 thumbprint of a PEM certificate, as hex pairs separated by colons. */
export function thumbprint(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

/** Whether `cert` is within its validity and signed by `ca`. */
export function issuedBy(cert: string, ca: string): boolean {
  try {
    const x = new X509Certificate(cert);
    const now = Date.now();
    return x.checkIssued(new X509Certificate(ca)) && x.verify(new X509Certificate(ca).publicKey) && Date.parse(x.validFrom) <= now && now < Date.parse(x.validTo);
  } catch {
    return false;
  }
}

async function readIfExists(file: string): Promise<string | null> {
  try {
    return await readFile(file, 'utf8');
  } catch {
    return null;
  }
}

/**
 * The server's CA and certificate from `<stateDir>/server/`, created when absent (and the server
 * certificate re-issued when it does not cover `host` or has expired), so a restart with the same
 * state directory keeps the package a client already has.
 */
export async function loadOrCreateServerIdentity(stateDir: string, host: string): Promise<ServerIdentity> {
  const dir = path.join(stateDir, 'server');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const files = { caCert: path.join(dir, 'ca.crt'), caKey: path.join(dir, 'ca.key'), cert: path.join(dir, 'server.crt'), key: path.join(dir, 'server.key') };
  let caCert = await readIfExists(files.caCert);
  let caKey = await readIfExists(files.caKey);
  if (!caCert || !caKey) {
    const ca = createCa();
    caCert = ca.cert;
    caKey = ca.key;
    await writeFile(files.caKey, caKey, { mode: 0o600 });
    await writeFile(files.caCert, caCert);
  }
  const ca = { cert: caCert, key: caKey };
  let cert = await readIfExists(files.cert);
  let key = await readIfExists(files.key);
  const covers = (pem: string): boolean => {
    try {
      const x = new X509Certificate(pem);
      return (isIP(host) ? x.checkIP(host) : x.checkHost(host)) !== undefined && issuedBy(pem, caCert);
    } catch {
      return false;
    }
  };
  if (!cert || !key || !covers(cert)) {
    const server = createServerCertificate(ca, [host]);
    cert = server.cert;
    key = server.key;
    await writeFile(files.key, key, { mode: 0o600 });
    await writeFile(files.cert, cert);
  }
  return { ca, server: { cert, key } };
}

/** The `metadata.json` of a communication data package (see docs/kics-simulator.md). */
export interface PackageMetadata {
  connectorType: 'Generic';
  connectorId: number;
  connectorName: string;
  serverHost: string;
  serverPort: number;
  serverUrl: string;
  apiVersion: string;
  tokenPath: string;
  certificatesFile: 'certificates.pfx';
  serverCertificateThumbprint: string;
  connectorCertificateThumbprint: string;
  connectorCertificateNotAfter: string;
  generated: string;
}

export interface WritePackageOptions {
  dir: string;
  password: string;
  identity: ClientIdentity;
  url: string;
  apiVersion?: string;
  connectorId?: number;
  connectorName?: string;
}

/** Writes `certificates.pfx` (connector key + certificate, then the CA and server certificates) and `metadata.json`. */
export async function writeConnectorPackage(options: WritePackageOptions): Promise<PackageMetadata> {
  await mkdir(options.dir, { recursive: true });
  const { identity } = options;
  const pfx = buildPfx(identity, [identity.ca, identity.serverCert], options.password);
  const url = new URL(options.url);
  const apiVersion = options.apiVersion ?? 'v4';
  const metadata: PackageMetadata = {
    connectorType: 'Generic',
    connectorId: options.connectorId ?? 1,
    connectorName: options.connectorName ?? 'kics-sync',
    serverHost: url.hostname.replace(/^\[|\]$/g, ''),
    serverPort: Number(url.port || 443),
    serverUrl: url.origin,
    apiVersion,
    tokenPath: `/kics/api/auth/${apiVersion}/token`,
    certificatesFile: 'certificates.pfx',
    serverCertificateThumbprint: thumbprint(identity.serverCert),
    connectorCertificateThumbprint: thumbprint(identity.cert),
    connectorCertificateNotAfter: new X509Certificate(identity.cert).validTo,
    generated: new Date().toISOString(),
  };
  await writeFile(path.join(options.dir, 'certificates.pfx'), pfx, { mode: 0o600 });
  await writeFile(path.join(options.dir, 'metadata.json'), `${JSON.stringify(metadata, null, 2)}\n`);
  return metadata;
}

/** Reads a package back as PEM (for curl, tests, or a client that wants PEM files). */
export async function readConnectorPackage(dir: string, password: string): Promise<{ identity: PemPair; caCerts: string[]; metadata: PackageMetadata }> {
  const pfx = await readFile(path.join(dir, 'certificates.pfx'));
  const { key, cert, others } = readPfx(pfx, password);
  const metadata = JSON.parse(await readFile(path.join(dir, 'metadata.json'), 'utf8')) as PackageMetadata;
  return { identity: { key, cert }, caCerts: others, metadata };
}

