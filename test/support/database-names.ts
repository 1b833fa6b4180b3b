/**
 * Prefix of the databases the specs create; set TEST_DATABASE_PREFIX to run two checkouts' specs
 * on one server at once without their fixed database names colliding. A run inside an install
 * profile (`npm test -- --profile nest11` sets TEST_PROFILE) adds the profile's name, so that it
 * can run beside the repository's own run.
 */
const DATABASE_PREFIX = [
  process.env.TEST_DATABASE_PREFIX ?? 'nestjs_zapier',
  process.env.TEST_PROFILE,
]
  .filter(Boolean)
  .join('_');

/** The name of a spec's database `name`, on any server. */
export const testDatabaseName = (name: string): string =>
  `${DATABASE_PREFIX}_${name.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}`;
