import { Controller, HttpCode, HttpStatus, Post } from '@nestjs/common';

/** The ceiling: a bare Nest POST endpoint on the callback path that does no work. */
@Controller('zapier/callbacks')
export class CeilingController {
  @Post()
  @HttpCode(HttpStatus.OK)
  receive(): { ok: true } {
    return { ok: true };
  }
}
