import { ZapierActionRun } from './zapier-action-run.entity.js';
import { ZapierApiBudget } from './zapier-api-budget.entity.js';
import { ZapierCallbackQuarantine } from './zapier-callback-quarantine.entity.js';

/**
 * The module's entities, for data sources that list `entities` instead of `autoLoadEntities`.
 *
 * @publicApi
 */
export const ZAPIER_ENTITIES = [ZapierActionRun, ZapierCallbackQuarantine, ZapierApiBudget];
