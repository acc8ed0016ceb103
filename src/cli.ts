import { parseArgs } from 'node:util';
import { join } from 'node:path';
import { rankBucket, type RankBucket } from './analysis/gltr';
import { Engine } from './inference/engine';
import { InferenceError } from './inference/errors';
import type { DecodingOptions, DevicePreference, DtypeChoice, GenerateResult, LoadProgress, ModelSpec, ScoreResult, ServingApi, Strategy, Task, TokenTrace } from './inference/protocol';
import { DTYPE_CHOICES } from './inference/models/dtype';
import { languageName, SERVING_APIS, translationTargets } from './inference/protocol';

const USAGE = `Usage: lm-lens <command> [options]

Commands:
  generate   --prompt TEXT [--suffix TEXT]      continue a prompt (Seq2Seq models: text2text on the prompt)
  translate  --to de|fr|es --text TEXT
  summarize  --text TEXT
  score      --text TEXT [--source TEXT]   every token's probability, rank and alternatives

Options:
  --model NAME|PATH|HUB_ID   bundled model name, model folder or Hub id (default gpt2-code; bart-translate-summarize for translate and summarize)
  --max-new-tokens N         --strategy greedy|sample|beam   --num-beams N   --num-return-sequences N
  --temperature T  --top-k K  --top-p P  --seed S  --repetition-penalty R  --no-repeat-ngram N
  --stop STRING (repeatable) --top N (alternatives per token, default 10)
  --prompt-lookup N          greedy: draft tokens checked per forward pass (default 8, 0 = off; same output)
  --device auto|cpu|webgpu|cuda|dml|coreml   --attentions   --json
  --logit-lens               what the model would predict after each layer, for every token (generate and score;
                             with --json a "lens" array per token: { layer, rank, prob, top })
  --dtype auto|fp32|fp16|q8|int8|uint8|q4|q4f16|bnb4
                             which ONNX files to load (model.onnx, model_fp16.onnx, model_quantized.onnx, model_q4.onnx, …);
                             auto (default): the repo's declared dtype, else the smallest that runs well on the device
  --quantized                the same as --dtype q8
  --cache-dir DIR  --offline  --remote-host URL
  --endpoint URL             a serving engine runs --model NAME (vLLM, LM Studio: http://host:8000/v1; llama.cpp: http://host:8080;
                             Ollama: http://host:11434); an API key is read from the environment variable LMLENS_API_KEY
  --api openai|llama.cpp|ollama   how the endpoint is spoken to (default openai: /v1/completions)
`;

function num(v: string | undefined, name: string): number | undefined {
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InferenceError('bad-request', `--${name} must be a number, got "${v}".`);
  return n;
}

/** ANSI backgrounds of the GLTR buckets: top-10 green, top-100 yellow, top-1000 red, beyond purple. */
const BUCKET_COLOURS: Record<RankBucket, number> = { top10: 42, top100: 43, top1000: 41, beyond: 45 };

function colour(t: TokenTrace, text: string): string {
  return `\x1b[30;${BUCKET_COLOURS[rankBucket(t.rank)]}m${text}\x1b[0m`;
}

