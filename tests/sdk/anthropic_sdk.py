"""Checks Switchyard's /v1/messages with the official `anthropic` Python SDK: messages.create
and messages.stream, passed through to an Anthropic upstream and translated to an
OpenAI-shaped one, a tool-use round trip, count_tokens, and errors. Run by tests/api/sdk.rs
against fake upstreams."""

import os
import sys

import anthropic
from anthropic import Anthropic

client = Anthropic(base_url=os.environ["SWITCHYARD_BASE_URL"], api_key="sk-anything", max_retries=0)
HI = [{"role": "user", "content": "Say hi in Portuguese"}]


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}")
        sys.exit(1)
    print(f"ok: {what}")


# Passthrough to Anthropic: JSON and stream.
m = client.messages.create(model="test/claude-json", max_tokens=100, messages=HI)
check(m.type == "message" and m.role == "assistant", "native JSON is a message")
check(m.content[0].type == "text" and m.content[0].text == "Olá!", "native JSON text")
check(m.usage.input_tokens == 12 and m.usage.output_tokens == 7, "native JSON usage")
check(m.stop_reason == "end_turn", "native stop_reason")

with client.messages.stream(model="test/claude-stream", max_tokens=100, messages=HI) as s:
    text = "".join(s.text_stream)
    final = s.get_final_message()
check(text == "Hello", f"native stream text ({text!r})")
check(final.stop_reason == "end_turn" and final.usage.output_tokens > 0, "native final message")

# Translated to an OpenAI-shaped upstream: JSON and stream.
m = client.messages.create(
    model="test/gpt-json", max_tokens=100, system="Be brief.", messages=HI
)
check(m.content[0].text == "Olá!", "translated JSON text")
check(m.model == "test/gpt-json", "translated model is the public slug")
check(m.stop_reason == "end_turn", "translated stop_reason")
check(m.usage.input_tokens > 0 and m.usage.output_tokens > 0, "translated usage")

with client.messages.stream(model="test/gpt-stream", max_tokens=100, messages=HI) as s:
    events = [e.type for e in s]
    final = s.get_final_message()
check(events[0] == "message_start" and events[-1] == "message_stop", f"translated event order {events}")
check(final.content and final.content[0].text, "translated stream text")
check(final.usage.output_tokens > 0, "translated stream usage")

# A tool round trip, translated.
tools = [
    {
        "name": "weather",
        "description": "Get weather information for a location",
        "input_schema": {
            "type": "object",
            "properties": {"location": {"type": "string", "description": "the city"}},
            "required": ["location"],
        },
    }
]
ask = [{"role": "user", "content": "What's the weather in Florence?"}]
m = client.messages.create(model="test/gpt-tools", max_tokens=200, tools=tools, messages=ask)
check(m.stop_reason == "tool_use", "tool_use stop reason")
call = next(b for b in m.content if b.type == "tool_use")
check(call.name == "weather" and call.input == {"location": "Florence, Italy"}, "tool_use block")
follow = ask + [
    {"role": "assistant", "content": m.content},
    {"role": "user", "content": [{"type": "tool_result", "tool_use_id": call.id, "content": "40C"}]},
]
m = client.messages.create(model="test/gpt-tools", max_tokens=200, tools=tools, messages=follow)
check("Florence" in m.content[0].text, "answer after the tool result")

# count_tokens: Anthropic's own count, and an estimate.
n = client.messages.count_tokens(model="test/claude-json", messages=HI)
check(n.input_tokens > 0, "count_tokens from Anthropic")
n = client.messages.count_tokens(model="test/gpt-json", messages=HI)
check(n.input_tokens > 0, "count_tokens estimated")

# Errors in Anthropic's shape, as the SDK's exceptions.
try:
    client.messages.create(model="nope/nope", max_tokens=10, messages=HI)
    check(False, "unknown model raises")
except anthropic.NotFoundError as e:
    check(e.status_code == 404 and "nope/nope" in e.message, "unknown model is NotFoundError")
try:
    client.messages.create(model="test/gpt-json", max_tokens=10, messages=[{"role": "robot", "content": "x"}])
    check(False, "bad role raises")
except anthropic.BadRequestError as e:
    check(e.status_code == 400 and "robot" in e.message, "bad role is BadRequestError")

print("all SDK checks passed")
