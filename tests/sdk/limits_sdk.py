"""The official `openai` Python SDK meets a key's limits: a rate-limited key raises
RateLimitError carrying Retry-After and OpenAI's x-ratelimit headers; a spent budget raises
an APIStatusError with status 402 and code budget_exceeded. Run by tests/api/sdk.rs."""

import os
import sys

import openai
from openai import OpenAI

BASE = os.environ["SWITCHYARD_BASE_URL"]
MESSAGES = [{"role": "user", "content": "hi"}]


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}")
        sys.exit(1)
    print(f"ok: {what}")


limited = OpenAI(base_url=BASE, api_key=os.environ["SWITCHYARD_RPM_KEY"], max_retries=0)
raw = limited.chat.completions.with_raw_response.create(model="test/json", messages=MESSAGES, max_tokens=10)
check(raw.headers.get("x-ratelimit-limit-requests") == "2", "rate-limit headers on a success")
check(raw.headers.get("x-ratelimit-remaining-requests") == "1", "remaining requests")
limited.chat.completions.create(model="test/json", messages=MESSAGES, max_tokens=10)
try:
    limited.chat.completions.create(model="test/json", messages=MESSAGES, max_tokens=10)
    check(False, "the third request within a minute is refused")
except openai.RateLimitError as e:
    check(e.status_code == 429, "RateLimitError")
    check(e.response.headers.get("retry-after", "").isdigit(), "integer Retry-After")
    check(e.response.headers.get("x-ratelimit-remaining-requests") == "0", "nothing remaining")
    check(e.code == "rate_limit_exceeded", "error code")

broke = OpenAI(base_url=BASE, api_key=os.environ["SWITCHYARD_BUDGET_KEY"], max_retries=0)
try:
    broke.chat.completions.create(model="test/json", messages=MESSAGES, max_tokens=10)
    check(False, "a key with no budget left is refused")
except openai.RateLimitError:
    check(False, "a spent budget is not a rate limit")
except openai.APIStatusError as e:
    check(e.status_code == 402, "402 APIStatusError")
    check(e.code == "budget_exceeded", "budget_exceeded code")
    check("budget" in e.message, "the message says why")

print("all SDK checks passed")
