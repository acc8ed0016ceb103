/** The engine's public API, for the CLI, tests and benchmarks (the extension talks to the worker). */
export { Engine } from './engine';
export { InferenceClient } from './client';
export { InferenceError } from './errors';
export { providerOrder } from './loading/executionProviders';
export { tapAttention, tapAttentionInModel, layerOf, kindOf } from './loading/attentionTap';
export { readModelFolder } from './loading/modelFolder';
export { fimTokens, fimPromptIds, FIM_FORMATS } from './fillInTheMiddle';
export { repetitionStart } from './decoding/repetitionStop';
export { attentionBlock } from './models/tensors';
export { resolveGenerationConfig, resolveGenerationSettings, buildProcessors, modelGenerationDefaults } from './decoding/generationConfig';
export { logSoftmax, topKIndices } from './decoding/distribution';
export * from './decoding/logitsProcessors';
export { SeededRandom } from './decoding/random';
export { findDraft } from './decoding/promptLookup';
export type * from './protocol';
export { createDispatcher } from './dispatcher';
export { validateRequest, DECODING_LIMITS, MAX_TEXT_CHARS } from './requestValidation';
export { modelTasks } from './tasks';
