"""A person's life as Segment messages: sessions on their devices, signing up, buying,
abandoning carts, lapsing, plus the delivery faults real pipelines see (late messages,
duplicates, skewed device clocks).

Why one module owns the whole lifecycle: the purchases it decides are the same orders
the Shopify and Stripe records describe, so both must come from one decision.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

from sources.synthetic.catalog import MEMBERSHIP, SHOP_CURRENCY, SHOP_PRODUCTS, WORKSHOPS, Product, Variant
from sources.synthetic.clock import DAY, device_skew_seconds, iso, session_time
from sources.synthetic.newsletter import CampaignSend, last_campaign, receives_campaigns, unique_email_id
from sources.synthetic.people import Device, Person
from sources.synthetic.randomness import keyed_rng, rng_token, rng_uuid
from sources.synthetic.settings import WorldRates

SITE = "https://headwater-live.example"
LAPSE_DAYS = 60
_SESSIONS_MEAN = {"anonymous": 3.0, "subscriber": 4.0, "registered": 8.0, "buyer": 12.0, "lapsed": 10.0}
_CAMPAIGNS = (  # source, medium, campaign, click id parameter
    ("google", "cpc", "festival_season_search", "gclid"),
    ("facebook", "paid_social", "summer_lineup_retargeting", "fbclid"),
    ("instagram", "paid_social", "merch_drop", "fbclid"),
    ("tiktok", "paid_social", "rave_teaser", "ttclid"),
    ("mailchimp", "email", "weekly_newsletter", None),  # only for list members: links carry mc_cid and mc_eid
)
_PAID_CAMPAIGNS = tuple(c for c in _CAMPAIGNS if c[0] != "mailchimp")
_USER_AGENTS = {
    "web": ("Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Safari/605.1.15",
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36",
            "Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 Mobile/15E148 Safari/604.1"),
}
_APP = {"ios": ({"name": "analytics-ios", "version": "4.1.8"}, {"name": "iOS", "version": "18.1"}, "Apple", "iPhone15,2"),
        "android": ({"name": "analytics-android", "version": "4.11.3"}, {"name": "Android", "version": "14"}, "Google", "Pixel 8")}
_SCREENS = ("Home", "Lineup", "Event Detail", "Tickets", "Shop")


@dataclass
class Line:
    product: Product
    variant: Variant
    quantity: int

    @property
    def cents(self) -> int:
        return self.variant.price_cents * self.quantity


@dataclass
class Purchase:
    """One completed purchase: a Shopify order, a Stripe workshop booking or a membership."""

    channel: str            # shop | workshop | membership
    time: float
    device: Device
    lines: list[Line]
    order_id: str           # what Order Completed carries: Shopify numeric id, or cs_… session id
    order_number: int = 0   # Shopify order number (#1001) for shop orders
    discount_code: str | None = None
    refunded: bool = False
    pay_with_stripe: bool = False

    @property
    def subtotal_cents(self) -> int:
        return sum(line.cents for line in self.lines)

    @property
    def discount_cents(self) -> int:
        return self.subtotal_cents // 10 if self.discount_code else 0

    @property
    def total_cents(self) -> int:
        return self.subtotal_cents - self.discount_cents


@dataclass
class AbandonedCart:
    time: float
    lines: list[Line]
    checkout_number: int


@dataclass
class Emitted:
    message: dict
    source: str
    true_time: float
    skew: float
    late: bool
    duplicated: bool


@dataclass
class Story:
    person: Person
    late_messages: list[Emitted] = field(default_factory=list)  # held back; sent after the rest
    message_count: int = 0
    purchases: list[Purchase] = field(default_factory=list)
    abandoned: list[AbandonedCart] = field(default_factory=list)
    first_seen: float = 0.0
    signup_time: float | None = None
    newsletter_time: float | None = None
    newsletter_clicks: list[tuple[str, float, str]] = field(default_factory=list)  # campaign id, time, link


class Counters:
    """World-wide sequences (order numbers, checkout numbers), advanced in person order."""

    def __init__(self) -> None:
        self.orders = 0
        self.checkouts = 0

    def next_order(self) -> int:
        self.orders += 1
        return self.orders

    def next_checkout(self) -> int:
        self.checkouts += 1
        return self.checkouts


SHOPIFY_ORDER_ID_BASE = 5_900_000_000_000
SHOPIFY_CHECKOUT_ID_BASE = 3_100_000_000_000


def _geometric(rng: random.Random, mean: float) -> int:
    count = 1
    while rng.random() > 1.0 / mean and count < 40:
        count += 1
    return count


class StoryWriter:
    """Turns a person into their messages and purchases; one per world."""

    def __init__(self, seed: int, rates: WorldRates, start: float, end: float, counters: Counters,
                 campaigns: list[CampaignSend] = ()):
        self.seed, self.rates, self.start, self.end, self.counters = seed, rates, start, end, counters
        self.campaigns = list(campaigns)

    # --- message plumbing -------------------------------------------------------------
    def _consent(self, person: Person) -> dict:
        return {"categoryPreferences": dict(person.consent)}

    def _context(self, person: Person, device: Device, rng: random.Random, page: dict | None) -> dict:
        """A fresh top-level context per message; its fixed parts are shared per device (read-only)."""
        fixed = self._device_context.get(device.anonymous_id)
        if fixed is None:
            fixed = self._device_context[device.anonymous_id] = self._fixed_context(person, device)
        context = dict(fixed)
        if device.platform == "web":
            context["page"] = page or {}
        else:
            context["network"] = {"wifi": rng.random() < 0.6}
        return context

    def _fixed_context(self, person: Person, device: Device) -> dict:
        owner = device.owner_index
        ip = f"{(owner * 7919) % 200 + 11}.{(owner // 200) % 250}.{owner % 250}.{owner % 3 + 36}"
        if device.platform == "web":
            context = {"library": {"name": "analytics.js", "version": "5.2.0"},
                       "userAgent": _USER_AGENTS["web"][owner % 3], "ip": ip}
        else:
            library, os_info, maker, model = _APP[device.platform]
            context = {"library": library, "app": {"name": "Headwater Live", "version": "3.4.1", "build": "341",
                                                   "namespace": "live.headwater.app"},
                       "device": {"id": device.anonymous_id, "manufacturer": maker, "model": model,
                                  "type": device.platform},
                       "os": os_info, "ip": ip}
        context["locale"] = person.locale
        context["timezone"] = person.timezone
        context["consent"] = self._consent(person)
        return context

    def _emit(self, story: Story, rng: random.Random, device: Device, t: float, body: dict,
              user_id: str | None, page: dict | None = None, campaign: dict | None = None) -> None:
        person = story.person
        skew = self._skews.get(device.anonymous_id)
        if skew is None:
            skew = self._skews[device.anonymous_id] = device_skew_seconds(
                self.seed, self.rates.clock_skew_device, device.anonymous_id)
        delay = rng.uniform(0.05, 2.0) if device.platform == "web" else rng.uniform(1.0, 30.0)
        late = False
        if rng.random() < self.rates.late_message:
            delay = min(rng.uniform(2 * 3600, 3 * DAY), self.end - t)
            late = delay >= 3600
        message = {"type": body.pop("type"), "messageId": rng_uuid(rng), "anonymousId": device.anonymous_id}
        if user_id is not None:
            message["userId"] = user_id
        message.update(body)
        message["timestamp"] = iso(t + skew)
        message["sentAt"] = iso(min(t + delay, self.end) + skew)
        message["context"] = self._context(person, device, rng, page)
        message["integrations"] = {}
        duplicated = rng.random() < self.rates.duplicate_message
        if campaign is not None:
            message["context"]["campaign"] = campaign
        emitted = Emitted(message, device.source, t, skew, late, duplicated)
        story.message_count += 1
        if late:
            story.late_messages.append(emitted)
        else:
            self._deliver(emitted)

    # --- the life ---------------------------------------------------------------------
    def write(self, person: Person, deliver: Callable[[Emitted], None]) -> Story:
        """Live `person`'s story: on-time messages go to `deliver` as they happen (nothing held
        in memory); late ones are kept in `story.late_messages`, in time order, for the caller to
        send after the rest, as an offline device would."""
        self._deliver = deliver
        self._unique_email_id = unique_email_id(self.seed, person)
        rng = keyed_rng(self.seed, "story", person.index)
        story = Story(person)
        self._skews: dict[str, float] = {}
        self._device_context: dict[str, dict] = {}
        self._last_page: dict[str, dict] = {}
        before = self.end - LAPSE_DAYS * DAY if person.stage == "lapsed" else None
        count = _geometric(rng, _SESSIONS_MEAN[person.stage])
        times = sorted(session_time(rng, self.start, self.end, before) for _ in range(count))
        story.first_seen = times[0]
        signup_at = rng.randrange(0, count // 2 + 1) if person.stage != "anonymous" else None
        borrowed = next((d for d in person.devices if d.owner_index != person.index), None)
        own_devices = [d for d in person.devices if d.owner_index == person.index]
        weights = [1.0 if d.platform == "web" and i == 0 else (1.2 if d.platform != "web" else 0.4)
                   for i, d in enumerate(own_devices)]
        identified: set[str] = set()
        bought = False
        membership = person.buys and rng.random() < 0.12
        placeholder_used = False
        for number, t in enumerate(times):
            if number == 0 or (number == signup_at and borrowed is None):
                device = own_devices[0]
            elif number == signup_at:
                device = borrowed
            elif borrowed is not None and rng.random() < 0.2:
                device = borrowed
            else:
                device = rng.choices(own_devices, weights=weights)[0]
            clock = [t]
            user_id = person.user_id if device.anonymous_id in identified else None
            self._browse(story, rng, device, clock, user_id, landing=True)
            signed_up = signup_at is not None and number >= signup_at
            if number == signup_at:
                user_id = self._sign_up(story, rng, device, clock, identified)
            elif signed_up and person.identifies and device.anonymous_id not in identified:
                user_id = self._identify(story, rng, device, clock, identified, "Logged In")
            if signed_up and person.placeholder and not placeholder_used:
                placeholder_used = self._placeholder(story, rng, device, clock)
            if signed_up and person.b2b_org and device.platform == "web" and rng.random() < 0.5:
                self._emit(story, rng, device, self._tick(rng, clock), {
                    "type": "group", "groupId": person.b2b_org,
                    "traits": {"name": f"Company {person.b2b_org[-4:]}", "industry": "Events",
                               "employees": 10 + int(person.b2b_org[-2:]) * 7}}, user_id)
            is_last = number == len(times) - 1
            if person.buys and signed_up and (rng.random() < 0.4 or (is_last and not bought)):
                bought = True
                channel = "membership" if membership and not any(p.channel == "membership" for p in story.purchases) \
                    else ("workshop" if rng.random() < 0.2 else "shop")
                self._purchase(story, rng, device, clock, user_id, channel)
            elif person.buys and signed_up and rng.random() < 0.15:
                self._abandon(story, rng, device, clock, user_id)
            elif person.buys and not signed_up and signup_at is not None and rng.random() < 0.1:
                # a visitor not logged in leaves a cart after typing their email into Shopify's checkout
                self._abandon(story, rng, device, clock, None)
        story.late_messages.sort(key=lambda e: e.true_time)
        return story

    @staticmethod
    def _tick(rng: random.Random, clock: list[float]) -> float:
        clock[0] += rng.uniform(3.0, 90.0)
        return clock[0]

    def _newsletter_link(self, story: Story, t: float) -> CampaignSend | None:
        """The campaign whose link a list member may follow at `t` (none for anyone else)."""
        person = story.person
        if not receives_campaigns(self.seed, person, story.newsletter_time, t):
            return None
        return last_campaign(self.campaigns, story.newsletter_time, t)

    def _page_fields(self, rng: random.Random, path: str, title: str, referrer: str,
                     newsletter: CampaignSend | None, landing: bool) -> tuple[dict, dict | None]:
        search = ""
        campaign = None
        if landing and rng.random() < 0.35:
            source, medium, name, click_param = rng.choice(_CAMPAIGNS if newsletter else _PAID_CAMPAIGNS)
            params = [f"utm_source={source}", f"utm_medium={medium}", f"utm_campaign={name}"]
            if source == "mailchimp":  # Mailchimp's e-commerce link tracking: campaign id, member's email id
                params += [f"mc_cid={newsletter.id}", f"mc_eid={self._unique_email_id}"]
            if click_param == "gclid":
                params.append("gclid=" + rng_token(rng, 40))
            elif click_param == "fbclid":
                params.append("fbclid=IwAR" + rng_token(rng, 36))
            elif click_param == "ttclid":
                params.append("ttclid=" + rng_token(rng, 32))
            search = "?" + "&".join(params)
            campaign = {"name": name, "source": source, "medium": medium}
        page = {"path": path, "referrer": referrer, "search": search, "title": title, "url": f"{SITE}{path}{search}"}
        return page, campaign

    def _browse(self, story: Story, rng: random.Random, device: Device, clock: list[float], user_id: str | None,
                landing: bool) -> None:
        views = rng.randint(1, 4)
        for view in range(views):
            product = rng.choice(SHOP_PRODUCTS + WORKSHOPS)
            t = self._tick(rng, clock) if view else clock[0]
            if device.platform == "web":
                path = "/" if view == 0 and rng.random() < 0.5 else f"/products/{product.handle}"
                referrer = "https://www.google.com/" if view == 0 else SITE + "/"
                newsletter = self._newsletter_link(story, t) if landing and view == 0 else None
                page, campaign = self._page_fields(rng, path, f"{product.title} | Headwater Live", referrer,
                                                   newsletter, landing and view == 0)
                if campaign is not None and campaign["source"] == "mailchimp":  # Mailchimp reports this click
                    story.newsletter_clicks.append((newsletter.id, t, page["url"].split("&mc_cid=")[0]))
                body = {"type": "page", "name": product.title if path != "/" else "Home", "properties": dict(page)}
                self._emit(story, rng, device, t, body, user_id, page, campaign)
                self._last_page[device.anonymous_id] = page
            else:
                name = rng.choice(_SCREENS)
                self._emit(story, rng, device, t, {"type": "screen", "name": name,
                                                   "properties": {"name": name}}, user_id)
            if rng.random() < 0.6:
                variant = product.variants[0]
                self._emit(story, rng, device, self._tick(rng, clock), {
                    "type": "track", "event": "Product Viewed",
                    "properties": {"product_id": str(product.legacy_id), "sku": variant.sku, "name": product.title,
                                   "category": product.category, "price": variant.price_cents / 100,
                                   "currency": SHOP_CURRENCY}}, user_id, self._current_page(story, device))

    def _current_page(self, story: Story, device: Device) -> dict | None:
        """The page a web track/identify happens on (the device's last page view)."""
        if device.platform != "web":
            return None
        return self._last_page.get(device.anonymous_id)

    def _traits(self, person: Person, rng: random.Random, t: float, email: str) -> dict:
        traits = {"email": _typed_email(rng, email, self.rates.email_variant), "firstName": person.basics.first,
                  "lastName": person.basics.last, "country": person.country, "createdAt": iso(t),
                  "consent": dict(person.consent)}
        if person.phone:
            traits["phone"] = typed_phone(rng, person.phone)
        return traits

    def _sign_up(self, story: Story, rng: random.Random, device: Device, clock: list[float],
                 identified: set[str]) -> str | None:
        person = story.person
        t = self._tick(rng, clock)
        if person.stage == "subscriber":
            story.newsletter_time = t
            self._emit(story, rng, device, t, {"type": "identify", "traits": {
                "email": _typed_email(rng, person.email, self.rates.email_variant),
                "consent": dict(person.consent)}}, None, self._current_page(story, device))
            self._emit(story, rng, device, self._tick(rng, clock), {
                "type": "track", "event": "Newsletter Subscribed", "properties": {"list": "Headwater Live News"}},
                None, self._current_page(story, device))
            return None
        story.signup_time = t
        if person.consent["email"]:
            story.newsletter_time = t
        email = person.email
        if person.placeholder and person.placeholder[0] == "email":
            email = person.placeholder[1]  # typed into the sign-up form; the real one comes with a later login
        self._emit(story, rng, device, t, {"type": "identify", "traits": self._traits(person, rng, t, email)},
                   person.user_id, self._current_page(story, device))
        self._emit(story, rng, device, self._tick(rng, clock), {
            "type": "track", "event": "Signed Up", "properties": {"method": "email"}},
            person.user_id, self._current_page(story, device))
        if device.platform == "web":
            self._emit(story, rng, device, self._tick(rng, clock), {
                "type": "alias", "previousId": device.anonymous_id}, person.user_id, self._current_page(story, device))
        identified.add(device.anonymous_id)
        return person.user_id

    def _identify(self, story: Story, rng: random.Random, device: Device, clock: list[float], identified: set[str],
                  event: str) -> str:
        person = story.person
        t = self._tick(rng, clock)
        self._emit(story, rng, device, t, {"type": "identify", "traits": self._traits(person, rng, t, person.email)},
                   person.user_id, self._current_page(story, device))
        self._emit(story, rng, device, self._tick(rng, clock), {"type": "track", "event": event, "properties": {}},
                   person.user_id, self._current_page(story, device))
        identified.add(device.anonymous_id)
        return person.user_id

    def _placeholder(self, story: Story, rng: random.Random, device: Device, clock: list[float]) -> bool:
        """A buggy form or app build sends a placeholder where an identifier belongs."""
        person = story.person
        kind, value = person.placeholder
        if kind == "user_id":
            self._emit(story, rng, device, self._tick(rng, clock), {"type": "identify", "traits": {
                "firstName": person.basics.first, "consent": dict(person.consent)}}, value,
                self._current_page(story, device))
        else:
            t = self._tick(rng, clock)
            self._emit(story, rng, device, t, {"type": "identify", "traits": self._traits(person, rng, t, person.email)},
                       person.user_id, self._current_page(story, device))
        return True

    def _lines(self, rng: random.Random, pool: tuple[Product, ...], most: int) -> list[Line]:
        lines = []
        for product in rng.sample(pool, rng.randint(1, most)):
            lines.append(Line(product, rng.choice(product.variants), rng.choice((1, 1, 1, 2, 2, 4))
                              if product.product_type == "Ticket" else 1))
        return lines

    def _products(self, lines: list[Line]) -> list[dict]:
        return [{"product_id": str(line.product.legacy_id), "sku": line.variant.sku, "name": line.product.title,
                 "variant": line.variant.title, "category": line.product.category,
                 "price": line.variant.price_cents / 100, "quantity": line.quantity} for line in lines]

    def _cart(self, story: Story, rng: random.Random, device: Device, clock: list[float], user_id: str | None,
              lines: list[Line], checkout_id: str) -> None:
        page = self._current_page(story, device)
        for product in self._products(lines):
            self._emit(story, rng, device, self._tick(rng, clock), {
                "type": "track", "event": "Product Added", "properties": {**product, "currency": SHOP_CURRENCY}},
                user_id, page)
        self._emit(story, rng, device, self._tick(rng, clock), {"type": "track", "event": "Checkout Started", "properties": {
            "checkout_id": checkout_id, "value": sum(line.cents for line in lines) / 100, "currency": SHOP_CURRENCY,
            "products": self._products(lines)}}, user_id, page)

    def _purchase(self, story: Story, rng: random.Random, device: Device, clock: list[float], user_id: str | None,
                  channel: str) -> None:
        if channel == "shop":
            lines = self._lines(rng, SHOP_PRODUCTS, 3)
            number = self.counters.next_order()
            order_id = str(SHOPIFY_ORDER_ID_BASE + number)
            checkout_id = str(SHOPIFY_CHECKOUT_ID_BASE + self.counters.next_checkout())
        else:
            lines = [Line(MEMBERSHIP, MEMBERSHIP.variants[0], 1)] if channel == "membership" else self._lines(rng, WORKSHOPS, 1)
            number, order_id = 0, "cs_test_" + rng_token(rng, 58)
            checkout_id = order_id
        self._cart(story, rng, device, clock, user_id, lines, checkout_id)
        t = self._tick(rng, clock)
        purchase = Purchase(channel, t, device, lines, order_id, number,
                            discount_code="EARLYBIRD10" if rng.random() < 0.15 else None,
                            refunded=rng.random() < 0.05 and channel != "membership",
                            pay_with_stripe=channel != "shop" or rng.random() < 0.3)
        story.purchases.append(purchase)
        properties = {"order_id": order_id, "checkout_id": checkout_id, "total": purchase.total_cents / 100,
                      "revenue": purchase.total_cents / 100, "discount": purchase.discount_cents / 100,
                      "currency": SHOP_CURRENCY, "products": self._products(lines)}
        if purchase.discount_code:
            properties["coupon"] = purchase.discount_code
        self._emit(story, rng, device, t, {"type": "track", "event": "Order Completed", "properties": properties},
                   user_id, self._current_page(story, device))

    def _abandon(self, story: Story, rng: random.Random, device: Device, clock: list[float], user_id: str | None) -> None:
        lines = self._lines(rng, SHOP_PRODUCTS, 2)
        number = self.counters.next_checkout()
        self._cart(story, rng, device, clock, user_id, lines, str(SHOPIFY_CHECKOUT_ID_BASE + number))
        story.abandoned.append(AbandonedCart(clock[0], lines, number))


def _typed_email(rng: random.Random, email: str, variant_rate: float) -> str:
    """The email as a person types it: sometimes capitalised or padded with spaces."""
    if rng.random() >= variant_rate:
        return email
    local, _, domain = email.partition("@")
    return rng.choice((f"{local.title()}@{domain}", f" {email} ", f"{local}@{domain.upper()}", f"{email.upper()}"))


typed_email = _typed_email


def typed_phone(rng: random.Random, e164: str) -> str:
    """The phone as typed: E.164, international with spaces, or national with punctuation."""
    style = rng.randrange(4)
    if e164.startswith("+1"):
        digits = e164[2:]
        return (e164, f"+1 {digits[:3]}-{digits[3:6]}-{digits[6:]}", f"({digits[:3]}) {digits[3:6]}-{digits[6:]}",
                f"{digits[:3]}.{digits[3:6]}.{digits[6:]}")[style]
    code_len = 2
    code, national = e164[1:1 + code_len], e164[1 + code_len:]
    return (e164, f"+{code} {national[:3]} {national[3:]}", f"0{national[:3]} {national[3:6]} {national[6:]}",
            f"00{code}{national}")[style]
