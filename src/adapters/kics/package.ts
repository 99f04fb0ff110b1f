import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import forge from 'node-forge';
import { z } from 'zod';
import type { KicsConfig } from '../../config/index.js';
import { errorMessage } from '../../errors.js';
import { KicsPackageError } from './errors.js';

/**
 * The connector's identity and what it trusts, from the communication data package KICS gives a
 * connector of type Generic (`certificates.pfx` + `metadata.json`), or from PEM files:
 *
 * - the connector certificate and key (mutual TLS);
 * - the trust anchors for the KICS server: the certificates of the package other than the connector's;
 * - the **pinned** server certificate: the one `metadata.json` names by thumbprint, else the package's
 *   only server (non-CA) certificate. The TLS handshake must present exactly that certificate
 *   (`tls.ts`). Only when the package names none is the server checked against the package's CA
 *   certificates and its host name instead.
 *
 * Every problem is a one-line `KicsPackageError` that says which file and what to do. Certificates that
 * are expired or not yet valid are refused here, before any connection.
 */

export interface CertificateInfo {
  subject: string;
  issuer: string;
  /** SHA-256 fingerprint, colon-separated hex pairs (upper case). */
  fingerprint256: string;
  notBefore: Date;
  notAfter: Date;
}

export interface ConnectorTls {
  /** The connector certificate (PEM) and its key (PEM; `passphrase` when the key is encrypted). */
  cert: string;
  key: string;
  passphrase?: string;
  /** Trust anchors for the server: the package's CA / server certificates (PEM). */
  ca: string[];
  /** The server certificate the handshake must present; null when the package names none. */
  pinned: CertificateInfo | null;
  connector: CertificateInfo;
  /** Where the identity came from, for messages (a folder or file, never a password). */
  origin: string;
}

const metadataSchema = z.looseObject({
  serverUrl: z.string().optional(),
  apiVersion: z.string().optional(),
  certificatesFile: z.string().optional(),
  serverCertificateThumbprint: z.string().optional(),
});
export type PackageMetadata = z.infer<typeof metadataSchema>;

export function certificateInfo(x: X509Certificate): CertificateInfo {
  return {
    subject: x.subject.replace(/\n/g, ', '),
    issuer: x.issuer.replace(/\n/g, ', '),
    fingerprint256: x.fingerprint256,
    notBefore: new Date(Date.parse(x.validFrom)),
    notAfter: new Date(Date.parse(x.validTo)),
  };
}

/** The connector identity and server trust from `kics.package` or `kics.pem`. */
export async function loadConnectorTls(config: Pick<KicsConfig, 'package' | 'pem'>, now = new Date()): Promise<ConnectorTls> {
  const tls = config.package ? await loadPackage(config.package.dir, config.package.password) : await loadPem(config.pem!);
  checkValidity('the connector certificate', tls.connector, tls.origin, now);
  if (tls.pinned) checkValidity('the KICS server certificate', tls.pinned, tls.origin, now);
  return tls;
}

async function readRequired(file: string, what: string, hint: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new KicsPackageError(`${what} ${file} does not exist; ${hint}`, { code: 'KICS_PACKAGE_FILE_MISSING', cause: error });
    throw new KicsPackageError(`cannot read ${what} ${file}: ${code ?? errorMessage(error)}`, { code: 'KICS_PACKAGE_FILE_MISSING', cause: error });
  }
}

const downloadHint = "download the connector's communication data package from KICS and unpack it there";