function printHuman(result: GenerateResult | ScoreResult, tty: boolean): void {
  const out = process.stdout;
  if ('timings' in result) {
    out.write(tty ? result.tokens.map((t) => colour(t, t.text)).join('') : result.text);
    out.write('\n');
    for (const s of result.sequences ?? []) out.write(`  [score ${s.score.toFixed(3)} logprob ${s.logprob.toFixed(3)}] ${JSON.stringify(s.text)}\n`);
    out.write(`\n${result.tokens.length} tokens on ${result.device}; first token ${result.timings.first_token_ms.toFixed(0)} ms, ${result.timings.tokens_per_s.toFixed(1)} tokens/s, ${result.timings.decoder_passes} decoder passes (${result.finishReason})\n`);
  } else {
    out.write(tty ? result.tokens.map((t) => colour(t, t.text)).join('') + '\n' : '');
    for (const t of result.tokens) {
      out.write(`${JSON.stringify(t.text).padEnd(18)} p=${t.prob.toFixed(4)} rank=${String(t.rank).padStart(5)} H=${t.entropy.toFixed(2)}  top: ${t.top.slice(0, 3).map((a) => `${JSON.stringify(a.text)} ${a.prob.toFixed(3)}`).join(', ')}\n`);
    }
    out.write(`\nlog-probability ${result.totalLogprob.toFixed(3)}, perplexity ${result.perplexity.toFixed(2)} on ${result.device}\n`);
  }
  const lensed = result.tokens.filter((t) => t.lens);
  if (lensed.length > 0) {
    out.write('\nlogit lens: the chosen token\'s rank after each layer; the top token after the first … the last layer\n');
    for (const t of lensed) out.write(`${JSON.stringify(t.text).padEnd(18)} ${t.lens!.map((l) => String(l.rank).padStart(5)).join(' ')}   ${JSON.stringify(t.lens![0].top[0]?.text ?? '')} … ${JSON.stringify(t.lens!.at(-1)!.top[0]?.text ?? '')}\n`);
  }
  for (const note of [result.attentionUnavailable, result.lensUnavailable, 'traceUnavailable' in result ? result.traceUnavailable : undefined, 'fimUnavailable' in result ? result.fimUnavailable : undefined]) if (note) process.stderr.write(`${note}\n`);
}

/** Download progress on stderr: one line per file, rewritten in place while it moves. */
function printProgress(p: LoadProgress): void {
  if (p.status === 'cached') return;
  const mb = (n: number): string => (n / 1e6).toFixed(1);
  const amount = p.total ? `${Math.round((100 * p.loaded) / p.total)}% of ${mb(p.total)} MB` : `${mb(p.loaded)} MB`;
  process.stderr.write(`\r${p.file}: ${p.status === 'done' ? 'done' : amount}${p.status === 'done' ? ` (${mb(p.total || p.loaded)} MB)\n` : ''}`);
}

