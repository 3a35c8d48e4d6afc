import { Module } from '@nestjs/common';
import { ArtifactStoreRepository } from './artifact-store.repository';
import { ArtifactsRepository } from './artifacts.repository';
import { ArtifactsService } from './artifacts.service';
import { SigningKeyRepository } from './signing-key.repository';

@Module({
  providers: [ArtifactStoreRepository, ArtifactsRepository, SigningKeyRepository, ArtifactsService],
  exports: [ArtifactsService],
})
export class ArtifactsModule {}
