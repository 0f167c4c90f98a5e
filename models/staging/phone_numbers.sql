/* ---
description: >
  Lookup from each raw phone value ever seen to its E.164 form (with +), parsed by the
  phonenumbers library with identity.default_country for numbers without a country code.
  Grows incrementally: a build parses only values it has not seen.
materialized: runner
runner: models.staging.phones:write_phone_numbers
columns:
  raw_value: the phone as sent
  default_country: the region assumed when the number had no +country code
  e164: the number in E.164 (+14155550132); empty when it is not a possible number
--- */
SELECT DISTINCT observations.raw_value
FROM cdp_staging.identifier_observations AS observations
JOIN cdp_staging.identity_id_types AS id_types ON id_types.id_type = observations.id_type
WHERE id_types.normalize = 'phone'
