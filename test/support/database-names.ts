/**
 * Prefix of the databases the specs create; set TEST_DATABASE_PREFIX to run two checkouts' specs
 * on one server at once without their fixed database names colliding.
 */
const DATABASE_PREFIX = process.env.TEST_DATABASE_PREFIX ?? 'nestjs_zapier';

/** The name of a spec's database `name`, on any server. */
export const testDatabaseName = (name: string): string =>
  `${DATABASE_PREFIX}_${name.replace(/[^a-z0-9_]/gi, '_').toLowerCase()}`;
