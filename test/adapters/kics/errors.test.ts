import { expect, it } from 'vitest';
import { KicsApiError, kicsErrorCodes, type KicsErrorCode } from '../../../src/adapters/kics/index.js';

// The compiler is the check here (`npm run typecheck` covers test/): a misspelt code must not compile.
it('a KICS error code that is not one the client throws does not compile', () => {
  // @ts-expect-error: a misspelt code is not a KicsErrorCode
  const misspelt: KicsErrorCode = 'KICS_UNREACHEABLE';
  expect(kicsErrorCodes).not.toContain(misspelt);
  const endpoint = { route: 'devicesQuery', method: 'POST', path: '/devices/query' } as const;
  // @ts-expect-error: KicsApiError takes only KicsErrorCode codes
  expect(new KicsApiError('x', { code: 'KICS_NOPE', endpoint }).code).toBe('KICS_NOPE');
});
