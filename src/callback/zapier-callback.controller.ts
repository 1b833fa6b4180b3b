import {
  applyDecorators,
  Controller,
  HttpCode,
  HttpStatus,
  Post,
  Req,
  UseGuards,
  VERSION_NEUTRAL,
  type Type,
} from '@nestjs/common';
import { ZapierSignatureGuard } from '../signature/zapier-signature.guard.js';
import {
  ZapierCallbackService,
  type CallbackReceipt,
  type ZapierCallbackRequest,
} from './zapier-callback.service.js';

/**
 * Builds the controller of `POST /{callbackPath}` for the path given at import time (a mixin, so
 * the route is a plain `@Controller(path)`, with no metadata rewritten at runtime). It is
 * version-neutral: under URI versioning Zapier keeps calling the URL it was given. `decorators`
 * are the host's (e.g. `@Public()` for its global auth guard, `@SkipThrottle()`).
 */
export function createZapierCallbackController(
  path: string,
  decorators: readonly ClassDecorator[] = [],
): Type<unknown> {
  @Controller({ path, version: VERSION_NEUTRAL })
  @UseGuards(ZapierSignatureGuard)
  @applyDecorators(...decorators)
  class ZapierCallbackController {
    constructor(private readonly callbacks: ZapierCallbackService) {}

    @Post()
    @HttpCode(HttpStatus.OK)
    receive(@Req() request: ZapierCallbackRequest): Promise<CallbackReceipt> {
      return this.callbacks.receive(request);
    }
  }
  return ZapierCallbackController;
}
