"""One OpenAI SDK script every adapter must pass unchanged: JSON, streaming (with and without
usage), a tool-call round trip (JSON and streamed), json_schema output and image input.

Run by tests/api/sdk.rs against each provider's fake upstream, which is scripted to answer the
calls below in this order: SWITCHYARD_BASE_URL and SWITCHYARD_MODEL say where and what."""

import json
import os
import sys

from openai import OpenAI

client = OpenAI(base_url=os.environ["SWITCHYARD_BASE_URL"], api_key="sk-anything", max_retries=0)
MODEL = os.environ["SWITCHYARD_MODEL"]
TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "weather",
            "description": "Current weather for a place",
            "parameters": {
                "type": "object",
                "properties": {"location": {"type": "string"}},
                "required": ["location"],
            },
        },
    }
]
PIXEL = (
    "data:image/png;base64,"
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
)


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}")
        sys.exit(1)
    print(f"ok: {what}")


# 1. JSON
r = client.chat.completions.create(
    model=MODEL,
    messages=[{"role": "system", "content": "Answer briefly."}, {"role": "user", "content": "Say hi in Portuguese"}],
)
check(bool(r.choices[0].message.content), "JSON: content")
check(r.choices[0].finish_reason == "stop", "JSON: finish_reason stop")
check(r.model == MODEL, "JSON: model is the public slug")
check(r.usage.prompt_tokens > 0 and r.usage.completion_tokens > 0, "JSON: usage")

# 2. Streaming without usage
chunks = list(client.chat.completions.create(model=MODEL, messages=[{"role": "user", "content": "Say hi"}], stream=True))
text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
check(bool(text), "stream: content")
check(all(c.usage is None for c in chunks), "stream: no usage unless asked")
check([c.choices[0].finish_reason for c in chunks if c.choices][-1] == "stop", "stream: finish_reason stop")

# 3. Streaming with usage
chunks = list(
    client.chat.completions.create(
        model=MODEL, messages=[{"role": "user", "content": "Say hi"}], stream=True, stream_options={"include_usage": True}
    )
)
check(chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0, "stream: final usage chunk when asked")

# 4. Tool call round trip
messages = [{"role": "user", "content": "What's the weather in Florence, Italy?"}]
r = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)
call = r.choices[0].message.tool_calls[0]
check(r.choices[0].finish_reason == "tool_calls", "tools: finish_reason tool_calls")
check(call.function.name == "weather" and "location" in json.loads(call.function.arguments), "tools: a parsable call")
check(bool(call.id), "tools: the call has an id")
messages += [
    {"role": "assistant", "content": None, "tool_calls": [call.model_dump()]},
    {"role": "tool", "tool_call_id": call.id, "content": "40 C and sunny"},
]
r = client.chat.completions.create(model=MODEL, messages=messages, tools=TOOLS)
check(bool(r.choices[0].message.content), "tools: an answer after the tool result")

# 5. json_schema output
schema = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
    "required": ["city", "country"],
    "additionalProperties": False,
}
r = client.chat.completions.create(
    model=MODEL,
    messages=[{"role": "user", "content": "Where is the Duomo of Florence?"}],
    response_format={"type": "json_schema", "json_schema": {"name": "place", "schema": schema, "strict": True}},
)
place = json.loads(r.choices[0].message.content)
check(set(place) >= {"city", "country"}, "json_schema: content is the schema's JSON")

# 6. Image input
r = client.chat.completions.create(
    model=MODEL,
    messages=[
        {
            "role": "user",
            "content": [{"type": "text", "text": "What is in this image?"}, {"type": "image_url", "image_url": {"url": PIXEL}}],
        }
    ],
)
check(bool(r.choices[0].message.content), "image: an answer")

# 7. Streamed tool call
stream = client.chat.completions.create(model=MODEL, messages=[messages[0]], tools=TOOLS, stream=True)
calls = {}
finish = None
for c in stream:
    if not c.choices:
        continue
    for tc in c.choices[0].delta.tool_calls or []:
        slot = calls.setdefault(tc.index, {"id": None, "name": None, "arguments": ""})
        slot["id"] = tc.id or slot["id"]
        slot["name"] = (tc.function and tc.function.name) or slot["name"]
        slot["arguments"] += (tc.function and tc.function.arguments) or ""
    finish = c.choices[0].finish_reason or finish
check(finish == "tool_calls", "streamed tools: finish_reason tool_calls")
check(calls and all(v["id"] and v["name"] == "weather" for v in calls.values()), "streamed tools: ids and names")
check(all("location" in json.loads(v["arguments"]) for v in calls.values()), "streamed tools: arguments reassemble")

print("all SDK checks passed")
