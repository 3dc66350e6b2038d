// The openai npm SDK sends one picture to the gateway as a data URL, once without and once with
// streaming, and prints what came back as JSON for tests/integration/test_openai_node.py.
//
//   NPM_CLIENTS=<folder from scripts/npm-clients.sh> OPENAI_BASE_URL=http://.../v1 \
//   OPENAI_API_KEY=... IMAGE_FILE=cat.png MODEL=gemini-2.5-flash node openai_chat_image.mjs
//
// The SDK is loaded from the install outside the repository (ESM imports would only look in
// node_modules folders above this file).
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const require = createRequire(`${process.env.NPM_CLIENTS}/`);
const { OpenAI } = require("openai");

const client = new OpenAI({ maxRetries: 0, timeout: 20_000 }); // base URL and key from the environment
const image = readFileSync(process.env.IMAGE_FILE);
const messages = [{
  role: "user",
  content: [
    { type: "text", text: "What is in this picture?" },
    { type: "image_url", image_url: { url: `data:image/png;base64,${image.toString("base64")}` } },
  ],
}];

const completion = await client.chat.completions.create({ model: process.env.MODEL, messages });
const stream = await client.chat.completions.create({
  model: process.env.MODEL, messages, stream: true, stream_options: { include_usage: true },
});
let streamed = "";
let finish = null;
let usage = null;
for await (const chunk of stream) {
  for (const choice of chunk.choices) {
    streamed += choice.delta.content ?? "";
    finish = choice.finish_reason ?? finish;
  }
  usage = chunk.usage ?? usage;
}
console.log(JSON.stringify({
  sdk: JSON.parse(readFileSync(`${process.env.NPM_CLIENTS}/node_modules/openai/package.json`)).version,
  create: { content: completion.choices[0].message.content, finish: completion.choices[0].finish_reason },
  stream: { content: streamed, finish, usage },
}));
