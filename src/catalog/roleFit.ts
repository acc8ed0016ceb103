/** Whether a loaded model can do what a role asks of it: checked before Pick Model saves a choice. */
import { continuesPrompt, translationTargets, type ModelInfo } from '../inference/protocol';
import type { ModelRole } from '../settings';

/** Null when the model fits the role, else why not (a sentence for the user). */
export function roleMismatch(role: ModelRole, info: Pick<ModelInfo, 'architecture' | 'continuesPrompt' | 'modelType' | 'tasks'>): string | null {
  const what = `${info.modelType} (${info.architecture})`;
  if (role === 'completion') {
    return continuesPrompt(info) ? null : `It is a ${what} model, which writes a new text from a source; completion needs a model that continues its prompt (GPT-2, Llama, Qwen…).`;
  }
  if (continuesPrompt(info)) return `It is a ${what} model, which continues a prompt; ${role} needs an encoder-decoder model (BART, T5, Marian…).`;
  if (role === 'summarization') {
    return info.tasks.includes('summarization') ? null : `It is a ${what} model that declares no summarization task (config.json task_specific_params); choose a summarizer such as Xenova/distilbart-cnn-6-6 or Xenova/t5-small.`;
  }
  return translationTargets(info.tasks).length > 0 ? null : `It is a ${what} model that declares no translation (no translation_* task, no language pair in its name); choose a translator such as Xenova/opus-mt-en-de or Xenova/t5-small.`;
}
