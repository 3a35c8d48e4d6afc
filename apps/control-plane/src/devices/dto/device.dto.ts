import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsInt,
  IsOptional,
  IsString,
  Matches,
  Max,
  MaxLength,
  Min,
  MinLength,
} from 'class-validator';

/** Same rule as the protocol's device ids: they become MQTT usernames and topic levels. */
const DEVICE_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$/;
const LABEL = /^[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}$/;

export class ProvisionDeviceDto {
  @ApiPropertyOptional({
    description: 'Device id (MQTT username); generated when absent',
    example: 'pi5-lab-01',
  })
  @IsOptional()
  @Matches(DEVICE_ID, {
    message: 'id must be 1-64 letters, digits, "_", "." or "-", starting with a letter or digit',
  })
  id?: string;

  @ApiProperty({ example: 'Raspberry Pi 5 on the lab bench' })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  name!: string;

  @ApiPropertyOptional({ type: [String], example: ['lab'] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(64)
  @Matches(LABEL, { each: true, message: 'each tag must be 1-64 characters of [A-Za-z0-9_.:/-]' })
  tags?: string[];

  @ApiPropertyOptional({ type: [String], example: ['canary'] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(64)
  @Matches(LABEL, { each: true, message: 'each group must be 1-64 characters of [A-Za-z0-9_.:/-]' })
  groups?: string[];

  @ApiPropertyOptional({
    description: 'Pin a device profile instead of matching one from the hello',
  })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  profileId?: string;
}

export class UpdateDeviceDto {
  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  name?: string;

  @ApiPropertyOptional({ type: [String] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(64)
  @Matches(LABEL, { each: true, message: 'each tag must be 1-64 characters of [A-Za-z0-9_.:/-]' })
  tags?: string[];

  @ApiPropertyOptional({ type: [String] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(64)
  @Matches(LABEL, { each: true, message: 'each group must be 1-64 characters of [A-Za-z0-9_.:/-]' })
  groups?: string[];

  @ApiPropertyOptional({
    description: 'Pin this profile; an empty string returns the device to automatic matching',
    nullable: true,
  })
  @IsOptional()
  @IsString()
  @MaxLength(100)
  profileId?: string;
}

export class ListDevicesQueryDto {
  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  tag?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  group?: string;

  @ApiPropertyOptional({ enum: ['unknown', 'online', 'offline'] })
  @IsOptional()
  @IsIn(['unknown', 'online', 'offline'])
  status?: string;

  @ApiPropertyOptional()
  @IsOptional()
  @IsString()
  profileId?: string;
}

export class CreateEnrollmentTokenDto {
  @ApiProperty({ example: 'factory line 3' })
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  name!: string;

  @ApiPropertyOptional({ default: 100 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  maxUses?: number;

  @ApiPropertyOptional({ default: 7 * 24 * 3600 })
  @IsOptional()
  @IsInt()
  @Min(60)
  @Max(366 * 24 * 3600)
  ttlSeconds?: number;

  @ApiPropertyOptional({ type: [String] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(64)
  @Matches(LABEL, { each: true })
  tags?: string[];

  @ApiPropertyOptional({ type: [String] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(64)
  @Matches(LABEL, { each: true })
  groups?: string[];
}

export class EnrollDeviceDto {
  @ApiProperty({ description: 'Fleet enrollment token' })
  @IsString()
  @MinLength(10)
  @MaxLength(200)
  enrollmentToken!: string;

  @ApiPropertyOptional({ description: 'Requested device id; generated when absent' })
  @IsOptional()
  @Matches(DEVICE_ID, {
    message: 'id must be 1-64 letters, digits, "_", "." or "-", starting with a letter or digit',
  })
  id?: string;

  @ApiProperty()
  @IsString()
  @MinLength(1)
  @MaxLength(200)
  name!: string;
}
