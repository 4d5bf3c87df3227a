// Checks Switchyard with the official `openai` Node SDK: JSON, streaming with and without
// include_usage, and errors. Run by tests/api/sdk.rs against fake upstreams.
const { OpenAI } = require("openai");

const client = new OpenAI({ baseURL: process.env.SWITCHYARD_BASE_URL, apiKey: "sk-anything", maxRetries: 0 });
const messages = [{ role: "user", content: "Say hi in Portuguese" }];

function check(cond, what) {
  if (!cond) {
    console.log(`FAILED: ${what}`);
    process.exit(1);
  }
  console.log(`ok: ${what}`);
}

(async () => {
  const r = await client.chat.completions.create({ model: "test/json", messages });
  check(r.choices[0].message.content === "Olá!", "JSON content");
  check(r.model === "test/json", "JSON model is the public slug");
  check(r.usage.prompt_tokens === 20, "JSON usage");

  let text = "";
  let sawUsage = false;
  let finish = null;
  for await (const c of await client.chat.completions.create({ model: "test/stream", messages, stream: true })) {
    if (c.usage) sawUsage = true;
    if (c.choices.length) {
      text += c.choices[0].delta.content || "";
      finish = c.choices[0].finish_reason || finish;
    }
  }
  check(text === "Olá!" && finish === "stop", "stream content and finish_reason");
  check(!sawUsage, "no usage unless asked");

  let last = null;
  const s = await client.chat.completions.create({
    model: "test/stream", messages, stream: true, stream_options: { include_usage: true },
  });
  for await (const c of s) last = c;
  check(last.choices.length === 0 && last.usage.total_tokens === 22, "final usage chunk when asked");

  try {
    await client.chat.completions.create({ model: "test/bad", messages, temperature: 7 });
    check(false, "upstream 400 throws");
  } catch (e) {
    check(e instanceof OpenAI.BadRequestError && e.message.includes("temperature"), "upstream 400 becomes BadRequestError");
  }
  try {
    await client.chat.completions.create({ model: "no/such-model", messages });
    check(false, "unknown model throws");
  } catch (e) {
    check(e instanceof OpenAI.NotFoundError && e.message.includes("test/json"), "unknown model is a NotFoundError listing models");
  }
  console.log("all SDK checks passed");
})().catch((e) => {
  console.log(`FAILED: ${e.stack || e}`);
  process.exit(1);
});
