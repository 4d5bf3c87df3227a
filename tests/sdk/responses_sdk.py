"""Checks Switchyard's /v1/responses with the official `openai` Python SDK: responses.create
and responses.stream translated to a chat upstream, a function-call round trip, json_schema
output and errors; and embeddings.create and legacy completions.create. Run by tests/api/sdk.rs against fake upstreams."""

import json
import os
import sys

import openai
from openai import OpenAI

client = OpenAI(base_url=os.environ["SWITCHYARD_BASE_URL"], api_key="sk-anything", max_retries=0)


def check(cond, what):
    if not cond:
        print(f"FAILED: {what}")
        sys.exit(1)
    print(f"ok: {what}")


r = client.responses.create(model="test/json", instructions="Be brief.", input="Say hi in Portuguese")
check(r.output_text == "Olá!", f"create output_text ({r.output_text!r})")
check(r.status == "completed" and r.model == "test/json", "create status and model")
check(r.usage.input_tokens == 20 and r.usage.output_tokens > 0, "create usage")

with client.responses.stream(model="test/stream", input="Say hi") as s:
    kinds = [e.type for e in s]
    final = s.get_final_response()
check(kinds[0] == "response.created" and kinds[-1] == "response.completed", f"stream order {kinds}")
check("response.output_text.delta" in kinds, "stream text deltas")
check(final.output_text and final.usage is not None, "stream final response")

tools = [
    {
        "type": "function",
        "name": "weather",
        "description": "Get weather information for a location",
        "parameters": {
            "type": "object",
            "properties": {"location": {"type": "string", "description": "the city"}},
            "required": ["location"],
        },
    }
]
ask = {"role": "user", "content": [{"type": "input_text", "text": "What's the weather in Florence?"}]}
r = client.responses.create(model="test/tools", input=[ask], tools=tools)
call = next(o for o in r.output if o.type == "function_call")
check(call.name == "weather" and json.loads(call.arguments) == {"location": "Florence, Italy"}, "function_call item")
r = client.responses.create(
    model="test/tools",
    tools=tools,
    input=[ask, call.model_dump(exclude_none=True), {"type": "function_call_output", "call_id": call.call_id, "output": "40C"}],
)
check("Florence" in r.output_text, "answer after the function output")

schema = {
    "type": "object",
    "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
    "required": ["city", "country"],
    "additionalProperties": False,
}
r = client.responses.create(
    model="test/schema",
    input="Where is the Duomo?",
    text={"format": {"type": "json_schema", "name": "place", "schema": schema, "strict": True}},
)
check(json.loads(r.output_text) == {"city": "Florence", "country": "Italy"}, "json_schema output")

# The other OpenAI operations through the same client.
e = client.embeddings.create(model="test/embed", input=["hello", "world"])
close = lambda a, b: len(a) == len(b) and all(abs(x - y) < 1e-6 for x, y in zip(a, b))
check(len(e.data) == 2 and close(e.data[1].embedding, [0.4, 0.5, -0.6]), "embeddings.create")
check(e.model == "test/embed" and e.usage.prompt_tokens == 8, "embeddings model and usage")
e = client.embeddings.create(model="test/embed", input="hello")  # the SDK asks for base64 and decodes it
check(len(e.data[0].embedding) == 3, "embeddings.create (base64 on the wire)")
c = client.completions.create(model="test/instruct", prompt="Once", max_tokens=4)
check(c.choices[0].text == " upon a time", "legacy completions.create")

try:
    client.responses.create(model="nope/nope", input="x")
    check(False, "unknown model raises")
except openai.NotFoundError as e:
    check(e.status_code == 404, "unknown model is NotFoundError")
try:
    client.responses.create(model="test/json", input="x", store=True)
    check(False, "store=true raises")
except openai.BadRequestError as e:
    check(e.status_code == 400 and "store" in str(e), "store=true is a clear 400")

print("all SDK checks passed")
