// The @anthropic-ai/sdk on Node streams a tool loop through the gateway's Messages API: the
// model calls get_weather (streamed), the script runs it and sends the tool_result back in a
// second streamed request, the model answers. Prints what each turn completed as JSON for
// tests/integration/test_anthropic_clients.py.
//
//   NPM_CLIENTS=<folder from scripts/npm-clients.sh> ANTHROPIC_BASE_URL=http://... \
//   ANTHROPIC_API_KEY=... MODEL=gemini-2.5-flash PROMPT="What is the weather in Paris?" \
//   REPORT=... node anthropic_stream_tools.mjs
//
// REPORT is the text the tool returns (the test then looks for it in the final answer and in
// what the gateway sent upstream).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(`${process.env.NPM_CLIENTS}/`);
const Anthropic = require("@anthropic-ai/sdk").default;

const client = new Anthropic({ maxRetries: 0, timeout: 20_000 }); // base URL and key from the environment
const tools = [{
  name: "get_weather",
  description: "The current weather in a city.",
  input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
}];
const messages = [{ role: "user", content: process.env.PROMPT }];

// One streamed turn: the events in order (a delta by its kind: text, input_json, thinking),
// then what the final message holds.
async function turn() {
  const stream = client.messages.stream({ model: process.env.MODEL, max_tokens: 1024, tools, messages });
  const events = [];
  let deltas = 0;
  for await (const event of stream) {
    if (event.type === "content_block_delta") {
      events.push(event.delta.type.replace(/_delta$/, ""));
      deltas += 1;
    } else {
      events.push(event.type);
    }
  }
  const message = await stream.finalMessage();
  return {
    message,
    summary: {
      events,
      deltas,
      stop_reason: message.stop_reason,
      text: message.content.filter((b) => b.type === "text").map((b) => b.text).join(""),
      calls: message.content.filter((b) => b.type === "tool_use").map((b) => ({ id: b.id, name: b.name, input: b.input })),
    },
  };
}

const first = await turn();
messages.push({ role: "assistant", content: first.message.content });
messages.push({
  role: "user",
  content: first.summary.calls.map((call) => ({
    type: "tool_result", tool_use_id: call.id, content: `${process.env.REPORT} in ${call.input.city}`,
  })),
});
const second = await turn();
console.log(JSON.stringify({
  sdk: JSON.parse(readFileSync(`${process.env.NPM_CLIENTS}/node_modules/@anthropic-ai/sdk/package.json`)).version,
  turns: [first.summary, second.summary],
}));
