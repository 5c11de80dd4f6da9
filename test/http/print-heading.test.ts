import { expect } from 'chai';
import { formatDate } from '../../src/lib/dates.js';
import { Organisation } from '../../src/organisations/organisation.model.js';
import { User } from '../../src/users/user.model.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { signIn } from '../helpers/auth.js';
import { buildUser } from '../helpers/factories.js';

/** The paper-only line of a page (views/partials/print-heading.ejs). */
const headingOf = (html: string) => /<p class="print-only">([^<]*)<\/p>/.exec(html)?.[1] ?? null;

describe('the print heading of pages meant for paper', () => {
  let t: TestApp;
  before(async () => {
    t = await createTestApp();
  });
  after(async () => {
    await t.close();
  });

  it("heads a coordinator's municipality report with their name, municipality and the date", async () => {
    const { user, password } = await buildUser({ roles: ['coordinator'], name: '印刷 一子' });
    const coordinator = await signIn(t.app, user, password);
    const res = await coordinator
      .get(`/reports/municipalities/${String(user.municipalityId)}`)
      .expect(200);
    expect(headingOf(res.text)).to.equal(
      `氏名：印刷 一子\u3000市町村：長野市\u3000印刷日：${formatDate(new Date())}`,
    );
  });

  it("heads a regional viewer's region report and names the organisation when there is one", async () => {
    const { user, password } = await buildUser({ roles: ['regional_viewer'], name: '印刷 二郎' });
    const organisation = await Organisation.create({
      name: '長野圏域 保健福祉事務所',
      sector: '行政',
      municipalityId: user.municipalityId!,
    });
    await User.updateOne({ _id: user._id }, { $set: { organisationId: organisation._id } });
    const viewer = await signIn(t.app, user, password);
    const res = await viewer.get(`/reports/regions/${String(user.regionId)}`).expect(200);
    expect(headingOf(res.text)).to.equal(
      `氏名：印刷 二郎\u3000所属機関：長野圏域 保健福祉事務所\u3000印刷日：${formatDate(new Date())}`,
    );
  });

  it("heads the certificates list with the administrator's name and the date", async () => {
    const { user, password } = await buildUser({ roles: ['admin'], name: '印刷 三郎' });
    const admin = await signIn(t.app, user, password);
    const res = await admin.get('/admin/certificates').expect(200);
    expect(headingOf(res.text)).to.equal(`氏名：印刷 三郎\u3000印刷日：${formatDate(new Date())}`);
  });
});
