import {
  IsArray,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  MaxLength,
  Min,
  ValidateNested,
} from 'class-validator';

/** One item of `data.errors`. */
export class PeerCallbackErrorDto {
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
}

/** `data` of a Zapier action-run callback, as a user would model it from Zapier's docs. */
export class PeerCallbackDataDto {
  @IsOptional()
  @IsIn(['run'])
  type?: string;

  @IsString()
  @IsNotEmpty()
  @MaxLength(255)
  id!: string;

  @IsIn(['success', 'error'])
  status!: 'success' | 'error';

  @IsOptional()
  @IsArray()
  results?: unknown[];

  @IsOptional()
  @IsArray()
  @ValidateNested({ each: true })
  errors?: PeerCallbackErrorDto[];

  /** Nested classes, for the stand-in `plainToInstance` (what `@Type()` says to class-transformer). */
  static readonly nested = { errors: PeerCallbackErrorDto };
}

/** The callback body: `{ "data": { ... } }`. */
export class PeerCallbackDto {
  @IsObject()
  @ValidateNested()
  data!: PeerCallbackDataDto;

  static readonly nested = { data: PeerCallbackDataDto };
}