async function loadPackage(dir: string, password: string | undefined): Promise<ConnectorTls> {
  const metaFile = path.join(dir, 'metadata.json');
  const metaText = await readRequired(metaFile, 'kics.package.dir: the package file', downloadHint);
  let metadata: PackageMetadata;
  try {
    metadata = metadataSchema.parse(JSON.parse(metaText.toString('utf8')));
  } catch (error) {
    throw new KicsPackageError(`${metaFile} is not the metadata.json of a communication data package (${error instanceof SyntaxError ? 'not JSON' : 'unexpected shape'}); ${downloadHint}`, {
      code: 'KICS_PACKAGE_INVALID',
      cause: error,
    });
  }
  const pfxFile = path.join(dir, path.basename(metadata.certificatesFile ?? 'certificates.pfx'));
  const pfx = await readRequired(pfxFile, 'kics.package.dir: the package file', downloadHint);
  const { key, cert, others } = openPfx(pfx, password ?? '', pfxFile, password !== undefined);
  const connector = new X509Certificate(cert);
  const pinned = pinnedCertificate(others, metadata.serverCertificateThumbprint, pfxFile, metaFile);
  return { cert, key, ca: others.map((x) => x.toString()), pinned: pinned ? certificateInfo(pinned) : null, connector: certificateInfo(connector), origin: pfxFile };
}

/** The key, the certificate that goes with it, and the other certificates of a PKCS#12 file. */
function openPfx(pfx: Buffer, password: string, file: string, passwordGiven: boolean): { key: string; cert: string; others: X509Certificate[] } {
  let p12: forge.pkcs12.Pkcs12Pfx;
  try {
    p12 = forge.pkcs12.pkcs12FromAsn1(forge.asn1.fromDer(pfx.toString('binary')), password);
  } catch (error) {
    const text = errorMessage(error);
    // forge checks the file's MAC with the password first: that failure can only mean the password.
    if (/MAC could not be verified|Invalid password/i.test(text)) {
      const what = passwordGiven ? 'kics.package.password does not open' : 'kics.package.password is not set and is needed to open';
      throw new KicsPackageError(`${what} ${file} (its integrity check failed with that password)`, { code: 'KICS_PACKAGE_PASSWORD', cause: error });
    }
    throw new KicsPackageError(`cannot open ${file}: not a PKCS#12 file, or kics.package.password is wrong (${text})`, { code: 'KICS_PACKAGE_INVALID', cause: error });
  }
  const bagsOf = (type: string): forge.pkcs12.Bag[] => p12.getBags({ bagType: type })[type] ?? [];
  const keyBag = bagsOf(forge.pki.oids.pkcs8ShroudedKeyBag!)[0] ?? bagsOf(forge.pki.oids.keyBag!)[0];
  if (!keyBag?.key) throw new KicsPackageError(`${file} holds no private key (a connector package holds the connector's key); ${downloadHint}`, { code: 'KICS_PACKAGE_INVALID' });
  const certs = bagsOf(forge.pki.oids.certBag!).flatMap((b) => (b.cert ? [b.cert] : []));
  const modulus = keyBag.key.n.toString(16);
  const mine = certs.find((c) => (c.publicKey as forge.pki.rsa.PublicKey).n?.toString(16) === modulus);
  if (!mine) throw new KicsPackageError(`${file} has no certificate for its private key; ${downloadHint}`, { code: 'KICS_PACKAGE_INVALID' });
  const others = certs.filter((c) => c !== mine).map((c) => new X509Certificate(forge.pki.certificateToPem(c)));
  return { key: forge.pki.privateKeyToPem(keyBag.key), cert: forge.pki.certificateToPem(mine), others };
}

function normalizeThumbprint(text: string): string {
  return text.replace(/[^0-9a-f]/gi, '').toUpperCase();
}

/**
 * The certificate to pin: the one metadata.json names (SHA-256 or SHA-1 thumbprint, any separators),
 * else the only non-CA certificate, else a single self-signed one (KICS's default). Null when the
 * package does not say which certificate is the server's.
 */
function pinnedCertificate(certs: X509Certificate[], thumbprint: string | undefined, pfxFile: string, metaFile: string): X509Certificate | null {
  if (thumbprint) {
    const wanted = normalizeThumbprint(thumbprint);
    const found = certs.find((c) => normalizeThumbprint(c.fingerprint256) === wanted || normalizeThumbprint(c.fingerprint) === wanted);
    if (!found) {
      throw new KicsPackageError(`${metaFile} names the KICS server certificate ${thumbprint}, but ${pfxFile} does not hold it: the two files are not from the same package; ${downloadHint}`, {
        code: 'KICS_PACKAGE_INVALID',
      });
    }
    return found;
  }
  return chooseServerCertificate(certs);
}

