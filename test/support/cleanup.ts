import { afterEach } from 'vitest';
import { killLiveChildren } from './cli.js';

/**
 * After each test, whether it passed, failed or timed out: no CLI process it started keeps running
 * (and holding the embedded database's lock or a port) into the next test or past the suite.
 */
afterEach(async () => {
  await killLiveChildren();
});
