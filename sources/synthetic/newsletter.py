"""Who is on the Mailchimp list, and how Mailchimp names them in campaign links.

Why one module: the story sends newsletter readers to the site through campaign links that
Mailchimp's e-commerce link tracking tags with `mc_cid` (the campaign id) and `mc_eid` (the
member's `unique_email_id`), and the Mailchimp records must describe the same member. So
membership, pending confirmation and the member's email id are pure functions of the seed and
the person, decided here and read by both.
"""

from __future__ import annotations

from dataclasses import dataclass

from sources.synthetic.people import Person
from sources.synthetic.randomness import keyed_rng, rng_hex, unit

PENDING_RATE = 0.03  # signed up but never confirmed the opt-in email: receives no campaign


@dataclass(frozen=True)
class CampaignSend:
    """A campaign as its links know it: Mailchimp's campaign id and when it went out."""

    id: str
    send_time: float


def joins_list(person: Person) -> bool:
    """A household partner whose address is already on the list is not added twice."""
    return not (person.shared.get(("email", person.email)) == "household_email" and person.index % 2)


def pending(seed: int, person: Person) -> bool:
    return unit(seed, "mailchimp-pending", person.index) < PENDING_RATE


def unique_email_id(seed: int, person: Person) -> str:
    """Mailchimp's `unique_email_id` of the person's list member (10 hex digits), the link's mc_eid."""
    return rng_hex(keyed_rng(seed, "mailchimp-unique-email-id", person.index), 10)


def receives_campaigns(seed: int, person: Person, subscribed_at: float | None, at: float) -> bool:
    """Whether, at `at`, the person is a confirmed member who can click a campaign link."""
    return subscribed_at is not None and subscribed_at < at and joins_list(person) and not pending(seed, person)


def last_campaign(campaigns: list[CampaignSend], after: float, before: float) -> CampaignSend | None:
    """The newest campaign sent between `after` and `before` (the one whose link was clicked)."""
    sent = [c for c in campaigns if after < c.send_time < before]
    return sent[-1] if sent else None
