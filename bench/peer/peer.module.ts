import { Module, type DynamicModule } from '@nestjs/common';
import { TypeOrmModule } from '@nestjs/typeorm';
import { PeerCallbackController } from './peer-callback.controller.js';
import { PeerCallbackService } from './peer-callback.service.js';
import { PeerRun } from './peer-run.entity.js';
import { PEER_JWKS_URL, PeerSignatureGuard } from './peer-signature.guard.js';

/**
 * The straightforward Zapier callback receiver a user would write without this library, done
 * decently; the benchmark's point of comparison. The host imports `TypeOrmModule.forRoot()`
 * (with `PeerRun`) and `EventEmitterModule.forRoot()`.
 */
@Module({})
export class PeerModule {
  static forRoot(options: { jwksUrl: string }): DynamicModule {
    return {
      module: PeerModule,
      imports: [TypeOrmModule.forFeature([PeerRun])],
      controllers: [PeerCallbackController],
      providers: [
        { provide: PEER_JWKS_URL, useValue: options.jwksUrl },
        PeerSignatureGuard,
        PeerCallbackService,
      ],
    };
  }
}
