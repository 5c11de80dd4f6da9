import { expect } from 'chai';
import { createTestApp, type TestApp } from '../helpers/app.js';
import {
  Municipality,
  Organisation,
  Region,
  listMunicipalitiesByRegion,
  readReferenceMunicipalities,
  seedOrganisations,
  toSelectOptions,
} from '../../src/organisations/index.js';

describe('seedOrganisations()', () => {
  let testApp: TestApp;
  before(async () => {
    testApp = await createTestApp();
  });
  after(async () => {
    await testApp.close();
  });

  it('loads 10 regions and 77 municipalities (19 市, 23 町, 35 村) on an empty database', async () => {
    // The app may already have seeded at start-up; count what exists either way.
    await seedOrganisations();
    expect(await Region.countDocuments()).to.equal(10);
    expect(await Municipality.countDocuments()).to.equal(77);
    expect(await Municipality.countDocuments({ kind: { $eq: '市' } })).to.equal(19);
    expect(await Municipality.countDocuments({ kind: { $eq: '町' } })).to.equal(23);
    expect(await Municipality.countDocuments({ kind: { $eq: '村' } })).to.equal(35);
  });

  it('adds nothing on a second run', async () => {
    const result = await seedOrganisations();
    expect(result).to.deep.equal({ regionsCreated: 0, municipalitiesCreated: 0 });
    expect(await Region.countDocuments()).to.equal(10);
    expect(await Municipality.countDocuments()).to.equal(77);
  });

  it('keeps the order of the reference file and links each municipality to its region', async () => {
    const regions = await Region.find().sort({ order: 1 }).lean();
    expect(regions.map((region) => region.name)).to.deep.equal([
      '佐久',
      '上小',
      '諏訪',
      '上伊那',
      '南信州',
      '木曽',
      '松本',
      '北アルプス',
      '長野',
      '北信',
    ]);
    const nagano = await Municipality.findOne({ name: { $eq: '長野市' } }).lean();
    const region = await Region.findById(nagano!.regionId).lean();
    expect(region!.name).to.equal('長野');
  });

  it('groups municipalities by region for select boxes', async () => {
    const groups = await listMunicipalitiesByRegion();
    expect(groups).to.have.length(10);
    expect(groups[0].region.name).to.equal('佐久');
    expect(groups[0].municipalities[0].name).to.equal('小諸市');
    expect(groups.reduce((sum, group) => sum + group.municipalities.length, 0)).to.equal(77);
    const options = toSelectOptions(groups);
    expect(options[0].group).to.equal('佐久圏域');
    expect(options[0].options[0]).to.have.property('label', '小諸市');
  });

  it('refuses a second organisation of the same name in one municipality', async () => {
    const [a, b] = await Municipality.find().sort({ order: 1 }).limit(2).lean();
    await Organisation.create({ name: '社会福祉協議会', sector: '福祉', municipalityId: a._id });
    await Organisation.create({ name: '社会福祉協議会', sector: '福祉', municipalityId: b._id });
    let error: unknown;
    try {
      await Organisation.create({ name: '社会福祉協議会', sector: '福祉', municipalityId: a._id });
    } catch (caught) {
      error = caught;
    }
    expect((error as { code?: number }).code).to.equal(11000);
  });
});

describe('readReferenceMunicipalities()', () => {
  it('reads the reference file in order', () => {
    const rows = readReferenceMunicipalities();
    expect(rows).to.have.length(77);
    expect(rows[0]).to.deep.equal({ region: '佐久', name: '小諸市', kind: '市' });
  });
});
