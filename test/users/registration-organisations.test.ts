import { expect } from 'chai';
import request from 'supertest';
import { Organisation } from '../../src/organisations/organisation.model.js';
import { User } from '../../src/users/user.model.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { anonymousAgent } from '../helpers/auth.js';
import { buildMunicipality } from '../helpers/factories.js';

const PASSWORD = 'azumino-wasabi-farm-2026';

/** The HTML of the register form's organisation select. */
function organisationSelect(html: string): string {
  const match = /<select id="field-organisationId"[\s\S]*?<\/select>/.exec(html);
  expect(match, 'the organisation select').not.to.equal(null);
  return match![0];
}

/** The organisation field: its block from the label to the select's end. */
function organisationField(html: string): string {
  const match =
    /<div class="field[^"]*">\s*<label for="field-organisationId">[\s\S]*?<\/select>/.exec(html);
  expect(match, 'the organisation field').not.to.equal(null);
  return match![0];
}

/**
 * /register without JavaScript: public/js/organisation-filter.js narrows the organisations to the
 * chosen municipality in a browser; with no script the page must still work on its own.
 */
describe('GET/POST /register: the organisation list without JavaScript', () => {
  let t: TestApp;
  let naganoId: string;
  let matsumotoId: string;
  let naganoOffice: string;
  let matsumotoOffice: string;

  before(async () => {
    t = await createTestApp();
    const [nagano, matsumoto] = await Promise.all([
      buildMunicipality('長野市'),
      buildMunicipality('松本市'),
      buildMunicipality('上田市'),
    ]);
    naganoId = String(nagano._id);
    matsumotoId = String(matsumoto._id);
    const [a, b, c] = await Organisation.create([
      { name: '長野市 保健所', sector: '行政', municipalityId: nagano._id },
      { name: 'ながの若者サポート', sector: '就労', municipalityId: nagano._id },
      { name: '松本市 福祉課', sector: '福祉', municipalityId: matsumoto._id },
    ]);
    naganoOffice = String(a._id);
    matsumotoOffice = String(c._id);
    void b;
  });
  after(async () => {
    await t.close();
  });

  it('lists every organisation, grouped under its municipality', async () => {
    const res = await request(t.app).get('/register').expect(200);
    const select = organisationSelect(res.text);
    const groups = [
      ...select.matchAll(/<optgroup label="([^"]+)" data-parent="([^"]+)">([\s\S]*?)<\/optgroup>/g),
    ];
    const byLabel = new Map(
      groups.map(([, label, parent, body]) => [
        label,
        {
          parent,
          names: [...body.matchAll(/<option value="[^"]+"\s*>([^<]+)<\/option>/g)].map((m) => m[1]),
        },
      ]),
    );
    // Only municipalities with organisations, each with all of its own (上田市 has none).
    expect([...byLabel.keys()]).to.have.members(['長野市', '松本市']);
    expect(byLabel.get('長野市')).to.deep.equal({
      parent: naganoId,
      names: ['ながの若者サポート', '長野市 保健所'],
    });
    expect(byLabel.get('松本市')).to.deep.equal({ parent: matsumotoId, names: ['松本市 福祉課'] });
    // The script that narrows the list is an addition: the select names the field it follows.
    expect(select).to.contain('data-narrow-by="field-municipalityId"');
  });

  it('refuses an organisation of another municipality, next to the field, keeping the input', async () => {
    const { agent, csrfToken } = await anonymousAgent(t.app);
    const email = 'matsumoto-applicant@example.jp';
    const res = await agent
      .post('/register')
      .type('form')
      .send({
        _csrf: csrfToken,
        name: '安曇野 花子',
        nameKana: 'あずみの はなこ',
        email,
        profession: '保健師',
        municipalityId: matsumotoId,
        organisationId: naganoOffice,
        password: PASSWORD,
        passwordConfirm: PASSWORD,
      })
      .expect(422);
    const field = organisationField(res.text);
    expect(field).to.contain('<p class="field__error" id="field-organisationId-error">');
    expect(field).to.contain('選択した市町村の所属機関を選んでください。');
    expect(field).to.contain('aria-invalid="true"');
    // What was chosen stays chosen, so that the person sees what to change.
    expect(field).to.match(new RegExp(`<option value="${naganoOffice}" selected>`));
    expect(res.text).to.match(
      new RegExp(
        `<select id="field-municipalityId"[\\s\\S]*?<option value="${matsumotoId}" selected>`,
      ),
    );
    expect(res.text).to.contain('value="安曇野 花子"');
    expect(res.text).to.contain(`value="${email}"`);
    expect(await User.countDocuments({ email })).to.equal(0);
  });

  it('accepts an organisation of the chosen municipality', async () => {
    const { agent, csrfToken } = await anonymousAgent(t.app);
    const email = 'matsumoto-office@example.jp';
    await agent
      .post('/register')
      .type('form')
      .send({
        _csrf: csrfToken,
        name: '松本 太郎',
        nameKana: 'まつもと たろう',
        email,
        profession: '社会福祉士',
        municipalityId: matsumotoId,
        organisationId: matsumotoOffice,
        password: PASSWORD,
        passwordConfirm: PASSWORD,
      })
      .expect(201);
    const user = await User.findOne({ email }).lean();
    expect(String(user?.organisationId)).to.equal(matsumotoOffice);
    expect(user?.status).to.equal('pending');
  });
});
