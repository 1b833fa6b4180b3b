/**
 * Every message the module logs or throws, as factories so that specs assert against the same
 * text. Each says what happened, the value involved, and how to fix it.
 */
export const ZapierMessages = {
  invalidOption: (path: string, value: unknown, expected: string) =>
    `ZapierModule option "${path}" is ${describe(value)}; expected ${expected}.`,
  extraFromFactory: (name: string) =>
    `ZapierModule option "${name}" shapes the module graph and cannot come from forRootAsync()'s factory; pass it next to useFactory: ZapierModule.forRootAsync({ ${name}: ..., useFactory }).`,
  missingEventEmitter: () =>
    'ZapierModule needs EventEmitter2, which nothing provides; add EventEmitterModule.forRoot() (from @nestjs/event-emitter) to your AppModule imports.',
  missingScheduler: () =>
    'ZapierModule needs SchedulerRegistry, which nothing provides; add ScheduleModule.forRoot() (from @nestjs/schedule) to your AppModule imports.',
  missingDataSource: (dataSource: string) =>
    `ZapierModule needs the TypeORM data source "${dataSource}", which nothing provides; add TypeOrmModule.forRoot()${dataSource === 'default' ? '' : ` with name: '${dataSource}'`} (from @nestjs/typeorm) to your AppModule imports.`,
  entitiesNotRegistered: (dataSource: string, missing: readonly string[]) =>
    `The TypeORM data source "${dataSource}" does not know the ${missing.join(', ')} ${missing.length === 1 ? 'entity' : 'entities'}; set autoLoadEntities: true in TypeOrmModule.forRoot(), or add ZAPIER_ENTITIES (ZapierActionRun, ZapierCallbackQuarantine, ZapierApiBudget) to its entities.`,
  tableMissing: (table: string, cause: string) =>
    `Table "${table}" does not exist (${cause}); run the migrations exported as ZAPIER_MIGRATIONS, or set synchronize: true for a quick start.`,
  unsupportedDatabase: (type: string) =>
    `ZapierModule stores runs in PostgreSQL or SQLite (better-sqlite3); the data source is "${type}".`,
  sqliteDurabilitySet: (level: number) =>
    `SQLite's synchronous pragma was ${level}; the module set it to FULL (2), so that a 2xx to Zapier always means a commit that survives a power loss.`,
  storageCheckFailed: (cause: string) =>
    `Could not check the module's tables at startup (${cause}); callbacks are answered 503 until the database answers.`,
  storageUnavailable: () => 'The run store is unavailable; Zapier will retry this callback.',
  keysUnavailable: () =>
    "Zapier's signing keys could not be fetched; Zapier will retry this callback.",
  missingAccessToken: () =>
    'ZapierClient needs an access token; set the accessToken option of ZapierModule.forRoot().',
  missingCallbackUrl: () =>
    'No callback URL: pass callbackUrl to createActionRun() or set the callbackUrl option of ZapierModule.forRoot().',
  suppressedListener: (listener: string, event: string) =>
    `${listener} listens to "${event}" with suppressErrors: true, so its failures are logged but counted as delivered; remove the option to have failed deliveries retried.`,
  sharedListener: (listener: string, pattern: string, event: string) =>
    `${listener} listens to ${pattern}, which matches "${event}" but also events that are not the module's, so the module leaves it as it is and its failures are logged but counted as delivered; listen to the zapier event names explicitly (@OnEvent('${event}')), or set suppressErrors: false on it yourself if you accept that for all its events.`,
  asyncListener: (listener: string, event: string) =>
    `${listener} listens to "${event}" with async: true, so the module cannot wait for it and counts the event delivered once it starts; remove the option to have failed deliveries retried.`,
} as const;

function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (typeof value === 'function') return 'a function';
  try {
    return JSON.stringify(value) ?? typeof value;
  } catch {
    return `an unserialisable ${typeof value}`;
  }
}
