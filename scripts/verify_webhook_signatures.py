#!/usr/bin/env python3
"""Verifies captured webhook deliveries with the official Standard Webhooks library.

Usage: verify_webhook_signatures.py FILE SECRET [SECRET...]

FILE is JSON: a list of deliveries, each {"headers": {name: value}, "body": "<raw body>"}
(server/tests/webhooks.rs writes it). Every delivery must verify with
`standardwebhooks.webhooks.Webhook(secret).verify(body, headers)` for EACH secret given (during a
rotation a delivery is signed with both). Prints "verified N deliveries" and exits 0, or prints
each failure and exits 1. The library refuses timestamps older than 5 minutes, so run it soon
after the deliveries were captured.
"""

import json
import sys

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def main(argv):
    if len(argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(argv[1], encoding="utf-8") as file:
        deliveries = json.load(file)
    if not isinstance(deliveries, list) or not deliveries:
        print("no deliveries to verify", file=sys.stderr)
        return 1
    hooks = [Webhook(secret) for secret in argv[2:]]
    failures = 0
    for index, delivery in enumerate(deliveries):
        headers = delivery["headers"]
        body = delivery["body"]
        for number, hook in enumerate(hooks, start=1):
            try:
                parsed = hook.verify(body, headers)
            except (WebhookVerificationError, ValueError) as error:
                failures += 1
                print(
                    f"delivery {index} ({headers.get('webhook-id')}) failed with secret {number}: {error}",
                    file=sys.stderr,
                )
                continue
            if parsed["data"]["id"] != headers.get("webhook-id"):
                failures += 1
                print(
                    f"delivery {index}: body id {parsed['data']['id']} != webhook-id {headers.get('webhook-id')}",
                    file=sys.stderr,
                )
    if failures:
        print(f"{failures} verification(s) failed", file=sys.stderr)
        return 1
    print(f"verified {len(deliveries)} deliveries")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
