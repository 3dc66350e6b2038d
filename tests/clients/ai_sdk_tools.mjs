// The Vercel AI SDK (`ai` + `@ai-sdk/openai`, over chat completions) runs a tool-calling loop
// through the gateway: generateText and streamText, each with one tool and several steps
// (the model calls the tool, the SDK runs it and sends the result back, the model answers).
// Prints what each completed as JSON for tests/integration/test_agent_clients.py.
//
//   NPM_CLIENTS=<folder from scripts/npm-clients.sh> BASE_URL=http://.../v1 API_KEY=... \
//   MODEL=gemini-2.5-flash PROMPT="What is the weather in Paris?" REPORT=... node ai_sdk_tools.mjs
//
// REPORT is the text the tool returns (the test then looks for it in the final answer and in
// what the gateway sent upstream).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(`${process.env.NPM_CLIENTS}/`);
const { generateText, streamText, stepCountIs, tool } = require("ai");
const { createOpenAI } = require("@ai-sdk/openai");
const { z } = require("zod");

const provider = createOpenAI({ baseURL: process.env.BASE_URL, apiKey: process.env.API_KEY });
const model = provider.chat(process.env.MODEL); // chat completions (provider(...) would use the Responses API)

function weatherTool(calls) {
  return tool({
    description: "The current weather in a city.",
    inputSchema: z.object({ city: z.string().describe("The city, e.g. Paris") }),
    execute: async ({ city }) => {
      calls.push(city);
      return `${process.env.REPORT} in ${city}`;
    },
  });
}

function summary(result, calls) {
  return {
    text: result.text,
    finish: result.finishReason,
    executed: calls,
    steps: result.steps.map((step) => ({
      finish: step.finishReason,
      calls: step.toolCalls.map((call) => ({ id: call.toolCallId, name: call.toolName, input: call.input })),
      results: step.toolResults.map((res) => ({ id: res.toolCallId, output: res.output })),
      text: step.text,
    })),
  };
}

const options = { maxRetries: 0, stopWhen: stepCountIs(5), prompt: process.env.PROMPT };

const generatedCalls = [];
const generated = await generateText({ model, tools: { get_weather: weatherTool(generatedCalls) }, ...options });

const streamedCalls = [];
const stream = streamText({
  model, tools: { get_weather: weatherTool(streamedCalls) }, ...options,
  onError: ({ error }) => { throw error; },
});
let deltas = 0;
for await (const piece of stream.textStream) deltas += piece ? 1 : 0;
const streamed = { ...summary({ text: await stream.text, finishReason: await stream.finishReason, steps: await stream.steps }, streamedCalls), deltas };

console.log(JSON.stringify({
  versions: Object.fromEntries(["ai", "@ai-sdk/openai"].map((name) => [
    name, JSON.parse(readFileSync(`${process.env.NPM_CLIENTS}/node_modules/${name}/package.json`)).version])),
  generate: summary(generated, generatedCalls),
  stream: streamed,
}));
