"""Mailchimp Marketing API records: one audience (list), its members, the campaigns sent
to it, their reports, per-recipient email activity and unsubscribes.

Campaign reports are totals over every recipient, so the account keeps small per-campaign
counters while people stream past and writes lists, campaigns and reports at the end.
Newsletter-only people (who never buy) live here, and some people subscribe with their
second email.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sources.synthetic.clock import DAY, iso_offset
from sources.synthetic.newsletter import CampaignSend, joins_list, pending, unique_email_id
from sources.synthetic.normalize import mailchimp_member_id
from sources.synthetic.randomness import keyed_rng, rng_hex
from sources.synthetic.story import SITE, Story, typed_email, typed_phone
from sources.synthetic.vendors import IdentifierSink, RecordSink

VENDOR = "mailchimp"
CAMPAIGN_EVERY_DAYS = 14
_SUBJECTS = ("This week's lineup", "Early-bird tickets are open", "New merch drop", "Workshops: last seats",
             "Your festival guide", "Backstage Club perks")


@dataclass
class Campaign:
    id: str
    web_id: int
    send_time: float
    title: str
    subject: str
    emails_sent: int = 0
    opens_total: int = 0
    unique_opens: int = 0
    clicks_total: int = 0
    unique_clicks: int = 0
    unsubscribed: int = 0
    hard_bounces: int = 0
    last_open: float = 0.0
    last_click: float = 0.0


@dataclass
class MailchimpAccount:
    seed: int
    start: float
    end: float
    list_id: str = ""
    campaigns: list[Campaign] = field(default_factory=list)
    members: int = 0
    unsubscribes: int = 0
    cleaned: int = 0

    def __post_init__(self) -> None:
        rng = keyed_rng(self.seed, "mailchimp", "account")
        self.list_id = rng_hex(rng, 10)
        send = self.start + 7 * DAY
        number = 0
        while send < self.end:
            subject = _SUBJECTS[number % len(_SUBJECTS)]
            self.campaigns.append(Campaign(rng_hex(rng, 10), 1_000_000 + number, send + 15 * 3600,
                                           f"Newsletter {number + 1:02d}", subject))
            send += CAMPAIGN_EVERY_DAYS * DAY
            number += 1

    def sends(self) -> list[CampaignSend]:
        """The campaigns as their tracked links name them, for the story's newsletter landings."""
        return [CampaignSend(campaign.id, campaign.send_time) for campaign in self.campaigns]

    def write_person(self, story: Story, sink: RecordSink, ids: IdentifierSink, email_variant_rate: float) -> None:
        person = story.person
        if story.newsletter_time is None or not joins_list(person):
            return  # not subscribed, or the household partner whose address is already on the list
        rng = keyed_rng(self.seed, "mailchimp", person.index)
        email = person.second_email if person.second_email and rng.random() < 0.5 else person.email
        typed = typed_email(rng, email, email_variant_rate).strip()
        member_id = mailchimp_member_id(typed)
        opted = story.newsletter_time
        status, changed = ("pending", opted) if pending(self.seed, person) else ("subscribed", opted)
        opens = clicks = received = 0
        landings: dict[str, list[tuple[float, str]]] = {}  # campaign -> the story's visits through its links
        for campaign_id, at, url in story.newsletter_clicks:
            landings.setdefault(campaign_id, []).append((at, url))
        stays_until = max((c.send_time for c in self.campaigns if c.id in landings), default=0.0)
        for campaign in self.campaigns:
            if status != "subscribed" or campaign.send_time <= opted:
                continue
            received += 1
            campaign.emails_sent += 1
            activity = []
            landing = landings.get(campaign.id)
            may_leave = campaign.send_time > stays_until  # who clicked a later campaign was still on the list
            if may_leave and rng.random() < 0.004:
                activity.append({"action": "bounce", "type": "hard", "timestamp": iso_offset(campaign.send_time + 60),
                                 "ip": ""})
                campaign.hard_bounces += 1
                status, changed = "cleaned", campaign.send_time + 60
            elif landing is not None or rng.random() < 0.35:
                opened = campaign.send_time + rng.uniform(300, 48 * 3600)
                if landing is not None:  # opened just before the first click that brought them to the site
                    opened = max(campaign.send_time + 1, landing[0][0] - rng.uniform(5, 120))
                count = rng.choice((1, 1, 2, 3))
                for n in range(count):
                    activity.append({"action": "open", "timestamp": iso_offset(opened + n * 3600), "ip": "203.0.113.7"})
                campaign.opens_total += count
                campaign.unique_opens += 1
                campaign.last_open = max(campaign.last_open, opened)
                opens += 1
                if landing is not None or rng.random() < 0.3:
                    visits = landing or [(opened + rng.uniform(5, 120),
                                          f"{SITE}/?utm_source=mailchimp&utm_medium=email&utm_campaign=weekly_newsletter")]
                    for clicked, url in visits:
                        activity.append({"action": "click", "timestamp": iso_offset(clicked), "url": url,
                                         "ip": "203.0.113.7"})
                        campaign.last_click = max(campaign.last_click, clicked)
                    campaign.clicks_total += len(visits)
                    campaign.unique_clicks += 1
                    clicks += 1
                if may_leave and rng.random() < 0.02:
                    campaign.unsubscribed += 1
                    status, changed = "unsubscribed", opened + 30
                    self.unsubscribes += 1
                    sink.write(VENDOR, "unsubscribes", {
                        "email_id": member_id, "email_address": typed, "merge_fields": {"FNAME": person.basics.first,
                                                                                         "LNAME": person.basics.last},
                        "vip": False, "timestamp": iso_offset(opened + 30), "reason": "I no longer want these emails",
                        "campaign_id": campaign.id, "list_id": self.list_id}, person.id,
                        f"{campaign.id}:{member_id}")
            sink.write(VENDOR, "email_activity", {
                "campaign_id": campaign.id, "list_id": self.list_id, "list_is_active": True, "email_id": member_id,
                "email_address": typed, "activity": activity}, person.id, f"{campaign.id}:{member_id}")
        self.members += 1
        self.cleaned += status == "cleaned"
        member = {
            "id": member_id, "email_address": typed, "unique_email_id": unique_email_id(self.seed, person),
            "contact_id": rng_hex(rng, 32), "full_name": f"{person.basics.first} {person.basics.last}",
            "web_id": 500_000_000 + person.index, "email_type": "html", "status": status,
            "merge_fields": {"FNAME": person.basics.first, "LNAME": person.basics.last,
                             "PHONE": typed_phone(rng, person.phone) if person.phone else ""},
            "stats": {"avg_open_rate": round(opens / received, 2) if received else 0,
                      "avg_click_rate": round(clicks / received, 2) if received else 0},
            "ip_signup": "", "timestamp_signup": iso_offset(opted), "timestamp_opt": iso_offset(opted),
            "member_rating": 2 + min(3, opens // 2), "last_changed": iso_offset(changed),
            "language": person.locale.split("-")[0], "vip": False,
            "location": {"country_code": person.country, "timezone": person.timezone},
            "source": "API - Generic" if story.signup_time else "Hosted Signup Form",
            "tags_count": 1, "tags": [{"id": 101, "name": "customer" if person.buys else "newsletter"}],
            "list_id": self.list_id,
        }
        ids.record([("mailchimp_member_id", member_id), ("email", typed), ("phone", member["merge_fields"]["PHONE"] or None)],
                   [f"mc_eid:{member['unique_email_id']}"])
        sink.write(VENDOR, "members", member, person.id, f"{self.list_id}:{member_id}")

    def write_account(self, sink: RecordSink) -> None:
        """Lists, campaigns and reports, once every person has been seen."""
        sent = [c for c in self.campaigns if c.emails_sent]
        opens = sum(c.unique_opens for c in sent) / max(1, sum(c.emails_sent for c in sent))
        clicks = sum(c.unique_clicks for c in sent) / max(1, sum(c.emails_sent for c in sent))
        sink.write(VENDOR, "lists", {
            "id": self.list_id, "web_id": 100_001, "name": "Headwater Live News",
            "contact": {"company": "Headwater Live", "country": "US"},
            "permission_reminder": "You signed up for news at headwater-live.example",
            "campaign_defaults": {"from_name": "Headwater Live", "from_email": "news@headwater-live.example",
                                  "subject": "", "language": "en"},
            "date_created": iso_offset(self.start), "email_type_option": False, "visibility": "prv",
            "stats": {"member_count": self.members - self.unsubscribes - self.cleaned,
                      "unsubscribe_count": self.unsubscribes, "cleaned_count": self.cleaned,
                      "campaign_count": len(self.campaigns), "open_rate": round(opens * 100, 2),
                      "click_rate": round(clicks * 100, 2)}}, None)
        for campaign in self.campaigns:
            open_rate = round(campaign.unique_opens / campaign.emails_sent, 4) if campaign.emails_sent else 0
            click_rate = round(campaign.unique_clicks / campaign.emails_sent, 4) if campaign.emails_sent else 0
            sink.write(VENDOR, "campaigns", {
                "id": campaign.id, "web_id": campaign.web_id, "type": "regular",
                "create_time": iso_offset(campaign.send_time - DAY), "send_time": iso_offset(campaign.send_time),
                "status": "sent", "emails_sent": campaign.emails_sent, "content_type": "template",
                "recipients": {"list_id": self.list_id, "list_is_active": True, "list_name": "Headwater Live News",
                               "recipient_count": campaign.emails_sent},
                "settings": {"subject_line": campaign.subject, "preview_text": "", "title": campaign.title,
                             "from_name": "Headwater Live", "reply_to": "news@headwater-live.example"},
                "tracking": {"opens": True, "html_clicks": True, "text_clicks": False},
                "report_summary": {"opens": campaign.opens_total, "unique_opens": campaign.unique_opens,
                                   "open_rate": open_rate, "clicks": campaign.clicks_total,
                                   "subscriber_clicks": campaign.unique_clicks, "click_rate": click_rate}}, None)
            sink.write(VENDOR, "reports", {
                "id": campaign.id, "campaign_title": campaign.title, "type": "regular", "list_id": self.list_id,
                "list_name": "Headwater Live News", "subject_line": campaign.subject,
                "emails_sent": campaign.emails_sent, "abuse_reports": 0, "unsubscribed": campaign.unsubscribed,
                "send_time": iso_offset(campaign.send_time),
                "bounces": {"hard_bounces": campaign.hard_bounces, "soft_bounces": 0, "syntax_errors": 0},
                "opens": {"opens_total": campaign.opens_total, "unique_opens": campaign.unique_opens,
                          "open_rate": open_rate,
                          "last_open": iso_offset(campaign.last_open) if campaign.last_open else ""},
                "clicks": {"clicks_total": campaign.clicks_total, "unique_clicks": campaign.unique_clicks,
                           "unique_subscriber_clicks": campaign.unique_clicks, "click_rate": click_rate,
                           "last_click": iso_offset(campaign.last_click) if campaign.last_click else ""}}, None)


