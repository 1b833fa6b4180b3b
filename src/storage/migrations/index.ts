import { ZapierInitialSchema1764201600000 } from './1764201600000-zapier-initial-schema.js';

export { ZapierInitialSchema1764201600000 };

/**
 * The module's migrations, in order; add them to your data source's `migrations`.
 *
 * @publicApi
 */
export const ZAPIER_MIGRATIONS = [ZapierInitialSchema1764201600000];
