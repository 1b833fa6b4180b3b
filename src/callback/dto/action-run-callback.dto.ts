import {
  IsArray,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Min,
  ValidateIf,
  ValidateNested,
} from 'class-validator';

/** One item of `data.errors`. Only `code` is required; Zapier documents title and detail too. */
export class ActionRunCallbackErrorDto {
  @IsString()
  code!: string;

  @IsOptional()
  @IsString()
  title?: string;

  @IsOptional()
  @IsString()
  detail?: string;

  @IsOptional()
  @IsInt()
  @Min(0)
  delay?: number;

  @IsOptional()
  @IsObject()
  meta?: Record<string, unknown> | null;
}

/**
 * `data` of a callback (docs/decisions.md#f3). Lenient where Zapier's sources disagree: the id
 * may be `id` or `run_id`, `results` an array or an object; unknown fields are ignored.
 */
export class ActionRunCallbackDataDto {
  @IsOptional()
  @IsIn(['run'])
  type?: string;

  /**
   * The run id, as `id` or `run_id`. `parseActionRunCallback` checks it before the DTO with
   * `isWellFormedRunId` (a key of at most 255 code points, which `MaxLength` cannot count, without
   * control characters), answers a malformed one 400, and reports a missing one once.
   */
  id?: string;

  /** See `id`. */
  run_id?: string;

  /** A callback only ever reports a terminal status (docs/decisions.md#d3). */
  @IsIn(['success', 'error'])
  status!: 'success' | 'error';

  @IsOptional()
  @ValidateIf((data: ActionRunCallbackDataDto) => !Array.isArray(data.results))
  @IsObject()
  results?: unknown[] | Record<string, unknown> | null;

  @IsOptional()
  @IsArray()
  @ValidateNested({ each: true })
  errors?: ActionRunCallbackErrorDto[];
}

/** The callback body: `{ "data": { ... } }`. */
export class ActionRunCallbackDto {
  @IsObject()
  @ValidateNested()
  data!: ActionRunCallbackDataDto;
}
