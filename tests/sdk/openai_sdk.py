"""Checks Switchyard with the official `openai` Python SDK: JSON, streaming with and without
include_usage, and an error. Run by tests/api/sdk.rs against fake upstreams."""

import os
import sys

import openai
from openai import OpenAI

client = OpenAI(base_url=os.environ["SWITCHYARD_BASE_URL"], api_key="sk-anything", max_retries=0)
MESSAGES = [{"role": "user", "content": "Say hi in Portuguese"}]


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}")
        sys.exit(1)
    print(f"ok: {what}")


# JSON
r = client.chat.completions.create(model="test/json", messages=MESSAGES)
check(r.choices[0].message.content == "Olá!", "JSON content")
check(r.model == "test/json", "JSON model is the public slug")
check(r.usage is not None and r.usage.prompt_tokens == 20, "JSON usage")
check(r._request_id is not None and r._request_id.startswith("gen-"), "x-request-id exposed")

raw = client.chat.completions.with_raw_response.create(model="test/json", messages=MESSAGES)
check(raw.headers.get("x-generation-id") == raw.headers.get("x-request-id"), "X-Generation-Id header")

# Streaming without usage
chunks = list(client.chat.completions.create(model="test/stream", messages=MESSAGES, stream=True))
text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
check(text == "Olá!", "stream content")
check(all(c.usage is None for c in chunks), "no usage chunk unless asked")
check(chunks[-1].choices[0].finish_reason == "stop", "stream finish_reason")

# Streaming with usage
chunks = list(
    client.chat.completions.create(
        model="test/stream", messages=MESSAGES, stream=True, stream_options={"include_usage": True}
    )
)
check(chunks[-1].choices == [] and chunks[-1].usage.total_tokens == 22, "final usage chunk when asked")

# extra_body (OpenRouter fields) is accepted
r = client.chat.completions.create(
    model="test/json", messages=MESSAGES, extra_body={"models": ["test/json"], "provider": {"sort": "price"}}
)
check(r.choices[0].message.content == "Olá!", "extra_body routing fields")

# Errors
try:
    client.chat.completions.create(model="test/bad", messages=MESSAGES, temperature=7)
    check(False, "upstream 400 raises")
except openai.BadRequestError as e:
    check(e.status_code == 400 and "temperature" in str(e), "upstream 400 becomes BadRequestError")

try:
    client.chat.completions.create(model="no/such-model", messages=MESSAGES)
    check(False, "unknown model raises")
except openai.NotFoundError as e:
    check("test/json" in e.message, "unknown model lists available models")

try:
    client.chat.completions.create(model="test/json", messages=[])
    check(False, "empty messages raises")
except openai.BadRequestError as e:
    check(e.body["param"] == "messages" if isinstance(e.body, dict) else True, "empty messages is a 400")

models = client.models.list()
check(any(m.id == "test/json" for m in models.data), "models.list")

print("all SDK checks passed")
