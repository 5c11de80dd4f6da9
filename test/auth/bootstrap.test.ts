import { expect } from 'chai';
import { firstStart, firstStartMessage } from '../../src/bootstrap/first-start.js';
import { DEMO_PASSWORD, DEMO_USERS } from '../../src/bootstrap/demo.js';
import { silentLogger } from '../../src/lib/logger.js';
import { Municipality } from '../../src/organisations/municipality.model.js';
import { Region } from '../../src/organisations/region.model.js';
import { ROLES } from '../../src/users/roles.js';
import { User } from '../../src/users/user.model.js';
import { createTestApp, type TestApp } from '../helpers/app.js';
import { signIn } from '../helpers/auth.js';

describe('first start', () => {
  describe('on an empty database', () => {
    let t: TestApp;
    before(async () => {
      t = await createTestApp();
    });
    after(async () => {
      await t.close();
    });

    it('loads the municipalities and creates admin@tsunagu.local with a generated password, once', async () => {
      const config = { admin: { email: undefined, password: undefined }, demo: false };
      const result = await firstStart({ config, logger: silentLogger });
      expect(await Municipality.countDocuments()).to.equal(77);
      expect(result.admin?.email).to.equal('admin@tsunagu.local');
      expect(result.admin?.generated).to.equal(true);
      const message = firstStartMessage(result, 'http://localhost:3000');
      expect(message).to.contain('http://localhost:3000/login');
      expect(message).to.contain('admin@tsunagu.local');
      expect(message).to.contain(result.admin!.password);
      expect(message).to.contain('Change it after signing in');
      await signIn(t.app, { email: 'admin@tsunagu.local' }, result.admin!.password);

      const again = await firstStart({ config, logger: silentLogger });
      expect(again.admin).to.equal(undefined);
      expect(firstStartMessage(again, 'http://localhost:3000')).to.equal('');
      expect(await User.countDocuments({ roles: 'admin' })).to.equal(1);
    });
  });

  describe('with ADMIN_EMAIL, ADMIN_PASSWORD and DEMO=true', () => {
    let t: TestApp;
    before(async () => {
      t = await createTestApp();
    });
    after(async () => {
      await t.close();
    });

    it('uses the given administrator, does not print the password, and adds the demo accounts idempotently', async () => {
      const config = {
        admin: { email: 'Center@Pref.Nagano.example', password: 'shinshu-soba-1234' },
        demo: true,
      };
      const result = await firstStart({ config, logger: silentLogger });
      expect(result.admin?.email).to.equal('center@pref.nagano.example');
      const message = firstStartMessage(result, 'http://localhost:3000');
      expect(message).not.to.contain('shinshu-soba-1234');
      expect(message).to.contain(DEMO_PASSWORD);
      await signIn(t.app, { email: 'center@pref.nagano.example' }, 'shinshu-soba-1234');
      await firstStart({ config, logger: silentLogger });
      expect(await User.countDocuments({ email: /@demo\.tsunagu\.local$/ })).to.equal(
        DEMO_USERS.length,
      );
      for (const role of ROLES) {
        expect(
          await User.countDocuments({ roles: role, status: 'active' }),
          role,
        ).to.be.greaterThan(0);
      }
      const coordinator = await User.findOne({
        email: 'coordinator.nagano@demo.tsunagu.local',
      }).lean();
      const nagano = await Municipality.findOne({ name: '長野市' }).lean();
      expect(String(coordinator?.municipalityId)).to.equal(String(nagano?._id));
      await signIn(t.app, { email: 'trainee1.matsumoto@demo.tsunagu.local' }, DEMO_PASSWORD);
    });

    it("names each regional viewer after the region they view, renaming an earlier demo's", async () => {
      await User.updateOne(
        { email: 'regional.nagano@demo.tsunagu.local' },
        { $set: { name: '北信 圏域' } },
      );
      await firstStart({
        config: {
          admin: { email: 'Center@Pref.Nagano.example', password: 'shinshu-soba-1234' },
          demo: true,
        },
        logger: silentLogger,
      });
      const viewers = await User.find({ roles: 'regional_viewer' }).lean();
      expect(viewers).to.have.length(2);
      for (const viewer of viewers) {
        const region = await Region.findById(viewer.regionId).lean();
        expect(viewer.name, viewer.email).to.equal(`${region!.name} 圏域`);
      }
    });

    it('refuses a common ADMIN_PASSWORD', async () => {
      await User.deleteMany({ roles: 'admin' });
      let error: Error | undefined;
      try {
        await firstStart({
          config: { admin: { email: undefined, password: 'password123' }, demo: false },
          logger: silentLogger,
        });
      } catch (caught) {
        error = caught as Error;
      }
      expect(error?.message).to.contain('ADMIN_PASSWORD');
    });
  });
});
