/** Opens the embedded database in the data directory given as argv[2], says so, and holds it until killed. */
import { openDatabase } from '../../src/db/database.js';

const db = await openDatabase({ dataDir: process.argv[2]!, migrate: false });
process.stdout.write('open\n');
process.on('SIGTERM', () => {
  void db.close().then(() => process.exit(0));
});
setInterval(() => {}, 60_000);
