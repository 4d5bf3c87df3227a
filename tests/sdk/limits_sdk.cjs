// The official `openai` Node SDK meets a key's limits: RateLimitError with Retry-After for
// a rate-limited key, an APIError with status 402 for a spent budget. Run by tests/api/sdk.rs.
const { OpenAI } = require("openai");

const base = process.env.SWITCHYARD_BASE_URL;
const messages = [{ role: "user", content: "hi" }];

function check(cond, what) {
  if (!cond) {
    console.log(`FAILED: ${what}`);
    process.exit(1);
  }
  console.log(`ok: ${what}`);
}

(async () => {
  const limited = new OpenAI({ baseURL: base, apiKey: process.env.SWITCHYARD_RPM_KEY, maxRetries: 0 });
  await limited.chat.completions.create({ model: "test/json", messages, max_tokens: 10 });
  await limited.chat.completions.create({ model: "test/json", messages, max_tokens: 10 });
  try {
    await limited.chat.completions.create({ model: "test/json", messages, max_tokens: 10 });
    check(false, "the third request within a minute is refused");
  } catch (e) {
    check(e instanceof OpenAI.RateLimitError, "RateLimitError");
    check(/^\d+$/.test(e.headers.get("retry-after") || ""), "integer Retry-After");
  }
  const broke = new OpenAI({ baseURL: base, apiKey: process.env.SWITCHYARD_BUDGET_KEY, maxRetries: 0 });
  try {
    await broke.chat.completions.create({ model: "test/json", messages, max_tokens: 10 });
    check(false, "a key with no budget left is refused");
  } catch (e) {
    check(e instanceof OpenAI.APIError && !(e instanceof OpenAI.RateLimitError), "APIError, not a rate limit");
    check(e.status === 402, "status 402");
    check(e.code === "budget_exceeded", "budget_exceeded code");
  }
  console.log("all SDK checks passed");
})().catch((e) => {
  console.log(`FAILED: ${e}`);
  process.exit(1);
});
