// Prints, as JSON, the words build.py takes from @faker-js/faker's locale
// definitions (MIT licence): person names, cities, states, countries, street
// suffixes and company suffixes of every locale. Usage:
//   npm pack @faker-js/faker@10.6.0 && tar xzf faker-js-faker-10.6.0.tgz
//   node scripts/gazetteer/fakerjs-dump.mjs package/dist/index.js > fakerjs.json
import { pathToFileURL } from 'node:url';
import path from 'node:path';

const { allLocales } = await import(pathToFileURL(path.resolve(process.argv[2])).href);
const SKIP = new Set(['en_BORK', 'en_AU_ocker']);

// Every string inside a definition: arrays, and objects of arrays ({female: [...], male: [...]}).
function strings(value, out) {
  if (typeof value === 'string') out.add(value);
  else if (Array.isArray(value)) value.forEach((v) => strings(v, out));
  else if (value && typeof value === 'object') Object.values(value).forEach((v) => strings(v, out));
}

const pick = {
  given: [['person', 'first_name'], ['person', 'middle_name']],
  surnames: [['person', 'last_name']],
  places: [['location', 'city_name'], ['location', 'state'], ['location', 'county'], ['location', 'country']],
  street_words: [['location', 'street_suffix'], ['location', 'street_prefix']],
  org_suffixes: [['company', 'legal_entity_type'], ['company', 'suffix']],
};
const result = {};
for (const [key, paths] of Object.entries(pick)) {
  const out = new Set();
  for (const [name, locale] of Object.entries(allLocales)) {
    if (SKIP.has(name)) continue;
    for (const [module, field] of paths) strings(locale?.[module]?.[field], out);
  }
  result[key] = [...out].filter((w) => !w.includes('{{')).sort();
}
process.stdout.write(JSON.stringify(result));
