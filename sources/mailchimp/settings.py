"""Mailchimp Marketing API constants.

Why 1000: it is the documented maximum `count`, so a 1000-member page is the fewest requests.
"""

from __future__ import annotations

API_ROOT = "https://{dc}.api.mailchimp.com/3.0"
PAGE_COUNT = 1000
