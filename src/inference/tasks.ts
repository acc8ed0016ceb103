import { InferenceError } from './errors';
import type { LoadedModel } from './models/modelAdapter';
import { languageName, translationTargets, type Task } from './protocol';

export interface TaskSetup {
  readonly input: string;
  /** Generation parameters the model's config declares for the task (`task_specific_params`, snake_case). */
  readonly params: Record<string, unknown>;
}

/** What a model needs to be told to do a task: a text prefix (T5), a target-language token (Marian), or nothing. */
export interface TaskEntry {
  readonly prefix: string;
  readonly params: Record<string, unknown>;
}

/**
 * The tasks a model can do, keyed as transformers names them (`summarization`, `translation_en_to_de`):
 * what config.json's `task_specific_params` declares (T5, BART), and for Marian (opus-mt) models,
 * which declare nothing, the language pair of the model's name (`opus-mt-en-de`) or, for
 * multi-target models, the `>>fr<<` target tokens of the vocabulary.
 */
export function modelTasks(
  config: Record<string, unknown>,
  names: readonly string[],
  vocabulary: () => Iterable<string>,
): Map<string, TaskEntry> {
  const tasks = new Map<string, TaskEntry>();
  const declared = config.task_specific_params;
  if (declared && typeof declared === 'object') {
    for (const [key, value] of Object.entries(declared as Record<string, unknown>)) {
      const params = value && typeof value === 'object' ? (value as Record<string, unknown>) : {};
      tasks.set(key, { prefix: typeof params.prefix === 'string' ? params.prefix : '', params });
    }
  }
  if (config.model_type === 'marian' && ![...tasks.keys()].some((k) => k.startsWith('translation_'))) {
    const pair = names.map((n) => /opus-mt-([a-z]{2,3}(?:_[a-z]+)?)-([a-z]+(?:_[a-z]+)*)\b/i.exec(n)).find((m) => m !== null);
    const from = pair?.[1]?.toLowerCase() ?? 'src';
    const targetTokens = [...vocabulary()].map((t) => /^>>([a-z]{2,3}(?:_[A-Za-z]+)?)<<$/.exec(t)?.[1]).filter((t): t is string => t !== undefined);
    if (targetTokens.length > 0) {
      for (const to of targetTokens) tasks.set(`translation_${from}_to_${to.toLowerCase()}`, { prefix: `>>${to}<< `, params: {} });
    } else if (pair && /^[a-z]{2,3}$/i.test(pair[2])) {
      tasks.set(`translation_${from}_to_${pair[2].toLowerCase()}`, { prefix: '', params: {} });
    }
  }
  return tasks;
}

/** Applies a task's prefix and parameters as the model declares them (see `modelTasks`). */
export function setUpTask(model: LoadedModel, task: Task | undefined, text: string): TaskSetup {
  if (!task || task.kind === 'generate') return { input: text, params: {} };
  const tasks = model.tasks;
  const name = model.info.source;
  const what = `"${name}" (${model.info.modelType}, ${model.info.architecture})`;
  let key: string;
  if (task.kind === 'summarize') {
    key = 'summarization';
    if (!tasks.has(key)) {
      throw new InferenceError('unsupported-task', `The model ${what} declares no summarization task. Choose a summarization model such as Xenova/distilbart-cnn-6-6, Xenova/t5-small or the bundled bart-translate-summarize.`);
    }
  } else {
    const targets = translationTargets([...tasks.keys()]);
    if (targets.length === 0) {
      const marian = model.info.modelType === 'marian' ? ' Its language pair could not be read from its name (as in opus-mt-en-de) or its vocabulary (>>de<< tokens).' : '';
      throw new InferenceError('unsupported-task', `The model ${what} declares no translation task.${marian} Choose a translation model such as Xenova/opus-mt-en-de, Xenova/t5-small or the bundled bart-translate-summarize.`);
    }
    key = [...tasks.keys()].find((k) => k.toLowerCase().endsWith(`_to_${task.to.toLowerCase()}`)) ?? '';
    if (!key) {
      const list = targets.map((t) => `${t} (${languageName(t)})`).join(', ');
      throw new InferenceError('unsupported-task', `Unknown target language "${task.to}" for "${name}". It translates to: ${list}.`);
    }
  }
  const entry = tasks.get(key)!;
  return { input: `${entry.prefix}${text}`, params: entry.params };
}
