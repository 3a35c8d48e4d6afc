import { ApiPropertyOptional } from '@nestjs/swagger';
import { ArrayMaxSize, IsArray, IsBoolean, IsOptional, IsString, MaxLength } from 'class-validator';

/**
 * Which devices a job, benchmark or rollout targets. Every given criterion must hold (AND);
 * `tags` means "has all of these tags". An empty selector matches nothing rather than the
 * whole fleet, so a missing field in a request can never roll a model out everywhere.
 */
export interface DeviceSelector {
  deviceIds?: string[];
  group?: string;
  tags?: string[];
  profileId?: string;
  /** Only devices whose retained state says online. */
  onlineOnly?: boolean;
}

export function isEmptySelector(selector: DeviceSelector): boolean {
  return (
    !selector.deviceIds?.length && !selector.group && !selector.tags?.length && !selector.profileId
  );
}

/** Request-body form of a selector (class-validator), for the controllers that accept one. */
export class DeviceSelectorDto implements DeviceSelector {
  @ApiPropertyOptional({ type: [String], example: ['pi5-lab-01'] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(100_000)
  @IsString({ each: true })
  @MaxLength(64, { each: true })
  deviceIds?: string[];

  @ApiPropertyOptional({ example: 'pi5' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  group?: string;

  @ApiPropertyOptional({ type: [String], example: ['lab'] })
  @IsOptional()
  @IsArray()
  @ArrayMaxSize(64)
  @IsString({ each: true })
  @MaxLength(64, { each: true })
  tags?: string[];

  @ApiPropertyOptional({ example: 'raspberry-pi-5' })
  @IsOptional()
  @IsString()
  @MaxLength(64)
  profileId?: string;

  @ApiPropertyOptional({ default: false })
  @IsOptional()
  @IsBoolean()
  onlineOnly?: boolean;
}
