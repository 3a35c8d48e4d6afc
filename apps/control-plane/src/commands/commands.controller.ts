import { Body, Controller, Get, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiCreatedResponse, ApiTags } from '@nestjs/swagger';
import { invalid } from '../common/domain-errors';
import { DevicesService } from '../devices/devices.service';
import { ModelsService } from '../models/models.service';
import { ArtifactsService } from '../artifacts/artifacts.service';
import { CommandsService } from './commands.service';
import { CommandTargetDto, ListCommandsQueryDto, SendBenchmarkDto } from './dto/command.dto';

@ApiTags('commands')
@ApiBearerAuth()
@Controller('api/v1/commands')
export class CommandsController {
  constructor(
    private readonly commands: CommandsService,
    private readonly devices: DevicesService,
    private readonly models: ModelsService,
    private readonly artifacts: ArtifactsService,
  ) {}

  @Post('benchmark')
  @ApiCreatedResponse({
    description: 'One queued command per target device; the variant artifact is published first',
  })
  async benchmark(@Body() body: SendBenchmarkDto) {
    const targets = this.targets(body);
    const variant = this.models.getVariant(body.variantId);
    if (body.runs === undefined && body.timeBudgetMs === undefined) body.runs = 100;
    await this.artifacts.publish(variant.artifactSha256);
    return this.commands.enqueue(
      targets,
      {
        type: 'benchmark',
        artifact: { sha256: variant.artifactSha256, variantId: variant.id },
        input: { name: body.input.name, shape: body.input.shape, dtype: 'float32' },
        warmup: body.warmup ?? 10,
        runs: body.runs,
        timeBudgetMs: body.timeBudgetMs,
        threads: body.threads ?? {},
        executionProviders: body.executionProviders,
      },
      body.ttlSeconds !== undefined ? body.ttlSeconds * 1000 : undefined,
    );
  }

  @Post('ping')
  ping(@Body() body: CommandTargetDto) {
    return this.commands.enqueue(
      this.targets(body),
      { type: 'ping' },
      body.ttlSeconds !== undefined ? body.ttlSeconds * 1000 : undefined,
    );
  }

  @Get()
  list(@Query() query: ListCommandsQueryDto) {
    return this.commands.list({
      deviceId: query.deviceId,
      status: query.status,
      limit: query.limit ?? 100,
    });
  }

  @Get(':id')
  get(@Param('id') id: string) {
    return this.commands.get(id);
  }

  private targets(body: CommandTargetDto): string[] {
    if ((body.deviceId === undefined) === (body.group === undefined))
      throw invalid('give exactly one of deviceId or group');
    if (body.deviceId !== undefined) return [this.devices.get(body.deviceId).id];
    const ids = this.devices.idsInGroup(body.group!);
    if (ids.length === 0) throw invalid(`group "${body.group}" has no devices`);
    return ids;
  }
}
