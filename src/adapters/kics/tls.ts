import { isIP } from 'node:net';
import tls, { type PeerCertificate } from 'node:tls';
import { Agent } from 'undici';
import { errorMessage } from '../../errors.js';
import type { KicsErrorCode } from './errors.js';
import { certificateInfo, type ConnectorTls } from './package.js';

/**
 * TLS towards KICS: mutual TLS with the connector certificate, and the server certificate pinned.
 * The chain is verified against the package's certificates (Node's usual verification: signature,
 * validity dates), then `checkServerIdentity` accepts exactly the pinned certificate (by SHA-256
 * fingerprint). The host name is not compared when a certificate is pinned: KICS's default certificate
 * is self-signed for whatever name the server had, and an exact pin is stronger than a name.
 * Verification is off only with `kics.insecure`, which the client announces on every run.
 */

export const pinMismatchCode = 'KICS_TLS_PIN_MISMATCH' satisfies KicsErrorCode;

export interface AgentOptions {
  tls: ConnectorTls;
  insecure: boolean;
  connections: number;
  timeoutMs: number;
}

export function createKicsAgent(options: AgentOptions): Agent {
  const { tls: identity } = options;
  const pinned = identity.pinned?.fingerprint256 ?? null;
  const checkServerIdentity = (host: string, cert: PeerCertificate): Error | undefined => {
    if (pinned === null) return tls.checkServerIdentity(host, cert);
    if (cert.fingerprint256 === pinned) return undefined;
    const error = new Error(`the server presented certificate ${cert.fingerprint256}, not the pinned ${pinned}`) as Error & { code: string; presented: string };
    error.code = pinMismatchCode;
    error.presented = cert.fingerprint256;
    return error;
  };
  return new Agent({
    connections: options.connections,
    keepAliveTimeout: 30_000,
    headersTimeout: options.timeoutMs,
    bodyTimeout: options.timeoutMs,
    connectTimeout: Math.min(options.timeoutMs, 10_000),
    connect: options.insecure
      ? { cert: identity.cert, key: identity.key, ...(identity.passphrase === undefined ? {} : { passphrase: identity.passphrase }), rejectUnauthorized: false }
      : {
          cert: identity.cert,
          key: identity.key,
          ...(identity.passphrase === undefined ? {} : { passphrase: identity.passphrase }),
          ca: identity.ca,
          // With a pinned certificate, a trust list that holds the server certificate alone (kics.pem.ca
          // without its CA) is enough: OpenSSL then trusts that certificate as it is (Node >= 20.18).
          ...(pinned === null ? {} : { allowPartialTrustChain: true }),
          rejectUnauthorized: true,
          checkServerIdentity,
          minVersion: 'TLSv1.2',
        },
  });
}

/** Error codes Node gives when the server's certificate chain does not verify. */
const untrustedCodes = new Set([
  'SELF_SIGNED_CERT_IN_CHAIN',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'CERT_SIGNATURE_FAILURE',
  'CERT_UNTRUSTED',
  'CERT_HAS_EXPIRED',
  'CERT_NOT_YET_VALID',
  'ERR_TLS_CERT_ALTNAME_INVALID',
  'CERT_REVOKED',
  'INVALID_CA',
]);

export function isServerCertificateError(code: string | undefined): boolean {
  return code !== undefined && (untrustedCodes.has(code) || code === pinMismatchCode);
}

/**
 * What certificate the server at `url` presents, read without verifying it, for an error message that
 * says what was found. Nothing is sent over this connection: it is closed right after the handshake.
 */
export async function presentedCertificate(url: URL, identity: ConnectorTls, timeoutMs = 5_000): Promise<string | null> {
  return new Promise((resolve) => {
    let settled = false;
    const done = (value: string | null): void => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(value);
    };
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const socket = tls.connect({
      host,
      port: Number(url.port || 443),
      ...(isIP(host) ? {} : { servername: host }),
      cert: identity.cert,
      key: identity.key,
      ...(identity.passphrase === undefined ? {} : { passphrase: identity.passphrase }),
      rejectUnauthorized: false,
    });
    socket.setTimeout(timeoutMs, () => done(null));
    socket.once('secureConnect', () => {
      try {
        const peer = socket.getPeerX509Certificate();
        if (!peer) return done(null);
        const info = certificateInfo(peer);
        done(`${info.subject}, SHA-256 ${info.fingerprint256}, valid ${info.notBefore.toISOString()} to ${info.notAfter.toISOString()}`);
      } catch (error) {
        done(`(unreadable: ${errorMessage(error)})`);
      }
    });
    socket.once('error', () => done(null));
  });
}

/** A one-line explanation of why the server's certificate was not accepted. */
export async function explainServerCertificate(url: URL, identity: ConnectorTls, code: string): Promise<string> {
  const presented = await presentedCertificate(url, identity);
  const where = `KICS at ${url.host}`;
  const pinned = identity.pinned;
  const found = presented ? `it presented ${presented}` : 'its certificate could not be read';
  const expected = pinned ? `the pinned certificate from the communication data package is ${pinned.subject}, SHA-256 ${pinned.fingerprint256}` : `the package's CA certificates do not vouch for it`;
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID') {
    return `${where} presented a certificate that is ${code === 'CERT_HAS_EXPIRED' ? 'expired' : 'not yet valid'} (${found}); check the server's certificate and this machine's clock`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') return `${where}: its certificate does not name the host ${url.hostname} (${found}); use the host name the certificate names in kics.url`;
  if (pinned && presented?.includes(pinned.fingerprint256)) {
    // The right certificate, whose chain did not verify: say that, not that it is another server.
    return `${where} presented the pinned certificate (${pinned.subject}, SHA-256 ${pinned.fingerprint256}), but its chain did not verify against the certificates of ${identity.origin} (${code}); give the KICS server certificate and the CA that issued it`;
  }
  return `${where} is not the server of the communication data package: ${found}; ${expected}. Check kics.url, or download the package again if KICS's certificate was renewed`;
}