export async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      model: { type: 'string' }, prompt: { type: 'string' }, text: { type: 'string' }, source: { type: 'string' }, to: { type: 'string' },
      'max-new-tokens': { type: 'string' }, strategy: { type: 'string' }, 'num-beams': { type: 'string' }, 'num-return-sequences': { type: 'string' },
      temperature: { type: 'string' }, 'top-k': { type: 'string' }, 'top-p': { type: 'string' }, seed: { type: 'string' },
      'repetition-penalty': { type: 'string' }, 'no-repeat-ngram': { type: 'string' }, stop: { type: 'string', multiple: true }, top: { type: 'string' }, 'prompt-lookup': { type: 'string' },
      device: { type: 'string' }, attentions: { type: 'boolean' }, json: { type: 'boolean' }, 'cache-dir': { type: 'string' }, offline: { type: 'boolean' },
      'remote-host': { type: 'string' }, 'models-dir': { type: 'string' }, quantized: { type: 'boolean' }, dtype: { type: 'string' }, 'logit-lens': { type: 'boolean' }, suffix: { type: 'string' }, endpoint: { type: 'string' }, api: { type: 'string' }, help: { type: 'boolean', short: 'h' },
    },
  });
  const command = positionals[0];
  if (values.help || !command) {
    process.stdout.write(USAGE);
    return command || values.help ? 0 : 2;
  }
  const bundled = values['models-dir'] ?? join(__dirname, '..', 'models');
  const engine = new Engine(bundled, { cacheDir: values['cache-dir'], offline: values.offline, remoteHost: values['remote-host'] });
  const seq2seqTask = command === 'translate' || command === 'summarize';
  const defaultModel = seq2seqTask ? 'bart-translate-summarize' : 'gpt2-code';
  if (values.dtype !== undefined && !(DTYPE_CHOICES as readonly string[]).includes(values.dtype)) {
    process.stderr.write(`error (bad-request): --dtype must be one of ${DTYPE_CHOICES.join(', ')}, not "${values.dtype}".\n`);
    return 2;
  }
  if (values.api !== undefined && !(SERVING_APIS as readonly string[]).includes(values.api)) {
    process.stderr.write(`error (bad-request): --api must be one of ${SERVING_APIS.join(', ')}, not "${values.api}".\n`);
    return 2;
  }
  if (values.endpoint !== undefined && values.model === undefined) {
    process.stderr.write('error (bad-request): --endpoint needs --model NAME, the name the server knows the model by.\n');
    return 2;
  }
  const endpoint = values.endpoint === undefined ? undefined : { url: values.endpoint, api: (values.api ?? 'openai') as ServingApi, apiKey: process.env.LMLENS_API_KEY || undefined };
  const model: ModelSpec = {
    ...(endpoint ? { endpoint } : {}),
    source: values.model ?? defaultModel,
    device: (values.device ?? 'auto') as DevicePreference,
    // The logit lens reads the residual stream, which only a model loaded for inspection exposes.
    attentions: (values.attentions ?? false) || (values['logit-lens'] ?? false),
    dtype: (values.dtype as DtypeChoice | undefined) ?? (values.quantized ? 'q8' : 'auto'),
  };
  const options: DecodingOptions = {
    maxNewTokens: num(values['max-new-tokens'], 'max-new-tokens'),
    strategy: values.strategy as Strategy | undefined,
    numBeams: num(values['num-beams'], 'num-beams'),
    numReturnSequences: num(values['num-return-sequences'], 'num-return-sequences'),
    temperature: num(values.temperature, 'temperature'),
    topK: num(values['top-k'], 'top-k'),
    topP: num(values['top-p'], 'top-p'),
    seed: num(values.seed, 'seed'),
    repetitionPenalty: num(values['repetition-penalty'], 'repetition-penalty'),
    noRepeatNgramSize: num(values['no-repeat-ngram'], 'no-repeat-ngram'),
    stopStrings: values.stop,
    topAlternatives: num(values.top, 'top'),
    attentions: values.attentions,
    logitLens: values['logit-lens'],
    promptLookupTokens: num(values['prompt-lookup'], 'prompt-lookup'),
  };
  const defined = Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as DecodingOptions;
  let result: GenerateResult | ScoreResult;
  try {
    if (command === 'score') {
      if (values.text === undefined) throw new InferenceError('bad-request', 'score needs --text.');
      result = await engine.score({ model, text: values.text, source: values.source, topAlternatives: defined.topAlternatives, attentions: values.attentions, logitLens: values['logit-lens'] });
    } else if (command === 'generate' || seq2seqTask) {
      const input = command === 'generate' ? values.prompt : values.text;
      if (input === undefined) throw new InferenceError('bad-request', `${command} needs --${command === 'generate' ? 'prompt' : 'text'}.`);
      let task: Task = { kind: 'generate' };
      if (command === 'summarize') task = { kind: 'summarize' };
      if (command === 'translate') {
        if (!values.to) {
          const targets = translationTargets((await engine.info(model)).tasks);
          const offered = targets.length ? `"${model.source}" translates to: ${targets.map((t) => `${t} (${languageName(t)})`).join(', ')}.` : `"${model.source}" declares no translation.`;
          throw new InferenceError('bad-request', `translate needs --to LANG. ${offered}`);
        }
        task = { kind: 'translate', to: values.to };
      }
      const tty = process.stdout.isTTY && !values.json;
      result = await engine.generate(
        { model, prompt: input, ...(values.suffix !== undefined ? { suffix: values.suffix } : {}), task, options: defined, stream: tty },
        { isCancelled: () => false, onProgress: printProgress },
      );
    } else {
      throw new InferenceError('bad-request', `Unknown command "${command}".\n${USAGE}`);
    }
  } catch (err) {
    const e = InferenceError.from(err);
    if (values.json) process.stdout.write(JSON.stringify({ error: e.toInfo() }) + '\n');
    else process.stderr.write(`error (${e.code}): ${e.message}\n`);
    await engine.unload();
    return 1;
  }
  if (values.json) process.stdout.write(JSON.stringify(result) + '\n');
  else printHuman(result, process.stdout.isTTY);
  await engine.unload();
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then((code) => (process.exitCode = code));
}
