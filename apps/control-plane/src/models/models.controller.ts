import {
  Controller,
  Delete,
  Get,
  Param,
  Post,
  Query,
  Req,
  Res,
  StreamableFile,
} from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiConsumes,
  ApiCreatedResponse,
  ApiOkResponse,
  ApiTags,
} from '@nestjs/swagger';
import type { Request, Response } from 'express';
import { AcceptsDeviceCredentials } from '../auth/device-credentials.decorator';
import { assertMayReadArtifact } from '../auth/device-artifact-access';
import { principalOf } from '../auth/request-principal';
import { invalid } from '../common/domain-errors';
import { ArtifactsService } from '../artifacts/artifacts.service';
import {
  CompareVariantsQueryDto,
  CreateModelQueryDto,
  CreateVariantQueryDto,
  ListVariantsQueryDto,
} from './dto/model.dto';
import { HotArtifactsCache } from './hot-artifacts.cache';
import { ifNoneMatch } from './if-none-match';
import { ModelsService } from './models.service';

const binaryBody = { schema: { type: 'string', format: 'binary' } } as const;
/** Artifacts up to this size are served from memory (a rollout's model, fetched by a fleet). */
const HOT_ARTIFACTS = { maxFileBytes: 16 * 2 ** 20, maxTotalBytes: 64 * 2 ** 20 };

@ApiTags('models')
@ApiBearerAuth()
@Controller('api/v1')
export class ModelsController {
  private readonly hotArtifacts: HotArtifactsCache;

  constructor(
    private readonly models: ModelsService,
    private readonly artifacts: ArtifactsService,
  ) {
    this.hotArtifacts = new HotArtifactsCache((sha) => artifacts.read(sha), HOT_ARTIFACTS);
  }

  @Post('models')
  @ApiConsumes('application/octet-stream')
  @ApiBody(binaryBody)
  @ApiCreatedResponse({
    description:
      'The model with its original variant; ONNX files are checked by the engine importer',
  })
  create(@Query() query: CreateModelQueryDto, @Req() request: Request) {
    requireOctetStream(request);
    return this.models.createModel(
      { name: query.name, format: query.format ?? 'onnx', description: query.description },
      request,
    );
  }

  @Get('models')
  list() {
    return this.models.listModels();
  }

  @Get('models/:id')
  get(@Param('id') id: string) {
    return this.models.getModel(id);
  }

  @Delete('models/:id')
  @ApiOkResponse({ description: 'Deleted; lists the artifacts garbage-collected with it' })
  delete(@Param('id') id: string) {
    return this.models.deleteModel(id);
  }

  @Post('models/:id/variants')
  @ApiConsumes('application/octet-stream')
  @ApiBody(binaryBody)
  addVariant(
    @Param('id') id: string,
    @Query() query: CreateVariantQueryDto,
    @Req() request: Request,
  ) {
    requireOctetStream(request);
    const { name, method, parentVariantId, options, provenance, params, flops, accuracy } = query;
    return this.models.addVariant(
      id,
      { name, method, parentVariantId, options, provenance, params, flops, accuracy },
      request,
    );
  }

  @Get('variants')
  listVariants(@Query() query: ListVariantsQueryDto) {
    return this.models.listVariants(query);
  }

  @Get('variants/compare')
  @ApiOkResponse({
    description: 'Params, FLOPs, bytes, accuracy and measured latency side by side',
  })
  compare(@Query() query: CompareVariantsQueryDto) {
    const ids = query.ids
      .split(',')
      .map((s) => s.trim())
      .filter(Boolean);
    if (ids.length < 1 || ids.length > 20) throw invalid('ids must name 1 to 20 variants');
    return this.models.compare(ids);
  }

  @Get('variants/:id')
  getVariant(@Param('id') id: string) {
    return this.models.getVariant(id);
  }

  @Get('variants/:id/artifact')
  @AcceptsDeviceCredentials()
  @ApiOkResponse({
    description:
      'The variant file (devices: HTTP Basic with their MQTT credentials, published only)',
    content: { 'application/octet-stream': binaryBody },
  })
  download(
    @Param('id') id: string,
    @Req() request: Request,
    @Res({ passthrough: true }) response: Response,
  ) {
    // Thousands of devices download within seconds in a rollout: only the columns needed.
    const variant = this.models.variantFile(id);
    const artifact = this.artifacts.get(variant.artifact_sha256);
    assertMayReadArtifact(principalOf(request), artifact);
    // The file is named by its hash, so the hash is a strong validator that never changes.
    const etag = `"${artifact.sha256}"`;
    response.setHeader('ETag', etag);
    if (ifNoneMatch(request.headers['if-none-match'], etag)) {
      response.status(304);
      return undefined;
    }
    const options = {
      type: variant.format === 'onnx' ? 'application/onnx' : 'application/octet-stream',
      length: variant.bytes,
      disposition: `attachment; filename="${variant.id}.${variant.format === 'onnx' ? 'onnx' : 'json'}"`,
    };
    const hot = this.hotArtifacts.get(artifact.sha256, artifact.bytes);
    return hot
      ? new StreamableFile(hot, options)
      : new StreamableFile(this.artifacts.stream(artifact.sha256), options);
  }

  @Post('variants/:id/publish')
  @ApiCreatedResponse({
    description: 'Chunks and signed manifest published, retained, under ec/v1/artifacts/{sha256}/',
  })
  publish(@Param('id') id: string) {
    return this.artifacts.publish(this.models.getVariant(id).artifactSha256);
  }

  @Delete('variants/:id')
  deleteVariant(@Param('id') id: string) {
    return this.models.deleteVariant(id);
  }

  @Post('artifacts/gc')
  @ApiCreatedResponse({
    description: 'Unreferenced artifacts deleted and their retained messages cleared',
  })
  gc() {
    return this.artifacts.collectGarbage();
  }

  @Get('signing-key')
  @ApiOkResponse({ description: 'Public key that verifies artifact manifests' })
  signingKey() {
    return this.artifacts.publicKey();
  }
}

function requireOctetStream(request: Request): void {
  if (!request.is('application/octet-stream'))
    throw invalid('send the file as the raw body with Content-Type: application/octet-stream');
}
