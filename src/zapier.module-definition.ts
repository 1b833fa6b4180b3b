import { ConfigurableModuleBuilder, type DynamicModule, type Provider } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { getDataSourceToken, TypeOrmModule } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import {
  DEFAULT_CALLBACK_PATH,
  ZAPIER_CLOCK,
  ZAPIER_DATA_SOURCE_NAME,
  ZAPIER_OPTIONS,
} from './zapier.constants.js';
import type {
  ZapierModuleExtras,
  ZapierModuleOptions,
} from './interfaces/zapier-module-options.interface.js';
import type { ZapierClock } from './interfaces/zapier-clock.interface.js';
import {
  resolveZapierOptions,
  type ResolvedZapierOptions,
} from './options/resolve-zapier-options.js';
import { ZAPIER_ENTITIES } from './storage/zapier-storage.entities.js';
import { ZapierSql } from './storage/sql/zapier-sql.js';
import { ZapierConfigurationError } from './errors/zapier-configuration.error.js';
import { ZapierMessages } from './zapier.messages.js';
import { createZapierCallbackController } from './callback/zapier-callback.controller.js';
import {
  ZAPIER_CALLBACK_PATH,
  ZapierCallbackBodyInstaller,
} from './callback/zapier-callback-body.installer.js';
import { ZapierCallbackGate } from './callback/zapier-callback-gate.js';

/** Injection token of the options exactly as passed (see `ZAPIER_OPTIONS` for the resolved ones). */
export const {
  ConfigurableModuleClass: ZapierConfigurableModule,
  MODULE_OPTIONS_TOKEN: ZAPIER_MODULE_OPTIONS,
  OPTIONS_TYPE: ZAPIER_OPTIONS_TYPE,
  ASYNC_OPTIONS_TYPE: ZAPIER_ASYNC_OPTIONS_TYPE,
} = new ConfigurableModuleBuilder<ZapierModuleOptions>({ moduleName: 'Zapier' })
  .setClassMethodName('forRoot')
  .setFactoryMethodName('createZapierOptions')
  .setExtras<ZapierModuleExtras>(
    {
      callbackPath: DEFAULT_CALLBACK_PATH,
      registerController: true,
      controllerDecorators: [],
      dataSource: undefined,
      isGlobal: false,
    },
    (definition, extras) => withExtras(definition, extras),
  )
  .build();

const systemClock: ZapierClock = { now: () => Date.now() };

/**
 * Adds what depends on the import-time extras: the controller for the chosen path, the entities
 * on the chosen data source, global visibility. Shared providers are listed in `ZapierModule`.
 */
function withExtras(definition: DynamicModule, extras: ZapierModuleExtras): DynamicModule {
  const path = (extras.callbackPath ?? DEFAULT_CALLBACK_PATH).replace(/^\/+|\/+$/g, '');
  const registerController = extras.registerController !== false;
  const dataSourceToken = getDataSourceToken(extras.dataSource);
  const providers: Provider[] = [
    {
      provide: ZAPIER_OPTIONS,
      useFactory: (options: ZapierModuleOptions) => resolveZapierOptions(options),
      inject: [ZAPIER_MODULE_OPTIONS],
    },
    { provide: ZAPIER_CLOCK, useValue: systemClock },
    { provide: ZAPIER_CALLBACK_PATH, useValue: path },
    { provide: ZAPIER_DATA_SOURCE_NAME, useValue: extras.dataSource ?? 'default' },
    {
      provide: ZapierSql,
      // Optional, so that a missing TypeOrmModule.forRoot() fails with a message naming it. On
      // a SQLite file this opens the module's own connection, closed at shutdown.
      useFactory: (dataSource: DataSource | undefined, options: ResolvedZapierOptions) => {
        if (!dataSource) {
          throw new ZapierConfigurationError(
            ZapierMessages.missingDataSource(extras.dataSource ?? 'default'),
          );
        }
        return ZapierSql.open(dataSource, options.storage);
      },
      inject: [{ token: dataSourceToken, optional: true }, ZAPIER_OPTIONS],
    },
    // Also for a custom route (registerController: false) at callbackPath: the same reader.
    ZapierCallbackGate,
    ZapierCallbackBodyInstaller,
  ];
  return {
    ...definition,
    global: extras.isGlobal === true,
    imports: [...(definition.imports ?? []), DiscoveryModule, entitiesOf(extras.dataSource)],
    controllers: registerController
      ? [createZapierCallbackController(path, extras.controllerDecorators ?? [])]
      : [],
    providers: [...(definition.providers ?? []), ...providers],
  };
}

/**
 * Registers the module's entities with the data source (for the host's `autoLoadEntities`)
 * without `forFeature`'s repository providers: the module runs its own statements, and those
 * providers would fail on a missing `TypeOrmModule.forRoot()` with Nest's generic error before
 * the module could say which import to add.
 */
function entitiesOf(dataSource: string | undefined): DynamicModule {
  const feature = TypeOrmModule.forFeature(ZAPIER_ENTITIES, dataSource);
  return { module: feature.module, providers: [], exports: [] };
}
