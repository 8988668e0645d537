/**
 * The RelayStore suite (test/support/relay-store-suite.ts) on real PostgreSQL: a fresh database per
 * test on the server scripts/with-services.sh starts (`npm test` runs this file in the `services`
 * project). Without DATABASE_URL it skips with the reason printed, except under CI=true, where it fails.
 */
import { relayStoreSuite } from '../../test/support/relay-store-suite.js';
import { createTestDatabase, describeWithPostgres } from '../../test/support/postgres.js';
import { openPostgresStore } from './postgres.js';

describeWithPostgres('PostgreSQL store', (serverUrl) => {
  relayStoreSuite({
    name: 'postgresql',
    exclusive: false,
    async open() {
      const database = await createTestDatabase(serverUrl);
      const open = async () => {
        const store = await openPostgresStore(database.url);
        await store.migrate();
        return store;
      };
      return { store: await open(), reopen: open, cleanup: () => database.drop() };
    },
  });
});
