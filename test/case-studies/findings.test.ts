import { expect } from 'chai';
import { findingsFor } from '../../src/case-studies/findings.js';

const section = { id: 'basic-info', title: '基本情報', guidance: '', minLength: 1 };

/** True when the string holds half of a surrogate pair (a character cut in two). */
function hasLoneSurrogate(value: string): boolean {
  return /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(value);
}

describe('findingsFor: the sentence shown around a finding', () => {
  before(async function () {
    this.timeout(120_000);
    await findingsFor([section], new Map([['basic-info', '電話は090-1234-5678です。']]), []);
  });

  it('never cuts a character outside the basic plane in two at the edges of the context', async () => {
    // With one 'x' on each side of the phone number, the 40-unit context edges fall inside pairs.
    for (const pad of [0, 1]) {
      const x = 'x'.repeat(pad);
      const text = `${'𠮷'.repeat(60)}${x}090-1234-5678${x}${'𠮷'.repeat(60)}`;
      const [finding] = await findingsFor([section], new Map([['basic-info', text]]), []);
      expect(finding?.kind).to.equal('phone');
      expect(hasLoneSurrogate(finding.before), `before, pad ${pad}`).to.equal(false);
      expect(hasLoneSurrogate(finding.after), `after, pad ${pad}`).to.equal(false);
    }
  });
});
