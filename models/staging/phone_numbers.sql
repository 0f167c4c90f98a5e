/* ---
description: >
  Lookup from each raw phone value ever seen to its E.164 form (with +), parsed by the
  phonenumbers library; a number without +country code is read in the country its row gives
  (identify trait, address), else in identity.default_country.
  Grows incrementally: a build parses only values it has not seen.
materialized: runner
runner: models.staging.phones:write_phone_numbers
columns:
  raw_value: the phone as sent
  country_hint: the country its row gave ('' when none)
  default_country: identity.default_country when it was parsed
  e164: the number in E.164 (+14155550132); empty when it is not a valid number
--- */
SELECT DISTINCT observations.raw_value, observations.country_hint
FROM cdp_staging.identifier_observations AS observations
JOIN cdp_staging.identity_id_types AS id_types ON id_types.id_type = observations.id_type
WHERE id_types.normalize = 'phone'
