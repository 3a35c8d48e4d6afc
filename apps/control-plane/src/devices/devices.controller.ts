import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiCreatedResponse,
  ApiNoContentResponse,
  ApiOkResponse,
  ApiTags,
} from '@nestjs/swagger';
import { ArtifactsService } from '../artifacts/artifacts.service';
import { Public } from '../auth/public.decorator';
import { DevicesService } from './devices.service';
import {
  CreateEnrollmentTokenDto,
  EnrollDeviceDto,
  ListDevicesQueryDto,
  ProvisionDeviceDto,
  UpdateDeviceDto,
} from './dto/device.dto';

@ApiTags('devices')
@ApiBearerAuth()
@Controller('api/v1')
export class DevicesController {
  constructor(
    private readonly devices: DevicesService,
    private readonly artifacts: ArtifactsService,
  ) {}

  @Post('devices')
  @ApiCreatedResponse({
    description: 'The device and its MQTT credentials; the password is shown only here',
  })
  provision(@Body() body: ProvisionDeviceDto) {
    return this.devices.provision(body);
  }

  @Get('devices')
  @ApiOkResponse({ description: 'Devices matching every given filter' })
  list(@Query() query: ListDevicesQueryDto) {
    return this.devices.list(query);
  }

  @Get('devices/:id')
  get(@Param('id') id: string) {
    return this.devices.get(id);
  }

  @Get('devices/:id/telemetry')
  telemetry(@Param('id') id: string, @Query('limit') limit?: string) {
    const n = Math.min(Math.max(Number(limit ?? 100) || 100, 1), 1000);
    return this.devices.telemetry(id, n);
  }

  @Patch('devices/:id')
  update(@Param('id') id: string, @Body() body: UpdateDeviceDto) {
    return this.devices.update(id, body);
  }

  @Post('devices/:id/credentials')
  @ApiCreatedResponse({ description: 'New MQTT credentials; the old password stops working' })
  rotate(@Param('id') id: string) {
    return this.devices.rotateCredentials(id);
  }

  @Delete('devices/:id/credentials')
  @ApiOkResponse({
    description: 'Credentials revoked; the device is disconnected and cannot reconnect',
  })
  revoke(@Param('id') id: string) {
    return this.devices.revokeCredentials(id);
  }

  @Delete('devices/:id')
  @HttpCode(204)
  @ApiNoContentResponse()
  delete(@Param('id') id: string) {
    this.devices.delete(id);
  }

  @Post('enrollment-tokens')
  @ApiCreatedResponse({ description: 'A fleet enrollment token; shown only here' })
  createEnrollmentToken(@Body() body: CreateEnrollmentTokenDto) {
    return this.devices.createEnrollmentToken(body);
  }

  @Public()
  @Post('enroll')
  @ApiCreatedResponse({
    description:
      'A new device registered with a fleet enrollment token, with its own credentials and the public key that verifies artifact manifests',
  })
  async enroll(@Body() body: EnrollDeviceDto) {
    const enrolled = await this.devices.enroll(body.enrollmentToken, {
      id: body.id,
      name: body.name,
    });
    // The agent keeps the key beside its credentials, so it needs no separately configured one.
    return { ...enrolled, signingKey: this.artifacts.publicKey() };
  }
}
