import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KicsPackageError, loadConnectorTls } from '../../../src/adapters/kics/index.js';
import { kicsConfigSchema } from '../../../src/config/kics.js';
import { startTestKicsSimulator, type TestKicsSimulator } from '../../support/kics-simulator.js';

/** The connector's communication data package (or PEM files): what is loaded, what is pinned, and each way it can be unusable. */
describe('KICS connector package', () => {
  let t: TestKicsSimulator;
  let dir: string;

  beforeAll(async () => {
    t = await startTestKicsSimulator({ devices: 1, packagePassword: 'right password' });
    dir = mkdtempSync(path.join(os.tmpdir(), 'kics-sync-package-'));
  });
  afterAll(async () => {
    await t.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const config = (section: Record<string, unknown>) => kicsConfigSchema.parse({ url: t.url, ...section });
  const copyPackage = (name: string): string => {
    const target = path.join(dir, name);
    rmSync(target, { recursive: true, force: true });
    mkdirSync(target);
    return target;
  };
  const failure = async (section: Record<string, unknown>, now?: Date): Promise<KicsPackageError> => {
    const error = await loadConnectorTls(config(section), now).then(
      () => null,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(KicsPackageError);
    return error as KicsPackageError;
  };

  it('loads the connector identity and pins the server certificate metadata.json names', async () => {
    const tls = await loadConnectorTls(config({ package: { dir: t.packageDir, password: 'right password' } }));
    const server = new X509Certificate(t.sim.server.cert);
    expect(tls.pinned?.fingerprint256).toBe(server.fingerprint256);
    expect(tls.connector.fingerprint256).toBe(new X509Certificate(t.identity.cert).fingerprint256);
    expect(tls.connector.subject).toContain('CN=kics-sync connector');
    // Trust anchors: the package's other certificates (the CA and the server certificate), never the system store.
    expect(tls.ca.map((pem) => new X509Certificate(pem).fingerprint256).sort()).toEqual([new X509Certificate(t.sim.server.caCert).fingerprint256, server.fingerprint256].sort());
  });

  it('refuses a wrong package password in one line naming the file and the key', async () => {
    const error = await failure({ package: { dir: t.packageDir, password: 'wrong password' } });
    expect(error.code).toBe('KICS_PACKAGE_PASSWORD');
    expect(error.message).toBe(`kics.package.password does not open ${path.join(t.packageDir, 'certificates.pfx')} (its integrity check failed with that password)`);
    expect(error.message).not.toContain('wrong password"');
  });

  it('says the password is missing when none is given', async () => {
    const error = await failure({ package: { dir: t.packageDir } });
    expect(error.code).toBe('KICS_PACKAGE_PASSWORD');
    expect(error.message).toMatch(/^kics\.package\.password is not set and is needed to open .*certificates\.pfx/);
  });

  it('names a missing certificates.pfx or metadata.json and says where to get them', async () => {
    const noPfx = copyPackage('no-pfx');
    copyFileSync(path.join(t.packageDir, 'metadata.json'), path.join(noPfx, 'metadata.json'));
    const missingPfx = await failure({ package: { dir: noPfx, password: 'right password' } });
    expect(missingPfx.code).toBe('KICS_PACKAGE_FILE_MISSING');
    expect(missingPfx.message).toBe(`kics.package.dir: the package file ${path.join(noPfx, 'certificates.pfx')} does not exist; download the connector's communication data package from KICS and unpack it there`);

    const noMeta = copyPackage('no-metadata');
    copyFileSync(path.join(t.packageDir, 'certificates.pfx'), path.join(noMeta, 'certificates.pfx'));
    const missingMeta = await failure({ package: { dir: noMeta, password: 'right password' } });
    expect(missingMeta.code).toBe('KICS_PACKAGE_FILE_MISSING');
    expect(missingMeta.message).toContain(`${path.join(noMeta, 'metadata.json')} does not exist`);
  });

  it('refuses files that are not a package: metadata that is not JSON, a PFX that is not PKCS#12', async () => {
    const broken = copyPackage('broken');
    writeFileSync(path.join(broken, 'metadata.json'), '<html>not json</html>');
    copyFileSync(path.join(t.packageDir, 'certificates.pfx'), path.join(broken, 'certificates.pfx'));
    expect((await failure({ package: { dir: broken, password: 'right password' } })).message).toMatch(/metadata\.json is not the metadata\.json of a communication data package \(not JSON\)/);

    copyFileSync(path.join(t.packageDir, 'metadata.json'), path.join(broken, 'metadata.json'));
    writeFileSync(path.join(broken, 'certificates.pfx'), 'PK\u0003\u0004 a zip file, not a PFX');
    const notPfx = await failure({ package: { dir: broken, password: 'right password' } });
    expect(notPfx.code).toBe('KICS_PACKAGE_INVALID');
    expect(notPfx.message).toMatch(/^cannot open .*certificates\.pfx: not a PKCS#12 file/);
  });

  it('refuses a metadata.json that names a server certificate the PFX does not hold (files of two packages)', async () => {
    const mixed = copyPackage('mixed');
    copyFileSync(path.join(t.packageDir, 'certificates.pfx'), path.join(mixed, 'certificates.pfx'));
    const metadata = JSON.parse(readFileSync(path.join(t.packageDir, 'metadata.json'), 'utf8')) as Record<string, unknown>;
    writeFileSync(path.join(mixed, 'metadata.json'), JSON.stringify({ ...metadata, serverCertificateThumbprint: 'AB:'.repeat(31) + 'AB' }));
    const error = await failure({ package: { dir: mixed, password: 'right password' } });
    expect(error.code).toBe('KICS_PACKAGE_INVALID');
    expect(error.message).toMatch(/names the KICS server certificate AB:AB.*, but .*certificates\.pfx does not hold it: the two files are not from the same package/);
  });

  it('refuses an expired connector certificate before connecting', async () => {
    const expired = copyPackage('expired');
    await t.sim.writeClientPackage(expired, { kind: 'expired', password: 'pw' });
    const error = await failure({ package: { dir: expired, password: 'pw' } });
    expect(error.code).toBe('KICS_CERT_EXPIRED');
    expect(error.message).toMatch(/^the connector certificate in .*certificates\.pfx \(.*CN=kics-sync connector.*\) expired on \d{4}-\d\d-\d\dT.*Z; download a new communication data package for the connector from KICS$/);
  });

  it('refuses a certificate that is not valid yet (a clock behind the package)', async () => {
    const error = await failure({ package: { dir: t.packageDir, password: 'right password' } }, new Date('2001-01-01T00:00:00Z'));
    expect(error.code).toBe('KICS_CERT_NOT_YET_VALID');
    expect(error.message).toMatch(/is not valid before .*\(this machine's clock says 2001-01-01T00:00:00\.000Z\); check the clock/);
  });

  it('loads PEM files instead: the server certificate in pem.ca is pinned; a key of another certificate is refused', async () => {
    const files = { cert: path.join(dir, 'connector.crt'), key: path.join(dir, 'connector.key'), ca: path.join(dir, 'kics.crt') };
    writeFileSync(files.cert, t.identity.cert);
    writeFileSync(files.key, t.identity.key);
    writeFileSync(files.ca, `${t.sim.server.caCert}\n${t.sim.server.cert}`);
    const tls = await loadConnectorTls(config({ pem: files }));
    expect(tls.pinned?.fingerprint256).toBe(new X509Certificate(t.sim.server.cert).fingerprint256);

    const other = t.sim.issueClientIdentity('valid');
    writeFileSync(files.key, other.key);
    const error = await failure({ pem: files });
    expect(error.message).toBe(`kics.pem.key: the key in ${files.key} does not belong to the certificate in ${files.cert}`);
  });
});
