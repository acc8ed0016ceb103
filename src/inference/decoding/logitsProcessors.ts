/**
 * Logits processors: each a small unit that edits one row of scores in place, given the tokens
 * generated so far. They shape which token is chosen; the trace always reports the model's raw
 * distribution.
 */
export interface LogitsProcessor {
  readonly name: string;
  apply(scores: Float32Array, history: readonly number[]): void;
}

/** Divides positive scores and multiplies negative ones for tokens already present (CTRL paper). */
export function repetitionPenalty(penalty: number): LogitsProcessor {
  return {
    name: 'repetition-penalty',
    apply(scores, history) {
      for (const id of new Set(history)) {
        const s = scores[id];
        scores[id] = s > 0 ? s / penalty : s * penalty;
      }
    },
  };
}

/** Forbids any token that would repeat an n-gram already in the history. */
export function noRepeatNgram(n: number): LogitsProcessor {
  return {
    name: 'no-repeat-ngram',
    apply(scores, history) {
      if (history.length + 1 < n) return;
      const prefix = history.slice(history.length - (n - 1));
      for (let i = 0; i + n <= history.length; i++) {
        let same = true;
        for (let j = 0; j < n - 1 && same; j++) same = history[i + j] === prefix[j];
        if (same) scores[history[i + n - 1]] = -Infinity;
      }
    },
  };
}

export function temperature(t: number): LogitsProcessor {
  return {
    name: 'temperature',
    apply(scores) {
      for (let i = 0; i < scores.length; i++) scores[i] /= t;
    },
  };
}

/** Keeps the k highest scores. */
export function topK(k: number): LogitsProcessor {
  return {
    name: 'top-k',
    apply(scores) {
      if (k >= scores.length) return;
      const sorted = Float32Array.from(scores).sort();
      const threshold = sorted[sorted.length - k];
      for (let i = 0; i < scores.length; i++) if (scores[i] < threshold) scores[i] = -Infinity;
    },
  };
}

/** Keeps the smallest set of tokens whose probability mass reaches p (nucleus sampling). */
export function topP(p: number): LogitsProcessor {
  return {
    name: 'top-p',
    apply(scores) {
      if (p >= 1) return;
      const order = Array.from(scores.keys()).filter((i) => scores[i] > -Infinity).sort((a, b) => scores[b] - scores[a]);
      const max = scores[order[0]];
      let z = 0;
      for (const i of order) z += Math.exp(scores[i] - max);
      let mass = 0;
      let keep = 0;
      while (keep < order.length && mass < p) mass += Math.exp(scores[order[keep++]] - max) / z;
      for (let j = keep; j < order.length; j++) scores[order[j]] = -Infinity;
    },
  };
}

/** Restricts generation to a set of token ids. */
export function allowedTokens(ids: readonly number[]): LogitsProcessor {
  const allowed = new Set(ids);
  return {
    name: 'allowed-tokens',
    apply(scores) {
      for (let i = 0; i < scores.length; i++) if (!allowed.has(i)) scores[i] = -Infinity;
    },
  };
}

/** Bans the last id of each sequence when the history ends with the ids before it (`bad_words_ids`). */
export function badWords(sequences: readonly (readonly number[])[]): LogitsProcessor {
  return {
    name: 'bad-words',
    apply(scores, history) {
      for (const seq of sequences) {
        const before = seq.length - 1;
        if (history.length < before) continue;
        let match = true;
        for (let j = 0; j < before && match; j++) match = history[history.length - before + j] === seq[j];
        if (match) scores[seq[before]] = -Infinity;
      }
    },
  };
}

/** Forbids the end-of-sequence tokens while the sequence is shorter than `length` (`min_length`). */
export function minLength(length: number, eosTokenIds: readonly number[]): LogitsProcessor {
  return {
    name: 'min-length',
    apply(scores, history) {
      if (history.length < length) for (const id of eosTokenIds) scores[id] = -Infinity;
    },
  };
}

/** Forces one of `ids` when the sequence has exactly `length` tokens (forced BOS / EOS). */
export function forcedAtLength(length: number, ids: readonly number[], name: string): LogitsProcessor {
  return {
    name,
    apply(scores, history) {
      if (history.length !== length) return;
      scores.fill(-Infinity);
      for (const id of ids) scores[id] = 0;
    },
  };
}

/** Forbids `ids` always, or only when the sequence has exactly `atLength` tokens (`begin_suppress_tokens`). */
export function suppressTokens(ids: readonly number[], atLength?: number): LogitsProcessor {
  return {
    name: atLength === undefined ? 'suppress-tokens' : 'begin-suppress-tokens',
    apply(scores, history) {
      if (atLength !== undefined && history.length !== atLength) return;
      for (const id of ids) scores[id] = -Infinity;
    },
  };
}

export function applyAll(processors: readonly LogitsProcessor[], scores: Float32Array, history: readonly number[]): void {
  for (const p of processors) p.apply(scores, history);
}
