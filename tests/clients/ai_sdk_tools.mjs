// The Vercel AI SDK (`ai` + `@ai-sdk/openai`, over chat completions) runs a tool-calling loop
// through the gateway: generateText and streamText, each with one tool and several steps
// (the model calls the tool, the SDK runs it and sends the result back, the model answers).
// Then generateText with two tools, one call per step, for three steps.
// Prints what each completed as JSON for tests/integration/test_agent_clients.py.
//
//   NPM_CLIENTS=<folder from scripts/npm-clients.sh> BASE_URL=http://.../v1 API_KEY=... \
//   MODEL=gemini-2.5-flash PROMPT="What is the weather in Paris?" REPORT=... \
//   PROMPT2="What is the weather in Paris and the time in Tokyo?" CLOCK=... node ai_sdk_tools.mjs
//
// REPORT and CLOCK are the texts the tools return (the test then looks for it in the final answer and in
// what the gateway sent upstream).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(`${process.env.NPM_CLIENTS}/`);
const { generateText, streamText, stepCountIs, tool } = require("ai");
const { createOpenAI } = require("@ai-sdk/openai");
const { z } = require("zod");

const provider = createOpenAI({ baseURL: process.env.BASE_URL, apiKey: process.env.API_KEY });
const model = provider.chat(process.env.MODEL); // chat completions (provider(...) would use the Responses API)

// A tool with one string parameter that records each value it is called with (in `calls`) and
// returns `${answer} in ${value}`.
function lookupTool(description, parameter, example, answer, calls) {
  return tool({
    description,
    inputSchema: z.object({ [parameter]: z.string().describe(example) }),
    execute: async (input) => {
      calls.push(input[parameter]);
      return `${answer} in ${input[parameter]}`;
    },
  });
}

const weatherTool = (calls) => lookupTool(
  "The current weather in a city.", "city", "The city, e.g. Paris", process.env.REPORT, calls);
const timeTool = (calls) => lookupTool(
  "The current time in a time zone.", "timezone", "The time zone, e.g. Tokyo", process.env.CLOCK, calls);

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

// Two tools, one call per step (parallel_tool_calls: false): weather, then time, then the answer.
const chainedCalls = [];
const chained = await generateText({
  model, maxRetries: 0, stopWhen: stepCountIs(5), prompt: process.env.PROMPT2,
  tools: { get_weather: weatherTool(chainedCalls), get_time: timeTool(chainedCalls) },
  providerOptions: { openai: { parallelToolCalls: false } },
});

console.log(JSON.stringify({
  versions: Object.fromEntries(["ai", "@ai-sdk/openai"].map((name) => [
    name, JSON.parse(readFileSync(`${process.env.NPM_CLIENTS}/node_modules/${name}/package.json`)).version])),
  generate: summary(generated, generatedCalls),
  stream: streamed,
  chained: summary(chained, chainedCalls),
}));
