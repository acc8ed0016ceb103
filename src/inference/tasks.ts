import { InferenceError } from './errors';
import type { LoadedModel } from './models/modelAdapter';
import { languageName, translationTargets, type DecodingOptions, type Task } from './protocol';

export interface TaskSetup {
  readonly input: string;
  /** Generation defaults the model's config declares for the task. */
  readonly defaults: DecodingOptions;
}

/** Applies a task's prefix and defaults as the model's `task_specific_params` declare them. */
export function setUpTask(model: LoadedModel, task: Task | undefined, text: string): TaskSetup {
  if (!task || task.kind === 'generate') return { input: text, defaults: {} };
  const params = (model.folder.config.task_specific_params ?? {}) as Record<string, Record<string, unknown>>;
  const name = model.info.source;
  let key: string;
  if (task.kind === 'summarize') {
    key = 'summarization';
    if (!params[key]) {
      throw new InferenceError('unsupported-task', `The model "${name}" (${model.info.modelType}, ${model.info.architecture}) declares no summarization task. Choose a summarization model such as the bundled bart-translate-summarize.`);
    }
  } else {
    const targets = translationTargets(Object.keys(params));
    if (targets.length === 0) {
      throw new InferenceError('unsupported-task', `The model "${name}" (${model.info.modelType}, ${model.info.architecture}) declares no translation task. Choose a translation model such as the bundled bart-translate-summarize.`);
    }
    key = Object.keys(params).find((k) => k.endsWith(`_to_${task.to}`)) ?? '';
    if (!key) {
      const list = targets.map((t) => `${t} (${languageName(t)})`).join(', ');
      throw new InferenceError('unsupported-task', `Unknown target language "${task.to}" for "${name}". It translates to: ${list}.`);
    }
  }
  const p = params[key];
  const defaults: DecodingOptions = {
    ...(typeof p.max_length === 'number' ? { maxNewTokens: p.max_length } : {}),
    ...(typeof p.num_beams === 'number' && p.num_beams > 1 ? { strategy: 'beam' as const, numBeams: p.num_beams } : {}),
    ...(typeof p.length_penalty === 'number' ? { lengthPenalty: p.length_penalty } : {}),
    ...(typeof p.no_repeat_ngram_size === 'number' ? { noRepeatNgramSize: p.no_repeat_ngram_size } : {}),
  };
  return { input: `${typeof p.prefix === 'string' ? p.prefix : ''}${text}`, defaults };
}
