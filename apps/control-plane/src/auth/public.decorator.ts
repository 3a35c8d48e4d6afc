import { SetMetadata } from '@nestjs/common';

export const IS_PUBLIC = 'ec:isPublic';

/** Marks a route that needs no bearer token (health probes, device self-enrollment). */
export const Public = () => SetMetadata(IS_PUBLIC, true);
