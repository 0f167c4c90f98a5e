"""Destination type name -> the class that implements it, imported only when used."""

from __future__ import annotations

from headwater.import_target import import_target

DESTINATION_TYPES: dict[str, str] = {
    "meta_conversions": "destinations.meta:MetaConversions",
    "meta_audience": "destinations.meta:MetaCustomAudience",
    "google_conversions": "destinations.google_data_manager:GoogleConversions",
    "google_customer_match": "destinations.google_data_manager:GoogleCustomerMatch",
    "tiktok_events": "destinations.tiktok:TikTokEvents",
    "tiktok_audience": "destinations.tiktok:TikTokAudience",
    "webhook": "destinations.webhook:Webhook",
    "slack": "destinations.slack:Slack",
    "mixpanel_events": "destinations.mixpanel:MixpanelEvents",
    "mixpanel_profiles": "destinations.mixpanel:MixpanelProfiles",
    "amplitude_events": "destinations.amplitude:AmplitudeEvents",
    "amplitude_identify": "destinations.amplitude:AmplitudeIdentify",
    "ga4_events": "destinations.ga4:GA4Events",
    "mailchimp_audience": "destinations.mailchimp:MailchimpAudience",
    "klaviyo_list": "destinations.klaviyo:KlaviyoList",
    "klaviyo_events": "destinations.klaviyo:KlaviyoEvents",
}


def destination_class(type_name: str):
    return import_target(DESTINATION_TYPES[type_name])
