"""`nursery notify-test`: one test push to every configured channel, each outcome printed."""

from __future__ import annotations

import sys

from nursery.config import Settings


def notify_test(settings: Settings) -> int:
    from hub.messages import test_message
    from hub.notify.apprise_sender import ApprisePushSender
    from hub.notify.push import DeliveryError, Push
    from hub.notify.redaction import redact_url

    notify = settings.notify
    urls = list(
        dict.fromkeys([*notify.urls, *(url for group in notify.caregivers for url in group)])
    )
    if not urls:
        print(
            "nursery: no channels to test: set notify.urls (NURSERY_NOTIFY__URLS) "
            "or notify.caregivers",
            file=sys.stderr,
        )
        return 1
    sender = ApprisePushSender(timeout_s=notify.timeout_s)
    failed = 0
    for number, url in enumerate(urls, start=1):
        try:
            sender.send(Push(id=number, url=url, message=test_message()))
        except DeliveryError as exc:
            failed += 1
            print(f"failed  {exc}")
        else:
            print(f"sent    {redact_url(url)}")
    print(f"{len(urls) - failed} of {len(urls)} channels reached")
    return 1 if failed else 0
