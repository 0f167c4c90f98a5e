"""Mailchimp: lists, list members, campaigns, campaign reports, email activity, unsubscribes.

Every table merges on Mailchimp's ids (members on `list_id` + `id`, the MD5 of the email).
Members are incremental per list on `last_changed` (`since_last_changed`), email activity
(opens, clicks, bounces) per campaign on the activity `timestamp` (`since`); the cursors
live in dlt's resource state, kept in the warehouse. Lists, campaigns, reports and
unsubscribes are small and re-read each run. Pagination is `offset`/`count=1000`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import dlt

from sources.mailchimp.helpers import activity_rows, mailchimp_client, pages, pages_since


@dlt.source(name="mailchimp", max_table_nesting=1)
def mailchimp_source(entry, sleep: Callable[[float], None] | None = None):
    """`entry` is a MailchimpSourceConfig; `sleep` is a seam for tests."""
    mailchimp_client(entry).close()  # fail now, before any load, if the key is missing or malformed

    def client():
        return mailchimp_client(entry, sleep)

    @dlt.resource(primary_key="id", write_disposition="merge")
    def lists() -> Iterator[list[dict]]:
        with client() as api:
            yield from pages(api, "/lists", "lists")

    @dlt.transformer(data_from=lists, primary_key=("list_id", "id"), write_disposition="merge")
    def members(list_page: list[dict]) -> Iterator[list[dict]]:
        state = dlt.current.resource_state().setdefault("last_changed", {})
        with client() as api:
            for mailing_list in list_page:
                list_id = mailing_list["id"]
                yield from pages_since(api, f"/lists/{list_id}/members", "members", state, list_id,
                                       "since_last_changed", "last_changed",
                                       lambda page: [{**member, "list_id": list_id} for member in page])

    @dlt.resource(primary_key="id", write_disposition="merge")
    def campaigns() -> Iterator[list[dict]]:
        with client() as api:
            yield from pages(api, "/campaigns", "campaigns")

    @dlt.resource(primary_key="id", write_disposition="merge")
    def reports() -> Iterator[list[dict]]:
        with client() as api:
            yield from pages(api, "/reports", "reports")

    @dlt.transformer(data_from=reports, primary_key="activity_id", write_disposition="merge")
    def email_activity(report_page: list[dict]) -> Iterator[list[dict]]:
        state = dlt.current.resource_state().setdefault("since", {})
        with client() as api:
            for report in report_page:
                yield from pages_since(api, f"/reports/{report['id']}/email-activity", "emails", state, report["id"],
                                       "since", "timestamp",
                                       lambda page: [row for email in page for row in activity_rows(email)])

    @dlt.transformer(data_from=reports, primary_key=("campaign_id", "email_id"), write_disposition="merge")
    def unsubscribes(report_page: list[dict]) -> Iterator[list[dict]]:
        with client() as api:
            for report in report_page:
                yield from pages(api, f"/reports/{report['id']}/unsubscribed", "unsubscribes")

    return lists, members, campaigns, reports, email_activity, unsubscribes
