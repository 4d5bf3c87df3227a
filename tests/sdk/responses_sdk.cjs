// Checks Switchyard's /v1/responses with the official `openai` Node SDK: responses.create,
// responses.stream and a function-call round trip. Run by tests/api/sdk.rs.
const OpenAI = require("openai");

const client = new OpenAI({ baseURL: process.env.SWITCHYARD_BASE_URL, apiKey: "sk-anything", maxRetries: 0 });

function check(cond, what) {
  if (!cond) {
    console.log(`FAILED: ${what}`);
    process.exit(1);
  }
  console.log(`ok: ${what}`);
}

(async () => {
  let r = await client.responses.create({ model: "test/json", input: "Say hi in Portuguese" });
  check(r.output_text === "Olá!", `create output_text (${r.output_text})`);

  const stream = client.responses.stream({ model: "test/stream", input: "Say hi" });
  const kinds = [];
  for await (const e of stream) kinds.push(e.type);
  const final = await stream.finalResponse();
  check(kinds[0] === "response.created" && kinds[kinds.length - 1] === "response.completed", `stream order ${kinds}`);
  check(final.output_text.length > 0, "stream final response");

  const tools = [{
    type: "function", name: "weather", description: "Get weather information for a location", strict: false,
    parameters: { type: "object", properties: { location: { type: "string" } }, required: ["location"] },
  }];
  const ask = { role: "user", content: "What's the weather in Florence?" };
  r = await client.responses.create({ model: "test/tools", input: [ask], tools });
  const call = r.output.find((o) => o.type === "function_call");
  check(call && call.name === "weather", "function_call item");
  r = await client.responses.create({
    model: "test/tools", tools,
    input: [ask, call, { type: "function_call_output", call_id: call.call_id, output: "40C" }],
  });
  check(r.output_text.includes("Florence"), "answer after the function output");

  try {
    await client.responses.create({ model: "nope/nope", input: "x" });
    check(false, "unknown model raises");
  } catch (e) {
    check(e.status === 404, "unknown model is a 404");
  }
  console.log("all SDK checks passed");
})().catch((e) => {
  console.log(`FAILED: ${e}`);
  process.exit(1);
});
