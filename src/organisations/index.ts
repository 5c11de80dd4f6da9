export { Region, type RegionDocument } from './region.model.js';
export {
  Municipality,
  MUNICIPALITY_KINDS,
  type MunicipalityKind,
  type MunicipalityDocument,
} from './municipality.model.js';
export {
  Organisation,
  SECTORS,
  type Sector,
  type OrganisationDocument,
} from './organisation.model.js';
export {
  seedOrganisations,
  readReferenceMunicipalities,
  EXPECTED_COUNTS,
} from './organisations.seed.js';
export {
  listMunicipalitiesByRegion,
  toSelectOptions,
  regionSelectOptions,
  isObjectIdString,
  type RegionGroup,
  type MunicipalityOption,
} from './organisations.service.js';
