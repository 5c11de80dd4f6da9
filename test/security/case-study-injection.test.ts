/**
 * Operator injection in the case-study routes: MongoDB operators, arrays and prototype keys in
 * the form (JSON and URL-encoded bodies, which the route also reads) and in the autosave's JSON.
 * Nothing may answer 500, and nothing may change but the author's own draft: no other case study,
 * no version, no file, no other collection.
 */
import { expect } from 'chai';
import mongoose, { Types } from 'mongoose';
import { CaseStudy, CaseStudyVersion } from '../../src/case-studies/case-study.model.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { signIn, type SignedIn } from '../helpers/auth.js';
import { buildUser } from '../helpers/factories.js';
import {
  PAGE,
  caseSections,
  completeTexts,
  field,
  openPage,
  pdfBytes,
  postForm,
} from '../case-studies/helpers.js';
import { snapshot } from './helpers.js';

/** Collections a rejected or harmless request may still touch: its session (flash, CSRF) and
 * the record of the trainee opening their own draft when a page is rendered. */
const MAY_CHANGE = new Set(['sessions', 'case_study_access', 'case_studies']);

describe('security: operator injection in the case-study routes', () => {
  let t: TestApp;
  let author: SignedIn;
  let other: SignedIn;
  let authorId: string;
  let otherCaseId: string;
  let sectionIds: string[];

  before(async function () {
    this.timeout(60_000);
    t = await createTestApp();
    const a = await buildUser({ roles: ['trainee'] });
    const o = await buildUser({ roles: ['trainee'] });
    authorId = String(a.user._id);
    author = await signIn(t.app, a.user, a.password);
    other = await signIn(t.app, o.user, o.password);
    sectionIds = (await caseSections()).map((s) => s.id);
    // Another trainee's submitted case study (with a file and a version), and the author's draft.
    await postForm(
      other,
      {
        texts: await completeTexts(),
        files: [{ name: 'family.pdf', bytes: pdfBytes() }],
        action: 'submit',
      },
      303,
    );
    otherCaseId = String((await CaseStudy.findOne({ userId: o.user._id }))!._id);
    await postForm(author, { texts: { [sectionIds[0]]: '下書きの本文です。' } }, 303);
  });
  after(async () => {
    await t.close();
  });

  const notTheAuthor = () => mongoose.trusted({ $ne: new Types.ObjectId(authorId) });

  /** Everything but the author's own draft, as comparable text. */
  async function outsideTheDraft(): Promise<Record<string, string>> {
    const all = await snapshot(t.database.connection, t.config.dataDir);
    const kept = Object.fromEntries(Object.entries(all).filter(([name]) => !MAY_CHANGE.has(name)));
    const others = await CaseStudy.find({ userId: notTheAuthor() }).sort({ _id: 1 }).lean();
    kept['case_studies (others)'] = JSON.stringify(others);
    return kept;
  }

  /** The author's draft holds only section ids with string values. */
  async function expectCleanDraft(label: string) {
    const doc = await CaseStudy.findOne({ userId: { $eq: authorId } }).lean();
    expect(doc, label).not.to.equal(null);
    expect(doc!.state, label).to.equal('draft');
    for (const [key, value] of Object.entries(doc!.draft.sections)) {
      expect(sectionIds, `${label}: key ${key}`).to.include(key);
      expect(value, `${label}: ${key}`).to.be.a('string');
    }
    expect(doc!.draft.attachments, label).to.deep.equal([]);
    expect(await CaseStudy.countDocuments({ userId: { $eq: authorId } }), label).to.equal(1);
  }

  async function expectNothingElseChanged(run: () => Promise<void>) {
    const before = await outsideTheDraft();
    await run();
    const after = await outsideTheDraft();
    const changed = Object.keys({ ...before, ...after }).filter((k) => before[k] !== after[k]);
    expect(changed, 'collections changed outside the author’s draft').to.deep.equal([]);
    expect(({} as Record<string, unknown>).polluted).to.equal(undefined);
  }

  it('autosave: operators, arrays and prototype keys are refused or ignored, never a 500', async () => {
    const revision = Number((await openPage(author)).revision);
    const first = sectionIds[0];
    const bodies: unknown[] = [
      { revision, sections: { $gt: '' } },
      { revision, sections: { [first]: { $ne: '' } } },
      { revision, sections: { [first]: ['a', 'b'] } },
      { revision, sections: [{ [first]: 'x' }] },
      { revision: { $ne: 0 }, sections: { [first]: 'x' } },
      { revision: { $gt: -1 }, sections: {} },
      { revision: [revision], sections: { [first]: 'x' } },
      { revision: String(revision), sections: { [first]: 'x' } },
      { revision, sections: { [`${first}.$`]: 'x', 'draft.state': 'approved', $set: 'x' } },
      JSON.parse(`{"revision": ${revision}, "sections": {"__proto__": "x"}, "state": "approved"}`),
      JSON.parse(
        `{"revision": ${revision}, "sections": {"__proto__": {"${first}": "x"}}, "__proto__": {"polluted": "yes"}}`,
      ),
      JSON.parse(
        `{"revision": ${revision}, "sections": {"constructor": {"prototype": {"polluted": "yes"}}}}`,
      ),
      { revision, sections: { [first]: 'x' }, caseStudyId: otherCaseId, _id: otherCaseId },
    ];
    await expectNothingElseChanged(async () => {
      for (const body of bodies) {
        const res = await author.agent
          .post(`${PAGE}/draft`)
          .set('accept', 'application/json')
          .set('x-csrf-token', author.csrfToken)
          .set('content-type', 'application/json')
          .send(JSON.stringify(body));
        expect(res.status, JSON.stringify(body)).to.be.below(500);
        await expectCleanDraft(JSON.stringify(body));
      }
    });
    // An autosave with the current revision writes only the section it names, as text.
    const current = (await CaseStudy.findOne({ userId: { $eq: authorId } }).lean())!.draft;
    await author.agent
      .post(`${PAGE}/draft`)
      .set('accept', 'application/json')
      .set('x-csrf-token', author.csrfToken)
      .send({ revision: current.revision, sections: { [first]: 'x', $gt: 'y', 'a.b': 'y' } })
      .expect(200);
    const doc = await CaseStudy.findOne({ userId: { $eq: authorId } }).lean();
    expect(doc!.draft.sections).to.deep.equal({ ...current.sections, [first]: 'x' });
  });

  it('the form, as JSON: operators in every field are refused or ignored, never a 500', async () => {
    const first = sectionIds[0];
    const revision = (await openPage(author)).revision;
    const bodies: Record<string, unknown>[] = [
      { revision: { $ne: 0 }, [field(first)]: 'y' },
      { revision: { $gt: '' }, action: 'submit' },
      { revision, [field(first)]: { $ne: '' }, action: 'save' },
      { revision, [field(first)]: ['a', 'b'], action: 'save' },
      { revision, remove: { $ne: null } },
      { revision, remove: [{ $ne: null }] },
      { revision, remove: otherCaseId },
      { revision, confirm: { $ne: '' }, action: 'submit' },
      { revision, confirm: [{ $gt: '' }], action: ['submit'] },
      { revision, action: { $eq: 'submit' } },
      JSON.parse(
        `{"revision": "${revision}", "__proto__": {"${field(first)}": "z", "action": "submit"}}`,
      ),
      JSON.parse(`{"revision": "${revision}", "constructor": {"prototype": {"polluted": "yes"}}}`),
    ];
    await expectNothingElseChanged(async () => {
      for (const body of bodies) {
        const res = await author.agent
          .post(PAGE)
          .set('content-type', 'application/json')
          .send(JSON.stringify({ ...body, _csrf: author.csrfToken }));
        expect(res.status, JSON.stringify(body)).to.be.below(500);
        await expectCleanDraft(JSON.stringify(body));
      }
    });
    const doc = await CaseStudy.findOne({ userId: { $eq: authorId } }).lean();
    expect(doc!.draft.sections[first], 'no operator or prototype value saved').to.equal('x');
  });

  it('the form, URL-encoded: bracketed operators stay literal field names, never a 500', async () => {
    const first = sectionIds[0];
    const revision = (await openPage(author)).revision;
    const forms = [
      `revision[$ne]=0&${encodeURIComponent(field(first))}=y`,
      `revision=${revision}&${encodeURIComponent(field(first))}[$gt]=&action=save`,
      `revision=${revision}&revision=${Number(revision) + 1}&action=save`,
      `revision=${revision}&remove[$ne]=x&confirm[$gt]=&action[$eq]=submit`,
      `revision=${revision}&__proto__[polluted]=yes&constructor[prototype][polluted]=yes`,
    ];
    await expectNothingElseChanged(async () => {
      for (const form of forms) {
        const res = await author.agent
          .post(PAGE)
          .type('form')
          .send(`${form}&_csrf=${encodeURIComponent(author.csrfToken)}`);
        expect(res.status, form).to.be.below(500);
        await expectCleanDraft(form);
      }
    });
    const doc = await CaseStudy.findOne({ userId: { $eq: authorId } }).lean();
    expect(doc!.draft.sections[first]).to.equal('x');
    // The other trainee's version and file are still theirs alone.
    expect(await CaseStudyVersion.countDocuments({ userId: notTheAuthor() })).to.equal(1);
  });
});
