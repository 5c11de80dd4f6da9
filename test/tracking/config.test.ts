import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { expect } from 'chai';
import { ConfigError, loadConfig } from '../../src/config.js';

describe('config: tracking reports', () => {
  const dataDir = () => mkdtempSync(path.join(tmpdir(), 'tsunagu-config-'));

  it('defaults to 30 days, a threshold of 3 and 福祉・教育・保健・医療', () => {
    expect(loadConfig({ DATA_DIR: dataDir() }).tracking).to.deep.equal({
      stalledAfterDays: 30,
      smallCountThreshold: 3,
      coverageTarget: ['福祉', '教育', '保健・医療'],
    });
  });

  it('reads STALLED_AFTER_DAYS, SMALL_COUNT_THRESHOLD and COVERAGE_TARGET', () => {
    const config = loadConfig({
      DATA_DIR: dataDir(),
      STALLED_AFTER_DAYS: '14',
      SMALL_COUNT_THRESHOLD: '5',
      COVERAGE_TARGET: ' 福祉 ,就労,福祉',
    });
    expect(config.tracking).to.deep.equal({
      stalledAfterDays: 14,
      smallCountThreshold: 5,
      coverageTarget: ['福祉', '就労'],
    });
  });

  it('refuses an unknown sector, a zero threshold and a negative number of days', () => {
    let error: unknown;
    try {
      loadConfig({
        DATA_DIR: dataDir(),
        COVERAGE_TARGET: '福祉,医療',
        SMALL_COUNT_THRESHOLD: '0',
        STALLED_AFTER_DAYS: '-1',
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).to.be.instanceOf(ConfigError);
    const problems = (error as ConfigError).problems.join('\n');
    expect(problems).to.include('COVERAGE_TARGET');
    expect(problems).to.include('SMALL_COUNT_THRESHOLD');
    expect(problems).to.include('STALLED_AFTER_DAYS');
  });
});