function chooseServerCertificate(certs: X509Certificate[]): X509Certificate | null {
  const leaves = certs.filter((c) => !c.ca);
  if (leaves.length === 1) return leaves[0]!;
  if (certs.length === 1 && certs[0]!.checkIssued(certs[0]!)) return certs[0]!;
  return null;
}

function splitPem(text: string): string[] {
  return text.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? [];
}

async function loadPem(pem: NonNullable<KicsConfig['pem']>): Promise<ConnectorTls> {
  const hint = 'give the PEM files of the connector certificate, its key and the KICS server certificate';
  const certText = (await readRequired(pem.cert, 'kics.pem.cert:', hint)).toString('utf8');
  const keyText = (await readRequired(pem.key, 'kics.pem.key:', hint)).toString('utf8');
  const caText = (await readRequired(pem.ca, 'kics.pem.ca:', hint)).toString('utf8');
  const certBlocks = splitPem(certText);
  if (certBlocks.length === 0) throw new KicsPackageError(`kics.pem.cert: ${pem.cert} holds no PEM certificate ("-----BEGIN CERTIFICATE-----")`, { code: 'KICS_PACKAGE_INVALID' });
  const caBlocks = splitPem(caText);
  if (caBlocks.length === 0) throw new KicsPackageError(`kics.pem.ca: ${pem.ca} holds no PEM certificate ("-----BEGIN CERTIFICATE-----")`, { code: 'KICS_PACKAGE_INVALID' });
  let connector: X509Certificate;
  let ca: X509Certificate[];
  try {
    connector = new X509Certificate(certBlocks[0]!);
    ca = caBlocks.map((b) => new X509Certificate(b));
  } catch (error) {
    throw new KicsPackageError(`kics.pem: a certificate in ${pem.cert} or ${pem.ca} cannot be read (${errorMessage(error)})`, { code: 'KICS_PACKAGE_INVALID', cause: error });
  }
  let key;
  try {
    key = createPrivateKey(pem.passphrase === undefined ? keyText : { key: keyText, passphrase: pem.passphrase });
  } catch (error) {
    const encrypted = /ENCRYPTED/.test(keyText);
    const message = encrypted
      ? `kics.pem.passphrase ${pem.passphrase === undefined ? 'is not set and is needed to open' : 'does not open'} the key in ${pem.key}`
      : `kics.pem.key: ${pem.key} is not a PEM private key (${errorMessage(error)})`;
    throw new KicsPackageError(message, { code: encrypted ? 'KICS_PACKAGE_PASSWORD' : 'KICS_PACKAGE_INVALID', cause: error });
  }
  if (!connector.checkPrivateKey(key)) {
    throw new KicsPackageError(`kics.pem.key: the key in ${pem.key} does not belong to the certificate in ${pem.cert}`, { code: 'KICS_PACKAGE_INVALID' });
  }
  const pinned = chooseServerCertificate(ca);
  return {
    cert: certText,
    key: keyText,
    ...(pem.passphrase === undefined ? {} : { passphrase: pem.passphrase }),
    ca: ca.map((x) => x.toString()),
    pinned: pinned ? certificateInfo(pinned) : null,
    connector: certificateInfo(connector),
    origin: pem.cert,
  };
}

function checkValidity(what: string, cert: CertificateInfo, origin: string, now: Date): void {
  const renew = what === 'the connector certificate' ? "download a new communication data package for the connector from KICS" : 'download the communication data package again';
  if (now < cert.notBefore) {
    throw new KicsPackageError(`${what} in ${origin} (${cert.subject}) is not valid before ${cert.notBefore.toISOString()} (this machine's clock says ${now.toISOString()}); check the clock, or ${renew}`, {
      code: 'KICS_CERT_NOT_YET_VALID',
    });
  }
  if (now > cert.notAfter) {
    throw new KicsPackageError(`${what} in ${origin} (${cert.subject}) expired on ${cert.notAfter.toISOString()}; ${renew}`, { code: 'KICS_CERT_EXPIRED' });
  }
}
