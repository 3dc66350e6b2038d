// The Vercel AI SDK's generateObject and streamObject with a zod schema, through the gateway's
// chat completions (structured outputs: response_format json_schema, strict), and prints what came
// back as JSON for tests/integration/test_structured_output.py.
//
//   NPM_CLIENTS=<folder from scripts/npm-clients.sh> OPENAI_BASE_URL=http://.../v1 \
//   OPENAI_API_KEY=... MODEL=gemini-2.5-flash node ai_sdk_object.mjs
//
// The SDK is loaded from the install outside the repository (ESM imports would only look in
// node_modules folders above this file).
import { createRequire } from "node:module";

const require = createRequire(`${process.env.NPM_CLIENTS}/`);
const { generateObject, streamObject } = require("ai");
const { createOpenAI } = require("@ai-sdk/openai");
const { z } = require("zod");

const provider = createOpenAI({ baseURL: process.env.OPENAI_BASE_URL, apiKey: process.env.OPENAI_API_KEY });
const model = provider.chat(process.env.MODEL); // chat completions (provider(...) is the Responses API)
const schema = z.object({
  name: z.string(),
  country: z.string(),
  population: z.number().int(),
  landmarks: z.array(z.object({ name: z.string(), year: z.number().int().nullable() })),
});

const generated = await generateObject({ model, schema, prompt: "Describe the city of Paris.", maxRetries: 0 });
const streamed = streamObject({ model, schema, prompt: "Describe the city of Lima.", maxRetries: 0 });
let partials = 0;
for await (const partial of streamed.partialObjectStream) partials += partial ? 1 : 0; // the stream must be read
const object = await streamed.object;
console.log(JSON.stringify({
  generated: generated.object, generatedFinish: generated.finishReason, streamed: object, partials,
}));
