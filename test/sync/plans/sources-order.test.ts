import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../../src/config/index.js';
import { planSources } from '../../../src/sync/plans/run.js';

describe('the source order precedence follows', () => {
  it('is the configured order, with KSC managed hosts last and disabled sources left out', () => {
    const config = parseConfig(
      {
        ksc: { url: 'https://ksc.example:13299', user: 'u', password: 'p' },
        sources: [
          { name: 'hosts', type: 'ksc' },
          { name: 'plant-a', type: 'csv', path: 'a.csv', staleAfterDays: 30 },
          { name: 'old', type: 'csv', path: 'old.csv', enabled: false },
          { name: 'netbox', type: 'netbox', url: 'https://netbox.example', token: 't' },
        ],
      },
      { env: {} },
    );
    expect(planSources(config)).toEqual([{ name: 'plant-a', staleAfterDays: 30 }, { name: 'netbox', staleAfterDays: undefined }, { name: 'hosts', staleAfterDays: undefined }]);
  });
});
