import { expect } from 'chai';
import type TestAgent from 'supertest/lib/agent.js';
import { Municipality, Organisation, seedOrganisations } from '../../src/organisations/index.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { anonymousAgent, signIn } from '../helpers/auth.js';
import { buildUser } from '../helpers/factories.js';

type Who = 'anonymous' | 'trainee' | 'supervisor' | 'coordinator' | 'regional_viewer' | 'admin';
const WHO: Who[] = [
  'anonymous',
  'trainee',
  'supervisor',
  'coordinator',
  'regional_viewer',
  'admin',
];

/**
 * Every admin route × every role. 302 = sent to /login, 403 = the role may not use the page,
 * 404 = the record lies outside the person's municipality or region. The signed-in people all
 * belong to 長野市 (長野 region); "other" records are in 松本市.
 */
const rows: { method: 'GET' | 'POST'; path: string; expect: Record<Who, number> }[] = [
  {
    method: 'GET',
    path: '/admin/users',
    expect: {
      anonymous: 302,
      trainee: 403,
      supervisor: 403,
      coordinator: 200,
      regional_viewer: 200,
      admin: 200,
    },
  },
  {
    method: 'GET',
    path: '/admin/users/:own',
    expect: {
      anonymous: 302,
      trainee: 403,
      supervisor: 403,
      coordinator: 200,
      regional_viewer: 200,
      admin: 200,
    },
  },
  {
    method: 'GET',
    path: '/admin/users/:other',
    expect: {
      anonymous: 302,
      trainee: 403,
      supervisor: 403,
      coordinator: 404,
      regional_viewer: 404,
      admin: 200,
    },
  },
  {
    method: 'POST',
    path: '/admin/users/:own/roles',
    expect: {
      anonymous: 302,
      trainee: 403,
      supervisor: 403,
      coordinator: 403,
      regional_viewer: 403,
      admin: 303,
    },
  },
  {
    method: 'POST',
    path: '/admin/users/:other/roles',
    expect: {
      anonymous: 302,
      trainee: 403,
      supervisor: 403,
      coordinator: 403,
      regional_viewer: 403,
      admin: 303,
    },
  },
  {
    method: 'POST',
    path: '/admin/users/:own/reactivate',
    expect: {
      anonymous: 302,
      trainee: 403,
      supervisor: 403,
      coordinator: 303,
      regional_viewer: 403,
      admin: 303,
    },
  },
  {
    method: 'POST',
    path: '/admin/users/:other/reactivate',
    expect: {
      anonymous: 302,
      trainee: 403,
      supervisor: 403,
      coordinator: 404,
      regional_viewer: 403,
      admin: 303,
    },
  },
  {
    method: 'GET',
    path: '/admin/users/import',
    expect: {
      anonymous: 302,
      trainee: 403,
      supervisor: 403,
      coordinator: 200,
      regional_viewer: 403,
      admin: 200,
    },
  },
  {
    method: 'GET',
    path: '/admin/users/import/template.csv',
    expect: {
      anonymous: 302,
      trainee: 403,
      supervisor: 403,
      coordinator: 200,
      regional_viewer: 403,
      admin: 200,
    },
  },
  {
    method: 'GET',
    path: '/admin/users/import/:batch',
    expect: {
      anonymous: 302,
      trainee: 403,
      supervisor: 403,
      coordinator: 404,
      regional_viewer: 403,
      admin: 200,
    },
  },
  {
    method: 'GET',
    path: '/admin/organisations',
    expect: {
      anonymous: 302,
      trainee: 403,
      supervisor: 403,
      coordinator: 200,
      regional_viewer: 200,
      admin: 200,
    },
  },
  {
    method: 'GET',
    path: '/admin/organisations/new',
    expect: {
      anonymous: 302,
      trainee: 403,
      supervisor: 403,
      coordinator: 403,
      regional_viewer: 403,
      admin: 200,
    },
  },
  {
    method: 'GET',
    path: '/admin/organisations/:organisation/edit',
    expect: {
      anonymous: 302,
      trainee: 403,
      supervisor: 403,
      coordinator: 403,
      regional_viewer: 403,
      admin: 200,
    },
  },
  {
    method: 'GET',
    path: '/admin/audit',
    expect: {
      anonymous: 302,
      trainee: 403,
      supervisor: 403,
      coordinator: 403,
      regional_viewer: 403,
      admin: 200,
    },
  },
];

describe('access matrix: admin pages', () => {
  let testApp: TestApp;
  const agents = {} as Record<Who, { agent: TestAgent; csrfToken: string }>;
  const ids: Record<string, string> = {};

  before(async () => {
    testApp = await createTestApp();
    await seedOrganisations();
    for (const who of WHO) {
      if (who === 'anonymous') continue;
      const { user, password } = await buildUser({ roles: [who], municipality: '長野市' });
      agents[who] = await signIn(testApp.app, user, password);
    }
    agents.anonymous = await anonymousAgent(testApp.app);
    ids.own = String((await buildUser({ roles: ['trainee'], municipality: '長野市' })).user._id);
    ids.other = String((await buildUser({ roles: ['trainee'], municipality: '松本市' })).user._id);
    const nagano = await Municipality.findOne({ name: { $eq: '長野市' } });
    ids.organisation = String(
      (
        await Organisation.create({
          name: '長野市 福祉課',
          sector: '行政',
          municipalityId: nagano!._id,
        })
      )._id,
    );
    // An import preview made by the administrator.
    const upload = await agents.admin.agent
      .post('/admin/users/import')
      .field('_csrf', agents.admin.csrfToken)
      .attach(
        'file',
        Buffer.from(
          '氏名,ふりがな,メールアドレス,市町村\n山田 花子,やまだ はなこ,y@example.jp,長野市\n',
        ),
        'a.csv',
      )
      .expect(303);
    ids.batch = String(upload.headers.location).split('/').pop()!;
  });
  after(async () => {
    await testApp.close();
  });

  for (const row of rows) {
    for (const who of WHO) {
      const expected = row.expect[who];
      it(`${row.method} ${row.path} as ${who} → ${expected}`, async () => {
        const path = row.path.replace(/:(\w+)/g, (_match, key: string) => ids[key]);
        const { agent, csrfToken } = agents[who];
        const res =
          row.method === 'GET'
            ? await agent.get(path)
            : await agent.post(path).type('form').send({ _csrf: csrfToken, roles: 'trainee' });
        expect(res.status, res.text.slice(0, 200)).to.equal(expected);
        if (expected === 302) expect(res.headers.location).to.match(/^\/login/);
      });
    }
  }
});
