"""People: who they are, how they show up, and which adversarial role they play.

Every attribute is a pure function of (seed, person index), so a person can be rebuilt
anywhere: a partner in a shared-device, household-email or recycled-phone pair reads the
other's device id, email or phone by rebuilding that person's basics, which keeps the
stream memory-bounded. Pairs are people (2k, 2k+1); the even one is the owner.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache

import phonenumbers

from sources.synthetic.randomness import keyed_rng, keyed_uuid, unit
from sources.synthetic.settings import WorldRates

FIRST_NAMES = ("Maria", "James", "Aisha", "Lukas", "Sofia", "Noah", "Emma", "Mateo", "Chloe", "Liam", "Yuki",
               "Olivia", "Arjun", "Hannah", "Leon", "Zara", "Finn", "Amelia", "Omar", "Ines", "Ethan", "Mila",
               "Jonas", "Grace", "Diego", "Freya", "Kai", "Lea", "Samuel", "Nora", "Ravi", "Elif")
LAST_NAMES = ("Garcia", "Smith", "Khan", "Muller", "Rossi", "Johnson", "Dubois", "Tanaka", "Brown", "Silva",
              "Jansen", "Nguyen", "Wilson", "Schmidt", "Patel", "Martin", "Kowalski", "Lopez", "Taylor", "Bakker",
              "Moreau", "Fischer", "Chen", "Walker", "Novak", "Costa", "Evans", "Larsen", "Ahmed", "Kim")
EMAIL_DOMAINS = ("gmail.com", "gmail.com", "gmail.com", "yahoo.com", "outlook.com", "hotmail.com", "icloud.com",
                 "proton.me", "fastmail.com", "gmx.de", "orange.fr")
WORK_DOMAINS = ("acme-events.com", "northwind.io", "globex.co", "initech.net", "umbrella-music.org")

# country -> (weight, locale, timezone, cities, phone prefixes: national significant number heads)
COUNTRIES = {
    "US": (40, "en-US", "America/New_York", ("New York", "Chicago", "Austin", "Seattle"), ("212", "312", "415", "617", "646", "718", "305", "512", "206", "303")),
    "GB": (15, "en-GB", "Europe/London", ("London", "Manchester", "Bristol"), ("75",)),
    "DE": (12, "de-DE", "Europe/Berlin", ("Berlin", "Hamburg", "Munich"), ("151",)),
    "FR": (10, "fr-FR", "Europe/Paris", ("Paris", "Lyon", "Marseille"), ("6",)),
    "CA": (8, "en-CA", "America/Toronto", ("Toronto", "Vancouver", "Montreal"), ("416", "604", "514", "403", "613")),
    "AU": (8, "en-AU", "Australia/Sydney", ("Sydney", "Melbourne"), ("41",)),
    "NL": (7, "nl-NL", "Europe/Amsterdam", ("Amsterdam", "Utrecht"), ("61",)),
}
_COUNTRY_CODES = tuple(COUNTRIES)
_COUNTRY_WEIGHTS = tuple(v[0] for v in COUNTRIES.values())
# US/CA exchanges: 3 digits starting 2-9, never N11, never 555 (reserved), never 950/958/959/976
_NANP_EXCHANGES = tuple(x for x in range(200, 1000) if x % 100 != 11 and x not in (555, 950, 958, 959, 976))

PLACEHOLDERS = (("email", "test@test.com"), ("user_id", "null"), ("user_id", "0"),
                ("user_id", "anonymous"), ("user_id", "-1"))

STAGES = ("anonymous", "subscriber", "registered", "buyer", "lapsed")
_STAGE_WEIGHTS = (35, 10, 20, 25, 10)
_STAGE_RANK = {"anonymous": 0, "subscriber": 1, "registered": 2, "buyer": 3, "lapsed": 3}
USER_ID_BASE = 1_000_000


def _base36(number: int) -> str:
    digits = "0123456789abcdefghijklmnopqrstuvwxyz"
    text = ""
    while True:
        number, rest = divmod(number, 36)
        text = digits[rest] + text
        if not number:
            return text


def person_id(index: int) -> str:
    return f"P{index:07d}"


def _national_number(country: str, index: int) -> str:
    """A valid, unique national significant number: a bijection of the person index."""
    heads = COUNTRIES[country][4]
    head = heads[index % len(heads)]
    rest = index // len(heads)
    if country in ("US", "CA"):
        exchange = _NANP_EXCHANGES[(rest // 10000) % len(_NANP_EXCHANGES)]
        return f"{head}{exchange}{rest % 10000:04d}"
    width = {"GB": 8, "DE": 8, "FR": 8, "AU": 7, "NL": 7}[country]
    return f"{head}{rest % 10**width:0{width}d}"


@dataclass(frozen=True)
class Basics:
    """What anyone may need to know about a person: name, contact points, main device."""

    index: int
    first: str
    last: str
    country: str
    email: str        # canonical: already lowercase and trimmed
    phone: str        # E.164
    web_device: str   # anonymousId of the main browser


@lru_cache(maxsize=256)
def basics(seed: int, index: int) -> Basics:
    rng = keyed_rng(seed, "basics", index)
    first, last = rng.choice(FIRST_NAMES), rng.choice(LAST_NAMES)
    country = rng.choices(_COUNTRY_CODES, weights=_COUNTRY_WEIGHTS)[0]
    tag = _base36(index)
    pattern = rng.randrange(3)
    local = (f"{first}.{last}.{tag}", f"{first[0]}{last}.{tag}", f"{first}_{tag}")[pattern].lower()
    email = f"{local}@{rng.choice(EMAIL_DOMAINS)}"
    code = phonenumbers.country_code_for_region(country)
    phone = f"+{code}{_national_number(country, index)}"
    return Basics(index, first, last, country, email, phone, keyed_uuid(seed, "device", (index, 0)))


@dataclass
class Device:
    anonymous_id: str
    platform: str  # web | ios | android
    owner_index: int

    @property
    def source(self) -> str:
        return "website" if self.platform == "web" else "app"


@dataclass
class Person:
    index: int
    basics: Basics
    stage: str
    user_id: str
    email: str                    # the email this person types (maybe a household's)
    phone: str | None             # E.164 this person uses, or None if never given
    second_email: str | None
    consent: dict[str, bool]
    devices: list[Device]
    guest: bool                   # orders on Shopify without an account
    b2b_org: str | None
    placeholder: tuple[str, str] | None
    shared: dict[tuple[str, str], str] = field(default_factory=dict)  # (id_type, value) -> reason

    @property
    def id(self) -> str:
        return person_id(self.index)

    @property
    def country(self) -> str:
        return self.basics.country

    @property
    def locale(self) -> str:
        return COUNTRIES[self.country][1]

    @property
    def timezone(self) -> str:
        return COUNTRIES[self.country][2]

    @property
    def identifies(self) -> bool:
        return _STAGE_RANK[self.stage] >= 2

    @property
    def buys(self) -> bool:
        return _STAGE_RANK[self.stage] >= 3


def _pair_role(seed: int, purpose: str, rate: float, index: int, people: int) -> int | None:
    """For a person in a pair chosen for `purpose`, the partner's index; else None."""
    pair = index // 2
    partner = index ^ 1
    if partner >= people or unit(seed, purpose, pair) >= rate:
        return None
    return partner


