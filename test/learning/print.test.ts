import { expect } from 'chai';
import { Organisation } from '../../src/organisations/organisation.model.js';
import { User } from '../../src/users/user.model.js';
import { formatDate } from '../../src/lib/dates.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { signIn } from '../helpers/auth.js';
import { buildUser } from '../helpers/factories.js';

describe('GET /learn/me when printed', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t.close();
  });

  it("heads the printed record with the person's name, organisation and the print date", async () => {
    const { user, password } = await buildUser({ name: '印刷 花子' });
    const organisation = await Organisation.create({
      name: '長野市 保健所',
      sector: '行政',
      municipalityId: user.municipalityId!,
    });
    await User.updateOne({ _id: user._id }, { $set: { organisationId: organisation._id } });
    const me = await signIn(t.app, user, password);
    const res = await me.get('/learn/me').expect(200);
    expect(res.text).to.contain(
      `<p class="print-only">氏名：印刷 花子\u3000所属機関：長野市 保健所\u3000印刷日：${formatDate(new Date())}</p>`,
    );
  });
});
