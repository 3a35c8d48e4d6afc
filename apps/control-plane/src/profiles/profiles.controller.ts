import { Controller, Get, Param } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiTags } from '@nestjs/swagger';
import { ProfilesService } from './profiles.service';

@ApiTags('profiles')
@ApiBearerAuth()
@Controller('api/v1/profiles')
export class ProfilesController {
  constructor(private readonly profiles: ProfilesService) {}

  @Get()
  @ApiOkResponse({ description: 'Every installed device profile' })
  list() {
    return this.profiles.list().map((p) => ({ id: p.id, name: p.name }));
  }

  @Get(':id')
  @ApiOkResponse({ description: 'One profile document as installed' })
  get(@Param('id') id: string) {
    return this.profiles.get(id);
  }
}
