import { Controller, HttpCode, HttpStatus, Post, Req, UseGuards, type Type } from '@nestjs/common';
import { ZapierMessages } from '../zapier.messages.js';
import { ZapierSignatureGuard } from '../signature/zapier-signature.guard.js';
import type { CallbackRequestExtras } from './callback-request.js';
import { ZapierCallbackService, type CallbackReceipt } from './zapier-callback.service.js';

type CallbackRequest = CallbackRequestExtras & {
  body?: unknown;
  headers: Record<string, string | string[] | undefined>;
};

/**
 * Builds the controller of `POST /{callbackPath}` for the path given at import time (a mixin, so
 * the route is a plain `@Controller(path)`, with no metadata rewritten at runtime).
 */
export function createZapierCallbackController(path: string): Type<unknown> {
  @Controller(path)
  @UseGuards(ZapierSignatureGuard)
  class ZapierCallbackController {
    constructor(private readonly callbacks: ZapierCallbackService) {}

    @Post()
    @HttpCode(HttpStatus.OK)
    receive(@Req() request: CallbackRequest): Promise<CallbackReceipt> {
      const body = request.body;
      // Fastify hands a text/plain body over as a string; Express's reader records the problem.
      const bodyError =
        request.zapierBodyError ??
        (typeof body === 'string'
          ? ZapierMessages.bodyNotJsonType(String(request.headers['content-type']))
          : body === undefined
            ? ZapierMessages.bodyEmpty()
            : undefined);
      return this.callbacks.handle({ body, rawBody: request.zapierRawBody, bodyError });
    }
  }
  return ZapierCallbackController;
}
