"""Verifies deliveries with the official Standard Webhooks library (PyPI `standardwebhooks`).

Reads a JSON array of {"secret", "payload", "headers"} on stdin and prints a JSON array with,
for each, "ok" or the library's error message. tokenmint's tests use it so that signatures are
checked by code tokenmint did not write.
"""

import json
import sys

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


def check(case):
    try:
        Webhook(case["secret"]).verify(case["payload"], case["headers"], json_parse=False)
        return "ok"
    except WebhookVerificationError as error:
        return f"refused: {error}"
    except Exception as error:  # a malformed header is a refusal too, whatever the library raises
        return f"refused: {type(error).__name__}: {error}"


print(json.dumps([check(case) for case in json.load(sys.stdin)]))
