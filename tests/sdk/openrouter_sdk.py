"""Checks Switchyard's /api/v1 with OpenRouter's official Python SDK (`openrouter`): chat JSON
and streaming with usage and cost, a tool-call round trip, the catalog, the key's own
endpoints, generation lookup by the answer's id, and errors raised as the SDK's typed errors.
Run by tests/api/sdk_openrouter.rs against fake upstreams."""

import os
import sys

from openrouter import OpenRouter, errors
from openrouter.utils import RetryConfig

BASE = os.environ["SWITCHYARD_BASE_URL"]
KEY = os.environ["SWITCHYARD_KEY"]
client = OpenRouter(api_key=KEY, server_url=BASE)
MESSAGES = [{"role": "user", "content": "Say hi in Portuguese"}]


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}")
        sys.exit(1)
    print(f"ok: {what}")


def raises(kind, what, f):
    try:
        f()
    except kind as e:
        check(True, f"{what} raises {kind.__name__}: {str(e)[:80]}")
        return e
    except Exception as e:  # noqa: BLE001 - report what came instead
        check(False, f"{what} raised {type(e).__name__}, not {kind.__name__}: {str(e)[:300]}")
    check(False, f"{what} raised nothing")


# Chat, JSON
r = client.chat.send(model="test/json", messages=MESSAGES)
check(r.choices[0].message.content == "Olá!", "JSON content")
check(r.id.startswith("gen-"), "JSON id is the generation id")
check(r.model == "test/json", "JSON model is the public slug")
check(r.usage.prompt_tokens == 20 and r.usage.cost > 0, "JSON usage with cost")
check(r.usage.prompt_tokens_details.cached_tokens == 0, "JSON cached token details")

# Chat, streaming: usage and cost arrive without asking
chunks = list(client.chat.send(model="test/stream", messages=MESSAGES, stream=True))
text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
check(text == "Olá!", "stream content")
last = chunks[-1]
check(last.usage is not None and last.usage.cost > 0, "stream ends with usage and cost")
check(all(c.id == chunks[0].id for c in chunks) and chunks[0].id.startswith("gen-"), "stream ids")

# Tools: a call, then the answer to its result
tools = [{
    "type": "function",
    "function": {
        "name": "weather",
        "description": "Weather in a city",
        "parameters": {"type": "object", "properties": {"location": {"type": "string"}}, "required": ["location"]},
    },
}]
r = client.chat.send(model="test/tool", messages=[{"role": "user", "content": "Weather in Florence?"}], tools=tools)
call = r.choices[0].message.tool_calls[0]
check(call.function.name == "weather" and r.choices[0].finish_reason == "tool_calls", "tool call")
r = client.chat.send(
    model="test/tool",
    messages=[
        {"role": "user", "content": "Weather in Florence?"},
        {"role": "assistant", "content": None, "tool_calls": [{"id": call.id, "type": "function", "function": {"name": call.function.name, "arguments": call.function.arguments}}]},
        {"role": "tool", "tool_call_id": call.id, "content": "40C and sunny"},
    ],
    tools=tools,
)
check(bool(r.choices[0].message.content), "answer after the tool result")

# Catalog
models = client.models.list().result  # a page (OpenRouter's list takes offset/limit)
ids = [m.id for m in models.data]
check("test/json" in ids, f"models.list validates ({len(ids)} models)")
check(models.data[0].pricing.prompt is not None, "models carry pricing")
count = client.models.count()
check(count.data.count == len(ids), "models.count")
eps = client.endpoints.list(author="test", slug="json")
check(eps.data.id == "test/json" and len(eps.data.endpoints) == 1, "endpoints.list")
providers = client.providers.list()
check(any(p.slug == "fake" for p in providers.data), "providers.list")

# The key's own endpoints
key = client.api_keys.get_current_key_metadata()
check(key.data.limit == 5.0 and key.data.usage > 0, "key metadata with its spend")
credits = client.credits.get_credits()
check(credits.data.total_credits == 5.0 and credits.data.total_usage > 0, "credits")
gen = client.generations.get_generation(id=chunks[0].id)
check(gen.data.id == chunks[0].id and gen.data.model == "test/stream", "generation by the stream's id")
check(gen.data.total_cost > 0 and gen.data.tokens_prompt == 20, "generation tokens and cost")

# Errors as typed errors
raises(errors.NotFoundResponseError, "unknown model", lambda: client.chat.send(model="nope/missing", messages=MESSAGES))
e = raises(errors.BadRequestResponseError, "upstream 400", lambda: client.chat.send(model="test/bad", messages=MESSAGES))
check("temperature" in str(e), "the upstream's reason is kept")
bad = OpenRouter(api_key="sy-wrong", server_url=BASE)
raises(errors.UnauthorizedResponseError, "bad key", lambda: bad.chat.send(model="test/json", messages=MESSAGES))
raises(errors.UnauthorizedResponseError, "bad key on /key", lambda: bad.api_keys.get_current_key_metadata())
raises(errors.NotFoundResponseError, "unknown generation", lambda: client.generations.get_generation(id="gen-0-missing"))
raises(errors.NotFoundResponseError, "endpoints of an unknown model", lambda: client.endpoints.list(author="nope", slug="missing"))
# The SDK retries 5xx answers with back-off by default; once is enough here.
once = OpenRouter(api_key=KEY, server_url=BASE, retry_config=RetryConfig("none", None, False))
e = raises(errors.BadGatewayResponseError, "upstream outage", lambda: once.chat.send(model="test/down", messages=MESSAGES))
check("exploded" in str(e), "the outage names the upstream's reason")
spent = OpenRouter(api_key=os.environ["SWITCHYARD_SPENT_KEY"], server_url=BASE)
raises(errors.PaymentRequiredResponseError, "spent budget", lambda: spent.chat.send(model="test/json", messages=MESSAGES))
narrow = OpenRouter(api_key=os.environ["SWITCHYARD_NARROW_KEY"], server_url=BASE)
raises(errors.ForbiddenResponseError, "a model the key may not use", lambda: narrow.chat.send(model="test/stream", messages=MESSAGES))
rpm1 = OpenRouter(api_key=os.environ["SWITCHYARD_RPM1_KEY"], server_url=BASE)
rpm1.chat.send(model="test/json", messages=MESSAGES)
raises(errors.TooManyRequestsResponseError, "rate limit", lambda: rpm1.chat.send(model="test/json", messages=MESSAGES))

# Presets and variants
r = client.chat.send(model="@preset/brief", messages=MESSAGES)
check(r.model == "test/json" and r.choices[0].message.content == "Olá!", "a preset names the model")
r = client.chat.send(model="test/json@preset/brief", messages=MESSAGES)
check(r.model == "test/json", "a slug with a preset")
raises(errors.NotFoundResponseError, "an unknown preset", lambda: client.chat.send(model="@preset/nope", messages=MESSAGES))
r = client.chat.send(model="test/json:floor", messages=MESSAGES)
check(r.model == "test/json", "the :floor variant serves the model")
raises(errors.BadRequestResponseError, "a variant Switchyard cannot honour", lambda: client.chat.send(model="test/json:exacto", messages=MESSAGES))

print("all SDK checks passed")
