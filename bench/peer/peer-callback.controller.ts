import {
  Body,
  Controller,
  HttpCode,
  HttpStatus,
  Post,
  UseGuards,
  UsePipes,
  ValidationPipe,
} from '@nestjs/common';
import { PeerCallbackDto } from './peer-callback.dto.js';
import { PeerCallbackService } from './peer-callback.service.js';
import { peerTransformerPackage } from './peer-dto.transformer.js';
import { PeerSignatureGuard } from './peer-signature.guard.js';

/** `POST /zapier/callbacks`: guard, `ValidationPipe` on the DTO, insert-or-ignore, emit. */
@Controller('zapier/callbacks')
@UseGuards(PeerSignatureGuard)
export class PeerCallbackController {
  constructor(private readonly callbacks: PeerCallbackService) {}

  @Post()
  @HttpCode(HttpStatus.OK)
  @UsePipes(new ValidationPipe({ transformerPackage: peerTransformerPackage }))
  receive(@Body() body: PeerCallbackDto): Promise<{ runId: string; duplicate: boolean }> {
    return this.callbacks.receive(body);
  }
}
