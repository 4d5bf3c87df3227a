// Checks Switchyard's /api/v1 with OpenRouter's TypeScript SDK (`@openrouter/sdk`) and with the
// AI SDK provider (`@openrouter/ai-sdk-provider` under `ai`): chat JSON and streaming with usage
// and cost, tools, the catalog, the key's endpoints, generation lookup and typed errors.
// Run by tests/api/sdk_openrouter.rs against fake upstreams (NODE_PATH names the modules).
const { OpenRouter } = require("@openrouter/sdk");
const { createOpenRouter } = require("@openrouter/ai-sdk-provider");
const { generateText, streamText, tool, jsonSchema } = require("ai");

const BASE = process.env.SWITCHYARD_BASE_URL;
const KEY = process.env.SWITCHYARD_KEY;
const messages = [{ role: "user", content: "Say hi in Portuguese" }];

function check(cond, what) {
  if (!cond) {
    console.log(`FAILED: ${what}`);
    process.exit(1);
  }
  console.log(`ok: ${what}`);
}

async function raises(name, what, f) {
  try {
    await f();
  } catch (e) {
    check(e.constructor.name === name, `${what} raises ${name} (got ${e.constructor.name}: ${String(e.message).slice(0, 200)})`);
    return e;
  }
  check(false, `${what} raised nothing`);
}

async function sdk() {
  const client = new OpenRouter({ apiKey: KEY, serverURL: BASE });
  const r = await client.chat.send({ chatRequest: { model: "test/json", messages } });
  check(r.choices[0].message.content === "Olá!", "JSON content");
  check(r.id.startsWith("gen-") && r.usage.cost > 0, "JSON generation id and cost");

  const stream = await client.chat.send({ chatRequest: { model: "test/stream", messages, stream: true } });
  let text = "";
  let last;
  for await (const c of stream) {
    if (c.choices.length) text += c.choices[0].delta.content ?? "";
    last = c;
  }
  check(text === "Olá!", "stream content");
  check(last.usage && last.usage.cost > 0, "stream ends with usage and cost");

  const models = (await client.models.list()).result; // a page (the list takes offset/limit)
  check(models.data.some((m) => m.id === "test/json"), `models.list validates (${models.data.length})`);
  const count = await client.models.count();
  check(count.data.count === models.data.length, "models.count");
  const eps = await client.endpoints.list({ author: "test", slug: "json" });
  check(eps.data.endpoints.length === 1, "endpoints.list");
  const providers = await client.providers.list();
  check(providers.data.some((p) => p.slug === "fake"), "providers.list");
  const key = await client.apiKeys.getCurrentKeyMetadata();
  check(key.data.limit === 5 && key.data.usage > 0, "key metadata");
  const credits = await client.credits.getCredits();
  check(credits.data.totalCredits === 5, "credits");
  const gen = await client.generations.getGeneration({ id: r.id });
  check(gen.data.id === r.id && gen.data.totalCost > 0, "generation by the answer's id");

  await raises("NotFoundResponseError", "unknown model", () =>
    client.chat.send({ chatRequest: { model: "nope/missing", messages } }));
  await raises("BadRequestResponseError", "upstream 400", () =>
    client.chat.send({ chatRequest: { model: "test/bad", messages } }));
  const bad = new OpenRouter({ apiKey: "sy-wrong", serverURL: BASE });
  await raises("UnauthorizedResponseError", "bad key", () =>
    bad.chat.send({ chatRequest: { model: "test/json", messages } }));
  // The SDK retries 5xx answers with back-off by default; once is enough here.
  const once = new OpenRouter({ apiKey: KEY, serverURL: BASE, retryConfig: { strategy: "none" } });
  await raises("BadGatewayResponseError", "upstream outage", () =>
    once.chat.send({ chatRequest: { model: "test/down", messages } }));
  const spent = new OpenRouter({ apiKey: process.env.SWITCHYARD_SPENT_KEY, serverURL: BASE });
  await raises("PaymentRequiredResponseError", "spent budget", () =>
    spent.chat.send({ chatRequest: { model: "test/json", messages } }));
  const narrow = new OpenRouter({ apiKey: process.env.SWITCHYARD_NARROW_KEY, serverURL: BASE });
  await raises("ForbiddenResponseError", "a model the key may not use", () =>
    narrow.chat.send({ chatRequest: { model: "test/stream", messages } }));
  const rpm1 = new OpenRouter({ apiKey: process.env.SWITCHYARD_RPM1_KEY, serverURL: BASE });
  await rpm1.chat.send({ chatRequest: { model: "test/json", messages } });
  await raises("TooManyRequestsResponseError", "rate limit", () =>
    rpm1.chat.send({ chatRequest: { model: "test/json", messages } }));
  const viaPreset = await client.chat.send({ chatRequest: { model: "@preset/brief", messages } });
  check(viaPreset.model === "test/json", "a preset names the model");
  await raises("NotFoundResponseError", "an unknown preset", () =>
    client.chat.send({ chatRequest: { model: "@preset/nope", messages } }));
  const floor = await client.chat.send({ chatRequest: { model: "test/json:floor", messages } });
  check(floor.model === "test/json", "the :floor variant serves the model");
  await raises("BadRequestResponseError", "a variant Switchyard cannot honour", () =>
    client.chat.send({ chatRequest: { model: "test/json:exacto", messages } }));
}

async function aiSdk() {
  const openrouter = createOpenRouter({ apiKey: KEY, baseURL: BASE });
  const g = await generateText({ model: openrouter("test/json"), prompt: "Say hi in Portuguese" });
  check(g.text === "Olá!", "AI SDK generateText");
  check(g.usage.inputTokens === 20 && g.providerMetadata.openrouter.usage.cost > 0, "AI SDK usage and cost");

  const s = streamText({ model: openrouter("test/stream"), prompt: "Say hi in Portuguese" });
  let text = "";
  for await (const p of s.textStream) text += p;
  const usage = await s.usage;
  const meta = await s.providerMetadata;
  check(text === "Olá!", "AI SDK streamText");
  check(usage.inputTokens === 20 && usage.outputTokens === 2, "AI SDK stream tokens");
  check(meta.openrouter.usage.cost > 0, "AI SDK stream cost");

  const t = await generateText({
    model: openrouter("test/tool"),
    prompt: "Weather in Florence?",
    tools: {
      weather: tool({
        description: "Weather in a city",
        inputSchema: jsonSchema({ type: "object", properties: { location: { type: "string" } }, required: ["location"] }),
        execute: async () => "40C and sunny",
      }),
    },
  });
  check(t.toolCalls.length === 1 && t.toolResults[0].output === "40C and sunny", "AI SDK tool call executed");

  try {
    await generateText({ model: openrouter("nope/missing"), prompt: "hi", maxRetries: 0 });
    check(false, "AI SDK error raised");
  } catch (e) {
    check(e.statusCode === 404 && /nope\/missing/.test(e.message), `AI SDK error: ${e.statusCode}`);
  }
}

(async () => {
  await sdk();
  await aiSdk();
  console.log("all SDK checks passed");
})().catch((e) => {
  console.log(`FAILED: ${e.stack}`);
  process.exit(1);
});