def _at_least(stage: str, minimum: str) -> str:
    return stage if _STAGE_RANK[stage] >= _STAGE_RANK[minimum] else minimum


def make_person(seed: int, index: int, people: int, rates: WorldRates) -> Person:
    own = basics(seed, index)
    rng = keyed_rng(seed, "person", index)
    stage = rng.choices(STAGES, weights=_STAGE_WEIGHTS)[0]
    consent = {
        "analytics": rng.random() < 0.85,
        "advertising": rng.random() < 0.6,
        "email": rng.random() < 0.5,
        "sms": rng.random() < 0.2,
    }
    devices = [Device(own.web_device, "web", index)]
    if rng.random() < 0.4:
        devices.append(Device(keyed_uuid(seed, "device", (index, 1)), rng.choice(("ios", "android")), index))
    if rng.random() < 0.15:
        devices.append(Device(keyed_uuid(seed, "device", (index, 2)), "web", index))
    email, phone = own.email, (own.phone if rng.random() < 0.6 else None)
    second_email = None
    if unit(seed, "second_email", index) < rates.second_email:
        second_email = f"{own.first}.{own.last}.{_base36(index)}@{rng.choice(WORK_DOMAINS)}".lower()
    guest = unit(seed, "guest_checkout", index) < rates.guest_checkout
    shared: dict[tuple[str, str], str] = {}

    partner = _pair_role(seed, "shared_device", rates.shared_device, index, people)
    if partner is not None:
        stage = _at_least(stage, "registered")
        if index % 2:  # the borrower also browses on the owner's main browser
            device = basics(seed, partner).web_device
            devices.append(Device(device, "web", partner))
        shared[("anonymous_id", basics(seed, index & ~1).web_device)] = "shared_device"

    partner = _pair_role(seed, "household_email", rates.household_email, index, people)
    if partner is not None:
        if index % 2:
            email = basics(seed, partner).email
            stage, guest = "buyer", True  # Shopify allows one customer per email: the partner checks out as guest
        else:
            stage = _at_least(stage, "registered")
        shared[("email", email)] = "household_email"

    partner = _pair_role(seed, "recycled_phone", rates.recycled_phone, index, people)
    if partner is not None:
        number = basics(seed, index & ~1).phone
        if index % 2:
            stage, phone = _at_least(stage, "registered"), number
        else:
            stage, phone = "lapsed", number  # the first holder stopped using it, the carrier re-issued it
        shared[("phone", number)] = "recycled_phone"

    placeholder = None
    if unit(seed, "placeholder", index) < rates.placeholder:
        placeholder = PLACEHOLDERS[int(unit(seed, "placeholder-kind", index) * len(PLACEHOLDERS))]
        stage = _at_least(stage, "registered")
        shared[placeholder] = "placeholder"

    b2b_org = None
    if _STAGE_RANK[stage] >= 2 and rng.random() < 0.04:
        b2b_org = f"org_{rng.randrange(1, 60):04d}"
    return Person(index, own, stage, str(USER_ID_BASE + index), email, phone, second_email, consent, devices,
                  guest, b2b_org, placeholder, shared)
